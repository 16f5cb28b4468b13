/* test_error: the error value (params, bounds, ordering, locations) and the one mapping
 * table, checked row by row against the protocols' published codes. */
#include "codec_proto.h"
#include "error.h"
#include "test.h"

#include <string.h>

static void test_clear_and_set(void)
{
    error err;
    memset(&err, 0x5a, sizeof err);
    error_clear(&err);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);
    CHECK_STR(err.reason, "");

    error_set(&err, ERROR_NOT_FOUND, "Webhook with id %s does not exist.", "abc");
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, "Webhook with id abc does not exist.");
    CHECK(err.n_params == 0);

    /* a reason longer than the bound is cut to ERROR_MESSAGE_MAX - 1 bytes, NUL-terminated */
    char longtext[ERROR_MESSAGE_MAX * 2];
    memset(longtext, 'r', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    error_set(&err, ERROR_INTERNAL, "%s", longtext);
    CHECK(err.kind == ERROR_INTERNAL);
    CHECK(strlen(err.reason) == ERROR_MESSAGE_MAX - 1);
    CHECK(strncmp(err.reason, longtext, ERROR_MESSAGE_MAX - 1) == 0);

    error_clear(&err);
    CHECK(err.kind == ERROR_NONE);
    CHECK_STR(err.reason, "");
}

static void test_add_param_kind(void)
{
    error err;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 2, "url", "invalid %s", "url");
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    CHECK(err.params[0].in == ERROR_IN_BODY);
    CHECK(err.params[0].order == 2);
    CHECK_STR(err.params[0].path, "url");
    CHECK_STR(err.params[0].message, "invalid url");

    /* InvalidBody stays InvalidBody */
    error_clear(&err);
    error_set(&err, ERROR_INVALID_BODY, "unreadable");
    error_add_param(&err, ERROR_IN_BODY, 0, "body", "bad");
    CHECK(err.kind == ERROR_INVALID_BODY);
    CHECK(err.n_params == 1);

    /* any other kind becomes InvalidParams */
    error_clear(&err);
    error_set(&err, ERROR_NOT_FOUND, "gone");
    error_add_param(&err, ERROR_IN_QUERY, 1, "x", "bad");
    CHECK(err.kind == ERROR_INVALID_PARAMS);
}

static void test_add_param_limits(void)
{
    error err;
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, i, "p", "message %u", i);
    CHECK(err.n_params == ERROR_MAX_PARAMS);
    /* the 17th (and 18th) are dropped: nothing written past the array, n stays at 16 */
    error_add_param(&err, ERROR_IN_BODY, 99, "seventeenth", "dropped");
    error_add_param(&err, ERROR_IN_BODY, 100, "eighteenth", "dropped");
    CHECK(err.n_params == ERROR_MAX_PARAMS);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(!error_has_param(&err, "seventeenth"));
    CHECK(!error_has_param(&err, "eighteenth"));
    CHECK_STR(err.params[0].message, "message 0");
    CHECK_STR(err.params[ERROR_MAX_PARAMS - 1].message, "message 15");
    CHECK(err.params[ERROR_MAX_PARAMS - 1].order == ERROR_MAX_PARAMS - 1);

    /* a path and a message over their bounds are cut, NUL-terminated */
    char longpath[ERROR_PATH_MAX * 3], longmsg[ERROR_MESSAGE_MAX * 3];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 1, longpath, "%s", longmsg);
    CHECK(err.n_params == 1);
    CHECK(strlen(err.params[0].path) == ERROR_PATH_MAX - 1);
    CHECK(strncmp(err.params[0].path, longpath, ERROR_PATH_MAX - 1) == 0);
    CHECK(strlen(err.params[0].message) == ERROR_MESSAGE_MAX - 1);
    CHECK(strncmp(err.params[0].message, longmsg, ERROR_MESSAGE_MAX - 1) == 0);

    /* exactly at the bound: kept whole */
    char path63[ERROR_PATH_MAX];
    memset(path63, 'q', sizeof path63 - 1);
    path63[sizeof path63 - 1] = '\0';
    error_add_param(&err, ERROR_IN_BODY, 1, path63, "ok");
    CHECK_STR(err.params[1].path, path63);
    CHECK(error_has_param(&err, path63));
}

