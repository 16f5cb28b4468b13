/* test_reflection: server reflection's answers and the generated tables they come from.
 *
 * The tables: symbols sorted and unique (bsearch relies on it), each file's closure
 * starting with itself, every served service and its methods findable, the schema's
 * messages too. v1alpha's messages alike to v1's field for field (schema.h reads both
 * with v1's), and a v1 answer decoding as v1alpha's. Each request kind: list_services (the
 * route's services, in order), file_by_filename, file_containing_symbol for services,
 * methods, messages, fields, nested enums and enum values, the extension requests, an
 * unknown name NOT_FOUND inside the answer, a request asking nothing INVALID_ARGUMENT; the
 * echo of host and request; a client's long name cut at a whole character. OOM loops. */
#include "codec_proto.h"
#include "error.h"
#include "oom.h"
#include "reflection.h"
#include "route.h"
#include "schema.h"
#include "status.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An allocator that keeps what it gave, so a test frees an answer whole. */
#define ARENA_MAX 64
typedef struct arena {
    void *blocks[ARENA_MAX];
    size_t n;
} arena;

static void *arena_alloc(void *data, size_t size)
{
    arena *a = data;
    if (a->n == ARENA_MAX)
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        a->blocks[a->n++] = p;
    return p;
}

static void arena_free(void *data, void *p)
{
    (void)data, (void)p; /* everything goes in arena_clear */
}

static void arena_clear(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    a->n = 0;
}

static ProtobufCAllocator arena_allocator(arena *a)
{
    return (ProtobufCAllocator){arena_alloc, arena_free, a};
}

static schema_reflection_request ask(void)
{
    schema_reflection_request r = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    r.host = "localhost:1";
    return r;
}

static void test_tables(void)
{
    CHECK(DESCRIPTOR_SET_FILES >= 5 && DESCRIPTOR_SET_SYMBOLS > 100);
    for (size_t i = 1; i < DESCRIPTOR_SET_SYMBOLS; i++)
        CHECK(strcmp(descriptor_set_symbols[i - 1].name, descriptor_set_symbols[i].name) < 0);
    for (size_t i = 0; i < DESCRIPTOR_SET_SYMBOLS; i++)
        CHECK(descriptor_set_symbols[i].file < DESCRIPTOR_SET_FILES);
    for (int i = 0; i < DESCRIPTOR_SET_FILES; i++) {
        const descriptor_set_file *f = &descriptor_set_files[i];
        CHECK(f->closure_len >= 1 && f->closure[0] == i && f->len > 0);
        CHECK(reflection_find_file(f->name) == i);
        for (size_t k = 1; k < f->closure_len; k++)
            CHECK(f->closure[k] < i); /* protoc's order: imports first */
    }
    CHECK(reflection_find_file("droplit/webhooks/v1/webhooks.proto") >= 0);
    CHECK(reflection_find_file("google/protobuf/timestamp.proto") >= 0); /* a well-known type it imports */
    CHECK(reflection_find_file("webhooks.proto") == -1);

    /* every served service and method, and the schema's messages, by their full names */
    for (size_t i = 0; i < route_rpc_service_count(); i++) {
        const ProtobufCServiceDescriptor *s = route_rpc_service(i);
        const descriptor_set_symbol *sym = reflection_find_symbol(s->name);
        CHECK(sym != NULL && sym->kind == DESCRIPTOR_SET_SERVICE);
        for (unsigned m = 0; m < s->n_methods; m++) {
            char name[256];
            snprintf(name, sizeof(name), "%s.%s", s->name, s->methods[m].name);
            sym = reflection_find_symbol(name);
            CHECK(sym != NULL && sym->kind == DESCRIPTOR_SET_METHOD);
            CHECK((sym = reflection_find_symbol(s->methods[m].input->name)) != NULL && sym->kind == DESCRIPTOR_SET_MESSAGE);
        }
    }
    const descriptor_set_symbol *sym = reflection_find_symbol(schema_webhook_descriptor.name);
    CHECK(sym != NULL && strcmp(descriptor_set_files[sym->file].name, "droplit/webhooks/v1/webhooks.proto") == 0);
    CHECK(reflection_find_symbol("droplit.webhooks.v1") == NULL); /* a package is no symbol */
    CHECK(reflection_find_symbol(".droplit.webhooks.v1.Webhook") == NULL);
    CHECK(reflection_find_symbol("") == NULL);
}

