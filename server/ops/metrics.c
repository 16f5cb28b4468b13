/* metrics: see metrics.h.
 *
 * Each thread counts into its own shard, so two event loops never write the same cache
 * line per request; rendering adds the shards up. A shard is made on a thread's first
 * count and kept for the process's life (threads here live as long as it). */
#include "metrics.h"

#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hg_assert.h"

static const char *const protocol_names[METRICS_PROTOCOLS] = {"http1", "http2", "grpc"};

#define STATUS_SLOTS 600 /* HTTP statuses 0..599 (gRPC's 0..16 fit too) */
/* from a cached read (100 us) to an invoke's default timeout (10 s) */
#define BUCKETS 15
static const int64_t bucket_us[BUCKETS - 1] = {100,    250,    500,     1000,    2500,    5000,    10000,
                                               25000,  50000,  100000,  1000000, 2500000, 5000000, 10000000};
static const char *const bucket_le[BUCKETS] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                               "0.005",  "0.01",    "0.025",  "0.05",  "0.1",
                                               "1",      "2.5",     "5",      "10",    "+Inf"};

typedef struct histogram {
    atomic_uint_fast64_t buckets[BUCKETS]; /* not cumulative; rendering adds them up */
    atomic_uint_fast64_t sum_us, count;
} histogram;

typedef struct shard {
    struct shard *next;
    atomic_uint_fast64_t requests[ROUTE_COUNT][METRICS_PROTOCOLS][STATUS_SLOTS];       /* no grpc-status */
    atomic_uint_fast64_t grpc_answers[ROUTE_COUNT][METRICS_PROTOCOLS][METRICS_GRPC_CODES]; /* HTTP 200 with one */
    histogram durations[ROUTE_COUNT];
    histogram fsyncs;
    histogram invokes;
    histogram attempts;
    histogram database;
} shard;

static _Atomic(shard *) shards;   /* every shard, newest first */
static shard shared;              /* for a thread whose own shard could not be allocated */
static __thread shard *this_shard;
static atomic_int_fast64_t connections;
static atomic_uint_fast64_t reset_floods;
static atomic_uint_fast64_t refused[2]; /* [per_address] */
static atomic_uint_fast64_t evicted;
static atomic_uint_fast64_t accept_pauses;
static atomic_uint_fast64_t continuation_floods;
static atomic_uint_fast64_t unknown_frames;
static atomic_uint_fast64_t http1_framing_refusals;
static atomic_uint_fast64_t stream_ids_backwards;
static atomic_uint_fast64_t http2_content_length_refusals;
static atomic_uint_fast64_t header_blocks_closed;
static atomic_uint_fast64_t write_timeouts;
static atomic_uint_fast64_t output_refused[2]; /* [0] a connection's cap, [1] the server's budget */
static atomic_uint_fast64_t invoke_outcomes[DELIVERY_OUTCOMES];
static atomic_uint_fast64_t attempt_errors[EVENTS_ERRORS];
static atomic_uint_fast64_t deliveries_ended[EVENTS_STATES];
static atomic_uint_fast64_t webhooks_disabled;

/* SQLSTATE classes counted by name; any other is "other" (the last). */
static const char *const sql_classes[] = {"08", "23", "40", "53", "54", "57", "58", "XX", "other"};
#define SQL_CLASSES (sizeof(sql_classes) / sizeof(sql_classes[0]))
static atomic_uint_fast64_t database_errors[SQL_CLASSES];

static shard *my_shard(void)
{
    if (this_shard != NULL)
        return this_shard;
    shard *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return &shared; /* counts still land, through atomic additions */
    s->next = atomic_load(&shards);
    while (!atomic_compare_exchange_weak(&shards, &s->next, s))
        ;
    return this_shard = s;
}

/* Runs the statement after it for the fallback shard and every thread's, as sh. */
#define FOR_EACH_SHARD(sh) for (shard *sh = &shared; sh != NULL; sh = sh == &shared ? atomic_load(&shards) : sh->next)

