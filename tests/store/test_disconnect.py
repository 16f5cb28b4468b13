#!/usr/bin/python3
"""Clients that vanish while their creates wait for the journal.

With a durable store a create is answered only after the journal's writer thread has
written it, from another thread than the request's; meanwhile the client may hang up.
These tests hang up at every such moment — HTTP/1.1 connections closed after sending,
HTTP/2 streams reset and connections dropped (h2load killed mid-run) — and then check
that the server is still serving and that everything it stored is whole.

Usage: tests/store/test_disconnect.py PATH/TO/hookgate
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402

BINARY = ss.binary_from_argv()
ROUNDS = 20


class TestDisconnect(unittest.TestCase):
    def setUp(self):
        self.tmp = ss.make_tmpdir("disconnect")
        self.store_path = os.path.join(self.tmp, "data")
        self.server = ss.Server(BINARY, self.tmp, self.store_path, fsync="always", snapshot_after_bytes=16384)

    def tearDown(self):
        self.server.stop()
        ss.remove_tmpdir(self.tmp)

    def assert_serving_and_whole(self):
        self.assertIsNone(self.server.proc.poll(), "the server died:\n" + self.server.log()[-3000:])
        status, _, _ = ss.request(self.server.port, "GET", "/healthz")
        self.assertEqual(status, 200)
        status, _, items = ss.list_items(self.server.port)
        self.assertEqual(status, 200)
        for item in items:
            self.assertIsNone(ss.webhook_problem(item), item)
        self.assertEqual(len({item["id"] for item in items}), len(items), "duplicate ids")
        # what the list showed survives a restart, in order (creates still queued when it
        # was read may come after it)
        self.server.stop()
        self.server = ss.Server(BINARY, self.tmp, self.store_path, fsync="always", snapshot_after_bytes=16384)
        status, _, again = ss.list_items(self.server.port)
        self.assertEqual(again[:len(items)], items)
        for item in again:
            self.assertIsNone(ss.webhook_problem(item), item)

    def test_http1_clients_hang_up_after_sending(self):
        body = ss.create_body("gone")
        request = (b"POST /api/webhooks HTTP/1.1\r\nHost: x\r\nauthorization: %s\r\n"
                   b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                   % (ss.TOKEN.encode(), len(body), body))
        for _ in range(ROUNDS):
            socks = []
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", self.server.port))
                s.sendall(request * 5)  # pipelined creates
                socks.append(s)
            for s in socks:
                s.close()
        self.assert_serving_and_whole()

    def test_http2_clients_dropped_mid_run(self):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            f.write(ss.create_body("dropped"))
            f.flush()
            for _ in range(ROUNDS // 4):
                proc = subprocess.Popen(
                    ["h2load", "-n", "100000", "-c", "8", "-m", "16", "-d", f.name, "-H",
                     "authorization: " + ss.TOKEN, "-H", "content-type: application/json",
                     "http://127.0.0.1:%d/api/webhooks" % self.server.port],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.3)
                proc.kill()  # every stream still waiting for the journal loses its client
                proc.wait()
        self.assert_serving_and_whole()


if __name__ == "__main__":
    unittest.main(verbosity=2)
