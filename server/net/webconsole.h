/* webconsole: the web console's static files (console/ in the source tree, embedded in the
 * binary by config/embed_files.cmake), served under /console/ with a strict
 * Content-Security-Policy; 404 for every path there when server.console is off.
 *
 * The page calls the REST API like any other client, with the token its user pastes: this
 * module knows nothing of tokens or webhooks, and the files it serves are fixed at build
 * time, so nothing a client sends chooses what is read. */
#ifndef HOOKGATE_WEBCONSOLE_H
#define HOOKGATE_WEBCONSOLE_H

#include <h2o.h>
#include <stddef.h>

#include "config.h"

#define WEBCONSOLE_PREFIX "/console/"
#define WEBCONSOLE_INDEX "index.html" /* what WEBCONSOLE_PREFIX itself serves */

/* The Content-Security-Policy of every console answer: scripts, styles and fetches from
 * this origin only, no inline script or style, no eval, no framing, no plugins. */
#define WEBCONSOLE_CSP                                                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "                    \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* One embedded file: its name under console/ and its bytes. */
typedef struct webconsole_file {
    const char *name;
    const char *body;
    size_t len;
} webconsole_file;

/* The files, in the build's generated webconsole_files.c. */
extern const webconsole_file webconsole_files[];
extern const size_t webconsole_files_count;

/* Takes server.console from cfg; once at start-up, before any loop thread serves (a change
 * takes a restart, config_same_server). */
void webconsole_configure(const config *cfg);

/* The file path names ("/console/", "/console/app.js"), or NULL: another path, a name
 * the build did not embed, or the console is off. */
const webconsole_file *webconsole_find(const char *path, size_t len);

/* The media type of a file by its name's extension (text/html, text/javascript, text/css,
 * image/svg+xml, image/png), or application/octet-stream. */
const char *webconsole_media_type(const char *name);

/* Answers a request of ROUTE_CONSOLE: the file with its media type and the security
 * headers, a redirect from "/console" to WEBCONSOLE_PREFIX, or 404. */
void webconsole_serve(h2o_req_t *req);

#endif
