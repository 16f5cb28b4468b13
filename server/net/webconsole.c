/* webconsole: see webconsole.h. */
#include "webconsole.h"

#include <string.h>

#include "hg_assert.h"
#include "http.h"

/* Copied once at start-up (webconsole_configure), before any loop thread reads it. */
static int enabled = 1;

void webconsole_configure(const config *cfg)
{
    HG_ASSERT(cfg->console == 0 || cfg->console == 1);
    enabled = cfg->console;
}

const webconsole_file *webconsole_find(const char *path, size_t len)
{
    size_t pn = sizeof(WEBCONSOLE_PREFIX) - 1;
    if (!enabled || len < pn || memcmp(path, WEBCONSOLE_PREFIX, pn) != 0)
        return NULL;
    const char *name = path + pn;
    size_t name_len = len - pn;
    if (name_len == 0)
        name = WEBCONSOLE_INDEX, name_len = sizeof(WEBCONSOLE_INDEX) - 1;
    for (size_t i = 0; i < webconsole_files_count; i++)
        if (strlen(webconsole_files[i].name) == name_len && memcmp(webconsole_files[i].name, name, name_len) == 0)
            return &webconsole_files[i];
    return NULL;
}

const char *webconsole_media_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && memcmp(name + n - e, types[i].ext, e) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

static void add_header_named(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, strlen(value));
}

void webconsole_serve(h2o_req_t *req)
{
    if (!enabled) { /* as any unknown path */
        http_respond_text(req, 404, "Not Found", "Not found.");
        return;
    }
    /* on every answer under /console, the redirect and the 404 too: the page handles a
     * token and shows what clients wrote (descriptions, answers): it runs only its own
     * files, never inside another site's frame, and a file's type is never sniffed into
     * something else */
    add_header_named(req, "content-security-policy", WEBCONSOLE_CSP);
    add_header_named(req, "x-content-type-options", "nosniff");
    add_header_named(req, "x-frame-options", "DENY");
    add_header_named(req, "referrer-policy", "no-referrer");
    add_header_named(req, "cross-origin-opener-policy", "same-origin");
    h2o_iovec_t path = req->path_normalized;
    if (path.len == sizeof(WEBCONSOLE_PREFIX) - 2) { /* "/console": its files are relative to the prefix */
        add_header(req, H2O_TOKEN_LOCATION, WEBCONSOLE_PREFIX);
        http_respond_text(req, 301, "Moved Permanently", "See " WEBCONSOLE_PREFIX ".");
        return;
    }
    const webconsole_file *f = webconsole_find(path.base, path.len);
    if (f == NULL) {
        http_respond_text(req, 404, "Not Found", "Not found.");
        return;
    }
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache"); /* revalidated: a new build's files are seen at once */
    http_respond_pooled(req, 200, "OK", webconsole_media_type(f->name), f->body, f->len); /* static: not copied */
}
