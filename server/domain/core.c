/* core: see core.h.
 *
 * A call runs as a short sequence of steps, each ending in one backend call (find the
 * Idempotency-Key's first webhook, create, get, list; an update or a delete first gets the
 * webhook, to check that the token may see it, then writes; an invoke gets the webhook,
 * then calls its url through the delivery). The backend and the delivery answer through
 * on_store_done / on_delivery_done, either inside their submit or later on another
 * thread; `sync` tells the two apart without a lock: whoever comes second of "submit
 * returned" and "the answer arrived" carries the call on. */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hg_assert.h"
#include "retry.h"
#include "validate.h"

HG_STATIC_ASSERT(CONFIG_MAX_THREADS <= CORE_MAX_LOOPS, "every event loop the configuration allows has an epoch slot");
HG_STATIC_ASSERT(CONFIG_MAX_THREADS <= BACKEND_MAX_LOOPS, "every event loop the configuration allows is told apart in the database metrics");
HG_STATIC_ASSERT(CONFIG_MAX_PAGE_SIZE <= BACKEND_LIST_MAX,
                 "every page size the configuration allows is a valid list limit");

struct core_config {
    config *cfg;
    ratelimit *create_limit; /* creates per second per token; NULL = no limit */
    atomic_size_t waiting;   /* calls that started with it and wait for the store */
    uint64_t retired_at;     /* the epoch in which it was replaced */
};

/* Each loop's last quiescent epoch, on its own cache line, and the loop's share of the
 * store (backend_loop_attach; only that loop's thread touches it). */
typedef struct loop_epoch {
    _Alignas(64) atomic_uint_fast64_t seen;
    void *store;
} loop_epoch;

struct core {
    _Atomic(core_config *) current;
    backend *store;
    idempotency *idempotency;
    atomic_uint_fast64_t epoch; /* one more on every reload */
    unsigned n_loops;
    loop_epoch loops[CORE_MAX_LOOPS];
    pthread_mutex_t retire_lock;  /* retired, n_retired */
    atomic_size_t n_retired_hint; /* read without the lock by core_quiescent */
    core_config *retired[CORE_MAX_RETIRED];
    size_t n_retired;
    delivery *delivery;   /* calls webhooks' urls; NULL = invokes answer 503 */
    dispatch *dispatch;   /* delivers events; NULL: not started (core_start_delivering) */
    atomic_uint invoking; /* invokes whose url is being called (delivery.max_concurrent_invokes) */
};

enum {
    STEP_FIND_KEY = 1,
    STEP_CREATE,
    STEP_GET,
    STEP_LIST,
    STEP_FIND_TARGET,
    STEP_UPDATE,
    STEP_DELETE,
    STEP_FIND_INVOKED,
    STEP_INVOKE,
    STEP_PUBLISH,
    STEP_GET_EVENT,
    STEP_FIND_EVENT,      /* a resend reads its event first: is it there, may the token see it? */
    STEP_RESEND,
    STEP_FIND_ATTEMPTED,  /* a list of attempts reads its webhook first */
    STEP_ATTEMPTS,
    STEP_FIND_RECOVERED,  /* a recover reads its webhook first */
    STEP_RECOVER
};
enum { SYNC_SUBMITTING, SYNC_RETURNED, SYNC_ANSWERED };
enum { NEXT = 2 }; /* a step's result: submit the backend call it prepared */

/* ---- configuration snapshots ------------------------------------------------------------ */

static core_config *snapshot_new(config *cfg)
{
    core_config *s = calloc(1, sizeof(*s));
    unsigned rate = cfg->limits.creates_per_second_per_token;
    if (s == NULL || (rate > 0 && (s->create_limit = ratelimit_create(rate)) == NULL)) {
        free(s);
        return NULL;
    }
    s->cfg = cfg;
    return s;
}

static void snapshot_free(core_config *s)
{
    HG_ASSERT(atomic_load(&s->waiting) == 0);
    ratelimit_destroy(s->create_limit);
    config_destroy(s->cfg);
    free(s);
}

/* Frees every retired snapshot that no loop can still hold (each has passed a quiescent
 * point since it was replaced) and no waiting call uses. Under retire_lock. */
static void reclaim(core *c)
{
    uint64_t oldest_seen = UINT64_MAX;
    for (unsigned i = 0; i < c->n_loops; i++) {
        uint64_t seen = atomic_load(&c->loops[i].seen);
        if (seen < oldest_seen)
            oldest_seen = seen;
    }
    size_t kept = 0;
    for (size_t i = 0; i < c->n_retired; i++) {
        core_config *s = c->retired[i];
        if (s->retired_at <= oldest_seen && atomic_load(&s->waiting) == 0)
            snapshot_free(s);
        else
            c->retired[kept++] = s;
    }
    c->n_retired = kept;
    atomic_store(&c->n_retired_hint, kept);
}

core *core_create(config *cfg, backend *store)
{
    core *c = calloc(1, sizeof(*c));
    core_config *snap = c != NULL ? snapshot_new(cfg) : NULL;
    if (snap == NULL || (c->idempotency = idempotency_create()) == NULL) {
        if (snap != NULL)
            snapshot_free(snap);
        else
            config_destroy(cfg);
        backend_destroy(store);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->retire_lock, NULL);
    atomic_init(&c->current, snap);
    atomic_init(&c->epoch, 1);
    c->store = store;
    return c;
}

void core_set_delivery(core *c, delivery *d)
{
    HG_ASSERT(c->delivery == NULL);
    c->delivery = d;
}

int core_start_delivering(core *c, const dispatch_hooks *hooks, char *why, size_t why_size)
{
    backend_stats st;
    backend_stats_get(c->store, &st);
    if (!st.events || c->delivery == NULL)
        return 0;
    c->dispatch = dispatch_create(c->store, c->delivery, &atomic_load(&c->current)->cfg->delivery, hooks, why,
                                  why_size);
    return c->dispatch != NULL ? 0 : -1;
}

void core_destroy(core *c)
{
    if (c == NULL)
        return;
    dispatch_stop(c->dispatch);    /* no new attempts; those in flight end unrecorded: due again at start */
    delivery_destroy(c->delivery); /* every call of a url finishes first */
    dispatch_destroy(c->dispatch); /* the outcomes being written are written */
    HG_ASSERT(atomic_load(&c->invoking) == 0);
    backend_destroy(c->store); /* every waiting call finishes first */
    for (size_t i = 0; i < c->n_retired; i++)
        snapshot_free(c->retired[i]);
    snapshot_free(atomic_load(&c->current));
    idempotency_destroy(c->idempotency);
    pthread_mutex_destroy(&c->retire_lock);
    free(c);
}

