/* codec_proto: see codec_proto.h. */
#include "codec_proto.h"

#include "schema.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

int codec_proto_is_text(const uint8_t *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if (s[i] == 0 || (n = utf8_char_len(s + i, len - i)) == 0)
            return 0;
    return 1;
}

/* Reads a varint at *p (< end); -1 when truncated or longer than 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Walks the wire form of a desc message and checks its string fields (recursing into
 * message fields). Malformed framing is left to protobuf_c_message_unpack to reject. */
static const char *check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
                                 int depth)
{
    if (depth > CODEC_PROTO_MAX_DEPTH)
        return "is nested too deeply";
    while (p < end) {
        uint64_t key, len;
        if (read_varint(&p, end, &key) != 0)
            return NULL;
        if (key >> 3 == 0) /* protobuf-c keeps a two-byte field 0 as an unknown field; it is invalid */
            return "has a field numbered 0";
        switch (key & 7) {
        case 0:
            if (read_varint(&p, end, &len) != 0)
                return NULL;
            continue;
        case 1:
            p += 8;
            continue;
        case 5:
            p += 4;
            continue;
        case 2:
            break;
        default:
            return NULL;
        }
        if (read_varint(&p, end, &len) != 0 || len > (uint64_t)(end - p))
            return NULL;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
        if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING && !codec_proto_is_text(p, len))
            return "has a string that is not UTF-8 text (or contains NUL)";
        if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            /* a Struct's entry and a Value are levels JSON does not have (an object inside a
             * Struct is three messages here, one there): only what JSON nests counts, so both
             * codecs take the same events */
            int invisible = f->descriptor == &schema_struct_entry_descriptor || f->descriptor == &schema_value_descriptor;
            const char *why = check_strings(f->descriptor, p, p + len, depth + !invisible);
            if (why != NULL)
                return why;
        }
        p += len;
    }
    return NULL;
}

/* protobuf-c's unpack returns NULL alike for bad bytes and for a failed allocation; this
 * allocator passes through to the caller's (or malloc) and remembers a failure, so out of
 * memory is not mistaken for a client's (or a file's) bad bytes. */
typedef struct watched_alloc {
    ProtobufCAllocator base; /* first: protobuf-c passes &base back as allocator_data */
    ProtobufCAllocator *inner;
    int failed;
} watched_alloc;

static void *watched_alloc_alloc(void *data, size_t size)
{
    watched_alloc *w = data;
    void *p = w->inner != NULL ? w->inner->alloc(w->inner->allocator_data, size) : malloc(size);
    if (p == NULL)
        w->failed = 1;
    return p;
}

static void watched_alloc_free(void *data, void *p)
{
    watched_alloc *w = data;
    if (w->inner != NULL)
        w->inner->free(w->inner->allocator_data, p);
    else
        free(p);
}

ProtobufCMessage *codec_proto_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                                     ProtobufCAllocator *alloc, error *err)
{
    const char *why = check_strings(desc, data, data + len, 0);
    watched_alloc w = {{watched_alloc_alloc, watched_alloc_free, NULL}, alloc, 0};
    w.base.allocator_data = &w;
    ProtobufCMessage *msg = why == NULL ? protobuf_c_message_unpack(desc, &w.base, len, data) : NULL;
    if (msg == NULL && w.failed) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    if (msg == NULL) {
        error_set(err, ERROR_INVALID_BODY, "unreadable protobuf");
        error_add_param(err, ERROR_IN_BODY, 0, "body", "%s %s", desc->name,
                        why != NULL ? why : "cannot be decoded from these bytes");
    }
    return msg;
}

uint8_t *codec_proto_encode(const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = alloc != NULL ? alloc->alloc(alloc->allocator_data, n ? n : 1) : malloc(n ? n : 1);
    if (buf == NULL)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    return buf;
}
