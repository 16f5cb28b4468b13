/* codec_proto: protobuf binary to and from schema messages, with the checks protobuf-c
 * leaves to its caller.
 *
 * protobuf-c neither checks that proto3 strings are UTF-8 nor notices a NUL inside one
 * (its C strings would silently end there); decoding checks both on the wire before
 * unpacking, so a message that decodes carries exactly the strings that were sent.
 * Unknown fields are ignored, as protobuf's binary format intends. */
#ifndef HOOKGATE_CODEC_PROTO_H
#define HOOKGATE_CODEC_PROTO_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CODEC_PROTO_MAX_DEPTH 32 /* nesting of messages a decode accepts (a Struct's entries and Values not counted) */

/* Decodes len bytes into a new message of type desc allocated with alloc (NULL = malloc;
 * free with protobuf_c_message_free_unpacked). Returns NULL with ERROR_INVALID_BODY (one
 * param, path "body", saying why) for bytes that are not such a message, or with
 * ERROR_INTERNAL when out of memory. */
ProtobufCMessage *codec_proto_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                     ProtobufCAllocator *alloc, error *err);

/* Packs msg into a new buffer from alloc (NULL = malloc). Returns it with its length in
 * *len, or NULL when out of memory. */
uint8_t *codec_proto_encode(const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len);

/* 1 when s[0..len) is well-formed UTF-8 without NUL (shared with the other codecs). */
int codec_proto_is_text(const uint8_t *s, size_t len);

#endif
