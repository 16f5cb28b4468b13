/* Tests webconsole through loopback.h, as h2o calls it: GET /console/ is the embedded
 * index.html and /console/<name> each embedded file, byte for byte, with its media type,
 * the strict Content-Security-Policy (no 'unsafe-inline', no eval, frame-ancestors 'none'),
 * nosniff and no framing; HEAD is answered too; /console redirects to /console/; a name
 * the build did not embed is 404; with server.console off every console path is 404, and
 * the API is still served. */
#include <stdlib.h>
#include <string.h>

#include "webconsole.h"
#include "loopback.h"

#define ECO "C000000000000000000000a01"
#define TOKEN "acme-token"

static const char yaml[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                           "accounts:\n"
                           "  - id: acme\n"
                           "    tokens: [ " TOKEN " ]\n"
                           "    ecosystems: [ { id: " ECO " } ]\n";

static const webconsole_file *embedded(const char *name)
{
    for (size_t i = 0; i < webconsole_files_count; i++)
        if (strcmp(webconsole_files[i].name, name) == 0)
            return &webconsole_files[i];
    return NULL;
}

static void check_security_headers(lb_exchange *x)
{
    const char *csp = lb_header(x, "content-security-policy");
    CHECK_STR(csp, WEBCONSOLE_CSP);
    CHECK(csp != NULL && strstr(csp, "unsafe") == NULL);
    CHECK(csp != NULL && strstr(csp, "frame-ancestors 'none'") != NULL);
    CHECK(csp != NULL && strstr(csp, "script-src 'self'") != NULL);
    CHECK_STR(lb_header(x, "x-content-type-options"), "nosniff");
    CHECK_STR(lb_header(x, "x-frame-options"), "DENY");
    CHECK(lb_header(x, "access-control-allow-origin") == NULL); /* same origin only */
}

static void test_files(lb_server *s)
{
    static const struct {
        const char *path, *name, *type;
    } cases[] = {
        {"/console/", "index.html", "text/html; charset=utf-8"},
        {"/console/index.html", "index.html", "text/html; charset=utf-8"},
        {"/console/app.js", "app.js", "text/javascript; charset=utf-8"},
        {"/console/api.js", "api.js", "text/javascript; charset=utf-8"},
        {"/console/chart.js", "chart.js", "text/javascript; charset=utf-8"},
        {"/console/console.css", "console.css", "text/css; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const webconsole_file *f = embedded(cases[i].name);
        CHECK(f != NULL && f->len > 0);
        for (int v = 0; v < 2; v++) {
            lb_exchange x = {.method = "GET", .path = cases[i].path, .version = v ? 0x200 : 0x101};
            lb_send(s, &x);
            CHECK(x.status == 200);
            CHECK_STR(lb_header(&x, "content-type"), cases[i].type);
            check_security_headers(&x);
            CHECK(f != NULL && x.res_body->size == f->len && memcmp(x.res_body->bytes, f->body, f->len) == 0);
            lb_exchange_dispose(&x);
        }
    }
    /* the page loads only its own files: no inline script or style for the policy to refuse */
    const webconsole_file *index = embedded("index.html");
    CHECK(index != NULL && strstr(index->body, "<script type=\"module\" src=\"app.js\"></script>") != NULL);
    CHECK(index != NULL && strstr(index->body, "style=") == NULL && strstr(index->body, "<style") == NULL);
    CHECK(index != NULL && strstr(index->body, "http://") == NULL && strstr(index->body, "https://") == NULL);

    lb_exchange head = {.method = "HEAD", .path = "/console/"};
    lb_send(s, &head);
    CHECK(head.status == 200);
    check_security_headers(&head);
    lb_exchange_dispose(&head);

    lb_exchange bare = {.method = "GET", .path = "/console?x=1"};
    lb_send(s, &bare);
    CHECK(bare.status == 301);
    CHECK_STR(lb_header(&bare, "location"), "/console/");
    check_security_headers(&bare);
    lb_exchange_dispose(&bare);

    /* the first two stay under /console/ (its headers on the 404 too); the dot segments of
     * the others take them out of it, to the API's 404 */
    const char *missing[] = {"/console/nope.js", "/console/app.js/", "/console/../README.md", "/console/%2e%2e/x"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        lb_exchange x = {.method = "GET", .path = missing[i]};
        lb_send(s, &x);
        CHECK(x.status == 404);
        if (i < 2)
            check_security_headers(&x);
        else
            CHECK(lb_header(&x, "content-security-policy") == NULL);
        lb_exchange_dispose(&x);
    }
    lb_exchange post = {.method = "POST", .path = "/console/"};
    lb_send(s, &post);
    CHECK(post.status == 405);
    CHECK_STR(lb_header(&post, "allow"), "GET, HEAD");
    lb_exchange_dispose(&post);
}

static void test_media_types(void)
{
    CHECK_STR(webconsole_media_type("a.html"), "text/html; charset=utf-8");
    CHECK_STR(webconsole_media_type("shot.png"), "image/png");
    CHECK_STR(webconsole_media_type("logo.svg"), "image/svg+xml");
    CHECK_STR(webconsole_media_type("js"), "application/octet-stream"); /* a name, not an extension */
    CHECK_STR(webconsole_media_type("data.bin"), "application/octet-stream");
}

/* server.console: off, and every console path is 404 while the API still answers */
static void test_off(lb_server *s)
{
    char err[CONFIG_ERROR_MAX];
    static const char off[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ], console: off }\n";
    config *cfg = config_parse("off.yaml", off, sizeof(off) - 1, err);
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    webconsole_configure(cfg);
    const char *paths[] = {"/console", "/console/", "/console/app.js", "/console/index.html"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        lb_exchange x = {.method = "GET", .path = paths[i]};
        lb_send(s, &x);
        CHECK(x.status == 404);
        CHECK_STR(lb_body(&x), "Not found.");
        CHECK(lb_header(&x, "content-security-policy") == NULL); /* as any unknown path: nothing says "console" */
        lb_exchange_dispose(&x);
    }
    CHECK(webconsole_find("/console/", 9) == NULL);
    lb_exchange api = {
        .method = "GET", .path = "/api/webhooks?ecosystemId=" ECO, .headers = {{"authorization", TOKEN}}};
    lb_send(s, &api);
    CHECK(api.status == 200);
    lb_exchange_dispose(&api);
    config_destroy(cfg);
    /* and on again */
    static const char on[] = "server: { listen: [ {address: 127.0.0.1, port: 1} ], console: on }\n";
    cfg = config_parse("on.yaml", on, sizeof(on) - 1, err);
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    webconsole_configure(cfg);
    CHECK(webconsole_find("/console/", 9) == embedded("index.html"));
    config_destroy(cfg);
}

int main(void)
{
    lb_server s;
    if (lb_server_init(&s, yaml) != 0)
        return test_exit_code();
    test_files(&s);
    test_media_types();
    test_off(&s);
    lb_server_dispose(&s);
    return test_exit_code();
}
