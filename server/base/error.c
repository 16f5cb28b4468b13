/* error: see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hg_assert.h"

HG_STATIC_ASSERT(ERROR_TEXT_MAX <= UINT16_MAX, "text offsets are 16 bits");
HG_STATIC_ASSERT(ERROR_PATH_MAX + ERROR_MESSAGE_MAX <= ERROR_TEXT_MAX, "one problem of full length always fits");
HG_STATIC_ASSERT(ERROR_MAX_PARAMS <= UINT16_MAX, "n_params is 16 bits");
HG_STATIC_ASSERT(sizeof(error) <= 2048, "an error lives on event-loop stacks");

void error_trim_utf8(char *s)
{
    size_t len = strlen(s), start = len;
    while (start > 0 && len - start < 4 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
        start--; /* back over continuation bytes */
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (lead >= 0xc0 && len - (start - 1) < need)
        s[start - 1] = '\0';
}

void error_clear(error *err)
{
    err->kind = ERROR_NONE;
    err->retry_after_s = 0;
    err->n_params = 0;
    err->text_used = 0;
    err->reason[0] = '\0';
}

static void set_reason(error *err, error_kind kind, const char *fmt, va_list ap)
{
    HG_ASSERT((unsigned)kind < ERROR_KIND_COUNT);
    error_clear(err);
    err->kind = kind;
    if (vsnprintf(err->reason, sizeof(err->reason), fmt, ap) >= (int)sizeof(err->reason))
        error_trim_utf8(err->reason);
}

void error_set(error *err, error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_reason(err, kind, fmt, ap);
    va_end(ap);
}

void error_set_rate_limited(error *err, unsigned retry_after_s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_reason(err, ERROR_RATE_LIMITED, fmt, ap);
    va_end(ap);
    err->retry_after_s = retry_after_s;
}

/* Appends up to max - 1 bytes of the formatted text to err->text, cut at a whole
 * character. Returns its offset, or -1 when no byte of room is left. */
static int append_text(error *err, size_t max, const char *fmt, va_list ap)
{
    size_t room = sizeof(err->text) - err->text_used;
    if (room == 0)
        return -1;
    if (room > max)
        room = max;
    char *dst = err->text + err->text_used;
    if (vsnprintf(dst, room, fmt, ap) >= (int)room)
        error_trim_utf8(dst);
    int at = err->text_used;
    err->text_used += (uint16_t)(strlen(dst) + 1);
    HG_ASSERT(err->text_used <= sizeof(err->text));
    return at;
}

static int append(error *err, size_t max, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int at = append_text(err, max, fmt, ap);
    va_end(ap);
    return at;
}

static void add(error *err, error_in in, unsigned order, int is_field, const char *path, const char *fmt,
                va_list ap)
{
    if (err->kind != ERROR_INVALID_BODY) {
        err->kind = ERROR_INVALID_PARAMS;
        err->reason[0] = '\0';
    }
    HG_ASSERT(err->n_params <= ERROR_MAX_PARAMS);
    if (err->n_params == ERROR_MAX_PARAMS)
        return;
    uint16_t used = err->text_used;
    int p = append(err, ERROR_PATH_MAX, "%s", path);
    int m = p < 0 ? -1 : append_text(err, ERROR_MESSAGE_MAX, fmt, ap);
    if (m < 0) { /* no room for the message: the problem is dropped whole */
        err->text_used = used;
        return;
    }
    err->params[err->n_params++] = (error_param){
        .order = order, .in = (uint8_t)in, .is_field = (uint8_t)is_field, .path = (uint16_t)p, .message = (uint16_t)m};
}

void error_add_param(error *err, error_in in, unsigned order, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(err, in, order, 0, path, fmt, ap);
    va_end(ap);
}

void error_add_field(error *err, error_in in, unsigned field_number, const char *field_name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(err, in, field_number, 1, field_name, fmt, ap);
    va_end(ap);
}

const char *error_param_path(const error *err, size_t i)
{
    HG_ASSERT(i < err->n_params && err->params[i].path < err->text_used);
    return err->text + err->params[i].path;
}

const char *error_param_message(const error *err, size_t i)
{
    HG_ASSERT(i < err->n_params && err->params[i].message < err->text_used);
    return err->text + err->params[i].message;
}

int error_has_order(const error *err, unsigned order)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (err->params[i].order == order)
            return 1;
    return 0;
}

void error_set_default_in(error *err, error_in in)
{
    for (size_t i = 0; i < err->n_params; i++)
        if (err->params[i].in == ERROR_IN_UNSET)
            err->params[i].in = (uint8_t)in;
}

void error_sort_params(error *err)
{
    /* insertion sort: stable, and n <= ERROR_MAX_PARAMS */
    for (size_t i = 1; i < err->n_params; i++) {
        error_param tmp = err->params[i];
        size_t j = i;
        for (; j > 0 && err->params[j - 1].order > tmp.order; j--)
            err->params[j] = err->params[j - 1];
        err->params[j] = tmp;
    }
}

const char *error_in_name(error_in in)
{
    switch (in) {
    case ERROR_IN_BODY:
        return "body";
    case ERROR_IN_QUERY:
        return "query";
    case ERROR_IN_PATH:
        return "path";
    case ERROR_IN_HEADER:
        return "header";
    default:
        return "";
    }
}
