/* test_sign: known answers for both signatures, every expected value computed outside this
 * code: the Standard Webhooks libraries' published vector (checked again with Python), and
 * the rest with /usr/bin/python3's hmac, hashlib and base64 (Droplit's also with
 * `printf %s BODY | openssl dgst -sha256 -hmac SECRET`). Keys: whsec_ decoded, raw
 * secrets, the fallback when whsec_'s rest is not base64, keys longer than HMAC's block
 * (short and chunk-decoded). Bodies: empty and with NUL bytes. An id with a '.' aborts.
 * Running out of memory inside OpenSSL gives -1 and an empty value, and leaks nothing. */
#include "sign.h"
#include "oom.h"
#include "test.h"

#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY "{\"a\":1}"

static const char *droplit(const char *secret, size_t secret_len, const char *body, size_t body_len)
{
    static char out[SIGN_DROPLIT_HEX_SIZE];
    memset(out, 'x', sizeof out);
    if (sign_droplit((const uint8_t *)secret, secret_len, (const uint8_t *)body, body_len, out) != 0)
        return "(failed)";
    CHECK(strlen(out) == SIGN_DROPLIT_HEX_SIZE - 1);
    return out;
}

/* The webhook-signature of body under secret, id and seconds. */
static const char *standard_of(const char *secret, size_t secret_len, const char *id, uint64_t seconds,
                               const char *body, size_t body_len)
{
    static char out[SIGN_STANDARD_SIZE];
    sign_key key;
    memset(out, 'x', sizeof out);
    if (sign_key_derive(secret, secret_len, &key) != 0)
        return "(no key)";
    if (sign_standard(&key, id, strlen(id), seconds, (const uint8_t *)body, body_len, out) != 0)
        return "(failed)";
    CHECK(strlen(out) == SIGN_STANDARD_SIZE - 1);
    return out;
}

/* The usual message (msg_1, 1700000000, BODY) under secret. */
static const char *standard(const char *secret)
{
    return standard_of(secret, strlen(secret), "msg_1", 1700000000, BODY, strlen(BODY));
}

static void test_droplit(void)
{
    /* printf %s '{"items":[]}' | openssl dgst -sha256 -hmac s3cret (python's hmac agrees) */
    CHECK_STR(droplit("s3cret", 6, "{\"items\":[]}", 12),
              "2d2f319f16f511c23760695772aed7442b18573e28de1f5bd2a96b85e96141aa");
    /* the rest: hmac.new(secret, body, hashlib.sha256).hexdigest() */
    CHECK_STR(droplit("s3cret", 6, "", 0), "91dfac70c5348b04e1babb8b421ac92cec08b565b49ca16130dccb72503647b7");
    CHECK_STR(droplit("s3cret", 6, NULL, 0), "91dfac70c5348b04e1babb8b421ac92cec08b565b49ca16130dccb72503647b7");
    CHECK_STR(droplit("s3cret", 6, "a\0b\0", 4), "a110bf0b271e61dce542f1af2a9d7dd7bdb98361904ab205a9d65a2d63339b67");
    CHECK_STR(droplit("", 0, "{\"items\":[]}", 12), "33ecb438981aab6e0fb8a5b8f59837b14a173545459fdecda5fae9ebe35d9b96");
    char k100[100];
    memset(k100, 'k', sizeof k100); /* b"k" * 100: longer than HMAC's block */
    CHECK_STR(droplit(k100, sizeof k100, "{\"items\":[]}", 12),
              "f1aa7c45be959aacf6bf536b5822aaa38122176e7131ac0817ce31a992274c69");
    /* the secret's bytes as given, no whsec_ decoding for Droplit:
     * printf %s x | openssl dgst -sha256 -hmac whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw */
    CHECK_STR(droplit("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 38, "x", 1),
              "4f0b29c40dc93e66c917a48060e6fc06b97bd81b78e87decaf514261dc669ac3");
}

/* "whsec_" + the standard base64 of n bytes (i * 7 + 3) & 255, as Python builds them:
 * base64.b64encode(bytes((i * 7 + 3) & 255 for i in range(n))). */
static const char *whsec_of(size_t n)
{
    static char secret[6 + BASE64_ENCODED_LEN(400) + 1];
    uint8_t key[400];
    CHECK(n <= sizeof key);
    for (size_t i = 0; i < n; i++)
        key[i] = (uint8_t)((i * 7 + 3) & 255);
    memcpy(secret, "whsec_", 6);
    base64_encode(key, n, BASE64_PADDED, secret + 6);
    return secret;
}

static void test_standard(void)
{
    /* the vector of the Standard Webhooks libraries' tests; Python's hmac gives the same */
    const char *body = "{\"test\": 2432232314}";
    CHECK_STR(standard_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 38, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                          body, strlen(body)),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

    /* below: "v1," + base64.b64encode(hmac.new(key, id + b"." + ts + b"." + body,
     * hashlib.sha256).digest()), key = base64.b64decode(rest) for a whsec_ secret, else the
     * secret's bytes */
    CHECK_STR(
        standard_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 38, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "", 0),
        "v1,v48jdbgvh29KJz2Qc+ghw8G6vG3nAKnujWBg8oM/62A=");
    CHECK_STR(standard_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 38, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                          "a\0b\0", 4),
              "v1,YVywBGdgeGEtw66oIBUfYIW1PluSVANkdoqn2AyNXxE=");
    CHECK_STR(standard("my-plain-secret"), "v1,4nV8PLfN7/K3Rx+3q1wV8e8FdL/K55YKadvjwCBGlN0=");
    /* not base64 after whsec_: the whole secret's bytes are the key */
    CHECK_STR(standard("whsec_not*base64!"), "v1,yjRvbq8lTUTkQ5HRVUCJP+pi4trzxHwObe+/4m3kcw8=");
    CHECK_STR(standard_of("my-plain-secret", 15, "msg_1", 0, "x", 1),
              "v1,kxLlJmnX1MjgtSmlVtGAX4vkupAaw26B0BqER+/Uj5w=");
    CHECK_STR(standard_of("my-plain-secret", 15, "msg_1", UINT64_MAX, "x", 1),
              "v1,Xl0zso8cJQG/xS4uVDDA2nmaaP5Z9Pv/ABsqYpT/SbA=");
}

