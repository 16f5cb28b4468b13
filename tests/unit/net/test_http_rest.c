/* Tests http_rest (through http_router, as h2o calls it) without sockets: creates, reads
 * and lists in JSON and binary protobuf with their statuses, headers and bodies; errors as
 * Droplit renders them; the body limit; /healthz, /readyz and /metrics (404, 405 and the
 * dispatch are test_http_router's); and, with a journal, a create answered from the
 * journal's thread, one whose client went away before its answer came back, and one whose
 * state cannot be allocated; an answer of many 16 KiB chunks arriving whole, and the API's
 * calls refused (503, or an ErrorResponse "Overloaded") while unread answers fill the
 * process budget, /healthz not. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec_proto.h"
#include "loopback.h"
#include "oom.h"
#include "outflow.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"
#define VANISH_ATTEMPTS 1000 /* creates tried until one waits for the journal (50 was too few on a loaded machine: 2 in 100 runs found none) */

static const char yaml_base[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                                "limits: { max_body_bytes: 1024 }\n"
                                "accounts:\n"
                                "  - id: acme\n"
                                "    tokens: [ " TOKEN " ]\n"
                                "    ecosystems: [ { id: " ECO " } ]\n";

static const char create_json[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/hook\"}";

static void test_create_get_list(lb_server *s)
{
    lb_exchange x = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = create_json,
                     .body_len = sizeof(create_json) - 1};
    lb_send(s, &x);
    CHECK(x.status == 201);
    CHECK_STR(x.reason, "Created");
    CHECK_STR(lb_header(&x, "content-type"), "application/json");
    const char *location = lb_header(&x, "location");
    CHECK(location != NULL && strncmp(location, "/api/webhooks/", 14) == 0 && strlen(location) == 14 + 24);
    CHECK(lb_header(&x, "x-request-id") != NULL && strlen(lb_header(&x, "x-request-id")) == 16);
    CHECK(strstr(lb_body(&x), "\"url\":\"https://example.com/hook\"") != NULL);
    char item[64];
    snprintf(item, sizeof(item), "%s", location != NULL ? location : "/api/webhooks/none");
    lb_exchange_dispose(&x);

    /* read back, in JSON and (Accept) in binary, also under /v0 */
    lb_exchange g = {.method = "GET", .path = item, .headers = {{"authorization", TOKEN}}};
    lb_send(s, &g);
    CHECK(g.status == 200);
    CHECK(strstr(lb_body(&g), item + 14) != NULL);
    lb_exchange_dispose(&g);
    char v0[80];
    snprintf(v0, sizeof(v0), "/v0%s", item);
    lb_exchange gp = {.method = "GET",
                      .path = v0,
                      .headers = {{"authorization", TOKEN}, {"accept", "text/html, application/x-protobuf;q=0.5"}}};
    lb_send(s, &gp);
    CHECK(gp.status == 200);
    CHECK_STR(lb_header(&gp, "content-type"), "application/x-protobuf");
    schema_webhook *w = (schema_webhook *)protobuf_c_message_unpack(
        &schema_webhook_descriptor, NULL, gp.res_body->size, (const uint8_t *)gp.res_body->bytes);
    CHECK(w != NULL && strcmp(w->url, "https://example.com/hook") == 0 && strcmp(w->ecosystem_id, ECO) == 0);
    if (w != NULL)
        protobuf_c_message_free_unpacked(&w->base, NULL);
    lb_exchange_dispose(&gp);

    /* the list has it */
    lb_exchange l = {
        .method = "GET", .path = "/api/webhooks/?ecosystemId=" ECO, .headers = {{"authorization", TOKEN}}, .version = 0x200};
    lb_send(s, &l);
    CHECK(l.status == 200);
    CHECK(strstr(lb_body(&l), item + 14) != NULL);
    lb_exchange_dispose(&l);
}

static void test_errors(lb_server *s)
{
    /* no token: 401, as text in JSON mode */
    lb_exchange a = {.method = "GET", .path = "/api/webhooks?ecosystemId=" ECO};
    lb_send(s, &a);
    CHECK(a.status == 401);
    CHECK(strncmp(lb_header(&a, "content-type") ? lb_header(&a, "content-type") : "", "text/plain", 10) == 0);
    lb_exchange_dispose(&a);

    /* a bad id: 400 with the parameter named in the path */
    lb_exchange b = {.method = "GET", .path = "/api/webhooks/not-an-id", .headers = {{"authorization", TOKEN}}};
    lb_send(s, &b);
    CHECK(b.status == 400);
    CHECK(strstr(lb_body(&b), "path") != NULL);
    lb_exchange_dispose(&b);

    /* missing fields: both reported */
    lb_exchange m = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = "{}",
                     .body_len = 2};
    lb_send(s, &m);
    CHECK(m.status == 400);
    CHECK(strstr(lb_body(&m), "ecosystemId") != NULL && strstr(lb_body(&m), "url") != NULL);
    lb_exchange_dispose(&m);

    /* over limits.max_body_bytes: 413, and nothing stored */
    size_t before = core_fixture_stored(s->core);
    static char big[2048];
    memset(big, ' ', sizeof(big));
    memcpy(big, create_json, sizeof(create_json) - 1);
    lb_exchange t = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = big,
                     .body_len = sizeof(big)};
    lb_send(s, &t);
    CHECK(t.status == 413);
    CHECK(core_fixture_stored(s->core) == before);
    lb_exchange_dispose(&t);

    /* a binary create with a bad body: an ErrorResponse, in the type asked for */
    lb_exchange p = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/protobuf"}},
                     .body = "\xff\xff\xff",
                     .body_len = 3};
    lb_send(s, &p);
    CHECK(p.status == 400);
    CHECK_STR(lb_header(&p, "content-type"), "application/protobuf");
    schema_error_response *er = (schema_error_response *)protobuf_c_message_unpack(
        &schema_error_response_descriptor, NULL, p.res_body->size, (const uint8_t *)p.res_body->bytes);
    CHECK(er != NULL);
    if (er != NULL)
        protobuf_c_message_free_unpacked(&er->base, NULL);
    lb_exchange_dispose(&p);
}

