/* backend_postgres: the backend of backend.h over PostgreSQL, so any number of hookgate
 * nodes serve one set of webhooks.
 *
 * Each event loop owns `connections` libpq connections (backend_loop_attach), in
 * non-blocking pipeline mode with prepared statements, driven by the loop's own socket
 * events (store_poller): a call submitted on a loop goes into one of that loop's
 * connections at once, each statement followed by its own sync (so each commits, or fails,
 * alone: one client's conflict never aborts another's create), and everything the loop
 * iteration submitted leaves in one write at its end (backend_loop_flush). Answers are read
 * as they come, in order, on the same loop, so no thread hands calls over and no loop ever
 * waits for the database. Every answer is read from the database: no node caches what
 * another may change.
 *
 * A call's record is copied into the call's allocator. When no connection of the loop is
 * up, calls fail at once with ECONNREFUSED (the core answers 503). A call whose answer has
 * not come within statement_timeout_ms plus a margin fails with ETIMEDOUT and its
 * connection is dropped (a database that vanished without a word). Connections are made
 * again with a doubling backoff, without blocking (PQconnectStartParams / PQconnectPoll).
 * The schema's migrations are applied by blocking connections off the loops: at start-up,
 * or by a thread of their own while the database is away; loops connect only after. */
#include "backend.h"
#include "log.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hg_assert.h"
#include "pg_events.h"

#define PG_MAX_CONNECTIONS 64
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 2000
#define PG_TIMEOUT_MARGIN_MS 1000 /* beyond statement_timeout: the network's share */
#define PG_CONNECT_TIMEOUT_S "5"
#define PG_BATCH_MAX 256 /* creates committed together, and GETs read by one statement, at most */
/* the element types of the array parameters */
#define PG_BOOL_OID 16
#define PG_BYTEA_OID 17
#define PG_INT8_OID 20
#define PG_TEXT_OID 25
#define PG_ADVISORY_LOCK 0x686f6f6b67617465LL /* "hookgate": serialises migrations of N nodes */

/* The embedded migrations (server/store/migrations/NNNN_*.sql, by the build), in order. */
extern const char pg_migration_1[], pg_migration_2[], pg_migration_3[];
static const char *const migrations[] = {pg_migration_1, pg_migration_2, pg_migration_3};
#define PG_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define COLUMNS PG_WEBHOOK_COLUMNS
enum { COL_ID, COL_CREATED, COL_ECOSYSTEM, COL_URL, COL_SECRET, COL_SEALED, COL_DESCRIPTION, COL_DISABLED,
       COL_IDEMPOTENCY, COL_DELETED, COL_DISABLED_REASON, COL_DISABLED_MS, COL_COUNT };
_Static_assert(COL_COUNT == PG_WEBHOOK_NCOLS, "pg_events.h names the webhook columns");

/* The prepared statements: one per verb, then those of the creates of a loop iteration
 * and of a keyed create. */
enum { STMT_CREATE_MANY = BACKEND_VERBS, STMT_CREATE_KEYED, STMT_EXPIRE, STMT_COUNT };

#define INSERT_INTO "INSERT INTO hookgate_webhooks (id, created_ms, ecosystem_id, url, secret, sealed_secret, " \
                    "description, disabled"
#define INSERT INSERT_INTO ", idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"

static const struct {
    const char *name;
    const char *sql;
    int n_params;
} statements[STMT_COUNT] = {
    /* a create answers with the record it was given (nothing of it is the database's), so
     * no RETURNING; one without a key cannot conflict but on a new id, which is an error */
    [BACKEND_CREATE] = {"hg_create", INSERT, 9},
    /* the creates without a key of one loop iteration: one statement, its columns as arrays
     * (rows inserted in the arrays' order, so the sequence numbers them as they came) */
    [STMT_CREATE_MANY] = {"hg_create_many",
                          INSERT_INTO ") SELECT * FROM unnest($1::bytea[], $2::int8[], $3::text[], "
                          "$4::text[], $5::text[], $6::bytea[], $7::text[], $8::bool[])",
                          8},
    /* one with a key met by another create (on any node) inserts nothing: the caller looks
     * that one up */
    [STMT_CREATE_KEYED] = {"hg_create_keyed", INSERT " ON CONFLICT (idempotency_key) DO NOTHING", 9},
    /* before a keyed create: the key of a webhook created with it longer ago than the
     * window is released (the unique index would refuse the new one; the memory store
     * forgets it) */
    [STMT_EXPIRE] = {"hg_expire_key",
                     "UPDATE hookgate_webhooks SET idempotency_key = NULL WHERE idempotency_key = $1 AND created_ms <= $2",
                     2},
    /* the GETs of one loop iteration: one statement, one index scan (an id asked twice is
     * one row) */
    [BACKEND_GET] = {"hg_get", "SELECT " COLUMNS " FROM hookgate_webhooks WHERE id = ANY ($1) AND NOT deleted", 1},
    [BACKEND_LIST] = {"hg_list",
                      "SELECT " COLUMNS " FROM hookgate_webhooks WHERE ecosystem_id = $1 AND NOT deleted "
                      "AND (created_ms, seq) > ($2, coalesce((SELECT seq FROM hookgate_webhooks WHERE id = $3 AND ecosystem_id = $1), -1)) "
                      "ORDER BY created_ms, seq LIMIT $4",
                      4},
    [BACKEND_FIND_IDEMPOTENT] = {"hg_find", "SELECT " COLUMNS " FROM hookgate_webhooks WHERE idempotency_key = $1", 1},
    /* an update that disables, and a delete, cancel the webhook's pending deliveries in
     * the same statement (the event log's DELIVERY record without an event id), and say how
     * many after the webhook's columns (COL_COUNT) */
    [BACKEND_UPDATE] = {"hg_update",
                        "WITH w AS (UPDATE hookgate_webhooks SET "
                        "url = CASE WHEN $2 THEN $3 ELSE url END, "
                        "secret = CASE WHEN $4 THEN $5 ELSE secret END, "
                        "sealed_secret = CASE WHEN $4 THEN $6 ELSE sealed_secret END, "
                        "description = CASE WHEN $7 THEN $8 ELSE description END, "
                        "disabled = CASE WHEN $9 THEN $10 ELSE disabled END, "
                        "disabled_reason = CASE WHEN $9 THEN $11::text ELSE disabled_reason END, "
                        "disabled_ms = CASE WHEN $9 THEN $12::int8 ELSE disabled_ms END "
                        "WHERE id = $1 AND NOT deleted RETURNING " COLUMNS "), "
                        "c AS (UPDATE hookgate_deliveries SET state = 3 WHERE webhook_id = $1 AND lease_until IS NULL "
                        "AND state = 0 AND $9 AND $10 AND EXISTS (SELECT 1 FROM w) RETURNING 1), "
                        /* enabled again by a client: its failure clock starts over */
                        "h AS (UPDATE hookgate_webhook_health SET failing_since_ms = 0 WHERE webhook_id = $1 "
                        "AND $9 AND NOT $10 AND $11::text IS NULL AND EXISTS (SELECT 1 FROM w)) "
                        "SELECT " COLUMNS ", (SELECT count(*) FROM c) FROM w",
                        12},
    [BACKEND_DELETE] = {"hg_delete",
                        "WITH w AS (UPDATE hookgate_webhooks SET deleted = true WHERE id = $1 AND NOT deleted "
                        "RETURNING " COLUMNS "), "
                        "c AS (UPDATE hookgate_deliveries SET state = 3 WHERE webhook_id = $1 AND lease_until IS NULL "
                        "AND state = 0 AND EXISTS (SELECT 1 FROM w) RETURNING 1) "
                        "SELECT " COLUMNS ", (SELECT count(*) FROM c) FROM w",
                        1},
};


