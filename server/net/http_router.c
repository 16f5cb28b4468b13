/* http_router: see http_router.h. */
#include "http_router.h"

#include <stdint.h>
#include <string.h>

#include "cors.h"
#include "h1framing.h"
#include "gzip.h"
#include "h2guard.h"
#include "hg_assert.h"
#include "http.h"
#include "http_rest.h"
#include "http_rpc.h"
#include "metrics.h"
#include "route.h"
#include "server.h"
#include "webconsole.h"

/* Checks the request target before anything routes on it; 0 when it may be routed.
 *
 * h2o 2.2.5 routes on the decoded path, so "/api%2fwebhooks/<id>" read as
 * "/api/webhooks/<id>" and "/api/webhooks/<id>%00junk" as the id cut at the NUL. A
 * segment is decoded on its own here: a decoded "/" or NUL inside one is refused, and so
 * is a target that is not a path (an HTTP/2 :path without its leading "/"). The
 * absolute form of HTTP/1.1 ("GET http://host/api/webhooks", RFC 9112 §3.2.2) is read as
 * its path: h2o keeps the whole URL as the path, which then matched nothing. */
static int check_target(h2o_req_t *req)
{
    size_t end = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    h2o_iovec_t raw = h2o_iovec_init(req->path.base, end);
    size_t scheme = raw.len == 0 || raw.base[0] == '/'                                 ? 0 /* the usual origin form */
                    : raw.len >= 7 && h2o_lcstris(raw.base, 7, H2O_STRLIT("http://"))  ? 7
                    : raw.len >= 8 && h2o_lcstris(raw.base, 8, H2O_STRLIT("https://")) ? 8
                                                                                       : 0;
    if (scheme > 0) {
        const char *slash = memchr(raw.base + scheme, '/', raw.len - scheme);
        raw = slash != NULL ? h2o_iovec_init(slash, (size_t)(raw.base + raw.len - slash)) : h2o_iovec_init("/", 1);
        size_t query_at;
        size_t *norm_indexes = NULL;
        req->path_normalized = h2o_url_normalize_path(&req->pool, raw.base, raw.len, &query_at, &norm_indexes);
    }
    if (raw.len == 0 || raw.base[0] != '/')
        return -1;
    for (const char *pct = raw.base, *end = raw.base + raw.len;
         (pct = memchr(pct, '%', (size_t)(end - pct))) != NULL && end - pct > 2; pct++) {
        uint8_t byte; /* h2o decodes what it routes on; an escape that is not one stays as it is */
        if (h2o_hex_decode(&byte, pct + 1, 2) == 0 && (byte == 0 || byte == '/'))
            return -1;
    }
    return 0;
}

/* Checks the request's framing before anything else: an HTTP/2 request the frame scanner
 * found malformed (h2guard.h), an HTTP/1.x head (h1framing.h). 0 when it may be served;
 * else it has answered 400 (HTTP/1.x: and the connection closes after it).
 *
 * h2o hands a handler neither Content-Length nor Transfer-Encoding, so the head is read
 * again where h2o parsed it: the socket's input, which h2o 2.2.5 keeps from the head of
 * the current request on (http1.c consumes a request's bytes only once its response is
 * sent, in on_send_complete; a TLS socket's input is the decrypted bytes). Every request of
 * a connection, pipelined ones included, reaches this handler before h2o reads past it,
 * and a refused one ends the connection: the bytes after that head — a body h2o framed
 * one way, a request hidden in it — are never read as a request. */
