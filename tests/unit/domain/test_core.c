/* test_core: the three webhook operations over a real config and store: what a create
 * stores and returns, validation problems merged with a codec's and sorted into field
 * order, 404/403 for ecosystems out of reach, reads scoped to the caller, lists in creation
 * order, Idempotency-Key replays, conflicts and windows. Run under valgrind,
 * core_list_free releases every list. */
#include "core.h"
#include "codec_json.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ECO_A1 "C000000000000000000000a01"
#define ECO_A2 "C000000000000000000000a02"
#define ECO_A3 "C000000000000000000000a03" /* deleted */
#define ECO_B1 "C000000000000000000000b01"
#define ECO_NONE "C000000000000000000000fff"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "limits: { max_url_length: 64, max_description_length: 16, max_secret_length: 8 }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ acme-token ]\n"
                           "    ecosystems:\n"
                           "      - { id: " ECO_A1 ", server_tokens: [ srv-a1 ] }\n"
                           "      - { id: " ECO_A2 " }\n"
                           "      - { id: " ECO_A3 ", deleted: true }\n"
                           "  - id: other\n"
                           "    tokens: [ other-token ]\n"
                           "    ecosystems:\n"
                           "      - { id: " ECO_B1 " }\n";

static config *cfg;
static core the_core;
static auth_principal acme, srv_a1, other;

/* Runs a create on a memory-only core, where it always finishes at once; the webhook is
 * built into *out (which must then stay in place). err goes in and comes back. */
static int create_now(core *c, const auth_principal *who, const schema_create_request *req, core_webhook *out,
                      error *err)
{
    core_create op;
    op.err = *err;
    int rc = core_create_webhook(c, who, req, NULL, 0, &op);
    CHECK(rc != CORE_PENDING);
    *err = op.err;
    if (rc == 0) {
        CHECK(op.stored != NULL);
        core_webhook_fill(out, op.stored);
    }
    return rc;
}

static void principal(const char *token, auth_principal *who)
{
    error err;
    error_clear(&err);
    CHECK(auth_authenticate(cfg, token, strlen(token), who, &err) == 0);
}

static schema_create_request create_req(const char *eco, const char *url, const char *secret, const char *desc)
{
    schema_create_request r = DROPLIT__WEBHOOKS__V1__CREATE_WEBHOOK_REQUEST__INIT;
    r.ecosystem_id = (char *)eco;
    r.url = (char *)url;
    r.secret = (char *)secret;
    r.description = (char *)desc;
    return r;
}

