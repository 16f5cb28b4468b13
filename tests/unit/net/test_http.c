/* Tests http (the helpers the route modules share) without sockets: which Authorization and
 * Idempotency-Key a request carries when they are absent, given once or twice; the query;
 * x-request-id kept when acceptable and replaced otherwise; Content-Length and type set by
 * http_respond; Retry-After on a rate-limited create; http_h2o_entity_limit's headroom. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "loopback.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "limits: { creates_per_second_per_token: 1 }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ " TOKEN " ]\n"
                           "    ecosystems: [ { id: " ECO " } ]\n";

static int iov_is(h2o_iovec_t v, const char *s)
{
    return v.base != NULL && h2o_memis(v.base, v.len, s, strlen(s));
}

/* Runs f on a request with the given headers, after h2o processed it (a 404 here). */
static void with_request(lb_server *s, const char *path, const char *headers[][2], void (*f)(h2o_req_t *req))
{
    lb_exchange x = {.method = "GET", .path = path};
    for (int i = 0; headers != NULL && headers[i][0] != NULL; i++)
        x.headers[i][0] = headers[i][0], x.headers[i][1] = headers[i][1];
    lb_conn *conn = lb_conn_create(s, &x);
    h2o_process_request(&conn->req);
    CHECK(lb_wait(s, &x) == 0);
    f(&conn->req);
    lb_conn_destroy(conn);
    lb_exchange_dispose(&x);
}

static void none(h2o_req_t *req)
{
    CHECK(http_authorization(req).base == NULL);
    CHECK(http_idempotency_key(req).base == NULL);
    CHECK(iov_is(http_header(req, H2O_TOKEN_ACCEPT), "text/html") == 0);
    CHECK(http_query(req).len == 0 && http_query(req).base != NULL);
}

static void once(h2o_req_t *req)
{
    CHECK(iov_is(http_authorization(req), "tok"));
    CHECK(iov_is(http_idempotency_key(req), "key-1"));
    CHECK(iov_is(http_header(req, H2O_TOKEN_ACCEPT), "text/html"));
    CHECK(iov_is(http_query(req), "a=1&b=2"));
}

static void twice(h2o_req_t *req)
{
    CHECK(http_authorization(req).base == NULL); /* ambiguous: unauthenticated */
    h2o_iovec_t key = http_idempotency_key(req);
    CHECK(key.base != NULL && key.len == 0); /* ambiguous: the core refuses it */
}

static void test_headers(lb_server *s)
{
    with_request(s, "/nowhere", NULL, none);
    const char *one[][2] = {
        {"authorization", "tok"}, {"idempotency-key", "key-1"}, {"accept", "text/html"}, {NULL, NULL}};
    with_request(s, "/nowhere?a=1&b=2", one, once);
    const char *two[][2] = {{"authorization", "tok"},
                            {"authorization", "tok"},
                            {"idempotency-key", "key-1"},
                            {"idempotency-key", "key-2"},
                            {NULL, NULL}};
    with_request(s, "/nowhere", two, twice);
    /* the whitespace around a value is not part of it, at either end (RFC 9110 §5.5) */
    const char *padded[][2] = {{"authorization", " \ttok \t"},
                               {"idempotency-key", "key-1 "},
                               {"accept", "\ttext/html  "},
                               {NULL, NULL}};
    with_request(s, "/nowhere?a=1&b=2", padded, once);
}

static void test_respond(lb_server *s)
{
    lb_exchange a = {.method = "GET", .path = "/healthz", .headers = {{"x-request-id", "abc-123_x.y"}}};
    lb_send(s, &a);
    CHECK(a.status == 200);
    CHECK_STR(lb_header(&a, "x-request-id"), "abc-123_x.y");
    CHECK_STR(lb_header(&a, "content-type"), "text/plain; charset=utf-8");
    CHECK(a.res_body->size == 3);
    lb_exchange_dispose(&a);

    lb_exchange b = {.method = "GET", .path = "/healthz", .headers = {{"x-request-id", "not acceptable"}}};
    lb_send(s, &b);
    const char *id = lb_header(&b, "x-request-id");
    CHECK(id != NULL && strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16);
    lb_exchange_dispose(&b);

    /* two ids never repeat */
    lb_exchange c = {.method = "GET", .path = "/healthz"};
    lb_send(s, &c);
    lb_exchange d = {.method = "GET", .path = "/healthz"};
    lb_send(s, &d);
    CHECK(lb_header(&c, "x-request-id") != NULL && lb_header(&d, "x-request-id") != NULL &&
          strcmp(lb_header(&c, "x-request-id"), lb_header(&d, "x-request-id")) != 0);
    lb_exchange_dispose(&c);
    lb_exchange_dispose(&d);
}

static void test_retry_after(lb_server *s)
{
    static const char body[] = "{\"ecosystemId\":\"" ECO "\",\"url\":\"https://example.com/r\"}";
    int limited = 0;
    for (int i = 0; i < 3 && !limited; i++) {
        lb_exchange x = {.method = "POST",
                         .path = "/api/webhooks",
                         .headers = {{"authorization", TOKEN}, {"content-type", "application/json"}},
                         .body = body,
                         .body_len = sizeof(body) - 1};
        lb_send(s, &x);
        CHECK(x.status == 201 || x.status == 429);
        if (x.status == 429) {
            limited = 1;
            const char *ra = lb_header(&x, "retry-after");
            CHECK(ra != NULL && atoi(ra) >= 1);
        } else {
            CHECK(lb_header(&x, "retry-after") == NULL);
        }
        lb_exchange_dispose(&x);
    }
    CHECK(limited);
}

int main(void)
{
    config_limits limits = {.max_body_bytes = 1000};
    CHECK(http_h2o_entity_limit(&limits) > limits.max_body_bytes); /* a handler, not h2o, answers 413 */

    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return test_exit_code();
    test_headers(&s);
    test_respond(&s);
    test_retry_after(&s);
    lb_server_dispose(&s);
    return test_exit_code();
}
