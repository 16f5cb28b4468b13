/* hashtable: the server's one hash table (open addressing, linear probing) and its one hash
 * function for bytes.
 *
 * Items are the caller's pointers; the caller computes each item's hash and says when an
 * item has a key (the `equal` callback). A slot holds the item and its 64-bit hash, so a probe
 * costs one cache miss and reads an item only when the whole hash matches. The table grows
 * without a pause: a new table takes inserts at once and each insert moves a few slots of the
 * old one (lookups read both meanwhile). Removal leaves a tombstone. Sizes are bounded by a
 * limit the caller names; allocation failure is a return value, the table then unchanged.
 * Not thread-safe: a caller that shares a table holds its own lock around every call,
 * except for the lookups of a table made shared (hashtable_share), which need no lock. */
#ifndef HOOKGATE_HASHTABLE_H
#define HOOKGATE_HASHTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "epoch.h"
#include "hg_assert.h"

#define HASHTABLE_LIMIT_MAX (1u << 30) /* most items any table may be asked to hold */

/* Where a table's slot arrays come from. */
typedef struct hashtable_allocator {
    void *(*alloc)(size_t size, void *ctx);        /* size zeroed bytes, or NULL when out of memory */
    void (*free)(void *p, size_t size, void *ctx); /* p from alloc with the same size; never NULL */
    void *ctx;
} hashtable_allocator;

extern const hashtable_allocator hashtable_heap; /* calloc and free: the default */
extern const hashtable_allocator hashtable_huge; /* hugemem: slot arrays from 2 MiB on transparent huge pages */

/* 1 when item has this key. Called only for an item whose stored hash equals the key's. */
typedef int (*hashtable_equal_fn)(const void *item, const void *key);

typedef struct hashtable_slot {
    uint64_t hash;
    void *item; /* NULL: empty; hashtable.c's tombstone: removed */
} hashtable_slot;

/* What a shared table's lock-free readers probe: the table, and while it grows the old one
 * first. Immutable once published; a growth publishes a new one. Private to hashtable.c. */
typedef struct hashtable_view {
    epoch_node retired;
    hashtable_slot *slots, *old;
    size_t n_slots, old_slots;
    const struct hashtable_allocator *allocator; /* with old: retiring the view frees the old table */
} hashtable_view;

/* Embed one and call hashtable_init; the fields are private to hashtable.c. */
typedef struct hashtable {
    hashtable_slot *slots; /* the table inserts go to; before the first insert, one shared empty slot */
    size_t n_slots;        /* a power of two, at most max_slots (1 for the shared empty slot) */
    size_t used;           /* slots of `slots` not empty (items and tombstones) */
    hashtable_slot *old;   /* while growing: the previous table, its unmoved items still in place */
    size_t old_slots;      /* its size */
    size_t moved;          /* its slots [0, moved) have been moved (hold no item any more) */
    size_t count;          /* items in both tables */
    size_t limit;          /* count's bound */
    size_t max_slots;      /* the largest table `limit` can need */
    hashtable_equal_fn equal;
    const hashtable_allocator *allocator;
    hashtable_view *view;      /* shared tables only (else NULL): what readers probe, read atomically */
    hashtable_view *view_done; /* shared, while growing: the view that ends the growth, made in advance */
} hashtable;

typedef enum hashtable_result {
    HASHTABLE_OK = 0,
    HASHTABLE_NO_MEMORY = -1, /* the allocator failed; nothing changed */
    HASHTABLE_FULL = -2,      /* the table holds `limit` items; nothing changed */
} hashtable_result;

/* An empty table of at most limit (1..HASHTABLE_LIMIT_MAX) items. Allocates nothing: the
 * first insert does. allocator NULL means hashtable_heap. */
void hashtable_init(hashtable *t, hashtable_equal_fn equal, size_t limit, const hashtable_allocator *allocator);

/* Makes the table shared: hashtable_find_shared may then run on any thread, without the
 * lock its writers hold, while one writer at a time changes it. The price: hashtable_remove
 * is not allowed (a reader could miss an item a removal's emptied slot cut off from its
 * probe chain) and a growth allocates two small views. A growth's old table is retired
 * (epoch.h): the writer calls epoch_collect after it lets go of its lock. Call it before
 * the first insert. */
void hashtable_share(hashtable *t);

/* Frees the slot arrays. The items stay the caller's (free them first with hashtable_next);
 * t may be initialised again. */
void hashtable_destroy(hashtable *t);

/* The item with this key (hash = its hash), or NULL. */
void *hashtable_find(const hashtable *t, uint64_t hash, const void *key);

/* hashtable_find for the few lookups hot enough to count instructions (the store's): the
 * probe is compiled into the caller with `equal`, which must be the table's own, named at
 * the call site so that it is inlined too. Defined below. */
static inline void *hashtable_find_inline(const hashtable *t, uint64_t hash, const void *key, hashtable_equal_fn equal);

/* hashtable_find_inline for a shared table, without its writers' lock, inside an epoch
 * read section (epoch.h): what it returns is an item present at some moment of the call
 * (the items themselves are the caller's to keep alive). Defined below. */
static inline void *hashtable_find_shared(const hashtable *t, uint64_t hash, const void *key, hashtable_equal_fn equal);

/* Makes room for one insert: HASHTABLE_FULL at the limit, else starts a growth now if the
 * next insert would (HASHTABLE_NO_MEMORY when that fails). After HASHTABLE_OK the next
 * hashtable_insert cannot fail, so a caller that must not be left half-done (an item in one
 * table and not another) reserves in every table before it inserts in any. */
