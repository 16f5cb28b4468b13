/* test_auth: tokens in each form (raw, Bearer in any case, written as sha256:), absent and
 * unknown tokens, the token length bound, and which ecosystems account and server tokens
 * reach (own, sibling, deleted, another account's). */
#include "auth.h"
#include "oom.h"
#include "test.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ECO_A1 "C000000000000000000000a01"
#define ECO_A2 "C000000000000000000000a02"
#define ECO_A3 "C000000000000000000000a03" /* deleted */
#define ECO_B1 "C000000000000000000000b01"
#define ECO_NONE "C000000000000000000000fff"

#define LONG_TOKEN_LEN 4096

static char long_token[LONG_TOKEN_LEN + 1];

static config *make_config(void)
{
    /* "hashed-token" is configured only as its digest */
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)"hashed-token", 12, d);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    memset(long_token, 'L', LONG_TOKEN_LEN);
    long_token[LONG_TOKEN_LEN] = '\0';

    size_t cap = 16384;
    char *yaml = malloc(cap);
    if (yaml == NULL)
        return NULL;
    snprintf(yaml, cap,
             "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
             "accounts:\n"
             "  - id: acme\n"
             "    tokens: [ acme-token, \"sha256:%s\", %s ]\n"
             "    ecosystems:\n"
             "      - { id: " ECO_A1 ", server_tokens: [ srv-a1 ] }\n"
             "      - { id: " ECO_A2 ", server_tokens: [ srv-a2, srv-a2-bis ] }\n"
             "      - { id: " ECO_A3 ", deleted: true, server_tokens: [ srv-a3 ] }\n"
             "  - id: other\n"
             "    tokens: [ other-token ]\n"
             "    ecosystems:\n"
             "      - { id: " ECO_B1 ", server_tokens: [ srv-b1 ] }\n"
             "  - id: empty\n",
             hex, long_token);
    char err[CONFIG_ERROR_MAX];
    config *cfg = config_parse("auth.yaml", yaml, strlen(yaml), err);
    if (cfg == NULL)
        fprintf(stderr, "config: %s\n", err);
    free(yaml);
    return cfg;
}

static int authenticate(const config *cfg, const char *header, auth_principal *who, error *err)
{
    error_clear(err);
    memset(who, 0, sizeof *who);
    return auth_authenticate(cfg, header, header != NULL ? strlen(header) : 0, who, err);
}

static void expect_account(int line, const config *cfg, const char *header, const config_account *want)
{
    auth_principal who;
    error err;
    int rc = authenticate(cfg, header, &who, &err);
    int ok = rc == 0 && err.kind == ERROR_NONE && who.kind == AUTH_ACCOUNT && who.account == want &&
             who.ecosystem == NULL;
    if (!ok)
        fprintf(stderr, "test_auth.c:%d: \"%.40s\" not the account token of %s (rc %d, kind %d, reason %s)\n", line,
                header, want->id, rc, (int)err.kind, err.reason);
    CHECK(ok);
}

static void expect_server(int line, const config *cfg, const char *header, const config_account *acc,
                          const config_ecosystem *eco)
{
    auth_principal who;
    error err;
    int rc = authenticate(cfg, header, &who, &err);
    int ok = rc == 0 && err.kind == ERROR_NONE && who.kind == AUTH_SERVER && who.account == acc && who.ecosystem == eco;
    if (!ok)
        fprintf(stderr, "test_auth.c:%d: \"%s\" not the server token of %s (rc %d, kind %d)\n", line, header, eco->id,
                rc, (int)err.kind);
    CHECK(ok);
}

static void expect_unauthenticated(int line, const config *cfg, const char *header, size_t len, const char *reason)
{
    auth_principal who;
    error err;
    error_clear(&err);
    int rc = auth_authenticate(cfg, header, len, &who, &err);
    int ok = rc == -1 && err.kind == ERROR_UNAUTHENTICATED && strcmp(err.reason, reason) == 0 && err.n_params == 0;
    if (!ok)
        fprintf(stderr, "test_auth.c:%d: \"%.40s\": want 401 %s, got rc %d kind %d \"%s\"\n", line,
                header ? header : "(null)", reason, rc, (int)err.kind, err.reason);
    CHECK(ok);
}

#define ACCOUNT(h, acc) expect_account(__LINE__, cfg, h, acc)
#define SERVER(h, acc, eco) expect_server(__LINE__, cfg, h, acc, eco)
#define MISSING(h) expect_unauthenticated(__LINE__, cfg, h, strlen(h), "Missing authorization token.")
#define INVALID(h) expect_unauthenticated(__LINE__, cfg, h, strlen(h), "Invalid authorization token.")

