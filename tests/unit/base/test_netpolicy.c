/* test_netpolicy: every denied IPv4 range's first, last and middle address and the two just
 * outside it, each also as IPv4-mapped, NAT64, IPv4-compatible and 6to4 IPv6; the IPv6 ranges'
 * edges by hand; public addresses; allow_networks overriding a deny, plain and embedded;
 * allow_networks entries refused (with their messages); sockaddrs cut short or of another
 * family; and the create-time check of URL hosts, odd IPv4 spellings and brackets included.
 *
 * The IPv4 ranges are written here a second time, as CIDR text, so a wrong byte in the
 * module's table shows up as a disagreement instead of agreeing with itself. */
#include "netpolicy.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Judges the address written as text, as curl's socket would be (v4 or v6 by its spelling). */
static netpolicy_verdict check_text(const netpolicy *p, const char *addr, char *why)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    memset(&in, 0, sizeof in);
    memset(&in6, 0, sizeof in6);
    in.sin_family = AF_INET;
    in6.sin6_family = AF_INET6;
    in.sin_port = in6.sin6_port = htons(443);
    if (inet_pton(AF_INET, addr, &in.sin_addr) == 1)
        return netpolicy_check(p, (const struct sockaddr *)&in, sizeof in, why, NETPOLICY_WHY_MAX);
    if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1)
        return netpolicy_check(p, (const struct sockaddr *)&in6, sizeof in6, why, NETPOLICY_WHY_MAX);
    fprintf(stderr, "test_netpolicy: the test's own address \"%s\" does not parse\n", addr);
    abort();
}

/* Checks addr's verdict and, when want_why is not NULL, its message exactly. */
static void expect(int line, const netpolicy *p, const char *addr, netpolicy_verdict want, const char *want_why)
{
    char why[NETPOLICY_WHY_MAX];
    netpolicy_verdict got = check_text(p, addr, why);
    if (got != want || (want_why != NULL && strcmp(why, want_why) != 0)) {
        fprintf(stderr, "test_netpolicy.c:%d: %s: got %s \"%s\", want %s \"%s\"\n", line, addr,
                got == NETPOLICY_ALLOWED ? "allowed" : "denied", why, want == NETPOLICY_ALLOWED ? "allowed" : "denied",
                want_why ? want_why : "(any)");
        test_failures++;
    }
}

#define ALLOWED(p, addr, why) expect(__LINE__, p, addr, NETPOLICY_ALLOWED, why)
#define DENIED(p, addr, why) expect(__LINE__, p, addr, NETPOLICY_DENIED, why)

/* The denied IPv4 ranges, first match wins (the broadcast address lies in 240/4). */
static const struct {
    const char *cidr, *what;
} v4_ranges[] = {
    {"0.0.0.0/8", "an unspecified"},
    {"10.0.0.0/8", "a private"},
    {"100.64.0.0/10", "a carrier-grade NAT"},
    {"127.0.0.0/8", "a loopback"},
    {"169.254.0.0/16", "a link-local"},
    {"172.16.0.0/12", "a private"},
    {"192.0.0.0/24", "an IETF protocol assignment"},
    {"192.0.2.0/24", "a documentation"},
    {"192.88.99.0/24", "a 6to4 relay anycast"},
    {"192.168.0.0/16", "a private"},
    {"198.18.0.0/15", "a benchmarking"},
    {"198.51.100.0/24", "a documentation"},
    {"203.0.113.0/24", "a documentation"},
    {"224.0.0.0/4", "a multicast"},
    {"255.255.255.255/32", "the broadcast"},
    {"240.0.0.0/4", "a reserved"},
};
#define N_V4 (sizeof v4_ranges / sizeof v4_ranges[0])

static void v4_range(size_t i, uint32_t *first, uint32_t *last)
{
    char text[32];
    snprintf(text, sizeof text, "%s", v4_ranges[i].cidr);
    char *slash = strchr(text, '/');
    *slash = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1)
        abort();
    unsigned bits = (unsigned)atoi(slash + 1);
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    *first = ntohl(a.s_addr) & mask;
    *last = *first | ~mask;
}

