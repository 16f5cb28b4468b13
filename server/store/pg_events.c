/* pg_events: see pg_events.h.
 *
 * Statements are prepared once per connection (ensure_connected, again after a reconnect)
 * and run with PQexecPrepared on the worker's blocking connection, parameters as text
 * (numbers) or binary (bytea), results in binary: a verb costs no parse nor (once the plan
 * cache has a generic plan) planning. Every write that makes a delivery
 * due (publish, resend, recover) notifies hookgate_events in its transaction, so every
 * node's dispatcher hears of it at commit.
 *
 * Claims are serialised across nodes by a transaction-level advisory lock, so that the
 * count of unexpired leases a webhook has (delivery.max_in_flight_per_webhook, across all
 * nodes) is exact when the claim reads it; rows an outcome is being recorded for are
 * skipped (SKIP LOCKED), not waited for. */
#include "pg_events.h"
#include "log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hg_assert.h"

#define PG_EVENTS_BACKOFF_MIN_MS 100
#define PG_EVENTS_BACKOFF_MAX_MS 2000
#define PG_EVENTS_IDLE_POLL_MS 1000     /* the slow backstop of LISTEN: the worker looks again this often */
#define PG_EVENTS_CLAIM_LOCK 0x686f6f6b65767473LL     /* "hookevts": one claim at a time, across nodes */
#define PG_EVENTS_PARTITION_LOCK 0x686f6f6b70617274LL /* "hookpart": one node keeps the partitions at a time */
#define PG_EVENTS_KEY_LOCK_SPACE 0x686f6f6b             /* "hook": a publish's Idempotency-Key, (this, key) */
#define PG_EVENTS_PERIOD_MAX_S 86400                  /* a partition's period at most: a day */
#define PG_EVENTS_RETENTION_DEFAULT_MS 604800000LL     /* delivery.retention_ms when the options have none: 7 days */
#define PG_EVENTS_DDL_LOCK_TIMEOUT_MS 200             /* partition DDL waits for a lock this long at most */
#define PG_EVENTS_DDL_MAX 16384                       /* one maintenance's SQL */
#define PG_EVENTS_DDL_CREATES_ROOM 4096               /* of which kept for three periods' creates */
#define PG_EVENTS_MAX_PARAMS 20

