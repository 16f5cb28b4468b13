/* validate: see validate.h. */
#include "validate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

int validate_is_webhook_url(const char *s, size_t max_len)
{
    size_t len = strlen(s);
    if (len == 0 || len > max_len)
        return 0;
    url_arena arena;
    arena.used = 0;
    UriMemoryManager memory = {url_malloc, url_calloc, url_realloc, url_reallocarray, url_free, &arena};
    UriUriA uri;
    const char *error_pos;
    if (uriParseSingleUriExMmA(&uri, s, s + len, &error_pos, &memory) != URI_SUCCESS)
        return 0;
    int ok = (range_equals(&uri.scheme, "http") || range_equals(&uri.scheme, "https")) && uri.hostText.first != NULL &&
             uri.hostText.afterLast > uri.hostText.first;
    if (uri.portText.first != NULL) { /* RFC 3986 allows any digits; TCP does not */
        unsigned long port = 0;
        for (const char *c = uri.portText.first; c < uri.portText.afterLast && port <= 65535; c++)
            port = port * 10 + (unsigned long)(*c - '0');
        ok = ok && port <= 65535;
    }
    uriFreeUriMembersMmA(&uri, &memory);
    return ok;
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
