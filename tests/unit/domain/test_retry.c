/* test_retry: the classes and their names; Retry-After in each form (delta-seconds with its
 * ceiling, IMF-fixdate checked against libc's timegm day by day, the two obsolete forms and
 * RFC 850's century), garbage and every truncation of a date; each rule of retry_decide in
 * its order (2xx, 410, exhaustion, jitter, Retry-After's clamp, the throttle floor); when a
 * webhook is disabled; and that a broken contract aborts (in a forked child). */
#include "retry.h"
#include "test.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The built-in defaults, as config_parse gives them to a file without a delivery section. */
static config_delivery defaults(void)
{
    static const char yaml[] = "server:\n  listen:\n    - { address: 127.0.0.1, port: 8080 }\n";
    char err[CONFIG_ERROR_MAX];
    config_delivery d;
    memset(&d, 0, sizeof d);
    config *cfg = config_parse("t.yaml", yaml, sizeof yaml - 1, err);
    CHECK(cfg != NULL);
    if (cfg != NULL)
        d = cfg->delivery;
    config_destroy(cfg);
    return d;
}

/* A schedule of the given waits, no jitter, no throttle floor. */
static config_delivery plain(const uint32_t *waits, size_t n)
{
    config_delivery d = defaults();
    memcpy(d.retry_schedule_ms, waits, n * sizeof *waits);
    d.n_retry_schedule = n;
    d.retry_jitter_percent = 0;
    d.throttle_wait_ms = 0;
    return d;
}

/* splitmix64: a fixed sequence of well-mixed values for the jitter */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void test_classes(void)
{
    CHECK(retry_class_of(DELIVERY_OK) == EVENTS_ERROR_NONE);
    CHECK(retry_class_of(DELIVERY_STATUS) == EVENTS_ERROR_HTTP);
    CHECK(retry_class_of(DELIVERY_TIMEOUT) == EVENTS_ERROR_TIMEOUT);
    CHECK(retry_class_of(DELIVERY_REFUSED) == EVENTS_ERROR_CONNECT);
    CHECK(retry_class_of(DELIVERY_CLOSED) == EVENTS_ERROR_CONNECT);
    CHECK(retry_class_of(DELIVERY_NO_HOST) == EVENTS_ERROR_DNS);
    CHECK(retry_class_of(DELIVERY_TLS) == EVENTS_ERROR_TLS);
    CHECK(retry_class_of(DELIVERY_BLOCKED) == EVENTS_ERROR_BLOCKED);
    CHECK(retry_class_of(DELIVERY_FAILED) == EVENTS_ERROR_CONNECT);
    CHECK_STR(events_error_name(EVENTS_ERROR_NONE), "");
    CHECK_STR(events_error_name(EVENTS_ERROR_TIMEOUT), "timeout");
    CHECK_STR(events_error_name(EVENTS_ERROR_CONNECT), "connect");
    CHECK_STR(events_error_name(EVENTS_ERROR_DNS), "dns");
    CHECK_STR(events_error_name(EVENTS_ERROR_TLS), "tls");
    CHECK_STR(events_error_name(EVENTS_ERROR_HTTP), "http");
    CHECK_STR(events_error_name(EVENTS_ERROR_BLOCKED), "blocked");
}

/* Parses `text` from an exactly sized heap copy, so that a read past its end shows under
 * valgrind; -2 when the parse failed, else the wait. */
static int64_t after(const char *text, int64_t now_ms)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    if (copy == NULL)
        return -3;
    memcpy(copy, text, len);
    int64_t wait = -2;
    int rc = retry_after_parse(copy, len, now_ms, &wait);
    CHECK(rc == 0 || wait == -2); /* nothing written on failure */
    free(copy);
    return rc == 0 ? wait : -2;
}

#define NOV_1994 INT64_C(784111777000)  /* Sun, 06 Nov 1994 08:49:37 GMT */
#define JAN_2025 INT64_C(1735689600000) /* Wed, 01 Jan 2025 00:00:00 GMT */

