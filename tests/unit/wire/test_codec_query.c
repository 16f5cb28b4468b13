/* test_codec_query: query strings into schema messages by the JSON codec's names and rules
 * (both spellings, unknown and repeated parameters, form-urlencoded decoding, the parameter
 * limit), and codec_query_reject for requests that take no query at all. */
#include "codec_query.h"
#include "oom.h"
#include "schema.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define ECO "C5a96c3ea0e4c1b0001a0b0c0"

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *desc, const char *q, error *err)
{
    error_clear(err);
    return codec_query_decode(desc, q, strlen(q), NULL, err);
}

static schema_list_request *decode_list(const char *q, error *err)
{
    return (schema_list_request *)decode(&schema_list_request_descriptor, q, err);
}

static void free_msg(void *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

static const error_param *param_of(const error *err, const char *path)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (strcmp(error_param_path(err, i), path) == 0)
            return &err->params[i];
    return NULL;
}

static int all_in_query(const error *err)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (err->params[i].in != ERROR_IN_QUERY)
            return 0;
    return 1;
}

static void test_names(void)
{
    error err;
    schema_list_request *r = decode_list("ecosystemId=" ECO, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);
    if (r != NULL) {
        CHECK(r->base.descriptor == &schema_list_request_descriptor);
        CHECK_STR(r->ecosystem_id, ECO);
    }
    free_msg(r);

    r = decode_list("ecosystem_id=" ECO, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, ECO);
    free_msg(r);

    /* the empty query: a message at its defaults, no problem */
    r = decode_list("", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, "");
    free_msg(r);

    /* a key without '=' and a key with an empty value are both the empty string */
    r = decode_list("ecosystemId", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, "");
    free_msg(r);
    r = decode_list("ecosystemId=", &err);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, "");
    free_msg(r);

    /* len counts, not a NUL */
    const char q[] = "ecosystemId=" ECO "&junk=1";
    error_clear(&err);
    r = (schema_list_request *)codec_query_decode(&schema_list_request_descriptor, q, strlen("ecosystemId=" ECO), NULL,
                                                  &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, ECO);
    free_msg(r);
}

static void test_percent(void)
{
    error err;
    schema_list_request *r = decode_list("ecosystemId=%435a96c3ea0e4c1b0001a0b0c0", &err);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, ECO);
    free_msg(r);

    /* the key may be escaped too */
    r = decode_list("ecosystem%49d=" ECO, &err);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, ECO);
    free_msg(r);

    r = decode_list("ecosystemId=a+b%20c%2Bd%26e%3Df", &err);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, "a b c+d&e=f");
    free_msg(r);

    /* UTF-8 through escapes */
    r = decode_list("ecosystemId=%C3%A9", &err);
    CHECK(err.kind == ERROR_NONE);
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, "\xc3\xa9");
    free_msg(r);

    /* any message: a create request from a query, every field by both names */
    schema_create_request *c = (schema_create_request *)decode(
        &schema_create_request_descriptor,
        "url=https%3A%2F%2Fexample.com%2Fh%3Fx%3D1&description=two+words&ecosystem_id=" ECO "&secret=%25", &err);
    CHECK(c != NULL);
    CHECK(err.kind == ERROR_NONE);
    if (c != NULL) {
        CHECK_STR(c->url, "https://example.com/h?x=1");
        CHECK_STR(c->description, "two words");
        CHECK_STR(c->ecosystem_id, ECO);
        CHECK_STR(c->secret, "%");
    }
    free_msg(c);

    /* an escape that is not UTF-8 is a problem of that parameter */
    r = decode_list("ecosystemId=%ff", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(param_of(&err, "ecosystemId") != NULL);
    CHECK(all_in_query(&err));
    free_msg(r);
}

