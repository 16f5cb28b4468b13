/* Tests metrics: counts by route id, protocol, status and grpc-status in the exposition text; routes
 * that share a name sharing one series; statuses out of range; cumulative histograms;
 * gauges with and without a journal; counts from many threads adding up. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

#define THREADS 4
#define PER_THREAD 10000

static char *render(int journal)
{
    metrics_gauges g = {.webhooks_stored = 7, .json_cache_bytes = 4096, .journal_queue_depth = 3,
                        .journal_writable = journal ? 1 : -1};
    size_t len = 0;
    char *text = metrics_render(&g, &len);
    CHECK(text != NULL && strlen(text) == len);
    return text;
}

/* The value of the sample whose line starts with prefix (name and labels), or -1. */
static long long sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, prefix, n) == 0 && line[n] == ' ')
            return atoll(line + n + 1);
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return -1;
}

static void *count_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++)
        metrics_request(ROUTE_RPC_GET, METRICS_GRPC, 200, 0, 10);
    return NULL;
}

int main(void)
{
    char *text = render(0);
    CHECK(strstr(text, "# TYPE hookgate_requests_total counter") != NULL);
    CHECK(strstr(text, "hookgate_requests_total{") == NULL); /* nothing counted yet */
    CHECK(strstr(text, "hookgate_journal") == NULL);         /* no journal, no journal gauges */
    CHECK(sample(text, "hookgate_webhooks_stored") == 7);
    CHECK(sample(text, "hookgate_json_cache_bytes") == 4096);
    CHECK(sample(text, "hookgate_connections_write_timeout_total") == 0);
    CHECK(sample(text, "hookgate_requests_refused_buffered_total{scope=\"server\"}") == 0);
    free(text);

    /* the output bounds (outflow.h): closes, refusals by scope, the bytes held */
    metrics_write_timeout();
    metrics_output_refused(0);
    metrics_output_refused(1);
    metrics_output_refused(1);
    metrics_gauges held = {.journal_writable = -1, .buffered_bytes = 12345};
    size_t held_len;
    text = metrics_render(&held, &held_len);
    CHECK(text != NULL);
    CHECK(sample(text, "hookgate_connections_write_timeout_total") == 1);
    CHECK(sample(text, "hookgate_requests_refused_buffered_total{scope=\"connection\"}") == 1);
    CHECK(sample(text, "hookgate_requests_refused_buffered_total{scope=\"server\"}") == 2);
    CHECK(sample(text, "hookgate_buffered_bytes") == 12345);
    free(text);

    metrics_request(ROUTE_CREATE, METRICS_HTTP1, 201, -1, 50);
    metrics_request(ROUTE_CREATE, METRICS_HTTP1, 201, -1, 300);
    metrics_request(ROUTE_CREATE, METRICS_HTTP2, 400, -1, 20000000); /* past the last bound: +Inf only */
    metrics_request(ROUTE_NOT_FOUND, METRICS_HTTP1, 404, -1, 1);
    metrics_request(ROUTE_METHOD_NOT_ALLOWED, METRICS_HTTP1, 405, -1, 1);
    metrics_request(ROUTE_METHOD_NOT_ALLOWED, METRICS_HTTP1, 404, -1, 1);
    metrics_request(ROUTE_HEALTHZ, METRICS_HTTP1, 999, -1, 1); /* out of range: counted as status 0 */
    metrics_request(ROUTE_HEALTHZ, METRICS_HTTP1, -5, -1, -7);
    /* native gRPC: the HTTP status, and the grpc-status in its own label when there is one */
    metrics_request(ROUTE_RPC_CREATE, METRICS_GRPC, 200, 5, 1);
    metrics_request(ROUTE_RPC_CREATE, METRICS_GRPC, 200, 5, 1);
    metrics_request(ROUTE_RPC_CREATE, METRICS_GRPC, 200, 16, 1);
    metrics_request(ROUTE_RPC_CREATE, METRICS_GRPC, 415, -1, 1); /* no gRPC call: no grpc-status */
    metrics_connection(1);
    metrics_connection(1);
    metrics_connection(-1);
    metrics_reset_flood();
    metrics_fsync(700);

    text = render(1);
    CHECK(sample(text, "hookgate_requests_total{route=\"create\",protocol=\"http1\",status=\"201\"}") == 2);
    CHECK(sample(text, "hookgate_requests_total{route=\"create\",protocol=\"http2\",status=\"400\"}") == 1);
    /* both refusals are "other": one series, never two lines with the same labels */
    CHECK(sample(text, "hookgate_requests_total{route=\"other\",protocol=\"http1\",status=\"404\"}") == 2);
    CHECK(sample(text, "hookgate_requests_total{route=\"other\",protocol=\"http1\",status=\"405\"}") == 1);
    const char *first = strstr(text, "route=\"other\",protocol=\"http1\",status=\"404\"");
    CHECK(first != NULL && strstr(first + 1, "route=\"other\",protocol=\"http1\",status=\"404\"") == NULL);
    CHECK(sample(text, "hookgate_request_duration_seconds_count{route=\"other\"}") == 3);
    CHECK(sample(text, "hookgate_requests_total{route=\"healthz\",protocol=\"http1\",status=\"0\"}") == 2);
    CHECK(sample(text, "hookgate_requests_total{route=\"rpc_create\",protocol=\"grpc\",status=\"200\","
                       "grpc_status=\"5\"}") == 2);
    CHECK(sample(text, "hookgate_requests_total{route=\"rpc_create\",protocol=\"grpc\",status=\"200\","
                       "grpc_status=\"16\"}") == 1);
    CHECK(sample(text, "hookgate_requests_total{route=\"rpc_create\",protocol=\"grpc\",status=\"415\"}") == 1);
    /* an HTTP status is never put where a grpc-status belongs, nor the other way round */
    CHECK(sample(text, "hookgate_requests_total{route=\"rpc_create\",protocol=\"grpc\",status=\"5\"}") == -1);
    CHECK(strstr(text, "grpc_status=\"415\"") == NULL);

    /* the create histogram: cumulative, 50 us in the first bucket, 300 us by 0.0005 s */
    CHECK(sample(text, "hookgate_request_duration_seconds_bucket{route=\"create\",le=\"0.0001\"}") == 1);
    CHECK(sample(text, "hookgate_request_duration_seconds_bucket{route=\"create\",le=\"0.00025\"}") == 1);
    CHECK(sample(text, "hookgate_request_duration_seconds_bucket{route=\"create\",le=\"0.0005\"}") == 2);
    CHECK(sample(text, "hookgate_request_duration_seconds_bucket{route=\"create\",le=\"1\"}") == 2);
    CHECK(sample(text, "hookgate_request_duration_seconds_bucket{route=\"create\",le=\"+Inf\"}") == 3);
    CHECK(sample(text, "hookgate_request_duration_seconds_count{route=\"create\"}") == 3);
    CHECK(strstr(text, "hookgate_request_duration_seconds_sum{route=\"create\"} 20.000350\n") != NULL);
    CHECK(strstr(text, "route=\"list\"") == NULL); /* a route never counted is not shown */

    CHECK(sample(text, "hookgate_connections_open") == 1);
    CHECK(sample(text, "hookgate_connections_reset_flood_total") == 1);
    CHECK(sample(text, "hookgate_journal_queue_depth") == 3);
    CHECK(sample(text, "hookgate_journal_writable") == 1);
    CHECK(sample(text, "hookgate_journal_fsync_duration_seconds_count") == 1);
    CHECK(sample(text, "hookgate_journal_fsync_duration_seconds_bucket{le=\"0.001\"}") == 1);
    free(text);

    /* the database's series: only with a database store (and then no journal series) */
    CHECK(strstr(text = render(1), "hookgate_database") == NULL);
    free(text);
    metrics_database_round_trip(800);
    metrics_database_round_trip(3000);
    metrics_database_error("57014");
    metrics_database_error("57P01");
    metrics_database_error("23505");
    metrics_database_error("");
    metrics_database_error("P0001");
    static const unsigned loop_up[2] = {2, 1};
    metrics_gauges dg = {.journal_writable = 1, .database = 1, .database_connections = 4,
                         .database_connections_up = 3, .database_in_flight = 9,
                         .database_loops = 2, .database_loop_up = loop_up};
    size_t dlen;
    text = metrics_render(&dg, &dlen);
    CHECK(text != NULL);
    if (text != NULL) {
        CHECK(sample(text, "hookgate_database_connections{state=\"configured\"}") == 4);
        CHECK(sample(text, "hookgate_database_connections{state=\"up\"}") == 3);
        CHECK(sample(text, "hookgate_database_in_flight") == 9);
        CHECK(sample(text, "hookgate_database_loop_connections_up{loop=\"0\"}") == 2);
        CHECK(sample(text, "hookgate_database_loop_connections_up{loop=\"1\"}") == 1);
        CHECK(sample(text, "hookgate_database_round_trip_seconds_count") == 2);
        CHECK(sample(text, "hookgate_database_round_trip_seconds_bucket{le=\"0.001\"}") == 1);
        CHECK(sample(text, "hookgate_database_errors_total{class=\"57\"}") == 2);
        CHECK(sample(text, "hookgate_database_errors_total{class=\"23\"}") == 1);
        CHECK(sample(text, "hookgate_database_errors_total{class=\"other\"}") == 2);
        CHECK(sample(text, "hookgate_database_errors_total{class=\"08\"}") == 0);
        CHECK(strstr(text, "hookgate_journal") == NULL);
    }
    free(text);

    /* every thread counts into its own shard; the render adds them all up */
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, count_many, NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    text = render(0);
    CHECK(sample(text, "hookgate_requests_total{route=\"rpc_get\",protocol=\"grpc\",status=\"200\","
                       "grpc_status=\"0\"}") == THREADS * PER_THREAD);
    CHECK(sample(text, "hookgate_request_duration_seconds_count{route=\"rpc_get\"}") == THREADS * PER_THREAD);
    free(text);
    return test_exit_code();
}
