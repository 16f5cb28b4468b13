/* route: see route.h.
 *
 * A resource is a path shape with the methods it answers; the first resource whose path
 * matches decides, so the specific RPC methods come before the rest of the services.
 * Paths of different resources never overlap otherwise. */
#include "route.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "droplit/rest_rules.h"
#include "hg_assert.h"
#include "schema.h"

#define V0 "/v0"
#define RESOURCE_METHODS 3 /* methods a resource answers, at most */

typedef enum path_kind {
    PATH_EXACT,       /* the path itself */
    PATH_TREE,        /* the path itself, or it and "/" and anything after (a tree of static files) */
    PATH_COLLECTION,  /* the collection, or it and "/", also under /v0 */
    PATH_ITEM,        /* the collection "/<id>", <id> non-empty without '/', also under /v0 */
    PATH_ITEM_ACTION, /* the collection "/<id>/" the action (path), also under /v0 */
    PATH_RPC_METHOD,  /* WebhookService's prefix "/" the method's name */
    PATH_RPC_SERVICE, /* a served service's prefix, or anything under it */
} path_kind;

typedef struct resource {
    path_kind kind;
    const char *collection; /* the collection's path ("/api/webhooks"), not NUL-terminated */
    size_t collection_len;
    const char *path;  /* PATH_EXACT: the path; PATH_ITEM_ACTION: the action; PATH_RPC_METHOD: the method's
                          name in the schema */
    const char *allow; /* every method below, in this order, ", " between */
    struct {
        const char *method;
        route_id id;
    } methods[RESOURCE_METHODS];
} resource;

/* The REST resources come from the schema: each google.api.http option of WebhookService
 * is a REST_RULE of gen/droplit/rest_rules.h, and rules of one path shape make one resource
 * (rest_make, once). Each REST route id is the method's, by name: */
static const struct {
    const char *method; /* the schema's name of the RPC method */
    route_id id;
} rest_routes[] = {
    {"CreateWebhook", ROUTE_CREATE},   {"GetWebhook", ROUTE_GET},         {"ListWebhooks", ROUTE_LIST},
    {"UpdateWebhook", ROUTE_UPDATE},   {"DeleteWebhook", ROUTE_DELETE},   {"InvokeWebhook", ROUTE_INVOKE},
    {"PublishEvent", ROUTE_PUBLISH},   {"GetEvent", ROUTE_GET_EVENT},     {"ListAttempts", ROUTE_ATTEMPTS},
    {"ResendEvent", ROUTE_RESEND},     {"RecoverWebhook", ROUTE_RECOVER}, {"ListEcosystems", ROUTE_ECOSYSTEMS},
};
#define REST_ROUTES (sizeof(rest_routes) / sizeof(rest_routes[0]))

typedef struct rest_rule {
    const char *verb;
    const char *path; /* the template: "/api/webhooks", "/api/webhooks/{id}", "/api/webhooks/{id}/invoke" */
    const char *method;
    const char *body;
    unsigned status;
    route_answer answer;
    const char *text_field;
    int idempotency_key;
} rest_rule;
#define REST_RULE(verb, path, method, body, status, answer, text_field, idempotency_key) \
    {verb, path, method, body, status, answer, text_field, idempotency_key},
static const rest_rule rest_rules[] = {REST_RULES};
#undef REST_RULE
#define REST_RULE_COUNT (sizeof(rest_rules) / sizeof(rest_rules[0]))

/* After the REST resources, tried in this order; no two shapes overlap, so the order only
 * saves time: the RPC service, then the operational paths. An RPC method answers GET
 * (Connect's GET) exactly when the schema marks it NO_SIDE_EFFECTS: the table says so by
 * hand, and route_rpc_no_side_effects, from the generated list, is checked against it once
 * (table_make), so the two cannot drift apart. */
