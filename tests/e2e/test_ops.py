#!/usr/bin/python3
"""Operational endpoints and limits: /readyz, server.max_connections, the timeouts that
close slow clients (server.request_timeout_ms, idle_timeout_ms, handshake_timeout_ms), and
the per-token create rate (limits.creates_per_second_per_token), the HTTP/2 rapid-reset
budget (limits.resets_per_second_per_connection), SIGHUP reloads, and the JSON access log
with request ids (server.access_log: json, the x-request-id header), and GET /metrics in
Prometheus' text format.

Usage: tests/e2e/test_ops.py PATH/TO/hookgate   (standard library only)
"""
import os
import socket
import struct
import http.client
import json
import re
import signal
import ssl
import subprocess
import sys
import shutil
import tempfile
import time
import unittest
import urllib.error
import urllib.request

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""
MAX_CONNECTIONS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_server(holder, name, config=None):
    """Starts hookgate on holder.tmp/<name>.yaml, first written with config when given
    (holder.port must be its port), stdout and stderr into holder.tmp/server.log; sets
    holder.config, holder.log_path, holder.proc and holder.log and returns once GET /healthz
    answers."""
    holder.config = os.path.join(holder.tmp, name + ".yaml")
    if config is not None:
        with open(holder.config, "w") as f:
            f.write(config)
    holder.log_path = os.path.join(holder.tmp, "server.log")
    holder.log = open(holder.log_path, "w+")
    holder.proc = subprocess.Popen([BINARY, "--config", holder.config], stdout=holder.log, stderr=holder.log)
    deadline = time.monotonic() + 10
    while True:
        try:
            if get(holder.port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        if holder.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("hookgate did not start")
        time.sleep(0.05)


def stop_server(holder):
    """Stops the server and removes the class's temporary directory (config, log, store)."""
    holder.proc.terminate()
    holder.proc.wait(timeout=10)
    holder.log.close()
    shutil.rmtree(holder.tmp, ignore_errors=True)


def self_signed_certificate(tmp):
    """A certificate for localhost and its key, as PEM files in tmp: (certificate, key)."""
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-days", "1", "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def closed_by_server(sock, timeout):
    """True when the server closes sock (EOF or reset) within timeout seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class TestOps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-ops-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "ops",
                     "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
                     "  max_connections: %d\naccounts: []\n" % (cls.port, MAX_CONNECTIONS))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def test_readyz_memory_only(self):
        self.assertEqual(get(self.port, "/readyz"), (200, b"ready\n"))

    def test_connections_over_the_cap_are_closed(self):
        held = []
        try:
            # fill every place with a served, kept-alive connection (a client's earlier
            # connection may hold a place until the server has seen it close: retry)
            for _ in range(MAX_CONNECTIONS):
                held.append(self.open_served())
            # one more is closed at once, without an answer
            extra = socket.create_connection(("127.0.0.1", self.port))
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(closed_by_server(extra, 5), "a connection over server.max_connections was served")
            extra.close()
            # a place freed is a place taken again
            held.pop().close()
            held.append(self.open_served())
        finally:
            for s in held:
                s.close()
            self.wait_for_a_place()

    def open_served(self):
        """A connection that got a 200 and stays open; retried while the server is full."""
        deadline = time.monotonic() + 5
        while True:
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(2)
            try:
                answer = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                answer = b""
            if answer.startswith(b"HTTP/1.1 200"):
                return s
            s.close()
            self.assertLess(time.monotonic(), deadline, "no place was given within 5 s")
            time.sleep(0.05)

    def wait_for_a_place(self):
        """Until the server has seen the closes: other tests need places."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)


class TestSlowClients(unittest.TestCase):
    """Slowloris on HTTP/1.1, a silent HTTP/2 connection, a TLS handshake that never comes:
    each is closed after its timeout (500 ms here), while a normal client is served."""

    TIMEOUT_MS = 500

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-slow-%d-" % os.getpid())
        cls.port, cls.tls_port = free_port(), free_port()
        cert, key = self_signed_certificate(cls.tmp)
        start_server(cls, "slow",
                     "server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n"
                     "    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }\n"
                     "  request_timeout_ms: %d\n  idle_timeout_ms: %d\n  handshake_timeout_ms: %d\n"
                     "accounts: []\n" % (cls.port, cls.tls_port, cert, key, cls.TIMEOUT_MS, cls.TIMEOUT_MS,
                                        cls.TIMEOUT_MS))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def test_http1_request_sent_byte_by_byte_is_cut(self):
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.settimeout(0.2)
            started = time.monotonic()
            closed = False
            for byte in request:  # one byte every 100 ms: the request would take 20 s
                try:
                    s.sendall(bytes([byte]))
                    if s.recv(1) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if time.monotonic() - started > 10:
                    break
            self.assertTrue(closed, "a request trickling in was never cut off")

    def test_silent_http2_connection_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass  # the server's SETTINGS, then GOAWAY, then EOF
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("a silent HTTP/2 connection stayed open")

    def test_http2_preface_that_stops_half_way_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n")
            self.assertTrue(closed_by_server(s, 10), "a connection stuck in the HTTP/2 preface stayed open")

    def test_tls_handshake_that_never_comes_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.tls_port)) as s:
            self.assertTrue(closed_by_server(s, 10), "a connection that never started TLS stayed open")

    def test_normal_clients_are_served(self):
        self.assertEqual(get(self.port, "/healthz")[0], 200)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen("https://127.0.0.1:%d/healthz" % self.tls_port, context=ctx, timeout=5) as r:
            self.assertEqual(r.status, 200)


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def h2_get_then_reset(stream, path=b"/healthz", extra=b"", post=False):
    """HEADERS for GET path (HPACK literals, no Huffman: nothing to encode) and at once
    RST_STREAM (CANCEL) for the same stream. post: a POST whose body never comes, so no
    handler ever runs for it."""
    block = (b"\x83" if post else b"\x82") + (  # :method POST / GET (static table)
        b"\x86"  # :scheme http
        + b"\x04" + bytes([len(path)]) + path  # :path, literal value
        + b"\x01\x09127.0.0.1" + extra)  # :authority
    flags = 0x4 if post else 0x5  # END_HEADERS, and END_STREAM for the GET
    return h2_frame(1, flags, stream, block) + h2_frame(3, 0, stream, struct.pack(">I", 8))