/* A call on the wire: its answer comes in the order it was sent. */
/* What an entry of a connection's pipeline is. */
typedef enum sent_kind {
    SENT_CALL,   /* a backend_call's statement */
    SENT_SETUP,  /* a statement of the connection's set-up: a failure drops the connection */
    SENT_EXPIRE, /* hg_expire_key before a keyed create: its outcome is the create's concern */
} sent_kind;

/* A statement on the wire: answers come in the order they were sent. A sync follows each
 * statement, except within a batch of creates, which the sync after the last commits
 * together (a pipeline's statements between syncs are one implicit transaction). */
typedef struct sent {
    sent_kind kind;
    backend_call *call; /* SENT_CALL */
    PGresult *result;   /* its result, kept until the sync that ends its transaction */
    uint64_t sent_us;
    int synced;         /* a sync follows it */
} sent;

enum { CONN_DOWN, CONN_CONNECTING, CONN_UP };

typedef struct pg_loop pg_loop;

/* Calls one statement answers together, in the order they came (linked by batch_next). */
typedef struct pg_chain {
    backend_call *head;
    backend_call **tail; /* where the next one goes */
    size_t n;
} pg_chain;

typedef struct pg_conn {
    pg_loop *loop;
    PGconn *conn;
    int state;
    int sock;         /* the descriptor watched (PQsocket may change while connecting) */
    void *watch;      /* the poller's handle */
    sent *fifo;       /* a ring of `cap` entries */
    size_t head, count, cap;
    int unflushed;    /* sent since the last PQflush, or PQflush said more is to send */
    size_t batch;     /* creates sent since the last sync: the open batch */
    size_t reading;   /* entries from head whose results are whole: they wait for their sync */
    PGresult *commit_error; /* the head transaction's commit failed: its sync is next */
    unsigned backoff_ms;
    uint64_t retry_at_ms;
    uint64_t tried_ms;   /* the last connection attempt's start */
} pg_conn;

typedef struct pg_backend pg_backend;

/* A loop's share: its connections, used only on its thread. */
struct pg_loop {
    pg_backend *pg;
    store_poller poller;
    unsigned up; /* its connections up */
    unsigned index; /* in attach order: its place in pg->loop_up (none past BACKEND_MAX_LOOPS) */
    pg_chain gets;    /* the GETs submitted since the last flush, read by one statement */
    pg_chain creates; /* the creates without a key since the last flush, one statement */
    unsigned n_conns;
    pg_conn conns[PG_MAX_CONNECTIONS];
};

struct pg_backend {
    backend pub;
    char *conninfo;
    unsigned statement_timeout_ms;
    unsigned connections_per_loop;
    int64_t key_window_ms;
    void (*on_round_trip)(int64_t us);
    void (*on_error)(const char *sqlstate);
    atomic_int migrated;     /* the schema is current: loops may connect */
    atomic_int loops;        /* attached */
    atomic_int loops_up;     /* loops with a connection up: writable when every loop has one */
    atomic_uint next_loop;   /* the index the next attached loop gets */
    atomic_uint loop_up[BACKEND_MAX_LOOPS]; /* each loop's connections up, for /metrics */
    atomic_uint_fast64_t connected_ms; /* when a loop last connected: the others try again at once */
    atomic_size_t in_flight; /* statements sent, not answered, every loop's */
    atomic_uint_fast64_t cancelled; /* deliveries this node's disables and deletes cancelled */
    pthread_t migrator;      /* running when the database was not reachable at start */
    int has_migrator;
    atomic_int stopping;
    pthread_mutex_t log_lock; /* why */
    char why[256];            /* the last connection failure logged: said once, not at every retry */
    pg_events *events;        /* the event log's worker for the API's calls: publish, get, attempts, resend,
                                 recover (pg_events.h) */
    pg_events *delivery;      /* and one for the dispatcher's: claims, outcomes, expiry, and the webhook calls
                                 of threads without a loop; so that a publish never waits behind them */
};

/* The loop whose thread is running (backend_loop_attach); NULL on other threads. */
static __thread pg_loop *this_loop;

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

/* Finishes c and the calls chained to it (batch_next) with status: each done may free its call. */
static void finish_all(backend_call *c, int status)
{
    while (c != NULL) {
        backend_call *next = c->batch_next;
        finish(c, status, NULL);
        c = next;
    }
}

/* Appends c to ch; the chain's length now. */
static size_t chain_push(pg_chain *ch, backend_call *c)
{
    c->batch_next = NULL;
    *ch->tail = c;
    ch->tail = &c->batch_next;
    return ++ch->n;
}

/* The calls of ch, which is left empty (also how an unused chain is made ready). */
static backend_call *chain_take(pg_chain *ch)
{
    backend_call *head = ch->head;
    ch->head = NULL;
    ch->tail = &ch->head;
    ch->n = 0;
    return head;
}

/* How many calls are chained from c. */
static size_t chain_length(const backend_call *c)
{
    size_t n = 0;
    for (; c != NULL; c = c->batch_next)
        n++;
    return n;
}

/* ---- array parameters ------------------------------------------------------------------ */

/* A one-dimensional array parameter in PostgreSQL's binary format (array_recv): dimensions,
 * a has-nulls flag, the element type, the length and lower bound, then each element as its
 * length (-1: NULL) and bytes. */
typedef struct pg_array {
    uint8_t *data;
    size_t len, cap;
    int failed; /* out of memory */
} pg_array;

static void array_put(pg_array *a, const void *p, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n > a->cap) {
        size_t cap = a->cap == 0 ? 256 : a->cap;
        while (cap < a->len + n)
            cap *= 2;
        uint8_t *grown = realloc(a->data, cap);
        if (grown == NULL) {
            a->failed = 1;
            return;
        }
        a->data = grown;
        a->cap = cap;
    }
    memcpy(a->data + a->len, p, n);
    a->len += n;
}

static void array_u32(pg_array *a, uint32_t v)
{
    v = htonl(v);
    array_put(a, &v, 4);
}

static void array_begin(pg_array *a, uint32_t element_oid, size_t n)
{
    array_u32(a, 1);
    array_u32(a, 0); /* array_recv finds the nulls itself */
    array_u32(a, element_oid);
    array_u32(a, (uint32_t)n);
    array_u32(a, 1);
}

static void array_element(pg_array *a, const void *p, size_t n)
{
    if (p == NULL) {
        array_u32(a, UINT32_MAX); /* NULL */
        return;
    }
    array_u32(a, (uint32_t)n);
    array_put(a, p, n);
}

/* ---- rows into records ----------------------------------------------------------------- */

/* A bytea column (results are binary: its bytes) into dst (at most cap bytes); its length, or -1. */
static long bytea_of(const PGresult *r, int row, int col, uint8_t *dst, size_t cap)
{
    size_t n = (size_t)PQgetlength(r, row, col);
    if (PQgetisnull(r, row, col) || n > cap)
        return -1;
    memcpy(dst, PQgetvalue(r, row, col), n);
    return (long)n;
}

/* Copies row `row` into one block from alloc: the record and its strings. NULL when out
 * of memory or the row is not one hookgate wrote. */
