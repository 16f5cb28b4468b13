/* hashtable: see hashtable.h.
 *
 * Growth. When an insert would take the table past 3/4 full (items and tombstones), a new
 * table is allocated: twice the size when the items fill more than half of that load (3/8
 * of the slots), else the same size (then it only sheds tombstones). The new table takes
 * inserts at once; each insert then moves HASHTABLE_MOVE_PER_INSERT slots of the old one
 * across, in slot order, leaving a tombstone behind each item it moves. Every item is thus
 * in exactly one of the two tables, lookups and removals read the new one and then the old
 * one, and the old table's probe chains stay intact (only tombstones and emptiness ever
 * appear in it). No insert ever waits for more than a few slots to move.
 *
 * Why a growth always finishes before the next one starts (asserted in grow): a growth
 * starts with at most 3/4 of the old slots holding items. Doubling, the new table then
 * holds at most 3/4 S_old + S_old / MOVE_PER_INSERT = 7/8 S_old after the last move, well
 * under its trigger (3/4 of 2 S_old). At the same size, it starts with at most 3/8 S items
 * and ends with at most 3/8 S + S / MOVE_PER_INSERT = S/2 < 3/4 S. Removals turn items into
 * tombstones and add nothing, so neither bound moves.
 *
 * Removal leaves a tombstone, which keeps the probe chains that pass the slot intact and is
 * reused by a later insert. Not backward-shift deletion: during a growth it would shift
 * unmoved items of the old table behind the migration cursor, where they would never be
 * moved. When the next slot is empty no chain passes, and the slot is emptied instead (most
 * removals in a sparse table), so a set that churns (idempotency's in-flight creates)
 * rarely needs a rehash; tombstones count towards the load that starts one.
 *
 * Shared tables. Their readers take no lock, so every change a reader can see is one
 * atomic store of a slot's item (release, after its hash), and slots only ever go from
 * empty to an item, from an item to another with its key (replace), or from an item to a
 * tombstone in an old table (a move). Nothing makes a slot empty again (no removal), so a
 * probe chain a reader walks never breaks under it. What a reader probes is a view
 * (hashtable_view): a growth publishes one naming both tables when it starts, and one
 * naming only the new table when it ends. A view or old table that readers may still hold
 * is handed to epoch_retire: the view of a growth's start, retired at its end, takes the old
 * table with it. */
#include "hashtable.h"

#include <stdlib.h>
#include <string.h>

#include "hg_assert.h"
#include "hugemem.h"

#define HASHTABLE_MIN_SLOTS 16      /* the first table's size; a power of two */
#define HASHTABLE_MOVE_PER_INSERT 8 /* old slots moved by each insert while growing */

/* The load bound is 3/4 of the slots and a same-size rehash needs items <= 3/8 of them;
 * a growth must end within S / MOVE_PER_INSERT inserts having added at most 3/8 S: */
HG_STATIC_ASSERT(HASHTABLE_MOVE_PER_INSERT * 3 >= 8, "a growth must finish before the next one starts");
HG_STATIC_ASSERT((HASHTABLE_MIN_SLOTS & (HASHTABLE_MIN_SLOTS - 1)) == 0, "table sizes are powers of two");
HG_STATIC_ASSERT(SIZE_MAX / sizeof(hashtable_slot) / 4 >= (uint64_t)HASHTABLE_LIMIT_MAX * 3,
                 "the largest table's byte size fits a size_t");

const char hashtable_tombstone;

/* The table of a hashtable before its first insert: one empty slot, so that a lookup needs no
 * test for "no table yet". Never written: the first insert finds it over its load and grows. */
static hashtable_slot no_slots[1];
/* A shared table's view before its first insert: never retired. */
static hashtable_view no_view = {.slots = no_slots, .n_slots = 1};
#define TOMBSTONE ((void *)&hashtable_tombstone) /* a removed item: probes pass it, inserts may reuse it */

static void *heap_alloc(size_t size, void *ctx)
{
    (void)ctx;
    return calloc(1, size);
}

static void heap_free(void *p, size_t size, void *ctx)
{
    (void)size, (void)ctx;
    free(p);
}

