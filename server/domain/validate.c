/* validate: see validate.h. */
#include "validate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <idn2.h>
#include <uriparser/Uri.h>

#include "hg_assert.h"
#include "objectid.h"
#include "pagetoken.h"

/* Adds a problem for the named field of desc (by its schema name and number) unless a
 * codec already reported that field. */
static void problem(error *err, const ProtobufCMessageDescriptor *desc, const char *field, const char *message)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, field);
    HG_ASSERT(f != NULL);
    if (!error_has_order(err, f->id))
        error_add_field(err, ERROR_IN_UNSET, f->id, f->name, "%s", message);
}

static void check_ecosystem_id(const char *id, const ProtobufCMessageDescriptor *desc, const char *field, error *err)
{
    if (id == NULL || id[0] == '\0')
        problem(err, desc, field, VALIDATE_REQUIRED);
    else if (!objectid_is_ecosystem_id(id, strlen(id)))
        problem(err, desc, field, VALIDATE_INVALID_ID);
}

static void check_length(const char *s, size_t max, const ProtobufCMessageDescriptor *desc, const char *field,
                         error *err)
{
    char message[64];
    if (s != NULL && strlen(s) > max) {
        snprintf(message, sizeof(message), "must be at most %zu bytes", max);
        problem(err, desc, field, message);
    }
}

static int range_equals(const UriTextRangeA *r, const char *s)
{
    size_t n = (size_t)(r->afterLast - r->first);
    return r->first != NULL && n == strlen(s) && strncasecmp(r->first, s, n) == 0;
}

/* uriparser allocates a node per path segment; a URL's parse borrows them from a buffer
 * on the stack instead (the parse is read and dropped within the call). Each block keeps
 * its size before it so realloc can copy; what does not fit goes to the heap. */
#define URL_ARENA_BYTES 2048

typedef struct url_arena {
    _Alignas(16) char space[URL_ARENA_BYTES];
    size_t used;
} url_arena;

static void *url_malloc(UriMemoryManager *m, size_t size)
{
    url_arena *a = m->userData;
    size_t need = 16 + ((size + 15) & ~(size_t)15);
    if (need > URL_ARENA_BYTES - a->used)
        return malloc(size);
    char *p = a->space + a->used;
    a->used += need;
    memcpy(p, &size, sizeof(size));
    return p + 16;
}

static int in_arena(UriMemoryManager *m, void *ptr)
{
    url_arena *a = m->userData;
    return (char *)ptr >= a->space && (char *)ptr < a->space + URL_ARENA_BYTES;
}

static void url_free(UriMemoryManager *m, void *ptr)
{
    if (ptr != NULL && !in_arena(m, ptr))
        free(ptr);
}

