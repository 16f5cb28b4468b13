/* idempotency: see idempotency.h.
 *
 * The in-flight set is a chained hash table behind one mutex. It holds only creates that
 * wait for the store, so it stays small. A create leaves the set only after its record is
 * in the store, and a second request looks in the store only after it entered the set
 * itself, so the second sees one or the other, never neither. */
#include "idempotency.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024 /* power of two */

typedef struct entry {
    struct entry *next;
    uint8_t digest[STORE_IDEMPOTENCY_LEN];
} entry;

struct idempotency {
    pthread_mutex_t lock;
    entry *buckets[BUCKETS];
};

idempotency *idempotency_create(void)
{
    idempotency *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void idempotency_destroy(idempotency *t)
{
    if (t == NULL)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        for (entry *e = t->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static entry **bucket_of(idempotency *t, const uint8_t *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h)); /* SHA-256 output: uniform already */
    return &t->buckets[h & (BUCKETS - 1)];
}

/* The link pointing at digest's entry, or at the NULL ending its bucket. */
static entry **find(idempotency *t, const uint8_t *digest)
{
    entry **link = bucket_of(t, digest);
    while (*link != NULL && memcmp((*link)->digest, digest, STORE_IDEMPOTENCY_LEN) != 0)
        link = &(*link)->next;
    return link;
}

idempotency_outcome idempotency_begin(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    idempotency_outcome outcome = IDEMPOTENCY_NEW;
    pthread_mutex_lock(&t->lock);
    entry **link = find(t, digest);
    if (*link != NULL) {
        outcome = IDEMPOTENCY_IN_FLIGHT;
    } else {
        entry *e = malloc(sizeof(*e));
        if (e == NULL) {
            outcome = IDEMPOTENCY_NO_MEMORY;
        } else {
            memcpy(e->digest, digest, STORE_IDEMPOTENCY_LEN);
            e->next = NULL;
            *link = e;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return outcome;
}

void idempotency_end(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    pthread_mutex_lock(&t->lock);
    entry **link = find(t, digest), *e = *link;
    if (e != NULL) {
        *link = e->next;
        free(e);
    }
    pthread_mutex_unlock(&t->lock);
}
