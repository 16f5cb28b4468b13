/* hg_assert: see hg_assert.h. */
#include "hg_assert.h"

#include <stdio.h>
#include <stdlib.h>

void hg_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "hookgate: assertion failed: %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
