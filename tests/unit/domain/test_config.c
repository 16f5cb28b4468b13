/* test_config: the embedded default, a file using every key, and one bad file per rule, each
 * checked for its exact "name:line:column: ..." message. Run under valgrind, the bad files
 * also show that a failed parse frees everything it allocated. */
#include "config.h"
#include "oom.h"
#include "test.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The smallest valid server section: three lines, so appended text starts on line 4. */
#define LISTEN "server:\n  listen:\n    - { address: 127.0.0.1, port: 8080 }\n"
/* A valid file up to an account's list of tokens; the next line is line 6. */
#define ACCOUNT LISTEN "accounts:\n  - id: acme\n"

#define FILE_MAX (1024 * 1024)

/* SHA-256 of "hello", as hex, for the "sha256:" form. */
#define HELLO_HEX "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define HELLO_HEX_UPPER "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"

static int digest_of(const uint8_t digest[CONFIG_TOKEN_DIGEST_LEN], const char *token)
{
    uint8_t want[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), want);
    return memcmp(digest, want, sizeof want) == 0;
}

static config *parse_ok(int line, const char *yaml)
{
    char err[CONFIG_ERROR_MAX];
    config *cfg = config_parse("t.yaml", yaml, strlen(yaml), err);
    if (cfg == NULL)
        fprintf(stderr, "test_config.c:%d: unexpected error: %s\n", line, err);
    CHECK(cfg != NULL);
    return cfg;
}

/* Parses yaml as "t.yaml" and expects no config and exactly the message `want` (or, with
 * prefix set, a message starting with it: libyaml's own wording is not ours to pin). */
static void expect_error(int line, const char *yaml, size_t len, const char *want, int prefix)
{
    char err[CONFIG_ERROR_MAX];
    config *cfg = config_parse("t.yaml", yaml, len, err);
    int ok = cfg == NULL && (prefix ? strncmp(err, want, strlen(want)) == 0 : strcmp(err, want) == 0);
    if (!ok)
        fprintf(stderr, "test_config.c:%d: wrong outcome\n  got:  %s\n  want: %s%s\n", line, cfg ? "(a config)" : err,
                want, prefix ? "..." : "");
    CHECK(ok);
    config_destroy(cfg);
}

#define EXPECT_ERROR(yaml, want) expect_error(__LINE__, yaml, strlen(yaml), want, 0)
#define EXPECT_ERROR_PREFIX(yaml, want) expect_error(__LINE__, yaml, strlen(yaml), want, 1)

static void test_default(void)
{
    char err[CONFIG_ERROR_MAX];
    config *cfg = config_parse("default", config_default_yaml, config_default_yaml_len, err);
    CHECK(cfg != NULL);
    if (cfg == NULL) {
        fprintf(stderr, "default config: %s\n", err);
        return;
    }
    CHECK(cfg->n_listeners == 1);
    CHECK_STR(cfg->listeners[0].address, "127.0.0.1");
    CHECK(cfg->listeners[0].port == 8080);
    CHECK(cfg->listeners[0].tls_certificate == NULL);
    CHECK(cfg->listeners[0].tls_key == NULL);
    CHECK(cfg->threads == 0);
    CHECK(cfg->max_connections == 10000);
    CHECK(cfg->max_connections_per_address == 1024);
    CHECK(cfg->idle_eviction_ms == 1000);
    CHECK(cfg->limits.max_body_bytes == 65536);
    CHECK(cfg->limits.max_url_length == 2048);
    CHECK(cfg->limits.max_description_length == 1024);
    CHECK(cfg->limits.max_secret_length == 256);
    CHECK(cfg->limits.default_page_size == 100 && cfg->limits.max_page_size == 1000);
    CHECK(cfg->write_timeout_ms == 10000);
    CHECK(cfg->max_connection_output_bytes == 4u << 20);
    CHECK(cfg->max_buffered_bytes == 256u << 20);
    CHECK(cfg->store_path == NULL);
    CHECK(cfg->store_json_cache_bytes == 256u << 20);
    CHECK(cfg->n_accounts == 1);
    if (cfg->n_accounts == 1) {
        const config_account *a = &cfg->accounts[0];
        CHECK_STR(a->id, "demo");
        CHECK(a->n_tokens == 1);
        CHECK(a->n_tokens == 1 && digest_of(a->tokens[0].digest, "demo-token"));
        CHECK(a->n_ecosystems == 2);
        if (a->n_ecosystems == 2) {
            CHECK_STR(a->ecosystems[0].id, "C5156b8ace57896adb6dae592");
            CHECK(a->ecosystems[0].deleted == 0);
            CHECK(a->ecosystems[0].n_server_tokens == 1);
            CHECK(a->ecosystems[0].n_server_tokens == 1 &&
                  digest_of(a->ecosystems[0].server_tokens[0].digest, "demo-server-token"));
            CHECK_STR(a->ecosystems[1].id, "C59b343ae9ca1fbc8287a3196");
            CHECK(a->ecosystems[1].deleted == 1);
            CHECK(a->ecosystems[1].n_server_tokens == 0);
        }
    }
    config_destroy(cfg);
}

static const char full_yaml[] = "server:\n"
                                "  listen:\n"
                                "    - { address: 127.0.0.1, port: 8080 }\n"
                                "    - address: \"::1\"\n"
                                "      port: 8443\n"
                                "      tls: { certificate: /etc/hookgate/cert.pem, key: '/etc/hookgate/key.pem' }\n"
                                "    - address: 0.0.0.0\n"
                                "      port: 65535\n"
                                "  threads: 256\n"
                                "  max_connections_per_address: 0\n"
                                "  idle_eviction_ms: 3600000\n"
                                "limits:\n"
                                "  max_body_bytes: 67108864\n"
                                "  max_url_length: 1\n"
                                "  max_description_length: 0\n"
                                "  max_secret_length: 65536\n"
                                "  default_page_size: 10000\n"
                                "  max_page_size: 10000\n"
                                "store:\n"
                                "  path: /var/lib/hookgate\n"
                                "accounts:\n"
                                "  - id: acme\n"
                                "    tokens: [ acme-token, \"sha256:" HELLO_HEX_UPPER "\" ]\n"
                                "    ecosystems:\n"
                                "      - id: C000000000000000000000001\n"
                                "        server_tokens:\n"
                                "          - srv-1\n"
                                "          - srv-2\n"
                                "        deleted: false\n"
                                "      - { id: Cabcdef0123456789abcdef01, deleted: true, server_tokens: [] }\n"
                                "  - id: \"globex\"\n"
                                "    ecosystems: []\n"
                                "  - id: initech\n"
                                "    tokens: [ \"sha256:" HELLO_HEX "0\" ]\n";

static void test_full(void)
{
    /* The last token above is deliberately bad (65 digits); cut it off to get a valid file
     * that ends with an account whose token list is empty. */
    char text[sizeof full_yaml];
    memcpy(text, full_yaml, sizeof full_yaml);
    char *bad = strstr(text, "    tokens: [ \"sha256:" HELLO_HEX "0");
    CHECK(bad != NULL);
    if (bad == NULL)
        return;
    EXPECT_ERROR(full_yaml, "t.yaml:34:15: accounts[2].tokens[0]: \"sha256:\" must be followed by 64 hex digits");
    strcpy(bad, "    tokens: []\n");

    config *cfg = parse_ok(__LINE__, text);
    if (cfg == NULL)
        return;
    CHECK(cfg->n_listeners == 3);
    CHECK_STR(cfg->listeners[0].address, "127.0.0.1");
    CHECK(cfg->listeners[0].port == 8080);
    CHECK(cfg->listeners[0].tls_certificate == NULL && cfg->listeners[0].tls_key == NULL);
    CHECK_STR(cfg->listeners[1].address, "::1");
    CHECK(cfg->listeners[1].port == 8443);
    CHECK_STR(cfg->listeners[1].tls_certificate, "/etc/hookgate/cert.pem");
    CHECK_STR(cfg->listeners[1].tls_key, "/etc/hookgate/key.pem");
    CHECK_STR(cfg->listeners[2].address, "0.0.0.0");
    CHECK(cfg->listeners[2].port == 65535);
    CHECK(cfg->listeners[2].tls_certificate == NULL);
    CHECK(cfg->threads == 256);
    CHECK(cfg->max_connections_per_address == 0 && cfg->idle_eviction_ms == 3600000);
    CHECK(cfg->limits.max_body_bytes == 67108864);
    CHECK(cfg->limits.max_url_length == 1);
    CHECK(cfg->limits.max_description_length == 0);
    CHECK(cfg->limits.max_secret_length == 65536);
    CHECK(cfg->limits.default_page_size == 10000 && cfg->limits.max_page_size == 10000);
    CHECK_STR(cfg->store_path, "/var/lib/hookgate");
    CHECK(cfg->n_accounts == 3);
    if (cfg->n_accounts == 3) {
        const config_account *a = &cfg->accounts[0];
        CHECK_STR(a->id, "acme");
        CHECK(a->n_tokens == 2);
        CHECK(a->n_tokens == 2 && digest_of(a->tokens[0].digest, "acme-token"));
        /* the "sha256:" form is decoded, not hashed again */
        CHECK(a->n_tokens == 2 && digest_of(a->tokens[1].digest, "hello"));
        CHECK(a->n_ecosystems == 2);
        if (a->n_ecosystems == 2) {
            CHECK_STR(a->ecosystems[0].id, "C000000000000000000000001");
            CHECK(a->ecosystems[0].deleted == 0);
            CHECK(a->ecosystems[0].n_server_tokens == 2);
            CHECK(a->ecosystems[0].n_server_tokens == 2 &&
                  digest_of(a->ecosystems[0].server_tokens[0].digest, "srv-1") &&
                  digest_of(a->ecosystems[0].server_tokens[1].digest, "srv-2"));
            CHECK_STR(a->ecosystems[1].id, "Cabcdef0123456789abcdef01");
            CHECK(a->ecosystems[1].deleted == 1);
            CHECK(a->ecosystems[1].n_server_tokens == 0);
        }
        CHECK_STR(cfg->accounts[1].id, "globex");
        CHECK(cfg->accounts[1].n_tokens == 0 && cfg->accounts[1].n_ecosystems == 0);
        CHECK_STR(cfg->accounts[2].id, "initech");
        CHECK(cfg->accounts[2].n_tokens == 0 && cfg->accounts[2].n_ecosystems == 0);
    }
    config_destroy(cfg);
}

