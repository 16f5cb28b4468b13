/* Tests h2guard's cleartext accept path on an h2o event loop, over an AF_UNIX socketpair
 * (h2o 2.2.5 makes an h2o_socket_t only over a file descriptor): no listener, no network.
 * The server end goes to h2guard_accept as a just-accepted socket would; the test is the
 * client on the other end, writing raw bytes and reading the server's between loop runs.
 * The handler answers 200 with the HTTP version h2o saw, so the protocol a connection was
 * handed to shows in the answer.
 *
 * Checked: HTTP/1.1 bytes (also a request starting with "P", like the preface) are served
 * by h2o's HTTP/1.1; the prior-knowledge preface, whole or arriving in pieces, hands the
 * connection to h2o's HTTP/2, which answers a request; a connection that never completes
 * its preface is closed at http1.req_timeout; resets within the budget leave the connection
 * serving; a flood of HEADERS + RST_STREAM pairs over the budget gets the connection closed
 * (and counted in the metrics), and so does a header block of more CONTINUATION frames
 * than framebudget allows (one of exactly that many is served); requests with two
 * different content-length values, as h2o decodes them (literal, from HPACK's dynamic
 * table, in a padded block cut into CONTINUATION frames), are answered 400 by a handler
 * that asks h2guard_take_malformed, identical values are served, and more than
 * FRAMEBUDGET_MAX_MALFORMED of them waiting ends the connection; on_close runs once per
 * connection, and the guard is freed (valgrind, ASan). Over TLS (a certificate made in memory, an OpenSSL client pumped by
 * hand on the same socketpair): ALPN h2 goes to HTTP/2, ALPN http/1.1 or none to HTTP/1.1,
 * a flood is cut as on cleartext, and a client that never starts its handshake is closed
 * at handshake_timeout. A connection that sends only PINGs is closed by the guard's idle
 * timer, unless a request of its own is still being answered (h2guard_request_begin). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "framebudget.h"
#include "h2guard.h"
#include "metrics.h"
#include "requests_total.h"
#include "test.h"

#define PUMP_ROUNDS 400 /* evloop runs (of at most PUMP_MS each) an exchange may take: past HANDSHAKE_TIMEOUT_MS */
#define PUMP_MS 20
#define REQ_TIMEOUT_MS 1000 /* http1.req_timeout: also how long the guard waits for a preface */
/* handshake_timeout: under valgrind, with other tests running beside it, a TLS handshake
 * took more than a second on a loaded 2-core machine, so its limit is not REQ_TIMEOUT_MS */
#define HANDSHAKE_TIMEOUT_MS 5000
#define BUDGET 5            /* resets a second per connection */
#define FLOOD 200           /* HEADERS + RST_STREAM pairs of a flood: far over BUDGET */
#define IDLE_MS 1000        /* http2.idle_timeout of the PING test's server (the others keep h2o's 10 s) */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

typedef struct server {
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;     /* cleartext */
    h2o_accept_ctx_t tls_accept; /* TLS, ALPN offering h2 and http/1.1 */
    SSL_CTX *client_tls;
} server;

/* One connection as the client sees it. */
typedef struct conn {
    int fd;
    SSL *ssl; /* the client's TLS over fd, or NULL */
    int closed;     /* on_close calls */
    int eof;        /* the server's end is gone */
    char in[65536]; /* what the server sent */
    size_t in_len;
} conn;

static int hold_next; /* the next request is kept unanswered, as one waiting for the journal */
static h2o_req_t *held;
static unsigned answer_fields; /* answers carry fields as hookgate's do: x-request-id, location, content-type */
static size_t answer_big;      /* and, when not 0, a field of this many bytes */
static int answer_status;      /* when not 0, every answer's status */

/* The status of answer_fields' answer n: statuses HPACK's static table holds, and others. */
static int status_of(unsigned n)
{
    static const int statuses[] = {200, 201, 404, 405, 202, 429, 500, 999};
    return statuses[n % (sizeof statuses / sizeof statuses[0])];
}

