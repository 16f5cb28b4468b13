/* http_rpc: see http_rpc.h.
 *
 * Both protocols end in rpc_handle; this file only unwraps their framing and renders
 * results and errors their way (kinds map to Connect and gRPC codes in wire/status.c's
 * table). gRPC-Web's message codec is the content type's suffix (+proto, +json: the same
 * codecs as Connect's), and its answer carries the media type the request named. */
#include "http_rpc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_connect_get.h"
#include "codec_grpc.h"
#include "deadline.h"
#include "gzip.h"
#include "hg_assert.h"
#include "media.h"
#include "rpc.h"
#include "status.h"

#define MEDIA_GRPC_WEB "application/grpc-web+proto"
#define MEDIA_GRPC_WEB_TEXT "application/grpc-web-text+proto"
#define MEDIA_GRPC_WEB_JSON "application/grpc-web+json"
#define MEDIA_GRPC_WEB_TEXT_JSON "application/grpc-web-text+json"

typedef enum call_protocol { CALL_CONNECT, CALL_GRPC_WEB, CALL_GRPC_WEB_TEXT } call_protocol;

/* A call's deadline, from connect-timeout-ms (Connect) or grpc-timeout (gRPC-Web). */
typedef struct rpc_deadline {
    int set;          /* 0: the request named none */
    uint64_t at;      /* the moment, on the loop's clock (deadlinetimer_now) */
    const char *name; /* the header that set it */
} rpc_deadline;

/* One call's state, off the request's pool: with a journal, a create outlives on_req. */
typedef struct rpc_call {
    http_pending pending; /* first: completion.c frees the struct through it */
    core_call call;
    call_protocol protocol;
    rpc_codec codec;
    const char *content_type; /* the answer's media type (a string literal) */
    const char *deadline_name; /* the header that set the deadline */
    deadlinetimer deadline;    /* armed while a call with a deadline waits for the store */
} rpc_call;

static void rpc_call_run(http_handler *h, h2o_req_t *req, call_protocol protocol, rpc_codec codec,
                         const char *content_type, const ProtobufCMethodDescriptor *method, const uint8_t *body,
                         size_t len, const rpc_deadline *dl);
static void deadline_error(h2o_req_t *req, const char *name, error *err);

/* ---- Connect (unary) ----------------------------------------------------------------- */

/* {"code","message","details":[{"type","value"}]}: the detail is the binary ErrorResponse,
 * so Connect clients see every parameter problem, not just a summary. */
static void connect_respond_error(h2o_req_t *req, const error *err)
{
    const status_mapping *m = status_of(err->kind);
    http_add_retry_after(req, err);
    ProtobufCAllocator alloc = http_pool_allocator(req);
    char message[ERROR_MESSAGE_MAX * 2];
    size_t detail_len, value_len;
    status_summary(err, message, sizeof(message));
    uint8_t *detail = status_error_response_encode(err, &alloc, &detail_len);
    char *value = detail != NULL ? codec_grpc_base64_encode(&alloc, detail, detail_len, 0, &value_len) : NULL;
    json_t *body = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "code", m->connect_code, "message", message, "details",
                             "type", STATUS_ERROR_RESPONSE_TYPE, "value", value != NULL ? value : "");
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        http_respond_text(req, 500, "Internal Server Error", "Out of memory.");
        return;
    }
    http_respond(req, m->connect_status, m->http_reason, "application/json", text, strlen(text));
    free(text);
}

/* A Connect answer's message: compressed when the client accepts gzip and it is long
 * enough (gzip.h). Its encoding then depends on accept-encoding, which vary tells caches
 * (a Connect GET's answer may be cached). */
static void connect_respond(h2o_req_t *req, const char *content_type, const uint8_t *out, size_t len)
{
    if (len >= GZIP_ANSWER_MIN_BYTES)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("accept-encoding"));
    h2o_iovec_t accept = http_header(req, H2O_TOKEN_ACCEPT_ENCODING);
    ProtobufCAllocator alloc = http_pool_allocator(req);
    if (gzip_answer(accept.base, accept.len, &alloc, &out, &len))
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, H2O_STRLIT(GZIP_NAME));
    http_respond_pooled(req, 200, "OK", content_type, out, len);
}

