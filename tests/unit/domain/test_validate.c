/* test_validate: the id and URL rules at their edges, each request's messages and their
 * field order, the configured length limits crossed by one byte, and the rule that a field
 * a codec already reported is not reported again. */
#include "validate.h"
#include "objectid.h"
#include "pagetoken.h"
#include "test.h"

#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#define ECO "C5a96c3ea0e4c1b0001a0b0c0"

static const config_limits default_limits = {65536, 2048, 1024, 256, 0, 100, 100, 1000};

static void test_url(void)
{
    static const char *good[] = {
        "http://example.com",
        "https://example.com",
        "HTTP://EXAMPLE.COM",
        "HtTpS://example.com/",
        "http://a",
        "http://localhost:8080",
        "http://localhost:65535/",
        "https://example.com:443/path/to/hook?x=1&y=two#frag",
        "http://127.0.0.1/x",
        "http://[::1]/",
        "http://[2001:db8::1]:8080/hook?q=%20",
        "https://user:pw@example.com/x",
        "https://sub.domain.example.co.uk/a/b/c.json",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (validate_is_webhook_url(good[i], 2048) != 1)
            fprintf(stderr, "  rejected %s\n", good[i]);
        CHECK(validate_is_webhook_url(good[i], 2048) == 1);
    }
    static const char *bad[] = {
        "ftp://example.com/x",
        "http://example.com:65536/x", /* RFC 3986 takes any digits; TCP ports end at 65535 */
        "http://example.com:99999999999999999999/",
        "mailto:someone@example.com",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "httpx://example.com",
        "ws://example.com",
        "http://",
        "https://",
        "http:///path",
        "http:example.com",
        "http:/example.com",
        "//host/x",
        "/rel",
        "rel/x",
        "example.com",
        "not a url",
        "http://exa mple.com",
        "http://example.com/a b",
        " http://example.com",
        "http://example.com ",
        "http://[::1",
        "http://example.com\n",
        "http://user@/x",
        "http://:80/",
        "http://[]/",
        "http://example.com:abc/",
        "http://example.com/%zz",
        "http://ex<ample.com",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (validate_is_webhook_url(bad[i], 2048) != 0)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK(validate_is_webhook_url(bad[i], 2048) == 0);
    }

    /* the length bound: exactly max_len passes, one byte more does not */
    CHECK(validate_is_webhook_url("http://example.com/x", 20) == 1);
    CHECK(validate_is_webhook_url("http://example.com/xy", 20) == 0);
    CHECK(validate_is_webhook_url("http://example.com/x", 19) == 0);
    char *longurl = malloc(2048 + 2);
    if (longurl != NULL) {
        strcpy(longurl, "https://example.com/");
        size_t n = strlen(longurl);
        memset(longurl + n, 'a', 2048 - n);
        longurl[2048] = '\0';
        CHECK(validate_is_webhook_url(longurl, 2048) == 1);
        longurl[2048] = 'a';
        longurl[2049] = '\0';
        CHECK(validate_is_webhook_url(longurl, 2048) == 0);
        CHECK(validate_is_webhook_url(longurl, 2049) == 1);
        free(longurl);
    }
}

/* Internationalized hosts: accepted as WHATWG parsers accept them, called by their IDNA
 * (punycode) form; non-ASCII bytes elsewhere are percent-encoded in the called form. */
static void test_url_idn(void)
{
    CHECK(validate_is_webhook_url("https://ex\xc3\xa4mple.com/hook", 2048) == 1);
    CHECK(validate_is_webhook_url("https://\xe4\xbe\x8b\xe3\x81\x88.jp/", 2048) == 1);
    CHECK(validate_is_webhook_url("https://example.com/p\xc3\xa4th?q=\xc3\xa4", 2048) == 1);
    CHECK(validate_is_webhook_url("https://ex\xc3\xa4mple.com/hook", 12) == 0); /* bytes, not characters */
    CHECK(validate_is_webhook_url("https://ex\xc3\xa4 mple.com/", 2048) == 0);   /* still no spaces */
    CHECK(validate_is_webhook_url("https://\xe2\x80\x8b/", 2048) == 0);          /* IDNA refuses a zero-width space */
    CHECK(validate_is_webhook_url("ftp://ex\xc3\xa4mple.com/", 2048) == 0);

    char *a = validate_url_ascii("https://ex\xc3\xa4mple.com:8443/h\xc3\xa4?x=1");
    CHECK(a != NULL);
    if (a != NULL)
        CHECK_STR(a, "https://xn--exmple-cua.com:8443/h%C3%A4?x=1");
    free(a);
    a = validate_url_ascii("https://user:pw@example.com/x");
    CHECK(a != NULL);
    if (a != NULL)
        CHECK_STR(a, "https://user:pw@example.com/x"); /* ASCII: as stored */
    free(a);
    CHECK(validate_url_ascii("not a url") == NULL);
}

