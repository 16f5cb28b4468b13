/* Tests route: every route of the table, the refusals with their Allow headers, the /v0
 * alias, the item's id, that the names are the metrics' labels, the method an RPC path
 * names in each served service (route_rpc_method), and that the table and the OpenAPI
 * document (gen/openapi.json) name the same paths and methods, both ways. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "schema.h"
#include "test.h"

static route_id find(const char *method, const char *path, route_match *m)
{
    return route_find(method, strlen(method), path, strlen(path), m);
}

static void check_route(const char *method, const char *path, route_id want)
{
    route_match m;
    route_id got = find(method, path, &m);
    if (got != want)
        fprintf(stderr, "  %s %s: got %s (%d), want %s (%d)\n", method, path, route_name(got), (int)got,
                route_name(want), (int)want);
    CHECK(got == want);
    CHECK(m.id == got);
}

static void check_not_allowed(const char *method, const char *path, const char *allow)
{
    route_match m;
    CHECK(find(method, path, &m) == ROUTE_METHOD_NOT_ALLOWED);
    CHECK_STR(m.allow, allow);
}

/* Every path route_describe gives is in the document with exactly its methods, and the
 * document has no other path. Run from the repository's root (ctest does). */
static void check_openapi_matches_table(void)
{
    json_error_t jerr;
    json_t *doc = json_load_file("gen/openapi.json", 0, &jerr);
    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    json_t *paths = json_object_get(doc, "paths");
    CHECK(json_is_object(paths));
    size_t described = 0;
    char path[128];
    const char *allow;
    for (size_t i = 0; route_describe(i, path, sizeof(path), &allow) == 1; i++, described++) {
        json_t *item = json_object_get(paths, path);
        if (item == NULL)
            fprintf(stderr, "  %s (%s) is answered, and not in gen/openapi.json\n", path, allow);
        CHECK(item != NULL);
        if (item == NULL)
            continue;
        /* the document's verbs, upper-cased in its order, are Allow's methods */
        size_t allowed = 0, documented = 0;
        for (const char *a = allow; *a != '\0'; a += *a == ',' ? 2 : 0) {
            char verb[16];
            size_t n = strcspn(a, ",");
            CHECK(n < sizeof(verb));
            for (size_t k = 0; k < n && k < sizeof(verb) - 1; k++)
                verb[k] = (char)tolower((unsigned char)a[k]);
            verb[n < sizeof(verb) ? n : sizeof(verb) - 1] = '\0';
            if (json_object_get(item, verb) == NULL)
                fprintf(stderr, "  %s answers %s, which gen/openapi.json does not list\n", path, verb);
            CHECK(json_object_get(item, verb) != NULL);
            allowed++;
            a += n;
        }
        const char *key;
        json_t *value;
        json_object_foreach(item, key, value)
            documented += strcmp(key, "servers") != 0 && strcmp(key, "parameters") != 0;
        if (documented != allowed)
            fprintf(stderr, "  %s: gen/openapi.json lists %zu methods, the server answers %s\n", path, documented,
                    allow);
        CHECK(documented == allowed);
    }
    CHECK(described >= 12); /* the 8 REST paths and the 4 operational ones, at least */
    if (json_object_size(paths) != described)
        fprintf(stderr, "  gen/openapi.json has %zu paths, the server answers %zu\n", json_object_size(paths),
                described);
    CHECK(json_object_size(paths) == described);
    json_decref(doc);
}

