/* h2guard: see h2guard.h.
 *
 * Two things are taken from h2o beyond its public functions. sock->_cb.read, the reader
 * h2o_http2_accept installs: the guard reads it once and calls it after its own. h2o 2.2.5
 * installs that reader once per connection (connection.c, h2o_http2_accept) and never
 * replaces it, and always leaves unparsed input starting at a frame boundary. And two
 * functions libh2o calls itself, h2o_hpack_parse_headers and h2o_strtosize, which hookgate
 * defines around libh2o's own to see the content-length values of each header block
 * h2o decodes (below, "content-length, as h2o decodes it"). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "h2guard.h"
#include "log.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <h2o/http1.h>
#include <h2o/cache_digests.h>
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
    /* an unknown frame longer than h2o's limit is left for h2o to refuse (FRAME_SIZE_ERROR) */
    HG_ASSERT(H2O_HTTP2_SETTINGS_HOST.max_frame_size == FRAMEBUDGET_MAX_FRAME_SIZE);
    framebudget_init(&g->budget, resets_per_second, h2o_now(ctx->ctx->loop));
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

/* The guard of req's connection, or NULL: not an HTTP/2 connection the guard accepted. */
static guard *guard_of(h2o_req_t *req)
{
    if (req->version < 0x200 || req->conn->callbacks->get_socket == NULL)
        return NULL;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->on_close.cb != on_socket_close)
        return NULL;
    return sock->on_close.data;
}

/* req's HTTP/2 stream id. h2o 2.2.5 tells it only to its loggers, in decimal (a printf into
 * the pool; http2_internal.h, which has it as a field, cannot be included without h2o's
 * sources). */
static uint32_t stream_id_of(h2o_req_t *req)
{
    HG_ASSERT(req->conn->callbacks->log_.http2.stream_id != NULL);
    h2o_iovec_t id = req->conn->callbacks->log_.http2.stream_id(req);
    uint32_t stream = 0;
    for (size_t i = 0; i < id.len; i++) {
        HG_ASSERT(id.base[i] >= '0' && id.base[i] <= '9' && stream <= (UINT32_MAX - 9) / 10);
        stream = stream * 10 + (uint32_t)(id.base[i] - '0');
    }
    return stream;
}

int h2guard_take_malformed(h2o_req_t *req)
{
    guard *g = guard_of(req);
    if (g == NULL || g->budget.malformed_count == 0)
        return 0; /* the usual case, without formatting the stream id */
    return framebudget_take_malformed(&g->budget, stream_id_of(req));
}

/* ---- content-length, as h2o decodes it ------------------------------------------------ *
 *
 * h2o 2.2.5's HPACK decoder, h2o_hpack_parse_headers, parses each content-length field of
 * a header block with h2o_strtosize into the one size_t it returns: of two different
 * values, only the last is left. hookgate defines both functions. libh2o calls its own
 * exported functions through its PLT, and the dynamic linker binds those calls to the
 * executable's definitions first (ELF symbol interposition, as for a malloc replacement),
 * so h2o's decoder calls these two, and they call libh2o's (dlsym RTLD_NEXT). While a
 * block is decoded on this thread, each value h2o_strtosize is given is compared with the
 * block's first; a block with two different values marks its stream's request malformed in
 * the guard's framebudget, and the handler answers it 400 (h2guard_take_malformed). A
 * block h2o does not decode (a stream it refuses after GOAWAY, say) is judged by nobody,
 * as it should be. h2guard_interposed tells whether the binding took (the server checks
 * it at start).
 *
 * This replaced a second HPACK decoder (nghttp2's inflater, fed every header block to keep
 * the same dynamic table as h2o's): about 3,900 instructions a request and up to 4 KiB a
 * connection. */
#define LENGTH_MAX 24 /* bytes of a content-length value kept to compare: 20 digits are SIZE_MAX already */

struct st_h2o_hpack_header_table_t; /* http2_internal.h's, which cannot be included (see above) */
int h2o_hpack_parse_headers(h2o_req_t *req, struct st_h2o_hpack_header_table_t *header_table, const uint8_t *src,
                            size_t len, int *pseudo_header_exists_map, size_t *content_length,
                            h2o_cache_digests_t **digests, const char **err_desc);
typedef int parse_headers_fn(h2o_req_t *, struct st_h2o_hpack_header_table_t *, const uint8_t *, size_t, int *,
                             size_t *, h2o_cache_digests_t **, const char **);
