/* config: hookgate's YAML configuration (libyaml), loaded into one immutable value.
 *
 * Promises: a config that loads is complete and within every documented range; a file
 * that does not load yields "file:line:column: what is wrong" and no partial config.
 * Tokens are kept only as SHA-256 digests, whichever form the file used. */
#ifndef HOOKGATE_CONFIG_H
#define HOOKGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "netpolicy.h"
#include "objectid.h"
#include "seal.h"

#define CONFIG_ERROR_MAX 512  /* bytes of an error message, NUL included */
#define CONFIG_ADDRESS_MAX 64 /* bytes of a listen address, NUL included */
#define CONFIG_MAX_LISTENERS 16
#define CONFIG_MAX_THREADS 256
#define CONFIG_MAX_ACCOUNTS 65536   /* accounts in a file */
#define CONFIG_MAX_ECOSYSTEMS 65536 /* ecosystems of one account */
#define CONFIG_MAX_TOKENS 1024      /* tokens of one account, or server tokens of one ecosystem */
#define CONFIG_TOKEN_DIGEST_LEN 32 /* SHA-256 */
#define CONFIG_ID_MAX 128          /* bytes of an account id, NUL included */
#define CONFIG_ECOSYSTEM_ID_LEN OBJECTID_ECOSYSTEM_ID_LEN /* "C" + 24 lowercase hex digits */
#define CONFIG_MAX_CORS_ORIGINS 32 /* server.cors.allowed_origins entries */
#define CONFIG_ORIGIN_MAX 256      /* bytes of one allowed origin, NUL included */

typedef struct config_listener {
    char address[CONFIG_ADDRESS_MAX]; /* numeric IPv4 or IPv6 address */
    uint16_t port;                    /* 1..65535 */
    char *tls_certificate;            /* PEM file path, or NULL for cleartext */
    char *tls_key;                    /* set exactly when tls_certificate is */
} config_listener;

/* The largest url, secret and description length a configuration may allow. A stored
 * webhook at these maxima must still fit one journal record (static_assert in config.c). */
#define CONFIG_MAX_FIELD_LENGTH 65536

/* The largest limits.max_page_size: a page of this many webhooks at the default field
 * lengths is about 3 KiB each in JSON, 30 MiB in all; well past gRPC's default 4 MiB. */
#define CONFIG_MAX_PAGE_SIZE 10000

typedef struct config_limits {
    size_t max_body_bytes;                 /* request body, 1..64 MiB (default 65536) */
    size_t max_url_length;                 /* webhook url bytes, 1..65536 (default 2048) */
    size_t max_description_length;         /* description bytes, 0..65536 (default 1024) */
    size_t max_secret_length;              /* secret bytes, 0..65536 (default 256) */
    unsigned creates_per_second_per_token; /* 0 = no limit, else 1..1000000 (burst of the same size) */
    unsigned resets_per_second_per_connection; /* HTTP/2 stream resets a client may send, 1..1000000 (default 100) */
    unsigned default_page_size; /* webhooks in a list page without a limit, 1..max_page_size (default 100) */
    unsigned max_page_size;     /* the largest limit a list may ask for, 1..CONFIG_MAX_PAGE_SIZE (default 1000) */
} config_limits;

/* delivery.retry_schedule_ms: at most this many waits, so at most this many attempts. */
#define CONFIG_MAX_RETRY_SCHEDULE 32
#define CONFIG_MAX_RETRY_WAIT_MS 86400000ull /* one day: a wait of the schedule, throttle_wait_ms */
#define CONFIG_MAX_KEEP_MS 31536000000ull   /* 365 days: disable_after_ms, retention_ms */

/* delivery: how hookgate calls webhooks' urls (an invoke), and how it delivers events to
 * them: attempts on a schedule (retry.h decides each next one), in-flight caps, when a
 * failing webhook is disabled and how long the record of it all is kept. */