/* v1alpha's message a field for field like v1's (names, numbers, types, layout), nested
 * messages too: what lets schema.h read both versions with v1's. */
static void check_alike(const ProtobufCMessageDescriptor *a, const ProtobufCMessageDescriptor *b)
{
    CHECK_STR(a->short_name, b->short_name);
    CHECK(a->sizeof_message == b->sizeof_message && a->n_fields == b->n_fields);
    for (unsigned i = 0; i < a->n_fields && i < b->n_fields; i++) {
        const ProtobufCFieldDescriptor *x = &a->fields[i], *y = &b->fields[i];
        CHECK_STR(x->name, y->name);
        CHECK(x->id == y->id && x->label == y->label && x->type == y->type && x->offset == y->offset &&
              x->quantifier_offset == y->quantifier_offset && x->flags == y->flags);
        if (x->type == PROTOBUF_C_TYPE_MESSAGE && x->descriptor != a)
            check_alike(x->descriptor, y->descriptor);
    }
}

static void test_versions_alike(void)
{
    check_alike(&schema_reflection_v1alpha_request_descriptor, &schema_reflection_request_descriptor);
    check_alike(&schema_reflection_v1alpha_response_descriptor, &schema_reflection_response_descriptor);
    const ProtobufCServiceDescriptor *v1 = &schema_reflection_service_descriptor,
                                     *v1alpha = &schema_reflection_v1alpha_service_descriptor;
    CHECK(v1->n_methods == 1 && v1alpha->n_methods == 1);
    CHECK(v1->methods[0].input == &schema_reflection_request_descriptor);
    CHECK(v1alpha->methods[0].input == &schema_reflection_v1alpha_request_descriptor);
    CHECK(route_rpc_client_streaming(&v1->methods[0]) && route_rpc_client_streaming(&v1alpha->methods[0]));
    CHECK(!route_rpc_client_streaming(&schema_health_service_descriptor.methods[0]));
}

/* req's answer must be the files of the named file and its closure. */
static void check_files(const schema_reflection_response *res, const char *file)
{
    int i = reflection_find_file(file);
    CHECK(i >= 0);
    CHECK(res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_FILES);
    if (i < 0 || res == NULL || res->message_response_case != SCHEMA_REFLECTION_ANSWER_FILES)
        return;
    const descriptor_set_file *f = &descriptor_set_files[i];
    const schema_reflection_files *files = res->file_descriptor_response;
    CHECK(files->n_file_descriptor_proto == f->closure_len);
    for (size_t k = 0; k < files->n_file_descriptor_proto && k < f->closure_len; k++) {
        const descriptor_set_file *want = &descriptor_set_files[f->closure[k]];
        CHECK(files->file_descriptor_proto[k].len == want->len &&
              memcmp(files->file_descriptor_proto[k].data, want->bytes, want->len) == 0);
    }
}

static void check_error(const schema_reflection_response *res, int code, const char *message)
{
    CHECK(res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_ERROR);
    if (res == NULL || res->message_response_case != SCHEMA_REFLECTION_ANSWER_ERROR)
        return;
    CHECK(res->error_response->error_code == code);
    if (message != NULL)
        CHECK_STR(res->error_response->error_message, message);
}

