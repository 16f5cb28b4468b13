/* rpc: the services served over the protocols that carry whole request messages
 * (Connect, gRPC-Web, gRPC): the body decoded into the method's input message and handed
 * to the core, the core's answer encoded.
 *
 * Methods are found through the service descriptors protoc-c generates (route_rpc_method),
 * so the RPC surface is exactly the schema's. WebhookService's go to the core, which
 * dispatches them (core_method_of) and answers "unimplemented" for a method it does not
 * have. The standard health service (grpc.health.v1.Health) is answered here from
 * core_is_ready, as GET /readyz is: Check without a token, Watch "unimplemented". gRPC
 * server reflection (wire/reflection.h), a stream of requests each answered at once, is
 * served without a token too: it tells what the schema in the repository tells, and grpc
 * servers serve it so. A transport only frames bytes and renders the error. */
#ifndef HOOKGATE_RPC_H
#define HOOKGATE_RPC_H

#include <h2o.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef enum rpc_codec { RPC_CODEC_PROTO, RPC_CODEC_JSON } rpc_codec;

/* What a call's headers (gRPC: metadata) carry besides the message. */
typedef struct rpc_headers {
    const char *authorization; /* NULL = absent */
    size_t authorization_len;
    const char *idempotency_key; /* Idempotency-Key, for CreateWebhook; NULL = absent */
    size_t idempotency_key_len;
} rpc_headers;

/* Sets call's clocks (Unix time and a monotonic clock, in milliseconds) to now. */
void rpc_clock(core_call *call);

/* Runs method m (from route_rpc_method): decodes body with codec into its input message
 * (memory from alloc; problems located in the body), fills call from headers and the
 * clock, and starts it (core_call_start: the token is checked first). call must have been
 * set up with core_call_init and its done/data set. Returns as core_call_start does: 0
 * with call->response, -1 with call->err, or CORE_PENDING. A health method answers at
 * once (0 or -1; core_call_may_wait is 0 for it, as for every method the core lacks). */
int rpc_handle(core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const rpc_headers *headers,
               const uint8_t *body, size_t len, ProtobufCAllocator *alloc, core_call *call);

/* The most request messages one call of a streaming method may carry (each answered:
 * a client that keeps a stream open cannot make the server work for ever on it). */
#define RPC_MAX_STREAM_MESSAGES 1000
/* The most bytes of answers one such call holds that its client has not taken (gRPC-Web
 * holds them all until the body's end): past it, the call ends RESOURCE_EXHAUSTED. */
#define RPC_MAX_STREAM_BUFFERED_BYTES (4u << 20)

/* Answers one request message of a method whose requests are a stream
 * (route_rpc_client_streaming: server reflection's): decodes body with codec and returns
 * 0 with *response, memory from alloc; -1 with err when body is no such message (the call
 * ends there) or out of memory. Synchronous, and needs no token. rpc_handle answers such a
 * method UNIMPLEMENTED (Connect's unary protocol cannot carry it). */
int rpc_handle_message(const ProtobufCMethodDescriptor *m, rpc_codec codec, const uint8_t *body, size_t len,
                       ProtobufCAllocator *alloc, const ProtobufCMessage **response, error *err);

/* rpc_handle_message, then its answer encoded with codec and appended to *answers as one
 * gRPC frame (uncompressed), as both transports of a stream send it. The message's own
 * memory is freed before it returns. The frame's bytes; 0 with err set when the message
 * was no such request or memory ran out (the call ends there). */
size_t rpc_stream_answer(const ProtobufCMethodDescriptor *m, rpc_codec codec, const uint8_t *msg, size_t len,
                         h2o_buffer_t **answers, error *err);

/* Encodes msg with codec into memory from alloc; NULL when out of memory. memo: the JSON
 * texts already known (core_call_memo), or NULL. */
uint8_t *rpc_encode(rpc_codec codec, const ProtobufCMessage *msg, const codec_json_memo *memo,
                    ProtobufCAllocator *alloc, size_t *len);

#endif
