/* transport: see transport.h. */
#include "transport.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct transport {
    CURL *curl;
    int fresh_connections;  /* 1: never reuse a connection (see needs_fresh_connections) */
    transport_options opts; /* strings point at the copies below */
    char *ca_file;
    char *user_agent;
    char errbuf[CURL_ERROR_SIZE];
};

/* curl_global_init is not thread-safe and must run before any other libcurl call: do it
 * exactly once, whichever thread makes the first transport. It is never undone (libcurl
 * allows no re-init race either); what it holds stays reachable until exit. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* libcurl 7.88 (Debian bookworm's) fails the second request on a reused HTTP/2
 * prior-knowledge connection with "Error in the HTTP2 framing layer" before sending a byte
 * (curl issue #10634, fixed in 8.0.0). With those versions each such call opens its own
 * connection: slower, but correct. */
static int needs_fresh_connections(transport_http_version v)
{
    return v == TRANSPORT_HTTP_2_PRIOR_KNOWLEDGE && curl_version_info(CURLVERSION_NOW)->version_num < 0x080000;
}

transport *transport_create(const transport_options *opts)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return NULL;
    transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->opts = *opts;
    t->ca_file = opts->ca_file != NULL ? strdup(opts->ca_file) : NULL;
    t->user_agent = opts->user_agent != NULL ? strdup(opts->user_agent) : NULL;
    t->curl = curl_easy_init();
    if (t->curl == NULL || (opts->ca_file != NULL && t->ca_file == NULL) ||
        (opts->user_agent != NULL && t->user_agent == NULL)) {
        transport_destroy(t);
        return NULL;
    }
    t->fresh_connections = needs_fresh_connections(opts->http_version);
    t->opts.ca_file = t->ca_file;
    t->opts.user_agent = t->user_agent;
    return t;
}

void transport_destroy(transport *t)
{
    if (t == NULL)
        return;
    if (t->curl != NULL)
        curl_easy_cleanup(t->curl);
    free(t->ca_file);
    free(t->user_agent);
    free(t);
}

/* The body as it arrives, bounded by max_response_bytes. */
typedef struct sink {
    char *data;
    size_t len, cap, max;
    int too_large, no_memory;
} sink;

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    if (n > s->max - s->len) {
        s->too_large = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *data = realloc(s->data, cap);
        if (data == NULL) {
            s->no_memory = 1;
            return 0;
        }
        s->data = data;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

static long curl_http_version(transport_http_version v)
{
    switch (v) {
    case TRANSPORT_HTTP_1_1:
        return CURL_HTTP_VERSION_1_1;
    case TRANSPORT_HTTP_2_PRIOR_KNOWLEDGE:
        return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    case TRANSPORT_HTTP_2_TLS:
        break;
    }
    return CURL_HTTP_VERSION_2TLS;
}

/* Sets every option a request depends on. The handle is reused for its connection cache,
 * so nothing may be left over from the previous request: each call sets the method,
 * body and headers afresh. Returns the first failing option's code. */
static CURLcode configure(transport *t, const transport_request *req, struct curl_slist *headers, sink *s)
{
    CURL *c = t->curl;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                                  \
    do {                                                                                                               \
        if (rc == CURLE_OK)                                                                                            \
            rc = curl_easy_setopt(c, opt, val);                                                                        \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: required with threads */
    SET(CURLOPT_CONNECTTIMEOUT_MS, t->opts.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, t->opts.timeout_ms);
    SET(CURLOPT_HTTP_VERSION, curl_http_version(t->opts.http_version));
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_FRESH_CONNECT, (long)t->fresh_connections);
    SET(CURLOPT_FORBID_REUSE, (long)t->fresh_connections);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_WRITEFUNCTION, sink_write);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_HTTPHEADER, headers);
    if (t->opts.user_agent != NULL)
        SET(CURLOPT_USERAGENT, t->opts.user_agent);
    if (t->opts.ca_file != NULL)
        SET(CURLOPT_CAINFO, t->opts.ca_file);
    int with_body = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0;
    if (with_body) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
    /* PUT sends its body as a POST would, DELETE none as a GET; NULL: the method above */
    int custom = strcmp(req->method, "PUT") == 0 || strcmp(req->method, "DELETE") == 0;
    SET(CURLOPT_CUSTOMREQUEST, custom ? req->method : NULL);
#undef SET
    return rc;
}

static void fail_with(transport_failure *fail, const char *fmt, const char *detail)
{
    snprintf(fail->cause, sizeof(fail->cause), fmt, detail);
}

transport_result transport_perform(transport *t, const transport_request *req, transport_response *res,
                                   transport_failure *fail)
{
    memset(res, 0, sizeof(*res));
    fail->timed_out = 0;
    fail->cause[0] = '\0';

    struct curl_slist *headers = NULL;
    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
        struct curl_slist *next = curl_slist_append(headers, *h);
        if (next == NULL) {
            curl_slist_free_all(headers);
            fail_with(fail, "%s", "out of memory");
            return TRANSPORT_NO_MEMORY;
        }
        headers = next;
    }
    sink s = {.max = t->opts.max_response_bytes};
    t->errbuf[0] = '\0';
    CURLcode rc = configure(t, req, headers, &s);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(t->curl);
    curl_slist_free_all(headers);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, NULL); /* the list is gone */

    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    res->status = (int)status;
    if (s.no_memory) {
        free(s.data);
        fail_with(fail, "%s", "out of memory");
        return TRANSPORT_NO_MEMORY;
    }
    if (s.too_large) {
        free(s.data);
        snprintf(fail->cause, sizeof(fail->cause), "the response body exceeds the limit of %zu bytes", s.max);
        return TRANSPORT_TOO_LARGE;
    }
    if (rc != CURLE_OK) {
        free(s.data);
        fail->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        fail_with(fail, "%s", t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc));
        return TRANSPORT_FAILED;
    }
    const char *ct = NULL;
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(res->content_type, sizeof(res->content_type), "%s", ct != NULL ? ct : "");
    if (s.data == NULL) { /* an empty body: still a string */
        s.data = calloc(1, 1);
        if (s.data == NULL) {
            fail_with(fail, "%s", "out of memory");
            return TRANSPORT_NO_MEMORY;
        }
    }
    res->body = s.data;
    res->len = s.len;
    return TRANSPORT_OK;
}
