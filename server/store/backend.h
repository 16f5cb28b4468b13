/* backend: the store as the core sees it — one asynchronous interface, with backends
 * behind a small table of function pointers (as Redis' rio hides its buffer and file
 * backends).
 *
 * The core fills a backend_call and submits it; the backend answers through the call's
 * done callback, exactly once, either before backend_submit returns (the memory backend's
 * reads) or later from another thread (a write waiting for the journal's fdatasync; every
 * call of a backend whose calls are network round trips). Nothing here assumes that a
 * read is synchronous. Records a backend returns are immutable and stay valid until
 * backend_destroy (the memory backend's live in its index), or, from a backend that
 * fetches rows, as long as the call's memory: rows are copied into memory from the call's
 * allocator, and a create answers with the call's own webhook.
 *
 * Writes (create, update, delete) of one backend take effect in one order, the order the
 * index shows them in; an update or a delete is checked against the index when it takes
 * effect, not when it is submitted, so two racing writes never undo each other's check
 * (the second delete of a webhook answers NOT_FOUND, whichever was submitted first).
 *
 * Two backends: memory + journal (backend_memory.c), the in-memory index (store.h) made
 * durable by the journal (journal.h), the only writer of its index; and PostgreSQL
 * (backend_postgres.c), shared by any number of nodes. */
#ifndef HOOKGATE_BACKEND_H
#define HOOKGATE_BACKEND_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "journal.h"
#include "seal.h"
#include "store.h"

typedef enum backend_verb {
    BACKEND_CREATE,          /* in: webhook; out: found = the stored record */
    BACKEND_GET,             /* in: id; out: found, or status BACKEND_NOT_FOUND */
    BACKEND_LIST,            /* in: ecosystem_id, after, limit; out: items, n_items, more (a page, oldest first) */
    BACKEND_FIND_IDEMPOTENT, /* in: digest; out: found = the newest record created with it (a tombstone when
                                deleted), or NOT_FOUND */
    BACKEND_UPDATE,          /* in: id, changes; out: found = the new version, or NOT_FOUND (also when deleted) */
    BACKEND_DELETE,          /* in: id; out: found = its tombstone, or NOT_FOUND (also when already deleted) */
    /* the event log (events.h); a backend without one answers ENOSYS */
    BACKEND_PUBLISH,       /* in: ev.publish; out: ev.webhooks (deliveries made), ev.replayed with ev.event_id (an
                              earlier event had the digest) */
    BACKEND_GET_EVENT,     /* in: id, alloc; out: ev.event, or NOT_FOUND */
    BACKEND_LIST_ATTEMPTS, /* in: id (the webhook), ev.before, limit, alloc; out: ev.attempts */
    BACKEND_RESEND,        /* in: id (the event), ev.webhook (NULL: each of its webhooks still enabled), ev.now_ms;
                              out: ev.count deliveries made manual and due now, or NOT_FOUND */
    BACKEND_RECOVER,       /* in: id (the webhook), ev.since_ms, ev.max, ev.now_ms; out: ev.count */
    BACKEND_CLAIM,         /* in: ev.now_ms, ev.per_webhook, ev.claims (room for ev.max), alloc; out: ev.count
                              claimed, each with its webhook as it is now (from alloc, or the index's),
                              ev.next_due_ms (events_claim_due) */
    BACKEND_RECORD,        /* in: ev.records, ev.n_records (outcomes of claimed deliveries, DELIVERY records) */
    BACKEND_EXPIRE,        /* in: ev.since_ms: events published before it and attempts started before it go
                              (on PostgreSQL within a partition's period of it; ev.now_ms, the partitions
                              kept ahead); out: ev.count events dropped (memory; PostgreSQL: 0) */
    BACKEND_VERBS
} backend_verb;

#define BACKEND_LIST_MAX 65536 /* the largest LIST limit a caller may ask for */
#define BACKEND_MAX_LOOPS 256 /* event loops whose share stats tell apart (config's thread bound) */
#define BACKEND_NOT_FOUND (-1) /* status: no such record (every other non-zero status is an errno) */

/* What an event call carries (backend_call.ev). */
typedef struct backend_event_args {
    /* in */
    struct {
        objectid id;
        const char *ecosystem_id;
        int64_t created_ms;
        const uint8_t *body; /* an EventBody, packed */
        size_t body_len;
        const uint8_t *digest; /* EVENTS_DIGEST_LEN bytes, or NULL */
    } publish;
    const objectid *webhook; /* RESEND */
    int64_t now_ms, since_ms;
    uint64_t before;
    size_t max;
    unsigned per_webhook;
    int64_t lease_ms; /* CLAIM: a claimed delivery is another claimer's again after this long without an
                         outcome (a database shared by nodes: the node may have died); memory ignores it */
    events_claim *claims;
    schema_stored_event *const *records;
    size_t n_records;
    /* out */
    unsigned webhooks;
    int replayed;
    int key_conflict; /* PUBLISH, replayed: the key's event was published with another ecosystem or items */
    objectid event_id;
    schema_event *event;
    schema_attempts_response attempts;
    size_t count;
    int64_t next_due_ms;
    /* the backend's */
    schema_stored_event *owned; /* records it made for the journal, freed when written */
    void *owned_memory;
} backend_event_args;

