/* seal: see seal.h. OpenSSL's EVP AEAD (ChaCha20-Poly1305), fetched once per keyring;
 * a cipher context per call, so any number of threads can seal and open at once. */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hg_assert.h"

#define KEY_ID_PREFIX "hookgate-secret-key-id:"
#define AD_PREFIX "hookgate-secret-v1:"
#define AD_LEN (sizeof(AD_PREFIX) - 1 + 1 + SEAL_KEY_ID_LEN + OBJECTID_LEN)

/* EVP's lengths are ints: a secret, sealed, must stay far below INT_MAX */
HG_STATIC_ASSERT(SEAL_MAX_SECRET + SEAL_OVERHEAD < (1u << 30), "a sealed secret's length fits EVP's int");

typedef struct seal_key {
    uint8_t key[SEAL_KEY_LEN];
    uint8_t id[SEAL_KEY_ID_LEN];
} seal_key;

struct seal_keyring {
    EVP_CIPHER *cipher;
    seal_key keys[SEAL_MAX_KEYS];
    size_t n_keys;
    int current; /* index of the current key in keys, or -1 */
};

seal_keyring *seal_keyring_create(void)
{
    seal_keyring *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->current = -1;
    if ((r->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL)) == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void seal_keyring_destroy(seal_keyring *r)
{
    if (r == NULL)
        return;
    EVP_CIPHER_free(r->cipher);
    OPENSSL_cleanse(r->keys, sizeof(r->keys));
    free(r);
}

int seal_key_read(const char *path, uint8_t key[SEAL_KEY_LEN], char err[SEAL_ERROR_MAX])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, SEAL_ERROR_MAX, "%s: %s (make a key with: umask 077; head -c 32 /dev/urandom > %s)", path,
                 strerror(errno), path);
        return -1;
    }
    struct stat st;
    uint8_t buf[SEAL_KEY_LEN + 1];
    ssize_t n = -1;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        snprintf(err, SEAL_ERROR_MAX, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, SEAL_ERROR_MAX, "%s: not a regular file", path);
    } else if ((st.st_mode & 077) != 0) {
        /* a key others can read protects nothing; one they can write could be swapped */
        snprintf(err, SEAL_ERROR_MAX,
                 "%s: group or others may read or write it (mode %04o); a key file must be private: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
    } else {
        size_t got = 0;
        while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                break;
            got += (size_t)n;
        }
        int zero = 1;
        for (size_t i = 0; i < got && zero; i++)
            zero = buf[i] == 0;
        if (n < 0)
            snprintf(err, SEAL_ERROR_MAX, "%s: %s", path, strerror(errno));
        else if (got != SEAL_KEY_LEN)
            snprintf(err, SEAL_ERROR_MAX,
                     "%s: must hold exactly %d bytes, it holds %s%zu (make a key with: umask 077; head -c 32 "
                     "/dev/urandom > FILE)",
                     path, SEAL_KEY_LEN, got > SEAL_KEY_LEN ? "more than " : "", got > SEAL_KEY_LEN ? SEAL_KEY_LEN : got);
        else if (zero)
            snprintf(err, SEAL_ERROR_MAX, "%s: holds only zero bytes, which is no random key", path);
        else {
            memcpy(key, buf, SEAL_KEY_LEN);
            rc = 0;
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return rc;
}

void seal_key_id(const uint8_t key[SEAL_KEY_LEN], uint8_t id[SEAL_KEY_ID_LEN])
{
    uint8_t in[sizeof(KEY_ID_PREFIX) - 1 + SEAL_KEY_LEN], digest[SHA256_DIGEST_LENGTH];
    memcpy(in, KEY_ID_PREFIX, sizeof(KEY_ID_PREFIX) - 1);
    memcpy(in + sizeof(KEY_ID_PREFIX) - 1, key, SEAL_KEY_LEN);
    SHA256(in, sizeof in, digest);
    memcpy(id, digest, SEAL_KEY_ID_LEN);
    OPENSSL_cleanse(in, sizeof in);
}

void seal_key_id_text(const uint8_t id[SEAL_KEY_ID_LEN], char out[SEAL_KEY_ID_TEXT])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < SEAL_KEY_ID_LEN; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[2 * SEAL_KEY_ID_LEN] = '\0';
}

static const seal_key *find(const seal_keyring *r, const uint8_t id[SEAL_KEY_ID_LEN])
{
    for (size_t i = 0; r != NULL && i < r->n_keys; i++)
        if (memcmp(r->keys[i].id, id, SEAL_KEY_ID_LEN) == 0)
            return &r->keys[i];
    return NULL;
}

int seal_keyring_add(seal_keyring *r, const uint8_t key[SEAL_KEY_LEN], int current)
{
    uint8_t id[SEAL_KEY_ID_LEN];
    seal_key_id(key, id);
    if (r->n_keys == SEAL_MAX_KEYS || (current && r->current >= 0) || find(r, id) != NULL)
        return -1;
    seal_key *k = &r->keys[r->n_keys];
    memcpy(k->key, key, SEAL_KEY_LEN);
    memcpy(k->id, id, SEAL_KEY_ID_LEN);
    if (current)
        r->current = (int)r->n_keys;
    r->n_keys++;
    return 0;
}

int seal_keyring_can_seal(const seal_keyring *r)
{
    return r != NULL && r->current >= 0;
}

const uint8_t *seal_keyring_current_id(const seal_keyring *r)
{
    HG_ASSERT(seal_keyring_can_seal(r));
    return r->keys[r->current].id;
}

seal_key_role seal_keyring_role(const seal_keyring *r, const uint8_t id[SEAL_KEY_ID_LEN])
{
    const seal_key *k = find(r, id);
    if (k == NULL)
        return SEAL_KEY_UNKNOWN;
    return k == &r->keys[r->current] ? SEAL_KEY_CURRENT : SEAL_KEY_PREVIOUS;
}

