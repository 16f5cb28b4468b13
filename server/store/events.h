/* events: the event log in memory for the memory backend — the events of the retention
 * window, their deliveries (one per webhook an event was published to), each webhook's
 * attempts and failure clock, and the queue of deliveries that are due.
 *
 * Every lasting change comes in as a StoredEvent record through events_apply: live once
 * the journal has written it, and at start-up when the journal is replayed, so memory and
 * files agree by construction. Two things are not records: a claim (a delivery being
 * attempted is "in flight" in memory only, so after a crash it is simply due again: at
 * least once), and expiry (by time; a snapshot leaves what expired out).
 *
 * Isolation: each webhook has its own queue of due deliveries, and a webhook with
 * `per_webhook` attempts in flight is passed over by events_claim_due until one finishes,
 * so a slow endpoint holds only its own deliveries back. Thread-safe: one mutex, held for
 * O(log n) per delivery, O(page) for views. */
#ifndef HOOKGATE_EVENTS_H
#define HOOKGATE_EVENTS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "objectid.h"
#include "schema.h"

#define EVENTS_DIGEST_LEN 32            /* an Idempotency-Key digest (SHA-256), as the store's */
#define EVENTS_RESPONSE_KEEP 1024       /* bytes of an answer's body an attempt keeps */
#define EVENTS_MAX_DELIVERIES 100000    /* webhooks one event is delivered to */
#define EVENTS_MAX_EVENTS (1u << 24)    /* events held at once (within the retention window) */
#define EVENTS_MAX_WEBHOOKS (1u << 24)  /* webhooks with deliveries or attempts held at once */
#define EVENTS_MAX_ATTEMPTS_PER_WEBHOOK (1u << 20) /* the oldest go first past it */

typedef enum events_state { EVENTS_PENDING, EVENTS_DELIVERED, EVENTS_FAILED, EVENTS_CANCELLED, EVENTS_STATES } events_state;
typedef enum events_trigger { EVENTS_SCHEDULED, EVENTS_MANUAL, EVENTS_INVOKE, EVENTS_TRIGGERS } events_trigger;

/* What went wrong with an attempt, by class (the API's `error`, the metrics' label). */
typedef enum events_error {
    EVENTS_ERROR_NONE,    /* a 2xx */
    EVENTS_ERROR_TIMEOUT, /* no answer within the connect or the total timeout */
    EVENTS_ERROR_CONNECT, /* refused, unreachable, or the connection broke */
    EVENTS_ERROR_DNS,     /* the host name does not resolve */
    EVENTS_ERROR_TLS,     /* the handshake or the certificate check failed */
    EVENTS_ERROR_HTTP,    /* an answer that is not a 2xx */
    EVENTS_ERROR_BLOCKED, /* every address is one delivery.allow_networks does not open */
    EVENTS_ERRORS
} events_error;

/* "", "timeout", "connect", "dns", "tls", "http", "blocked" ("" for a number out of range). */
const char *events_error_name(unsigned error);

/* "pending", "delivered", "failed", "cancelled" / "scheduled", "manual", "invoke". */
const char *events_state_name(events_state s);
const char *events_trigger_name(events_trigger t);

typedef struct events events;

/* An empty log, or NULL when out of memory. */
events *events_create(void);
void events_destroy(events *e);

/* Applies one record (StoredEvent's comments say what each does). Returns 0, or -1 with
 * err: ERROR_INTERNAL when out of memory (nothing changed), ERROR_INVALID_BODY when the record
 * is malformed. A record about an event the log does not hold (expired, or never
 * published: a snapshot written meanwhile) changes nothing and is not an error; nor is a
 * publish whose idempotency digest an earlier event took (the first one stands). */
int events_apply(events *e, const schema_stored_event *r, error *err);

/* A delivery handed to the dispatcher: in flight until a record of its outcome is applied
 * (or events_release). body stays valid while it is in flight. */
typedef struct events_claim {
    objectid event_id;
    objectid webhook_id;
    unsigned attempt;         /* the number this attempt has (1 = the first) */
    events_trigger trigger;   /* scheduled, or manual (a resend or recover) */
    int64_t due_ms;           /* when it was due */
    int64_t failing_since_ms; /* the webhook's failure clock (0: not failing) */
    const uint8_t *body;      /* the event's EventBody, packed */
    size_t body_len;
    const struct store_webhook *webhook; /* filled by the backend's CLAIM: the webhook as it is now, NULL when
                                            deleted; valid until the claiming thread starts the next claim */
} events_claim;

/* Claims up to max deliveries due at now_ms, earliest first, at most per_webhook in flight
 * for any webhook, into out; returns how many. *next_due_ms is then when the earliest
 * delivery not claimed is due (INT64_MAX when none is waiting that could be claimed: the
 * webhooks with one are all at per_webhook). */
