/* Tests grpc (native gRPC over nghttp2) with an nghttp2 client session in this process:
 * the client's bytes (nghttp2_session_mem_send) go to grpc.c and its answer back to
 * nghttp2_session_mem_recv, with the event loop run in between. No listener, no network.
 *
 * grpc.c reads and writes through an h2o_socket_t (that is how it gets TLS and the event
 * loop), and h2o 2.2.5 can only make one over a file descriptor: the server end is one
 * side of an AF_UNIX socketpair, the client end is the test's, pumped by hand.
 *
 * Checked: a create answered with headers, one length-prefixed message and grpc-status 0
 * in trailers; trailers-only errors (unknown method, unauthenticated) with grpc-message;
 * 415 for a request that is not gRPC; and, with a journal, a create answered from the
 * writer's thread and one whose stream the client reset before the answer came back.
 * From raw frames: a HEADERS frame whose stream id goes back below one the client used ends
 * the connection with GOAWAY PROTOCOL_ERROR (counted), while ids going up and trailers on
 * an open stream leave it serving; two content-length values reset the stream. Deadlines
 * (grpc-timeout): a body that never ends, a deadline already passed, malformed values, and
 * creates whose deadline passes while the journal's writer has them. */
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "codec_grpc.h"
#include "core_fixture.h"
#include "grpc.h"
#include "requests_total.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"
#define SERVICE "/droplit.webhooks.v1.WebhookService/"
#define PUMP_ROUNDS 500 /* loop runs a call may take */
#define PUMP_MS 20

static const char yaml_base[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                                "accounts:\n"
                                "  - id: acme\n"
                                "    tokens: [ " TOKEN " ]\n"
                                "    ecosystems: [ { id: " ECO " } ]\n";

/* The server side: a core, an event loop with its queue, and grpc's context on it. */
typedef struct server {
    core *core;
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    grpc_context grpc;
} server;

/* One call as the client sees it. */
typedef struct call {
    int32_t stream_id;
    char status[8], grpc_status[8], grpc_message[256], content_type[64];
    int in_trailers; /* grpc-status came after the data (not trailers-only) */
    uint8_t body[4096];
    size_t body_len;
    int closed;
    uint32_t close_code;
} call;

/* The client: an nghttp2 session whose bytes travel over fd. */
typedef struct client {
    nghttp2_session *session;
    int fd;
    server *s;
} client;

/* ---- server ---------------------------------------------------------------------------- */

static int server_init(server *s, const char *yaml)
{
    memset(s, 0, sizeof(*s));
    if ((s->core = core_fixture_open(yaml)) == NULL)
        return -1;
    s->loop = h2o_evloop_create();
    s->queue = h2o_multithread_create_queue(s->loop);
    grpc_context_init(&s->grpc, s->core, s->loop, s->queue);
    return 0;
}

/* Runs the loop until answers posted to grpc's receiver are taken. */
static int server_drain(server *s)
{
    for (int round = 0; !h2o_linklist_is_empty(&s->grpc.receiver._messages) && round < PUMP_ROUNDS; round++)
        h2o_evloop_run(s->loop, PUMP_MS);
    return h2o_linklist_is_empty(&s->grpc.receiver._messages) ? 0 : -1;
}

static void server_dispose(server *s)
{
    core_destroy(s->core); /* every call its store holds is answered first */
    CHECK(server_drain(s) == 0);
    grpc_context_dispose(&s->grpc, s->loop, s->queue);
    h2o_multithread_destroy_queue(s->queue);
    free(s->queue); /* h2o 2.2.5's destroy closes the queue but does not free it */
    h2o_evloop_run(s->loop, 0); /* frees the sockets closed above */
    h2o_evloop_destroy(s->loop);
}

/* ---- client ---------------------------------------------------------------------------- */

static void copy(char *dst, size_t cap, const uint8_t *v, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)flags, (void)user_data;
    call *c = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (c == NULL)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        copy(c->status, sizeof(c->status), value, valuelen);
    else if (namelen == 12 && memcmp(name, "content-type", 12) == 0)
        copy(c->content_type, sizeof(c->content_type), value, valuelen);
    else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        copy(c->grpc_status, sizeof(c->grpc_status), value, valuelen);
        c->in_trailers = frame->headers.cat == NGHTTP2_HCAT_HEADERS;
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
        copy(c->grpc_message, sizeof(c->grpc_message), value, valuelen);
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                   void *user_data)
{
    (void)flags, (void)user_data;
    call *c = nghttp2_session_get_stream_user_data(session, stream_id);
    if (c != NULL && c->body_len + len <= sizeof(c->body)) {
        memcpy(c->body + c->body_len, data, len);
        c->body_len += len;
    }
    return 0;
}