static void serve_connect(http_handler *h, h2o_req_t *req, const ProtobufCMethodDescriptor *method, rpc_codec codec,
                          const char *content_type, const rpc_deadline *dl)
{
    error err;
    error_clear(&err);
    h2o_iovec_t encoding = http_header(req, H2O_TOKEN_CONTENT_ENCODING);
    size_t limit = core_config_now(h->core)->limits.max_body_bytes, len = req->entity.len;
    gzip_coding coding = gzip_coding_of(encoding.base, encoding.len);
    const uint8_t *body = (const uint8_t *)req->entity.base;
    if (coding == GZIP_UNSUPPORTED) { /* Connect's answer: unimplemented; accept-encoding names what is */
        error_set(&err, ERROR_UNIMPLEMENTED, "The request's content-encoding is not supported: use " GZIP_NAME
                                             " or identity.");
        goto fail;
    }
    if (len > limit) {
        error_set(&err, ERROR_TOO_LARGE, "Request body exceeds the limit of %zu bytes.", limit);
        goto fail;
    }
    if (coding == GZIP_GZIP) { /* held to the same limit once inflated */
        ProtobufCAllocator alloc = http_pool_allocator(req);
        uint8_t *inflated;
        if (gzip_decode(body, len, limit, &alloc, &inflated, &len, &err) != 0)
            goto fail;
        body = inflated;
    }
    rpc_call_run(h, req, CALL_CONNECT, codec, content_type, method, body, len, dl);
    return;
fail:
    connect_respond_error(req, &err);
}

/* A Connect unary GET (route_find let it through only for a NO_SIDE_EFFECTS method): the
 * message and its codec come from the query string, held to the body's limit; then it is
 * a Connect call like a POST's. */
static void serve_connect_get(http_handler *h, h2o_req_t *req, const ProtobufCMethodDescriptor *method,
                              const rpc_deadline *dl)
{
    HG_ASSERT(route_rpc_no_side_effects(method));
    error err;
    ProtobufCAllocator alloc = http_pool_allocator(req);
    h2o_iovec_t query = http_query(req);
    codec_connect_get get;
    if (codec_connect_get_decode(query.base, query.len, core_config_now(h->core)->limits.max_body_bytes, &alloc, &get,
                                 &err) != 0) {
        connect_respond_error(req, &err);
        return;
    }
    if (get.encoding == CODEC_CONNECT_UNSUPPORTED) {
        http_respond_text(req, 415, "Unsupported Media Type", "Unsupported encoding: use encoding=json or encoding=proto.");
        return;
    }
    int json = get.encoding == CODEC_CONNECT_JSON;
    rpc_call_run(h, req, CALL_CONNECT, json ? RPC_CODEC_JSON : RPC_CODEC_PROTO,
                 json ? "application/json" : "application/proto", method, get.message, get.message_len, dl);
}

/* ---- gRPC-Web ------------------------------------------------------------------------ */

/* Sends the data frames (framed: header and message each) + the trailer frame, base64 as a
 * whole for -text, as content_type (the request's gRPC-Web media type, with its codec).
 * Errors ride in the trailer frame (HTTP status 200), as gRPC-Web has no HTTP trailers to
 * put them in. */
static void grpc_web_respond_frames(h2o_req_t *req, int text, const char *content_type, const uint8_t *frames,
                                    size_t frames_len, const error *err)
{
    ProtobufCAllocator alloc = http_pool_allocator(req);
    codec_grpc_status st;
    codec_grpc_status_make(err, &alloc, &st);
    size_t tcap = sizeof(st.message) + st.details_len + 96;
    char *trailer = h2o_mem_alloc_pool(&req->pool, tcap);
    int tlen = snprintf(trailer, tcap, "grpc-status: %d\r\ngrpc-message: %s\r\n", st.code, st.message);
    if (st.details_len > 0)
        tlen += snprintf(trailer + tlen, tcap - (size_t)tlen, "grpc-status-details-bin: %s\r\n", st.details);

    size_t total = frames_len + CODEC_GRPC_FRAME_HEADER + (size_t)tlen;
    uint8_t *body = h2o_mem_alloc_pool(&req->pool, total), *p = body;
    if (frames_len > 0)
        memcpy(p, frames, frames_len);
    p += frames_len;
    codec_grpc_frame_header(p, CODEC_GRPC_FLAG_TRAILER, (size_t)tlen);
    memcpy(p + CODEC_GRPC_FRAME_HEADER, trailer, (size_t)tlen);
    if (!text) {
        http_respond_pooled(req, 200, "OK", content_type, body, total);
        return;
    }
    size_t b64_len;
    char *b64 = codec_grpc_base64_encode(&alloc, body, total, 1, &b64_len);
    http_respond_pooled(req, 200, "OK", content_type, b64, b64_len);
}