/* The plain form, read without uriparser: taken for the urls webhooks have, with the host
 * where it is; every other form left to uriparser (tests/fuzz/fuzz_url.c holds the two to
 * one answer). */
static void test_url_plain(void)
{
    static const struct {
        const char *url, *host;
    } plain[] = {
        {"https://example.com", "example.com"},
        {"http://a", "a"},
        {"https://hooks.example.com/bench/0123456789", "hooks.example.com"},
        {"http://localhost:65535/", "localhost"},
        {"http://127.0.0.1:8080/x", "127.0.0.1"},
        {"https://example.com:443/path/to/hook?x=1&y=two#frag", "example.com"},
        {"https://e.com?q", "e.com"},
        {"https://e.com#f?/", "e.com"},
        {"https://e.com/a;b=c,d'(*)~!$+@:/?x=/?#", "e.com"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        size_t first = 0, end = 0;
        CHECK(validate_url_plain(plain[i].url, strlen(plain[i].url), &first, &end) == 1);
        CHECK(end - first == strlen(plain[i].host) && memcmp(plain[i].url + first, plain[i].host, end - first) == 0);
        CHECK(validate_is_webhook_url(plain[i].url, 2048) == 1);
    }
    static const char *other[] = {
        "HTTPS://example.com/",          /* valid, not plain */
        "https://user:pw@example.com/x", /* valid */
        "http://[::1]/",                 /* valid */
        "https://example.com/a%20b",     /* valid */
        "https://ex\xc3\xa4mple.com/",   /* valid */
        "http://a:/",                    /* valid: an empty port */
        "http://a:000080/",              /* valid */
        "http://a:65536/",
        "http://a/#x#y",
        "http:///x",
        "http://a b/",
        "ftp://a/",
        "https://e.com/a b",
        "https://e.com/<x>",
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        size_t first = 0, end = 0;
        CHECK(validate_url_plain(other[i], strlen(other[i]), &first, &end) == 0);
    }
    CHECK(validate_url_plain("https://e.com/x", 11, &(size_t){0}, &(size_t){0}) == 1); /* "https://e.c" */
    CHECK(validate_url_plain("https://e.com/x", 8, &(size_t){0}, &(size_t){0}) == 0);  /* "https://" */
}

/* An IP-literal host the policy denies is "invalid url" at create and update; a name is
 * left to the call; allow_networks opens a range. */
static void test_url_destination(void)
{
    netpolicy none = {0}, loopback = {0};
    char why[NETPOLICY_WHY_MAX];
    CHECK(netpolicy_allow(&loopback, "127.0.0.0/8", why, sizeof why) == 0);
    static const char *denied[] = {"http://127.0.0.1/x", "http://10.1.2.3/", "http://[::1]:8080/", "http://169.254.169.254/latest",
                                   "http://0x7f.1/", "http://2130706433/", "https://user:pw@192.168.0.1/", "http://[::ffff:10.0.0.1]/"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        error err;
        error_clear(&err);
        validate_url_destination(denied[i], &none, &schema_create_request_descriptor, &err);
        if (err.n_params != 1)
            fprintf(stderr, "  not denied: %s\n", denied[i]);
        CHECK(err.n_params == 1 && strcmp(error_param_message(&err, 0), VALIDATE_INVALID_URL) == 0);
    }
    static const char *allowed[] = {"http://localhost:8080/", "https://example.com/", "http://8.8.8.8/", "http://[2606:4700::1111]/",
                                    "http://1password.example/", "http://user@host.example/x@10.0.0.1", "http://a@b@example.com/",
                                    "https://ex\xc3\xa4mple.com/"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        error err;
        error_clear(&err);
        validate_url_destination(allowed[i], &none, &schema_create_request_descriptor, &err);
        CHECK(err.n_params == 0);
    }
    error err;
    error_clear(&err);
    validate_url_destination("http://127.0.0.1/x", &loopback, &schema_create_request_descriptor, &err);
    CHECK(err.n_params == 0);
    validate_url_destination("http://[::1]/x", &loopback, &schema_webhook_changes_descriptor, &err);
    CHECK(err.n_params == 1); /* an IPv4 range opens no IPv6 address but mapped ones */
    /* a url already reported is not reported twice */
    error_clear(&err);
    schema_create_request r = SCHEMA_CREATE_REQUEST_INIT;
    r.ecosystem_id = ECO;
    r.url = "http://10.0.0.1:99999/";
    validate_create_request(&r, &default_limits, &err);
    validate_url_destination(r.url, &none, &schema_create_request_descriptor, &err);
    CHECK(err.n_params == 1);
}

static const error_param *param_of(const error *err, const char *path)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (strcmp(error_param_path(err, i), path) == 0)
            return &err->params[i];
    return NULL;
}

