/* test_gzip: the one compression module: round trips, the limit crossed by exactly one
 * byte, a bomb refused without allocating its size, streams that are not one whole gzip
 * member (truncated at every length, corrupt, followed by more bytes, zlib instead of
 * gzip), the header readers, and OOM loops over both directions. */
#include "gzip.h"
#include "oom.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Counts what it hands out, to show what decoding a bomb costs. */
static size_t allocated, largest;

static void *heap_alloc(void *data, size_t size)
{
    (void)data;
    allocated += size;
    if (size > largest)
        largest = size;
    return malloc(size);
}

static void heap_free(void *data, void *p)
{
    (void)data;
    free(p);
}

static ProtobufCAllocator heap = {heap_alloc, heap_free, NULL};

/* in, compressed by zlib itself at its own default level (another writer than ours) */
static uint8_t *zlib_gzip(const uint8_t *in, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    uLong bound = deflateBound(&z, len);
    uint8_t *out = malloc(bound);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *out_len = bound - z.avail_out;
    deflateEnd(&z);
    return out;
}

static error_kind decode(const uint8_t *in, size_t len, size_t limit, uint8_t **out, size_t *out_len)
{
    error err;
    error_clear(&err);
    *out = NULL;
    int rc = gzip_decode(in, len, limit, &heap, out, out_len, &err);
    CHECK((rc == 0) == (err.kind == ERROR_NONE));
    CHECK(rc == 0 ? *out != NULL : *out == NULL);
    return err.kind;
}

static void test_round_trip(void)
{
    static const size_t lengths[] = {0, 1, 100, 1023, 1024, 16383, 16384, 16385, 100000};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i], packed_len, back_len;
        uint8_t *plain = malloc(n + 1), *back;
        for (size_t j = 0; j < n; j++)
            plain[j] = (uint8_t)(j * j % 251); /* some repetition, not all */
        uint8_t *packed = gzip_encode(plain, n, &heap, &packed_len);
        CHECK(packed != NULL && packed_len > 0);
        CHECK(packed[0] == 0x1f && packed[1] == 0x8b); /* gzip's magic, not zlib's header */
        CHECK(decode(packed, packed_len, n, &back, &back_len) == ERROR_NONE);
        CHECK(back_len == n && memcmp(back, plain, n) == 0);
        free(back);
        free(packed);
        /* another writer's stream reads the same */
        packed = zlib_gzip(plain, n, &packed_len);
        CHECK(decode(packed, packed_len, n + 10, &back, &back_len) == ERROR_NONE);
        CHECK(back_len == n && memcmp(back, plain, n) == 0);
        free(back);
        free(packed);
        free(plain);
    }
}

/* The limit holds at exactly limit bytes and fails at limit + 1, whatever the scratch
 * buffer's size: around its multiples too. */
static void test_limit(void)
{
    static const size_t lengths[] = {1, 2, 1000, 16384, 16385, 32768, 65536};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i], packed_len, back_len;
        uint8_t *plain = calloc(n, 1), *back;
        uint8_t *packed = gzip_encode(plain, n, &heap, &packed_len);
        CHECK(decode(packed, packed_len, n, &back, &back_len) == ERROR_NONE && back_len == n);
        free(back);
        CHECK(decode(packed, packed_len, n - 1, &back, &back_len) == ERROR_TOO_LARGE);
        CHECK(decode(packed, packed_len, 0, &back, &back_len) == ERROR_TOO_LARGE);
        free(packed);
        free(plain);
    }
}

/* 64 MiB of zeros (about 64 KiB compressed) under a 64 KiB limit: refused, and nothing was
 * asked of the allocator (the output memory is the message's size, so a refused message
 * costs none). Kept to 64 MiB so that deflating it stays quick under valgrind. */
