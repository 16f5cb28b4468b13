/* grpc: see grpc.h.
 *
 * Each connection owns an nghttp2 server session. Bytes read from the socket go to
 * nghttp2_session_mem_recv; whatever nghttp2_session_mem_send produces is queued in
 * `pending` and written when no other write is in flight (h2o_socket_write keeps the
 * caller's buffers until it completes, so the bytes in flight live in `inflight`). */
#include "grpc.h"
#include "log.h"

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "codec_grpc.h"
#include "completion.h"
#include "deadline.h"
#include "deadlinetimer.h"
#include "gzip.h"
#include "hg_assert.h"
#include "media.h"
#include "metrics.h"
#include "outflow.h"
#include "poolalloc.h"
#include "reqlog.h"
#include "route.h"
#include "rpc.h"
#include "server.h"
#include "status.h"

#define MEDIA_GRPC "application/grpc"
#define MEDIA_GRPC_PROTO "application/grpc+proto"
#define MEDIA_GRPC_JSON "application/grpc+json"

static const h2o_iovec_t alpn_h2[] = {{H2O_STRLIT("h2")}, {NULL, 0}};
const h2o_iovec_t *grpc_alpn_protocols = alpn_h2;

typedef struct grpc_conn {
    grpc_context *ctx;
    h2o_socket_t *sock;
    nghttp2_session *session;
    h2o_buffer_t *pending, *inflight;
    h2o_linklist_t link;
    h2o_linklist_t streams;   /* nghttp2_session_del does not report closing streams: we free them */
    h2o_timeout_entry_t idle; /* restarted by every frame of a request (on_begin_frame) */
    int32_t max_stream_id;    /* the highest stream id of the client's HEADERS so far */
    outflow out;              /* what its streams hold, and the write timer of their answers */
    int idle_goaway;          /* on_idle sent GOAWAY: the next idle period ends the connection */
} grpc_conn;

typedef struct grpc_call grpc_call;

typedef struct grpc_stream {
    int32_t id;
    grpc_conn *conn;
    grpc_call *call;       /* a call waiting for the journal, or NULL */
    h2o_linklist_t link;   /* in grpc_conn.streams */
    int reset_after_reply; /* stop the client's upload once our answer has gone out */
    h2o_mem_pool_t pool; /* message memory (poolalloc) and the request id go with the stream */
    size_t headers_used; /* bytes of header values kept (in pool), at most GRPC_MAX_HEADER_BYTES */
    h2o_iovec_t path, content_type, authorization, request_id, idempotency_key; /* idempotency_key: {"", 0}
                                                                                when sent twice */
    h2o_iovec_t timeout; /* grpc-timeout as sent; {"", 0} when sent twice (malformed) */
    h2o_iovec_t encoding, accept_encoding; /* grpc-encoding, grpc-accept-encoding */
    int timeout_malformed;
    deadlinetimer deadline; /* armed from the end of the headers until the answer goes out */
    struct timespec started; /* for the access log */
    int is_post, headers_too_large;
    rpc_codec codec;             /* the content type's: +proto (or none) or +json */
    h2o_iovec_t answer_type;     /* the answer's content-type: the request's media type */
    h2o_buffer_t *body;
    int body_too_large, responded;
    int answering; /* an answer submitted (outflow_begin), ended when the stream goes */
    size_t held;   /* bytes charged to the connection's outflow: request body and answer */
    const uint8_t *out; /* the response message frame, read by the data provider */
    size_t out_len, out_sent;
    codec_grpc_status status;
    /* A method whose requests are a stream (route_rpc_client_streaming), once its headers
     * were accepted: each message is answered as it arrives, the status once the client
     * ends its side. `body` then holds the start of a message not yet whole. */
    const ProtobufCMethodDescriptor *streaming;
    h2o_buffer_t *answers; /* framed answers nghttp2 has not taken yet (charged to `held`) */
    unsigned messages;     /* request messages answered, at most RPC_MAX_STREAM_MESSAGES */
    int answer_open;       /* the response headers are submitted, with read_body as provider */
    int finished;          /* the status is decided: trailers follow the answers in `answers` */
    size_t sent;           /* bytes of answers taken by nghttp2, for the access log */
} grpc_stream;

/* A call that may wait for the journal; kept off the stream, which may close first. */
struct grpc_call {
    completion done; /* first: completion.c frees the call through it */
    core_call call;
    grpc_conn *conn;
    grpc_stream *stream; /* NULL once the stream is gone */
};

void grpc_context_init(grpc_context *ctx, core *c, h2o_loop_t *loop, h2o_multithread_queue_t *queue)
{
    ctx->idle_ms = core_config_now(c)->grpc_idle_timeout_ms;
    ctx->idle_ready = 0;
    deadlinetimer_wheel_init(&ctx->deadlines, loop);
    completion_receiver_register(&ctx->receiver, queue);
    ctx->core = c;
    ctx->handshake = NULL;
    h2o_linklist_init_anchor(&ctx->connections);
    ctx->stopping = 0;
}

void grpc_context_dispose(grpc_context *ctx, h2o_loop_t *loop, h2o_multithread_queue_t *queue)
{
    HG_ASSERT(h2o_linklist_is_empty(&ctx->connections));
    completion_receiver_unregister(&ctx->receiver, queue);
    if (ctx->idle_ready)
        h2o_timeout_dispose(loop, &ctx->idle);
    deadlinetimer_wheel_dispose(&ctx->deadlines);
}

