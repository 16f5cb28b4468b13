/* accesslog: one line per request on stderr (or server.access_log_file, log.h), as text
 * or as JSON lines.
 *
 * Lines reach stderr whole: each write(2) carries whole lines and at most PIPE_BUF bytes,
 * so lines of other threads never interleave inside one, even on a pipe. An event loop's
 * thread may batch its lines (accesslog_batch) and write them once per loop iteration
 * (accesslog_flush): one write for many requests instead of one each. It holds only what
 * an entry carries (method, path without query, status, bytes, duration,
 * protocol, request id): never a token, a secret or a body. */
#ifndef HOOKGATE_ACCESSLOG_H
#define HOOKGATE_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#define ACCESSLOG_ID_MAX 64 /* bytes of a request id, NUL excluded */

typedef enum accesslog_format { ACCESSLOG_TEXT, ACCESSLOG_JSON, ACCESSLOG_OFF } accesslog_format;

typedef struct accesslog_entry {
    const char *method;
    size_t method_len;
    const char *path; /* without the query */
    size_t path_len;
    int status;   /* the HTTP status; for native gRPC the grpc-status (the HTTP status when there is none) */
    size_t bytes; /* of the response body */
    int64_t duration_us;
    const char *protocol; /* "HTTP/1.1", "HTTP/2.0", "gRPC" */
    const char *request_id;
    size_t request_id_len;
} accesslog_entry;

/* Chooses the format (server.access_log); set once, before the loops start. */
void accesslog_set_format(accesslog_format format);

void accesslog_write(const accesslog_entry *e);

/* From now on this thread's lines wait in its buffer (up to PIPE_BUF bytes, written
 * whenever it fills) until accesslog_flush, which the thread must then call after each
 * event-loop iteration and before it ends. Other threads write each line at once. */
void accesslog_batch(void);

/* Writes the lines this thread has batched, in one write. */
void accesslog_flush(void);

/* A new request id: 16 lowercase hex digits (8 from a counter, spread so that consecutive
 * ids differ in their first digit, then 8 random per process), NUL terminated; the first 8
 * repeat only after 2^32 ids. Returns its length. */
size_t accesslog_request_id(char out[ACCESSLOG_ID_MAX + 1]);

/* 1 when a client's own request id (x-request-id) may be used as ours: 1..64 characters of
 * letters, digits, '-', '_', '.' (nothing a log reader could mistake for structure). */
int accesslog_id_is_acceptable(const char *id, size_t len);

#endif