static int is_hex24(const char *s)
{
    if (s == NULL || strlen(s) != 24)
        return 0;
    for (int i = 0; i < 24; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void test_create(void)
{
    error err;
    core_webhook out;
    schema_create_request r = create_req(ECO_A1, "https://example.com/h", "", "");
    error_clear(&err);
    struct timespec before, after;
    clock_gettime(CLOCK_REALTIME, &before);
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == 0);
    clock_gettime(CLOCK_REALTIME, &after);
    CHECK(err.kind == ERROR_NONE);
    CHECK(out.msg.base.descriptor == &schema_webhook_descriptor);
    CHECK(is_hex24(out.msg.id));
    CHECK(out.msg.id == out.id_hex);
    CHECK_STR(out.msg.ecosystem_id, ECO_A1);
    CHECK_STR(out.msg.url, "https://example.com/h");
    CHECK_STR(out.msg.description, "");
    CHECK(out.msg.disabled == 0);
    CHECK(out.msg.created_at == &out.created_at);
    /* created now, to the millisecond */
    int64_t ms = out.created_at.seconds * 1000 + out.created_at.nanos / 1000000;
    CHECK(ms >= (int64_t)before.tv_sec * 1000 + before.tv_nsec / 1000000);
    CHECK(ms <= (int64_t)after.tv_sec * 1000 + after.tv_nsec / 1000000);
    CHECK(out.created_at.nanos % 1000000 == 0);
    CHECK(out.created_at.nanos >= 0 && out.created_at.nanos < 1000000000);
    /* the id carries the creation second */
    objectid id;
    CHECK(objectid_from_hex(out.msg.id, 24, &id) == 0);
    CHECK((int64_t)objectid_seconds(&id) == out.created_at.seconds);
    /* stored, with the secret (never part of the webhook message) */
    const store_webhook *w = store_get(the_core.store, &id);
    CHECK(w != NULL);
    if (w != NULL) {
        CHECK_STR(w->secret, "");
        CHECK_STR(w->url, "https://example.com/h");
    }
    CHECK(store_count(the_core.store) == 1);

    /* NULL optional strings are stored as "" */
    r = create_req(ECO_A1, "https://example.com/h2", NULL, NULL);
    error_clear(&err);
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == 0);
    CHECK_STR(out.msg.description, "");

    /* with secret and description at their configured limits */
    char url[64 + 1];
    memset(url, 'u', 64);
    memcpy(url, "http://example.com/", 19);
    url[64] = '\0';
    r = create_req(ECO_A2, url, "12345678", "0123456789abcdef");
    error_clear(&err);
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == 0);
    CHECK(err.kind == ERROR_NONE);
    CHECK_STR(out.msg.description, "0123456789abcdef");
    CHECK_STR(out.msg.url, url);
    if (objectid_from_hex(out.msg.id, 24, &id) == 0 && (w = store_get(the_core.store, &id)) != NULL)
        CHECK_STR(w->secret, "12345678");

    /* the output encodes as the API shows it */
    size_t len;
    char *json = codec_json_encode(&out.msg.base, &len);
    CHECK(json != NULL);
    if (json != NULL) {
        CHECK(strncmp(json, "{\"id\":\"", 7) == 0);
        CHECK(strstr(json, "\"description\":\"0123456789abcdef\",\"ecosystemId\":\"" ECO_A2 "\"") != NULL);
        CHECK(strstr(json, "\"disabled\":false,\"createdAt\":\"") != NULL);
        CHECK(strstr(json, "secret") == NULL);
        CHECK(strstr(json, "12345678\"") == NULL);
    }
    free(json);

    /* a server token creates in its own ecosystem */
    r = create_req(ECO_A1, "https://example.com/srv", "", "by server");
    error_clear(&err);
    CHECK(create_now(&the_core, &srv_a1, &r, &out, &err) == 0);
    CHECK_STR(out.msg.ecosystem_id, ECO_A1);
    CHECK(store_count(the_core.store) == 4);
}

