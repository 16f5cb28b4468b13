/* http_rest: see http_rest.h. */
#include "http_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "codec_query.h"
#include "gzip.h"
#include "hg_assert.h"
#include "media.h"
#include "metrics.h"
#include "outflow.h"
#include "rpc.h"
#include "status.h"

/* gen/openapi.json, embedded by the build (config/embed.cmake) */
extern const char openapi_json[];
extern const size_t openapi_json_len;

#define MEDIA_JSON "application/json"
#define MEDIA_PROTO "application/x-protobuf"
#define MEDIA_PROTO_ALT "application/protobuf"

/* How one exchange is rendered: Droplit's JSON (errors of some kinds as text), or the
 * schema's binary messages (every error an ErrorResponse). */
typedef enum rest_format {
    REST_JSON,
    REST_PROTO,     /* answered as application/x-protobuf */
    REST_PROTO_ALT, /* asked for as application/protobuf, answered so */
} rest_format;

/* The format a media type names; REST_JSON for anything not protobuf. */
static rest_format format_of(h2o_iovec_t media)
{
    if (media_type_is(media.base, media.len, MEDIA_JSON)) /* the usual one, first */
        return REST_JSON;
    if (media_type_is(media.base, media.len, MEDIA_PROTO))
        return REST_PROTO;
    return media_type_is(media.base, media.len, MEDIA_PROTO_ALT) ? REST_PROTO_ALT : REST_JSON;
}

static const char *media_of(rest_format format)
{
    return format == REST_PROTO ? MEDIA_PROTO : format == REST_PROTO_ALT ? MEDIA_PROTO_ALT : MEDIA_JSON;
}

/* Reads ask for binary with Accept (the first protobuf type listed; q-values are not weighed). */
static rest_format accepted_format(h2o_req_t *req)
{
    h2o_iovec_t accept = http_header(req, H2O_TOKEN_ACCEPT);
    for (size_t i = 0; i < accept.len;) {
        size_t end = i;
        while (end < accept.len && accept.base[end] != ',')
            end++;
        rest_format format = format_of(h2o_iovec_init(accept.base + i, end - i));
        if (format != REST_JSON)
            return format;
        i = end + 1;
    }
    return REST_JSON;
}

/* memo: the JSON texts known (core_call_memo), or NULL */
static void respond_message(h2o_req_t *req, rest_format format, int status, const char *reason,
                            const ProtobufCMessage *msg, const codec_json_memo *memo)
{
    ProtobufCAllocator alloc = http_pool_allocator(req);
    size_t len;
    uint8_t *body = rpc_encode(format == REST_JSON ? RPC_CODEC_JSON : RPC_CODEC_PROTO, msg, memo, &alloc, &len);
    if (body == NULL)
        http_respond_text(req, 500, "Internal Server Error", "Out of memory.");
    else
        http_respond_pooled(req, status, reason, media_of(format), body, len);
}

static void respond_error(h2o_req_t *req, rest_format format, const error *err)
{
    const status_mapping *m = status_of(err->kind);
    http_add_retry_after(req, err);
    if (format == REST_JSON && m->rest_plain_text) {
        http_respond_text(req, m->http_status, m->http_reason, err->reason);
        return;
    }
    status_response r;
    status_response_fill(err, &r);
    respond_message(req, format, m->http_status, m->http_reason, &r.msg.base, NULL);
}

static void respond_webhook(h2o_req_t *req, rest_format format, int status, const char *reason, const core_webhook *w)
{
    if (status == 201) {
        static const char prefix[] = "/api/webhooks/";
        size_t n = sizeof(prefix) - 1 + OBJECTID_HEX_LEN;
        char *location = h2o_mem_alloc_pool(&req->pool, n);
        memcpy(location, prefix, sizeof(prefix) - 1);
        memcpy(location + sizeof(prefix) - 1, w->id_hex, OBJECTID_HEX_LEN);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, location, n);
    }
    respond_message(req, format, status, reason, &w->msg.base, NULL);
}

/* ---- routes -------------------------------------------------------------------------- */

/* A call of the core. It lives on the handler's stack unless it may wait for the store
 * (a create with a journal); then it is malloc'd, because it outlives on_req. */
typedef struct rest_call {
    http_pending pending; /* first: completion.c frees the struct through it */
    core_call call;
    rest_format format;
    const route_rest *rest; /* the route's rule: how it answers */
} rest_call;

