/* dispatch: see dispatch.h.
 *
 * An attempt's life: claimed (the store counts it in flight) -> its webhook read -> its url
 * called (delivery thread) -> decided (retry.h) -> its outcome recorded (the store's
 * writer) -> maybe its webhook disabled -> freed. `in_flight` counts attempts from claim
 * to free, which is what delivery.max_in_flight bounds. */
#include "dispatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hg_assert.h"
#include "retry.h"
#include "validate.h"

#define DISPATCH_REASON_MAX 160

struct dispatch {
    backend *b;
    delivery *out;
    dispatch_hooks hooks;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t wake;
    config_delivery cfg;
    int stopping, woken;
    unsigned in_flight; /* claimed, not yet freed */
    int64_t next_expire_ms;
    uint64_t random_state;
    pthread_t thread;
    events_claim claims[DISPATCH_CLAIM_BATCH];
};

/* The claim batch's memory (a database backend's rows), freed once its attempts started. */
typedef struct arena {
    void **blocks;
    size_t n, cap;
} arena;

static void *arena_alloc(void *data, size_t size)
{
    arena *a = data;
    if (a->n == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        void **blocks = realloc(a->blocks, cap * sizeof(*blocks));
        if (blocks == NULL)
            return NULL;
        a->blocks = blocks, a->cap = cap;
    }
    void *p = malloc(size);
    if (p != NULL)
        a->blocks[a->n++] = p;
    return p;
}

static void arena_free_one(void *data, void *p)
{
    (void)data, (void)p; /* with the arena */
}

static void arena_release(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
    *a = (arena){0};
}

