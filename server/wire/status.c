/* status: see status.h. */
#include "status.h"

#include <stdio.h>
#include <string.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "hg_assert.h"

/* The single mapping table: one row per kind, every protocol's rendering side by side. */
static const status_mapping mappings[ERROR_KIND_COUNT] = {
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
    /* a 503 over HTTP, but "retry later, more slowly" in the RPC protocols' terms */
    [ERROR_OVERLOADED] = {503, "Service Unavailable", "Overloaded", 1, "resource_exhausted", 429, 8},
    /* the upstream (a webhook's url) failed: gRPC's and Connect's "unavailable", as proxies answer */
    [ERROR_BAD_GATEWAY] = {502, "Bad Gateway", "BadGateway", 1, "unavailable", 503, 14},
    /* only the RPC protocols carry a deadline; 504 is what Connect gives deadline_exceeded */
    [ERROR_DEADLINE_EXCEEDED] = {504, "Gateway Timeout", "DeadlineExceeded", 1, "deadline_exceeded", 504, 4},
};

const status_mapping *status_of(error_kind kind)
{
    if ((unsigned)kind >= ERROR_KIND_COUNT)
        kind = ERROR_INTERNAL;
    return &mappings[kind];
}

void status_param_path(const error *err, size_t i, char out[ERROR_PATH_MAX])
{
    const char *path = error_param_path(err, i);
    if (err->params[i].is_field)
        codec_json_name(path, out, ERROR_PATH_MAX);
    else
        snprintf(out, ERROR_PATH_MAX, "%s", path);
}

void status_response_fill(const error *err, status_response *r)
{
    schema_error_response init = SCHEMA_ERROR_RESPONSE_INIT;
    schema_param_error param_init = SCHEMA_PARAM_ERROR_INIT;
    HG_ASSERT(err->n_params <= ERROR_MAX_PARAMS);
    r->msg = init;
    r->msg.error_type = (char *)status_of(err->kind)->error_type;
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
        r->params[i].in = (char *)error_in_name((error_in)err->params[i].in);
        status_param_path(err, i, r->paths[i]);
        r->params[i].path = r->paths[i];
        r->params[i].message = (char *)error_param_message(err, i);
        r->ptrs[i] = &r->params[i];
    }
    r->msg.n_errors = err->n_params;
}

void status_summary(const error *err, char *buf, size_t size)
{
    HG_ASSERT(size > 0);
    if (err->n_params == 0) {
        snprintf(buf, size, "%s", err->reason);
        return;
    }
    size_t used = (size_t)snprintf(buf, size, "%s:", status_of(err->kind)->error_type);
    for (size_t i = 0; i < err->n_params && used < size; i++) {
        char path[ERROR_PATH_MAX];
        status_param_path(err, i, path);
        used += (size_t)snprintf(buf + used, size - used, "%s %s: %s", i ? ";" : "", path, error_param_message(err, i));
    }
    if (used >= size)
        error_trim_utf8(buf); /* the summary was cut: not inside a character */
}

uint8_t *status_error_response_encode(const error *err, ProtobufCAllocator *alloc, size_t *len)
{
    status_response r;
    status_response_fill(err, &r);
    return codec_proto_encode(&r.msg.base, alloc, len);
}

uint8_t *status_rpc_encode(const error *err, ProtobufCAllocator *alloc, size_t *len)
{
    size_t detail_len;
    uint8_t *detail = status_error_response_encode(err, alloc, &detail_len);
    if (detail == NULL)
        return NULL;
    char message[ERROR_MESSAGE_MAX * 2];
    status_summary(err, message, sizeof(message));
    schema_any any = SCHEMA_ANY_INIT;
    any.type_url = "type.googleapis.com/" STATUS_ERROR_RESPONSE_TYPE;
    any.value.data = detail;
    any.value.len = detail_len;
    schema_any *details[1] = {&any};
    schema_rpc_status status = SCHEMA_RPC_STATUS_INIT;
    status.code = status_of(err->kind)->grpc_status;
    status.message = message;
    status.n_details = 1;
    status.details = details;
    return codec_proto_encode(&status.base, alloc, len);
}
