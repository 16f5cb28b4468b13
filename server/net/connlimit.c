/* connlimit: see connlimit.h.
 *
 * Squatters (connections that have brought no whole request yet) are kept in one list in
 * the order they were admitted, so the oldest is the head and choosing a victim is O(1);
 * a connection leaves the list when it is seen, chosen or released. Addresses are counted
 * in the one hash table, keyed by a hash seeded at random per process: the keys are
 * chosen by clients, and the hash is not collision-resistant. */
#include "connlimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hashtable.h"
#include "hg_assert.h"

enum {
    CONN_SQUATTER, /* in `squatters` */
    CONN_SEEN,     /* in no list */
    CONN_EVICTED,  /* chosen: in its loop's `evicted` list */
    CONN_TAKEN,    /* chosen and taken by its loop, which is closing it: in no list */
};

typedef struct connlimit_address {
    uint8_t key[CONNLIMIT_KEY_LEN];
    size_t count;
} connlimit_address;

typedef struct conn_list {
    connlimit_conn *head, *tail;
} conn_list;

struct connlimit {
    pthread_mutex_t mutex;
    size_t max, max_per_address, open;
    uint64_t grace_ms, seed;
    unsigned n_loops;
    hashtable addresses; /* connlimit_address, one per address holding a place */
    conn_list squatters;
    conn_list *evicted; /* one per loop */
};

