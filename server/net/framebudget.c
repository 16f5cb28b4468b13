/* framebudget: see framebudget.h. */
#include "framebudget.h"

#include "hg_assert.h"

#define FRAME_HEADER_LEN 9
#define FRAME_HEADERS 1
#define FRAME_RST_STREAM 3
#define FRAME_PUSH_PROMISE 5
#define FRAME_CONTINUATION 9
#define FLAG_END_HEADERS 0x4

void framebudget_init(framebudget *b, unsigned rate, uint64_t now_ms)
{
    b->rate = rate < 1 ? 1 : rate;
    b->tokens = b->rate;
    b->last_ms = now_ms;
    b->preface_passed = 0;
    b->in_header_block = 0;
    b->continuations = 0;
    b->stop = FRAMEBUDGET_WITHIN;
}

/* Takes one reset; 0 when none is left. */
static int take(framebudget *b, uint64_t now_ms)
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

size_t framebudget_scan(framebudget *b, const uint8_t *data, size_t len, uint64_t now_ms)
{
    size_t off = 0;
    if (!b->preface_passed) {
        if (len < FRAMEBUDGET_PREFACE_LEN)
            return len;
        b->preface_passed = 1;
        off = FRAMEBUDGET_PREFACE_LEN;
    }
    while (len - off >= FRAME_HEADER_LEN) {
        const uint8_t *h = data + off;
        size_t payload = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (len - off - FRAME_HEADER_LEN < payload)
            break; /* incomplete: seen again, whole, next time */
        uint8_t type = h[3], flags = h[4];
        if (type == FRAME_RST_STREAM && !take(b, now_ms)) {
            b->stop = FRAMEBUDGET_RESETS;
            return off;
        }
        if (type == FRAME_HEADERS || type == FRAME_PUSH_PROMISE) {
            b->in_header_block = !(flags & FLAG_END_HEADERS);
            b->continuations = 0;
        } else if (type == FRAME_CONTINUATION && b->in_header_block) {
            /* (a CONTINUATION outside a block is h2o's to refuse: a connection error) */
            if (++b->continuations > FRAMEBUDGET_MAX_CONTINUATIONS) {
                b->stop = FRAMEBUDGET_CONTINUATIONS;
                return off;
            }
            b->in_header_block = !(flags & FLAG_END_HEADERS);
        }
        off += FRAME_HEADER_LEN + payload;
    }
    HG_ASSERT(off <= len);
    return len;
}
