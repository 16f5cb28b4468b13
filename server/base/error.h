/* error: the one error value of hookgate's domain.
 *
 * An error is a kind, a plain-text reason (for the kinds that answer in text) and a bounded
 * list of parameter problems (for InvalidParams / InvalidBody). A problem names a schema
 * field by its schema name and number (`ecosystem_id`, 1), never by a protocol's spelling:
 * the wire layer (server/wire/status.h) renders it as each protocol shows it, and holds the
 * one table mapping kinds to HTTP / Connect / gRPC. The value lives on the caller's stack
 * (about 1.5 KiB, no allocation), so any layer can fill it without a failure path of its
 * own; error_set and error_clear reset it whole. */
#ifndef HOOKGATE_ERROR_H
#define HOOKGATE_ERROR_H

#include <stddef.h>
#include <stdint.h>

#define ERROR_MAX_PARAMS 16   /* problems kept per request; more are dropped */
#define ERROR_PATH_MAX 64     /* bytes of a parameter path, NUL included */
#define ERROR_MESSAGE_MAX 256 /* bytes of a message or reason, NUL included */
#define ERROR_TEXT_MAX 1024   /* bytes of every problem's path and message together */

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
    ERROR_OVERLOADED,        /* 503: unsent output fills the connection's or the server's buffer budget */
    ERROR_BAD_GATEWAY,       /* 502: an invoked webhook's url did not answer 2xx; reason says what happened */
    ERROR_DEADLINE_EXCEEDED, /* 504: an RPC's deadline (grpc-timeout, connect-timeout-ms) passed before its answer */
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
    uint32_t order;
    uint8_t in;       /* error_in */
    uint8_t is_field; /* 1: the path is a schema field name, which a protocol may spell its own way */
    uint16_t path;    /* offsets into error.text */
    uint16_t message;
} error_param;

typedef struct error {
    error_kind kind;
    uint32_t retry_after_s; /* seconds until a retry can succeed (Retry-After): always for ERROR_RATE_LIMITED, else 0 = unsaid */
    uint16_t n_params;
    uint16_t text_used;
    error_param params[ERROR_MAX_PARAMS];
    char reason[ERROR_MESSAGE_MAX]; /* text for 401/403/404/413/500/503 */
    char text[ERROR_TEXT_MAX];      /* the problems' paths and messages, NUL-terminated each */
} error;

/* Cuts a string that a bound truncated back to a whole UTF-8 character (a no-op on a
 * string that ends in one). Every message built here leaves as JSON or protobuf text. */
void error_trim_utf8(char *s);

/* Resets err whole: ERROR_NONE, no reason, no params, no retry time. */
void error_clear(error *err);

/* Resets err whole, then sets kind and a printf-style reason (cut to ERROR_MESSAGE_MAX). */
void error_set(error *err, error_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* error_set for ERROR_RATE_LIMITED, with the seconds until a retry can succeed. */
void error_set_rate_limited(error *err, unsigned retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds a parameter problem and makes the kind ERROR_INVALID_PARAMS unless it already is
 * ERROR_INVALID_BODY. Problems beyond ERROR_MAX_PARAMS are dropped silently: the client
 * still gets the first sixteen, which is all a person fixes at once. The path is cut to
 * ERROR_PATH_MAX, the message to ERROR_MESSAGE_MAX, and both to what is left of
 * ERROR_TEXT_MAX (a problem with no room left for its text is dropped). */
void error_add_param(error *err, error_in in, unsigned order, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Adds a problem with a schema field: path is the field's schema name, order its number. */
void error_add_field(error *err, error_in in, unsigned field_number, const char *field_name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The i-th problem's path and message (i < n_params). */
const char *error_param_path(const error *err, size_t i);
const char *error_param_message(const error *err, size_t i);

/* Returns 1 when a problem is recorded with this order (a schema field's number): a
 * codec's report of the field, at any depth, or a validator's. */
int error_has_order(const error *err, unsigned order);

/* Gives every problem without a location the location `in`. */
void error_set_default_in(error *err, error_in in);

/* Stable-sorts the problems by order (schema field order). */
void error_sort_params(error *err);

/* "body", "query", "path", "header", or "" for ERROR_IN_UNSET. */
const char *error_in_name(error_in in);

#endif