int core_reload(core *c, config *next, char *why, size_t why_size)
{
    core_config *snap = snapshot_new(next);
    if (snap == NULL) {
        config_destroy(next);
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&c->retire_lock);
    reclaim(c);
    if (c->n_retired == CORE_MAX_RETIRED) {
        pthread_mutex_unlock(&c->retire_lock);
        snapshot_free(snap);
        snprintf(why, why_size, "%d earlier configurations are still in use by requests", CORE_MAX_RETIRED);
        return -1;
    }
    core_config *old = atomic_exchange(&c->current, snap);
    if (c->dispatch != NULL)
        dispatch_configure(c->dispatch, &next->delivery);
    /* after the exchange: a loop that sees this epoch has dropped any reference to old */
    old->retired_at = atomic_fetch_add(&c->epoch, 1) + 1;
    c->retired[c->n_retired++] = old;
    atomic_store(&c->n_retired_hint, c->n_retired);
    reclaim(c);
    pthread_mutex_unlock(&c->retire_lock);
    return 0;
}

const config *core_config_now(core *c)
{
    return atomic_load(&c->current)->cfg;
}

void core_set_loops(core *c, unsigned n_loops)
{
    HG_ASSERT(n_loops <= CORE_MAX_LOOPS);
    for (unsigned i = 0; i < n_loops; i++)
        atomic_store(&c->loops[i].seen, atomic_load(&c->epoch));
    c->n_loops = n_loops;
}

void core_loop_start(core *c, unsigned loop, const store_poller *poller)
{
    HG_ASSERT(loop < CORE_MAX_LOOPS && c->loops[loop].store == NULL);
    c->loops[loop].store = backend_loop_attach(c->store, poller);
}

void core_loop_tick(core *c, unsigned loop)
{
    HG_ASSERT(loop < CORE_MAX_LOOPS);
    backend_loop_tick(c->store, c->loops[loop].store);
}

void core_loop_stop(core *c, unsigned loop)
{
    HG_ASSERT(loop < CORE_MAX_LOOPS);
    backend_loop_detach(c->store, c->loops[loop].store);
    c->loops[loop].store = NULL;
}

void core_quiescent(core *c, unsigned loop)
{
    HG_ASSERT(loop < c->n_loops);
    backend_loop_flush(c->store, c->loops[loop].store); /* what this iteration submitted, in one write */
    atomic_store(&c->loops[loop].seen, atomic_load(&c->epoch));
    if (atomic_load_explicit(&c->n_retired_hint, memory_order_relaxed) > 0 &&
        pthread_mutex_trylock(&c->retire_lock) == 0) {
        reclaim(c);
        pthread_mutex_unlock(&c->retire_lock);
    }
}

/* ---- results ------------------------------------------------------------------------------ */

static void webhook_fill(core_webhook *out, const store_webhook *w)
{
    schema_webhook msg = SCHEMA_WEBHOOK_INIT;
    schema_timestamp ts = SCHEMA_TIMESTAMP_INIT;
    objectid_to_hex(&w->id, out->id_hex);
    ts.seconds = w->created_ms / 1000;
    ts.nanos = (int32_t)(w->created_ms % 1000) * 1000000;
    out->created_at = ts;
    msg.id = out->id_hex;
    msg.description = (char *)w->description;
    msg.ecosystem_id = (char *)w->ecosystem_id;
    msg.url = (char *)w->url;
    msg.disabled = w->disabled;
    msg.created_at = &out->created_at;
    if (w->disabled && w->disabled_reason != NULL && w->disabled_reason[0] != '\0') {
        msg.disabled_reason_set_case = SCHEMA_WEBHOOK_DISABLED_REASON;
        msg.disabled_reason = (char *)w->disabled_reason;
        out->disabled_at = (schema_timestamp)SCHEMA_TIMESTAMP_INIT;
        out->disabled_at.seconds = w->disabled_ms / 1000;
        out->disabled_at.nanos = (int32_t)(w->disabled_ms % 1000) * 1000000;
        msg.disabled_at_set_case = SCHEMA_WEBHOOK_DISABLED_AT;
        msg.disabled_at = &out->disabled_at;
    }
    out->msg = msg;
    out->record = w;
}

/* The webhook of the call's answer that msg is, or NULL. */
static const core_webhook *answered_webhook(const core_call *call, const ProtobufCMessage *msg)
{
    if (msg->descriptor != &schema_webhook_descriptor)
        return NULL;
    if (msg == &call->webhook.msg.base)
        return &call->webhook;
    uintptr_t at = (uintptr_t)msg, first = (uintptr_t)call->listed;
    if (call->listed == NULL || at < first || at >= first + call->list.n_items * sizeof(core_webhook))
        return NULL;
    HG_ASSERT((at - first) % sizeof(core_webhook) == offsetof(core_webhook, msg));
    return &call->listed[(at - first) / sizeof(core_webhook)];
}

static const char *memo_find(void *data, const ProtobufCMessage *msg, size_t *len)
{
    const core_webhook *w = answered_webhook(data, msg);
    const store_rendering *r = w != NULL ? store_rendering_of(w->record) : NULL;
    if (r == NULL)
        return NULL;
    *len = r->len;
    return r->bytes;
}

static void memo_keep(void *data, const ProtobufCMessage *msg, const char *text, size_t len)
{
    core_call *call = data;
    /* reads only: a create or update shows its record once, and then it may never be read */
    if (call->method != CORE_GET && call->method != CORE_LIST)
        return;
    const core_webhook *w = answered_webhook(call, msg);
    if (w != NULL)
        backend_keep_rendering(call->core->store, w->record, text, len);
}

codec_json_memo core_call_memo(core_call *call)
{
    return (codec_json_memo){memo_find, memo_keep, call};
}

static void *call_alloc(core_call *call, size_t size)
{
    return call->alloc->alloc(call->alloc->allocator_data, size);
}

/* Ends a call: -1 when it failed. The Idempotency-Key's create is no longer in flight
 * (after the store has its webhook, if any, so a retry now finds it there). */
static int finish(core_call *call, int failed)
{
    if (call->keyed) {
        idempotency_end(call->core->idempotency, call->key_digest);
        call->keyed = 0;
    }
    if (failed)
        call->response = NULL;
    error_set_default_in(&call->err, call->default_in);
    return failed ? -1 : 0;
}

static int fail(core_call *call)
{
    return finish(call, 1);
}

