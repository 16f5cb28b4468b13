/* backend_postgres: the backend of backend.h over PostgreSQL, so any number of hookgate
 * nodes serve one set of webhooks.
 *
 * One store thread owns `connections` libpq connections in non-blocking pipeline mode with
 * prepared statements. A submitted call is queued and the thread woken (an eventfd); the
 * thread sends every queued call at once, each statement followed by its own sync (so each
 * commits, or fails, alone: one client's conflict never aborts another's create), flushes,
 * and reads answers as they come, in order. Many calls are thus in flight on one
 * connection and a burst of creates costs one round trip. Every answer is read from the
 * database: no node caches what another may change.
 *
 * A call's record is copied into the call's allocator. When no connection is up, calls
 * fail at once with ECONNREFUSED (the core answers 503); a call whose answer has not come
 * within statement_timeout_ms plus a margin fails with ETIMEDOUT and its connection is
 * dropped (a database that vanished without a word). Connections are re-made on the
 * store thread with a doubling backoff, never on an event loop. */
#include "backend.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hg_assert.h"

#define PG_MAX_CONNECTIONS 64
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000
#define PG_TIMEOUT_MARGIN_MS 1000 /* beyond statement_timeout: the network's share */
#define PG_CONNECT_TIMEOUT_S "5"
#define PG_ADVISORY_LOCK 0x686f6f6b67617465LL /* "hookgate": serialises migrations of N nodes */

/* The embedded migrations (server/store/migrations/NNNN_*.sql, by the build), in order. */
extern const char pg_migration_1[];
static const char *const migrations[] = {pg_migration_1};
#define PG_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define COLUMNS "id, seq, created_ms, ecosystem_id, url, secret, sealed_secret, description, disabled, " \
                "idempotency_key, deleted"
enum { COL_ID, COL_SEQ, COL_CREATED, COL_ECOSYSTEM, COL_URL, COL_SECRET, COL_SEALED, COL_DESCRIPTION, COL_DISABLED,
       COL_IDEMPOTENCY, COL_DELETED, COL_COUNT };

/* The prepared statements, one per verb. */
static const struct {
    const char *name;
    const char *sql;
    int n_params;
} statements[BACKEND_VERBS] = {
    [BACKEND_CREATE] = {"hg_create",
                        "INSERT INTO hookgate_webhooks (id, created_ms, ecosystem_id, url, secret, sealed_secret, "
                        "description, disabled, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING " COLUMNS,
                        9},
    [BACKEND_GET] = {"hg_get", "SELECT " COLUMNS " FROM hookgate_webhooks WHERE id = $1 AND NOT deleted", 1},
    [BACKEND_LIST] = {"hg_list",
                      "SELECT " COLUMNS " FROM hookgate_webhooks WHERE ecosystem_id = $1 AND NOT deleted "
                      "AND seq > $2 ORDER BY seq LIMIT $3",
                      3},
    [BACKEND_FIND_IDEMPOTENT] = {"hg_find", "SELECT " COLUMNS " FROM hookgate_webhooks WHERE idempotency_key = $1", 1},
    [BACKEND_UPDATE] = {"hg_update",
                        "UPDATE hookgate_webhooks SET "
                        "url = CASE WHEN $2 THEN $3 ELSE url END, "
                        "secret = CASE WHEN $4 THEN $5 ELSE secret END, "
                        "sealed_secret = CASE WHEN $4 THEN $6 ELSE sealed_secret END, "
                        "description = CASE WHEN $7 THEN $8 ELSE description END, "
                        "disabled = CASE WHEN $9 THEN $10 ELSE disabled END "
                        "WHERE id = $1 AND NOT deleted RETURNING " COLUMNS,
                        10},
    [BACKEND_DELETE] = {"hg_delete",
                        "UPDATE hookgate_webhooks SET deleted = true WHERE id = $1 AND NOT deleted RETURNING " COLUMNS,
                        1},
};

