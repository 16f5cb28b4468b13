/* reqlog: the record of one answered request, for every transport (h2o's HTTP and native
 * gRPC): one access-log line and one count in the metrics, from one set of values.
 *
 * The route is found here, from the method and path (route.h), so a transport cannot log
 * one route and count another. */
#ifndef HOOKGATE_REQLOG_H
#define HOOKGATE_REQLOG_H

#include <h2o.h>
#include <stdint.h>

typedef enum reqlog_protocol { REQLOG_HTTP1_0, REQLOG_HTTP1_1, REQLOG_HTTP2, REQLOG_GRPC } reqlog_protocol;

/* The request's id: client_id (the client's x-request-id, {NULL, 0} when absent) when it
 * is acceptable (accesslog_id_is_acceptable), else a new one allocated from pool. */
h2o_iovec_t reqlog_request_id(h2o_mem_pool_t *pool, h2o_iovec_t client_id);

/* Logs and counts an answered request. path is without the query; status is the HTTP
 * status, or for native gRPC the grpc-status (the HTTP status when there is none). */
void reqlog_write(h2o_iovec_t method, h2o_iovec_t path, reqlog_protocol protocol, int status, size_t bytes,
                  int64_t duration_us, h2o_iovec_t request_id);

#endif
