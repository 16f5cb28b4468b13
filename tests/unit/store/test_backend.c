/* test_backend: the store interface itself (backend.c), over a recording backend: each
 * function reaches the backend's own through its table, with its self pointer; a call
 * the interface cannot accept (no done callback, a list without an allocator) stops the
 * process at the boundary instead of reaching a backend; destroying NULL is a no-op. */
#include "backend.h"
#include "test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct recorder {
    int submits, sync_asks, stats, destroys;
    backend_call *last;
    backend_verb last_verb;
} recorder;

static void rec_submit(void *self, backend_call *c)
{
    recorder *r = self;
    r->submits++;
    r->last = c;
    c->status = BACKEND_NOT_FOUND;
    c->done(c);
}

static int rec_is_synchronous(void *self, backend_verb verb)
{
    recorder *r = self;
    r->sync_asks++;
    r->last_verb = verb;
    return verb == BACKEND_GET;
}

static void rec_stats(void *self, backend_stats *out)
{
    recorder *r = self;
    r->stats++;
    *out = (backend_stats){.webhooks = 7, .queue_depth = 3, .writable = 1};
}

static void rec_destroy(void *self)
{
    ((recorder *)self)->destroys++;
}

static const backend_ops rec_ops = {
    .name = "recorder", .submit = rec_submit, .is_synchronous = rec_is_synchronous, .stats = rec_stats, .destroy = rec_destroy};

static int answered;
static void on_done(backend_call *c)
{
    (void)c;
    answered++;
}

static void *no_alloc(void *data, size_t size)
{
    (void)data, (void)size;
    return NULL;
}
static void no_free(void *data, void *p)
{
    (void)data, (void)p;
}

/* Submits c in a child process: 1 when the child aborted (the boundary refused it). */
static int refused(backend *b, backend_call *c)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* the assertion's message is expected */
        backend_submit(b, c);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int main(void)
{
    recorder r = {0};
    backend b = {&rec_ops, &r, NULL};

    backend_call get = {.verb = BACKEND_GET, .done = on_done};
    backend_submit(&b, &get);
    CHECK(r.submits == 1 && r.last == &get && answered == 1 && get.status == BACKEND_NOT_FOUND);

    CHECK(backend_is_synchronous(&b, BACKEND_GET) == 1);
    CHECK(r.last_verb == BACKEND_GET);
    CHECK(backend_is_synchronous(&b, BACKEND_CREATE) == 0 && r.sync_asks == 2);

    backend_stats st;
    backend_stats_get(&b, &st);
    CHECK(r.stats == 1 && st.webhooks == 7 && st.queue_depth == 3 && st.writable == 1);

    /* what the interface refuses never reaches the backend */
    ProtobufCAllocator alloc = {no_alloc, no_free, NULL};
    backend_call no_done = {.verb = BACKEND_GET};
    backend_call list_without_alloc = {.verb = BACKEND_LIST, .ecosystem_id = "C000000000000000000000a01", .done = on_done};
    backend_call create_without_webhook = {.verb = BACKEND_CREATE, .done = on_done};
    backend_call find_without_digest = {.verb = BACKEND_FIND_IDEMPOTENT, .done = on_done};
    backend_call unknown_verb = {.verb = BACKEND_VERBS, .done = on_done};
    CHECK(refused(&b, &no_done));
    CHECK(refused(&b, &list_without_alloc));
    CHECK(refused(&b, &create_without_webhook));
    CHECK(refused(&b, &find_without_digest));
    CHECK(refused(&b, &unknown_verb));
    backend_call list_without_limit = {
        .verb = BACKEND_LIST, .ecosystem_id = "C000000000000000000000a01", .alloc = &alloc, .done = on_done};
    backend_call list_over_max = list_without_limit;
    list_over_max.limit = BACKEND_LIST_MAX + 1;
    CHECK(refused(&b, &list_without_limit));
    CHECK(refused(&b, &list_over_max));
    backend_call list = list_without_limit;
    list.limit = BACKEND_LIST_MAX;
    CHECK(!refused(&b, &list)); /* the same list with its allocator and a limit in range is accepted */
    CHECK(r.submits == 1);      /* (the children's submits stayed in the children) */

    backend_destroy(&b);
    CHECK(r.destroys == 1);
    backend_destroy(NULL);
    return test_exit_code();
}
