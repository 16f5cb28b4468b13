/* http: see http.h. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "codec_json.h"
#include "codec_query.h"

#define HTTP_ENTITY_HEADROOM (1024 * 1024) /* bytes h2o buffers past our limit to answer 413 */

typedef struct http_handler {
    h2o_handler_t super;
    core *core;
} http_handler;

size_t http_h2o_entity_limit(const config_limits *limits)
{
    return limits->max_body_bytes + HTTP_ENTITY_HEADROOM;
}

/* ---- responses ----------------------------------------------------------------------- */

static void access_log(h2o_req_t *req, size_t bytes)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    double ms = (now.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1e3 +
                (now.tv_usec - req->timestamps.request_begin_at.tv_usec) / 1e3;
    fprintf(stderr, "access %.*s %.*s %d %zu %.3fms HTTP/%d.%d\n", (int)req->method.len, req->method.base,
            (int)req->path_normalized.len, req->path_normalized.base, req->res.status, bytes, ms, req->version >> 8,
            req->version & 0xff);
}

static void respond(h2o_req_t *req, int status, const char *reason, const char *content_type, const char *body,
                    size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    access_log(req, len);
    h2o_send_inline(req, body, len);
}

static void respond_text(h2o_req_t *req, int status, const char *reason, const char *text)
{
    respond(req, status, reason, "text/plain; charset=utf-8", text, strlen(text));
}

/* Renders a message as JSON; a failed encode becomes a 500. */
static void respond_message(h2o_req_t *req, int status, const char *reason, const ProtobufCMessage *msg)
{
    size_t len;
    char *json = codec_json_encode(msg, &len);
    if (json == NULL) {
        respond_text(req, 500, "Internal Server Error", "Out of memory.");
        return;
    }
    respond(req, status, reason, "application/json", json, len);
    free(json);
}

static void respond_error(h2o_req_t *req, const error *err)
{
    const error_mapping *m = error_mapping_of(err->kind);
    if (m->error_type == NULL) {
        respond_text(req, m->http_status, m->http_reason, err->reason);
        return;
    }
    error_response r;
    error_to_response(err, &r);
    respond_message(req, m->http_status, m->http_reason, &r.msg.base);
}

static void respond_webhook(h2o_req_t *req, int status, const char *reason, const core_webhook *w)
{
    if (status == 201) {
        char location[64];
        int n = snprintf(location, sizeof(location), "/api/webhooks/%s", w->id_hex);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL,
                       h2o_strdup(&req->pool, location, n).base, n);
    }
    respond_message(req, status, reason, &w->msg.base);
}

static void respond_method_not_allowed(h2o_req_t *req, const char *allow)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    respond_text(req, 405, "Method Not Allowed", "Method not allowed.");
}

/* ---- request helpers ----------------------------------------------------------------- */

/* Message memory comes from the request's pool and goes with it: nothing to free. */
static void *pool_alloc(void *pool, size_t size)
{
    return h2o_mem_alloc_pool(pool, size);
}

static void pool_free(void *pool, void *ptr)
{
    (void)pool, (void)ptr;
}

static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static int is_json(h2o_iovec_t content_type)
{
    size_t n = 0;
    while (n < content_type.len && content_type.base[n] != ';')
        n++;
    while (n > 0 && (content_type.base[n - 1] == ' ' || content_type.base[n - 1] == '\t'))
        n--;
    return n == sizeof("application/json") - 1 && strncasecmp(content_type.base, "application/json", n) == 0;
}

static h2o_iovec_t query_of(h2o_req_t *req)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init("", 0);
    return h2o_iovec_init(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
}

static int authenticate(http_handler *h, h2o_req_t *req, auth_principal *who, error *err)
{
    h2o_iovec_t token = header_value(req, H2O_TOKEN_AUTHORIZATION);
    return auth_authenticate(h->core->cfg, token.base, token.len, who, err);
}

/* ---- routes -------------------------------------------------------------------------- */

