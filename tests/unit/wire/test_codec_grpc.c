/* test_codec_grpc: gRPC's framing both ways, its limits crossed by one byte, the status it
 * ends with, and its base64.
 *
 * Frames: the header's exact bytes, round trips at lengths around each byte boundary,
 * every refusal with its error kind (short, compressed without grpc-encoding, a trailer or unknown flag, over
 * the limit, a length that lies either way). grpc-message: percent-encoding and a
 * truncation that never splits an escape. Base64: both paddings, strict decoding, round
 * trips. Status: OK, and an error whose grpc-status-details-bin decodes back to an
 * RpcStatus with the same code and message. OOM loops over the allocating calls. */
#include "base64.h"
#include "codec_grpc.h"
#include "oom.h"
#include "schema.h"
#include "status.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *heap_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size);
}

static void heap_free(void *data, void *p)
{
    (void)data;
    free(p);
}

static ProtobufCAllocator heap = {heap_alloc, heap_free, NULL};

/* A request's pool, as the transports pass (codec_grpc_status_make frees nothing it
 * allocates from it): every block is freed at once by pool_clear. */
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

/* A body of one frame: flag, the length `said`, then len payload bytes. */
static uint8_t *frame_of(uint8_t flag, size_t said, size_t len, size_t *total)
{
    uint8_t *b = malloc(CODEC_GRPC_FRAME_HEADER + len);
    codec_grpc_frame_header(b, flag, said);
    for (size_t i = 0; i < len; i++)
        b[CODEC_GRPC_FRAME_HEADER + i] = (uint8_t)(i * 31 + 7);
    *total = CODEC_GRPC_FRAME_HEADER + len;
    return b;
}

static void test_frame_header(void)
{
    uint8_t h[CODEC_GRPC_FRAME_HEADER];
    codec_grpc_frame_header(h, 0, 0x01020304);
    CHECK(memcmp(h, "\x00\x01\x02\x03\x04", 5) == 0);
    codec_grpc_frame_header(h, CODEC_GRPC_FLAG_TRAILER, 0xffffffff);
    CHECK(memcmp(h, "\x80\xff\xff\xff\xff", 5) == 0);
    codec_grpc_frame_header(h, 0, 0);
    CHECK(memcmp(h, "\x00\x00\x00\x00\x00", 5) == 0);
}

/* Unframes body with limit; returns the error kind (ERROR_NONE on success). */
static error_kind unframe(const uint8_t *body, size_t len, size_t limit, const uint8_t **msg, size_t *msg_len)
{
    error err;
    error_clear(&err);
    int rc = codec_grpc_unframe(body, len, limit, GZIP_IDENTITY, &heap, msg, msg_len, &err);
    CHECK((rc == 0) == (err.kind == ERROR_NONE));
    return err.kind;
}

/* A stream's frames one at a time: none until whole, back to back, a header over the
 * limit refused before its payload. */
static void test_frame_next(void)
{
    uint8_t buf[64];
    codec_grpc_frame_header(buf, 0, 3);
    memcpy(buf + 5, "abc", 3);
    codec_grpc_frame_header(buf + 8, 0, 0);
    const uint8_t *msg;
    size_t msg_len, used;
    error err;
    for (size_t n = 0; n < 8; n++)
        CHECK(codec_grpc_frame_next(buf, n, 16, &msg, &msg_len, &used, &err) == 0);
    CHECK(codec_grpc_frame_next(buf, 13, 16, &msg, &msg_len, &used, &err) == 1);
    CHECK(msg == buf + 5 && msg_len == 3 && used == 8);
    CHECK(codec_grpc_frame_next(buf + 8, 5, 16, &msg, &msg_len, &used, &err) == 1);
    CHECK(msg_len == 0 && used == 5);
    CHECK(codec_grpc_frame_next(buf, 8, 3, &msg, &msg_len, &used, &err) == 1); /* at the limit */
    CHECK(codec_grpc_frame_next(buf, 5, 2, &msg, &msg_len, &used, &err) == -1 && err.kind == ERROR_TOO_LARGE);
    codec_grpc_frame_header(buf, 0, 0xffffffffu);
    CHECK(codec_grpc_frame_next(buf, 5, 65536, &msg, &msg_len, &used, &err) == -1 && err.kind == ERROR_TOO_LARGE);
    codec_grpc_frame_header(buf, 1, 3);
    CHECK(codec_grpc_frame_next(buf, 8, 16, &msg, &msg_len, &used, &err) == -1 && err.kind == ERROR_INVALID_BODY);
    codec_grpc_frame_header(buf, CODEC_GRPC_FLAG_TRAILER, 3);
    CHECK(codec_grpc_frame_next(buf, 8, 16, &msg, &msg_len, &used, &err) == -1 && err.kind == ERROR_INVALID_BODY);
}

