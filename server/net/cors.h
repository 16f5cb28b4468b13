/* cors: Cross-Origin Resource Sharing for browser callers (server.cors.allowed_origins), so
 * that a page served from another origin can call the API with connect-web's Connect and
 * gRPC-Web transports or with fetch.
 *
 * Promises: a request whose Origin is listed, byte for byte, gets its origin back in
 * Access-Control-Allow-Origin on every answer, with the response headers a client reads
 * (grpc-status, grpc-message, grpc-status-details-bin, x-request-id, ...) exposed; any other
 * origin gets no CORS header, so the browser keeps the answer from the page. A preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) is answered here, before routing
 * and authentication. With no origin configured nothing changes: no header is added and an
 * OPTIONS request is routed like any other (405). */
#ifndef HOOKGATE_CORS_H
#define HOOKGATE_CORS_H

#include <h2o.h>

#include "config.h"

/* Takes the allowed origins from cfg (copied). Called before the server's threads start;
 * read-only afterwards (a change of server.cors takes a restart, config_same_server). */
void cors_configure(const config *cfg);

/* 1 when origin (an Origin header's value) is one of the configured origins. */
int cors_origin_allowed(h2o_iovec_t origin);

/* 1 when req is a preflight this module answers: CORS is configured, and req is an OPTIONS
 * with Origin and Access-Control-Request-Method. */
int cors_is_preflight(h2o_req_t *req);

/* For a preflight from an allowed origin: adds the Access-Control-Allow-Methods, -Headers
 * and -Max-Age headers and returns 0 (answer 204); from another origin adds nothing and
 * returns -1 (answer 403). */
int cors_preflight(h2o_req_t *req);

/* Adds the headers every answer to req carries (before it is sent): Vary: Origin whenever
 * CORS is configured, and Access-Control-Allow-Origin and -Expose-Headers when req's Origin
 * is allowed. */
void cors_add_headers(h2o_req_t *req);

#endif