static void create_webhook(http_handler *h, h2o_req_t *req)
{
    error err;
    auth_principal who;
    error_clear(&err);
    if (authenticate(h, req, &who, &err) != 0)
        goto fail;
    size_t limit = h->core->cfg->limits.max_body_bytes;
    if (req->entity.len > limit) {
        error_set(&err, ERROR_TOO_LARGE, "Request body exceeds the limit of %zu bytes.", limit);
        goto fail;
    }
    h2o_iovec_t query = query_of(req);
    codec_query_reject(query.base, query.len, &err);

    ProtobufCAllocator alloc = {pool_alloc, pool_free, &req->pool};
    schema_create_request empty = DROPLIT__WEBHOOKS__V1__CREATE_WEBHOOK_REQUEST__INIT;
    const schema_create_request *body = &empty;
    /* a body that is not declared JSON is not read: Droplit reports both required fields */
    if (is_json(header_value(req, H2O_TOKEN_CONTENT_TYPE)) && req->entity.len > 0) {
        body = (schema_create_request *)codec_json_decode(&schema_create_request_descriptor, req->entity.base,
                                                          req->entity.len, &alloc, &err);
        if (body == NULL)
            goto fail;
    }
    core_webhook w;
    int rc = core_create_webhook(h->core, &who, body, &w, &err);
    error_set_default_in(&err, ERROR_IN_BODY);
    if (rc != 0)
        goto fail;
    respond_webhook(req, 201, "Created", &w);
    return;
fail:
    respond_error(req, &err);
}

static void list_webhooks(http_handler *h, h2o_req_t *req)
{
    error err;
    auth_principal who;
    error_clear(&err);
    if (authenticate(h, req, &who, &err) != 0)
        goto fail;
    h2o_iovec_t query = query_of(req);
    ProtobufCAllocator alloc = {pool_alloc, pool_free, &req->pool};
    schema_list_request *lr =
        (schema_list_request *)codec_query_decode(&schema_list_request_descriptor, query.base, query.len, &alloc, &err);
    if (lr == NULL)
        goto fail;
    schema_list_response out;
    int rc = core_list_webhooks(h->core, &who, lr, &alloc, &out, &err);
    error_set_default_in(&err, ERROR_IN_QUERY);
    if (rc != 0)
        goto fail;
    respond_message(req, 200, "OK", &out.base);
    return;
fail:
    respond_error(req, &err);
}

static void get_webhook(http_handler *h, h2o_req_t *req, h2o_iovec_t id)
{
    error err;
    auth_principal who;
    error_clear(&err);
    if (authenticate(h, req, &who, &err) != 0)
        goto fail;
    h2o_iovec_t query = query_of(req);
    schema_get_request gr = DROPLIT__WEBHOOKS__V1__GET_WEBHOOK_REQUEST__INIT;
    gr.id = h2o_strdup(&req->pool, id.base, id.len).base;
    codec_query_reject(query.base, query.len, &err);
    core_webhook w;
    int rc = core_get_webhook(h->core, &who, &gr, &w, &err);
    error_set_default_in(&err, ERROR_IN_PATH);
    if (rc != 0)
        goto fail;
    respond_webhook(req, 200, "OK", &w);
    return;
fail:
    respond_error(req, &err);
}

static int is_method(h2o_req_t *req, const char *method)
{
    return h2o_memis(req->method.base, req->method.len, method, strlen(method));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_handler *h = (http_handler *)self;
    h2o_iovec_t path = req->path_normalized;
    static const char collection[] = "/api/webhooks";

    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz"))) {
        if (!is_method(req, "GET") && !is_method(req, "HEAD"))
            respond_method_not_allowed(req, "GET, HEAD");
        else
            respond_text(req, 200, "OK", "ok\n");
        return 0;
    }
    if (path.len >= 3 && memcmp(path.base, "/v0", 3) == 0 && path.len > 3 && path.base[3] == '/')
        path.base += 3, path.len -= 3; /* /v0/api/... is an alias of /api/... */

    size_t n = sizeof(collection) - 1;
    if (path.len < n || memcmp(path.base, collection, n) != 0 || (path.len > n && path.base[n] != '/')) {
        respond_text(req, 404, "Not Found", "Not found.");
        return 0;
    }
    if (path.len == n || path.len == n + 1) {
        if (is_method(req, "POST"))
            create_webhook(h, req);
        else if (is_method(req, "GET"))
            list_webhooks(h, req);
        else
            respond_method_not_allowed(req, "GET, POST");
        return 0;
    }
    h2o_iovec_t id = h2o_iovec_init(path.base + n + 1, path.len - n - 1);
    if (memchr(id.base, '/', id.len) != NULL)
        respond_text(req, 404, "Not Found", "Not found.");
    else if (is_method(req, "GET"))
        get_webhook(h, req, id);
    else
        respond_method_not_allowed(req, "GET");
    return 0;
}

void http_register(h2o_hostconf_t *host, core *c)
{
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    http_handler *h = (http_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->core = c;
}