/* [msg] + trailer frame: a unary call's answer, the message compressed as native gRPC's
 * is (grpc.c) when the client accepts gzip and it is large enough; the trailer frame never. */
static void grpc_web_respond(h2o_req_t *req, int text, const char *content_type, const uint8_t *msg, size_t msg_len,
                             const error *err)
{
    uint8_t *frame = NULL, flag = 0;
    h2o_iovec_t accept = http_header_named(req, H2O_STRLIT("grpc-accept-encoding"));
    ProtobufCAllocator alloc = http_pool_allocator(req);
    if (msg != NULL && gzip_answer(accept.base, accept.len, &alloc, &msg, &msg_len)) {
        flag = CODEC_GRPC_FLAG_COMPRESSED;
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-encoding"), 0, NULL,
                              H2O_STRLIT(GZIP_NAME));
    }
    if (msg != NULL) {
        frame = h2o_mem_alloc_pool(&req->pool, CODEC_GRPC_FRAME_HEADER + msg_len);
        codec_grpc_frame_header(frame, flag, msg_len);
        memcpy(frame + CODEC_GRPC_FRAME_HEADER, msg, msg_len);
    }
    grpc_web_respond_frames(req, text, content_type, frame, msg != NULL ? CODEC_GRPC_FRAME_HEADER + msg_len : 0, err);
}

/* A method whose requests are a stream (server reflection), given the whole body as h2o
 * hands it over: every request it holds is answered in order, then the status. The first
 * refusal ends the answer there, as on a native gRPC stream; the answers wait in `frames`
 * until the body's end, held to RPC_MAX_STREAM_BUFFERED_BYTES. */
static void serve_grpc_web_stream(http_handler *h, h2o_req_t *req, const ProtobufCMethodDescriptor *method, int text,
                                  rpc_codec codec, const char *content_type, const uint8_t *body, size_t len,
                                  const rpc_deadline *dl)
{
    error err;
    error_clear(&err);
    size_t limit = core_config_now(h->core)->limits.max_body_bytes;
    h2o_buffer_t *frames;
    h2o_buffer_init(&frames, &h2o_socket_buffer_prototype);
    if (dl->set && deadlinetimer_now(http_deadlines(req, &h->super)) >= dl->at)
        deadline_error(req, dl->name, &err);
    for (unsigned n = 0; err.kind == ERROR_NONE && len > 0; n++) {
        const uint8_t *msg;
        size_t msg_len, used;
        int rc = codec_grpc_frame_next(body, len, limit, &msg, &msg_len, &used, &err);
        if (rc < 0)
            break;
        if (rc == 0) {
            error_set(&err, ERROR_INVALID_BODY, "The body ends inside a message.");
            break;
        }
        if (n == RPC_MAX_STREAM_MESSAGES) {
            error_set(&err, ERROR_TOO_LARGE, "A stream carries at most %d messages.", RPC_MAX_STREAM_MESSAGES);
            break;
        }
        if (frames->size >= RPC_MAX_STREAM_BUFFERED_BYTES) {
            error_set(&err, ERROR_TOO_LARGE, "The call's answers exceed %u bytes.", RPC_MAX_STREAM_BUFFERED_BYTES);
            break;
        }
        rpc_stream_answer(method, codec, msg, msg_len, &frames, &err); /* a refusal sets err: the loop ends */
        body += used;
        len -= used;
    }
    grpc_web_respond_frames(req, text, content_type, (const uint8_t *)frames->bytes, frames->size,
                            err.kind != ERROR_NONE ? &err : NULL);
    h2o_buffer_dispose(&frames);
}

