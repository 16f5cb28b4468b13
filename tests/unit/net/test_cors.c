/* Tests cors through loopback.h, as h2o calls the router: with server.cors.allowed_origins
 * set, an answer to a listed Origin carries Access-Control-Allow-Origin (that origin) and
 * -Expose-Headers on every route and outcome (REST, Connect, gRPC-Web, a 404, an
 * authentication failure), an answer to another Origin or to none carries no CORS header
 * but Vary: Origin; a preflight is answered before authentication, 204 for a listed origin
 * and 403 with no CORS header for another, and counted as route "preflight". Without
 * origins nothing is added and OPTIONS is routed (405). */
#include <stdlib.h>
#include <string.h>

#include "cors.h"
#include "loopback.h"
#include "requests_total.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"
#define SERVICE "/droplit.webhooks.v1.WebhookService/"
#define ORIGIN "http://127.0.0.1:8081"

static const char yaml[] = "server:\n"
                           "  listen: [ {address: 127.0.0.1, port: 1} ]\n"
                           "  cors: { allowed_origins: [ \"https://app.example\", \"" ORIGIN "\" ] }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ " TOKEN " ]\n"
                           "    ecosystems: [ { id: " ECO " } ]\n";

static const char create_json[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/hook\"}";

/* x's answer carries the CORS headers of an allowed origin. */
static void check_allowed(lb_exchange *x)
{
    CHECK_STR(lb_header(x, "access-control-allow-origin"), ORIGIN);
    CHECK_STR(lb_header(x, "vary"), "origin");
    const char *expose = lb_header(x, "access-control-expose-headers");
    CHECK(expose != NULL && strstr(expose, "grpc-status, grpc-message, grpc-status-details-bin") != NULL &&
          strstr(expose, "x-request-id") != NULL && strstr(expose, "retry-after") != NULL);
}

/* x's answer carries no CORS header but Vary. */
static void check_refused(lb_exchange *x, int vary)
{
    CHECK(lb_header(x, "access-control-allow-origin") == NULL);
    CHECK(lb_header(x, "access-control-expose-headers") == NULL);
    CHECK(lb_header(x, "access-control-allow-methods") == NULL);
    if (vary)
        CHECK_STR(lb_header(x, "vary"), "origin");
    else
        CHECK(lb_header(x, "vary") == NULL);
}

/* The same request from the allowed origin, another origin, and none. */
static void check_route(lb_server *s, lb_exchange proto, int status)
{
    static const char *const origins[] = {ORIGIN, "http://127.0.0.1:8082", "http://127.0.0.1:8081/", NULL};
    for (size_t o = 0; o < sizeof origins / sizeof origins[0]; o++)
        for (int v = 0; v < 2; v++) {
            lb_exchange x = proto;
            size_t n = 0;
            while (n < LB_MAX_HEADERS - 1 && x.headers[n][0] != NULL)
                n++;
            if (origins[o] != NULL) {
                x.headers[n][0] = "origin";
                x.headers[n][1] = origins[o];
            }
            x.version = v ? 0x200 : 0x101;
            lb_send(s, &x);
            CHECK(x.status == status);
            if (x.status != status)
                fprintf(stderr, "  %s %s: %d, not %d\n", x.method, x.path, x.status, status);
            if (o == 0)
                check_allowed(&x);
            else
                check_refused(&x, 1);
            lb_exchange_dispose(&x);
        }
}

static void test_routes(lb_server *s)
{
    /* REST: a create, a list without a token, a 404 */
    check_route(s,
                (lb_exchange){.method = "POST",
                              .path = "/api/webhooks",
                              .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                              .body = create_json,
                              .body_len = sizeof(create_json) - 1},
                201);
    check_route(s, (lb_exchange){.method = "GET", .path = "/api/webhooks?ecosystemId=" ECO}, 401);
    check_route(s, (lb_exchange){.method = "GET", .path = "/nowhere"}, 404);
    check_route(s, (lb_exchange){.method = "GET", .path = "/healthz"}, 200);
    /* Connect: a create, an unauthenticated get */
    check_route(s,
                (lb_exchange){.method = "POST",
                              .path = SERVICE "CreateWebhook",
                              .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                              .body = create_json,
                              .body_len = sizeof(create_json) - 1},
                200);
    check_route(s,
                (lb_exchange){.method = "POST",
                              .path = SERVICE "GetWebhook",
                              .headers = {{"content-type", "application/json"}},
                              .body = "{}",
                              .body_len = 2},
                401);
    /* gRPC-Web: an unauthenticated get, its status in the headers (a trailers-only answer) */
    static const char empty_frame[5] = {0};
    check_route(s,
                (lb_exchange){.method = "POST",
                              .path = SERVICE "GetWebhook",
                              .headers = {{"content-type", "application/grpc-web+proto"}, {"x-grpc-web", "1"}},
                              .body = empty_frame,
                              .body_len = sizeof empty_frame},
                200);
}

static void test_two_origins(lb_server *s)
{
    lb_exchange x = {.method = "GET", .path = "/healthz", .headers = {{"origin", ORIGIN}, {"origin", ORIGIN}}};
    lb_send(s, &x);
    CHECK(x.status == 200);
    check_refused(&x, 1); /* two origins are no origin */
    lb_exchange_dispose(&x);
}

static void test_preflight(lb_server *s)
{
    unsigned long long before = requests_total("preflight", "http1", 204);
    unsigned long long before_refused = requests_total("preflight", "http1", 403);
    static const char *const paths[] = {SERVICE "CreateWebhook", "/api/webhooks", "/api/webhooks/x", "/nowhere"};
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        /* no authorization: a browser never sends it with a preflight */
        lb_exchange x = {.method = "OPTIONS",
                         .path = paths[p],
                         .headers = {{"origin", ORIGIN},
                                     {"access-control-request-method", "POST"},
                                     {"access-control-request-headers", "authorization,content-type"}}};
        lb_send(s, &x);
        CHECK(x.status == 204);
        CHECK(lb_body(&x)[0] == '\0');
        check_allowed(&x);
        const char *methods = lb_header(&x, "access-control-allow-methods");
        CHECK(methods != NULL && strstr(methods, "POST") != NULL && strstr(methods, "DELETE") != NULL);
        const char *headers = lb_header(&x, "access-control-allow-headers");
        CHECK(headers != NULL && strstr(headers, "authorization") != NULL && strstr(headers, "x-grpc-web") != NULL &&
              strstr(headers, "connect-protocol-version") != NULL && strstr(headers, "idempotency-key") != NULL);
        CHECK_STR(lb_header(&x, "access-control-max-age"), "7200");
        CHECK(lb_header(&x, "x-request-id") != NULL);
        lb_exchange_dispose(&x);

        lb_exchange r = {.method = "OPTIONS",
                         .path = paths[p],
                         .headers = {{"origin", "https://evil.example"}, {"access-control-request-method", "POST"}}};
        lb_send(s, &r);
        CHECK(r.status == 403);
        check_refused(&r, 1);
        CHECK(lb_header(&r, "access-control-max-age") == NULL);
        lb_exchange_dispose(&r);
    }
    CHECK(requests_total("preflight", "http1", 204) == before + 4);
    CHECK(requests_total("preflight", "http1", 403) == before_refused + 4);

    /* an OPTIONS that is no preflight is routed like any other method */
    lb_exchange o = {.method = "OPTIONS", .path = "/api/webhooks", .headers = {{"origin", ORIGIN}}};
    lb_send(s, &o);
    CHECK(o.status == 405);
    check_allowed(&o);
    lb_exchange_dispose(&o);
}

