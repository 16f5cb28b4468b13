/* idempotency: see idempotency.h.
 *
 * The in-flight set is a hashtable of digest copies, split in IDEMPOTENCY_STRIPES stripes
 * by the digest's hash, each behind its own mutex: creates with different keys, on
 * different event loops, seldom meet on one lock. It holds only creates that wait for the
 * store, so it stays small (and bounded by IDEMPOTENCY_MAX_IN_FLIGHT). A create leaves the
 * set only after its record is in the store, and a second request looks in the store only
 * after it entered the set itself, so the second sees one or the other, never neither. */
#include "idempotency.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hashtable.h"
#include "mutex.h"

#define IDEMPOTENCY_MAX_IN_FLIGHT (1u << 20) /* creates begun and not ended; past it: NO_MEMORY */
#define IDEMPOTENCY_STRIPES 64               /* a power of two */

HG_STATIC_ASSERT((IDEMPOTENCY_STRIPES & (IDEMPOTENCY_STRIPES - 1)) == 0, "stripes are picked by a mask");

typedef struct entry {
    uint8_t digest[STORE_IDEMPOTENCY_LEN];
} entry;

typedef struct stripe {
    _Alignas(64) pthread_mutex_t lock; /* a cache line of its own: stripes do not share one */
    hashtable in_flight;               /* entry by digest */
} stripe;

struct idempotency {
    stripe stripes[IDEMPOTENCY_STRIPES];
};

static int entry_equal(const void *item, const void *key)
{
    return memcmp(((const entry *)item)->digest, key, STORE_IDEMPOTENCY_LEN) == 0;
}

static uint64_t digest_hash(const uint8_t *digest)
{
    return hashtable_hash_bytes(digest, STORE_IDEMPOTENCY_LEN);
}

/* The stripe of a digest of this hash: bits the table does not use for its slots first. */
static stripe *stripe_of(idempotency *t, uint64_t hash)
{
    return &t->stripes[(hash >> 58) & (IDEMPOTENCY_STRIPES - 1)];
}

idempotency *idempotency_create(void)
{
    idempotency *t = aligned_alloc(_Alignof(stripe), sizeof(*t));
    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < IDEMPOTENCY_STRIPES; i++) {
        if (mutex_init_adaptive(&t->stripes[i].lock) != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&t->stripes[i].lock);
            free(t);
            return NULL;
        }
        /* each stripe a share of the bound: digests are SHA-256 outputs, so they spread evenly */
        hashtable_init(&t->stripes[i].in_flight, entry_equal, IDEMPOTENCY_MAX_IN_FLIGHT / IDEMPOTENCY_STRIPES,
                       NULL);
    }
    return t;
}

void idempotency_destroy(idempotency *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < IDEMPOTENCY_STRIPES; i++) {
        size_t cursor = 0;
        for (entry *e; (e = hashtable_next(&t->stripes[i].in_flight, &cursor)) != NULL;)
            free(e);
        hashtable_destroy(&t->stripes[i].in_flight);
        pthread_mutex_destroy(&t->stripes[i].lock);
    }
    free(t);
}

idempotency_outcome idempotency_begin(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    idempotency_outcome outcome = IDEMPOTENCY_NEW;
    uint64_t hash = digest_hash(digest);
    stripe *st = stripe_of(t, hash);
    pthread_mutex_lock(&st->lock);
    if (hashtable_find_inline(&st->in_flight, hash, digest, entry_equal) != NULL) {
        outcome = IDEMPOTENCY_IN_FLIGHT;
    } else {
        /* a full set is refused as a failed allocation is (the caller answers "out of memory") */
        entry *e = malloc(sizeof(*e));
        if (e != NULL)
            memcpy(e->digest, digest, STORE_IDEMPOTENCY_LEN);
        if (e == NULL || hashtable_insert(&st->in_flight, hash, e) != HASHTABLE_OK) {
            free(e);
            outcome = IDEMPOTENCY_NO_MEMORY;
        }
    }
    pthread_mutex_unlock(&st->lock);
    return outcome;
}

void idempotency_end(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    uint64_t hash = digest_hash(digest);
    stripe *st = stripe_of(t, hash);
    pthread_mutex_lock(&st->lock);
    entry *e = hashtable_remove(&st->in_flight, hash, digest);
    pthread_mutex_unlock(&st->lock);
    free(e);
}