static void test_retry_after_delta(void)
{
    CHECK(after("120", 0) == 120000);
    CHECK(after("0", NOV_1994) == 0);
    CHECK(after("0005", 0) == 5000);
    CHECK(after(" \t7\t ", 0) == 7000);          /* OWS around it */
    CHECK(after("7\r\n", 0) == 7000);            /* a raw header line */
    CHECK(after("86400", JAN_2025) == 86400000); /* independent of now */
    /* the ceiling: 2^31 s, and anything larger saturates to it, never wraps */
    CHECK(after("2147483647", 0) == INT64_C(2147483647000));
    CHECK(after("2147483648", 0) == RETRY_AFTER_MAX_MS);
    CHECK(after("2147483649", 0) == RETRY_AFTER_MAX_MS);
    CHECK(after("9223372036854775807", 0) == RETRY_AFTER_MAX_MS);
    CHECK(after("18446744073709551617", 0) == RETRY_AFTER_MAX_MS);
    CHECK(after("99999999999999999999999999999999999999999999999999999999999999", 0) == RETRY_AFTER_MAX_MS);
    /* RETRY_AFTER_MAX_LEN bytes at most */
    char longest[RETRY_AFTER_MAX_LEN + 2];
    memset(longest, '0', sizeof longest);
    longest[RETRY_AFTER_MAX_LEN - 1] = '9';
    longest[RETRY_AFTER_MAX_LEN] = '\0';
    CHECK(after(longest, 0) == 9000);
    longest[RETRY_AFTER_MAX_LEN] = '0';
    longest[RETRY_AFTER_MAX_LEN + 1] = '\0';
    CHECK(after(longest, 0) == -2);
    /* garbage */
    static const char *const bad[] = {"",    " ",     "-5", "+5",  "1.5", "5s",        "5 s",  "1e3", "0x10", "abc",
                                      "5,6", "\"5\"", "٣",  "5\r", "\n5", "5\r\n\r\n", "  -0", "inf", "NaN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (after(bad[i], 0) != -2)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
        CHECK(after(bad[i], 0) == -2);
    }
    int64_t wait = 77;
    CHECK(retry_after_parse("12", 0, 0, &wait) == -1 && wait == 77); /* len 0: nothing read */
    CHECK(retry_after_parse(NULL, 0, 0, &wait) == -1 && wait == 77);
}

