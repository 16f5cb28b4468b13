/* h2guard: see h2guard.h.
 *
 * The one thing taken from h2o beyond its public functions is sock->_cb.read, the reader
 * h2o_http2_accept installs: the guard reads it once and calls it after its own. h2o 2.2.5
 * installs that reader once per connection (connection.c, h2o_http2_accept) and never
 * replaces it, and always leaves unparsed input starting at a frame boundary. */
#include "h2guard.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <h2o/http1.h>
#include <h2o/http2.h>

#include "framebudget.h"
#include "hg_assert.h"
#include "metrics.h"

static const char preface[FRAMEBUDGET_PREFACE_LEN + 1] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

typedef struct guard {
    h2o_socket_t *sock;
    h2o_accept_ctx_t *accept;
    struct timeval connected_at;
    h2o_timeout_entry_t timeout; /* the TLS handshake, or the cleartext preface */
    h2o_socket_cb h2o_read;      /* h2o's HTTP/2 reader, once it has the connection */
    framebudget budget;
    int entering;  /* inside h2o_http2_accept, which may close the socket at once */
    int closed;    /* the socket has closed */
    int cut;       /* over budget or quiet: the socket is shut down, h2o is closing it */
    unsigned busy; /* requests h2o is answering (h2guard_request_begin) */
    void (*on_close)(void *);
    void *close_data;
    outflow out; /* what the connection's requests and answers hold (http.c charges it) */
} guard;

/* A guard goes once its socket has closed, h2o_http2_accept has returned, and every
 * request that began on it has been disposed of (h2o disposes of them before it closes the
 * socket, but a guard that outlives its requests costs nothing to be sure). */
static void guard_release(guard *g)
{
    if (g->closed && !g->entering && g->busy == 0)
        free(g);
}

static void on_socket_close(void *data)
{
    guard *g = data;
    h2o_timeout_unlink(&g->timeout);
    framebudget_dispose(&g->budget);
    outflow_dispose(&g->out); /* h2o frees a connection's requests before its socket */
    g->on_close(g->close_data);
    g->closed = 1;
    guard_release(g);
}

static uint64_t now_ms(guard *g)
{
    return h2o_now(h2o_socket_get_loop(g->sock));
}

/* Charges the input h2o has not read yet, taking out the frames of unknown types (h2o
 * would log each one); over budget, drops it from the offending frame and shuts the
 * socket down. */
static void charge(guard *g)
{
    h2o_buffer_t *in = g->sock->input;
    if (g->cut) {
        in->size = 0;
        return;
    }
    uint64_t unknown = g->budget.unknown_frames;
    in->size = framebudget_scan(&g->budget, (uint8_t *)in->bytes, in->size, now_ms(g));
    if (g->budget.unknown_frames != unknown)
        metrics_unknown_frames(g->budget.unknown_frames - unknown);
    if (g->budget.stop == FRAMEBUDGET_WITHIN)
        return;
    g->cut = 1;
    if (g->budget.stop == FRAMEBUDGET_CONTINUATIONS) {
        metrics_continuation_flood();
        log_error("closed an HTTP/2 connection: a header block of more than %d CONTINUATION frames",
                  FRAMEBUDGET_MAX_CONTINUATIONS);
    } else if (g->budget.stop == FRAMEBUDGET_HEADER_BLOCK) {
        metrics_header_block_closed();
        log_error("closed an HTTP/2 connection: a header block that cannot be decoded, or more than %d "
                  "malformed requests waiting",
                  FRAMEBUDGET_MAX_MALFORMED);
    } else {
        metrics_reset_flood();
        log_error("closed an HTTP/2 connection: more than %u stream resets a second "
                  "(limits.resets_per_second_per_connection)",
                  g->budget.rate);
    }
    shutdown(h2o_socket_get_fd(g->sock), SHUT_RDWR);
}

static void on_http2_read(h2o_socket_t *sock, const char *err)
{
    guard *g = sock->on_close.data;
    if (err == NULL)
        charge(g);
    g->h2o_read(sock, err);
}

/* HTTP/2's idle timer. h2o restarts its own on every read, so a client that sends a PING
 * now and then would hold its connection, and a place under server.max_connections, for
 * ever. This one runs every http2.idle_timeout and closes a connection that has sent no
 * frame of a request (framebudget's active_ms) for that long and has no request being
 * answered (h2o stops its own timer then too). So a connection that sends only PINGs,
 * SETTINGS or WINDOW_UPDATEs goes between one and two idle timeouts after its last
 * request frame. */
static void on_quiet(h2o_timeout_entry_t *entry)
{
    guard *g = H2O_STRUCT_FROM_MEMBER(guard, timeout, entry);
    h2o_context_t *ctx = g->accept->ctx;
    if (g->cut)
        return;
    if (g->busy == 0 && now_ms(g) - g->budget.active_ms >= ctx->globalconf->http2.idle_timeout) {
        g->cut = 1;
        shutdown(h2o_socket_get_fd(g->sock), SHUT_RDWR); /* h2o closes it through its error path */
        return;
    }
    h2o_timeout_link(ctx->loop, &ctx->http2.idle_timeout, &g->timeout);
}

