/* requests_total: what /metrics says of one series, for the net tests that check a request
 * (or a refused connection) was counted where it belongs. */
#ifndef HOOKGATE_TEST_REQUESTS_TOTAL_H
#define HOOKGATE_TEST_REQUESTS_TOTAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

/* The value of the series named series (with its labels, if any) now; 0 when absent. */
static inline unsigned long long metrics_series(const char *series)
{
    metrics_gauges g = {.journal_writable = -1};
    size_t len;
    char *text = metrics_render(&g, &len);
    CHECK(text != NULL);
    if (text == NULL)
        return 0;
    char key[200];
    snprintf(key, sizeof(key), "\n%s ", series);
    const char *at = strstr(text, key);
    unsigned long long n = at != NULL ? strtoull(at + strlen(key), NULL, 10) : 0;
    free(text);
    return n;
}

/* The count of hookgate_requests_total{route,protocol,status} now (0 when absent); with
 * grpc_status >= 0, of the series that has that grpc_status label too. */
static inline unsigned long long requests_total_grpc(const char *route, const char *protocol, int status,
                                                     int grpc_status)
{
    char series[160], grpc[32] = "";
    if (grpc_status >= 0)
        snprintf(grpc, sizeof(grpc), ",grpc_status=\"%d\"", grpc_status);
    snprintf(series, sizeof(series), "hookgate_requests_total{route=\"%s\",protocol=\"%s\",status=\"%d\"%s}", route,
             protocol, status, grpc);
    return metrics_series(series);
}

static inline unsigned long long requests_total(const char *route, const char *protocol, int status)
{
    return requests_total_grpc(route, protocol, status, -1);
}

#endif
