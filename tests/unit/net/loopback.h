/* loopback: drives hookgate's h2o handlers in memory, without sockets, the way h2o's own
 * t/00unit does: a connection object with no socket under it, a request filled in by hand
 * and run through h2o_process_request, and a final output stream that keeps what the
 * handler sends. The server side is real: an h2o globalconf with http_router registered,
 * a context on an evloop, and core_fixture.h's core (with a journal when the YAML has a
 * store.path, so creates go through the journal's thread and back through completion.h).
 *
 * Header-only: each net handler test includes it once. */
#ifndef HOOKGATE_TEST_LOOPBACK_H
#define HOOKGATE_TEST_LOOPBACK_H

#include <h2o.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "accesslog.h"
#include "core_fixture.h"
#include "http_router.h"

#define LB_MAX_HEADERS 8
#define LB_LOOP_ROUNDS 500 /* evloop runs (of at most LB_LOOP_MS each) a request may take */
#define LB_LOOP_MS 20

/* The server side: one h2o host with every route, one context, one core. */
typedef struct lb_server {
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    core *core;
} lb_server;

/* A request to send, and what came back. */
typedef struct lb_exchange {
    /* in */
    const char *method, *path;
    const char *headers[LB_MAX_HEADERS][2]; /* name (lowercase), value; ends at a NULL name */
    const void *body;                       /* NULL = no body */
    size_t body_len;
    int version; /* 0x101 unless set (0x200: HTTP/2) */
    /* out */
    int status;
    char reason[64];
    h2o_headers_t res_headers; /* copied into the harness's pool */
    h2o_buffer_t *res_body;
    int completed;
} lb_exchange;

/* A connection with no socket under it, carrying one request. */
typedef struct lb_conn {
    h2o_conn_t super;
    h2o_ostream_t ostr; /* the last stream of the response: collects the body */
    lb_exchange *x;
    h2o_req_t req;
} lb_conn;

static h2o_mem_pool_t lb_pool; /* response headers outlive their request */

static inline socklen_t lb_get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    (void)conn;
    struct sockaddr_in *sin = (struct sockaddr_in *)sa;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(0x7f000001);
    sin->sin_port = htons(80);
    return sizeof(*sin);
}

static inline socklen_t lb_get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    lb_get_sockname(conn, sa);
    ((struct sockaddr_in *)sa)->sin_port = htons(55555);
    return sizeof(struct sockaddr_in);
}

static inline void lb_on_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    lb_conn *conn = H2O_STRUCT_FROM_MEMBER(lb_conn, ostr, self);
    for (size_t i = 0; i < n; i++) {
        h2o_iovec_t room = h2o_buffer_reserve(&conn->x->res_body, bufs[i].len);
        memcpy(room.base, bufs[i].base, bufs[i].len);
        conn->x->res_body->size += bufs[i].len;
    }
    if (h2o_send_state_is_in_progress(state)) {
        h2o_proceed_response(req);
        return;
    }
    lb_exchange *x = conn->x;
    x->completed = 1;
    x->status = req->res.status;
    snprintf(x->reason, sizeof(x->reason), "%s", req->res.reason != NULL ? req->res.reason : "");
    for (size_t i = 0; i < req->res.headers.size; i++) {
        h2o_header_t *hd = &req->res.headers.entries[i];
        h2o_add_header_by_str(&lb_pool, &x->res_headers, h2o_strdup(&lb_pool, hd->name->base, hd->name->len).base,
                              hd->name->len, 1, NULL, h2o_strdup(&lb_pool, hd->value.base, hd->value.len).base,
                              hd->value.len);
    }
}

/* Starts a server over the configuration yaml; with store.path set there, creates go
 * through a journal. Returns 0, or -1 (with a CHECK failed) when it cannot. */