static void test_create_errors(void)
{
    error err;
    core_webhook out;
    size_t before = store_count(the_core.store);

    /* every field wrong: four problems in field order */
    schema_create_request r = create_req("bad", "ftp://x", "123456789", "0123456789abcdefg");
    error_clear(&err);
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == -1);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 4);
    static const char *paths[] = {"ecosystem_id", "url", "secret", "description"};
    static const char *messages[] = {"invalid id", "invalid url", "must be at most 8 bytes",
                                     "must be at most 16 bytes"};
    for (unsigned i = 0; i < 4 && i < err.n_params; i++) {
        CHECK_STR(error_param_path(&err, i), paths[i]);
        CHECK_STR(error_param_message(&err, i), messages[i]);
    }

    /* the url over the configured max_url_length by one byte */
    char url[66];
    memset(url, 'u', 65);
    memcpy(url, "http://example.com/", 19);
    url[65] = '\0';
    r = create_req(ECO_A1, url, "", "");
    error_clear(&err);
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == -1);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "invalid url");

    /* problems a codec found first (out of order) are kept, and everything is sorted */
    const char body[] = "{\"description\":5,\"x\":1,\"ecosystemId\":\"" ECO_A1 "\",\"url\":[]}";
    error_clear(&err);
    schema_create_request *decoded =
        (schema_create_request *)codec_json_decode(&schema_create_request_descriptor, body, strlen(body), NULL, &err);
    CHECK(decoded != NULL);
    if (decoded != NULL) {
        CHECK(create_now(&the_core, &acme, decoded, &out, &err) == -1);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params == 3);
        if (err.n_params == 3) {
            CHECK_STR(error_param_path(&err, 0), "url");
            CHECK_STR(error_param_message(&err, 0), "must be a string"); /* the codec's, not "field is required" */
            CHECK_STR(error_param_path(&err, 1), "description");
            CHECK_STR(error_param_message(&err, 1), "must be a string");
            CHECK_STR(error_param_path(&err, 2), "additional parameters");
            CHECK_STR(error_param_message(&err, 2), "contains fields that are not allowed: [ x ]");
        }
        protobuf_c_message_free_unpacked(&decoded->base, NULL);
    }

    /* a codec problem alone fails the request even when the fields themselves are valid */
    r = create_req(ECO_A1, "https://example.com/h", "", "");
    error_clear(&err);
    error_add_param(&err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters", "x");
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == -1);
    CHECK(err.n_params == 1);

    /* ecosystems out of reach */
    static const char *gone[] = {ECO_A3, ECO_B1, ECO_NONE};
    for (size_t i = 0; i < 3; i++) {
        char want[128];
        snprintf(want, sizeof want, "Ecosystem with id %s does not exist.", gone[i]);
        r = create_req(gone[i], "https://example.com/h", "", "");
        error_clear(&err);
        CHECK(create_now(&the_core, &acme, &r, &out, &err) == -1);
        CHECK(err.kind == ERROR_NOT_FOUND);
        CHECK_STR(err.reason, want);
    }
    r = create_req(ECO_A2, "https://example.com/h", "", "");
    error_clear(&err);
    CHECK(create_now(&the_core, &srv_a1, &r, &out, &err) == -1);
    CHECK(err.kind == ERROR_PERMISSION_DENIED);
    r = create_req(ECO_A1, "https://example.com/h", "", "");
    error_clear(&err);
    CHECK(create_now(&the_core, &other, &r, &out, &err) == -1);
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, "Ecosystem with id " ECO_A1 " does not exist.");

    /* validation comes before the ecosystem check: an invalid request to a foreign
     * ecosystem is a 400, not a 404 */
    r = create_req(ECO_B1, "", "", "");
    error_clear(&err);
    CHECK(create_now(&the_core, &acme, &r, &out, &err) == -1);
    CHECK(err.kind == ERROR_INVALID_PARAMS);

    CHECK(store_count(the_core.store) == before);
}

