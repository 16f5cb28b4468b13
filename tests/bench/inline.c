/* bench_inline: the denominator of tests/bench/instructions — h2o 2.2.5, the same library
 * hookgate is built on, answering every request inline from one handler: nothing parsed,
 * nothing stored, nothing logged. What a request costs here is what the HTTP stack itself
 * costs (accept, HTTP/1.1 or HTTP/2 framing, HPACK, the response's headers); what hookgate
 * spends above it is its own work.
 *
 * A POST is answered 201 with a JSON body of BODY_BYTES, a GET 200 with the same body (a
 * webhook's JSON is about that long), with its content-length. One event loop, cleartext:
 * HTTP/1.1, or with "h2" prior-knowledge HTTP/2 on every connection (h2o 2.2.5's h2o_accept
 * does not look for the HTTP/2 preface on cleartext; hookgate's h2guard does, as here).
 * SIGTERM ends it cleanly, so that callgrind writes its counts.
 *
 * Usage: bench_inline PORT [h2] */
#include <errno.h>
#include <h2o.h>
#include <h2o/http2.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define BODY_BYTES 200

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static volatile sig_atomic_t stopping;
static int http2;
static char body[BODY_BYTES];

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    static h2o_generator_t generator = {NULL, NULL};
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    req->res.status = post ? 201 : 200;
    req->res.reason = post ? "Created" : "OK";
    req->res.content_length = sizeof(body);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = h2o_iovec_init(body, sizeof(body));
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL)
        return;
    if (http2) {
        struct timeval now;
        gettimeofday(&now, NULL);
        h2o_http2_accept(&accept_ctx, sock, now);
    } else {
        h2o_accept(&accept_ctx, sock);
    }
}

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "h2") != 0)) {
        fprintf(stderr, "usage: bench_inline PORT [h2]\n");
        return 2;
    }
    http2 = argc == 3;
    memset(body, 'x', sizeof(body));
    body[0] = '{', body[1] = '"', body[sizeof(body) - 3] = '"', body[sizeof(body) - 2] = ':';
    memcpy(body + sizeof(body) - 1, "}", 1); /* {"xxx...":} is not JSON; nobody parses it */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);

    h2o_config_init(&config);
    config.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = on_req;

    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "bench_inline: cannot listen on port %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    h2o_socket_t *listener = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
    while (!stopping)
        h2o_evloop_run(ctx.loop, 100);
    return 0;
}
