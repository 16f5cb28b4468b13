/* Tests http_rpc (through http_router) without sockets: Connect in JSON and protobuf,
 * gRPC-Web and gRPC-Web-text (with protobuf and with JSON), with their statuses, content types, bodies and trailer
 * frames; Connect's error body; Connect GET; an unknown method in each protocol; 405 and 415;
 * deadlines (connect-timeout-ms, grpc-timeout). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_grpc.h"
#include "loopback.h"
#include "poolalloc.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"
#define SERVICE "/droplit.webhooks.v1.WebhookService/"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ " TOKEN " ]\n"
                           "    ecosystems: [ { id: " ECO " } ]\n";

static void test_connect(lb_server *s)
{
    static const char body[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/c\"}";
    lb_exchange c = {.method = "POST",
                     .path = SERVICE "CreateWebhook",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json; charset=utf-8"}},
                     .body = body,
                     .body_len = sizeof(body) - 1};
    lb_send(s, &c);
    CHECK(c.status == 200);
    CHECK_STR(lb_header(&c, "content-type"), "application/json");
    CHECK(strstr(lb_body(&c), "\"url\":\"https://example.com/c\"") != NULL);
    lb_exchange_dispose(&c);

    /* protobuf: an empty body is the empty message, which the core refuses */
    lb_exchange p = {.method = "POST",
                     .path = SERVICE "CreateWebhook",
                     .headers = {{"authorization", TOKEN}, {"content-type", "Application/Proto"}},
                     .body = "",
                     .body_len = 0};
    lb_send(s, &p);
    CHECK(p.status == 400);
    CHECK_STR(lb_header(&p, "content-type"), "application/json"); /* Connect errors are JSON */
    CHECK(strstr(lb_body(&p), "\"code\":\"invalid_argument\"") != NULL);
    CHECK(strstr(lb_body(&p), "\"type\":\"droplit.webhooks.v1.ErrorResponse\"") != NULL);
    lb_exchange_dispose(&p);

    lb_exchange u = {.method = "POST",
                     .path = SERVICE "InvokeWebhookX",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}}};
    lb_send(s, &u);
    CHECK(u.status == 501);
    CHECK(strstr(lb_body(&u), "\"code\":\"unimplemented\"") != NULL);
    CHECK(strstr(lb_body(&u), "Unknown method") != NULL);
    lb_exchange_dispose(&u);

    lb_exchange z = {.method = "POST",
                     .path = SERVICE "ListWebhooks",
                     .headers = {{"content-type", "application/json"}, {"content-encoding", "br"}}};
    lb_send(s, &z);
    CHECK(z.status == 501);
    CHECK_STR(lb_header(&z, "accept-encoding"), "gzip");
    lb_exchange_dispose(&z);
}

/* The gRPC-Web body of a response: the data frame's payload (if any) and the trailers. */
static void grpc_web_split(const uint8_t *b, size_t len, size_t *msg_len, const char **trailers, size_t *trailers_len)
{
    *msg_len = 0, *trailers = NULL, *trailers_len = 0;
    while (len >= 5) {
        size_t n = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];
        if (n > len - 5)
            break;
        if (b[0] & CODEC_GRPC_FLAG_TRAILER)
            *trailers = (const char *)b + 5, *trailers_len = n;
        else
            *msg_len = n;
        b += 5 + n, len -= 5 + n;
    }
    CHECK(len == 0);
}

