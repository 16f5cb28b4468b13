/* Tests rpc over core_fixture.h's core (memory store, so every call answers at once):
 * rpc_handle decodes a JSON or binary body into the method's input message and runs the
 * core with the headers and the clock — a good create, get and list each way; the token
 * checked before anything in the body; a body that does not decode is InvalidBody once the
 * token is good; a method the core lacks is Unimplemented, its body never decoded; an
 * empty JSON body is the empty message (so the core names the missing fields), as an empty
 * protobuf body is; the Idempotency-Key reaches the core (a replay). rpc_encode round
 * trips a message through both codecs; rpc_clock reads both clocks. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "core_fixture.h"
#include "oom.h"
#include "poolalloc.h"
#include "rpc.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ " TOKEN " ]\n"
                           "    ecosystems: [ { id: " ECO " } ]\n";

static const ProtobufCMethodDescriptor *method(const char *name)
{
    const ProtobufCServiceDescriptor *s = &schema_webhook_service_descriptor;
    for (unsigned i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].name, name) == 0)
            return &s->methods[i];
    CHECK(!"a method of the schema");
    abort();
}

/* One call: its pool, allocator and core_call, run through rpc_handle. */
typedef struct call {
    h2o_mem_pool_t pool;
    ProtobufCAllocator alloc;
    core_call c;
    int rc;
} call;

static void run(call *k, core *c, const ProtobufCMethodDescriptor *m, rpc_codec codec, const char *token,
                const char *key, const void *body, size_t len)
{
    h2o_mem_init_pool(&k->pool);
    k->alloc = poolalloc_make(&k->pool);
    core_call_init(&k->c, core_method_of(m));
    rpc_headers h = {.authorization = token,
                     .authorization_len = token != NULL ? strlen(token) : 0,
                     .idempotency_key = key,
                     .idempotency_key_len = key != NULL ? strlen(key) : 0};
    k->rc = rpc_handle(c, m, codec, &h, body, len, &k->alloc, &k->c);
    CHECK(k->rc != CORE_PENDING); /* the memory store answers at once */
}

static void done(call *k)
{
    h2o_mem_clear_pool(&k->pool);
}