static void answer(h2o_req_t *req)
{
    static const char h1[] = "HTTP/1.1", h2[] = "HTTP/2";
    const char *body = req->version >= 0x200 ? h2 : h1;
    req->res.status = answer_status != 0 ? answer_status : answer_fields ? status_of(answer_fields) : 200;
    req->res.reason = "OK";
    if (answer_fields) {
        char *id = h2o_mem_alloc_pool(&req->pool, 32), *location = h2o_mem_alloc_pool(&req->pool, 32);
        int id_len = snprintf(id, 32, "id-%08u", answer_fields), location_len = snprintf(location, 32, "/w/%u", answer_fields);
        answer_fields++;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id, (size_t)id_len);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, location, (size_t)location_len);
        if (answer_big != 0) {
            char *big = h2o_mem_alloc_pool(&req->pool, answer_big);
            memset(big, 'b', answer_big);
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-big"), 0, NULL, big, answer_big);
        }
    }
    req->res.content_length = strlen(body);
    h2o_send_inline(req, body, strlen(body));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    h2guard_request_begin(req); /* as the router does */
    if (h2guard_take_malformed(req)) { /* as the router does */
        req->res.status = 400;
        req->res.reason = "Bad Request";
        h2o_send_inline(req, H2O_STRLIT("malformed"));
        return 0;
    }
    if (hold_next) {
        hold_next = 0;
        held = req;
        return 0;
    }
    answer(req);
    return 0;
}

/* A server TLS context with a self-signed certificate made in memory (no file), ALPN as
 * the server registers it (h2o_alpn_protocols: h2, then http/1.1). */
static SSL_CTX *tls_server_create(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    CHECK(key != NULL && cert != NULL);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    CHECK(X509_sign(cert, key, EVP_sha256()) > 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    CHECK(ctx != NULL && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1);
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

static void server_init(server *s, uint64_t http2_idle_ms)
{
    memset(s, 0, sizeof(*s));
    h2o_config_init(&s->conf);
    s->conf.server_name = h2o_iovec_init(H2O_STRLIT(""));
    s->conf.http1.req_timeout = REQ_TIMEOUT_MS;
    s->conf.handshake_timeout = HANDSHAKE_TIMEOUT_MS;
    s->conf.http1.upgrade_to_http2 = 0; /* as h2guard.h requires */
    s->conf.http2.idle_timeout = http2_idle_ms;
    h2o_hostconf_t *host = h2o_config_register_host(&s->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;
    h2o_context_init(&s->ctx, h2o_evloop_create(), &s->conf);
    s->accept.ctx = &s->ctx;
    s->accept.hosts = s->conf.hosts;
    s->tls_accept = s->accept;
    s->tls_accept.ssl_ctx = tls_server_create();
    s->client_tls = SSL_CTX_new(TLS_client_method());
    CHECK(s->client_tls != NULL);
    SSL_CTX_set_verify(s->client_tls, SSL_VERIFY_NONE, NULL); /* the certificate is made up */
}

static void server_dispose(server *s)
{
    h2o_loop_t *loop = s->ctx.loop;
    h2o_multithread_queue_t *queue = s->ctx.queue;
    h2o_context_dispose(&s->ctx);
    free(queue); /* h2o 2.2.5's h2o_multithread_destroy_queue closes it but never frees it */
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    h2o_config_dispose(&s->conf);
    SSL_CTX_free(s->tls_accept.ssl_ctx);
    SSL_CTX_free(s->client_tls);
}

static void on_close(void *data)
{
    ((conn *)data)->closed++;
}

static void conn_accept(server *s, conn *c, h2o_accept_ctx_t *accept, unsigned budget)
{
    memset(c, 0, sizeof(*c));
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
    c->fd = fds[1];
    h2guard_accept(accept, h2o_evloop_socket_create(s->ctx.loop, fds[0], 0), budget, on_close, c);
}

static void conn_open(server *s, conn *c, unsigned budget)
{
    conn_accept(s, c, &s->accept, budget);
}

static void conn_send(conn *c, const void *bytes, size_t len)
{
    /* a socketpair holds far more than these tests send at once: a short write is a failure */
    if (c->ssl != NULL)
        CHECK(SSL_write(c->ssl, bytes, (int)len) == (int)len);
    else
        CHECK(write(c->fd, bytes, len) == (ssize_t)len);
}

/* One loop run, then whatever the server sent. */
static void pump_once(server *s, conn *c)
{
    h2o_evloop_run(s->ctx.loop, PUMP_MS);
    if (c->ssl != NULL) {
        int n = 0;
        while (c->in_len < sizeof(c->in) - 1 &&
               (n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof(c->in) - 1 - c->in_len))) > 0)
            c->in_len += (size_t)n;
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                c->eof = 1;
        }
        c->in[c->in_len] = '\0';
        return;
    }
    ssize_t n = -1;
    errno = EAGAIN;
    while (c->in_len < sizeof(c->in) - 1 && (n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len)) > 0)
        c->in_len += (size_t)n;
    if (n == 0 || (n < 0 && errno != EAGAIN))
        c->eof = 1;
    c->in[c->in_len] = '\0';
}

/* Pumps until done(c) or the server's end is gone; done's last value. */
static int pump(server *s, conn *c, int (*done)(const conn *))
{
    for (int round = 0; round < PUMP_ROUNDS && !done(c) && !c->eof; round++)
        pump_once(s, c);
    return done(c);
}