/* /healthz, /readyz, and /metrics counting what came before by route and protocol. */
static void test_health_and_metrics(lb_server *s)
{
    lb_exchange h = {.method = "GET", .path = "/healthz"};
    lb_send(s, &h);
    CHECK(h.status == 200);
    CHECK_STR(lb_body(&h), "ok\n");
    lb_exchange_dispose(&h);

    lb_exchange r = {.method = "GET", .path = "/readyz"};
    lb_send(s, &r);
    CHECK(r.status == 200);
    CHECK_STR(lb_body(&r), "ready\n");
    lb_exchange_dispose(&r);

    /* /metrics counts what came before, by route */
    lb_exchange m = {.method = "GET", .path = "/metrics"};
    lb_send(s, &m);
    CHECK(m.status == 200);
    CHECK(strstr(lb_body(&m), "hookgate_requests_total{route=\"create\",protocol=\"http1\",status=\"201\"}") != NULL);
    CHECK(strstr(lb_body(&m), "hookgate_requests_total{route=\"list\",protocol=\"http2\",status=\"200\"} 1") != NULL);
    CHECK(strstr(lb_body(&m), "hookgate_requests_total{route=\"healthz\",protocol=\"http1\",status=\"200\"} 1") !=
          NULL);
    lb_exchange_dispose(&m);
}

/* With a journal: a create waits for the writer thread and is answered through the
 * loop's queue; a create whose request is freed first (the client went away) is stored
 * all the same, and its answer is dropped without touching the freed request. */
static void test_journal(void)
{
    char dir[64], yaml[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml_base, dir, yaml) != 0)
        return;
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return;
    CHECK(core_call_may_wait(s.core, CORE_CREATE));

    lb_exchange x = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = create_json,
                     .body_len = sizeof(create_json) - 1};
    lb_send(&s, &x);
    CHECK(x.status == 201);
    CHECK(lb_header(&x, "location") != NULL);
    lb_exchange_dispose(&x);

    /* The core answers at once when the writer is done before core_call_start returns (a
     * race the test cannot steer): try again until a create does wait, then free its
     * request before the loop may take the answer. */
    lb_exchange gone = x;
    int waited = 0;
    size_t creates = 1;
    for (int attempt = 0; attempt < VANISH_ATTEMPTS && !waited; attempt++, creates++) {
        gone.completed = 0;
        lb_conn *conn = lb_conn_create(&s, &gone);
        h2o_process_request(&conn->req);
        waited = !gone.completed;
        lb_conn_destroy(conn); /* before the loop could take the journal's answer */
        if (!waited) {
            CHECK(gone.status == 201);
            lb_exchange_dispose(&gone);
        }
    }
    CHECK(waited);
    /* stored all the same; its answer is taken by the loop now or in lb_server_dispose */
    for (int round = 0; core_fixture_stored(s.core) < creates && round < LB_LOOP_ROUNDS; round++)
        h2o_evloop_run(s.ctx.loop, LB_LOOP_MS);
    CHECK(core_fixture_stored(s.core) == creates);
    lb_server_dispose(&s);
    if (waited) {
        CHECK(!gone.completed); /* and its answer went nowhere */
        lb_exchange_dispose(&gone);
    }

    core_fixture_store_remove(dir);
}

