/* rpc: see rpc.h. */
#include "rpc.h"

#include <time.h>

#include "codec_json.h"
#include "codec_proto.h"

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

int rpc_handle(core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const rpc_headers *headers,
               const uint8_t *body, size_t len, ProtobufCAllocator *alloc, core_call *call)
{
    call->method = core_method_of(m);
    call->authorization = headers->authorization;
    call->authorization_len = headers->authorization_len;
    call->idempotency_key = headers->idempotency_key;
    call->idempotency_key_len = headers->idempotency_key_len;
    call->alloc = alloc;
    call->default_in = ERROR_IN_BODY;
    if (core_method_reads_clock(call->method))
        rpc_clock(call);
    /* a method the core lacks is not decoded: the core answers "unimplemented" */
    if (call->method != CORE_METHODS)
        call->request = decode(codec, m->input, body, len, alloc, &call->err);
    return core_call_start(c, call);
}

uint8_t *rpc_encode(rpc_codec codec, const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len)
{
    if (codec == RPC_CODEC_PROTO)
        return codec_proto_encode(msg, alloc, len);
    return (uint8_t *)codec_json_encode_with(msg, alloc, len);
}