/* Expects exactly one problem, at path with message and order. */
static void expect_one(int line, const error *err, const char *path, const char *message, unsigned order)
{
    int ok = err->kind == ERROR_INVALID_PARAMS && err->n_params == 1 && strcmp(error_param_path(err, 0), path) == 0 &&
             strcmp(error_param_message(err, 0), message) == 0 && err->params[0].order == order &&
             err->params[0].in == ERROR_IN_UNSET;
    if (!ok)
        fprintf(stderr, "test_validate.c:%d: want one problem %s: %s (order %u); got kind %d, %u: %s: %s (order %u)\n",
                line, path, message, order, (int)err->kind, (unsigned)err->n_params, err->n_params ? error_param_path(err, 0) : "",
                err->n_params ? error_param_message(err, 0) : "", err->n_params ? err->params[0].order : 0);
    CHECK(ok);
}

#define EXPECT_ONE(err, path, message, order) expect_one(__LINE__, err, path, message, order)

static schema_create_request create(const char *eco, const char *url, const char *secret, const char *description)
{
    schema_create_request r = SCHEMA_CREATE_REQUEST_INIT;
    r.ecosystem_id = (char *)eco;
    r.url = (char *)url;
    r.secret = (char *)secret;
    r.description = (char *)description;
    return r;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        memset(s, c, n);
        s[n] = '\0';
    }
    return s;
}

static void test_create(void)
{
    error err;
    schema_create_request r = create(ECO, "https://example.com/h", "s", "d");
    error_clear(&err);
    validate_create_request(&r, &default_limits, &err);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);

    /* the defaults: both required fields missing, in field order */
    schema_create_request empty = SCHEMA_CREATE_REQUEST_INIT;
    error_clear(&err);
    validate_create_request(&empty, &default_limits, &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 2);
    if (err.n_params == 2) {
        CHECK_STR(error_param_path(&err, 0), "ecosystem_id");
        CHECK_STR(error_param_message(&err, 0), VALIDATE_REQUIRED);
        CHECK(err.params[0].order == 1);
        CHECK(err.params[0].in == ERROR_IN_UNSET);
        CHECK_STR(error_param_path(&err, 1), "url");
        CHECK_STR(error_param_message(&err, 1), VALIDATE_REQUIRED);
        CHECK(err.params[1].order == 2);
    }
    CHECK_STR(VALIDATE_REQUIRED, "field is required");
    CHECK_STR(VALIDATE_INVALID_ID, "invalid id");
    CHECK_STR(VALIDATE_INVALID_URL, "invalid url");

    /* NULL strings are absent, like "" */
    r = create(NULL, NULL, NULL, NULL);
    error_clear(&err);
    validate_create_request(&r, &default_limits, &err);
    CHECK(err.n_params == 2);
    CHECK(param_of(&err, "ecosystem_id") != NULL && param_of(&err, "url") != NULL);

    r = create("c5a96c3ea0e4c1b0001a0b0c0", "https://example.com/h", "", "");
    error_clear(&err);
    validate_create_request(&r, &default_limits, &err);
    EXPECT_ONE(&err, "ecosystem_id", "invalid id", 1);

    /* the syntax is objectid_is_ecosystem_id's (tested in test_objectid): the verdicts agree */
    static const char *const ids[] = {ECO,
                                      "C5A96C3EA0E4C1B0001A0B0C0",
                                      "C5a96c3ea0e4c1b0001a0b0c",
                                      "C5a96c3ea0e4c1b0001a0b0c00",
                                      "Cffffffffffffffffffffffff",
                                      "D5a96c3ea0e4c1b0001a0b0c0",
                                      " C5a96c3ea0e4c1b0001a0b0c"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        r = create(ids[i], "https://example.com/h", "", "");
        error_clear(&err);
        validate_create_request(&r, &default_limits, &err);
        CHECK((param_of(&err, "ecosystem_id") == NULL) == objectid_is_ecosystem_id(ids[i], strlen(ids[i])));
    }

    r = create(ECO, "ftp://example.com/h", "", "");
    error_clear(&err);
    validate_create_request(&r, &default_limits, &err);
    EXPECT_ONE(&err, "url", "invalid url", 2);

    r = create(ECO, "", "", "");
    error_clear(&err);
    validate_create_request(&r, &default_limits, &err);
    EXPECT_ONE(&err, "url", "field is required", 2);

    r = create("", "https://example.com/h", "", "");
    error_clear(&err);
    validate_create_request(&r, &default_limits, &err);
    EXPECT_ONE(&err, "ecosystem_id", "field is required", 1);
}