/* What the reference says of an IPv4 address: the first range's what, or NULL (allowed). */
static const char *v4_reference(uint32_t a)
{
    for (size_t i = 0; i < N_V4; i++) {
        uint32_t first, last;
        v4_range(i, &first, &last);
        if (a >= first && a <= last)
            return v4_ranges[i].what;
    }
    return NULL;
}

static void v4_text(uint32_t a, char *out)
{
    struct in_addr in = {htonl(a)};
    inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
}

/* a judged plainly and in each IPv6 form that carries it, against the reference. */
static void expect_v4(const netpolicy *p, uint32_t a)
{
    char text[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN + 16], want[NETPOLICY_WHY_MAX];
    v4_text(a, text);
    const char *what = v4_reference(a);
    if (what != NULL)
        snprintf(want, sizeof want, "%s is %s address", text, what);
    else
        snprintf(want, sizeof want, "%s is not in a denied range", text);
    expect(__LINE__, p, text, what ? NETPOLICY_DENIED : NETPOLICY_ALLOWED, want);

    netpolicy_verdict verdict = what ? NETPOLICY_DENIED : NETPOLICY_ALLOWED;
    const char *tail = what ? "" : "not in a denied range";
    /* IPv4-mapped and IPv4-compatible: inet_ntop shows the dotted form, the message only names the kind */
    snprintf(v6, sizeof v6, "::ffff:%s", text);
    if (what)
        snprintf(want, sizeof want, "%s is %s address (IPv4-mapped)", v6, what);
    else
        snprintf(want, sizeof want, "%s is %s (IPv4-mapped)", v6, tail);
    expect(__LINE__, p, v6, verdict, want);
    /* NAT64 and 6to4: hex in the IPv6 text, so the message spells the IPv4 one out */
    snprintf(v6, sizeof v6, "64:ff9b::%x:%x", a >> 16, a & 0xffff);
    char shown[INET6_ADDRSTRLEN];
    struct in6_addr in6;
    inet_pton(AF_INET6, v6, &in6);
    inet_ntop(AF_INET6, &in6, shown, sizeof shown);
    if (what)
        snprintf(want, sizeof want, "%s is %s address (NAT64 of %s)", shown, what, text);
    else
        snprintf(want, sizeof want, "%s is %s (NAT64 of %s)", shown, tail, text);
    expect(__LINE__, p, v6, verdict, want);
    snprintf(v6, sizeof v6, "2002:%x:%x::1", a >> 16, a & 0xffff);
    inet_pton(AF_INET6, v6, &in6);
    inet_ntop(AF_INET6, &in6, shown, sizeof shown);
    if (what)
        snprintf(want, sizeof want, "%s is %s address (6to4 of %s)", shown, what, text);
    else
        snprintf(want, sizeof want, "%s is %s (6to4 of %s)", shown, tail, text);
    expect(__LINE__, p, v6, verdict, want);
    /* IPv4-compatible (::a.b.c.d) is left to the IPv6 cases: ::0.0.0.0 and ::0.0.0.1 are :: and ::1 */
}

static void test_v4_ranges(void)
{
    netpolicy p = {0};
    for (size_t i = 0; i < N_V4; i++) {
        uint32_t first, last;
        v4_range(i, &first, &last);
        expect_v4(&p, first);
        expect_v4(&p, last);
        expect_v4(&p, first + (last - first) / 2);
        if (first > 0)
            expect_v4(&p, first - 1);
        if (last < 0xffffffffu)
            expect_v4(&p, last + 1);
    }
    /* the reference itself: the messages the brief asks for, spelled out */
    DENIED(&p, "10.1.2.3", "10.1.2.3 is a private address");
    DENIED(&p, "127.0.0.1", "127.0.0.1 is a loopback address");
    DENIED(&p, "169.254.169.254", "169.254.169.254 is a link-local address");
    DENIED(&p, "::ffff:10.0.0.1", "::ffff:10.0.0.1 is a private address (IPv4-mapped)");
    DENIED(&p, "255.255.255.255", "255.255.255.255 is the broadcast address");
    DENIED(&p, "255.255.255.254", "255.255.255.254 is a reserved address");
    DENIED(&p, "0.0.0.0", "0.0.0.0 is an unspecified address");
    ALLOWED(&p, "9.255.255.255", "9.255.255.255 is not in a denied range");
    ALLOWED(&p, "11.0.0.0", "11.0.0.0 is not in a denied range");
    ALLOWED(&p, "100.63.255.255", NULL);
    ALLOWED(&p, "100.128.0.0", NULL);
    ALLOWED(&p, "172.15.255.255", NULL);
    ALLOWED(&p, "172.32.0.0", NULL);
    ALLOWED(&p, "198.17.255.255", NULL);
    ALLOWED(&p, "198.20.0.0", NULL);
    ALLOWED(&p, "223.255.255.255", NULL);
}

