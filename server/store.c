/* store: see store.h.
 *
 * Three open-addressing tables under one lock: records by id, records created with an
 * idempotency digest by that digest, and ecosystems by name, each ecosystem holding a
 * growing array of its records in creation order. Another index keeps
 * every record in insertion order in fixed blocks that never move, so store_nth can read
 * it without the lock. The lock is an adaptive mutex: every section is short, so a waiter
 * spins briefly instead of sleeping in the kernel. */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STORE_INITIAL_SLOTS 1024 /* power of two */

typedef struct ecosystem_list {
    char *name;
    const store_webhook **items;
    size_t n, cap;
} ecosystem_list;

struct store {
    pthread_mutex_t lock;  /* adaptive: sections are short, so waiting spins before it sleeps */
    store_webhook **by_id; /* slots; NULL = empty; never deleted, so no tombstones */
    uint64_t *id_hashes;   /* each slot's hash: probes read a record only on a match, growth reads none */
    size_t id_slots, n;
    const store_webhook **by_key; /* slots of records with an idempotency digest; NULL = empty */
    size_t key_slots, n_keys;
    ecosystem_list *ecosystems; /* slots; name NULL = empty */
    size_t eco_slots, n_ecosystems;
    store_webhook **chunks[STORE_MAX_CHUNKS]; /* insertion order; a block is never moved */
    atomic_size_t published;                  /* records visible through store_nth */
};

