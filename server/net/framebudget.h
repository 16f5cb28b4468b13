/* framebudget: the limits hookgate puts on an HTTP/2 client's frames before h2o parses
 * them, read from the raw bytes of one connection: stream resets against a token bucket
 * (the guard against rapid reset, CVE-2023-44487), and CONTINUATION frames per header
 * block (the CONTINUATION flood, CVE-2024-27316 and its family: h2o 2.2.5 takes an
 * endless run of empty CONTINUATION frames, spinning a loop).
 *
 * It reads only frame headers (9 bytes: length, type, flags, stream), never a payload,
 * and needs no HTTP/2 library: it sits in front of one (see h2guard.h). */
#ifndef HOOKGATE_FRAMEBUDGET_H
#define HOOKGATE_FRAMEBUDGET_H

#include <stddef.h>
#include <stdint.h>

#define FRAMEBUDGET_PREFACE_LEN 24 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", the client's first bytes */
#define FRAMEBUDGET_MAX_CONTINUATIONS 16 /* CONTINUATION frames after one HEADERS: 16 x 16 KiB frames, \
                                            far beyond any request header block h2o accepts */

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
} framebudget;

/* A full budget of rate (>= 1) resets a second, at now_ms (a monotonic clock). */
void framebudget_init(framebudget *b, unsigned rate, uint64_t now_ms);

/* Reads the whole frames at the start of data[0..len), the client's bytes not yet parsed
 * by the HTTP/2 library (they begin at a frame boundary, or with the preface), charges
 * each RST_STREAM and counts the CONTINUATION frames of each header block. Returns len
 * when every frame is within budget; else the offset of the first frame over it (b->stop
 * says which budget): the caller drops the input from there and closes the connection.
 * A partial frame at the end is left for the next call, which sees it again whole. */
size_t framebudget_scan(framebudget *b, const uint8_t *data, size_t len, uint64_t now_ms);

#endif
