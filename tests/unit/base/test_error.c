/* test_error: the error value: params, bounds, ordering, locations, and that setting it
 * resets it whole. */
#include "error.h"
#include "test.h"

#include <string.h>

/* 1 when a problem with this path is recorded. */
static int has_path(const error *err, const char *path)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (strcmp(error_param_path(err, i), path) == 0)
            return 1;
    return 0;
}

static void test_clear_and_set(void)
{
    error err;
    memset(&err, 0x5a, sizeof err);
    error_clear(&err);
    CHECK(err.kind == ERROR_NONE);
    CHECK(err.n_params == 0);
    CHECK_STR(err.reason, "");

    error_set(&err, ERROR_NOT_FOUND, "Webhook with id %s does not exist.", "abc");
    CHECK(err.kind == ERROR_NOT_FOUND);
    CHECK_STR(err.reason, "Webhook with id abc does not exist.");
    CHECK(err.n_params == 0);

    /* a reason longer than the bound is cut to ERROR_MESSAGE_MAX - 1 bytes, NUL-terminated */
    char longtext[ERROR_MESSAGE_MAX * 2];
    memset(longtext, 'r', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    error_set(&err, ERROR_INTERNAL, "%s", longtext);
    CHECK(err.kind == ERROR_INTERNAL);
    CHECK(strlen(err.reason) == ERROR_MESSAGE_MAX - 1);
    CHECK(strncmp(err.reason, longtext, ERROR_MESSAGE_MAX - 1) == 0);

    error_clear(&err);
    CHECK(err.kind == ERROR_NONE);
    CHECK_STR(err.reason, "");
}

static void test_add_param_kind(void)
{
    error err;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 2, "url", "invalid %s", "url");
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(err.n_params == 1);
    CHECK(err.params[0].in == ERROR_IN_BODY);
    CHECK(err.params[0].order == 2);
    CHECK_STR(error_param_path(&err, 0), "url");
    CHECK_STR(error_param_message(&err, 0), "invalid url");

    /* InvalidBody stays InvalidBody */
    error_clear(&err);
    error_set(&err, ERROR_INVALID_BODY, "unreadable");
    error_add_param(&err, ERROR_IN_BODY, 0, "body", "bad");
    CHECK(err.kind == ERROR_INVALID_BODY);
    CHECK(err.n_params == 1);

    /* any other kind becomes InvalidParams */
    error_clear(&err);
    error_set(&err, ERROR_NOT_FOUND, "gone");
    error_add_param(&err, ERROR_IN_QUERY, 1, "x", "bad");
    CHECK(err.kind == ERROR_INVALID_PARAMS);
}

static void test_add_param_limits(void)
{
    error err;
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, i, "p", "message %u", i);
    CHECK(err.n_params == ERROR_MAX_PARAMS);
    /* the 17th (and 18th) are dropped: nothing written past the array, n stays at 16 */
    error_add_param(&err, ERROR_IN_BODY, 99, "seventeenth", "dropped");
    error_add_param(&err, ERROR_IN_BODY, 100, "eighteenth", "dropped");
    CHECK(err.n_params == ERROR_MAX_PARAMS);
    CHECK(err.kind == ERROR_INVALID_PARAMS);
    CHECK(!has_path(&err, "seventeenth"));
    CHECK(!has_path(&err, "eighteenth"));
    CHECK_STR(error_param_message(&err, 0), "message 0");
    CHECK_STR(error_param_message(&err, ERROR_MAX_PARAMS - 1), "message 15");
    CHECK(err.params[ERROR_MAX_PARAMS - 1].order == ERROR_MAX_PARAMS - 1);

    /* a path and a message over their bounds are cut, NUL-terminated */
    char longpath[ERROR_PATH_MAX * 3], longmsg[ERROR_MESSAGE_MAX * 3];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    error_clear(&err);
    error_add_param(&err, ERROR_IN_BODY, 1, longpath, "%s", longmsg);
    CHECK(err.n_params == 1);
    CHECK(strlen(error_param_path(&err, 0)) == ERROR_PATH_MAX - 1);
    CHECK(strncmp(error_param_path(&err, 0), longpath, ERROR_PATH_MAX - 1) == 0);
    CHECK(strlen(error_param_message(&err, 0)) == ERROR_MESSAGE_MAX - 1);
    CHECK(strncmp(error_param_message(&err, 0), longmsg, ERROR_MESSAGE_MAX - 1) == 0);

    /* exactly at the bound: kept whole */
    char path63[ERROR_PATH_MAX];
    memset(path63, 'q', sizeof path63 - 1);
    path63[sizeof path63 - 1] = '\0';
    error_add_param(&err, ERROR_IN_BODY, 1, path63, "ok");
    CHECK_STR(error_param_path(&err, 1), path63);
    CHECK(has_path(&err, path63));
}