hashtable_result hashtable_reserve(hashtable *t);

/* Adds item (not NULL) under hash. Its key must not be in the table already (find it
 * first): insert compares no keys, and with two items of one key find, replace and remove
 * would each act on either. May start a growth (allocates), and moves a few slots of a
 * growth under way. */
hashtable_result hashtable_insert(hashtable *t, uint64_t hash, void *item);

/* Puts item (with the same key and hash) where the item with this key was, and returns
 * that one; NULL when the key is absent (nothing changed). Never allocates. */
void *hashtable_replace(hashtable *t, uint64_t hash, const void *key, void *item);

/* Removes the item with this key and returns it, or NULL when absent. Never allocates. */
void *hashtable_remove(hashtable *t, uint64_t hash, const void *key);

/* How many items the table holds. */
size_t hashtable_count(const hashtable *t);

/* Iteration: start with *cursor = 0; each call returns the next item, NULL after the last.
 * Order is unspecified. Removing the item just returned is allowed; an insert during the
 * iteration may move items past the cursor or before it (skipped or seen twice). */
void *hashtable_next(const hashtable *t, size_t *cursor);

/* Checks every invariant by walking all slots (HG_ASSERT on failure): for tests, O(slots). */
void hashtable_verify(const hashtable *t);

/* --- inline definitions: not part of the interface ---------------------------------------- */

extern const char hashtable_tombstone; /* its address marks a removed item's slot */

/* The slot holding the item with this key in one table, or NULL. Every table keeps an empty
 * slot (its load is at most 3/4), which ends the probe; a tombstone never matches. */
static inline hashtable_slot *hashtable_probe_(hashtable_slot *slots, size_t n_slots, uint64_t hash, const void *key,
                                               hashtable_equal_fn equal)
{
    size_t mask = n_slots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        void *item = slots[i].item;
        if (item == NULL)
            return NULL;
        if (slots[i].hash == hash && item != (const void *)&hashtable_tombstone && equal(item, key))
            return &slots[i];
    }
}

static inline void *hashtable_find_inline(const hashtable *t, uint64_t hash, const void *key, hashtable_equal_fn equal)
{
    HG_ASSERT(equal == t->equal);
    const hashtable_slot *s = hashtable_probe_(t->slots, t->n_slots, hash, key, equal);
    if (s == NULL && t->old != NULL) /* growing: not moved yet */
        s = hashtable_probe_(t->old, t->old_slots, hash, key, equal);
    return s != NULL ? s->item : NULL;
}

/* hashtable_probe_ against a writer: each slot's item is read first (acquire: the writer
 * stores the hash before it, with release), its hash after. */
static inline void *hashtable_probe_shared_(const hashtable_slot *slots, size_t n_slots, uint64_t hash,
                                            const void *key, hashtable_equal_fn equal)
{
    size_t mask = n_slots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        void *item = __atomic_load_n(&slots[i].item, __ATOMIC_ACQUIRE);
        if (item == NULL)
            return NULL;
        if (item != (const void *)&hashtable_tombstone && __atomic_load_n(&slots[i].hash, __ATOMIC_RELAXED) == hash &&
            equal(item, key))
            return item;
    }
}

/* The old table is probed before the new one: a move writes the item into the new one
 * before it leaves a tombstone in the old, so a reader that passes the tombstone finds the
 * item in the new table. A growth that starts after the view was read moves items out of
 * the tables it names: a miss is then retried with the newer view. */
static inline void *hashtable_find_shared(const hashtable *t, uint64_t hash, const void *key, hashtable_equal_fn equal)
{
    HG_ASSERT(equal == t->equal);
    const hashtable_view *v = __atomic_load_n(&t->view, __ATOMIC_ACQUIRE), *now;
    HG_ASSERT(v != NULL); /* a shared table (hashtable_share) */
    for (;; v = now) {
        void *item = v->old != NULL ? hashtable_probe_shared_(v->old, v->old_slots, hash, key, equal) : NULL;
        if (item == NULL)
            item = hashtable_probe_shared_(v->slots, v->n_slots, hash, key, equal);
        if (item != NULL || (now = __atomic_load_n(&t->view, __ATOMIC_ACQUIRE)) == v)
            return item;
    }
}

/* A 64-bit hash of len bytes, every input bit reaching the low bits that pick a slot.
 * Unkeyed and fast, not collision-resistant: fine for keys the server makes (ids, digests,
 * configured names, pointers); do not insert keys a client chooses freely. Depends on the
 * machine's byte order: never store it. Inline, so that a fixed length (an id, a digest)
 * compiles to a few multiplications without a loop. */
static inline uint64_t hashtable_hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    uint64_t h = (0x9e3779b97f4a7c15ull ^ len) * 0xbf58476d1ce4e5b9ull, w;
    for (; len > 8; len -= 8, p += 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull; /* odd multiplier: a bijection, so words never cancel */
    }
    /* the last 1 to 8 bytes (fewer only for shorter inputs), read without a loop: two
     * overlapping 4-byte words from 4 bytes on, else the first, middle and last byte */
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + len - 4, 4);
        w = (uint64_t)a << 32 | b;
    } else if (len > 0) {
        w = (uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1];
    } else {
        w = 0;
    }
    /* splitmix64's finalizer: the low bits, which pick the slot, depend on every input bit */
    h ^= w;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

#endif
