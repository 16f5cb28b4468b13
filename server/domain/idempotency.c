/* idempotency: see idempotency.h.
 *
 * The in-flight set is a hashtable of digest copies behind one mutex. It holds only
 * creates that wait for the store, so it stays small (and bounded by
 * IDEMPOTENCY_MAX_IN_FLIGHT). A create leaves the set only after its record is in the
 * store, and a second request looks in the store only after it entered the set itself, so
 * the second sees one or the other, never neither. */
#include "idempotency.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hashtable.h"

#define IDEMPOTENCY_MAX_IN_FLIGHT (1u << 20) /* creates begun and not ended; past it: NO_MEMORY */

typedef struct entry {
    uint8_t digest[STORE_IDEMPOTENCY_LEN];
} entry;

struct idempotency {
    pthread_mutex_t lock;
    hashtable in_flight; /* entry by digest */
};

static int entry_equal(const void *item, const void *key)
{
    return memcmp(((const entry *)item)->digest, key, STORE_IDEMPOTENCY_LEN) == 0;
}

static uint64_t digest_hash(const uint8_t *digest)
{
    return hashtable_hash_bytes(digest, STORE_IDEMPOTENCY_LEN);
}

idempotency *idempotency_create(void)
{
    idempotency *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    hashtable_init(&t->in_flight, entry_equal, IDEMPOTENCY_MAX_IN_FLIGHT, NULL);
    return t;
}

void idempotency_destroy(idempotency *t)
{
    if (t == NULL)
        return;
    size_t cursor = 0;
    for (entry *e; (e = hashtable_next(&t->in_flight, &cursor)) != NULL;)
        free(e);
    hashtable_destroy(&t->in_flight);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

idempotency_outcome idempotency_begin(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    idempotency_outcome outcome = IDEMPOTENCY_NEW;
    uint64_t hash = digest_hash(digest);
    pthread_mutex_lock(&t->lock);
    if (hashtable_find(&t->in_flight, hash, digest) != NULL) {
        outcome = IDEMPOTENCY_IN_FLIGHT;
    } else {
        /* a full set is refused as a failed allocation is (the caller answers "out of memory") */
        entry *e = malloc(sizeof(*e));
        if (e != NULL)
            memcpy(e->digest, digest, STORE_IDEMPOTENCY_LEN);
        if (e == NULL || hashtable_insert(&t->in_flight, hash, e) != HASHTABLE_OK) {
            free(e);
            outcome = IDEMPOTENCY_NO_MEMORY;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return outcome;
}

void idempotency_end(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    uint64_t hash = digest_hash(digest);
    pthread_mutex_lock(&t->lock);
    entry *e = hashtable_remove(&t->in_flight, hash, digest);
    pthread_mutex_unlock(&t->lock);
    free(e);
}
