/* http: Droplit's JSON REST API on h2o — routes, headers and status codes around the core.
 *
 * A transport only: it decodes requests with the codecs, calls the core, and renders the
 * result or the error through the mapping table. Every request writes one access-log line
 * (method, path without query, status, bytes, duration); never a token, secret or body. */
#ifndef HOOKGATE_HTTP_H
#define HOOKGATE_HTTP_H

#include <h2o.h>

#include "core.h"

/* Registers every route of the API on host. c must outlive the server. */
void http_register(h2o_hostconf_t *host, core *c);

/* The byte limit h2o itself must be given (globalconf max_request_entity_size): above the
 * project's own so that the handler, not h2o, answers 413 (h2o resets HTTP/2 streams over
 * its limit instead of answering). */
size_t http_h2o_entity_limit(const config_limits *limits);

#endif
