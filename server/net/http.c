/* http: see http.h. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cors.h"
#include "h2guard.h"
#include "hg_assert.h"
#include "outflow.h"
#include "poolalloc.h"
#include "reqlog.h"

#define HTTP_ENTITY_HEADROOM (1024 * 1024) /* bytes h2o buffers past our limit to answer 413 */

size_t http_h2o_entity_limit(const config_limits *limits)
{
    return limits->max_body_bytes + HTTP_ENTITY_HEADROOM;
}

/* The request the router is dispatching now, and the route it found for it: a response
 * sent from inside that dispatch is counted under it without matching the path again. A
 * response sent later (after waiting for the store) finds nothing here and matches. */
static __thread const h2o_req_t *routing_req;
static __thread route_id routing_route;

void http_routing_begin(h2o_req_t *req, route_id route)
{
    routing_req = req;
    routing_route = route;
}

void http_routing_end(void)
{
    routing_req = NULL;
}

/* One access-log line and one metrics count for the response being sent. */
static void log_response(h2o_req_t *req, size_t bytes, h2o_iovec_t id)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t duration_us = (int64_t)(now.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1000000 +
                          (now.tv_usec - req->timestamps.request_begin_at.tv_usec);
    reqlog_protocol protocol = req->version >= 0x200   ? REQLOG_HTTP2
                               : req->version == 0x100 ? REQLOG_HTTP1_0
                                                       : REQLOG_HTTP1_1;
    route_id route = req == routing_req ? routing_route : ROUTE_COUNT;
    reqlog_write(req->method, req->path_normalized, route, protocol, req->res.status, -1, bytes, duration_us, id);
}

/* The outflow of req's connection (h2guard's), or NULL for a connection without one. */
static outflow *outflow_of(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock != NULL ? h2guard_outflow(sock) : NULL;
}

/* A request's answer under way, and the bytes it holds against its connection's outflow,
 * given back with the request's pool (h2o frees it once the answer is written whole, or
 * with the connection). h2o frees a connection's requests before its socket, so the
 * outflow outlives the record. */
typedef struct http_held {
    outflow *out;
    size_t bytes;
} http_held;

static void on_held_gone(void *p)
{
    http_held *h = p;
    outflow_release(h->out, h->bytes);
    outflow_end(h->out);
}

/* The answer to req begins: what the request holds (its body, buffered by h2o, and the
 * answer's) is charged until the request is freed, and its output must move from now. */
static void hold(h2o_req_t *req, outflow *out, size_t bytes)
{
    http_held *h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), on_held_gone);
    *h = (http_held){out, bytes};
    outflow_charge(out, bytes);
    outflow_begin(out);
}

int http_admit(h2o_req_t *req, error *err)
{
    return outflow_admit(outflow_of(req), err) == OUTFLOW_ADMITTED ? 0 : -1;
}

/* An answer's body, handed to h2o a chunk at a time: each chunk that h2o has written to the
 * socket (its proceed) is the progress outflow.h's write timer waits for, and a TLS socket
 * encrypts one chunk at a time instead of a copy of the whole body. */
typedef struct http_body {
    h2o_generator_t super;
    const char *data;
    size_t len, sent;
    outflow *out;
} http_body;

static void body_send(h2o_req_t *req, http_body *b)
{
    size_t n = b->len - b->sent < OUTFLOW_CHUNK_BYTES ? b->len - b->sent : OUTFLOW_CHUNK_BYTES;
    h2o_iovec_t chunk = h2o_iovec_init(b->data + b->sent, n);
    b->sent += n;
    h2o_send(req, &chunk, 1, b->sent == b->len ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void on_body_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    http_body *b = (http_body *)g;
    outflow_progress(b->out);
    body_send(req, b);
}

static void on_body_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)g, (void)req; /* the body lives in the request's pool: nothing to give back */
}

static void respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const void *body,
                    size_t len, int copy)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    /* the client's x-request-id when acceptable, else a new one; sent back, and logged */
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    h2o_iovec_t id = reqlog_request_id(&req->pool, i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    cors_add_headers(req); /* every answer on every route: an error's too, or the page cannot read it */
    log_response(req, len, id);
    http_body *b = h2o_mem_alloc_pool(&req->pool, sizeof(*b));
    *b = (http_body){.super = {on_body_proceed, on_body_stop}, .data = body, .len = len, .out = outflow_of(req)};
    if (copy && len > 0) {
        char *data = h2o_mem_alloc_pool(&req->pool, len);
        memcpy(data, body, len);
        b->data = data;
    }
    hold(req, b->out, req->entity.len + len);
    h2o_start_response(req, &b->super);
    body_send(req, b);
}

void http_respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const void *body,
                  size_t len)
{
    respond(req, status, reason, content_type, body, len, 1);
}

void http_respond_pooled(h2o_req_t *req, int status, const char *reason, const char *content_type, const void *body,
                         size_t len)
{
    respond(req, status, reason, content_type, body, len, 0);
}

void http_add_retry_after(h2o_req_t *req, const error *err)
{
    if (err->kind != ERROR_RATE_LIMITED && err->retry_after_s == 0)
        return; /* a rate limit always says when; another kind when its reason knows */
    char *value = h2o_mem_alloc_pool(&req->pool, 16);
    int n = snprintf(value, 16, "%u", err->retry_after_s > 0 ? err->retry_after_s : 1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, value, (size_t)n);
}

