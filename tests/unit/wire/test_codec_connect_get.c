/* test_codec_connect_get: Connect GET query strings — both encodings, base64url with and
 * without padding, percent and `+` decoding, NUL bytes in a message, ignored parameters,
 * gzip messages inflated and held to the limit, every refusal (limit, compression, connect, base64, message, a parameter twice) — and an
 * out-of-memory loop over the two allocations. */
#include "base64.h"
#include "codec_connect_get.h"
#include "gzip.h"
#include "oom.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request's pool, as the transports pass: every block freed at once by pool_clear. */
typedef struct pool_block {
    struct pool_block *next;
    _Alignas(16) unsigned char data[];
} pool_block;

static void *pool_alloc(void *data, size_t size)
{
    pool_block **head = data, *b = malloc(sizeof(pool_block) + size);
    if (b == NULL)
        return NULL;
    b->next = *head;
    *head = b;
    return b->data;
}

static void pool_free(void *data, void *p)
{
    (void)data, (void)p; /* with the pool */
}

static pool_block *pool_blocks;
static ProtobufCAllocator pool = {pool_alloc, pool_free, &pool_blocks};

static void pool_clear(void)
{
    for (pool_block *b = pool_blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    pool_blocks = NULL;
}

#define LIMIT 1000

static int decode(const char *q, codec_connect_get *out, error *err)
{
    return codec_connect_get_decode(q, strlen(q), LIMIT, &pool, out, err);
}

static int message_is(const codec_connect_get *g, const char *bytes, size_t len)
{
    return g->message_len == len && memcmp(g->message, bytes, len) == 0;
}

static void test_served(void)
{
    codec_connect_get g;
    error err;
    CHECK(decode("connect=v1&encoding=json&message=%7B%22id%22%3A%20%22x%22%7D", &g, &err) == 0);
    CHECK(err.kind == ERROR_NONE && g.encoding == CODEC_CONNECT_JSON);
    CHECK(message_is(&g, "{\"id\": \"x\"}", 11));
    /* form-urlencoded: '+' is a space; the parameters in any order; others ignored */
    CHECK(decode("cache=1&message=%7B+%7D&x&encoding=json&=&&", &g, &err) == 0);
    CHECK(g.encoding == CODEC_CONNECT_JSON && message_is(&g, "{ }", 3));
    /* base64url, padded or not; the bytes may hold NUL; base64=0 is the plain form */
    CHECK(decode("encoding=proto&base64=1&message=AAEC_-8", &g, &err) == 0);
    CHECK(g.encoding == CODEC_CONNECT_PROTO && message_is(&g, "\x00\x01\x02\xff\xef", 5));
    CHECK(decode("encoding=proto&base64=1&message=AAEC_-8%3D", &g, &err) == 0);
    CHECK(message_is(&g, "\x00\x01\x02\xff\xef", 5));
    CHECK(decode("encoding=proto&base64=0&message=a%00b&compression=identity", &g, &err) == 0);
    CHECK(message_is(&g, "a\0b", 3));
    /* an empty message is the empty message */
    CHECK(decode("encoding=proto&message=", &g, &err) == 0);
    CHECK(g.message_len == 0);
    /* encoding absent or another codec: decoded, for the caller to answer 415 */
    CHECK(decode("message=x", &g, &err) == 0 && g.encoding == CODEC_CONNECT_UNSUPPORTED);
    CHECK(decode("message=x&encoding=JSON", &g, &err) == 0 && g.encoding == CODEC_CONNECT_UNSUPPORTED);
    CHECK(decode("message=x&encoding=json%00", &g, &err) == 0 && g.encoding == CODEC_CONNECT_UNSUPPORTED);
    pool_clear();
}

static int has_param(const error *err, const char *path, const char *message)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (strcmp(error_param_path(err, i), path) == 0 && strcmp(error_param_message(err, i), message) == 0 &&
            err->params[i].in == ERROR_IN_QUERY)
            return 1;
    return 0;
}