struct pg_events {
    pg_events_options o;
    char *conninfo;
    pthread_t thread;
    pthread_mutex_t lock; /* the queue, stopping, stats */
    backend_call *head, **tail;
    size_t queued;
    int stopping;
    events_stats stats;
    int pipe[2]; /* a byte written: a call was queued, or stop */
    pthread_mutex_t wake_lock;
    void (*wake)(void *ctx);
    void *wake_ctx;
    /* the worker's own */
    PGconn *conn;
    unsigned backoff_ms;
    int64_t retry_at_ms, stats_at_ms;
    int64_t retention_ms; /* delivery.retention_ms, as the last expiry had it */
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void finish(backend_call *c, int status)
{
    c->status = status;
    c->done(c);
}

/* finish for each call of a batch (linked by batch_next). */
static void finish_all(backend_call *calls, int status)
{
    while (calls != NULL) {
        backend_call *next = calls->batch_next;
        finish(calls, status);
        calls = next;
    }
}

/* ---- statements ------------------------------------------------------------------------ */

typedef struct params {
    int n;
    const char *values[PG_EVENTS_MAX_PARAMS];
    int lengths[PG_EVENTS_MAX_PARAMS], formats[PG_EVENTS_MAX_PARAMS];
    char text[PG_EVENTS_MAX_PARAMS][24];
} params;

static void p_bytes(params *p, const void *bytes, size_t len)
{
    HG_ASSERT(p->n < PG_EVENTS_MAX_PARAMS);
    p->values[p->n] = bytes != NULL ? (const char *)bytes : "";
    p->lengths[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

static void p_null(params *p)
{
    HG_ASSERT(p->n < PG_EVENTS_MAX_PARAMS);
    p->values[p->n] = NULL;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

static void p_int(params *p, int64_t v)
{
    HG_ASSERT(p->n < PG_EVENTS_MAX_PARAMS);
    snprintf(p->text[p->n], sizeof p->text[0], "%lld", (long long)v);
    p->values[p->n] = p->text[p->n];
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

static void p_text(params *p, const char *s)
{
    HG_ASSERT(p->n < PG_EVENTS_MAX_PARAMS);
    p->values[p->n] = s;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

/* The worker's statements, prepared on each connection as "hg_ev_<id>" (stmt_sql, after
 * the verbs, holds their text; every parameter has its type cast in the text). */
typedef enum stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_NOTIFY,
    ST_KEY_LOCK,
    ST_PUBLISH,
    ST_REPLAYED,
    ST_GET_EVENT,
    ST_GET_DELIVERIES,
    ST_ATTEMPTS,
    ST_RESEND,
    ST_RECOVER,
    ST_CLAIM_LOCK,
    ST_CLAIM,
    ST_CANCEL,
    ST_OUTCOMES,
    ST_INVOKE_ATTEMPT,
    ST_STATS,
    ST_COUNT
} stmt;

static void stmt_name(stmt s, char name[static 16])
{
    snprintf(name, 16, "hg_ev_%d", (int)s);
}

/* The status a failed statement gives its call: ETIMEDOUT for statement_timeout, EIO for
 * any other refusal, ECONNRESET when the connection broke (it is then dropped). */
static int status_of(pg_events *e, const PGresult *r)
{
    if (PQstatus(e->conn) != CONNECTION_OK)
        return ECONNRESET;
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "57014") == 0)
        return ETIMEDOUT;
    return EIO;
}

/* Checks r (a statement's result, consumed): r when its status is `want`, else NULL with
 * *status set. */
static PGresult *result_of(pg_events *e, PGresult *r, ExecStatusType want, int *status)
{
    if (r != NULL && PQresultStatus(r) == want)
        return r;
    *status = status_of(e, r);
    if (*status == EIO && r != NULL)
        log_error("events: PostgreSQL: %s", PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

/* Runs the prepared statement s; the result when its status is `want`, else NULL with
 * *status set. */
static PGresult *run(pg_events *e, stmt s, const params *p, ExecStatusType want, int *status)
{
    char name[16];
    stmt_name(s, name);
    return result_of(e,
                     PQexecPrepared(e->conn, name, p != NULL ? p->n : 0, p != NULL ? p->values : NULL,
                                    p != NULL ? p->lengths : NULL, p != NULL ? p->formats : NULL, 1),
                     want, status);
}

/* A statement not prepared (the session's setup). */
static int command_sql(pg_events *e, const char *sql)
{
    int status = 0;
    PGresult *r = result_of(e, PQexecParams(e->conn, sql, 0, NULL, NULL, NULL, NULL, 1), PGRES_COMMAND_OK, &status);
    PQclear(r);
    return r != NULL ? 0 : status;
}

static int command(pg_events *e, stmt s)
{
    int status = 0;
    PGresult *r = run(e, s, NULL, PGRES_COMMAND_OK, &status);
    PQclear(r);
    return r != NULL ? 0 : status;
}

static void disconnect(pg_events *e);

/* ---- pipelines: a transaction's statements sent together, one round trip -------------- */

static int pipeline_start(pg_events *e)
{
    return PQenterPipelineMode(e->conn) ? 0 : status_of(e, NULL);
}

/* Queues the prepared statement s in the pipeline: 0 or a status. libpq reads the server's
 * answers while it waits to send, so a long pipeline cannot deadlock a blocking connection. */
static int pipeline_send(pg_events *e, stmt s, const params *p)
{
    char name[16];
    stmt_name(s, name);
    if (PQsendQueryPrepared(e->conn, name, p != NULL ? p->n : 0, p != NULL ? p->values : NULL,
                            p != NULL ? p->lengths : NULL, p != NULL ? p->formats : NULL, 1))
        return 0;
    return status_of(e, NULL);
}

/* Syncs the pipeline of the n statements sent and reads their answers, leaving pipeline
 * mode: 0, or the status of the first that failed (the server skips the rest of the
 * pipeline, so a transaction it opened is left aborted: the caller rolls back). Each
 * result that succeeded goes to results[i] when results is not NULL (the caller clears
 * them, NULL for the others). */
static int pipeline_finish(pg_events *e, size_t n, PGresult **results)
{
    int status = 0;
    if (results != NULL)
        for (size_t i = 0; i < n; i++)
            results[i] = NULL;
    if (!PQpipelineSync(e->conn))
        return status_of(e, NULL);
    for (size_t i = 0; i < n; i++) {
        PGresult *r = PQgetResult(e->conn);
        if (r == NULL)
            return status != 0 ? status : ECONNRESET; /* the connection broke: it is dropped */
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (results != NULL)
                results[i] = r;
            else
                PQclear(r);
        } else if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else {
            if (status == 0 && (status = status_of(e, r)) == EIO)
                log_error("events: PostgreSQL: %s", PQresultErrorMessage(r));
            PQclear(r);
        }
        PGresult *end;
        while ((end = PQgetResult(e->conn)) != NULL) /* one result each: NULL follows it */
            PQclear(end);
        if (PQstatus(e->conn) != CONNECTION_OK)
            return ECONNRESET;
    }
    PGresult *sync = PQgetResult(e->conn);
    int synced = sync != NULL && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(e->conn))
        return status != 0 ? status : status_of(e, NULL);
    return status;
}

/* After a pipeline failed: 1 when the connection was left in pipeline mode (broken, or a
 * send refused), and is dropped; 0 when it can roll back. */
static int pipeline_abandoned(pg_events *e)
{
    if (PQpipelineStatus(e->conn) == PQ_PIPELINE_OFF)
        return 0;
    disconnect(e);
    return 1;
}

static void rollback(pg_events *e)
{
    PQclear(PQexec(e->conn, "ROLLBACK"));
}

/* A number column of a binary result (int2, int4 or int8, big-endian). */
/* A bool column in binary format (one byte); NULL is false. */
static int bool_at(const PGresult *r, int row, int col)
{
    return PQgetlength(r, row, col) == 1 && PQgetvalue(r, row, col)[0] != 0;
}

static int64_t int_at(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    switch (PQgetlength(r, row, col)) {
    case 2: {
        uint16_t x;
        memcpy(&x, v, 2);
        return (int16_t)be16toh(x);
    }
    case 4: {
        uint32_t x;
        memcpy(&x, v, 4);
        return (int32_t)be32toh(x);
    }
    case 8: {
        uint64_t x;
        memcpy(&x, v, 8);
        return (int64_t)be64toh(x);
    }
    default:
        return 0; /* NULL */
    }
}

static int id_at(const PGresult *r, int row, int col, objectid *out)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != OBJECTID_LEN)
        return -1;
    memcpy(out->bytes, PQgetvalue(r, row, col), OBJECTID_LEN);
    return 0;
}

/* ---- the views' memory (from the call's allocator) --------------------------------------- */

static void *alloc_of(ProtobufCAllocator *a, size_t size)
{
    return a->alloc(a->allocator_data, size);
}

/* ---- the verbs ----------------------------------------------------------------------------- */

/* A publish's one statement: the event with the count of the ecosystem's enabled webhooks,
 * and a pending delivery to each, due at once. A key another publish took (on any node, or
 * earlier in the same batch) inserts nothing: no row comes back. The key is unique because
 * the transaction holds its advisory lock (ST_KEY_LOCK) before this looks for it: a publish
 * of the same key waits for this one's commit, then finds its event (READ COMMITTED: each
 * statement sees what committed before it began). */
#define PUBLISH_SQL                                                                                                   \
    "WITH hooks AS (SELECT id FROM hookgate_webhooks WHERE ecosystem_id = $2::text AND NOT disabled AND NOT deleted " \
    "LIMIT $6::int8), "                                                                                               \
    "ev AS (INSERT INTO hookgate_events (id, ecosystem_id, created_ms, body, idempotency_key, webhooks) "             \
    "SELECT $1::bytea, $2::text, $3::int8, $4::bytea, $5::bytea, (SELECT count(*) FROM hooks) "                      \
    "WHERE $5::bytea IS NULL OR NOT EXISTS (SELECT 1 FROM hookgate_events WHERE idempotency_key = $5::bytea) "       \
    "RETURNING id, webhooks), "                                                                                       \
    "ins AS (INSERT INTO hookgate_deliveries (event_id, webhook_id, created_ms, next_ms) "                           \
    "SELECT ev.id, hooks.id, $3::int8, $3::int8 FROM ev, hooks RETURNING 1) "                                        \
    "SELECT ev.webhooks, (SELECT count(*) FROM ins) FROM ev"

static int ensure_connected(pg_events *e);

/* A publish's parameters (c's args, which outlive p). */
static void publish_params(const backend_call *c, params *p)
{
    const backend_event_args *ev = &c->ev;
    p_bytes(p, ev->publish.id.bytes, OBJECTID_LEN);
    p_text(p, ev->publish.ecosystem_id);
    p_int(p, ev->publish.created_ms);
    p_bytes(p, ev->publish.body, ev->publish.body_len);
    if (ev->publish.digest != NULL)
        p_bytes(p, ev->publish.digest, EVENTS_DIGEST_LEN);
    else
        p_null(p);
    p_int(p, EVENTS_MAX_DELIVERIES);
}

/* c's answer from r, its PUBLISH's result (cleared): 0, or a status. No row is a key
 * another publish took (on any node, or earlier in the same batch), whose event is then
 * read (a replay). */
static int publish_answer(pg_events *e, backend_call *c, PGresult *r)
{
    const backend_event_args *ev = &c->ev;
    int status = 0;
    if (PQntuples(r) == 1) {
        c->ev.webhooks = (unsigned)int_at(r, 0, 0);
        c->ev.event_id = ev->publish.id;
        c->ev.replayed = 0;
        c->ev.key_conflict = 0;
        PQclear(r);
        return 0;
    }
    PQclear(r);
    if (ev->publish.digest == NULL)
        return EIO; /* no row without a key to conflict on: the statement did not do its work */
    params k = {0};
    p_bytes(&k, ev->publish.digest, EVENTS_DIGEST_LEN);
    p_text(&k, ev->publish.ecosystem_id);
    p_bytes(&k, ev->publish.body, ev->publish.body_len);
    r = run(e, ST_REPLAYED, &k, PGRES_TUPLES_OK, &status);
    if (r == NULL)
        return status;
    if (PQntuples(r) != 1 || id_at(r, 0, 0, &c->ev.event_id) != 0) {
        PQclear(r);
        return EIO;
    }
    c->ev.webhooks = (unsigned)int_at(r, 0, 1);
    c->ev.replayed = 1;
    c->ev.key_conflict = !bool_at(r, 0, 2); /* the key's event was another request */
    PQclear(r);
    return 0;
}

/* The advisory lock of a publish's Idempotency-Key (its digest's first bytes: two keys that
 * share them only wait for each other). */
static int32_t key_lock_of(const uint8_t *digest)
{
    uint32_t k;
    memcpy(&k, digest, sizeof k);
    return (int32_t)k;
}

static void key_lock_params(int32_t key, params *p)
{
    p_int(p, PG_EVENTS_KEY_LOCK_SPACE);
    p_int(p, key);
}

static int compare_key_locks(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* One publish inside the caller's transaction: 0 with c's answer set (done not called
 * yet), or a status. */
static int publish_in(pg_events *e, backend_call *c)
{
    int status = 0;
    params p = {0};
    publish_params(c, &p);
    PGresult *r = run(e, ST_PUBLISH, &p, PGRES_TUPLES_OK, &status);
    return r != NULL ? publish_answer(e, c, r) : status;
}

/* Each publish alone: its own transaction, so that one bad publish fails alone. */
static void publish_each(pg_events *e, backend_call *calls)
{
    while (calls != NULL) {
        backend_call *c = calls, *next = calls->batch_next;
        c->batch_next = NULL;
        int status = ensure_connected(e) != 0 ? ECONNREFUSED : command(e, ST_BEGIN);
        if (status == 0 && c->ev.publish.digest != NULL) {
            params k = {0};
            key_lock_params(key_lock_of(c->ev.publish.digest), &k);
            PGresult *r = run(e, ST_KEY_LOCK, &k, PGRES_TUPLES_OK, &status);
            PQclear(r);
        }
        if (status == 0 && (status = publish_in(e, c)) == 0 && (status = command(e, ST_NOTIFY)) == 0)
            status = command(e, ST_COMMIT);
        if (status != 0 && e->conn != NULL)
            rollback(e);
        finish(c, status);
        calls = next;
    }
}

/* The publishes taken from the queue together: one transaction, one commit (group commit,
 * as the journal's), one NOTIFY, sent as one pipeline (one round trip). A replay's event is
 * read after the commit (it was committed before, or by this batch; READ COMMITTED reads
 * it the same either side of the commit). Should any statement fail, each is run again in
 * a transaction of its own, so that one bad publish fails alone. Every call is durable
 * before its done. */
static void publish_batch(pg_events *e, backend_call *calls)
{
    size_t n = 0, keys = 0, sent = 0;
    for (backend_call *c = calls; c != NULL; c = c->batch_next) {
        n++;
        keys += c->ev.publish.digest != NULL;
    }
    /* the statements' results, then the keys' locks */
    PGresult **results = malloc((n + keys + 3) * sizeof(*results) + (keys > 0 ? keys : 1) * sizeof(int32_t));
    if (results == NULL) {
        publish_each(e, calls);
        return;
    }
    int32_t *locks = (int32_t *)(results + n + keys + 3);
    size_t k = 0;
    for (backend_call *c = calls; c != NULL; c = c->batch_next)
        if (c->ev.publish.digest != NULL)
            locks[k++] = key_lock_of(c->ev.publish.digest);
    /* every key locked first, in one order: two nodes' batches never wait for each other in a circle */
    qsort(locks, keys, sizeof(*locks), compare_key_locks);
    int status = pipeline_start(e);
    if (status == 0 && (status = pipeline_send(e, ST_BEGIN, NULL)) == 0)
        sent++;
    for (size_t i = 0; status == 0 && i < keys; i++) {
        params p = {0};
        key_lock_params(locks[i], &p);
        if ((status = pipeline_send(e, ST_KEY_LOCK, &p)) == 0)
            sent++;
    }
    for (backend_call *c = calls; status == 0 && c != NULL; c = c->batch_next) {
        params p = {0};
        publish_params(c, &p);
        if ((status = pipeline_send(e, ST_PUBLISH, &p)) == 0)
            sent++;
    }
    if (status == 0 && (status = pipeline_send(e, ST_NOTIFY, NULL)) == 0)
        sent++;
    if (status == 0 && (status = pipeline_send(e, ST_COMMIT, NULL)) == 0)
        sent++;
    if (status == 0)
        status = pipeline_finish(e, sent, results);
    if (status == 0) {
        for (size_t i = 0; i < 1 + keys; i++)
            PQclear(results[i]);
        PQclear(results[keys + n + 1]);
        PQclear(results[keys + n + 2]);
        size_t i = keys + 1;
        while (calls != NULL) {
            backend_call *next = calls->batch_next;
            finish(calls, publish_answer(e, calls, results[i++]));
            calls = next;
        }
        free(results);
        return;
    }
    if (sent == n + keys + 3) /* pipeline_finish set them all */
        for (size_t i = 0; i < n + keys + 3; i++)
            PQclear(results[i]);
    free(results);
    if (!pipeline_abandoned(e))
        rollback(e);
    publish_each(e, calls);
}

static void get_event(pg_events *e, backend_call *c)
{
    ProtobufCAllocator *a = c->alloc;
    int status = 0;
    params p = {0};
    p_bytes(&p, c->id.bytes, OBJECTID_LEN);
    PGresult *ev = run(e, ST_GET_EVENT, &p, PGRES_TUPLES_OK, &status);
    if (ev == NULL) {
        finish(c, status);
        return;
    }
    if (PQntuples(ev) != 1) {
        PQclear(ev);
        finish(c, BACKEND_NOT_FOUND);
        return;
    }
    PGresult *ds = run(e, ST_GET_DELIVERIES, &p, PGRES_TUPLES_OK, &status);
    if (ds == NULL) {
        PQclear(ev);
        finish(c, status);
        return;
    }
    status = ENOMEM;
    int n = PQntuples(ds);
    schema_event *m = events_view_event(a, &c->id, PQgetvalue(ev, 0, 0), (size_t)PQgetlength(ev, 0, 0),
                                        int_at(ev, 0, 1), (const uint8_t *)PQgetvalue(ev, 0, 2),
                                        (size_t)PQgetlength(ev, 0, 2), (size_t)n);
    if (m == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        objectid hook;
        int64_t state = int_at(ds, i, 1);
        if (id_at(ds, i, 0, &hook) != 0 || state < 0 || state >= EVENTS_STATES) {
            status = EIO;
            goto out;
        }
        schema_event_delivery *v =
            events_view_delivery(a, &hook, (events_state)state, (uint32_t)int_at(ds, i, 2), int_at(ds, i, 3),
                                 (uint32_t)int_at(ds, i, 4), (unsigned)int_at(ds, i, 5));
        if (v == NULL)
            goto out;
        m->deliveries[m->n_deliveries++] = v;
    }
    c->ev.event = m;
    status = 0;
out:
    PQclear(ev);
    PQclear(ds);
    finish(c, status);
}

static void list_attempts(pg_events *e, backend_call *c)
{
    HG_ASSERT(c->limit >= 1);
    ProtobufCAllocator *a = c->alloc;
    schema_attempts_response *out = &c->ev.attempts;
    *out = (schema_attempts_response)SCHEMA_ATTEMPTS_RESPONSE_INIT;
    int status = 0;
    params p = {0};
    p_bytes(&p, c->id.bytes, OBJECTID_LEN);
    p_int(&p, (int64_t)(c->ev.before > INT64_MAX ? INT64_MAX : c->ev.before));
    p_int(&p, (int64_t)c->limit + 1); /* one more: do older ones follow? */
    PGresult *r = run(e, ST_ATTEMPTS, &p, PGRES_TUPLES_OK, &status);
    if (r == NULL) {
        finish(c, status);
        return;
    }
    size_t rows = (size_t)PQntuples(r), n = rows < c->limit ? rows : c->limit;
    status = ENOMEM;
    if (n > 0 && (out->items = alloc_of(a, n * sizeof(*out->items))) == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int row = (int)i;
        objectid event;
        int64_t trigger = int_at(r, row, 3);
        schema_attempt *v = events_view_attempt(
            a, (uint64_t)int_at(r, row, 0), id_at(r, row, 1, &event) == 0 ? &event : NULL,
            (uint32_t)int_at(r, row, 2),
            trigger >= 0 && trigger < EVENTS_TRIGGERS ? (events_trigger)trigger : EVENTS_SCHEDULED,
            int_at(r, row, 4), (uint32_t)int_at(r, row, 5), (uint32_t)int_at(r, row, 6), (unsigned)int_at(r, row, 7),
            (const uint8_t *)PQgetvalue(r, row, 8), (size_t)PQgetlength(r, row, 8));
        if (v == NULL)
            goto out;
        out->items[out->n_items++] = v;
    }
    if (rows > n) {
        out->next_page_case = SCHEMA_ATTEMPTS_RESPONSE_NEXT_BEFORE;
        out->next_before = out->items[n - 1]->seq;
    }
    status = 0;
out:
    PQclear(r);
    finish(c, status);
}

/* Resend: the event's deliveries (to one webhook, or each) whose webhook is still enabled
 * become pending, manual and due now; NOT_FOUND when the event is not held. */
static void resend(pg_events *e, backend_call *c)
{
    int status = 0;
    params p = {0};
    p_bytes(&p, c->id.bytes, OBJECTID_LEN);
    if (c->ev.webhook != NULL)
        p_bytes(&p, c->ev.webhook->bytes, OBJECTID_LEN);
    else
        p_null(&p);
    p_int(&p, c->ev.now_ms);
    PGresult *r = run(e, ST_RESEND, &p, PGRES_TUPLES_OK, &status);
    if (r == NULL) {
        finish(c, status);
        return;
    }
    int found = PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] != 0;
    c->ev.count = found ? (size_t)int_at(r, 0, 1) : 0;
    PQclear(r);
    finish(c, found ? 0 : BACKEND_NOT_FOUND);
}

/* Recover: the webhook's failed deliveries of events since since_ms, oldest first, at most max. */
static void recover(pg_events *e, backend_call *c)
{
    int status = 0;
    params p = {0};
    p_bytes(&p, c->id.bytes, OBJECTID_LEN);
    p_int(&p, c->ev.since_ms);
    p_int(&p, c->ev.now_ms);
    p_int(&p, (int64_t)c->ev.max);
    PGresult *r = run(e, ST_RECOVER, &p, PGRES_TUPLES_OK, &status);
    if (r == NULL) {
        finish(c, status);
        return;
    }
    c->ev.count = PQntuples(r) == 1 ? (size_t)int_at(r, 0, 0) : 0;
    PQclear(r);
    finish(c, 0);
}

/* The columns of a claimed row after the webhook's (PG_WEBHOOK_NCOLS of them, NULL when
 * the webhook row is gone), then the next due time (the same in every row). */
enum {
    CL_EVENT = PG_WEBHOOK_NCOLS,
    CL_WEBHOOK,
    CL_ATTEMPTS,
    CL_TRIGGER,
    CL_NEXT,
    CL_BODY,
    CL_FAILING,
    CL_NEXT_DUE,
    CL_COUNT
};

/* The claim, with its next due time, in one statement after the advisory lock.
 * - hooks: each webhook with a pending row, by a skip scan of hookgate_deliveries_pending
 *   (one probe per webhook, where a DISTINCT over the due rows read the whole backlog);
 * - room: what its cap leaves, counting its unexpired leases on hookgate_deliveries_leased;
 * - chosen: its earliest due rows not leased, as many as room, locked (SKIP LOCKED: one an
 *   outcome is being recorded for is passed over), the earliest $2 of all;
 * - next_due: when the earliest pending row not leased and not chosen now is due, among the
 *   webhooks still under the cap once chosen is leased: what a second statement after the
 *   UPDATE read, computed from this statement's snapshot (the UPDATE's leases are not
 *   visible in it, hence chosen subtracted by hand); NULL when there is none.
 * One row per claim, or a single row of NULLs but next_due when nothing was claimed. */
#define CLAIM_SQL                                                                                                      \
    "WITH RECURSIVE hooks (webhook_id) AS ((SELECT webhook_id FROM hookgate_deliveries WHERE state = 0 "               \
    "ORDER BY webhook_id LIMIT 1) UNION ALL SELECT (SELECT d.webhook_id FROM hookgate_deliveries d "                   \
    "WHERE d.state = 0 AND d.webhook_id > h.webhook_id ORDER BY d.webhook_id LIMIT 1) FROM hooks h "                   \
    "WHERE h.webhook_id IS NOT NULL), "                                                                                \
    "room AS (SELECT h.webhook_id, $3::int8 - (SELECT count(*) FROM hookgate_deliveries b "                            \
    "WHERE b.webhook_id = h.webhook_id AND b.state = 0 AND b.lease_until > $1::int8) AS n FROM hooks h "               \
    "WHERE h.webhook_id IS NOT NULL), "                                                                                \
    "chosen AS (SELECT x.event_id, x.webhook_id, x.next_ms FROM room r CROSS JOIN LATERAL ("                           \
    "SELECT d.event_id, d.webhook_id, d.next_ms FROM hookgate_deliveries d WHERE d.webhook_id = r.webhook_id "         \
    "AND d.state = 0 AND d.next_ms <= $1::int8 AND (d.lease_until IS NULL OR d.lease_until <= $1::int8) "              \
    "ORDER BY d.next_ms LIMIT greatest(r.n, 0) FOR UPDATE SKIP LOCKED) x ORDER BY x.next_ms LIMIT $2::int8), "         \
    "taken AS (SELECT webhook_id, count(*) AS n FROM chosen GROUP BY webhook_id), "                                    \
    "next_due AS (SELECT min(x.next_ms) AS next_ms FROM room r LEFT JOIN taken t ON t.webhook_id = r.webhook_id "      \
    "CROSS JOIN LATERAL (SELECT d.next_ms FROM hookgate_deliveries d WHERE d.webhook_id = r.webhook_id "               \
    "AND d.state = 0 AND (d.lease_until IS NULL OR d.lease_until <= $1::int8) AND NOT EXISTS (SELECT 1 "               \
    "FROM chosen ch WHERE ch.event_id = d.event_id AND ch.webhook_id = d.webhook_id) ORDER BY d.next_ms LIMIT 1) x "   \
    "WHERE r.n - coalesce(t.n, 0) > 0), "                                                                              \
    "claimed AS (UPDATE hookgate_deliveries d SET lease_until = $4::int8 FROM chosen ch "                              \
    "WHERE d.event_id = ch.event_id AND d.webhook_id = ch.webhook_id "                                                 \
    "RETURNING d.event_id, d.webhook_id, d.attempts, d.trigger, d.next_ms) "                                           \
    "SELECT w.*, c.event_id, c.webhook_id, c.attempts, c.trigger, c.next_ms, e.body, "                                 \
    "coalesce(h.failing_since_ms, 0), nd.next_ms FROM next_due nd LEFT JOIN (claimed c "                               \
    "JOIN hookgate_events e ON e.id = c.event_id "                                                                     \
    "LEFT JOIN (SELECT " PG_WEBHOOK_COLUMNS " FROM hookgate_webhooks) w ON w.id = c.webhook_id "                       \
    "LEFT JOIN hookgate_webhook_health h ON h.webhook_id = c.webhook_id) ON true ORDER BY c.next_ms"

static void claim(pg_events *e, backend_call *c)
{
    backend_event_args *ev = &c->ev;
    ev->count = 0;
    ev->next_due_ms = INT64_MAX;
    int status = 0;
    params l = {0};
    p_int(&l, PG_EVENTS_CLAIM_LOCK);
    params p = {0};
    p_int(&p, ev->now_ms);
    p_int(&p, (int64_t)ev->max);
    p_int(&p, ev->per_webhook);
    p_int(&p, ev->now_ms + ev->lease_ms);
    PGresult *r = NULL, *results[4] = {NULL, NULL, NULL, NULL};
    /* one round trip: the lock is a statement of its own (the claim's snapshot is taken once
     * it is held, so the leases it counts are every node's); committed at once: the leases
     * are the claim, and no transaction waits for a url */
    if ((status = pipeline_start(e)) != 0)
        goto out;
    if ((status = pipeline_send(e, ST_BEGIN, NULL)) == 0 && (status = pipeline_send(e, ST_CLAIM_LOCK, &l)) == 0 &&
        (status = pipeline_send(e, ST_CLAIM, &p)) == 0 && (status = pipeline_send(e, ST_COMMIT, NULL)) == 0)
        status = pipeline_finish(e, 4, results);
    if (status != 0) {
        for (int i = 0; i < 4; i++)
            PQclear(results[i]);
        if (pipeline_abandoned(e))
            goto out;
        goto fail;
    }
    PQclear(results[0]);
    PQclear(results[1]);
    PQclear(results[3]);
    r = results[2];
    int rows = PQntuples(r);
    if (rows == 1 && PQnfields(r) == CL_COUNT && PQgetisnull(r, 0, CL_EVENT)) {
        rows = 0; /* nothing claimed: the row only carries next_due */
        if (!PQgetisnull(r, 0, CL_NEXT_DUE))
            ev->next_due_ms = int_at(r, 0, CL_NEXT_DUE);
    }
    if ((size_t)rows > ev->max || PQnfields(r) != CL_COUNT) {
        status = EIO; /* not an answer to this statement: the leases expire */
        goto out;
    }
    for (int i = 0; i < rows; i++) {
        events_claim *cl = &ev->claims[ev->count];
        int64_t trigger = int_at(r, i, CL_TRIGGER);
        size_t body_len = (size_t)PQgetlength(r, i, CL_BODY);
        uint8_t *body = alloc_of(c->alloc, body_len > 0 ? body_len : 1);
        if (body == NULL) { /* the rest stay leased until the lease ends: due again then */
            status = ev->count > 0 ? 0 : ENOMEM;
            goto out;
        }
        memcpy(body, PQgetvalue(r, i, CL_BODY), body_len);
        *cl = (events_claim){.attempt = (unsigned)int_at(r, i, CL_ATTEMPTS) + 1,
                             .trigger = trigger == EVENTS_MANUAL ? EVENTS_MANUAL : EVENTS_SCHEDULED,
                             .due_ms = int_at(r, i, CL_NEXT),
                             .failing_since_ms = int_at(r, i, CL_FAILING),
                             .body = body,
                             .body_len = body_len};
        if (id_at(r, i, CL_EVENT, &cl->event_id) != 0 || id_at(r, i, CL_WEBHOOK, &cl->webhook_id) != 0) {
            status = EIO;
            goto out;
        }
        if (!PQgetisnull(r, i, 0) && (cl->webhook = pg_webhook_of(r, i, 0, c->alloc)) == NULL) {
            status = ev->count > 0 ? 0 : ENOMEM;
            goto out;
        }
        ev->count++;
    }
    if (rows > 0 && !PQgetisnull(r, 0, CL_NEXT_DUE))
        ev->next_due_ms = int_at(r, 0, CL_NEXT_DUE);
    status = 0;
    goto out;
fail:
    rollback(e);
out:
    PQclear(r);
    finish(c, status);
}

/* RECORD's order of work: by webhook, then event, so that two batches (two nodes) lock
 * rows in one order and never deadlock each other. */
static int compare_records(const void *a, const void *b)
{
    const schema_stored_event *x = *(schema_stored_event *const *)a, *y = *(schema_stored_event *const *)b;
    int d = memcmp(x->webhook_id.data, y->webhook_id.data, OBJECTID_LEN);
    if (d != 0)
        return d;
    if (x->id.len != y->id.len)
        return x->id.len < y->id.len ? -1 : 1;
    return x->id.len == 0 ? 0 : memcmp(x->id.data, y->id.data, OBJECTID_LEN);
}

/* Every outcome of a batch (a DELIVERY record of one delivery) in one statement, the records'
 * fields as arrays (OUTCOMES_COLUMNS, one element per record): the cost of running a
 * statement (its plan's start-up, a lock on each partition) is paid once per batch rather
 * than once per delivery. The webhook's failure clock is written only when it changes, from
 * the batch's last record of that webhook (RECORD's order: its latest event). */
#define OUTCOMES_SQL                                                                                                  \
    "WITH k AS (SELECT decode(e, 'hex') AS event_id, decode(w, 'hex') AS webhook_id, v.* FROM unnest($1::text[], "    \
    "$2::text[], $3::int2[], $4::int8[], $5::int2[], $6::bool[], $7::int4[], $8::int4[], $9::int2[], $10::int8[], "   \
    "$11::bool[], $12::int4[], $13::int2[], $14::int8[], $15::int4[], $16::int4[], $17::int2[], $18::text[]) AS "     \
    "v(e, w, state, next_ms, trig, counted, attempts, last_status, last_error, failing, attempted, attempt, "         \
    "a_trigger, started, duration, status, error, response)), "                                                      \
    "u AS (UPDATE hookgate_deliveries d SET state = k.state, next_ms = k.next_ms, trigger = k.trig, "                \
    "lease_until = NULL, attempts = CASE WHEN k.counted THEN k.attempts ELSE d.attempts END, "                       \
    "last_status = CASE WHEN k.counted THEN k.last_status ELSE d.last_status END, "                                  \
    "last_error = CASE WHEN k.counted THEN k.last_error ELSE d.last_error END "                                      \
    "FROM k WHERE d.event_id = k.event_id AND d.webhook_id = k.webhook_id RETURNING d.event_id, d.webhook_id), "     \
    "a AS (INSERT INTO hookgate_attempts (webhook_id, event_id, attempt, trigger, started_ms, duration_ms, status, "  \
    "error, response) SELECT k.webhook_id, k.event_id, k.attempt, k.a_trigger, k.started, k.duration, k.status, "    \
    "k.error, decode(k.response, 'hex') FROM k JOIN u USING (event_id, webhook_id) WHERE k.attempted "               \
    "ORDER BY k.started), "                                                                                           \
    "last AS (SELECT DISTINCT ON (k.webhook_id) k.webhook_id, k.failing FROM k JOIN u USING (event_id, webhook_id) " \
    "ORDER BY k.webhook_id, k.event_id DESC), "                                                                      \
    "h AS (INSERT INTO hookgate_webhook_health (webhook_id, failing_since_ms) SELECT webhook_id, failing FROM last "  \
    "WHERE failing <> 0 ON CONFLICT (webhook_id) DO UPDATE SET failing_since_ms = EXCLUDED.failing_since_ms "        \
    "WHERE hookgate_webhook_health.failing_since_ms <> EXCLUDED.failing_since_ms), "                                 \
    "hd AS (DELETE FROM hookgate_webhook_health hh USING last WHERE hh.webhook_id = last.webhook_id "               \
    "AND last.failing = 0) SELECT count(*) FROM u"
#define OUTCOMES_COLUMNS 18

/* OUTCOMES_SQL's parameters being written: a text array literal per column. */
typedef struct outcomes {
    FILE *col[OUTCOMES_COLUMNS];
    char *text[OUTCOMES_COLUMNS];
    size_t len[OUTCOMES_COLUMNS];
    size_t n; /* records added */
} outcomes;

/* 0, or ENOMEM. */
static int outcomes_open(outcomes *o)
{
    *o = (outcomes){0};
    for (int i = 0; i < OUTCOMES_COLUMNS; i++)
        if ((o->col[i] = open_memstream(&o->text[i], &o->len[i])) == NULL || fputc('{', o->col[i]) == EOF)
            return ENOMEM;
    return 0;
}

static void outcomes_free(outcomes *o)
{
    for (int i = 0; i < OUTCOMES_COLUMNS; i++) {
        if (o->col[i] != NULL)
            fclose(o->col[i]);
        free(o->text[i]);
    }
    *o = (outcomes){0};
}

static void put_hex(FILE *f, const uint8_t *bytes, size_t len)
{
    fputc('"', f); /* an array element: quoted, so that an empty one is one */
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", bytes[i]);
    fputc('"', f);
}

/* Adds one outcome (a DELIVERY record with an event) to o. */
static void outcomes_add(outcomes *o, const schema_stored_event *r)
{
    HG_ASSERT(r->change == SCHEMA_EVENT_DELIVERY && r->id.len == OBJECTID_LEN);
    int attempted = r->started_ms != 0;
    size_t keep = r->response.len < EVENTS_RESPONSE_KEEP ? r->response.len : EVENTS_RESPONSE_KEEP;
    if (o->n > 0)
        for (int i = 0; i < OUTCOMES_COLUMNS; i++)
            fputc(',', o->col[i]);
    put_hex(o->col[0], r->id.data, OBJECTID_LEN);
    put_hex(o->col[1], r->webhook_id.data, OBJECTID_LEN);
    fprintf(o->col[2], "%d", (int)r->state);
    fprintf(o->col[3], "%lld", (long long)r->next_ms);
    /* the recorded attempt's trigger was spent; a change without one names the next's */
    fprintf(o->col[4], "%d", attempted ? EVENTS_SCHEDULED : (int)r->trigger);
    fputc(attempted || r->attempts != 0 ? 't' : 'f', o->col[5]); /* else a resend's or a cancel's: the history stays */
    fprintf(o->col[6], "%u", (unsigned)r->attempts);
    fprintf(o->col[7], "%u", (unsigned)r->last_status);
    fprintf(o->col[8], "%u", (unsigned)r->last_error);
    fprintf(o->col[9], "%lld", (long long)r->failing_since_ms);
    fputc(attempted ? 't' : 'f', o->col[10]);
    fprintf(o->col[11], "%u", (unsigned)r->attempt);
    fprintf(o->col[12], "%u", (unsigned)r->trigger);
    fprintf(o->col[13], "%lld", (long long)r->started_ms);
    fprintf(o->col[14], "%u", (unsigned)r->duration_ms);
    fprintf(o->col[15], "%u", (unsigned)r->status_code);
    fprintf(o->col[16], "%u", (unsigned)r->error);
    put_hex(o->col[17], r->response.data, keep);
    o->n++;
}

/* Queues OUTCOMES_SQL with o's records in the pipeline (o must outlive the pipeline's
 * finish): 0, or a status. */
static int outcomes_send(pg_events *e, outcomes *o, size_t *sent)
{
    params p = {0};
    for (int i = 0; i < OUTCOMES_COLUMNS; i++) {
        if (fputc('}', o->col[i]) == EOF || fflush(o->col[i]) != 0 || ferror(o->col[i]))
            return ENOMEM;
        p.values[i] = o->text[i];
        p.lengths[i] = 0;
        p.formats[i] = 0;
        p.n++;
    }
    int status = pipeline_send(e, ST_OUTCOMES, &p);
    if (status == 0)
        (*sent)++;
    return status;
}

/* Queues a record that is not one delivery's outcome in the pipeline, counting it in *sent:
 * a webhook's cancel (a DELIVERY record without an event; one that changes nothing sends
 * nothing) or an invoke's ATTEMPT record (StoredEvent's meaning). 0 or a status. */
static int record_send(pg_events *e, const schema_stored_event *r, size_t *sent)
{
    int status;
    params p = {0};
    if (r->change == SCHEMA_EVENT_ATTEMPT) { /* an invoke's call: one more attempt of the webhook */
        size_t kept = r->response.len < EVENTS_RESPONSE_KEEP ? r->response.len : EVENTS_RESPONSE_KEEP;
        p_bytes(&p, r->webhook_id.data, OBJECTID_LEN);
        p_int(&p, r->attempt);
        p_int(&p, r->trigger);
        p_int(&p, r->started_ms);
        p_int(&p, r->duration_ms);
        p_int(&p, r->status_code);
        p_int(&p, r->error);
        p_bytes(&p, r->response.data, kept);
        if ((status = pipeline_send(e, ST_INVOKE_ATTEMPT, &p)) == 0)
            (*sent)++;
        return status;
    }
    if (r->id.len == 0) { /* every pending delivery of the webhook is cancelled */
        if (r->state != EVENTS_CANCELLED)
            return 0;
        p_bytes(&p, r->webhook_id.data, OBJECTID_LEN);
        if ((status = pipeline_send(e, ST_CANCEL, &p)) == 0)
            (*sent)++;
        return status;
    }
    HG_ASSERT(!"an outcome is sent with the batch's (outcomes_send)");
    return EINVAL;
}

static int record_valid(const schema_stored_event *r)
{
    if (r->change == SCHEMA_EVENT_ATTEMPT) /* an invoke's: no event */
        return r->webhook_id.len == OBJECTID_LEN && r->id.len == 0 && r->started_ms != 0 &&
               r->trigger < EVENTS_TRIGGERS && r->error < EVENTS_ERRORS;
    return r->change == SCHEMA_EVENT_DELIVERY && r->webhook_id.len == OBJECTID_LEN &&
           (r->id.len == 0 || r->id.len == OBJECTID_LEN) && r->state < EVENTS_STATES && r->trigger < EVENTS_TRIGGERS;
}

/* Every RECORD call of `calls` (linked by batch_next) in one transaction, sent as one
 * pipeline: their outcomes commit together, or all fail. A deadlock (a cancel of a webhook
 * racing the batch) is tried again once. */
static void record_batch(pg_events *e, backend_call *calls)
{
    size_t n = 0;
    int status = 0;
    for (backend_call *c = calls; c != NULL; c = c->batch_next)
        for (size_t i = 0; i < c->ev.n_records; i++)
            n++;
    const schema_stored_event **all = malloc((n > 0 ? n : 1) * sizeof(*all));
    if (all == NULL) {
        status = ENOMEM;
        goto out;
    }
    n = 0;
    for (backend_call *c = calls; c != NULL; c = c->batch_next)
        for (size_t i = 0; i < c->ev.n_records; i++) {
            if (!record_valid(c->ev.records[i])) {
                status = EINVAL;
                goto out;
            }
            all[n++] = c->ev.records[i];
        }
    qsort(all, n, sizeof(*all), compare_records);
    for (int tries = 0; tries < 2; tries++) {
        size_t sent = 0;
        outcomes o;
        if ((status = outcomes_open(&o)) != 0 || (status = pipeline_start(e)) != 0) {
            outcomes_free(&o);
            break;
        }
        if ((status = pipeline_send(e, ST_BEGIN, NULL)) == 0)
            sent++;
        /* a webhook's cancel and an invoke's attempt alone (rare); the outcomes together, after
         * them (a cancel passes over a leased row, an outcome's: the order does not matter) */
        for (size_t i = 0; status == 0 && i < n; i++) {
            if (all[i]->change == SCHEMA_EVENT_DELIVERY && all[i]->id.len == OBJECTID_LEN)
                outcomes_add(&o, all[i]);
            else
                status = record_send(e, all[i], &sent);
        }
        if (status == 0 && o.n > 0)
            status = outcomes_send(e, &o, &sent);
        if (status == 0 && (status = pipeline_send(e, ST_COMMIT, NULL)) == 0)
            sent++;
        if (status == 0)
            status = pipeline_finish(e, sent, NULL);
        outcomes_free(&o);
        if (status == 0)
            break;
        if (pipeline_abandoned(e))
            break;
        rollback(e);
        if (status != EIO)
            break; /* a deadlock is EIO too: once more */
    }
out:
    free(all);
    finish_all(calls, status);
}

/* ---- partitions: the event log by period (migrations/0003_partitions.sql) ------------------- */

/* A period's length for a retention: a seventh of it (an event is then held at most a
 * seventh longer than retention_ms), whole seconds, at least 1 s and at most a day. */
static int64_t period_s_of(int64_t retention_ms)
{
    int64_t p = retention_ms / 7000;
    return p < 1 ? 1 : p > PG_EVENTS_PERIOD_MAX_S ? PG_EVENTS_PERIOD_MAX_S : p;
}

/* Appends to sql the DDL that creates the period [from_s, to_s) of the three tables and
 * lists it: 0, or -1 when sql has no room. Each table is made apart and attached (ATTACH
 * takes a SHARE UPDATE EXCLUSIVE lock on the parent, where CREATE ... PARTITION OF takes an
 * ACCESS EXCLUSIVE one, which would stop every publish and claim while it waits). */
static int period_create_sql(char *sql, size_t size, int64_t from_s, int64_t to_s)
{
    size_t used = strlen(sql);
    uint32_t from = (uint32_t)from_s, to = (uint32_t)to_s; /* an ObjectId's time: 4 bytes, to 2106 */
    int n = snprintf(sql + used, size - used,
                     "CREATE TABLE hookgate_events_p%1$lld (LIKE hookgate_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
                     "ALTER TABLE hookgate_events ATTACH PARTITION hookgate_events_p%1$lld "
                     "FOR VALUES FROM ('\\x%3$08x') TO ('\\x%4$08x');"
                     "CREATE TABLE hookgate_deliveries_p%1$lld (LIKE hookgate_deliveries INCLUDING DEFAULTS "
                     "INCLUDING CONSTRAINTS) WITH (fillfactor = 80);" /* room for a claim's update beside its row */
                     "ALTER TABLE hookgate_deliveries ATTACH PARTITION hookgate_deliveries_p%1$lld "
                     "FOR VALUES FROM ('\\x%3$08x') TO ('\\x%4$08x');"
                     "CREATE TABLE hookgate_attempts_p%1$lld (LIKE hookgate_attempts INCLUDING CONSTRAINTS);"
                     "ALTER TABLE hookgate_attempts ATTACH PARTITION hookgate_attempts_p%1$lld "
                     "FOR VALUES FROM (%1$lld000) TO (%2$lld000);"
                     "INSERT INTO hookgate_partitions VALUES (%1$lld, %2$lld);",
                     (long long)from_s, (long long)to_s, from, to);
    return n > 0 && (size_t)n < size - used ? 0 : -1;
}

/* Keeps the partitions: drops every period that ended before since_ms (retention), and
 * creates periods until one ends at least two periods past now_ms (a gap since the last
 * period, a node long stopped, is filled by one period). One transaction under an advisory
 * lock, so that nodes take turns; locks waited for at most PG_EVENTS_DDL_LOCK_TIMEOUT_MS
 * (a scan of a period being dropped holds it up; the next call tries again). 0 or a status. */
static int maintain(pg_events *e, int64_t now_ms, int64_t since_ms)
{
    int64_t period = period_s_of(now_ms - since_ms), now_s = now_ms / 1000;
    char sql[PG_EVENTS_DDL_MAX];
    snprintf(sql, sizeof sql,
             "BEGIN; SET LOCAL lock_timeout = %d; SELECT pg_advisory_xact_lock(%lld); "
             "SELECT from_s, to_s FROM hookgate_partitions ORDER BY from_s",
             PG_EVENTS_DDL_LOCK_TIMEOUT_MS, (long long)PG_EVENTS_PARTITION_LOCK);
    PGresult *r = PQexec(e->conn, sql);
    int status = 0;
    if ((r = result_of(e, r, PGRES_TUPLES_OK, &status)) == NULL) {
        rollback(e);
        return status;
    }
    sql[0] = '\0';
    int64_t last_to = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t from_s = strtoll(PQgetvalue(r, i, 0), NULL, 10), to_s = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        if (to_s > last_to)
            last_to = to_s;
        if (to_s * 1000 > since_ms)
            continue;
        size_t used = strlen(sql);
        int n = snprintf(sql + used, sizeof sql - used,
                         "DROP TABLE hookgate_events_p%1$lld, hookgate_deliveries_p%1$lld, hookgate_attempts_p%1$lld;"
                         "DELETE FROM hookgate_partitions WHERE from_s = %1$lld;",
                         (long long)from_s);
        if (n <= 0 || (size_t)n >= sizeof sql - used - PG_EVENTS_DDL_CREATES_ROOM) {
            sql[used] = '\0'; /* the creates' room is kept: the rest go at the next call */
            break;
        }
    }
    PQclear(r);
    int ok = 1;
    if (last_to == 0)
        last_to = now_s; /* no period at all (the migration makes the first): from now */
    if (last_to < now_s - period && ok) {
        ok = period_create_sql(sql, sizeof sql, last_to, now_s) == 0;
        last_to = now_s;
    }
    while (ok && last_to < now_s + 2 * period) {
        ok = period_create_sql(sql, sizeof sql, last_to, last_to + period) == 0;
        last_to += period;
    }
    HG_ASSERT(ok); /* PG_EVENTS_DDL_MAX holds every drop a call can make and three creates */
    if (sql[0] != '\0') {
        size_t used = strlen(sql);
        snprintf(sql + used, sizeof sql - used, "COMMIT");
    } else {
        snprintf(sql, sizeof sql, "COMMIT");
    }
    r = result_of(e, PQexec(e->conn, sql), PGRES_COMMAND_OK, &status);
    PQclear(r);
    if (r == NULL)
        rollback(e);
    return r != NULL ? 0 : status;
}