static int closed(const conn *c)
{
    return c->eof && c->closed > 0;
}

/* The client closes; the server notices on its next read. */
static void conn_close(server *s, conn *c)
{
    SSL_free(c->ssl);
    close(c->fd);
    for (int round = 0; round < PUMP_ROUNDS && c->closed == 0; round++)
        h2o_evloop_run(s->ctx.loop, PUMP_MS);
    CHECK(c->closed == 1);
}

/* ---- HTTP/2 frames --------------------------------------------------------------------- */

static size_t frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len)
{
    out[0] = (uint8_t)(len >> 16), out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
    out[3] = type, out[4] = flags;
    out[5] = (uint8_t)(stream >> 24 & 0x7f), out[6] = (uint8_t)(stream >> 16), out[7] = (uint8_t)(stream >> 8);
    out[8] = (uint8_t)stream;
    if (len > 0)
        memcpy(out + 9, payload, len);
    return 9 + len;
}

/* HEADERS (END_HEADERS | END_STREAM) for GET / (HPACK: static indexes and one literal). */
static size_t get(uint8_t *out, uint32_t stream)
{
    static const uint8_t block[] = "\x82\x86\x84\x01\x09localhost"; /* GET, http, /, :authority */
    return frame(out, 1, 0x5, stream, block, sizeof(block) - 1);
}

static size_t reset(uint8_t *out, uint32_t stream)
{
    static const uint8_t cancel[4] = {0, 0, 0, 8};
    return frame(out, 3, 0, stream, cancel, 4);
}

/* 1 when the server's frames (after its SETTINGS) hold a HEADERS for stream with :status
 * 200 (h2o sends it as static index 8) and DATA "HTTP/2" on it. */
static int answered_h2(const conn *c, uint32_t stream)
{
    const uint8_t *p = (const uint8_t *)c->in;
    size_t left = c->in_len;
    int status = 0, body = 0, first = 1;
    while (left >= 9) {
        size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        if (left < 9 + len)
            break;
        uint32_t id = (uint32_t)(p[5] & 0x7f) << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
        if (first && p[3] != 4)
            return 0; /* an HTTP/2 server speaks SETTINGS first */
        first = 0;
        if (id == stream && p[3] == 1 && len > 0 && p[9] == 0x88)
            status = 1;
        if (id == stream && p[3] == 0 && len == 6 && memcmp(p + 9, "HTTP/2", 6) == 0)
            body = 1;
        p += 9 + len, left -= 9 + len;
    }
    return status && body;
}

static int answered_h2_stream1(const conn *c)
{
    return answered_h2(c, 1);
}

static int answered_h2_stream11(const conn *c)
{
    return answered_h2(c, 2 * BUDGET + 1);
}

static int answered_h1(const conn *c)
{
    return strstr(c->in, "\r\n\r\nHTTP/1.1") != NULL;
}

/* ---- answers' header blocks ------------------------------------------------------------ */

static int nv_is(const nghttp2_nv *nv, const char *name)
{
    return nv->namelen == strlen(name) && memcmp(nv->name, name, nv->namelen) == 0;
}

/* One answer's fields, as nghttp2's decoder reads them. */
typedef struct decoded {
    uint32_t stream;
    char id[32], location[32];
    int content_type, status;
    size_t big; /* bytes of x-big, all 'b' */
} decoded;

/* Decodes every header block the server sent (HEADERS and its CONTINUATIONs) with one
 * nghttp2 decoder, as a client would: at most max answers into out; their number. The
 * decoder is left in *inflater for its dynamic table to be looked at. */
