/* ratelimit: see ratelimit.h.
 *
 * Buckets live in an open-addressing table keyed by pointer, under one mutex: a take is a
 * few arithmetic operations, far shorter than any request. Tokens are counted in
 * thousandths so refill needs no floating point. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>

#define MILLI 1000

typedef struct bucket {
    const void *key; /* NULL = empty slot */
    int64_t milli;   /* thousandths of a unit available */
    int64_t at_ms;   /* when milli was last brought up to date */
} bucket;

struct ratelimit {
    pthread_mutex_t lock;
    int64_t rate;
    bucket *slots;
    size_t n_slots, n;
};

ratelimit *ratelimit_create(unsigned rate)
{
    ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->rate = rate > 0 ? rate : 1;
    rl->n_slots = 64;
    if ((rl->slots = calloc(rl->n_slots, sizeof(*rl->slots))) == NULL || pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl->slots);
        free(rl);
        return NULL;
    }
    return rl;
}

void ratelimit_destroy(ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->slots);
    free(rl);
}

static size_t slot_of(const bucket *slots, size_t n_slots, const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
    size_t i = (size_t)(h >> 32) & (n_slots - 1);
    while (slots[i].key != NULL && slots[i].key != key)
        i = (i + 1) & (n_slots - 1);
    return i;
}

static int grow(ratelimit *rl)
{
    size_t n_slots = rl->n_slots * 2;
    bucket *slots = calloc(n_slots, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < rl->n_slots; i++)
        if (rl->slots[i].key != NULL)
            slots[slot_of(slots, n_slots, rl->slots[i].key)] = rl->slots[i];
    free(rl->slots);
    rl->slots = slots;
    rl->n_slots = n_slots;
    return 0;
}

unsigned ratelimit_take(ratelimit *rl, const void *key, int64_t now_ms)
{
    const int64_t full = rl->rate * MILLI;
    unsigned wait = 0;
    pthread_mutex_lock(&rl->lock);
    if ((rl->n + 1) * 2 > rl->n_slots && grow(rl) != 0) {
        pthread_mutex_unlock(&rl->lock);
        return 0; /* out of memory: let the request through rather than refuse everyone */
    }
    bucket *b = &rl->slots[slot_of(rl->slots, rl->n_slots, key)];
    if (b->key == NULL) {
        *b = (bucket){key, full, now_ms};
        rl->n++;
    }
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
    pthread_mutex_unlock(&rl->lock);
    return wait;
}
