#!/usr/bin/python3
"""Socket activation and graceful restart, without systemd: this test holds the listening
sockets, as a socket unit does, and starts hookgate with them as fds 3 and up, LISTEN_FDS
and LISTEN_PID set (sd_listen_fds(3)).

- hookgate serves on the sockets it was given (a connection queued before it started is
  answered), binds nothing itself for them, warns about and closes one it has no listener
  for, and ignores variables meant for another process (LISTEN_PID).
- Restart under load: while clients ask in a loop (keep-alive connections and a new
  connection per request), a second hookgate starts on the same sockets, the first gets
  SIGTERM and drains; twice over. Every request sent gets its answer.

Usage: tests/deploy/test_activation.py PATH/TO/hookgate
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""

# The hand-over, as a service manager does it: the sockets moved to fds 3, 4, ... (through
# fds above 100, so that none is overwritten before it is moved), LISTEN_PID set to the
# process that then execs hookgate (exec keeps the pid).
LAUNCH = """import fcntl, os, sys
fds = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 100) for fd in sys.argv[1].split(",") if fd]
for i, fd in enumerate(fds):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ.update(LISTEN_PID=os.environ.get("TEST_LISTEN_PID", str(os.getpid())), LISTEN_FDS=str(len(fds)))
os.execv(sys.argv[2], sys.argv[2:])
"""


def listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def config(http_port, grpc_port):
    return ("server:\n  threads: 2\n  listen:\n    - { address: 127.0.0.1, port: %d }\n"
            "  grpc:\n    listen:\n      - { address: 127.0.0.1, port: %d }\n"
            "accounts:\n  - id: demo\n    tokens: [ \"demo-token\" ]\n" % (http_port, grpc_port))


class Activation(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-activation-")
        self.http, self.grpc = listening_socket(), listening_socket()
        self.port = self.http.getsockname()[1]
        self.cfg = os.path.join(self.tmp, "hookgate.yaml")
        with open(self.cfg, "w") as f:
            f.write(config(self.port, self.grpc.getsockname()[1]))
        self.procs = []

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            log.close()
        self.http.close()
        self.grpc.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, socks, env=None):
        """hookgate on these sockets (fds 3, ...); its log's path."""
        path = os.path.join(self.tmp, "log.%d" % len(self.procs))
        log = open(path, "w")
        fds = [s.fileno() for s in socks]
        p = subprocess.Popen([sys.executable, "-c", LAUNCH, ",".join(map(str, fds)), BINARY, "--config", self.cfg],
                             pass_fds=fds, stdout=log, stderr=log, env=dict(os.environ, **(env or {})))
        self.procs.append((p, log))
        return p, path

    def wait_for_log(self, path, word, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            with open(path) as f:
                text = f.read()
            if word in text:
                return text
            self.assertLess(time.monotonic(), deadline, "no %r in the log:\n%s" % (word, text))
            time.sleep(0.02)

    def test_serves_on_the_sockets_given(self):
        # queued in the socket's backlog before hookgate exists: answered by it
        early = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        early.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        extra = listening_socket()
        try:
            p, log = self.start([self.http, self.grpc, extra])
            answer = b""
            while True:
                chunk = early.recv(4096)
                if not chunk:
                    break
                answer += chunk
            self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer)
            text = self.wait_for_log(log, "event loop thread(s)")
            self.assertEqual(text.count("(an inherited socket)"), 2, text)
            self.assertRegex(text, r"WARNING: inherited socket \(fd 5\) matches no listener")
            # the gRPC listener answers on its socket too: an HTTP/2 SETTINGS frame back
            with socket.create_connection(self.grpc.getsockname(), timeout=5) as g:
                g.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                self.assertEqual(g.recv(9)[3], 4)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=10), 0)
        finally:
            early.close()
            extra.close()

    def test_variables_of_another_process_are_ignored(self):
        # LISTEN_PID names the parent: hookgate binds for itself, and the port is taken
        p, log = self.start([self.http, self.grpc], env={"TEST_LISTEN_PID": str(os.getpid())})
        self.assertEqual(p.wait(timeout=10), 1)
        self.assertIn("cannot listen on 127.0.0.1:%d" % self.port, self.wait_for_log(log, "cannot listen"))

    def test_restart_under_load(self):
        first, log = self.start([self.http, self.grpc])
        self.wait_for_log(log, "event loop thread(s)")
        stop, lock = threading.Event(), threading.Lock()
        answered, failures = [0], []

        def client(keep_alive):
            conn = None
            while not stop.is_set():
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    conn.request("GET", "/healthz")
                    r = conn.getresponse()
                    r.read()
                    ok = r.status == 200
                    # a draining server asks keep-alive clients to go (connection: close)
                    if not keep_alive or r.will_close:
                        conn.close()
                        conn = None
                    with lock:
                        answered[0] += 1
                        if not ok:
                            failures.append("status %d" % r.status)
                except Exception as e:  # a request sent and not answered
                    with lock:
                        failures.append(repr(e))
                    conn = None
            if conn is not None:
                conn.close()

        def count():
            with lock:
                return answered[0]

        threads = [threading.Thread(target=client, args=(i % 2 == 0,)) for i in range(4)]
        for t in threads:
            t.start()
        try:
            old = first
            for _ in range(2):
                at = count()
                self.wait_for_log(log, "event loop thread(s)")
                deadline = time.monotonic() + 10
                while count() < at + 200:
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.01)
                new, log = self.start([self.http, self.grpc])
                self.wait_for_log(log, "event loop thread(s)")
                old.send_signal(signal.SIGTERM)
                self.assertEqual(old.wait(timeout=10), 0)
                old = new
            at = count()
            deadline = time.monotonic() + 10
            while count() < at + 200:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertGreater(count(), 600)


if __name__ == "__main__":
    unittest.main()