/* Fills the stack below the caller with garbage, so that a value the handler forgets to
 * initialise is garbage too, as on a long-running server, rather than a fresh zero page. */
static __attribute__((noinline)) void dirty_stack(void)
{
    volatile unsigned char junk[64 * 1024];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xa5;
}

/* A create that may wait for the journal keeps its state off the stack; when that
 * allocation fails the answer is a 500 carrying exactly one problem, the reason. (The
 * error value once kept a stale problem count across error_set, and this path then
 * rendered problems past the array: a stack overflow answering a protobuf client.) */
static void test_create_out_of_memory(void)
{
    if (!oom_enabled()) {
        printf("test_create_out_of_memory: skipped (no allocation failures under AddressSanitizer)\n");
        return;
    }
    char dir[64], yaml[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml_base, dir, yaml) != 0)
        return;
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return;
    CHECK(core_call_may_wait(s.core, CORE_CREATE));
    schema_create_request req = SCHEMA_CREATE_REQUEST_INIT;
    req.ecosystem_id = ECO;
    req.url = "https://example.com/hook";
    req.description = "a description long enough to be sure the error holds nothing of it";
    uint8_t body[256];
    size_t len = protobuf_c_message_pack(&req.base, body);
    lb_exchange x = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/x-protobuf"}},
                     .body = body,
                     .body_len = len};
    size_t stored = core_fixture_stored(s.core);
    lb_conn *conn = lb_conn_create(&s, &x);
    /* h2o refreshes its Date cache (an allocation h2o cannot survive) when the loop's clock
     * moved since the last refresh; refreshed now, with the loop not run, it will not */
    h2o_context_update_timestamp_cache(&s.ctx);
    dirty_stack();
    oom_arm(1); /* the request's first allocation: the handler's state for the call */
    h2o_process_request(&conn->req);
    CHECK(oom_disarm() == 1);
    lb_wait(&s, &x);
    lb_conn_destroy(conn);
    CHECK(x.status == 500);
    CHECK(core_fixture_stored(s.core) == stored);
    const char *ct = lb_header(&x, "content-type");
    CHECK(ct != NULL && strcmp(ct, "application/x-protobuf") == 0);
    error err;
    error_clear(&err);
    schema_error_response *r =
        x.res_body != NULL ? (schema_error_response *)codec_proto_decode(&schema_error_response_descriptor,
                                                                         (const uint8_t *)x.res_body->bytes,
                                                                         x.res_body->size, NULL, &err)
                           : NULL;
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_STR(r->error_type, "Internal");
        CHECK(r->n_errors == 1);
        if (r->n_errors == 1)
            CHECK_STR(r->errors[0]->message, "Out of memory.");
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    lb_exchange_dispose(&x);
    lb_server_dispose(&s);
    core_fixture_store_remove(dir);
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

#define LARGE_WEBHOOKS 150 /* a list answer of about 50 KB: several OUTFLOW_CHUNK_BYTES chunks */

