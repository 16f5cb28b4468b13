/* deadlinetimer: timers that fire at an arbitrary moment on an h2o event loop, for the
 * RPC deadlines a client sets per call (grpc-timeout, connect-timeout-ms).
 *
 * h2o 2.2.5's timeouts have one fixed duration per h2o_timeout_t, and an h2o_timeout_t may
 * not be disposed while the loop runs its entries (the loop walks them from inside the
 * callbacks), so a timeout per call is no option. A wheel holds DEADLINETIMER_BUCKETS
 * timeouts of 1, 16, 256, ... ms that live as long as the loop: a timer waits in the longest
 * bucket that does not pass its moment, again and again, then in shorter ones, so it fires
 * at its millisecond (as the loop's clock, h2o_now, reads it), never before, after at most
 * 15 waits per bucket. Few buckets, because the loop looks at every h2o_timeout_t on every
 * turn (h2o_timeout_get_wake_at, h2o_timeout_run): with 28 buckets of powers of two those
 * two took 1,582 instructions of a GET, with these 7 616 (tests/bench/instructions
 * --breakdown get). For the same reason a bucket is set up on the loop only once a timer
 * first waits in it: a server whose clients set no deadlines has none.
 *
 * Loop thread only. A timer may be stopped or started again from any callback, its own
 * included. */
#ifndef HOOKGATE_DEADLINETIMER_H
#define HOOKGATE_DEADLINETIMER_H

#include <h2o.h>
#include <stdint.h>

#define DEADLINETIMER_BUCKETS 7  /* 16^0 ms .. 16^6 ms (4.7 h): a day waits at most 15 times in the longest */
#define DEADLINETIMER_SHIFT 4    /* bucket i waits 1 << (DEADLINETIMER_SHIFT * i) ms */

typedef struct deadlinetimer_wheel {
    h2o_loop_t *loop;
    unsigned in_use;                              /* bit i: bucket i is set up on the loop */
    h2o_timeout_t buckets[DEADLINETIMER_BUCKETS]; /* bucket i waits 16^i ms */
} deadlinetimer_wheel;

typedef struct deadlinetimer deadlinetimer;
struct deadlinetimer {
    h2o_timeout_entry_t entry;      /* private: in one bucket while armed */
    deadlinetimer_wheel *wheel;     /* private */
    uint64_t at;                    /* private: the loop time (h2o_now) it fires at */
    void (*cb)(deadlinetimer *t);   /* private: called once, at or after `at`, unless stopped */
};

/* Sets up the wheel on loop (its buckets as timers first need them). */
void deadlinetimer_wheel_init(deadlinetimer_wheel *w, h2o_loop_t *loop);

/* Undoes deadlinetimer_wheel_init; no timer may be armed on it. */
void deadlinetimer_wheel_dispose(deadlinetimer_wheel *w);

/* The loop's time now, in the clock `at` is read on. */
uint64_t deadlinetimer_now(deadlinetimer_wheel *w);

/* Arms t (zeroed, or stopped, or fired) to call cb at loop time `at`; an `at` already
 * passed fires on the loop's next turn, never from inside this call. */
void deadlinetimer_start(deadlinetimer_wheel *w, deadlinetimer *t, uint64_t at, void (*cb)(deadlinetimer *t));

/* Disarms t; a no-op when it is not armed. */
void deadlinetimer_stop(deadlinetimer *t);

/* 1 while t is armed. */
int deadlinetimer_is_armed(deadlinetimer *t);

/* 1 when t is armed and its moment has come by the loop's clock, though the loop has not
 * called it yet (an event handled on the same turn of the loop may see this first). */
int deadlinetimer_is_due(deadlinetimer *t);

#endif
