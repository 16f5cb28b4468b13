/* droplit: a C client for the Droplit IoE webhooks API as hookgate serves it.
 *
 * The SDK twin of the documented `droplit.webhooks.create("ECOSYSTEM-ID", "CALLBACK-URL")`:
 * make a client from a server URL and a token, then create, read, list, update, delete and
 * invoke webhooks, publish events to an ecosystem's webhooks, follow their deliveries and
 * deliver them again. It speaks HTTP/1.1 or HTTP/2 through libcurl, JSON by default or
 * binary protobuf, and every message on the wire goes through hookgate's own schema and
 * codecs.
 *
 * Ownership: every pointer a droplit_ function returns through an out-parameter belongs to
 * the caller and is released with the matching droplit_*_free (NULL is always accepted);
 * every const char * inside a returned struct belongs to that struct and lives until it is
 * freed. Strings are never NULL: absent values are "". Returned structs are read-only: only
 * pointers the library handed out may be passed back to it.
 *
 * Threads: separate clients may be used concurrently from separate threads; one client must
 * not be used by two threads at once (it keeps one connection). Everything else here is
 * safe to call from any thread. */
#ifndef DROPLIT_H
#define DROPLIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DROPLIT_DEFAULT_CONNECT_TIMEOUT_MS 10000L      /* connecting, TLS handshake included */
#define DROPLIT_DEFAULT_TIMEOUT_MS 30000L              /* a whole call, connecting included */
#define DROPLIT_DEFAULT_MAX_RESPONSE_BYTES (16u << 20) /* a larger response body is an error */

/* How the client talks HTTP. */
typedef enum droplit_http_version {
    DROPLIT_HTTP_2_TLS = 0,         /* default: HTTP/2 on https when ALPN agrees, else HTTP/1.1 */
    DROPLIT_HTTP_1_1 = 1,           /* HTTP/1.1 only */
    DROPLIT_HTTP_2_PRIOR_KNOWLEDGE, /* HTTP/2 from the first byte, also on cleartext http */
} droplit_http_version;

/* How request and response bodies are encoded. */
typedef enum droplit_encoding {
    DROPLIT_ENCODING_JSON = 0, /* default: application/json, the proto3 JSON mapping */
    DROPLIT_ENCODING_PROTOBUF, /* application/x-protobuf, the binary messages of the schema */
} droplit_encoding;

/* Client settings. A zeroed struct (or a NULL pointer) means every default. */
typedef struct droplit_client_options {
    long connect_timeout_ms; /* 0 = DROPLIT_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;         /* per call; 0 = DROPLIT_DEFAULT_TIMEOUT_MS */
    droplit_http_version http_version;
    droplit_encoding encoding;
    size_t max_response_bytes; /* 0 = DROPLIT_DEFAULT_MAX_RESPONSE_BYTES */
    const char *ca_file;       /* PEM file of CAs to verify https servers; NULL = system store */
} droplit_client_options;

/* Optional fields of a new webhook. NULL (the struct or a member) means not given. */
typedef struct droplit_create_options {
    const char *secret; /* signs deliveries; the server stores it and never returns it */
    const char *description;
    const char *idempotency_key; /* sent as Idempotency-Key (1..255 printable ASCII): a retry with the
                                    same key within 24 h returns the first create's webhook */
} droplit_create_options;

/* What an update does with the disabled flag. */
typedef enum droplit_toggle {
    DROPLIT_KEEP = 0, /* leave it as it is (a zeroed struct's value) */
    DROPLIT_SET_FALSE,
    DROPLIT_SET_TRUE,
} droplit_toggle;

/* Optional fields of an update. NULL (the struct or a member) leaves the stored value. */
typedef struct droplit_update_options {
    const char *secret; /* "" removes the secret */
    const char *description;
    droplit_toggle disabled;
} droplit_update_options;

/* A stored webhook, as the server returns it. */
typedef struct droplit_webhook {
    const char *id;          /* 24 lowercase hex digits */
    const char *description; /* "" when none was given */
    const char *ecosystem_id;
    const char *url;
    int disabled;           /* 0 or 1 */
    const char *created_at; /* RFC 3339 UTC with milliseconds: "2018-02-28T15:16:58.941Z" */
} droplit_webhook;

/* The webhooks of one ecosystem, oldest first: all of them (droplit_webhook_list) or one
 * page (droplit_webhook_list_page). */
typedef struct droplit_webhooks {
    size_t count;
    droplit_webhook *const *items; /* owned by the list: droplit_webhook_free ignores them */
    const char *next_page_token;   /* a page that more webhooks follow: pass it as page_token to get
                                      them; "" on the last page and for a whole list */
} droplit_webhooks;

