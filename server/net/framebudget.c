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
#define FLAG_PADDED 0x8
#define FLAG_PRIORITY 0x20
#define PRIORITY_LEN 5 /* stream dependency and weight, before a HEADERS frame's block */

int framebudget_init(framebudget *b, unsigned rate, uint64_t now_ms)
{
    memset(b, 0, sizeof(*b));
    b->rate = rate < 1 ? 1 : rate;
    b->tokens = b->rate;
    b->last_ms = now_ms;
    b->stop = FRAMEBUDGET_WITHIN;
    b->active_ms = now_ms;
    return nghttp2_hd_inflate_new(&b->hpack) == 0 ? 0 : -1;
}

void framebudget_dispose(framebudget *b)
{
    nghttp2_hd_inflate_del(b->hpack);
    b->hpack = NULL;
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

/* One decoded field of the current block. */
static void see_field(framebudget *b, const nghttp2_nv *nv)
{
    if (nv->namelen != 14 || memcmp(nv->name, "content-length", 14) != 0)
        return;
    if (b->length_len == SIZE_MAX) {
        b->length_len = nv->valuelen;
        if (nv->valuelen <= sizeof(b->length))
            memcpy(b->length, nv->value, nv->valuelen);
    } else if (b->length_len > sizeof(b->length) || nv->valuelen != b->length_len ||
               memcmp(nv->value, b->length, nv->valuelen) != 0) {
        b->block_malformed = 1;
    }
}

/* Decodes a piece of the current header block (final: its last); -1 when HPACK cannot. */
static int decode(framebudget *b, const uint8_t *in, size_t len, int final)
{
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t n = nghttp2_hd_inflate_hd2(b->hpack, &nv, &flags, in, len, final);
        if (n < 0)
            return -1;
        HG_ASSERT((size_t)n <= len);
        in += n, len -= (size_t)n;
        if (flags & NGHTTP2_HD_INFLATE_EMIT)
            see_field(b, &nv);
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(b->hpack);
            return 0;
        }
        if (len == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
            return 0; /* the rest of the block comes in a CONTINUATION frame */
    }
}

/* Starts a HEADERS frame's block: the fragment of payload[0..len) once padding and
 * priority are off; -1 when they do not fit (h2o ends the connection for that too). */
static int block_begin(framebudget *b, uint8_t flags, uint32_t stream, const uint8_t *payload, size_t len,
                       const uint8_t **fragment, size_t *fragment_len)
{
    size_t pad = 0;
    if (flags & FLAG_PADDED) {
        if (len < 1)
            return -1;
        pad = payload[0];
        payload++, len--;
    }
    if (flags & FLAG_PRIORITY) {
        if (len < PRIORITY_LEN)
            return -1;
        payload += PRIORITY_LEN, len -= PRIORITY_LEN;
    }
    if (pad > len)
        return -1;
    *fragment = payload;
    *fragment_len = len - pad;
    b->block_stream = stream;
    b->length_len = SIZE_MAX;
    b->block_malformed = 0;
    return 0;
}

/* Ends the current block; -1 when its stream is one malformed request too many. */
static int block_end(framebudget *b)
{
    if (!b->block_malformed)
        return 0;
    for (unsigned i = 0; i < b->malformed_count; i++)
        if (b->malformed[i] == b->block_stream)
            return 0; /* trailers of a request already known to be malformed */
    if (b->malformed_count == FRAMEBUDGET_MAX_MALFORMED)
        return -1;
    b->malformed[b->malformed_count++] = b->block_stream;
    return 0;
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
    HG_ASSERT(b->hpack != NULL);
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
        const uint8_t *fragment = h + FRAME_HEADER_LEN;
        size_t fragment_len = payload;
        int piece = 0; /* the frame carries a piece of a header block to decode */
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
            b->decoding = piece = type == FRAME_HEADERS;
            if (b->decoding && block_begin(b, flags, stream, fragment, payload, &fragment, &fragment_len) != 0) {
                return stop_at(b, FRAMEBUDGET_HEADER_BLOCK, data, out, off, len);
            }
        } else if (type == FRAME_CONTINUATION && b->in_header_block) {
            /* (a CONTINUATION outside a block is h2o's to refuse: a connection error) */
            if (++b->continuations > FRAMEBUDGET_MAX_CONTINUATIONS) {
                return stop_at(b, FRAMEBUDGET_CONTINUATIONS, data, out, off, len);
            }
            b->in_header_block = !(flags & FLAG_END_HEADERS);
            piece = b->decoding;
        }
        if (piece) {
            int final = !b->in_header_block;
            if (decode(b, fragment, fragment_len, final) != 0 || (final && block_end(b) != 0)) {
                return stop_at(b, FRAMEBUDGET_HEADER_BLOCK, data, out, off, len);
            }
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