#define NONE NULL, 0
static const resource fixed[] = {
    {PATH_RPC_METHOD, NONE, "CreateWebhook", "POST", {{"POST", ROUTE_RPC_CREATE}}},
    {PATH_RPC_METHOD, NONE, "GetWebhook", "GET, POST", {{"GET", ROUTE_RPC_GET}, {"POST", ROUTE_RPC_GET}}},
    {PATH_RPC_METHOD, NONE, "ListWebhooks", "GET, POST", {{"GET", ROUTE_RPC_LIST}, {"POST", ROUTE_RPC_LIST}}},
    {PATH_RPC_METHOD, NONE, "UpdateWebhook", "POST", {{"POST", ROUTE_RPC_UPDATE}}},
    {PATH_RPC_METHOD, NONE, "DeleteWebhook", "POST", {{"POST", ROUTE_RPC_DELETE}}},
    {PATH_RPC_METHOD, NONE, "InvokeWebhook", "POST", {{"POST", ROUTE_RPC_INVOKE}}},
    {PATH_RPC_METHOD, NONE, "PublishEvent", "POST", {{"POST", ROUTE_RPC_PUBLISH}}},
    {PATH_RPC_METHOD, NONE, "GetEvent", "GET, POST", {{"GET", ROUTE_RPC_GET_EVENT}, {"POST", ROUTE_RPC_GET_EVENT}}},
    {PATH_RPC_METHOD, NONE, "ListAttempts", "GET, POST", {{"GET", ROUTE_RPC_ATTEMPTS}, {"POST", ROUTE_RPC_ATTEMPTS}}},
    {PATH_RPC_METHOD, NONE, "ResendEvent", "POST", {{"POST", ROUTE_RPC_RESEND}}},
    {PATH_RPC_METHOD, NONE, "RecoverWebhook", "POST", {{"POST", ROUTE_RPC_RECOVER}}},
    {PATH_RPC_METHOD, NONE, "ListEcosystems", "GET, POST",
     {{"GET", ROUTE_RPC_ECOSYSTEMS}, {"POST", ROUTE_RPC_ECOSYSTEMS}}},
    {PATH_RPC_SERVICE, NONE, NULL, "POST", {{"POST", ROUTE_RPC_OTHER}}},
    {PATH_EXACT, NONE, "/healthz", "GET, HEAD", {{"GET", ROUTE_HEALTHZ}, {"HEAD", ROUTE_HEALTHZ}}},
    {PATH_EXACT, NONE, "/readyz", "GET, HEAD", {{"GET", ROUTE_READYZ}, {"HEAD", ROUTE_READYZ}}},
    {PATH_EXACT, NONE, "/metrics", "GET", {{"GET", ROUTE_METRICS}}},
    {PATH_EXACT, NONE, "/openapi.json", "GET", {{"GET", ROUTE_OPENAPI}}},
    {PATH_TREE, NONE, "/console", "GET, HEAD", {{"GET", ROUTE_CONSOLE}, {"HEAD", ROUTE_CONSOLE}}},
};
#define FIXED (sizeof(fixed) / sizeof(fixed[0]))

/* The whole table, made once: the REST resources, then the fixed ones. */
#define RESOURCES_MAX (REST_RULE_COUNT + FIXED)
#define ALLOW_MAX (RESOURCE_METHODS * (ROUTE_METHOD_MAX + 2))
static resource resources[RESOURCES_MAX];
static route_rest rests[REST_RULE_COUNT];
static const route_rest *rest_of[ROUTE_COUNT]; /* a REST route's rule; NULL for the others */
static char allows[REST_RULE_COUNT][ALLOW_MAX];
static size_t resource_count;