/* Which page droplit_webhook_list_page asks for. A zeroed struct (or NULL) is the first page
 * at the server's default size. */
typedef struct droplit_list_options {
    unsigned limit;         /* webhooks per page; 0 = the server's limits.default_page_size; above its
                               limits.max_page_size the server answers 400 naming `limit` */
    const char *page_token; /* NULL or "" = the first page; else the next_page_token of a page of the
                               same ecosystem's list (any other is a 400 naming `pageToken`) */
} droplit_list_options;

/* The most webhooks droplit_webhook_list gathers: past it (a server that pages forever) the
 * call fails with DROPLIT_ERROR_RESPONSE. */
#define DROPLIT_MAX_LIST_ITEMS (1u << 24)

/* What failed. */
typedef enum droplit_error_kind {
    DROPLIT_ERROR_ARGUMENT = 1, /* the call's arguments cannot make a request (NULL handle, empty id, ...) */
    DROPLIT_ERROR_TRANSPORT,    /* no HTTP answer: refused, unreachable, timed out, TLS; see cause */
    DROPLIT_ERROR_HTTP,         /* the server answered with an error status; see the fields below */
    DROPLIT_ERROR_RESPONSE,     /* an answer that is not what the API promises, or over max_response_bytes */
    DROPLIT_ERROR_NO_MEMORY,
} droplit_error_kind;

/* One problem with one parameter of a request (Droplit's standard error structure). */
typedef struct droplit_param_error {
    const char *in;      /* "body", "query", "path" or "header" */
    const char *path;    /* the parameter: "ecosystemId", "url", "id", "additional parameters", "body" */
    const char *message; /* "field is required", "invalid id", ... */
} droplit_param_error;

/* A failed call, as a value. */
typedef struct droplit_error {
    droplit_error_kind kind;
    int http_status;        /* the answer's status; 0 when there was none */
    const char *error_type; /* "InvalidParams" / "InvalidBody" for 400s, or the kind name a
                               protobuf error carries ("NotFound", ...); "" for plain text */
    size_t n_params;        /* the problems of a 400, in the server's order */
    const droplit_param_error *params;
    const char *reason; /* the plain-text reason of other statuses
                           ("Webhook with id ... does not exist."); "" otherwise */
    const char *cause;  /* TRANSPORT: libcurl's message; ARGUMENT / RESPONSE /
                           NO_MEMORY: what is wrong; "" otherwise */
    int timed_out;      /* 1 when a TRANSPORT error is the timeout */
} droplit_error;

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *droplit_version(void);

/* A connection to one server with one token; opaque. */
typedef struct droplit_client droplit_client;

/* Makes a client for the server at server_url ("http://host:port" or "https://...", a path
 * prefix allowed) that sends token as the `authorization` header (NULL = no header). opts
 * may be NULL; nothing of it is kept after the call. Returns NULL when server_url is not an
 * http(s) URL, a token has a line break, an option is out of range, or memory runs out. */
droplit_client *droplit_client_create(const char *server_url, const char *token, const droplit_client_options *opts);

/* Closes the client's connection and frees it. */
void droplit_client_free(droplit_client *client);

/* POST /api/webhooks. NULL ecosystem_id or url are sent as absent, so the server reports
 * them ("field is required"); opts may be NULL. On success returns 0 and the new webhook in
 * *out (free with droplit_webhook_free). On failure returns -1, *out NULL and, when err is
 * not NULL, the error in *err (free with droplit_error_free).
 * Hazard: a TRANSPORT error after the request left (a timeout) or a RESPONSE error does not
 * say whether the server created the webhook. Give opts->idempotency_key and retry with the
 * same key: the server then answers with the webhook it made, or makes it once. */
int droplit_webhook_create(droplit_client *client, const char *ecosystem_id, const char *url,
                           const droplit_create_options *opts, droplit_webhook **out, droplit_error **err);

/* GET /api/webhooks/<id>; returns and fails as droplit_webhook_create. An empty or NULL id is
 * an ARGUMENT error (it cannot name a webhook in a path). */
int droplit_webhook_get(droplit_client *client, const char *id, droplit_webhook **out, droplit_error **err);

/* Every webhook of the ecosystem, oldest first: GET /api/webhooks?ecosystemId=<id>, then
 * each next page with its pageToken, at the server's default page size, until the last.
 * A webhook created during the walk may or may not be in it; one that existed throughout
 * is there exactly once. NULL ecosystem_id is sent as absent. On success returns 0 and the
 * list in *out (free with droplit_webhooks_free). Fails as droplit_webhook_create, on the
 * first page that fails (nothing of the earlier pages is returned). */
int droplit_webhook_list(droplit_client *client, const char *ecosystem_id, droplit_webhooks **out, droplit_error **err);

