/* outbound: see outbound.h.
 *
 * A call is prepared on the submitting thread (the body encoded and signed, the easy
 * handle set up: nothing there waits on the network), queued under a lock, and the
 * client's thread is woken with curl_multi_wakeup; only that thread touches the multi
 * handle. It ends each call with the call's done, on that thread. */
#include "outbound.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "codec_json.h"
#include "hg_assert.h"
#include "metrics.h"
#include "sign.h"

#if LIBCURL_VERSION_NUM < 0x075400
#error "outbound reads Retry-After with curl_easy_header: libcurl 7.84.0 or later"
#endif

#define OUTBOUND_POLL_MS 1000 /* the longest the thread sleeps without a wakeup */

/* One call in flight. */
typedef struct transfer {
    struct transfer *prev, *next; /* in queued or in active */
    delivery_call *call;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t body_len;
    size_t received;    /* bytes of the answer's body read (the first kept in the call's response) */
    uint64_t start_ms;  /* monotonic */
    int blocked;        /* an address was refused by the policy */
    char why[NETPOLICY_WHY_MAX];
    char errbuf[CURL_ERROR_SIZE];
} transfer;

typedef struct transfer_list {
    transfer *head;
} transfer_list;

typedef struct outbound {
    delivery base; /* first: the core sees only this */
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock; /* queued, stopping */
    transfer_list queued; /* submitted, not yet given to the multi handle */
    int stopping;
    transfer_list active; /* the thread's own: given to the multi handle */
    char user_agent[OUTBOUND_USER_AGENT_MAX];
} outbound;

static uint64_t monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void list_push(transfer_list *l, transfer *t)
{
    t->prev = NULL;
    t->next = l->head;
    if (l->head != NULL)
        l->head->prev = t;
    l->head = t;
}

static void list_remove(transfer_list *l, transfer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static void transfer_free(transfer *t)
{
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t);
}

/* Ends a call: its outcome counted, its done run, its transfer freed. */
static void finish(transfer *t, delivery_outcome outcome, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(transfer *t, delivery_outcome outcome, unsigned status, const char *fmt, ...)
{
    delivery_call *call = t->call;
    uint64_t took = t->start_ms > 0 ? monotonic_ms() - t->start_ms : 0;
    call->outcome = outcome;
    call->status = status;
    if (outcome != DELIVERY_OK && outcome != DELIVERY_STATUS) { /* no answer: what came of one is dropped */
        call->retry_after[0] = '\0';
        call->response_len = 0;
    }
    call->duration_ms = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->detail, sizeof call->detail, fmt, ap);
    va_end(ap);
    metrics_invoke(outcome, (int64_t)took * 1000);
    transfer_free(t);
    call->done(call);
}

/* ---- libcurl callbacks (on the client's thread) ------------------------------------------ */

/* The guard: the address curl is about to connect to, judged before a socket exists. */
static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
    transfer *t = data;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        netpolicy_check(t->call->policy, &a->addr, a->addrlen, t->why, sizeof t->why) != NETPOLICY_ALLOWED) {
        t->blocked = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The answer's body: its first DELIVERY_RESPONSE_KEEP bytes kept in the call (which its
 * owner leaves alone until done), the rest counted and dropped; past
 * DELIVERY_MAX_RESPONSE_BYTES the transfer stops (its status is already known). */
static size_t take_body(char *data, size_t size, size_t n, void *user)
{
    transfer *t = user;
    delivery_call *call = t->call;
    size_t len = size * n;
    HG_ASSERT(call->response_len <= sizeof call->response);
    size_t keep = sizeof call->response - call->response_len;
    if (keep > len)
        keep = len;
    memcpy(call->response + call->response_len, data, keep);
    call->response_len += keep;
    t->received += len;
    return t->received > DELIVERY_MAX_RESPONSE_BYTES ? 0 : len;
}

/* ---- preparing a call (on the submitting thread) ------------------------------------------ */