static void test_refused(void)
{
    codec_connect_get g;
    error err;
    CHECK(decode("encoding=json", &g, &err) == -1);
    CHECK(err.kind == ERROR_INVALID_PARAMS && err.n_params == 1 && has_param(&err, "message", "field is required"));
    CHECK(decode("encoding=proto&base64=1&message=a+b", &g, &err) == -1);
    CHECK(err.n_params == 1 && has_param(&err, "message", "not base64url"));
    CHECK(decode("encoding=proto&base64=1&message=AA%2FA", &g, &err) == -1); /* the standard alphabet */
    CHECK(has_param(&err, "message", "not base64url"));
    /* every problem at once, in the protocol's order */
    CHECK(decode("connect=v2&base64=yes&message=a&message=b&encoding=json", &g, &err) == -1);
    CHECK(err.n_params == 3);
    CHECK(err.n_params == 3 && strcmp(error_param_path(&err, 0), "message") == 0 &&
          strcmp(error_param_path(&err, 1), "base64") == 0 && strcmp(error_param_path(&err, 2), "connect") == 0);
    CHECK(has_param(&err, "message", "given more than once") && has_param(&err, "base64", "must be 0 or 1") &&
          has_param(&err, "connect", "must be v1"));
    /* compression other than gzip: unimplemented, named only when it is a token */
    CHECK(decode("encoding=proto&compression=br&message=", &g, &err) == -1);
    CHECK(err.kind == ERROR_UNIMPLEMENTED &&
          strcmp(err.reason, "Compression br is not supported: use gzip or identity.") == 0);
    CHECK(decode("encoding=proto&compression=%FF%FE&message=", &g, &err) == -1);
    CHECK(err.kind == ERROR_UNIMPLEMENTED &&
          strcmp(err.reason, "Compression is not supported: use gzip or identity.") == 0);
    CHECK(decode("encoding=proto&compression=&message=", &g, &err) == -1 && err.kind == ERROR_UNIMPLEMENTED);
    /* gzip: the message inflated, held to the limit; bytes that are no gzip are the message's problem */
    CHECK(decode("encoding=proto&compression=gzip&message=", &g, &err) == -1);
    CHECK(err.kind == ERROR_INVALID_PARAMS && has_param(&err, "message", "not a whole gzip stream"));
    for (size_t n = LIMIT - 1; n <= LIMIT + 1; n++) {
        uint8_t plain[LIMIT + 1];
        memset(plain, '7', n);
        size_t packed_len;
        uint8_t *packed = gzip_encode(plain, n, &pool, &packed_len);
        char query[64 + BASE64_ENCODED_LEN(LIMIT)];
        size_t used = (size_t)snprintf(query, sizeof query, "encoding=json&base64=1&compression=gzip&message=");
        used += base64_encode(packed, packed_len, BASE64_URL, query + used);
        query[used] = '\0';
        int rc = decode(query, &g, &err);
        if (n <= LIMIT)
            CHECK(rc == 0 && g.message_len == n && memcmp(g.message, plain, n) == 0 && g.encoding == CODEC_CONNECT_JSON);
        else
            CHECK(rc == -1 && err.kind == ERROR_TOO_LARGE);
    }
    /* the limit: the query's own length, as a body's */
    char q[LIMIT + 2];
    memset(q, 'x', sizeof(q) - 1);
    q[sizeof(q) - 1] = '\0';
    memcpy(q, "encoding=json&message=", 22);
    CHECK(codec_connect_get_decode(q, LIMIT, LIMIT, &pool, &g, &err) == 0);
    CHECK(g.message_len == LIMIT - 22);
    CHECK(codec_connect_get_decode(q, LIMIT + 1, LIMIT, &pool, &g, &err) == -1);
    CHECK(err.kind == ERROR_TOO_LARGE && strcmp(err.reason, "The query string exceeds the limit of 1000 bytes.") == 0);
    /* a query string (h2o's, not NUL-terminated) is read only within its length */
    CHECK(codec_connect_get_decode("encoding=json&message=ab&message=c", 24, LIMIT, &pool, &g, &err) == 0);
    CHECK(message_is(&g, "ab", 2));
    pool_clear();
}

typedef struct oom_ctx {
    codec_connect_get g;
    error err;
} oom_ctx;

static int oom_run(void *ctx)
{
    oom_ctx *o = ctx;
    return codec_connect_get_decode("encoding=proto&base64=1&message=AAEC", 36, LIMIT, &pool, &o->g, &o->err);
}

static void oom_check(void *ctx, int ok)
{
    oom_ctx *o = ctx;
    CHECK(ok ? o->err.kind == ERROR_NONE && message_is(&o->g, "\x00\x01\x02", 3)
             : o->err.kind == ERROR_INTERNAL && strcmp(o->err.reason, "Out of memory.") == 0);
}

static void oom_teardown(void *ctx)
{
    (void)ctx;
    pool_clear();
}

static void test_out_of_memory(void)
{
    oom_ctx o;
    oom_op op = {"codec_connect_get_decode", &o, NULL, oom_run, oom_check, oom_teardown};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
}

int main(void)
{
    test_served();
    test_refused();
    test_out_of_memory();
    return test_exit_code();
}
