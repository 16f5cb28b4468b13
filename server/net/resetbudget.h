/* resetbudget: counts the stream resets an HTTP/2 client sends on one connection, from
 * the raw frames, against a token bucket (the guard against rapid reset, CVE-2023-44487).
 *
 * It reads only frame headers (9 bytes: length, type, flags, stream), never a payload,
 * and needs no HTTP/2 library: it sits in front of one (see h2guard.h). */
#ifndef HOOKGATE_RESETBUDGET_H
#define HOOKGATE_RESETBUDGET_H

#include <stddef.h>
#include <stdint.h>

#define RESETBUDGET_PREFACE_LEN 24 /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", the client's first bytes */

typedef struct resetbudget {
    unsigned rate;      /* resets a second, and the burst */
    double tokens;      /* resets left now */
    uint64_t last_ms;   /* when tokens was last refilled */
    int preface_passed; /* the client preface has been seen whole */
} resetbudget;

/* A full budget of rate (>= 1) resets a second, at now_ms (a monotonic clock). */
void resetbudget_init(resetbudget *b, unsigned rate, uint64_t now_ms);

/* Reads the whole frames at the start of data[0..len), the client's bytes not yet parsed
 * by the HTTP/2 library (they begin at a frame boundary, or with the preface), and charges
 * each RST_STREAM. Returns len when every reset is within budget; else the offset of the
 * first frame over it: the caller drops the input from there and closes the connection.
 * A partial frame at the end is left for the next call, which sees it again whole. */
size_t resetbudget_scan(resetbudget *b, const uint8_t *data, size_t len, uint64_t now_ms);

#endif
