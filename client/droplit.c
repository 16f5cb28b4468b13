/* droplit: see droplit.h.
 *
 * Every message crosses the wire through hookgate's schema: requests are generated
 * messages encoded by codec_json or protobuf-c, answers are decoded into generated messages
 * by the same means (chosen by the answer's content-type, so a plain-text 404 is read as
 * text whichever encoding was asked for). The public structs are views into those decoded
 * messages: a droplit_webhook's strings point into its schema_webhook. Binary answers are
 * read by codec_proto, whose depth limit keeps a hostile server's nesting off the stack. */
#include "droplit.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "error.h"
#include "schema.h"
#include "transport.h"

#define DROPLIT_REASON_MAX 4096          /* bytes of a plain-text error reason kept; longer ones are cut */
#define DROPLIT_CREATED_AT_MAX 48        /* bytes of a createdAt string, NUL included */
#define DROPLIT_CAUSE_MAX 512            /* bytes of a cause this file writes, NUL included */
#define DROPLIT_MAX_TIMEOUT_MS 86400000L /* a day: anything longer is a mistake */
#define DROPLIT_HTTP_STATUS_MAX 999      /* a larger status_code in an answer is not an HTTP status */

static const char ADDITIONAL[] = "additional parameters";
static const char NO_WEBHOOK_ID[] = "a webhook id is required";
static const char NO_EVENT_ID[] = "an event id is required";
static const char MIME_JSON[] = "application/json";
static const char MIME_PROTOBUF[] = "application/x-protobuf";
static const char MIME_TEXT[] = "text/plain";

struct droplit_client {
    transport *transport;
    char *base_url;    /* without a trailing '/' */
    char *auth_header; /* "authorization: TOKEN", or NULL */
    droplit_encoding encoding;
};

/* A webhook: the public view first, so a droplit_webhook * is a webhook_impl *. */
typedef struct webhook_impl {
    droplit_webhook pub;
    const schema_webhook *msg;
    ProtobufCMessage *owned; /* what droplit_webhook_free releases; NULL when a list owns msg */
    char created_at[DROPLIT_CREATED_AT_MAX];
} webhook_impl;

/* A list: the pages as the server sent them (the items point into them), and one message
 * that shows them as one list (the only page itself, or a view over every page's items). */
typedef struct webhooks_impl {
    droplit_webhooks pub;
    schema_list_response **pages;
    size_t n_pages;
    schema_list_response whole;      /* more than one page: every page's items, no token */
    const schema_list_response *msg; /* pages[0], or &whole */
    webhook_impl *items;
    droplit_webhook **ptrs;
} webhooks_impl;

/* An invoke's outcome: the message points into msg (a decoded InvokeWebhookResponse) or
 * is text (the plain-text answer of the JSON API). */
typedef struct invocation_impl {
    droplit_invocation pub;
    ProtobufCMessage *msg;
    char *text;
} invocation_impl;

/* A publish's answer: the view points into msg (a decoded PublishEventResponse). */
typedef struct publication_impl {
    droplit_publication pub;
    ProtobufCMessage *msg;
} publication_impl;

typedef struct error_impl {
    droplit_error pub;
    ProtobufCMessage *msg; /* the decoded ErrorResponse the params point into, or NULL */
    droplit_param_error *params;
    char *reason, *cause; /* malloc'd, or NULL when pub points elsewhere */
} error_impl;

/* Handed out when an error cannot be allocated; droplit_error_free leaves it alone. */
static error_impl no_memory = {
    .pub = {.kind = DROPLIT_ERROR_NO_MEMORY, .error_type = "", .reason = "", .cause = "out of memory"}};

const char *droplit_version(void)
{
    return DROPLIT_VERSION;
}

const char *droplit_error_kind_name(droplit_error_kind kind)
{
    switch (kind) {
    case DROPLIT_ERROR_ARGUMENT:
        return "argument";
    case DROPLIT_ERROR_TRANSPORT:
        return "transport";
    case DROPLIT_ERROR_HTTP:
        return "http";
    case DROPLIT_ERROR_RESPONSE:
        return "response";
    case DROPLIT_ERROR_NO_MEMORY:
        return "no memory";
    }
    return "unknown";
}

/* ---- errors --------------------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void droplit_error_free(droplit_error *e)
{
    if (e == NULL || e == &no_memory.pub)
        return;
    error_impl *impl = (error_impl *)e;
    if (impl->msg != NULL)
        protobuf_c_message_free_unpacked(impl->msg, NULL);
    free(impl->params);
    free(impl->reason);
    free(impl->cause);
    free(impl);
}

static error_impl *error_new(droplit_error_kind kind, int status)
{
    error_impl *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->pub.kind = kind;
    e->pub.http_status = status;
    e->pub.error_type = e->pub.reason = e->pub.cause = "";
    return e;
}

/* Hands an error to the caller (or drops it when the caller passed no err). Returns -1. */
static int fail(droplit_error **err, error_impl *e)
{
    droplit_error *pub = e != NULL ? &e->pub : &no_memory.pub;
    if (err != NULL)
        *err = pub;
    else
        droplit_error_free(pub);
    return -1;
}

