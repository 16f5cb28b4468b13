-- hookgate's PostgreSQL schema, version 2: the event log (server/store/pg_events.c), shared
-- by every node. Plain tables for now: retention deletes old rows in bounded batches
-- (BACKEND_EXPIRE, once a second per node), not yet by dropping time partitions.
ALTER TABLE hookgate_webhooks
    ADD COLUMN disabled_reason text,                 -- why hookgate disabled it (NULL: it did not)
    ADD COLUMN disabled_ms bigint NOT NULL DEFAULT 0;
CREATE TABLE hookgate_events (
    id              bytea PRIMARY KEY CHECK (length(id) = 12),
    ecosystem_id    text NOT NULL,
    created_ms      bigint NOT NULL,
    body            bytea NOT NULL,                  -- an EventBody, packed
    idempotency_key bytea UNIQUE,                    -- SHA-256 of the token and its Idempotency-Key
    webhooks        integer NOT NULL DEFAULT 0       -- deliveries it made (a replay answers it)
);
CREATE INDEX hookgate_events_created ON hookgate_events (created_ms);
-- one per (event, webhook); state 0 pending, 1 delivered, 2 failed, 3 cancelled (events.h)
CREATE TABLE hookgate_deliveries (
    event_id    bytea NOT NULL,
    webhook_id  bytea NOT NULL,
    created_ms  bigint NOT NULL,                      -- the event's
    state       smallint NOT NULL DEFAULT 0,
    attempts    integer NOT NULL DEFAULT 0,
    next_ms     bigint NOT NULL,
    last_status integer NOT NULL DEFAULT 0,
    last_error  smallint NOT NULL DEFAULT 0,
    trigger     smallint NOT NULL DEFAULT 0,         -- the next attempt's: 0 scheduled, 1 manual
    lease_until bigint,                              -- claimed by a node until then (NULL: not claimed)
    PRIMARY KEY (event_id, webhook_id)
);
-- claims: the due pending rows by when they are due, and each webhook's pending rows
-- (its leases counted, its next due row, a cancel on disable or delete)
CREATE INDEX hookgate_deliveries_due ON hookgate_deliveries (next_ms) WHERE state = 0;
CREATE INDEX hookgate_deliveries_pending ON hookgate_deliveries (webhook_id, next_ms) WHERE state = 0;
-- each webhook's leases, counted by every claim against the cap (a few rows per webhook,
-- where its pending rows may be thousands: 0.7 -> 0.02 ms a webhook on a 200k backlog)
CREATE INDEX hookgate_deliveries_leased ON hookgate_deliveries (webhook_id) WHERE state = 0 AND lease_until IS NOT NULL;
-- recover: a webhook's failed deliveries since a time; expiry
CREATE INDEX hookgate_deliveries_webhook ON hookgate_deliveries (webhook_id, created_ms);
CREATE INDEX hookgate_deliveries_created ON hookgate_deliveries (created_ms);
CREATE TABLE hookgate_attempts (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- larger is newer, on every node
    webhook_id  bytea NOT NULL,
    event_id    bytea,                               -- NULL for an invoke
    attempt     integer NOT NULL,
    trigger     smallint NOT NULL,
    started_ms  bigint NOT NULL,
    duration_ms integer NOT NULL,
    status      integer NOT NULL,
    error       smallint NOT NULL,
    response    bytea NOT NULL                       -- the answer's first bytes (events.h EVENTS_RESPONSE_KEEP)
);
CREATE INDEX hookgate_attempts_webhook ON hookgate_attempts (webhook_id, seq DESC);
CREATE INDEX hookgate_attempts_started ON hookgate_attempts (started_ms);
-- each webhook's failure clock (delivery.disable_after_ms), 0: not failing
CREATE TABLE hookgate_webhook_health (
    webhook_id       bytea PRIMARY KEY,
    failing_since_ms bigint NOT NULL
);
