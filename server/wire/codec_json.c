/* codec_json: see codec_json.h.
 *
 * jansson parses (rejecting duplicate keys and invalid UTF-8) and serialises; this file
 * only walks protobuf-c descriptors between jansson values and message memory. Message
 * memory is laid out exactly as protobuf-c's own unpacker would, so
 * protobuf_c_message_free_unpacked frees what a decode made. */
#include "codec_json.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#include "base64.h"
#include "hg_assert.h"
#include "schema.h"
#include "swar.h"
#include "utf8.h"

#define NAME_MAX_LEN 128                       /* bytes of a JSON field name we compare against */
#define CODEC_JSON_STACK_BYTES 16384           /* an answer up to this size is encoded in one pass (a page of
                                                  60 webhooks); a bigger one is measured, then written */
#define PATH_MAX_LEN 256                       /* bytes of a path while decoding; error.h truncates further */
#define FIELDS_MAX 256                         /* fields per message the decoder tracks */
#define TIMESTAMP_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TIMESTAMP_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */
#define SECOND_TEXT_LEN 20                     /* "YYYY-MM-DDTHH:MM:SS." */

/* The one lowerCamelCase rule: field_name without its '_'s, a letter after one upper-cased.
 * Writes the first max bytes of it to out (no NUL); returns its whole length. */
static size_t camel_name(const char *field_name, char *out, size_t max)
{
    size_t n = 0;
    int upper = 0;
    for (const char *p = field_name; *p != '\0'; p++) {
        if (*p == '_') {
            upper = 1;
            continue;
        }
        if (n < max)
            out[n] = (upper && *p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
        n++;
        upper = 0;
    }
    return n;
}

void codec_json_name(const char *field_name, char *out, size_t out_size)
{
    if (out_size == 0)
        return;
    size_t n = camel_name(field_name, out, out_size - 1);
    out[n < out_size - 1 ? n : out_size - 1] = '\0';
}

static int is_timestamp(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor == &schema_timestamp_descriptor;
}

/* 1 for google.protobuf.Struct, Value and ListValue: their JSON form is JSON itself (an
 * object, any value, an array), not an object of their fields. Known by descriptor
 * identity, wherever the schema uses them. */
static int is_dynamic(const ProtobufCMessageDescriptor *desc)
{
    return desc == &schema_struct_descriptor || desc == &schema_value_descriptor ||
           desc == &schema_list_value_descriptor;
}

/* ---- decoding ------------------------------------------------------------------------ */

typedef struct decoder {
    ProtobufCAllocator *alloc;
    error *err;
    unsigned order; /* field number of the top-level field being decoded */
    int oom;
} decoder;

enum { DECODE_OK = 0, DECODE_BAD = -1 };

static void *decoder_alloc(decoder *d, size_t size)
{
    void *p = d->alloc != NULL ? d->alloc->alloc(d->alloc->allocator_data, size) : malloc(size);
    if (p == NULL)
        d->oom = 1;
    return p;
}

/* Paths are built from schema field names ("items[2].created_at"): the error names
 * fields as the schema does, and the wire layer spells them (status_param_path). */
static void bad_value(decoder *d, const char *path, const char *what)
{
    error_add_field(d->err, ERROR_IN_UNSET, d->order, path, "%s", what);
}

static ProtobufCMessage *decode_message(decoder *d, const ProtobufCMessageDescriptor *desc, json_t *obj,
                                        const char *prefix, int depth);

static int parse_int(json_t *v, int is_signed, int64_t min, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if ((is_signed && (n < min || (n > 0 && (uint64_t)n > max))) || (!is_signed && (n < 0 || (uint64_t)n > max)))
            return -1;
        *out = (uint64_t)n;
        return 0;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x != floor(x) || x < (double)min || x > (double)max)
            return -1;
        *out = is_signed ? (uint64_t)(int64_t)x : (uint64_t)x;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        if (*s == '\0' || *s == ' ' || *s == '+')
            return -1;
        if (is_signed) {
            long long n = strtoll(s, &end, 10);
            if (errno != 0 || *end != '\0' || n < min || (n > 0 && (uint64_t)n > max))
                return -1;
            *out = (uint64_t)n;
        } else {
            if (*s == '-')
                return -1;
            unsigned long long n = strtoull(s, &end, 10);
            if (errno != 0 || *end != '\0' || n > max)
                return -1;
            *out = n;
        }
        return 0;
    }
    return -1;
}

static int parse_double(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else {
            char *end;
            errno = 0;
            *out = strtod(s, &end);
            if (*s == '\0' || *end != '\0' || errno != 0)
                return -1;
        }
        return 0;
    }
    return -1;
}

static int parse_base64(decoder *d, const char *s, ProtobufCBinaryData *out)
{
    size_t len = strlen(s), n;
    uint8_t *data = decoder_alloc(d, BASE64_DECODED_MAX(len) + 1);
    if (data == NULL)
        return -1;
    if (base64_decode(s, len, BASE64_LENIENT, data, &n) != 0) {
        if (d->alloc != NULL)
            d->alloc->free(d->alloc->allocator_data, data);
        else
            free(data);
        return -1;
    }
    out->data = data;
    out->len = n;
    return 0;
}

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)". */
/* 1 when s starts with text of exactly this shape: 'd' a digit, any other char itself. */
static int has_shape(const char *s, const char *shape)
{
    for (; *shape != '\0'; s++, shape++)
        if (*shape == 'd' ? !(*s >= '0' && *s <= '9') : *s != *shape)
            return 0;
    return 1;
}

static int parse_timestamp(const char *s, int64_t *seconds, int32_t *nanos)
{
    int Y, M, D, h, m, sec;
    /* sscanf alone would take signs and blanks inside the fields */
    if (!has_shape(s, "dddd-dd-ddTdd:dd:dd") || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &Y, &M, &D, &h, &m, &sec) != 6)
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59 || Y < 1)
        return -1;
    const char *p = s + 19;
    int32_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*p - '0');
        if (digits == 0 || digits > 9)
            return -1;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!has_shape(p + 1, "dd:dd") || sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
            return -1;
        offset = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != D) /* timegm normalised an impossible date such as 02-30 */
        return -1;
    *seconds = (int64_t)t - offset;
    *nanos = frac;
    return *seconds < TIMESTAMP_MIN_SECONDS || *seconds > TIMESTAMP_MAX_SECONDS ? -1 : 0;
}

/* ---- Struct, Value, ListValue in ------------------------------------------------------
 *
 * Each node is allocated, linked into its parent and counted there before it is filled,
 * so that whatever was built when an allocation fails is reachable, and freed, by
 * protobuf_c_message_free_unpacked (the caller sees d->oom and frees the whole message).
 * depth is the JSON nesting of the node (the body's object is 0). too_deep has already
 * bounded the whole body by CODEC_JSON_MAX_DEPTH, so the check here only guards callers
 * that would skip it. Problems inside the JSON itself cannot occur (every JSON value is a
 * Value); the one that can is reported at the field's path ("items[1]"), never at a
 * client's key, which keeps client text out of error paths. */

static schema_value *decode_any(decoder *d, json_t *v, const char *path, int depth);

static char *copy_string(decoder *d, const char *s, size_t len)
{
    char *out = decoder_alloc(d, len + 1);
    if (out != NULL)
        memcpy(out, s, len + 1);
    return out;
}

static int nested_too_deeply(decoder *d, const char *path, int depth)
{
    if (depth < CODEC_JSON_MAX_DEPTH)
        return 0;
    bad_value(d, path, "is nested too deeply");
    return 1;
}

/* A JSON object into a Struct, its keys in the object's order (jansson keeps insertion
 * order; duplicates were refused by the parse). NULL when out of memory or too deep. */