/* Without origins: no header, and a preflight is an OPTIONS like any other. */
static void test_unconfigured(lb_server *s)
{
    config none = {0};
    cors_configure(&none);
    lb_exchange x = {.method = "OPTIONS",
                     .path = "/api/webhooks",
                     .headers = {{"origin", ORIGIN}, {"access-control-request-method", "POST"}}};
    lb_send(s, &x);
    CHECK(x.status == 405);
    check_refused(&x, 0);
    lb_exchange_dispose(&x);
    lb_exchange g = {.method = "GET", .path = "/healthz", .headers = {{"origin", ORIGIN}}};
    lb_send(s, &g);
    CHECK(g.status == 200);
    check_refused(&g, 0);
    lb_exchange_dispose(&g);
}

int main(void)
{
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return test_exit_code();
    cors_configure(core_config_now(s.core));
    CHECK(cors_origin_allowed(h2o_iovec_init(H2O_STRLIT(ORIGIN))));
    CHECK(!cors_origin_allowed(h2o_iovec_init(H2O_STRLIT("http://127.0.0.1:808"))));
    CHECK(!cors_origin_allowed(h2o_iovec_init(NULL, 0)));
    test_routes(&s);
    test_two_origins(&s);
    test_preflight(&s);
    test_unconfigured(&s);
    lb_server_dispose(&s);
    return test_exit_code();
}