/* Before a keyed create: the key of a webhook created with it longer ago than the window
 * is released (the unique index would refuse the new one; the memory store forgets it). */
static const char *const expire_name = "hg_expire_key";
static const char *const expire_sql =
    "UPDATE hookgate_webhooks SET idempotency_key = NULL WHERE idempotency_key = $1 AND created_ms <= $2";

/* A call on the wire: its answer comes in the order it was sent. */
typedef struct sent {
    backend_call *call; /* NULL: a statement of the backend's own (hg_expire_key) */
    PGresult *result; /* its result, kept until the sync that ends it */
    uint64_t sent_us;
} sent;

typedef struct pg_conn {
    PGconn *conn;
    sent *fifo; /* a ring of `cap` entries */
    size_t head, count, cap;
    int want_write; /* PQflush said more is to send */
} pg_conn;

typedef struct pg_backend {
    backend pub;
    char *conninfo;
    unsigned statement_timeout_ms;
    int64_t key_window_ms;
    void (*on_round_trip)(int64_t us);
    void (*on_error)(const char *sqlstate);
    unsigned n_conns;
    pg_conn conns[PG_MAX_CONNECTIONS];
    pthread_t thread;
    int wake; /* eventfd */
    pthread_mutex_t lock;  /* queue, stopping */
    backend_call **queue;  /* submitted, not yet sent */
    size_t queued, queue_cap;
    int stopping;
    atomic_int up;         /* connections up: writable when > 0 */
    atomic_size_t in_flight;
    unsigned backoff_ms;
    uint64_t retry_at_ms;
    char why[256]; /* the last connection failure, for the log */
} pg_backend;

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static uint64_t now_ms(void)
{
    return now_us() / 1000;
}

static void finish(backend_call *c, int status, const store_webhook *found)
{
    c->status = status;
    c->found = found;
    c->done(c);
}

/* ---- rows into records ----------------------------------------------------------------- */

/* A bytea column (text format) into dst (at most cap bytes); its length, or -1. */
static long bytea_of(const PGresult *r, int row, int col, uint8_t *dst, size_t cap)
{
    size_t n;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (raw == NULL || n > cap) {
        PQfreemem(raw);
        return -1;
    }
    memcpy(dst, raw, n);
    PQfreemem(raw);
    return (long)n;
}

/* Copies row `row` into one block from alloc: the record and its strings. NULL when out
 * of memory or the row is not one hookgate wrote. */
static store_webhook *record_of(const PGresult *r, int row, ProtobufCAllocator *alloc)
{
    size_t text = 0;
    for (int col = COL_ECOSYSTEM; col <= COL_DESCRIPTION; col++)
        text += (size_t)PQgetlength(r, row, col) + 1; /* bytea's hex text is longer than its bytes */
    size_t size = sizeof(store_webhook) + STORE_IDEMPOTENCY_LEN + text;
    char *block = alloc->alloc(alloc->allocator_data, size);
    if (block == NULL)
        return NULL;
    store_webhook *w = (store_webhook *)block;
    memset(w, 0, sizeof(*w));
    char *p = block + sizeof(store_webhook) + STORE_IDEMPOTENCY_LEN;
    const char *end = block + size;
    if (bytea_of(r, row, COL_ID, w->id.bytes, OBJECTID_LEN) != OBJECTID_LEN)
        return NULL;
    w->seq = strtoull(PQgetvalue(r, row, COL_SEQ), NULL, 10);
    w->created_ms = strtoll(PQgetvalue(r, row, COL_CREATED), NULL, 10);
    w->disabled = PQgetvalue(r, row, COL_DISABLED)[0] == 't';
    w->deleted = PQgetvalue(r, row, COL_DELETED)[0] == 't';
    const char **strings[] = {&w->ecosystem_id, &w->url, &w->secret, NULL, &w->description};
    for (int col = COL_ECOSYSTEM; col <= COL_DESCRIPTION; col++) {
        if (col == COL_SEALED) {
            if (PQgetisnull(r, row, col))
                continue;
            long n = bytea_of(r, row, col, (uint8_t *)p, (size_t)(end - p));
            if (n < 0)
                return NULL;
            w->sealed_secret = (const uint8_t *)p;
            w->sealed_secret_len = (size_t)n;
            p += n;
            continue;
        }
        size_t n = (size_t)PQgetlength(r, row, col);
        HG_ASSERT(p + n + 1 <= end);
        memcpy(p, PQgetvalue(r, row, col), n + 1);
        *strings[col - COL_ECOSYSTEM] = p;
        p += n + 1;
    }
    if (!PQgetisnull(r, row, COL_IDEMPOTENCY)) {
        uint8_t *digest = (uint8_t *)block + sizeof(store_webhook);
        if (bytea_of(r, row, COL_IDEMPOTENCY, digest, STORE_IDEMPOTENCY_LEN) != STORE_IDEMPOTENCY_LEN)
            return NULL;
        w->idempotency = digest;
    }
    return w;
}