static void test_large_answer_and_budget(lb_server *s)
{
    char url[300], body[512];
    memset(url, 'a', 250);
    url[250] = '\0';
    for (int i = 0; i < LARGE_WEBHOOKS; i++) {
        int len = snprintf(body, sizeof(body), "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/%s/%d\"}",
                           url, i);
        lb_exchange x = {.method = "POST",
                         .path = "/api/webhooks",
                         .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                         .body = body,
                         .body_len = (size_t)len};
        lb_send(s, &x);
        CHECK(x.status == 201);
        lb_exchange_dispose(&x);
    }
    lb_exchange l = {.method = "GET", .path = "/api/webhooks?ecosystemId=" ECO "&limit=1000", /* one page, all */
                     .headers = {{"authorization", TOKEN}}};
    lb_send(s, &l);
    CHECK(l.status == 200 && l.res_body->size > 3 * OUTFLOW_CHUNK_BYTES);
    const char *text = lb_body(&l);
    CHECK(strlen(text) == l.res_body->size && text[0] == '{' && text[l.res_body->size - 1] == '}');
    CHECK(count(text, "\"ecosystemId\"") >= LARGE_WEBHOOKS);
    char last[32];
    snprintf(last, sizeof(last), "/%d\"", LARGE_WEBHOOKS - 1);
    CHECK(strstr(text, last) != NULL);
    lb_exchange_dispose(&l);

    /* the process budget is full (as if other connections held unread answers) */
    outflow_configure(UINT64_MAX, 1);
    outflow_charge(NULL, 1);
    lb_exchange r = {.method = "GET", .path = "/api/webhooks?ecosystemId=" ECO, .headers = {{"authorization", TOKEN}}};
    lb_send(s, &r);
    CHECK(r.status == 503);
    CHECK_STR(lb_header(&r, "content-type"), "text/plain; charset=utf-8");
    CHECK(strstr(lb_body(&r), "retry later") != NULL);
    lb_exchange_dispose(&r);
    lb_exchange p = {.method = "GET",
                     .path = "/api/webhooks?ecosystemId=" ECO,
                     .headers = {{"authorization", TOKEN}, {"accept", "application/x-protobuf"}}};
    lb_send(s, &p);
    CHECK(p.status == 503);
    error err;
    error_clear(&err);
    schema_error_response *e = (schema_error_response *)codec_proto_decode(
        &schema_error_response_descriptor, (const uint8_t *)p.res_body->bytes, p.res_body->size, NULL, &err);
    CHECK(e != NULL && strcmp(e->error_type, "Overloaded") == 0);
    if (e != NULL)
        protobuf_c_message_free_unpacked(&e->base, NULL);
    lb_exchange_dispose(&p);
    lb_exchange h = {.method = "GET", .path = "/healthz"};
    lb_send(s, &h);
    CHECK(h.status == 200); /* the operator's routes stay open */
    lb_exchange_dispose(&h);
    outflow_release(NULL, 1);
    outflow_configure(UINT64_MAX, UINT64_MAX);
    CHECK(outflow_held_total() == 0); /* every answer gave its bytes back with its request */
}

/* Creates a webhook over s; its path ("/api/webhooks/<id>") in item. */
static void create_item(lb_server *s, char item[64])
{
    lb_exchange x = {.method = "POST",
                     .path = "/api/webhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = create_json,
                     .body_len = sizeof(create_json) - 1};
    lb_send(s, &x);
    CHECK(x.status == 201);
    const char *location = lb_header(&x, "location");
    snprintf(item, 64, "%s", location != NULL ? location : "/api/webhooks/none");
    lb_exchange_dispose(&x);
}

/* PUT and DELETE on the item: 200 with no body and no content-type (Droplit's answer),
 * the change read back; a binary body (WebhookChanges) too; the id's problem in the path
 * and the body's in the body, the binary ones in binary; 404 after a delete. Run over
 * memory and over a journal (where the answer waits for the writer). */
