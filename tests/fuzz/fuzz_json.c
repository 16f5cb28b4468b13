/* fuzz_json: a JSON body through codec_json, as the REST API and Connect decode it.
 *
 * The input is the body. It is decoded into CreateWebhookRequest (and the other request
 * messages) from a request pool, as the server does, and into the response messages with
 * malloc, as the SDK reads answers; what decodes is validated, and must survive JSON and
 * protobuf round trips; every error must render in each protocol's form. It is also
 * decoded as an event (PublishEventRequest, EventBody), whose items are arbitrary JSON
 * objects (google.protobuf.Struct), with the same properties.
 *
 * The fast parse (codec_json_parse_fast, yajl) is compared with jansson's json_loadb, which
 * it stands in for: whatever it accepts, json_loadb must accept too, into the same tree,
 * keys in the same order. The direct decode (codec_json_decode_flat) is compared with the
 * tree decode the same way, for every message: whatever it takes, json_loadb and
 * codec_json_decode_object must take without a problem, into the same message (the same
 * protobuf bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_json.h"
#include "fuzz.h"
#include "schema.h"

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
        fuzz_check_round_trips(msg);
    }
    FUZZ_CHECK(fuzz_error_is_text(&err), "codec_json or a validator wrote an error that is not UTF-8");
    fuzz_check_error(&err);
    if (msg != NULL && !request)
        protobuf_c_message_free_unpacked(msg, NULL);
    fuzz_arena_clear();
}

/* The fast parse takes nothing json_loadb refuses, and builds what json_loadb builds. */
static void compare_parses(const uint8_t *data, size_t size)
{
    json_t *fast = codec_json_parse_fast((const char *)data, size);
    if (fast == NULL)
        return; /* json_loadb decides, as in the server */
    json_error_t jerr;
    json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(ref != NULL, "the fast parse accepted JSON that json_loadb refuses");
    if (ref != NULL) {
        char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY), *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        FUZZ_CHECK(a != NULL && b != NULL && strcmp(a, b) == 0 && json_equal(fast, ref),
                   "the fast parse and json_loadb built different trees");
        free(a);
        free(b);
    }
    json_decref(ref);
    json_decref(fast);
}

/* The direct decode takes nothing the tree decode has a problem with, and builds what it builds. */
static void compare_decodes(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *flat = codec_json_decode_flat(desc, (const char *)data, size, NULL);
    if (flat == NULL)
        return; /* the tree decode decides, as in the server */
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(root != NULL, "the direct decode took JSON that json_loadb refuses");
    error err;
    error_clear(&err);
    ProtobufCMessage *ref = root != NULL ? codec_json_decode_object(desc, root, NULL, &err) : NULL;
    FUZZ_CHECK(ref != NULL && err.kind == ERROR_NONE, "the direct decode took a body the tree decode has a problem with");
    if (ref != NULL) {
        fuzz_check_same_message(flat, ref, "the direct decode and the tree decode built different messages");
        protobuf_c_message_free_unpacked(ref, NULL);
    }
    json_decref(root);
    protobuf_c_message_free_unpacked(flat, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    compare_parses(data, size);
    for (size_t i = 0; i < fuzz_n_messages; i++)
        compare_decodes(fuzz_messages[i], data, size);
    for (size_t i = 0; i < fuzz_n_messages; i++)
        decode_one(fuzz_messages[i], data, size);
    decode_one(&schema_publish_request_descriptor, data, size);
    decode_one(&schema_event_body_descriptor, data, size);
    return 0;
}