/* ---- one call's statement -------------------------------------------------------------- */

/* Sends c's statement and a sync on pc. 0, or -1 when libpq refused (the connection is
 * then broken). The record to write is sealed first: plain secrets go no further. */
static int send_call(pg_backend *pg, pg_conn *pc, backend_call *c)
{
    const char *values[10] = {0};
    int lengths[10] = {0}, formats[10] = {0};
    char created[24], seq[24], limit[24];
    store_webhook sealed;
    uint8_t *buf = NULL;
    const uint8_t *id = c->id.bytes;
    const store_webhook *w = NULL;
    store_changes ch = {0};
#define BINARY(i, p, n) (values[i] = (const char *)(p), lengths[i] = (int)(n), formats[i] = 1)
    switch (c->verb) {
    case BACKEND_CREATE:
        if (seal_webhook(pg->pub.keys, c->webhook, &sealed, &buf) != 0)
            return ENOMEM;
        w = &sealed;
        BINARY(0, w->id.bytes, OBJECTID_LEN);
        snprintf(created, sizeof created, "%lld", (long long)w->created_ms);
        values[1] = created;
        values[2] = w->ecosystem_id;
        values[3] = w->url;
        values[4] = w->secret;
        if (w->sealed_secret != NULL)
            BINARY(5, w->sealed_secret, w->sealed_secret_len);
        values[6] = w->description;
        values[7] = w->disabled ? "t" : "f";
        if (w->idempotency != NULL)
            BINARY(8, w->idempotency, STORE_IDEMPOTENCY_LEN);
        break;
    case BACKEND_GET:
    case BACKEND_DELETE:
        BINARY(0, id, OBJECTID_LEN);
        break;
    case BACKEND_FIND_IDEMPOTENT:
        BINARY(0, c->digest, STORE_IDEMPOTENCY_LEN);
        break;
    case BACKEND_LIST:
        values[0] = c->ecosystem_id;
        snprintf(seq, sizeof seq, "%lld", c->after != NULL ? (long long)c->after->seq : -1LL);
        values[1] = seq;
        snprintf(limit, sizeof limit, "%zu", c->limit + 1); /* one more: is there a next page? */
        values[2] = limit;
        break;
    case BACKEND_UPDATE: {
        /* a new secret sealed as a create's would be: through a record of the changes */
        ch = *c->changes;
        store_webhook as_record = {.id = c->id, .ecosystem_id = "", .url = "", .description = "",
                                   .secret = ch.sets & STORE_SET_SECRET ? ch.secret : ""};
        if (seal_webhook(pg->pub.keys, &as_record, &sealed, &buf) != 0)
            return ENOMEM;
        BINARY(0, id, OBJECTID_LEN);
        values[1] = ch.sets & STORE_SET_URL ? "t" : "f";
        values[2] = ch.sets & STORE_SET_URL ? ch.url : "";
        values[3] = ch.sets & STORE_SET_SECRET ? "t" : "f";
        values[4] = sealed.secret;
        if (sealed.sealed_secret != NULL)
            BINARY(5, sealed.sealed_secret, sealed.sealed_secret_len);
        values[6] = ch.sets & STORE_SET_DESCRIPTION ? "t" : "f";
        values[7] = ch.sets & STORE_SET_DESCRIPTION ? ch.description : "";
        values[8] = ch.sets & STORE_SET_DISABLED ? "t" : "f";
        values[9] = ch.disabled ? "t" : "f";
        break;
    }
    case BACKEND_VERBS:
        HG_ASSERT(!"an unknown backend verb");
    }
#undef BINARY
    int ok = PQsendQueryPrepared(pc->conn, statements[c->verb].name, statements[c->verb].n_params, values, lengths,
                                 formats, 0) &&
             PQpipelineSync(pc->conn);
    free(buf);
    return ok ? 0 : -1;
}

