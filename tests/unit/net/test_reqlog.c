/* Tests reqlog: the request-id rule (a client's acceptable x-request-id is kept as it is,
 * any other — absent, empty, too long, with characters a log reader could mistake for
 * structure — gives a new id from the pool), and reqlog_write's one access-log line and one
 * metrics count per answered request, for HTTP/1.0, HTTP/1.1, HTTP/2 and native gRPC,
 * under the route the method and path name (REST and RPC paths alike; found here for
 * ROUTE_COUNT, else the one the router found).
 *
 * The access log has no hook but its file descriptor: its lines (only its writes) go into
 * a pipe put in place of stderr, as test_accesslog does with a file. Counts are read from
 * metrics_render's text, before and after. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "metrics.h"
#include "requests_total.h"
#include "reqlog.h"
#include "test.h"

static int pipe_fds[2];
static int saved_stderr;

/* Runs stmt with stderr (fd 2) going into the pipe. */
#define CAPTURED(stmt)                                                                                                 \
    do {                                                                                                               \
        fflush(stderr);                                                                                                \
        dup2(pipe_fds[1], STDERR_FILENO);                                                                              \
        stmt;                                                                                                          \
        dup2(saved_stderr, STDERR_FILENO);                                                                             \
    } while (0)

/* What was written into the pipe since the last call. */
static const char *taken(void)
{
    static char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) - 1 && (r = read(pipe_fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return buf;
}

static void test_request_id(void)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);

    /* acceptable: kept, the very bytes (not a copy) */
    static const char mine[] = "client-id_1.2";
    h2o_iovec_t id = reqlog_request_id(&pool, h2o_iovec_init(mine, sizeof(mine) - 1));
    CHECK(id.base == mine && id.len == sizeof(mine) - 1);
    char longest[ACCESSLOG_ID_MAX];
    memset(longest, 'a', sizeof(longest));
    id = reqlog_request_id(&pool, h2o_iovec_init(longest, sizeof(longest)));
    CHECK(id.base == longest && id.len == ACCESSLOG_ID_MAX);

    /* anything else: a new id, 16 hex digits, NUL-terminated, each one different */
    char too_long[ACCESSLOG_ID_MAX + 1];
    memset(too_long, 'a', sizeof(too_long));
    const h2o_iovec_t refused[] = {
        h2o_iovec_init(NULL, 0),         h2o_iovec_init("", 0),          h2o_iovec_init("a b", 3),
        h2o_iovec_init("a\"b", 3),       h2o_iovec_init("a\nb", 3),      h2o_iovec_init("{\"x\":1}", 7),
        h2o_iovec_init(too_long, sizeof(too_long)),
    };
    char previous[ACCESSLOG_ID_MAX + 1] = "";
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        id = reqlog_request_id(&pool, refused[i]);
        CHECK(id.base != NULL && id.base != refused[i].base);
        CHECK(id.len == 16 && strlen(id.base) == 16 && strspn(id.base, "0123456789abcdef") == 16);
        CHECK(strcmp(id.base, previous) != 0);
        snprintf(previous, sizeof(previous), "%s", id.base != NULL ? id.base : "");
    }
    h2o_mem_clear_pool(&pool);
}

typedef struct answered {
    const char *method, *path; /* method NULL: none (a gRPC stream that never sent :method) */
    reqlog_protocol protocol;
    int status, grpc_status; /* grpc_status -1: none */
    const char *route, *counted_as, *logged_as;
} answered;