static void serve_grpc_web(http_handler *h, h2o_req_t *req, const ProtobufCMethodDescriptor *method, int text,
                           rpc_codec codec, const char *content_type, const rpc_deadline *dl)
{
    error err;
    error_clear(&err);
    ProtobufCAllocator alloc = http_pool_allocator(req);
    const uint8_t *body = (const uint8_t *)req->entity.base, *msg;
    size_t len = req->entity.len, msg_len, limit = core_config_now(h->core)->limits.max_body_bytes;
    size_t framed_limit = limit + CODEC_GRPC_FRAME_HEADER;
    if (len > (text ? (framed_limit + 2) / 3 * 4 : framed_limit)) {
        error_set(&err, ERROR_TOO_LARGE, "Request body exceeds the limit of %zu bytes.", limit);
        goto fail;
    }
    if (text) {
        uint8_t *decoded;
        if (codec_grpc_base64_decode(&alloc, req->entity.base, len, &decoded, &len) != 0) {
            error_set(&err, ERROR_INVALID_BODY, "The grpc-web-text body is not base64.");
            goto fail;
        }
        body = decoded;
    }
    h2o_iovec_t encoding = http_header_named(req, H2O_STRLIT("grpc-encoding"));
    gzip_coding coding = gzip_coding_of(encoding.base, encoding.len);
    if (coding == GZIP_UNSUPPORTED) { /* the gRPC spec's answer; grpc-accept-encoding names what is */
        error_set(&err, ERROR_UNIMPLEMENTED, "The call's grpc-encoding is not supported: use " GZIP_NAME " or identity.");
        goto fail;
    }
    if (route_rpc_client_streaming(method)) {
        serve_grpc_web_stream(h, req, method, text, codec, content_type, body, len, dl);
        return;
    }
    if (codec_grpc_unframe(body, len, limit, coding, &alloc, &msg, &msg_len, &err) != 0)
        goto fail;
    rpc_call_run(h, req, text ? CALL_GRPC_WEB_TEXT : CALL_GRPC_WEB, codec, content_type, method, msg, msg_len, dl);
    return;
fail:
    grpc_web_respond(req, text, content_type, NULL, 0, &err);
}

/* ---- the call, which may wait for the journal ----------------------------------------- */

/* An error before or instead of the call, in the protocol's form. */
static void call_respond_error(h2o_req_t *req, call_protocol protocol, const char *content_type, const error *err)
{
    if (protocol == CALL_CONNECT)
        connect_respond_error(req, err);
    else
        grpc_web_respond(req, protocol == CALL_GRPC_WEB_TEXT, content_type, NULL, 0, err);
}

static void rpc_call_respond(rpc_call *call, h2o_req_t *req)
{
    core_call *c = &call->call;
    ProtobufCAllocator alloc = http_pool_allocator(req);
    size_t len = 0;
    codec_json_memo memo = core_call_memo(c);
    uint8_t *out = c->response != NULL ? rpc_encode(call->codec, c->response, &memo, &alloc, &len) : NULL;
    if (c->response != NULL && out == NULL)
        error_set(&c->err, ERROR_INTERNAL, "Out of memory.");
    if (out != NULL)
        http_add_replayed(req, c->replayed);
    if (call->protocol == CALL_CONNECT) {
        if (out != NULL)
            connect_respond(req, call->content_type, out, len);
        else
            connect_respond_error(req, &c->err);
    } else {
        grpc_web_respond(req, call->protocol == CALL_GRPC_WEB_TEXT, call->content_type, out, len,
                         out != NULL ? NULL : &c->err);
    }
}

static void on_call_finished(http_pending *p, h2o_req_t *req)
{
    deadlinetimer_stop(&((rpc_call *)p)->deadline);
    rpc_call_respond((rpc_call *)p, req);
}

static void on_call_done(core_call *c)
{
    http_pending_post(&((rpc_call *)c->data)->pending);
}

/* The call's struct is freed (answered, or its client gone): its memory goes with it. */
static void on_call_released(http_pending *p)
{
    deadlinetimer_stop(&((rpc_call *)p)->deadline);
    core_call_release(&((rpc_call *)p)->call);
}

static void deadline_error(h2o_req_t *req, const char *name, error *err)
{
    h2o_iovec_t v = http_header_named(req, name, strlen(name));
    error_set(err, ERROR_DEADLINE_EXCEEDED, "The call's deadline (%s %.*s) passed before its answer.", name,
              (int)v.len, v.base);
}

/* The deadline passed while the store has the call: answered now, and the store's answer,
 * when it comes, is dropped (as when the client goes). A request already gone has nobody
 * to answer. */
static void on_call_deadline(deadlinetimer *t)
{
    rpc_call *call = H2O_STRUCT_FROM_MEMBER(rpc_call, deadline, t);
    h2o_req_t *req = call->pending.req;
    if (req == NULL)
        return;
    http_pending_abandon(&call->pending);
    error err;
    deadline_error(req, call->deadline_name, &err);
    call_respond_error(req, call->protocol, call->content_type, &err);
}