/* The outcome of c from its statement's result. */
static void conclude(backend_call *c, PGresult *r)
{
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK) {
        /* 57014 query_canceled: statement_timeout; anything else: the database refused */
        const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        finish(c, state != NULL && strcmp(state, "57014") == 0 ? ETIMEDOUT : EIO, NULL);
        return;
    }
    int rows = PQntuples(r);
    if (c->verb == BACKEND_LIST) {
        size_t n = (size_t)rows > c->limit ? c->limit : (size_t)rows;
        c->more = (size_t)rows > c->limit;
        if (n == 0) {
            finish(c, 0, NULL);
            return;
        }
        const store_webhook **items = c->alloc->alloc(c->alloc->allocator_data, n * sizeof(*items));
        for (size_t i = 0; items != NULL && i < n; i++)
            if ((items[i] = record_of(r, (int)i, c->alloc)) == NULL)
                items = NULL; /* from the call's pool: freed with it */
        if (items == NULL) {
            c->more = 0;
            finish(c, ENOMEM, NULL);
            return;
        }
        c->items = items;
        c->n_items = n;
        finish(c, 0, NULL);
        return;
    }
    if (rows == 0) {
        /* a create that met another with its Idempotency-Key (on any node): the caller
         * looks that one up; an update or delete of a webhook that is not there */
        finish(c, c->verb == BACKEND_CREATE ? EEXIST : BACKEND_NOT_FOUND, NULL);
        return;
    }
    const store_webhook *w = record_of(r, 0, c->alloc);
    finish(c, w != NULL ? 0 : ENOMEM, w);
}

/* ---- connections (on the store thread) ------------------------------------------------- */

static void conn_drop(pg_backend *pg, pg_conn *pc, int status)
{
    if (pc->conn == NULL)
        return;
    PQfinish(pc->conn);
    pc->conn = NULL;
    atomic_fetch_sub(&pg->up, 1);
    while (pc->count > 0) { /* what was in flight: its outcome is unknown, so a failure */
        sent *s = &pc->fifo[pc->head];
        pc->head = (pc->head + 1) % pc->cap;
        pc->count--;
        atomic_fetch_sub(&pg->in_flight, 1);
        PQclear(s->result);
        if (s->call != NULL)
            finish(s->call, status, NULL);
    }
    pc->want_write = 0;
}