static void test_has_param(void)
{
    error err;
    error_clear(&err);
    CHECK(!has_path(&err, "url"));
    error_add_param(&err, ERROR_IN_UNSET, 2, "url", "x");
    error_add_param(&err, ERROR_IN_UNSET, 1, "ecosystemId", "x");
    CHECK(has_path(&err, "url"));
    CHECK(has_path(&err, "ecosystemId"));
    CHECK(!has_path(&err, "ur"));
    CHECK(!has_path(&err, "urls"));
    CHECK(!has_path(&err, "ecosystem_id"));
}

static void test_sort(void)
{
    error err;
    error_clear(&err);
    error_sort_params(&err); /* empty: no-op */
    CHECK(err.n_params == 0);

    /* orders 4,2,ADD,2,1,QUERY,4,0; equal orders keep their insertion order */
    error_add_param(&err, ERROR_IN_UNSET, 4, "d", "first d");
    error_add_param(&err, ERROR_IN_UNSET, 2, "b", "first b");
    error_add_param(&err, ERROR_IN_UNSET, ERROR_ORDER_ADDITIONAL, "additional parameters", "add");
    error_add_param(&err, ERROR_IN_UNSET, 2, "b", "second b");
    error_add_param(&err, ERROR_IN_UNSET, 1, "a", "a");
    error_add_param(&err, ERROR_IN_UNSET, ERROR_ORDER_QUERY, "additional parameters", "query");
    error_add_param(&err, ERROR_IN_UNSET, 4, "d", "second d");
    error_add_param(&err, ERROR_IN_UNSET, 0, "body", "zero");
    error_sort_params(&err);
    CHECK(err.n_params == 8);
    static const char *want[] = {"zero", "a", "first b", "second b", "first d", "second d", "add", "query"};
    for (size_t i = 0; i < 8 && i < err.n_params; i++)
        CHECK_STR(error_param_message(&err, i), want[i]);
    for (size_t i = 1; i < err.n_params; i++)
        CHECK(err.params[i - 1].order <= err.params[i].order);

    /* the additional-parameter orders come after every possible field number (< 2^29) */
    CHECK(ERROR_ORDER_ADDITIONAL > (1u << 29) - 1);
    CHECK(ERROR_ORDER_QUERY > ERROR_ORDER_ADDITIONAL);

    /* a full, reversed list of sixteen with pairs of equal orders */
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, (ERROR_MAX_PARAMS - 1 - i) / 2, "p", "%u", i);
    error_sort_params(&err);
    /* order k holds messages 15-2k-1 then 15-2k (inserted in that order) */
    for (unsigned k = 0; k < ERROR_MAX_PARAMS / 2; k++) {
        char m1[8], m2[8];
        snprintf(m1, sizeof m1, "%u", ERROR_MAX_PARAMS - 2 - 2 * k);
        snprintf(m2, sizeof m2, "%u", ERROR_MAX_PARAMS - 1 - 2 * k);
        CHECK(err.params[2 * k].order == k);
        CHECK_STR(error_param_message(&err, 2 * k), m1);
        CHECK_STR(error_param_message(&err, 2 * k + 1), m2);
    }
}

