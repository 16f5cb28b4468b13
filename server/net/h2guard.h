/* h2guard: hookgate's own accept path for the HTTP listeners, so that every HTTP/2
 * connection is metered before h2o reads its frames.
 *
 * h2o 2.2.5 is not patched against HTTP/2 rapid reset (CVE-2023-44487): a client may open
 * and cancel streams at line rate, and a stream it cancels never counts against the
 * connection's 100 concurrent streams. The guard does what h2o_accept does (TLS handshake
 * within handshake_timeout_ms and ALPN; on cleartext, it looks for the prior-knowledge
 * preface itself), hands the connection to h2o's HTTP/1.1 or HTTP/2 code, and sees every
 * HTTP/2 frame header before h2o parses the frame (framebudget.h). A client that sends
 * more RST_STREAM frames than its budget has its connection closed: the frames from the
 * one over budget on are dropped unread, and the socket is shut down, so h2o tears the
 * connection down through its own error path.
 *
 * The guard also sees each header block h2o decodes (h2guard.c: hookgate's definitions of
 * two functions libh2o calls) and remembers the requests that are malformed for having two
 * different content-length values (h2o keeps the last): the handler asks
 * h2guard_take_malformed and answers them 400.
 *
 * And it sees each answer's header block as h2o encodes it: the fields whose value is new
 * in every answer (x-request-id, location) are sent as literals kept out of HPACK's dynamic
 * table, where h2o would add them and then compare every later field with them.
 *
 * An HTTP/2 connection whose client sends no frame of a request (only PINGs, say) for
 * http2.idle_timeout, and that has no request being answered, is closed too.
 *
 * HTTP/1.1's `Upgrade: h2c` would take a connection to HTTP/2 past the guard, so it is not
 * offered: the globalconf must have http1.upgrade_to_http2 = 0 (those clients stay on
 * HTTP/1.1). */
#ifndef HOOKGATE_H2GUARD_H
#define HOOKGATE_H2GUARD_H

#include <h2o.h>

#include "outflow.h"

/* Takes over sock, just accepted on an h2o listener, as h2o_accept(ctx, sock) would.
 * resets_per_second (>= 1) is the connection's budget of client stream resets (bursts of
 * as many). on_close(close_data) is called once, when the socket closes: the guard owns
 * sock->on_close. */
void h2guard_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, unsigned resets_per_second, void (*on_close)(void *),
                    void *close_data);

/* 1 when req, an HTTP/2 request on a connection the guard accepted, is malformed: its
 * header block has two different content-length values (RFC 9113 §8.1.1). Asked once per
 * request; 0 for any other request. */
int h2guard_take_malformed(h2o_req_t *req);

/* 1 when libh2o's own calls to h2o_hpack_parse_headers, h2o_strtosize and
 * h2o_hpack_flatten_response reach the guard's definitions (the dynamic linker bound them
 * to the executable's, and libh2o's are found behind them): without that no request with
 * two different content-length values would be found. The server refuses to start without
 * it. */
int h2guard_interposed(void);

/* The outflow of a connection the guard accepted (what its requests and answers hold, and
 * its write timer: on a stall the guard resets the connection), or NULL for a socket the
 * guard does not own. */
outflow *h2guard_outflow(h2o_socket_t *sock);

/* req, on a guarded connection (else nothing happens), is being answered: until h2o
 * disposes of it, the connection's HTTP/2 idle timer does not close it. The guard's timer
 * counts only the frames of a request as activity: a PING, SETTINGS or WINDOW_UPDATE does
 * not keep a connection open. Called by the router for every request. */
void h2guard_request_begin(h2o_req_t *req);

/* The close_data h2guard_accept was given for sock, when sock is a guarded connection's
 * and on_close is the function it was given with it; else NULL. */
void *h2guard_close_data(h2o_socket_t *sock, void (*on_close)(void *));

#endif