/* Runs one statement synchronously (start-up of a connection only). */
static int exec_ok(PGconn *conn, const char *sql, ExecStatusType want, char *why, size_t why_size)
{
    PGresult *r = PQexec(conn, sql);
    int ok = r != NULL && PQresultStatus(r) == want;
    if (!ok)
        snprintf(why, why_size, "%s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return ok;
}

/* Brings the schema to PG_SCHEMA_VERSION in one transaction, under an advisory lock so
 * that nodes starting together apply it once. 0; -1 with why; 1 when the database's schema
 * is newer than this node knows (it must not write there). */
static int migrate(PGconn *conn, char *why, size_t why_size)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", PG_ADVISORY_LOCK);
    if (!exec_ok(conn, "BEGIN", PGRES_COMMAND_OK, why, why_size) || !exec_ok(conn, sql, PGRES_TUPLES_OK, why, why_size) ||
        !exec_ok(conn, "CREATE TABLE IF NOT EXISTS hookgate_schema_version (version integer NOT NULL)",
                 PGRES_COMMAND_OK, why, why_size))
        goto fail;
    PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM hookgate_schema_version");
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(why, why_size, "%s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(conn));
        PQclear(r);
        goto fail;
    }
    int version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > PG_SCHEMA_VERSION) {
        snprintf(why, why_size, "the database's schema is version %d; this hookgate knows up to %d (upgrade it)",
                 version, PG_SCHEMA_VERSION);
        exec_ok(conn, "ROLLBACK", PGRES_COMMAND_OK, sql, sizeof sql);
        return 1;
    }
    for (int v = version + 1; v <= PG_SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof sql, "INSERT INTO hookgate_schema_version VALUES (%d)", v);
        if (!exec_ok(conn, migrations[v - 1], PGRES_COMMAND_OK, why, why_size) ||
            !exec_ok(conn, sql, PGRES_COMMAND_OK, why, why_size))
            goto fail;
    }
    if (!exec_ok(conn, "COMMIT", PGRES_COMMAND_OK, why, why_size))
        goto fail;
    return 0;
fail:
    exec_ok(conn, "ROLLBACK", PGRES_COMMAND_OK, sql, sizeof sql);
    return -1;
}

/* The server's notices ("relation already exists, skipping") are not for the log. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Opens one connection: the statement timeout set, the schema current, the statements
 * prepared, then non-blocking pipeline mode. NULL with why. *newer is set when the
 * database's schema is newer than this node's. */
