/* test_hugemem: zeroed memory of any size, from calloc below HUGEMEM_MIN and from a
 * huge-page-aligned mapping from it up; every byte writable; freed with its size. */
#include "hugemem.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

static void check_block(size_t size, int want_aligned)
{
    unsigned char *p = hugemem_calloc(size);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    int zero = 1;
    for (size_t i = 0; i < size; i += 4093)
        zero &= p[i] == 0;
    CHECK(zero && p[size - 1] == 0);
    if (want_aligned)
        CHECK((uintptr_t)p % HUGEMEM_MIN == 0);
    memset(p, 0xab, size); /* every byte is ours */
    hugemem_free(p, size);
}

int main(void)
{
    check_block(1, 0);
    check_block(HUGEMEM_MIN - 1, 0);
    check_block(HUGEMEM_MIN, 1);
    check_block(3 * HUGEMEM_MIN + 12345, 1);
    hugemem_free(NULL, HUGEMEM_MIN); /* allowed */
    hugemem_free(NULL, 10);
    return test_exit_code();
}
