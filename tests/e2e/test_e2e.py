#!/usr/bin/python3
"""End-to-end tests of hookgate: start the real server on a free loopback port with a test
configuration and talk to it with curl, over HTTP/1.1 and over HTTP/2 (prior knowledge),
plus TLS with ALPN, the command line, shutdown on signals and a concurrent burst.

Run from the repository root:  /usr/bin/python3 tests/e2e/test_e2e.py build/hookgate
Only the Python standard library and the curl command line tool are used.

The backend: by default the main server (every HTTP case) keeps webhooks in memory. With
HOOKGATE_TEST_STORE set (the config's `store:` value; tests/store/with_postgres.py sets it to
a throw-away PostgreSQL cluster: ctest e2e_postgres) it uses that store, so that the same
cases hold both backends to one contract; the classes that start servers of their own (TLS,
shutdown, command line) do not touch the main server's store and are skipped in that mode
(ctest e2e runs them).
"""
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BINARY = None                      # argv[1], made absolute in main
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TMP = None                         # one temporary directory for the whole run

STARTUP_TIMEOUT = 10.0             # seconds until GET /healthz must answer 200
READY_TIMEOUT = 20.0               # and then, on PostgreSQL, until GET /readyz does (migrations)
STORE = os.environ.get("HOOKGATE_TEST_STORE") or None  # the main server's `store:` value
SHUTDOWN_TIMEOUT = 5.0             # seconds the server may take to exit after SIGTERM

# --- the test configuration ------------------------------------------------------------


def eco(n):
    """An ecosystem id: C + 24 lowercase hex digits."""
    return "C%024x" % n


TOKEN = "acme-token-Q7xK2vT9"                    # acme account token, stored in plain
HASHED_TOKEN = "acme-hashed-token-Z9pL4wR1"      # acme account token, stored as sha256:
HASHED_TOKEN_DIGEST = hashlib.sha256(HASHED_TOKEN.encode()).hexdigest()
SRV_TOKEN = "acme-srv-token-M3vR8kJ5"            # acme server token scoped to ECO
OTHER_TOKEN = "other-token-W4nD6hB2"             # the other account's token

ECO = "C5156b8ace57896adb6dae592"                # acme, has a server token
ECO_DELETED = "C59b343ae9ca1fbc8287a3196"        # acme, deleted
ECO2 = eco(2)                                    # acme, no server token
ECO_EMPTY = eco(0xe0)                            # acme, nothing is ever created in it
ECO_LIST = {"1.1": eco(0x1a1), "2": eco(0x1a2)}  # acme, one per protocol for list order
ECO_BURST = {"1.1": eco(0x1b1), "2": eco(0x1b2)} # acme, one per protocol for the burst
ECO_MUX = eco(0x1c2)                             # acme, for the multiplexed HTTP/2 burst
ECO_PAGES = {"1.1": eco(0x1d1), "2": eco(0x1d2)} # acme, one per protocol for paging
ECO_PAGE_ERRORS = {"1.1": eco(0x1e1), "2": eco(0x1e2)}  # acme, one per protocol for paging errors
ECO_MUTATE = {"1.1": eco(0x1f1), "2": eco(0x1f2)} # acme, one per protocol for updates and deletes
ECO_OTHER = eco(0xaa)                            # the other account
ECO_UNKNOWN = eco(0xdead)                        # well formed, configured nowhere

LIMITS = {"max_body_bytes": 2048, "max_url_length": 256,
          "max_description_length": 128, "max_secret_length": 64,
          "default_page_size": 5, "max_page_size": 100}
PAGE_TOKEN_MESSAGE = "invalid page token (not one this server gave for this ecosystem's list)"

WEBHOOK_KEYS = ["id", "description", "ecosystemId", "url", "disabled", "createdAt"]
ID_RE = re.compile(r"^[0-9a-f]{24}$")
CREATED_AT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def config_yaml(listeners, limits=None, threads=2, store=None):
    """The test configuration. listeners: list of (port, tls) where tls is None or
    (certificate, key); store: the `store:` value (flow style), None for memory."""
    limits = limits or LIMITS
    lines = ["server:", "  listen:"]
    for port, tls in listeners:
        if tls:
            lines.append("    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }"
                         % (port, tls[0], tls[1]))
        else:
            lines.append("    - { address: 127.0.0.1, port: %d }" % port)
    lines.append("  threads: %d" % threads)
    lines.append("limits: { %s }" % ", ".join("%s: %d" % kv for kv in limits.items()))
    if store is not None:
        lines.append("store: " + store)
    lines += [
        "accounts:",
        "  - id: acme",
        '    tokens: [ "%s", "sha256:%s" ]' % (TOKEN, HASHED_TOKEN_DIGEST),
        "    ecosystems:",
        '      - { id: %s, server_tokens: [ "%s" ] }' % (ECO, SRV_TOKEN),
        "      - { id: %s, deleted: true }" % ECO_DELETED,
    ]
    for e in ([ECO2, ECO_EMPTY] + list(ECO_LIST.values()) + list(ECO_BURST.values()) + [ECO_MUX]
              + list(ECO_PAGES.values()) + list(ECO_PAGE_ERRORS.values()) + list(ECO_MUTATE.values())):
        lines.append("      - { id: %s }" % e)
    lines += [
        "  - id: other",
        '    tokens: [ "%s" ]' % OTHER_TOKEN,
        "    ecosystems:",
        "      - { id: %s }" % ECO_OTHER,
    ]
    return "\n".join(lines) + "\n"


# --- the server under test ---------------------------------------------------------------


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_counter = 0
_counter_lock = threading.Lock()


def tmp_path(suffix):
    global _counter
    with _counter_lock:
        _counter += 1
        n = _counter
    return os.path.join(TMP, "f%06d%s" % (n, suffix))


