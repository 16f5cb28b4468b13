/* seal: webhook secrets sealed at rest with a server key (store.secret_key_file), so that
 * neither the journal, nor a snapshot, nor the memory index holds them in plain text.
 *
 * Promises: a sealed secret opens only with the key it was sealed under and only for the
 * webhook id it was sealed for (the id is associated data: a sealed blob copied to another
 * webhook does not open); every seal draws a fresh random nonce; a damaged byte anywhere
 * makes it refuse to open. The module knows nothing of files' framing or of any backend,
 * so every store backend seals the same way (the memory + journal backend today).
 *
 * Sealed form, version 1 (SEAL_OVERHEAD bytes more than the secret):
 *   byte 0       0x01, the format
 *   bytes 1..4   the key id: the first 4 bytes of SHA-256("hookgate-secret-key-id:" || key),
 *                so `(printf hookgate-secret-key-id:; cat KEYFILE) | sha256sum | cut -c1-8`
 *                prints it; it tells which configured key opens the blob (rotation)
 *   bytes 5..16  the nonce (96 random bits)
 *   then         the ChaCha20-Poly1305 ciphertext of the secret, and its 16-byte tag
 * Associated data: "hookgate-secret-v1:" || bytes 0..4 || the 12 bytes of the webhook id.
 *
 * A keyring holds one current key (seals and opens) and up to SEAL_MAX_KEYS - 1 previous
 * ones (open only, during a rotation). It is immutable once filled and may then be shared
 * by every thread. */
#ifndef HOOKGATE_SEAL_H
#define HOOKGATE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "objectid.h"
#include "store.h"

#define SEAL_KEY_LEN 32 /* bytes of a key file */
#define SEAL_KEY_ID_LEN 4
#define SEAL_KEY_ID_TEXT (2 * SEAL_KEY_ID_LEN + 1) /* hex digits and a NUL */
#define SEAL_VERSION 1
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_HEADER_LEN (1 + SEAL_KEY_ID_LEN + SEAL_NONCE_LEN)
#define SEAL_OVERHEAD (SEAL_HEADER_LEN + SEAL_TAG_LEN)
#define SEAL_MAX_KEYS 8                  /* the current key and at most 7 previous ones */
#define SEAL_MAX_SECRET STORE_SECRET_MAX /* bytes of a secret that can be sealed */
#define SEAL_ERROR_MAX 512               /* bytes of a key file error, NUL included */
#define SEAL_DESCRIBE_MAX (SEAL_MAX_KEYS * 20) /* bytes of seal_keyring_describe's text */

typedef struct seal_keyring seal_keyring;

/* What a keyring knows of a key id. */
typedef enum seal_key_role {
    SEAL_KEY_UNKNOWN, /* not in the ring: its blobs cannot be opened */
    SEAL_KEY_CURRENT, /* seals, and opens */
    SEAL_KEY_PREVIOUS /* opens only */
} seal_key_role;

/* Why a sealed secret did not open. */
typedef enum seal_status {
    SEAL_OK,
    SEAL_MALFORMED,   /* too short, or a format this server does not write */
    SEAL_UNKNOWN_KEY, /* sealed under a key id the ring does not hold */
    SEAL_FORGED,      /* the tag does not match: a damaged byte, or another webhook's blob */
    SEAL_NO_MEMORY,
} seal_status;

/* An empty keyring, or NULL when out of memory (or without the cipher in OpenSSL). */
seal_keyring *seal_keyring_create(void);

/* Wipes the keys and frees the ring (NULL is a no-op). */
void seal_keyring_destroy(seal_keyring *r);

/* Reads a key file: a regular file of exactly SEAL_KEY_LEN bytes, not all zero, that
 * neither group nor others may read or write (0600 or 0400). 0, or -1 with
 * "PATH: what is wrong, and how to fix it" in err. */
int seal_key_read(const char *path, uint8_t key[SEAL_KEY_LEN], char err[SEAL_ERROR_MAX]);

/* The key id of a key (see the sealed form above). */
void seal_key_id(const uint8_t key[SEAL_KEY_LEN], uint8_t id[SEAL_KEY_ID_LEN]);

/* The key id as 8 lowercase hex digits. */
void seal_key_id_text(const uint8_t id[SEAL_KEY_ID_LEN], char out[SEAL_KEY_ID_TEXT]);

/* Adds a copy of key, as the current key (at most one) or a previous one. 0; -1 when the
 * ring is full, already has a current key, or holds a key with the same id (the same key
 * twice). */
int seal_keyring_add(seal_keyring *r, const uint8_t key[SEAL_KEY_LEN], int current);

/* 1 when the ring has a current key (it seals), else 0. NULL is an empty ring. */
int seal_keyring_can_seal(const seal_keyring *r);

/* The current key's id; the ring must have one. */
const uint8_t *seal_keyring_current_id(const seal_keyring *r);

/* What the ring knows of id (NULL is an empty ring). */
seal_key_role seal_keyring_role(const seal_keyring *r, const uint8_t id[SEAL_KEY_ID_LEN]);

/* "3f2a91c0 (current), 0badf00d" or "none", for messages. */
void seal_keyring_describe(const seal_keyring *r, char out[SEAL_DESCRIBE_MAX]);

/* Bytes of a sealed secret of len bytes. */
size_t seal_sealed_len(size_t len);

/* Seals secret[0..len) for webhook id under the current key into out
 * (seal_sealed_len(len) bytes). 0, or -1 when out of memory or without randomness. */
int seal_secret(const seal_keyring *r, const objectid *id, const char *secret, size_t len, uint8_t *out);

/* The key id a sealed secret names, without opening it. 0, or -1 when it is malformed. */
int seal_key_id_of(const uint8_t *sealed, size_t len, uint8_t id[SEAL_KEY_ID_LEN]);

/* Opens sealed[0..len) sealed for webhook id into out (len - SEAL_OVERHEAD bytes plus a
 * NUL), setting *out_len. On anything but SEAL_OK out holds no byte of the secret. The
 * caller wipes out (OPENSSL_cleanse) once done with it. */
seal_status seal_open(const seal_keyring *r, const objectid *id, const uint8_t *sealed, size_t len, char *out,
                      size_t *out_len);

/* A copy of w whose secret is sealed under the current key: *out points into w except
 * out->sealed_secret, a new block in *buf (free it once out has been copied, by
 * store_record_new or store_insert). A webhook with no secret, or a ring that cannot
 * seal, gives *out = *w and *buf = NULL. 0, or -1 when out of memory or without
 * randomness. Every backend seals a secret through this, at create and at update. */
int seal_webhook(const seal_keyring *r, const store_webhook *w, store_webhook *out, uint8_t **buf);

#endif
