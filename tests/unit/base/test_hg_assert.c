/* test_hg_assert: an assertion that holds costs nothing visible; one that fails prints
 * "hookgate: assertion failed: file:line: expression" and aborts the process, whatever
 * the build type (NDEBUG does not remove it). Each failing case runs in a child process. */
#ifndef NDEBUG
#define NDEBUG /* hg_assert.h must not care (Release builds define it already) */
#endif
#include "hg_assert.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

HG_STATIC_ASSERT(sizeof(int) >= 2, "compiles when the relation holds");

static int evaluations;

static int counted(int value)
{
    evaluations++;
    return value;
}

/* Runs HG_ASSERT(value) in a child; returns its wait status and what it wrote to stderr. */
static int run_child(int value, char *out, size_t out_size)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        HG_ASSERT(counted(value) == 1);
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < out_size && (n = read(fds[0], out + used, out_size - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    return status;
}

int main(void)
{
    /* a holding assertion evaluates its expression once and goes on */
    HG_ASSERT(counted(1) == 1);
    CHECK(evaluations == 1);

    char out[512];
    int status = run_child(1, out, sizeof out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(out[0] == '\0');

    status = run_child(0, out, sizeof out);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(out, "hookgate: assertion failed: ") == out);
    CHECK(strstr(out, "test_hg_assert.c:") != NULL);
    CHECK(strstr(out, "counted(value) == 1") != NULL);
    return test_exit_code();
}