static void test_update_delete(lb_server *s)
{
    char item[64];
    create_item(s, item);
    static const char change[] = "{\"url\":\"https://example.com/changed\",\"disabled\":true}";
    lb_exchange u = {.method = "PUT",
                     .path = item,
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = change,
                     .body_len = sizeof(change) - 1};
    lb_send(s, &u);
    CHECK(u.status == 200);
    CHECK_STR(u.reason, "OK");
    CHECK(u.res_body == NULL || u.res_body->size == 0);
    CHECK(lb_header(&u, "content-type") == NULL);
    CHECK(lb_header(&u, "x-request-id") != NULL);
    lb_exchange_dispose(&u);
    lb_exchange g = {.method = "GET", .path = item, .headers = {{"authorization", TOKEN}}};
    lb_send(s, &g);
    CHECK(g.status == 200 && strstr(lb_body(&g), "\"url\":\"https://example.com/changed\",\"disabled\":true") != NULL);
    lb_exchange_dispose(&g);

    /* binary: a WebhookChanges body */
    schema_webhook_changes ch = SCHEMA_WEBHOOK_CHANGES_INIT;
    ch.url = "https://example.com/binary";
    ch.description_set_case = SCHEMA_CHANGES_DESCRIPTION_SET;
    ch.description = "bin";
    uint8_t bin[256];
    size_t bin_len = protobuf_c_message_pack(&ch.base, bin);
    lb_exchange b = {.method = "PUT",
                     .path = item,
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/x-protobuf"}},
                     .body = (const char *)bin,
                     .body_len = bin_len,
                     .version = 0x200};
    lb_send(s, &b);
    CHECK(b.status == 200 && (b.res_body == NULL || b.res_body->size == 0));
    lb_exchange_dispose(&b);
    lb_send(s, &g);
    CHECK(g.status == 200 && strstr(lb_body(&g), "\"description\":\"bin\"") != NULL &&
          strstr(lb_body(&g), "https://example.com/binary") != NULL);
    lb_exchange_dispose(&g);
    /* a binary body without the url: the error in binary */
    ch.url = "";
    bin_len = protobuf_c_message_pack(&ch.base, bin);
    b.body_len = bin_len;
    lb_send(s, &b);
    CHECK(b.status == 400);
    CHECK_STR(lb_header(&b, "content-type"), "application/x-protobuf");
    schema_error_response *er = (schema_error_response *)protobuf_c_message_unpack(
        &schema_error_response_descriptor, NULL, b.res_body != NULL ? b.res_body->size : 0,
        b.res_body != NULL ? (const uint8_t *)b.res_body->bytes : (const uint8_t *)"");
    CHECK(er != NULL && er->n_errors == 1 && strcmp(er->errors[0]->path, "url") == 0 &&
          strcmp(er->errors[0]->in, "body") == 0);
    if (er != NULL)
        protobuf_c_message_free_unpacked(&er->base, NULL);
    lb_exchange_dispose(&b);

    /* problems: the id in the path, the rest in the body, all at once */
    static const char bad[] = "{\"id\":\"x\",\"url\":\"ftp://x\"}";
    lb_exchange p = {.method = "PUT",
                     .path = "/api/webhooks/nope",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = bad,
                     .body_len = sizeof(bad) - 1};
    lb_send(s, &p);
    CHECK(p.status == 400);
    CHECK_STR(lb_body(&p), "{\"errorType\":\"InvalidParams\",\"errors\":["
                           "{\"in\":\"path\",\"path\":\"id\",\"message\":\"invalid id\"},"
                           "{\"in\":\"body\",\"path\":\"url\",\"message\":\"invalid url\"},"
                           "{\"in\":\"body\",\"path\":\"additional parameters\","
                           "\"message\":\"contains fields that are not allowed: [ id ]\"}]}");
    lb_exchange_dispose(&p);

    /* delete; then 404 for get and a second delete */
    lb_exchange d = {.method = "DELETE", .path = item, .headers = {{"authorization", TOKEN}}};
    lb_send(s, &d);
    CHECK(d.status == 200 && (d.res_body == NULL || d.res_body->size == 0));
    CHECK(lb_header(&d, "content-type") == NULL);
    lb_exchange_dispose(&d);
    lb_send(s, &d);
    CHECK(d.status == 404);
    char want[96];
    snprintf(want, sizeof(want), "Webhook with id %s does not exist.", item + 14);
    CHECK_STR(lb_body(&d), want);
    lb_exchange_dispose(&d);
    lb_send(s, &g);
    CHECK(g.status == 404);
    lb_exchange_dispose(&g);
}

static void test_update_delete_journal(void)
{
    char dir[64], yaml[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml_base, dir, yaml) != 0)
        return;
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return;
    CHECK(core_call_may_wait(s.core, CORE_UPDATE) && core_call_may_wait(s.core, CORE_DELETE));
    test_update_delete(&s);
    lb_server_dispose(&s);
    core_fixture_store_remove(dir);
}

int main(void)
{
    lb_server s;
    if (lb_server_init(&s, yaml_base) != 0)
        return test_exit_code();
    test_create_get_list(&s);
    test_errors(&s);
    test_health_and_metrics(&s);
    test_large_answer_and_budget(&s);
    test_update_delete(&s);
    lb_server_dispose(&s);
    test_journal();
    test_update_delete_journal();
    test_create_out_of_memory();
    return test_exit_code();
}
