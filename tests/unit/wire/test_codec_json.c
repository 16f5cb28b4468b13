/* test_codec_json: the proto3 JSON mapping of the schema's messages, both ways.
 *
 * Decoding: both field-name spellings, null as absent, wrong types and unknown keys as
 * parameter problems (in field order), unreadable bodies as InvalidBody, nesting limits,
 * RFC 3339 timestamps. Encoding: exact bytes. Run under valgrind, the decodes with the
 * default allocator and protobuf_c_message_free_unpacked show no leaks; a counting
 * allocator shows the same for a caller's allocator. */
#include "codec_json.h"
#include "codec_proto.h"
#include "oom.h"
#include "route.h"
#include "schema.h"
#include "status.h"
#include "test.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ECO "C5a96c3ea0e4c1b0001a0b0c0"
#define WEBHOOK_ID "5a96c7ea0e4c1b0001a0b0c0"

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *desc, const char *json, error *err)
{
    error_clear(err);
    return codec_json_decode(desc, json, strlen(json), NULL, err);
}

static schema_create_request *decode_create(const char *json, error *err)
{
    return (schema_create_request *)decode(&schema_create_request_descriptor, json, err);
}

static void free_msg(void *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* The problem recorded for path, or NULL. */
static const error_param *param_of(const error *err, const char *path)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (strcmp(error_param_path(err, i), path) == 0)
            return &err->params[i];
    return NULL;
}

static void test_names(void)
{
    char out[64];
    codec_json_name("ecosystem_id", out, sizeof out);
    CHECK_STR(out, "ecosystemId");
    codec_json_name("created_at", out, sizeof out);
    CHECK_STR(out, "createdAt");
    codec_json_name("error_type", out, sizeof out);
    CHECK_STR(out, "errorType");
    codec_json_name("url", out, sizeof out);
    CHECK_STR(out, "url");
    codec_json_name("a_b_c", out, sizeof out);
    CHECK_STR(out, "aBC");
    /* truncated to out_size bytes, NUL included */
    codec_json_name("ecosystem_id", out, 5);
    CHECK_STR(out, "ecos");
    codec_json_name("ecosystem_id", out, 12);
    CHECK_STR(out, "ecosystemId");
    codec_json_name("ecosystem_id", out, 11);
    CHECK_STR(out, "ecosystemI");
    codec_json_name("ecosystem_id", out, 1);
    CHECK_STR(out, "");
}

/* 1 when desc and every message its fields hold name their fields within
 * CODEC_JSON_NAME_MAX bytes of JSON name (depth: nesting left to look into); report: name
 * the ones that do not. */
static int names_fit(const ProtobufCMessageDescriptor *desc, int depth, int report)
{
    int fit = 1;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        char out[256];
        codec_json_name(f->name, out, sizeof out);
        if (strlen(out) > CODEC_JSON_NAME_MAX) {
            if (report)
                fprintf(stderr, "%s.%s: JSON name over CODEC_JSON_NAME_MAX\n", desc->name, f->name);
            fit = 0;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth > 0)
            fit &= names_fit(f->descriptor, depth - 1, report);
    }
    return fit;
}

/* Every message the schema's services read and answer, and the error answers, fit the
 * JSON name cache (the encoder and decoder assert it); one that did not fails here. */
static void test_schema_names_fit(void)
{
    for (size_t i = 0; i < route_rpc_service_count(); i++) {
        const ProtobufCServiceDescriptor *svc = route_rpc_service(i);
        for (unsigned m = 0; m < svc->n_methods; m++) {
            CHECK(names_fit(svc->methods[m].input, 8, 1));
            CHECK(names_fit(svc->methods[m].output, 8, 1));
        }
    }
    CHECK(names_fit(&schema_error_response_descriptor, 8, 1));
    CHECK(names_fit(&schema_rpc_status_descriptor, 8, 1));
    /* the check can fail: a field with a longer name is refused */
    ProtobufCFieldDescriptor longer = schema_webhook_descriptor.fields[0];
    longer.name = "a_name_well_over_forty_five_bytes_once_its_underscores_are_gone";
    ProtobufCMessageDescriptor one = schema_webhook_descriptor;
    one.fields = &longer;
    one.n_fields = 1;
    CHECK(!names_fit(&one, 0, 0));
}

static void test_decode_names(void)
{
    error err;
    schema_create_request *r =
        decode_create("{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/h\",\"secret\":\"s\","
                      "\"description\":\"d\"}",
                      &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);
    if (r != NULL) {
        CHECK(r->base.descriptor == &schema_create_request_descriptor);
        CHECK_STR(r->ecosystem_id, ECO);
        CHECK_STR(r->url, "https://example.com/h");
        CHECK_STR(r->secret, "s");
        CHECK_STR(r->description, "d");
    }
    free_msg(r);

    /* the original (snake_case) names, in another order */
    r = decode_create("{\"description\":\"x y\",\"ecosystem_id\":\"" ECO "\",\"url\":\"http://a\"}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL) {
        CHECK_STR(r->ecosystem_id, ECO);
        CHECK_STR(r->url, "http://a");
        CHECK_STR(r->secret, "");
        CHECK_STR(r->description, "x y");
    }
    free_msg(r);

    /* escapes and non-ASCII text survive */
    r = decode_create("{\"description\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\"}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->description, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    free_msg(r);

    /* the empty object: every field at its default */
    r = decode_create("{}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL) {
        CHECK_STR(r->ecosystem_id, "");
        CHECK_STR(r->url, "");
    }
    free_msg(r);

    /* whitespace around and inside */
    r = decode_create(" \n\t{ \"url\" : \"http://a\" } \n", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->url, "http://a");
    free_msg(r);

    /* len counts, not a NUL: trailing bytes beyond len are not read */
    const char buf[] = "{\"url\":\"http://a\"}GARBAGE";
    error_clear(&err);
    r = (schema_create_request *)codec_json_decode(&schema_create_request_descriptor, buf, 18, NULL, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->url, "http://a");
    free_msg(r);
}

static void test_decode_null(void)
{
    error err;
    schema_create_request *r = decode_create(
        "{\"ecosystemId\":null,\"url\":null,\"secret\":null,\"description\":null}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);
    if (r != NULL) {
        CHECK_STR(r->ecosystem_id, "");
        CHECK_STR(r->url, "");
        CHECK_STR(r->secret, "");
        CHECK_STR(r->description, "");
    }
    free_msg(r);
}

static void test_decode_wrong_types(void)
{
    error err;
    /* body order is description, url, secret, ecosystemId; orders are field numbers */
    schema_create_request *r =
        decode_create("{\"description\":[\"x\"],\"url\":true,\"secret\":{\"a\":1},\"ecosystemId\":5}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 4);
    static const char *paths[] = {"ecosystem_id", "url", "secret", "description"};
    for (unsigned i = 0; i < 4; i++) {
        const error_param *p = param_of(&err, paths[i]);
        CHECK(p != NULL);
        if (p == NULL) {
            fprintf(stderr, "  no problem for %s\n", paths[i]);
            continue;
        }
        CHECK_STR(err.text + p->message, "must be a string");
        CHECK(p->order == i + 1);
    }
    error_sort_params(&err);
    for (unsigned i = 0; i < 4 && i < err.n_params; i++)
        CHECK_STR(error_param_path(&err, i), paths[i]);
    if (r != NULL) { /* left at their defaults */
        CHECK_STR(r->ecosystem_id, "");
        CHECK_STR(r->url, "");
        CHECK_STR(r->secret, "");
        CHECK_STR(r->description, "");
    }
    free_msg(r);

    /* more spellings of not-a-string, one field each; the others still decode */
    static const char *bad[] = {"0", "-1.5", "1e3", "false", "true", "{}", "[]", "[\"a\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"ecosystemId\":\"%s\",\"url\":%s}", ECO, bad[i]);
        r = decode_create(json, &err);
        CHECK(r != NULL);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params == 1);
        if (err.n_params == 1) {
            CHECK_STR(error_param_path(&err, 0), "url");
            CHECK_STR(error_param_message(&err, 0), "must be a string");
            CHECK(err.params[0].order == 2);
        }
        if (r != NULL) {
            CHECK_STR(r->ecosystem_id, ECO);
            CHECK_STR(r->url, "");
        }
        free_msg(r);
    }

    /* the snake_case spelling reports under the JSON name */
    r = decode_create("{\"ecosystem_id\":1}", &err);
    CHECK(err.n_params == 1);
    if (err.n_params == 1) {
        CHECK_STR(error_param_path(&err, 0), "ecosystem_id");
        CHECK(err.params[0].order == 1);
    }
    free_msg(r);

    /* a bool field given a string */
    schema_webhook *w =
        (schema_webhook *)decode(&schema_webhook_descriptor, "{\"disabled\":\"true\",\"url\":\"http://a\"}", &err);
    CHECK(w != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    const error_param *p = param_of(&err, "disabled");
    CHECK(p != NULL);
    if (p != NULL)
        CHECK(p->order == 5);
    if (w != NULL) {
        CHECK(w->disabled == 0);
        CHECK_STR(w->url, "http://a");
    }
    free_msg(w);
}

static void test_decode_unknown(void)
{
    error err;
    schema_create_request *r = decode_create("{\"a\":1,\"url\":\"http://x\",\"b\":\"y\"}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    if (err.n_params == 1) {
        CHECK_STR(error_param_path(&err, 0), "additional parameters");
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ a, b ]");
        CHECK(err.params[0].order == ERROR_ORDER_ADDITIONAL);
    }
    if (r != NULL)
        CHECK_STR(r->url, "http://x");
    free_msg(r);

    /* body order, not alphabetical; values of any type, null included */
    r = decode_create("{\"zeta\":null,\"alpha\":{\"x\":[1]},\"Url\":\"case matters\",\"ecosystemID\":\"\"}", &err);
    CHECK(r != NULL);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ zeta, alpha, Url, ecosystemID ]");
    if (r != NULL)
        CHECK_STR(r->url, "");
    free_msg(r);

    /* unknown keys sort after the field problems */
    r = decode_create("{\"x\":1,\"url\":2}", &err);
    CHECK(err.n_params == 2);
    error_sort_params(&err);
    if (err.n_params == 2) {
        CHECK_STR(error_param_path(&err, 0), "url");
        CHECK_STR(error_param_path(&err, 1), "additional parameters");
        CHECK_STR(error_param_message(&err, 1), "contains fields that are not allowed: [ x ]");
    }
    free_msg(r);

    /* the empty key is a key like any other, and not a field */
    r = decode_create("{\"\":1,\"url\":\"http://x\"}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    if (err.n_params == 1) {
        CHECK_STR(error_param_path(&err, 0), "additional parameters");
        CHECK(err.params[0].order == ERROR_ORDER_ADDITIONAL);
    }
    free_msg(r);

    /* a field of another message is unknown here */
    r = decode_create("{\"createdAt\":\"2018-02-28T15:16:58.941Z\"}", &err);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ createdAt ]");
    free_msg(r);
}

