/* Tests accesslog: the text and JSON lines (escaping, the method and path cut at their
 * bounds), nothing when off, batched lines held until accesslog_flush, request ids, and
 * which client ids are acceptable. The log's writes (only they) go into a temporary file
 * put in place of stderr, so that failed checks still reach the real one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "test.h"

static FILE *capture;
static int saved_stderr;

/* Runs stmt with stderr (fd 2) going to the capture file. */
#define CAPTURED(stmt)                                                                                                 \
    do {                                                                                                               \
        fflush(stderr);                                                                                                \
        dup2(fileno(capture), STDERR_FILENO);                                                                          \
        stmt;                                                                                                          \
        dup2(saved_stderr, STDERR_FILENO);                                                                             \
    } while (0)

/* What was written to stderr since the last call. */
static const char *taken(void)
{
    static char buf[8192];
    fflush(capture);
    long end = ftell(capture);
    rewind(capture);
    size_t n = fread(buf, 1, sizeof(buf) - 1, capture);
    buf[n] = '\0';
    CHECK((long)n == end);
    CHECK(ftruncate(fileno(capture), 0) == 0);
    rewind(capture);
    return buf;
}

static accesslog_entry entry(const char *method, const char *path)
{
    return (accesslog_entry){.method = method,
                             .method_len = strlen(method),
                             .path = path,
                             .path_len = strlen(path),
                             .status = 201,
                             .bytes = 181,
                             .duration_us = 1234,
                             .protocol = "HTTP/1.1",
                             .request_id = "abc",
                             .request_id_len = 3};
}

static void test_text(void)
{
    accesslog_set_format(ACCESSLOG_TEXT);
    accesslog_entry e = entry("POST", "/api/webhooks");
    CAPTURED(accesslog_write(&e));
    CHECK_STR(taken(), "access POST /api/webhooks 201 181 1.234ms HTTP/1.1\n");
    e.duration_us = -5; /* a clock that went back is 0 */
    e.bytes = 0;
    CAPTURED(accesslog_write(&e));
    CHECK_STR(taken(), "access POST /api/webhooks 201 0 0.000ms HTTP/1.1\n");

    /* the method is cut at 16 bytes, the path at 256 */
    char path[400];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/', path[sizeof(path) - 1] = '\0';
    e = entry("ABCDEFGHIJKLMNOPQRSTUVWXYZ", path);
    CAPTURED(accesslog_write(&e));
    const char *line = taken();
    CHECK(strncmp(line, "access ABCDEFGHIJKLMNOP /p", 26) == 0);
    const char *space = strchr(line + 24, ' ');
    CHECK(space != NULL && space - (line + 24) == 256);
}

static void test_json(void)
{
    accesslog_set_format(ACCESSLOG_JSON);
    accesslog_entry e = entry("GET", "/a\"b\\c\x01");
    CAPTURED(accesslog_write(&e));
    const char *line = taken();
    CHECK(strncmp(line, "{\"time\":\"", 9) == 0);
    CHECK(strstr(line, "Z\",\"request_id\":\"abc\",\"method\":\"GET\",\"path\":\"/a\\\"b\\\\c\\u0001\","
                       "\"status\":201,\"bytes\":181,\"duration_ms\":1.234,\"protocol\":\"HTTP/1.1\"}\n") != NULL);
    CHECK(strchr(line, '\n') == line + strlen(line) - 1); /* one line */
}

/* A client's bytes can forge nothing: in the text format every control byte, space, DEL,
 * backslash and byte that is not UTF-8 is \xHH, so a path carrying CR LF or ESC stays one
 * field of one line; in JSON a byte that is not UTF-8 is written as the text \\xHH, so
 * the line is still JSON (UTF-8); characters of UTF-8 pass unchanged in both. */