/* Lists long enough to move the growing arrays and the duplicate sets several times. */
static void test_many(void)
{
    enum { ACCOUNTS = 40, TOKENS = 100 };
    size_t cap = 64 * 1024, len = 0, i, j;
    char *text = malloc(cap);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    len += (size_t)snprintf(text + len, cap - len, "%saccounts:\n", LISTEN);
    for (i = 0; i < ACCOUNTS; i++) {
        len += (size_t)snprintf(text + len, cap - len, "  - id: a%zu\n    tokens:\n", i);
        for (j = 0; j < TOKENS; j++)
            len += (size_t)snprintf(text + len, cap - len, "      - t%zu-%zu\n", i, j);
        len += (size_t)snprintf(text + len, cap - len, "    ecosystems: [ { id: C%024zx }, { id: C%024zx } ]\n", 2 * i,
                                2 * i + 1);
    }
    CHECK(len < cap);
    config *cfg = parse_ok(__LINE__, text);
    if (cfg) {
        CHECK(cfg->n_accounts == ACCOUNTS);
        CHECK(cfg->accounts[ACCOUNTS - 1].n_tokens == TOKENS);
        CHECK(digest_of(cfg->accounts[ACCOUNTS - 1].tokens[TOKENS - 1].digest, "t39-99"));
        CHECK(cfg->accounts[ACCOUNTS - 1].n_ecosystems == 2);
        CHECK_STR(cfg->accounts[ACCOUNTS - 1].ecosystems[1].id, "C00000000000000000000004f");
    }
    config_destroy(cfg);

    /* the same file plus one token that repeats the very first */
    len += (size_t)snprintf(text + len, cap - len, "  - id: last\n    tokens: [ t0-0 ]\n");
    char want[CONFIG_ERROR_MAX];
    snprintf(want, sizeof want, "t.yaml:%d:15: accounts[%d].tokens[0]: duplicate token (first at line 7, column 9)",
             3 + 1 + ACCOUNTS * (TOKENS + 3) + 2, ACCOUNTS);
    expect_error(__LINE__, text, len, want, 0);
    free(text);
}

static void test_unknown_keys(void)
{
    EXPECT_ERROR(LISTEN "colour: blue\n", "t.yaml:4:1: unknown key \"colour\"");
    EXPECT_ERROR("server:\n  lisen: []\n", "t.yaml:2:3: server: unknown key \"lisen\"");
    EXPECT_ERROR("server:\n  listen:\n    - { address: 127.0.0.1, port: 8080, proto: h2 }\n",
                 "t.yaml:3:41: server.listen[0]: unknown key \"proto\"");
    EXPECT_ERROR("server:\n  listen:\n    - address: 127.0.0.1\n      port: 8080\n"
                 "      tls: { certificate: c.pem, key: k.pem, ca: ca.pem }\n",
                 "t.yaml:5:46: server.listen[0].tls: unknown key \"ca\"");
    EXPECT_ERROR(LISTEN "limits:\n  max_body: 10\n", "t.yaml:5:3: limits: unknown key \"max_body\"");
    EXPECT_ERROR(LISTEN "store:\n  dir: /tmp\n", "t.yaml:5:3: store: unknown key \"dir\"");
    EXPECT_ERROR(ACCOUNT "    name: Acme\n", "t.yaml:6:5: accounts[0]: unknown key \"name\"");
    EXPECT_ERROR(ACCOUNT "    ecosystems:\n      - { id: C000000000000000000000001, owner: x }\n",
                 "t.yaml:7:42: accounts[0].ecosystems[0]: unknown key \"owner\"");
    /* an unknown key is echoed only as printable ASCII and only so far */
    EXPECT_ERROR(LISTEN "\"a\\tb\\\"c\": 1\n", "t.yaml:4:1: unknown key \"a?b?c\"");
    EXPECT_ERROR(LISTEN "k123456789012345678901234567890123456789012345678901234567890: 1\n",
                 "t.yaml:4:1: unknown key \"k12345678901234567890123456789012345678901234567...\"");
}

static void test_wrong_types(void)
{
    EXPECT_ERROR("- server\n", "t.yaml:1:1: expected a mapping, not a list");
    EXPECT_ERROR("server: 5\n", "t.yaml:1:9: server: expected a mapping, not a scalar");
    EXPECT_ERROR("server:\n  listen: { address: 127.0.0.1, port: 8080 }\n",
                 "t.yaml:2:11: server.listen: expected a list, not a mapping");
    EXPECT_ERROR("server:\n  listen: [ 127.0.0.1 ]\n",
                 "t.yaml:2:13: server.listen[0]: expected a mapping, not a scalar");
    EXPECT_ERROR("server:\n  listen:\n    - { address: [ 127.0.0.1 ], port: 8080 }\n",
                 "t.yaml:3:18: server.listen[0].address: expected a string, not a list");
    EXPECT_ERROR(LISTEN "  threads: [ 1 ]\n", "t.yaml:4:12: server.threads: must be an integer between 0 and 256");
    EXPECT_ERROR(LISTEN "limits: 1\n", "t.yaml:4:9: limits: expected a mapping, not a scalar");
    EXPECT_ERROR(LISTEN "store:\n", "t.yaml:4:7: store: expected a mapping, not a scalar");
    EXPECT_ERROR(LISTEN "store:\n  path: ~\n", "t.yaml:5:9: store.path: expected a string, not null");
    EXPECT_ERROR(LISTEN "store:\n  path: \"\"\n", "t.yaml:5:9: store.path: must be between 1 and 4096 bytes");
    EXPECT_ERROR(LISTEN "store:\n  json_cache_bytes: 1099511627777\n",
                 "t.yaml:5:21: store.json_cache_bytes: must be an integer between 0 and 1099511627776");
    EXPECT_ERROR(LISTEN "accounts: { id: acme }\n", "t.yaml:4:11: accounts: expected a list, not a mapping");
    EXPECT_ERROR(ACCOUNT "    tokens: abc\n", "t.yaml:6:13: accounts[0].tokens: expected a list, not a scalar");
    EXPECT_ERROR(ACCOUNT "    tokens: [ { a: b } ]\n",
                 "t.yaml:6:15: accounts[0].tokens[0]: expected a string, not a mapping");
    EXPECT_ERROR(LISTEN "{ a: 1 }: 2\n", "t.yaml:4:1: keys must be strings, not a mapping");
    /* booleans are exactly true or false, unquoted */
    EXPECT_ERROR(ACCOUNT "    ecosystems: [ { id: C000000000000000000000001, deleted: yes } ]\n",
                 "t.yaml:6:61: accounts[0].ecosystems[0].deleted: must be true or false");
    EXPECT_ERROR(ACCOUNT "    ecosystems: [ { id: C000000000000000000000001, deleted: \"true\" } ]\n",
                 "t.yaml:6:61: accounts[0].ecosystems[0].deleted: must be true or false");
}