store_webhook *pg_webhook_of(const PGresult *r, int row, int base, ProtobufCAllocator *alloc)
{
    size_t text = 0;
    for (int col = COL_ECOSYSTEM; col <= COL_DESCRIPTION; col++)
        text += (size_t)PQgetlength(r, row, base + col) + 1;
    text += (size_t)PQgetlength(r, row, base + COL_DISABLED_REASON) + 1;
    size_t size = sizeof(store_webhook) + STORE_IDEMPOTENCY_LEN + text;
    char *block = alloc->alloc(alloc->allocator_data, size);
    if (block == NULL)
        return NULL;
    store_webhook *w = (store_webhook *)block;
    memset(w, 0, sizeof(*w));
    char *p = block + sizeof(store_webhook) + STORE_IDEMPOTENCY_LEN;
    const char *end = block + size;
    if (bytea_of(r, row, base + COL_ID, w->id.bytes, OBJECTID_LEN) != OBJECTID_LEN ||
        PQgetlength(r, row, base + COL_CREATED) != 8 || PQgetlength(r, row, base + COL_DISABLED) != 1 ||
        PQgetlength(r, row, base + COL_DELETED) != 1 || PQgetlength(r, row, base + COL_DISABLED_MS) != 8)
        return NULL;
    uint64_t created;
    memcpy(&created, PQgetvalue(r, row, base + COL_CREATED), 8); /* int8, big-endian */
    w->created_ms = (int64_t)be64toh(created);
    /* a list is in (created_ms, seq) order, the same on every node: createdAt never goes
     * backwards along it (seq alone follows the order INSERTs ran in, which concurrent
     * creates do not take in createdAt order), and creates of one millisecond, on any
     * node, come in the order the database took them. A page cursor carries created_ms as
     * its seq, and the id, which finds the row's seq */
    w->seq = (uint64_t)w->created_ms;
    w->disabled = PQgetvalue(r, row, base + COL_DISABLED)[0] != 0; /* bool: one byte */
    w->deleted = PQgetvalue(r, row, base + COL_DELETED)[0] != 0;
    const char **strings[] = {&w->ecosystem_id, &w->url, &w->secret, NULL, &w->description};
    for (int col = COL_ECOSYSTEM; col <= COL_DESCRIPTION; col++) {
        if (col == COL_SEALED) {
            if (PQgetisnull(r, row, base + col))
                continue;
            long n = bytea_of(r, row, base + col, (uint8_t *)p, (size_t)(end - p));
            if (n < 0)
                return NULL;
            w->sealed_secret = (const uint8_t *)p;
            w->sealed_secret_len = (size_t)n;
            p += n;
            continue;
        }
        size_t n = (size_t)PQgetlength(r, row, base + col); /* text: its bytes (never a NUL) */
        HG_ASSERT(p + n + 1 <= end);
        memcpy(p, PQgetvalue(r, row, base + col), n);
        p[n] = '\0';
        *strings[col - COL_ECOSYSTEM] = p;
        p += n + 1;
    }
    if (!PQgetisnull(r, row, base + COL_IDEMPOTENCY)) {
        uint8_t *digest = (uint8_t *)block + sizeof(store_webhook);
        if (bytea_of(r, row, base + COL_IDEMPOTENCY, digest, STORE_IDEMPOTENCY_LEN) != STORE_IDEMPOTENCY_LEN)
            return NULL;
        w->idempotency = digest;
    }
    if (!PQgetisnull(r, row, base + COL_DISABLED_REASON)) { /* why hookgate disabled it */
        size_t n = (size_t)PQgetlength(r, row, base + COL_DISABLED_REASON);
        HG_ASSERT(p + n + 1 <= end);
        memcpy(p, PQgetvalue(r, row, base + COL_DISABLED_REASON), n);
        p[n] = '\0';
        w->disabled_reason = p;
        p += n + 1;
    }
    uint64_t disabled_ms;
    memcpy(&disabled_ms, PQgetvalue(r, row, base + COL_DISABLED_MS), 8);
    w->disabled_ms = (int64_t)be64toh(disabled_ms);
    return w;
}

/* ---- one call's statement -------------------------------------------------------------- */

/* Sends c's statement on pc (its sync is the caller's). 0, or -1 when libpq refused (the
 * connection is then broken). The record to write is sealed first: plain secrets go no further. */
static int send_call_on(pg_backend *pg, PGconn *conn, backend_call *c, PGresult **result)
{
    const char *values[12] = {0};
    int lengths[12] = {0}, formats[12] = {0};
    char created[24], seq[24], limit[24], disabled_ms[24];
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
    case BACKEND_GET: { /* the chain's ids, one bytea[] */
        pg_array ids = {0};
        array_begin(&ids, PG_BYTEA_OID, chain_length(c));
        for (const backend_call *g = c; g != NULL; g = g->batch_next)
            array_element(&ids, g->id.bytes, OBJECTID_LEN);
        buf = ids.data;
        if (ids.failed)
            return free(buf), ENOMEM;
        BINARY(0, buf, ids.len);
        break;
    }
    case BACKEND_DELETE:
        BINARY(0, id, OBJECTID_LEN);
        break;
    case BACKEND_FIND_IDEMPOTENT:
        BINARY(0, c->digest, STORE_IDEMPOTENCY_LEN);
        break;
    case BACKEND_LIST:
        values[0] = c->ecosystem_id;
        /* after the cursor's created_ms and the seq of its id's row; the first page after
         * (-1, no row): before every record */
        snprintf(seq, sizeof seq, "%lld", c->after != NULL ? (long long)c->after->seq : -1LL);
        values[1] = seq;
        if (c->after != NULL)
            BINARY(2, c->after->id.bytes, OBJECTID_LEN);
        else
            BINARY(2, "", 0);
        snprintf(limit, sizeof limit, "%zu", c->limit + 1); /* one more: is there a next page? */
        values[3] = limit;
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
        /* as the memory store: a client's change of disabled clears hookgate's reason */
        values[10] = ch.disabled_reason != NULL ? ch.disabled_reason : NULL;
        snprintf(disabled_ms, sizeof disabled_ms, "%lld", ch.disabled_reason != NULL ? (long long)ch.disabled_ms : 0LL);
        values[11] = disabled_ms;
        break;
    }
    case BACKEND_PUBLISH:
    case BACKEND_GET_EVENT:
    case BACKEND_LIST_ATTEMPTS:
    case BACKEND_RESEND:
    case BACKEND_RECOVER:
    case BACKEND_CLAIM:
    case BACKEND_RECORD:
    case BACKEND_EXPIRE:
    case BACKEND_VERBS:
        HG_ASSERT(!"a verb pg_submit refuses, or an unknown one");
    }
#undef BINARY
    int stmt = c->verb == BACKEND_CREATE && c->webhook->idempotency != NULL ? STMT_CREATE_KEYED : (int)c->verb;
    int ok;
    if (result != NULL) { /* blocking, on a connection that has not prepared it (the event worker's) */
        *result = PQexecParams(conn, statements[stmt].sql, statements[stmt].n_params, NULL, values, lengths,
                               formats, 1);
        ok = 1;
    } else {
        ok = PQsendQueryPrepared(conn, statements[stmt].name, statements[stmt].n_params, values, lengths, formats,
                                 1); /* rows in binary: no bytea or number text to parse */
    }
    free(buf);
    return ok ? 0 : -1;
}

static int send_call(pg_backend *pg, pg_conn *pc, backend_call *c)
{
    return send_call_on(pg, pc->conn, c, NULL);
}

/* Sends the creates chained from c (their records sealed first) as hg_create_many, one
 * array per column (its sync is the caller's). 0, ENOMEM with nothing sent, or -1 when
 * libpq refused (the connection is then broken). */