class H2Peer:
    """The client end of a raw HTTP/2 connection, in one thread (an ssl socket must not be
    read and written from two): drains what the server sends between writes, noting
    GOAWAY, PING ACK and the end of the connection."""

    def __init__(self, sock):
        self.sock, self.buf, self.goaway, self.ping_acks, self.eof = sock, b"", False, 0, False

    def pump(self, timeout):
        """Reads what arrives within timeout seconds (until the first quiet moment)."""
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                data = self.sock.recv(65536)
                if not data:
                    self.eof = True
                    break
                self.buf += data
                while len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big"):
                    kind, flags, length = self.buf[3], self.buf[4], int.from_bytes(self.buf[:3], "big")
                    self.goaway |= kind == 7
                    self.ping_acks += kind == 6 and flags & 1
                    self.buf = self.buf[9 + length:]
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except OSError:
            self.eof = True

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            # the server closed while we were writing (a reset, when our bytes reached a
            # closed socket): what it sent before closing is still ours to read
            self.pump(0.5)
            self.eof = True

    def closed_within(self, seconds):
        deadline = time.monotonic() + seconds
        while not self.eof and time.monotonic() < deadline:
            self.pump(0.1)
        return self.eof


def h2_flood(sock, pairs, extra=b"", post=False):
    """Sends the preface, then up to `pairs` HEADERS+RST_STREAM pairs, 100 per write, while
    the connection lasts; returns (pairs sent, peer)."""
    peer = H2Peer(sock)
    peer.send(H2_PREFACE + h2_frame(4, 0, 0))
    sent = 0
    while sent < pairs and not peer.eof:
        peer.send(b"".join(h2_get_then_reset(2 * (sent + i) + 1, extra=extra, post=post) for i in range(100)))
        sent += 100
        peer.pump(0.001)
    return sent, peer


class TestRapidReset(unittest.TestCase):
    """HTTP/2 rapid reset (CVE-2023-44487): a client that opens and cancels streams faster than
    limits.resets_per_second_per_connection loses its connection, on cleartext, TLS and the
    native gRPC listener alike; other clients, and a client that resets a few streams, are
    served throughout."""

    BUDGET = 50
    FLOOD = 20000  # pairs: far over the budget, and far over h2o's 100 concurrent streams

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-reset-%d-" % os.getpid())
        cls.port, cls.tls_port, cls.grpc_port = free_port(), free_port(), free_port()
        cert, key = self_signed_certificate(cls.tmp)
        start_server(cls, "reset",
                     "server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n"
                     "    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }\n"
                     "  grpc: { listen: [ { address: 127.0.0.1, port: %d }], idle_timeout_ms: 60000 }\n"
                     "  threads: 2\n  idle_timeout_ms: 60000\n"  # so only the budget can close a connection
                     "limits: { resets_per_second_per_connection: %d }\naccounts: []\n"
                     % (cls.port, cls.tls_port, cert, key, cls.grpc_port, cls.BUDGET))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def assert_flood_is_cut(self, sock, pairs=FLOOD, extra=b"", post=False):
        with sock:
            sent, peer = h2_flood(sock, pairs, extra, post)
            self.assertTrue(peer.closed_within(5), "the flooding connection stayed open after %d resets" % sent)
        return peer

    def test_cleartext_flood_is_cut_and_others_are_served(self):
        before = parse_exposition(get(self.port, "/metrics")[1].decode())
        self.assert_flood_is_cut(socket.create_connection(("127.0.0.1", self.port)))
        self.assertEqual(get(self.port, "/healthz")[0], 200)
        h2 = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                             "http://127.0.0.1:%d/healthz" % self.port], capture_output=True, text=True).stdout
        self.assertEqual(h2, "200")
        after = parse_exposition(get(self.port, "/metrics")[1].decode())
        key = ("hookgate_connections_reset_flood_total", frozenset())
        self.assertGreaterEqual(after[key] - before.get(key, 0), 1)
        with open(self.log_path) as log:
            self.assertIn("more than %d stream resets a second" % self.BUDGET, log.read())

    def test_flood_of_requests_whose_body_never_comes_is_cut(self):
        # no handler runs for these: only the frames show the flood
        self.assert_flood_is_cut(socket.create_connection(("127.0.0.1", self.port)), post=True)
        self.assertEqual(get(self.port, "/healthz")[0], 200)

    def test_tls_flood_is_cut(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.tls_port)))
        self.assertEqual(sock.selected_alpn_protocol(), "h2")
        self.assert_flood_is_cut(sock)

    def test_grpc_flood_is_cut(self):
        # 600 resets: over the budget, under nghttp2's own default (a burst of 1000)
        grpc_headers = b"\x00\x0ccontent-type\x10application/grpc"
        reader = self.assert_flood_is_cut(socket.create_connection(("127.0.0.1", self.grpc_port)), 600, grpc_headers)
        self.assertTrue(reader.goaway, "nghttp2 closed the connection without GOAWAY")

    def test_a_few_resets_are_fine(self):
        for port in (self.port, self.grpc_port):
            with socket.create_connection(("127.0.0.1", port)) as s:
                peer = H2Peer(s)
                peer.send(H2_PREFACE + h2_frame(4, 0, 0)
                          + b"".join(h2_get_then_reset(2 * i + 1) for i in range(self.BUDGET // 2))
                          + h2_frame(6, 0, 0, b"12345678"))
                deadline = time.monotonic() + 5
                while peer.ping_acks == 0 and not peer.eof and time.monotonic() < deadline:
                    peer.pump(0.1)
                self.assertEqual(peer.ping_acks, 1, "port %d" % port)
                peer.pump(0.3)
                self.assertFalse(peer.eof, "port %d" % port)


class TestUnknownFrames(unittest.TestCase):
    """Frames of a type HTTP/2 does not define (here PRIORITY_UPDATE, RFC 9218, which neither
    library knows) are ignored, as RFC 9113 §5.5 wants, without a log line each: h2o 2.2.5
    would write "skipping frame" to stderr for every one, so 1,000 of them were 1,000 lines.
    On the h2o listener the frame scanner discards them unread and counts them in
    hookgate_http2_unknown_frames_total; on the gRPC listener nghttp2 ignores them quietly.
    Inside a header block such a frame is still a connection error (RFC 9113 §6.10)."""

    N = 1000
    BOUND = 2  # new log lines allowed for the whole run of frames (the server writes none)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-unknown-%d-" % os.getpid())
        cls.port, cls.grpc_port = free_port(), free_port()
        start_server(cls, "unknown",
                     "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  access_log: \"off\"\n"
                     "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ] }\naccounts: []\n"
                     % (cls.port, cls.grpc_port))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def log_lines(self):
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()

    def unknown_total(self):
        return parse_exposition(get(self.port, "/metrics")[1].decode())[("hookgate_http2_unknown_frames_total",
                                                                           frozenset())]

    def flood(self, port):
        """N PRIORITY_UPDATE frames (type 0x10) in one write, then a PING: its ACK comes once
        every frame before it was read. Returns the peer, still connected."""
        update = h2_frame(0x10, 0, 0, struct.pack(">I", 1) + b"u=1")
        peer = H2Peer(socket.create_connection(("127.0.0.1", port)))
        peer.send(H2_PREFACE + h2_frame(4, 0, 0) + update * self.N + h2_frame(6, 0, 0, b"8 bytes!"))
        deadline = time.monotonic() + 10
        while peer.ping_acks == 0 and not peer.eof and time.monotonic() < deadline:
            peer.pump(0.1)
        self.assertEqual(peer.ping_acks, 1, "no PING ACK after the frames")
        self.assertFalse(peer.eof or peer.goaway, "the connection ended over frames to be ignored")
        return peer

    def assert_bounded_log(self, port):
        before = self.log_lines()
        peer = self.flood(port)
        peer.sock.close()
        added = self.log_lines()[len(before):]
        self.assertLessEqual(len(added), self.BOUND, added[:5])
        self.assertFalse([line for line in added if "skipping frame" in line], added[:5])

    def test_h2o_listener(self):
        before = self.unknown_total()
        self.assert_bounded_log(self.port)
        self.assertEqual(self.unknown_total() - before, self.N)

    def test_grpc_listener(self):
        self.assert_bounded_log(self.grpc_port)

    def test_unknown_frame_inside_a_header_block_is_a_connection_error(self):
        block = b"\x82\x86\x04\x08/healthz"  # GET, http, :path; :authority comes in the CONTINUATION
        peer = H2Peer(socket.create_connection(("127.0.0.1", self.port)))
        peer.send(H2_PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x1, 1, block)  # END_STREAM, no END_HEADERS
                  + h2_frame(0x10, 0, 0, struct.pack(">I", 1) + b"u=1")
                  + h2_frame(9, 0x4, 1, b"\x01\x09127.0.0.1"))
        self.assertTrue(peer.closed_within(10), "an unknown frame inside a header block was let through")
        self.assertTrue(peer.goaway)
        peer.sock.close()


def read_frames(sock, until, seconds=10):
    """The server's frames as (type, flags, stream, payload) until until(frames) holds, the
    connection ends or seconds pass."""
    frames, buf, deadline = [], b"", time.monotonic() + seconds
    sock.settimeout(0.2)
    while not until(frames) and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length = int.from_bytes(buf[:3], "big")
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff, buf[9:9 + length]))
            buf = buf[9 + length:]
    return frames


