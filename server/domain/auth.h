/* auth: who a token is, and which ecosystems it may act on.
 *
 * Tokens are compared as SHA-256 digests in constant time against every configured token
 * (no early exit), so timing tells nothing about which token nearly matched. Never logs or
 * keeps the presented token. */
#ifndef HOOKGATE_AUTH_H
#define HOOKGATE_AUTH_H

#include <stddef.h>

#include "config.h"
#include "error.h"

#define AUTH_MAX_TOKEN_LEN 4096 /* bytes of a presented token */

typedef enum auth_kind {
    AUTH_ACCOUNT, /* acts on every ecosystem of its account */
    AUTH_SERVER,  /* acts on its one ecosystem */
} auth_kind;

typedef struct auth_principal {
    auth_kind kind;
    const config_account *account;
    const config_ecosystem *ecosystem; /* the server token's ecosystem; NULL for account tokens */
    const config_token *token;         /* the configured token it presented (rate limits are per token) */
} auth_principal;

/* Reads an Authorization header value (the raw token, or "Bearer TOKEN"; NULL or empty =
 * absent). Returns 0 and fills who, or -1 with ERROR_UNAUTHENTICATED. */
int auth_authenticate(const config *cfg, const char *header, size_t len, auth_principal *who, error *err);

/* Finds the ecosystem `id` for who. Returns it, or NULL with err set: ERROR_NOT_FOUND
 * ("Ecosystem with id X does not exist.") when it is not configured, deleted, or of another
 * account; ERROR_PERMISSION_DENIED when a server token names another ecosystem of its own
 * account. */
const config_ecosystem *auth_ecosystem(const auth_principal *who, const char *id, error *err);

/* SHA-256 of who's token digest followed by data: a name for data as sent with this token
 * (Idempotency-Key is kept under it), that no other token shares and that does not keep
 * data in the clear. */
void auth_scoped_digest(const auth_principal *who, const char *data, size_t len, uint8_t out[CONFIG_TOKEN_DIGEST_LEN]);

/* 1 when who may see webhooks of ecosystem `id` (same rules as auth_ecosystem, without
 * telling why not: an unseen webhook is simply not found). */
int auth_can_read(const auth_principal *who, const char *id);

#endif