static int fail_cause(droplit_error **err, droplit_error_kind kind, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An error whose only content is a cause. */
static int fail_cause(droplit_error **err, droplit_error_kind kind, int status, const char *fmt, ...)
{
    if (kind == DROPLIT_ERROR_NO_MEMORY)
        return fail(err, NULL);
    char buf[DROPLIT_CAUSE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    error_impl *e = error_new(kind, status);
    if (e != NULL && (e->cause = strdup(buf)) == NULL) {
        droplit_error_free(&e->pub);
        e = NULL;
    }
    if (e != NULL)
        e->pub.cause = e->cause;
    return fail(err, e);
}

/* The media type of a content-type value, compared without parameters or case. */
static int is_media(const char *content_type, const char *mime)
{
    size_t n = strcspn(content_type, ";");
    while (n > 0 && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
        n--;
    return n == strlen(mime) && strncasecmp(content_type, mime, n) == 0;
}

static int is_protobuf(const char *content_type)
{
    return is_media(content_type, MIME_PROTOBUF) || is_media(content_type, "application/protobuf");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Decodes body into a message of type desc by its content-type. Unknown fields are
 * ignored (a newer server may add some); anything else unreadable is a failure, described
 * in cause. */
static ProtobufCMessage *decode_body(const ProtobufCMessageDescriptor *desc, const transport_response *res, char *cause,
                                     size_t cause_size)
{
    error derr;
    error_clear(&derr);
    if (is_protobuf(res->content_type)) {
        ProtobufCMessage *msg = codec_proto_decode(desc, (const uint8_t *)res->body, res->len, NULL, &derr);
        if (msg == NULL && derr.n_params > 0) /* the message names the type */
            snprintf(cause, cause_size, "the answer is unreadable: %s", error_param_message(&derr, 0));
        else if (msg == NULL)
            snprintf(cause, cause_size, "the answer is not a binary %s: %s", desc->name, derr.reason);
        return msg;
    }
    if (!is_media(res->content_type, MIME_JSON)) {
        snprintf(cause, cause_size, "the answer's content-type is \"%s\", not %s or %s", res->content_type, MIME_JSON,
                 MIME_PROTOBUF);
        return NULL;
    }
    ProtobufCMessage *msg = codec_json_decode(desc, res->body, res->len, NULL, &derr);
    if (msg == NULL) {
        const char *why = derr.n_params > 0 ? error_param_message(&derr, 0) : derr.reason;
        snprintf(cause, cause_size, "the answer is not a JSON %s: %s", desc->name, why);
        return NULL;
    }
    for (size_t i = 0; i < derr.n_params; i++) {
        if (!ends_with(error_param_path(&derr, i), ADDITIONAL)) {
            snprintf(cause, cause_size, "the answer is not a JSON %s: %s %s", desc->name, error_param_path(&derr, i),
                     error_param_message(&derr, i));
            protobuf_c_message_free_unpacked(msg, NULL);
            return NULL;
        }
    }
    return msg;
}

/* A plain-text answer's text, malloc'd: trailing white space dropped, cut at
 * DROPLIT_REASON_MAX bytes. NULL out of memory. */
static char *answer_text(const transport_response *res)
{
    size_t n = res->len < DROPLIT_REASON_MAX ? res->len : DROPLIT_REASON_MAX;
    while (n > 0 && strchr(" \t\r\n", res->body[n - 1]) != NULL)
        n--;
    return dup_n(res->body, n);
}

/* The error an answer with a failing status stands for. */
static int fail_http(droplit_error **err, const transport_response *res)
{
    error_impl *e = error_new(DROPLIT_ERROR_HTTP, res->status);
    if (e == NULL)
        return fail(err, NULL);
    char cause[DROPLIT_CAUSE_MAX];
    schema_error_response *msg = NULL;
    if (is_protobuf(res->content_type) || is_media(res->content_type, MIME_JSON))
        msg = (schema_error_response *)decode_body(&schema_error_response_descriptor, res, cause, sizeof(cause));
    if (msg == NULL) {
        /* plain text, or a body that is not the standard structure: its text is the reason */
        if ((e->reason = answer_text(res)) == NULL)
            goto oom;
        e->pub.reason = e->reason;
        return fail(err, e);
    }
    e->msg = &msg->base;
    e->pub.error_type = msg->error_type != NULL ? msg->error_type : "";
    /* a binary error of a plain-text kind carries its reason as the one message with
     * neither `in` nor `path`: show it where a JSON client finds the text */
    if (res->status != 400 && msg->n_errors == 1 && (msg->errors[0]->in == NULL || *msg->errors[0]->in == '\0') &&
        (msg->errors[0]->path == NULL || *msg->errors[0]->path == '\0')) {
        e->pub.reason = msg->errors[0]->message != NULL ? msg->errors[0]->message : "";
        return fail(err, e);
    }
    if (msg->n_errors > 0) {
        if ((e->params = calloc(msg->n_errors, sizeof(*e->params))) == NULL)
            goto oom;
        for (size_t i = 0; i < msg->n_errors; i++) {
            const schema_param_error *p = msg->errors[i];
            e->params[i].in = p->in != NULL ? p->in : "";
            e->params[i].path = p->path != NULL ? p->path : "";
            e->params[i].message = p->message != NULL ? p->message : "";
        }
        e->pub.params = e->params;
        e->pub.n_params = msg->n_errors;
    }
    return fail(err, e);
oom:
    droplit_error_free(&e->pub);
    return fail(err, NULL);
}

/* ---- the client ----------------------------------------------------------------------- */

/* Accepts "http://..." or "https://..." with a host and no query, fragment, space or
 * control character. */
static int is_server_url(const char *url)
{
    const char *rest;
    if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        rest = url + 8;
    else
        return 0;
    if (*rest == '\0' || *rest == '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)url; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
            return 0;
    return 1;
}

droplit_client *droplit_client_create(const char *server_url, const char *token, const droplit_client_options *opts)
{
    droplit_client_options o = {0};
    if (opts != NULL)
        o = *opts;
    if (server_url == NULL || !is_server_url(server_url))
        return NULL;
    if (token != NULL && strpbrk(token, "\r\n") != NULL)
        return NULL;
    if (o.connect_timeout_ms < 0 || o.connect_timeout_ms > DROPLIT_MAX_TIMEOUT_MS || o.timeout_ms < 0 ||
        o.timeout_ms > DROPLIT_MAX_TIMEOUT_MS)
        return NULL;
    if ((unsigned)o.http_version > DROPLIT_HTTP_2_PRIOR_KNOWLEDGE || (unsigned)o.encoding > DROPLIT_ENCODING_PROTOBUF)
        return NULL;

    transport_options topts = {
        .connect_timeout_ms = o.connect_timeout_ms > 0 ? o.connect_timeout_ms : DROPLIT_DEFAULT_CONNECT_TIMEOUT_MS,
        .timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : DROPLIT_DEFAULT_TIMEOUT_MS,
        .http_version = o.http_version == DROPLIT_HTTP_1_1                 ? TRANSPORT_HTTP_1_1
                        : o.http_version == DROPLIT_HTTP_2_PRIOR_KNOWLEDGE ? TRANSPORT_HTTP_2_PRIOR_KNOWLEDGE
                                                                           : TRANSPORT_HTTP_2_TLS,
        .max_response_bytes = o.max_response_bytes > 0 ? o.max_response_bytes : DROPLIT_DEFAULT_MAX_RESPONSE_BYTES,
        .ca_file = o.ca_file,
        .user_agent = "droplit-c/" DROPLIT_VERSION,
    };
    droplit_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->encoding = o.encoding;
    size_t n = strlen(server_url);
    while (n > 0 && server_url[n - 1] == '/')
        n--;
    c->base_url = dup_n(server_url, n);
    if (token != NULL && *token != '\0') {
        size_t len = strlen("authorization: ") + strlen(token) + 1;
        if ((c->auth_header = malloc(len)) != NULL)
            snprintf(c->auth_header, len, "authorization: %s", token);
    }
    c->transport = transport_create(&topts);
    if (c->base_url == NULL || c->transport == NULL || (token != NULL && *token != '\0' && c->auth_header == NULL)) {
        droplit_client_free(c);
        return NULL;
    }
    return c;
}

void droplit_client_free(droplit_client *c)
{
    if (c == NULL)
        return;
    transport_destroy(c->transport);
    free(c->base_url);
    free(c->auth_header);
    free(c);
}

/* Appends s percent-encoded to out (which has room for 3 * strlen(s) + 1 more bytes).
 * Only unreserved characters other than '.' stay as they are, so a value can neither end
 * a path segment nor become a dot segment. */
static void append_escaped(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = out + strlen(out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
}

/* base_url + path + (value percent-encoded) + tail, malloc'd; value and tail may be NULL. */
static char *make_url(const droplit_client *c, const char *path, const char *value, const char *tail)
{
    size_t len = strlen(c->base_url) + strlen(path) + (value != NULL ? 3 * strlen(value) : 0) +
                 (tail != NULL ? strlen(tail) : 0) + 1;
    char *url = malloc(len);
    if (url == NULL)
        return NULL;
    snprintf(url, len, "%s%s", c->base_url, path);
    if (value != NULL)
        append_escaped(url, value);
    if (tail != NULL)
        strcat(url, tail);
    return url;
}

/* One exchange. method NULL: POST with a body, else GET. A 2xx answer returns 0 with *res
 * (free res->body); any other outcome fails into err. */
static int exchange(droplit_client *c, const char *method, const char *url, const void *body, size_t body_len,
                    const char *extra_header, transport_response *res, droplit_error **err)
{
    const char *mime = c->encoding == DROPLIT_ENCODING_PROTOBUF ? MIME_PROTOBUF : MIME_JSON;
    char accept[64], content_type[64];
    snprintf(accept, sizeof(accept), "accept: %s", mime);
    snprintf(content_type, sizeof(content_type), "content-type: %s", mime);
    const char *headers[6];
    size_t n = 0;
    headers[n++] = accept;
    headers[n++] = "expect:"; /* no 100-continue round trip before a body */
    if (body != NULL)
        headers[n++] = content_type;
    if (c->auth_header != NULL)
        headers[n++] = c->auth_header;
    if (extra_header != NULL)
        headers[n++] = extra_header;
    headers[n] = NULL;

    if (method == NULL)
        method = body != NULL ? "POST" : "GET";
    transport_request req = {.method = method, .url = url, .headers = headers, .body = body, .body_len = body_len};
    transport_failure tf;
    switch (transport_perform(c->transport, &req, res, &tf)) {
    case TRANSPORT_OK:
        break;
    case TRANSPORT_FAILED: {
        int rc = fail_cause(err, DROPLIT_ERROR_TRANSPORT, 0, "%s", tf.cause);
        if (err != NULL && *err != &no_memory.pub)
            (*err)->timed_out = tf.timed_out;
        return rc;
    }
    case TRANSPORT_TOO_LARGE:
        return fail_cause(err, DROPLIT_ERROR_RESPONSE, res->status, "%s", tf.cause);
    case TRANSPORT_NO_MEMORY:
        return fail(err, NULL);
    }
    if (res->status >= 200 && res->status <= 299)
        return 0;
    int rc = fail_http(err, res);
    free(res->body);
    res->body = NULL;
    return rc;
}

/* One call: exchange, then a 2xx answer decoded into a message of type want. want NULL:
 * the answer of a success carries nothing to read (update, delete), and *out is left
 * alone. Returns 0 (and *out), or fails into err. */
static int call_method(droplit_client *c, const char *method, const char *url, const void *body, size_t body_len,
                       const char *extra_header, const ProtobufCMessageDescriptor *want, ProtobufCMessage **out,
                       droplit_error **err)
{
    transport_response res;
    if (exchange(c, method, url, body, body_len, extra_header, &res, err) != 0)
        return -1;
    int rc = 0;
    if (want != NULL) {
        char cause[DROPLIT_CAUSE_MAX];
        *out = decode_body(want, &res, cause, sizeof(cause));
        rc = *out != NULL ? 0 : fail_cause(err, DROPLIT_ERROR_RESPONSE, res.status, "%s", cause);
    }
    free(res.body);
    return rc;
}

static int call(droplit_client *c, const char *url, const void *body, size_t body_len, const char *extra_header,
                const ProtobufCMessageDescriptor *want, ProtobufCMessage **out, droplit_error **err)
{
    return call_method(c, NULL, url, body, body_len, extra_header, want, out, err);
}

/* ---- webhooks ------------------------------------------------------------------------- */

/* Fills a webhook's view of msg. createdAt is rendered by the codec that renders it for
 * the server, so the SDK and the API show the same text. Returns 0, or -1 out of memory. */
static int webhook_view(webhook_impl *w, const schema_webhook *msg)
{
    w->msg = msg;
    w->pub.id = msg->id != NULL ? msg->id : "";
    w->pub.description = msg->description != NULL ? msg->description : "";
    w->pub.ecosystem_id = msg->ecosystem_id != NULL ? msg->ecosystem_id : "";
    w->pub.url = msg->url != NULL ? msg->url : "";
    w->pub.disabled = msg->disabled ? 1 : 0;
    w->pub.created_at = w->created_at;
    w->created_at[0] = '\0';
    if (msg->created_at == NULL)
        return 0;
    schema_webhook only = SCHEMA_WEBHOOK_INIT;
    only.created_at = msg->created_at;
    size_t len;
    char *json = codec_json_encode(&only.base, &len);
    if (json == NULL)
        return -1;
    json_t *root = json_loadb(json, len, 0, NULL);
    free(json);
    if (root == NULL)
        return -1;
    const char *s = json_string_value(json_object_get(root, "createdAt"));
    snprintf(w->created_at, sizeof(w->created_at), "%s", s != NULL ? s : "");
    json_decref(root);
    return 0;
}

/* Turns a decoded Webhook into the caller's droplit_webhook (taking msg). */
static int give_webhook(ProtobufCMessage *msg, droplit_webhook **out, droplit_error **err)
{
    webhook_impl *w = calloc(1, sizeof(*w));
    if (w == NULL || webhook_view(w, (const schema_webhook *)msg) != 0) {
        free(w);
        protobuf_c_message_free_unpacked(msg, NULL);
        return fail(err, NULL);
    }
    w->owned = msg;
    *out = &w->pub;
    return 0;
}

/* The usual entry checks; fills err and returns -1 when the call cannot be made. */
static int check_call(const droplit_client *c, const void *out, droplit_error **err)
{
    if (err != NULL)
        *err = NULL;
    if (c == NULL)
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "no client");
    if (out == NULL)
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "no place for the result");
    return 0;
}

/* A request message in the client's encoding: malloc'd bytes in *body, or -1. */
static int encode_request(const droplit_client *c, const ProtobufCMessage *msg, char **body, size_t *len)
{
    if (c->encoding == DROPLIT_ENCODING_PROTOBUF) {
        *len = protobuf_c_message_get_packed_size(msg);
        if ((*body = malloc(*len + 1)) != NULL) /* +1: a zero-length malloc may answer NULL */
            protobuf_c_message_pack(msg, (uint8_t *)*body);
    } else {
        *body = codec_json_encode(msg, len);
    }
    return *body != NULL ? 0 : -1;
}

/* The Idempotency-Key header line for key (NULL: none) in *header, malloc'd: 0, or fails
 * into err. */
static int key_header_of(const char *key, char **header, droplit_error **err)
{
    *header = NULL;
    if (key == NULL)
        return 0;
    if (strpbrk(key, "\r\n") != NULL)
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "an idempotency key cannot hold a line break");
    size_t n = strlen("idempotency-key: ") + strlen(key) + 1;
    if ((*header = malloc(n)) == NULL)
        return fail(err, NULL);
    snprintf(*header, n, "idempotency-key: %s", key);
    return 0;
}

int droplit_webhook_create(droplit_client *c, const char *ecosystem_id, const char *url,
                           const droplit_create_options *opts, droplit_webhook **out, droplit_error **err)
{
    if (check_call(c, out, err) != 0)
        return -1;
    *out = NULL;
    /* NULL and "" both mean absent in proto3; the server reports required ones */
    schema_create_request req = SCHEMA_CREATE_REQUEST_INIT;
    req.ecosystem_id = (char *)(ecosystem_id != NULL ? ecosystem_id : "");
    req.url = (char *)(url != NULL ? url : "");
    if (opts != NULL && opts->secret != NULL)
        req.secret = (char *)opts->secret;
    if (opts != NULL && opts->description != NULL)
        req.description = (char *)opts->description;
    char *key_header;
    if (key_header_of(opts != NULL ? opts->idempotency_key : NULL, &key_header, err) != 0)
        return -1;

    size_t len = 0;
    char *body = NULL;
    encode_request(c, &req.base, &body, &len);
    char *target = make_url(c, "/api/webhooks", NULL, NULL);
    if (body == NULL || target == NULL) {
        free(body);
        free(target);
        free(key_header);
        return fail(err, NULL);
    }
    ProtobufCMessage *msg;
    int rc = call(c, target, body, len, key_header, &schema_webhook_descriptor, &msg, err);
    free(body);
    free(target);
    free(key_header);
    return rc != 0 ? rc : give_webhook(msg, out, err);
}

int droplit_webhook_get(droplit_client *c, const char *id, droplit_webhook **out, droplit_error **err)
{
    if (check_call(c, out, err) != 0)
        return -1;
    *out = NULL;
    if (id == NULL || *id == '\0')
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "%s", NO_WEBHOOK_ID);
    char *target = make_url(c, "/api/webhooks/", id, NULL);
    if (target == NULL)
        return fail(err, NULL);
    ProtobufCMessage *msg;
    int rc = call(c, target, NULL, 0, NULL, &schema_webhook_descriptor, &msg, err);
    free(target);
    return rc != 0 ? rc : give_webhook(msg, out, err);
}

/* GET one page into a message: 0, or fails into err. */
static int get_page(droplit_client *c, const char *ecosystem_id, unsigned limit, const char *page_token,
                    schema_list_response **page, droplit_error **err)
{
    char *target =
        make_url(c, ecosystem_id != NULL ? "/api/webhooks?ecosystemId=" : "/api/webhooks", ecosystem_id, NULL);
    size_t token_len = page_token != NULL ? strlen(page_token) : 0;
    char *grown = target != NULL ? realloc(target, strlen(target) + 32 + 3 * token_len) : NULL;
    if (grown == NULL) {
        free(target);
        return fail(err, NULL);
    }
    target = grown;
    const char *sep = ecosystem_id != NULL ? "&" : "?";
    if (limit > 0) {
        sprintf(target + strlen(target), "%slimit=%u", sep, limit);
        sep = "&";
    }
    if (token_len > 0) {
        sprintf(target + strlen(target), "%spageToken=", sep);
        append_escaped(target, page_token);
    }
    ProtobufCMessage *msg;
    int rc = call(c, target, NULL, 0, NULL, &schema_list_response_descriptor, &msg, err);
    free(target);
    if (rc == 0)
        *page = (schema_list_response *)msg;
    return rc;
}

static const char *next_token(const schema_list_response *page)
{
    return page->next_page_case == SCHEMA_LIST_RESPONSE_NEXT_PAGE_TOKEN && page->next_page_token != NULL
               ? page->next_page_token
               : "";
}

/* Hands out the list made of pages[0..n) (taken, also on failure): 0, or fails into err. */
static int give_list(schema_list_response **pages, size_t n, droplit_webhooks **out, droplit_error **err)
{
    webhooks_impl *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        for (size_t p = 0; p < n; p++)
            protobuf_c_message_free_unpacked(&pages[p]->base, NULL);
        free(pages);
        return fail(err, NULL);
    }
    l->pages = pages;
    l->n_pages = n;
    size_t total = 0;
    for (size_t p = 0; p < n; p++)
        total += pages[p]->n_items;
    if (n == 1) {
        l->msg = pages[0];
        l->pub.next_page_token = next_token(pages[0]);
    } else {
        schema_list_response whole = SCHEMA_LIST_RESPONSE_INIT;
        l->whole = whole;
        l->msg = &l->whole;
        l->pub.next_page_token = "";
        if (total > 0 && (l->whole.items = calloc(total, sizeof(*l->whole.items))) == NULL)
            goto oom;
        for (size_t p = 0; p < n; p++)
            for (size_t i = 0; i < pages[p]->n_items; i++)
                l->whole.items[l->whole.n_items++] = pages[p]->items[i];
    }
    if (total > 0) {
        l->items = calloc(total, sizeof(*l->items));
        l->ptrs = calloc(total, sizeof(*l->ptrs));
        if (l->items == NULL || l->ptrs == NULL)
            goto oom;
        for (size_t i = 0; i < total; i++) {
            if (webhook_view(&l->items[i], l->msg->items[i]) != 0)
                goto oom;
            l->ptrs[i] = &l->items[i].pub;
        }
    }
    l->pub.count = total;
    l->pub.items = l->ptrs;
    *out = &l->pub;
    return 0;
oom:
    droplit_webhooks_free(&l->pub);
    return fail(err, NULL);
}

int droplit_webhook_list_page(droplit_client *c, const char *ecosystem_id, const droplit_list_options *opts,
                              droplit_webhooks **out, droplit_error **err)
{
    if (check_call(c, out, err) != 0)
        return -1;
    *out = NULL;
    schema_list_response **pages = malloc(sizeof(*pages));
    if (pages == NULL)
        return fail(err, NULL);
    int rc = get_page(c, ecosystem_id, opts != NULL ? opts->limit : 0, opts != NULL ? opts->page_token : NULL,
                      &pages[0], err);
    if (rc != 0) {
        free(pages);
        return rc;
    }
    return give_list(pages, 1, out, err);
}

int droplit_webhook_list(droplit_client *c, const char *ecosystem_id, droplit_webhooks **out, droplit_error **err)
{
    if (check_call(c, out, err) != 0)
        return -1;
    *out = NULL;
    schema_list_response **pages = NULL;
    size_t n = 0, cap = 0, total = 0;
    const char *token = NULL;
    for (;;) {
        if (n == cap) {
            size_t grown_cap = cap ? cap * 2 : 4;
            schema_list_response **grown = realloc(pages, grown_cap * sizeof(*pages));
            if (grown == NULL) {
                fail(err, NULL);
                goto failed;
            }
            pages = grown;
            cap = grown_cap;
        }
        if (get_page(c, ecosystem_id, 0, token, &pages[n], err) != 0)
            goto failed;
        total += pages[n]->n_items;
        token = next_token(pages[n++]);
        if (*token == '\0')
            return give_list(pages, n, out, err);
        /* a page with a token must move on: an empty one, or too many in all, never ends */
        if (pages[n - 1]->n_items == 0 || total > DROPLIT_MAX_LIST_ITEMS) {
            fail_cause(err, DROPLIT_ERROR_RESPONSE, 200, "a list that does not end: %s",
                       total > DROPLIT_MAX_LIST_ITEMS ? "more webhooks than DROPLIT_MAX_LIST_ITEMS"
                                                      : "an empty page with a next page token");
            goto failed;
        }
    }
failed:
    for (size_t p = 0; p < n; p++)
        protobuf_c_message_free_unpacked(&pages[p]->base, NULL);
    free(pages);
    return -1;
}

/* The checks of a call by id whose result is optional; missing is the cause when id is empty. */
static int check_id_call(const droplit_client *c, const char *id, const char *missing, droplit_error **err)
{
    static int nothing; /* update and delete give nothing back: check_call wants a place */
    if (check_call(c, &nothing, err) != 0)
        return -1;
    if (id == NULL || *id == '\0')
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "%s", missing);
    return 0;
}