static void test_v6_ranges(void)
{
    netpolicy p = {0};
    DENIED(&p, "::", ":: is an unspecified address");
    DENIED(&p, "::1", "::1 is a loopback address");
    /* ::/96 is IPv4-compatible, judged by the IPv4 address: ::2 carries 0.0.0.2 */
    DENIED(&p, "::2", "::2 is an unspecified address (IPv4-compatible of 0.0.0.2)");
    DENIED(&p, "::127.0.0.1", "::127.0.0.1 is a loopback address (IPv4-compatible)");
    ALLOWED(&p, "::8.8.8.8", "::8.8.8.8 is not in a denied range (IPv4-compatible)");
    ALLOWED(&p, "::1:0:0", "::1:0:0 is not in a denied range");
    DENIED(&p, "::ffff:169.254.169.254", "::ffff:169.254.169.254 is a link-local address (IPv4-mapped)");
    ALLOWED(&p, "::ffff:8.8.8.8", "::ffff:8.8.8.8 is not in a denied range (IPv4-mapped)");
    ALLOWED(&p, "::fffe:ffff:ffff", NULL); /* just below ::ffff:0:0/96 */
    ALLOWED(&p, "::1:0:0:0", NULL);        /* just above */

    /* NAT64: the well-known /96 and the /96 layout of the local-use /48; the rest of that /48
     * has the IPv4 address where it cannot be told, so it is denied whole */
    DENIED(&p, "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe is a link-local address (NAT64 of 169.254.169.254)");
    ALLOWED(&p, "64:ff9b::808:808", "64:ff9b::808:808 is not in a denied range (NAT64 of 8.8.8.8)");
    ALLOWED(&p, "64:ff9b:0:0:0:1::", "64:ff9b::1:0:0 is not in a denied range"); /* past the /96 */
    DENIED(&p, "64:ff9b:1::a00:1", "64:ff9b:1::a00:1 is a private address (NAT64 of 10.0.0.1)");
    ALLOWED(&p, "64:ff9b:1::808:808", "64:ff9b:1::808:808 is not in a denied range (NAT64 of 8.8.8.8)");
    DENIED(&p, "64:ff9b:1::1:808:808", "64:ff9b:1::1:808:808 is a local-use NAT64 address");
    DENIED(&p, "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", NULL);
    ALLOWED(&p, "64:ff9b:2::", NULL);
    ALLOWED(&p, "64:ff9b:0:ffff:ffff:ffff:ffff:ffff", NULL);

    /* 6to4: the IPv4 address in bits 16..48 */
    DENIED(&p, "2002:7f00:1::", "2002:7f00:1:: is a loopback address (6to4 of 127.0.0.1)");
    ALLOWED(&p, "2002:808:808::", "2002:808:808:: is not in a denied range (6to4 of 8.8.8.8)");
    DENIED(&p, "2002::", "2002:: is an unspecified address (6to4 of 0.0.0.0)");
    ALLOWED(&p, "2003::", "2003:: is not in a denied range");

    DENIED(&p, "100::", "100:: is a discard-only address");
    DENIED(&p, "100::ffff:ffff:ffff:ffff", NULL);
    ALLOWED(&p, "100:0:0:1::", NULL);
    ALLOWED(&p, "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);

    DENIED(&p, "2001::", "2001:: is a Teredo address");
    DENIED(&p, "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff is a Teredo address");
    DENIED(&p, "2001:1::", "2001:1:: is an IETF protocol assignment address");
    DENIED(&p, "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
           "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff is an IETF protocol assignment address");
    ALLOWED(&p, "2001:200::", NULL);
    ALLOWED(&p, "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);

    DENIED(&p, "2001:db8::", "2001:db8:: is a documentation address");
    DENIED(&p, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
    ALLOWED(&p, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
    ALLOWED(&p, "2001:db9::", NULL);
    DENIED(&p, "3fff::", "3fff:: is a documentation address");
    DENIED(&p, "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
    ALLOWED(&p, "3fff:1000::", NULL);
    ALLOWED(&p, "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);

    DENIED(&p, "fc00::", "fc00:: is a unique local address");
    DENIED(&p, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
           "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff is a unique local address");
    ALLOWED(&p, "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
    ALLOWED(&p, "fe00::", NULL);
    ALLOWED(&p, "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL);
    DENIED(&p, "fe80::", "fe80:: is a link-local address");
    DENIED(&p, "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
           "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff is a link-local address");
    DENIED(&p, "fec0::", "fec0:: is a site-local address");
    DENIED(&p, "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
           "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff is a site-local address");
    DENIED(&p, "ff00::", "ff00:: is a multicast address");
    DENIED(&p, "ff02::1", "ff02::1 is a multicast address");
    DENIED(&p, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff is a multicast address");
}

static void test_public(void)
{
    netpolicy p = {0};
    ALLOWED(&p, "8.8.8.8", "8.8.8.8 is not in a denied range");
    ALLOWED(&p, "1.1.1.1", "1.1.1.1 is not in a denied range");
    ALLOWED(&p, "2606:4700::1111", "2606:4700::1111 is not in a denied range");
    ALLOWED(&p, "2a00:1450:4001:830::200e", NULL);
}

static int allow(netpolicy *p, const char *cidr)
{
    char why[NETPOLICY_WHY_MAX];
    int r = netpolicy_allow(p, cidr, why, sizeof why);
    if (r != 0)
        fprintf(stderr, "test_netpolicy: allow \"%s\" refused: %s\n", cidr, why);
    return r;
}

static void test_allow_overrides(void)
{
    netpolicy p = {0};
    CHECK(allow(&p, "10.0.0.0/8") == 0);
    CHECK(allow(&p, "127.0.0.0/8") == 0);
    CHECK(allow(&p, "169.254.169.254") == 0);
    CHECK(allow(&p, "fd00::/8") == 0);
    CHECK(p.n_allow == 4);
    ALLOWED(&p, "10.1.2.3", "10.1.2.3 is in allowed network 10.0.0.0/8");
    ALLOWED(&p, "10.255.255.255", NULL);
    DENIED(&p, "172.16.0.1", "172.16.0.1 is a private address");
    DENIED(&p, "192.168.1.1", NULL);
    ALLOWED(&p, "::ffff:10.1.2.3", "::ffff:10.1.2.3 is in allowed network 10.0.0.0/8 (IPv4-mapped)");
    ALLOWED(&p, "::ffff:127.0.0.1", "::ffff:127.0.0.1 is in allowed network 127.0.0.0/8 (IPv4-mapped)");
    ALLOWED(&p, "64:ff9b::7f00:1", "64:ff9b::7f00:1 is in allowed network 127.0.0.0/8 (NAT64 of 127.0.0.1)");
    ALLOWED(&p, "2002:7f00:1::", NULL);
    ALLOWED(&p, "169.254.169.254", "169.254.169.254 is in allowed network 169.254.169.254/32");
    DENIED(&p, "169.254.169.253", "169.254.169.253 is a link-local address");
    ALLOWED(&p, "fd12::1", "fd12::1 is in allowed network fd00::/8");
    DENIED(&p, "fc00::1", "fc00::1 is a unique local address");
    DENIED(&p, "::1", "::1 is a loopback address"); /* allowing 127/8 is not allowing IPv6 loopback */

    /* an IPv6 entry allows IPv6 addresses only, even one spelling an IPv4 range */
    netpolicy q = {0};
    CHECK(allow(&q, "::ffff:10.0.0.0/104") == 0);
    ALLOWED(&q, "::ffff:10.0.0.1", "::ffff:10.0.0.1 is in allowed network ::ffff:10.0.0.0/104");
    DENIED(&q, "10.0.0.1", "10.0.0.1 is a private address");

    netpolicy all4 = {0};
    CHECK(allow(&all4, "0.0.0.0/0") == 0);
    ALLOWED(&all4, "127.0.0.1", "127.0.0.1 is in allowed network 0.0.0.0/0");
    ALLOWED(&all4, "255.255.255.255", NULL);
    ALLOWED(&all4, "::ffff:192.168.0.1", NULL);
    DENIED(&all4, "2001:db8::1", NULL);
    DENIED(&all4, "::1", NULL);
    netpolicy all6 = {0};
    CHECK(allow(&all6, "::/0") == 0);
    ALLOWED(&all6, "::1", "::1 is in allowed network ::/0");
    ALLOWED(&all6, "fe80::1", NULL);
    DENIED(&all6, "10.0.0.1", NULL);
}

/* netpolicy_allow(cidr) is refused with exactly want (NULL: any message) and adds nothing. */
static void refused(int line, const char *cidr, const char *want)
{
    netpolicy p = {0};
    char why[NETPOLICY_WHY_MAX] = "untouched";
    int r = netpolicy_allow(&p, cidr, why, sizeof why);
    if (r != -1 || p.n_allow != 0 || why[0] == '\0' || strcmp(why, "untouched") == 0 ||
        (want != NULL && strcmp(why, want) != 0)) {
        fprintf(stderr, "test_netpolicy.c:%d: allow \"%s\": got %d \"%s\", want -1 \"%s\"\n", line, cidr, r, why,
                want ? want : "(any)");
        test_failures++;
    }
    for (const char *c = why; *c; c++)
        CHECK(*c >= 0x20 && *c < 0x7f);
}
#define REFUSED(cidr, want) refused(__LINE__, cidr, want)

static void test_allow_parse(void)
{
    static const char *bad_address = "not an IPv4 or IPv6 network (expected an address, or one and a prefix length "
                                     "like 10.0.0.0/8 or fd00::/8)";
    REFUSED("10.0.0.1/8", "10.0.0.1/8 has bits set past the prefix length: the network is 10.0.0.0/8 "
                          "(or write 10.0.0.1 alone for the one host)");
    REFUSED("fd00::1/8", NULL);
    REFUSED("11.0.0.0/7", "11.0.0.0/7 has bits set past the prefix length: the network is 10.0.0.0/7 "
                          "(or write 11.0.0.0 alone for the one host)");
    REFUSED("", bad_address);
    REFUSED("garbage", bad_address);
    REFUSED("localhost", bad_address);
    REFUSED("127.1", bad_address); /* inet_aton's spellings are for hosts, not the configuration */
    REFUSED("0x7f.0.0.1", bad_address);
    REFUSED("010.0.0.0/8", bad_address); /* octal or decimal? neither */
    REFUSED("10.0.0.0.0/8", bad_address);
    REFUSED("[::1]/128", bad_address);
    REFUSED("fe80::1%eth0/128", bad_address);
    REFUSED(" 10.0.0.0/8", bad_address);
    REFUSED("10.0.0.0/33", "the prefix length after '/' must be a whole number from 0 to 32");
    REFUSED("::/129", "the prefix length after '/' must be a whole number from 0 to 128");
    REFUSED("10.0.0.0/", NULL);
    REFUSED("10.0.0.0/08", NULL);
    REFUSED("10.0.0.0/-8", NULL);
    REFUSED("10.0.0.0/+8", NULL);
    REFUSED("10.0.0.0/8 ", NULL);
    REFUSED("10.0.0.0/8\n", NULL);
    REFUSED("10.0.0.0/8/8", NULL);
    REFUSED("10.0.0.0/1000", NULL);
    REFUSED("10.0.0.0/4294967304", NULL); /* 2^32 + 8 */
    char longest[NETPOLICY_CIDR_MAX + 2];
    memset(longest, '0', sizeof longest - 1); /* "000...0": leading zeros make no valid entry this long */
    longest[sizeof longest - 1] = '\0';
    REFUSED(longest, "longer than 64 characters: not a network");
    longest[NETPOLICY_CIDR_MAX] = '\0';
    REFUSED(longest, bad_address); /* 64 are read */

    netpolicy p = {0};
    CHECK(allow(&p, "10.0.0.1") == 0 && p.allow[0].family == 4 && p.allow[0].bits == 32);
    CHECK(allow(&p, "::1") == 0 && p.allow[1].family == 6 && p.allow[1].bits == 128);
    CHECK(allow(&p, "0.0.0.0/0") == 0 && p.allow[2].bits == 0);
    CHECK(allow(&p, "10.0.0.0/7") == 0); /* 10 is 0b1010: nothing past /7 */
    CHECK(allow(&p, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128") == 0);
    CHECK(allow(&p, "FD00::/8") == 0); /* hex digits of either case */
    CHECK(allow(&p, "255.255.255.255/32") == 0);

    /* full: the 65th network is refused */
    netpolicy full = {0};
    char cidr[32], why[NETPOLICY_WHY_MAX];
    for (int i = 0; i < NETPOLICY_MAX_ALLOW; i++) {
        snprintf(cidr, sizeof cidr, "10.%d.0.0/16", i);
        CHECK(netpolicy_allow(&full, cidr, why, sizeof why) == 0);
    }
    CHECK(netpolicy_allow(&full, "192.168.0.0/16", why, sizeof why) == -1);
    CHECK_STR(why, "more than 64 allowed networks");
    CHECK(full.n_allow == NETPOLICY_MAX_ALLOW);
    DENIED(&full, "192.168.0.1", NULL);
    ALLOWED(&full, "10.63.255.255", "10.63.255.255 is in allowed network 10.63.0.0/16");

    /* a short why is cut and terminated; no why at all is fine */
    char tiny[8];
    CHECK(netpolicy_allow(&p, "garbage", tiny, sizeof tiny) == -1);
    CHECK_STR(tiny, "not an ");
    CHECK(netpolicy_allow(&p, "garbage", NULL, 0) == -1);
    CHECK(netpolicy_allow(&p, "172.16.0.0/12", NULL, 0) == 0);
}

static void test_sockaddr(void)
{
    netpolicy p = {0};
    char why[NETPOLICY_WHY_MAX];
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(0x08080808);
    CHECK(netpolicy_check(&p, (struct sockaddr *)&in, sizeof in, why, sizeof why) == NETPOLICY_ALLOWED);
    CHECK(netpolicy_check(&p, (struct sockaddr *)&in, sizeof in - 1, why, sizeof why) == NETPOLICY_DENIED);
    CHECK_STR(why, "an IPv4 address cut short (15 bytes)");
    CHECK(netpolicy_check(&p, (struct sockaddr *)&in, 1, why, sizeof why) == NETPOLICY_DENIED);
    CHECK_STR(why, "no address family");
    CHECK(netpolicy_check(&p, (struct sockaddr *)&in, sizeof in, NULL, 0) == NETPOLICY_ALLOWED);

    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    in6.sin6_addr.s6_addr[15] = 1;
    CHECK(netpolicy_check(&p, (struct sockaddr *)&in6, sizeof in6 - 1, why, sizeof why) == NETPOLICY_DENIED);
    CHECK_STR(why, "an IPv6 address cut short (27 bytes)");
    CHECK(netpolicy_check(&p, (struct sockaddr *)&in6, sizeof in6, why, sizeof why) == NETPOLICY_DENIED);
    CHECK_STR(why, "::1 is a loopback address");

    struct sockaddr un = {.sa_family = AF_UNIX};
    CHECK(netpolicy_check(&p, &un, sizeof un, why, sizeof why) == NETPOLICY_DENIED);
    CHECK_STR(why, "address family 1 is not IPv4 or IPv6");

    /* the caller's bytes need not be aligned */
    unsigned char buf[sizeof in6 + 1];
    memcpy(buf + 1, &in6, sizeof in6);
    CHECK(netpolicy_check(&p, (struct sockaddr *)(buf + 1), sizeof in6, why, sizeof why) == NETPOLICY_DENIED);
    CHECK_STR(why, "::1 is a loopback address");
}

/* The literal check of host gives want, and when want_why is not NULL, that message. */
static void literal(int line, const netpolicy *p, const char *host, netpolicy_verdict want, const char *want_why)
{
    char why[NETPOLICY_WHY_MAX];
    netpolicy_verdict got = netpolicy_check_literal(p, host, why, sizeof why);
    if (got != want || (want_why != NULL && strcmp(why, want_why) != 0)) {
        fprintf(stderr, "test_netpolicy.c:%d: host %s: got %s \"%s\", want %s \"%s\"\n", line, host,
                got == NETPOLICY_ALLOWED ? "allowed" : "denied", why, want == NETPOLICY_ALLOWED ? "allowed" : "denied",
                want_why ? want_why : "(any)");
        test_failures++;
    }
}
#define HOST_ALLOWED(p, host, why) literal(__LINE__, p, host, NETPOLICY_ALLOWED, why)
#define HOST_DENIED(p, host, why) literal(__LINE__, p, host, NETPOLICY_DENIED, why)

static void test_literal(void)
{
    static const char *name = "the host is a name: the addresses it resolves to are judged at connect time";
    static const char *numbers = "the host is made of numbers but is not an IPv4 address";
    static const char *not6 = "the host has brackets or a ':' but is not an IPv6 address";
    netpolicy p = {0};
    HOST_DENIED(&p, "[::1]", "::1 is a loopback address");
    HOST_DENIED(&p, "::1", "::1 is a loopback address");
    HOST_DENIED(&p, "[0:0:0:0:0:0:0:1]", "::1 is a loopback address");
    HOST_DENIED(&p, "[fe80::1%25eth0]", "fe80::1 is a link-local address");
    HOST_DENIED(&p, "[::ffff:10.0.0.1]", "::ffff:10.0.0.1 is a private address (IPv4-mapped)");
    HOST_DENIED(&p, "[::ffff:7f00:1]", "::ffff:127.0.0.1 is a loopback address (IPv4-mapped)");
    HOST_ALLOWED(&p, "[2606:4700::1111]", "2606:4700::1111 is not in a denied range");
    HOST_DENIED(&p, "127.0.0.1", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "0x7f.1", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "0X7F.1", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "2130706433", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "0x7f000001", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "127.1", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "0177.0.0.1", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "127.0.0.1.", "127.0.0.1 is a loopback address");
    HOST_DENIED(&p, "0", "0.0.0.0 is an unspecified address");
    HOST_DENIED(&p, "169.254.43518", "169.254.169.254 is a link-local address");
    HOST_DENIED(&p, "10.0.0.1", "10.0.0.1 is a private address");
    HOST_ALLOWED(&p, "8.8.8.8", "8.8.8.8 is not in a denied range");
    HOST_ALLOWED(&p, "134744072", "8.8.8.8 is not in a denied range");
    HOST_ALLOWED(&p, "0xdeadbeef", "222.173.190.239 is not in a denied range");

    HOST_ALLOWED(&p, "localhost", name);
    HOST_ALLOWED(&p, "LOCALHOST", name);
    HOST_ALLOWED(&p, "localhost.", name);
    HOST_ALLOWED(&p, "example.com", name);
    HOST_ALLOWED(&p, "1e100.net", name);
    HOST_ALLOWED(&p, "deadbeef", name); /* hex without 0x is a name */
    HOST_ALLOWED(&p, "127.0.0.1.nip.io", name);

    HOST_DENIED(&p, "999.1.1.1", numbers);
    HOST_DENIED(&p, "1.2.3.4.5", numbers);
    HOST_DENIED(&p, "4294967296", numbers);
    HOST_DENIED(&p, "08", numbers);
    HOST_DENIED(&p, "0x", numbers);
    HOST_ALLOWED(&p, "127.0.0.1..", name); /* an empty part: no IPv4 shape, a (bad) name */
    char longnum[NETPOLICY_HOST_MAX + 8];
    memset(longnum, '0', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = '\0';
    HOST_DENIED(&p, longnum, numbers);

    HOST_DENIED(&p, "[127.0.0.1]", not6);
    HOST_DENIED(&p, "[::1", not6);
    HOST_DENIED(&p, "[", not6);
    HOST_DENIED(&p, "[]", not6);
    HOST_DENIED(&p, "host:80", not6);
    HOST_DENIED(&p, "[v1.fe]", not6);

    netpolicy lo = {0};
    CHECK(allow(&lo, "127.0.0.0/8") == 0);
    HOST_ALLOWED(&lo, "0x7f.1", "127.0.0.1 is in allowed network 127.0.0.0/8");
    HOST_ALLOWED(&lo, "[::ffff:127.0.0.1]", NULL);
    HOST_DENIED(&lo, "[::1]", NULL);
}

int main(void)
{
    test_v4_ranges();
    test_v6_ranges();
    test_public();
    test_allow_overrides();
    test_allow_parse();
    test_sockaddr();
    test_literal();
    return test_exit_code();
}
