/* Tests http_rpc (through http_router) without sockets: Connect in JSON and protobuf,
 * gRPC-Web and gRPC-Web-text (with protobuf and with JSON), with their statuses, content types, bodies and trailer
 * frames; Connect's error body; Connect GET; an unknown method in each protocol; 405 and 415. */
#include <stdint.h>
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
                     .headers = {{"content-type", "application/json"}, {"content-encoding", "gzip"}}};
    lb_send(s, &z);
    CHECK(z.status == 501);
    CHECK_STR(lb_header(&z, "accept-encoding"), "identity");
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
    lb_server_dispose(&s);
    test_journal();
    return test_exit_code();
}
