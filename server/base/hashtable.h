/* hashtable: the server's one hash table (open addressing, linear probing) and its one hash
 * function for bytes.
 *
 * Items are the caller's pointers; the caller computes each item's hash and says when an
 * item has a key (the `equal` callback). A slot holds the item and its 64-bit hash, so a probe
 * costs one cache miss and reads an item only when the whole hash matches. The table grows
 * without a pause: a new table takes inserts at once and each insert moves a few slots of the
 * old one (lookups read both meanwhile). Removal leaves a tombstone. Sizes are bounded by a
 * limit the caller names; allocation failure is a return value, the table then unchanged.
 * Not thread-safe: a caller that shares a table holds its own lock around every call. */
#ifndef HOOKGATE_HASHTABLE_H
#define HOOKGATE_HASHTABLE_H

#include <stddef.h>
#include <stdint.h>

#define HASHTABLE_LIMIT_MAX (1u << 30) /* most items any table may be asked to hold */

/* Where a table's slot arrays come from. */
typedef struct hashtable_allocator {
    void *(*alloc)(size_t size, void *ctx); /* size zeroed bytes, or NULL when out of memory */
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

/* Embed one and call hashtable_init; the fields are private to hashtable.c. */
typedef struct hashtable {
    hashtable_slot *slots; /* the table inserts go to; NULL before the first insert */
    size_t n_slots;        /* 0 or a power of two, at most max_slots */
    size_t used;           /* slots of `slots` not empty (items and tombstones) */
    hashtable_slot *old;   /* while growing: the previous table, its unmoved items still in place */
    size_t old_slots;      /* its size */
    size_t moved;          /* its slots [0, moved) have been moved (hold no item any more) */
    size_t count;          /* items in both tables */
    size_t limit;          /* count's bound */
    size_t max_slots;      /* the largest table `limit` can need */
    hashtable_equal_fn equal;
    const hashtable_allocator *allocator;
} hashtable;

typedef enum hashtable_result {
    HASHTABLE_OK = 0,
    HASHTABLE_NO_MEMORY = -1, /* the allocator failed; nothing changed */
    HASHTABLE_FULL = -2,      /* the table holds `limit` items; nothing changed */
} hashtable_result;

/* An empty table of at most limit (1..HASHTABLE_LIMIT_MAX) items. Allocates nothing: the
 * first insert does. allocator NULL means hashtable_heap. */
void hashtable_init(hashtable *t, hashtable_equal_fn equal, size_t limit, const hashtable_allocator *allocator);

/* Frees the slot arrays. The items stay the caller's (free them first with hashtable_next);
 * t may be initialised again. */
void hashtable_destroy(hashtable *t);

/* The item with this key (hash = its hash), or NULL. */
void *hashtable_find(const hashtable *t, uint64_t hash, const void *key);

/* Adds item (not NULL) under hash. Its key must not be in the table already (find it first):
 * insert does not compare keys, so a second copy would shadow nothing and never be found
 * by remove. May start a growth (allocates) and moves a few slots of one under way. */
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

/* A 64-bit hash of len bytes, every input bit reaching the low bits that pick a slot.
 * Unkeyed and fast, not collision-resistant: fine for keys the server makes (ids, digests,
 * configured names, pointers); do not insert keys a client chooses freely. Depends on the
 * machine's byte order: never store it. */
uint64_t hashtable_hash_bytes(const void *data, size_t len);

#endif
