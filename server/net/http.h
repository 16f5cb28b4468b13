/* http: what the h2o route modules (http_rest, http_rpc, http_router) share — responses,
 * request headers, the handler, and answers that wait on another thread. It includes none
 * of them: http_router sits on top and wires them to h2o.
 *
 * Transports only: each decodes with the codecs, calls the core (directly or through rpc),
 * and renders the result or the error through the mapping table. Every response goes
 * through http_respond, which writes one access-log line (method, path without query,
 * status, bytes, duration, protocol) — never a token, secret or body — and adds the CORS
 * headers (cors.h). */
#ifndef HOOKGATE_HTTP_H
#define HOOKGATE_HTTP_H

#include <h2o.h>

#include "completion.h"
#include "core.h"
#include "deadlinetimer.h"
#include "route.h"

/* The byte limit h2o itself must be given (globalconf max_request_entity_size): above the
 * project's own so that a handler, not h2o, answers 413 (h2o resets HTTP/2 streams over
 * its limit instead of answering). */
size_t http_h2o_entity_limit(const config_limits *limits);

/* ---- shared by the route modules ---- */

typedef struct http_handler {
    h2o_handler_t super;
    core *core;
} http_handler;

/* Sets up a handler made by h2o_create_handler: on_req, the core (which must outlive the
 * server), and the per-loop receiver that http_pending answers come back through. */
void http_handler_init(http_handler *h, core *c, int (*on_req)(h2o_handler_t *self, h2o_req_t *req));

/* The router matched req to route and is dispatching it now (until http_routing_end): a
 * response sent meanwhile is counted under that route without matching its path again. */
void http_routing_begin(h2o_req_t *req, route_id route);
void http_routing_end(void);

/* Sends a complete response (body copied) and logs it; content_type NULL sends none (an
 * empty body that is no document, as Droplit's update and delete answer). */
void http_respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const void *body,
                  size_t len);

/* http_respond for a body that already lives in req's pool (an encoder's output): not
 * copied, so a large answer is held once. */
void http_respond_pooled(h2o_req_t *req, int status, const char *reason, const char *content_type, const void *body,
                         size_t len);

/* Admits new work on req (outflow.h): 0, or -1 with err set to ERROR_OVERLOADED (its
 * connection, or the whole server, holds too much unsent output) for the route module to
 * answer in its protocol's form. It allocates nothing. Every response (http_respond) charges
 * the request's body and its own to the connection until the request is freed, and the
 * connection is reset when the answer stops moving for server.write_timeout_ms. */
int http_admit(h2o_req_t *req, error *err);

/* Adds Retry-After when err is ERROR_RATE_LIMITED (before a response is sent). */
void http_add_retry_after(h2o_req_t *req, const error *err);

/* A plain-text response. */
void http_respond_text(h2o_req_t *req, int status, const char *reason, const char *text);

/* 405 with an Allow header. */
void http_respond_method_not_allowed(h2o_req_t *req, const char *allow);

/* The value of a request header, or {NULL, 0}. */
h2o_iovec_t http_header(h2o_req_t *req, const h2o_token_t *token);

/* The same for a header h2o has no token for (grpc-encoding, grpc-timeout, ...), by its
 * lowercase name. */
h2o_iovec_t http_header_named(h2o_req_t *req, const char *name, size_t len);

/* The Authorization header; {NULL, 0} when absent, and also when it is given more than
 * once (which token would be meant is ambiguous: the request is then unauthenticated). */
h2o_iovec_t http_authorization(h2o_req_t *req);

/* The Idempotency-Key header; {NULL, 0} when absent, and {"", 0} when it is given more
 * than once (which the core then refuses as malformed). */
h2o_iovec_t http_idempotency_key(h2o_req_t *req);

/* Adds `Idempotent-Replayed: true` when a create was answered from its Idempotency-Key. */
void http_add_replayed(h2o_req_t *req, int replayed);

/* An allocator over the request's pool (poolalloc.h): message memory goes with the request. */
ProtobufCAllocator http_pool_allocator(h2o_req_t *req);

/* The query string without '?', or "" when there is none. */
h2o_iovec_t http_query(h2o_req_t *req);

/* A response that waits for another thread (a create waiting for the journal), through
 * completion.h. Embed it first in a malloc'd struct: it is freed once finished, or, when
 * the client went away meanwhile (h2o frees the request with its connection), once the
 * answer arrives, without finish. */
typedef struct http_pending {
    completion done;                                        /* first: freed through it */
    h2o_req_t *req;                                         /* NULL once the request is gone */
    struct http_pending **guard;                            /* in the request's pool: cleared when it is freed */
    void (*finish)(struct http_pending *p, h2o_req_t *req); /* on the loop thread, req alive */
    void (*release)(struct http_pending *p);                /* NULL, or: just before p is freed */
} http_pending;

/* Ties p to req, on req's loop thread, before the wait begins. release (may be NULL) runs
 * on the loop thread just before p is freed, after finish or instead of it. */
void http_pending_start(http_pending *p, h2o_req_t *req, h2o_handler_t *handler,
                        void (*finish)(http_pending *p, h2o_req_t *req), void (*release)(http_pending *p));

/* Undoes http_pending_start when the wait turned out not to be needed (the caller frees p). */
void http_pending_cancel(http_pending *p);

/* From any thread: hands p back to its loop, which calls finish (if the request is still
 * there) and frees p. */
void http_pending_post(http_pending *p);

/* On the loop thread, p's request still there: the request is answered otherwise (its
 * deadline passed), so the answer the wait brings is dropped, as when the client goes;
 * finish will not run, release still does, and p->req is NULL from now on. */
void http_pending_abandon(http_pending *p);

/* The timers of RPC deadlines on req's event loop (one wheel per loop and handler). */
deadlinetimer_wheel *http_deadlines(h2o_req_t *req, h2o_handler_t *handler);

#endif
