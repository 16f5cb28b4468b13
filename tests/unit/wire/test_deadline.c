/* Tests deadline: grpc-timeout and connect-timeout-ms as their protocols spell them, every
 * unit, the rounding up, the cap, and the malformed values refused whole. */
#include <stdint.h>
#include <string.h>

#include "deadline.h"
#include "test.h"

static uint64_t grpc(const char *v)
{
    uint64_t ms = 777;
    CHECK(deadline_grpc_parse(v, strlen(v), &ms) == 0);
    return ms;
}

static int grpc_bad(const char *v)
{
    uint64_t ms = 777;
    return deadline_grpc_parse(v, strlen(v), &ms) == -1 && ms == 777;
}

static uint64_t connect(const char *v)
{
    uint64_t ms = 777;
    CHECK(deadline_connect_parse(v, strlen(v), &ms) == 0);
    return ms;
}

static int connect_bad(const char *v)
{
    uint64_t ms = 777;
    return deadline_connect_parse(v, strlen(v), &ms) == -1 && ms == 777;
}

int main(void)
{
    /* every unit */
    CHECK(grpc("300m") == 300);
    CHECK(grpc("2S") == 2000);
    CHECK(grpc("3M") == 180000);
    CHECK(grpc("1H") == 3600000);
    CHECK(grpc("1500u") == 2);       /* rounded up */
    CHECK(grpc("1000u") == 1);
    CHECK(grpc("1n") == 1);          /* a positive timeout never reads as 0 */
    CHECK(grpc("99999999n") == 100); /* 99.999999 ms */
    CHECK(grpc("0n") == 0);          /* valid: already passed */
    CHECK(grpc("0m") == 0);
    CHECK(grpc("00000005S") == 5000); /* eight digits, leading zeros */
    /* the cap */
    CHECK(grpc("99999999H") == DEADLINE_MAX_MS);
    CHECK(grpc("24H") == DEADLINE_MAX_MS);
    CHECK(grpc("25H") == DEADLINE_MAX_MS);
    CHECK(grpc("86400000m") == DEADLINE_MAX_MS);

    /* malformed */
    CHECK(grpc_bad(""));
    CHECK(grpc_bad("m"));
    CHECK(grpc_bad("300"));
    CHECK(grpc_bad("300x"));
    CHECK(grpc_bad("300ms"));
    CHECK(grpc_bad("123456789m")); /* nine digits */
    CHECK(grpc_bad(" 300m"));
    CHECK(grpc_bad("300m "));
    CHECK(grpc_bad("-1m"));
    CHECK(grpc_bad("+1m"));
    CHECK(grpc_bad("1.5S"));
    CHECK(grpc_bad("3h"));  /* units are case-sensitive: H is hours, h nothing */
    CHECK(grpc_bad("3s"));
    CHECK(grpc_bad("3U"));
    CHECK(grpc_bad("3N"));
    CHECK(deadline_grpc_parse(NULL, 0, &(uint64_t){0}) == -1);
    /* only len bytes are read */
    CHECK(deadline_grpc_parse("5mXX", 2, &(uint64_t){0}) == 0);
    CHECK(deadline_grpc_parse("5m\0", 3, &(uint64_t){0}) == -1);

    CHECK(connect("0") == 0);
    CHECK(connect("1") == 1);
    CHECK(connect("300") == 300);
    CHECK(connect("0000000300") == 300);     /* ten digits */
    CHECK(connect("9999999999") == DEADLINE_MAX_MS);
    CHECK(connect("86400000") == DEADLINE_MAX_MS);
    CHECK(connect("86399999") == 86399999);
    CHECK(connect_bad(""));
    CHECK(connect_bad("10000000000")); /* eleven digits */
    CHECK(connect_bad("-1"));
    CHECK(connect_bad("+1"));
    CHECK(connect_bad("1.5"));
    CHECK(connect_bad("300m"));
    CHECK(connect_bad(" 300"));
    CHECK(connect_bad("300 "));
    CHECK(connect_bad("0x10"));
    CHECK(deadline_connect_parse(NULL, 0, &(uint64_t){0}) == -1);
    return test_exit_code();
}
