/* framebudget: the limits hookgate puts on an HTTP/2 client's frames before h2o parses
 * them, read from the raw bytes of one connection: stream resets against a token bucket
 * (the guard against rapid reset, CVE-2023-44487), CONTINUATION frames per header block
 * (the CONTINUATION flood, CVE-2024-27316 and its family: h2o 2.2.5 takes an endless run
 * of empty CONTINUATION frames, spinning a loop), and requests with two different
 * content-length values (malformed, RFC 9113 §8.1.1; h2o 2.2.5's HPACK decoder keeps only
 * the last one).
 *
 * For the last, it decodes every header block the client sends with nghttp2's HPACK
 * decoder, beside h2o's own: both start from the same empty dynamic table of the size
 * h2o advertises (4,096 bytes, nghttp2's default too; h2guard asserts it), read the same
 * blocks in the same order (HEADERS and their CONTINUATION frames, padding and priority
 * taken off), and so keep the same table. It decides nothing about a stream itself: it
 * remembers the malformed ones, and the handler asks (framebudget_take_malformed) when the
 * request reaches it (see h2guard.h).
 *
 * It also notes when the client last sent a frame of a request, for the guard's idle timer,
 * and takes frames of a type HTTP/2 does not define out of the bytes before h2o reads
 * them: RFC 9113 §5.5 has them ignored, and h2o 2.2.5 writes a "skipping frame" line to
 * stderr for each one, so a client could flood the log (1,000 PRIORITY_UPDATE frames, 1,000
 * lines). Such a frame inside a header block, or longer than h2o's SETTINGS_MAX_FRAME_SIZE,
 * stays: h2o ends the connection for it, as it must. */
#ifndef HOOKGATE_FRAMEBUDGET_H
#define HOOKGATE_FRAMEBUDGET_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#define FRAMEBUDGET_PREFACE_LEN 24 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", the client's first bytes */
#define FRAMEBUDGET_MAX_CONTINUATIONS 16 /* CONTINUATION frames after one HEADERS: 16 x 16 KiB frames, \
                                            far beyond any request header block h2o accepts */
#define FRAMEBUDGET_MAX_MALFORMED 16 /* malformed requests remembered until their handler runs: h2o \
                                        runs it as soon as the request is whole, so more waiting is a \
                                        client that sends them and resets them */
#define FRAMEBUDGET_LENGTH_MAX 24    /* bytes of a content-length value kept to compare: 20 digits \
                                        are SIZE_MAX already */
#define FRAMEBUDGET_MAX_FRAME_SIZE 16384 /* h2o's SETTINGS_MAX_FRAME_SIZE (h2guard asserts it) */

/* Why a scan stopped the stream. */
typedef enum framebudget_stop {
    FRAMEBUDGET_WITHIN,        /* not stopped */
    FRAMEBUDGET_RESETS,        /* more RST_STREAM frames than the rate allows */
    FRAMEBUDGET_CONTINUATIONS, /* a header block longer than FRAMEBUDGET_MAX_CONTINUATIONS frames */
    FRAMEBUDGET_HEADER_BLOCK,  /* a header block HPACK cannot decode (h2o would end the connection too), \
                                  or more than FRAMEBUDGET_MAX_MALFORMED malformed requests waiting */
} framebudget_stop;

typedef struct framebudget {
    unsigned rate;          /* resets a second, and the burst */
    double tokens;          /* resets left now */
    uint64_t last_ms;       /* when tokens was last refilled */
    int preface_passed;     /* the client preface has been seen whole */
    int in_header_block;    /* a HEADERS or PUSH_PROMISE without END_HEADERS was the last header frame */
    unsigned continuations; /* CONTINUATION frames of that block so far */
    framebudget_stop stop;  /* why the last scan stopped, if it did */

    nghttp2_hd_inflater *hpack; /* the client's header blocks, decoded as h2o decodes them */
    int decoding;               /* the header block being read is a HEADERS one (PUSH_PROMISE: h2o's error) */
    uint32_t block_stream;      /* its stream */
    char length[FRAMEBUDGET_LENGTH_MAX]; /* its first content-length value */
    size_t length_len;                   /* SIZE_MAX: none yet; over FRAMEBUDGET_LENGTH_MAX: too long to keep */
    int block_malformed;                 /* it has two different content-length values */
    uint32_t malformed[FRAMEBUDGET_MAX_MALFORMED]; /* streams whose request is malformed, not yet taken */
    unsigned malformed_count;
    uint64_t active_ms;     /* when the last frame of a request (HEADERS, CONTINUATION, DATA) was read, or
                               init's now_ms: other frames (PING above all) keep no connection busy */
    uint64_t unknown_frames; /* frames of an unknown type taken out, so far */
} framebudget;

/* A full budget of rate (>= 1) resets a second, at now_ms (a monotonic clock), and an
 * empty HPACK table. 0, or -1 when out of memory (nothing to dispose then). */
int framebudget_init(framebudget *b, unsigned rate, uint64_t now_ms);

/* Frees what framebudget_init allocated. */
void framebudget_dispose(framebudget *b);

/* 1 when the request on stream_id was found malformed (two different content-length
 * values), which it then forgets; else 0. */
int framebudget_take_malformed(framebudget *b, uint32_t stream_id);

/* Reads the whole frames at the start of data[0..len), the client's bytes not yet parsed
 * by the HTTP/2 library (they begin at a frame boundary, or with the preface), charges
 * each RST_STREAM, counts the CONTINUATION frames of each header block and decodes the
 * HEADERS blocks, remembering the streams whose request is malformed. Frames of an
 * unknown type outside a header block, within FRAMEBUDGET_MAX_FRAME_SIZE, are taken out:
 * the bytes after each move down over it. Returns how many bytes of data the library is
 * to read: all that remain when every frame is within budget (b->stop stays
 * FRAMEBUDGET_WITHIN); else up to the first frame over it (b->stop says which budget):
 * the caller drops the input from there and closes the connection. A partial frame at
 * the end is left for the next call, which sees it again whole. */
size_t framebudget_scan(framebudget *b, uint8_t *data, size_t len, uint64_t now_ms);

#endif