static void test_grpc_web(lb_server *s)
{
    schema_list_request lr = SCHEMA_LIST_REQUEST_INIT;
    lr.ecosystem_id = ECO;
    uint8_t framed[256];
    size_t n = protobuf_c_message_get_packed_size(&lr.base);
    CHECK(n + 5 <= sizeof(framed));
    codec_grpc_frame_header(framed, 0, n);
    protobuf_c_message_pack(&lr.base, framed + 5);

    lb_exchange w = {.method = "POST",
                     .path = SERVICE "ListWebhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/grpc-web+proto"}},
                     .body = framed,
                     .body_len = n + 5,
                     .version = 0x200};
    lb_send(s, &w);
    CHECK(w.status == 200);
    CHECK_STR(lb_header(&w, "content-type"), "application/grpc-web+proto");
    size_t msg_len, tlen;
    const char *trailers;
    grpc_web_split((const uint8_t *)w.res_body->bytes, w.res_body->size, &msg_len, &trailers, &tlen);
    CHECK(msg_len > 0); /* the webhook test_connect made */
    CHECK(trailers != NULL && tlen >= 14 && memcmp(trailers, "grpc-status: 0", 14) == 0);
    lb_exchange_dispose(&w);

    /* -text: base64 both ways; an unknown method rides in the trailers, HTTP 200 */
    lb_exchange t = {.method = "POST",
                     .path = SERVICE "Nope",
                     .headers = {{"content-type", "application/grpc-web-text"}},
                     .body = "AAAAAAA=",
                     .body_len = 8};
    lb_send(s, &t);
    CHECK(t.status == 200);
    CHECK_STR(lb_header(&t, "content-type"), "application/grpc-web-text+proto");
    uint8_t *decoded = NULL;
    size_t decoded_len = 0;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    ProtobufCAllocator palloc = poolalloc_make(&pool);
    CHECK(codec_grpc_base64_decode(&palloc, t.res_body->bytes, t.res_body->size, &decoded, &decoded_len) == 0);
    if (decoded != NULL) {
        grpc_web_split(decoded, decoded_len, &msg_len, &trailers, &tlen);
        CHECK(msg_len == 0);
        CHECK(trailers != NULL && tlen >= 15 && memcmp(trailers, "grpc-status: 12", 15) == 0);
    }
    h2o_mem_clear_pool(&pool);
    lb_exchange_dispose(&t);
}

/* gRPC-Web with JSON in the frames: +json and -text+json, answered in the request's type. */
static void test_grpc_web_json(lb_server *s)
{
    static const char json[] = "{\"ecosystemId\":\"" ECO "\"}";
    uint8_t framed[128];
    codec_grpc_frame_header(framed, 0, sizeof(json) - 1);
    memcpy(framed + 5, json, sizeof(json) - 1);
    lb_exchange w = {.method = "POST",
                     .path = SERVICE "ListWebhooks",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/grpc-web+json"}},
                     .body = framed,
                     .body_len = sizeof(json) - 1 + 5};
    lb_send(s, &w);
    CHECK(w.status == 200);
    CHECK_STR(lb_header(&w, "content-type"), "application/grpc-web+json");
    size_t msg_len, tlen;
    const char *trailers;
    grpc_web_split((const uint8_t *)w.res_body->bytes, w.res_body->size, &msg_len, &trailers, &tlen);
    CHECK(msg_len > 0 && w.res_body->size > 5 && memcmp(w.res_body->bytes + 5, "{\"items\":[{\"id\":\"", 16) == 0);
    CHECK(trailers != NULL && tlen >= 14 && memcmp(trailers, "grpc-status: 0", 14) == 0);
    lb_exchange_dispose(&w);

    /* -text+json: a JSON problem in the trailers; the body is {"id":5} framed, in base64 */
    lb_exchange t = {.method = "POST",
                     .path = SERVICE "GetWebhook",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/grpc-web-text+json"}},
                     .body = "AAAAAAh7ImlkIjo1fQ==",
                     .body_len = 20};
    lb_send(s, &t);
    CHECK(t.status == 200);
    CHECK_STR(lb_header(&t, "content-type"), "application/grpc-web-text+json");
    uint8_t *decoded = NULL;
    size_t decoded_len = 0;
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    ProtobufCAllocator palloc = poolalloc_make(&pool);
    CHECK(codec_grpc_base64_decode(&palloc, t.res_body->bytes, t.res_body->size, &decoded, &decoded_len) == 0);
    if (decoded != NULL) {
        grpc_web_split(decoded, decoded_len, &msg_len, &trailers, &tlen);
        CHECK(msg_len == 0);
        CHECK(trailers != NULL && tlen >= 14 && memcmp(trailers, "grpc-status: 3", 14) == 0);
    }
    h2o_mem_clear_pool(&pool);
    lb_exchange_dispose(&t);
}

