/* store: every webhook hookgate knows, in memory, safe to share between event loops.
 *
 * Records are immutable once inserted and live until store_destroy, so a pointer the store
 * returns stays valid and unchanging without any lock held by the caller. An update or a
 * delete does not change a record: it adds a new version (a delete's is a tombstone) that
 * takes the old one's place in every index, while the old one stays readable by whoever
 * holds it. The price is memory: every version lives until store_destroy (a restart
 * loads only the newest). Lookups by id are O(1); an ecosystem's webhooks are kept in
 * insertion (= creation) order, and a page of them after a cursor costs O(log n + page). */
#ifndef HOOKGATE_STORE_H
#define HOOKGATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "objectid.h"

#define STORE_IDEMPOTENCY_LEN 32 /* bytes of an idempotency digest (SHA-256) */
#define STORE_SECRET_MAX 65536   /* bytes of a secret the store takes (the configuration's ceiling) */

/* Bytes an upper layer made from one version of a record (its JSON, as answers show it),
 * kept with that version so that answers showing it again copy them. */
typedef struct store_rendering {
    size_t len;
    char bytes[];
} store_rendering;

#define STORE_RENDERING_MAX 65536                 /* bytes of the longest rendering kept */
#define STORE_RENDERINGS_DEFAULT (256ull << 20) /* bytes all renderings may take, unless limited */

typedef struct store_webhook {
    objectid id;
    int disabled;
    int deleted;        /* a tombstone: only store_nth and store_get_idempotent return them */
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
    const char *disabled_reason; /* why hookgate disabled it (a 410, failing too long); NULL or "" when it did not */
    int64_t disabled_ms;         /* when, with disabled_reason */
    /* Set by the store on insert (what the caller gave is ignored): the record's place in
     * insertion order, 0 for the first, and its slot for store_nth. An update's new version
     * and a delete's tombstone keep it, so an ecosystem's array (which a delete leaves
     * sorted) and a walk of the pages see no change of place. After a restart the records
     * are inserted again in their first order, but without the deleted webhooks a snapshot
     * left out: seqs then close up, and a page cursor whose own record was deleted before
     * the restart resumes by a seq of the old numbering: it may skip as many records as the
     * snapshot left out before it. */
    uint64_t seq;
    /* NULL until an upper layer keeps one (store_keep_rendering); read it with
     * store_rendering_of, as another thread may set it. Never carried to another version
     * or copy of the record. */
    const store_rendering *rendering;
} store_webhook;

typedef struct store store;

/* What an update sets: the fields whose bit is in `sets` (a bit per StoredWebhook field
 * number, as the journal's update records name them); the others keep their value. */
#define STORE_SET_DISABLED (1u << 3)
#define STORE_SET_URL (1u << 5)
#define STORE_SET_SECRET (1u << 6)
#define STORE_SET_DESCRIPTION (1u << 7)
#define STORE_SET_ALL (STORE_SET_DISABLED | STORE_SET_URL | STORE_SET_SECRET | STORE_SET_DESCRIPTION)

typedef struct store_changes {
    unsigned sets;
    int disabled;
    const char *url; /* each not NULL when its bit is set */
    const char *secret;                /* "" with sealed_secret set: the secret sealed (seal.h) */
    const uint8_t *sealed_secret;      /* with STORE_SET_SECRET: the new sealed form, or NULL (none) */
    size_t sealed_secret_len;
    const char *description;
    const char *disabled_reason; /* with STORE_SET_DISABLED: why hookgate disabled it (NULL: a client did) */
    int64_t disabled_ms;
} store_changes;

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

/* The newest version of the i-th webhook in insertion order, a tombstone when it was
 * deleted. Safe without any lock for i below a store_slots() the caller has seen (a slot
 * only ever points to a newer immutable version); used to write snapshots while changes go
 * on, so the version read may be newer than the moment the caller counted the slots. */
const store_webhook *store_nth(store *s, size_t i);