static void list_push(conn_list *l, connlimit_conn *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_remove(conn_list *l, connlimit_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static int address_equal(const void *item, const void *key)
{
    return memcmp(((const connlimit_address *)item)->key, key, CONNLIMIT_KEY_LEN) == 0;
}

static uint64_t address_hash(const connlimit *cl, const uint8_t key[CONNLIMIT_KEY_LEN])
{
    uint8_t seeded[8 + CONNLIMIT_KEY_LEN];
    memcpy(seeded, &cl->seed, 8);
    memcpy(seeded + 8, key, CONNLIMIT_KEY_LEN);
    return hashtable_hash_bytes(seeded, sizeof(seeded));
}

int connlimit_key(const struct sockaddr *peer, uint8_t key[CONNLIMIT_KEY_LEN])
{
    memset(key, 0, CONNLIMIT_KEY_LEN);
    if (peer->sa_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        return 0;
    }
    if (peer->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            key[0] = 4;
            memcpy(key + 1, a->s6_addr + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, a->s6_addr, 8); /* the /64 */
        }
        return 0;
    }
    return -1;
}

connlimit *connlimit_create(size_t max, size_t max_per_address, uint64_t grace_ms, unsigned n_loops)
{
    HG_ASSERT(max >= 1 && n_loops >= 1);
    connlimit *cl = calloc(1, sizeof(*cl));
    if (cl == NULL || (cl->evicted = calloc(n_loops, sizeof(*cl->evicted))) == NULL) {
        free(cl);
        return NULL;
    }
    if (getrandom(&cl->seed, sizeof(cl->seed), 0) != sizeof(cl->seed))
        cl->seed = (uint64_t)(uintptr_t)cl; /* still differs per process with ASLR */
    pthread_mutex_init(&cl->mutex, NULL);
    cl->max = max;
    cl->max_per_address = max_per_address;
    cl->grace_ms = grace_ms;
    cl->n_loops = n_loops;
    /* an address holds at least one place: the table never holds more than the places */
    hashtable_init(&cl->addresses, address_equal, HASHTABLE_LIMIT_MAX, NULL);
    return cl;
}

void connlimit_destroy(connlimit *cl)
{
    if (cl == NULL)
        return;
    HG_ASSERT(cl->open == 0 && hashtable_count(&cl->addresses) == 0);
    hashtable_destroy(&cl->addresses);
    pthread_mutex_destroy(&cl->mutex);
    free(cl->evicted);
    free(cl);
}

void connlimit_set_max(connlimit *cl, size_t max)
{
    HG_ASSERT(max >= 1);
    pthread_mutex_lock(&cl->mutex);
    cl->max = max;
    pthread_mutex_unlock(&cl->mutex);
}

size_t connlimit_max(connlimit *cl)
{
    pthread_mutex_lock(&cl->mutex);
    size_t max = cl->max;
    pthread_mutex_unlock(&cl->mutex);
    return max;
}

/* The place a newcomer may take when every one is taken: the oldest squatter, once it has
 * had grace_ms; NULL when there is none, or when as many newcomers as the slack allows
 * are already over the cap. Called with the mutex held. */
static connlimit_conn *victim(connlimit *cl, uint64_t now_ms)
{
    connlimit_conn *v = cl->squatters.head;
    if (v == NULL || now_ms < v->opened_ms + cl->grace_ms || cl->open >= cl->max + CONNLIMIT_EVICT_SLACK)
        return NULL;
    return v;
}

connlimit_verdict connlimit_admit(connlimit *cl, connlimit_conn *c, const struct sockaddr *peer, unsigned loop,
                                  uint64_t now_ms, unsigned *victim_loop)
{
    HG_ASSERT(loop < cl->n_loops);
    uint8_t key[CONNLIMIT_KEY_LEN];
    if (connlimit_key(peer, key) != 0)
        return CONNLIMIT_NO_ADDRESS;
    uint64_t hash = address_hash(cl, key);
    connlimit_verdict verdict = CONNLIMIT_ADMITTED;
    pthread_mutex_lock(&cl->mutex);
    connlimit_address *a = hashtable_find(&cl->addresses, hash, key);
    connlimit_conn *v = NULL;
    if (a != NULL && cl->max_per_address != 0 && a->count >= cl->max_per_address) {
        verdict = CONNLIMIT_ADDRESS_FULL;
        goto out;
    }
    if (cl->open >= cl->max && (v = victim(cl, now_ms)) == NULL) {
        verdict = CONNLIMIT_FULL;
        goto out;
    }
    if (a == NULL) { /* before anything changes: a failure leaves everything as it was */
        if ((a = calloc(1, sizeof(*a))) == NULL || hashtable_insert(&cl->addresses, hash, a) != HASHTABLE_OK) {
            free(a);
            verdict = CONNLIMIT_NO_MEMORY;
            goto out;
        }
        memcpy(a->key, key, CONNLIMIT_KEY_LEN);
    }
    if (v != NULL) {
        list_remove(&cl->squatters, v);
        v->state = CONN_EVICTED;
        list_push(&cl->evicted[v->loop], v);
        *victim_loop = v->loop;
        verdict = CONNLIMIT_EVICTING;
    }
    a->count++;
    cl->open++;
    c->address = a;
    c->opened_ms = now_ms;
    c->loop = loop;
    c->state = CONN_SQUATTER;
    list_push(&cl->squatters, c);
    HG_ASSERT(cl->open <= cl->max + CONNLIMIT_EVICT_SLACK);
out:
    pthread_mutex_unlock(&cl->mutex);
    return verdict;
}

void connlimit_seen(connlimit *cl, connlimit_conn *c)
{
    pthread_mutex_lock(&cl->mutex);
    if (c->state == CONN_SQUATTER) {
        list_remove(&cl->squatters, c);
        c->state = CONN_SEEN;
    }
    pthread_mutex_unlock(&cl->mutex);
}

void connlimit_release(connlimit *cl, connlimit_conn *c)
{
    pthread_mutex_lock(&cl->mutex);
    HG_ASSERT(cl->open > 0 && c->address != NULL && c->address->count > 0);
    if (c->state == CONN_SQUATTER)
        list_remove(&cl->squatters, c);
    else if (c->state == CONN_EVICTED)
        list_remove(&cl->evicted[c->loop], c); /* closed before its loop took it */
    connlimit_address *a = c->address;
    if (--a->count == 0) {
        void *removed = hashtable_remove(&cl->addresses, address_hash(cl, a->key), a->key);
        HG_ASSERT(removed == a);
        free(a);
    }
    c->address = NULL;
    cl->open--;
    pthread_mutex_unlock(&cl->mutex);
}

size_t connlimit_take_evicted(connlimit *cl, unsigned loop, connlimit_conn **out, size_t max)
{
    HG_ASSERT(loop < cl->n_loops);
    size_t n = 0;
    pthread_mutex_lock(&cl->mutex);
    conn_list *l = &cl->evicted[loop];
    while (n < max && l->head != NULL) {
        connlimit_conn *c = l->head;
        list_remove(l, c);
        c->state = CONN_TAKEN;
        out[n++] = c;
    }
    pthread_mutex_unlock(&cl->mutex);
    return n;
}