static const char create_json[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/json\"}";

static void test_json_and_binary(core *c)
{
    size_t stored = core_fixture_stored(c);
    call k;
    run(&k, c, method("CreateWebhook"), RPC_CODEC_JSON, TOKEN, NULL, create_json, sizeof(create_json) - 1);
    CHECK(k.rc == 0 && k.c.created);
    const schema_webhook *w = (const schema_webhook *)k.c.response;
    CHECK(w != NULL && w->base.descriptor == &schema_webhook_descriptor);
    char id[64] = "";
    if (w != NULL) {
        CHECK_STR(w->url, "https://example.com/json");
        CHECK_STR(w->ecosystem_id, ECO);
        snprintf(id, sizeof(id), "%s", w->id);
    }
    CHECK(core_fixture_stored(c) == stored + 1);
    done(&k);

    /* binary: a create, then a get and a list that find the JSON one */
    schema_create_request cr = SCHEMA_CREATE_REQUEST_INIT;
    cr.ecosystem_id = ECO;
    cr.url = "https://example.com/proto";
    uint8_t buf[256];
    size_t len = protobuf_c_message_pack(&cr.base, buf);
    run(&k, c, method("CreateWebhook"), RPC_CODEC_PROTO, TOKEN, NULL, buf, len);
    CHECK(k.rc == 0 && k.c.response != NULL);
    if (k.c.response != NULL)
        CHECK_STR(((const schema_webhook *)k.c.response)->url, "https://example.com/proto");
    done(&k);

    schema_get_request gr = SCHEMA_GET_REQUEST_INIT;
    gr.id = id;
    len = protobuf_c_message_pack(&gr.base, buf);
    run(&k, c, method("GetWebhook"), RPC_CODEC_PROTO, TOKEN, NULL, buf, len);
    CHECK(k.rc == 0 && k.c.response != NULL);
    if (k.c.response != NULL)
        CHECK_STR(((const schema_webhook *)k.c.response)->url, "https://example.com/json");
    done(&k);

    static const char list_json[] = "{\"ecosystemId\":\"" ECO "\"}";
    run(&k, c, method("ListWebhooks"), RPC_CODEC_JSON, TOKEN, NULL, list_json, sizeof(list_json) - 1);
    CHECK(k.rc == 0 && k.c.response != NULL);
    if (k.c.response != NULL)
        CHECK(((const schema_list_response *)k.c.response)->n_items == stored + 2);
    done(&k);
}

static void test_refusals(core *c)
{
    size_t stored = core_fixture_stored(c);
    call k;
    /* the token first: a stranger's unreadable body is still 401, not InvalidBody */
    run(&k, c, method("CreateWebhook"), RPC_CODEC_JSON, "wrong-token", NULL, "{", 1);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_UNAUTHENTICATED);
    done(&k);
    run(&k, c, method("CreateWebhook"), RPC_CODEC_JSON, NULL, NULL, create_json, sizeof(create_json) - 1);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_UNAUTHENTICATED);
    done(&k);

    /* a good token: a body that does not decode, in either codec */
    run(&k, c, method("CreateWebhook"), RPC_CODEC_JSON, TOKEN, NULL, "{", 1);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_INVALID_BODY && k.c.response == NULL);
    CHECK(k.c.err.n_params == 1 && k.c.err.params[0].in == ERROR_IN_BODY);
    done(&k);
    run(&k, c, method("CreateWebhook"), RPC_CODEC_PROTO, TOKEN, NULL, "\xff\xff\xff", 3);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_INVALID_BODY);
    done(&k);
    /* JSON bytes are not a protobuf message, and the other way round: the codec is the one asked for */
    run(&k, c, method("CreateWebhook"), RPC_CODEC_PROTO, TOKEN, NULL, create_json, sizeof(create_json) - 1);
    CHECK(k.rc == -1);
    done(&k);

    /* an empty JSON body is the empty message: the core names both required fields */
    for (int codec = 0; codec < 2; codec++) {
        run(&k, c, method("CreateWebhook"), codec ? RPC_CODEC_JSON : RPC_CODEC_PROTO, TOKEN, NULL, "", 0);
        CHECK(k.rc == -1 && k.c.err.kind == ERROR_INVALID_PARAMS);
        CHECK(k.c.err.n_params == 2);
        done(&k);
    }
    CHECK(core_fixture_stored(c) == stored);

    /* a method the core lacks (the schema may grow one before the core does): never
     * decoded, Unimplemented after the token */
    static const ProtobufCMethodDescriptor lacking = {"UpdateWebhook", &schema_webhook_descriptor,
                                                      &schema_webhook_descriptor};
    CHECK(core_method_of(&lacking) == CORE_METHODS);
    run(&k, c, &lacking, RPC_CODEC_JSON, TOKEN, NULL, "not json", 8);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_UNIMPLEMENTED);
    done(&k);
    run(&k, c, &lacking, RPC_CODEC_JSON, TOKEN, NULL, "{}", 2); /* would decode: is not */
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_UNIMPLEMENTED && k.c.request == NULL);
    done(&k);
    run(&k, c, &lacking, RPC_CODEC_PROTO, "wrong-token", NULL, "", 0);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_UNAUTHENTICATED);
    done(&k);
}

static void test_headers_and_clock(core *c)
{
    size_t stored = core_fixture_stored(c);
    call first, again;
    run(&first, c, method("CreateWebhook"), RPC_CODEC_JSON, TOKEN, "key-1", create_json, sizeof(create_json) - 1);
    CHECK(first.rc == 0 && first.c.created && !first.c.replayed);
    CHECK(first.c.idempotency_key != NULL && first.c.idempotency_key_len == 5);
    run(&again, c, method("CreateWebhook"), RPC_CODEC_JSON, TOKEN, "key-1", create_json, sizeof(create_json) - 1);
    CHECK(again.rc == 0 && again.c.replayed);
    if (first.c.response != NULL && again.c.response != NULL)
        CHECK_STR(((const schema_webhook *)again.c.response)->id, ((const schema_webhook *)first.c.response)->id);
    CHECK(core_fixture_stored(c) == stored + 1);

    /* rpc_clock: Unix milliseconds and a monotonic clock. The bounds read CLOCK_REALTIME as
     * rpc_clock does: time(NULL) reads a coarse clock that may lag it by a tick, so that just
     * past a second it can still name the one before (this check failed once on that) */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    time_t before = wall.tv_sec;
    core_call cl;
    core_call_init(&cl, CORE_GET);
    rpc_clock(&cl);
    clock_gettime(CLOCK_REALTIME, &wall);
    CHECK(cl.now_ms / 1000 >= before && cl.now_ms / 1000 <= wall.tv_sec);
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    CHECK(cl.monotonic_ms > 0 && cl.monotonic_ms <= (int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000);
    CHECK(first.c.now_ms / 1000 >= before - 5 && first.c.now_ms / 1000 <= wall.tv_sec);
    done(&first);
    done(&again);
}

static void test_encode_round_trip(void)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    ProtobufCAllocator a = poolalloc_make(&pool);
    schema_timestamp ts = SCHEMA_TIMESTAMP_INIT;
    ts.seconds = 1519830918;
    ts.nanos = 941000000;
    schema_webhook w = SCHEMA_WEBHOOK_INIT;
    w.id = "5a96c786d9f3c2a4b1e0f001";
    w.ecosystem_id = ECO;
    w.url = "https://example.com/round";
    w.description = "trip";
    w.disabled = 1;
    w.created_at = &ts;

    for (int codec = 0; codec < 2; codec++) {
        size_t len = 0;
        uint8_t *bytes = rpc_encode(codec ? RPC_CODEC_JSON : RPC_CODEC_PROTO, &w.base, NULL, &a, &len);
        CHECK(bytes != NULL && len > 0);
        if (bytes == NULL)
            continue;
        error err;
        error_clear(&err);
        schema_webhook *back =
            codec ? (schema_webhook *)codec_json_decode(&schema_webhook_descriptor, (const char *)bytes, len, &a, &err)
                  : (schema_webhook *)codec_proto_decode(&schema_webhook_descriptor, bytes, len, &a, &err);
        CHECK(back != NULL && err.kind == ERROR_NONE);
        if (back == NULL)
            continue;
        CHECK_STR(back->id, w.id);
        CHECK_STR(back->ecosystem_id, ECO);
        CHECK_STR(back->url, w.url);
        CHECK_STR(back->description, "trip");
        CHECK(back->disabled == 1);
        CHECK(back->created_at != NULL && back->created_at->seconds == ts.seconds &&
              back->created_at->nanos == ts.nanos);
        if (codec) /* JSON is the JSON mapping's, not protobuf's bytes */
            CHECK(len > 2 && bytes[0] == '{' && strstr((const char *)bytes, "\"ecosystemId\":\"" ECO "\"") != NULL);
        else
            CHECK(len == protobuf_c_message_get_packed_size(&w.base));
    }
    h2o_mem_clear_pool(&pool);
}