static const char *const names[ROUTE_COUNT] = {
    [ROUTE_CREATE] = "create",         [ROUTE_GET] = "get",         [ROUTE_LIST] = "list",
    [ROUTE_UPDATE] = "update",         [ROUTE_DELETE] = "delete",   [ROUTE_INVOKE] = "invoke",
    [ROUTE_RPC_CREATE] = "rpc_create", [ROUTE_RPC_GET] = "rpc_get", [ROUTE_RPC_LIST] = "rpc_list",
    [ROUTE_RPC_UPDATE] = "rpc_update", [ROUTE_RPC_DELETE] = "rpc_delete", [ROUTE_RPC_INVOKE] = "rpc_invoke",
    [ROUTE_RPC_OTHER] = "rpc_other",   [ROUTE_HEALTHZ] = "healthz", [ROUTE_READYZ] = "readyz",
    [ROUTE_METRICS] = "metrics",       [ROUTE_NOT_FOUND] = "other", [ROUTE_METHOD_NOT_ALLOWED] = "other",
    [ROUTE_ATTEMPTS] = "attempts",     [ROUTE_RECOVER] = "recover", [ROUTE_PUBLISH] = "publish",
    [ROUTE_GET_EVENT] = "get_event",   [ROUTE_RESEND] = "resend",   [ROUTE_RPC_PUBLISH] = "rpc_publish",
    [ROUTE_RPC_GET_EVENT] = "rpc_get_event", [ROUTE_RPC_ATTEMPTS] = "rpc_attempts",
    [ROUTE_RPC_RESEND] = "rpc_resend", [ROUTE_RPC_RECOVER] = "rpc_recover", [ROUTE_PREFLIGHT] = "preflight",
    [ROUTE_OPENAPI] = "openapi",       [ROUTE_CONSOLE] = "console", [ROUTE_ECOSYSTEMS] = "ecosystems",
    [ROUTE_RPC_ECOSYSTEMS] = "rpc_ecosystems",
};
HG_STATIC_ASSERT(sizeof(names) / sizeof(names[0]) == ROUTE_COUNT, "a name for every route");

/* The literals here are short: compared byte by byte, inlined, without strlen first. */
static inline int starts(const char *s, size_t len, const char *lit)
{
    size_t i = 0;
    for (; lit[i] != '\0'; i++)
        if (i == len || s[i] != lit[i])
            return 0;
    return 1;
}

static inline int equals(const char *s, size_t len, const char *lit)
{
    for (size_t i = 0; i < len; i++)
        if (lit[i] == '\0' || lit[i] != s[i])
            return 0;
    return lit[len] == '\0'; /* within lit: its first len bytes were not its end */
}

/* The services served over RPC. WebhookService comes first: its methods have routes of
 * their own (PATH_RPC_METHOD); every other served method is ROUTE_RPC_OTHER, so that the
 * metrics' route labels stay the table's. */
static const ProtobufCServiceDescriptor *const rpc_services[] = {
    &schema_webhook_service_descriptor,
    &schema_health_service_descriptor,
    &schema_reflection_service_descriptor,
    &schema_reflection_v1alpha_service_descriptor,
};
#define RPC_SERVICES (sizeof(rpc_services) / sizeof(rpc_services[0]))

/* "/" + each service's full name, made once from the descriptors (they never change). */
#define RPC_PREFIX_MAX 128
static char rpc_prefixes[RPC_SERVICES][RPC_PREFIX_MAX];
static size_t rpc_prefix_lens[RPC_SERVICES];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Each served method's marks from the schema (the lists below), by service and method
 * index: looked up on every RPC call, so made once rather than matched by path each time. */
#define RPC_METHODS_MAX 32 /* methods of one served service */
enum { MARK_NO_SIDE_EFFECTS = 1, MARK_CLIENT_STREAMING = 2 };
static unsigned char method_marks[RPC_SERVICES][RPC_METHODS_MAX];

/* The methods marked NO_SIDE_EFFECTS in the schema, by path (gen/droplit/method_options.h). */
static const char *const no_side_effects[] = {METHOD_OPTIONS_NO_SIDE_EFFECTS NULL};

/* The methods whose requests are a stream, by path (gen/droplit/method_options.h). */
static const char *const client_streaming[] = {METHOD_OPTIONS_CLIENT_STREAMING NULL};

static int path_is_in(const char *const *list, const char *path, size_t len)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (equals(path, len, list[i]))
            return 1;
    return 0;
}

static int path_is_no_side_effects(const char *path, size_t len)
{
    return path_is_in(no_side_effects, path, len);
}

