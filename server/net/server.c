/* server: see server.h.
 *
 * Each listener is bound once in the main thread, so a port in use fails loudly; every
 * loop thread watches a dup() of it, as h2o's own server does. */
#include "server.h"
#include "storepoll.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>
#ifdef HOOKGATE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "accesslog.h"
#include "connlimit.h"
#include "cors.h"
#include "grpc.h"
#include "hg_assert.h"
#include "h2guard.h"
#include "http.h"
#include "http_router.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "outflow.h"
#include "webconsole.h"

#define SERVER_BACKLOG 1024
#define SERVER_ACCEPT_BATCH 16              /* connections accepted per readiness event */
#define SERVER_HTTP2_GOAWAY_TIMEOUT_MS 2000 /* after GOAWAY, force-close HTTP/2 connections */
#define SERVER_ACCEPT_PAUSE_MS 100          /* out of descriptors: a loop stops accepting this long */

typedef struct listener {
    int fd;
    SSL_CTX *ssl_ctx; /* NULL for cleartext; replaced by a reload under server.listeners_lock */
    int grpc;         /* a server.grpc listener: native gRPC instead of h2o's HTTP */
    char address[CONFIG_ADDRESS_MAX]; /* what the configuration calls it: a reload matches by these */
    uint16_t port;
    uint64_t id; /* unique in the process, never reused: how a loop knows its copy of it */
} listener;

typedef struct loop_thread loop_thread;

typedef struct loop_listener {
    loop_thread *thread;
    h2o_socket_t *sock;
    h2o_accept_ctx_t accept_ctx; /* its ssl_ctx is a reference of this loop's own (loop_listeners_refresh) */
    int grpc;
    uint64_t id; /* the server's listener this is a dup() of */
} loop_listener;

struct loop_thread {
    pthread_t tid;
    h2o_context_t ctx;
    h2o_multithread_receiver_t wake; /* makes h2o_evloop_run return: a stop, a reload, squatters to evict */
    grpc_context grpc;
    loop_listener listeners[2 * CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    size_t open_connections;
    h2o_timeout_t accept_pause;          /* SERVER_ACCEPT_PAUSE_MS */
    int accept_pause_ready;              /* accept_pause is set up on the loop (at the first pause) */
    h2o_timeout_entry_t accept_resume;   /* linked while this loop does not accept */
    storepoll store;                     /* the store's view of this loop (its database connections) */
    struct server *server;
    core *core;
    unsigned index; /* in server.threads: the loop number connlimit knows it by */
    atomic_int evict_pending; /* another loop chose squatters of this one (connlimit_take_evicted) */
    _Atomic int64_t beat_ms;  /* when this loop last went round (now_ms); the watchdog reads it */
    h2o_timeout_t beat_period;        /* the watchdog's interval / 4: an idle loop goes round too */
    h2o_timeout_entry_t beat_entry;
    unsigned listeners_generation; /* server.listeners_generation when this loop last took the listeners */
    sem_t ready; /* posted once loop_setup is done; setup_rc says how it went */
    int setup_rc;
};

/* One accepted connection's place (connlimit.h); the socket's on_close data (through the
 * guard on HTTP listeners). */
typedef struct server_conn {
    connlimit_conn place;
    loop_thread *thread;
    h2o_socket_t *sock;
    int seen; /* connlimit_seen was called; read and written on the connection's loop only */
} server_conn;

typedef struct server {
    h2o_globalconf_t globalconf;
    listener listeners[2 * CONFIG_MAX_LISTENERS]; /* HTTP ones, then gRPC ones */
    size_t n_listeners;
    loop_thread *threads;
    size_t n_threads;
    atomic_int stopping;
    connlimit *places;      /* server.max_connections, per address, evictions */
    atomic_int fd_shortage; /* a loop found no descriptor to accept with, and none has since */
    int64_t watchdog_ms;    /* systemd's WatchdogSec (WATCHDOG_USEC); 0 = no watchdog */
    int watchdog_withheld;  /* a loop was found wedged and the ping withheld; said once */
    /* A reload replaces listeners (and every TLS listener's SSL_CTX) under listeners_lock and
     * counts listeners_generation up; each loop then, at the end of its iteration, dup()s the
     * new sockets, closes its copies of those gone, takes a reference to the new SSL_CTXs
     * and drops the old. A connection's SSL holds its own reference (SSL_new), so one
     * accepted before finishes on the old pair whoever frees it first. */
    pthread_mutex_t listeners_lock;
    atomic_uint listeners_generation;
    uint64_t last_listener_id; /* main thread only */
    /* listening sockets handed over at start (socket activation, server_listen_fds): each
     * taken by the configured listener with its address and port; -1 once taken */
    int inherited[SERVER_MAX_INHERITED_FDS];
    size_t n_inherited;
} server;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- systemd ------------------------------------------------------------------------- */

/* Tells the service manager (sd_notify(3)); nothing without NOTIFY_SOCKET, or in a build
 * without libsystemd. */
static void notify(const char *state)
{
#ifdef HOOKGATE_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* WatchdogSec= in milliseconds, when the service manager set one for this process. */
static int64_t watchdog_interval_ms(void)
{
#ifdef HOOKGATE_HAVE_SYSTEMD
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 4000)
        return (int64_t)(usec / 1000);
#endif
    return 0;
}

int server_loops_alive(const int64_t *beats_ms, size_t n, int64_t now, int64_t max_age_ms)
{
    for (size_t i = 0; i < n; i++)
        if (now - beats_ms[i] > max_age_ms)
            return (int)i;
    return -1;
}

/* ---- listeners ----------------------------------------------------------------------- */

static SSL_CTX *tls_create(const config_listener *l, const h2o_iovec_t *alpn)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_certificate) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        log_error("tls for %s:%u (%s, %s): %s", l->address, l->port, l->tls_certificate, l->tls_key, buf);
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, alpn);
    return ctx;
}