size_t events_claim_due(events *e, int64_t now_ms, unsigned per_webhook, events_claim *out, size_t max,
                        int64_t *next_due_ms);

/* A claimed delivery whose outcome could not be recorded goes back in its webhook's
 * queue, due at due_ms. */
void events_release(events *e, const objectid *event_id, const objectid *webhook_id, int64_t due_ms);

/* Deliveries in flight now. */
size_t events_in_flight(events *e);

/* The gauges /metrics shows. */
typedef struct events_stats {
    size_t events;           /* held */
    size_t pending;          /* deliveries not finished (in flight included) */
    size_t in_flight;
    int64_t oldest_due_ms;   /* when the earliest due delivery not in flight became due (0: none) */
    uint64_t cancelled;      /* deliveries cancelled by their webhook's disable or delete since start (the
                                dispatcher counts those it cancels as they come due) */
} events_stats;
void events_stats_get(events *e, events_stats *out);

/* The event published with this digest: its id and how many deliveries it made; 0, or -1
 * when none. */
int events_find_idempotent(events *e, const uint8_t digest[EVENTS_DIGEST_LEN], objectid *id, unsigned *webhooks);

/* 1 when the event published with this digest has this ecosystem and body (a retry of
 * the same request), 0 when it differs, -1 when there is none. */
int events_same_publish(events *e, const uint8_t digest[EVENTS_DIGEST_LEN], const char *ecosystem_id,
                        const uint8_t *body, size_t body_len);

/* The event as the schema shows it, its items decoded and every delivery listed, from
 * alloc. 0; -1 when the log does not hold it; ENOMEM. *ecosystem_id (from alloc too) is
 * the event's, for the caller's permission check. */
int events_view(events *e, const objectid *id, ProtobufCAllocator *alloc, schema_event **out);

/* The schema's views of an event, of one of its deliveries and of one attempt, built from
 * a: what every store answers GET_EVENT and LIST_ATTEMPTS with (this log, and the
 * PostgreSQL one), so that both show the same fields alike. The event's items are the
 * packed EventBody decoded; its deliveries array has room for n_deliveries (filled by the
 * caller). A delivery's next attempt shows only while pending; an attempt's event_id NULL
 * (an invoke's) shows as "", its response as UTF-8 (invalid bytes become U+FFFD). NULL
 * when out of memory, or a body that does not decode. */
schema_event *events_view_event(ProtobufCAllocator *a, const objectid *id, const char *ecosystem_id,
                                size_t ecosystem_len, int64_t created_ms, const uint8_t *body, size_t body_len,
                                size_t n_deliveries);
schema_event_delivery *events_view_delivery(ProtobufCAllocator *a, const objectid *webhook_id, events_state state,
                                            uint32_t attempts, int64_t next_ms, uint32_t last_status,
                                            unsigned last_error);
schema_attempt *events_view_attempt(ProtobufCAllocator *a, uint64_t seq, const objectid *event_id, uint32_t attempt,
                                    events_trigger trigger, int64_t started_ms, uint32_t duration_ms, uint32_t status,
                                    unsigned error, const uint8_t *response, size_t response_len);

/* A page of the webhook's attempts, newest first, those with seq < before (0: from the
 * newest), at most limit, from alloc. 0 or ENOMEM. */
int events_attempts(events *e, const objectid *webhook_id, uint64_t before, size_t limit, ProtobufCAllocator *alloc,
                    schema_attempts_response *out);

/* The deliveries a resend makes manual: the event's to webhook_id (NULL: to each of its
 * webhooks) that are not being attempted now, into out (their webhook ids); returns how many, or -1 when the log does not
 * hold the event. *ecosystem_id gets the event's (a copy, at most
 * OBJECTID_ECOSYSTEM_ID_LEN + 1 bytes) for the permission check. */
long events_resend_targets(events *e, const objectid *event_id, const objectid *webhook_id, objectid *out, size_t max,
                           char *ecosystem_id);

/* The webhook's failed deliveries of events published at or after since_ms, oldest first,
 * at most max, into out (their event ids); returns how many. */
size_t events_recover_targets(events *e, const objectid *webhook_id, int64_t since_ms, objectid *out, size_t max);

/* The webhook's failure clock (0: not failing, or unknown). */
int64_t events_failing_since(events *e, const objectid *webhook_id);

/* Drops events published before cutoff_ms whose deliveries are not in flight, and
 * attempts started before it. Returns how many events went. */
size_t events_expire(events *e, int64_t cutoff_ms);

/* Every record a snapshot needs to rebuild the log as it is now (events published at or
 * after cutoff_ms), framed as the journal frames records (record.h), in a malloc'd buffer:
 * its length in *len and its record count in *records. NULL with *records 0 when the log is
 * empty; NULL with *records not 0 when out of memory. */
uint8_t *events_snapshot(events *e, int64_t cutoff_ms, size_t *len, uint64_t *records);

#endif
