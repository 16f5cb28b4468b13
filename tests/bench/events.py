#!/usr/bin/python3
"""Benchmark of event delivery: prints one table; asserts nothing.

Builds a Release binary (or takes --binary), starts a local receiver (Node's http server
answering 204 to every POST, as tests/bench/run's invoke row does) and, for each store
(memory only, then store.path with fsync: batch), a new server per measurement:

  publish     h2load POST /api/events (one small item) over h2c, -c 16 -m 8, 20,000, to an
              ecosystem with 1 webhook (the receiver); then waits until every delivery
              is delivered (hookgate_deliveries_total) and says how long that took;
  deliveries  K = 2,000 events published at once to an ecosystem of W = 16 webhooks, all
              the receiver: K*W / (time from the first publish until /metrics counts K*W
              delivered). Its ratio is against the receiver alone: h2load --h1 POSTing
              the same body to it with the delivery concurrency (delivery.max_in_flight
              capped by max_in_flight_per_webhook * W) and "connection: close", so each
              request opens a new connection, as each of hookgate's attempts does; the
              two alternately, 3 times each (a busy spell of a shared machine then hits
              both alike), medians;
  fan-out     one event to F = 1,000 webhooks (each its own url path): the receiver notes when
              each path arrives; p50, p99 and last of (arrival - publish);
  steady      events published at a fixed rate (--rate, h2load --rps) to 4 webhooks for
              10 s, /metrics sampled every 0.5 s: hookgate_delivery_lag_seconds and
              hookgate_deliveries_pending, max and mean while publishing, and how long the
              backlog took to drain afterwards.

The server runs --threads event loops (default 1), pinned to CPUs 1..N when the machine
has a CPU more (taskset's way, through this process's affinity, which children inherit);
h2load, the receiver and this script then share CPU 0, except the receiver-alone h2load,
which runs on the server's CPUs (it stands where hookgate stands: the receiver's client).
--no-pin lets the scheduler place them.

The exit status is 1 when a publish or a request of the receiver alone was not answered
2xx, a delivery was not delivered (no progress for 15 s) or a server did not exit 0 on
SIGTERM: the figures are then not what they say. The servers' log lines other than
access lines and start and stop lines are printed after the table.

Usage: tests/bench/events.py [--smoke] [--postgres] [--rate N] [--threads N] [--no-pin] [--build DIR | --binary PATH]
  --smoke    tiny counts (CI uses it to check the script runs; figures meaningless)
  --postgres a third column: the PostgreSQL store, on a throw-away cluster (tests/store/pg_support.py)
             that runs on every CPU (the scheduler places its processes), emptied before each server
"""
import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from netprobe import free_port, running_server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "store"))
import pg_support  # noqa: E402  (tests/store: a throw-away PostgreSQL cluster, for --postgres)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECO = "C5156b8ace57896adb6dae592"
TOKEN = "bench-token"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # every delivery is signed
ITEM = {"type": "bench.event", "id": "evt_0123456789", "n": 1}
PUBLISH = json.dumps({"ecosystemId": ECO, "items": [ITEM]}, separators=(",", ":")).encode()
DELIVERED_BODY = json.dumps({"items": [ITEM]}, separators=(",", ":")).encode()  # what each delivery POSTs
MAX_IN_FLIGHT, PER_WEBHOOK = 256, 4  # delivery.max_in_flight and max_in_flight_per_webhook, set in the config
SERVER_CPUS, CLIENT_CPUS = None, None  # sets of CPUs, set in main when pinning

# The receiver: 204 to every POST. It counts requests and connections, and notes the
# first arrival (CLOCK_MONOTONIC ns, the clock of Python's time.monotonic_ns) of each
# path under /f/; GET /stats and GET /arrivals (which also forgets them) are the
# script's own questions.
RECEIVER_JS = r"""
const http = require("node:http");
let requests = 0, connections = 0;
let arrivals = new Map();
const s = http.createServer((req, res) => {
  if (req.method === "GET") {
    let body;
    if (req.url === "/arrivals") {
      body = JSON.stringify(Object.fromEntries(arrivals));
      arrivals = new Map();
    } else {
      body = JSON.stringify({requests, connections});
    }
    res.writeHead(200, {"content-type": "application/json"});
    res.end(body);
    return;
  }
  requests++;
  if (req.url.startsWith("/f/")) {
    const seen = arrivals.get(req.url);
    if (seen) seen[1]++; else arrivals.set(req.url, [Number(process.hrtime.bigint()), 1]);
  }
  req.resume();
  req.on("end", () => { res.writeHead(204); res.end(); });
});
s.on("connection", () => connections++);
s.listen(0, "127.0.0.1", () => console.log(s.address().port));
"""


