/* hg_assert: assertions that stay on in release builds.
 *
 * An assertion states what the code believes at a boundary (before a record is framed,
 * right after it is read, on queue and table invariants). It is cheap: one predictable
 * branch. When it fails, the process prints where and aborts, so a fuzzer or a test turns
 * a wrong belief into a finding instead of a silent corruption. NDEBUG does not remove
 * these; use them where a wrong value would otherwise travel on. */
#ifndef HOOKGATE_HG_ASSERT_H
#define HOOKGATE_HG_ASSERT_H

/* Prints "hookgate: assertion failed: file:line: expr" to stderr and aborts. */
_Noreturn void hg_assert_fail(const char *expr, const char *file, int line);

#define HG_ASSERT(cond) (__builtin_expect(!!(cond), 1) ? (void)0 : hg_assert_fail(#cond, __FILE__, __LINE__))

/* A relation between compile-time limits (a buffer size and the largest thing put in it). */
#define HG_STATIC_ASSERT(cond, why) _Static_assert(cond, why)

#endif
