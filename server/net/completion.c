/* completion: see completion.h. */
#include "completion.h"

#include <stdlib.h>
#include <string.h>

#include "hg_assert.h"

static int on_loop_thread(const completion *c)
{
    return pthread_equal(pthread_self(), c->loop_thread);
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        completion *c = H2O_STRUCT_FROM_MEMBER(completion, msg.link, messages->next);
        h2o_linklist_unlink(&c->msg.link);
        HG_ASSERT(c->receiver == receiver);
        HG_ASSERT(on_loop_thread(c));
        HG_ASSERT(c->state == COMPLETION_POSTED);
        if (!c->vanished)
            c->finish(c);
        if (c->release != NULL)
            c->release(c);
        free(c);
    }
}

void completion_receiver_register(h2o_multithread_receiver_t *receiver, h2o_multithread_queue_t *queue)
{
    h2o_multithread_register_receiver(queue, receiver, on_messages);
}

void completion_receiver_unregister(h2o_multithread_receiver_t *receiver, h2o_multithread_queue_t *queue)
{
    h2o_multithread_unregister_receiver(queue, receiver);
}

void completion_start(completion *c, h2o_multithread_receiver_t *receiver, void (*finish)(completion *c))
{
    HG_ASSERT(receiver != NULL && finish != NULL);
    memset(&c->msg, 0, sizeof(c->msg));
    c->receiver = receiver;
    c->loop_thread = pthread_self();
    c->state = COMPLETION_STARTED;
    c->vanished = 0;
    c->finish = finish;
    c->release = NULL;
}

void completion_cancel(completion *c)
{
    HG_ASSERT(on_loop_thread(c));
    HG_ASSERT(c->state == COMPLETION_STARTED);
    c->state = COMPLETION_CANCELLED;
}

void completion_post(completion *c)
{
    HG_ASSERT(c->state == COMPLETION_STARTED); /* posted once, never after a cancel */
    c->state = COMPLETION_POSTED;
    h2o_multithread_send_message(c->receiver, &c->msg);
}

void completion_vanish(completion *c)
{
    HG_ASSERT(on_loop_thread(c));
    HG_ASSERT(!c->vanished);
    c->vanished = 1;
}
