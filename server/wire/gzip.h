/* gzip: the one compression every protocol here speaks (gRPC's and gRPC-Web's
 * grpc-encoding, Connect's content-encoding, REST answers), on zlib.
 *
 * gzip_decode never holds more than the caller's limit: a message that inflates past it
 * (a gzip bomb) is refused after at most limit + 1 bytes of output, which land in a fixed
 * scratch buffer, and the only output memory allocated is the decoded message's size plus
 * one byte. The other functions read the headers that name encodings and decide when an
 * answer is compressed. */
#ifndef HOOKGATE_GZIP_H
#define HOOKGATE_GZIP_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* An answer this long or longer is compressed for a client that accepts gzip; a shorter
 * one goes as it is (compressed flag 0, no content-encoding), which every client reads,
 * and saves the client and the server the work for a few bytes. */
#define GZIP_ANSWER_MIN_BYTES 1024

/* zlib's level for answers: the fastest. A gateway's answers are JSON or protobuf lists
 * that shrink most of what they will at level 1; higher levels cost CPU per call. */
#define GZIP_LEVEL 1

/* The coding's name in every header that names codings, and what the answers advertise
 * (grpc-accept-encoding, accept-encoding, connect-accept-encoding): identity is always
 * accepted and goes unsaid. */
#define GZIP_NAME "gzip"

/* What a request header names for its body or message. */
typedef enum gzip_coding {
    GZIP_IDENTITY,    /* absent, empty or "identity" */
    GZIP_GZIP,        /* "gzip" (letter case ignored, spaces around it too) */
    GZIP_UNSUPPORTED, /* anything else: the protocol's "unimplemented", naming gzip as supported */
} gzip_coding;

/* The coding a grpc-encoding, content-encoding or connect-content-encoding value names
 * (value NULL or len 0: absent). */
gzip_coding gzip_coding_of(const char *value, size_t len);

/* 1 when an accept list (grpc-accept-encoding, accept-encoding, connect-accept-encoding:
 * comma-separated codings, each with optional ";q=..." parameters) accepts gzip: it names
 * gzip or "*" with a q other than 0. NULL or len 0: 0. */
int gzip_accepted(const char *list, size_t len);

/* Inflates in (len bytes, one gzip member and nothing after it) into memory from alloc,
 * at most limit bytes. Returns 0 with *out (never NULL, even when empty) and *out_len, or
 * -1 with err: ERROR_TOO_LARGE when the output would exceed limit (found at limit + 1
 * bytes), ERROR_INVALID_BODY when in is not one whole gzip stream (corrupt, truncated, or
 * followed by more bytes), ERROR_INTERNAL when out of memory. The decoding runs twice
 * (once to measure, once to fill an exact buffer): time for memory. */
int gzip_decode(const uint8_t *in, size_t len, size_t limit, ProtobufCAllocator *alloc, uint8_t **out, size_t *out_len,
                error *err);

/* Deflates in into one gzip member in memory from alloc. NULL when out of memory. */
uint8_t *gzip_encode(const uint8_t *in, size_t len, ProtobufCAllocator *alloc, size_t *out_len);

/* An answer as it goes to a client whose accept list is given: when the list accepts gzip
 * (gzip_accepted) and the answer is at least GZIP_ANSWER_MIN_BYTES, *msg and *len are
 * replaced by its compressed form, in memory from alloc, and 1 is returned; else (out of
 * memory too) they are left, and 0: the answer goes as it is. */
int gzip_answer(const char *accept, size_t accept_len, ProtobufCAllocator *alloc, const uint8_t **msg, size_t *len);

#endif