int server_check_tls(const config *cfg)
{
    int rc = 0;
    for (int grpc = 0; grpc < 2; grpc++) {
        const config_listener *ls = grpc ? cfg->grpc_listeners : cfg->listeners;
        size_t n = grpc ? cfg->n_grpc_listeners : cfg->n_listeners;
        for (size_t i = 0; i < n; i++) {
            if (ls[i].tls_certificate == NULL)
                continue;
            SSL_CTX *ctx = tls_create(&ls[i], grpc ? grpc_alpn_protocols : h2o_alpn_protocols);
            if (ctx == NULL)
                rc = -1; /* tls_create said why */
            SSL_CTX_free(ctx);
        }
    }
    return rc;
}

/* l's address and port as a socket address; 0 for its length when the address is not numeric */
static socklen_t listener_sockaddr(const config_listener *l, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, l->address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(l->port);
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, l->address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(l->port);
        return sizeof(*v6);
    }
    return 0;
}

/* 1 when the socket address a is the address and port b (family, port, address; nothing else) */
static int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return a->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

int server_listen_fds(const char *listen_pid, const char *listen_fds, long self)
{
    if (listen_pid == NULL || listen_fds == NULL)
        return 0;
    char *end;
    errno = 0;
    long pid = strtol(listen_pid, &end, 10);
    if (errno != 0 || end == listen_pid || *end != '\0' || pid != self)
        return 0; /* meant for another process (a parent that did not clear them) */
    long n = strtol(listen_fds, &end, 10);
    if (errno != 0 || end == listen_fds || *end != '\0' || n < 0 || n > SERVER_MAX_INHERITED_FDS)
        return -1;
    return (int)n;
}

/* Socket activation: takes the listening sockets the service manager (or the process that
 * started this one) handed over, fds 3 and up, and clears the variables so that nothing
 * started from here takes them for its own. The same code with and without libsystemd:
 * sd_listen_fds does no more than this, and this way the tests cover the path a build
 * without it takes. -1 (logged) when LISTEN_FDS is out of range. */
static int inherited_take(server *s)
{
    const char *fds = getenv("LISTEN_FDS");
    int n = server_listen_fds(getenv("LISTEN_PID"), fds, (long)getpid());
    if (n < 0) {
        log_error("LISTEN_FDS=%s: not a count of 0 to %d sockets", fds, SERVER_MAX_INHERITED_FDS);
        return -1;
    }
    if (n > 0) { /* ours: taken */
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }
    for (int i = 0; i < n; i++) {
        int fd = SERVER_LISTEN_FDS_START + i;
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
            log_error("LISTEN_FDS=%d, but fd %d is not open", n, fd);
            return -1;
        }
        s->inherited[s->n_inherited++] = fd;
    }
    return 0;
}

/* The inherited socket that is l (a listening TCP socket bound to its address and port),
 * taken; -1 when none is. */
static int inherited_match(server *s, const config_listener *l)
{
    struct sockaddr_storage want;
    if (listener_sockaddr(l, &want) == 0)
        return -1;
    for (size_t i = 0; i < s->n_inherited; i++) {
        struct sockaddr_storage have;
        socklen_t len = sizeof(have);
        int type = 0, listening = 0;
        socklen_t tlen = sizeof(type), llen = sizeof(listening);
        int fd = s->inherited[i];
        if (fd < 0 || getsockname(fd, (struct sockaddr *)&have, &len) != 0 || !same_sockaddr(&have, &want) ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) != 0 || !listening)
            continue;
        s->inherited[i] = -1;
        return fd;
    }
    return -1;
}

/* Inherited sockets no configured listener took: said and closed (a service manager keeps
 * its own copy; a socket unit that names more than the configuration is a mistake to see). */
static void inherited_close_unused(server *s)
{
    for (size_t i = 0; i < s->n_inherited; i++) {
        if (s->inherited[i] < 0)
            continue;
        log_error("WARNING: inherited socket (fd %d) matches no listener of the configuration (by address and "
                  "port); it is closed",
                  s->inherited[i]);
        close(s->inherited[i]);
        s->inherited[i] = -1;
    }
}