class Server:
    """A running hookgate. Its stderr (the access log) is captured in a file. store: the
    config's `store:` value; a server with one is waited for until /readyz answers 200."""

    def __init__(self, listeners=None, limits=None, threads=2, store=None):
        if listeners is None:
            listeners = [(free_port(), None)]
        self.listeners = listeners
        self.port = listeners[0][0]
        self.tls = listeners[0][1] is not None
        self.config_path = tmp_path(".yaml")
        with open(self.config_path, "w") as f:
            f.write(config_yaml(listeners, limits, threads, store))
        self.store = store
        self.stderr_path = tmp_path(".stderr")
        self.stdout_path = tmp_path(".stdout")
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen([BINARY, "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)
        try:
            self._wait_ready()
        except Exception:
            self.kill()
            raise

    def base(self, listener=0):
        port, tls = self.listeners[listener]
        return "%s://127.0.0.1:%d" % ("https" if tls else "http", port)

    def _wait_ready(self):
        self._wait_200("/healthz", STARTUP_TIMEOUT)
        if self.store is not None:
            self._wait_200("/readyz", READY_TIMEOUT)

    def _wait_200(self, path, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("hookgate exited with %d during startup; stderr:\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                if self.tls:
                    conn = http.client.HTTPSConnection(
                        "127.0.0.1", self.port, timeout=1,
                        context=ssl._create_unverified_context())
                else:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
                last = "status %d" % status
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError("GET %s did not answer 200 within %ss (last: %s); stderr:\n%s"
                             % (path, timeout, last, self.log()))

    def log(self):
        if not self._err.closed:
            self._err.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        """Sends sig and returns the exit code, or None if it did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self):
        for f in (self._err, self._out):
            if not f.closed:
                f.close()


# --- curl --------------------------------------------------------------------------------


class Resp:
    def __init__(self, status, version, headers, body, cmd, stderr):
        self.status = status
        self.version = version
        self.headers = headers          # list of (lowercase name, value)
        self.body = body
        self.cmd = cmd
        self.stderr = stderr

    def header(self, name):
        vals = [v for k, v in self.headers if k == name.lower()]
        return vals[-1] if vals else None

    def header_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return "<%s HTTP/%s %s %r %r>" % (" ".join(self.cmd[-3:]), self.version, self.status,
                                          self.headers, self.body[:600])


def proto_args(proto, tls):
    if proto == "1.1":
        return ["--http1.1"]
    return ["--http2"] if tls else ["--http2-prior-knowledge"]


def curl(base, proto, method, path, body=None, token=TOKEN, content_type="application/json",
         headers=(), extra=()):
    """One request with the curl tool. body: bytes, str or a JSON-able value (dict/list);
    token None sends no authorization header; content_type None removes the header."""
    hdr_file, body_file = tmp_path(".hdr"), tmp_path(".body")
    cmd = ["curl", "-sS", "--max-time", "15", "-D", hdr_file, "-o", body_file,
           "-w", "%{http_code} %{http_version}", "-H", "Expect:"]
    cmd += proto_args(proto, base.startswith("https"))
    if base.startswith("https"):
        cmd.append("-k")
    if token is not None:
        cmd += ["-H", "authorization: " + token]
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body, ensure_ascii=False).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        cmd += ["--data-binary", "@-"]
        cmd += ["-H", "content-type:" if content_type is None else "content-type: " + content_type]
    if method != ("POST" if body is not None else "GET"):
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    cmd += list(extra)
    cmd.append(base + path)
    p = subprocess.run(cmd, input=data if data is not None else b"", capture_output=True,
                       timeout=30)
    out = p.stdout.decode().split()
    status = int(out[0]) if out else 0
    version = out[1] if len(out) > 1 else "?"
    resp_headers = []
    if os.path.exists(hdr_file):
        with open(hdr_file, "rb") as f:
            raw = f.read().decode("latin-1")
        blocks = [b for b in re.split(r"\r?\n\r?\n", raw) if b.strip().startswith("HTTP/")]
        if blocks:
            for line in blocks[-1].splitlines()[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    resp_headers.append((k.strip().lower(), v.strip()))
        os.unlink(hdr_file)
    resp_body = b""
    if os.path.exists(body_file):
        with open(body_file, "rb") as f:
            resp_body = f.read()
        os.unlink(body_file)
    if status == 0:
        raise AssertionError("curl got no response (rc %d): %s\n%s"
                             % (p.returncode, " ".join(cmd), p.stderr.decode()))
    return Resp(status, version, resp_headers, resp_body, cmd, p.stderr.decode())


def parse_created_at(s):
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


# --- the module's shared server --------------------------------------------------------------

MAIN = None


def setUpModule():
    global MAIN
    MAIN = Server(store=STORE)


# Classes whose servers are their own (never MAIN): the PostgreSQL mode has nothing to add to them.
own_servers = unittest.skipIf(STORE is not None, "starts its own memory-store servers, not the main one: "
                                        "covered by the memory run (ctest e2e)")


def tearDownModule():
    if MAIN is not None:
        rc = MAIN.stop()
        if rc != 0:
            raise AssertionError("main server: exit code %r after SIGTERM (expected 0 within %ss)"
                                 "; stderr tail:\n%s" % (rc, SHUTDOWN_TIMEOUT, MAIN.log()[-3000:]))


# --- the HTTP cases, run over each protocol ------------------------------------------------


class HttpCases:
    """Mixed into one TestCase per protocol; PROTO is "1.1" or "2"."""
    PROTO = None

    # helpers

    def req(self, method, path, body=None, **kw):
        r = curl(MAIN.base(), self.PROTO, method, path, body, **kw)
        self.assertEqual(r.version, self.PROTO, "wrong HTTP version negotiated: %r" % r)
        return r

    def post(self, body, path="/api/webhooks", **kw):
        return self.req("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def assertContentType(self, r, mime):
        ct = r.header("content-type")
        self.assertIsNotNone(ct, "no content-type: %r" % r)
        self.assertEqual(ct.split(";")[0].strip().lower(), mime, r)

    def assertWebhook(self, r, ecosystem_id, url, description=""):
        """A 201/200 webhook answer; returns the decoded object."""
        self.assertContentType(r, "application/json")
        obj = r.json()
        self.assertIsInstance(obj, dict, r)
        self.assertEqual(list(obj.keys()), WEBHOOK_KEYS, "key set/order: %r" % r)
        positions = [r.text.find('"%s"' % k) for k in WEBHOOK_KEYS]
        self.assertEqual(positions, sorted(positions), "raw key order: %r" % r)
        self.assertRegex(obj["id"], ID_RE)
        self.assertEqual(obj["description"], description)
        self.assertEqual(obj["ecosystemId"], ecosystem_id)
        self.assertEqual(obj["url"], url)
        self.assertIs(obj["disabled"], False)
        self.assertIsInstance(obj["createdAt"], str)
        self.assertRegex(obj["createdAt"], CREATED_AT_RE)
        created = parse_created_at(obj["createdAt"])
        id_seconds = int(obj["id"][:8], 16)
        self.assertLessEqual(abs(id_seconds - int(created)), 1,
                             "id seconds %d vs createdAt %s" % (id_seconds, obj["createdAt"]))
        self.assertLess(abs(created - time.time()), 30, "createdAt far from now: %r" % r)
        return obj

    def create(self, ecosystem_id=ECO, url="https://example.com/hook", token=TOKEN, **fields):
        body = {"ecosystemId": ecosystem_id, "url": url}
        body.update(fields)
        r = self.post(body, token=token)
        self.assertEqual(r.status, 201, r)
        self.assertWebhook(r, ecosystem_id, url, fields.get("description") or "")
        return r

    def assertInvalidParams(self, r, errors):
        """errors: list of (in, path, message), compared in order."""
        self.assertEqual(r.status, 400, r)
        self.assertContentType(r, "application/json")
        expected = {"errorType": "InvalidParams",
                    "errors": [{"in": i, "path": p, "message": m} for i, p, m in errors]}
        self.assertEqual(r.json(), expected, r)

    def list_page(self, e, limit=None, token=None, auth=TOKEN, path="/api/webhooks"):
        """One page: (items, nextPageToken or None); the body is {"items":[...]}, plus
        nextPageToken (after items) only when another page follows."""
        q = "?ecosystemId=" + e
        if limit is not None:
            q += "&limit=%d" % limit
        if token is not None:
            q += "&pageToken=" + token
        r = self.get(path + q, token=auth)
        self.assertEqual(r.status, 200, r)
        obj = r.json()
        self.assertIn(list(obj.keys()), (["items"], ["items", "nextPageToken"]), r)
        nxt = obj.get("nextPageToken")
        if nxt is not None:
            self.assertRegex(nxt, r"^[A-Za-z0-9_-]+$")
            self.assertTrue(obj["items"], "a token after an empty page: %r" % r)
        return obj["items"], nxt

    def list_all(self, e, limit=LIMITS["max_page_size"]):
        """Every webhook of e, page by page."""
        items, token = self.list_page(e, limit)
        while token is not None:
            more, token = self.list_page(e, limit, token)
            items += more
        return items

    def assertInvalidBody(self, r):
        self.assertEqual(r.status, 400, r)
        self.assertContentType(r, "application/json")
        obj = r.json()
        self.assertEqual(obj.get("errorType"), "InvalidBody", r)
        self.assertEqual(list(obj.keys()), ["errorType", "errors"], r)
        self.assertEqual(len(obj["errors"]), 1, r)
        err = obj["errors"][0]
        self.assertEqual(err.get("in"), "body", r)
        self.assertEqual(err.get("path"), "body", r)
        self.assertIsInstance(err.get("message"), str, r)
        self.assertTrue(err["message"], r)
        self.assertEqual(set(err.keys()), {"in", "path", "message"}, r)

    def assertPlain(self, r, status, text=None):
        self.assertEqual(r.status, status, r)
        self.assertContentType(r, "text/plain")
        if text is None:
            self.assertTrue(r.body.strip(), "empty reason: %r" % r)
        else:
            self.assertIn(r.text, (text, text + "\n"), r)

    def assertEcosystemNotFound(self, r, ecosystem_id):
        self.assertPlain(r, 404, "Ecosystem with id %s does not exist." % ecosystem_id)

    def assertWebhookNotFound(self, r, webhook_id):
        self.assertPlain(r, 404, "Webhook with id %s does not exist." % webhook_id)

    # health

    def test_healthz_without_auth(self):
        r = self.get("/healthz", token=None)
        self.assertEqual(r.status, 200, r)

    # create: success

    def test_create_minimal(self):
        r = self.create()
        obj = r.json()
        self.assertEqual(r.header("location"), "/api/webhooks/" + obj["id"], r)
        self.assertEqual(r.header_all("location"), ["/api/webhooks/" + obj["id"]], r)

    def test_create_all_fields_secret_not_returned(self):
        secret = "s3cr3t-in-create-Hq8Zx"
        r = self.create(url="http://hooks.example.org:8080/a/b?x=1&y=2#frag",
                        secret=secret, description="Dégâts — ünïcödé ✓")
        self.assertNotIn(secret.encode(), r.body)
        for k, v in r.headers:
            self.assertNotIn(secret, v, r)
        self.assertNotIn("secret", r.json())
        g = self.get("/api/webhooks/" + r.json()["id"])
        self.assertNotIn(secret.encode(), g.body)

    def test_create_null_optional_fields_are_absent(self):
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/n",
                       "secret": None, "description": None})
        self.assertEqual(r.status, 201, r)
        self.assertWebhook(r, ECO, "https://example.com/n", "")

    def test_create_ids_unique(self):
        ids = {self.create().json()["id"] for _ in range(5)}
        self.assertEqual(len(ids), 5)

    def test_create_v0_alias(self):
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/v0"},
                      path="/v0/api/webhooks")
        self.assertEqual(r.status, 201, r)
        obj = self.assertWebhook(r, ECO, "https://example.com/v0")
        self.assertTrue(r.header("location") in ("/api/webhooks/" + obj["id"],
                                                 "/v0/api/webhooks/" + obj["id"]), r)
        g = self.get("/api/webhooks/" + obj["id"])
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, r.body)

    def test_v0_alias_read_back(self):
        r = self.create(ECO, url="https://example.com/v0-read")
        wid = r.json()["id"]
        g = self.get("/v0/api/webhooks/" + wid)
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, r.body)
        lst = self.get("/v0/api/webhooks?ecosystemId=" + ECO_EMPTY)
        self.assertEqual(lst.status, 200, lst)
        self.assertEqual(lst.json(), {"items": []})

    def test_create_ecosystem_id_alias(self):
        r = self.post({"ecosystem_id": ECO, "url": "https://example.com/alias"})
        self.assertEqual(r.status, 201, r)
        self.assertWebhook(r, ECO, "https://example.com/alias")

    def test_create_content_type_with_charset(self):
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/cs"},
                      content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    def test_create_valid_urls(self):
        for url in ["http://example.com", "https://example.com/", "http://localhost:9/x",
                    "http://[2606:4700::1111]:8080/p", "https://user:pw@example.com/p?q=1#f",
                    "https://example.com/%E2%9C%93", "https://ex\u00e4mple.com/hook",
                    "https://example.com/p\u00e4th"]:
            with self.subTest(url=url):
                r = self.post({"ecosystemId": ECO, "url": url})
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.json()["url"], url)  # stored as given, also a non-ASCII host

    def test_create_private_address_urls(self):
        # an IP literal hookgate will never call is refused at once (this server has no
        # delivery.allow_networks); a name is judged when called
        for url in ["http://127.0.0.1:9/x", "http://[::1]:8080/p", "http://10.1.2.3/", "http://169.254.169.254/",
                    "http://0x7f.1/", "http://2130706433/", "https://user:pw@192.168.1.1/", "http://[::ffff:10.0.0.1]/"]:
            with self.subTest(url=url):
                r = self.post({"ecosystemId": ECO, "url": url})
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json()["errors"], [{"in": "body", "path": "url", "message": "invalid url"}])

    # auth

    def test_auth_missing_token(self):
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/"}, token=None)
        self.assertPlain(r, 401)

    def test_auth_unknown_token(self):
        for tok in ["nope", TOKEN + "x", TOKEN[:-1], "Bearer nope", "",
                    "sha256:" + HASHED_TOKEN_DIGEST, HASHED_TOKEN_DIGEST]:
            with self.subTest(token=tok):
                r = self.post({"ecosystemId": ECO, "url": "https://example.com/"},
                              token=None, headers=["authorization: " + tok] if tok else
                              ["authorization;"])
                self.assertPlain(r, 401)

    def test_auth_bearer(self):
        self.create(token="Bearer " + TOKEN)

    def test_auth_white_space_around_the_token(self):
        # not part of the value at either end (RFC 9110 §5.5), on HTTP/1.1 and HTTP/2 alike:
        # h2o 2.2.5's HTTP/1.1 parser keeps trailing white space, which once made this a 401
        for tok in [TOKEN + " ", TOKEN + " \t", " " + TOKEN, "\t" + TOKEN + "  ", "Bearer " + TOKEN + " "]:
            with self.subTest(token=tok):
                self.create(token=tok)

    def test_auth_sha256_configured_token(self):
        self.create(token=HASHED_TOKEN)
        self.create(token="Bearer " + HASHED_TOKEN)

    def test_auth_server_token_own_ecosystem(self):
        r = self.create(ECO, token=SRV_TOKEN)
        g = self.get("/api/webhooks/" + r.json()["id"], token=SRV_TOKEN)
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, r.body)

    def test_auth_server_token_other_ecosystem_same_account(self):
        r = self.post({"ecosystemId": ECO2, "url": "https://example.com/"}, token=SRV_TOKEN)
        self.assertPlain(r, 403)

    def test_auth_server_token_other_account_ecosystem(self):
        r = self.post({"ecosystemId": ECO_OTHER, "url": "https://example.com/"}, token=SRV_TOKEN)
        self.assertEcosystemNotFound(r, ECO_OTHER)

    # create: ecosystem not found

    def test_create_ecosystem_not_found(self):
        for e, tok in [(ECO_UNKNOWN, TOKEN), (ECO_DELETED, TOKEN), (ECO_OTHER, TOKEN),
                       (ECO, OTHER_TOKEN)]:
            with self.subTest(ecosystem=e, token=tok):
                r = self.post({"ecosystemId": e, "url": "https://example.com/"}, token=tok)
                self.assertEcosystemNotFound(r, e)

    # create: InvalidParams

    def test_params_empty_object(self):
        self.assertInvalidParams(self.post({}), [("body", "ecosystemId", "field is required"),
                                                 ("body", "url", "field is required")])

    def test_params_required_null_and_empty(self):
        for v in [None, ""]:
            with self.subTest(value=v):
                self.assertInvalidParams(
                    self.post({"ecosystemId": v, "url": v}),
                    [("body", "ecosystemId", "field is required"),
                     ("body", "url", "field is required")])
        self.assertInvalidParams(self.post({"ecosystemId": ECO}),
                                 [("body", "url", "field is required")])
        self.assertInvalidParams(self.post({"url": "https://example.com/"}),
                                 [("body", "ecosystemId", "field is required")])

    def test_params_invalid_ecosystem_id(self):
        for e in ["C5156B8ACE57896ADB6DAE592", "C5156b8ace57896adb6dae59", "C5156b8ace57896adb6dae5923",
                  "E5156b8ace57896adb6dae592", "5156b8ace57896adb6dae592", "c5156b8ace57896adb6dae592",
                  "C5156b8ace57896adb6dae59g", "x", " C5156b8ace57896adb6dae592"]:
            with self.subTest(ecosystemId=e):
                self.assertInvalidParams(self.post({"ecosystemId": e, "url": "https://example.com/"}),
                                         [("body", "ecosystemId", "invalid id")])

    def test_params_invalid_url(self):
        for url in ["ftp://x", "not a url", "http://", "https://", "/relative", "example.com/x",
                    "mailto:a@example.com", "http:///path", "http://exa mple.com/",
                    "javascript:alert(1)", "//example.com/x"]:
            with self.subTest(url=url):
                self.assertInvalidParams(self.post({"ecosystemId": ECO, "url": url}),
                                         [("body", "url", "invalid url")])

    def test_params_url_length_limit(self):
        n = LIMITS["max_url_length"]
        prefix = "https://example.com/"
        at = prefix + "a" * (n - len(prefix))
        self.assertEqual(len(at), n)
        self.create(url=at)
        self.assertInvalidParams(self.post({"ecosystemId": ECO, "url": at + "a"}),
                                 [("body", "url", "invalid url")])

    def test_params_wrong_types(self):
        cases = [
            ({"ecosystemId": ECO, "url": 5}, "url"),
            ({"ecosystemId": True, "url": "https://example.com/"}, "ecosystemId"),
            ({"ecosystemId": 12, "url": "https://example.com/"}, "ecosystemId"),
            ({"ecosystemId": ECO, "url": ["https://example.com/"]}, "url"),
            ({"ecosystemId": ECO, "url": "https://example.com/", "secret": {}}, "secret"),
            ({"ecosystemId": ECO, "url": "https://example.com/", "secret": 1.5}, "secret"),
            ({"ecosystemId": ECO, "url": "https://example.com/", "description": []}, "description"),
            ({"ecosystemId": ECO, "url": "https://example.com/", "description": False},
             "description"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertInvalidParams(self.post(body), [("body", field, "must be a string")])

    def test_params_secret_limit(self):
        n = LIMITS["max_secret_length"]
        self.create(secret="s" * n)
        self.assertInvalidParams(
            self.post({"ecosystemId": ECO, "url": "https://example.com/", "secret": "s" * (n + 1)}),
            [("body", "secret", "must be at most %d bytes" % n)])

    def test_params_description_limit(self):
        n = LIMITS["max_description_length"]
        self.create(description="d" * n)
        self.assertInvalidParams(
            self.post({"ecosystemId": ECO, "url": "https://example.com/",
                       "description": "d" * (n + 1)}),
            [("body", "description", "must be at most %d bytes" % n)])

    def test_params_description_limit_counts_bytes(self):
        n = LIMITS["max_description_length"]
        self.create(description="é" * (n // 2))              # n bytes exactly
        over = "é" * (n // 2 + 1)                            # n/2+1 characters, n+2 bytes
        self.assertInvalidParams(
            self.post({"ecosystemId": ECO, "url": "https://example.com/", "description": over}),
            [("body", "description", "must be at most %d bytes" % n)])

    def test_params_additional_fields(self):
        body = '{"ecosystemId":"%s","zeta":1,"url":"https://example.com/","alpha":{"x":1}}' % ECO
        self.assertInvalidParams(
            self.post(body),
            [("body", "additional parameters", "contains fields that are not allowed: [ zeta, alpha ]")])
        body = ('{"id":"5a96c7ea25087217c40a30c0","ecosystemId":"%s","url":"https://example.com/",'
                '"disabled":true,"createdAt":"2018-02-28T15:16:58.941Z"}' % ECO)
        self.assertInvalidParams(
            self.post(body),
            [("body", "additional parameters",
              "contains fields that are not allowed: [ id, disabled, createdAt ]")])

    def test_params_only_additional_fields(self):
        self.assertInvalidParams(
            self.post({"foo": 1}),
            [("body", "ecosystemId", "field is required"), ("body", "url", "field is required"),
             ("body", "additional parameters", "contains fields that are not allowed: [ foo ]")])

    def test_params_query_string_on_post(self):
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/"}, path="/api/webhooks?foo=1")
        self.assertInvalidParams(
            r, [("query", "additional parameters", "contains fields that are not allowed: [ foo ]")])
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/"},
                      path="/api/webhooks?ecosystemId=" + ECO)
        self.assertInvalidParams(
            r, [("query", "additional parameters",
                 "contains fields that are not allowed: [ ecosystemId ]")])

    def test_params_every_problem_at_once_in_order(self):
        body = ('{"zzz":1,"description":[],"secret":5,"url":"ftp://x","ecosystemId":"bad",'
                '"aaa":null}')
        r = self.post(body, path="/api/webhooks?foo=1")
        self.assertInvalidParams(r, [
            ("body", "ecosystemId", "invalid id"),
            ("body", "url", "invalid url"),
            ("body", "secret", "must be a string"),
            ("body", "description", "must be a string"),
            ("body", "additional parameters", "contains fields that are not allowed: [ zzz, aaa ]"),
            ("query", "additional parameters", "contains fields that are not allowed: [ foo ]"),
        ])
        n, m = LIMITS["max_secret_length"], LIMITS["max_description_length"]
        r = self.post({"description": "d" * (m + 1), "secret": "s" * (n + 1), "url": None})
        self.assertInvalidParams(r, [
            ("body", "ecosystemId", "field is required"),
            ("body", "url", "field is required"),
            ("body", "secret", "must be at most %d bytes" % n),
            ("body", "description", "must be at most %d bytes" % m),
        ])

    def test_params_validation_before_ecosystem_lookup(self):
        # A well-formed but unknown ecosystem with a bad url: the 400 comes first.
        r = self.post({"ecosystemId": ECO_UNKNOWN, "url": "nope"})
        self.assertInvalidParams(r, [("body", "url", "invalid url")])

    def test_params_wrong_content_type(self):
        good = json.dumps({"ecosystemId": ECO, "url": "https://example.com/"})
        required = [("body", "ecosystemId", "field is required"), ("body", "url", "field is required")]
        for ct in ["text/plain", None, "application/x-www-form-urlencoded", "application/jsonx"]:
            with self.subTest(content_type=ct):
                self.assertInvalidParams(self.post(good, content_type=ct), required)
        # the body is not even parsed when the content type is wrong
        self.assertInvalidParams(self.post("{", content_type="text/plain"), required)

    def test_params_empty_body(self):
        required = [("body", "ecosystemId", "field is required"), ("body", "url", "field is required")]
        self.assertInvalidParams(self.post(b""), required)
        self.assertInvalidParams(self.req("POST", "/api/webhooks"), required)

    # create: InvalidBody

    def test_invalid_body(self):
        cases = [
            b"{", b'{"ecosystemId":}', b"{'a':1}", b"[]", b'"x"', b"null", b"1", b"true",
            b"{} {}", b'{"ecosystemId":"%s","url":"https://example.com/"} x' % ECO.encode(),
            b'{"url":"https://a.example/","url":"https://b.example/","ecosystemId":"%s"}'
            % ECO.encode(),
            b'{"ecosystemId":"%s","ecosystemId":"%s","url":"https://example.com/"}'
            % (ECO.encode(), ECO.encode()),
            b'{"ecosystemId":"%s","url":"https://example.com/","description":"\xff"}' % ECO.encode(),
            b'{"ecosystemId":"%s","url":"https://example.com/","desc\xc3":"x"}' % ECO.encode(),
            b'{"ecosystemId":"%s","url":"https://example.com/","description":"\xc0\xaf"}'
            % ECO.encode(),
        ]
        for body in cases:
            with self.subTest(body=body):
                self.assertInvalidBody(self.post(body))

    # body size limit (413)

    def padded_body(self, size):
        body = json.dumps({"ecosystemId": ECO, "url": "https://example.com/size"}).encode()
        self.assertLessEqual(len(body), size)
        return body + b" " * (size - len(body))

    def test_body_at_limit_accepted(self):
        n = LIMITS["max_body_bytes"]
        r = self.post(self.padded_body(n))
        self.assertEqual(r.status, 201, r)

    def test_body_over_limit_413(self):
        n = LIMITS["max_body_bytes"]
        for size in [n + 1, n + 100, 10 * n, 200000]:
            with self.subTest(size=size):
                r = self.post(self.padded_body(size))
                self.assertEqual(r.status, 413, r)
        # the server is still fine on the same protocol afterwards
        self.create()

    def test_body_over_limit_without_content_type(self):
        n = LIMITS["max_body_bytes"]
        r = self.post(b"x" * (n + 1), content_type="text/plain")
        self.assertEqual(r.status, 413, r)

    # methods and paths

    def test_method_not_allowed_collection(self):
        for method in ["DELETE", "PUT", "PATCH"]:
            with self.subTest(method=method):
                r = self.req(method, "/api/webhooks")
                self.assertEqual(r.status, 405, r)
                allow = {a.strip() for a in (r.header("allow") or "").split(",")}
                self.assertTrue({"GET", "POST"} <= allow, r)

    def test_method_not_allowed_item(self):
        wid = self.create().json()["id"]
        for method, body in [("POST", {"ecosystemId": ECO, "url": "https://example.com/"}),
                             ("PATCH", {"url": "https://example.com/"})]:
            with self.subTest(method=method):
                r = self.req(method, "/api/webhooks/" + wid, body)
                self.assertEqual(r.status, 405, r)
                allow = [a.strip() for a in (r.header("allow") or "").split(",")]
                self.assertEqual(allow, ["GET", "PUT", "DELETE"], r)

    def test_ecosystems(self):
        # GET /api/ecosystems: the token's ecosystems, the deleted one left out; a server
        # token's one; no token, 401
        r = self.get("/api/ecosystems")
        self.assertEqual(r.status, 200, r)
        ids = [e["id"] for e in r.json()["items"]]
        self.assertEqual(ids[:2], [ECO, ECO2], r)
        self.assertNotIn(ECO_DELETED, ids)
        self.assertNotIn(ECO_OTHER, ids)
        r = self.get("/v0/api/ecosystems", token=SRV_TOKEN)
        self.assertEqual(r.json(), {"items": [{"id": ECO}]}, r)
        r = self.get("/api/ecosystems", token=OTHER_TOKEN)
        self.assertEqual(r.json(), {"items": [{"id": ECO_OTHER}]}, r)
        r = self.get("/api/ecosystems", token=None)
        self.assertEqual(r.status, 401, r)

    def test_unknown_paths(self):
        for path in ["/", "/nope", "/api", "/api/webhook", "/api/webhooksx", "/v1/api/webhooks",
                     "/api/devices", "/api/ecosystems/x", "/consoles"]:
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 404, r)
        r = self.post({"ecosystemId": ECO, "url": "https://example.com/"}, path="/api/hooks")
        self.assertEqual(r.status, 404, r)

    # read one

    def test_get_returns_created_bytes(self):
        r = self.create(description="read me", secret="xyz")
        wid = r.json()["id"]
        g = self.get("/api/webhooks/" + wid)
        self.assertEqual(g.status, 200, g)
        self.assertContentType(g, "application/json")
        self.assertEqual(g.body, r.body)
        g = self.get("/api/webhooks/" + wid, token="Bearer " + HASHED_TOKEN)
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, r.body)

    def test_get_malformed_id(self):
        for wid in ["xyz", "5A96C7EA25087217C40A30C0", "5a96c7ea25087217c40a30c", "5a96c7ea25087217c40a30c0a",
                    "5a96c7ea25087217c40a30cg", "C5156b8ace57896adb6dae592"]:
            with self.subTest(id=wid):
                self.assertInvalidParams(self.get("/api/webhooks/" + wid),
                                         [("path", "id", "invalid id")])

    def test_get_unknown_id(self):
        wid = "000000000000000000000000"
        self.assertWebhookNotFound(self.get("/api/webhooks/" + wid), wid)

    def test_get_out_of_scope(self):
        wid = self.create(ECO2).json()["id"]
        self.assertWebhookNotFound(self.get("/api/webhooks/" + wid, token=OTHER_TOKEN), wid)
        self.assertWebhookNotFound(self.get("/api/webhooks/" + wid, token=SRV_TOKEN), wid)
        self.assertEqual(self.get("/api/webhooks/" + wid).status, 200)
        wid = self.create(ECO_OTHER, token=OTHER_TOKEN).json()["id"]
        self.assertWebhookNotFound(self.get("/api/webhooks/" + wid), wid)
        self.assertWebhookNotFound(self.get("/api/webhooks/" + wid, token=SRV_TOKEN), wid)

    def test_get_query_string(self):
        wid = self.create().json()["id"]
        self.assertInvalidParams(
            self.get("/api/webhooks/%s?foo=1" % wid),
            [("query", "additional parameters", "contains fields that are not allowed: [ foo ]")])

    def test_get_auth(self):
        wid = self.create().json()["id"]
        self.assertPlain(self.get("/api/webhooks/" + wid, token=None), 401)
        self.assertPlain(self.get("/api/webhooks/" + wid, token="nope"), 401)

    # update and delete

    def put(self, wid, body, **kw):
        return self.req("PUT", "/api/webhooks/" + wid, body, **kw)

    def delete(self, wid, **kw):
        return self.req("DELETE", "/api/webhooks/" + wid, **kw)

    def assertEmpty200(self, r):
        """Droplit's update and delete answer: 200 and no body at all."""
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"", r)
        self.assertIsNone(r.header("content-type"), r)

    def test_update_then_get_and_list(self):
        eco = ECO_MUTATE[self.PROTO]
        first = self.create(eco, url="https://example.com/u1", secret="s", description="d").json()
        second = self.create(eco, url="https://example.com/u2").json()
        self.assertEmpty200(self.put(first["id"], {"url": "https://example.com/changed", "disabled": True}))
        g = self.get("/api/webhooks/" + first["id"])
        self.assertEqual(g.status, 200, g)
        obj = g.json()
        self.assertEqual(list(obj.keys()), WEBHOOK_KEYS, g)
        self.assertEqual(obj, dict(first, url="https://example.com/changed", disabled=True), g)
        # absent fields stay; description set; disabled back to false; null is absent
        self.assertEmpty200(self.put(first["id"], {"url": "https://example.com/c2", "description": "new",
                                                    "disabled": False, "secret": None},
                                      token="Bearer " + HASHED_TOKEN))
        obj = self.get("/api/webhooks/" + first["id"]).json()
        self.assertEqual(obj, dict(first, url="https://example.com/c2", description="new"))
        self.assertIs(obj["disabled"], False)
        # the list shows the new version in its old place, the same bytes as a get
        items = [w for w in self.get("/api/webhooks?ecosystemId=" + eco).json()["items"]
                 if w["id"] in (first["id"], second["id"])]
        self.assertEqual(items, [obj, second])
        # the /v0 alias, and a secret removed with ""
        self.assertEmpty200(self.req("PUT", "/v0/api/webhooks/" + first["id"],
                                     {"url": "https://example.com/c3", "secret": ""}))
        self.assertEqual(self.get("/api/webhooks/" + first["id"]).json()["url"], "https://example.com/c3")

    def test_update_errors(self):
        wid = self.create(description="keep").json()["id"]
        self.assertInvalidParams(self.put(wid, {}), [("body", "url", "field is required")])
        self.assertInvalidParams(self.put(wid, {"url": ""}), [("body", "url", "field is required")])
        self.assertInvalidParams(self.put(wid, {"url": "ftp://example.com/"}), [("body", "url", "invalid url")])
        self.assertInvalidParams(
            self.put("xyz", {"url": "https://example.com/" + "a" * 300, "secret": "s" * 65,
                             "description": "d" * 129, "disabled": "yes",
                             "ecosystemId": ECO, "id": wid, "createdAt": "2020-01-01T00:00:00.000Z"}),
            [("path", "id", "invalid id"), ("body", "url", "invalid url"),
             ("body", "secret", "must be at most 64 bytes"),
             ("body", "description", "must be at most 128 bytes"),
             ("body", "disabled", "must be a boolean"),
             ("body", "additional parameters",
              "contains fields that are not allowed: [ ecosystemId, id, createdAt ]")])
        self.assertInvalidParams(self.put(wid, {"url": "https://example.com/"}, content_type="text/plain"),
                                 [("body", "url", "field is required")])
        self.assertInvalidParams(
            self.req("PUT", "/api/webhooks/%s?x=1" % wid, {"url": "https://example.com/"}),
            [("query", "additional parameters", "contains fields that are not allowed: [ x ]")])
        self.assertInvalidBody(self.put(wid, "{nope"))
        self.assertPlain(self.put(wid, {"url": "https://example.com/" + "a" * 2100}), 413)
        self.assertPlain(self.put(wid, {"url": "https://example.com/"}, token=None), 401)
        self.assertPlain(self.put(wid, {"url": "https://example.com/"}, token="nope"), 401)
        # nothing of it was applied
        self.assertEqual(self.get("/api/webhooks/" + wid).json()["description"], "keep")

    def test_update_delete_not_found_and_scope(self):
        unknown = "000000000000000000000000"
        self.assertWebhookNotFound(self.put(unknown, {"url": "https://example.com/"}), unknown)
        self.assertWebhookNotFound(self.delete(unknown), unknown)
        wid = self.create(ECO2, url="https://example.com/mine").json()["id"]
        # a server token of another ecosystem, and another account: simply not there
        for token in (SRV_TOKEN, OTHER_TOKEN):
            with self.subTest(token=token):
                self.assertWebhookNotFound(self.put(wid, {"url": "https://evil.example/"}, token=token), wid)
                self.assertWebhookNotFound(self.delete(wid, token=token), wid)
        self.assertEqual(self.get("/api/webhooks/" + wid).json()["url"], "https://example.com/mine")
        other = self.create(ECO_OTHER, token=OTHER_TOKEN).json()["id"]
        self.assertWebhookNotFound(self.put(other, {"url": "https://evil.example/"}), other)
        self.assertWebhookNotFound(self.delete(other), other)
        self.assertEqual(self.get("/api/webhooks/" + other, token=OTHER_TOKEN).status, 200)

    def test_delete(self):
        eco = ECO_MUTATE[self.PROTO]
        keep = self.create(eco, url="https://example.com/keep").json()
        wid = self.create(eco, url="https://example.com/gone").json()["id"]
        self.assertInvalidParams(self.delete("XYZ"), [("path", "id", "invalid id")])
        self.assertInvalidParams(self.req("DELETE", "/api/webhooks/%s?a=1" % wid),
                                 [("query", "additional parameters", "contains fields that are not allowed: [ a ]")])
        self.assertPlain(self.delete(wid, token=None), 401)
        self.assertEmpty200(self.req("DELETE", "/v0/api/webhooks/" + wid))
        self.assertWebhookNotFound(self.get("/api/webhooks/" + wid), wid)
        self.assertWebhookNotFound(self.delete(wid), wid)
        self.assertWebhookNotFound(self.put(wid, {"url": "https://example.com/"}), wid)
        ids = [w["id"] for w in self.get("/api/webhooks?ecosystemId=" + eco).json()["items"]]
        self.assertNotIn(wid, ids)
        self.assertIn(keep["id"], ids)

    def test_delete_then_idempotency_key(self):
        key = "del-%d-%s-%f" % (os.getpid(), self.PROTO, time.time())
        url = "https://example.com/idem-del/" + key
        first = self.keyed(key, url=url)
        self.assertEqual(first.status, 201, first)
        wid = first.json()["id"]
        self.assertEmpty200(self.delete(wid))
        # never a second webhook: the same request is told its webhook is gone
        self.assertWebhookNotFound(self.keyed(key, url=url), wid)
        self.assertPlain(self.keyed(key, url=url + "/other"), 422)

    # list

    def test_list_in_creation_order(self):
        e = ECO_LIST[self.PROTO]
        created = [self.create(e, url="https://example.com/list/%d" % i,
                               description="item %d" % i).json() for i in range(4)]
        r = self.get("/api/webhooks?ecosystemId=" + e)
        self.assertEqual(r.status, 200, r)
        self.assertContentType(r, "application/json")
        obj = r.json()
        self.assertEqual(list(obj.keys()), ["items"], r)
        self.assertEqual(obj["items"], created)
        for item in obj["items"]:
            self.assertEqual(list(item.keys()), WEBHOOK_KEYS)
        # a server token scoped to the ecosystem sees it too, the same way
        r2 = self.get("/api/webhooks?ecosystemId=" + ECO, token=SRV_TOKEN)
        self.assertEqual(r2.status, 200, r2)
        r3 = self.get("/api/webhooks?ecosystemId=" + ECO)
        self.assertEqual(r2.json(), r3.json())

    def test_list_empty(self):
        r = self.get("/api/webhooks?ecosystemId=" + ECO_EMPTY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"items": []})

    def test_list_errors(self):
        self.assertInvalidParams(self.get("/api/webhooks"),
                                 [("query", "ecosystemId", "field is required")])
        self.assertInvalidParams(self.get("/api/webhooks?ecosystemId="),
                                 [("query", "ecosystemId", "field is required")])
        for e in ["bad", "C5156B8ACE57896ADB6DAE592", "C5156b8ace57896adb6dae59"]:
            with self.subTest(ecosystemId=e):
                self.assertInvalidParams(self.get("/api/webhooks?ecosystemId=" + e),
                                         [("query", "ecosystemId", "invalid id")])
        self.assertInvalidParams(
            self.get("/api/webhooks?ecosystemId=%s&foo=1" % ECO),
            [("query", "additional parameters", "contains fields that are not allowed: [ foo ]")])
        self.assertInvalidParams(
            self.get("/api/webhooks?foo=1"),
            [("query", "ecosystemId", "field is required"),
             ("query", "additional parameters", "contains fields that are not allowed: [ foo ]")])

    def test_list_not_found(self):
        for e, tok in [(ECO_UNKNOWN, TOKEN), (ECO_DELETED, TOKEN), (ECO_OTHER, TOKEN),
                       (ECO, OTHER_TOKEN)]:
            with self.subTest(ecosystem=e, token=tok):
                self.assertEcosystemNotFound(self.get("/api/webhooks?ecosystemId=" + e, token=tok), e)

    def test_list_pages(self):
        """Walking the pages meets every webhook that was there from the start exactly once,
        oldest first, although webhooks are created between the pages; the default page size
        applies without a limit; /v0 takes the same tokens; a full last page has no token."""
        e = ECO_PAGES[self.PROTO]
        created = [self.create(e, url="https://example.com/page/%d" % i).json() for i in range(7)]
        items, token = self.list_page(e)
        self.assertEqual(items, created[:LIMITS["default_page_size"]])
        self.assertIsNotNone(token)
        walked, token, pages = [], None, 0
        while True:
            items, token = self.list_page(e, 3, token, path="/v0/api/webhooks" if pages % 2 else "/api/webhooks")
            walked += items
            pages += 1
            if token is None:
                break
            self.assertEqual(len(items), 3)
            if pages <= 2:
                created.append(self.create(e, url="https://example.com/page/new%d" % pages).json())
        self.assertEqual(walked, created)  # 7, then the 2 made while walking, in order, once each
        self.assertEqual(pages, 3)         # 9 in pages of 3: no empty page after the last
        # the largest page; the same walk with the snake_case name of the token
        items, token = self.list_page(e, LIMITS["max_page_size"])
        self.assertEqual((items, token), (created, None))
        items, token = self.list_page(e, 4)
        r = self.get("/api/webhooks?ecosystemId=%s&limit=5&page_token=%s" % (e, token))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"items": created[4:]})

    def test_list_page_errors(self):
        e = ECO_PAGE_ERRORS[self.PROTO]
        self.create(e, url="https://example.com/page/e1")
        self.create(e, url="https://example.com/page/e2")
        _, token = self.list_page(e, 1)
        max_page = LIMITS["max_page_size"]
        base = "/api/webhooks?ecosystemId=" + e
        self.assertInvalidParams(self.get(base + "&limit=%d" % (max_page + 1)),
                                 [("query", "limit", "must be at most %d" % max_page)])
        for bad in ("-1", "abc", "1.5", "4294967296"):
            with self.subTest(limit=bad):
                self.assertInvalidParams(self.get(base + "&limit=" + bad),
                                         [("query", "limit", "must be an integer in range")])
        # a token changed, cut short, made up, or made for another ecosystem's list
        changed = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
        self.create(ECO2, url="https://example.com/page/o1")
        self.create(ECO2, url="https://example.com/page/o2")
        _, other = self.list_page(ECO2, 1)
        for bad in (changed, token[:-1], "x", other):
            with self.subTest(pageToken=bad):
                self.assertInvalidParams(self.get(base + "&pageToken=" + bad),
                                         [("query", "pageToken", PAGE_TOKEN_MESSAGE)])
        # every problem at once, in the schema's order
        self.assertInvalidParams(self.get(base + "&pageToken=x&limit=%d" % (max_page + 1)),
                                 [("query", "limit", "must be at most %d" % max_page),
                                  ("query", "pageToken", PAGE_TOKEN_MESSAGE)])
        # a token grants nothing: the other account, or a server token of another ecosystem,
        # is refused as without one
        self.assertEcosystemNotFound(self.get(base + "&pageToken=" + token, token=OTHER_TOKEN), e)
        self.assertPlain(self.get(base + "&pageToken=" + token, token=SRV_TOKEN), 403)

    def test_list_auth(self):
        self.assertPlain(self.get("/api/webhooks?ecosystemId=" + ECO, token=None), 401)
        self.assertPlain(self.get("/api/webhooks?ecosystemId=" + ECO, token="nope"), 401)
        self.assertPlain(self.get("/api/webhooks?ecosystemId=" + ECO2, token=SRV_TOKEN), 403)

    # access log

    def test_access_log_has_no_secrets(self):
        marker = "logcheck%d%s" % (os.getpid(), self.PROTO.replace(".", ""))
        secret = "SECRET-" + marker
        desc = "DESCRIPTION-" + marker
        url = "https://example.com/URLBODY-" + marker
        self.create(url=url, secret=secret, description=desc)
        self.create(url=url, secret=secret, description=desc, token="Bearer " + HASHED_TOKEN)
        self.create(url=url, secret=secret, description=desc, token=SRV_TOKEN)
        self.post({"ecosystemId": ECO, "url": url, "secret": secret, "bogus": desc})
        self.post({"ecosystemId": ECO, "url": url}, token="WRONGTOKEN-" + marker)
        unique = "/no-such-path-" + marker
        self.get(unique)
        deadline = time.monotonic() + 3
        while unique not in MAIN.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = MAIN.log()
        lines = [l for l in log.splitlines() if unique in l]
        self.assertEqual(len(lines), 1, "one access-log line per request expected:\n" + log[-2000:])
        fields = lines[0].split()
        self.assertIn("GET", fields, lines[0])
        self.assertIn(unique, fields, lines[0])
        self.assertIn("404", fields, lines[0])
        numbers = [f for f in fields if f.isdigit() and f != "404"]
        self.assertTrue(numbers, "no byte count in %r" % lines[0])
        self.assertTrue(any(re.match(r"^\d+(\.\d+)?(ns|us|µs|ms|s)$", f) for f in fields),
                        "no duration in %r" % lines[0])
        for needle in [TOKEN, HASHED_TOKEN, HASHED_TOKEN_DIGEST, SRV_TOKEN, OTHER_TOKEN,
                       "WRONGTOKEN", secret, desc, "URLBODY", "Bearer"]:
            self.assertNotIn(needle, log, "the access log leaks %r" % needle)
        self.assertTrue(any("POST" in l and "/api/webhooks" in l and "201" in l
                            for l in log.splitlines()), log[-2000:])

    # Idempotency-Key

    def keyed(self, key, body=None, token=TOKEN, url=None):
        body = body or {"ecosystemId": ECO, "url": url}
        return self.post(body, token=token, headers=["Idempotency-Key: " + key])

    def test_idempotency_key_replays_the_first_create(self):
        key = "order-%d-%s-%f" % (os.getpid(), self.PROTO, time.time())
        url = "https://example.com/idem/" + key
        first = self.keyed(key, url=url)
        self.assertEqual(first.status, 201, first)
        self.assertIsNone(first.header("idempotent-replayed"), first)
        again = self.keyed(key, url=url)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.header("idempotent-replayed"), "true", again)
        self.assertEqual(again.json(), first.json())
        self.assertEqual(again.header("location"), first.header("location"))
        # without the key the same body is a new webhook; with it, only one was made
        self.assertNotEqual(self.create(url=url).json()["id"], first.json()["id"])
        items = self.list_all(ECO)
        self.assertEqual(len([i for i in items if i["url"] == url]), 2)
        # the key is the token's: another token's identical request is its own create
        other = self.keyed(key, url=url, token=SRV_TOKEN)
        self.assertEqual(other.status, 201, other)
        self.assertIsNone(other.header("idempotent-replayed"), other)
        self.assertNotEqual(other.json()["id"], first.json()["id"])

    def test_idempotency_key_reused_for_another_request(self):
        key = "reuse-%d-%s-%f" % (os.getpid(), self.PROTO, time.time())
        first = self.keyed(key, url="https://example.com/first")
        self.assertEqual(first.status, 201, first)
        for body in ({"ecosystemId": ECO, "url": "https://example.com/second"},
                     {"ecosystemId": ECO, "url": "https://example.com/first", "description": "changed"},
                     {"ecosystemId": ECO, "url": "https://example.com/first", "secret": "other"}):
            r = self.keyed(key, body)
            self.assertPlain(r, 422, "This Idempotency-Key was used for a different request in the last 24 hours.")

    def test_idempotency_key_malformed(self):
        body = {"ecosystemId": ECO, "url": "https://example.com/k"}
        message = "must be one value of 1 to 255 printable ASCII characters"
        for key in ("k" * 256, "caf\u00e9"):
            r = self.post(body, headers=["Idempotency-Key: " + key])
            self.assertInvalidParams(r, [("header", "Idempotency-Key", message)])
        # given twice: which one is meant is unknown
        r = self.post(body, headers=["Idempotency-Key: a", "Idempotency-Key: b"])
        self.assertInvalidParams(r, [("header", "Idempotency-Key", message)])
        # after the body's own problems
        r = self.post({"url": "nope"}, headers=["Idempotency-Key: " + "k" * 256])
        self.assertInvalidParams(r, [("body", "ecosystemId", "field is required"), ("body", "url", "invalid url"),
                                     ("header", "Idempotency-Key", message)])
        self.assertEqual(self.keyed("k" * 255, url="https://example.com/k255").status, 201)

    # concurrency

    def test_concurrent_burst(self):
        """300 creates from 32 concurrent curl processes (one connection each)."""
        e = ECO_BURST[self.PROTO]
        n = 300

        def one(i):
            return curl(MAIN.base(), self.PROTO, "POST", "/api/webhooks",
                        {"ecosystemId": e, "url": "https://example.com/burst/%d" % i})
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            rs = list(ex.map(one, range(n)))
        bad = [r for r in rs if r.status != 201 or r.version != self.PROTO]
        self.assertFalse(bad, "non-201 in burst: %r" % bad[:3])
        ids = [r.json()["id"] for r in rs]
        self.assertEqual(len(set(ids)), n, "duplicate ids in the burst")
        for wid in ids:
            self.assertRegex(wid, ID_RE)
        items = self.list_all(e)
        listed = [it["id"] for it in items]
        self.assertEqual(len(listed), n)
        self.assertEqual(set(listed), set(ids))
        by_id = {x.json()["id"]: x.json() for x in rs}
        for item in items:
            self.assertEqual(item, by_id[item["id"]])


