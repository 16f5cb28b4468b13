/* ratelimit: a token bucket per key (per configured token, for creates).
 *
 * Each key may take `rate` units a second, in bursts of up to `rate`; a refused take says
 * how many seconds until the next unit. Safe to share between threads. Keys are pointers
 * that live as long as the limiter (the config's tokens). */
#ifndef HOOKGATE_RATELIMIT_H
#define HOOKGATE_RATELIMIT_H

#include <stdint.h>

typedef struct ratelimit ratelimit;

/* A limiter of `rate` units per second per key (rate >= 1), or NULL when out of memory. */
ratelimit *ratelimit_create(unsigned rate);

void ratelimit_destroy(ratelimit *rl);

/* Takes one unit for key at now_ms (a monotonic clock). Returns 0 when allowed, else the
 * whole seconds to wait before the next unit is there (>= 1). */
unsigned ratelimit_take(ratelimit *rl, const void *key, int64_t now_ms);

#endif