static PGconn *connect_one(pg_backend *pg, char *why, size_t why_size, int *newer)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *values[] = {pg->conninfo, PG_CONNECT_TIMEOUT_S, "hookgate", NULL};
    *newer = 0;
    PGconn *conn = PQconnectdbParams(keys, values, 1); /* dbname expands the conninfo */
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        snprintf(why, why_size, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    char sql[96];
    snprintf(sql, sizeof sql, "SET statement_timeout = %u", pg->statement_timeout_ms);
    int m = exec_ok(conn, sql, PGRES_COMMAND_OK, why, why_size) ? migrate(conn, why, why_size) : -1;
    if (m != 0) {
        *newer = m == 1;
        PQfinish(conn);
        return NULL;
    }
    for (int v = 0; v <= BACKEND_VERBS; v++) {
        PGresult *r = v < BACKEND_VERBS ? PQprepare(conn, statements[v].name, statements[v].sql, statements[v].n_params, NULL)
                                        : PQprepare(conn, expire_name, expire_sql, 2, NULL);
        int ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(why, why_size, "%s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(conn));
        PQclear(r);
        if (!ok) {
            PQfinish(conn);
            return NULL;
        }
    }
    if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1) {
        snprintf(why, why_size, "%s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the server running");
 * the log has one line per event, so every control character becomes a space. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* Re-makes missing connections when their backoff has passed. */
static void reconnect(pg_backend *pg)
{
    uint64_t now = now_ms();
    if (now < pg->retry_at_ms)
        return;
    for (unsigned i = 0; i < pg->n_conns; i++) {
        pg_conn *pc = &pg->conns[i];
        if (pc->conn != NULL)
            continue;
        char why[sizeof pg->why];
        int newer;
        if ((pc->conn = connect_one(pg, why, sizeof why, &newer)) == NULL) {
            one_line(why);
            if (strcmp(why, pg->why) != 0) { /* said once, not at every retry */
                fprintf(stderr, "hookgate: store: PostgreSQL: %s\n", why);
                snprintf(pg->why, sizeof pg->why, "%s", why);
            }
            pg->backoff_ms = pg->backoff_ms == 0 ? PG_BACKOFF_MIN_MS : pg->backoff_ms * 2;
            if (pg->backoff_ms > PG_BACKOFF_MAX_MS)
                pg->backoff_ms = PG_BACKOFF_MAX_MS;
            pg->retry_at_ms = now_ms() + pg->backoff_ms;
            return;
        }
        if (pg->why[0] != '\0')
            fprintf(stderr, "hookgate: store: PostgreSQL: connected again\n");
        pg->why[0] = '\0';
        pg->backoff_ms = 0;
        atomic_fetch_add(&pg->up, 1);
    }
}

/* Sends a call on the least busy connection; without one, fails it now. */
static void dispatch(pg_backend *pg, backend_call *c)
{
    pg_conn *best = NULL;
    for (unsigned i = 0; i < pg->n_conns; i++) {
        pg_conn *pc = &pg->conns[i];
        if (pc->conn != NULL && (best == NULL || pc->count < best->count))
            best = pc;
    }
    if (best == NULL) {
        finish(c, ECONNREFUSED, NULL);
        return;
    }
    if (best->count + 2 > best->cap) { /* room for a keyed create's two statements */
        size_t cap = best->cap == 0 ? 64 : 2 * best->cap;
        sent *grown = malloc(cap * sizeof(*grown));
        if (grown == NULL) {
            finish(c, ENOMEM, NULL);
            return;
        }
        for (size_t i = 0; i < best->count; i++)
            grown[i] = best->fifo[(best->head + i) % best->cap];
        free(best->fifo);
        best->fifo = grown;
        best->head = 0;
        best->cap = cap;
    }
    if (c->verb == BACKEND_CREATE && c->webhook->idempotency != NULL) {
        char cutoff[24];
        snprintf(cutoff, sizeof cutoff, "%lld", (long long)(c->webhook->created_ms - pg->key_window_ms));
        const char *values[2] = {(const char *)c->webhook->idempotency, cutoff};
        int lengths[2] = {STORE_IDEMPOTENCY_LEN, 0}, formats[2] = {1, 0};
        int ok = PQsendQueryPrepared(best->conn, expire_name, 2, values, lengths, formats, 0) &&
                 PQpipelineSync(best->conn);
        best->fifo[(best->head + best->count) % best->cap] = (sent){NULL, NULL, now_us()};
        best->count++;
        atomic_fetch_add(&pg->in_flight, 1);
        if (!ok) {
            conn_drop(pg, best, ECONNRESET);
            finish(c, ECONNRESET, NULL);
            return;
        }
    }
    int rc = send_call(pg, best, c);
    if (rc == ENOMEM) {
        finish(c, ENOMEM, NULL);
        return;
    }
    sent *s = &best->fifo[(best->head + best->count) % best->cap];
    *s = (sent){c, NULL, now_us()};
    best->count++;
    atomic_fetch_add(&pg->in_flight, 1);
    if (rc != 0) {
        conn_drop(pg, best, ECONNRESET);
        return;
    }
    best->want_write = 1;
}

/* Reads what pc's server sent and finishes the calls whose answers are whole. */
static void drain(pg_backend *pg, pg_conn *pc)
{
    if (!PQconsumeInput(pc->conn)) {
        conn_drop(pg, pc, ECONNRESET);
        return;
    }
    while (pc->count > 0 && !PQisBusy(pc->conn)) {
        sent *s = &pc->fifo[pc->head];
        PGresult *r = PQgetResult(pc->conn);
        if (r == NULL)
            continue; /* the end of this statement's results: its sync comes next */
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            pc->head = (pc->head + 1) % pc->cap;
            pc->count--;
            atomic_fetch_sub(&pg->in_flight, 1);
            PGresult *result = s->result;
            backend_call *c = s->call;
            if (pg->on_round_trip != NULL)
                pg->on_round_trip((int64_t)(now_us() - s->sent_us));
            if (pg->on_error != NULL && (result == NULL || PQresultStatus(result) == PGRES_FATAL_ERROR)) {
                const char *state = result != NULL ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
                pg->on_error(state != NULL ? state : "");
            }
            if (c != NULL)
                conclude(c, result);
            PQclear(result);
            continue;
        }
        if (s->result == NULL)
            s->result = r; /* a statement has one result here */
        else
            PQclear(r);
    }
    if (PQstatus(pc->conn) == CONNECTION_BAD)
        conn_drop(pg, pc, ECONNRESET);
}

static void *run(void *arg)
{
    pg_backend *pg = arg;
    struct pollfd fds[PG_MAX_CONNECTIONS + 1];
    for (;;) {
        reconnect(pg);
        pthread_mutex_lock(&pg->lock);
        backend_call **batch = pg->queue;
        size_t n = pg->queued;
        int stopping = pg->stopping;
        pg->queue = NULL;
        pg->queued = pg->queue_cap = 0;
        pthread_mutex_unlock(&pg->lock);
        for (size_t i = 0; i < n; i++)
            dispatch(pg, batch[i]);
        free(batch);
        uint64_t now = now_ms(), limit = pg->statement_timeout_ms + PG_TIMEOUT_MARGIN_MS;
        for (unsigned i = 0; i < pg->n_conns; i++) {
            pg_conn *pc = &pg->conns[i];
            if (pc->conn == NULL)
                continue;
            if (pc->want_write) {
                int f = PQflush(pc->conn);
                if (f < 0)
                    conn_drop(pg, pc, ECONNRESET);
                else
                    pc->want_write = f == 1;
            }
            if (pc->conn != NULL && pc->count > 0 && now - pc->fifo[pc->head].sent_us / 1000 > limit)
                conn_drop(pg, pc, ETIMEDOUT); /* the database went silent */
        }
        if (stopping) {
            int busy = 0;
            for (unsigned i = 0; i < pg->n_conns; i++)
                busy |= pg->conns[i].conn != NULL && pg->conns[i].count > 0;
            if (!busy)
                break; /* every submitted call has its answer */
        }
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){pg->wake, POLLIN, 0};
        pg_conn *polled[PG_MAX_CONNECTIONS];
        for (unsigned i = 0; i < pg->n_conns; i++) {
            pg_conn *pc = &pg->conns[i];
            if (pc->conn == NULL)
                continue;
            polled[nfds - 1] = pc;
            fds[nfds++] = (struct pollfd){PQsocket(pc->conn), (short)(POLLIN | (pc->want_write ? POLLOUT : 0)), 0};
        }
        int wait = pg->up < (int)pg->n_conns ? (int)PG_BACKOFF_MIN_MS : 1000;
        if (poll(fds, nfds, wait) < 0)
            continue;
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            (void)!read(pg->wake, &v, sizeof v);
        }
        for (nfds_t i = 1; i < nfds; i++)
            if (fds[i].revents != 0 && polled[i - 1]->conn != NULL)
                drain(pg, polled[i - 1]);
    }
    for (unsigned i = 0; i < pg->n_conns; i++)
        conn_drop(pg, &pg->conns[i], ECONNRESET);
    return NULL;
}

