#!/usr/bin/python3
"""Listeners added and removed by SIGHUP: a listener the file gains is bound and served (by
every event loop), one it loses stops accepting while the connections it accepted go on,
one that stays keeps its socket (even when it switches between TLS and cleartext), and a
reload with a listener that cannot be bound is refused whole: every listener, and the
accounts, stay as they were.

Usage: tests/deploy/test_listener_reload.py PATH/TO/hookgate   (needs the openssl command)
"""
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

from deploy_support import free_port, read, wait_for

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""
ECOSYSTEM = "C5156b8ace57896adb6dae592"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TestListenerReload(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-listeners-")
        self.cert, self.key = os.path.join(self.tmp, "c.crt"), os.path.join(self.tmp, "c.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=test", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        self.a, self.b, self.c, self.g = free_port(), free_port(), free_port(), free_port()
        self.cfg = os.path.join(self.tmp, "hookgate.yaml")
        self.write_config([(self.a, False)], "token-1")
        self.log_path = os.path.join(self.tmp, "log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BINARY, "--config", self.cfg], stdout=self.log, stderr=self.log)
        self.wait_for("the first listener", lambda: self.status(self.a) == 200)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_config(self, listeners, token):
        lines = ["server:", "  threads: 2", "  listen:"]
        for port, tls in listeners:
            lines.append("    - { address: 127.0.0.1, port: %d%s }" % (
                port, ", tls: { certificate: %s, key: %s }" % (self.cert, self.key) if tls else ""))
        lines += ["  grpc:", "    listen:", "      - { address: 127.0.0.1, port: %d }" % self.g,
                  "accounts:", "  - id: demo", "    tokens: [ \"%s\" ]" % token,
                  "    ecosystems:", "      - { id: %s }" % ECOSYSTEM, ""]
        with open(self.cfg + ".tmp", "w") as f:
            f.write("\n".join(lines))
        os.rename(self.cfg + ".tmp", self.cfg)

    def server_log(self):
        return read(self.log_path)

    def wait_for(self, what, check, timeout=10):
        wait_for(what, check, timeout, log_path=self.log_path)

    def reload(self, word):
        before = self.server_log().count(word)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for(word, lambda: self.server_log().count(word) > before)

    def status(self, port, tls=False, token=None):
        """A new connection's answer to GET (/healthz, or a list with token); None when refused."""
        if tls:
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=tls_context())
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            headers = {"authorization": token} if token else {}
            c.request("GET", "/api/webhooks?ecosystemId=" + ECOSYSTEM if token else "/healthz", headers=headers)
            r = c.getresponse()
            r.read()
            return r.status
        except ConnectionRefusedError:
            return None
        finally:
            c.close()

    def test_add_remove_refuse(self):
        kept = http.client.HTTPConnection("127.0.0.1", self.a, timeout=5)
        kept.request("GET", "/healthz")
        self.assertEqual(kept.getresponse().read(), b"ok\n")

        # added: b, with TLS; a stays
        self.write_config([(self.a, False), (self.b, True)], "token-1")
        self.reload("reloaded the configuration")
        self.assertIn("listening on https://127.0.0.1:%d (added by the reload)" % self.b, self.server_log())
        for _ in range(8):  # new connections, whichever loop accepts them
            self.assertEqual(self.status(self.b, tls=True), 200)
            self.assertEqual(self.status(self.a), 200)

        # removed: a. New connections are refused once every loop let go of it; the one
        # it accepted before answers still
        self.write_config([(self.b, True)], "token-1")
        self.reload("no longer listening on 127.0.0.1:%d" % self.a)
        self.wait_for("a closed", lambda: self.status(self.a) is None)
        kept.request("GET", "/healthz")
        self.assertEqual(kept.getresponse().read(), b"ok\n")
        kept.close()
        self.assertEqual(self.status(self.b, tls=True), 200)

        # a listener that cannot be bound (c's port is taken) refuses the reload whole
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", self.c))
            taken.listen()
            self.write_config([(self.a, False), (self.c, False)], "token-2")
            self.reload("reload refused")
        self.assertIn("cannot listen on 127.0.0.1:%d" % self.c, self.server_log())
        self.assertEqual(self.status(self.b, tls=True), 200)
        self.assertIsNone(self.status(self.a))  # not bound by the refused reload
        self.assertIsNone(self.status(self.c))
        self.assertEqual(self.status(self.b, tls=True, token="token-1"), 200)
        self.assertEqual(self.status(self.b, tls=True, token="token-2"), 401)

        # b switches to cleartext on the socket it has
        self.write_config([(self.b, False)], "token-1")
        self.reload("reloaded the configuration")
        for _ in range(8):
            self.assertEqual(self.status(self.b), 200)
        self.assertNotIn("listening on http://127.0.0.1:%d (added" % self.b, self.server_log())
        # the gRPC listener was there throughout
        with socket.create_connection(("127.0.0.1", self.g), timeout=5) as g:
            g.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
            self.assertEqual(g.recv(9)[3], 4)  # SETTINGS back
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