static void test_bomb(void)
{
    size_t n = 64u << 20, chunk = 1u << 20, packed_len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = 1u << 20;
    uint8_t *packed = malloc(cap), *zeros = calloc(chunk, 1);
    for (size_t fed = 0; fed < n; fed += chunk) {
        z.next_in = zeros;
        z.avail_in = (uInt)chunk;
        do {
            z.next_out = packed + packed_len;
            z.avail_out = (uInt)(cap - packed_len);
            CHECK(deflate(&z, fed + chunk == n ? Z_FINISH : Z_NO_FLUSH) != Z_STREAM_ERROR);
            packed_len = cap - z.avail_out;
        } while (z.avail_in > 0);
    }
    deflateEnd(&z);
    free(zeros);
    CHECK(packed_len < cap);
    allocated = largest = 0;
    uint8_t *back;
    size_t back_len;
    CHECK(decode(packed, packed_len, 65536, &back, &back_len) == ERROR_TOO_LARGE);
    CHECK(allocated == 0); /* the measuring pass stopped it: no output buffer at all */
    free(packed);
}

static void test_not_gzip(void)
{
    const uint8_t text[] = "a webhook's JSON, or any message, compressed and then damaged";
    size_t packed_len, back_len;
    uint8_t *packed = gzip_encode(text, sizeof text, &heap, &packed_len), *back;
    /* truncated at every length, the empty body included */
    for (size_t n = 0; n < packed_len; n++)
        CHECK(decode(packed, n, 1000, &back, &back_len) == ERROR_INVALID_BODY);
    /* one more byte after the member; a second member */
    uint8_t *longer = malloc(2 * packed_len);
    memcpy(longer, packed, packed_len);
    memcpy(longer + packed_len, packed, packed_len);
    CHECK(decode(longer, packed_len + 1, 1000, &back, &back_len) == ERROR_INVALID_BODY);
    CHECK(decode(longer, 2 * packed_len, 1000, &back, &back_len) == ERROR_INVALID_BODY);
    /* the CRC and the length in the trailer, and the magic */
    for (size_t at = 1; at <= 8; at++) {
        memcpy(longer, packed, packed_len);
        longer[packed_len - at] ^= 0x01;
        CHECK(decode(longer, packed_len, 1000, &back, &back_len) == ERROR_INVALID_BODY);
    }
    memcpy(longer, packed, packed_len);
    longer[0] = 0x1e;
    CHECK(decode(longer, packed_len, 1000, &back, &back_len) == ERROR_INVALID_BODY);
    free(longer);
    free(packed);
    /* zlib's own format (deflate with a zlib header) is not gzip */
    uint8_t z[128];
    uLongf z_len = sizeof z;
    CHECK(compress(z, &z_len, text, sizeof text) == Z_OK);
    CHECK(decode(z, z_len, 1000, &back, &back_len) == ERROR_INVALID_BODY);
    CHECK(decode((const uint8_t *)"plain", 5, 1000, &back, &back_len) == ERROR_INVALID_BODY);
}

static gzip_coding coding(const char *v)
{
    return gzip_coding_of(v, v != NULL ? strlen(v) : 0);
}

/* gzip_answer on len bytes of text: 1 when it compressed them, which must then inflate
 * back to the same bytes; 0 when it left them as they were. */
static int answered(const char *accept, size_t len)
{
    static uint8_t text[1u << 16];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (uint8_t)"abcdefgh{}\":,"[i % 14];
    CHECK(len <= sizeof(text));
    const uint8_t *msg = text;
    size_t n = len;
    int packed = gzip_answer(accept, accept != NULL ? strlen(accept) : 0, &heap, &msg, &n);
    if (!packed) {
        CHECK(msg == text && n == len);
        return 0;
    }
    uint8_t *back;
    size_t back_len;
    error err;
    error_clear(&err);
    CHECK(msg != text && gzip_decode(msg, n, len, &heap, &back, &back_len, &err) == 0);
    CHECK(back_len == len && memcmp(back, text, len) == 0);
    heap.free(heap.allocator_data, back);
    heap.free(heap.allocator_data, (void *)msg);
    return 1;
}

static int accepted(const char *v)
{
    return gzip_accepted(v, v != NULL ? strlen(v) : 0);
}

