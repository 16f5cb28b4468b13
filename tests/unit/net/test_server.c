/* Tests server: server_thread_count (server.threads, or one loop per online CPU within
 * [1, CONFIG_MAX_THREADS]); and server_run itself, each run in a child process of its own
 * (its server is static, made for one run per process, and it waits for signals; the
 * child execs this executable with --serve, see child_start):
 *   - start-up that fails says why on stderr and returns -1: a port in use, TLS files
 *     that cannot be read;
 *   - a clean run on 127.0.0.1 (a loopback port the kernel picked, no network): it says it
 *     listens, serves a request (HTTP/1.1 on a plain socket), calls reload once on SIGHUP and
 *     goes on serving, and on SIGTERM stops and returns 0 within SERVER_STOP_DEADLINE_MS
 *     even with an idle keep-alive connection still open.
 * The child's stderr comes to the test through a pipe; the test waits on it (poll) for
 * each line that says the server got somewhere, never on a clock.
 *
 * Not here (tests/e2e/test_e2e.py and test_ops.py run the binary for them): TLS serving
 * and ALPN, native gRPC listeners, max_connections, SIGINT, requests in flight finishing
 * during a stop, and the reload's effect on configuration (core_reload is test_core's).
 * The listener's address parsing is not a contract of its own (static in server.c; the
 * configuration admits only numeric addresses, test_config's). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core_fixture.h"
#include "connlimit.h"
#include "journal.h"
#include "server.h"

#define WAIT_MS 30000 /* longest the test waits for a line of the child's (valgrind is slow) */
#define STOP_SLACK_MS 3000 /* past SERVER_STOP_DEADLINE_MS, for valgrind's start and exit */

static const char yaml_fmt[] = "server:\n"
                               "  listen: [ { address: 127.0.0.1, port: %u%s } ]\n"
                               "  threads: 2\n"
                               "  request_timeout_ms: 60000\n" /* only the stop deadline ends an idle connection */
                               "accounts: []\n";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the child --------------------------------------------------------------------------- */

typedef struct child {
    pid_t pid;
    int err;          /* read end of the child's stderr */
    char text[16384]; /* what it wrote so far */
    size_t len;
} child;

/* server_run's load: counts the reloads and gives it nothing to take (NULL: nothing changes) */
static config *on_reload(void *arg)
{
    ++*(int *)arg;
    return NULL;
}

static const char *self; /* this executable, which serves in its children (--serve) */

/* The child's part (this executable again, with --serve): server_run over yaml as main.c
 * runs it (the three signals blocked and SIGPIPE ignored before any thread). Exits 0 when
 * server_run returned want_rc (and, when it returned 0, reload ran want_reloads times). */
static int serve(const char *yaml, int want_rc, int want_reloads)
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    core *c = core_fixture_open(yaml);
    if (c == NULL)
        return 2;
    int reloads = 0;
    int rc = server_run(core_config_now(c), c, on_reload, &reloads);
    fprintf(stderr, "test: server_run returned %d after %d reload(s)\n", rc, reloads);
    core_destroy(c);
    return rc == want_rc && (rc != 0 || reloads == want_reloads) && test_failures == 0 ? 0 : 1;
}

/* Starts a child that serves yaml (see serve), its stderr into a pipe of ours. The child
 * execs this executable anew: under valgrind (which does not follow an exec) it runs
 * natively, as the server it stands for exits without freeing what its loops still hold
 * (server.c: connections cut at the stop deadline keep their context). */
static void child_start(child *ch, const char *yaml, int want_rc, int want_reloads)
{
    memset(ch, 0, sizeof(*ch));
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(stdout);
    fflush(stderr);
    ch->pid = fork();
    CHECK(ch->pid >= 0);
    if (ch->pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        char rc[16], reloads[16];
        snprintf(rc, sizeof(rc), "%d", want_rc);
        snprintf(reloads, sizeof(reloads), "%d", want_reloads);
        execl(self, self, "--serve", yaml, rc, reloads, (char *)NULL);
        perror("test: exec");
        _exit(3);
    }
    close(p[1]);
    ch->err = p[0];
}

