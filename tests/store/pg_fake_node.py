#!/usr/bin/python3
"""NOT hookgate: a slow stand-in that speaks the slice of hookgate's REST API the PostgreSQL
tests use (create with Idempotency-Key, get, update, delete, one-page list, /healthz,
/readyz) on one PostgreSQL table through psql, one psql per query. It exists only to check
tests/store/test_postgres.py itself before the real backend lands, and to show that the
test fails when a node breaks the contract:

  /usr/bin/python3 tests/store/test_postgres.py tests/store/pg_fake_node.py
  HOOKGATE_FAKE_BREAK=no-unique-key ...   the key's unique index left out: duplicates
  HOOKGATE_FAKE_BREAK=stale-cache ...     GETs served from a per-node cache
  HOOKGATE_FAKE_BREAK=ack-before-commit   a 201 sent before the INSERT commits
  HOOKGATE_FAKE_BREAK=hang-when-down      a call waits forever for a database that is gone

Usage (as hookgate):  pg_fake_node.py --config PATH
"""
import datetime
import http.server
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

BREAK = os.environ.get("HOOKGATE_FAKE_BREAK", "")
PSQL = None
for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True) if os.path.isdir("/usr/lib/postgresql") else []:
    PSQL = os.path.join("/usr/lib/postgresql", d, "bin", "psql")
    break
PSQL = os.environ.get("HOOKGATE_PG_BIN", os.path.dirname(PSQL or "/usr/bin/psql")) + "/psql"

SCHEMA = """SELECT pg_advisory_xact_lock(4242);
CREATE TABLE IF NOT EXISTS fake_webhooks (seq bigserial, id text PRIMARY KEY, eco text, body text,
  idem text %s, request text);""" % ("" if BREAK == "no-unique-key" else "UNIQUE")


class Unavailable(Exception):
    pass


