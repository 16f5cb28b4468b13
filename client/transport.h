/* transport: one HTTP exchange at a time over libcurl, for the droplit SDK.
 *
 * It knows URLs, headers and bytes, nothing of webhooks or codecs. A transport keeps one
 * libcurl handle and so one connection cache: it must not be used by two threads at once,
 * while separate transports may run in parallel (libcurl's global init is done once). */
#ifndef DROPLIT_TRANSPORT_H
#define DROPLIT_TRANSPORT_H

#include <stddef.h>

#define TRANSPORT_CAUSE_MAX 512        /* bytes of a failure's cause, NUL included */
#define TRANSPORT_CONTENT_TYPE_MAX 128 /* bytes of a response's content-type kept, NUL included */

typedef enum transport_http_version {
    TRANSPORT_HTTP_2_TLS = 0, /* HTTP/2 on https when ALPN agrees, else HTTP/1.1 */
    TRANSPORT_HTTP_1_1,
    TRANSPORT_HTTP_2_PRIOR_KNOWLEDGE,
} transport_http_version;

typedef struct transport_options {
    long connect_timeout_ms; /* > 0 */
    long timeout_ms;         /* > 0, the whole exchange */
    transport_http_version http_version;
    size_t max_response_bytes; /* > 0: a larger body fails with TRANSPORT_TOO_LARGE */
    const char *ca_file;       /* NULL = libcurl's default CA store; copied */
    const char *user_agent;    /* copied */
} transport_options;

/* One request. headers: complete header lines ("name: value"), NULL-terminated. A body
 * (methods POST and PUT) must stay valid for the call. */
typedef struct transport_request {
    const char *method; /* "GET", "POST", "PUT" or "DELETE" */
    const char *url;
    const char *const *headers;
    const void *body;
    size_t body_len;
} transport_request;

/* One answer. body is malloc'd (the caller frees it), NUL-terminated past len. */
typedef struct transport_response {
    int status;
    char content_type[TRANSPORT_CONTENT_TYPE_MAX]; /* "" when the answer had none */
    char *body;
    size_t len;
} transport_response;

typedef enum transport_result {
    TRANSPORT_OK = 0,
    TRANSPORT_FAILED,    /* no complete answer: cause says why */
    TRANSPORT_TOO_LARGE, /* the body passed max_response_bytes; status is set */
    TRANSPORT_NO_MEMORY,
} transport_result;

typedef struct transport_failure {
    int timed_out; /* 1 when TRANSPORT_FAILED because the timeout passed */
    char cause[TRANSPORT_CAUSE_MAX];
} transport_failure;

typedef struct transport transport;

/* Makes a transport (NULL when out of memory or libcurl cannot start). */
transport *transport_create(const transport_options *opts);

/* Frees a transport and closes its connections; NULL is allowed. */
void transport_destroy(transport *t);

/* Performs req. On TRANSPORT_OK fills res (free res->body); otherwise res->body is NULL and
 * fail says what went wrong. */
transport_result transport_perform(transport *t, const transport_request *req, transport_response *res,
                                   transport_failure *fail);

#endif
