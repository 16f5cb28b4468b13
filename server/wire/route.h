/* route: the one table of what hookgate serves over HTTP — every route's id and name, the
 * matcher from (method, path) to a route, and the services served over RPC (the method an
 * RPC path names). The REST routes are the schema's: the google.api.http option of each
 * WebhookService method (gen/droplit/rest_rules.h, made by proto/rest.py).
 *
 * Pure: no I/O, no h2o. The HTTP front dispatches on the id it returns, the metrics count
 * by that id, and a 404 or a 405 (with its Allow header) is decided here and nowhere else.
 * A route's name is the `route` label of the metrics, so it is never a value a client
 * chose. */
#ifndef HOOKGATE_ROUTE_H
#define HOOKGATE_ROUTE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef enum route_id {
    ROUTE_CREATE,     /* POST /api/webhooks */
    ROUTE_GET,        /* GET /api/webhooks/<id> */
    ROUTE_LIST,       /* GET /api/webhooks */
    ROUTE_UPDATE,     /* PUT /api/webhooks/<id> */
    ROUTE_DELETE,     /* DELETE /api/webhooks/<id> */
    ROUTE_INVOKE,     /* POST /api/webhooks/<id>/invoke */
    ROUTE_ATTEMPTS,   /* GET /api/webhooks/<id>/attempts */
    ROUTE_RECOVER,    /* POST /api/webhooks/<id>/recover */
    ROUTE_PUBLISH,    /* POST /api/events */
    ROUTE_GET_EVENT,  /* GET /api/events/<id> */
    ROUTE_RESEND,     /* POST /api/events/<id>/resend */
    ROUTE_ECOSYSTEMS, /* GET /api/ecosystems */
    ROUTE_RPC_CREATE, /* POST /droplit.webhooks.v1.WebhookService/CreateWebhook */
    ROUTE_RPC_GET,
    ROUTE_RPC_LIST,
    ROUTE_RPC_UPDATE,
    ROUTE_RPC_DELETE,
    ROUTE_RPC_INVOKE,
    ROUTE_RPC_PUBLISH,
    ROUTE_RPC_GET_EVENT,
    ROUTE_RPC_ATTEMPTS,
    ROUTE_RPC_RESEND,
    ROUTE_RPC_RECOVER,
    ROUTE_RPC_ECOSYSTEMS,
    ROUTE_RPC_OTHER, /* POST under a served service: a method the table does not name (grpc.health.v1.Health's
                        among them) */
    ROUTE_HEALTHZ,   /* GET or HEAD /healthz */
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,   /* GET /openapi.json: the OpenAPI document generated from the schema (gen/openapi.json) */
    ROUTE_CONSOLE,   /* GET or HEAD /console and anything under /console/: the web console's static files (not
                        part of the API, so not in the OpenAPI document nor in route_describe) */
    ROUTE_PREFLIGHT, /* a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method): decided by the
                        router from the headers, never by route_find */
    ROUTE_NOT_FOUND,          /* no resource has this path */
    ROUTE_METHOD_NOT_ALLOWED, /* the resource exists, not with this method */
    ROUTE_COUNT
} route_id;

#define ROUTE_METHOD_MAX 16 /* bytes of a method the matcher compares; longer ones match nothing */

/* What a REST answer holds on success (the schema's droplit.api.rest body). */
typedef enum route_answer {
    REST_ANSWER_MESSAGE, /* the response message (JSON, or binary when asked for) */
    REST_ANSWER_EMPTY,   /* no body */
    REST_ANSWER_TEXT,    /* JSON callers: the response's text_field as text/plain; binary callers: the message */
} route_answer;

/* A REST route as the schema declares it (its google.api.http and droplit.api.rest
 * options): which RPC method it calls and where that method's request comes from. */
typedef struct route_rest {
    const ProtobufCMethodDescriptor *method;    /* of WebhookService */
    const ProtobufCFieldDescriptor *path_field; /* the request's string field the path's {id} is, or NULL */
    const ProtobufCFieldDescriptor *body_field; /* body "<field>": that message field is the body; else NULL */
    int body_all;                               /* body "*": the body is the request (path_field set after) */
    int query;              /* no body, and the request has fields besides path_field: they are the query */
    int idempotency_key;    /* the call takes an Idempotency-Key header */
    unsigned status;        /* on success */
    route_answer answer;
    const ProtobufCFieldDescriptor *text_field; /* REST_ANSWER_TEXT: the response's string field; else NULL */
} route_rest;

/* What the matcher decided. */
typedef struct route_match {
    route_id id;
    const route_rest *rest; /* a REST route: how its request is read and answered; else NULL */
    const char *allow;   /* ROUTE_METHOD_NOT_ALLOWED: the Allow header's value; else NULL */
    const char *item_id; /* a route of one webhook or event: the <id> segment (points into path, not NUL terminated) */
    size_t item_id_len;
} route_match;

/* Matches a request. path is the normalised path without the query; /v0/api/... is an
 * alias of /api/... (the health and metrics paths have no alias). Returns out->id. */
route_id route_find(const char *method, size_t method_len, const char *path, size_t path_len, route_match *out);

/* The i-th path the table answers other than the RPC services': its template as the
 * OpenAPI document writes it ("/api/webhooks/{id}/invoke"; a REST path is answered under
 * /v0 too) into path, and its methods (Allow's value, "GET, PUT, DELETE") into *allow.
 * 0 when i is past the last; -1 when the template does not fit in size bytes. */
int route_describe(size_t i, char *path, size_t size, const char **allow);

/* The route's name ("create", "rpc_get", ...): the metrics' route label. Both refusals are
 * named "other", the label every request the table does not serve has always had. */
const char *route_name(route_id id);

/* The path prefix of the RPC service, "/droplit.webhooks.v1.WebhookService", from the
 * schema's service descriptor. */
const char *route_rpc_prefix(void);

/* The method of path "/<service>/<Method>" among the services served over RPC
 * (WebhookService, the standard grpc.health.v1.Health and gRPC server reflection, v1 and
 * v1alpha), or NULL: another path, or a
 * method the service's schema does not have. */
const ProtobufCMethodDescriptor *route_rpc_method(const char *path, size_t len);

/* 1 when m (a method route_rpc_method returned) is marked
 * `option idempotency_level = NO_SIDE_EFFECTS;` in the schema: Connect may call it with GET,
 * and route_find routes GET to it (else GET is 405, Allow: POST). */
int route_rpc_no_side_effects(const ProtobufCMethodDescriptor *m);

/* 1 when m's request is a stream in the schema (`rpc M(stream Request)`): a transport
 * hands each of its messages to rpc_handle_message as it arrives. */
int route_rpc_client_streaming(const ProtobufCMethodDescriptor *m);

/* The services served over RPC, WebhookService first: route_rpc_service(i) for i below
 * route_rpc_service_count(). */
size_t route_rpc_service_count(void);
const ProtobufCServiceDescriptor *route_rpc_service(size_t i);

#endif