static void test_authenticate(const config *cfg)
{
    const config_account *acme = &cfg->accounts[0], *other = &cfg->accounts[1];
    ACCOUNT("acme-token", acme);
    ACCOUNT("Bearer acme-token", acme);
    ACCOUNT("bearer acme-token", acme);
    ACCOUNT("BEARER acme-token", acme);
    ACCOUNT("bEaReR acme-token", acme);
    ACCOUNT("other-token", other);
    ACCOUNT("Bearer other-token", other);
    /* written in the file as sha256:<hex>, presented as the plain value */
    ACCOUNT("hashed-token", acme);
    ACCOUNT("Bearer hashed-token", acme);

    SERVER("srv-a1", acme, &acme->ecosystems[0]);
    SERVER("Bearer srv-a1", acme, &acme->ecosystems[0]);
    SERVER("srv-a2", acme, &acme->ecosystems[1]);
    SERVER("srv-a2-bis", acme, &acme->ecosystems[1]);
    SERVER("srv-a3", acme, &acme->ecosystems[2]);
    SERVER("srv-b1", other, &other->ecosystems[0]);

    expect_unauthenticated(__LINE__, cfg, NULL, 0, "Missing authorization token.");
    MISSING("");
    MISSING("Bearer ");
    expect_unauthenticated(__LINE__, cfg, "acme-token", 0, "Missing authorization token.");

    INVALID("nope");
    INVALID("acme-toke");
    INVALID("acme-tokenn");
    INVALID("ACME-TOKEN");
    INVALID("acme-token ");
    INVALID(" acme-token");
    INVALID("Bearer");
    INVALID("Bearer nope");
    INVALID("Beareracme-token");
    INVALID("Basic acme-token");
    INVALID("Bearer Bearer acme-token");
    INVALID("srv-a");
    /* the digest form is how the file spells it, not a token */
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)"hashed-token", 12, d);
    char written[8 + 2 * SHA256_DIGEST_LENGTH] = "sha256:";
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(written + 7 + 2 * i, 3, "%02x", d[i]);
    INVALID(written);

    /* len counts, not a NUL */
    auth_principal who;
    error err;
    error_clear(&err);
    CHECK(auth_authenticate(cfg, "acme-tokenXYZ", 10, &who, &err) == 0);
    CHECK(who.kind == AUTH_ACCOUNT && who.account == acme);
    error_clear(&err);
    CHECK(auth_authenticate(cfg, "Bearer srv-a1 trailing", 13, &who, &err) == 0);
    CHECK(who.kind == AUTH_SERVER && who.ecosystem == &acme->ecosystems[0]);
    expect_unauthenticated(__LINE__, cfg, "acme-token", 9, "Invalid authorization token.");

    /* AUTH_MAX_TOKEN_LEN bytes is a token; one more is not (and is not hashed into a match) */
    CHECK(AUTH_MAX_TOKEN_LEN == LONG_TOKEN_LEN);
    ACCOUNT(long_token, acme);
    char *bearer = malloc(LONG_TOKEN_LEN + 16);
    if (bearer != NULL) {
        snprintf(bearer, LONG_TOKEN_LEN + 16, "Bearer %s", long_token);
        ACCOUNT(bearer, acme);
        strcat(bearer, "L");
        INVALID(bearer);
        free(bearer);
    }
    char *longer = malloc(LONG_TOKEN_LEN + 2);
    if (longer != NULL) {
        memcpy(longer, long_token, LONG_TOKEN_LEN);
        longer[LONG_TOKEN_LEN] = 'L';
        longer[LONG_TOKEN_LEN + 1] = '\0';
        INVALID(longer);
        /* the same bytes, bounded by len to the first 4096: the configured token */
        error_clear(&err);
        CHECK(auth_authenticate(cfg, longer, LONG_TOKEN_LEN, &who, &err) == 0);
        free(longer);
    }
}

static void expect_found(int line, const auth_principal *who, const char *id, const config_ecosystem *want)
{
    error err;
    error_clear(&err);
    const config_ecosystem *got = auth_ecosystem(who, id, &err);
    int ok = got == want && err.kind == ERROR_NONE && auth_can_read(who, id) == 1;
    if (!ok)
        fprintf(stderr, "test_auth.c:%d: %s not found (kind %d: %s)\n", line, id, (int)err.kind, err.reason);
    CHECK(ok);
}

static void expect_not_found(int line, const auth_principal *who, const char *id)
{
    error err;
    error_clear(&err);
    char want[ERROR_MESSAGE_MAX];
    snprintf(want, sizeof want, "Ecosystem with id %s does not exist.", id);
    const config_ecosystem *got = auth_ecosystem(who, id, &err);
    int ok = got == NULL && err.kind == ERROR_NOT_FOUND && strcmp(err.reason, want) == 0 && err.n_params == 0 &&
             auth_can_read(who, id) == 0;
    if (!ok)
        fprintf(stderr, "test_auth.c:%d: %s: want 404 \"%s\", got kind %d \"%s\"\n", line, id, want, (int)err.kind,
                err.reason);
    CHECK(ok);
}

