/* test_hashtable: insert / find / replace / remove, growth with lookups and removals while
 * the old table is still being moved, tombstone churn, the size limit, iteration, the
 * byte hash, an out-of-memory loop (the n-th allocation fails, n = 1, 2, ...) and reserve;
 * a shared table read without a lock by threads while one writer inserts through many
 * growths and replaces (every inserted key always found), and its out-of-memory loop. */
#include "hashtable.h"
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "epoch.h"
#include "oom.h"

typedef struct item {
    uint64_t key;
} item;

static uint64_t hash_of(uint64_t key)
{
    return hashtable_hash_bytes(&key, sizeof key);
}

static int item_equal(const void *it, const void *key)
{
    return ((const item *)it)->key == *(const uint64_t *)key;
}

static void *find(const hashtable *t, uint64_t key)
{
    return hashtable_find(t, hash_of(key), &key);
}

static void *remove_key(hashtable *t, uint64_t key)
{
    return hashtable_remove(t, hash_of(key), &key);
}

static void test_basic(void)
{
    hashtable t;
    hashtable_init(&t, item_equal, 1000, NULL);
    hashtable_verify(&t);
    CHECK(hashtable_count(&t) == 0);
    CHECK(find(&t, 1) == NULL);
    CHECK(remove_key(&t, 1) == NULL);
    size_t cursor = 0;
    CHECK(hashtable_next(&t, &cursor) == NULL);

    item a = {1}, b = {2}, a2 = {1};
    CHECK(hashtable_insert(&t, hash_of(1), &a) == HASHTABLE_OK);
    CHECK(hashtable_insert(&t, hash_of(2), &b) == HASHTABLE_OK);
    CHECK(hashtable_count(&t) == 2);
    CHECK(find(&t, 1) == &a);
    CHECK(find(&t, 2) == &b);
    CHECK(find(&t, 3) == NULL);
    hashtable_verify(&t);

    /* replace swaps the item under the same key; an absent key changes nothing */
    uint64_t k = 1;
    CHECK(hashtable_replace(&t, hash_of(1), &k, &a2) == &a);
    CHECK(find(&t, 1) == &a2);
    k = 3;
    item c = {3};
    CHECK(hashtable_replace(&t, hash_of(3), &k, &c) == NULL);
    CHECK(find(&t, 3) == NULL);
    CHECK(hashtable_count(&t) == 2);

    /* remove, then the key can come back */
    CHECK(remove_key(&t, 1) == &a2);
    CHECK(remove_key(&t, 1) == NULL);
    CHECK(find(&t, 1) == NULL);
    CHECK(find(&t, 2) == &b);
    CHECK(hashtable_count(&t) == 1);
    CHECK(hashtable_insert(&t, hash_of(1), &a) == HASHTABLE_OK);
    CHECK(find(&t, 1) == &a);
    hashtable_verify(&t);

    /* iteration sees each item once */
    int seen_a = 0, seen_b = 0, others = 0;
    cursor = 0;
    for (item *it; (it = hashtable_next(&t, &cursor)) != NULL;)
        seen_a += it == &a, seen_b += it == &b, others += it != &a && it != &b;
    CHECK(seen_a == 1 && seen_b == 1 && others == 0);
    hashtable_destroy(&t);
}

/* Items whose hashes all land in one slot: probes pass other items, tombstones and the
 * end of the table (wrap-around), and removal must not cut a chain. */
static void test_collisions(void)
{
    hashtable t;
    hashtable_init(&t, item_equal, 100, NULL);
    item items[10];
    uint64_t h = 15; /* the last slot of a 16-slot table: chains wrap */
    for (uint64_t i = 0; i < 10; i++) {
        items[i].key = i;
        CHECK(hashtable_insert(&t, h, &items[i]) == HASHTABLE_OK);
    }
    hashtable_verify(&t);
    for (uint64_t i = 0; i < 10; i++)
        CHECK(hashtable_find(&t, h, &i) == &items[i]);
    /* remove every other one; the rest stay reachable past the tombstones */
    for (uint64_t i = 0; i < 10; i += 2)
        CHECK(hashtable_remove(&t, h, &i) == &items[i]);
    hashtable_verify(&t);
    for (uint64_t i = 0; i < 10; i++)
        CHECK(hashtable_find(&t, h, &i) == (i % 2 ? &items[i] : NULL));
    /* the freed slots are reused */
    for (uint64_t i = 0; i < 10; i += 2)
        CHECK(hashtable_insert(&t, h, &items[i]) == HASHTABLE_OK);
    hashtable_verify(&t);
    for (uint64_t i = 0; i < 10; i++)
        CHECK(hashtable_find(&t, h, &i) == &items[i]);
    /* remove the last of the chain first, then the rest */
    for (uint64_t i = 10; i-- > 0;)
        CHECK(hashtable_remove(&t, h, &i) == &items[i]);
    CHECK(hashtable_count(&t) == 0);
    hashtable_verify(&t);
    hashtable_destroy(&t);
}