int droplit_webhook_update(droplit_client *c, const char *id, const char *url, const droplit_update_options *opts,
                           droplit_error **err)
{
    if (check_id_call(c, id, NO_WEBHOOK_ID, err) != 0)
        return -1;
    if (opts != NULL && (unsigned)opts->disabled > DROPLIT_SET_TRUE)
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "disabled must be DROPLIT_KEEP, _SET_FALSE or _SET_TRUE");
    /* the body is the changes alone: the id goes in the path */
    schema_webhook_changes ch = SCHEMA_WEBHOOK_CHANGES_INIT;
    ch.url = (char *)(url != NULL ? url : "");
    if (opts != NULL && opts->secret != NULL)
        ch.secret_set_case = SCHEMA_CHANGES_SECRET_SET, ch.secret = (char *)opts->secret;
    if (opts != NULL && opts->description != NULL)
        ch.description_set_case = SCHEMA_CHANGES_DESCRIPTION_SET, ch.description = (char *)opts->description;
    if (opts != NULL && opts->disabled != DROPLIT_KEEP)
        ch.disabled_set_case = SCHEMA_CHANGES_DISABLED_SET, ch.disabled = opts->disabled == DROPLIT_SET_TRUE;
    char *body = NULL, *target = make_url(c, "/api/webhooks/", id, NULL);
    size_t len = 0;
    if (target == NULL || encode_request(c, &ch.base, &body, &len) != 0) {
        free(target);
        return fail(err, NULL);
    }
    int rc = call_method(c, "PUT", target, body, len, NULL, NULL, NULL, err);
    free(body);
    free(target);
    return rc;
}