static int send_creates(pg_backend *pg, pg_conn *pc, backend_call *c)
{
    enum { ID, CREATED, ECOSYSTEM, URL, SECRET, SEALED, DESCRIPTION, DISABLED, N };
    static const uint32_t oids[N] = {PG_BYTEA_OID, PG_INT8_OID, PG_TEXT_OID, PG_TEXT_OID,
                                     PG_TEXT_OID,  PG_BYTEA_OID, PG_TEXT_OID, PG_BOOL_OID};
    pg_array cols[N] = {0};
    size_t n = chain_length(c);
    for (int i = 0; i < N; i++)
        array_begin(&cols[i], oids[i], n);
    int failed = 0;
    for (const backend_call *x = c; x != NULL && !failed; x = x->batch_next) {
        store_webhook w;
        uint8_t *sealed = NULL;
        if (seal_webhook(pg->pub.keys, x->webhook, &w, &sealed) != 0) {
            failed = 1;
            break;
        }
        uint64_t created = htobe64((uint64_t)w.created_ms);
        uint8_t disabled = w.disabled != 0;
        array_element(&cols[ID], w.id.bytes, OBJECTID_LEN);
        array_element(&cols[CREATED], &created, sizeof created);
        array_element(&cols[ECOSYSTEM], w.ecosystem_id, strlen(w.ecosystem_id));
        array_element(&cols[URL], w.url, strlen(w.url));
        array_element(&cols[SECRET], w.secret, strlen(w.secret));
        array_element(&cols[SEALED], w.sealed_secret, w.sealed_secret_len);
        array_element(&cols[DESCRIPTION], w.description, strlen(w.description));
        array_element(&cols[DISABLED], &disabled, 1);
        free(sealed);
    }
    const char *values[N];
    int lengths[N], formats[N];
    for (int i = 0; i < N; i++) {
        failed |= cols[i].failed;
        values[i] = (const char *)cols[i].data;
        lengths[i] = (int)cols[i].len;
        formats[i] = 1;
    }
    int rc = failed ? ENOMEM
                    : PQsendQueryPrepared(pc->conn, statements[STMT_CREATE_MANY].name, N, values, lengths, formats, 0)
                          ? 0
                          : -1;
    for (int i = 0; i < N; i++)
        free(cols[i].data);
    return rc;
}

/* Each GET of the chain from c gets its row of r (a copy of its own, from its own memory),
 * or BACKEND_NOT_FOUND. */
static void conclude_gets(backend_call *c, PGresult *r)
{
    int rows = PQntuples(r);
    objectid ids[PG_BATCH_MAX];
    if (rows > PG_BATCH_MAX) { /* more rows than ids asked for: not an answer of ours */
        finish_all(c, EIO);
        return;
    }
    for (int i = 0; i < rows; i++)
        if (bytea_of(r, i, COL_ID, ids[i].bytes, OBJECTID_LEN) != OBJECTID_LEN) {
            finish_all(c, EIO);
            return;
        }
    while (c != NULL) {
        backend_call *next = c->batch_next;
        int row = 0;
        while (row < rows && memcmp(ids[row].bytes, c->id.bytes, OBJECTID_LEN) != 0)
            row++;
        if (row == rows) {
            finish(c, BACKEND_NOT_FOUND, NULL);
        } else {
            const store_webhook *w = pg_webhook_of(r, row, 0, c->alloc);
            finish(c, w != NULL ? 0 : ENOMEM, w);
        }
        c = next;
    }
}

/* The outcome of c (and of the GETs chained to it) from its statement's result. */
static void conclude(backend_call *c, PGresult *r)
{
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != (c->verb == BACKEND_CREATE ? PGRES_COMMAND_OK : PGRES_TUPLES_OK)) {
        /* 57014 query_canceled: statement_timeout; anything else: the database refused */
        const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        finish_all(c, state != NULL && strcmp(state, "57014") == 0 ? ETIMEDOUT : EIO);
        return;
    }
    if (c->verb == BACKEND_GET) {
        conclude_gets(c, r);
        return;
    }
    if (c->verb == BACKEND_CREATE && c->batch_next != NULL) { /* hg_create_many: every row, or an error */
        if (strtoull(PQcmdTuples(r), NULL, 10) != chain_length(c)) {
            finish_all(c, EIO);
            return;
        }
        while (c != NULL) {
            backend_call *next = c->batch_next;
            finish(c, 0, c->webhook);
            c = next;
        }
        return;
    }
    if (c->verb == BACKEND_CREATE) {
        /* "INSERT 0 1", or "INSERT 0 0": a create that met another with its Idempotency-Key */
        int inserted = strcmp(PQcmdTuples(r), "1") == 0;
        finish(c, inserted ? 0 : EEXIST, inserted ? c->webhook : NULL);
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
            if ((items[i] = pg_webhook_of(r, (int)i, 0, c->alloc)) == NULL)
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
        /* an update or delete of a webhook that is not there */
        finish(c, BACKEND_NOT_FOUND, NULL);
        return;
    }
    if (PQnfields(r) > COL_COUNT && PQgetlength(r, 0, COL_COUNT) == 8) { /* deliveries it cancelled */
        uint64_t n;
        memcpy(&n, PQgetvalue(r, 0, COL_COUNT), 8);
        atomic_fetch_add(&((pg_backend *)c->backend)->cancelled, be64toh(n));
    }
    const store_webhook *w = pg_webhook_of(r, 0, 0, c->alloc);
    finish(c, w != NULL ? 0 : ENOMEM, w);
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

/* Logs a connection failure once (every loop's connections retry: the same words would
 * fill the log); an empty why says the database is back. */
static void log_why(pg_backend *pg, const char *why)
{
    pthread_mutex_lock(&pg->log_lock);
    if (strcmp(why, pg->why) != 0) {
        if (why[0] != '\0')
            log_error("store: PostgreSQL: %s", why);
        else
            log_info("store: PostgreSQL: connected again");
        snprintf(pg->why, sizeof pg->why, "%s", why);
    }
    pthread_mutex_unlock(&pg->log_lock);
}

/* A blocking connection that brings the schema up to date (start-up, and the migrator
 * thread while the database is away: never on an event loop). 0; -1 with why; 1 when the
 * database's schema is newer than this node knows. */
static int connect_and_migrate(pg_backend *pg, char *why, size_t why_size)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *values[] = {pg->conninfo, PG_CONNECT_TIMEOUT_S, "hookgate", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1); /* dbname expands the conninfo */
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        snprintf(why, why_size, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
        PQfinish(conn);
        one_line(why);
        return -1;
    }
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    int rc = migrate(conn, why, why_size);
    PQfinish(conn);
    one_line(why);
    return rc;
}

/* While the database was unreachable at start: retries the migrations with backoff until
 * they are done (then the loops connect) or the backend stops. */
