-- hookgate's PostgreSQL schema, version 3: the event log in time partitions, so that
-- retention drops a partition whole (DROP TABLE, no DELETE of rows) instead of deleting
-- old rows in batches.
--
-- hookgate_partitions lists the periods [from_s, to_s) (seconds since 1970) that exist;
-- each has three tables, created and attached by server/store/pg_events.c (maintain()):
--   hookgate_events_p<from_s>      events whose id (an ObjectId, which starts with its
--                                  creation time in big-endian seconds) is in the period;
--   hookgate_deliveries_p<from_s>  their deliveries (partitioned by the event's id too, so
--                                  an event and its deliveries go together);
--   hookgate_attempts_p<from_s>    attempts started in the period.
-- A node keeps periods ahead of the clock and drops those older than delivery.retention_ms.
-- The rows of version 2 move to one first period, [0, the time of this migration), dropped
-- once it is older than the retention.
--
-- Indexes are those a query uses, no more (each one is written by every claim and outcome):
-- the due-time and creation-time indexes of version 2 served expiry, which no longer reads rows.
CREATE TABLE hookgate_partitions (
    from_s bigint PRIMARY KEY,
    to_s   bigint NOT NULL CHECK (to_s > from_s)
);

ALTER TABLE hookgate_events RENAME TO hookgate_events_v2;
ALTER TABLE hookgate_deliveries RENAME TO hookgate_deliveries_v2;
ALTER TABLE hookgate_attempts RENAME TO hookgate_attempts_v2;
-- their indexes keep their names: out of the way of the new tables' (they go with the tables)
ALTER TABLE hookgate_events_v2 RENAME CONSTRAINT hookgate_events_pkey TO hookgate_events_v2_pkey;
ALTER TABLE hookgate_deliveries_v2 RENAME CONSTRAINT hookgate_deliveries_pkey TO hookgate_deliveries_v2_pkey;
ALTER TABLE hookgate_attempts_v2 RENAME CONSTRAINT hookgate_attempts_pkey TO hookgate_attempts_v2_pkey;
DROP INDEX hookgate_events_created, hookgate_deliveries_due, hookgate_deliveries_pending, hookgate_deliveries_leased,
    hookgate_deliveries_webhook, hookgate_deliveries_created, hookgate_attempts_webhook, hookgate_attempts_started;

CREATE TABLE hookgate_events (
    id              bytea NOT NULL CHECK (length(id) = 12),
    ecosystem_id    text NOT NULL,
    created_ms      bigint NOT NULL,
    body            bytea NOT NULL,                  -- an EventBody, packed
    idempotency_key bytea,                           -- SHA-256 of the token and its Idempotency-Key
    webhooks        integer NOT NULL DEFAULT 0,      -- deliveries it made (a replay answers it)
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
-- a key's event, on every partition: a unique index on a partitioned table must include
-- the partition key, so a key is made unique by its publishes taking an advisory lock on it
-- (pg_events.c) and looking before they insert
CREATE INDEX hookgate_events_key ON hookgate_events (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- one per (event, webhook); state 0 pending, 1 delivered, 2 failed, 3 cancelled (events.h)
CREATE TABLE hookgate_deliveries (
    event_id    bytea NOT NULL,
    webhook_id  bytea NOT NULL,
    created_ms  bigint NOT NULL,                     -- the event's
    state       smallint NOT NULL DEFAULT 0,
    attempts    integer NOT NULL DEFAULT 0,
    next_ms     bigint NOT NULL,
    last_status integer NOT NULL DEFAULT 0,
    last_error  smallint NOT NULL DEFAULT 0,
    trigger     smallint NOT NULL DEFAULT 0,         -- the next attempt's: 0 scheduled, 1 manual
    lease_until bigint,                              -- claimed by a node until then (NULL: not claimed)
    PRIMARY KEY (event_id, webhook_id)
) PARTITION BY RANGE (event_id);
-- claims: each webhook's pending rows by when they are due (its next due rows, a cancel on
-- disable or delete, the gauges) and its leases, counted by every claim against the cap
CREATE INDEX hookgate_deliveries_pending ON hookgate_deliveries (webhook_id, next_ms) WHERE state = 0;
CREATE INDEX hookgate_deliveries_leased ON hookgate_deliveries (webhook_id) WHERE state = 0 AND lease_until IS NOT NULL;
-- recover: a webhook's failed deliveries since a time (a delivered row never enters it)
CREATE INDEX hookgate_deliveries_failed ON hookgate_deliveries (webhook_id, created_ms) WHERE state = 2;

CREATE TABLE hookgate_attempts (
    seq         bigint GENERATED ALWAYS AS IDENTITY,  -- larger is newer, on every node
    webhook_id  bytea NOT NULL,
    event_id    bytea,                               -- NULL for an invoke
    attempt     integer NOT NULL,
    trigger     smallint NOT NULL,
    started_ms  bigint NOT NULL,
    duration_ms integer NOT NULL,
    status      integer NOT NULL,
    error       smallint NOT NULL,
    response    bytea NOT NULL                       -- the answer's first bytes (events.h EVENTS_RESPONSE_KEEP)
) PARTITION BY RANGE (started_ms);
CREATE INDEX hookgate_attempts_webhook ON hookgate_attempts (webhook_id, seq DESC);

-- the first period: every row of version 2 (to the next second, or past the newest row's
-- time should a node's clock have been ahead)
DO $$
DECLARE
    upto bigint := greatest(floor(extract(epoch FROM clock_timestamp()))::bigint + 1,
                            (SELECT max(('x' || encode(substring(id FROM 1 FOR 4), 'hex'))::bit(32)::bigint) + 1
                             FROM hookgate_events_v2),
                            (SELECT max(started_ms) / 1000 + 1 FROM hookgate_attempts_v2));
BEGIN
    INSERT INTO hookgate_partitions VALUES (0, upto);
    EXECUTE format('CREATE TABLE hookgate_events_p0 PARTITION OF hookgate_events FOR VALUES FROM (%L) TO (%L)',
                   '\x00000000'::bytea, substring(int8send(upto) FROM 5 FOR 4));
    EXECUTE format('CREATE TABLE hookgate_deliveries_p0 PARTITION OF hookgate_deliveries FOR VALUES FROM (%L) TO (%L) '
                   'WITH (fillfactor = 80)', '\x00000000'::bytea, substring(int8send(upto) FROM 5 FOR 4));
    EXECUTE format('CREATE TABLE hookgate_attempts_p0 PARTITION OF hookgate_attempts FOR VALUES FROM (0) TO (%s)',
                   upto * 1000);
END $$;
INSERT INTO hookgate_events SELECT id, ecosystem_id, created_ms, body, idempotency_key, webhooks FROM hookgate_events_v2;
INSERT INTO hookgate_deliveries SELECT * FROM hookgate_deliveries_v2;
INSERT INTO hookgate_attempts (seq, webhook_id, event_id, attempt, trigger, started_ms, duration_ms, status, error, response)
    OVERRIDING SYSTEM VALUE SELECT * FROM hookgate_attempts_v2;
SELECT setval(pg_get_serial_sequence('hookgate_attempts', 'seq'), coalesce((SELECT max(seq) FROM hookgate_attempts_v2), 0) + 1, false);
DROP TABLE hookgate_events_v2, hookgate_deliveries_v2, hookgate_attempts_v2;