static schema_struct *decode_struct(decoder *d, json_t *obj, const char *path, int depth)
{
    HG_ASSERT(json_is_object(obj));
    if (nested_too_deeply(d, path, depth))
        return NULL;
    schema_struct *s = decoder_alloc(d, sizeof(*s));
    if (s == NULL)
        return NULL;
    protobuf_c_message_init(&schema_struct_descriptor, s);
    size_t n = json_object_size(obj);
    if (n == 0 || (s->fields = decoder_alloc(d, n * sizeof(*s->fields))) == NULL)
        return s;
    const char *key;
    json_t *item;
    json_object_foreach(obj, key, item)
    {
        HG_ASSERT(s->n_fields < n);
        schema_struct_entry *e = decoder_alloc(d, sizeof(*e));
        if (e == NULL)
            break;
        protobuf_c_message_init(&schema_struct_entry_descriptor, e);
        s->fields[s->n_fields++] = e;
        char *k = copy_string(d, key, strlen(key)); /* jansson refuses NUL in keys */
        if (k == NULL)
            break;
        e->key = k;
        e->value = decode_any(d, item, path, depth + 1);
        if (d->oom)
            break;
    }
    return s;
}

/* A JSON array into a ListValue. NULL when out of memory or too deep. */
static schema_list_value *decode_list(decoder *d, json_t *array, const char *path, int depth)
{
    HG_ASSERT(json_is_array(array));
    if (nested_too_deeply(d, path, depth))
        return NULL;
    schema_list_value *l = decoder_alloc(d, sizeof(*l));
    if (l == NULL)
        return NULL;
    protobuf_c_message_init(&schema_list_value_descriptor, l);
    size_t n = json_array_size(array);
    if (n == 0 || (l->values = decoder_alloc(d, n * sizeof(*l->values))) == NULL)
        return l;
    for (size_t i = 0; i < n && !d->oom; i++) {
        schema_value *v = decode_any(d, json_array_get(array, i), path, depth + 1);
        if (v == NULL)
            break;
        l->values[l->n_values++] = v;
    }
    return l;
}

/* Any JSON value into a Value; numbers become doubles (integers past 2^53 round, as in
 * JavaScript). NULL only when out of memory. */
static schema_value *decode_any(decoder *d, json_t *v, const char *path, int depth)
{
    schema_value *val = decoder_alloc(d, sizeof(*val));
    if (val == NULL)
        return NULL;
    protobuf_c_message_init(&schema_value_descriptor, val);
    switch (json_typeof(v)) {
    case JSON_NULL:
        val->kind_case = SCHEMA_VALUE_NULL; /* null_value is its only value, 0 */
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        val->kind_case = SCHEMA_VALUE_NUMBER;
        val->number_value = json_number_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        val->kind_case = SCHEMA_VALUE_BOOL;
        val->bool_value = json_is_true(v);
        break;
    case JSON_STRING:
        /* the case says which member free_unpacked frees: set only once it is there */
        if ((val->string_value = copy_string(d, json_string_value(v), json_string_length(v))) != NULL)
            val->kind_case = SCHEMA_VALUE_STRING;
        break;
    case JSON_OBJECT:
        if ((val->struct_value = decode_struct(d, v, path, depth)) != NULL)
            val->kind_case = SCHEMA_VALUE_STRUCT;
        break;
    case JSON_ARRAY:
        if ((val->list_value = decode_list(d, v, path, depth)) != NULL)
            val->kind_case = SCHEMA_VALUE_LIST;
        break;
    }
    return val;
}

/* A Struct, Value or ListValue (desc) from v, whose JSON nesting is depth. Reports a
 * JSON type that cannot be desc at path and returns NULL; NULL too when out of memory. */
static ProtobufCMessage *decode_dynamic(decoder *d, const ProtobufCMessageDescriptor *desc, json_t *v, const char *path,
                                        int depth)
{
    HG_ASSERT(is_dynamic(desc));
    if (desc == &schema_value_descriptor)
        return (ProtobufCMessage *)decode_any(d, v, path, depth);
    if (desc == &schema_struct_descriptor) {
        if (!json_is_object(v)) {
            bad_value(d, path, "must be an object");
            return NULL;
        }
        return (ProtobufCMessage *)decode_struct(d, v, path, depth);
    }
    if (!json_is_array(v)) {
        bad_value(d, path, "must be an array");
        return NULL;
    }
    return (ProtobufCMessage *)decode_list(d, v, path, depth);
}

static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* Decodes one value of field f's type into dst. Reports a wrong value at path and
 * returns DECODE_BAD (dst untouched), or DECODE_OK. */
static int decode_value(decoder *d, const ProtobufCFieldDescriptor *f, json_t *v, void *dst, const char *path,
                        int depth)
{
    uint64_t u;
    double x;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (parse_int(v, 1, INT32_MIN, INT32_MAX, &u) != 0)
            goto bad_int;
        *(int32_t *)dst = (int32_t)(int64_t)u;
        return DECODE_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (parse_int(v, 0, 0, UINT32_MAX, &u) != 0)
            goto bad_int;
        *(uint32_t *)dst = (uint32_t)u;
        return DECODE_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (parse_int(v, 1, INT64_MIN, INT64_MAX, &u) != 0)
            goto bad_int;
        *(int64_t *)dst = (int64_t)u;
        return DECODE_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (parse_int(v, 0, 0, UINT64_MAX, &u) != 0)
            goto bad_int;
        *(uint64_t *)dst = u;
        return DECODE_OK;
    case PROTOBUF_C_TYPE_FLOAT:
        if (parse_double(v, &x) != 0)
            goto bad_number;
        *(float *)dst = (float)x;
        return DECODE_OK;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (parse_double(v, &x) != 0)
            goto bad_number;
        *(double *)dst = x;
        return DECODE_OK;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            bad_value(d, path, "must be a boolean");
            return DECODE_BAD;
        }
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return DECODE_OK;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_string(v)) {
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
            if (ev != NULL) {
                *(int32_t *)dst = ev->value;
                return DECODE_OK;
            }
        } else if (parse_int(v, 1, INT32_MIN, INT32_MAX, &u) == 0) {
            *(int32_t *)dst = (int32_t)(int64_t)u;
            return DECODE_OK;
        }
        bad_value(d, path, "must be one of the enum's names");
        return DECODE_BAD;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v)) {
            bad_value(d, path, "must be a string");
            return DECODE_BAD;
        }
        size_t len = json_string_length(v);
        char *s = decoder_alloc(d, len + 1);
        if (s == NULL)
            return DECODE_BAD;
        memcpy(s, json_string_value(v), len + 1);
        *(char **)dst = s;
        return DECODE_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        if (!json_is_string(v) || parse_base64(d, json_string_value(v), dst) != 0) {
            if (!d->oom)
                bad_value(d, path, "must be a base64 string");
            return DECODE_BAD;
        }
        return DECODE_OK;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        if (is_timestamp(f)) {
            int64_t seconds;
            int32_t nanos;
            if (!json_is_string(v) || parse_timestamp(json_string_value(v), &seconds, &nanos) != 0) {
                bad_value(d, path, "must be an RFC 3339 timestamp");
                return DECODE_BAD;
            }
            schema_timestamp *ts = decoder_alloc(d, sizeof(*ts));
            if (ts == NULL)
                return DECODE_BAD;
            protobuf_c_message_init(&schema_timestamp_descriptor, ts);
            ts->seconds = seconds;
            ts->nanos = nanos;
            *(ProtobufCMessage **)dst = &ts->base;
            return DECODE_OK;
        }
        if (is_dynamic(md)) {
            /* v is one level below the object holding the field (see decode_field) */
            ProtobufCMessage *sub = decode_dynamic(d, md, v, path, depth + 1);
            if (sub == NULL)
                return DECODE_BAD;
            *(ProtobufCMessage **)dst = sub;
            return DECODE_OK;
        }
        if (!json_is_object(v)) {
            bad_value(d, path, "must be an object");
            return DECODE_BAD;
        }
        ProtobufCMessage *sub = decode_message(d, md, v, path, depth + 1);
        if (sub == NULL)
            return DECODE_BAD;
        *(ProtobufCMessage **)dst = sub;
        return DECODE_OK;
    }
    }
    bad_value(d, path, "has an unsupported type");
    return DECODE_BAD;
bad_int:
    bad_value(d, path, "must be an integer in range");
    return DECODE_BAD;
bad_number:
    bad_value(d, path, "must be a number");
    return DECODE_BAD;
}

/* Marks singular field f of msg as given, once its value is in place. */
static void mark_given(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0)
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
}

