/* http_router: hookgate's h2o front — one h2o handler for every path, which asks route.h's
 * table what a request is and hands it to http_rest or http_rpc (answering 404 and 405
 * itself). The only module that knows both; server.c registers it. */
#ifndef HOOKGATE_HTTP_ROUTER_H
#define HOOKGATE_HTTP_ROUTER_H

#include <h2o.h>

#include "core.h"

/* Registers the handler for "/" on host. c must outlive the server. */
void http_router_register(h2o_hostconf_t *host, core *c);

#endif