/* The webhook id of a get, update or delete call (validated). */
static const char *call_webhook_id(const core_call *call)
{
    switch (call->method) {
    case CORE_GET:
        return ((const schema_get_request *)call->request)->id;
    case CORE_UPDATE:
        return ((const schema_update_request *)call->request)->id;
    case CORE_DELETE:
        return ((const schema_delete_request *)call->request)->id;
    case CORE_INVOKE:
        return ((const schema_invoke_request *)call->request)->id;
    case CORE_LIST_ATTEMPTS:
        return ((const schema_attempts_request *)call->request)->id;
    case CORE_RECOVER:
        return ((const schema_recover_request *)call->request)->id;
    default:
        break;
    }
    HG_ASSERT(!"a method without a webhook id");
    return "";
}

/* Unknown, deleted, or outside the token's ecosystems: the same answer, so a token learns
 * nothing about webhooks it may not see. */
static int fail_not_found(core_call *call, const char *id_hex)
{
    error_set(&call->err, ERROR_NOT_FOUND, "Webhook with id %s does not exist.", id_hex);
    return fail(call);
}

/* As fail_not_found, for an event. */
static int fail_no_event(core_call *call, const char *id_hex)
{
    error_set(&call->err, ERROR_NOT_FOUND, "Event with id %s does not exist.", id_hex);
    return fail(call);
}

static int fail_store(core_call *call, int status)
{
    switch (status) {
    case ENOSYS:
        error_set(&call->err, ERROR_UNIMPLEMENTED,
                  "This server's store does not keep events.");
        break;
    case ENOMEM:
        error_set(&call->err, ERROR_INTERNAL, "Out of memory.");
        break;
    case EOVERFLOW:
        error_set(&call->err, ERROR_UNAVAILABLE, "The store is full.");
        break;
    case EAGAIN:
        error_set(&call->err, ERROR_UNAVAILABLE,
                  "The store cannot save webhooks right now (too many creates are waiting to be written).");
        break;
    case ECONNREFUSED:
    case ECONNRESET:
    case ETIMEDOUT:
    case EIO: /* a database that is down, gone silent, or refusing: the node retries by itself */
        error_set(&call->err, ERROR_UNAVAILABLE, "The store cannot be reached right now (%s); retry shortly.",
                  status == EIO ? "the database refused the statement" : strerror(status));
        call->err.retry_after_s = 1;
        break;
    default:
        error_set(&call->err, ERROR_UNAVAILABLE, "The store cannot save webhooks right now (%s).", strerror(status));
    }
    return fail(call);
}

static int answer_webhook(core_call *call, const store_webhook *w)
{
    webhook_fill(&call->webhook, w);
    call->response = &call->webhook.msg.base;
    return finish(call, 0);
}

/* Ends validation: problems sorted into schema field order; -1 if there are any. */
static int validation_failed(error *err)
{
    if (err->kind == ERROR_NONE)
        return 0;
    error_sort_params(err);
    return 1;
}

static int same_text(const char *stored, const char *requested)
{
    return strcmp(stored, requested != NULL ? requested : "") == 0;
}

/* 1 when the stored webhook's secret is the requested one, 0 when not, -1 when it cannot
 * be told (out of memory, or a sealed secret that does not open: err says which). The
 * stored secret is opened only for this comparison and wiped at once; the comparison
 * takes the same time wherever the first difference is. */
static int same_secret(core_call *call, const store_webhook *stored, const char *requested)
{
    char *secret;
    size_t len;
    int rc = backend_secret_open(call->core->store, stored, &secret, &len);
    if (rc != 0) {
        error_set(&call->err, ERROR_INTERNAL,
                  rc == ENOMEM ? "Out of memory." : "The stored webhook's secret cannot be opened (damaged).");
        return -1;
    }
    const char *want = requested != NULL ? requested : "";
    int same = strlen(want) == len && CRYPTO_memcmp(secret, want, len) == 0;
    backend_secret_free(secret, len);
    return same;
}

static void prepare_create(core_call *call)
{
    call->step = STEP_CREATE;
    call->record.idempotency = call->keyed ? call->key_digest : NULL;
    call->store = (backend_call){.verb = BACKEND_CREATE, .webhook = &call->record};
}

static void on_store_done(backend_call *b);
static void on_delivery_done(delivery_call *d);

/* Takes one of delivery.max_concurrent_invokes, and prepares the call of w's url: its
 * body, its secret opened, a fresh message id. NEXT, or -1 with the reason. */
static int prepare_invoke(core_call *call, const store_webhook *w)
{
    core *c = call->core;
    const config_delivery *cfg = &call->snap->cfg->delivery;
    core_invoke *inv = &call->invoke;
    memset(inv, 0, sizeof(*inv));
    if ((inv->url = validate_url_ascii(w->url)) == NULL) { /* stored valid: only memory fails */
        error_set(&call->err, ERROR_INTERNAL, "Out of memory.");
        return fail(call);
    }
    if (backend_secret_open(c->store, w, &inv->secret, &inv->secret_len) != 0) {
        free(inv->url);
        error_set(&call->err, ERROR_INTERNAL, "The webhook's secret cannot be opened.");
        return fail(call);
    }
    if (atomic_fetch_add(&c->invoking, 1) >= cfg->max_concurrent_invokes) {
        atomic_fetch_sub(&c->invoking, 1);
        backend_secret_free(inv->secret, inv->secret_len);
        free(inv->url);
        error_set(&call->err, ERROR_UNAVAILABLE,
                  "Too many webhook calls are in progress (delivery.max_concurrent_invokes is %u); retry later.",
                  cfg->max_concurrent_invokes);
        return fail(call);
    }
    objectid_to_hex(&w->id, inv->webhook_id);
    inv->timestamp = (schema_timestamp)SCHEMA_TIMESTAMP_INIT;
    inv->timestamp.seconds = call->now_ms / 1000;
    inv->timestamp.nanos = (int32_t)(call->now_ms % 1000) * 1000000;
    inv->notification = (schema_notification)SCHEMA_NOTIFICATION_INIT;
    inv->notification.type = "Info";
    snprintf(inv->ecosystem_id, sizeof inv->ecosystem_id, "%s", w->ecosystem_id);
    inv->notification.ecosystem_id = inv->ecosystem_id;
    inv->notification.webhook_id = inv->webhook_id;
    inv->notification.message = "Webhook verification";
    inv->notification.timestamp = &inv->timestamp;
    inv->items[0] = &inv->notification;
    inv->transaction = (schema_transaction)SCHEMA_TRANSACTION_INIT;
    inv->transaction.n_items = 1;
    inv->transaction.items = inv->items;

    delivery_call *d = &inv->call;
    d->url = inv->url;
    d->body = &inv->transaction.base;
    d->secret = inv->secret_len > 0 ? inv->secret : NULL;
    d->secret_len = inv->secret_len;
    char msg_hex[OBJECTID_HEX_LEN + 1];
    objectid id = objectid_make((uint32_t)(call->now_ms / 1000));
    objectid_to_hex(&id, msg_hex);
    snprintf(d->message_id, sizeof d->message_id, "msg_%s", msg_hex);
    d->policy = &cfg->policy;
    d->connect_timeout_ms = cfg->connect_timeout_ms;
    d->timeout_ms = cfg->timeout_ms;
    d->done = on_delivery_done;
    d->data = call;
    call->step = STEP_INVOKE;
    return NEXT;
}