static void decode_field(decoder *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, json_t *v,
                         const char *path, int depth)
{
    char *member = (char *)msg + f->offset;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        if (decode_value(d, f, v, member, path, depth) == DECODE_OK)
            mark_given(msg, f);
        return;
    }
    if (!json_is_array(v)) {
        bad_value(d, path, "must be an array");
        return;
    }
    size_t n = json_array_size(v), size = element_size(f->type);
    if (n == 0)
        return;
    char *items = decoder_alloc(d, n * size);
    if (items == NULL)
        return;
    memset(items, 0, n * size);
    size_t done = 0;
    for (; done < n; done++) {
        char item_path[PATH_MAX_LEN];
        snprintf(item_path, sizeof(item_path), "%.200s[%zu]", path, done);
        if (decode_value(d, f, json_array_get(v, done), items + done * size, item_path, depth + 1) != DECODE_OK)
            break;
    }
    /* keep what decoded so free_unpacked can release it; a partial array is never valid
     * input, and the reported problem makes the caller reject the request */
    *(void **)member = items;
    *(size_t *)((char *)msg + f->quantifier_offset) = done;
}

/* A field name's JSON name, per thread, found by the address of the name (static in the
 * generated descriptors): a direct-mapped cache, as every key of a request and every field
 * of an answer needs one. A name whose slot another took is converted again, and takes the
 * slot back. */
#define JSON_NAME_CACHE_BITS 7
typedef struct json_name_slot {
    const char *field_name;
    unsigned char len;                  /* of the name; text holds len + 3 bytes */
    char text[CODEC_JSON_NAME_MAX + 3]; /* "name": as an answer has it (48 bytes: copied whole) */
} json_name_slot;
static __thread json_name_slot json_names[1u << JSON_NAME_CACHE_BITS];

/* field_name's JSON name (camel_name) at text + 1. */
static const json_name_slot *json_name_fill(json_name_slot *slot, const char *field_name);

static inline const json_name_slot *json_name(const char *field_name)
{
    json_name_slot *slot =
        &json_names[(uint64_t)(uintptr_t)field_name * 0x9e3779b97f4a7c15ull >> (64 - JSON_NAME_CACHE_BITS)];
    return slot->field_name == field_name ? slot : json_name_fill(slot, field_name);
}

/* json_name on a miss: slot takes field_name. */
static const json_name_slot *json_name_fill(json_name_slot *slot, const char *field_name)
{
    slot->text[0] = '"';
    size_t n = camel_name(field_name, slot->text + 1, CODEC_JSON_NAME_MAX);
    HG_ASSERT(n <= CODEC_JSON_NAME_MAX); /* every schema field's (test_codec_json) */
    memcpy(slot->text + 1 + n, "\":", 2);
    slot->len = (unsigned char)n;
    slot->field_name = field_name;
    return slot;
}

/* memcmp(a, b, n) == 0 for the few bytes of a key, without a call: eight at a time, then one */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, sizeof(x));
        memcpy(&y, b + i, sizeof(y));
        if (x != y)
            return 0;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i == n;
}

/* codec_json_field of a key of key_len bytes (NUL-terminated too). */
static const ProtobufCFieldDescriptor *field_of_key(const ProtobufCMessageDescriptor *desc, const char *key,
                                                    size_t key_len)
{
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const char *name = desc->fields[i].name;
        /* both names start with the field name's first byte, unless that is a '_' */
        if (name[0] != key[0] && name[0] != '_')
            continue;
        const json_name_slot *json = json_name(name);
        if (json->len == key_len && same_bytes(json->text + 1, key, key_len))
            return &desc->fields[i];
        if (strcmp(name, key) == 0)
            return &desc->fields[i];
    }
    return NULL;
}

const ProtobufCFieldDescriptor *codec_json_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
    return field_of_key(desc, key, strlen(key));
}

static ProtobufCMessage *decode_message(decoder *d, const ProtobufCMessageDescriptor *desc, json_t *obj,
                                        const char *prefix, int depth)
{
    if (depth > CODEC_JSON_MAX_DEPTH || desc->n_fields > FIELDS_MAX) {
        bad_value(d, prefix[0] ? prefix : "body", "is nested too deeply");
        return NULL;
    }
    ProtobufCMessage *msg = decoder_alloc(d, desc->sizeof_message);
    if (msg == NULL)
        return NULL;
    desc->message_init(msg);

    unsigned char seen[FIELDS_MAX] = {0};
    char unknown[ERROR_MESSAGE_MAX] = "";
    size_t unknown_len = 0, n_unknown = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        const ProtobufCFieldDescriptor *f = codec_json_field(desc, key);
        if (f == NULL) {
            /* "[ a, b ]": collect while it fits; a longer list ends in "..." */
            if (unknown_len < sizeof(unknown)) {
                int n = snprintf(unknown + unknown_len, sizeof(unknown) - unknown_len, "%s%s", n_unknown ? ", " : "",
                                 key[0] ? key : "\"\"");
                unknown_len += n > 0 ? (size_t)n : 0;
            }
            n_unknown++;
            continue;
        }
        char nested[PATH_MAX_LEN];
        const char *path = f->name;
        if (prefix[0] != '\0') {
            snprintf(nested, sizeof(nested), "%.120s.%s", prefix, f->name);
            path = nested;
        }
        if (depth == 0)
            d->order = f->id;
        size_t index = (size_t)(f - desc->fields);
        if (seen[index]++) {
            bad_value(d, path, "is given twice (under its JSON name and its field name)");
            continue;
        }
        /* a Value field is the one place null is a value, not absence */
        if (json_is_null(v) && !(f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
                                 f->descriptor == &schema_value_descriptor))
            continue;
        decode_field(d, msg, f, v, path, depth);
        if (d->oom)
            break;
    }
    if (n_unknown > 0) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof(path), "%.200s%sadditional parameters", prefix, prefix[0] ? "." : "");
        if (depth == 0)
            d->order = ERROR_ORDER_ADDITIONAL;
        error_add_field(d->err, ERROR_IN_UNSET, d->order, path, "contains fields that are not allowed: [ %s%s ]",
                        unknown, unknown_len >= sizeof(unknown) ? "..." : "");
    }
    return msg;
}

static ProtobufCMessage *decode_text(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                     ProtobufCAllocator *alloc, error *err);

/* With codec_json_install_arena, jansson's allocations during one decode come from a
 * buffer on the decoding thread's stack: a parse allocates a value, a string and a table
 * slot per key, and malloc was the largest cost of a create. The tree never outlives the
 * decode (it is freed before it returns), and what does not fit goes to malloc.
 *
 * jansson 2.14 cannot survive a failed allocation in the middle of a parse (its issue
 * #362): lex_save drops the byte, and then the lexer asserts, returns a string missing a
 * character, or runs past its buffer (a stack overflow when that buffer is in the arena).
 * So during json_loadb a failed malloc never returns to jansson: it longjmps back to
 * decode_text, which frees every block jansson took past the arena (each is listed, for
 * that) and reports out of memory.
 *
 * Hazard: while current_arena is set, arena_free takes every pointer outside the arena
 * for a listed block; only the decode's own tree may be freed then (decode_text's is). */
#define ARENA_BYTES 16384

/* A block past the arena: its header, then what jansson asked for. 16 bytes, so the
 * block stays 16-byte aligned. */
typedef struct spill {
    struct spill *prev, *next;
} spill;

typedef struct arena {
    char *base;
    size_t used;
    spill *spills;            /* blocks past the arena that jansson holds */
    jmp_buf *out_of_memory;   /* set during json_loadb: where a failed malloc goes */
} arena;

static __thread arena *current_arena;

static void *arena_malloc(size_t size)
{
    arena *a = current_arena;
    size = (size + 15) & ~(size_t)15;
    if (a == NULL)
        return malloc(size);
    if (size <= ARENA_BYTES - a->used) {
        void *p = a->base + a->used;
        a->used += size;
        return p;
    }
    spill *s = size <= SIZE_MAX - sizeof(spill) ? malloc(sizeof(spill) + size) : NULL;
    if (s == NULL && a->out_of_memory != NULL)
        longjmp(*a->out_of_memory, 1);
    if (s == NULL)
        return NULL;
    s->prev = NULL;
    s->next = a->spills;
    if (a->spills != NULL)
        a->spills->prev = s;
    a->spills = s;
    return s + 1;
}

