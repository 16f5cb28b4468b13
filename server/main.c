/* hookgate's command line: load the configuration, then serve. */
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "codec_json.h"
#include "config.h"
#include "core.h"
#include "log.h"
#include "metrics.h"
#include "objectid.h"
#include "outbound.h"
#include "server.h"

static const char usage[] = "Usage: hookgate [--config FILE]\n"
                            "       hookgate --check-config FILE\n"
                            "       hookgate --print-default-config | --help | --version\n"
                            "\n"
                            "A gateway for Droplit's webhooks API (POST/GET /api/webhooks).\n"
                            "\n"
                            "  -c, --config FILE        serve with this YAML configuration; without it, the\n"
                            "                           embedded default (config/hookgate.yaml: 127.0.0.1:8080)\n"
                            "      --check-config FILE  validate FILE; exit 0, or 1 with file:line:column: reason\n"
                            "      --print-default-config\n"
                            "                           print the embedded default configuration\n"
                            "  -h, --help               this text\n"
                            "  -V, --version            the version\n"
                            "\n"
                            "Stops gracefully on SIGTERM or SIGINT; SIGHUP reloads accounts, tokens,\n"
                            "ecosystems, limits, listeners and TLS certificates from the --config file;\n"
                            "SIGUSR1 reopens the log files (server.access_log_file, server.error_log_file;\n"
                            "without them logs go to stderr). Listening sockets handed over by systemd\n"
                            "(LISTEN_FDS, LISTEN_PID) serve the listeners with their address and port.\n";

enum { OPT_CHECK = 256, OPT_PRINT_DEFAULT };

#define MAIN_MMAP_THRESHOLD (128 * 1024) /* glibc's own initial value, kept fixed (see main) */

/* What SIGHUP reloads. */
typedef struct reloader {
    const char *path; /* NULL: started on the embedded default, nothing to reload */
    core *core;
} reloader;

/* SIGHUP: reads the file again for server_run, which swaps accounts, tokens, ecosystems,
 * limits and TLS certificates in. A file that does not load leaves the running
 * configuration as it is (NULL). */