static void test_decode_alias_twice(void)
{
    error err;
    schema_create_request *r =
        decode_create("{\"ecosystemId\":\"" ECO "\",\"url\":\"http://a\",\"ecosystem_id\":\"" ECO "\"}", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    const error_param *p = param_of(&err, "ecosystem_id");
    CHECK(p != NULL);
    if (p != NULL)
        CHECK(p->order == 1);
    if (r != NULL)
        CHECK_STR(r->url, "http://a");
    free_msg(r);

    /* even when one of them is null */
    r = decode_create("{\"ecosystem_id\":null,\"ecosystemId\":\"" ECO "\"}", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(param_of(&err, "ecosystem_id") != NULL);
    free_msg(r);
}

/* Expects body to be unreadable: NULL, InvalidBody, exactly one problem at "body". */
static void expect_invalid_body(int line, const char *body, size_t len)
{
    error err;
    error_clear(&err);
    ProtobufCMessage *m = codec_json_decode(&schema_create_request_descriptor, body, len, NULL, &err);
    int ok = m == NULL && err.kind == ERROR_INVALID_BODY && err.n_params == 1 &&
             strcmp(error_param_path(&err, 0), "body") == 0 && error_param_message(&err, 0)[0] != '\0';
    if (!ok)
        fprintf(stderr, "test_codec_json.c:%d: not rejected as InvalidBody (got msg %p, kind %d, %u params%s%s)\n",
                line, (void *)m, (int)err.kind, (unsigned)err.n_params, err.n_params ? ", first: " : "",
                err.n_params ? error_param_path(&err, 0) : "");
    CHECK(ok);
    free_msg(m);
}

#define INVALID_BODY(s) expect_invalid_body(__LINE__, s, strlen(s))
#define INVALID_BODY_N(s) expect_invalid_body(__LINE__, s, sizeof(s) - 1)

/* A body whose url is `levels` arrays deep; total nesting = levels + 1 with the root. */
static char *nested_url(int levels)
{
    char *s = malloc((size_t)levels * 2 + 16);
    if (s == NULL)
        return NULL;
    char *p = s;
    p += sprintf(p, "{\"url\":");
    for (int i = 0; i < levels; i++)
        *p++ = '[';
    for (int i = 0; i < levels; i++)
        *p++ = ']';
    strcpy(p, "}");
    return s;
}

static void test_decode_invalid_body(void)
{
    INVALID_BODY("");
    INVALID_BODY("{");
    INVALID_BODY("{\"url\":}");
    INVALID_BODY("{\"url\":\"http://a\",}");
    INVALID_BODY("{'url':'x'}");
    INVALID_BODY("{\"url\":\"http://a\"} {}");
    INVALID_BODY("{\"url\":\"http://a\"}x");
    /* not an object */
    INVALID_BODY("[]");
    INVALID_BODY("[{\"url\":\"http://a\"}]");
    INVALID_BODY("\"x\"");
    INVALID_BODY("null");
    INVALID_BODY("5");
    INVALID_BODY("true");
    /* duplicate keys, even with equal values */
    INVALID_BODY("{\"url\":\"a\",\"url\":\"b\"}");
    INVALID_BODY("{\"url\":\"a\",\"url\":\"a\"}");
    INVALID_BODY("{\"x\":1,\"x\":1}");
    /* invalid UTF-8, in a value and in a key; an overlong encoding; a lone surrogate */
    INVALID_BODY("{\"url\":\"\xff\"}");
    INVALID_BODY("{\"\xff\":\"a\"}");
    INVALID_BODY("{\"description\":\"\xc0\xaf\"}");
    INVALID_BODY("{\"description\":\"\\ud800\"}");
    {
        /* the parser's message must not quote the body: a secret could be near the error */
        const char body[] = "{\"secret\":\"TOPSECRET\xff\"}";
        error err;
        error_clear(&err);
        CHECK(codec_json_decode(&schema_create_request_descriptor, body, sizeof(body) - 1, NULL, &err) == NULL);
        CHECK(err.n_params == 1 && strstr(error_param_message(&err, 0), "TOPSECRET") == NULL);
        CHECK(err.n_params == 1 && strstr(error_param_message(&err, 0), "line 1") != NULL);
    }
    /* NUL in a string, escaped and raw */
    INVALID_BODY("{\"url\":\"a\\u0000b\"}");
    INVALID_BODY_N("{\"url\":\"a\0b\"}");
    /* a raw control character in a string */
    INVALID_BODY("{\"url\":\"a\nb\"}");

    /* The limit: CODEC_JSON_MAX_DEPTH levels of objects and arrays are accepted (the body
     * reads, and the wrong type is a problem of the field), one more is unreadable. */
    error err;
    char *s = nested_url(CODEC_JSON_MAX_DEPTH - 1); /* root + 31 arrays = 32 */
    if (s != NULL) {
        error_clear(&err);
        ProtobufCMessage *m = codec_json_decode(&schema_create_request_descriptor, s, strlen(s), NULL, &err);
        CHECK(m != NULL);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(param_of(&err, "url") != NULL);
        free_msg(m);
        free(s);
    }
    s = nested_url(CODEC_JSON_MAX_DEPTH); /* 33 */
    if (s != NULL) {
        expect_invalid_body(__LINE__, s, strlen(s));
        free(s);
    }
    s = nested_url(1000); /* far deeper, still within what jansson itself reads */
    if (s != NULL) {
        expect_invalid_body(__LINE__, s, strlen(s));
        free(s);
    }
    s = nested_url(100000); /* deeper than jansson reads */
    if (s != NULL) {
        expect_invalid_body(__LINE__, s, strlen(s));
        free(s);
    }
    /* the same limit for an unknown key's value */
    s = nested_url(CODEC_JSON_MAX_DEPTH);
    if (s != NULL) {
        memcpy(s + 2, "xyz", 3); /* {"xyz":[[[...]]]} */
        expect_invalid_body(__LINE__, s, strlen(s));
        free(s);
    }
}

static void test_decode_object(void)
{
    error err;
    json_t *root = json_pack("{s:s, s:s}", "url", "http://a", "ecosystem_id", ECO);
    CHECK(root != NULL);
    error_clear(&err);
    schema_create_request *r = (schema_create_request *)codec_json_decode_object(
        &schema_create_request_descriptor, root, NULL, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL) {
        CHECK_STR(r->url, "http://a");
        CHECK_STR(r->ecosystem_id, ECO);
    }
    free_msg(r);
    json_decref(root);

    root = json_array();
    error_clear(&err);
    CHECK(codec_json_decode_object(&schema_create_request_descriptor, root, NULL, &err) == NULL);
    CHECK(err.kind == ERROR_INVALID_BODY);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_path(&err, 0), "body");
    json_decref(root);
}

/* ---- encoding -------------------------------------------------------------------------- */

static char *encode(const void *msg)
{
    size_t len = (size_t)-1;
    char *s = codec_json_encode(msg, &len);
    CHECK(s != NULL);
    if (s != NULL)
        CHECK(len == strlen(s));
    return s;
}

static void check_encoded(int line, const void *msg, const char *want)
{
    char *s = encode(msg);
    if (s == NULL || strcmp(s, want) != 0) {
        fprintf(stderr, "test_codec_json.c:%d: encoded\n  got:  %s\n  want: %s\n", line, s ? s : "(null)", want);
        test_failures++;
    }
    free(s);
}

#define ENCODED(msg, want) check_encoded(__LINE__, msg, want)

static void make_webhook(schema_webhook *w, schema_timestamp *ts, int64_t seconds, int32_t nanos)
{
    protobuf_c_message_init(&schema_webhook_descriptor, w);
    protobuf_c_message_init(&schema_timestamp_descriptor, ts);
    ts->seconds = seconds;
    ts->nanos = nanos;
    w->id = WEBHOOK_ID;
    w->ecosystem_id = ECO;
    w->url = "https://example.com/hook";
    w->created_at = ts;
}

/* A list of two webhooks made a second apart, the second described; built in place (the
 * list points into the struct). */
typedef struct two_webhooks {
    schema_webhook a, b;
    schema_timestamp ta, tb;
    schema_webhook *items[2];
    schema_list_response list;
} two_webhooks;

static void make_two(two_webhooks *t)
{
    make_webhook(&t->a, &t->ta, 1519831018, 941000000);
    make_webhook(&t->b, &t->tb, 1519831019, 0);
    t->b.description = "second";
    t->items[0] = &t->a, t->items[1] = &t->b;
    t->list = (schema_list_response)SCHEMA_LIST_RESPONSE_INIT;
    t->list.items = t->items;
    t->list.n_items = 2;
}

static void test_encode_webhook(void)
{
    schema_webhook w;
    schema_timestamp ts;
    make_webhook(&w, &ts, 1519831018, 941000000);
    ENCODED(&w, "{\"id\":\"" WEBHOOK_ID "\",\"description\":\"\",\"ecosystemId\":\"" ECO
                "\",\"url\":\"https://example.com/hook\",\"disabled\":false,\"createdAt\":\"2018-02-28T15:16:58.941Z\"}");

    w.disabled = 1;
    w.description = "say \"hi\"\n\\ \xc3\xa9";
    ENCODED(&w, "{\"id\":\"" WEBHOOK_ID "\",\"description\":\"say \\\"hi\\\"\\n\\\\ \xc3\xa9\",\"ecosystemId\":\"" ECO
                "\",\"url\":\"https://example.com/hook\",\"disabled\":true,\"createdAt\":\"2018-02-28T15:16:58.941Z\"}");
}

static void check_timestamp(int line, int64_t seconds, int32_t nanos, const char *want)
{
    schema_timestamp ts = SCHEMA_TIMESTAMP_INIT;
    schema_webhook w = SCHEMA_WEBHOOK_INIT;
    ts.seconds = seconds;
    ts.nanos = nanos;
    w.created_at = &ts;
    char *s = encode(&w);
    const char *at = s != NULL ? strstr(s, "\"createdAt\":") : NULL;
    char got[64] = "(none)";
    if (at != NULL)
        snprintf(got, sizeof got, "%.*s", (int)strcspn(at + 12, "}"), at + 12);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "test_codec_json.c:%d: createdAt\n  got:  %s\n  want: %s\n", line, got, want);
        test_failures++;
    }
    free(s);
}

