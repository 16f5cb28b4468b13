/* error: see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The single mapping table: one row per kind, every protocol's rendering side by side. */
static const error_mapping mappings[ERROR_KIND_COUNT] = {
    [ERROR_NONE] = {200, "OK", NULL, NULL, 0},
    [ERROR_INVALID_PARAMS] = {400, "Bad Request", "InvalidParams", "invalid_argument", 3},
    [ERROR_INVALID_BODY] = {400, "Bad Request", "InvalidBody", "invalid_argument", 3},
    [ERROR_UNAUTHENTICATED] = {401, "Unauthorized", NULL, "unauthenticated", 16},
    [ERROR_PERMISSION_DENIED] = {403, "Forbidden", NULL, "permission_denied", 7},
    [ERROR_NOT_FOUND] = {404, "Not Found", NULL, "not_found", 5},
    [ERROR_TOO_LARGE] = {413, "Payload Too Large", NULL, "resource_exhausted", 8},
    [ERROR_UNAVAILABLE] = {503, "Service Unavailable", NULL, "unavailable", 14},
    [ERROR_INTERNAL] = {500, "Internal Server Error", NULL, "internal", 13},
};

void error_clear(error *err)
{
    err->kind = ERROR_NONE;
    err->reason[0] = '\0';
    err->n_params = 0;
}

void error_set(error *err, error_kind kind, const char *fmt, ...)
{
    va_list ap;
    err->kind = kind;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
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
    snprintf(p->path, sizeof(p->path), "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
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
    default:
        return "";
    }
}

void error_to_response(const error *err, error_response *r)
{
    schema_error_response init = DROPLIT__WEBHOOKS__V1__ERROR_RESPONSE__INIT;
    const char *type = error_mapping_of(err->kind)->error_type;
    r->msg = init;
    r->msg.error_type = (char *)(type != NULL ? type : "");
    r->msg.n_errors = err->n_params;
    r->msg.errors = r->ptrs;
    for (size_t i = 0; i < err->n_params; i++) {
        schema_param_error p = DROPLIT__WEBHOOKS__V1__PARAM_ERROR__INIT;
        p.in = (char *)error_in_name(err->params[i].in);
        p.path = (char *)err->params[i].path;
        p.message = (char *)err->params[i].message;
        r->params[i] = p;
        r->ptrs[i] = &r->params[i];
    }
}
