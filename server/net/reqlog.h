/* reqlog: the record of one answered request, for every transport (h2o's HTTP and native
 * gRPC): one access-log line and one count in the metrics, from one set of values.
 *
 * The route comes from the method and path through route.h's one table (here, or by the
 * router that just matched the same request), so a transport cannot log one route and
 * count another. */
#ifndef HOOKGATE_REQLOG_H
#define HOOKGATE_REQLOG_H

#include <h2o.h>
#include <stdint.h>

#include "route.h"

typedef enum reqlog_protocol { REQLOG_HTTP1_0, REQLOG_HTTP1_1, REQLOG_HTTP2, REQLOG_GRPC } reqlog_protocol;

/* The request's id: client_id (the client's x-request-id, {NULL, 0} when absent) when it
 * is acceptable (accesslog_id_is_acceptable), else a new one allocated from pool. */
h2o_iovec_t reqlog_request_id(h2o_mem_pool_t *pool, h2o_iovec_t client_id);

/* Logs and counts an answered request. path is without the query; status is the HTTP
 * status; grpc_status the grpc-status of a native gRPC answer (its HTTP status then 200),
 * or -1 when it carries none (metrics_request). The access log shows the grpc-status when
 * there is one, else the HTTP status. route is what route_find answered for this method
 * and path, or ROUTE_COUNT to have it found here. */
void reqlog_write(h2o_iovec_t method, h2o_iovec_t path, route_id route, reqlog_protocol protocol, int status,
                  int grpc_status, size_t bytes, int64_t duration_us, h2o_iovec_t request_id);

#endif
