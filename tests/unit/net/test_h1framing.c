/* Tests h1framing: heads whose framing every reader agrees on pass (one Content-Length,
 * identical repeats of it, one Transfer-Encoding: chunked in any case and white space,
 * the empty line h2o skips, bare LF line ends, the body after the head never read); each
 * refusal of RFC 9112 §6.1/§6.3 is named: two Content-Lengths that differ, one that is not
 * digits (`+5`, `5, 6`, empty), Content-Length with Transfer-Encoding in either order,
 * Transfer-Encoding given twice, as a list, or as another coding, Transfer-Encoding on
 * HTTP/1.0, obs-fold, white space before a colon, a head without its empty line, a byte
 * outside tchar in a field name. */
#include <string.h>

#include "h1framing.h"
#include "test.h"

static h1framing_verdict check(const char *head, int version)
{
    return h1framing_check(head, strlen(head), version);
}

#define REQ "POST /api/webhooks HTTP/1.1\r\nHost: x\r\n"

static void test_accepted(void)
{
    CHECK(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0x101) == H1FRAMING_OK);
    CHECK(check("GET / HTTP/1.0\r\n\r\n", 0x100) == H1FRAMING_OK);
    CHECK(check(REQ "Content-Length: 5\r\n\r\nhello", 0x101) == H1FRAMING_OK);
    CHECK(check(REQ "content-LENGTH:5 \r\nContent-Length:  5\r\n\r\n", 0x101) == H1FRAMING_OK);
    CHECK(check(REQ "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0x101) == H1FRAMING_OK);
    CHECK(check(REQ "transfer-encoding:\tChunKed\t\r\n\r\n", 0x101) == H1FRAMING_OK);
    CHECK(check("\r\n" REQ "Content-Length: 0\r\n\r\n", 0x101) == H1FRAMING_OK);
    CHECK(check("GET / HTTP/1.1\nHost: x\nContent-Length: 0\n\n", 0x101) == H1FRAMING_OK);
    /* a body that looks like a second head is not read */
    CHECK(check(REQ "Content-Length: 3\r\n\r\nabc Content-Length: 7\r\n\r\n", 0x101) == H1FRAMING_OK);
    /* names that only start like the framing ones */
    CHECK(check(REQ "Content-Lengths: x\r\nTransfer-Encodings: gzip\r\nContent-Length: 1\r\n\r\n", 0x101) ==
          H1FRAMING_OK);
}

static void test_content_length(void)
{
    CHECK(check(REQ "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length: 5\r\nX: y\r\ncontent-length: 05\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length: +5\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length: 5, 6\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length: 5, 5\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length: 5\r\nContent-Length: +5\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length:\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
    CHECK(check(REQ "Content-Length: 0x5\r\n\r\n", 0x101) == H1FRAMING_CONTENT_LENGTH);
}

static void test_transfer_encoding(void)
{
    CHECK(check(REQ "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n", 0x101) == H1FRAMING_BOTH_LENGTHS);
    CHECK(check(REQ "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n", 0x101) == H1FRAMING_BOTH_LENGTHS);
    CHECK(check(REQ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 0x101) ==
          H1FRAMING_TRANSFER_CODING);
    CHECK(check(REQ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0x101) ==
          H1FRAMING_TRANSFER_CODING);
    CHECK(check(REQ "Transfer-Encoding: gzip, chunked\r\n\r\n", 0x101) == H1FRAMING_TRANSFER_CODING);
    CHECK(check(REQ "Transfer-Encoding: chunked, identity\r\n\r\n", 0x101) == H1FRAMING_TRANSFER_CODING);
    CHECK(check(REQ "Transfer-Encoding: identity\r\n\r\n", 0x101) == H1FRAMING_TRANSFER_CODING);
    CHECK(check(REQ "Transfer-Encoding: xchunked\r\n\r\n", 0x101) == H1FRAMING_TRANSFER_CODING);
    CHECK(check("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0x100) ==
          H1FRAMING_TRANSFER_ENCODING_1_0);
}

static void test_malformed(void)
{
    CHECK(check(REQ "Content-Length: 5\r\n 6\r\n\r\n", 0x101) == H1FRAMING_OBS_FOLD);
    CHECK(check(REQ "X: a\r\n\tTransfer-Encoding: chunked\r\n\r\n", 0x101) == H1FRAMING_OBS_FOLD);
    CHECK(check(REQ "Content-Length : 5\r\n\r\n", 0x101) == H1FRAMING_MALFORMED);
    CHECK(check(REQ "Transfer-Encoding\t: chunked\r\n\r\n", 0x101) == H1FRAMING_MALFORMED);
    CHECK(check(REQ ": 5\r\n\r\n", 0x101) == H1FRAMING_MALFORMED);
    CHECK(check(REQ "no colon\r\n\r\n", 0x101) == H1FRAMING_MALFORMED);
    CHECK(check(REQ "Content-Length: 5\r\n", 0x101) == H1FRAMING_MALFORMED); /* no empty line */
    CHECK(check("", 0x101) == H1FRAMING_MALFORMED);
    CHECK(check("\r\n", 0x101) == H1FRAMING_MALFORMED);
    CHECK(h1framing_check(NULL, 0, 0x101) == H1FRAMING_MALFORMED);
}

/* Every byte in a field name: RFC 9110 §5.6.2's tchar passes, any other is malformed
 * (LF, which ends the line, and ':', which ends the name, aside). */
static void test_name_bytes(void)
{
    static const char punctuation[] = "!#$%&'*+-.^_`|~";
    for (int c = 1; c < 256; c++) {
        if (c == '\n' || c == ':')
            continue;
        int tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    memchr(punctuation, c, sizeof(punctuation) - 1) != NULL;
        char head[64] = REQ "X";
        size_t n = strlen(head);
        head[n] = (char)c;
        memcpy(head + n + 1, "y: 1\r\n\r\n", sizeof("y: 1\r\n\r\n"));
        h1framing_verdict v = h1framing_check(head, strlen(head), 0x101);
        CHECK(v == (tchar ? H1FRAMING_OK : H1FRAMING_MALFORMED));
    }
}

static void test_reasons(void)
{
    for (int v = H1FRAMING_MALFORMED; v <= H1FRAMING_TRANSFER_ENCODING_1_0; v++)
        CHECK(strlen(h1framing_reason((h1framing_verdict)v)) > 0);
}

int main(void)
{
    test_accepted();
    test_content_length();
    test_transfer_encoding();
    test_malformed();
    test_name_bytes();
    test_reasons();
    return test_exit_code();
}