#define N_GROW 100000

/* Grows from 16 slots to 2^18 while every insert is followed by lookups of an old key and
 * the new one; the checks run while a migration is under way (the old table still there). */
static void test_growth(void)
{
    hashtable t;
    hashtable_init(&t, item_equal, N_GROW, &hashtable_huge);
    item *items = calloc(N_GROW, sizeof *items);
    CHECK(items != NULL);
    if (items == NULL)
        return;
    int ok = 1, migrations_seen = 0, was_migrating = 0;
    for (uint64_t i = 0; i < N_GROW; i++) {
        items[i].key = i * 7919; /* not consecutive */
        if (hashtable_insert(&t, hash_of(items[i].key), &items[i]) != HASHTABLE_OK)
            ok = 0;
        if (find(&t, items[i].key) != &items[i] || find(&t, items[i / 2].key) != &items[i / 2] ||
            find(&t, items[i].key + 1) != NULL)
            ok = 0;
        int migrating = t.old != NULL;
        if (migrating && !was_migrating)
            migrations_seen++;
        if (migrating && i < 5000) /* verify is O(slots): every step only while small */
            hashtable_verify(&t);
        was_migrating = migrating;
    }
    CHECK(ok);
    CHECK(migrations_seen >= 10);
    CHECK(hashtable_count(&t) == N_GROW);
    hashtable_verify(&t);
    /* the table is no larger than the load bound needs */
    CHECK(t.n_slots == 1u << 18);
    int all = 1;
    for (uint64_t i = 0; i < N_GROW; i++)
        if (find(&t, items[i].key) != &items[i])
            all = 0;
    CHECK(all);
    hashtable_destroy(&t);
    free(items);
}

/* Removals while the old table is being moved: of items not moved yet (in the old table),
 * of items already moved and of items inserted since (in the new one). */
static void test_remove_during_growth(void)
{
    enum { N = 4000 };
    static item items[N];
    hashtable t;
    hashtable_init(&t, item_equal, N, NULL);
    int ok = 1, removed_while_migrating = 0;
    for (uint64_t i = 0; i < N; i++) {
        items[i].key = i;
        if (hashtable_insert(&t, hash_of(i), &items[i]) != HASHTABLE_OK)
            ok = 0;
        if (t.old != NULL && i % 3 == 0) {
            /* an early key (moved or not) and the newest */
            uint64_t early = i / 5;
            if (early % 3 != 0 && find(&t, early) != NULL) {
                if (remove_key(&t, early) != &items[early])
                    ok = 0;
                removed_while_migrating++;
            }
            if (remove_key(&t, i) != &items[i] || find(&t, i) != NULL)
                ok = 0;
            hashtable_verify(&t);
        }
    }
    CHECK(ok);
    CHECK(removed_while_migrating > 100);
    hashtable_verify(&t);
    /* exactly what was not removed is still there */
    size_t expect = 0;
    int found_ok = 1;
    for (uint64_t i = 0; i < N; i++) {
        void *it = find(&t, i);
        if (it != NULL && it != &items[i])
            found_ok = 0;
        expect += it != NULL;
    }
    CHECK(found_ok);
    CHECK(hashtable_count(&t) == expect);
    size_t cursor = 0, iterated = 0;
    while (hashtable_next(&t, &cursor) != NULL)
        iterated++;
    CHECK(iterated == expect);
    /* remove everything, during iteration (allowed for the item just returned) */
    cursor = 0;
    for (item *it; (it = hashtable_next(&t, &cursor)) != NULL;)
        if (remove_key(&t, it->key) != it)
            found_ok = 0;
    CHECK(found_ok);
    CHECK(hashtable_count(&t) == 0);
    hashtable_verify(&t);
    hashtable_destroy(&t);
}

/* A set that churns (in-flight creates: insert, remove, insert other keys, ...) stays at a
 * small table however many keys pass through it. */
