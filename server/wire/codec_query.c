/* codec_query: see codec_query.h.
 *
 * The query becomes a JSON object of string values and goes through codec_json, so names,
 * aliases and unknown-field rules are exactly those of a JSON body. */
#include "codec_query.h"

#include <stdlib.h>
#include <string.h>
#include <uriparser/Uri.h>

#include "codec_json.h"
#include "codec_proto.h"

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

ProtobufCMessage *codec_query_decode(const ProtobufCMessageDescriptor *desc, const char *query, size_t len,
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
