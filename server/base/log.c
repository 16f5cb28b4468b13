/* log: see log.h. */
#define _GNU_SOURCE /* dup3 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PATH_MAX 4096

static atomic_int journal_stream;                                /* standard error is the journal's stream */
static atomic_int access_fd = STDERR_FILENO;                     /* where access lines go */
static char error_path[LOG_PATH_MAX], access_path[LOG_PATH_MAX]; /* "" = standard error */

/* 1 when fd is the stream JOURNAL_STREAM ("DEVICE:INODE") names: systemd sets it for a
 * service whose output goes to the journal; a child whose stderr was redirected keeps the
 * variable but not the stream, hence the comparison. */
static int is_journal_stream(int fd)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
    atomic_store(&journal_stream, is_journal_stream(STDERR_FILENO));
}

static int open_log(const char *path, char err[LOG_ERROR_MAX])
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, LOG_FILE_MODE);
    if (fd < 0)
        snprintf(err, LOG_ERROR_MAX, "%s: %s", path, strerror(errno));
    return fd;
}

int log_open(const char *error_file, const char *access_file, char err[LOG_ERROR_MAX])
{
    if ((error_file != NULL && strlen(error_file) >= LOG_PATH_MAX) ||
        (access_file != NULL && strlen(access_file) >= LOG_PATH_MAX)) {
        snprintf(err, LOG_ERROR_MAX, "a log file path is longer than %d bytes", LOG_PATH_MAX - 1);
        return -1;
    }
    int efd = -1, afd = -1;
    if (error_file != NULL && (efd = open_log(error_file, err)) < 0)
        return -1;
    if (access_file != NULL && (afd = open_log(access_file, err)) < 0) {
        if (efd >= 0)
            close(efd);
        return -1;
    }
    if (efd >= 0) {
        if (dup2(efd, STDERR_FILENO) < 0) {
            snprintf(err, LOG_ERROR_MAX, "%s: %s", error_file, strerror(errno));
            close(efd);
            if (afd >= 0)
                close(afd);
            return -1;
        }
        close(efd);
        snprintf(error_path, sizeof error_path, "%s", error_file);
        atomic_store(&journal_stream, 0);
    }
    if (afd >= 0) {
        snprintf(access_path, sizeof access_path, "%s", access_file);
        atomic_store(&access_fd, afd);
    }
    return 0;
}

/* Opens path again and puts it at descriptor target; -1 (err set) leaves target as it was. */
static int reopen_at(const char *path, int target, int flags, char err[LOG_ERROR_MAX])
{
    int fd = open_log(path, err);
    if (fd < 0)
        return -1;
    int rc = dup3(fd, target, flags);
    if (rc < 0)
        snprintf(err, LOG_ERROR_MAX, "%s: %s", path, strerror(errno));
    close(fd);
    return rc < 0 ? -1 : 0;
}

int log_reopen(char err[LOG_ERROR_MAX])
{
    int rc = 0;
    char second[LOG_ERROR_MAX];
    if (error_path[0] != '\0' && reopen_at(error_path, STDERR_FILENO, 0, err) != 0)
        rc = -1;
    if (access_path[0] != '\0' && reopen_at(access_path, atomic_load(&access_fd), O_CLOEXEC, second) != 0) {
        if (rc == 0)
            memcpy(err, second, LOG_ERROR_MAX);
        rc = -1;
    }
    return rc;
}

int log_access_fd(void)
{
    return atomic_load_explicit(&access_fd, memory_order_relaxed);
}

int log_access_to_journal(void)
{
    /* access lines share standard error only when no access file was opened */
    return access_path[0] == '\0' && atomic_load_explicit(&journal_stream, memory_order_relaxed);
}

static void log_line(const char *priority, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    int n = snprintf(line, sizeof line,
                     "%shookgate: ", atomic_load_explicit(&journal_stream, memory_order_relaxed) ? priority : "");
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    while (len > 0 && line[len - 1] == '\n') /* one newline, whatever the format ended with */
        len--;
    line[len++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, len);
    (void)rc; /* a log that cannot be written must not stop the server */
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("<3>", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("<6>", fmt, ap);
    va_end(ap);
}
