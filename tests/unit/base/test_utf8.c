/* test_utf8: the length of the character at a position, against RFC 3629's table of
 * well-formed sequences: every length, every boundary, and every way to be ill-formed. */
#include "test.h"
#include "utf8.h"

#include <string.h>

static size_t len_of(const char *s)
{
    return utf8_char_len((const uint8_t *)s, strlen(s));
}

int main(void)
{
    CHECK(utf8_char_len((const uint8_t *)"", 0) == 0);
    CHECK(utf8_char_len((const uint8_t *)"\0", 1) == 1); /* NUL is a character */
    CHECK(len_of("a") == 1 && len_of("\x7f") == 1);
    CHECK(len_of("\xc2\x80") == 2 && len_of("\xdf\xbf") == 2);             /* U+0080, U+07FF */
    CHECK(len_of("\xe0\xa0\x80") == 3 && len_of("\xef\xbf\xbf") == 3);     /* U+0800, U+FFFF */
    CHECK(len_of("\xed\x9f\xbf") == 3 && len_of("\xee\x80\x80") == 3);     /* around the surrogates */
    CHECK(len_of("\xf0\x90\x80\x80") == 4 && len_of("\xf4\x8f\xbf\xbf") == 4); /* U+10000, U+10FFFF */
    CHECK(len_of("\xc3\xa9xyz") == 2); /* only the first character */
    /* ill-formed */
    CHECK(len_of("\x80") == 0 && len_of("\xbf") == 0);                  /* a stray continuation */
    CHECK(len_of("\xc0\xae") == 0 && len_of("\xc1\xbf") == 0);          /* overlong two-byte */
    CHECK(len_of("\xe0\x80\xaf") == 0 && len_of("\xf0\x8f\xbf\xbf") == 0); /* overlong three/four */
    CHECK(len_of("\xed\xa0\x80") == 0 && len_of("\xed\xbf\xbf") == 0);  /* surrogates */
    CHECK(len_of("\xf4\x90\x80\x80") == 0 && len_of("\xf5\x80\x80\x80") == 0); /* past U+10FFFF */
    CHECK(len_of("\xff") == 0 && len_of("\xfe") == 0 && len_of("\xf8\x88\x80\x80\x80") == 0);
    CHECK(len_of("\xc3") == 0 && len_of("\xe2\x82") == 0 && len_of("\xf0\x9f\x98") == 0); /* cut short */
    CHECK(utf8_char_len((const uint8_t *)"\xc3\xa9", 1) == 0); /* the length bounds the read */
    CHECK(len_of("\xc3x") == 0 && len_of("\xe2\x82x") == 0);  /* a continuation that is not one */
    return test_exit_code();
}
