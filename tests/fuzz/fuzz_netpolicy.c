/* fuzz_netpolicy: an allow_networks entry through netpolicy_allow, then addresses and a URL
 * host through netpolicy_check and netpolicy_check_literal.
 *
 * The input is the entry, a newline, and the rest (the tail). Checked, besides reading
 * nothing outside the input (the tail is also handed over as a sockaddr of its exact size):
 * every message is printable ASCII, and a refusal has one; an accepted entry has no bit past
 * its length and reads back the same from its canonical text; an address inside it, filled
 * from the tail, is allowed, IPv4 ones also when carried in IPv6 (mapped, NAT64, 6to4); an
 * allow never turns an allowed address into a denied one; an IPv4 address gets the same
 * verdict plainly and in every IPv6 form that carries it; and the create-time check of a host
 * that inet_pton reads agrees with the connect-time check of that address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "netpolicy.h"

/* 1 when why is printable ASCII (what an API client is shown, in a JSON string). */
static int is_text(const char *why)
{
    for (; *why; why++)
        if (*why < 0x20 || *why > 0x7e)
            return 0;
    return 1;
}

static netpolicy_verdict check(const netpolicy *p, int family, const uint8_t *a)
{
    char why[NETPOLICY_WHY_MAX];
    netpolicy_verdict v;
    if (family == 4) {
        struct sockaddr_in in;
        memset(&in, 0, sizeof in);
        in.sin_family = AF_INET;
        memcpy(&in.sin_addr, a, 4);
        v = netpolicy_check(p, (const struct sockaddr *)&in, sizeof in, why, sizeof why);
    } else {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        memcpy(&in6.sin6_addr, a, 16);
        v = netpolicy_check(p, (const struct sockaddr *)&in6, sizeof in6, why, sizeof why);
    }
    FUZZ_CHECK(v == NETPOLICY_ALLOWED || v == NETPOLICY_DENIED, "a verdict outside the enumeration");
    FUZZ_CHECK(why[0] != '\0' && is_text(why), "a check without a printable message");
    return v;
}

/* The IPv4 address v4 judged plainly and in each IPv6 form carrying it gets one verdict; an
 * IPv6 entry of p may allow a form and not the plain address, never the other way round. */
static netpolicy_verdict check_v4_forms(const netpolicy *p, const uint8_t *v4)
{
    int only_v4 = 1;
    for (size_t i = 0; i < p->n_allow; i++)
        only_v4 &= p->allow[i].family == 4;
    netpolicy_verdict v = check(p, 4, v4);
    uint8_t forms[3][16] = {{[10] = 0xff, [11] = 0xff}, {0x00, 0x64, 0xff, 0x9b}, {0x20, 0x02}};
    memcpy(forms[0] + 12, v4, 4); /* IPv4-mapped */
    memcpy(forms[1] + 12, v4, 4); /* NAT64 */
    memcpy(forms[2] + 2, v4, 4);  /* 6to4 */
    for (int i = 0; i < 3; i++) {
        netpolicy_verdict vf = check(p, 6, forms[i]);
        FUZZ_CHECK(only_v4 ? vf == v : v == NETPOLICY_DENIED || vf == NETPOLICY_ALLOWED,
                   "an IPv6 form judged unlike the IPv4 address it carries");
    }
    return v;
}