/* ---- connection I/O ------------------------------------------------------------------ */

static void conn_free(grpc_conn *conn)
{
    outflow_dispose(&conn->out);
    h2o_buffer_dispose(&conn->pending);
    h2o_buffer_dispose(&conn->inflight);
    h2o_socket_close(conn->sock);
    free(conn);
}

static void stream_free(grpc_conn *conn, grpc_stream *s)
{
    if (s->call != NULL) { /* its answer has nowhere to go */
        s->call->stream = NULL;
        completion_vanish(&s->call->done);
    }
    deadlinetimer_stop(&s->deadline);
    outflow_release(&conn->out, s->held);
    if (s->answering)
        outflow_end(&conn->out);
    h2o_linklist_unlink(&s->link);
    h2o_buffer_dispose(&s->body);
    h2o_buffer_dispose(&s->answers);
    h2o_mem_clear_pool(&s->pool);
    free(s);
}

static void conn_close(grpc_conn *conn)
{
    if (h2o_timeout_is_linked(&conn->idle))
        h2o_timeout_unlink(&conn->idle);
    h2o_linklist_unlink(&conn->link);
    nghttp2_session_del(conn->session);
    while (!h2o_linklist_is_empty(&conn->streams))
        stream_free(conn, H2O_STRUCT_FROM_MEMBER(grpc_stream, link, conn->streams.next));
    conn_free(conn);
}

static void conn_flush(grpc_conn *conn);

static void on_write_complete(h2o_socket_t *sock, const char *err)
{
    grpc_conn *conn = sock->data;
    h2o_buffer_consume(&conn->inflight, conn->inflight->size);
    if (err != NULL) {
        conn_close(conn);
        return;
    }
    conn_flush(conn);
}

/* Moves nghttp2's output to the socket; closes the connection when neither side has
 * anything more to say. At most about OUTFLOW_CHUNK_BYTES are taken from nghttp2 per write,
 * so an answer waits in its stream (charged to the outflow) rather than as a second copy in
 * `pending` that a client with a large window and a full socket would make grow. */
static void conn_flush(grpc_conn *conn)
{
    if (h2o_socket_is_writing(conn->sock))
        return; /* on_write_complete calls back */
    while (conn->pending->size < OUTFLOW_CHUNK_BYTES) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            conn_close(conn);
            return;
        }
        if (n == 0)
            break;
        h2o_iovec_t room = h2o_buffer_reserve(&conn->pending, (size_t)n);
        if (room.base == NULL) {
            conn_close(conn);
            return;
        }
        memcpy(room.base, data, (size_t)n);
        conn->pending->size += (size_t)n;
    }
    if (conn->pending->size > 0) {
        h2o_buffer_t *swap = conn->inflight;
        conn->inflight = conn->pending;
        conn->pending = swap;
        h2o_iovec_t buf = h2o_iovec_init(conn->inflight->bytes, conn->inflight->size);
        h2o_socket_write(conn->sock, &buf, 1, on_write_complete);
        return;
    }
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
        conn_close(conn);
}

/* The context's idle timeout, set up on the loop with its first connection: h2o looks at
 * every timeout of a loop on each turn, and a server without gRPC callers needs none. */
static h2o_timeout_t *idle_timeout(grpc_context *ctx, h2o_loop_t *loop)
{
    if (!ctx->idle_ready) {
        h2o_timeout_init(loop, &ctx->idle, ctx->idle_ms);
        ctx->idle_ready = 1;
    }
    return &ctx->idle;
}

/* No frame of a request (HEADERS, CONTINUATION, DATA) for idle_timeout_ms: closed, as
 * PINGs, SETTINGS or WINDOW_UPDATEs keep no connection open (a squatter sends them to hold
 * a place); unless a call of its own waits for the journal, when the client has nothing
 * to say. The close is HTTP/2's graceful one, as h2o's listener does it: GOAWAY (NO_ERROR,
 * the last stream id nghttp2 processed, so the client knows no request of its was lost),
 * and the connection closes once that is written (conn_flush: nghttp2 then wants neither
 * to read nor to write). A client that does not take those few bytes within one more idle
 * period is closed then without waiting further. */
static void on_idle(h2o_timeout_entry_t *entry)
{
    grpc_conn *conn = H2O_STRUCT_FROM_MEMBER(grpc_conn, idle, entry);
    h2o_loop_t *loop = h2o_socket_get_loop(conn->sock);
    if (conn->idle_goaway) {
        conn_close(conn);
        return;
    }
    for (h2o_linklist_t *l = conn->streams.next; l != &conn->streams; l = l->next)
        if (H2O_STRUCT_FROM_MEMBER(grpc_stream, link, l)->call != NULL) {
            h2o_timeout_link(loop, idle_timeout(conn->ctx, loop), &conn->idle);
            return;
        }
    /* nghttp2 reads no frame after this: on_begin_frame no longer restarts the timer */
    if (nghttp2_session_terminate_session(conn->session, NGHTTP2_NO_ERROR) != 0) {
        conn_close(conn);
        return;
    }
    conn->idle_goaway = 1;
    h2o_timeout_link(loop, idle_timeout(conn->ctx, loop), &conn->idle);
    conn_flush(conn); /* may close conn */
}

/* Its answers did not move for write_timeout_ms: reset the connection (SO_LINGER 0: the
 * kernel drops what the client never took). */
