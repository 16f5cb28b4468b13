/* diskio: the file system calls by which the journal changes what is on disk, behind a
 * struct of function pointers (as Redis' rio hides its backends), so that a test can
 * record their order and work out what a power cut at any point would leave.
 *
 * diskio_posix is the real one. Calls that only read (mmap, fstat, readdir, fstatvfs) and
 * the directory lock are not in it: a power cut cannot lose what they do. The contract of
 * each call is its POSIX namesake's (renameat and unlinkat take one directory). */
#ifndef HOOKGATE_DISKIO_H
#define HOOKGATE_DISKIO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct diskio {
    int (*openat)(int dir_fd, const char *name, int flags, mode_t mode);
    ssize_t (*pwrite)(int fd, const void *data, size_t len, off_t offset);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, int mode, off_t offset, off_t len);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd); /* the journal uses it on the store directory only */
    int (*renameat)(int dir_fd, const char *from, const char *to);
    int (*unlinkat)(int dir_fd, const char *name);
    int (*close)(int fd);
} diskio;

/* The system calls themselves. */
extern const diskio diskio_posix;

#endif