static int add_header(transfer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_header(transfer *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    HG_ASSERT(n > 0 && (size_t)n < sizeof line);
    struct curl_slist *l = curl_slist_append(t->headers, line);
    if (l == NULL)
        return -1;
    t->headers = l;
    return 0;
}

/* The headers: JSON, and with a secret both signatures of the body. */
static int sign_headers(transfer *t)
{
    const delivery_call *call = t->call;
    uint64_t now = (uint64_t)time(NULL);
    char stamp[SIGN_TIMESTAMP_SIZE];
    sign_timestamp_format(now, stamp);
    if (add_header(t, "Content-Type: application/json") != 0 || add_header(t, "Expect:") != 0 ||
        add_header(t, "webhook-id: %s", call->message_id) != 0 || add_header(t, "webhook-timestamp: %s", stamp) != 0)
        return -1;
    if (call->secret == NULL)
        return 0;
    char droplit[SIGN_DROPLIT_HEX_SIZE], standard[SIGN_STANDARD_SIZE];
    sign_key key;
    int rc = sign_droplit((const uint8_t *)call->secret, call->secret_len, (const uint8_t *)t->body, t->body_len,
                          droplit);
    if (rc == 0)
        rc = sign_key_derive(call->secret, call->secret_len, &key);
    if (rc == 0)
        rc = sign_standard(&key, call->message_id, strlen(call->message_id), now, (const uint8_t *)t->body,
                           t->body_len, standard);
    OPENSSL_cleanse(&key, sizeof key); /* the derived key is the secret's: no copy outlives the call */
    if (rc != 0)
        return -1;
    return add_header(t, "x-droplit-signature: %s", droplit) != 0 ||
                   add_header(t, "webhook-signature: %s", standard) != 0
               ? -1
               : 0;
}

static int set_options(outbound *o, transfer *t)
{
    const delivery_call *call = t->call;
    CURL *e = t->easy;
    CURLcode rc = CURLE_OK;
#define SET(option, value)                                                                                             \
    if (rc == CURLE_OK)                                                                                                \
    rc = curl_easy_setopt(e, option, value)
    SET(CURLOPT_URL, call->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, ""); /* never a proxy from the environment: it would connect for us, unjudged */
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_POSTFIELDS, t->body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
    SET(CURLOPT_HTTPHEADER, t->headers);
    SET(CURLOPT_USERAGENT, o->user_agent);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)call->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)call->timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FRESH_CONNECT, 1L); /* every connection's address is judged as it opens */
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, t);
    SET(CURLOPT_WRITEFUNCTION, take_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_PRIVATE, t);
#undef SET
    return rc == CURLE_OK ? 0 : -1;
}

static void outbound_submit(delivery *d, delivery_call *call)
{
    outbound *o = (outbound *)d;
    transfer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        call->outcome = DELIVERY_FAILED;
        snprintf(call->detail, sizeof call->detail, "out of memory");
        metrics_invoke(DELIVERY_FAILED, 0);
        call->done(call);
        return;
    }
    t->call = call;
    t->start_ms = monotonic_ms();
    if ((t->body = codec_json_encode(call->body, &t->body_len)) == NULL || sign_headers(t) != 0 ||
        (t->easy = curl_easy_init()) == NULL || set_options(o, t) != 0) {
        finish(t, DELIVERY_FAILED, 0, "out of memory");
        return;
    }
    pthread_mutex_lock(&o->lock);
    int stopping = o->stopping;
    if (!stopping)
        list_push(&o->queued, t);
    pthread_mutex_unlock(&o->lock);
    if (stopping) {
        finish(t, DELIVERY_FAILED, 0, "the server is shutting down");
        return;
    }
    curl_multi_wakeup(o->multi);
}

/* ---- the client's thread ------------------------------------------------------------------ */

/* The answer's Retry-After, raw, into the call: curl's header API reads the final answer's
 * headers only (not a 1xx's, not trailers), the first when repeated, its value already
 * stripped of surrounding whitespace (curl's documented contract). A value too long for the
 * call's buffer is dropped whole: a cut one could parse as another time. */
