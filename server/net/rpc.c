/* rpc: see rpc.h. */
#include "rpc.h"

#include <string.h>
#include <time.h>

#include "codec_grpc.h"
#include "codec_json.h"
#include "codec_proto.h"
#include "hg_assert.h"
#include "poolalloc.h"
#include "reflection.h"
#include "route.h"
#include "schema.h"

void rpc_clock(core_call *call)
{
    struct timespec real, mono;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    call->now_ms = (int64_t)real.tv_sec * 1000 + real.tv_nsec / 1000000;
    call->monotonic_ms = (int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
}

static ProtobufCMessage *decode(rpc_codec codec, const ProtobufCMessageDescriptor *desc, const uint8_t *body,
                                size_t len, ProtobufCAllocator *alloc, error *err)
{
    if (codec == RPC_CODEC_PROTO)
        return codec_proto_decode(desc, body, len, alloc, err);
    /* an empty Connect JSON body is the empty message, as an empty protobuf body is */
    if (len == 0)
        return codec_json_decode(desc, "{}", 2, alloc, err);
    return codec_json_decode(desc, (const char *)body, len, alloc, err);
}

/* ---- grpc.health.v1.Health ---------------------------------------------------------- */

#define HEALTH_CHECK "Check"

static int is_health_method(const ProtobufCMethodDescriptor *m)
{
    const ProtobufCServiceDescriptor *s = &schema_health_service_descriptor;
    for (unsigned i = 0; i < s->n_methods; i++)
        if (m == &s->methods[i])
            return 1;
    return 0;
}

/* Check answers for the server as a whole ("") and for WebhookService, the one service
 * behind it: SERVING while the core can take writes, NOT_SERVING while it cannot (the
 * store's journal or database), exactly when GET /readyz answers 503. Another name is
 * NOT_FOUND, as the protocol asks. No token: a probe carries none, and the answer tells a
 * stranger no more than /readyz does. Watch would hold a stream open per watcher and push
 * changes, which no transport here does: "unimplemented" (clients poll Check). */
static int health_handle(core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const uint8_t *body, size_t len,
                         ProtobufCAllocator *alloc, core_call *call)
{
    HG_ASSERT(m->input == &schema_health_request_descriptor);
    call->response = NULL;
    if (strcmp(m->name, HEALTH_CHECK) != 0) {
        error_set(&call->err, ERROR_UNIMPLEMENTED, "%s/%s is not implemented: poll %s/" HEALTH_CHECK ".",
                  schema_health_service_descriptor.name, m->name, schema_health_service_descriptor.name);
        return -1;
    }
    const schema_health_request *req =
        (const schema_health_request *)decode(codec, m->input, body, len, alloc, &call->err);
    if (req == NULL || call->err.kind != ERROR_NONE) { /* JSON: a wrong type is a problem, with a message */
        HG_ASSERT(call->err.kind != ERROR_NONE);       /* a codec that read nothing says why */
        error_set_default_in(&call->err, call->default_in);
        return -1;
    }
    if (req->service[0] != '\0' && strcmp(req->service, schema_webhook_service_descriptor.name) != 0) {
        error_set(&call->err, ERROR_NOT_FOUND, "Unknown service %s.", req->service);
        return -1;
    }
    schema_health_response *res = alloc->alloc(alloc->allocator_data, sizeof(*res));
    if (res == NULL) {
        error_set(&call->err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    }
    *res = (schema_health_response)SCHEMA_HEALTH_RESPONSE_INIT;
    const char *reason;
    res->status = core_is_ready(c, &reason) ? SCHEMA_HEALTH_SERVING : SCHEMA_HEALTH_NOT_SERVING;
    call->response = &res->base;
    return 0;
}

/* ---- grpc.reflection.v1(alpha).ServerReflection ------------------------------------- */

int rpc_handle_message(const ProtobufCMethodDescriptor *m, rpc_codec codec, const uint8_t *body, size_t len,
                       ProtobufCAllocator *alloc, const ProtobufCMessage **response, error *err)
{
    HG_ASSERT(route_rpc_client_streaming(m));
    /* the one such method; both versions' requests read as v1's (schema.h) */
    HG_ASSERT(m->input == &schema_reflection_request_descriptor ||
              m->input == &schema_reflection_v1alpha_request_descriptor);
    error_clear(err);
    const schema_reflection_request *req =
        (const schema_reflection_request *)decode(codec, &schema_reflection_request_descriptor, body, len, alloc, err);
    if (req == NULL || err->kind != ERROR_NONE) {
        HG_ASSERT(err->kind != ERROR_NONE);
        error_set_default_in(err, ERROR_IN_BODY);
        return -1;
    }
    const schema_reflection_response *res = reflection_answer(req, alloc);
    if (res == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    }
    *response = &res->base;
    return 0;
}

size_t rpc_stream_answer(const ProtobufCMethodDescriptor *m, rpc_codec codec, const uint8_t *msg, size_t len,
                         h2o_buffer_t **answers, error *err)
{
    h2o_mem_pool_t pool; /* the message's memory, gone once its answer is framed */
    h2o_mem_init_pool(&pool);
    ProtobufCAllocator alloc = poolalloc_make(&pool);
    const ProtobufCMessage *res;
    size_t framed = 0, out_len;
    if (rpc_handle_message(m, codec, msg, len, &alloc, &res, err) == 0) {
        uint8_t *out = rpc_encode(codec, res, NULL, &alloc, &out_len);
        h2o_iovec_t room =
            out != NULL ? h2o_buffer_reserve(answers, CODEC_GRPC_FRAME_HEADER + out_len) : h2o_iovec_init(NULL, 0);
        if (room.base == NULL) {
            error_set(err, ERROR_INTERNAL, "Out of memory.");
        } else {
            codec_grpc_frame_header((uint8_t *)room.base, 0, out_len);
            memcpy(room.base + CODEC_GRPC_FRAME_HEADER, out, out_len);
            framed = CODEC_GRPC_FRAME_HEADER + out_len;
            (*answers)->size += framed;
        }
    }
    h2o_mem_clear_pool(&pool);
    return framed;
}

/* ---- every method ------------------------------------------------------------------- */

int rpc_handle(core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const rpc_headers *headers,
               const uint8_t *body, size_t len, ProtobufCAllocator *alloc, core_call *call)
{
    HG_ASSERT(m != NULL);
    call->alloc = alloc;
    call->default_in = ERROR_IN_BODY;
    if (is_health_method(m))
        return health_handle(c, m, codec, body, len, alloc, call);
    if (route_rpc_client_streaming(m)) {
        call->response = NULL;
        error_set(&call->err, ERROR_UNIMPLEMENTED, "%s is a bidirectional stream: call it over gRPC or gRPC-Web.",
                  m->name);
        return -1;
    }
    call->method = core_method_of(m);
    call->authorization = headers->authorization;
    call->authorization_len = headers->authorization_len;
    call->idempotency_key = headers->idempotency_key;
    call->idempotency_key_len = headers->idempotency_key_len;
    if (core_method_reads_clock(call->method))
        rpc_clock(call);
    /* a method the core lacks is not decoded: the core answers "unimplemented" */
    if (call->method != CORE_METHODS)
        call->request = decode(codec, m->input, body, len, alloc, &call->err);
    return core_call_start(c, call);
}

uint8_t *rpc_encode(rpc_codec codec, const ProtobufCMessage *msg, const codec_json_memo *memo,
                    ProtobufCAllocator *alloc, size_t *len)
{
    if (codec == RPC_CODEC_PROTO)
        return codec_proto_encode(msg, alloc, len);
    return (uint8_t *)codec_json_encode_memo(msg, alloc, len, memo);
}
