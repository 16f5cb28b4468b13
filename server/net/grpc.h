/* grpc: native gRPC (HTTP/2 with trailers) on its own listeners.
 *
 * h2o 2.2.5 cannot send HTTP trailers, so these connections bypass h2o's HTTP layer:
 * libnghttp2 does the HTTP/2 framing while h2o's sockets (TLS included) and event loop do
 * the I/O. Requests go through rpc_handle like every other protocol; a failure ends in a
 * trailers-only response with grpc-status, grpc-message and grpc-status-details-bin. A
 * call's grpc-timeout runs from the end of its headers: past it, the call is answered
 * DEADLINE_EXCEEDED whether its body has ended or the core still has it. */
#ifndef HOOKGATE_GRPC_H
#define HOOKGATE_GRPC_H

#include <h2o.h>
#include <openssl/ssl.h>

#include "core.h"
#include "deadlinetimer.h"

#define GRPC_MAX_CONCURRENT_STREAMS 100
#define GRPC_MAX_HEADER_BYTES 16384 /* bytes of one request's header fields we keep */

/* The gRPC connections of one event loop. */
typedef struct grpc_context {
    core *core;
    h2o_multithread_receiver_t receiver; /* answers that waited for the journal (completion.h) */
    h2o_timeout_t idle;                  /* server.grpc.idle_timeout_ms: a connection silent this long is closed */
    uint64_t idle_ms;                    /* idle's duration */
    int idle_ready;                      /* idle is set up on the loop (with the first connection) */
    h2o_timeout_t *handshake;            /* a TLS handshake longer than this is cut; NULL (grpc_context_init's
                                            default): no limit. The server points it at its loop's
                                            server.handshake_timeout_ms */
    deadlinetimer_wheel deadlines;       /* the calls' grpc-timeout */
    h2o_linklist_t connections;
    int stopping;
} grpc_context;

/* Sets up ctx for the loop that owns queue. */
void grpc_context_init(grpc_context *ctx, core *c, h2o_loop_t *loop, h2o_multithread_queue_t *queue);

/* Undoes grpc_context_init once every connection has closed (and no call can still post
 * an answer to the context's receiver). The server itself never does: it exits instead. */
void grpc_context_dispose(grpc_context *ctx, h2o_loop_t *loop, h2o_multithread_queue_t *queue);

/* Takes over an accepted socket (TLS first when ssl_ctx is set; ALPN must offer "h2"). */
void grpc_accept(grpc_context *ctx, h2o_socket_t *sock, SSL_CTX *ssl_ctx);

/* Sends GOAWAY on every connection; each closes once its streams are done. */
void grpc_context_request_shutdown(grpc_context *ctx);

/* The ALPN list gRPC listeners register: h2 only. */
extern const h2o_iovec_t *grpc_alpn_protocols;

#endif
