/* accesslog: see accesslog.h. */
#include "accesslog.h"

#include "hg_assert.h"
#include "log.h"
#include "utf8.h"

#include <limits.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048 /* a line: the path is cut at 256 bytes and the method at 16 before escaping,
                                which makes each at most 6 times longer (\u00HH) */
_Static_assert(LINE_MAX_BYTES <= PIPE_BUF, "a line must fit one atomic write");

static accesslog_format format = ACCESSLOG_TEXT;

/* A thread's batched lines; a line is never longer than LINE_MAX_BYTES < PIPE_BUF. */
static __thread struct {
    int on;
    size_t len;
    char data[PIPE_BUF];
} batch;
static char id_prefix[9];
static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static atomic_int id_ready; /* id_once has run */
static atomic_uint_fast32_t id_counter;

void accesslog_set_format(accesslog_format f)
{
    format = f;
}

/* Appends to a line buffer, truncated at its end. */
static size_t put(char *line, size_t at, size_t cap, const char *text, size_t len)
{
    if (len > cap - at)
        len = cap - at;
    memcpy(line + at, text, len);
    return at + len;
}

#define UINT_DIGITS_MAX 20 /* of a uint64_t */

/* v's decimal digits (at least min_digits, zeros before) at p, which has room for
 * UINT_DIGITS_MAX; where they end. */
static char *text_uint(char *p, uint64_t v, int min_digits)
{
    HG_ASSERT(min_digits <= UINT_DIGITS_MAX);
    char digits[UINT_DIGITS_MAX], *d = digits + sizeof(digits);
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0 || digits + sizeof(digits) - d < min_digits);
    size_t n = (size_t)(digits + sizeof(digits) - d);
    memcpy(p, d, n);
    return p + n;
}

static size_t put_uint(char *line, size_t at, size_t cap, uint64_t v, int min_digits)
{
    char digits[UINT_DIGITS_MAX];
    return put(line, at, cap, digits, (size_t)(text_uint(digits, v, min_digits) - digits));
}

static const char hex[] = "0123456789abcdef";

static const unsigned char field_plain[256] = {['!' ... '['] = 1, [']' ... '~'] = 1}; /* printable, not '\\' */

/* A JSON string body: ", \ and control bytes escaped (\u00HH), characters of UTF-8 as they
 * are, and a byte that is not UTF-8 written as the six characters \\xHH (a JSON string must
 * be UTF-8; the escape keeps the byte readable without passing for the character U+00HH). */
static size_t put_escaped(char *line, size_t at, size_t cap, const char *text, size_t len)
{
    for (size_t i = 0, n; i < len && at < cap; i += n) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') { /* a run of plain ASCII goes in one copy */
            n = 1;
            while (i + n < len && (c = (unsigned char)text[i + n]) >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                n++;
            at = put(line, at, cap, text + i, n);
            continue;
        }
        n = utf8_char_len((const uint8_t *)text + i, len - i);
        if (n == 0) {
            char esc[5] = {'\\', '\\', 'x', hex[c >> 4], hex[c & 15]};
            at = put(line, at, cap, esc, 5);
            n = 1;
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            at = put(line, at, cap, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            at = put(line, at, cap, esc, 6);
        } else {
            at = put(line, at, cap, text + i, n);
        }
    }
    return at;
}

static size_t put_duration(char *line, size_t n, size_t cap, int64_t us)
{
    if (us < 0)
        us = 0;
    n = put_uint(line, n, cap, (uint64_t)(us / 1000), 1);
    n = put(line, n, cap, ".", 1);
    return put_uint(line, n, cap, (uint64_t)(us % 1000), 3);
}

/* The text format's line, written without a bound per piece: its longest (every byte of
 * the method and path escaped, 20-digit numbers, the longest protocol) fits the buffer. */
#define METHOD_MAX 16
#define PATH_MAX_BYTES 256
#define PROTOCOL_MAX 16
_Static_assert(3 + 7 + 4 * METHOD_MAX + 1 + 4 * PATH_MAX_BYTES + 1 + UINT_DIGITS_MAX + 1 + UINT_DIGITS_MAX + 1 +
                       UINT_DIGITS_MAX + 4 + 3 + PROTOCOL_MAX + 1 <=
                   LINE_MAX_BYTES,
               "a text line fits its buffer");

/* A client's bytes (a method, a path) in the text format: one field with no byte that could
 * end it, start a line or move a terminal. Control bytes, space, DEL, backslash and bytes
 * that are not well-formed UTF-8 become \xHH; characters of UTF-8 stay as they are. So a
 * path can never forge a second line or a field, and what was sent can be read back. */
static char *text_field(char *p, const char *text, size_t len)
{
    for (size_t i = 0, n; i < len; i += n) {
        unsigned char c = (unsigned char)text[i];
        if (field_plain[c]) {
            *p++ = (char)c;
            n = 1;
            continue;
        }
        n = utf8_char_len((const uint8_t *)text + i, len - i);
        if (n == 0 || c <= 0x20 || c == 0x7f || c == '\\') {
            p[0] = '\\', p[1] = 'x', p[2] = hex[c >> 4], p[3] = hex[c & 15];
            p += 4;
            n = 1;
        } else {
            memcpy(p, text + i, n);
            p += n;
        }
    }
    return p;
}

