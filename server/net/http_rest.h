/* http_rest: Droplit's REST API — /api/webhooks (and /v0/api/webhooks) in JSON, or in
 * binary protobuf when the request's Content-Type (or, for reads, Accept) asks for
 * application/x-protobuf — and /healthz. */
#ifndef HOOKGATE_HTTP_REST_H
#define HOOKGATE_HTTP_REST_H

#include "http.h"
#include "route.h"

/* Answers a request the route table sent here: the REST routes, /healthz, /readyz and
 * /metrics, with the method already checked. */
void http_rest_serve(http_handler *h, h2o_req_t *req, const route_match *m);

#endif
