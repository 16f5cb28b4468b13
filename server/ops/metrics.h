/* metrics: counters and histograms of what the server does, in Prometheus' text format.
 *
 * Recording is a few relaxed atomic additions to the calling thread's own counters (safe
 * from any thread, no lock, no cache line shared between event loops); rendering adds
 * every thread's up as they are. Requests are counted by route id (route.h), whose names are
 * fixed, so no label is ever a value a client chose. */
#ifndef HOOKGATE_METRICS_H
#define HOOKGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "events.h"
#include "route.h"

typedef enum metrics_protocol { METRICS_HTTP1, METRICS_HTTP2, METRICS_GRPC, METRICS_PROTOCOLS } metrics_protocol;

#define METRICS_GRPC_CODES 17 /* grpc-status 0 (OK) to 16 (UNAUTHENTICATED) */

/* One answered request: status is its HTTP status, grpc_status the grpc-status it carries
 * (0 .. METRICS_GRPC_CODES - 1, its HTTP status then 200 as gRPC requires), or -1 when it
 * carries none: every request on the HTTP listeners, and a native gRPC request answered
 * before gRPC, such as the 415 to a request that is no gRPC call. */
void metrics_request(route_id route, metrics_protocol protocol, int status, int grpc_status, int64_t duration_us);

/* A connection opened or closed, on any listener. */
void metrics_connection(int delta);

/* A connection refused at once: over server.max_connections_per_address (per_address = 1)
 * or over the cap with no connection to evict (0). */
void metrics_connection_refused(int per_address);

/* A connection closed to make room at the cap: it had brought no whole request within
 * server.idle_eviction_ms. */
void metrics_connection_evicted(void);

/* An event loop stopped accepting for a while: no descriptor was left to accept with. */
void metrics_accept_paused(void);

/* An HTTP/2 connection closed for sending more stream resets than its budget. */
void metrics_reset_flood(void);

/* An HTTP/2 connection closed for a header block of too many CONTINUATION frames. */
void metrics_continuation_flood(void);

/* n HTTP/2 frames of a type HTTP/2 does not define were discarded unread (framebudget.h). */
void metrics_unknown_frames(uint64_t n);

/* An HTTP/1.x request answered 400 and its connection closed for framing that another hop
 * could read differently (two Content-Lengths, Content-Length with Transfer-Encoding, ...). */
void metrics_http1_framing_refused(void);

/* A native gRPC connection ended with GOAWAY PROTOCOL_ERROR for a HEADERS frame on a stream id
 * below one the client had already used. */
void metrics_stream_id_backwards(void);

/* An HTTP/2 request answered 400 for two different content-length values. */
void metrics_http2_content_length_refused(void);

/* An HTTP/2 connection closed for a header block HPACK cannot decode, or too many malformed
 * requests waiting. */
void metrics_header_block_closed(void);

/* A connection closed because its pending output did not move for server.write_timeout_ms. */
void metrics_write_timeout(void);

/* A request refused (503 / RESOURCE_EXHAUSTED) because its connection held
 * server.max_connection_output_bytes (server_wide 0) or all connections held
 * server.max_buffered_bytes (server_wide 1). */
void metrics_output_refused(int server_wide);

/* One fdatasync of the journal. */
void metrics_fsync(int64_t duration_us);

/* A database statement's round trip, from its sending to its answer. */
void metrics_database_round_trip(int64_t duration_us);

/* A database statement failed with sqlstate (5 characters; "" unknown): counted by its class. */
void metrics_database_error(const char *sqlstate);

/* One call of a webhook's url by an invoke: its outcome and how long it took. */
void metrics_invoke(delivery_outcome outcome, int64_t duration_us);

/* An attempt of an event delivery ended with this error class (EVENTS_ERROR_NONE: a 2xx). */
void metrics_delivery_attempt(events_error error, uint32_t duration_ms);

/* A delivery ended: delivered, failed or cancelled. */
void metrics_delivery_finished(events_state state);

/* hookgate disabled a webhook. */
void metrics_webhook_disabled(const char *why);

/* Values read when rendering. */
typedef struct metrics_gauges {
    size_t webhooks_stored;
    size_t json_cache_bytes; /* webhooks' JSON kept with them (store.json_cache_bytes) */
    size_t journal_queue_depth;
    int journal_writable; /* -1: no journal */
    size_t buffered_bytes; /* request and response bytes connections hold (server.max_buffered_bytes) */
    int database;                 /* 1: the store is PostgreSQL; the next three are its pool */
    size_t database_connections;  /* configured */
    size_t database_connections_up;
    size_t database_in_flight;    /* statements sent, not yet answered */
    size_t database_loops;        /* event loops, each with its connections up below */
    const unsigned *database_loop_up;
    int events;                   /* 1: the store keeps an event log; the next four are its gauges */
    size_t events_stored;
    size_t deliveries_pending;
    size_t deliveries_in_flight;
    double delivery_lag_seconds;
    uint64_t deliveries_cancelled_by_store; /* cancelled by a webhook's disable or delete (the store counts them) */
} metrics_gauges;

/* The exposition text; malloc'd (free with free), its length in *len; NULL when out of memory. */
char *metrics_render(const metrics_gauges *g, size_t *len);

#endif
