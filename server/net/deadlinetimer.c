/* deadlinetimer: see deadlinetimer.h. */
#include "deadlinetimer.h"

#include "deadline.h"
#include "hg_assert.h"

/* a deadline waits at most 15 times in the longest bucket, then at most 15 in each other */
HG_STATIC_ASSERT((16ull << (DEADLINETIMER_SHIFT * (DEADLINETIMER_BUCKETS - 1))) > DEADLINE_MAX_MS,
                 "a deadline takes at most 15 waits of the longest bucket");

void deadlinetimer_wheel_init(deadlinetimer_wheel *w, h2o_loop_t *loop)
{
    w->loop = loop;
    w->in_use = 0;
}

void deadlinetimer_wheel_dispose(deadlinetimer_wheel *w)
{
    for (unsigned i = 0; i < DEADLINETIMER_BUCKETS; i++)
        if (w->in_use & (1u << i))
            h2o_timeout_dispose(w->loop, &w->buckets[i]);
    w->in_use = 0;
}

uint64_t deadlinetimer_now(deadlinetimer_wheel *w)
{
    return h2o_now(w->loop);
}

/* Links t into the longest bucket that does not carry it past t->at (bucket 0 when the
 * moment has come: h2o runs it on a later turn of the loop). */
static void wait_more(deadlinetimer *t)
{
    uint64_t now = h2o_now(t->wheel->loop), left = t->at > now ? t->at - now : 1;
    unsigned i = 0;
    while (i + 1 < DEADLINETIMER_BUCKETS && (1ull << (DEADLINETIMER_SHIFT * (i + 1))) <= left)
        i++;
    deadlinetimer_wheel *w = t->wheel;
    if (!(w->in_use & (1u << i))) { /* (h2o adds it at the end of the loop's list: safe while the loop walks it) */
        h2o_timeout_init(w->loop, &w->buckets[i], 1ull << (DEADLINETIMER_SHIFT * i));
        w->in_use |= 1u << i;
    }
    h2o_timeout_link(w->loop, &w->buckets[i], &t->entry);
}

static void on_bucket(h2o_timeout_entry_t *entry)
{
    deadlinetimer *t = H2O_STRUCT_FROM_MEMBER(deadlinetimer, entry, entry);
    if (h2o_now(t->wheel->loop) < t->at) {
        wait_more(t);
        return;
    }
    t->cb(t); /* last: it may free t */
}

void deadlinetimer_start(deadlinetimer_wheel *w, deadlinetimer *t, uint64_t at, void (*cb)(deadlinetimer *t))
{
    HG_ASSERT(cb != NULL);
    if (h2o_timeout_is_linked(&t->entry))
        h2o_timeout_unlink(&t->entry);
    t->entry = (h2o_timeout_entry_t){0};
    t->entry.cb = on_bucket;
    t->wheel = w;
    t->at = at;
    t->cb = cb;
    wait_more(t);
}

void deadlinetimer_stop(deadlinetimer *t)
{
    if (h2o_timeout_is_linked(&t->entry))
        h2o_timeout_unlink(&t->entry);
}

int deadlinetimer_is_armed(deadlinetimer *t)
{
    return h2o_timeout_is_linked(&t->entry);
}

int deadlinetimer_is_due(deadlinetimer *t)
{
    return deadlinetimer_is_armed(t) && h2o_now(t->wheel->loop) >= t->at;
}
