/* config: the YAML file read with libyaml's event API by a recursive descent that follows
 * the schema tables below, writing straight into the config it returns.
 *
 * Events rather than the document API: a document tree resolves aliases into shared (even
 * cyclic) nodes and forgets which scalars were quoted; events let us refuse aliases outright,
 * tell `port: 8080` from `port: "8080"`, and parse in one pass with no tree in memory.
 * The first problem found ends the parse; everything allocated so far already hangs off the
 * config, so the single failure path is config_destroy. */
#include "config.h"

#include "epoch.h"
#include "hashtable.h"
#include "hg_assert.h"
#include "record.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes of a configuration file */
#define CONFIG_PATH_MAX 4096          /* bytes of a file path in the configuration */
#define CONFIG_TOKEN_MAX 4096         /* bytes of a token as written in the file */
#define CONFIG_PATH_TEXT_MAX 160      /* bytes of a node path such as accounts[3].tokens[0] */
#define CONFIG_KEY_SHOWN_MAX 48       /* bytes of an unknown key echoed in an error */

/* A webhook with every string at its largest allowed length, plus the ecosystem id, the
 * id, the digest, a sealed secret's overhead and protobuf's tags and lengths (well under
 * 1 KiB), is one record. */
HG_STATIC_ASSERT(3 * CONFIG_MAX_FIELD_LENGTH + SEAL_OVERHEAD + 1024 <= RECORD_MAX_PAYLOAD,
                 "the largest webhook the limits allow must fit one journal record");
HG_STATIC_ASSERT(CONFIG_MAX_FIELD_LENGTH <= SEAL_MAX_SECRET, "the longest secret the limits allow can be sealed");
HG_STATIC_ASSERT(4 * CONFIG_MAX_THREADS <= EPOCH_MAX_THREADS,
                 "every event loop, and thrice as many other threads, can read the store's shared tables");

#define TOKEN_SHA256_PREFIX "sha256:"

/* --- a set of 32-byte keys, to find duplicates in linear time ------------------------------- */

/* Keys are SHA-256 digests (of tokens and ids), hashed like every key. A file author could
 * choose colliding "sha256:" tokens, but the file is the operator's and capped at 1 MiB,
 * which bounds the worst case, and the number of keys too: each takes a line's worth of
 * bytes, so CONFIG_FILE_MAX keys can never be reached. */
#define CONFIG_MAX_KEYS CONFIG_FILE_MAX

typedef struct seen_entry {
    uint8_t key[CONFIG_TOKEN_DIGEST_LEN];
    size_t line, column; /* where the key first appeared, 0-based like yaml_mark_t */
} seen_entry;

static int seen_equal(const void *item, const void *key)
{
    return memcmp(((const seen_entry *)item)->key, key, CONFIG_TOKEN_DIGEST_LEN) == 0;
}

static void seen_init(hashtable *set)
{
    hashtable_init(set, seen_equal, CONFIG_MAX_KEYS, NULL);
}

static void seen_destroy(hashtable *set)
{
    size_t cursor = 0;
    for (seen_entry *e; (e = hashtable_next(set, &cursor)) != NULL;)
        free(e);
    hashtable_destroy(set);
}

/* Adds key, first seen at mark. Returns 0 when added, 1 when already present (*prior then
 * points at the first occurrence), -1 when out of memory. */
static int seen_add(hashtable *set, const uint8_t key[CONFIG_TOKEN_DIGEST_LEN], yaml_mark_t mark,
                    const seen_entry **prior)
{
    uint64_t hash = hashtable_hash_bytes(key, CONFIG_TOKEN_DIGEST_LEN);
    if ((*prior = hashtable_find(set, hash, key)) != NULL)
        return 1;
    seen_entry *e = malloc(sizeof(*e));
    if (e == NULL)
        return -1;
    memcpy(e->key, key, CONFIG_TOKEN_DIGEST_LEN);
    e->line = mark.line;
    e->column = mark.column;
    if (hashtable_insert(set, hash, e) != HASHTABLE_OK) { /* a full set is impossible: see CONFIG_MAX_KEYS */
        free(e);
        return -1;
    }
    return 0;
}

/* --- the parser's state and its one error path ------------------------------------------- */

typedef struct parse {
    yaml_parser_t yaml;
    yaml_event_t event; /* the current event, owned while have_event */
    int have_event;
    int pending;      /* the current event was pushed back: next() returns it again */
    const char *name; /* file name for messages */
    const char *text; /* the input, to place reader errors that carry only an offset */
    size_t len;
    char *err;                       /* CONFIG_ERROR_MAX bytes; the first error is kept */
    char path[CONFIG_PATH_TEXT_MAX]; /* the node being read, e.g. "server.listen[0].port" */
    size_t path_len;
    hashtable tokens, accounts, ecosystems; /* seen_entry sets: each key once */
    yaml_mark_t previous_keys_mark;         /* store.previous_secret_key_files, for a check after the store */
    config *cfg;
    yaml_mark_t postgres_mark; /* where store.postgres was */
    yaml_mark_t default_page_mark, max_page_mark; /* where limits.default_page_size / max_page_size were */
    int default_page_given, max_page_given;
} parse;

/* Records "name:line:column: path: message" (path left out at the top level). Returns -1 so
 * that callers can write `return fail(...)`. */
static int fail(parse *p, yaml_mark_t mark, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parse *p, yaml_mark_t mark, const char *fmt, ...)
{
    if (p->err[0] != '\0')
        return -1;
    int n = snprintf(p->err, CONFIG_ERROR_MAX, "%s:%zu:%zu: %s%s", p->name, mark.line + 1, mark.column + 1, p->path,
                     p->path_len ? ": " : "");
    if (n < 0 || n >= CONFIG_ERROR_MAX)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, CONFIG_ERROR_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_memory(parse *p)
{
    if (p->err[0] == '\0')
        snprintf(p->err, CONFIG_ERROR_MAX, "%s: out of memory", p->name);
    return -1;
}

/* libyaml's own errors. Scanner and parser errors carry a mark; reader errors (bad UTF-8,
 * control characters) carry only a byte offset, which we turn into a line and column. */
static int fail_syntax(parse *p)
{
    const yaml_parser_t *y = &p->yaml;
    yaml_mark_t mark = y->problem_mark;
    const char *problem = y->problem ? y->problem : "invalid YAML";

    if (y->error == YAML_MEMORY_ERROR)
        return fail_memory(p);
    p->path[0] = '\0'; /* the problem is in the text, not in a node */
    p->path_len = 0;
    if (y->error == YAML_READER_ERROR) {
        size_t i, end = y->problem_offset < p->len ? y->problem_offset : p->len;
        memset(&mark, 0, sizeof mark);
        for (i = 0; i < end; i++) {
            if (p->text[i] == '\n') {
                mark.line++;
                mark.column = 0;
            } else {
                mark.column++;
            }
        }
    }
    if (y->context)
        return fail(p, mark, "%s (%s at line %zu, column %zu)", problem, y->context, y->context_mark.line + 1,
                    y->context_mark.column + 1);
    return fail(p, mark, "%s", problem);
}

/* Moves to the next event (or re-delivers a pushed-back one). Anchors, aliases and tags are
 * refused here, once for every node: the schema needs none of them, and aliases would let a
 * small file expand into a large config. */
static int next(parse *p)
{
    if (p->pending) {
        p->pending = 0;
        return 0;
    }
    if (p->have_event) {
        yaml_event_delete(&p->event);
        p->have_event = 0;
    }
    if (!yaml_parser_parse(&p->yaml, &p->event))
        return fail_syntax(p);
    p->have_event = 1;

    const yaml_event_t *e = &p->event;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        return fail(p, e->start_mark, "aliases are not supported");
    case YAML_SCALAR_EVENT:
        anchor = e->data.scalar.anchor;
        tag = e->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = e->data.sequence_start.anchor;
        tag = e->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = e->data.mapping_start.anchor;
        tag = e->data.mapping_start.tag;
        break;
    default:
        break;
    }
    if (anchor)
        return fail(p, e->start_mark, "anchors are not supported");
    if (tag)
        return fail(p, e->start_mark, "tags are not supported");
    return 0;
}