static void arena_free(void *p)
{
    arena *a = current_arena;
    if (a == NULL || p == NULL) {
        free(p);
        return;
    }
    if ((char *)p >= a->base && (char *)p < a->base + ARENA_BYTES)
        return; /* goes with the arena */
    spill *s = (spill *)p - 1;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        a->spills = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
}

void codec_json_install_arena(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

ProtobufCMessage *codec_json_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                    ProtobufCAllocator *alloc, error *err)
{
    _Alignas(16) char space[ARENA_BYTES];
    arena a = {space, 0, NULL, NULL};
    current_arena = &a;
    ProtobufCMessage *msg = decode_text(desc, json, len, alloc, err);
    current_arena = NULL;
    HG_ASSERT(a.spills == NULL); /* the tree was freed, or its blocks were */
    return msg;
}

/* ---- the fast parse: yajl builds jansson's tree -------------------------------------- *
 *
 * jansson's parser reads a character at a time through several layers: 20,800 of the
 * 55,000 instructions of a create over h2c went to json_loadb of its 110-byte body. yajl
 * lexes the same body for about a sixth of that, and its events build the same jansson
 * tree here, so everything after the parse is unchanged. The fast parse only ever accepts
 * what json_loadb accepts, and builds what it builds; anything else — yajl refusing the
 * text, or text where the two could differ — is handed to json_loadb, which then decides
 * and words the error exactly as before. So the fast parse gives up (FAST_GAVE_UP) on:
 *   - \u escapes of surrogates (yajl replaces an unpaired one; jansson refuses it) and the
 *     bytes \v and \f (yajl takes them for white space; JSON does not);
 *   - a NUL in a string or key (jansson refuses \u0000 without JSON_ALLOW_NUL);
 *   - text that is not UTF-8 as utf8.h reads it (yajl's own check is looser);
 *   - a duplicate key (JSON_REJECT_DUPLICATES), an integer outside int64 and a real that
 *     overflows (jansson's lexer refuses both);
 *   - a top level that is not an object or an array (no JSON_DECODE_ANY), and nesting past
 *     FAST_DEPTH_MAX (jansson goes to 2048; the decoder then refuses it as too deep);
 *   - anything but white space after the root (yajl 2.1 ends a parse without a word when
 *     the text after a whole value is the start of an unfinished token, `"` say);
 *   - a key longer than FAST_KEY_MAX (each key is copied: yajl decodes an escaped value
 *     into the buffer that held an escaped key, so its pointer dies before the value).
 * tests/fuzz/fuzz_json.c compares the two parses on every input it tries. */
#define FAST_DEPTH_MAX (CODEC_JSON_MAX_DEPTH + 1) /* deeper than the decoder takes: left to jansson */
#define FAST_NUMBER_MAX 64 /* bytes of a number the fast parse reads; a longer one is left to jansson */
#define FAST_KEY_MAX 256   /* bytes of a key the fast parse reads; a longer one is left to jansson */

/* What a yajl parse over the whole text needs, first in each parse's context: the handle,
 * and where the root value's closing bracket ended (bytes of the text; 0 until it did). */
typedef struct whole_parse {
    yajl_handle h;
    size_t end_at;
} whole_parse;

typedef struct fast_parse {
    whole_parse whole; /* first: yajl's context is this struct */
    json_t *root;
    json_t *stack[FAST_DEPTH_MAX]; /* the open objects and arrays */
    int depth;
    char key[FAST_KEY_MAX]; /* the pending key of the innermost object: a copy, as yajl decodes an escaped
                               value into the buffer an escaped key was in */
    size_t key_len;
} fast_parse;

/* yajl's memory comes from the decode's arena too, each block after a header with its size
 * (yajl reallocs its buffers, and an arena block does not know its size). */
#define YAJL_HEADER 16

static void *yajl_arena_malloc(void *ctx, size_t size)
{
    (void)ctx;
    char *p = size <= SIZE_MAX - YAJL_HEADER ? arena_malloc(size + YAJL_HEADER) : NULL;
    if (p == NULL)
        return NULL;
    *(size_t *)p = size;
    return p + YAJL_HEADER;
}

static void yajl_arena_free(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr != NULL)
        arena_free((char *)ptr - YAJL_HEADER);
}

static void *yajl_arena_realloc(void *ctx, void *ptr, size_t size)
{
    if (ptr == NULL)
        return yajl_arena_malloc(ctx, size);
    size_t old = *(size_t *)((char *)ptr - YAJL_HEADER);
    void *grown = yajl_arena_malloc(ctx, size);
    if (grown == NULL)
        return NULL;
    memcpy(grown, ptr, old < size ? old : size);
    yajl_arena_free(ctx, ptr);
    return grown;
}

/* 1 when text is UTF-8 without a NUL: what jansson's json_string would take. */
static int fast_text_ok(const unsigned char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n) {
        uint64_t v;
        if (len - i >= 8 && (memcpy(&v, s + i, sizeof(v)), swar_below(v, 1) | (v & SWAR_HIGHS)) == 0) {
            n = 8; /* eight bytes of 0x01..0x7f: no high bit, and none was 0 (0 - 1 borrows one) */
            continue;
        }
        if ((unsigned char)(s[i] - 1) < 0x7f) { /* 0x01..0x7f: ASCII, not NUL */
            n = 1;
            continue;
        }
        if (s[i] == 0 || (n = utf8_char_len(s + i, len - i)) == 0)
            return 0;
    }
    return 1;
}

/* Puts v where the parse stands: the root, the innermost array's next item, or the value of
 * the innermost object's pending key. 0 (v freed) when it cannot: a duplicate key, or out
 * of memory. */
static int fast_add(fast_parse *f, json_t *v)
{
    if (v == NULL)
        return 0;
    if (f->depth == 0) {
        f->root = v;
        return 1;
    }
    json_t *top = f->stack[f->depth - 1];
    if (json_is_array(top))
        return json_array_append_new(top, v) == 0;
    if (json_object_getn(top, f->key, f->key_len) != NULL) {
        json_decref(v);
        return 0;
    }
    return json_object_setn_new_nocheck(top, f->key, f->key_len, v) == 0;
}

static int fast_open(fast_parse *f, json_t *v)
{
    if (f->depth == FAST_DEPTH_MAX || v == NULL) {
        json_decref(v);
        return 0;
    }
    json_incref(v); /* the stack's reference, until it is closed */
    if (!fast_add(f, v)) {
        json_decref(v);
        return 0;
    }
    f->stack[f->depth++] = v;
    return 1;
}

static int fast_null(void *ctx)
{
    return fast_add(ctx, json_null());
}

static int fast_boolean(void *ctx, int v)
{
    return fast_add(ctx, json_boolean(v));
}

/* jansson's lexer: an integer is a number without '.', 'e' or 'E', read with strtoll and
 * refused out of range; any other number is a real, refused when it overflows. */
static int fast_number(void *ctx, const char *s, size_t len)
{
    char text[FAST_NUMBER_MAX + 1];
    if (len > FAST_NUMBER_MAX)
        return 0;
    memcpy(text, s, len);
    text[len] = '\0';
    char *end;
    errno = 0;
    if (memchr(text, '.', len) == NULL && memchr(text, 'e', len) == NULL && memchr(text, 'E', len) == NULL) {
        long long n = strtoll(text, &end, 10);
        if (errno == ERANGE || *end != '\0')
            return 0;
        return fast_add(ctx, json_integer(n));
    }
    double x = strtod(text, &end);
    if ((errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL)) || *end != '\0')
        return 0;
    return fast_add(ctx, json_real(x));
}

static int fast_string(void *ctx, const unsigned char *s, size_t len)
{
    return fast_text_ok(s, len) && fast_add(ctx, json_stringn_nocheck((const char *)s, len));
}

static int fast_start_map(void *ctx)
{
    return fast_open(ctx, json_object());
}

