/* idempotency: Idempotency-Key on create, as Stripe and Svix offer it. A create sent again
 * with the same key, by the same token, within IDEMPOTENCY_WINDOW_MS of the first one is
 * answered with the webhook the first one created instead of creating a second.
 *
 * A key is kept only as auth_scoped_digest(token, key). A finished create is found in the
 * store (the core asks it, BACKEND_FIND_IDEMPOTENT), whose record keeps that digest, so
 * the journal and snapshots carry it across a restart. A create with a key is in this
 * module's in-flight set from before that lookup until its outcome is known: a second
 * request with the key meanwhile is told so rather than creating a second webhook. Only
 * creates that stored a webhook are remembered; one that failed may be sent again with
 * the same key. Safe to share between threads. */
#ifndef HOOKGATE_IDEMPOTENCY_H
#define HOOKGATE_IDEMPOTENCY_H

#include <stdint.h>

#include "store.h"

#define IDEMPOTENCY_WINDOW_MS (24 * 3600 * 1000LL)

typedef struct idempotency idempotency;

typedef enum idempotency_outcome {
    IDEMPOTENCY_NEW,       /* look the key up in the store, then create or replay; idempotency_end after */
    IDEMPOTENCY_IN_FLIGHT, /* a create with this key has not finished yet */
    IDEMPOTENCY_NO_MEMORY,
} idempotency_outcome;

/* An empty in-flight set; NULL when out of memory. */
idempotency *idempotency_create(void);

void idempotency_destroy(idempotency *t);

/* Enters the digest into the in-flight set unless it is there already. On
 * IDEMPOTENCY_NEW it stays in flight until idempotency_end. */
idempotency_outcome idempotency_begin(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN]);

/* The create begun with digest has finished (its webhook, if any, is in the store). */
void idempotency_end(idempotency *t, const uint8_t digest[STORE_IDEMPOTENCY_LEN]);

#endif