static void test_churn(void)
{
    enum { LIVE = 50, ROUNDS = 200000 };
    static item items[LIVE];
    hashtable t;
    hashtable_init(&t, item_equal, 1000, NULL);
    int ok = 1;
    for (uint64_t r = 0; r < ROUNDS; r++) {
        item *it = &items[r % LIVE];
        if (r >= LIVE && remove_key(&t, it->key) != it)
            ok = 0;
        it->key = r;
        if (hashtable_insert(&t, hash_of(r), it) != HASHTABLE_OK)
            ok = 0;
        if (r % 997 == 0)
            hashtable_verify(&t);
    }
    CHECK(ok);
    CHECK(hashtable_count(&t) == LIVE);
    CHECK(t.n_slots <= 256);
    hashtable_verify(&t);
    hashtable_destroy(&t);
}

/* The limit: the insert past it fails and changes nothing; removing one makes room. */
static void test_limit(void)
{
    enum { LIMIT = 100 };
    static item items[LIMIT + 1];
    hashtable t;
    hashtable_init(&t, item_equal, LIMIT, NULL);
    for (uint64_t i = 0; i <= LIMIT; i++)
        items[i].key = i;
    int ok = 1;
    for (uint64_t i = 0; i < LIMIT; i++)
        if (hashtable_insert(&t, hash_of(i), &items[i]) != HASHTABLE_OK)
            ok = 0;
    CHECK(ok);
    CHECK(hashtable_insert(&t, hash_of(LIMIT), &items[LIMIT]) == HASHTABLE_FULL);
    CHECK(hashtable_count(&t) == LIMIT);
    CHECK(find(&t, LIMIT) == NULL);
    hashtable_verify(&t);
    CHECK(remove_key(&t, 7) == &items[7]);
    CHECK(hashtable_insert(&t, hash_of(LIMIT), &items[LIMIT]) == HASHTABLE_OK);
    CHECK(find(&t, LIMIT) == &items[LIMIT]);
    CHECK(hashtable_insert(&t, hash_of(7), &items[7]) == HASHTABLE_FULL);
    /* the table stayed within what the limit needs */
    CHECK(t.n_slots <= 512);
    hashtable_destroy(&t);

    /* the smallest limit */
    hashtable_init(&t, item_equal, 1, NULL);
    CHECK(hashtable_insert(&t, hash_of(0), &items[0]) == HASHTABLE_OK);
    CHECK(hashtable_insert(&t, hash_of(1), &items[1]) == HASHTABLE_FULL);
    CHECK(find(&t, 0) == &items[0] && find(&t, 1) == NULL);
    hashtable_destroy(&t);
}

/* An allocator that fails its fail_at-th allocation (1-based; 0 = never) and counts the
 * bytes outstanding, so a leak or a free of the wrong size shows. */
typedef struct failing {
    size_t calls, fail_at, failed, outstanding;
} failing;

static void *failing_alloc(size_t size, void *ctx)
{
    failing *f = ctx;
    if (++f->calls == f->fail_at) {
        f->failed++;
        return NULL;
    }
    void *p = calloc(1, size);
    if (p != NULL)
        f->outstanding += size;
    return p;
}

static void failing_free(void *p, size_t size, void *ctx)
{
    failing *f = ctx;
    f->outstanding -= size;
    free(p);
}

/* SQLite's way: build a table of N items with the n-th allocation failing, for n = 1, 2, ...
 * until the build succeeds. The insert that fails reports it, leaves the table as it was
 * (every earlier item found, the new one absent, invariants hold) and the same insert
 * succeeds when retried; destroying the table leaves nothing allocated. */
static void test_out_of_memory(void)
{
    enum { N = 3000 };
    static item items[N];
    int completed = 0;
    size_t n;
    for (n = 1; n < 100 && !completed; n++) {
        failing f = {.fail_at = n};
        hashtable_allocator a = {failing_alloc, failing_free, &f};
        hashtable t;
        hashtable_init(&t, item_equal, N, &a);
        int ok = 1;
        for (uint64_t i = 0; i < N; i++) {
            items[i].key = i;
            hashtable_result r = hashtable_insert(&t, hash_of(i), &items[i]);
            if (r == HASHTABLE_NO_MEMORY) {
                if (hashtable_count(&t) != i || find(&t, i) != NULL || (i > 0 && find(&t, i - 1) != &items[i - 1]))
                    ok = 0;
                hashtable_verify(&t);
                r = hashtable_insert(&t, hash_of(i), &items[i]); /* the next allocation succeeds */
            }
            if (r != HASHTABLE_OK)
                ok = 0;
        }
        for (uint64_t i = 0; i < N; i++)
            if (find(&t, i) != &items[i])
                ok = 0;
        hashtable_verify(&t);
        CHECK(ok);
        completed = f.failed == 0;
        CHECK(f.failed == (completed ? 0u : 1u));
        hashtable_destroy(&t);
        CHECK(f.outstanding == 0);
    }
    CHECK(completed);
    CHECK(n > 5); /* the build allocates once per growth: several times */
}

