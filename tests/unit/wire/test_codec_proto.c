/* test_codec_proto: binary protobuf both ways, and the checks protobuf-c leaves to us.
 *
 * Round trips of the request and response messages (bytes equal to protobuf-c's own
 * packing); strings that are not UTF-8 or hold a NUL refused on the wire, also inside a
 * nested message; field number 0, lengths that lie and truncated varints refused; unknown
 * fields ignored; UTF-8 at its edges (overlong forms, surrogates, past U+10FFFF,
 * truncated); a caller's allocator used for every block; and OOM loops over decode and
 * encode: out of memory is ERROR_INTERNAL, never a client's bad bytes. (The nesting
 * limit cannot be reached through this schema: no message nests more than three deep,
 * and unknown fields are not descended into.) */
#include "codec_proto.h"
#include "oom.h"
#include "schema.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ECO "C5a96c3ea0e4c1b0001a0b0c0"

static schema_create_request create_of(const char *eco, const char *url, const char *secret, const char *desc)
{
    schema_create_request r = SCHEMA_CREATE_REQUEST_INIT;
    r.ecosystem_id = (char *)eco;
    r.url = (char *)url;
    r.secret = (char *)secret;
    r.description = (char *)desc;
    return r;
}

/* Packs msg with protobuf-c itself (the reference) into a malloc'd buffer. */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*len ? *len : 1);
    protobuf_c_message_pack(msg, buf);
    return buf;
}

static void test_round_trip(void)
{
    schema_create_request r = create_of(ECO, "https://exämple.org/h?q=✓", "ключ", "日本語 🎉");
    size_t len, n = 0;
    uint8_t *ref = pack(&r.base, &len);
    uint8_t *enc = codec_proto_encode(&r.base, NULL, &n);
    CHECK(enc != NULL && n == len && memcmp(enc, ref, len) == 0);

    error err;
    error_clear(&err);
    schema_create_request *back =
        (schema_create_request *)codec_proto_decode(&schema_create_request_descriptor, enc, n, NULL, &err);
    CHECK(back != NULL && err.kind == ERROR_NONE);
    if (back != NULL) {
        CHECK_STR(back->ecosystem_id, ECO);
        CHECK_STR(back->url, r.url);
        CHECK_STR(back->secret, r.secret);
        CHECK_STR(back->description, r.description);
        protobuf_c_message_free_unpacked(&back->base, NULL);
    }
    free(ref);
    free(enc);

    /* an empty message is all defaults; encoding it is zero bytes */
    schema_create_request empty = SCHEMA_CREATE_REQUEST_INIT;
    enc = codec_proto_encode(&empty.base, NULL, &n);
    CHECK(enc != NULL && n == 0);
    free(enc);
    back = (schema_create_request *)codec_proto_decode(&schema_create_request_descriptor, (const uint8_t *)"", 0, NULL,
                                                       &err);
    CHECK(back != NULL && back->url != NULL && back->url[0] == '\0');
    if (back != NULL)
        protobuf_c_message_free_unpacked(&back->base, NULL);

    /* a list of webhooks with timestamps: nested messages both ways */
    schema_webhook a = SCHEMA_WEBHOOK_INIT, b = SCHEMA_WEBHOOK_INIT;
    schema_timestamp ta = SCHEMA_TIMESTAMP_INIT, tb = SCHEMA_TIMESTAMP_INIT;
    ta.seconds = 1519831018, ta.nanos = 941000000, tb.seconds = 1519831019;
    a.id = "5a96c7ea0e4c1b0001a0b0c0", a.ecosystem_id = ECO, a.url = "https://example.com/a", a.created_at = &ta;
    b.id = "5a96c7eb0e4c1b0001a0b0c1", b.ecosystem_id = ECO, b.url = "https://example.com/b", b.created_at = &tb;
    b.disabled = 1, b.description = "second";
    schema_webhook *items[] = {&a, &b};
    schema_list_response list = SCHEMA_LIST_RESPONSE_INIT;
    list.items = items, list.n_items = 2;
    enc = codec_proto_encode(&list.base, NULL, &n);
    schema_list_response *lb =
        (schema_list_response *)codec_proto_decode(&schema_list_response_descriptor, enc, n, NULL, &err);
    CHECK(lb != NULL && lb->n_items == 2);
    if (lb != NULL && lb->n_items == 2) {
        CHECK_STR(lb->items[1]->description, "second");
        CHECK(lb->items[1]->disabled == 1);
        CHECK(lb->items[0]->created_at != NULL && lb->items[0]->created_at->nanos == 941000000);
    }
    if (lb != NULL)
        protobuf_c_message_free_unpacked(&lb->base, NULL);
    free(enc);
}

