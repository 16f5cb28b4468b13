/* h1framing: the one reading of an HTTP/1.1 request head's message framing that every
 * hop must agree on (RFC 9112 §6.1, §6.3), so that no request can hide inside another's
 * body (request smuggling).
 *
 * h2o 2.2.5's parser takes the first of two Content-Length fields, lets Transfer-Encoding
 * override Content-Length and keeps the connection open after, takes the last of two
 * Transfer-Encoding fields, accepts Transfer-Encoding on HTTP/1.0, and turns an obs-fold
 * continuation line into a header of its own. A proxy in front that reads the same bytes
 * another way then forwards, as the rest of one body, what h2o serves as a second request.
 * h1framing_check refuses every such head; the caller answers 400 and closes the
 * connection, so nothing after that head is ever read as a request.
 *
 * Pure: it reads bytes and decides, nothing else (fuzzed by fuzz_h1framing). */
#ifndef HOOKGATE_H1FRAMING_H
#define HOOKGATE_H1FRAMING_H

#include <stddef.h>

typedef enum h1framing_verdict {
    H1FRAMING_OK,
    H1FRAMING_MALFORMED,            /* no end of head, or a header line that is not `token ":" value` */
    H1FRAMING_OBS_FOLD,             /* a line continued by leading white space (RFC 9112 §5.2) */
    H1FRAMING_CONTENT_LENGTH,       /* a Content-Length that is not digits, or two that differ */
    H1FRAMING_BOTH_LENGTHS,         /* Content-Length and Transfer-Encoding together */
    H1FRAMING_TRANSFER_CODING,      /* Transfer-Encoding other than one field of exactly "chunked" */
    H1FRAMING_TRANSFER_ENCODING_1_0 /* Transfer-Encoding in an HTTP/1.0 request */
} h1framing_verdict;

/* Reads the request head at the start of head[0..len) — the request line and the header
 * lines up to the empty line; what follows is not looked at — as h2o's parser splits it
 * (a line ends at LF, a CR before it is dropped; one empty line before the request line
 * is skipped). version is the request's as h2o parsed it (0x100 for HTTP/1.0, 0x101 for
 * HTTP/1.1). Field names compare without case; values lose the white space around them.
 * Identical Content-Length fields are allowed (RFC 9110 §8.6). */
h1framing_verdict h1framing_check(const char *head, size_t len, int version);

/* A sentence for the client saying what was refused (the 400's body). */
const char *h1framing_reason(h1framing_verdict v);

#endif
