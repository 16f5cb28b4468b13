/* h1framing: see h1framing.h. */
#include "h1framing.h"

#include <string.h>

#include "hg_assert.h"

/* RFC 9110 §5.6.2 tchar: a table, as every byte of every field name is looked up. */
#define DIGITS ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1
#define LOWER                                                                                                          \
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,      \
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,      \
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1
#define UPPER                                                                                                          \
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,      \
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,      \
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1
static const unsigned char tchar[256] = {
    DIGITS, LOWER, UPPER,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

static int is_tchar(unsigned char c)
{
    return tchar[c];
}

/* 1 when name[0..len) is lower (lowercase ASCII) in any case. */
static int name_is(const char *name, size_t len, const char *lower)
{
    if (len != strlen(lower))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
        if (c != lower[i])
            return 0;
    }
    return 1;
}

/* The next line of head[*at..len), without its LF and a CR before it; 0 when no LF is left. */
static int next_line(const char *head, size_t len, size_t *at, const char **line, size_t *line_len)
{
    if (*at >= len)
        return 0; /* (memchr must not see a NULL head, even for 0 bytes) */
    const char *lf = memchr(head + *at, '\n', len - *at);
    if (lf == NULL)
        return 0;
    *line = head + *at;
    *line_len = (size_t)(lf - *line);
    if (*line_len > 0 && (*line)[*line_len - 1] == '\r')
        (*line_len)--;
    *at = (size_t)(lf - head) + 1;
    return 1;
}

h1framing_verdict h1framing_check(const char *head, size_t len, int version)
{
    HG_ASSERT(head != NULL || len == 0);
    size_t at = 0;
    const char *line;
    size_t line_len;
    if (!next_line(head, len, &at, &line, &line_len))
        return H1FRAMING_MALFORMED;
    if (line_len == 0 && !next_line(head, len, &at, &line, &line_len)) /* the one empty line h2o skips */
        return H1FRAMING_MALFORMED;
    /* line is the request line: h2o has judged it */

    const char *length = NULL; /* the first Content-Length value */
    size_t length_len = 0, codings = 0;
    int lengths_differ = 0, length_invalid = 0, chunked_only = 1;
    for (;;) {
        if (!next_line(head, len, &at, &line, &line_len))
            return H1FRAMING_MALFORMED; /* no empty line: not a whole head */
        if (line_len == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t')
            return H1FRAMING_OBS_FOLD;
        size_t name_len = 0;
        while (is_tchar((unsigned char)line[name_len])) /* line ends before a CR or LF, neither a tchar */
            name_len++;
        HG_ASSERT(name_len <= line_len);
        if (name_len == 0 || name_len == line_len || line[name_len] != ':')
            return H1FRAMING_MALFORMED; /* white space before the colon included (RFC 9112 §5.1) */
        const char *value = line + name_len + 1, *end = line + line_len;
        while (value < end && (*value == ' ' || *value == '\t'))
            value++;
        while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        size_t value_len = (size_t)(end - value);
        if (name_is(line, name_len, "content-length")) {
            for (size_t i = 0; i < value_len; i++)
                length_invalid |= !(value[i] >= '0' && value[i] <= '9');
            length_invalid |= value_len == 0;
            if (length == NULL)
                length = value, length_len = value_len;
            else
                lengths_differ |= value_len != length_len || memcmp(value, length, value_len) != 0;
        } else if (name_is(line, name_len, "transfer-encoding")) {
            codings++;
            chunked_only &= name_is(value, value_len, "chunked");
        }
    }
    if (codings > 0 && length != NULL)
        return H1FRAMING_BOTH_LENGTHS;
    if (codings > 0 && version < 0x101)
        return H1FRAMING_TRANSFER_ENCODING_1_0;
    if (codings > 1 || !chunked_only)
        return H1FRAMING_TRANSFER_CODING; /* "gzip, chunked" too: hookgate decodes no other coding */
    if (length_invalid || lengths_differ)
        return H1FRAMING_CONTENT_LENGTH;
    return H1FRAMING_OK;
}

const char *h1framing_reason(h1framing_verdict v)
{
    switch (v) {
    case H1FRAMING_OK:
        return "";
    case H1FRAMING_MALFORMED:
        return "Malformed request header.";
    case H1FRAMING_OBS_FOLD:
        return "A header line continued on the next line (obs-fold) is not accepted.";
    case H1FRAMING_CONTENT_LENGTH:
        return "Content-Length must be one decimal number, given once.";
    case H1FRAMING_BOTH_LENGTHS:
        return "Content-Length and Transfer-Encoding must not be sent together.";
    case H1FRAMING_TRANSFER_CODING:
        return "Transfer-Encoding must be given once, as chunked.";
    case H1FRAMING_TRANSFER_ENCODING_1_0:
        return "Transfer-Encoding is not accepted in an HTTP/1.0 request.";
    }
    HG_ASSERT(0);
    return "";
}