static void test_client_bytes(void)
{
    accesslog_set_format(ACCESSLOG_TEXT);
    accesslog_entry e = entry("GET", "/api/webhooks/\r\naccess POST /x 201 0 0.000ms HTTP/1.1\x1b[2J\\\xc0\xae\xc3\xa9");
    CAPTURED(accesslog_write(&e));
    CHECK_STR(taken(), "access GET /api/webhooks/\\x0d\\x0aaccess\\x20POST\\x20/x\\x20201\\x200\\x200.000ms"
                       "\\x20HTTP/1.1\\x1b[2J\\x5c\\xc0\\xae\xc3\xa9 201 181 1.234ms HTTP/1.1\n");
    e = entry("G\nET", "/\nhookgate: reload: FORGED");
    CAPTURED(accesslog_write(&e));
    const char *line = taken();
    CHECK(strchr(line, '\n') == line + strlen(line) - 1); /* one line */
    CHECK(strncmp(line, "access G\\x0aET /\\x0ahookgate:\\x20reload:\\x20FORGED 201 ", 54) == 0);

    /* the longest path of escapes still ends its line whole */
    char worst[300];
    memset(worst, '\n', sizeof worst - 1);
    worst[sizeof worst - 1] = '\0';
    e = entry("GET", worst);
    CAPTURED(accesslog_write(&e));
    line = taken();
    CHECK(strlen(line) > 4 * 256 && strstr(line, " 201 181 1.234ms HTTP/1.1\n") != NULL);

    accesslog_set_format(ACCESSLOG_JSON);
    e = entry("GET", "/a\xc0\xae\xc3\xa9\xff");
    CAPTURED(accesslog_write(&e));
    line = taken();
    CHECK(strstr(line, "\"path\":\"/a\\\\xc0\\\\xae\xc3\xa9\\\\xff\"") != NULL);
    e = entry("GET", worst);
    CAPTURED(accesslog_write(&e));
    line = taken();
    CHECK(strstr(line, "\"protocol\":\"HTTP/1.1\"}\n") != NULL); /* the line is whole */
}

static void test_off_and_batch(void)
{
    accesslog_entry e = entry("GET", "/healthz");
    accesslog_set_format(ACCESSLOG_OFF);
    CAPTURED(accesslog_write(&e));
    CHECK_STR(taken(), "");

    accesslog_set_format(ACCESSLOG_TEXT);
    accesslog_batch();
    CAPTURED(accesslog_write(&e));
    CAPTURED(accesslog_write(&e));
    CHECK_STR(taken(), ""); /* held until the flush */
    CAPTURED(accesslog_flush());
    CHECK_STR(taken(), "access GET /healthz 201 181 1.234ms HTTP/1.1\naccess GET /healthz 201 181 1.234ms HTTP/1.1\n");
    CAPTURED(accesslog_flush());
    CHECK_STR(taken(), "");
}

static void test_ids(void)
{
    char a[ACCESSLOG_ID_MAX + 1], b[ACCESSLOG_ID_MAX + 1];
    CHECK(accesslog_request_id(a) == 16 && strlen(a) == 16);
    CHECK(accesslog_request_id(b) == 16);
    CHECK(strspn(a, "0123456789abcdef") == 16);
    CHECK(strcmp(a, b) != 0 && strcmp(a + 8, b + 8) == 0); /* a spread counter, then one process's digits */
    CHECK(a[0] != b[0]); /* consecutive ids differ in their first digit (see accesslog.c) */
    CHECK(accesslog_id_is_acceptable(a, 16));

    char longest[ACCESSLOG_ID_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    CHECK(accesslog_id_is_acceptable(longest, ACCESSLOG_ID_MAX));
    CHECK(!accesslog_id_is_acceptable(longest, ACCESSLOG_ID_MAX + 1));
    CHECK(!accesslog_id_is_acceptable("", 0));
    CHECK(accesslog_id_is_acceptable("Az09-_.", 7));
    CHECK(!accesslog_id_is_acceptable("a b", 3));
    CHECK(!accesslog_id_is_acceptable("a\"b", 3));
    CHECK(!accesslog_id_is_acceptable("a\nb", 3));
    CHECK(!accesslog_id_is_acceptable("a/b", 3));
}

int main(void)
{
    capture = tmpfile();
    CHECK(capture != NULL);
    if (capture == NULL)
        return test_exit_code();
    saved_stderr = dup(STDERR_FILENO);
    test_text();
    test_json();
    test_client_bytes();
    test_off_and_batch();
    test_ids();
    fclose(capture);
    close(saved_stderr);
    return test_exit_code();
}