class TestUppercaseHeaderNames(unittest.TestCase):
    """A request whose header block has an upper-case field name is malformed (RFC 9113
    §8.2.1) and is never served. Neither library answers with a plain stream reset on every
    listener, and both answers are ones the RFC allows: h2o 2.2.5 answers a Huffman-coded
    name 400 on the stream (§8.1.1: a server MAY send a response to a malformed request
    before closing the stream) and a literal one with GOAWAY PROTOCOL_ERROR (§5.4.1: an
    endpoint MAY treat a stream error as a connection error); nghttp2, on the gRPC
    listener, resets the stream (RST_STREAM PROTOCOL_ERROR) and keeps the connection."""

    # "x-up: 1" with the name as "X-Up": literally, and Huffman-coded (RFC 7541 Appendix B)
    LITERAL = b"\x00\x04X-Up\x011"
    HUFFMAN = b"\x00\x84" + bytes.fromhex("fc5b7d7f") + b"\x011"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-upper-%d-" % os.getpid())
        cls.port, cls.grpc_port = free_port(), free_port()
        start_server(cls, "upper",
                     "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  access_log: \"off\"\n"
                     "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ] }\naccounts: []\n"
                     % (cls.port, cls.grpc_port))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def healthz_served(self):
        metrics = parse_exposition(get(self.port, "/metrics")[1].decode())
        return sum(v for (name, labels), v in metrics.items()
                   if name == "hookgate_requests_total" and ("route", "healthz") in labels)

    @staticmethod
    def get_healthz(stream, extra=b""):
        block = b"\x82\x86\x04\x08/healthz\x01\x09127.0.0.1" + extra  # GET, http, :path, :authority
        return h2_frame(1, 0x5, stream, block)

    def test_huffman_name_on_the_http_listener_is_400_and_the_connection_lives_on(self):
        served = self.healthz_served()
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.sendall(H2_PREFACE + h2_frame(4, 0, 0) + self.get_healthz(1, self.HUFFMAN))
            frames = read_frames(sock, lambda fs: any(t == 0 and f & 1 and s == 1 for t, f, s, _ in fs))
            data = b"".join(p for t, _, s, p in frames if t == 0 and s == 1)
            self.assertIn(b"invalid character in header name", data)
            self.assertFalse([f for f in frames if f[0] == 7], "GOAWAY for a stream's error")
            # the next request of the connection is served
            sock.sendall(self.get_healthz(3))
            frames = read_frames(sock, lambda fs: any(t == 0 and f & 1 and s == 3 for t, f, s, _ in fs))
            self.assertEqual(b"".join(p for t, _, s, p in frames if t == 0 and s == 3), b"ok\n")
        self.assertEqual(self.healthz_served() - served, 1, "the malformed request reached the handler")

    def test_literal_name_on_the_http_listener_ends_the_connection(self):
        served = self.healthz_served()
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.sendall(H2_PREFACE + h2_frame(4, 0, 0) + self.get_healthz(1, self.LITERAL))
            frames = read_frames(sock, lambda fs: any(t == 7 for t, _, _, _ in fs))
            goaway = [p for t, _, _, p in frames if t == 7]
            self.assertEqual(len(goaway), 1, frames)
            self.assertEqual(int.from_bytes(goaway[0][4:8], "big"), 1)  # PROTOCOL_ERROR
            self.assertFalse([f for f in frames if f[0] in (0, 1) and f[2] == 1], "stream 1 was answered")
        self.assertEqual(self.healthz_served(), served)

    def test_grpc_listener_resets_the_stream(self):
        block = (b"\x83\x86\x04\x1c/grpc.health.v1.Health/Check\x01\x09127.0.0.1"
                 b"\x00\x0ccontent-type\x10application/grpc\x00\x02te\x08trailers")
        for name in (self.LITERAL, self.HUFFMAN):
            with self.subTest(encoding="huffman" if name == self.HUFFMAN else "literal"), \
                    socket.create_connection(("127.0.0.1", self.grpc_port)) as sock:
                sock.sendall(H2_PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x5, 1, block + name)
                             + h2_frame(6, 0, 0, b"8 bytes!"))
                frames = read_frames(sock, lambda fs: any(t == 6 and f & 1 for t, f, _, _ in fs)
                                     and any(t == 3 for t, _, _, _ in fs))
                resets = [(s, int.from_bytes(p, "big")) for t, _, s, p in frames if t == 3]
                self.assertEqual(resets, [(1, 1)])  # stream 1, PROTOCOL_ERROR
                self.assertFalse([f for f in frames if f[0] in (1, 7)], "answered, or the connection ended")


