/* fuzz_proto: binary protobuf through codec_proto, as binary REST, Connect, gRPC-Web and
 * gRPC decode a request, as the SDK reads an answer and as start-up reads a journal record.
 *
 * The input is one message's bytes, decoded as every schema message in turn: requests
 * from a request pool and validated, as the server does; the others with malloc. What
 * decodes must hold only UTF-8 strings without NUL (codec_proto's promise) and survive
 * protobuf and JSON round trips; every error must render in each protocol's form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_proto.h"
#include "fuzz.h"
#include "record.h"

/* Every string field of msg, nested messages included, is text. */
static int strings_are_text(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue; /* only pointers are read below (a bool in a oneof sits at any 4-byte offset) */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)msg + f->quantifier_offset) != f->id)
            continue; /* another member of its oneof, or none, holds the union */
        const char *member = (const char *)msg + f->offset;
        size_t n = 1;
        const void *const *values = (const void *const *)member;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)msg + f->quantifier_offset);
            values = *(const void *const *const *)member;
        }
        for (size_t k = 0; k < n; k++) {
            const void *v = values[k];
            if (f->type == PROTOBUF_C_TYPE_STRING && v != NULL && !codec_proto_is_text(v, strlen(v)))
                return 0;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && v != NULL && !strings_are_text(v))
                return 0;
        }
    }
    return 1;
}

static void decode_one(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    int request = fuzz_is_request(desc);
    error err;
    error_clear(&err);
    ProtobufCMessage *msg = codec_proto_decode(desc, data, size, request ? fuzz_arena() : NULL, &err);
    if (msg == NULL) {
        FUZZ_CHECK(err.kind == ERROR_INVALID_BODY, "a protobuf body that does not decode is not InvalidBody");
    } else {
        FUZZ_CHECK(err.kind == ERROR_NONE, "a protobuf body that decodes has an error");
        FUZZ_CHECK(strings_are_text(msg), "codec_proto let a string through that is not UTF-8 without NUL");
        fuzz_validate(msg, &err);
        fuzz_check_round_trips(msg);
    }
    FUZZ_CHECK(fuzz_error_is_text(&err), "codec_proto or a validator wrote an error that is not UTF-8");
    fuzz_check_error(&err);
    if (msg != NULL && !request)
        protobuf_c_message_free_unpacked(msg, NULL);
    fuzz_arena_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < fuzz_n_messages; i++)
        decode_one(fuzz_messages[i], data, size);
    /* the durable store's records: a journal or snapshot payload, and a snapshot's header */
    decode_one(&schema_stored_webhook_descriptor, data, size);
    decode_one(&schema_snapshot_header_descriptor, data, size);
    store_record_free(record_to_webhook(data, size));
    return 0;
}