static void test_get(void)
{
    error err;
    core_webhook made, got;
    schema_create_request r = create_req(ECO_A2, "https://example.com/get", "s", "to get");
    error_clear(&err);
    CHECK(create_now(&the_core, &acme, &r, &made, &err) == 0);

    schema_get_request g = DROPLIT__WEBHOOKS__V1__GET_WEBHOOK_REQUEST__INIT;
    g.id = made.id_hex;
    error_clear(&err);
    memset(&got, 0, sizeof got);
    CHECK(core_get_webhook(&the_core, &acme, &g, &got, &err) == 0);
    CHECK(err.kind == ERROR_NONE);
    CHECK_STR(got.msg.id, made.id_hex);
    CHECK(got.msg.id == got.id_hex);
    CHECK_STR(got.msg.url, "https://example.com/get");
    CHECK_STR(got.msg.description, "to get");
    CHECK_STR(got.msg.ecosystem_id, ECO_A2);
    CHECK(got.msg.disabled == 0);
    CHECK(got.msg.created_at == &got.created_at);
    CHECK(got.created_at.seconds == made.created_at.seconds);
    CHECK(got.created_at.nanos == made.created_at.nanos);

    /* core_webhook_fill from the stored record gives the same */
    objectid id;
    CHECK(objectid_from_hex(made.id_hex, 24, &id) == 0);
    const store_webhook *w = store_get(the_core.store, &id);
    CHECK(w != NULL);
    if (w != NULL) {
        core_webhook filled;
        core_webhook_fill(&filled, w);
        CHECK_STR(filled.msg.id, made.id_hex);
        CHECK(filled.created_at.seconds * 1000 + filled.created_at.nanos / 1000000 == w->created_ms);
        CHECK(filled.msg.created_at == &filled.created_at);
    }

    /* the other account: not found, worded as for an absent id */
    char want[128];
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", made.id_hex);
    error_clear(&err);
    CHECK(core_get_webhook(&the_core, &other, &g, &got, &err) == -1);
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, want);
    /* a server token of a sibling ecosystem: not found either */
    error_clear(&err);
    CHECK(core_get_webhook(&the_core, &srv_a1, &g, &got, &err) == -1);
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, want);

    /* absent id */
    g.id = "000000000000000000000000";
    error_clear(&err);
    CHECK(core_get_webhook(&the_core, &acme, &g, &got, &err) == -1);
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, "Webhook with id 000000000000000000000000 does not exist.");

    /* invalid ids */
    static const char *bad[] = {"nope", "", "5A96C7EA0E4C1B0001A0B0C0", ECO_A1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g.id = (char *)bad[i];
        error_clear(&err);
        CHECK(core_get_webhook(&the_core, &acme, &g, &got, &err) == -1);
        CHECK(err.kind == ERROR_INVALID_PARAMS);
        CHECK(err.n_params == 1);
        if (err.n_params == 1) {
            CHECK_STR(error_param_path(&err, 0), "id");
            CHECK_STR(error_param_message(&err, 0), "invalid id");
        }
    }
    g.id = made.id_hex; /* the same id in uppercase is not the webhook */
    char upper[25];
    for (int i = 0; i < 25; i++)
        upper[i] = (made.id_hex[i] >= 'a' && made.id_hex[i] <= 'f') ? (char)(made.id_hex[i] - 32) : made.id_hex[i];
    g.id = upper;
    error_clear(&err);
    CHECK(core_get_webhook(&the_core, &acme, &g, &got, &err) == -1);
    if (strcmp(upper, made.id_hex) != 0)
        CHECK(err.kind == ERROR_INVALID_PARAMS);
}

/* A bump allocator's bookkeeping: everything it handed out, freed together. */
typedef struct arena {
    void *blocks[1024];
    size_t n;
} arena;

static void *arena_alloc(void *data, size_t size)
{
    arena *a = data;
    if (a->n == sizeof a->blocks / sizeof a->blocks[0])
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        a->blocks[a->n++] = p;
    return p;
}

static void arena_free(void *data, void *p)
{
    (void)data;
    (void)p; /* released with the arena */
}

static int arena_owns(const arena *a, const void *p)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->blocks[i] == p)
            return 1;
    return 0;
}

static void arena_release(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    a->n = 0;
}

