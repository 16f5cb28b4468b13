#!/usr/bin/python3
"""Benchmark of the durable store: a script that prints tables, not a test.

Builds a Release hookgate, then measures over HTTP/2 with h2load, on this machine:
  1. creates/s and latency with store.fsync always, batch, never, and memory only;
  2. start-up recovery time and resident memory for N stored webhooks (default 1,000,000),
     and the memory each stored webhook costs.

Usage: tests/bench/store.py [--webhooks N] [--requests N] [--build DIR]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECO = "C5156b8ace57896adb6dae592"
TOKEN = "bench-token"
BODY = json.dumps({"ecosystemId": ECO, "url": "https://example.com/hooks/bench",
                   "description": "benchmark webhook"}).encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(build_dir):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j2", "--target", "hookgate"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, "hookgate")


class Server:
    def __init__(self, binary, workdir, store=None):
        self.port = free_port()
        self.config = os.path.join(workdir, "bench.yaml")
        lines = ["server:", "  listen: [ { address: 127.0.0.1, port: %d } ]" % self.port, "  threads: 2"]
        if store:
            lines.append("store: { %s }" % ", ".join("%s: %s" % kv for kv in store.items()))
        lines += ["limits: { max_body_bytes: 65536 }", "accounts:", "  - id: bench",
                  '    tokens: [ "%s" ]' % TOKEN, "    ecosystems: [ { id: %s } ]" % ECO]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(workdir, "server.log"), "w+")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([binary, "--config", self.config], stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.01)
        raise RuntimeError("server did not start: " + self.log_text())

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


def h2load(port, requests, clients, streams, extra=()):
    with tempfile.NamedTemporaryFile(suffix=".json") as body:
        body.write(BODY)
        body.flush()
        out = subprocess.run(["h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams), "-d", body.name,
                              "-H", "authorization: " + TOKEN, "-H", "content-type: application/json", *extra,
                              "http://127.0.0.1:%d/api/webhooks" % port],
                             check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"finished in .*?, ([\d.]+) req/s", out).group(1))
    codes = re.search(r"status codes: (\d+) 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", out)
    lat = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out)

    def ms(v, unit):
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return {"rps": rps, "ok": int(codes.group(1)), "failed": int(codes.group(2)) + int(codes.group(3)),
            "mean_ms": ms(lat.group(5), lat.group(6)), "max_ms": ms(lat.group(3), lat.group(4))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--webhooks", type=int, default=1_000_000, help="webhooks for the recovery measurement")
    ap.add_argument("--requests", type=int, default=100_000, help="creates per fsync configuration")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    args = ap.parse_args()
    binary = build(args.build)
    print("machine: %s, %d CPUs; hookgate %s" % (os.uname().machine, os.cpu_count(),
          subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()))

    print("\n1. creates over h2c (h2load -c 16 -m 32, %d requests each)" % args.requests)
    print("%-22s %12s %10s %10s %8s" % ("store", "creates/s", "mean ms", "max ms", "non-2xx"))
    rates = {}
    for name, store in (("memory only", None), ("fsync: never", "never"), ("fsync: batch (1000 ms)", "batch"),
                        ("fsync: always", "always")):
        work = tempfile.mkdtemp(prefix="hookgate-bench-")
        try:
            cfg = {"path": os.path.join(work, "data"), "fsync": store} if store else None
            server = Server(binary, work, cfg)
            r = h2load(server.port, args.requests, 16, 32)
            server.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rates[name] = r["rps"]
        print("%-22s %12.0f %10.2f %10.2f %8d" % (name, r["rps"], r["mean_ms"], r["max_ms"], r["failed"]))
    print("fsync always / memory only: %.0f%%" % (100 * rates["fsync: always"] / rates["memory only"]))

    print("\n2. recovery and memory with %d webhooks" % args.webhooks)
    work = tempfile.mkdtemp(prefix="hookgate-bench-")
    try:
        empty = Server(binary, work)
        rss_empty = empty.rss_kib()
        empty.stop()
        store = {"path": os.path.join(work, "data"), "fsync": "never", "snapshot_after_bytes": 64 << 20}
        server = Server(binary, work, store)
        h2load(server.port, args.webhooks, 16, 64)
        rss_full = server.rss_kib()
        server.stop()
        sizes = {f: os.path.getsize(os.path.join(store["path"], f)) for f in os.listdir(store["path"])}
        t0 = time.monotonic()
        server = Server(binary, work, store)
        ready = time.monotonic() - t0
        rss_loaded = server.rss_kib()
        loaded = re.search(r"loaded (\d+) webhooks .*\(snapshot\.(\d+) \+ (\d+) journal records\) in (\d+) ms",
                           server.log_text())
        server.stop()
        # 3. creates while a snapshot of everything is written: restart with a threshold the
        # journal already passes, so the first batch starts a snapshot of all N webhooks
        snap = dict(store, fsync="always", snapshot_after_bytes=4096)
        server = Server(binary, work, snap)
        during = h2load(server.port, 20000, 4, 4)
        snap_line = re.search(r"wrote (snapshot\.\d+) \((\d+) webhooks\) in (\d+) ms", server.log_text())
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = int(loaded.group(1))
    print("%-40s %s" % ("files", ", ".join("%s %.1f MB" % (f, s / 1e6) for f, s in sorted(sizes.items()))))
    print("%-40s %d (snapshot.%s + %s journal records)" % ("webhooks loaded", n, loaded.group(2), loaded.group(3)))
    print("%-40s %s ms" % ("recovery (server's own measure)", loaded.group(4)))
    print("%-40s %.0f ms" % ("start to first /healthz", ready * 1000))
    print("%-40s %.1f MB empty, %.1f MB after creating, %.1f MB after recovery" % (
        "resident memory", rss_empty / 1024, rss_full / 1024, rss_loaded / 1024))
    body_strings = len(ECO) + len("https://example.com/hooks/bench") + len("benchmark webhook") + 3
    per = (rss_loaded - rss_empty) * 1024 / max(n, 1)
    print("%-40s %.0f bytes (of which %d are its strings)" % ("memory per stored webhook", per, body_strings))
    if snap_line:
        print("%-40s %s of %s webhooks took %s ms; meanwhile 20000 creates (fsync always, 4x4 streams): "
              "%.0f/s, mean %.2f ms, max %.2f ms" % ("creates during a snapshot", snap_line.group(1),
                                                     snap_line.group(2), snap_line.group(3), during["rps"],
                                                     during["mean_ms"], during["max_ms"]))
    else:
        print("creates during a snapshot: no snapshot finished during the run")


if __name__ == "__main__":
    main()
