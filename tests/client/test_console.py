#!/usr/bin/python3
"""The `droplit` console against a real hookgate.

Run from the repository root:
  /usr/bin/python3 tests/client/test_console.py build/droplit build/hookgate

Starts hookgate on free loopback ports (cleartext and TLS, with a certificate made by the
openssl tool) and runs the console as a subprocess: output formats, server and token from
flags and environment, every error of the "Create a webhook" page and the other statuses in
both encodings, usage errors, a server that is down and one that never answers, invokes
against local receivers (http.server threads on loopback, which the server's delivery policy
allows) that count what reached them, events published, read back (their JSON exactly as the
codec wrote it, only indented), delivered to a receiver and paged through their attempts. The
server's access log proves which HTTP version each call used. Standard library only.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.client
import http.server

DROPLIT = None
HOOKGATE = None
TMP = None
SERVER = None

STARTUP_TIMEOUT = 10.0   # seconds until GET /healthz must answer 200
RUN_TIMEOUT = 60         # seconds a console run may take before the test gives up on it
DELIVERY_TIMEOUT_MS = 2000  # delivery.timeout_ms: the receivers answer at once
MAX_ITEMS = 3               # delivery.max_items
SETTLE_TIMEOUT = 10.0       # seconds until an event's deliveries must have ended

TOKEN = "acme-token-Hq4Vz8"
SERVER_TOKEN = "acme-server-token-Pm2Kx6"  # acme, acts on ECO only
OTHER_TOKEN = "other-token-Tg5Nw3"
ECO = "C5156b8ace57896adb6dae592"
ECO_DELETED = "C59b343ae9ca1fbc8287a3196"
ECO2 = "C000000000000000000000002"
ECO_EMPTY = "C0000000000000000000000e0"
ECO_LIST = "C0000000000000000000000a1"
ECO_PAGES = "C0000000000000000000000a2"
ECO_EVENTS = "C0000000000000000000000b1"  # events delivered to a receiver
ECO_OTHER = "C0000000000000000000000aa"
ECO_UNKNOWN = "C00000000000000000000dead"
HOOK = "https://example.com/hook"
LIMITS = {"max_body_bytes": 2048, "max_url_length": 256,
          "max_description_length": 128, "max_secret_length": 64,
          "default_page_size": 2, "max_page_size": 3}  # small pages: every list of 3 or more is walked

WEBHOOK_KEYS = ["id", "description", "ecosystemId", "url", "disabled", "createdAt"]
ID_RE = re.compile(r"^[0-9a-f]{24}$")
CREATED_AT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

EXIT_OTHER, EXIT_USAGE, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_AUTH, EXIT_TRANSPORT = 1, 2, 3, 4, 5, 6
ENCODINGS = ["json", "protobuf"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A running hookgate with a cleartext and a TLS listener; stderr (the access log) in a file."""

    def __init__(self):
        self.cert = os.path.join(TMP, "cert.pem")
        self.key = os.path.join(TMP, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        self.port, self.tls_port = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.tls_url = "https://127.0.0.1:%d" % self.tls_port
        config = os.path.join(TMP, "hookgate.yaml")
        with open(config, "w") as f:
            f.write("\n".join([
                "server:",
                "  listen:",
                "    - { address: 127.0.0.1, port: %d }" % self.port,
                "    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }"
                % (self.tls_port, self.cert, self.key),
                "  threads: 2",
                "delivery: { allow_networks: [127.0.0.0/8], timeout_ms: %d, max_items: %d }"
                % (DELIVERY_TIMEOUT_MS, MAX_ITEMS),
                "limits: { %s }" % ", ".join("%s: %d" % kv for kv in LIMITS.items()),
                "accounts:",
                "  - id: acme",
                '    tokens: [ "%s" ]' % TOKEN,
                "    ecosystems:",
                '      - { id: %s, server_tokens: [ "%s" ] }' % (ECO, SERVER_TOKEN),
                "      - { id: %s, deleted: true }" % ECO_DELETED,
                "      - { id: %s }" % ECO2,
                "      - { id: %s }" % ECO_EMPTY,
                "      - { id: %s }" % ECO_LIST,
                "      - { id: %s }" % ECO_PAGES,
                "      - { id: %s }" % ECO_EVENTS,
                "  - id: other",
                '    tokens: [ "%s" ]' % OTHER_TOKEN,
                "    ecosystems:",
                "      - { id: %s }" % ECO_OTHER,
            ]) + "\n")
        self.log_path = os.path.join(TMP, "hookgate.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HOOKGATE, "--config", config], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("hookgate exited during startup:\n" + self.log())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("hookgate did not become healthy:\n" + self.log())
            time.sleep(0.05)

    def log(self, start=0):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    def log_size(self):
        return os.path.getsize(self.log_path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self._log.close()


class Run:
    def __init__(self, args, p):
        self.args = args
        self.code = p.returncode
        self.out = p.stdout.decode("utf-8")
        self.err = p.stderr.decode("utf-8")

    def __repr__(self):
        return "<droplit %r: exit %d\nstdout: %r\nstderr: %r>" % (self.args, self.code, self.out, self.err)


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DROPLIT_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    return env


def droplit(*args, env=None, server=True, token=TOKEN):
    """Runs the console. server=True adds --server (the cleartext listener); token adds --token."""
    argv = [DROPLIT] + list(args)
    if server is True:
        argv += ["--server", SERVER.url]
    elif server:
        argv += ["--server", server]
    if token is not None:
        argv += ["--token", token]
    e = base_env()
    e.update(env or {})
    p = subprocess.run(argv, env=e, capture_output=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    return Run(argv[1:], p)


class ConsoleCase(unittest.TestCase):
    maxDiff = None

    def assertOk(self, r):
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.err, "", r)

    def assertFails(self, r, code, lines):
        """Exit code, stderr exactly these `error: ...` lines, nothing on stdout."""
        self.assertEqual(r.code, code, r)
        self.assertEqual(r.out, "", r)
        self.assertEqual(r.err, "".join(line + "\n" for line in lines), r)

    def assertUsage(self, r, fragment):
        self.assertEqual(r.code, EXIT_USAGE, r)
        self.assertEqual(r.out, "", r)
        lines = r.err.splitlines()
        self.assertTrue(lines and lines[0].startswith("error: "), r)
        self.assertIn(fragment, lines[0], r)
        self.assertTrue(any(line.startswith("usage: droplit") for line in lines), r)

    def assertWebhookJson(self, text, eco, url, description=""):
        self.assertTrue(text.startswith('{\n  "id": "'), "not pretty JSON: %r" % text)
        self.assertTrue(text.endswith("}\n"), text)
        obj = json.loads(text)
        self.assertEqual(list(obj.keys()), WEBHOOK_KEYS, text)
        self.assertRegex(obj["id"], ID_RE)
        self.assertEqual(obj["description"], description)
        self.assertEqual(obj["ecosystemId"], eco)
        self.assertEqual(obj["url"], url)
        self.assertIs(obj["disabled"], False)
        self.assertRegex(obj["createdAt"], CREATED_AT_RE)
        return obj

    def create(self, url=HOOK, eco=ECO, *extra, **kw):
        r = droplit("webhook", "create", url, "--ecosystemId", eco, *extra, **kw)
        self.assertOk(r)
        return r


# --- the command line itself ---------------------------------------------------------------


class UsageTest(ConsoleCase):

    def test_version(self):
        r = droplit("--version", server=None, token=None)
        self.assertOk(r)
        self.assertRegex(r.out, r"^droplit \d+\.\d+\.\d+\n$")

    def test_help_of_every_command(self):
        for args, usage in [(["--help"], "droplit webhook|event|ecosystem COMMAND"),
                            (["-h"], "droplit webhook|event|ecosystem COMMAND"),
                            (["webhook", "--help"], "droplit webhook COMMAND"),
                            (["event", "--help"], "droplit event COMMAND"),
                            (["ecosystem", "--help"], "droplit ecosystem COMMAND"),
                            (["ecosystem", "list", "--help"], "droplit ecosystem list"),
                            (["webhook", "attempts", "--help"], "droplit webhook attempts ID [--limit N] [--before SEQ]"),
                            (["webhook", "recover", "--help"], "droplit webhook recover ID --since TIME"),
                            (["event", "publish", "--help"],
                             "droplit event publish --ecosystemId ECOSYSTEM-ID [--idempotency-key K] ITEM-JSON..."),
                            (["event", "get", "-h"], "droplit event get ID"),
                            (["event", "resend", "--help"], "droplit event resend ID [--webhookId W]"),
                            (["webhook", "create", "--help"], "droplit webhook create CALLBACK-URL --ecosystemId"),
                            (["webhook", "create", "-h"], "droplit webhook create CALLBACK-URL --ecosystemId"),
                            (["webhook", "info", "--help"], "droplit webhook info ID"),
                            (["webhook", "list", "--help"], "droplit webhook list --ecosystemId"),
                            (["webhook", "update", "--help"], "droplit webhook update ID PROPERTY VALUE"),
                            (["webhook", "delete", "--help"], "droplit webhook delete ID"),
                            (["webhook", "invoke", "--help"], "droplit webhook invoke ID")]:
            with self.subTest(args=args):
                r = droplit(*args, server=None, token=None)
                self.assertOk(r)
                self.assertTrue(r.out.startswith("Usage: " + usage), r)
                for option in ["--server", "--token", "--output", "--timeout", "--http", "--encoding",
                               "--cacert", "--version", "DROPLIT_SERVER", "DROPLIT_TOKEN"]:
                    self.assertIn(option, r.out, r)
                codes = re.findall(r"^  (\d)  (.+)$", r.out.split("Exit status:")[1], re.M)
                self.assertEqual([int(c) for c, _ in codes], [0, 1, 2, 3, 4, 5, 6], r)
        r = droplit("webhook", "create", "--help", server=None, token=None)
        for option in ["--ecosystemId", "--secret", "--description"]:
            self.assertIn(option, r.out)
        r = droplit("--help", server=None, token=None)
        for command in ["webhook attempts", "webhook recover", "event publish", "event get", "event resend"]:
            self.assertIn("  " + command + " ", r.out)

    def test_default_server_is_the_embedded_configuration(self):
        config = subprocess.run([HOOKGATE, "--print-default-config"], capture_output=True, check=True).stdout
        m = re.search(rb"\{\s*address:\s*([0-9.]+),\s*port:\s*(\d+)\s*\}", config)
        self.assertIsNotNone(m, config)
        default = "http://%s:%s" % (m.group(1).decode(), m.group(2).decode())
        r = droplit("--help", server=None, token=None)
        self.assertIn("else %s" % default, r.out)

    def test_usage_errors(self):
        # DROPLIT_SERVER names a refused port: a usage error must be found before any call
        down = socket.socket()
        down.bind(("127.0.0.1", 0))
        env = {"DROPLIT_SERVER": "http://127.0.0.1:%d" % down.getsockname()[1]}
        url = HOOK
        cases = [
            ([], "no command given"),
            (["hook"], "unknown command 'hook'"),
            (["webhook"], "no webhook command given"),
            (["ecosystem"], "no ecosystem command given (list)"),
            (["ecosystem", "show"], "unknown command 'show'"),
            (["ecosystem", "list", "x"], "unexpected argument 'x'"),
            (["ecosystem", "list", "--output", "id"], "--output id does not apply"),
            (["ecosystem", "list", "--ecosystemId", ECO], "--ecosystemId does not apply"),
            (["webhook", "remove", "x"], "unknown command 'remove'"),
            (["webhook", "update"], "missing ID"),
            (["webhook", "update", "x"], "missing PROPERTY"),
            (["webhook", "update", "x", "url"], "missing VALUE"),
            (["webhook", "update", "x", "url", "u", "more"], "unexpected argument 'more'"),
            (["webhook", "update", "x", "color", "red"], "PROPERTY must be url, secret, description or disabled"),
            (["webhook", "update", "x", "disabled", "yes"], "disabled must be true or false"),
            (["webhook", "update", "x", "url", "u", "--secret", "s"], "--secret does not apply"),
            (["webhook", "delete"], "missing ID"),
            (["webhook", "delete", "a", "b"], "unexpected argument 'b'"),
            (["webhook", "delete", "x", "--ecosystemId", ECO], "--ecosystemId does not apply"),
            (["webhook", "invoke"], "missing ID"),
            (["webhook", "invoke", "a", "b"], "unexpected argument 'b'"),
            (["webhook", "invoke", "x", "--secret", "s"], "--secret does not apply"),
            (["webhook", "create", "--ecosystemId", ECO], "missing CALLBACK-URL"),
            (["webhook", "create", url], "missing --ecosystemId"),
            (["webhook", "create", url, "extra", "--ecosystemId", ECO], "unexpected argument 'extra'"),
            (["webhook", "create", url, "--ecosystemId", ECO, "--ecosystemId", ECO], "--ecosystemId is given twice"),
            (["webhook", "info"], "missing ID"),
            (["webhook", "info", "a", "b"], "unexpected argument 'b'"),
            (["webhook", "list"], "missing --ecosystemId"),
            (["webhook", "list", "x", "--ecosystemId", ECO], "unexpected argument 'x'"),
            (["webhook", "info", "x", "--secret", "s"], "--secret does not apply"),
            (["webhook", "info", "x", "--ecosystemId", ECO], "--ecosystemId does not apply"),
            (["webhook", "list", "--ecosystemId", ECO, "--description", "d"], "--description does not apply"),
            (["webhook", "info", "x", "--bogus"], "unknown option --bogus"),
            (["webhook", "info", "x", "--output"], "--output needs a value"),
            (["webhook", "info", "x", "--help=yes"], "--help takes no value"),
            (["webhook", "info", "x", "--output", "yaml"], "--output must be json, table or id"),
            (["webhook", "info", "x", "--output=yaml"], "--output must be json, table or id"),
            (["webhook", "info", "x", "--timeout", "0"], "--timeout must be"),
            (["webhook", "info", "x", "--timeout", "-1"], "--timeout must be"),
            (["webhook", "info", "x", "--timeout", "soon"], "--timeout must be"),
            (["webhook", "info", "x", "--timeout", "1e9"], "--timeout must be"),
            (["webhook", "info", "x", "--http", "3"], "--http must be 1.1, 2 or 2-prior-knowledge"),
            (["webhook", "info", "x", "--encoding", "xml"], "--encoding must be json or protobuf"),
            (["webhook", "info", "x", "--server", "ftp://example.com"], "the server must be an http://"),
            (["webhook", "info", "x", "--server", "127.0.0.1:8080"], "the server must be an http://"),
            (["webhook", "info", "x", "--token", "two\nlines"], "the token must be one line"),
            (["event"], "no event command given (publish, get or resend)"),
            (["event", "send", "x"], "unknown command 'send'"),
            (["event", "publish", "--ecosystemId", ECO], "missing ITEM-JSON"),
            (["event", "publish", "{}"], "missing --ecosystemId"),
            (["event", "publish", "{}", "--ecosystemId", ECO, "--secret", "s"], "--secret does not apply"),
            (["event", "publish", "{}", "--ecosystemId", ECO, "--output", "table"], "--output table does not apply"),
            (["event", "get"], "missing ID"),
            (["event", "get", "a", "b"], "unexpected argument 'b'"),
            (["event", "get", "a", "--output", "id"], "--output id does not apply"),
            (["event", "get", "a", "--ecosystemId", ECO], "--ecosystemId does not apply"),
            (["event", "resend"], "missing ID"),
            (["event", "resend", "a", "b"], "unexpected argument 'b'"),
            (["event", "resend", "a", "--webhookId", ""], "--webhookId must not be empty"),
            (["event", "resend", "a", "--limit", "2"], "--limit does not apply"),
            (["event", "resend", "a", "--output", "table"], "--output table does not apply"),
            (["webhook", "attempts"], "missing ID"),
            (["webhook", "attempts", "a", "b"], "unexpected argument 'b'"),
            (["webhook", "attempts", "a", "--limit", "0"], "--limit must be a whole number of at least 1"),
            (["webhook", "attempts", "a", "--before", "0"], "--before must be a whole number of at least 1"),
            (["webhook", "attempts", "a", "--before", "-1"], "--before must be a whole number of at least 1"),
            (["webhook", "attempts", "a", "--before", "x"], "--before must be a whole number of at least 1"),
            (["webhook", "attempts", "a", "--before", "1" * 21], "--before must be a whole number of at least 1"),
            (["webhook", "attempts", "a", "--since", "t"], "--since does not apply"),
            (["webhook", "attempts", "a", "--output", "id"], "--output id does not apply"),
            (["webhook", "recover", "a"], "missing --since TIME"),
            (["webhook", "recover", "--since", "t"], "missing ID"),
            (["webhook", "recover", "a", "--since", "t", "--webhookId", "w"], "--webhookId does not apply"),
            (["webhook", "info", "x", "--before", "1"], "--before does not apply"),
            (["webhook", "list", "--ecosystemId", ECO, "--since", "t"], "--since does not apply"),
        ]
        try:
            for args, fragment in cases:
                with self.subTest(args=args):
                    self.assertUsage(droplit(*args, env=env, server=None, token=None), fragment)
            # an empty id cannot make a path: the SDK refuses it before any call
            for command in (["webhook", "info"], ["webhook", "invoke"], ["webhook", "attempts"],
                            ["webhook", "recover", "--since", "2026-01-01T00:00:00Z"]):
                r = droplit(*command[:2], "", *command[2:], env=env, server=None, token=None)
                self.assertFails(r, EXIT_USAGE, ["error: a webhook id is required"])
            for command in ("get", "resend"):
                r = droplit("event", command, "", env=env, server=None, token=None)
                self.assertFails(r, EXIT_USAGE, ["error: an event id is required"])
            # items the SDK cannot read are usage errors naming them; nothing is sent
            for items, line in [(["{}", "[1]"], "error: items[1]: must be a JSON object"),
                                (['{"a":'], "error: items[0]: invalid JSON at line 1, column 5: unexpected token"),
                                (['{"a":1,"a":2}'], "error: items[0]: invalid JSON at line 1, column 10: duplicate object key")]:
                r = droplit("event", "publish", "--ecosystemId", ECO, *items, env=env, server=None, token=None)
                self.assertFails(r, EXIT_USAGE, [line])
            r = droplit("webhook", "recover", "a", "--since", "yesterday", env=env, server=None, token=None)
            self.assertFails(r, EXIT_USAGE, ["error: since: must be an RFC 3339 timestamp"])
        finally:
            down.close()


# --- against the server ---------------------------------------------------------------------


class OutputTest(ConsoleCase):

    def test_create_json(self):
        r = self.create(HOOK, ECO, "--secret", "s3cr3t-value", "--description", "front door")
        self.assertWebhookJson(r.out, ECO, HOOK, "front door")
        self.assertNotIn("s3cr3t", r.out + r.err)

    def test_create_table_and_id(self):
        r = self.create(HOOK, ECO, "--output", "table", "--description", "porch")
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 2, r)
        self.assertEqual(lines[0].split(), ["ID", "ECOSYSTEM", "URL", "DISABLED", "CREATED", "DESCRIPTION"])
        cells = lines[1].split()
        self.assertRegex(cells[0], ID_RE)
        self.assertEqual(cells[1:4], [ECO, HOOK, "false"])
        self.assertRegex(cells[4], CREATED_AT_RE)
        self.assertEqual(cells[5], "porch")
        self.assertEqual(lines[0].index("URL"), lines[1].index(HOOK), "columns not aligned: %r" % r)
        r = self.create(HOOK, ECO, "--output", "id")
        self.assertRegex(r.out, r"^[0-9a-f]{24}\n$")

    def test_info_reads_back_the_same(self):
        created = json.loads(self.create("http://example.org:8080/x?y=z", ECO, "--description", "d").out)
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                r = droplit("webhook", "info", created["id"], "--encoding", encoding)
                self.assertOk(r)
                self.assertEqual(json.loads(r.out), created)
                r = droplit("webhook", "info", created["id"], "--output", "id", "--encoding", encoding)
                self.assertEqual(r.out, created["id"] + "\n")

    def test_list_in_creation_order(self):
        ids = [self.create("https://example.com/list/%d" % i, ECO_LIST, "--output", "id").out.strip()
               for i in range(3)]
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                r = droplit("webhook", "list", "--ecosystemId", ECO_LIST, "--encoding", encoding)
                self.assertOk(r)
                self.assertTrue(r.out.startswith('{\n  "items": [\n'), r)
                obj = json.loads(r.out)
                self.assertEqual(list(obj.keys()), ["items"])
                self.assertEqual([w["id"] for w in obj["items"]], ids)
                self.assertEqual([list(w.keys()) for w in obj["items"]], [WEBHOOK_KEYS] * 3)
                r = droplit("webhook", "list", "--ecosystemId", ECO_LIST, "--output", "id", "--encoding", encoding)
                self.assertEqual(r.out, "".join(i + "\n" for i in ids))
                r = droplit("webhook", "list", "--ecosystemId", ECO_LIST, "--output", "table")
                lines = r.out.splitlines()
                self.assertEqual(len(lines), 4, r)
                self.assertEqual([line.split()[0] for line in lines[1:]], ids)

    def test_list_pages(self):
        """`list` walks every page; --limit / --page-token ask for one, and say how to get the
        next (JSON: its nextPageToken; other outputs: a line on stderr)."""
        ids = [self.create("https://example.com/page/%d" % i, ECO_PAGES, "--output", "id").out.strip()
               for i in range(5)]
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                r = droplit("webhook", "list", "--ecosystemId", ECO_PAGES, "--encoding", encoding)
                self.assertOk(r)
                self.assertEqual(json.loads(r.out), {"items": json.loads(r.out)["items"]})
                self.assertEqual([w["id"] for w in json.loads(r.out)["items"]], ids)  # 5 in pages of 2
                walked, token, pages = [], None, 0
                while True:
                    args = ["webhook", "list", "--ecosystemId", ECO_PAGES, "--limit", "3", "--encoding", encoding]
                    r = droplit(*args + (["--page-token", token] if token else []))
                    self.assertOk(r)
                    obj = json.loads(r.out)
                    walked += [w["id"] for w in obj["items"]]
                    pages += 1
                    token = obj.get("nextPageToken")
                    self.assertEqual(list(obj.keys()), ["items", "nextPageToken"] if token else ["items"])
                    if token is None:
                        break
                self.assertEqual((walked, pages), (ids, 2))
                r = droplit("webhook", "list", "--ecosystemId", ECO_PAGES, "--limit", "2", "--output", "id",
                            "--encoding", encoding)
                self.assertEqual(r.code, 0, r)
                self.assertEqual(r.out, ids[0] + "\n" + ids[1] + "\n")
                m = re.fullmatch(r"next page: --page-token ([A-Za-z0-9_-]+)\n", r.err)
                self.assertIsNotNone(m, r)
                r = droplit("webhook", "list", "--ecosystemId", ECO_PAGES, "--page-token", m.group(1), "--output", "id",
                            "--encoding", encoding)
                self.assertEqual((r.code, r.out), (0, ids[2] + "\n" + ids[3] + "\n"), r)  # the default size
        for encoding in ENCODINGS:
            self.assertFails(droplit("webhook", "list", "--ecosystemId", ECO_PAGES, "--limit", "4",
                                     "--encoding", encoding), EXIT_INVALID, ["error: limit: must be at most 3"])
            self.assertFails(droplit("webhook", "list", "--ecosystemId", ECO_PAGES, "--page-token", "nope",
                                     "--encoding", encoding), EXIT_INVALID,
                             ["error: pageToken: invalid page token (not one this server gave for this ecosystem's list)"])
        for bad in ("0", "-1", "x", "99999999999"):
            self.assertUsage(droplit("webhook", "list", "--ecosystemId", ECO_PAGES, "--limit", bad),
                             "--limit must be a whole number of at least 1")
        self.assertUsage(droplit("webhook", "info", "x", "--limit", "2"), "--limit does not apply")

    def test_ecosystem_list(self):
        # an account token: its account's ecosystems, in the configuration's order, not the
        # deleted one nor another account's; a server token: its own one; no token: 401
        r = droplit("ecosystem", "list")
        self.assertOk(r)
        self.assertEqual([e["id"] for e in json.loads(r.out)["items"]],
                         [ECO, ECO2, ECO_EMPTY, ECO_LIST, ECO_PAGES, ECO_EVENTS])
        r = droplit("ecosystem", "list", token=SERVER_TOKEN)
        self.assertOk(r)
        self.assertEqual(json.loads(r.out), {"items": [{"id": ECO}]})
        r = droplit("ecosystem", "list", "--encoding", "protobuf", token=OTHER_TOKEN)
        self.assertOk(r)
        self.assertEqual(json.loads(r.out), {"items": [{"id": ECO_OTHER}]})
        r = droplit("ecosystem", "list", token=None)
        self.assertEqual(r.code, 5, r)  # 401
        self.assertEqual(r.err, "error: Missing authorization token.\n")

    def test_list_empty(self):
        r = droplit("webhook", "list", "--ecosystemId", ECO_EMPTY)
        self.assertOk(r)
        self.assertEqual(json.loads(r.out), {"items": []})
        r = droplit("webhook", "list", "--ecosystemId", ECO_EMPTY, "--output", "id")
        self.assertOk(r)
        self.assertEqual(r.out, "")
        r = droplit("webhook", "list", "--ecosystemId", ECO_EMPTY, "--output", "table")
        self.assertEqual(r.out.split(), ["ID", "ECOSYSTEM", "URL", "DISABLED", "CREATED", "DESCRIPTION"])

    def test_table_does_not_pass_control_characters(self):
        r = self.create(HOOK, ECO, "--description", "bell\x07 esc\x1b[31m red\nline", "--output", "table")
        self.assertNotIn("\x1b", r.out)
        self.assertNotIn("\x07", r.out)
        self.assertEqual(len(r.out.splitlines()), 2, r)
        r = self.create(HOOK, ECO, "--description", "esc\x1b[31m")
        self.assertNotIn("\x1b", r.out)
        self.assertEqual(json.loads(r.out)["description"], "esc\x1b[31m")

    def test_unicode_description(self):
        r = self.create(HOOK, ECO, "--description", "capteur d'été ☀")
        self.assertEqual(json.loads(r.out)["description"], "capteur d'été ☀")


class EnvironmentTest(ConsoleCase):

    def test_server_and_token_from_the_environment(self):
        env = {"DROPLIT_SERVER": SERVER.url, "DROPLIT_TOKEN": TOKEN}
        r = droplit("webhook", "create", HOOK, "--ecosystemId", ECO, env=env, server=None, token=None)
        self.assertOk(r)
        self.assertWebhookJson(r.out, ECO, HOOK)

    def test_flags_win_over_the_environment(self):
        down = socket.socket()
        down.bind(("127.0.0.1", 0))
        try:
            env = {"DROPLIT_SERVER": "http://127.0.0.1:%d" % down.getsockname()[1], "DROPLIT_TOKEN": "wrong"}
            r = droplit("webhook", "list", "--ecosystemId", ECO, env=env)
            self.assertOk(r)
        finally:
            down.close()

    def test_token_from_the_environment_only(self):
        r = droplit("webhook", "list", "--ecosystemId", ECO, env={"DROPLIT_TOKEN": "wrong"}, token=None)
        self.assertFails(r, EXIT_AUTH, ["error: Invalid authorization token."])
        r = droplit("webhook", "list", "--ecosystemId", ECO, env={"DROPLIT_TOKEN": ""}, token=None)
        self.assertFails(r, EXIT_AUTH, ["error: Missing authorization token."])


class ServerErrorTest(ConsoleCase):
    """Each case in both encodings: the console shows the same lines and exit code."""

    def check(self, args, code, lines, **kw):
        for encoding in ENCODINGS:
            with self.subTest(args=args, encoding=encoding):
                self.assertFails(droplit(*args, "--encoding", encoding, **kw), code, lines)

    # the 400s and the 404 of the "Create a webhook" page

    def test_body_parameters_missing(self):
        self.check(["webhook", "create", "", "--ecosystemId", ""], EXIT_INVALID,
                   ["error: ecosystemId: field is required", "error: url: field is required"])

    def test_ecosystem_missing(self):
        self.check(["webhook", "create", HOOK, "--ecosystemId", ""], EXIT_INVALID,
                   ["error: ecosystemId: field is required"])

    def test_ecosystem_invalid(self):
        for eco in ["C123", ECO.upper(), ECO[1:], "x" + ECO[1:]]:
            self.check(["webhook", "create", HOOK, "--ecosystemId", eco], EXIT_INVALID,
                       ["error: ecosystemId: invalid id"])

    def test_webhook_callback_missing(self):
        self.check(["webhook", "create", "", "--ecosystemId", ECO], EXIT_INVALID,
                   ["error: url: field is required"])

    def test_webhook_callback_invalid(self):
        for url in ["not a url", "ftp://example.com/x", "https://", "https://example.com/" + "a" * 300]:
            self.check(["webhook", "create", url, "--ecosystemId", ECO], EXIT_INVALID,
                       ["error: url: invalid url"])

    def test_create_with_an_idempotency_key_twice_shows_one_webhook(self):
        key = "console-%d-%f" % (os.getpid(), time.time())
        first = self.create(HOOK, ECO, "--output", "id", "--idempotency-key", key)
        again = self.create(HOOK, ECO, "--output", "id", "--idempotency-key", key)
        self.assertRegex(first.out, r"^[0-9a-f]{24}\n$")
        self.assertEqual(again.out, first.out)
        self.assertNotEqual(self.create(HOOK, ECO, "--output", "id").out, first.out)
        self.check(["webhook", "create", HOOK + "/other", "--ecosystemId", ECO, "--idempotency-key", key],
                   EXIT_OTHER, ["error: This Idempotency-Key was used for a different request in the last 24 hours."])
        self.check(["webhook", "create", HOOK, "--ecosystemId", ECO, "--idempotency-key", "k" * 256], EXIT_INVALID,
                   ["error: Idempotency-Key: must be one value of 1 to 255 printable ASCII characters"])

    def test_ecosystem_not_found(self):
        for eco in [ECO_DELETED, ECO_UNKNOWN, ECO_OTHER]:
            self.check(["webhook", "create", HOOK, "--ecosystemId", eco], EXIT_NOT_FOUND,
                       ["error: Ecosystem with id %s does not exist." % eco])

    # the rest of the error table

    def test_every_problem_at_once_in_schema_order(self):
        self.check(["webhook", "create", "nope", "--ecosystemId", "C1", "--secret", "s" * 65,
                    "--description", "d" * 129], EXIT_INVALID,
                   ["error: ecosystemId: invalid id", "error: url: invalid url",
                    "error: secret: must be at most 64 bytes", "error: description: must be at most 128 bytes"])

    def test_body_too_large(self):
        self.check(["webhook", "create", HOOK, "--ecosystemId", ECO, "--description", "x" * 3000], EXIT_OTHER,
                   ["error: Request body exceeds the limit of 2048 bytes."])

    def test_auth(self):
        args = ["webhook", "create", HOOK, "--ecosystemId", ECO]
        self.check(args, EXIT_AUTH, ["error: Missing authorization token."], token=None)
        self.check(args, EXIT_AUTH, ["error: Invalid authorization token."], token="no-such-token")
        self.check(["webhook", "create", HOOK, "--ecosystemId", ECO2], EXIT_AUTH,
                   ["error: Token not permitted for this ecosystem."], token=SERVER_TOKEN)
        self.check(["webhook", "list", "--ecosystemId", ECO2], EXIT_AUTH,
                   ["error: Token not permitted for this ecosystem."], token=SERVER_TOKEN)
        self.check(["webhook", "info", "0" * 24], EXIT_AUTH, ["error: Missing authorization token."], token=None)

    def test_info_errors(self):
        self.check(["webhook", "info", "xyz"], EXIT_INVALID, ["error: id: invalid id"])
        self.check(["webhook", "info", "0" * 24], EXIT_NOT_FOUND,
                   ["error: Webhook with id %s does not exist." % ("0" * 24)])
        wid = self.create(HOOK, ECO, "--output", "id").out.strip()
        self.check(["webhook", "info", wid], EXIT_NOT_FOUND,
                   ["error: Webhook with id %s does not exist." % wid], token=OTHER_TOKEN)

    def test_update_and_delete(self):
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                obj = json.loads(self.create(HOOK, ECO, "--description", "before").out)
                wid = obj["id"]
                # each property alone; nothing printed; the others kept
                for prop, value in [("url", "https://example.com/new"), ("description", "after"),
                                    ("disabled", "true"), ("secret", "")]:
                    r = droplit("webhook", "update", wid, prop, value, "--encoding", encoding)
                    self.assertOk(r)
                    self.assertEqual(r.out, "", r)
                info = json.loads(droplit("webhook", "info", wid).out)
                self.assertEqual(info, dict(obj, url="https://example.com/new", description="after", disabled=True))
                self.assertOk(droplit("webhook", "update", wid, "disabled", "false", "--encoding", encoding,
                                      token=SERVER_TOKEN))
                self.assertIs(json.loads(droplit("webhook", "info", wid).out)["disabled"], False)
                r = droplit("webhook", "delete", wid, "--encoding", encoding)
                self.assertOk(r)
                self.assertEqual(r.out, "", r)
                gone = ["error: Webhook with id %s does not exist." % wid]
                self.assertFails(droplit("webhook", "info", wid), EXIT_NOT_FOUND, gone)
                self.assertFails(droplit("webhook", "delete", wid, "--encoding", encoding), EXIT_NOT_FOUND, gone)
                self.assertFails(droplit("webhook", "update", wid, "url", HOOK, "--encoding", encoding),
                                 EXIT_NOT_FOUND, gone)

    def test_update_and_delete_errors(self):
        wid = self.create(HOOK, ECO, "--output", "id").out.strip()
        self.check(["webhook", "update", wid, "url", "ftp://example.com/"], EXIT_INVALID, ["error: url: invalid url"])
        self.check(["webhook", "update", wid, "url", ""], EXIT_INVALID, ["error: url: field is required"])
        self.check(["webhook", "update", wid, "description", "d" * 129], EXIT_INVALID,
                   ["error: description: must be at most 128 bytes"])
        self.check(["webhook", "update", "xyz", "url", HOOK], EXIT_INVALID, ["error: id: invalid id"])
        self.check(["webhook", "delete", "xyz"], EXIT_INVALID, ["error: id: invalid id"])
        self.check(["webhook", "delete", wid], EXIT_AUTH, ["error: Missing authorization token."], token=None)
        self.check(["webhook", "update", wid, "url", HOOK], EXIT_AUTH, ["error: Invalid authorization token."],
                   token="no-such-token")
        # out of scope: another account's token, a server token of another ecosystem
        other = self.create(HOOK, ECO2, "--output", "id").out.strip()
        for token, target in [(OTHER_TOKEN, wid), (SERVER_TOKEN, other)]:
            gone = ["error: Webhook with id %s does not exist." % target]
            self.check(["webhook", "update", target, "url", HOOK], EXIT_NOT_FOUND, gone, token=token)
            self.check(["webhook", "update", target, "description", "x"], EXIT_NOT_FOUND, gone, token=token)
            self.check(["webhook", "delete", target], EXIT_NOT_FOUND, gone, token=token)
        self.assertEqual(droplit("webhook", "info", other).code, 0)

    def test_list_errors(self):
        self.check(["webhook", "list", "--ecosystemId", ""], EXIT_INVALID, ["error: ecosystemId: field is required"])
        self.check(["webhook", "list", "--ecosystemId", "C12&foo=bar"], EXIT_INVALID,
                   ["error: ecosystemId: invalid id"])
        self.check(["webhook", "list", "--ecosystemId", ECO_DELETED], EXIT_NOT_FOUND,
                   ["error: Ecosystem with id %s does not exist." % ECO_DELETED])


class Receiver:
    """A webhook url on loopback: answers every request with `status`, counting POSTs."""

    def __init__(self, status):
        receiver = self
        self.posts, self.others, self.paths = 0, 0, []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.posts += 1
                    receiver.paths.append(self.path)
                self.send_response(status)
                if status != 204:
                    self.send_header("content-length", "0")
                self.send_header("connection", "close")
                self.end_headers()

            def do_GET(self):
                with receiver.lock:
                    receiver.others += 1
                self.send_response(405)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return self.posts

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class InvokeTest(ConsoleCase):
    """`webhook invoke ID` in both encodings: the server calls the url once per run."""

    @classmethod
    def setUpClass(cls):
        cls.ok, cls.failing = Receiver(204), Receiver(500)

    @classmethod
    def tearDownClass(cls):
        cls.ok.close()
        cls.failing.close()

    def test_verified(self):
        wid = self.create(self.ok.url + "/hook", ECO, "--secret", "s3cr3t", "--output", "id").out.strip()
        for encoding in ENCODINGS:
            for disabled in ("false", "true"):  # a disabled webhook can be invoked
                with self.subTest(encoding=encoding, disabled=disabled):
                    self.assertOk(droplit("webhook", "update", wid, "disabled", disabled))
                    before = self.ok.count()
                    r = droplit("webhook", "invoke", wid, "--encoding", encoding)
                    self.assertOk(r)
                    self.assertEqual(r.out, "Webhook verified\n", r)
                    self.assertEqual(self.ok.count(), before + 1)
                    self.assertEqual(self.ok.paths[-1], "/hook")
        self.assertEqual(self.ok.others, 0)

    def test_url_fails(self):
        wid = self.create(self.failing.url + "/failing", ECO, "--output", "id").out.strip()
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                before = self.failing.count()
                self.assertFails(droplit("webhook", "invoke", wid, "--encoding", encoding), EXIT_OTHER,
                                 ["error: Webhook call failed: the url answered 500"])
                self.assertEqual(self.failing.count(), before + 1)

    def test_id_errors(self):
        wid = self.create(self.ok.url + "/hook", ECO, "--output", "id").out.strip()
        before = self.ok.count()
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                self.assertFails(droplit("webhook", "invoke", "xyz", "--encoding", encoding), EXIT_INVALID,
                                 ["error: id: invalid id"])
                self.assertFails(droplit("webhook", "invoke", "0" * 24, "--encoding", encoding), EXIT_NOT_FOUND,
                                 ["error: Webhook with id %s does not exist." % ("0" * 24)])
                self.assertFails(droplit("webhook", "invoke", wid, "--encoding", encoding, token=OTHER_TOKEN),
                                 EXIT_NOT_FOUND, ["error: Webhook with id %s does not exist." % wid])
                self.assertFails(droplit("webhook", "invoke", wid, "--encoding", encoding, token=None), EXIT_AUTH,
                                 ["error: Missing authorization token."])
        self.assertEqual(self.ok.count(), before)


class EventTest(ConsoleCase):
    """`event publish|get|resend` and `webhook attempts|recover` in both encodings."""

    ITEMS = ['{"temperature":21.5,"unit":"C"}', '{"x":0.1,"tags":["a",{"b":null}],"name":"\u00e9t\u00e9"}']
    EVENT_KEYS = ["id", "ecosystemId", "createdAt", "items", "deliveries"]

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver(204)
        cls.webhook = None

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def hook(self):
        """The one webhook of ECO_EVENTS, a url of the receiver (made once)."""
        if EventTest.webhook is None:
            EventTest.webhook = self.create(self.receiver.url + "/events", ECO_EVENTS, "--output", "id").out.strip()
        return EventTest.webhook

    def publish(self, eco, *args):
        r = droplit("event", "publish", "--ecosystemId", eco, *args)
        self.assertOk(r)
        return r

    def settled(self, eid, deliveries):
        """The event once it has its deliveries and none is pending."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            r = droplit("event", "get", eid)
            self.assertOk(r)
            ev = json.loads(r.out)
            if len(ev["deliveries"]) == deliveries and all(d["state"] != "pending" for d in ev["deliveries"]):
                return ev
            self.assertLess(time.monotonic(), deadline, r)
            time.sleep(0.05)

    def test_publish_and_get(self):
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                r = self.publish(ECO_EMPTY, *self.ITEMS, "--encoding", encoding)
                self.assertTrue(r.out.startswith('{\n  "id": "'), r)
                obj = json.loads(r.out)
                self.assertEqual(list(obj.keys()), ["id", "webhooks"])
                self.assertRegex(obj["id"], ID_RE)
                self.assertEqual(obj["webhooks"], 0)  # an ecosystem without webhooks
                r = droplit("event", "get", obj["id"], "--encoding", encoding)
                self.assertOk(r)
                ev = json.loads(r.out)
                self.assertEqual(list(ev.keys()), self.EVENT_KEYS)
                self.assertEqual((ev["id"], ev["ecosystemId"]), (obj["id"], ECO_EMPTY))
                self.assertRegex(ev["createdAt"], CREATED_AT_RE)
                self.assertEqual(ev["items"], [json.loads(i) for i in self.ITEMS])
                self.assertEqual(ev["deliveries"], [])
                # the codec's text, indented: 0.1 stays 0.1, the nesting shows, non-ASCII as is
                self.assertIn('\n  "items": [\n    {\n      "temperature": 21.5,\n      "unit": "C"\n    },\n'
                              '    {\n      "x": 0.1,\n      "tags": [\n        "a",\n        {\n'
                              '          "b": null\n        }\n      ],\n      "name": "\u00e9t\u00e9"\n    }\n  ],\n'
                              '  "deliveries": []\n}\n', r.out)
                r = droplit("event", "resend", obj["id"], "--encoding", encoding)
                self.assertOk(r)
                self.assertEqual(r.out, '{\n  "deliveries": 0\n}\n')
                r = self.publish(ECO_EMPTY, "{}", "--output", "id", "--encoding", encoding)
                self.assertRegex(r.out, r"^[0-9a-f]{24}\n$")

    def test_publish_with_an_idempotency_key_twice_shows_one_event(self):
        key = "console-event-%d-%f" % (os.getpid(), time.time())
        first = self.publish(ECO_EMPTY, "{}", "--output", "id", "--idempotency-key", key)
        again = self.publish(ECO_EMPTY, "{}", "--output", "id", "--idempotency-key", key, "--encoding", "protobuf")
        self.assertEqual(again.out, first.out)
        self.assertNotEqual(self.publish(ECO_EMPTY, "{}", "--output", "id").out, first.out)

    def test_delivered_and_attempts(self):
        wid = self.hook()
        before = self.receiver.count()
        ids = []
        for encoding in ENCODINGS:
            obj = json.loads(self.publish(ECO_EVENTS, '{"door":"open"}', "--encoding", encoding).out)
            self.assertEqual(obj["webhooks"], 1)
            ev = self.settled(obj["id"], 1)
            self.assertEqual(ev["deliveries"], [{"webhookId": wid, "state": "delivered", "attempts": 1,
                                                 "nextAttemptAt": None, "lastStatusCode": 204, "lastError": ""}])
            ids.append(obj["id"])
        self.assertEqual(self.receiver.count(), before + 2)
        self.assertEqual(self.receiver.paths[-1], "/events")
        for encoding in ENCODINGS:
            with self.subTest(encoding=encoding):
                r = droplit("webhook", "attempts", wid, "--encoding", encoding)
                self.assertOk(r)
                page = json.loads(r.out)
                self.assertEqual(list(page.keys()), ["items"])
                self.assertEqual([a["eventId"] for a in page["items"]][:2], ids[::-1])  # newest first
                a = page["items"][0]
                self.assertEqual(list(a.keys()), ["seq", "eventId", "attempt", "trigger", "startedAt", "durationMs",
                                                  "statusCode", "error", "response"])
                self.assertEqual((a["attempt"], a["trigger"], a["statusCode"], a["error"]), (1, "scheduled", 204, ""))
                # one at a time: nextBefore (a uint64, so a string) leads to the older one
                r = droplit("webhook", "attempts", wid, "--limit", "1", "--encoding", encoding)
                self.assertOk(r)
                page = json.loads(r.out)
                self.assertEqual(list(page.keys()), ["items", "nextBefore"])
                self.assertEqual(page["items"][0]["eventId"], ids[1])
                self.assertRegex(page["nextBefore"], r"^[0-9]+$")
                r = droplit("webhook", "attempts", wid, "--limit", "1", "--before", page["nextBefore"],
                            "--encoding", encoding)
                self.assertOk(r)
                self.assertEqual(json.loads(r.out)["items"][0]["eventId"], ids[0])
                # nothing failed, so nothing to recover
                r = droplit("webhook", "recover", wid, "--since", "2000-01-01T00:00:00Z", "--encoding", encoding)
                self.assertOk(r)
                self.assertEqual(r.out, '{\n  "deliveries": 0\n}\n')
        self.assertEqual(self.receiver.count(), before + 2)

    def check(self, args, code, lines, **kw):
        for encoding in ENCODINGS:
            with self.subTest(args=args, encoding=encoding):
                self.assertFails(droplit(*args, "--encoding", encoding, **kw), code, lines)

    def test_errors(self):
        wid = self.hook()
        self.check(["event", "publish", "--ecosystemId", "", "{}"], EXIT_INVALID,
                   ["error: ecosystemId: field is required"])
        self.check(["event", "publish", "--ecosystemId", "C1"] + ["{}"] * (MAX_ITEMS + 1), EXIT_INVALID,
                   ["error: ecosystemId: invalid id", "error: items: must hold at most 3 items"])
        self.check(["event", "publish", "--ecosystemId", ECO_DELETED, "{}"], EXIT_NOT_FOUND,
                   ["error: Ecosystem with id %s does not exist." % ECO_DELETED])
        self.check(["event", "publish", "--ecosystemId", ECO_EMPTY, "{}"], EXIT_AUTH,
                   ["error: Missing authorization token."], token=None)
        self.check(["event", "get", "xyz"], EXIT_INVALID, ["error: id: invalid id"])
        self.check(["event", "get", "0" * 24], EXIT_NOT_FOUND,
                   ["error: Event with id %s does not exist." % ("0" * 24)])
        self.check(["event", "resend", "0" * 24], EXIT_NOT_FOUND,
                   ["error: Event with id %s does not exist." % ("0" * 24)])
        self.check(["event", "resend", "0" * 24, "--webhookId", "xyz"], EXIT_INVALID,
                   ["error: webhookId: invalid id"])
        self.check(["webhook", "attempts", wid, "--limit", "4"], EXIT_INVALID, ["error: limit: must be at most 3"])
        self.check(["webhook", "attempts", "0" * 24], EXIT_NOT_FOUND,
                   ["error: Webhook with id %s does not exist." % ("0" * 24)])
        self.check(["webhook", "attempts", wid], EXIT_NOT_FOUND,
                   ["error: Webhook with id %s does not exist." % wid], token=OTHER_TOKEN)
        self.check(["webhook", "recover", "0" * 24, "--since", "2026-01-01T00:00:00+02:00"], EXIT_NOT_FOUND,
                   ["error: Webhook with id %s does not exist." % ("0" * 24)])
        eid = self.publish(ECO_EMPTY, "{}", "--output", "id").out.strip()
        self.check(["event", "get", eid], EXIT_NOT_FOUND, ["error: Event with id %s does not exist." % eid],
                   token=OTHER_TOKEN)


class ProtocolTest(ConsoleCase):
    """The access log shows the HTTP version each call used."""

    def last_access(self, start):
        """The one access line logged since start (the server writes it after its loop
        iteration, a moment after the answer)."""
        deadline = time.monotonic() + 5
        while True:
            lines = [line for line in SERVER.log(start).splitlines() if line.startswith("access ")]
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(len(lines), 1, lines)
        return lines[0]

    def test_http_versions(self):
        for server, args, version in [(SERVER.url, ["--http", "1.1"], "HTTP/1.1"),
                                      (SERVER.url, ["--http", "2"], "HTTP/1.1"),  # no ALPN on cleartext
                                      (SERVER.url, ["--http", "2-prior-knowledge"], "HTTP/2.0"),
                                      (SERVER.tls_url, ["--cacert", SERVER.cert], "HTTP/2.0"),
                                      (SERVER.tls_url, ["--cacert", SERVER.cert, "--http", "1.1"], "HTTP/1.1")]:
            for encoding in ENCODINGS:
                with self.subTest(server=server, args=args, encoding=encoding):
                    start = SERVER.log_size()
                    r = self.create(HOOK, ECO, "--encoding", encoding, *args, server=server)
                    self.assertWebhookJson(r.out, ECO, HOOK)
                    line = self.last_access(start)
                    self.assertTrue(line.startswith("access POST /api/webhooks 201 "), line)
                    self.assertTrue(line.endswith(version), line)

    def test_untrusted_certificate(self):
        r = droplit("webhook", "list", "--ecosystemId", ECO, server=SERVER.tls_url)
        self.assertEqual(r.code, EXIT_TRANSPORT, r)
        self.assertEqual(r.out, "", r)
        self.assertTrue(r.err.startswith("error: %s cannot be reached: " % SERVER.tls_url), r)
        self.assertIn("certificate", r.err)
        self.assertEqual(len(r.err.splitlines()), 1, r)


# --- transport failures ---------------------------------------------------------------------


class Silent:
    """A loopback listener that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class TransportTest(ConsoleCase):

    def test_server_down(self):
        down = socket.socket()  # bound, not listening: connections are refused
        down.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % down.getsockname()[1]
        try:
            for args in (["webhook", "create", HOOK, "--ecosystemId", ECO],
                         ["webhook", "info", "0" * 24],
                         ["event", "get", "0" * 24],
                         ["webhook", "list", "--ecosystemId", ECO]):
                with self.subTest(args=args):
                    r = droplit(*args, server=url)
                    self.assertEqual(r.code, EXIT_TRANSPORT, r)
                    self.assertEqual(r.out, "", r)
                    self.assertTrue(r.err.startswith("error: %s cannot be reached: " % url), r)
                    self.assertIn("onnect", r.err)
                    self.assertEqual(len(r.err.splitlines()), 1, r)
        finally:
            down.close()

    def test_server_too_slow(self):
        silent = Silent()
        try:
            for args in (["webhook", "create", HOOK, "--ecosystemId", ECO],
                         ["webhook", "list", "--ecosystemId", ECO, "--http", "2-prior-knowledge"]):
                with self.subTest(args=args):
                    r = droplit(*args, "--timeout", "0.5", server=silent.url)
                    self.assertEqual(r.code, EXIT_TRANSPORT, r)
                    self.assertEqual(r.out, "", r)
                    self.assertTrue(r.err.startswith("error: %s did not answer within 0.5 s (--timeout): "
                                                     % silent.url), r)
                    self.assertIn("timed out", r.err)
                    self.assertEqual(len(r.err.splitlines()), 1, r)
        finally:
            silent.close()


def main():
    global DROPLIT, HOOKGATE, TMP, SERVER
    if len(sys.argv) < 3:
        sys.exit("usage: test_console.py path/to/droplit path/to/hookgate [unittest args]")
    DROPLIT, HOOKGATE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="droplit-console-") as tmp:
        TMP = tmp
        SERVER = Server()
        try:
            prog = unittest.main(argv=[sys.argv[0]] + sys.argv[3:], exit=False, verbosity=2)
        finally:
            SERVER.stop()
        rc = SERVER.proc.returncode
        if rc != 0:
            print("hookgate exited with %r after SIGTERM; log tail:\n%s" % (rc, SERVER.log()[-2000:]))
            sys.exit(1)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
