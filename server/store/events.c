/* events: see events.h.
 *
 * An event holds its deliveries in one array sorted by webhook id (a record names a
 * delivery by the pair: a binary search). A webhook (ev_hook) holds a heap of its pending
 * deliveries that are not in flight, keyed by when each is due, and the log holds a heap
 * of the webhooks that can be claimed from, keyed by their earliest due delivery: a claim
 * is O(log n) and never looks at a webhook that is at its in-flight cap. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hashtable.h"
#include "heap.h"
#include "hg_assert.h"
#include "record.h"
#include "utf8.h"

typedef struct ev_hook ev_hook;
typedef struct ev_event ev_event;

typedef struct ev_delivery {
    heap_node due; /* in its hook's queue while pending and not in flight; key = next_ms */
    ev_event *event;
    ev_hook *hook;
    struct ev_delivery *hook_prev, *hook_next; /* the hook's deliveries, in publish order */
    uint8_t state, trigger, in_flight, last_error;
    uint32_t attempts, last_status;
    int64_t next_ms;
} ev_delivery;

struct ev_event {
    objectid id;
    int64_t created_ms;
    char ecosystem_id[OBJECTID_ECOSYSTEM_ID_LEN + 1];
    int keyed;
    uint8_t digest[EVENTS_DIGEST_LEN];
    uint8_t *body;
    size_t body_len;
    unsigned in_flight;
    ev_event *prev, *next; /* every event, in publish order */
    size_t n;
    ev_delivery d[]; /* sorted by hook id */
};

typedef struct ev_attempt {
    uint64_t seq;
    objectid event_id; /* zeros for an invoke */
    int64_t started_ms;
    uint32_t attempt, duration_ms, status;
    uint8_t trigger, error;
    uint16_t response_len;
    uint8_t *response;
} ev_attempt;

struct ev_hook {
    objectid id;
    heap_node ready; /* in the log's `ready` while its queue can be claimed from, else in `capped` while
                        its queue is not empty (at its in-flight cap): both keyed by its earliest */
    heap queue;      /* its pending deliveries not in flight */
    unsigned in_flight;
    int in_capped; /* its node is in `capped`, not `ready` */
    int64_t failing_since_ms;
    ev_delivery *first, *last;
    size_t n_deliveries; /* in that list: its queue has room for each */
    ev_attempt *attempts; /* [head, head + count) in seq order */
    size_t head, count, cap;
};

struct events {
    pthread_mutex_t lock;
    hashtable by_id, by_digest, hooks;
    heap ready, capped; /* room for every hook in each, reserved as a hook is made: moves never fail */
    ev_event *oldest, *newest;
    unsigned per_webhook; /* the cap the last claim used: a hook at it is out of `ready` */
    uint64_t last_seq;
    size_t in_flight, pending;
    uint64_t cancelled; /* by a webhook's disable or delete */
};

#define CONTAINER(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static const char *const state_names[EVENTS_STATES] = {"pending", "delivered", "failed", "cancelled"};
static const char *const trigger_names[EVENTS_TRIGGERS] = {"scheduled", "manual", "invoke"};

const char *events_state_name(events_state s)
{
    HG_ASSERT(s < EVENTS_STATES);
    return state_names[s];
}

static const char *const error_names[EVENTS_ERRORS] = {"", "timeout", "connect", "dns", "tls", "http", "blocked"};

const char *events_error_name(unsigned error)
{
    return error < EVENTS_ERRORS ? error_names[error] : "";
}

const char *events_trigger_name(events_trigger t)
{
    HG_ASSERT(t < EVENTS_TRIGGERS);
    return trigger_names[t];
}

static uint64_t id_hash(const objectid *id)
{
    return hashtable_hash_bytes(id->bytes, OBJECTID_LEN);
}

static int event_id_equal(const void *item, const void *key)
{
    return memcmp(((const ev_event *)item)->id.bytes, key, OBJECTID_LEN) == 0;
}

static int event_digest_equal(const void *item, const void *key)
{
    return memcmp(((const ev_event *)item)->digest, key, EVENTS_DIGEST_LEN) == 0;
}

static int hook_id_equal(const void *item, const void *key)
{
    return memcmp(((const ev_hook *)item)->id.bytes, key, OBJECTID_LEN) == 0;
}

events *events_create(void)
{
    events *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    pthread_mutex_init(&e->lock, NULL);
    hashtable_init(&e->by_id, event_id_equal, EVENTS_MAX_EVENTS, NULL);
    hashtable_init(&e->by_digest, event_digest_equal, EVENTS_MAX_EVENTS, NULL);
    hashtable_init(&e->hooks, hook_id_equal, EVENTS_MAX_WEBHOOKS, NULL);
    heap_init(&e->ready, EVENTS_MAX_WEBHOOKS);
    heap_init(&e->capped, EVENTS_MAX_WEBHOOKS);
    e->per_webhook = 1;
    return e;
}

static void hook_free(ev_hook *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->attempts[h->head + i].response);
    free(h->attempts);
    heap_destroy(&h->queue);
    free(h);
}