static void test_integers(void)
{
    static const char *const bad[] = {
        "-1", "+1", "1e3",  "0x10", "010", "1.5", "\"8080\"", "99999999999999999999", "18446744073709551617",
        "~",  "0",  "65536"};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, "server:\n  listen:\n    - address: 127.0.0.1\n      port: %s\n", bad[i]);
        EXPECT_ERROR(yaml, "t.yaml:4:13: server.listen[0].port: must be an integer between 1 and 65535");
    }
    /* an empty value is a null node, which libyaml places just after the colon */
    EXPECT_ERROR("server:\n  listen:\n    - address: 127.0.0.1\n      port:\n",
                 "t.yaml:4:12: server.listen[0].port: must be an integer between 1 and 65535");
    EXPECT_ERROR(LISTEN "limits:\n  max_body_bytes: 67108865\n",
                 "t.yaml:5:19: limits.max_body_bytes: must be an integer between 1 and 67108864");
    EXPECT_ERROR(LISTEN "limits:\n  max_body_bytes: 0\n",
                 "t.yaml:5:19: limits.max_body_bytes: must be an integer between 1 and 67108864");
    EXPECT_ERROR(LISTEN "limits:\n  max_url_length: 65537\n",
                 "t.yaml:5:19: limits.max_url_length: must be an integer between 1 and 65536");
    EXPECT_ERROR(LISTEN "limits:\n  max_description_length: -1\n",
                 "t.yaml:5:27: limits.max_description_length: must be an integer between 0 and 65536");
    EXPECT_ERROR(LISTEN "limits:\n  max_secret_length: 65537\n",
                 "t.yaml:5:22: limits.max_secret_length: must be an integer between 0 and 65536");
    EXPECT_ERROR(LISTEN "limits:\n  max_page_size: 10001\n",
                 "t.yaml:5:18: limits.max_page_size: must be an integer between 1 and 10000");
    EXPECT_ERROR(LISTEN "limits:\n  default_page_size: 0\n",
                 "t.yaml:5:22: limits.default_page_size: must be an integer between 1 and 10000");
    /* the default must fit the maximum: blamed on the default when given, else on the maximum */
    EXPECT_ERROR(LISTEN "limits:\n  default_page_size: 20\n  max_page_size: 10\n",
                 "t.yaml:5:22: limits: default_page_size (20) must be at most max_page_size (10)");
    EXPECT_ERROR(LISTEN "limits:\n  max_page_size: 10\n  default_page_size: 20\n",
                 "t.yaml:6:22: limits: default_page_size (20) must be at most max_page_size (10)");
    EXPECT_ERROR(LISTEN "limits:\n  max_page_size: 99\n",
                 "t.yaml:5:18: limits: max_page_size (99) must be at least default_page_size (100)");
    EXPECT_ERROR(LISTEN "limits:\n  default_page_size: 1001\n",
                 "t.yaml:5:22: limits: default_page_size (1001) must be at most max_page_size (1000)");
    EXPECT_ERROR(LISTEN "  threads: 257\n", "t.yaml:4:12: server.threads: must be an integer between 0 and 256");
    EXPECT_ERROR(LISTEN "  max_connections_per_address: 1000001\n",
                 "t.yaml:4:32: server.max_connections_per_address: must be an integer between 0 and 1000000");
    EXPECT_ERROR(LISTEN "  max_connections_per_address: -1\n",
                 "t.yaml:4:32: server.max_connections_per_address: must be an integer between 0 and 1000000");
    EXPECT_ERROR(LISTEN "  idle_eviction_ms: 3600001\n",
                 "t.yaml:4:21: server.idle_eviction_ms: must be an integer between 0 and 3600000");
    /* the output bounds (outflow.h) */
    EXPECT_ERROR(LISTEN "  write_timeout_ms: 99\n",
                 "t.yaml:4:21: server.write_timeout_ms: must be an integer between 100 and 3600000");
    EXPECT_ERROR(LISTEN "  write_timeout_ms: 3600001\n",
                 "t.yaml:4:21: server.write_timeout_ms: must be an integer between 100 and 3600000");
    EXPECT_ERROR(LISTEN "  max_connection_output_bytes: 65535\n",
                 "t.yaml:4:32: server.max_connection_output_bytes: must be an integer between 65536 and 1099511627776");
    EXPECT_ERROR(LISTEN "  max_connection_output_bytes: 1099511627777\n",
                 "t.yaml:4:32: server.max_connection_output_bytes: must be an integer between 65536 and 1099511627776");
    EXPECT_ERROR(LISTEN "  max_buffered_bytes: 1048575\n",
                 "t.yaml:4:23: server.max_buffered_bytes: must be an integer between 1048576 and 17592186044416");
    EXPECT_ERROR(LISTEN "  max_buffered_bytes: 17592186044417\n",
                 "t.yaml:4:23: server.max_buffered_bytes: must be an integer between 1048576 and 17592186044416");
    char err[CONFIG_ERROR_MAX];
    static const char yaml[] = LISTEN "  write_timeout_ms: 100\n  max_connection_output_bytes: 65536\n"
                                      "  max_buffered_bytes: 17592186044416\n";
    config *cfg = config_parse("t.yaml", yaml, sizeof(yaml) - 1, err);
    CHECK(cfg != NULL && cfg->write_timeout_ms == 100 && cfg->max_connection_output_bytes == 65536 &&
          cfg->max_buffered_bytes == 1ull << 44);
    config_destroy(cfg);
}

/* delivery: the defaults, each key's bounds, allow_networks (read by netpolicy_allow, whose
 * reason the message carries), its length bound, unknown keys. */
static void test_delivery(void)
{
    config *cfg = parse_ok(__LINE__, LISTEN);
    if (cfg != NULL) {
        CHECK(cfg->delivery.connect_timeout_ms == 5000);
        CHECK(cfg->delivery.timeout_ms == 10000);
        CHECK(cfg->delivery.max_concurrent_invokes == 64);
        CHECK(cfg->delivery.policy.n_allow == 0);
    }
    config_destroy(cfg);

    cfg = parse_ok(__LINE__, LISTEN "delivery:\n  connect_timeout_ms: 1\n  timeout_ms: 600000\n"
                                    "  max_concurrent_invokes: 100000\n"
                                    "  allow_networks: [ 127.0.0.0/8, \"fd00::/8\", 10.1.2.3, \"::1\" ]\n");
    if (cfg != NULL) {
        CHECK(cfg->delivery.connect_timeout_ms == 1);
        CHECK(cfg->delivery.timeout_ms == 600000);
        CHECK(cfg->delivery.max_concurrent_invokes == 100000);
        const netpolicy *p = &cfg->delivery.policy;
        CHECK(p->n_allow == 4);
        if (p->n_allow == 4) {
            CHECK(p->allow[0].family == 4 && p->allow[0].bits == 8 && p->allow[0].addr[0] == 127);
            CHECK(p->allow[1].family == 6 && p->allow[1].bits == 8 && p->allow[1].addr[0] == 0xfd);
            CHECK(p->allow[2].family == 4 && p->allow[2].bits == 32 && p->allow[2].addr[3] == 3);
            CHECK(p->allow[3].family == 6 && p->allow[3].bits == 128 && p->allow[3].addr[15] == 1);
        }
    }
    config_destroy(cfg);
    cfg = parse_ok(__LINE__, LISTEN "delivery:\n  connect_timeout_ms: 600000\n  timeout_ms: 1\n"
                                    "  max_concurrent_invokes: 1\n  allow_networks: []\n");
    CHECK(cfg != NULL && cfg->delivery.connect_timeout_ms == 600000 && cfg->delivery.timeout_ms == 1 &&
          cfg->delivery.max_concurrent_invokes == 1 && cfg->delivery.policy.n_allow == 0);
    config_destroy(cfg);

    /* each key's bounds, min-1 and max+1 */
    EXPECT_ERROR(LISTEN "delivery:\n  connect_timeout_ms: 0\n",
                 "t.yaml:5:23: delivery.connect_timeout_ms: must be an integer between 1 and 600000");
    EXPECT_ERROR(LISTEN "delivery:\n  connect_timeout_ms: 600001\n",
                 "t.yaml:5:23: delivery.connect_timeout_ms: must be an integer between 1 and 600000");
    EXPECT_ERROR(LISTEN "delivery:\n  timeout_ms: 0\n",
                 "t.yaml:5:15: delivery.timeout_ms: must be an integer between 1 and 600000");
    EXPECT_ERROR(LISTEN "delivery:\n  timeout_ms: 600001\n",
                 "t.yaml:5:15: delivery.timeout_ms: must be an integer between 1 and 600000");
    EXPECT_ERROR(LISTEN "delivery:\n  max_concurrent_invokes: 0\n",
                 "t.yaml:5:27: delivery.max_concurrent_invokes: must be an integer between 1 and 100000");
    EXPECT_ERROR(LISTEN "delivery:\n  max_concurrent_invokes: 100001\n",
                 "t.yaml:5:27: delivery.max_concurrent_invokes: must be an integer between 1 and 100000");
    EXPECT_ERROR(LISTEN "delivery:\n  timeout_ms: -1\n",
                 "t.yaml:5:15: delivery.timeout_ms: must be an integer between 1 and 600000");

    /* allow_networks: a bad entry is refused naming why, at the entry */
    EXPECT_ERROR(LISTEN "delivery:\n  allow_networks: [ 127.0.0.0/8, 10.0.0.1/8 ]\n",
                 "t.yaml:5:34: delivery.allow_networks[1]: 10.0.0.1/8 has bits set past the prefix length: the "
                 "network is 10.0.0.0/8 (or write 10.0.0.1 alone for the one host)");
    EXPECT_ERROR_PREFIX(LISTEN "delivery:\n  allow_networks: [ nonsense ]\n",
                        "t.yaml:5:21: delivery.allow_networks[0]: ");
    EXPECT_ERROR_PREFIX(LISTEN "delivery:\n  allow_networks: [ 10.0.0.0/33 ]\n",
                        "t.yaml:5:21: delivery.allow_networks[0]: ");
    EXPECT_ERROR(LISTEN "delivery:\n  allow_networks: 10.0.0.0/8\n",
                 "t.yaml:5:19: delivery.allow_networks: expected a list, not a scalar");
    EXPECT_ERROR(LISTEN "delivery:\n  allow_networks: [ [ 10.0.0.0/8 ] ]\n",
                 "t.yaml:5:21: delivery.allow_networks[0]: expected a string, not a list");
    /* at most NETPOLICY_MAX_ALLOW entries */
    char text[4096];
    size_t len = (size_t)snprintf(text, sizeof text, "%sdelivery:\n  allow_networks:\n", LISTEN);
    for (int i = 0; i < NETPOLICY_MAX_ALLOW; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "    - 10.0.%d.0/24\n", i);
    cfg = parse_ok(__LINE__, text);
    CHECK(cfg != NULL && cfg->delivery.policy.n_allow == NETPOLICY_MAX_ALLOW);
    config_destroy(cfg);
    len += (size_t)snprintf(text + len, sizeof text - len, "    - 10.1.0.0/16\n");
    CHECK(len < sizeof text);
    char want[CONFIG_ERROR_MAX];
    snprintf(want, sizeof want, "t.yaml:%d:7: delivery.allow_networks: must have between 0 and %d networks",
             6 + NETPOLICY_MAX_ALLOW, NETPOLICY_MAX_ALLOW);
    expect_error(__LINE__, text, len, want, 0);

    /* unknown keys, a wrong type */
    EXPECT_ERROR(LISTEN "delivery:\n  retries: 3\n", "t.yaml:5:3: delivery: unknown key \"retries\"");
    EXPECT_ERROR(LISTEN "delivery: 5\n", "t.yaml:4:11: delivery: expected a mapping, not a scalar");
}

