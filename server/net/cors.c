/* cors: see cors.h. */
#include "cors.h"

#include <string.h>

#include "hg_assert.h"

/* Copied once at start-up (cors_configure), before any loop thread reads them. */
static char origins[CONFIG_MAX_CORS_ORIGINS][CONFIG_ORIGIN_MAX];
static size_t origin_lens[CONFIG_MAX_CORS_ORIGINS];
static size_t n_origins;

/* The methods the REST routes and the RPC protocols use (route.c's table). */
#define CORS_ALLOW_METHODS "GET, HEAD, POST, PUT, DELETE"
/* The request headers Connect, gRPC-Web and the REST API read, beyond the CORS-safelisted
 * ones (a Content-Type other than a form's needs listing too). */
#define CORS_ALLOW_HEADERS                                                                                             \
    "authorization, content-type, content-encoding, connect-protocol-version, connect-timeout-ms, "                    \
    "connect-content-encoding, connect-accept-encoding, grpc-timeout, grpc-encoding, grpc-accept-encoding, "           \
    "x-grpc-web, x-user-agent, idempotency-key, x-request-id"
/* The response headers a client reads that are not CORS-safelisted: gRPC-Web's status (in
 * the headers of a trailers-only answer), Connect's and gRPC-Web's encodings, and the REST
 * API's own. */
#define CORS_EXPOSE_HEADERS                                                                                            \
    "grpc-status, grpc-message, grpc-status-details-bin, grpc-encoding, grpc-accept-encoding, "                        \
    "connect-content-encoding, connect-accept-encoding, content-encoding, x-request-id, retry-after, "                 \
    "idempotent-replayed, location, allow"
/* How long a browser may keep a preflight's answer: Chromium's own cap. */
#define CORS_MAX_AGE "7200"

void cors_configure(const config *cfg)
{
    HG_ASSERT(cfg->n_cors_origins <= CONFIG_MAX_CORS_ORIGINS);
    n_origins = cfg->n_cors_origins;
    for (size_t i = 0; i < n_origins; i++) {
        origin_lens[i] = strlen(cfg->cors_origins[i]);
        HG_ASSERT(origin_lens[i] > 0 && origin_lens[i] < CONFIG_ORIGIN_MAX);
        memcpy(origins[i], cfg->cors_origins[i], origin_lens[i] + 1);
    }
}

int cors_origin_allowed(h2o_iovec_t origin)
{
    if (origin.base == NULL)
        return 0;
    for (size_t i = 0; i < n_origins; i++)
        if (origin.len == origin_lens[i] && memcmp(origin.base, origins[i], origin.len) == 0)
            return 1;
    return 0;
}

/* The one value of request header name, or {NULL, 0} when absent or given more than once
 * (two Origin headers are no origin). */
static h2o_iovec_t single_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    if (i < 0 || h2o_find_header_by_str(&req->headers, name, len, i) >= 0)
        return h2o_iovec_init(NULL, 0);
    return req->headers.entries[i].value;
}

int cors_is_preflight(h2o_req_t *req)
{
    return n_origins > 0 && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) &&
           h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1) >= 0 &&
           h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1) >= 0;
}

int cors_preflight(h2o_req_t *req)
{
    HG_ASSERT(cors_is_preflight(req));
    if (!cors_origin_allowed(single_header(req, H2O_STRLIT("origin"))))
        return -1;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          H2O_STRLIT(CORS_ALLOW_METHODS));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          H2O_STRLIT(CORS_ALLOW_HEADERS));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT(CORS_MAX_AGE));
    return 0;
}

void cors_add_headers(h2o_req_t *req)
{
    if (n_origins == 0)
        return;
    /* an answer depends on the Origin it was asked with: a cache must not hand one origin's
     * answer to another (nor a no-origin answer to a browser) */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("origin"));
    h2o_iovec_t origin = single_header(req, H2O_STRLIT("origin"));
    if (!cors_origin_allowed(origin))
        return;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base, origin.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                          H2O_STRLIT(CORS_EXPOSE_HEADERS));
}
