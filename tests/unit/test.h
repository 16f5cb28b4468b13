/* test: the few assertions hookgate's unit tests share.
 *
 * A failed CHECK prints file:line and the expression and marks the test failed but goes on,
 * so one run shows every failure; main returns test_exit_code(). */
#ifndef HOOKGATE_TEST_H
#define HOOKGATE_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                        \
        }                                                                           \
    } while (0)

#define CHECK_STR(got, want)                                                             \
    do {                                                                                 \
        const char *got_ = (got), *want_ = (want);                                       \
        if (got_ == NULL || strcmp(got_, want_) != 0) {                                  \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:  %s\n  want: %s\n", __FILE__, \
                    __LINE__, #got, got_ ? got_ : "(null)", want_);                      \
            test_failures++;                                                             \
        }                                                                                \
    } while (0)

static inline int test_exit_code(void)
{
    if (test_failures)
        fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}

#endif
