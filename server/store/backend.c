/* backend: see backend.h. The interface's checks, shared by every backend. */
#include "backend.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "hg_assert.h"

void backend_submit(backend *b, backend_call *c)
{
    HG_ASSERT(c->done != NULL && (unsigned)c->verb < BACKEND_VERBS);
    HG_ASSERT(c->verb != BACKEND_CREATE || c->webhook != NULL);
    HG_ASSERT(c->verb != BACKEND_LIST ||
              (c->ecosystem_id != NULL && c->alloc != NULL && c->limit >= 1 && c->limit <= BACKEND_LIST_MAX));
    HG_ASSERT(c->verb != BACKEND_FIND_IDEMPOTENT || c->digest != NULL);
    HG_ASSERT(c->verb != BACKEND_UPDATE || (c->changes != NULL && c->changes->sets != 0));
    b->ops->submit(b->self, c);
}

int backend_is_synchronous(const backend *b, backend_verb verb)
{
    return b->ops->is_synchronous(b->self, verb);
}

void backend_stats_get(backend *b, backend_stats *out)
{
    memset(out, 0, sizeof(*out)); /* what a backend does not say is 0 */
    b->ops->stats(b->self, out);
}

void *backend_loop_attach(backend *b, const store_poller *poller)
{
    return b->ops->loop_attach != NULL ? b->ops->loop_attach(b->self, poller) : NULL;
}

void backend_loop_flush(backend *b, void *loop)
{
    if (loop != NULL)
        b->ops->loop_flush(loop);
}

void backend_loop_tick(backend *b, void *loop)
{
    if (loop != NULL)
        b->ops->loop_tick(loop);
}

void backend_loop_detach(backend *b, void *loop)
{
    if (loop != NULL)
        b->ops->loop_detach(loop);
}

void backend_destroy(backend *b)
{
    if (b != NULL)
        b->ops->destroy(b->self);
}

void backend_keep_rendering(backend *b, const store_webhook *w, const char *bytes, size_t len)
{
    if (b->ops->keep_rendering != NULL)
        b->ops->keep_rendering(b->self, w, bytes, len);
}

int backend_secret_open(const backend *b, const store_webhook *w, char **secret, size_t *len)
{
    *secret = NULL;
    *len = 0;
    size_t cap = w->sealed_secret != NULL ? w->sealed_secret_len - SEAL_OVERHEAD : strlen(w->secret);
    char *out = malloc(cap + 1);
    if (out == NULL)
        return ENOMEM;
    if (w->sealed_secret == NULL) {
        memcpy(out, w->secret, cap + 1);
        *len = cap;
    } else {
        HG_ASSERT(w->sealed_secret_len >= SEAL_OVERHEAD && w->secret[0] == '\0');
        switch (seal_open(b->keys, &w->id, w->sealed_secret, w->sealed_secret_len, out, len)) {
        case SEAL_OK:
            break;
        case SEAL_NO_MEMORY:
            free(out);
            return ENOMEM;
        case SEAL_MALFORMED:
        case SEAL_UNKNOWN_KEY:
        case SEAL_FORGED:
            free(out);
            return EBADMSG;
        }
    }
    *secret = out;
    return 0;
}

void backend_secret_free(char *secret, size_t len)
{
    if (secret == NULL)
        return;
    OPENSSL_cleanse(secret, len);
    free(secret);
}

void backend_set_event_wake(backend *b, void (*wake)(void *ctx), void *ctx)
{
    if (b->ops->set_event_wake != NULL)
        b->ops->set_event_wake(b->self, wake, ctx);
}