typedef size_t strtosize_fn(const char *, size_t);

/* The content-length values of the header block h2o is decoding on this thread. */
static __thread struct {
    int decoding;     /* inside h2o_hpack_parse_headers */
    int differ;       /* two different values so far */
    size_t first_len; /* SIZE_MAX: none yet; over LENGTH_MAX: too long to keep, so any second differs */
    char first[LENGTH_MAX];
} block;

/* libh2o's own definition of name (found once). */
static void *libh2o(_Atomic(void *) *found, const char *name)
{
    void *f = atomic_load_explicit(found, memory_order_relaxed);
    if (f == NULL) {
        f = dlsym(RTLD_NEXT, name);
        HG_ASSERT(f != NULL); /* libh2o-evloop defines both */
        atomic_store_explicit(found, f, memory_order_relaxed);
    }
    return f;
}

static _Atomic(void *) libh2o_strtosize, libh2o_parse_headers;

size_t h2o_strtosize(const char *s, size_t len)
{
    if (block.decoding) {
        if (block.first_len == SIZE_MAX) {
            block.first_len = len;
            if (len <= sizeof(block.first))
                memcpy(block.first, s, len);
        } else if (block.first_len > sizeof(block.first) || len != block.first_len ||
                   memcmp(s, block.first, len) != 0) {
            block.differ = 1;
        }
    }
    strtosize_fn *f;
    void *p = libh2o(&libh2o_strtosize, "h2o_strtosize");
    memcpy(&f, &p, sizeof(f)); /* POSIX: dlsym's object pointer is the function's */
    return f(s, len);
}

int h2o_hpack_parse_headers(h2o_req_t *req, struct st_h2o_hpack_header_table_t *header_table, const uint8_t *src,
                            size_t len, int *pseudo_header_exists_map, size_t *content_length,
                            h2o_cache_digests_t **digests, const char **err_desc)
{
    HG_ASSERT(!block.decoding); /* h2o decodes one block at a time */
    block.decoding = 1, block.differ = 0, block.first_len = SIZE_MAX;
    parse_headers_fn *f;
    void *p = libh2o(&libh2o_parse_headers, "h2o_hpack_parse_headers");
    memcpy(&f, &p, sizeof(f));
    int rc = f(req, header_table, src, len, pseudo_header_exists_map, content_length, digests, err_desc);
    block.decoding = 0;
    if (rc != 0 || !block.differ)
        return rc; /* (a refused block's request never reaches a handler) */
    guard *g = guard_of(req);
    if (g == NULL || framebudget_note_malformed(&g->budget, stream_id_of(req)) == 0)
        return 0;
    metrics_header_block_closed();
    log_error("closed an HTTP/2 connection: more than %d requests with two different content-length values waiting",
              FRAMEBUDGET_MAX_MALFORMED);
    return H2O_HTTP2_ERROR_PROTOCOL; /* h2o ends the connection (GOAWAY PROTOCOL_ERROR) */
}

/* ---- an answer's header block, as h2o encodes it --------------------------------------- *
 *
 * h2o 2.2.5's HPACK encoder adds every field it sends to the connection's dynamic table
 * (at most 32 entries, 4 KiB by default) and looks each field up in that table first,
 * entry by entry, comparing a name that is not one of its tokens byte by byte. A field
 * whose value is new in every answer (x-request-id; location, after a create) is then
 * never found again, and it keeps the table at its 32 entries, so that every field of
 * every answer is compared with all 32: about 4,000 instructions an answer. hookgate
 * defines h2o_hpack_flatten_response (bound as above; the stream code calls it for every
 * answer): it takes those fields out of the answer, lets libh2o's encoder write the rest,
 * and appends them to the same HEADERS frame as literals without indexing (RFC 7541
 * §6.2.2), their strings as they are: Huffman coding would save a fifth of these few
 * bytes for about 15 instructions each (RFC 7541 §5.2 leaves the choice to the encoder).
 * The answer's fields are put back as they were. A :status the static table lacks (201,
 * 405, ...) libh2o writes with sprintf, about 650 instructions; it is given 200 (one byte)
 * instead, and that byte is replaced by the literal. */
