/* Tests crc32c against the RFC 3720 (iSCSI) vectors and incremental use. */
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "test.h"

int main(void)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    CHECK(crc32c_update(0, buf, 32) == 0x8a9136aau);
    memset(buf, 0xff, sizeof(buf));
    CHECK(crc32c_update(0, buf, 32) == 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CHECK(crc32c_update(0, buf, 32) == 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    CHECK(crc32c_update(0, buf, 32) == 0x113fdb5cu);
    CHECK(crc32c_update(0, "123456789", 9) == 0xe3069283u);
    CHECK(crc32c_update(0, "", 0) == 0);
    /* any split gives the same result as one pass */
    for (size_t cut = 0; cut <= 9; cut++)
        CHECK(crc32c_update(crc32c_update(0, "123456789", cut), &"123456789"[cut], 9 - cut) == 0xe3069283u);
    /* one flipped bit changes it */
    buf[5] ^= 4;
    CHECK(crc32c_update(0, buf, 32) != 0x113fdb5cu);
    return test_exit_code();
}