static void *url_calloc(UriMemoryManager *m, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = url_malloc(m, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

static void *url_realloc(UriMemoryManager *m, void *ptr, size_t size)
{
    if (ptr == NULL)
        return url_malloc(m, size);
    if (!in_arena(m, ptr))
        return realloc(ptr, size);
    size_t old;
    memcpy(&old, (char *)ptr - 16, sizeof(old));
    void *p = url_malloc(m, size);
    if (p != NULL)
        memcpy(p, ptr, old < size ? old : size);
    return p;
}

static void *url_reallocarray(UriMemoryManager *m, void *ptr, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return url_realloc(m, ptr, n * size);
}

/* A URL as RFC 3986 sees it, with what an IDN host needs: `text` is s with every byte
 * >= 0x80 percent-encoded (WHATWG's parsers accept such URLs; uriparser wants ASCII), and
 * `host` the host, percent-decoded (IDN2 input), when it is not plain ASCII. */
typedef struct url_parts {
    char *text; /* s, or a malloc'd encoded copy */
    size_t host_first, host_end; /* the host's bytes within text */
    char *idn_host;              /* malloc'd: the decoded host when it holds non-ASCII bytes, else NULL */
    int ok;
} url_parts;

static void url_parts_free(url_parts *u, const char *s)
{
    if (u->text != s)
        free(u->text);
    free(u->idn_host);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The bytes of validate_url_plain's form (RFC 3986 §3.2.2, §3.3 to §3.5): a host of
 * letters, digits, '-' and '.' (a reg-name or an IPv4address without escapes); a path, query
 * or fragment of pchar but pct-encoded (unreserved, sub-delims, ':', '@') and '/'. */
enum { PLAIN_HOST = 1, PLAIN_PATH = 2 }; /* ('?' is PLAIN_PATH too: after the authority it is always allowed) */
static const unsigned char plain_class[256] = {
    ['a' ... 'z'] = PLAIN_HOST | PLAIN_PATH,
    ['A' ... 'Z'] = PLAIN_HOST | PLAIN_PATH,
    ['0' ... '9'] = PLAIN_HOST | PLAIN_PATH,
    ['-'] = PLAIN_HOST | PLAIN_PATH,
    ['.'] = PLAIN_HOST | PLAIN_PATH,
    ['_'] = PLAIN_PATH, ['~'] = PLAIN_PATH, ['!'] = PLAIN_PATH, ['$'] = PLAIN_PATH, ['&'] = PLAIN_PATH,
    ['\''] = PLAIN_PATH, ['('] = PLAIN_PATH, [')'] = PLAIN_PATH, ['*'] = PLAIN_PATH, ['+'] = PLAIN_PATH,
    [','] = PLAIN_PATH, [';'] = PLAIN_PATH, ['='] = PLAIN_PATH, [':'] = PLAIN_PATH, ['@'] = PLAIN_PATH,
    ['/'] = PLAIN_PATH, ['?'] = PLAIN_PATH,
};

int validate_url_plain(const char *s, size_t len, size_t *host_first, size_t *host_end)
{
    size_t i;
    if (len >= 7 && memcmp(s, "http://", 7) == 0)
        i = 7;
    else if (len >= 8 && memcmp(s, "https://", 8) == 0)
        i = 8;
    else
        return 0;
    size_t first = i;
    while (i < len && (plain_class[(unsigned char)s[i]] & PLAIN_HOST))
        i++;
    size_t end = i;
    if (end == first)
        return 0;
    if (i < len && s[i] == ':') {
        uint32_t port = 0;
        size_t digits = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - digits < 5)
            port = port * 10 + (uint32_t)(s[i++] - '0');
        if (i == digits || port > 65535)
            return 0;
    }
    if (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
        return 0; /* (userinfo, an escape, a sixth digit of a port, ...) */
    int fragment = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plain_class[c] & PLAIN_PATH) /* ('?' starts the query, and is query's and fragment's own) */
            continue;
        if (c != '#' || fragment)
            return 0;
        fragment = 1;
    }
    *host_first = first;
    *host_end = end;
    return 1;
}

/* Parses s (len bytes); 0, or -1 when out of memory. u->ok says whether it is an absolute
 * http or https URL with a host and a TCP port, whose host (if not ASCII) IDNA accepts.
 * A URL of the plain form is read without uriparser (about 2,000 instructions, a tenth of
 * a create); fuzz_url holds the two to one answer. */
static int url_parse(const char *s, size_t len, url_parts *u)
{
    static const char hex[] = "0123456789ABCDEF";
    *u = (url_parts){(char *)s, 0, 0, NULL, 0};
    if (validate_url_plain(s, len, &u->host_first, &u->host_end)) {
        u->ok = 1;
        return 0;
    }
    size_t high = 0;
    for (size_t i = 0; i < len; i++)
        high += (unsigned char)s[i] >= 0x80;
    if (high > 0) {
        if ((u->text = malloc(len + 2 * high + 1)) == NULL)
            return -1;
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x80) {
                u->text[n++] = '%';
                u->text[n++] = hex[c >> 4];
                u->text[n++] = hex[c & 15];
            } else {
                u->text[n++] = (char)c;
            }
        }
        u->text[n] = '\0';
        len = n;
    }
    url_arena arena;
    arena.used = 0;
    UriMemoryManager memory = {url_malloc, url_calloc, url_realloc, url_reallocarray, url_free, &arena};
    UriUriA uri;
    const char *error_pos;
    if (uriParseSingleUriExMmA(&uri, u->text, u->text + len, &error_pos, &memory) != URI_SUCCESS)
        return 0;
    int ok = (range_equals(&uri.scheme, "http") || range_equals(&uri.scheme, "https")) && uri.hostText.first != NULL &&
             uri.hostText.afterLast > uri.hostText.first;
    if (uri.portText.first != NULL) { /* RFC 3986 allows any digits; TCP does not */
        unsigned long port = 0;
        for (const char *c = uri.portText.first; c < uri.portText.afterLast && port <= 65535; c++)
            port = port * 10 + (unsigned long)(*c - '0');
        ok = ok && port <= 65535;
    }
    if (ok) {
        u->host_first = (size_t)(uri.hostText.first - u->text);
        u->host_end = (size_t)(uri.hostText.afterLast - u->text);
    }
    uriFreeUriMembersMmA(&uri, &memory);
    if (ok && high > 0 && memchr(u->text + u->host_first, '%', u->host_end - u->host_first) != NULL) {
        /* a host with escapes: decoded, it must be a name IDNA takes (never an address) */
        size_t n = u->host_end - u->host_first, m = 0;
        if ((u->idn_host = malloc(n + 1)) == NULL)
            return -1;
        for (size_t i = u->host_first; i < u->host_end; i++) {
            int hi, lo;
            if (u->text[i] == '%' && i + 2 < u->host_end && (hi = hex_digit(u->text[i + 1])) >= 0 &&
                (lo = hex_digit(u->text[i + 2])) >= 0) {
                u->idn_host[m++] = (char)(hi << 4 | lo);
                i += 2;
            } else {
                u->idn_host[m++] = u->text[i];
            }
        }
        u->idn_host[m] = '\0';
        char *ascii = NULL;
        ok = memchr(u->idn_host, '\0', m) == NULL &&
             idn2_to_ascii_8z(u->idn_host, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL | IDN2_USE_STD3_ASCII_RULES) ==
                 IDN2_OK &&
             ascii[0] != '\0' && ascii[0] != '.'; /* a host of ignored characters only is none */
        free(u->idn_host);
        u->idn_host = ok ? strdup(ascii) : NULL; /* the ASCII form: what a call connects to */
        idn2_free(ascii);
        if (ok && u->idn_host == NULL)
            return -1;
    }
    u->ok = ok;
    return 0;
}

