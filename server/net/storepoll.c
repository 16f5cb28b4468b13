/* storepoll: see storepoll.h. */
#include "storepoll.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "hg_assert.h"

typedef struct watch {
    h2o_socket_t *sock;
    void (*on_ready)(void *arg);
    void *arg;
} watch;

static void on_event(h2o_socket_t *sock, const char *err)
{
    (void)err; /* a descriptor h2o never reads or writes has no error of h2o's to report */
    watch *w = sock->data;
    if (w != NULL) /* NULL: unwatched during this iteration (h2o may still report it once) */
        w->on_ready(w->arg);
}

static void *poll_watch(void *ctx, int fd, void (*on_ready)(void *arg), void *arg)
{
    storepoll *p = ctx;
    watch *w = malloc(sizeof(*w));
    int dup = w != NULL ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (dup < 0) {
        free(w);
        return NULL;
    }
    w->sock = h2o_evloop_socket_create(p->loop, dup, H2O_SOCKET_FLAG_DONT_READ);
    w->sock->data = w;
    w->on_ready = on_ready;
    w->arg = arg;
    h2o_socket_read_start(w->sock, on_event);
    return w;
}

static void poll_want_write(void *handle)
{
    watch *w = handle;
    if (!h2o_socket_is_writing(w->sock))
        h2o_socket_notify_write(w->sock, on_event);
}

static void poll_unwatch(void *handle)
{
    watch *w = handle;
    if (w == NULL)
        return;
    h2o_socket_read_stop(w->sock);
    w->sock->data = NULL; /* a readiness h2o reports after this (read and write in one go) finds no watch */
    h2o_socket_close(w->sock); /* closes the duplicate only */
    free(w);
}

static void poll_tick_soon(void *ctx)
{
    storepoll *p = ctx;
    if (!p->tick_ready) { /* set up on the loop when first needed: the memory store never ticks */
        h2o_timeout_init(p->loop, &p->tick_timeout, STOREPOLL_TICK_MS);
        p->tick_ready = 1;
    }
    if (!h2o_timeout_is_linked(&p->tick))
        h2o_timeout_link(p->loop, &p->tick_timeout, &p->tick);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    storepoll *p = H2O_STRUCT_FROM_MEMBER(storepoll, tick, entry);
    p->on_tick(p->tick_arg);
}

void storepoll_init(storepoll *p, h2o_evloop_t *loop, void (*tick)(void *arg), void *arg)
{
    p->poller = (store_poller){p, poll_watch, poll_want_write, poll_unwatch, poll_tick_soon};
    p->loop = loop;
    p->on_tick = tick;
    p->tick_arg = arg;
    p->tick = (h2o_timeout_entry_t){0};
    p->tick.cb = on_tick;
    p->tick_ready = 0;
}

void storepoll_dispose(storepoll *p)
{
    if (h2o_timeout_is_linked(&p->tick))
        h2o_timeout_unlink(&p->tick);
    if (p->tick_ready)
        h2o_timeout_dispose(p->loop, &p->tick_timeout);
}