void accesslog_write(const accesslog_entry *e)
{
    if (format == ACCESSLOG_OFF)
        return;
    char line[LINE_MAX_BYTES];
    size_t cap = sizeof(line) - 1, n = 0;
    size_t method_len = e->method_len < METHOD_MAX ? e->method_len : METHOD_MAX,
           path_len = e->path_len < PATH_MAX_BYTES ? e->path_len : PATH_MAX_BYTES;
    if (log_access_to_journal())
        n = put(line, n, cap, "<6>", 3); /* the journal's priority: informational */
    if (format == ACCESSLOG_TEXT) {
        size_t protocol_len = strlen(e->protocol);
        HG_ASSERT(protocol_len <= PROTOCOL_MAX); /* the server's own names */
        char *p = line + n;
        memcpy(p, "access ", 7);
        p = text_field(p + 7, e->method, method_len);
        *p++ = ' ';
        p = text_field(p, e->path, path_len);
        *p++ = ' ';
        p = text_uint(p, (uint64_t)(e->status >= 0 ? e->status : 0), 1);
        *p++ = ' ';
        p = text_uint(p, e->bytes, 1);
        *p++ = ' ';
        uint64_t us = e->duration_us > 0 ? (uint64_t)e->duration_us : 0;
        p = text_uint(p, us / 1000, 1);
        *p++ = '.';
        p = text_uint(p, us % 1000, 3);
        memcpy(p, "ms ", 3);
        memcpy(p + 3, e->protocol, protocol_len);
        n = (size_t)(p + 3 + protocol_len - line);
    } else {
        struct timespec now;
        struct tm tm;
        char stamp[32];
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t sl = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        n = put(line, n, cap, "{\"time\":\"", 9);
        n = put(line, n, cap, stamp, sl);
        n = put(line, n, cap, ".", 1);
        n = put_uint(line, n, cap, (uint64_t)(now.tv_nsec / 1000000), 3);
        n = put(line, n, cap, "Z\",\"request_id\":\"", 17);
        n = put_escaped(line, n, cap, e->request_id, e->request_id_len);
        n = put(line, n, cap, "\",\"method\":\"", 12);
        n = put_escaped(line, n, cap, e->method, method_len);
        n = put(line, n, cap, "\",\"path\":\"", 10);
        n = put_escaped(line, n, cap, e->path, path_len);
        n = put(line, n, cap, "\",\"status\":", 11);
        n = put_uint(line, n, cap, (uint64_t)e->status, 1);
        n = put(line, n, cap, ",\"bytes\":", 9);
        n = put_uint(line, n, cap, e->bytes, 1);
        n = put(line, n, cap, ",\"duration_ms\":", 15);
        n = put_duration(line, n, cap, e->duration_us);
        n = put(line, n, cap, ",\"protocol\":\"", 13);
        n = put(line, n, cap, e->protocol, strlen(e->protocol));
        n = put(line, n, cap, "\"}", 2);
    }
    line[n++] = '\n';
    if (!batch.on) {
        ssize_t rc = write(log_access_fd(), line, n);
        (void)rc; /* a log that cannot be written must not fail the request */
        return;
    }
    if (batch.len + n > sizeof(batch.data))
        accesslog_flush();
    memcpy(batch.data + batch.len, line, n);
    batch.len += n;
}

void accesslog_batch(void)
{
    batch.on = 1;
}

void accesslog_flush(void)
{
    if (batch.len == 0)
        return;
    ssize_t rc = write(log_access_fd(), batch.data, batch.len);
    (void)rc; /* as above */
    batch.len = 0;
}

static void id_init(void)
{
    unsigned char r[4] = {0};
    RAND_bytes(r, sizeof(r));
    for (int i = 0; i < 4; i++)
        id_prefix[2 * i] = hex[r[i] >> 4], id_prefix[2 * i + 1] = hex[r[i] & 15];
}

size_t accesslog_request_id(char out[ACCESSLOG_ID_MAX + 1])
{
    if (!atomic_load_explicit(&id_ready, memory_order_acquire)) { /* (pthread_once's own check costs more) */
        pthread_once(&id_once, id_init);
        atomic_store_explicit(&id_ready, 1, memory_order_release);
    }
    uint32_t n = (uint32_t)atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
    /* An odd multiplier maps the 2^32 counts one to one, and spreads consecutive ones, so
     * that ids differ in their first byte, wherever they are compared (h2o 2.2.5's HPACK
     * encoder did, with every entry of its table, until h2guard kept ids out of it). */
    n *= 0x9e3779b1u;
    for (int i = 0; i < 8; i++)
        out[i] = hex[(n >> (28 - 4 * i)) & 15];
    memcpy(out + 8, id_prefix, 8);
    out[16] = '\0';
    return 16;
}

int accesslog_id_is_acceptable(const char *id, size_t len)
{
    if (len == 0 || len > ACCESSLOG_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return 0;
    }
    return 1;
}