class TestHTTP1(HttpCases, unittest.TestCase):
    PROTO = "1.1"

    def test_chunked_body_limit(self):
        """HTTP/1.1 chunked request bodies obey the same limit as Content-Length ones."""
        n = LIMITS["max_body_bytes"]
        r = self.post(self.padded_body(n), headers=["Transfer-Encoding: chunked"])
        self.assertEqual(r.status, 201, r)
        r = self.post(self.padded_body(n + 1), headers=["Transfer-Encoding: chunked"])
        self.assertEqual(r.status, 413, r)

    def test_keep_alive_many_requests(self):
        """Several requests on one HTTP/1.1 connection, mixing errors and successes."""
        conn = http.client.HTTPConnection("127.0.0.1", MAIN.port, timeout=5)
        hdrs = {"authorization": TOKEN, "content-type": "application/json"}
        try:
            for body, status in [({"ecosystemId": ECO, "url": "https://example.com/ka"}, 201),
                                 ({}, 400), ({"ecosystemId": ECO_UNKNOWN, "url": "https://x.example/"}, 404),
                                 ({"ecosystemId": ECO, "url": "https://example.com/ka2"}, 201)]:
                conn.request("POST", "/api/webhooks", json.dumps(body), hdrs)
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, status)
        finally:
            conn.close()