static void test_requests(void)
{
    arena a = {0};
    ProtobufCAllocator alloc = arena_allocator(&a);
    schema_reflection_request req = ask();

    req.message_request_case = SCHEMA_REFLECTION_ASK_SERVICES;
    req.list_services = "*";
    schema_reflection_response *res = reflection_answer(&req, &alloc);
    CHECK(res != NULL && res->original_request == &req && strcmp(res->valid_host, "localhost:1") == 0);
    CHECK(res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_SERVICES);
    if (res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_SERVICES) {
        const schema_reflection_services *s = res->list_services_response;
        CHECK(s->n_service == 4 && s->n_service == route_rpc_service_count());
        for (size_t i = 0; i < s->n_service; i++)
            CHECK_STR(s->service[i]->name, route_rpc_service(i)->name);
        CHECK_STR(s->service[0]->name, "droplit.webhooks.v1.WebhookService");
        CHECK_STR(s->service[3]->name, "grpc.reflection.v1alpha.ServerReflection");
    }
    arena_clear(&a);

    req.message_request_case = SCHEMA_REFLECTION_ASK_FILE;
    req.file_by_filename = "droplit/webhooks/v1/webhooks.proto";
    res = reflection_answer(&req, &alloc);
    check_files(res, "droplit/webhooks/v1/webhooks.proto");
    CHECK(res != NULL && res->file_descriptor_response->n_file_descriptor_proto >= 2); /* with its imports */
    arena_clear(&a);
    req.file_by_filename = "no/such.proto";
    check_error(reflection_answer(&req, &alloc), 5, "Unknown file no/such.proto.");
    arena_clear(&a);

    static const struct {
        const char *symbol, *file;
    } symbols[] = {
        {"droplit.webhooks.v1.WebhookService", "droplit/webhooks/v1/webhooks.proto"},
        {"droplit.webhooks.v1.WebhookService.CreateWebhook", "droplit/webhooks/v1/webhooks.proto"},
        {"droplit.webhooks.v1.Webhook.created_at", "droplit/webhooks/v1/webhooks.proto"},
        {"google.protobuf.Timestamp", "google/protobuf/timestamp.proto"},
        {"google.protobuf.Value.kind", "google/protobuf/struct.proto"}, /* a oneof */
        {"google.protobuf.NULL_VALUE", "google/protobuf/struct.proto"}, /* an enum value: its enum's sibling */
        {"grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"},
        {"grpc.health.v1.HealthCheckResponse.SERVING", "grpc/health/v1/health.proto"},
        {"grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo", "grpc/reflection/v1alpha/reflection.proto"},
    };
    req.message_request_case = SCHEMA_REFLECTION_ASK_SYMBOL;
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        req.file_containing_symbol = (char *)symbols[i].symbol;
        check_files(reflection_answer(&req, &alloc), symbols[i].file);
        arena_clear(&a);
    }
    req.file_containing_symbol = "droplit.webhooks.v1.NoSuchThing";
    res = reflection_answer(&req, &alloc);
    check_error(res, 5, "Unknown symbol droplit.webhooks.v1.NoSuchThing.");
    CHECK(res != NULL && res->original_request == &req);
    arena_clear(&a);

    Grpc__Reflection__V1__ExtensionRequest ext = GRPC__REFLECTION__V1__EXTENSION_REQUEST__INIT;
    ext.containing_type = "droplit.webhooks.v1.Webhook";
    ext.extension_number = 1000;
    req.message_request_case = SCHEMA_REFLECTION_ASK_EXTENSION;
    req.file_containing_extension = &ext;
    check_error(reflection_answer(&req, &alloc), 5, "No such extension of droplit.webhooks.v1.Webhook.");
    arena_clear(&a);
    /* each declared one: its file (pointers: a schema may declare none) */
    for (const descriptor_set_extension *x = descriptor_set_extensions;
         x != descriptor_set_extensions + DESCRIPTOR_SET_EXTENSIONS; x++) {
        ext.containing_type = (char *)x->extendee;
        ext.extension_number = x->number;
        check_files(reflection_answer(&req, &alloc), descriptor_set_files[x->file].name);
        arena_clear(&a);
    }

    req.message_request_case = SCHEMA_REFLECTION_ASK_EXTENSION_NUMBERS;
    req.all_extension_numbers_of_type = "droplit.webhooks.v1.Webhook";
    res = reflection_answer(&req, &alloc);
    CHECK(res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_EXTENSION_NUMBERS);
    if (res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_EXTENSION_NUMBERS) {
        CHECK_STR(res->all_extension_numbers_response->base_type_name, "droplit.webhooks.v1.Webhook");
        CHECK(res->all_extension_numbers_response->n_extension_number == 0);
    }
    arena_clear(&a);
    req.all_extension_numbers_of_type = "grpc.health.v1.HealthCheckResponse.ServingStatus"; /* an enum */
    check_error(reflection_answer(&req, &alloc), 5, NULL);
    arena_clear(&a);

    req.message_request_case = 0; /* asks nothing: INVALID_ARGUMENT, inside the answer */
    check_error(reflection_answer(&req, &alloc), 3, NULL);
    arena_clear(&a);

    /* a name far over the message bound, in 2-byte characters: cut whole */
    char *longname = malloc(20001);
    for (size_t i = 0; i < 20000; i += 2)
        longname[i] = (char)0xc3, longname[i + 1] = (char)0xa9; /* é */
    longname[20000] = '\0';
    req.message_request_case = SCHEMA_REFLECTION_ASK_SYMBOL;
    req.file_containing_symbol = longname;
    res = reflection_answer(&req, &alloc);
    check_error(res, 5, NULL);
    if (res != NULL && res->message_response_case == SCHEMA_REFLECTION_ANSWER_ERROR) {
        const char *m = res->error_response->error_message;
        CHECK(strlen(m) < ERROR_MESSAGE_MAX && codec_proto_is_text((const uint8_t *)m, strlen(m)));
    }
    arena_clear(&a);
    free(longname);
}