static void enter_http2(guard *g)
{
    h2o_socket_t *sock = g->sock;
    charge(g); /* h2o_http2_accept parses what is already read without asking the guard */
    g->entering = 1;
    h2o_http2_accept(g->accept, sock, g->connected_at);
    g->entering = 0;
    if (g->closed) {
        guard_release(g);
        return;
    }
    g->h2o_read = sock->_cb.read;
    sock->_cb.read = on_http2_read;
    g->timeout.cb = on_quiet;
    h2o_timeout_link(g->accept->ctx->loop, &g->accept->ctx->http2.idle_timeout, &g->timeout);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    guard *g = H2O_STRUCT_FROM_MEMBER(guard, timeout, entry);
    h2o_socket_close(g->sock);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    guard *g = sock->on_close.data;
    h2o_timeout_unlink(&g->timeout);
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *p = h2o_http2_alpn_protocols; p->len != 0; p++)
        if (proto.len == p->len && memcmp(proto.base, p->base, p->len) == 0) {
            enter_http2(g);
            return;
        }
    h2o_http1_accept(g->accept, sock, g->connected_at);
}

/* Cleartext: the first bytes tell HTTP/2 with prior knowledge from HTTP/1.1. */
static void on_first_read(h2o_socket_t *sock, const char *err)
{
    guard *g = sock->on_close.data;
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    size_t n = sock->input->size < FRAMEBUDGET_PREFACE_LEN ? sock->input->size : FRAMEBUDGET_PREFACE_LEN;
    if (memcmp(sock->input->bytes, preface, n) != 0) {
        h2o_timeout_unlink(&g->timeout);
        h2o_http1_accept(g->accept, sock, g->connected_at);
    } else if (n == FRAMEBUDGET_PREFACE_LEN) {
        h2o_timeout_unlink(&g->timeout);
        enter_http2(g);
    } /* else a part of the preface: wait for the rest */
}

/* The connection's answers stopped moving for write_timeout_ms: reset it (SO_LINGER 0, so the
 * kernel drops what the client never took instead of keeping it for the orphaned socket) and
 * shut it down, so h2o closes it through its own error path, as for a flood. */
static void on_stall(outflow *o)
{
    guard *g = H2O_STRUCT_FROM_MEMBER(guard, out, o);
    int fd = h2o_socket_get_fd(g->sock);
    struct linger reset = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    shutdown(fd, SHUT_RDWR);
    log_error("closed a connection: its answers did not move for server.write_timeout_ms");
}

outflow *h2guard_outflow(h2o_socket_t *sock)
{
    return sock->on_close.cb == on_socket_close ? &((guard *)sock->on_close.data)->out : NULL;
}

static void on_request_disposed(void *p)
{
    guard *g = *(guard **)p;
    HG_ASSERT(g->busy > 0);
    g->busy--;
    guard_release(g);
}

void h2guard_request_begin(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->on_close.cb != on_socket_close)
        return;
    guard *g = sock->on_close.data;
    /* a shared chunk of the request's pool: h2o calls its dispose when it disposes of the request */
    guard **p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_request_disposed);
    *p = g;
    g->busy++;
}

void *h2guard_close_data(h2o_socket_t *sock, void (*on_close)(void *))
{
    if (sock->on_close.cb != on_socket_close)
        return NULL;
    guard *g = sock->on_close.data;
    return g->on_close == on_close ? g->close_data : NULL;
}

void h2guard_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, unsigned resets_per_second, void (*on_close)(void *),
                    void *close_data)
{
    guard *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        on_close(close_data);
        h2o_socket_close(sock);
        return;
    }
    g->sock = sock;
    g->accept = ctx;
    g->connected_at = *h2o_get_timestamp(ctx->ctx, NULL, NULL);
    g->timeout.cb = on_timeout;
    g->on_close = on_close;
    g->close_data = close_data;
    outflow_init(&g->out, on_stall);
    /* framebudget's HPACK decoder starts with nghttp2's table size: h2o must advertise no other */
    HG_ASSERT(H2O_HTTP2_SETTINGS_HOST.header_table_size == NGHTTP2_DEFAULT_HEADER_TABLE_SIZE);
    /* an unknown frame longer than h2o's limit is left for h2o to refuse (FRAME_SIZE_ERROR) */
    HG_ASSERT(H2O_HTTP2_SETTINGS_HOST.max_frame_size == FRAMEBUDGET_MAX_FRAME_SIZE);
    if (framebudget_init(&g->budget, resets_per_second, h2o_now(ctx->ctx->loop)) != 0) {
        free(g);
        on_close(close_data);
        h2o_socket_close(sock);
        return;
    }
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = g;
    if (ctx->ssl_ctx != NULL) {
        h2o_timeout_link(ctx->ctx->loop, &ctx->ctx->handshake_timeout, &g->timeout);
        h2o_socket_ssl_handshake(sock, ctx->ssl_ctx, NULL, on_handshake);
    } else {
        h2o_timeout_link(ctx->ctx->loop, &ctx->ctx->http1.req_timeout, &g->timeout);
        h2o_socket_read_start(sock, on_first_read);
    }
}

int h2guard_take_malformed(h2o_req_t *req)
{
    if (req->version < 0x200 || req->conn->callbacks->get_socket == NULL)
        return 0;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->on_close.cb != on_socket_close)
        return 0; /* not a connection the guard accepted */
    guard *g = sock->on_close.data;
    if (g->budget.malformed_count == 0)
        return 0; /* the usual case, without formatting the stream id (a printf into the pool) */
    /* h2o 2.2.5 tells a request's stream id only to its loggers, in decimal (http2_internal.h,
     * which has it as a field, cannot be included without h2o's sources) */
    HG_ASSERT(req->conn->callbacks->log_.http2.stream_id != NULL);
    h2o_iovec_t id = req->conn->callbacks->log_.http2.stream_id(req);
    uint32_t stream = 0;
    for (size_t i = 0; i < id.len; i++) {
        HG_ASSERT(id.base[i] >= '0' && id.base[i] <= '9' && stream <= (UINT32_MAX - 9) / 10);
        stream = stream * 10 + (uint32_t)(id.base[i] - '0');
    }
    return framebudget_take_malformed(&g->budget, stream);
}
