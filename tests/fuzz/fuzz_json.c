/* fuzz_json: a JSON body through codec_json, as the REST API and Connect decode it.
 *
 * The input is the body. It is decoded into CreateWebhookRequest (and the other request
 * messages) from a request pool, as the server does, and into the response messages with
 * malloc, as the SDK reads answers; what decodes is validated, and must survive JSON and
 * protobuf round trips; every error must render in each protocol's form. It is also
 * decoded as an event (PublishEventRequest, EventBody), whose items are arbitrary JSON
 * objects (google.protobuf.Struct), with the same properties.
 *
 * Known gap, checked so that it cannot change unnoticed: codec_proto bounds the nesting of
 * messages (CODEC_PROTO_MAX_DEPTH), codec_json that of JSON (CODEC_JSON_MAX_DEPTH). In
 * binary, each JSON object inside a Struct costs three messages (Struct, its entry, Value)
 * and each array two (ListValue, Value), so an event JSON accepts can be too deep for
 * codec_proto to read back. For such a message the protobuf round trip is replaced by the
 * check that codec_proto refuses it as too deep, and only the JSON round trip is run.
 * Once codec_proto reads every event codec_json accepts, proto_too_deep fails: then
 * drop it and round-trip every message alike. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "fuzz.h"
#include "schema.h"

/* The deepest level of sub-messages below msg (msg itself is level 0), as codec_proto
 * counts them on the wire: every sub-message present, empty or not. */
static int message_depth(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    int deepest = 0;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *member = (const char *)msg + f->offset, *quantifier = (const char *)msg + f->quantifier_offset;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE ||
            ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)quantifier != f->id))
            continue;
        int repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        size_t n = repeated ? *(const size_t *)quantifier : 1;
        ProtobufCMessage *const *subs =
            repeated ? *(ProtobufCMessage *const *const *)member : (ProtobufCMessage *const *)member;
        for (size_t k = 0; k < n; k++) {
            int d = subs[k] != NULL ? 1 + message_depth(subs[k]) : 0;
            deepest = d > deepest ? d : deepest;
        }
    }
    return deepest;
}

/* msg is deeper than codec_proto reads: it must say exactly that, and JSON must still
 * give back what it wrote. */
static void proto_too_deep(const ProtobufCMessage *msg)
{
    size_t len;
    uint8_t *bin = codec_proto_encode(msg, NULL, &len);
    FUZZ_CHECK(bin != NULL, "codec_proto_encode failed on a decoded message");
    error err;
    error_clear(&err);
    ProtobufCMessage *back = codec_proto_decode(msg->descriptor, bin, len, NULL, &err);
    FUZZ_CHECK(back == NULL && err.kind == ERROR_INVALID_BODY && err.n_params == 1 &&
                   strstr(error_param_message(&err, 0), "is nested too deeply") != NULL,
               "codec_proto read an event deeper than it reads, or refused it for another reason");
    free(bin);

    char *json = codec_json_encode(msg, &len);
    FUZZ_CHECK(json != NULL, "codec_json_encode failed on a decoded message");
    error_clear(&err);
    back = codec_json_decode(msg->descriptor, json, len, NULL, &err);
    FUZZ_CHECK(back != NULL && err.kind == ERROR_NONE, "the JSON codec cannot read what it wrote");
    size_t again_len;
    char *again = codec_json_encode(back, &again_len);
    FUZZ_CHECK(again != NULL && again_len == len && memcmp(json, again, len) == 0,
               "a message changed on its way through JSON");
    free(again);
    protobuf_c_message_free_unpacked(back, NULL);
    free(json);
}

static void decode_one(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    int request = fuzz_is_request(desc);
    error err;
    error_clear(&err);
    ProtobufCMessage *msg = codec_json_decode(desc, (const char *)data, size, request ? fuzz_arena() : NULL, &err);
    if (msg == NULL) {
        FUZZ_CHECK(err.kind == ERROR_INVALID_BODY || err.kind == ERROR_INTERNAL,
                   "a JSON body that does not decode is neither InvalidBody nor out of memory");
    } else {
        FUZZ_CHECK(err.kind == ERROR_NONE || err.kind == ERROR_INVALID_PARAMS,
                   "a JSON body that decodes has an error other than InvalidParams");
        fuzz_validate(msg, &err);
        if (message_depth(msg) <= CODEC_PROTO_MAX_DEPTH)
            fuzz_check_round_trips(msg);
        else
            proto_too_deep(msg);
    }
    FUZZ_CHECK(fuzz_error_is_text(&err), "codec_json or a validator wrote an error that is not UTF-8");
    fuzz_check_error(&err);
    if (msg != NULL && !request)
        protobuf_c_message_free_unpacked(msg, NULL);
    fuzz_arena_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < fuzz_n_messages; i++)
        decode_one(fuzz_messages[i], data, size);
    decode_one(&schema_publish_request_descriptor, data, size);
    decode_one(&schema_event_body_descriptor, data, size);
    return 0;
}