static void *run_migrator(void *arg)
{
    pg_backend *pg = arg;
    unsigned backoff = PG_BACKOFF_MIN_MS;
    while (!atomic_load(&pg->stopping)) {
        char why[sizeof pg->why];
        int rc = connect_and_migrate(pg, why, sizeof why);
        if (rc == 0) {
            log_why(pg, "");
            atomic_store(&pg->migrated, 1);
            return NULL;
        }
        log_why(pg, why);
        for (unsigned slept = 0; slept < backoff && !atomic_load(&pg->stopping); slept += 50)
            usleep(50 * 1000);
        backoff = backoff * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* ---- a loop's connections ---------------------------------------------------------------- */

static void conn_on_ready(void *arg);

/* l's count of connections up, as /metrics shows it. */
static void loop_up_changed(pg_loop *l)
{
    if (l->index < BACKEND_MAX_LOOPS)
        atomic_store(&l->pg->loop_up[l->index], l->up);
}

/* Appends an entry to pc's pipeline (room was made by the caller). */
static sent *conn_push(pg_conn *pc, sent_kind kind, backend_call *c)
{
    HG_ASSERT(pc->count < pc->cap);
    sent *s = &pc->fifo[(pc->head + pc->count) % pc->cap];
    *s = (sent){kind, c, NULL, now_us(), 0};
    pc->count++;
    atomic_fetch_add(&pc->loop->pg->in_flight, 1);
    pc->unflushed = 1;
    return s;
}

/* Makes room for n more entries; -1 when out of memory. */
static int conn_reserve(pg_conn *pc, size_t n)
{
    if (pc->count + n <= pc->cap)
        return 0;
    size_t cap = pc->cap == 0 ? 64 : 2 * pc->cap;
    while (cap < pc->count + n)
        cap *= 2;
    sent *grown = malloc(cap * sizeof(*grown));
    if (grown == NULL)
        return -1;
    for (size_t i = 0; i < pc->count; i++)
        grown[i] = pc->fifo[(pc->head + i) % pc->cap];
    free(pc->fifo);
    pc->fifo = grown;
    pc->head = 0;
    pc->cap = cap;
    return 0;
}

/* Closes pc (its calls in flight fail with status: their outcome is unknown) and plans
 * the next attempt. */
static void conn_drop(pg_conn *pc, int status, const char *why)
{
    pg_backend *pg = pc->loop->pg;
    if (pc->state == CONN_DOWN)
        return;
    if (pc->state == CONN_UP) {
        if (--pc->loop->up == 0)
            atomic_fetch_sub(&pg->loops_up, 1);
        loop_up_changed(pc->loop);
    }
    pc->loop->poller.unwatch(pc->watch);
    pc->watch = NULL;
    PQfinish(pc->conn);
    pc->conn = NULL;
    pc->state = CONN_DOWN;
    pc->unflushed = 0;
    pc->batch = 0;
    pc->reading = 0;
    PQclear(pc->commit_error);
    pc->commit_error = NULL;
    while (pc->count > 0) {
        sent *s = &pc->fifo[pc->head];
        pc->head = (pc->head + 1) % pc->cap;
        pc->count--;
        atomic_fetch_sub(&pg->in_flight, 1);
        PQclear(s->result);
        if (s->kind == SENT_CALL)
            finish_all(s->call, status);
    }
    if (why != NULL && why[0] != '\0')
        log_why(pg, why);
    pc->backoff_ms = pc->backoff_ms == 0 ? PG_BACKOFF_MIN_MS : 2 * pc->backoff_ms;
    if (pc->backoff_ms > PG_BACKOFF_MAX_MS)
        pc->backoff_ms = PG_BACKOFF_MAX_MS;
    pc->retry_at_ms = now_ms() + pc->backoff_ms;
    pc->loop->poller.tick_soon(pc->loop->poller.ctx);
}

/* Watches pc's current socket (a new one after libpq changed it). -1 when out of memory. */
static int conn_watch(pg_conn *pc)
{
    int sock = PQsocket(pc->conn);
    if (pc->watch != NULL && sock == pc->sock)
        return 0;
    pc->loop->poller.unwatch(pc->watch);
    pc->sock = sock;
    pc->watch = sock >= 0 ? pc->loop->poller.watch(pc->loop->poller.ctx, sock, conn_on_ready, pc) : NULL;
    return pc->watch != NULL ? 0 : -1;
}

/* Starts connecting without waiting (PQconnectStartParams; a host name in conninfo is
 * resolved here, so name the database by address or hostaddr). */
static void conn_start(pg_conn *pc)
{
    pg_backend *pg = pc->loop->pg;
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *values[] = {pg->conninfo, PG_CONNECT_TIMEOUT_S, "hookgate", NULL};
    pc->conn = PQconnectStartParams(keys, values, 1);
    pc->state = CONN_CONNECTING;
    pc->tried_ms = now_ms();
    pc->watch = NULL;
    pc->sock = -1;
    if (pc->conn == NULL || PQstatus(pc->conn) == CONNECTION_BAD || conn_watch(pc) != 0) {
        char why[sizeof pg->why];
        snprintf(why, sizeof why, "%s", pc->conn != NULL ? PQerrorMessage(pc->conn) : "out of memory");
        one_line(why);
        conn_drop(pc, ECONNREFUSED, why);
        return;
    }
    PQsetNoticeProcessor(pc->conn, ignore_notice, NULL);
    pc->retry_at_ms = now_ms() + 1000 * (uint64_t)atoi(PG_CONNECT_TIMEOUT_S); /* the connect's own deadline */
    pc->loop->poller.want_write(pc->watch); /* PQconnectStart's first wait is for writing */
    pc->loop->poller.tick_soon(pc->loop->poller.ctx);
}

/* Connected: non-blocking pipeline mode, then the set-up statements (the statement
 * timeout, the prepared statements), each with its sync; calls may follow at once. */
static void conn_ready(pg_conn *pc)
{
    pg_backend *pg = pc->loop->pg;
    char sql[96];
    snprintf(sql, sizeof sql, "SET statement_timeout = %u", pg->statement_timeout_ms);
    int ok = PQsetnonblocking(pc->conn, 1) == 0 && PQenterPipelineMode(pc->conn) == 1 &&
             conn_reserve(pc, STMT_COUNT + 1) == 0 && PQsendQueryParams(pc->conn, sql, 0, NULL, NULL, NULL, NULL, 0) &&
             PQpipelineSync(pc->conn);
    if (ok)
        conn_push(pc, SENT_SETUP, NULL)->synced = 1;
    for (int v = 0; ok && v < STMT_COUNT; v++) {
        if (statements[v].name == NULL) /* a verb of the event log: its worker runs it (pg_events.c) */
            continue;
        ok = PQsendPrepare(pc->conn, statements[v].name, statements[v].sql, statements[v].n_params, NULL) &&
             PQpipelineSync(pc->conn);
        if (ok)
            conn_push(pc, SENT_SETUP, NULL)->synced = 1;
    }
    if (!ok) {
        char why[sizeof pg->why];
        snprintf(why, sizeof why, "%s", PQerrorMessage(pc->conn));
        one_line(why);
        conn_drop(pc, ECONNRESET, why);
        return;
    }
    pc->state = CONN_UP;
    pc->backoff_ms = 0;
    if (pc->loop->up++ == 0)
        atomic_fetch_add(&pg->loops_up, 1);
    loop_up_changed(pc->loop);
    atomic_store(&pg->connected_ms, now_ms());
    log_why(pg, "");
}

/* Ends the open batch of creates with its sync (its commit). -1 when libpq refused: the
 * connection is then dropped. */
static int conn_sync(pg_conn *pc)
{
    if (pc->batch == 0)
        return 0;
    pc->batch = 0;
    if (!PQpipelineSync(pc->conn)) {
        conn_drop(pc, ECONNRESET, NULL);
        return -1;
    }
    pc->fifo[(pc->head + pc->count - 1) % pc->cap].synced = 1;
    return 0;
}

/* Sends what was queued in libpq's buffer; asks to be told when more can go. */
static void conn_flush(pg_conn *pc)
{
    if (conn_sync(pc) != 0)
        return;
    int f = PQflush(pc->conn);
    if (f < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", PQerrorMessage(pc->conn));
        one_line(why);
        conn_drop(pc, ECONNRESET, why);
        return;
    }
    pc->unflushed = f == 1;
    if (f == 1)
        pc->loop->poller.want_write(pc->watch);
}

static void dispatch(pg_loop *l, backend_call *c);

/* The end of a transaction: the first n entries are answered. When one of them failed, or
 * its commit did (commit_error: a deferred constraint, a serialization failure), the
 * transaction rolled back, so the creates batched with it, whatever their own results
 * said, stored nothing: each goes again alone (retry_alone), and only the failed one fails. */
static void conn_conclude(pg_conn *pc, size_t n, PGresult *commit_error)
{
    pg_backend *pg = pc->loop->pg;
    sent done[PG_BATCH_MAX * 2 + 2];
    HG_ASSERT(n >= 1 && n <= sizeof(done) / sizeof(done[0]) && n <= pc->count);
    int rolled_back = commit_error != NULL;
    if (commit_error != NULL && pg->on_error != NULL) {
        const char *state = PQresultErrorField(commit_error, PG_DIAG_SQLSTATE);
        pg->on_error(state != NULL ? state : "");
    }
    for (size_t i = 0; i < n; i++) {
        done[i] = pc->fifo[pc->head];
        pc->head = (pc->head + 1) % pc->cap;
        pc->count--;
        atomic_fetch_sub(&pg->in_flight, 1);
        ExecStatusType st = done[i].result != NULL ? PQresultStatus(done[i].result) : PGRES_FATAL_ERROR;
        rolled_back |= st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED;
    }
    for (size_t i = 0; i < n; i++) {
        sent *d = &done[i];
        ExecStatusType st = d->result != NULL ? PQresultStatus(d->result) : PGRES_FATAL_ERROR;
        if (pg->on_round_trip != NULL)
            pg->on_round_trip((int64_t)(now_us() - d->sent_us));
        if (pg->on_error != NULL && st == PGRES_FATAL_ERROR) {
            const char *state = d->result != NULL ? PQresultErrorField(d->result, PG_DIAG_SQLSTATE) : NULL;
            pg->on_error(state != NULL ? state : "");
        }
        if (d->kind == SENT_CALL) {
            /* its own failure, else its commit's: what it is answered with */
            PGresult *outcome = st != PGRES_FATAL_ERROR && commit_error != NULL ? commit_error : d->result;
            ExecStatusType ost = outcome != NULL ? PQresultStatus(outcome) : PGRES_FATAL_ERROR;
            /* creates in one statement, refused for what one of them holds (SQLSTATE class
             * 22 data exception, 23 integrity): sent again one by one, so only that one fails */
            const char *state = ost == PGRES_FATAL_ERROR && outcome != NULL
                                    ? PQresultErrorField(outcome, PG_DIAG_SQLSTATE) : NULL;
            int many = d->call->verb == BACKEND_CREATE && d->call->batch_next != NULL;
            int row_error = state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
            if (rolled_back && !d->call->retry_alone && ((n > 1 && ost != PGRES_FATAL_ERROR) || (many && row_error))) {
                /* batched with a failure: not stored, so sent again, once (a call sent alone
                 * whose keyed create's expire failed is answered with that failure) */
                for (backend_call *c = d->call, *next; c != NULL; c = next) {
                    next = c->batch_next;
                    c->batch_next = NULL;
                    c->retry_alone = 1;
                    dispatch(pc->loop, c);
                }
            } else {
                conclude(d->call, outcome);
            }
        } else if (d->kind == SENT_SETUP && st != PGRES_COMMAND_OK && pc->state == CONN_UP) {
            char why[256];
            snprintf(why, sizeof why, "%s", d->result != NULL ? PQresultErrorMessage(d->result) : "a set-up statement failed");
            one_line(why);
            for (size_t j = i; j < n; j++)
                PQclear(done[j].result);
            conn_drop(pc, ECONNRESET, why);
            return;
        }
        PQclear(d->result);
    }
    PQclear(commit_error);
}

/* Reads what the server sent and answers every transaction whose sync has come. */
static void conn_drain(pg_conn *pc)
{
    if (!PQconsumeInput(pc->conn)) {
        char why[256];
        snprintf(why, sizeof why, "%s", PQerrorMessage(pc->conn));
        one_line(why);
        conn_drop(pc, ECONNRESET, why);
        return;
    }
    while (pc->state == CONN_UP && pc->count > 0 && !PQisBusy(pc->conn)) {
        PGresult *r = PQgetResult(pc->conn);
        /* every statement of the transaction at the head has its results: what comes before
         * its sync is its commit's */
        int all_read = pc->reading > 0 && pc->fifo[(pc->head + pc->reading - 1) % pc->cap].synced;
        if (r == NULL) { /* the end of one statement's results */
            if (pc->reading < pc->count && !all_read)
                pc->reading++;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            /* the transaction is every entry up to the first that a sync followed */
            size_t n = 0;
            while (n < pc->count && !pc->fifo[(pc->head + n) % pc->cap].synced)
                n++;
            HG_ASSERT(n < pc->count);
            PGresult *commit_error = pc->commit_error;
            pc->commit_error = NULL;
            pc->reading = 0;
            conn_conclude(pc, n + 1, commit_error);
            continue;
        }
        if (all_read || pc->reading >= pc->count) {
            /* after its statements: the commit failed (the transaction rolled back), which
             * every statement of it shares */
            if (PQresultStatus(r) == PGRES_FATAL_ERROR && pc->commit_error == NULL)
                pc->commit_error = r;
            else
                PQclear(r);
            continue;
        }
        sent *s = &pc->fifo[(pc->head + pc->reading) % pc->cap];
        if (s->result == NULL)
            s->result = r; /* one result per statement here */
        else
            PQclear(r);
    }
}

static void conn_on_ready(void *arg)
{
    pg_conn *pc = arg;
    if (pc->state == CONN_CONNECTING) {
        switch (PQconnectPoll(pc->conn)) {
        case PGRES_POLLING_OK:
            if (conn_watch(pc) != 0) {
                conn_drop(pc, ENOMEM, "out of memory");
                return;
            }
            conn_ready(pc);
            if (pc->state == CONN_UP)
                conn_flush(pc);
            return;
        case PGRES_POLLING_FAILED: {
            char why[256];
            snprintf(why, sizeof why, "%s", PQerrorMessage(pc->conn));
            one_line(why);
            conn_drop(pc, ECONNREFUSED, why);
            return;
        }
        case PGRES_POLLING_WRITING:
            if (conn_watch(pc) == 0)
                pc->loop->poller.want_write(pc->watch);
            return;
        default: /* reading: the watch reports it */
            if (conn_watch(pc) != 0)
                conn_drop(pc, ENOMEM, "out of memory");
            return;
        }
    }
    if (pc->state != CONN_UP)
        return;
    if (pc->unflushed)
        conn_flush(pc);
    if (pc->state == CONN_UP)
        conn_drain(pc);
}

/* The connection a call goes on: for a batched create, one with its batch open, else the
 * least busy. NULL when none is up: then those that may try again now are told to. */
static pg_conn *pick(pg_loop *l, int batched)
{
    pg_conn *best = NULL;
    for (unsigned i = 0; i < l->n_conns; i++) {
        pg_conn *pc = &l->conns[i];
        if (pc->state != CONN_UP)
            continue;
        if (batched && pc->batch > 0) { /* fewer, larger batches: fewer commits */
            best = pc;
            break;
        }
        if (best == NULL || pc->count < best->count)
            best = pc;
    }
    if (best == NULL) {
        /* the database is wanted now: a connection not tried in the last moment tries at once */
        uint64_t now = now_ms();
        for (unsigned i = 0; i < l->n_conns; i++) {
            pg_conn *pc = &l->conns[i];
            if (pc->state == CONN_DOWN && now >= pc->tried_ms + PG_BACKOFF_MIN_MS && pc->retry_at_ms > now) {
                pc->retry_at_ms = now;
                l->poller.tick_soon(l->poller.ctx);
            }
        }
    }
    return best;
}

/* Sends c (one call, or the head of a chain) on pc with send, then ends it: in the open
 * batch of creates (its sync, at the flush or now when the batch is full, commits it), or
 * with a sync of its own. On failure its calls are answered. */
static void conn_send(pg_conn *pc, backend_call *c, int batched, int (*send)(pg_backend *, pg_conn *, backend_call *))
{
    int rc = send(pc->loop->pg, pc, c);
    if (rc == ENOMEM) { /* nothing of it sent (a keyed create's expire, if any, is harmless alone) */
        finish_all(c, ENOMEM);
        return;
    }
    conn_push(pc, SENT_CALL, c);
    if (rc != 0) {
        conn_drop(pc, ECONNRESET, NULL);
        return;
    }
    if (batched) {
        if (++pc->batch >= PG_BATCH_MAX && conn_sync(pc) != 0)
            return;
    } else if (!PQpipelineSync(pc->conn)) {
        conn_drop(pc, ECONNRESET, NULL);
        return;
    } else {
        pc->fifo[(pc->head + pc->count - 1) % pc->cap].synced = 1;
    }
    pc->loop->poller.tick_soon(pc->loop->poller.ctx); /* the overdue check */
}

/* Sends the loop's GETs, chained, as one statement with a sync of its own; and its creates
 * without a key as one statement in the open batch of creates (the flush that follows
 * commits it). */
static void send_chains(pg_loop *l)
{
    for (int creates = 0; creates <= 1; creates++) {
        backend_call *chain = chain_take(creates ? &l->creates : &l->gets);
        if (chain == NULL)
            continue;
        pg_conn *best = pick(l, creates);
        if (best == NULL) {
            finish_all(chain, ECONNREFUSED);
            continue;
        }
        if (conn_reserve(best, 1) != 0) {
            finish_all(chain, ENOMEM);
            continue;
        }
        if (!creates && conn_sync(best) != 0) {
            finish_all(chain, ECONNRESET);
            continue;
        }
        /* creates join the open batch: the flush's sync commits them with its keyed creates */
        conn_send(best, chain, creates, creates ? send_creates : send_call);
    }
}

/* Sends a call on one of the loop's connections; without one, fails it now. A create joins
 * the open batch of the least busy connection (its commit comes with the batch's sync, at
 * the loop iteration's end or when the batch is full); a GET joins the loop's GETs, read by
 * one statement at the iteration's end; anything else ends the open batch and goes with a
 * sync of its own. */
static void dispatch(pg_loop *l, backend_call *c)
{
    pg_backend *pg = l->pg;
    pg_chain *chain = NULL;
    if (c->verb == BACKEND_GET)
        chain = &l->gets;
    else if (c->verb == BACKEND_CREATE && c->webhook->idempotency == NULL && !c->retry_alone)
        chain = &l->creates;
    if (chain != NULL) {
        if (chain_push(chain, c) >= PG_BATCH_MAX)
            send_chains(l);
        return;
    }
    int batched = c->verb == BACKEND_CREATE && !c->retry_alone;
    pg_conn *best = pick(l, batched);
    if (best == NULL) {
        finish(c, ECONNREFUSED, NULL);
        return;
    }
    if (conn_reserve(best, 2) != 0) {
        finish(c, ENOMEM, NULL);
        return;
    }
    if (!batched && conn_sync(best) != 0) {
        finish(c, ECONNRESET, NULL);
        return;
    }
    if (c->verb == BACKEND_CREATE && c->webhook->idempotency != NULL) {
        char cutoff[24];
        snprintf(cutoff, sizeof cutoff, "%lld", (long long)(c->webhook->created_ms - pg->key_window_ms));
        const char *values[2] = {(const char *)c->webhook->idempotency, cutoff};
        int lengths[2] = {STORE_IDEMPOTENCY_LEN, 0}, formats[2] = {1, 0};
        if (!PQsendQueryPrepared(best->conn, statements[STMT_EXPIRE].name, 2, values, lengths, formats, 0)) {
            finish(c, ECONNRESET, NULL);
            conn_drop(best, ECONNRESET, NULL);
            return;
        }
        conn_push(best, SENT_EXPIRE, NULL);
    }
    conn_send(best, c, batched, send_call);
}

/* A webhook verb submitted on a thread without a loop (the dispatcher disabling a
 * webhook, from an outcome's done on the event worker): run there, blocking. */
static void run_webhook_call(void *ctx, PGconn *conn, backend_call *c)
{
    pg_backend *pg = ctx;
    PGresult *r = NULL;
    int rc = send_call_on(pg, conn, c, &r);
    if (rc != 0) {
        PQclear(r);
        finish(c, rc == ENOMEM ? ENOMEM : ECONNRESET, NULL);
        return;
    }
    conclude(c, r);
    PQclear(r);
}

/* ---- the interface --------------------------------------------------------------------- */

static void pg_submit(void *self, backend_call *c)
{
    (void)self;
    c->backend = self;
    c->retry_alone = 0;
    c->batch_next = NULL;
    c->found = NULL;
    c->items = NULL;
    c->n_items = 0;
    c->more = 0;
    pg_backend *pg = self;
    if (c->verb >= BACKEND_PUBLISH) { /* the event log: its workers */
        int delivering = c->verb == BACKEND_CLAIM || c->verb == BACKEND_RECORD || c->verb == BACKEND_EXPIRE;
        pg_events_submit(delivering ? pg->delivery : pg->events, c);
        return;
    }
    if (this_loop == NULL) { /* a thread without a loop has no connection of its own: the worker's */
        if (c->verb == BACKEND_GET || c->verb == BACKEND_UPDATE || c->verb == BACKEND_DELETE)
            pg_events_submit(pg->delivery, c);
        else
            finish(c, ECONNREFUSED, NULL);
        return;
    }
    dispatch(this_loop, c); /* sent at the loop iteration's end (pg_loop_flush) */
}

static void *pg_loop_attach(void *self, const store_poller *poller)
{
    pg_backend *pg = self;
    pg_loop *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->pg = pg;
    l->poller = *poller;
    l->n_conns = pg->connections_per_loop;
    chain_take(&l->gets);
    chain_take(&l->creates);
    for (unsigned i = 0; i < l->n_conns; i++)
        l->conns[i] = (pg_conn){.loop = l, .state = CONN_DOWN, .sock = -1};
    this_loop = l;
    l->index = atomic_fetch_add(&pg->next_loop, 1);
    atomic_fetch_add(&pg->loops, 1);
    poller->tick_soon(poller->ctx); /* connects on the first tick */
    return l;
}

static void pg_loop_flush(void *loop)
{
    pg_loop *l = loop;
    send_chains(l);
    for (unsigned i = 0; i < l->n_conns; i++)
        if (l->conns[i].state == CONN_UP && l->conns[i].unflushed)
            conn_flush(&l->conns[i]);
    /* a call finished meanwhile (a connection dropped) may have led its caller to submit
     * another: it goes at the next tick, not at an iteration that may not come soon */
    if (l->gets.n > 0 || l->creates.n > 0)
        l->poller.tick_soon(l->poller.ctx);
}

static void pg_loop_tick(void *loop)
{
    pg_loop *l = loop;
    pg_backend *pg = l->pg;
    uint64_t now = now_ms(), overdue = pg->statement_timeout_ms + PG_TIMEOUT_MARGIN_MS;
    int again = 0;
    for (unsigned i = 0; i < l->n_conns; i++) {
        pg_conn *pc = &l->conns[i];
        if (pc->state == CONN_DOWN) {
            /* its backoff passed, or another loop has just connected: the database is back */
            if (atomic_load(&pg->migrated) &&
                (now >= pc->retry_at_ms || atomic_load(&pg->connected_ms) > pc->tried_ms))
                conn_start(pc);
            again = 1;
        } else if (pc->state == CONN_CONNECTING) {
            if (now >= pc->retry_at_ms) /* connect_timeout passed without an answer */
                conn_drop(pc, ETIMEDOUT, "connecting timed out");
            again = 1;
        } else if (pc->count > 0) {
            if (now - pc->fifo[pc->head].sent_us / 1000 > overdue)
                conn_drop(pc, ETIMEDOUT, "no answer within statement_timeout_ms and a second: the connection is made again");
            again = 1;
        }
    }
    if (again)
        l->poller.tick_soon(l->poller.ctx);
    if (l->gets.n > 0 || l->creates.n > 0)
        pg_loop_flush(l);
}

/* Waits (blocking: the loop is stopping) for the answers in flight, up to the overdue
 * bound, then closes every connection. */
static void pg_loop_detach(void *loop)
{
    pg_loop *l = loop;
    pg_backend *pg = l->pg;
    send_chains(l);
    uint64_t deadline = now_ms() + pg->statement_timeout_ms + PG_TIMEOUT_MARGIN_MS;
    for (unsigned i = 0; i < l->n_conns; i++) {
        pg_conn *pc = &l->conns[i];
        while (pc->state == CONN_UP && pc->count > 0 && now_ms() < deadline) {
            struct pollfd p = {PQsocket(pc->conn), (short)(POLLIN | (pc->unflushed ? POLLOUT : 0)), 0};
            if (poll(&p, 1, 50) > 0) {
                if (pc->unflushed)
                    conn_flush(pc);
                if (pc->state == CONN_UP)
                    conn_drain(pc);
            }
        }
        conn_drop(pc, ECONNRESET, NULL);
        free(pc->fifo);
    }
    /* what was submitted while the connections closed has none left */
    while (l->gets.n > 0 || l->creates.n > 0) {
        finish_all(chain_take(&l->gets), ECONNRESET);
        finish_all(chain_take(&l->creates), ECONNRESET);
    }
    if (this_loop == l)
        this_loop = NULL;
    atomic_fetch_sub(&pg->loops, 1);
    free(l);
}

static int pg_is_synchronous(void *self, backend_verb verb)
{
    (void)self;
    (void)verb;
    return 0; /* every answer is the database's, later */
}

static void pg_stats(void *self, backend_stats *out)
{
    pg_backend *pg = self;
    out->webhooks = 0; /* not counted: that is a query, and /metrics must not cost one */
    out->queue_depth = atomic_load(&pg->in_flight);
    /* writable when every loop can reach the database: a request lands on any of them */
    out->writable = atomic_load(&pg->migrated) && atomic_load(&pg->loops_up) == atomic_load(&pg->loops);
    out->unwritable = "PostgreSQL cannot be reached (every call answers 503 until a connection is made again)";
    out->database = 1;
    out->connections = (size_t)atomic_load(&pg->loops) * pg->connections_per_loop;
    /* one reading of each loop's count: the total is their sum */
    unsigned loops = atomic_load(&pg->next_loop);
    out->loops = loops < BACKEND_MAX_LOOPS ? loops : BACKEND_MAX_LOOPS;
    out->connections_up = 0;
    for (size_t i = 0; i < out->loops; i++)
        out->connections_up += out->loop_up[i] = atomic_load(&pg->loop_up[i]);
    out->events = 1;
    pg_events_stats(pg->delivery, &out->event_stats); /* the worker's last reading: no query */
    out->event_stats.cancelled = atomic_load(&pg->cancelled);
}

static void pg_set_event_wake(void *self, void (*wake)(void *ctx), void *ctx)
{
    pg_backend *pg = self;
    pg_events_set_wake(pg->delivery, wake, ctx);
}

static void pg_destroy(void *self)
{
    pg_backend *pg = self;
    /* every loop detached first (server.c): their calls are answered or failed */
    atomic_store(&pg->stopping, 1);
    if (pg->has_migrator)
        pthread_join(pg->migrator, NULL);
    pg_events_destroy(pg->events);
    pg_events_destroy(pg->delivery);
    pthread_mutex_destroy(&pg->log_lock);
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
    .loop_attach = pg_loop_attach,
    .loop_flush = pg_loop_flush,
    .loop_tick = pg_loop_tick,
    .loop_detach = pg_loop_detach,
    .set_event_wake = pg_set_event_wake,
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
    pg->connections_per_loop = o->connections;
    pg->statement_timeout_ms = o->statement_timeout_ms;
    pg->key_window_ms = o->key_window_ms;
    pg->on_round_trip = o->on_round_trip;
    pg->on_error = o->on_error;
    pthread_mutex_init(&pg->log_lock, NULL);
    pg_events_options eo = {.conninfo = o->conninfo,
                            .statement_timeout_ms = o->statement_timeout_ms,
                            .migrated = &pg->migrated,
                            .retention_ms = o->retention_ms,
                            .run_webhook_call = run_webhook_call,
                            .ctx = pg};
    pg_events_options delivery = eo;
    delivery.keeps_stats = 1; /* pg_stats reads the delivery worker's gauges */
    if ((pg->events = pg_events_create(&eo)) == NULL || (pg->delivery = pg_events_create(&delivery)) == NULL) {
        pg_events_destroy(pg->events);
        pthread_mutex_destroy(&pg->log_lock);
        seal_keyring_destroy(keys);
        free(pg->conninfo);
        free(pg);
        snprintf(err, JOURNAL_ERROR_MAX, "out of memory, or no thread for the event log");
        return NULL;
    }
    /* the schema now: a newer one than this node knows stops start-up; an unreachable
     * database does not (calls answer 503 while a thread keeps trying) */
    char why[sizeof pg->why];
    int rc = connect_and_migrate(pg, why, sizeof why);
    if (rc == 0) {
        atomic_store(&pg->migrated, 1);
        return &pg->pub;
    }
    if (rc == 1) {
        snprintf(err, JOURNAL_ERROR_MAX, "PostgreSQL: %s", why);
    } else {
        log_why(pg, why);
        log_info("store: PostgreSQL: answering 503 until it can connect");
        if (pthread_create(&pg->migrator, NULL, run_migrator, pg) == 0) {
            pg->has_migrator = 1;
            return &pg->pub;
        }
        snprintf(err, JOURNAL_ERROR_MAX, "cannot start a thread");
    }
    pg_events_destroy(pg->events);
    pg_events_destroy(pg->delivery);
    pthread_mutex_destroy(&pg->log_lock);
    seal_keyring_destroy(keys);
    free(pg->conninfo);
    free(pg);
    return NULL;
}
