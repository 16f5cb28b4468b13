/* fuzz_gzip: the inflate path every protocol's compressed requests take (wire/gzip.c), and
 * the headers that name codings.
 *
 * The input is, in turn: a gzip stream, inflated under the default body limit and under
 * a small one, which must agree (a stream that inflates whole under the large limit is
 * refused under the small one exactly when it is longer, and never grows past either);
 * the bytes to compress, which must come back unchanged; and the text of a grpc-encoding
 * or accept list, whose two readings must agree (a header naming gzip is a list that
 * accepts it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gzip.h"

#define FUZZ_SMALL_LIMIT 64 /* a max_body_bytes that small inputs inflate past */

static void inflate_both(const uint8_t *data, size_t size)
{
    uint8_t *out, *small_out;
    size_t out_len = 0, small_len = 0;
    error err, small;
    error_clear(&err);
    error_clear(&small);
    size_t limit = fuzz_limits.max_body_bytes;
    int rc = gzip_decode(data, size, limit, fuzz_arena(), &out, &out_len, &err);
    int small_rc = gzip_decode(data, size, FUZZ_SMALL_LIMIT, fuzz_arena(), &small_out, &small_len, &small);
    if (rc != 0)
        FUZZ_CHECK(err.kind == ERROR_TOO_LARGE || err.kind == ERROR_INVALID_BODY || err.kind == ERROR_INTERNAL,
                   "gzip_decode failed with an unexpected kind");
    else
        FUZZ_CHECK(out != NULL && out_len <= limit, "gzip_decode gave more than its limit");
    if (rc == 0 && small.kind != ERROR_INTERNAL) {
        FUZZ_CHECK(out_len > FUZZ_SMALL_LIMIT ? small_rc != 0 && small.kind == ERROR_TOO_LARGE : small_rc == 0,
                   "gzip_decode does not hold a message to its limit");
        FUZZ_CHECK(small_rc != 0 || (small_len == out_len && memcmp(small_out, out, out_len) == 0),
                   "gzip_decode gave different bytes under another limit");
    }
    if (rc != 0 && err.kind == ERROR_INVALID_BODY)
        FUZZ_CHECK(small_rc != 0, "a stream refused as invalid was read under a smaller limit");
    if (small_rc == 0)
        FUZZ_CHECK(small_len <= FUZZ_SMALL_LIMIT, "gzip_decode gave more than its small limit");
}

static void round_trip(const uint8_t *data, size_t size)
{
    size_t packed_len, back_len;
    uint8_t *packed = gzip_encode(data, size, fuzz_arena(), &packed_len), *back;
    if (packed == NULL)
        return; /* the arena ran out */
    error err;
    if (gzip_decode(packed, packed_len, size, fuzz_arena(), &back, &back_len, &err) != 0) {
        FUZZ_CHECK(err.kind == ERROR_INTERNAL, "gzip_decode refused what gzip_encode wrote");
        return;
    }
    FUZZ_CHECK(back_len == size && memcmp(back, data, size) == 0, "gzip round trip changed the bytes");
}

static void headers(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    gzip_coding c = gzip_coding_of(text, size);
    int accepted = gzip_accepted(text, size);
    FUZZ_CHECK(c != GZIP_GZIP || accepted, "a coding that names gzip is a list that does not accept it");
    FUZZ_CHECK(size > 0 || (c == GZIP_IDENTITY && !accepted), "an absent header named a coding");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inflate_both(data, size);
    round_trip(data, size);
    headers(data, size);
    fuzz_arena_clear();
    return 0;
}