static void test_unframe(void)
{
    static const size_t lengths[] = {0, 1, 255, 256, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i], total;
        uint8_t *b = frame_of(0, n, n, &total);
        const uint8_t *msg = NULL;
        size_t msg_len = 99;
        CHECK(unframe(b, total, 70000, &msg, &msg_len) == ERROR_NONE);
        CHECK(msg == b + CODEC_GRPC_FRAME_HEADER && msg_len == n);
        free(b);
    }

    /* the limit, crossed by one byte; the limit is checked before the body's length, so a
     * frame that only claims to be huge is "too large", not "lies" */
    size_t total;
    const uint8_t *msg;
    size_t msg_len;
    uint8_t *b = frame_of(0, 100, 100, &total);
    CHECK(unframe(b, total, 100, &msg, &msg_len) == ERROR_NONE);
    CHECK(unframe(b, total, 99, &msg, &msg_len) == ERROR_TOO_LARGE);
    free(b);
    b = frame_of(0, 0xffffffff, 0, &total);
    CHECK(unframe(b, total, 1 << 20, &msg, &msg_len) == ERROR_TOO_LARGE);
    free(b);

    /* lengths that lie: fewer bytes than said, more bytes than said */
    b = frame_of(0, 10, 9, &total);
    CHECK(unframe(b, total, 100, &msg, &msg_len) == ERROR_INVALID_BODY);
    free(b);
    b = frame_of(0, 10, 11, &total);
    CHECK(unframe(b, total, 100, &msg, &msg_len) == ERROR_INVALID_BODY);
    free(b);

    /* flags: compressed without a grpc-encoding, a trailer or an unknown flag is not a request */
    b = frame_of(CODEC_GRPC_FLAG_COMPRESSED, 3, 3, &total);
    CHECK(unframe(b, total, 100, &msg, &msg_len) == ERROR_INVALID_BODY);
    free(b);
    b = frame_of(CODEC_GRPC_FLAG_TRAILER, 3, 3, &total);
    CHECK(unframe(b, total, 100, &msg, &msg_len) == ERROR_INVALID_BODY);
    free(b);
    b = frame_of(0x02, 3, 3, &total);
    CHECK(unframe(b, total, 100, &msg, &msg_len) == ERROR_INVALID_BODY);
    free(b);

    /* no whole header: every length below five */
    static const uint8_t zeros[CODEC_GRPC_FRAME_HEADER] = {0};
    for (size_t n = 0; n < CODEC_GRPC_FRAME_HEADER; n++)
        CHECK(unframe(zeros, n, 100, &msg, &msg_len) == ERROR_INVALID_BODY);
    CHECK(unframe(zeros, CODEC_GRPC_FRAME_HEADER, 100, &msg, &msg_len) == ERROR_NONE && msg_len == 0);
}

/* A compressed frame under grpc-encoding gzip: inflated, held to the limit once inflated,
 * a frame that is no gzip refused; an uncompressed frame under gzip is read as it is. */
static void test_unframe_gzip(void)
{
    uint8_t plain[300];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)(i % 7);
    size_t packed_len, total;
    uint8_t *packed = gzip_encode(plain, sizeof plain, &heap, &packed_len);
    CHECK(packed != NULL && packed_len < sizeof plain);
    uint8_t *b = malloc(CODEC_GRPC_FRAME_HEADER + packed_len);
    codec_grpc_frame_header(b, CODEC_GRPC_FLAG_COMPRESSED, packed_len);
    memcpy(b + CODEC_GRPC_FRAME_HEADER, packed, packed_len);
    total = CODEC_GRPC_FRAME_HEADER + packed_len;
    const uint8_t *msg;
    size_t msg_len;
    error err;
    CHECK(codec_grpc_unframe(b, total, sizeof plain, GZIP_GZIP, &pool, &msg, &msg_len, &err) == 0);
    CHECK(msg_len == sizeof plain && memcmp(msg, plain, sizeof plain) == 0);
    /* the frame fits, its message does not: one byte over once inflated */
    CHECK(codec_grpc_unframe(b, total, sizeof plain - 1, GZIP_GZIP, &pool, &msg, &msg_len, &err) == -1);
    CHECK(err.kind == ERROR_TOO_LARGE);
    b[total - 1] ^= 0xff; /* the gzip trailer's length: not the stream it says */
    CHECK(codec_grpc_unframe(b, total, sizeof plain, GZIP_GZIP, &pool, &msg, &msg_len, &err) == -1);
    CHECK(err.kind == ERROR_INVALID_BODY);
    free(b);
    free(packed);
    b = frame_of(0, 3, 3, &total);
    CHECK(codec_grpc_unframe(b, total, 100, GZIP_GZIP, &pool, &msg, &msg_len, &err) == 0);
    CHECK(msg == b + CODEC_GRPC_FRAME_HEADER && msg_len == 3);
    free(b);
    pool_clear();
}