class TestContinuationFlood(unittest.TestCase):
    """HTTP/2 CONTINUATION flood (the CVE-2024-27316 family; h2o 2.2.5 takes empty
    CONTINUATION frames without end, one event loop at 100% CPU): a header block of more
    CONTINUATION frames than hookgate allows closes the connection, counted in /metrics;
    other clients, and a header block in a few CONTINUATION frames, are served throughout."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-cont-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "cont", "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                                  "  idle_timeout_ms: 60000\naccounts: []\n" % cls.port)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def headers_in_pieces(self, stream, pieces, path=b"/healthz"):
        """A GET whose header block is cut into HEADERS + pieces-1 CONTINUATION frames."""
        block = b"\x82\x86\x04" + bytes([len(path)]) + path + b"\x01\x09127.0.0.1"
        cuts = [block[:1]] + [b""] * (pieces - 2) + [block[1:]] if pieces > 1 else [block]
        frames = h2_frame(1, 0x1 | (0x4 if pieces == 1 else 0), stream, cuts[0])
        for i, piece in enumerate(cuts[1:], 1):
            frames += h2_frame(9, 0x4 if i == pieces - 1 else 0, stream, piece)
        return frames

    def test_flood_is_cut_and_others_are_served(self):
        before = parse_exposition(get(self.port, "/metrics")[1].decode())
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            peer = H2Peer(sock)
            peer.send(H2_PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x1, 1, b"\x82"))
            empty = h2_frame(9, 0, 1) * 1000
            for _ in range(200):  # 200,000 empty CONTINUATION frames, unless cut first
                peer.send(empty)
                if peer.eof:
                    break
            self.assertTrue(peer.closed_within(5), "the flooding connection stayed open")
        self.assertEqual(get(self.port, "/healthz")[0], 200)
        after = parse_exposition(get(self.port, "/metrics")[1].decode())
        key = ("hookgate_connections_continuation_flood_total", frozenset())
        self.assertGreaterEqual(after[key] - before.get(key, 0), 1)
        with open(self.log_path) as log:
            self.assertIn("CONTINUATION frames", log.read())

    def test_a_header_block_in_a_few_pieces_is_served(self):
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            peer = H2Peer(sock)
            peer.send(H2_PREFACE + h2_frame(4, 0, 0) + self.headers_in_pieces(1, 5) + h2_frame(6, 0, 0, b"12345678"))
            deadline = time.monotonic() + 5
            while peer.ping_acks == 0 and not peer.eof and time.monotonic() < deadline:
                peer.pump(0.1)
            self.assertEqual(peer.ping_acks, 1)
            self.assertFalse(peer.eof)


class TestRequestTargets(unittest.TestCase):
    """The request target is checked before it is routed: a percent-encoded "/" or NUL inside
    a segment is a 400 (it was routed as a separator, or cut the id short), an HTTP/2 :path
    without its leading "/" is a 400, and HTTP/1.1's absolute form is served by its path."""

    ECO = "C5156b8ace57896adb6dae592"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-target-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "target", "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                                    "accounts: [ { id: acme, tokens: [ tok ], ecosystems: [ { id: %s } ] } ]\n"
                                    % (cls.port, cls.ECO))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def curl(self, *args):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "authorization: tok"]
                             + list(args), capture_output=True, text=True, check=True).stdout
        return int(out)

    def test_encoded_separators_and_nul(self):
        base = "http://127.0.0.1:%d" % self.port
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("POST", "/api/webhooks", json.dumps({"ecosystemId": self.ECO, "url": "https://e.com/h"}),
                     {"authorization": "tok", "content-type": "application/json"})
        r = conn.getresponse()
        webhook = json.loads(r.read())
        conn.close()
        self.assertEqual(self.curl(base + "/api/webhooks/" + webhook["id"]), 200)
        for extra in ([], ["--http2-prior-knowledge"]):
            self.assertEqual(self.curl(*extra, "--path-as-is", base + "/api/webhooks/%s%%00junk" % webhook["id"]), 400)
            self.assertEqual(self.curl(*extra, "--path-as-is", base + "/api%%2fwebhooks/%s" % webhook["id"]), 400)
            self.assertEqual(self.curl(*extra, "--path-as-is", base + "/api%%2Fwebhooks?ecosystemId=" + self.ECO), 400)
            self.assertEqual(self.curl(*extra, base + "/api/webhooks?ecosystemId=" + self.ECO), 200)

    def test_absolute_form(self):
        self.assertEqual(self.curl("--request-target", "http://127.0.0.1:%d/healthz" % self.port,
                                   "http://127.0.0.1:%d/" % self.port), 200)
        self.assertEqual(self.curl("--request-target", "http://127.0.0.1:%d/api/webhooks?ecosystemId=%s"
                                   % (self.port, self.ECO), "http://127.0.0.1:%d/" % self.port), 200)

    def test_h2_path_without_slash(self):
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            block = b"\x82\x86\x04\x07healthz\x01\x09127.0.0.1"  # GET, http, :path "healthz"
            sock.sendall(H2_PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x5, 1, block))
            sock.settimeout(5)
            buf = b""
            while True:
                while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                    length, kind, stream = int.from_bytes(buf[:3], "big"), buf[3], int.from_bytes(buf[5:9], "big")
                    if kind == 1 and stream == 1:
                        self.assertEqual(buf[9:10], b"\x8c")  # :status 400, from HPACK's static table
                        return
                    buf = buf[9 + length:]
                data = sock.recv(65536)
                self.assertTrue(data, "the connection closed without an answer")
                buf += data


