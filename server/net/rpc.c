/* rpc: see rpc.h. */
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_json.h"
#include "codec_proto.h"

#define SERVICE_DESCRIPTOR droplit__webhooks__v1__webhook_service__descriptor

const ProtobufCMethodDescriptor *rpc_method_from_path(const char *path, size_t len)
{
    const ProtobufCServiceDescriptor *s = &SERVICE_DESCRIPTOR;
    size_t n = strlen(s->name);
    if (len < n + 3 || path[0] != '/' || memcmp(path + 1, s->name, n) != 0 || path[n + 1] != '/')
        return NULL;
    const char *method = path + n + 2;
    size_t method_len = len - n - 2;
    for (unsigned i = 0; i < s->n_methods; i++)
        if (strlen(s->methods[i].name) == method_len && memcmp(s->methods[i].name, method, method_len) == 0)
            return &s->methods[i];
    return NULL;
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

static void on_create_done(core_create *op)
{
    rpc_result *r = op->data;
    r->msg = op->stored != NULL ? &r->create.result.msg.base : NULL;
    error_set_default_in(&op->err, ERROR_IN_BODY);
    r->done(r);
}

int rpc_handle(core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const rpc_headers *headers,
               const uint8_t *body, size_t len, ProtobufCAllocator *alloc, rpc_result *r)
{
    error *err = &r->create.err;
    auth_principal who;
    error_clear(err);
    r->msg = NULL;
    r->create.replayed = 0;
    if (auth_authenticate(c->cfg, headers->authorization, headers->authorization_len, &who, err) != 0)
        return -1;
    ProtobufCMessage *in = decode(codec, m->input, body, len, alloc, err);
    if (in == NULL)
        return -1;
    int rc;
    if (m->input == &schema_create_request_descriptor) {
        r->create.done = on_create_done;
        r->create.data = r;
        rc = core_create_webhook(c, &who, (schema_create_request *)in, headers->idempotency_key,
                                 headers->idempotency_key_len, &r->create);
        r->msg = &r->create.result.msg.base;
    } else if (m->input == &schema_get_request_descriptor) {
        rc = core_get_webhook(c, &who, (schema_get_request *)in, &r->webhook, err);
        r->msg = &r->webhook.msg.base;
    } else if (m->input == &schema_list_request_descriptor) {
        rc = core_list_webhooks(c, &who, (schema_list_request *)in, alloc, &r->list, err);
        r->msg = &r->list.base;
    } else {
        error_set(err, ERROR_INTERNAL, "Method %s has no implementation.", m->name);
        rc = -1;
    }
    if (rc != 0)
        r->msg = NULL;
    error_set_default_in(err, ERROR_IN_BODY);
    return rc;
}

uint8_t *rpc_encode(rpc_codec codec, const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len)
{
    if (codec == RPC_CODEC_PROTO)
        return codec_proto_encode(msg, alloc, len);
    return (uint8_t *)codec_json_encode_with(msg, alloc, len);
}