int droplit_webhook_delete(droplit_client *c, const char *id, droplit_error **err)
{
    if (check_id_call(c, id, NO_WEBHOOK_ID, err) != 0)
        return -1;
    char *target = make_url(c, "/api/webhooks/", id, NULL);
    if (target == NULL)
        return fail(err, NULL);
    int rc = call_method(c, "DELETE", target, NULL, 0, NULL, NULL, NULL, err);
    free(target);
    return rc;
}

int droplit_webhook_invoke(droplit_client *c, const char *id, droplit_invocation **out, droplit_error **err)
{
    if (check_call(c, out, err) != 0)
        return -1;
    *out = NULL;
    if (id == NULL || *id == '\0')
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "%s", NO_WEBHOOK_ID);
    char *target = make_url(c, "/api/webhooks/", id, "/invoke");
    invocation_impl *inv = calloc(1, sizeof(*inv));
    if (target == NULL || inv == NULL) {
        free(target);
        free(inv);
        return fail(err, NULL);
    }
    /* a POST without parameters: an empty body, not none (libcurl would read stdin) */
    transport_response res;
    int rc = exchange(c, "POST", target, "", 0, NULL, &res, err);
    free(target);
    if (rc != 0) {
        free(inv);
        return rc;
    }
    if (is_media(res.content_type, MIME_TEXT)) {
        /* the JSON API answers Droplit's text alone: what the url answered is not told */
        if ((inv->text = answer_text(&res)) == NULL)
            rc = fail(err, NULL);
        inv->pub.message = inv->text;
    } else {
        char cause[DROPLIT_CAUSE_MAX];
        inv->msg = decode_body(&schema_invoke_response_descriptor, &res, cause, sizeof(cause));
        if (inv->msg == NULL) {
            rc = fail_cause(err, DROPLIT_ERROR_RESPONSE, res.status, "%s", cause);
        } else if (((const schema_invoke_response *)inv->msg)->status_code > DROPLIT_HTTP_STATUS_MAX) {
            rc = fail_cause(err, DROPLIT_ERROR_RESPONSE, res.status, "the answer's statusCode %u is not an HTTP status",
                            (unsigned)((const schema_invoke_response *)inv->msg)->status_code);
        } else {
            const schema_invoke_response *r = (const schema_invoke_response *)inv->msg;
            inv->pub.message = r->message != NULL ? r->message : "";
            inv->pub.status_code = (int)r->status_code;
            inv->pub.duration_ms = r->duration_ms;
        }
    }
    free(res.body);
    if (rc != 0) {
        droplit_invocation_free(&inv->pub);
        return rc;
    }
    *out = &inv->pub;
    return 0;
}