int validate_is_webhook_url(const char *s, size_t max_len)
{
    size_t len = strlen(s);
    if (len == 0 || len > max_len)
        return 0;
    url_parts u;
    int rc = url_parse(s, len, &u);
    int ok = rc == 0 && u.ok;
    url_parts_free(&u, s);
    return ok;
}

char *validate_url_ascii(const char *s)
{
    size_t len = strlen(s);
    url_parts u;
    if (url_parse(s, len, &u) != 0 || !u.ok) {
        url_parts_free(&u, s);
        return NULL;
    }
    const char *host = u.idn_host != NULL ? u.idn_host : u.text + u.host_first;
    size_t host_len = u.idn_host != NULL ? strlen(u.idn_host) : u.host_end - u.host_first;
    size_t tail = strlen(u.text + u.host_end);
    char *out = malloc(u.host_first + host_len + tail + 1);
    if (out != NULL) {
        memcpy(out, u.text, u.host_first);
        memcpy(out + u.host_first, host, host_len);
        memcpy(out + u.host_first + host_len, u.text + u.host_end, tail + 1);
    }
    url_parts_free(&u, s);
    return out;
}

/* 0 when the authority's host of a URL with "://" starts with neither a digit nor '[': a
 * name, which no parse would judge here; 1 when a parse must tell. Saves a create with an
 * ordinary url its second parse (callgrind: about 3,000 instructions). */