typedef struct config_delivery {
    unsigned connect_timeout_ms;     /* delivery.connect_timeout_ms: 1..600000 (5000) */
    unsigned timeout_ms;             /* delivery.timeout_ms: the whole call, 1..600000 (10000) */
    unsigned max_concurrent_invokes; /* delivery.max_concurrent_invokes: calls in flight, 1..100000 (64) */
    netpolicy policy;                /* the denied ranges, less delivery.allow_networks */
    unsigned max_items;              /* delivery.max_items: notifications in one event, 1..1000 (100) */
    /* delivery.retry_schedule_ms: entry i is the wait before attempt i + 1 (entry 0 normally
     * 0); when the attempt after the last wait fails, the delivery has failed. 1..32
     * entries of 0..86400000 (Svix's: 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). */
    uint32_t retry_schedule_ms[CONFIG_MAX_RETRY_SCHEDULE];
    size_t n_retry_schedule;          /* 1..CONFIG_MAX_RETRY_SCHEDULE */
    unsigned retry_jitter_percent;    /* delivery.retry_jitter_percent: each wait +-this %, 0..50 (20) */
    unsigned throttle_wait_ms;        /* delivery.throttle_wait_ms: the least wait after a timeout or a
                                         429, 0..86400000 (60000) */
    unsigned max_in_flight;           /* delivery.max_in_flight: attempts in flight in the server,
                                         1..100000 (256) */
    unsigned max_in_flight_per_webhook; /* delivery.max_in_flight_per_webhook: of one webhook, 1..1000 (4) */
    uint64_t disable_after_ms;        /* delivery.disable_after_ms: failing with no 2xx this long disables
                                         a webhook; 0 = never, else 1000..CONFIG_MAX_KEEP_MS (432000000, 5 d) */
    uint64_t retention_ms;            /* delivery.retention_ms: events, deliveries and attempts are kept
                                         this long, 1000..CONFIG_MAX_KEEP_MS (604800000, 7 d) */
    unsigned max_recover;             /* delivery.max_recover: deliveries one recover call may queue,
                                         1..100000 (1000) */
} config_delivery;

/* A key file of store.secret_key_file or store.previous_secret_key_files. */
typedef struct config_key_file {
    char *path;  /* NULL: none */
    char *where; /* "FILE:line:column: store.secret_key_file", where it was named, for messages */
} config_key_file;

#define CONFIG_MAX_PREVIOUS_KEYS (SEAL_MAX_KEYS - 1)

/* When the journal is flushed to disk (store.fsync). */
typedef enum config_fsync {
    CONFIG_FSYNC_ALWAYS, /* before each create is acknowledged (group commit) */
    CONFIG_FSYNC_BATCH,  /* at most every store.fsync_interval_ms */
    CONFIG_FSYNC_NEVER,  /* left to the operating system */
} config_fsync;

typedef struct config_token {
    uint8_t digest[CONFIG_TOKEN_DIGEST_LEN]; /* SHA-256 of the token */
} config_token;

typedef struct config_ecosystem {
    char id[CONFIG_ECOSYSTEM_ID_LEN + 1];
    int deleted; /* 1 when marked `deleted: true` */
    config_token *server_tokens;
    size_t n_server_tokens;
} config_ecosystem;

typedef struct config_account {
    char id[CONFIG_ID_MAX];
    config_token *tokens; /* account tokens */
    size_t n_tokens;
    config_ecosystem *ecosystems;
    size_t n_ecosystems;
} config_account;

