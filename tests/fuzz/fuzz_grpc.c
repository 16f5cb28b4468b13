/* fuzz_grpc: gRPC framing and status, as native gRPC and gRPC-Web use them.
 *
 * The input is, in turn: a gRPC / gRPC-Web request body (unframed, its message decoded as
 * each request and validated); a gRPC-Web-text body (base64, then the same); and the text
 * of an error (first byte: its kind; then its reason, or its params split at newlines),
 * turned into the grpc-status / grpc-message / grpc-status-details-bin trailers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_grpc.h"
#include "codec_proto.h"
#include "fuzz.h"
#include "schema.h"

#define FUZZ_SMALL_LIMIT 16 /* a max_body_bytes that small inputs can cross */

static const ProtobufCMessageDescriptor *const requests[] = {
    &schema_create_request_descriptor,
    &schema_get_request_descriptor,
    &schema_list_request_descriptor,
};

/* A unary request body, as http_rpc.c and grpc.c take it. */
static void body(const uint8_t *data, size_t size)
{
    const uint8_t *msg;
    size_t msg_len;
    error err;
    error_clear(&err);
    if (codec_grpc_unframe(data, size, fuzz_limits.max_body_bytes, GZIP_IDENTITY, fuzz_arena(), &msg, &msg_len, &err) != 0) {
        FUZZ_CHECK(err.kind == ERROR_INVALID_BODY || err.kind == ERROR_TOO_LARGE,
                   "codec_grpc_unframe failed with an unexpected kind");
        fuzz_check_error(&err);
        return;
    }
    FUZZ_CHECK(size >= CODEC_GRPC_FRAME_HEADER && data[0] == 0 && msg == data + CODEC_GRPC_FRAME_HEADER &&
                   msg_len == size - CODEC_GRPC_FRAME_HEADER,
               "codec_grpc_unframe accepted something that is not exactly one data frame");
    error small;
    error_clear(&small);
    const uint8_t *small_msg;
    size_t small_len;
    int small_rc = codec_grpc_unframe(data, size, FUZZ_SMALL_LIMIT, GZIP_IDENTITY, fuzz_arena(), &small_msg, &small_len, &small);
    FUZZ_CHECK(msg_len > FUZZ_SMALL_LIMIT ? small_rc != 0 && small.kind == ERROR_TOO_LARGE : small_rc == 0,
               "codec_grpc_unframe does not hold a frame to its limit");
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        error_clear(&err);
        ProtobufCMessage *m = codec_proto_decode(requests[i], msg, msg_len, fuzz_arena(), &err);
        if (m != NULL)
            fuzz_validate(m, &err);
        FUZZ_CHECK(fuzz_error_is_text(&err), "a request's error is not UTF-8");
        fuzz_check_error(&err);
    }
}

/* A gRPC-Web-text body: base64 of the framed message. */
static void text_body(const uint8_t *data, size_t size)
{
    uint8_t *decoded;
    size_t decoded_len;
    if (codec_grpc_base64_decode(fuzz_arena(), (const char *)data, size, &decoded, &decoded_len) != 0)
        return;
    FUZZ_CHECK(size % 4 == 0 && decoded_len <= size / 4 * 3, "base64 decoded to more bytes than it can hold");
    body(decoded, decoded_len);
}

/* base64 that codec_grpc writes, codec_grpc reads back to the same bytes. */
static void base64_round_trip(const uint8_t *data, size_t size)
{
    size_t text_len, back_len;
    char *text = codec_grpc_base64_encode(fuzz_arena(), data, size, 1, &text_len);
    FUZZ_CHECK(text != NULL && text_len == (size + 2) / 3 * 4, "codec_grpc_base64_encode wrote the wrong length");
    uint8_t *back;
    FUZZ_CHECK(codec_grpc_base64_decode(fuzz_arena(), text, text_len, &back, &back_len) == 0,
               "codec_grpc_base64_decode rejects what codec_grpc_base64_encode wrote");
    FUZZ_CHECK(back_len == size && memcmp(back, data, size) == 0, "base64 round trip changed the bytes");
    char *unpadded = codec_grpc_base64_encode(fuzz_arena(), data, size, 0, &text_len);
    FUZZ_CHECK(unpadded != NULL && text_len == (size * 4 + 2) / 3, "unpadded base64 has the wrong length");
}

/* grpc-message: printable ASCII that percent-decodes to the text it was made of. */
static void percent_round_trip(const uint8_t *data, size_t size)
{
    char text[ERROR_MESSAGE_MAX], out[CODEC_GRPC_MESSAGE_MAX];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    size_t len = codec_grpc_percent_encode(text, out, sizeof(out));
    FUZZ_CHECK(len == strlen(out), "codec_grpc_percent_encode returned the wrong length");
    size_t t = 0;
    for (size_t i = 0; i < len; t++) {
        FUZZ_CHECK(out[i] >= 0x20 && out[i] <= 0x7e, "grpc-message is not printable ASCII");
        unsigned c = (unsigned char)out[i];
        if (out[i] == '%') {
            FUZZ_CHECK(i + 3 <= len, "a truncated percent escape");
            char hex[3] = {out[i + 1], out[i + 2], '\0'};
            c = (unsigned)strtoul(hex, NULL, 16);
            i += 3;
        } else {
            i++;
        }
        FUZZ_CHECK(c == (unsigned char)text[t], "grpc-message does not percent-decode to its text");
    }
    FUZZ_CHECK(t == strlen(text), "grpc-message lost text it had room for");
}

/* Copies the line at text[*at..len) into out (truncated to fit) and moves past it. */
static void next_line(const char *text, size_t len, size_t *at, char *out, size_t out_size)
{
    const char *nl = memchr(text + *at, '\n', len - *at);
    size_t end = nl != NULL ? (size_t)(nl - text) : len, n = end - *at < out_size - 1 ? end - *at : out_size - 1;
    memcpy(out, text + *at, n);
    out[n] = '\0';
    *at = nl != NULL ? end + 1 : len;
}

/* An error made of the input's text, as the trailers carry it. */
static void status(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    error err;
    error_clear(&err);
    error_kind kind = (error_kind)(data[0] % ERROR_KIND_COUNT);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (kind == ERROR_INVALID_PARAMS || kind == ERROR_INVALID_BODY) {
        if (kind == ERROR_INVALID_BODY)
            error_set(&err, kind, "unreadable");
        /* lines alternate path and message, both longer than error.h keeps if the input is */
        char path[ERROR_PATH_MAX * 2], message[ERROR_MESSAGE_MAX * 2];
        for (size_t at = 0, i = 0; at < len; i++) {
            next_line(text, len, &at, path, sizeof(path));
            next_line(text, len, &at, message, sizeof(message));
            error_add_param(&err, (error_in)(i % 4), (unsigned)(len - at), path, "%s", message);
        }
    } else {
        error_set(&err, kind, "%.*s", (int)len, text);
    }
    fuzz_check_error(&err);
    codec_grpc_status st;
    codec_grpc_status_make(NULL, fuzz_arena(), &st);
    FUZZ_CHECK(st.code == 0 && st.message[0] == '\0' && st.details_len == 0, "success has a status other than 0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    body(data, size);
    text_body(data, size);
    base64_round_trip(data, size);
    percent_round_trip(data, size);
    status(data, size);
    fuzz_arena_clear();
    return 0;
}