static void test_percent_encode(void)
{
    char out[CODEC_GRPC_MESSAGE_MAX];
    CHECK(codec_grpc_percent_encode("plain text: ok", out, sizeof out) == 14);
    CHECK_STR(out, "plain text: ok");
    codec_grpc_percent_encode("100% \x01\n\x7f\xc3\xa9", out, sizeof out);
    CHECK_STR(out, "100%25 %01%0A%7F%C3%A9");
    CHECK(codec_grpc_percent_encode("", out, sizeof out) == 0 && out[0] == '\0');

    /* truncation: always a prefix of the whole, NUL-terminated, never half an escape */
    const char *text = "a\xc3\xa9%b";
    char whole[64];
    size_t whole_len = codec_grpc_percent_encode(text, whole, sizeof whole);
    CHECK_STR(whole, "a%C3%A9%25b");
    for (size_t size = 1; size <= whole_len + 1; size++) {
        char small[64];
        memset(small, 'X', sizeof small);
        size_t n = codec_grpc_percent_encode(text, small, size);
        CHECK(n < size && small[n] == '\0' && strncmp(small, whole, n) == 0);
        CHECK(n == 0 || n == whole_len || whole[n] == '%' || small[n - 1] != '%');
        CHECK(n < 2 || small[n - 2] != '%');
    }
    char untouched = 'X';
    CHECK(codec_grpc_percent_encode("abc", &untouched, 0) == 0 && untouched == 'X');
}

static void test_base64(void)
{
    size_t n;
    char *s = codec_grpc_base64_encode(&heap, (const uint8_t *)"fo", 2, 1, &n);
    CHECK_STR(s, "Zm8=");
    CHECK(n == 4);
    free(s);
    s = codec_grpc_base64_encode(&heap, (const uint8_t *)"fo", 2, 0, &n);
    CHECK_STR(s, "Zm8");
    CHECK(n == 3);
    free(s);
    s = codec_grpc_base64_encode(&heap, (const uint8_t *)"", 0, 1, &n);
    CHECK_STR(s, "");
    free(s);

    uint8_t *out = NULL;
    CHECK(codec_grpc_base64_decode(&heap, "Zm9vYg==", 8, &out, &n) == 0 && n == 4 && memcmp(out, "foob", 4) == 0);
    free(out);
    out = NULL;
    CHECK(codec_grpc_base64_decode(&heap, "", 0, &out, &n) == 0 && n == 0);
    free(out);
    /* gRPC-Web-text bodies are padded standard base64: nothing else */
    static const char *const bad[] = {"Zm8", "Zm9vYg=", "Zm-v", "Zm9v\n", "Zm=v", "Zm9vYg==="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = NULL;
        CHECK(codec_grpc_base64_decode(&heap, bad[i], strlen(bad[i]), &out, &n) == -1 && out == NULL);
    }

    /* round trips at every length over a few blocks, both paddings */
    uint8_t data[100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 151 + 3);
    for (size_t len = 0; len <= sizeof data; len++) {
        s = codec_grpc_base64_encode(&heap, data, len, 1, &n);
        CHECK(s != NULL && n == BASE64_ENCODED_LEN(len) && strlen(s) == n);
        out = NULL;
        size_t m = 0;
        CHECK(s != NULL && codec_grpc_base64_decode(&heap, s, n, &out, &m) == 0 && m == len &&
              memcmp(out, data, len) == 0);
        free(out);
        free(s);
    }
}

/* Decodes st's grpc-status-details-bin (unpadded base64) into an RpcStatus. */
static schema_rpc_status *details_of(const codec_grpc_status *st)
{
    uint8_t buf[4096];
    size_t n;
    if (st->details_len > sizeof buf / 4 * 3 ||
        base64_decode(st->details, st->details_len, BASE64_LENIENT, buf, &n) != 0)
        return NULL;
    return (schema_rpc_status *)protobuf_c_message_unpack(&schema_rpc_status_descriptor, NULL, n, buf);
}