static void test_retry_after_date(void)
{
    /* IMF-fixdate, against now */
    CHECK(after("Sun, 06 Nov 1994 08:49:37 GMT", NOV_1994) == 0);
    CHECK(after("Sun, 06 Nov 1994 08:50:37 GMT", NOV_1994) == 60000);
    CHECK(after("Sun, 06 Nov 1994 08:49:37 GMT", NOV_1994 - 1) == 1);
    CHECK(after("Sun, 06 Nov 1994 08:49:36 GMT", NOV_1994) == 0); /* the past is 0 */
    CHECK(after("Sat, 05 Nov 1994 08:49:37 GMT", NOV_1994) == 0);
    CHECK(after("Thu, 01 Jan 1970 00:00:00 GMT", JAN_2025) == 0);
    CHECK(after("Mon, 01 Jan 1900 00:00:00 GMT", JAN_2025) == 0); /* before 1970 */
    CHECK(after("Thu, 01 Jan 1970 00:00:01 GMT", 0) == 1000);
    CHECK(after("Thu, 29 Feb 2024 00:00:00 GMT", 0) == INT64_C(1709164800000));
    CHECK(after("Tue, 29 Feb 2000 12:00:00 GMT", 0) == INT64_C(951825600000));
    CHECK(after("Sat, 31 Dec 2016 23:59:60 GMT", 0) == INT64_C(1483228800000)); /* a leap second */
    CHECK(after("  Sun, 06 Nov 1994 08:50:37 GMT\t", NOV_1994) == 60000);
    CHECK(after("Sun, 06 Nov 1994 08:50:37 GMT\r\n", NOV_1994) == 60000);
    /* the ceiling, and a clock before 1970 */
    CHECK(after("Tue, 19 Jan 2038 03:14:08 GMT", 0) == RETRY_AFTER_MAX_MS);
    CHECK(after("Tue, 19 Jan 2038 03:14:07 GMT", 0) == RETRY_AFTER_MAX_MS - 1000);
    CHECK(after("Fri, 31 Dec 9999 23:59:59 GMT", 0) == RETRY_AFTER_MAX_MS);
    CHECK(after("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN) == RETRY_AFTER_MAX_MS);
    CHECK(after("Thu, 01 Jan 1970 00:00:01 GMT", -1000) == 2000);
    CHECK(after("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MAX) == 0);

    /* every day from 1970 to 2200 and a sample to 9999, against libc, as IMF-fixdate and asctime */
    int mismatches = 0;
    for (int64_t day = 0; day < 2932896; day += day < 84000 ? 1 : 97) {
        time_t t = (time_t)(day * 86400 + (day * 7919) % 86400);
        struct tm tm;
        char imf[64], asc[64];
        CHECK(gmtime_r(&t, &tm) != NULL);
        strftime(imf, sizeof imf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        strftime(asc, sizeof asc, "%a %b %e %H:%M:%S %Y", &tm);
        int64_t now = (int64_t)t * 1000 - 4321;
        if (after(imf, now) != 4321 || after(asc, now) != 4321) {
            if (mismatches++ < 5)
                fprintf(stderr, "misread: %s / %s\n", imf, asc);
        }
    }
    CHECK(mismatches == 0);

    /* asctime, two-digit day too */
    CHECK(after("Sun Nov  6 08:50:37 1994", NOV_1994) == 60000);
    CHECK(after("Sun Nov 06 08:50:37 1994", NOV_1994) == 60000);
    /* RFC 850, its century from now: a year more than 50 years ahead is the last century's */
    CHECK(after("Sunday, 06-Nov-94 08:50:37 GMT", NOV_1994) == 60000);
    CHECK(after("Sunday, 06-Nov-94 08:50:37 GMT", JAN_2025) == 0); /* 1994, not 2094 */
    CHECK(after("Thursday, 01-Jan-70 00:00:00 GMT", JAN_2025) == INT64_C(3155760000000) - JAN_2025); /* 2070 */
    CHECK(after("Tuesday, 01-Jan-75 00:00:00 GMT", JAN_2025) == INT64_C(3313526400000) - JAN_2025);  /* 2075 */
    CHECK(after("Thursday, 01-Jan-76 00:00:00 GMT", JAN_2025) == 0); /* 2076 is 51 years ahead: 1976 */
    CHECK(after("Wednesday, 01-Jan-25 00:00:01 GMT", JAN_2025) == 1000);

    /* garbage: each field out of range or misspelt, and the forms mixed */
    static const char *const bad[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC",       "Sun, 06 Nov 1994 08:49:37 gmt",   "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",       "Sun, 6 Nov 1994 08:49:37 GMT",    "Sun,  06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",         "Sun, 06 Nov 1994 8:49:37 GMT",    "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",       "Sun, 06 Nov 1994 08:49:61 GMT",   "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",       "Sun, 29 Feb 2023 08:49:37 GMT",   "Sun, 29 Feb 2100 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",       "Xyz, 06 Nov 1994 08:49:37 GMT",   "Sun, 06 Nov 1994 08:49:37 GMT x",
        "Sun, 06 Nov 1994 08:49:37",           "Sun, 06 Nov 1994 08:49:37 GMTZ",  "Sun 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",    "Sunday 06-Nov-94 08:49:37 GMT",   "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",         "Sun Nov 6 08:49:37 1994",         "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 GMT",        "Sun, 06 Nov 1994 08:49:37 GMT\r", "Sun, 06 Nov 1994 08:49:37 G",
        "Sun, 06 Nov -994 08:49:37 GMT",       "Sun, 06 Nov 1994 08:49:-7 GMT",   "Sun,\t06 Nov 1994 08:49:37 GMT",
        "MondayTue, 06 Nov 1994 08:49:37 GMT", /* a long name without its comma is not read twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (after(bad[i], NOV_1994) != -2)
            fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
        CHECK(after(bad[i], NOV_1994) == -2);
    }
    /* every truncation of each form is refused, and read within its length */
    static const char *const dates[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                        "Sun Nov  6 08:49:37 1994"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char prefix[64];
        for (size_t n = 1; n < strlen(dates[i]); n++) {
            memcpy(prefix, dates[i], n);
            prefix[n] = '\0';
            if (prefix[n - 1] == ' ')
                continue; /* trailing space is trimmed: that is the shorter prefix again */
            CHECK(after(prefix, 0) == -2);
        }
        CHECK(after(dates[i], JAN_2025) == 0);
    }
}

static void test_decide_outcomes(void)
{
    config_delivery d = defaults();
    int64_t wait = -1;
    /* 1. a 2xx is delivered, on any attempt, even past the schedule */
    CHECK(retry_decide(&d, 1, DELIVERY_OK, 200, 0, 0, 0, &wait) == RETRY_DELIVERED && wait == 0);
    CHECK(retry_decide(&d, 8, DELIVERY_OK, 204, 1, 5000, 0, &wait) == RETRY_DELIVERED && wait == 0);
    CHECK(retry_decide(&d, 100, DELIVERY_OK, 299, 0, 0, 0, &wait) == RETRY_DELIVERED);
    /* 2. a 410 is gone at once, on the first attempt and on the last */
    wait = -1;
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 410, 0, 0, 0, &wait) == RETRY_GONE && wait == 0);
    CHECK(retry_decide(&d, 8, DELIVERY_STATUS, 410, 0, 0, 0, &wait) == RETRY_GONE);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 404, 0, 0, 0, &wait) == RETRY_AGAIN);
    /* 3. exhaustion: 8 waits, so the 8th attempt's failure is final (before any other rule) */
    CHECK(retry_decide(&d, 7, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_AGAIN);
    wait = -1;
    CHECK(retry_decide(&d, 8, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_FAILED && wait == 0);
    CHECK(retry_decide(&d, 9, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_FAILED);
    CHECK(retry_decide(&d, 8, DELIVERY_TIMEOUT, 0, 0, 0, 0, &wait) == RETRY_FAILED);
    CHECK(retry_decide(&d, 8, DELIVERY_STATUS, 429, 1, 1000, 0, &wait) == RETRY_FAILED);
    /* a 3xx is a failure like any other: never delivered, retried, then failed */
    static const unsigned redirects[] = {300, 301, 302, 303, 304, 307, 308};
    for (size_t i = 0; i < sizeof redirects / sizeof redirects[0]; i++) {
        CHECK(retry_decide(&d, 1, DELIVERY_STATUS, redirects[i], 0, 0, 0, &wait) == RETRY_AGAIN);
        CHECK(retry_decide(&d, 8, DELIVERY_STATUS, redirects[i], 0, 0, 0, &wait) == RETRY_FAILED);
    }
    /* a status with another outcome is not read: a 410 that never came is not gone */
    CHECK(retry_decide(&d, 1, DELIVERY_CLOSED, 410, 0, 0, 0, &wait) == RETRY_AGAIN);
    /* every failure that is not an answer is tried again on the schedule */
    for (int o = DELIVERY_TIMEOUT; o < DELIVERY_OUTCOMES; o++)
        CHECK(retry_decide(&d, 1, (delivery_outcome)o, 0, 0, 0, 0, &wait) == RETRY_AGAIN);
}

static void test_decide_schedule(void)
{
    /* entry i is the wait before attempt i + 1: after attempt n comes entry n */
    static const uint32_t waits[] = {0, 111, 222, 86400000};
    config_delivery d = plain(waits, 4);
    int64_t wait = -1;
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 12345, &wait) == RETRY_AGAIN && wait == 111);
    CHECK(retry_decide(&d, 2, DELIVERY_REFUSED, 0, 0, 0, 12345, &wait) == RETRY_AGAIN && wait == 222);
    CHECK(retry_decide(&d, 3, DELIVERY_TLS, 0, 0, 0, 12345, &wait) == RETRY_AGAIN && wait == 86400000);
    CHECK(retry_decide(&d, 4, DELIVERY_STATUS, 500, 0, 0, 12345, &wait) == RETRY_FAILED);
    /* one entry: the first attempt is the only one */
    d = plain(waits, 1);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_FAILED);
    CHECK(retry_decide(&d, 1, DELIVERY_OK, 200, 0, 0, 0, &wait) == RETRY_DELIVERED);
    /* the default (Svix's) schedule, without jitter */
    config_delivery s = defaults();
    s.retry_jitter_percent = 0;
    static const int64_t svix[] = {5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};
    for (unsigned a = 1; a <= 7; a++)
        CHECK(retry_decide(&s, a, DELIVERY_STATUS, 500, 0, 0, 99, &wait) == RETRY_AGAIN && wait == svix[a - 1]);
}

static void test_decide_jitter(void)
{
    config_delivery d = defaults(); /* 20 % */
    int64_t wait, lo = INT64_MAX, hi = INT64_MIN;
    uint64_t state = 1;
    /* the second wait, 5000 ms: within [4000, 6000], spread over it, deterministic */
    for (int i = 0; i < 20000; i++) {
        uint64_t r = next_random(&state);
        CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, r, &wait) == RETRY_AGAIN);
        CHECK(wait >= 4000 && wait <= 6000);
        lo = wait < lo ? wait : lo;
        hi = wait > hi ? wait : hi;
        int64_t again;
        retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, r, &again);
        CHECK(again == wait);
    }
    CHECK(lo < hi);
    CHECK(lo <= 4010 && hi >= 5990);
    /* the ends exactly: random 0 is the lowest, 2 * span the highest, then it wraps */
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 4000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 2000, &wait) == RETRY_AGAIN && wait == 6000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 2001, &wait) == RETRY_AGAIN && wait == 4000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, UINT64_MAX, &wait) == RETRY_AGAIN && wait >= 4000 &&
          wait <= 6000);
    /* 50 % of the longest wait; 0 stays 0 */
    static const uint32_t waits[] = {0, 86400000, 0};
    d = plain(waits, 3);
    d.retry_jitter_percent = 50;
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 86400000, &wait) == RETRY_AGAIN && wait == 129600000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 43200000);
    CHECK(retry_decide(&d, 2, DELIVERY_STATUS, 500, 0, 0, UINT64_MAX, &wait) == RETRY_AGAIN && wait == 0);
    /* no jitter: the random value changes nothing */
    d.retry_jitter_percent = 0;
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 987654321, &wait) == RETRY_AGAIN && wait == 86400000);
}

