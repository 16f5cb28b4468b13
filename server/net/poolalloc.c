/* poolalloc: see poolalloc.h. */
#include "poolalloc.h"

static void *pool_alloc(void *pool, size_t size)
{
    return h2o_mem_alloc_pool(pool, size); /* aborts when out of memory, as all of h2o does */
}

static void pool_free(void *pool, void *ptr)
{
    (void)pool, (void)ptr; /* freed with the pool */
}

ProtobufCAllocator poolalloc_make(h2o_mem_pool_t *pool)
{
    return (ProtobufCAllocator){pool_alloc, pool_free, pool};
}