static void test_has_param(void)
{
    error err;
    error_clear(&err);
    CHECK(!error_has_param(&err, "url"));
    error_add_param(&err, ERROR_IN_UNSET, 2, "url", "x");
    error_add_param(&err, ERROR_IN_UNSET, 1, "ecosystemId", "x");
    CHECK(error_has_param(&err, "url"));
    CHECK(error_has_param(&err, "ecosystemId"));
    CHECK(!error_has_param(&err, "ur"));
    CHECK(!error_has_param(&err, "urls"));
    CHECK(!error_has_param(&err, "ecosystem_id"));
}

static void test_sort(void)
{
    error err;
    error_clear(&err);
    error_sort_params(&err); /* empty: no-op */
    CHECK(err.n_params == 0);

    /* orders 4,2,ADD,2,1,QUERY,4,0; equal orders keep their insertion order */
    error_add_param(&err, ERROR_IN_UNSET, 4, "d", "first d");
    error_add_param(&err, ERROR_IN_UNSET, 2, "b", "first b");
    error_add_param(&err, ERROR_IN_UNSET, ERROR_ORDER_ADDITIONAL, "additional parameters", "add");
    error_add_param(&err, ERROR_IN_UNSET, 2, "b", "second b");
    error_add_param(&err, ERROR_IN_UNSET, 1, "a", "a");
    error_add_param(&err, ERROR_IN_UNSET, ERROR_ORDER_QUERY, "additional parameters", "query");
    error_add_param(&err, ERROR_IN_UNSET, 4, "d", "second d");
    error_add_param(&err, ERROR_IN_UNSET, 0, "body", "zero");
    error_sort_params(&err);
    CHECK(err.n_params == 8);
    static const char *want[] = {"zero", "a", "first b", "second b", "first d", "second d", "add", "query"};
    for (size_t i = 0; i < 8 && i < err.n_params; i++)
        CHECK_STR(err.params[i].message, want[i]);
    for (size_t i = 1; i < err.n_params; i++)
        CHECK(err.params[i - 1].order <= err.params[i].order);

    /* the additional-parameter orders come after every possible field number (< 2^29) */
    CHECK(ERROR_ORDER_ADDITIONAL > (1u << 29) - 1);
    CHECK(ERROR_ORDER_QUERY > ERROR_ORDER_ADDITIONAL);

    /* a full, reversed list of sixteen with pairs of equal orders */
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, (ERROR_MAX_PARAMS - 1 - i) / 2, "p", "%u", i);
    error_sort_params(&err);
    /* order k holds messages 15-2k-1 then 15-2k (inserted in that order) */
    for (unsigned k = 0; k < ERROR_MAX_PARAMS / 2; k++) {
        char m1[8], m2[8];
        snprintf(m1, sizeof m1, "%u", ERROR_MAX_PARAMS - 2 - 2 * k);
        snprintf(m2, sizeof m2, "%u", ERROR_MAX_PARAMS - 1 - 2 * k);
        CHECK(err.params[2 * k].order == k);
        CHECK_STR(err.params[2 * k].message, m1);
        CHECK_STR(err.params[2 * k + 1].message, m2);
    }
}

static void test_default_in(void)
{
    error err;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_UNSET, 1, "a", "x");
    error_add_param(&err, ERROR_IN_QUERY, 2, "b", "x");
    error_add_param(&err, ERROR_IN_PATH, 3, "c", "x");
    error_add_param(&err, ERROR_IN_UNSET, 4, "d", "x");
    error_set_default_in(&err, ERROR_IN_BODY);
    CHECK(err.params[0].in == ERROR_IN_BODY);
    CHECK(err.params[1].in == ERROR_IN_QUERY);
    CHECK(err.params[2].in == ERROR_IN_PATH);
    CHECK(err.params[3].in == ERROR_IN_BODY);
    /* a second call changes nothing: every param now has a location */
    error_set_default_in(&err, ERROR_IN_QUERY);
    CHECK(err.params[0].in == ERROR_IN_BODY);
    CHECK(err.params[3].in == ERROR_IN_BODY);
}