/* Connect GET on a NO_SIDE_EFFECTS method: the query's message, answered in its encoding;
 * the query's problems as Connect errors; an unknown encoding 415. */
static void test_connect_get(lb_server *s)
{
    lb_exchange l = {.method = "GET",
                     .path = SERVICE "ListWebhooks?connect=v1&encoding=json&message=%7B%22ecosystemId%22%3A%22" ECO
                                     "%22%7D",
                     .headers = {{"authorization", TOKEN}}};
    lb_send(s, &l);
    CHECK(l.status == 200);
    CHECK_STR(lb_header(&l, "content-type"), "application/json");
    CHECK(strncmp(lb_body(&l), "{\"items\":[{", 11) == 0);
    lb_exchange_dispose(&l);

    /* GetWebhookRequest{id: 24 zeros} in base64url: not found, in Connect's form */
    lb_exchange p = {.method = "GET",
                     .path = SERVICE "GetWebhook?encoding=proto&base64=1&message=ChgwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA",
                     .headers = {{"authorization", TOKEN}}};
    lb_send(s, &p);
    CHECK(p.status == 404);
    CHECK(strstr(lb_body(&p), "\"code\":\"not_found\"") != NULL);
    lb_exchange_dispose(&p);

    lb_exchange b = {.method = "GET", .path = SERVICE "GetWebhook?encoding=json&message=%7B", .headers = {{"authorization", TOKEN}}};
    lb_send(s, &b);
    CHECK(b.status == 400);
    CHECK(strstr(lb_body(&b), "InvalidBody") != NULL);
    lb_exchange_dispose(&b);

    lb_exchange q = {.method = "GET", .path = SERVICE "GetWebhook?encoding=json"};
    lb_send(s, &q);
    CHECK(q.status == 400);
    CHECK(strstr(lb_body(&q), "message: field is required") != NULL);
    lb_exchange_dispose(&q);

    lb_exchange u = {.method = "GET", .path = SERVICE "GetWebhook?encoding=xml&message=x"};
    lb_send(s, &u);
    CHECK(u.status == 415);
    lb_exchange_dispose(&u);
}

static void test_refusals(lb_server *s)
{
    lb_exchange g = {.method = "GET", .path = SERVICE "CreateWebhook"};
    lb_send(s, &g);
    CHECK(g.status == 405);
    CHECK_STR(lb_header(&g, "allow"), "POST");
    lb_exchange_dispose(&g);

    const char *types[] = {"text/plain", "application/grpc", NULL};
    for (int i = 0; i < 3; i++) {
        lb_exchange u = {.method = "POST", .path = SERVICE "GetWebhook"};
        if (types[i] != NULL)
            u.headers[0][0] = "content-type", u.headers[0][1] = types[i];
        lb_send(s, &u);
        CHECK(u.status == 415);
        CHECK(lb_header(&u, "accept-post") != NULL);
        CHECK((strstr(lb_body(&u), "Native gRPC") != NULL) == (i == 1));
        lb_exchange_dispose(&u);
    }
}

/* 1 when x's body (which may hold NULs: gRPC-Web frames) contains text. */
static int body_has(lb_exchange *x, const char *text)
{
    size_t n = strlen(text), len = x->res_body->size;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(x->res_body->bytes + i, text, n) == 0)
            return 1;
    return 0;
}

/* Sends x with its request's start moved back by ago_ms (a body that took that long to
 * arrive: h2o hands a request over only once it is whole). The handler reads the time from
 * the loop's clock, which is as old as the loop's last turn (seconds, under valgrind on a
 * busy machine): keep ago_ms seconds away from the deadline being tested. */