void droplit_invocation_free(droplit_invocation *invocation)
{
    if (invocation == NULL)
        return;
    invocation_impl *inv = (invocation_impl *)invocation;
    if (inv->msg != NULL)
        protobuf_c_message_free_unpacked(inv->msg, NULL);
    free(inv->text);
    free(inv);
}

/* ---- events --------------------------------------------------------------------------- */

/* items_json[i] as a Struct in *out: 0, or fails into err (an ARGUMENT error naming it). */
static int decode_item(const char *text, size_t i, schema_struct **out, droplit_error **err)
{
    if (text == NULL)
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "items[%zu]: must not be NULL", i);
    error derr;
    error_clear(&derr);
    ProtobufCMessage *msg = codec_json_decode(&schema_struct_descriptor, text, strlen(text), NULL, &derr);
    if (msg == NULL && derr.kind == ERROR_INTERNAL)
        return fail(err, NULL);
    if (msg == NULL || derr.n_params > 0) {
        /* a Struct takes any object; what is left is unreadable text or another JSON value */
        if (msg != NULL)
            protobuf_c_message_free_unpacked(msg, NULL);
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "items[%zu]: %s", i,
                          derr.n_params > 0 ? error_param_message(&derr, 0) : derr.reason);
    }
    *out = (schema_struct *)msg;
    return 0;
}