/* After hashtable_reserve succeeds the next insert allocates nothing (every allocation
 * would fail) and succeeds; at the limit reserve says FULL. */
static void test_reserve(void)
{
    enum { N = 3000 };
    static item items[N];
    failing f = {0};
    hashtable_allocator a = {failing_alloc, failing_free, &f};
    hashtable t;
    hashtable_init(&t, item_equal, N, &a);
    int ok = 1;
    for (uint64_t i = 0; i < N; i++) {
        items[i].key = i;
        f.fail_at = 0;
        if (hashtable_reserve(&t) != HASHTABLE_OK)
            ok = 0;
        f.fail_at = f.calls + 1;
        if (hashtable_insert(&t, hash_of(i), &items[i]) != HASHTABLE_OK)
            ok = 0;
    }
    CHECK(ok);
    CHECK(f.failed == 0);
    CHECK(hashtable_reserve(&t) == HASHTABLE_FULL);
    hashtable_verify(&t);
    hashtable_destroy(&t);
    CHECK(f.outstanding == 0);
}

/* The byte hash: deterministic, every length read exactly (ASan catches a read past the
 * end of each exact-size buffer), each input bit changes the slot bits, and sequential
 * keys spread evenly over slots. */
static void test_hash_bytes(void)
{
    uint8_t base[64];
    for (size_t i = 0; i < sizeof base; i++)
        base[i] = (uint8_t)(i * 37 + 11);
    int ok = 1;
    for (size_t len = 0; len <= sizeof base; len++) {
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL)
            return;
        memcpy(exact, base, len);
        uint64_t h = hashtable_hash_bytes(exact, len);
        if (h != hashtable_hash_bytes(base, len))
            ok = 0;
        if (len > 0 && h == hashtable_hash_bytes(base, len - 1)) /* a prefix is another key */
            ok = 0;
        for (size_t bit = 0; bit < len * 8; bit++) {
            exact[bit / 8] ^= (uint8_t)(1u << bit % 8);
            if ((uint32_t)hashtable_hash_bytes(exact, len) == (uint32_t)h)
                ok = 0;
            exact[bit / 8] ^= (uint8_t)(1u << bit % 8);
        }
        free(exact);
    }
    CHECK(ok);
    /* 2^16 sequential 12-byte keys (as ids are) into 1024 slots: each near 64 */
    static unsigned counts[1024];
    for (uint32_t i = 0; i < 1u << 16; i++) {
        uint8_t key[12] = {0x5a, 0, 0, 1};
        memcpy(key + 8, &i, sizeof i);
        counts[hashtable_hash_bytes(key, sizeof key) & 1023]++;
    }
    unsigned lo = UINT32_MAX, hi = 0;
    for (size_t s = 0; s < 1024; s++)
        lo = counts[s] < lo ? counts[s] : lo, hi = counts[s] > hi ? counts[s] : hi;
    CHECK(lo >= 24 && hi <= 110);
}

/* --- shared tables ------------------------------------------------------------------- */

enum { SHARED_N = 200000, SHARED_READERS = 2 };

typedef struct shared_run {
    hashtable t;
    item *items, *versions; /* versions[i]: the replacement of items[i], same key */
    atomic_size_t inserted; /* items [0, inserted) are in the table */
    atomic_int done;
    atomic_size_t misses, wrong, lookups;
} shared_run;

static void *shared_reader(void *arg)
{
    shared_run *r = arg;
    uint64_t x = (uint64_t)(uintptr_t)&x; /* a per-thread seed */
    while (!atomic_load(&r->done)) {
        size_t n = atomic_load_explicit(&r->inserted, memory_order_acquire);
        if (n == 0)
            continue;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t key = (x >> 33) % n, absent = SHARED_N + key;
        epoch_enter();
        const item *got = hashtable_find_shared(&r->t, hash_of(key), &key, item_equal);
        const item *none = hashtable_find_shared(&r->t, hash_of(absent), &absent, item_equal);
        epoch_exit();
        if (got == NULL)
            atomic_fetch_add(&r->misses, 1);
        else if (got->key != key || none != NULL)
            atomic_fetch_add(&r->wrong, 1);
        atomic_fetch_add_explicit(&r->lookups, 1, memory_order_relaxed);
    }
    return NULL;
}