static size_t decode_answers(const conn *c, nghttp2_hd_inflater *inflater, decoded *out, size_t max)
{
    static uint8_t block[65536];
    size_t block_len = 0, answers = 0;
    const uint8_t *p = (const uint8_t *)c->in;
    size_t left = c->in_len;
    while (left >= 9) {
        size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        CHECK(left >= 9 + len);
        if (p[3] == 1 || p[3] == 9) { /* HEADERS, CONTINUATION: no padding or priority from h2o */
            CHECK(block_len + len <= sizeof(block));
            memcpy(block + block_len, p + 9, len);
            block_len += len;
        }
        if ((p[3] == 1 || p[3] == 9) && (p[4] & 0x4) != 0 && answers < max) {
            decoded *d = out + answers++;
            memset(d, 0, sizeof(*d));
            d->stream = (uint32_t)(p[5] & 0x7f) << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
            const uint8_t *in = block;
            size_t in_len = block_len;
            for (;;) {
                nghttp2_nv nv;
                int flags = 0;
                ssize_t used = nghttp2_hd_inflate_hd2(inflater, &nv, &flags, in, in_len, 1);
                CHECK(used >= 0);
                if (used < 0)
                    return answers; /* a block the decoder refuses ends the reading */
                in += used, in_len -= (size_t)used;
                if (flags & NGHTTP2_HD_INFLATE_EMIT) {
                    if (nv_is(&nv, "x-request-id") && nv.valuelen < sizeof(d->id))
                        memcpy(d->id, nv.value, nv.valuelen);
                    else if (nv_is(&nv, "location") && nv.valuelen < sizeof(d->location))
                        memcpy(d->location, nv.value, nv.valuelen);
                    else if (nv_is(&nv, "content-type"))
                        d->content_type = nv.valuelen == 10 && memcmp(nv.value, "text/plain", 10) == 0;
                    else if (nv_is(&nv, ":status"))
                        for (size_t k = 0; k < nv.valuelen; k++)
                            d->status = d->status * 10 + (nv.value[k] >= '0' && nv.value[k] <= '9' ? nv.value[k] - '0' : 1000);
                    else if (nv_is(&nv, "x-big"))
                        for (d->big = 0; d->big < nv.valuelen && nv.value[d->big] == 'b'; d->big++)
                            ;
                }
                if (flags & NGHTTP2_HD_INFLATE_FINAL) {
                    nghttp2_hd_inflate_end_headers(inflater);
                    break;
                }
                CHECK(used > 0 || (flags & NGHTTP2_HD_INFLATE_EMIT)); /* else a block cut short */
            }
            block_len = 0;
        }
        p += 9 + len, left -= 9 + len;
    }
    return answers;
}

static size_t answers_expected;
static int answered_all(const conn *c)
{
    size_t n = 0;
    const uint8_t *p = (const uint8_t *)c->in;
    size_t left = c->in_len;
    while (left >= 9) {
        size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        if (left < 9 + len)
            break;
        n += p[3] == 0 && (p[4] & 0x1) != 0; /* DATA with END_STREAM */
        p += 9 + len, left -= 9 + len;
    }
    return n == answers_expected;
}

/* Fields whose value is new in every answer (x-request-id, location) reach the client as
 * they were given, and stay out of HPACK's dynamic table (h2guard.c defines h2o's
 * h2o_hpack_flatten_response): after 40 answers the client's table holds only what repeats
 * (date, content-type). An answer too large for one frame goes through h2o's own encoder,
 * HEADERS and CONTINUATION, its fields the same. */
enum { ANSWERS = 40 };

/* Sends the preface, SETTINGS and GETs on streams 1, 3, ... (streams of them, at most
 * ANSWERS), waits for every answer and decodes them into d (room for max); how many it
 * decoded. *inflater is what decoded them (the caller deletes it). */
static size_t answers_to_gets(server *s, uint32_t streams, decoded *d, size_t max, nghttp2_hd_inflater **inflater)
{
    static uint8_t out[ANSWERS * 32 + 64];
    CHECK(streams <= ANSWERS);
    size_t n = sizeof(preface) - 1;
    memcpy(out, preface, n);
    n += frame(out + n, 4, 0, 0, NULL, 0); /* SETTINGS */
    for (uint32_t i = 0; i < streams; i++)
        n += get(out + n, 2 * i + 1);
    conn c;
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, n);
    answers_expected = streams;
    CHECK(pump(s, &c, answered_all));
    CHECK(nghttp2_hd_inflate_new(inflater) == 0);
    size_t got = decode_answers(&c, *inflater, d, max);
    conn_close(s, &c);
    return got;
}