static void test_default_in(void)
{
    error err;
    error_clear(&err);
    error_add_param(&err, ERROR_IN_UNSET, 1, "a", "x");
    error_add_param(&err, ERROR_IN_QUERY, 2, "b", "x");
    error_add_param(&err, ERROR_IN_PATH, 3, "c", "x");
    error_add_param(&err, ERROR_IN_UNSET, 4, "d", "x");
    error_set_default_in(&err, ERROR_IN_BODY);
    CHECK(err.params[0].in == ERROR_IN_BODY);
    CHECK(err.params[1].in == ERROR_IN_QUERY);
    CHECK(err.params[2].in == ERROR_IN_PATH);
    CHECK(err.params[3].in == ERROR_IN_BODY);
    /* a second call changes nothing: every param now has a location */
    error_set_default_in(&err, ERROR_IN_QUERY);
    CHECK(err.params[0].in == ERROR_IN_BODY);
    CHECK(err.params[3].in == ERROR_IN_BODY);
}

static void test_in_name(void)
{
    CHECK_STR(error_in_name(ERROR_IN_BODY), "body");
    CHECK_STR(error_in_name(ERROR_IN_QUERY), "query");
    CHECK_STR(error_in_name(ERROR_IN_PATH), "path");
    CHECK_STR(error_in_name(ERROR_IN_UNSET), "");
}

/* error_set and error_clear reset the whole value: an error that held problems and a retry
 * time, then set to another kind, renders as that kind alone. (A handler that set
 * ERROR_INTERNAL after a failed allocation once left a stale n_params behind, which the
 * renderer then walked past the params array.) */
static void test_set_resets_whole(void)
{
    error err;
    memset(&err, 0x5a, sizeof err); /* garbage, as an uninitialised stack value */
    error_set(&err, ERROR_INTERNAL, "Out of memory.");
    CHECK(err.kind == ERROR_INTERNAL);
    CHECK(err.n_params == 0);
    CHECK(err.text_used == 0);
    CHECK(err.retry_after_s == 0);
    CHECK_STR(err.reason, "Out of memory.");

    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, i, "p", "m%u", i);
    error_set_rate_limited(&err, 7, "slow down");
    CHECK(err.kind == ERROR_RATE_LIMITED && err.retry_after_s == 7 && err.n_params == 0);
    error_set(&err, ERROR_NOT_FOUND, "gone");
    CHECK(err.kind == ERROR_NOT_FOUND && err.retry_after_s == 0 && err.n_params == 0);
}

/* The text arena: problems share ERROR_TEXT_MAX bytes; one that finds no room is dropped
 * whole, never written past the arena, and every kept one reads back intact. */
static void test_text_arena(void)
{
    char big[ERROR_MESSAGE_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    error err;
    error_clear(&err);
    for (unsigned i = 0; i < ERROR_MAX_PARAMS; i++)
        error_add_param(&err, ERROR_IN_BODY, i, "path", "%s", big);
    CHECK(err.n_params >= ERROR_TEXT_MAX / (ERROR_MESSAGE_MAX + 5));
    CHECK(err.n_params < ERROR_MAX_PARAMS);
    CHECK(err.text_used <= ERROR_TEXT_MAX);
    for (size_t i = 0; i < err.n_params; i++) {
        CHECK_STR(error_param_path(&err, i), "path");
        CHECK(strlen(error_param_message(&err, i)) > 0);
    }
    /* a field problem keeps its schema name and says it is a field */
    error_clear(&err);
    error_add_field(&err, ERROR_IN_UNSET, 1, "ecosystem_id", "invalid id");
    CHECK(err.n_params == 1 && err.params[0].is_field == 1 && err.params[0].order == 1);
    CHECK_STR(error_param_path(&err, 0), "ecosystem_id");
    CHECK(error_has_order(&err, 1) && !error_has_order(&err, 2));
}

int main(void)
{
    test_set_resets_whole();
    test_text_arena();
    test_clear_and_set();
    test_add_param_kind();
    test_add_param_limits();
    test_has_param();
    test_sort();
    test_default_in();
    test_in_name();
    return test_exit_code();
}
