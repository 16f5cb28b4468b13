/* http: hookgate's h2o front — the routes of every protocol served over HTTP/1.1 and
 * HTTP/2, and the few helpers they share.
 *
 * Transports only: each decodes with the codecs, calls the core (directly or through rpc),
 * and renders the result or the error through the mapping table. Every response goes
 * through http_respond, which writes one access-log line (method, path without query,
 * status, bytes, duration, protocol) — never a token, secret or body. */
#ifndef HOOKGATE_HTTP_H
#define HOOKGATE_HTTP_H

#include <h2o.h>

#include "core.h"

/* Registers every route (the RPC paths, then the REST API and /healthz) on host. c must
 * outlive the server. */
void http_register(h2o_hostconf_t *host, core *c);

/* The byte limit h2o itself must be given (globalconf max_request_entity_size): above the
 * project's own so that a handler, not h2o, answers 413 (h2o resets HTTP/2 streams over
 * its limit instead of answering). */
size_t http_h2o_entity_limit(const config_limits *limits);

/* ---- shared by the route modules ---- */

typedef struct http_handler {
    h2o_handler_t super;
    core *core;
} http_handler;

/* Sends a complete response (body copied) and logs it. */
void http_respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const void *body,
                  size_t len);

/* A plain-text response. */
void http_respond_text(h2o_req_t *req, int status, const char *reason, const char *text);

/* 405 with an Allow header. */
void http_respond_method_not_allowed(h2o_req_t *req, const char *allow);

/* The value of a request header, or {NULL, 0}. */
h2o_iovec_t http_header(h2o_req_t *req, const h2o_token_t *token);

/* The Authorization header; {NULL, 0} when absent, and also when it is given more than
 * once (which token would be meant is ambiguous: the request is then unauthenticated). */
h2o_iovec_t http_authorization(h2o_req_t *req);

/* 1 when a media type (parameters after ';' ignored, case-insensitive) is `type`. */
int http_media_type_is(h2o_iovec_t value, const char *type);

/* An allocator over the request's pool: message memory goes with the request. */
ProtobufCAllocator http_pool_allocator(h2o_req_t *req);

/* The query string without '?', or "" when there is none. */
h2o_iovec_t http_query(h2o_req_t *req);

#endif