static void on_stall(outflow *o)
{
    grpc_conn *conn = H2O_STRUCT_FROM_MEMBER(grpc_conn, out, o);
    struct linger reset = {1, 0};
    setsockopt(h2o_socket_get_fd(conn->sock), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    log_error("closed a gRPC connection: its answers did not move for server.write_timeout_ms");
    conn_close(conn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    grpc_conn *conn = sock->data;
    if (err != NULL) {
        conn_close(conn);
        return;
    }
    ssize_t n = nghttp2_session_mem_recv(conn->session, (const uint8_t *)sock->input->bytes, sock->input->size);
    if (n < 0) {
        conn_close(conn);
        return;
    }
    h2o_buffer_consume(&sock->input, (size_t)n);
    conn_flush(conn);
}

/* ---- responses ----------------------------------------------------------------------- */

#define NV(name, value, value_len)                                                                                     \
    {                                                                                                                  \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, (value_len), NGHTTP2_NV_FLAG_NONE                     \
    }

/* The status, in trailers that end the stream: after the last answer. */
static int submit_trailers(nghttp2_session *session, grpc_stream *s)
{
    char code[4];
    int code_len = snprintf(code, sizeof(code), "%d", s->status.code);
    nghttp2_nv trailers[] = {
        NV("grpc-status", code, (size_t)code_len),
        NV("grpc-message", s->status.message, strlen(s->status.message)),
        NV("grpc-status-details-bin", s->status.details, s->status.details_len),
    };
    return nghttp2_submit_trailer(session, s->id, trailers, s->status.code == 0 ? 1 : s->status.details_len ? 3 : 2);
}

/* A streaming call's answers: what `answers` holds; nothing now (DEFERRED: stream_push
 * resumes it) until the status is decided, then the trailers. */
static ssize_t read_stream_body(nghttp2_session *session, grpc_conn *conn, grpc_stream *s, uint8_t *buf, size_t length,
                                uint32_t *data_flags)
{
    size_t n = s->answers->size < length ? s->answers->size : length;
    if (n == 0 && !s->finished)
        return NGHTTP2_ERR_DEFERRED;
    if (n > 0) /* an empty buffer may have no bytes at all */
        memcpy(buf, s->answers->bytes, n);
    h2o_buffer_consume(&s->answers, n);
    s->sent += n;
    s->held -= n;
    outflow_release(&conn->out, n);
    if (n > 0)
        outflow_progress(&conn->out);
    if (s->answers->size > 0)
        return (ssize_t)n;
    if (s->finished) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(session, s) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (s->answering) {
        /* every answer so far is out: the client's turn, which may take as long as it likes */
        s->answering = 0;
        outflow_end(&conn->out);
    }
    return (ssize_t)n;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *user_data)
{
    (void)stream_id;
    grpc_conn *conn = user_data;
    grpc_stream *s = source->ptr;
    if (s->streaming != NULL)
        return read_stream_body(session, conn, s, buf, length, data_flags);
    size_t n = s->out_len - s->out_sent;
    if (n > length)
        n = length;
    memcpy(buf, s->out + s->out_sent, n);
    s->out_sent += n;
    if (n > 0)
        outflow_progress(&conn->out); /* the client's window let a chunk of the answer go */
    if (s->out_sent == s->out_len) {
        /* the status follows in trailers, which end the stream */
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(session, s) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* The stream's request id (the client's x-request-id when acceptable, else a new one),
 * for the answer's x-request-id and the access log. */
static h2o_iovec_t stream_request_id(grpc_stream *s)
{
    return s->request_id = reqlog_request_id(&s->pool, s->request_id);
}

/* One access-log line and metrics count per answered call: its HTTP status, and its
 * grpc-status (-1: none, as for the 415 to a request that is no gRPC call). */
static void log_call(grpc_stream *s, int status, int grpc_status, size_t bytes)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t duration_us =
        (int64_t)(now.tv_sec - s->started.tv_sec) * 1000000 + (now.tv_nsec - s->started.tv_nsec) / 1000;
    reqlog_write(s->is_post ? h2o_iovec_init(H2O_STRLIT("POST")) : h2o_iovec_init(H2O_STRLIT("?")), s->path, ROUTE_COUNT,
                 REQLOG_GRPC, status, grpc_status, bytes, duration_us, stream_request_id(s));
}

/* s's answer is submitted: from now on it must move (outflow.h), and its bytes are held
 * until the stream goes. */
static void answer_begin(grpc_conn *conn, grpc_stream *s, size_t bytes)
{
    HG_ASSERT(!s->answering);
    s->answering = 1;
    deadlinetimer_stop(&s->deadline); /* answered: the deadline no longer matters */
    s->held += bytes;
    outflow_charge(&conn->out, bytes);
    outflow_begin(&conn->out);
}

/* The answer's message goes compressed when the client accepts gzip and it is long enough
 * (gzip.h); the frame's flag and grpc-encoding say so. */
static void respond_ok(grpc_conn *conn, grpc_stream *s, const uint8_t *msg, size_t len, int replayed)
{
    size_t encoded_len = len;
    ProtobufCAllocator alloc = poolalloc_make(&s->pool);
    uint8_t flag = gzip_answer(s->accept_encoding.base, s->accept_encoding.len, &alloc, &msg, &len)
                       ? CODEC_GRPC_FLAG_COMPRESSED
                       : 0;
    uint8_t *frame = h2o_mem_alloc_pool(&s->pool, CODEC_GRPC_FRAME_HEADER + len);
    codec_grpc_frame_header(frame, flag, len);
    memcpy(frame + CODEC_GRPC_FRAME_HEADER, msg, len);
    s->out = frame;
    s->out_len = CODEC_GRPC_FRAME_HEADER + len;
    s->status.code = 0;
    h2o_iovec_t id = stream_request_id(s);
    nghttp2_nv headers[6] = {NV(":status", "200", 3), NV("content-type", s->answer_type.base, s->answer_type.len),
                             NV("x-request-id", id.base, id.len),
                             NV("grpc-accept-encoding", GZIP_NAME, sizeof(GZIP_NAME) - 1)};
    size_t n = 4;
    if (flag == CODEC_GRPC_FLAG_COMPRESSED)
        headers[n++] = (nghttp2_nv)NV("grpc-encoding", GZIP_NAME, sizeof(GZIP_NAME) - 1);
    if (replayed)
        headers[n++] = (nghttp2_nv)NV("idempotent-replayed", "true", 4);
    nghttp2_data_provider provider = {.source.ptr = s, .read_callback = read_body};
    nghttp2_submit_response(conn->session, s->id, headers, n, &provider);
    s->responded = 1;
    /* the encoded message (and its compressed copy), and its framed copy */
    answer_begin(conn, s, encoded_len + (flag ? len : 0) + s->out_len);
    log_call(s, 200, 0, s->out_len);
}

/* A trailers-only response: one HEADERS frame that ends the stream. */
static void respond_error(grpc_conn *conn, grpc_stream *s, const error *err)
{
    ProtobufCAllocator alloc = poolalloc_make(&s->pool);
    char code[4];
    codec_grpc_status_make(err, &alloc, &s->status);
    int code_len = snprintf(code, sizeof(code), "%d", s->status.code);
    h2o_iovec_t id = stream_request_id(s);
    nghttp2_nv headers[] = {
        NV(":status", "200", 3),
        NV("content-type", s->answer_type.base, s->answer_type.len),
        NV("x-request-id", id.base, id.len),
        NV("grpc-status", code, (size_t)code_len),
        NV("grpc-message", s->status.message, strlen(s->status.message)),
        NV("grpc-accept-encoding", GZIP_NAME, sizeof(GZIP_NAME) - 1),
        NV("grpc-status-details-bin", s->status.details, s->status.details_len),
    };
    nghttp2_submit_response(conn->session, s->id, headers, s->status.details_len ? 7 : 6, NULL);
    s->responded = 1;
    answer_begin(conn, s, 0); /* headers only: what they hold is the stream's pool */
    log_call(s, 200, s->status.code, 0);
}

/* Answers a call whose stream is still open. */
static void call_respond(grpc_call *call)
{
    grpc_stream *s = call->stream;
    core_call *c = &call->call;
    ProtobufCAllocator alloc = poolalloc_make(&s->pool);
    size_t len;
    codec_json_memo memo = core_call_memo(c);
    uint8_t *out = c->response != NULL ? rpc_encode(s->codec, c->response, &memo, &alloc, &len) : NULL;
    if (out != NULL) {
        respond_ok(call->conn, s, out, len, c->replayed);
        return;
    }
    if (c->response != NULL)
        error_set(&c->err, ERROR_INTERNAL, "Out of memory.");
    respond_error(call->conn, s, &c->err);
}

/* From the journal's thread: back to the connection's loop. */
static void on_call_done(core_call *c)
{
    completion_post(&((grpc_call *)c->data)->done);
}

/* Just before the completion frees the call (answered, or its stream gone). */
static void on_call_released(completion *c)
{
    core_call_release(&((grpc_call *)c)->call);
}

/* On the loop, the stream still open (completion_vanish otherwise). */
static void on_call_finished(completion *c)
{
    grpc_call *call = (grpc_call *)c;
    HG_ASSERT(call->stream != NULL && call->stream->call == call);
    call->stream->call = NULL;
    call_respond(call);
    conn_flush(call->conn);
}

/* Reads the stream's content type (media.h's rules: parameters allowed): application/grpc
 * or application/grpc+proto carry protobuf, application/grpc+json the proto3 JSON of the
 * same message. Sets the stream's codec and the answer's content type (the type the
 * request named, without parameters) and returns 1; 0 for anything else. */
static int read_content_type(grpc_stream *s)
{
    h2o_iovec_t ct = s->content_type;
    if (media_type_is(ct.base, ct.len, MEDIA_GRPC))
        s->codec = RPC_CODEC_PROTO, s->answer_type = h2o_iovec_init(H2O_STRLIT(MEDIA_GRPC));
    else if (media_type_is(ct.base, ct.len, MEDIA_GRPC_PROTO))
        s->codec = RPC_CODEC_PROTO, s->answer_type = h2o_iovec_init(H2O_STRLIT(MEDIA_GRPC_PROTO));
    else if (media_type_is(ct.base, ct.len, MEDIA_GRPC_JSON))
        s->codec = RPC_CODEC_JSON, s->answer_type = h2o_iovec_init(H2O_STRLIT(MEDIA_GRPC_JSON));
    else
        return 0;
    return 1;
}

/* ---- deadlines (grpc-timeout) ------------------------------------------------------- */

static void deadline_error(grpc_stream *s, error *err)
{
    error_set(err, ERROR_DEADLINE_EXCEEDED, "The call's deadline (grpc-timeout %.*s) passed before its answer.",
              (int)s->timeout.len, s->timeout.base);
}

static void stream_finish(grpc_conn *conn, grpc_stream *s, const error *err);

/* The deadline came before the answer: DEADLINE_EXCEEDED now. A call handed to the core
 * is let go as when its client disconnects (its late answer is dropped, its memory freed
 * with it); a body still coming is refused with a reset once the answer is out. */
static void on_deadline(deadlinetimer *t)
{
    grpc_stream *s = H2O_STRUCT_FROM_MEMBER(grpc_stream, deadline, t);
    grpc_conn *conn = s->conn;
    error err;
    deadline_error(s, &err);
    if (s->streaming != NULL) { /* a stream's deadline is the whole call's, its answers so far stand */
        stream_finish(conn, s, &err);
        conn_flush(conn); /* last: may close conn */
        return;
    }
    HG_ASSERT(!s->answering); /* an answer stops the timer */
    if (s->call != NULL) {
        s->call->stream = NULL;
        completion_vanish(&s->call->done);
        s->call = NULL;
    } else if (!nghttp2_session_get_stream_remote_close(conn->session, s->id))
        s->reset_after_reply = 1;
    respond_error(conn, s, &err);
    conn_flush(conn); /* last: may close conn */
}

/* The request's headers are complete: arms the deadline its grpc-timeout sets. A malformed
 * one is answered INVALID_ARGUMENT by serve once the request is whole, as every other
 * problem with the headers is (an answer racing ahead of its own request's body makes some
 * clients, curl among them, wait for ever; a reset after it makes them drop the answer). */
static void deadline_begin(grpc_conn *conn, grpc_stream *s)
{
    uint64_t ms;
    if (s->timeout.base == NULL || s->headers_too_large || !read_content_type(s))
        return; /* serve answers what it is */
    if (deadline_grpc_parse(s->timeout.base, s->timeout.len, &ms) != 0) {
        s->timeout_malformed = 1;
        return;
    }
    deadlinetimer_wheel *w = &conn->ctx->deadlines;
    deadlinetimer_start(w, &s->deadline, deadlinetimer_now(w) + ms, on_deadline);
}

/* ---- a stream of requests (server reflection) ------------------------------------------ */

/* The request's headers are complete: a POST of a method whose requests are a stream,
 * with headers serve would accept, is answered message by message from now on. Anything
 * else is left to serve, at the end of the request, as before. */
static void stream_begin(grpc_stream *s)
{
    if (s->headers_too_large || !s->is_post || s->timeout_malformed || !read_content_type(s))
        return;
    const ProtobufCMethodDescriptor *m = route_rpc_method(s->path.base, s->path.len);
    if (m != NULL && route_rpc_client_streaming(m))
        s->streaming = m;
}

/* Lets what `answers` holds (and the trailers, once finished) go: the response headers
 * the first time, nghttp2's deferred data provider after. While anything waits, an
 * answer of the connection is under way (outflow.h); read_stream_body ends it once all
 * is out and the client's turn comes. */
static void stream_push(grpc_conn *conn, grpc_stream *s)
{
    if (s->answers->size == 0 && !s->finished)
        return;
    if (!s->answering) {
        s->answering = 1;
        outflow_begin(&conn->out);
    }
    if (s->answer_open) {
        nghttp2_session_resume_data(conn->session, s->id); /* an error: it was not deferred */
        return;
    }
    h2o_iovec_t id = stream_request_id(s);
    nghttp2_nv headers[] = {NV(":status", "200", 3), NV("content-type", s->answer_type.base, s->answer_type.len),
                            NV("x-request-id", id.base, id.len)};
    nghttp2_data_provider provider = {.source.ptr = s, .read_callback = read_body};
    nghttp2_submit_response(conn->session, s->id, headers, 3, &provider);
    s->answer_open = 1;
}

/* Decides the call's status (err NULL: OK), which follows every answer already made.
 * Nothing more of the request is read; a client still sending is reset after it. */
static void stream_finish(grpc_conn *conn, grpc_stream *s, const error *err)
{
    HG_ASSERT(s->streaming != NULL && !s->finished);
    s->finished = 1;
    s->responded = 1;
    deadlinetimer_stop(&s->deadline);
    if (!nghttp2_session_get_stream_remote_close(conn->session, s->id))
        s->reset_after_reply = 1;
    if (!s->answer_open) { /* no answer yet: trailers-only, as a unary call's */
        respond_error(conn, s, err);
        return;
    }
    ProtobufCAllocator alloc = poolalloc_make(&s->pool);
    codec_grpc_status_make(err, &alloc, &s->status);
    log_call(s, 200, s->status.code, s->sent + s->answers->size);
    stream_push(conn, s);
}

/* Answers every whole message `body` holds, in order, then lets the answers go. Each
 * message's memory is its own pool, gone once its answer is framed into `answers`: a long
 * stream holds only what the client has not read yet (held to the connection's outflow
 * cap: every message is admitted first). */
static void stream_pump(grpc_conn *conn, grpc_stream *s)
{
    size_t limit = core_config_now(conn->ctx->core)->limits.max_body_bytes;
    error err;
    while (!s->finished) {
        const uint8_t *msg;
        size_t msg_len, used;
        int rc = codec_grpc_frame_next((const uint8_t *)s->body->bytes, s->body->size, limit, &msg, &msg_len, &used,
                                       &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            stream_finish(conn, s, &err);
            break;
        }
        if (s->messages == RPC_MAX_STREAM_MESSAGES) {
            error_set(&err, ERROR_TOO_LARGE, "A stream carries at most %d messages.", RPC_MAX_STREAM_MESSAGES);
            stream_finish(conn, s, &err);
            break;
        }
        if (s->answers->size >= RPC_MAX_STREAM_BUFFERED_BYTES) {
            error_set(&err, ERROR_TOO_LARGE, "The call's unread answers exceed %u bytes.", RPC_MAX_STREAM_BUFFERED_BYTES);
            stream_finish(conn, s, &err);
            break;
        }
        if (outflow_admit(&conn->out, &err) != OUTFLOW_ADMITTED) {
            stream_finish(conn, s, &err);
            break;
        }
        if (s->messages++ == 0)
            server_connection_seen(conn->sock); /* a whole request: not a squatter */
        size_t framed = rpc_stream_answer(s->streaming, s->codec, msg, msg_len, &s->answers, &err);
        s->held += framed;
        outflow_charge(&conn->out, framed);
        h2o_buffer_consume(&s->body, used); /* last: msg pointed into it */
        s->held -= used;
        outflow_release(&conn->out, used);
        if (framed == 0) {
            stream_finish(conn, s, &err);
            break;
        }
    }
    stream_push(conn, s);
}

/* Appends a DATA chunk to the stream's body, held (and charged to the connection's output
 * budget, as the memory it is) until the stream is done with it. -1 when out of memory. */
static int body_append(grpc_conn *conn, grpc_stream *s, const uint8_t *data, size_t len)
{
    h2o_iovec_t room = h2o_buffer_reserve(&s->body, len);
    if (room.base == NULL)
        return -1;
    memcpy(room.base, data, len);
    s->body->size += len;
    s->held += len;
    outflow_charge(&conn->out, len);
    return 0;
}

/* A DATA chunk of a streaming call: kept until its messages are whole. */
static int stream_data(grpc_conn *conn, grpc_stream *s, const uint8_t *data, size_t len)
{
    error err;
    if (outflow_admit(&conn->out, &err) != OUTFLOW_ADMITTED) {
        stream_finish(conn, s, &err);
        return 0;
    }
    if (body_append(conn, s, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    stream_pump(conn, s); /* what stays in body is less than one frame, which frame_next bounds */
    return 0;
}

/* The client ended its side: every whole message was answered (stream_pump runs on each
 * chunk); a message cut short is an error. */
static void stream_end(grpc_conn *conn, grpc_stream *s)
{
    error err;
    if (s->body->size > 0) {
        error_set(&err, ERROR_INVALID_BODY, "The stream ended inside a message.");
        stream_finish(conn, s, &err);
        return;
    }
    stream_finish(conn, s, NULL);
}

/* ---- a request whose body is one message ------------------------------------------------ */

static void serve(grpc_conn *conn, grpc_stream *s)
{
    core *c = conn->ctx->core;
    size_t limit = core_config_now(c)->limits.max_body_bytes;
    error err;
    error_clear(&err);
    if (s->headers_too_large) {
        error_set(&err, ERROR_TOO_LARGE, "Request headers exceed %d bytes.", GRPC_MAX_HEADER_BYTES);
        goto fail;
    }
    if (!read_content_type(s)) {
        /* not a gRPC call at all: the gRPC spec's answer is HTTP 415 */
        nghttp2_nv headers[] = {NV(":status", "415", 3)};
        nghttp2_submit_response(conn->session, s->id, headers, 1, NULL);
        s->responded = 1;
        answer_begin(conn, s, 0);
        log_call(s, 415, -1, 0);
        return;
    }
    const ProtobufCMethodDescriptor *method = route_rpc_method(s->path.base, s->path.len);
    if (!s->is_post || method == NULL) {
        error_set(&err, ERROR_UNIMPLEMENTED, "Unknown method %.*s.", (int)s->path.len, s->path.base);
        goto fail;
    }
    if (s->body_too_large) {
        error_set(&err, ERROR_TOO_LARGE, "The message exceeds the limit of %zu bytes.", limit);
        goto fail;
    }
    if (s->timeout_malformed) {
        error_add_param(&err, ERROR_IN_HEADER, ERROR_ORDER_HEADER, "grpc-timeout",
                        "must be given once, as 1 to 8 digits and a unit (H, M, S, m, u or n)");
        goto fail;
    }
    gzip_coding coding = gzip_coding_of(s->encoding.base, s->encoding.len);
    if (coding == GZIP_UNSUPPORTED) { /* the spec's answer; grpc-accept-encoding names what is */
        error_set(&err, ERROR_UNIMPLEMENTED, "The call's grpc-encoding is not supported: use " GZIP_NAME " or identity.");
        goto fail;
    }
    if (deadlinetimer_is_due(&s->deadline)) { /* work whose deadline passed is not begun */
        deadline_error(s, &err);
        goto fail;
    }
    if (outflow_admit(&conn->out, &err) != OUTFLOW_ADMITTED)
        goto fail;
    const uint8_t *msg;
    size_t msg_len;
    ProtobufCAllocator pool = poolalloc_make(&s->pool); /* an inflated message lives as the body does */
    if (codec_grpc_unframe((const uint8_t *)s->body->bytes, s->body->size, limit, coding, &pool, &msg, &msg_len, &err) !=
        0)
        goto fail;
    if (msg != (const uint8_t *)s->body->bytes + CODEC_GRPC_FRAME_HEADER) { /* inflated: held as the body is */
        s->held += msg_len;
        outflow_charge(&conn->out, msg_len);
    }
    grpc_call *call = malloc(sizeof(*call));
    if (call == NULL) {
        error_set(&err, ERROR_INTERNAL, "Out of memory.");
        goto fail;
    }
    completion_start(&call->done, &conn->ctx->receiver, on_call_finished);
    call->done.release = on_call_released;
    call->conn = conn;
    call->stream = s;
    core_call_init(&call->call, CORE_METHODS);
    call->call.done = on_call_done;
    call->call.data = call;
    s->call = call;
    s->responded = 1; /* the request is consumed; what follows it is ignored */
    rpc_headers headers = {s->authorization.base, s->authorization.len, s->idempotency_key.base,
                           s->idempotency_key.len};
    /* decoded into the call's own memory: the stream may close before a waiting call ends */
    if (rpc_handle(c, method, s->codec, &headers, msg, msg_len, core_call_memory(&call->call), &call->call) ==
        CORE_PENDING)
        return;
    completion_cancel(&call->done);
    s->call = NULL;
    call_respond(call);
    core_call_release(&call->call);
    free(call);
    return;
fail:
    respond_error(conn, s, &err);
}

/* ---- nghttp2 callbacks --------------------------------------------------------------- */

/* A client's new streams take ever higher ids, and a HEADERS frame that goes back to a lower
 * id is a connection error PROTOCOL_ERROR (RFC 9113 §5.1.1). nghttp2 1.52 ignores a HEADERS
 * frame on a lower id it holds no stream for (nghttp2_session_on_request_headers_received:
 * it cannot tell an id never used from a stream it closed and forgot, on which a client
 * may still send trailers it wrote before our RST_STREAM reached it), and no session
 * option changes that. So, as Go's server does, hookgate ends the connection with GOAWAY
 * PROTOCOL_ERROR (counted in /metrics) for HEADERS on an id at or below the highest the
 * client used that is no stream nghttp2 still holds; nghttp2 judges frames on the streams
 * it holds. The price is that late trailers on a stream already reset cost their
 * connection; gRPC clients send no trailers. */
static int on_begin_frame(nghttp2_session *session, const nghttp2_frame_hd *hd, void *user_data)
{
    grpc_conn *conn = user_data;
    if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_DATA || hd->type == NGHTTP2_CONTINUATION) {
        /* the idle timer: frames of a request only (a PING keeps no connection open) */
        h2o_timeout_unlink(&conn->idle);
        h2o_timeout_link(h2o_socket_get_loop(conn->sock), idle_timeout(conn->ctx, h2o_socket_get_loop(conn->sock)), &conn->idle);
    }
    if (hd->type != NGHTTP2_HEADERS || (hd->stream_id & 1) == 0)
        return 0; /* an even id is nghttp2's to refuse */
    if (hd->stream_id > conn->max_stream_id) {
        conn->max_stream_id = hd->stream_id;
        return 0;
    }
    if (nghttp2_session_find_stream(session, hd->stream_id) != NULL)
        return 0;
    metrics_stream_id_backwards();
    /* nghttp2 reads nothing more of the connection once this is queued */
    return nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    grpc_conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    grpc_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    s->id = frame->hd.stream_id;
    s->conn = conn;
    s->answer_type = h2o_iovec_init(H2O_STRLIT(MEDIA_GRPC)); /* until read_content_type knows better */
    h2o_mem_init_pool(&s->pool);
    h2o_buffer_init(&s->body, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&s->answers, &h2o_socket_buffer_prototype);
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    h2o_linklist_insert(&conn->streams, &s->link);
    nghttp2_session_set_stream_user_data(session, s->id, s);
    return 0;
}

/* Keeps a header value in the stream's pool (a stream costs what its headers take, not a
 * fixed buffer of the bound); past GRPC_MAX_HEADER_BYTES in all, flags the stream. */
static void keep(grpc_stream *s, h2o_iovec_t *dst, const uint8_t *value, size_t len)
{
    if (s->headers_used + len > GRPC_MAX_HEADER_BYTES) {
        s->headers_too_large = 1;
        return;
    }
    *dst = h2o_strdup(&s->pool, (const char *)value, len);
    s->headers_used += len;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)flags, (void)user_data;
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        keep(s, &s->path, value, valuelen);
    else if (namelen == 7 && memcmp(name, ":method", 7) == 0)
        s->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
    else if (namelen == 12 && memcmp(name, "content-type", 12) == 0)
        keep(s, &s->content_type, value, valuelen);
    else if (namelen == 13 && memcmp(name, "authorization", 13) == 0)
        keep(s, &s->authorization, value, valuelen);
    else if (namelen == 15 && memcmp(name, "idempotency-key", 15) == 0) {
        if (s->idempotency_key.base != NULL)
            s->idempotency_key = h2o_iovec_init("", 0); /* ambiguous: the core refuses it */
        else
            keep(s, &s->idempotency_key, value, valuelen);
    } else if (namelen == 12 && memcmp(name, "grpc-timeout", 12) == 0) {
        if (s->timeout.base != NULL)
            s->timeout = h2o_iovec_init("", 0); /* ambiguous: refused as malformed */
        else
            keep(s, &s->timeout, value, valuelen);
    } else if (namelen == 13 && memcmp(name, "grpc-encoding", 13) == 0)
        keep(s, &s->encoding, value, valuelen);
    else if (namelen == 20 && memcmp(name, "grpc-accept-encoding", 20) == 0)
        keep(s, &s->accept_encoding, value, valuelen);
    else if (namelen == 12 && memcmp(name, "x-request-id", 12) == 0 && s->request_id.base == NULL)
        keep(s, &s->request_id, value, valuelen); /* the first, as over HTTP; reqlog judges it */
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                         void *user_data)
{
    (void)flags;
    grpc_conn *conn = user_data;
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s == NULL || s->responded)
        return 0;
    if (s->streaming != NULL)
        return stream_data(conn, s, data, len);
    if (s->body->size + len > core_config_now(conn->ctx->core)->limits.max_body_bytes + CODEC_GRPC_FRAME_HEADER) {
        /* answer now and stop the upload rather than buffer it */
        s->body_too_large = 1;
        s->reset_after_reply = 1;
        serve(conn, s);
        return 0;
    }
    error err;
    if (outflow_admit(&conn->out, &err) != OUTFLOW_ADMITTED) {
        /* the buffers are full: answer now and stop the upload rather than buffer it */
        s->reset_after_reply = 1;
        respond_error(conn, s, &err);
        return 0;
    }
    if (body_append(conn, s, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    grpc_conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    int ended = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (s != NULL && !s->responded && frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        deadline_begin(conn, s);
        stream_begin(s);
    }
    if (s != NULL && !s->responded && ended) {
        server_connection_seen(conn->sock); /* a whole request: not a squatter */
        if (s->streaming != NULL)
            stream_end(conn, s);
        else
            serve(conn, s);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    (void)error_code;
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s != NULL) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(user_data, s);
    }
    return 0;
}

/* A reset submitted with the answer would discard the answer: it goes once the answer's
 * last frame is out. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    grpc_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s != NULL && s->reset_after_reply)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    return 0;
}

/* ---- accepting ----------------------------------------------------------------------- */

static nghttp2_session_callbacks *callbacks; /* made once, read-only afterwards */

static void callbacks_make(void)
{
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
}

static void start_session(grpc_conn *conn)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, callbacks_make);
    /* rapid reset (CVE-2023-44487): nghttp2 sends GOAWAY to a client over the budget */
    unsigned resets = core_config_now(conn->ctx->core)->limits.resets_per_second_per_connection;
    nghttp2_option *option = NULL;
    int rc = -1;
    if (callbacks != NULL && nghttp2_option_new(&option) == 0) {
        nghttp2_option_set_stream_reset_rate_limit(option, resets, resets);
        rc = nghttp2_session_server_new2(&conn->session, callbacks, conn, option);
        nghttp2_option_del(option);
    }
    if (rc != 0) {
        conn_free(conn);
        return;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, GRPC_MAX_CONCURRENT_STREAMS},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_BYTES * 4},
    };
    nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings, 2);
    h2o_linklist_insert(&conn->ctx->connections, &conn->link);
    if (conn->ctx->stopping)
        nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
    conn->idle.cb = on_idle;
    h2o_timeout_link(h2o_socket_get_loop(conn->sock), idle_timeout(conn->ctx, h2o_socket_get_loop(conn->sock)), &conn->idle);
    h2o_socket_read_start(conn->sock, on_read);
    if (conn->sock->input->size > 0)
        on_read(conn->sock, NULL);
    else
        conn_flush(conn);
}

