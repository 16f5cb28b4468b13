/* fuzz_config: arbitrary YAML through config_parse, as --config and --check-config read it.
 *
 * config.h promises that a config that loads is complete and within every documented
 * range, and that one that does not load yields "file:line:column: what is wrong" (or
 * "file: out of memory"). Both are checked, and the config is freed. */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define NAME "fuzz.yaml"

static void check_listeners(const config_listener *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(l[i].port >= 1, "a listener without a port");
        FUZZ_CHECK(memchr(l[i].address, '\0', sizeof(l[i].address)) != NULL && l[i].address[0] != '\0',
                   "a listener without an address");
        FUZZ_CHECK((l[i].tls_certificate == NULL) == (l[i].tls_key == NULL), "a TLS certificate without its key");
    }
}

static void check_config(const config *cfg)
{
    FUZZ_CHECK(cfg->n_listeners >= 1 && cfg->n_listeners <= CONFIG_MAX_LISTENERS, "listeners out of range");
    FUZZ_CHECK(cfg->n_grpc_listeners <= CONFIG_MAX_LISTENERS, "gRPC listeners out of range");
    check_listeners(cfg->listeners, cfg->n_listeners);
    check_listeners(cfg->grpc_listeners, cfg->n_grpc_listeners);
    FUZZ_CHECK(cfg->grpc_idle_timeout_ms >= 100 && cfg->grpc_idle_timeout_ms <= 3600000, "grpc idle timeout");
    FUZZ_CHECK(cfg->threads <= CONFIG_MAX_THREADS, "threads out of range");
    FUZZ_CHECK(cfg->max_connections >= 1 && cfg->max_connections <= 1000000, "max_connections out of range");
    FUZZ_CHECK(cfg->max_connections_per_address <= 1000000, "max_connections_per_address out of range");
    FUZZ_CHECK(cfg->idle_eviction_ms <= 3600000, "idle_eviction_ms out of range");
    const config_limits *l = &cfg->limits;
    FUZZ_CHECK(l->max_body_bytes >= 1 && l->max_body_bytes <= 64u << 20, "max_body_bytes out of range");
    FUZZ_CHECK(l->max_url_length >= 1 && l->max_url_length <= 65536, "max_url_length out of range");
    FUZZ_CHECK(l->max_description_length <= 65536, "max_description_length out of range");
    FUZZ_CHECK(l->max_secret_length <= 65536, "max_secret_length out of range");
    FUZZ_CHECK(l->creates_per_second_per_token <= 1000000, "creates_per_second_per_token out of range");
    const config_delivery *d = &cfg->delivery;
    FUZZ_CHECK(d->max_items >= 1 && d->max_items <= 1000, "delivery.max_items out of range");
    FUZZ_CHECK(d->n_retry_schedule >= 1 && d->n_retry_schedule <= CONFIG_MAX_RETRY_SCHEDULE,
               "delivery.retry_schedule_ms has no waits or too many");
    for (size_t i = 0; i < d->n_retry_schedule && i < CONFIG_MAX_RETRY_SCHEDULE; i++)
        FUZZ_CHECK(d->retry_schedule_ms[i] <= CONFIG_MAX_RETRY_WAIT_MS, "a retry wait out of range");
    FUZZ_CHECK(d->retry_jitter_percent <= 50, "delivery.retry_jitter_percent out of range");
    FUZZ_CHECK(d->throttle_wait_ms <= CONFIG_MAX_RETRY_WAIT_MS, "delivery.throttle_wait_ms out of range");
    FUZZ_CHECK(d->max_in_flight >= 1 && d->max_in_flight <= 100000, "delivery.max_in_flight out of range");
    FUZZ_CHECK(d->max_in_flight_per_webhook >= 1 && d->max_in_flight_per_webhook <= 1000,
               "delivery.max_in_flight_per_webhook out of range");
    FUZZ_CHECK(d->disable_after_ms == 0 || (d->disable_after_ms >= 1000 && d->disable_after_ms <= CONFIG_MAX_KEEP_MS),
               "delivery.disable_after_ms out of range");
    FUZZ_CHECK(d->retention_ms >= 1000 && d->retention_ms <= CONFIG_MAX_KEEP_MS, "delivery.retention_ms out of range");
    FUZZ_CHECK(d->max_recover >= 1 && d->max_recover <= 100000, "delivery.max_recover out of range");
    FUZZ_CHECK(cfg->store_fsync_interval_ms >= 1 && cfg->store_fsync_interval_ms <= 60000, "fsync_interval_ms");
    FUZZ_CHECK(cfg->store_snapshot_after_bytes >= 4096 && cfg->store_snapshot_after_bytes <= (1ull << 40),
               "snapshot_after_bytes out of range");
    FUZZ_CHECK(cfg->store_path == NULL || cfg->store_path[0] != '\0', "an empty store path");
    for (size_t a = 0; a < cfg->n_accounts; a++) {
        const config_account *acc = &cfg->accounts[a];
        FUZZ_CHECK(memchr(acc->id, '\0', sizeof(acc->id)) != NULL && acc->id[0] != '\0', "an account without an id");
        for (size_t e = 0; e < acc->n_ecosystems; e++) {
            const char *id = acc->ecosystems[e].id;
            FUZZ_CHECK(strlen(id) == CONFIG_ECOSYSTEM_ID_LEN && id[0] == 'C', "an ecosystem id that is not one");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[CONFIG_ERROR_MAX];
    memset(err, 0x55, sizeof(err)); /* so a message without its NUL shows */
    config *cfg = config_parse(NAME, (const char *)data, size, err);
    if (cfg != NULL) {
        check_config(cfg);
        config_destroy(cfg);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "the error message is not NUL-terminated");
        FUZZ_CHECK(strncmp(err, NAME ":", strlen(NAME) + 1) == 0, "the error message does not start with the file");
        FUZZ_CHECK(strlen(err) > strlen(NAME) + 1, "the error message says nothing");
    }
    return 0;
}
