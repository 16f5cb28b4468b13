/* store: see store.h.
 *
 * Three hash tables (hashtable.h) under one lock: records by id, records created with an
 * idempotency digest by that digest, and ecosystems by name, each ecosystem holding a
 * growing array of its records in creation order (so sorted by seq). Another index keeps every record in
 * insertion order in fixed blocks that never move, so store_nth can read it without the
 * lock. The lock is an adaptive mutex: every section is short, so a waiter spins briefly
 * instead of sleeping in the kernel.
 *
 * Lookups by id and by digest take no lock: those two tables are shared (hashtable_share),
 * read inside an epoch section (epoch.h) while the writer holding the lock changes them.
 * That is safe because a record, once carved, never changes (but for its rendering, set
 * once with a release store, store_keep_rendering) and lives until store_destroy:
 * a reader that finds one, even a version being replaced as it reads, holds a whole
 * record. So every event loop reads in parallel with the others and with the writer (the
 * journal's, or a loop's create), and the lock is taken only by writes, pages and walks of
 * an ecosystem.
 *
 * With millions of records the cost of an insert is memory, not instructions: a probe of
 * the id table is a cache miss, and every new page of records a page fault. So the id
 * table's slots hold each id's hash beside the record pointer (one miss per probe) and grow
 * without a pause, records live in 2 MiB blocks that the store fills in order and never
 * frees one by one, and both the id table and the blocks ask for transparent huge pages
 * (hugemem.h), which cut the TLB misses and page faults of a large store 512-fold.
 *
 * An insert either happens whole or not at all: every table reserves its room and every
 * array grows before the record is put anywhere, so no step after the first change fails.
 *
 * An update or a delete carves a new version, with the old one's seq, and puts it where
 * the old one was: in the id table, the digest table (when it named the old one), the
 * ecosystem's array (found by binary search on seq, the array's order; a delete takes it
 * out, so the array stays sorted and a page cursor past it still finds its place by seq)
 * and the insertion-order slot seq (an atomic store, for store_nth's lock-free readers). Nothing is reserved for it, so once the version is carved nothing fails. */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "hashtable.h"
#include "hg_assert.h"
#include "hugemem.h"
#include "mutex.h"

#define STORE_BLOCK HUGEMEM_MIN /* bytes of a record block: one huge page */
#define STORE_MAX_RECORDS ((size_t)STORE_CHUNK * STORE_MAX_CHUNKS)

HG_STATIC_ASSERT(STORE_MAX_RECORDS <= HASHTABLE_LIMIT_MAX,
                 "every record the insertion-order index can hold fits the id table");

#define BLOCK_ROUND(size) (((size) + 7) & ~(size_t)7) /* bytes carved for size: records stay 8-byte aligned */

typedef struct block {
    struct block *next;
    size_t used; /* bytes, this header included */
} block;

typedef struct ecosystem_list {
    const store_webhook **items;
    size_t n, cap;
    char name[]; /* NUL-terminated */
} ecosystem_list;

struct store {
    pthread_mutex_t lock;                     /* adaptive: sections are short, so waiting spins before it sleeps */
    hashtable by_id;                          /* store_webhook by id; on huge pages once large */
    hashtable by_key;                         /* store_webhook by idempotency digest: the newest with it */
    hashtable ecosystems;                     /* ecosystem_list by name */
    block *blocks;                            /* the newest first; records are carved from its end */
    store_webhook **chunks[STORE_MAX_CHUNKS]; /* insertion order; a block is never moved */
    atomic_size_t published;                  /* records visible through store_nth */
    atomic_size_t live;                       /* records that are not tombstones; written under the lock */
    atomic_size_t rendering_budget;           /* bytes renderings may take (store_limit_renderings) */
    atomic_size_t rendering_bytes;            /* what they take, each rounded as carved; written under the lock */
};

HG_STATIC_ASSERT(offsetof(store_webhook, rendering) + sizeof(const store_rendering *) == sizeof(store_webhook),
                 "store_record_fields copies everything before the rendering: it is the last field");

