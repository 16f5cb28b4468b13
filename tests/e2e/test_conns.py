#!/usr/bin/python3
"""Connection places and file descriptors (issue 12, items 2 and 6): squatters that send
only the HTTP/2 preface and PINGs are closed to make room for a real client when
server.max_connections is full, and a connection that brought a request is not;
server.max_connections_per_address; an HTTP/2 or gRPC connection that sends only PINGs is
closed as idle; under a low descriptor limit the cap is lowered at start so the journal still
rotates; when accept() runs out of descriptors the server pauses (one log line, counted
in /metrics) and answers again once connections close.

Usage: tests/e2e/test_conns.py PATH/TO/hookgate   (standard library only; the helpers are
test_ops.py's)
"""
import concurrent.futures
import http.server
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_ops as ops  # noqa: E402  (takes the binary from sys.argv, as it does when run itself)

SETTINGS = ops.h2_frame(4, 0, 0)
PING = ops.h2_frame(6, 0, 0, b"12345678")
ECO = "C5156b8ace57896adb6dae592"


def squat(port):
    """A connection that sends the HTTP/2 preface, SETTINGS and a PING, and no request."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(ops.H2_PREFACE + SETTINGS + PING)
    return s


def ends(sock, seconds):
    """True when the server closes sock within seconds, whatever it sends before."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if sock.recv(65536) == b"":
                return True
    except socket.timeout:
        return False
    except OSError:
        return True
    return False


def served(sock):
    """Sends GET /healthz on an open HTTP/1.1 connection; True when it is answered 200."""
    try:
        sock.settimeout(5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return sock.recv(4096).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def open_served(port):
    """A new HTTP/1.1 connection that got a 200 and stays open; retried while refused, for
    5 s: less than server.idle_timeout_ms (10 s), after which h2o would close squatters."""
    deadline = time.monotonic() + 5
    while True:
        s = socket.create_connection(("127.0.0.1", port))
        if served(s):
            return s
        s.close()
        if time.monotonic() > deadline:
            raise AssertionError("a real client was not served within 5 s")
        time.sleep(0.05)


def try_get(port, path="/healthz"):
    """The status of GET path on a new connection, or None when the connection failed."""
    try:
        return ops.get(port, path)[0]
    except OSError:
        return None


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("not within %d s: %s" % (seconds, what))
        time.sleep(0.05)


def metric(port, name, labels=frozenset()):
    status, body = ops.get(port, "/metrics")
    assert status == 200
    return ops.parse_exposition(body.decode()).get((name, frozenset(labels)), 0)


def log_lines(holder, needle):
    with open(holder.log_path) as f:
        return [line for line in f if needle in line]


class TestSquatters(unittest.TestCase):
    """The cap (8) full of connections that sent the preface and PINGs, on the HTTP and the
    native gRPC listener: a real client is still served, the squatters make room."""

    CAP = 8

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-squat-%d-" % os.getpid())
        cls.port, cls.grpc_port = ops.free_port(), ops.free_port()
        ops.start_server(cls, "squat",
                         "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                         "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ] }\n  threads: 2\n"
                         "  max_connections: %d\n  max_connections_per_address: 0\n  idle_eviction_ms: 200\n"
                         "accounts: []\n" % (cls.port, cls.grpc_port, cls.CAP))

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def test_squatters_make_room_and_a_served_connection_stays(self):
        keep = socket.create_connection(("127.0.0.1", self.port))
        self.assertTrue(served(keep))  # brought a request: never evicted
        squatters = [squat(self.port if i % 2 else self.grpc_port) for i in range(2 * self.CAP)]
        clients = []
        try:
            for s in squatters:  # the server has read what they sent (its SETTINGS come back)
                s.settimeout(5)
                try:
                    s.recv(1)
                except OSError:
                    pass  # over the cap: closed at once
            # every other place is taken by real clients that stay connected, each served
            # once a squatter has had its 200 ms
            for _ in range(self.CAP - 1):
                clients.append(open_served(self.port))
            # so every place holds a connection that brought a request: no squatter is left
            for s in squatters:
                try:
                    s.sendall(PING)
                except OSError:
                    pass
                self.assertTrue(ends(s, 5), "a squatter kept its place")
            self.assertTrue(served(keep), "the connection that brought a request was closed")
        finally:
            for s in [keep] + clients + squatters:
                s.close()
        wait_for(lambda: try_get(self.port) == 200, 5, "a place again")
        self.assertGreaterEqual(metric(self.port, "hookgate_connections_evicted_total"), 1)