static void rpc_call_run(http_handler *h, h2o_req_t *req, call_protocol protocol, rpc_codec codec,
                         const char *content_type, const ProtobufCMethodDescriptor *method, const uint8_t *body,
                         size_t len, const rpc_deadline *dl)
{
    deadlinetimer_wheel *wheel = http_deadlines(req, &h->super);
    if (dl->set && deadlinetimer_now(wheel) >= dl->at) { /* work whose deadline passed is not begun */
        error err;
        deadline_error(req, dl->name, &err);
        call_respond_error(req, protocol, content_type, &err);
        return;
    }
    /* off the stack only when the call may wait for the store (see http_rest.c) */
    rpc_call local, *call = core_call_may_wait(h->core, core_method_of(method)) ? malloc(sizeof(*call)) : &local;
    if (call == NULL) {
        error err;
        error_set(&err, ERROR_INTERNAL, "Out of memory.");
        call_respond_error(req, protocol, content_type, &err);
        return;
    }
    call->protocol = protocol;
    call->codec = codec;
    call->content_type = content_type;
    call->deadline_name = dl->name;
    call->deadline = (deadlinetimer){0};
    core_call_init(&call->call, CORE_METHODS);
    call->call.done = on_call_done;
    call->call.data = call;
    /* a call that may wait is decoded into its own memory: the client may leave first */
    ProtobufCAllocator pool = http_pool_allocator(req);
    ProtobufCAllocator *alloc = call != &local ? core_call_memory(&call->call) : &pool;
    h2o_iovec_t token = http_authorization(req), key = http_idempotency_key(req);
    rpc_headers headers = {token.base, token.len, key.base, key.len};
    /* ready before the core runs: the journal may answer from its thread at once */
    if (call != &local)
        http_pending_start(&call->pending, req, &h->super, on_call_finished, on_call_released);
    if (rpc_handle(h->core, method, codec, &headers, body, len, alloc, &call->call) == CORE_PENDING) {
        if (dl->set) /* the answer is on the journal's thread: this loop cannot take it yet */
            deadlinetimer_start(wheel, &call->deadline, dl->at, on_call_deadline);
        return;
    }
    if (call != &local)
        http_pending_cancel(&call->pending);
    rpc_call_respond(call, req);
    core_call_release(&call->call);
    if (call != &local)
        free(call);
}

/* ---- deadlines ----------------------------------------------------------------------- */

/* Reads the request's deadline header (name) into dl: 0, or -1 with err set to
 * INVALID_ARGUMENT when it is malformed or given more than once. The deadline counts from
 * the moment the request began to arrive, as h2o recorded it: h2o hands a request over
 * only once its whole body is in. */