static int fast_map_key(void *ctx, const unsigned char *s, size_t len)
{
    fast_parse *f = ctx;
    if (len > sizeof(f->key) || !fast_text_ok(s, len))
        return 0;
    memcpy(f->key, s, len);
    f->key_len = len;
    return 1;
}

static int fast_end(void *ctx)
{
    fast_parse *f = ctx;
    HG_ASSERT(f->depth > 0); /* yajl pairs every end with its start */
    json_decref(f->stack[--f->depth]);
    if (f->depth == 0)
        f->whole.end_at = yajl_get_bytes_consumed(f->whole.h);
    return 1;
}

static int fast_start_array(void *ctx)
{
    return fast_open(ctx, json_array());
}

static const yajl_callbacks fast_callbacks = {
    .yajl_null = fast_null,
    .yajl_boolean = fast_boolean,
    .yajl_number = fast_number,
    .yajl_string = fast_string,
    .yajl_start_map = fast_start_map,
    .yajl_map_key = fast_map_key,
    .yajl_end_map = fast_end,
    .yajl_start_array = fast_start_array,
    .yajl_end_array = fast_end,
};

/* 1 when the text holds what the fast parse does not judge as jansson would: a \u escape
 * of a surrogate (\uD800-\uDFFF), or a \v or \f byte. */
static int fast_unsure(const char *json, size_t len)
{
    if (memchr(json, '\v', len) != NULL || memchr(json, '\f', len) != NULL)
        return 1;
    for (const char *p = json, *end = json + len; (p = memchr(p, '\\', (size_t)(end - p))) != NULL; p += 2) {
        if (end - p < 2)
            return 0;
        if (p[1] == 'u' && end - p >= 4 && (p[2] == 'd' || p[2] == 'D') && strchr("89abcdefABCDEF", p[3]) != NULL &&
            p[3] != '\0')
            return 1;
    }
    return 0;
}

/* Drops a parse's partial tree: the open containers' references, then the root's. */
static void fast_release(fast_parse *f)
{
    while (f->depth > 0)
        json_decref(f->stack[--f->depth]);
    json_decref(f->root);
    f->root = NULL;
}

/* 1 when yajl reads the whole text with callbacks cb (context w, first in the callbacks'
 * own): none refused, one value ended, and nothing but JSON's white space after it (yajl
 * 2.1 ends a parse without a word when the text after a whole value is the start of an
 * unfinished token, `"` say). */
static int parse_whole(const yajl_callbacks *cb, whole_parse *w, const char *json, size_t len)
{
    yajl_alloc_funcs funcs = {yajl_arena_malloc, yajl_arena_realloc, yajl_arena_free, NULL};
    yajl_handle h = yajl_alloc(cb, &funcs, w);
    if (h == NULL)
        return 0;
    w->h = h;
    /* no yajl_complete_parse: once the root has closed (end_at), the text is whole when
     * nothing but white space follows, which is looked at here */
    int ok = yajl_parse(h, (const unsigned char *)json, len) == yajl_status_ok && w->end_at != 0;
    for (size_t i = w->end_at; ok && i < len; i++)
        ok = json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r';
    yajl_free(h);
    return ok;
}

json_t *codec_json_parse_fast(const char *json, size_t len)
{
    if (len == 0 || fast_unsure(json, len))
        return NULL;
    fast_parse f = {.root = NULL, .depth = 0};
    fast_parse *volatile fp = &f; /* read after a longjmp */
    /* yajl 2.1 does not survive a failed allocation either: inside a decode (load) a failed
     * one longjmps out. Its blocks are the arena's, which load frees; the tree is freed
     * here first when jansson allocates with malloc (the SDK, no arena installed) — never
     * when jansson allocates from the arena too, where the jump may have left a table half
     * grown: load frees those blocks wholesale. Hazard: outside a decode (the fuzzer, the
     * tests) nothing catches a failed allocation. */
    arena *const a = current_arena;
    jmp_buf jb;
    jmp_buf *volatile outer = a != NULL ? a->out_of_memory : NULL; /* read after a longjmp */
    if (outer != NULL) {
        if (setjmp(jb) != 0) {
            a->out_of_memory = outer;
            json_malloc_t jansson_malloc;
            json_free_t jansson_free;
            json_get_alloc_funcs(&jansson_malloc, &jansson_free);
            if (jansson_malloc != arena_malloc)
                fast_release(fp);
            longjmp(*outer, 1);
        }
        a->out_of_memory = &jb;
    }
    int ok = parse_whole(&fast_callbacks, &f.whole, json, len) && f.root != NULL && f.depth == 0;
    if (outer != NULL)
        a->out_of_memory = outer;
    if (!ok || !(json_is_object(f.root) || json_is_array(f.root))) {
        fast_release(&f);
        return NULL;
    }
    return f.root;
}

/* ---- the direct decode: yajl into a flat message ------------------------------------- *
 *
 * A request such as CreateWebhookRequest is one object of strings. For such a message
 * (every field a singular string, outside any oneof: desc_is_flat) yajl's events
 * go straight into the message, with no tree between: the tree cost more than the parse
 * (about 4,000 of the 8,400 instructions a create's body took). As the fast parse does for
 * json_loadb, the direct decode only ever accepts what the tree decode accepts without a
 * problem, and builds what it builds; on anything else (an unknown key, a field given twice,
 * a value that is not a string, a nested value, or whatever the fast parse gives up
 * on) it gives up, and the tree decode decides and words the error. So errors have one
 * author. tests/fuzz/fuzz_json.c compares the two decodes on every input it tries. */
typedef struct flat_decode {
    whole_parse whole; /* first: yajl's context is this struct */
    decoder d;
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *msg; /* made at the root's opening bracket */
    const ProtobufCFieldDescriptor *field; /* the pending key's field */
    int plain;                             /* no TEXT_PLAIN_NOT: its strings need no fast_text_ok */
    unsigned char seen[FIELDS_MAX];
} flat_decode;

/* What text_scan finds in a JSON text. TEXT_PLAIN_NOT: a byte of 0x80 or more, or a '\\';
 * without either, every string yajl hands over is a piece of the text itself, of ASCII yajl
 * has judged (it refuses a control byte in a string), which fast_text_ok would pass.
 * TEXT_CONTROL: a byte below 0x20; without it and TEXT_PLAIN_NOT, fast_unsure has nothing
 * to find (no '\v', '\f' or escape). */
enum { TEXT_PLAIN_NOT = 1, TEXT_CONTROL = 2 };

/* Eight bytes at a time: a '\\' is a byte that XORed with 0x5c is zero, a byte below 0x20
 * one that borrows when 0x20 is taken from it. */
static unsigned text_scan(const char *json, size_t len)
{
    uint64_t plain_not = 0, control = 0;
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t v;
        memcpy(&v, json + i, sizeof(v));
        plain_not |= (v & SWAR_HIGHS) | swar_equal(v, '\\');
        control |= swar_below(v, 0x20);
    }
    unsigned flags = (plain_not != 0 ? TEXT_PLAIN_NOT : 0) | (control != 0 ? TEXT_CONTROL : 0);
    for (; i < len; i++) {
        unsigned char c = (unsigned char)json[i];
        flags |= (c >= 0x80 || c == '\\' ? TEXT_PLAIN_NOT : 0) | (c < 0x20 ? TEXT_CONTROL : 0);
    }
    return flags;
}

static int desc_is_flat(const ProtobufCMessageDescriptor *desc)
{
    if (desc->n_fields > FIELDS_MAX || is_dynamic(desc))
        return 0;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
            f->type != PROTOBUF_C_TYPE_STRING)
            return 0;
    }
    return 1;
}

static int flat_refuse(void *ctx)
{
    (void)ctx;
    return 0;
}

static int flat_refuse_boolean(void *ctx, int v)
{
    (void)v;
    return flat_refuse(ctx);
}

static int flat_refuse_number(void *ctx, const char *s, size_t len)
{
    (void)s, (void)len;
    return flat_refuse(ctx);
}

static int flat_start_map(void *ctx)
{
    flat_decode *f = ctx;
    if (f->msg != NULL) /* a nested object */
        return 0;
    f->msg = decoder_alloc(&f->d, f->desc->sizeof_message);
    if (f->msg == NULL)
        return 0;
    f->desc->message_init(f->msg);
    return 1;
}