static void test_list(void)
{
    /* a fresh store so the expected lists are exact */
    store *s = store_create();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    core c = {.cfg = cfg, .store = s};
    error err;
    core_webhook made[6];
    static const char *ecos[] = {ECO_A1, ECO_A2, ECO_A1, ECO_B1, ECO_A1, ECO_A2};
    static const auth_principal *whos[] = {&acme, &acme, &srv_a1, &other, &acme, &acme};
    for (int i = 0; i < 6; i++) {
        char desc[16];
        snprintf(desc, sizeof desc, "n%d", i);
        schema_create_request r = create_req(ecos[i], "https://example.com/l", "", desc);
        error_clear(&err);
        CHECK(create_now(&c, whos[i], &r, &made[i], &err) == 0);
    }
    CHECK(store_count(s) == 6);

    schema_list_request l = DROPLIT__WEBHOOKS__V1__LIST_WEBHOOKS_REQUEST__INIT;
    schema_list_response out;
    l.ecosystem_id = ECO_A1;
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == 0);
    CHECK(err.kind == ERROR_NONE);
    CHECK(out.base.descriptor == &schema_list_response_descriptor);
    CHECK(out.n_items == 3);
    static const int a1[] = {0, 2, 4};
    for (size_t i = 0; i < 3 && i < out.n_items; i++) {
        CHECK_STR(out.items[i]->id, made[a1[i]].id_hex);
        CHECK_STR(out.items[i]->description, made[a1[i]].msg.description);
        CHECK_STR(out.items[i]->ecosystem_id, ECO_A1);
        CHECK(out.items[i]->created_at != NULL);
    }
    /* it encodes as a list response */
    size_t len;
    char *json = codec_json_encode(&out.base, &len);
    CHECK(json != NULL && strncmp(json, "{\"items\":[{\"id\":\"", 17) == 0);
    free(json);
    core_list_free(&out);
    CHECK(out.n_items == 0);

    /* the server token of A1 lists A1 */
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &srv_a1, &l, NULL, &out, &err) == 0);
    CHECK(out.n_items == 3);
    core_list_free(&out);

    l.ecosystem_id = ECO_A2;
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == 0);
    CHECK(out.n_items == 2);
    if (out.n_items == 2) {
        CHECK_STR(out.items[0]->id, made[1].id_hex);
        CHECK_STR(out.items[1]->id, made[5].id_hex);
    }
    core_list_free(&out);

    /* out of reach */
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &srv_a1, &l, NULL, &out, &err) == -1);
    CHECK(err.kind == ERROR_PERMISSION_DENIED);
    CHECK(out.n_items == 0);
    l.ecosystem_id = ECO_B1;
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == -1);
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, "Ecosystem with id " ECO_B1 " does not exist.");
    CHECK(out.n_items == 0);
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &other, &l, NULL, &out, &err) == 0);
    CHECK(out.n_items == 1);
    if (out.n_items == 1)
        CHECK_STR(out.items[0]->id, made[3].id_hex);
    core_list_free(&out);
    l.ecosystem_id = ECO_A3;
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == -1);
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, "Ecosystem with id " ECO_A3 " does not exist.");

    /* invalid requests */
    l.ecosystem_id = "";
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == -1);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    if (err.n_params == 1) {
        CHECK_STR(error_param_path(&err, 0), "ecosystem_id");
        CHECK_STR(error_param_message(&err, 0), "field is required");
    }
    l.ecosystem_id = "C000000000000000000000A01";
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == -1);
    CHECK(err.n_params == 1);
    if (err.n_params == 1)
        CHECK_STR(error_param_message(&err, 0), "invalid id");

    /* an empty ecosystem: no items; core_list_free is still fine */
    store *s2 = store_create();
    CHECK(s2 != NULL);
    if (s2 != NULL) {
        core c2 = {.cfg = cfg, .store = s2};
        l.ecosystem_id = ECO_A1;
        error_clear(&err);
        CHECK(core_list_webhooks(&c2, &acme, &l, NULL, &out, &err) == 0);
        CHECK(out.n_items == 0);
        json = codec_json_encode(&out.base, &len);
        CHECK_STR(json, "{\"items\":[]}");
        free(json);
        core_list_free(&out);
        store_destroy(s2);
    }

    /* many: past any initial capacity, oldest first */
    for (int i = 0; i < 100; i++) {
        schema_create_request r = create_req(ECO_A2, "https://example.com/many", "", "");
        core_webhook tmp;
        error_clear(&err);
        CHECK(create_now(&c, &acme, &r, &tmp, &err) == 0);
    }
    l.ecosystem_id = ECO_A2;
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, NULL, &out, &err) == 0);
    CHECK(out.n_items == 102);
    int ordered = 1;
    for (size_t i = 1; i < out.n_items; i++) {
        const schema_timestamp *p = out.items[i - 1]->created_at, *q = out.items[i]->created_at;
        if (p->seconds > q->seconds || (p->seconds == q->seconds && p->nanos > q->nanos))
            ordered = 0;
    }
    CHECK(ordered);
    if (out.n_items == 102) {
        CHECK_STR(out.items[0]->id, made[1].id_hex);
        CHECK_STR(out.items[1]->id, made[5].id_hex);
    }
    core_list_free(&out);

    /* a caller's allocator (an arena: it frees all at once) gets every allocation */
    arena a = {.n = 0};
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &a};
    error_clear(&err);
    CHECK(core_list_webhooks(&c, &acme, &l, &alloc, &out, &err) == 0);
    CHECK(out.n_items == 102);
    CHECK(a.n >= 103); /* the items and at least one array */
    if (out.n_items == 102) {
        CHECK_STR(out.items[0]->id, made[1].id_hex);
        CHECK(arena_owns(&a, out.items));
        int owned = 1;
        for (size_t i = 0; i < out.n_items; i++)
            owned &= arena_owns(&a, out.items[i]);
        CHECK(owned);
    }
    arena_release(&a);
    store_destroy(s);
}