static int read_deadline(h2o_req_t *req, const char *name, deadlinetimer_wheel *wheel, rpc_deadline *dl, error *err)
{
    dl->set = 0;
    dl->name = name;
    size_t name_len = strlen(name);
    ssize_t i = h2o_find_header_by_str(&req->headers, name, name_len, -1);
    if (i == -1)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    uint64_t ms;
    int twice = h2o_find_header_by_str(&req->headers, name, name_len, i) != -1;
    int connect = strcmp(name, "connect-timeout-ms") == 0;
    if (twice || (connect ? deadline_connect_parse(v.base, v.len, &ms) : deadline_grpc_parse(v.base, v.len, &ms)) != 0) {
        error_clear(err);
        error_add_param(err, ERROR_IN_HEADER, ERROR_ORDER_HEADER, name, "%s",
                        connect ? "must be given once, as 1 to 10 digits (milliseconds)"
                                : "must be given once, as 1 to 8 digits and a unit (H, M, S, m, u or n)");
        return -1;
    }
    const struct timeval *now = h2o_get_timestamp(req->conn->ctx, NULL, NULL), *begin = &req->timestamps.request_begin_at;
    int64_t elapsed = ((int64_t)now->tv_sec - begin->tv_sec) * 1000 + ((int64_t)now->tv_usec - begin->tv_usec) / 1000;
    if (begin->tv_sec == 0 || elapsed < 0)
        elapsed = 0; /* no record, or a clock stepped back: count from now */
    dl->set = 1;
    dl->at = deadlinetimer_now(wheel) + (ms > (uint64_t)elapsed ? ms - (uint64_t)elapsed : 0);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------ */

void http_rpc_serve(http_handler *h, h2o_req_t *req, const route_match *m)
{
    HG_ASSERT((m->id >= ROUTE_RPC_CREATE && m->id <= ROUTE_RPC_ECOSYSTEMS) || m->id == ROUTE_RPC_OTHER);
    h2o_iovec_t ct = http_header(req, H2O_TOKEN_CONTENT_TYPE);
    /* the protocols compress their messages themselves (a gRPC-Web frame, a Connect body
     * by its own rules): h2o's filter, which compresses REST answers, stays out */
    req->compress_hint = H2O_COMPRESS_HINT_DISABLE;
    const ProtobufCMethodDescriptor *method = route_rpc_method(req->path_normalized.base, req->path_normalized.len);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        HG_ASSERT(method != NULL); /* route_find routes GET to the schema's NO_SIDE_EFFECTS methods only */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_ENCODING, NULL, H2O_STRLIT(GZIP_NAME));
        error err;
        rpc_deadline dl;
        if (http_admit(req, &err) != 0 ||
            read_deadline(req, "connect-timeout-ms", http_deadlines(req, &h->super), &dl, &err) != 0)
            connect_respond_error(req, &err);
        else
            serve_connect_get(h, req, method, &dl);
        return;
    }
    call_protocol protocol = CALL_CONNECT;
    rpc_codec codec = RPC_CODEC_PROTO;
    const char *answer_type = NULL;

    /* gRPC-Web answers in the media type it was asked in: with the suffix when the
     * request had one (a bare type means +proto) */
    if (media_type_is(ct.base, ct.len, "application/grpc-web") || media_type_is(ct.base, ct.len, MEDIA_GRPC_WEB))
        protocol = CALL_GRPC_WEB, answer_type = MEDIA_GRPC_WEB;
    else if (media_type_is(ct.base, ct.len, MEDIA_GRPC_WEB_JSON))
        protocol = CALL_GRPC_WEB, codec = RPC_CODEC_JSON, answer_type = MEDIA_GRPC_WEB_JSON;
    else if (media_type_is(ct.base, ct.len, "application/grpc-web-text") ||
             media_type_is(ct.base, ct.len, MEDIA_GRPC_WEB_TEXT))
        protocol = CALL_GRPC_WEB_TEXT, answer_type = MEDIA_GRPC_WEB_TEXT;
    else if (media_type_is(ct.base, ct.len, MEDIA_GRPC_WEB_TEXT_JSON))
        protocol = CALL_GRPC_WEB_TEXT, codec = RPC_CODEC_JSON, answer_type = MEDIA_GRPC_WEB_TEXT_JSON;
    else if (media_type_is(ct.base, ct.len, "application/proto"))
        answer_type = "application/proto";
    else if (media_type_is(ct.base, ct.len, "application/json"))
        codec = RPC_CODEC_JSON, answer_type = "application/json";
    else {
        /* Connect's answer to an unsupported codec: 415 */
        h2o_add_header_by_str(
            &req->pool, &req->res.headers, H2O_STRLIT("accept-post"), 0, NULL,
            H2O_STRLIT("application/proto, application/json, " MEDIA_GRPC_WEB ", " MEDIA_GRPC_WEB_TEXT
                       ", " MEDIA_GRPC_WEB_JSON ", " MEDIA_GRPC_WEB_TEXT_JSON));
        http_respond_text(req, 415, "Unsupported Media Type",
                          media_type_is(ct.base, ct.len, "application/grpc")
                              ? "Native gRPC is served on the server.grpc listeners, not here."
                              : "Unsupported content type.");
        return;
    }
    /* what the answer says the server reads: every answer, errors too (a client learns it
     * from the first) */
    if (protocol == CALL_CONNECT)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_ENCODING, NULL, H2O_STRLIT(GZIP_NAME));
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-accept-encoding"), 0, NULL,
                              H2O_STRLIT(GZIP_NAME));
    error err;
    rpc_deadline dl;
    if (method == NULL) {
        error_set(&err, ERROR_UNIMPLEMENTED, "Unknown method %.*s.", (int)req->path_normalized.len,
                  req->path_normalized.base);
        call_respond_error(req, protocol, answer_type, &err);
    } else if (http_admit(req, &err) != 0 ||
               read_deadline(req, protocol == CALL_CONNECT ? "connect-timeout-ms" : "grpc-timeout",
                             http_deadlines(req, &h->super), &dl, &err) != 0) {
        call_respond_error(req, protocol, answer_type, &err);
    } else if (protocol == CALL_CONNECT)
        serve_connect(h, req, method, codec, answer_type, &dl);
    else
        serve_grpc_web(h, req, method, protocol == CALL_GRPC_WEB_TEXT, codec, answer_type, &dl);
}