/* One page of the ecosystem's webhooks: GET /api/webhooks?ecosystemId=<id>&limit=<n>&pageToken=<t>
 * as opts says (NULL: the first page, default size). (*out)->next_page_token is "" on the
 * last page. Returns and fails as droplit_webhook_list. */
int droplit_webhook_list_page(droplit_client *client, const char *ecosystem_id, const droplit_list_options *opts,
                              droplit_webhooks **out, droplit_error **err);

/* PUT /api/webhooks/<id>: sets the url (required by the server: NULL is sent as absent, so
 * it reports "field is required") and what opts gives (may be NULL). Returns 0 (the server
 * answers 200 with no body), or -1 with the error in *err as droplit_webhook_create. An empty
 * or NULL id is an ARGUMENT error. Updating the same webhook twice with the same values is
 * harmless, so a call whose answer was lost can simply be repeated. */
int droplit_webhook_update(droplit_client *client, const char *id, const char *url,
                           const droplit_update_options *opts, droplit_error **err);

/* DELETE /api/webhooks/<id>. Returns 0, or -1 with the error in *err. A repeat after a lost
 * answer says 404: the webhook is gone either way. */
int droplit_webhook_delete(droplit_client *client, const char *id, droplit_error **err);

/* What a successful invoke tells: the webhook's url answered 2xx in time. */
typedef struct droplit_invocation {
    const char *message;       /* the server's words: "Webhook verified" */
    int status_code;           /* what the url answered (2xx); 0 when the server did not say, as the
                                  JSON API does not (its answer is the message alone): use
                                  DROPLIT_ENCODING_PROTOBUF to learn it */
    unsigned long duration_ms; /* the url's call, start to answer; meaningful when status_code is not 0 */
} droplit_invocation;

/* POST /api/webhooks/<id>/invoke: the server calls the webhook's url once, now, with a
 * signed verification notification (a disabled webhook too). On success returns 0 and the
 * outcome in *out (free with droplit_invocation_free). On failure returns -1, *out NULL and
 * the error in *err as droplit_webhook_create: a url that failed (refused, timed out, not
 * 2xx, blocked by the server's delivery policy) is an HTTP error 502 whose reason says what
 * happened ("Webhook call failed: the url answered 500"); a 503 says the server has too many
 * calls in progress. An empty or NULL id is an ARGUMENT error. Hazard: each call (and so
 * each retry) is one more call of the url. */
int droplit_webhook_invoke(droplit_client *client, const char *id, droplit_invocation **out, droplit_error **err);

/* ---- events ----------------------------------------------------------------------------
 * An event is one publication of notifications to an ecosystem: the server stores it and
 * delivers it to each of the ecosystem's enabled webhooks, retrying on its schedule. */

/* Optional settings of a publish. NULL (the struct or a member) means not given. */
typedef struct droplit_publish_options {
    const char *idempotency_key; /* sent as Idempotency-Key (1..255 printable ASCII): a retry with the
                                    same key within 24 h answers the first publish's event, which is
                                    delivered once */
} droplit_publish_options;

/* What a publish answers: the event is stored and its deliveries are queued (HTTP 202). */
typedef struct droplit_publication {
    const char *id;    /* the event's id, 24 lowercase hex digits (the webhook-id header of its
                          deliveries) */
    unsigned webhooks; /* the ecosystem's enabled webhooks it will be delivered to; 0 is no error */
} droplit_publication;

/* POST /api/events: publishes n_items notifications to the ecosystem. Each items_json[i] is
 * the text of one JSON object (NUL-terminated), sent as it reads: keys in their order,
 * numbers as doubles (integers exact up to 2^53), nesting up to the codec's depth. An item
 * that is NULL, not a JSON object or unreadable is an ARGUMENT error whose cause names it
 * ("items[2]: must be a JSON object"), and nothing is sent. NULL ecosystem_id and
 * n_items 0 (items_json may then be NULL) are sent as absent, so the server reports them
 * ("field is required"); over its delivery.max_items, or a body over its max_body_bytes, is
 * its 400 or 413. opts may be NULL. On success returns 0 and the answer in *out (free with
 * droplit_publication_free). Fails as droplit_webhook_create.
 * Hazard: a TRANSPORT error after the request left (a timeout) or a RESPONSE error does not
 * say whether the server stored the event; a plain retry may deliver it twice. Give
 * opts->idempotency_key and retry with the same key.
 * Hazard: the server reads at most 32 levels of nesting. In JSON that leaves an item 30
 * levels of objects and arrays (its own object included); in DROPLIT_ENCODING_PROTOBUF,
 * where each object inside an item costs three nested messages, 10. Deeper items are the
 * server's 400, and an event holding them (published in JSON) cannot be read in protobuf. */