/* Each REST route carries its schema rule: the method, and where its request comes from. */
static void check_rest_rules(void)
{
    route_match m;
    const ProtobufCServiceDescriptor *svc = &schema_webhook_service_descriptor;
    CHECK(find("POST", "/api/webhooks", &m) == ROUTE_CREATE && m.rest != NULL);
    CHECK(m.rest->method == protobuf_c_service_descriptor_get_method_by_name(svc, "CreateWebhook"));
    CHECK(m.rest->body_all && m.rest->path_field == NULL && !m.rest->query && m.rest->idempotency_key);
    CHECK(m.rest->status == 201 && m.rest->answer == REST_ANSWER_MESSAGE);
    CHECK(find("PUT", "/v0/api/webhooks/abc", &m) == ROUTE_UPDATE && m.rest != NULL);
    CHECK(m.rest->body_field != NULL && strcmp(m.rest->body_field->name, "changes") == 0 && !m.rest->body_all);
    CHECK(m.rest->path_field != NULL && strcmp(m.rest->path_field->name, "id") == 0);
    CHECK(m.rest->answer == REST_ANSWER_EMPTY && !m.rest->idempotency_key);
    CHECK(find("GET", "/api/webhooks", &m) == ROUTE_LIST && m.rest->query && m.rest->path_field == NULL);
    CHECK(find("GET", "/api/webhooks/abc/attempts", &m) == ROUTE_ATTEMPTS && m.rest->query && m.rest->path_field);
    CHECK(find("GET", "/api/webhooks/abc", &m) == ROUTE_GET && !m.rest->query && m.rest->path_field != NULL &&
          !m.rest->body_all && m.rest->body_field == NULL);
    CHECK(find("POST", "/api/webhooks/abc/invoke", &m) == ROUTE_INVOKE && m.rest->answer == REST_ANSWER_TEXT);
    CHECK(m.rest->text_field != NULL && strcmp(m.rest->text_field->name, "message") == 0);
    CHECK(find("POST", "/api/events", &m) == ROUTE_PUBLISH && m.rest->status == 202 && m.rest->idempotency_key);
    CHECK(find("POST", "/api/events/e1/resend", &m) == ROUTE_RESEND && m.rest->body_all && m.rest->path_field);
    /* the other routes have none */
    CHECK(find("GET", "/healthz", &m) == ROUTE_HEALTHZ && m.rest == NULL);
    CHECK(find("POST", "/droplit.webhooks.v1.WebhookService/GetWebhook", &m) == ROUTE_RPC_GET && m.rest == NULL);
    CHECK(find("PATCH", "/api/webhooks/abc", &m) == ROUTE_METHOD_NOT_ALLOWED && m.rest == NULL);
}

static void check_item(const char *path, const char *id)
{
    route_match m;
    CHECK(find("GET", path, &m) == ROUTE_GET);
    CHECK(m.item_id != NULL && m.item_id_len == strlen(id) && memcmp(m.item_id, id, m.item_id_len) == 0);
}

