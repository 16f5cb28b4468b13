/* test_idempotency: the in-flight set of Idempotency-Key digests. New, then in flight until
 * its create ends, then new again (the store, not this set, remembers a finished create);
 * digests that share a bucket stay apart; more digests than buckets; racing threads get
 * exactly one NEW per digest; and out of memory is IDEMPOTENCY_NO_MEMORY with nothing
 * left in flight. */
#include "hg_assert.h"
#include "idempotency.h"
#include "oom.h"
#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A digest from n: the first 8 bytes (the bucket hash) from n / 2, so n and n ^ 1 share a
 * bucket and differ only in the last byte. */
static void digest_of(uint32_t n, uint8_t out[STORE_IDEMPOTENCY_LEN])
{
    memset(out, 0, STORE_IDEMPOTENCY_LEN);
    uint32_t h = n / 2;
    memcpy(out, &h, sizeof h);
    out[STORE_IDEMPOTENCY_LEN - 1] = (uint8_t)(n & 1);
    out[STORE_IDEMPOTENCY_LEN - 2] = 0xd1;
}

static void test_lifecycle(void)
{
    idempotency *t = idempotency_create();
    CHECK(t != NULL);
    uint8_t a[STORE_IDEMPOTENCY_LEN], b[STORE_IDEMPOTENCY_LEN], c[STORE_IDEMPOTENCY_LEN];
    digest_of(10, a);
    digest_of(11, b); /* a's bucket */
    digest_of(99, c);

    CHECK(idempotency_begin(t, a) == IDEMPOTENCY_NEW);
    CHECK(idempotency_begin(t, a) == IDEMPOTENCY_IN_FLIGHT);
    CHECK(idempotency_begin(t, b) == IDEMPOTENCY_NEW); /* same bucket, other key */
    CHECK(idempotency_begin(t, b) == IDEMPOTENCY_IN_FLIGHT);

    /* a's create ended: the set forgets it (the store answers for a stored one) */
    idempotency_end(t, a);
    CHECK(idempotency_begin(t, a) == IDEMPOTENCY_NEW);
    CHECK(idempotency_begin(t, b) == IDEMPOTENCY_IN_FLIGHT); /* ending a left b */

    /* ending a digest that is not in flight changes nothing */
    idempotency_end(t, c);
    CHECK(idempotency_begin(t, a) == IDEMPOTENCY_IN_FLIGHT && idempotency_begin(t, b) == IDEMPOTENCY_IN_FLIGHT);
    CHECK(idempotency_begin(t, c) == IDEMPOTENCY_NEW);

    idempotency_destroy(t); /* a, b and c still in flight: freed too (valgrind) */
    idempotency_destroy(NULL);
}

/* More digests in flight than buckets, all ended in a different order. */
static void test_many(void)
{
    idempotency *t = idempotency_create();
    const uint32_t n = 5000;
    uint8_t d[STORE_IDEMPOTENCY_LEN];
    size_t news = 0;
    for (uint32_t i = 0; i < n; i++) {
        digest_of(i, d);
        news += idempotency_begin(t, d) == IDEMPOTENCY_NEW;
    }
    CHECK(news == n);
    for (uint32_t i = 0; i < n; i++) {
        digest_of(i, d);
        CHECK(idempotency_begin(t, d) == IDEMPOTENCY_IN_FLIGHT);
    }
    for (uint32_t i = n; i-- > 0;) {
        digest_of((i * 7919u) % n, d); /* 7919 is prime to 5000: every digest once */
        idempotency_end(t, d);
    }
    news = 0;
    for (uint32_t i = 0; i < n; i++) {
        digest_of(i, d);
        news += idempotency_begin(t, d) == IDEMPOTENCY_NEW;
    }
    CHECK(news == n);
    idempotency_destroy(t);
}

/* Threads race for the same digests: each digest is NEW for exactly one of them. */
#define RACERS 4
#define RACE_DIGESTS 2000

typedef struct race {
    idempotency *t;
    pthread_barrier_t *start;
    unsigned char won[RACE_DIGESTS];
} race;

static void *racer(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->start);
    uint8_t d[STORE_IDEMPOTENCY_LEN];
    for (uint32_t i = 0; i < RACE_DIGESTS; i++) {
        digest_of(i, d);
        r->won[i] = idempotency_begin(r->t, d) == IDEMPOTENCY_NEW;
    }
    return NULL;
}

static void test_threads(void)
{
    idempotency *t = idempotency_create();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    static race races[RACERS];
    pthread_t th[RACERS];
    for (int k = 0; k < RACERS; k++) {
        races[k].t = t;
        races[k].start = &start;
        CHECK(pthread_create(&th[k], NULL, racer, &races[k]) == 0);
    }
    for (int k = 0; k < RACERS; k++)
        pthread_join(th[k], NULL);
    size_t wrong = 0;
    for (uint32_t i = 0; i < RACE_DIGESTS; i++) {
        int winners = 0;
        for (int k = 0; k < RACERS; k++)
            winners += races[k].won[i];
        wrong += winners != 1;
    }
    CHECK(wrong == 0);
    pthread_barrier_destroy(&start);
    idempotency_destroy(t);
}

/* ---- out of memory ---- */

typedef struct idem_oom {
    idempotency *t;
    uint8_t d[STORE_IDEMPOTENCY_LEN];
    idempotency_outcome outcome;
} idem_oom;

static int idem_oom_create(void *ctx)
{
    idem_oom *o = ctx;
    o->t = idempotency_create();
    return o->t != NULL ? 0 : -1;
}

static void idem_oom_setup(void *ctx)
{
    idem_oom *o = ctx;
    o->t = idempotency_create();
    HG_ASSERT(o->t != NULL);
}

static int idem_oom_begin(void *ctx)
{
    idem_oom *o = ctx;
    o->outcome = idempotency_begin(o->t, o->d);
    return o->outcome == IDEMPOTENCY_NEW ? 0 : -1;
}

static void idem_oom_begin_check(void *ctx, int ok)
{
    idem_oom *o = ctx;
    if (!ok) {
        /* a failed begin leaves nothing in flight: the retry is NEW, not IN_FLIGHT */
        CHECK(o->outcome == IDEMPOTENCY_NO_MEMORY);
        CHECK(idempotency_begin(o->t, o->d) == IDEMPOTENCY_NEW);
    }
    CHECK(idempotency_begin(o->t, o->d) == IDEMPOTENCY_IN_FLIGHT);
}

static void idem_oom_teardown(void *ctx)
{
    idem_oom *o = ctx;
    idempotency_destroy(o->t);
    o->t = NULL;
}

static void test_out_of_memory(void)
{
    idem_oom o = {0};
    digest_of(7, o.d);
    oom_op create = {"idempotency_create", &o, NULL, idem_oom_create, NULL, idem_oom_teardown};
    CHECK(oom_loop(&create) == 0);
    CHECK(oom_loop_persistent(&create) == 0);
    oom_op begin = {"idempotency_begin", &o, idem_oom_setup, idem_oom_begin, idem_oom_begin_check, idem_oom_teardown};
    CHECK(oom_loop(&begin) == 0);
    CHECK(oom_loop_persistent(&begin) == 0);
}

int main(void)
{
    test_lifecycle();
    test_many();
    test_threads();
    test_out_of_memory();
    return test_exit_code();
}
