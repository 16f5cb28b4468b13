/* test_outbound: the delivery outbound_create makes, driven through delivery_submit against
 * a small HTTP/1.1 receiver on 127.0.0.1 in this test (one connection at a time, answering
 * as each case asks, keeping the raw request). What a call sends (a POST of the body's JSON,
 * content-type, user-agent, webhook-id, webhook-timestamp, both signatures recomputed here,
 * none without a secret) and what each way of answering becomes: 2xx, another status, a
 * redirect not followed, an answer body past DELIVERY_MAX_RESPONSE_BYTES, no answer
 * (timeout), a connection closed unanswered, a refused port, a name under .invalid, an
 * address the policy denies (never connected to), and a call in flight when the delivery
 * is destroyed. And what is kept of an answer: its Retry-After, raw (a number, an HTTP-date,
 * trimmed, absent, too long), the first DELIVERY_RESPONSE_KEEP bytes of its body, nothing of
 * one cut short, nothing of a previous call's. */
#include "outbound.h"
#include "codec_json.h"
#include "sign.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "schema.h"

#define USER_AGENT "hookgate/test"
#define REQUEST_MAX (64 * 1024) /* bytes of one recorded request */
#define WAIT_MS 10000           /* the longest a test waits for anything before calling it a failure */

/* ---- the receiver ------------------------------------------------------------------------- */

typedef enum answer {
    ANSWER_200,
    ANSWER_204,
    ANSWER_500,
    ANSWER_302,
    ANSWER_HANG,  /* reads the request, never answers, waits for the client to go */
    ANSWER_CLOSE, /* reads the request, closes without a byte */
    ANSWER_BIG,   /* 200 with a body past DELIVERY_MAX_RESPONSE_BYTES */
    ANSWER_RAW,   /* the bytes receiver_expect_raw was given (in two writes, if told), then
                     closes (or hangs, if told) */
} answer;

#define RAW_MAX 4096 /* bytes of one ANSWER_RAW answer */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fd;
    unsigned short port;
    answer mode;
    char raw[RAW_MAX]; /* ANSWER_RAW's answer */
    size_t raw_len;
    size_t raw_split; /* where a pause cuts it in two writes (the client reads two pieces); 0 = none */
    int raw_hang;
    int stop;
    unsigned connections; /* accepted */
    unsigned requests;    /* read whole */
    unsigned finished;    /* connections closed */
    char request[REQUEST_MAX + 1];
    size_t request_len;
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int stopping(void)
{
    pthread_mutex_lock(&rx.lock);
    int s = rx.stop;
    pthread_mutex_unlock(&rx.lock);
    return s;
}

/* Waits up to 100 ms for fd to be readable; 1 when it is. */
static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 100) == 1;
}

/* Reads one request (headers, then content-length bytes of body); 0, or -1 when the client
 * went first. */
