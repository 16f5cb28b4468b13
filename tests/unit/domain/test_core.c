/* test_core: the core through its one front door (core_call_start), over a real config and
 * the memory backend, and over a deferred backend whose every answer comes later from
 * another thread: what a create stores and returns; the order of checks (token, transport
 * problems, rate, parameters in schema order, ecosystem); reads scoped to the caller;
 * lists in creation order; Idempotency-Key replays, conflicts and windows; dispatch from
 * the service descriptor; invokes through a fake delivery (what the call carries, its
 * outcomes, max_concurrent_invokes) and the url policy of create and update;
 * configuration reloads and their reclamation. */
#include "core.h"
#include "codec_json.h"
#include "oom.h"
#include "test.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ECO_A1 "C000000000000000000000a01"
#define ECO_A2 "C000000000000000000000a02"
#define ECO_A3 "C000000000000000000000a03" /* deleted */
#define ECO_B1 "C000000000000000000000b01"
#define ECO_NONE "C000000000000000000000fff"

#define YAML_ACCOUNTS                                                                                                  \
    "accounts:\n"                                                                                                      \
    "  - id: acme\n"                                                                                                   \
    "    tokens: [ acme-token ]\n"                                                                                     \
    "    ecosystems:\n"                                                                                                \
    "      - { id: " ECO_A1 ", server_tokens: [ srv-a1 ] }\n"                                                          \
    "      - { id: " ECO_A2 " }\n"                                                                                     \
    "      - { id: " ECO_A3 ", deleted: true }\n"                                                                      \
    "  - id: other\n"                                                                                                  \
    "    tokens: [ other-token ]\n"                                                                                    \
    "    ecosystems:\n"                                                                                                \
    "      - { id: " ECO_B1 " }\n"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "limits: { max_url_length: 64, max_description_length: 16, max_secret_length: 8 }\n" YAML_ACCOUNTS;

static const int64_t NOW_MS = 1700000000123LL; /* the clock every call is given */

static config *config_of(const char *text)
{
    char err[CONFIG_ERROR_MAX];
    config *cfg = config_parse("test.yaml", text, strlen(text), err);
    if (cfg == NULL)
        fprintf(stderr, "config_parse: %s\n", err);
    CHECK(cfg != NULL);
    return cfg;
}

static core *core_of(const char *text, backend *store)
{
    core *c = core_create(config_of(text), store);
    CHECK(c != NULL);
    return c;
}

static backend *memory_backend(void)
{
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    backend *b = backend_memory_open(NULL, NULL, &stats, err);
    CHECK(b != NULL);
    return b;
}

/* ---- calls ---------------------------------------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waiter;

static void on_done(core_call *call)
{
    waiter *w = call->data;
    pthread_mutex_lock(&w->lock);
    w->done++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The calls' response memory, as a request's pool: blocks freed together (arena_release). */
typedef struct block {
    struct block *next;
    _Alignas(16) unsigned char bytes[];
} block;
static block *blocks;
static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER; /* the deferred backend allocates on its thread */

static void *arena_alloc(void *data, size_t size)
{
    (void)data;
    block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    pthread_mutex_lock(&blocks_lock);
    b->next = blocks;
    blocks = b;
    pthread_mutex_unlock(&blocks_lock);
    return b->bytes;
}

static void arena_free(void *data, void *p)
{
    (void)data, (void)p; /* freed with the arena */
}

static ProtobufCAllocator arena = {arena_alloc, arena_free, NULL};

static void arena_release(void)
{
    while (blocks != NULL) {
        block *next = blocks->next;
        free(blocks);
        blocks = next;
    }
}

static void call_setup(core_call *call, core_method method, const char *token, const ProtobufCMessage *request)
{
    core_call_init(call, method);
    call->authorization = token;
    call->authorization_len = token != NULL ? strlen(token) : 0;
    call->request = request;
    call->now_ms = NOW_MS;
    call->monotonic_ms = 1000;
    call->default_in = ERROR_IN_BODY;
    call->alloc = &arena;
}

/* Runs a call on a core whose backend answers at once: it must finish without done. */
static int run_now(core *c, core_call *call)
{
    int rc = core_call_start(c, call);
    CHECK(rc != CORE_PENDING);
    CHECK(rc == 0 ? call->response != NULL : call->response == NULL);
    return rc;
}

static int create(core *c, const char *token, const schema_create_request *r, const char *key, core_call *call)
{
    call_setup(call, CORE_CREATE, token, &r->base);
    call->idempotency_key = key;
    call->idempotency_key_len = key != NULL ? strlen(key) : 0;
    return run_now(c, call);
}

static schema_create_request create_req(const char *eco, const char *url, const char *secret, const char *desc)
{
    schema_create_request r = SCHEMA_CREATE_REQUEST_INIT;
    r.ecosystem_id = (char *)eco;
    r.url = (char *)url;
    r.secret = (char *)secret;
    r.description = (char *)desc;
    return r;
}

static void noted(backend_call *bc)
{
    *(const store_webhook **)bc->data = bc->found;
}

/* The stored record with this hex id, read from the memory backend (which answers at once). */
static const store_webhook *stored(backend *b, const char *id_hex)
{
    const store_webhook *found = NULL;
    backend_call bc = {.verb = BACKEND_GET, .done = noted, .data = &found};
    if (objectid_from_hex(id_hex, strlen(id_hex), &bc.id) != 0)
        return NULL;
    backend_submit(b, &bc);
    return found;
}

static size_t count(backend *b)
{
    backend_stats st;
    backend_stats_get(b, &st);
    return st.webhooks;
}

#define EXPECT_ERROR(call, want_kind, want_reason)                                                                  \
    do {                                                                                                           \
        const core_call *c_ = (call);                                                                              \
        const char *r_ = (want_reason);                                                                            \
        if (c_->err.kind != (want_kind) || (r_ != NULL && strcmp(c_->err.reason, r_) != 0)) {                      \
            fprintf(stderr, "%s:%d: want error kind %d (%s), got %d (%s)\n", __FILE__, __LINE__, (int)(want_kind), \
                    r_ ? r_ : "", (int)c_->err.kind, c_->err.reason);                                              \
            test_failures++;                                                                                       \
        }                                                                                                          \
    } while (0)