/* Webhooks ever inserted, deleted ones included: the slots store_nth reads. */
size_t store_slots(store *s);

/* Copies w (and its strings) into the store. Returns the stored record, or NULL with err
 * set: ERROR_INTERNAL when out of memory, ERROR_CONFLICT when the id is already present
 * (a caller bug, or a damaged file: ids are unique by construction). With w->deleted the id is inserted as a tombstone
 * (what a snapshot keeps of a deleted webhook whose Idempotency-Key may come back). */
const store_webhook *store_insert(store *s, const store_webhook *w, error *err);

/* Replaces the webhook with this id by a new version with the changes applied; id,
 * created_ms, ecosystem and idempotency digest stay. Returns the new version, or NULL with
 * err set: ERROR_NOT_FOUND when no webhook has this id or it was deleted, ERROR_INTERNAL
 * when out of memory (then nothing changed). */
const store_webhook *store_update(store *s, const objectid *id, const store_changes *changes, error *err);

/* Deletes the webhook with this id: a tombstone takes its place (store_get, the
 * ecosystem's list and store_count no longer show it; store_get_idempotent still finds it,
 * so its Idempotency-Key makes no second webhook). Returns the tombstone, or NULL with err
 * set as store_update does. */
const store_webhook *store_delete(store *s, const objectid *id, error *err);

/* Keeps a copy of len bytes (at most STORE_RENDERING_MAX; longer ones are not kept) as
 * w's rendering, unless it has one already or the renderings kept so far leave no room
 * for it in their budget (store_limit_renderings). w is one of s's records (from
 * store_get, store_page and the like; asserted): the copy lives as long as w does (an old version's
 * too), and counts against the budget as long, rounded as carved. Never waits: when the
 * lock is taken it keeps nothing (a later showing will); with no room in the budget it
 * does not try the lock. */
void store_keep_rendering(store *s, const store_webhook *w, const char *bytes, size_t len);

/* The bytes renderings may take from now on, each counted with its length's header,
 * rounded to 8 as carved (STORE_RENDERINGS_DEFAULT until set; 0: none is kept). */
void store_limit_renderings(store *s, size_t bytes);

/* The bytes renderings take. */
size_t store_rendering_bytes(store *s);

/* A copy of w without its rendering, for a record other threads may be showing (and so
 * setting its rendering): the copy's is NULL, and that field of w is not read. */
store_webhook store_record_fields(const store_webhook *w);

/* w's rendering, or NULL: safe on any thread, beside store_keep_rendering. */
static inline const store_rendering *store_rendering_of(const store_webhook *w)
{
    return __atomic_load_n(&w->rendering, __ATOMIC_ACQUIRE);
}

/* The webhook with this id, or NULL (also when deleted). Takes no lock: lookups by id and
 * by digest run in parallel on every thread, beside a writer. */
const store_webhook *store_get(store *s, const objectid *id);

/* The newest record created with this idempotency digest, a tombstone when that webhook
 * was deleted, or NULL. */
const store_webhook *store_get_idempotent(store *s, const uint8_t digest[STORE_IDEMPOTENCY_LEN]);

/* Calls visit(record, ctx) for each webhook of the ecosystem, oldest first, while holding
 * the store lock: visit must not call back into the store. Stops early and returns the non-zero
 * value visit returns; else returns 0. */
int store_each_in_ecosystem(store *s, const char *ecosystem_id, int (*visit)(const store_webhook *w, void *ctx),
                            void *ctx);

/* Where a page of an ecosystem starts: after the last record the previous page ended with.
 * The id finds that record while it is stored; seq is its place, used when it is gone (a
 * future delete), so that a page goes on where the deleted record was. A backend with an
 * order of its own gives its records the seq that places them in it (the PostgreSQL
 * backend: created_ms; it breaks ties by the id's row). */
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

/* How many webhooks are stored (deleted ones not counted). */
size_t store_count(store *s);

#endif