class TestHTTP2(HttpCases, unittest.TestCase):
    PROTO = "2"

    def test_multiplexed_burst(self):
        """300 creates as concurrent streams on two HTTP/2 connections (h2load, 100 streams
        in flight per connection). curl 7.88's --parallel cannot be used: it breaks reused
        prior-knowledge connections (curl/curl#10634, fixed in 8.0)."""
        if shutil.which("h2load") is None:
            self.skipTest("h2load (nghttp2-client) is not installed")
        n = 300
        body = tmp_path(".json")
        with open(body, "w") as f:
            json.dump({"ecosystemId": ECO_MUX, "url": "https://example.com/mux"}, f)
        p = subprocess.run(["h2load", "-n", str(n), "-c", "2", "-m", "100", "-d", body,
                            "-H", "authorization: " + TOKEN,
                            "-H", "content-type: application/json",
                            MAIN.base() + "/api/webhooks"], capture_output=True, timeout=60)
        out = p.stdout.decode()
        self.assertIn("requests: %d total, %d started, %d done, %d succeeded, 0 failed, 0 errored"
                      % (n, n, n, n), out)
        self.assertIn("status codes: %d 2xx, 0 3xx, 0 4xx, 0 5xx" % n, out)
        items = self.list_all(ECO_MUX)
        self.assertEqual(len(items), n)
        self.assertEqual(len({it["id"] for it in items}), n, "duplicate ids")
        for it in items:
            self.assertEqual(list(it.keys()), WEBHOOK_KEYS)
            self.assertEqual((it["ecosystemId"], it["url"]), (ECO_MUX, "https://example.com/mux"))


