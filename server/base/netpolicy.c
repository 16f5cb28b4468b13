/* netpolicy: the SSRF address policy; see netpolicy.h. */
#include "netpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hg_assert.h"

/* The longest message: an IPv6 address, an allowed IPv6 network with its length, and the
 * name of an embedding with the IPv4 address it carries, around fixed words. */
HG_STATIC_ASSERT(NETPOLICY_WHY_MAX >= 2 * INET6_ADDRSTRLEN + 4 + 60,
                 "a why buffer of NETPOLICY_WHY_MAX fits every message");
HG_STATIC_ASSERT(NETPOLICY_CIDR_MAX >= INET6_ADDRSTRLEN + 4, "the longest address with /128 fits an entry");

/* A range of the table: either denied outright (what completes "<address> is <what>
 * address"), or, for IPv6, one that carries an IPv4 address in bytes at[0..3], judged in its
 * stead (embeds names the form). The table is read top-down and the first range holding the
 * address decides, so a narrower range comes before a wider one it lies in. */
typedef struct range {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
    const char *what;
    const char *embeds;
    uint8_t at[4];
} range;

/* clang-format off */
#define DENY4(a, b, c, d, bits, what) {4, bits, {a, b, c, d}, what, NULL, {0}}
#define DENY6(bits, what, ...) {6, bits, {__VA_ARGS__}, what, NULL, {0}}
#define EMBED6(bits, embeds, o0, o1, o2, o3, ...) {6, bits, {__VA_ARGS__}, NULL, embeds, {o0, o1, o2, o3}}

static const range ranges[] = {
    /* IPv4: IANA's special-purpose registry (RFC 6890) less the few globally reachable /32s it
     * lists, the deprecated 6to4 relay anycast, multicast and the old class E */
    DENY4(0, 0, 0, 0, 8, "an unspecified"), /* Linux connects 0.0.0.0 to the local host */
    DENY4(10, 0, 0, 0, 8, "a private"),
    DENY4(100, 64, 0, 0, 10, "a carrier-grade NAT"),
    DENY4(127, 0, 0, 0, 8, "a loopback"),
    DENY4(169, 254, 0, 0, 16, "a link-local"), /* cloud metadata services live here */
    DENY4(172, 16, 0, 0, 12, "a private"),
    DENY4(192, 0, 0, 0, 24, "an IETF protocol assignment"),
    DENY4(192, 0, 2, 0, 24, "a documentation"),
    DENY4(192, 88, 99, 0, 24, "a 6to4 relay anycast"),
    DENY4(192, 168, 0, 0, 16, "a private"),
    DENY4(198, 18, 0, 0, 15, "a benchmarking"),
    DENY4(198, 51, 100, 0, 24, "a documentation"),
    DENY4(203, 0, 113, 0, 24, "a documentation"),
    DENY4(224, 0, 0, 0, 4, "a multicast"),
    DENY4(255, 255, 255, 255, 32, "the broadcast"),
    DENY4(240, 0, 0, 0, 4, "a reserved"),
    /* IPv6 */
    DENY6(128, "an unspecified", 0),
    DENY6(128, "a loopback", [15] = 1),
    EMBED6(96, "IPv4-compatible", 12, 13, 14, 15, 0),
    EMBED6(96, "IPv4-mapped", 12, 13, 14, 15, [10] = 0xff, [11] = 0xff),
    EMBED6(96, "NAT64", 12, 13, 14, 15, 0x00, 0x64, 0xff, 0x9b),
    /* RFC 8215's local-use NAT64 prefix: a site may carve any prefix of /48 to /96 from it, and
     * RFC 6052 puts the IPv4 address elsewhere for each length, so only the /96 layout (the
     * usual one) is read; the rest cannot be judged and is denied as a whole */
    EMBED6(96, "NAT64", 12, 13, 14, 15, 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01),
    DENY6(48, "a local-use NAT64", 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01),
    DENY6(64, "a discard-only", 0x01, 0x00),
    DENY6(32, "a Teredo", 0x20, 0x01, 0x00, 0x00), /* the IPv4 it carries is obfuscated: no telling */
    DENY6(23, "an IETF protocol assignment", 0x20, 0x01, 0x00, 0x00),
    DENY6(32, "a documentation", 0x20, 0x01, 0x0d, 0xb8),
    EMBED6(16, "6to4", 2, 3, 4, 5, 0x20, 0x02),
    DENY6(20, "a documentation", 0x3f, 0xff), /* RFC 9637 */
    DENY6(7, "a unique local", 0xfc),
    DENY6(10, "a link-local", 0xfe, 0x80),
    DENY6(10, "a site-local", 0xfe, 0xc0), /* deprecated (RFC 3879), still routed inside some sites */
    DENY6(8, "a multicast", 0xff),
};
/* clang-format on */