/* An invoke's attempt, written to the webhook's attempts (trigger "invoke") after the
 * answer, on its own: the caller does not wait for it, and a failure to write it is not
 * the invoke's. Without an event log: nothing. */
typedef struct invoke_record {
    backend_call store;
    schema_stored_event record;
    schema_stored_event *records[1];
    objectid webhook_id;
    uint8_t response[DELIVERY_RESPONSE_KEEP];
} invoke_record;

static void on_invoke_recorded(backend_call *b)
{
    free(b->data);
}

static void record_invoke(core_call *call, const delivery_call *d)
{
    core *c = call->core;
    if (c->dispatch == NULL) /* no event log */
        return;
    invoke_record *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return;
    objectid_from_hex(call->invoke.webhook_id, OBJECTID_HEX_LEN, &r->webhook_id);
    memcpy(r->response, d->response, d->response_len);
    r->record = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
    r->record.change = SCHEMA_EVENT_ATTEMPT;
    r->record.webhook_id = (ProtobufCBinaryData){OBJECTID_LEN, r->webhook_id.bytes};
    r->record.attempt = 1;
    r->record.trigger = EVENTS_INVOKE;
    r->record.started_ms = call->now_ms;
    r->record.duration_ms = d->duration_ms;
    r->record.status_code = d->status;
    r->record.error = retry_class_of(d->outcome);
    r->record.response = (ProtobufCBinaryData){d->response_len, r->response};
    r->records[0] = &r->record;
    r->store = (backend_call){.verb = BACKEND_RECORD, .done = on_invoke_recorded, .data = r};
    r->store.ev.records = r->records;
    r->store.ev.n_records = 1;
    backend_submit(c->store, &r->store);
}

/* The url's answer: "Webhook verified" for a 2xx, else a BadGateway that says what happened. */
static int invoked(core_call *call)
{
    core_invoke *inv = &call->invoke;
    record_invoke(call, &inv->call);
    backend_secret_free(inv->secret, inv->secret_len);
    inv->secret = NULL;
    free(inv->url);
    inv->url = NULL;
    HG_ASSERT(atomic_load(&call->core->invoking) > 0);
    atomic_fetch_sub(&call->core->invoking, 1);
    const delivery_call *d = &inv->call;
    if (d->outcome != DELIVERY_OK) {
        HG_ASSERT(d->detail[0] != '\0');
        error_set(&call->err, ERROR_BAD_GATEWAY, "Webhook call failed: %s", d->detail);
        return fail(call);
    }
    inv->response = (schema_invoke_response)SCHEMA_INVOKE_RESPONSE_INIT;
    inv->response.message = "Webhook verified";
    inv->response.status_code = d->status;
    inv->response.duration_ms = d->duration_ms;
    call->response = &inv->response.base;
    return finish(call, 0);
}

/* The outcome of the backend call of call->step: 0 or -1 when the call is finished, NEXT
 * when the step prepared another backend call. */
