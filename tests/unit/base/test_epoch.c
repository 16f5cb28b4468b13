/* test_epoch: a retired node is freed by the next collection when no read section is open
 * (and never by its retirement alone), waits while a section begun before its retirement
 * is open (also a nested one), is freed by a collection or epoch_synchronize once it ends,
 * and is not held back by a section begun after it; threads give their records back, so more threads than EPOCH_MAX_THREADS can
 * come and go. */
#include "epoch.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct counted {
    epoch_node node; /* first: free_fn's node is the counted */
    int *freed;
} counted;

static void counted_free(epoch_node *node)
{
    counted *c = (counted *)node;
    (*c->freed)++;
    free(c);
}

static void retire_one(int *freed)
{
    counted *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    c->freed = freed;
    epoch_retire(&c->node, counted_free);
}

/* A thread that opens a section, says so, and closes it when told. */
typedef struct reader {
    pthread_t thread;
    atomic_int inside, leave;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    epoch_enter();
    epoch_enter(); /* nested: only the outer exit ends the section */
    atomic_store(&r->inside, 1);
    while (!atomic_load(&r->leave))
        ;
    epoch_exit();
    atomic_store(&r->inside, 2); /* still in the outer section */
    while (atomic_load(&r->leave) < 2)
        ;
    epoch_exit();
    return NULL;
}

static void test_no_reader(void)
{
    int freed = 0;
    retire_one(&freed);
    CHECK(freed == 0); /* a writer may retire under its lock: freeing waits for a collection */
    CHECK(epoch_pending() == 1);
    epoch_collect();
    CHECK(freed == 1);
    CHECK(epoch_pending() == 0);
    /* this thread's own closed sections hold nothing back */
    epoch_enter();
    epoch_exit();
    retire_one(&freed);
    epoch_collect();
    CHECK(freed == 2);
    epoch_collect(); /* nothing pending: nothing happens */
    CHECK(freed == 2);
}

static void test_reader_holds_back(void)
{
    int freed = 0;
    reader r = {0};
    CHECK(pthread_create(&r.thread, NULL, reader_main, &r) == 0);
    while (atomic_load(&r.inside) != 1)
        ;
    retire_one(&freed);
    epoch_collect();
    CHECK(freed == 0);
    CHECK(epoch_pending() == 1);
    atomic_store(&r.leave, 1); /* leaves the inner section only */
    while (atomic_load(&r.inside) != 2)
        ;
    retire_one(&freed);
    epoch_collect();
    CHECK(freed == 0);
    CHECK(epoch_pending() == 2);
    atomic_store(&r.leave, 2);
    epoch_synchronize(); /* returns once the reader's section has ended */
    CHECK(freed == 2);
    CHECK(epoch_pending() == 0);
    pthread_join(r.thread, NULL);
}

/* A section that began after a node's retirement does not hold it: the node is freed by
 * the next retirement even while that section is open. */
static void test_later_reader(void)
{
    int freed_early = 0, freed_late = 0;
    reader r = {0};
    CHECK(pthread_create(&r.thread, NULL, reader_main, &r) == 0);
    while (atomic_load(&r.inside) != 1)
        ;
    retire_one(&freed_late); /* retired during the section: held */
    epoch_collect();
    CHECK(freed_late == 0);
    atomic_store(&r.leave, 2);
    pthread_join(r.thread, NULL);

    reader r2 = {0};
    retire_one(&freed_early); /* no section open: the next collection frees it, and the one held before */
    epoch_collect();
    CHECK(freed_early == 1);
    CHECK(freed_late == 1);
    CHECK(pthread_create(&r2.thread, NULL, reader_main, &r2) == 0);
    while (atomic_load(&r2.inside) != 1)
        ;
    int freed_before = 0;
    counted *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    c->freed = &freed_before;
    epoch_retire(&c->node, counted_free); /* r2 entered before: held */
    epoch_collect();
    CHECK(freed_before == 0);
    atomic_store(&r2.leave, 2);
    pthread_join(r2.thread, NULL);
    epoch_synchronize();
    CHECK(freed_before == 1);
}

static void *enter_exit(void *arg)
{
    (void)arg;
    epoch_enter();
    epoch_exit();
    return NULL;
}

/* Records go back when their thread exits: twice EPOCH_MAX_THREADS threads, a few at a
 * time, each registering one (a leak of records would end in the pool's assertion). */
static void test_records_reused(void)
{
    for (int i = 0; i < 2 * EPOCH_MAX_THREADS; i += 4) {
        pthread_t t[4];
        for (int k = 0; k < 4; k++)
            CHECK(pthread_create(&t[k], NULL, enter_exit, NULL) == 0);
        for (int k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    int freed = 0;
    retire_one(&freed);
    epoch_collect();
    CHECK(freed == 1);
}

int main(void)
{
    test_no_reader();
    test_reader_holds_back();
    test_later_reader();
    test_records_reused();
    return test_exit_code();
}
