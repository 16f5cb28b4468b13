/* dispatch: delivers events — claims the deliveries that are due from the store, calls
 * each webhook's url through the delivery interface, decides what follows with retry.h,
 * and records the outcome in the store, which makes it durable before it counts.
 *
 * At least once: a delivery is finished only by a record the store has written; one in
 * flight when the server stops (or dies) is due again when it starts. A slow or dead url
 * holds at most delivery.max_in_flight_per_webhook attempts (the store's queues pass over
 * a webhook at its cap), so deliveries to healthy webhooks never wait behind it; at most
 * delivery.max_in_flight attempts run at once in all.
 *
 * One thread of its own sleeps until the earliest due delivery, or until woken
 * (dispatch_wake: a publish, a resend); the calls themselves run on the delivery's
 * thread, and their outcomes are recorded from there. */
#ifndef HOOKGATE_DISPATCH_H
#define HOOKGATE_DISPATCH_H

#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "delivery.h"
#include "events.h"

#define DISPATCH_CLAIM_BATCH 64       /* deliveries one claim takes at most */
#define DISPATCH_EXPIRE_EVERY_MS 1000 /* how often what is past delivery.retention_ms is dropped */
#define DISPATCH_LEASE_MARGIN_MS 30000 /* a claim's lease: delivery.timeout_ms and this, for recording the outcome */

/* What the dispatcher reports, for metrics (each may be NULL; called on any thread). */
typedef struct dispatch_hooks {
    void (*attempt)(events_error error, uint32_t duration_ms); /* an attempt finished */
    void (*finished)(events_state state);                      /* a delivery ended: delivered, failed, cancelled */
    void (*disabled)(const char *why);                         /* a webhook was disabled by hookgate */
} dispatch_hooks;

typedef struct dispatch dispatch;

/* Starts the dispatcher over a backend that keeps an event log, calling urls through d,
 * with cfg's delivery settings (copied). Neither b nor d becomes the dispatcher's. NULL
 * with why (out of memory, no thread). */
dispatch *dispatch_create(backend *b, delivery *d, const config_delivery *cfg, const dispatch_hooks *hooks,
                          char *why, size_t why_size);

/* New settings for claims from now on (a reload); attempts in flight keep theirs. */
void dispatch_configure(dispatch *p, const config_delivery *cfg);

/* Something may be due now (a publish, a resend): claim without waiting for the timer. */
void dispatch_wake(dispatch *p);

/* Stops claiming and joins the thread. Attempts in flight go on; once stopped, their
 * outcomes are not recorded (the deliveries are due again at the next start). Call
 * before the delivery is destroyed (which finishes them). */
void dispatch_stop(dispatch *p);

/* After dispatch_stop and after every attempt has finished (the delivery destroyed):
 * waits for the records being written, then frees p. NULL is a no-op. */
void dispatch_destroy(dispatch *p);

#endif
