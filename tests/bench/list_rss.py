#!/usr/bin/python3
"""What a list costs the server in memory: a benchmark that prints a table, not a test.

Starts BINARY (memory only, one event loop), stores N webhooks in one ecosystem (h2load),
then reads the server's resident memory (/proc/PID/status; the peak is reset through
/proc/PID/clear_refs before each step, so run as root or as the server's user):
  1. one list request, read whole (urllib, HTTP/1.1);
  2. S list requests as concurrent streams of one HTTP/2 connection that never reads and
     announced SETTINGS_INITIAL_WINDOW_SIZE=0, so no answer can leave the server: what it
     holds is every answer it built (issue 12 measured 1.40 GB for 100 x 20,000 webhooks).
     The peak is read once it has not grown for 2 s.
The list path gets QUERY appended (e.g. "&limit=1000"), so the same script measures a
build without paging (no query) and with it.

Usage: tests/bench/list_rss.py BINARY [--webhooks N] [--streams S] [--query Q]
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from netprobe import free_port

ECO = "C5156b8ace57896adb6dae592"
TOKEN = "bench-token"
BODY = json.dumps({"ecosystemId": ECO, "url": "https://example.com/hooks/bench",
                   "description": "benchmark webhook"}).encode()




def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak(pid):
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")  # resets VmHWM to the current VmRSS


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman (lengths < 127)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def stalled_connection(port, path, streams):
    """Opens an HTTP/2 connection with a zero initial window, sends `streams` GETs of path
    and returns the socket, never reading from it."""
    sock = socket.create_connection(("127.0.0.1", port))
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    out += h2_frame(4, 0, 0, struct.pack(">HI", 0x4, 0))  # SETTINGS_INITIAL_WINDOW_SIZE = 0
    for i in range(streams):
        block = (b"\x82\x86"  # :method GET, :scheme http
                 + b"\x04" + bytes([len(path)]) + path  # :path
                 + b"\x01\x09127.0.0.1"  # :authority
                 + hpack_literal(b"authorization", TOKEN.encode()))
        out += h2_frame(1, 0x5, 2 * i + 1, block)  # END_HEADERS | END_STREAM
    sock.sendall(out)
    return sock


def settled_peak(pid, quiet_s=2.0, limit_s=120.0):
    """VmHWM once VmRSS has not changed for quiet_s (at most limit_s)."""
    start = last_change = time.monotonic()
    last = status_kib(pid, "VmRSS")
    while time.monotonic() - last_change < quiet_s and time.monotonic() - start < limit_s:
        time.sleep(0.1)
        now = status_kib(pid, "VmRSS")
        if now != last:
            last, last_change = now, time.monotonic()
    return status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--webhooks", type=int, default=20000)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--query", default="")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hookgate-listrss-")
    port = free_port()
    config = os.path.join(tmp, "hookgate.yaml")
    with open(config, "w") as f:
        f.write("server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n  threads: 1\n"
                "  access_log: off\n"
                "accounts:\n  - id: bench\n    tokens: [ \"%s\" ]\n    ecosystems:\n      - { id: %s }\n"
                % (port, TOKEN, ECO))
    log = open(os.path.join(tmp, "log"), "w")
    server = subprocess.Popen([a.binary, "--config", config], stderr=log)
    base = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        body = os.path.join(tmp, "body.json")
        with open(body, "wb") as f:
            f.write(BODY)
        out = subprocess.run(["h2load", "-n", str(a.webhooks), "-c", "4", "-m", "32", "-d", body,
                              "-H", "authorization: " + TOKEN, "-H", "content-type: application/json",
                              base + "/api/webhooks"], capture_output=True, text=True, check=True).stdout
        assert "%d 2xx" % a.webhooks in out, out
        path = "/api/webhooks?ecosystemId=" + ECO + a.query
        stored_rss = status_kib(server.pid, "VmRSS")

        reset_peak(server.pid)
        req = urllib.request.Request(base + path, headers={"authorization": TOKEN})
        answer = urllib.request.urlopen(req, timeout=60).read()
        items = len(json.loads(answer)["items"])
        one_peak = status_kib(server.pid, "VmHWM")

        reset_peak(server.pid)
        before = status_kib(server.pid, "VmRSS")
        sock = stalled_connection(port, path.encode(), a.streams)
        stalled_peak, stalled_rss = settled_peak(server.pid)
        sock.close()

        mib = lambda kib: "%.1f MiB" % (kib / 1024)
        print("binary: %s; %d webhooks stored in one ecosystem; list path %s" % (a.binary, a.webhooks, path))
        print("| step | answer | server RSS peak | peak above the step's start |")
        print("|---|---|---|---|")
        print("| stored, idle | | %s | |" % mib(stored_rss))
        print("| one list, read whole | %d items, %d bytes | %s | %s |"
              % (items, len(answer), mib(one_peak), mib(one_peak - stored_rss)))
        print("| %d lists on one HTTP/2 connection that never reads (window 0) | | %s | %s |"
              % (a.streams, mib(stalled_peak), mib(stalled_peak - before)))
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