/* A keyed create on the_core; the outcome's fields come back through op. */
static int create_keyed(const auth_principal *who, const schema_create_request *req, const char *key, core_create *op)
{
    error_clear(&op->err);
    int rc = core_create_webhook(&the_core, who, req, key, key != NULL ? strlen(key) : 0, op);
    CHECK(rc != CORE_PENDING);
    return rc;
}

static void test_idempotency(void)
{
    core_create first, again;
    schema_create_request r = create_req(ECO_A1, "https://example.com/once", "s3", "d");
    size_t before = store_count(the_core.store);

    /* the same key and request: the first webhook again, nothing new stored */
    CHECK(create_keyed(&acme, &r, "order-17", &first) == 0);
    CHECK(first.replayed == 0);
    CHECK(store_count(the_core.store) == before + 1);
    CHECK(first.stored != NULL && first.stored->idempotency != NULL);
    CHECK(create_keyed(&acme, &r, "order-17", &again) == 0);
    CHECK(again.replayed == 1);
    CHECK(again.stored == first.stored);
    CHECK_STR(again.result.msg.id, first.result.msg.id);
    CHECK(store_count(the_core.store) == before + 1);

    /* absent optional fields equal empty ones, as they are stored */
    schema_create_request bare = create_req(ECO_A1, "https://example.com/bare", NULL, NULL);
    schema_create_request empty = create_req(ECO_A1, "https://example.com/bare", "", "");
    CHECK(create_keyed(&acme, &bare, "bare", &first) == 0);
    CHECK(create_keyed(&acme, &empty, "bare", &again) == 0 && again.replayed == 1);

    /* the same key with anything else different: 422, nothing stored */
    schema_create_request other_url = create_req(ECO_A1, "https://example.com/twice", "s3", "d");
    schema_create_request other_secret = create_req(ECO_A1, "https://example.com/once", "s4", "d");
    schema_create_request other_eco = create_req(ECO_A2, "https://example.com/once", "s3", "d");
    schema_create_request other_desc = create_req(ECO_A1, "https://example.com/once", "s3", NULL);
    const schema_create_request *others[] = {&other_url, &other_secret, &other_eco, &other_desc};
    size_t stored = store_count(the_core.store);
    for (int i = 0; i < 4; i++) {
        CHECK(create_keyed(&acme, others[i], "order-17", &again) == -1);
        CHECK(again.err.kind == ERROR_UNPROCESSABLE);
        CHECK(again.stored == NULL);
    }
    CHECK(store_count(the_core.store) == stored);

    /* another token's key is another key, even for the same account */
    CHECK(create_keyed(&srv_a1, &r, "order-17", &again) == 0);
    CHECK(again.replayed == 0 && again.stored != NULL);
    CHECK(store_count(the_core.store) == stored + 1);

    /* a malformed key is a parameter problem in the header, with the body's, sorted last */
    const char *bad[] = {"", "tab\there", "caf\xc3\xa9", NULL};
    char long_key[300];
    memset(long_key, 'k', 256), long_key[256] = '\0';
    bad[3] = long_key;
    for (int i = 0; i < 4; i++) {
        CHECK(create_keyed(&acme, &r, bad[i], &again) == -1);
        CHECK(again.err.kind == ERROR_INVALID_PARAMS && again.err.n_params == 1);
        CHECK(again.err.params[0].in == ERROR_IN_HEADER);
        CHECK_STR(error_param_path(&again.err, 0), "Idempotency-Key");
    }
    long_key[255] = '\0';
    CHECK(create_keyed(&acme, &r, long_key, &again) == 0);
    schema_create_request bad_url = create_req(ECO_A1, "not a url", "", "");
    CHECK(create_keyed(&acme, &bad_url, "", &again) == -1);
    CHECK(again.err.n_params == 2);
    CHECK_STR(error_param_path(&again.err, 0), "url");
    CHECK_STR(error_param_path(&again.err, 1), "Idempotency-Key");
    /* a failed create is not remembered: the key is free for a good request */
    CHECK(create_keyed(&acme, &bad_url, "after-failure", &again) == -1);
    CHECK(create_keyed(&acme, &r, "after-failure", &again) == 0 && again.replayed == 0);

    /* while a create with the key waits for the journal: 409 */
    uint8_t digest[STORE_IDEMPOTENCY_LEN];
    auth_scoped_digest(&acme, "in-flight", 9, digest);
    const store_webhook *none = NULL;
    CHECK(idempotency_begin(the_core.idempotency, digest, 0, &none) == IDEMPOTENCY_NEW);
    CHECK(create_keyed(&acme, &r, "in-flight", &again) == -1);
    CHECK(again.err.kind == ERROR_CONFLICT);
    idempotency_end(the_core.idempotency, digest);
    CHECK(create_keyed(&acme, &r, "in-flight", &again) == 0 && again.replayed == 0);

    /* a webhook made with the key more than 24 h ago no longer answers for it */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    auth_scoped_digest(&acme, "yesterday", 9, digest);
    store_webhook old = {.id = objectid_make((uint32_t)now.tv_sec - 90000), .created_ms = now_ms - IDEMPOTENCY_WINDOW_MS - 1000,
                         .ecosystem_id = ECO_A1, .url = "https://example.com/once", .secret = "s3", .description = "d",
                         .idempotency = digest};
    error err;
    error_clear(&err);
    const store_webhook *old_stored = store_insert(the_core.store, &old, &err);
    CHECK(old_stored != NULL);
    CHECK(create_keyed(&acme, &r, "yesterday", &first) == 0);
    CHECK(first.replayed == 0 && first.stored != old_stored);
    /* and the new one answers for it from now on */
    CHECK(create_keyed(&acme, &r, "yesterday", &again) == 0);
    CHECK(again.replayed == 1 && again.stored == first.stored);
    /* one made 23 h ago still does */
    auth_scoped_digest(&acme, "recent", 6, digest);
    old.id = objectid_make((uint32_t)now.tv_sec - 82800);
    old.created_ms = now_ms - IDEMPOTENCY_WINDOW_MS + 3600000;
    old_stored = store_insert(the_core.store, &old, &err);
    CHECK(create_keyed(&acme, &r, "recent", &again) == 0);
    CHECK(again.replayed == 1 && again.stored == old_stored);
}

int main(void)
{
    CHECK(objectid_init() == 0);
    char errtext[CONFIG_ERROR_MAX];
    cfg = config_parse("core.yaml", yaml, strlen(yaml), errtext);
    if (cfg == NULL)
        fprintf(stderr, "config: %s\n", errtext);
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return test_exit_code();
    the_core.cfg = cfg;
    the_core.store = store_create();
    the_core.idempotency = the_core.store != NULL ? idempotency_create(the_core.store) : NULL;
    CHECK(the_core.idempotency != NULL);
    if (the_core.idempotency != NULL) {
        principal("acme-token", &acme);
        principal("srv-a1", &srv_a1);
        principal("other-token", &other);
        test_create();
        test_create_errors();
        test_get();
        test_list();
        test_idempotency();
        idempotency_destroy(the_core.idempotency);
        store_destroy(the_core.store);
    }
    config_destroy(cfg);
    return test_exit_code();
}