void http_respond_text(h2o_req_t *req, int status, const char *reason, const char *text)
{
    http_respond(req, status, reason, "text/plain; charset=utf-8", text, strlen(text));
}

void http_respond_method_not_allowed(h2o_req_t *req, const char *allow)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    http_respond_text(req, 405, "Method Not Allowed", "Method not allowed.");
}

/* A field value without the whitespace around it (RFC 9110 §5.5: it is not part of the
 * value). h2o 2.2.5's HTTP/1.1 parser drops the leading whitespace but keeps the
 * trailing, so "Authorization:  token" and "Authorization: token " differed. */
static h2o_iovec_t field_value(h2o_iovec_t v)
{
    while (v.len > 0 && (v.base[0] == ' ' || v.base[0] == '\t'))
        v.base++, v.len--;
    while (v.len > 0 && (v.base[v.len - 1] == ' ' || v.base[v.len - 1] == '\t'))
        v.len--;
    return v;
}

h2o_iovec_t http_header(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : field_value(req->headers.entries[i].value);
}

h2o_iovec_t http_header_named(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : field_value(req->headers.entries[i].value);
}

h2o_iovec_t http_authorization(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0 || h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, i) >= 0)
        return h2o_iovec_init(NULL, 0);
    return field_value(req->headers.entries[i].value);
}

h2o_iovec_t http_idempotency_key(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
    if (i < 0)
        return h2o_iovec_init(NULL, 0);
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), i) >= 0)
        return h2o_iovec_init("", 0);
    return field_value(req->headers.entries[i].value);
}

void http_add_replayed(h2o_req_t *req, int replayed)
{
    if (replayed)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("idempotent-replayed"), 0, NULL,
                              H2O_STRLIT("true"));
}

ProtobufCAllocator http_pool_allocator(h2o_req_t *req)
{
    return poolalloc_make(&req->pool);
}

h2o_iovec_t http_query(h2o_req_t *req)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init("", 0);
    return h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
}

/* ---- responses that wait on another thread ------------------------------------------ */

/* h2o frees a request with its pool: the guard, allocated there, tells the completion. */
static void on_req_gone(void *slot)
{
    http_pending **guard = slot;
    if (*guard != NULL) {
        (*guard)->req = NULL;
        completion_vanish(&(*guard)->done);
    }
}

static void on_pending_finished(completion *c)
{
    http_pending *p = (http_pending *)c;
    HG_ASSERT(p->req != NULL && *p->guard == p);
    *p->guard = NULL;
    p->finish(p, p->req);
}

static void on_pending_released(completion *c)
{
    http_pending *p = (http_pending *)c;
    p->release(p);
}

/* What a handler keeps per event loop. */
typedef struct http_loop_context {
    h2o_multithread_receiver_t receiver; /* first: answers come back through it (tests read it so) */
    deadlinetimer_wheel deadlines;
} http_loop_context;

void http_pending_start(http_pending *p, h2o_req_t *req, h2o_handler_t *handler,
                        void (*finish)(http_pending *p, h2o_req_t *req), void (*release)(http_pending *p))
{
    http_loop_context *lc = h2o_context_get_handler_context(req->conn->ctx, handler);
    completion_start(&p->done, &lc->receiver, on_pending_finished);
    p->req = req;
    p->finish = finish;
    p->release = release;
    if (release != NULL)
        p->done.release = on_pending_released;
    p->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*p->guard), on_req_gone);
    *p->guard = p;
}

void http_pending_cancel(http_pending *p)
{
    completion_cancel(&p->done);
    *p->guard = NULL;
}

void http_pending_post(http_pending *p)
{
    completion_post(&p->done);
}

void http_pending_abandon(http_pending *p)
{
    HG_ASSERT(p->req != NULL && *p->guard == p);
    *p->guard = NULL;
    p->req = NULL;
    completion_vanish(&p->done);
}

deadlinetimer_wheel *http_deadlines(h2o_req_t *req, h2o_handler_t *handler)
{
    http_loop_context *lc = h2o_context_get_handler_context(req->conn->ctx, handler);
    return &lc->deadlines;
}

static void on_context_init(h2o_handler_t *self, h2o_context_t *ctx)
{
    http_loop_context *lc = h2o_mem_alloc(sizeof(*lc));
    completion_receiver_register(&lc->receiver, ctx->queue);
    deadlinetimer_wheel_init(&lc->deadlines, ctx->loop);
    h2o_context_set_handler_context(ctx, self, lc);
}

static void on_context_dispose(h2o_handler_t *self, h2o_context_t *ctx)
{
    http_loop_context *lc = h2o_context_get_handler_context(ctx, self);
    completion_receiver_unregister(&lc->receiver, ctx->queue);
    deadlinetimer_wheel_dispose(&lc->deadlines);
    free(lc);
}

void http_handler_init(http_handler *h, core *c, int (*on_req)(h2o_handler_t *self, h2o_req_t *req))
{
    h->super.on_req = on_req;
    h->super.on_context_init = on_context_init;
    h->super.on_context_dispose = on_context_dispose;
    h->core = c;
}