/* Expiry: the periods older than since_ms go whole, and the next ones are made. */
static void expire(pg_events *e, backend_call *c)
{
    c->ev.count = 0;
    e->retention_ms = c->ev.now_ms - c->ev.since_ms; /* the current configuration's */
    finish(c, maintain(e, c->ev.now_ms, c->ev.since_ms));
}

/* The text of every statement, by id. */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_NOTIFY] = "NOTIFY hookgate_events",
    [ST_KEY_LOCK] = "SELECT pg_advisory_xact_lock($1::int4, $2::int4)",
    [ST_PUBLISH] = PUBLISH_SQL,
    [ST_REPLAYED] = "SELECT id, webhooks, ecosystem_id = $2::text AND body = $3::bytea FROM hookgate_events "
                    "WHERE idempotency_key = $1::bytea",
    [ST_GET_EVENT] = "SELECT ecosystem_id, created_ms, body FROM hookgate_events WHERE id = $1::bytea",
    [ST_GET_DELIVERIES] =
        "SELECT webhook_id, state, attempts, next_ms, last_status, last_error FROM hookgate_deliveries "
        "WHERE event_id = $1::bytea ORDER BY webhook_id",
    [ST_ATTEMPTS] = "SELECT seq, event_id, attempt, trigger, started_ms, duration_ms, status, error, response "
                    "FROM hookgate_attempts WHERE webhook_id = $1::bytea AND ($2::int8 = 0 OR seq < $2::int8) "
                    "ORDER BY seq DESC LIMIT $3::int8",
    [ST_RESEND] = "WITH u AS (UPDATE hookgate_deliveries d SET state = 0, trigger = 1, next_ms = $3::int8, "
                  "lease_until = NULL FROM hookgate_webhooks w WHERE d.event_id = $1::bytea "
                  "AND ($2::bytea IS NULL OR d.webhook_id = $2::bytea) AND w.id = d.webhook_id "
                  "AND NOT w.disabled AND NOT w.deleted "
                  /* one being attempted now is left to its attempt, as in memory */
                  "AND (d.lease_until IS NULL OR d.lease_until <= $3::int8) RETURNING 1) "
                  "SELECT EXISTS (SELECT 1 FROM hookgate_events WHERE id = $1::bytea), (SELECT count(*) FROM u), "
                  "pg_notify('hookgate_events', '')",
    [ST_RECOVER] = "WITH t AS (SELECT event_id FROM hookgate_deliveries WHERE webhook_id = $1::bytea AND state = 2 "
                   "AND created_ms >= $2::int8 ORDER BY created_ms, event_id LIMIT $4::int8), "
                   "u AS (UPDATE hookgate_deliveries d SET state = 0, trigger = 1, next_ms = $3::int8, "
                   "lease_until = NULL FROM t WHERE d.webhook_id = $1::bytea AND d.event_id = t.event_id RETURNING 1) "
                   "SELECT count(*), pg_notify('hookgate_events', '') FROM u",
    /* a claim's leases are committed without waiting for the disk: a crash of the database
     * that loses them returns those deliveries to pending, and they are attempted again */
    [ST_CLAIM_LOCK] = "SELECT pg_advisory_xact_lock($1::int8), set_config('synchronous_commit', 'off', true)",
    [ST_CLAIM] = CLAIM_SQL,
    [ST_CANCEL] = "UPDATE hookgate_deliveries SET state = 3 WHERE webhook_id = $1::bytea AND state = 0 "
                  "AND lease_until IS NULL", /* one in flight is left to its outcome, as in memory */
    [ST_OUTCOMES] = OUTCOMES_SQL,
    [ST_INVOKE_ATTEMPT] = "INSERT INTO hookgate_attempts (webhook_id, event_id, attempt, trigger, started_ms, "
                          "duration_ms, status, error, response) VALUES ($1::bytea, NULL, $2::int4, $3::int2, "
                          "$4::int8, $5::int4, $6::int4, $7::int2, $8::bytea)",
    [ST_STATS] = "SELECT (SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::int8 FROM pg_inherits i JOIN pg_class c "
                 "ON c.oid = i.inhrelid WHERE i.inhparent = 'hookgate_events'::regclass), "
                 "(SELECT count(*) FROM hookgate_deliveries WHERE state = 0), "
                 "(SELECT count(*) FROM hookgate_deliveries WHERE state = 0 AND lease_until > $1::int8), "
                 "(SELECT coalesce(min(next_ms), 0) FROM hookgate_deliveries WHERE state = 0 "
                 "AND next_ms <= $1::int8 AND (lease_until IS NULL OR lease_until <= $1::int8))",
};