static const char *reason_of(unsigned status)
{
    return status == 201 ? "Created" : status == 202 ? "Accepted" : "OK";
}

/* The answer the route's rule declares (proto/droplit/api/rest.proto), or the error. */
static void rest_respond(rest_call *rc, h2o_req_t *req)
{
    core_call *c = &rc->call;
    const route_rest *rest = rc->rest;
    HG_ASSERT(rest->status >= 200 && rest->status < 300);
    if (c->response == NULL) {
        respond_error(req, rc->format, &c->err);
        return;
    }
    if (rest->idempotency_key)
        http_add_replayed(req, c->replayed);
    if (rest->answer == REST_ANSWER_EMPTY) {
        http_respond(req, (int)rest->status, reason_of(rest->status), NULL, "", 0); /* no document at all */
    } else if (rest->answer == REST_ANSWER_TEXT && rc->format == REST_JSON) {
        /* Droplit's answer is the text; binary callers get the whole message */
        HG_ASSERT(c->response->descriptor == rest->method->output);
        const char *text = *(char *const *)((const char *)c->response + rest->text_field->offset);
        http_respond_text(req, (int)rest->status, reason_of(rest->status), text);
    } else if (c->method == CORE_CREATE) {
        respond_webhook(req, rc->format, (int)rest->status, reason_of(rest->status), &c->webhook);
    } else {
        codec_json_memo memo = core_call_memo(c);
        respond_message(req, rc->format, (int)rest->status, reason_of(rest->status), c->response, &memo);
    }
}

static void on_call_finished(http_pending *p, h2o_req_t *req)
{
    rest_respond((rest_call *)p, req);
}

/* The call's struct is freed (answered, or its client gone): its memory goes with it. */
static void on_call_released(http_pending *p)
{
    core_call_release(&((rest_call *)p)->call);
}

static void on_call_done(core_call *c)
{
    http_pending_post(&((rest_call *)c->data)->pending);
}

/* Sets up a call of method: the token, the clock, the allocator, and where its parameter
 * problems are. Returns NULL (having answered 500) when out of memory. */
static rest_call *rest_call_begin(http_handler *h, h2o_req_t *req, rest_call *local, const route_rest *rest,
                                  core_method method, rest_format format, ProtobufCAllocator *alloc, error_in where)
{
    rest_call *rc = core_call_may_wait(h->core, method) ? malloc(sizeof(*rc)) : local;
    if (rc == NULL) {
        error err;
        error_set(&err, ERROR_INTERNAL, "Out of memory.");
        respond_error(req, format, &err);
        return NULL;
    }
    core_call_init(&rc->call, method);
    rc->format = format;
    rc->rest = rest;
    h2o_iovec_t token = http_authorization(req);
    rc->call.authorization = token.base;
    rc->call.authorization_len = token.len;
    /* a call that may wait is decoded into its own memory: the client may leave first */
    rc->call.alloc = rc != local ? core_call_memory(&rc->call) : alloc;
    rc->call.default_in = where;
    rc->call.done = on_call_done;
    rc->call.data = rc;
    if (core_method_reads_clock(method))
        rpc_clock(&rc->call);
    return rc;
}

/* Memory of the call's request (see rest_call_begin). */
static void *rest_alloc(rest_call *rc, size_t size)
{
    return rc->call.alloc->alloc(rc->call.alloc->allocator_data, size);
}

/* A copy of s, NUL-terminated, in the call's memory; "" when out of memory (the id is then
 * invalid, and said so). */
static char *rest_strdup(rest_call *rc, h2o_iovec_t s)
{
    char *copy = rest_alloc(rc, s.len + 1);
    if (copy == NULL)
        return "";
    memcpy(copy, s.base, s.len);
    copy[s.len] = '\0';
    return copy;
}

/* Runs the call and answers, now or when the store answers. */
static void rest_call_run(http_handler *h, h2o_req_t *req, rest_call *rc, rest_call *local)
{
    /* ready before the core runs: the store may answer from its thread at once */
    if (rc != local)
        http_pending_start(&rc->pending, req, &h->super, on_call_finished, on_call_released);
    if (core_call_start(h->core, &rc->call) == CORE_PENDING)
        return;
    if (rc != local)
        http_pending_cancel(&rc->pending);
    rest_respond(rc, req);
    core_call_release(&rc->call);
    if (rc != local)
        free(rc);
}