/* The delivery keys of events: each one's default, a good value (both ends where they
 * matter), min-1 and max+1, and a wrong type; retry_schedule_ms's list bounds and entries. */
static void test_delivery_events(void)
{
    static const uint32_t svix[] = {0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};
    config *cfg = parse_ok(__LINE__, LISTEN);
    if (cfg != NULL) {
        const config_delivery *d = &cfg->delivery;
        CHECK(d->max_items == 100);
        CHECK(d->n_retry_schedule == 8);
        CHECK(d->n_retry_schedule == 8 && memcmp(d->retry_schedule_ms, svix, sizeof svix) == 0);
        CHECK(d->retry_jitter_percent == 20);
        CHECK(d->throttle_wait_ms == 60000);
        CHECK(d->max_in_flight == 256);
        CHECK(d->max_in_flight_per_webhook == 4);
        CHECK(d->disable_after_ms == 432000000);
        CHECK(d->retention_ms == 604800000);
        CHECK(d->max_recover == 1000);
    }
    config_destroy(cfg);

    /* the largest values */
    cfg = parse_ok(__LINE__, LISTEN "delivery:\n  max_items: 1000\n  retry_schedule_ms: [ 86400000 ]\n"
                                    "  retry_jitter_percent: 50\n  throttle_wait_ms: 86400000\n"
                                    "  max_in_flight: 100000\n  max_in_flight_per_webhook: 1000\n"
                                    "  disable_after_ms: 31536000000\n  retention_ms: 31536000000\n"
                                    "  max_recover: 100000\n");
    if (cfg != NULL) {
        const config_delivery *d = &cfg->delivery;
        CHECK(d->max_items == 1000);
        CHECK(d->n_retry_schedule == 1 && d->retry_schedule_ms[0] == 86400000);
        CHECK(d->retry_jitter_percent == 50 && d->throttle_wait_ms == 86400000);
        CHECK(d->max_in_flight == 100000 && d->max_in_flight_per_webhook == 1000);
        CHECK(d->disable_after_ms == 31536000000ull && d->retention_ms == 31536000000ull);
        CHECK(d->max_recover == 100000);
        CHECK(d->timeout_ms == 10000); /* the others keep their defaults */
    }
    config_destroy(cfg);
    /* the smallest values; disable_after_ms 0 is "never" */
    cfg = parse_ok(__LINE__, LISTEN "delivery:\n  max_items: 1\n  retry_schedule_ms:\n    - 0\n    - 1\n"
                                    "  retry_jitter_percent: 0\n  throttle_wait_ms: 0\n  max_in_flight: 1\n"
                                    "  max_in_flight_per_webhook: 1\n  disable_after_ms: 0\n  retention_ms: 1000\n"
                                    "  max_recover: 1\n");
    if (cfg != NULL) {
        const config_delivery *d = &cfg->delivery;
        CHECK(d->max_items == 1);
        CHECK(d->n_retry_schedule == 2 && d->retry_schedule_ms[0] == 0 && d->retry_schedule_ms[1] == 1);
        CHECK(d->retry_jitter_percent == 0 && d->throttle_wait_ms == 0);
        CHECK(d->max_in_flight == 1 && d->max_in_flight_per_webhook == 1);
        CHECK(d->disable_after_ms == 0 && d->retention_ms == 1000);
        CHECK(d->max_recover == 1);
    }
    config_destroy(cfg);
    cfg = parse_ok(__LINE__, LISTEN "delivery:\n  disable_after_ms: 1000\n");
    CHECK(cfg != NULL && cfg->delivery.disable_after_ms == 1000);
    config_destroy(cfg);

    /* min-1, max+1 and a wrong type, key by key */
    static const struct {
        const char *key, *range;
        const char *below, *above; /* NULL: min is 0 */
    } keys[] = {
        {"max_items", "between 1 and 1000", "0", "1001"},
        {"retry_jitter_percent", "between 0 and 50", NULL, "51"},
        {"throttle_wait_ms", "between 0 and 86400000", NULL, "86400001"},
        {"max_in_flight", "between 1 and 100000", "0", "100001"},
        {"max_in_flight_per_webhook", "between 1 and 1000", "0", "1001"},
        {"disable_after_ms", "0 or an integer between 1000 and 31536000000", "999", "31536000001"},
        {"retention_ms", "between 1000 and 31536000000", "999", "31536000001"},
        {"max_recover", "between 1 and 100000", "0", "100001"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *values[] = {keys[i].below ? keys[i].below : "-1", keys[i].above, "\"5\"", "[ 5 ]", "~"};
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            char yaml[256], want[CONFIG_ERROR_MAX];
            snprintf(yaml, sizeof yaml, LISTEN "delivery:\n  %s: %s\n", keys[i].key, values[v]);
            snprintf(want, sizeof want, "t.yaml:5:%zu: delivery.%s: must be %s%s", strlen(keys[i].key) + 5,
                     keys[i].key, strncmp(keys[i].range, "0 or", 4) == 0 ? "" : "an integer ", keys[i].range);
            expect_error(__LINE__, yaml, strlen(yaml), want, 0);
        }
    }
    /* a value that read_uint would take, but under the floor of a key whose 0 means never */
    EXPECT_ERROR(LISTEN "delivery:\n  disable_after_ms: 1\n",
                 "t.yaml:5:21: delivery.disable_after_ms: must be 0 or an integer between 1000 and 31536000000");

    /* retry_schedule_ms: 1..32 entries, each 0..86400000 */
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: []\n",
                 "t.yaml:5:22: delivery.retry_schedule_ms: must have between 1 and 32 waits");
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: 5000\n",
                 "t.yaml:5:22: delivery.retry_schedule_ms: expected a list, not a scalar");
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: { a: 1 }\n",
                 "t.yaml:5:22: delivery.retry_schedule_ms: expected a list, not a mapping");
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: [ 0, 86400001 ]\n",
                 "t.yaml:5:27: delivery.retry_schedule_ms[1]: must be an integer between 0 and 86400000");
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: [ -1 ]\n",
                 "t.yaml:5:24: delivery.retry_schedule_ms[0]: must be an integer between 0 and 86400000");
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: [ 0, \"5000\" ]\n",
                 "t.yaml:5:27: delivery.retry_schedule_ms[1]: must be an integer between 0 and 86400000");
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: [ [ 0 ] ]\n",
                 "t.yaml:5:24: delivery.retry_schedule_ms[0]: must be an integer between 0 and 86400000");
    /* exactly CONFIG_MAX_RETRY_SCHEDULE waits load, in order; one more does not */
    char text[2048];
    size_t len = (size_t)snprintf(text, sizeof text, "%sdelivery:\n  retry_schedule_ms:\n", LISTEN);
    for (int i = 0; i < CONFIG_MAX_RETRY_SCHEDULE; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "    - %d\n", 1000 * i);
    cfg = parse_ok(__LINE__, text);
    CHECK(cfg != NULL && cfg->delivery.n_retry_schedule == CONFIG_MAX_RETRY_SCHEDULE);
    for (int i = 0; cfg != NULL && i < CONFIG_MAX_RETRY_SCHEDULE; i++)
        CHECK(cfg->delivery.retry_schedule_ms[i] == 1000u * (unsigned)i);
    config_destroy(cfg);
    len += (size_t)snprintf(text + len, sizeof text - len, "    - 5\n");
    CHECK(len < sizeof text);
    char want[CONFIG_ERROR_MAX];
    snprintf(want, sizeof want, "t.yaml:%d:7: delivery.retry_schedule_ms: must have between 1 and %d waits",
             6 + CONFIG_MAX_RETRY_SCHEDULE, CONFIG_MAX_RETRY_SCHEDULE);
    expect_error(__LINE__, text, len, want, 0);
    EXPECT_ERROR(LISTEN "delivery:\n  retry_schedule_ms: [ 0 ]\n  retry_schedule_ms: [ 1 ]\n",
                 "t.yaml:6:3: delivery: duplicate key \"retry_schedule_ms\"");
}