static int handle_result(core_call *call)
{
    backend_call *b = &call->store;
    switch (call->step) {
    case STEP_FIND_KEY: {
        const store_webhook *first = b->found;
        if (b->status != 0 && b->status != BACKEND_NOT_FOUND)
            return fail_store(call, b->status);
        if (first == NULL || call->now_ms - first->created_ms >= IDEMPOTENCY_WINDOW_MS) {
            prepare_create(call);
            return NEXT;
        }
        const schema_create_request *req = (const schema_create_request *)call->request;
        int secret = 1;
        if (!same_text(first->ecosystem_id, req->ecosystem_id) || !same_text(first->url, req->url) ||
            !same_text(first->description, req->description) ||
            (secret = same_secret(call, first, req->secret)) != 1) {
            if (secret < 0)
                return fail(call);
            error_set(&call->err, ERROR_UNPROCESSABLE,
                      "This Idempotency-Key was used for a different request in the last 24 hours.");
            return fail(call);
        }
        if (first->deleted) { /* the key made a webhook, since deleted: never a second one */
            char id_hex[OBJECTID_HEX_LEN + 1];
            objectid_to_hex(&first->id, id_hex);
            return fail_not_found(call, id_hex);
        }
        call->created = 1;
        call->replayed = 1;
        return answer_webhook(call, first);
    }
    case STEP_CREATE:
        if (b->status == EEXIST && call->keyed && !call->key_raced) {
            /* another create with this key won (on another node): answer as a retry of it */
            call->key_raced = 1;
            call->step = STEP_FIND_KEY;
            call->store = (backend_call){.verb = BACKEND_FIND_IDEMPOTENT, .digest = call->key_digest};
            return NEXT;
        }
        if (b->status == EEXIST) {
            error_set(&call->err, ERROR_CONFLICT, "A create with this Idempotency-Key is still in progress; retry it.");
            return fail(call);
        }
        if (b->status != 0)
            return fail_store(call, b->status);
        HG_ASSERT(b->found != NULL && memcmp(b->found->id.bytes, call->record.id.bytes, OBJECTID_LEN) == 0);
        call->created = 1;
        return answer_webhook(call, b->found);
    case STEP_GET:
        if (b->status != 0 && b->status != BACKEND_NOT_FOUND)
            return fail_store(call, b->status);
        if (b->found == NULL || !auth_can_read(&call->who, b->found->ecosystem_id))
            return fail_not_found(call, call_webhook_id(call));
        return answer_webhook(call, b->found);
    case STEP_FIND_TARGET: {
        if (b->status != 0 && b->status != BACKEND_NOT_FOUND)
            return fail_store(call, b->status);
        if (b->found == NULL || !auth_can_read(&call->who, b->found->ecosystem_id))
            return fail_not_found(call, call_webhook_id(call));
        /* a webhook never changes ecosystem, so the check holds when the write takes
         * effect; whether it still exists then is the backend's to say */
        objectid id = b->found->id;
        int update = call->method == CORE_UPDATE;
        call->step = update ? STEP_UPDATE : STEP_DELETE;
        call->store = (backend_call){.verb = update ? BACKEND_UPDATE : BACKEND_DELETE, .id = id};
        if (update)
            call->store.changes = &call->changes;
        return NEXT;
    }
    case STEP_UPDATE:
    case STEP_DELETE: {
        if (b->status == BACKEND_NOT_FOUND) /* deleted while this call waited */
            return fail_not_found(call, call_webhook_id(call));
        if (b->status != 0)
            return fail_store(call, b->status);
        static const schema_update_response updated = SCHEMA_UPDATE_RESPONSE_INIT;
        static const schema_delete_response deleted = SCHEMA_DELETE_RESPONSE_INIT;
        call->response = call->step == STEP_UPDATE ? &updated.base : &deleted.base;
        return finish(call, 0);
    }
    case STEP_FIND_INVOKED:
        if (b->status != 0 && b->status != BACKEND_NOT_FOUND)
            return fail_store(call, b->status);
        if (b->found == NULL || !auth_can_read(&call->who, b->found->ecosystem_id))
            return fail_not_found(call, call_webhook_id(call));
        return prepare_invoke(call, b->found); /* a disabled webhook too: how a fix is checked */
    case STEP_INVOKE:
        return invoked(call);
    case STEP_PUBLISH: {
        if (b->status != 0)
            return fail_store(call, b->status);
        if (b->ev.replayed && b->ev.key_conflict) {
            error_set(&call->err, ERROR_UNPROCESSABLE,
                      "This Idempotency-Key was used to publish a different event.");
            return fail(call);
        }
        core_events *ev = &call->events;
        objectid_to_hex(&b->ev.event_id, ev->id_hex);
        ev->publish = (schema_publish_response)SCHEMA_PUBLISH_RESPONSE_INIT;
        ev->publish.id = ev->id_hex;
        ev->publish.webhooks = b->ev.webhooks;
        call->replayed = b->ev.replayed;
        call->created = !b->ev.replayed;
        call->response = &ev->publish.base;
        dispatch_wake(call->core->dispatch);
        return finish(call, 0);
    }
    case STEP_GET_EVENT:
    case STEP_FIND_EVENT: {
        const char *id_hex = ((const schema_get_event_request *)call->request)->id;
        if (call->method == CORE_RESEND)
            id_hex = ((const schema_resend_request *)call->request)->id;
        if (b->status != 0 && b->status != BACKEND_NOT_FOUND)
            return fail_store(call, b->status);
        if (b->status == BACKEND_NOT_FOUND || !auth_can_read(&call->who, b->ev.event->ecosystem_id))
            return fail_no_event(call, id_hex);
        if (call->step == STEP_GET_EVENT) {
            call->response = &b->ev.event->base;
            return finish(call, 0);
        }
        objectid id = b->id;
        const schema_resend_request *req = (const schema_resend_request *)call->request;
        int one = req->webhook_id != NULL && req->webhook_id[0] != '\0';
        if (one)
            objectid_from_hex(req->webhook_id, strlen(req->webhook_id), &call->events.webhook);
        call->step = STEP_RESEND;
        call->store = (backend_call){.verb = BACKEND_RESEND, .id = id};
        call->store.ev.webhook = one ? &call->events.webhook : NULL;
        call->store.ev.now_ms = call->now_ms;
        return NEXT;
    }
    case STEP_RESEND:
    case STEP_RECOVER: {
        if (b->status == BACKEND_NOT_FOUND)
            return fail_no_event(call, ((const schema_resend_request *)call->request)->id);
        if (b->status != 0)
            return fail_store(call, b->status);
        call->events.resend = (schema_resend_response)SCHEMA_RESEND_RESPONSE_INIT;
        call->events.resend.deliveries = (uint32_t)b->ev.count;
        call->response = &call->events.resend.base;
        dispatch_wake(call->core->dispatch);
        return finish(call, 0);
    }
    case STEP_FIND_ATTEMPTED:
    case STEP_FIND_RECOVERED: {
        if (b->status != 0 && b->status != BACKEND_NOT_FOUND)
            return fail_store(call, b->status);
        if (b->found == NULL || !auth_can_read(&call->who, b->found->ecosystem_id))
            return fail_not_found(call, call_webhook_id(call));
        objectid id = b->found->id;
        if (call->step == STEP_FIND_ATTEMPTED) {
            const schema_attempts_request *req = (const schema_attempts_request *)call->request;
            call->step = STEP_ATTEMPTS;
            call->store = (backend_call){.verb = BACKEND_LIST_ATTEMPTS, .id = id,
                                         .limit = req->limit > 0 ? req->limit
                                                                 : call->snap->cfg->limits.default_page_size};
            call->store.ev.before = req->before;
            return NEXT;
        }
        const schema_recover_request *req = (const schema_recover_request *)call->request;
        call->step = STEP_RECOVER;
        call->store = (backend_call){.verb = BACKEND_RECOVER, .id = id};
        call->store.ev.since_ms = req->since->seconds * 1000 + req->since->nanos / 1000000;
        call->store.ev.max = call->snap->cfg->delivery.max_recover;
        call->store.ev.now_ms = call->now_ms;
        return NEXT;
    }
    case STEP_ATTEMPTS:
        if (b->status != 0)
            return fail_store(call, b->status);
        call->response = &b->ev.attempts.base;
        return finish(call, 0);
    case STEP_LIST: {
        schema_list_response init = SCHEMA_LIST_RESPONSE_INIT;
        call->list = init;
        if (b->status != 0)
            return fail_store(call, b->status);
        size_t n = b->n_items;
        core_webhook *items = n > 0 ? call_alloc(call, n * sizeof(*items)) : NULL;
        schema_webhook **ptrs = n > 0 ? call_alloc(call, n * sizeof(*ptrs)) : NULL;
        if (n > 0 && (items == NULL || ptrs == NULL)) {
            call->alloc->free(call->alloc->allocator_data, b->items);
            b->items = NULL;
            error_set(&call->err, ERROR_INTERNAL, "Out of memory.");
            return fail(call);
        }
        HG_ASSERT(n <= b->limit && (n > 0 || !b->more));
        for (size_t i = 0; i < n; i++) {
            webhook_fill(&items[i], b->items[i]);
            ptrs[i] = &items[i].msg;
        }
        if (b->more) { /* the next page starts after this one's last webhook */
            const store_webhook *last = b->items[n - 1];
            store_cursor next = {last->seq, last->id};
            pagetoken_encode(b->ecosystem_id, &next, call->next_page_token);
            call->list.next_page_case = SCHEMA_LIST_RESPONSE_NEXT_PAGE_TOKEN;
            call->list.next_page_token = call->next_page_token;
        }
        if (b->items != NULL)
            call->alloc->free(call->alloc->allocator_data, b->items);
        b->items = NULL;
        call->list.items = ptrs;
        call->list.n_items = n;
        call->listed = items;
        call->response = &call->list.base;
        return finish(call, 0);
    }
    }
    HG_ASSERT(!"a call in no step");
    return -1;
}