static int host_may_be_literal(const char *url)
{
    const char *a = strstr(url, "://");
    if (a == NULL)
        return 1;
    a += 3;
    size_t n = strcspn(a, "/?#");
    const char *h = a; /* after the authority's last '@' (userinfo) */
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            h = a + i + 1;
    return *h == '[' || (*h >= '0' && *h <= '9');
}

void validate_url_destination(const char *url, const netpolicy *policy, const ProtobufCMessageDescriptor *desc,
                              error *err)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, "url");
    HG_ASSERT(f != NULL);
    if (url == NULL || error_has_order(err, f->id) || !host_may_be_literal(url))
        return; /* missing or invalid already, or a name */
    url_parts u;
    if (url_parse(url, strlen(url), &u) == 0 && u.ok && u.idn_host == NULL) {
        char host[NETPOLICY_HOST_MAX + 1];
        size_t n = u.host_end - u.host_first;
        if (n <= NETPOLICY_HOST_MAX) {
            memcpy(host, u.text + u.host_first, n);
            host[n] = '\0';
            if (netpolicy_check_literal(policy, host, NULL, 0) != NETPOLICY_ALLOWED)
                problem(err, desc, "url", VALIDATE_INVALID_URL);
        }
    }
    url_parts_free(&u, url);
}

void validate_idempotency_key(const char *key, size_t len, error *err)
{
    int printable = len >= 1 && len <= VALIDATE_IDEMPOTENCY_KEY_MAX;
    for (size_t i = 0; printable && i < len; i++)
        printable = key[i] >= 0x20 && key[i] <= 0x7e;
    if (!printable)
        error_add_param(err, ERROR_IN_HEADER, ERROR_ORDER_HEADER, "Idempotency-Key",
                        "must be one value of 1 to %d printable ASCII characters", VALIDATE_IDEMPOTENCY_KEY_MAX);
}

/* The url of a create or an update. */
static void check_url(const char *url, const config_limits *limits, const ProtobufCMessageDescriptor *desc,
                      error *err)
{
    if (url == NULL || url[0] == '\0')
        problem(err, desc, "url", VALIDATE_REQUIRED);
    else if (!validate_is_webhook_url(url, limits->max_url_length))
        problem(err, desc, "url", VALIDATE_INVALID_URL);
}

void validate_create_request(const schema_create_request *req, const config_limits *limits, error *err)
{
    const ProtobufCMessageDescriptor *desc = &schema_create_request_descriptor;
    check_ecosystem_id(req->ecosystem_id, desc, "ecosystem_id", err);
    check_url(req->url, limits, desc, err);
    check_length(req->secret, limits->max_secret_length, desc, "secret", err);
    check_length(req->description, limits->max_description_length, desc, "description", err);
}

/* A webhook id field: 24 lowercase hex digits. */
static void check_webhook_id(const char *id, const ProtobufCMessageDescriptor *desc, error_in in, error *err)
{
    objectid parsed;
    if (id != NULL && objectid_from_hex(id, strlen(id), &parsed) == 0)
        return;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, "id");
    HG_ASSERT(f != NULL);
    if (!error_has_order(err, f->id))
        error_add_field(err, in, f->id, f->name, "%s", VALIDATE_INVALID_ID);
}

void validate_get_request(const schema_get_request *req, error *err)
{
    check_webhook_id(req->id, &schema_get_request_descriptor, ERROR_IN_UNSET, err);
}

void validate_update_request(const schema_update_request *req, const config_limits *limits, error_in id_in,
                             error *err)
{
    check_webhook_id(req->id, &schema_update_request_descriptor, id_in, err);
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
        &schema_update_request_descriptor, "changes");
    HG_ASSERT(f != NULL);
    if (error_has_order(err, f->id))
        return; /* a codec reported the changes (a nested decode): those problems stand for them */
    static const schema_webhook_changes none = SCHEMA_WEBHOOK_CHANGES_INIT;
    const schema_webhook_changes *c = req->changes != NULL ? req->changes : &none;
    const ProtobufCMessageDescriptor *desc = &schema_webhook_changes_descriptor;
    check_url(c->url, limits, desc, err);
    if (c->secret_set_case == SCHEMA_CHANGES_SECRET_SET)
        check_length(c->secret, limits->max_secret_length, desc, "secret", err);
    if (c->description_set_case == SCHEMA_CHANGES_DESCRIPTION_SET)
        check_length(c->description, limits->max_description_length, desc, "description", err);
}

