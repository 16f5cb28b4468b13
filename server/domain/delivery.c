/* delivery: see delivery.h. */
#include "delivery.h"

#include <string.h>

#include "hg_assert.h"

void delivery_submit(delivery *d, delivery_call *call)
{
    HG_ASSERT(d != NULL && d->ops != NULL && d->ops->submit != NULL);
    HG_ASSERT(call->url != NULL && call->body != NULL && call->done != NULL && call->policy != NULL);
    HG_ASSERT(call->secret != NULL || call->secret_len == 0);
    HG_ASSERT(call->message_id[0] != '\0' && strchr(call->message_id, '.') == NULL &&
              memchr(call->message_id, '\0', sizeof call->message_id) != NULL);
    call->outcome = DELIVERY_FAILED;
    call->status = 0;
    call->duration_ms = 0;
    call->detail[0] = '\0';
    call->retry_after[0] = '\0';
    memset(call->response, 0, sizeof call->response); /* not even past response_len: nothing of a previous answer */
    call->response_len = 0;
    d->ops->submit(d, call);
}

void delivery_destroy(delivery *d)
{
    if (d != NULL)
        d->ops->destroy(d);
}

const char *delivery_outcome_name(delivery_outcome outcome)
{
    static const char *const names[DELIVERY_OUTCOMES] = {
        [DELIVERY_OK] = "ok",           [DELIVERY_STATUS] = "status", [DELIVERY_TIMEOUT] = "timeout",
        [DELIVERY_REFUSED] = "refused", [DELIVERY_NO_HOST] = "no_host", [DELIVERY_BLOCKED] = "blocked",
        [DELIVERY_TLS] = "tls",         [DELIVERY_CLOSED] = "closed", [DELIVERY_FAILED] = "failed",
    };
    HG_ASSERT((unsigned)outcome < DELIVERY_OUTCOMES);
    return names[outcome];
}
