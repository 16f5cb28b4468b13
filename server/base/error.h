/* error: the one error value every hookgate module returns, and the one table that maps
 * its kinds to each protocol's form.
 *
 * An error is a kind, a plain-text reason (for the kinds that answer in text) and a bounded
 * list of parameter problems (for InvalidParams / InvalidBody). It lives on the caller's
 * stack: no allocation, so any layer can fill it without a failure path of its own. */
#ifndef HOOKGATE_ERROR_H
#define HOOKGATE_ERROR_H

#include <stddef.h>

#include "schema.h"

#define ERROR_MAX_PARAMS 16   /* problems kept per request; more are dropped */
#define ERROR_PATH_MAX 64     /* bytes of a parameter path, NUL included */
#define ERROR_MESSAGE_MAX 256 /* bytes of a message or reason, NUL included */

typedef enum error_kind {
    ERROR_NONE = 0,
    ERROR_INVALID_PARAMS,    /* 400 InvalidParams: one or more parameter problems */
    ERROR_INVALID_BODY,      /* 400 InvalidBody: the body cannot be read at all */
    ERROR_UNAUTHENTICATED,   /* 401: no token, or an unknown one */
    ERROR_PERMISSION_DENIED, /* 403: a known token acting outside what it may do */
    ERROR_NOT_FOUND,         /* 404: reason names what does not exist */
    ERROR_CONFLICT,          /* 409: another request with the same Idempotency-Key is in progress */
    ERROR_UNPROCESSABLE,     /* 422: an Idempotency-Key reused with a different request */
    ERROR_TOO_LARGE,         /* 413: a request over a configured limit */
    ERROR_RATE_LIMITED,      /* 429: a token over its create rate; retry_after_s says when to retry */
    ERROR_UNAVAILABLE,       /* 503: the store cannot take writes now */
    ERROR_UNIMPLEMENTED,     /* an RPC method or feature this server does not have */
    ERROR_INTERNAL,          /* 500: a bug or resource exhaustion; reason says which */
    ERROR_KIND_COUNT
} error_kind;

/* Where a parameter lives. ERROR_IN_UNSET lets the core report a problem without knowing
 * the transport; the transport's binding fills it (error_set_default_in). */
typedef enum error_in { ERROR_IN_UNSET = 0, ERROR_IN_BODY, ERROR_IN_QUERY, ERROR_IN_PATH, ERROR_IN_HEADER } error_in;

/* Problems sort by `order`: a field's number in the schema, so errors come out in schema
 * field order whichever layer found them. */
#define ERROR_ORDER_ADDITIONAL (1u << 30)              /* after every field: field numbers are < 2^29 */
#define ERROR_ORDER_QUERY (ERROR_ORDER_ADDITIONAL + 1) /* query problems of a body request */
#define ERROR_ORDER_HEADER (ERROR_ORDER_QUERY + 1)     /* header problems, after the body's and the query's */

typedef struct error_param {
    error_in in;
    unsigned order;
    char path[ERROR_PATH_MAX];
    char message[ERROR_MESSAGE_MAX];
} error_param;

typedef struct error {
    error_kind kind;
    char reason[ERROR_MESSAGE_MAX]; /* text for 401/403/404/413/500/503 */
    unsigned retry_after_s;         /* ERROR_RATE_LIMITED: seconds until a retry can succeed */
    size_t n_params;
    error_param params[ERROR_MAX_PARAMS];
} error;

/* How one error kind shows on each protocol. */
typedef struct error_mapping {
    int http_status;
    const char *http_reason;  /* HTTP reason phrase */
    const char *error_type;   /* ErrorResponse.error_type (Droplit's errorType for 400s) */
    int rest_plain_text;      /* JSON REST answers with the reason as text/plain, as Droplit does */
    const char *connect_code; /* Connect protocol code */
    int connect_status;       /* the HTTP status the Connect protocol gives that code */
    int grpc_status;          /* gRPC status code */
} error_mapping;

/* Cuts a string that a bound truncated back to a whole UTF-8 character (a no-op on a
 * string that ends in one). Every message built here leaves as JSON or protobuf text. */
void error_trim_utf8(char *s);

/* Resets err to ERROR_NONE with no params. */
void error_clear(error *err);

/* Sets kind and a printf-style reason (truncated to ERROR_MESSAGE_MAX). */
void error_set(error *err, error_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds a parameter problem and makes the kind ERROR_INVALID_PARAMS unless it already is
 * ERROR_INVALID_BODY. Problems beyond ERROR_MAX_PARAMS are dropped silently: the client
 * still gets the first sixteen, which is all a person fixes at once. Strings are truncated
 * to their bounds. */
void error_add_param(error *err, error_in in, unsigned order, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Returns 1 when a problem for `path` is already recorded. */
int error_has_param(const error *err, const char *path);

/* Gives every problem without a location the location `in`. */
void error_set_default_in(error *err, error_in in);

/* Stable-sorts the problems by order (schema field order). */
void error_sort_params(error *err);

/* The mapping of a kind; never NULL. */
const error_mapping *error_mapping_of(error_kind kind);

/* The schema's ErrorResponse for an error, built without allocation: msg points into the
 * error and into this struct, so both must outlive any use of msg. */
typedef struct error_response {
    schema_error_response msg;
    schema_param_error params[ERROR_MAX_PARAMS];
    schema_param_error *ptrs[ERROR_MAX_PARAMS];
} error_response;

/* Fills r->msg from err: errorType from the mapping table and one entry per param; a kind
 * without params gets one entry carrying the reason. */
void error_to_response(const error *err, error_response *r);

/* "body", "query", "path", "header", or "" for ERROR_IN_UNSET. */
const char *error_in_name(error_in in);

#endif
