/* error: see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The single mapping table: one row per kind, every protocol's rendering side by side. */
static const error_mapping mappings[ERROR_KIND_COUNT] = {
    [ERROR_NONE] = {200, "OK", "", 0, "", 200, 0},
    [ERROR_INVALID_PARAMS] = {400, "Bad Request", "InvalidParams", 0, "invalid_argument", 400, 3},
    [ERROR_INVALID_BODY] = {400, "Bad Request", "InvalidBody", 0, "invalid_argument", 400, 3},
    [ERROR_UNAUTHENTICATED] = {401, "Unauthorized", "Unauthenticated", 1, "unauthenticated", 401, 16},
    [ERROR_PERMISSION_DENIED] = {403, "Forbidden", "PermissionDenied", 1, "permission_denied", 403, 7},
    [ERROR_NOT_FOUND] = {404, "Not Found", "NotFound", 1, "not_found", 404, 5},
    [ERROR_CONFLICT] = {409, "Conflict", "Conflict", 1, "aborted", 409, 10},
    [ERROR_UNPROCESSABLE] = {422, "Unprocessable Content", "UnprocessableContent", 1, "failed_precondition", 400, 9},
    [ERROR_TOO_LARGE] = {413, "Payload Too Large", "PayloadTooLarge", 1, "resource_exhausted", 429, 8},
    [ERROR_RATE_LIMITED] = {429, "Too Many Requests", "RateLimited", 1, "resource_exhausted", 429, 8},
    [ERROR_UNAVAILABLE] = {503, "Service Unavailable", "Unavailable", 1, "unavailable", 503, 14},
    [ERROR_UNIMPLEMENTED] = {501, "Not Implemented", "Unimplemented", 1, "unimplemented", 501, 12},
    [ERROR_INTERNAL] = {500, "Internal Server Error", "Internal", 1, "internal", 500, 13},
};

void error_trim_utf8(char *s)
{
    size_t len = strlen(s), start = len;
    while (start > 0 && len - start < 4 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
        start--; /* back over continuation bytes */
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (lead >= 0xc0 && len - (start - 1) < need)
        s[start - 1] = '\0';
}

void error_clear(error *err)
{
    err->kind = ERROR_NONE;
    err->reason[0] = '\0';
    err->retry_after_s = 0;
    err->n_params = 0;
}

void error_set(error *err, error_kind kind, const char *fmt, ...)
{
    va_list ap;
    err->kind = kind;
    va_start(ap, fmt);
    if (vsnprintf(err->reason, sizeof(err->reason), fmt, ap) >= (int)sizeof(err->reason))
        error_trim_utf8(err->reason);
    va_end(ap);
}

void error_add_param(error *err, error_in in, unsigned order, const char *path, const char *fmt, ...)
{
    if (err->kind != ERROR_INVALID_BODY)
        err->kind = ERROR_INVALID_PARAMS;
    if (err->n_params == ERROR_MAX_PARAMS)
        return;
    error_param *p = &err->params[err->n_params++];
    p->in = in;
    p->order = order;
    if (snprintf(p->path, sizeof(p->path), "%s", path) >= (int)sizeof(p->path))
        error_trim_utf8(p->path);
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(p->message, sizeof(p->message), fmt, ap) >= (int)sizeof(p->message))
        error_trim_utf8(p->message);
    va_end(ap);
}

int error_has_param(const error *err, const char *path)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (strcmp(err->params[i].path, path) == 0)
            return 1;
    return 0;
}

void error_set_default_in(error *err, error_in in)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (err->params[i].in == ERROR_IN_UNSET)
            err->params[i].in = in;
}

void error_sort_params(error *err)
{
    /* insertion sort: stable, and n <= ERROR_MAX_PARAMS */
    for (size_t i = 1; i < err->n_params; i++) {
        error_param tmp = err->params[i];
        size_t j = i;
        for (; j > 0 && err->params[j - 1].order > tmp.order; j--)
            err->params[j] = err->params[j - 1];
        err->params[j] = tmp;
    }
}

const error_mapping *error_mapping_of(error_kind kind)
{
    if ((unsigned)kind >= ERROR_KIND_COUNT)
        kind = ERROR_INTERNAL;
    return &mappings[kind];
}

const char *error_in_name(error_in in)
{
    switch (in) {
    case ERROR_IN_BODY:
        return "body";
    case ERROR_IN_QUERY:
        return "query";
    case ERROR_IN_PATH:
        return "path";
    case ERROR_IN_HEADER:
        return "header";
    default:
        return "";
    }
}

void error_to_response(const error *err, error_response *r)
{
    schema_error_response init = DROPLIT__WEBHOOKS__V1__ERROR_RESPONSE__INIT;
    schema_param_error param_init = DROPLIT__WEBHOOKS__V1__PARAM_ERROR__INIT;
    r->msg = init;
    r->msg.error_type = (char *)error_mapping_of(err->kind)->error_type;
    r->msg.errors = r->ptrs;
    if (err->n_params == 0) {
        r->params[0] = param_init;
        r->params[0].message = (char *)err->reason;
        r->ptrs[0] = &r->params[0];
        r->msg.n_errors = 1;
        return;
    }
    for (size_t i = 0; i < err->n_params; i++) {
        r->params[i] = param_init;
        r->params[i].in = (char *)error_in_name(err->params[i].in);
        r->params[i].path = (char *)err->params[i].path;
        r->params[i].message = (char *)err->params[i].message;
        r->ptrs[i] = &r->params[i];
    }
    r->msg.n_errors = err->n_params;
}