void events_destroy(events *e)
{
    if (e == NULL)
        return;
    for (ev_event *ev = e->oldest, *next; ev != NULL; ev = next) {
        next = ev->next;
        free(ev->body);
        free(ev);
    }
    size_t cursor = 0;
    for (ev_hook *h; (h = hashtable_next(&e->hooks, &cursor)) != NULL;)
        hook_free(h);
    hashtable_destroy(&e->by_id);
    hashtable_destroy(&e->by_digest);
    hashtable_destroy(&e->hooks);
    heap_destroy(&e->ready);
    heap_destroy(&e->capped);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* ---- the queues ------------------------------------------------------------------------ */

/* Puts h in `ready` when it has a pending delivery and room for one more in flight, in
 * `capped` when it has one and no room, else in neither; keyed by its earliest. The node
 * is the same: a hook is in one heap at most, and each has room for every hook. */
static void hook_sync(events *e, ev_hook *h)
{
    heap_node *top = heap_top(&h->queue);
    heap *want = top == NULL ? NULL : h->in_flight < e->per_webhook ? &e->ready : &e->capped;
    heap *now = !heap_node_in(&h->ready) ? NULL : h->in_capped ? &e->capped : &e->ready;
    if (now != want && now != NULL)
        heap_remove(now, &h->ready);
    if (want == NULL)
        return;
    if (now != want) {
        h->ready.key = top->key;
        int pushed = heap_push(want, &h->ready);
        HG_ASSERT(pushed == 0); /* reserved when the hook was made */
        h->in_capped = want == &e->capped;
    } else if (h->ready.key != top->key) {
        heap_rekey(want, &h->ready, top->key);
    }
}

static ev_hook *hook_find(events *e, const objectid *id)
{
    return hashtable_find(&e->hooks, id_hash(id), id);
}

static ev_hook *hook_get(events *e, const objectid *id)
{
    ev_hook *h = hook_find(e, id);
    if (h != NULL)
        return h;
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    h->id = *id;
    heap_node_init(&h->ready);
    heap_init(&h->queue, EVENTS_MAX_EVENTS);
    /* room for it in both heaps now, so that hook_sync never fails */
    size_t hooks = hashtable_count(&e->hooks) + 1;
    if (heap_reserve(&e->ready, hooks - heap_count(&e->ready)) != 0 ||
        heap_reserve(&e->capped, hooks - heap_count(&e->capped)) != 0 ||
        hashtable_insert(&e->hooks, id_hash(id), h) != HASHTABLE_OK) {
        free(h);
        return NULL;
    }
    return h;
}

/* Makes d's place in its hook's queue match its state: queued at next_ms while pending
 * and not in flight, else out. A queue has room for every delivery of its hook (reserved
 * at publish; a queue never shrinks), so the push cannot fail. */
static void delivery_sync(events *e, ev_delivery *d)
{
    int want = d->state == EVENTS_PENDING && !d->in_flight;
    if (want && !heap_node_in(&d->due)) {
        d->due.key = d->next_ms;
        int pushed = heap_push(&d->hook->queue, &d->due);
        HG_ASSERT(pushed == 0);
    } else if (want && d->due.key != d->next_ms) {
        heap_rekey(&d->hook->queue, &d->due, d->next_ms);
    } else if (!want && heap_node_in(&d->due)) {
        heap_remove(&d->hook->queue, &d->due);
    }
    hook_sync(e, d->hook);
}

static void set_state(events *e, ev_delivery *d, events_state state)
{
    if (d->state == EVENTS_PENDING && state != EVENTS_PENDING)
        e->pending--;
    else if (d->state != EVENTS_PENDING && state == EVENTS_PENDING)
        e->pending++;
    d->state = (uint8_t)state;
}

static void end_flight(events *e, ev_delivery *d)
{
    if (!d->in_flight)
        return;
    d->in_flight = 0;
    d->hook->in_flight--;
    d->event->in_flight--;
    e->in_flight--;
}

static ev_delivery *delivery_find(ev_event *ev, const objectid *hook_id)
{
    size_t lo = 0, hi = ev->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(ev->d[mid].hook->id.bytes, hook_id->bytes, OBJECTID_LEN);
        if (c == 0)
            return &ev->d[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- applying records ------------------------------------------------------------------ */

static int id_of(ProtobufCBinaryData b, objectid *out)
{
    if (b.len != OBJECTID_LEN)
        return -1;
    memcpy(out->bytes, b.data, OBJECTID_LEN);
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    return memcmp(a, b, OBJECTID_LEN);
}

static int apply_published(events *e, const schema_stored_event *r, error *err)
{
    objectid id;
    size_t n = r->n_webhook_ids;
    if (id_of(r->id, &id) != 0 || n > EVENTS_MAX_DELIVERIES ||
        (r->idempotency_key.len != 0 && r->idempotency_key.len != EVENTS_DIGEST_LEN) ||
        strlen(r->ecosystem_id) > OBJECTID_ECOSYSTEM_ID_LEN) {
        error_set(err, ERROR_INVALID_BODY, "A malformed event record.");
        return -1;
    }
    if (hashtable_find(&e->by_id, id_hash(&id), &id) != NULL ||
        (r->idempotency_key.len != 0 &&
         hashtable_find(&e->by_digest, hashtable_hash_bytes(r->idempotency_key.data, EVENTS_DIGEST_LEN),
                        r->idempotency_key.data) != NULL))
        return 0; /* applied already (a snapshot and the journal after it), or the key's first event stands */
    objectid *ids = malloc((n > 0 ? n : 1) * sizeof(*ids));
    ev_event *ev = calloc(1, sizeof(*ev) + n * sizeof(ev->d[0]));
    uint8_t *body = malloc(r->body.len > 0 ? r->body.len : 1);
    if (ids == NULL || ev == NULL || body == NULL)
        goto no_memory;
    for (size_t i = 0; i < n; i++) {
        if (id_of(r->webhook_ids[i], &ids[i]) != 0) {
            free(ids), free(ev), free(body);
            error_set(err, ERROR_INVALID_BODY, "A malformed event record.");
            return -1;
        }
    }
    qsort(ids, n, sizeof(*ids), compare_ids);
    /* every table and hook first, so that nothing fails half-way */
    if (hashtable_reserve(&e->by_id) != HASHTABLE_OK ||
        (r->idempotency_key.len != 0 && hashtable_reserve(&e->by_digest) != HASHTABLE_OK))
        goto no_memory;
    for (size_t i = 0; i < n; i++) {
        ev_hook *h = hook_get(e, &ids[i]);
        /* room for each delivery in its hook's queue (one per hook: ids are distinct, or
         * dropped below as repeats), for its whole life: requeues never fail */
        if (h == NULL || heap_reserve(&h->queue, h->n_deliveries + 1 - heap_count(&h->queue)) != 0)
            goto no_memory;
    }
    ev->id = id;
    ev->created_ms = r->created_ms;
    strcpy(ev->ecosystem_id, r->ecosystem_id);
    if (r->idempotency_key.len != 0) {
        ev->keyed = 1;
        memcpy(ev->digest, r->idempotency_key.data, EVENTS_DIGEST_LEN);
        hashtable_insert(&e->by_digest, hashtable_hash_bytes(ev->digest, EVENTS_DIGEST_LEN), ev);
    }
    if (r->body.len > 0) /* an empty body's data may be NULL */
        memcpy(body, r->body.data, r->body.len);
    ev->body = body;
    ev->body_len = r->body.len;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && memcmp(ids[i].bytes, ev->d[kept - 1].hook->id.bytes, OBJECTID_LEN) == 0)
            continue; /* a webhook named twice gets one delivery */
        ev_delivery *d = &ev->d[kept++];
        heap_node_init(&d->due);
        d->event = ev;
        d->hook = hook_find(e, &ids[i]);
        d->state = EVENTS_PENDING;
        d->next_ms = r->created_ms;
        d->hook->n_deliveries++;
        d->hook_prev = d->hook->last;
        if (d->hook->last != NULL)
            d->hook->last->hook_next = d;
        else
            d->hook->first = d;
        d->hook->last = d;
        e->pending++;
    }
    ev->n = kept;
    hashtable_insert(&e->by_id, id_hash(&id), ev);
    ev->prev = e->newest;
    if (e->newest != NULL)
        e->newest->next = ev;
    else
        e->oldest = ev;
    e->newest = ev;
    for (size_t i = 0; i < kept; i++)
        delivery_sync(e, &ev->d[i]);
    free(ids);
    return 0;
no_memory:
    free(ids), free(ev), free(body);
    error_set(err, ERROR_INTERNAL, "Out of memory.");
    return -1;
}

/* Appends an attempt to h's history (the oldest goes past EVENTS_MAX_ATTEMPTS_PER_WEBHOOK). */
static int attempt_append(events *e, ev_hook *h, const schema_stored_event *r, const objectid *event_id)
{
    if (h->count == EVENTS_MAX_ATTEMPTS_PER_WEBHOOK) {
        free(h->attempts[h->head].response);
        h->head++, h->count--;
    }
    if (h->head + h->count == h->cap) {
        if (h->head > 0) { /* expiry freed the front: slide down */
            memmove(h->attempts, h->attempts + h->head, h->count * sizeof(*h->attempts));
            h->head = 0;
        }
        if (h->count == h->cap) {
            size_t cap = h->cap == 0 ? 8 : h->cap * 2;
            ev_attempt *a = realloc(h->attempts, cap * sizeof(*a));
            if (a == NULL)
                return -1;
            h->attempts = a;
            h->cap = cap;
        }
    }
    size_t keep = r->response.len < EVENTS_RESPONSE_KEEP ? r->response.len : EVENTS_RESPONSE_KEEP;
    uint8_t *response = NULL;
    if (keep > 0 && (response = malloc(keep)) == NULL)
        return -1;
    if (keep > 0)
        memcpy(response, r->response.data, keep);
    uint64_t seq = r->seq != 0 ? r->seq : e->last_seq + 1;
    if (seq > e->last_seq)
        e->last_seq = seq;
    h->attempts[h->head + h->count++] = (ev_attempt){.seq = seq,
                                                      .event_id = event_id != NULL ? *event_id : (objectid){{0}},
                                                      .started_ms = r->started_ms,
                                                      .attempt = r->attempt,
                                                      .duration_ms = r->duration_ms,
                                                      .status = r->status_code,
                                                      .trigger = (uint8_t)(r->trigger < EVENTS_TRIGGERS ? r->trigger : 0),
                                                      .error = (uint8_t)r->error,
                                                      .response_len = (uint16_t)keep,
                                                      .response = response};
    return 0;
}

static int apply_delivery(events *e, const schema_stored_event *r, error *err)
{
    objectid hook_id, event_id;
    if (id_of(r->webhook_id, &hook_id) != 0 || r->state >= EVENTS_STATES || r->trigger >= EVENTS_TRIGGERS ||
        (r->id.len != 0 && id_of(r->id, &event_id) != 0)) {
        error_set(err, ERROR_INVALID_BODY, "A malformed delivery record.");
        return -1;
    }
    if (r->id.len == 0) { /* the webhook was disabled or deleted: its pending deliveries are cancelled */
        ev_hook *h = hook_find(e, &hook_id);
        if (h == NULL || r->state != EVENTS_CANCELLED)
            return 0;
        for (heap_node *top; (top = heap_top(&h->queue)) != NULL;) {
            ev_delivery *d = CONTAINER(top, ev_delivery, due);
            heap_remove(&h->queue, top);
            set_state(e, d, EVENTS_CANCELLED);
            e->cancelled++;
        }
        hook_sync(e, h);
        return 0;
    }
    ev_event *ev = hashtable_find(&e->by_id, id_hash(&event_id), &event_id);
    ev_delivery *d = ev != NULL ? delivery_find(ev, &hook_id) : NULL;
    if (d == NULL)
        return 0; /* expired */
    if (r->started_ms != 0 && attempt_append(e, d->hook, r, &event_id) != 0) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    }
    /* an outcome of a claim ends its flight (an attempt, or the dispatcher's cancel); a
     * resend's record does not: the attempt under way goes on, and its outcome decides */
    if (r->started_ms != 0 || r->state != EVENTS_PENDING)
        end_flight(e, d);
    set_state(e, d, (events_state)r->state);
    d->next_ms = r->next_ms;
    if (r->started_ms != 0 || r->attempts != 0) { /* else a resend's or a cancel's: the history stays */
        d->attempts = r->attempts;
        d->last_status = r->last_status;
        d->last_error = (uint8_t)r->last_error;
    }
    /* the recorded attempt's trigger was spent; a change without one names the next's */
    d->trigger = (uint8_t)(r->started_ms != 0 ? EVENTS_SCHEDULED : r->trigger);
    d->hook->failing_since_ms = r->failing_since_ms;
    delivery_sync(e, d);
    return 0;
}

