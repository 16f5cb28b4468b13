/* gzip: see gzip.h. zlib keeps its own state in malloc'd memory, freed before each call
 * returns; only the output comes from the caller's allocator. */
#include "gzip.h"

#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "hg_assert.h"

#define GZIP_WINDOW_BITS (15 + 16) /* zlib's largest window, gzip's header and trailer */
#define GZIP_MEM_LEVEL 8           /* zlib's default */
#define SCRATCH_BYTES 16384        /* the measuring pass's output, on the stack */

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* [p, end) without the spaces around it */
static void trim(const char **p, const char **end)
{
    while (*p < *end && is_space(**p))
        (*p)++;
    while (*end > *p && is_space((*end)[-1]))
        (*end)--;
}

static int token_is(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) == n && strncasecmp(p, lit, n) == 0;
}

gzip_coding gzip_coding_of(const char *value, size_t len)
{
    if (value == NULL || len == 0)
        return GZIP_IDENTITY;
    const char *p = value, *end = value + len;
    trim(&p, &end);
    if (p == end || token_is(p, end, "identity"))
        return GZIP_IDENTITY;
    return token_is(p, end, "gzip") ? GZIP_GZIP : GZIP_UNSUPPORTED;
}

/* 1 when the parameters [p, end) of one list member (";q=0.5;x=y") set q to zero */
static int q_is_zero(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi != NULL ? semi : end, *s = p, *e = stop;
        trim(&s, &e);
        if (e - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
            s += 2;
            int zero = s < e && *s == '0';
            for (const char *c = s + 1; zero && c < e; c++)
                zero = *c == '.' || *c == '0';
            return zero;
        }
        p = stop + 1;
    }
    return 0;
}

int gzip_accepted(const char *list, size_t len)
{
    if (list == NULL)
        return 0;
    for (const char *p = list, *end = list + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        const char *semi = memchr(p, ';', (size_t)(stop - p));
        const char *name = p, *name_end = semi != NULL ? semi : stop;
        trim(&name, &name_end);
        if ((token_is(name, name_end, "gzip") || token_is(name, name_end, "*")) &&
            !(semi != NULL && q_is_zero(semi + 1, stop)))
            return 1;
        p = stop + 1;
    }
    return 0;
}

/* One pass over in, stopping with 1 as soon as more than limit bytes came out. out NULL:
 * the output goes to a scratch buffer and is only counted. out set: it holds limit + 1
 * bytes and receives the output (room for a byte past the end: zlib then never has a full
 * output buffer before the stream's trailer is read). Returns 0 with *produced, 1 over
 * the limit, -1 not one whole gzip member, -2 out of memory. */
static int inflate_pass(const uint8_t *in, size_t len, size_t limit, uint8_t *out, size_t *produced)
{
    uint8_t scratch[SCRATCH_BYTES];
    z_stream z;
    memset(&z, 0, sizeof(z));
    int rc = inflateInit2(&z, GZIP_WINDOW_BITS);
    if (rc != Z_OK)
        return rc == Z_MEM_ERROR ? -2 : -1;
    size_t total = 0, in_left = len;
    const uint8_t *next_in = in;
    int result = -1;
    for (;;) {
        /* zlib counts in uInt: feed and take at most that much at a time */
        uInt in_chunk = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
        /* room for limit + 1 - total: a byte past the limit is seen, never more */
        size_t room = limit - total + 1;
        if (out == NULL && room > SCRATCH_BYTES)
            room = SCRATCH_BYTES;
        z.next_in = (Bytef *)next_in;
        z.avail_in = in_chunk;
        z.next_out = out != NULL ? out + total : scratch;
        z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        uInt avail_out = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        next_in += in_chunk - z.avail_in;
        in_left -= in_chunk - z.avail_in;
        total += avail_out - z.avail_out;
        HG_ASSERT(total <= limit + 1);
        if (total > limit) {
            result = 1;
            break;
        }
        if (rc == Z_STREAM_END) {
            result = in_left == 0 ? 0 : -1; /* bytes after the member: not one gzip stream */
            break;
        }
        if (rc == Z_MEM_ERROR)
            result = -2;
        /* Z_OK made progress; Z_BUF_ERROR (the input ended first: truncated), Z_DATA_ERROR
         * (corrupt) and Z_NEED_DICT (no gzip member has one) end the pass */
        if (rc != Z_OK)
            break;
    }
    inflateEnd(&z);
    *produced = total;
    return result;
}

int gzip_decode(const uint8_t *in, size_t len, size_t limit, ProtobufCAllocator *alloc, uint8_t **out, size_t *out_len,
                error *err)
{
    HG_ASSERT(in != NULL || len == 0);
    HG_ASSERT(limit < SIZE_MAX);
    size_t n, again = 0;
    int rc = inflate_pass(in, len, limit, NULL, &n);
    if (rc == 1) {
        error_set(err, ERROR_TOO_LARGE, "The message exceeds the limit of %zu bytes once decompressed.", limit);
        return -1;
    }
    if (rc == -1) {
        error_set(err, ERROR_INVALID_BODY, "The message is not one whole gzip stream.");
        return -1;
    }
    uint8_t *buf = rc == 0 ? alloc->alloc(alloc->allocator_data, n + 1) : NULL;
    /* the same bytes again, into a buffer of their size (and one byte: inflate_pass's
     * room): only zlib's memory can fail now */
    if (buf != NULL && (rc = inflate_pass(in, len, n, buf, &again)) != 0) {
        HG_ASSERT(rc == -2); /* the first pass read the stream whole */
        alloc->free(alloc->allocator_data, buf);
        buf = NULL;
    }
    if (buf == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    }
    HG_ASSERT(again == n);
    *out = buf;
    *out_len = n;
    return 0;
}

uint8_t *gzip_encode(const uint8_t *in, size_t len, ProtobufCAllocator *alloc, size_t *out_len)
{
    HG_ASSERT(in != NULL || len == 0);
    HG_ASSERT(len <= UINT32_MAX); /* an answer is held to the limits, far below */
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)len);
    uint8_t *out = alloc->alloc(alloc->allocator_data, bound);
    if (out == NULL) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH); /* deflateBound's room: one call finishes */
    *out_len = bound - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        HG_ASSERT(rc == Z_MEM_ERROR || rc == Z_BUF_ERROR);
        alloc->free(alloc->allocator_data, out);
        return NULL;
    }
    return out;
}

int gzip_answer(const char *accept, size_t accept_len, ProtobufCAllocator *alloc, const uint8_t **msg, size_t *len)
{
    if (*len < GZIP_ANSWER_MIN_BYTES || !gzip_accepted(accept, accept_len))
        return 0;
    size_t packed_len;
    uint8_t *packed = gzip_encode(*msg, *len, alloc, &packed_len);
    if (packed == NULL)
        return 0;
    *msg = packed;
    *len = packed_len;
    return 1;
}