/* The body of a route with one (body "*" or a field) as desc's message, and the query's
 * problems (such a route takes no query string). Binary when the content type names protobuf; JSON when it names
 * JSON; a body not declared JSON is not read: the empty message, for which Droplit reports
 * every required field. NULL when the body is over the limit or unreadable (err says why). */
static ProtobufCMessage *read_body(http_handler *h, h2o_req_t *req, rest_call *rc,
                                   const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc)
{
    error *err = &rc->call.err;
    size_t limit = core_config_now(h->core)->limits.max_body_bytes;
    if (req->entity.len > limit) {
        /* reported after the token is checked: the core decides the order */
        error_set(err, ERROR_TOO_LARGE, "Request body exceeds the limit of %zu bytes.", limit);
        return NULL;
    }
    const uint8_t *body = (const uint8_t *)req->entity.base;
    size_t len = req->entity.len;
    h2o_iovec_t encoding = http_header(req, H2O_TOKEN_CONTENT_ENCODING);
    if (gzip_coding_of(encoding.base, encoding.len) == GZIP_GZIP) {
        /* held to the same limit once inflated (http_rest_serve refused other codings) */
        uint8_t *inflated;
        if (gzip_decode(body, len, limit, alloc, &inflated, &len, err) != 0)
            return NULL;
        body = inflated;
    }
    h2o_iovec_t query = http_query(req);
    codec_query_reject(query.base, query.len, err);
    h2o_iovec_t content_type = http_header(req, H2O_TOKEN_CONTENT_TYPE);
    if (rc->format != REST_JSON)
        return codec_proto_decode(desc, body, len, alloc, err);
    if (media_type_is(content_type.base, content_type.len, MEDIA_JSON) && len > 0)
        return codec_json_decode(desc, (const char *)body, len, alloc, err);
    ProtobufCMessage *empty = alloc->alloc(alloc->allocator_data, desc->sizeof_message);
    if (empty == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    desc->message_init(empty);
    return empty;
}

/* A new message of desc in the call's memory; NULL (err says so) when out of memory. */
static ProtobufCMessage *rest_message(rest_call *rc, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = rest_alloc(rc, desc->sizeof_message);
    if (m == NULL) {
        error_set(&rc->call.err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    desc->message_init(m);
    return m;
}

/* The request of a REST route, read where its rule says (route.h's route_rest, from the
 * schema's google.api.http option): the path's {id}; then the body as the whole request
 * (body "*") or as one field of it (body "changes"), or, without a body, the other fields
 * from the query by their JSON names. A route that reads neither a body nor a query refuses
 * any query parameter. NULL when the request cannot be read (the call's err says why). */
static ProtobufCMessage *rest_request(http_handler *h, h2o_req_t *req, rest_call *rc, h2o_iovec_t id)
{
    const route_rest *rest = rc->rest;
    const ProtobufCMessageDescriptor *in = rest->method->input;
    ProtobufCMessage *m;
    if (rest->body_all) {
        m = read_body(h, req, rc, in, rc->call.alloc);
    } else if (rest->body_field != NULL) {
        ProtobufCMessage *body =
            read_body(h, req, rc, rest->body_field->descriptor, rc->call.alloc);
        m = body != NULL ? rest_message(rc, in) : NULL;
        if (m != NULL)
            *(ProtobufCMessage **)((char *)m + rest->body_field->offset) = body;
    } else if (rest->query) {
        h2o_iovec_t query = http_query(req);
        m = codec_query_decode(in, query.base, query.len, rc->call.alloc, &rc->call.err);
    } else {
        h2o_iovec_t query = http_query(req);
        codec_query_reject(query.base, query.len, &rc->call.err);
        m = rest_message(rc, in);
    }
    if (m != NULL && rest->path_field != NULL) /* the path decides, whatever a body said */
        *(char **)((char *)m + rest->path_field->offset) = rest_strdup(rc, id);
    return m;
}

static int has_body(const route_rest *rest)
{
    return rest->body_all || rest->body_field != NULL;
}

/* A REST call is answered in its body's format (a body sent as protobuf is answered in
 * protobuf, errors included) or, for a route without a body, the format Accept asks for. */
static rest_format call_format(h2o_req_t *req, const route_rest *rest)
{
    return has_body(rest) ? format_of(http_header(req, H2O_TOKEN_CONTENT_TYPE)) : accepted_format(req);
}

/* Every REST route of the API: a call of the route's RPC method, answered as its rule
 * says, in call_format. */
static void rest_serve_call(http_handler *h, h2o_req_t *req, const route_match *match)
{
    const route_rest *rest = match->rest;
    HG_ASSERT(rest != NULL);
    rest_format format = call_format(req, rest);
    error_in where = has_body(rest) ? ERROR_IN_BODY : rest->query ? ERROR_IN_QUERY : ERROR_IN_PATH;
    ProtobufCAllocator alloc = http_pool_allocator(req);
    rest_call local,
        *rc = rest_call_begin(h, req, &local, rest, core_method_of(rest->method), format, &alloc, where);
    if (rc == NULL)
        return;
    if (rest->path_field != NULL && where != ERROR_IN_PATH)
        rc->call.id_in = ERROR_IN_PATH;
    if (rest->idempotency_key) {
        h2o_iovec_t key = http_idempotency_key(req);
        rc->call.idempotency_key = key.base;
        rc->call.idempotency_key_len = key.len;
    }
    rc->call.request = rest_request(h, req, rc, h2o_iovec_init(match->item_id, match->item_id_len));
    rest_call_run(h, req, rc, &local);
}

/* GET /metrics: Prometheus' text exposition format, without auth (bind it to a trusted
 * network, as usual for metrics). */
static void respond_metrics(http_handler *h, h2o_req_t *req)
{
    backend_stats st;
    core_stats(h->core, &st);
    metrics_gauges g = {
        .webhooks_stored = st.webhooks,
        .json_cache_bytes = st.json_cache_bytes,
        .journal_queue_depth = st.queue_depth,
        .journal_writable = st.writable,
        .buffered_bytes = outflow_held_total(),
        .database = st.database,
        .database_connections = st.connections,
        .database_connections_up = st.connections_up,
        .database_in_flight = st.database ? st.queue_depth : 0,
        .database_loops = st.database ? st.loops : 0,
        .database_loop_up = st.loop_up,
        .events = st.events,
        .events_stored = st.event_stats.events,
        .deliveries_pending = st.event_stats.pending,
        .deliveries_in_flight = st.event_stats.in_flight,
        .deliveries_cancelled_by_store = st.event_stats.cancelled,
    };
    if (st.events && st.event_stats.oldest_due_ms != 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t lag_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - st.event_stats.oldest_due_ms;
        g.delivery_lag_seconds = lag_ms > 0 ? (double)lag_ms / 1000 : 0;
    }
    size_t len;
    char *text = metrics_render(&g, &len);
    if (text == NULL) {
        http_respond_text(req, 500, "Internal Server Error", "Out of memory.");
        return;
    }
    http_respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

void http_rest_serve(http_handler *h, h2o_req_t *req, const route_match *m)
{
    const char *reason;
    error err;
    h2o_iovec_t encoding = http_header(req, H2O_TOKEN_CONTENT_ENCODING);
    if (gzip_coding_of(encoding.base, encoding.len) == GZIP_UNSUPPORTED) {
        /* a body in a coding this server cannot read: RFC 9110's 415, and what it can read */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_ENCODING, NULL, H2O_STRLIT(GZIP_NAME));
        http_respond_text(req, 415, "Unsupported Media Type",
                          "Unsupported content-encoding: send the body as " GZIP_NAME " or identity.");
        return;
    }
    /* the API's calls are new work, refused while unread answers fill the buffers; the
     * operator's /healthz, /readyz and /metrics (small, answered inline) stay open */
    if ((m->id == ROUTE_CREATE || m->id == ROUTE_LIST || m->id == ROUTE_GET || m->id == ROUTE_PUBLISH) &&
        http_admit(req, &err) != 0) {
        respond_error(req, call_format(req, m->rest), &err);
        return;
    }
    if (m->rest != NULL) {
        rest_serve_call(h, req, m);
        return;
    }
    switch (m->id) {
    case ROUTE_HEALTHZ:
        http_respond_text(req, 200, "OK", "ok\n");
        break;
    case ROUTE_READYZ:
        if (core_is_ready(h->core, &reason))
            http_respond_text(req, 200, "OK", "ready\n");
        else
            http_respond_text(req, 503, "Service Unavailable", reason);
        break;
    case ROUTE_METRICS:
        respond_metrics(h, req);
        break;
    case ROUTE_OPENAPI: /* the document, as generated from the schema: static, so no token */
        http_respond_pooled(req, 200, "OK", MEDIA_JSON, openapi_json, openapi_json_len); /* static: not copied */
        break;
    default:
        HG_ASSERT(!"a route http_rest does not serve");
    }
}