static int listener_open(const config_listener *l)
{
    struct sockaddr_storage ss;
    socklen_t len = listener_sockaddr(l, &ss);
    if (len == 0) {
        log_error("%s is not a numeric address", l->address);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SERVER_BACKLOG) != 0) {
        log_error("cannot listen on %s:%u: %s", l->address, l->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* ---- loop threads -------------------------------------------------------------------- */

static void on_connection_close(void *data)
{
    server_conn *sc = data;
    loop_thread *t = sc->thread;
    connlimit_release(t->server->places, &sc->place);
    t->open_connections--;
    metrics_connection(-1);
    free(sc);
}

void server_connection_seen(h2o_socket_t *sock)
{
    if (sock == NULL)
        return;
    server_conn *sc = sock->on_close.cb == on_connection_close ? sock->on_close.data
                                                                : h2guard_close_data(sock, on_connection_close);
    if (sc == NULL || sc->seen)
        return;
    sc->seen = 1;
    connlimit_seen(sc->thread->server->places, &sc->place);
}

/* Closes this loop's connections that connlimit chose to make room. A connection may be in
 * h2o's HTTP/1.1 or HTTP/2 code, the guard's or gRPC's, any of which may hold it: a
 * shutdown makes each see the end of its input and close it through its own path. */
static void evict_chosen(loop_thread *t)
{
    connlimit_conn *chosen[64];
    size_t n;
    do {
        n = connlimit_take_evicted(t->server->places, t->index, chosen, 64);
        for (size_t i = 0; i < n; i++) {
            server_conn *sc = (server_conn *)chosen[i];
            shutdown(h2o_socket_get_fd(sc->sock), SHUT_RDWR);
            metrics_connection_evicted();
        }
    } while (n == 64);
}

static void on_accept(h2o_socket_t *listen_sock, const char *err);

static void on_accept_resume(h2o_timeout_entry_t *entry)
{
    loop_thread *t = H2O_STRUCT_FROM_MEMBER(loop_thread, accept_resume, entry);
    for (size_t i = 0; i < t->n_listeners; i++)
        h2o_socket_read_start(t->listeners[i].sock, on_accept);
}

/* accept() found no descriptor (or no kernel memory) for a waiting connection. The listener
 * stays readable, so trying again at once would spin the loop until a descriptor frees
 * up: this loop stops accepting for SERVER_ACCEPT_PAUSE_MS instead (as nginx does), and
 * the waiting connections stay in the backlog. One line is logged per shortage, not per
 * pause; hookgate_accept_pauses_total counts the pauses. */
static void accept_pause(loop_thread *t, int error)
{
    if (h2o_timeout_is_linked(&t->accept_resume))
        return;
    for (size_t i = 0; i < t->n_listeners; i++)
        h2o_socket_read_stop(t->listeners[i].sock);
    if (!t->accept_pause_ready) { /* set up on the loop at the first pause (see idle_timeout in grpc.c) */
        h2o_timeout_init(t->ctx.loop, &t->accept_pause, SERVER_ACCEPT_PAUSE_MS);
        t->accept_pause_ready = 1;
    }
    h2o_timeout_link(t->ctx.loop, &t->accept_pause, &t->accept_resume);
    metrics_accept_paused();
    if (atomic_exchange(&t->server->fd_shortage, 1) == 0)
        log_error("cannot accept a connection: %s; accepting pauses for %d ms at a time until it can "
                  "(connections wait in the listen backlog)",
                  strerror(error), SERVER_ACCEPT_PAUSE_MS);
}

static void on_accept(h2o_socket_t *listen_sock, const char *err)
{
    loop_listener *ll = listen_sock->data;
    loop_thread *t = ll->thread;
    server *s = t->server;
    if (err != NULL)
        return;
    for (int i = 0; i < SERVER_ACCEPT_BATCH; i++) {
        errno = 0;
        h2o_socket_t *sock = h2o_evloop_socket_accept(listen_sock);
        if (sock == NULL) { /* h2o_evloop_socket_accept leaves accept4's errno */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(t, errno);
            return;
        }
        if (atomic_load_explicit(&s->fd_shortage, memory_order_relaxed) && atomic_exchange(&s->fd_shortage, 0))
            log_info("accepting connections again");
        struct sockaddr_storage peer;
        server_conn *sc = malloc(sizeof(*sc));
        unsigned victim_loop = 0;
        connlimit_verdict v = CONNLIMIT_NO_ADDRESS;
        if (sc != NULL && h2o_socket_getpeername(sock, (struct sockaddr *)&peer) != 0)
            v = connlimit_admit(s->places, &sc->place, (struct sockaddr *)&peer, t->index, h2o_now(t->ctx.loop),
                                &victim_loop);
        if (v != CONNLIMIT_ADMITTED && v != CONNLIMIT_EVICTING) {
            /* accepted only to be closed, so the backlog does not fill */
            if (v == CONNLIMIT_FULL || v == CONNLIMIT_ADDRESS_FULL)
                metrics_connection_refused(v == CONNLIMIT_ADDRESS_FULL);
            free(sc);
            h2o_socket_close(sock);
            continue;
        }
        if (v == CONNLIMIT_EVICTING) {
            if (victim_loop == t->index)
                evict_chosen(t);
            else if (atomic_exchange(&s->threads[victim_loop].evict_pending, 1) == 0)
                h2o_multithread_send_message(&s->threads[victim_loop].wake, NULL);
        }
        sc->thread = t;
        sc->sock = sock;
        sc->seen = 0;
        t->open_connections++;
        metrics_connection(1);
        if (ll->grpc) {
            sock->on_close.cb = on_connection_close;
            sock->on_close.data = sc;
            grpc_accept(&t->grpc, sock, ll->accept_ctx.ssl_ctx);
        } else {
            const config *cfg = core_config_now(t->core);
            h2guard_accept(&ll->accept_ctx, sock, cfg->limits.resets_per_second_per_connection, on_connection_close,
                           sc);
        }
    }
}

static void on_wake(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    /* never called: h2o calls a receiver only for messages, and wake gets none; the write
     * to the queue's pipe is what makes h2o_evloop_run return to loop_main */
    (void)receiver, (void)messages;
}

/* The watchdog's tick: makes an idle loop go round, so that its beat says it can. */
static void on_beat(h2o_timeout_entry_t *entry)
{
    loop_thread *t = H2O_STRUCT_FROM_MEMBER(loop_thread, beat_entry, entry);
    h2o_timeout_link(t->ctx.loop, &t->beat_period, &t->beat_entry);
}

/* Makes this loop's listeners the server's (server.listeners_lock held): keeps its copy of
 * each listener still there, dup()s the new ones and closes its copies of those gone (the
 * connections they accepted go on), and swaps SSL_CTX references where a reload put in new
 * ones: new handshakes on this loop use them from now on, and each replaced one is freed
 * once the last connection that shook hands with it is gone. Runs on the loop's own thread
 * (see loop_setup). A listener this loop cannot dup() (no descriptor) is left to the other
 * loops, with a log line. */
static void loop_listeners_refresh(loop_thread *t)
{
    server *s = t->server;
    loop_listener was[2 * CONFIG_MAX_LISTENERS];
    size_t n_was = t->n_listeners;
    int kept[2 * CONFIG_MAX_LISTENERS] = {0};
    HG_ASSERT(n_was <= 2 * CONFIG_MAX_LISTENERS && s->n_listeners <= 2 * CONFIG_MAX_LISTENERS);
    memcpy(was, t->listeners, n_was * sizeof(was[0]));
    t->listeners_generation = atomic_load(&s->listeners_generation);
    t->n_listeners = 0;
    for (size_t i = 0; i < s->n_listeners; i++) {
        const listener *li = &s->listeners[i];
        loop_listener *ll = &t->listeners[t->n_listeners];
        size_t j = 0;
        while (j < n_was && was[j].id != li->id)
            j++;
        if (j < n_was) {
            *ll = was[j];
            kept[j] = 1;
        } else {
            int fd = dup(li->fd);
            if (fd < 0) {
                log_error("event loop %u cannot take the listener on %s:%u: dup: %s", t->index, li->address, li->port,
                          strerror(errno));
                continue;
            }
            memset(ll, 0, sizeof(*ll));
            ll->thread = t;
            ll->id = li->id;
            ll->accept_ctx.ctx = &t->ctx;
            ll->accept_ctx.hosts = s->globalconf.hosts;
            ll->accept_ctx.ssl_ctx = NULL;
            ll->sock = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
            if (!h2o_timeout_is_linked(&t->accept_resume)) /* else on_accept_resume starts it */
                h2o_socket_read_start(ll->sock, on_accept);
        }
        ll->grpc = li->grpc;
        if (ll->accept_ctx.ssl_ctx != li->ssl_ctx) {
            if (li->ssl_ctx != NULL)
                SSL_CTX_up_ref(li->ssl_ctx);
            SSL_CTX_free(ll->accept_ctx.ssl_ctx); /* NULL is allowed */
            ll->accept_ctx.ssl_ctx = li->ssl_ctx;
        }
        t->n_listeners++;
    }
    for (size_t i = 0; i < t->n_listeners; i++)
        t->listeners[i].sock->data = &t->listeners[i]; /* they may have moved */
    for (size_t j = 0; j < n_was; j++) {
        if (kept[j])
            continue;
        h2o_socket_read_stop(was[j].sock);
        h2o_socket_close(was[j].sock);
        SSL_CTX_free(was[j].accept_ctx.ssl_ctx);
    }
}

static void on_store_tick(void *arg)
{
    loop_thread *t = arg;
    core_loop_tick(t->core, t->index);
}

/* Builds the loop's context and listening sockets. This must run on the loop's own
 * thread: h2o 2.2.5 takes a socket's buffers from a per-thread free list (the __thread
 * h2o_socket_buffer_prototype) of the thread that created the socket, and returns them
 * there; sockets made on the main thread would make every loop share the main thread's
 * list without a lock. */
static int loop_setup(loop_thread *t)
{
    server *s = t->server;
    h2o_context_init(&t->ctx, h2o_evloop_create(), &s->globalconf);
    outflow_loop_init(t->ctx.loop, core_config_now(t->core)->write_timeout_ms);
    h2o_multithread_register_receiver(t->ctx.queue, &t->wake, on_wake);
    atomic_store(&t->beat_ms, now_ms());
    if (s->watchdog_ms > 0) {
        h2o_timeout_init(t->ctx.loop, &t->beat_period, (uint64_t)(s->watchdog_ms / 4));
        t->beat_entry.cb = on_beat;
        h2o_timeout_link(t->ctx.loop, &t->beat_period, &t->beat_entry);
    }
    t->accept_resume.cb = on_accept_resume;
    grpc_context_init(&t->grpc, t->core, t->ctx.loop, t->ctx.queue);
    storepoll_init(&t->store, t->ctx.loop, on_store_tick, t);
    core_loop_start(t->core, t->index, &t->store.poller);
    t->grpc.handshake = &t->ctx.handshake_timeout; /* server.handshake_timeout_ms, as on the HTTP listeners */
    pthread_mutex_lock(&s->listeners_lock);
    loop_listeners_refresh(t);
    int all = t->n_listeners == s->n_listeners;
    pthread_mutex_unlock(&s->listeners_lock);
    return all ? 0 : -1; /* at start, every loop takes every listener */
}

static void *loop_main(void *arg)
{
    loop_thread *t = arg;
    t->setup_rc = loop_setup(t);
    sem_post(&t->ready);
    if (t->setup_rc != 0)
        return NULL;
    server *s = t->server;
    h2o_evloop_t *loop = t->ctx.loop;

    /* access-log lines go out once per loop iteration, not once per request; the end of an
     * iteration is also where this loop holds no configuration snapshot (core_quiescent) */
    accesslog_batch();
    while (!atomic_load(&s->stopping)) {
        h2o_evloop_run(loop, INT32_MAX);
        atomic_store_explicit(&t->beat_ms, now_ms(), memory_order_relaxed);
        accesslog_flush();
        if (atomic_load_explicit(&t->evict_pending, memory_order_relaxed) && atomic_exchange(&t->evict_pending, 0))
            evict_chosen(t);
        if (atomic_load_explicit(&s->listeners_generation, memory_order_relaxed) != t->listeners_generation) {
            pthread_mutex_lock(&s->listeners_lock);
            loop_listeners_refresh(t);
            pthread_mutex_unlock(&s->listeners_lock);
        }
        core_quiescent(t->core, t->index);
    }

    /* stop accepting, tell HTTP/2 peers (GOAWAY), let requests in flight finish */
    if (h2o_timeout_is_linked(&t->accept_resume))
        h2o_timeout_unlink(&t->accept_resume);
    if (h2o_timeout_is_linked(&t->beat_entry))
        h2o_timeout_unlink(&t->beat_entry);
    for (size_t i = 0; i < t->n_listeners; i++) {
        h2o_socket_read_stop(t->listeners[i].sock);
        h2o_socket_close(t->listeners[i].sock);
    }
    h2o_context_request_shutdown(&t->ctx);
    grpc_context_request_shutdown(&t->grpc);
    int64_t deadline = now_ms() + SERVER_STOP_DEADLINE_MS;
    while (t->open_connections > 0 && now_ms() < deadline) {
        h2o_evloop_run(loop, 50);
        accesslog_flush();
        core_quiescent(t->core, t->index);
    }
    core_loop_stop(t->core, t->index); /* the store's calls of this loop answered or failed */
    storepoll_dispose(&t->store);
    accesslog_flush();
    /* The context is not disposed: connections past the deadline still reference it, and
     * the process exits right after the loops end. */
    return NULL;
}

/* Starts a loop thread and waits until its setup is done; -1 if it failed. */
static int thread_start(server *s, loop_thread *t, core *c)
{
    t->server = s;
    t->core = c;
    t->index = (unsigned)(t - s->threads);
    sem_init(&t->ready, 0, 0);
    if (pthread_create(&t->tid, NULL, loop_main, t) != 0) {
        log_error("cannot start a thread");
        return -1;
    }
    sem_wait(&t->ready);
    sem_destroy(&t->ready);
    if (t->setup_rc != 0) {
        pthread_join(t->tid, NULL);
        return -1;
    }
    return 0;
}

/* ---- the server ---------------------------------------------------------------------- */

size_t server_thread_count(const config *cfg)
{
    if (cfg->threads > 0)
        return cfg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > CONFIG_MAX_THREADS ? CONFIG_MAX_THREADS : (size_t)n;
}

/* "listening on <scheme>://<address>:<port><why>" for li (an IPv6 address in brackets), at
 * start-up and for a listener a reload adds. */
static void say_listening(const listener *li, const char *why)
{
    int v6 = strchr(li->address, ':') != NULL;
    log_info("listening on %s%s://%s%s%s:%u%s", li->grpc ? "grpc" : "http", li->ssl_ctx != NULL ? "s" : "",
             v6 ? "[" : "", li->address, v6 ? "]" : "", li->port, why);
}

/* Binds one configured listener into s; -1 (with a message) when it cannot. */
static int listener_add(server *s, const config_listener *l, int grpc)
{
    listener *li = &s->listeners[s->n_listeners];
    li->grpc = grpc;
    li->ssl_ctx = NULL;
    memcpy(li->address, l->address, sizeof(li->address));
    li->port = l->port;
    li->id = ++s->last_listener_id;
    if (l->tls_certificate != NULL &&
        (li->ssl_ctx = tls_create(l, grpc ? grpc_alpn_protocols : h2o_alpn_protocols)) == NULL)
        return -1;
    int inherited = (li->fd = inherited_match(s, l)) >= 0;
    if (!inherited && (li->fd = listener_open(l)) < 0) {
        SSL_CTX_free(li->ssl_ctx);
        return -1;
    }
    s->n_listeners++;
    say_listening(li, inherited ? " (an inherited socket)" : "");
    return 0;
}

size_t server_connection_cap(uint64_t fd_limit, size_t fds_open, size_t fds_later, size_t n_threads,
                             size_t max_connections)
{
    /* each loop may hold one descriptor of a connection it accepted only to close */
    uint64_t kept = (uint64_t)fds_open + fds_later + JOURNAL_MAX_EXTRA_FDS + SERVER_FD_SPARE + n_threads +
                    CONNLIMIT_EVICT_SLACK;
    if (fd_limit <= kept)
        return 0;
    return fd_limit - kept < max_connections ? (size_t)(fd_limit - kept) : max_connections;
}

/* Raises the soft RLIMIT_NOFILE to the hard one (the soft one is often 1024, far below
 * server.max_connections); returns the soft limit now. */
static uint64_t fd_limit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return UINT64_MAX;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* Descriptors open in this process (0 when /proc cannot tell). */
static size_t fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/* Once every loop holds its descriptors: lowers the connection cap to what the descriptor
 * limit leaves after what the process holds and what the store and the accept path still
 * need, so that connections can never take the journal's next file. Refuses to start (-1)
 * when not one connection fits. */
#define SERVER_DB_WORKERS 2 /* the PostgreSQL event log's workers (backend_postgres.c): a connection each */

static int fd_budget(server *s, const config *cfg, uint64_t fd_limit)
{
    size_t open = fd_count();
    /* what is opened later: every outbound call that may be in flight (invokes, and event
     * deliveries), and the database connections (some may be open already: counted twice,
     * on the safe side) */
    size_t later = ((size_t)cfg->delivery.max_concurrent_invokes + cfg->delivery.max_in_flight) * SERVER_FDS_PER_INVOKE +
                   (cfg->store_pg_conninfo != NULL
                        ? (s->n_threads * cfg->store_pg_connections + SERVER_DB_WORKERS) * SERVER_FDS_PER_DB_CONNECTION +
                              SERVER_DB_WORKERS * 2 /* each worker's wake-up pipe */
                        : 0);
    size_t cap = server_connection_cap(fd_limit, open, later, s->n_threads, cfg->max_connections);
    if (cap == 0) {
        log_error("the file descriptor limit (%llu) leaves no room for a connection: %zu are open and "
                  "%zu more are kept for outbound calls, the store and the accept path; raise it (ulimit -n, "
                  "systemd LimitNOFILE=) or lower delivery.max_concurrent_invokes and delivery.max_in_flight",
                  (unsigned long long)fd_limit, open,
                  later + JOURNAL_MAX_EXTRA_FDS + SERVER_FD_SPARE + s->n_threads + CONNLIMIT_EVICT_SLACK);
        return -1;
    }
    if (cap < cfg->max_connections) {
        connlimit_set_max(s->places, cap);
        log_error("WARNING: the file descriptor limit (%llu) allows %zu connections, not "
                  "server.max_connections (%u): the cap is %zu; raise the limit (ulimit -n, systemd LimitNOFILE=) "
                  "or lower max_connections",
                  (unsigned long long)fd_limit, cap, cfg->max_connections, cap);
    }
    return 0;
}

/* ---- reloading ----------------------------------------------------------------------- */

/* A reload's listeners, prepared before anything running changes. */
typedef struct listeners_next {
    listener l[2 * CONFIG_MAX_LISTENERS]; /* next's listeners, HTTP ones then gRPC ones */
    size_t n;
    int kept[2 * CONFIG_MAX_LISTENERS]; /* per running listener: 1 when one of l takes its socket over */
} listeners_next;

/* Frees what listeners_prepare built: SSL_CTXs, and the sockets it bound itself. */
static void listeners_discard(listeners_next *out)
{
    for (size_t i = 0; i < out->n; i++) {
        SSL_CTX_free(out->l[i].ssl_ctx);
        if (out->l[i].id == 0)
            close(out->l[i].fd);
    }
}

/* A reload's first half for listeners: next's listeners, in out. One with the address and
 * port of a running one takes its socket over (whether HTTP or gRPC, TLS or not), so its
 * connections and backlog stay; the others are bound now. Every TLS listener's certificate
 * and key are read again (even when their paths did not change: rotation usually replaces
 * the files in place). Nothing running changes. Returns 0, or -1 when a listener cannot be
 * bound or a pair does not load (listener_open or tls_create logged why), having freed what
 * it built. */
static int listeners_prepare(const server *s, const config *next, listeners_next *out)
{
    memset(out, 0, sizeof(*out));
    for (int grpc = 0; grpc < 2; grpc++) {
        const config_listener *ls = grpc ? next->grpc_listeners : next->listeners;
        size_t n = grpc ? next->n_grpc_listeners : next->n_listeners;
        for (size_t k = 0; k < n; k++) {
            const config_listener *l = &ls[k];
            HG_ASSERT(out->n < 2 * CONFIG_MAX_LISTENERS); /* config_load: at most that many of each kind */
            listener *nl = &out->l[out->n];
            memset(nl, 0, sizeof(*nl));
            nl->grpc = grpc;
            memcpy(nl->address, l->address, sizeof(nl->address));
            nl->port = l->port;
            if (l->tls_certificate != NULL &&
                (nl->ssl_ctx = tls_create(l, grpc ? grpc_alpn_protocols : h2o_alpn_protocols)) == NULL)
                goto fail;
            size_t i = 0;
            while (i < s->n_listeners && (out->kept[i] || s->listeners[i].port != l->port ||
                                          strcmp(s->listeners[i].address, l->address) != 0))
                i++;
            if (i < s->n_listeners) {
                out->kept[i] = 1;
                nl->fd = s->listeners[i].fd;
                nl->id = s->listeners[i].id;
            } else if ((nl->fd = listener_open(l)) < 0) {
                SSL_CTX_free(nl->ssl_ctx);
                goto fail;
            } /* id 0 until listeners_commit: bound by this reload */
            out->n++;
        }
    }
    return 0;
fail:
    listeners_discard(out);
    return -1;
}

/* The second half, once the core took the configuration: out's listeners replace the
 * running ones (the sockets of those gone are closed once every loop closed its copy), and
 * the loops take them at the end of their iteration (loop_listeners_refresh). */
static void listeners_commit(server *s, listeners_next *out)
{
    pthread_mutex_lock(&s->listeners_lock);
    for (size_t i = 0; i < s->n_listeners; i++) {
        listener *li = &s->listeners[i];
        SSL_CTX_free(li->ssl_ctx); /* the server's reference; loops and connections hold theirs */
        if (out->kept[i])
            continue;
        int v6 = strchr(li->address, ':') != NULL;
        log_info("no longer listening on %s%s%s:%u (removed by the reload; its open connections go on)",
                 v6 ? "[" : "", li->address, v6 ? "]" : "", li->port);
        close(li->fd);
    }
    for (size_t i = 0; i < out->n; i++) {
        listener *nl = &out->l[i];
        if (nl->id == 0) {
            nl->id = ++s->last_listener_id;
            say_listening(nl, " (added by the reload)");
        }
        s->listeners[i] = *nl;
    }
    s->n_listeners = out->n;
    atomic_fetch_add(&s->listeners_generation, 1);
    pthread_mutex_unlock(&s->listeners_lock);
}

/* SIGHUP: the configuration read again (load), its listeners prepared, then handed to the
 * core and only then put in place, so that a reload is taken whole or not at all. */
static void server_reload(server *s, core *c, config *(*load)(void *arg), void *load_arg)
{
    config *next = load(load_arg);
    if (next == NULL)
        return; /* load said why */
    static listeners_next fresh; /* the main thread's alone; large for its stack */
    if (listeners_prepare(s, next, &fresh) != 0) {
        log_error("reload refused, the running configuration stays: a listener cannot be bound or a TLS "
                  "certificate or key does not load (the line above says which); the running listeners and "
                  "pairs stay in use");
        config_destroy(next);
        return;
    }
    size_t n_accounts = next->n_accounts;
    char err[CONFIG_ERROR_MAX];
    if (core_reload(c, next, err, sizeof(err)) != 0) { /* frees next */
        listeners_discard(&fresh);
        log_error("reload refused, the running configuration stays: %s", err);
        return;
    }
    listeners_commit(s, &fresh);
    log_info("reloaded the configuration: %zu account(s); limits and tokens apply to new requests, listeners "
             "and TLS certificates to new connections",
             n_accounts);
}

/* Pings the watchdog when every loop went round within half its interval. A loop that did
 * not (wedged in a handler, say) stops the pings, and the service manager restarts the
 * service once the interval has passed without one. */
static void watchdog_ping(server *s, int64_t now)
{
    int64_t beats[CONFIG_MAX_THREADS];
    HG_ASSERT(s->n_threads <= CONFIG_MAX_THREADS);
    for (size_t i = 0; i < s->n_threads; i++)
        beats[i] = atomic_load_explicit(&s->threads[i].beat_ms, memory_order_relaxed);
    int stale = server_loops_alive(beats, s->n_threads, now, s->watchdog_ms / 2);
    if (stale < 0) {
        notify("WATCHDOG=1");
        if (s->watchdog_withheld)
            log_info("every event loop goes round again: the watchdog is pinged again");
        s->watchdog_withheld = 0;
    } else if (!s->watchdog_withheld) {
        s->watchdog_withheld = 1;
        log_error("event loop %d has not gone round for %lld ms: the systemd watchdog is no longer pinged", stale,
                  (long long)(now - beats[stale]));
    }
}

/* Waits for one of the signals in set and returns it (-1 on an error); with a watchdog,
 * pings it every half interval meanwhile (watchdog_ping). */
static int signal_wait(server *s, const sigset_t *set, int64_t *last_ping)
{
    for (;;) {
        if (s->watchdog_ms == 0) {
            int sig;
            return sigwait(set, &sig) == 0 ? sig : -1;
        }
        int64_t now = now_ms(), wait = *last_ping + s->watchdog_ms / 2 - now;
        if (wait <= 0) {
            watchdog_ping(s, now);
            *last_ping = now;
            continue;
        }
        struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

int server_run(const config *cfg, core *c, config *(*load)(void *arg), void *load_arg)
{
    static server s; /* its address is the globalconf every context points at */
    int rc = -1;
    if (!h2guard_interposed()) {
        log_error("libh2o's HPACK decoder does not call hookgate's h2o_hpack_parse_headers and h2o_strtosize "
                  "(server/net/h2guard.c): was libh2o-evloop linked with -Bsymbolic, or hookgate statically?");
        return -1;
    }
    pthread_mutex_init(&s.listeners_lock, NULL);
    uint64_t fd_limit = fd_limit_raise();
    h2o_config_init(&s.globalconf);
    s.globalconf.server_name = h2o_iovec_init(H2O_STRLIT(""));
    s.globalconf.max_request_entity_size = http_h2o_entity_limit(&cfg->limits);
    s.globalconf.http2.graceful_shutdown_timeout = SERVER_HTTP2_GOAWAY_TIMEOUT_MS;
    /* clients that do not read: what their answers may hold, and for how long (outflow.h) */
    outflow_configure(cfg->max_connection_output_bytes, cfg->max_buffered_bytes);
    cors_configure(cfg);
    webconsole_configure(cfg);
    /* slow clients: a request must arrive whole, a connection must keep talking */
    s.globalconf.http1.req_timeout = cfg->request_timeout_ms;
    s.globalconf.http2.idle_timeout = cfg->idle_timeout_ms;
    s.globalconf.handshake_timeout = cfg->handshake_timeout_ms;
    /* HTTP/2 only through h2guard: prior knowledge or ALPN, never h2o's own Upgrade: h2c */
    s.globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&s.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    http_router_register(host, c);

    if (inherited_take(&s) != 0)
        goto out;
    for (size_t i = 0; i < cfg->n_listeners; i++)
        if (listener_add(&s, &cfg->listeners[i], 0) != 0)
            goto out;
    for (size_t i = 0; i < cfg->n_grpc_listeners; i++)
        if (listener_add(&s, &cfg->grpc_listeners[i], 1) != 0)
            goto out;
    inherited_close_unused(&s);

    s.n_threads = server_thread_count(cfg);
    s.watchdog_ms = watchdog_interval_ms();
    s.threads = calloc(s.n_threads, sizeof(*s.threads));
    s.places = connlimit_create(cfg->max_connections, cfg->max_connections_per_address, cfg->idle_eviction_ms,
                                (unsigned)s.n_threads);
    if (s.threads == NULL || s.places == NULL)
        goto out;
    core_set_loops(c, (unsigned)s.n_threads);
    size_t started = 0;
    for (; started < s.n_threads; started++)
        if (thread_start(&s, &s.threads[started], c) != 0)
            break;
    if (started == s.n_threads && fd_budget(&s, cfg, fd_limit) == 0) {
        log_info("%zu event loop thread(s)", s.n_threads);
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGHUP);
        sigaddset(&signals, SIGUSR1);
        /* every listener is bound and the store loaded (main opened it before): ready */
        notify("READY=1\nSTATUS=serving");
        int sig;
        int64_t last_ping = 0; /* a first ping at once */
        while ((sig = signal_wait(&s, &signals, &last_ping)) == SIGHUP || sig == SIGUSR1) {
            if (sig == SIGUSR1) {
                char err[LOG_ERROR_MAX];
                if (log_reopen(err) != 0)
                    log_error("SIGUSR1: cannot reopen a log file, it stays as it was: %s", err);
                else
                    log_info("SIGUSR1 received, log files reopened");
                continue;
            }
            log_info("SIGHUP received, reloading the configuration");
            notify("RELOADING=1\nSTATUS=reloading");
            server_reload(&s, c, load, load_arg);
            notify("READY=1\nSTATUS=serving");
            /* every loop passes a quiescent point soon, so the replaced configuration goes */
            for (size_t i = 0; i < started; i++)
                h2o_multithread_send_message(&s.threads[i].wake, NULL);
        }
        log_info("%s received, stopping", sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "no signal");
        notify("STOPPING=1\nSTATUS=stopping: requests in flight finish");
        rc = sig > 0 ? 0 : -1;
    }
    atomic_store(&s.stopping, 1);
    for (size_t i = 0; i < started; i++)
        h2o_multithread_send_message(&s.threads[i].wake, NULL);
    for (size_t i = 0; i < started; i++)
        pthread_join(s.threads[i].tid, NULL);
    if (rc == 0)
        log_info("stopped");

out:
    for (size_t i = 0; i < s.n_listeners; i++) {
        close(s.listeners[i].fd);
        /* SSL contexts stay: connections cut at the deadline may still hold them */
    }
    return rc;
}
