/* pg_events: the event log of the PostgreSQL backend (backend_postgres.c) — publish, claim,
 * record, resend, recover, expire and the event reads over tables every node shares.
 *
 * One worker thread with its own blocking libpq connection runs the event verbs queued by
 * pg_events_submit, in order, and calls each done from that thread. A claim leases its
 * deliveries (lease_until) and commits at once: no transaction is open across an attempt,
 * and a node that dies leaves leases that expire, after which another node claims them
 * (at least once). The worker LISTENs on hookgate_events and calls the registered wake on
 * every notification (a publish, a resend or a recover on any node). */
#ifndef HOOKGATE_PG_EVENTS_H
#define HOOKGATE_PG_EVENTS_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stddef.h>

#include "backend.h"

#define PG_EVENTS_QUEUE_MAX 65536    /* calls waiting for the worker; past it a call answers EAGAIN */
#define PG_EVENTS_STATS_EVERY_MS 1000 /* how often the worker refreshes the gauges /metrics shows */

/* A webhook row as backend_postgres.c reads it: these columns, in this order (qualified by
 * no table), PG_WEBHOOK_NCOLS of them. */
#define PG_WEBHOOK_COLUMNS                                                                        \
    "id, created_ms, ecosystem_id, url, secret, sealed_secret, description, disabled, "         \
    "idempotency_key, deleted, disabled_reason, disabled_ms"
#define PG_WEBHOOK_NCOLS 12

/* The record of row `row` of r whose webhook columns start at column `base` (results in
 * binary), copied into one block from alloc; NULL when out of memory or the row is not one
 * hookgate wrote. Defined by backend_postgres.c. */
store_webhook *pg_webhook_of(const PGresult *r, int row, int base, ProtobufCAllocator *alloc);

typedef struct pg_events_options {
    const char *conninfo;
    unsigned statement_timeout_ms;
    const atomic_int *migrated; /* the worker connects only once this is 1 (the schema is current) */
    int64_t retention_ms;       /* the partitions a new connection makes sure of (BACKEND_EXPIRE's since then) */
    int keeps_stats;            /* reads the gauges (pg_events_stats) every PG_EVENTS_STATS_EVERY_MS */
    /* runs a webhook verb (GET, UPDATE, DELETE) submitted on a thread without an event loop
     * (the dispatcher disabling a webhook, from an outcome's done) on the worker's
     * connection, calling its done */
    void (*run_webhook_call)(void *ctx, PGconn *conn, backend_call *c);
    void *ctx;
} pg_events_options;

typedef struct pg_events pg_events;

/* Starts the worker (it connects when it can). NULL when out of memory or no thread. */
pg_events *pg_events_create(const pg_events_options *o);

/* Queues c (an event verb, or a webhook verb for run_webhook_call); its done runs on the
 * worker's thread, or at once with EAGAIN when PG_EVENTS_QUEUE_MAX calls wait. */
void pg_events_submit(pg_events *e, backend_call *c);

/* The gauges as the worker last read them (at most PG_EVENTS_STATS_EVERY_MS old): no query. */
void pg_events_stats(pg_events *e, events_stats *out);

/* wake(ctx) is called on the worker's thread at every notification; NULL stops it. When
 * this returns, no call of the previous wake is running. */
void pg_events_set_wake(pg_events *e, void (*wake)(void *ctx), void *ctx);

/* Answers every queued call (from the database if it can be reached, else with
 * ECONNREFUSED), stops the worker and frees e. NULL is a no-op. */
void pg_events_destroy(pg_events *e);

#endif