/* store.json_cache_bytes: 256 MiB unless given; 0 turns the cache off (its upper bound is
 * checked with the other store keys). */
static void test_json_cache(void)
{
    config *cfg = parse_ok(__LINE__, LISTEN "store:\n  json_cache_bytes: 0\n");
    CHECK(cfg != NULL && cfg->store_json_cache_bytes == 0);
    config_destroy(cfg);
    cfg = parse_ok(__LINE__, LISTEN "store:\n  json_cache_bytes: 1099511627776\n");
    CHECK(cfg != NULL && cfg->store_json_cache_bytes == 1ull << 40);
    config_destroy(cfg);
}

/* store.postgres: its keys, their bounds, and that it excludes store.path. */
static void test_postgres(void)
{
    config *cfg = parse_ok(__LINE__, LISTEN);
    CHECK(cfg != NULL && cfg->store_pg_conninfo == NULL && cfg->store_pg_connections == 4 &&
          cfg->store_pg_statement_timeout_ms == 5000);
    config_destroy(cfg);
    cfg = parse_ok(__LINE__, LISTEN "store:\n  postgres: { conninfo: \"host=127.0.0.1 dbname=hookgate\" }\n");
    CHECK(cfg != NULL && cfg->store_pg_conninfo != NULL && cfg->store_path == NULL);
    if (cfg != NULL && cfg->store_pg_conninfo != NULL)
        CHECK_STR(cfg->store_pg_conninfo, "host=127.0.0.1 dbname=hookgate");
    config_destroy(cfg);
    cfg = parse_ok(__LINE__, LISTEN "store:\n  postgres:\n    conninfo: postgresql://h/db\n    connections_per_loop: 64\n"
                                    "    statement_timeout_ms: 100\n");
    CHECK(cfg != NULL && cfg->store_pg_connections == 64 && cfg->store_pg_statement_timeout_ms == 100);
    config_destroy(cfg);
    EXPECT_ERROR(LISTEN "store:\n  postgres: { connections_per_loop: 2 }\n",
                 "t.yaml:5:13: store.postgres: missing key \"conninfo\"");
    EXPECT_ERROR(LISTEN "store:\n  postgres: { conninfo: \"\" }\n",
                 "t.yaml:5:25: store.postgres.conninfo: must be between 1 and 4096 bytes");
    EXPECT_ERROR(LISTEN "store:\n  postgres: { conninfo: x, connections_per_loop: 0 }\n",
                 "t.yaml:5:50: store.postgres.connections_per_loop: must be an integer between 1 and 64");
    EXPECT_ERROR(LISTEN "store:\n  postgres: { conninfo: x, connections_per_loop: 65 }\n",
                 "t.yaml:5:50: store.postgres.connections_per_loop: must be an integer between 1 and 64");
    EXPECT_ERROR(LISTEN "store:\n  postgres: { conninfo: x, statement_timeout_ms: 99 }\n",
                 "t.yaml:5:50: store.postgres.statement_timeout_ms: must be an integer between 100 and 600000");
    EXPECT_ERROR(LISTEN "store:\n  path: /tmp/x\n  postgres: { conninfo: x }\n",
                 "t.yaml:6:3: store.postgres: store.path and store.postgres are exclusive (one store per node)");
    EXPECT_ERROR(LISTEN "store:\n  postgres: { conninfo: x }\n  path: /tmp/x\n",
                 "t.yaml:5:3: store.postgres: store.path and store.postgres are exclusive (one store per node)");
}

static void test_listeners(void)
{
    EXPECT_ERROR("server:\n  threads: 1\n", "t.yaml:2:3: server: missing key \"listen\"");
    EXPECT_ERROR("limits: {}\n", "t.yaml:1:1: missing key \"server\"");
    EXPECT_ERROR("server:\n  listen: []\n", "t.yaml:2:11: server.listen: must have between 1 and 16 listeners");
    EXPECT_ERROR("server:\n  listen:\n    - address: 127.0.0.1\n",
                 "t.yaml:3:7: server.listen[0]: missing key \"port\"");
    EXPECT_ERROR("server:\n  listen:\n    - { port: 8080 }\n", "t.yaml:3:7: server.listen[0]: missing key \"address\"");
    EXPECT_ERROR("server:\n  listen:\n    - { address: localhost, port: 8080 }\n",
                 "t.yaml:3:18: server.listen[0].address: must be a numeric IPv4 or IPv6 address");
    EXPECT_ERROR("server:\n  listen:\n    - { address: \"[::1]\", port: 8080 }\n",
                 "t.yaml:3:18: server.listen[0].address: must be a numeric IPv4 or IPv6 address");
    EXPECT_ERROR("server:\n  listen:\n    - { address: 1.2.3.4.5, port: 8080 }\n",
                 "t.yaml:3:18: server.listen[0].address: must be a numeric IPv4 or IPv6 address");
    EXPECT_ERROR("server:\n  listen:\n    - { address: \"0000:0000:0000:0000:0000:0000:0000:0000:0000:"
                 "0000:0000:0000:0000\", port: 8080 }\n",
                 "t.yaml:3:18: server.listen[0].address: must be a numeric IPv4 or IPv6 address");
    EXPECT_ERROR("server:\n  listen:\n    - address: 127.0.0.1\n      port: 8080\n      tls: {}\n",
                 "t.yaml:5:12: server.listen[0].tls: missing key \"certificate\"");
    EXPECT_ERROR("server:\n  listen:\n    - address: 127.0.0.1\n      port: 8080\n"
                 "      tls:\n        certificate: c.pem\n",
                 "t.yaml:6:9: server.listen[0].tls: missing key \"key\"");
    EXPECT_ERROR("server:\n  listen:\n    - address: 127.0.0.1\n      port: 8080\n      tls:\n",
                 "t.yaml:5:11: server.listen[0].tls: expected a mapping, not a scalar");

    /* CONFIG_MAX_LISTENERS listeners load; one more does not */
    char yaml[2048];
    size_t len = (size_t)snprintf(yaml, sizeof yaml, "server:\n  listen:\n");
    int i;
    for (i = 0; i < CONFIG_MAX_LISTENERS; i++)
        len += (size_t)snprintf(yaml + len, sizeof yaml - len, "    - { address: 127.0.0.1, port: %d }\n", 8000 + i);
    config *cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg && cfg->n_listeners == CONFIG_MAX_LISTENERS && cfg->listeners[15].port == 8015);
    config_destroy(cfg);
    snprintf(yaml + len, sizeof yaml - len, "    - { address: ::1, port: 9000 }\n");
    EXPECT_ERROR(yaml, "t.yaml:19:7: server.listen: must have between 1 and 16 listeners");
}

/* server.console: on (the default) or off, nothing else; a change takes a restart. */
static void test_console(void)
{
    config *cfg = parse_ok(__LINE__, LISTEN);
    CHECK(cfg != NULL && cfg->console == 1);
    config *on = parse_ok(__LINE__, LISTEN "  console: on\n");
    CHECK(on != NULL && on->console == 1 && cfg != NULL && config_same_server(cfg, on));
    config *off = parse_ok(__LINE__, LISTEN "  console: off\n");
    CHECK(off != NULL && off->console == 0 && cfg != NULL && !config_same_server(cfg, off));
    config_destroy(off);
    config_destroy(on);
    config_destroy(cfg);
    EXPECT_ERROR(LISTEN "  console: true\n", "t.yaml:4:12: server.console: must be on or off");
    EXPECT_ERROR(LISTEN "  console: [ on ]\n", "t.yaml:4:12: server.console: expected a string, not a list");
}