static int read_request(int fd, char *buf, size_t *len)
{
    *len = 0;
    size_t want = 0; /* the whole request's length, once the headers are in */
    while (want == 0 || *len < want) {
        if (stopping())
            return -1;
        if (!readable(fd))
            continue;
        ssize_t n = read(fd, buf + *len, REQUEST_MAX - *len);
        if (n <= 0)
            return -1;
        *len += (size_t)n;
        buf[*len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (want == 0 && end != NULL) {
            size_t body = 0;
            for (char *line = strstr(buf, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n"))
                if (strncasecmp(line + 2, "content-length:", 15) == 0)
                    body = strtoul(line + 2 + 15, NULL, 10);
            want = (size_t)(end + 4 - buf) + body;
        }
        if (*len == REQUEST_MAX)
            return -1;
    }
    return 0;
}

/* Writes p whole (n bytes, or strlen(p) when n is 0), or until the client is gone. */
static void write_all(int fd, const char *p, size_t n)
{
    if (n == 0)
        n = strlen(p);
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Until the client closes or the test stops. */
static void hang(int fd)
{
    char sink[256];
    while (!stopping())
        if (readable(fd) && read(fd, sink, sizeof sink) <= 0)
            break;
}

static void answer_request(int fd, answer mode)
{
    char head[256];
    switch (mode) {
    case ANSWER_200:
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 0);
        break;
    case ANSWER_204:
        write_all(fd, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0);
        break;
    case ANSWER_500:
        write_all(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0);
        break;
    case ANSWER_302: {
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u/elsewhere\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n",
                         rx.port);
        write_all(fd, head, (size_t)n);
        break;
    }
    case ANSWER_BIG: {
        enum { BIG = DELIVERY_MAX_RESPONSE_BYTES + 4000 };
        static char body[BIG];
        memset(body, 'b', sizeof body);
        int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", BIG);
        write_all(fd, head, (size_t)n);
        write_all(fd, body, sizeof body); /* the client may stop reading: write fails, that is fine */
        break;
    }
    case ANSWER_HANG:
        hang(fd);
        break;
    case ANSWER_RAW: {
        static char raw[RAW_MAX]; /* the receiver's copy: the test may set the next one meanwhile */
        pthread_mutex_lock(&rx.lock);
        size_t n = rx.raw_len, split = rx.raw_split;
        int then_hang = rx.raw_hang;
        memcpy(raw, rx.raw, n);
        pthread_mutex_unlock(&rx.lock);
        if (split > 0) {
            write_all(fd, raw, split);
            struct timespec pause = {0, 50 * 1000000};
            nanosleep(&pause, NULL);
        }
        write_all(fd, raw + split, n - split);
        if (then_hang)
            hang(fd);
        break;
    }
    case ANSWER_CLOSE:
        break;
    }
}

static void *receive(void *arg)
{
    (void)arg;
    static char buf[REQUEST_MAX + 1];
    while (!stopping()) {
        if (!readable(rx.fd))
            continue;
        int fd = accept(rx.fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&rx.lock);
        rx.connections++;
        answer mode = rx.mode;
        pthread_mutex_unlock(&rx.lock);
        size_t len;
        if (read_request(fd, buf, &len) == 0) {
            pthread_mutex_lock(&rx.lock);
            memcpy(rx.request, buf, len + 1);
            rx.request_len = len;
            rx.requests++;
            pthread_cond_broadcast(&rx.cond);
            pthread_mutex_unlock(&rx.lock);
            answer_request(fd, mode);
        }
        close(fd);
        pthread_mutex_lock(&rx.lock);
        rx.finished++;
        pthread_cond_broadcast(&rx.cond);
        pthread_mutex_unlock(&rx.lock);
    }
    return NULL;
}

static pthread_t rx_thread;

static void receiver_start(void)
{
    rx.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK(rx.fd >= 0 && bind(rx.fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(rx.fd, 8) == 0);
    CHECK(getsockname(rx.fd, (struct sockaddr *)&a, &alen) == 0);
    rx.port = ntohs(a.sin_port);
    CHECK(pthread_create(&rx_thread, NULL, receive, NULL) == 0);
}

static void receiver_stop(void)
{
    pthread_mutex_lock(&rx.lock);
    rx.stop = 1;
    pthread_mutex_unlock(&rx.lock);
    pthread_join(rx_thread, NULL);
    close(rx.fd);
}

/* Sets how the next connections are answered and forgets the last request; returns the
 * connections accepted so far. */
static unsigned receiver_expect(answer mode)
{
    pthread_mutex_lock(&rx.lock);
    rx.mode = mode;
    rx.request[0] = '\0';
    rx.request_len = 0;
    unsigned n = rx.connections;
    pthread_mutex_unlock(&rx.lock);
    return n;
}

/* The next connections are answered with raw's n bytes (strlen(raw) when n is 0), in two
 * writes cut at split when it is not 0, then closed, or left open until the client goes
 * when hang is set. */
static unsigned receiver_expect_split(const char *raw, size_t n, size_t split, int hang)
{
    if (n == 0)
        n = strlen(raw);
    CHECK(n <= RAW_MAX && split < n);
    pthread_mutex_lock(&rx.lock);
    memcpy(rx.raw, raw, n);
    rx.raw_len = n;
    rx.raw_split = split;
    rx.raw_hang = hang;
    pthread_mutex_unlock(&rx.lock);
    return receiver_expect(ANSWER_RAW);
}

static unsigned receiver_expect_raw(const char *raw, size_t n, int hang)
{
    return receiver_expect_split(raw, n, 0, hang);
}

static void deadline_in(struct timespec *t, int ms)
{
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000;
    if (t->tv_nsec >= 1000000000) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000;
    }
}

/* Waits until every accepted connection is closed (the receiver is back at accept). */
static void receiver_settle(void)
{
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&rx.lock);
    int rc = 0;
    while (rx.finished != rx.connections && rc == 0)
        rc = pthread_cond_timedwait(&rx.cond, &rx.lock, &until);
    pthread_mutex_unlock(&rx.lock);
    CHECK(rc == 0);
}

/* Waits until the receiver has read requests past `seen`. */
static void receiver_wait_request(unsigned seen)
{
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&rx.lock);
    int rc = 0;
    while (rx.requests <= seen && rc == 0)
        rc = pthread_cond_timedwait(&rx.cond, &rx.lock, &until);
    pthread_mutex_unlock(&rx.lock);
    CHECK(rc == 0);
}