static void test_unknown_and_repeated(void)
{
    error err;
    const error_param *p;
    schema_list_request *r = decode_list("a=1&ecosystemId=" ECO "&b", &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    if (err.n_params == 1) {
        CHECK_STR(error_param_path(&err, 0), "additional parameters");
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ a, b ]");
        CHECK(err.params[0].in == ERROR_IN_QUERY);
        CHECK(err.params[0].order == ERROR_ORDER_ADDITIONAL);
    }
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, ECO);
    free_msg(r);

    /* names are case-sensitive */
    r = decode_list("EcosystemId=" ECO, &err);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ EcosystemId ]");
    if (r != NULL)
        CHECK_STR(r->ecosystem_id, "");
    free_msg(r);

    /* the same parameter twice: a problem of that field, ordered by its field number */
    r = decode_list("ecosystemId=" ECO "&ecosystemId=" ECO, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    p = param_of(&err, "ecosystemId");
    CHECK(p != NULL);
    if (p != NULL)
        CHECK(p->order == 1);
    CHECK(all_in_query(&err));
    free_msg(r);
    r = decode_list("ecosystemId=" ECO "&ecosystemId=Cffffffffffffffffffffffff", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(param_of(&err, "ecosystemId") != NULL);
    free_msg(r);

    /* under both of its names */
    r = decode_list("ecosystemId=" ECO "&ecosystem_id=" ECO, &err);
    CHECK(r != NULL);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    p = param_of(&err, "ecosystem_id");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK(p->in == ERROR_IN_QUERY);
        CHECK(p->order == 1);
    }
    free_msg(r);

    /* a parameter nobody can name is still not silently dropped */
    r = decode_list("ecosystemId=" ECO "&%ff=1", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params >= 1);
    free_msg(r);
    r = decode_list("ecosystemId=" ECO "&=1", &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(param_of(&err, "additional parameters") != NULL);
    free_msg(r);
}

/* A NUL decoded from %00 cannot be kept in a string field: the value must not quietly
 * become its prefix (the JSON codec rejects \u0000 for the same reason). */
static void test_nul(void)
{
    error err;
    schema_list_request *r = decode_list("ecosystemId=" ECO "%00x", &err);
    CHECK(err.kind != ERROR_NONE);
    if (err.kind == ERROR_NONE && r != NULL)
        fprintf(stderr, "  %%00 accepted; ecosystemId decoded as \"%s\"\n", r->ecosystem_id);
    free_msg(r);
}

static char *many_params(int n, const char *first)
{
    char *q = malloc((size_t)n * 8 + 64);
    if (q == NULL)
        return NULL;
    char *p = q;
    p += sprintf(p, "%s", first);
    for (int i = 1; i < n; i++)
        p += sprintf(p, "&k%d=1", i);
    return q;
}

static void test_limit(void)
{
    error err;
    /* exactly the limit: read; the unknown ones are reported as usual */
    char *q = many_params(CODEC_QUERY_MAX_PARAMS, "ecosystemId=" ECO);
    if (q != NULL) {
        schema_list_request *r = decode_list(q, &err);
        CHECK(r != NULL);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params == 1);
        const error_param *p = param_of(&err, "additional parameters");
        CHECK(p != NULL);
        if (p != NULL)
            CHECK(strncmp(err.text + p->message, "contains fields that are not allowed: [ k1, k2, k3,", 50) == 0);
        if (r != NULL)
            CHECK_STR(r->ecosystem_id, ECO);
        free_msg(r);
        free(q);
    }
    /* one over: a problem in the query */
    q = many_params(CODEC_QUERY_MAX_PARAMS + 1, "ecosystemId=" ECO);
    if (q != NULL) {
        schema_list_request *r = decode_list(q, &err);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params >= 1);
        CHECK(all_in_query(&err));
        free_msg(r);
        /* reject reports it too */
        error_clear(&err);
        CHECK(codec_query_reject(q, strlen(q), &err) == 1);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(all_in_query(&err));
        free(q);
    }
    /* empty segments, then one key repeated past the limit: still a problem in the query */
    q = malloc(2048);
    if (q != NULL) {
        char *p = q;
        p += sprintf(p, "ecosystemId=" ECO);
        for (int i = 0; i < 200; i++)
            p += sprintf(p, "&");
        for (int i = 0; i < CODEC_QUERY_MAX_PARAMS; i++)
            p += sprintf(p, "&x=1");
        schema_list_request *r = decode_list(q, &err);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(all_in_query(&err));
        free_msg(r);
        free(q);
    }
}

static void test_reject(void)
{
    error err;
    error_clear(&err);
    CHECK(codec_query_reject("", 0, &err) == 0);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);

    error_clear(&err);
    CHECK(codec_query_reject("a=1&b", 5, &err) == 1);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    if (err.n_params == 1) {
        CHECK(err.params[0].in == ERROR_IN_QUERY);
        CHECK_STR(error_param_path(&err, 0), "additional parameters");
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ a, b ]");
        CHECK(err.params[0].order > ERROR_ORDER_ADDITIONAL - 1); /* after every field */
    }

    /* names as decoded, in query order; len bounds the query */
    error_clear(&err);
    const char *q = "z%41=1&ecosystemId=" ECO "&extra";
    CHECK(codec_query_reject(q, strlen(q) - strlen("&extra"), &err) == 1);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "contains fields that are not allowed: [ zA, ecosystemId ]");

    /* a problem another layer found is kept, the new one added after it */
    error_clear(&err);
    error_add_param(&err, ERROR_IN_PATH, 1, "id", "invalid id");
    CHECK(codec_query_reject("x=1", 3, &err) == 1);
    CHECK(err.n_params == 2);
    if (err.n_params == 2) {
        CHECK_STR(error_param_path(&err, 0), "id");
        CHECK(err.params[0].in == ERROR_IN_PATH);
        CHECK_STR(error_param_message(&err, 1), "contains fields that are not allowed: [ x ]");
    }
    error_sort_params(&err);
    if (err.n_params == 2)
        CHECK_STR(error_param_path(&err, 0), "id");

    /* something is there even if it names nothing */
    error_clear(&err);
    CHECK(codec_query_reject("&", 1, &err) == 1);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);

    /* every name in the one problem, a repeated one included */
    error_clear(&err);
    CHECK(codec_query_reject("a=1&a=2", 7, &err) == 1);
    CHECK(err.n_params == 1);
    const error_param *p = param_of(&err, "additional parameters");
    CHECK(p != NULL);
    if (p != NULL)
        CHECK(strstr(err.text + p->message, "[ a") != NULL);
}

