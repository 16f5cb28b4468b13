/* test_swar: swar_below and swar_equal against the byte-wise answer, for every byte value
 * at every place of the word, among fillers that do and do not match. */
#include "swar.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

/* The word of eight fill bytes with b at place at. */
static uint64_t word_with(unsigned char fill, unsigned char b, int at)
{
    unsigned char bytes[8];
    memset(bytes, fill, sizeof bytes);
    bytes[at] = b;
    uint64_t v;
    memcpy(&v, bytes, sizeof v);
    return v;
}

static void test_below(void)
{
    static const unsigned bounds[] = {1, 0x20, 0x30, 0x80};
    static const unsigned char fills[] = {0x00, 0x01, 0x1f, 0x20, 0x41, 0x7f, 0x80, 0xff};
    int wrong = 0;
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++)
        for (size_t f = 0; f < sizeof fills; f++)
            for (int at = 0; at < 8; at++)
                for (unsigned b = 0; b < 256; b++) {
                    int want = b < bounds[k] || fills[f] < bounds[k];
                    wrong += (swar_below(word_with(fills[f], (unsigned char)b, at), bounds[k]) != 0) != want;
                }
    CHECK(wrong == 0);
}

static void test_equal(void)
{
    static const unsigned char targets[] = {'"', '\\', 0x00, 0x7f, 0xff};
    static const unsigned char fills[] = {0x00, 0x21, '"' + 1, '\\' - 1, 0x80, 0xfe};
    int wrong = 0;
    for (size_t t = 0; t < sizeof targets; t++)
        for (size_t f = 0; f < sizeof fills; f++)
            for (int at = 0; at < 8; at++)
                for (unsigned b = 0; b < 256; b++) {
                    int want = b == targets[t] || fills[f] == targets[t];
                    wrong += (swar_equal(word_with(fills[f], (unsigned char)b, at), targets[t]) != 0) != want;
                }
    CHECK(wrong == 0);
}

int main(void)
{
    test_below();
    test_equal();
    return test_exit_code();
}