#define TIMESTAMP(sec, ns, want) check_timestamp(__LINE__, sec, ns, want)

static void test_encode_timestamps(void)
{
    /* milliseconds always shown; finer values keep 6 or 9 digits */
    TIMESTAMP(1519831018, 0, "\"2018-02-28T15:16:58.000Z\"");
    TIMESTAMP(1519831018, 941000000, "\"2018-02-28T15:16:58.941Z\"");
    TIMESTAMP(1519831018, 1000000, "\"2018-02-28T15:16:58.001Z\"");
    TIMESTAMP(1519831018, 941500000, "\"2018-02-28T15:16:58.941500Z\"");
    TIMESTAMP(1519831018, 1000, "\"2018-02-28T15:16:58.000001Z\"");
    TIMESTAMP(1519831018, 941500001, "\"2018-02-28T15:16:58.941500001Z\"");
    TIMESTAMP(1519831018, 1, "\"2018-02-28T15:16:58.000000001Z\"");
    TIMESTAMP(1519831018, 999999999, "\"2018-02-28T15:16:58.999999999Z\"");
    TIMESTAMP(0, 0, "\"1970-01-01T00:00:00.000Z\"");
    TIMESTAMP(-1, 0, "\"1969-12-31T23:59:59.000Z\"");
    TIMESTAMP(951782400, 0, "\"2000-02-29T00:00:00.000Z\"");
    TIMESTAMP(253402300799LL, 999000000, "\"9999-12-31T23:59:59.999Z\"");
    TIMESTAMP(-62135596800LL, 0, "\"0001-01-01T00:00:00.000Z\"");
}

/* A memo for test_encode_memo: knows one message's text; records what it is asked to keep. */
typedef struct test_memo {
    const ProtobufCMessage *known;
    const char *text;
    int kept;
    size_t kept_len;
    char kept_text[512]; /* its first bytes */
} test_memo;

static const char *memo_find(void *data, const ProtobufCMessage *msg, size_t *len)
{
    test_memo *m = data;
    if (msg != m->known)
        return NULL;
    *len = strlen(m->text);
    return m->text;
}

static void memo_keep(void *data, const ProtobufCMessage *msg, const char *text, size_t len)
{
    test_memo *m = data;
    if (msg->descriptor != &schema_webhook_descriptor)
        return;
    m->kept++;
    m->kept_len = len;
    snprintf(m->kept_text, sizeof(m->kept_text), "%.*s", (int)len, text);
}

/* A message the memo knows is copied from it, not written; every other one is written and
 * handed to keep as exactly the text it is alone; in a second pass (an answer over the
 * stack's size) too. */
static void test_encode_memo(void)
{
    two_webhooks two;
    make_two(&two);
    schema_webhook *const a = &two.a, *const b = &two.b;
    schema_list_response *const list = &two.list;
    test_memo m = {.known = &a->base, .text = "{\"known\":1}"};
    codec_json_memo memo = {memo_find, memo_keep, &m};
    size_t len;
    char *out = codec_json_encode_memo(&list->base, NULL, &len, &memo);
    char *b_alone = codec_json_encode(&b->base, &(size_t){0});
    char want[1024];
    snprintf(want, sizeof want, "{\"items\":[{\"known\":1},%s]}", b_alone != NULL ? b_alone : "");
    CHECK(out != NULL && len == strlen(want));
    CHECK_STR(out, want);
    CHECK(m.kept == 1);
    CHECK_STR(m.kept_text, b_alone);
    free(out);

    /* the same over the stack's size: a description long enough for two passes */
    static char long_text[20000];
    memset(long_text, 'd', sizeof long_text - 1);
    b->description = long_text;
    free(b_alone);
    b_alone = codec_json_encode(&b->base, &(size_t){0});
    m.kept = 0;
    out = codec_json_encode_memo(&list->base, NULL, &len, &memo);
    CHECK(out != NULL && b_alone != NULL && strstr(out, b_alone) != NULL && strncmp(out, want, 22) == 0);
    CHECK(m.kept == 1 && b_alone != NULL && m.kept_len == strlen(b_alone)); /* whole only in the second pass */
    free(out);
    free(b_alone);
}

static void test_encode_list_and_error(void)
{
    schema_list_response list = SCHEMA_LIST_RESPONSE_INIT;
    ENCODED(&list, "{\"items\":[]}");

    schema_webhook a, b;
    schema_timestamp ta, tb;
    make_webhook(&a, &ta, 1519831018, 941000000);
    make_webhook(&b, &tb, 1519831019, 0);
    b.id = "5a96c7eb0e4c1b0001a0b0c1";
    b.description = "second";
    schema_webhook *items[] = {&a, &b};
    list.items = items;
    list.n_items = 2;
    ENCODED(&list, "{\"items\":[{\"id\":\"" WEBHOOK_ID "\",\"description\":\"\",\"ecosystemId\":\"" ECO
                   "\",\"url\":\"https://example.com/hook\",\"disabled\":false,\"createdAt\":\"2018-02-28T15:16:58.941Z\"},"
                   "{\"id\":\"5a96c7eb0e4c1b0001a0b0c1\",\"description\":\"second\",\"ecosystemId\":\"" ECO
                   "\",\"url\":\"https://example.com/hook\",\"disabled\":false,\"createdAt\":\"2018-02-28T15:16:59.000Z\"}]}");

    /* ErrorResponse, straight from the error value */
    error err;
    error_clear(&err);
    error_add_field(&err, ERROR_IN_BODY, 1, "ecosystem_id", "field is required");
    error_add_param(&err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters",
                    "contains fields that are not allowed: [ a, b ]");
    status_response r;
    status_response_fill(&err, &r);
    ENCODED(&r.msg, "{\"errorType\":\"InvalidParams\",\"errors\":[{\"in\":\"body\",\"path\":\"ecosystemId\","
                    "\"message\":\"field is required\"},{\"in\":\"query\",\"path\":\"additional parameters\","
                    "\"message\":\"contains fields that are not allowed: [ a, b ]\"}]}");

    /* a kind without params: one entry carrying the reason */
    error_clear(&err);
    error_set(&err, ERROR_NOT_FOUND, "Webhook with id %s does not exist.", WEBHOOK_ID);
    status_response_fill(&err, &r);
    ENCODED(&r.msg, "{\"errorType\":\"NotFound\",\"errors\":[{\"in\":\"\",\"path\":\"\","
                    "\"message\":\"Webhook with id " WEBHOOK_ID " does not exist.\"}]}");

    schema_error_response empty = SCHEMA_ERROR_RESPONSE_INIT;
    ENCODED(&empty, "{\"errorType\":\"\",\"errors\":[]}");

    schema_get_request get = SCHEMA_GET_REQUEST_INIT;
    ENCODED(&get, "{\"id\":\"\"}");
    get.id = NULL; /* a NULL string is the empty string */
    ENCODED(&get, "{\"id\":\"\"}");
}

/* ---- timestamps in and round trips ------------------------------------------------------ */

static schema_webhook *decode_webhook_at(const char *created_at, error *err)
{
    char json[256];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"createdAt\":\"%s\"}", WEBHOOK_ID, created_at);
    return (schema_webhook *)decode(&schema_webhook_descriptor, json, err);
}

static void expect_time(int line, const char *text, int64_t seconds, int32_t nanos)
{
    error err;
    schema_webhook *w = decode_webhook_at(text, &err);
    int ok = w != NULL && err.kind == ERROR_NONE && w->created_at != NULL && w->created_at->seconds == seconds &&
             w->created_at->nanos == nanos;
    if (!ok)
        fprintf(stderr, "test_codec_json.c:%d: %s: want %lld.%09d, got %s%lld.%09d (kind %d)\n", line, text,
                (long long)seconds, (int)nanos, w && w->created_at ? "" : "nothing, ",
                w && w->created_at ? (long long)w->created_at->seconds : 0LL,
                w && w->created_at ? (int)w->created_at->nanos : 0, (int)err.kind);
    CHECK(ok);
    free_msg(w);
}