#define UNIQUE_MAX 4                  /* fields of an answer kept out of the table */
#define INT4_MAX_BYTES 6              /* an integer with a 4-bit prefix, up to 2^32 */
#define STRING_OVERHEAD 6             /* a string's length prefix, up to 2^32 */
#define FIXED_FIELDS_MAX 128          /* :status, date, content-length, frame header, as h2o reserves them */
#define STATUS_LITERAL_BYTES 5        /* :status as a literal without indexing, indexed name (RFC 7541 §6.2.2) */
#define STATUS_200_INDEXED 0x88       /* :status: 200, static table entry 8 (RFC 7541 §6.1, Appendix A) */
/* RFC 9113 §4.1 and §6.2 */
#define FRAME_HEADER_SIZE 9
#define FRAME_TYPE_HEADERS 1
#define FRAME_FLAG_END_HEADERS 0x4

void h2o_hpack_flatten_response(h2o_buffer_t **buf, struct st_h2o_hpack_header_table_t *header_table, uint32_t stream_id,
                                size_t max_frame_size, h2o_res_t *res, h2o_timestamp_t *ts, const h2o_iovec_t *server_name,
                                size_t content_length);
typedef void flatten_response_fn(h2o_buffer_t **, struct st_h2o_hpack_header_table_t *, uint32_t, size_t, h2o_res_t *,
                                 h2o_timestamp_t *, const h2o_iovec_t *, size_t);
static _Atomic(void *) libh2o_flatten_response;

/* 1 for a status HPACK's static table holds (RFC 7541 Appendix A, entries 8 to 14). */
static int status_is_indexed(int status)
{
    switch (status) {
    case 200: case 204: case 206: case 304: case 400: case 404: case 500:
        return 1;
    default:
        return 0;
    }
}

/* 1 for a field whose value is new in each answer. */
static int unique_per_answer(const h2o_header_t *h)
{
    return h->name == &H2O_TOKEN_LOCATION->buf || h2o_memis(h->name->base, h->name->len, H2O_STRLIT("x-request-id"));
}

/* value as an HPACK integer with a prefix of prefix_bits bits, after the first byte's flags
 * (RFC 7541 §5.1). */
static uint8_t *encode_int(uint8_t *dst, uint8_t flags, unsigned prefix_bits, uint32_t value)
{
    uint32_t max = (1u << prefix_bits) - 1;
    if (value < max) {
        *dst++ = (uint8_t)(flags | value);
        return dst;
    }
    *dst++ = (uint8_t)(flags | max);
    for (value -= max; value >= 128; value >>= 7)
        *dst++ = (uint8_t)(0x80 | (value & 0x7f));
    *dst++ = (uint8_t)value;
    return dst;
}

/* s as an HPACK string literal, not Huffman-coded (RFC 7541 §5.2: H is 0). */
static uint8_t *encode_raw_string(uint8_t *dst, const h2o_iovec_t *s)
{
    HG_ASSERT(s->len <= UINT32_MAX);
    dst = encode_int(dst, 0x00, 7, (uint32_t)s->len);
    memcpy(dst, s->base, s->len);
    return dst + s->len;
}