static void expect_denied(int line, const auth_principal *who, const char *id)
{
    error err;
    error_clear(&err);
    const config_ecosystem *got = auth_ecosystem(who, id, &err);
    int ok = got == NULL && err.kind == ERROR_PERMISSION_DENIED && err.reason[0] != '\0' &&
             auth_can_read(who, id) == 0;
    if (!ok)
        fprintf(stderr, "test_auth.c:%d: %s: want 403, got kind %d \"%s\"\n", line, id, (int)err.kind, err.reason);
    CHECK(ok);
}

#define FOUND(who, id, eco) expect_found(__LINE__, who, id, eco)
#define NOT_FOUND(who, id) expect_not_found(__LINE__, who, id)
#define DENIED(who, id) expect_denied(__LINE__, who, id)

static void test_ecosystems(const config *cfg)
{
    const config_account *acme = &cfg->accounts[0];
    auth_principal who;
    error err;

    /* an account token: every live ecosystem of its account, nothing else */
    CHECK(authenticate(cfg, "acme-token", &who, &err) == 0);
    FOUND(&who, ECO_A1, &acme->ecosystems[0]);
    FOUND(&who, ECO_A2, &acme->ecosystems[1]);
    NOT_FOUND(&who, ECO_A3); /* deleted */
    NOT_FOUND(&who, ECO_B1); /* another account's: indistinguishable from absent */
    NOT_FOUND(&who, ECO_NONE);
    NOT_FOUND(&who, "C000000000000000000000A01"); /* ids are matched exactly */
    NOT_FOUND(&who, "not-an-id");
    NOT_FOUND(&who, "");

    /* a server token: its one ecosystem */
    CHECK(authenticate(cfg, "srv-a1", &who, &err) == 0);
    FOUND(&who, ECO_A1, &acme->ecosystems[0]);
    DENIED(&who, ECO_A2);    /* a sibling of its own account */
    NOT_FOUND(&who, ECO_B1); /* another account's */
    NOT_FOUND(&who, ECO_NONE);
    CHECK(authenticate(cfg, "srv-a2-bis", &who, &err) == 0);
    FOUND(&who, ECO_A2, &acme->ecosystems[1]);
    DENIED(&who, ECO_A1);

    /* the server token of a deleted ecosystem authenticates, but its ecosystem is gone */
    CHECK(authenticate(cfg, "srv-a3", &who, &err) == 0);
    NOT_FOUND(&who, ECO_A3);

    /* the other account sees none of acme's */
    CHECK(authenticate(cfg, "other-token", &who, &err) == 0);
    FOUND(&who, ECO_B1, &cfg->accounts[1].ecosystems[0]);
    NOT_FOUND(&who, ECO_A1);
    NOT_FOUND(&who, ECO_A3);
    CHECK(authenticate(cfg, "srv-b1", &who, &err) == 0);
    NOT_FOUND(&who, ECO_A1);
    FOUND(&who, ECO_B1, &cfg->accounts[1].ecosystems[0]);

    /* an account without ecosystems */
    auth_principal empty = {AUTH_ACCOUNT, &cfg->accounts[2], NULL, NULL};
    NOT_FOUND(&empty, ECO_A1);
}

/* Out of memory where OpenSSL can hash nothing: a new thread (no digest context yet) with
 * every allocation failing. A token must then be refused or taken for exactly what it is,
 * never for another: the digest must not be whatever the stack held. glibc hands a new
 * thread the cached stack of one that just ended, so the first thread authenticates a good
 * token at the same depth, leaving its digest where the second one's would go. Also
 * auth_scoped_digest, which names Idempotency-Keys: the same input, the same name. */
typedef struct auth_try {
    const config *cfg;
    const char *token;
    int out_of_memory; /* fail every allocation while authenticating */
    int rc, injected;
    auth_principal who;
    uint8_t scoped[CONFIG_TOKEN_DIGEST_LEN];
} auth_try;

static void *auth_thread(void *arg)
{
    auth_try *t = arg;
    error err;
    if (t->out_of_memory)
        oom_arm_persistent(1);
    t->rc = authenticate(t->cfg, t->token, &t->who, &err);
    if (t->rc == 0)
        auth_scoped_digest(&t->who, "key", 3, t->scoped);
    if (t->out_of_memory)
        t->injected = oom_disarm();
    return NULL;
}

static void auth_in_thread(auth_try *t)
{
    pthread_t th;
    CHECK(pthread_create(&th, NULL, auth_thread, t) == 0);
    pthread_join(th, NULL);
}