/* ---- the interface --------------------------------------------------------------------- */

static void pg_submit(void *self, backend_call *c)
{
    pg_backend *pg = self;
    c->backend = pg;
    c->found = NULL;
    c->items = NULL;
    c->n_items = 0;
    c->more = 0;
    if (atomic_load(&pg->up) == 0) { /* no database: say so now, not after a queue */
        finish(c, ECONNREFUSED, NULL);
        return;
    }
    pthread_mutex_lock(&pg->lock);
    if (pg->queued == pg->queue_cap) {
        size_t cap = pg->queue_cap == 0 ? 64 : 2 * pg->queue_cap;
        backend_call **grown = realloc(pg->queue, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&pg->lock);
            finish(c, ENOMEM, NULL);
            return;
        }
        pg->queue = grown;
        pg->queue_cap = cap;
    }
    pg->queue[pg->queued++] = c;
    pthread_mutex_unlock(&pg->lock);
    uint64_t one = 1;
    (void)!write(pg->wake, &one, sizeof one);
}

static int pg_is_synchronous(void *self, backend_verb verb)
{
    (void)self;
    (void)verb;
    return 0;
}

static void pg_stats(void *self, backend_stats *out)
{
    pg_backend *pg = self;
    out->webhooks = 0; /* not counted: that is a query, and /metrics must not cost one */
    out->queue_depth = atomic_load(&pg->in_flight);
    out->writable = atomic_load(&pg->up) > 0;
    out->unwritable = "PostgreSQL cannot be reached (every call answers 503 until a connection is made again)";
    out->database = 1;
    out->connections = pg->n_conns;
    out->connections_up = (size_t)atomic_load(&pg->up);
}