static void expect_bad_time(int line, const char *text)
{
    error err;
    schema_webhook *w = decode_webhook_at(text, &err);
    const error_param *p = param_of(&err, "created_at");
    int ok = w != NULL && err.kind == ERROR_INVALID_PARAMS && p != NULL && p->order == 6 && w->created_at == NULL &&
             strcmp(w->id, WEBHOOK_ID) == 0;
    if (!ok)
        fprintf(stderr, "test_codec_json.c:%d: \"%s\" was not rejected as a createdAt problem (kind %d%s)\n", line,
                text, (int)err.kind, w && w->created_at ? ", decoded" : "");
    CHECK(ok);
    free_msg(w);
}

#define TIME_OK(text, sec, ns) expect_time(__LINE__, text, sec, ns)
#define TIME_BAD(text) expect_bad_time(__LINE__, text)

static void test_decode_timestamps(void)
{
    TIME_OK("2018-02-28T15:16:58.941Z", 1519831018, 941000000);
    TIME_OK("2018-02-28T15:16:58Z", 1519831018, 0);
    TIME_OK("2018-02-28T15:16:58.9Z", 1519831018, 900000000);
    TIME_OK("2018-02-28T15:16:58.941500Z", 1519831018, 941500000);
    TIME_OK("2018-02-28T15:16:58.123456789Z", 1519831018, 123456789);
    TIME_OK("2018-02-28T16:16:58.941+01:00", 1519831018, 941000000);
    TIME_OK("2018-02-28T14:16:58.941-01:00", 1519831018, 941000000);
    TIME_OK("2018-02-28T20:46:58.941+05:30", 1519831018, 941000000);
    TIME_OK("2018-03-01T00:16:58.941+09:00", 1519831018, 941000000); /* across a day */
    TIME_OK("2018-02-28T15:16:58.941+00:00", 1519831018, 941000000);
    TIME_OK("1970-01-01T00:00:00Z", 0, 0);
    TIME_OK("2016-02-29T00:00:00Z", 1456704000, 0); /* a leap day */
    TIME_OK("0001-01-01T00:00:00Z", -62135596800LL, 0);
    TIME_OK("9999-12-31T23:59:59.999999999Z", 253402300799LL, 999999999);

    TIME_BAD("2018-02-30T15:16:58.941Z");  /* no such day */
    TIME_BAD("2018-02-29T15:16:58Z");      /* not a leap year */
    TIME_BAD("2018-04-31T00:00:00Z");
    TIME_BAD("2018-13-01T00:00:00Z");
    TIME_BAD("2018-00-01T00:00:00Z");
    TIME_BAD("2018-02-00T00:00:00Z");
    TIME_BAD("2018-02-28T24:00:00Z");
    TIME_BAD("2018-02-28T15:60:00Z");
    TIME_BAD("2018-02-28T15:16:58.941");   /* no zone */
    TIME_BAD("2018-02-28T15:16:58");
    TIME_BAD("2018-02-28 15:16:58Z");
    TIME_BAD("2018-02-28");
    TIME_BAD("2018-2-28T15:16:58Z");
    TIME_BAD("2018-02-28T15:16:58.Z");
    TIME_BAD("2018-02-28T15:16:58.1234567890Z");
    TIME_BAD("2018-02-28T15:16:58.941Zjunk");
    TIME_BAD("2018-02-28T15:16:58.941+0100");
    TIME_BAD("2018-02-28T15:16:58.941+24:00");
    TIME_BAD("0000-01-01T00:00:00Z");
    TIME_BAD("0001-01-01T00:00:00+01:00"); /* before the Timestamp range once in UTC */
    TIME_BAD("9999-12-31T23:59:59-01:00"); /* after it */
    TIME_BAD("");
    TIME_BAD("not a time");
    /* RFC 3339 fields are exactly two (four) digits: no signs, no blanks */
    TIME_BAD("2018-02-28T15:-1:58Z");
    TIME_BAD("2018-02-28T15:16:-1Z");
    TIME_BAD("2018-02-28T15:16:58+-1:00");
    TIME_BAD("2018- 2-28T15:16:58Z");
    TIME_BAD("2018-02-28T15:16: 8Z");

    /* not a string at all */
    error err;
    schema_webhook *w = (schema_webhook *)decode(&schema_webhook_descriptor, "{\"createdAt\":1519831018}", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(param_of(&err, "created_at") != NULL);
    free_msg(w);
    w = (schema_webhook *)decode(&schema_webhook_descriptor,
                                 "{\"createdAt\":{\"seconds\":\"1\",\"nanos\":0}}", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(param_of(&err, "created_at") != NULL);
    free_msg(w);
    /* null is absent */
    w = (schema_webhook *)decode(&schema_webhook_descriptor, "{\"createdAt\":null,\"created_at\":null}", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS); /* given twice */
    free_msg(w);
    w = (schema_webhook *)decode(&schema_webhook_descriptor, "{\"createdAt\":null}", &err);
    CHECK(err.kind == ERROR_NONE);
    if (w != NULL)
        CHECK(w->created_at == NULL);
    free_msg(w);
}

static void test_round_trip(void)
{
    error err;
    schema_webhook *in = (schema_webhook *)decode(
        &schema_webhook_descriptor,
        "{\"id\":\"" WEBHOOK_ID "\",\"description\":\"d \\u00e9\",\"ecosystemId\":\"" ECO
        "\",\"url\":\"https://example.com/h?a=1&b=2\",\"disabled\":true,\"createdAt\":\"2018-02-28T16:16:58.941+01:00\"}",
        &err);
    CHECK(in != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (in == NULL)
        return;
    char *text = encode(in);
    CHECK_STR(text, "{\"id\":\"" WEBHOOK_ID "\",\"description\":\"d \xc3\xa9\",\"ecosystemId\":\"" ECO
                    "\",\"url\":\"https://example.com/h?a=1&b=2\",\"disabled\":true,"
                    "\"createdAt\":\"2018-02-28T15:16:58.941Z\"}");
    if (text != NULL) {
        schema_webhook *out = (schema_webhook *)decode(&schema_webhook_descriptor, text, &err);
        CHECK(out != NULL);
        CHECK(err.kind == ERROR_NONE);
        if (out != NULL) {
            CHECK_STR(out->id, in->id);
            CHECK_STR(out->description, in->description);
            CHECK_STR(out->ecosystem_id, in->ecosystem_id);
            CHECK_STR(out->url, in->url);
            CHECK(out->disabled == in->disabled);
            CHECK(out->created_at != NULL);
            if (out->created_at != NULL) {
                CHECK(out->created_at->seconds == 1519831018);
                CHECK(out->created_at->nanos == 941000000);
            }
            /* and binary protobuf agrees field for field */
            size_t n1 = protobuf_c_message_get_packed_size(&in->base), n2 = protobuf_c_message_get_packed_size(&out->base);
            CHECK(n1 == n2);
            uint8_t b1[512], b2[512];
            if (n1 == n2 && n1 <= sizeof b1) {
                protobuf_c_message_pack(&in->base, b1);
                protobuf_c_message_pack(&out->base, b2);
                CHECK(memcmp(b1, b2, n1) == 0);
            }
        }
        free_msg(out);
    }
    free(text);
    free_msg(in);

    /* finer fractions survive a round trip */
    schema_webhook w;
    schema_timestamp ts;
    static const int32_t nanos[] = {0, 941000000, 941500000, 941500001, 1};
    for (size_t i = 0; i < sizeof nanos / sizeof nanos[0]; i++) {
        make_webhook(&w, &ts, 1519831018, nanos[i]);
        char *s = encode(&w);
        schema_webhook *back = s != NULL ? (schema_webhook *)decode(&schema_webhook_descriptor, s, &err) : NULL;
        CHECK(back != NULL && back->created_at != NULL);
        if (back != NULL && back->created_at != NULL) {
            CHECK(back->created_at->seconds == 1519831018);
            CHECK(back->created_at->nanos == nanos[i]);
        }
        free_msg(back);
        free(s);
    }

    /* a list: items and their timestamps decode, then free_unpacked releases all of it */
    schema_list_response *list = (schema_list_response *)decode(
        &schema_list_response_descriptor,
        "{\"items\":[{\"id\":\"a\",\"createdAt\":\"2018-02-28T15:16:58.941Z\"},{\"id\":\"b\",\"url\":\"u\"}]}", &err);
    CHECK(list != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (list != NULL) {
        CHECK(list->n_items == 2);
        if (list->n_items == 2) {
            CHECK_STR(list->items[0]->id, "a");
            CHECK(list->items[0]->created_at != NULL);
            CHECK_STR(list->items[1]->url, "u");
            CHECK(list->items[1]->created_at == NULL);
        }
        char *s = encode(list);
        CHECK(s != NULL && strncmp(s, "{\"items\":[{\"id\":\"a\",", 20) == 0);
        free(s);
    }
    free_msg(list);

    /* a bad item: a problem, and whatever was decoded is still freed cleanly */
    list = (schema_list_response *)decode(&schema_list_response_descriptor,
                                          "{\"items\":[{\"id\":\"a\"},{\"id\":5},{\"id\":\"c\"}]}", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params >= 1);
    if (err.n_params >= 1)
        CHECK(err.params[0].order == 1);
    free_msg(list);
    list = (schema_list_response *)decode(&schema_list_response_descriptor, "{\"items\":{}}", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    free_msg(list);
    list = (schema_list_response *)decode(&schema_list_response_descriptor, "{\"items\":[]}", &err);
    CHECK(err.kind == ERROR_NONE);
    if (list != NULL)
        CHECK(list->n_items == 0);
    free_msg(list);
}

/* The int64 and int32 fields of a Timestamp decoded as a plain message. */
static void test_integers(void)
{
    error err;
    schema_timestamp *t =
        (schema_timestamp *)decode(&schema_timestamp_descriptor, "{\"seconds\":\"-5\",\"nanos\":7}", &err);
    CHECK(t != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (t != NULL) {
        CHECK(t->seconds == -5);
        CHECK(t->nanos == 7);
        ENCODED(t, "{\"seconds\":\"-5\",\"nanos\":7}"); /* int64 out as a string */
    }
    free_msg(t);
    t = (schema_timestamp *)decode(&schema_timestamp_descriptor,
                                   "{\"seconds\":9223372036854775807,\"nanos\":\"-2147483648\"}", &err);
    CHECK(err.kind == ERROR_NONE);
    if (t != NULL) {
        CHECK(t->seconds == INT64_MAX);
        CHECK(t->nanos == INT32_MIN);
    }
    free_msg(t);
    static const char *bad[] = {"{\"nanos\":2147483648}", "{\"nanos\":1.5}", "{\"nanos\":\"1x\"}",
                                "{\"nanos\":true}",       "{\"seconds\":\"\"}", "{\"seconds\":\"9223372036854775808\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = (schema_timestamp *)decode(&schema_timestamp_descriptor, bad[i], &err);
        if (err.kind != ERROR_INVALID_PARAMS)
            fprintf(stderr, "  accepted %s\n", bad[i]);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params == 1);
        free_msg(t);
    }
}

/* ---- Struct, Value, ListValue ------------------------------------------------------------ */

/* Decodes json as desc, which must read without a problem, and checks that it encodes as
 * want (json itself when want is NULL), also after a trip through binary protobuf (which
 * keeps keys and values in order). Returns the message (free it), or NULL. */
static ProtobufCMessage *json_trip(int line, const ProtobufCMessageDescriptor *desc, const char *json, const char *want)
{
    error err;
    ProtobufCMessage *m = decode(desc, json, &err);
    if (m == NULL || err.kind != ERROR_NONE) {
        fprintf(stderr, "test_codec_json.c:%d: %s was not read (kind %d%s%s)\n", line, json, (int)err.kind,
                err.n_params ? ": " : "", err.n_params ? error_param_message(&err, 0) : "");
        test_failures++;
        free_msg(m);
        return NULL;
    }
    check_encoded(line, m, want != NULL ? want : json);
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *bin = malloc(n + 1);
    CHECK(bin != NULL);
    if (bin != NULL) {
        protobuf_c_message_pack(m, bin);
        ProtobufCMessage *back = protobuf_c_message_unpack(desc, NULL, n, bin);
        CHECK(back != NULL);
        if (back != NULL)
            check_encoded(line, back, want != NULL ? want : json);
        free_msg(back);
        free(bin);
    }
    return m;
}

#define ROUND_TRIP(desc, json) free_msg(json_trip(__LINE__, desc, json, NULL))
#define NORMALISED(desc, json, want) free_msg(json_trip(__LINE__, desc, json, want))

/* Every kind of value, nested in objects and arrays, keys in an order that is not sorted. */
#define EVENT_ITEMS                                                                                                    \
    "[{\"id\":7,\"name\":\"lamp\",\"on\":true,\"off\":false,\"none\":null,"                                            \
    "\"tags\":[\"a\",1.5,null,true,{\"k\":[]},[[]],-3],\"nested\":{\"deeper\":{\"deepest\":{}}},\"empty\":{}},"        \
    "{},{\"z\":1,\"a\":2,\"m\":3}]"
#define PUBLISH_JSON "{\"ecosystemId\":\"" ECO "\",\"items\":" EVENT_ITEMS "}"

static const schema_value *entry_value(const schema_struct *s, size_t i, const char *key)
{
    if (s == NULL || i >= s->n_fields || s->fields[i] == NULL || strcmp(s->fields[i]->key, key) != 0) {
        fprintf(stderr, "  no entry %zu named %s\n", i, key);
        return NULL;
    }
    return s->fields[i]->value;
}

static void test_struct_round_trips(void)
{
    schema_publish_request *r =
        (schema_publish_request *)json_trip(__LINE__, &schema_publish_request_descriptor, PUBLISH_JSON, NULL);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_STR(r->ecosystem_id, ECO);
        CHECK(r->n_items == 3);
        if (r->n_items == 3) {
            const schema_struct *first = r->items[0], *last = r->items[2];
            CHECK(first->n_fields == 8);
            CHECK(r->items[1]->n_fields == 0);
            /* the body's order, not sorted */
            CHECK(last->n_fields == 3);
            const schema_value *v = entry_value(last, 0, "z");
            CHECK(v != NULL && v->kind_case == SCHEMA_VALUE_NUMBER && v->number_value == 1);
            CHECK(entry_value(last, 1, "a") != NULL);
            CHECK(entry_value(last, 2, "m") != NULL);
            v = entry_value(first, 1, "name");
            CHECK(v != NULL && v->kind_case == SCHEMA_VALUE_STRING && strcmp(v->string_value, "lamp") == 0);
            v = entry_value(first, 2, "on");
            CHECK(v != NULL && v->kind_case == SCHEMA_VALUE_BOOL && v->bool_value);
            v = entry_value(first, 4, "none");
            CHECK(v != NULL && v->kind_case == SCHEMA_VALUE_NULL);
            v = entry_value(first, 5, "tags");
            CHECK(v != NULL && v->kind_case == SCHEMA_VALUE_LIST && v->list_value->n_values == 7);
            if (v != NULL && v->kind_case == SCHEMA_VALUE_LIST && v->list_value->n_values == 7) {
                CHECK(v->list_value->values[1]->number_value == 1.5);
                CHECK(v->list_value->values[2]->kind_case == SCHEMA_VALUE_NULL);
                CHECK(v->list_value->values[4]->kind_case == SCHEMA_VALUE_STRUCT);
                CHECK(v->list_value->values[5]->kind_case == SCHEMA_VALUE_LIST);
            }
            v = entry_value(first, 6, "nested");
            CHECK(v != NULL && v->kind_case == SCHEMA_VALUE_STRUCT && v->struct_value->n_fields == 1);
        }
    }
    free_msg(r);

    /* what every delivery sends, and the event as GetEvent shows it */
    ROUND_TRIP(&schema_event_body_descriptor, "{\"items\":" EVENT_ITEMS "}");
    ROUND_TRIP(&schema_event_body_descriptor, "{\"items\":[]}");
    ROUND_TRIP(&schema_event_descriptor, "{\"id\":\"e\",\"ecosystemId\":\"" ECO "\",\"createdAt\":null,\"items\":"
                                         "[{\"a\":[1,{}]}],\"deliveries\":[]}");
    /* strings escaped as everywhere else; any key, the empty one too */
    ROUND_TRIP(&schema_event_body_descriptor,
               "{\"items\":[{\"text\":\"q\\\" b\\\\ n\\n t\\t c\\u0001 \xc3\xa9 \xf0\x9f\x98\x80\",\"\":\"\","
               "\"k\\\"ey \xc3\xa9\":{\"\\n\":[\"\"]}}]}");
    /* one top-level object with many keys, in the order given */
    ROUND_TRIP(&schema_event_body_descriptor, "{\"items\":[{\"b\":1,\"a\":2,\"d\":3,\"c\":4,\"f\":5,\"e\":6,\"h\":7,"
                                              "\"g\":8,\"j\":9,\"i\":10,\"l\":11,\"k\":12}]}");
    /* past the encoder's stack buffer: measured, then written in a second pass */
    char *big = malloc(65536);
    CHECK(big != NULL);
    if (big != NULL) {
        char *p = big + sprintf(big, "{\"items\":[{\"first\":{}");
        for (int i = 0; i < 1200; i++)
            p += sprintf(p, ",\"k%d\":[%d,\"v%d\",{\"x\":%s}]", 1199 - i, i, i, i % 2 ? "true" : "null");
        strcpy(p, "},{}]}");
        CHECK(strlen(big) > 2 * 16384 && strlen(big) < 65536); /* CODEC_JSON_STACK_BYTES, private to codec_json.c */
        ROUND_TRIP(&schema_event_body_descriptor, big);
        free(big);
    }
    /* other spellings of the same JSON come out in the one canonical form */
    NORMALISED(&schema_event_body_descriptor, " { \"items\" : [ { \"a\" : [ 1.0 , 1E3 , 0.10 ] , \"b\":{ } } ] } ",
               "{\"items\":[{\"a\":[1,1000,0.1],\"b\":{}}]}");
    NORMALISED(&schema_publish_request_descriptor, "{\"items\":[{}],\"ecosystem_id\":\"x\"}",
               "{\"ecosystemId\":\"x\",\"items\":[{}]}");

    /* the three by themselves: an object, any value (in a body: an object or array), an array */
    ROUND_TRIP(&schema_struct_descriptor, "{\"b\":[1,{\"c\":null}],\"a\":\"x\"}");
    ROUND_TRIP(&schema_value_descriptor, "[1,\"two\",{\"three\":[]}]");
    ROUND_TRIP(&schema_value_descriptor, "{}");
    ROUND_TRIP(&schema_list_value_descriptor, "[1,[],{},null]");
    error err;
    ProtobufCMessage *m = decode(&schema_list_value_descriptor, "{}", &err);
    CHECK(m == NULL && err.kind == ERROR_INVALID_BODY && err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "must be a JSON array");
    free_msg(m);
    m = decode(&schema_struct_descriptor, "[]", &err);
    CHECK(m == NULL && err.kind == ERROR_INVALID_BODY);
    free_msg(m);

    /* a Value field is the one place null is a value rather than absence */
    schema_struct_entry *e = (schema_struct_entry *)json_trip(__LINE__, &schema_struct_entry_descriptor,
                                                              "{\"key\":\"k\",\"value\":null}", NULL);
    CHECK(e != NULL && e->value != NULL && e->value->kind_case == SCHEMA_VALUE_NULL);
    free_msg(e);
}

/* text, read into a Value, is the double want, and is written back as the same text */
static void check_number(int line, const char *text, double want)
{
    char json[128];
    snprintf(json, sizeof json, "{\"items\":[{\"n\":%s}]}", text);
    schema_event_body *b = (schema_event_body *)json_trip(line, &schema_event_body_descriptor, json, NULL);
    const schema_value *v = b != NULL && b->n_items == 1 ? entry_value(b->items[0], 0, "n") : NULL;
    int ok = v != NULL && v->kind_case == SCHEMA_VALUE_NUMBER && v->number_value == want &&
             !signbit(v->number_value) == !signbit(want);
    if (!ok)
        fprintf(stderr, "test_codec_json.c:%d: %s was read as %.17g, not %.17g\n", line, text,
                v != NULL ? v->number_value : 0.0, want);
    CHECK(ok);
    free_msg(b);
}

#define NUMBER(text, want) check_number(__LINE__, text, want)

static void test_struct_numbers(void)
{
    NUMBER("0", 0.0);
    NUMBER("-0.0", -0.0); /* jansson reads "-0" as the integer 0: the sign needs the fraction */
    NUMBER("1", 1.0);
    NUMBER("-42", -42.0);
    NUMBER("1.5", 1.5);
    NUMBER("0.1", 0.1);
    NUMBER("0.30000000000000004", 0.1 + 0.2);
    NUMBER("123456.789", 123456.789);
    NUMBER("1e-7", 1e-7);   /* JavaScript's layout (JSON.stringify): no padded exponent */
    NUMBER("0.000001", 1e-6); /* the smallest written without one */
    NUMBER("0.00001", 1e-5);
    NUMBER("1.5e-7", 1.5e-7);
    NUMBER("1e+300", 1e300);
    NUMBER("-1e+300", -1e300);
    NUMBER("9007199254740992", 9007199254740992.0); /* 2^53 */
    NUMBER("-9007199254740992", -9007199254740992.0);
    NUMBER("9007199254740994", 9007199254740994.0); /* past 2^53, still exact as digits */
    NUMBER("1000000000000000", 1e15);               /* where %g would take an exponent */
    NUMBER("10000000000000000", 1e16);
    NUMBER("100000000000000000", 1e17);
    NUMBER("1e+18", 1e18);          /* JavaScript writes 19 digits; jansson reads no integer past int64 */
    NUMBER("1e+21", 1e21);
    NUMBER("1.23456e-298", 123.456e-300);
    NUMBER("1.7976931348623157e+308", DBL_MAX);
    NUMBER("2.2250738585072014e-308", DBL_MIN);
    NUMBER("5e-324", 4.9406564584124654e-324); /* the smallest subnormal */
    NUMBER("1.2345678901234567e+19", 12345678901234567000.0);

    /* other spellings of the same numbers */
    NORMALISED(&schema_event_body_descriptor,
               "{\"items\":[{\"a\":-0,\"b\":1.0,\"c\":1e300,\"d\":9007199254740993,\"e\":100e-2,\"f\":-0.0e0}]}",
               "{\"items\":[{\"a\":0,\"b\":1,\"c\":1e+300,\"d\":9007199254740992,\"e\":1,\"f\":-0.0}]}");

    /* what binary protobuf can hold but JSON numbers cannot: strings; and null for a
     * Value that holds nothing */
    schema_value nan, inf, ninf, unset, no_struct;
    schema_value *values[6] = {&nan, &inf, &ninf, &unset, &no_struct, NULL};
    for (int i = 0; i < 5; i++)
        protobuf_c_message_init(&schema_value_descriptor, values[i]);
    nan.kind_case = inf.kind_case = ninf.kind_case = SCHEMA_VALUE_NUMBER;
    nan.number_value = NAN;
    inf.number_value = INFINITY;
    ninf.number_value = -INFINITY;
    no_struct.kind_case = SCHEMA_VALUE_STRUCT;
    static const char *keys[6] = {"nan", "inf", "ninf", "unset", "no_struct", "none"};
    schema_struct_entry entries[6], *fields[6];
    for (int i = 0; i < 6; i++) {
        protobuf_c_message_init(&schema_struct_entry_descriptor, &entries[i]);
        entries[i].key = (char *)keys[i];
        entries[i].value = values[i];
        fields[i] = &entries[i];
    }
    schema_struct item;
    protobuf_c_message_init(&schema_struct_descriptor, &item);
    item.fields = fields;
    item.n_fields = 6;
    schema_struct *items[] = {&item};
    schema_event_body body = SCHEMA_EVENT_BODY_INIT;
    body.items = items;
    body.n_items = 1;
    ENCODED(&body, "{\"items\":[{\"nan\":\"NaN\",\"inf\":\"Infinity\",\"ninf\":\"-Infinity\",\"unset\":null,"
                   "\"no_struct\":null,\"none\":null}]}");
    ENCODED(&nan, "\"NaN\"");
    ENCODED(&item, "{\"nan\":\"NaN\",\"inf\":\"Infinity\",\"ninf\":\"-Infinity\",\"unset\":null,\"no_struct\":null,"
                   "\"none\":null}");
}

/* {"items":[ then `objects` objects (each under key "a") around `arrays` arrays around 1 ]}:
 * nesting 2 + objects + arrays with the body's object and the items array. */
static char *nested_items(int objects, int arrays)
{
    char *s = malloc((size_t)(objects * 6 + arrays * 2) + 32);
    if (s == NULL)
        return NULL;
    char *p = s + sprintf(s, "{\"items\":[");
    for (int i = 0; i < objects; i++)
        p += sprintf(p, "{\"a\":");
    for (int i = 0; i < arrays; i++)
        *p++ = '[';
    *p++ = '1';
    for (int i = 0; i < arrays; i++)
        *p++ = ']';
    for (int i = 0; i < objects; i++)
        *p++ = '}';
    strcpy(p, "]}");
    return s;
}

static void expect_too_deep(int line, char *body)
{
    error err;
    ProtobufCMessage *m = body != NULL ? decode(&schema_publish_request_descriptor, body, &err) : NULL;
    int ok = body != NULL && m == NULL && err.kind == ERROR_INVALID_BODY && err.n_params == 1 &&
             strcmp(error_param_path(&err, 0), "body") == 0 &&
             strstr(error_param_message(&err, 0), "deeper than 32 levels") != NULL;
    if (!ok)
        fprintf(stderr, "test_codec_json.c:%d: not refused as too deep (kind %d)\n", line, (int)err.kind);
    CHECK(ok);
    free_msg(m);
    free(body);
}

static void test_struct_depth(void)
{
    _Static_assert(CODEC_JSON_MAX_DEPTH == 32, "the messages below say 32");
    /* the limit counts every level: body, items array, then the Struct's own */
    char *s = nested_items(CODEC_JSON_MAX_DEPTH - 2, 0);
    CHECK(s != NULL);
    if (s != NULL)
        ROUND_TRIP(&schema_event_body_descriptor, s);
    free(s);
    s = nested_items(1, CODEC_JSON_MAX_DEPTH - 3);
    CHECK(s != NULL);
    if (s != NULL)
        ROUND_TRIP(&schema_event_body_descriptor, s);
    free(s);
    s = nested_items(10, CODEC_JSON_MAX_DEPTH - 12);
    CHECK(s != NULL);
    if (s != NULL)
        ROUND_TRIP(&schema_event_body_descriptor, s);
    free(s);
    expect_too_deep(__LINE__, nested_items(CODEC_JSON_MAX_DEPTH - 1, 0));
    expect_too_deep(__LINE__, nested_items(1, CODEC_JSON_MAX_DEPTH - 2));
    expect_too_deep(__LINE__, nested_items(10, CODEC_JSON_MAX_DEPTH - 11));
    expect_too_deep(__LINE__, nested_items(1000, 0)); /* far deeper, still within what jansson reads */
}

static void test_struct_wrong_types(void)
{
    /* an item that is not an object: a problem at its path, the others still read */
    static const char *bad[] = {"\"lamp\"", "1", "true", "null", "[]", "[{}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"ecosystemId\":\"x\",\"items\":[{\"a\":1},%s,{}]}", bad[i]);
        error err;
        schema_publish_request *r = (schema_publish_request *)decode(&schema_publish_request_descriptor, json, &err);
        CHECK(r != NULL);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params == 1);
        if (err.n_params == 1) {
            CHECK_STR(error_param_path(&err, 0), "items[1]");
            CHECK_STR(error_param_message(&err, 0), "must be an object");
            CHECK(err.params[0].order == 2); /* items is field 2 */
        }
        if (r != NULL) {
            CHECK_STR(r->ecosystem_id, "x");
            CHECK(r->n_items == 1); /* what read before the problem, freed with the message */
        }
        free_msg(r);
    }
    /* items that are not an array */
    static const char *not_array[] = {"{}", "{\"a\":1}", "\"x\"", "1"};
    for (size_t i = 0; i < sizeof not_array / sizeof not_array[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"items\":%s}", not_array[i]);
        error err;
        ProtobufCMessage *m = decode(&schema_event_body_descriptor, json, &err);
        CHECK(m != NULL);
        CHECK(err.kind == ERROR_INVALID_PARAMS && err.n_params == 1);
        if (err.n_params == 1) {
            CHECK_STR(error_param_path(&err, 0), "items");
            CHECK_STR(error_param_message(&err, 0), "must be an array");
        }
        free_msg(m);
    }
    /* jansson's rule, inside a Struct too: an integer literal past int64 is unreadable */
    error err;
    ProtobufCMessage *m = decode(&schema_event_body_descriptor, "{\"items\":[{\"n\":18446744073709551616}]}", &err);
    CHECK(m == NULL && err.kind == ERROR_INVALID_BODY);
    free_msg(m);
    /* null is absent, as for any field */
    schema_event_body *b = (schema_event_body *)decode(&schema_event_body_descriptor, "{\"items\":null}", &err);
    CHECK(b != NULL && err.kind == ERROR_NONE && b->n_items == 0);
    free_msg(b);
    /* and a Struct's values are anything: a Struct field of another message, as unknown keys */
    schema_publish_request *r = (schema_publish_request *)decode(
        &schema_publish_request_descriptor, "{\"items\":[{\"ecosystemId\":5,\"items\":\"no\"}],\"x\":{}}", &err);
    CHECK(r != NULL && err.kind == ERROR_INVALID_PARAMS && err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_path(&err, 0), "additional parameters");
    free_msg(r);
}

/* A caller's allocator: every allocation a decode makes is freed by free_unpacked with it. */
static long live_allocations;

static void *count_alloc(void *data, size_t size)
{
    (void)data;
    live_allocations++;
    return malloc(size);
}

static void count_free(void *data, void *p)
{
    (void)data;
    if (p != NULL)
        live_allocations--;
    free(p);
}

static void test_allocator(void)
{
    ProtobufCAllocator alloc = {count_alloc, count_free, NULL};
    error err;
    const char *bodies[] = {
        "{\"items\":[{\"id\":\"a\",\"createdAt\":\"2018-02-28T15:16:58.941Z\"},{\"description\":\"b\"}]}",
        "{\"items\":[{\"id\":\"a\"},{\"id\":5}]}",
        "{\"items\":[{\"createdAt\":\"bad\"}],\"x\":1}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        error_clear(&err);
        ProtobufCMessage *m = codec_json_decode(&schema_list_response_descriptor, bodies[i], strlen(bodies[i]), &alloc,
                                                &err);
        CHECK(m != NULL);
        CHECK(live_allocations > 0);
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, &alloc);
        if (live_allocations != 0)
            fprintf(stderr, "  body %zu: %ld allocations left\n", i, live_allocations);
        CHECK(live_allocations == 0);
        live_allocations = 0;
    }
    /* Struct, Value and ListValue come from the caller's allocator too, a problem or not */
    const char *events[] = {PUBLISH_JSON, "{\"items\":[{\"a\":[1,{\"b\":\"c\"}]},\"not an object\"]}"};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        error_clear(&err);
        ProtobufCMessage *m =
            codec_json_decode(&schema_publish_request_descriptor, events[i], strlen(events[i]), &alloc, &err);
        CHECK(m != NULL);
        CHECK(err.kind == (i == 0 ? ERROR_NONE : ERROR_INVALID_PARAMS));
        CHECK(live_allocations > 10);
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, &alloc);
        if (live_allocations != 0)
            fprintf(stderr, "  event %zu: %ld allocations left\n", i, live_allocations);
        CHECK(live_allocations == 0);
        live_allocations = 0;
    }
    /* an unreadable body allocates nothing the caller must free */
    error_clear(&err);
    CHECK(codec_json_decode(&schema_list_response_descriptor, "{", 1, &alloc, &err) == NULL);
    CHECK(live_allocations == 0);
}