static void test_create_limits(void)
{
    error err;
    config_limits small = {1024, 30, 10, 5, 0, 100, 100, 1000};
    schema_create_request r = create(ECO, "https://example.com/123456789", "12345", "1234567890"); /* 29 url */
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    CHECK(err.kind == ERROR_NONE);

    r.url = "https://example.com/1234567890"; /* 30: exactly the limit */
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    CHECK(err.kind == ERROR_NONE);

    r.url = "https://example.com/12345678901"; /* 31 */
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    EXPECT_ONE(&err, "url", "invalid url", 2);

    r = create(ECO, "https://example.com/", "123456", "1234567890");
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    EXPECT_ONE(&err, "secret", "must be at most 5 bytes", 3);

    r = create(ECO, "https://example.com/", "12345", "12345678901");
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    EXPECT_ONE(&err, "description", "must be at most 10 bytes", 4);

    /* bytes, not characters: "é" is two */
    r = create(ECO, "https://example.com/", "\xc3\xa9\xc3\xa9\xc3", "");
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    CHECK(err.kind == ERROR_NONE);
    r.secret = "\xc3\xa9\xc3\xa9\xc3\xa9";
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    EXPECT_ONE(&err, "secret", "must be at most 5 bytes", 3);

    /* a zero limit allows only the empty string */
    config_limits zero = {1024, 2048, 0, 0, 0, 100, 100, 1000};
    r = create(ECO, "https://example.com/", "", "");
    error_clear(&err);
    validate_create_request(&r, &zero, &err);
    CHECK(err.kind == ERROR_NONE);
    r.description = "x";
    error_clear(&err);
    validate_create_request(&r, &zero, &err);
    EXPECT_ONE(&err, "description", "must be at most 0 bytes", 4);

    /* the defaults, crossed by one byte */
    char *secret = repeat('s', 256), *secret1 = repeat('s', 257);
    char *desc = repeat('d', 1024), *desc1 = repeat('d', 1025);
    if (secret && secret1 && desc && desc1) {
        r = create(ECO, "https://example.com/", secret, desc);
        error_clear(&err);
        validate_create_request(&r, &default_limits, &err);
        CHECK(err.kind == ERROR_NONE);
        r.secret = secret1;
        r.description = desc1;
        error_clear(&err);
        validate_create_request(&r, &default_limits, &err);
        CHECK(err.n_params == 2);
        if (err.n_params == 2) {
            CHECK_STR(error_param_path(&err, 0), "secret");
            CHECK_STR(error_param_message(&err, 0), "must be at most 256 bytes");
            CHECK_STR(error_param_path(&err, 1), "description");
            CHECK_STR(error_param_message(&err, 1), "must be at most 1024 bytes");
        }
    }
    free(secret);
    free(secret1);
    free(desc);
    free(desc1);

    /* everything wrong at once: four problems, field numbers 1..4 */
    r = create("nope", "not a url", "123456", "12345678901");
    error_clear(&err);
    validate_create_request(&r, &small, &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 4);
    error_sort_params(&err);
    static const char *paths[] = {"ecosystem_id", "url", "secret", "description"};
    static const char *messages[] = {"invalid id", "invalid url", "must be at most 5 bytes", "must be at most 10 bytes"};
    for (unsigned i = 0; i < 4 && i < err.n_params; i++) {
        CHECK_STR(error_param_path(&err, i), paths[i]);
        CHECK_STR(error_param_message(&err, i), messages[i]);
        CHECK(err.params[i].order == i + 1);
        CHECK(err.params[i].in == ERROR_IN_UNSET);
    }
}

