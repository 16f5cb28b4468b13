/* store: see store.h.
 *
 * Three open-addressing tables under one lock: records by id, records created with an
 * idempotency digest by that digest, and ecosystems by name, each ecosystem holding a
 * growing array of its records in creation order. Another index keeps
 * every record in insertion order in fixed blocks that never move, so store_nth can read
 * it without the lock. The lock is an adaptive mutex: every section is short, so a waiter
 * spins briefly instead of sleeping in the kernel.
 *
 * With millions of records the cost of an insert is memory, not instructions: a probe of
 * the id table is a cache miss, and every new page of records a page fault. So a slot of
 * the id table holds the id's hash beside the record pointer (one miss per probe, not two),
 * and records live in 2 MiB blocks that the store fills in order and never frees one by
 * one; both the table and the blocks ask for transparent huge pages, which cut the TLB
 * misses and page faults of a large store 512-fold. The id table grows without a pause:
 * a table twice the size takes new ids at once, and each insert then moves a few slots of
 * the old one across (lookups read both meanwhile), so no insert waits for millions of
 * entries to be moved. */
#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP, MADV_HUGEPAGE */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define STORE_INITIAL_SLOTS 1024 /* power of two */
#define STORE_BLOCK (2u << 20)   /* bytes of a record block: one huge page */
#define STORE_BIG (2u << 20)     /* allocations this large are huge-page mappings */
#define STORE_MOVE_PER_INSERT 8  /* old slots moved by each insert while the id table grows */

typedef struct id_slot_entry {
    uint64_t hash;         /* the id's hash: probes read a record only on a match, growth reads none */
    store_webhook *record; /* NULL = empty; never deleted, so no tombstones */
} id_slot_entry;

typedef struct block {
    struct block *next;
    size_t used; /* bytes, this header included */
} block;

typedef struct ecosystem_list {
    char *name;
    const store_webhook **items;
    size_t n, cap;
} ecosystem_list;

struct store {
    pthread_mutex_t lock; /* adaptive: sections are short, so waiting spins before it sleeps */
    id_slot_entry *by_id;
    size_t id_slots, n;
    id_slot_entry *old_ids; /* while growing: the previous table, every entry still in place */
    size_t old_slots, moved; /* its size, and how many of its slots have been moved to by_id */
    block *blocks; /* the newest first; records are carved from its end */
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

/* size zeroed bytes; from STORE_BIG up, a mapping aligned to STORE_BIG (only whole aligned
 * huge pages can back it) that asks for huge pages. NULL when out of memory. Free with
 * big_free and the same size. */
static void *big_calloc(size_t size)
{
    if (size < STORE_BIG)
        return calloc(1, size);
    size_t span = size + STORE_BIG;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *start = (char *)(((uintptr_t)p + STORE_BIG - 1) & ~(uintptr_t)(STORE_BIG - 1));
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (p + span > start + size)
        munmap(start + size, (size_t)(p + span - (start + size)));
    madvise(start, size, MADV_HUGEPAGE); /* advice: refused, the mapping just keeps small pages */
    return start;
}

static void big_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    if (size < STORE_BIG)
        free(p);
    else
        munmap(p, size);
}

