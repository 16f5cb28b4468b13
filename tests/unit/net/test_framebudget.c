/* Tests framebudget: frames read from raw client bytes, only RST_STREAM charged, the
 * offset of the frame over budget, partial frames left whole for the next call, refill;
 * and the CONTINUATION budget: a header block may have FRAMEBUDGET_MAX_CONTINUATIONS
 * frames after its HEADERS, the next one stops the stream, END_HEADERS starts afresh. */
#include <stdint.h>
#include <string.h>

#include "framebudget.h"
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

/* Appends a frame with flags and no payload. */
static void flagged(uint8_t *out, size_t *n, uint8_t type, uint8_t flags)
{
    frame(out, n, type, 0);
    out[*n - 9 + 4] = flags;
}

static void test_continuations(void)
{
    static uint8_t buf[4096];
    size_t n = 0;
    framebudget b;
    framebudget_init(&b, 100, 0);
    memcpy(buf, preface, 24), n = 24;
    flagged(buf, &n, 1, 0); /* HEADERS without END_HEADERS */
    for (int i = 0; i < FRAMEBUDGET_MAX_CONTINUATIONS; i++)
        flagged(buf, &n, 9, 0); /* empty CONTINUATION frames, as the flood sends them */
    CHECK(framebudget_scan(&b, buf, n, 0) == n && b.stop == FRAMEBUDGET_WITHIN);
    size_t over = n;
    flagged(buf, &n, 9, 0);
    flagged(buf, &n, 9, 0);
    framebudget_init(&b, 100, 0);
    CHECK(framebudget_scan(&b, buf, n, 0) == over);
    CHECK(b.stop == FRAMEBUDGET_CONTINUATIONS);

    /* the same frames read one at a time (each call sees what h2o has not consumed) */
    framebudget_init(&b, 100, 0);
    size_t consumed = 0, stop = n;
    CHECK(framebudget_scan(&b, buf, 24, 0) == 24);
    consumed = 24;
    while (consumed < n) {
        size_t ok = framebudget_scan(&b, buf + consumed, 9, 0);
        if (ok < 9) {
            stop = consumed + ok;
            break;
        }
        consumed += 9;
    }
    CHECK(stop == over && b.stop == FRAMEBUDGET_CONTINUATIONS);

    /* END_HEADERS ends the block: the next HEADERS has a budget of its own */
    n = 24;
    flagged(buf, &n, 1, 0);
    for (int i = 0; i < FRAMEBUDGET_MAX_CONTINUATIONS - 1; i++)
        flagged(buf, &n, 9, 0);
    flagged(buf, &n, 9, 0x4);
    flagged(buf, &n, 1, 0);
    for (int i = 0; i < FRAMEBUDGET_MAX_CONTINUATIONS; i++)
        flagged(buf, &n, 9, 0);
    flagged(buf, &n, 1, 0x4); /* a HEADERS with END_HEADERS ends nothing it did not start */
    flagged(buf, &n, 9, 0);   /* a CONTINUATION outside a block is h2o's to refuse */
    framebudget_init(&b, 100, 0);
    CHECK(framebudget_scan(&b, buf, n, 0) == n && b.stop == FRAMEBUDGET_WITHIN);
    /* PUSH_PROMISE opens a block too */
    n = 24;
    flagged(buf, &n, 5, 0);
    for (int i = 0; i <= FRAMEBUDGET_MAX_CONTINUATIONS; i++)
        flagged(buf, &n, 9, 0);
    framebudget_init(&b, 100, 0);
    CHECK(framebudget_scan(&b, buf, n, 0) == n - 9 && b.stop == FRAMEBUDGET_CONTINUATIONS);
}

int main(void)
{
    test_continuations();
    static uint8_t buf[1 << 16];
    size_t n = 0, at[8];
    framebudget b;

    /* the preface is skipped once, and only once it is whole */
    framebudget_init(&b, 3, 1000);
    memcpy(buf, preface, 10);
    CHECK(framebudget_scan(&b, buf, 10, 1000) == 10);
    CHECK(!b.preface_passed);
    memcpy(buf, preface, 24), n = 24;
    frame(buf, &n, 4, 6);  /* SETTINGS */
    frame(buf, &n, 1, 20); /* HEADERS */
    at[0] = n, frame(buf, &n, 3, 4);
    at[1] = n, frame(buf, &n, 3, 4);
    at[2] = n, frame(buf, &n, 3, 4);
    at[3] = n, frame(buf, &n, 3, 4); /* the fourth reset in the same millisecond: over */
    frame(buf, &n, 0, 10);
    CHECK(framebudget_scan(&b, buf, n, 1000) == at[3]);
    CHECK(b.preface_passed);

    /* other frame types cost nothing, however many */
    framebudget_init(&b, 1, 0);
    b.preface_passed = 1, n = 0;
    for (int i = 0; i < 1000; i++)
        frame(buf, &n, (uint8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : 8), 3);
    CHECK(framebudget_scan(&b, buf, n, 0) == n);

    /* a partial frame is not charged; whole, next time, it is */
    framebudget_init(&b, 1, 0);
    b.preface_passed = 1, n = 0;
    frame(buf, &n, 3, 4);
    CHECK(framebudget_scan(&b, buf, 12, 0) == 12);
    CHECK(b.tokens == 1.0);
    CHECK(framebudget_scan(&b, buf, n, 0) == n);
    CHECK(b.tokens == 0.0);
    /* a frame header cut short is not read either */
    CHECK(framebudget_scan(&b, buf, 5, 0) == 5);

    /* refill: 10 a second, so one more every 100 ms, never above the burst */
    framebudget_init(&b, 10, 0);
    b.preface_passed = 1, n = 0;
    for (int i = 0; i < 10; i++)
        frame(buf, &n, 3, 4);
    CHECK(framebudget_scan(&b, buf, n, 0) == n);
    n = 0, frame(buf, &n, 3, 4);
    CHECK(framebudget_scan(&b, buf, n, 50) == 0);
    CHECK(framebudget_scan(&b, buf, n, 100) == n);
    n = 0;
    for (int i = 0; i < 11; i++)
        at[0] = n, frame(buf, &n, 3, 4);
    CHECK(framebudget_scan(&b, buf, n, 100000) == at[0]);

    /* a rate of 0 is taken as 1 */
    framebudget_init(&b, 0, 0);
    CHECK(b.rate == 1);
    return test_exit_code();
}