typedef struct backend_call backend_call;
struct backend_call {
    /* in */
    backend_verb verb;
    const store_webhook *webhook; /* CREATE: read until done (the memory backend copies it at once) */
    objectid id;                  /* GET, UPDATE, DELETE */
    const store_changes *changes; /* UPDATE: copied by the backend before submit returns */
    const char *ecosystem_id;     /* LIST */
    const store_cursor *after;    /* LIST: the page starts after it (store_page's rules); NULL = at the first */
    size_t limit;                 /* LIST: at most this many items, >= 1; the backend's work is O(limit), not O(all) */
    const uint8_t *digest;        /* FIND_IDEMPOTENT: STORE_IDEMPOTENCY_LEN bytes */
    ProtobufCAllocator *alloc;    /* memory for what the backend answers with: LIST's items; a database backend's
                                     rows (every verb that returns a record); the caller frees it (with alloc,
                                     or with its pool) */
    void (*done)(backend_call *c); /* called once with the outcome */
    void *data;                    /* the caller's */
    /* out */
    int status; /* 0; BACKEND_NOT_FOUND; ENOMEM; EAGAIN (too many writes queued); EEXIST (a CREATE
                   whose idempotency digest another record took first: a database shared by
                   nodes); or the errno the disk or the network refused the call with */
    const store_webhook *found;
    const store_webhook **items; /* LIST: from alloc (NULL when n_items is 0) */
    size_t n_items;
    int more; /* LIST: 1 when the ecosystem has records after items[n_items - 1] */
    /* the backend's */
    backend_event_args ev;
    journal_op journal;
    store_changes journal_changes; /* UPDATE with a journal: the changes, pointing into journal.record */
    int retry_alone; /* PostgreSQL: a create batched with one that failed goes again on its own */
    backend_call *batch_next; /* PostgreSQL: the next call (a GET, a create without a key) one statement answers with this one */
    void *backend;
};

/* What /metrics and /readyz read. */
typedef struct backend_stats {
    size_t webhooks;    /* stored */
    size_t json_cache_bytes; /* what webhooks' kept JSON takes (backend_keep_rendering) */
    size_t queue_depth; /* writes waiting for the disk */
    int writable;       /* 1, 0 while writes fail, -1 when the backend keeps nothing durable */
    const char *unwritable; /* writable 0: why, for /readyz (a constant string) */
    int database;            /* 1: a database backend; the next two are its pool */
    size_t connections;      /* configured */
    size_t connections_up;   /* connected now */
    size_t loops;            /* database: the event loops attached, at most BACKEND_MAX_LOOPS counted */
    unsigned loop_up[BACKEND_MAX_LOOPS]; /* database: each loop's connections up, by attach order */
    int events;              /* 1: the backend keeps an event log; the next are its gauges */
    events_stats event_stats;
} backend_stats;

/* An event loop as a backend sees it, given by the network layer: a backend whose calls
 * are network round trips (PostgreSQL) keeps its connections in the loops that submit to
 * it, so a loop never waits for the database and no thread hands calls over. Every
 * function runs on the loop's own thread. */
typedef struct store_poller {
    void *ctx;
    /* Watches fd: on_ready(arg) runs on the loop whenever fd is readable. A handle, or NULL
     * when out of memory. fd stays the caller's: it may even be closed before unwatch. */
    void *(*watch)(void *ctx, int fd, void (*on_ready)(void *arg), void *arg);
    /* on_ready runs once more as soon as the watched fd can be written. */
    void (*want_write)(void *handle);
    /* Stops watching (never closes the caller's fd). */
    void (*unwatch)(void *handle);
    /* The backend's tick (backend_loop_tick) runs on this loop within about 100 ms. */
    void (*tick_soon)(void *ctx);
} store_poller;

typedef struct backend_ops {
    const char *name;
    void (*submit)(void *self, backend_call *c);
    int (*is_synchronous)(void *self, backend_verb verb);
    void (*stats)(void *self, backend_stats *out);
    void (*destroy)(void *self); /* finishes every submitted call first */
    /* optional (NULL: the backend needs no loop): a loop's share of the backend */
    void *(*loop_attach)(void *self, const store_poller *poller);
    void (*loop_flush)(void *loop); /* the end of a loop iteration: send what it submitted */
    void (*loop_tick)(void *loop);  /* timers: reconnects, answers overdue */
    void (*loop_detach)(void *loop); /* the loop stops: its calls are answered or failed, its connections closed */
    /* optional (NULL: none needed): wake(ctx) is called, on any thread, when deliveries may
     * have become due that this process did not make (another node's publish: a database's
     * LISTEN/NOTIFY) */
    void (*set_event_wake)(void *self, void (*wake)(void *ctx), void *ctx);
    /* optional (NULL: records do not outlive their call, and nothing is kept): see
     * backend_keep_rendering */
    void (*keep_rendering)(void *self, const store_webhook *w, const char *bytes, size_t len);
} backend_ops;

