/* core: the webhook operations, and the one front door every transport calls.
 *
 * A transport decodes a request into the method's schema message (problems its codecs
 * found go into call->err), hands it over with the Authorization value, the
 * Idempotency-Key and the clock, and gets back a schema message or the one error value.
 * The core authenticates, validates, decides and talks to the store (backend.h), all
 * against one configuration snapshot taken when the call starts. It never sees JSON,
 * HTTP or sockets. Methods are WebhookService's, dispatched from a table built from the
 * generated service descriptor: a method the schema has and the core does not is
 * ERROR_UNIMPLEMENTED.
 *
 * Configurations are replaced whole on a reload (SIGHUP) while calls run. A snapshot
 * stays alive while a call that started with it waits for the store, and until every
 * event loop has passed a quiescent point (core_quiescent) after it was replaced; then it
 * is freed. */
#ifndef HOOKGATE_CORE_H
#define HOOKGATE_CORE_H

#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>

#include "auth.h"
#include "backend.h"
#include "codec_json.h"
#include "config.h"
#include "delivery.h"
#include "dispatch.h"
#include "error.h"
#include "idempotency.h"
#include "pagetoken.h"
#include "ratelimit.h"
#include "schema.h"

#define CORE_PENDING 1    /* a call waits for the store: its outcome comes through done */
#define CORE_MAX_LOOPS 256 /* event loops that may call the core (server.threads' maximum) */
#define CORE_MAX_RETIRED 64 /* replaced configurations awaiting their last reader; past it a reload is refused */

/* The methods of WebhookService the core implements, in the schema's order. */
typedef enum core_method {
    CORE_CREATE,
    CORE_GET,
    CORE_LIST,
    CORE_UPDATE,
    CORE_DELETE,
    CORE_INVOKE,
    CORE_PUBLISH,       /* an event, delivered to the ecosystem's enabled webhooks */
    CORE_GET_EVENT,     /* an event and its deliveries */
    CORE_LIST_ATTEMPTS, /* a webhook's attempts, newest first */
    CORE_RESEND,        /* an event's deliveries again, now */
    CORE_RECOVER,       /* a webhook's failed deliveries since a time, again, now */
    CORE_LIST_ECOSYSTEMS, /* the ecosystems the token may act on (from the configuration, no store call) */
    CORE_METHODS
} core_method;

typedef struct core core;

/* One configuration and what is built from it, replaced together. */
typedef struct core_config core_config;

/* A webhook as the schema shows it, built in place: msg.created_at points at created_at
 * (msg.disabled_at at disabled_at) and msg.id at id_hex, so the struct must not be copied after core_webhook_fill. */
typedef struct core_webhook {
    schema_webhook msg;
    schema_timestamp created_at;
    schema_timestamp disabled_at; /* msg.disabled_at, when hookgate disabled it */
    char id_hex[OBJECTID_HEX_LEN + 1];
    const store_webhook *record; /* what it was built from: its JSON is kept with it (core_call_memo) */
} core_webhook;

/* CORE_INVOKE's own state: the call of the url, its body, the opened secret. Part of the
 * call, not of the request's memory: a url's answer may come after the client has gone. */
typedef struct core_invoke {
    delivery_call call;
    schema_transaction transaction; /* the body: one Info notification */
    schema_notification notification;
    schema_notification *items[1];
    schema_timestamp timestamp;
    char webhook_id[OBJECTID_HEX_LEN + 1];
    char ecosystem_id[OBJECTID_ECOSYSTEM_ID_LEN + 1]; /* copied: a backend's record may live in the request's memory */
    char *url;    /* the url as called (validate_url_ascii), malloc'd */
    char *secret; /* opened for this call (backend_secret_open); wiped when it ends */
    size_t secret_len;
    schema_invoke_response response;
} core_invoke;

/* The event methods' own answers. */
typedef struct core_events {
    schema_publish_response publish;
    schema_resend_response resend;
    char id_hex[OBJECTID_HEX_LEN + 1];
    objectid webhook; /* CORE_RESEND: the one webhook asked for */
    uint8_t *body;    /* CORE_PUBLISH: the packed EventBody, from the call's memory */
} core_events;

/* A call in flight. The caller owns it and keeps it in place until the outcome is known:
 * when core_call_start returns 0 or -1, or, after CORE_PENDING, when done runs. */
typedef struct core_call {
    /* in */
    core_method method;
    const ProtobufCMessage *request; /* the method's input message; NULL when a codec could not read one */
    const char *authorization;       /* the Authorization value (NULL = absent) */
    size_t authorization_len;
    const char *idempotency_key; /* CORE_CREATE, CORE_PUBLISH: the Idempotency-Key (NULL = absent) */
    size_t idempotency_key_len;
    int64_t now_ms;              /* CORE_CREATE, CORE_INVOKE and the event methods: Unix time in milliseconds,
                                    the transport's clock */
    int64_t monotonic_ms;        /* CORE_CREATE: a monotonic clock in milliseconds (rate limits) */
    ProtobufCAllocator *alloc;   /* memory for the response (a list), which it keeps until freed whole; for a
                                    call that may wait, core_call_memory (the core sees to it) */
    error_in default_in;         /* where parameter problems without a location are */
    error_in id_in;              /* CORE_UPDATE: where a problem with the webhook id is, when not default_in
                                    (REST: the path, the changes being the body); ERROR_IN_UNSET: default_in */
    void (*done)(struct core_call *call); /* after CORE_PENDING: called once, maybe from another thread */
    void *data;                           /* the caller's */
    /* in: problems the transport found (codecs, body size); out: why the call failed */
    error err;
    /* out */
    const ProtobufCMessage *response; /* NULL when the call failed */
    int created;                      /* CORE_CREATE: a webhook was stored by this call (REST: 201) */
    int replayed; /* CORE_CREATE, CORE_PUBLISH: the answer is what an earlier call with the same Idempotency-Key
                     made */
    /* the core's */
    core *core;
    core_config *snap;
    int holds_snap;
    int step;
    atomic_int sync;
    auth_principal who;
    int keyed;
    int key_raced; /* CORE_CREATE: the store refused its create for another with the same key (EEXIST) */
    uint8_t key_digest[STORE_IDEMPOTENCY_LEN];
    store_webhook record;
    store_changes changes;
    backend_call store;
    core_webhook webhook;
    schema_list_response list;
    core_webhook *listed;                    /* CORE_LIST: list.items point into these */
    store_cursor after;                      /* CORE_LIST: where the page starts, from page_token */
    char next_page_token[PAGETOKEN_LEN + 1]; /* CORE_LIST: list.next_page_token when set */
    core_invoke invoke;                      /* CORE_INVOKE */
    core_events events;                      /* the event methods */
    ProtobufCAllocator memory;               /* core_call_memory: blocks freed by core_call_release */
    void *blocks;
} core_call;

