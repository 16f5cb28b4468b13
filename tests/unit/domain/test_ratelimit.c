/* Tests ratelimit: bursts, refill, separate keys, the wait it announces; threads taking from
 * buckets nobody has made yet, at one instant, get exactly the burst between them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ratelimit.h"
#include "test.h"

#define TAKERS 4
#define BURST 20000
#define SHARED_KEYS 64

typedef struct takers {
    ratelimit *rl;
    pthread_barrier_t start;
    char keys[SHARED_KEYS];
    atomic_uint allowed[SHARED_KEYS];
} takers;

static void *taker(void *arg)
{
    takers *t = arg;
    pthread_barrier_wait(&t->start);
    for (int i = 0; i < BURST / 2; i++)
        for (int k = 0; k < SHARED_KEYS; k++)
            if (ratelimit_take(t->rl, &t->keys[k], 5000) == 0)
                atomic_fetch_add(&t->allowed[k], 1);
    return NULL;
}

/* TAKERS threads take BURST/2 units each from the same SHARED_KEYS keys at one instant:
 * every key's bucket is made once (the threads race to add it) and gives exactly BURST. */
static void test_threads(void)
{
    static takers t;
    t.rl = ratelimit_create(BURST);
    CHECK(t.rl != NULL);
    if (t.rl == NULL)
        return;
    pthread_barrier_init(&t.start, NULL, TAKERS);
    pthread_t th[TAKERS];
    for (int k = 0; k < TAKERS; k++)
        CHECK(pthread_create(&th[k], NULL, taker, &t) == 0);
    for (int k = 0; k < TAKERS; k++)
        pthread_join(th[k], NULL);
    int wrong = 0;
    for (int k = 0; k < SHARED_KEYS; k++)
        wrong += atomic_load(&t.allowed[k]) != BURST;
    CHECK(wrong == 0);
    pthread_barrier_destroy(&t.start);
    ratelimit_destroy(t.rl);
}

int main(void)
{
    test_threads();
    ratelimit *rl = ratelimit_create(5);
    int a, b;
    CHECK(rl != NULL);
    if (rl == NULL)
        return test_exit_code();
    /* a full bucket: 5 at once, then refused with a wait of a second */
    for (int i = 0; i < 5; i++)
        CHECK(ratelimit_take(rl, &a, 1000) == 0);
    CHECK(ratelimit_take(rl, &a, 1000) == 1);
    /* another key has its own bucket */
    CHECK(ratelimit_take(rl, &b, 1000) == 0);
    /* 200 ms later one unit (5/s) has come back, and only one */
    CHECK(ratelimit_take(rl, &a, 1200) == 0);
    CHECK(ratelimit_take(rl, &a, 1200) == 1);
    /* 199 ms is not enough for a unit */
    CHECK(ratelimit_take(rl, &a, 1399) == 1);
    CHECK(ratelimit_take(rl, &a, 1400) == 0);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 5; i++)
        CHECK(ratelimit_take(rl, &a, 100000) == 0);
    CHECK(ratelimit_take(rl, &a, 100000) == 1);
    /* a clock that goes backwards gives nothing back */
    CHECK(ratelimit_take(rl, &a, 50000) == 1);
    /* many keys: the table grows and keeps every bucket */
    static char keys[1000];
    for (int i = 0; i < 1000; i++)
        CHECK(ratelimit_take(rl, &keys[i], 200000) == 0);
    for (int i = 0; i < 1000; i++)
        for (int k = 0; k < 4; k++)
            CHECK(ratelimit_take(rl, &keys[i], 200000) == 0);
    for (int i = 0; i < 1000; i++)
        CHECK(ratelimit_take(rl, &keys[i], 200000) == 1);
    ratelimit_destroy(rl);

    /* a slow rate announces a long wait */
    rl = ratelimit_create(1);
    CHECK(ratelimit_take(rl, &a, 0) == 0);
    CHECK(ratelimit_take(rl, &a, 0) == 1);
    CHECK(ratelimit_take(rl, &a, 999) == 1);
    CHECK(ratelimit_take(rl, &a, 1000) == 0);
    ratelimit_destroy(rl);
    return test_exit_code();
}