static int id_equal(const void *item, const void *key)
{
    const objectid *a = &((const store_webhook *)item)->id, *b = key;
    uint64_t a1, b1;
    uint32_t a2, b2;
    memcpy(&a1, a->bytes, 8), memcpy(&b1, b->bytes, 8);
    memcpy(&a2, a->bytes + 8, 4), memcpy(&b2, b->bytes + 8, 4);
    return a1 == b1 && a2 == b2;
}

static int digest_equal(const void *item, const void *key)
{
    return memcmp(((const store_webhook *)item)->idempotency, key, STORE_IDEMPOTENCY_LEN) == 0;
}

static int ecosystem_equal(const void *item, const void *key)
{
    return strcmp(((const ecosystem_list *)item)->name, key) == 0;
}

static uint64_t id_hash(const objectid *id)
{
    return hashtable_hash_bytes(id->bytes, OBJECTID_LEN);
}

static uint64_t digest_hash(const uint8_t *digest)
{
    return hashtable_hash_bytes(digest, STORE_IDEMPOTENCY_LEN);
}

static uint64_t name_hash(const char *name)
{
    return hashtable_hash_bytes(name, strlen(name));
}

store *store_create(void)
{
    store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (mutex_init_adaptive(&s->lock) != 0) {
        free(s);
        return NULL;
    }
    hashtable_init(&s->by_id, id_equal, STORE_MAX_RECORDS, &hashtable_huge);
    hashtable_init(&s->by_key, digest_equal, STORE_MAX_RECORDS, NULL);
    hashtable_share(&s->by_id);
    hashtable_share(&s->by_key);
    hashtable_init(&s->ecosystems, ecosystem_equal, STORE_MAX_RECORDS, NULL);
    atomic_init(&s->rendering_budget, STORE_RENDERINGS_DEFAULT);
    return s;
}

void store_limit_renderings(store *s, size_t bytes)
{
    atomic_store_explicit(&s->rendering_budget, bytes, memory_order_relaxed);
}

size_t store_rendering_bytes(store *s)
{
    return atomic_load_explicit(&s->rendering_bytes, memory_order_relaxed);
}

/* 1 when a rendering of size bytes (as carved) fits the budget beside those kept. */
static int rendering_fits(store *s, size_t size)
{
    size_t budget = atomic_load_explicit(&s->rendering_budget, memory_order_relaxed),
           used = atomic_load_explicit(&s->rendering_bytes, memory_order_relaxed);
    return used <= budget && size <= budget - used;
}