static int on_close(nghttp2_session *session, int32_t stream_id, uint32_t code, void *user_data)
{
    (void)user_data;
    call *c = nghttp2_session_get_stream_user_data(session, stream_id);
    if (c != NULL)
        c->closed = 1, c->close_code = code;
    return 0;
}

static int client_open(client *cl, server *s)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
    cl->fd = fds[1];
    cl->s = s;
    grpc_accept(&s->grpc, h2o_evloop_socket_create(s->loop, fds[0], 0), NULL);

    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int rc = nghttp2_session_client_new(&cl->session, cb, cl);
    nghttp2_session_callbacks_del(cb);
    CHECK(rc == 0);
    CHECK(nghttp2_submit_settings(cl->session, NGHTTP2_FLAG_NONE, NULL, 0) == 0);
    return rc;
}

/* Moves bytes both ways once: the client's out to the server, the loop once, the
 * server's out into the client. */
static void pump_once(client *cl)
{
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(cl->session, &data)) > 0) {
        /* a socketpair holds far more than these tests send: a short write is a failure */
        CHECK(write(cl->fd, data, (size_t)n) == n);
    }
    h2o_evloop_run(cl->s->loop, PUMP_MS);
    uint8_t buf[16384];
    while ((n = read(cl->fd, buf, sizeof(buf))) > 0)
        CHECK(nghttp2_session_mem_recv(cl->session, buf, (size_t)n) == n);
}

/* Pumps until c's stream is closed. */
static void pump_until_closed(client *cl, call *c)
{
    for (int round = 0; !c->closed && round < PUMP_ROUNDS; round++)
        pump_once(cl);
    CHECK(c->closed);
}

static void client_close(client *cl)
{
    nghttp2_session_del(cl->session);
    close(cl->fd);
    /* the server reads the end of the stream and closes its side */
    for (int round = 0; !h2o_linklist_is_empty(&cl->s->grpc.connections) && round < PUMP_ROUNDS; round++)
        h2o_evloop_run(cl->s->loop, PUMP_MS);
    CHECK(h2o_linklist_is_empty(&cl->s->grpc.connections));
}

typedef struct body_source {
    const uint8_t *data;
    size_t len, sent;
} body_source;

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)session, (void)stream_id, (void)user_data;
    body_source *b = source->ptr;
    size_t n = b->len - b->sent < length ? b->len - b->sent : length;
    memcpy(buf, b->data + b->sent, n);
    b->sent += n;
    if (b->sent == b->len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE}

/* Starts a call of path whose message is frame[CODEC_GRPC_FRAME_HEADER, +n) (framed
 * here); token NULL = no authorization. */
static void call_start_framed(client *cl, call *c, body_source *b, const char *path, const char *content_type,
                              const char *token, uint8_t *frame, size_t n)
{
    memset(c, 0, sizeof(*c));
    codec_grpc_frame_header(frame, 0, n);
    *b = (body_source){frame, n + CODEC_GRPC_FRAME_HEADER, 0};
    nghttp2_nv hdrs[] = {NV(":method", "POST"),        NV(":scheme", "http"), NV(":path", path),
                         NV(":authority", "localhost"), NV("te", "trailers"),  NV("content-type", content_type),
                         NV("authorization", token != NULL ? token : "")};
    nghttp2_data_provider provider = {.source.ptr = b, .read_callback = read_body};
    c->stream_id = nghttp2_submit_request(cl->session, NULL, hdrs, token != NULL ? 7 : 6, &provider, c);
    CHECK(c->stream_id > 0);
}

