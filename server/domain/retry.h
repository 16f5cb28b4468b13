/* retry: what becomes of a delivery after one attempt (delivered, tried again after how
 * long, failed for good, or its webhook gone), and when a failing webhook is disabled.
 *
 * Pure: no I/O, no clock, no allocation. The time and the randomness are parameters, so
 * the same inputs always give the same answer and a test can reach every branch. */
#ifndef HOOKGATE_RETRY_H
#define HOOKGATE_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "delivery.h"
#include "events.h"

/* Why an attempt failed is an events_error (store/events.h): what an attempt record keeps,
 * what the API and the metrics name (events_error_name). */

/* OK -> NONE, STATUS -> HTTP, TIMEOUT -> TIMEOUT, REFUSED and CLOSED -> CONNECT, NO_HOST ->
 * DNS, TLS -> TLS, BLOCKED -> BLOCKED. FAILED (out of memory, shutting down, a url the
 * caller could not use) has no class of its own and counts as CONNECT: like the others
 * there, the target never gave an answer. */
events_error retry_class_of(delivery_outcome o);

/* The longest Retry-After value read, in bytes as received (a date is at most 33; a longer
 * value is unreadable), and the longest wait one can ask for: 2^31 seconds, RFC 9111's
 * ceiling for delta-seconds. A larger delta, or a date further away, counts as this. */
#define RETRY_AFTER_MAX_LEN 64
#define RETRY_AFTER_MAX_MS (INT64_C(2147483648) * 1000)

/* Reads an HTTP Retry-After value (RFC 9110 10.2.3) into a wait from now_ms (Unix time in
 * ms). Either delta-seconds (ASCII digits only, saturating at RETRY_AFTER_MAX_MS) or an
 * HTTP-date: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") or either obsolete form (RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT", its two-digit year placed by RFC 9110's 50-year rule,
 * and asctime "Sun Nov  6 08:49:37 1994"). Names are case-sensitive, "GMT" is required
 * where the grammar has it, every field is range-checked (the day against its month, a
 * second of 60 allowed), and the day name is not checked against the date. Spaces and tabs
 * around the value (and a CR LF after it) are ignored. A date in the past is a wait of 0.
 * Returns 0 with *wait_ms in [0, RETRY_AFTER_MAX_MS], or -1 (nothing written) when the value
 * is none of these. value need not be NUL-terminated; only len bytes are read. */
int retry_after_parse(const char *value, size_t len, int64_t now_ms, int64_t *wait_ms);

typedef enum retry_verdict {
    RETRY_DELIVERED, /* a 2xx: done */
    RETRY_AGAIN,     /* attempt again after *wait_ms */
    RETRY_FAILED,    /* the schedule is exhausted: the delivery has failed */
    RETRY_GONE,      /* a 410: the target says the webhook is gone; disable it at once */
} retry_verdict;

/* Decides what follows an attempt that ended in `outcome` (with `status`, read only when
 * outcome is DELIVERY_STATUS). attempts_made counts the attempts so far, this one included
 * (>= 1). has_retry_after says whether retry_after_ms (from retry_after_parse) is the
 * target's Retry-After. `random` is any 64-bit random value; equal inputs give equal output.
 * *wait_ms is the wait before the next attempt on RETRY_AGAIN, else 0. The rules, in order:
 *   1. outcome DELIVERY_OK (a 2xx)                      -> RETRY_DELIVERED
 *   2. status 410                                      -> RETRY_GONE, whatever the attempt
 *   3. attempts_made >= cfg->n_retry_schedule          -> RETRY_FAILED
 *      (anything else, a 3xx included, is a failure to try again:)
 *   4. w = retry_schedule_ms[attempts_made] +- retry_jitter_percent %, uniform by `random`
 *      over the whole milliseconds of [w - w*p/100, w + w*p/100]
 *   5. a 429 or a 503 with a Retry-After: w = retry_after_ms, but at least 0 and at most
 *      twice the jittered wait of 4 (a target may slow the schedule down, not stall it)
 *   6. a timeout or a 429: w = max(w, throttle_wait_ms)
 *   -> RETRY_AGAIN with *wait_ms = w.
 * The floor comes last so that "at least throttle_wait_ms after a timeout or a 429" holds
 * whatever a Retry-After says; a 503's Retry-After may shorten the schedule's wait. */
retry_verdict retry_decide(const config_delivery *cfg, unsigned attempts_made, delivery_outcome outcome,
                           unsigned status, int has_retry_after, int64_t retry_after_ms, uint64_t random,
                           int64_t *wait_ms);

/* 1 when a webhook failing since failing_since_ms (0: not failing, its last attempt was a
 * 2xx or it has none) has failed for at least cfg->disable_after_ms by now_ms, and
 * disable_after_ms is not 0 (never). A clock that went back (now before the start) is 0. */
int retry_should_disable(const config_delivery *cfg, int64_t failing_since_ms, int64_t now_ms);

#endif