static void test_in_name(void)
{
    CHECK_STR(error_in_name(ERROR_IN_BODY), "body");
    CHECK_STR(error_in_name(ERROR_IN_QUERY), "query");
    CHECK_STR(error_in_name(ERROR_IN_PATH), "path");
    CHECK_STR(error_in_name(ERROR_IN_UNSET), "");
}

static void check_row(error_kind kind, int status, const char *reason, const char *type, int plain_text,
                      const char *connect, int connect_status, int grpc)
{
    const error_mapping *m = error_mapping_of(kind);
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

    /* never NULL, even for a kind outside the enum */
    CHECK(error_mapping_of(ERROR_NONE) != NULL);
    const error_mapping *m = error_mapping_of(ERROR_KIND_COUNT);
    CHECK(m != NULL);
    m = error_mapping_of((error_kind)1000);
    CHECK(m != NULL);
    if (m != NULL)
        CHECK(m->http_status >= 400);
}

static void test_to_response(void)
{
    error err;
    error_response r;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 1, "ecosystemId", "field is required");
    error_add_param(&err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters",
                    "contains fields that are not allowed: [ a ]");
    error_add_param(&err, ERROR_IN_UNSET, 2, "url", "invalid url");
    error_to_response(&err, &r);
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
        schema_error_response *back = droplit__webhooks__v1__error_response__unpack(NULL, size, buf);
        CHECK(back != NULL);
        if (back != NULL) {
            CHECK_STR(back->error_type, "InvalidParams");
            CHECK(back->n_errors == 3);
            if (back->n_errors == 3)
                CHECK_STR(back->errors[1]->path, "additional parameters");
            droplit__webhooks__v1__error_response__free_unpacked(back, NULL);
        }
    }

    error_clear(&err);
    error_set(&err, ERROR_INVALID_BODY, "unreadable");
    error_add_param(&err, ERROR_IN_BODY, 0, "body", "must be a JSON object");
    error_to_response(&err, &r);
    CHECK_STR(r.msg.error_type, "InvalidBody");
    CHECK(r.msg.n_errors == 1);

    /* a full error: sixteen entries, each its own */
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS + 3; i++)
        error_add_param(&err, ERROR_IN_PATH, i, "p", "%u", i);
    error_to_response(&err, &r);
    CHECK(r.msg.n_errors == ERROR_MAX_PARAMS);
    if (r.msg.n_errors == ERROR_MAX_PARAMS) {
        CHECK_STR(r.msg.errors[0]->message, "0");
        CHECK_STR(r.msg.errors[ERROR_MAX_PARAMS - 1]->message, "15");
        CHECK_STR(r.msg.errors[ERROR_MAX_PARAMS - 1]->in, "path");
    }

    /* a kind without params: its errorType and one entry carrying the reason */
    error_clear(&err);
    error_set(&err, ERROR_NOT_FOUND, "Ecosystem with id X does not exist.");
    error_to_response(&err, &r);
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
    error_to_response(&err, &r);
    CHECK_STR(r.msg.error_type, "PayloadTooLarge");
    CHECK(r.msg.n_errors == 1);
    if (r.msg.n_errors == 1)
        CHECK_STR(r.msg.errors[0]->message, "Body over 65536 bytes.");
    error_clear(&err);
    error_set(&err, ERROR_UNAUTHENTICATED, "Missing authorization token.");
    error_to_response(&err, &r);
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
        error_add_param(&err, ERROR_IN_BODY, 1, long_text, "%s", long_text);
        error_set(&err, ERROR_INVALID_PARAMS, "%s", long_text);
        CHECK(codec_proto_is_text((const uint8_t *)err.params[0].path, strlen(err.params[0].path)));
        CHECK(codec_proto_is_text((const uint8_t *)err.params[0].message, strlen(err.params[0].message)));
        CHECK(codec_proto_is_text((const uint8_t *)err.reason, strlen(err.reason)));
        CHECK(strlen(err.params[0].message) > ERROR_MESSAGE_MAX - 5); /* cut at most one character short */
    }
}

int main(void)
{
    test_truncation_keeps_utf8();
    test_clear_and_set();
    test_add_param_kind();
    test_add_param_limits();
    test_has_param();
    test_sort();
    test_default_in();
    test_in_name();
    test_mapping();
    test_to_response();
    return test_exit_code();
}
