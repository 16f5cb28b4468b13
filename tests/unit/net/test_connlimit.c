/* Tests connlimit: the per-address limit (IPv4, IPv6 by /64, IPv4-mapped as IPv4), the
 * cap, squatters evicted oldest first once their grace is over and never a connection
 * that brought a request, the victim handed to its own loop, the slack over the cap, and
 * admission under out-of-memory (a failed admit changes nothing). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "connlimit.h"
#include "oom.h"
#include "test.h"

static struct sockaddr_storage v4(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, text, &a->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &a->sin6_addr);
    return ss;
}

static connlimit_verdict admit(connlimit *cl, connlimit_conn *c, struct sockaddr_storage peer, unsigned loop,
                               uint64_t now, unsigned *victim_loop)
{
    return connlimit_admit(cl, c, (struct sockaddr *)&peer, loop, now, victim_loop);
}

static void test_per_address(void)
{
    connlimit *cl = connlimit_create(100, 2, 1000, 1);
    connlimit_conn c[8];
    unsigned vl;
    CHECK(admit(cl, &c[0], v4("10.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    CHECK(admit(cl, &c[1], v4("10.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    CHECK(admit(cl, &c[2], v4("10.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADDRESS_FULL);
    /* the same address, IPv4-mapped, is the same client */
    CHECK(admit(cl, &c[2], v6("::ffff:10.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADDRESS_FULL);
    CHECK(admit(cl, &c[2], v4("10.0.0.2"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    /* a place released is a place for the address again */
    connlimit_release(cl, &c[0]);
    CHECK(admit(cl, &c[0], v6("::ffff:10.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    /* IPv6: one /64 is one client, whichever addresses of it it uses */
    CHECK(admit(cl, &c[3], v6("2001:db8:1:2::1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    CHECK(admit(cl, &c[4], v6("2001:db8:1:2:ffff:1:2:3"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    CHECK(admit(cl, &c[5], v6("2001:db8:1:2:abcd::9"), 0, 0, &vl) == CONNLIMIT_ADDRESS_FULL);
    CHECK(admit(cl, &c[5], v6("2001:db8:1:3::1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    /* not an IP address */
    struct sockaddr_storage unix_peer;
    memset(&unix_peer, 0, sizeof(unix_peer));
    unix_peer.ss_family = AF_UNIX;
    CHECK(admit(cl, &c[6], unix_peer, 0, 0, &vl) == CONNLIMIT_NO_ADDRESS);
    for (int i = 0; i < 6; i++)
        connlimit_release(cl, &c[i]);
    connlimit_destroy(cl); /* asserts that every place and address went */

    /* 0: no per-address limit */
    cl = connlimit_create(100, 0, 1000, 1);
    for (int i = 0; i < 8; i++)
        CHECK(admit(cl, &c[i], v4("127.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
    for (int i = 0; i < 8; i++)
        connlimit_release(cl, &c[i]);
    connlimit_destroy(cl);
}

static void test_eviction(void)
{
    enum { CAP = 4 };
    connlimit *cl = connlimit_create(CAP, 0, 1000, 2);
    connlimit_conn c[CAP + 4], *taken[8];
    unsigned vl = 99;
    /* c[0] and c[2] on loop 1, brought no request; c[1] did; c[3] is the youngest squatter */
    for (int i = 0; i < CAP; i++)
        CHECK(admit(cl, &c[i], v4("10.0.0.1"), i % 2 == 0 ? 1 : 0, 100 * (uint64_t)i, &vl) == CONNLIMIT_ADMITTED);
    connlimit_seen(cl, &c[1]);
    connlimit_seen(cl, &c[1]); /* idempotent */
    /* full, and no squatter has had its grace (1000 ms) yet */
    CHECK(admit(cl, &c[4], v4("10.0.0.2"), 0, 999, &vl) == CONNLIMIT_FULL);
    CHECK(connlimit_take_evicted(cl, 1, taken, 8) == 0);
    /* at 1000 ms c[0] has: the newcomer takes its place, loop 1 must close it */
    CHECK(admit(cl, &c[4], v4("10.0.0.2"), 0, 1000, &vl) == CONNLIMIT_EVICTING);
    CHECK(vl == 1);
    CHECK(connlimit_take_evicted(cl, 0, taken, 8) == 0);
    CHECK(connlimit_take_evicted(cl, 1, taken, 8) == 1 && taken[0] == &c[0]);
    CHECK(connlimit_take_evicted(cl, 1, taken, 8) == 0); /* taken once */
    /* the next squatter in age is c[2] (c[1] brought a request and is never chosen) */
    CHECK(admit(cl, &c[5], v4("10.0.0.3"), 0, 1250, &vl) == CONNLIMIT_EVICTING);
    CHECK(vl == 1);
    /* c[2] closes by itself before its loop took it: its place goes, it is not handed out */
    connlimit_release(cl, &c[2]);
    CHECK(connlimit_take_evicted(cl, 1, taken, 8) == 0);
    connlimit_release(cl, &c[0]); /* loop 1 closed its victim */
    /* now 4 open: c[1] (seen), c[3] (squatter since 300 ms), c[4] and c[5] (newer squatters) */
    CHECK(admit(cl, &c[6], v4("10.0.0.4"), 1, 1299, &vl) == CONNLIMIT_FULL); /* c[3]: 1 ms short */
    CHECK(admit(cl, &c[6], v4("10.0.0.4"), 1, 1300, &vl) == CONNLIMIT_EVICTING);
    CHECK(vl == 0 && connlimit_take_evicted(cl, 0, taken, 8) == 1 && taken[0] == &c[3]);
    connlimit_release(cl, &c[3]);
    /* c[4] (since 1000 ms) is too young at 1999 ms; the seen c[1] never goes */
    CHECK(admit(cl, &c[7], v4("10.0.0.5"), 0, 1999, &vl) == CONNLIMIT_FULL);
    connlimit_seen(cl, &c[4]), connlimit_seen(cl, &c[5]), connlimit_seen(cl, &c[6]);
    CHECK(admit(cl, &c[7], v4("10.0.0.5"), 0, 100000, &vl) == CONNLIMIT_FULL);
    /* a free place is taken without evicting */
    connlimit_release(cl, &c[6]);
    CHECK(admit(cl, &c[7], v4("10.0.0.5"), 0, 100000, &vl) == CONNLIMIT_ADMITTED);
    connlimit_release(cl, &c[1]), connlimit_release(cl, &c[4]), connlimit_release(cl, &c[5]),
        connlimit_release(cl, &c[7]);
    connlimit_destroy(cl);
}

/* Victims that do not close yet: newcomers over the cap are bounded by the slack. */
static void test_slack(void)
{
    enum { CAP = 2, N = CAP + CONNLIMIT_EVICT_SLACK + 4 };
    static connlimit_conn c[N];
    connlimit *cl = connlimit_create(CAP, 0, 0, 1);
    unsigned vl;
    int admitted = 0;
    for (int i = 0; i < N; i++) {
        connlimit_verdict v = admit(cl, &c[i], v4("10.0.0.1"), 0, (uint64_t)i, &vl);
        if (v == CONNLIMIT_ADMITTED || v == CONNLIMIT_EVICTING)
            admitted++;
        else
            CHECK(v == CONNLIMIT_FULL && i >= CAP + CONNLIMIT_EVICT_SLACK);
    }
    CHECK(admitted == CAP + CONNLIMIT_EVICT_SLACK);
    /* lowering the cap refuses newcomers until enough have closed */
    connlimit_set_max(cl, 1);
    CHECK(connlimit_max(cl) == 1);
    for (int i = 0; i < admitted; i++)
        connlimit_release(cl, &c[i]);
    connlimit_destroy(cl);
}

typedef struct oom_ctx {
    connlimit *cl;
    connlimit_conn held, c;
} oom_ctx;

static void oom_setup(void *arg)
{
    oom_ctx *x = arg;
    unsigned vl;
    x->cl = connlimit_create(1, 0, 0, 1);
    CHECK(x->cl != NULL && admit(x->cl, &x->held, v4("10.0.0.1"), 0, 0, &vl) == CONNLIMIT_ADMITTED);
}

/* a new address at the cap: allocates the address and evicts the squatter */
static int oom_run(void *arg)
{
    oom_ctx *x = arg;
    unsigned vl;
    connlimit_verdict v = admit(x->cl, &x->c, v4("10.0.0.2"), 0, 10, &vl);
    CHECK(v == CONNLIMIT_EVICTING || v == CONNLIMIT_NO_MEMORY);
    return v == CONNLIMIT_EVICTING ? 0 : -1;
}

static void oom_check(void *arg, int ok)
{
    oom_ctx *x = arg;
    connlimit_conn *taken[2];
    /* the squatter is chosen exactly when the newcomer got its place */
    CHECK(connlimit_take_evicted(x->cl, 0, taken, 2) == (ok ? 1u : 0u));
}

static void oom_teardown(void *arg)
{
    oom_ctx *x = arg;
    connlimit_release(x->cl, &x->held);
    if (x->c.address != NULL)
        connlimit_release(x->cl, &x->c);
    connlimit_destroy(x->cl);
    memset(x, 0, sizeof(*x));
}

int main(void)
{
    test_per_address();
    test_eviction();
    test_slack();
    oom_ctx x;
    memset(&x, 0, sizeof(x));
    oom_op op = {"connlimit_admit", &x, oom_setup, oom_run, oom_check, oom_teardown};
    CHECK(oom_loop(&op) == 0);
    return test_exit_code();
}
