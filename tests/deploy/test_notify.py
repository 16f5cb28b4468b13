#!/usr/bin/python3
"""systemd's notifications, without systemd: hookgate started with NOTIFY_SOCKET (a datagram
socket of this test) says READY=1 only once its listeners answer, RELOADING=1 then READY=1
around a SIGHUP, STOPPING=1 on SIGTERM, and with WATCHDOG_USEC pings WATCHDOG=1 from then
on, at half the interval; without WATCHDOG_USEC it sends none.

Usage: tests/deploy/test_notify.py PATH/TO/hookgate   (a build with libsystemd)
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from deploy_support import free_port

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""


class TestNotify(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-notify-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.path = os.path.join(self.tmp, "notify")
        self.sock.bind(self.path)
        self.port = free_port()
        self.cfg = os.path.join(self.tmp, "hookgate.yaml")
        with open(self.cfg, "w") as f:
            f.write("server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n  threads: 2\n"
                    "accounts: []\n" % self.port)
        self.log = open(os.path.join(self.tmp, "log"), "w")
        self.proc = None

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, watchdog_usec=None):
        env = dict(os.environ, NOTIFY_SOCKET=self.path)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.proc = subprocess.Popen([BINARY, "--config", self.cfg], stdout=self.log, stderr=self.log, env=env)

    def receive(self, timeout):
        """The next message, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            return None

    def until(self, word, timeout=10):
        """Messages up to and including the first holding the line `word`."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            msg = self.receive(max(left, 0.01)) if left > 0 else None
            self.assertIsNotNone(msg, "no %s; got %r" % (word, seen))
            seen.append(msg)
            if word in msg.split("\n"):
                return seen

    def test_ready_reload_stop(self):
        self.start()
        self.until("READY=1")
        # ready means bound: a connection succeeds at once, without retrying
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 200"))
        self.proc.send_signal(signal.SIGHUP)
        msgs = self.until("READY=1")
        self.assertIn("RELOADING=1", msgs[0].split("\n"))
        self.proc.send_signal(signal.SIGTERM)
        self.until("STOPPING=1")
        self.assertEqual(self.proc.wait(timeout=10), 0)
        # no watchdog asked for, none sent
        self.assertNotIn("WATCHDOG=1", "\n".join(msgs))

    def test_watchdog_pings(self):
        self.start(watchdog_usec=400000)
        self.until("READY=1")
        started, pings = time.monotonic(), 0
        while time.monotonic() - started < 1.2:
            msg = self.receive(0.5)
            self.assertIsNotNone(msg, "the watchdog pings stopped")
            pings += msg.split("\n").count("WATCHDOG=1")
        # every 200 ms: about 6 in 1.2 s
        self.assertGreaterEqual(pings, 4)
        self.assertLessEqual(pings, 9)

    def test_not_ready_when_start_fails(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", self.port))
            taken.listen()
            self.start()
            self.assertEqual(self.proc.wait(timeout=10), 1)
        msg = self.receive(0.2)
        self.assertTrue(msg is None or "READY=1" not in msg.split("\n"), msg)


if __name__ == "__main__":
    unittest.main()