/* Starts a call of path with msg in protobuf (framed here, in frame). */
static void call_start(client *cl, call *c, body_source *b, const char *path, const char *content_type,
                       const char *token, const ProtobufCMessage *msg, uint8_t *frame, size_t cap)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    CHECK(n + CODEC_GRPC_FRAME_HEADER <= cap);
    protobuf_c_message_pack(msg, frame + CODEC_GRPC_FRAME_HEADER);
    call_start_framed(cl, c, b, path, content_type, token, frame, n);
}

/* Starts a call of path with json as its message (framed here, in frame). */
static void call_start_json(client *cl, call *c, body_source *b, const char *path, const char *content_type,
                            const char *json, uint8_t *frame, size_t cap)
{
    size_t n = strlen(json);
    CHECK(n + CODEC_GRPC_FRAME_HEADER <= cap);
    memcpy(frame + CODEC_GRPC_FRAME_HEADER, json, n);
    call_start_framed(cl, c, b, path, content_type, TOKEN, frame, n);
}

static schema_create_request create_request(void)
{
    schema_create_request r = SCHEMA_CREATE_REQUEST_INIT;
    r.ecosystem_id = ECO;
    r.url = "https://example.com/grpc";
    return r;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_calls(server *s)
{
    client cl;
    if (client_open(&cl, s) != 0)
        return;
    uint8_t frame[512];
    body_source b;
    call c;

    schema_create_request cr = create_request();
    call_start(&cl, &c, &b, SERVICE "CreateWebhook", "application/grpc", TOKEN, &cr.base, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.status, "200");
    CHECK_STR(c.content_type, "application/grpc");
    CHECK_STR(c.grpc_status, "0");
    CHECK(c.in_trailers);
    CHECK(c.close_code == NGHTTP2_NO_ERROR);
    CHECK(c.body_len > CODEC_GRPC_FRAME_HEADER && c.body[0] == 0);
    schema_webhook *w = (schema_webhook *)protobuf_c_message_unpack(
        &schema_webhook_descriptor, NULL, c.body_len - CODEC_GRPC_FRAME_HEADER, c.body + CODEC_GRPC_FRAME_HEADER);
    CHECK(w != NULL && strcmp(w->url, "https://example.com/grpc") == 0);
    if (w != NULL)
        protobuf_c_message_free_unpacked(&w->base, NULL);
    CHECK(core_fixture_stored(s->core) == 1);

    /* on the same connection: errors are trailers-only */
    call_start(&cl, &c, &b, SERVICE "Nope", "application/grpc+proto", TOKEN, &cr.base, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.status, "200");
    CHECK_STR(c.grpc_status, "12");
    CHECK(!c.in_trailers && c.body_len == 0);
    CHECK(strstr(c.grpc_message, "Unknown method") != NULL);

    call_start(&cl, &c, &b, SERVICE "CreateWebhook", "application/grpc", NULL, &cr.base, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.grpc_status, "16");
    CHECK(core_fixture_stored(s->core) == 1);

    /* application/grpc+json: the frame holds the proto3 JSON of the message, the answer's too,
     * and the answer's content type is the request's; so are a JSON problem's */
    call_start_json(&cl, &c, &b, SERVICE "CreateWebhook", "application/grpc+json; charset=utf-8",
                    "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/json\"}", frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.status, "200");
    CHECK_STR(c.content_type, "application/grpc+json");
    CHECK_STR(c.grpc_status, "0");
    CHECK(c.body_len > CODEC_GRPC_FRAME_HEADER && c.body[0] == 0 && c.body[CODEC_GRPC_FRAME_HEADER] == '{');
    CHECK(c.body_len < sizeof(c.body) &&
          strstr((const char *)c.body + CODEC_GRPC_FRAME_HEADER, "\"url\":\"https://example.com/json\"") != NULL);
    CHECK(core_fixture_stored(s->core) == 2);
    call_start_json(&cl, &c, &b, SERVICE "GetWebhook", "application/grpc+json", "{\"id\":5}", frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.content_type, "application/grpc+json");
    CHECK_STR(c.grpc_status, "3");
    CHECK(strstr(c.grpc_message, "id: must be a string") != NULL);
    call_start_json(&cl, &c, &b, SERVICE "GetWebhook", "application/grpc+json", "{", frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.grpc_status, "3");
    CHECK(strstr(c.grpc_message, "InvalidBody") != NULL);
    /* +proto is answered as +proto */
    call_start(&cl, &c, &b, SERVICE "CreateWebhook", "application/grpc+proto", NULL, &cr.base, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.content_type, "application/grpc+proto");
    CHECK_STR(c.grpc_status, "16");

    /* not gRPC at all: HTTP 415, no grpc-status */
    call_start(&cl, &c, &b, SERVICE "CreateWebhook", "application/json", TOKEN, &cr.base, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.status, "415");
    CHECK_STR(c.grpc_status, "");
    client_close(&cl);
}

/* With a journal: a create waits for the writer and is answered through the loop's queue;
 * a create whose stream the client resets in the same flight of bytes is stored, and its
 * answer (taken by the loop after the stream is gone) goes nowhere. */
static void test_journal(void)
{
    char dir[64], yaml[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml_base, dir, yaml) != 0)
        return;
    server s;
    if (server_init(&s, yaml) != 0)
        return;
    client cl;
    if (client_open(&cl, &s) == 0) {
        uint8_t frame[512];
        body_source b;
        call c;
        schema_create_request cr = create_request();
        call_start(&cl, &c, &b, SERVICE "CreateWebhook", "application/grpc", TOKEN, &cr.base, frame, sizeof(frame));
        pump_until_closed(&cl, &c);
        CHECK_STR(c.grpc_status, "0");
        CHECK(c.body_len > CODEC_GRPC_FRAME_HEADER);

        /* request and reset leave together: the server reads both in one go, so the stream
         * is gone before the loop can take the journal's answer */
        call_start(&cl, &c, &b, SERVICE "CreateWebhook", "application/grpc", TOKEN, &cr.base, frame, sizeof(frame));
        const uint8_t *data;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(cl.session, &data)) > 0)
            CHECK(write(cl.fd, data, (size_t)n) == n);
        CHECK(nghttp2_submit_rst_stream(cl.session, NGHTTP2_FLAG_NONE, c.stream_id, NGHTTP2_CANCEL) == 0);
        pump_until_closed(&cl, &c);
        CHECK(c.close_code == NGHTTP2_CANCEL);
        CHECK_STR(c.grpc_status, "");
        /* stored all the same; its answer is taken by the loop now or in server_dispose */
        for (int round = 0; core_fixture_stored(s.core) < 2 && round < PUMP_ROUNDS; round++)
            h2o_evloop_run(s.loop, PUMP_MS);
        CHECK(core_fixture_stored(s.core) == 2);
        client_close(&cl);
    }
    server_dispose(&s);
    core_fixture_store_remove(dir);
}

