/* threads: what the shared structures of the request path cost per operation as event loops
 * are added: a benchmark that prints figures, not a test (tests/bench/threads runs it and
 * prints the table).
 *
 *   bench_threads THREADS [OPS]
 *
 * Fills a store with RECORDS webhooks (one in 8 with an idempotency digest), then runs each
 * phase on THREADS threads at once, OPS operations per thread (a barrier between phases):
 *   get           store_get of a random stored id            (every GET, every update's check)
 *   get_idem      store_get_idempotent of a random digest    (a create with Idempotency-Key)
 *   ratelimit     ratelimit_take of one key for all threads  (creates with one token, the worst case)
 *   idem_begin    idempotency_begin + _end of a fresh digest (a create with Idempotency-Key)
 *   insert        store_insert, OPS/8 per thread             (a create without a journal)
 *   page          store_page of 10, OPS/8 per thread         (a list)
 *   append        journal_append of a create, OPS/8 per thread (a create with a journal:
 *                 fsync never, in a scratch directory; the records are made before the phase)
 * and prints one line per phase: name, threads, operations, nanoseconds per operation (wall
 * time of the whole phase x threads / operations) and lock waits per operation: lock
 * acquisitions that found the mutex taken, counted by wrapping pthread_mutex_lock at link
 * time (-Wl,--wrap), so that the store, the rate limiter and the idempotency set are
 * measured as they are, unchanged. Instructions per operation come from running it under
 * callgrind (the inclusive cost of each phase_ function; tests/bench/threads does it). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idempotency.h"
#include "journal.h"
#include "objectid.h"
#include "ratelimit.h"
#include "store.h"

#define RECORDS 200000
#define MAX_THREADS 64

static atomic_ulong lock_waits;

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    if (pthread_mutex_trylock(m) == 0)
        return 0;
    atomic_fetch_add_explicit(&lock_waits, 1, memory_order_relaxed);
    return __real_pthread_mutex_lock(m);
}

static store *st;
static ratelimit *limit;
static idempotency *idem;
static objectid *ids;
static size_t n_ops;
static pthread_barrier_t barrier;
static const char *ecosystems[16];
static char token; /* the one key every thread takes from */
static store *journaled_store; /* the journal's: appended() inserts into it */
static journal *jn;
static journal_op *appends[MAX_THREADS]; /* each thread's, made before the phases */
static atomic_size_t journaled;