static void test_answer_fields(server *s)
{
    enum { BIG = 20000 };
    static decoded d[ANSWERS + 1];
    nghttp2_hd_inflater *inflater;
    answer_fields = 1;
    CHECK(answers_to_gets(s, ANSWERS, d, ANSWERS + 1, &inflater) == ANSWERS);
    for (unsigned i = 0; i < ANSWERS; i++) {
        char id[32], location[32];
        snprintf(id, sizeof(id), "id-%08u", i + 1);
        snprintf(location, sizeof(location), "/w/%u", i + 1);
        CHECK(d[i].status == status_of(i + 1) && d[i].content_type);
        CHECK(strcmp(d[i].id, id) == 0 && strcmp(d[i].location, location) == 0);
    }
    /* the static table's 61 entries, then the dynamic ones: date and content-type */
    CHECK(nghttp2_hd_inflate_get_num_table_entries(inflater) <= 61 + 3);
    CHECK(nghttp2_hd_inflate_get_dynamic_table_size(inflater) < 256);
    nghttp2_hd_inflate_del(inflater);

    /* one answer past a frame: h2o's encoder alone */
    answer_fields = 1, answer_big = BIG;
    CHECK(answers_to_gets(s, 1, d, ANSWERS, &inflater) == 1);
    CHECK(d[0].status == status_of(1) && d[0].content_type && d[0].big == BIG);
    CHECK(strcmp(d[0].id, "id-00000001") == 0 && strcmp(d[0].location, "/w/1") == 0);
    nghttp2_hd_inflate_del(inflater);
    answer_fields = 0, answer_big = 0;

    /* a status the static table lacks, on an answer with no field of its own */
    answer_status = 201;
    CHECK(answers_to_gets(s, 2, d, ANSWERS, &inflater) == 2);
    CHECK(d[0].status == 201 && d[1].status == 201 && d[0].id[0] == '\0' && !d[0].content_type);
    nghttp2_hd_inflate_del(inflater);
    answer_status = 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_http1(server *s)
{
    static const char *requests[] = {
        "GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        /* its first byte is the preface's */
        "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        /* as many bytes as a preface, nothing like one */
        "GET /a-path-long-enough-to-pass-24-bytes HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        conn c;
        conn_open(s, &c, BUDGET);
        conn_send(&c, requests[i], strlen(requests[i]));
        CHECK(pump(s, &c, answered_h1));
        CHECK(strncmp(c.in, "HTTP/1.1 200 OK\r\n", 17) == 0);
        CHECK(pump(s, &c, closed)); /* Connection: close */
        CHECK(c.closed == 1);
        close(c.fd);
    }

    /* one byte at a time: the guard decides on the first, h2o's HTTP/1.1 waits for the rest */
    static const char slow[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    conn c;
    conn_open(s, &c, BUDGET);
    for (size_t i = 0; i < sizeof(slow) - 1; i++) {
        conn_send(&c, slow + i, 1);
        h2o_evloop_run(s->ctx.loop, 0);
    }
    CHECK(pump(s, &c, answered_h1));
    CHECK(pump(s, &c, closed));
    close(c.fd);
}

static void test_http2(server *s)
{
    uint8_t out[512];
    size_t n = 0;
    memcpy(out, preface, sizeof(preface) - 1);
    n += sizeof(preface) - 1;
    n += frame(out + n, 4, 0, 0, NULL, 0); /* SETTINGS */
    n += get(out + n, 1);

    conn c;
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, n);
    CHECK(pump(s, &c, answered_h2_stream1));
    CHECK(!c.eof && c.closed == 0);
    conn_close(s, &c);

    /* the preface in pieces (the guard waits for all 24 bytes), then the rest */
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, 3);
    pump_once(s, &c);
    conn_send(&c, out + 3, 15);
    pump_once(s, &c);
    CHECK(c.in_len == 0 && !c.eof); /* nothing said yet: neither HTTP/1.1 nor HTTP/2 */
    conn_send(&c, out + 18, n - 18);
    CHECK(pump(s, &c, answered_h2_stream1));
    conn_close(s, &c);
}

/* A client that sends part of the preface and stops is closed at http1.req_timeout. */
static void test_preface_timeout(server *s)
{
    conn c;
    conn_open(s, &c, BUDGET);
    conn_send(&c, preface, 10);
    CHECK(pump(s, &c, closed));
    CHECK(c.in_len == 0 && c.closed == 1);
    close(c.fd);
}

/* Sends a PING every PUMP_MS or so, running the loop in between, for ms milliseconds of
 * the loop's clock or until the server's end is gone. */
static void ping_for(server *s, conn *c, uint64_t ms)
{
    uint8_t ping[32];
    size_t n = frame(ping, 6, 0, 0, "12345678", 8);
    h2o_evloop_t *loop = s->ctx.loop;
    uint64_t end = h2o_now(loop) + ms;
    while (!c->eof && h2o_now(loop) < end) {
        conn_send(c, ping, n);
        uint64_t next = h2o_now(loop) + PUMP_MS;
        while (!c->eof && h2o_now(loop) < next)
            pump_once(s, c);
    }
}

/* Runs the loop until the server has closed its end (it may see the end of its input a
 * round after the client saw the server's). */
static void settle(server *s, conn *c)
{
    for (int round = 0; round < PUMP_ROUNDS && c->closed == 0; round++)
        h2o_evloop_run(s->ctx.loop, PUMP_MS);
}

/* HTTP/2's idle timer counts frames of a request only: a connection that sends PINGs and
 * nothing else is closed within two idle timeouts (h2o's own timer, restarted by every
 * read, would keep it), unless a request of its own is still being answered. */