typedef struct backend {
    const backend_ops *ops;
    void *self;
    const seal_keyring *keys; /* the secret keys (NULL: secrets are kept as given); owned by the backend */
} backend;

/* Submits c (its `in` fields and done set). c must stay in place until done runs, which
 * may be before this returns. */
void backend_submit(backend *b, backend_call *c);

/* 1 when done has already run when backend_submit returned, for every call of this verb
 * (a caller may then keep the call on its stack). */
int backend_is_synchronous(const backend *b, backend_verb verb);

void backend_stats_get(backend *b, backend_stats *out);

/* Called on a loop's thread before it submits anything: the backend's per-loop state
 * (NULL for a backend that needs no loop, and when out of memory: that loop's calls then
 * fail with ECONNREFUSED). Calls submitted on this thread afterwards use it. */
void *backend_loop_attach(backend *b, const store_poller *poller);

/* At the end of every iteration of the loop (NULL loop: nothing). */
void backend_loop_flush(backend *b, void *loop);

/* When the poller's tick_soon was asked for. */
void backend_loop_tick(backend *b, void *loop);

/* On the loop's thread as it stops, after its last request (NULL loop: nothing). */
void backend_loop_detach(backend *b, void *loop);

/* Registers the dispatcher's wake-up (see backend_ops.set_event_wake); a no-op for a
 * backend without one. */
void backend_set_event_wake(backend *b, void (*wake)(void *ctx), void *ctx);

/* Finishes every submitted call, then frees the backend (NULL is a no-op). */
void backend_destroy(backend *b);

/* The plain text of w's secret, for signing a call to w's url (and for comparing a
 * retried create's secret). w is a record this backend returned. On 0, *secret is a new
 * NUL-terminated string of *len bytes ("" when the webhook has none) that the caller
 * must release with backend_secret_free as soon as it has signed: it wipes the bytes.
 * Never log it, return it or keep it. Returns 0; ENOMEM; or EBADMSG when the sealed
 * secret does not open (its bytes are damaged: start-up refuses a store whose keys are
 * missing, so a configured key is never the cause), and then the call cannot be signed.
 * Safe on any thread; costs one AEAD open (2.5 µs measured on the project VM) when sealed. */
int backend_secret_open(const backend *b, const store_webhook *w, char **secret, size_t *len);

/* Keeps bytes an upper layer made from w (its JSON) with w, when this backend's records
 * outlive their calls (the memory store's do: store_keep_rendering); else nothing. w is a
 * record this backend returned. Read it back with store_rendering_of. */
void backend_keep_rendering(backend *b, const store_webhook *w, const char *bytes, size_t len);

/* Wipes and frees a secret from backend_secret_open (NULL is a no-op). */
void backend_secret_free(char *secret, size_t len);

/* ---- memory + journal ---------------------------------------------------------------- */

typedef struct backend_memory_stats {
    journal_stats journal; /* what start-up loaded (zeros when memory only) */
} backend_memory_stats;

/* The in-memory index, durable through the journal when journal_opts is not NULL (then
 * the directory is locked and recovered first; on failure NULL with the reason in err).
 * NULL with err "out of memory" when memory runs out. keys (NULL: none) becomes the
 * backend's, also on failure: with a current key every secret is sealed before it is
 * stored, in the index as on disk (journal_opts->keys is ignored: these are used). */
backend *backend_memory_open(const journal_options *journal_opts, seal_keyring *keys, backend_memory_stats *stats,
                             char err[JOURNAL_ERROR_MAX]);

/* The bytes webhooks' kept JSON may take in b, a memory backend (store_limit_renderings:
 * store.json_cache_bytes). */
void backend_memory_limit_renderings(backend *b, size_t bytes);

/* ---- PostgreSQL ----------------------------------------------------------------------- */

typedef struct backend_postgres_options {
    const char *conninfo;          /* libpq keywords or URI */
    unsigned connections;          /* libpq connections of each event loop, 1..64 */
    unsigned statement_timeout_ms; /* a statement over it is cancelled: 503 */
    int64_t key_window_ms;         /* an Idempotency-Key older than this may name a new webhook */
    void (*on_round_trip)(int64_t us);     /* a statement's answer came, us after it was sent; may be NULL */
    void (*on_error)(const char *sqlstate); /* a statement failed with this SQLSTATE ("" unknown); may be NULL */
    int64_t retention_ms;          /* delivery.retention_ms at start: the event log's partitions until the
                                      first BACKEND_EXPIRE brings the current one */
} backend_postgres_options;

/* The PostgreSQL backend (backend_postgres.c): connects once now, applying the schema's
 * migrations; each event loop then makes its own connections (backend_loop_attach). NULL
 * with the reason in err when the database's schema is newer than this hookgate knows, or
 * out of memory; an unreachable database is not an error (calls answer ECONNREFUSED until
 * a connection is made, retried with backoff). keys becomes the backend's, also on failure. */
backend *backend_postgres_open(const backend_postgres_options *o, seal_keyring *keys, char err[JOURNAL_ERROR_MAX]);

#endif