void validate_delete_request(const schema_delete_request *req, error *err)
{
    check_webhook_id(req->id, &schema_delete_request_descriptor, ERROR_IN_UNSET, err);
}

void validate_invoke_request(const schema_invoke_request *req, error *err)
{
    check_webhook_id(req->id, &schema_invoke_request_descriptor, ERROR_IN_UNSET, err);
}

int validate_list_request(const schema_list_request *req, const config_limits *limits, store_cursor *after, error *err)
{
    const ProtobufCMessageDescriptor *desc = &schema_list_request_descriptor;
    int eco_ok = req->ecosystem_id != NULL && objectid_is_ecosystem_id(req->ecosystem_id, strlen(req->ecosystem_id));
    check_ecosystem_id(req->ecosystem_id, desc, "ecosystem_id", err);
    if (req->limit > limits->max_page_size) {
        char message[64];
        snprintf(message, sizeof(message), "must be at most %u", limits->max_page_size);
        problem(err, desc, "limit", message);
    }
    if (req->page_token == NULL || req->page_token[0] == '\0')
        return 0;
    /* a token is bound to its ecosystem: without a valid one it cannot be checked, and the
     * ecosystem's own problem is the one to fix first */
    if (!eco_ok || pagetoken_decode(req->page_token, strlen(req->page_token), req->ecosystem_id, after) != 0) {
        if (eco_ok)
            problem(err, desc, "page_token", VALIDATE_INVALID_PAGE_TOKEN);
        return 0;
    }
    return err->kind == ERROR_NONE;
}

/* ---- events ------------------------------------------------------------------------------ */

void validate_publish_request(const schema_publish_request *req, const config_delivery *delivery, error *err)
{
    const ProtobufCMessageDescriptor *desc = &schema_publish_request_descriptor;
    check_ecosystem_id(req->ecosystem_id, desc, "ecosystem_id", err);
    char message[64];
    if (req->n_items == 0) {
        problem(err, desc, "items", VALIDATE_REQUIRED);
    } else if (req->n_items > delivery->max_items) {
        snprintf(message, sizeof(message), "must hold at most %u items", delivery->max_items);
        problem(err, desc, "items", message);
    }
}

void validate_get_event_request(const schema_get_event_request *req, error *err)
{
    check_webhook_id(req->id, &schema_get_event_request_descriptor, ERROR_IN_UNSET, err);
}

void validate_attempts_request(const schema_attempts_request *req, const config_limits *limits, error *err)
{
    check_webhook_id(req->id, &schema_attempts_request_descriptor, ERROR_IN_UNSET, err);
    if (req->limit > limits->max_page_size) {
        char message[64];
        snprintf(message, sizeof(message), "must be at most %u", limits->max_page_size);
        problem(err, &schema_attempts_request_descriptor, "limit", message);
    }
}

void validate_resend_request(const schema_resend_request *req, error_in id_in, error *err)
{
    check_webhook_id(req->id, &schema_resend_request_descriptor, id_in, err);
    objectid parsed;
    if (req->webhook_id != NULL && req->webhook_id[0] != '\0' &&
        objectid_from_hex(req->webhook_id, strlen(req->webhook_id), &parsed) != 0)
        problem(err, &schema_resend_request_descriptor, "webhook_id", VALIDATE_INVALID_ID);
}

void validate_recover_request(const schema_recover_request *req, error_in id_in, error *err)
{
    check_webhook_id(req->id, &schema_recover_request_descriptor, id_in, err);
    if (req->since == NULL)
        problem(err, &schema_recover_request_descriptor, "since", VALIDATE_REQUIRED);
}
