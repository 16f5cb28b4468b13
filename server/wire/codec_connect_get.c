/* codec_connect_get: see codec_connect_get.h. */
#include "codec_connect_get.h"

#include <string.h>
#include <uriparser/Uri.h>

#include "base64.h"
#include "gzip.h"
#include "hg_assert.h"

#define COMPRESSION_ECHO_MAX 32 /* bytes of a compression name an error repeats */

/* The parameters the protocol names, in the order their problems are listed. */
enum { P_MESSAGE, P_ENCODING, P_BASE64, P_COMPRESSION, P_CONNECT, P_COUNT };
static const char *const param_names[P_COUNT] = {"message", "encoding", "base64", "compression", "connect"};

/* Percent-decodes s[0..len) in place (it has room for the NUL uriparser writes after it,
 * at s[len]); returns the decoded length, NULs inside counted. */
static size_t unescape(char *s, size_t len)
{
    char saved = s[len];
    s[len] = '\0';
    const char *end = uriUnescapeInPlaceExA(s, URI_TRUE, URI_BR_DONT_TOUCH);
    s[len] = saved;
    HG_ASSERT(end >= s && (size_t)(end - s) <= len);
    return (size_t)(end - s);
}

static int value_is(const char *v, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(v, lit, len) == 0;
}

int codec_connect_get_decode(const char *query, size_t len, size_t limit, ProtobufCAllocator *alloc,
                             codec_connect_get *out, error *err)
{
    HG_ASSERT(query != NULL || len == 0);
    error_clear(err);
    *out = (codec_connect_get){CODEC_CONNECT_UNSUPPORTED, NULL, 0};
    if (len > limit) {
        error_set(err, ERROR_TOO_LARGE, "The query string exceeds the limit of %zu bytes.", limit);
        return -1;
    }
    /* a copy to decode in place: every value only shrinks; one byte more for the NUL */
    char *copy = alloc->alloc(alloc->allocator_data, len + 1);
    if (copy == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    }
    memcpy(copy, query, len);
    copy[len] = '\0';

    const char *value[P_COUNT] = {NULL};
    size_t value_len[P_COUNT] = {0};
    int twice[P_COUNT] = {0};
    for (char *p = copy, *end = copy + len; p < end;) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp != NULL ? amp : end;
        char *eq = memchr(p, '=', (size_t)(stop - p));
        char *vstart = eq != NULL ? eq + 1 : stop;
        size_t name_len = unescape(p, (size_t)((eq != NULL ? eq : stop) - p));
        for (int i = 0; i < P_COUNT; i++)
            if (value_is(p, name_len, param_names[i])) {
                if (value[i] != NULL)
                    twice[i] = 1;
                value[i] = vstart;
                value_len[i] = unescape(vstart, (size_t)(stop - vstart));
            }
        p = stop + 1;
    }
    for (int i = 0; i < P_COUNT; i++)
        if (twice[i])
            error_add_param(err, ERROR_IN_QUERY, (unsigned)i, param_names[i], "given more than once");

    gzip_coding coding =
        value[P_COMPRESSION] != NULL ? gzip_coding_of(value[P_COMPRESSION], value_len[P_COMPRESSION]) : GZIP_IDENTITY;
    if (value[P_COMPRESSION] != NULL && value_len[P_COMPRESSION] == 0)
        coding = GZIP_UNSUPPORTED; /* named, but empty: not identity's spelling */
    if (!twice[P_COMPRESSION] && coding == GZIP_UNSUPPORTED) {
        /* named back only when it is a token (the error is JSON and protobuf text) */
        size_t n = value_len[P_COMPRESSION];
        int token = n > 0 && n <= COMPRESSION_ECHO_MAX;
        for (size_t i = 0; token && i < n; i++)
            token = value[P_COMPRESSION][i] > ' ' && value[P_COMPRESSION][i] < 0x7f;
        if (token)
            error_set(err, ERROR_UNIMPLEMENTED, "Compression %.*s is not supported: use " GZIP_NAME " or identity.",
                      (int)n, value[P_COMPRESSION]);
        else
            error_set(err, ERROR_UNIMPLEMENTED, "Compression is not supported: use " GZIP_NAME " or identity.");
        return -1;
    }
    if (value[P_CONNECT] != NULL && !value_is(value[P_CONNECT], value_len[P_CONNECT], "v1"))
        error_add_param(err, ERROR_IN_QUERY, P_CONNECT, "connect", "must be v1");
    int base64 = value[P_BASE64] != NULL && value_is(value[P_BASE64], value_len[P_BASE64], "1");
    if (value[P_BASE64] != NULL && !base64 && !value_is(value[P_BASE64], value_len[P_BASE64], "0"))
        error_add_param(err, ERROR_IN_QUERY, P_BASE64, "base64", "must be 0 or 1");
    if (value[P_MESSAGE] == NULL) {
        error_add_param(err, ERROR_IN_QUERY, P_MESSAGE, "message", "field is required");
    } else if (base64) {
        uint8_t *bytes = alloc->alloc(alloc->allocator_data, BASE64_DECODED_MAX(value_len[P_MESSAGE]) + 1);
        if (bytes == NULL) {
            error_set(err, ERROR_INTERNAL, "Out of memory.");
            return -1;
        }
        if (base64_decode(value[P_MESSAGE], value_len[P_MESSAGE], BASE64_URL, bytes, &out->message_len) != 0)
            error_add_param(err, ERROR_IN_QUERY, P_MESSAGE, "message", "not base64url");
        out->message = bytes;
    } else {
        out->message = (const uint8_t *)value[P_MESSAGE];
        out->message_len = value_len[P_MESSAGE];
    }
    if (err->kind != ERROR_NONE) {
        error_sort_params(err);
        return -1;
    }
    if (coding == GZIP_GZIP && !twice[P_COMPRESSION]) { /* held to the body's limit once inflated */
        uint8_t *inflated;
        if (gzip_decode(out->message, out->message_len, limit, alloc, &inflated, &out->message_len, err) != 0) {
            out->message = NULL;
            if (err->kind == ERROR_INVALID_BODY) { /* the bytes are the query's, not a body's */
                error_clear(err);
                error_add_param(err, ERROR_IN_QUERY, P_MESSAGE, "message", "not a whole gzip stream");
            }
            return -1;
        }
        out->message = inflated;
    }
    if (value[P_ENCODING] != NULL && value_is(value[P_ENCODING], value_len[P_ENCODING], "proto"))
        out->encoding = CODEC_CONNECT_PROTO;
    else if (value[P_ENCODING] != NULL && value_is(value[P_ENCODING], value_len[P_ENCODING], "json"))
        out->encoding = CODEC_CONNECT_JSON;
    return 0;
}
