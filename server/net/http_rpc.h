/* http_rpc: WebhookService over h2o — the Connect protocol (unary; application/proto and
 * application/json) and gRPC-Web (application/grpc-web[+proto], application/grpc-web-text).
 * Native gRPC needs HTTP trailers, which h2o 2.2.5 cannot send: it has its own listener
 * (grpc.h). */
#ifndef HOOKGATE_HTTP_RPC_H
#define HOOKGATE_HTTP_RPC_H

#include "http.h"

/* "/droplit.webhooks.v1.WebhookService": the path prefix these protocols are served under. */
const char *http_rpc_path_prefix(void);

/* The h2o handler for that prefix. */
int http_rpc_on_req(h2o_handler_t *self, h2o_req_t *req);

#endif