static void push_back(parse *p)
{
    p->pending = 1;
}

/* Appends a key or a list index to the node path; path_pop(p, saved) undoes it. Segments are
 * schema keys and indexes, so the buffer cannot overflow in practice; if it ever did, the
 * path would be truncated, never overrun. */
static size_t path_append(parse *p, int n)
{
    size_t saved = p->path_len;
    if (n > 0)
        p->path_len += (size_t)n < sizeof p->path - saved ? (size_t)n : sizeof p->path - 1 - saved;
    return saved;
}

static size_t path_push_key(parse *p, const char *key)
{
    size_t len = p->path_len;
    return path_append(p, snprintf(p->path + len, sizeof p->path - len, "%s%s", len ? "." : "", key));
}

static size_t path_push_index(parse *p, size_t index)
{
    size_t len = p->path_len;
    return path_append(p, snprintf(p->path + len, sizeof p->path - len, "[%zu]", index));
}

static void path_pop(parse *p, size_t saved)
{
    p->path_len = saved;
    p->path[saved] = '\0';
}

static const char *event_kind(const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        return "a scalar";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* YAML's spellings of null, which in a plain (unquoted) scalar mean "no value". */
static int is_plain_null(const yaml_event_t *e)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    size_t i;
    if (e->type != YAML_SCALAR_EVENT || e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    for (i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp((const char *)e->data.scalar.value, nulls[i]) == 0)
            return 1;
    return 0;
}

/* --- scalars ---------------------------------------------------------------------------- */

/* Reads a string. Any quoting style is accepted, but an unquoted null (`key:`, `~`) is not a
 * string, and no string in this file may hold control characters (NUL included). The value
 * lives until the next call to next(). */
static int read_string(parse *p, const char **value, size_t *len)
{
    size_t i;
    if (next(p))
        return -1;
    const yaml_event_t *e = &p->event;
    if (e->type != YAML_SCALAR_EVENT || is_plain_null(e))
        return fail(p, e->start_mark, "expected a string, not %s",
                    e->type == YAML_SCALAR_EVENT ? "null" : event_kind(e));
    *value = (const char *)e->data.scalar.value;
    *len = e->data.scalar.length;
    for (i = 0; i < *len; i++) {
        unsigned char c = (unsigned char)(*value)[i];
        if (c < 0x20 || c == 0x7f)
            return fail(p, e->start_mark, "must not contain control characters");
    }
    return 0;
}

/* Reads an unsigned integer in [min, max], or 0 as well when zero_too (a key whose 0 means
 * "off" and whose other values have a floor). Only plain decimal digits: no sign, no
 * exponent, no hex, and no leading zero (YAML 1.1 reads 010 as octal, so we refuse to guess).
 * Quoted numbers ("8080") are refused too: quotes make a string, and a config that says what
 * it means is worth the strictness. At most 19 digits, so the value cannot overflow. */
static int read_uint_or_zero(parse *p, int zero_too, unsigned long long min, unsigned long long max,
                             unsigned long long *out)
{
    if (next(p))
        return -1;
    const yaml_event_t *e = &p->event;
    if (e->type == YAML_SCALAR_EVENT && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = (const char *)e->data.scalar.value;
        size_t n = e->data.scalar.length, i;
        unsigned long long v = 0;
        for (i = 0; i < n && i < 19 && s[i] >= '0' && s[i] <= '9'; i++)
            v = 10 * v + (unsigned long long)(s[i] - '0');
        if (n > 0 && i == n && !(n > 1 && s[0] == '0') && ((v >= min && v <= max) || (zero_too && v == 0))) {
            *out = v;
            return 0;
        }
    }
    if (zero_too && min > 0)
        return fail(p, e->start_mark, "must be 0 or an integer between %llu and %llu", min, max);
    return fail(p, e->start_mark, "must be an integer between %llu and %llu", min, max);
}

static int read_uint(parse *p, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    return read_uint_or_zero(p, 0, min, max, out);
}

/* Reads `true` or `false`, unquoted; YAML 1.1's yes/no/on/off are refused as ambiguous. */
static int read_bool(parse *p, int *out)
{
    if (next(p))
        return -1;
    const yaml_event_t *e = &p->event;
    if (e->type == YAML_SCALAR_EVENT && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp((const char *)e->data.scalar.value, "true") == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp((const char *)e->data.scalar.value, "false") == 0) {
            *out = 0;
            return 0;
        }
    }
    return fail(p, e->start_mark, "must be true or false");
}

/* --- mappings and lists, driven by tables ------------------------------------------------ */

typedef enum field_kind {
    FIELD_UINT,    /* unsigned integer of `size` bytes in [min, max], or 0 when zero_too */
    FIELD_BOOL,    /* int, 0 or 1 */
    FIELD_PATH,    /* char *, allocated, 1..CONFIG_PATH_MAX bytes */
    FIELD_MAPPING, /* a nested mapping described by `fields`, filling target + offset */
    FIELD_CUSTOM,  /* read by `custom`, given the target itself */
} field_kind;

typedef struct field {
    const char *key;
    int required;
    field_kind kind;
    size_t offset, size; /* where the value goes in the target struct */
    unsigned long long min, max;
    int zero_too; /* FIELD_UINT: 0 is allowed as well (it means "off") */
    const struct field *fields;
    size_t n_fields;
    int (*custom)(parse *p, void *target);
} field;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* Table rows. FIELD_UINT_ records the member's width, which read_field honours (2, 4 or 8). */
#define FIELD_UINT_(k, req, type, member, lo, hi)                                                                      \
    {                                                                                                                  \
        .key = k, .required = req, .kind = FIELD_UINT, .offset = offsetof(type, member),                               \
        .size = sizeof(((type *)0)->member), .min = lo, .max = hi                                                      \
    }
/* An unsigned integer whose 0 means "off", any other value in [lo, hi]. */
#define FIELD_UINT_OR_ZERO_(k, type, member, lo, hi)                                                                   \
    {                                                                                                                  \
        .key = k, .kind = FIELD_UINT, .offset = offsetof(type, member), .size = sizeof(((type *)0)->member),           \
        .min = lo, .max = hi, .zero_too = 1                                                                            \
    }
#define FIELD_BOOL_(k, type, member)                                                                                   \
    {                                                                                                                  \
        .key = k, .kind = FIELD_BOOL, .offset = offsetof(type, member)                                                 \
    }
