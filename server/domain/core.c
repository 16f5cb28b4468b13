/* core: see core.h. */
#include "core.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hg_assert.h"
#include "validate.h"

void core_webhook_fill(core_webhook *out, const store_webhook *w)
{
    schema_webhook msg = DROPLIT__WEBHOOKS__V1__WEBHOOK__INIT;
    schema_timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
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
    out->msg = msg;
}

/* Ends validation: problems sorted into schema field order; -1 if there are any. */
static int validation_result(error *err)
{
    if (err->kind == ERROR_NONE)
        return 0;
    error_sort_params(err);
    return -1;
}

static void create_finished(core_create *op, const store_webhook *stored)
{
    op->stored = stored;
    if (stored != NULL)
        core_webhook_fill(&op->result, stored);
    if (op->keyed) /* after the store has the record: a retry now finds it there */
        idempotency_end(op->core->idempotency, op->key_digest);
}

static int same_text(const char *stored, const char *requested)
{
    return strcmp(stored, requested != NULL ? requested : "") == 0;
}

/* Looks the Idempotency-Key up (auth and validation passed). Returns 1 to go on and
 * create, 0 when op already holds the answer (a replay), -1 with op->err. */
static int idempotency_check(core *c, const auth_principal *who, const schema_create_request *req, const char *key,
                             size_t key_len, int64_t now_ms, core_create *op)
{
    auth_scoped_digest(who, key, key_len, op->key_digest);
    const store_webhook *first = NULL;
    switch (idempotency_begin(c->idempotency, op->key_digest, now_ms, &first)) {
    case IDEMPOTENCY_NEW:
        op->keyed = 1;
        return 1;
    case IDEMPOTENCY_IN_FLIGHT:
        error_set(&op->err, ERROR_CONFLICT, "A create with this Idempotency-Key is still in progress; retry it.");
        return -1;
    case IDEMPOTENCY_NO_MEMORY:
        error_set(&op->err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    case IDEMPOTENCY_REPLAY:
        break;
    }
    if (!same_text(first->ecosystem_id, req->ecosystem_id) || !same_text(first->url, req->url) ||
        !same_text(first->secret, req->secret) || !same_text(first->description, req->description)) {
        error_set(&op->err, ERROR_UNPROCESSABLE,
                  "This Idempotency-Key was used for a different request in the last 24 hours.");
        return -1;
    }
    op->replayed = 1;
    create_finished(op, first);
    return 0;
}

/* The journal's verdict, on its writer thread. */
static void on_journaled(journal_op *jop)
{
    core_create *op = (core_create *)((char *)jop - offsetof(core_create, journal));
    HG_ASSERT((jop->stored == NULL) == (jop->status != 0));
    if (jop->stored == NULL)
        error_set(&op->err, ERROR_UNAVAILABLE, "The store cannot save webhooks right now (%s).",
                  strerror(jop->status));
    create_finished(op, jop->stored);
    op->done(op);
}

int core_is_ready(core *c, const char **reason)
{
    if (c->journal != NULL && !journal_is_writable(c->journal)) {
        *reason = "the journal cannot be written (creates answer 503; reads work)";
        return 0;
    }
    *reason = "ready";
    return 1;
}

int core_create_may_wait(const core *c)
{
    return c->journal != NULL;
}

int core_create_webhook(core *c, const auth_principal *who, const schema_create_request *req,
                        const char *idempotency_key, size_t key_len, core_create *op)
{
    error *err = &op->err;
    op->stored = NULL;
    op->replayed = 0;
    op->keyed = 0;
    op->core = c;
    ratelimit *limit = c->create_limit;
    if (limit != NULL && who->token != NULL) {
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        unsigned wait = ratelimit_take(limit, who->token, (int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000);
        if (wait > 0) {
            error_clear(err); /* the answer is the limit, not the request's problems */
            error_set(err, ERROR_RATE_LIMITED, "Too many creates with this token; retry in %u s.", wait);
            err->retry_after_s = wait;
            return -1;
        }
    }
    validate_create_request(req, &c->cfg->limits, err);
    if (idempotency_key != NULL)
        validate_idempotency_key(idempotency_key, key_len, err);
    if (validation_result(err) != 0)
        return -1;
    if (auth_ecosystem(who, req->ecosystem_id, err) == NULL)
        return -1;

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (idempotency_key != NULL) {
        int go_on = idempotency_check(c, who, req, idempotency_key, key_len, now_ms, op);
        if (go_on <= 0)
            return go_on;
    }
    store_webhook w = {
        .created_ms = now_ms,
        .disabled = 0,
        .ecosystem_id = req->ecosystem_id,
        .url = req->url,
        .secret = req->secret != NULL ? req->secret : "",
        .description = req->description != NULL ? req->description : "",
        .idempotency = op->keyed ? op->key_digest : NULL,
    };
    w.id = objectid_make((uint32_t)now.tv_sec);
    if (c->journal == NULL) {
        create_finished(op, store_insert(c->store, &w, err));
        return op->stored != NULL ? 0 : -1;
    }
    /* the record is copied now: the request's memory may be gone when the journal is done */
    if ((op->journal.record = store_record_new(&w)) == NULL) {
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        create_finished(op, NULL);
        return -1;
    }
    op->journal.done = on_journaled;
    if (journal_append(c->journal, &op->journal) != 0) {
        store_record_free(op->journal.record);
        op->journal.record = NULL;
        error_set(err, ERROR_UNAVAILABLE,
                  "The store cannot save webhooks right now (%zu creates are waiting to be written).",
                  journal_queue_depth(c->journal));
        create_finished(op, NULL);
        return -1;
    }
    return CORE_PENDING;
}

int core_get_webhook(core *c, const auth_principal *who, const schema_get_request *req, core_webhook *out, error *err)
{
    validate_get_request(req, err);
    if (validation_result(err) != 0)
        return -1;
    objectid id;
    objectid_from_hex(req->id, strlen(req->id), &id);
    const store_webhook *w = store_get(c->store, &id);
    if (w == NULL || !auth_can_read(who, w->ecosystem_id)) {
        error_set(err, ERROR_NOT_FOUND, "Webhook with id %s does not exist.", req->id);
        return -1;
    }
    core_webhook_fill(out, w);
    return 0;
}

typedef struct list_ctx {
    ProtobufCAllocator *alloc;
    core_webhook **items;
    size_t n, cap;
    int oom;
} list_ctx;

static void *list_alloc(list_ctx *l, size_t size)
{
    void *p = l->alloc != NULL ? l->alloc->alloc(l->alloc->allocator_data, size) : malloc(size);
    l->oom |= p == NULL;
    return p;
}

static int list_visit(const store_webhook *w, void *ctx)
{
    list_ctx *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        core_webhook **items = list_alloc(l, cap * sizeof(*items));
        if (items == NULL)
            return -1;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(*items));
        if (l->alloc == NULL)
            free(l->items);
        l->items = items;
        l->cap = cap;
    }
    core_webhook *item = list_alloc(l, sizeof(*item));
    if (item == NULL)
        return -1;
    core_webhook_fill(item, w);
    l->items[l->n++] = item;
    return 0;
}

int core_list_webhooks(core *c, const auth_principal *who, const schema_list_request *req, ProtobufCAllocator *alloc,
                       schema_list_response *out, error *err)
{
    schema_list_response init = DROPLIT__WEBHOOKS__V1__LIST_WEBHOOKS_RESPONSE__INIT;
    *out = init;
    validate_list_request(req, err);
    if (validation_result(err) != 0)
        return -1;
    if (auth_ecosystem(who, req->ecosystem_id, err) == NULL)
        return -1;
    list_ctx l = {.alloc = alloc};
    store_each_in_ecosystem(c->store, req->ecosystem_id, list_visit, &l);
    /* items[i] is a core_webhook whose first member is the schema message */
    out->items = (schema_webhook **)l.items;
    out->n_items = l.n;
    if (l.oom) {
        if (alloc == NULL)
            core_list_free(out);
        error_set(err, ERROR_INTERNAL, "Out of memory.");
        return -1;
    }
    return 0;
}

void core_list_free(schema_list_response *out)
{
    for (size_t i = 0; i < out->n_items; i++)
        free(out->items[i]);
    free(out->items);
    out->items = NULL;
    out->n_items = 0;
}
