/* completion: the one way an answer computed on another thread (the journal's writer) gets
 * back to the event loop that owns its request — an h2o request or a native gRPC stream —
 * which may have vanished meanwhile.
 *
 * Lifecycle, all but post on the loop's own thread:
 *   completion_start (before the work may finish) -> completion_post (any thread, once)
 *   -> the loop calls finish, unless completion_vanish came first -> the struct is freed.
 * or completion_start -> completion_cancel, when the work did not have to wait after all.
 * Embed the completion first in a malloc'd struct: once posted, this module frees that
 * struct (free), whether finish ran or the owner had vanished. Assertions hold the
 * contract: posted once, finished and vanished on the loop's thread, never both. */
#ifndef HOOKGATE_COMPLETION_H
#define HOOKGATE_COMPLETION_H

#include <h2o.h>
#include <pthread.h>

typedef enum completion_state {
    COMPLETION_IDLE,
    COMPLETION_STARTED,
    COMPLETION_POSTED,
    COMPLETION_CANCELLED,
} completion_state;

typedef struct completion completion;
struct completion {
    h2o_multithread_message_t msg;        /* private; first: how the other thread hands it back */
    h2o_multithread_receiver_t *receiver; /* private: the loop's (completion_receiver_register) */
    pthread_t loop_thread;                /* private: the thread that started it */
    completion_state state;               /* private: written by whoever moves it on */
    int vanished;                         /* private, loop thread only: the owner is gone */
    void (*finish)(completion *c);        /* in: on the loop's thread, the owner still there */
    void (*release)(completion *c);       /* in, optional: on the loop's thread just before the struct is
                                             freed, whether finish ran or not */
};

/* Makes receiver (owned by the caller, on the loop that owns queue) the one completions
 * of that loop come back through. */
void completion_receiver_register(h2o_multithread_receiver_t *receiver, h2o_multithread_queue_t *queue);

/* Undoes completion_receiver_register; no completion may still be on its way to it. */
void completion_receiver_unregister(h2o_multithread_receiver_t *receiver, h2o_multithread_queue_t *queue);

/* On the loop's thread, before the work starts (it may post at once, from its thread). */
void completion_start(completion *c, h2o_multithread_receiver_t *receiver, void (*finish)(completion *c));

/* On the loop's thread: the work answered without waiting; c was never posted, the
 * caller keeps (and frees) it. */
void completion_cancel(completion *c);

/* From any thread, exactly once: hands c back to its loop. */
void completion_post(completion *c);

/* On the loop's thread: the request or stream c answers is gone, or was answered without
 * it (its deadline passed); finish will not run. */
void completion_vanish(completion *c);

#endif
