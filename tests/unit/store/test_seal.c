/* test_seal: webhook secrets sealed with the server's key. Round trips of secrets of every
 * shape up to the largest; a fresh nonce per seal; any damaged byte, another webhook's id
 * (associated data) or a key the ring lacks refuses to open and leaves no plain text
 * behind; key ids as the README tells operators to compute them; keyrings with previous
 * keys (rotation); the key file checks (missing, size, mode, zeros); seal_webhook; and
 * out-of-memory loops over every operation that allocates. */
#define _GNU_SOURCE /* memmem */
#include "seal.h"
#include "oom.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64]; /* the mkdtemp directory */

static void key_make(uint8_t key[SEAL_KEY_LEN])
{
    CHECK(RAND_bytes(key, SEAL_KEY_LEN) == 1);
}

static objectid id_make(uint8_t fill)
{
    objectid id;
    memset(id.bytes, fill, OBJECTID_LEN);
    return id;
}

/* A ring with `current` as its current key and the n previous ones. */
static seal_keyring *ring_of(const uint8_t *current, const uint8_t (*previous)[SEAL_KEY_LEN], size_t n)
{
    seal_keyring *r = seal_keyring_create();
    CHECK(r != NULL);
    if (r == NULL)
        return NULL;
    if (current != NULL)
        CHECK(seal_keyring_add(r, current, 1) == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(seal_keyring_add(r, previous[i], 0) == 0);
    return r;
}

/* Seals secret for id under r and opens it again: 1 when it comes back byte for byte. */
static int round_trip(const seal_keyring *r, const objectid *id, const char *secret, size_t len)
{
    uint8_t *sealed = malloc(seal_sealed_len(len));
    char *out = malloc(len + 1);
    size_t out_len = 0;
    int ok = sealed != NULL && out != NULL && seal_secret(r, id, secret, len, sealed) == 0 &&
             seal_open(r, id, sealed, seal_sealed_len(len), out, &out_len) == SEAL_OK && out_len == len &&
             memcmp(out, secret, len) == 0 && out[len] == '\0' &&
             /* the ciphertext is not the secret (a secret of 8 bytes or more, by chance never) */
             (len < 8 || memmem(sealed, seal_sealed_len(len), secret, len) == NULL);
    free(sealed);
    free(out);
    return ok;
}

static void test_round_trip(void)
{
    uint8_t key[SEAL_KEY_LEN];
    key_make(key);
    seal_keyring *r = ring_of(key, NULL, 0);
    objectid id = id_make(0x5a);
    static const char *const secrets[] = {"", "s", "s3cret", "ключ-🔑", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        CHECK(round_trip(r, &id, secrets[i], strlen(secrets[i])));
    char *big = malloc(SEAL_MAX_SECRET + 1);
    memset(big, 'k', SEAL_MAX_SECRET);
    big[SEAL_MAX_SECRET] = '\0';
    CHECK(round_trip(r, &id, big, SEAL_MAX_SECRET));
    free(big);
    CHECK(seal_sealed_len(6) == 6 + SEAL_OVERHEAD && SEAL_OVERHEAD == 33);
    seal_keyring_destroy(r);
}

/* Two seals of the same secret for the same webhook differ (their nonces), and both open. */
static void test_fresh_nonce(void)
{
    uint8_t key[SEAL_KEY_LEN];
    key_make(key);
    seal_keyring *r = ring_of(key, NULL, 0);
    objectid id = id_make(1);
    uint8_t a[6 + SEAL_OVERHEAD], b[6 + SEAL_OVERHEAD];
    CHECK(seal_secret(r, &id, "s3cret", 6, a) == 0 && seal_secret(r, &id, "s3cret", 6, b) == 0);
    CHECK(memcmp(a + 1 + SEAL_KEY_ID_LEN, b + 1 + SEAL_KEY_ID_LEN, SEAL_NONCE_LEN) != 0);
    CHECK(memcmp(a + SEAL_HEADER_LEN, b + SEAL_HEADER_LEN, 6 + SEAL_TAG_LEN) != 0);
    char out[7];
    size_t n;
    CHECK(seal_open(r, &id, a, sizeof a, out, &n) == SEAL_OK && n == 6 && strcmp(out, "s3cret") == 0);
    CHECK(seal_open(r, &id, b, sizeof b, out, &n) == SEAL_OK && n == 6 && strcmp(out, "s3cret") == 0);
    seal_keyring_destroy(r);
}

/* Every single damaged byte is refused, as is every cut, another webhook's id and a key the
 * ring does not hold; a refusal leaves none of the secret in the output. */
static void test_refusals(void)
{
    uint8_t key[SEAL_KEY_LEN], other[SEAL_KEY_LEN];
    key_make(key);
    key_make(other);
    seal_keyring *r = ring_of(key, NULL, 0), *stranger = ring_of(other, NULL, 0);
    objectid id = id_make(7), id2 = id_make(7);
    id2.bytes[OBJECTID_LEN - 1] ^= 1;
    const char secret[] = "a secret to keep";
    size_t len = sizeof secret - 1;
    uint8_t sealed[sizeof secret - 1 + SEAL_OVERHEAD];
    CHECK(seal_secret(r, &id, secret, len, sealed) == 0);
    char out[sizeof secret];
    size_t n;
    for (size_t i = 0; i < sizeof sealed; i++) {
        for (int bit = 0; bit < 8; bit++) {
            sealed[i] ^= (uint8_t)(1u << bit);
            memset(out, 'a', sizeof out); /* an 'a' is the secret's first byte: a leak would show */
            seal_status st = seal_open(r, &id, sealed, sizeof sealed, out, &n);
            seal_status want = i == 0 ? SEAL_MALFORMED : i <= SEAL_KEY_ID_LEN ? SEAL_UNKNOWN_KEY : SEAL_FORGED;
            if (st != want) {
                fprintf(stderr, "byte %zu bit %d: status %d, want %d\n", i, bit, (int)st, (int)want);
                test_failures++;
            }
            if (st == SEAL_FORGED && memmem(out, sizeof out, secret + 1, len - 1) != NULL) {
                fprintf(stderr, "byte %zu bit %d: the refused open left the secret behind\n", i, bit);
                test_failures++;
            }
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t cut = 0; cut < sizeof sealed; cut++)
        CHECK(seal_open(r, &id, sealed, cut, out, &n) != SEAL_OK);
    CHECK(seal_open(r, &id2, sealed, sizeof sealed, out, &n) == SEAL_FORGED); /* moved to another webhook */
    CHECK(seal_open(stranger, &id, sealed, sizeof sealed, out, &n) == SEAL_UNKNOWN_KEY);
    CHECK(seal_open(NULL, &id, sealed, sizeof sealed, out, &n) == SEAL_UNKNOWN_KEY);
    CHECK(seal_open(r, &id, sealed, sizeof sealed, out, &n) == SEAL_OK && strcmp(out, secret) == 0);
    seal_keyring_destroy(r);
    seal_keyring_destroy(stranger);
}

/* Key ids are what the README's shell line computes: SHA-256 of the prefix and the key. */
static void test_key_ids(void)
{
    uint8_t key[SEAL_KEY_LEN], id[SEAL_KEY_ID_LEN];
    key_make(key);
    seal_key_id(key, id);
    const char prefix[] = "hookgate-secret-key-id:";
    uint8_t in[sizeof prefix - 1 + SEAL_KEY_LEN], digest[SHA256_DIGEST_LENGTH];
    memcpy(in, prefix, sizeof prefix - 1);
    memcpy(in + sizeof prefix - 1, key, SEAL_KEY_LEN);
    SHA256(in, sizeof in, digest);
    CHECK(memcmp(id, digest, SEAL_KEY_ID_LEN) == 0);
    char text[SEAL_KEY_ID_TEXT], want[SEAL_KEY_ID_TEXT];
    seal_key_id_text(id, text);
    snprintf(want, sizeof want, "%02x%02x%02x%02x", digest[0], digest[1], digest[2], digest[3]);
    CHECK_STR(text, want);
    /* a sealed secret names its key */
    seal_keyring *r = ring_of(key, NULL, 0);
    objectid oid = id_make(9);
    uint8_t sealed[1 + SEAL_OVERHEAD], named[SEAL_KEY_ID_LEN];
    CHECK(seal_secret(r, &oid, "x", 1, sealed) == 0);
    CHECK(seal_key_id_of(sealed, sizeof sealed, named) == 0 && memcmp(named, id, SEAL_KEY_ID_LEN) == 0);
    CHECK(memcmp(seal_keyring_current_id(r), id, SEAL_KEY_ID_LEN) == 0);
    seal_keyring_destroy(r);
}

/* A rotation: what the old key sealed opens in a ring where it is a previous key, and that
 * ring seals under its new current key; the old ring cannot open what the new one sealed. */
static void test_rotation(void)
{
    uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], id1[SEAL_KEY_ID_LEN], id2[SEAL_KEY_ID_LEN];
    key_make(k1);
    key_make(k2);
    seal_key_id(k1, id1);
    seal_key_id(k2, id2);
    seal_keyring *old = ring_of(k1, NULL, 0);
    const uint8_t(*prev)[SEAL_KEY_LEN] = (const uint8_t(*)[SEAL_KEY_LEN])k1;
    seal_keyring *now = ring_of(k2, prev, 1);
    CHECK(seal_keyring_role(now, id1) == SEAL_KEY_PREVIOUS && seal_keyring_role(now, id2) == SEAL_KEY_CURRENT);
    CHECK(seal_keyring_role(old, id2) == SEAL_KEY_UNKNOWN && seal_keyring_role(NULL, id1) == SEAL_KEY_UNKNOWN);
    objectid id = id_make(3);
    uint8_t a[4 + SEAL_OVERHEAD], b[4 + SEAL_OVERHEAD], named[SEAL_KEY_ID_LEN];
    char out[5];
    size_t n;
    CHECK(seal_secret(old, &id, "old!", 4, a) == 0);
    CHECK(seal_open(now, &id, a, sizeof a, out, &n) == SEAL_OK && strcmp(out, "old!") == 0);
    CHECK(seal_secret(now, &id, "new!", 4, b) == 0);
    CHECK(seal_key_id_of(b, sizeof b, named) == 0 && memcmp(named, id2, SEAL_KEY_ID_LEN) == 0);
    CHECK(seal_open(old, &id, b, sizeof b, out, &n) == SEAL_UNKNOWN_KEY);
    char text[SEAL_DESCRIBE_MAX], want[SEAL_DESCRIBE_MAX], t1[SEAL_KEY_ID_TEXT], t2[SEAL_KEY_ID_TEXT];
    seal_key_id_text(id1, t1);
    seal_key_id_text(id2, t2);
    seal_keyring_describe(now, text);
    snprintf(want, sizeof want, "%s (current), %s", t2, t1);
    CHECK_STR(text, want);
    seal_keyring_describe(NULL, text);
    CHECK_STR(text, "none");
    /* refusals: a second current key, the same key twice, more than SEAL_MAX_KEYS */
    CHECK(seal_keyring_add(now, k1, 0) == -1 && seal_keyring_add(now, k2, 0) == -1);
    uint8_t k3[SEAL_KEY_LEN];
    key_make(k3);
    CHECK(seal_keyring_add(now, k3, 1) == -1);
    for (size_t i = 2; i < SEAL_MAX_KEYS; i++) {
        key_make(k3);
        CHECK(seal_keyring_add(now, k3, 0) == 0);
    }
    key_make(k3);
    CHECK(seal_keyring_add(now, k3, 0) == -1);
    CHECK(seal_open(now, &id, a, sizeof a, out, &n) == SEAL_OK); /* still whole */
    /* a ring without a current key opens but does not seal */
    seal_keyring *open_only = seal_keyring_create();
    CHECK(open_only != NULL && seal_keyring_add(open_only, k1, 0) == 0 && !seal_keyring_can_seal(open_only));
    CHECK(seal_open(open_only, &id, a, sizeof a, out, &n) == SEAL_OK);
    seal_keyring_destroy(open_only);
    seal_keyring_destroy(old);
    seal_keyring_destroy(now);
}

/* seal_webhook: a secret is replaced by its sealed form; no secret, or no current key,
 * leaves the webhook as it is. */
static void test_seal_webhook(void)
{
    uint8_t key[SEAL_KEY_LEN];
    key_make(key);
    seal_keyring *r = ring_of(key, NULL, 0);
    store_webhook w = {.id = id_make(0x42), .ecosystem_id = "C0", .url = "https://x", .secret = "s3cret",
                       .description = ""};
    store_webhook out;
    uint8_t *buf;
    CHECK(seal_webhook(r, &w, &out, &buf) == 0 && buf != NULL);
    CHECK(strcmp(out.secret, "") == 0 && out.sealed_secret == buf && out.sealed_secret_len == 6 + SEAL_OVERHEAD);
    CHECK(strcmp(out.url, w.url) == 0 && memcmp(out.id.bytes, w.id.bytes, OBJECTID_LEN) == 0);
    char plain[7];
    size_t n;
    CHECK(seal_open(r, &w.id, out.sealed_secret, out.sealed_secret_len, plain, &n) == SEAL_OK &&
          strcmp(plain, "s3cret") == 0);
    free(buf);
    w.secret = "";
    CHECK(seal_webhook(r, &w, &out, &buf) == 0 && buf == NULL && out.sealed_secret == NULL);
    w.secret = "s3cret";
    CHECK(seal_webhook(NULL, &w, &out, &buf) == 0 && buf == NULL && out.secret == w.secret);
    seal_keyring_destroy(r);
}

/* ---- key files ------------------------------------------------------------------------- */

static void key_file(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
    CHECK(chmod(path, mode) == 0);
}

/* Reads path and expects a refusal whose message holds `want`. */
static void key_refused(const char *path, const char *want)
{
    uint8_t key[SEAL_KEY_LEN];
    char err[SEAL_ERROR_MAX] = "";
    CHECK(seal_key_read(path, key, err) == -1);
    if (strstr(err, want) == NULL || strstr(err, path) == NULL) {
        fprintf(stderr, "%s: message \"%s\" lacks \"%s\" or the path\n", path, err, want);
        test_failures++;
    }
}

static void test_key_files(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/key", root);
    uint8_t key[SEAL_KEY_LEN + 1], got[SEAL_KEY_LEN];
    key_make(key);
    key[SEAL_KEY_LEN] = 1;
    char err[SEAL_ERROR_MAX];
    key_file(path, key, SEAL_KEY_LEN, 0600);
    CHECK(seal_key_read(path, got, err) == 0 && memcmp(got, key, SEAL_KEY_LEN) == 0);
    key_file(path, key, SEAL_KEY_LEN, 0400);
    CHECK(seal_key_read(path, got, err) == 0);
    key_file(path, key, SEAL_KEY_LEN, 0640);
    key_refused(path, "group or others may read or write it (mode 0640); a key file must be private: chmod 600");
    key_file(path, key, SEAL_KEY_LEN, 0604);
    key_refused(path, "mode 0604");
    key_file(path, key, SEAL_KEY_LEN, 0620);
    key_refused(path, "mode 0620");
    key_file(path, key, SEAL_KEY_LEN - 1, 0600);
    key_refused(path, "must hold exactly 32 bytes, it holds 31");
    key_file(path, key, SEAL_KEY_LEN + 1, 0600);
    key_refused(path, "must hold exactly 32 bytes, it holds more than 32");
    key_file(path, "", 0, 0600);
    key_refused(path, "it holds 0");
    uint8_t zeros[SEAL_KEY_LEN] = {0};
    key_file(path, zeros, SEAL_KEY_LEN, 0600);
    key_refused(path, "only zero bytes");
    unlink(path);
    key_refused(path, strerror(ENOENT));
    key_refused(root, "not a regular file");
}

/* ---- out of memory -------------------------------------------------------------------- */

typedef struct seal_oom {
    uint8_t key[SEAL_KEY_LEN];
    objectid id;
    seal_keyring *made, *ring;
    uint8_t sealed[6 + SEAL_OVERHEAD];
    char out[7];
    size_t n;
    store_webhook w, sealed_w;
    uint8_t *buf;
} seal_oom;

static int oom_create(void *ctx)
{
    seal_oom *o = ctx;
    o->made = seal_keyring_create();
    return o->made != NULL ? 0 : -1;
}

static void oom_create_check(void *ctx, int ok)
{
    seal_oom *o = ctx;
    CHECK(ok == (o->made != NULL));
}

static void oom_create_teardown(void *ctx)
{
    seal_oom *o = ctx;
    seal_keyring_destroy(o->made);
    o->made = NULL;
}

static int oom_seal(void *ctx)
{
    seal_oom *o = ctx;
    return seal_secret(o->ring, &o->id, "s3cret", 6, o->sealed);
}

static void oom_seal_check(void *ctx, int ok)
{
    seal_oom *o = ctx;
    if (ok)
        CHECK(seal_open(o->ring, &o->id, o->sealed, sizeof o->sealed, o->out, &o->n) == SEAL_OK &&
              strcmp(o->out, "s3cret") == 0);
}

static int oom_open(void *ctx)
{
    seal_oom *o = ctx;
    memset(o->out, 0, sizeof o->out);
    seal_status st = seal_open(o->ring, &o->id, o->sealed, sizeof o->sealed, o->out, &o->n);
    CHECK(st == SEAL_OK || st == SEAL_NO_MEMORY); /* running out is never called damage */
    return st == SEAL_OK ? 0 : -1;
}

static void oom_open_check(void *ctx, int ok)
{
    seal_oom *o = ctx;
    CHECK(ok ? strcmp(o->out, "s3cret") == 0 : memmem(o->out, sizeof o->out, "s3c", 3) == NULL);
}

static int oom_webhook(void *ctx)
{
    seal_oom *o = ctx;
    return seal_webhook(o->ring, &o->w, &o->sealed_w, &o->buf);
}

static void oom_webhook_check(void *ctx, int ok)
{
    seal_oom *o = ctx;
    CHECK(ok ? o->buf != NULL && o->sealed_w.sealed_secret == o->buf : o->buf == NULL);
}

static void oom_webhook_teardown(void *ctx)
{
    seal_oom *o = ctx;
    free(o->buf);
    o->buf = NULL;
}

static void test_out_of_memory(void)
{
    static seal_oom o;
    key_make(o.key);
    o.id = id_make(0x11);
    o.ring = ring_of(o.key, NULL, 0);
    CHECK(seal_secret(o.ring, &o.id, "s3cret", 6, o.sealed) == 0);
    o.w = (store_webhook){.id = o.id, .ecosystem_id = "C0", .url = "https://x", .secret = "s3cret", .description = ""};
    oom_op ops[] = {
        {"seal_keyring_create", &o, NULL, oom_create, oom_create_check, oom_create_teardown},
        {"seal_secret", &o, NULL, oom_seal, oom_seal_check, NULL},
        {"seal_open", &o, NULL, oom_open, oom_open_check, NULL},
        {"seal_webhook", &o, NULL, oom_webhook, oom_webhook_check, oom_webhook_teardown},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        CHECK(oom_loop(&ops[i]) == 0);
        CHECK(oom_loop_persistent(&ops[i]) == 0);
    }
    seal_keyring_destroy(o.ring);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/hookgate-test-seal-XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_fresh_nonce();
    test_refusals();
    test_key_ids();
    test_rotation();
    test_seal_webhook();
    test_key_files();
    test_out_of_memory();
    rmdir(root);
    return test_exit_code();
}