static unsigned receiver_connections(void)
{
    pthread_mutex_lock(&rx.lock);
    unsigned n = rx.connections;
    pthread_mutex_unlock(&rx.lock);
    return n;
}

static unsigned receiver_requests(void)
{
    pthread_mutex_lock(&rx.lock);
    unsigned n = rx.requests;
    pthread_mutex_unlock(&rx.lock);
    return n;
}

/* The value of the last request's header `name` (case-insensitive), copied into out; NULL
 * when absent. */
static const char *header(const char *name, char *out, size_t out_size)
{
    pthread_mutex_lock(&rx.lock);
    const char *end = strstr(rx.request, "\r\n\r\n");
    const char *found = NULL;
    size_t nlen = strlen(name);
    for (const char *line = strstr(rx.request, "\r\n"); end != NULL && line != NULL && line < end;
         line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, nlen) == 0 && line[2 + nlen] == ':') {
            const char *v = line + 2 + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(strstr(v, "\r\n") - v);
            if (vlen < out_size) {
                memcpy(out, v, vlen);
                out[vlen] = '\0';
                found = out;
            }
            break;
        }
    }
    pthread_mutex_unlock(&rx.lock);
    return found;
}

/* ---- calls ------------------------------------------------------------------------------------ */

typedef struct waited {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waited;

static void on_done(delivery_call *call)
{
    waited *w = call->data;
    pthread_mutex_lock(&w->lock);
    w->done++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The body every call sends: a Transaction of one Info notification, as an invoke's. */
static schema_timestamp stamp = SCHEMA_TIMESTAMP_INIT;
static schema_notification note = SCHEMA_NOTIFICATION_INIT;
static schema_notification *items[1] = {&note};
static schema_transaction body = SCHEMA_TRANSACTION_INIT;

static netpolicy loopback_allowed, nothing_allowed;

static void call_init(delivery_call *c, const char *url, const netpolicy *p, unsigned timeout_ms, waited *w)
{
    *c = (delivery_call){.url = url,
                         .body = &body.base,
                         .policy = p,
                         .connect_timeout_ms = 1000,
                         .timeout_ms = timeout_ms,
                         .done = on_done,
                         .data = w};
    strcpy(c->message_id, "msg_65a1b2c3d4e5f60718293a4b");
    *w = (waited){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
}

/* Waits for the call's done; 1 when it ran exactly once in time. */
static int wait_done(waited *w)
{
    struct timespec until;
    deadline_in(&until, WAIT_MS);
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    while (w->done == 0 && rc == 0)
        rc = pthread_cond_timedwait(&w->cond, &w->lock, &until);
    int done = w->done;
    pthread_mutex_unlock(&w->lock);
    return done == 1;
}

/* Submits call and waits for it; the receiver is settled afterwards. */
static void call_run(delivery *d, delivery_call *c, waited *w)
{
    delivery_submit(d, c);
    CHECK(wait_done(w));
    receiver_settle();
}

static char url_root[64], url_hook[64];

#define EXPECT(c, want_outcome, want_status, want_detail)                                                              \
    do {                                                                                                               \
        const delivery_call *c_ = (c);                                                                                 \
        if (c_->outcome != (want_outcome) || c_->status != (want_status) || strcmp(c_->detail, want_detail) != 0) {    \
            fprintf(stderr, "%s:%d: got %s %u \"%s\", want %s %u \"%s\"\n", __FILE__, __LINE__,                        \
                    delivery_outcome_name(c_->outcome), c_->status, c_->detail, delivery_outcome_name(want_outcome),   \
                    (unsigned)(want_status), want_detail);                                                             \
            test_failures++;                                                                                           \
        }                                                                                                              \
    } while (0)

/* ---- the cases --------------------------------------------------------------------------------- */

/* A call with a secret: what arrives, byte for byte where the test can say. */
static void test_request(delivery *d)
{
    delivery_call c;
    waited w;
    unsigned before = receiver_expect(ANSWER_200);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    c.secret = "s3cret";
    c.secret_len = 6;
    uint64_t t0 = (uint64_t)time(NULL);
    call_run(d, &c, &w);
    uint64_t t1 = (uint64_t)time(NULL);
    EXPECT(&c, DELIVERY_OK, 200, "the url answered 200");
    CHECK(receiver_connections() == before + 1);
    CHECK(c.duration_ms < WAIT_MS);

    size_t want_len;
    char *want = codec_json_encode(&body.base, &want_len);
    CHECK(want != NULL);
    char value[256], *got_body = NULL;
    pthread_mutex_lock(&rx.lock);
    CHECK(strncmp(rx.request, "POST /hook HTTP/1.1\r\n", 21) == 0);
    char *end = strstr(rx.request, "\r\n\r\n");
    CHECK(end != NULL);
    if (end != NULL && want != NULL) {
        got_body = end + 4;
        CHECK((size_t)(rx.request + rx.request_len - got_body) == want_len && memcmp(got_body, want, want_len) == 0);
    }
    pthread_mutex_unlock(&rx.lock);
    char length[32];
    snprintf(length, sizeof length, "%zu", want_len);
    CHECK_STR(header("content-length", value, sizeof value), length);
    CHECK_STR(header("content-type", value, sizeof value), "application/json");
    CHECK_STR(header("user-agent", value, sizeof value), USER_AGENT);
    CHECK_STR(header("webhook-id", value, sizeof value), "msg_65a1b2c3d4e5f60718293a4b");
    CHECK(header("expect", value, sizeof value) == NULL); /* no 100-continue round trip */

    /* the timestamp is now, in seconds; both signatures check out against it */
    char ts[SIGN_TIMESTAMP_SIZE];
    CHECK(header("webhook-timestamp", ts, sizeof ts) != NULL);
    char *stop = NULL;
    unsigned long long seconds = strtoull(ts, &stop, 10);
    CHECK(stop != NULL && *stop == '\0' && seconds >= t0 && seconds <= t1);
    if (want != NULL) {
        char droplit[SIGN_DROPLIT_HEX_SIZE], standard[SIGN_STANDARD_SIZE];
        sign_key key;
        CHECK(sign_droplit((const uint8_t *)"s3cret", 6, (const uint8_t *)want, want_len, droplit) == 0);
        CHECK(sign_key_derive("s3cret", 6, &key) == 0);
        CHECK(sign_standard(&key, c.message_id, strlen(c.message_id), seconds, (const uint8_t *)want, want_len,
                            standard) == 0);
        CHECK_STR(header("x-droplit-signature", value, sizeof value), droplit);
        CHECK_STR(header("webhook-signature", value, sizeof value), standard);
    }
    free(want);

    /* without a secret: unsigned, the rest the same */
    before = receiver_expect(ANSWER_204);
    call_init(&c, url_root, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 204, "the url answered 204");
    CHECK(receiver_connections() == before + 1);
    pthread_mutex_lock(&rx.lock);
    CHECK(strncmp(rx.request, "POST / HTTP/1.1\r\n", 17) == 0);
    pthread_mutex_unlock(&rx.lock);
    CHECK(header("x-droplit-signature", value, sizeof value) == NULL);
    CHECK(header("webhook-signature", value, sizeof value) == NULL);
    CHECK_STR(header("webhook-id", value, sizeof value), "msg_65a1b2c3d4e5f60718293a4b");
    CHECK(header("webhook-timestamp", value, sizeof value) != NULL);
    CHECK_STR(header("content-type", value, sizeof value), "application/json");
}

/* Every way of answering, and of not answering. */
static void test_outcomes(delivery *d)
{
    delivery_call c;
    waited w;

    receiver_expect(ANSWER_500);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_STATUS, 500, "the url answered 500");

    /* a redirect is an answer, not followed: one request */
    unsigned requests = receiver_requests(), before = receiver_expect(ANSWER_302);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_STATUS, 302, "the url answered 302 (a redirect: redirects are not followed)");
    CHECK(receiver_connections() == before + 1 && receiver_requests() == requests + 1);
    pthread_mutex_lock(&rx.lock);
    CHECK(strncmp(rx.request, "POST /hook ", 11) == 0);
    pthread_mutex_unlock(&rx.lock);

    /* an answer body past the bound: read up to it, dropped, still a 2xx */
    receiver_expect(ANSWER_BIG);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 200, "the url answered 200");

    /* no answer: the total timeout */
    receiver_expect(ANSWER_HANG);
    call_init(&c, url_hook, &loopback_allowed, 300, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_TIMEOUT, 0, "timed out after 300 ms");
    CHECK(c.duration_ms >= 290 && c.duration_ms < WAIT_MS);

    /* the connection closed without an answer */
    receiver_expect(ANSWER_CLOSE);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_CLOSED, 0, "the connection closed before a whole answer");

    /* nobody listening: a port that was just closed */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    char closed_url[64];
    snprintf(closed_url, sizeof closed_url, "http://127.0.0.1:%u/hook", ntohs(a.sin_port));
    call_init(&c, closed_url, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_REFUSED, 0, "connection refused");

    /* a name that cannot resolve (RFC 6761's .invalid) */
    call_init(&c, "http://hookgate-test.invalid/hook", &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_NO_HOST, 0, "no such host");

    /* the policy denies loopback: blocked, and the receiver never sees a connection */
    before = receiver_expect(ANSWER_200);
    call_init(&c, url_hook, &nothing_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_BLOCKED, 0, "blocked: 127.0.0.1 is a loopback address");
    CHECK(receiver_connections() == before);
    /* "localhost" too: the address is judged, not the name */
    char named[64];
    snprintf(named, sizeof named, "http://localhost:%u/hook", rx.port);
    call_init(&c, named, &nothing_allowed, 1000, &w);
    call_run(d, &c, &w);
    CHECK(c.outcome == DELIVERY_BLOCKED);
    CHECK(strncmp(c.detail, "blocked: ", 9) == 0 && strstr(c.detail, "is a loopback address") != NULL);
    CHECK(receiver_connections() == before);

    /* and a call after all that still works: nothing was left behind */
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 200, "the url answered 200");
    CHECK(receiver_connections() == before + 1);
}

