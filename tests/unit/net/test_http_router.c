/* Tests http_router through loopback.h, as h2o calls it: a request target with a "/" or NUL
 * encoded inside a segment, or that is not a path, is 400 (the absolute form is routed by
 * its path); a path no route names is 404 "Not found." whatever the method; a known path with another method is 405 with the route's
 * Allow (REST collection and item, /healthz, the RPC service); REST routes reach http_rest
 * (a create is 201, a list without a token is REST's 401 text, /healthz its "ok") and RPC
 * routes reach http_rpc (a create over Connect is 200, an unknown method Connect's 501, a
 * wrong content type 415); the route is the normalised path's (query and dot segments
 * gone), on HTTP/1.1 and HTTP/2 alike; the router's refusals are answered with a request
 * id and counted as route "other". */
#include <stdlib.h>
#include <string.h>

#include "loopback.h"
#include "metrics.h"
#include "requests_total.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"
#define SERVICE "/droplit.webhooks.v1.WebhookService/"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ " TOKEN " ]\n"
                           "    ecosystems: [ { id: " ECO " } ]\n";

static const char create_json[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/hook\"}";

static void test_not_found(lb_server *s)
{
    const char *methods[] = {"GET", "POST", "DELETE"};
    const char *paths[] = {"/nowhere", "/api", "/api/webhooks/a/b", "/healthz/more", "/droplit.Other/CreateWebhook"};
    for (int v = 0; v < 2; v++)
        for (size_t m = 0; m < 3; m++)
            for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
                lb_exchange x = {.method = methods[m], .path = paths[p], .version = v ? 0x200 : 0x101};
                lb_send(s, &x);
                CHECK(x.status == 404);
                CHECK_STR(x.reason, "Not Found");
                CHECK_STR(lb_body(&x), "Not found.");
                CHECK(lb_header(&x, "allow") == NULL);
                CHECK(lb_header(&x, "x-request-id") != NULL);
                lb_exchange_dispose(&x);
            }
}

static void test_method_not_allowed(lb_server *s)
{
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"DELETE", "/v0/api/webhooks", "GET, POST"},
        {"PUT", "/api/webhooks", "GET, POST"},
        {"PATCH", "/api/webhooks/5f1b7c3e9d2a4b0012345678", "GET, PUT, DELETE"},
        {"POST", "/healthz", "GET, HEAD"},
        {"GET", SERVICE "CreateWebhook", "POST"},
        {"PUT", SERVICE "GetWebhook", "GET, POST"},
        {"GET", SERVICE "Nope", "POST"},
    };
    unsigned long long before = requests_total("other", "http1", 405);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lb_exchange x = {.method = cases[i].method, .path = cases[i].path, .headers = {{"authorization", TOKEN}}};
        lb_send(s, &x);
        CHECK(x.status == 405);
        CHECK_STR(x.reason, "Method Not Allowed");
        CHECK_STR(lb_header(&x, "allow"), cases[i].allow);
        CHECK_STR(lb_body(&x), "Method not allowed.");
        CHECK(lb_header(&x, "x-request-id") != NULL);
        lb_exchange_dispose(&x);
    }
    CHECK(requests_total("other", "http1", 405) == before + sizeof(cases) / sizeof(cases[0]));
}

/* The target is checked before routing: a "/" or NUL hidden in a segment, or a target that
 * is not a path, is 400; HTTP/1.1's absolute form is routed by its path. */
