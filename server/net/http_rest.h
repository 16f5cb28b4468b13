/* http_rest: Droplit's REST API — /api/webhooks (and /v0/api/webhooks) in JSON, or in
 * binary protobuf when the request's Content-Type (or, for reads, Accept) asks for
 * application/x-protobuf — and /healthz. */
#ifndef HOOKGATE_HTTP_REST_H
#define HOOKGATE_HTTP_REST_H

#include "http.h"

/* The h2o handler for "/": answers every request (404 for unknown paths). */
int http_rest_on_req(h2o_handler_t *self, h2o_req_t *req);

#endif