static void test_skip_reported(void)
{
    error err;
    /* a codec reported url (wrong type) and left it at its default "" */
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 2, "url", "must be a string");
    schema_create_request r = create("", "", "", "");
    validate_create_request(&r, &default_limits, &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 2);
    if (err.n_params == 2) {
        CHECK_STR(error_param_path(&err, 0), "url");
        CHECK_STR(error_param_message(&err, 0), "must be a string");
        CHECK(err.params[0].in == ERROR_IN_BODY);
        CHECK_STR(error_param_path(&err, 1), "ecosystem_id");
        CHECK_STR(error_param_message(&err, 1), "field is required");
    }
    error_sort_params(&err);
    if (err.n_params == 2) {
        CHECK_STR(error_param_path(&err, 0), "ecosystem_id");
        CHECK_STR(error_param_path(&err, 1), "url");
    }

    /* every field already reported: nothing added */
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 1, "ecosystem_id", "is given twice");
    error_add_param(&err, ERROR_IN_BODY, 2, "url", "must be a string");
    error_add_param(&err, ERROR_IN_BODY, 3, "secret", "must be a string");
    error_add_param(&err, ERROR_IN_BODY, 4, "description", "must be a string");
    r = create("bad", "bad", "toolong", "toolongtoolong");
    config_limits small = {1024, 30, 1, 1, 0, 100, 100, 1000};
    validate_create_request(&r, &small, &err);
    CHECK(err.n_params == 4);

    /* an additional-parameters problem does not hide a field's own */
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, ERROR_ORDER_ADDITIONAL, "additional parameters",
                    "contains fields that are not allowed: [ x ]");
    r = create(ECO, "", "", "");
    validate_create_request(&r, &default_limits, &err);
    CHECK(err.n_params == 2);
    error_sort_params(&err);
    if (err.n_params == 2) {
        CHECK_STR(error_param_path(&err, 0), "url");
        CHECK_STR(error_param_path(&err, 1), "additional parameters");
    }
}

static void test_get_and_list(void)
{
    error err;
    schema_get_request g = SCHEMA_GET_REQUEST_INIT;
    g.id = "5a96c7ea0e4c1b0001a0b0c0";
    error_clear(&err);
    validate_get_request(&g, &err);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);

    static const char *bad_ids[] = {"5A96C7EA0E4C1B0001A0B0C0", "5a96c7ea0e4c1b0001a0b0c", "5a96c7ea0e4c1b0001a0b0c00",
                                    "zzzzzzzzzzzzzzzzzzzzzzzz", ECO, "not-an-id"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        g.id = (char *)bad_ids[i];
        error_clear(&err);
        validate_get_request(&g, &err);
        EXPECT_ONE(&err, "id", "invalid id", 1);
    }
    /* absent */
    g.id = "";
    error_clear(&err);
    validate_get_request(&g, &err);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    CHECK(param_of(&err, "id") != NULL);
    g.id = NULL;
    error_clear(&err);
    validate_get_request(&g, &err);
    CHECK(err.n_params == 1);
    CHECK(param_of(&err, "id") != NULL);
    /* already reported */
    g.id = "bad";
    error_clear(&err);
    error_add_param(&err, ERROR_IN_PATH, 1, "id", "must be a string");
    validate_get_request(&g, &err);
    CHECK(err.n_params == 1);

    schema_list_request l = SCHEMA_LIST_REQUEST_INIT;
    store_cursor after;
    l.ecosystem_id = ECO;
    error_clear(&err);
    CHECK(validate_list_request(&l, &default_limits, &after, &err) == 0);
    CHECK(err.kind == ERROR_NONE);
    l.ecosystem_id = "";
    error_clear(&err);
    validate_list_request(&l, &default_limits, &after, &err);
    EXPECT_ONE(&err, "ecosystem_id", "field is required", 1);
    l.ecosystem_id = NULL;
    error_clear(&err);
    validate_list_request(&l, &default_limits, &after, &err);
    EXPECT_ONE(&err, "ecosystem_id", "field is required", 1);
    l.ecosystem_id = "C5A96C3EA0E4C1B0001A0B0C0";
    error_clear(&err);
    validate_list_request(&l, &default_limits, &after, &err);
    EXPECT_ONE(&err, "ecosystem_id", "invalid id", 1);
    error_clear(&err);
    error_add_field(&err, ERROR_IN_QUERY, 1, "ecosystem_id", "is given twice");
    validate_list_request(&l, &default_limits, &after, &err);
    CHECK(err.n_params == 1);
}