/* server.cors.allowed_origins: exact origins as browsers send them, at most
 * CONFIG_MAX_CORS_ORIGINS, none by default; a change takes a restart. */
static void test_cors(void)
{
    config *cfg = parse_ok(__LINE__, LISTEN);
    CHECK(cfg != NULL && cfg->n_cors_origins == 0);
    config *with = parse_ok(__LINE__, LISTEN "  cors:\n    allowed_origins: [ \"http://127.0.0.1:8081\", "
                                             "\"https://app.example.com\", \"http://[::1]:3000\", "
                                             "\"https://xn--bcher-kva.example:8443\" ]\n");
    CHECK(with != NULL && with->n_cors_origins == 4 && strcmp(with->cors_origins[0], "http://127.0.0.1:8081") == 0 &&
          strcmp(with->cors_origins[1], "https://app.example.com") == 0 &&
          strcmp(with->cors_origins[2], "http://[::1]:3000") == 0 &&
          strcmp(with->cors_origins[3], "https://xn--bcher-kva.example:8443") == 0);
    CHECK(cfg != NULL && with != NULL && !config_same_server(cfg, with)); /* the origins take a restart */
    config_destroy(with);
    with = parse_ok(__LINE__, LISTEN "  cors: { allowed_origins: [] }\n");
    CHECK(with != NULL && with->n_cors_origins == 0 && config_same_server(cfg, with));
    config_destroy(with);
    config_destroy(cfg);

#define ORIGIN(o) LISTEN "  cors:\n    allowed_origins: [ \"" o "\" ]\n"
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {ORIGIN("*"), "\"*\" is not accepted: list each origin whose pages may call the API"},
        {ORIGIN("null"), "must be http://host[:port] or https://host[:port] (lowercase, as a browser sends it)"},
        {ORIGIN("HTTP://a.example"),
         "must be http://host[:port] or https://host[:port] (lowercase, as a browser sends it)"},
        {ORIGIN("ftp://a.example"),
         "must be http://host[:port] or https://host[:port] (lowercase, as a browser sends it)"},
        {ORIGIN("http://A.example"), "must be lowercase, as a browser sends it"},
        {ORIGIN("http://[::ABCD]:1"), "must be lowercase, as a browser sends it"},
        {ORIGIN("http://a.example/"),
         "must be http://host[:port] or https://host[:port]: no path, query, user or other characters"},
        {ORIGIN("http://a.example:8080/app"),
         "must be http://host[:port] or https://host[:port]: no path, query, user or other characters"},
        {ORIGIN("http://user@a.example"),
         "must be http://host[:port] or https://host[:port]: no path, query, user or other characters"},
        {ORIGIN("http://"), "must have a host: a name, an IPv4 address or a bracketed IPv6 address"},
        {ORIGIN("http://:8080"), "must have a host: a name, an IPv4 address or a bracketed IPv6 address"},
        {ORIGIN("http://[nope]"), "must have a host: a name, an IPv4 address or a bracketed IPv6 address"},
        {ORIGIN("http://[::1"), "must have a host: a name, an IPv4 address or a bracketed IPv6 address"},
        {ORIGIN("http://a.example:"), "must have a port of 1..65535, without leading zeros"},
        {ORIGIN("http://a.example:0"), "must have a port of 1..65535, without leading zeros"},
        {ORIGIN("http://a.example:08080"), "must have a port of 1..65535, without leading zeros"},
        {ORIGIN("http://a.example:65536"), "must have a port of 1..65535, without leading zeros"},
        {ORIGIN("http://a.example:80"), "must leave out the scheme's default port, as a browser does"},
        {ORIGIN("https://a.example:443"), "must leave out the scheme's default port, as a browser does"},
    };
#undef ORIGIN
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[CONFIG_ERROR_MAX];
        snprintf(want, sizeof want, "t.yaml:5:24: server.cors.allowed_origins[0]: %s", bad[i].want);
        expect_error(__LINE__, bad[i].yaml, strlen(bad[i].yaml), want, 0);
    }
    EXPECT_ERROR(LISTEN "  cors:\n    allowed_origins: [ \"https://a.example:8443\", \"https://a.example:8443\" ]\n",
                 "t.yaml:5:50: server.cors.allowed_origins[1]: is listed twice");
    EXPECT_ERROR(LISTEN "  cors:\n    allowed_origins: \"http://a.example\"\n",
                 "t.yaml:5:22: server.cors.allowed_origins: expected a list, not a scalar");
    EXPECT_ERROR(LISTEN "  cors:\n    origins: []\n", "t.yaml:5:5: server.cors: unknown key \"origins\"");

    /* the longest origin loads, one byte more does not */
    char host[CONFIG_ORIGIN_MAX], yaml[2048];
    memset(host, 'a', sizeof host);
    host[CONFIG_ORIGIN_MAX - 1 - 7] = '\0'; /* "http://" + host = CONFIG_ORIGIN_MAX - 1 bytes */
    snprintf(yaml, sizeof yaml, LISTEN "  cors:\n    allowed_origins: [ http://%s ]\n", host);
    cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg != NULL && cfg->n_cors_origins == 1 && strlen(cfg->cors_origins[0]) == CONFIG_ORIGIN_MAX - 1);
    config_destroy(cfg);
    snprintf(yaml, sizeof yaml, LISTEN "  cors:\n    allowed_origins: [ http://a%s ]\n", host);
    EXPECT_ERROR(yaml, "t.yaml:5:24: server.cors.allowed_origins[0]: must be at most 255 bytes");

    /* CONFIG_MAX_CORS_ORIGINS origins load; one more does not */
    size_t len = (size_t)snprintf(yaml, sizeof yaml, LISTEN "  cors:\n    allowed_origins:\n");
    for (int i = 0; i < CONFIG_MAX_CORS_ORIGINS; i++)
        len += (size_t)snprintf(yaml + len, sizeof yaml - len, "      - http://127.0.0.1:%d\n", 8000 + i);
    cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg != NULL && cfg->n_cors_origins == CONFIG_MAX_CORS_ORIGINS &&
          strcmp(cfg->cors_origins[CONFIG_MAX_CORS_ORIGINS - 1], "http://127.0.0.1:8031") == 0);
    config_destroy(cfg);
    snprintf(yaml + len, sizeof yaml - len, "      - http://127.0.0.1:9000\n");
    EXPECT_ERROR(yaml, "t.yaml:38:9: server.cors.allowed_origins: must have between 0 and 32 origins");
}

static void test_accounts(void)
{
    EXPECT_ERROR(LISTEN "accounts:\n  - tokens: []\n", "t.yaml:5:5: accounts[0]: missing key \"id\"");
    EXPECT_ERROR(LISTEN "accounts:\n  - id: \"\"\n", "t.yaml:5:9: accounts[0].id: must be between 1 and 127 bytes");
    EXPECT_ERROR(LISTEN "accounts:\n  - id: acme\n  - id: beta\n  - id: acme\n",
                 "t.yaml:7:9: accounts[2].id: duplicate account id \"acme\" (first at line 5, column 9)");

    /* ids of 127 bytes load; 128 do not */
    char yaml[512], id[CONFIG_ID_MAX + 1];
    memset(id, 'x', CONFIG_ID_MAX - 1);
    id[CONFIG_ID_MAX - 1] = '\0';
    snprintf(yaml, sizeof yaml, LISTEN "accounts:\n  - id: %s\n", id);
    config *cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg && strcmp(cfg->accounts[0].id, id) == 0);
    config_destroy(cfg);
    snprintf(yaml, sizeof yaml, LISTEN "accounts:\n  - id: %sx\n", id);
    EXPECT_ERROR(yaml, "t.yaml:5:9: accounts[0].id: must be between 1 and 127 bytes");
}

static void test_ecosystems(void)
{
    EXPECT_ERROR(ACCOUNT "    ecosystems: [ { deleted: true } ]\n",
                 "t.yaml:6:19: accounts[0].ecosystems[0]: missing key \"id\"");
    static const char *const bad[] = {
        "C5156B8ACE57896ADB6DAE592",  /* uppercase */
        "C5156b8ace57896adb6dae59",   /* 23 digits */
        "C5156b8ace57896adb6dae5920", /* 25 digits */
        "c5156b8ace57896adb6dae592",  /* lowercase C */
        "X5156b8ace57896adb6dae592",  "C5156b8ace57896adb6dae59g",
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, ACCOUNT "    ecosystems:\n      - id: %s\n", bad[i]);
        EXPECT_ERROR(yaml, "t.yaml:7:13: accounts[0].ecosystems[0].id: must be \"C\" followed by "
                           "24 lowercase hex digits");
    }
    /* unique across the whole file, not just one account */
    EXPECT_ERROR(ACCOUNT "    ecosystems: [ { id: C5156b8ace57896adb6dae592 } ]\n"
                         "  - id: beta\n"
                         "    ecosystems:\n"
                         "      - { id: C000000000000000000000001 }\n"
                         "      - { id: C5156b8ace57896adb6dae592 }\n",
                 "t.yaml:10:15: accounts[1].ecosystems[1].id: duplicate ecosystem id "
                 "\"C5156b8ace57896adb6dae592\" (first at line 6, column 25)");
}

