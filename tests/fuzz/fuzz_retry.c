/* fuzz_retry: a Retry-After value, as a webhook's url sends it, through retry_after_parse,
 * then the wait through retry_decide.
 *
 * The input's first 8 bytes are the clock (Unix ms, taken modulo 200 years so dates in the
 * past and the future are both reached) and 8 more the randomness; the rest is the header
 * value. Checked, besides reading nothing outside the value: a parsed wait lies in
 * [0, RETRY_AFTER_MAX_MS]; a value is read the same with spaces around it; digits alone
 * are read as their seconds (saturating); and whatever the value, a 429 or 503 with it waits
 * between 0 and twice the scheduled (jittered) wait, but at least throttle_wait_ms for a 429. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "retry.h"

#define YEARS_200_MS (200LL * 366 * 24 * 3600 * 1000)

static uint64_t read64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16)
        return 0;
    int64_t now = (int64_t)(read64(data) % (uint64_t)YEARS_200_MS);
    uint64_t random = read64(data + 8);
    const char *value = (const char *)data + 16;
    size_t len = size - 16;

    int64_t wait = -7;
    int rc = retry_after_parse(value, len, now, &wait);
    FUZZ_CHECK(rc == 0 || rc == -1, "a result outside 0 and -1");
    FUZZ_CHECK(rc == 0 ? wait >= 0 && wait <= RETRY_AFTER_MAX_MS : wait == -7, "a wait out of range, or written on -1");

    if (len + 2 <= RETRY_AFTER_MAX_LEN) { /* spaces around it change nothing */
        char padded[RETRY_AFTER_MAX_LEN + 2];
        padded[0] = ' ';
        memcpy(padded + 1, value, len);
        padded[len + 1] = '\t';
        int64_t again = -7;
        int rc2 = retry_after_parse(padded, len + 2, now, &again);
        FUZZ_CHECK(rc2 == rc && (rc != 0 || again == wait), "spaces around a value changed how it reads");
    }
    size_t digits = 0;
    while (digits < len && value[digits] >= '0' && value[digits] <= '9')
        digits++;
    if (digits == len && len > 0 && len <= 12) { /* delta-seconds */
        int64_t seconds = 0;
        for (size_t i = 0; i < len; i++)
            seconds = seconds * 10 + (value[i] - '0');
        int64_t want = seconds * 1000 > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : seconds * 1000;
        FUZZ_CHECK(rc == 0 && wait == want, "delta-seconds not read as their seconds");
    }

    config_delivery cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_retry_schedule = 3;
    cfg.retry_schedule_ms[0] = 0;
    cfg.retry_schedule_ms[1] = (uint32_t)(random % 100000);
    cfg.retry_schedule_ms[2] = 5000;
    cfg.retry_jitter_percent = (unsigned)(random >> 40) % 51;
    cfg.throttle_wait_ms = (unsigned)(random >> 48) % 2000;
    unsigned statuses[] = {429, 503};
    for (int s = 0; s < 2; s++) {
        int64_t base = -1, got = -1;
        /* the same random without Retry-After: the scheduled, jittered wait */
        retry_verdict v0 = retry_decide(&cfg, 1, DELIVERY_STATUS, statuses[s], 0, 0, random, &base);
        retry_verdict v = retry_decide(&cfg, 1, DELIVERY_STATUS, statuses[s], rc == 0, rc == 0 ? wait : 0, random, &got);
        FUZZ_CHECK(v0 == RETRY_AGAIN && v == RETRY_AGAIN, "a first failure that is not retried");
        int64_t floor = statuses[s] == 429 ? cfg.throttle_wait_ms : 0;
        int64_t ceiling = 2 * base > floor ? 2 * base : floor;
        FUZZ_CHECK(got >= 0 && got >= floor && got <= ceiling, "a Retry-After wait outside [floor, twice the schedule]");
    }
    return 0;
}
