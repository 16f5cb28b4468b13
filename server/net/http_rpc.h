/* http_rpc: the RPC services (WebhookService, grpc.health.v1.Health) over h2o — the Connect
 * protocol (unary; application/proto and application/json, and GET for the read methods) and gRPC-Web
 * (application/grpc-web[+proto], application/grpc-web-text[+proto], and the same with +json,
 * whose frames hold the proto3 JSON of the message).
 * Native gRPC needs HTTP trailers, which h2o 2.2.5 cannot send: it has its own listener
 * (grpc.h). A call's deadline (connect-timeout-ms, grpc-timeout) runs from the moment its
 * request began to arrive: one passed before the call begins is answered deadline_exceeded
 * without beginning it, and one that passes while the store has it is answered then. */
#ifndef HOOKGATE_HTTP_RPC_H
#define HOOKGATE_HTTP_RPC_H

#include "http.h"
#include "route.h"

/* Answers a POST the route table sent to one of the RPC routes (a served service's path),
 * or a GET to a method the schema marks NO_SIDE_EFFECTS: Connect's unary GET
 * (`?connect=v1&encoding=json|proto&message=...[&base64=1]`, codec_connect_get.h). */
void http_rpc_serve(http_handler *h, h2o_req_t *req, const route_match *m);

#endif