/* A TLS handshake that does not finish in time: a client that never starts one would
 * otherwise hold its connection, and a place under server.max_connections, for ever. */
static void on_handshake_timeout(h2o_timeout_entry_t *entry)
{
    conn_free(H2O_STRUCT_FROM_MEMBER(grpc_conn, idle, entry));
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    grpc_conn *conn = sock->data;
    if (h2o_timeout_is_linked(&conn->idle))
        h2o_timeout_unlink(&conn->idle);
    h2o_iovec_t proto = err == NULL ? h2o_socket_ssl_get_selected_protocol(sock) : h2o_iovec_init(NULL, 0);
    if (err != NULL || !h2o_memis(proto.base, proto.len, H2O_STRLIT("h2"))) {
        conn_free(conn); /* gRPC is HTTP/2 only */
        return;
    }
    start_session(conn);
}

void grpc_accept(grpc_context *ctx, h2o_socket_t *sock, SSL_CTX *ssl_ctx)
{
    grpc_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        h2o_socket_close(sock);
        return;
    }
    conn->ctx = ctx;
    conn->sock = sock;
    outflow_init(&conn->out, on_stall);
    h2o_linklist_init_anchor(&conn->streams);
    sock->data = conn;
    h2o_buffer_init(&conn->pending, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&conn->inflight, &h2o_socket_buffer_prototype);
    if (ssl_ctx != NULL) {
        if (ctx->handshake != NULL) {
            conn->idle.cb = on_handshake_timeout; /* start_session makes it the idle timer */
            h2o_timeout_link(h2o_socket_get_loop(sock), ctx->handshake, &conn->idle);
        }
        h2o_socket_ssl_handshake(sock, ssl_ctx, NULL, on_handshake);
    } else
        start_session(conn);
}

void grpc_context_request_shutdown(grpc_context *ctx)
{
    ctx->stopping = 1;
    for (h2o_linklist_t *l = ctx->connections.next; l != &ctx->connections;) {
        grpc_conn *conn = H2O_STRUCT_FROM_MEMBER(grpc_conn, link, l);
        l = l->next; /* conn_flush may close conn */
        nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(conn->session),
                              NGHTTP2_NO_ERROR, NULL, 0);
        conn_flush(conn);
    }
}
