/* codec_connect_get: the query string of a Connect unary GET request
 * (`?connect=v1&encoding=json|proto&message=...[&base64=1][&compression=gzip]`) read into
 * the message bytes and their codec, which then go where a POST's body goes.
 *
 * Values are percent-decoded by the form-urlencoded rules (uriparser; `+` is a space), as
 * Connect's own servers read them; `message` may hold any byte (%00 included). Parameters
 * the protocol does not name are ignored, as the Connect spec asks (a client may add one
 * to defeat a cache); one it names given twice is a problem of that parameter. */
#ifndef HOOKGATE_CODEC_CONNECT_GET_H
#define HOOKGATE_CODEC_CONNECT_GET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum codec_connect_encoding {
    CODEC_CONNECT_UNSUPPORTED, /* `encoding` absent, or a codec other than these two: HTTP 415 */
    CODEC_CONNECT_PROTO,
    CODEC_CONNECT_JSON,
} codec_connect_encoding;

typedef struct codec_connect_get {
    codec_connect_encoding encoding;
    const uint8_t *message; /* decoded (percent, then base64url when base64=1), in alloc's memory */
    size_t message_len;
} codec_connect_get;

/* Reads query (len bytes, without the '?'; at most `limit` bytes, the body limit) into out,
 * memory from alloc. Returns 0, or -1 with err: ERROR_TOO_LARGE for a query over limit,
 * ERROR_UNIMPLEMENTED for a compression other than identity and gzip (gzip: the message
 * is inflated, held to `limit` too: ERROR_TOO_LARGE past it), ERROR_INVALID_PARAMS (in
 * query) for `connect` other than v1, `base64` other than 0 or 1, `message` absent or not
 * base64url, a parameter given twice; ERROR_INTERNAL when out of memory. out->encoding
 * is set whenever 0 is returned: the caller answers 415 for CODEC_CONNECT_UNSUPPORTED. */
int codec_connect_get_decode(const char *query, size_t len, size_t limit, ProtobufCAllocator *alloc,
                             codec_connect_get *out, error *err);

#endif
