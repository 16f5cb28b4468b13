/* sign: the signatures hookgate puts on its outbound webhook calls.
 *
 * Droplit's x-droplit-signature (hex HMAC-SHA256 of the raw body) and Standard Webhooks'
 * webhook-signature ("v1," + base64 HMAC-SHA256 of id.timestamp.body, what Svix sends).
 * Everything is written into the caller's fixed buffers; nothing here allocates, but
 * OpenSSL allocates inside its HMAC, so a function that calls it can fail (-1) and then
 * leaves an empty string (or an unusable key) behind, never a stale value. */
#ifndef HOOKGATE_SIGN_H
#define HOOKGATE_SIGN_H

#include "base64.h"

#include <stddef.h>
#include <stdint.h>

#define SIGN_MAC_LEN 32 /* bytes of an HMAC-SHA256 */
#define SIGN_KEY_MAX 64 /* SHA-256's block size: HMAC hashes a longer key to 32 bytes first */
#define SIGN_DROPLIT_HEX_SIZE (2 * SIGN_MAC_LEN + 1)                                 /* 64 hex digits + NUL */
#define SIGN_STANDARD_SIZE (sizeof "v1," - 1 + BASE64_ENCODED_LEN(SIGN_MAC_LEN) + 1) /* + NUL */
#define SIGN_TIMESTAMP_SIZE 21     /* the decimal digits of a uint64_t + NUL */
#define SIGN_WHSEC_PREFIX "whsec_" /* marks a secret whose key is the base64 after it */

/* A Standard Webhooks key as HMAC uses it: the key bytes, or their SHA-256 when longer than
 * SIGN_KEY_MAX (RFC 2104 section 2: the same MAC). Derive it once per secret. */
typedef struct sign_key {
    uint8_t bytes[SIGN_KEY_MAX];
    size_t len;
} sign_key;

/* Writes the x-droplit-signature value for body: the lowercase hex HMAC-SHA256 keyed with
 * the secret's bytes, and a NUL. Returns 0, or -1 (out = "") when OpenSSL fails. */
int sign_droplit(const uint8_t *secret, size_t secret_len, const uint8_t *body, size_t body_len,
                 char out[SIGN_DROPLIT_HEX_SIZE]);

/* Derives the Standard Webhooks key of a secret: with the prefix "whsec_", the standard
 * base64 (exact padding) after it, as the Standard Webhooks libraries decode it; when that
 * is not base64, or without the prefix, the secret's own bytes, "whsec_" included. The
 * fallback is hookgate's choice (those libraries refuse such a secret): the delivery is
 * signed rather than failed. Returns 0, or -1 when OpenSSL fails hashing a key longer than
 * SIGN_KEY_MAX; the key is then unusable (sign_standard asserts on it). */
int sign_key_derive(const char *secret, size_t secret_len, sign_key *key);

/* Writes seconds in decimal and a NUL: the webhook-timestamp value, the very text that
 * sign_standard signs. Returns its length. */
size_t sign_timestamp_format(uint64_t seconds, char out[SIGN_TIMESTAMP_SIZE]);

/* Writes the webhook-signature value "v1,<base64 HMAC-SHA256(key, id.seconds.body)>" and a
 * NUL. id is the webhook-id value: not empty, no '.' (asserted). Returns 0, or -1
 * (out = "") when OpenSSL fails. */
int sign_standard(const sign_key *key, const char *id, size_t id_len, uint64_t seconds, const uint8_t *body,
                  size_t body_len, char out[SIGN_STANDARD_SIZE]);

#endif