#define FIELD_PATH_(k, req, type, member)                                                                              \
    {                                                                                                                  \
        .key = k, .required = req, .kind = FIELD_PATH, .offset = offsetof(type, member)                                \
    }
#define FIELD_MAPPING_(k, req, off, table)                                                                             \
    {                                                                                                                  \
        .key = k, .required = req, .kind = FIELD_MAPPING, .offset = off, .fields = table, .n_fields = COUNT(table)     \
    }
#define FIELD_CUSTOM_(k, req, fn)                                                                                      \
    {                                                                                                                  \
        .key = k, .required = req, .kind = FIELD_CUSTOM, .custom = fn                                                  \
    }

static int read_field(parse *p, const field *f, char *target);

/* Reads a mapping whose keys must all be in `fields` (at most 32), each at most once. */
static int read_mapping(parse *p, const field *fields, size_t n_fields, void *target)
{
    uint32_t seen = 0;
    size_t i;
    if (next(p))
        return -1;
    if (p->event.type != YAML_MAPPING_START_EVENT)
        return fail(p, p->event.start_mark, "expected a mapping, not %s", event_kind(&p->event));
    yaml_mark_t start = p->event.start_mark;
    for (;;) {
        if (next(p))
            return -1;
        const yaml_event_t *e = &p->event;
        if (e->type == YAML_MAPPING_END_EVENT)
            break;
        if (e->type != YAML_SCALAR_EVENT)
            return fail(p, e->start_mark, "keys must be strings, not %s", event_kind(e));
        const char *key = (const char *)e->data.scalar.value;
        size_t key_len = e->data.scalar.length;
        for (i = 0; i < n_fields; i++)
            if (strlen(fields[i].key) == key_len && memcmp(fields[i].key, key, key_len) == 0)
                break;
        if (i == n_fields) {
            /* Echo the key, but only as printable ASCII and not at any length. */
            char shown[CONFIG_KEY_SHOWN_MAX + 4];
            size_t j, n = key_len < CONFIG_KEY_SHOWN_MAX ? key_len : CONFIG_KEY_SHOWN_MAX;
            for (j = 0; j < n; j++) {
                unsigned char c = (unsigned char)key[j];
                shown[j] = c < 0x20 || c > 0x7e || c == '"' || c == '\\' ? '?' : (char)c;
            }
            strcpy(shown + n, key_len > n ? "..." : "");
            return fail(p, e->start_mark, "unknown key \"%s\"", shown);
        }
        if (seen & (UINT32_C(1) << i))
            return fail(p, e->start_mark, "duplicate key \"%s\"", fields[i].key);
        seen |= UINT32_C(1) << i;
        if (read_field(p, &fields[i], target))
            return -1;
    }
    for (i = 0; i < n_fields; i++)
        if (fields[i].required && !(seen & (UINT32_C(1) << i)))
            return fail(p, start, "missing key \"%s\"", fields[i].key);
    return 0;
}

static int read_field(parse *p, const field *f, char *target)
{
    size_t saved = path_push_key(p, f->key);
    void *dst = target + f->offset;
    unsigned long long v = 0;
    const char *s;
    size_t len;
    int rc = -1;

    switch (f->kind) {
    case FIELD_UINT:
        if (read_uint_or_zero(p, f->zero_too, f->min, f->max, &v))
            break;
        /* memcpy through a value of the member's width: no aliasing or endianness games. */
        if (f->size == sizeof(uint16_t)) {
            uint16_t x = (uint16_t)v;
            memcpy(dst, &x, sizeof x);
        } else if (f->size == sizeof(uint32_t)) {
            uint32_t x = (uint32_t)v;
            memcpy(dst, &x, sizeof x);
        } else {
            uint64_t x = (uint64_t)v;
            memcpy(dst, &x, sizeof x);
        }
        rc = 0;
        break;
    case FIELD_BOOL:
        rc = read_bool(p, (int *)dst);
        break;
    case FIELD_PATH: {
        char *copy;
        if (read_string(p, &s, &len))
            break;
        if (len == 0 || len > CONFIG_PATH_MAX) {
            rc = fail(p, p->event.start_mark, "must be between 1 and %d bytes", CONFIG_PATH_MAX);
            break;
        }
        if ((copy = malloc(len + 1)) == NULL) {
            rc = fail_memory(p);
            break;
        }
        memcpy(copy, s, len);
        copy[len] = '\0';
        memcpy(dst, &copy, sizeof copy);
        rc = 0;
        break;
    }
    case FIELD_MAPPING:
        rc = read_mapping(p, f->fields, f->n_fields, dst);
        break;
    case FIELD_CUSTOM:
        rc = f->custom(p, target);
        break;
    }
    path_pop(p, saved);
    return rc;
}

/* Reads a list of min..max items, calling item(p, target, index) with each item's first
 * event pushed back, so the item reads it as its own. */
static int read_list(parse *p, size_t min, size_t max, const char *what,
                     int (*item)(parse *p, void *target, size_t index), void *target)
{
    size_t n;
    if (next(p))
        return -1;
    if (p->event.type != YAML_SEQUENCE_START_EVENT)
        return fail(p, p->event.start_mark, "expected a list, not %s", event_kind(&p->event));
    yaml_mark_t start = p->event.start_mark;
    for (n = 0;; n++) {
        if (next(p))
            return -1;
        if (p->event.type == YAML_SEQUENCE_END_EVENT)
            break;
        if (n == max)
            return fail(p, p->event.start_mark, "must have between %zu and %zu %s", min, max, what);
        push_back(p);
        size_t saved = path_push_index(p, n);
        int rc = item(p, target, n);
        path_pop(p, saved);
        if (rc)
            return -1;
    }
    if (n < min)
        return fail(p, start, "must have between %zu and %zu %s", min, max, what);
    return 0;
}

/* Makes room for element n of an array that grows by doubling: its capacity is implied by n
 * (4, 8, 16, ...), so it is reallocated exactly when n is 0 or a power of two >= 4. Returns
 * the (possibly moved) array, or NULL when out of memory with the array untouched. */
static void *array_reserve(void *array, size_t n, size_t size)
{
    size_t cap;
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return array;
    cap = n ? 2 * n : 4;
    if (cap > SIZE_MAX / size)
        return NULL;
    return realloc(array, cap * size);
}

/* --- the schema ------------------------------------------------------------------------- */

/* Numeric only: the listener binds what it is given, with no resolver in the way. (In a flow
 * mapping an IPv6 address must be quoted, "::1", or YAML reads its colons as structure.) */
static int read_address(parse *p, void *target)
{
    config_listener *l = target;
    const char *s;
    size_t len;
    unsigned char addr[sizeof(struct in6_addr)];
    if (read_string(p, &s, &len))
        return -1;
    if (len >= sizeof l->address || (inet_pton(AF_INET, s, addr) != 1 && inet_pton(AF_INET6, s, addr) != 1))
        return fail(p, p->event.start_mark, "must be a numeric IPv4 or IPv6 address");
    memcpy(l->address, s, len + 1);
    return 0;
}

static const field tls_fields[] = {
    FIELD_PATH_("certificate", 1, config_listener, tls_certificate),
    FIELD_PATH_("key", 1, config_listener, tls_key),
};