static uint64_t hash_bytes(const void *data, size_t len)
{
    /* FNV-1a: ids already carry random bits, names are few and short */
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int lock_init(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

store *store_create(void)
{
    store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->id_slots = STORE_INITIAL_SLOTS;
    s->eco_slots = 64;
    s->key_slots = 64;
    s->by_id = calloc(s->id_slots, sizeof(*s->by_id));
    s->by_key = calloc(s->key_slots, sizeof(*s->by_key));
    s->id_hashes = calloc(s->id_slots, sizeof(*s->id_hashes));
    s->ecosystems = calloc(s->eco_slots, sizeof(*s->ecosystems));
    if (s->by_id == NULL || s->id_hashes == NULL || s->by_key == NULL || s->ecosystems == NULL ||
        lock_init(&s->lock) != 0) {
        free(s->by_id);
        free(s->by_key);
        free(s->id_hashes);
        free(s->ecosystems);
        free(s);
        return NULL;
    }
    return s;
}

void store_destroy(store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->id_slots; i++)
        free(s->by_id[i]);
    for (size_t c = 0; c < STORE_MAX_CHUNKS && s->chunks[c] != NULL; c++)
        free(s->chunks[c]);
    for (size_t i = 0; i < s->eco_slots; i++) {
        free(s->ecosystems[i].name);
        free(s->ecosystems[i].items);
    }
    free(s->by_id);
    free(s->id_hashes);
    free(s->by_key);
    free(s->ecosystems);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* An id's seconds and counter are what vary (the middle bytes are fixed per process) and
 * they sit in the high bytes of the words loaded: splitmix64's finalizer moves every bit
 * into the low ones, which pick the slot. */
static uint64_t id_hash(const objectid *id)
{
    uint64_t hi, lo;
    memcpy(&hi, id->bytes, 8);
    memcpy(&lo, id->bytes + 4, 8);
    uint64_t x = hi ^ (lo << 32 | lo >> 32);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int id_equal(const objectid *a, const objectid *b)
{
    uint64_t a1, b1;
    uint32_t a2, b2;
    memcpy(&a1, a->bytes, 8), memcpy(&b1, b->bytes, 8);
    memcpy(&a2, a->bytes + 8, 4), memcpy(&b2, b->bytes + 8, 4);
    return a1 == b1 && a2 == b2;
}

/* The slot holding id, or the empty slot where it would go. A record is read only when
 * the stored hash matches: passing an occupied slot costs no cache miss. */
static size_t id_slot(store_webhook *const *slots, const uint64_t *hashes, size_t n_slots, const objectid *id,
                      uint64_t hash)
{
    size_t i = hash & (n_slots - 1);
    while (slots[i] != NULL && (hashes[i] != hash || !id_equal(&slots[i]->id, id)))
        i = (i + 1) & (n_slots - 1);
    return i;
}

/* Doubles the table. Every insert waits meanwhile, so it touches only the two arrays (the
 * stored hashes place each entry), never the records. */
static int grow_ids(store *s)
{
    size_t n_slots = s->id_slots * 2;
    store_webhook **slots = calloc(n_slots, sizeof(*slots));
    uint64_t *hashes = calloc(n_slots, sizeof(*hashes));
    if (slots == NULL || hashes == NULL) {
        free(slots);
        free(hashes);
        return -1;
    }
    for (size_t i = 0; i < s->id_slots; i++)
        if (s->by_id[i] != NULL) {
            size_t j = s->id_hashes[i] & (n_slots - 1);
            while (slots[j] != NULL) /* ids are distinct: the first free slot is its place */
                j = (j + 1) & (n_slots - 1);
            slots[j] = s->by_id[i];
            hashes[j] = s->id_hashes[i];
        }
    free(s->by_id);
    free(s->id_hashes);
    s->by_id = slots;
    s->id_hashes = hashes;
    s->id_slots = n_slots;
    return 0;
}

/* The slot of the record with this idempotency digest, or the empty slot where it would
 * go. Digests are SHA-256 output: their first bytes are already uniform. */
static size_t key_slot(const store_webhook *const *slots, size_t n_slots, const uint8_t *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h));
    size_t i = h & (n_slots - 1);
    while (slots[i] != NULL && memcmp(slots[i]->idempotency, digest, STORE_IDEMPOTENCY_LEN) != 0)
        i = (i + 1) & (n_slots - 1);
    return i;
}

static int grow_keys(store *s)
{
    size_t n_slots = s->key_slots * 2;
    const store_webhook **slots = calloc(n_slots, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < s->key_slots; i++)
        if (s->by_key[i] != NULL)
            slots[key_slot(slots, n_slots, s->by_key[i]->idempotency)] = s->by_key[i];
    free(s->by_key);
    s->by_key = slots;
    s->key_slots = n_slots;
    return 0;
}

static size_t eco_slot(const ecosystem_list *slots, size_t n_slots, const char *name)
{
    size_t i = hash_bytes(name, strlen(name)) & (n_slots - 1);
    while (slots[i].name != NULL && strcmp(slots[i].name, name) != 0)
        i = (i + 1) & (n_slots - 1);
    return i;
}

static int grow_ecosystems(store *s)
{
    size_t n_slots = s->eco_slots * 2;
    ecosystem_list *slots = calloc(n_slots, sizeof(*slots));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < s->eco_slots; i++)
        if (s->ecosystems[i].name != NULL)
            slots[eco_slot(slots, n_slots, s->ecosystems[i].name)] = s->ecosystems[i];
    free(s->ecosystems);
    s->ecosystems = slots;
    s->eco_slots = n_slots;
    return 0;
}

/* The ecosystem's list, created empty if needed; NULL when out of memory. Write lock held. */
static ecosystem_list *ecosystem_get_or_add(store *s, const char *name)
{
    if ((s->n_ecosystems + 1) * 4 > s->eco_slots * 3 && grow_ecosystems(s) != 0)
        return NULL;
    ecosystem_list *e = &s->ecosystems[eco_slot(s->ecosystems, s->eco_slots, name)];
    if (e->name == NULL) {
        if ((e->name = strdup(name)) == NULL)
            return NULL;
        s->n_ecosystems++;
    }
    return e;
}

store_webhook *store_record_new(const store_webhook *w)
{
    size_t le = strlen(w->ecosystem_id) + 1, lu = strlen(w->url) + 1, ls = strlen(w->secret) + 1,
           ld = strlen(w->description) + 1, lk = w->idempotency != NULL ? STORE_IDEMPOTENCY_LEN : 0;
    store_webhook *r = malloc(sizeof(*r) + le + lu + ls + ld + lk);
    if (r == NULL)
        return NULL;
    char *p = (char *)(r + 1);
    *r = *w;
    r->ecosystem_id = memcpy(p, w->ecosystem_id, le), p += le;
    r->url = memcpy(p, w->url, lu), p += lu;
    r->secret = memcpy(p, w->secret, ls), p += ls;
    r->description = memcpy(p, w->description, ld), p += ld;
    if (lk > 0)
        r->idempotency = memcpy(p, w->idempotency, lk);
    return r;
}