# --- TLS -------------------------------------------------------------------------------------


@own_servers
class TestTLS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = tempfile.mkdtemp(dir=TMP)
        cls.cert, cls.key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                        "/CN=localhost", "-days", "1", "-keyout", cls.key, "-out", cls.cert],
                       check=True, capture_output=True)
        cls.server = Server(listeners=[(free_port(), (cls.cert, cls.key)), (free_port(), None)])

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        if rc != 0:
            raise AssertionError("TLS server: exit code %r after SIGTERM" % rc)

    def test_alpn_both_protocols(self):
        for proto in ["1.1", "2"]:
            with self.subTest(proto=proto):
                r = curl(self.server.base(0), proto, "GET", "/healthz", token=None)
                self.assertEqual((r.status, r.version), (200, proto), r)
                r = curl(self.server.base(0), proto, "POST", "/api/webhooks",
                         {"ecosystemId": ECO, "url": "https://example.com/tls"})
                self.assertEqual((r.status, r.version), (201, proto), r)
                wid = r.json()["id"]
                g = curl(self.server.base(0), proto, "GET", "/api/webhooks/" + wid)
                self.assertEqual(g.status, 200, g)
                self.assertEqual(g.body, r.body)
                r = curl(self.server.base(0), proto, "POST", "/api/webhooks", {})
                self.assertEqual(r.status, 400, r)
                r = curl(self.server.base(0), proto, "POST", "/api/webhooks",
                         b" " * (LIMITS["max_body_bytes"] + 1))
                self.assertEqual(r.status, 413, r)

    def test_plain_listener_beside_tls(self):
        for proto in ["1.1", "2"]:
            with self.subTest(proto=proto):
                r = curl(self.server.base(1), proto, "GET", "/healthz", token=None)
                self.assertEqual((r.status, r.version), (200, proto), r)

    def test_alpn_offers_h2(self):
        ctx = ssl._create_unverified_context()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.selected_alpn_protocol(), "h2")
        ctx = ssl._create_unverified_context()
        ctx.set_alpn_protocols(["http/1.1"])
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.selected_alpn_protocol(), "http/1.1")


