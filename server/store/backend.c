/* backend: see backend.h. The interface's checks, shared by every backend. */
#include "backend.h"

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
    b->ops->stats(b->self, out);
}

void backend_destroy(backend *b)
{
    if (b != NULL)
        b->ops->destroy(b->self);
}