static int flat_map_key(void *ctx, const unsigned char *s, size_t len)
{
    flat_decode *f = ctx;
    char key[FAST_KEY_MAX + 1];
    if (len > FAST_KEY_MAX || (!f->plain && !fast_text_ok(s, len)))
        return 0;
    memcpy(key, s, len);
    key[len] = '\0';
    const ProtobufCFieldDescriptor *field = field_of_key(f->desc, key, len);
    if (field == NULL || f->seen[field - f->desc->fields]++) /* unknown, or given twice */
        return 0;
    f->field = field;
    return 1;
}

static int flat_null(void *ctx)
{
    flat_decode *f = ctx;
    if (f->field == NULL) /* a null root */
        return 0;
    f->field = NULL; /* a null field is an absent one */
    return 1;
}

static int flat_string(void *ctx, const unsigned char *s, size_t len)
{
    flat_decode *f = ctx;
    if (f->field == NULL || f->field->type != PROTOBUF_C_TYPE_STRING || (!f->plain && !fast_text_ok(s, len)))
        return 0;
    char *copy = decoder_alloc(&f->d, len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *(char **)((char *)f->msg + f->field->offset) = copy;
    mark_given(f->msg, f->field);
    f->field = NULL;
    return 1;
}

static int flat_end_map(void *ctx)
{
    flat_decode *f = ctx;
    f->whole.end_at = yajl_get_bytes_consumed(f->whole.h);
    return 1;
}

static const yajl_callbacks flat_callbacks = {
    .yajl_null = flat_null,
    .yajl_boolean = flat_refuse_boolean,
    .yajl_number = flat_refuse_number,
    .yajl_string = flat_string,
    .yajl_start_map = flat_start_map,
    .yajl_map_key = flat_map_key,
    .yajl_end_map = flat_end_map,
    .yajl_start_array = flat_refuse,
    .yajl_end_array = flat_refuse,
};

static void flat_release(flat_decode *f)
{
    if (f->msg != NULL)
        protobuf_c_message_free_unpacked(f->msg, f->d.alloc);
    f->msg = NULL;
}

ProtobufCMessage *codec_json_decode_flat(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                         ProtobufCAllocator *alloc)
{
    if (len == 0 || !desc_is_flat(desc))
        return NULL;
    unsigned text = text_scan(json, len);
    if (text != 0 && fast_unsure(json, len))
        return NULL;
    flat_decode f = {.d = {.alloc = alloc}, .desc = desc, .plain = (text & TEXT_PLAIN_NOT) == 0};
    flat_decode *volatile fp = &f; /* read after a longjmp */
    /* as in codec_json_parse_fast: inside a decode, a failed allocation of yajl's jumps to
     * load's handler; the message is freed here first (it is the caller's allocator's) */
    arena *const a = current_arena;
    jmp_buf jb;
    jmp_buf *volatile outer = a != NULL ? a->out_of_memory : NULL; /* read after a longjmp */
    if (outer != NULL) {
        if (setjmp(jb) != 0) {
            a->out_of_memory = outer;
            flat_release(fp);
            longjmp(*outer, 1);
        }
        a->out_of_memory = &jb;
    }
    int ok = parse_whole(&flat_callbacks, &f.whole, json, len) && f.msg != NULL && !f.d.oom;
    if (outer != NULL)
        a->out_of_memory = outer;
    if (!ok) {
        flat_release(&f);
        return NULL;
    }
    return f.msg;
}

/* json_loadb, but a failed allocation (with the arena installed) returns NULL with
 * *out_of_memory set instead of going back into jansson. The direct decode is tried first
 * (when it takes the text, *msg is the message and there is no tree), then the fast parse;
 * whatever neither takes, json_loadb reads (and words the error of). */
static json_t *load(const ProtobufCMessageDescriptor *desc, const char *json, size_t len, ProtobufCAllocator *alloc,
                    ProtobufCMessage **msg, json_error_t *jerr, int *out_of_memory)
{
    arena *a = current_arena;
    jmp_buf jb;
    *out_of_memory = 0;
    *msg = NULL;
    if (a != NULL && setjmp(jb) != 0) {
        /* the parse is abandoned where it stood: free what it had taken */
        a->out_of_memory = NULL;
        while (a->spills != NULL)
            arena_free(a->spills + 1);
        *out_of_memory = 1;
        return NULL;
    }
    if (a != NULL)
        a->out_of_memory = &jb;
    json_t *root = NULL;
    if ((*msg = codec_json_decode_flat(desc, json, len, alloc)) == NULL &&
        (root = codec_json_parse_fast(json, len)) == NULL)
        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, jerr);
    if (a != NULL)
        a->out_of_memory = NULL;
    return root;
}

static ProtobufCMessage *decode_text(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                                     ProtobufCAllocator *alloc, error *err)
{
    json_error_t jerr = {0}; /* jansson leaves the code byte unset on some failures */
    int out_of_memory;
    ProtobufCMessage *flat;
    json_t *root = load(desc, json, len, alloc, &flat, &jerr, &out_of_memory);
    if (flat != NULL)
        return flat;
    /* Out of memory is the server's fault, not the body's. Without the arena (the SDK),
     * jansson's own code is all there is, and it does not always say so (see above). */
    if (out_of_memory || (root == NULL && json_error_code(&jerr) == json_error_out_of_memory)) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    if (root == NULL) {
        error_set(err, ERROR_INVALID_BODY, "unreadable JSON");
        /* jansson's text may quote the body near the error ("near '...'"): a secret could be
         * there, so only the reason before that quote is passed on */
        const char *near = strstr(jerr.text, " near ");
        int reason_len = near != NULL ? (int)(near - jerr.text) : (int)strlen(jerr.text);
        error_add_param(err, ERROR_IN_BODY, 0, "body", "invalid JSON at line %d, column %d: %.*s", jerr.line,
                        jerr.column, reason_len, jerr.text);
        return NULL;
    }
    ProtobufCMessage *msg = codec_json_decode_object(desc, root, alloc, err);
    json_decref(root);
    return msg;
}

/* 1 when v nests objects and arrays deeper than max (v itself is level 1). */
static int too_deep(json_t *v, int max)
{
    if (max == 0)
        return json_is_object(v) || json_is_array(v);
    const char *key;
    json_t *item;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            if (too_deep(item, max - 1))
                return 1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            if (too_deep(item, max - 1))
                return 1;
        }
    }
    return 0;
}

ProtobufCMessage *codec_json_decode_object(const ProtobufCMessageDescriptor *desc, json_t *root,
                                           ProtobufCAllocator *alloc, error *err)
{
    if (too_deep(root, CODEC_JSON_MAX_DEPTH)) {
        error_set(err, ERROR_INVALID_BODY, "too deep");
        error_add_param(err, ERROR_IN_BODY, 0, "body", "nests objects and arrays deeper than %d levels",
                        CODEC_JSON_MAX_DEPTH);
        return NULL;
    }
    /* a body is an object, unless it is a Value (anything) or a ListValue (an array) */
    int readable = json_is_object(root);
    if (desc == &schema_value_descriptor)
        readable = 1;
    else if (desc == &schema_list_value_descriptor)
        readable = json_is_array(root);
    if (!readable) {
        error_set(err, ERROR_INVALID_BODY, "not an object");
        error_add_param(err, ERROR_IN_BODY, 0, "body", "must be a JSON %s",
                        desc == &schema_list_value_descriptor ? "array" : "object");
        return NULL;
    }
    decoder d = {.alloc = alloc, .err = err};
    ProtobufCMessage *msg =
        is_dynamic(desc) ? decode_dynamic(&d, desc, root, "body", 0) : decode_message(&d, desc, root, "", 0);
    if (d.oom) {
        if (msg != NULL)
            protobuf_c_message_free_unpacked(msg, alloc);
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return NULL;
    }
    return msg;
}

/* ---- encoding ------------------------------------------------------------------------ */

/* The encoder writes text directly, in two passes over the message: one to measure, one
 * to write into a buffer of exactly that size. No JSON tree, one allocation. Its output is
 * what JSON.stringify prints: ", \ and control characters escaped (\uxxxx in lowercase
 * where there is no short form), everything else as is. */