static void test_out_of_memory(const config *cfg)
{
    if (!oom_enabled())
        return;
    static const char *const tokens[] = {"acme-token", "srv-a1", "other-token"};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        auth_try good = {.cfg = cfg, .token = tokens[i]};
        auth_in_thread(&good);
        CHECK(good.rc == 0);

        auth_try wrong = {.cfg = cfg, .token = "not-a-configured-token", .out_of_memory = 1};
        auth_in_thread(&wrong);
        CHECK(wrong.injected == 1);
        if (wrong.rc == 0)
            fprintf(stderr, "out of memory, an unknown token authenticated as account %s\n", wrong.who.account->id);
        CHECK(wrong.rc == -1);

        auth_try same = {.cfg = cfg, .token = tokens[i], .out_of_memory = 1};
        auth_in_thread(&same);
        CHECK(same.injected == 1);
        CHECK(same.rc == -1 || (same.who.token == good.who.token &&
                                memcmp(same.scoped, good.scoped, CONFIG_TOKEN_DIGEST_LEN) == 0));
    }
}

/* A configured digest that differs from the presented token's in one byte only (the
 * last, the first, one in the middle) is another token: the whole digest is compared. */
static void test_whole_digest_compared(void)
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)"near-token", 10, d);
    const int positions[] = {SHA256_DIGEST_LENGTH - 1, 0, 13};
    for (int k = -1; k < 3; k++) {
        uint8_t near[SHA256_DIGEST_LENGTH];
        memcpy(near, d, sizeof near);
        if (k >= 0)
            near[positions[k]] ^= 0x01;
        char yaml[512];
        int n = snprintf(yaml, sizeof yaml,
                         "server: { listen: [ {address: 127.0.0.1, port: 1} ] }\n"
                         "accounts: [ { id: acme, tokens: [ \"sha256:");
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            n += snprintf(yaml + n, sizeof yaml - (size_t)n, "%02x", near[i]);
        snprintf(yaml + n, sizeof yaml - (size_t)n, "\" ] } ]\n");
        char err[CONFIG_ERROR_MAX];
        config *c = config_parse("near.yaml", yaml, strlen(yaml), err);
        CHECK(c != NULL);
        if (c == NULL)
            continue;
        auth_principal who;
        error e;
        error_clear(&e);
        int rc = auth_authenticate(c, "near-token", 10, &who, &e);
        if (k < 0)
            CHECK(rc == 0); /* the control: the exact digest is the token */
        else
            CHECK(rc == -1 && e.kind == ERROR_UNAUTHENTICATED);
        config_destroy(c);
    }
}

/* The last token's digest is reused: the same token again is the same principal; a token
 * of the same length that differs in one byte, a prefix of it, or a longer one, is digested
 * and judged on its own, whatever came before. */
static void test_last_token_cache(const config *cfg)
{
    auth_principal who;
    error err;
    for (int round = 0; round < 2; round++) {
        CHECK(authenticate(cfg, "srv-a2", &who, &err) == 0 && who.kind == AUTH_SERVER &&
              who.ecosystem == &cfg->accounts[0].ecosystems[1]);
        CHECK(authenticate(cfg, "srv-a2", &who, &err) == 0 && who.kind == AUTH_SERVER &&
              who.ecosystem == &cfg->accounts[0].ecosystems[1]);
        CHECK(authenticate(cfg, "srv-a3", &who, &err) == 0 && who.ecosystem == &cfg->accounts[0].ecosystems[2]);
        CHECK(authenticate(cfg, "srv-a9", &who, &err) == -1 && err.kind == ERROR_UNAUTHENTICATED);
        CHECK(authenticate(cfg, "srv-a", &who, &err) == -1 && err.kind == ERROR_UNAUTHENTICATED);
        CHECK(authenticate(cfg, "srv-a2", &who, &err) == 0 && who.ecosystem == &cfg->accounts[0].ecosystems[1]);
        /* longer than the cache holds: judged every time */
        CHECK(authenticate(cfg, long_token, &who, &err) == 0 && who.kind == AUTH_ACCOUNT &&
              who.account == &cfg->accounts[0]);
        CHECK(authenticate(cfg, long_token, &who, &err) == 0 && who.account == &cfg->accounts[0]);
        long_token[LONG_TOKEN_LEN - 1] = 'M';
        CHECK(authenticate(cfg, long_token, &who, &err) == -1);
        long_token[LONG_TOKEN_LEN - 1] = 'L';
    }
}

int main(void)
{
    test_whole_digest_compared();
    config *cfg = make_config();
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return test_exit_code();
    CHECK(cfg->n_accounts == 3);
    if (cfg->n_accounts == 3 && cfg->accounts[0].n_ecosystems == 3 && cfg->accounts[1].n_ecosystems == 1) {
        test_authenticate(cfg);
        test_last_token_cache(cfg);
        test_ecosystems(cfg);
        test_out_of_memory(cfg);
    }
    config_destroy(cfg);
    return test_exit_code();
}