class TestPerAddress(unittest.TestCase):
    """server.max_connections_per_address: 3 from 127.0.0.1, the fourth is closed at once."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-peraddr-%d-" % os.getpid())
        cls.port = ops.free_port()
        ops.start_server(cls, "peraddr",
                         "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
                         "  max_connections_per_address: 3\naccounts: []\n" % cls.port)

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def test_the_address_over_its_limit_is_refused(self):
        held = []
        try:
            # three served connections (retried: an earlier client's connection may count for
            # the address until the server has seen it close)
            for _ in range(3):
                held.append(open_served(self.port))
            extra = socket.create_connection(("127.0.0.1", self.port))
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(ops.closed_by_server(extra, 5), "a fourth connection from one address was served")
            extra.close()
            held.pop().close()
            wait_for(lambda: try_get(self.port) == 200, 5, "a place freed for the address")
        finally:
            for s in held:
                s.close()
        # every connection is closed now, but the server may not have seen the last one go
        # before the next arrives: the counter is read once a connection is served
        wait_for(lambda: try_get(self.port) == 200, 5, "the address below its limit")
        refused = None
        for _ in range(50):
            try:
                refused = metric(self.port, "hookgate_connections_refused_total", {("reason", "address")})
                break
            except OSError:
                time.sleep(0.05)
        self.assertIsNotNone(refused, "/metrics was never served")
        self.assertGreaterEqual(refused, 1)


class TestPings(unittest.TestCase):
    """An HTTP/2 connection (h2o's listener, or native gRPC) that sends only PINGs is idle:
    closed after server.idle_timeout_ms (within two of them) or server.grpc.idle_timeout_ms."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-pings-%d-" % os.getpid())
        cls.port, cls.grpc_port = ops.free_port(), ops.free_port()
        ops.start_server(cls, "pings",
                         "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  idle_timeout_ms: 300\n"
                         "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ], idle_timeout_ms: 300 }\n"
                         "accounts: []\n" % (cls.port, cls.grpc_port))

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def assert_pings_do_not_keep(self, port):
        peer = ops.H2Peer(squat(port))
        deadline = time.monotonic() + 10  # PINGs every 100 ms for up to 10 s
        while not peer.eof and time.monotonic() < deadline:
            peer.send(PING)
            peer.pump(0.1)
        self.assertGreater(peer.ping_acks, 0)  # the PINGs were read and answered
        self.assertTrue(peer.eof, "a connection sending only PINGs stayed open")
        peer.sock.close()

    def test_http2(self):
        self.assert_pings_do_not_keep(self.port)

    def test_grpc(self):
        self.assert_pings_do_not_keep(self.grpc_port)


class TestGrpcHandshake(unittest.TestCase):
    """A client of the native gRPC TLS listener that never starts its handshake is closed
    after server.handshake_timeout_ms (it held its place for ever)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-grpctls-%d-" % os.getpid())
        cls.port, cls.grpc_port = ops.free_port(), ops.free_port()
        cert, key = ops.self_signed_certificate(cls.tmp)
        ops.start_server(cls, "grpctls",
                         "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  handshake_timeout_ms: 300\n"
                         "  grpc: { listen: [ { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } } ] }\n"
                         "accounts: []\n" % (cls.port, cls.grpc_port, cert, key))

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def test_a_handshake_that_never_comes_is_cut(self):
        with socket.create_connection(("127.0.0.1", self.grpc_port)) as s:
            self.assertTrue(ends(s, 10), "a gRPC TLS connection that never started its handshake stayed open")


def create(port, n):
    """A create (POST /api/webhooks) on a new connection; its status, or None."""
    body = json.dumps({"ecosystemId": ECO, "url": "https://example.com/hook/%d" % n,
                       "description": "x" * 200}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/api/webhooks" % port, data=body, method="POST",
                                 headers={"authorization": "token-a", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except OSError:
        return None


def start_limited(holder, name, config, nofile):
    """ops.start_server, with RLIMIT_NOFILE (soft and hard) set to nofile in the server."""
    real = subprocess.Popen
    try:
        subprocess.Popen = lambda *a, **k: real(
            *a, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)), **k)
        ops.start_server(holder, name, config)
    finally:
        subprocess.Popen = real


class TestLowDescriptorLimit(unittest.TestCase):
    """RLIMIT_NOFILE 64 and 120 idle connections (issue 12, item 6): the cap is lowered at
    start with a warning, a real client is served, creates are journaled and the journal
    rotates (a snapshot is written) while the idle connections stay open."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-nofile-%d-" % os.getpid())
        cls.port = ops.free_port()
        cls.data = os.path.join(cls.tmp, "data")
        start_limited(cls, "nofile",
                      "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
                      "  max_connections_per_address: 0\n  idle_eviction_ms: 200\n"
                      "store: { path: %s, snapshot_after_bytes: 4096 }\n"
                      "delivery: { max_concurrent_invokes: 2, max_in_flight: 2 }\n"  # their descriptors are set aside too
                      "accounts:\n  - id: acme\n    tokens: [ token-a ]\n    ecosystems: [ { id: %s } ]\n"
                      % (cls.port, cls.data, ECO), 64)

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def test_idle_connections_leave_the_journal_its_descriptors(self):
        idle = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(120)]
        try:
            wait_for(lambda: try_get(self.port) == 200, 10, "a real client served beside 120 idle connections")
            n = 0
            while not any(f.startswith("snapshot.") and f != "snapshot.0" and not f.endswith(".tmp")
                          for f in os.listdir(self.data)):
                self.assertLess(n, 200, "no snapshot after 200 creates of 4096-byte journals")
                status = create(self.port, n)
                self.assertIn(status, (201, None))  # None: no place this time (the idle ones hold them)
                n += 1
                time.sleep(0.01) if status is None else None
            self.assertEqual(log_lines(self, "Too many open files"), [])
            self.assertEqual(log_lines(self, "could not"), [])
            self.assertEqual(len(log_lines(self, "WARNING: the file descriptor limit (64) allows")), 1)
        finally:
            for s in idle:
                s.close()


