/* hg_assert: see hg_assert.h. */
#include "hg_assert.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

void hg_assert_fail(const char *expr, const char *file, int line)
{
    log_error("assertion failed: %s:%d: %s", file, line, expr); /* one write(2), no stdio buffer */
    abort();
}