static const field listener_fields[] = {
    FIELD_CUSTOM_("address", 1, read_address),
    FIELD_UINT_("port", 1, config_listener, port, 1, 65535),
    FIELD_MAPPING_("tls", 0, 0, tls_fields),
};

static int read_listener(parse *p, void *target, size_t index)
{
    config *cfg = target;
    cfg->n_listeners = index + 1; /* counted before it is filled, so destroy frees its parts */
    return read_mapping(p, listener_fields, COUNT(listener_fields), &cfg->listeners[index]);
}

static int read_listen(parse *p, void *target)
{
    return read_list(p, 1, CONFIG_MAX_LISTENERS, "listeners", read_listener, target);
}

static int read_grpc_listener(parse *p, void *target, size_t index)
{
    config *cfg = target;
    cfg->n_grpc_listeners = index + 1; /* counted before it is filled, so destroy frees its parts */
    return read_mapping(p, listener_fields, COUNT(listener_fields), &cfg->grpc_listeners[index]);
}

static int read_grpc_listen(parse *p, void *target)
{
    return read_list(p, 1, CONFIG_MAX_LISTENERS, "listeners", read_grpc_listener, target);
}

/* Reads a string that must be one of names (NULL-terminated); *choice is its index. */
static int read_choice(parse *p, const char *const *names, const char *expected, int *choice)
{
    const char *value;
    size_t len;
    if (read_string(p, &value, &len))
        return -1;
    for (int i = 0; names[i] != NULL; i++)
        if (len == strlen(names[i]) && memcmp(value, names[i], len) == 0) {
            *choice = i;
            return 0;
        }
    return fail(p, p->event.start_mark, "%s", expected);
}

static int read_access_log(parse *p, void *target)
{
    static const char *const names[] = {"text", "json", "off", NULL}; /* accesslog_format order */
    return read_choice(p, names, "must be text, json or off", &((config *)target)->access_log);
}

static int read_console(parse *p, void *target)
{
    static const char *const names[] = {"off", "on", NULL}; /* index = config.console */
    return read_choice(p, names, "must be on or off", &((config *)target)->console);
}

/* Why s is not an origin as a browser serialises it in an Origin header (RFC 6454 §6.1),
 * or NULL: "http" or "https", "://", a host of lowercase letters, digits, dots and hyphens
 * (or a bracketed IPv6 address), an optional port without the scheme's default, no path.
 * Origins are compared byte for byte, so a spelling no browser sends would never match. */
static const char *origin_problem(const char *s, size_t len)
{
    size_t i, host;
    if (len == 1 && s[0] == '*')
        return "\"*\" is not accepted: list each origin whose pages may call the API";
    if (len >= 7 && memcmp(s, "http://", 7) == 0)
        host = 7;
    else if (len >= 8 && memcmp(s, "https://", 8) == 0)
        host = 8;
    else
        return "must be http://host[:port] or https://host[:port] (lowercase, as a browser sends it)";
    i = host;
    if (i < len && s[i] == '[') {
        const char *close = memchr(s + i, ']', len - i);
        char addr[INET6_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in6_addr)];
        size_t n = close != NULL ? (size_t)(close - s) - i - 1 : 0;
        if (close == NULL || n == 0 || n >= sizeof addr)
            return "must have a host: a name, an IPv4 address or a bracketed IPv6 address";
        memcpy(addr, s + i + 1, n);
        addr[n] = '\0';
        if (inet_pton(AF_INET6, addr, bin) != 1)
            return "must have a host: a name, an IPv4 address or a bracketed IPv6 address";
        for (size_t k = 0; k < n; k++)
            if (addr[k] >= 'A' && addr[k] <= 'Z')
                return "must be lowercase, as a browser sends it";
        i += n + 2;
    } else {
        for (; i < len && s[i] != ':' && s[i] != '/'; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z')
                return "must be lowercase, as a browser sends it";
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
                return "must be http://host[:port] or https://host[:port]: no path, query, user or other characters";
        }
        if (i == host)
            return "must have a host: a name, an IPv4 address or a bracketed IPv6 address";
    }
    if (i == len)
        return NULL;
    if (s[i] != ':')
        return "must be http://host[:port] or https://host[:port]: no path, query, user or other characters";
    unsigned long port = 0;
    size_t digits = 0;
    for (i++; i < len && s[i] >= '0' && s[i] <= '9' && digits < 6; i++, digits++)
        port = port * 10 + (unsigned long)(s[i] - '0');
    if (i != len)
        return "must be http://host[:port] or https://host[:port]: no path, query, user or other characters";
    if (digits == 0 || s[len - digits] == '0' || port > 65535)
        return "must have a port of 1..65535, without leading zeros";
    if ((host == 7 && port == 80) || (host == 8 && port == 443))
        return "must leave out the scheme's default port, as a browser does";
    return NULL;
}

static int read_cors_origin(parse *p, void *target, size_t index)
{
    config *cfg = target;
    const char *s;
    size_t len;
    HG_ASSERT(index < CONFIG_MAX_CORS_ORIGINS); /* read_list stops at the maximum */
    if (read_string(p, &s, &len))
        return -1;
    if (len >= CONFIG_ORIGIN_MAX)
        return fail(p, p->event.start_mark, "must be at most %d bytes", CONFIG_ORIGIN_MAX - 1);
    const char *problem = origin_problem(s, len);
    if (problem != NULL)
        return fail(p, p->event.start_mark, "%s", problem);
    for (size_t i = 0; i < index; i++)
        if (strlen(cfg->cors_origins[i]) == len && memcmp(cfg->cors_origins[i], s, len) == 0)
            return fail(p, p->event.start_mark, "is listed twice");
    memcpy(cfg->cors_origins[index], s, len);
    cfg->cors_origins[index][len] = '\0';
    cfg->n_cors_origins = index + 1;
    return 0;
}

static int read_cors_origins(parse *p, void *target)
{
    return read_list(p, 0, CONFIG_MAX_CORS_ORIGINS, "origins", read_cors_origin, target);
}

static const field cors_fields[] = {
    FIELD_CUSTOM_("allowed_origins", 0, read_cors_origins),
};

static const field grpc_fields[] = {
    FIELD_CUSTOM_("listen", 1, read_grpc_listen),
    FIELD_UINT_("idle_timeout_ms", 0, config, grpc_idle_timeout_ms, 100, 3600000),
};

static const field server_fields[] = {
    FIELD_CUSTOM_("listen", 1, read_listen),
    FIELD_MAPPING_("grpc", 0, 0, grpc_fields),
    FIELD_UINT_("threads", 0, config, threads, 0, CONFIG_MAX_THREADS),
    FIELD_UINT_("max_connections", 0, config, max_connections, 1, 1000000),
    FIELD_UINT_("max_connections_per_address", 0, config, max_connections_per_address, 0, 1000000),
    FIELD_UINT_("idle_eviction_ms", 0, config, idle_eviction_ms, 0, 3600000),
    FIELD_UINT_("request_timeout_ms", 0, config, request_timeout_ms, 100, 3600000),
    FIELD_UINT_("idle_timeout_ms", 0, config, idle_timeout_ms, 100, 3600000),
    FIELD_UINT_("handshake_timeout_ms", 0, config, handshake_timeout_ms, 100, 3600000),
    FIELD_UINT_("write_timeout_ms", 0, config, write_timeout_ms, 100, 3600000),
    FIELD_UINT_("max_connection_output_bytes", 0, config, max_connection_output_bytes, 65536, 1ull << 40),
    FIELD_UINT_("max_buffered_bytes", 0, config, max_buffered_bytes, 1ull << 20, 1ull << 44),
    FIELD_PATH_("access_log_file", 0, config, access_log_file),
    FIELD_PATH_("error_log_file", 0, config, error_log_file),
    FIELD_CUSTOM_("access_log", 0, read_access_log),
    FIELD_MAPPING_("cors", 0, 0, cors_fields),
    FIELD_CUSTOM_("console", 0, read_console),
};