void store_destroy(store *s)
{
    if (s == NULL)
        return;
    for (block *b = s->blocks, *next; b != NULL; b = next) {
        next = b->next;
        hugemem_free(b, b->used > STORE_BLOCK ? b->used : STORE_BLOCK);
    }
    for (size_t c = 0; c < STORE_MAX_CHUNKS && s->chunks[c] != NULL; c++)
        free(s->chunks[c]);
    size_t cursor = 0;
    for (ecosystem_list *e; (e = hashtable_next(&s->ecosystems, &cursor)) != NULL;) {
        free(e->items);
        free(e);
    }
    hashtable_destroy(&s->by_id);
    hashtable_destroy(&s->by_key);
    hashtable_destroy(&s->ecosystems);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The ecosystem's list, created empty if needed; NULL when out of memory. Lock held. An
 * empty list left behind by an insert that fails later is harmless. */
static ecosystem_list *ecosystem_get_or_add(store *s, const char *name, uint64_t hash)
{
    ecosystem_list *e = hashtable_find_inline(&s->ecosystems, hash, name, ecosystem_equal);
    if (e != NULL)
        return e;
    size_t len = strlen(name);
    if (hashtable_reserve(&s->ecosystems) != HASHTABLE_OK || (e = calloc(1, sizeof(*e) + len + 1)) == NULL)
        return NULL;
    memcpy(e->name, name, len + 1);
    hashtable_result reserved = hashtable_insert(&s->ecosystems, hash, e);
    HG_ASSERT(reserved == HASHTABLE_OK);
    return e;
}

/* The lengths of a record's strings, each with its NUL, as record_size and record_copy use them. */
typedef struct record_lengths {
    size_t ecosystem_id, url, secret, description, disabled_reason;
} record_lengths;

static record_lengths record_measure(const store_webhook *w)
{
    return (record_lengths){strlen(w->ecosystem_id) + 1, strlen(w->url) + 1, strlen(w->secret) + 1,
                            strlen(w->description) + 1, (w->disabled_reason != NULL ? strlen(w->disabled_reason) : 0) + 1};
}

/* Bytes of a record and its strings (and digest), laid out as record_copy does. */
static size_t record_size(const store_webhook *w, const record_lengths *n)
{
    return sizeof(*w) + n->ecosystem_id + n->url + n->secret + n->description + n->disabled_reason +
           (w->idempotency != NULL ? STORE_IDEMPOTENCY_LEN : 0) + (w->sealed_secret != NULL ? w->sealed_secret_len : 0);
}

/* Copies w and what it points to into r (record_size(w, n) bytes); returns r. */
static store_webhook *record_copy(store_webhook *r, const store_webhook *w, const record_lengths *n)
{
    char *p = (char *)(r + 1);
    *r = *w;
    r->rendering = NULL; /* the version's own, kept when it is first shown */
    r->ecosystem_id = memcpy(p, w->ecosystem_id, n->ecosystem_id), p += n->ecosystem_id;
    r->url = memcpy(p, w->url, n->url), p += n->url;
    r->secret = memcpy(p, w->secret, n->secret), p += n->secret;
    r->description = memcpy(p, w->description, n->description), p += n->description;
    r->disabled_reason = memcpy(p, w->disabled_reason != NULL ? w->disabled_reason : "", n->disabled_reason),
    p += n->disabled_reason;
    if (w->idempotency != NULL)
        r->idempotency = memcpy(p, w->idempotency, STORE_IDEMPOTENCY_LEN), p += STORE_IDEMPOTENCY_LEN;
    HG_ASSERT(w->sealed_secret == NULL || (w->secret[0] == '\0' && w->sealed_secret_len > 0));
    if (w->sealed_secret != NULL)
        r->sealed_secret = memcpy(p, w->sealed_secret, w->sealed_secret_len);
    else
        r->sealed_secret_len = 0;
    return r;
}

store_webhook *store_record_new(const store_webhook *w)
{
    record_lengths n = record_measure(w);
    store_webhook *r = malloc(record_size(w, &n));
    return r != NULL ? record_copy(r, w, &n) : NULL;
}

/* Room for size bytes (a record) at the end of the newest block, or in a new one; NULL
 * when out of memory. Lock held. */
static void *block_carve(store *s, size_t size)
{
    size = BLOCK_ROUND(size);
    block *b = s->blocks;
    if (b != NULL && b->used + size <= STORE_BLOCK) {
        void *p = (char *)b + b->used;
        b->used += size;
        return p;
    }
    /* a new block; a record larger than a block gets one of its own size */
    size_t bytes = sizeof(block) + size > STORE_BLOCK ? sizeof(block) + size : STORE_BLOCK;
    if ((b = hugemem_calloc(bytes)) == NULL)
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
    record_lengths lengths = record_measure(w); /* outside the lock */
    size_t size = record_size(w, &lengths);
    uint64_t hash = id_hash(&w->id), eco_hash = name_hash(w->ecosystem_id);
    uint64_t key_hash = w->idempotency != NULL ? digest_hash(w->idempotency) : 0;
    pthread_mutex_lock(&s->lock);
    ecosystem_list *e = NULL;
    store_webhook *r;
    size_t n = hashtable_count(&s->by_id), chunk = n / STORE_CHUNK;
    if (chunk == STORE_MAX_CHUNKS) {
        pthread_mutex_unlock(&s->lock);
        error_set(err, ERROR_UNAVAILABLE, "The store is full.");
        return NULL;
    }
    if (s->chunks[chunk] == NULL && (s->chunks[chunk] = malloc(STORE_CHUNK * sizeof(store_webhook *))) == NULL)
        goto oom;
    hashtable_result room = hashtable_reserve(&s->by_id);
    HG_ASSERT(room != HASHTABLE_FULL); /* n < STORE_MAX_RECORDS, its limit: only memory fails */
    if (room != HASHTABLE_OK)
        goto oom;
    if ((e = ecosystem_get_or_add(s, w->ecosystem_id, eco_hash)) == NULL)
        goto oom;
    if (w->idempotency != NULL && hashtable_reserve(&s->by_key) != HASHTABLE_OK)
        goto oom;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        const store_webhook **items = realloc(e->items, cap * sizeof(*items));
        if (items == NULL)
            goto oom;
        e->items = items;
        e->cap = cap;
    }
    if (hashtable_find_inline(&s->by_id, hash, &w->id, id_equal) != NULL) {
        pthread_mutex_unlock(&s->lock);
        error_set(err, ERROR_CONFLICT, "Duplicate webhook id.");
        return NULL;
    }
    if ((r = block_carve(s, size)) == NULL)
        goto oom;
    /* from here on nothing fails: the tables have reserved their room */
    record_copy(r, w, &lengths);
    r->seq = n;
    hashtable_result reserved = hashtable_insert(&s->by_id, hash, r);
    HG_ASSERT(reserved == HASHTABLE_OK);
    /* a digest seen before (its window over, or a replayed journal) now names this one */
    if (r->idempotency != NULL && hashtable_replace(&s->by_key, key_hash, r->idempotency, r) == NULL) {
        reserved = hashtable_insert(&s->by_key, key_hash, r);
        HG_ASSERT(reserved == HASHTABLE_OK);
    }
    if (!r->deleted) {
        e->items[e->n++] = r;
        atomic_fetch_add_explicit(&s->live, 1, memory_order_relaxed);
    }
    s->chunks[chunk][n % STORE_CHUNK] = r;
    atomic_store_explicit(&s->published, n + 1, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    epoch_collect(); /* a table this insert's growth left behind, once no reader holds it */
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

/* The index in e->items of its first record whose seq is above seq: items are sorted by it. */
static size_t first_after(const ecosystem_list *e, uint64_t seq)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->items[mid]->seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Puts version `next` of the live record `old` in its place everywhere (next->deleted: a
 * tombstone, which leaves the ecosystem's array). Lock held; never fails. */
static void version_replace(store *s, const store_webhook *old, store_webhook *next)
{
    HG_ASSERT(!old->deleted && next->seq == old->seq && id_equal(old, &next->id));
    void *was = hashtable_replace(&s->by_id, id_hash(&old->id), &old->id, next);
    HG_ASSERT(was == old);
    if (old->idempotency != NULL) {
        uint64_t key_hash = digest_hash(old->idempotency);
        if (hashtable_find_inline(&s->by_key, key_hash, old->idempotency, digest_equal) == old)
            hashtable_replace(&s->by_key, key_hash, old->idempotency, next);
    }
    ecosystem_list *e = hashtable_find_inline(&s->ecosystems, name_hash(old->ecosystem_id), old->ecosystem_id,
                                              ecosystem_equal);
    HG_ASSERT(e != NULL);
    /* its place: the array is sorted by seq, and old's seq is in it */
    size_t at = first_after(e, old->seq) - 1;
    HG_ASSERT(at < e->n && e->items[at] == old);
    if (next->deleted) {
        memmove(&e->items[at], &e->items[at + 1], (e->n - at - 1) * sizeof(*e->items));
        e->n--;
        atomic_fetch_sub_explicit(&s->live, 1, memory_order_relaxed);
    } else {
        e->items[at] = next;
    }
    /* release: a lock-free store_nth reader sees the version's bytes before its pointer */
    __atomic_store_n(&s->chunks[old->seq / STORE_CHUNK][old->seq % STORE_CHUNK], next, __ATOMIC_RELEASE);
}

/* Carves the new version of `old` that `w` describes and puts it in old's place. NULL with
 * err set when there is no live `old` or no memory. Lock held. */
static const store_webhook *version_add(store *s, const store_webhook *old, const store_webhook *w, error *err)
{
    if (old == NULL || old->deleted) {
        error_set(err, ERROR_NOT_FOUND, "No such webhook.");
        return NULL;
    }
    record_lengths n = record_measure(w);
    store_webhook *next = block_carve(s, record_size(w, &n));
    if (next == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    record_copy(next, w, &n);
    next->seq = old->seq; /* its place in insertion order, and so in the ecosystem's pages */
    version_replace(s, old, next);
    return next;
}

const store_webhook *store_update(store *s, const objectid *id, const store_changes *changes, error *err)
{
    HG_ASSERT((changes->sets & ~STORE_SET_ALL) == 0);
    HG_ASSERT(!(changes->sets & STORE_SET_URL) || changes->url != NULL);
    HG_ASSERT(!(changes->sets & STORE_SET_SECRET) || changes->secret != NULL);
    HG_ASSERT(!(changes->sets & STORE_SET_DESCRIPTION) || changes->description != NULL);
    uint64_t hash = id_hash(id);
    pthread_mutex_lock(&s->lock);
    const store_webhook *old = hashtable_find_inline(&s->by_id, hash, id, id_equal);
    const store_webhook *next = NULL;
    if (old == NULL || old->deleted) {
        error_set(err, ERROR_NOT_FOUND, "No such webhook.");
    } else {
        store_webhook w = *old; /* the strings stay old's until copied into the new version */
        if (changes->sets & STORE_SET_URL)
            w.url = changes->url;
        if (changes->sets & STORE_SET_SECRET) { /* the new secret replaces both forms of the old */
            w.secret = changes->secret;
            w.sealed_secret = changes->sealed_secret;
            w.sealed_secret_len = changes->sealed_secret != NULL ? changes->sealed_secret_len : 0;
        }
        if (changes->sets & STORE_SET_DESCRIPTION)
            w.description = changes->description;
        if (changes->sets & STORE_SET_DISABLED) {
            w.disabled = changes->disabled != 0;
            w.disabled_reason = changes->disabled_reason != NULL ? changes->disabled_reason : "";
            w.disabled_ms = changes->disabled_reason != NULL ? changes->disabled_ms : 0;
        }
        next = version_add(s, old, &w, err);
    }
    pthread_mutex_unlock(&s->lock);
    epoch_collect(); /* as store_insert: every write frees what readers have let go of */
    return next;
}

const store_webhook *store_delete(store *s, const objectid *id, error *err)
{
    uint64_t hash = id_hash(id);
    pthread_mutex_lock(&s->lock);
    const store_webhook *old = hashtable_find_inline(&s->by_id, hash, id, id_equal);
    const store_webhook *next = NULL;
    if (old == NULL || old->deleted) {
        error_set(err, ERROR_NOT_FOUND, "No such webhook.");
    } else {
        store_webhook w = *old;
        w.deleted = 1;
        next = version_add(s, old, &w, err);
    }
    pthread_mutex_unlock(&s->lock);
    epoch_collect(); /* as store_insert: every write frees what readers have let go of */
    return next;
}

const store_webhook *store_nth(store *s, size_t i)
{
    if (i >= atomic_load_explicit(&s->published, memory_order_acquire))
        return NULL;
    return __atomic_load_n(&s->chunks[i / STORE_CHUNK][i % STORE_CHUNK], __ATOMIC_ACQUIRE);
}

size_t store_slots(store *s)
{
    return atomic_load_explicit(&s->published, memory_order_acquire);
}

store_webhook store_record_fields(const store_webhook *w)
{
    store_webhook copy;
    memcpy(&copy, w, offsetof(store_webhook, rendering));
    copy.rendering = NULL;
    return copy;
}

/* 1 when p lies in one of s's blocks (a record the store carved). Lock held. */
static int carved_here(const store *s, const void *p)
{
    for (const block *b = s->blocks; b != NULL; b = b->next)
        if ((const char *)p >= (const char *)b + sizeof(block) && (const char *)p < (const char *)b + b->used)
            return 1;
    return 0;
}

void store_keep_rendering(store *s, const store_webhook *w, const char *bytes, size_t len)
{
    HG_ASSERT(len > 0);
    size_t size = BLOCK_ROUND(sizeof(store_rendering) + len);
    /* a reader does not wait for the lock: a full budget (or 0) is seen without it, and a
     * lock another thread holds means the text is kept at a later showing instead */
    if (len > STORE_RENDERING_MAX || store_rendering_of(w) != NULL || !rendering_fits(s, size) ||
        pthread_mutex_trylock(&s->lock) != 0)
        return;
    HG_ASSERT(carved_here(s, w)); /* the rendering lives as long as w: w must be the store's own */
    store_rendering *r = w->rendering == NULL && rendering_fits(s, size) ? block_carve(s, size) : NULL;
    if (r != NULL) { /* (over the budget or out of memory: not kept, and shown by writing it again) */
        atomic_fetch_add_explicit(&s->rendering_bytes, size, memory_order_relaxed);
        r->len = len;
        memcpy(r->bytes, bytes, len);
        /* release: a lock-free reader sees the bytes before the pointer; the record is the
         * store's own memory, const only to its readers */
        __atomic_store_n(&((store_webhook *)w)->rendering, r, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Lock-free lookups: a record stays whole after the section; only the tables need it. */
const store_webhook *store_get(store *s, const objectid *id)
{
    uint64_t hash = id_hash(id);
    epoch_enter();
    const store_webhook *r = hashtable_find_shared(&s->by_id, hash, id, id_equal);
    epoch_exit();
    return r != NULL && !r->deleted ? r : NULL;
}

const store_webhook *store_get_idempotent(store *s, const uint8_t digest[STORE_IDEMPOTENCY_LEN])
{
    uint64_t hash = digest_hash(digest);
    epoch_enter();
    const store_webhook *r = hashtable_find_shared(&s->by_key, hash, digest, digest_equal);
    epoch_exit();
    return r;
}

int store_each_in_ecosystem(store *s, const char *ecosystem_id, int (*visit)(const store_webhook *w, void *ctx),
                            void *ctx)
{
    int ret = 0;
    uint64_t hash = name_hash(ecosystem_id);
    pthread_mutex_lock(&s->lock);
    const ecosystem_list *e = hashtable_find_inline(&s->ecosystems, hash, ecosystem_id, ecosystem_equal);
    for (size_t i = 0; e != NULL && i < e->n && ret == 0; i++)
        ret = visit(e->items[i], ctx);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

size_t store_page(store *s, const char *ecosystem_id, const store_cursor *after, const store_webhook **out, size_t max,
                  int *more)
{
    uint64_t hash = name_hash(ecosystem_id);
    uint64_t id_h = after != NULL ? id_hash(&after->id) : 0;
    size_t n = 0;
    *more = 0;
    pthread_mutex_lock(&s->lock);
    const ecosystem_list *e = hashtable_find_inline(&s->ecosystems, hash, ecosystem_id, ecosystem_equal);
    if (e != NULL) {
        size_t start = 0;
        if (after != NULL) {
            const store_webhook *last = hashtable_find_inline(&s->by_id, id_h, &after->id, id_equal);
            /* the id names the place exactly while its record is here and of this ecosystem */
            uint64_t seq = last != NULL && strcmp(last->ecosystem_id, ecosystem_id) == 0 ? last->seq : after->seq;
            start = first_after(e, seq);
        }
        for (size_t i = start; i < e->n && n < max; i++)
            out[n++] = e->items[i];
        *more = start + n < e->n;
    }
    pthread_mutex_unlock(&s->lock);
    HG_ASSERT(n <= max);
    return n;
}

size_t store_count(store *s)
{
    return atomic_load_explicit(&s->live, memory_order_relaxed);
}