static void take_retry_after(transfer *t)
{
    delivery_call *call = t->call;
    struct curl_header *h = NULL;
    call->retry_after[0] = '\0';
    if (curl_easy_header(t->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h->value == NULL)
        return;
    size_t len = strlen(h->value);
    if (len < sizeof call->retry_after)
        memcpy(call->retry_after, h->value, len + 1);
}

/* A finished transfer's outcome, in words a client can act on. The url is never repeated:
 * it may hold userinfo. */
static void conclude(transfer *t, CURLcode result)
{
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    const delivery_call *call = t->call;
    if (status > 0 && (result == CURLE_OK || (result == CURLE_WRITE_ERROR && t->received > DELIVERY_MAX_RESPONSE_BYTES))) {
        take_retry_after(t);
        if (status >= 200 && status < 300)
            finish(t, DELIVERY_OK, (unsigned)status, "the url answered %ld", status);
        else if (status >= 300 && status < 400)
            finish(t, DELIVERY_STATUS, (unsigned)status, "the url answered %ld (a redirect: redirects are not followed)",
                   status);
        else
            finish(t, DELIVERY_STATUS, (unsigned)status, "the url answered %ld", status);
        return;
    }
    switch (result) {
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0)
            finish(t, DELIVERY_TIMEOUT, 0, "could not connect: timed out after %u ms", call->connect_timeout_ms);
        else
            finish(t, DELIVERY_TIMEOUT, 0, "timed out after %u ms", call->timeout_ms);
        return;
    }
    case CURLE_COULDNT_CONNECT:
        if (t->blocked)
            finish(t, DELIVERY_BLOCKED, 0, "blocked: %s", t->why);
        else
            finish(t, DELIVERY_REFUSED, 0, "connection refused");
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        finish(t, DELIVERY_NO_HOST, 0, "no such host");
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        finish(t, DELIVERY_TLS, 0, "TLS failed: %s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(result));
        return;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        finish(t, DELIVERY_CLOSED, 0, "the connection closed before a whole answer");
        return;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        finish(t, DELIVERY_FAILED, 0, "the url cannot be called (%s)", curl_easy_strerror(result));
        return;
    default:
        finish(t, DELIVERY_FAILED, 0, "%s", curl_easy_strerror(result));
    }
}

/* Gives the multi handle what was queued; 1 when the client is stopping. */
static int take_queued(outbound *o)
{
    pthread_mutex_lock(&o->lock);
    transfer *q = o->queued.head;
    o->queued.head = NULL;
    int stopping = o->stopping;
    pthread_mutex_unlock(&o->lock);
    while (q != NULL) {
        transfer *t = q;
        q = q->next;
        list_push(&o->active, t);
        if (curl_multi_add_handle(o->multi, t->easy) != CURLM_OK) {
            list_remove(&o->active, t);
            finish(t, DELIVERY_FAILED, 0, "out of memory");
        }
    }
    return stopping;
}

static void *run(void *arg)
{
    outbound *o = arg;
    for (;;) {
        if (take_queued(o))
            break;
        int running;
        curl_multi_perform(o->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(o->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            transfer *t;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            CURLcode result = m->data.result; /* m is invalid once the handle is removed */
            curl_multi_remove_handle(o->multi, t->easy);
            list_remove(&o->active, t);
            conclude(t, result);
        }
        curl_multi_poll(o->multi, NULL, 0, OUTBOUND_POLL_MS, NULL);
    }
    while (o->active.head != NULL) { /* stopping: every call still in flight ends now */
        transfer *t = o->active.head;
        curl_multi_remove_handle(o->multi, t->easy);
        list_remove(&o->active, t);
        finish(t, DELIVERY_FAILED, 0, "the server is shutting down");
    }
    return NULL;
}

static void outbound_destroy(delivery *d)
{
    outbound *o = (outbound *)d;
    pthread_mutex_lock(&o->lock);
    o->stopping = 1;
    pthread_mutex_unlock(&o->lock);
    curl_multi_wakeup(o->multi);
    pthread_join(o->thread, NULL);
    /* what was queued after the thread's last look */
    while (o->queued.head != NULL) {
        transfer *t = o->queued.head;
        list_remove(&o->queued, t);
        finish(t, DELIVERY_FAILED, 0, "the server is shutting down");
    }
    curl_multi_cleanup(o->multi);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static const delivery_ops outbound_ops = {outbound_submit, outbound_destroy};

delivery *outbound_create(const char *user_agent, char *why, size_t why_size)
{
    CURLcode g = curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: it is not thread-safe */
    if (g != CURLE_OK) {
        snprintf(why, why_size, "libcurl: %s", curl_easy_strerror(g));
        return NULL;
    }
    outbound *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->multi = curl_multi_init()) == NULL) {
        snprintf(why, why_size, "out of memory");
        free(o);
        return NULL;
    }
    o->base.ops = &outbound_ops;
    snprintf(o->user_agent, sizeof o->user_agent, "%s", user_agent);
    pthread_mutex_init(&o->lock, NULL);
    int rc = pthread_create(&o->thread, NULL, run, o);
    if (rc != 0) {
        snprintf(why, why_size, "cannot start the outbound thread: %s", strerror(rc));
        curl_multi_cleanup(o->multi);
        pthread_mutex_destroy(&o->lock);
        free(o);
        return NULL;
    }
    return &o->base;
}
