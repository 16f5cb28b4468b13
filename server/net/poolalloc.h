/* poolalloc: a ProtobufCAllocator over an h2o memory pool, so that decoded and encoded
 * messages live exactly as long as the request or stream that owns the pool. */
#ifndef HOOKGATE_POOLALLOC_H
#define HOOKGATE_POOLALLOC_H

#include <h2o.h>
#include <protobuf-c/protobuf-c.h>

/* Allocations come from pool; free is a no-op (everything goes when the pool is cleared).
 * Hazard: a message allocated here must not outlive the pool. */
ProtobufCAllocator poolalloc_make(h2o_mem_pool_t *pool);

#endif