/* 1 when the first `bits` bits of a and net are the same. */
static int prefix_holds(const uint8_t *net, unsigned bits, const uint8_t *a)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(net, a, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net[whole] & mask) == (a[whole] & mask);
}

/* The first range of the table holding a (family 4 or 6), or NULL. */
static const range *range_of(int family, const uint8_t *a)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].family == family && prefix_holds(ranges[i].addr, ranges[i].bits, a))
            return &ranges[i];
    return NULL;
}

/* The first allowed network of p holding a, or NULL. */
static const netpolicy_net *allowed_by(const netpolicy *p, int family, const uint8_t *a)
{
    for (size_t i = 0; i < p->n_allow; i++) {
        HG_ASSERT(p->allow[i].bits <= (p->allow[i].family == 4 ? 32 : 128)); /* as netpolicy_allow left it */
        if (p->allow[i].family == family && prefix_holds(p->allow[i].addr, p->allow[i].bits, a))
            return &p->allow[i];
    }
    return NULL;
}

/* Writes the message (truncated to why_len, always terminated when why_len > 0). */
static void say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* The text of an address of family 4 or 6 (out holds INET6_ADDRSTRLEN). */
static void address_text(int family, const uint8_t *a, char *out)
{
    const char *r = inet_ntop(family == 4 ? AF_INET : AF_INET6, a, out, INET6_ADDRSTRLEN);
    HG_ASSERT(r != NULL);
}

/* The text of a network, "10.0.0.0/8" (out holds INET6_ADDRSTRLEN + 4). */
static void net_text(const netpolicy_net *n, char *out)
{
    address_text(n->family, n->addr, out);
    snprintf(out + strlen(out), 5, "/%u", (unsigned)n->bits);
}

/* The verdict on a (family 4: its first 4 bytes), with its message: an allowed network
 * first, then the table; an IPv6 range that carries an IPv4 address passes the judgement on to
 * that address, the allowed networks first again. */
static netpolicy_verdict judge(const netpolicy *p, int family, const uint8_t *a, char *why, size_t why_len)
{
    HG_ASSERT(p != NULL && p->n_allow <= NETPOLICY_MAX_ALLOW);
    HG_ASSERT(family == 4 || family == 6);
    char text[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 4];
    address_text(family, a, text);

    const netpolicy_net *allow = allowed_by(p, family, a);
    if (allow != NULL) {
        net_text(allow, net);
        say(why, why_len, "%s is in allowed network %s", text, net);
        return NETPOLICY_ALLOWED;
    }
    const range *r = range_of(family, a);
    if (r == NULL) {
        say(why, why_len, "%s is not in a denied range", text);
        return NETPOLICY_ALLOWED;
    }
    if (r->embeds == NULL) {
        say(why, why_len, "%s is %s address", text, r->what);
        return NETPOLICY_DENIED;
    }

    /* an IPv6 address carrying an IPv4 one: the IPv4 one decides */
    uint8_t v4[16] = {a[r->at[0]], a[r->at[1]], a[r->at[2]], a[r->at[3]]};
    char v4text[INET6_ADDRSTRLEN], form[INET6_ADDRSTRLEN + 24];
    address_text(4, v4, v4text);
    if (strchr(text, '.') != NULL) /* inet_ntop already shows it: "::ffff:10.0.0.1" */
        snprintf(form, sizeof form, "%s", r->embeds);
    else
        snprintf(form, sizeof form, "%s of %s", r->embeds, v4text);
    allow = allowed_by(p, 4, v4);
    if (allow != NULL) {
        net_text(allow, net);
        say(why, why_len, "%s is in allowed network %s (%s)", text, net, form);
        return NETPOLICY_ALLOWED;
    }
    const range *r4 = range_of(4, v4);
    if (r4 == NULL) {
        say(why, why_len, "%s is not in a denied range (%s)", text, form);
        return NETPOLICY_ALLOWED;
    }
    HG_ASSERT(r4->embeds == NULL);
    say(why, why_len, "%s is %s address (%s)", text, r4->what, form);
    return NETPOLICY_DENIED;
}