/* Reads the child's stderr until it holds marker (1) or ends (0). */
static int child_wait_for(child *ch, const char *marker)
{
    int64_t deadline = now_ms() + WAIT_MS;
    while (strstr(ch->text, marker) == NULL) {
        struct pollfd pfd = {.fd = ch->err, .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = read(ch->err, ch->text + ch->len, sizeof(ch->text) - 1 - ch->len);
        if (n <= 0)
            break;
        ch->len += (size_t)n;
        ch->text[ch->len] = '\0';
    }
    return strstr(ch->text, marker) != NULL;
}

/* Waits for the child's end; 1 when it exited with status 0. */
static int child_end(child *ch)
{
    child_wait_for(ch, "\x01"); /* all it writes, up to its end */
    int status = 0;
    CHECK(waitpid(ch->pid, &status, 0) == ch->pid);
    close(ch->err);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok)
        fprintf(stderr, "the child's stderr:\n%s\n", ch->text);
    return ok;
}

/* ---- sockets ----------------------------------------------------------------------------- */

/* A listening TCP socket on 127.0.0.1 at a port the kernel picks; its port in *port. */
static int listening(unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 1) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int connected(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends GET /healthz on fd and reads the answer up to its body; 1 when it is 200 "ok". */
static int healthz(int fd, int keep_alive)
{
    char req[128], res[1024];
    int n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: localhost\r\n%s\r\n",
                     keep_alive ? "" : "Connection: close\r\n");
    if (write(fd, req, (size_t)n) != n)
        return 0;
    size_t len = 0;
    ssize_t r;
    res[0] = '\0';
    while (strstr(res, "\r\n\r\nok\n") == NULL && len < sizeof(res) - 1 &&
           (r = read(fd, res + len, sizeof(res) - 1 - len)) > 0) {
        len += (size_t)r;
        res[len] = '\0';
    }
    return strncmp(res, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(res, "\r\n\r\nok\n") != NULL;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* The cap the descriptor limit leaves: what is held, what is opened later (outbound calls,
 * database connections), the journal's JOURNAL_MAX_EXTRA_FDS, the spares, one per loop and
 * the eviction slack are set aside first. */
static void test_connection_cap(void)
{
    size_t kept = 20 + JOURNAL_MAX_EXTRA_FDS + SERVER_FD_SPARE + 2 + CONNLIMIT_EVICT_SLACK; /* 20 open, 2 loops */
    CHECK(server_connection_cap(1048576, 20, 0, 2, 10000) == 10000);       /* plenty: the configured cap */
    CHECK(server_connection_cap(kept + 100, 20, 0, 2, 10000) == 100);      /* lowered to what is left */
    CHECK(server_connection_cap(kept + 100, 20, 0, 2, 100) == 100);        /* exactly enough */
    CHECK(server_connection_cap(kept + 1, 20, 0, 2, 10000) == 1);
    CHECK(server_connection_cap(kept, 20, 0, 2, 10000) == 0);              /* not one: start-up is refused */
    CHECK(server_connection_cap(10, 20, 0, 2, 10000) == 0);
    CHECK(server_connection_cap(UINT64_MAX, 20, 0, 2, 10000) == 10000);    /* RLIM_INFINITY */
    CHECK(server_connection_cap(kept + 100, 20, 0, 3, 10000) == 99);       /* a loop more, a descriptor more */
    CHECK(server_connection_cap(kept + 100, 20, 30, 2, 10000) == 70);      /* 10 outbound calls' 30 */
    CHECK(server_connection_cap(kept + 30, 20, 30, 2, 10000) == 0);        /* they take all there is */
}

/* The watchdog's test: a loop whose last beat is older than the bound is named (the first
 * such), and the bound itself still passes. */
static void test_loops_alive(void)
{
    int64_t beats[] = {1000, 990, 1000, 700};
    CHECK(server_loops_alive(beats, 3, 1000, 10) == -1); /* 990 is exactly 10 old: alive */
    CHECK(server_loops_alive(beats, 3, 1001, 10) == 1);  /* now 11 old */
    CHECK(server_loops_alive(beats, 4, 1000, 10) == 3);  /* the wedged one */
    CHECK(server_loops_alive(beats, 4, 1000, 300) == -1);
    CHECK(server_loops_alive(beats, 0, 1000000, 1) == -1); /* no loop, nothing wedged */
}

/* Socket activation's variables: taken only when LISTEN_PID is this process, refused when
 * LISTEN_FDS is no count or past the bound. */
static void test_listen_fds(void)
{
    CHECK(server_listen_fds("42", "2", 42) == 2);
    CHECK(server_listen_fds("42", "0", 42) == 0);
    CHECK(server_listen_fds("41", "2", 42) == 0); /* a parent's, left behind: not ours */
    CHECK(server_listen_fds(NULL, "2", 42) == 0);
    CHECK(server_listen_fds("42", NULL, 42) == 0);
    CHECK(server_listen_fds("42x", "2", 42) == 0);
    CHECK(server_listen_fds("", "2", 42) == 0);
    CHECK(server_listen_fds("42", "", 42) == -1);
    CHECK(server_listen_fds("42", "two", 42) == -1);
    CHECK(server_listen_fds("42", "-1", 42) == -1);
    CHECK(server_listen_fds("42", "99999999999999999999", 42) == -1);
    char bound[16];
    snprintf(bound, sizeof(bound), "%d", SERVER_MAX_INHERITED_FDS);
    CHECK(server_listen_fds("42", bound, 42) == SERVER_MAX_INHERITED_FDS);
    snprintf(bound, sizeof(bound), "%d", SERVER_MAX_INHERITED_FDS + 1);
    CHECK(server_listen_fds("42", bound, 42) == -1);
}

static void test_thread_count(void)
{
    char yaml[512], errtext[CONFIG_ERROR_MAX];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want_default = cpus < 1 ? 1 : cpus > CONFIG_MAX_THREADS ? CONFIG_MAX_THREADS : (size_t)cpus;
    const struct {
        unsigned threads;
        size_t want;
    } cases[] = {{1, 1}, {3, 3}, {CONFIG_MAX_THREADS, CONFIG_MAX_THREADS}, {0, want_default}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(yaml, sizeof(yaml), "server: { listen: [ {address: 127.0.0.1, port: 1} ], threads: %u }\naccounts: []\n",
                 cases[i].threads);
        config *cfg = config_parse("t.yaml", yaml, strlen(yaml), errtext);
        CHECK(cfg != NULL);
        if (cfg == NULL) {
            fprintf(stderr, "%s\n", errtext);
            continue;
        }
        CHECK(server_thread_count(cfg) == cases[i].want);
        config_destroy(cfg);
    }
}

static void test_start_up_fails(void)
{
    char yaml[1024], want[128];
    unsigned port;
    int busy = listening(&port);
    snprintf(yaml, sizeof(yaml), yaml_fmt, port, "");
    child ch;
    child_start(&ch, yaml, -1, 0);
    snprintf(want, sizeof(want), "hookgate: cannot listen on 127.0.0.1:%u: ", port);
    CHECK(child_wait_for(&ch, want));
    CHECK(child_end(&ch));
    close(busy);

    /* files that do not exist (nothing is created) */
    snprintf(yaml, sizeof(yaml), yaml_fmt, 1u,
             ", tls: { certificate: /nonexistent/hookgate-cert.pem, key: /nonexistent/hookgate-key.pem }");
    child_start(&ch, yaml, -1, 0);
    CHECK(child_wait_for(&ch, "hookgate: tls for 127.0.0.1:1 (/nonexistent/hookgate-cert.pem, "));
    CHECK(child_end(&ch));
}

static void test_run_reload_stop(void)
{
    char yaml[1024], want[128];
    unsigned port;
    int probe = listening(&port); /* a port free now; closed for the server to take */
    close(probe);
    snprintf(yaml, sizeof(yaml), yaml_fmt, port, "");
    child ch;
    child_start(&ch, yaml, 0, 1);
    snprintf(want, sizeof(want), "hookgate: listening on http://127.0.0.1:%u\n", port);
    CHECK(child_wait_for(&ch, want));
    CHECK(child_wait_for(&ch, "hookgate: 2 event loop thread(s)\n"));

    int fd = connected(port);
    CHECK(healthz(fd, 0));
    close(fd);

    kill(ch.pid, SIGHUP);
    CHECK(child_wait_for(&ch, "hookgate: SIGHUP received, reloading the configuration\n"));
    int idle = connected(port);
    CHECK(healthz(idle, 1)); /* served after the reload; then left open, idle */

    int64_t asked = now_ms();
    kill(ch.pid, SIGTERM);
    CHECK(child_wait_for(&ch, "hookgate: SIGTERM received, stopping\n"));
    CHECK(child_wait_for(&ch, "hookgate: stopped\n"));
    CHECK(now_ms() - asked <= SERVER_STOP_DEADLINE_MS + STOP_SLACK_MS);
    CHECK(child_end(&ch));
    CHECK(strstr(ch.text, "test: server_run returned 0 after 1 reload(s)\n") != NULL);
    close(idle);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2], atoi(argv[3]), atoi(argv[4]));
    self = strchr(argv[0], '/') != NULL ? argv[0] : "/proc/self/exe";
    test_thread_count();
    test_connection_cap();
    test_loops_alive();
    test_listen_fds();
    test_start_up_fails();
    test_run_reload_stop();
    return test_exit_code();
}