/* limits.default_page_size and max_page_size: read as plain numbers, their places kept
 * so that read_limits can name the one at fault when the default exceeds the maximum. */
static int read_page_size(parse *p, unsigned *dst, yaml_mark_t *mark, int *given)
{
    unsigned long long v = 0;
    if (read_uint(p, 1, CONFIG_MAX_PAGE_SIZE, &v))
        return -1;
    *dst = (unsigned)v;
    *mark = p->event.start_mark;
    *given = 1;
    return 0;
}

static int read_default_page_size(parse *p, void *target)
{
    return read_page_size(p, &((config_limits *)target)->default_page_size, &p->default_page_mark,
                          &p->default_page_given);
}

static int read_max_page_size(parse *p, void *target)
{
    return read_page_size(p, &((config_limits *)target)->max_page_size, &p->max_page_mark, &p->max_page_given);
}

static const field limits_fields[] = {
    FIELD_UINT_("max_body_bytes", 0, config_limits, max_body_bytes, 1, 64 * 1024 * 1024),
    FIELD_UINT_("max_url_length", 0, config_limits, max_url_length, 1, CONFIG_MAX_FIELD_LENGTH),
    FIELD_UINT_("max_description_length", 0, config_limits, max_description_length, 0, CONFIG_MAX_FIELD_LENGTH),
    FIELD_UINT_("max_secret_length", 0, config_limits, max_secret_length, 0, CONFIG_MAX_FIELD_LENGTH),
    FIELD_UINT_("creates_per_second_per_token", 0, config_limits, creates_per_second_per_token, 0, 1000000),
    FIELD_UINT_("resets_per_second_per_connection", 0, config_limits, resets_per_second_per_connection, 1, 1000000),
    FIELD_CUSTOM_("default_page_size", 0, read_default_page_size),
    FIELD_CUSTOM_("max_page_size", 0, read_max_page_size),
};

/* The limits mapping, then the one rule between two of its keys: a list without a limit
 * must get a page the maximum allows. Blamed on the default when the file gave it. */
static int read_limits(parse *p, void *target)
{
    config_limits *l = &((config *)target)->limits;
    if (read_mapping(p, limits_fields, COUNT(limits_fields), l))
        return -1;
    if (l->default_page_size <= l->max_page_size)
        return 0;
    if (p->default_page_given)
        return fail(p, p->default_page_mark, "default_page_size (%u) must be at most max_page_size (%u)",
                    l->default_page_size, l->max_page_size);
    return fail(p, p->max_page_mark, "max_page_size (%u) must be at least default_page_size (%u)", l->max_page_size,
                l->default_page_size);
}

static int read_fsync(parse *p, void *target)
{
    static const char *const names[] = {"always", "batch", "never", NULL}; /* config_fsync order */
    int choice = 0;
    if (read_choice(p, names, "must be always, batch or never", &choice))
        return -1;
    ((config *)target)->store_fsync = (config_fsync)choice;
    return 0;
}

/* A key file's path, and where the file named it (for the errors of config_secret_keys). */
static int read_key_file(parse *p, config_key_file *k)
{
    const char *s;
    size_t len;
    if (read_string(p, &s, &len))
        return -1;
    if (len == 0 || len > CONFIG_PATH_MAX)
        return fail(p, p->event.start_mark, "must be between 1 and %d bytes", CONFIG_PATH_MAX);
    yaml_mark_t m = p->event.start_mark;
    int n = snprintf(NULL, 0, "%s:%zu:%zu: %s", p->name, m.line + 1, m.column + 1, p->path);
    if ((k->path = malloc(len + 1)) == NULL || n < 0 || (k->where = malloc((size_t)n + 1)) == NULL)
        return fail_memory(p);
    memcpy(k->path, s, len);
    k->path[len] = '\0';
    snprintf(k->where, (size_t)n + 1, "%s:%zu:%zu: %s", p->name, m.line + 1, m.column + 1, p->path);
    return 0;
}

static int read_secret_key_file(parse *p, void *target)
{
    return read_key_file(p, &((config *)target)->store_secret_key);
}

static int read_previous_key(parse *p, void *target, size_t index)
{
    config *cfg = target;
    cfg->n_store_previous_keys = index + 1; /* counted before it is filled, so destroy frees its parts */
    return read_key_file(p, &cfg->store_previous_keys[index]);
}

static int read_previous_key_files(parse *p, void *target)
{
    p->previous_keys_mark = p->event.start_mark;
    return read_list(p, 0, CONFIG_MAX_PREVIOUS_KEYS, "key files", read_previous_key, target);
}

/* store.postgres.conninfo: libpq's keywords or URI, kept as given (a password in it is
 * never printed: libpq's PGPASSFILE and PGPASSWORD keep it out of the file). */
static int read_conninfo(parse *p, void *target)
{
    const char *s;
    size_t len;
    if (read_string(p, &s, &len))
        return -1;
    if (len == 0 || len > CONFIG_PATH_MAX)
        return fail(p, p->event.start_mark, "must be between 1 and %d bytes", CONFIG_PATH_MAX);
    config *cfg = target;
    free(cfg->store_pg_conninfo);
    if ((cfg->store_pg_conninfo = strndup(s, len)) == NULL)
        return fail_memory(p);
    return 0;
}

static const field postgres_fields[] = {
    FIELD_CUSTOM_("conninfo", 1, read_conninfo),
    FIELD_UINT_("connections_per_loop", 0, config, store_pg_connections, 1, 64),
    FIELD_UINT_("statement_timeout_ms", 0, config, store_pg_statement_timeout_ms, 100, 600000),
};

static int read_postgres(parse *p, void *target)
{
    p->postgres_mark = p->event.start_mark;
    return read_mapping(p, postgres_fields, COUNT(postgres_fields), target);
}