/* 1 when call's response is exactly the n bytes at want. */
static int response_is(const delivery_call *c, const void *want, size_t n)
{
    return c->response_len == n && memcmp(c->response, want, n) == 0;
}

/* 1 when nothing of an answer is in call: no Retry-After, no body byte. */
static int nothing_kept(const delivery_call *c)
{
    static const uint8_t zero[DELIVERY_RESPONSE_KEEP];
    return c->retry_after[0] == '\0' && c->response_len == 0 && memcmp(c->response, zero, sizeof zero) == 0;
}

/* Retry-After as the target sent it: raw, trimmed, never parsed here. */
static void test_retry_after(delivery *d)
{
    delivery_call c;
    waited w;

    receiver_expect_raw("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n"
                        "Connection: close\r\n\r\nbusy",
                        0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_STATUS, 503, "the url answered 503");
    CHECK_STR(c.retry_after, "7");
    CHECK(response_is(&c, "busy", 4));

    /* an HTTP-date, the blanks around it trimmed, the name in any case */
    receiver_expect_raw("HTTP/1.1 429 Too Many Requests\r\nretry-after: \t Wed, 21 Oct 2015 07:28:00 GMT \t\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n",
                        0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_STATUS, 429, "the url answered 429");
    CHECK_STR(c.retry_after, "Wed, 21 Oct 2015 07:28:00 GMT");
    CHECK(c.response_len == 0);

    /* repeated: the first */
    receiver_expect_raw("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nRetry-After: 60\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n",
                        0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    CHECK_STR(c.retry_after, "30");

    /* the longest value kept, and one byte more: dropped whole, never cut */
    char value[DELIVERY_RETRY_AFTER_MAX + 1], raw[512];
    memset(value, '9', DELIVERY_RETRY_AFTER_MAX - 1);
    value[DELIVERY_RETRY_AFTER_MAX - 1] = '\0';
    snprintf(raw, sizeof raw,
             "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
             value);
    receiver_expect_raw(raw, 0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    CHECK_STR(c.retry_after, value);
    strcat(value, "9");
    snprintf(raw, sizeof raw,
             "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
             value);
    receiver_expect_raw(raw, 0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_STATUS, 503, "the url answered 503");
    CHECK_STR(c.retry_after, "");

    /* absent */
    receiver_expect(ANSWER_500);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_STATUS, 500, "the url answered 500");
    CHECK_STR(c.retry_after, "");
}

/* The answer's body: its first DELIVERY_RESPONSE_KEEP bytes, for a 2xx as for another status. */
static void test_response(delivery *d)
{
    delivery_call c;
    waited w;

    /* a 2xx's short body, whole */
    receiver_expect(ANSWER_200);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 200, "the url answered 200");
    CHECK(response_is(&c, "ok", 2));

    /* none at all */
    receiver_expect(ANSWER_204);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 204, "the url answered 204");
    CHECK(c.response_len == 0);

    /* bytes no text has (NULs among them): each in its place, the first KEEP of a longer body,
     * then a body of exactly KEEP bytes, whole, then one byte less; each read in two pieces */
    enum { LONG = DELIVERY_RESPONSE_KEEP + 500 };
    static char pattern[LONG], raw[RAW_MAX];
    for (size_t i = 0; i < LONG; i++)
        pattern[i] = (char)(i % 251);
    size_t sizes[] = {LONG, DELIVERY_RESPONSE_KEEP, DELIVERY_RESPONSE_KEEP - 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = snprintf(raw, sizeof raw, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         sizes[k]);
        memcpy(raw + n, pattern, sizes[k]);
        receiver_expect_split(raw, (size_t)n + sizes[k], (size_t)n + 300, 0);
        call_init(&c, url_hook, &loopback_allowed, 1000, &w);
        call_run(d, &c, &w);
        EXPECT(&c, DELIVERY_STATUS, 502, "the url answered 502");
        size_t want = sizes[k] < DELIVERY_RESPONSE_KEEP ? sizes[k] : DELIVERY_RESPONSE_KEEP;
        CHECK(response_is(&c, pattern, want));
    }

    /* past DELIVERY_MAX_RESPONSE_BYTES, where the call stops reading: still the first bytes */
    receiver_expect(ANSWER_BIG);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 200, "the url answered 200");
    static char bs[DELIVERY_RESPONSE_KEEP];
    memset(bs, 'b', sizeof bs);
    CHECK(response_is(&c, bs, sizeof bs));
}