int netpolicy_allow(netpolicy *p, const char *cidr, char *why, size_t why_len)
{
    HG_ASSERT(p != NULL && cidr != NULL && (why != NULL || why_len == 0));
    HG_ASSERT(p->n_allow <= NETPOLICY_MAX_ALLOW);
    say(why, why_len, "%s", "");
    if (p->n_allow == NETPOLICY_MAX_ALLOW) {
        say(why, why_len, "more than %d allowed networks", NETPOLICY_MAX_ALLOW);
        return -1;
    }
    size_t len = strnlen(cidr, NETPOLICY_CIDR_MAX + 1);
    if (len > NETPOLICY_CIDR_MAX) {
        say(why, why_len, "longer than %d characters: not a network", NETPOLICY_CIDR_MAX);
        return -1;
    }
    char text[NETPOLICY_CIDR_MAX + 1];
    memcpy(text, cidr, len + 1);
    char *slash = strchr(text, '/');
    if (slash != NULL)
        *slash = '\0';

    netpolicy_net n;
    memset(&n, 0, sizeof n);
    unsigned max;
    if (inet_pton(AF_INET, text, n.addr) == 1)
        n.family = 4, max = 32;
    else if (inet_pton(AF_INET6, text, n.addr) == 1)
        n.family = 6, max = 128;
    else {
        say(why, why_len,
            "not an IPv4 or IPv6 network (expected an address, or one and a prefix length "
            "like 10.0.0.0/8 or fd00::/8)");
        return -1;
    }

    unsigned bits = max;
    if (slash != NULL) {
        const char *s = slash + 1;
        size_t digits = strspn(s, "0123456789");
        int ok = digits >= 1 && digits <= 3 && s[digits] == '\0' && !(s[0] == '0' && digits > 1);
        for (size_t i = 0; ok && i < digits; i++)
            bits = (i == 0 ? 0 : bits * 10) + (unsigned)(s[i] - '0');
        if (!ok || bits > max) {
            say(why, why_len, "the prefix length after '/' must be a whole number from 0 to %u", max);
            return -1;
        }
    }
    n.bits = (uint8_t)bits;

    /* refuse host bits rather than mask them: "10.0.0.1/8" is more likely a typo for
     * 10.0.0.1/32 than a wish to allow 10.0.0.0/8, and widening a hole silently is worse */
    netpolicy_net masked = n;
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
        masked.addr[i] &= keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
    }
    if (memcmp(masked.addr, n.addr, sizeof n.addr) != 0) {
        char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 4];
        address_text(n.family, n.addr, addr);
        net_text(&masked, net);
        say(why, why_len,
            "%s/%u has bits set past the prefix length: the network is %s (or write %s alone for the one host)", addr,
            bits, net, addr);
        return -1;
    }
    p->allow[p->n_allow++] = n;
    return 0;
}

