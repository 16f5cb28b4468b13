/* fuzz: see fuzz.h. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_grpc.h"
#include "codec_json.h"
#include "codec_proto.h"
#include "status.h"
#include "validate.h"

_Noreturn void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz: property broken at %s:%d: %s\n", file, line, what);
    abort();
}

const config_limits fuzz_limits = {65536, 2048, 1024, 256, 0, 100, 100, 1000};

const ProtobufCMessageDescriptor *const fuzz_messages[] = {
    &schema_create_request_descriptor, &schema_get_request_descriptor,   &schema_list_request_descriptor,
    &schema_webhook_descriptor,        &schema_list_response_descriptor, &schema_error_response_descriptor,
    &schema_rpc_status_descriptor,     &schema_update_request_descriptor, &schema_webhook_changes_descriptor,
    &schema_delete_request_descriptor, &schema_update_response_descriptor, &schema_delete_response_descriptor,
};
const size_t fuzz_n_messages = sizeof(fuzz_messages) / sizeof(fuzz_messages[0]);

int fuzz_is_request(const ProtobufCMessageDescriptor *desc)
{
    return desc == &schema_create_request_descriptor || desc == &schema_get_request_descriptor ||
           desc == &schema_list_request_descriptor || desc == &schema_update_request_descriptor ||
           desc == &schema_delete_request_descriptor;
}

/* ---- arenas -------------------------------------------------------------------------- */

typedef struct arena {
    void *blocks[FUZZ_ARENA_BLOCKS];
    size_t n;
    ProtobufCAllocator allocator;
} arena;

static void *arena_alloc(void *data, size_t size)
{
    arena *a = data;
    if (a->n == FUZZ_ARENA_BLOCKS)
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p != NULL)
        a->blocks[a->n++] = p;
    return p;
}

static void arena_free(void *data, void *ptr)
{
    (void)data, (void)ptr; /* a pool frees everything at once */
}

static arena decode_arena = {.allocator = {arena_alloc, arena_free, &decode_arena}};
/* the error checks' own, so they never find the decoders' arena used up */
static arena error_arena = {.allocator = {arena_alloc, arena_free, &error_arena}};

static void arena_clear(arena *a)
{
    while (a->n > 0)
        free(a->blocks[--a->n]);
}

ProtobufCAllocator *fuzz_arena(void)
{
    return &decode_arena.allocator;
}

void fuzz_arena_clear(void)
{
    arena_clear(&decode_arena);
    arena_clear(&error_arena);
}

/* ---- messages ------------------------------------------------------------------------ */

void fuzz_validate(const ProtobufCMessage *msg, error *err)
{
    if (msg->descriptor == &schema_create_request_descriptor)
        validate_create_request((const schema_create_request *)msg, &fuzz_limits, err);
    else if (msg->descriptor == &schema_get_request_descriptor)
        validate_get_request((const schema_get_request *)msg, err);
    else if (msg->descriptor == &schema_list_request_descriptor)
        validate_list_request((const schema_list_request *)msg, &fuzz_limits, &(store_cursor){0}, err);
    else if (msg->descriptor == &schema_update_request_descriptor)
        validate_update_request((const schema_update_request *)msg, &fuzz_limits, ERROR_IN_PATH, err);
    else if (msg->descriptor == &schema_delete_request_descriptor)
        validate_delete_request((const schema_delete_request *)msg, err);
}

static void print_pair(const char *what, const char *a, size_t a_len, const char *b, size_t b_len)
{
    fprintf(stderr, "fuzz: %s\n  first:  %.*s\n  second: %.*s\n", what, (int)a_len, a, (int)b_len, b);
}

static void check_json_round_trip(const ProtobufCMessage *msg)
{
    size_t len, again_len;
    char *json = codec_json_encode(msg, &len);
    FUZZ_CHECK(json != NULL, "codec_json_encode failed on a decoded message");
    FUZZ_CHECK(codec_proto_is_text((const uint8_t *)json, len), "codec_json_encode wrote bytes that are not UTF-8");
    error err;
    error_clear(&err);
    ProtobufCMessage *back = codec_json_decode(msg->descriptor, json, len, NULL, &err);
    if (back == NULL || err.kind != ERROR_NONE) {
        fprintf(stderr, "fuzz: %s %s\n", json, err.n_params ? error_param_message(&err, 0) : err.reason);
        FUZZ_CHECK(0, "the JSON codec cannot read what it wrote");
    }
    char *again = codec_json_encode(back, &again_len);
    FUZZ_CHECK(again != NULL, "codec_json_encode failed on a message it had written");
    if (again_len != len || memcmp(json, again, len) != 0) {
        print_pair("JSON: encode, decode, encode", json, len, again, again_len);
        FUZZ_CHECK(0, "a message changed on its way through JSON");
    }
    free(again);
    protobuf_c_message_free_unpacked(back, NULL);
    free(json);
}

static void check_proto_round_trip(const ProtobufCMessage *msg)
{
    size_t len, again_len;
    uint8_t *bin = codec_proto_encode(msg, NULL, &len);
    FUZZ_CHECK(bin != NULL, "codec_proto_encode failed on a decoded message");
    error err;
    error_clear(&err);
    ProtobufCMessage *back = codec_proto_decode(msg->descriptor, bin, len, NULL, &err);
    FUZZ_CHECK(back != NULL && err.kind == ERROR_NONE, "the protobuf codec cannot read what it wrote");
    uint8_t *again = codec_proto_encode(back, NULL, &again_len);
    FUZZ_CHECK(again != NULL, "codec_proto_encode failed on a message it had written");
    FUZZ_CHECK(again_len == len && memcmp(bin, again, len) == 0, "a message changed on its way through protobuf");
    free(again);
    protobuf_c_message_free_unpacked(back, NULL);
    free(bin);
}