static void pg_destroy(void *self)
{
    pg_backend *pg = self;
    pthread_mutex_lock(&pg->lock);
    pg->stopping = 1;
    pthread_mutex_unlock(&pg->lock);
    uint64_t one = 1;
    (void)!write(pg->wake, &one, sizeof one);
    pthread_join(pg->thread, NULL);
    for (size_t i = 0; i < pg->queued; i++) /* submitted after the thread's last look */
        finish(pg->queue[i], ECONNRESET, NULL);
    for (unsigned i = 0; i < pg->n_conns; i++)
        free(pg->conns[i].fifo);
    free(pg->queue);
    close(pg->wake);
    pthread_mutex_destroy(&pg->lock);
    seal_keyring_destroy((seal_keyring *)pg->pub.keys);
    free(pg->conninfo);
    free(pg);
}

static const backend_ops pg_ops = {
    .name = "postgres",
    .submit = pg_submit,
    .is_synchronous = pg_is_synchronous,
    .stats = pg_stats,
    .destroy = pg_destroy,
};

backend *backend_postgres_open(const backend_postgres_options *o, seal_keyring *keys, char err[JOURNAL_ERROR_MAX])
{
    HG_ASSERT(o->connections >= 1 && o->connections <= PG_MAX_CONNECTIONS);
    pg_backend *pg = calloc(1, sizeof(*pg));
    if (pg == NULL || (pg->conninfo = strdup(o->conninfo)) == NULL) {
        free(pg);
        seal_keyring_destroy(keys);
        snprintf(err, JOURNAL_ERROR_MAX, "out of memory");
        return NULL;
    }
    pg->pub.keys = keys;
    pg->pub.ops = &pg_ops;
    pg->pub.self = pg;
    pg->n_conns = o->connections;
    pg->statement_timeout_ms = o->statement_timeout_ms;
    pg->key_window_ms = o->key_window_ms;
    pg->on_round_trip = o->on_round_trip;
    pg->on_error = o->on_error;
    pthread_mutex_init(&pg->lock, NULL);
    /* the first connection now: a schema newer than this node stops start-up; an
     * unreachable database does not (the node answers 503 and keeps trying) */
    int newer;
    char why[sizeof pg->why];
    pg->wake = -1;
    if ((pg->conns[0].conn = connect_one(pg, why, sizeof why, &newer)) != NULL) {
        atomic_store(&pg->up, 1);
    } else if (newer) {
        one_line(why);
        snprintf(err, JOURNAL_ERROR_MAX, "PostgreSQL: %s", why);
        goto fail;
    } else {
        one_line(why);
        fprintf(stderr, "hookgate: store: PostgreSQL: %s (answering 503 until it can connect)\n", why);
        snprintf(pg->why, sizeof pg->why, "%s", why);
    }
    if ((pg->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 || pthread_create(&pg->thread, NULL, run, pg) != 0) {
        snprintf(err, JOURNAL_ERROR_MAX, "cannot start the PostgreSQL store's thread");
        goto fail;
    }
    return &pg->pub;
fail:
    if (pg->conns[0].conn != NULL)
        PQfinish(pg->conns[0].conn);
    if (pg->wake >= 0)
        close(pg->wake);
    pthread_mutex_destroy(&pg->lock);
    seal_keyring_destroy(keys);
    free(pg->conninfo);
    free(pg);
    return NULL;
}