class Receiver:
    """RECEIVER_JS on a free loopback port, on this process's CPUs."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", "-e", RECEIVER_JS], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", path)
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Api:
    """One keep-alive HTTP/1.1 connection to hookgate."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None):
        headers = {"authorization": "Bearer " + TOKEN}
        if body is not None:
            headers["content-type"] = "application/json"
        for again in (True, False):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()  # the server closed an idle keep-alive connection: once more
                if not again:
                    raise

    def create_webhook(self, url):
        body = json.dumps({"ecosystemId": ECO, "url": url, "secret": SECRET}).encode()
        status, answer = self.call("POST", "/api/webhooks", body)
        if status != 201:
            raise RuntimeError("create answered %d: %s" % (status, answer[:300]))

    def metrics(self):
        """The delivery figures of /metrics: delivered/failed/cancelled, pending, lag
        (seconds), and attempts by error class."""
        status, text = self.call("GET", "/metrics")
        text = text.decode()
        m = {o: int(v) for o, v in re.findall(r'^hookgate_deliveries_total\{outcome="(\w+)"\} (\d+)', text, re.M)}
        m["errors"] = {e: int(v) for e, v in re.findall(r'^hookgate_delivery_attempts_total\{error="(\w*)"\} (\d+)',
                                                       text, re.M) if e and v != "0"}
        for name in ("deliveries_pending", "delivery_lag_seconds", "deliveries_in_flight"):
            found = re.search(r"^hookgate_%s ([\d.]+)" % name, text, re.M)
            m[name] = float(found.group(1)) if found else 0.0
        return m

    def close(self):
        self.conn.close()


PG = None  # --postgres: the PgCluster every PostgreSQL server uses (emptied before each)


def config(port, threads, store):
    lines = ["server:", "  listen: [ { address: 127.0.0.1, port: %d } ]" % port, "  threads: %d" % threads,
             "accounts:", "  - id: bench", '    tokens: [ "%s" ]' % TOKEN, "    ecosystems: [ { id: %s } ]" % ECO,
             "delivery: { allow_networks: [ 127.0.0.0/8 ], max_in_flight: %d, max_in_flight_per_webhook: %d }"
             % (MAX_IN_FLIGHT, PER_WEBHOOK)]
    if store == "postgres":
        lines.append("store: { postgres: { conninfo: %s } }" % json.dumps(PG.conninfo()))
    elif store:
        lines.append("store: { path: %s, fsync: batch }" % store)
    return "\n".join(lines) + "\n"


CPU_USED = []  # (store, {part: CPU seconds per delivery}) of each deliveries run
ODD = []  # what the servers said besides access, start and stop lines; failed attempts
PROBLEMS = []  # what makes a figure not what it says (exit status 1)
ROUTINE = re.compile(r"^hookgate: (store: |listening on |\d+ event loop|SIGTERM received, stopping$|stopped$)")


def wait_ready(port, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise RuntimeError("hookgate on PostgreSQL not ready after %d s" % seconds)
        time.sleep(0.05)


@contextlib.contextmanager
def server(binary, work, threads, durable):
    """A new hookgate (netprobe.running_server) on its own CPUs, with an empty store;
    yields an Api to it. Afterwards notes in ODD any unexpected log line and an exit
    status other than 0."""
    port = free_port()
    store = None
    if durable == "postgres":  # an empty database: what an earlier server stored is gone
        store = "postgres"
        for table in ("hookgate_attempts", "hookgate_deliveries", "hookgate_events", "hookgate_webhook_health",
                      "hookgate_webhooks"):
            PG.psql("DO $$ BEGIN IF to_regclass('%s') IS NOT NULL THEN TRUNCATE %s; END IF; END $$" % (table, table))
    elif durable:
        store = tempfile.mkdtemp(prefix="data-", dir=work)
        os.rmdir(store)  # hookgate creates it (0700)
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)  # the server inherits it
    try:
        with running_server(binary, "hookgate-events", config(port, threads, store), port) as proc:
            if CLIENT_CPUS:
                os.sched_setaffinity(0, CLIENT_CPUS)
            log = os.readlink("/proc/%d/fd/2" % proc.pid)
            if store == "postgres":  # /healthz answers before the loops have their connections
                wait_ready(port)
            api = Api(port)
            api.pid = proc.pid
            try:
                yield api
            finally:
                api.close()
                proc.terminate()
                code = proc.wait()
                with open(log, errors="replace") as f:
                    for line in f:
                        if not line.startswith("access ") and not ROUTINE.match(line):
                            ODD.append(line.rstrip("\n"))
                if code != 0:
                    PROBLEMS.append("hookgate exited with status %d" % code)
    finally:
        if CLIENT_CPUS:
            os.sched_setaffinity(0, CLIENT_CPUS)
        if store and store != "postgres":
            shutil.rmtree(store, ignore_errors=True)


