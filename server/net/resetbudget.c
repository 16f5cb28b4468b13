/* resetbudget: see resetbudget.h. */
#include "resetbudget.h"

#define FRAME_HEADER_LEN 9
#define FRAME_RST_STREAM 3

void resetbudget_init(resetbudget *b, unsigned rate, uint64_t now_ms)
{
    b->rate = rate < 1 ? 1 : rate;
    b->tokens = b->rate;
    b->last_ms = now_ms;
    b->preface_passed = 0;
}

/* Takes one reset; 0 when none is left. */
static int take(resetbudget *b, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->rate)
            b->tokens = b->rate;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

size_t resetbudget_scan(resetbudget *b, const uint8_t *data, size_t len, uint64_t now_ms)
{
    size_t off = 0;
    if (!b->preface_passed) {
        if (len < RESETBUDGET_PREFACE_LEN)
            return len;
        b->preface_passed = 1;
        off = RESETBUDGET_PREFACE_LEN;
    }
    while (len - off >= FRAME_HEADER_LEN) {
        const uint8_t *h = data + off;
        size_t payload = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (len - off - FRAME_HEADER_LEN < payload)
            break; /* incomplete: seen again, whole, next time */
        if (h[3] == FRAME_RST_STREAM && !take(b, now_ms))
            return off;
        off += FRAME_HEADER_LEN + payload;
    }
    return len;
}