/* Submits what the step prepared (call->store, or the invoke's call of a url); 1 when its
 * answer is already here. */
static int submit(core_call *call)
{
    core *c = call->core;
    int invoke = call->step == STEP_INVOKE;
    if (!call->holds_snap && (invoke || !backend_is_synchronous(c->store, call->store.verb))) {
        atomic_fetch_add(&call->snap->waiting, 1); /* before the answer can come on another thread */
        call->holds_snap = 1;
    }
    atomic_store(&call->sync, SYNC_SUBMITTING);
    if (invoke) {
        delivery_submit(c->delivery, &call->invoke.call);
    } else {
        call->store.done = on_store_done;
        call->store.data = call;
        call->store.alloc = call->alloc;
        backend_submit(c->store, &call->store);
    }
    return atomic_exchange(&call->sync, SYNC_RETURNED) == SYNC_ANSWERED;
}

/* Submits the prepared backend call and handles answers while they come at once. */
static int run(core_call *call)
{
    for (;;) {
        if (!submit(call))
            return CORE_PENDING;
        int r = handle_result(call);
        if (r != NEXT)
            return r;
    }
}

static void release_snapshot(core_call *call)
{
    if (call->holds_snap) {
        call->holds_snap = 0;
        atomic_fetch_sub(&call->snap->waiting, 1);
    }
}

/* A backend's or a delivery's answer: carries the call on, unless submit is still running. */
static void answered(core_call *call)
{
    if (atomic_exchange(&call->sync, SYNC_ANSWERED) != SYNC_RETURNED)
        return; /* submit has not returned yet: it carries the call on */
    int r = handle_result(call);
    if (r == NEXT && run(call) == CORE_PENDING)
        return;
    release_snapshot(call); /* before done: the caller may free call at once */
    call->done(call);
}

static void on_store_done(backend_call *b)
{
    answered(b->data);
}

static void on_delivery_done(delivery_call *d)
{
    answered(d->data);
}

/* ---- the methods ---------------------------------------------------------------------------- */

static int start_create(core_call *call)
{
    core *c = call->core;
    const config *cfg = call->snap->cfg;
    const schema_create_request *req = (const schema_create_request *)call->request;
    error *err = &call->err;
    ratelimit *limit = call->snap->create_limit;
    if (limit != NULL && call->who.token != NULL) {
        unsigned wait = ratelimit_take(limit, call->who.token, call->monotonic_ms);
        if (wait > 0) { /* the answer is the limit, not the request's problems */
            error_set_rate_limited(err, wait, "Too many creates with this token; retry in %u s.", wait);
            return fail(call);
        }
    }
    validate_create_request(req, &cfg->limits, err);
    validate_url_destination(req->url, &cfg->delivery.policy, &schema_create_request_descriptor, err);
    if (call->idempotency_key != NULL)
        validate_idempotency_key(call->idempotency_key, call->idempotency_key_len, err);
    if (validation_failed(err) || auth_ecosystem(&call->who, req->ecosystem_id, err) == NULL)
        return fail(call);

    call->record = (store_webhook){
        .id = objectid_make((uint32_t)(call->now_ms / 1000)),
        .created_ms = call->now_ms,
        .ecosystem_id = req->ecosystem_id,
        .url = req->url,
        .secret = req->secret != NULL ? req->secret : "",
        .description = req->description != NULL ? req->description : "",
    };
    if (call->idempotency_key == NULL) {
        prepare_create(call);
        return run(call);
    }
    auth_scoped_digest(&call->who, call->idempotency_key, call->idempotency_key_len, call->key_digest);
    switch (idempotency_begin(c->idempotency, call->key_digest)) {
    case IDEMPOTENCY_IN_FLIGHT:
        error_set(err, ERROR_CONFLICT, "A create with this Idempotency-Key is still in progress; retry it.");
        return fail(call);
    case IDEMPOTENCY_NO_MEMORY:
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return fail(call);
    case IDEMPOTENCY_NEW:
        break;
    }
    call->keyed = 1;
    call->step = STEP_FIND_KEY;
    call->store = (backend_call){.verb = BACKEND_FIND_IDEMPOTENT, .digest = call->key_digest};
    return run(call);
}

/* Starts a call with its first step: a read of the webhook or event id_hex (validated)
 * names, answered to `step`. */
static int start_read(core_call *call, int step, backend_verb verb, const char *id_hex)
{
    call->step = step;
    call->store = (backend_call){.verb = verb};
    objectid_from_hex(id_hex, strlen(id_hex), &call->store.id);
    return run(call);
}

