/* http_router: see http_router.h. */
#include "http_router.h"

#include "http.h"
#include "http_rest.h"
#include "http_rpc.h"
#include "route.h"

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_handler *h = (http_handler *)self;
    route_match m;
    switch (route_find(req->method.base, req->method.len, req->path_normalized.base, req->path_normalized.len, &m)) {
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
    return 0;
}

void http_router_register(h2o_hostconf_t *host, core *c)
{
    /* one handler for every path: h2o's own prefix matching is not used */
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    http_handler_init((http_handler *)h2o_create_handler(pathconf, sizeof(http_handler)), c, on_req);
}
