/* Tests poolalloc: its allocations come from the h2o pool (small ones from the pool's
 * chunk, large ones as the pool's direct blocks), its free leaves them usable, and they all
 * go when the pool is cleared: after a first round (h2o keeps a cleared pool's chunks for
 * reuse) a round of allocations and a protobuf message decoded with the allocator leave no
 * block behind (oom.h's live-block counter; valgrind and ASan check the same). */
#include <stdlib.h>
#include <string.h>

#include "codec_proto.h"
#include "oom.h"
#include "poolalloc.h"
#include "schema.h"
#include "test.h"

#define LARGE (64 * 1024) /* past h2o's chunk: a direct block of the pool */

static void test_alloc_and_free(void)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    ProtobufCAllocator a = poolalloc_make(&pool);
    CHECK(a.allocator_data == &pool);

    char *small = a.alloc(a.allocator_data, 100);
    CHECK(small != NULL);
    CHECK(pool.chunks != NULL && pool.chunk_offset >= 100); /* carved from the pool's chunk */
    memset(small, 'x', 100);
    char *large = a.alloc(a.allocator_data, LARGE);
    CHECK(large != NULL);
    CHECK(pool.directs != NULL);
    memset(large, 'y', LARGE);

    /* free is a no-op: the memory stays the pool's and readable until the pool goes */
    a.free(a.allocator_data, small);
    a.free(a.allocator_data, large);
    CHECK(small[0] == 'x' && small[99] == 'x');
    CHECK(large[0] == 'y' && large[LARGE - 1] == 'y');

    h2o_mem_clear_pool(&pool);
    CHECK(pool.chunks == NULL && pool.directs == NULL);
}

static const uint8_t *encoded_request(size_t *len)
{
    static uint8_t buf[512];
    schema_create_request req = SCHEMA_CREATE_REQUEST_INIT;
    req.ecosystem_id = "C000000000000000000000a01";
    req.url = "https://example.com/hook";
    req.description = "decoded into a pool";
    *len = protobuf_c_message_get_packed_size(&req.base);
    CHECK(*len <= sizeof(buf));
    protobuf_c_message_pack(&req.base, buf);
    return buf;
}

/* One request's worth: a message decoded (protobuf-c's own unpack and the codec's) and some
 * blocks; returns the live blocks counted just before the pool was cleared. */
static size_t request_round(void)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    ProtobufCAllocator a = poolalloc_make(&pool);
    size_t len;
    const uint8_t *bytes = encoded_request(&len);

    schema_create_request *m =
        (schema_create_request *)protobuf_c_message_unpack(&schema_create_request_descriptor, &a, len, bytes);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_STR(m->url, "https://example.com/hook");
        CHECK_STR(m->description, "decoded into a pool");
        protobuf_c_message_free_unpacked(&m->base, &a); /* a no-op: the pool keeps it */
        CHECK_STR(m->ecosystem_id, "C000000000000000000000a01");
    }
    error err;
    error_clear(&err);
    schema_create_request *d =
        (schema_create_request *)codec_proto_decode(&schema_create_request_descriptor, bytes, len, &a, &err);
    CHECK(d != NULL && err.kind == ERROR_NONE);
    if (d != NULL)
        CHECK_STR(d->url, "https://example.com/hook");
    for (int i = 0; i < 16; i++)
        memset(a.alloc(a.allocator_data, 64), 0, 64);
    size_t live = oom_live();
    h2o_mem_clear_pool(&pool);
    return live;
}

static void test_decode_goes_with_the_pool(void)
{
    request_round(); /* the first pool's chunk is kept for reuse once cleared */
    size_t before = oom_live();
    size_t during = request_round();
    /* everything came from the pool's (recycled) chunk: not one block of its own */
    CHECK(during == before);
    CHECK(oom_live() == before);
    request_round();
    CHECK(oom_live() == before);
}

int main(void)
{
    test_alloc_and_free();
    test_decode_goes_with_the_pool();
    if (!oom_enabled())
        printf("test_poolalloc: block counts not checked (no counting under AddressSanitizer)\n");
    return test_exit_code();
}