/* Expects desc's decode of data to fail with ERROR_INVALID_BODY naming `why`. */
static void expect_refused(int line, const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                           const char *why)
{
    error err;
    error_clear(&err);
    ProtobufCMessage *m = codec_proto_decode(desc, data, len, NULL, &err);
    int ok = m == NULL && err.kind == ERROR_INVALID_BODY && err.n_params == 1 &&
             strcmp(error_param_path(&err, 0), "body") == 0 && strstr(error_param_message(&err, 0), why) != NULL;
    if (!ok) {
        fprintf(stderr, "test_codec_proto.c:%d: decode %s (kind %d, %u params, \"%s\")\n", line,
                m != NULL ? "succeeded" : "failed otherwise", err.kind, (unsigned)err.n_params,
                err.n_params ? error_param_message(&err, 0) : "");
        test_failures++;
    }
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

#define REFUSED(desc, bytes, why) expect_refused(__LINE__, desc, (const uint8_t *)(bytes), sizeof(bytes) - 1, why)

static void test_refusals(void)
{
    const ProtobufCMessageDescriptor *create = &schema_create_request_descriptor;
    /* field 2 (url) = "a\xffb": not UTF-8; with a NUL; an overlong NUL */
    REFUSED(create,
            "\x12\x03"
            "a\xff"
            "b",
            "not UTF-8");
    REFUSED(create,
            "\x12\x03"
            "a\0b",
            "not UTF-8 text (or contains NUL)");
    REFUSED(create, "\x12\x02\xc0\x80", "not UTF-8");
    /* inside a nested message: ListWebhooksResponse.items[0].url */
    REFUSED(&schema_list_response_descriptor,
            "\x0a\x05\x22\x03"
            "a\xff"
            "b",
            "not UTF-8");
    /* field number 0 */
    REFUSED(create, "\x02\x00", "field numbered 0");
    /* a length past the end; a truncated varint; a group wire type */
    REFUSED(create,
            "\x12\x05"
            "ab",
            "cannot be decoded");
    REFUSED(create, "\x10\xff\xff", "cannot be decoded");
    REFUSED(create, "\x13", "cannot be decoded");

    /* unknown fields (number 99, each wire type) are skipped, known ones kept */
    static const uint8_t unknown[] = {0x98, 0x06, 0x01,                /* 99 varint */
                                      0x9a, 0x06, 0x02, 0xff, 0xfe,    /* 99 bytes, not text */
                                      0x9d, 0x06, 1,    2,    3,    4, /* 99 fixed32 */
                                      0x12, 0x01, 'u'};                /* url = "u" */
    error err;
    error_clear(&err);
    schema_create_request *r = (schema_create_request *)codec_proto_decode(create, unknown, sizeof unknown, NULL, &err);
    CHECK(r != NULL && err.kind == ERROR_NONE);
    if (r != NULL) {
        CHECK_STR(r->url, "u");
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}

static int is_text(const char *s, size_t len)
{
    return codec_proto_is_text((const uint8_t *)s, len);
}

#define TEXT(lit) is_text(lit, sizeof(lit) - 1)

static void test_is_text(void)
{
    CHECK(TEXT("") && TEXT("plain") && TEXT("\x7f"));
    CHECK(TEXT("\xc2\x80") && TEXT("\xdf\xbf"));                 /* 2 bytes: U+0080, U+07FF */
    CHECK(TEXT("\xe0\xa0\x80") && TEXT("\xef\xbf\xbf"));         /* 3 bytes: U+0800, U+FFFF */
    CHECK(TEXT("\xed\x9f\xbf") && TEXT("\xee\x80\x80"));         /* around the surrogates */
    CHECK(TEXT("\xf0\x90\x80\x80") && TEXT("\xf4\x8f\xbf\xbf")); /* U+10000, U+10FFFF */
    CHECK(!TEXT("\0") && !TEXT("a\0"));
    CHECK(!TEXT("\xc0\x80") && !TEXT("\xc1\xbf"));                      /* overlong 2 */
    CHECK(!TEXT("\xe0\x9f\xbf"));                                       /* overlong 3 */
    CHECK(!TEXT("\xf0\x8f\xbf\xbf"));                                   /* overlong 4 */
    CHECK(!TEXT("\xed\xa0\x80") && !TEXT("\xed\xbf\xbf"));              /* surrogates */
    CHECK(!TEXT("\xf4\x90\x80\x80") && !TEXT("\xf7\xbf\xbf\xbf"));      /* past U+10FFFF */
    CHECK(!TEXT("\xf8\x88\x80\x80\x80") && !TEXT("\xff"));              /* 5-byte lead, 0xff */
    CHECK(!TEXT("\x80") && !TEXT("a\xbf"));                             /* a continuation first */
    CHECK(!TEXT("\xc2") && !TEXT("\xe0\xa0") && !TEXT("\xf0\x90\x80")); /* truncated at the end */
    CHECK(!TEXT("\xc2"
                "a") &&
          !TEXT("\xe0\xa0"
                "a")); /* interrupted */
    /* the length is the caller's: a valid sequence cut by len is truncated */
    CHECK(!is_text("\xe2\x9c\x93", 2) && is_text("\xe2\x9c\x93", 3));
}

/* A caller's allocator: every block of a decode comes from it and goes back to it. */
static long live;

static void *count_alloc(void *data, size_t size)
{
    (void)data;
    live++;
    return malloc(size);
}

static void count_free(void *data, void *p)
{
    (void)data;
    if (p != NULL)
        live--;
    free(p);
}

static void test_allocator(void)
{
    ProtobufCAllocator a = {count_alloc, count_free, NULL};
    schema_create_request r = create_of(ECO, "https://example.com/h", "s", "d");
    size_t n;
    uint8_t *enc = codec_proto_encode(&r.base, &a, &n);
    CHECK(enc != NULL && live == 1);
    error err;
    error_clear(&err);
    ProtobufCMessage *m = codec_proto_decode(&schema_create_request_descriptor, enc, n, &a, &err);
    CHECK(m != NULL && live > 1);
    protobuf_c_message_free_unpacked(m, &a);
    count_free(NULL, enc);
    CHECK(live == 0);
}

/* ---- out of memory ---- */

typedef struct proto_oom {
    const ProtobufCMessageDescriptor *desc;
    const ProtobufCMessage *msg; /* what the bytes are */
    uint8_t *bytes;
    size_t len;
    ProtobufCMessage *out;
    uint8_t *enc;
    size_t enc_len;
    error err;
} proto_oom;

static int proto_oom_decode(void *ctx)
{
    proto_oom *o = ctx;
    error_clear(&o->err);
    o->out = codec_proto_decode(o->desc, o->bytes, o->len, NULL, &o->err);
    return o->out != NULL ? 0 : -1;
}

static void proto_oom_decode_check(void *ctx, int ok)
{
    proto_oom *o = ctx;
    if (!ok) {
        CHECK(o->out == NULL && o->err.kind == ERROR_INTERNAL); /* not the client's fault */
        return;
    }
    size_t n;
    uint8_t *again = pack(o->out, &n); /* whole: packs back to the same bytes */
    CHECK(n == o->len && memcmp(again, o->bytes, n) == 0);
    free(again);
}

static int proto_oom_encode(void *ctx)
{
    proto_oom *o = ctx;
    o->enc = codec_proto_encode(o->msg, NULL, &o->enc_len);
    return o->enc != NULL ? 0 : -1;
}

static void proto_oom_encode_check(void *ctx, int ok)
{
    proto_oom *o = ctx;
    CHECK(ok ? o->enc_len == o->len && memcmp(o->enc, o->bytes, o->len) == 0 : o->enc == NULL);
}

static void proto_oom_free(void *ctx)
{
    proto_oom *o = ctx;
    if (o->out != NULL)
        protobuf_c_message_free_unpacked(o->out, NULL);
    o->out = NULL;
    free(o->enc);
    o->enc = NULL;
}

static void test_out_of_memory(void)
{
    schema_create_request r = create_of(ECO, "https://example.com/hook", "s3cret", "d");
    proto_oom o = {.desc = &schema_create_request_descriptor, .msg = &r.base};
    o.bytes = pack(&r.base, &o.len);
    oom_op dec = {
        "codec_proto_decode(CreateWebhookRequest)", &o, NULL, proto_oom_decode, proto_oom_decode_check, proto_oom_free};
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    oom_op enc = {
        "codec_proto_encode(CreateWebhookRequest)", &o, NULL, proto_oom_encode, proto_oom_encode_check, proto_oom_free};
    CHECK(oom_loop(&enc) == 0);
    CHECK(oom_loop_persistent(&enc) == 0);
    free(o.bytes);

    schema_webhook a = SCHEMA_WEBHOOK_INIT;
    schema_timestamp ta = SCHEMA_TIMESTAMP_INIT;
    ta.seconds = 1519831018;
    a.id = "5a96c7ea0e4c1b0001a0b0c0", a.ecosystem_id = ECO, a.url = "https://example.com/a", a.created_at = &ta;
    schema_webhook *items[] = {&a, &a, &a};
    schema_list_response list = SCHEMA_LIST_RESPONSE_INIT;
    list.items = items, list.n_items = 3;
    o = (proto_oom){.desc = &schema_list_response_descriptor, .msg = &list.base};
    o.bytes = pack(&list.base, &o.len);
    dec.name = "codec_proto_decode(ListWebhooksResponse)";
    CHECK(oom_loop(&dec) == 0);
    CHECK(oom_loop_persistent(&dec) == 0);
    free(o.bytes);
}

int main(void)
{
    test_round_trip();
    test_refusals();
    test_is_text();
    test_allocator();
    test_out_of_memory();
    return test_exit_code();
}
