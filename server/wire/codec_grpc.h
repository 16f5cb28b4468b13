/* codec_grpc: gRPC's length-prefixed message framing and its status text, shared by
 * gRPC-Web (on h2o) and native gRPC (on nghttp2).
 *
 * A frame is a flag byte (0x00 data, 0x01 compressed, 0x80 trailer), a 4-byte big-endian
 * length and the payload. A unary request carries exactly one data frame, compressed
 * (gzip, as its grpc-encoding says) or not. */
#ifndef HOOKGATE_CODEC_GRPC_H
#define HOOKGATE_CODEC_GRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gzip.h"

#define CODEC_GRPC_FRAME_HEADER 5
#define CODEC_GRPC_FLAG_COMPRESSED 0x01
#define CODEC_GRPC_FLAG_TRAILER 0x80
#define CODEC_GRPC_MESSAGE_MAX (ERROR_MESSAGE_MAX * 6) /* bytes of a percent-encoded grpc-message */

/* Finds the one data frame of a unary request body and, when its compressed flag is set,
 * inflates it (coding: the request's grpc-encoding, GZIP_IDENTITY or GZIP_GZIP; a
 * transport answers GZIP_UNSUPPORTED itself) into memory from alloc. Returns 0 with
 * msg/msg_len set (into body, or the inflated copy), or -1 with err: ERROR_TOO_LARGE for a
 * frame over `limit`, or a message over it once inflated (gzip_decode: never more than
 * limit + 1 bytes are inflated); ERROR_INTERNAL when out of memory; ERROR_INVALID_BODY for
 * anything else (no frame, a length that lies, extra bytes, the compressed flag under
 * identity, a gzip stream that is not one). */
int codec_grpc_unframe(const uint8_t *body, size_t len, size_t limit, gzip_coding coding, ProtobufCAllocator *alloc,
                       const uint8_t **msg, size_t *msg_len, error *err);

/* Reads the frame at the front of buf[0..len), one of a stream's messages (never compressed:
 * a frame flagged so is refused as codec_grpc_unframe refuses one without grpc-encoding).
 * Returns 1 with
 * msg/msg_len and *used (the frame's bytes, header included); 0 when buf holds no whole
 * frame yet; -1 with err as codec_grpc_unframe's (a header over `limit` fails as soon as
 * it is in, before its payload is waited for). */
int codec_grpc_frame_next(const uint8_t *buf, size_t len, size_t limit, const uint8_t **msg, size_t *msg_len,
                          size_t *used, error *err);

/* Writes a frame header for a payload of len bytes. */
void codec_grpc_frame_header(uint8_t out[CODEC_GRPC_FRAME_HEADER], uint8_t flag, size_t len);

/* Percent-encodes text for grpc-message (bytes outside printable ASCII, and '%'); the
 * result is truncated to fit out_size, NUL included. Returns its length. */
size_t codec_grpc_percent_encode(const char *text, char *out, size_t out_size);

/* Base64 (standard alphabet) of data into memory from alloc, NUL-terminated; `padded`
 * keeps the trailing '='. gRPC binary headers and gRPC-Web-text bodies use it. NULL when
 * out of memory. */
char *codec_grpc_base64_encode(ProtobufCAllocator *alloc, const uint8_t *data, size_t len, int padded, size_t *out_len);

/* Decodes padded standard base64 into memory from alloc; -1 when text is not that. */
int codec_grpc_base64_decode(ProtobufCAllocator *alloc, const char *text, size_t len, uint8_t **out, size_t *out_len);

/* What a gRPC response ends with: grpc-status, grpc-message (percent-encoded) and
 * grpc-status-details-bin (base64 of the schema's RpcStatus; "" when OK). */
typedef struct codec_grpc_status {
    int code;
    char message[CODEC_GRPC_MESSAGE_MAX];
    const char *details;
    size_t details_len;
} codec_grpc_status;

/* Fills st for err (NULL = success); memory for details from alloc. */
void codec_grpc_status_make(const error *err, ProtobufCAllocator *alloc, codec_grpc_status *st);

#endif
