/* http_router: see http_router.h. */
#include "http_router.h"

#include <stdint.h>
#include <string.h>

#include "http.h"
#include "http_rest.h"
#include "http_rpc.h"
#include "route.h"

/* Checks the request target before anything routes on it; 0 when it may be routed.
 *
 * h2o 2.2.5 routes on the decoded path, so "/api%2fwebhooks/<id>" read as
 * "/api/webhooks/<id>" and "/api/webhooks/<id>%00junk" as the id cut at the NUL. A
 * segment is decoded on its own here: a decoded "/" or NUL inside one is refused, and so
 * is a target that is not a path (an HTTP/2 :path without its leading "/"). The
 * absolute form of HTTP/1.1 ("GET http://host/api/webhooks", RFC 9112 §3.2.2) is read as
 * its path: h2o keeps the whole URL as the path, which then matched nothing. */
static int check_target(h2o_req_t *req)
{
    size_t end = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    h2o_iovec_t raw = h2o_iovec_init(req->path.base, end);
    size_t scheme = raw.len == 0 || raw.base[0] == '/'                                 ? 0 /* the usual origin form */
                    : raw.len >= 7 && h2o_lcstris(raw.base, 7, H2O_STRLIT("http://"))  ? 7
                    : raw.len >= 8 && h2o_lcstris(raw.base, 8, H2O_STRLIT("https://")) ? 8
                                                                                       : 0;
    if (scheme > 0) {
        const char *slash = memchr(raw.base + scheme, '/', raw.len - scheme);
        raw = slash != NULL ? h2o_iovec_init(slash, (size_t)(raw.base + raw.len - slash)) : h2o_iovec_init("/", 1);
        size_t query_at;
        size_t *norm_indexes = NULL;
        req->path_normalized = h2o_url_normalize_path(&req->pool, raw.base, raw.len, &query_at, &norm_indexes);
    }
    if (raw.len == 0 || raw.base[0] != '/')
        return -1;
    for (const char *pct = raw.base, *end = raw.base + raw.len;
         (pct = memchr(pct, '%', (size_t)(end - pct))) != NULL && end - pct > 2; pct++) {
        uint8_t byte; /* h2o decodes what it routes on; an escape that is not one stays as it is */
        if (h2o_hex_decode(&byte, pct + 1, 2) == 0 && (byte == 0 || byte == '/'))
            return -1;
    }
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_handler *h = (http_handler *)self;
    route_match m;
    if (check_target(req) != 0) {
        http_respond_text(req, 400, "Bad Request", "Invalid request path.");
        return 0;
    }
    route_id route =
        route_find(req->method.base, req->method.len, req->path_normalized.base, req->path_normalized.len, &m);
    http_routing_begin(req, route);
    switch (route) {
    case ROUTE_NOT_FOUND:
        http_respond_text(req, 404, "Not Found", "Not found.");
        break;
    case ROUTE_METHOD_NOT_ALLOWED:
        http_respond_method_not_allowed(req, m.allow);
        break;
    case ROUTE_RPC_CREATE:
    case ROUTE_RPC_GET:
    case ROUTE_RPC_LIST:
    case ROUTE_RPC_OTHER:
        http_rpc_serve(h, req, &m);
        break;
    default:
        http_rest_serve(h, req, &m);
    }
    http_routing_end();
    return 0;
}

void http_router_register(h2o_hostconf_t *host, core *c)
{
    /* one handler for every path: h2o's own prefix matching is not used */
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    http_handler_init((http_handler *)h2o_create_handler(pathconf, sizeof(http_handler)), c, on_req);
}
