/* Tests ratelimit: bursts, refill, separate keys, the wait it announces. */
#include <stdint.h>

#include "ratelimit.h"
#include "test.h"

int main(void)
{
    ratelimit *rl = ratelimit_create(5);
    int a, b;
    CHECK(rl != NULL);
    if (rl == NULL)
        return test_exit_code();
    /* a full bucket: 5 at once, then refused with a wait of a second */
    for (int i = 0; i < 5; i++)
        CHECK(ratelimit_take(rl, &a, 1000) == 0);
    CHECK(ratelimit_take(rl, &a, 1000) == 1);
    /* another key has its own bucket */
    CHECK(ratelimit_take(rl, &b, 1000) == 0);
    /* 200 ms later one unit (5/s) has come back, and only one */
    CHECK(ratelimit_take(rl, &a, 1200) == 0);
    CHECK(ratelimit_take(rl, &a, 1200) == 1);
    /* 199 ms is not enough for a unit */
    CHECK(ratelimit_take(rl, &a, 1399) == 1);
    CHECK(ratelimit_take(rl, &a, 1400) == 0);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 5; i++)
        CHECK(ratelimit_take(rl, &a, 100000) == 0);
    CHECK(ratelimit_take(rl, &a, 100000) == 1);
    /* a clock that goes backwards gives nothing back */
    CHECK(ratelimit_take(rl, &a, 50000) == 1);
    /* many keys: the table grows and keeps every bucket */
    static char keys[1000];
    for (int i = 0; i < 1000; i++)
        CHECK(ratelimit_take(rl, &keys[i], 200000) == 0);
    for (int i = 0; i < 1000; i++)
        for (int k = 0; k < 4; k++)
            CHECK(ratelimit_take(rl, &keys[i], 200000) == 0);
    for (int i = 0; i < 1000; i++)
        CHECK(ratelimit_take(rl, &keys[i], 200000) == 1);
    ratelimit_destroy(rl);

    /* a slow rate announces a long wait */
    rl = ratelimit_create(1);
    CHECK(ratelimit_take(rl, &a, 0) == 0);
    CHECK(ratelimit_take(rl, &a, 0) == 1);
    CHECK(ratelimit_take(rl, &a, 999) == 1);
    CHECK(ratelimit_take(rl, &a, 1000) == 0);
    ratelimit_destroy(rl);
    return test_exit_code();
}
