/* auth: see auth.h. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "hg_assert.h"

/* SHA256() looks the algorithm up and allocates a context on every call (OpenSSL 3); a
 * token is hashed on every request, so the algorithm is fetched once and each thread
 * keeps its context. */
static EVP_MD *sha256;
static pthread_key_t sha256_ctx_key; /* each thread's EVP_MD_CTX, freed when the thread ends */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&sha256_ctx_key, sha256_ctx_free) != 0) {
        EVP_MD_free(sha256);
        sha256 = NULL; /* token_digest then takes the slow path */
    }
}

/* SHA-256 of prefix (prefix_len bytes, may be 0) followed by data. Cannot fail. */
static void digest2(const void *prefix, size_t prefix_len, const void *data, size_t len,
                    uint8_t digest[CONFIG_TOKEN_DIGEST_LEN])
{
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = sha256 != NULL ? pthread_getspecific(sha256_ctx_key) : NULL;
    if (sha256 != NULL && ctx == NULL && (ctx = EVP_MD_CTX_new()) != NULL)
        pthread_setspecific(sha256_ctx_key, ctx);
    if (ctx != NULL && EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, prefix, prefix_len) == 1 &&
        EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, digest, NULL) == 1)
        return;
    /* The slow path must answer even when nothing can be allocated: SHA256() allocates in
     * OpenSSL 3 and, when that fails, returns NULL with digest unwritten, and an unknown
     * token then matched whatever digest the stack held (a good token's, on a thread stack
     * glibc reused). The low-level functions use only the stack; OpenSSL 3 deprecates
     * them, hence the pragma. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, prefix, prefix_len);
    SHA256_Update(&c, data, len);
    SHA256_Final(digest, &c);
#pragma GCC diagnostic pop
}

/* The last token this thread digested, and its digest: a client sends the same token on
 * every call, and its SHA-256 cost more than the rest of authenticating it (about 2,500
 * instructions a request). The token is compared in constant time (CRYPTO_memcmp); a
 * digest depends on the token's bytes alone, so a reloaded configuration leaves it valid.
 * It holds the raw token, as the request did, until another replaces it. */
#define AUTH_CACHED_TOKEN_MAX 256 /* bytes: a longer token is digested every time */
static _Thread_local struct {
    size_t len; /* 0: empty */
    char token[AUTH_CACHED_TOKEN_MAX];
    uint8_t digest[CONFIG_TOKEN_DIGEST_LEN];
} last_token;

static void token_digest(const char *token, size_t len, uint8_t digest[CONFIG_TOKEN_DIGEST_LEN])
{
    HG_ASSERT(len > 0);
    if (len == last_token.len && CRYPTO_memcmp(last_token.token, token, len) == 0) {
        memcpy(digest, last_token.digest, CONFIG_TOKEN_DIGEST_LEN);
        return;
    }
    digest2("", 0, token, len, digest);
    if (len <= AUTH_CACHED_TOKEN_MAX) {
        memcpy(last_token.token, token, len);
        memcpy(last_token.digest, digest, CONFIG_TOKEN_DIGEST_LEN);
        last_token.len = len;
    }
}

void auth_scoped_digest(const auth_principal *who, const char *data, size_t len, uint8_t out[CONFIG_TOKEN_DIGEST_LEN])
{
    digest2(who->token->digest, CONFIG_TOKEN_DIGEST_LEN, data, len, out);
}

/* The token of tokens[] with this digest, or NULL; every entry is compared. */
static const config_token *digest_in(const config_token *tokens, size_t n,
                                     const uint8_t digest[CONFIG_TOKEN_DIGEST_LEN])
{
    const config_token *match = NULL;
    for (size_t i = 0; i < n; i++)
        if (CRYPTO_memcmp(tokens[i].digest, digest, CONFIG_TOKEN_DIGEST_LEN) == 0)
            match = &tokens[i];
    return match;
}

int auth_authenticate(const config *cfg, const char *header, size_t len, auth_principal *who, error *err)
{
    if (len >= 7 && strncasecmp(header, "Bearer ", 7) == 0)
        header += 7, len -= 7;
    if (header == NULL || len == 0) {
        error_set(err, ERROR_UNAUTHENTICATED, "Missing authorization token.");
        return -1;
    }
    if (len > AUTH_MAX_TOKEN_LEN) {
        error_set(err, ERROR_UNAUTHENTICATED, "Invalid authorization token.");
        return -1;
    }
    uint8_t digest[CONFIG_TOKEN_DIGEST_LEN];
    token_digest(header, len, digest);

    /* visit every token whatever matches; config validation makes tokens unique */
    int matched = 0;
    for (size_t a = 0; a < cfg->n_accounts; a++) {
        const config_account *acc = &cfg->accounts[a];
        const config_token *t;
        if ((t = digest_in(acc->tokens, acc->n_tokens, digest)) != NULL) {
            *who = (auth_principal){AUTH_ACCOUNT, acc, NULL, t};
            matched = 1;
        }
        for (size_t e = 0; e < acc->n_ecosystems; e++)
            if ((t = digest_in(acc->ecosystems[e].server_tokens, acc->ecosystems[e].n_server_tokens, digest)) != NULL) {
                *who = (auth_principal){AUTH_SERVER, acc, &acc->ecosystems[e], t};
                matched = 1;
            }
    }
    if (!matched) {
        error_set(err, ERROR_UNAUTHENTICATED, "Invalid authorization token.");
        return -1;
    }
    return 0;
}

const config_ecosystem *auth_ecosystem(const auth_principal *who, const char *id, error *err)
{
    const config_account *acc = who->account;
    for (size_t e = 0; e < acc->n_ecosystems; e++) {
        const config_ecosystem *eco = &acc->ecosystems[e];
        if (strcmp(eco->id, id) != 0 || eco->deleted)
            continue;
        if (who->kind == AUTH_SERVER && who->ecosystem != eco) {
            error_set(err, ERROR_PERMISSION_DENIED, "Token not permitted for this ecosystem.");
            return NULL;
        }
        return eco;
    }
    /* other accounts' ecosystems are indistinguishable from absent ones */
    error_set(err, ERROR_NOT_FOUND, "Ecosystem with id %s does not exist.", id);
    return NULL;
}

int auth_can_read(const auth_principal *who, const char *id)
{
    error ignored;
    error_clear(&ignored);
    return auth_ecosystem(who, id, &ignored) != NULL;
}