static void test_target(lb_server *s)
{
    const char *refused[] = {"/api%2fwebhooks", "/api%2Fwebhooks/5f1b7c3e9d2a4b0012345678",
                             "/api/webhooks/5f1b7c3e9d2a4b0012345678%00x", "healthz", "*"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        lb_exchange x = {.method = "GET", .path = refused[i], .headers = {{"authorization", TOKEN}}, .version = 0x200};
        lb_send(s, &x);
        CHECK(x.status == 400);
        CHECK_STR(lb_body(&x), "Invalid request path.");
        lb_exchange_dispose(&x);
    }
    const struct {
        const char *path;
        int status;
    } absolute[] = {{"http://localhost/healthz", 200}, {"HTTPS://localhost/healthz?x=1", 200}, {"http://localhost", 404}};
    for (size_t i = 0; i < sizeof(absolute) / sizeof(absolute[0]); i++) {
        lb_exchange x = {.method = "GET", .path = absolute[i].path};
        lb_send(s, &x);
        CHECK(x.status == absolute[i].status);
        lb_exchange_dispose(&x);
    }
    /* an encoded character that is neither is routed as usual */
    lb_exchange h = {.method = "GET", .path = "/health%7a"};
    lb_send(s, &h);
    CHECK(h.status == 200);
    lb_exchange_dispose(&h);
}

static void test_rest(lb_server *s)
{
    for (int v = 0; v < 2; v++) {
        lb_exchange c = {.method = "POST",
                         .path = v ? "/v0/api/webhooks" : "/api/webhooks",
                         .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                         .body = create_json,
                         .body_len = sizeof(create_json) - 1,
                         .version = v ? 0x200 : 0x101};
        lb_send(s, &c);
        CHECK(c.status == 201);
        CHECK(lb_header(&c, "location") != NULL);
        lb_exchange_dispose(&c);
    }

    lb_exchange a = {.method = "GET", .path = "/api/webhooks?ecosystemId=" ECO};
    lb_send(s, &a);
    CHECK(a.status == 401);
    CHECK_STR(lb_body(&a), "Missing authorization token.");
    lb_exchange_dispose(&a);

    /* routed by the normalised path: no query, no dot segments */
    const char *health[] = {"/healthz", "/healthz?probe=1", "/api/../healthz"};
    for (size_t i = 0; i < 3; i++) {
        lb_exchange h = {.method = "GET", .path = health[i]};
        lb_send(s, &h);
        CHECK(h.status == 200);
        CHECK_STR(lb_body(&h), "ok\n");
        lb_exchange_dispose(&h);
    }
    lb_exchange r = {.method = "GET", .path = "/readyz", .version = 0x200};
    lb_send(s, &r);
    CHECK(r.status == 200);
    CHECK_STR(lb_body(&r), "ready\n");
    lb_exchange_dispose(&r);
    lb_exchange m = {.method = "GET", .path = "/metrics"};
    lb_send(s, &m);
    CHECK(m.status == 200);
    CHECK(strstr(lb_body(&m), "hookgate_requests_total{") != NULL);
    lb_exchange_dispose(&m);
}

static void test_rpc(lb_server *s)
{
    lb_exchange c = {.method = "POST",
                     .path = SERVICE "CreateWebhook",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                     .body = create_json,
                     .body_len = sizeof(create_json) - 1,
                     .version = 0x200};
    lb_send(s, &c);
    CHECK(c.status == 200); /* Connect's answer, not REST's 201 */
    CHECK(strstr(lb_body(&c), "\"url\":\"https://example.com/hook\"") != NULL);
    lb_exchange_dispose(&c);

    lb_exchange u = {.method = "POST",
                     .path = SERVICE "Nope",
                     .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}}};
    lb_send(s, &u);
    CHECK(u.status == 501);
    CHECK(strstr(lb_body(&u), "\"code\":\"unimplemented\"") != NULL);
    lb_exchange_dispose(&u);

    lb_exchange t = {.method = "POST", .path = SERVICE "GetWebhook", .headers = {{"content-type", "text/plain"}}};
    lb_send(s, &t);
    CHECK(t.status == 415);
    lb_exchange_dispose(&t);
}

int main(void)
{
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return test_exit_code();
    test_not_found(&s);
    test_method_not_allowed(&s);
    test_target(&s);
    test_rest(&s);
    test_rpc(&s);
    lb_server_dispose(&s);
    return test_exit_code();
}
