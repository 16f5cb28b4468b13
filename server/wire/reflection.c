/* reflection: see reflection.h.
 *
 * Everything looked up is generated at build time (proto/descriptors.py): the symbol and
 * extension tables come sorted, and each file its closure, so an answer is a search and
 * pointers into static bytes. grpc-go answers the same requests the same way, down to an
 * unknown request kind: INVALID_ARGUMENT, here inside the answer rather than ending the
 * stream, as every other refusal of this service is. */
#include "reflection.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hg_assert.h"
#include "route.h"
#include "status.h"

/* Pointers, not indices: a schema may declare no extension (an index loop to 0 is a
 * compiler warning). */
#define EXTENSIONS_END (descriptor_set_extensions + DESCRIPTOR_SET_EXTENSIONS)

static void *take(ProtobufCAllocator *alloc, size_t n)
{
    return alloc->alloc(alloc->allocator_data, n);
}

int reflection_find_file(const char *name)
{
    for (int i = 0; i < DESCRIPTOR_SET_FILES; i++)
        if (strcmp(descriptor_set_files[i].name, name) == 0)
            return i;
    return -1;
}

static int symbol_compare(const void *key, const void *entry)
{
    return strcmp(key, ((const descriptor_set_symbol *)entry)->name);
}

const descriptor_set_symbol *reflection_find_symbol(const char *name)
{
    return bsearch(name, descriptor_set_symbols, DESCRIPTOR_SET_SYMBOLS, sizeof(descriptor_set_symbols[0]),
                   symbol_compare);
}

/* The error_response for kind, its message built as every error message is (bounded,
 * whole UTF-8 characters: a name from the client may be cut). */
static int answer_error(schema_reflection_response *res, ProtobufCAllocator *alloc, error_kind kind, const char *what,
                        const char *name)
{
    error err;
    error_set(&err, kind, "%s %s.", what, name);
    schema_reflection_error *e = take(alloc, sizeof(*e));
    size_t n = strlen(err.reason) + 1;
    char *message = take(alloc, n);
    if (e == NULL || message == NULL)
        return -1;
    memcpy(message, err.reason, n);
    *e = (schema_reflection_error)SCHEMA_REFLECTION_ERROR_INIT;
    e->error_code = status_of(kind)->grpc_status;
    e->error_message = message;
    res->message_response_case = SCHEMA_REFLECTION_ANSWER_ERROR;
    res->error_response = e;
    return 0;
}

/* The file at index, then every file it imports (the generated closure). */
static int answer_files(schema_reflection_response *res, ProtobufCAllocator *alloc, int index)
{
    HG_ASSERT(index >= 0 && index < DESCRIPTOR_SET_FILES);
    const descriptor_set_file *f = &descriptor_set_files[index];
    HG_ASSERT(f->closure_len >= 1 && f->closure[0] == index);
    schema_reflection_files *files = take(alloc, sizeof(*files));
    ProtobufCBinaryData *protos = take(alloc, f->closure_len * sizeof(*protos));
    if (files == NULL || protos == NULL)
        return -1;
    *files = (schema_reflection_files)SCHEMA_REFLECTION_FILES_INIT;
    for (size_t i = 0; i < f->closure_len; i++) {
        const descriptor_set_file *dep = &descriptor_set_files[f->closure[i]];
        /* the packer only reads it: protobuf-c's type has no const */
        protos[i].data = (uint8_t *)dep->bytes;
        protos[i].len = dep->len;
    }
    files->n_file_descriptor_proto = f->closure_len;
    files->file_descriptor_proto = protos;
    res->message_response_case = SCHEMA_REFLECTION_ANSWER_FILES;
    res->file_descriptor_response = files;
    return 0;
}

static int answer_services(schema_reflection_response *res, ProtobufCAllocator *alloc)
{
    size_t n = route_rpc_service_count();
    schema_reflection_services *list = take(alloc, sizeof(*list));
    schema_reflection_service *items = take(alloc, n * sizeof(*items));
    schema_reflection_service **ptrs = take(alloc, n * sizeof(*ptrs));
    if (list == NULL || items == NULL || ptrs == NULL)
        return -1;
    *list = (schema_reflection_services)SCHEMA_REFLECTION_SERVICES_INIT;
    for (size_t i = 0; i < n; i++) {
        items[i] = (schema_reflection_service)SCHEMA_REFLECTION_SERVICE_INIT;
        items[i].name = (char *)route_rpc_service(i)->name; /* read only, as above */
        ptrs[i] = &items[i];
    }
    list->n_service = n;
    list->service = ptrs;
    res->message_response_case = SCHEMA_REFLECTION_ANSWER_SERVICES;
    res->list_services_response = list;
    return 0;
}