typedef struct health_oom {
    core *c;
    const ProtobufCMethodDescriptor *check;
    core_call call;
    int rc;
} health_oom;

static int health_oom_run(void *arg)
{
    health_oom *x = arg;
    /* service: "droplit.webhooks.v1.WebhookService", in binary: jansson drops a byte of a
     * string when its buffer cannot grow rather than fail, so JSON is not used here */
    static const char service[] = "droplit.webhooks.v1.WebhookService";
    uint8_t body[2 + sizeof(service)];
    body[0] = 0x0a;
    body[1] = (uint8_t)(sizeof(service) - 1);
    memcpy(body + 2, service, sizeof(service) - 1);
    core_call_init(&x->call, CORE_METHODS);
    rpc_headers h = {0};
    x->rc =
        rpc_handle(x->c, x->check, RPC_CODEC_PROTO, &h, body, sizeof(body) - 1, core_call_memory(&x->call), &x->call);
    return x->rc;
}

static void health_oom_check(void *arg, int ok)
{
    health_oom *x = arg;
    if (ok)
        CHECK(x->call.response != NULL &&
              ((const schema_health_response *)x->call.response)->status == SCHEMA_HEALTH_SERVING);
    else
        CHECK(x->rc == -1 && x->call.response == NULL && x->call.err.kind == ERROR_INTERNAL);
}

static void health_oom_teardown(void *arg)
{
    core_call_release(&((health_oom *)arg)->call);
}

/* grpc.health.v1.Health over rpc_handle: Check without a token, SERVING for "" and
 * WebhookService (the memory store always takes writes), NOT_FOUND for another service,
 * a body that does not decode refused, Watch unimplemented; never pending. */