def h2load_args(work, url, requests, clients, body, h1=False, streams=1, rps=None, headers=()):
    path = os.path.join(work, "body-%d.json" % len(body))
    with open(path, "wb") as f:
        f.write(body)
    log = os.path.join(work, "h2load.log")
    if os.path.exists(log):
        os.remove(log)  # h2load appends to it
    args = ["h2load", "-n", str(requests), "-c", str(clients), "-d", path, "--log-file", log,
            "-H", "content-type: application/json"]
    for h in headers:
        args += ["-H", h]
    args += ["--h1"] if h1 else ["-m", str(streams)]
    if rps:
        args += ["--rps", "%g" % rps]
    return args + [url], log


def h2load_result(out, log, requests):
    """req/s, 2xx count and p50/p99 ms of a finished h2load run."""
    rate = float(re.search(r"finished in .*?, ([\d.]+) req/s", out).group(1))
    codes = re.search(r"status codes: (\d+) 2xx", out)
    with open(log) as f:  # time since start (us), status, request time (us)
        times = sorted(int(line.split()[2]) for line in f if line.strip())
    return {"rps": rate, "ok": int(codes.group(1)) if codes else 0, "requests": requests,
            "p50": times[len(times) // 2] / 1000 if times else 0,
            "p99": times[min(len(times) - 1, int(len(times) * 0.99))] / 1000 if times else 0}


def h2load(work, url, requests, clients, body, cpus=None, **kw):
    args, log = h2load_args(work, url, requests, clients, body, **kw)
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    out = subprocess.run(args, capture_output=True, text=True, check=True, preexec_fn=pin).stdout
    return h2load_result(out, log, requests)


def wait_delivered(api, target, timeout, every=0.01, stall=15):
    """Polls /metrics until `target` deliveries are delivered; (monotonic time it saw
    them, or None after timeout or `stall` seconds without one more delivered; the last
    metrics)."""
    deadline = time.monotonic() + timeout
    seen, progress = -1, time.monotonic()
    while True:
        m = api.metrics()
        now = time.monotonic()
        delivered = m.get("delivered", 0)
        if delivered >= target:
            return now, m
        if delivered != seen:
            seen, progress = delivered, now
        if now > deadline or now - progress > stall:
            return None, m
        time.sleep(every)


def check(row, ok, requests, when, m, expected):
    if ok != requests:
        PROBLEMS.append("%s: %d of %d publishes answered 2xx" % (row, ok, requests))
    if when is None:
        PROBLEMS.append("%s: %d of %d deliveries delivered (failed %d, cancelled %d, pending %d)"
                        % (row, m.get("delivered", 0), expected, m.get("failed", 0), m.get("cancelled", 0),
                           m["deliveries_pending"]))
    if m["errors"]:
        ODD.append("%s: failed attempts by class: %s" % (row, m["errors"]))


def measure_publish(api, receiver, work, n):
    api.create_webhook("http://127.0.0.1:%d/p/0" % receiver.port)
    r = h2load(work, "http://127.0.0.1:%d/api/events" % api.port, n, 16, PUBLISH, streams=8,
               headers=["authorization: Bearer " + TOKEN])
    ended = time.monotonic()
    when, m = wait_delivered(api, n, 120)
    check("publish", r["ok"], n, when, m, n)
    r["drained"] = when - ended if when else None
    return r


class CpuTime:
    """CPU time (user + system, from /proc/PID/stat) used from start() to stop() by each
    part: {name: pid} counts the process and its children (PostgreSQL's postmaster: every
    backend); sampled every 50 ms, so a child that came and went between samples is missed."""
    PARTS = ("hookgate", "PostgreSQL", "receiver")
    HZ = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids):
        self.roots = {pid: name for name, pid in pids.items() if pid is not None}
        self.first, self.last, self.stopping = {}, {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            name = self.roots.get(int(pid)) or self.roots.get(int(fields[1]))  # itself, or its parent
            if name is not None:
                cpu = (int(fields[11]) + int(fields[12])) / self.HZ
                self.first.setdefault((pid, name), cpu)
                self.last[(pid, name)] = cpu

    def _run(self):
        while not self.stopping.wait(0.05):
            self._sample()

    def start(self):
        self._sample()
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self._sample()
        used = {name: 0.0 for name in self.PARTS}
        for key, cpu in self.last.items():
            used[key[1]] += cpu - self.first[key]
        return used


def measure_deliveries(binary, work, threads, durable, receiver, k, w):
    """hookgate's deliveries/s on a new server, and the CPU seconds each part used for them."""
    with server(binary, work, threads, durable) as api:
        for i in range(w):
            api.create_webhook("http://127.0.0.1:%d/d/%d" % (receiver.port, i))
        before = receiver.get("/stats")
        cpu = CpuTime({"hookgate": api.pid, "PostgreSQL": PG.postmaster_pid() if PG else None,
                       "receiver": receiver.proc.pid})
        cpu.start()
        start = time.monotonic()
        r = h2load(work, "http://127.0.0.1:%d/api/events" % api.port, k, 16, PUBLISH, streams=8,
                   headers=["authorization: Bearer " + TOKEN])
        when, m = wait_delivered(api, k * w, 120)
        used = cpu.stop()
        check("deliveries", r["ok"], k, when, m, k * w)
        after = receiver.get("/stats")
        if after["connections"] - before["connections"] < k * w:
            ODD.append("deliveries: %d deliveries over %d connections" % (
                after["requests"] - before["requests"], after["connections"] - before["connections"]))
        CPU_USED.append((durable, {name: seconds / (k * w) for name, seconds in used.items()}))
        return k * w / (when - start) if when else None


def measure_receiver(work, receiver, requests, concurrency):
    """The receiver alone: h2load from the server's CPUs, a new connection per request."""
    before = receiver.get("/stats")
    base = h2load(work, "http://127.0.0.1:%d/d/0" % receiver.port, requests, concurrency, DELIVERED_BODY, h1=True,
                  headers=["connection: close"], cpus=SERVER_CPUS)
    after = receiver.get("/stats")
    base["connections"] = after["connections"] - before["connections"]
    if base["ok"] != requests:
        PROBLEMS.append("receiver alone: %d of %d requests answered 2xx" % (base["ok"], requests))
    return base


def measure_fanout(api, receiver, f):
    for i in range(f):
        api.create_webhook("http://127.0.0.1:%d/f/%d" % (receiver.port, i))
    receiver.get("/arrivals")  # forget earlier ones
    start = time.monotonic_ns()
    status, answer = api.call("POST", "/api/events", PUBLISH)
    when, m = wait_delivered(api, f, 120, every=0.005)
    check("fan-out", 1 if status == 202 else 0, 1, when, m, f)
    arrivals = receiver.get("/arrivals")
    after = sorted((t - start) / 1e6 for t, _ in arrivals.values())
    repeated = sum(count - 1 for _, count in arrivals.values())
    if len(after) != f or repeated:
        ODD.append("fan-out: %d of %d webhooks' paths arrived, %d arrived more than once" % (len(after), f, repeated))
    return {"p50": after[len(after) // 2] if after else None,
            "p99": after[min(len(after) - 1, int(len(after) * 0.99))] if after else None,
            "last": after[-1] if after else None,
            "seen": (when - start / 1e9) * 1000 if when else None}


def measure_steady(api, receiver, work, rate, seconds, webhooks=4, clients=4):
    for i in range(webhooks):
        api.create_webhook("http://127.0.0.1:%d/l/%d" % (receiver.port, i))
    n = int(rate * seconds)
    args, log = h2load_args(work, "http://127.0.0.1:%d/api/events" % api.port, n, clients, PUBLISH, streams=1,
                            rps=rate / clients, headers=["authorization: Bearer " + TOKEN])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lags, pending = [], []
    next_sample = time.monotonic()
    while proc.poll() is None:
        m = api.metrics()
        lags.append(m["delivery_lag_seconds"])
        pending.append(m["deliveries_pending"])
        next_sample += 0.5
        time.sleep(max(0, next_sample - time.monotonic()))
    ended = time.monotonic()
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError("h2load failed: " + err[-500:])
    r = h2load_result(out, log, n)
    when, m = wait_delivered(api, n * webhooks, 120)
    check("steady", r["ok"], n, when, m, n * webhooks)
    r.update(lag_max=max(lags), lag_mean=statistics.mean(lags), pending_max=max(pending),
             pending_mean=statistics.mean(pending), samples=len(lags), drained=when - ended if when else None)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--binary", help="an existing hookgate to measure (no Release build)")
    ap.add_argument("--threads", type=int, default=1, help="server.threads of every server started")
    ap.add_argument("--rate", type=int, default=200, help="events/s of the steady row")
    ap.add_argument("--postgres", action="store_true", help="a third column: the PostgreSQL store")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the clients and the server to separate CPUs")
    args = ap.parse_args()
    global SERVER_CPUS, CLIENT_CPUS
    pinned = not args.no_pin and os.cpu_count() > args.threads
    if pinned:
        SERVER_CPUS, CLIENT_CPUS = set(range(1, args.threads + 1)), {0}
        os.sched_setaffinity(0, CLIENT_CPUS)  # the receiver and h2load inherit it
    if args.smoke:
        n, k, w, f, seconds, runs = 500, 50, 16, 50, 1, 1
    else:
        n, k, w, f, seconds, runs = 20000, 2000, 16, 1000, 10, 3
    rate = args.rate

    binary = args.binary
    if binary is None:
        subprocess.run(["cmake", "-S", ROOT, "-B", args.build, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", args.build, "-j2", "--target", "hookgate"], check=True,
                       stdout=subprocess.DEVNULL)
        binary = os.path.join(args.build, "hookgate")
    work = tempfile.mkdtemp(prefix="hookgate-events-")
    receiver = Receiver()
    results = {}
    try:
        kinds = [("memory", False), ("fsync batch", True)]
        if args.postgres:
            global PG
            if pinned:  # the cluster on every CPU: pinned, it would take CPU 0 from the receiver alone
                os.sched_setaffinity(0, SERVER_CPUS | CLIENT_CPUS)
            PG = pg_support.PgCluster().__enter__()
            if pinned:
                os.sched_setaffinity(0, CLIENT_CPUS)
            kinds.append(("postgres", "postgres"))
        for store, durable in kinds:
            res = results[store] = {}
            with server(binary, work, args.threads, durable) as api:
                res["publish"] = measure_publish(api, receiver, work, n)
            concurrency = min(MAX_IN_FLIGHT, PER_WEBHOOK * w)
            rates, bases = [], []
            for _ in range(runs):
                rates.append(measure_deliveries(binary, work, args.threads, durable, receiver, k, w))
                bases.append(measure_receiver(work, receiver, k * w, concurrency))
            done = [x for x in rates if x is not None]
            runs_cpu = [used for store_of, used in CPU_USED if store_of == durable]
            cpu_us = {part: 1e6 * statistics.median(u[part] for u in runs_cpu) for part in CpuTime.PARTS}
            res["deliveries"] = {"rate": statistics.median(done) if done else None, "rates": rates, "cpu": cpu_us,
                                 "base": statistics.median(b["rps"] for b in bases), "bases": bases,
                                 "concurrency": concurrency}
            with server(binary, work, args.threads, durable) as api:
                res["fanout"] = measure_fanout(api, receiver, f)
            with server(binary, work, args.threads, durable) as api:
                res["steady"] = measure_steady(api, receiver, work, rate, seconds)
    finally:
        receiver.stop()
        shutil.rmtree(work, ignore_errors=True)
        if PG is not None:
            PG.__exit__(None, None, None)

    def num(v, fmt="%.0f"):
        return "-" if v is None else fmt % v

    def pair(a, b, fmt):
        return "%s / %s" % (num(a, fmt), num(b, fmt))

    stores = list(results)
    d0 = results[stores[0]]["deliveries"]
    rows = [
        ("publish h2c -c 16 -m 8, 1 webhook: req/s", lambda r: num(r["publish"]["rps"])),
        ("  its p50 / p99 ms", lambda r: pair(r["publish"]["p50"], r["publish"]["p99"], "%.2f")),
        ("  its %d deliveries all done, s after" % n, lambda r: num(r["publish"]["drained"], "%.2f")),
        ("deliveries/s, %d events x %d webhooks" % (k, w), lambda r: num(r["deliveries"]["rate"])),
        ("receiver alone: h2load --h1 -c %d, req/s" % d0["concurrency"], lambda r: num(r["deliveries"]["base"])),
        ("  deliveries / receiver alone",
         lambda r: num(r["deliveries"]["rate"] and 100 * r["deliveries"]["rate"] / r["deliveries"]["base"], "%.0f%%")),
        ("  CPU per delivery, us: hookgate", lambda r: num(r["deliveries"]["cpu"]["hookgate"])),
        ("    PostgreSQL", lambda r: num(r["deliveries"]["cpu"]["PostgreSQL"])),
        ("    receiver", lambda r: num(r["deliveries"]["cpu"]["receiver"])),
        ("fan-out, 1 event x %d webhooks: last, ms" % f, lambda r: num(r["fanout"]["last"], "%.1f")),
        ("  arrival - publish p50 / p99 ms", lambda r: pair(r["fanout"]["p50"], r["fanout"]["p99"], "%.1f")),
        ("  all delivered in /metrics, ms", lambda r: num(r["fanout"]["seen"], "%.1f")),
        ("steady %d events/s x 4 webhooks, %d s: got/s" % (rate, seconds), lambda r: num(r["steady"]["rps"])),
        ("  delivery lag max / mean s", lambda r: pair(r["steady"]["lag_max"], r["steady"]["lag_mean"], "%.3f")),
        ("  deliveries pending max / mean", lambda r: pair(r["steady"]["pending_max"], r["steady"]["pending_mean"],
                                                           "%.0f")),
        ("  backlog done, s after publishing", lambda r: num(r["steady"]["drained"], "%.2f")),
    ]
    print("hookgate event delivery benchmark: %s, %d CPUs, %d server thread(s)%s; receiver: Node %s http "
          "answering 204%s" % (os.uname().machine, os.cpu_count(), args.threads,
                               " on CPUs 1-%d" % args.threads if pinned else "",
                               subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
                               ", with h2load and this script on CPU 0" if pinned else ""))
    print("%-46s" % "measurement" + "".join(" %18s" % s for s in stores))
    for name, value in rows:
        print("%-46s" % name + "".join(" %18s" % value(results[s]) for s in stores))
    print("deliveries/s: K*W over the time from the first publish to /metrics counting K*W delivered; each of "
          "hookgate's attempts opens a new connection (curl, no reuse), so the receiver-alone h2load sends "
          "\"connection: close\" (%d connections for %d requests in the first store's first run) from the server's "
          "CPUs with max_in_flight %d capped by max_in_flight_per_webhook %d x %d webhooks; %s"
          % (d0["bases"][0]["connections"], d0["bases"][0]["requests"], MAX_IN_FLIGHT, PER_WEBHOOK, w,
             "median of %d runs, alternately: %s" % (runs, "; ".join(
                 "%s deliveries/s %s, receiver alone %s" % (
                     s, ", ".join(num(x) for x in results[s]["deliveries"]["rates"]),
                     ", ".join(num(b["rps"]) for b in results[s]["deliveries"]["bases"])) for s in stores))
             if runs > 1 else "one run"))
    print("CPU per delivery: user + system time of hookgate, the PostgreSQL cluster and the receiver from the first "
          "publish until every delivery was counted, over K*W (the publishes' share included), medians of the runs; "
          "with %d CPUs, K*W deliveries cannot go faster than %d CPU-seconds over their sum" % (os.cpu_count(),
                                                                                              os.cpu_count()))
    print("fan-out: times at the receiver (CLOCK_MONOTONIC) from just before the publish was sent; steady: "
          "/metrics sampled every 0.5 s while h2load --rps published (%d samples in the first store's run)"
          % results[stores[0]]["steady"]["samples"])
    if ODD:
        print("the servers said or did:")
        for line in ODD[:40]:
            print("  " + line)
        if len(ODD) > 40:
            print("  ... and %d more" % (len(ODD) - 40))
    if PROBLEMS:
        print("not what the figures say: " + "; ".join(PROBLEMS))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