/* Prepares every statement on the new connection: 0, or -1 when one is refused. */
static int prepare_all(pg_events *e)
{
    for (int s = 0; s < ST_COUNT; s++) {
        char name[16];
        int status = 0;
        stmt_name((stmt)s, name);
        HG_ASSERT(stmt_sql[s] != NULL);
        PGresult *r = result_of(e, PQprepare(e->conn, name, stmt_sql[s], 0, NULL), PGRES_COMMAND_OK, &status);
        PQclear(r);
        if (r == NULL)
            return -1;
    }
    return 0;
}

/* ---- the worker ---------------------------------------------------------------------------- */

static void disconnect(pg_events *e)
{
    PQfinish(e->conn);
    e->conn = NULL;
    e->backoff_ms = e->backoff_ms == 0 ? PG_EVENTS_BACKOFF_MIN_MS
                    : e->backoff_ms * 2 > PG_EVENTS_BACKOFF_MAX_MS ? PG_EVENTS_BACKOFF_MAX_MS
                                                                   : e->backoff_ms * 2;
    e->retry_at_ms = mono_ms() + e->backoff_ms;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg, (void)message;
}

/* Connects when the schema is current and the backoff has passed: 0 when up. */
static int ensure_connected(pg_events *e)
{
    if (e->conn != NULL && PQstatus(e->conn) == CONNECTION_OK)
        return 0;
    if (e->conn != NULL)
        disconnect(e);
    if (!atomic_load(e->o.migrated) || mono_ms() < e->retry_at_ms)
        return -1;
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *values[] = {e->conninfo, "5", "hookgate-events", NULL};
    e->conn = PQconnectdbParams(keys, values, 1);
    if (e->conn == NULL || PQstatus(e->conn) != CONNECTION_OK) {
        disconnect(e);
        return -1;
    }
    PQsetNoticeProcessor(e->conn, ignore_notice, NULL);
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %u", e->o.statement_timeout_ms);
    /* no JIT: the claim's estimated cost over a backlog passes jit_above_cost, and compiling
     * it took ~750 ms on every execution (200k pending rows) for a statement that runs in ~10 */
    /* prepared again on every connection: a statement lives as long as its session */
    if (command_sql(e, sql) != 0 || command_sql(e, "SET jit = off") != 0 ||
        command_sql(e, "LISTEN hookgate_events") != 0 || prepare_all(e) != 0) {
        disconnect(e);
        return -1;
    }
    /* the current period exists before the first publish (else it would find no partition);
     * should another node hold the lock too long, the dispatcher's next expiry makes it */
    int64_t now = wall_ms(), retention = e->retention_ms;
    if (maintain(e, now, now - retention) != 0 && PQstatus(e->conn) != CONNECTION_OK) {
        disconnect(e);
        return -1;
    }
    e->backoff_ms = 0;
    return 0;
}

