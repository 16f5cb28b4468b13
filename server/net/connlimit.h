/* connlimit: who may hold one of the server's connection places (server.max_connections),
 * shared by every event loop and every listener (HTTP/1.1, HTTP/2, TLS or not, native gRPC).
 *
 * Promises: at most max_per_address places per client address (an IPv4 address, or an
 * IPv6 /64: one host can pick any address of its /64, so a whole address would be no
 * limit); at most `max` places in all, except that a connection arriving when every
 * place is taken may take the place of the oldest connection that has not brought a whole
 * request within grace_ms of opening (a squatter: it may send PINGs, it sends no request).
 * That connection is chosen once, and handed to its own loop to close
 * (connlimit_take_evicted); until it has, the newcomer is counted over `max`, never more
 * than CONNLIMIT_EVICT_SLACK over it.
 *
 * Pure bookkeeping behind one mutex: no sockets, the clock is a parameter. */
#ifndef HOOKGATE_CONNLIMIT_H
#define HOOKGATE_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONNLIMIT_EVICT_SLACK 16 /* newcomers counted over the cap while their victims close */
#define CONNLIMIT_KEY_LEN 9      /* family byte + an IPv4 address or an IPv6 /64 */

/* One connection's place. Embed it in the connection's own state; the fields are private
 * to connlimit.c and guarded by the connlimit's mutex. */
typedef struct connlimit_conn {
    struct connlimit_conn *prev, *next; /* in the squatter list (accept order) or its loop's eviction list */
    struct connlimit_address *address;
    uint64_t opened_ms;
    unsigned loop;
    int state; /* connlimit.c's CONN_* */
} connlimit_conn;

typedef struct connlimit connlimit;

/* A limit of max (>= 1) places, max_per_address per address (0: none), squatters
 * evictable grace_ms after they opened, for n_loops (>= 1) event loops. NULL when out of
 * memory. */
connlimit *connlimit_create(size_t max, size_t max_per_address, uint64_t grace_ms, unsigned n_loops);

/* Frees cl; every place must have been released. */
void connlimit_destroy(connlimit *cl);

/* Changes the cap (>= 1) for the connections admitted from now on (the descriptor limit
 * may lower it after the loops started). */
void connlimit_set_max(connlimit *cl, size_t max);

/* The cap now. */
size_t connlimit_max(connlimit *cl);

typedef enum connlimit_verdict {
    CONNLIMIT_ADMITTED,      /* c holds a place */
    CONNLIMIT_EVICTING,      /* c holds a place taken from a squatter of loop *victim_loop: wake that loop */
    CONNLIMIT_FULL,          /* every place is taken, by no squatter old enough: close c's connection */
    CONNLIMIT_ADDRESS_FULL,  /* its address holds max_per_address places: close it */
    CONNLIMIT_NO_MEMORY,     /* the address table could not grow: close it */
    CONNLIMIT_NO_ADDRESS,    /* peer is not an IPv4 or IPv6 address: close it */
} connlimit_verdict;

/* Asks a place for c, a connection from peer that opened now on loop (< n_loops). Only
 * after CONNLIMIT_ADMITTED or CONNLIMIT_EVICTING does c hold a place (to release). */
connlimit_verdict connlimit_admit(connlimit *cl, connlimit_conn *c, const struct sockaddr *peer, unsigned loop,
                                  uint64_t now_ms, unsigned *victim_loop);

/* c has brought a whole request: it is no longer a squatter. Idempotent. */
void connlimit_seen(connlimit *cl, connlimit_conn *c);

/* c's connection closed: its place is free. */
void connlimit_release(connlimit *cl, connlimit_conn *c);

/* Takes up to max of loop's connections chosen for eviction into out; returns how many.
 * Each stays a place until released: the caller closes its connection. Call it on that
 * loop only, where a connection cannot close under the caller's feet. */
size_t connlimit_take_evicted(connlimit *cl, unsigned loop, connlimit_conn **out, size_t max);

/* The key of peer's address into key (CONNLIMIT_KEY_LEN bytes); -1 when peer is neither
 * IPv4 nor IPv6. An IPv4-mapped IPv6 address is its IPv4 address. */
int connlimit_key(const struct sockaddr *peer, uint8_t key[CONNLIMIT_KEY_LEN]);

#endif