int droplit_event_publish(droplit_client *c, const char *ecosystem_id, const char *const *items_json, size_t n_items,
                          const droplit_publish_options *opts, droplit_publication **out, droplit_error **err)
{
    if (check_call(c, out, err) != 0)
        return -1;
    *out = NULL;
    if (n_items > 0 && items_json == NULL)
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "no items_json for %zu items", n_items);
    char *key_header;
    if (key_header_of(opts != NULL ? opts->idempotency_key : NULL, &key_header, err) != 0)
        return -1;
    schema_publish_request req = SCHEMA_PUBLISH_REQUEST_INIT;
    req.ecosystem_id = (char *)(ecosystem_id != NULL ? ecosystem_id : "");
    int rc = -1;
    char *body = NULL, *target = NULL;
    publication_impl *p = NULL;
    if (n_items > 0 && (req.items = calloc(n_items, sizeof(*req.items))) == NULL) {
        fail(err, NULL);
        goto done;
    }
    /* n_items counts the decoded ones, which are the ones to free */
    for (; req.n_items < n_items; req.n_items++)
        if (decode_item(items_json[req.n_items], req.n_items, &req.items[req.n_items], err) != 0)
            goto done;
    size_t len = 0;
    target = make_url(c, "/api/events", NULL, NULL);
    p = calloc(1, sizeof(*p));
    if (target == NULL || p == NULL || encode_request(c, &req.base, &body, &len) != 0) {
        fail(err, NULL);
        goto done;
    }
    if ((rc = call(c, target, body, len, key_header, &schema_publish_response_descriptor, &p->msg, err)) == 0) {
        const schema_publish_response *r = (const schema_publish_response *)p->msg;
        p->pub.id = r->id != NULL ? r->id : "";
        p->pub.webhooks = r->webhooks;
        *out = &p->pub;
        p = NULL;
    }
