/* Tests framebudget: frames read from raw client bytes, only RST_STREAM charged, the
 * offset of the frame over budget, partial frames left whole for the next call, refill;
 * the CONTINUATION budget: a header block may have FRAMEBUDGET_MAX_CONTINUATIONS
 * frames after its HEADERS, the next one stops the stream, END_HEADERS starts afresh;
 * the requests kept as malformed (taken once, forgotten on the client's RST_STREAM, one
 * too many waiting refused); frames of unknown types taken out of the bytes, unless inside
 * a header block or over the frame size limit, the partial frame at the end moved down
 * with the rest. (Which requests are malformed is h2guard's to find, as h2o decodes their
 * header blocks: test_h2guard.) */
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

/* Appends a frame with flags and payload at out[*n]. */
/* The requests kept as malformed (h2guard notes them as h2o decodes their header blocks):
 * each taken once, trailers of one kept already keep it once, a client's RST_STREAM
 * forgets its stream, and one over FRAMEBUDGET_MAX_MALFORMED waiting is refused. */
static void test_malformed(void)
{
    framebudget b;
    framebudget_init(&b, 100, 0);
    CHECK(framebudget_note_malformed(&b, 1) == 0 && framebudget_note_malformed(&b, 7) == 0);
    CHECK(framebudget_note_malformed(&b, 9) == 0 && framebudget_note_malformed(&b, 7) == 0);
    CHECK(b.malformed_count == 3);
    CHECK(framebudget_take_malformed(&b, 1) && !framebudget_take_malformed(&b, 1));
    CHECK(!framebudget_take_malformed(&b, 3) && framebudget_take_malformed(&b, 7));
    /* a malformed request the client resets will never reach its handler: forgotten */
    static uint8_t buf[64];
    size_t n = 24;
    memcpy(buf, preface, 24);
    frame(buf, &n, 3, 4);
    buf[n - 4 - 1] = 9; /* RST_STREAM on stream 9 */
    CHECK(framebudget_scan(&b, buf, n, 0) == n && b.malformed_count == 0 && !framebudget_take_malformed(&b, 9));
    /* malformed requests nobody takes: the one over FRAMEBUDGET_MAX_MALFORMED is refused */
    for (uint32_t i = 0; i < FRAMEBUDGET_MAX_MALFORMED; i++)
        CHECK(framebudget_note_malformed(&b, 11 + 2 * i) == 0);
    CHECK(framebudget_note_malformed(&b, 11) == 0); /* one kept already */
    CHECK(framebudget_note_malformed(&b, 11 + 2 * FRAMEBUDGET_MAX_MALFORMED) == -1);
    CHECK(b.malformed_count == FRAMEBUDGET_MAX_MALFORMED);
}

/* Only the frames of a request (HEADERS, CONTINUATION, DATA) mark the connection active:
 * PINGs, SETTINGS, WINDOW_UPDATE, PRIORITY and resets keep no connection open. */
static void test_activity(void)
{
    static uint8_t buf[1024];
    size_t n = 24;
    framebudget b;
    framebudget_init(&b, 100, 500);
    CHECK(b.active_ms == 500);
    memcpy(buf, preface, 24);
    frame(buf, &n, 4, 6); /* SETTINGS */
    frame(buf, &n, 6, 8); /* PING */
    CHECK(framebudget_scan(&b, buf, n, 1000) == n && b.active_ms == 500);
    static const uint8_t control[] = {2, 3, 4, 6, 7, 8}; /* PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE */
    for (size_t i = 0; i < sizeof(control); i++) {
        n = 0, frame(buf, &n, control[i], 8);
        CHECK(framebudget_scan(&b, buf, n, 2000) == n && b.active_ms == 500);
    }
    n = 0, frame(buf, &n, 1, 8); /* HEADERS */
    CHECK(framebudget_scan(&b, buf, n, 3000) == n && b.active_ms == 3000);
    n = 0, frame(buf, &n, 0, 8); /* DATA, then a PING: active since the DATA */
    frame(buf, &n, 6, 8);
    CHECK(framebudget_scan(&b, buf, n, 4000) == n && b.active_ms == 4000);
    n = 0, frame(buf, &n, 6, 8);
    CHECK(framebudget_scan(&b, buf, n, 9000) == n && b.active_ms == 4000);
    /* a DATA frame not yet whole is not activity yet */
    n = 0, frame(buf, &n, 0, 100);
    CHECK(framebudget_scan(&b, buf, 50, 9500) == 50 && b.active_ms == 4000);
}

static void test_unknown(void)
{
    static uint8_t buf[1 << 16], want[1 << 16];
    size_t n = 24, w = 24;
    framebudget b;
    framebudget_init(&b, 100, 0);
    memcpy(buf, preface, 24), memcpy(want, preface, 24);
    frame(buf, &n, 0x10, 7); /* PRIORITY_UPDATE: out */
    frame(buf, &n, 6, 8), frame(want, &w, 6, 8); /* PING: stays */
    frame(buf, &n, 0xff, 0); /* out */
    frame(buf, &n, 0xa, FRAMEBUDGET_MAX_FRAME_SIZE + 1); /* too long: h2o's to refuse */
    frame(want, &w, 0xa, FRAMEBUDGET_MAX_FRAME_SIZE + 1);
    flagged(buf, &n, 1, 0), flagged(want, &w, 1, 0); /* HEADERS without END_HEADERS */
    frame(buf, &n, 0x10, 7), frame(want, &w, 0x10, 7); /* inside the block: h2o's connection error */
    size_t partial = n;
    frame(buf, &n, 0x10, 7); /* its last 3 bytes not read yet: left whole for the next call */
    n -= 3;
    memcpy(want + w, buf + partial, n - partial);
    w += n - partial;
    CHECK(framebudget_scan(&b, buf, n, 0) == w && b.stop == FRAMEBUDGET_WITHIN);
    CHECK(memcmp(buf, want, w) == 0);
    CHECK(b.unknown_frames == 2);

    /* over a budget after frames taken out: the frame over it starts where the input ends */
    framebudget_init(&b, 1, 0);
    n = 24;
    frame(buf, &n, 0x10, 7);
    frame(buf, &n, 3, 4);
    size_t over = n;
    frame(buf, &n, 3, 4); /* the second reset: over a budget of one */
    CHECK(framebudget_scan(&b, buf, n, 0) == over - 16 && b.stop == FRAMEBUDGET_RESETS);
    CHECK(buf[over - 16 + 3] == 3 && b.unknown_frames == 1);
}

int main(void)
{
    test_continuations();
    test_unknown();
    test_activity();
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
    test_malformed();
    return test_exit_code();
}
