/* outflow: see outflow.h.
 *
 * One timer entry per connection, linked while it has answers under way into its loop's
 * list of write_timeout_ms (h2o_timeout_t keeps entries in link order, so relinking on
 * progress is O(1)). */
#include "outflow.h"

#include <stdatomic.h>

#include "hg_assert.h"
#include "metrics.h"

static uint64_t connection_cap = UINT64_MAX, process_budget = UINT64_MAX;
static atomic_size_t held_total;
static __thread h2o_timeout_t write_timeout;
static __thread h2o_loop_t *write_timeout_loop; /* NULL: this thread has no timer list */

void outflow_configure(uint64_t cap, uint64_t budget)
{
    HG_ASSERT(cap > 0 && budget > 0);
    connection_cap = cap;
    process_budget = budget;
}

void outflow_loop_init(h2o_loop_t *loop, uint64_t write_timeout_ms)
{
    HG_ASSERT(write_timeout_loop == NULL && write_timeout_ms > 0);
    h2o_timeout_init(loop, &write_timeout, write_timeout_ms);
    write_timeout_loop = loop;
}

void outflow_loop_dispose(h2o_loop_t *loop)
{
    HG_ASSERT(write_timeout_loop == loop);
    h2o_timeout_dispose(loop, &write_timeout);
    write_timeout_loop = NULL;
}

static void on_timer(h2o_timeout_entry_t *entry)
{
    outflow *o = H2O_STRUCT_FROM_MEMBER(outflow, timer, entry);
    HG_ASSERT(o->answers > 0 && !o->stalled);
    o->stalled = 1; /* no timer from now on: the owner is closing the connection */
    metrics_write_timeout();
    o->on_stall(o);
}

void outflow_init(outflow *o, void (*on_stall)(outflow *o))
{
    HG_ASSERT(on_stall != NULL);
    *o = (outflow){.on_stall = on_stall};
    o->timer.cb = on_timer;
}

void outflow_dispose(outflow *o)
{
    HG_ASSERT(o->held == 0 && o->answers == 0);
    if (h2o_timeout_is_linked(&o->timer))
        h2o_timeout_unlink(&o->timer);
}

outflow_admission outflow_admit(const outflow *o, error *err)
{
    if (atomic_load_explicit(&held_total, memory_order_relaxed) >= process_budget) {
        metrics_output_refused(1);
        error_set(err, ERROR_OVERLOADED,
                  "The server holds too many answers its clients have not read yet; retry later.");
        return OUTFLOW_PROCESS_FULL;
    }
    if (o != NULL && o->held >= connection_cap) {
        metrics_output_refused(0);
        error_set(err, ERROR_OVERLOADED,
                  "This connection holds too many answers it has not read yet; read them, then retry.");
        return OUTFLOW_CONNECTION_FULL;
    }
    return OUTFLOW_ADMITTED;
}

void outflow_charge(outflow *o, size_t n)
{
    atomic_fetch_add_explicit(&held_total, n, memory_order_relaxed);
    if (o != NULL)
        o->held += n;
}

void outflow_release(outflow *o, size_t n)
{
    size_t before = atomic_fetch_sub_explicit(&held_total, n, memory_order_relaxed);
    HG_ASSERT(before >= n);
    if (o != NULL) {
        HG_ASSERT(o->held >= n);
        o->held -= n;
    }
}

/* (Re)starts the write timer: write_timeout_ms from now. */
static void restart(outflow *o)
{
    if (h2o_timeout_is_linked(&o->timer))
        h2o_timeout_unlink(&o->timer);
    if (write_timeout_loop != NULL && !o->stalled)
        h2o_timeout_link(write_timeout_loop, &write_timeout, &o->timer);
}

void outflow_begin(outflow *o)
{
    if (o == NULL)
        return;
    if (o->answers++ == 0)
        restart(o);
}

void outflow_progress(outflow *o)
{
    if (o != NULL && o->answers > 0)
        restart(o);
}

void outflow_end(outflow *o)
{
    if (o == NULL)
        return;
    HG_ASSERT(o->answers > 0);
    if (--o->answers > 0)
        restart(o);
    else if (h2o_timeout_is_linked(&o->timer))
        h2o_timeout_unlink(&o->timer);
}

size_t outflow_held_total(void)
{
    return atomic_load_explicit(&held_total, memory_order_relaxed);
}