/* ---- deadlines (grpc-timeout) ---------------------------------------------------------- */

/* A body that never ends: the frame's first bytes, then nothing, END_STREAM never. */
static ssize_t read_body_forever(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                                 uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)session, (void)stream_id, (void)user_data, (void)data_flags;
    body_source *b = source->ptr;
    if (b->sent > 0 || length < 3)
        return NGHTTP2_ERR_DEFERRED;
    memcpy(buf, b->data, 3);
    b->sent = 3;
    return 3;
}

/* Starts a create with grpc-timeout (NULL: none; "\n"-separated: sent as several fields),
 * whose body ends (forever = 0) or never does (1). */
static void call_start_deadline(client *cl, call *c, body_source *b, const char *timeout, int forever, uint8_t *frame,
                                size_t cap)
{
    memset(c, 0, sizeof(*c));
    schema_create_request cr = create_request();
    size_t n = protobuf_c_message_get_packed_size(&cr.base);
    CHECK(n + CODEC_GRPC_FRAME_HEADER <= cap);
    protobuf_c_message_pack(&cr.base, frame + CODEC_GRPC_FRAME_HEADER);
    codec_grpc_frame_header(frame, 0, n);
    *b = (body_source){frame, n + CODEC_GRPC_FRAME_HEADER, 0};
    char t1[32] = "", t2[32] = "";
    const char *nl = timeout != NULL ? strchr(timeout, '\n') : NULL;
    if (timeout != NULL)
        snprintf(t1, sizeof(t1), "%.*s", nl != NULL ? (int)(nl - timeout) : (int)strlen(timeout), timeout);
    if (nl != NULL)
        snprintf(t2, sizeof(t2), "%s", nl + 1);
    nghttp2_nv hdrs[] = {NV(":method", "POST"),        NV(":scheme", "http"),
                         NV(":path", SERVICE "CreateWebhook"), NV(":authority", "localhost"),
                         NV("te", "trailers"),          NV("content-type", "application/grpc"),
                         NV("authorization", TOKEN),    NV("grpc-timeout", t1),
                         NV("grpc-timeout", t2)};
    nghttp2_data_provider provider = {.source.ptr = b, .read_callback = forever ? read_body_forever : read_body};
    c->stream_id = nghttp2_submit_request(cl->session, NULL, hdrs, timeout == NULL ? 7 : nl == NULL ? 8 : 9,
                                          &provider, c);
    CHECK(c->stream_id > 0);
}

