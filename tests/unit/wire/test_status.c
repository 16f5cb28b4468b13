/* test_status: the one mapping table, checked row by row against the protocols' published
 * codes, and the renderings of an error (ErrorResponse, summary) that every protocol uses. */
#include "codec_proto.h"
#include "error.h"
#include "status.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_row(error_kind kind, int status, const char *reason, const char *type, int plain_text,
                      const char *connect, int connect_status, int grpc)
{
    const status_mapping *m = status_of(kind);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    if (m->http_status != status || m->grpc_status != grpc || m->connect_status != connect_status)
        fprintf(stderr, "kind %d: http %d connect %d grpc %d, want %d %d %d\n", (int)kind, m->http_status,
                m->connect_status, m->grpc_status, status, connect_status, grpc);
    CHECK(m->http_status == status);
    CHECK_STR(m->http_reason, reason);
    CHECK_STR(m->error_type, type);
    CHECK(m->rest_plain_text == plain_text);
    CHECK_STR(m->connect_code, connect);
    CHECK(m->connect_status == connect_status);
    CHECK(m->grpc_status == grpc);
}

static void test_mapping(void)
{
    /* gRPC codes: INVALID_ARGUMENT 3, UNAUTHENTICATED 16, PERMISSION_DENIED 7, NOT_FOUND 5,
     * RESOURCE_EXHAUSTED 8, UNAVAILABLE 14, INTERNAL 13; Connect codes are their snake names,
     * with the HTTP statuses the Connect protocol gives them (resource_exhausted is 429) */
    check_row(ERROR_INVALID_PARAMS, 400, "Bad Request", "InvalidParams", 0, "invalid_argument", 400, 3);
    check_row(ERROR_INVALID_BODY, 400, "Bad Request", "InvalidBody", 0, "invalid_argument", 400, 3);
    check_row(ERROR_UNAUTHENTICATED, 401, "Unauthorized", "Unauthenticated", 1, "unauthenticated", 401, 16);
    check_row(ERROR_PERMISSION_DENIED, 403, "Forbidden", "PermissionDenied", 1, "permission_denied", 403, 7);
    check_row(ERROR_NOT_FOUND, 404, "Not Found", "NotFound", 1, "not_found", 404, 5);
    check_row(ERROR_TOO_LARGE, 413, "Payload Too Large", "PayloadTooLarge", 1, "resource_exhausted", 429, 8);
    check_row(ERROR_UNAVAILABLE, 503, "Service Unavailable", "Unavailable", 1, "unavailable", 503, 14);
    check_row(ERROR_INTERNAL, 500, "Internal Server Error", "Internal", 1, "internal", 500, 13);
    check_row(ERROR_OVERLOADED, 503, "Service Unavailable", "Overloaded", 1, "resource_exhausted", 429, 8);
    check_row(ERROR_BAD_GATEWAY, 502, "Bad Gateway", "BadGateway", 1, "unavailable", 503, 14);
    check_row(ERROR_DEADLINE_EXCEEDED, 504, "Gateway Timeout", "DeadlineExceeded", 1, "deadline_exceeded", 504, 4);

    /* never NULL, even for a kind outside the enum */
    CHECK(status_of(ERROR_NONE) != NULL);
    const status_mapping *m = status_of(ERROR_KIND_COUNT);
    CHECK(m != NULL);
    m = status_of((error_kind)1000);
    CHECK(m != NULL);
    if (m != NULL)
        CHECK(m->http_status >= 400);
}

