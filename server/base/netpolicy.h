/* netpolicy: which IP addresses an outbound webhook call may connect to (the SSRF guard): one
 * table of denied ranges, IPv4 and IPv6, that the operator's allow_networks override; an IPv6
 * address carrying an IPv4 one is judged by that one. Pure and allocation-free, so the check
 * can run on the very address curl is about to connect to (CURLOPT_OPENSOCKETFUNCTION). */
#ifndef HOOKGATE_NETPOLICY_H
#define HOOKGATE_NETPOLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETPOLICY_MAX_ALLOW 64 /* allow_networks entries in one policy */
#define NETPOLICY_CIDR_MAX 64  /* characters of one allow_networks entry (45 of address, "/128") */
#define NETPOLICY_HOST_MAX 255 /* characters of a host netpolicy_check_literal reads as an IP literal */
#define NETPOLICY_WHY_MAX 160  /* a why buffer this large holds every message whole */

/* One network: family 4 or 6, the address (an IPv4 one in the first 4 bytes, the rest zero)
 * with no bit set past `bits`. */
typedef struct netpolicy_net {
    uint8_t addr[16];
    uint8_t family;
    uint8_t bits;
} netpolicy_net;

/* The allowed networks. A zeroed netpolicy allows nothing beyond what the deny table leaves.
 * An IPv4 entry allows that IPv4 range, plainly or carried in an IPv6 address (allowing
 * 127.0.0.0/8 allows ::ffff:127.0.0.1); an IPv6 entry allows IPv6 addresses only. */
typedef struct netpolicy {
    netpolicy_net allow[NETPOLICY_MAX_ALLOW];
    size_t n_allow;
} netpolicy;

/* What a check concludes; a denial's reason is in the caller's why buffer. */
typedef enum netpolicy_verdict {
    NETPOLICY_ALLOWED,
    NETPOLICY_DENIED,
} netpolicy_verdict;

/* Adds an allowed network: "10.0.0.0/8", "fd00::/8", or an address alone for one host
 * ("10.0.0.1" is 10.0.0.1/32). Strict: dotted-quad IPv4 (inet_pton), no brackets or zone ids,
 * a decimal prefix length without leading zeros, and no bit set past it ("10.0.0.1/8" is
 * refused, naming 10.0.0.0/8, rather than silently widened). Returns 0, or -1 with an ASCII
 * message in why (never echoing unparsed input) when the entry is refused or p is full. */
int netpolicy_allow(netpolicy *p, const char *cidr, char *why, size_t why_len);

/* Judges the address a socket is about to connect to (len readable bytes at sa). Anything but
 * a whole AF_INET or AF_INET6 address is denied. The IPv4 address inside IPv4-mapped
 * (::ffff:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96, 64:ff9b:1::/96) and 6to4
 * (2002::/16) addresses decides for them; the rest of 64:ff9b:1::/48 (its layout is the
 * site's choice) and Teredo (2001::/32, its IPv4 obfuscated) are denied. why gets a sentence
 * either way: "10.1.2.3 is a private address", "::ffff:10.0.0.1 is a private address
 * (IPv4-mapped)", "10.1.2.3 is in allowed network 10.0.0.0/8"; it may be NULL when why_len
 * is 0. p is only read, so any number of threads may check at once. */
netpolicy_verdict netpolicy_check(const netpolicy *p, const struct sockaddr *sa, socklen_t len, char *why,
                                  size_t why_len);

/* Judges a URL's host at create/update time, before any name is resolved. An IP literal
 * (IPv6, bracketed or not, a zone id ignored; or IPv4 in any form inet_aton and curl's resolver
 * accept: "127.1", "0x7f.1", "2130706433", "0177.0.0.1", one trailing dot) is judged as
 * netpolicy_check would; a host of numbers that is no address, or with ':' but no IPv6
 * address, is denied; any other name ("localhost" too) is allowed here and judged at connect
 * time. This check is a courtesy to the client; the connect-time check is the guard. */
netpolicy_verdict netpolicy_check_literal(const netpolicy *p, const char *host, char *why, size_t why_len);

#endif
