/* fuzz_h2frames: a client's raw HTTP/2 byte stream through framebudget, as h2guard feeds it
 * in front of h2o.
 *
 * The first two bytes choose a budget (1..256 resets) and how the stream is cut into reads;
 * the rest is the stream, preface included. It is delivered read by read, and after each
 * read the whole frames are consumed the way h2o consumes them, leaving a partial frame for
 * the next read. Whatever the cuts, the budget must stop the stream at the same byte and
 * for the same reason as one scan of the whole stream, that byte must begin an RST_STREAM
 * frame (over the reset budget), a CONTINUATION frame (over the CONTINUATION budget) or a
 * frame with a header block (one HPACK cannot decode), no reset may be charged twice or
 * missed, and the same requests must be found malformed. */
#include <stdint.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned rate = (unsigned)data[0] + 1, cut_seed = data[1];
    const uint8_t *stream = data + 2;
    size_t len = size - 2;

    /* one scan of everything */
    framebudget whole_scan;
    if (framebudget_init(&whole_scan, rate, 0) != 0)
        return 0;
    size_t stop = framebudget_scan(&whole_scan, stream, len, 0);
    FUZZ_CHECK(stop <= len, "the budget stopped past the end");
    if (stop < len) {
        FUZZ_CHECK(stop >= FRAMEBUDGET_PREFACE_LEN && len - stop >= 9, "the budget stopped inside a frame header");
        if (whole_scan.stop == FRAMEBUDGET_RESETS) {
            FUZZ_CHECK(stream[stop + 3] == 3, "over the reset budget at something that is not an RST_STREAM frame");
            FUZZ_CHECK(whole_scan.tokens < 1.0, "the budget stopped with resets left");
        } else if (whole_scan.stop == FRAMEBUDGET_HEADER_BLOCK) {
            FUZZ_CHECK(stream[stop + 3] == 1 || stream[stop + 3] == 9,
                       "a header block refused at a frame that carries none");
        } else {
            FUZZ_CHECK(whole_scan.stop == FRAMEBUDGET_CONTINUATIONS, "stopped without a reason");
            FUZZ_CHECK(stream[stop + 3] == 9, "over the CONTINUATION budget at something that is not one");
            FUZZ_CHECK(whole_scan.continuations == FRAMEBUDGET_MAX_CONTINUATIONS + 1,
                       "stopped at another count of CONTINUATION frames");
        }
    } else {
        FUZZ_CHECK(whole_scan.stop == FRAMEBUDGET_WITHIN, "a reason to stop, but no stop");
    }

    /* the same stream, read by read, consumed as h2o consumes it */
    framebudget b;
    if (framebudget_init(&b, rate, 0) != 0) {
        framebudget_dispose(&whole_scan);
        return 0;
    }
    size_t delivered = 0, consumed = 0, chunked_stop = len;
    unsigned x = cut_seed * 2654435761u + 1;
    while (delivered < len) {
        x = x * 1103515245u + 12345u;
        size_t n = 1 + (x >> 16) % 97;
        delivered = delivered + n < len ? delivered + n : len;
        const uint8_t *input = stream + consumed;
        size_t input_len = delivered - consumed;
        int preface_passed = b.preface_passed;
        size_t ok = framebudget_scan(&b, input, input_len, 0);
        FUZZ_CHECK(ok <= input_len, "a read's scan stopped past its input");
        if (ok < input_len) {
            chunked_stop = consumed + ok;
            break;
        }
        consumed += whole(input, input_len, preface_passed);
    }
    FUZZ_CHECK(chunked_stop == stop, "read by read, the budget stopped elsewhere than one scan");
    FUZZ_CHECK(b.stop == whole_scan.stop, "read by read, the budget stopped for another reason");
    if (stop == len) {
        FUZZ_CHECK(b.tokens == whole_scan.tokens, "read by read, a reset was charged twice or missed");
        FUZZ_CHECK(b.malformed_count == whole_scan.malformed_count &&
                       memcmp(b.malformed, whole_scan.malformed, sizeof(b.malformed)) == 0,
                   "read by read, other requests were found malformed");
    }
    framebudget_dispose(&whole_scan);
    framebudget_dispose(&b);
    return 0;
}