static void *huge_alloc(size_t size, void *ctx)
{
    (void)ctx;
    return hugemem_calloc(size);
}

static void huge_free(void *p, size_t size, void *ctx)
{
    (void)ctx;
    hugemem_free(p, size);
}

const hashtable_allocator hashtable_heap = {heap_alloc, heap_free, NULL};
const hashtable_allocator hashtable_huge = {huge_alloc, huge_free, NULL};

static int is_item(const void *item)
{
    return item != NULL && item != TOMBSTONE;
}

/* Items and tombstones (used) may fill at most 3/4 of a table's slots. */
static int over_load(size_t used, size_t n_slots)
{
    return used * 4 > n_slots * 3;
}

void hashtable_init(hashtable *t, hashtable_equal_fn equal, size_t limit, const hashtable_allocator *allocator)
{
    HG_ASSERT(equal != NULL);
    HG_ASSERT(limit >= 1 && limit <= HASHTABLE_LIMIT_MAX);
    memset(t, 0, sizeof(*t));
    t->slots = no_slots;
    t->n_slots = 1;
    t->equal = equal;
    t->limit = limit;
    t->allocator = allocator != NULL ? allocator : &hashtable_heap;
    /* doubling needs items > 3/8 of the slots, so limit items never need more than this */
    t->max_slots = HASHTABLE_MIN_SLOTS;
    while (limit * 8 > t->max_slots * 3)
        t->max_slots *= 2;
}

static void free_slots(const hashtable *t, hashtable_slot *slots, size_t n_slots)
{
    if (slots != NULL && slots != no_slots)
        t->allocator->free(slots, n_slots * sizeof(*slots), t->allocator->ctx);
}

/* A shared table's view, with the old table it is the last to name. */
static void view_free(epoch_node *node)
{
    hashtable_view *v = (hashtable_view *)node;
    if (v->allocator != NULL)
        v->allocator->free(v->old, v->old_slots * sizeof(*v->old), v->allocator->ctx);
    free(v);
}

/* Publishes view v of a shared table and retires the one it replaces. */
static void view_publish(hashtable *t, hashtable_view *v)
{
    hashtable_view *was = t->view;
    __atomic_store_n(&t->view, v, __ATOMIC_RELEASE);
    if (was != &no_view)
        epoch_retire(&was->retired, view_free);
}

void hashtable_share(hashtable *t)
{
    HG_ASSERT(t->slots == no_slots && t->view == NULL);
    t->view = &no_view;
}

void hashtable_destroy(hashtable *t)
{
    if (t->view != NULL) { /* no reader is left: what retired views hold goes now too */
        epoch_synchronize();
        if (t->view != &no_view)
            free(t->view);
        free(t->view_done);
        t->view = &no_view;
        t->view_done = NULL;
    }
    free_slots(t, t->slots, t->n_slots);
    free_slots(t, t->old, t->old_slots);
    t->slots = no_slots;
    t->n_slots = 1;
    t->old = NULL;
    t->old_slots = t->used = t->moved = t->count = 0;
}

/* The first slot on hash's probe chain that holds no item (empty or a tombstone). */
static size_t free_slot(const hashtable_slot *slots, size_t n_slots, uint64_t hash)
{
    size_t mask = n_slots - 1, i = hash & mask;
    while (is_item(slots[i].item))
        i = (i + 1) & mask;
    return i;
}

/* The slot of the key's item in either table, or NULL; *in_new says which table. The
 * same probes as hashtable_find_inline, for callers that change the slot. */
static hashtable_slot *locate(const hashtable *t, uint64_t hash, const void *key, int *in_new)
{
    hashtable_slot *s = hashtable_probe_(t->slots, t->n_slots, hash, key, t->equal);
    *in_new = s != NULL;
    if (s == NULL && t->old != NULL)
        s = hashtable_probe_(t->old, t->old_slots, hash, key, t->equal);
    return s;
}

void *hashtable_find(const hashtable *t, uint64_t hash, const void *key)
{
    return hashtable_find_inline(t, hash, key, t->equal);
}