static void send_begun_ago(lb_server *s, lb_exchange *x, int ago_ms)
{
    lb_conn *conn = lb_conn_create(s, x);
    conn->req.timestamps.request_begin_at.tv_sec -= ago_ms / 1000;
    h2o_process_request(&conn->req);
    CHECK(lb_wait(s, x) == 0);
    lb_conn_destroy(conn);
}

/* connect-timeout-ms (Connect, POST and GET) and grpc-timeout (gRPC-Web): malformed or
 * repeated is invalid_argument; a deadline that passed before the request was whole, or
 * "0", is deadline_exceeded (504 for Connect, grpc-status 4 for gRPC-Web) and the call is
 * never begun (nothing stored); a generous one changes nothing. */
static void test_deadlines(lb_server *s)
{
    static const char body[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/d\"}";
    size_t stored = core_fixture_stored(s->core);
    static const char *const bad_connect[] = {"", "1.5", "-1", "300m", "10000000000", "1 0"};
    for (size_t i = 0; i < sizeof(bad_connect) / sizeof(bad_connect[0]); i++) {
        lb_exchange c = {.method = "POST",
                         .path = SERVICE "CreateWebhook",
                         .headers = {{"authorization", TOKEN},
                                     {"content-type", "application/json"},
                                     {"connect-timeout-ms", bad_connect[i]}},
                         .body = body,
                         .body_len = sizeof(body) - 1};
        lb_send(s, &c);
        CHECK(c.status == 400);
        CHECK(strstr(lb_body(&c), "\"code\":\"invalid_argument\"") != NULL);
        CHECK(strstr(lb_body(&c), "connect-timeout-ms: must be given once, as 1 to 10 digits") != NULL);
        lb_exchange_dispose(&c);
    }
    lb_exchange twice = {.method = "POST",
                         .path = SERVICE "CreateWebhook",
                         .headers = {{"authorization", TOKEN},
                                     {"content-type", "application/json"},
                                     {"connect-timeout-ms", "5000"},
                                     {"connect-timeout-ms", "5000"}},
                         .body = body,
                         .body_len = sizeof(body) - 1};
    lb_send(s, &twice);
    CHECK(twice.status == 400);
    lb_exchange_dispose(&twice);

    lb_exchange web = {.method = "POST",
                       .path = SERVICE "ListWebhooks",
                       .headers = {{"authorization", TOKEN},
                                   {"content-type", "application/grpc-web+json"},
                                   {"grpc-timeout", "5s"}},
                       .body = "\0\0\0\0\x02{}",
                       .body_len = 7};
    lb_send(s, &web);
    CHECK(web.status == 200);
    CHECK(body_has(&web, "grpc-status: 3\r\n"));
    CHECK(body_has(&web, "grpc-timeout: must be given once"));
    lb_exchange_dispose(&web);
    CHECK(core_fixture_stored(s->core) == stored);

    /* passed before the call could begin */
    lb_exchange late = {.method = "POST",
                        .path = SERVICE "CreateWebhook",
                        .headers = {{"authorization", TOKEN},
                                    {"content-type", "application/json"},
                                    {"connect-timeout-ms", "5000"}},
                        .body = body,
                        .body_len = sizeof(body) - 1};
    send_begun_ago(s, &late, 10000);
    CHECK(late.status == 504);
    CHECK(strstr(lb_body(&late), "\"code\":\"deadline_exceeded\"") != NULL);
    CHECK(strstr(lb_body(&late), "The call's deadline (connect-timeout-ms 5000) passed before its answer.") != NULL);
    lb_exchange_dispose(&late);
    lb_exchange zero = {.method = "GET",
                        .path = SERVICE "ListWebhooks?connect=v1&encoding=json&message=%7B%7D",
                        .headers = {{"authorization", TOKEN}, {"connect-timeout-ms", "0"}}};
    lb_send(s, &zero);
    CHECK(zero.status == 504);
    lb_exchange_dispose(&zero);
    lb_exchange web_late = {.method = "POST",
                            .path = SERVICE "CreateWebhook",
                            .headers = {{"authorization", TOKEN},
                                        {"content-type", "application/grpc-web+json"},
                                        {"grpc-timeout", "2S"}},
                            .body = "\0\0\0\0\x02{}",
                            .body_len = 7};
    send_begun_ago(s, &web_late, 10000);
    CHECK(web_late.status == 200);
    CHECK(body_has(&web_late, "grpc-status: 4\r\n"));
    lb_exchange_dispose(&web_late);
    CHECK(core_fixture_stored(s->core) == stored);

    /* generous: served, the time already spent on the request counted against it */
    lb_exchange ok = {.method = "POST",
                      .path = SERVICE "CreateWebhook",
                      .headers = {{"authorization", TOKEN},
                                  {"content-type", "application/json"},
                                  {"connect-timeout-ms", "60000"}},
                      .body = body,
                      .body_len = sizeof(body) - 1};
    send_begun_ago(s, &ok, 10000);
    CHECK(ok.status == 200);
    lb_exchange_dispose(&ok);
    CHECK(core_fixture_stored(s->core) == stored + 1);
}

/* With a journal: creates whose 1 ms deadline may pass while the writer has them get
 * exactly one answer each, 200 or 504 deadline_exceeded; their late answers are dropped
 * (ASan, and the completion's assertions, watch that). */
static void test_deadline_journal(void)
{
    char dir[64], with_store[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml, dir, with_store) != 0)
        return;
    lb_server s;
    if (lb_server_init(&s, with_store) == 0) {
        static const char body[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/dj\"}";
        int exceeded = 0;
        for (int i = 0; i < 10; i++) {
            lb_exchange c = {.method = "POST",
                             .path = SERVICE "CreateWebhook",
                             .headers = {{"authorization", TOKEN},
                                         {"content-type", "application/json"},
                                         {"connect-timeout-ms", "1"}},
                             .body = body,
                             .body_len = sizeof(body) - 1};
            lb_send(&s, &c);
            CHECK(c.status == 200 || c.status == 504);
            exceeded += c.status == 504;
            lb_exchange_dispose(&c);
        }
        fprintf(stderr, "test_deadline_journal: %d of 10 creates answered deadline_exceeded\n", exceeded);
        lb_server_dispose(&s); /* takes the writer's late answers */
    }
    core_fixture_store_remove(dir);
}

/* With a journal, each create is answered from the writer's thread: the answer must be the
 * webhook every time (rpc_handle once overwrote the result after handing it to the
 * journal, so a fast writer's answer came back empty). */
static void test_journal(void)
{
    char dir[64], with_store[CORE_FIXTURE_YAML_MAX];
    if (core_fixture_store_yaml(yaml, dir, with_store) != 0)
        return;
    lb_server s;
    if (lb_server_init(&s, with_store) == 0) {
        static const char body[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/j\"}";
        int answered = 0;
        for (int i = 0; i < 20; i++) {
            lb_exchange c = {.method = "POST",
                             .path = SERVICE "CreateWebhook",
                             .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                             .body = body,
                             .body_len = sizeof(body) - 1};
            lb_send(&s, &c);
            answered += c.status == 200 && strstr(lb_body(&c), "\"url\":\"https://example.com/j\"") != NULL;
            lb_exchange_dispose(&c);
        }
        CHECK(answered == 20);
        CHECK(core_fixture_stored(s.core) == 20);
        lb_server_dispose(&s);
    }
    core_fixture_store_remove(dir);
}

int main(void)
{
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return test_exit_code();
    test_connect(&s);
    test_grpc_web(&s);
    test_grpc_web_json(&s);
    test_connect_get(&s);
    test_refusals(&s);
    test_deadlines(&s);
    lb_server_dispose(&s);
    test_journal();
    test_deadline_journal();
    return test_exit_code();
}
