/* test_delivery: the interface's own code. delivery_outcome_name names every outcome (the
 * metrics' label); delivery_submit hands a call to the implementation with its out fields
 * reset (nothing of a previous answer left: no Retry-After, no body byte), and aborts on a call that breaks the contract (checked in a forked child, as
 * test_sign does): a webhook-id that is empty, holds a '.' or fills its buffer without a
 * NUL, no done, no policy, a secret length without a secret. */
#include "delivery.h"
#include "test.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "schema.h"

/* A delivery that notes what its submit saw and answers at once. */
typedef struct fake {
    delivery base;
    int submits, destroyed;
    delivery_outcome seen_outcome;
    unsigned seen_status;
    uint32_t seen_duration;
    char seen_detail[DELIVERY_DETAIL_MAX];
    char seen_retry_after[DELIVERY_RETRY_AFTER_MAX];
    uint8_t seen_response[DELIVERY_RESPONSE_KEEP];
    size_t seen_response_len;
} fake;

static void fake_submit(delivery *d, delivery_call *call)
{
    fake *f = (fake *)d;
    f->submits++;
    f->seen_outcome = call->outcome;
    f->seen_status = call->status;
    f->seen_duration = call->duration_ms;
    memcpy(f->seen_detail, call->detail, sizeof f->seen_detail);
    memcpy(f->seen_retry_after, call->retry_after, sizeof f->seen_retry_after);
    memcpy(f->seen_response, call->response, sizeof f->seen_response);
    f->seen_response_len = call->response_len;
    call->outcome = DELIVERY_OK;
    call->status = 204;
    call->duration_ms = 7;
    strcpy(call->detail, "the url answered 204");
    strcpy(call->retry_after, "120");
    memcpy(call->response, "{}", 2);
    call->response_len = 2;
    call->done(call);
}

static void fake_destroy(delivery *d)
{
    ((fake *)d)->destroyed++;
}

static const delivery_ops fake_ops = {fake_submit, fake_destroy};

static int done_count;

static void on_done(delivery_call *call)
{
    (void)call;
    done_count++;
}

static schema_transaction body = SCHEMA_TRANSACTION_INIT;
static netpolicy policy;

static delivery_call good_call(void)
{
    delivery_call c = {.url = "http://127.0.0.1:1/", .body = &body.base, .policy = &policy, .done = on_done};
    strcpy(c.message_id, "msg_0123456789abcdef01234567");
    return c;
}

static void test_outcome_names(void)
{
    static const char *const want[DELIVERY_OUTCOMES] = {"ok",      "status", "timeout", "refused", "no_host",
                                                        "blocked", "tls",    "closed",  "failed"};
    for (int i = 0; i < DELIVERY_OUTCOMES; i++)
        CHECK_STR(delivery_outcome_name((delivery_outcome)i), want[i]);
    CHECK(DELIVERY_OUTCOMES == 9); /* a new outcome needs a name here and a metrics label */
}

static void test_submit_resets(void)
{
    fake f = {.base = {&fake_ops}};
    delivery_call c = good_call();
    /* what a previous use of the call left behind */
    c.outcome = DELIVERY_TIMEOUT;
    c.status = 500;
    c.duration_ms = 1234;
    strcpy(c.detail, "stale");
    strcpy(c.retry_after, "Wed, 21 Oct 2015 07:28:00 GMT");
    memset(c.response, 'x', sizeof c.response);
    c.response_len = sizeof c.response;
    done_count = 0;
    delivery_submit(&f.base, &c);
    CHECK(f.submits == 1 && done_count == 1);
    CHECK(f.seen_outcome == DELIVERY_FAILED && f.seen_status == 0 && f.seen_duration == 0);
    CHECK_STR(f.seen_detail, "");
    CHECK_STR(f.seen_retry_after, "");
    static const uint8_t zero[DELIVERY_RESPONSE_KEEP];
    CHECK(f.seen_response_len == 0 && memcmp(f.seen_response, zero, sizeof zero) == 0);
    /* what the implementation wrote stays */
    CHECK(c.outcome == DELIVERY_OK && c.status == 204 && c.duration_ms == 7);
    CHECK_STR(c.detail, "the url answered 204");
    CHECK_STR(c.retry_after, "120");
    CHECK(c.response_len == 2 && memcmp(c.response, "{}", 2) == 0);
    /* a secret with its length */
    c.secret = "s3cret";
    c.secret_len = 6;
    delivery_submit(&f.base, &c);
    CHECK(f.submits == 2 && done_count == 2);

    delivery_destroy(&f.base);
    CHECK(f.destroyed == 1);
    delivery_destroy(NULL); /* a no-op */
}

/* delivery_submit with the call `breaks` spoils, in a child: 1 when it aborted before the
 * implementation saw the call. */
static int refused(void (*breaks)(delivery_call *c))
{
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* the assertion's message is expected */
        fake f = {.base = {&fake_ops}};
        delivery_call c = good_call();
        breaks(&c);
        delivery_submit(&f.base, &c);
        _exit(f.submits == 1 ? 0 : 3);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void keep(delivery_call *c)
{
    (void)c;
}
static void dot_inside(delivery_call *c)
{
    strcpy(c->message_id, "msg_01.23");
}
static void dot_last(delivery_call *c)
{
    strcpy(c->message_id, "msg_0123.");
}
static void empty_id(delivery_call *c)
{
    c->message_id[0] = '\0';
}
static void unterminated_id(delivery_call *c)
{
    memset(c->message_id, 'a', sizeof c->message_id);
}
static void no_done(delivery_call *c)
{
    c->done = NULL;
}
static void no_policy(delivery_call *c)
{
    c->policy = NULL;
}
static void no_url(delivery_call *c)
{
    c->url = NULL;
}
static void no_body(delivery_call *c)
{
    c->body = NULL;
}
static void length_without_secret(delivery_call *c)
{
    c->secret_len = 3;
}

static void test_contract(void)
{
    CHECK(!refused(keep));
    CHECK(refused(dot_inside));
    CHECK(refused(dot_last));
    CHECK(refused(empty_id));
    CHECK(refused(unterminated_id));
    CHECK(refused(no_done));
    CHECK(refused(no_policy));
    CHECK(refused(no_url));
    CHECK(refused(no_body));
    CHECK(refused(length_without_secret));
    /* an outcome out of range has no name */
    pid_t pid = fork();
    if (pid == 0) {
        close(2);
        delivery_outcome_name(DELIVERY_OUTCOMES);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

int main(void)
{
    test_outcome_names();
    test_submit_resets();
    test_contract();
    return test_exit_code();
}
