/* ratelimit: see ratelimit.h.
 *
 * Buckets live in a shared hashtable keyed by pointer: finding a key's bucket takes no lock
 * (hashtable_share), so the event loops meet only on a bucket they both take from, each
 * bucket behind a lock of its own; the table's lock is taken only to add a bucket. A take
 * is a few arithmetic operations, far shorter than any request. Tokens are counted in
 * thousandths so refill needs no floating point. Buckets are never removed: keys are the
 * configuration's tokens, few and bounded by RATELIMIT_MAX_KEYS. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>

#include "epoch.h"
#include "hashtable.h"
#include "mutex.h"

#define MILLI 1000
#define RATELIMIT_MAX_KEYS (1u << 20) /* buckets; a key past it is let through, as when out of memory */

typedef struct bucket {
    const void *key; /* read by every lookup: on a line that takes no writes */
    _Alignas(64) pthread_mutex_t lock; /* adaptive: held for a few instructions */
    int64_t milli;                     /* thousandths of a unit available */
    int64_t at_ms;                     /* when milli was last brought up to date */
} bucket;

struct ratelimit {
    pthread_mutex_t lock; /* adding a bucket */
    int64_t rate;
    hashtable buckets; /* bucket by key; shared */
};

static int bucket_equal(const void *item, const void *key)
{
    return ((const bucket *)item)->key == key;
}

ratelimit *ratelimit_create(unsigned rate)
{
    ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->rate = rate > 0 ? rate : 1;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl);
        return NULL;
    }
    hashtable_init(&rl->buckets, bucket_equal, RATELIMIT_MAX_KEYS, NULL);
    hashtable_share(&rl->buckets);
    return rl;
}

void ratelimit_destroy(ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    size_t cursor = 0;
    for (bucket *b; (b = hashtable_next(&rl->buckets, &cursor)) != NULL;) {
        pthread_mutex_destroy(&b->lock);
        free(b);
    }
    hashtable_destroy(&rl->buckets);
    free(rl);
}

/* key's bucket, a full one added at now_ms if it has none; NULL when out of memory or
 * RATELIMIT_MAX_KEYS are there. */
static bucket *bucket_of(ratelimit *rl, const void *key, uint64_t hash, int64_t now_ms)
{
    epoch_enter();
    bucket *b = hashtable_find_shared(&rl->buckets, hash, key, bucket_equal);
    epoch_exit(); /* buckets live as long as the limiter */
    if (b != NULL)
        return b;
    pthread_mutex_lock(&rl->lock);
    if ((b = hashtable_find_inline(&rl->buckets, hash, key, bucket_equal)) == NULL && /* added meanwhile? */
        (b = aligned_alloc(_Alignof(bucket), sizeof(*b))) != NULL) {
        *b = (bucket){.key = key, .milli = rl->rate * MILLI, .at_ms = now_ms};
        int rc = mutex_init_adaptive(&b->lock);
        if (rc != 0 || hashtable_insert(&rl->buckets, hash, b) != HASHTABLE_OK) {
            if (rc == 0)
                pthread_mutex_destroy(&b->lock);
            free(b);
            b = NULL;
        }
    }
    pthread_mutex_unlock(&rl->lock);
    epoch_collect(); /* a table the insert's growth left behind, once no reader holds it */
    return b;
}

unsigned ratelimit_take(ratelimit *rl, const void *key, int64_t now_ms)
{
    const int64_t full = rl->rate * MILLI;
    unsigned wait = 0;
    uint64_t hash = hashtable_hash_bytes(&key, sizeof(key));
    bucket *b = bucket_of(rl, key, hash, now_ms);
    if (b == NULL)
        return 0; /* out of memory (or keys): let the request through rather than refuse everyone */
    pthread_mutex_lock(&b->lock);
    if (now_ms > b->at_ms) {
        int64_t refill = (now_ms - b->at_ms) * rl->rate; /* thousandths: ms x units/s */
        b->milli = b->milli + refill > full ? full : b->milli + refill;
        b->at_ms = now_ms;
    }
    if (b->milli >= MILLI) {
        b->milli -= MILLI;
    } else {
        int64_t missing_ms = (MILLI - b->milli + rl->rate - 1) / rl->rate;
        wait = (unsigned)((missing_ms + 999) / 1000);
    }
    pthread_mutex_unlock(&b->lock);
    return wait;
}
