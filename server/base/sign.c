/* sign: see sign.h. */
#include "sign.h"

#include "hg_assert.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Characters of whsec_ base64 decoded at a time: a long secret is decoded piece by piece
 * into the hash, so its length needs no bound here. */
#define CHUNK_TEXT 256

HG_STATIC_ASSERT(SIGN_MAC_LEN == SHA256_DIGEST_LENGTH, "an HMAC-SHA256 is a SHA-256 digest long");
HG_STATIC_ASSERT(SIGN_MAC_LEN <= SIGN_KEY_MAX, "a hashed key fits where a short one does");
HG_STATIC_ASSERT(SIGN_STANDARD_SIZE == 3 + 44 + 1, "v1, + padded base64 of 32 bytes + NUL");
HG_STATIC_ASSERT(SIGN_TIMESTAMP_SIZE >= sizeof "18446744073709551615", "UINT64_MAX in decimal + NUL");
HG_STATIC_ASSERT(CHUNK_TEXT % 4 == 0, "a chunk is whole base64 quanta");
HG_STATIC_ASSERT(CHUNK_TEXT / 4 * 3 >= SIGN_KEY_MAX, "text longer than a chunk decodes to a key HMAC would hash");

typedef struct piece {
    const void *data;
    size_t len;
} piece;

/* HMAC-SHA256 without looking the algorithms up on each signature (EVP_MAC_fetch, and the
 * digest named in EVP_MAC_init's parameters: together most of a signature's 46,000
 * instructions, and a delivery attempt signs every call). HMAC is fetched once; each
 * thread keeps a context with SHA-256 set and no key, and each signature works on a copy
 * of it, freed after (no key stays behind in a kept context). */
static EVP_MAC *_Atomic hmac;              /* set once, by the first signature that fetches it */
static pthread_mutex_t hmac_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t hmac_template_key; /* each thread's keyless HMAC-SHA256 context */