typedef struct writer {
    char *out;  /* NULL while measuring */
    size_t len; /* bytes written, or that would have been */
    size_t cap; /* room in out; past it the writer only measures */
    const codec_json_memo *memo; /* texts already known (NULL: none) */
} writer;

static inline void put(writer *w, const char *data, size_t n)
{
    if (w->len + n <= w->cap)
        memcpy(w->out + w->len, data, n);
    w->len += n;
}

static inline void put_char(writer *w, char c)
{
    if (w->len < w->cap)
        w->out[w->len] = c;
    w->len++;
}

/* 1 for the bytes that end a run of put_string's: what JSON escapes (", \ and the control
 * bytes) and the NUL that ends the string. One load a byte instead of four compares. */
static const unsigned char run_ends[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
    [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
    ['"'] = 1,  ['\\'] = 1,
};

/* 1 when one of the 8 bytes of v is one put_string escapes (", \ or below 0x20). Never a
 * false "no"; a false "yes" (a borrow out of a byte that matched) only sends the scan to
 * the byte-wise loop. */
static inline int any_to_escape(uint64_t v)
{
    return (swar_equal(v, '"') | swar_equal(v, '\\') | swar_below(v, 0x20)) != 0;
}

static void put_string(writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(s);
    if (len + 2 <= w->cap - w->len && w->len <= w->cap) {
        /* the usual string, with nothing to escape, copied as it is checked */
        char *o = w->out + w->len + 1;
        size_t i = 0;
        for (; len - i >= 8; i += 8) {
            uint64_t v;
            memcpy(&v, s + i, sizeof(v));
            if (any_to_escape(v))
                goto escaping;
            memcpy(o + i, &v, sizeof(v));
        }
        for (; i < len; i++) {
            if (run_ends[(unsigned char)s[i]])
                goto escaping;
            o[i] = s[i];
        }
        o[-1] = '"', o[len] = '"';
        w->len += len + 2;
        return;
    }
escaping:
    put_char(w, '"');
    const char *run = s;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    for (;; p++) {
        /* plain text 8 bytes at a time, then a byte at a time to the next byte to escape */
        while (end - p >= 8) {
            uint64_t v;
            memcpy(&v, p, sizeof(v));
            if (any_to_escape(v))
                break;
            p += 8;
        }
        while (!run_ends[*p])
            p++;
        if (*p == '\0')
            break;
        put(w, run, (size_t)((const char *)p - run));
        run = (const char *)p + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"':
        case '\\':
            esc[1] = (char)*p;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15];
            n = 6;
        }
        put(w, esc, n);
    }
    put(w, run, (size_t)((const char *)p - run));
    put_char(w, '"');
}

/* "lowerCamelCase": of a schema field name (letters, digits and '_': nothing to escape). */
static void put_json_name(writer *w, const char *field_name)
{
    const json_name_slot *slot = json_name(field_name);
    size_t n = slot->len + 3u;
    if (sizeof(slot->text) <= w->cap - w->len && w->len <= w->cap) {
        memcpy(w->out + w->len, slot->text, sizeof(slot->text)); /* a fixed size: a few moves, no call */
        w->len += n;
        return;
    }
    put(w, slot->text, n);
}

static void put_int(writer *w, int64_t v, int quoted)
{
    char buf[24], *p = buf + sizeof(buf);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    if (quoted)
        put_char(w, '"');
    put(w, p, (size_t)(buf + sizeof(buf) - p));
    if (quoted)
        put_char(w, '"');
}

static void put_uint(writer *w, uint64_t u, int quoted)
{
    char buf[24], *p = buf + sizeof(buf);
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (quoted)
        put_char(w, '"');
    put(w, p, (size_t)(buf + sizeof(buf) - p));
    if (quoted)
        put_char(w, '"');
}

/* Year, month, day of a day count since 1970-01-01 (proleptic Gregorian): Howard
 * Hinnant's civil_from_days. gmtime_r would take glibc's time-zone lock on every call. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_timestamp(writer *w, const schema_timestamp *ts)
{
    if (ts->seconds < TIMESTAMP_MIN_SECONDS || ts->seconds > TIMESTAMP_MAX_SECONDS || ts->nanos < 0 ||
        ts->nanos > 999999999) {
        put(w, "null", 4);
        return;
    }
    /* "YYYY-MM-DDTHH:MM:SS." of the last second written, per thread: the webhooks answered
     * together were mostly made in the same second */
    static __thread int64_t last_seconds = TIMESTAMP_MIN_SECONDS - 1;
    static __thread char last_text[SECOND_TEXT_LEN];
    char buf[40], *p = buf;
    *p++ = '"';
    if (ts->seconds != last_seconds) {
        int64_t days = ts->seconds >= 0 ? ts->seconds / 86400 : -((-ts->seconds + 86399) / 86400);
        int64_t secs = ts->seconds - days * 86400, year;
        unsigned month, day;
        civil_from_days(days, &year, &month, &day);
        unsigned fields[] = {(unsigned)year,       month, day, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                             (unsigned)(secs % 60)};
        static const char seps[] = "--T::.";
        char *t = last_text;
        for (int i = 0; i < 6; i++) {
            int width = i == 0 ? 4 : 2;
            for (int k = width - 1; k >= 0; k--, fields[i] /= 10)
                t[k] = (char)('0' + fields[i] % 10);
            t += width;
            *t++ = seps[i];
        }
        HG_ASSERT(t - last_text == SECOND_TEXT_LEN);
        last_seconds = ts->seconds;
    }
    memcpy(p, last_text, SECOND_TEXT_LEN);
    p += SECOND_TEXT_LEN;
    /* Droplit always shows milliseconds; finer values keep 6 or 9 digits */
    int digits = ts->nanos % 1000000 == 0 ? 3 : ts->nanos % 1000 == 0 ? 6 : 9;
    int frac = digits == 3 ? ts->nanos / 1000000 : digits == 6 ? ts->nanos / 1000 : ts->nanos;
    for (int k = digits - 1; k >= 0; k--, frac /= 10)
        p[k] = (char)('0' + frac % 10);
    p += digits;
    *p++ = 'Z';
    *p++ = '"';
    put(w, buf, (size_t)(p - buf));
}

#define DOUBLE_TEXT_MAX 32 /* "-1.2345678901234567e-308" and its NUL, with room */

/* The shortest text strtod reads back as exactly x (finite) into buf, laid out as
 * JavaScript's Number to String (ECMA-262) lays it out, so that what JSON.stringify wrote
 * comes back byte for byte: "1", "-42", "1.5", "0.000001", "1e-7", "1.5e+300". The
 * digits are the fewest that read back as x (tried from one up to 17, which always do).
 * Two departures, both so that jansson reads the text back as the same number: an
 * integer from 1e18 on takes the exponent form (JavaScript writes up to 21 digits, past
 * the int64 range jansson reads integer literals in), and -0 is "-0.0" (jansson reads
 * "-0" as the integer 0, which would lose the sign). */