done:
    for (size_t i = 0; i < req.n_items; i++)
        protobuf_c_message_free_unpacked(&req.items[i]->base, NULL);
    free(req.items);
    free(p);
    free(body);
    free(target);
    free(key_header);
    return rc;
}

/* GETs base_url + path + id (escaped; NULL: none) + tail, and gives the answer as the API's
 * JSON: the message decoded as desc, encoded again by the codec, so both encodings give the
 * same text. */
static int get_json(droplit_client *c, const char *path, const char *id, const char *tail,
                    const ProtobufCMessageDescriptor *desc, char **json_out, droplit_error **err)
{
    char *target = make_url(c, path, id, tail);
    if (target == NULL)
        return fail(err, NULL);
    ProtobufCMessage *msg;
    int rc = call(c, target, NULL, 0, NULL, desc, &msg, err);
    free(target);
    if (rc != 0)
        return -1;
    size_t len;
    *json_out = codec_json_encode(msg, &len);
    protobuf_c_message_free_unpacked(msg, NULL);
    return *json_out != NULL ? 0 : fail(err, NULL);
}

int droplit_ecosystem_list(droplit_client *c, char **json_out, droplit_error **err)
{
    if (check_call(c, json_out, err) != 0)
        return -1;
    *json_out = NULL;
    return get_json(c, "/api/ecosystems", NULL, NULL, &schema_ecosystems_response_descriptor, json_out, err);
}

int droplit_event_get(droplit_client *c, const char *id, char **json_out, droplit_error **err)
{
    if (check_call(c, json_out, err) != 0)
        return -1;
    *json_out = NULL;
    if (id == NULL || *id == '\0')
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "%s", NO_EVENT_ID);
    return get_json(c, "/api/events/", id, NULL, &schema_event_descriptor, json_out, err);
}

