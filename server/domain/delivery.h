/* delivery: how the core calls a webhook's url — one asynchronous interface behind a
 * small table of function pointers, as backend.h is for the store.
 *
 * The core says what to send (the url, a schema message sent as JSON, the secret that
 * signs it, the address policy and the timeouts) and reads back what happened, in words a
 * client can act on. The network layer implements it (server/net/outbound: libcurl on a
 * thread of its own), so no event loop ever waits for DNS or a slow target. */
#ifndef HOOKGATE_DELIVERY_H
#define HOOKGATE_DELIVERY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "netpolicy.h"

#define DELIVERY_DETAIL_MAX 256     /* bytes of what happened, NUL included */
#define DELIVERY_MESSAGE_ID_MAX 40  /* bytes of a webhook-id, NUL included */
#define DELIVERY_MAX_RESPONSE_BYTES (16 * 1024) /* of a target's answer body: read, past it the call stops */
#define DELIVERY_RESPONSE_KEEP 1024  /* of that body: the first bytes kept (response), the rest discarded */
#define DELIVERY_RETRY_AFTER_MAX 64  /* bytes of a Retry-After value kept, NUL included */

_Static_assert(DELIVERY_RESPONSE_KEEP <= DELIVERY_MAX_RESPONSE_BYTES, "the kept bytes are read ones");

/* What became of a call, by class (the metrics' `outcome` label is delivery_outcome_name). */
typedef enum delivery_outcome {
    DELIVERY_OK,        /* the target answered 2xx */
    DELIVERY_STATUS,    /* it answered another status (a 3xx too: redirects are never followed) */
    DELIVERY_TIMEOUT,   /* no answer within the connect or the total timeout */
    DELIVERY_REFUSED,   /* no connection: refused or unreachable */
    DELIVERY_NO_HOST,   /* the host name does not resolve */
    DELIVERY_BLOCKED,   /* every address it resolved to is one the policy denies: never connected */
    DELIVERY_TLS,       /* the TLS handshake or the certificate check failed */
    DELIVERY_CLOSED,    /* the connection broke before a whole answer */
    DELIVERY_FAILED,    /* anything else (out of memory, shutting down, a bad url) */
    DELIVERY_OUTCOMES
} delivery_outcome;

/* One call of a webhook's url. The caller owns it and keeps it in place until done runs. */
typedef struct delivery_call {
    /* in */
    const char *url;                 /* absolute http(s) URL, as stored (IDN hosts are converted when called) */
    const ProtobufCMessage *body;    /* sent as JSON (content-type: application/json) */
    const char *secret;              /* signs the body (x-droplit-signature, webhook-signature); NULL = unsigned */
    size_t secret_len;
    char message_id[DELIVERY_MESSAGE_ID_MAX]; /* webhook-id: "msg_" + an ObjectId's hex, no '.' */
    const netpolicy *policy;         /* which addresses may be connected to */
    unsigned connect_timeout_ms;     /* delivery.connect_timeout_ms */
    unsigned timeout_ms;             /* delivery.timeout_ms: the whole call */
    void (*done)(struct delivery_call *call); /* once, maybe on another thread, maybe inside submit */
    void *data;                               /* the caller's */
    /* out */
    delivery_outcome outcome;
    unsigned status;       /* DELIVERY_OK, DELIVERY_STATUS: the target's HTTP status */
    uint32_t duration_ms;  /* from submit to the outcome */
    char detail[DELIVERY_DETAIL_MAX]; /* what happened, for a person: "timed out after 10000 ms" */
    /* What the target answered, for DELIVERY_OK and DELIVERY_STATUS only: "" and 0 for every
     * other outcome (a body begun before a timeout or a broken connection is no answer). */
    char retry_after[DELIVERY_RETRY_AFTER_MAX]; /* its Retry-After header's raw value, trimmed of
                                                   blanks, not parsed (the first if repeated); ""
                                                   when absent or too long to keep whole */
    uint8_t response[DELIVERY_RESPONSE_KEEP];   /* the first bytes of its body, as sent (not decoded) */
    size_t response_len;                        /* of them: the body's length up to DELIVERY_RESPONSE_KEEP */
} delivery_call;

typedef struct delivery delivery;

/* The functions a delivery implementation provides. */
typedef struct delivery_ops {
    /* Starts call; its done runs exactly once, whatever happens. */
    void (*submit)(delivery *d, delivery_call *call);
    /* Finishes every call still in flight (done runs for each, DELIVERY_FAILED), then frees d. */
    void (*destroy)(delivery *d);
} delivery_ops;

struct delivery {
    const delivery_ops *ops;
};

/* Starts call on d (a thin wrapper over d->ops->submit that checks the call's contract). */
void delivery_submit(delivery *d, delivery_call *call);

/* Frees d after finishing its calls; NULL is a no-op. */
void delivery_destroy(delivery *d);

/* The outcome's name: "ok", "status", "timeout", "refused", "no_host", "blocked", "tls",
 * "closed", "failed". */
const char *delivery_outcome_name(delivery_outcome outcome);

#endif
