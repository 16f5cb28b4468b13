#!/usr/bin/python3
"""Clients that do not read their answers (server/net/outflow.h): on every listener —
HTTP/1.1 and HTTP/2, cleartext and TLS, native gRPC — a connection whose answer does not
move for server.write_timeout_ms is reset (a client's PINGs are no progress), a connection
holding server.max_connection_output_bytes gets 503 / RESOURCE_EXHAUSTED for new work, all
connections together holding server.max_buffered_bytes get the same, and a client that
reads slowly but steadily is served whole.

usage: test_output.py PATH/TO/hookgate"""
import http.client
import json
import os
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest

# test_ops takes the binary's path from argv (and removes it) when imported
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_ops as ops  # noqa: E402

ECO = "C5156b8ace57896adb6dae592"
TOKEN = b"demo-token"
WRITE_TIMEOUT_MS = 2000
CONNECTION_CAP = 65536  # the smallest allowed
BUDGET = 1048576  # the smallest allowed
WEBHOOKS = 400  # a list answer of about 150 KB: over CONNECTION_CAP, under a seventh of BUDGET
WAIT_S = 20  # generous upper bound for a close that write_timeout_ms should bring within 2 s


def literal(name, value):
    """An HPACK literal without indexing, new name, no Huffman (lengths under 127)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_get(stream, path):
    block = b"\x82\x86" + literal(b":path", path) + literal(b":authority", b"x") + literal(b"authorization", TOKEN)
    return ops.h2_frame(1, 0x5, stream, block)  # HEADERS, END_HEADERS | END_STREAM


def grpc_list(stream):
    # ListWebhooksRequest: ecosystem_id, limit (varint)
    msg = b"\x0a" + bytes([len(ECO)]) + ECO.encode() + b"\x10" + bytes([WEBHOOKS & 0x7f | 0x80, WEBHOOKS >> 7])
    block = (b"\x83\x86" + literal(b":path", b"/droplit.webhooks.v1.WebhookService/ListWebhooks") +
             literal(b":authority", b"x") + literal(b"content-type", b"application/grpc") +
             literal(b"te", b"trailers") + literal(b"authorization", TOKEN))
    return (ops.h2_frame(1, 0x4, stream, block) +
            ops.h2_frame(0, 0x1, stream, b"\x00" + struct.pack(">I", len(msg)) + msg))


class Reader:
    """The client end of an HTTP/2 connection that chooses what it reads: the server's
    frames are parsed as they come (HEADERS blocks kept per stream, DATA bytes counted)."""

    def __init__(self, sock):
        self.sock, self.buf, self.eof = sock, b"", False
        self.headers, self.data = {}, {}

    def pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.eof = True
                    break
                self.buf += chunk
                while len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big"):
                    length = int.from_bytes(self.buf[:3], "big")
                    kind, stream = self.buf[3], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
                    payload = self.buf[9:9 + length]
                    if kind == 1:
                        self.headers.setdefault(stream, []).append(payload)
                    elif kind == 0:
                        self.data[stream] = self.data.get(stream, 0) + length
                    self.buf = self.buf[9 + length:]
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except OSError:
            self.eof = True

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.eof = True

    def status(self, stream):
        """200 or 503 from the first HEADERS block of stream (h2o sends :status 200 as
        static index 8, any other status as a literal with its digits), None before it."""
        blocks = self.headers.get(stream)
        if not blocks:
            return None
        if blocks[0][:1] == b"\x88":
            return 200
        return int(blocks[0][2:5]) if blocks[0][:2] == b"\x08\x03" else -1

    def wait_for(self, predicate, seconds=5):
        deadline = time.monotonic() + seconds
        while not predicate() and not self.eof and time.monotonic() < deadline:
            self.pump(0.05)
        return predicate()

    def closed_within(self, seconds, keep_pinging=False):
        """True when the server ends the connection within seconds; with keep_pinging the
        client sends a PING every 100 ms meanwhile (which must not keep it open)."""
        deadline = time.monotonic() + seconds
        while not self.eof and time.monotonic() < deadline:
            if keep_pinging:
                self.send(ops.h2_frame(6, 0, 0, b"12345678"))
            self.pump(0.1)
        return self.eof


def window_zero(sock):
    """The client preface with SETTINGS_INITIAL_WINDOW_SIZE = 0: no stream may send DATA."""
    sock.sendall(ops.H2_PREFACE + ops.h2_frame(4, 0, 0, struct.pack(">HI", 4, 0)))
    return Reader(sock)


class TestUnreadAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-output-%d-" % os.getpid())
        cls.port, cls.tls_port, cls.grpc_port = ops.free_port(), ops.free_port(), ops.free_port()
        cert, key = ops.self_signed_certificate(cls.tmp)
        ops.start_server(cls, "output",
                         "server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n"
                         "    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }\n"
                         "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ], idle_timeout_ms: 600000 }\n"
                         "  idle_timeout_ms: 600000\n  request_timeout_ms: 600000\n"
                         "  write_timeout_ms: %d\n  max_connection_output_bytes: %d\n  max_buffered_bytes: %d\n"
                         "accounts:\n  - id: demo\n    tokens: [ demo-token ]\n    ecosystems: [ { id: %s } ]\n"
                         % (cls.port, cls.tls_port, cert, key, cls.grpc_port, WRITE_TIMEOUT_MS, CONNECTION_CAP,
                            BUDGET, ECO))
        conn = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=10)
        for i in range(WEBHOOKS):
            body = json.dumps({"ecosystemId": ECO, "url": "https://example.com/hooks/%d" % i,
                               "description": "d" * 200})
            conn.request("POST", "/api/webhooks", body, {"authorization": "demo-token",
                                                         "content-type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status == 201, r.status
        cls.list_path = b"/api/webhooks?ecosystemId=%s&limit=%d" % (ECO.encode(), WEBHOOKS)  # one page, all
        conn.request("GET", cls.list_path.decode(), headers={"authorization": "demo-token"})
        cls.answer_len = len(conn.getresponse().read())
        assert CONNECTION_CAP < cls.answer_len < BUDGET // 6, cls.answer_len
        conn.close()

    @classmethod
    def tearDownClass(cls):
        ops.stop_server(cls)

    def metric(self, name, labels=frozenset()):
        return ops.parse_exposition(ops.get(self.port, "/metrics")[1].decode()).get((name, labels), 0)

    def refused(self, scope):
        return self.metric("hookgate_requests_refused_buffered_total", frozenset({("scope", scope)}))

    def tls_h2(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls_port)), server_hostname="localhost")
        self.assertEqual(sock.selected_alpn_protocol(), "h2")
        return sock

    def test_h2_window_zero_healthz_is_closed_despite_pings(self):
        before = self.metric("hookgate_connections_write_timeout_total")
        for connect in (lambda: socket.create_connection(("127.0.0.1", self.port)), self.tls_h2):
            with connect() as sock:
                peer = window_zero(sock)
                peer.send(h2_get(1, b"/healthz"))
                self.assertTrue(peer.wait_for(lambda: peer.status(1) == 200), "no answer's HEADERS came")
                self.assertTrue(peer.closed_within(WAIT_S, keep_pinging=True),
                                "an HTTP/2 answer the client never let through kept its connection open")
        self.assertEqual(self.metric("hookgate_connections_write_timeout_total") - before, 2)

    def test_http1_client_that_never_reads_is_closed(self):
        # an answer far larger than the socket buffers can take, so it waits in the server
        peer = socket.socket()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer.connect(("127.0.0.1", self.port))
        before = self.metric("hookgate_connections_write_timeout_total")
        with peer:
            requests = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\nauthorization: demo-token\r\n\r\n" % self.list_path
                                for _ in range(60))  # answered one after another: about 9 MB in all
            peer.sendall(requests)
            # the client reads nothing until the server says it gave up on it
            deadline = time.monotonic() + WAIT_S
            while self.metric("hookgate_connections_write_timeout_total") == before and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.metric("hookgate_connections_write_timeout_total") - before, 1)
            received, closed = 0, False
            deadline = time.monotonic() + WAIT_S
            peer.settimeout(1)
            while time.monotonic() < deadline:
                try:
                    chunk = peer.recv(1 << 20)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                received += len(chunk)
            self.assertTrue(closed, "an HTTP/1.1 client that stopped reading kept its connection open")
            self.assertLess(received, 60 * self.answer_len, "every answer arrived: the client was never cut off")

    def test_slow_steady_h2_reader_is_served_whole(self):
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            peer = window_zero(sock)
            peer.send(h2_get(1, self.list_path))
            self.assertTrue(peer.wait_for(lambda: peer.status(1) == 200))
            started = time.monotonic()
            # 8 KiB every 250 ms (a 16 KiB chunk every 500 ms, a quarter of write_timeout_ms), for
            # longer than write_timeout_ms, and the answer's last chunks never
            deadline = time.monotonic() + WAIT_S
            while not peer.eof and peer.data.get(1, 0) < self.answer_len - 2 * 16384 and time.monotonic() < deadline:
                peer.send(ops.h2_frame(8, 0, 1, struct.pack(">I", 8192)) +
                          ops.h2_frame(8, 0, 0, struct.pack(">I", 8192)))
                peer.pump(0.25)
            self.assertFalse(peer.eof, "a client that kept reading was cut off")
            self.assertGreaterEqual(peer.data.get(1, 0), self.answer_len - 2 * 16384)
            self.assertGreater(time.monotonic() - started, WRITE_TIMEOUT_MS / 1000)
            # and once it stops reading, it is cut off
            self.assertTrue(peer.closed_within(WAIT_S))

    def test_connection_cap_refuses_new_work_on_that_connection(self):
        before = self.refused("connection")
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            peer = window_zero(sock)
            peer.send(h2_get(1, self.list_path))  # admitted: the connection held nothing
            self.assertTrue(peer.wait_for(lambda: peer.status(1) == 200))
            peer.send(h2_get(3, self.list_path) + h2_get(5, b"/healthz"))
            self.assertTrue(peer.wait_for(lambda: peer.status(3) is not None and peer.status(5) is not None))
            self.assertEqual(peer.status(3), 503, "new work on a connection over its cap was not refused")
            self.assertEqual(peer.status(5), 200, "/healthz is not refused")
        self.assertEqual(self.refused("connection") - before, 1)
        # another connection is served meanwhile
        self.assertEqual(ops.get(self.port, "/api/webhooks/000000000000000000000000")[0], 401)

    def test_process_budget_refuses_new_work_everywhere_until_answers_drain(self):
        before = self.refused("server")
        held = []
        try:
            # each connection holds one answer (admitted: it held nothing) until the budget is full
            for i in range(BUDGET // 100000 + 2):
                sock = socket.create_connection(("127.0.0.1", self.port))
                peer = window_zero(sock)
                held.append(sock)
                peer.send(h2_get(1, self.list_path))
                self.assertTrue(peer.wait_for(lambda: peer.status(1) is not None))
                if peer.status(1) == 503:
                    break
            self.assertEqual(peer.status(1), 503, "the connections held more than server.max_buffered_bytes")
            self.assertGreaterEqual(self.metric("hookgate_buffered_bytes"), BUDGET)
            # the REST answer is Droplit's plain 503 on any connection; /healthz still answers
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", self.list_path.decode(), headers={"authorization": "demo-token"})
            r = c.getresponse()
            self.assertEqual((r.status, r.getheader("content-type")), (503, "text/plain; charset=utf-8"))
            self.assertIn(b"retry later", r.read())
            c.close()
            self.assertEqual(ops.get(self.port, "/healthz")[0], 200)
            # Connect says resource_exhausted
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("POST", "/droplit.webhooks.v1.WebhookService/ListWebhooks", json.dumps({"ecosystemId": ECO}),
                      {"authorization": "demo-token", "content-type": "application/json"})
            r = c.getresponse()
            self.assertEqual(json.loads(r.read())["code"], "resource_exhausted")
            c.close()
            self.assertGreaterEqual(self.refused("server") - before, 3)
        finally:
            for sock in held:
                sock.close()
        # the closed connections give their answers back, and new work is admitted again
        # (the gauge counts /metrics answers too: one just read by this client may still be
        # charged on another loop, so the value that ended the wait is the one asserted)
        deadline = time.monotonic() + WAIT_S
        held = self.metric("hookgate_buffered_bytes")
        while held > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            held = self.metric("hookgate_buffered_bytes")
        self.assertEqual(held, 0)
        self.assertEqual(ops.get(self.port, "/api/webhooks?ecosystemId=" + ECO)[0], 401)  # no token: not 503

    def test_grpc_window_zero_is_closed_and_capped(self):
        before_closed = self.metric("hookgate_connections_write_timeout_total")
        before_refused = self.refused("connection")
        with socket.create_connection(("127.0.0.1", self.grpc_port)) as sock:
            peer = window_zero(sock)
            peer.send(grpc_list(1))
            self.assertTrue(peer.wait_for(lambda: 1 in peer.headers), "no answer's HEADERS came")
            peer.send(grpc_list(3))  # the first answer fills the connection: RESOURCE_EXHAUSTED
            self.assertTrue(peer.wait_for(lambda: 3 in peer.headers))
            self.assertTrue(peer.closed_within(WAIT_S, keep_pinging=True),
                            "a gRPC answer the client never let through kept its connection open")
        self.assertEqual(self.metric("hookgate_connections_write_timeout_total") - before_closed, 1)
        self.assertEqual(self.refused("connection") - before_refused, 1)
        samples = ops.parse_exposition(ops.get(self.port, "/metrics")[1].decode())
        exhausted = sum(v for (n, l), v in samples.items()
                        if n == "hookgate_requests_total" and ("protocol", "grpc") in l and ("grpc_status", "8") in l)
        self.assertGreaterEqual(exhausted, 1)


if __name__ == "__main__":
    if not ops.BINARY or not os.access(ops.BINARY, os.X_OK):
        sys.exit("usage: test_output.py PATH/TO/hookgate")
    sys.exit(0 if unittest.main(verbosity=2, exit=False).result.wasSuccessful() else 1)
