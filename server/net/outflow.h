/* outflow: how much a connection's requests and answers may hold in memory, and for how
 * long an answer may wait for a client that does not read it.
 *
 * Every connection (h2o's HTTP/1.1 and HTTP/2 through h2guard, native gRPC) has an outflow:
 * the bytes of request bodies and answers it holds, and the answers it has begun and not
 * yet handed whole to the kernel. Three bounds, all counted here:
 * - no progress: while a connection has an answer under way, its output must move — a
 *   chunk of at most OUTFLOW_CHUNK_BYTES taken by the socket, or an answer's end — at least
 *   every server.write_timeout_ms, or the owner's on_stall closes the connection. What a
 *   client sends (PING, WINDOW_UPDATE of a byte) is no progress;
 * - per connection: new work on a connection holding server.max_connection_output_bytes or
 *   more is refused;
 * - per process: new work is refused while all connections together hold
 *   server.max_buffered_bytes or more.
 * Work is admitted before its answer is built and charged as it is built, so a connection
 * holds at most its cap plus one answer, and the process its budget plus one answer per
 * event loop (a loop builds one answer at a time). A refusal is ERROR_OVERLOADED (503,
 * RESOURCE_EXHAUSTED) in each protocol's form.
 *
 * Threads: an outflow belongs to its connection's loop thread; the process budget is atomic. */
#ifndef HOOKGATE_OUTFLOW_H
#define HOOKGATE_OUTFLOW_H

#include <h2o.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The most of an answer handed to a transport at once (one HTTP/2 DATA frame, one TLS
 * record): also the granularity of progress, so a client must take at least this much, or
 * an answer's rest, every write_timeout_ms. */
#define OUTFLOW_CHUNK_BYTES 16384

typedef struct outflow outflow;

struct outflow {
    size_t held;      /* bytes charged to this connection now */
    unsigned answers; /* answers begun and not ended */
    int stalled;      /* on_stall has been called: the connection is going */
    h2o_timeout_entry_t timer;
    void (*on_stall)(outflow *o); /* closes the connection (the owner's way); runs on the loop */
};

/* Sets the process-wide caps (server.max_connection_output_bytes, server.max_buffered_bytes)
 * before any loop starts. Until called, nothing is refused. */
void outflow_configure(uint64_t connection_cap, uint64_t process_budget);

/* Makes the calling thread's list of write timers (server.write_timeout_ms) on loop; once
 * per event loop thread, before its connections. A thread without one arms no timer. */
void outflow_loop_init(h2o_loop_t *loop, uint64_t write_timeout_ms);

/* Undoes outflow_loop_init once no outflow of this thread has an answer under way. */
void outflow_loop_dispose(h2o_loop_t *loop);

/* A new connection's outflow; on_stall is called (once) when its output stops moving. */
void outflow_init(outflow *o, void (*on_stall)(outflow *o));

/* The connection is gone: everything charged to it must have been released and every answer
 * ended (asserted: a request that outlived its connection would be a bug of the owner). */
void outflow_dispose(outflow *o);

typedef enum outflow_admission {
    OUTFLOW_ADMITTED,
    OUTFLOW_CONNECTION_FULL, /* o holds server.max_connection_output_bytes or more */
    OUTFLOW_PROCESS_FULL,    /* all connections hold server.max_buffered_bytes or more */
} outflow_admission;

/* May o take new work? o may be NULL (a connection without one: only the process budget).
 * When not, err is set to ERROR_OVERLOADED with a reason and the refusal is counted. */
outflow_admission outflow_admit(const outflow *o, error *err);

/* n more (or fewer) bytes held by o's connection and by the process; o may be NULL. */
void outflow_charge(outflow *o, size_t n);
void outflow_release(outflow *o, size_t n);

/* An answer of o begins: from now on its output must move (o may be NULL: no-op). */
void outflow_begin(outflow *o);

/* A chunk of an answer of o moved: the write timer starts again. */
void outflow_progress(outflow *o);

/* An answer of o ended (sent whole, or dropped with its stream); counts as progress. */
void outflow_end(outflow *o);

/* Bytes all connections hold now (the hookgate_buffered_bytes gauge). */
size_t outflow_held_total(void);

#endif