/* Out of memory, SQLite's way: every allocation of a decode and an encode fails in turn.
 * A decode that runs out says ERROR_INTERNAL (never blames the client's body) and returns
 * nothing, or returns exactly what was sent; an encode returns NULL; neither leaks. The
 * first two promises hold only with the server's jansson arena installed (see decode_text
 * in codec_json.c), so the decodes run both ways. */
typedef struct json_oom {
    const ProtobufCMessageDescriptor *desc;
    int arena;             /* codec_json_install_arena is on: every failure is seen */
    const char *json;      /* decode: the input */
    const void *msg;       /* encode: the input */
    const char *want;      /* encode: the whole output; decode: the input re-encoded */
    ProtobufCMessage *out; /* decode's result */
    char *text;            /* encode's result */
    error err;
} json_oom;

static int json_oom_decode(void *ctx)
{
    json_oom *o = ctx;
    error_clear(&o->err);
    o->out = codec_json_decode(o->desc, o->json, strlen(o->json), NULL, &o->err);
    return o->out != NULL ? 0 : -1;
}

static void json_oom_decode_check(void *ctx, int ok)
{
    json_oom *o = ctx;
    if (!ok) {
        CHECK(o->out == NULL);
        /* without the arena, jansson may call its own out-of-memory a syntax error */
        CHECK(o->err.kind == ERROR_INTERNAL || (!o->arena && o->err.kind == ERROR_INVALID_BODY));
        return;
    }
    CHECK(o->err.kind == ERROR_NONE);
    if (!o->arena)
        return; /* and may drop a character of a string it returns (jansson 2.14's lex_save) */
    char *again = codec_json_encode(o->out, &(size_t){0});
    CHECK_STR(again, o->want);
    free(again);
}

