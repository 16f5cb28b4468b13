/* store: every webhook hookgate knows, in memory, safe to share between event loops.
 *
 * Records are immutable once inserted and live until store_destroy, so a pointer the store
 * returns stays valid and unchanging without any lock held by the caller. Lookups by id are
 * O(1); an ecosystem's webhooks are kept in insertion (= creation) order, and a page of them
 * after a cursor costs O(log n + page). */
#ifndef HOOKGATE_STORE_H
#define HOOKGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "objectid.h"

#define STORE_IDEMPOTENCY_LEN 32 /* bytes of an idempotency digest (SHA-256) */
#define STORE_SECRET_MAX 65536   /* bytes of a secret the store takes (the configuration's ceiling) */

typedef struct store_webhook {
    objectid id;
    int disabled;
    int64_t created_ms; /* Unix time in milliseconds */
    const char *ecosystem_id; /* never NULL; "" allowed for the optional strings */
    const char *url;
    const char *secret; /* "" when the secret is sealed (or none was given) */
    const char *description;
    const uint8_t *idempotency; /* STORE_IDEMPOTENCY_LEN bytes naming the token and Idempotency-Key it was
                                   created with, or NULL */
    const uint8_t *sealed_secret; /* the secret sealed with the server's key (seal.h), or NULL: a record
                                     holds its secret in one form only. Open it with backend_secret_open. */
    size_t sealed_secret_len;
    /* Set by the store on insert (what the caller gave is ignored): the record's place in
     * insertion order, 0 for the first; the same after a restart, which inserts the journal's
     * records again in the order they were first inserted. Hazard for whoever adds updates and
     * deletes: an ecosystem's array must stay sorted by seq (store_page searches it), and a
     * record that replaces another must keep its seq, or a walk of the pages meets it twice or
     * not at all. */
    uint64_t seq;
} store_webhook;

typedef struct store store;

/* A new, empty store, or NULL when out of memory. */
store *store_create(void);

/* Frees the store and every record; pointers it returned are invalid afterwards. */
void store_destroy(store *s);

#define STORE_CHUNK 65536      /* records per block of the insertion-order index */
#define STORE_MAX_CHUNKS 16384 /* so at most 2^30 records */

/* Copies w (and its strings) into a new record that belongs to no store yet; NULL when
 * out of memory. Insert it with store_insert_record or drop it with store_record_free. */
store_webhook *store_record_new(const store_webhook *w);
void store_record_free(store_webhook *r);

/* Inserts a record made by store_record_new and takes ownership of it, also on failure
 * (then it is freed). Returns it, or NULL with err set as store_insert does. */
const store_webhook *store_insert_record(store *s, store_webhook *r, error *err);

/* The i-th record in insertion order. Safe without any lock for i below a store_count()
 * the caller has seen (records never move and never change); used to write snapshots
 * while inserts go on. */
const store_webhook *store_nth(store *s, size_t i);

/* Copies w (and its strings) into the store. Returns the stored record, or NULL with err
 * set: ERROR_INTERNAL when out of memory or when the id is already present (a caller bug:
 * ids are unique by construction). */
const store_webhook *store_insert(store *s, const store_webhook *w, error *err);

/* The record with this id, or NULL. */
const store_webhook *store_get(store *s, const objectid *id);

/* The newest record created with this idempotency digest, or NULL. */
const store_webhook *store_get_idempotent(store *s, const uint8_t digest[STORE_IDEMPOTENCY_LEN]);

/* Calls visit(record, ctx) for each webhook of the ecosystem, oldest first, while holding
 * the store lock: visit must not call back into the store. Stops early and returns the non-zero
 * value visit returns; else returns 0. */
int store_each_in_ecosystem(store *s, const char *ecosystem_id, int (*visit)(const store_webhook *w, void *ctx),
                            void *ctx);

/* Where a page of an ecosystem starts: after the last record the previous page ended with.
 * The id finds that record while it is stored; seq is its place, used when it is gone (a
 * future delete), so that a page goes on where the deleted record was. */
typedef struct store_cursor {
    uint64_t seq;
    objectid id;
} store_cursor;

/* The ecosystem's records that come after `after` (NULL: from its first) in insertion
 * order: at most max of them into out, returning how many; *more is 1 when records follow
 * the last one written, else 0. A record inserted after a page was read comes after it, so
 * walking page by page meets every record stored throughout the walk exactly once. Costs
 * O(log n + max) under the lock (a binary search of the ecosystem's array by seq). */
size_t store_page(store *s, const char *ecosystem_id, const store_cursor *after, const store_webhook **out, size_t max,
                  int *more);

/* How many webhooks are stored. */
size_t store_count(store *s);

#endif