static void test_to_response(void)
{
    error err;
    status_response r;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 1, "ecosystemId", "field is required");
    error_add_param(&err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters",
                    "contains fields that are not allowed: [ a ]");
    error_add_param(&err, ERROR_IN_UNSET, 2, "url", "invalid url");
    status_response_fill(&err, &r);
    CHECK(r.msg.base.descriptor == &schema_error_response_descriptor);
    CHECK_STR(r.msg.error_type, "InvalidParams");
    CHECK(r.msg.n_errors == 3);
    if (r.msg.n_errors == 3) {
        CHECK_STR(r.msg.errors[0]->in, "body");
        CHECK_STR(r.msg.errors[0]->path, "ecosystemId");
        CHECK_STR(r.msg.errors[0]->message, "field is required");
        CHECK_STR(r.msg.errors[1]->in, "query");
        CHECK_STR(r.msg.errors[1]->path, "additional parameters");
        CHECK_STR(r.msg.errors[1]->message, "contains fields that are not allowed: [ a ]");
        CHECK_STR(r.msg.errors[2]->in, "");
        CHECK_STR(r.msg.errors[2]->path, "url");
        CHECK_STR(r.msg.errors[2]->message, "invalid url");
        CHECK(r.msg.errors[0]->base.descriptor == &schema_param_error_descriptor);
    }
    /* the message is valid protobuf: it packs and unpacks to the same contents */
    size_t size = protobuf_c_message_get_packed_size(&r.msg.base);
    uint8_t buf[4096];
    CHECK(size > 0 && size < sizeof buf);
    if (size > 0 && size < sizeof buf) {
        protobuf_c_message_pack(&r.msg.base, buf);
        schema_error_response *back = (schema_error_response *)protobuf_c_message_unpack(&schema_error_response_descriptor, NULL, size, buf);
        CHECK(back != NULL);
        if (back != NULL) {
            CHECK_STR(back->error_type, "InvalidParams");
            CHECK(back->n_errors == 3);
            if (back->n_errors == 3)
                CHECK_STR(back->errors[1]->path, "additional parameters");
            protobuf_c_message_free_unpacked(&back->base, NULL);
        }
    }

    error_clear(&err);
    error_set(&err, ERROR_INVALID_BODY, "unreadable");
    error_add_param(&err, ERROR_IN_BODY, 0, "body", "must be a JSON object");
    status_response_fill(&err, &r);
    CHECK_STR(r.msg.error_type, "InvalidBody");
    CHECK(r.msg.n_errors == 1);

    /* a full error: sixteen entries, each its own */
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS + 3; i++)
        error_add_param(&err, ERROR_IN_PATH, i, "p", "%u", i);
    status_response_fill(&err, &r);
    CHECK(r.msg.n_errors == ERROR_MAX_PARAMS);
    if (r.msg.n_errors == ERROR_MAX_PARAMS) {
        CHECK_STR(r.msg.errors[0]->message, "0");
        CHECK_STR(r.msg.errors[ERROR_MAX_PARAMS - 1]->message, "15");
        CHECK_STR(r.msg.errors[ERROR_MAX_PARAMS - 1]->in, "path");
    }

    /* a kind without params: its errorType and one entry carrying the reason */
    error_clear(&err);
    error_set(&err, ERROR_NOT_FOUND, "Ecosystem with id X does not exist.");
    status_response_fill(&err, &r);
    CHECK_STR(r.msg.error_type, "NotFound");
    CHECK(r.msg.n_errors == 1);
    if (r.msg.n_errors == 1) {
        CHECK_STR(r.msg.errors[0]->message, "Ecosystem with id X does not exist.");
        CHECK(r.msg.errors[0]->in == NULL || strcmp(r.msg.errors[0]->in, "") == 0);
        CHECK(r.msg.errors[0]->path == NULL || strcmp(r.msg.errors[0]->path, "") == 0);
        CHECK(r.msg.errors[0]->base.descriptor == &schema_param_error_descriptor);
    }
    error_clear(&err);
    error_set(&err, ERROR_TOO_LARGE, "Body over %d bytes.", 65536);
    status_response_fill(&err, &r);
    CHECK_STR(r.msg.error_type, "PayloadTooLarge");
    CHECK(r.msg.n_errors == 1);
    if (r.msg.n_errors == 1)
        CHECK_STR(r.msg.errors[0]->message, "Body over 65536 bytes.");
    error_clear(&err);
    error_set(&err, ERROR_UNAUTHENTICATED, "Missing authorization token.");
    status_response_fill(&err, &r);
    CHECK_STR(r.msg.error_type, "Unauthenticated");
    if (r.msg.n_errors == 1)
        CHECK_STR(r.msg.errors[0]->message, "Missing authorization token.");
}