/* Token errors name the place, never the token: none of them may quote the text. */
static void expect_token_error(int line, const char *tokens, const char *want, const char *secret)
{
    char yaml[CONFIG_ERROR_MAX + 8192], err[CONFIG_ERROR_MAX];
    snprintf(yaml, sizeof yaml, ACCOUNT "    tokens: [ %s ]\n", tokens);
    expect_error(line, yaml, strlen(yaml), want, 0);
    config *cfg = config_parse("t.yaml", yaml, strlen(yaml), err);
    CHECK(cfg == NULL && strstr(err, secret) == NULL);
}

static void test_tokens(void)
{
    expect_token_error(__LINE__, "\"open sesame\"", "t.yaml:6:15: accounts[0].tokens[0]: must not contain whitespace",
                       "sesame");
    expect_token_error(__LINE__, "ok, \"open\\tsesame\"",
                       "t.yaml:6:19: accounts[0].tokens[1]: must not contain control characters", "sesame");
    expect_token_error(__LINE__, "\"\"",
                       "t.yaml:6:15: accounts[0].tokens[0]: must be between 1 "
                       "and 4096 bytes",
                       "\"\"");
    expect_token_error(__LINE__, "~", "t.yaml:6:15: accounts[0].tokens[0]: expected a string, not null", "~");
    expect_token_error(__LINE__, "\"sha256:" HELLO_HEX_UPPER "zz\"",
                       "t.yaml:6:15: accounts[0].tokens[0]: \"sha256:\" must be followed by 64 hex digits",
                       HELLO_HEX_UPPER);
    expect_token_error(__LINE__, "\"sha256:gcf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"",
                       "t.yaml:6:15: accounts[0].tokens[0]: \"sha256:\" must be followed by 64 hex digits", "gcf24dba");
    /* the same token twice, once as text and once as its digest */
    expect_token_error(__LINE__, "hello, other, \"sha256:" HELLO_HEX "\"",
                       "t.yaml:6:29: accounts[0].tokens[2]: duplicate token (first at line 6, column 15)", HELLO_HEX);
    /* an account token that repeats a server token elsewhere in the file */
    EXPECT_ERROR(ACCOUNT "    ecosystems:\n      - { id: C000000000000000000000001, server_tokens: [ s3cret ] }\n"
                         "  - id: beta\n    tokens:\n      - s3cret\n",
                 "t.yaml:10:9: accounts[1].tokens[0]: duplicate token (first at line 7, column 59)");

    /* 4096 bytes load; 4097 do not */
    char token[4098], yaml[4200];
    memset(token, 'k', 4096);
    token[4096] = '\0';
    snprintf(yaml, sizeof yaml, ACCOUNT "    tokens: [ %s ]\n", token);
    config *cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg && cfg->accounts[0].n_tokens == 1 && digest_of(cfg->accounts[0].tokens[0].digest, token));
    config_destroy(cfg);
    /* CONFIG_MAX_TOKENS tokens load; one more does not */
    size_t cap = (CONFIG_MAX_TOKENS + 1) * 12 + 256;
    char *many = malloc(cap);
    size_t used = (size_t)snprintf(many, cap, ACCOUNT "    tokens: [ ");
    for (int i = 0; i < CONFIG_MAX_TOKENS; i++)
        used += (size_t)snprintf(many + used, cap - used, "%st%d", i ? ", " : "", i);
    snprintf(many + used, cap - used, " ]\n");
    cfg = parse_ok(__LINE__, many);
    CHECK(cfg && cfg->accounts[0].n_tokens == CONFIG_MAX_TOKENS);
    config_destroy(cfg);
    snprintf(many + used, cap - used, ", t%d ]\n", CONFIG_MAX_TOKENS);
    char want[128];
    snprintf(want, sizeof want, "accounts[0].tokens: must have between 0 and %d tokens", CONFIG_MAX_TOKENS);
    char err[CONFIG_ERROR_MAX];
    cfg = config_parse("t.yaml", many, strlen(many), err);
    CHECK(cfg == NULL && strstr(err, want) != NULL);
    if (cfg != NULL || strstr(err, want) == NULL)
        fprintf(stderr, "  got: %s\n  want it to contain: %s\n", cfg ? "(a config)" : err, want);
    config_destroy(cfg);
    free(many);

    strcat(token, "k");
    expect_token_error(__LINE__, token,
                       "t.yaml:6:15: accounts[0].tokens[0]: must be between 1 and "
                       "4096 bytes",
                       "kkkkkkkk");
}

static void test_yaml(void)
{
    EXPECT_ERROR("", "t.yaml:1:1: the document is empty");
    EXPECT_ERROR("# nothing here\n\n", "t.yaml:3:1: the document is empty");
    EXPECT_ERROR("---\n", "t.yaml:2:1: the document is empty");
    EXPECT_ERROR(LISTEN "  threads: 1\n  threads: 2\n", "t.yaml:5:3: server: duplicate key \"threads\"");
    EXPECT_ERROR(LISTEN "limits: {}\nlimits: {}\n", "t.yaml:5:1: duplicate key \"limits\"");
    EXPECT_ERROR_PREFIX("server:\n  listen: [ { address: 127.0.0.1, port: 8080 }\n", "t.yaml:3:1: ");
    EXPECT_ERROR_PREFIX(LISTEN "   threads: 1\n", "t.yaml:4:4: did not find expected key");
    EXPECT_ERROR_PREFIX(LISTEN "limits: {max_body_bytes: 1\n", "t.yaml:5:1: did not find expected ',' or '}'");
    EXPECT_ERROR_PREFIX(LISTEN "\tthreads: 1\n", "t.yaml:4:1: found character that cannot start any token");
    EXPECT_ERROR(LISTEN "---\nserver: {}\n", "t.yaml:4:1: only one document is allowed");
    EXPECT_ERROR("server:\n  listen: &l [ *l ]\n", "t.yaml:2:11: server.listen: anchors are not supported");
    EXPECT_ERROR("server:\n  listen: *l\n", "t.yaml:2:11: server.listen: aliases are not supported");
    EXPECT_ERROR(LISTEN "  threads: !!int 1\n", "t.yaml:4:12: server.threads: tags are not supported");
    /* invalid UTF-8 and a NUL byte: reader errors, placed by their byte offset */
    EXPECT_ERROR_PREFIX(LISTEN "store: { path: \"\xff\" }\n", "t.yaml:4:17: ");
    expect_error(__LINE__, LISTEN "# a\0b\n", sizeof LISTEN + 5, "t.yaml:4:4: control characters are not allowed", 0);
}

static void test_size(void)
{
    char err[CONFIG_ERROR_MAX];
    char *text = malloc(FILE_MAX + 1);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    /* a valid file padded with a comment to exactly the cap loads */
    memset(text, '#', FILE_MAX + 1);
    memcpy(text, LISTEN, strlen(LISTEN));
    text[FILE_MAX - 1] = '\n';
    config *cfg = config_parse("t.yaml", text, FILE_MAX, err);
    CHECK(cfg != NULL);
    config_destroy(cfg);
    cfg = config_parse("t.yaml", text, FILE_MAX + 1, err);
    CHECK(cfg == NULL);
    CHECK_STR(err, "t.yaml: file is larger than 1048576 bytes");
    free(text);
}

static int write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(text, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static void test_load(void)
{
    char err[CONFIG_ERROR_MAX], dir[] = "/tmp/test_config.XXXXXX", path[64];
    config *cfg;

    cfg = config_load("/nonexistent/hookgate.yaml", err);
    CHECK(cfg == NULL);
    CHECK_STR(err, "/nonexistent/hookgate.yaml: No such file or directory");

    CHECK(mkdtemp(dir) != NULL);
    cfg = config_load(dir, err);
    CHECK(cfg == NULL);
    CHECK(strncmp(err, dir, strlen(dir)) == 0 && strcmp(err + strlen(dir), ": Is a directory") == 0);

    snprintf(path, sizeof path, "%s/good.yaml", dir);
    CHECK(write_file(path, LISTEN "  threads: 3\n", strlen(LISTEN) + 13) == 0);
    cfg = config_load(path, err);
    CHECK(cfg != NULL && cfg->threads == 3 && cfg->listeners[0].port == 8080);
    config_destroy(cfg);
    CHECK(unlink(path) == 0);

    /* errors name the file as given */
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    CHECK(write_file(path, LISTEN "  threads: x\n", strlen(LISTEN) + 13) == 0);
    cfg = config_load(path, err);
    CHECK(cfg == NULL);
    char want[CONFIG_ERROR_MAX];
    snprintf(want, sizeof want, "%s:4:12: server.threads: must be an integer between 0 and 256", path);
    CHECK_STR(err, want);
    CHECK(unlink(path) == 0);

    snprintf(path, sizeof path, "%s/big.yaml", dir);
    char *text = malloc(FILE_MAX + 1);
    CHECK(text != NULL);
    if (text) {
        memset(text, '\n', FILE_MAX + 1);
        memcpy(text, LISTEN, strlen(LISTEN));
        CHECK(write_file(path, text, FILE_MAX + 1) == 0);
        cfg = config_load(path, err);
        CHECK(cfg == NULL);
        snprintf(want, sizeof want, "%s: file is larger than 1048576 bytes", path);
        CHECK_STR(err, want);
        free(text);
    }
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);

    config_destroy(NULL);
}