static uint64_t next_random(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static void digest_of(uint64_t n, uint8_t d[STORE_IDEMPOTENCY_LEN])
{
    memset(d, 0, STORE_IDEMPOTENCY_LEN);
    uint64_t x = (n + 1) * 0x9e3779b97f4a7c15ull; /* a stand-in for SHA-256 output */
    memcpy(d, &x, sizeof x);
    memcpy(d + 8, &n, sizeof n);
}

__attribute__((noinline)) static size_t phase_get(uint64_t *x)
{
    size_t found = 0;
    for (size_t i = 0; i < n_ops; i++)
        found += store_get(st, &ids[next_random(x) % RECORDS]) != NULL;
    return found;
}

__attribute__((noinline)) static size_t phase_get_idem(uint64_t *x)
{
    size_t found = 0;
    uint8_t d[STORE_IDEMPOTENCY_LEN];
    for (size_t i = 0; i < n_ops; i++) {
        digest_of(next_random(x) % (RECORDS / 8) * 8, d);
        found += store_get_idempotent(st, d) != NULL;
    }
    return found;
}

__attribute__((noinline)) static size_t phase_ratelimit(uint64_t *x)
{
    (void)x;
    size_t allowed = 0;
    for (size_t i = 0; i < n_ops; i++)
        allowed += ratelimit_take(limit, &token, (int64_t)i) == 0;
    return allowed;
}

__attribute__((noinline)) static size_t phase_idem_begin(unsigned thread)
{
    size_t fresh = 0;
    uint8_t d[STORE_IDEMPOTENCY_LEN];
    for (size_t i = 0; i < n_ops; i++) {
        digest_of(((uint64_t)thread + 1) << 40 | i, d);
        fresh += idempotency_begin(idem, d) == IDEMPOTENCY_NEW;
        idempotency_end(idem, d);
    }
    return fresh;
}

__attribute__((noinline)) static size_t phase_insert(unsigned thread)
{
    size_t stored = 0;
    error err;
    error_clear(&err);
    for (size_t i = 0; i < n_ops / 8; i++) {
        store_webhook w = {.id = objectid_make(1764547200u),
                           .ecosystem_id = ecosystems[(thread + i) % 16],
                           .url = "https://example.com/hooks/bench",
                           .secret = "",
                           .description = "benchmark webhook"};
        stored += store_insert(st, &w, &err) != NULL;
    }
    return stored;
}

__attribute__((noinline)) static size_t phase_page(uint64_t *x)
{
    size_t listed = 0;
    const store_webhook *page[10];
    for (size_t i = 0; i < n_ops / 8; i++) {
        int more;
        store_cursor after = {.seq = next_random(x) % RECORDS};
        listed += store_page(st, ecosystems[i % 16], &after, page, 10, &more);
    }
    return listed;
}

/* The journal's verdict, on its writer thread: the create goes into its store. */
static void appended(journal_op *op)
{
    error err;
    error_clear(&err);
    if (op->status == 0 && store_insert_record(journaled_store, op->record, &err) != NULL)
        atomic_fetch_add(&journaled, 1);
    else if (op->status != 0)
        store_record_free(op->record);
    op->record = NULL;
}

__attribute__((noinline)) static size_t phase_append(unsigned thread)
{
    size_t queued = 0;
    for (size_t i = 0; i < n_ops / 8; i++)
        queued += journal_append(jn, &appends[thread][i]) == 0;
    return queued;
}

enum { PHASES = 7 };
static const char *const phase_names[PHASES] = {"get", "get_idem", "ratelimit", "idem_begin", "insert", "page",
                                                "append"};
static double phase_start[PHASES];
static double phase_end[PHASES];
static unsigned long phase_waits[PHASES];
static atomic_size_t results[PHASES];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    unsigned thread = (unsigned)(size_t)arg;
    uint64_t x = thread * 0x9e3779b97f4a7c15ull + 1;
    for (int p = 0; p < PHASES; p++) {
        if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
            phase_start[p] = now_s();
            phase_waits[p] = atomic_load(&lock_waits);
        }
        pthread_barrier_wait(&barrier); /* everyone starts after the clock is read */
        size_t r = 0;
        switch (p) {
        case 0: r = phase_get(&x); break;
        case 1: r = phase_get_idem(&x); break;
        case 2: r = phase_ratelimit(&x); break;
        case 3: r = phase_idem_begin(thread); break;
        case 4: r = phase_insert(thread); break;
        case 5: r = phase_page(&x); break;
        default: r = phase_append(thread); break;
        }
        atomic_fetch_add(&results[p], r);
        if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
            phase_end[p] = now_s();
            phase_waits[p] = atomic_load(&lock_waits) - phase_waits[p];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned threads = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1;
    n_ops = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    if (threads == 0 || threads > MAX_THREADS || n_ops < 8 || objectid_init() != 0)
        return 2;
    st = store_create();
    limit = ratelimit_create(1000000);
    idem = idempotency_create();
    ids = malloc(RECORDS * sizeof(*ids));
    if (st == NULL || limit == NULL || idem == NULL || ids == NULL)
        return 2;
    static char names[16][32];
    for (unsigned k = 0; k < 16; k++) {
        snprintf(names[k], sizeof names[k], "C%024x", k + 1);
        ecosystems[k] = names[k];
    }
    error err;
    error_clear(&err);
    for (size_t i = 0; i < RECORDS; i++) {
        uint8_t d[STORE_IDEMPOTENCY_LEN];
        ids[i] = objectid_make(1764547200u);
        store_webhook w = {.id = ids[i],
                           .ecosystem_id = ecosystems[i % 16],
                           .url = "https://example.com/hooks/bench",
                           .secret = "",
                           .description = "benchmark webhook"};
        if (i % 8 == 0) {
            digest_of(i, d);
            w.idempotency = d;
        }
        if (store_insert(st, &w, &err) == NULL)
            return 2;
    }
    char dir[] = "/tmp/bench_threads.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 2;
    journal_options jo = {.path = dir, .fsync = JOURNAL_FSYNC_NEVER, .snapshot_after_bytes = 1ull << 40,
                          .max_queue = threads * n_ops};
    journal_stats stats;
    char jerr[JOURNAL_ERROR_MAX] = "";
    if ((journaled_store = store_create()) == NULL || (jn = journal_open(&jo, journaled_store, &stats, jerr)) == NULL) {
        fprintf(stderr, "%s\n", jerr);
        return 2;
    }
    for (unsigned t = 0; t < threads; t++) {
        if ((appends[t] = calloc(n_ops / 8, sizeof(journal_op))) == NULL)
            return 2;
        for (size_t i = 0; i < n_ops / 8; i++) {
            store_webhook w = {.id = objectid_make(1764547200u),
                               .ecosystem_id = ecosystems[(t + i) % 16],
                               .url = "https://example.com/hooks/bench",
                               .secret = "",
                               .description = "benchmark webhook"};
            appends[t][i] = (journal_op){.record = store_record_new(&w), .done = appended};
            if (appends[t][i].record == NULL)
                return 2;
        }
    }
    pthread_barrier_init(&barrier, NULL, threads);
    pthread_t th[MAX_THREADS];
    for (unsigned t = 0; t < threads; t++)
        if (pthread_create(&th[t], NULL, run, (void *)(size_t)t) != 0)
            return 2;
    for (unsigned t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    while (atomic_load(&journaled) < atomic_load(&results[6])) /* every append written and applied */
        sched_yield();
    journal_close(jn);
    for (int p = 0; p < PHASES; p++) {
        size_t ops = threads * (p >= 4 ? n_ops / 8 : n_ops);
        printf("%s\t%u\t%zu\t%.1f\t%.4f\t%zu\n", phase_names[p], threads, ops,
               (phase_end[p] - phase_start[p]) * 1e9 * threads / (double)ops, (double)phase_waits[p] / (double)ops,
               atomic_load(&results[p]));
    }
    store_destroy(st);
    store_destroy(journaled_store);
    for (unsigned t = 0; t < threads; t++)
        free(appends[t]);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir); /* the scratch directory and its journal */
    if (system(cmd) != 0)
        return 2;
    ratelimit_destroy(limit);
    idempotency_destroy(idem);
    free(ids);
    return 0;
}