static void test_write(void)
{
    static const answered cases[] = {
        {"POST", "/api/webhooks", REQLOG_HTTP1_1, 201, -1, "create", "http1", "HTTP/1.1"},
        {"GET", "/v0/api/webhooks", REQLOG_HTTP1_0, 200, -1, "list", "http1", "HTTP/1.0"},
        {"GET", "/api/webhooks/5f1b7c3e9d2a4b0012345678", REQLOG_HTTP2, 404, -1, "get", "http2", "HTTP/2.0"},
        {"DELETE", "/api/webhooks", REQLOG_HTTP2, 405, -1, "other", "http2", "HTTP/2.0"},
        {"GET", "/nowhere", REQLOG_HTTP1_1, 404, -1, "other", "http1", "HTTP/1.1"},
        {"POST", "/droplit.webhooks.v1.WebhookService/CreateWebhook", REQLOG_HTTP2, 200, -1, "rpc_create", "http2",
         "HTTP/2.0"},
        /* native gRPC: HTTP 200 and a grpc-status, which the access log shows and the metrics
         * count in their own label; or no gRPC call at all (415), with no grpc-status */
        {"POST", "/droplit.webhooks.v1.WebhookService/ListWebhooks", REQLOG_GRPC, 200, 0, "rpc_list", "grpc", "gRPC"},
        {"POST", "/droplit.webhooks.v1.WebhookService/Nope", REQLOG_GRPC, 200, 12, "rpc_other", "grpc", "gRPC"},
        {NULL, "/droplit.webhooks.v1.WebhookService/GetWebhook", REQLOG_GRPC, 200, 3, "other", "grpc", "gRPC"},
        {"POST", "/droplit.webhooks.v1.WebhookService/GetWebhook", REQLOG_GRPC, 415, -1, "rpc_get", "grpc", "gRPC"},
    };
    accesslog_set_format(ACCESSLOG_TEXT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const answered *a = &cases[i];
        unsigned long long before = requests_total_grpc(a->route, a->counted_as, a->status, a->grpc_status);
        h2o_iovec_t method = a->method != NULL ? h2o_iovec_init(a->method, strlen(a->method)) : h2o_iovec_init(NULL, 0);
        CAPTURED(reqlog_write(method, h2o_iovec_init(a->path, strlen(a->path)), ROUTE_COUNT, a->protocol, a->status,
                              a->grpc_status, 42, 1500, h2o_iovec_init(H2O_STRLIT("the-id"))));
        char want[256];
        snprintf(want, sizeof(want), "access %s %s %d 42 1.500ms %s\n", a->method != NULL ? a->method : "", a->path,
                 a->grpc_status >= 0 ? a->grpc_status : a->status, a->logged_as);
        CHECK_STR(taken(), want); /* one line, exactly */
        CHECK(requests_total_grpc(a->route, a->counted_as, a->status, a->grpc_status) == before + 1);
    }

    /* the JSON line carries the request id */
    accesslog_set_format(ACCESSLOG_JSON);
    unsigned long long before = requests_total("healthz", "http1", 200);
    CAPTURED(reqlog_write(h2o_iovec_init(H2O_STRLIT("GET")), h2o_iovec_init(H2O_STRLIT("/healthz")), ROUTE_COUNT,
                          REQLOG_HTTP1_1, 200, -1, 3, 10, h2o_iovec_init(H2O_STRLIT("abc-123"))));
    const char *line = taken();
    CHECK(strstr(line, "\"request_id\":\"abc-123\",\"method\":\"GET\",\"path\":\"/healthz\",\"status\":200") != NULL);
    CHECK(strchr(line, '\n') == line + strlen(line) - 1);
    CHECK(requests_total("healthz", "http1", 200) == before + 1);

    /* with the log off, the request is still counted */
    accesslog_set_format(ACCESSLOG_OFF);
    before = requests_total("metrics", "http2", 200);
    CAPTURED(reqlog_write(h2o_iovec_init(H2O_STRLIT("GET")), h2o_iovec_init(H2O_STRLIT("/metrics")), ROUTE_COUNT,
                          REQLOG_HTTP2, 200, -1, 3, 10, h2o_iovec_init(H2O_STRLIT("abc"))));
    CHECK_STR(taken(), "");
    CHECK(requests_total("metrics", "http2", 200) == before + 1);

    /* the route the router already found is counted as given */
    accesslog_set_format(ACCESSLOG_TEXT);
    const struct {
        const char *method, *path;
        route_id route;
        const char *name;
    } found[] = {{"POST", "/api/webhooks", ROUTE_CREATE, "create"},
                 {"GET", "/nowhere", ROUTE_NOT_FOUND, "other"},
                 {"POST", "/droplit.webhooks.v1.WebhookService/GetWebhook", ROUTE_RPC_GET, "rpc_get"}};
    for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
        before = requests_total(found[i].name, "http1", 200);
        CAPTURED(reqlog_write(h2o_iovec_init(found[i].method, strlen(found[i].method)),
                              h2o_iovec_init(found[i].path, strlen(found[i].path)), found[i].route, REQLOG_HTTP1_1, 200,
                              -1, 1, 1, h2o_iovec_init(H2O_STRLIT("id"))));
        CHECK(strncmp(taken(), "access ", 7) == 0);
        CHECK(requests_total(found[i].name, "http1", 200) == before + 1);
    }
}

int main(void)
{
    CHECK(pipe(pipe_fds) == 0);
    CHECK(fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK) == 0);
    saved_stderr = dup(STDERR_FILENO);
    test_request_id();
    test_write();
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(saved_stderr);
    return test_exit_code();
}