static void test_decide_retry_after_and_throttle(void)
{
    static const uint32_t waits[] = {0, 5000, 1800000, 0};
    config_delivery d = plain(waits, 4);
    d.throttle_wait_ms = 60000;
    int64_t wait;
    /* a 503's Retry-After is honoured, up to twice the scheduled wait, never below 0 */
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 7000, 0, &wait) == RETRY_AGAIN && wait == 7000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 1000, 0, &wait) == RETRY_AGAIN && wait == 1000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 10000, 0, &wait) == RETRY_AGAIN && wait == 10000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 10001, 0, &wait) == RETRY_AGAIN && wait == 10000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, RETRY_AFTER_MAX_MS, 0, &wait) == RETRY_AGAIN && wait == 10000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 0, 0, &wait) == RETRY_AGAIN && wait == 0);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, -5, 0, &wait) == RETRY_AGAIN && wait == 0);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, INT64_MIN, 0, &wait) == RETRY_AGAIN && wait == 0);
    CHECK(retry_decide(&d, 3, DELIVERY_STATUS, 503, 1, 7000, 0, &wait) == RETRY_AGAIN && wait == 0);
    /* ...the clamp is twice the jittered wait: 20 % with random 0 makes 5000 into 4000 */
    d.retry_jitter_percent = 20;
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 60000, 0, &wait) == RETRY_AGAIN && wait == 8000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 60000, 2000, &wait) == RETRY_AGAIN && wait == 12000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 1, 9000, 0, &wait) == RETRY_AGAIN && wait == 8000);
    d.retry_jitter_percent = 0;
    /* ...only with has_retry_after, and only on a 429 or a 503 */
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 0, 7000, 0, &wait) == RETRY_AGAIN && wait == 5000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 1, 7000, 0, &wait) == RETRY_AGAIN && wait == 5000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 301, 1, 7000, 0, &wait) == RETRY_AGAIN && wait == 5000);
    CHECK(retry_decide(&d, 1, DELIVERY_CLOSED, 0, 1, 7000, 0, &wait) == RETRY_AGAIN && wait == 5000);

    /* the throttle floor: a timeout or a 429 waits at least throttle_wait_ms */
    CHECK(retry_decide(&d, 1, DELIVERY_TIMEOUT, 0, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 60000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 429, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 60000);
    CHECK(retry_decide(&d, 3, DELIVERY_STATUS, 429, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 60000);
    /* ...and never lowers a longer scheduled wait */
    CHECK(retry_decide(&d, 2, DELIVERY_TIMEOUT, 0, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 1800000);
    /* ...nor applies to anything else */
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 503, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 5000);
    CHECK(retry_decide(&d, 1, DELIVERY_REFUSED, 0, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 5000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 500, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 5000);
    /* ...and comes after Retry-After: a 429's short Retry-After cannot undercut it, a long one
     * (within twice the schedule) can exceed it */
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 429, 1, 1000, 0, &wait) == RETRY_AGAIN && wait == 60000);
    CHECK(retry_decide(&d, 1, DELIVERY_STATUS, 429, 1, 3600000, 0, &wait) == RETRY_AGAIN && wait == 60000);
    CHECK(retry_decide(&d, 2, DELIVERY_STATUS, 429, 1, 120000, 0, &wait) == RETRY_AGAIN && wait == 120000);
    CHECK(retry_decide(&d, 2, DELIVERY_STATUS, 429, 1, 3600000, 0, &wait) == RETRY_AGAIN && wait == 3600000);
    CHECK(retry_decide(&d, 2, DELIVERY_STATUS, 429, 1, 3600001, 0, &wait) == RETRY_AGAIN && wait == 3600000);
    /* a floor of 0 is none */
    d.throttle_wait_ms = 0;
    CHECK(retry_decide(&d, 1, DELIVERY_TIMEOUT, 0, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 5000);
    CHECK(retry_decide(&d, 3, DELIVERY_STATUS, 429, 0, 0, 0, &wait) == RETRY_AGAIN && wait == 0);
}

static void test_should_disable(void)
{
    config_delivery d = defaults(); /* 5 days */
    const int64_t five_days = 432000000;
    CHECK(retry_should_disable(&d, 0, JAN_2025) == 0); /* not failing */
    CHECK(retry_should_disable(&d, JAN_2025, JAN_2025) == 0);
    CHECK(retry_should_disable(&d, JAN_2025, JAN_2025 + five_days - 1) == 0);
    CHECK(retry_should_disable(&d, JAN_2025, JAN_2025 + five_days) == 1);
    CHECK(retry_should_disable(&d, JAN_2025, JAN_2025 + five_days + 1) == 1);
    CHECK(retry_should_disable(&d, JAN_2025, JAN_2025 - 1) == 0); /* a clock that went back */
    CHECK(retry_should_disable(&d, INT64_MIN, INT64_MAX) == 1);   /* no overflow */
    CHECK(retry_should_disable(&d, -1, five_days - 2) == 0);
    CHECK(retry_should_disable(&d, -1, five_days - 1) == 1);
    d.disable_after_ms = 0; /* never */
    CHECK(retry_should_disable(&d, JAN_2025, INT64_MAX) == 0);
    d.disable_after_ms = CONFIG_MAX_KEEP_MS;
    CHECK(retry_should_disable(&d, 1, (int64_t)CONFIG_MAX_KEEP_MS) == 0);
    CHECK(retry_should_disable(&d, 1, (int64_t)CONFIG_MAX_KEEP_MS + 1) == 1);
}

/* retry_decide with a broken contract, in a child: 1 when it aborted. */
static int aborts(unsigned attempts, size_t n_schedule, delivery_outcome outcome)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* the assertion's message is expected */
        config_delivery d = defaults();
        d.n_retry_schedule = n_schedule;
        int64_t wait;
        retry_decide(&d, attempts, outcome, 500, 0, 0, 0, &wait);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_contract(void)
{
    CHECK(!aborts(1, 8, DELIVERY_STATUS)); /* the control: a good call returns */
    CHECK(aborts(0, 8, DELIVERY_STATUS));  /* attempts_made counts this one */
    CHECK(aborts(1, 0, DELIVERY_STATUS));
    CHECK(aborts(1, CONFIG_MAX_RETRY_SCHEDULE + 1, DELIVERY_STATUS));
    CHECK(aborts(1, 8, DELIVERY_OUTCOMES));
}

int main(void)
{
    test_classes();
    test_retry_after_delta();
    test_retry_after_date();
    test_decide_outcomes();
    test_decide_schedule();
    test_decide_jitter();
    test_decide_retry_after_and_throttle();
    test_should_disable();
    test_contract();
    return test_exit_code();
}