# --- lifecycle: signals ----------------------------------------------------------------------


@own_servers
class TestShutdown(unittest.TestCase):
    def test_sigterm_idle(self):
        s = Server()
        t0 = time.monotonic()
        self.assertEqual(s.stop(signal.SIGTERM), 0, s.log()[-2000:])
        self.assertLess(time.monotonic() - t0, SHUTDOWN_TIMEOUT)

    def test_sigint_idle(self):
        s = Server()
        self.assertEqual(s.stop(signal.SIGINT), 0, s.log()[-2000:])

    def test_sigterm_with_keep_alive_connection(self):
        s = Server()
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        try:
            conn.request("GET", "/healthz", headers={"connection": "keep-alive"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            self.assertFalse(resp.will_close)
            t0 = time.monotonic()
            self.assertEqual(s.stop(signal.SIGTERM), 0, s.log()[-2000:])
            self.assertLess(time.monotonic() - t0, SHUTDOWN_TIMEOUT)
        finally:
            conn.close()
            s.kill()

    def test_sigterm_with_http2_connection(self):
        s = Server()
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        try:
            # an HTTP/2 connection preface and an empty SETTINGS frame, then nothing
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            sock.recv(100)
            self.assertEqual(s.stop(signal.SIGTERM), 0, s.log()[-2000:])
        finally:
            sock.close()
            s.kill()

    def test_sigterm_with_partial_request(self):
        """A client that sent half a request does not hold the server past 5 s."""
        s = Server()
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        try:
            sock.sendall(b"POST /api/webhooks HTTP/1.1\r\nHost: x\r\nauthorization: %s\r\n"
                         b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{"
                         % TOKEN.encode())
            time.sleep(0.1)
            self.assertEqual(s.stop(signal.SIGTERM), 0, s.log()[-2000:])
        finally:
            sock.close()
            s.kill()

    def test_sigterm_under_load(self):
        """SIGTERM while HTTP/1.1 and HTTP/2 clients hammer the server: exit 0 within 5 s,
        and every answer that did arrive is a 201."""
        if shutil.which("h2load") is None:
            self.skipTest("h2load (nghttp2-client) is not installed")
        s = Server(threads=2)
        body = tmp_path(".json")
        with open(body, "w") as f:
            json.dump({"ecosystemId": ECO, "url": "https://example.com/load"}, f)
        common = ["-n", "1000000", "-c", "4", "-d", body, "-H", "authorization: " + TOKEN,
                  "-H", "content-type: application/json", s.base() + "/api/webhooks"]
        loads = [subprocess.Popen(["h2load", "-m", "10"] + common, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT),
                 subprocess.Popen(["h2load", "--h1"] + common, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)]
        try:
            time.sleep(0.5)
            for l in loads:
                self.assertIsNone(l.poll(), "h2load ended early")
            self.assertEqual(s.stop(signal.SIGTERM), 0, s.log()[-2000:])
            for l in loads:
                out = l.communicate(timeout=30)[0].decode()
                m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
                self.assertTrue(m, out)
                self.assertGreater(int(m.group(1)), 0, out)
                self.assertEqual(m.groups()[1:], ("0", "0", "0"), out)
        finally:
            for l in loads:
                if l.poll() is None:
                    l.kill()
                    l.wait()
            s.kill()

    def test_sigterm_after_traffic_on_all_threads(self):
        s = Server(threads=4)
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            rs = list(ex.map(lambda i: curl(s.base(), "2" if i % 2 else "1.1", "POST",
                                            "/api/webhooks",
                                            {"ecosystemId": ECO, "url": "https://example.com/"}),
                             range(24)))
        self.assertEqual([r.status for r in rs], [201] * 24)
        self.assertEqual(s.stop(signal.SIGTERM), 0, s.log()[-2000:])


# --- the command line ------------------------------------------------------------------------


def run_cli(*args, timeout=10):
    return subprocess.run([BINARY] + list(args), capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@own_servers
class TestCommandLine(unittest.TestCase):
    def write(self, text):
        path = tmp_path(".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version(self):
        p = run_cli("--version")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.decode().strip(), "hookgate 0.1.0")

    def test_help(self):
        p = run_cli("--help")
        self.assertEqual(p.returncode, 0)
        out = p.stdout.decode() + p.stderr.decode()
        for opt in ["--config", "--check-config", "--version", "--help"]:
            self.assertIn(opt, out)

    def test_unknown_option(self):
        p = run_cli("--no-such-option")
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(p.stderr.strip())

    def test_print_default_config(self):
        p = run_cli("--print-default-config")
        self.assertEqual(p.returncode, 0)
        with open(os.path.join(REPO_ROOT, "config", "hookgate.yaml"), "rb") as f:
            self.assertEqual(p.stdout, f.read())

    def test_check_config_good(self):
        path = self.write(config_yaml([(8080, None)]))
        p = run_cli("--check-config", path)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        p = run_cli("--check-config", os.path.join(REPO_ROOT, "config", "hookgate.yaml"))
        self.assertEqual(p.returncode, 0, p.stderr.decode())

    def bad_cases(self):
        good = config_yaml([(8080, None)]).splitlines()
        # line numbers below are 1-based lines of `good`
        self.assertEqual(good[3], "  threads: 2")
        self.assertEqual(good[2], "    - { address: 127.0.0.1, port: 8080 }")
        self.assertTrue(good[4].startswith("limits:"))
        self.assertTrue(good[9].startswith("      - { id: C5156b8ace57896adb6dae592"))

        def replace(lineno, text):
            lines = list(good)
            lines[lineno - 1] = text
            return "\n".join(lines) + "\n"

        def insert(lineno, text):
            lines = list(good)
            lines.insert(lineno - 1, text)
            return "\n".join(lines) + "\n"

        return [
            ("unknown key", insert(5, "  bogus_key: 1"), 5),
            ("unknown top-level key", insert(1, "nonsense: true"), 1),
            ("port out of range", replace(3, "    - { address: 127.0.0.1, port: 70000 }"), 3),
            ("port not a number", replace(3, "    - { address: 127.0.0.1, port: http }"), 3),
            ("threads wrong type", replace(4, "  threads: many"), 4),
            ("threads out of range", replace(4, "  threads: -1"), 4),
            ("limit wrong type", replace(5, "limits: { max_body_bytes: big, max_url_length: 2048 }"), 5),
            ("invalid ecosystem id", replace(10, '      - { id: Cnothex, server_tokens: [ "x" ] }'), 10),
            ("bad sha256 token", replace(8, '    tokens: [ "sha256:zz" ]'), 8),
            ("port zero", replace(3, "    - { address: 127.0.0.1, port: 0 }"), 3),
            ("address not numeric", replace(3, "    - { address: localhost, port: 8080 }"), 3),
            ("tls without key", replace(3, "    - { address: 127.0.0.1, port: 8080, "
                                           "tls: { certificate: /x/c.pem } }"), 3),
            ("duplicate key", insert(5, "  threads: 3"), 5),
            ("duplicate ecosystem id", insert(11, "      - { id: C5156b8ace57896adb6dae592 }"), 11),
            ("tab indentation (YAML syntax error)", replace(4, "\tthreads: 2"), 4),
            ("unclosed flow mapping", replace(3, "    - { address: 127.0.0.1, port: 8080"), None),
            ("empty document", "", None),
        ]

    def test_check_config_bad(self):
        for name, text, line in self.bad_cases():
            with self.subTest(name):
                path = self.write(text)
                p = run_cli("--check-config", path)
                err = p.stderr.decode()
                self.assertNotEqual(p.returncode, 0, err)
                pattern = r"%s:%s:\d+: \S" % (re.escape(path), line if line else r"\d+")
                self.assertRegex(err, pattern)

    def test_check_config_missing_file(self):
        path = os.path.join(TMP, "does-not-exist.yaml")
        p = run_cli("--check-config", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(path, p.stderr.decode())

    def test_check_config_unusable_tls_files(self):
        # the check loads what start-up would: a missing or unreadable file fails it
        listeners = [(free_port(), ("/nonexistent/c.pem", "/nonexistent/k.pem"))]
        path = self.write(config_yaml(listeners))
        p = run_cli("--check-config", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/c.pem", p.stderr.decode())
        garbage = os.path.join(TMP, "not-a-cert.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        path = self.write(config_yaml([(free_port(), (garbage, garbage))]))
        p = run_cli("--check-config", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(garbage, p.stderr.decode())

    def test_config_unusable_tls_files_refuse_to_start(self):
        listeners = [(free_port(), ("/nonexistent/c.pem", "/nonexistent/k.pem"))]
        path = self.write(config_yaml(listeners))
        p = run_cli("--config", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/c.pem", p.stderr.decode())

    def test_config_port_in_use_refuses_to_start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            s.listen()
            path = self.write(config_yaml([(s.getsockname()[1], None)]))
            p = run_cli("--config", path)
            self.assertNotEqual(p.returncode, 0)
            self.assertTrue(p.stderr.strip())
        finally:
            s.close()

    def test_config_bad_file_refuses_to_start(self):
        name, text, line = self.bad_cases()[0]
        path = self.write(text)
        p = run_cli("--config", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr.decode(), r"%s:%d:\d+: \S" % (re.escape(path), line))


def main():
    global BINARY, TMP
    if len(sys.argv) < 2:
        print("usage: %s PATH/TO/hookgate [unittest args...]" % sys.argv[0], file=sys.stderr)
        return 2
    BINARY = os.path.abspath(sys.argv[1])
    if not os.access(BINARY, os.X_OK):
        print("not an executable: %s" % BINARY, file=sys.stderr)
        return 2
    TMP = tempfile.mkdtemp(prefix="hookgate-e2e-")
    try:
        prog = unittest.main(argv=[sys.argv[0]] + sys.argv[2:], exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