static void observe(histogram *h, int64_t us)
{
    int b = 0;
    if (us < 0)
        us = 0;
    while (b < BUCKETS - 1 && us > bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

/* Routes that share a name (both refusals are "other") share one series: each counts into
 * the first route of its name, and rendering shows only the first of each name. The
 * mapping is worked out once, not per request. */
static route_id series[ROUTE_COUNT];
static pthread_once_t series_once = PTHREAD_ONCE_INIT;

static void series_init(void)
{
    for (int r = 0; r < ROUTE_COUNT; r++) {
        series[r] = (route_id)r;
        for (int first = 0; first < r; first++)
            if (strcmp(route_name((route_id)first), route_name((route_id)r)) == 0) {
                series[r] = (route_id)first;
                break;
            }
    }
}

static route_id series_of(route_id r)
{
    pthread_once(&series_once, series_init);
    return series[r];
}

void metrics_request(route_id r, metrics_protocol protocol, int status, int grpc_status, int64_t duration_us)
{
    HG_ASSERT(r >= 0 && r < ROUTE_COUNT);
    HG_ASSERT(protocol >= 0 && protocol < METRICS_PROTOCOLS);
    HG_ASSERT(grpc_status >= -1 && grpc_status < METRICS_GRPC_CODES && (grpc_status < 0 || status == 200));
    r = series_of(r);
    if (status < 0 || status >= STATUS_SLOTS)
        status = 0;
    shard *sh = my_shard();
    atomic_uint_fast64_t *n =
        grpc_status >= 0 ? &sh->grpc_answers[r][protocol][grpc_status] : &sh->requests[r][protocol][status];
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
    observe(&sh->durations[r], duration_us);
}

void metrics_connection(int delta)
{
    atomic_fetch_add_explicit(&connections, delta, memory_order_relaxed);
}

void metrics_connection_refused(int per_address)
{
    atomic_fetch_add_explicit(&refused[per_address != 0], 1, memory_order_relaxed);
}

void metrics_connection_evicted(void)
{
    atomic_fetch_add_explicit(&evicted, 1, memory_order_relaxed);
}

void metrics_accept_paused(void)
{
    atomic_fetch_add_explicit(&accept_pauses, 1, memory_order_relaxed);
}

void metrics_reset_flood(void)
{
    atomic_fetch_add_explicit(&reset_floods, 1, memory_order_relaxed);
}

void metrics_continuation_flood(void)
{
    atomic_fetch_add_explicit(&continuation_floods, 1, memory_order_relaxed);
}

void metrics_unknown_frames(uint64_t n)
{
    atomic_fetch_add_explicit(&unknown_frames, n, memory_order_relaxed);
}

void metrics_http1_framing_refused(void)
{
    atomic_fetch_add_explicit(&http1_framing_refusals, 1, memory_order_relaxed);
}

void metrics_stream_id_backwards(void)
{
    atomic_fetch_add_explicit(&stream_ids_backwards, 1, memory_order_relaxed);
}

void metrics_http2_content_length_refused(void)
{
    atomic_fetch_add_explicit(&http2_content_length_refusals, 1, memory_order_relaxed);
}

void metrics_header_block_closed(void)
{
    atomic_fetch_add_explicit(&header_blocks_closed, 1, memory_order_relaxed);
}

void metrics_write_timeout(void)
{
    atomic_fetch_add_explicit(&write_timeouts, 1, memory_order_relaxed);
}

void metrics_output_refused(int server_wide)
{
    atomic_fetch_add_explicit(&output_refused[server_wide != 0], 1, memory_order_relaxed);
}

void metrics_fsync(int64_t duration_us)
{
    observe(&my_shard()->fsyncs, duration_us);
}

void metrics_database_round_trip(int64_t duration_us)
{
    observe(&my_shard()->database, duration_us);
}

void metrics_database_error(const char *sqlstate)
{
    size_t k = SQL_CLASSES - 1;
    for (size_t i = 0; i + 1 < SQL_CLASSES; i++)
        if (strlen(sqlstate) >= 2 && memcmp(sqlstate, sql_classes[i], 2) == 0)
            k = i;
    atomic_fetch_add_explicit(&database_errors[k], 1, memory_order_relaxed);
}

void metrics_invoke(delivery_outcome outcome, int64_t duration_us)
{
    HG_ASSERT((unsigned)outcome < DELIVERY_OUTCOMES);
    atomic_fetch_add_explicit(&invoke_outcomes[outcome], 1, memory_order_relaxed);
    observe(&my_shard()->invokes, duration_us);
}

void metrics_delivery_attempt(events_error error, uint32_t duration_ms)
{
    HG_ASSERT((unsigned)error < EVENTS_ERRORS);
    atomic_fetch_add_explicit(&attempt_errors[error], 1, memory_order_relaxed);
    observe(&my_shard()->attempts, (int64_t)duration_ms * 1000);
}

void metrics_delivery_finished(events_state state)
{
    HG_ASSERT((unsigned)state < EVENTS_STATES);
    atomic_fetch_add_explicit(&deliveries_ended[state], 1, memory_order_relaxed);
}

void metrics_webhook_disabled(const char *why)
{
    (void)why;
    atomic_fetch_add_explicit(&webhooks_disabled, 1, memory_order_relaxed);
}

/* A growing text buffer; on allocation failure it stops growing and says so at the end. */
typedef struct text {
    char *data;
    size_t len, cap;
    int failed;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)(n > 0 ? n : 0) + 1) * 2;
        char *data = realloc(t->data, cap);
        if (data == NULL) {
            t->failed = 1;
            return;
        }
        t->data = data, t->cap = cap;
    }
}