store *store_create(void)
{
    store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->id_slots = STORE_INITIAL_SLOTS;
    s->eco_slots = 64;
    s->key_slots = 64;
    s->by_id = big_calloc(s->id_slots * sizeof(*s->by_id));
    s->by_key = calloc(s->key_slots, sizeof(*s->by_key));
    s->ecosystems = calloc(s->eco_slots, sizeof(*s->ecosystems));
    if (s->by_id == NULL || s->by_key == NULL || s->ecosystems == NULL || lock_init(&s->lock) != 0) {
        big_free(s->by_id, s->id_slots * sizeof(*s->by_id));
        free(s->by_key);
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
    for (block *b = s->blocks, *next; b != NULL; b = next) {
        next = b->next;
        big_free(b, b->used > STORE_BLOCK ? b->used : STORE_BLOCK);
    }
    for (size_t c = 0; c < STORE_MAX_CHUNKS && s->chunks[c] != NULL; c++)
        free(s->chunks[c]);
    for (size_t i = 0; i < s->eco_slots; i++) {
        free(s->ecosystems[i].name);
        free(s->ecosystems[i].items);
    }
    big_free(s->by_id, s->id_slots * sizeof(*s->by_id));
    big_free(s->old_ids, s->old_slots * sizeof(*s->old_ids));
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
static size_t id_slot(const id_slot_entry *slots, size_t n_slots, const objectid *id, uint64_t hash)
{
    size_t i = hash & (n_slots - 1);
    while (slots[i].record != NULL && (slots[i].hash != hash || !id_equal(&slots[i].record->id, id)))
        i = (i + 1) & (n_slots - 1);
    return i;
}

/* Moves up to `count` slots of the old table into the new one; frees the old table once
 * every slot has gone. Entries stay in the old table until then, so its probe chains hold
 * for lookups. */
static void move_ids(store *s, size_t count)
{
    for (; count > 0 && s->moved < s->old_slots; count--, s->moved++) {
        const id_slot_entry *e = &s->old_ids[s->moved];
        if (e->record == NULL)
            continue;
        size_t j = e->hash & (s->id_slots - 1);
        while (s->by_id[j].record != NULL) /* ids are distinct: the first free slot is its place */
            j = (j + 1) & (s->id_slots - 1);
        s->by_id[j] = *e;
    }
    if (s->old_ids != NULL && s->moved == s->old_slots) {
        big_free(s->old_ids, s->old_slots * sizeof(*s->old_ids));
        s->old_ids = NULL;
        s->old_slots = s->moved = 0;
    }
}

/* Starts growing into a table twice the size (finishing a growth still under way first,
 * which the insert rate never lets happen: a growth is done after a quarter of the
 * inserts that would start the next). Touches no record. */
static int grow_ids(store *s)
{
    move_ids(s, SIZE_MAX);
    size_t n_slots = s->id_slots * 2;
    id_slot_entry *slots = big_calloc(n_slots * sizeof(*slots));
    if (slots == NULL)
        return -1;
    s->old_ids = s->by_id;
    s->old_slots = s->id_slots;
    s->moved = 0;
    s->by_id = slots;
    s->id_slots = n_slots;
    return 0;
}

/* The record with this id (hash = id_hash(id)) in either table, or NULL. */
static const store_webhook *find_id(const store *s, const objectid *id, uint64_t hash)
{
    const store_webhook *r = s->by_id[id_slot(s->by_id, s->id_slots, id, hash)].record;
    if (r == NULL && s->old_ids != NULL)
        r = s->old_ids[id_slot(s->old_ids, s->old_slots, id, hash)].record;
    return r;
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

/* Bytes of a record and its strings (and digest), laid out as record_copy does. */
static size_t record_size(const store_webhook *w)
{
    return sizeof(*w) + strlen(w->ecosystem_id) + 1 + strlen(w->url) + 1 + strlen(w->secret) + 1 +
           strlen(w->description) + 1 + (w->idempotency != NULL ? STORE_IDEMPOTENCY_LEN : 0);
}

/* Copies w and what it points to into r (record_size(w) bytes); returns r. */
static store_webhook *record_copy(store_webhook *r, const store_webhook *w)
{
    char *p = (char *)(r + 1);
    size_t n;
    *r = *w;
    n = strlen(w->ecosystem_id) + 1, r->ecosystem_id = memcpy(p, w->ecosystem_id, n), p += n;
    n = strlen(w->url) + 1, r->url = memcpy(p, w->url, n), p += n;
    n = strlen(w->secret) + 1, r->secret = memcpy(p, w->secret, n), p += n;
    n = strlen(w->description) + 1, r->description = memcpy(p, w->description, n), p += n;
    if (w->idempotency != NULL)
        r->idempotency = memcpy(p, w->idempotency, STORE_IDEMPOTENCY_LEN);
    return r;
}

store_webhook *store_record_new(const store_webhook *w)
{
    store_webhook *r = malloc(record_size(w));
    return r != NULL ? record_copy(r, w) : NULL;
}

/* Room for size bytes (a record) at the end of the newest block, or in a new one; NULL
 * when out of memory. Lock held. */
static void *block_carve(store *s, size_t size)
{
    size = (size + 7) & ~(size_t)7; /* records stay 8-byte aligned */
    block *b = s->blocks;
    if (b != NULL && b->used + size <= STORE_BLOCK) {
        void *p = (char *)b + b->used;
        b->used += size;
        return p;
    }
    /* a new block; a record larger than a block gets one of its own size */
    size_t bytes = sizeof(block) + size > STORE_BLOCK ? sizeof(block) + size : STORE_BLOCK;
    if ((b = big_calloc(bytes)) == NULL)
        return NULL;
    b->used = sizeof(block) + size;
    if (bytes > STORE_BLOCK && s->blocks != NULL) {
        b->next = s->blocks->next; /* behind the newest, which keeps taking small records */
        s->blocks->next = b;
    } else {
        b->next = s->blocks;
        s->blocks = b;
    }
    return (char *)b + sizeof(block);
}

void store_record_free(store_webhook *r)
{
    free(r);
}

const store_webhook *store_insert(store *s, const store_webhook *w, error *err)
{
    size_t size = record_size(w); /* outside the lock */
    pthread_mutex_lock(&s->lock);
    ecosystem_list *e = NULL;
    store_webhook *r;
    size_t n = s->n, chunk = n / STORE_CHUNK;
    if (chunk == STORE_MAX_CHUNKS) {
        pthread_mutex_unlock(&s->lock);
        error_set(err, ERROR_UNAVAILABLE, "The store is full.");
        return NULL;
    }
    if (s->chunks[chunk] == NULL && (s->chunks[chunk] = malloc(STORE_CHUNK * sizeof(store_webhook *))) == NULL)
        goto oom;
    if ((s->n + 1) * 4 > s->id_slots * 3 && grow_ids(s) != 0)
        goto oom;
    if ((e = ecosystem_get_or_add(s, w->ecosystem_id)) == NULL)
        goto oom;
    if (w->idempotency != NULL && (s->n_keys + 1) * 4 > s->key_slots * 3 && grow_keys(s) != 0)
        goto oom;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        const store_webhook **items = realloc(e->items, cap * sizeof(*items));
        if (items == NULL)
            goto oom;
        e->items = items;
        e->cap = cap;
    }
    uint64_t hash = id_hash(&w->id);
    if (find_id(s, &w->id, hash) != NULL) {
        pthread_mutex_unlock(&s->lock);
        error_set(err, ERROR_INTERNAL, "Duplicate webhook id.");
        return NULL;
    }
    if ((r = block_carve(s, size)) == NULL)
        goto oom;
    record_copy(r, w);
    if (r->idempotency != NULL) {
        /* a digest seen before (its window over, or a replayed journal) now names this one */
        size_t k = key_slot(s->by_key, s->key_slots, r->idempotency);
        s->n_keys += s->by_key[k] == NULL;
        s->by_key[k] = r;
    }
    s->by_id[id_slot(s->by_id, s->id_slots, &w->id, hash)] = (id_slot_entry){hash, r};
    move_ids(s, STORE_MOVE_PER_INSERT);
    s->n++;
    e->items[e->n++] = r;
    s->chunks[chunk][n % STORE_CHUNK] = r;
    atomic_store_explicit(&s->published, n + 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    return r;

oom:
    pthread_mutex_unlock(&s->lock);
    error_set(err, ERROR_INTERNAL, "Out of memory.");
    return NULL;
}

const store_webhook *store_insert_record(store *s, store_webhook *r, error *err)
{
    const store_webhook *stored = store_insert(s, r, err);
    free(r);
    return stored;
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
    const store_webhook *r = find_id(s, id, id_hash(id));
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