/* Hands every notification read so far to the wake (several are one wake). */
static void notify_wake(pg_events *e)
{
    int any = 0;
    for (PGnotify *n; e->conn != NULL && (n = PQnotifies(e->conn)) != NULL;) {
        PQfreemem(n);
        any = 1;
    }
    if (!any)
        return;
    pthread_mutex_lock(&e->wake_lock);
    if (e->wake != NULL)
        e->wake(e->wake_ctx);
    pthread_mutex_unlock(&e->wake_lock);
}

static void refresh_stats(pg_events *e)
{
    int64_t now = mono_ms();
    if (!e->o.keeps_stats || e->conn == NULL || now < e->stats_at_ms)
        return;
    e->stats_at_ms = now + PG_EVENTS_STATS_EVERY_MS;
    int status = 0;
    params p = {0};
    p_int(&p, wall_ms());
    /* events held: the planner's estimate (a count would read the whole table every second) */
    PGresult *r = run(e, ST_STATS, &p, PGRES_TUPLES_OK, &status);
    if (r == NULL || PQntuples(r) != 1) {
        PQclear(r);
        return;
    }
    events_stats s = {.events = (size_t)int_at(r, 0, 0),
                      .pending = (size_t)int_at(r, 0, 1),
                      .in_flight = (size_t)int_at(r, 0, 2),
                      .oldest_due_ms = int_at(r, 0, 3)};
    PQclear(r);
    pthread_mutex_lock(&e->lock);
    e->stats = s;
    pthread_mutex_unlock(&e->lock);
}