static int check_framing(h2o_req_t *req)
{
    if (req->version >= 0x200) {
        /* a stream error (RFC 9113 §8.1.1), answered with a response before the stream ends,
         * as the RFC allows: the client learns why, and nothing of the request is served */
        if (!h2guard_take_malformed(req))
            return 0;
        metrics_http2_content_length_refused();
        http_respond_text(req, 400, "Bad Request", h1framing_reason(H1FRAMING_CONTENT_LENGTH));
        return -1;
    }
    if (req->conn->callbacks->get_socket == NULL)
        return 0; /* a request made without a socket (unit tests) */
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL)
        return 0;
    const char *head = sock->input->bytes;
    size_t len = sock->input->size;
    size_t skip = len > 0 && head[0] == '\n' ? 1 : len > 1 && head[0] == '\r' && head[1] == '\n' ? 2 : 0;
    HG_ASSERT(len - skip >= req->input.method.len &&
              memcmp(head + skip, req->input.method.base, req->input.method.len) == 0);
    h1framing_verdict v = h1framing_check(head, len, req->version);
    if (v == H1FRAMING_OK)
        return 0;
    metrics_http1_framing_refused();
    req->http1_is_persistent = 0;
    http_respond_text(req, 400, "Bad Request", h1framing_reason(v));
    return -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_handler *h = (http_handler *)self;
    route_match m;
    /* h2o calls a handler once the whole request is in: the connection is no squatter, and
     * it is busy until the answer is done */
    server_connection_seen(req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn)
                                                                     : NULL);
    h2guard_request_begin(req);
    if (check_framing(req) != 0)
        return 0;
    if (check_target(req) != 0) {
        http_respond_text(req, 400, "Bad Request", "Invalid request path.");
        return 0;
    }
    if (cors_is_preflight(req)) {
        /* before routing and authentication: a browser sends no Authorization with it.
         * Another origin's gets 403 and no CORS header, which the browser reports to the
         * page as a network error. */
        http_routing_begin(req, ROUTE_PREFLIGHT);
        if (cors_preflight(req) == 0)
            http_respond(req, 204, "No Content", NULL, "", 0);
        else
            http_respond_text(req, 403, "Forbidden", "Origin not allowed.");
        http_routing_end();
        return 0;
    }
    route_id route =
        route_find(req->method.base, req->method.len, req->path_normalized.base, req->path_normalized.len, &m);
    http_routing_begin(req, route);
    switch (route) {
    case ROUTE_NOT_FOUND:
        http_respond_text(req, 404, "Not Found", "Not found.");
        break;
    case ROUTE_METHOD_NOT_ALLOWED:
        http_respond_method_not_allowed(req, m.allow);
        break;
    case ROUTE_RPC_CREATE:
    case ROUTE_RPC_GET:
    case ROUTE_RPC_LIST:
    case ROUTE_RPC_UPDATE:
    case ROUTE_RPC_DELETE:
    case ROUTE_RPC_INVOKE:
    case ROUTE_RPC_PUBLISH:
    case ROUTE_RPC_GET_EVENT:
    case ROUTE_RPC_ATTEMPTS:
    case ROUTE_RPC_RESEND:
    case ROUTE_RPC_RECOVER:
    case ROUTE_RPC_ECOSYSTEMS:
    case ROUTE_RPC_OTHER:
        http_rpc_serve(h, req, &m);
        break;
    case ROUTE_CONSOLE:
        webconsole_serve(req);
        break;
    default:
        http_rest_serve(h, req, &m);
    }
    http_routing_end();
    return 0;
}

void http_router_register(h2o_hostconf_t *host, core *c)
{
    /* one handler for every path: h2o's own prefix matching is not used */
    h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
    http_handler_init((http_handler *)h2o_create_handler(pathconf, sizeof(http_handler)), c, on_req);
    /* h2o's compress filter gzips REST answers for a client whose accept-encoding takes gzip
     * (and adds vary: accept-encoding): those of a compressible type (JSON, text) and at
     * least GZIP_ANSWER_MIN_BYTES long, the threshold the RPC protocols use. The RPC routes
     * opt out (http_rpc.c) and compress their messages themselves with wire/gzip. No brotli. */
    h2o_compress_args_t args = {.min_size = GZIP_ANSWER_MIN_BYTES, .gzip = {GZIP_LEVEL}, .brotli = {-1}};
    h2o_compress_register(pathconf, &args);
}