int main(void)
{
    /* REST */
    check_route("POST", "/api/webhooks", ROUTE_CREATE);
    check_route("POST", "/api/webhooks/", ROUTE_CREATE);
    check_route("GET", "/api/webhooks", ROUTE_LIST);
    check_route("GET", "/v0/api/webhooks", ROUTE_LIST);
    check_route("POST", "/v0/api/webhooks/", ROUTE_CREATE);
    check_item("/api/webhooks/5f1b7c3e9d2a4b0012345678", "5f1b7c3e9d2a4b0012345678");
    check_item("/v0/api/webhooks/abc", "abc");
    check_item("/api/webhooks/not-an-id", "not-an-id");
    check_not_allowed("PUT", "/api/webhooks", "GET, POST");
    check_not_allowed("DELETE", "/v0/api/webhooks/", "GET, POST");
    check_not_allowed("POST", "/api/webhooks/abc", "GET, PUT, DELETE");
    check_not_allowed("PATCH", "/api/webhooks/abc", "GET, PUT, DELETE");
    /* update and delete on the item, with its id as a get has it */
    check_route("PUT", "/api/webhooks/5f1b7c3e9d2a4b0012345678", ROUTE_UPDATE);
    check_route("PUT", "/v0/api/webhooks/abc", ROUTE_UPDATE);
    check_route("DELETE", "/api/webhooks/abc", ROUTE_DELETE);
    check_route("DELETE", "/v0/api/webhooks/5f1b7c3e9d2a4b0012345678", ROUTE_DELETE);
    check_route("PUT", "/api/webhooks/a/b", ROUTE_NOT_FOUND);
    /* invoke: POST on the item's /invoke, with the item's id */
    check_route("POST", "/api/webhooks/5f1b7c3e9d2a4b0012345678/invoke", ROUTE_INVOKE);
    check_route("POST", "/v0/api/webhooks/abc/invoke", ROUTE_INVOKE);
    check_not_allowed("GET", "/api/webhooks/abc/invoke", "POST");
    check_route("POST", "/api/webhooks//invoke", ROUTE_NOT_FOUND);
    check_route("POST", "/api/webhooks/abc/invoke/", ROUTE_NOT_FOUND);
    check_route("POST", "/api/webhooks/abc/invokex", ROUTE_NOT_FOUND);
    check_route("POST", "/api/webhooks/abc/invok", ROUTE_NOT_FOUND);
    check_route("POST", "/api/webhooks/a/b/invoke", ROUTE_NOT_FOUND);
    check_not_allowed("POST", "/api/webhooks/invoke", "GET, PUT, DELETE"); /* an item whose id is "invoke" */

    /* the event routes: a collection of their own, and two more actions of a webhook */
    check_route("POST", "/api/events", ROUTE_PUBLISH);
    check_route("POST", "/v0/api/events/", ROUTE_PUBLISH);
    check_not_allowed("GET", "/api/events", "POST");
    check_route("GET", "/api/events/5f1b7c3e9d2a4b0012345678", ROUTE_GET_EVENT);
    check_not_allowed("DELETE", "/api/events/abc", "GET");
    check_route("POST", "/api/events/abc/resend", ROUTE_RESEND);
    check_route("POST", "/api/events/abc/invoke", ROUTE_NOT_FOUND); /* actions belong to their collection */
    check_route("GET", "/api/webhooks/abc/attempts", ROUTE_ATTEMPTS);
    check_not_allowed("POST", "/api/webhooks/abc/attempts", "GET");
    check_route("POST", "/api/webhooks/abc/recover", ROUTE_RECOVER);
    check_route("GET", "/api/ecosystems", ROUTE_ECOSYSTEMS);
    check_route("GET", "/v0/api/ecosystems/", ROUTE_ECOSYSTEMS);
    check_not_allowed("POST", "/api/ecosystems", "GET");
    check_route("POST", "/api/webhooks/abc/resend", ROUTE_NOT_FOUND);
    check_route("POST", "/api/eventsx", ROUTE_NOT_FOUND);
    {
        route_match m;
        CHECK(find("POST", "/v0/api/webhooks/abc/invoke", &m) == ROUTE_INVOKE);
        CHECK(m.item_id != NULL && m.item_id_len == 3 && memcmp(m.item_id, "abc", 3) == 0);
    }
    for (int k = 0; k < 2; k++) {
        route_match m;
        CHECK(find(k ? "DELETE" : "PUT", "/v0/api/webhooks/abc", &m) == (k ? ROUTE_DELETE : ROUTE_UPDATE));
        CHECK(m.item_id != NULL && m.item_id_len == 3 && memcmp(m.item_id, "abc", 3) == 0);
    }
    check_not_allowed("get", "/api/webhooks", "GET, POST"); /* methods are case-sensitive */
    check_route("GET", "/api/webhooks/a/b", ROUTE_NOT_FOUND);
    check_route("GET", "/api/webhooks//", ROUTE_NOT_FOUND);
    check_route("GET", "/api/webhooks/a/", ROUTE_NOT_FOUND);
    check_route("GET", "/api/webhooksx", ROUTE_NOT_FOUND);
    check_route("GET", "/api/webhook", ROUTE_NOT_FOUND);
    check_route("GET", "/api", ROUTE_NOT_FOUND);
    check_route("GET", "/v0", ROUTE_NOT_FOUND);
    check_route("GET", "/v0/", ROUTE_NOT_FOUND);
    check_route("GET", "/v1/api/webhooks", ROUTE_NOT_FOUND);
    check_route("GET", "/", ROUTE_NOT_FOUND);
    check_route("GET", "", ROUTE_NOT_FOUND);

    /* health and metrics, without the /v0 alias */
    check_route("GET", "/healthz", ROUTE_HEALTHZ);
    check_route("HEAD", "/healthz", ROUTE_HEALTHZ);
    check_route("GET", "/readyz", ROUTE_READYZ);
    check_route("HEAD", "/readyz", ROUTE_READYZ);
    check_route("GET", "/metrics", ROUTE_METRICS);
    check_not_allowed("POST", "/healthz", "GET, HEAD");
    check_not_allowed("DELETE", "/readyz", "GET, HEAD");
    check_not_allowed("HEAD", "/metrics", "GET");
    check_route("GET", "/v0/healthz", ROUTE_NOT_FOUND);
    check_route("GET", "/healthz/", ROUTE_NOT_FOUND);
    check_route("GET", "/metricsx", ROUTE_NOT_FOUND);

    /* RPC: the prefix comes from the schema's service */
    CHECK_STR(route_rpc_prefix(), "/droplit.webhooks.v1.WebhookService");
    check_route("POST", "/droplit.webhooks.v1.WebhookService/CreateWebhook", ROUTE_RPC_CREATE);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/GetWebhook", ROUTE_RPC_GET);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/ListWebhooks", ROUTE_RPC_LIST);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/UpdateWebhook", ROUTE_RPC_UPDATE);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/DeleteWebhook", ROUTE_RPC_DELETE);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/InvokeWebhook", ROUTE_RPC_INVOKE);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/InvokeWebhookX", ROUTE_RPC_OTHER);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/CreateWebhook/", ROUTE_RPC_OTHER);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/CreateWebhookX", ROUTE_RPC_OTHER);
    check_route("POST", "/droplit.webhooks.v1.WebhookService", ROUTE_RPC_OTHER);
    check_route("POST", "/droplit.webhooks.v1.WebhookService/", ROUTE_RPC_OTHER);
    check_route("POST", "/droplit.webhooks.v1.WebhookServiceX/CreateWebhook", ROUTE_NOT_FOUND);
    check_route("POST", "/v0/droplit.webhooks.v1.WebhookService/CreateWebhook", ROUTE_NOT_FOUND);
    check_not_allowed("GET", "/droplit.webhooks.v1.WebhookService/CreateWebhook", "POST");
    /* GET (Connect GET) for exactly the schema's NO_SIDE_EFFECTS methods */
    check_route("GET", "/droplit.webhooks.v1.WebhookService/GetWebhook", ROUTE_RPC_GET);
    check_route("GET", "/droplit.webhooks.v1.WebhookService/ListWebhooks", ROUTE_RPC_LIST);
    check_route("GET", "/droplit.webhooks.v1.WebhookService/GetEvent", ROUTE_RPC_GET_EVENT);
    check_route("GET", "/droplit.webhooks.v1.WebhookService/ListAttempts", ROUTE_RPC_ATTEMPTS);
    check_route("GET", "/droplit.webhooks.v1.WebhookService/ListEcosystems", ROUTE_RPC_ECOSYSTEMS);
    check_not_allowed("PUT", "/droplit.webhooks.v1.WebhookService/GetWebhook", "GET, POST");
    {
        const ProtobufCServiceDescriptor *ws = &schema_webhook_service_descriptor;
        unsigned gets = 0;
        for (unsigned i = 0; i < ws->n_methods; i++) {
            char path[128];
            snprintf(path, sizeof(path), "%s/%s", route_rpc_prefix(), ws->methods[i].name);
            route_match m;
            int get = find("GET", path, &m) != ROUTE_METHOD_NOT_ALLOWED;
            CHECK(get == route_rpc_no_side_effects(&ws->methods[i]));
            gets += (unsigned)get;
        }
        CHECK(gets == 5);
        CHECK(!route_rpc_no_side_effects(&schema_health_service_descriptor.methods[0]));
    }
    check_not_allowed("GET", "/droplit.webhooks.v1.WebhookService/Nope", "POST");

    /* the health service: served, counted as rpc_other (no label of its own) */
    check_route("POST", "/grpc.health.v1.Health/Check", ROUTE_RPC_OTHER);
    check_route("POST", "/grpc.health.v1.Health/Nope", ROUTE_RPC_OTHER);
    check_route("POST", "/grpc.health.v1.Health", ROUTE_RPC_OTHER);
    check_route("POST", "/grpc.health.v1.HealthX/Check", ROUTE_NOT_FOUND);
    check_route("POST", "/v0/grpc.health.v1.Health/Check", ROUTE_NOT_FOUND);
    check_not_allowed("GET", "/grpc.health.v1.Health/Check", "POST");

    /* route_rpc_method: the method an RPC path names, in either service */
    const ProtobufCServiceDescriptor *hs = &schema_health_service_descriptor;
    static const struct {
        const char *path;
        const char *method; /* NULL: no method */
    } rpc_paths[] = {
        {"/grpc.health.v1.Health/Check", "Check"},
        {"/grpc.health.v1.Health/Watch", "Watch"},
        {"/droplit.webhooks.v1.WebhookService/GetWebhook", "GetWebhook"},
        {"/grpc.health.v1.Health/check", NULL},
        {"/grpc.health.v1.Health/Check/", NULL},
        {"/grpc.health.v1.Health/CheckX", NULL},
        {"/grpc.health.v1.Health/", NULL},
        {"/grpc.health.v1.Health", NULL},
        {"/grpc.health.v1.HealthCheck", NULL},
        {"/droplit.webhooks.v1.WebhookService/Check", NULL},
        {"/other.Service/Check", NULL},
        {"grpc.health.v1.Health/Check", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof(rpc_paths) / sizeof(rpc_paths[0]); i++) {
        const ProtobufCMethodDescriptor *got = route_rpc_method(rpc_paths[i].path, strlen(rpc_paths[i].path));
        if (rpc_paths[i].method == NULL)
            CHECK(got == NULL);
        else
            CHECK(got != NULL && strcmp(got->name, rpc_paths[i].method) == 0);
    }
    CHECK(route_rpc_method("/grpc.health.v1.Health/Check", 28) == &hs->methods[0]);
    CHECK(route_rpc_method("/grpc.health.v1.Health/Checkered", 28) == &hs->methods[0]); /* len, not NUL, ends it */

    /* a method longer than any the table names matches nothing */
    char long_method[ROUTE_METHOD_MAX + 8];
    memset(long_method, 'G', sizeof(long_method) - 1);
    long_method[sizeof(long_method) - 1] = '\0';
    check_not_allowed(long_method, "/healthz", "GET, HEAD");

    /* the names are the metrics' route labels, as they always were */
    static const char *const labels[ROUTE_COUNT] = {
        [ROUTE_CREATE] = "create",         [ROUTE_GET] = "get",         [ROUTE_LIST] = "list",
        [ROUTE_UPDATE] = "update",         [ROUTE_DELETE] = "delete",   [ROUTE_INVOKE] = "invoke",
        [ROUTE_RPC_CREATE] = "rpc_create", [ROUTE_RPC_GET] = "rpc_get", [ROUTE_RPC_LIST] = "rpc_list",
        [ROUTE_RPC_UPDATE] = "rpc_update", [ROUTE_RPC_DELETE] = "rpc_delete", [ROUTE_RPC_INVOKE] = "rpc_invoke",
        [ROUTE_RPC_OTHER] = "rpc_other",   [ROUTE_HEALTHZ] = "healthz", [ROUTE_READYZ] = "readyz",
        [ROUTE_METRICS] = "metrics",       [ROUTE_NOT_FOUND] = "other", [ROUTE_METHOD_NOT_ALLOWED] = "other",
        [ROUTE_ATTEMPTS] = "attempts",     [ROUTE_RECOVER] = "recover", [ROUTE_PUBLISH] = "publish",
        [ROUTE_GET_EVENT] = "get_event",   [ROUTE_RESEND] = "resend",   [ROUTE_RPC_PUBLISH] = "rpc_publish",
        [ROUTE_RPC_GET_EVENT] = "rpc_get_event", [ROUTE_RPC_ATTEMPTS] = "rpc_attempts",
        [ROUTE_RPC_RESEND] = "rpc_resend", [ROUTE_RPC_RECOVER] = "rpc_recover",
        [ROUTE_PREFLIGHT] = "preflight",   [ROUTE_OPENAPI] = "openapi", [ROUTE_CONSOLE] = "console",
        [ROUTE_ECOSYSTEMS] = "ecosystems", [ROUTE_RPC_ECOSYSTEMS] = "rpc_ecosystems",
    };
    for (int r = 0; r < ROUTE_COUNT; r++)
        CHECK_STR(route_name((route_id)r), labels[r]);

    /* every RPC route names a method of the schema's service, and every method has a route */
    const ProtobufCServiceDescriptor *svc = &schema_webhook_service_descriptor;
    int routed = 0;
    for (unsigned i = 0; i < svc->n_methods; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", route_rpc_prefix(), svc->methods[i].name);
        route_match m;
        route_id id = find("POST", path, &m);
        CHECK(id >= ROUTE_RPC_CREATE && id <= ROUTE_RPC_ECOSYSTEMS);
        routed |= 1 << id;
    }
    int every = 0;
    for (int id = ROUTE_RPC_CREATE; id <= ROUTE_RPC_ECOSYSTEMS; id++)
        every |= 1 << id;
    CHECK(routed == every);
    CHECK(svc->n_methods == (unsigned)(ROUTE_RPC_ECOSYSTEMS - ROUTE_RPC_CREATE + 1));

    check_route("GET", "/openapi.json", ROUTE_OPENAPI);
    check_not_allowed("POST", "/openapi.json", "GET");
    check_route("GET", "/v0/openapi.json", ROUTE_NOT_FOUND); /* /v0 aliases the API, not the document */
    /* the console: its root, and anything under it, which http's console module then finds or not */
    check_route("GET", "/console", ROUTE_CONSOLE);
    check_route("GET", "/console/", ROUTE_CONSOLE);
    check_route("HEAD", "/console/app.js", ROUTE_CONSOLE);
    check_route("GET", "/console/no/such/file", ROUTE_CONSOLE);
    check_route("GET", "/consoles", ROUTE_NOT_FOUND);
    check_route("GET", "/v0/console/", ROUTE_NOT_FOUND);
    check_not_allowed("POST", "/console/", "GET, HEAD");
    check_openapi_matches_table(); /* and the console is not in the document */
    check_rest_rules();
    /* a template that does not fit is said so */
    char tiny[4];
    const char *allow;
    CHECK(route_describe(0, tiny, sizeof(tiny), &allow) == -1);
    return test_exit_code();
}