static void hmac_template_free(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

/* HMAC, fetched by the first call that finds it missing; NULL when that fails (out of
 * memory), and the next call tries again. */
static EVP_MAC *hmac_fetched(void)
{
    EVP_MAC *alg = atomic_load_explicit(&hmac, memory_order_acquire);
    if (alg != NULL)
        return alg;
    pthread_mutex_lock(&hmac_lock);
    if ((alg = atomic_load_explicit(&hmac, memory_order_relaxed)) == NULL &&
        (alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL) {
        if (pthread_key_create(&hmac_template_key, hmac_template_free) == 0) {
            atomic_store_explicit(&hmac, alg, memory_order_release);
        } else {
            EVP_MAC_free(alg);
            alg = NULL;
        }
    }
    pthread_mutex_unlock(&hmac_lock);
    return alg;
}

/* A keyless HMAC-SHA256 context of alg, or NULL (out of memory). */
static EVP_MAC_CTX *hmac_keyless(EVP_MAC *alg)
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
    if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* A new HMAC-SHA256 context without a key, or NULL (out of memory). */
static EVP_MAC_CTX *hmac_new(void)
{
    EVP_MAC *alg = hmac_fetched();
    if (alg == NULL)
        return NULL;
    EVP_MAC_CTX *template = pthread_getspecific(hmac_template_key);
    if (template == NULL) {
        if ((template = hmac_keyless(alg)) == NULL)
            return NULL;
        if (pthread_setspecific(hmac_template_key, template) != 0) {
            EVP_MAC_CTX_free(template);
            return NULL;
        }
    }
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(template);
    /* OpenSSL 3.0.0 cannot copy a keyless HMAC context (fixed in 3.0.1): set one up whole */
    return ctx != NULL ? ctx : hmac_keyless(alg);
}

/* HMAC-SHA256 of the pieces, one after the other, into mac. Returns 0, or -1 when OpenSSL
 * fails (it allocates). */
static int hmac_sha256(const uint8_t *key, size_t key_len, const piece *pieces, size_t n, uint8_t mac[SIGN_MAC_LEN])
{
    EVP_MAC_CTX *ctx = hmac_new();
    /* a NULL key would mean "keep the key set before", not the empty key */
    int ok = ctx != NULL && EVP_MAC_init(ctx, key != NULL ? key : (const uint8_t *)"", key_len, NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = pieces[i].len == 0 || EVP_MAC_update(ctx, pieces[i].data, pieces[i].len) == 1;
    size_t got = 0;
    ok = ok && EVP_MAC_final(ctx, mac, &got, SIGN_MAC_LEN) == 1 && got == SIGN_MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

int sign_droplit(const uint8_t *secret, size_t secret_len, const uint8_t *body, size_t body_len,
                 char out[SIGN_DROPLIT_HEX_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    HG_ASSERT(secret != NULL || secret_len == 0);
    HG_ASSERT(body != NULL || body_len == 0);
    uint8_t mac[SIGN_MAC_LEN];
    out[0] = '\0';
    if (hmac_sha256(secret, secret_len, &(piece){body, body_len}, 1, mac) != 0)
        return -1;
    for (size_t i = 0; i < SIGN_MAC_LEN; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 0xf];
    }
    out[2 * SIGN_MAC_LEN] = '\0';
    return 0;
}

/* The key of these bytes as HMAC would use it. Returns 0, or -1 when hashing fails. */
static int key_from_bytes(const void *data, size_t len, sign_key *key)
{
    if (len <= SIGN_KEY_MAX) {
        if (len > 0)
            memcpy(key->bytes, data, len);
        key->len = len;
        return 0;
    }
    if (SHA256(data, len, key->bytes) != NULL) {
        key->len = SIGN_MAC_LEN;
        return 0;
    }
    return -1;
}

/* The key of whsec_'s base64 text: 0 when derived, 1 when text is not base64 (strict: the
 * standard alphabet, exact padding), -1 when hashing fails. */
static int key_from_base64(const char *text, size_t len, sign_key *key)
{
    uint8_t buf[BASE64_DECODED_MAX(CHUNK_TEXT)];
    size_t got;
    int st;
    if (len <= CHUNK_TEXT) {
        st = base64_decode(text, len, 0, buf, &got) != 0 ? 1 : key_from_bytes(buf, got, key);
        OPENSSL_cleanse(buf, sizeof buf);
        return st;
    }
    /* Longer than a chunk: as base64, more than SIGN_KEY_MAX bytes, which HMAC hashes. Decoding
     * chunk by chunk is decoding the whole as long as padding ends only the last chunk (whose
     * strict decoding also refuses a length no encoder makes). */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    st = ctx != NULL && EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) == 1 ? 0 : -1;
    for (size_t at = 0; st == 0 && at < len; at += CHUNK_TEXT) {
        size_t n = len - at < CHUNK_TEXT ? len - at : CHUNK_TEXT;
        if ((at + n < len && text[at + n - 1] == '=') || base64_decode(text + at, n, 0, buf, &got) != 0)
            st = 1;
        else if (EVP_DigestUpdate(ctx, buf, got) != 1)
            st = -1;
    }
    unsigned int md_len = 0;
    if (st == 0 && (EVP_DigestFinal_ex(ctx, key->bytes, &md_len) != 1 || md_len != SIGN_MAC_LEN))
        st = -1;
    if (st == 0)
        key->len = SIGN_MAC_LEN;
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

int sign_key_derive(const char *secret, size_t secret_len, sign_key *key)
{
    static const size_t prefix_len = sizeof SIGN_WHSEC_PREFIX - 1;
    HG_ASSERT(secret != NULL || secret_len == 0);
    int st = 1;
    if (secret_len >= prefix_len && memcmp(secret, SIGN_WHSEC_PREFIX, prefix_len) == 0)
        st = key_from_base64(secret + prefix_len, secret_len - prefix_len, key);
    if (st == 1) /* no prefix, or not base64 after it: the secret's own bytes */
        st = key_from_bytes(secret, secret_len, key);
    if (st != 0) {
        OPENSSL_cleanse(key->bytes, sizeof key->bytes);
        key->len = SIZE_MAX; /* sign_standard asserts on it: a failed derivation is not a key */
        return -1;
    }
    return 0;
}

size_t sign_timestamp_format(uint64_t seconds, char out[SIGN_TIMESTAMP_SIZE])
{
    int n = snprintf(out, SIGN_TIMESTAMP_SIZE, "%" PRIu64, seconds);
    HG_ASSERT(n > 0 && n < SIGN_TIMESTAMP_SIZE);
    return (size_t)n;
}

int sign_standard(const sign_key *key, const char *id, size_t id_len, uint64_t seconds, const uint8_t *body,
                  size_t body_len, char out[SIGN_STANDARD_SIZE])
{
    HG_ASSERT(key->len <= SIGN_KEY_MAX);
    /* the receiver splits id.timestamp.body at the dots: an id with one would sign another message */
    HG_ASSERT(id != NULL && id_len > 0 && memchr(id, '.', id_len) == NULL);
    HG_ASSERT(body != NULL || body_len == 0);
    char ts[SIGN_TIMESTAMP_SIZE];
    size_t ts_len = sign_timestamp_format(seconds, ts);
    const piece signed_text[] = {{id, id_len}, {".", 1}, {ts, ts_len}, {".", 1}, {body, body_len}};
    uint8_t mac[SIGN_MAC_LEN];
    out[0] = '\0';
    if (hmac_sha256(key->bytes, key->len, signed_text, sizeof signed_text / sizeof signed_text[0], mac) != 0)
        return -1;
    memcpy(out, "v1,", 3);
    size_t n = base64_encode(mac, SIGN_MAC_LEN, BASE64_PADDED, out + 3);
    HG_ASSERT(3 + n + 1 == SIGN_STANDARD_SIZE);
    return 0;
}