static void json_oom_encode_check(void *ctx, int ok)
{
    json_oom *o = ctx;
    if (ok)
        CHECK_STR(o->text, o->want);
    else
        CHECK(o->text == NULL);
}

static int json_oom_encode(void *ctx)
{
    json_oom *o = ctx;
    size_t len = 0;
    o->text = codec_json_encode(o->msg, &len);
    return o->text != NULL ? 0 : -1;
}

static void json_oom_free(void *ctx)
{
    json_oom *o = ctx;
    free_msg(o->out);
    o->out = NULL;
    free(o->text);
    o->text = NULL;
}

static void test_out_of_memory(void)
{
    const char *create = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/hook\",\"secret\":\"s3cret\","
                         "\"description\":\"d\"}";
    json_oom o = {.desc = &schema_create_request_descriptor, .json = create, .want = create};
    oom_op op = {
        "codec_json_decode(CreateWebhookRequest)", &o, NULL, json_oom_decode, json_oom_decode_check, json_oom_free};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);

    /* unknown keys and a wrong type: the problems are allocated too */
    o.json = "{\"ecosystemId\":7,\"url\":\"https://example.com/hook\",\"foo\":1,\"bar\":[]}";
    o.want = "{\"ecosystemId\":\"\",\"url\":\"https://example.com/hook\",\"secret\":\"\",\"description\":\"\"}";
    op.check = NULL; /* err carries the problems; only the no-leak rule is checked */
    op.name = "codec_json_decode(CreateWebhookRequest with problems)";
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);

    two_webhooks two;
    make_two(&two);
    char *want = codec_json_encode(&two.list.base, &(size_t){0});
    CHECK(want != NULL);
    json_oom e = {.msg = &two.list, .want = want};
    oom_op enc = {
        "codec_json_encode(ListWebhooksResponse)", &e, NULL, json_oom_encode, json_oom_encode_check, json_oom_free};
    CHECK(oom_loop(&enc) == 0);
    CHECK(oom_loop_persistent(&enc) == 0);

    json_oom d = {.desc = &schema_list_response_descriptor, .json = want, .want = want};
    oom_op dec = {
        "codec_json_decode(ListWebhooksResponse)", &d, NULL, json_oom_decode, json_oom_decode_check, json_oom_free};
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    char *list_json = want;

    /* bytes fields: base64 in JSON */
    const char *stored = "{\"id\":\"WpbH6g5MGwABoLDA\",\"createdMs\":\"1519831018941\",\"disabled\":false,"
                         "\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/hook\",\"secret\":\"\","
                         "\"description\":\"\",\"idempotencyKey\":\"AP+Afw==\"}";
    d = (json_oom){.desc = &schema_stored_webhook_descriptor, .json = stored, .want = stored};
    dec.name = "codec_json_decode(StoredWebhook)";
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);

    /* an event's items: every Struct, entry, key, Value and ListValue is an allocation */
    d = (json_oom){.desc = &schema_publish_request_descriptor, .json = PUBLISH_JSON, .want = PUBLISH_JSON};
    dec.name = "codec_json_decode(PublishEventRequest)";
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);

    /* a body whose escapes grow yajl's buffers past the decode's arena: a failed allocation
     * there leaves the fast parse by longjmp, which must free the tree jansson (on malloc,
     * as in the SDK) had built so far */
    size_t big_cap = 50 * 16 + 3000 * 12 + 64;
    char *big_body = malloc(big_cap);
    CHECK(big_body != NULL);
    if (big_body != NULL) {
        size_t n = (size_t)sprintf(big_body, "{\"ecosystemId\":\"" ECO "\",\"items\":[");
        for (int i = 0; i < 50; i++)
            n += (size_t)sprintf(big_body + n, "%s{\"k%d\":\"v\"}", i ? "," : "", i);
        n += (size_t)sprintf(big_body + n, ",{\"s\":\"");
        for (int i = 0; i < 3000; i++)
            n += (size_t)sprintf(big_body + n, "ab\\n\\u00e9");
        sprintf(big_body + n, "\"}]}");
        d = (json_oom){.desc = &schema_publish_request_descriptor, .json = big_body, .want = NULL};
        oom_op big = {"codec_json_decode(PublishEventRequest, escapes past the arena)", &d, NULL, json_oom_decode,
                      NULL, json_oom_free};
        CHECK(oom_loop(&big) == 0);
        free(big_body);
    }
    error err;
    ProtobufCMessage *event = decode(&schema_publish_request_descriptor, PUBLISH_JSON, &err);
    CHECK(event != NULL);
    json_oom ev = {.msg = event, .want = PUBLISH_JSON};
    enc.ctx = &ev;
    enc.name = "codec_json_encode(PublishEventRequest)";
    CHECK(oom_loop(&enc) == 0);
    CHECK(oom_loop_persistent(&enc) == 0);
    free_msg(event);

    schema_create_request req = SCHEMA_CREATE_REQUEST_INIT;
    req.ecosystem_id = ECO;
    req.url = "https://example.com/hook";
    req.secret = "s3cret";
    req.description = "d";
    json_oom c = {.msg = &req, .want = create};
    enc.ctx = &c;
    enc.name = "codec_json_encode(CreateWebhookRequest)";
    CHECK(oom_loop(&enc) == 0);
    CHECK(oom_loop_persistent(&enc) == 0);

    /* as the server runs it: jansson in the per-decode arena, malloc past it (a long body) */
    codec_json_install_arena();
    o = (json_oom){.desc = &schema_create_request_descriptor, .arena = 1, .json = create, .want = create};
    op = (oom_op){"codec_json_decode(CreateWebhookRequest, arena)",
                  &o,
                  NULL,
                  json_oom_decode,
                  json_oom_decode_check,
                  json_oom_free};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    d = (json_oom){.desc = &schema_list_response_descriptor, .arena = 1, .json = list_json, .want = list_json};
    dec.name = "codec_json_decode(ListWebhooksResponse, arena)";
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    free(list_json);
    d = (json_oom){.desc = &schema_publish_request_descriptor, .arena = 1, .json = PUBLISH_JSON, .want = PUBLISH_JSON};
    dec.name = "codec_json_decode(PublishEventRequest, arena)";
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    size_t n = 20000; /* past ARENA_BYTES, so jansson's string falls back to malloc */
    char *big = malloc(n + 200), *big_want = malloc(n + 200);
    CHECK(big != NULL && big_want != NULL);
    int len = snprintf(big, 200,
                       "{\"ecosystemId\":\"" ECO
                       "\",\"url\":\"https://example.com/hook\",\"secret\":\"\",\"description\":\"");
    memset(big + len, 'x', n);
    strcpy(big + len + n, "\"}");
    strcpy(big_want, big);
    o = (json_oom){.desc = &schema_create_request_descriptor, .arena = 1, .json = big, .want = big_want};
    op.name = "codec_json_decode(CreateWebhookRequest, arena, long description)";
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    free(big);
    free(big_want);
}

