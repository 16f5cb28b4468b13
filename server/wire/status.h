/* status: how the one error value shows on each protocol — the one table mapping error
 * kinds to HTTP / Connect / gRPC, and the schema's renderings of an error (ErrorResponse,
 * RpcStatus, a one-line summary).
 *
 * A new protocol is one more column in the table (status.c). Parameter paths that name a
 * schema field (error_add_field) are rendered in the JSON mapping's lowerCamelCase, which
 * is how every protocol here names fields in errors. */
#ifndef HOOKGATE_STATUS_H
#define HOOKGATE_STATUS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "schema.h"

/* How one error kind shows on each protocol. */
typedef struct status_mapping {
    int http_status;
    const char *http_reason;  /* HTTP reason phrase */
    const char *error_type;   /* ErrorResponse.error_type (Droplit's errorType for 400s) */
    int rest_plain_text;      /* JSON REST answers with the reason as text/plain, as Droplit does */
    const char *connect_code; /* Connect protocol code */
    int connect_status;       /* the HTTP status the Connect protocol gives that code */
    int grpc_status;          /* gRPC status code */
} status_mapping;

/* The mapping of a kind; never NULL (an out-of-range kind maps as ERROR_INTERNAL). */
const status_mapping *status_of(error_kind kind);

/* The i-th problem's path as the protocols show it (a schema field in lowerCamelCase). */
void status_param_path(const error *err, size_t i, char out[ERROR_PATH_MAX]);

/* The schema's ErrorResponse for an error, built without allocation: msg points into the
 * error and into this struct, so both must outlive any use of msg. */
typedef struct status_response {
    schema_error_response msg;
    schema_param_error params[ERROR_MAX_PARAMS];
    schema_param_error *ptrs[ERROR_MAX_PARAMS];
    char paths[ERROR_MAX_PARAMS][ERROR_PATH_MAX];
} status_response;

/* Fills r->msg from err: errorType from the mapping table and one entry per param; a kind
 * without params gets one entry carrying the reason. */
void status_response_fill(const error *err, status_response *r);

/* A one-line human summary of err for grpc-message / Connect's message, e.g.
 * "InvalidParams: ecosystemId: invalid id; url: field is required" (cut at a whole
 * character to fit size). */
void status_summary(const error *err, char *buf, size_t size);

/* The binary ErrorResponse for err, packed into memory from alloc; NULL when out of memory. */
uint8_t *status_error_response_encode(const error *err, ProtobufCAllocator *alloc, size_t *len);

/* The schema's RpcStatus for err (wire-compatible with google.rpc.Status) with the
 * ErrorResponse as its one detail, packed into memory from alloc; NULL when out of memory. */
uint8_t *status_rpc_encode(const error *err, ProtobufCAllocator *alloc, size_t *len);

#define STATUS_ERROR_RESPONSE_TYPE "droplit.webhooks.v1.ErrorResponse"

#endif