static void test_pings_are_not_activity(server *s)
{
    enum { LONG = 3 * IDLE_MS }; /* past two idle timeouts, the most the guard's timer takes */
    uint8_t out[512];
    size_t n = 0;
    memcpy(out, preface, sizeof(preface) - 1);
    n += sizeof(preface) - 1;
    n += frame(out + n, 4, 0, 0, NULL, 0); /* SETTINGS */
    n += get(out + n, 1);
    conn c;
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, n);
    CHECK(pump(s, &c, answered_h2_stream1));
    ping_for(s, &c, LONG);
    settle(s, &c);
    CHECK(closed(&c));
    close(c.fd);

    /* a request being answered keeps its connection, however long; its answer ends that */
    conn_open(s, &c, BUDGET);
    hold_next = 1;
    conn_send(&c, out, n);
    ping_for(s, &c, LONG);
    CHECK(held != NULL);
    CHECK(!c.eof && c.closed == 0);
    if (held != NULL)
        answer(held);
    held = NULL, hold_next = 0;
    CHECK(pump(s, &c, answered_h2_stream1));
    ping_for(s, &c, LONG);
    settle(s, &c);
    CHECK(closed(&c));
    close(c.fd);
}

static unsigned long long reset_floods(void)
{
    return metrics_series("hookgate_connections_reset_flood_total");
}

static void test_resets(server *s)
{
    static uint8_t out[64 + FLOOD * 64];
    size_t n = 0;
    memcpy(out, preface, sizeof(preface) - 1);
    n += sizeof(preface) - 1;
    n += frame(out + n, 4, 0, 0, NULL, 0);
    size_t head = n;

    /* within the budget: the connection goes on serving */
    unsigned long long floods = reset_floods();
    for (uint32_t i = 0; i < BUDGET; i++) {
        n += get(out + n, 2 * i + 1);
        n += reset(out + n, 2 * i + 1);
    }
    n += get(out + n, 2 * BUDGET + 1);
    conn c;
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, n);
    CHECK(pump(s, &c, answered_h2_stream11));
    CHECK(!c.eof && c.closed == 0);
    CHECK(reset_floods() == floods);
    conn_close(s, &c);

    /* a flood: closed, however much it sent, and counted */
    n = head;
    for (uint32_t i = 0; i < FLOOD; i++) {
        n += get(out + n, 2 * i + 1);
        n += reset(out + n, 2 * i + 1);
    }
    CHECK(n <= sizeof(out));
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, n);
    CHECK(pump(s, &c, closed));
    CHECK(c.closed == 1);
    CHECK(reset_floods() == floods + 1);
    close(c.fd);

    /* the same pairs arriving one write at a time are cut as well */
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, head);
    for (uint32_t i = 0; i < FLOOD && !c.eof; i++) {
        uint8_t pair[64];
        size_t m = get(pair, 2 * i + 1);
        m += reset(pair + m, 2 * i + 1);
        if (write(c.fd, pair, m) != (ssize_t)m)
            break; /* the server end is gone */
        pump_once(s, &c);
    }
    CHECK(pump(s, &c, closed));
    CHECK(reset_floods() == floods + 2);
    close(c.fd);
}

/* A header block of more CONTINUATION frames than FRAMEBUDGET_MAX_CONTINUATIONS (h2o
 * 2.2.5 would take them without end): closed and counted; one of exactly that many is
 * served. */
static void test_continuations(server *s)
{
    static const uint8_t block[] = "\x82\x86\x84\x01\x09localhost";
    static uint8_t out[1024];
    unsigned long long floods = metrics_series("hookgate_connections_continuation_flood_total");
    for (int over = 0; over < 2; over++) {
        size_t n = 0;
        memcpy(out, preface, sizeof(preface) - 1);
        n += sizeof(preface) - 1;
        n += frame(out + n, 4, 0, 0, NULL, 0);
        n += frame(out + n, 1, 0x1, 1, block, sizeof(block) - 1); /* HEADERS, END_STREAM, no END_HEADERS */
        int frames = FRAMEBUDGET_MAX_CONTINUATIONS + over;
        for (int i = 0; i < frames; i++) /* empty CONTINUATIONs, the last one ending the block */
            n += frame(out + n, 9, i == frames - 1 ? 0x4 : 0, 1, NULL, 0);
        CHECK(n <= sizeof(out));
        conn c;
        conn_open(s, &c, BUDGET);
        conn_send(&c, out, n);
        if (over) {
            CHECK(pump(s, &c, closed));
            CHECK(c.closed == 1);
            close(c.fd);
        } else {
            CHECK(pump(s, &c, answered_h2_stream1));
            conn_close(s, &c);
        }
    }
    CHECK(metrics_series("hookgate_connections_continuation_flood_total") == floods + 1);
}

/* The first byte of the server's HEADERS on stream (0x88: :status 200, 0x8c: 400, from
 * HPACK's static table), or -1 when it has sent none. */