static int start_get(core_call *call)
{
    const schema_get_request *req = (const schema_get_request *)call->request;
    validate_get_request(req, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    return start_read(call, STEP_GET, BACKEND_GET, req->id);
}

/* An update or a delete starts by reading the webhook: is it there, may the token see it? */
static int start_find_target(core_call *call, const char *id_hex)
{
    return start_read(call, STEP_FIND_TARGET, BACKEND_GET, id_hex);
}

static int start_update(core_call *call)
{
    const schema_update_request *req = (const schema_update_request *)call->request;
    validate_update_request(req, &call->snap->cfg->limits, call->id_in, &call->err);
    if (req->changes != NULL)
        validate_url_destination(req->changes->url, &call->snap->cfg->delivery.policy,
                                 &schema_webhook_changes_descriptor, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    const schema_webhook_changes *c = req->changes;
    HG_ASSERT(c != NULL && c->url != NULL); /* validated: url is required */
    call->changes = (store_changes){.sets = STORE_SET_URL, .url = c->url};
    if (c->secret_set_case == SCHEMA_CHANGES_SECRET_SET) {
        call->changes.sets |= STORE_SET_SECRET;
        call->changes.secret = c->secret != NULL ? c->secret : "";
    }
    if (c->description_set_case == SCHEMA_CHANGES_DESCRIPTION_SET) {
        call->changes.sets |= STORE_SET_DESCRIPTION;
        call->changes.description = c->description != NULL ? c->description : "";
    }
    if (c->disabled_set_case == SCHEMA_CHANGES_DISABLED_SET) {
        call->changes.sets |= STORE_SET_DISABLED;
        call->changes.disabled = c->disabled != 0;
    }
    return start_find_target(call, req->id);
}

static int start_delete(core_call *call)
{
    const schema_delete_request *req = (const schema_delete_request *)call->request;
    validate_delete_request(req, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    return start_find_target(call, req->id);
}

static int start_invoke(core_call *call)
{
    const schema_invoke_request *req = (const schema_invoke_request *)call->request;
    validate_invoke_request(req, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    if (call->core->delivery == NULL) {
        error_set(&call->err, ERROR_UNAVAILABLE, "This server does not call webhooks.");
        return fail(call);
    }
    return start_read(call, STEP_FIND_INVOKED, BACKEND_GET, req->id);
}

static int start_list(core_call *call)
{
    const schema_list_request *req = (const schema_list_request *)call->request;
    const config_limits *limits = &call->snap->cfg->limits;
    int paged = validate_list_request(req, limits, &call->after, &call->err);
    /* the ecosystem is authorized on every page: a page token grants nothing by itself */
    if (validation_failed(&call->err) || auth_ecosystem(&call->who, req->ecosystem_id, &call->err) == NULL)
        return fail(call);
    call->step = STEP_LIST;
    call->store = (backend_call){.verb = BACKEND_LIST,
                                 .ecosystem_id = req->ecosystem_id,
                                 .after = paged ? &call->after : NULL,
                                 .limit = req->limit > 0 ? req->limit : limits->default_page_size};
    return run(call);
}

static int start_publish(core_call *call)
{
    core *c = call->core;
    const config *cfg = call->snap->cfg;
    const schema_publish_request *req = (const schema_publish_request *)call->request;
    error *err = &call->err;
    validate_publish_request(req, &cfg->delivery, err);
    if (call->idempotency_key != NULL)
        validate_idempotency_key(call->idempotency_key, call->idempotency_key_len, err);
    if (validation_failed(err) || auth_ecosystem(&call->who, req->ecosystem_id, err) == NULL)
        return fail(call);
    /* the items as every delivery sends them: packed once, kept by the store as bytes */
    schema_event_body body = SCHEMA_EVENT_BODY_INIT;
    body.n_items = req->n_items;
    body.items = req->items;
    size_t len = protobuf_c_message_get_packed_size(&body.base);
    core_events *ev = &call->events;
    if ((ev->body = call_alloc(call, len > 0 ? len : 1)) == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return fail(call);
    }
    protobuf_c_message_pack(&body.base, ev->body);
    call->step = STEP_PUBLISH;
    call->store = (backend_call){.verb = BACKEND_PUBLISH};
    call->store.ev.publish.id = objectid_make((uint32_t)(call->now_ms / 1000));
    call->store.ev.publish.ecosystem_id = req->ecosystem_id;
    call->store.ev.publish.created_ms = call->now_ms;
    call->store.ev.publish.body = ev->body;
    call->store.ev.publish.body_len = len;
    if (call->idempotency_key != NULL) {
        auth_scoped_digest(&call->who, call->idempotency_key, call->idempotency_key_len, call->key_digest);
        switch (idempotency_begin(c->idempotency, call->key_digest)) {
        case IDEMPOTENCY_IN_FLIGHT:
            error_set(err, ERROR_CONFLICT, "A publish with this Idempotency-Key is still in progress; retry it.");
            return fail(call);
        case IDEMPOTENCY_NO_MEMORY:
            error_set(err, ERROR_INTERNAL, "Out of memory.");
            return fail(call);
        case IDEMPOTENCY_NEW:
            break;
        }
        call->keyed = 1;
        call->store.ev.publish.digest = call->key_digest;
    }
    return run(call);
}

static int start_get_event(core_call *call)
{
    const schema_get_event_request *req = (const schema_get_event_request *)call->request;
    validate_get_event_request(req, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    return start_read(call, STEP_GET_EVENT, BACKEND_GET_EVENT, req->id);
}

static int start_resend(core_call *call)
{
    const schema_resend_request *req = (const schema_resend_request *)call->request;
    validate_resend_request(req, call->id_in, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    return start_read(call, STEP_FIND_EVENT, BACKEND_GET_EVENT, req->id);
}

static int start_list_attempts(core_call *call)
{
    const schema_attempts_request *req = (const schema_attempts_request *)call->request;
    validate_attempts_request(req, &call->snap->cfg->limits, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    return start_read(call, STEP_FIND_ATTEMPTED, BACKEND_GET, req->id);
}

static int start_recover(core_call *call)
{
    const schema_recover_request *req = (const schema_recover_request *)call->request;
    validate_recover_request(req, call->id_in, &call->err);
    if (validation_failed(&call->err))
        return fail(call);
    return start_read(call, STEP_FIND_RECOVERED, BACKEND_GET, req->id);
}

/* The ecosystems the token may act on, from the call's configuration snapshot. The ids are
 * copied into the call's memory: the snapshot may be freed (a reload) before the answer is
 * encoded. The count is bounded by the configuration (CONFIG_MAX_ECOSYSTEMS an account). */
static int start_list_ecosystems(core_call *call)
{
    if (validation_failed(&call->err)) /* the request has no fields: only what a codec found (a query string) */
        return fail(call);
    const auth_principal *who = &call->who;
    const config_ecosystem *one = who->kind == AUTH_SERVER ? who->ecosystem : NULL;
    const config_ecosystem *all = one != NULL ? one : who->account->ecosystems;
    size_t n_all = one != NULL ? 1 : who->account->n_ecosystems, n = 0;
    HG_ASSERT(who->kind == AUTH_ACCOUNT || one != NULL);
    for (size_t i = 0; i < n_all; i++)
        n += !all[i].deleted;
    schema_ecosystems_response *res = call_alloc(call, sizeof(*res));
    schema_ecosystem *items = n > 0 ? call_alloc(call, n * sizeof(*items)) : NULL;
    schema_ecosystem **ptrs = n > 0 ? call_alloc(call, n * sizeof(*ptrs)) : NULL;
    char *ids = n > 0 ? call_alloc(call, n * (CONFIG_ECOSYSTEM_ID_LEN + 1)) : NULL;
    if (res == NULL || (n > 0 && (items == NULL || ptrs == NULL || ids == NULL))) {
        error_set(&call->err, ERROR_INTERNAL, "Out of memory.");
        return fail(call);
    }
    *res = (schema_ecosystems_response)SCHEMA_ECOSYSTEMS_RESPONSE_INIT;
    size_t k = 0;
    for (size_t i = 0; i < n_all; i++) {
        if (all[i].deleted)
            continue;
        HG_ASSERT(k < n && strlen(all[i].id) == CONFIG_ECOSYSTEM_ID_LEN);
        char *id = ids + k * (CONFIG_ECOSYSTEM_ID_LEN + 1);
        memcpy(id, all[i].id, CONFIG_ECOSYSTEM_ID_LEN + 1);
        items[k] = (schema_ecosystem)SCHEMA_ECOSYSTEM_INIT;
        items[k].id = id;
        ptrs[k] = &items[k];
        k++;
    }
    res->n_items = n;
    res->items = ptrs;
    call->response = &res->base;
    return finish(call, 0);
}

/* The dispatch table: WebhookService's methods, by their input message. A method of the
 * schema that is not here answers ERROR_UNIMPLEMENTED. */
static const struct {
    const ProtobufCMessageDescriptor *input;
    int (*start)(core_call *call);
    int may_wait; /* its backend calls include a write */
} methods[CORE_METHODS] = {
    [CORE_CREATE] = {&schema_create_request_descriptor, start_create, 1},
    [CORE_GET] = {&schema_get_request_descriptor, start_get, 0},
    [CORE_LIST] = {&schema_list_request_descriptor, start_list, 0},
    [CORE_UPDATE] = {&schema_update_request_descriptor, start_update, 1},
    [CORE_DELETE] = {&schema_delete_request_descriptor, start_delete, 1},
    [CORE_INVOKE] = {&schema_invoke_request_descriptor, start_invoke, 1},
    [CORE_PUBLISH] = {&schema_publish_request_descriptor, start_publish, 1},
    [CORE_GET_EVENT] = {&schema_get_event_request_descriptor, start_get_event, 0},
    [CORE_LIST_ATTEMPTS] = {&schema_attempts_request_descriptor, start_list_attempts, 0},
    [CORE_RESEND] = {&schema_resend_request_descriptor, start_resend, 1},
    [CORE_RECOVER] = {&schema_recover_request_descriptor, start_recover, 1},
    [CORE_LIST_ECOSYSTEMS] = {&schema_ecosystems_request_descriptor, start_list_ecosystems, 0},
};

int core_method_reads_clock(core_method method)
{
    return method == CORE_CREATE || method == CORE_INVOKE || method == CORE_PUBLISH || method == CORE_RESEND ||
           method == CORE_RECOVER;
}

core_method core_method_of(const ProtobufCMethodDescriptor *m)
{
    for (unsigned i = 0; i < CORE_METHODS; i++)
        if (methods[i].input == m->input)
            return (core_method)i;
    return CORE_METHODS;
}

const ProtobufCMethodDescriptor *core_method_from_path(const char *path, size_t len)
{
    const ProtobufCServiceDescriptor *s = &schema_webhook_service_descriptor;
    size_t n = strlen(s->name);
    if (len < n + 3 || path[0] != '/' || memcmp(path + 1, s->name, n) != 0 || path[n + 1] != '/')
        return NULL;
    const char *method = path + n + 2;
    size_t method_len = len - n - 2;
    for (unsigned i = 0; i < s->n_methods; i++)
        if (strlen(s->methods[i].name) == method_len && memcmp(s->methods[i].name, method, method_len) == 0)
            return &s->methods[i];
    return NULL;
}

void core_call_init(core_call *call, core_method method)
{
    memset(call, 0, offsetof(core_call, err));
    call->method = method;
    call->blocks = NULL;
    call->listed = NULL;
    error_clear(&call->err);
}

/* core_call_memory's blocks: each malloc'd with a link to the previous one. */
typedef struct call_block {
    struct call_block *next;
    max_align_t data[];
} call_block;

static void *memory_alloc(void *data, size_t size)
{
    core_call *call = data;
    call_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = call->blocks;
    call->blocks = b;
    return b->data;
}

static void memory_free(void *data, void *p)
{
    (void)data, (void)p; /* with the call, all at once */
}

ProtobufCAllocator *core_call_memory(core_call *call)
{
    call->memory = (ProtobufCAllocator){memory_alloc, memory_free, call};
    return &call->memory;
}

void core_call_release(core_call *call)
{
    for (call_block *b = call->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    call->blocks = NULL;
}

int core_call_may_wait(const core *c, core_method method)
{
    if (method == CORE_INVOKE) /* a url's answer always comes later */
        return 1;
    if ((unsigned)method >= CORE_METHODS)
        return 0;
    /* a backend's reads are all alike (the memory index answers them at once, a database
     * later), and so are its writes */
    return !backend_is_synchronous(c->store, methods[method].may_wait ? BACKEND_CREATE : BACKEND_GET);
}

int core_call_start(core *c, core_call *call)
{
    call->core = c;
    call->response = NULL;
    call->created = call->replayed = call->keyed = call->holds_snap = call->key_raced = 0;
    call->step = 0;
    call->snap = atomic_load(&c->current); /* the one configuration this call sees */
    error *err = &call->err;
    if (auth_authenticate(call->snap->cfg, call->authorization, call->authorization_len, &call->who, err) != 0)
        return fail(call); /* the token first: a stranger learns nothing about the request */
    if ((unsigned)call->method >= CORE_METHODS) {
        error_set(err, ERROR_UNIMPLEMENTED, "The method is not implemented.");
        return fail(call);
    }
    if (err->kind != ERROR_NONE && err->kind != ERROR_INVALID_PARAMS)
        return fail(call); /* what the transport found that no parameter fix would cure */
    if (call->request == NULL) {
        HG_ASSERT(err->kind != ERROR_NONE); /* a codec that read nothing says why */
        error_sort_params(err);
        return fail(call);
    }
    HG_ASSERT(call->request->descriptor == methods[call->method].input);
    HG_ASSERT(call->alloc != NULL);
    /* a call that may wait answers after its start returned: never from the transport's
     * memory, which may be gone with the client by then */
    if (core_call_may_wait(c, call->method))
        call->alloc = core_call_memory(call);
    int r = methods[call->method].start(call);
    if (r != CORE_PENDING)
        release_snapshot(call);
    return r;
}

void core_stats(core *c, backend_stats *out)
{
    backend_stats_get(c->store, out);
}

int core_is_ready(core *c, const char **reason)
{
    backend_stats s;
    backend_stats_get(c->store, &s);
    if (s.writable == 0) {
        *reason = s.unwritable;
        return 0;
    }
    *reason = "ready";
    return 1;
}
