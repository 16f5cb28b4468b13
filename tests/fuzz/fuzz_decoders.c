/* fuzz_decoders: every decoder a client's bytes reach, behind one libFuzzer entry point.
 *
 * The first input byte picks the decoder, the rest is its input; whatever decodes is then
 * validated and re-encoded, as a request would be. Built with ASan + UBSan and run by
 * tests/fuzz/driver.c in CI; the same file links with clang's -fsanitize=fuzzer for long
 * coverage-guided runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_grpc.h"
#include "codec_json.h"
#include "codec_proto.h"
#include "codec_query.h"
#include "config.h"
#include "rpc.h"
#include "validate.h"

static const ProtobufCMessageDescriptor *const messages[] = {
    &schema_create_request_descriptor, &schema_get_request_descriptor,   &schema_list_request_descriptor,
    &schema_webhook_descriptor,        &schema_list_response_descriptor, &schema_error_response_descriptor,
    &schema_rpc_status_descriptor,
};
#define N_MESSAGES (sizeof(messages) / sizeof(messages[0]))

/* An arena like the server's request pools: nothing freed one by one, all at the end. */
typedef struct arena {
    void *blocks[4096];
    size_t n;
} arena;

static void *arena_alloc(void *data, size_t size)
{
    arena *a = data;
    if (a->n == sizeof(a->blocks) / sizeof(a->blocks[0]))
        return NULL;
    return a->blocks[a->n++] = malloc(size);
}

static void arena_free(void *data, void *ptr)
{
    (void)data, (void)ptr;
}

static void arena_clear(arena *a)
{
    while (a->n > 0)
        free(a->blocks[--a->n]);
}

/* Validates and re-encodes what decoded, then frees it. */
static void exercise(ProtobufCMessage *msg, error *err)
{
    static const config_limits limits = {65536, 2048, 1024, 256, 0};
    if (msg == NULL)
        return;
    if (msg->descriptor == &schema_create_request_descriptor)
        validate_create_request((schema_create_request *)msg, &limits, err);
    else if (msg->descriptor == &schema_get_request_descriptor)
        validate_get_request((schema_get_request *)msg, err);
    else if (msg->descriptor == &schema_list_request_descriptor)
        validate_list_request((schema_list_request *)msg, err);
    size_t len;
    free(codec_json_encode(msg, &len));
    free(codec_proto_encode(msg, NULL, &len));
    error_sort_params(err);
    error_response r;
    error_to_response(err, &r);
    free(codec_json_encode(&r.msg.base, &len));
    protobuf_c_message_free_unpacked(msg, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t which = data[0], kind = data[1] % N_MESSAGES;
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    const ProtobufCMessageDescriptor *desc = messages[kind];
    static arena pool;
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &pool};
    error err;
    error_clear(&err);
    switch (which % 6) {
    case 0:
        exercise(codec_json_decode(desc, (const char *)in, len, NULL, &err), &err);
        break;
    case 1:
        exercise(codec_proto_decode(desc, in, len, NULL, &err), &err);
        break;
    case 2:
        exercise(codec_query_decode(desc, (const char *)in, len, NULL, &err), &err);
        codec_query_reject((const char *)in, len, &err);
        break;
    case 3: {
        const uint8_t *msg;
        size_t msg_len;
        if (codec_grpc_unframe(in, len, 65536, &msg, &msg_len, &err) == 0)
            exercise(codec_proto_decode(desc, msg, msg_len, NULL, &err), &err);
        codec_grpc_status st;
        codec_grpc_status_make(&err, &alloc, &st);
        break;
    }
    case 4: {
        uint8_t *out;
        size_t out_len;
        if (codec_grpc_base64_decode(&alloc, (const char *)in, len, &out, &out_len) == 0)
            LLVMFuzzerTestOneInput(out, out_len); /* what a grpc-web-text body decodes to */
        break;
    }
    case 5: {
        char errbuf[CONFIG_ERROR_MAX];
        config_destroy(config_parse("fuzz.yaml", (const char *)in, len, errbuf));
        break;
    }
    }
    arena_clear(&pool);
    return 0;
}
