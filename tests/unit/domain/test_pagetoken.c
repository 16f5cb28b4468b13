/* test_pagetoken: a token reads back as the cursor it was made from (seq at its extremes,
 * any id), only for the ecosystem it was made for; it is PAGETOKEN_LEN characters a query
 * string carries unescaped; and every change to it (each character replaced by each other
 * one of the alphabet, each length cut or grown) is refused, so a token cannot be altered
 * into another that decodes. */
#include "pagetoken.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

#define ECO "C5a96c3ea0e4c1b0001a0b0c0"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static store_cursor cursor(uint64_t seq, uint8_t fill)
{
    store_cursor c;
    c.seq = seq;
    memset(c.id.bytes, fill, OBJECTID_LEN);
    c.id.bytes[11] = (uint8_t)(fill ^ 0x5a);
    return c;
}

static void test_round_trip(void)
{
    uint64_t seqs[] = {0, 1, 255, 256, 0x0102030405060708ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        store_cursor c = cursor(seqs[i], (uint8_t)(i * 37)), got;
        char token[PAGETOKEN_LEN + 1];
        pagetoken_encode(ECO, &c, token);
        CHECK(strlen(token) == PAGETOKEN_LEN);
        CHECK(strspn(token, ALPHABET) == PAGETOKEN_LEN);
        memset(&got, 0xee, sizeof got);
        CHECK(pagetoken_decode(token, strlen(token), ECO, &got) == 0);
        CHECK(got.seq == c.seq && memcmp(got.id.bytes, c.id.bytes, OBJECTID_LEN) == 0);
        /* bound to its ecosystem */
        CHECK(pagetoken_decode(token, strlen(token), "C5a96c3ea0e4c1b0001a0b0c1", &got) != 0);
        CHECK(pagetoken_decode(token, strlen(token), "", &got) != 0);
    }
}

static void test_changes_refused(void)
{
    store_cursor c = cursor(123456789, 0xab), got;
    char token[PAGETOKEN_LEN + 1], t[PAGETOKEN_LEN + 2];
    pagetoken_encode(ECO, &c, token);
    size_t accepted = 0;
    for (size_t pos = 0; pos < PAGETOKEN_LEN; pos++)
        for (size_t k = 0; k < sizeof ALPHABET - 1; k++) {
            if (ALPHABET[k] == token[pos])
                continue;
            memcpy(t, token, sizeof token);
            t[pos] = ALPHABET[k];
            accepted += pagetoken_decode(t, PAGETOKEN_LEN, ECO, &got) == 0;
        }
    CHECK(accepted == 0);
    for (size_t len = 0; len < PAGETOKEN_LEN; len++)
        CHECK(pagetoken_decode(token, len, ECO, &got) != 0);
    memcpy(t, token, sizeof token);
    t[PAGETOKEN_LEN] = 'A';
    t[PAGETOKEN_LEN + 1] = '\0';
    CHECK(pagetoken_decode(t, PAGETOKEN_LEN + 1, ECO, &got) != 0);
    memcpy(t, token, sizeof token);
    t[3] = '+'; /* the standard alphabet is not the token's */
    CHECK(pagetoken_decode(t, PAGETOKEN_LEN, ECO, &got) != 0);
}

int main(void)
{
    test_round_trip();
    test_changes_refused();
    return test_exit_code();
}
