/* Tests completion on an h2o event loop with its own queue, as http.c and grpc.c use it:
 * a completion posted from another thread is finished on the loop's thread, once, and
 * freed; one posted at once from the loop's own thread too; several posted together are
 * each finished; a cancelled one is never finished and stays the caller's; and one whose
 * owner vanished before the loop took it is not finished, and freed all the same. Frees
 * are counted with oom.h's live-block counter (and checked by valgrind and ASan). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "completion.h"
#include "oom.h"
#include "test.h"

#define LOOP_ROUNDS 500 /* evloop runs (of at most LOOP_MS each) a completion may take */
#define LOOP_MS 20
#define MANY 8 /* completions posted from one thread at once */

typedef struct loop {
    h2o_evloop_t *evloop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
} loop;

/* A caller's operation: the completion first, as completion.h requires. */
typedef struct job {
    completion c;
    int *finished;          /* counts finish calls */
    pthread_t *finished_on; /* the thread finish ran on */
} job;

static void on_finish(completion *c)
{
    job *j = (job *)c;
    ++*j->finished;
    *j->finished_on = pthread_self();
}

static void loop_init(loop *l)
{
    l->evloop = h2o_evloop_create();
    l->queue = h2o_multithread_create_queue(l->evloop);
    completion_receiver_register(&l->receiver, l->queue);
}

/* Runs the loop until the receiver has taken every posted completion (the posting
 * threads have been joined: nothing else touches the list meanwhile). */
static int loop_drain(loop *l)
{
    for (int round = 0; !h2o_linklist_is_empty(&l->receiver._messages) && round < LOOP_ROUNDS; round++)
        h2o_evloop_run(l->evloop, LOOP_MS);
    return h2o_linklist_is_empty(&l->receiver._messages) ? 0 : -1;
}

static void loop_dispose(loop *l)
{
    completion_receiver_unregister(&l->receiver, l->queue);
    h2o_multithread_destroy_queue(l->queue);
    free(l->queue); /* h2o 2.2.5's destroy closes the queue but does not free it */
    h2o_evloop_run(l->evloop, 0); /* frees the queue's socket */
    h2o_evloop_destroy(l->evloop);
}

static job *job_start(loop *l, int *finished, pthread_t *finished_on)
{
    job *j = calloc(1, sizeof(*j));
    CHECK(j != NULL);
    if (j == NULL)
        abort();
    j->finished = finished;
    j->finished_on = finished_on;
    completion_start(&j->c, &l->receiver, on_finish);
    CHECK(j->c.state == COMPLETION_STARTED);
    return j;
}

typedef struct posting {
    job **jobs;
    size_t n;
} posting;

static void *post_all(void *arg)
{
    posting *p = arg;
    for (size_t i = 0; i < p->n; i++)
        completion_post(&p->jobs[i]->c);
    return NULL;
}

/* Posts jobs from a thread of their own, and waits for that thread (not for the loop). */
static void post_from_thread(job **jobs, size_t n)
{
    posting p = {jobs, n};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, post_all, &p) == 0);
    pthread_join(t, NULL);
}

static void test_post_from_another_thread(loop *l)
{
    size_t live = oom_live();
    int finished = 0;
    pthread_t on = {0};
    job *j = job_start(l, &finished, &on);
    post_from_thread(&j, 1);
    CHECK(finished == 0); /* only the loop finishes it */
    CHECK(loop_drain(l) == 0);
    CHECK(finished == 1);
    CHECK(pthread_equal(on, pthread_self()));
    CHECK(oom_live() == live); /* the job is freed by the module */
    h2o_evloop_run(l->evloop, 0);
    CHECK(finished == 1); /* and never finished again */
}

/* "It may post at once, from its thread": the work answered on the loop's own thread. */
static void test_post_from_the_loop_thread(loop *l)
{
    size_t live = oom_live();
    int finished = 0;
    pthread_t on = {0};
    job *j = job_start(l, &finished, &on);
    completion_post(&j->c);
    CHECK(j->c.state == COMPLETION_POSTED);
    CHECK(finished == 0); /* not from inside post: from the loop */
    CHECK(loop_drain(l) == 0);
    CHECK(finished == 1);
    CHECK(oom_live() == live);
}

static void test_many(loop *l)
{
    size_t live = oom_live();
    int finished = 0;
    pthread_t on = {0};
    job *jobs[MANY];
    for (size_t i = 0; i < MANY; i++)
        jobs[i] = job_start(l, &finished, &on);
    post_from_thread(jobs, MANY);
    CHECK(loop_drain(l) == 0);
    CHECK(finished == MANY);
    CHECK(oom_live() == live);
}

/* The work did not have to wait: nothing comes back, the caller frees its struct. */
static void test_cancel(loop *l)
{
    size_t live = oom_live();
    int finished = 0;
    pthread_t on = {0};
    job *j = job_start(l, &finished, &on);
    completion_cancel(&j->c);
    CHECK(j->c.state == COMPLETION_CANCELLED);
    h2o_evloop_run(l->evloop, 0);
    CHECK(finished == 0);
    CHECK(oom_enabled() == 0 || oom_live() == live + 1); /* still the caller's */
    free(j);
    CHECK(oom_live() == live);
}

/* The owner went away before the loop took the answer: finish never runs (it would touch
 * a freed request), and the struct is freed anyway. Both orders of vanish and post. */
static void test_vanished(loop *l)
{
    for (int vanish_first = 0; vanish_first < 2; vanish_first++) {
        size_t live = oom_live();
        int finished = 0;
        pthread_t on = {0};
        job *j = job_start(l, &finished, &on);
        if (vanish_first)
            completion_vanish(&j->c);
        post_from_thread(&j, 1);
        if (!vanish_first)
            completion_vanish(&j->c); /* posted, not yet taken by the loop */
        CHECK(loop_drain(l) == 0);
        CHECK(finished == 0);
        CHECK(oom_live() == live);
    }

    /* one of several vanished: only the others are finished */
    size_t live = oom_live();
    int finished = 0;
    pthread_t on = {0};
    job *jobs[3];
    for (size_t i = 0; i < 3; i++)
        jobs[i] = job_start(l, &finished, &on);
    completion_vanish(&jobs[1]->c);
    post_from_thread(jobs, 3);
    CHECK(loop_drain(l) == 0);
    CHECK(finished == 2);
    CHECK(oom_live() == live);
}

int main(void)
{
    loop l;
    loop_init(&l);
    /* What a first thread (glibc) and a first wake-up of the queue (its socket's input
     * buffer, h2o) allocate stays until the end: not the module's to count. */
    int warm = 0;
    pthread_t on;
    job *j = job_start(&l, &warm, &on);
    post_from_thread(&j, 1);
    CHECK(loop_drain(&l) == 0 && warm == 1);
    test_post_from_another_thread(&l);
    test_post_from_the_loop_thread(&l);
    test_many(&l);
    test_cancel(&l);
    test_vanished(&l);
    loop_dispose(&l);
    return test_exit_code();
}