static void run_call(pg_events *e, backend_call *c)
{
    switch (c->verb) {
    case BACKEND_PUBLISH:
        publish_batch(e, c); /* run_calls batches them; one alone is a batch of one */
        return;
    case BACKEND_GET_EVENT:
        get_event(e, c);
        return;
    case BACKEND_LIST_ATTEMPTS:
        list_attempts(e, c);
        return;
    case BACKEND_RESEND:
        resend(e, c);
        return;
    case BACKEND_RECOVER:
        recover(e, c);
        return;
    case BACKEND_CLAIM:
        claim(e, c);
        return;
    case BACKEND_EXPIRE:
        expire(e, c);
        return;
    case BACKEND_GET:
    case BACKEND_UPDATE:
    case BACKEND_DELETE:
        e->o.run_webhook_call(e->o.ctx, e->conn, c);
        return;
    default:
        break;
    }
    HG_ASSERT(!"a verb the event worker does not run");
}

/* Runs a batch (calls linked by batch_next) with `batch`, or fails each when there is no
 * connection; then as after any call: a broken connection dropped, notifications passed on. */
static void run_batch(pg_events *e, backend_call *calls, void (*batch)(pg_events *e, backend_call *calls))
{
    if (calls == NULL)
        return;
    if (ensure_connected(e) != 0) {
        finish_all(calls, ECONNREFUSED);
        return;
    }
    batch(e, calls);
    if (e->conn != NULL && PQstatus(e->conn) != CONNECTION_OK)
        disconnect(e);
    notify_wake(e);
}

