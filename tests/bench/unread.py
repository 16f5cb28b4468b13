#!/usr/bin/python3
"""Clients that do not read their answers: a script that prints figures, not a test.

Starts BINARY (memory store, two event loops), stores --webhooks webhooks in one ecosystem
(20,000 make a list answer of about 5.4 MB of JSON), then runs one scenario of clients that
never read, and prints the server's resident memory before, at its peak and after, how long
the clients' connections stayed open (at most --wait seconds), whether /healthz still
answered, the resident memory 5 s after the clients closed, and the highest
hookgate_buffered_bytes seen (-1 on a build without that gauge).

Scenarios:
  h2       one HTTP/2 connection, SETTINGS_INITIAL_WINDOW_SIZE 0, 100 list requests
  h2x3     three such connections
  grpc     one native gRPC connection, window 0, 100 ListWebhooks calls
  h1       50 HTTP/1.1 connections that send a list request and never read (h1xN: N of them)
  healthz  one HTTP/2 connection, window 0, one GET /healthz

Usage: tests/bench/unread.py BINARY SCENARIO [--webhooks N] [--limit N] [--wait S] [--server-yaml LINES]
--limit asks for pages of N webhooks (0, the default: the server's default page size; a build
from before paging answers every webhook whatever it is).
e.g.   tests/bench/unread.py build/hookgate h2 --server-yaml '  write_timeout_ms: 2000'
"""
import argparse
import http.client
import socket
import struct
import time
from netprobe import free_port, running_server

ECO = "C5156b8ace57896adb6dae592"




def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return -1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_get(stream, path):
    block = b"\x82\x86" + literal(b":path", path) + literal(b":authority", b"x") + literal(b"authorization", b"t")
    return frame(1, 0x5, stream, block)


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7f | 0x80])
        n >>= 7
    return out + bytes([n])


def grpc_list(stream, limit):
    msg = b"\x0a" + bytes([len(ECO)]) + ECO.encode() + (b"\x10" + varint(limit) if limit else b"")
    block = (b"\x83\x86" + literal(b":path", b"/droplit.webhooks.v1.WebhookService/ListWebhooks") +
             literal(b":authority", b"x") + literal(b"content-type", b"application/grpc") +
             literal(b"te", b"trailers") + literal(b"authorization", b"t"))
    return frame(1, 0x4, stream, block) + frame(0, 0x1, stream, b"\x00" + struct.pack(">I", len(msg)) + msg)


def window_zero(port, requests):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, struct.pack(">HI", 4, 0)) + b"".join(requests))
    return s


def closed(s):
    """True once the server has ended s (what it sent is read and dropped)."""
    s.setblocking(False)
    try:
        while True:
            if s.recv(65536) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def buffered_mb(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        for line in c.getresponse().read().decode().splitlines():
            if line.startswith("hookgate_buffered_bytes "):
                return int(line.split()[1]) >> 20
    except OSError:
        pass
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("scenario")
    ap.add_argument("--webhooks", type=int, default=20000)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--wait", type=float, default=60)
    ap.add_argument("--server-yaml", default="")
    a = ap.parse_args()
    hp, gp = free_port(), free_port()
    config = ("server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
              "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ] }\n  threads: 2\n%s\n"
              "accounts:\n  - id: demo\n    tokens: [ t ]\n    ecosystems: [ { id: %s } ]\n"
              % (hp, gp, a.server_yaml, ECO))
    with running_server(a.binary, "unread-bench", config, hp) as proc:
        c = http.client.HTTPConnection("127.0.0.1", hp)
        body = '{"ecosystemId":"%s","url":"https://example.com/hook/with/a/somewhat/longer/path/%%d"}' % ECO
        for i in range(a.webhooks):
            c.request("POST", "/api/webhooks", body % i, {"authorization": "t", "content-type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status == 201, r.status
        c.close()
        before = rss_mb(proc.pid)
        started = time.monotonic()
        path = b"/api/webhooks?ecosystemId=" + ECO.encode() + (b"&limit=%d" % a.limit if a.limit else b"")
        sc = a.scenario
        if sc.startswith("h2x") or sc == "h2":
            socks = [window_zero(hp, [h2_get(2 * i + 1, path) for i in range(100)])
                     for _ in range(int(sc[3:]) if sc != "h2" else 1)]
        elif sc == "healthz":
            socks = [window_zero(hp, [h2_get(1, b"/healthz")])]
        elif sc == "grpc":
            socks = [window_zero(gp, [grpc_list(2 * i + 1, a.limit) for i in range(100)])]
        elif sc.startswith("h1"):
            socks = []
            for _ in range(int(sc[3:]) if sc.startswith("h1x") else 50):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", hp))
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nauthorization: t\r\n\r\n" % path)
                socks.append(s)
        else:
            raise SystemExit("unknown scenario " + sc)
        peak, gauge, open_for = before, -1, None
        while time.monotonic() - started < a.wait:
            time.sleep(0.25)
            peak, gauge = max(peak, rss_mb(proc.pid)), max(gauge, buffered_mb(hp))
            if all(closed(s) for s in socks):
                open_for = time.monotonic() - started
                break
        time.sleep(1)
        during = rss_mb(proc.pid)
        try:
            c = http.client.HTTPConnection("127.0.0.1", hp, timeout=5)
            c.request("GET", "/healthz")
            health = c.getresponse().status
        except OSError as e:
            health = repr(e)
        for s in socks:
            s.close()
        time.sleep(5)
        print("%s: %d webhooks; RSS %d MB before, %d MB at peak, %d MB 1 s after the server closed them (or at "
              "--wait); connections %s; /healthz meanwhile %s; RSS %d MB 5 s after the clients closed; "
              "hookgate_buffered_bytes at most %d MB" % (
                  sc, a.webhooks, before, peak, during,
                  "closed after %.1f s" % open_for if open_for else "still open after %.0f s" % a.wait,
                  health, rss_mb(proc.pid), gauge))


if __name__ == "__main__":
    main()
