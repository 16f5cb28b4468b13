/* server: hookgate's listeners and event loops — one h2o loop per thread, TLS with ALPN,
 * a reload on SIGHUP, log files reopened on SIGUSR1, a graceful stop on SIGTERM/SIGINT, and
 * systemd's readiness and watchdog notifications (sd_notify) when built with libsystemd.
 *
 * Promises: listeners are bound before server_run returns control to the loops (a port in
 * use fails start-up with a message); on a stop signal no new connection is accepted,
 * requests in flight complete, and server_run returns within SERVER_STOP_DEADLINE_MS. */
#ifndef HOOKGATE_SERVER_H
#define HOOKGATE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "config.h"
#include "core.h"

#define SERVER_STOP_DEADLINE_MS 3500 /* longest a stop waits for open connections */
#define SERVER_FD_SPARE 8 /* descriptors kept free besides the connections' and the store's: a reload's \
                             configuration file, the count of open descriptors itself */
#define SERVER_FDS_PER_INVOKE 3 /* an outbound call's socket and its resolver's pair (libcurl's threaded one) */
#define SERVER_FDS_PER_DB_CONNECTION 2 /* a PostgreSQL connection's socket and the loop's watch on it */
#define SERVER_LISTEN_FDS_START 3 /* socket activation: the first inherited socket (SD_LISTEN_FDS_START) */
#define SERVER_MAX_INHERITED_FDS (2 * CONFIG_MAX_LISTENERS) /* one per listener, HTTP and gRPC */

/* The event loops server_run starts for cfg: server.threads, or when it is 0 one per
 * online CPU (at least 1, at most CONFIG_MAX_THREADS). */
size_t server_thread_count(const config *cfg);

/* Serves until SIGTERM or SIGINT. On SIGHUP calls load(load_arg) on the main thread for
 * the configuration to reload (NULL, having logged why: nothing changes), reads every TLS
 * listener's certificate and key again, and hands the configuration to the core
 * (core_reload): all of it is taken, or none (a pair that does not load refuses the
 * reload with a log line); new TLS handshakes use the new pairs, connections already open
 * keep theirs. On SIGUSR1 reopens the log files (log_reopen). The caller must have blocked
 * those four signals (and ignored SIGPIPE) before any thread starts. Returns 0 after a
 * clean stop, -1 (with a message on stderr) when start-up fails. */
int server_run(const config *cfg, core *c, config *(*load)(void *arg), void *load_arg);

/* The watchdog's test (server_run pings systemd's watchdog only while it passes): the
 * index of the first of the n loops whose last beat is more than max_age_ms before now,
 * or -1 when every loop went round within it. */
int server_loops_alive(const int64_t *beats_ms, size_t n, int64_t now, int64_t max_age_ms);

/* The connection cap a process can keep: max_connections, or less when the descriptor
 * limit fd_limit, after the fds_open descriptors held, the fds_later it may open after
 * start-up (outbound calls, database connections), the store's spare ones and the accept
 * path's (which grow with n_threads), leaves less; 0 when not one connection fits. */
size_t server_connection_cap(uint64_t fd_limit, size_t fds_open, size_t fds_later, size_t n_threads,
                             size_t max_connections);

/* Socket activation's variables (sd_listen_fds(3)): the number of listening sockets handed
 * over from fd SERVER_LISTEN_FDS_START on, when listen_pid is this process's (self); 0 when
 * either is NULL or listen_pid names another process; -1 when listen_fds is not a number
 * from 0 to SERVER_MAX_INHERITED_FDS. server_run gives each inherited socket to the
 * configured listener with its address and port (binding the others itself), and closes,
 * with a warning, those none takes. */
int server_listen_fds(const char *listen_pid, const char *listen_fds, long self);

/* sock, an accepted connection's socket (or NULL), has brought a whole request: it is no
 * longer among the first to be closed when the connection cap is full (connlimit.h).
 * Called by the HTTP router and the native gRPC transport for each request; a socket the
 * server did not accept is ignored. */
void server_connection_seen(h2o_socket_t *sock);

/* Loads every TLS certificate and key cfg's listeners name, as server_run would (which
 * --check-config uses so that a file that would stop start-up fails the check). Returns 0,
 * or -1 with a line per unusable pair on stderr. */
int server_check_tls(const config *cfg);

#endif