void seal_keyring_describe(const seal_keyring *r, char out[SEAL_DESCRIBE_MAX])
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; r != NULL && i < r->n_keys; i++) {
        char id[SEAL_KEY_ID_TEXT];
        seal_key_id_text(r->keys[i].id, id);
        used += (size_t)snprintf(out + used, SEAL_DESCRIBE_MAX - used, "%s%s%s", i ? ", " : "", id,
                                 (int)i == r->current ? " (current)" : "");
        HG_ASSERT(used < SEAL_DESCRIBE_MAX);
    }
    if (used == 0)
        snprintf(out, SEAL_DESCRIBE_MAX, "none");
}

size_t seal_sealed_len(size_t len)
{
    return len + SEAL_OVERHEAD;
}

/* The associated data: the format, the key id and the webhook id. */
static void make_ad(const uint8_t header[1 + SEAL_KEY_ID_LEN], const objectid *id, uint8_t ad[AD_LEN])
{
    memcpy(ad, AD_PREFIX, sizeof(AD_PREFIX) - 1);
    memcpy(ad + sizeof(AD_PREFIX) - 1, header, 1 + SEAL_KEY_ID_LEN);
    memcpy(ad + sizeof(AD_PREFIX) - 1 + 1 + SEAL_KEY_ID_LEN, id->bytes, OBJECTID_LEN);
}

int seal_secret(const seal_keyring *r, const objectid *id, const char *secret, size_t len, uint8_t *out)
{
    HG_ASSERT(seal_keyring_can_seal(r) && len <= SEAL_MAX_SECRET);
    const seal_key *k = &r->keys[r->current];
    out[0] = SEAL_VERSION;
    memcpy(out + 1, k->id, SEAL_KEY_ID_LEN);
    if (RAND_bytes(out + 1 + SEAL_KEY_ID_LEN, SEAL_NONCE_LEN) != 1)
        return -1;
    uint8_t ad[AD_LEN];
    make_ad(out, id, ad);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, ok = ctx != NULL &&
                            EVP_EncryptInit_ex2(ctx, r->cipher, k->key, out + 1 + SEAL_KEY_ID_LEN, NULL) == 1 &&
                            EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)AD_LEN) == 1 &&
                            EVP_EncryptUpdate(ctx, out + SEAL_HEADER_LEN, &n, (const uint8_t *)secret, (int)len) == 1 &&
                            EVP_EncryptFinal_ex(ctx, out + SEAL_HEADER_LEN + n, &fin) == 1 &&
                            (size_t)(n + fin) == len &&
                            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN,
                                                out + SEAL_HEADER_LEN + len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

int seal_key_id_of(const uint8_t *sealed, size_t len, uint8_t id[SEAL_KEY_ID_LEN])
{
    if (len < SEAL_OVERHEAD || len > seal_sealed_len(SEAL_MAX_SECRET) || sealed[0] != SEAL_VERSION)
        return -1;
    memcpy(id, sealed + 1, SEAL_KEY_ID_LEN);
    return 0;
}

seal_status seal_open(const seal_keyring *r, const objectid *id, const uint8_t *sealed, size_t len, char *out,
                      size_t *out_len)
{
    uint8_t key_id[SEAL_KEY_ID_LEN];
    if (seal_key_id_of(sealed, len, key_id) != 0)
        return SEAL_MALFORMED;
    const seal_key *k = find(r, key_id);
    if (k == NULL)
        return SEAL_UNKNOWN_KEY;
    size_t plain = len - SEAL_OVERHEAD;
    uint8_t ad[AD_LEN], tag[SEAL_TAG_LEN];
    make_ad(sealed, id, ad);
    memcpy(tag, sealed + SEAL_HEADER_LEN + plain, SEAL_TAG_LEN); /* the ctrl takes a non-const pointer */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return SEAL_NO_MEMORY;
    int n = 0, fin = 0;
    seal_status st = SEAL_NO_MEMORY;
    if (EVP_DecryptInit_ex2(ctx, r->cipher, k->key, sealed + 1 + SEAL_KEY_ID_LEN, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN, tag) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)AD_LEN) == 1 &&
        EVP_DecryptUpdate(ctx, (uint8_t *)out, &n, sealed + SEAL_HEADER_LEN, (int)plain) == 1) {
        /* only the tag check is left: its failure is the blob's fault, not memory's */
        st = EVP_DecryptFinal_ex(ctx, (uint8_t *)out + n, &fin) == 1 && (size_t)(n + fin) == plain ? SEAL_OK
                                                                                                   : SEAL_FORGED;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (st != SEAL_OK) {
        OPENSSL_cleanse(out, plain);
        return st;
    }
    out[plain] = '\0';
    *out_len = plain;
    return SEAL_OK;
}

int seal_webhook(const seal_keyring *r, const store_webhook *w, store_webhook *out, uint8_t **buf)
{
    *out = *w;
    *buf = NULL;
    size_t len = strlen(w->secret);
    if (!seal_keyring_can_seal(r) || len == 0)
        return 0; /* nothing to hide: an empty secret stays "" */
    HG_ASSERT(w->sealed_secret == NULL); /* a record has a secret in one form only */
    uint8_t *sealed = malloc(seal_sealed_len(len));
    if (sealed == NULL || seal_secret(r, &w->id, w->secret, len, sealed) != 0) {
        free(sealed);
        return -1;
    }
    out->secret = "";
    out->sealed_secret = sealed;
    out->sealed_secret_len = seal_sealed_len(len);
    *buf = sealed;
    return 0;
}