/* Without a store's wait: a body that never ends gets DEADLINE_EXCEEDED (trailers-only,
 * then a reset that stops the upload) and is never served; a deadline already passed ("0n")
 * is not begun; a malformed or repeated grpc-timeout is INVALID_ARGUMENT; a generous one
 * changes nothing. */
static void test_deadline(server *s)
{
    client cl;
    if (client_open(&cl, s) != 0)
        return;
    uint8_t frame[512];
    body_source b;
    call c;
    size_t stored = core_fixture_stored(s->core);

    call_start_deadline(&cl, &c, &b, "30m", 1, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.status, "200");
    CHECK_STR(c.grpc_status, "4");
    CHECK(!c.in_trailers && c.body_len == 0);
    CHECK_STR(c.grpc_message, "The call's deadline (grpc-timeout 30m) passed before its answer.");
    CHECK(c.close_code == NGHTTP2_NO_ERROR); /* the answer, then RST_STREAM NO_ERROR */
    CHECK(core_fixture_stored(s->core) == stored);

    call_start_deadline(&cl, &c, &b, "0n", 0, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.grpc_status, "4");
    CHECK(core_fixture_stored(s->core) == stored);

    static const char *const malformed[] = {"30", "30x", "123456789m", "-1m", "1 m", "1M5", "1m\n1m", ""};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        {
            call_start_deadline(&cl, &c, &b, malformed[i], 0, frame, sizeof(frame));
            pump_until_closed(&cl, &c);
            CHECK_STR(c.grpc_status, "3");
            CHECK(strstr(c.grpc_message, "grpc-timeout: must be given once") != NULL);
        }
    }
    CHECK(core_fixture_stored(s->core) == stored);

    call_start_deadline(&cl, &c, &b, "20S", 0, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.grpc_status, "0");
    CHECK(core_fixture_stored(s->core) == stored + 1);
    /* the connection still serves */
    call_start_deadline(&cl, &c, &b, NULL, 0, frame, sizeof(frame));
    pump_until_closed(&cl, &c);
    CHECK_STR(c.grpc_status, "0");
    client_close(&cl);
}

/* With a journal: creates whose 1 ms deadline may pass while the writer has them. Each
 * gets exactly one answer, OK or DEADLINE_EXCEEDED, whichever came first (the client would
 * see a second as a protocol error); every create handed over is stored all the same, and a
 * late answer from the writer is dropped (ASan and the completion's assertions watch that). */
