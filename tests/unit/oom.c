/* oom: see oom.h.
 *
 * Why interposition by definition, not -Wl,--wrap: --wrap only rewrites references in the
 * objects linked statically, so jansson's, libyaml's and OpenSSL's own mallocs would
 * neither fail nor be counted. A malloc defined in the executable is the one every shared
 * library and glibc itself binds to (glibc documents this as "replacing malloc").
 *
 * Why dlsym(RTLD_NEXT), not __libc_malloc: valgrind's memcheck redirects libc's malloc
 * symbol but not __libc_malloc (3.19), so calling __libc_malloc would hide every block from
 * memcheck. The address dlsym gives is the one valgrind redirects. dlsym may itself
 * allocate while it resolves; those few bytes come from a static bootstrap buffer.
 *
 * Counting: a block is counted only if it is in the live set, an open-addressed table of
 * the pointers this file handed out. A free of anything else (a block from posix_memalign,
 * or from the bootstrap buffer) passes through uncounted, so the count never drifts. */
#define _GNU_SOURCE
#include "oom.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define OOM_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_DISABLED 1
#endif
#endif

#ifndef OOM_DISABLED

#define LIVE_SLOTS (1u << 21) /* pointers tracked at once (16 MiB of table, paged in as used) */
#define BOOT_BYTES 65536      /* what dlsym may allocate before the real allocator is known */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static _Alignas(16) unsigned char boot[BOOT_BYTES];
static size_t boot_used;
static int resolving;

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
/* 0 = empty; linear probing, backward-shift delete. A slot holds ~pointer, not the pointer:
 * memcheck's leak check counts any word holding a block's address as a reference, and the
 * table would make every leak "still reachable". */
static uintptr_t live_slots[LIVE_SLOTS];
static size_t live_count;
static int live_overflow; /* the table filled up once: counts are no longer trustworthy */

static atomic_long countdown; /* allocations left before the failure; <= 0 when disarmed */
static atomic_int injected;
static atomic_int persistent;  /* armed with oom_arm_persistent */
static atomic_int failing_all; /* persistent, and the n-th allocation has come */

static int in_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof(boot);
}

static void *boot_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof(boot) - boot_used)
        return NULL;
    void *p = boot + boot_used;
    boot_used += n;
    return p; /* static storage: already zero, so it serves calloc too */
}

static void resolve(void)
{
    if (real_free != NULL)
        return;
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
    if (!real_malloc || !real_calloc || !real_realloc || !real_free) {
        static const char msg[] = "oom: cannot find the next malloc with dlsym\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(70);
    }
}

static size_t slot_of(uintptr_t p)
{
    return (size_t)((p >> 4) * UINT64_C(0x9E3779B97F4A7C15) >> 43) & (LIVE_SLOTS - 1);
}

static void live_add(void *ptr)
{
    uintptr_t p = ~(uintptr_t)ptr;
    pthread_mutex_lock(&live_lock);
    if (live_count + 1 >= LIVE_SLOTS / 2) { /* keep probes short; past this stop counting */
        live_overflow = 1;
    } else {
        size_t i = slot_of(p);
        while (live_slots[i] != 0)
            i = (i + 1) & (LIVE_SLOTS - 1);
        live_slots[i] = p;
        live_count++;
    }
    pthread_mutex_unlock(&live_lock);
}

/* Removes ptr if this file handed it out; 1 when it did. */
static int live_remove(void *ptr)
{
    uintptr_t p = ~(uintptr_t)ptr;
    int found = 0;
    pthread_mutex_lock(&live_lock);
    size_t i = slot_of(p);
    while (live_slots[i] != 0 && live_slots[i] != p)
        i = (i + 1) & (LIVE_SLOTS - 1);
    if (live_slots[i] == p) {
        found = 1;
        live_count--;
        /* backward-shift deletion: move later entries of the run into the hole */
        size_t hole = i;
        for (size_t j = (i + 1) & (LIVE_SLOTS - 1); live_slots[j] != 0; j = (j + 1) & (LIVE_SLOTS - 1)) {
            size_t home = slot_of(live_slots[j]);
            /* j's entry may move to the hole unless its home lies cyclically in (hole, j] */
            int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!stays) {
                live_slots[hole] = live_slots[j];
                hole = j;
            }
        }
        live_slots[hole] = 0;
    }
    pthread_mutex_unlock(&live_lock);
    return found;
}

