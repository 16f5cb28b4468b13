/* fuzz_deadline: header values through deadline_grpc_parse and deadline_connect_parse.
 *
 * Checked, besides reading nothing outside the input: each parser agrees with a plain
 * restatement of its protocol's grammar (accepts exactly 1..8 digits and a unit, or 1..10
 * digits), a refusal leaves the output untouched, an accepted value equals the exact
 * duration rounded up to a millisecond (computed in 128 bits) capped at DEADLINE_MAX_MS,
 * and it is 0 only when the duration is 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "fuzz.h"

static int all_digits(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static unsigned __int128 number(const uint8_t *p, size_t n)
{
    unsigned __int128 v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

static uint64_t capped(unsigned __int128 ms)
{
    return ms > DEADLINE_MAX_MS ? DEADLINE_MAX_MS : (uint64_t)ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: ASan sees a read past the value */
    char *value = malloc(size ? size : 1);
    if (value == NULL)
        return 0;
    memcpy(value, data, size);

    uint64_t ms = 12345;
    int r = deadline_grpc_parse(value, size, &ms);
    const char *unit = size >= 2 ? strchr("HMSmun", data[size - 1]) : NULL;
    int valid = size >= 2 && size - 1 <= DEADLINE_GRPC_MAX_DIGITS && all_digits(data, size - 1) && data[size - 1] != 0 &&
                unit != NULL;
    FUZZ_CHECK(r == (valid ? 0 : -1), "grpc-timeout accepted or refused against its grammar");
    if (r != 0) {
        FUZZ_CHECK(ms == 12345, "a refused grpc-timeout wrote its output");
    } else {
        static const uint64_t ns_per_unit[] = {3600000000000ull, 60000000000ull, 1000000000ull, 1000000ull, 1000ull, 1ull};
        unsigned __int128 ns = number(data, size - 1) * ns_per_unit[unit - "HMSmun"];
        FUZZ_CHECK(ms == capped((ns + 999999) / 1000000), "grpc-timeout read as another duration");
        FUZZ_CHECK((ms == 0) == (ns == 0), "a positive grpc-timeout read as 0 ms");
    }

    ms = 12345;
    r = deadline_connect_parse(value, size, &ms);
    valid = size >= 1 && size <= DEADLINE_CONNECT_MAX_DIGITS && all_digits(data, size);
    FUZZ_CHECK(r == (valid ? 0 : -1), "connect-timeout-ms accepted or refused against its grammar");
    if (r != 0)
        FUZZ_CHECK(ms == 12345, "a refused connect-timeout-ms wrote its output");
    else
        FUZZ_CHECK(ms == capped(number(data, size)), "connect-timeout-ms read as another duration");
    free(value);
    return 0;
}