static void test_deadline_journal(void)
{
    char dir[64], yaml[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml_base, dir, yaml) != 0)
        return;
    server s;
    if (server_init(&s, yaml) != 0)
        return;
    client cl;
    if (client_open(&cl, &s) == 0) {
        enum { N = 8 };
        uint8_t frames[N][512];
        body_source b[N];
        call c[N];
        for (int i = 0; i < N; i++)
            call_start_deadline(&cl, &c[i], &b[i], "1m", 0, frames[i], sizeof(frames[i]));
        for (int round = 0; round < PUMP_ROUNDS; round++) {
            int open = 0;
            for (int i = 0; i < N; i++)
                open += !c[i].closed;
            if (open == 0)
                break;
            pump_once(&cl);
        }
        int exceeded = 0;
        for (int i = 0; i < N; i++) {
            CHECK(c[i].closed && c[i].close_code == NGHTTP2_NO_ERROR);
            CHECK(strcmp(c[i].grpc_status, "0") == 0 || strcmp(c[i].grpc_status, "4") == 0);
            exceeded += strcmp(c[i].grpc_status, "4") == 0;
        }
        /* a create handed over is written whatever its answer was (those exceeded before they
         * were begun are not: then this waits its PUMP_ROUNDS out) */
        for (int round = 0; core_fixture_stored(s.core) < N && round < PUMP_ROUNDS; round++)
            h2o_evloop_run(s.loop, PUMP_MS);
        size_t stored = core_fixture_stored(s.core);
        fprintf(stderr, "test_deadline_journal: %d of %d creates answered DEADLINE_EXCEEDED, %zu stored\n", exceeded,
                N, stored);
        CHECK(stored >= (size_t)(N - exceeded) && stored <= N);
        client_close(&cl);
    }
    server_dispose(&s); /* takes the writer's late answers */
    core_fixture_store_remove(dir);
}

/* ---- raw frames ------------------------------------------------------------------------ */

static size_t raw_frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len)
{
    out[0] = (uint8_t)(len >> 16), out[1] = (uint8_t)(len >> 8), out[2] = (uint8_t)len;
    out[3] = type, out[4] = flags;
    out[5] = (uint8_t)(stream >> 24 & 0x7f), out[6] = (uint8_t)(stream >> 16), out[7] = (uint8_t)(stream >> 8);
    out[8] = (uint8_t)stream;
    if (len > 0)
        memcpy(out + 9, payload, len);
    return 9 + len;
}

/* What the server said to a client of raw frames. */
typedef struct raw_result {
    int goaway;        /* a GOAWAY came */
    uint32_t goaway_code;
    int ping_acked;    /* the PING the client sent last was answered */
    int reset;         /* an RST_STREAM came, */
    uint32_t reset_code; /* with this error code */
    int eof;           /* the server closed the connection */
} raw_result;

/* Sends bytes (preface included) on a new connection, then a PING, and reads the server's
 * frames until the PING is answered or the connection ends. */
static raw_result raw_exchange(server *s, const uint8_t *bytes, size_t len)
{
    raw_result r = {0};
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
    grpc_accept(&s->grpc, h2o_evloop_socket_create(s->loop, fds[0], 0), NULL);
    uint8_t ping[17];
    size_t ping_len = raw_frame(ping, 6, 0, 0, "12345678", 8);
    CHECK(write(fds[1], bytes, len) == (ssize_t)len);
    CHECK(write(fds[1], ping, ping_len) == (ssize_t)ping_len);
    static uint8_t in[65536];
    size_t in_len = 0, at = 0;
    for (int round = 0; round < PUMP_ROUNDS && !r.eof && !r.ping_acked; round++) {
        h2o_evloop_run(s->loop, PUMP_MS);
        ssize_t n;
        while (in_len < sizeof(in) && (n = read(fds[1], in + in_len, sizeof(in) - in_len)) > 0)
            in_len += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN))
            r.eof = 1;
        while (in_len - at >= 9 && in_len - at - 9 >= ((size_t)in[at] << 16 | (size_t)in[at + 1] << 8 | in[at + 2])) {
            const uint8_t *f = in + at;
            size_t flen = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
            if (f[3] == 7 && flen >= 8) {
                r.goaway = 1;
                r.goaway_code = (uint32_t)f[13] << 24 | (uint32_t)f[14] << 16 | (uint32_t)f[15] << 8 | f[16];
            }
            if (f[3] == 3 && flen == 4) {
                r.reset = 1;
                r.reset_code = (uint32_t)f[9] << 24 | (uint32_t)f[10] << 16 | (uint32_t)f[11] << 8 | f[12];
            }
            if (f[3] == 6 && (f[4] & 1) && flen == 8 && memcmp(f + 9, "12345678", 8) == 0)
                r.ping_acked = 1;
            at += 9 + flen;
        }
    }
    close(fds[1]);
    for (int round = 0; !h2o_linklist_is_empty(&s->grpc.connections) && round < PUMP_ROUNDS; round++)
        h2o_evloop_run(s->loop, PUMP_MS);
    CHECK(h2o_linklist_is_empty(&s->grpc.connections));
    return r;
}