/* Runs the calls taken from the queue: the PUBLISHes together, the RECORDs together, the
 * others in order. */
static void run_calls(pg_events *e, backend_call *calls)
{
    backend_call *records = NULL, **records_tail = &records;
    backend_call *publishes = NULL, **publishes_tail = &publishes;
    while (calls != NULL) {
        backend_call *c = calls;
        calls = c->batch_next;
        c->batch_next = NULL;
        if (ensure_connected(e) != 0) {
            finish(c, ECONNREFUSED);
            continue;
        }
        if (c->verb == BACKEND_RECORD) {
            *records_tail = c;
            records_tail = &c->batch_next;
            continue;
        }
        if (c->verb == BACKEND_PUBLISH) {
            *publishes_tail = c;
            publishes_tail = &c->batch_next;
            continue;
        }
        run_call(e, c);
        if (e->conn != NULL && PQstatus(e->conn) != CONNECTION_OK)
            disconnect(e);
        notify_wake(e);
    }
    run_batch(e, publishes, publish_batch);
    run_batch(e, records, record_batch);
}

/* Idle: waits for a queued call, a notification, or the backstop. */
static void wait_idle(pg_events *e)
{
    struct pollfd fds[2] = {{e->pipe[0], POLLIN, 0}, {e->conn != NULL ? PQsocket(e->conn) : -1, POLLIN, 0}};
    int timeout = PG_EVENTS_IDLE_POLL_MS;
    if (e->conn == NULL) {
        int64_t until = e->retry_at_ms - mono_ms();
        timeout = until < 0 ? 0 : until < timeout ? (int)until : timeout;
    }
    if (poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout) > 0) {
        char buf[64];
        if (fds[0].revents != 0)
            while (read(e->pipe[0], buf, sizeof buf) > 0) {
            }
        if (fds[1].fd >= 0 && fds[1].revents != 0) {
            if (!PQconsumeInput(e->conn))
                disconnect(e);
            else
                notify_wake(e);
        }
    }
}