/* 1 when this allocation is the one to fail. */
static int should_fail(void)
{
    if (atomic_load_explicit(&failing_all, memory_order_relaxed)) {
        errno = ENOMEM;
        return 1;
    }
    if (atomic_load_explicit(&countdown, memory_order_relaxed) <= 0)
        return 0;
    if (atomic_fetch_sub(&countdown, 1) != 1)
        return 0;
    atomic_store(&injected, 1);
    if (atomic_load(&persistent))
        atomic_store(&failing_all, 1);
    errno = ENOMEM; /* as glibc's malloc does: callers report strerror(errno) */
    return 1;
}

void *malloc(size_t n)
{
    if (resolving)
        return boot_alloc(n);
    resolve();
    if (should_fail())
        return NULL;
    void *p = real_malloc(n);
    if (p != NULL)
        live_add(p);
    return p;
}

void *calloc(size_t count, size_t size)
{
    if (resolving)
        return count && size > SIZE_MAX / count ? NULL : boot_alloc(count * size);
    resolve();
    if (should_fail())
        return NULL;
    void *p = real_calloc(count, size);
    if (p != NULL)
        live_add(p);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (resolving)
        return NULL; /* dlsym does not grow blocks */
    resolve();
    if (old == NULL)
        return malloc(n);
    if (in_boot(old)) { /* never freed; its size is unknown, so copy what may be in it */
        size_t room = (size_t)(boot + sizeof(boot) - (unsigned char *)old);
        void *p = malloc(n);
        if (p != NULL)
            memcpy(p, old, n < room ? n : room);
        return p;
    }
    if (n != 0 && should_fail())
        return NULL; /* as C says: old is left as it was */
    int counted = live_remove(old);
    void *p = real_realloc(old, n);
    if (p == NULL) {
        if (counted && n != 0)
            live_add(old); /* still the caller's */
        return NULL;
    }
    if (counted)
        live_add(p);
    return p;
}

void free(void *p)
{
    if (p == NULL || in_boot(p))
        return;
    resolve();
    live_remove(p);
    real_free(p);
}

int oom_enabled(void)
{
    /* Probe once that the malloc callers reach is this one: memcheck replaces a malloc it
     * finds in the executable unless told --soname-synonyms=somalloc=nouserintercepts.
     * Through a volatile pointer, or the compiler may drop the malloc/free pair. */
    static int enabled = -1;
    if (enabled < 0) {
        void *(*volatile probe)(size_t) = malloc;
        oom_arm(1);
        void *p = probe(1);
        enabled = oom_disarm() && p == NULL;
        free(p);
        if (!enabled)
            printf("oom: malloc is not the harness's (under valgrind, run it with "
                   "--soname-synonyms=somalloc=nouserintercepts)\n");
    }
    return enabled;
}

void oom_arm(unsigned long n)
{
    atomic_store(&injected, 0);
    atomic_store(&persistent, 0);
    atomic_store(&failing_all, 0);
    atomic_store(&countdown, (long)n);
}

void oom_arm_persistent(unsigned long n)
{
    oom_arm(n);
    atomic_store(&persistent, 1);
}

int oom_disarm(void)
{
    atomic_store(&countdown, 0);
    atomic_store(&persistent, 0);
    atomic_store(&failing_all, 0);
    return atomic_exchange(&injected, 0);
}

size_t oom_live(void)
{
    pthread_mutex_lock(&live_lock);
    size_t n = live_overflow ? SIZE_MAX : live_count;
    pthread_mutex_unlock(&live_lock);
    return n;
}

