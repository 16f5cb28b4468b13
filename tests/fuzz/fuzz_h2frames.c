/* fuzz_h2frames: a client's raw HTTP/2 byte stream through framebudget, as h2guard feeds it
 * in front of h2o.
 *
 * The first two bytes choose a budget (1..256 resets) and how the stream is cut into reads;
 * the rest is the stream, preface included. It is delivered read by read, and after each
 * read the whole frames are consumed the way h2o consumes them, leaving a partial frame for
 * the next read. Whatever the cuts, the budget must stop the stream at the same byte and
 * for the same reason as one scan of the whole stream, that byte must begin an RST_STREAM
 * frame (over the reset budget) or a CONTINUATION frame (over the CONTINUATION budget), and
 * no reset may be charged twice or missed. Frames of unknown types are taken
 * out: whatever the cuts, h2o must be handed the same bytes, and none of them a frame of an
 * unknown type outside a header block within the frame size limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "framebudget.h"

/* Bytes of whole frames (and the preface, if not passed yet) at the start of data. */
static size_t whole(const uint8_t *data, size_t len, int preface_passed)
{
    size_t off = 0;
    if (!preface_passed) {
        if (len < FRAMEBUDGET_PREFACE_LEN)
            return 0;
        off = FRAMEBUDGET_PREFACE_LEN;
    }
    while (len - off >= 9) {
        size_t payload = (size_t)data[off] << 16 | (size_t)data[off + 1] << 8 | data[off + 2];
        if (len - off - 9 < payload)
            break;
        off += 9 + payload;
    }
    return off;
}

/* 1 when data[0..len) (after the preface) has a whole frame of an unknown type, outside a
 * header block and within the frame size limit: one the scan should have taken out. */
static int has_droppable(const uint8_t *data, size_t len)
{
    size_t off = len >= FRAMEBUDGET_PREFACE_LEN ? FRAMEBUDGET_PREFACE_LEN : len;
    int in_block = 0;
    while (len - off >= 9) {
        size_t payload = (size_t)data[off] << 16 | (size_t)data[off + 1] << 8 | data[off + 2];
        if (len - off - 9 < payload)
            break;
        uint8_t type = data[off + 3], flags = data[off + 4];
        if (type == 1 || type == 5 || (type == 9 && in_block))
            in_block = !(flags & 0x4);
        else if (type > 9 && !in_block && payload <= FRAMEBUDGET_MAX_FRAME_SIZE)
            return 1;
        off += 9 + payload;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned rate = (unsigned)data[0] + 1, cut_seed = data[1];
    size_t len = size - 2;
    uint8_t *stream = malloc(len + 1), *input = malloc(len + 1), *handed = malloc(len + 1);
    framebudget whole_scan, b;
    if (stream == NULL || input == NULL || handed == NULL)
        goto out;
    memcpy(stream, data + 2, len);

    /* one scan of everything: stream[0..stop) is what h2o is handed, stream[stop..] from the
     * frame over budget on */
    framebudget_init(&whole_scan, rate, 0);
    size_t stop = framebudget_scan(&whole_scan, stream, len, 0);
    size_t dropped_len = 0; /* bytes taken out */
    FUZZ_CHECK(stop <= len, "the budget stopped past the end");
    if (whole_scan.stop != FRAMEBUDGET_WITHIN) {
        FUZZ_CHECK(stop >= FRAMEBUDGET_PREFACE_LEN && len - stop >= 9, "the budget stopped inside a frame header");
        if (whole_scan.stop == FRAMEBUDGET_RESETS) {
            FUZZ_CHECK(stream[stop + 3] == 3, "over the reset budget at something that is not an RST_STREAM frame");
            FUZZ_CHECK(whole_scan.tokens < 1.0, "the budget stopped with resets left");
        } else {
            FUZZ_CHECK(whole_scan.stop == FRAMEBUDGET_CONTINUATIONS, "stopped without a reason");
            FUZZ_CHECK(stream[stop + 3] == 9, "over the CONTINUATION budget at something that is not one");
            FUZZ_CHECK(whole_scan.continuations == FRAMEBUDGET_MAX_CONTINUATIONS + 1,
                       "stopped at another count of CONTINUATION frames");
        }
    } else {
        dropped_len = len - stop;
        FUZZ_CHECK(dropped_len >= 9 * whole_scan.unknown_frames, "frames taken out, fewer bytes gone");
    }
    FUZZ_CHECK(!has_droppable(stream, stop), "a frame of an unknown type was left for h2o");

    /* the same stream, read by read into a buffer, consumed as h2o consumes it */
    framebudget_init(&b, rate, 0);
    size_t delivered = 0, have = 0, handed_len = 0, chunked_stop = SIZE_MAX;
    unsigned x = cut_seed * 2654435761u + 1;
    while (delivered < len) {
        x = x * 1103515245u + 12345u;
        size_t n = 1 + (x >> 16) % 97;
        if (n > len - delivered)
            n = len - delivered;
        memcpy(input + have, data + 2 + delivered, n);
        delivered += n, have += n;
        int preface_passed = b.preface_passed;
        size_t kept = framebudget_scan(&b, input, have, 0);
        FUZZ_CHECK(kept <= have, "a read's scan kept more than its input");
        if (b.stop != FRAMEBUDGET_WITHIN) {
            memcpy(handed + handed_len, input, kept);
            chunked_stop = handed_len + kept;
            break;
        }
        size_t w = whole(input, kept, preface_passed);
        memcpy(handed + handed_len, input, w);
        handed_len += w;
        memmove(input, input + w, kept - w);
        have = kept - w;
    }
    if (chunked_stop == SIZE_MAX) { /* the rest, a partial frame, is h2o's too */
        memcpy(handed + handed_len, input, have);
        chunked_stop = handed_len + have;
    }
    FUZZ_CHECK(chunked_stop == stop, "read by read, h2o was handed more or less than by one scan");
    FUZZ_CHECK(memcmp(handed, stream, stop) == 0, "read by read, h2o was handed other bytes than by one scan");
    FUZZ_CHECK(b.stop == whole_scan.stop, "read by read, the budget stopped for another reason");
    if (whole_scan.stop == FRAMEBUDGET_WITHIN) {
        FUZZ_CHECK(b.tokens == whole_scan.tokens, "read by read, a reset was charged twice or missed");
        FUZZ_CHECK(b.unknown_frames == whole_scan.unknown_frames, "read by read, other frames were taken out");
    }
out:
    free(stream);
    free(input);
    free(handed);
    return 0;
}