/* An answer cut short is no answer: nothing of it is kept. Nor is anything of a previous call. */
static void test_nothing_stale(delivery *d)
{
    delivery_call c;
    waited w;
    static const char cut[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 100\r\n"
                              "Connection: close\r\n\r\npartial";

    /* the headers and a part of the body, then nothing: the total timeout */
    receiver_expect_raw(cut, 0, 1);
    call_init(&c, url_hook, &loopback_allowed, 300, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_TIMEOUT, 0, "timed out after 300 ms");
    CHECK(c.retry_after[0] == '\0' && c.response_len == 0);
    /* the same, then the connection closed */
    receiver_expect_raw(cut, 0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_CLOSED, 0, "the connection closed before a whole answer");
    CHECK(c.retry_after[0] == '\0' && c.response_len == 0);

    /* one call used again and again: an answer with both, then one with neither, then no answer */
    receiver_expect_raw("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n"
                        "Connection: close\r\n\r\nbusy",
                        0, 0);
    call_init(&c, url_hook, &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    CHECK_STR(c.retry_after, "7");
    CHECK(response_is(&c, "busy", 4));
    receiver_expect(ANSWER_204);
    w.done = 0;
    call_run(d, &c, &w);
    EXPECT(&c, DELIVERY_OK, 204, "the url answered 204");
    CHECK(nothing_kept(&c));
    receiver_expect(ANSWER_200);
    w.done = 0;
    call_run(d, &c, &w);
    CHECK(response_is(&c, "ok", 2));
    w.done = 0;
    c.policy = &nothing_allowed;
    call_run(d, &c, &w);
    CHECK(c.outcome == DELIVERY_BLOCKED);
    CHECK(nothing_kept(&c));
}

/* A url curl cannot call: failed, saying so, without a connection. */
static void test_bad_url(delivery *d)
{
    delivery_call c;
    waited w;
    unsigned before = receiver_expect(ANSWER_200);
    call_init(&c, "ftp://127.0.0.1/x", &loopback_allowed, 1000, &w);
    call_run(d, &c, &w);
    CHECK(c.outcome == DELIVERY_FAILED && strncmp(c.detail, "the url cannot be called (", 26) == 0);
    CHECK(receiver_connections() == before);
}

/* Destroying the delivery ends a call in flight: done runs, once, as a failure. */
static void test_destroy_in_flight(void)
{
    char why[128];
    delivery *d = outbound_create(USER_AGENT, why, sizeof why);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    delivery_call c;
    waited w;
    unsigned requests = receiver_requests();
    receiver_expect(ANSWER_HANG);
    call_init(&c, url_hook, &loopback_allowed, 60000, &w);
    delivery_submit(d, &c);
    receiver_wait_request(requests); /* the call is on the wire */
    CHECK(w.done == 0);
    delivery_destroy(d);
    CHECK(w.done == 1); /* before destroy returned */
    EXPECT(&c, DELIVERY_FAILED, 0, "the server is shutting down");
    receiver_settle(); /* the client closed its connection */
}

int main(void)
{
    char why[128];
    stamp.seconds = 1700000000;
    stamp.nanos = 123000000;
    note.type = "Info";
    note.ecosystem_id = "C000000000000000000000a01";
    note.webhook_id = "65a1b2c3d4e5f60718293a4b";
    note.message = "Webhook verification";
    note.timestamp = &stamp;
    body.n_items = 1;
    body.items = items;
    CHECK(netpolicy_allow(&loopback_allowed, "127.0.0.0/8", why, sizeof why) == 0);

    receiver_start();
    snprintf(url_root, sizeof url_root, "http://127.0.0.1:%u/", rx.port);
    snprintf(url_hook, sizeof url_hook, "http://127.0.0.1:%u/hook", rx.port);

    delivery *d = outbound_create(USER_AGENT, why, sizeof why);
    CHECK(d != NULL);
    if (d != NULL) {
        test_request(d);
        test_outcomes(d);
        test_bad_url(d);
        test_retry_after(d);
        test_response(d);
        test_nothing_stale(d);
        delivery_destroy(d);
    }
    test_destroy_in_flight();
    receiver_stop();
    return test_exit_code();
}