#else /* OOM_DISABLED */

int oom_enabled(void)
{
    return 0;
}

void oom_arm(unsigned long n)
{
    (void)n;
}

void oom_arm_persistent(unsigned long n)
{
    (void)n;
}

int oom_disarm(void)
{
    return 0;
}

size_t oom_live(void)
{
    return 0;
}

#endif

/* What a crash in the middle of a round prints: made before the round, written with
 * write(2) from the signal handler. */
static char crash_note[256];
static size_t crash_note_len;

static void on_crash(int sig)
{
    (void)!write(2, crash_note, crash_note_len);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void crash_note_set(const char *name, unsigned long n)
{
    int len = snprintf(crash_note, sizeof(crash_note), "oom: %s crashed with allocation %lu failed\n", name, n);
    crash_note_len = len < 0 ? 0 : (size_t)len < sizeof(crash_note) ? (size_t)len : sizeof(crash_note) - 1;
}

static void call(void (*fn)(void *), void *ctx)
{
    if (fn != NULL)
        fn(ctx);
}

static int loop(const oom_op *op, int every_one_after)
{
    int problems = 0;
    /* An unarmed round first: it must succeed, and it makes the libraries' lazy globals
     * (OpenSSL's providers, jansson's hash seed) before anything is counted. */
    call(op->setup, op->ctx);
    int rc = op->run(op->ctx);
    if (op->check != NULL)
        op->check(op->ctx, rc == 0);
    call(op->teardown, op->ctx);
    ERR_clear_error(); /* its first call initialises OpenSSL: before anything is counted */
    if (rc != 0) {
        fprintf(stderr, "oom: %s fails even with memory available\n", op->name);
        return 1;
    }
    if (!oom_enabled()) {
        printf("oom: %s: skipped: allocations cannot be failed in this build\n", op->name);
        return 0;
    }

    struct sigaction sa = {0}, old_segv, old_abrt, old_bus;
    sa.sa_handler = on_crash;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGABRT, &sa, &old_abrt);
    sigaction(SIGBUS, &sa, &old_bus);

    unsigned long n;
    for (n = 1; n <= OOM_MAX_ROUNDS && problems < 5; n++) {
        size_t before = oom_live();
        call(op->setup, op->ctx);
        crash_note_set(op->name, n);
        if (every_one_after)
            oom_arm_persistent(n);
        else
            oom_arm(n);
        rc = op->run(op->ctx);
        int failed_one = oom_disarm();
        if (!failed_one && rc != 0) {
            fprintf(stderr, "oom: %s failed in round %lu though no allocation was failed\n", op->name, n);
            problems++;
        }
        if (op->check != NULL)
            op->check(op->ctx, rc == 0);
        call(op->teardown, op->ctx);
        /* A failure inside OpenSSL leaves its details in the thread's error queue, whose
         * entries OpenSSL keeps until the next ERR_clear_error or the thread's end: its
         * memory, bounded, not the operation's leak. */
        ERR_clear_error();
        size_t after = oom_live();
        if (before == SIZE_MAX || after == SIZE_MAX) {
            fprintf(stderr, "oom: %s: too many live blocks to count leaks\n", op->name);
            problems++;
            break;
        }
        if (after != before) {
            fprintf(stderr, "oom: %s leaked %ld block(s) with allocation %lu failed\n", op->name,
                    (long)(after - before), n);
            problems++;
        }
        if (!failed_one)
            break;
    }
    if (n > OOM_MAX_ROUNDS) {
        fprintf(stderr, "oom: %s still allocating after %d rounds\n", op->name, OOM_MAX_ROUNDS);
        problems++;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGABRT, &old_abrt, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    printf("oom: %s%s: %lu round(s), %d problem(s)\n", op->name, every_one_after ? " (persistent)" : "", n, problems);
    return problems;
}

int oom_loop(const oom_op *op)
{
    return loop(op, 0);
}

int oom_loop_persistent(const oom_op *op)
{
    return loop(op, 1);
}