/* Moves up to count slots of the old table across; frees it after its last slot. */
static void migrate(hashtable *t, size_t count)
{
    for (; count > 0 && t->moved < t->old_slots; count--, t->moved++) {
        hashtable_slot *e = &t->old[t->moved];
        if (!is_item(e->item))
            continue;
        size_t j = free_slot(t->slots, t->n_slots, e->hash); /* keys are distinct: any free slot is its place */
        t->used += t->slots[j].item == NULL;
        t->slots[j].hash = e->hash;
        __atomic_store_n(&t->slots[j].item, e->item, __ATOMIC_RELEASE);
        /* not empty: it may sit on another unmoved item's chain */
        __atomic_store_n(&e->item, TOMBSTONE, __ATOMIC_RELEASE);
    }
    HG_ASSERT(t->moved <= t->old_slots);
    if (t->old != NULL && t->moved == t->old_slots) {
        if (t->view != NULL) { /* readers may hold the old table: it goes with the growth's first view */
            view_publish(t, t->view_done);
            t->view_done = NULL;
        } else {
            free_slots(t, t->old, t->old_slots);
        }
        t->old = NULL;
        t->old_slots = t->moved = 0;
    }
}

__attribute__((cold)) static hashtable_result grow(hashtable *t)
{
    HG_ASSERT(t->old == NULL); /* see "Why a growth always finishes" above */
    size_t n_slots = HASHTABLE_MIN_SLOTS;
    if (t->slots != no_slots)
        n_slots = (t->count + 1) * 8 > t->n_slots * 3 ? t->n_slots * 2 : t->n_slots;
    HG_ASSERT(n_slots <= t->max_slots);
    hashtable_slot *slots = t->allocator->alloc(n_slots * sizeof(*slots), t->allocator->ctx);
    if (slots == NULL)
        return HASHTABLE_NO_MEMORY;
    hashtable_view *start = NULL, *done = NULL;
    if (t->view != NULL && ((start = malloc(sizeof(*start))) == NULL ||
                            (t->slots != no_slots && (done = malloc(sizeof(*done))) == NULL))) {
        free(start);
        t->allocator->free(slots, n_slots * sizeof(*slots), t->allocator->ctx);
        return HASHTABLE_NO_MEMORY;
    }
    if (start != NULL) {
        int from_table = t->slots != no_slots;
        *start = (hashtable_view){.slots = slots,
                                  .n_slots = n_slots,
                                  .old = from_table ? t->slots : NULL,
                                  .old_slots = from_table ? t->n_slots : 0,
                                  .allocator = from_table ? t->allocator : NULL};
        if (done != NULL)
            *done = (hashtable_view){.slots = slots, .n_slots = n_slots};
        t->view_done = done;
        view_publish(t, start);
    }
    if (t->slots != no_slots) {
        t->old = t->slots;
        t->old_slots = t->n_slots;
        t->moved = 0;
    }
    t->slots = slots;
    t->n_slots = n_slots;
    t->used = 0;
    return HASHTABLE_OK;
}

static inline hashtable_result make_room(hashtable *t)
{
    if (t->count >= t->limit)
        return HASHTABLE_FULL;
    if (over_load(t->used + 1, t->n_slots)) /* always so for no_slots */
        return grow(t);
    return HASHTABLE_OK;
}

hashtable_result hashtable_reserve(hashtable *t)
{
    return make_room(t);
}

hashtable_result hashtable_insert(hashtable *t, uint64_t hash, void *item)
{
    HG_ASSERT(is_item(item));
    hashtable_result r = make_room(t);
    if (r != HASHTABLE_OK)
        return r;
    size_t i = free_slot(t->slots, t->n_slots, hash);
    t->used += t->slots[i].item == NULL;
    t->slots[i].hash = hash;
    __atomic_store_n(&t->slots[i].item, item, __ATOMIC_RELEASE); /* after its hash, for shared readers */
    t->count++;
    if (t->old != NULL)
        migrate(t, HASHTABLE_MOVE_PER_INSERT);
    HG_ASSERT(!over_load(t->used, t->n_slots));
    HG_ASSERT(t->count * 4 <= t->n_slots * 3 && t->count <= t->limit);
    return HASHTABLE_OK;
}