static inline int lb_server_init(lb_server *s, const char *yaml)
{
    memset(s, 0, sizeof(*s));
    h2o_mem_init_pool(&lb_pool);
    accesslog_set_format(ACCESSLOG_OFF); /* test_accesslog covers the lines */
    if ((s->core = core_fixture_open(yaml)) == NULL)
        return -1;
    h2o_config_init(&s->conf);
    s->conf.server_name = h2o_iovec_init(H2O_STRLIT(""));
    h2o_hostconf_t *host = h2o_config_register_host(&s->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    http_router_register(host, s->core);
    h2o_context_init(&s->ctx, h2o_evloop_create(), &s->conf);
    return 0;
}

/* The receiver answers from the journal come back through (http.c's, per context). */
static inline h2o_multithread_receiver_t *lb_receiver(lb_server *s)
{
    h2o_handler_t *h = s->conf.hosts[0]->paths.entries[0].handlers.entries[0];
    return h2o_context_get_handler_context(&s->ctx, h);
}

/* Runs the loop until every answer posted to it has been taken (call it once nothing can
 * post any more, e.g. after core_destroy). 0 when they all were. */
static inline int lb_drain(lb_server *s)
{
    h2o_multithread_receiver_t *r = lb_receiver(s);
    for (int round = 0; !h2o_linklist_is_empty(&r->_messages) && round < LB_LOOP_ROUNDS; round++)
        h2o_evloop_run(s->ctx.loop, LB_LOOP_MS);
    return h2o_linklist_is_empty(&r->_messages) ? 0 : -1;
}

/* Destroys the core first (every call its store holds is answered), lets the loop take
 * the answers, then takes the h2o side down. */
static inline void lb_server_dispose(lb_server *s)
{
    core_destroy(s->core);
    CHECK(lb_drain(s) == 0);
    h2o_loop_t *loop = s->ctx.loop;
    h2o_multithread_queue_t *queue = s->ctx.queue;
    h2o_context_dispose(&s->ctx);
    free(queue); /* h2o 2.2.5's h2o_multithread_destroy_queue closes it but never frees it */
    h2o_evloop_run(loop, 0); /* frees the queue's socket, closed by the dispose */
    h2o_evloop_destroy(loop);
    h2o_config_dispose(&s->conf);
    h2o_mem_clear_pool(&lb_pool);
}

/* Makes the connection and the request of x, without processing it. */
static inline lb_conn *lb_conn_create(lb_server *s, lb_exchange *x)
{
    static const h2o_conn_callbacks_t callbacks = {.get_sockname = lb_get_sockname, .get_peername = lb_get_peername};
    lb_conn *conn = (lb_conn *)h2o_create_connection(sizeof(*conn), &s->ctx, s->ctx.globalconf->hosts,
                                                     (struct timeval){0, 0}, &callbacks);
    memset((char *)conn + sizeof(conn->super), 0, offsetof(lb_conn, req) - sizeof(conn->super));
    conn->x = x;
    h2o_init_request(&conn->req, &conn->super, NULL);
    conn->ostr.do_send = lb_on_send;
    conn->req._ostr_top = &conn->ostr;
    h2o_req_t *req = &conn->req;
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    req->input.authority = h2o_iovec_init(H2O_STRLIT("localhost"));
    req->input.method = h2o_iovec_init(x->method, strlen(x->method));
    req->input.path = h2o_iovec_init(x->path, strlen(x->path));
    req->version = x->version != 0 ? x->version : 0x101;
    gettimeofday(&req->timestamps.request_begin_at, NULL);
    for (size_t i = 0; i < LB_MAX_HEADERS && x->headers[i][0] != NULL; i++) {
        const char *name = x->headers[i][0], *value = x->headers[i][1];
        const h2o_token_t *token = h2o_lookup_token(name, strlen(name));
        if (token != NULL)
            h2o_add_header(&req->pool, &req->headers, token, NULL, value, strlen(value));
        else
            h2o_add_header_by_str(&req->pool, &req->headers, name, strlen(name), 0, NULL, value, strlen(value));
    }
    req->entity = x->body != NULL ? h2o_iovec_init(x->body, x->body_len) : h2o_iovec_init(NULL, 0);
    x->completed = 0;
    memset(&x->res_headers, 0, sizeof(x->res_headers));
    h2o_buffer_init(&x->res_body, &h2o_socket_buffer_prototype);
    return conn;
}

/* Frees the request (its pool) and the connection: what h2o does when a client goes. */
static inline void lb_conn_destroy(lb_conn *conn)
{
    h2o_dispose_request(&conn->req);
    free(conn);
}

/* Runs the loop until x's response is complete (an answer that waits for the journal comes
 * back through the context's queue). 0 when it completed. */
static inline int lb_wait(lb_server *s, lb_exchange *x)
{
    for (int round = 0; !x->completed && round < LB_LOOP_ROUNDS; round++)
        h2o_evloop_run(s->ctx.loop, LB_LOOP_MS);
    return x->completed ? 0 : -1;
}

/* Sends x and waits for the whole response; x->status is 0 when none came. */
static inline void lb_send(lb_server *s, lb_exchange *x)
{
    lb_conn *conn = lb_conn_create(s, x);
    h2o_process_request(&conn->req);
    CHECK(lb_wait(s, x) == 0);
    lb_conn_destroy(conn);
}

/* The body as a NUL-terminated string (it lives in x->res_body). */
static inline const char *lb_body(lb_exchange *x)
{
    h2o_iovec_t room = h2o_buffer_reserve(&x->res_body, 1);
    room.base[0] = '\0';
    return x->res_body->bytes;
}

/* A response header's value as a string, or NULL when absent. */
static inline const char *lb_header(lb_exchange *x, const char *name)
{
    for (size_t i = 0; i < x->res_headers.size; i++) {
        h2o_header_t *hd = &x->res_headers.entries[i];
        if (h2o_memis(hd->name->base, hd->name->len, name, strlen(name)))
            return hd->value.base; /* h2o_strdup NUL-terminates */
    }
    return NULL;
}

/* Frees what the response holds (headers go with the harness's pool). */
static inline void lb_exchange_dispose(lb_exchange *x)
{
    h2o_buffer_dispose(&x->res_body);
}

#endif
