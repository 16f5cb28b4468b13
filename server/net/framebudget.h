/* framebudget: the limits hookgate puts on an HTTP/2 client's frames before h2o parses
 * them, read from the raw bytes of one connection: stream resets against a token bucket
 * (the guard against rapid reset, CVE-2023-44487), and CONTINUATION frames per header block
 * (the CONTINUATION flood, CVE-2024-27316 and its family: h2o 2.2.5 takes an endless run
 * of empty CONTINUATION frames, spinning a loop).
 *
 * It also keeps the streams whose request h2guard found malformed (two different
 * content-length values, as h2o decoded them: h2guard.c), until the request's handler
 * asks (framebudget_take_malformed) or the client resets the stream; notes when the client
 * last sent a frame of a request, for the guard's idle timer; and takes frames of a type
 * HTTP/2 does not define out of the bytes before h2o reads them: RFC 9113 §5.5 has them
 * ignored, and h2o 2.2.5 writes a "skipping frame" line to stderr for each one, so a
 * client could flood the log (1,000 PRIORITY_UPDATE frames, 1,000 lines). Such a frame
 * inside a header block, or longer than h2o's SETTINGS_MAX_FRAME_SIZE, stays: h2o ends the
 * connection for it, as it must. */
#ifndef HOOKGATE_FRAMEBUDGET_H
#define HOOKGATE_FRAMEBUDGET_H

#include <stddef.h>
#include <stdint.h>

#define FRAMEBUDGET_PREFACE_LEN 24 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", the client's first bytes */
#define FRAMEBUDGET_MAX_CONTINUATIONS 16 /* CONTINUATION frames after one HEADERS: 16 x 16 KiB frames, \
                                            far beyond any request header block h2o accepts */
#define FRAMEBUDGET_MAX_MALFORMED 16 /* malformed requests remembered until their handler runs: h2o \
                                        runs it as soon as the request is whole, so more waiting is a \
                                        client that sends them and resets them */
#define FRAMEBUDGET_MAX_FRAME_SIZE 16384 /* h2o's SETTINGS_MAX_FRAME_SIZE (h2guard asserts it) */

/* Why a scan stopped the stream. */
typedef enum framebudget_stop {
    FRAMEBUDGET_WITHIN,        /* not stopped */
    FRAMEBUDGET_RESETS,        /* more RST_STREAM frames than the rate allows */
    FRAMEBUDGET_CONTINUATIONS, /* a header block longer than FRAMEBUDGET_MAX_CONTINUATIONS frames */
} framebudget_stop;

typedef struct framebudget {
    unsigned rate;          /* resets a second, and the burst */
    double tokens;          /* resets left now */
    uint64_t last_ms;       /* when tokens was last refilled */
    int preface_passed;     /* the client preface has been seen whole */
    int in_header_block;    /* a HEADERS or PUSH_PROMISE without END_HEADERS was the last header frame */
    unsigned continuations; /* CONTINUATION frames of that block so far */
    framebudget_stop stop;  /* why the last scan stopped, if it did */
    uint32_t malformed[FRAMEBUDGET_MAX_MALFORMED]; /* streams whose request is malformed, not yet taken */
    unsigned malformed_count;
    uint64_t active_ms;     /* when the last frame of a request (HEADERS, CONTINUATION, DATA) was read, or
                               init's now_ms: other frames (PING above all) keep no connection busy */
    uint64_t unknown_frames; /* frames of an unknown type taken out, so far */
} framebudget;

/* A full budget of rate (>= 1) resets a second, at now_ms (a monotonic clock). */
void framebudget_init(framebudget *b, unsigned rate, uint64_t now_ms);

/* Keeps stream_id's request as malformed (two different content-length values) until
 * framebudget_take_malformed or a reset of the stream; 0, or -1 when
 * FRAMEBUDGET_MAX_MALFORMED are waiting already (a client that sends such requests and
 * resets them: the caller ends the connection). A stream kept already stays kept once. */
int framebudget_note_malformed(framebudget *b, uint32_t stream_id);

/* 1 when the request on stream_id was found malformed (two different content-length
 * values), which it then forgets; else 0. */
int framebudget_take_malformed(framebudget *b, uint32_t stream_id);

/* Reads the whole frames at the start of data[0..len), the client's bytes not yet parsed
 * by the HTTP/2 library (they begin at a frame boundary, or with the preface), charges
 * each RST_STREAM (forgetting its stream if it was kept as malformed), and counts the
 * CONTINUATION frames of each header block. Frames of an unknown type outside a header
 * block, within FRAMEBUDGET_MAX_FRAME_SIZE, are taken out:
 * the bytes after each move down over it. Returns how many bytes of data the library is
 * to read: all that remain when every frame is within budget (b->stop stays
 * FRAMEBUDGET_WITHIN); else up to the first frame over it (b->stop says which budget):
 * the caller drops the input from there and closes the connection. A partial frame at
 * the end is left for the next call, which sees it again whole. */
size_t framebudget_scan(framebudget *b, uint8_t *data, size_t len, uint64_t now_ms);

#endif