void *hashtable_replace(hashtable *t, uint64_t hash, const void *key, void *item)
{
    HG_ASSERT(is_item(item));
    int in_new;
    hashtable_slot *s = locate(t, hash, key, &in_new);
    if (s == NULL)
        return NULL;
    void *prior = s->item;
    __atomic_store_n(&s->item, item, __ATOMIC_RELEASE);
    return prior;
}

void *hashtable_remove(hashtable *t, uint64_t hash, const void *key)
{
    HG_ASSERT(t->view == NULL); /* see hashtable_share */
    int in_new;
    hashtable_slot *s = locate(t, hash, key, &in_new);
    if (s == NULL)
        return NULL;
    void *item = s->item;
    hashtable_slot *slots = in_new ? t->slots : t->old;
    size_t mask = (in_new ? t->n_slots : t->old_slots) - 1;
    if (slots[((size_t)(s - slots) + 1) & mask].item == NULL) {
        s->item = NULL; /* the chain ends right after: nothing probes past this slot */
        t->used -= in_new;
    } else {
        s->item = TOMBSTONE;
    }
    HG_ASSERT(t->count > 0);
    t->count--;
    return item;
}

size_t hashtable_count(const hashtable *t)
{
    return t->count;
}

void *hashtable_next(const hashtable *t, size_t *cursor)
{
    /* [0, n_slots) walks the new table, [n_slots, n_slots + old_slots) the old one */
    for (; *cursor < t->n_slots + t->old_slots; (*cursor)++) {
        size_t i = *cursor;
        void *item = i < t->n_slots ? t->slots[i].item : t->old[i - t->n_slots].item;
        if (is_item(item)) {
            (*cursor)++;
            return item;
        }
    }
    return NULL;
}

/* Checks one table: returns its items, adds its non-empty slots to *used; every item is
 * reachable from its home slot without crossing an empty one. */
static size_t verify_table(const hashtable_slot *slots, size_t n_slots, size_t *used)
{
    size_t items = 0, mask = n_slots - 1;
    HG_ASSERT(n_slots >= HASHTABLE_MIN_SLOTS && (n_slots & mask) == 0);
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].item == NULL)
            continue;
        (*used)++;
        if (!is_item(slots[i].item))
            continue;
        items++;
        for (size_t j = slots[i].hash & mask; j != i; j = (j + 1) & mask)
            HG_ASSERT(slots[j].item != NULL);
    }
    return items;
}

void hashtable_verify(const hashtable *t)
{
    HG_ASSERT(t->count <= t->limit && t->limit <= HASHTABLE_LIMIT_MAX);
    if (t->slots == no_slots) {
        HG_ASSERT(t->n_slots == 1 && no_slots[0].item == NULL);
        HG_ASSERT(t->count == 0 && t->old == NULL && t->used == 0);
        return;
    }
    HG_ASSERT(t->n_slots <= t->max_slots);
    size_t used = 0, items = verify_table(t->slots, t->n_slots, &used);
    HG_ASSERT(used == t->used);
    HG_ASSERT(!over_load(t->used, t->n_slots));
    HG_ASSERT(t->count * 4 <= t->n_slots * 3);
    if (t->old != NULL) {
        size_t old_used = 0;
        HG_ASSERT(t->moved < t->old_slots);
        for (size_t i = 0; i < t->moved; i++)
            HG_ASSERT(!is_item(t->old[i].item));
        items += verify_table(t->old, t->old_slots, &old_used);
        HG_ASSERT(!over_load(old_used, t->old_slots));
    } else {
        HG_ASSERT(t->old_slots == 0 && t->moved == 0);
    }
    HG_ASSERT(items == t->count);
    if (t->view != NULL) { /* shared: readers probe what the writer has */
        HG_ASSERT(t->view->slots == t->slots && t->view->n_slots == t->n_slots && t->view->old == t->old);
        HG_ASSERT((t->old != NULL) == (t->view_done != NULL));
    }
}