/* A core over a backend, with cfg as its first configuration (both owned by the core from
 * now on, also on failure). NULL when out of memory. */
core *core_create(config *cfg, backend *store);

/* Gives the core the way it calls webhooks' urls (CORE_INVOKE), owned by the core from
 * now on. Without one an invoke answers ERROR_UNAVAILABLE. Call before the first call. */
void core_set_delivery(core *c, delivery *d);

/* Starts delivering events (dispatch.h) with the core's delivery, when its backend keeps
 * an event log (else nothing: the event methods answer that the store does not keep
 * events). Call after core_set_delivery. Returns 0, or -1 with why. */
int core_start_delivering(core *c, const dispatch_hooks *hooks, char *why, size_t why_size);

/* Frees the core, its configurations, its delivery and its backend (after finishing every
 * call each holds). */
void core_destroy(core *c);

/* Replaces the configuration for calls that start from now on. Returns 0, or -1 with a
 * reason in why (out of memory; too many replaced configurations still in use): the
 * running configuration then stays and next is freed. */
int core_reload(core *c, config *next, char *why, size_t why_size);

/* The configuration new calls see now. Valid until the calling event loop's next
 * core_quiescent (listener settings, the transport's own limits). */
const config *core_config_now(core *c);

/* How many event loops will call core_quiescent (0 until set; the server sets it once,
 * before its loops start). Without loops, replaced configurations are freed by core_destroy. */
void core_set_loops(core *c, unsigned n_loops);

/* On loop `loop`'s own thread, before it serves: the store's share of the loop (its
 * database connections, for a backend that has them), watched through poller. */
void core_loop_start(core *c, unsigned loop, const store_poller *poller);

/* The store's timers of loop `loop` (the poller's tick_soon asked for it). */
void core_loop_tick(core *c, unsigned loop);

/* On the loop's thread when it stops serving: the store's share answers or fails what is
 * in flight and is closed. */
void core_loop_stop(core *c, unsigned loop);

/* Event loop `loop` holds no configuration snapshot outside a waiting call: called at the
 * end of every loop iteration. Frees what no loop and no waiting call can still read, and
 * sends what the iteration submitted to the store. */
void core_quiescent(core *c, unsigned loop);

/* Sets up call for method with the fields a transport fills zeroed (err cleared). */
void core_call_init(core_call *call, core_method method);

/* Memory that lives as long as the call, not as long as its request: what a call that may
 * wait (core_call_may_wait) is decoded into and answered from, so the answer of a backend
 * or a url that comes after the client left touches nothing of the client's. Freed by
 * core_call_release. */
ProtobufCAllocator *core_call_memory(core_call *call);

/* Frees what core_call_memory gave, once the answer is encoded or the client has gone (a
 * call without such memory: nothing). The call may be reused after core_call_init. */
void core_call_release(core_call *call);

/* The JSON texts already known of the call's response, for encoding it: a webhook that a
 * GET or a list shows is written once per version of its record, kept with the record
 * (backend_keep_rendering), and copied from there by every later answer that shows it,
 * over every protocol that answers in JSON. data is the call, which must stay in place. */
codec_json_memo core_call_memo(core_call *call);

/* Runs the call. Returns 0 with call->response, -1 with call->err, or CORE_PENDING: done
 * reports the outcome later (possibly from another thread before this returns, so the
 * caller must be ready for it first). In that order: the token (401), what the transport
 * found that is not a parameter problem (413, unreadable body), the create rate (429),
 * parameters (400, all at once, schema field order), the ecosystem (404/403), then the
 * store. */
int core_call_start(core *c, core_call *call);

/* 1 when core_call_start may answer CORE_PENDING for this method: the caller's call must
 * then live off the stack. */
int core_call_may_wait(const core *c, core_method method);

/* 1 when the method reads the call's clocks (now_ms, monotonic_ms): a transport reads them
 * for these only (a read costs a system call's worth of instructions). */
int core_method_reads_clock(core_method method);

/* The method a WebhookService method descriptor names, or CORE_METHODS when the core has
 * none for it. */
core_method core_method_of(const ProtobufCMethodDescriptor *m);

/* The method descriptor of path "/droplit.webhooks.v1.WebhookService/<Method>", or NULL
 * (another service, or a method the schema does not have). */
const ProtobufCMethodDescriptor *core_method_from_path(const char *path, size_t len);

/* The store's gauges, and 1 when the core can take creates (else 0 with the reason, for
 * /readyz). */
void core_stats(core *c, backend_stats *out);
int core_is_ready(core *c, const char **reason);

#endif
