/* codec_grpc: see codec_grpc.h. */
#include "codec_grpc.h"

#include <openssl/evp.h>
#include <stdio.h>

#include "hg_assert.h"
#include "status.h"

#define FLAG_COMPRESSED 0x01

int codec_grpc_unframe(const uint8_t *body, size_t len, size_t limit, const uint8_t **msg, size_t *msg_len, error *err)
{
    if (len < CODEC_GRPC_FRAME_HEADER) {
        error_set(err, ERROR_INVALID_BODY, "The request holds no complete gRPC frame.");
        return -1;
    }
    size_t n = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 | body[4];
    if (body[0] == FLAG_COMPRESSED) {
        error_set(err, ERROR_UNIMPLEMENTED, "Compressed messages are not supported.");
        return -1;
    }
    if (body[0] != 0) {
        error_set(err, ERROR_INVALID_BODY, "The request's frame is not a data frame.");
        return -1;
    }
    if (n > limit) {
        error_set(err, ERROR_TOO_LARGE, "The message exceeds the limit of %zu bytes.", limit);
        return -1;
    }
    if (n != len - CODEC_GRPC_FRAME_HEADER) {
        error_set(err, ERROR_INVALID_BODY, "The frame says %zu bytes but %zu follow it.", n,
                  len - CODEC_GRPC_FRAME_HEADER);
        return -1;
    }
    *msg = body + CODEC_GRPC_FRAME_HEADER;
    *msg_len = n;
    HG_ASSERT(*msg_len <= limit && *msg + *msg_len == body + len); /* exactly one frame, all of it */
    return 0;
}

void codec_grpc_frame_header(uint8_t out[CODEC_GRPC_FRAME_HEADER], uint8_t flag, size_t len)
{
    HG_ASSERT(len <= UINT32_MAX); /* the length field is 32 bits */
    out[0] = flag;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

size_t codec_grpc_percent_encode(const char *text, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && o + 4 <= out_size; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '%') {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        } else {
            out[o++] = (char)*p;
        }
    }
    if (out_size > 0)
        out[o] = '\0';
    return o;
}

char *codec_grpc_base64_encode(ProtobufCAllocator *alloc, const uint8_t *data, size_t len, int padded, size_t *out_len)
{
    char *out = alloc->alloc(alloc->allocator_data, 4 * ((len + 2) / 3) + 1);
    if (out == NULL)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (!padded && n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    *out_len = (size_t)n;
    return out;
}

int codec_grpc_base64_decode(ProtobufCAllocator *alloc, const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    if (len % 4 != 0)
        return -1;
    /* EVP_DecodeBlock reads '=' anywhere as zero bits: only the last two may be padding */
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        int alphabet =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        int padding = c == '=' && i + 2 >= len && (i + 1 == len || text[len - 1] == '=');
        if (!alphabet && !padding)
            return -1;
    }
    uint8_t *buf = alloc->alloc(alloc->allocator_data, len / 4 * 3 + 1);
    if (buf == NULL)
        return -1;
    int n = len ? EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len) : 0;
    if (n < 0) {
        alloc->free(alloc->allocator_data, buf);
        return -1;
    }
    for (size_t i = len; i > 0 && text[i - 1] == '='; i--)
        n--; /* EVP_DecodeBlock counts padding as zero bytes */
    *out = buf;
    *out_len = (size_t)n;
    return 0;
}

void codec_grpc_status_make(const error *err, ProtobufCAllocator *alloc, codec_grpc_status *st)
{
    st->code = 0;
    st->message[0] = '\0';
    st->details = "";
    st->details_len = 0;
    if (err == NULL)
        return;
    char text[ERROR_MESSAGE_MAX * 2];
    size_t len;
    st->code = status_of(err->kind)->grpc_status;
    status_summary(err, text, sizeof(text));
    codec_grpc_percent_encode(text, st->message, sizeof(st->message));
    uint8_t *status = status_rpc_encode(err, alloc, &len);
    char *details = status != NULL ? codec_grpc_base64_encode(alloc, status, len, 0, &st->details_len) : NULL;
    if (details != NULL)
        st->details = details;
}