/* A bound never cuts a character in half: messages go out as JSON and protobuf strings. */
static void test_truncation_keeps_utf8(void)
{
    char long_text[1024];
    for (int shift = 0; shift < 4; shift++) {
        /* shift ASCII bytes first, then 2-, 3- and 4-byte characters, so cuts land everywhere */
        size_t n = 0;
        for (int k = 0; k < shift; k++)
            long_text[n++] = 'a';
        while (n + 9 < sizeof(long_text)) {
            memcpy(long_text + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9); /* e-acute, euro, emoji */
            n += 9;
        }
        long_text[n] = '\0';
        error err;
        error_clear(&err);
        error reason;
        error_set(&reason, ERROR_NOT_FOUND, "%s", long_text);
        error_add_param(&err, ERROR_IN_BODY, 1, long_text, "%s", long_text);
        CHECK(codec_proto_is_text((const uint8_t *)error_param_path(&err, 0), strlen(error_param_path(&err, 0))));
        CHECK(codec_proto_is_text((const uint8_t *)error_param_message(&err, 0), strlen(error_param_message(&err, 0))));
        CHECK(codec_proto_is_text((const uint8_t *)reason.reason, strlen(reason.reason)));
        CHECK(strlen(error_param_message(&err, 0)) > ERROR_MESSAGE_MAX - 5); /* cut at most one character short */
    }
}

/* An error that held sixteen problems and is then set to ERROR_INTERNAL (a failed
 * allocation in a handler) renders as one entry carrying the reason: the renderer never
 * reads problems that error_set dropped. */
static void test_internal_after_params(void)
{
    error err;
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, i, "p", "m%u", i);
    error_set(&err, ERROR_INTERNAL, "Out of memory.");
    status_response r;
    status_response_fill(&err, &r);
    CHECK(r.msg.n_errors == 1);
    CHECK_STR(r.msg.error_type, "Internal");
    if (r.msg.n_errors == 1)
        CHECK_STR(r.msg.errors[0]->message, "Out of memory.");
    size_t len = 0;
    uint8_t *bin = status_error_response_encode(&err, NULL, &len);
    CHECK(bin != NULL && len > 0 && len < 64);
    free(bin);
}

/* A schema field is named by its schema name in the error and by its JSON name on the wire. */
static void test_field_paths(void)
{
    error err;
    error_clear(&err);
    error_add_field(&err, ERROR_IN_BODY, 1, "ecosystem_id", "invalid id");
    error_add_param(&err, ERROR_IN_QUERY, ERROR_ORDER_ADDITIONAL, "additional parameters", "contains x");
    error_add_param(&err, ERROR_IN_HEADER, ERROR_ORDER_HEADER, "Idempotency-Key", "bad");
    status_response r;
    status_response_fill(&err, &r);
    CHECK(r.msg.n_errors == 3);
    if (r.msg.n_errors == 3) {
        CHECK_STR(r.msg.errors[0]->path, "ecosystemId");
        CHECK_STR(r.msg.errors[1]->path, "additional parameters");
        CHECK_STR(r.msg.errors[2]->path, "Idempotency-Key");
    }
    char summary[256];
    status_summary(&err, summary, sizeof summary);
    CHECK_STR(summary, "InvalidParams: ecosystemId: invalid id; additional parameters: contains x; Idempotency-Key: bad");
}

int main(void)
{
    test_mapping();
    test_to_response();
    test_truncation_keeps_utf8();
    test_internal_after_params();
    test_field_paths();
    return test_exit_code();
}