static int is_hex24(const char *s)
{
    if (s == NULL || strlen(s) != 24)
        return 0;
    for (int i = 0; i < 24; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* ---- create ---------------------------------------------------------------------------------- */

static void test_create(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call call;
    schema_create_request r = create_req(ECO_A1, "https://example.com/h", "s3cret", "");
    CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
    CHECK(call.created == 1 && call.replayed == 0);
    const schema_webhook *w = (const schema_webhook *)call.response;
    CHECK(call.response->descriptor == &schema_webhook_descriptor);
    CHECK(is_hex24(w->id));
    CHECK_STR(w->ecosystem_id, ECO_A1);
    CHECK_STR(w->url, "https://example.com/h");
    CHECK_STR(w->description, "");
    CHECK(w->disabled == 0);
    /* created at the clock the transport gave, to the millisecond; the id carries its second */
    CHECK(w->created_at->seconds * 1000 + w->created_at->nanos / 1000000 == NOW_MS);
    objectid id;
    CHECK(objectid_from_hex(w->id, 24, &id) == 0);
    CHECK((int64_t)objectid_seconds(&id) == NOW_MS / 1000);
    /* stored with the secret, which the webhook message never carries */
    const store_webhook *rec = stored(b, w->id);
    CHECK(rec != NULL && strcmp(rec->secret, "s3cret") == 0);
    size_t len;
    char *json = codec_json_encode(call.response, &len);
    CHECK(json != NULL && strstr(json, "s3cret") == NULL && strstr(json, "secret") == NULL);
    free(json);

    /* absent optional strings are stored as "" */
    r = create_req(ECO_A1, "https://example.com/h2", NULL, NULL);
    CHECK(create(c, "Bearer acme-token", &r, NULL, &call) == 0);
    CHECK_STR(((const schema_webhook *)call.response)->description, "");

    /* a server token creates in its own ecosystem */
    r = create_req(ECO_A1, "https://example.com/srv", "", "by server");
    CHECK(create(c, "srv-a1", &r, NULL, &call) == 0);
    CHECK(count(b) == 3);
    core_destroy(c);
}

/* The order of checks: token, then what the transport found that is not a parameter
 * problem, then parameters (the codec's and the validator's merged, in schema field
 * order, named by schema field), then the ecosystem. */
static void test_create_errors(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call call;

    /* every field wrong: four problems in field order, by schema name */
    schema_create_request r = create_req("bad", "ftp://x", "123456789", "0123456789abcdefg");
    CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    static const char *paths[] = {"ecosystem_id", "url", "secret", "description"};
    static const char *messages[] = {"invalid id", "invalid url", "must be at most 8 bytes", "must be at most 16 bytes"};
    CHECK(call.err.n_params == 4);
    for (unsigned i = 0; i < 4 && i < call.err.n_params; i++) {
        CHECK_STR(error_param_path(&call.err, i), paths[i]);
        CHECK_STR(error_param_message(&call.err, i), messages[i]);
        CHECK(call.err.params[i].in == ERROR_IN_BODY); /* the call's default_in */
    }

    /* a codec's problem with a field stands in for the validator's; both sorted together */
    r = create_req(NULL, NULL, NULL, NULL);
    call_setup(&call, CORE_CREATE, "acme-token", &r.base);
    error_add_param(&call.err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters", "contains x");
    error_add_field(&call.err, ERROR_IN_UNSET, 2, "url", "must be a string");
    CHECK(run_now(c, &call) == -1);
    CHECK(call.err.n_params == 3);
    if (call.err.n_params == 3) {
        CHECK_STR(error_param_path(&call.err, 0), "ecosystem_id");
        CHECK_STR(error_param_message(&call.err, 0), "field is required");
        CHECK_STR(error_param_message(&call.err, 1), "must be a string");
        CHECK_STR(error_param_path(&call.err, 2), "additional parameters");
        CHECK(call.err.params[2].in == ERROR_IN_QUERY);
    }

    /* the token comes first, whatever else is wrong */
    const char *tokens[] = {NULL, "", "nobody", "acme-token ", "Bearer"};
    for (int i = 0; i < 5; i++) {
        call_setup(&call, CORE_CREATE, tokens[i], NULL);
        error_set(&call.err, ERROR_INVALID_BODY, "unreadable JSON"); /* the transport's */
        CHECK(run_now(c, &call) == -1);
        CHECK(call.err.kind == ERROR_UNAUTHENTICATED && call.err.n_params == 0);
    }
    call_setup(&call, CORE_CREATE, NULL, NULL);
    error_set(&call.err, ERROR_TOO_LARGE, "Request body exceeds the limit of 10 bytes.");
    CHECK(run_now(c, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, "Missing authorization token.");

    /* then what the transport found: 413 wins over parameter problems */
    r = create_req("bad", NULL, NULL, NULL);
    call_setup(&call, CORE_CREATE, "acme-token", &r.base);
    error_set(&call.err, ERROR_TOO_LARGE, "Request body exceeds the limit of 10 bytes.");
    CHECK(run_now(c, &call) == -1);
    EXPECT_ERROR(&call, ERROR_TOO_LARGE, "Request body exceeds the limit of 10 bytes.");
    CHECK(call.err.n_params == 0);

    /* ecosystems out of reach */
    r = create_req(ECO_NONE, "https://example.com/h", NULL, NULL);
    CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Ecosystem with id " ECO_NONE " does not exist.");
    r.ecosystem_id = ECO_A3; /* deleted */
    CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Ecosystem with id " ECO_A3 " does not exist.");
    r.ecosystem_id = ECO_B1; /* another account's */
    CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Ecosystem with id " ECO_B1 " does not exist.");
    r.ecosystem_id = ECO_A2; /* the server token's account, another ecosystem */
    CHECK(create(c, "srv-a1", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_PERMISSION_DENIED, "Token not permitted for this ecosystem.");
    CHECK(count(b) == 0);
    core_destroy(c);
}

/* ---- get and list ------------------------------------------------------------------------------ */

static int get(core *c, const char *token, const char *id, core_call *call)
{
    static schema_get_request g;
    schema_get_request init = SCHEMA_GET_REQUEST_INIT;
    g = init;
    g.id = (char *)id;
    call_setup(call, CORE_GET, token, &g.base);
    call->default_in = ERROR_IN_PATH;
    return run_now(c, call);
}

static void test_get_and_list(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call call;
    char ids[3][OBJECTID_HEX_LEN + 1];
    const char *ecos[3] = {ECO_A1, ECO_A2, ECO_A1};
    for (int i = 0; i < 3; i++) {
        schema_create_request r = create_req(ecos[i], "https://example.com/h", NULL, NULL);
        CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
        strcpy(ids[i], ((const schema_webhook *)call.response)->id);
    }

    CHECK(get(c, "acme-token", ids[1], &call) == 0);
    CHECK(call.created == 0);
    CHECK_STR(((const schema_webhook *)call.response)->ecosystem_id, ECO_A2);
    /* out of scope is simply not there */
    CHECK(get(c, "other-token", ids[0], &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, NULL);
    CHECK(strstr(call.err.reason, ids[0]) != NULL);
    CHECK(get(c, "srv-a1", ids[1], &call) == -1); /* server token of another ecosystem */
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, NULL);
    CHECK(get(c, "srv-a1", ids[2], &call) == 0);
    CHECK(get(c, "acme-token", "000000000000000000000000", &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Webhook with id 000000000000000000000000 does not exist.");
    /* a malformed id is a parameter problem in the path */
    CHECK(get(c, "acme-token", "XYZ", &call) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 1 && call.err.params[0].in == ERROR_IN_PATH);
    CHECK(get(c, NULL, ids[0], &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);

    /* list: oldest first, only the ecosystem's */
    schema_list_request l = SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = ECO_A1;
    call_setup(&call, CORE_LIST, "acme-token", &l.base);
    CHECK(run_now(c, &call) == 0);
    const schema_list_response *list = (const schema_list_response *)call.response;
    CHECK(list->n_items == 2);
    if (list->n_items == 2) {
        CHECK_STR(list->items[0]->id, ids[0]);
        CHECK_STR(list->items[1]->id, ids[2]);
    }
    l.ecosystem_id = ECO_B1;
    call_setup(&call, CORE_LIST, "other-token", &l.base);
    CHECK(run_now(c, &call) == 0 && ((const schema_list_response *)call.response)->n_items == 0);
    call_setup(&call, CORE_LIST, "acme-token", &l.base); /* another account's ecosystem */
    CHECK(run_now(c, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, NULL);
    l.ecosystem_id = "";
    call_setup(&call, CORE_LIST, "acme-token", &l.base);
    call.default_in = ERROR_IN_QUERY;
    CHECK(run_now(c, &call) == -1);
    CHECK(call.err.n_params == 1 && call.err.params[0].in == ERROR_IN_QUERY);
    if (call.err.n_params == 1)
        CHECK_STR(error_param_path(&call.err, 0), "ecosystem_id");
    core_destroy(c);
}

/* ---- update and delete --------------------------------------------------------------------------- */

/* An update request as REST makes it: the id from the path, the changes from the body.
 * secret, description and disabled are set when given (NULL / -1: absent). */
typedef struct update_req {
    schema_update_request r;
    schema_webhook_changes ch;
} update_req;

static int update(core *c, const char *token, const char *id, const char *url, const char *secret, const char *desc,
                  int disabled, core_call *call)
{
    static update_req u;
    schema_update_request r = SCHEMA_UPDATE_REQUEST_INIT;
    schema_webhook_changes ch = SCHEMA_WEBHOOK_CHANGES_INIT;
    u.r = r;
    u.ch = ch;
    u.r.id = (char *)id;
    u.r.changes = &u.ch;
    u.ch.url = (char *)url;
    if (secret != NULL)
        u.ch.secret_set_case = SCHEMA_CHANGES_SECRET_SET, u.ch.secret = (char *)secret;
    if (desc != NULL)
        u.ch.description_set_case = SCHEMA_CHANGES_DESCRIPTION_SET, u.ch.description = (char *)desc;
    if (disabled >= 0)
        u.ch.disabled_set_case = SCHEMA_CHANGES_DISABLED_SET, u.ch.disabled = disabled;
    call_setup(call, CORE_UPDATE, token, &u.r.base);
    call->id_in = ERROR_IN_PATH;
    return run_now(c, call);
}

static int delete(core *c, const char *token, const char *id, core_call *call)
{
    static schema_delete_request d;
    schema_delete_request init = SCHEMA_DELETE_REQUEST_INIT;
    d = init;
    d.id = (char *)id;
    call_setup(call, CORE_DELETE, token, &d.base);
    call->default_in = ERROR_IN_PATH;
    return run_now(c, call);
}

/* The answer's JSON, written with the call's memo and without: the same text. */
static char *json_with_memo(core_call *call)
{
    codec_json_memo memo = core_call_memo(call);
    size_t with_len, without_len;
    char *with = codec_json_encode_memo(call->response, NULL, &with_len, &memo);
    char *without = codec_json_encode(call->response, &without_len);
    CHECK(with != NULL && without != NULL && with_len == without_len && strcmp(with, without) == 0);
    free(without);
    return with;
}

/* A webhook a GET or a list shows is written once per version of its record: the text is
 * kept with the record (the memory store's), is what the encoder writes for it, and is
 * what later answers copy; a create keeps none, and an update's new version starts
 * without one, so no answer shows an old version's text. */
static void test_rendering_kept(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call call;
    char ids[2][OBJECTID_HEX_LEN + 1];
    for (int i = 0; i < 2; i++) {
        schema_create_request r = create_req(ECO_A1, "https://example.com/kept", NULL, "kept");
        CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
        strcpy(ids[i], ((const schema_webhook *)call.response)->id);
        free(json_with_memo(&call));
        CHECK(store_rendering_of(stored(b, ids[i])) == NULL); /* a create keeps nothing */
    }

    CHECK(get(c, "acme-token", ids[0], &call) == 0);
    char *got = json_with_memo(&call);
    const store_rendering *kept = store_rendering_of(stored(b, ids[0]));
    CHECK(kept != NULL && kept->len == strlen(got) && memcmp(kept->bytes, got, kept->len) == 0);
    CHECK(store_rendering_of(stored(b, ids[1])) == NULL);

    schema_list_request l = SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = ECO_A1;
    call_setup(&call, CORE_LIST, "acme-token", &l.base);
    CHECK(run_now(c, &call) == 0);
    free(json_with_memo(&call));
    CHECK(store_rendering_of(stored(b, ids[1])) != NULL);
    CHECK(store_rendering_of(stored(b, ids[0])) == kept); /* kept once */

    /* later answers copy the kept text: a mark made in it shows in the next list */
    char *mark = kept != NULL ? memchr(kept->bytes, 'k', kept->len) : NULL; /* "kept" */
    CHECK(mark != NULL);
    if (mark != NULL) {
        *mark = 'K';
        call_setup(&call, CORE_LIST, "acme-token", &l.base);
        CHECK(run_now(c, &call) == 0);
        codec_json_memo memo = core_call_memo(&call);
        char *marked = codec_json_encode_memo(call.response, NULL, &(size_t){0}, &memo);
        CHECK(marked != NULL && strstr(marked, "\"description\":\"Kept\"") != NULL);
        free(marked);
        *mark = 'k';
    }

    /* an update's new version shows its new url, and gets its own text when next shown */
    CHECK(update(c, "acme-token", ids[0], "https://example.com/moved", NULL, NULL, -1, &call) == 0);
    free(json_with_memo(&call));
    CHECK(store_rendering_of(stored(b, ids[0])) == NULL);
    call_setup(&call, CORE_LIST, "acme-token", &l.base);
    CHECK(run_now(c, &call) == 0);
    char *listed = json_with_memo(&call);
    CHECK(listed != NULL && strstr(listed, "https://example.com/moved") != NULL &&
          strstr(listed, "https://example.com/kept") != NULL);
    const store_rendering *again = store_rendering_of(stored(b, ids[0]));
    char *again_text = again != NULL ? strndup(again->bytes, again->len) : NULL;
    CHECK(again != kept && again_text != NULL && strstr(again_text, "https://example.com/moved") != NULL);
    free(again_text);
    free(listed);
    free(got);
    core_destroy(c);
}

/* Updates set what they name and keep the rest (a secret of "" removes it), answer the
 * empty UpdateWebhookResponse, and keep id and createdAt; the problems are create's, all
 * at once, the id's in the path; unknown, out-of-scope and deleted ids are 404 naming the
 * id. A delete answers DeleteWebhookResponse, then the webhook is gone from get, list,
 * update and a second delete. */
static void test_update_delete(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call call;
    char id[OBJECTID_HEX_LEN + 1], other_id[OBJECTID_HEX_LEN + 1];
    schema_create_request r = create_req(ECO_A1, "https://example.com/h", "s3cret", "first");
    CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
    strcpy(id, ((const schema_webhook *)call.response)->id);
    r = create_req(ECO_A2, "https://example.com/a2", NULL, NULL);
    CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
    strcpy(other_id, ((const schema_webhook *)call.response)->id);

    /* url alone: the rest stays */
    CHECK(update(c, "acme-token", id, "https://example.com/new", NULL, NULL, -1, &call) == 0);
    CHECK(call.response != NULL && call.response->descriptor == &schema_update_response_descriptor);
    CHECK(call.created == 0);
    const store_webhook *rec = stored(b, id);
    CHECK(rec != NULL && strcmp(rec->url, "https://example.com/new") == 0 && strcmp(rec->secret, "s3cret") == 0 &&
          strcmp(rec->description, "first") == 0 && rec->disabled == 0 && rec->created_ms == NOW_MS);
    /* every field; the secret removed with "" */
    CHECK(update(c, "srv-a1", id, "http://example.com/x", "", "second", 1, &call) == 0);
    CHECK(get(c, "acme-token", id, &call) == 0);
    const schema_webhook *w = (const schema_webhook *)call.response;
    CHECK_STR(w->id, id);
    CHECK_STR(w->url, "http://example.com/x");
    CHECK_STR(w->description, "second");
    CHECK(w->disabled == 1);
    CHECK(w->created_at->seconds * 1000 + w->created_at->nanos / 1000000 == NOW_MS);
    rec = stored(b, id);
    CHECK(rec != NULL && strcmp(rec->secret, "") == 0);
    /* disabled back to false, alone */
    CHECK(update(c, "acme-token", id, "http://example.com/x", NULL, NULL, 0, &call) == 0);
    rec = stored(b, id);
    CHECK(rec != NULL && rec->disabled == 0 && strcmp(rec->description, "second") == 0);

    /* every problem at once, in field order, the id's in the path and the body's in the body */
    CHECK(update(c, "acme-token", "XYZ", "ftp://x", "123456789", "0123456789abcdefg", 1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 4);
    static const char *const paths[] = {"id", "url", "secret", "description"};
    static const char *const messages[] = {"invalid id", "invalid url", "must be at most 8 bytes",
                                           "must be at most 16 bytes"};
    for (size_t i = 0; i < 4 && i < call.err.n_params; i++) {
        CHECK_STR(error_param_path(&call.err, i), paths[i]);
        CHECK_STR(error_param_message(&call.err, i), messages[i]);
        CHECK(call.err.params[i].in == (i == 0 ? ERROR_IN_PATH : ERROR_IN_BODY));
    }
    CHECK(update(c, "acme-token", id, "", NULL, NULL, -1, &call) == -1);
    CHECK(call.err.n_params == 1 && strcmp(error_param_message(&call.err, 0), "field is required") == 0);
    CHECK(update(c, "acme-token", id, NULL, NULL, NULL, -1, &call) == -1);
    CHECK(call.err.n_params == 1 && strcmp(error_param_path(&call.err, 0), "url") == 0);
    /* no changes message at all (an empty RPC body): url is required */
    schema_update_request bare = SCHEMA_UPDATE_REQUEST_INIT;
    bare.id = id;
    call_setup(&call, CORE_UPDATE, "acme-token", &bare.base);
    CHECK(run_now(c, &call) == -1);
    CHECK(call.err.n_params == 1 && strcmp(error_param_path(&call.err, 0), "url") == 0 &&
          call.err.params[0].in == ERROR_IN_BODY);
    rec = stored(b, id);
    CHECK(rec != NULL && strcmp(rec->url, "http://example.com/x") == 0); /* refused: unchanged */
    /* the token first */
    CHECK(update(c, "nobody", "XYZ", NULL, NULL, NULL, -1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);
    CHECK(delete(c, NULL, id, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);

    /* out of scope, unknown: 404 naming the id, nothing changed */
    char want[96];
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", id);
    CHECK(update(c, "other-token", id, "https://evil.example/", NULL, NULL, -1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(delete(c, "other-token", id, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", other_id);
    CHECK(update(c, "srv-a1", other_id, "https://evil.example/", NULL, NULL, -1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(delete(c, "srv-a1", other_id, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(stored(b, id) != NULL && stored(b, other_id) != NULL);
    rec = stored(b, id);
    CHECK(rec != NULL && strcmp(rec->url, "http://example.com/x") == 0);
    CHECK(update(c, "acme-token", "000000000000000000000000", "https://example.com/", NULL, NULL, -1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Webhook with id 000000000000000000000000 does not exist.");
    CHECK(delete(c, "acme-token", "000000000000000000000000", &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Webhook with id 000000000000000000000000 does not exist.");
    CHECK(delete(c, "acme-token", "abc", &call) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 1 && call.err.params[0].in == ERROR_IN_PATH &&
          strcmp(error_param_message(&call.err, 0), "invalid id") == 0);

    /* delete; then it is gone everywhere */
    CHECK(delete(c, "srv-a1", id, &call) == 0);
    CHECK(call.response != NULL && call.response->descriptor == &schema_delete_response_descriptor);
    CHECK(count(b) == 1 && stored(b, id) == NULL);
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", id);
    CHECK(get(c, "acme-token", id, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(delete(c, "acme-token", id, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(update(c, "acme-token", id, "https://example.com/", NULL, NULL, -1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    schema_list_request l = SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = ECO_A1;
    call_setup(&call, CORE_LIST, "acme-token", &l.base);
    CHECK(run_now(c, &call) == 0 && ((const schema_list_response *)call.response)->n_items == 0);
    core_destroy(c);
}

/* A create's Idempotency-Key after its webhook was deleted: never a second webhook. The same
 * request answers 404 naming the deleted webhook; a different one is still 422; past the
 * key's window it creates anew, as for any key. */
static void test_idempotency_after_delete(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call call;
    char id[OBJECTID_HEX_LEN + 1];
    schema_create_request r = create_req(ECO_A1, "https://example.com/once", "s3", "d");
    CHECK(create(c, "acme-token", &r, "order-9", &call) == 0);
    strcpy(id, ((const schema_webhook *)call.response)->id);
    CHECK(delete(c, "acme-token", id, &call) == 0);
    char want[96];
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", id);
    CHECK(create(c, "acme-token", &r, "order-9", &call) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(call.created == 0 && call.replayed == 0);
    schema_create_request changed = create_req(ECO_A1, "https://example.com/twice", "s3", "d");
    CHECK(create(c, "acme-token", &changed, "order-9", &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNPROCESSABLE, NULL);
    CHECK(count(b) == 0);
    /* the key is free once its window is over */
    call_setup(&call, CORE_CREATE, "acme-token", &r.base);
    call.idempotency_key = "order-9";
    call.idempotency_key_len = 7;
    call.now_ms = NOW_MS + IDEMPOTENCY_WINDOW_MS;
    CHECK(run_now(c, &call) == 0 && call.created == 1 && call.replayed == 0);
    CHECK(count(b) == 1);
    core_destroy(c);
}

/* ---- dispatch ------------------------------------------------------------------------------------ */

/* Lists walk page by page: limit (absent = limits.default_page_size, over
 * limits.max_page_size = 400 naming limit), nextPageToken only when more follow (the JSON
 * is Droplit's {"items":[...]} on the last page), creates between pages seen after the
 * pages already read, every webhook that was there from the start exactly once; a token
 * is good only for its ecosystem, and the ecosystem is authorized on every page. */
static const char paging_yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                                  "limits: { default_page_size: 2, max_page_size: 3 }\n" YAML_ACCOUNTS;

static int list_page(core *c, const char *token, const char *eco, uint32_t limit, const char *page_token,
                     core_call *call, const schema_list_response **out)
{
    static schema_list_request l;
    l = (schema_list_request)SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = (char *)eco;
    l.limit = limit;
    l.page_token = (char *)page_token;
    call_setup(call, CORE_LIST, token, &l.base);
    call->default_in = ERROR_IN_QUERY;
    int rc = run_now(c, call);
    *out = (const schema_list_response *)call->response;
    return rc;
}

static void test_list_pages(void)
{
    core *c = core_of(paging_yaml, memory_backend());
    if (c == NULL)
        return;
    char ids[7][OBJECTID_HEX_LEN + 1];
    core_call call;
    for (int i = 0; i < 7; i++) {
        schema_create_request r = create_req(ECO_A1, "https://example.com/h", NULL, NULL);
        CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
        strcpy(ids[i], call.response != NULL ? ((const schema_webhook *)call.response)->id : "");
        r = create_req(ECO_A2, "https://example.com/other", NULL, NULL);
        CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
    }
    const schema_list_response *page;

    /* no limit: the default page size; the backend is asked for that many, not for all */
    CHECK(list_page(c, "acme-token", ECO_A1, 0, NULL, &call, &page) == 0 && page->n_items == 2);
    CHECK(call.store.limit == 2 && call.store.after == NULL);
    CHECK(page->next_page_case == SCHEMA_LIST_RESPONSE_NEXT_PAGE_TOKEN &&
          strlen(page->next_page_token) == PAGETOKEN_LEN);
    size_t len;
    char *json = codec_json_encode(&page->base, &len);
    CHECK(json != NULL && strstr(json, "],\"nextPageToken\":\"") != NULL);
    free(json);

    /* limit over the maximum: a parameter problem naming it, in the query */
    CHECK(list_page(c, "acme-token", ECO_A1, 4, NULL, &call, &page) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 1 && call.err.params[0].in == ERROR_IN_QUERY);
    if (call.err.n_params == 1) {
        CHECK_STR(error_param_path(&call.err, 0), "limit");
        CHECK_STR(error_param_message(&call.err, 0), "must be at most 3");
    }

    /* walk three at a time, creating one webhook after each page */
    int seen[7] = {0};
    size_t total = 0, pages = 0;
    char token[PAGETOKEN_LEN + 1] = "", first_token[PAGETOKEN_LEN + 1] = "";
    for (;;) {
        CHECK(list_page(c, "acme-token", ECO_A1, 3, token[0] ? token : NULL, &call, &page) == 0);
        if (page == NULL)
            break;
        pages++;
        for (size_t k = 0; k < page->n_items; k++) {
            for (int i = 0; i < 7; i++)
                seen[i] += strcmp(page->items[k]->id, ids[i]) == 0;
            total++;
        }
        if (page->next_page_case != SCHEMA_LIST_RESPONSE_NEXT_PAGE_TOKEN) {
            json = codec_json_encode(&page->base, &len); /* the last page: Droplit's shape, nothing more */
            CHECK(json != NULL && strncmp(json, "{\"items\":[", 10) == 0 && strstr(json, "nextPageToken") == NULL);
            free(json);
            break;
        }
        CHECK(page->n_items == 3);
        strcpy(token, page->next_page_token);
        if (first_token[0] == '\0')
            strcpy(first_token, token);
        if (pages <= 2) {
            schema_create_request r = create_req(ECO_A1, "https://example.com/new", NULL, NULL);
            CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
        }
    }
    for (int i = 0; i < 7; i++)
        CHECK(seen[i] == 1);
    CHECK(total == 9 && pages == 3); /* 7 + 2 created while walking; a full last page has no token after it */

    /* a token is bound to its ecosystem: another one's list refuses it, naming pageToken */
    CHECK(list_page(c, "acme-token", ECO_A2, 0, first_token, &call, &page) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 1 && strcmp(error_param_path(&call.err, 0), "page_token") == 0 &&
          call.err.params[0].in == ERROR_IN_QUERY);
    CHECK(list_page(c, "acme-token", ECO_A1, 0, "garbage", &call, &page) == -1);
    CHECK(call.err.n_params == 1 && strcmp(error_param_path(&call.err, 0), "page_token") == 0);
    /* and grants nothing: the ecosystem is authorized on every page */
    CHECK(list_page(c, "other-token", ECO_A1, 0, first_token, &call, &page) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, NULL);
    CHECK(list_page(c, "srv-a1", ECO_A1, 1, first_token, &call, &page) == 0 && page->n_items == 1);
    CHECK(call.store.after != NULL && call.store.limit == 1);
    CHECK(strcmp(page->items[0]->id, ids[3]) == 0);
    core_destroy(c);
    arena_release();
}

static void test_dispatch(void)
{
    const ProtobufCServiceDescriptor *s = &schema_webhook_service_descriptor;
    int seen[CORE_METHODS] = {0};
    for (unsigned i = 0; i < s->n_methods; i++) {
        core_method m = core_method_of(&s->methods[i]);
        if (m != CORE_METHODS)
            seen[m]++;
        char path[128];
        snprintf(path, sizeof path, "/%s/%s", s->name, s->methods[i].name);
        CHECK(core_method_from_path(path, strlen(path)) == &s->methods[i]);
    }
    for (int m = 0; m < CORE_METHODS; m++)
        CHECK(seen[m] == 1); /* every core method is one of the schema's */
    CHECK(core_method_from_path("/droplit.webhooks.v1.WebhookService/Nope", 40) == NULL);
    CHECK(core_method_from_path("/other.Service/CreateWebhook", 28) == NULL);

    /* a method the core lacks: unimplemented, after the token */
    core *c = core_of(yaml, memory_backend());
    core_call call;
    call_setup(&call, CORE_METHODS, "acme-token", NULL);
    CHECK(run_now(c, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNIMPLEMENTED, NULL);
    call_setup(&call, CORE_METHODS, "nobody", NULL);
    CHECK(run_now(c, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);
    core_destroy(c);
}

/* ListEcosystems: an account token's ecosystems that are not deleted, in the configuration's
 * order; a server token's one; no token, none; a problem a codec found fails the call. */
static void test_list_ecosystems(void)
{
    core *c = core_of(yaml, memory_backend());
    schema_ecosystems_request req = SCHEMA_ECOSYSTEMS_REQUEST_INIT;
    core_call call;
    call_setup(&call, CORE_LIST_ECOSYSTEMS, "acme-token", &req.base);
    CHECK(run_now(c, &call) == 0);
    const schema_ecosystems_response *res = (const schema_ecosystems_response *)call.response;
    CHECK(res != NULL && res->n_items == 2 && strcmp(res->items[0]->id, ECO_A1) == 0 &&
          strcmp(res->items[1]->id, ECO_A2) == 0);
    call_setup(&call, CORE_LIST_ECOSYSTEMS, "srv-a1", &req.base);
    CHECK(run_now(c, &call) == 0);
    res = (const schema_ecosystems_response *)call.response;
    CHECK(res != NULL && res->n_items == 1 && strcmp(res->items[0]->id, ECO_A1) == 0);
    call_setup(&call, CORE_LIST_ECOSYSTEMS, "other-token", &req.base);
    CHECK(run_now(c, &call) == 0);
    res = (const schema_ecosystems_response *)call.response;
    CHECK(res != NULL && res->n_items == 1 && strcmp(res->items[0]->id, ECO_B1) == 0);
    call_setup(&call, CORE_LIST_ECOSYSTEMS, NULL, &req.base);
    CHECK(run_now(c, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);
    call_setup(&call, CORE_LIST_ECOSYSTEMS, "acme-token", &req.base);
    error_add_param(&call.err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters", "contains x");
    CHECK(run_now(c, &call) == -1);
    CHECK(call.err.kind == ERROR_INVALID_PARAMS);
    core_destroy(c);
    arena_release();
}

/* ---- rate limit ----------------------------------------------------------------------------------- */

static void test_rate_limit(void)
{
    core *c = core_of("server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                      "limits: { creates_per_second_per_token: 2 }\n" YAML_ACCOUNTS,
                      memory_backend());
    core_call call;
    schema_create_request r = create_req(ECO_A1, "https://example.com/h", NULL, NULL);
    CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
    CHECK(create(c, "acme-token", &r, NULL, &call) == 0);
    /* the third in the same second: 429 whatever the request, with when to retry */
    schema_create_request bad = create_req("bad", NULL, NULL, NULL);
    CHECK(create(c, "acme-token", &bad, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_RATE_LIMITED, NULL);
    CHECK(call.err.retry_after_s >= 1 && call.err.n_params == 0);
    /* another token has its own budget; a second later the first has one again */
    CHECK(create(c, "srv-a1", &r, NULL, &call) == 0);
    call_setup(&call, CORE_CREATE, "acme-token", &r.base);
    call.monotonic_ms += 1000;
    CHECK(run_now(c, &call) == 0);
    core_destroy(c);
}

/* ---- Idempotency-Key -------------------------------------------------------------------------------- */

static void test_idempotency(void)
{
    backend *b = memory_backend();
    core *c = core_of(yaml, b);
    core_call first, again;
    char first_id[OBJECTID_HEX_LEN + 1];
    schema_create_request r = create_req(ECO_A1, "https://example.com/once", "s3", "d");

    CHECK(create(c, "acme-token", &r, "order-17", &first) == 0);
    CHECK(first.replayed == 0 && first.created == 1);
    strcpy(first_id, ((const schema_webhook *)first.response)->id);
    CHECK(create(c, "acme-token", &r, "order-17", &again) == 0);
    CHECK(again.replayed == 1 && again.created == 1);
    CHECK_STR(((const schema_webhook *)again.response)->id, first_id);
    CHECK(count(b) == 1);

    /* the same key with anything else different: 422, nothing stored */
    schema_create_request others[] = {
        create_req(ECO_A1, "https://example.com/twice", "s3", "d"),
        create_req(ECO_A1, "https://example.com/once", "s4", "d"),
        create_req(ECO_A2, "https://example.com/once", "s3", "d"),
        create_req(ECO_A1, "https://example.com/once", "s3", NULL),
    };
    for (int i = 0; i < 4; i++) {
        CHECK(create(c, "acme-token", &others[i], "order-17", &again) == -1);
        EXPECT_ERROR(&again, ERROR_UNPROCESSABLE, NULL);
    }
    CHECK(count(b) == 1);

    /* another token's key is another key */
    CHECK(create(c, "srv-a1", &r, "order-17", &again) == 0 && again.replayed == 0);
    CHECK(count(b) == 2);

    /* a malformed key is a header problem, sorted after the body's */
    schema_create_request bad_url = create_req(ECO_A1, "not a url", "", "");
    CHECK(create(c, "acme-token", &bad_url, "", &again) == -1);
    CHECK(again.err.n_params == 2);
    if (again.err.n_params == 2) {
        CHECK_STR(error_param_path(&again.err, 0), "url");
        CHECK_STR(error_param_path(&again.err, 1), "Idempotency-Key");
        CHECK(again.err.params[1].in == ERROR_IN_HEADER);
    }
    /* a failed create is not remembered: the key is free for a good request */
    CHECK(create(c, "acme-token", &bad_url, "after-failure", &again) == -1);
    CHECK(create(c, "acme-token", &r, "after-failure", &again) == 0 && again.replayed == 0);

    /* past the 24-hour window the key makes a new webhook, which answers for it from then on */
    call_setup(&again, CORE_CREATE, "acme-token", &r.base);
    again.idempotency_key = "order-17";
    again.idempotency_key_len = 8;
    again.now_ms = NOW_MS + IDEMPOTENCY_WINDOW_MS;
    CHECK(run_now(c, &again) == 0 && again.replayed == 0);
    char second_id[OBJECTID_HEX_LEN + 1];
    strcpy(second_id, ((const schema_webhook *)again.response)->id);
    CHECK(strcmp(second_id, first_id) != 0);
    call_setup(&again, CORE_CREATE, "acme-token", &r.base);
    again.idempotency_key = "order-17";
    again.idempotency_key_len = 8;
    again.now_ms = NOW_MS + IDEMPOTENCY_WINDOW_MS + 1000;
    CHECK(run_now(c, &again) == 0 && again.replayed == 1);
    CHECK_STR(((const schema_webhook *)again.response)->id, second_id);
    core_destroy(c);
}

/* With sealed secrets the replay check still compares the secret (opened for the
 * comparison), and a stored secret that does not open is an internal error, never a replay. */
static void test_idempotency_sealed(void)
{
    backend_memory_stats stats;
    char err[JOURNAL_ERROR_MAX];
    seal_keyring *keys = seal_keyring_create();
    uint8_t key[SEAL_KEY_LEN];
    memset(key, 0x5c, sizeof key);
    CHECK(keys != NULL && seal_keyring_add(keys, key, 1) == 0);
    backend *b = backend_memory_open(NULL, keys, &stats, err);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    core *c = core_of(yaml, b);
    core_call first, again;
    schema_create_request r = create_req(ECO_A1, "https://example.com/once", "s3cret", "d");
    CHECK(create(c, "acme-token", &r, "order-18", &first) == 0 && first.replayed == 0);
    const char *id = ((const schema_webhook *)first.response)->id;
    const store_webhook *w = stored(b, id);
    CHECK(w != NULL && w->sealed_secret != NULL && strcmp(w->secret, "") == 0);
    CHECK(create(c, "acme-token", &r, "order-18", &again) == 0 && again.replayed == 1);
    CHECK_STR(((const schema_webhook *)again.response)->id, id);
    static const char *const others[] = {"s3crex", "s3cre", "s3cret!", "", NULL};
    for (int i = 0; i < 5; i++) {
        schema_create_request o = create_req(ECO_A1, "https://example.com/once", others[i], "d");
        CHECK(create(c, "acme-token", &o, "order-18", &again) == -1);
        EXPECT_ERROR(&again, ERROR_UNPROCESSABLE, NULL);
    }
    /* damage the stored blob (the index is immutable to everyone but this test) */
    if (w != NULL && w->sealed_secret != NULL) {
        ((uint8_t *)w->sealed_secret)[w->sealed_secret_len - 1] ^= 1;
        CHECK(create(c, "acme-token", &r, "order-18", &again) == -1);
        EXPECT_ERROR(&again, ERROR_INTERNAL, "The stored webhook's secret cannot be opened (damaged).");
    }
    CHECK(count(b) == 1);
    core_destroy(c);
}

/* ---- a backend whose every answer comes later, from another thread --------------------------------- */

/* Wraps the memory backend: submit only queues; deferred_release answers the queued calls
 * on a thread of its own, as a backend across a network would. */
typedef struct deferred {
    backend pub;
    backend *inner;
    pthread_mutex_t lock;
    backend_call *queue[16];
    size_t n;
    void (*inner_done[16])(backend_call *c);
} deferred;

static void deferred_submit(void *self, backend_call *c)
{
    deferred *d = self;
    pthread_mutex_lock(&d->lock);
    CHECK(d->n < 16);
    d->queue[d->n++] = c;
    pthread_mutex_unlock(&d->lock);
}

static int deferred_is_synchronous(void *self, backend_verb verb)
{
    (void)self, (void)verb;
    return 0;
}

static void deferred_stats(void *self, backend_stats *out)
{
    backend_stats_get(((deferred *)self)->inner, out);
}

static void deferred_destroy(void *self)
{
    deferred *d = self;
    CHECK(d->n == 0); /* every call was answered */
    backend_destroy(d->inner);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static const backend_ops deferred_ops = {.name = "deferred",
                                         .submit = deferred_submit,
                                         .is_synchronous = deferred_is_synchronous,
                                         .stats = deferred_stats,
                                         .destroy = deferred_destroy};

static deferred *deferred_new(void)
{
    deferred *d = calloc(1, sizeof(*d));
    d->inner = memory_backend();
    pthread_mutex_init(&d->lock, NULL);
    d->pub.ops = &deferred_ops;
    d->pub.self = d;
    return d;
}

static void *answer_all(void *arg)
{
    deferred *d = arg;
    pthread_mutex_lock(&d->lock);
    size_t n = d->n;
    backend_call *calls[16];
    memcpy(calls, d->queue, n * sizeof(*calls));
    d->n = 0;
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++)
        backend_submit(d->inner, calls[i]); /* the memory backend answers inside: its done is the core's */
    return NULL;
}

/* Answers every queued call from another thread and waits for that thread. */
static void deferred_release(deferred *d)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, answer_all, d) == 0);
    pthread_join(t, NULL);
}

static size_t queued(deferred *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->n;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static void test_asynchronous_backend(void)
{
    deferred *d = deferred_new();
    core *c = core_of(yaml, &d->pub);
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    CHECK(core_call_may_wait(c, CORE_CREATE));

    /* a create: pending until the backend answers, then done with the webhook */
    schema_create_request r = create_req(ECO_A1, "https://example.com/later", NULL, NULL);
    core_call create_call;
    call_setup(&create_call, CORE_CREATE, "acme-token", &r.base);
    create_call.done = on_done;
    create_call.data = &w;
    CHECK(core_call_start(c, &create_call) == CORE_PENDING);
    CHECK(queued(d) == 1 && w.done == 0);
    deferred_release(d);
    CHECK(w.done == 1);
    CHECK(create_call.response != NULL && create_call.created == 1);
    char id[OBJECTID_HEX_LEN + 1] = "";
    if (create_call.response != NULL)
        strcpy(id, ((const schema_webhook *)create_call.response)->id);

    /* a read waits too: nothing assumes it is synchronous */
    schema_get_request g = SCHEMA_GET_REQUEST_INIT;
    g.id = id;
    core_call get_call;
    call_setup(&get_call, CORE_GET, "acme-token", &g.base);
    get_call.done = on_done;
    get_call.data = &w;
    CHECK(core_call_start(c, &get_call) == CORE_PENDING);
    deferred_release(d);
    CHECK(w.done == 2 && get_call.response != NULL);
    /* scoping is decided when the answer comes */
    call_setup(&get_call, CORE_GET, "other-token", &g.base);
    get_call.done = on_done;
    get_call.data = &w;
    CHECK(core_call_start(c, &get_call) == CORE_PENDING);
    deferred_release(d);
    CHECK(w.done == 3 && get_call.response == NULL && get_call.err.kind == ERROR_NOT_FOUND);

    /* a keyed create takes two backend calls (find the key, then create); a second create
     * with the key meanwhile is told the first is in flight */
    core_call keyed, second;
    call_setup(&keyed, CORE_CREATE, "acme-token", &r.base);
    keyed.idempotency_key = "k1";
    keyed.idempotency_key_len = 2;
    keyed.done = on_done;
    keyed.data = &w;
    CHECK(core_call_start(c, &keyed) == CORE_PENDING);
    call_setup(&second, CORE_CREATE, "acme-token", &r.base);
    second.idempotency_key = "k1";
    second.idempotency_key_len = 2;
    CHECK(core_call_start(c, &second) == -1);
    EXPECT_ERROR(&second, ERROR_CONFLICT, NULL);
    deferred_release(d); /* the lookup: not found, so the create is submitted */
    CHECK(w.done == 3 && queued(d) == 1);
    deferred_release(d);
    CHECK(w.done == 4 && keyed.response != NULL && keyed.replayed == 0);
    /* now the key replays */
    call_setup(&second, CORE_CREATE, "acme-token", &r.base);
    second.idempotency_key = "k1";
    second.idempotency_key_len = 2;
    second.done = on_done;
    second.data = &w;
    CHECK(core_call_start(c, &second) == CORE_PENDING);
    deferred_release(d);
    CHECK(w.done == 5 && second.replayed == 1);
    CHECK_STR(((const schema_webhook *)second.response)->id, ((const schema_webhook *)keyed.response)->id);

    /* a call waiting for the store keeps its configuration alive across a reload */
    core_set_loops(c, 1);
    call_setup(&create_call, CORE_CREATE, "acme-token", &r.base);
    create_call.done = on_done;
    create_call.data = &w;
    CHECK(core_call_start(c, &create_call) == CORE_PENDING);
    char why[128];
    CHECK(core_reload(c, config_of(yaml), why, sizeof why) == 0);
    core_quiescent(c, 0); /* the loop is past it, but the call still holds the old one */
    deferred_release(d);  /* under ASan or valgrind, a freed configuration here is a finding */
    CHECK(w.done == 6 && create_call.response != NULL);
    core_quiescent(c, 0);
    core_destroy(c);
}

/* ---- invoke ------------------------------------------------------------------------------------ */

/* A delivery that notes every call it is given (copies: the url and the secret are freed
 * when the call ends) and answers with the outcome set here, at once inside submit or,
 * when holding, later from another thread (fake_release). */
typedef struct fake_delivery {
    delivery base;
    pthread_mutex_t lock;
    int hold;            /* keep calls for fake_release */
    delivery_call *held; /* the call kept */
    int submits, destroyed;
    /* what the last call carried */
    char url[128];
    char secret[64];
    size_t secret_len;
    int had_secret;
    char message_id[DELIVERY_MESSAGE_ID_MAX];
    const netpolicy *policy;
    unsigned connect_timeout_ms, timeout_ms;
    char type[32], ecosystem_id[32], webhook_id[32], message[64];
    size_t n_items;
    int64_t timestamp_ms;
    int body_is_transaction;
    /* the answer */
    delivery_outcome outcome;
    unsigned status;
    uint32_t duration_ms;
    const char *detail;
} fake_delivery;

static void fake_answer(fake_delivery *f, delivery_call *call)
{
    call->outcome = f->outcome;
    call->status = f->status;
    call->duration_ms = f->duration_ms;
    snprintf(call->detail, sizeof call->detail, "%s", f->detail);
    call->done(call);
}

static void fake_submit(delivery *d, delivery_call *call)
{
    fake_delivery *f = (fake_delivery *)d;
    pthread_mutex_lock(&f->lock);
    f->submits++;
    snprintf(f->url, sizeof f->url, "%s", call->url);
    f->had_secret = call->secret != NULL;
    f->secret_len = call->secret_len;
    memset(f->secret, 0, sizeof f->secret);
    if (call->secret != NULL && call->secret_len < sizeof f->secret)
        memcpy(f->secret, call->secret, call->secret_len);
    memcpy(f->message_id, call->message_id, sizeof f->message_id);
    f->policy = call->policy;
    f->connect_timeout_ms = call->connect_timeout_ms;
    f->timeout_ms = call->timeout_ms;
    f->body_is_transaction = call->body->descriptor == &schema_transaction_descriptor;
    const schema_transaction *t = (const schema_transaction *)call->body;
    f->n_items = f->body_is_transaction ? t->n_items : 0;
    if (f->n_items == 1) {
        const schema_notification *n = t->items[0];
        snprintf(f->type, sizeof f->type, "%s", n->type);
        snprintf(f->ecosystem_id, sizeof f->ecosystem_id, "%s", n->ecosystem_id);
        snprintf(f->webhook_id, sizeof f->webhook_id, "%s", n->webhook_id);
        snprintf(f->message, sizeof f->message, "%s", n->message);
        f->timestamp_ms = n->timestamp != NULL ? n->timestamp->seconds * 1000 + n->timestamp->nanos / 1000000 : -1;
    }
    int hold = f->hold;
    if (hold) {
        CHECK(f->held == NULL);
        f->held = call;
    }
    pthread_mutex_unlock(&f->lock);
    if (!hold)
        fake_answer(f, call);
}

static void fake_destroy(delivery *d)
{
    fake_delivery *f = (fake_delivery *)d;
    CHECK(f->held == NULL); /* the tests answer every call they hold */
    f->destroyed++;
}

static const delivery_ops fake_delivery_ops = {fake_submit, fake_destroy};

/* A fake answering 204 "the url answered 204" in 42 ms, at once. Lives on the test's stack:
 * its destroy only counts. */
static void fake_init(fake_delivery *f)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &fake_delivery_ops;
    pthread_mutex_init(&f->lock, NULL);
    f->outcome = DELIVERY_OK;
    f->status = 204;
    f->duration_ms = 42;
    f->detail = "the url answered 204";
}

static void *release_held(void *arg)
{
    fake_delivery *f = arg;
    pthread_mutex_lock(&f->lock);
    delivery_call *call = f->held;
    f->held = NULL;
    pthread_mutex_unlock(&f->lock);
    CHECK(call != NULL);
    if (call != NULL)
        fake_answer(f, call);
    return NULL;
}

/* Answers the held call from another thread, and waits for that thread. */
static void fake_release(fake_delivery *f)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, release_held, f) == 0);
    pthread_join(t, NULL);
}

static int invoke(core *c, const char *token, const char *id, core_call *call, waiter *w)
{
    static schema_invoke_request r;
    r = (schema_invoke_request)SCHEMA_INVOKE_REQUEST_INIT;
    r.id = (char *)id;
    call_setup(call, CORE_INVOKE, token, &r.base);
    call->default_in = ERROR_IN_PATH;
    call->done = on_done;
    call->data = w;
    int rc = core_call_start(c, call);
    CHECK(rc == CORE_PENDING ? call->response == NULL : (rc == 0) == (call->response != NULL));
    return rc;
}

static void created_id(core *c, const char *token, const char *eco, const char *url, const char *secret,
                       char id[OBJECTID_HEX_LEN + 1])
{
    core_call call;
    schema_create_request r = create_req(eco, url, secret, NULL);
    CHECK(create(c, token, &r, NULL, &call) == 0);
    strcpy(id, call.response != NULL ? ((const schema_webhook *)call.response)->id : "");
}

static const char invoke_yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                                  "limits: { max_url_length: 64, max_secret_length: 8 }\n"
                                  "delivery: { connect_timeout_ms: 1234, timeout_ms: 5678 }\n" YAML_ACCOUNTS;

/* An invoke calls the webhook's url through the delivery with the call the core prepared,
 * and says what came of it. */
static void test_invoke(void)
{
    fake_delivery f;
    fake_init(&f);
    backend *b = memory_backend();
    core *c = core_of(invoke_yaml, b);
    core_set_delivery(c, &f.base);
    CHECK(core_call_may_wait(c, CORE_INVOKE));
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    core_call call;
    char signed_id[OBJECTID_HEX_LEN + 1], plain_id[OBJECTID_HEX_LEN + 1], idn_id[OBJECTID_HEX_LEN + 1],
        a2_id[OBJECTID_HEX_LEN + 1];
    created_id(c, "acme-token", ECO_A1, "https://example.com/h?x=1", "s3cret", signed_id);
    created_id(c, "acme-token", ECO_A1, "http://example.com/plain", NULL, plain_id);
    created_id(c, "acme-token", ECO_A1, "https://ex\xc3\xa4mple.com/h", "k", idn_id);
    created_id(c, "acme-token", ECO_A2, "https://example.com/a2", NULL, a2_id);

    /* success: the url's status and the time it took */
    CHECK(invoke(c, "acme-token", signed_id, &call, &w) == 0);
    CHECK(w.done == 0); /* answered inside start: no done */
    CHECK(f.submits == 1);
    CHECK(call.response != NULL && call.response->descriptor == &schema_invoke_response_descriptor);
    if (call.response != NULL) {
        const schema_invoke_response *r = (const schema_invoke_response *)call.response;
        CHECK_STR(r->message, "Webhook verified");
        CHECK(r->status_code == 204 && r->duration_ms == 42);
    }
    /* what the delivery was given */
    CHECK_STR(f.url, "https://example.com/h?x=1");
    CHECK(f.had_secret && f.secret_len == 6 && memcmp(f.secret, "s3cret", 6) == 0);
    CHECK(strncmp(f.message_id, "msg_", 4) == 0 && is_hex24(f.message_id + 4));
    CHECK(f.policy == &core_config_now(c)->delivery.policy);
    CHECK(f.connect_timeout_ms == 1234 && f.timeout_ms == 5678);
    CHECK(f.body_is_transaction && f.n_items == 1);
    CHECK_STR(f.type, "Info");
    CHECK_STR(f.ecosystem_id, ECO_A1);
    CHECK_STR(f.webhook_id, signed_id);
    CHECK_STR(f.message, "Webhook verification");
    CHECK(f.timestamp_ms == NOW_MS);
    char first_message_id[DELIVERY_MESSAGE_ID_MAX];
    memcpy(first_message_id, f.message_id, sizeof first_message_id);

    /* without a secret: unsigned; each call its own message id */
    CHECK(invoke(c, "srv-a1", plain_id, &call, &w) == 0);
    CHECK(f.submits == 2 && !f.had_secret && f.secret_len == 0);
    CHECK_STR(f.url, "http://example.com/plain");
    CHECK(strncmp(f.message_id, "msg_", 4) == 0 && is_hex24(f.message_id + 4));
    CHECK(strcmp(f.message_id, first_message_id) != 0);
    /* an internationalized host is called by its IDNA form */
    CHECK(invoke(c, "acme-token", idn_id, &call, &w) == 0);
    CHECK_STR(f.url, "https://xn--exmple-cua.com/h");
    CHECK(f.had_secret && f.secret_len == 1 && f.secret[0] == 'k');

    /* a disabled webhook is invoked too */
    CHECK(update(c, "acme-token", plain_id, "http://example.com/plain", NULL, NULL, 1, &call) == 0);
    CHECK(invoke(c, "acme-token", plain_id, &call, &w) == 0);
    CHECK(f.submits == 4 && call.response != NULL);

    /* any other outcome: BadGateway saying what happened */
    f.outcome = DELIVERY_STATUS;
    f.status = 500;
    f.detail = "the url answered 500";
    CHECK(invoke(c, "acme-token", signed_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_BAD_GATEWAY, "Webhook call failed: the url answered 500");
    f.outcome = DELIVERY_TIMEOUT;
    f.status = 0;
    f.detail = "timed out after 5678 ms";
    CHECK(invoke(c, "acme-token", signed_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_BAD_GATEWAY, "Webhook call failed: timed out after 5678 ms");
    f.outcome = DELIVERY_BLOCKED;
    f.detail = "blocked: 10.0.0.1 is a private address";
    CHECK(invoke(c, "acme-token", signed_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_BAD_GATEWAY, "Webhook call failed: blocked: 10.0.0.1 is a private address");
    CHECK(f.submits == 7);
    fake_init(&f); /* answers 204 again */

    /* not found: unknown, another account's, another ecosystem's server token; never called */
    CHECK(invoke(c, "acme-token", "000000000000000000000000", &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, "Webhook with id 000000000000000000000000 does not exist.");
    char want[96];
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", a2_id);
    CHECK(invoke(c, "srv-a1", a2_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", signed_id);
    CHECK(invoke(c, "other-token", signed_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    /* a malformed id: a parameter problem in the path; no token: 401 first */
    CHECK(invoke(c, "acme-token", "XYZ", &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 1 && call.err.params[0].in == ERROR_IN_PATH);
    if (call.err.n_params == 1) {
        CHECK_STR(error_param_path(&call.err, 0), "id");
        CHECK_STR(error_param_message(&call.err, 0), "invalid id");
    }
    CHECK(invoke(c, NULL, signed_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);
    CHECK(f.submits == 0 && w.done == 0);

    /* a deleted webhook is gone for invokes too */
    CHECK(delete(c, "acme-token", plain_id, &call) == 0);
    snprintf(want, sizeof want, "Webhook with id %s does not exist.", plain_id);
    CHECK(invoke(c, "acme-token", plain_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_NOT_FOUND, want);
    CHECK(f.submits == 0);

    core_destroy(c);
    CHECK(f.destroyed == 1); /* the core owns its delivery */
    pthread_mutex_destroy(&f.lock);

    /* no delivery: this server does not call webhooks */
    c = core_of(invoke_yaml, memory_backend());
    created_id(c, "acme-token", ECO_A1, "https://example.com/h", NULL, signed_id);
    CHECK(invoke(c, "acme-token", signed_id, &call, &w) == -1);
    EXPECT_ERROR(&call, ERROR_UNAVAILABLE, "This server does not call webhooks.");
    core_destroy(c);
}

/* delivery.max_concurrent_invokes: with one call of a url held, the next is refused at once;
 * when the held one ends (its answer from another thread), a new one goes through. */
static void test_invoke_concurrency(void)
{
    fake_delivery f;
    fake_init(&f);
    core *c = core_of("server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                      "delivery: { max_concurrent_invokes: 1 }\n" YAML_ACCOUNTS,
                      memory_backend());
    core_set_delivery(c, &f.base);
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    char id[OBJECTID_HEX_LEN + 1];
    created_id(c, "acme-token", ECO_A1, "https://example.com/h", "s", id);
    /* the configuration's defaults reach the call */
    CHECK(invoke(c, "acme-token", id, &(core_call){0}, &w) == 0);
    CHECK(f.connect_timeout_ms == 5000 && f.timeout_ms == 10000);

    f.hold = 1;
    core_call first, second;
    CHECK(invoke(c, "acme-token", id, &first, &w) == CORE_PENDING);
    CHECK(f.held == &first.invoke.call && w.done == 0);
    CHECK(invoke(c, "acme-token", id, &second, &w) == -1);
    EXPECT_ERROR(&second, ERROR_UNAVAILABLE,
                 "Too many webhook calls are in progress (delivery.max_concurrent_invokes is 1); retry later.");
    CHECK(f.submits == 2); /* the second never reached the delivery */
    fake_release(&f);
    CHECK(w.done == 1);
    CHECK(first.response != NULL && first.response->descriptor == &schema_invoke_response_descriptor);
    if (first.response != NULL)
        CHECK(((const schema_invoke_response *)first.response)->status_code == 204);

    /* a held call that fails also gives its place back */
    f.outcome = DELIVERY_REFUSED;
    f.status = 0;
    f.detail = "connection refused";
    CHECK(invoke(c, "acme-token", id, &first, &w) == CORE_PENDING);
    fake_release(&f);
    CHECK(w.done == 2 && first.response == NULL);
    EXPECT_ERROR(&first, ERROR_BAD_GATEWAY, "Webhook call failed: connection refused");
    f.hold = 0;
    f.outcome = DELIVERY_OK;
    f.status = 200;
    CHECK(invoke(c, "acme-token", id, &second, &w) == 0);
    CHECK(second.response != NULL && f.submits == 4);

    /* a call held across a reload keeps its configuration (and so its policy) alive */
    core_set_loops(c, 1);
    f.hold = 1;
    CHECK(invoke(c, "acme-token", id, &first, &w) == CORE_PENDING);
    char why[128];
    CHECK(core_reload(c, config_of(invoke_yaml), why, sizeof why) == 0);
    core_quiescent(c, 0);
    fake_release(&f); /* under ASan or valgrind, a freed configuration here is a finding */
    CHECK(w.done == 3 && first.response != NULL);
    core_quiescent(c, 0);
    core_destroy(c);
    CHECK(f.destroyed == 1);
    pthread_mutex_destroy(&f.lock);
}

/* Create and update refuse a url whose host is an IP literal the policy denies, on field url;
 * delivery.allow_networks opens a range. */
static void test_url_destination(void)
{
    core *c = core_of(yaml, memory_backend());
    core_call call;
    static const char *const denied[] = {"http://127.0.0.1/h", "http://10.1.2.3/h", "http://[::1]/h",
                                         "http://169.254.169.254/latest", "http://0x7f.1/h", "http://2130706433/h",
                                         "http://192.168.0.1:8080/h"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        schema_create_request r = create_req(ECO_A1, denied[i], NULL, NULL);
        CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
        EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
        CHECK(call.err.n_params == 1);
        if (call.err.n_params == 1) {
            CHECK_STR(error_param_path(&call.err, 0), "url");
            CHECK_STR(error_param_message(&call.err, 0), "invalid url");
        }
    }
    char id[OBJECTID_HEX_LEN + 1];
    created_id(c, "acme-token", ECO_A1, "https://example.com/h", NULL, id);
    /* a public literal, and a name (judged when called) */
    created_id(c, "acme-token", ECO_A1, "http://93.184.216.34/h", NULL, id);
    created_id(c, "acme-token", ECO_A1, "http://localhost/h", NULL, id);
    CHECK(update(c, "acme-token", id, "http://10.0.0.7/h", NULL, NULL, -1, &call) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    CHECK(call.err.n_params == 1 && call.err.params[0].in == ERROR_IN_BODY);
    if (call.err.n_params == 1) {
        CHECK_STR(error_param_path(&call.err, 0), "url");
        CHECK_STR(error_param_message(&call.err, 0), "invalid url");
    }
    core_destroy(c);

    c = core_of("server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                "delivery: { allow_networks: [ 127.0.0.0/8 ] }\n" YAML_ACCOUNTS,
                memory_backend());
    created_id(c, "acme-token", ECO_A1, "http://127.0.0.1:8080/h", NULL, id);
    CHECK(is_hex24(id));
    CHECK(update(c, "acme-token", id, "http://127.9.9.9/h", NULL, NULL, -1, &call) == 0);
    schema_create_request r = create_req(ECO_A1, "http://10.0.0.1/h", NULL, NULL); /* still denied */
    CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_INVALID_PARAMS, NULL);
    core_destroy(c);
}

/* ---- reloads ------------------------------------------------------------------------------------------ */

static void test_reload(void)
{
    core *c = core_of(yaml, memory_backend());
    core_set_loops(c, 2);
    core_call call;
    char why[128];
    schema_create_request r = create_req(ECO_A1, "https://example.com/h", NULL, NULL);

    /* new tokens apply to calls that start after the reload */
    CHECK(core_reload(c, config_of("server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                                   "accounts: [ { id: acme, tokens: [ new-token ], ecosystems: [ { id: " ECO_A1
                                   " } ] } ]\n"),
                      why, sizeof why) == 0);
    CHECK(create(c, "acme-token", &r, NULL, &call) == -1);
    EXPECT_ERROR(&call, ERROR_UNAUTHENTICATED, NULL);
    CHECK(create(c, "new-token", &r, NULL, &call) == 0);

    /* replaced configurations wait for every loop's quiescent point: with loop 1 never
     * passing one, they pile up to the bound, and a reload past it is refused */
    int refused = 0;
    for (int i = 0; i < CORE_MAX_RETIRED + 1; i++) {
        core_quiescent(c, 0);
        if (core_reload(c, config_of(yaml), why, sizeof why) != 0) {
            refused = 1;
            break;
        }
    }
    CHECK(refused);
    CHECK(strstr(why, "still in use") != NULL);
    CHECK(create(c, "acme-token", &r, NULL, &call) == 0); /* the running configuration stayed */
    /* once both loops pass a quiescent point they are freed, and reloads work again */
    core_quiescent(c, 0);
    core_quiescent(c, 1);
    CHECK(core_reload(c, config_of(yaml), why, sizeof why) == 0);
    core_destroy(c);
}

/* ---- out of memory ------------------------------------------------------------------------------ */

/* One call under the OOM loop, on a core made in setup (unarmed): it answers or fails
 * cleanly, and the store holds the webhook exactly when the call said so. */
typedef struct oom_case {
    const char *yaml;      /* with a store.path: the journal's writer thread allocates too */
    core_method method;
    const char *key;       /* Idempotency-Key for creates, or NULL */
    core *core;
    backend *store;
    core_call call;
    waiter w;
    size_t before;         /* webhooks stored before run */
    char id[OBJECTID_HEX_LEN + 1];
} oom_case;

static void oom_setup(void *ctx)
{
    oom_case *o = ctx;
    char err[JOURNAL_ERROR_MAX];
    backend_memory_stats stats;
    config *cfg = config_of(o->yaml);
    journal_options jo = {.path = cfg->store_path, .fsync = JOURNAL_FSYNC_NEVER, .snapshot_after_bytes = 1ull << 40,
                          .max_queue = 64};
    o->store = backend_memory_open(cfg->store_path != NULL ? &jo : NULL, NULL, &stats, err);
    o->core = core_create(cfg, o->store);
    CHECK(o->core != NULL);
    schema_create_request r = create_req(ECO_A1, "https://example.com/first", NULL, NULL);
    core_call first;
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    call_setup(&first, CORE_CREATE, "acme-token", &r.base);
    first.idempotency_key = o->key;
    first.idempotency_key_len = o->key != NULL ? strlen(o->key) : 0;
    first.done = on_done;
    first.data = &w;
    if (core_call_start(o->core, &first) == CORE_PENDING) { /* with a journal */
        pthread_mutex_lock(&w.lock);
        while (w.done == 0)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
    }
    CHECK(first.response != NULL);
    strcpy(o->id, first.response != NULL ? ((const schema_webhook *)first.response)->id : "");
    o->before = count(o->store);
    o->w = (waiter){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
}

static int oom_run(void *ctx)
{
    oom_case *o = ctx;
    static schema_create_request r;
    static schema_get_request g;
    static schema_list_request l;
    static schema_update_request u;
    static schema_webhook_changes ch;
    static schema_delete_request d;
    r = create_req(ECO_A1, "https://example.com/first", NULL, NULL);
    g = (schema_get_request)SCHEMA_GET_REQUEST_INIT;
    g.id = o->id;
    l = (schema_list_request)SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = ECO_A1;
    ch = (schema_webhook_changes)SCHEMA_WEBHOOK_CHANGES_INIT;
    ch.url = "https://example.com/second";
    ch.description_set_case = SCHEMA_CHANGES_DESCRIPTION_SET;
    ch.description = "changed";
    u = (schema_update_request)SCHEMA_UPDATE_REQUEST_INIT;
    u.id = o->id;
    u.changes = &ch;
    d = (schema_delete_request)SCHEMA_DELETE_REQUEST_INIT;
    d.id = o->id;
    const ProtobufCMessage *req = o->method == CORE_CREATE   ? &r.base
                                  : o->method == CORE_GET    ? &g.base
                                  : o->method == CORE_UPDATE ? &u.base
                                  : o->method == CORE_DELETE ? &d.base
                                                             : &l.base;
    call_setup(&o->call, o->method, "acme-token", req);
    o->call.idempotency_key = o->key;
    o->call.idempotency_key_len = o->key != NULL ? strlen(o->key) : 0;
    o->call.done = on_done;
    o->call.data = &o->w;
    int rc = core_call_start(o->core, &o->call);
    if (rc == CORE_PENDING) {
        pthread_mutex_lock(&o->w.lock);
        while (o->w.done == 0)
            pthread_cond_wait(&o->w.cond, &o->w.lock);
        pthread_mutex_unlock(&o->w.lock);
        rc = o->call.response != NULL ? 0 : -1;
    }
    CHECK((rc == 0) == (o->call.response != NULL));
    CHECK(rc == 0 || o->call.err.kind != ERROR_NONE); /* a failure always says why */
    return rc;
}

static void oom_check(void *ctx, int ok)
{
    oom_case *o = ctx;
    size_t now = count(o->store);
    if (o->method == CORE_UPDATE) { /* the new url and description together, or neither */
        const store_webhook *w = stored(o->store, o->id);
        CHECK(now == o->before && w != NULL);
        if (w != NULL)
            CHECK(ok ? strcmp(w->url, "https://example.com/second") == 0 && strcmp(w->description, "changed") == 0
                     : strcmp(w->url, "https://example.com/first") == 0 && strcmp(w->description, "") == 0);
        return;
    }
    if (o->method == CORE_DELETE) {
        CHECK(now == o->before - (ok ? 1 : 0) && (stored(o->store, o->id) == NULL) == ok);
        return;
    }
    if (o->method != CORE_CREATE || o->key != NULL) {
        CHECK(now == o->before); /* reads and replays store nothing */
        return;
    }
    CHECK(now == o->before + (ok ? 1 : 0)); /* whole or untouched */
}

/* Besides freeing the round's core, puts back the thread's caches a failed allocation may
 * have dropped or grown, so that the leak count sees only the operation's own blocks: the
 * per-thread SHA-256 context (an unarmed authentication with a token not just seen refills
 * what a failure emptied)
 * and OpenSSL's per-thread error state (whose data buffers it keeps for reuse after the
 * first error; the harness's ERR_clear_error makes the state again). */
static void oom_teardown(void *ctx)
{
    oom_case *o = ctx;
    core_call warm;
    schema_list_request l = SCHEMA_LIST_REQUEST_INIT;
    l.ecosystem_id = ECO_A1;
    /* another token than the operation's: auth keeps the last token's digest, and only a
     * token it has not just seen is hashed (which is what refills the context) */
    call_setup(&warm, CORE_LIST, "srv-a1", &l.base);
    CHECK(run_now(o->core, &warm) == 0);
    core_destroy(o->core);
    arena_release();
    OPENSSL_thread_stop();
}

static void test_out_of_memory(void)
{
    char dir[] = "/tmp/hookgate-test-core-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char durable[sizeof(yaml) + 128];
    snprintf(durable, sizeof durable, "%sstore: { path: %s/data, fsync: never }\n", yaml, dir);
    struct {
        const char *name, *yaml;
        core_method method;
        const char *key;
    } cases[] = {
        {"core create", yaml, CORE_CREATE, NULL},
        {"core create, replayed", yaml, CORE_CREATE, "k"},
        {"core get", yaml, CORE_GET, NULL},
        {"core list", yaml, CORE_LIST, NULL},
        {"core create through the journal", durable, CORE_CREATE, NULL},
        {"core update", yaml, CORE_UPDATE, NULL},
        {"core update through the journal", durable, CORE_UPDATE, NULL},
        {"core delete", yaml, CORE_DELETE, NULL},
        {"core delete through the journal", durable, CORE_DELETE, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oom_case o = {.yaml = cases[i].yaml, .method = cases[i].method, .key = cases[i].key};
        oom_op op = {cases[i].name, &o, oom_setup, oom_run, oom_check, oom_teardown};
        CHECK(oom_loop(&op) == 0);
        CHECK(oom_loop_persistent(&op) == 0);
        char cmd[sizeof dir + 32];
        snprintf(cmd, sizeof cmd, "rm -rf %s/data", dir);
        CHECK(system(cmd) == 0);
    }
    rmdir(dir);
}

int main(void)
{
    CHECK(objectid_init() == 0);
    test_create();
    test_create_errors();
    test_get_and_list();
    test_rendering_kept();
    test_list_pages();
    test_update_delete();
    test_idempotency_after_delete();
    test_dispatch();
    test_list_ecosystems();
    test_rate_limit();
    test_idempotency();
    test_idempotency_sealed();
    test_asynchronous_backend();
    test_invoke();
    test_invoke_concurrency();
    test_url_destination();
    test_reload();
    arena_release();
    test_out_of_memory();
    return test_exit_code();
}