void fuzz_check_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *what)
{
    size_t a_len, b_len;
    uint8_t *a_bin = codec_proto_encode(a, NULL, &a_len), *b_bin = codec_proto_encode(b, NULL, &b_len);
    FUZZ_CHECK(a_bin != NULL && b_bin != NULL && a_len == b_len && memcmp(a_bin, b_bin, a_len) == 0, what);
    free(a_bin);
    free(b_bin);
}

void fuzz_check_round_trips(const ProtobufCMessage *msg)
{
    check_json_round_trip(msg);
    check_proto_round_trip(msg);
}

/* ---- errors -------------------------------------------------------------------------- */

static int is_text(const char *s)
{
    return codec_proto_is_text((const uint8_t *)s, strlen(s));
}

int fuzz_error_is_text(const error *err)
{
    if (!is_text(err->reason))
        return 0;
    for (size_t i = 0; i < err->n_params; i++)
        if (!is_text(error_param_path(err, i)) || !is_text(error_param_message(err, i)))
            return 0;
    return 1;
}

/* grpc-status-details-bin is unpadded base64 of an RpcStatus whose one detail is the
 * binary ErrorResponse: a client must be able to read both. */
static void check_status_details(const codec_grpc_status *st)
{
    ProtobufCAllocator *alloc = &error_arena.allocator;
    FUZZ_CHECK(st->details_len > 0, "an error has no grpc-status-details-bin");
    char *padded = alloc->alloc(alloc->allocator_data, st->details_len + 3);
    FUZZ_CHECK(padded != NULL, "out of memory");
    size_t len = st->details_len;
    memcpy(padded, st->details, len);
    while (len % 4 != 0)
        padded[len++] = '=';
    uint8_t *bin;
    size_t bin_len;
    FUZZ_CHECK(codec_grpc_base64_decode(alloc, padded, len, &bin, &bin_len) == 0,
               "grpc-status-details-bin is not base64");
    error err;
    error_clear(&err);
    schema_rpc_status *status =
        (schema_rpc_status *)codec_proto_decode(&schema_rpc_status_descriptor, bin, bin_len, NULL, &err);
    if (status == NULL)
        fprintf(stderr, "fuzz: %s\n", err.n_params ? error_param_message(&err, 0) : err.reason);
    FUZZ_CHECK(status != NULL, "grpc-status-details-bin is not a well-formed RpcStatus");
    FUZZ_CHECK(status->code == st->code, "grpc-status-details-bin disagrees with grpc-status");
    FUZZ_CHECK(status->n_details == 1, "grpc-status-details-bin has no ErrorResponse detail");
    ProtobufCMessage *detail = codec_proto_decode(&schema_error_response_descriptor, status->details[0]->value.data,
                                                  status->details[0]->value.len, NULL, &err);
    FUZZ_CHECK(detail != NULL, "the RpcStatus detail is not a well-formed ErrorResponse");
    protobuf_c_message_free_unpacked(detail, NULL);
    protobuf_c_message_free_unpacked(&status->base, NULL);
}

void fuzz_check_error(error *err)
{
    if (err->kind == ERROR_NONE)
        return;
    int text = fuzz_error_is_text(err);
    error_sort_params(err);

    /* REST: the JSON ErrorResponse; binary REST and Connect's detail: the protobuf one */
    status_response r;
    status_response_fill(err, &r);
    size_t len;
    char *json = codec_json_encode(&r.msg.base, &len);
    if (text) {
        FUZZ_CHECK(json != NULL, "an error does not render as JSON");
        error back_err;
        error_clear(&back_err);
        ProtobufCMessage *back = codec_json_decode(&schema_error_response_descriptor, json, len, NULL, &back_err);
        FUZZ_CHECK(back != NULL && back_err.kind == ERROR_NONE, "an error's JSON does not read back");
        protobuf_c_message_free_unpacked(back, NULL);
    }
    free(json);
    uint8_t *bin = codec_proto_encode(&r.msg.base, NULL, &len);
    FUZZ_CHECK(bin != NULL, "an error does not render as protobuf");
    free(bin);

    /* Connect's message and gRPC's grpc-message */
    char summary[ERROR_MESSAGE_MAX * 2];
    status_summary(err, summary, sizeof(summary));
    if (text && !is_text(summary)) {
        fprintf(stderr, "fuzz: summary of %zu bytes ends in:", strlen(summary));
        for (size_t i = strlen(summary) > 8 ? strlen(summary) - 8 : 0; summary[i] != '\0'; i++)
            fprintf(stderr, " %02x", (unsigned char)summary[i]);
        fprintf(stderr, "\n");
        FUZZ_CHECK(0, "the one-line summary (Connect message, grpc-message) of a UTF-8 error is not UTF-8");
    }
    codec_grpc_status st;
    codec_grpc_status_make(err, &error_arena.allocator, &st);
    FUZZ_CHECK(st.code == status_of(err->kind)->grpc_status, "grpc-status is not the mapping table's");
    for (const char *p = st.message; *p != '\0'; p++)
        FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e, "grpc-message is not printable ASCII");
    if (text)
        check_status_details(&st);
}