int droplit_event_publish(droplit_client *client, const char *ecosystem_id, const char *const *items_json,
                          size_t n_items, const droplit_publish_options *opts, droplit_publication **out,
                          droplit_error **err);

/* GET /api/events/<id>: the event, its items and each webhook's delivery (state, attempts,
 * next attempt, last status and error), as the API's JSON (compact, keys in the schema's
 * order) made from the message the server sent, in either encoding. On success returns 0
 * and a malloc'd string in *json_out (free with free). An empty or NULL id is an ARGUMENT
 * error; an event that is not there, expired or outside the token's ecosystems is a 404.
 * Otherwise fails as droplit_webhook_create. Hazard: in DROPLIT_ENCODING_PROTOBUF an event
 * whose items nest deeper than a protobuf publish allows (see droplit_event_publish) is a
 * RESPONSE error ("... is nested too deeply"); the JSON encoding reads it. */
int droplit_event_get(droplit_client *client, const char *id, char **json_out, droplit_error **err);

/* POST /api/events/<id>/resend: the server queues a manual delivery of the event, due now,
 * to webhook_id, or (NULL or "") to each of its webhooks that is still enabled. On success
 * returns 0 and, when deliveries is not NULL, how many were queued in *deliveries. An empty
 * or NULL id is an ARGUMENT error; otherwise fails as droplit_webhook_create. Hazard: each
 * call (and so each retry) delivers the event once more. */
int droplit_event_resend(droplit_client *client, const char *id, const char *webhook_id, unsigned *deliveries,
                         droplit_error **err);

/* GET /api/webhooks/<id>/attempts?limit=<n>&before=<seq>: one page of the calls of the
 * webhook's url (deliveries, resends and invokes), newest first, as the API's JSON:
 * {"items":[...]} with "nextBefore" after the items when older attempts follow (a uint64,
 * so a string in JSON: pass its value as before for the next page). limit 0 is the
 * server's limits.default_page_size (above its max_page_size, a 400 naming `limit`);
 * before 0 starts at the newest. Returns as droplit_event_get. */
int droplit_webhook_attempts(droplit_client *client, const char *id, unsigned limit, uint64_t before, char **json_out,
                             droplit_error **err);

/* GET /api/ecosystems: the ecosystems the client's token may act on (an account token: its
 * account's; a server token: its own), as the API's JSON: {"items":[{"id":"..."}, ...]}.
 * Returns as droplit_event_get, without the 404. */
int droplit_ecosystem_list(droplit_client *client, char **json_out, droplit_error **err);

/* POST /api/webhooks/<id>/recover: the server delivers again, as manual deliveries due now,
 * each of the webhook's failed deliveries of events published at or after since (at most its
 * delivery.max_recover). since_rfc3339 is an RFC 3339 time ("2026-11-28T07:00:00Z", an
 * offset or fractions allowed), read by the codec the server uses: one it cannot read is an
 * ARGUMENT error ("since: must be an RFC 3339 timestamp") and nothing is sent; NULL is sent
 * as absent (the server's "field is required"). On success returns 0 and the count in
 * *deliveries when it is not NULL. Fails as droplit_event_resend, with the same hazard. */
int droplit_webhook_recover(droplit_client *client, const char *id, const char *since_rfc3339, unsigned *deliveries,
                            droplit_error **err);

/* The publication as the API's JSON, {"id":"...","webhooks":n}. As droplit_webhook_to_json. */
char *droplit_publication_to_json(const droplit_publication *publication);

/* Frees what droplit_event_publish returned. */
void droplit_publication_free(droplit_publication *publication);

/* The webhook as the API's JSON (compact, keys in the schema's order, no secret), from the
 * message the server sent. webhook must come from this library (a list item is fine).
 * Returns a malloc'd string (free with free), or NULL when memory runs out. */
char *droplit_webhook_to_json(const droplit_webhook *webhook);

/* The list as the API's JSON, {"items":[...]} (a page that more follow: with its
 * "nextPageToken" after the items, as the server sent it). As droplit_webhook_to_json. */
char *droplit_webhooks_to_json(const droplit_webhooks *list);

/* Frees a webhook returned by droplit_webhook_create or droplit_webhook_get. */
void droplit_webhook_free(droplit_webhook *webhook);

/* Frees a list and the webhooks in it. */
void droplit_webhooks_free(droplit_webhooks *list);

/* Frees what droplit_webhook_invoke returned. */
void droplit_invocation_free(droplit_invocation *invocation);

/* Frees an error. */
void droplit_error_free(droplit_error *err);

/* A constant name for an error kind ("transport", "http", ...). */
const char *droplit_error_kind_name(droplit_error_kind kind);

#ifdef __cplusplus
}
#endif

#endif
