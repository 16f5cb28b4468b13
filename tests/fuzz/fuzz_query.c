/* fuzz_query: a URL query string through codec_query, as the REST API reads it, and through
 * codec_connect_get, as a Connect GET is read (a message is never longer than the query).
 *
 * The input is the query, without the '?'. It is decoded into ListWebhooksRequest (the
 * one request that takes parameters) from a request pool and validated, and rejected as
 * create and info reject any query; every error must render in each protocol's form. The
 * plain decode (codec_query_decode_plain), when it takes the query, must build what the
 * split decode builds, and the split decode must find no problem in it: for the input of
 * every method the services serve (the REST routes that read a query are among them). */
#include <stdint.h>

#include "codec_connect_get.h"
#include "codec_query.h"
#include "fuzz.h"
#include "route.h"
#include "schema.h"

static void compare_decodes(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *plain = codec_query_decode_plain(desc, (const char *)data, size, fuzz_arena());
    if (plain == NULL) {
        fuzz_arena_clear();
        return; /* the split decode decides, as in the server */
    }
    error err;
    error_clear(&err);
    ProtobufCMessage *split = codec_query_decode_split(desc, (const char *)data, size, fuzz_arena(), &err);
    FUZZ_CHECK(split != NULL && err.kind == ERROR_NONE, "the plain decode took a query the split decode has a problem with");
    if (split != NULL)
        fuzz_check_same_message(plain, split, "the plain decode and the split decode built different messages");
    fuzz_arena_clear(); /* each method's decodes start with the arena's whole room */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < route_rpc_service_count(); i++) {
        const ProtobufCServiceDescriptor *svc = route_rpc_service(i);
        for (unsigned m = 0; m < svc->n_methods; m++)
            compare_decodes(svc->methods[m].input, data, size);
    }
    error err;
    error_clear(&err);
    ProtobufCMessage *msg =
        codec_query_decode(&schema_list_request_descriptor, (const char *)data, size, fuzz_arena(), &err);
    if (msg != NULL) {
        fuzz_validate(msg, &err);
        fuzz_check_round_trips(msg);
    } else {
        FUZZ_CHECK(err.kind != ERROR_NONE, "a query that does not decode has no error");
    }
    FUZZ_CHECK(fuzz_error_is_text(&err), "codec_query or the validator wrote an error that is not UTF-8");
    fuzz_check_error(&err);

    error_clear(&err);
    int rejected = codec_query_reject((const char *)data, size, &err);
    FUZZ_CHECK(rejected == (err.kind != ERROR_NONE), "codec_query_reject's answer disagrees with its error");
    FUZZ_CHECK(fuzz_error_is_text(&err), "codec_query_reject wrote an error that is not UTF-8");
    fuzz_check_error(&err);

    codec_connect_get get;
    int rc = codec_connect_get_decode((const char *)data, size, size, fuzz_arena(), &get, &err);
    FUZZ_CHECK(rc == 0 ? err.kind == ERROR_NONE && get.message != NULL && get.message_len <= size
                       : err.kind != ERROR_NONE,
               "codec_connect_get_decode's answer disagrees with its error");
    FUZZ_CHECK(fuzz_error_is_text(&err), "codec_connect_get_decode wrote an error that is not UTF-8");
    fuzz_check_error(&err);
    if (size > 0)
        FUZZ_CHECK(codec_connect_get_decode((const char *)data, size, size - 1, fuzz_arena(), &get, &err) == -1 &&
                       err.kind == ERROR_TOO_LARGE,
                   "a query over the limit was read");
    fuzz_arena_clear();
    return 0;
}