typedef struct attempt {
    dispatch *p;
    events_claim claim;
    netpolicy policy; /* the settings it was started with */
    unsigned connect_timeout_ms, timeout_ms;
    schema_event_body *body;
    char *url;
    char *secret;
    size_t secret_len;
    int64_t started_ms;
    delivery_call call;
    schema_stored_event record;
    schema_stored_event *records[1];
    backend_call store;
    int disable;
    char reason[DISPATCH_REASON_MAX];
    store_changes changes;
    arena rows; /* what a database backend answers the disable with, freed with the attempt */
    ProtobufCAllocator rows_alloc;
} attempt;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter needs spread, not secrecy. Under p->lock. */
static uint64_t next_random(dispatch *p)
{
    uint64_t x = p->random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->random_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void attempt_free(attempt *a)
{
    dispatch *p = a->p;
    backend_secret_free(a->secret, a->secret_len);
    free(a->url);
    if (a->body != NULL)
        protobuf_c_message_free_unpacked(&a->body->base, NULL);
    arena_release(&a->rows);
    free(a);
    pthread_mutex_lock(&p->lock);
    HG_ASSERT(p->in_flight > 0);
    p->in_flight--;
    p->woken = 1; /* its webhook may have another due: claim again (the thread may not be waiting yet) */
    pthread_cond_broadcast(&p->wake); /* room for another, or dispatch_destroy waits for none */
    pthread_mutex_unlock(&p->lock);
}

static void on_disabled(backend_call *c)
{
    attempt_free(c->data);
}

/* The outcome is written; a webhook that answered 410 or failed too long is disabled. */
static void on_recorded(backend_call *c)
{
    attempt *a = c->data;
    if (!a->disable) {
        attempt_free(a);
        return;
    }
    if (a->p->hooks.disabled != NULL)
        a->p->hooks.disabled(a->reason);
    a->changes = (store_changes){.sets = STORE_SET_DISABLED,
                                 .disabled = 1,
                                 .disabled_reason = a->reason,
                                 .disabled_ms = a->started_ms + a->call.duration_ms};
    a->rows_alloc = (ProtobufCAllocator){arena_alloc, arena_free_one, &a->rows};
    a->store = (backend_call){.verb = BACKEND_UPDATE, .id = a->claim.webhook_id, .changes = &a->changes,
                              .alloc = &a->rows_alloc, .done = on_disabled, .data = a};
    backend_submit(a->p->b, &a->store);
}

/* Writes a->record (a DELIVERY record of a->claim). */
static void record(attempt *a)
{
    a->record.change = SCHEMA_EVENT_DELIVERY;
    a->record.id = (ProtobufCBinaryData){OBJECTID_LEN, a->claim.event_id.bytes};
    a->record.webhook_id = (ProtobufCBinaryData){OBJECTID_LEN, a->claim.webhook_id.bytes};
    a->records[0] = &a->record;
    a->store = (backend_call){.verb = BACKEND_RECORD, .done = on_recorded, .data = a};
    a->store.ev.records = a->records;
    a->store.ev.n_records = 1;
    backend_submit(a->p->b, &a->store);
}

/* The url answered (or did not): what follows, recorded. On the delivery's thread. */
static void on_called(delivery_call *call)
{
    attempt *a = call->data;
    dispatch *p = a->p;
    int64_t now = now_ms();
    int64_t retry_after_ms = 0;
    int has_retry_after =
        call->retry_after[0] != '\0' && retry_after_parse(call->retry_after, strlen(call->retry_after), now,
                                                          &retry_after_ms) == 0;
    int64_t wait_ms = 0;
    pthread_mutex_lock(&p->lock);
    int stopping = p->stopping;
    retry_verdict verdict = retry_decide(&p->cfg, a->claim.attempt, call->outcome, call->status, has_retry_after,
                                         retry_after_ms, next_random(p), &wait_ms);
    if (verdict == RETRY_AGAIN && a->claim.trigger == EVENTS_MANUAL)
        verdict = RETRY_FAILED; /* a resend or a recover is one attempt: its retries were the schedule's */
    int64_t failing_since = verdict == RETRY_DELIVERED ? 0
                            : a->claim.failing_since_ms != 0 ? a->claim.failing_since_ms
                                                             : a->started_ms;
    int too_long = verdict != RETRY_DELIVERED && retry_should_disable(&p->cfg, failing_since, now);
    uint64_t disable_after_ms = p->cfg.disable_after_ms;
    pthread_mutex_unlock(&p->lock);

    events_error error = retry_class_of(call->outcome);
    if (p->hooks.attempt != NULL)
        p->hooks.attempt(error, call->duration_ms);
    events_state state = verdict == RETRY_DELIVERED ? EVENTS_DELIVERED
                         : verdict == RETRY_AGAIN   ? EVENTS_PENDING
                                                    : EVENTS_FAILED;
    if (state != EVENTS_PENDING && p->hooks.finished != NULL)
        p->hooks.finished(state);
    if (stopping) { /* not recorded: due again at the next start */
        attempt_free(a);
        return;
    }
    if (verdict == RETRY_GONE) {
        a->disable = 1;
        snprintf(a->reason, sizeof a->reason, "Its url answered 410 Gone.");
    } else if (too_long) {
        a->disable = 1;
        snprintf(a->reason, sizeof a->reason,
                 "No delivery succeeded for %llu ms (delivery.disable_after_ms) while deliveries kept failing.",
                 (unsigned long long)disable_after_ms);
    }
    schema_stored_event *r = &a->record;
    *r = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
    r->state = state;
    r->attempts = a->claim.attempt;
    r->next_ms = state == EVENTS_PENDING ? now + wait_ms : 0;
    r->last_status = call->status;
    r->last_error = error;
    r->failing_since_ms = failing_since;
    r->attempt = a->claim.attempt;
    r->trigger = a->claim.trigger;
    r->started_ms = a->started_ms;
    r->duration_ms = call->duration_ms;
    r->status_code = call->status;
    r->error = error;
    r->response = (ProtobufCBinaryData){call->response_len, call->response};
    record(a);
}

/* A delivery whose webhook is gone or disabled is cancelled, not attempted. */
static void cancel(attempt *a)
{
    a->record = (schema_stored_event)SCHEMA_STORED_EVENT_INIT;
    a->record.state = EVENTS_CANCELLED;
    a->record.failing_since_ms = a->claim.failing_since_ms;
    if (a->p->hooks.finished != NULL)
        a->p->hooks.finished(EVENTS_CANCELLED);
    record(a);
}

/* A backend call the dispatcher's thread waits for (a claim, an expiry): the memory
 * backend answers before submit returns, a database's worker later. */
typedef struct waited {
    backend_call call;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waited;

static void on_waited(backend_call *c)
{
    waited *w = (waited *)c;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void submit_and_wait(backend *b, waited *w)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->done = 0;
    w->call.done = on_waited;
    backend_submit(b, &w->call);
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}


/* Starts the attempt of one claimed delivery. On the dispatcher's thread, lock not held. */
static void start(dispatch *p, const events_claim *claim, const config_delivery *cfg)
{
    attempt *a = calloc(1, sizeof(*a));
    if (a == NULL) { /* the claim stays in flight until the next start: at least once, late */
        pthread_mutex_lock(&p->lock);
        p->in_flight--;
        pthread_mutex_unlock(&p->lock);
        return;
    }
    a->p = p;
    a->claim = *claim;
    a->started_ms = now_ms();
    const store_webhook *w = claim->webhook; /* as the claim found it */
    if (w == NULL || w->disabled || w->deleted) {
        cancel(a);
        return;
    }
    a->policy = cfg->policy;
    a->body = (schema_event_body *)protobuf_c_message_unpack(&schema_event_body_descriptor, NULL, claim->body_len,
                                                             claim->body);
    if (a->body == NULL || (a->url = validate_url_ascii(w->url)) == NULL ||
        backend_secret_open(p->b, w, &a->secret, &a->secret_len) != 0) {
        /* out of memory, or a secret that does not open: tried again later */
        a->call.outcome = DELIVERY_FAILED;
        a->call.status = 0;
        snprintf(a->call.detail, sizeof a->call.detail, "the call could not be prepared");
        a->call.data = a;
        on_called(&a->call);
        return;
    }
    delivery_call *d = &a->call;
    d->url = a->url;
    d->body = &a->body->base;
    d->secret = a->secret_len > 0 ? a->secret : NULL;
    d->secret_len = a->secret_len;
    objectid_to_hex(&claim->event_id, d->message_id); /* webhook-id: the event, the same on every retry */
    d->policy = &a->policy;
    d->connect_timeout_ms = cfg->connect_timeout_ms;
    d->timeout_ms = cfg->timeout_ms;
    d->done = on_called;
    d->data = a;
    delivery_submit(p->out, d);
}

static void expire(dispatch *p, int64_t now, uint64_t retention_ms)
{
    waited w = {.call = {.verb = BACKEND_EXPIRE}};
    w.call.ev.now_ms = now;
    w.call.ev.since_ms = now - (int64_t)retention_ms;
    submit_and_wait(p->b, &w);
}

static void *dispatch_main(void *arg)
{
    dispatch *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        int64_t now = now_ms();
        if (now >= p->next_expire_ms) {
            uint64_t retention = p->cfg.retention_ms;
            p->next_expire_ms = now + DISPATCH_EXPIRE_EVERY_MS;
            pthread_mutex_unlock(&p->lock);
            expire(p, now, retention);
            pthread_mutex_lock(&p->lock);
        }
        int64_t wake_at = p->next_expire_ms;
        unsigned room = p->in_flight < p->cfg.max_in_flight ? p->cfg.max_in_flight - p->in_flight : 0;
        if (room > 0) {
            size_t max = room < DISPATCH_CLAIM_BATCH ? room : DISPATCH_CLAIM_BATCH;
            config_delivery cfg = p->cfg; /* this batch's settings */
            p->woken = 0;
            pthread_mutex_unlock(&p->lock);
            arena batch = {0};
            ProtobufCAllocator alloc = {arena_alloc, arena_free_one, &batch};
            waited w = {.call = {.verb = BACKEND_CLAIM, .alloc = &alloc}};
            backend_call *c = &w.call;
            c->ev.now_ms = now;
            c->ev.per_webhook = cfg.max_in_flight_per_webhook;
            c->ev.lease_ms = (int64_t)cfg.timeout_ms + DISPATCH_LEASE_MARGIN_MS;
            c->ev.claims = p->claims;
            c->ev.max = max;
            submit_and_wait(p->b, &w);
            size_t n = c->status == 0 ? c->ev.count : 0;
            HG_ASSERT(n <= max);
            pthread_mutex_lock(&p->lock);
            p->in_flight += (unsigned)n;
            pthread_mutex_unlock(&p->lock);
            for (size_t i = 0; i < n; i++)
                start(p, &p->claims[i], &cfg);
            arena_release(&batch); /* each attempt copied what it keeps */
            pthread_mutex_lock(&p->lock);
            if (n == max)
                continue; /* more may be due */
            if (c->status == 0 && c->ev.next_due_ms < wake_at)
                wake_at = c->ev.next_due_ms;
        }
        if (p->woken || p->stopping) {
            p->woken = 0;
            continue;
        }
        struct timespec until = {.tv_sec = wake_at / 1000, .tv_nsec = (wake_at % 1000) * 1000000};
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void wake_from_store(void *ctx)
{
    dispatch_wake(ctx);
}

dispatch *dispatch_create(backend *b, delivery *d, const config_delivery *cfg, const dispatch_hooks *hooks,
                          char *why, size_t why_size)
{
    HG_ASSERT(b != NULL && d != NULL && cfg != NULL);
    dispatch *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    p->b = b;
    p->out = d;
    if (hooks != NULL)
        p->hooks = *hooks;
    p->cfg = *cfg;
    p->random_state = (uint64_t)now_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    if (p->random_state == 0)
        p->random_state = 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    backend_set_event_wake(b, wake_from_store, p);
    int rc = pthread_create(&p->thread, NULL, dispatch_main, p);
    if (rc != 0) {
        snprintf(why, why_size, "cannot start the delivery thread: %s", strerror(rc));
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        free(p);
        return NULL;
    }
    return p;
}

void dispatch_configure(dispatch *p, const config_delivery *cfg)
{
    pthread_mutex_lock(&p->lock);
    p->cfg = *cfg;
    p->woken = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void dispatch_wake(dispatch *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->woken = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void dispatch_stop(dispatch *p)
{
    if (p == NULL)
        return;
    backend_set_event_wake(p->b, NULL, NULL);
    pthread_mutex_lock(&p->lock);
    int running = !p->stopping;
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (running)
        pthread_join(p->thread, NULL);
}

void dispatch_destroy(dispatch *p)
{
    if (p == NULL)
        return;
    dispatch_stop(p);
    pthread_mutex_lock(&p->lock);
    while (p->in_flight > 0) /* outcomes being written, webhooks being disabled */
        pthread_cond_wait(&p->wake, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}