/* The fast parse (yajl) builds json_loadb's tree for ordinary JSON, and leaves to json_loadb
 * every text where the two could differ (NULL), whose errors the other tests pin. */
static void test_fast_parse(void)
{
    static const char *const same[] = {
        "{\"ecosystemId\":\"C5156b8ace57896adb6dae592\",\"url\":\"https://example.com/h\"}",
        " { \"a\" : [ 1 , -2.5e3 , \"x\\n\\u00e9\\/\" , true , false , null , { } , [ ] ] }\r\n",
        "{\"b\":1,\"a\":2,\"\":{\"k\\\"ey\":\"\xc3\xa9\"}}",
        "[]",
        /* an escaped key, then an escaped value: yajl decodes both into one buffer */
        "{\"descr\\u0069ption\":\"caf\\u00e9\",\"k\\n\":{\"\\t\":\"\\\"\"}}",
        "{\"n\":-9223372036854775808,\"m\":9223372036854775807,\"r\":1e-400,\"z\":-0,\"w\":-0.0}",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        json_t *fast = codec_json_parse_fast(same[i], strlen(same[i]));
        json_error_t jerr;
        json_t *ref = json_loadb(same[i], strlen(same[i]), JSON_REJECT_DUPLICATES, &jerr);
        CHECK(fast != NULL && ref != NULL);
        char *a = fast != NULL ? json_dumps(fast, JSON_COMPACT) : NULL, *b = json_dumps(ref, JSON_COMPACT);
        if (a == NULL || b == NULL || strcmp(a, b) != 0)
            fprintf(stderr, "  fast parse of %s: %s, json_loadb: %s\n", same[i], a ? a : "(none)", b ? b : "(none)");
        CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
        free(a);
        free(b);
        json_decref(fast);
        json_decref(ref);
    }
    static const char *const left_to_jansson[] = {
        "{\"a\":\"\\ud800\"}",            /* an unpaired surrogate: yajl would make it '?' */
        "{\"a\":\"\\uDC00\"}",
        "{\"a\":\"\\ud83d\\ude00\"}", /* even a pair: every surrogate escape is jansson's to read */
        "{\"a\":1,\f\"b\":2}",             /* \f is no JSON white space */
        "{\"a\":1}\v",
        "{\"a\":\"x\\u0000y\"}",          /* NUL */
        "{\"a\\u0000\":1}",
        "{\"a\":9223372036854775808}", /* past int64 */
        "{\"a\":-9223372036854775809}",
        "{\"a\":1e400}",               /* overflows */
        "{\"a\":1,\"a\":2}",           /* duplicate */
        "{\"a\":\"\xc0\xaf\"}",          /* overlong */
        "{\"a\":\"\xed\xa0\x80\"}",      /* a surrogate in UTF-8 */
        "{\"a\":1}  \"}",              /* an unfinished token after the value */
        "{\"a\":1} x",
        "\"a string\"",                /* not an object or an array */
        "1",
        "",
        "{\"a\":1 /* c */}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", /* past FAST_DEPTH_MAX */
    };
    for (size_t i = 0; i < sizeof(left_to_jansson) / sizeof(left_to_jansson[0]); i++) {
        json_t *fast = codec_json_parse_fast(left_to_jansson[i], strlen(left_to_jansson[i]));
        if (fast != NULL)
            fprintf(stderr, "  the fast parse took %s\n", left_to_jansson[i]);
        CHECK(fast == NULL);
        json_decref(fast);
    }
}

