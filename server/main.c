/* hookgate's command line: load the configuration, then serve. */
#include <getopt.h>
#include <inttypes.h>
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
#include "journal.h"
#include "metrics.h"
#include "objectid.h"
#include "server.h"
#include "store.h"

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
                            "ecosystems and limits from the --config file. Logs, one line per request, go to\n"
                            "stderr.\n";

enum { OPT_CHECK = 256, OPT_PRINT_DEFAULT };

/* What SIGHUP replaces, and what it replaced: requests that were running may still hold
 * the old accounts and tokens, so retired configs live until the process ends (one per
 * reload). */
typedef struct reloader {
    const char *path; /* NULL: started on the embedded default, nothing to reload */
    core *core;
    struct {
        config *cfg;
        ratelimit *limit;
    } * retired;
    size_t n_retired;
} reloader;

/* SIGHUP: reads the file again and swaps accounts, tokens, ecosystems and limits in. A file
 * that does not load leaves the running configuration as it is. */
static void reload(void *arg)
{
    reloader *r = arg;
    char err[CONFIG_ERROR_MAX];
    if (r->path == NULL) {
        fprintf(stderr, "hookgate: reload: started without --config, nothing to reload\n");
        return;
    }
    config *next = config_load(r->path, err);
    if (next == NULL) {
        fprintf(stderr, "hookgate: reload refused, the running configuration stays: %s\n", err);
        return;
    }
    unsigned rate = next->limits.creates_per_second_per_token;
    ratelimit *limit = rate > 0 ? ratelimit_create(rate) : NULL;
    void *grown = realloc(r->retired, (r->n_retired + 1) * sizeof(*r->retired));
    if ((rate > 0 && limit == NULL) || grown == NULL) {
        fprintf(stderr, "hookgate: reload refused, the running configuration stays: out of memory\n");
        ratelimit_destroy(limit);
        config_destroy(next);
        if (grown != NULL)
            r->retired = grown;
        return;
    }
    r->retired = grown;
    const config *now = atomic_load(&r->core->cfg);
    if (!config_same_server(now, next))
        fprintf(stderr, "hookgate: reload: changes to server.* and store.* take effect at the next start\n");
    r->retired[r->n_retired].cfg = (config *)atomic_exchange(&r->core->cfg, next);
    r->retired[r->n_retired].limit = atomic_exchange(&r->core->create_limit, limit);
    r->n_retired++;
    fprintf(stderr, "hookgate: reloaded %s: %zu account(s); limits and tokens apply to new requests\n", r->path,
            next->n_accounts);
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
            config_destroy(cfg);
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
        fprintf(stderr, "hookgate: %s\n", err);
        return 1;
    }
    codec_json_install_arena();
    accesslog_set_format((accesslog_format)cfg->access_log);
    if (objectid_init() != 0) {
        fprintf(stderr, "hookgate: no system randomness for webhook ids\n");
        return 1;
    }
    store *st = store_create();
    idempotency *keys = st != NULL ? idempotency_create(st) : NULL;
    if (keys == NULL) {
        fprintf(stderr, "hookgate: out of memory\n");
        return 1;
    }

    /* every thread inherits this mask; the main thread takes the signals with sigwait */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    ratelimit *limit = NULL;
    if (cfg->limits.creates_per_second_per_token > 0 &&
        (limit = ratelimit_create(cfg->limits.creates_per_second_per_token)) == NULL) {
        fprintf(stderr, "hookgate: out of memory\n");
        return 1;
    }
    core c = {.cfg = cfg, .store = st, .idempotency = keys, .create_limit = limit};
    if (cfg->store_path != NULL) {
        char jerr[JOURNAL_ERROR_MAX];
        journal_stats stats;
        journal_options jo = {
            .path = cfg->store_path,
            .fsync = cfg->store_fsync == CONFIG_FSYNC_ALWAYS  ? JOURNAL_FSYNC_ALWAYS
                     : cfg->store_fsync == CONFIG_FSYNC_BATCH ? JOURNAL_FSYNC_BATCH
                                                              : JOURNAL_FSYNC_NEVER,
            .fsync_interval_ms = cfg->store_fsync_interval_ms,
            .snapshot_after_bytes = cfg->store_snapshot_after_bytes,
            .max_queue = cfg->store_max_queued_creates,
            .on_fsync = metrics_fsync,
        };
        if ((c.journal = journal_open(&jo, st, &stats, jerr)) == NULL) {
            fprintf(stderr, "hookgate: store: %s\n", jerr);
            store_destroy(st);
            config_destroy(cfg);
            return 1;
        }
        fprintf(stderr,
                "hookgate: store: loaded %zu webhooks from %s (snapshot.%" PRIu64
                " + %zu journal records) in %.0f ms\n",
                stats.webhooks, cfg->store_path, stats.snapshot, stats.journal_records, stats.milliseconds);
    } else {
        fprintf(stderr, "hookgate: store: memory only (no store.path): webhooks last until the server stops\n");
    }
    reloader r = {.path = config_path, .core = &c};
    int rc = server_run(cfg, &c, reload, &r);
    journal_close(c.journal); /* after the loops: every queued create is written first */
    ratelimit_destroy(atomic_load(&c.create_limit));
    idempotency_destroy(keys);
    store_destroy(st);
    config_destroy((config *)atomic_load(&c.cfg));
    for (size_t i = 0; i < r.n_retired; i++) {
        config_destroy(r.retired[i].cfg);
        ratelimit_destroy(r.retired[i].limit);
    }
    free(r.retired);
    return rc == 0 ? 0 : 1;
}