int droplit_webhook_attempts(droplit_client *c, const char *id, unsigned limit, uint64_t before, char **json_out,
                             droplit_error **err)
{
    if (check_call(c, json_out, err) != 0)
        return -1;
    *json_out = NULL;
    if (id == NULL || *id == '\0')
        return fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "%s", NO_WEBHOOK_ID);
    char query[64] = "/attempts"; /* two decimal numbers and their names fit */
    const char *sep = "?";
    if (limit > 0) {
        snprintf(query + strlen(query), sizeof(query) - strlen(query), "%slimit=%u", sep, limit);
        sep = "&";
    }
    if (before > 0)
        snprintf(query + strlen(query), sizeof(query) - strlen(query), "%sbefore=%llu", sep,
                 (unsigned long long)before);
    return get_json(c, "/api/webhooks/", id, query, &schema_attempts_response_descriptor, json_out, err);
}

/* POSTs req to base_url + path + id + tail and reads a ResendResponse: 0 with its count in
 * *deliveries (when not NULL), or fails into err. */
static int post_for_count(droplit_client *c, const char *path, const char *id, const char *tail,
                          const ProtobufCMessage *req, unsigned *deliveries, droplit_error **err)
{
    /* the id goes in the path; the body's empty id is replaced by it */
    char *body = NULL, *target = make_url(c, path, id, tail);
    size_t len = 0;
    if (target == NULL || encode_request(c, req, &body, &len) != 0) {
        free(target);
        return fail(err, NULL);
    }
    ProtobufCMessage *msg;
    int rc = call(c, target, body, len, NULL, &schema_resend_response_descriptor, &msg, err);
    free(body);
    free(target);
    if (rc != 0)
        return rc;
    if (deliveries != NULL)
        *deliveries = ((const schema_resend_response *)msg)->deliveries;
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}

int droplit_event_resend(droplit_client *c, const char *id, const char *webhook_id, unsigned *deliveries,
                         droplit_error **err)
{
    if (deliveries != NULL)
        *deliveries = 0;
    if (check_id_call(c, id, NO_EVENT_ID, err) != 0)
        return -1;
    schema_resend_request req = SCHEMA_RESEND_REQUEST_INIT;
    req.webhook_id = (char *)(webhook_id != NULL ? webhook_id : "");
    return post_for_count(c, "/api/events/", id, "/resend", &req.base, deliveries, err);
}

int droplit_webhook_recover(droplit_client *c, const char *id, const char *since_rfc3339, unsigned *deliveries,
                            droplit_error **err)
{
    if (deliveries != NULL)
        *deliveries = 0;
    if (check_id_call(c, id, NO_WEBHOOK_ID, err) != 0)
        return -1;
    if (since_rfc3339 == NULL) {
        schema_recover_request absent = SCHEMA_RECOVER_REQUEST_INIT;
        return post_for_count(c, "/api/webhooks/", id, "/recover", &absent.base, deliveries, err);
    }
    /* the time is read by the codec that reads it on the server: {"since": <the text>}.
     * Unchecked: a string that is not UTF-8 is simply not a time, which the codec says. */
    json_t *root = json_object();
    if (root == NULL || json_object_set_new(root, "since", json_string_nocheck(since_rfc3339)) != 0) {
        json_decref(root);
        return fail(err, NULL);
    }
    error derr;
    error_clear(&derr);
    ProtobufCMessage *req = codec_json_decode_object(&schema_recover_request_descriptor, root, NULL, &derr);
    json_decref(root);
    int rc;
    if (req == NULL && derr.kind == ERROR_INTERNAL)
        rc = fail(err, NULL);
    else if (req == NULL || derr.n_params > 0)
        rc = fail_cause(err, DROPLIT_ERROR_ARGUMENT, 0, "since: %s",
                        derr.n_params > 0 ? error_param_message(&derr, 0) : derr.reason);
    else
        rc = post_for_count(c, "/api/webhooks/", id, "/recover", req, deliveries, err);
    if (req != NULL)
        protobuf_c_message_free_unpacked(req, NULL);
    return rc;
}

char *droplit_publication_to_json(const droplit_publication *publication)
{
    if (publication == NULL)
        return NULL;
    size_t len;
    return codec_json_encode(((const publication_impl *)publication)->msg, &len);
}

void droplit_publication_free(droplit_publication *publication)
{
    if (publication == NULL)
        return;
    publication_impl *p = (publication_impl *)publication;
    protobuf_c_message_free_unpacked(p->msg, NULL);
    free(p);
}

/* ---- JSON views ------------------------------------------------------------------------ */

char *droplit_webhook_to_json(const droplit_webhook *webhook)
{
    if (webhook == NULL)
        return NULL;
    const webhook_impl *w = (const webhook_impl *)webhook;
    size_t len;
    return codec_json_encode(&w->msg->base, &len);
}

char *droplit_webhooks_to_json(const droplit_webhooks *list)
{
    if (list == NULL)
        return NULL;
    const webhooks_impl *l = (const webhooks_impl *)list;
    size_t len;
    return codec_json_encode(&l->msg->base, &len);
}

void droplit_webhook_free(droplit_webhook *webhook)
{
    if (webhook == NULL)
        return;
    webhook_impl *w = (webhook_impl *)webhook;
    if (w->owned == NULL)
        return; /* an item of a list: the list frees it */
    protobuf_c_message_free_unpacked(w->owned, NULL);
    free(w);
}

void droplit_webhooks_free(droplit_webhooks *list)
{
    if (list == NULL)
        return;
    webhooks_impl *l = (webhooks_impl *)list;
    for (size_t p = 0; p < l->n_pages; p++)
        protobuf_c_message_free_unpacked(&l->pages[p]->base, NULL);
    free(l->pages);
    free(l->whole.items);
    free(l->items);
    free(l->ptrs);
    free(l);
}