/* One writer inserts SHARED_N items (a growth every doubling, each moving slots while the
 * readers probe both tables) and replaces every third with a version of the same key; the
 * readers look up keys already inserted (always found, and the right key) and keys never
 * inserted (never found). Under AddressSanitizer a table freed too early is a
 * use-after-free. */
static void test_shared_readers(void)
{
    shared_run *r = calloc(1, sizeof(*r));
    r->items = malloc(SHARED_N * sizeof(item));
    r->versions = malloc(SHARED_N * sizeof(item));
    if (r->items == NULL || r->versions == NULL)
        abort();
    hashtable_init(&r->t, item_equal, SHARED_N, NULL);
    hashtable_share(&r->t);
    pthread_t readers[SHARED_READERS];
    for (int k = 0; k < SHARED_READERS; k++)
        CHECK(pthread_create(&readers[k], NULL, shared_reader, r) == 0);
    for (uint64_t i = 0; i < SHARED_N; i++) {
        r->items[i].key = r->versions[i].key = i;
        CHECK(hashtable_insert(&r->t, hash_of(i), &r->items[i]) == HASHTABLE_OK);
        atomic_store_explicit(&r->inserted, i + 1, memory_order_release);
        /* the readers keep up, whatever the scheduler (valgrind runs one thread at a time) */
        while (i % 256 == 0 && atomic_load(&r->lookups) < i / 256)
            sched_yield();
        if (i % 3 == 0)
            CHECK(hashtable_replace(&r->t, hash_of(i / 2), &(uint64_t){i / 2}, &r->versions[i / 2]) != NULL);
    }
    atomic_store(&r->done, 1);
    for (int k = 0; k < SHARED_READERS; k++)
        pthread_join(readers[k], NULL);
    hashtable_verify(&r->t);
    CHECK(atomic_load(&r->misses) == 0);
    CHECK(atomic_load(&r->wrong) == 0);
    CHECK(atomic_load(&r->lookups) > 0);
    size_t wrong_version = 0;
    for (uint64_t i = 0; i < SHARED_N; i++) {
        int replaced = (2 * i < SHARED_N && (2 * i) % 3 == 0) || (2 * i + 1 < SHARED_N && (2 * i + 1) % 3 == 0);
        wrong_version += find(&r->t, i) != (replaced ? &r->versions[i] : &r->items[i]);
    }
    CHECK(wrong_version == 0);
    epoch_collect(); /* the readers are gone: every old table and view is freed now */
    CHECK(epoch_pending() == 0);
    hashtable_destroy(&r->t);
    CHECK(epoch_pending() == 0);
    free(r->items);
    free(r->versions);
    free(r);
}

/* A shared table's growth allocates its views with malloc: the n-th allocation failing
 * fails the insert and leaves the table (and the view readers probe) as it was. */
static void test_shared_out_of_memory(void)
{
    if (!oom_enabled())
        return; /* under AddressSanitizer malloc cannot be failed */
    enum { N = 3000 };
    static item items[N];
    hashtable t;
    hashtable_init(&t, item_equal, N, NULL);
    hashtable_share(&t);
    size_t failures = 0;
    for (uint64_t i = 0; i < N; i++) {
        items[i].key = i;
        oom_arm(1 + i % 3); /* the slot array, the first view or the second */
        hashtable_result res = hashtable_insert(&t, hash_of(i), &items[i]);
        if (oom_disarm()) {
            CHECK(res == HASHTABLE_NO_MEMORY);
            CHECK(hashtable_count(&t) == i && find(&t, i) == NULL);
            hashtable_verify(&t);
            failures++;
            res = hashtable_insert(&t, hash_of(i), &items[i]);
        }
        CHECK(res == HASHTABLE_OK);
        epoch_enter();
        CHECK(hashtable_find_shared(&t, hash_of(i), &i, item_equal) == &items[i]);
        epoch_exit();
    }
    hashtable_verify(&t);
    CHECK(failures > 3); /* each growth failed once */
    hashtable_destroy(&t);
    CHECK(epoch_pending() == 0);
}

int main(void)
{
    test_basic();
    test_collisions();
    test_growth();
    test_remove_during_growth();
    test_churn();
    test_limit();
    test_out_of_memory();
    test_reserve();
    test_hash_bytes();
    for (int round = 0; round < 3; round++) /* a race shows in some runs, not every one */
        test_shared_readers();
    test_shared_out_of_memory();
    return test_exit_code();
}