int events_apply(events *e, const schema_stored_event *r, error *err)
{
    HG_ASSERT(r != NULL);
    error_clear(err);
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    switch (r->change) {
    case SCHEMA_EVENT_PUBLISHED:
        rc = apply_published(e, r, err);
        break;
    case SCHEMA_EVENT_DELIVERY:
        rc = apply_delivery(e, r, err);
        break;
    case SCHEMA_EVENT_ATTEMPT:
    case SCHEMA_EVENT_HEALTH: {
        objectid hook_id, event_id;
        if (id_of(r->webhook_id, &hook_id) != 0 || (r->id.len != 0 && id_of(r->id, &event_id) != 0)) {
            error_set(err, ERROR_INVALID_BODY, "A malformed attempt record.");
            rc = -1;
            break;
        }
        ev_hook *h = hook_get(e, &hook_id);
        if (h == NULL || (r->change == SCHEMA_EVENT_ATTEMPT &&
                          attempt_append(e, h, r, r->id.len != 0 ? &event_id : NULL) != 0)) {
            error_set(err, ERROR_INTERNAL, "Out of memory.");
            rc = -1;
            break;
        }
        if (r->change == SCHEMA_EVENT_HEALTH)
            h->failing_since_ms = r->failing_since_ms;
        break;
    }
    default:
        error_set(err, ERROR_INVALID_BODY, "An event record of an unknown kind.");
        rc = -1;
    }
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* ---- claims ------------------------------------------------------------------------------ */

size_t events_claim_due(events *e, int64_t now_ms, unsigned per_webhook, events_claim *out, size_t max,
                        int64_t *next_due_ms)
{
    HG_ASSERT(per_webhook >= 1);
    pthread_mutex_lock(&e->lock);
    if (per_webhook > e->per_webhook) { /* a raised cap: hooks left out at the old one can go again */
        e->per_webhook = per_webhook;
        size_t cursor = 0;
        for (ev_hook *h; (h = hashtable_next(&e->hooks, &cursor)) != NULL;)
            hook_sync(e, h);
    }
    e->per_webhook = per_webhook;
    size_t n = 0;
    heap_node *top;
    while (n < max && (top = heap_top(&e->ready)) != NULL && top->key <= now_ms) {
        ev_hook *h = CONTAINER(top, ev_hook, ready);
        if (h->in_flight >= per_webhook) { /* a lowered cap: over to `capped` */
            hook_sync(e, h);
            continue;
        }
        ev_delivery *d = CONTAINER(heap_top(&h->queue), ev_delivery, due);
        heap_remove(&h->queue, &d->due);
        d->in_flight = 1;
        h->in_flight++;
        d->event->in_flight++;
        e->in_flight++;
        out[n++] = (events_claim){.event_id = d->event->id,
                                  .webhook_id = h->id,
                                  .attempt = d->attempts + 1,
                                  .trigger = (events_trigger)d->trigger,
                                  .due_ms = d->next_ms,
                                  .failing_since_ms = h->failing_since_ms,
                                  .body = d->event->body,
                                  .body_len = d->event->body_len};
        hook_sync(e, h);
    }
    top = heap_top(&e->ready);
    *next_due_ms = top != NULL ? top->key : INT64_MAX;
    pthread_mutex_unlock(&e->lock);
    return n;
}

void events_release(events *e, const objectid *event_id, const objectid *webhook_id, int64_t due_ms)
{
    pthread_mutex_lock(&e->lock);
    ev_event *ev = hashtable_find(&e->by_id, id_hash(event_id), event_id);
    ev_delivery *d = ev != NULL ? delivery_find(ev, webhook_id) : NULL;
    if (d != NULL && d->in_flight) {
        end_flight(e, d);
        d->next_ms = due_ms;
        delivery_sync(e, d);
    }
    pthread_mutex_unlock(&e->lock);
}

size_t events_in_flight(events *e)
{
    pthread_mutex_lock(&e->lock);
    size_t n = e->in_flight;
    pthread_mutex_unlock(&e->lock);
    return n;
}

void events_stats_get(events *e, events_stats *out)
{
    pthread_mutex_lock(&e->lock);
    /* a hook at its cap is in `capped`, and its due deliveries are late all the same */
    heap_node *ready = heap_top(&e->ready), *capped = heap_top(&e->capped);
    heap_node *top = ready == NULL ? capped : capped == NULL || ready->key <= capped->key ? ready : capped;
    *out = (events_stats){.events = hashtable_count(&e->by_id),
                          .pending = e->pending,
                          .in_flight = e->in_flight,
                          .oldest_due_ms = top != NULL ? top->key : 0,
                          .cancelled = e->cancelled};
    pthread_mutex_unlock(&e->lock);
}

/* ---- reads ------------------------------------------------------------------------------- */

int events_find_idempotent(events *e, const uint8_t digest[EVENTS_DIGEST_LEN], objectid *id, unsigned *webhooks)
{
    pthread_mutex_lock(&e->lock);
    const ev_event *ev = hashtable_find(&e->by_digest, hashtable_hash_bytes(digest, EVENTS_DIGEST_LEN), digest);
    if (ev != NULL) {
        *id = ev->id;
        *webhooks = (unsigned)ev->n;
    }
    pthread_mutex_unlock(&e->lock);
    return ev != NULL ? 0 : -1;
}

int events_same_publish(events *e, const uint8_t digest[EVENTS_DIGEST_LEN], const char *ecosystem_id,
                        const uint8_t *body, size_t body_len)
{
    pthread_mutex_lock(&e->lock);
    const ev_event *ev = hashtable_find(&e->by_digest, hashtable_hash_bytes(digest, EVENTS_DIGEST_LEN), digest);
    int same = ev == NULL ? -1
                          : strcmp(ev->ecosystem_id, ecosystem_id) == 0 && ev->body_len == body_len &&
                                (body_len == 0 || memcmp(ev->body, body, body_len) == 0);
    pthread_mutex_unlock(&e->lock);
    return same;
}

static void *alloc_of(ProtobufCAllocator *a, size_t size)
{
    return a->alloc(a->allocator_data, size);
}

static char *hex_of(ProtobufCAllocator *a, const objectid *id)
{
    char *hex = alloc_of(a, OBJECTID_HEX_LEN + 1);
    if (hex != NULL)
        objectid_to_hex(id, hex);
    return hex;
}

static char *text_copy(ProtobufCAllocator *a, const char *s, size_t n)
{
    char *copy = alloc_of(a, n + 1);
    if (copy != NULL) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

static schema_timestamp *timestamp_of(ProtobufCAllocator *a, int64_t ms)
{
    schema_timestamp *ts = alloc_of(a, sizeof(*ts));
    if (ts == NULL)
        return NULL;
    *ts = (schema_timestamp)SCHEMA_TIMESTAMP_INIT;
    ts->seconds = ms / 1000;
    ts->nanos = (int32_t)(ms % 1000) * 1000000;
    return ts;
}

/* The response bytes as a UTF-8 string (what JSON can carry): invalid bytes become U+FFFD. */
static char *text_of(ProtobufCAllocator *a, const uint8_t *bytes, size_t len)
{
    char *s = alloc_of(a, len * 3 + 1);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char_len(bytes + i, len - i);
        if (n == 0) {
            memcpy(s + o, "\xEF\xBF\xBD", 3), o += 3, i++;
        } else {
            memcpy(s + o, bytes + i, n), o += n, i += n;
        }
    }
    s[o] = '\0';
    return s;
}

schema_event *events_view_event(ProtobufCAllocator *a, const objectid *id, const char *ecosystem_id,
                                size_t ecosystem_len, int64_t created_ms, const uint8_t *body, size_t body_len,
                                size_t n_deliveries)
{
    schema_event *m = alloc_of(a, sizeof(*m));
    if (m == NULL)
        return NULL;
    *m = (schema_event)SCHEMA_EVENT_INIT;
    schema_event_body *items =
        (schema_event_body *)protobuf_c_message_unpack(&schema_event_body_descriptor, a, body_len, body);
    if (items == NULL || (m->id = hex_of(a, id)) == NULL ||
        (m->ecosystem_id = text_copy(a, ecosystem_id, ecosystem_len)) == NULL ||
        (m->created_at = timestamp_of(a, created_ms)) == NULL ||
        (m->deliveries = alloc_of(a, (n_deliveries > 0 ? n_deliveries : 1) * sizeof(*m->deliveries))) == NULL)
        return NULL;
    m->n_items = items->n_items;
    m->items = items->items;
    return m;
}

schema_event_delivery *events_view_delivery(ProtobufCAllocator *a, const objectid *webhook_id, events_state state,
                                            uint32_t attempts, int64_t next_ms, uint32_t last_status,
                                            unsigned last_error)
{
    schema_event_delivery *v = alloc_of(a, sizeof(*v));
    if (v == NULL)
        return NULL;
    *v = (schema_event_delivery)SCHEMA_EVENT_DELIVERY_INIT;
    v->state = (char *)events_state_name(state);
    v->attempts = attempts;
    v->last_status_code = last_status;
    v->last_error = (char *)events_error_name(last_error);
    if ((v->webhook_id = hex_of(a, webhook_id)) == NULL ||
        (state == EVENTS_PENDING && (v->next_attempt_at = timestamp_of(a, next_ms)) == NULL))
        return NULL;
    return v;
}

schema_attempt *events_view_attempt(ProtobufCAllocator *a, uint64_t seq, const objectid *event_id, uint32_t attempt,
                                    events_trigger trigger, int64_t started_ms, uint32_t duration_ms, uint32_t status,
                                    unsigned error, const uint8_t *response, size_t response_len)
{
    schema_attempt *v = alloc_of(a, sizeof(*v));
    if (v == NULL)
        return NULL;
    *v = (schema_attempt)SCHEMA_ATTEMPT_INIT;
    v->seq = seq;
    v->event_id = event_id != NULL ? hex_of(a, event_id) : "";
    v->attempt = attempt;
    v->trigger = (char *)events_trigger_name(trigger);
    v->started_at = timestamp_of(a, started_ms);
    v->duration_ms = duration_ms;
    v->status_code = status;
    v->error = (char *)events_error_name(error);
    v->response = text_of(a, response, response_len);
    if (v->event_id == NULL || v->started_at == NULL || v->response == NULL)
        return NULL;
    return v;
}

int events_view(events *e, const objectid *id, ProtobufCAllocator *alloc, schema_event **out)
{
    pthread_mutex_lock(&e->lock);
    const ev_event *ev = hashtable_find(&e->by_id, id_hash(id), id);
    int rc = -1;
    if (ev == NULL)
        goto out;
    rc = ENOMEM;
    schema_event *m = events_view_event(alloc, &ev->id, ev->ecosystem_id, strlen(ev->ecosystem_id), ev->created_ms,
                                        ev->body, ev->body_len, ev->n);
    if (m == NULL)
        goto out;
    for (size_t i = 0; i < ev->n; i++) {
        const ev_delivery *d = &ev->d[i];
        schema_event_delivery *v = events_view_delivery(alloc, &d->hook->id, (events_state)d->state, d->attempts,
                                                        d->next_ms, d->last_status, d->last_error);
        if (v == NULL)
            goto out;
        m->deliveries[m->n_deliveries++] = v;
    }
    *out = m;
    rc = 0;
out:
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int events_attempts(events *e, const objectid *webhook_id, uint64_t before, size_t limit, ProtobufCAllocator *alloc,
                    schema_attempts_response *out)
{
    HG_ASSERT(limit >= 1);
    *out = (schema_attempts_response)SCHEMA_ATTEMPTS_RESPONSE_INIT;
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    const ev_hook *h = hook_find(e, webhook_id);
    if (h == NULL || h->count == 0)
        goto out;
    const ev_attempt *a = h->attempts + h->head;
    size_t lo = 0, hi = h->count; /* the first with seq >= before: the page ends before it */
    while (before != 0 && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].seq < before)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = before != 0 ? lo : h->count;
    size_t n = end < limit ? end : limit;
    rc = ENOMEM;
    if (n > 0 && (out->items = alloc_of(alloc, n * sizeof(*out->items))) == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const ev_attempt *at = &a[end - 1 - i];
        static const objectid none;
        schema_attempt *v = events_view_attempt(
            alloc, at->seq, memcmp(&at->event_id, &none, sizeof(none)) != 0 ? &at->event_id : NULL, at->attempt,
            (events_trigger)at->trigger, at->started_ms, at->duration_ms, at->status, at->error, at->response,
            at->response_len);
        if (v == NULL)
            goto out;
        out->items[out->n_items++] = v;
    }
    if (end > n) {
        out->next_page_case = SCHEMA_ATTEMPTS_RESPONSE_NEXT_BEFORE;
        out->next_before = a[end - n].seq;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&e->lock);
    return rc;
}

long events_resend_targets(events *e, const objectid *event_id, const objectid *webhook_id, objectid *out, size_t max,
                           char *ecosystem_id)
{
    pthread_mutex_lock(&e->lock);
    long n = -1;
    const ev_event *ev = hashtable_find(&e->by_id, id_hash(event_id), event_id);
    if (ev != NULL) {
        strcpy(ecosystem_id, ev->ecosystem_id);
        n = 0;
        for (size_t i = 0; i < ev->n && (size_t)n < max; i++) /* one being attempted now is left to it */
            if (!ev->d[i].in_flight &&
                (webhook_id == NULL || memcmp(ev->d[i].hook->id.bytes, webhook_id->bytes, OBJECTID_LEN) == 0))
                out[n++] = ev->d[i].hook->id;
    }
    pthread_mutex_unlock(&e->lock);
    return n;
}

size_t events_recover_targets(events *e, const objectid *webhook_id, int64_t since_ms, objectid *out, size_t max)
{
    pthread_mutex_lock(&e->lock);
    size_t n = 0;
    const ev_hook *h = hook_find(e, webhook_id);
    for (const ev_delivery *d = h != NULL ? h->first : NULL; d != NULL && n < max; d = d->hook_next)
        if (d->state == EVENTS_FAILED && d->event->created_ms >= since_ms)
            out[n++] = d->event->id;
    pthread_mutex_unlock(&e->lock);
    return n;
}

int64_t events_failing_since(events *e, const objectid *webhook_id)
{
    pthread_mutex_lock(&e->lock);
    const ev_hook *h = hook_find(e, webhook_id);
    int64_t since = h != NULL ? h->failing_since_ms : 0;
    pthread_mutex_unlock(&e->lock);
    return since;
}

/* ---- expiry and snapshots ---------------------------------------------------------------- */

static void event_drop(events *e, ev_event *ev)
{
    for (size_t i = 0; i < ev->n; i++) {
        ev_delivery *d = &ev->d[i];
        if (d->state == EVENTS_PENDING)
            e->pending--;
        d->state = EVENTS_CANCELLED;
        delivery_sync(e, d); /* out of its hook's queue */
        d->hook->n_deliveries--;
        if (d->hook_prev != NULL)
            d->hook_prev->hook_next = d->hook_next;
        else
            d->hook->first = d->hook_next;
        if (d->hook_next != NULL)
            d->hook_next->hook_prev = d->hook_prev;
        else
            d->hook->last = d->hook_prev;
    }
    hashtable_remove(&e->by_id, id_hash(&ev->id), &ev->id);
    if (ev->keyed)
        hashtable_remove(&e->by_digest, hashtable_hash_bytes(ev->digest, EVENTS_DIGEST_LEN), ev->digest);
    if (ev->prev != NULL)
        ev->prev->next = ev->next;
    else
        e->oldest = ev->next;
    if (ev->next != NULL)
        ev->next->prev = ev->prev;
    else
        e->newest = ev->prev;
    free(ev->body);
    free(ev);
}

size_t events_expire(events *e, int64_t cutoff_ms)
{
    pthread_mutex_lock(&e->lock);
    size_t dropped = 0;
    for (ev_event *ev = e->oldest, *next; ev != NULL && ev->created_ms < cutoff_ms; ev = next) {
        next = ev->next;
        if (ev->in_flight == 0) /* one in flight goes once its outcome is in */
            event_drop(e, ev), dropped++;
    }
    size_t cursor = 0;
    for (ev_hook *h; (h = hashtable_next(&e->hooks, &cursor)) != NULL;) {
        while (h->count > 0 && h->attempts[h->head].started_ms < cutoff_ms) {
            free(h->attempts[h->head].response);
            h->head++, h->count--;
        }
        if (h->count == 0 && h->first == NULL && h->in_flight == 0 && h->failing_since_ms == 0) {
            HG_ASSERT(heap_count(&h->queue) == 0 && !heap_node_in(&h->ready));
            hashtable_remove(&e->hooks, id_hash(&h->id), &h->id);
            hook_free(h);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return dropped;
}

typedef struct framer {
    uint8_t *buf;
    size_t len, cap;
    uint64_t records;
    int failed;
} framer;

static void frame_event(framer *f, schema_stored_event *ev)
{
    schema_stored_webhook m = SCHEMA_STORED_WEBHOOK_INIT;
    m.event = ev;
    size_t need = record_framed_size(protobuf_c_message_get_packed_size(&m.base));
    if (f->failed)
        return;
    if (f->len + need > f->cap) {
        size_t cap = f->cap == 0 ? 65536 : f->cap;
        while (cap < f->len + need)
            cap *= 2;
        uint8_t *buf = realloc(f->buf, cap);
        if (buf == NULL) {
            f->failed = 1;
            return;
        }
        f->buf = buf, f->cap = cap;
    }
    f->len += record_frame(&m.base, f->buf + f->len);
    f->records++;
}

static ProtobufCBinaryData bytes_of(const void *data, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
}

uint8_t *events_snapshot(events *e, int64_t cutoff_ms, size_t *len, uint64_t *records)
{
    framer f = {0};
    pthread_mutex_lock(&e->lock);
    for (const ev_event *ev = e->oldest; ev != NULL && !f.failed; ev = ev->next) {
        if (ev->created_ms < cutoff_ms && ev->in_flight == 0)
            continue;
        ProtobufCBinaryData *ids = malloc((ev->n > 0 ? ev->n : 1) * sizeof(*ids));
        if (ids == NULL) {
            f.failed = 1;
            break;
        }
        for (size_t i = 0; i < ev->n; i++)
            ids[i] = bytes_of(ev->d[i].hook->id.bytes, OBJECTID_LEN);
        schema_stored_event r = SCHEMA_STORED_EVENT_INIT;
        r.change = SCHEMA_EVENT_PUBLISHED;
        r.id = bytes_of(ev->id.bytes, OBJECTID_LEN);
        r.ecosystem_id = (char *)ev->ecosystem_id;
        r.created_ms = ev->created_ms;
        r.body = bytes_of(ev->body, ev->body_len);
        r.n_webhook_ids = ev->n;
        r.webhook_ids = ids;
        if (ev->keyed)
            r.idempotency_key = bytes_of(ev->digest, EVENTS_DIGEST_LEN);
        frame_event(&f, &r);
        free(ids);
        for (size_t i = 0; i < ev->n; i++) {
            const ev_delivery *d = &ev->d[i];
            if (d->state == EVENTS_PENDING && d->attempts == 0 && d->trigger == EVENTS_SCHEDULED &&
                d->next_ms == ev->created_ms)
                continue; /* as published */
            schema_stored_event s = SCHEMA_STORED_EVENT_INIT;
            s.change = SCHEMA_EVENT_DELIVERY;
            s.id = bytes_of(ev->id.bytes, OBJECTID_LEN);
            s.webhook_id = bytes_of(d->hook->id.bytes, OBJECTID_LEN);
            s.state = d->state; /* one in flight is pending: due again after a restart */
            s.attempts = d->attempts;
            s.next_ms = d->next_ms;
            s.last_status = d->last_status;
            s.last_error = d->last_error;
            s.trigger = d->trigger;
            s.failing_since_ms = d->hook->failing_since_ms;
            frame_event(&f, &s);
        }
    }
    size_t cursor = 0;
    for (const ev_hook *h; !f.failed && (h = hashtable_next(&e->hooks, &cursor)) != NULL;) {
        for (size_t i = 0; i < h->count; i++) {
            const ev_attempt *a = &h->attempts[h->head + i];
            if (a->started_ms < cutoff_ms)
                continue;
            static const objectid none;
            schema_stored_event s = SCHEMA_STORED_EVENT_INIT;
            s.change = SCHEMA_EVENT_ATTEMPT;
            if (memcmp(&a->event_id, &none, sizeof(none)) != 0)
                s.id = bytes_of(a->event_id.bytes, OBJECTID_LEN);
            s.webhook_id = bytes_of(h->id.bytes, OBJECTID_LEN);
            s.seq = a->seq;
            s.attempt = a->attempt;
            s.trigger = a->trigger;
            s.started_ms = a->started_ms;
            s.duration_ms = a->duration_ms;
            s.status_code = a->status;
            s.error = a->error;
            s.response = bytes_of(a->response, a->response_len);
            frame_event(&f, &s);
        }
        if (h->failing_since_ms != 0) {
            schema_stored_event s = SCHEMA_STORED_EVENT_INIT;
            s.change = SCHEMA_EVENT_HEALTH;
            s.webhook_id = bytes_of(h->id.bytes, OBJECTID_LEN);
            s.failing_since_ms = h->failing_since_ms;
            frame_event(&f, &s);
        }
    }
    pthread_mutex_unlock(&e->lock);
    if (f.failed) {
        free(f.buf);
        *len = 0;
        *records = 1; /* NULL with records: out of memory */
        return NULL;
    }
    *len = f.len;
    *records = f.records;
    return f.buf;
}