static const field store_fields[] = {
    FIELD_PATH_("path", 0, config, store_path),
    FIELD_CUSTOM_("postgres", 0, read_postgres),
    FIELD_CUSTOM_("secret_key_file", 0, read_secret_key_file),
    FIELD_CUSTOM_("previous_secret_key_files", 0, read_previous_key_files),
    FIELD_CUSTOM_("fsync", 0, read_fsync),
    FIELD_UINT_("fsync_interval_ms", 0, config, store_fsync_interval_ms, 1, 60000),
    FIELD_UINT_("snapshot_after_bytes", 0, config, store_snapshot_after_bytes, 4096, 1ull << 40),
    FIELD_UINT_("max_queued_creates", 0, config, store_max_queued_creates, 1, 1000000),
    FIELD_UINT_("json_cache_bytes", 0, config, store_json_cache_bytes, 0, 1ull << 40),
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Where a list of tokens goes: an account's tokens or an ecosystem's server tokens. */
typedef struct token_list {
    config_token **tokens;
    size_t *n;
} token_list;

/* Reads one token into its digest. Messages name the token's position, never its text. */
static int read_token(parse *p, void *target, size_t index)
{
    token_list *list = target;
    const size_t prefix_len = sizeof TOKEN_SHA256_PREFIX - 1;
    uint8_t digest[CONFIG_TOKEN_DIGEST_LEN];
    const seen_entry *prior;
    const char *s;
    size_t len, i;
    (void)index;

    if (read_string(p, &s, &len))
        return -1;
    yaml_mark_t mark = p->event.start_mark;
    if (len == 0 || len > CONFIG_TOKEN_MAX)
        return fail(p, mark, "must be between 1 and %d bytes", CONFIG_TOKEN_MAX);
    for (i = 0; i < len; i++)
        if (s[i] == ' ')
            return fail(p, mark, "must not contain whitespace");
    if (len >= prefix_len && memcmp(s, TOKEN_SHA256_PREFIX, prefix_len) == 0) {
        /* A digest written out; anything else after the prefix is a typo, not a token. */
        if (len != prefix_len + 2 * CONFIG_TOKEN_DIGEST_LEN)
            return fail(p, mark, "\"sha256:\" must be followed by 64 hex digits");
        for (i = 0; i < CONFIG_TOKEN_DIGEST_LEN; i++) {
            int hi = hex_value(s[prefix_len + 2 * i]), lo = hex_value(s[prefix_len + 2 * i + 1]);
            if (hi < 0 || lo < 0)
                return fail(p, mark, "\"sha256:\" must be followed by 64 hex digits");
            digest[i] = (uint8_t)(hi << 4 | lo);
        }
    } else if (SHA256((const unsigned char *)s, len, digest) == NULL) {
        return fail_memory(p); /* OpenSSL 3 allocates; on failure digest is left unwritten */
    }
    switch (seen_add(&p->tokens, digest, mark, &prior)) {
    case -1:
        return fail_memory(p);
    case 1:
        return fail(p, mark, "duplicate token (first at line %zu, column %zu)", prior->line + 1, prior->column + 1);
    }
    config_token *grown = array_reserve(*list->tokens, *list->n, sizeof **list->tokens);
    if (grown == NULL)
        return fail_memory(p);
    *list->tokens = grown;
    memcpy(grown[(*list->n)++].digest, digest, sizeof digest);
    return 0;
}

/* Adds an id to a uniqueness set (by its digest, so that every set holds 32-byte keys). */
static int check_unique(parse *p, hashtable *set, const char *what, const char *id, size_t len, yaml_mark_t mark)
{
    uint8_t digest[CONFIG_TOKEN_DIGEST_LEN];
    const seen_entry *prior;
    if (SHA256((const unsigned char *)id, len, digest) == NULL)
        return fail_memory(p);
    switch (seen_add(set, digest, mark, &prior)) {
    case -1:
        return fail_memory(p);
    case 1:
        return fail(p, mark, "duplicate %s \"%.*s\" (first at line %zu, column %zu)", what, (int)len, id,
                    prior->line + 1, prior->column + 1);
    }
    return 0;
}

static int read_ecosystem_id(parse *p, void *target)
{
    config_ecosystem *eco = target;
    const char *s;
    size_t len;
    if (read_string(p, &s, &len))
        return -1;
    if (!objectid_is_ecosystem_id(s, len))
        return fail(p, p->event.start_mark, "must be \"C\" followed by 24 lowercase hex digits");
    if (check_unique(p, &p->ecosystems, "ecosystem id", s, len, p->event.start_mark))
        return -1;
    memcpy(eco->id, s, len + 1);
    return 0;
}

static int read_server_tokens(parse *p, void *target)
{
    config_ecosystem *eco = target;
    token_list list = {&eco->server_tokens, &eco->n_server_tokens};
    return read_list(p, 0, CONFIG_MAX_TOKENS, "tokens", read_token, &list);
}

static const field ecosystem_fields[] = {
    FIELD_CUSTOM_("id", 1, read_ecosystem_id),
    FIELD_CUSTOM_("server_tokens", 0, read_server_tokens),
    FIELD_BOOL_("deleted", config_ecosystem, deleted),
};

static int read_ecosystem(parse *p, void *target, size_t index)
{
    config_account *a = target;
    config_ecosystem *grown = array_reserve(a->ecosystems, index, sizeof *grown);
    if (grown == NULL)
        return fail_memory(p);
    a->ecosystems = grown;
    memset(&grown[index], 0, sizeof grown[index]);
    a->n_ecosystems = index + 1; /* counted before it is filled, so destroy frees its parts */
    return read_mapping(p, ecosystem_fields, COUNT(ecosystem_fields), &grown[index]);
}

static int read_account_id(parse *p, void *target)
{
    config_account *a = target;
    const char *s;
    size_t len;
    if (read_string(p, &s, &len))
        return -1;
    if (len == 0 || len >= sizeof a->id)
        return fail(p, p->event.start_mark, "must be between 1 and %zu bytes", sizeof a->id - 1);
    if (check_unique(p, &p->accounts, "account id", s, len, p->event.start_mark))
        return -1;
    memcpy(a->id, s, len + 1);
    return 0;
}

static int read_account_tokens(parse *p, void *target)
{
    config_account *a = target;
    token_list list = {&a->tokens, &a->n_tokens};
    return read_list(p, 0, CONFIG_MAX_TOKENS, "tokens", read_token, &list);
}

static int read_ecosystems(parse *p, void *target)
{
    return read_list(p, 0, CONFIG_MAX_ECOSYSTEMS, "ecosystems", read_ecosystem, target);
}

static const field account_fields[] = {
    FIELD_CUSTOM_("id", 1, read_account_id),
    FIELD_CUSTOM_("tokens", 0, read_account_tokens),
    FIELD_CUSTOM_("ecosystems", 0, read_ecosystems),
};

static int read_account(parse *p, void *target, size_t index)
{
    config *cfg = target;
    config_account *grown = array_reserve(cfg->accounts, index, sizeof *grown);
    if (grown == NULL)
        return fail_memory(p);
    cfg->accounts = grown;
    memset(&grown[index], 0, sizeof grown[index]);
    cfg->n_accounts = index + 1; /* counted before it is filled, so destroy frees its parts */
    return read_mapping(p, account_fields, COUNT(account_fields), &grown[index]);
}

static int read_accounts(parse *p, void *target)
{
    return read_list(p, 0, CONFIG_MAX_ACCOUNTS, "accounts", read_account, target);
}

/* delivery.allow_networks: CIDR ranges a webhook's url may reach although the policy
 * denies them (netpolicy.h), at most NETPOLICY_MAX_ALLOW. */
static int read_allow_network(parse *p, void *target, size_t index)
{
    (void)index;
    const char *s;
    size_t len;
    char why[NETPOLICY_WHY_MAX];
    if (read_string(p, &s, &len))
        return -1;
    if (netpolicy_allow(&((config_delivery *)target)->policy, s, why, sizeof why) != 0)
        return fail(p, p->event.start_mark, "%s", why);
    return 0;
}

static int read_allow_networks(parse *p, void *target)
{
    return read_list(p, 0, NETPOLICY_MAX_ALLOW, "networks", read_allow_network, target);
}

/* delivery.retry_schedule_ms: a list of waits that replaces the default schedule whole. */
static int read_retry_wait(parse *p, void *target, size_t index)
{
    config_delivery *d = target;
    unsigned long long v = 0;
    HG_ASSERT(index < CONFIG_MAX_RETRY_SCHEDULE); /* read_list stops at the maximum */
    if (read_uint(p, 0, CONFIG_MAX_RETRY_WAIT_MS, &v))
        return -1;
    d->retry_schedule_ms[index] = (uint32_t)v;
    d->n_retry_schedule = index + 1;
    return 0;
}

static int read_retry_schedule(parse *p, void *target)
{
    return read_list(p, 1, CONFIG_MAX_RETRY_SCHEDULE, "waits", read_retry_wait, target);
}

HG_STATIC_ASSERT(CONFIG_MAX_RETRY_WAIT_MS <= UINT32_MAX, "a wait of the schedule fits its uint32_t");

static const field delivery_fields[] = {
    FIELD_UINT_("connect_timeout_ms", 0, config_delivery, connect_timeout_ms, 1, 600000),
    FIELD_UINT_("timeout_ms", 0, config_delivery, timeout_ms, 1, 600000),
    FIELD_UINT_("max_concurrent_invokes", 0, config_delivery, max_concurrent_invokes, 1, 100000),
    FIELD_CUSTOM_("allow_networks", 0, read_allow_networks),
    FIELD_UINT_("max_items", 0, config_delivery, max_items, 1, 1000),
    FIELD_CUSTOM_("retry_schedule_ms", 0, read_retry_schedule),
    FIELD_UINT_("retry_jitter_percent", 0, config_delivery, retry_jitter_percent, 0, 50),
    FIELD_UINT_("throttle_wait_ms", 0, config_delivery, throttle_wait_ms, 0, CONFIG_MAX_RETRY_WAIT_MS),
    FIELD_UINT_("max_in_flight", 0, config_delivery, max_in_flight, 1, 100000),
    FIELD_UINT_("max_in_flight_per_webhook", 0, config_delivery, max_in_flight_per_webhook, 1, 1000),
    FIELD_UINT_OR_ZERO_("disable_after_ms", config_delivery, disable_after_ms, 1000, CONFIG_MAX_KEEP_MS),
    FIELD_UINT_("retention_ms", 0, config_delivery, retention_ms, 1000, CONFIG_MAX_KEEP_MS),
    FIELD_UINT_("max_recover", 0, config_delivery, max_recover, 1, 100000),
};

static int read_delivery(parse *p, void *target)
{
    return read_mapping(p, delivery_fields, COUNT(delivery_fields), &((config *)target)->delivery);
}

static const field root_fields[] = {
    FIELD_MAPPING_("server", 1, 0, server_fields),
    FIELD_CUSTOM_("limits", 0, read_limits),
    FIELD_CUSTOM_("delivery", 0, read_delivery),
    FIELD_MAPPING_("store", 0, 0, store_fields),
    FIELD_CUSTOM_("accounts", 0, read_accounts),
};

/* One stream holding exactly one document whose root is the root mapping. */
static int read_stream(parse *p)
{
    if (next(p)) /* STREAM-START */
        return -1;
    if (next(p))
        return -1;
    if (p->event.type == YAML_STREAM_END_EVENT)
        return fail(p, p->event.start_mark, "the document is empty");
    if (next(p)) /* the root node */
        return -1;
    if (is_plain_null(&p->event))
        return fail(p, p->event.start_mark, "the document is empty");
    push_back(p);
    if (read_mapping(p, root_fields, COUNT(root_fields), p->cfg))
        return -1;
    if (p->cfg->n_store_previous_keys > 0 && p->cfg->store_secret_key.path == NULL) {
        /* previous keys only open; with no current key new secrets would be stored as given */
        strcpy(p->path, "store.previous_secret_key_files");
        p->path_len = strlen(p->path);
        return fail(p, p->previous_keys_mark, "needs store.secret_key_file (the key that seals from now on)");
    }
    if (p->cfg->store_pg_conninfo != NULL && p->cfg->store_path != NULL) {
        strcpy(p->path, "store.postgres");
        p->path_len = strlen(p->path);
        return fail(p, p->postgres_mark, "store.path and store.postgres are exclusive (one store per node)");
    }
    if (next(p)) /* DOCUMENT-END */
        return -1;
    if (next(p))
        return -1;
    if (p->event.type != YAML_STREAM_END_EVENT)
        return fail(p, p->event.start_mark, "only one document is allowed");
    return 0;
}

/* --- the API ---------------------------------------------------------------------------- */

config *config_parse(const char *name, const char *text, size_t len, char err[CONFIG_ERROR_MAX])
{
    parse p;
    int rc;

    err[0] = '\0';
    if (len > CONFIG_FILE_MAX) {
        snprintf(err, CONFIG_ERROR_MAX, "%s: file is larger than %d bytes", name, CONFIG_FILE_MAX);
        return NULL;
    }
    memset(&p, 0, sizeof p);
    seen_init(&p.tokens);
    seen_init(&p.accounts);
    seen_init(&p.ecosystems);
    p.name = name;
    p.text = text;
    p.len = len;
    p.err = err;
    if ((p.cfg = calloc(1, sizeof *p.cfg)) == NULL) {
        fail_memory(&p);
        return NULL;
    }
    p.cfg->grpc_idle_timeout_ms = 30000;
    p.cfg->max_connections = 10000;
    p.cfg->max_connections_per_address = 1024;
    p.cfg->idle_eviction_ms = 1000;
    p.cfg->request_timeout_ms = 10000;
    p.cfg->idle_timeout_ms = 10000;
    p.cfg->handshake_timeout_ms = 10000;
    p.cfg->write_timeout_ms = 10000;
    p.cfg->console = 1;
    p.cfg->max_connection_output_bytes = 4u << 20;
    p.cfg->max_buffered_bytes = 256u << 20;
    p.cfg->store_fsync = CONFIG_FSYNC_ALWAYS;
    p.cfg->store_fsync_interval_ms = 1000;
    p.cfg->store_snapshot_after_bytes = 64ull << 20;
    p.cfg->store_max_queued_creates = 65536;
    p.cfg->store_json_cache_bytes = 256ull << 20;
    p.cfg->store_pg_connections = 4;
    p.cfg->store_pg_statement_timeout_ms = 5000;
    p.cfg->limits.max_body_bytes = 65536;
    p.cfg->limits.max_url_length = 2048;
    p.cfg->limits.max_description_length = 1024;
    p.cfg->limits.max_secret_length = 256;
    p.cfg->limits.resets_per_second_per_connection = 100;
    p.cfg->limits.default_page_size = 100;
    p.cfg->limits.max_page_size = 1000;
    p.cfg->delivery.connect_timeout_ms = 5000;
    p.cfg->delivery.timeout_ms = 10000;
    p.cfg->delivery.max_concurrent_invokes = 64;
    p.cfg->delivery.max_items = 100;
    static const uint32_t svix_schedule[] = {0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};
    HG_STATIC_ASSERT(COUNT(svix_schedule) <= CONFIG_MAX_RETRY_SCHEDULE, "the default schedule fits");
    memcpy(p.cfg->delivery.retry_schedule_ms, svix_schedule, sizeof svix_schedule);
    p.cfg->delivery.n_retry_schedule = COUNT(svix_schedule);
    p.cfg->delivery.retry_jitter_percent = 20;
    p.cfg->delivery.throttle_wait_ms = 60000;
    p.cfg->delivery.max_in_flight = 256;
    p.cfg->delivery.max_in_flight_per_webhook = 4;
    p.cfg->delivery.disable_after_ms = 432000000; /* 5 days */
    p.cfg->delivery.retention_ms = 604800000;     /* 7 days */
    p.cfg->delivery.max_recover = 1000;

    if (!yaml_parser_initialize(&p.yaml)) {
        fail_memory(&p);
        config_destroy(p.cfg);
        return NULL;
    }
    yaml_parser_set_input_string(&p.yaml, (const unsigned char *)text, len);
    rc = read_stream(&p);

    if (p.have_event)
        yaml_event_delete(&p.event);
    yaml_parser_delete(&p.yaml);
    seen_destroy(&p.tokens);
    seen_destroy(&p.accounts);
    seen_destroy(&p.ecosystems);
    if (rc) {
        config_destroy(p.cfg);
        return NULL;
    }
    return p.cfg;
}

config *config_load(const char *path, char err[CONFIG_ERROR_MAX])
{
    /* Read one byte past the cap, so that config_parse sees (and reports) an oversized file. */
    size_t cap = CONFIG_FILE_MAX + 1, len = 0;
    char *text;
    config *cfg;
    int fd;

    err[0] = '\0';
    if ((text = malloc(cap)) == NULL) {
        snprintf(err, CONFIG_ERROR_MAX, "%s: %s", path, strerror(ENOMEM));
        return NULL;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, CONFIG_ERROR_MAX, "%s: %s", path, strerror(errno));
        free(text);
        return NULL;
    }
    while (len < cap) {
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, CONFIG_ERROR_MAX, "%s: %s", path, strerror(errno));
            close(fd);
            free(text);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    cfg = config_parse(path, text, len, err);
    free(text);
    return cfg;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Adds one key file to the ring; -1 with the message in err. */
static int add_key_file(seal_keyring *r, const config_key_file *k, int current, char err[CONFIG_ERROR_MAX])
{
    uint8_t key[SEAL_KEY_LEN];
    char why[SEAL_ERROR_MAX];
    int rc = seal_key_read(k->path, key, why);
    if (rc == 0 && seal_keyring_add(r, key, current) != 0) {
        char id[SEAL_KEY_ID_TEXT];
        uint8_t id_of[SEAL_KEY_ID_LEN];
        seal_key_id(key, id_of);
        seal_key_id_text(id_of, id);
        snprintf(why, sizeof why, "%s: the same key (id %s) is named twice", k->path, id);
        rc = -1;
    }
    OPENSSL_cleanse(key, sizeof key);
    if (rc != 0 && snprintf(err, CONFIG_ERROR_MAX, "%s: %s", k->where, why) < 0)
        err[0] = '\0';
    return rc;
}

int config_secret_keys(const config *cfg, seal_keyring **keys, char err[CONFIG_ERROR_MAX])
{
    *keys = NULL;
    err[0] = '\0';
    if (cfg->store_secret_key.path == NULL)
        return 0;
    seal_keyring *r = seal_keyring_create();
    if (r == NULL) {
        snprintf(err, CONFIG_ERROR_MAX, "%s: out of memory (or no ChaCha20-Poly1305 in OpenSSL)",
                 cfg->store_secret_key.where);
        return -1;
    }
    if (add_key_file(r, &cfg->store_secret_key, 1, err) != 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_store_previous_keys; i++)
        if (add_key_file(r, &cfg->store_previous_keys[i], 0, err) != 0)
            goto fail;
    *keys = r;
    return 0;
fail:
    seal_keyring_destroy(r);
    return -1;
}

static int same_previous_keys(const config *a, const config *b)
{
    for (size_t i = 0; i < a->n_store_previous_keys && i < b->n_store_previous_keys; i++)
        if (!same_text(a->store_previous_keys[i].path, b->store_previous_keys[i].path))
            return 0;
    return 1;
}

static int same_origins(const config *a, const config *b)
{
    if (a->n_cors_origins != b->n_cors_origins)
        return 0;
    for (size_t i = 0; i < a->n_cors_origins; i++)
        if (strcmp(a->cors_origins[i], b->cors_origins[i]) != 0)
            return 0;
    return 1;
}

int config_same_server(const config *a, const config *b)
{
    /* listeners are not compared: a reload binds, keeps and closes them (server.c) */
    return a->threads == b->threads && a->max_connections == b->max_connections &&
           same_text(a->access_log_file, b->access_log_file) && same_text(a->error_log_file, b->error_log_file) &&
           a->max_connections_per_address == b->max_connections_per_address &&
           a->idle_eviction_ms == b->idle_eviction_ms &&
           a->request_timeout_ms == b->request_timeout_ms && a->idle_timeout_ms == b->idle_timeout_ms &&
           a->handshake_timeout_ms == b->handshake_timeout_ms && a->grpc_idle_timeout_ms == b->grpc_idle_timeout_ms &&
           a->write_timeout_ms == b->write_timeout_ms &&
           a->max_connection_output_bytes == b->max_connection_output_bytes &&
           a->max_buffered_bytes == b->max_buffered_bytes && same_origins(a, b) && a->console == b->console &&
           same_text(a->store_path, b->store_path) && same_text(a->store_pg_conninfo, b->store_pg_conninfo) &&
           a->store_pg_connections == b->store_pg_connections &&
           a->store_pg_statement_timeout_ms == b->store_pg_statement_timeout_ms && a->store_fsync == b->store_fsync &&
           a->store_fsync_interval_ms == b->store_fsync_interval_ms &&
           a->store_snapshot_after_bytes == b->store_snapshot_after_bytes &&
           a->store_max_queued_creates == b->store_max_queued_creates &&
           a->store_json_cache_bytes == b->store_json_cache_bytes &&
           same_text(a->store_secret_key.path, b->store_secret_key.path) &&
           a->n_store_previous_keys == b->n_store_previous_keys && same_previous_keys(a, b);
}

void config_destroy(config *cfg)
{
    size_t i, j;
    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->n_listeners; i++) {
        free(cfg->listeners[i].tls_certificate);
        free(cfg->listeners[i].tls_key);
    }
    for (i = 0; i < cfg->n_grpc_listeners; i++) {
        free(cfg->grpc_listeners[i].tls_certificate);
        free(cfg->grpc_listeners[i].tls_key);
    }
    for (i = 0; i < cfg->n_accounts; i++) {
        config_account *a = &cfg->accounts[i];
        for (j = 0; j < a->n_ecosystems; j++)
            free(a->ecosystems[j].server_tokens);
        free(a->ecosystems);
        free(a->tokens);
    }
    free(cfg->accounts);
    free(cfg->store_path);
    free(cfg->access_log_file);
    free(cfg->error_log_file);
    free(cfg->store_pg_conninfo);
    free(cfg->store_secret_key.path);
    free(cfg->store_secret_key.where);
    for (i = 0; i < cfg->n_store_previous_keys; i++) {
        free(cfg->store_previous_keys[i].path);
        free(cfg->store_previous_keys[i].where);
    }
    free(cfg);
}