static size_t format_double(double x, char buf[DOUBLE_TEXT_MAX])
{
    HG_ASSERT(isfinite(x));
    if (x == 0) {
        memcpy(buf, signbit(x) ? "-0.0" : "0", signbit(x) ? 5 : 2);
        return signbit(x) ? 4 : 1;
    }
    char e[DOUBLE_TEXT_MAX];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(e, sizeof e, "%.*e", precision - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    /* e is "[-]d[.ddd]e[+-]XX": its digits without the point, and the decimal point's place */
    char digits[20];
    size_t k = 0;
    const char *p = e;
    int negative = *p == '-';
    p += negative;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int point = atoi(p + 1) + 1; /* x = 0.digits * 10^point */
    size_t n = 0;
    if (negative)
        buf[n++] = '-';
    if ((int)k <= point && point <= 18) { /* an integer: digits, then zeros */
        memcpy(buf + n, digits, k), n += k;
        for (int i = (int)k; i < point; i++)
            buf[n++] = '0';
    } else if (0 < point && point <= 21 && (int)k > point) { /* digits with a point inside */
        memcpy(buf + n, digits, (size_t)point), n += (size_t)point;
        buf[n++] = '.';
        memcpy(buf + n, digits + point, k - (size_t)point), n += k - (size_t)point;
    } else if (-6 < point && point <= 0) { /* 0.000ddd */
        buf[n++] = '0', buf[n++] = '.';
        for (int i = point; i < 0; i++)
            buf[n++] = '0';
        memcpy(buf + n, digits, k), n += k;
    } else { /* d[.ddd]e+X */
        buf[n++] = digits[0];
        if (k > 1) {
            buf[n++] = '.';
            memcpy(buf + n, digits + 1, k - 1), n += k - 1;
        }
        n += (size_t)snprintf(buf + n, DOUBLE_TEXT_MAX - n, "e%c%d", point - 1 < 0 ? '-' : '+', abs(point - 1));
    }
    buf[n] = '\0';
    HG_ASSERT(n < DOUBLE_TEXT_MAX);
    return n;
}

/* A double as format_double writes it, or, not being a JSON number, NaN and the
 * infinities as the strings "NaN", "Infinity" and "-Infinity" (proto3 JSON's spelling).
 * fraction: an integral value keeps a ".0" (the double and float fields do; Value's
 * numbers do not, since JSON has only numbers). */
static void put_double(writer *w, double x, int fraction)
{
    if (!isfinite(x)) {
        put_string(w, isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char buf[DOUBLE_TEXT_MAX];
    size_t n = format_double(x, buf);
    put(w, buf, n);
    if (fraction && strpbrk(buf, ".e") == NULL)
        put(w, ".0", 2);
}

/* Struct, Value and ListValue out: JSON itself. Keys and list items in stored order. A
 * Value with no kind (which proto3 calls invalid), or whose struct or list is missing, is
 * null. Keys are written as stored: a Struct from binary protobuf may repeat one (a map
 * would keep the last), and the JSON then repeats it too. Recursion follows the message,
 * whose depth each decoder bounds. */
static void write_any(writer *w, const schema_value *v);

static void write_struct(writer *w, const schema_struct *s)
{
    int first = 1;
    put_char(w, '{');
    for (size_t i = 0; i < s->n_fields; i++) {
        const schema_struct_entry *e = s->fields[i];
        if (e == NULL)
            continue;
        if (!first)
            put_char(w, ',');
        first = 0;
        put_string(w, e->key != NULL ? e->key : "");
        put_char(w, ':');
        write_any(w, e->value);
    }
    put_char(w, '}');
}

static void write_list(writer *w, const schema_list_value *l)
{
    put_char(w, '[');
    for (size_t i = 0; i < l->n_values; i++) {
        if (i > 0)
            put_char(w, ',');
        write_any(w, l->values[i]);
    }
    put_char(w, ']');
}

static void write_any(writer *w, const schema_value *v)
{
    if (v != NULL) {
        switch (v->kind_case) {
        case SCHEMA_VALUE_NUMBER:
            put_double(w, v->number_value, 0);
            return;
        case SCHEMA_VALUE_STRING:
            put_string(w, v->string_value != NULL ? v->string_value : "");
            return;
        case SCHEMA_VALUE_BOOL:
            if (v->bool_value)
                put(w, "true", 4);
            else
                put(w, "false", 5);
            return;
        case SCHEMA_VALUE_STRUCT:
            if (v->struct_value != NULL) {
                write_struct(w, v->struct_value);
                return;
            }
            break;
        case SCHEMA_VALUE_LIST:
            if (v->list_value != NULL) {
                write_list(w, v->list_value);
                return;
            }
            break;
        default: /* null_value, or no kind */
            break;
        }
    }
    put(w, "null", 4);
}

static void write_dynamic(writer *w, const ProtobufCMessage *msg)
{
    if (msg->descriptor == &schema_struct_descriptor)
        write_struct(w, (const schema_struct *)msg);
    else if (msg->descriptor == &schema_list_value_descriptor)
        write_list(w, (const schema_list_value *)msg);
    else
        write_any(w, (const schema_value *)msg);
}

static int write_message(writer *w, const ProtobufCMessage *msg);

static int write_value(writer *w, const ProtobufCFieldDescriptor *f, const void *src)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        put_int(w, *(const int32_t *)src, 0);
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        put_uint(w, *(const uint32_t *)src, 0);
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        put_int(w, *(const int64_t *)src, 1); /* 64-bit integers are strings in proto3 JSON */
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        put_uint(w, *(const uint64_t *)src, 1);
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        put_double(w, f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)src : *(const double *)src, 1);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)src)
            put(w, "true", 4);
        else
            put(w, "false", 5);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t n = *(const int32_t *)src;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, n);
        if (ev != NULL)
            put_string(w, ev->name);
        else
            put_int(w, n, 0);
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        put_string(w, s != NULL ? s : "");
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = src;
        size_t n = BASE64_ENCODED_LEN(b->len);
        put_char(w, '"');
        if (w->len + n + 1 <= w->cap) /* base64_encode writes a NUL after the text */
            base64_encode(b->data, b->len, BASE64_PADDED, w->out + w->len);
        w->len += n;
        put_char(w, '"');
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)src;
        if (sub == NULL)
            put(w, "null", 4);
        else if (is_timestamp(f))
            put_timestamp(w, (const schema_timestamp *)sub);
        else
            return write_message(w, sub);
        return 0;
    }
    }
    return -1;
}

static int write_fields(writer *w, const ProtobufCMessage *msg);

static int write_message(writer *w, const ProtobufCMessage *msg)
{
    if (is_dynamic(msg->descriptor)) {
        write_dynamic(w, msg);
        return 0;
    }
    if (w->memo == NULL)
        return write_fields(w, msg);
    size_t known_len, start = w->len;
    const char *known = w->memo->find(w->memo->data, msg, &known_len);
    if (known != NULL) {
        put(w, known, known_len);
        return 0;
    }
    if (write_fields(w, msg) != 0)
        return -1;
    if (w->len <= w->cap) /* written whole, not only measured */
        w->memo->keep(w->memo->data, msg, w->out + start, w->len - start);
    return 0;
}

/* The object of a message that is not one of the dynamic kinds. */
static int write_fields(writer *w, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    int first = 1;
    put_char(w, '{');
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *member = (const char *)msg + f->offset;
        const char *quantifier = (const char *)msg + f->quantifier_offset;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)quantifier != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
            !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && !*(const protobuf_c_boolean *)quantifier)
            continue;
        if (!first)
            put_char(w, ',');
        first = 0;
        put_json_name(w, f->name);
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (write_value(w, f, member) != 0)
                return -1;
            continue;
        }
        size_t n = *(const size_t *)quantifier, size = element_size(f->type);
        const char *items = *(char *const *)member;
        put_char(w, '[');
        for (size_t k = 0; k < n; k++) {
            if (k > 0)
                put_char(w, ',');
            if (write_value(w, f, items + k * size) != 0)
                return -1;
        }
        put_char(w, ']');
    }
    put_char(w, '}');
    return 0;
}

char *codec_json_encode_memo(const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len,
                             const codec_json_memo *memo)
{
    /* most answers fit here and are written once; a bigger one is measured by this same
     * pass and written by a second one into a buffer of exactly its size */
    char stack[CODEC_JSON_STACK_BYTES];
    writer w = {stack, 0, sizeof(stack), memo};
    if (write_message(&w, msg) != 0)
        return NULL;
    size_t n = w.len;
    char *out = alloc != NULL ? alloc->alloc(alloc->allocator_data, n + 1) : malloc(n + 1);
    if (out == NULL)
        return NULL;
    if (n <= sizeof(stack)) {
        memcpy(out, stack, n);
    } else {
        w = (writer){out, 0, n, memo};
        write_message(&w, msg);
    }
    out[n] = '\0';
    *len = n;
    return out;
}

char *codec_json_encode_with(const ProtobufCMessage *msg, ProtobufCAllocator *alloc, size_t *len)
{
    return codec_json_encode_memo(msg, alloc, len, NULL);
}

char *codec_json_encode(const ProtobufCMessage *msg, size_t *len)
{
    return codec_json_encode_with(msg, NULL, len);
}
