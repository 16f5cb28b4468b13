/* oom: out-of-memory testing in SQLite's style for the unit tests.
 *
 * oom.c defines malloc, calloc, realloc and free in the test executable, so every
 * allocation goes through it: hookgate's own, and those of jansson, protobuf-c, libyaml,
 * uriparser, OpenSSL and glibc (which calls an interposed malloc too). Each passes through
 * to the next allocator (glibc's, or valgrind's under memcheck), counting the blocks it
 * handed out; once armed, the n-th allocation fails (once: later ones succeed again, so a
 * caller's recovery path runs with memory available, which is the harder case).
 *
 * oom_loop runs an operation with the 1st, 2nd, ... allocation failing until a round
 * passes without an injected failure. After each round it checks that the operation said
 * "failed" or "done" (a crash ends the test, naming the round), that the test's check
 * callback finds the state whole or untouched (never half-applied), and that every block
 * allocated during the round was freed.
 *
 * Under AddressSanitizer (-DHOOKGATE_SANITIZE=ON) the harness cannot replace ASan's
 * allocator: it compiles to counters of zero, oom_enabled() is 0, and oom_loop runs the
 * operation once unarmed and says so. */
#ifndef HOOKGATE_OOM_H
#define HOOKGATE_OOM_H

#include <stddef.h>

#define OOM_MAX_ROUNDS 200000 /* an operation allocating more than this is not a unit */

/* One operation under test. Only run is armed; the others run with memory available. */
typedef struct oom_op {
    const char *name;                 /* for messages */
    void *ctx;                        /* passed to each callback */
    void (*setup)(void *ctx);         /* optional: builds the state run acts on */
    int (*run)(void *ctx);            /* 0 when the operation completed, else it reported failure */
    void (*check)(void *ctx, int ok); /* optional: the state is whole (ok = 1) or untouched (0); CHECKs itself */
    void (*teardown)(void *ctx);      /* optional: frees the state and whatever run made */
} oom_op;

/* 1 when allocations can be failed (0 under AddressSanitizer). */
int oom_enabled(void);

/* Fails the n-th allocation from now (1 = the next one), once. */
void oom_arm(unsigned long n);

/* Fails the n-th allocation from now and every one after it (SQLite's persistent mode:
 * the recovery path runs out too), until oom_disarm. */
void oom_arm_persistent(unsigned long n);

/* Stops failing; returns 1 if a failure was injected since oom_arm. */
int oom_disarm(void);

/* Blocks handed out by malloc/calloc/realloc and not freed yet (0 when disabled). Blocks
 * that glibc makes without going through malloc (posix_memalign) are not counted. */
size_t oom_live(void);

/* Runs op as described above. Returns the number of problems found (each printed to stderr
 * with op->name and the round), 0 when none: CHECK(oom_loop(&op) == 0). */
int oom_loop(const oom_op *op);

/* The same in persistent mode: from the n-th allocation on, every one fails. */
int oom_loop_persistent(const oom_op *op);

#endif
