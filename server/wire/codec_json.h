/* codec_json: any protobuf-c message to and from JSON, driven only by the runtime
 * descriptors (the proto3 JSON mapping).
 *
 * Names are lowerCamelCase; decoding also accepts the original field names. `null` means
 * absent (except as a Value, below). int64 kinds are strings on output and strings or numbers on input; bytes are
 * base64; enums are names (numbers accepted on input). google.protobuf.Timestamp is an
 * RFC 3339 string in UTC with `Z` and at least millisecond precision
 * ("2018-02-28T15:16:58.941Z"). Encoding writes every field, defaults included, in field
 * number order. Map fields are not supported (the schema has none; Struct's map is
 * handled as Struct, below).
 *
 * google.protobuf.Struct, Value and ListValue (known by descriptor, wherever they are
 * used) are JSON itself: a Struct is an object (keys kept in the order given), a Value
 * any JSON value, a ListValue an array; a decode then encode gives back the same text for
 * text this encoder writes. Numbers are doubles: integers up to 2^53 are written as plain
 * digits ("1", "-42"), others in the shortest form that reads back exactly ("1.5",
 * "1e+300"), -0 as "-0.0". NaN and the infinities, which no JSON input can make but
 * binary protobuf can, are written as the strings "NaN", "Infinity" and "-Infinity" (so
 * an encode never fails on them; they read back as strings). A Value with no kind is
 * null. Struct nesting counts toward CODEC_JSON_MAX_DEPTH like any other; an integer
 * literal past the int64 range is unreadable JSON (jansson's rule), even inside a Struct.
 * In binary protobuf each object inside a Struct is three nested messages (Struct, entry,
 * Value); codec_proto counts only the Struct (and ListValue) levels, as this codec counts
 * objects and arrays, so both accept the same events. */
#ifndef HOOKGATE_CODEC_JSON_H
#define HOOKGATE_CODEC_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "error.h"

#define CODEC_JSON_NAME_MAX 45 /* bytes of a field's JSON name: every schema field's is shorter (test_codec_json) */
#define CODEC_JSON_MAX_DEPTH 32 /* nesting of objects and arrays a decode accepts, the body's own object included */

/* Decodes `json` (len bytes, need not be NUL-terminated) into a new message of type desc,
 * allocated with alloc (NULL = protobuf-c's default; free with
 * protobuf_c_message_free_unpacked).
 *
 * - Unreadable input (syntax, invalid UTF-8, duplicate keys, not an object (an array for a
 *   ListValue, anything for a Value), too deep):
 *   returns NULL with err ERROR_INVALID_BODY and one param (path "body") saying where and why.
 * - A value of the wrong type, or unknown keys: adds params (path = the field's JSON name,
 *   or "additional parameters", order = field number) to err, leaves those fields at their
 *   defaults, and still returns the message, so a validator can add its own problems.
 * - Out of memory: NULL with ERROR_INTERNAL. */
ProtobufCMessage *codec_json_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                    ProtobufCAllocator *alloc, error *err);

/* Makes jansson allocate from a per-decode arena on the stack (see codec_json.c). It sets
 * jansson's allocator for the whole process, so only a program that owns its jansson use
 * (the server) calls it, once, before any thread starts. */
void codec_json_install_arena(void);

/* As codec_json_decode, from an already parsed JSON value (which must be an object). */
ProtobufCMessage *codec_json_decode_object(const ProtobufCMessageDescriptor *desc, json_t *root,
                                           ProtobufCAllocator *alloc, error *err);

/* The fast parse codec_json_decode tries before jansson's json_loadb (codec_json.c): yajl
 * building jansson's tree. The root (an object or an array), or NULL whenever the text is
 * anything json_loadb(..., JSON_REJECT_DUPLICATES) might not read into the same tree:
 * then only json_loadb decides. Exported for the fuzzer, which compares the two. */
json_t *codec_json_parse_fast(const char *json, size_t len);

/* The direct decode codec_json_decode tries first (codec_json.c): yajl's events straight
 * into a message of singular string fields. The message, or NULL whenever the
 * text is anything but an object the tree decode would read into the same message without
 * a problem: then the tree decode decides. Exported for the fuzzer, which compares the two. */
ProtobufCMessage *codec_json_decode_flat(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                         ProtobufCAllocator *alloc);

/* Encodes msg as compact JSON. Returns a malloc'd NUL-terminated string (free with free)
 * and its length in *len, or NULL when out of memory. */
char *codec_json_encode(const ProtobufCMessage *msg, size_t *len);

/* The same, into memory from alloc (NULL = malloc): one allocation of the exact size. */
char *codec_json_encode_with(const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len);

/* Texts an encoder need not write again: a message whose JSON is already known (a stored
 * webhook's, kept with its record) is copied, not written. find gives msg's text (len
 * bytes) or NULL; when NULL, the message is written and keep is called with what was
 * written (both on every message the encoder writes, top-level and nested, but not on
 * Timestamps, Structs, Values and ListValues, which it writes itself). The text is used as it
 * is: it must be what this encoder writes for msg. */
typedef struct codec_json_memo {
    const char *(*find)(void *data, const ProtobufCMessage *msg, size_t *len);
    void (*keep)(void *data, const ProtobufCMessage *msg, const char *text, size_t len);
    void *data;
} codec_json_memo;

/* codec_json_encode_with, with the texts memo knows (NULL: none). */
char *codec_json_encode_memo(const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len,
                             const codec_json_memo *memo);

/* The field a JSON key names (its lowerCamelCase name or its original name), or NULL. */
const ProtobufCFieldDescriptor *codec_json_field(const ProtobufCMessageDescriptor *desc, const char *key);

/* Writes the lowerCamelCase JSON name of a proto field name into out (at most out_size
 * bytes, NUL included, truncated if longer). */
void codec_json_name(const char *field_name, char *out, size_t out_size);

#endif