/* The extension of extendee numbered number, or NULL. */
static const descriptor_set_extension *find_extension(const char *extendee, int32_t number)
{
    for (const descriptor_set_extension *x = descriptor_set_extensions; x != EXTENSIONS_END; x++)
        if (strcmp(x->extendee, extendee) == 0 && x->number == number)
            return x;
    return NULL;
}

/* The numbers of every extension of a message the schema has (none is an empty list). */
static int answer_extension_numbers(schema_reflection_response *res, ProtobufCAllocator *alloc, const char *type)
{
    const descriptor_set_symbol *sym = reflection_find_symbol(type);
    if (sym == NULL || sym->kind != DESCRIPTOR_SET_MESSAGE)
        return answer_error(res, alloc, ERROR_NOT_FOUND, "Unknown message type", type);
    size_t n = 0;
    for (const descriptor_set_extension *x = descriptor_set_extensions; x != EXTENSIONS_END; x++)
        n += strcmp(x->extendee, type) == 0;
    schema_reflection_extension_numbers *numbers = take(alloc, sizeof(*numbers));
    int32_t *list = take(alloc, (n > 0 ? n : 1) * sizeof(*list));
    if (numbers == NULL || list == NULL)
        return -1;
    *numbers = (schema_reflection_extension_numbers)SCHEMA_REFLECTION_EXTENSION_NUMBERS_INIT;
    numbers->base_type_name = (char *)sym->name; /* read only, as above */
    numbers->extension_number = list;
    for (const descriptor_set_extension *x = descriptor_set_extensions; x != EXTENSIONS_END; x++)
        if (strcmp(x->extendee, type) == 0)
            list[numbers->n_extension_number++] = x->number;
    HG_ASSERT(numbers->n_extension_number == n);
    res->message_response_case = SCHEMA_REFLECTION_ANSWER_EXTENSION_NUMBERS;
    res->all_extension_numbers_response = numbers;
    return 0;
}

schema_reflection_response *reflection_answer(const schema_reflection_request *req, ProtobufCAllocator *alloc)
{
    HG_ASSERT(req != NULL && req->base.descriptor == &schema_reflection_request_descriptor);
    schema_reflection_response *res = take(alloc, sizeof(*res));
    if (res == NULL)
        return NULL;
    *res = (schema_reflection_response)SCHEMA_REFLECTION_RESPONSE_INIT;
    /* the protocol echoes both; the answer only reads them */
    res->valid_host = req->host;
    res->original_request = (schema_reflection_request *)req;
    int rc;
    switch (req->message_request_case) {
    case SCHEMA_REFLECTION_ASK_FILE: {
        int i = reflection_find_file(req->file_by_filename);
        rc = i >= 0 ? answer_files(res, alloc, i)
                    : answer_error(res, alloc, ERROR_NOT_FOUND, "Unknown file", req->file_by_filename);
        break;
    }
    case SCHEMA_REFLECTION_ASK_SYMBOL: {
        const descriptor_set_symbol *sym = reflection_find_symbol(req->file_containing_symbol);
        rc = sym != NULL ? answer_files(res, alloc, sym->file)
                         : answer_error(res, alloc, ERROR_NOT_FOUND, "Unknown symbol", req->file_containing_symbol);
        break;
    }
    case SCHEMA_REFLECTION_ASK_EXTENSION: {
        const char *type = req->file_containing_extension->containing_type;
        const descriptor_set_extension *x = find_extension(type, req->file_containing_extension->extension_number);
        rc = x != NULL ? answer_files(res, alloc, x->file)
                       : answer_error(res, alloc, ERROR_NOT_FOUND, "No such extension of", type);
        break;
    }
    case SCHEMA_REFLECTION_ASK_EXTENSION_NUMBERS:
        rc = answer_extension_numbers(res, alloc, req->all_extension_numbers_of_type);
        break;
    case SCHEMA_REFLECTION_ASK_SERVICES:
        rc = answer_services(res, alloc);
        break;
    default: /* none set, or a kind newer than this schema (an unknown field: not set) */
        rc = answer_error(res, alloc, ERROR_INVALID_PARAMS, "The request asks for", "nothing this server knows");
        break;
    }
    return rc == 0 ? res : NULL;
}