static int status_byte(const conn *c, uint32_t stream)
{
    const uint8_t *p = (const uint8_t *)c->in;
    size_t left = c->in_len;
    while (left >= 9) {
        size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        if (left < 9 + len)
            break;
        uint32_t id = (uint32_t)(p[5] & 0x7f) << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
        if (id == stream && p[3] == 1 && len > 0)
            return p[9];
        p += 9 + len, left -= 9 + len;
    }
    return -1;
}

static int answered_h2_stream13(const conn *c)
{
    return status_byte(c, 13) != -1;
}

static int answered_h2_stream101(const conn *c)
{
    return answered_h2(c, 101);
}

/* Requests with two different content-length values, as h2o decodes them (h2guard.c sees
 * each value h2o parses): answered 400 by the handler (h2guard_take_malformed), the
 * connection's other requests served; identical values are served; values the client put
 * in HPACK's dynamic table and sends again as indexes are judged as h2o reads them; a
 * block padded, with a priority, and cut into HEADERS + CONTINUATION is judged whole. */
static void test_content_length(server *s)
{
    static uint8_t out[2048];
    size_t n = 0;
    memcpy(out, preface, sizeof(preface) - 1);
    n += sizeof(preface) - 1;
    n += frame(out + n, 4, 0, 0, NULL, 0);
#define GET_BLOCK "\x82\x86\x84\x01\x09localhost"      /* GET, http, /, :authority */
#define LENGTH(digit) "\x0f\x0d\x01" digit            /* content-length (static 28), not indexed */
#define LENGTH_INDEXED(digit) "\x5c\x01" digit         /* the same, put in the dynamic table */
    static const struct {
        uint32_t stream;
        const char *block;
        size_t len;
        int status;
    } requests[] = {
#define REQUEST(stream, block, status) {stream, block, sizeof(block) - 1, status}
        REQUEST(1, GET_BLOCK LENGTH("5") LENGTH("6"), 0x8c),
        REQUEST(3, GET_BLOCK LENGTH("5") LENGTH("5"), 0x88),
        REQUEST(5, GET_BLOCK LENGTH("7"), 0x88),
        REQUEST(7, GET_BLOCK LENGTH_INDEXED("5") LENGTH_INDEXED("6"), 0x8c),
        REQUEST(9, GET_BLOCK "\xbe\xbe", 0x88),  /* index 62 (the newest entry, "6") twice */
        REQUEST(11, GET_BLOCK "\xbe\xbf", 0x8c), /* 62 and 63: "6" and "5" */
#undef REQUEST
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        n += frame(out + n, 1, 0x5, requests[i].stream, requests[i].block, requests[i].len);
    /* stream 13: padded (3 bytes), with a priority, cut into HEADERS + 2 CONTINUATIONs */
    static const uint8_t cut[] = GET_BLOCK LENGTH("1") "\x0f\x0d\x02" "10";
    uint8_t first[3 + 1 + 5 + 2] = {3, 0, 0, 0, 0, 0}; /* pad length, priority */
    memcpy(first + 6, cut, 2);
    memset(first + 8, 0, 3); /* the padding */
    n += frame(out + n, 1, 0x1 | 0x8 | 0x20, 13, first, sizeof(first));
    n += frame(out + n, 9, 0, 13, cut + 2, 5);
    n += frame(out + n, 9, 0x4, 13, cut + 7, sizeof(cut) - 1 - 7);
    CHECK(n <= sizeof(out));
    conn c;
    conn_open(s, &c, BUDGET);
    conn_send(&c, out, n);
    CHECK(pump(s, &c, answered_h2_stream13));
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        if (status_byte(&c, requests[i].stream) != requests[i].status)
            fprintf(stderr, "  stream %u: status byte %d\n", requests[i].stream, status_byte(&c, requests[i].stream));
        CHECK(status_byte(&c, requests[i].stream) == requests[i].status);
    }
    CHECK(status_byte(&c, 13) == 0x8c);
    CHECK(!c.eof);
    conn_close(s, &c);

    /* such requests whose handler cannot run yet (their bodies are still to come): the one
     * over FRAMEBUDGET_MAX_MALFORMED waiting ends the connection */
    static const uint8_t two[] = GET_BLOCK LENGTH("5") LENGTH("6");
    unsigned long long closed_before = metrics_series("hookgate_connections_header_block_closed_total");
    for (int over = 0; over < 2; over++) {
        n = sizeof(preface) - 1;
        n += frame(out + n, 4, 0, 0, NULL, 0);
        for (uint32_t i = 0; i < FRAMEBUDGET_MAX_MALFORMED + (uint32_t)over; i++)
            n += frame(out + n, 1, 0x4, 1 + 2 * i, two, sizeof(two) - 1); /* END_HEADERS, no END_STREAM */
        n += get(out + n, 101);
        CHECK(n <= sizeof(out));
        conn_open(s, &c, BUDGET);
        conn_send(&c, out, n);
        if (over) {
            CHECK(pump(s, &c, closed));
            CHECK(status_byte(&c, 101) == -1);
            close(c.fd);
        } else {
            CHECK(pump(s, &c, answered_h2_stream101));
            conn_close(s, &c);
        }
    }
    CHECK(metrics_series("hookgate_connections_header_block_closed_total") == closed_before + 1);
#undef GET_BLOCK
#undef LENGTH
#undef LENGTH_INDEXED
}