/* limit: 0 (the default) up to limits.max_page_size, one more is a problem; page_token: a
 * token made for the request's ecosystem is read into the cursor, anything else (another
 * ecosystem's, changed, cut short) is "invalid page token"; with the ecosystem itself
 * wrong only the ecosystem is reported. */
static void test_list_paging(void)
{
    error err;
    store_cursor after, got;
    config_limits limits = default_limits;
    limits.max_page_size = 50;
    schema_list_request l = SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = ECO;
    l.limit = 50;
    error_clear(&err);
    CHECK(validate_list_request(&l, &limits, &got, &err) == 0 && err.kind == ERROR_NONE);
    l.limit = 51;
    validate_list_request(&l, &limits, &got, &err);
    EXPECT_ONE(&err, "limit", "must be at most 50", 2);
    l.limit = UINT32_MAX;
    error_clear(&err);
    validate_list_request(&l, &limits, &got, &err);
    EXPECT_ONE(&err, "limit", "must be at most 50", 2);
    l.limit = 0;

    after.seq = 0x0102030405060708ull;
    CHECK(objectid_from_hex("5a96c3ea0e4c1b0001a0b0c0", 24, &after.id) == 0);
    char token[PAGETOKEN_LEN + 1];
    pagetoken_encode(ECO, &after, token);
    l.page_token = token;
    error_clear(&err);
    memset(&got, 0, sizeof got);
    CHECK(validate_list_request(&l, &limits, &got, &err) == 1 && err.kind == ERROR_NONE);
    CHECK(got.seq == after.seq && memcmp(got.id.bytes, after.id.bytes, OBJECTID_LEN) == 0);

    /* a good token with a bad limit: the limit is reported and no cursor is handed out */
    l.limit = 51;
    error_clear(&err);
    CHECK(validate_list_request(&l, &limits, &got, &err) == 0);
    EXPECT_ONE(&err, "limit", "must be at most 50", 2);
    l.limit = 0;

    const char *other = "C5a96c3ea0e4c1b0001a0b0c1";
    char other_token[PAGETOKEN_LEN + 1], changed[PAGETOKEN_LEN + 1];
    pagetoken_encode(other, &after, other_token);
    memcpy(changed, token, sizeof changed);
    changed[5] = changed[5] == 'A' ? 'B' : 'A';
    const char *bad[] = {other_token, changed, "x", "not a token at all", token + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l.page_token = (char *)bad[i];
        error_clear(&err);
        CHECK(validate_list_request(&l, &limits, &got, &err) == 0);
        EXPECT_ONE(&err, "page_token", VALIDATE_INVALID_PAGE_TOKEN, 3);
    }
    /* every problem at once, in field order */
    l.limit = 51;
    error_clear(&err);
    validate_list_request(&l, &limits, &got, &err);
    CHECK(err.n_params == 2 && err.params[0].order == 2 && err.params[1].order == 3);
    /* the ecosystem wrong: the token cannot be checked against it, and is not reported */
    l.limit = 0;
    l.page_token = token;
    l.ecosystem_id = "bad";
    error_clear(&err);
    CHECK(validate_list_request(&l, &limits, &got, &err) == 0);
    EXPECT_ONE(&err, "ecosystem_id", "invalid id", 1);
}