/* Out of memory, SQLite's way: a decode that runs out returns NULL with ERROR_INTERNAL
 * (never a problem blamed on the query) and frees what it had; one that completes is the
 * same as an unhindered decode. */
typedef struct query_oom {
    const char *query;
    schema_list_request *out;
    error err;
    size_t want_params; /* problems an unhindered decode reports */
} query_oom;

static int query_oom_decode(void *ctx)
{
    query_oom *o = ctx;
    error_clear(&o->err);
    o->out = (schema_list_request *)codec_query_decode(&schema_list_request_descriptor, o->query, strlen(o->query),
                                                       NULL, &o->err);
    return o->out != NULL ? 0 : -1;
}

static void query_oom_check(void *ctx, int ok)
{
    query_oom *o = ctx;
    if (!ok) {
        CHECK(o->out == NULL && o->err.kind == ERROR_INTERNAL);
        return;
    }
    CHECK(o->out != NULL && o->out->ecosystem_id != NULL && strcmp(o->out->ecosystem_id, ECO) == 0);
    CHECK(o->err.n_params == o->want_params);
}

static void query_oom_free(void *ctx)
{
    query_oom *o = ctx;
    free_msg(o->out);
    o->out = NULL;
}

/* codec_query_reject always reports something for a non-empty query: the names, or
 * ERROR_INTERNAL when it ran out; "failed" here means the latter. */
static int query_oom_reject(void *ctx)
{
    query_oom *o = ctx;
    error_clear(&o->err);
    CHECK(codec_query_reject(o->query, strlen(o->query), &o->err) == 1);
    return o->err.kind == ERROR_INTERNAL ? -1 : 0;
}

static void query_oom_reject_check(void *ctx, int ok)
{
    query_oom *o = ctx;
    const error_param *p = param_of(&o->err, "additional parameters");
    if (ok)
        CHECK(o->err.kind == ERROR_INVALID_PARAMS && p != NULL &&
              strstr(error_param_message(&o->err, (size_t)(p - o->err.params)), "ecosystem_id, foo, bar") != NULL);
}

static void test_out_of_memory(void)
{
    query_oom o = {.query = "ecosystemId=" ECO};
    oom_op op = {"codec_query_decode(ListWebhooksRequest)", &o, NULL, query_oom_decode, query_oom_check,
                 query_oom_free};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    /* percent-decoding, the snake_case spelling, and unknown parameters to report */
    o = (query_oom){.query = "ecosystem_id=" ECO "&foo=1&b%61r=%e2%9c%93", .want_params = 1};
    op.name = "codec_query_decode(ListWebhooksRequest, unknown parameters)";
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    oom_op reject = {"codec_query_reject", &o, NULL, query_oom_reject, query_oom_reject_check, NULL};
    CHECK(oom_loop(&reject) == 0);
    CHECK(oom_loop_persistent(&reject) == 0);
}

/* codec_query_decode_plain: the usual query straight into the message; past its own limits
 * (a tenth digit, a name longer than it reads) or anything it does not read (a '%', a '+',
 * a field named twice, a trailing '&') it leaves the query to the split decode. */
static void test_plain(void)
{
    static const char *const taken[] = {"ecosystemId=" ECO "&limit=123456789&pageToken=a-b_c.d~e", "limit=0",
                                        "ecosystem_id=" ECO, "ecosystemId="};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        schema_list_request *r = (schema_list_request *)codec_query_decode_plain(
            &schema_list_request_descriptor, taken[i], strlen(taken[i]), NULL);
        CHECK(r != NULL);
        if (r != NULL && i == 0)
            CHECK(strcmp(r->ecosystem_id, ECO) == 0 && r->limit == 123456789 && strcmp(r->page_token, "a-b_c.d~e") == 0);
        free_msg(r);
    }
    char long_name[80];
    memset(long_name, 'a', 65);
    strcpy(long_name + 65, "=1");
    const char *const left[] = {"limit=1234567890", "limit=01", "limit=", "limit=1e3", "ecosystemId=a%41",
                                "ecosystemId=a+b", "ecosystemId=a&ecosystem_id=b", "limit=1&", "&limit=1",
                                "limit", "=1", long_name, "unknown=1"};
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        ProtobufCMessage *m = codec_query_decode_plain(&schema_list_request_descriptor, left[i], strlen(left[i]), NULL);
        if (m != NULL)
            fprintf(stderr, "the plain decode took %s\n", left[i]);
        CHECK(m == NULL);
        free_msg(m);
    }
    /* what it leaves, the split decode decides: ten digits are read there */
    error err;
    schema_list_request *r = decode_list("limit=1234567890", &err);
    CHECK(r != NULL && err.kind == ERROR_NONE && r->limit == 1234567890u);
    free_msg(r);
}

int main(void)
{
    test_names();
    test_percent();
    test_unknown_and_repeated();
    test_nul();
    test_limit();
    test_plain();
    test_reject();
    test_out_of_memory();
    return test_exit_code();
}
