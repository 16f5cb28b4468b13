/* pagetoken: see pagetoken.h. */
#include "pagetoken.h"

#include <string.h>

#include "base64.h"
#include "crc32c.h"
#include "hg_assert.h"

#define PAGETOKEN_VERSION 1

HG_STATIC_ASSERT(PAGETOKEN_BYTES == 1 + 8 + OBJECTID_LEN + 4, "the layout of pagetoken.h");
HG_STATIC_ASSERT(PAGETOKEN_LEN == (PAGETOKEN_BYTES * 4 + 2) / 3, "base64url without padding");

static uint32_t check_value(const char *ecosystem_id, const uint8_t *bytes)
{
    uint32_t crc = crc32c_update(0, ecosystem_id, strlen(ecosystem_id) + 1); /* its NUL ends it */
    return crc32c_update(crc, bytes, PAGETOKEN_BYTES - 4);
}

void pagetoken_encode(const char *ecosystem_id, const store_cursor *after, char out[PAGETOKEN_LEN + 1])
{
    uint8_t b[PAGETOKEN_BYTES];
    b[0] = PAGETOKEN_VERSION;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(after->seq >> (56 - 8 * i));
    memcpy(b + 9, after->id.bytes, OBJECTID_LEN);
    uint32_t check = check_value(ecosystem_id, b);
    for (int i = 0; i < 4; i++)
        b[PAGETOKEN_BYTES - 4 + i] = (uint8_t)(check >> (24 - 8 * i));
    size_t n = base64_encode(b, sizeof b, BASE64_URL, out);
    HG_ASSERT(n == PAGETOKEN_LEN);
}

int pagetoken_decode(const char *text, size_t len, const char *ecosystem_id, store_cursor *after)
{
    uint8_t b[BASE64_DECODED_MAX(PAGETOKEN_LEN)];
    size_t n;
    if (len != PAGETOKEN_LEN || base64_decode(text, len, BASE64_URL, b, &n) != 0 || n != PAGETOKEN_BYTES ||
        b[0] != PAGETOKEN_VERSION)
        return -1;
    uint32_t check = 0;
    for (int i = 0; i < 4; i++)
        check = check << 8 | b[PAGETOKEN_BYTES - 4 + i];
    char again[PAGETOKEN_LEN + 1]; /* one text per token: base64 ignores the last character's spare bits */
    if (check != check_value(ecosystem_id, b) || base64_encode(b, PAGETOKEN_BYTES, BASE64_URL, again) != len ||
        memcmp(again, text, len) != 0)
        return -1;
    after->seq = 0;
    for (int i = 0; i < 8; i++)
        after->seq = after->seq << 8 | b[1 + i];
    memcpy(after->id.bytes, b + 9, OBJECTID_LEN);
    return 0;
}
