/* retry: see retry.h. The HTTP-date reader walks the value with a bounded cursor: every
 * read checks what is left, so a truncated date is refused, never overrun. */
#include "retry.h"

#include <string.h>

#include "hg_assert.h"

events_error retry_class_of(delivery_outcome o)
{
    static const events_error classes[DELIVERY_OUTCOMES] = {
        [DELIVERY_OK] = EVENTS_ERROR_NONE,         [DELIVERY_STATUS] = EVENTS_ERROR_HTTP,
        [DELIVERY_TIMEOUT] = EVENTS_ERROR_TIMEOUT, [DELIVERY_REFUSED] = EVENTS_ERROR_CONNECT,
        [DELIVERY_NO_HOST] = EVENTS_ERROR_DNS,     [DELIVERY_BLOCKED] = EVENTS_ERROR_BLOCKED,
        [DELIVERY_TLS] = EVENTS_ERROR_TLS,         [DELIVERY_CLOSED] = EVENTS_ERROR_CONNECT,
        [DELIVERY_FAILED] = EVENTS_ERROR_CONNECT,
    };
    HG_ASSERT((unsigned)o < DELIVERY_OUTCOMES);
    return classes[o];
}

/* --- Retry-After ------------------------------------------------------------------------ */

typedef struct cursor {
    const char *s;
    size_t n, i; /* s[i..n) is what is left */
} cursor;

/* Consumes the literal `lit` if the text goes on with it. */
static int take(cursor *c, const char *lit)
{
    size_t k = strlen(lit);
    if (c->n - c->i < k || memcmp(c->s + c->i, lit, k) != 0)
        return 0;
    c->i += k;
    return 1;
}

/* Consumes exactly `count` ASCII digits (count <= 4) into *out. */
static int take_digits(cursor *c, size_t count, int *out)
{
    int v = 0;
    if (c->n - c->i < count)
        return 0;
    for (size_t k = 0; k < count; k++) {
        char d = c->s[c->i + k];
        if (d < '0' || d > '9')
            return 0;
        v = 10 * v + (d - '0');
    }
    c->i += count;
    *out = v;
    return 1;
}

/* Consumes one of the (NULL-terminated) names; *index is its place. */
static int take_name(cursor *c, const char *const *names, int *index)
{
    for (int k = 0; names[k] != NULL; k++)
        if (take(c, names[k])) {
            *index = k;
            return 1;
        }
    return 0;
}

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", NULL};
static const char *const day_names_long[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                             "Friday", "Saturday", "Sunday",    NULL};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                          "Aug", "Sep", "Oct", "Nov", "Dec", NULL};

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m /* 1..12 */)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[m - 1] + (m == 2 && is_leap(y));
}

