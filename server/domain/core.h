/* core: the webhook operations, independent of any protocol.
 *
 * Every transport decodes a request into a schema message, authenticates the caller, and
 * calls one of these; the result is a schema message or the one error value. The core
 * never sees JSON, HTTP or sockets. Results point into the store's immutable records (no
 * copies), so they stay valid while the core lives. */
#ifndef HOOKGATE_CORE_H
#define HOOKGATE_CORE_H

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>

#include "auth.h"
#include "config.h"
#include "error.h"
#include "idempotency.h"
#include "journal.h"
#include "ratelimit.h"
#include "schema.h"
#include "store.h"

/* cfg and create_limit are replaced whole on a reload (SIGHUP) while requests run: they are
 * read atomically, and what they pointed to before stays alive until the process ends
 * (requests in flight may still hold its accounts and tokens). */
typedef struct core {
    _Atomic(const config *) cfg;
    store *store;
    journal *journal;                  /* NULL: memory only, creates finish at once */
    idempotency *idempotency;          /* the store's Idempotency-Keys */
    _Atomic(ratelimit *) create_limit; /* creates per second per token; NULL = no limit */
} core;

#define CORE_PENDING 1 /* a create waits for the journal: its outcome comes through done */

/* A webhook as the schema shows it, built in place: msg.created_at points at created_at
 * and msg.id at id_hex, so the struct must not be copied after core_webhook_fill. */
typedef struct core_webhook {
    schema_webhook msg;
    schema_timestamp created_at;
    char id_hex[OBJECTID_HEX_LEN + 1];
} core_webhook;

/* Fills out from a stored record. */
void core_webhook_fill(core_webhook *out, const store_webhook *w);

/* A create in flight. The caller owns it and keeps it in place until the outcome is
 * known: at once, or, with a journal, when done is called. */
typedef struct core_create {
    error err;                            /* in: problems a codec found; out: why it failed */
    const store_webhook *stored;          /* out: the new webhook; NULL when it failed */
    core_webhook result;                  /* out: the webhook as the schema shows it */
    void (*done)(struct core_create *op); /* for CORE_PENDING: called once, from the journal's thread */
    void *data;                           /* the caller's */
    int replayed; /* out: 1 when the webhook is the one an earlier create with the same Idempotency-Key made */
    /* the core's */
    journal_op journal;
    struct core *core;
    int keyed;
    uint8_t key_digest[STORE_IDEMPOTENCY_LEN];
} core_create;

/* 1 when the core can take creates: memory only, or a journal that writes. Otherwise 0
 * with the reason in reason (for /readyz). */
int core_is_ready(core *c, const char **reason);

/* 1 when core_create_webhook may answer CORE_PENDING (there is a journal): the caller's
 * core_create must then live off the stack. */
int core_create_may_wait(const core *c);

/* Creates a webhook. op->err may already hold problems a codec found; validation adds
 * its own, and the request fails if there are any. Then the ecosystem must be visible to
 * who (404/403). A token over limits.creates_per_second_per_token gets ERROR_RATE_LIMITED
 * first, whatever the request. Returns 0 when the webhook is stored (op->result filled), -1 when it
 * failed (op->err), or CORE_PENDING when it waits for the journal: op->done then reports
 * the outcome (op->stored is NULL on failure, e.g. ERROR_UNAVAILABLE for a full disk).
 *
 * idempotency_key (key_len bytes; NULL = none sent) is the Idempotency-Key header (see
 * idempotency.h): when this token created a webhook with it in the last 24 hours, the
 * answer is that webhook (0, op->replayed = 1) if the request is the same, and
 * ERROR_UNPROCESSABLE if it is not; while that first create is still in flight,
 * ERROR_CONFLICT. A malformed key is a parameter problem (in the header). */
int core_create_webhook(core *c, const auth_principal *who, const schema_create_request *req,
                        const char *idempotency_key, size_t key_len, core_create *op);

/* Reads one webhook; ERROR_NOT_FOUND when absent or outside who's ecosystems. */
int core_get_webhook(core *c, const auth_principal *who, const schema_get_request *req, core_webhook *out, error *err);

/* Lists an ecosystem's webhooks, oldest first, into out (its items allocated with alloc,
 * NULL = malloc; free with core_list_free when alloc is NULL). */
int core_list_webhooks(core *c, const auth_principal *who, const schema_list_request *req, ProtobufCAllocator *alloc,
                       schema_list_response *out, error *err);

/* Frees what core_list_webhooks allocated with the default allocator. */
void core_list_free(schema_list_response *out);

#endif