static config *reload_load(void *arg)
{
    reloader *r = arg;
    char err[CONFIG_ERROR_MAX];
    if (r->path == NULL) {
        log_error("reload: started without --config, nothing to reload");
        return NULL;
    }
    config *next = config_load(r->path, err);
    if (next == NULL) {
        log_error("reload refused, the running configuration stays: %s", err);
        return NULL;
    }
    if (!config_same_server(core_config_now(r->core), next))
        log_info("reload: changes to server.* and store.* take effect at the next start");
    log_info("reload: read %s", r->path);
    return next;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"print-default-config", no_argument, NULL, OPT_PRINT_DEFAULT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    char err[CONFIG_ERROR_MAX];
    int opt;
    log_init();
    while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case OPT_CHECK: {
            config *cfg = config_load(optarg, err);
            if (cfg == NULL) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            int tls = server_check_tls(cfg); /* the files start-up would load */
            seal_keyring *keys = NULL;
            int sealing = config_secret_keys(cfg, &keys, err);
            if (sealing != 0)
                fprintf(stderr, "%s\n", err);
            seal_keyring_destroy(keys);
            config_destroy(cfg);
            if (tls != 0 || sealing != 0)
                return 1;
            printf("%s: ok\n", optarg);
            return 0;
        }
        case OPT_PRINT_DEFAULT:
            fwrite(config_default_yaml, 1, config_default_yaml_len, stdout);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case 'V':
            printf("hookgate %s\n", HOOKGATE_VERSION);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hookgate: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }

    config *cfg = config_path != NULL
                      ? config_load(config_path, err)
                      : config_parse("(default config)", config_default_yaml, config_default_yaml_len, err);
    if (cfg == NULL) {
        log_error("%s", err);
        return 1;
    }
    /* from here on every line goes where the configuration says (the store's first) */
    char lerr[LOG_ERROR_MAX];
    if (log_open(cfg->error_log_file, cfg->access_log_file, lerr) != 0) {
        log_error("log file: %s", lerr);
        config_destroy(cfg);
        return 1;
    }
    codec_json_install_arena();
    accesslog_set_format((accesslog_format)cfg->access_log);
    if (objectid_init() != 0) {
        log_error("no system randomness for webhook ids");
        return 1;
    }
    /* Large answers go back to the kernel when freed. glibc serves a block of 128 KiB or more
     * with its own mmap, but after the first such block is freed it raises that threshold to
     * the block's size (up to 32 MiB): every later list answer then came from the loops'
     * arenas, whose free space returns to the kernel only from the top, and a burst of
     * unread answers left hundreds of MB resident after its connections closed. Setting the
     * threshold fixes it at 128 KiB (it also stops the dynamic trim threshold); what is
     * smaller stays in the arenas, where it is reused. */
    mallopt(M_MMAP_THRESHOLD, MAIN_MMAP_THRESHOLD);

    /* every thread inherits this mask; the main thread takes the signals with sigwait */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    seal_keyring *keys;
    if (config_secret_keys(cfg, &keys, err) != 0) {
        log_error("%s", err);
        config_destroy(cfg);
        return 1;
    }
    if (keys != NULL) {
        char have[SEAL_DESCRIBE_MAX];
        seal_keyring_describe(keys, have);
        log_info("store: webhook secrets are sealed (keys %s)", have);
    }
    char serr[JOURNAL_ERROR_MAX];
    backend_memory_stats stats;
    journal_options jo = {
        .path = cfg->store_path,
        .fsync = cfg->store_fsync == CONFIG_FSYNC_ALWAYS  ? JOURNAL_FSYNC_ALWAYS
                 : cfg->store_fsync == CONFIG_FSYNC_BATCH ? JOURNAL_FSYNC_BATCH
                                                          : JOURNAL_FSYNC_NEVER,
        .fsync_interval_ms = cfg->store_fsync_interval_ms,
        .snapshot_after_bytes = cfg->store_snapshot_after_bytes,
        .max_queue = cfg->store_max_queued_creates,
        .on_fsync = metrics_fsync,
        .keep_deleted_keys_ms = IDEMPOTENCY_WINDOW_MS, /* a deleted webhook's key stays taken as long as a live one's */
    };
    backend *store;
    if (cfg->store_pg_conninfo != NULL) {
        backend_postgres_options po = {cfg->store_pg_conninfo, cfg->store_pg_connections,
                                       cfg->store_pg_statement_timeout_ms, IDEMPOTENCY_WINDOW_MS,
                                       metrics_database_round_trip, metrics_database_error,
                                       (int64_t)cfg->delivery.retention_ms};
        store = backend_postgres_open(&po, keys, serr); /* takes keys */
    } else {
        store = backend_memory_open(cfg->store_path != NULL ? &jo : NULL, keys, &stats, serr); /* takes keys */
        if (store != NULL)
            backend_memory_limit_renderings(store, (size_t)cfg->store_json_cache_bytes);
    }
    if (store == NULL) {
        log_error("store: %s", serr);
        config_destroy(cfg);
        return 1;
    }
    if (cfg->store_pg_conninfo != NULL)
        log_info("store: PostgreSQL, %u connection(s) per event loop", cfg->store_pg_connections);
    else if (cfg->store_path != NULL)
        log_info("store: loaded %zu webhooks from %s (snapshot.%" PRIu64 " + %zu journal records) in %.0f ms",
                 stats.journal.webhooks, cfg->store_path, stats.journal.snapshot, stats.journal.journal_records,
                 stats.journal.milliseconds);
    else
        log_info("store: memory only (no store.path): webhooks last until the server stops");
    core *c = core_create(cfg, store); /* owns both from here */
    if (c == NULL) {
        log_error("out of memory");
        return 1;
    }
    char why[256];
    delivery *outbound = outbound_create("hookgate/" HOOKGATE_VERSION, why, sizeof why);
    if (outbound == NULL) {
        log_error("%s", why);
        core_destroy(c);
        return 1;
    }
    core_set_delivery(c, outbound);
    dispatch_hooks hooks = {metrics_delivery_attempt, metrics_delivery_finished, metrics_webhook_disabled};
    if (core_start_delivering(c, &hooks, why, sizeof why) != 0) {
        log_error("%s", why);
        core_destroy(c);
        return 1;
    }
    reloader r = {.path = config_path, .core = c};
    int rc = server_run(core_config_now(c), c, reload_load, &r);
    core_destroy(c); /* after the loops: every queued create is written first */
    return rc == 0 ? 0 : 1;
}