/* A v1 answer, packed, is v1alpha's answer: the bytes a v1alpha client reads. */
static void test_v1alpha_reads_v1(void)
{
    arena a = {0};
    ProtobufCAllocator alloc = arena_allocator(&a);
    schema_reflection_request req = ask();
    req.message_request_case = SCHEMA_REFLECTION_ASK_SYMBOL;
    req.file_containing_symbol = "grpc.health.v1.Health";
    schema_reflection_response *res = reflection_answer(&req, &alloc);
    CHECK(res != NULL);
    size_t len;
    uint8_t *bytes = res != NULL ? codec_proto_encode(&res->base, &alloc, &len) : NULL;
    CHECK(bytes != NULL);
    if (bytes != NULL) {
        error err;
        Grpc__Reflection__V1alpha__ServerReflectionResponse *alpha =
            (Grpc__Reflection__V1alpha__ServerReflectionResponse *)codec_proto_decode(
                &schema_reflection_v1alpha_response_descriptor, bytes, len, &alloc, &err);
        CHECK(alpha != NULL);
        if (alpha != NULL) {
            CHECK_STR(alpha->valid_host, "localhost:1");
            CHECK_STR(alpha->original_request->file_containing_symbol, "grpc.health.v1.Health");
            CHECK(alpha->message_response_case ==
                  GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
            CHECK(alpha->file_descriptor_response->n_file_descriptor_proto == 1);
        }
    }
    arena_clear(&a);
}

/* ---- out of memory ---------------------------------------------------------------------- */

typedef struct oom_ctx {
    arena a;
    schema_reflection_request req;
    schema_reflection_response *res;
} oom_ctx;

static int oom_run(void *arg)
{
    oom_ctx *x = arg;
    ProtobufCAllocator alloc = arena_allocator(&x->a);
    x->res = reflection_answer(&x->req, &alloc);
    return x->res != NULL ? 0 : -1;
}

static void oom_check(void *arg, int ok)
{
    oom_ctx *x = arg;
    CHECK(ok ? x->res != NULL && x->res->message_response_case != 0 : x->res == NULL);
}

static void oom_teardown(void *arg)
{
    arena_clear(&((oom_ctx *)arg)->a);
}

static void test_out_of_memory(void)
{
    oom_ctx x = {.req = ask()};
    oom_op op = {"reflection_answer", &x, NULL, oom_run, oom_check, oom_teardown};
    x.req.message_request_case = SCHEMA_REFLECTION_ASK_SERVICES;
    x.req.list_services = "";
    CHECK(oom_loop(&op) == 0);
    x.req.message_request_case = SCHEMA_REFLECTION_ASK_SYMBOL;
    x.req.file_containing_symbol = "droplit.webhooks.v1.WebhookService";
    CHECK(oom_loop(&op) == 0);
    x.req.file_containing_symbol = "no.such.Symbol";
    CHECK(oom_loop(&op) == 0);
    x.req.message_request_case = SCHEMA_REFLECTION_ASK_EXTENSION_NUMBERS;
    x.req.all_extension_numbers_of_type = "droplit.webhooks.v1.Webhook";
    CHECK(oom_loop(&op) == 0);
}

int main(void)
{
    test_tables();
    test_versions_alike();
    test_requests();
    test_v1alpha_reads_v1();
    test_out_of_memory();
    return test_exit_code();
}
