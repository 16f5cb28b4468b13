/* Tests resetbudget: frames read from raw client bytes, only RST_STREAM charged, the
 * offset of the frame over budget, partial frames left whole for the next call, refill. */
#include <stdint.h>
#include <string.h>

#include "resetbudget.h"
#include "test.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Appends one frame (type, payload of len zero bytes) at out[*n]. */
static void frame(uint8_t *out, size_t *n, uint8_t type, size_t len)
{
    uint8_t *h = out + *n;
    h[0] = (uint8_t)(len >> 16), h[1] = (uint8_t)(len >> 8), h[2] = (uint8_t)len;
    h[3] = type, h[4] = 0, h[5] = 0, h[6] = 0, h[7] = 0, h[8] = 1;
    memset(h + 9, 0, len);
    *n += 9 + len;
}

int main(void)
{
    static uint8_t buf[1 << 16];
    size_t n = 0, at[8];
    resetbudget b;

    /* the preface is skipped once, and only once it is whole */
    resetbudget_init(&b, 3, 1000);
    memcpy(buf, preface, 10);
    CHECK(resetbudget_scan(&b, buf, 10, 1000) == 10);
    CHECK(!b.preface_passed);
    memcpy(buf, preface, 24), n = 24;
    frame(buf, &n, 4, 6);  /* SETTINGS */
    frame(buf, &n, 1, 20); /* HEADERS */
    at[0] = n, frame(buf, &n, 3, 4);
    at[1] = n, frame(buf, &n, 3, 4);
    at[2] = n, frame(buf, &n, 3, 4);
    at[3] = n, frame(buf, &n, 3, 4); /* the fourth reset in the same millisecond: over */
    frame(buf, &n, 0, 10);
    CHECK(resetbudget_scan(&b, buf, n, 1000) == at[3]);
    CHECK(b.preface_passed);

    /* other frame types cost nothing, however many */
    resetbudget_init(&b, 1, 0);
    b.preface_passed = 1, n = 0;
    for (int i = 0; i < 1000; i++)
        frame(buf, &n, (uint8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : 8), 3);
    CHECK(resetbudget_scan(&b, buf, n, 0) == n);

    /* a partial frame is not charged; whole, next time, it is */
    resetbudget_init(&b, 1, 0);
    b.preface_passed = 1, n = 0;
    frame(buf, &n, 3, 4);
    CHECK(resetbudget_scan(&b, buf, 12, 0) == 12);
    CHECK(b.tokens == 1.0);
    CHECK(resetbudget_scan(&b, buf, n, 0) == n);
    CHECK(b.tokens == 0.0);
    /* a frame header cut short is not read either */
    CHECK(resetbudget_scan(&b, buf, 5, 0) == 5);

    /* refill: 10 a second, so one more every 100 ms, never above the burst */
    resetbudget_init(&b, 10, 0);
    b.preface_passed = 1, n = 0;
    for (int i = 0; i < 10; i++)
        frame(buf, &n, 3, 4);
    CHECK(resetbudget_scan(&b, buf, n, 0) == n);
    n = 0, frame(buf, &n, 3, 4);
    CHECK(resetbudget_scan(&b, buf, n, 50) == 0);
    CHECK(resetbudget_scan(&b, buf, n, 100) == n);
    n = 0;
    for (int i = 0; i < 11; i++)
        at[0] = n, frame(buf, &n, 3, 4);
    CHECK(resetbudget_scan(&b, buf, n, 100000) == at[0]);

    /* a rate of 0 is taken as 1 */
    resetbudget_init(&b, 0, 0);
    CHECK(b.rate == 1);
    return test_exit_code();
}