/* Out of memory, SQLite's way, over config_load of the shipped config/hookgate.yaml (run
 * from the source tree: the tests' working directory). A load that runs out returns NULL
 * with "out of memory" in err (not a YAML complaint about a good file, nor an empty
 * message), frees everything, and one that completes is the same configuration as an
 * unhindered load (config_same_server plus the accounts). */
typedef struct config_oom {
    config *cfg, *ref;
    char err[CONFIG_ERROR_MAX];
} config_oom;

static int config_oom_load(void *ctx)
{
    config_oom *o = ctx;
    o->err[0] = '\0';
    o->cfg = config_load("config/hookgate.yaml", o->err);
    return o->cfg != NULL ? 0 : -1;
}

static void config_oom_check(void *ctx, int ok)
{
    config_oom *o = ctx;
    if (!ok) {
        if (strstr(o->err, "out of memory") == NULL && strstr(o->err, strerror(ENOMEM)) == NULL) {
            fprintf(stderr, "config_load out of memory said: \"%s\"\n", o->err);
            test_failures++;
        }
        return;
    }
    CHECK(config_same_server(o->cfg, o->ref));
    CHECK(o->cfg->n_accounts == o->ref->n_accounts);
    for (size_t i = 0; i < o->cfg->n_accounts && i < o->ref->n_accounts; i++) {
        const config_account *a = &o->cfg->accounts[i], *r = &o->ref->accounts[i];
        CHECK_STR(a->id, r->id);
        CHECK(a->n_tokens == r->n_tokens && a->n_ecosystems == r->n_ecosystems);
        /* the token digests too: a digest that failed to compute is the worst outcome */
        for (size_t k = 0; k < a->n_tokens && k < r->n_tokens; k++)
            CHECK(memcmp(a->tokens[k].digest, r->tokens[k].digest, CONFIG_TOKEN_DIGEST_LEN) == 0);
        for (size_t e = 0; e < a->n_ecosystems && e < r->n_ecosystems; e++) {
            CHECK_STR(a->ecosystems[e].id, r->ecosystems[e].id);
            CHECK(a->ecosystems[e].n_server_tokens == r->ecosystems[e].n_server_tokens);
            for (size_t k = 0; k < a->ecosystems[e].n_server_tokens && k < r->ecosystems[e].n_server_tokens; k++)
                CHECK(memcmp(a->ecosystems[e].server_tokens[k].digest, r->ecosystems[e].server_tokens[k].digest,
                             CONFIG_TOKEN_DIGEST_LEN) == 0);
        }
    }
}

static void config_oom_teardown(void *ctx)
{
    config_oom *o = ctx;
    config_destroy(o->cfg);
    o->cfg = NULL;
}

static void test_out_of_memory(void)
{
    static config_oom o;
    o.ref = config_load("config/hookgate.yaml", o.err);
    CHECK(o.ref != NULL);
    if (o.ref == NULL)
        return;
    oom_op op = {"config_load(config/hookgate.yaml)", &o, NULL, config_oom_load, config_oom_check,
                 config_oom_teardown};
    CHECK(oom_loop(&op) == 0);
    CHECK(oom_loop_persistent(&op) == 0);
    config_destroy(o.ref);
}

/* store.secret_key_file and store.previous_secret_key_files: parsed with where they were
 * named; previous keys need a current one, at most CONFIG_MAX_PREVIOUS_KEYS; a key change
 * needs a restart; config_secret_keys reads the files and names the key at fault. */
static void test_secret_keys(void)
{
    config *cfg = parse_ok(__LINE__, LISTEN "store:\n  secret_key_file: /k/current\n"
                                            "  previous_secret_key_files: [ /k/old1, /k/old2 ]\n");
    if (cfg != NULL) {
        CHECK_STR(cfg->store_secret_key.path, "/k/current");
        CHECK_STR(cfg->store_secret_key.where, "t.yaml:5:20: store.secret_key_file");
        CHECK(cfg->n_store_previous_keys == 2);
        CHECK_STR(cfg->store_previous_keys[1].path, "/k/old2");
        CHECK_STR(cfg->store_previous_keys[1].where, "t.yaml:6:41: store.previous_secret_key_files[1]");
        config *other = parse_ok(__LINE__, LISTEN "store:\n  secret_key_file: /k/current\n");
        CHECK(other != NULL && !config_same_server(cfg, other)); /* a key change takes a restart */
        config_destroy(other);
    }
    config_destroy(cfg);
    EXPECT_ERROR(LISTEN "store:\n  previous_secret_key_files: [ /k/old ]\n",
                 "t.yaml:5:3: store.previous_secret_key_files: needs store.secret_key_file (the key that seals from "
                 "now on)");
    EXPECT_ERROR(LISTEN "store:\n  secret_key_file: /k\n  previous_secret_key_files: [ a, b, c, d, e, f, g, h ]\n",
                 "t.yaml:6:53: store.previous_secret_key_files: must have between 0 and 7 key files");
    EXPECT_ERROR(LISTEN "store:\n  secret_key_file: \"\"\n",
                 "t.yaml:5:20: store.secret_key_file: must be between 1 and 4096 bytes");

    /* the files */
    char dir[] = "/tmp/test_config.XXXXXX", k1[64], k2[64], yaml[512], err[CONFIG_ERROR_MAX], want[CONFIG_ERROR_MAX];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(k1, sizeof k1, "%s/k1", dir);
    snprintf(k2, sizeof k2, "%s/k2", dir);
    uint8_t key[SEAL_KEY_LEN];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    CHECK(write_file(k1, (const char *)key, sizeof key) == 0 && chmod(k1, 0600) == 0);
    key[0] ^= 0xff;
    CHECK(write_file(k2, (const char *)key, sizeof key) == 0 && chmod(k2, 0644) == 0);
    seal_keyring *keys = (seal_keyring *)&keys; /* not NULL: config_secret_keys must set it */
    cfg = parse_ok(__LINE__, LISTEN);
    CHECK(cfg != NULL && config_secret_keys(cfg, &keys, err) == 0 && keys == NULL);
    config_destroy(cfg);
    snprintf(yaml, sizeof yaml, LISTEN "store:\n  secret_key_file: %s\n", k1);
    cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg != NULL && config_secret_keys(cfg, &keys, err) == 0 && seal_keyring_can_seal(keys));
    seal_keyring_destroy(keys);
    config_destroy(cfg);
    snprintf(yaml, sizeof yaml, LISTEN "store:\n  secret_key_file: %s\n  previous_secret_key_files: [ %s ]\n", k1, k2);
    cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg != NULL && config_secret_keys(cfg, &keys, err) == -1 && keys == NULL);
    snprintf(want, sizeof want,
             "t.yaml:6:32: store.previous_secret_key_files[0]: %s: group or others may read or write it (mode 0644)",
             k2);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    config_destroy(cfg);
    CHECK(chmod(k2, 0400) == 0);
    cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg != NULL && config_secret_keys(cfg, &keys, err) == 0 && keys != NULL);
    seal_keyring_destroy(keys);
    config_destroy(cfg);
    CHECK(unlink(k1) == 0 && unlink(k2) == 0);
    cfg = parse_ok(__LINE__, yaml);
    CHECK(cfg != NULL && config_secret_keys(cfg, &keys, err) == -1 && keys == NULL);
    snprintf(want, sizeof want, "t.yaml:5:20: store.secret_key_file: %s: No such file or directory", k1);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    config_destroy(cfg);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    test_default();
    test_full();
    test_many();
    test_unknown_keys();
    test_wrong_types();
    test_integers();
    test_delivery();
    test_delivery_events();
    test_json_cache();
    test_postgres();
    test_listeners();
    test_cors();
    test_console();
    test_accounts();
    test_ecosystems();
    test_tokens();
    test_yaml();
    test_size();
    test_load();
    test_secret_keys();
    test_out_of_memory();
    return test_exit_code();
}
