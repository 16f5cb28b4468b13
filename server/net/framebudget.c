/* framebudget: see framebudget.h. */
#include "framebudget.h"

#include <string.h>

#include "hg_assert.h"

#define FRAME_HEADER_LEN 9
#define FRAME_DATA 0
#define FRAME_HEADERS 1
#define FRAME_RST_STREAM 3
#define FRAME_PUSH_PROMISE 5
#define FRAME_CONTINUATION 9
#define FLAG_END_HEADERS 0x4

void framebudget_init(framebudget *b, unsigned rate, uint64_t now_ms)
{
    memset(b, 0, sizeof(*b));
    b->rate = rate < 1 ? 1 : rate;
    b->tokens = b->rate;
    b->last_ms = now_ms;
    b->stop = FRAMEBUDGET_WITHIN;
    b->active_ms = now_ms;
}

int framebudget_note_malformed(framebudget *b, uint32_t stream_id)
{
    for (unsigned i = 0; i < b->malformed_count; i++)
        if (b->malformed[i] == stream_id)
            return 0; /* its trailers: the request is kept already */
    if (b->malformed_count == FRAMEBUDGET_MAX_MALFORMED)
        return -1;
    b->malformed[b->malformed_count++] = stream_id;
    return 0;
}

int framebudget_take_malformed(framebudget *b, uint32_t stream_id)
{
    for (unsigned i = 0; i < b->malformed_count; i++)
        if (b->malformed[i] == stream_id) {
            b->malformed[i] = b->malformed[--b->malformed_count];
            return 1;
        }
    return 0;
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

/* Stops the scan for why at the frame at data[off]: the bytes from there move down to
 * data[out], where the library's input ends. */
static size_t stop_at(framebudget *b, framebudget_stop why, uint8_t *data, size_t out, size_t off, size_t len)
{
    b->stop = why;
    if (out != off)
        memmove(data + out, data + off, len - off);
    return out;
}

size_t framebudget_scan(framebudget *b, uint8_t *data, size_t len, uint64_t now_ms)
{
    HG_ASSERT(b->rate >= 1);
    size_t off = 0;
    size_t out = 0; /* data[0..out) is what the library reads of data[0..off): off less the frames taken out */
    if (!b->preface_passed) {
        if (len < FRAMEBUDGET_PREFACE_LEN)
            return len;
        b->preface_passed = 1;
        off = out = FRAMEBUDGET_PREFACE_LEN;
    }
    while (len - off >= FRAME_HEADER_LEN) {
        const uint8_t *h = data + off;
        size_t payload = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (len - off - FRAME_HEADER_LEN < payload)
            break; /* incomplete: seen again, whole, next time */
        uint8_t type = h[3], flags = h[4];
        uint32_t stream = (uint32_t)(h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
        if (type == FRAME_DATA || type == FRAME_HEADERS || type == FRAME_CONTINUATION)
            b->active_ms = now_ms;
        if (type == FRAME_RST_STREAM) {
            if (!take(b, now_ms)) {
                return stop_at(b, FRAMEBUDGET_RESETS, data, out, off, len);
            }
            framebudget_take_malformed(b, stream); /* its handler will not run: forget it */
        }
        if (type == FRAME_HEADERS || type == FRAME_PUSH_PROMISE) {
            b->in_header_block = !(flags & FLAG_END_HEADERS);
            b->continuations = 0;
        } else if (type == FRAME_CONTINUATION && b->in_header_block) {
            /* (a CONTINUATION outside a block is h2o's to refuse: a connection error) */
            if (++b->continuations > FRAMEBUDGET_MAX_CONTINUATIONS) {
                return stop_at(b, FRAMEBUDGET_CONTINUATIONS, data, out, off, len);
            }
            b->in_header_block = !(flags & FLAG_END_HEADERS);
        }
        size_t frame_len = FRAME_HEADER_LEN + payload;
        if (type > FRAME_CONTINUATION && !b->in_header_block && payload <= FRAMEBUDGET_MAX_FRAME_SIZE) {
            b->unknown_frames++; /* RFC 9113 §5.5: ignored and discarded, here rather than by h2o */
        } else {
            if (out != off)
                memmove(data + out, data + off, frame_len);
            out += frame_len;
        }
        off += frame_len;
    }
    HG_ASSERT(out <= off && off <= len);
    if (out != off)
        memmove(data + out, data + off, len - off); /* the partial frame, for the next call */
    return out + (len - off);
}