/* Leap years among 1 .. y-1 (y >= 1). */
static int64_t leaps_before(int64_t y)
{
    return (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
}

/* Days from 1970-01-01 to y-m-d, for a valid date with y in 1970..9999. */
static int64_t days_since_epoch(int y, int m, int d)
{
    static const int before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t days = 365 * (int64_t)(y - 1970) + leaps_before(y) - leaps_before(1970);
    return days + before_month[m - 1] + (m > 2 && is_leap(y)) + (d - 1);
}

/* The calendar year of Unix time t_ms, within 1970..9999 (HTTP-date's four digits). */
static int year_of(int64_t t_ms)
{
    if (t_ms < 0)
        return 1970;
    int64_t days = t_ms / 86400000;
    if (days >= days_since_epoch(9999, 1, 1))
        return 9999;
    int y = 1970 + (int)(days / 366); /* at or below the year: a year has at most 366 days */
    while (days_since_epoch(y + 1, 1, 1) <= days)
        y++;
    return y;
}

/* The date and time read from an HTTP-date, before it is checked and counted. */
typedef struct http_date {
    int year, month, day, hour, minute, second;
} http_date;

/* " hh:mm:ss" */
static int take_time(cursor *c, http_date *t)
{
    return take(c, " ") && take_digits(c, 2, &t->hour) && take(c, ":") && take_digits(c, 2, &t->minute) &&
           take(c, ":") && take_digits(c, 2, &t->second);
}

static int take_month(cursor *c, http_date *t)
{
    int m;
    if (!take_name(c, month_names, &m))
        return 0;
    t->month = m + 1;
    return 1;
}

/* IMF-fixdate after "Sun,": " 06 Nov 1994 08:49:37 GMT" */
static int read_imf_fixdate(cursor *c, http_date *t)
{
    return take(c, " ") && take_digits(c, 2, &t->day) && take(c, " ") && take_month(c, t) && take(c, " ") &&
           take_digits(c, 4, &t->year) && take_time(c, t) && take(c, " GMT");
}

/* rfc850-date after "Sunday,": " 06-Nov-94 08:49:37 GMT"; the century from now (RFC 9110
 * 5.6.7: a year more than 50 years ahead is the most recent past one with those digits). */
static int read_rfc850_date(cursor *c, int64_t now_ms, http_date *t)
{
    int yy;
    if (!(take(c, " ") && take_digits(c, 2, &t->day) && take(c, "-") && take_month(c, t) && take(c, "-") &&
          take_digits(c, 2, &yy) && take_time(c, t) && take(c, " GMT")))
        return 0;
    int now_year = year_of(now_ms);
    t->year = now_year / 100 * 100 + yy;
    if (t->year > now_year + 50)
        t->year -= 100;
    return 1;
}

/* asctime-date after "Sun": " Nov  6 08:49:37 1994" (or " Nov 06 ...") */
static int read_asctime_date(cursor *c, http_date *t)
{
    if (!(take(c, " ") && take_month(c, t) && take(c, " ")))
        return 0;
    if (!(take(c, " ") ? take_digits(c, 1, &t->day) : take_digits(c, 2, &t->day)))
        return 0;
    return take_time(c, t) && take(c, " ") && take_digits(c, 4, &t->year);
}

/* An HTTP-date (the whole of c) into Unix time in ms; 0 or -1. */
static int read_http_date(cursor *c, int64_t now_ms, int64_t *date_ms)
{
    http_date t = {0};
    int day, ok;
    if (take_name(c, day_names_long, &day) && take(c, ",")) {
        ok = read_rfc850_date(c, now_ms, &t);
    } else {
        c->i = 0; /* "Sunday" without its comma: read again as "Sun" + "day..." (refused) */
        if (!take_name(c, day_names, &day))
            return -1;
        ok = take(c, ",") ? read_imf_fixdate(c, &t) : read_asctime_date(c, &t);
    }
    if (!ok || c->i != c->n)
        return -1;
    if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > days_in_month(t.year, t.month) || t.hour > 23 ||
        t.minute > 59 || t.second > 60)
        return -1;
    if (t.year < 1970) { /* the past, which is all a caller needs to know */
        *date_ms = 0;
        return 0;
    }
    int64_t s = days_since_epoch(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
    *date_ms = s * 1000;
    return 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

int retry_after_parse(const char *value, size_t len, int64_t now_ms, int64_t *wait_ms)
{
    HG_ASSERT(value != NULL || len == 0);
    HG_ASSERT(wait_ms != NULL);
    if (len > RETRY_AFTER_MAX_LEN)
        return -1;
    if (len >= 2 && value[len - 2] == '\r' && value[len - 1] == '\n') /* a raw header line's end */
        len -= 2;
    while (len > 0 && is_space(value[len - 1]))
        len--;
    size_t start = 0;
    while (start < len && is_space(value[start]))
        start++;
    if (start == len)
        return -1;

    if (value[start] >= '0' && value[start] <= '9') { /* delta-seconds = 1*DIGIT */
        int64_t seconds = 0;
        for (size_t i = start; i < len; i++) {
            if (value[i] < '0' || value[i] > '9')
                return -1;
            /* saturate rather than overflow: once past the ceiling, more digits change nothing */
            if (seconds <= RETRY_AFTER_MAX_MS / 1000)
                seconds = 10 * seconds + (value[i] - '0');
        }
        *wait_ms = seconds >= RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS : seconds * 1000;
        return 0;
    }

    cursor c = {value + start, len - start, 0};
    int64_t date_ms;
    if (read_http_date(&c, now_ms, &date_ms) != 0)
        return -1;
    /* date_ms is in [0, year 10000), so date_ms - RETRY_AFTER_MAX_MS cannot overflow, and
     * past that test date_ms - now_ms is at most RETRY_AFTER_MAX_MS */
    if (date_ms <= now_ms)
        *wait_ms = 0;
    else if (now_ms < date_ms - RETRY_AFTER_MAX_MS)
        *wait_ms = RETRY_AFTER_MAX_MS;
    else
        *wait_ms = date_ms - now_ms;
    return 0;
}

/* --- the decision ----------------------------------------------------------------------- */

/* base +- percent %, uniform over whole milliseconds by random. */
static int64_t jitter(uint32_t base, unsigned percent, uint64_t random)
{
    uint64_t span = (uint64_t)base * percent / 100; /* <= base / 2 */
    return (int64_t)(base - span + random % (2 * span + 1));
}

retry_verdict retry_decide(const config_delivery *cfg, unsigned attempts_made, delivery_outcome outcome,
                           unsigned status, int has_retry_after, int64_t retry_after_ms, uint64_t random,
                           int64_t *wait_ms)
{
    HG_ASSERT(cfg != NULL && wait_ms != NULL);
    HG_ASSERT(attempts_made >= 1);
    HG_ASSERT((unsigned)outcome < DELIVERY_OUTCOMES);
    HG_ASSERT(cfg->n_retry_schedule >= 1 && cfg->n_retry_schedule <= CONFIG_MAX_RETRY_SCHEDULE);
    HG_ASSERT(cfg->retry_jitter_percent <= 50);
    *wait_ms = 0;

    int answered = outcome == DELIVERY_STATUS;
    if (outcome == DELIVERY_OK)
        return RETRY_DELIVERED;
    if (answered && status == 410)
        return RETRY_GONE;
    if (attempts_made >= cfg->n_retry_schedule)
        return RETRY_FAILED;

    uint32_t scheduled = cfg->retry_schedule_ms[attempts_made];
    HG_ASSERT(scheduled <= CONFIG_MAX_RETRY_WAIT_MS);
    int64_t jittered = jitter(scheduled, cfg->retry_jitter_percent, random);
    int64_t w = jittered;
    if (has_retry_after && answered && (status == 429 || status == 503)) {
        w = retry_after_ms < 0 ? 0 : retry_after_ms;
        if (w > 2 * jittered)
            w = 2 * jittered;
    }
    if ((outcome == DELIVERY_TIMEOUT || (answered && status == 429)) && w < (int64_t)cfg->throttle_wait_ms)
        w = cfg->throttle_wait_ms;
    HG_ASSERT(w >= 0);
    *wait_ms = w;
    return RETRY_AGAIN;
}

int retry_should_disable(const config_delivery *cfg, int64_t failing_since_ms, int64_t now_ms)
{
    HG_ASSERT(cfg != NULL);
    if (cfg->disable_after_ms == 0 || failing_since_ms == 0 || now_ms < failing_since_ms)
        return 0;
    /* now >= since, so the difference fits a uint64_t even when since is negative */
    return (uint64_t)now_ms - (uint64_t)failing_since_ms >= cfg->disable_after_ms;
}