/* The direct decode: what it takes is what the tree decode builds without a problem (the
 * same protobuf bytes); everything else it leaves to the tree decode (NULL). */
static void test_flat_decode(void)
{
    static const char *const same[] = {
        "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/h\",\"description\":\"d\"}",
        "{\"ecosystem_id\":\"" ECO "\",\"secret\":null}", /* the field name; null as absent */
        " {\"descr\\u0069ption\" : \"caf\\u00e9 \\\"\\n\xe2\x82\xac\"}\r\n", /* escapes, UTF-8, white space */
        "{}",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        ProtobufCMessage *flat = codec_json_decode_flat(&schema_create_request_descriptor, same[i], strlen(same[i]), NULL);
        error err;
        json_error_t jerr;
        json_t *root = json_loadb(same[i], strlen(same[i]), JSON_REJECT_DUPLICATES, &jerr);
        error_clear(&err);
        ProtobufCMessage *ref = codec_json_decode_object(&schema_create_request_descriptor, root, NULL, &err);
        CHECK(flat != NULL && ref != NULL && err.kind == ERROR_NONE);
        size_t a_len = 0, b_len = 0;
        uint8_t *a = flat != NULL ? codec_proto_encode(flat, NULL, &a_len) : NULL;
        uint8_t *b = ref != NULL ? codec_proto_encode(ref, NULL, &b_len) : NULL;
        if (a == NULL || b == NULL || a_len != b_len || memcmp(a, b, a_len) != 0)
            fprintf(stderr, "  direct and tree decodes of %s differ\n", same[i]);
        CHECK(a != NULL && b != NULL && a_len == b_len && memcmp(a, b, a_len) == 0);
        free(a);
        free(b);
        free_msg(flat);
        free_msg(ref);
        json_decref(root);
    }
    schema_create_request *m = (schema_create_request *)codec_json_decode_flat(
        &schema_create_request_descriptor, same[2], strlen(same[2]), NULL);
    CHECK(m != NULL && strcmp(m->description, "caf\xc3\xa9 \"\n\xe2\x82\xac") == 0 && m->url[0] == '\0');
    free_msg(m);

    static const char *const left_to_the_tree[] = {
        "{\"url\":\"u\",\"bogus\":\"x\"}",         /* an unknown key */
        "{\"ecosystemId\":\"a\",\"ecosystem_id\":\"b\"}", /* one field under both names */
        "{\"url\":\"a\",\"url\":\"b\"}",           /* a duplicate key */
        "{\"url\":null,\"url\":\"b\"}",
        "{\"url\":5}",                             /* not strings */
        "{\"url\":true}",
        "{\"url\":{}}",
        "{\"url\":[]}",
        "{\"url\":\"\\ud800\"}",                   /* what the fast parse leaves to jansson */
        "{\"url\":\"\xc0\xaf\"}",
        "{\"url\":\"x\\u0000y\"}",
        "{\"url\":\"x\"} x",
        "{\"url\":\"x\"}  \"",
        "[]",                                      /* not an object */
        "null",
        "\"s\"",
        "",
    };
    for (size_t i = 0; i < sizeof(left_to_the_tree) / sizeof(left_to_the_tree[0]); i++) {
        const char *t = left_to_the_tree[i];
        ProtobufCMessage *flat = codec_json_decode_flat(&schema_create_request_descriptor, t, strlen(t), NULL);
        if (flat != NULL)
            fprintf(stderr, "  the direct decode took %s\n", t);
        CHECK(flat == NULL);
        free_msg(flat);
    }
    /* a message with a field that is not a string is the tree decode's, whatever the text */
    const char *webhook = "{\"id\":\"" WEBHOOK_ID "\"}";
    CHECK(codec_json_decode_flat(&schema_webhook_descriptor, webhook, strlen(webhook), NULL) == NULL);
    /* and codec_json_decode still words the tree decode's problems */
    error err;
    free_msg(decode_create("{\"url\":5,\"bogus\":\"x\"}", &err));
    CHECK(err.kind == ERROR_INVALID_PARAMS && param_of(&err, "url") != NULL &&
          param_of(&err, "additional parameters") != NULL);
}

int main(void)
{
    test_fast_parse();
    test_flat_decode();
    test_names();
    test_schema_names_fit();
    test_decode_names();
    test_decode_null();
    test_decode_wrong_types();
    test_decode_unknown();
    test_decode_alias_twice();
    test_decode_invalid_body();
    test_decode_object();
    test_encode_webhook();
    test_encode_timestamps();
    test_encode_list_and_error();
    test_encode_memo();
    test_decode_timestamps();
    test_round_trip();
    test_integers();
    test_struct_round_trips();
    test_struct_numbers();
    test_struct_depth();
    test_struct_wrong_types();
    test_allocator();
    test_out_of_memory();
    return test_exit_code();
}
