/* Tests deadlinetimer: timers at moments already passed, near and far fire once each, never
 * before their moment as the loop's clock reads it; a stopped timer does not fire; a timer
 * may start itself again and stop another from its callback; a wheel puts no timeout on the
 * loop before a timer needs one; the wheel disposes clean. */
#include <h2o.h>
#include <string.h>

#include "deadlinetimer.h"
#include "test.h"

#define N_TIMERS 6
#define MAX_ROUNDS 2000 /* loop runs of at most 10 ms: a generous bound for the 300 ms timer */

typedef struct probe {
    deadlinetimer t;
    uint64_t at;
    int fired;
    uint64_t fired_at;
} probe;

static deadlinetimer_wheel wheel;
static probe probes[N_TIMERS];
static probe again, victim;
static int again_rounds;

static void on_fire(deadlinetimer *t)
{
    probe *p = (probe *)t;
    p->fired++;
    p->fired_at = deadlinetimer_now(&wheel);
    CHECK(!deadlinetimer_is_armed(t));
}

/* starts itself once more, and stops the victim */
static void on_again(deadlinetimer *t)
{
    probe *p = (probe *)t;
    p->fired++;
    p->fired_at = deadlinetimer_now(&wheel);
    deadlinetimer_stop(&victim.t);
    if (++again_rounds == 1) {
        p->at = deadlinetimer_now(&wheel) + 3;
        deadlinetimer_start(&wheel, t, p->at, on_again);
    }
}

static int all_done(void)
{
    for (int i = 0; i < N_TIMERS; i++)
        if (i != 4 && !probes[i].fired)
            return 0;
    return again_rounds == 2;
}

/* The h2o_timeout_t the loop looks at on every turn. */
static size_t loop_timeouts(h2o_loop_t *loop)
{
    size_t n = 0;
    for (h2o_linklist_t *node = loop->_timeouts.next; node != &loop->_timeouts; node = node->next)
        n++;
    return n;
}

int main(void)
{
    h2o_loop_t *loop = h2o_evloop_create();
    size_t bare = loop_timeouts(loop);
    deadlinetimer_wheel_init(&wheel, loop);
    CHECK(loop_timeouts(loop) == bare);
    uint64_t now = deadlinetimer_now(&wheel);
    probe first = {0};
    deadlinetimer_start(&wheel, &first.t, now + 300, on_fire); /* bucket 2 (256 ms) */
    CHECK(loop_timeouts(loop) == bare + 1);
    deadlinetimer_stop(&first.t);
    deadlinetimer_start(&wheel, &first.t, now + 260, on_fire);
    CHECK(loop_timeouts(loop) == bare + 1);
    deadlinetimer_stop(&first.t);
    const uint64_t offsets[N_TIMERS] = {0, 1, 7, 64, 65, 300};
    memset(probes, 0, sizeof(probes));
    for (int i = 0; i < N_TIMERS; i++) {
        probes[i].at = now + offsets[i];
        deadlinetimer_start(&wheel, &probes[i].t, probes[i].at, on_fire);
        CHECK(deadlinetimer_is_armed(&probes[i].t));
    }
    CHECK(probes[0].fired == 0); /* a moment already passed still waits for the loop */
    /* the past, as a clock running late might give it */
    probe past = {0};
    deadlinetimer_start(&wheel, &past.t, now > 10 ? now - 10 : 0, on_fire);
    deadlinetimer_stop(&probes[4].t);
    CHECK(!deadlinetimer_is_armed(&probes[4].t));
    deadlinetimer_stop(&probes[4].t); /* stopping twice is harmless */
    /* started twice: the second moment counts */
    deadlinetimer_start(&wheel, &probes[3].t, now + 5000, on_fire);
    deadlinetimer_start(&wheel, &probes[3].t, probes[3].at, on_fire);
    again.at = now + 20;
    deadlinetimer_start(&wheel, &again.t, again.at, on_again);
    victim.at = now + 200;
    deadlinetimer_start(&wheel, &victim.t, victim.at, on_fire);

    for (int round = 0; round < MAX_ROUNDS && !(all_done() && past.fired); round++)
        h2o_evloop_run(loop, 10);
    for (int i = 0; i < N_TIMERS; i++) {
        if (i == 4) {
            CHECK(probes[i].fired == 0);
            continue;
        }
        CHECK(probes[i].fired == 1);
        CHECK(probes[i].fired_at >= probes[i].at);
    }
    CHECK(past.fired == 1);
    CHECK(again.fired == 2 && again.fired_at >= again.at);
    CHECK(victim.fired == 0 && !deadlinetimer_is_armed(&victim.t));
    deadlinetimer_wheel_dispose(&wheel);
    CHECK(loop_timeouts(loop) == bare);
    h2o_evloop_destroy(loop);
    return test_exit_code();
}