netpolicy_verdict netpolicy_check(const netpolicy *p, const struct sockaddr *sa, socklen_t len, char *why,
                                  size_t why_len)
{
    HG_ASSERT(p != NULL && sa != NULL && (why != NULL || why_len == 0));
    /* copied out, not cast: the caller's bytes need not be aligned for the structures */
    sa_family_t family;
    if (len < offsetof(struct sockaddr, sa_family) + sizeof family) {
        say(why, why_len, "no address family");
        return NETPOLICY_DENIED;
    }
    memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof family);
    if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        uint8_t a[16] = {0};
        memcpy(a, &in.sin_addr, 4);
        return judge(p, 4, a, why, why_len);
    }
    if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return judge(p, 6, in6.sin6_addr.s6_addr, why, why_len);
    }
    if (family == AF_INET || family == AF_INET6)
        say(why, why_len, "an IPv%d address cut short (%u bytes)", family == AF_INET ? 4 : 6, (unsigned)len);
    else
        say(why, why_len, "address family %u is not IPv4 or IPv6", (unsigned)family);
    return NETPOLICY_DENIED;
}

/* 1 when host[0..len) is dot-separated parts each of decimal digits or 0x and hex digits,
 * with at most one empty part, the last (a trailing dot): the shapes inet_aton reads, and
 * that the WHATWG URL parser takes for IPv4, so never a name. */
static int numeric_shape(const char *host, size_t len)
{
    size_t i = 0;
    if (len == 0)
        return 0;
    while (i < len) {
        size_t start = i;
        if (len - i >= 2 && host[i] == '0' && (host[i + 1] == 'x' || host[i + 1] == 'X')) {
            i += 2;
            while (i < len && isxdigit((unsigned char)host[i]))
                i++;
        } else {
            while (i < len && isdigit((unsigned char)host[i]))
                i++;
        }
        if (i == start || (i < len && host[i] != '.'))
            return 0;
        i++; /* past the dot; a trailing one ends the loop */
    }
    return 1;
}

netpolicy_verdict netpolicy_check_literal(const netpolicy *p, const char *host, char *why, size_t why_len)
{
    HG_ASSERT(p != NULL && host != NULL && (why != NULL || why_len == 0));
    size_t len = strnlen(host, NETPOLICY_HOST_MAX + 1);
    char text[NETPOLICY_HOST_MAX + 1];
    uint8_t a[16] = {0};

    if (host[0] == '[' || memchr(host, ':', len) != NULL) {
        const char *start = host, *end = host + len;
        if (host[0] == '[') {
            start++;
            if (len < 2 || host[len - 1] != ']')
                end = start; /* nothing to read: refused below */
            else
                end--;
        }
        const char *zone = memchr(start, '%', (size_t)(end - start)); /* "fe80::1%25eth0": the address decides */
        if (zone != NULL)
            end = zone;
        size_t n = (size_t)(end - start);
        if (len <= NETPOLICY_HOST_MAX && n < INET6_ADDRSTRLEN) {
            memcpy(text, start, n);
            text[n] = '\0';
            if (inet_pton(AF_INET6, text, a) == 1)
                return judge(p, 6, a, why, why_len);
        }
        say(why, why_len, "the host has brackets or a ':' but is not an IPv6 address");
        return NETPOLICY_DENIED;
    }
    if (numeric_shape(host, len)) {
        if (len <= NETPOLICY_HOST_MAX) {
            memcpy(text, host, len + 1);
            if (text[len - 1] == '.')
                text[len - 1] = '\0';
            struct in_addr in;
            if (inet_aton(text, &in) == 1) {
                memcpy(a, &in, 4);
                return judge(p, 4, a, why, why_len);
            }
        }
        say(why, why_len, "the host is made of numbers but is not an IPv4 address");
        return NETPOLICY_DENIED;
    }
    say(why, why_len, "the host is a name: the addresses it resolves to are judged at connect time");
    return NETPOLICY_ALLOWED;
}