static int resource_allows(const resource *r, const char *method)
{
    for (size_t m = 0; m < RESOURCE_METHODS && r->methods[m].method != NULL; m++)
        if (strcmp(r->methods[m].method, method) == 0)
            return 1;
    return 0;
}

/* Allow lists its methods in this order, whatever the schema's order of methods. */
static const char *const method_order[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

static size_t method_rank(const char *method)
{
    for (size_t i = 0; i < sizeof(method_order) / sizeof(method_order[0]); i++)
        if (strcmp(method_order[i], method) == 0)
            return i;
    HG_ASSERT(!"a REST verb without a place in Allow");
    return 0;
}

static route_id rest_route_of(const char *method)
{
    for (size_t i = 0; i < REST_ROUTES; i++)
        if (strcmp(rest_routes[i].method, method) == 0)
            return rest_routes[i].id;
    HG_ASSERT(!"a REST rule whose method has no route id");
    return ROUTE_NOT_FOUND;
}

/* A rule's path template as a resource's shape: "/c" a collection, "/c/{id}" an item,
 * "/c/{id}/a" an item's action (proto/rest.py refuses any other). */
static resource rest_shape(const rest_rule *rule)
{
    resource r = {PATH_COLLECTION, rule->path, strlen(rule->path), NULL, NULL, {{NULL, 0}}};
    const char *field = strstr(rule->path, "/{");
    if (field == NULL)
        return r;
    /* the id in the path is the request's `id`, which the REST handler sets from route_match */
    HG_ASSERT(strncmp(field, "/{id}", 5) == 0);
    r.collection_len = (size_t)(field - rule->path);
    const char *after = field + 5;
    r.kind = *after == '\0' ? PATH_ITEM : PATH_ITEM_ACTION;
    if (r.kind == PATH_ITEM_ACTION) {
        HG_ASSERT(after[0] == '/' && after[1] != '\0' && strchr(after + 1, '/') == NULL);
        r.path = after + 1;
    }
    return r;
}

static int same_shape(const resource *a, const resource *b)
{
    return a->kind == b->kind && a->collection_len == b->collection_len &&
           memcmp(a->collection, b->collection, a->collection_len) == 0 &&
           (a->path == NULL) == (b->path == NULL) && (a->path == NULL || strcmp(a->path, b->path) == 0);
}

/* How a rule's method takes its request and answers, from the schema's descriptors. */
static route_rest rest_describe(const rest_rule *rule, int has_id)
{
    const ProtobufCServiceDescriptor *svc = &schema_webhook_service_descriptor;
    route_rest rest = {.status = rule->status, .answer = rule->answer, .idempotency_key = rule->idempotency_key};
    rest.method = protobuf_c_service_descriptor_get_method_by_name(svc, rule->method);
    HG_ASSERT(rest.method != NULL);
    const ProtobufCMessageDescriptor *in = rest.method->input;
    if (has_id) {
        rest.path_field = protobuf_c_message_descriptor_get_field_by_name(in, "id");
        HG_ASSERT(rest.path_field != NULL && rest.path_field->type == PROTOBUF_C_TYPE_STRING &&
                  rest.path_field->label != PROTOBUF_C_LABEL_REPEATED);
    }
    rest.body_all = strcmp(rule->body, "*") == 0;
    if (rule->body[0] != '\0' && !rest.body_all) {
        rest.body_field = protobuf_c_message_descriptor_get_field_by_name(in, rule->body);
        HG_ASSERT(rest.body_field != NULL && rest.body_field->type == PROTOBUF_C_TYPE_MESSAGE &&
                  rest.body_field->label != PROTOBUF_C_LABEL_REPEATED);
    }
    rest.query = rule->body[0] == '\0' && in->n_fields > (rest.path_field != NULL ? 1u : 0u);
    if (rule->answer == REST_ANSWER_TEXT) {
        rest.text_field = protobuf_c_message_descriptor_get_field_by_name(rest.method->output, rule->text_field);
        HG_ASSERT(rest.text_field != NULL && rest.text_field->type == PROTOBUF_C_TYPE_STRING &&
                  rest.text_field->label != PROTOBUF_C_LABEL_REPEATED);
    }
    return rest;
}

/* The REST resources from the rules: one per path shape, its methods in Allow's order. */
static void rest_make(void)
{
    size_t routes_seen = 0;
    for (size_t i = 0; i < REST_RULE_COUNT; i++) {
        const rest_rule *rule = &rest_rules[i];
        resource shape = rest_shape(rule);
        resource *r = NULL;
        for (size_t k = 0; k < resource_count && r == NULL; k++)
            if (same_shape(&resources[k], &shape))
                r = &resources[k];
        if (r == NULL) {
            HG_ASSERT(resource_count < REST_RULE_COUNT);
            r = &resources[resource_count++];
            *r = shape;
        }
        size_t m = 0;
        while (m < RESOURCE_METHODS && r->methods[m].method != NULL) {
            HG_ASSERT(strcmp(r->methods[m].method, rule->verb) != 0); /* one rule per verb and shape */
            m++;
        }
        HG_ASSERT(m < RESOURCE_METHODS);
        for (; m > 0 && method_rank(r->methods[m - 1].method) > method_rank(rule->verb); m--)
            r->methods[m] = r->methods[m - 1];
        r->methods[m].method = rule->verb;
        r->methods[m].id = rest_route_of(rule->method);
        HG_ASSERT(rest_of[r->methods[m].id] == NULL);
        rests[i] = rest_describe(rule, shape.kind != PATH_COLLECTION);
        rest_of[r->methods[m].id] = &rests[i];
        routes_seen++;
    }
    HG_ASSERT(routes_seen == REST_ROUTES); /* a rule for every REST route id, and (above) a route for every rule */
    for (size_t k = 0; k < resource_count; k++) {
        resource *r = &resources[k];
        char *allow = allows[k];
        size_t used = 0;
        for (size_t m = 0; m < RESOURCE_METHODS && r->methods[m].method != NULL; m++) {
            int n = snprintf(allow + used, ALLOW_MAX - used, "%s%s", m > 0 ? ", " : "", r->methods[m].method);
            HG_ASSERT(n > 0 && (size_t)n < ALLOW_MAX - used);
            used += (size_t)n;
        }
        r->allow = allow;
    }
}

static void table_make(void)
{
    for (size_t i = 0; i < RPC_SERVICES; i++) {
        size_t n = strlen(rpc_services[i]->name);
        HG_ASSERT(n + 2 <= RPC_PREFIX_MAX);
        rpc_prefixes[i][0] = '/';
        memcpy(rpc_prefixes[i] + 1, rpc_services[i]->name, n + 1);
        rpc_prefix_lens[i] = n + 1;
        const ProtobufCServiceDescriptor *svc = rpc_services[i];
        HG_ASSERT(svc->n_methods <= RPC_METHODS_MAX);
        for (unsigned m = 0; m < svc->n_methods; m++) {
            char path[RPC_PREFIX_MAX * 2];
            int len = snprintf(path, sizeof(path), "%s/%s", rpc_prefixes[i], svc->methods[m].name);
            HG_ASSERT(len > 0 && (size_t)len < sizeof(path));
            unsigned marks = path_is_in(no_side_effects, path, (size_t)len) ? MARK_NO_SIDE_EFFECTS : 0;
            if (path_is_in(client_streaming, path, (size_t)len))
                marks |= MARK_CLIENT_STREAMING;
            method_marks[i][m] = (unsigned char)marks;
        }
    }
    /* every method a list names is a served one */
    size_t streaming = 0, listed_streaming = 0;
    for (size_t i = 0; i < RPC_SERVICES; i++)
        for (unsigned m = 0; m < rpc_services[i]->n_methods; m++)
            streaming += (method_marks[i][m] & MARK_CLIENT_STREAMING) != 0;
    while (client_streaming[listed_streaming] != NULL)
        listed_streaming++;
    HG_ASSERT(streaming == listed_streaming);
    rest_make();
    HG_ASSERT(resource_count + FIXED <= RESOURCES_MAX);
    memcpy(resources + resource_count, fixed, sizeof(fixed));
    resource_count += FIXED;
    /* the table's GETs are the schema's NO_SIDE_EFFECTS methods, and those are WebhookService's */
    char path[RPC_PREFIX_MAX * 2];
    size_t marked = 0;
    for (size_t i = 0; i < resource_count; i++) {
        const resource *r = &resources[i];
        if (r->kind != PATH_RPC_METHOD) {
            HG_ASSERT(r->kind != PATH_RPC_SERVICE || !resource_allows(r, "GET"));
            continue;
        }
        int n = snprintf(path, sizeof(path), "%s/%s", rpc_prefixes[0], r->path);
        HG_ASSERT(n > 0 && (size_t)n < sizeof(path));
        int safe = path_is_no_side_effects(path, (size_t)n);
        HG_ASSERT(resource_allows(r, "GET") == safe);
        marked += (size_t)safe;
    }
    size_t listed = 0;
    while (no_side_effects[listed] != NULL)
        listed++;
    HG_ASSERT(marked == listed);
}

const char *route_rpc_prefix(void)
{
    pthread_once(&table_once, table_make);
    return rpc_prefixes[0];
}

/* Whether path has the resource's shape; for an item, where its id is. prefix (pn bytes)
 * is route_rpc_prefix(), looked up once per request by the caller. */
static int path_matches(const resource *r, const char *path, size_t len, const char *prefix, size_t pn,
                        route_match *out)
{
    size_t cn = r->collection_len;
    if (r->kind == PATH_COLLECTION || r->kind == PATH_ITEM || r->kind == PATH_ITEM_ACTION) {
        /* literal lengths known here: memcmp of a constant size compiles to a few compares */
        if (len >= sizeof(V0 "/") - 1 && memcmp(path, V0 "/", sizeof(V0 "/") - 1) == 0)
            path += sizeof(V0) - 1, len -= sizeof(V0) - 1;
        if (len < cn || memcmp(path, r->collection, cn) != 0)
            return 0;
        if (r->kind == PATH_COLLECTION)
            return len == cn || (len == cn + 1 && path[cn] == '/');
        if (len <= cn + 1 || path[cn] != '/')
            return 0;
        const char *id = path + cn + 1, *end = path + len;
        const char *slash = memchr(id, '/', (size_t)(end - id));
        if (r->kind == PATH_ITEM) {
            if (slash != NULL)
                return 0;
        } else { /* <id>/<action>: a non-empty id, then exactly the action */
            if (slash == NULL || slash == id || !equals(slash + 1, (size_t)(end - slash - 1), r->path))
                return 0;
            end = slash;
        }
        out->item_id = id;
        out->item_id_len = (size_t)(end - id);
        return 1;
    }
    switch (r->kind) {
    case PATH_EXACT:
        return equals(path, len, r->path);
    case PATH_TREE: {
        size_t n = strlen(r->path);
        return starts(path, len, r->path) && (len == n || path[n] == '/');
    }
    case PATH_RPC_METHOD:
        return len == pn + 1 + strlen(r->path) && starts(path, len, prefix) && path[pn] == '/' &&
               memcmp(path + pn + 1, r->path, len - pn - 1) == 0;
    case PATH_RPC_SERVICE:
        /* h2o's own rule for a registered path: the prefix ends at a segment boundary */
        for (size_t i = 0; i < RPC_SERVICES; i++) {
            size_t n = rpc_prefix_lens[i];
            if (starts(path, len, rpc_prefixes[i]) && (len == n || path[n] == '/'))
                return 1;
        }
        return 0;
    default:
        HG_ASSERT(!"a path kind without a matcher");
        return 0;
    }
}

route_id route_find(const char *method, size_t method_len, const char *path, size_t path_len, route_match *out)
{
    *out = (route_match){ROUTE_NOT_FOUND, NULL, NULL, NULL, 0};
    const char *prefix = route_rpc_prefix();
    for (size_t i = 0; i < resource_count; i++) {
        const resource *r = &resources[i];
        if (!path_matches(r, path, path_len, prefix, rpc_prefix_lens[0], out))
            continue;
        for (size_t m = 0; m < RESOURCE_METHODS && r->methods[m].method != NULL; m++)
            if (method_len <= ROUTE_METHOD_MAX && equals(method, method_len, r->methods[m].method)) {
                out->id = r->methods[m].id;
                out->rest = rest_of[out->id];
                if (r->kind != PATH_ITEM && r->kind != PATH_ITEM_ACTION)
                    out->item_id = NULL, out->item_id_len = 0;
                return out->id;
            }
        *out = (route_match){ROUTE_METHOD_NOT_ALLOWED, NULL, r->allow, NULL, 0};
        return out->id;
    }
    return out->id;
}

int route_describe(size_t i, char *path, size_t size, const char **allow)
{
    pthread_once(&table_once, table_make);
    size_t k = 0;
    for (; k < resource_count; k++) /* the i-th resource that is not RPC, nor the console's pages */
        if (resources[k].kind != PATH_RPC_METHOD && resources[k].kind != PATH_RPC_SERVICE &&
            resources[k].kind != PATH_TREE && i-- == 0)
            break;
    if (k == resource_count)
        return 0;
    const resource *r = &resources[k];
    int n = r->kind == PATH_EXACT ? snprintf(path, size, "%s", r->path)
            : snprintf(path, size, "%.*s%s%s%s", (int)r->collection_len, r->collection,
                       r->kind == PATH_COLLECTION ? "" : "/{id}", r->kind == PATH_ITEM_ACTION ? "/" : "",
                       r->kind == PATH_ITEM_ACTION ? r->path : "");
    *allow = r->allow;
    return n > 0 && (size_t)n < size ? 1 : -1;
}

const char *route_name(route_id id)
{
    HG_ASSERT(id >= 0 && id < ROUTE_COUNT);
    return names[id];
}

/* m's marks (MARK_*); 0 for a method of no served service. */
static unsigned method_marks_of(const ProtobufCMethodDescriptor *m)
{
    pthread_once(&table_once, table_make);
    for (size_t i = 0; i < RPC_SERVICES; i++) {
        const ProtobufCServiceDescriptor *s = rpc_services[i];
        if (m >= s->methods && m < s->methods + s->n_methods)
            return method_marks[i][m - s->methods];
    }
    return 0;
}

int route_rpc_no_side_effects(const ProtobufCMethodDescriptor *m)
{
    return (method_marks_of(m) & MARK_NO_SIDE_EFFECTS) != 0;
}

int route_rpc_client_streaming(const ProtobufCMethodDescriptor *m)
{
    return (method_marks_of(m) & MARK_CLIENT_STREAMING) != 0;
}

size_t route_rpc_service_count(void)
{
    return RPC_SERVICES;
}

const ProtobufCServiceDescriptor *route_rpc_service(size_t i)
{
    HG_ASSERT(i < RPC_SERVICES);
    return rpc_services[i];
}

const ProtobufCMethodDescriptor *route_rpc_method(const char *path, size_t len)
{
    pthread_once(&table_once, table_make);
    for (size_t i = 0; i < RPC_SERVICES; i++) {
        size_t pn = rpc_prefix_lens[i];
        if (len <= pn + 1 || !starts(path, len, rpc_prefixes[i]) || path[pn] != '/')
            continue;
        const char *name = path + pn + 1;
        size_t name_len = len - pn - 1;
        const ProtobufCServiceDescriptor *s = rpc_services[i];
        for (unsigned m = 0; m < s->n_methods; m++)
            if (equals(name, name_len, s->methods[m].name))
                return &s->methods[m];
        return NULL; /* a path names one service at most: names hold no '/' */
    }
    return NULL;
}