class TestInvokesUnderLowDescriptorLimit(unittest.TestCase):
    """RLIMIT_NOFILE 200, idle connections holding every place the cap allows: as many invokes
    as delivery.max_concurrent_invokes allows, at once, each still finds descriptors for its
    outbound call (socket and resolver), set aside from the cap at start."""

    INVOKES = 32

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-nofile-invoke-%d-" % os.getpid())
        cls.port = ops.free_port()

        class Slow(http.server.BaseHTTPRequestHandler):  # answers after a while: the calls overlap
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(0.5)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        cls.receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        start_limited(cls, "nofile-invoke",
                      "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
                      "  max_connections_per_address: 0\n  idle_eviction_ms: 200\n"
                      "delivery: { max_concurrent_invokes: %d, max_in_flight: 2, allow_networks: [ 127.0.0.0/8 ] }\n"
                      "accounts:\n  - id: acme\n    tokens: [ token-a ]\n    ecosystems: [ { id: %s } ]\n"
                      % (cls.port, cls.INVOKES, ECO), 200)

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)
        cls.receiver.shutdown()
        cls.receiver.server_close()

    def call(self, method, path, body=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=body, method=method,
                                     headers={"authorization": "token-a", "content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_every_invoke_allowed_finds_its_descriptors(self):
        status, answer = self.call("POST", "/api/webhooks", json.dumps(
            {"ecosystemId": ECO, "url": "http://127.0.0.1:%d/hook" % self.receiver.server_address[1]}).encode())
        self.assertEqual(status, 201, answer)
        wid = json.loads(answer)["id"]
        # idle connections up to the cap (more than it allows: the rest are refused)
        idle = []
        try:
            for _ in range(200):
                try:
                    idle.append(socket.create_connection(("127.0.0.1", self.port)))
                except OSError:
                    break
            time.sleep(0.4)  # accepted (or refused) all, and past their grace: the first to go for a real client
            with concurrent.futures.ThreadPoolExecutor(self.INVOKES) as ex:
                got = list(ex.map(lambda _: self.call("POST", "/api/webhooks/%s/invoke" % wid), range(self.INVOKES)))
        finally:
            for sock in idle:
                sock.close()
        # a refused invoke may only be a connection the full cap refused, never a call without a descriptor
        self.assertEqual([g for g in got if g != (200, "Webhook verified")], [])
        self.assertEqual(log_lines(self, "Too many open files"), [])


class TestAcceptPause(unittest.TestCase):
    """accept() out of descriptors (the limit lowered under the running server): the loops
    pause accepting instead of spinning, say so once, count each pause, and serve again once
    connections close."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-emfile-%d-" % os.getpid())
        cls.port = ops.free_port()
        ops.start_server(cls, "emfile",
                         "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
                         "  max_connections_per_address: 0\naccounts: []\n" % cls.port)

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def test_pause_is_logged_once_and_counted(self):
        pid = self.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        wait_for(lambda: metric(self.port, "hookgate_connections_open") <= 1, 5, "the readiness check's close")
        open_now = len(os.listdir("/proc/%d/fd" % pid))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_now + 3, hard))
        held = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(20)]
        try:
            wait_for(lambda: log_lines(self, "cannot accept a connection"), 5, "the pause logged")
            time.sleep(0.5)  # the shortage lasts half a second: several pauses of 100 ms, one line
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        finally:
            for s in held:
                s.close()
        wait_for(lambda: try_get(self.port) == 200, 10, "a real client served once the connections closed")
        # one line when a shortage starts and one when it ends, not one per pause (a
        # connection closing meanwhile, the scrape's, may end a shortage and start another)
        shortages = len(log_lines(self, "cannot accept a connection"))
        self.assertGreaterEqual(shortages, 1)
        self.assertEqual(len(log_lines(self, "accepting connections again")), shortages)
        self.assertGreater(metric(self.port, "hookgate_accept_pauses_total"), shortages)


if __name__ == "__main__":
    if not ops.BINARY or not os.access(ops.BINARY, os.X_OK):
        sys.exit("usage: test_conns.py PATH/TO/hookgate")
    before = ops.leftovers()
    result = unittest.main(verbosity=2, exit=False).result
    left = ops.leftovers() - before
    if left:
        print("test_conns.py left temporary directories behind: %s" % ", ".join(sorted(left)), file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if result.wasSuccessful() else 1)