void h2o_hpack_flatten_response(h2o_buffer_t **buf, struct st_h2o_hpack_header_table_t *header_table, uint32_t stream_id,
                                size_t max_frame_size, h2o_res_t *res, h2o_timestamp_t *ts, const h2o_iovec_t *server_name,
                                size_t content_length)
{
    flatten_response_fn *f;
    void *p = libh2o(&libh2o_flatten_response, "h2o_hpack_flatten_response");
    memcpy(&f, &p, sizeof(f));

    /* The whole block must fit one frame for the fields to be appended to it; a block that
     * may not (far beyond any of hookgate's answers) is encoded by h2o alone. */
    size_t bound = FIXED_FIELDS_MAX + server_name->len, extra = 0;
    h2o_header_t unique[UNIQUE_MAX];
    size_t at[UNIQUE_MAX], n = 0;
    for (size_t i = 0; i < res->headers.size; i++) {
        const h2o_header_t *h = res->headers.entries + i;
        size_t cost = INT4_MAX_BYTES + 2 * STRING_OVERHEAD + h->name->len + h->value.len;
        bound += cost;
        if (n < UNIQUE_MAX && unique_per_answer(h))
            unique[n] = *h, at[n++] = i, extra += cost;
    }
    int status = res->status, status_literal = !status_is_indexed(status) && status >= 100 && status <= 999;
    if (status_literal)
        bound += STATUS_LITERAL_BYTES - 1, extra += STATUS_LITERAL_BYTES - 1;
    if ((n == 0 && !status_literal) || bound > max_frame_size) {
        f(buf, header_table, stream_id, max_frame_size, res, ts, server_name, content_length);
        return;
    }
    size_t kept = 0;
    for (size_t i = 0, u = 0; i < res->headers.size; i++) {
        if (u < n && at[u] == i)
            u++;
        else
            res->headers.entries[kept++] = res->headers.entries[i];
    }
    size_t size = res->headers.size;
    res->headers.size = kept;
    if (status_literal)
        res->status = 200;

    size_t start_at = (*buf)->size;
    f(buf, header_table, stream_id, max_frame_size, res, ts, server_name, content_length);
    res->status = status;
    size_t payload = (*buf)->size - start_at - FRAME_HEADER_SIZE;
    HG_ASSERT(payload + extra <= max_frame_size); /* one frame, END_HEADERS, with room for the rest */
    uint8_t *frame = (uint8_t *)(*buf)->bytes + start_at;
    HG_ASSERT(frame[3] == FRAME_TYPE_HEADERS && (frame[4] & FRAME_FLAG_END_HEADERS) != 0);

    uint8_t *dst = (uint8_t *)h2o_buffer_reserve(buf, extra).base, *start = dst;
    frame = (uint8_t *)(*buf)->bytes + start_at; /* the reserve may have moved the buffer */
    if (status_literal) {
        uint8_t *first = frame + FRAME_HEADER_SIZE;
        HG_ASSERT(payload > 0 && first[0] == STATUS_200_INDEXED); /* libh2o writes :status first */
        memmove(first + STATUS_LITERAL_BYTES, first + 1, payload - 1);
        first[0] = 0x08, first[1] = 3; /* name: static entry 8 (:status); value: 3 bytes, not Huffman-coded */
        first[2] = (uint8_t)('0' + status / 100), first[3] = (uint8_t)('0' + status / 10 % 10),
        first[4] = (uint8_t)('0' + status % 10);
        dst += STATUS_LITERAL_BYTES - 1;
        start = dst;
        (*buf)->size += STATUS_LITERAL_BYTES - 1;
        payload += STATUS_LITERAL_BYTES - 1;
    }
    for (size_t u = 0; u < n; u++) {
        const h2o_iovec_t *name = unique[u].name;
        if (h2o_iovec_is_token(name) && H2O_STRUCT_FROM_MEMBER(h2o_token_t, buf, name)->http2_static_table_name_index) {
            dst = encode_int(dst, 0x00, 4, H2O_STRUCT_FROM_MEMBER(h2o_token_t, buf, name)->http2_static_table_name_index);
        } else {
            *dst++ = 0x00; /* a literal name follows */
            dst = encode_raw_string(dst, name);
        }
        dst = encode_raw_string(dst, &unique[u].value);
    }
    (*buf)->size += (size_t)(dst - start);
    payload += (size_t)(dst - start);
    frame[0] = (uint8_t)(payload >> 16), frame[1] = (uint8_t)(payload >> 8), frame[2] = (uint8_t)payload;

    /* the answer's fields as they were */
    for (size_t i = size, u = n; i-- > 0;) {
        if (u > 0 && at[u - 1] == i)
            res->headers.entries[i] = unique[--u];
        else
            res->headers.entries[i] = res->headers.entries[--kept];
    }
    res->headers.size = size;
}

int h2guard_interposed(void)
{
    void *strtosize = (void *)h2o_strtosize, *parse_headers = (void *)h2o_hpack_parse_headers,
         *flatten_response = (void *)h2o_hpack_flatten_response;
    return dlsym(RTLD_DEFAULT, "h2o_strtosize") == strtosize &&
           dlsym(RTLD_DEFAULT, "h2o_hpack_parse_headers") == parse_headers &&
           dlsym(RTLD_DEFAULT, "h2o_hpack_flatten_response") == flatten_response &&
           libh2o(&libh2o_strtosize, "h2o_strtosize") != strtosize &&
           libh2o(&libh2o_parse_headers, "h2o_hpack_parse_headers") != parse_headers &&
           libh2o(&libh2o_flatten_response, "h2o_hpack_flatten_response") != flatten_response;
}
