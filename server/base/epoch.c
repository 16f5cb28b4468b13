/* epoch: see epoch.h.
 *
 * A global epoch counts retirements. A reader announces the epoch it saw on entering a
 * section (0: in none); a node retired in epoch E (the counter's value before the retire
 * raised it) can be freed once every announced epoch is above E: a reader that announced
 * more entered after the retire and found the structure without the node.
 *
 * Why a reader that has not announced yet is safe (a store-buffering pair, sequentially
 * consistent fences on both sides): the writer unlinks, raises the epoch, fences, then
 * reads the announcements; the reader announces, fences, then reads the structure. Either
 * the writer sees the announcement (and waits for it), or the reader sees the unlink (and
 * never reaches the node).
 *
 * Records are cache-line sized so that readers on different cores never share one;
 * retiring and scanning them is the writers' cost, a few per table growth. */
#include "epoch.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "hg_assert.h"

typedef struct record {
    _Alignas(64) atomic_uint_fast64_t epoch; /* the epoch its thread's section entered in; 0: none */
    atomic_int in_use;                       /* claimed by a live thread */
    unsigned depth;                          /* its thread's nested sections (only it reads this) */
} record;

static record records[EPOCH_MAX_THREADS];
static atomic_size_t claimed;           /* records [0, claimed) have been claimed at some time */
static atomic_uint_fast64_t global = 1; /* 0 is "in no section" */
static pthread_mutex_t retire_lock = PTHREAD_MUTEX_INITIALIZER;
static epoch_node *retired;             /* newest first; under retire_lock */
static atomic_size_t n_retired;         /* its length: written under retire_lock, read by epoch_collect without */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;               /* gives an exiting thread's record back */
static _Thread_local record *self;

/* The key's destructor, on the exiting thread. Its record may be claimed by a new thread at
 * once, so the thread forgets it: a later destructor that reads a shared table registers
 * again (and is given back again). */
static void release_record(void *r)
{
    HG_ASSERT(((record *)r)->depth == 0);
    self = NULL;
    atomic_store_explicit(&((record *)r)->in_use, 0, memory_order_release);
}

static void key_create(void)
{
    int rc = pthread_key_create(&key, release_record);
    HG_ASSERT(rc == 0);
}

__attribute__((cold)) static record *claim(void)
{
    pthread_once(&key_once, key_create);
    for (size_t i = 0; i < EPOCH_MAX_THREADS; i++) {
        int free_record = 0;
        if (!atomic_compare_exchange_strong(&records[i].in_use, &free_record, 1))
            continue;
        size_t seen = atomic_load(&claimed);
        while (seen < i + 1 && !atomic_compare_exchange_weak(&claimed, &seen, i + 1))
            ;
        records[i].depth = 0;
        int rc = pthread_setspecific(key, &records[i]);
        HG_ASSERT(rc == 0);
        return self = &records[i];
    }
    HG_ASSERT(!"more than EPOCH_MAX_THREADS threads read shared structures at once");
    return NULL;
}

void epoch_enter(void)
{
    record *r = self != NULL ? self : claim();
    if (r->depth++ > 0)
        return;
    atomic_store_explicit(&r->epoch, atomic_load_explicit(&global, memory_order_acquire), memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

void epoch_exit(void)
{
    record *r = self;
    HG_ASSERT(r != NULL && r->depth > 0);
    if (--r->depth == 0)
        atomic_store_explicit(&r->epoch, 0, memory_order_release);
}

/* The lowest epoch a section is in, UINT64_MAX when none is. */
static uint64_t oldest_section(void)
{
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t oldest = UINT64_MAX;
    size_t n = atomic_load_explicit(&claimed, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        uint64_t e = atomic_load_explicit(&records[i].epoch, memory_order_acquire);
        if (e != 0 && e < oldest)
            oldest = e;
    }
    return oldest;
}

/* Takes the nodes every section has moved past off the list. retire_lock held. */
static epoch_node *take_free(void)
{
    uint64_t oldest = oldest_section();
    epoch_node *done = NULL;
    for (epoch_node **p = &retired; *p != NULL;) {
        epoch_node *node = *p;
        if (node->epoch < oldest) {
            *p = node->next;
            node->next = done;
            done = node;
            atomic_fetch_sub_explicit(&n_retired, 1, memory_order_relaxed);
        } else {
            p = &node->next;
        }
    }
    return done;
}

/* Frees them outside the lock: a free_fn may take locks of its own. */
static void free_all(epoch_node *done)
{
    for (epoch_node *next; done != NULL; done = next) {
        next = done->next;
        done->free_fn(done);
    }
}

void epoch_retire(epoch_node *node, void (*free_fn)(epoch_node *node))
{
    HG_ASSERT(node != NULL && free_fn != NULL);
    node->free_fn = free_fn;
    pthread_mutex_lock(&retire_lock);
    node->epoch = atomic_fetch_add(&global, 1);
    node->next = retired;
    retired = node;
    atomic_fetch_add_explicit(&n_retired, 1, memory_order_relaxed);
    pthread_mutex_unlock(&retire_lock);
}

void epoch_collect(void)
{
    if (atomic_load_explicit(&n_retired, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&retire_lock);
    epoch_node *done = take_free();
    pthread_mutex_unlock(&retire_lock);
    free_all(done);
}

void epoch_synchronize(void)
{
    HG_ASSERT(self == NULL || self->depth == 0);
    uint64_t now = atomic_fetch_add(&global, 1);
    while (oldest_section() <= now) /* sections are short: they end soon */
        sched_yield();
    pthread_mutex_lock(&retire_lock);
    epoch_node *done = take_free();
    pthread_mutex_unlock(&retire_lock);
    free_all(done);
}

size_t epoch_pending(void)
{
    return atomic_load(&n_retired);
}