static void *worker(void *arg)
{
    pg_events *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        backend_call *calls = e->head;
        e->head = NULL;
        e->tail = &e->head;
        e->queued = 0;
        int stopping = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (calls != NULL) {
            run_calls(e, calls);
            refresh_stats(e); /* when due: a worker never idle (under load) keeps its gauges current */
        } else if (stopping) {
            break;
        } else {
            (void)ensure_connected(e);
            refresh_stats(e);
            wait_idle(e);
        }
        pthread_mutex_lock(&e->lock);
    }
    PQfinish(e->conn);
    e->conn = NULL;
    return NULL;
}

/* ---- the interface -------------------------------------------------------------------------- */

pg_events *pg_events_create(const pg_events_options *o)
{
    HG_ASSERT(o->conninfo != NULL && o->migrated != NULL && o->run_webhook_call != NULL);
    pg_events *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->o = *o;
    e->retention_ms = o->retention_ms > 0 ? o->retention_ms : PG_EVENTS_RETENTION_DEFAULT_MS;
    e->tail = &e->head;
    if ((e->conninfo = strdup(o->conninfo)) == NULL || pipe(e->pipe) != 0) {
        free(e->conninfo);
        free(e);
        return NULL;
    }
    e->o.conninfo = e->conninfo;
    for (int i = 0; i < 2; i++)
        fcntl(e->pipe[i], F_SETFL, fcntl(e->pipe[i], F_GETFL) | O_NONBLOCK);
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->wake_lock, NULL);
    if (pthread_create(&e->thread, NULL, worker, e) != 0) {
        close(e->pipe[0]);
        close(e->pipe[1]);
        pthread_mutex_destroy(&e->lock);
        pthread_mutex_destroy(&e->wake_lock);
        free(e->conninfo);
        free(e);
        return NULL;
    }
    return e;
}

void pg_events_submit(pg_events *e, backend_call *c)
{
    c->batch_next = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->queued >= PG_EVENTS_QUEUE_MAX) {
        pthread_mutex_unlock(&e->lock);
        finish(c, EAGAIN);
        return;
    }
    int was_empty = e->head == NULL;
    *e->tail = c;
    e->tail = &c->batch_next;
    e->queued++;
    pthread_mutex_unlock(&e->lock);
    if (was_empty)
        (void)!write(e->pipe[1], "", 1); /* full: a byte is there already */
}

void pg_events_stats(pg_events *e, events_stats *out)
{
    pthread_mutex_lock(&e->lock);
    *out = e->stats;
    pthread_mutex_unlock(&e->lock);
}

void pg_events_set_wake(pg_events *e, void (*wake)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&e->wake_lock);
    e->wake = wake;
    e->wake_ctx = ctx;
    pthread_mutex_unlock(&e->wake_lock);
}

void pg_events_destroy(pg_events *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_mutex_unlock(&e->lock);
    (void)!write(e->pipe[1], "", 1);
    pthread_join(e->thread, NULL);
    close(e->pipe[0]);
    close(e->pipe[1]);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->wake_lock);
    free(e->conninfo);
    free(e);
}
