/* fuzz_query: a URL query string through codec_query, as the REST API reads it, and through
 * codec_connect_get, as a Connect GET is read (a message is never longer than the query).
 *
 * The input is the query, without the '?'. It is decoded into ListWebhooksRequest (the
 * one request that takes parameters) from a request pool and validated, and rejected as
 * create and info reject any query; every error must render in each protocol's form. */
#include <stdint.h>

#include "codec_connect_get.h"
#include "codec_query.h"
#include "fuzz.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