/* ---- TLS ------------------------------------------------------------------------------- */

/* A connection to the TLS accept path, the client offering alpn (wire format; NULL: no
 * ALPN); 1 once the handshake is done. */
static int tls_open(server *s, conn *c, const char *alpn, size_t alpn_len, unsigned budget)
{
    conn_accept(s, c, &s->tls_accept, budget);
    c->ssl = SSL_new(s->client_tls);
    CHECK(c->ssl != NULL && SSL_set_fd(c->ssl, c->fd) == 1);
    if (alpn != NULL)
        CHECK(SSL_set_alpn_protos(c->ssl, (const unsigned char *)alpn, (unsigned)alpn_len) == 0);
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 1;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return 0;
        h2o_evloop_run(s->ctx.loop, PUMP_MS);
    }
    return 0;
}

static void tls_end(conn *c)
{
    SSL_free(c->ssl);
    close(c->fd);
}

static void test_tls(server *s)
{
    static const char get_h1[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    uint8_t h2[512];
    size_t n = 0;
    memcpy(h2, preface, sizeof(preface) - 1);
    n += sizeof(preface) - 1;
    n += frame(h2 + n, 4, 0, 0, NULL, 0);
    size_t head = n;
    n += get(h2 + n, 1);

    /* ALPN h2: h2o's HTTP/2 */
    conn c;
    CHECK(tls_open(s, &c, "\x02h2", 3, BUDGET));
    const unsigned char *chosen = NULL;
    unsigned chosen_len = 0;
    SSL_get0_alpn_selected(c.ssl, &chosen, &chosen_len);
    CHECK(chosen_len == 2 && memcmp(chosen, "h2", 2) == 0);
    conn_send(&c, h2, n);
    CHECK(pump(s, &c, answered_h2_stream1));
    conn_close(s, &c);

    /* ALPN http/1.1, or none: h2o's HTTP/1.1 */
    for (int alpn = 0; alpn < 2; alpn++) {
        CHECK(tls_open(s, &c, alpn ? "\x08http/1.1" : NULL, alpn ? 9 : 0, BUDGET));
        conn_send(&c, get_h1, sizeof(get_h1) - 1);
        CHECK(pump(s, &c, answered_h1));
        CHECK(strncmp(c.in, "HTTP/1.1 200 OK\r\n", 17) == 0);
        CHECK(pump(s, &c, closed));
        CHECK(c.closed == 1);
        tls_end(&c);
    }

    /* a reset flood over TLS is cut as on cleartext */
    static uint8_t flood[64 + FLOOD * 64];
    memcpy(flood, h2, head);
    n = head;
    for (uint32_t i = 0; i < FLOOD; i++) {
        n += get(flood + n, 2 * i + 1);
        n += reset(flood + n, 2 * i + 1);
    }
    unsigned long long floods = reset_floods();
    CHECK(tls_open(s, &c, "\x02h2", 3, BUDGET));
    conn_send(&c, flood, n);
    CHECK(pump(s, &c, closed));
    CHECK(c.closed == 1);
    CHECK(reset_floods() == floods + 1);
    tls_end(&c);

    /* a client that never starts its handshake is closed at handshake_timeout */
    conn_accept(s, &c, &s->tls_accept, BUDGET);
    CHECK(pump(s, &c, closed));
    CHECK(c.in_len == 0 && c.closed == 1);
    close(c.fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the server: a write to a closed peer is an error, not a signal */
    server s;
    server_init(&s, H2O_DEFAULT_HTTP2_IDLE_TIMEOUT);
    test_http1(&s);
    test_http2(&s);
    test_preface_timeout(&s);
    test_resets(&s);
    test_continuations(&s);
    CHECK(h2guard_interposed()); /* else h2o's decoder would not show the guard its content-lengths */
    test_content_length(&s);
    test_answer_fields(&s);
    test_tls(&s);
    server_dispose(&s);
    /* its own server: a short HTTP/2 idle timeout would cut the others' slow TLS handshakes
     * under valgrind */
    server_init(&s, IDLE_MS);
    test_pings_are_not_activity(&s);
    server_dispose(&s);
    return test_exit_code();
}
