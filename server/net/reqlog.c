/* reqlog: see reqlog.h. */
#include "reqlog.h"

#include "accesslog.h"
#include "hg_assert.h"
#include "metrics.h"
#include "route.h"

h2o_iovec_t reqlog_request_id(h2o_mem_pool_t *pool, h2o_iovec_t client_id)
{
    if (client_id.base != NULL && accesslog_id_is_acceptable(client_id.base, client_id.len))
        return client_id;
    char *id = h2o_mem_alloc_pool(pool, ACCESSLOG_ID_MAX + 1);
    return h2o_iovec_init(id, accesslog_request_id(id));
}

void reqlog_write(h2o_iovec_t method, h2o_iovec_t path, route_id route, reqlog_protocol protocol, int status,
                  int grpc_status, size_t bytes, int64_t duration_us, h2o_iovec_t request_id)
{
    static const char *const names[] = {[REQLOG_HTTP1_0] = "HTTP/1.0",
                                        [REQLOG_HTTP1_1] = "HTTP/1.1",
                                        [REQLOG_HTTP2] = "HTTP/2.0",
                                        [REQLOG_GRPC] = "gRPC"};
    static const metrics_protocol counted_as[] = {[REQLOG_HTTP1_0] = METRICS_HTTP1,
                                                  [REQLOG_HTTP1_1] = METRICS_HTTP1,
                                                  [REQLOG_HTTP2] = METRICS_HTTP2,
                                                  [REQLOG_GRPC] = METRICS_GRPC};
    HG_ASSERT(protocol >= REQLOG_HTTP1_0 && protocol <= REQLOG_GRPC);
    HG_ASSERT(request_id.base != NULL);
    accesslog_entry e = {
        .method = method.base != NULL ? method.base : "",
        .method_len = method.len,
        .path = path.base != NULL ? path.base : "",
        .path_len = path.len,
        .status = grpc_status >= 0 ? grpc_status : status,
        .bytes = bytes,
        .duration_us = duration_us,
        .protocol = names[protocol],
        .request_id = request_id.base,
        .request_id_len = request_id.len,
    };
    accesslog_write(&e);
    if (route == ROUTE_COUNT) {
        route_match m;
        route = route_find(e.method, e.method_len, e.path, e.path_len, &m);
    }
    metrics_request(route, counted_as[protocol], status, grpc_status, duration_us);
}
