/* outbound: hookgate's HTTP client for calling webhooks' urls — the delivery
 * (domain/delivery.h) the core calls through.
 *
 * libcurl's multi interface on one thread of its own, so no event loop waits for DNS, a
 * connect or a slow target. Each call: a POST of the body as JSON, signed, over HTTP/1.1 or
 * HTTP/2 (TLS verified against the system store), on a fresh connection whose address the
 * call's netpolicy judged as the socket was opened (a name that resolves to a denied
 * address is never connected to, whatever DNS said before), redirects never followed,
 * proxies from the environment never used, the answer's body read up to
 * DELIVERY_MAX_RESPONSE_BYTES (its first DELIVERY_RESPONSE_KEEP bytes and its Retry-After
 * kept in the call, the rest discarded). Outcomes are counted (metrics_invoke). Needs
 * libcurl 7.84.0 or later (its header API). */
#ifndef HOOKGATE_OUTBOUND_H
#define HOOKGATE_OUTBOUND_H

#include <stddef.h>

#include "delivery.h"

#define OUTBOUND_USER_AGENT_MAX 64 /* bytes of the user-agent, NUL included */

/* Starts the client's thread. user_agent is sent on every call ("hookgate/<version>").
 * NULL with the reason in why (libcurl cannot start, no thread). The core owns the
 * result (core_set_delivery); delivery_destroy finishes its calls and stops the thread. */
delivery *outbound_create(const char *user_agent, char *why, size_t why_size);

#endif
