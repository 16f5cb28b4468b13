/* Tests outflow: admission against a connection's cap and the process budget (ERROR_OVERLOADED,
 * which renders as 503 / RESOURCE_EXHAUSTED), charges given back whole; the write timer armed
 * by an answer, restarted by progress and by another answer's end, disarmed with the last
 * answer, and on_stall called once when nothing moves, never again after. */
#include <h2o.h>
#include <string.h>

#include "outflow.h"
#include "status.h"
#include "test.h"

#define WRITE_TIMEOUT_MS 50
#define STALL_WAIT_ROUNDS 200 /* loop runs of at most 25 ms: a generous bound for a 50 ms timer */

static int stalls;

static void on_stall(outflow *o)
{
    (void)o;
    stalls++;
}

static void test_admission(void)
{
    outflow a, b;
    error err;
    error_clear(&err);
    outflow_init(&a, on_stall);
    outflow_init(&b, on_stall);
    /* not configured yet: nothing is refused */
    outflow_charge(&a, 1u << 30);
    CHECK(outflow_admit(&a, &err) == OUTFLOW_ADMITTED && err.kind == ERROR_NONE);
    outflow_release(&a, 1u << 30);

    outflow_configure(100, 250);
    CHECK(outflow_admit(&a, &err) == OUTFLOW_ADMITTED);
    outflow_charge(&a, 99);
    CHECK(outflow_admit(&a, &err) == OUTFLOW_ADMITTED); /* under the cap: one more answer may come */
    outflow_charge(&a, 1);
    CHECK(outflow_admit(&a, &err) == OUTFLOW_CONNECTION_FULL);
    CHECK(err.kind == ERROR_OVERLOADED);
    const status_mapping *m = status_of(err.kind);
    CHECK(m->http_status == 503 && m->grpc_status == 8 && strcmp(m->connect_code, "resource_exhausted") == 0);
    error_clear(&err);
    CHECK(outflow_admit(&b, &err) == OUTFLOW_ADMITTED); /* another connection is not held back */
    outflow_charge(&b, 150);
    CHECK(outflow_held_total() == 250);
    CHECK(outflow_admit(&b, &err) == OUTFLOW_PROCESS_FULL && err.kind == ERROR_OVERLOADED);
    CHECK(outflow_admit(NULL, &err) == OUTFLOW_PROCESS_FULL); /* a connection without an outflow too */
    outflow_charge(NULL, 10);
    CHECK(outflow_held_total() == 260 && a.held == 100 && b.held == 150);
    outflow_release(NULL, 10);
    outflow_release(&b, 150);
    error_clear(&err);
    CHECK(outflow_admit(&b, &err) == OUTFLOW_ADMITTED && err.kind == ERROR_NONE);
    outflow_release(&a, 100);
    CHECK(outflow_admit(&a, &err) == OUTFLOW_ADMITTED);
    CHECK(outflow_held_total() == 0);
    outflow_dispose(&a);
    outflow_dispose(&b);
    outflow_configure(UINT64_MAX, UINT64_MAX);
}

static void test_write_timer(void)
{
    h2o_loop_t *loop = h2o_evloop_create();
    outflow o;
    outflow_init(&o, on_stall);
    /* a thread without a timer list arms nothing */
    outflow_begin(&o);
    CHECK(!h2o_timeout_is_linked(&o.timer));
    outflow_end(&o);

    outflow_loop_init(loop, WRITE_TIMEOUT_MS);
    outflow_begin(&o);
    CHECK(h2o_timeout_is_linked(&o.timer));
    outflow_begin(&o); /* a second answer does not restart the first one's wait */
    outflow_progress(&o);
    CHECK(h2o_timeout_is_linked(&o.timer) && o.answers == 2);
    outflow_end(&o); /* one ended: the other still waits */
    CHECK(h2o_timeout_is_linked(&o.timer) && o.answers == 1);
    outflow_end(&o); /* the last one ended: nothing to wait for */
    CHECK(!h2o_timeout_is_linked(&o.timer) && o.answers == 0);
    outflow_progress(&o); /* progress without an answer arms nothing */
    CHECK(!h2o_timeout_is_linked(&o.timer));

    /* nothing moves: on_stall, once */
    stalls = 0;
    outflow_begin(&o);
    for (int i = 0; i < STALL_WAIT_ROUNDS && stalls == 0; i++)
        h2o_evloop_run(loop, 25);
    CHECK(stalls == 1 && o.stalled);
    outflow_progress(&o); /* the connection is going: no second timer */
    CHECK(!h2o_timeout_is_linked(&o.timer));
    outflow_end(&o);
    outflow_dispose(&o);
    CHECK(stalls == 1);

    outflow_loop_dispose(loop);
    h2o_evloop_destroy(loop);
}

int main(void)
{
    test_admission();
    test_write_timer();
    return test_exit_code();
}