typedef struct config {
    config_listener listeners[CONFIG_MAX_LISTENERS];
    size_t n_listeners;                                   /* >= 1 */
    config_listener grpc_listeners[CONFIG_MAX_LISTENERS]; /* server.grpc.listen: native gRPC */
    size_t n_grpc_listeners;                              /* 0 = no native gRPC listener */
    unsigned grpc_idle_timeout_ms; /* server.grpc.idle_timeout_ms: 100..3600000 (default 30000) */
    unsigned threads;              /* 0 = one per CPU, else 1..CONFIG_MAX_THREADS */
    unsigned max_connections;      /* server.max_connections: open connections at most, 1..1000000 (default 10000) */
    unsigned max_connections_per_address; /* server.max_connections_per_address: of one IPv4 address or IPv6
                                             /64, 0 = no limit, else 1..1000000 (default 1024) */
    unsigned idle_eviction_ms; /* server.idle_eviction_ms: at the cap, a connection without a whole request
                                  this long after it opened makes room for a new one, 0..3600000 (1000) */
    unsigned request_timeout_ms;   /* server.request_timeout_ms: HTTP/1.1 request read, and keep-alive idle (10000) */
    unsigned idle_timeout_ms;      /* server.idle_timeout_ms: an HTTP/2 connection with no frame (10000) */
    unsigned handshake_timeout_ms; /* server.handshake_timeout_ms: a TLS handshake (10000) */
    unsigned write_timeout_ms;     /* server.write_timeout_ms: pending output that does not move (10000) */
    uint64_t max_connection_output_bytes; /* server.max_connection_output_bytes: a connection's held bytes
                                             past which its new requests get 503: 65536..2^40 (4 MiB) */
    uint64_t max_buffered_bytes; /* server.max_buffered_bytes: all connections' held bytes past which new
                                    requests get 503: 1 MiB..2^44 (256 MiB) */
    char *access_log_file; /* server.access_log_file: access lines go here; NULL = stderr (default) */
    char *error_log_file;  /* server.error_log_file: every other line goes here; NULL = stderr (default) */
    int access_log;                /* server.access_log: 0 text (default), 1 json, 2 off (accesslog_format) */
    /* server.cors.allowed_origins: the browser origins (RFC 6454 serialisation, as a browser
     * sends them in Origin: "scheme://host[:port]", lowercase, no default port, no path)
     * whose pages may call the API; none by default. "*" is not accepted. */
    char cors_origins[CONFIG_MAX_CORS_ORIGINS][CONFIG_ORIGIN_MAX];
    size_t n_cors_origins;
    int console; /* server.console: 1 on (default), 0 off: GET /console/ serves the web console, else 404 */
    config_limits limits;
    config_delivery delivery;
    char *store_path;                    /* NULL = memory only (or PostgreSQL) */
    char *store_pg_conninfo;             /* store.postgres.conninfo: libpq keywords or URI; NULL = not PostgreSQL */
    unsigned store_pg_connections;       /* store.postgres.connections_per_loop: of each event loop, 1..64 (default 4) */
    unsigned store_pg_statement_timeout_ms; /* store.postgres.statement_timeout_ms: 100..600000 (default 5000) */
    config_fsync store_fsync;            /* default CONFIG_FSYNC_ALWAYS */
    unsigned store_fsync_interval_ms;    /* batch: 1..60000 (default 1000) */
    uint64_t store_snapshot_after_bytes; /* journal bytes before a snapshot: 4096..2^40 (default 64 MiB) */
    size_t store_max_queued_creates;     /* creates waiting for the journal; past it 503: 1..10^6 (default 65536) */
    uint64_t store_json_cache_bytes;     /* webhooks' JSON kept with their records (memory store): 0..2^40
                                            (default 256 MiB); 0 = none */
    config_key_file store_secret_key;    /* seals and opens webhook secrets; path NULL = kept as given */
    config_key_file store_previous_keys[CONFIG_MAX_PREVIOUS_KEYS]; /* open only (a rotation); needs the above */
    size_t n_store_previous_keys;
    config_account *accounts;
    size_t n_accounts;
} config;

/* The text of config/hookgate.yaml, embedded at build time; used when no --config is given. */
extern const char config_default_yaml[];
extern const size_t config_default_yaml_len;

/* Parses YAML text. `name` is the file name used in error messages. Returns a config owned
 * by the caller (free with config_destroy), or NULL with "name:line:column: reason" in err. */
config *config_parse(const char *name, const char *text, size_t len, char err[CONFIG_ERROR_MAX]);

/* Reads and parses a file; a file that cannot be read is reported as "path: strerror". */
config *config_load(const char *path, char err[CONFIG_ERROR_MAX]);

/* Reads the key files the configuration names (store.secret_key_file and
 * store.previous_secret_key_files) into a new keyring: *keys is NULL when none is named.
 * 0, or -1 with "FILE:line:column: store.secret_key_file: PATH: what is wrong" in err (a
 * file missing or unreadable, not 32 bytes, readable by group or others, the same key
 * twice). Start-up and --check-config both call it, so the check refuses what start-up would. */
int config_secret_keys(const config *cfg, seal_keyring **keys, char err[CONFIG_ERROR_MAX]);

/* 1 when a and b agree on what a running server cannot change: threads, timeouts, the
 * connection cap, the CORS origins, the log files and the store. A reload takes accounts,
 * tokens, ecosystems, limits, listeners and TLS certificate and key files. */
int config_same_server(const config *a, const config *b);

/* Frees a config and everything it owns; NULL is allowed. */
void config_destroy(config *cfg);

#endif