void store_record_free(store_webhook *r)
{
    free(r);
}

const store_webhook *store_insert(store *s, const store_webhook *w, error *err)
{
    store_webhook *r = store_record_new(w);
    if (r == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    return store_insert_record(s, r, err);
}

const store_webhook *store_insert_record(store *s, store_webhook *r, error *err)
{
    pthread_mutex_lock(&s->lock);
    ecosystem_list *e = NULL;
    size_t n = s->n, chunk = n / STORE_CHUNK;
    if (chunk == STORE_MAX_CHUNKS) {
        pthread_mutex_unlock(&s->lock);
        free(r);
        error_set(err, ERROR_UNAVAILABLE, "The store is full.");
        return NULL;
    }
    if (s->chunks[chunk] == NULL && (s->chunks[chunk] = malloc(STORE_CHUNK * sizeof(store_webhook *))) == NULL)
        goto oom;
    if ((s->n + 1) * 4 > s->id_slots * 3 && grow_ids(s) != 0)
        goto oom;
    if ((e = ecosystem_get_or_add(s, r->ecosystem_id)) == NULL)
        goto oom;
    if (r->idempotency != NULL && (s->n_keys + 1) * 4 > s->key_slots * 3 && grow_keys(s) != 0)
        goto oom;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        const store_webhook **items = realloc(e->items, cap * sizeof(*items));
        if (items == NULL)
            goto oom;
        e->items = items;
        e->cap = cap;
    }
    uint64_t hash = id_hash(&r->id);
    size_t slot = id_slot(s->by_id, s->id_hashes, s->id_slots, &r->id, hash);
    if (s->by_id[slot] != NULL) {
        pthread_mutex_unlock(&s->lock);
        free(r);
        error_set(err, ERROR_INTERNAL, "Duplicate webhook id.");
        return NULL;
    }
    if (r->idempotency != NULL) {
        /* a digest seen before (its window over, or a replayed journal) now names this one */
        size_t k = key_slot(s->by_key, s->key_slots, r->idempotency);
        s->n_keys += s->by_key[k] == NULL;
        s->by_key[k] = r;
    }
    s->by_id[slot] = r;
    s->id_hashes[slot] = hash;
    s->n++;
    e->items[e->n++] = r;
    s->chunks[chunk][n % STORE_CHUNK] = r;
    atomic_store_explicit(&s->published, n + 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    return r;

oom:
    pthread_mutex_unlock(&s->lock);
    free(r);
    error_set(err, ERROR_INTERNAL, "Out of memory.");
    return NULL;
}

const store_webhook *store_nth(store *s, size_t i)
{
    if (i >= atomic_load_explicit(&s->published, memory_order_acquire))
        return NULL;
    return s->chunks[i / STORE_CHUNK][i % STORE_CHUNK];
}

const store_webhook *store_get(store *s, const objectid *id)
{
    pthread_mutex_lock(&s->lock);
    const store_webhook *r = s->by_id[id_slot(s->by_id, s->id_hashes, s->id_slots, id, id_hash(id))];
    pthread_mutex_unlock(&s->lock);
    return r;
}

const store_webhook *store_get_idempotent(store *s, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    pthread_mutex_lock(&s->lock);
    const store_webhook *r = s->by_key[key_slot(s->by_key, s->key_slots, digest)];
    pthread_mutex_unlock(&s->lock);
    return r;
}

int store_each_in_ecosystem(store *s, const char *ecosystem_id, int (*visit)(const store_webhook *w, void *ctx),
                            void *ctx)
{
    int ret = 0;
    pthread_mutex_lock(&s->lock);
    const ecosystem_list *e = &s->ecosystems[eco_slot(s->ecosystems, s->eco_slots, ecosystem_id)];
    for (size_t i = 0; e->name != NULL && i < e->n && ret == 0; i++)
        ret = visit(e->items[i], ctx);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

size_t store_count(store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}