static void test_health(core *c)
{
    const ProtobufCServiceDescriptor *hs = &schema_health_service_descriptor;
    const ProtobufCMethodDescriptor *check = &hs->methods[0], *watch = &hs->methods[1];
    CHECK_STR(check->name, "Check");
    CHECK_STR(watch->name, "Watch");
    CHECK(core_method_of(check) == CORE_METHODS && !core_call_may_wait(c, core_method_of(check)));
    static const char *const serving[] = {"{}", "{\"service\":\"\"}",
                                          "{\"service\":\"droplit.webhooks.v1.WebhookService\"}"};
    call k;
    for (size_t i = 0; i < sizeof(serving) / sizeof(serving[0]); i++) {
        run(&k, c, check, RPC_CODEC_JSON, NULL, NULL, serving[i], strlen(serving[i]));
        const schema_health_response *r = (const schema_health_response *)k.c.response;
        CHECK(k.rc == 0 && r != NULL && r->base.descriptor == &schema_health_response_descriptor);
        CHECK(r != NULL && r->status == SCHEMA_HEALTH_SERVING);
        done(&k);
    }
    run(&k, c, check, RPC_CODEC_PROTO, "wrong-token", NULL, "", 0); /* the token is not looked at */
    CHECK(k.rc == 0 && k.c.response != NULL &&
          ((const schema_health_response *)k.c.response)->status == SCHEMA_HEALTH_SERVING);
    done(&k);

    static const uint8_t other[] = {0x0a, 0x05, 'o', 't', 'h', 'e', 'r'}; /* service: "other" */
    run(&k, c, check, RPC_CODEC_PROTO, NULL, NULL, other, sizeof(other));
    CHECK(k.rc == -1 && k.c.response == NULL && k.c.err.kind == ERROR_NOT_FOUND);
    CHECK_STR(k.c.err.reason, "Unknown service other.");
    done(&k);

    static const char wrong_type[] = "{\"service\":3}";
    run(&k, c, check, RPC_CODEC_JSON, NULL, NULL, wrong_type, sizeof(wrong_type) - 1);
    CHECK(k.rc == -1 && k.c.response == NULL && k.c.err.kind == ERROR_INVALID_PARAMS);
    CHECK(k.c.err.n_params == 1 && k.c.err.params[0].in == ERROR_IN_BODY);
    done(&k);

    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    run(&k, c, check, RPC_CODEC_PROTO, NULL, NULL, garbage, sizeof(garbage));
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_INVALID_BODY);
    done(&k);

    run(&k, c, watch, RPC_CODEC_PROTO, NULL, NULL, "", 0);
    CHECK(k.rc == -1 && k.c.err.kind == ERROR_UNIMPLEMENTED);
    done(&k);

    /* out of memory at every allocation of a Check (into the call's own memory, as native
     * gRPC decodes): Internal, never a crash or a wrong answer, nothing left allocated */
    health_oom x = {.c = c, .check = check};
    oom_op op = {"health Check", &x, NULL, health_oom_run, health_oom_check, health_oom_teardown};
    CHECK(oom_loop(&op) == 0);
}

/* Server reflection: each request message answered by rpc_handle_message (no token, both
 * versions, both codecs), a message that does not decode refused, and rpc_handle (Connect's
 * unary path) answering the streaming method UNIMPLEMENTED. */
static void test_reflection(core *c)
{
    const ProtobufCMethodDescriptor *v1 = &schema_reflection_service_descriptor.methods[0],
                                    *v1alpha = &schema_reflection_v1alpha_service_descriptor.methods[0];
    static const uint8_t list[] = {0x0a, 0x01, 'h', 0x3a, 0x00}; /* host "h", list_services "" */
    const ProtobufCMethodDescriptor *methods[] = {v1, v1alpha};
    for (size_t i = 0; i < 2; i++) {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        ProtobufCAllocator alloc = poolalloc_make(&pool);
        const ProtobufCMessage *res = NULL;
        error err;
        CHECK(rpc_handle_message(methods[i], RPC_CODEC_PROTO, list, sizeof(list), &alloc, &res, &err) == 0);
        const schema_reflection_response *r = (const schema_reflection_response *)res;
        CHECK(r != NULL && r->message_response_case == SCHEMA_REFLECTION_ANSWER_SERVICES && strcmp(r->valid_host, "h") == 0);

        static const char json[] = "{\"fileContainingSymbol\":\"droplit.webhooks.v1.Nope\"}";
        CHECK(rpc_handle_message(methods[i], RPC_CODEC_JSON, (const uint8_t *)json, sizeof(json) - 1, &alloc, &res, &err) == 0);
        r = (const schema_reflection_response *)res;
        CHECK(r != NULL && r->message_response_case == SCHEMA_REFLECTION_ANSWER_ERROR && r->error_response->error_code == 5);

        static const uint8_t garbage[] = {0x0a, 0x05, 'a', 'b'}; /* a string longer than the message */
        CHECK(rpc_handle_message(methods[i], RPC_CODEC_PROTO, garbage, sizeof(garbage), &alloc, &res, &err) == -1);
        CHECK(err.kind == ERROR_INVALID_BODY);
        h2o_mem_clear_pool(&pool);
    }
    call k;
    run(&k, c, v1, RPC_CODEC_PROTO, NULL, NULL, list, sizeof(list));
    CHECK(k.rc == -1 && k.c.response == NULL && k.c.err.kind == ERROR_UNIMPLEMENTED);
    done(&k);
}

int main(void)
{
    core *c = core_fixture_open(yaml);
    if (c == NULL)
        return test_exit_code();
    test_json_and_binary(c);
    test_refusals(c);
    test_headers_and_clock(c);
    test_encode_round_trip();
    test_health(c);
    test_reflection(c);
    core_destroy(c);
    return test_exit_code();
}
