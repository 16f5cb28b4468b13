/* storepoll: an h2o event loop as the store sees it (backend.h's store_poller), so a
 * database backend keeps its connections in the loops that use them.
 *
 * A watch wraps a duplicate of the store's descriptor in an h2o socket that h2o never
 * reads (H2O_SOCKET_FLAG_DONT_READ): readiness is reported, the bytes are libpq's. Closing
 * the duplicate on unwatch leaves libpq's own descriptor alone, and libpq closing its own
 * first (a dropped connection) leaves the watch valid until it is unwatched. */
#ifndef HOOKGATE_STOREPOLL_H
#define HOOKGATE_STOREPOLL_H

#include <h2o.h>

#include "backend.h"

#define STOREPOLL_TICK_MS 100 /* how soon a tick comes after tick_soon */

typedef struct storepoll {
    store_poller poller; /* ctx is the storepoll itself */
    h2o_evloop_t *loop;
    h2o_timeout_t tick_timeout;
    int tick_ready; /* tick_timeout is set up on the loop (when first needed) */
    h2o_timeout_entry_t tick;
    void (*on_tick)(void *arg);
    void *tick_arg;
} storepoll;

/* Sets up p for loop; on_tick(arg) runs when the store asked for a tick. On the loop's thread. */
void storepoll_init(storepoll *p, h2o_evloop_t *loop, void (*on_tick)(void *arg), void *arg);

/* Stops the tick timer (after the store has let go of every watch). */
void storepoll_dispose(storepoll *p);

#endif