def q(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"


class Db:
    def __init__(self, conninfo, timeout_ms):
        self.conninfo, self.timeout_ms = conninfo, timeout_ms
        self.schema_ready = False

    def run(self, sql):
        """Rows of the last statement; Unavailable when the database cannot answer in time."""
        env = dict(os.environ, PGCONNECT_TIMEOUT="2", PGOPTIONS="-c statement_timeout=%d" % self.timeout_ms)
        try:
            p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-F", "\x1f", "-R", "\x1e", "-v", "ON_ERROR_STOP=1",
                                "-d", self.conninfo, "-c", sql], capture_output=True, env=env,
                               timeout=None if BREAK == "hang-when-down" else self.timeout_ms / 1000 + 0.5)
        except subprocess.TimeoutExpired:
            raise Unavailable("statement timeout")
        if p.returncode != 0:
            if BREAK == "hang-when-down":
                time.sleep(3600)
            raise Unavailable(p.stderr.decode().strip().splitlines()[0] if p.stderr else "psql %d" % p.returncode)
        out = p.stdout.decode().rstrip("\n")
        return [r.split("\x1f") for r in out.split("\x1e") if r]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cache = {}

    def log_message(self, *a):
        pass

    def answer(self, status, body, ctype="application/json", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def text(self, status, t, headers=()):
        self.answer(status, t, "text/plain", headers)

    def dispatch(self, method):
        db = self.server.db
        path = self.path.split("?")[0]
        if path == "/healthz":
            return self.text(200, "ok")
        try:
            if path == "/readyz":
                if not db.schema_ready:
                    return self.text(503, "the database is not reachable yet")
                try:
                    db.run("SELECT 1")
                except Unavailable as e:
                    return self.text(503, "the database is unreachable (%s)" % e)
                return self.text(200, "ready")
            if not db.schema_ready:
                raise Unavailable("not connected yet")
            n = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(n)) if n else None
            m = re.match(r"^/api/webhooks/([0-9a-f]{24})$", path)
            if path == "/api/webhooks" and method == "POST":
                return self.create(db, body)
            if path == "/api/webhooks" and method == "GET":
                eco = re.search(r"ecosystemId=(\w+)", self.path).group(1)
                rows = db.run("SELECT body FROM fake_webhooks WHERE eco = %s ORDER BY seq" % q(eco))
                return self.answer(200, '{"items":[%s]}' % ",".join(r[0] for r in rows))
            if m and method == "GET":
                wid = m.group(1)
                if BREAK == "stale-cache" and wid in Handler.cache:
                    return self.answer(200, Handler.cache[wid])
                rows = db.run("SELECT body FROM fake_webhooks WHERE id = %s" % q(wid))
                if not rows:
                    return self.text(404, "Webhook with id %s does not exist." % wid)
                Handler.cache[wid] = rows[0][0]
                return self.answer(200, rows[0][0])
            if m and method == "PUT":
                wid = m.group(1)
                rows = db.run("SELECT body FROM fake_webhooks WHERE id = %s" % q(wid))
                if not rows:
                    return self.text(404, "Webhook with id %s does not exist." % wid)
                obj = json.loads(rows[0][0])
                obj.update({k: body[k] for k in ("url", "description", "disabled") if k in body})
                db.run("UPDATE fake_webhooks SET body = %s WHERE id = %s" % (q(json.dumps(obj, separators=(",", ":"))), q(wid)))
                return self.answer(200, "{}")
            if m and method == "DELETE":
                rows = db.run("DELETE FROM fake_webhooks WHERE id = %s RETURNING id" % q(m.group(1)))
                if not rows:
                    return self.text(404, "Webhook with id %s does not exist." % m.group(1))
                return self.answer(200, "{}")
            return self.text(404, "no route")
        except Unavailable as e:
            return self.text(503, "The store cannot save webhooks right now (%s)." % e, [("retry-after", "1")])

    def create(self, db, body):
        now = time.time()
        wid = "%08x%s" % (int(now), os.urandom(8).hex())
        created = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        obj = {"id": wid, "description": body.get("description", ""), "ecosystemId": body["ecosystemId"],
               "url": body["url"], "disabled": False, "createdAt": created}
        text = json.dumps(obj, separators=(",", ":"))
        key = self.headers.get("idempotency-key")
        request = json.dumps(body, sort_keys=True)
        sql = ("INSERT INTO fake_webhooks (id, eco, body, idem, request) VALUES (%s, %s, %s, %s, %s) "
               "ON CONFLICT DO NOTHING RETURNING id" % (q(wid), q(obj["ecosystemId"]), q(text), q(key), q(request)))
        if BREAK == "ack-before-commit":  # written a moment after the 201: a kill loses it
            threading.Thread(target=lambda: (time.sleep(0.5), db.run(sql))).start()
            return self.answer(201, text)
        if db.run(sql):
            return self.answer(201, text)
        rows = db.run("SELECT body, request FROM fake_webhooks WHERE idem = %s" % q(key))
        if not rows or (time.time() - now < 0.2 and random.random() < 0.5):  # both answers the contract allows
            return self.text(409, "in flight")
        if rows[0][1] != request:
            return self.text(422, "This Idempotency-Key was used for a different request in the last 24 hours.")
        return self.answer(201, rows[0][0], headers=[("idempotent-replayed", "true")])

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")


def main():
    config = open(sys.argv[sys.argv.index("--config") + 1]).read()
    port = int(re.search(r"port: (\d+) \}", config).group(1))
    conninfo = re.search(r'conninfo: "([^"]*)"', config).group(1)
    timeout_ms = int(re.search(r"statement_timeout_ms: (\d+)", config).group(1))
    db = Db(conninfo, timeout_ms)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))  # as hookgate: SIGTERM is a clean exit

    def migrate():  # like the real node: serves (503) until the database is there
        while True:
            try:
                db.run(SCHEMA)
                db.schema_ready = True
                return
            except Unavailable:
                time.sleep(0.2)
    threading.Thread(target=migrate, daemon=True).start()
    http.server.ThreadingHTTPServer.request_queue_size = 128  # h2load opens its clients at once
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.db = db
    server.serve_forever()


if __name__ == "__main__":
    main()