class TestRequestFraming(unittest.TestCase):
    """HTTP/1.1 request smuggling's building blocks (RFC 9112 §6.1, §6.3): a head whose body
    length another hop could read differently — two different Content-Lengths, Content-Length
    with Transfer-Encoding, Transfer-Encoding other than one "chunked" or on HTTP/1.0, obs-fold
    — is answered 400 and its connection closed, so the request hidden behind it is never
    served; on cleartext and TLS, and on the second request of a pipelined connection too.
    Counted in /metrics. A Content-Length that is not a number, or white space before a colon,
    was already refused by h2o itself. An HTTP/2 request with two different content-length
    values (h2o keeps the last) is malformed (RFC 9113 §8.1.1): answered 400, on cleartext and
    TLS, while the connection's other requests are served."""

    HIDDEN = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"  # 34 bytes
    POST = b"POST /healthz HTTP/1.1\r\nHost: x\r\n"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-framing-%d-" % os.getpid())
        cls.port, cls.tls_port = free_port(), free_port()
        cert, key = self_signed_certificate(cls.tmp)
        start_server(cls, "framing",
                     "server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n"
                     "    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }\n"
                     "accounts: []\n" % (cls.port, cls.tls_port, cert, key))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def exchange(self, data, tls=False, answers=None):
        """Sends data on a new connection and reads until the server closes it, or, with
        answers, until that many answers to GET /healthz ("ok\\n") have come; the status lines
        read, and whether the server closed the connection."""
        sock = socket.create_connection(("127.0.0.1", self.tls_port if tls else self.port))
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            sock = ctx.wrap_socket(sock)
        with sock:
            sock.sendall(data)
            sock.settimeout(5)
            got, closed = b"", False
            while answers is None or got.count(b"\r\n\r\nok\n") < answers:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                got += chunk
        return re.findall(rb"HTTP/1\.1 (\d+)", got), closed

    def assert_refused(self, head_and_body, tls=False):
        statuses, closed = self.exchange(head_and_body + self.HIDDEN, tls)
        self.assertEqual(statuses, [b"400"], head_and_body)
        self.assertTrue(closed, head_and_body)

    def test_ambiguous_lengths_are_refused_and_close(self):
        before = parse_exposition(get(self.port, "/metrics")[1].decode())
        refused = [
            b"Content-Length: 0\r\nContent-Length: 34\r\n\r\n",
            b"Content-Length: 0\r\nContent-Length: +0\r\n\r\n",
            b"Content-Length: 39\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"Transfer-Encoding: chunked\r\nContent-Length: 39\r\n\r\n0\r\n\r\n",
            b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"Content-Length: 0\r\n 34\r\n\r\n",
        ]
        for tls in (False, True):
            for headers in refused:
                self.assert_refused(self.POST + headers, tls)
            self.assert_refused(b"POST /healthz HTTP/1.0\r\nConnection: keep-alive\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", tls)
        after = parse_exposition(get(self.port, "/metrics")[1].decode())
        key = ("hookgate_http1_framing_refused_total", frozenset())
        self.assertEqual(after[key] - before.get(key, 0), 2 * (len(refused) + 1))

    def test_already_refused_by_h2o(self):
        for headers in (b"Content-Length: +0\r\n\r\n", b"Content-Length: 0, 0\r\n\r\n",
                        b"Content-Length : 0\r\n\r\n"):
            self.assert_refused(self.POST + headers)

    def test_every_pipelined_request_is_checked(self):
        smuggling = self.POST + b"Content-Length: 39\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        for tls in (False, True):
            statuses, closed = self.exchange(self.HIDDEN + smuggling + self.HIDDEN, tls)
            self.assertEqual(statuses, [b"200", b"400"])
            self.assertTrue(closed)

    def h2_statuses(self, streams, tls=False):
        """Sends, on one HTTP/2 connection, a POST /healthz on each of streams (id: list of
        content-length values; the body is 2 bytes, as the last value says, which is all h2o
        checks) and returns {id: first byte of the answer's header block} (0x8c is :status 400
        from HPACK's static table)."""
        sock = socket.create_connection(("127.0.0.1", self.tls_port if tls else self.port))
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock)
        out = H2_PREFACE + h2_frame(4, 0, 0)
        for stream, lengths in streams.items():
            block = b"\x83\x86\x04\x08/healthz\x01\x09127.0.0.1"  # POST, http, :path, :authority
            for value in lengths:
                block += b"\x0f\x0d" + bytes([len(value)]) + value  # content-length (static 28), not indexed
            out += h2_frame(1, 0x4, stream, block) + h2_frame(0, 0x1, stream, b"hi")
        answers, buf = {}, b""
        with sock:
            sock.sendall(out)
            sock.settimeout(5)
            while len(answers) < len(streams):
                while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                    length, kind, stream = int.from_bytes(buf[:3], "big"), buf[3], int.from_bytes(buf[5:9], "big")
                    if kind == 1 and stream in streams:
                        answers[stream] = buf[9]
                    self.assertNotEqual(kind, 3, "stream %d was reset" % stream)
                    buf = buf[9 + length:]
                if len(answers) == len(streams):
                    break
                data = sock.recv(65536)
                self.assertTrue(data, "the connection closed before every answer")
                buf += data
        return answers

    def test_http2_content_length_given_twice(self):
        before = parse_exposition(get(self.port, "/metrics")[1].decode())
        for tls in (False, True):
            answers = self.h2_statuses({1: [b"5", b"2"], 3: [b"2", b"2"], 5: [b"2"], 7: [b"9", b"2"]}, tls)
            self.assertEqual(answers[1], 0x8c)
            self.assertEqual(answers[7], 0x8c)
            self.assertNotEqual(answers[3], 0x8c)  # 405: POST /healthz is served as usual
            self.assertNotEqual(answers[5], 0x8c)
        after = parse_exposition(get(self.port, "/metrics")[1].decode())
        key = ("hookgate_http2_content_length_refused_total", frozenset())
        self.assertEqual(after[key] - before.get(key, 0), 4)

    def test_plain_framing_keeps_the_connection(self):
        for tls in (False, True):
            for headers in (b"Content-Length: 2\r\n\r\nhi", b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
                            b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"):
                # the answer to the request after the body shows the connection went on
                statuses, closed = self.exchange(self.POST + headers + self.HIDDEN + self.HIDDEN, tls, answers=2)
                self.assertEqual(statuses, [b"405", b"200", b"200"], headers)
                self.assertFalse(closed, headers)


class TestCreateRate(unittest.TestCase):
    """5 creates a second per token, in bursts of 5: the sixth at once is 429 with
    Retry-After, on REST and Connect alike; another token is not affected; the bucket
    refills."""

    RATE = 5
    ECO = "C5156b8ace57896adb6dae592"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-rate-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "rate",
                     "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                     "limits: { creates_per_second_per_token: %d }\n"
                     "accounts:\n  - id: acme\n    tokens: [ token-a, token-b ]\n"
                     "    ecosystems: [ { id: %s } ]\n" % (cls.port, cls.RATE, cls.ECO))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def post(self, path, token, content_type="application/json"):
        body = json.dumps({"ecosystemId": self.ECO, "url": "https://example.com/h"}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=body, method="POST",
                                     headers={"authorization": token, "content-type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.headers, r.read()  # headers: looked up case-insensitively
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def test_a_burst_over_the_rate_is_refused_then_served_again(self):
        started = time.monotonic()
        answers = [self.post("/api/webhooks", "token-a") for _ in range(6 * self.RATE)]
        elapsed = time.monotonic() - started
        statuses = [a[0] for a in answers]
        self.assertEqual(statuses.count(201) + statuses.count(429), len(statuses), statuses)
        # the burst, plus what refilled meanwhile (however slow this machine is), and no more
        self.assertGreaterEqual(statuses.count(201), self.RATE, statuses)
        self.assertLessEqual(statuses.count(201), self.RATE + int(elapsed * self.RATE) + 1, (elapsed, statuses))
        self.assertEqual(statuses[:self.RATE], [201] * self.RATE, statuses)
        refused = [a for a in answers if a[0] == 429]
        self.assertGreater(len(refused), 0, statuses)
        for status, headers, body in refused:
            self.assertEqual(headers.get("Retry-After"), "1")
            self.assertTrue(headers.get("Content-Type", "").startswith("text/plain"), headers)
            self.assertIn(b"retry in 1 s", body)
        # Connect speaks its own code for the same refusal
        status, headers, body = self.post("/droplit.webhooks.v1.WebhookService/CreateWebhook", "token-a")
        self.assertEqual(status, 429)
        self.assertEqual(json.loads(body)["code"], "resource_exhausted")
        self.assertEqual(headers.get("Retry-After"), "1")
        # another token has its own bucket
        self.assertEqual(self.post("/api/webhooks", "token-b")[0], 201)
        # and the first one is served again once its bucket has refilled
        time.sleep(1.1)
        self.assertEqual(self.post("/api/webhooks", "token-a")[0], 201)


class TestReload(unittest.TestCase):
    """SIGHUP takes new accounts, tokens, ecosystems and limits without dropping a
    connection; a bad file is refused with its reason and the running configuration stays."""

    ECO = "C5156b8ace57896adb6dae592"

    def write_config(self, tokens, description_limit, extra=""):
        with open(self.config, "w") as f:
            f.write("server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                    "limits: { max_description_length: %d }\n"
                    "accounts:\n  - id: acme\n    tokens: [ %s ]\n    ecosystems: [ { id: %s } ]\n%s"
                    % (self.port, description_limit, ", ".join(tokens), self.ECO, extra))

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-reload-%d-" % os.getpid())
        self.port = free_port()
        self.config = os.path.join(self.tmp, "reload.yaml")
        self.write_config(["token-a"], 10)
        start_server(self, "reload")

    def tearDown(self):
        stop_server(self)

    def create(self, conn, token, description):
        body = json.dumps({"ecosystemId": self.ECO, "url": "https://example.com/h", "description": description})
        conn.request("POST", "/api/webhooks", body, {"authorization": token, "content-type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()

    def server_log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for_log(self, text):
        deadline = time.monotonic() + 5
        while text not in self.server_log():
            self.assertLess(time.monotonic(), deadline, "no %r in the log:\n%s" % (text, self.server_log()))
            time.sleep(0.05)

    def test_reload_takes_tokens_and_limits_and_keeps_connections(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)  # kept open across the reloads
        self.assertEqual(self.create(conn, "token-a", "0123456789")[0], 201)
        self.assertEqual(self.create(conn, "token-a", "01234567890")[0], 400)  # over the limit of 10
        self.assertEqual(self.create(conn, "token-b", "x")[0], 401)

        self.write_config(["token-a", "token-b"], 20)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for_log("reloaded")
        self.assertEqual(self.create(conn, "token-b", "x")[0], 201)  # the same connection, the new token
        self.assertEqual(self.create(conn, "token-a", "01234567890")[0], 201)  # the new limit

        # a bad file: refused with file:line:column, and everything above still holds
        with open(self.config, "w") as f:
            f.write("server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\naccounts:\n  - id: acme\n"
                    "    tokenz: [ token-c ]\n" % self.port)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for_log("reload refused")
        self.assertRegex(self.server_log(), r"reload refused.*reload\.yaml:5:5: ")
        self.assertEqual(self.create(conn, "token-b", "x")[0], 201)
        self.assertEqual(self.create(conn, "token-c", "x")[0], 401)
        conn.close()
        self.assertIsNone(self.proc.poll(), "the server stopped on SIGHUP")


class TestJsonAccessLog(unittest.TestCase):
    """server.access_log: json writes one JSON object per request with its request id; the
    id comes back as x-request-id (the client's own when it sent an acceptable one)."""

    ECO = "C5156b8ace57896adb6dae592"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-jsonlog-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "jsonlog",
                     "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  access_log: json\n"
                     "accounts:\n  - id: acme\n    tokens: [ secret-token-value ]\n    ecosystems: [ { id: %s } ]\n"
                     % (cls.port, cls.ECO))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def entries(self, request_id):
        deadline = time.monotonic() + 5
        while True:
            with open(self.log_path) as f:
                found = [json.loads(line) for line in f if line.startswith("{") and request_id in line]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def create(self, request_id=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        headers = {"authorization": "secret-token-value", "content-type": "application/json"}
        if request_id is not None:
            headers["x-request-id"] = request_id
        conn.request("POST", "/api/webhooks", json.dumps({"ecosystemId": self.ECO, "url": "https://e.com/h",
                                                          "secret": "do-not-log-me"}), headers)
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status, r.getheader("x-request-id")

    def test_the_clients_id_is_kept_and_logged(self):
        status, rid = self.create("trace-abc.123_X")
        self.assertEqual((status, rid), (201, "trace-abc.123_X"))
        [entry] = self.entries('"request_id":"trace-abc.123_X"')
        self.assertEqual(entry["method"], "POST")
        self.assertEqual(entry["path"], "/api/webhooks")
        self.assertEqual(entry["status"], 201)
        self.assertEqual(entry["protocol"], "HTTP/1.1")
        self.assertGreater(entry["bytes"], 0)
        self.assertIsInstance(entry["duration_ms"], float)
        self.assertRegex(entry["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_an_id_is_made_when_none_or_a_bad_one_is_sent(self):
        for sent in (None, "has space", "x" * 65, '{"a":1}'):
            status, rid = self.create(sent)
            self.assertEqual(status, 201)
            self.assertRegex(rid, r"^[0-9a-f]{16}$", sent)
            self.assertEqual(len(self.entries('"request_id":"%s"' % rid)), 1)

    def test_the_log_holds_no_token_or_secret(self):
        self.create("no-leak-check")
        self.entries("no-leak-check")
        with open(self.log_path) as f:
            log = f.read()
        self.assertNotIn("secret-token-value", log)
        self.assertNotIn("do-not-log-me", log)
        for line in log.splitlines():
            if line.startswith("{"):
                json.loads(line)  # every access line is whole JSON

    def test_bytes_that_are_not_utf8_keep_the_line_json(self):
        """A path with bytes that are not UTF-8 (%c0%ae), over HTTP/1.1 and HTTP/2: the log
        file is still UTF-8, every line of it parses, and the bytes read back escaped."""
        for extra in ([], ["--http2-prior-knowledge"]):
            rid = "utf8-check-%d" % len(extra)
            subprocess.run(["curl", "-s", "-o", "/dev/null", "--path-as-is", "-H", "x-request-id: " + rid] + extra
                           + ["http://127.0.0.1:%d/api/webhooks/%%c0%%ae%%ff/x" % self.port], check=True)
            [entry] = self.entries('"request_id":"%s"' % rid)
            self.assertIn("\\xc0\\xae\\xff", entry["path"])
        with open(self.log_path, "rb") as f:
            raw = f.read()
        raw.decode("utf-8")  # raises on a byte that is not UTF-8
        for line in raw.decode().splitlines():
            if line.startswith("{"):
                json.loads(line)


class TestTextAccessLog(unittest.TestCase):
    """The default text log: a path or method carrying CR, LF or ESC (percent-encoded, or
    raw where the protocol lets them through) cannot forge an access line or a server line."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-textlog-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "textlog", "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\naccounts: []\n" % cls.port)

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def test_no_forged_lines(self):
        paths = ["/api/webhooks/%0d%0aaccess%20POST%20/api/webhooks%20201%201%201.000ms%20HTTP/1.1",
                 "/api/webhooks/%0ahookgate:%20reload:%20FORGED",
                 "/api/webhooks/%1b%5b2J%1b%5d0;pwned%07"]
        for extra in ([], ["--http2-prior-knowledge"]):
            for path in paths:
                subprocess.run(["curl", "-s", "-o", "/dev/null", "--path-as-is"] + extra
                               + ["http://127.0.0.1:%d%s" % (self.port, path)], check=True)
        expected = 2 * len(paths)
        deadline = time.monotonic() + 5
        while True:
            with open(self.log_path, "rb") as f:
                lines = f.read().split(b"\n")
            access = [l for l in lines if l.startswith(b"access GET /api/webhooks/")]
            if len(access) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(access), expected)  # one line per request, none forged
        self.assertFalse([l for l in lines if b"FORGED" in l and not l.startswith(b"access GET ")])
        self.assertFalse([l for l in lines if l.startswith(b"access POST")])
        for line in (l for l in lines if l.startswith(b"access ")):
            self.assertFalse(any(b < 0x20 or b == 0x7f for b in line), line)  # no control byte at all
            self.assertEqual(len(line.split(b" ")), 7, line)  # access method path status bytes duration protocol


class TestCors(unittest.TestCase):
    """server.cors.allowed_origins over real sockets (HTTP/1.1, http.client): an answer to an
    allowed Origin carries Access-Control-Allow-Origin and -Expose-Headers on REST, Connect
    and gRPC-Web routes, errors included; another origin or none gets only Vary: Origin; a
    preflight needs no token, is 204 for an allowed origin and 403 without CORS headers for
    another, and is logged and counted (route "preflight"); a reload keeps the origins."""

    ECO = "C5156b8ace57896adb6dae592"
    ORIGIN = "http://127.0.0.1:8081"
    SERVICE = "/droplit.webhooks.v1.WebhookService/"
    MISSING = "5f1b7c3e9d2a4b0012345678"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-cors-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "cors", "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                     "  cors: { allowed_origins: [ \"%s\", \"https://app.example\" ] }\n"
                     "accounts:\n  - id: acme\n    tokens: [ t ]\n    ecosystems: [ { id: %s } ]\n"
                     % (cls.port, cls.ORIGIN, cls.ECO))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def call(self, method, path, origin, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        h = dict(headers or {})
        if origin is not None:
            h["origin"] = origin
        conn.request(method, path, body, h)
        r = conn.getresponse()
        r.body = r.read()
        conn.close()
        return r

    def requests(self):
        create = json.dumps({"ecosystemId": self.ECO, "url": "https://example.com/h"})
        get = json.dumps({"id": self.MISSING})
        return [
            ("POST", "/api/webhooks", create, {"authorization": "t", "content-type": "application/json"}, 201),
            ("GET", "/api/webhooks/" + self.MISSING, None, {"authorization": "t"}, 404),
            ("GET", "/api/webhooks?ecosystemId=" + self.ECO, None, {}, 401),
            ("POST", self.SERVICE + "CreateWebhook", create, {"authorization": "t", "content-type": "application/json"},
             200),
            ("POST", self.SERVICE + "GetWebhook", get, {"authorization": "t", "content-type": "application/json"}, 404),
            # gRPC-Web: GetWebhook of a missing id
            ("POST", self.SERVICE + "GetWebhook", b"\0" + struct.pack(">I", 26) + b"\x0a\x18" + self.MISSING.encode(),
             {"authorization": "t", "content-type": "application/grpc-web+proto", "x-grpc-web": "1"}, 200),
            ("GET", "/nowhere", None, {}, 404),
        ]

    def test_allowed_origin(self):
        for method, path, body, headers, status in self.requests():
            r = self.call(method, path, self.ORIGIN, body, headers)
            self.assertEqual(r.status, status, (method, path))
            self.assertEqual(r.getheader("access-control-allow-origin"), self.ORIGIN, path)
            self.assertEqual(r.getheader("vary"), "origin")
            expose = [h.strip() for h in r.getheader("access-control-expose-headers", "").split(",")]
            for h in ("grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id", "retry-after"):
                self.assertIn(h, expose)
            if "grpc-web" in headers.get("content-type", ""):
                self.assertIn(b"grpc-status: 5\r\n", r.body)  # NOT_FOUND, in the trailer frame

    def test_other_origin_and_none(self):
        for origin in ("http://127.0.0.1:8082", "https://app.example.evil", "null", None):
            for method, path, body, headers, status in self.requests():
                r = self.call(method, path, origin, body, headers)
                self.assertEqual(r.status, status, (origin, method, path))
                self.assertIsNone(r.getheader("access-control-allow-origin"))
                self.assertIsNone(r.getheader("access-control-expose-headers"))
                self.assertEqual(r.getheader("vary"), "origin")

    def test_preflight(self):
        def count(status):
            text = get(self.port, "/metrics")[1].decode()
            m = re.search(r'hookgate_requests_total\{route="preflight",protocol="http1",status="%d"\} (\d+)' % status,
                          text)
            return int(m.group(1)) if m else 0
        before = (count(204), count(403))
        paths = [self.SERVICE + "CreateWebhook", "/api/webhooks", "/api/webhooks/" + self.MISSING]
        for path in paths:
            r = self.call("OPTIONS", path, self.ORIGIN, headers={
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type, connect-protocol-version"})
            self.assertEqual(r.status, 204, path)
            self.assertEqual(r.getheader("access-control-allow-origin"), self.ORIGIN)
            self.assertIn("POST", r.getheader("access-control-allow-methods"))
            allow = [h.strip() for h in r.getheader("access-control-allow-headers").split(",")]
            for h in ("authorization", "content-type", "connect-protocol-version", "connect-timeout-ms",
                      "grpc-timeout", "x-grpc-web", "x-user-agent", "idempotency-key"):
                self.assertIn(h, allow)
            self.assertEqual(r.getheader("access-control-max-age"), "7200")
            r = self.call("OPTIONS", path, "http://127.0.0.1:8082", headers={"access-control-request-method": "POST"})
            self.assertEqual(r.status, 403, path)
            self.assertEqual([h for h, _ in r.getheaders() if h.lower().startswith("access-control-")], [])
        self.assertEqual((count(204), count(403)), (before[0] + len(paths), before[1] + len(paths)))
        deadline = time.monotonic() + 5
        while True:
            with open(self.log_path) as f:
                lines = [l for l in f.read().split("\n") if l.startswith("access OPTIONS /api/webhooks ")]
            if len(lines) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        # each event loop writes its own lines: the two need not come in the order they were sent
        self.assertEqual(sorted(l.split(" ")[3] for l in lines), ["204", "403"])

    def test_reload_keeps_origins(self):
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace(self.ORIGIN, "http://127.0.0.1:9999"))
        try:
            self.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while True:
                with open(self.log_path) as f:
                    if "server.* and store.* take effect at the next start" in f.read():
                        break
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            r = self.call("GET", "/healthz", self.ORIGIN)
            self.assertEqual(r.getheader("access-control-allow-origin"), self.ORIGIN)
            self.assertIsNone(self.call("GET", "/healthz", "http://127.0.0.1:9999").getheader(
                "access-control-allow-origin"))
        finally:
            with open(self.config, "w") as f:
                f.write(text)


def parse_exposition(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}; checks every line's shape."""
    samples = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([-+]?[0-9.eE+]+|\+Inf|NaN)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = line_re.match(line)
        assert m, "not an exposition line: %r" % line
        labels = frozenset(label_re.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


class TestMetrics(unittest.TestCase):
    """GET /metrics counts requests by route, protocol and status, times them, and shows the
    store, the journal and the connections."""

    ECO = "C5156b8ace57896adb6dae592"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hookgate-metrics-%d-" % os.getpid())
        cls.port = free_port()
        start_server(cls, "metrics",
                     "server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
                     "store: { path: %s, fsync: always }\n"
                     "accounts:\n  - id: acme\n    tokens: [ token-a ]\n    ecosystems: [ { id: %s } ]\n"
                     % (cls.port, os.path.join(cls.tmp, "data"), cls.ECO))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls)

    def scrape(self):
        status, body = get(self.port, "/metrics")
        self.assertEqual(status, 200)
        return parse_exposition(body.decode())

    def count(self, samples, route, protocol, status):
        key = ("hookgate_requests_total",
               frozenset({("route", route), ("protocol", protocol), ("status", str(status))}))
        return samples.get(key, 0)

    def test_counters_follow_requests(self):
        before = self.scrape()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        body = json.dumps({"ecosystemId": self.ECO, "url": "https://example.com/h"})
        for _ in range(3):
            conn.request("POST", "/api/webhooks", body, {"authorization": "token-a",
                                                         "content-type": "application/json"})
            self.assertEqual(conn.getresponse().read() and 201, 201)
        conn.request("GET", "/api/webhooks/not-an-id", headers={"authorization": "token-a"})
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 400)
        h2 = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                             "-H", "authorization: token-a",
                             "http://127.0.0.1:%d/api/webhooks?ecosystemId=%s" % (self.port, self.ECO)],
                            capture_output=True, text=True).stdout
        self.assertEqual(h2, "200")
        after = self.scrape()
        conn.close()
        self.assertEqual(self.count(after, "create", "http1", 201) - self.count(before, "create", "http1", 201), 3)
        self.assertEqual(self.count(after, "get", "http1", 400) - self.count(before, "get", "http1", 400), 1)
        self.assertEqual(self.count(after, "list", "http2", 200) - self.count(before, "list", "http2", 200), 1)
        # update and delete count under their own routes, with an access-log line each
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("POST", "/api/webhooks", body, {"authorization": "token-a", "content-type": "application/json"})
        wid = json.loads(conn.getresponse().read())["id"]
        before = self.scrape()
        # a GET keeps the webhook's JSON with it: the cache gauge grows by at least its length
        conn.request("GET", "/api/webhooks/" + wid, headers={"authorization": "token-a"})
        shown = conn.getresponse().read()
        cached = self.scrape()[("hookgate_json_cache_bytes", frozenset())]
        self.assertGreaterEqual(cached - before[("hookgate_json_cache_bytes", frozenset())], len(shown))
        conn.request("PUT", "/api/webhooks/" + wid, json.dumps({"url": "https://example.com/u"}),
                     {"authorization": "token-a", "content-type": "application/json"})
        self.assertEqual((conn.getresponse().read(), 200)[1], 200)
        for want in (200, 404):
            conn.request("DELETE", "/api/webhooks/" + wid, headers={"authorization": "token-a"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, want)
        conn.close()
        later = self.scrape()
        self.assertEqual(self.count(later, "update", "http1", 200) - self.count(before, "update", "http1", 200), 1)
        self.assertEqual(self.count(later, "delete", "http1", 200) - self.count(before, "delete", "http1", 200), 1)
        self.assertEqual(self.count(later, "delete", "http1", 404) - self.count(before, "delete", "http1", 404), 1)
        self.assertEqual(later[("hookgate_webhooks_stored", frozenset())], before[("hookgate_webhooks_stored", frozenset())] - 1)
        wanted = ["PUT /api/webhooks/%s 200" % wid, "DELETE /api/webhooks/%s 200" % wid,
                  "DELETE /api/webhooks/%s 404" % wid]
        deadline = time.monotonic() + 5  # each loop writes its lines at the end of an iteration
        while True:
            with open(self.log_path) as f:
                log = f.read()
            if all(w in log for w in wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for w in wanted:
            self.assertIn(w, log)
        # the histogram's count is the route's requests, its buckets cumulative and ending at +Inf
        created = sum(v for (n, l), v in after.items() if n == "hookgate_requests_total" and ("route", "create") in l)
        self.assertEqual(after[("hookgate_request_duration_seconds_count", frozenset({("route", "create")}))], created)
        buckets = sorted((float(dict(l)["le"]) if dict(l)["le"] != "+Inf" else float("inf"), v)
                         for (n, l), v in after.items()
                         if n == "hookgate_request_duration_seconds_bucket" and ("route", "create") in l)
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertEqual(buckets[-1], (float("inf"), created))
        # the store, the journal, the connections
        self.assertGreaterEqual(after[("hookgate_webhooks_stored", frozenset())], 3)
        self.assertEqual(after[("hookgate_journal_writable", frozenset())], 1)
        self.assertEqual(after[("hookgate_journal_queue_depth", frozenset())], 0)
        self.assertGreaterEqual(after[("hookgate_journal_fsync_duration_seconds_count", frozenset())], 1)
        self.assertGreaterEqual(after[("hookgate_connections_open", frozenset())], 1)


def leftovers():
    """This run's temporary directories: every class makes hookgate-<name>-<this pid>-..."""
    pid = "-%d-" % os.getpid()
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("hookgate-") and pid in n}


if __name__ == "__main__":
    if not BINARY or not os.access(BINARY, os.X_OK):
        sys.exit("usage: test_ops.py PATH/TO/hookgate")
    before = leftovers()
    result = unittest.main(verbosity=2, exit=False).result
    left = leftovers() - before
    if left:
        print("test_ops.py left temporary directories behind: %s" % ", ".join(sorted(left)), file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if result.wasSuccessful() else 1)