/* The sum of one histogram over every shard (at offset within a shard). */
typedef struct totals {
    uint64_t buckets[BUCKETS], sum_us, count;
} totals;

static totals sum_histogram(size_t offset)
{
    totals t = {{0}, 0, 0};
    FOR_EACH_SHARD(sh)
    {
        histogram *h = (histogram *)((char *)sh + offset);
        for (int b = 0; b < BUCKETS; b++)
            t.buckets[b] += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        t.sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
        t.count += atomic_load_explicit(&h->count, memory_order_relaxed);
    }
    return t;
}

static void add_histogram(text *t, const char *name, const char *labels, const totals *h)
{
    uint64_t cumulative = 0;
    for (int b = 0; b < BUCKETS; b++) {
        cumulative += h->buckets[b];
        add(t, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, labels[0] ? "," : "", bucket_le[b],
            (unsigned long long)cumulative);
    }
    uint64_t sum = h->sum_us;
    add(t, "%s_sum%s%s%s %llu.%06llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
        (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000));
    add(t, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
        (unsigned long long)h->count);
}

char *metrics_render(const metrics_gauges *g, size_t *len)
{
    text t = {malloc(8192), 0, 8192, 0};
    if (t.data == NULL)
        return NULL;
    add(&t, "# HELP hookgate_requests_total Requests answered, by route, protocol, HTTP status and, for answers "
            "that carry one, grpc-status.\n"
            "# TYPE hookgate_requests_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (int p = 0; p < METRICS_PROTOCOLS; p++) { /* a route counted into another stays at 0 */
            for (int s = 0; s < STATUS_SLOTS; s++) {
                uint64_t n = 0;
                FOR_EACH_SHARD(sh)
                {
                    n += atomic_load_explicit(&sh->requests[r][p][s], memory_order_relaxed);
                }
                if (n > 0)
                    add(&t, "hookgate_requests_total{route=\"%s\",protocol=\"%s\",status=\"%d\"} %llu\n",
                        route_name((route_id)r), protocol_names[p], s, (unsigned long long)n);
            }
            for (int c = 0; c < METRICS_GRPC_CODES; c++) {
                uint64_t n = 0;
                FOR_EACH_SHARD(sh)
                {
                    n += atomic_load_explicit(&sh->grpc_answers[r][p][c], memory_order_relaxed);
                }
                if (n > 0)
                    add(&t,
                        "hookgate_requests_total{route=\"%s\",protocol=\"%s\",status=\"200\",grpc_status=\"%d\"} "
                        "%llu\n",
                        route_name((route_id)r), protocol_names[p], c, (unsigned long long)n);
            }
        }
    add(&t, "# HELP hookgate_request_duration_seconds Time from the request's start to its answer, by route.\n"
            "# TYPE hookgate_request_duration_seconds histogram\n");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        totals d = sum_histogram(offsetof(shard, durations) + (size_t)r * sizeof(histogram));
        if (d.count == 0) /* also every route counted into an earlier one of its name */
            continue;
        char labels[64];
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_name((route_id)r));
        add_histogram(&t, "hookgate_request_duration_seconds", labels, &d);
    }
    add(&t,
        "# HELP hookgate_webhooks_stored Webhooks in the store.\n# TYPE hookgate_webhooks_stored gauge\n"
        "hookgate_webhooks_stored %zu\n",
        g->webhooks_stored);
    add(&t,
        "# HELP hookgate_json_cache_bytes Bytes of webhooks' JSON kept with them for GETs and lists "
        "(at most store.json_cache_bytes).\n# TYPE hookgate_json_cache_bytes gauge\n"
        "hookgate_json_cache_bytes %zu\n",
        g->json_cache_bytes);
    add(&t,
        "# HELP hookgate_connections_open Connections open on every listener.\n"
        "# TYPE hookgate_connections_open gauge\nhookgate_connections_open %lld\n",
        (long long)atomic_load_explicit(&connections, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_refused_total Connections closed as they were accepted: over "
        "server.max_connections (cap) or server.max_connections_per_address (address).\n"
        "# TYPE hookgate_connections_refused_total counter\n"
        "hookgate_connections_refused_total{reason=\"cap\"} %llu\n"
        "hookgate_connections_refused_total{reason=\"address\"} %llu\n",
        (unsigned long long)atomic_load_explicit(&refused[0], memory_order_relaxed),
        (unsigned long long)atomic_load_explicit(&refused[1], memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_evicted_total Connections closed to make room at server.max_connections: "
        "they had brought no whole request within server.idle_eviction_ms.\n"
        "# TYPE hookgate_connections_evicted_total counter\nhookgate_connections_evicted_total %llu\n",
        (unsigned long long)atomic_load_explicit(&evicted, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_accept_pauses_total Times an event loop stopped accepting for 100 ms because no file "
        "descriptor was left.\n"
        "# TYPE hookgate_accept_pauses_total counter\nhookgate_accept_pauses_total %llu\n",
        (unsigned long long)atomic_load_explicit(&accept_pauses, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_reset_flood_total HTTP/2 connections closed for sending more stream resets "
        "than limits.resets_per_second_per_connection.\n"
        "# TYPE hookgate_connections_reset_flood_total counter\nhookgate_connections_reset_flood_total %llu\n",
        (unsigned long long)atomic_load_explicit(&reset_floods, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_continuation_flood_total HTTP/2 connections closed for a header block of "
        "more CONTINUATION frames than hookgate allows.\n"
        "# TYPE hookgate_connections_continuation_flood_total counter\n"
        "hookgate_connections_continuation_flood_total %llu\n",
        (unsigned long long)atomic_load_explicit(&continuation_floods, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_http2_unknown_frames_total HTTP/2 frames of a type HTTP/2 does not define, discarded "
        "unread on the HTTP listeners.\n"
        "# TYPE hookgate_http2_unknown_frames_total counter\nhookgate_http2_unknown_frames_total %llu\n",
        (unsigned long long)atomic_load_explicit(&unknown_frames, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_http1_framing_refused_total HTTP/1.x requests answered 400, their connection closed, "
        "for framing another hop could read differently (Content-Length and Transfer-Encoding).\n"
        "# TYPE hookgate_http1_framing_refused_total counter\nhookgate_http1_framing_refused_total %llu\n",
        (unsigned long long)atomic_load_explicit(&http1_framing_refusals, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_stream_id_backwards_total Native gRPC connections ended with GOAWAY "
        "PROTOCOL_ERROR for a HEADERS frame on a stream id below one the client had already used.\n"
        "# TYPE hookgate_connections_stream_id_backwards_total counter\n"
        "hookgate_connections_stream_id_backwards_total %llu\n",
        (unsigned long long)atomic_load_explicit(&stream_ids_backwards, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_http2_content_length_refused_total HTTP/2 requests answered 400 for two different "
        "content-length values.\n"
        "# TYPE hookgate_http2_content_length_refused_total counter\n"
        "hookgate_http2_content_length_refused_total %llu\n",
        (unsigned long long)atomic_load_explicit(&http2_content_length_refusals, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_header_block_closed_total HTTP/2 connections closed for too many requests "
        "with two different content-length values waiting.\n"
        "# TYPE hookgate_connections_header_block_closed_total counter\n"
        "hookgate_connections_header_block_closed_total %llu\n",
        (unsigned long long)atomic_load_explicit(&header_blocks_closed, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_connections_write_timeout_total Connections closed because their pending output did not "
        "move for server.write_timeout_ms.\n"
        "# TYPE hookgate_connections_write_timeout_total counter\nhookgate_connections_write_timeout_total %llu\n",
        (unsigned long long)atomic_load_explicit(&write_timeouts, memory_order_relaxed));
    add(&t,
        "# HELP hookgate_requests_refused_buffered_total Requests answered 503 / RESOURCE_EXHAUSTED because their "
        "connection held server.max_connection_output_bytes (scope connection) or all connections held "
        "server.max_buffered_bytes (scope server).\n"
        "# TYPE hookgate_requests_refused_buffered_total counter\n"
        "hookgate_requests_refused_buffered_total{scope=\"connection\"} %llu\n"
        "hookgate_requests_refused_buffered_total{scope=\"server\"} %llu\n",
        (unsigned long long)atomic_load_explicit(&output_refused[0], memory_order_relaxed),
        (unsigned long long)atomic_load_explicit(&output_refused[1], memory_order_relaxed));
    add(&t, "# HELP hookgate_invokes_total Calls of webhooks' urls by invoke, by outcome (ok: a 2xx answer).\n"
            "# TYPE hookgate_invokes_total counter\n");
    for (int o = 0; o < DELIVERY_OUTCOMES; o++)
        add(&t, "hookgate_invokes_total{outcome=\"%s\"} %llu\n", delivery_outcome_name((delivery_outcome)o),
            (unsigned long long)atomic_load_explicit(&invoke_outcomes[o], memory_order_relaxed));
    add(&t, "# HELP hookgate_invoke_duration_seconds Time of each call of a webhook's url by invoke, to its "
            "outcome.\n# TYPE hookgate_invoke_duration_seconds histogram\n");
    totals inv = sum_histogram(offsetof(shard, invokes));
    add_histogram(&t, "hookgate_invoke_duration_seconds", "", &inv);
    add(&t, "# HELP hookgate_delivery_attempts_total Attempts of event deliveries, by error class (\"\": a 2xx).\n"
            "# TYPE hookgate_delivery_attempts_total counter\n");
    for (int e = 0; e < EVENTS_ERRORS; e++)
        add(&t, "hookgate_delivery_attempts_total{error=\"%s\"} %llu\n", events_error_name((unsigned)e),
            (unsigned long long)atomic_load_explicit(&attempt_errors[e], memory_order_relaxed));
    add(&t, "# HELP hookgate_deliveries_total Event deliveries ended, by outcome.\n"
            "# TYPE hookgate_deliveries_total counter\n");
    for (int s = EVENTS_DELIVERED; s < EVENTS_STATES; s++)
        add(&t, "hookgate_deliveries_total{outcome=\"%s\"} %llu\n", events_state_name((events_state)s),
            (unsigned long long)(atomic_load_explicit(&deliveries_ended[s], memory_order_relaxed) +
                                 (s == EVENTS_CANCELLED ? g->deliveries_cancelled_by_store : 0)));
    add(&t, "# HELP hookgate_webhooks_disabled_total Webhooks hookgate disabled (a 410, or failing past "
            "delivery.disable_after_ms).\n# TYPE hookgate_webhooks_disabled_total counter\n"
            "hookgate_webhooks_disabled_total %llu\n",
            (unsigned long long)atomic_load_explicit(&webhooks_disabled, memory_order_relaxed));
    add(&t, "# HELP hookgate_delivery_attempt_duration_seconds Time of each attempt of an event delivery.\n"
            "# TYPE hookgate_delivery_attempt_duration_seconds histogram\n");
    totals att = sum_histogram(offsetof(shard, attempts));
    add_histogram(&t, "hookgate_delivery_attempt_duration_seconds", "", &att);
    if (g->events) {
        add(&t,
            "# HELP hookgate_events_stored Events held (within delivery.retention_ms).\n"
            "# TYPE hookgate_events_stored gauge\nhookgate_events_stored %zu\n"
            "# HELP hookgate_deliveries_pending Deliveries not yet ended (in flight included).\n"
            "# TYPE hookgate_deliveries_pending gauge\nhookgate_deliveries_pending %zu\n"
            "# HELP hookgate_deliveries_in_flight Attempts being made now.\n"
            "# TYPE hookgate_deliveries_in_flight gauge\nhookgate_deliveries_in_flight %zu\n"
            "# HELP hookgate_delivery_lag_seconds How long the oldest due delivery not in flight has waited (0: none).\n"
            "# TYPE hookgate_delivery_lag_seconds gauge\nhookgate_delivery_lag_seconds %.3f\n",
            g->events_stored, g->deliveries_pending, g->deliveries_in_flight, g->delivery_lag_seconds);
    }
    add(&t,
        "# HELP hookgate_buffered_bytes Request and response bytes held by all connections (server.max_buffered_bytes).\n"
        "# TYPE hookgate_buffered_bytes gauge\nhookgate_buffered_bytes %zu\n",
        g->buffered_bytes);
    if (g->database) {
        add(&t,
            "# HELP hookgate_database_connections PostgreSQL connections of the store: configured, and up now.\n"
            "# TYPE hookgate_database_connections gauge\n"
            "hookgate_database_connections{state=\"configured\"} %zu\nhookgate_database_connections{state=\"up\"} %zu\n",
            g->database_connections, g->database_connections_up);
        add(&t, "# HELP hookgate_database_loop_connections_up PostgreSQL connections up, per event loop "
                "(of store.postgres.connections_per_loop each).\n"
                "# TYPE hookgate_database_loop_connections_up gauge\n");
        for (size_t i = 0; i < g->database_loops; i++)
            add(&t, "hookgate_database_loop_connections_up{loop=\"%zu\"} %u\n", i, g->database_loop_up[i]);
        add(&t,
            "# HELP hookgate_database_in_flight Statements sent to PostgreSQL and not yet answered.\n"
            "# TYPE hookgate_database_in_flight gauge\nhookgate_database_in_flight %zu\n",
            g->database_in_flight);
        add(&t, "# HELP hookgate_database_round_trip_seconds Time from a statement's sending to its answer.\n"
                "# TYPE hookgate_database_round_trip_seconds histogram\n");
        totals rt = sum_histogram(offsetof(shard, database));
        add_histogram(&t, "hookgate_database_round_trip_seconds", "", &rt);
        add(&t, "# HELP hookgate_database_errors_total Statements PostgreSQL failed, by SQLSTATE class.\n"
                "# TYPE hookgate_database_errors_total counter\n");
        for (size_t i = 0; i < SQL_CLASSES; i++)
            add(&t, "hookgate_database_errors_total{class=\"%s\"} %llu\n", sql_classes[i],
                (unsigned long long)atomic_load_explicit(&database_errors[i], memory_order_relaxed));
    }
    if (g->journal_writable >= 0 && !g->database) {
        add(&t,
            "# HELP hookgate_journal_queue_depth Creates waiting for the journal's writer.\n"
            "# TYPE hookgate_journal_queue_depth gauge\nhookgate_journal_queue_depth %zu\n",
            g->journal_queue_depth);
        add(&t,
            "# HELP hookgate_journal_writable 1 while the journal accepts writes.\n"
            "# TYPE hookgate_journal_writable gauge\nhookgate_journal_writable %d\n",
            g->journal_writable);
        add(&t, "# HELP hookgate_journal_fsync_duration_seconds Time of each fdatasync of the journal.\n"
                "# TYPE hookgate_journal_fsync_duration_seconds histogram\n");
        totals f = sum_histogram(offsetof(shard, fsyncs));
        add_histogram(&t, "hookgate_journal_fsync_duration_seconds", "", &f);
    }
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    *len = t.len;
    return t.data;
}