/* An accepted entry: its invariants, its round trip through text, and an address inside it. */
static void check_entry(const netpolicy *p, const uint8_t *tail, size_t tail_len)
{
    const netpolicy_net *n = &p->allow[0];
    unsigned max = n->family == 4 ? 32 : 128;
    FUZZ_CHECK(n->family == 4 || n->family == 6, "an entry of no family");
    FUZZ_CHECK(n->bits <= max, "a prefix longer than the address");
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = n->bits > i * 8 ? n->bits - i * 8 : 0;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
        FUZZ_CHECK((n->addr[i] & ~mask) == 0 && (i < max / 8 || n->addr[i] == 0), "a bit set past the prefix");
    }

    char text[INET6_ADDRSTRLEN + 8], why[NETPOLICY_WHY_MAX];
    inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, text, INET6_ADDRSTRLEN);
    snprintf(text + strlen(text), 8, "/%u", (unsigned)n->bits);
    netpolicy again = {0};
    FUZZ_CHECK(netpolicy_allow(&again, text, why, sizeof why) == 0, "an entry's canonical text is refused");
    FUZZ_CHECK(memcmp(&again.allow[0], n, sizeof *n) == 0, "an entry's canonical text reads back differently");

    /* the network's bits, the host bits from the tail */
    uint8_t a[16];
    memcpy(a, n->addr, 16);
    for (unsigned i = 0; i < max / 8; i++) {
        unsigned keep = n->bits > i * 8 ? n->bits - i * 8 : 0;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
        a[i] |= (uint8_t)((i < tail_len ? tail[i] : 0xa5) & ~mask);
    }
    FUZZ_CHECK(check(p, n->family, a) == NETPOLICY_ALLOWED, "an address inside an allowed network is denied");
    if (n->family == 4)
        FUZZ_CHECK(check_v4_forms(p, a) == NETPOLICY_ALLOWED, "an IPv4 address inside an allowed network is denied "
                                                              "when carried in IPv6");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t entry_len = nl ? (size_t)(nl - data) : size;
    const uint8_t *tail = nl ? nl + 1 : data + size;
    size_t tail_len = size - (size_t)(tail - data);

    /* the entry, as the configuration loader hands it over (a string: up to a NUL) */
    char *entry = malloc(entry_len + 1);
    char *host = malloc(tail_len + 3);
    if (entry == NULL || host == NULL) {
        free(entry);
        free(host);
        return 0;
    }
    memcpy(entry, data, entry_len);
    entry[entry_len] = '\0';
    netpolicy p = {0}, none = {0};
    char why[NETPOLICY_WHY_MAX] = "";
    int r = netpolicy_allow(&p, entry, why, sizeof why);
    FUZZ_CHECK(r == 0 || r == -1, "netpolicy_allow returned neither 0 nor -1");
    FUZZ_CHECK(is_text(why), "a refusal that is not printable ASCII");
    FUZZ_CHECK(r == 0 ? p.n_allow == 1 && why[0] == '\0' : p.n_allow == 0 && why[0] != '\0',
               "the entry count or message does not match the result");
    if (r == 0)
        check_entry(&p, tail, tail_len);

    /* the tail's first bytes as an IPv4 and an IPv6 address */
    uint8_t a[16] = {0};
    memcpy(a, tail, tail_len < 16 ? tail_len : 16);
    netpolicy_verdict v4 = check_v4_forms(&none, a);
    FUZZ_CHECK(v4 == NETPOLICY_DENIED || check_v4_forms(&p, a) == NETPOLICY_ALLOWED, "an allow denied an IPv4 address");
    netpolicy_verdict v6 = check(&none, 6, a);
    FUZZ_CHECK(v6 == NETPOLICY_DENIED || check(&p, 6, a) == NETPOLICY_ALLOWED, "an allow denied an IPv6 address");

    /* the tail as a sockaddr of exactly its size (ASan sees a read past it) */
    size_t sa_len = tail_len < sizeof(struct sockaddr_in6) + 4 ? tail_len : sizeof(struct sockaddr_in6) + 4;
    uint8_t *sa = malloc(sa_len ? sa_len : 1);
    if (sa != NULL) {
        memcpy(sa, tail, sa_len);
        netpolicy_verdict v = netpolicy_check(&p, (const struct sockaddr *)sa, (socklen_t)sa_len, why, sizeof why);
        FUZZ_CHECK(v == NETPOLICY_ALLOWED || v == NETPOLICY_DENIED, "a verdict outside the enumeration");
        FUZZ_CHECK(why[0] != '\0' && is_text(why), "a check without a printable message");
        free(sa);
    }

    /* the tail as a URL host: the literal check agrees with the connect-time one */
    memcpy(host, tail, tail_len);
    host[tail_len] = '\0';
    netpolicy_verdict lit = netpolicy_check_literal(&p, host, why, sizeof why);
    FUZZ_CHECK(lit == NETPOLICY_ALLOWED || lit == NETPOLICY_DENIED, "a verdict outside the enumeration");
    FUZZ_CHECK(why[0] != '\0' && is_text(why), "a literal check without a printable message");
    uint8_t parsed[16] = {0};
    if (inet_pton(AF_INET, host, parsed) == 1)
        FUZZ_CHECK(lit == check(&p, 4, parsed), "an IPv4 host judged unlike its address");
    if (inet_pton(AF_INET6, host, parsed) == 1) {
        FUZZ_CHECK(lit == check(&p, 6, parsed), "an IPv6 host judged unlike its address");
        size_t n = strlen(host);
        memmove(host + 1, host, n);
        host[0] = '[';
        host[n + 1] = ']';
        host[n + 2] = '\0';
        FUZZ_CHECK(netpolicy_check_literal(&p, host, why, sizeof why) == lit,
                   "brackets changed an IPv6 host's verdict");
    }
    free(entry);
    free(host);
    return 0;
}
