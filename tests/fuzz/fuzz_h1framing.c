/* fuzz_h1framing: an HTTP/1.x request head through h1framing_check, as http_router reads it
 * from the socket's input.
 *
 * The first byte chooses the version (HTTP/1.0 when odd); the rest is the head and whatever
 * follows it. Checked, besides reading nothing outside the input: the verdict is one of
 * the enumeration's with a reason; a head judged whole (any verdict but MALFORMED) is judged
 * the same with more bytes after it (the body is never read); and the same input with every
 * ASCII letter in upper case gets the same verdict (names and "chunked" have no case). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int version = data[0] & 1 ? 0x100 : 0x101;
    const char *head = (const char *)data + 1;
    size_t len = size - 1;
    h1framing_verdict v = h1framing_check(head, len, version);
    FUZZ_CHECK(v >= H1FRAMING_OK && v <= H1FRAMING_TRANSFER_ENCODING_1_0, "a verdict outside the enumeration");
    FUZZ_CHECK(v == H1FRAMING_OK || strlen(h1framing_reason(v)) > 0, "a refusal without a reason");

    char *more = malloc(len + 64);
    if (more == NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        more[i] = (char)toupper((unsigned char)head[i]);
    FUZZ_CHECK(h1framing_check(more, len, version) == v, "the verdict depends on the case of letters");
    if (v != H1FRAMING_MALFORMED) {
        memcpy(more, head, len);
        memcpy(more + len, "\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n 9\r\n\r\n", 49);
        FUZZ_CHECK(h1framing_check(more, len + 49, version) == v, "bytes after the head changed the verdict");
    }
    free(more);
    return 0;
}
