/* deadline: see deadline.h. */
#include "deadline.h"

#include "hg_assert.h"

HG_STATIC_ASSERT(DEADLINE_MAX_MS < UINT64_MAX / 1000000000ull, "a capped deadline converts to nanoseconds");

/* len digits and nothing else, 1 <= len <= max_digits; -1 otherwise. Ten digits fit a
 * uint64_t many times over. */
static int read_digits(const char *value, size_t len, size_t max_digits, uint64_t *out)
{
    HG_ASSERT(max_digits <= 18);
    if (value == NULL || len == 0 || len > max_digits)
        return -1;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(value[i] - '0');
    }
    *out = n;
    return 0;
}

static uint64_t cap(uint64_t ms)
{
    return ms > DEADLINE_MAX_MS ? DEADLINE_MAX_MS : ms;
}

int deadline_grpc_parse(const char *value, size_t len, uint64_t *ms)
{
    if (value == NULL || len < 2)
        return -1;
    uint64_t n;
    if (read_digits(value, len - 1, DEADLINE_GRPC_MAX_DIGITS, &n) != 0)
        return -1;
    /* n < 10^8: every product below fits 64 bits before the cap */
    uint64_t out;
    switch (value[len - 1]) {
    case 'H':
        out = n * 3600000;
        break;
    case 'M':
        out = n * 60000;
        break;
    case 'S':
        out = n * 1000;
        break;
    case 'm':
        out = n;
        break;
    case 'u':
        out = (n + 999) / 1000;
        break;
    case 'n':
        out = (n + 999999) / 1000000;
        break;
    default:
        return -1;
    }
    *ms = cap(out);
    return 0;
}

int deadline_connect_parse(const char *value, size_t len, uint64_t *ms)
{
    uint64_t n;
    if (read_digits(value, len, DEADLINE_CONNECT_MAX_DIGITS, &n) != 0)
        return -1;
    *ms = cap(n);
    return 0;
}