static void test_headers(void)
{
    CHECK(coding(NULL) == GZIP_IDENTITY);
    CHECK(coding("") == GZIP_IDENTITY);
    CHECK(coding("identity") == GZIP_IDENTITY);
    CHECK(coding("gzip") == GZIP_GZIP);
    CHECK(coding(" GZip\t") == GZIP_GZIP);
    CHECK(coding("deflate") == GZIP_UNSUPPORTED);
    CHECK(coding("br") == GZIP_UNSUPPORTED);
    CHECK(coding("gzip, br") == GZIP_UNSUPPORTED); /* one coding per message */
    CHECK(coding("gzipx") == GZIP_UNSUPPORTED);

    CHECK(!accepted(NULL));
    CHECK(!accepted(""));
    CHECK(accepted("gzip"));
    CHECK(accepted("identity,deflate,gzip")); /* grpc-js, grpcio */
    CHECK(accepted("gzip, deflate, br"));      /* curl --compressed, browsers */
    CHECK(accepted("br;q=1.0, GZIP;q=0.5"));
    CHECK(accepted("*"));
    CHECK(!accepted("identity"));
    CHECK(!accepted("deflate, br"));
    CHECK(!accepted("gzip;q=0"));
    CHECK(!accepted("gzip; q=0.000, br"));
    CHECK(accepted("gzip;q=0.001"));
    CHECK(!accepted("*;q=0"));
    CHECK(!accepted("gzipx, xgzip"));

    CHECK(!answered("gzip", GZIP_ANSWER_MIN_BYTES - 1));
    CHECK(answered("gzip", GZIP_ANSWER_MIN_BYTES));
    CHECK(!answered("identity", 1u << 16));
    CHECK(!answered(NULL, 1u << 16));
}

/* ---- out of memory ---- */

typedef struct gzip_oom {
    const uint8_t *in;
    size_t len;
    uint8_t *out;
    size_t out_len;
    const uint8_t *want;
    size_t want_len;
} gzip_oom;

static const uint8_t oom_plain[] = "{\"items\":[{\"url\":\"https://example.com/hook\"},{\"url\":\"https://example.com/hook\"}]}";

static int oom_encode(void *ctx)
{
    gzip_oom *o = ctx;
    o->out = gzip_encode(o->in, o->len, &heap, &o->out_len);
    return o->out != NULL ? 0 : -1;
}

static int oom_decode(void *ctx)
{
    gzip_oom *o = ctx;
    error err;
    return gzip_decode(o->in, o->len, 1000, &heap, &o->out, &o->out_len, &err);
}

static void oom_check(void *ctx, int ok)
{
    gzip_oom *o = ctx;
    if (!ok) {
        CHECK(o->out == NULL);
        return;
    }
    if (o->want != NULL) {
        CHECK(o->out_len == o->want_len && memcmp(o->out, o->want, o->want_len) == 0);
        return;
    }
    uint8_t *back; /* the encoding decodes back */
    size_t back_len;
    CHECK(decode(o->out, o->out_len, o->len, &back, &back_len) == ERROR_NONE);
    CHECK(back_len == o->len && memcmp(back, o->in, o->len) == 0);
    free(back);
}

static void oom_free(void *ctx)
{
    gzip_oom *o = ctx;
    free(o->out);
    o->out = NULL;
}

static void test_out_of_memory(void)
{
    gzip_oom o = {oom_plain, sizeof oom_plain, NULL, 0, NULL, 0};
    oom_op enc = {"gzip_encode", &o, NULL, oom_encode, oom_check, oom_free};
    CHECK(oom_loop(&enc) == 0);
    CHECK(oom_loop_persistent(&enc) == 0);
    size_t packed_len;
    uint8_t *packed = gzip_encode(oom_plain, sizeof oom_plain, &heap, &packed_len);
    gzip_oom d = {packed, packed_len, NULL, 0, oom_plain, sizeof oom_plain};
    oom_op dec = {"gzip_decode", &d, NULL, oom_decode, oom_check, oom_free};
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    free(packed);
}

int main(void)
{
    test_round_trip();
    test_limit();
    test_bomb();
    test_not_gzip();
    test_headers();
    test_out_of_memory();
    return test_exit_code();
}
