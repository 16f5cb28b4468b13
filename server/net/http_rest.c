/* http_rest: see http_rest.h. */
#include "http_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "codec_query.h"
#include "metrics.h"
#include "rpc.h"
#include "status.h"

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
    if (http_media_type_is(media, MEDIA_PROTO))
        return REST_PROTO;
    return http_media_type_is(media, MEDIA_PROTO_ALT) ? REST_PROTO_ALT : REST_JSON;
}

static const char *media_of(rest_format format)
{
    return format == REST_PROTO ? MEDIA_PROTO : format == REST_PROTO_ALT ? MEDIA_PROTO_ALT : MEDIA_JSON;
}

/* Reads ask for binary with Accept (any listed type; q-values are not weighed). */
static rest_format accepted_format(h2o_req_t *req)
{
    h2o_iovec_t accept = http_header(req, H2O_TOKEN_ACCEPT);
    for (size_t i = 0; i < accept.len;) {
        size_t end = i;
        while (end < accept.len && accept.base[end] != ',')
            end++;
        while (i < end && accept.base[i] == ' ')
            i++;
        rest_format format = format_of(h2o_iovec_init(accept.base + i, end - i));
        if (format != REST_JSON)
            return format;
        i = end + 1;
    }
    return REST_JSON;
}

static void respond_message(h2o_req_t *req, rest_format format, int status, const char *reason,
                            const ProtobufCMessage *msg)
{
    ProtobufCAllocator alloc = http_pool_allocator(req);
    size_t len;
    uint8_t *body = rpc_encode(format == REST_JSON ? RPC_CODEC_JSON : RPC_CODEC_PROTO, msg, &alloc, &len);
    if (body == NULL)
        http_respond_text(req, 500, "Internal Server Error", "Out of memory.");
    else
        http_respond(req, status, reason, media_of(format), body, len);
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
    respond_message(req, format, m->http_status, m->http_reason, &r.msg.base);
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
    respond_message(req, format, status, reason, &w->msg.base);
}

static int authenticate(http_handler *h, h2o_req_t *req, auth_principal *who, error *err)
{
    h2o_iovec_t token = http_authorization(req);
    return auth_authenticate(h->core->cfg, token.base, token.len, who, err);
}

/* ---- routes -------------------------------------------------------------------------- */

/* A create, kept off the request's pool: with a journal it outlives on_req. */
typedef struct rest_create {
    http_pending pending; /* first: http.c frees the struct through it */
    core_create op;
    rest_format format;
} rest_create;

static void create_respond(rest_create *rc, h2o_req_t *req)
{
    error_set_default_in(&rc->op.err, ERROR_IN_BODY);
    if (rc->op.stored != NULL) {
        http_add_replayed(req, rc->op.replayed);
        respond_webhook(req, rc->format, 201, "Created", &rc->op.result);
    }
    else
        respond_error(req, rc->format, &rc->op.err);
}

static void on_create_finished(http_pending *p, h2o_req_t *req)
{
    create_respond((rest_create *)p, req);
}

static void on_create_done(core_create *op)
{
    http_pending_post(&((rest_create *)op->data)->pending);
}

static void create_webhook(http_handler *h, h2o_req_t *req)
{
    /* Only a create that may wait for the journal needs its state off the stack; the
     * state holds an error value of a few KiB, so a memory-only server keeps it here. */
    rest_create local, *rc = core_create_may_wait(h->core) ? malloc(sizeof(*rc)) : &local;
    h2o_iovec_t content_type = http_header(req, H2O_TOKEN_CONTENT_TYPE);
    rest_format format = format_of(content_type);
    if (rc == NULL) {
        rc = &local;
        error_set(&rc->op.err, ERROR_INTERNAL, "Out of memory.");
        goto fail;
    }
    error *err = &rc->op.err;
    auth_principal who;
    error_clear(err);
    if (authenticate(h, req, &who, err) != 0)
        goto fail;
    size_t limit = h->core->cfg->limits.max_body_bytes;
    if (req->entity.len > limit) {
        error_set(err, ERROR_TOO_LARGE, "Request body exceeds the limit of %zu bytes.", limit);
        goto fail;
    }
    h2o_iovec_t query = http_query(req);
    codec_query_reject(query.base, query.len, err);

    ProtobufCAllocator alloc = http_pool_allocator(req);
    schema_create_request empty = DROPLIT__WEBHOOKS__V1__CREATE_WEBHOOK_REQUEST__INIT;
    const schema_create_request *body = &empty;
    if (format != REST_JSON) {
        body = (schema_create_request *)codec_proto_decode(
            &schema_create_request_descriptor, (const uint8_t *)req->entity.base, req->entity.len, &alloc, err);
    } else if (http_media_type_is(content_type, MEDIA_JSON) && req->entity.len > 0) {
        /* a body not declared JSON is not read: Droplit then reports both required fields */
        body = (schema_create_request *)codec_json_decode(&schema_create_request_descriptor, req->entity.base,
                                                          req->entity.len, &alloc, err);
    }
    if (body == NULL)
        goto fail;
    rc->op.done = on_create_done;
    rc->op.data = rc;
    rc->format = format;
    /* ready before the core runs: the journal may answer from its thread at once */
    if (rc != &local)
        http_pending_start(&rc->pending, req, &h->super, on_create_finished);
    h2o_iovec_t key = http_idempotency_key(req);
    if (core_create_webhook(h->core, &who, body, key.base, key.len, &rc->op) == CORE_PENDING)
        return;
    if (rc != &local)
        http_pending_cancel(&rc->pending);
    create_respond(rc, req);
    if (rc != &local)
        free(rc);
    return;
fail:
    respond_error(req, format, &rc->op.err);
    if (rc != &local)
        free(rc);
}