/* Keys around SIGN_KEY_MAX (HMAC's block, past which the key is hashed) and around the
 * 256-character chunks a long whsec_ secret is decoded in. */
static void test_long_keys(void)
{
    static const struct {
        size_t n;
        const char *want;
    } cases[] = {
        {64, "v1,eMyWSWC15Hl930RhQgD4kPeNRiuhRv4/bgRxqMcRjIU="},  /* 88 characters, the largest unhashed */
        {65, "v1,txLtzc9hNvSR2dsMZDB5Ur8G11xk2/MoyjmScVDNXtA="},  /* hashed */
        {100, "v1,7d+LUAwBcUh8k3UsCTeogyCmfC5z3x/FD4MGu49wxlo="}, /* 136 characters */
        {192, "v1,l4Agm8YY69tlIg060LCR+Sn1319eSiR6lqup05z1mpM="}, /* 256: exactly one chunk */
        {193, "v1,M02zIoSe5YAZbp0foCOhUxxSPvDzgdfBUmiqyIbEw+I="}, /* 260, a padded second chunk */
        {195, "v1,ZvIiIFSI/3vVPmz829eSyEAbGH7Yem+m8SejYQzUQBo="}, /* 260, unpadded */
        {300, "v1,HVcNIhH5NdtyFlfMe2MQ8ORgBeo10jX9tlAHZR5Kdj0="}, /* 400 */
        {301, "v1,rTFlLISr5MyOBQQp9aiNwJK+SoX1iNMORbFM5sZocvE="}, /* 404, "==" */
        {302, "v1,w6QPB6KcRf1RkqlCWpz9wHCmxZk9sJONTcWEMnsn+p0="}, /* 404, "=" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = standard(whsec_of(cases[i].n));
        if (strcmp(got, cases[i].want) != 0) {
            fprintf(stderr, "test_sign.c: whsec_ of %zu bytes gave %s, want %s\n", cases[i].n, got, cases[i].want);
            test_failures++;
        }
    }

    /* '=' ending the first chunk of a long one is padding in the middle: not base64, so the
     * whole secret (406 bytes, hashed) is the key; Python's b64decode refuses it too */
    static char bad[6 + 400 + 1];
    strcpy(bad, whsec_of(300));
    bad[6 + 255] = '=';
    CHECK_STR(standard(bad), "v1,Mj8ANNLsZbF3hdMFeDGhFLaVwpqhIZLoTn58MD7tOQ4=");
    /* a length no encoder makes, long and short: the secret's bytes */
    char odd[6 + 401 + 1];
    strcpy(odd, whsec_of(300));
    strcat(odd, "A");
    sign_key a, b;
    CHECK(sign_key_derive(odd, strlen(odd), &a) == 0 && a.len == SIGN_MAC_LEN);
    CHECK(sign_key_derive("whsec_QUJD", 10, &a) == 0 && a.len == 3 && memcmp(a.bytes, "ABC", 3) == 0);
    CHECK(sign_key_derive("whsec_QUJDR", 11, &b) == 0 && b.len == 11 && memcmp(b.bytes, "whsec_QUJDR", 11) == 0);
    CHECK(sign_key_derive("whsec_", 6, &a) == 0 && a.len == 0); /* base64 of nothing */
    CHECK(sign_key_derive("whsec", 5, &a) == 0 && a.len == 5);  /* no prefix */
    CHECK(sign_key_derive("", 0, &a) == 0 && a.len == 0);

    /* a raw secret longer than the block: python's hmac hashes b"k" * 100 the same way */
    char k100[101];
    memset(k100, 'k', 100);
    k100[100] = '\0';
    CHECK_STR(standard(k100), "v1,nOEL65OVmG3ipi25ZZSLPAi8ZFjnkwl652Z0M7owA/A=");
}

/* The key sign_key_derive should make of a whsec_ secret longer than HMAC's block, by
 * decoding the whole text at once: the SHA-256 of the decoded bytes, or of the secret. */
static void reference_key(const char *secret, size_t len, uint8_t want[SIGN_MAC_LEN])
{
    static uint8_t decoded[BASE64_DECODED_MAX(6 + 404)];
    size_t n;
    if (base64_decode(secret + 6, len - 6, 0, decoded, &n) == 0)
        SHA256(decoded, n, want);
    else
        SHA256((const uint8_t *)secret, len, want);
}

/* Chunk by chunk is the whole: each of a few characters at every position of a 404-character
 * whsec_ text (two chunks and a bit, padded), and every length from 257 characters up, give
 * the key of decoding the whole text (or the secret's bytes when that fails). */
static void test_chunks(void)
{
    static const char subst[] = {'=', '-', '_', ' ', 'A', '/'};
    static char secret[6 + 404 + 1];
    sign_key key;
    uint8_t want[SIGN_MAC_LEN];
    int bad = 0;
    for (size_t at = 6; at < 6 + 404; at++)
        for (size_t s = 0; s < sizeof subst; s++) {
            strcpy(secret, whsec_of(301));
            secret[at] = subst[s];
            reference_key(secret, strlen(secret), want);
            if (sign_key_derive(secret, strlen(secret), &key) != 0 || key.len != SIGN_MAC_LEN ||
                memcmp(key.bytes, want, SIGN_MAC_LEN) != 0)
                bad++;
        }
    for (size_t len = 6 + 257; len <= 6 + 404; len++) {
        strcpy(secret, whsec_of(301));
        reference_key(secret, len, want);
        if (sign_key_derive(secret, len, &key) != 0 || key.len != SIGN_MAC_LEN ||
            memcmp(key.bytes, want, SIGN_MAC_LEN) != 0)
            bad++;
    }
    if (bad) {
        fprintf(stderr, "test_sign.c: %d long whsec_ secret(s) derived another key than decoding the whole\n", bad);
        test_failures++;
    }
}

static void test_timestamp(void)
{
    char ts[SIGN_TIMESTAMP_SIZE];
    CHECK(sign_timestamp_format(0, ts) == 1 && strcmp(ts, "0") == 0);
    CHECK(sign_timestamp_format(1614265330, ts) == 10 && strcmp(ts, "1614265330") == 0);
    CHECK(sign_timestamp_format(UINT64_MAX, ts) == 20 && strcmp(ts, "18446744073709551615") == 0);
}

/* sign_standard with this id in a child: 1 when it aborted (the boundary refused it). */
static int refused(const char *id, size_t id_len)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* the assertion's message is expected */
        sign_key key;
        char out[SIGN_STANDARD_SIZE];
        if (sign_key_derive("s", 1, &key) == 0)
            sign_standard(&key, id, id_len, 1, (const uint8_t *)"x", 1, out);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_refusals(void)
{
    CHECK(!refused("msg_1", 5));
    CHECK(refused("msg.1", 5));
    CHECK(refused("msg_1.", 6));
    CHECK(refused("", 0));
    /* a key whose derivation failed is not a key */
    pid_t pid = fork();
    if (pid == 0) {
        close(2);
        sign_key key = {.len = SIZE_MAX};
        char out[SIGN_STANDARD_SIZE];
        sign_standard(&key, "m", 1, 1, NULL, 0, out);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

/* ---- out of memory -------------------------------------------------------------------- */

typedef struct sign_oom {
    const char *secret;
    sign_key key;
    char out[SIGN_STANDARD_SIZE > SIGN_DROPLIT_HEX_SIZE ? SIGN_STANDARD_SIZE : SIGN_DROPLIT_HEX_SIZE];
    const char *want;
} sign_oom;

static int oom_droplit(void *ctx)
{
    sign_oom *o = ctx;
    memset(o->out, 'x', sizeof o->out);
    return sign_droplit((const uint8_t *)"s3cret", 6, (const uint8_t *)"{\"items\":[]}", 12, o->out);
}

static int oom_derive(void *ctx)
{
    sign_oom *o = ctx;
    memset(&o->key, 0xaa, sizeof o->key);
    return sign_key_derive(o->secret, strlen(o->secret), &o->key);
}

static void oom_derive_check(void *ctx, int ok)
{
    sign_oom *o = ctx;
    if (!ok) {
        CHECK(o->key.len == SIZE_MAX);
        return;
    }
    memset(o->out, 'x', sizeof o->out);
    CHECK(sign_standard(&o->key, "msg_1", 5, 1700000000, (const uint8_t *)BODY, strlen(BODY), o->out) == 0);
    CHECK_STR(o->out, o->want);
}

static int oom_standard(void *ctx)
{
    sign_oom *o = ctx;
    memset(o->out, 'x', sizeof o->out);
    return sign_standard(&o->key, "msg_1", 5, 1700000000, (const uint8_t *)BODY, strlen(BODY), o->out);
}

/* Either the right value or, failed, an empty string: never a stale or partial one. */
static void oom_out_check(void *ctx, int ok)
{
    sign_oom *o = ctx;
    CHECK_STR(o->out, ok ? o->want : "");
}

static void test_out_of_memory(void)
{
    static char long_secret[6 + 400 + 1];
    strcpy(long_secret, whsec_of(300));
    sign_oom droplit_o = {.want = "2d2f319f16f511c23760695772aed7442b18573e28de1f5bd2a96b85e96141aa"};
    sign_oom standard_o = {.want = "v1,4nV8PLfN7/K3Rx+3q1wV8e8FdL/K55YKadvjwCBGlN0="};
    CHECK(sign_key_derive("my-plain-secret", 15, &standard_o.key) == 0);
    sign_oom long_o = {.secret = long_secret, .want = "v1,HVcNIhH5NdtyFlfMe2MQ8ORgBeo10jX9tlAHZR5Kdj0="};
    static char raw_long[101];
    memset(raw_long, 'k', 100);
    sign_oom raw_o = {.secret = raw_long, .want = "v1,nOEL65OVmG3ipi25ZZSLPAi8ZFjnkwl652Z0M7owA/A="};
    oom_op ops[] = {
        {"sign_droplit", &droplit_o, NULL, oom_droplit, oom_out_check, NULL},
        {"sign_standard", &standard_o, NULL, oom_standard, oom_out_check, NULL},
        {"sign_key_derive long whsec_", &long_o, NULL, oom_derive, oom_derive_check, NULL},
        {"sign_key_derive long raw", &raw_o, NULL, oom_derive, oom_derive_check, NULL},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        CHECK(oom_loop(&ops[i]) == 0);
        CHECK(oom_loop_persistent(&ops[i]) == 0);
    }
}

int main(void)
{
    test_droplit();
    test_standard();
    test_long_keys();
    test_chunks();
    test_timestamp();
    test_refusals();
    test_out_of_memory();
    return test_exit_code();
}
