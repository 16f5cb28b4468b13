/* rpc: WebhookService's methods bound to the core, for the protocols that carry whole
 * request messages (Connect, gRPC-Web, gRPC).
 *
 * Methods are found through the service descriptor protoc-c generates, so the RPC surface
 * is exactly the schema's. rpc_handle does the work every such protocol shares: token,
 * decode, core call; a transport only frames bytes and renders the error. */
#ifndef HOOKGATE_RPC_H
#define HOOKGATE_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef enum rpc_codec { RPC_CODEC_PROTO, RPC_CODEC_JSON } rpc_codec;

/* A call's outcome, built in place (see core_webhook): keep it where it is until done. */
typedef struct rpc_result {
    core_create create;                 /* CreateWebhook; create.err is every method's error */
    core_webhook webhook;               /* GetWebhook */
    schema_list_response list;          /* ListWebhooks */
    const ProtobufCMessage *msg;        /* the answer; NULL when the call failed */
    void (*done)(struct rpc_result *r); /* after CORE_PENDING: called once, from the journal's thread */
    void *data;                         /* the caller's */
} rpc_result;

/* The method for a request path "/droplit.webhooks.v1.WebhookService/<Method>", or NULL
 * (wrong service or unknown method). */
const ProtobufCMethodDescriptor *rpc_method_from_path(const char *path, size_t len);

/* What a call's headers (gRPC: metadata) carry besides the message. */
typedef struct rpc_headers {
    const char *authorization; /* NULL = absent */
    size_t authorization_len;
    const char *idempotency_key; /* Idempotency-Key, for CreateWebhook; NULL = absent */
    size_t idempotency_key_len;
} rpc_headers;

/* Authenticates headers->authorization, decodes body with codec into the method's input
 * message (memory from alloc) and calls the core. Returns 0 with r->msg, -1 with the error
 * in r->create.err (parameter problems located in the body, or the header), or
 * CORE_PENDING: a create waits for the journal and r->done reports the outcome. A create
 * answered from its Idempotency-Key has r->create.replayed set. */
int rpc_handle(core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const rpc_headers *headers,
               const uint8_t *body, size_t len, ProtobufCAllocator *alloc, rpc_result *r);

/* Encodes msg with codec into memory from alloc; NULL when out of memory. */
uint8_t *rpc_encode(rpc_codec codec, const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len);


#endif