static void test_status(void)
{
    codec_grpc_status st;
    codec_grpc_status_make(NULL, &pool, &st);
    CHECK(st.code == 0 && st.message[0] == '\0' && st.details_len == 0 && strcmp(st.details, "") == 0);

    error err;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 1, "ecosystemId", "invalid id");
    error_add_param(&err, ERROR_IN_BODY, 2, "url", "field is required");
    codec_grpc_status_make(&err, &pool, &st);
    CHECK(st.code == status_of(ERROR_INVALID_PARAMS)->grpc_status && st.code == 3);
    CHECK(strstr(st.message, "ecosystemId") != NULL && strchr(st.message, ' ') != NULL);
    CHECK(st.details_len > 0 && strlen(st.details) == st.details_len && strchr(st.details, '=') == NULL);
    schema_rpc_status *rs = details_of(&st);
    CHECK(rs != NULL);
    if (rs != NULL) {
        CHECK(rs->code == st.code);
        char decoded[sizeof st.message];
        codec_grpc_percent_encode(rs->message, decoded, sizeof decoded);
        CHECK_STR(st.message, decoded); /* the same summary, before and after encoding */
        CHECK(rs->n_details == 1);
        protobuf_c_message_free_unpacked(&rs->base, NULL);
    }
    pool_clear();

    /* a reason of the longest length, all of it escaped: the message still fits */
    error_clear(&err);
    char reason[ERROR_MESSAGE_MAX];
    memset(reason, '\x01', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    error_set(&err, ERROR_NOT_FOUND, "%s", reason);
    codec_grpc_status_make(&err, &pool, &st);
    CHECK(st.code == status_of(ERROR_NOT_FOUND)->grpc_status);
    CHECK(strlen(st.message) < sizeof st.message && strlen(st.message) > 0);
    pool_clear();
}

/* ---- out of memory ---- */

typedef struct grpc_oom {
    const uint8_t *data;
    size_t len;
    char *text;
    size_t text_len;
    uint8_t *back;
    size_t back_len;
    error err;
    codec_grpc_status st;
} grpc_oom;

static int grpc_oom_encode(void *ctx)
{
    grpc_oom *o = ctx;
    o->text = codec_grpc_base64_encode(&heap, o->data, o->len, 1, &o->text_len);
    return o->text != NULL ? 0 : -1;
}

static int grpc_oom_decode(void *ctx)
{
    grpc_oom *o = ctx;
    return codec_grpc_base64_decode(&heap, "Zm9vYmFy", 8, &o->back, &o->back_len);
}

static void grpc_oom_encode_check(void *ctx, int ok)
{
    grpc_oom *o = ctx;
    CHECK(ok ? o->text != NULL && strcmp(o->text, "Zm9vYmFy") == 0 : o->text == NULL);
}

static void grpc_oom_decode_check(void *ctx, int ok)
{
    grpc_oom *o = ctx;
    CHECK(ok ? o->back_len == 6 && memcmp(o->back, "foobar", 6) == 0 : o->back == NULL);
}

/* status_make cannot fail: out of memory leaves grpc-status-details-bin empty, the rest whole */
static int grpc_oom_status(void *ctx)
{
    grpc_oom *o = ctx;
    codec_grpc_status_make(&o->err, &pool, &o->st);
    return 0;
}

static void grpc_oom_status_check(void *ctx, int ok)
{
    grpc_oom *o = ctx;
    CHECK(ok && o->st.code == 3 && strstr(o->st.message, "url") != NULL);
    if (o->st.details_len > 0) {
        schema_rpc_status *rs = details_of(&o->st);
        CHECK(rs != NULL && rs->code == 3);
        if (rs != NULL)
            protobuf_c_message_free_unpacked(&rs->base, NULL);
    } else {
        CHECK(strcmp(o->st.details, "") == 0);
    }
}

static void grpc_oom_free(void *ctx)
{
    grpc_oom *o = ctx;
    free(o->text);
    free(o->back);
    o->text = NULL;
    o->back = NULL;
    pool_clear();
    o->st.details_len = 0;
}

static void test_out_of_memory(void)
{
    grpc_oom o = {.data = (const uint8_t *)"foobar", .len = 6};
    oom_op enc = {"codec_grpc_base64_encode", &o, NULL, grpc_oom_encode, grpc_oom_encode_check, grpc_oom_free};
    CHECK(oom_loop(&enc) == 0);
    CHECK(oom_loop_persistent(&enc) == 0);
    oom_op dec = {"codec_grpc_base64_decode", &o, NULL, grpc_oom_decode, grpc_oom_decode_check, grpc_oom_free};
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    error_clear(&o.err);
    error_add_param(&o.err, ERROR_IN_BODY, 2, "url", "field is required");
    oom_op st = {"codec_grpc_status_make", &o, NULL, grpc_oom_status, grpc_oom_status_check, grpc_oom_free};
    CHECK(oom_loop(&st) == 0);
    CHECK(oom_loop_persistent(&st) == 0);
}

int main(void)
{
    test_frame_header();
    test_unframe();
    test_unframe_gzip();
    test_frame_next();
    test_percent_encode();
    test_base64();
    test_status();
    test_out_of_memory();
    return test_exit_code();
}
