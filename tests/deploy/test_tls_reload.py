#!/usr/bin/python3
"""Certificate rotation on SIGHUP: while clients shake hands and ask in a loop (several
threads, a new TLS connection each time), the certificate and key files are replaced and
hookgate gets SIGHUP. No handshake or request fails, new connections on the HTTP and the
native gRPC listener then present the new certificate, and a connection opened before
still answers on the old one. A new key that does not match its certificate refuses the
reload whole: the running pair (and the running accounts) stay.

Usage: tests/deploy/test_tls_reload.py PATH/TO/hookgate   (needs the openssl command)
"""
import hashlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

from deploy_support import free_port, read, wait_for

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""
THREADS = 4
ECOSYSTEM = "C5156b8ace57896adb6dae592"


def make_pair(directory, name):
    """A self-signed EC certificate and its key: (cert path, key path, SHA-256 of the DER)."""
    cert, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return cert, key, hashlib.sha256(der).hexdigest()


def client_context(alpn):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(alpn)
    return ctx


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def config(port, grpc_port, cert, key, token):
    return ("server:\n  threads: 2\n"
            "  listen:\n    - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }\n"
            "  grpc:\n    listen:\n      - { address: 127.0.0.1, port: %d, tls: { certificate: %s, key: %s } }\n"
            "accounts:\n  - id: demo\n    tokens: [ \"%s\" ]\n    ecosystems:\n      - { id: %s }\n"
            % (port, cert, key, grpc_port, cert, key, token, ECOSYSTEM))


class TestCertificateRotation(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-tls-")
        self.old = make_pair(self.tmp, "old")
        self.new = make_pair(self.tmp, "new")
        self.other = make_pair(self.tmp, "other")
        # the files the configuration names, replaced in place as rotation does
        self.cert, self.key = os.path.join(self.tmp, "server.crt"), os.path.join(self.tmp, "server.key")
        self.install(self.old)
        self.port, self.grpc_port = free_port(), free_port()
        self.cfg = os.path.join(self.tmp, "hookgate.yaml")
        self.write_config("token-1")
        self.log_path = os.path.join(self.tmp, "log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BINARY, "--config", self.cfg], stdout=self.log, stderr=self.log)
        self.wait_for("the listener", lambda: self.handshake(self.port) is not None)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_config(self, token):
        with open(self.cfg + ".tmp", "w") as f:
            f.write(config(self.port, self.grpc_port, self.cert, self.key, token))
        os.rename(self.cfg + ".tmp", self.cfg)

    def install(self, pair, key_of=None):
        """Puts pair's certificate (and key_of's key, by default its own) in place by rename."""
        for src, dst in ((pair[0], self.cert), ((key_of or pair)[1], self.key)):
            shutil.copy(src, dst + ".tmp")
            os.rename(dst + ".tmp", dst)

    def server_log(self):
        return read(self.log_path)

    def wait_for(self, what, check, timeout=10):
        wait_for(what, check, timeout, log_path=self.log_path)

    def handshake(self, port, alpn=("http/1.1",)):
        """The certificate fingerprint a new connection to port is shown, or None."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with client_context(list(alpn)).wrap_socket(raw) as s:
                    return fingerprint(s)
        except OSError:
            return None

    def ask(self, conn, token=None):
        headers = {"authorization": "Bearer " + token} if token else {}
        conn.request("GET", "/api/webhooks?ecosystemId=" + ECOSYSTEM if token else "/healthz", headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status

    def reload_and_wait(self, word):
        before = self.server_log().count(word)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for(word, lambda: self.server_log().count(word) > before)

    def test_rotation_under_load(self):
        # a connection opened on the old pair, kept open across the rotation
        kept = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5, context=client_context(["http/1.1"]))
        self.assertEqual(self.ask(kept), 200)
        self.assertEqual(fingerprint(kept.sock), self.old[2])

        stop, lock = threading.Event(), threading.Lock()
        seen, failures = {}, []

        def load():
            while not stop.is_set():
                try:
                    c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5,
                                                    context=client_context(["http/1.1"]))
                    status = self.ask(c)
                    fp = fingerprint(c.sock)
                    c.close()
                    with lock:
                        seen[fp] = seen.get(fp, 0) + 1
                        if status != 200:
                            failures.append("status %d" % status)
                except Exception as e:  # every failure counts: a refused handshake, a reset
                    with lock:
                        failures.append(repr(e))

        threads = [threading.Thread(target=load) for _ in range(THREADS)]
        for t in threads:
            t.start()
        try:
            self.wait_for("handshakes on the old pair", lambda: seen.get(self.old[2], 0) >= 20)
            self.install(self.new)
            self.reload_and_wait("reloaded the configuration")
            self.wait_for("handshakes on the new pair", lambda: seen.get(self.new[2], 0) >= 20)
            # a broken pair (a key of another certificate) while the load goes on: refused whole
            self.install(self.new, key_of=self.other)
            self.write_config("token-2")
            self.reload_and_wait("reload refused")
            at_refusal = seen.get(self.new[2], 0)
            self.wait_for("handshakes after the refused reload", lambda: seen.get(self.new[2], 0) >= at_refusal + 20)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertEqual(set(seen), {self.old[2], self.new[2]})
        self.assertIn("does not load", self.server_log())
        # from now on every new connection, on both listeners, is shown the new certificate
        for _ in range(10):
            self.assertEqual(self.handshake(self.port), self.new[2])
        self.assertEqual(self.handshake(self.grpc_port, alpn=("h2",)), self.new[2])
        # the refused reload took nothing: token-1 still works, token-2 is unknown
        c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5, context=client_context(["http/1.1"]))
        self.assertEqual(self.ask(c, "token-1"), 200)
        self.assertEqual(self.ask(c, "token-2"), 401)
        c.close()
        # the connection from before the rotation still answers, on the pair it shook hands with
        self.assertEqual(self.ask(kept), 200)
        self.assertEqual(fingerprint(kept.sock), self.old[2])
        kept.close()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
