/* codec_grpc: see codec_grpc.h. */
#include "codec_grpc.h"

#include <stdio.h>

#include "base64.h"
#include "hg_assert.h"
#include "status.h"

int codec_grpc_unframe(const uint8_t *body, size_t len, size_t limit, gzip_coding coding, ProtobufCAllocator *alloc,
                       const uint8_t **msg, size_t *msg_len, error *err)
{
    HG_ASSERT(coding == GZIP_IDENTITY || coding == GZIP_GZIP);
    if (len < CODEC_GRPC_FRAME_HEADER) {
        error_set(err, ERROR_INVALID_BODY, "The request holds no complete gRPC frame.");
        return -1;
    }
    size_t n = (size_t)body[1] << 24 | (size_t)body[2] << 16 | (size_t)body[3] << 8 | body[4];
    if (body[0] != 0 && body[0] != CODEC_GRPC_FLAG_COMPRESSED) {
        error_set(err, ERROR_INVALID_BODY, "The request's frame is not a data frame.");
        return -1;
    }
    if (body[0] == CODEC_GRPC_FLAG_COMPRESSED && coding == GZIP_IDENTITY) {
        error_set(err, ERROR_INVALID_BODY, "The message is flagged compressed but the call names no grpc-encoding.");
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
    HG_ASSERT(body + CODEC_GRPC_FRAME_HEADER + n == body + len); /* exactly one frame, all of it */
    if (body[0] == CODEC_GRPC_FLAG_COMPRESSED) {
        uint8_t *inflated;
        if (gzip_decode(body + CODEC_GRPC_FRAME_HEADER, n, limit, alloc, &inflated, msg_len, err) != 0)
            return -1;
        *msg = inflated;
    } else {
        *msg = body + CODEC_GRPC_FRAME_HEADER;
        *msg_len = n;
    }
    HG_ASSERT(*msg_len <= limit);
    return 0;
}

int codec_grpc_frame_next(const uint8_t *buf, size_t len, size_t limit, const uint8_t **msg, size_t *msg_len,
                          size_t *used, error *err)
{
    if (len < CODEC_GRPC_FRAME_HEADER)
        return 0;
    size_t n = (size_t)buf[1] << 24 | (size_t)buf[2] << 16 | (size_t)buf[3] << 8 | buf[4];
    /* a stream's messages are not compressed (identity: unframe allocates nothing) */
    if (n > limit) /* refused once its header is in: unframe reads no payload to say so */
        return codec_grpc_unframe(buf, CODEC_GRPC_FRAME_HEADER + n, limit, GZIP_IDENTITY, NULL, msg, msg_len, err);
    if (len - CODEC_GRPC_FRAME_HEADER < n)
        return 0;
    if (codec_grpc_unframe(buf, CODEC_GRPC_FRAME_HEADER + n, limit, GZIP_IDENTITY, NULL, msg, msg_len, err) != 0)
        return -1;
    *used = CODEC_GRPC_FRAME_HEADER + n;
    return 1;
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
    char *out = alloc->alloc(alloc->allocator_data, BASE64_ENCODED_LEN(len) + 1);
    if (out == NULL)
        return NULL;
    *out_len = base64_encode(data, len, padded ? BASE64_PADDED : 0, out);
    return out;
}

int codec_grpc_base64_decode(ProtobufCAllocator *alloc, const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = alloc->alloc(alloc->allocator_data, BASE64_DECODED_MAX(len) + 1);
    if (buf == NULL)
        return -1;
    if (base64_decode(text, len, 0, buf, out_len) != 0) {
        alloc->free(alloc->allocator_data, buf);
        return -1;
    }
    *out = buf;
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
