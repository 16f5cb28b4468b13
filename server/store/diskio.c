/* diskio: see diskio.h. */
#define _GNU_SOURCE /* fallocate */
#include "diskio.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int posix_openat(int dir_fd, const char *name, int flags, mode_t mode)
{
    return openat(dir_fd, name, flags, mode);
}

static int posix_renameat(int dir_fd, const char *from, const char *to)
{
    return renameat(dir_fd, from, dir_fd, to);
}

static int posix_unlinkat(int dir_fd, const char *name)
{
    return unlinkat(dir_fd, name, 0);
}

const diskio diskio_posix = {
    .openat = posix_openat,
    .pwrite = pwrite,
    .ftruncate = ftruncate,
    .fallocate = fallocate,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .renameat = posix_renameat,
    .unlinkat = posix_unlinkat,
    .close = close,
};
