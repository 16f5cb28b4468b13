/* core: the webhook operations, independent of any protocol.
 *
 * Every transport decodes a request into a schema message, authenticates the caller, and
 * calls one of these; the result is a schema message or the one error value. The core
 * never sees JSON, HTTP or sockets. Results point into the store's immutable records (no
 * copies), so they stay valid while the core lives. */
#ifndef HOOKGATE_CORE_H
#define HOOKGATE_CORE_H

#include <protobuf-c/protobuf-c.h>

#include "auth.h"
#include "config.h"
#include "error.h"
#include "schema.h"
#include "store.h"

typedef struct core {
    const config *cfg;
    store *store;
} core;

/* A webhook as the schema shows it, built in place: msg.created_at points at created_at
 * and msg.id at id_hex, so the struct must not be copied after core_webhook_fill. */
typedef struct core_webhook {
    schema_webhook msg;
    schema_timestamp created_at;
    char id_hex[OBJECTID_HEX_LEN + 1];
} core_webhook;

/* Fills out from a stored record. */
void core_webhook_fill(core_webhook *out, const store_webhook *w);

/* Creates a webhook. err may already hold problems a codec found; validation adds its own,
 * and the request fails (-1) if there are any. Otherwise the ecosystem must be visible to
 * who (404/403), then the webhook is stored and out filled; returns 0. */
int core_create_webhook(core *c, const auth_principal *who, const schema_create_request *req, core_webhook *out,
                        error *err);

/* Reads one webhook; ERROR_NOT_FOUND when absent or outside who's ecosystems. */
int core_get_webhook(core *c, const auth_principal *who, const schema_get_request *req, core_webhook *out, error *err);

/* Lists an ecosystem's webhooks, oldest first, into out (its items allocated with alloc,
 * NULL = malloc; free with core_list_free when alloc is NULL). */
int core_list_webhooks(core *c, const auth_principal *who, const schema_list_request *req, ProtobufCAllocator *alloc,
                       schema_list_response *out, error *err);

/* Frees what core_list_webhooks allocated with the default allocator. */
void core_list_free(schema_list_response *out);

#endif
