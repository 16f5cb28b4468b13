/* codec_query: see codec_query.h.
 *
 * The query becomes a JSON object of string values and goes through codec_json, so names,
 * aliases and unknown-field rules are exactly those of a JSON body. A plain query (the
 * usual "ecosystemId=...&limit=10") is first tried without that detour, straight into the
 * message: splitting it with uriparser into a JSON object cost about 4,700 instructions of
 * a list request's 22,000. */
#include "codec_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uriparser/Uri.h>

#include "codec_json.h"
#include "codec_proto.h"
#include "hg_assert.h"

/* Splits the query into a JSON object of string values; NULL with err set when it cannot
 * be read, or with ERROR_INTERNAL when out of memory. desc (NULL for a request without
 * parameters) gives a repeated parameter its field's order.
 *
 * uriparser and jansson fail alike for bad input and for a failed allocation; a query
 * that is text and still fails is out of memory, never the client's problem. */
static json_t *query_to_object(const ProtobufCMessageDescriptor *desc, const char *query, size_t len, error *err)
{
    UriQueryListA *list = NULL;
    int count = 0, rc;
    /* uriparser hands back C strings: a %00 would silently end a value */
    for (size_t i = 0; i + 2 < len; i++)
        if (query[i] == '%' && query[i + 1] == '0' && query[i + 2] == '0') {
            error_add_param(err, ERROR_IN_QUERY, 0, "query", "contains %%00 (NUL)");
            return NULL;
        }
    if ((rc = uriDissectQueryMallocExA(&list, &count, query, query + len, URI_TRUE, URI_BR_DONT_TOUCH)) !=
        URI_SUCCESS) {
        if (rc == URI_ERROR_MALLOC)
            error_set(err, ERROR_INTERNAL, "Out of memory.");
        else
            error_add_param(err, ERROR_IN_QUERY, 0, "query", "cannot be read");
        return NULL;
    }
    if (count > CODEC_QUERY_MAX_PARAMS) {
        error_add_param(err, ERROR_IN_QUERY, ERROR_ORDER_ADDITIONAL, "query", "has more than %d parameters",
                        CODEC_QUERY_MAX_PARAMS);
        uriFreeQueryListA(list);
        return NULL;
    }
    json_t *obj = json_object();
    int oom = obj == NULL;
    for (UriQueryListA *q = list; !oom && q != NULL; q = q->next) {
        const char *value = q->value != NULL ? q->value : "";
        json_t *s = json_stringn(value, strlen(value));
        int key_is_text = codec_proto_is_text((const uint8_t *)q->key, strlen(q->key));
        if (s == NULL && codec_proto_is_text((const uint8_t *)value, strlen(value))) {
            oom = 1;
        } else if (s == NULL) { /* not valid UTF-8; a name that is not text either is not echoed */
            error_add_param(err, ERROR_IN_QUERY, 0, key_is_text ? q->key : "query",
                            key_is_text ? "must be valid UTF-8" : "has a parameter that is not valid UTF-8");
        }
        if (s == NULL)
            continue;
        if (json_object_get(obj, q->key) != NULL) {
            const ProtobufCFieldDescriptor *f = desc != NULL ? codec_json_field(desc, q->key) : NULL;
            if (desc != NULL) /* a request without parameters reports names only */
                error_add_param(err, ERROR_IN_QUERY, f != NULL ? f->id : ERROR_ORDER_ADDITIONAL, q->key,
                                "is given twice");
            json_decref(s);
            continue;
        }
        if (json_object_set_new(obj, q->key, s) != 0) { /* it takes s even then */
            if (key_is_text)
                oom = 1;
            else
                error_add_param(err, ERROR_IN_QUERY, ERROR_ORDER_ADDITIONAL, "query",
                                "has a parameter name that is not valid UTF-8");
        }
    }
    uriFreeQueryListA(list);
    if (oom) {
        json_decref(obj);
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    return obj;
}

/* 1 for the bytes RFC 3986 leaves unreserved: letters, digits, '-', '.', '_' and '~'. */
static const unsigned char unreserved[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

#define PLAIN_NAME_MAX 64     /* bytes of a parameter name the plain decode reads */
#define PLAIN_UINT32_DIGITS 9 /* digits of a number it reads: below 2^32 whatever they are */
#define PLAIN_FIELDS_MAX 64   /* fields of a message it decodes into: a bit each in a uint64_t */

static void *plain_alloc(ProtobufCAllocator *alloc, size_t size)
{
    return alloc != NULL ? alloc->alloc(alloc->allocator_data, size) : malloc(size);
}

/* Sets f of msg from the plain value v (n bytes); 0 when the plain decode leaves it to the
 * split one (a field that is not a singular string or uint32 outside a oneof, a number
 * that is not the plain digits of one), or memory ran out. */
static int plain_set(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const char *v, size_t n,
                     ProtobufCAllocator *alloc)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
        (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0))
        return 0;
    char *member = (char *)msg + f->offset;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        char *copy = plain_alloc(alloc, n + 1);
        if (copy == NULL)
            return 0;
        memcpy(copy, v, n);
        copy[n] = '\0';
        *(char **)member = copy;
        return 1;
    }
    if (f->type != PROTOBUF_C_TYPE_UINT32 || n == 0 || n > PLAIN_UINT32_DIGITS || (v[0] == '0' && n > 1))
        return 0;
    uint32_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        u = u * 10 + (uint32_t)(v[i] - '0');
    }
    *(uint32_t *)member = u;
    return 1;
}