static void list_webhooks(http_handler *h, h2o_req_t *req)
{
    error err;
    auth_principal who;
    rest_format format = accepted_format(req);
    error_clear(&err);
    if (authenticate(h, req, &who, &err) != 0)
        goto fail;
    h2o_iovec_t query = http_query(req);
    ProtobufCAllocator alloc = http_pool_allocator(req);
    schema_list_request *lr =
        (schema_list_request *)codec_query_decode(&schema_list_request_descriptor, query.base, query.len, &alloc, &err);
    if (lr == NULL)
        goto fail;
    schema_list_response out;
    int rc = core_list_webhooks(h->core, &who, lr, &alloc, &out, &err);
    error_set_default_in(&err, ERROR_IN_QUERY);
    if (rc != 0)
        goto fail;
    respond_message(req, format, 200, "OK", &out.base);
    return;
fail:
    respond_error(req, format, &err);
}

static void get_webhook(http_handler *h, h2o_req_t *req, h2o_iovec_t id)
{
    error err;
    auth_principal who;
    rest_format format = accepted_format(req);
    error_clear(&err);
    if (authenticate(h, req, &who, &err) != 0)
        goto fail;
    h2o_iovec_t query = http_query(req);
    schema_get_request gr = DROPLIT__WEBHOOKS__V1__GET_WEBHOOK_REQUEST__INIT;
    gr.id = h2o_strdup(&req->pool, id.base, id.len).base;
    codec_query_reject(query.base, query.len, &err);
    core_webhook w;
    int rc = core_get_webhook(h->core, &who, &gr, &w, &err);
    error_set_default_in(&err, ERROR_IN_PATH);
    if (rc != 0)
        goto fail;
    respond_webhook(req, format, 200, "OK", &w);
    return;
fail:
    respond_error(req, format, &err);
}

static int is_method(h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method, strlen(method));
}

/* GET /metrics: Prometheus' text exposition format, without auth (bind it to a trusted
 * network, as usual for metrics). */
static void respond_metrics(http_handler *h, h2o_req_t *req)
{
    journal *j = h->core->journal;
    metrics_gauges g = {
        .webhooks_stored = store_count(h->core->store),
        .journal_queue_depth = j != NULL ? journal_queue_depth(j) : 0,
        .journal_writable = j != NULL ? journal_is_writable(j) : -1,
    };
    size_t len;
    char *text = metrics_render(&g, &len);
    if (text == NULL) {
        http_respond_text(req, 500, "Internal Server Error", "Out of memory.");
        return;
    }
    http_respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

int http_rest_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_handler *h = (http_handler *)self;
    h2o_iovec_t path = req->path_normalized;
    static const char collection[] = "/api/webhooks";
    const size_t n = sizeof(collection) - 1;

    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz"))) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD"))
            http_respond_method_not_allowed(req, "GET, HEAD");
        else
            http_respond_text(req, 200, "OK", "ok\n");
        return 0;
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"))) {
        if (!is_method(req, "GET"))
            http_respond_method_not_allowed(req, "GET");
        else
            respond_metrics(h, req);
        return 0;
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz"))) {
        const char *reason;
        if (!is_method(req, "GET") && !is_method(req, "HEAD"))
            http_respond_method_not_allowed(req, "GET, HEAD");
        else if (core_is_ready(h->core, &reason))
            http_respond_text(req, 200, "OK", "ready\n");
        else
            http_respond_text(req, 503, "Service Unavailable", reason);
        return 0;
    }
    if (path.len > 3 && memcmp(path.base, "/v0/", 4) == 0)
        path.base += 3, path.len -= 3; /* /v0/api/... is an alias of /api/... */

    if (path.len < n || memcmp(path.base, collection, n) != 0 || (path.len > n && path.base[n] != '/')) {
        http_respond_text(req, 404, "Not Found", "Not found.");
        return 0;
    }
    if (path.len == n || path.len == n + 1) {
        if (is_method(req, "POST"))
            create_webhook(h, req);
        else if (is_method(req, "GET"))
            list_webhooks(h, req);
        else
            http_respond_method_not_allowed(req, "GET, POST");
        return 0;
    }
    h2o_iovec_t id = h2o_iovec_init(path.base + n + 1, path.len - n - 1);
    if (memchr(id.base, '/', id.len) != NULL)
        http_respond_text(req, 404, "Not Found", "Not found.");
    else if (is_method(req, "GET"))
        get_webhook(h, req, id);
    else
        http_respond_method_not_allowed(req, "GET");
    return 0;
}