/* HEADERS for a gRPC call on stream (HPACK: POST, http, a literal :path, content-type). */
static size_t raw_call(uint8_t *out, uint32_t stream, uint8_t flags)
{
    static const uint8_t block[] = "\x83\x86\x04\x0b/x.Svc/Call\x0f\x10\x10" "application/grpc";
    return raw_frame(out, 1, flags, stream, block, sizeof(block) - 1);
}

static void test_stream_id_backwards(server *s)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    uint8_t out[512];
    size_t head = sizeof(preface) - 1, n;
    memcpy(out, preface, head);
    head += raw_frame(out + head, 4, 0, 0, NULL, 0);
    unsigned long long before = metrics_series("hookgate_connections_stream_id_backwards_total");

    /* stream 5, then 3: GOAWAY PROTOCOL_ERROR and the end, the PING after it unanswered */
    n = head + raw_call(out + head, 5, 0x4);
    n += raw_call(out + n, 3, 0x5);
    raw_result r = raw_exchange(s, out, n);
    CHECK(r.goaway && r.goaway_code == NGHTTP2_PROTOCOL_ERROR);
    CHECK(r.eof && !r.ping_acked);
    CHECK(metrics_series("hookgate_connections_stream_id_backwards_total") == before + 1);

    /* HEADERS again on a stream nghttp2 still holds, its request whole: nghttp2's own
     * GOAWAY STREAM_CLOSED (RFC 9113 §5.1, half-closed (remote)), not counted as ours */
    n = head + raw_call(out + head, 1, 0x5);
    n += raw_call(out + n, 1, 0x5);
    r = raw_exchange(s, out, n);
    CHECK(r.goaway && r.goaway_code == NGHTTP2_STREAM_CLOSED && r.eof);
    CHECK(metrics_series("hookgate_connections_stream_id_backwards_total") == before + 1);

    /* ids going up, and trailers on a stream still open: served, no GOAWAY */
    static const uint8_t trailer[] = "\x00\x01x\x01y";
    n = head + raw_call(out + head, 3, 0x4);
    n += raw_call(out + n, 5, 0x5);
    n += raw_frame(out + n, 1, 0x5, 3, trailer, sizeof(trailer) - 1);
    r = raw_exchange(s, out, n);
    CHECK(!r.goaway && r.ping_acked && !r.eof);
    CHECK(metrics_series("hookgate_connections_stream_id_backwards_total") == before + 1);
}

/* Two content-length values (RFC 9113 §8.1.1: malformed): nghttp2's own HTTP checks reset
 * the stream with PROTOCOL_ERROR, the connection goes on; identical ones too (nghttp2 takes
 * content-length once). */
static void test_content_length_twice(server *s)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    static const uint8_t lengths[][8] = {{0x0f, 0x0d, 1, '5', 0x0f, 0x0d, 1, '6'}, {0x0f, 0x0d, 1, '5', 0x0f, 0x0d, 1, '5'}};
    for (int i = 0; i < 2; i++) {
        uint8_t out[512], block[64];
        size_t n = sizeof(preface) - 1;
        memcpy(out, preface, n);
        n += raw_frame(out + n, 4, 0, 0, NULL, 0);
        size_t len = raw_call(block, 1, 0x4) - 9; /* the call's block, without its frame header */
        memmove(block, block + 9, len);
        memcpy(block + len, lengths[i], sizeof(lengths[i]));
        n += raw_frame(out + n, 1, 0x4, 1, block, len + sizeof(lengths[i]));
        raw_result r = raw_exchange(s, out, n);
        CHECK(r.reset && r.reset_code == NGHTTP2_PROTOCOL_ERROR);
        CHECK(!r.goaway && r.ping_acked);
    }
}

int main(void)
{
    accesslog_set_format(ACCESSLOG_OFF); /* test_accesslog covers the lines */
    server s;
    if (server_init(&s, yaml_base) == 0) {
        test_calls(&s);
        test_stream_id_backwards(&s);
        test_content_length_twice(&s);
        test_deadline(&s);
        server_dispose(&s);
    }
    test_journal();
    test_deadline_journal();
    return test_exit_code();
}