/* Update: the id (placed where the caller says), then the changes by create's rules: url
 * required and valid, secret and description within limits only when given; no changes
 * message is an empty one; a codec's report on the changes stands for them. Delete: the id. */
static void test_update_and_delete(void)
{
    config_limits limits = default_limits;
    limits.max_secret_length = 4;
    limits.max_description_length = 5;
    error err;
    schema_webhook_changes ch = SCHEMA_WEBHOOK_CHANGES_INIT;
    schema_update_request u = SCHEMA_UPDATE_REQUEST_INIT;
    u.id = "5a96c7ea0e4c1b0001a0b0c0";
    u.changes = &ch;
    ch.url = "https://example.com/h";
    error_clear(&err);
    validate_update_request(&u, &limits, ERROR_IN_PATH, &err);
    CHECK(err.kind == ERROR_NONE && err.n_params == 0);
    /* an over-long secret or description counts only when given */
    ch.secret = "12345";
    ch.description = "123456";
    error_clear(&err);
    validate_update_request(&u, &limits, ERROR_IN_PATH, &err);
    CHECK(err.n_params == 0);
    ch.secret_set_case = SCHEMA_CHANGES_SECRET_SET;
    ch.description_set_case = SCHEMA_CHANGES_DESCRIPTION_SET;
    u.id = "nope";
    ch.url = "ftp://x";
    error_clear(&err);
    validate_update_request(&u, &limits, ERROR_IN_PATH, &err);
    error_sort_params(&err);
    CHECK(err.kind == ERROR_INVALID_PARAMS && err.n_params == 4);
    static const char *const paths[] = {"id", "url", "secret", "description"};
    static const char *const messages[] = {"invalid id", "invalid url", "must be at most 4 bytes",
                                           "must be at most 5 bytes"};
    for (size_t i = 0; i < 4 && i < err.n_params; i++) {
        CHECK_STR(error_param_path(&err, i), paths[i]);
        CHECK_STR(error_param_message(&err, i), messages[i]);
        CHECK(err.params[i].in == (i == 0 ? ERROR_IN_PATH : ERROR_IN_UNSET));
    }
    /* the id left with the others */
    error_clear(&err);
    validate_update_request(&u, &limits, ERROR_IN_UNSET, &err);
    CHECK(err.n_params == 4 && err.params[0].in == ERROR_IN_UNSET);
    /* no url; no changes at all */
    u.id = "5a96c7ea0e4c1b0001a0b0c0";
    ch = (schema_webhook_changes)SCHEMA_WEBHOOK_CHANGES_INIT;
    ch.url = "";
    error_clear(&err);
    validate_update_request(&u, &limits, ERROR_IN_PATH, &err);
    EXPECT_ONE(&err, "url", "field is required", 2);
    u.changes = NULL;
    error_clear(&err);
    validate_update_request(&u, &limits, ERROR_IN_PATH, &err);
    EXPECT_ONE(&err, "url", "field is required", 2);
    /* a codec's problem with the changes (field 6 of the request) stands for them */
    error_clear(&err);
    error_add_field(&err, ERROR_IN_UNSET, 6, "changes.url", "must be a string");
    validate_update_request(&u, &limits, ERROR_IN_PATH, &err);
    CHECK(err.n_params == 1);

    schema_delete_request d = SCHEMA_DELETE_REQUEST_INIT;
    d.id = "5a96c7ea0e4c1b0001a0b0c0";
    error_clear(&err);
    validate_delete_request(&d, &err);
    CHECK(err.kind == ERROR_NONE);
    d.id = "5A96C7EA0E4C1B0001A0B0C0";
    error_clear(&err);
    validate_delete_request(&d, &err);
    EXPECT_ONE(&err, "id", "invalid id", 1);
}

int main(void)
{
    test_url();
    test_url_idn();
    test_url_plain();
    test_url_destination();
    test_create();
    test_create_limits();
    test_skip_reported();
    test_get_and_list();
    test_list_paging();
    test_update_and_delete();
    return test_exit_code();
}
