/* hugemem: see hugemem.h. */
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include "hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

void *hugemem_calloc(size_t size)
{
    if (size < HUGEMEM_MIN)
        return calloc(1, size);
    if (size > SIZE_MAX - HUGEMEM_MIN)
        return NULL;
    /* map one huge page more than asked, then cut the unaligned ends off */
    size_t span = size + HUGEMEM_MIN;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *start = (char *)(((uintptr_t)p + HUGEMEM_MIN - 1) & ~(uintptr_t)(HUGEMEM_MIN - 1));
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (p + span > start + size)
        munmap(start + size, (size_t)(p + span - (start + size)));
    madvise(start, size, MADV_HUGEPAGE); /* advice: refused, the mapping just keeps small pages */
    return start;
}

void hugemem_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    if (size < HUGEMEM_MIN)
        free(p);
    else
        munmap(p, size);
}