ProtobufCMessage *codec_query_decode_plain(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
                                           ProtobufCAllocator *alloc)
{
    if (desc->n_fields > PLAIN_FIELDS_MAX)
        return NULL;
    ProtobufCMessage *msg = plain_alloc(alloc, desc->sizeof_message);
    if (msg == NULL)
        return NULL;
    desc->message_init(msg);
    uint64_t seen = 0; /* a bit per field given */
    HG_STATIC_ASSERT(PLAIN_FIELDS_MAX <= 64, "seen has a bit for every field");
    int pairs = 0;
    for (size_t i = 0; i < len; pairs++) {
        size_t eq = i;
        while (eq < len && unreserved[(unsigned char)query[eq]])
            eq++;
        size_t end = eq + 1;
        while (end < len && unreserved[(unsigned char)query[end]])
            end++;
        /* name=value, then the end or a '&' with another pair after it */
        if (pairs == CODEC_QUERY_MAX_PARAMS || eq == i || eq - i > PLAIN_NAME_MAX || eq >= len || query[eq] != '=' ||
            (end < len && (query[end] != '&' || end + 1 == len)))
            goto split;
        char name[PLAIN_NAME_MAX + 1];
        memcpy(name, query + i, eq - i);
        name[eq - i] = '\0';
        const ProtobufCFieldDescriptor *f = codec_json_field(desc, name);
        uint64_t bit = f != NULL ? (uint64_t)1 << (f - desc->fields) : 0;
        if (f == NULL || (seen & bit) || !plain_set(msg, f, query + eq + 1, end - eq - 1, alloc))
            goto split; /* unknown, given twice (maybe by its other name), or not plain */
        seen |= bit;
        i = end + 1;
    }
    return msg;
split:
    protobuf_c_message_free_unpacked(msg, alloc);
    return NULL;
}

ProtobufCMessage *codec_query_decode(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
                                     ProtobufCAllocator *alloc, error *err)
{
    ProtobufCMessage *plain = codec_query_decode_plain(desc, query, len, alloc);
    return plain != NULL ? plain : codec_query_decode_split(desc, query, len, alloc, err);
}

ProtobufCMessage *codec_query_decode_split(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
                                           ProtobufCAllocator *alloc, error *err)
{
    json_t *obj = query_to_object(desc, query, len, err);
    if (obj == NULL) {
        if (err->kind == ERROR_NONE)
            error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    ProtobufCMessage *msg = codec_json_decode_object(desc, obj, alloc, err);
    json_decref(obj);
    error_set_default_in(err, ERROR_IN_QUERY);
    return msg;
}

int codec_query_reject(const char *query, size_t len, error *err)
{
    if (len == 0)
        return 0; /* the usual case: nothing to split */
    json_t *obj = query_to_object(NULL, query, len, err);
    if (obj == NULL)
        return 1; /* err says why: unreadable, or out of memory */
    char names[ERROR_MESSAGE_MAX] = "";
    size_t used = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (used < sizeof(names)) {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "", key[0] ? key : "\"\"");
            used += n > 0 ? (size_t)n : 0;
        }
    }
    json_decref(obj);
    if (used == 0) /* "?&", or names that are not text: the raw bytes are not echoed */
        snprintf(names, sizeof(names), "(parameters without a readable name)");
    error_add_param(err, ERROR_IN_QUERY, ERROR_ORDER_QUERY, "additional parameters",
                    "contains fields that are not allowed: [ %s%s ]", names, used >= sizeof(names) ? "..." : "");
    return 1;
}
