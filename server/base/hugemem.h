/* hugemem: zeroed memory that large tables and record blocks can ask transparent huge pages for.
 *
 * From HUGEMEM_MIN bytes up, an anonymous mapping aligned to a huge page (only whole aligned
 * huge pages can back it) advised MADV_HUGEPAGE; below, calloc. With millions of entries a
 * table's probes and a store's page faults cost TLB misses and faults 512 times fewer. The
 * advice may be refused (THP off): the memory then just keeps small pages. */
#ifndef HOOKGATE_HUGEMEM_H
#define HOOKGATE_HUGEMEM_H

#include <stddef.h>

#define HUGEMEM_MIN (2u << 20) /* bytes of one huge page on x86_64; smaller requests use calloc */

/* size zeroed bytes, or NULL when out of memory. Free with hugemem_free and the same size. */
void *hugemem_calloc(size_t size);

/* Frees what hugemem_calloc(size) returned; NULL is allowed. */
void hugemem_free(void *p, size_t size);

#endif
