#!/usr/bin/python3
"""hookgate on PostgreSQL against pgbench on the same cluster: prints one table; asserts
nothing.

One throw-away cluster (tests/store/pg_support.py: fsync on, synchronous_commit on) serves
both sides in the same run:

  pgbench insert   a custom script INSERTing one row of a webhook's shape (12-byte id,
                   ecosystem id, url, description, secret, disabled, created_at, and the
                   indexes a store needs: primary key, list order, a unique idempotency
                   digest column) into a table of its own, -M prepared, one statement
                   per round trip;
  pgbench select   SELECT of one row by id from that table;
  hookgate create  POST /api/webhooks with h2load, on 1, 2 and 3 nodes of the same database
                   (the clients split between the nodes, one h2load per node at once);
  hookgate create at half that rate: the same, offered half the rate just measured (h2load
                   --rps): its latency when not saturated;
  hookgate get     GET /api/webhooks/<id> of one webhook, likewise.

Both sides get the same number of clients (--clients) and the same duration; h2load keeps
--streams requests in flight per connection (1 by default: the same concurrency as
pgbench's clients). Ratios: hookgate's rate over pgbench's of the same kind.

Everything runs on this machine: on 2 CPUs, PostgreSQL, the nodes and the load generator
share them, so more nodes show the cost of more processes (overhead), not scaling.

Usage: tests/bench/pg.py [--smoke] [--seconds N] [--clients N] [--streams N] [--nodes 1,2,3]
                         [--h1] [--threads N] [--connections N] [--build DIR | --binary PATH]
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "store"))
import pg_support as pgs  # noqa: E402


def _load_run():
    """tests/bench/run as a module (it has no .py suffix): its Server, BODY, TOKEN and create_one."""
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(HERE, "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


run = _load_run()
BODY = json.loads(run.BODY)

TABLE = """
CREATE SCHEMA pgbench_hookgate;
CREATE TABLE pgbench_hookgate.webhooks (
  id bytea PRIMARY KEY,
  seq bigserial NOT NULL,
  ecosystem_id text NOT NULL,
  url text NOT NULL,
  description text NOT NULL,
  secret text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  idempotency_digest bytea UNIQUE);
CREATE INDEX ON pgbench_hookgate.webhooks (ecosystem_id, created_at, seq);
"""

INSERT = """INSERT INTO pgbench_hookgate.webhooks (id, ecosystem_id, url, description, secret, created_at)
VALUES (substring(decode(md5(random()::text || :client_id), 'hex') from 1 for 12), '%s', '%s', '%s', 'whsec_bench', now());
""" % (BODY["ecosystemId"], BODY["url"], BODY["description"])

SELECT = """SELECT id, description, ecosystem_id, url, disabled, created_at FROM pgbench_hookgate.webhooks
WHERE id = '\\x%s'::bytea;
"""


def percentiles(times_us):
    times = sorted(times_us)
    if not times:
        return 0.0, 0.0
    return times[len(times) // 2] / 1000, times[min(len(times) - 1, int(len(times) * 0.99))] / 1000


def pgbench(pg, work, script, clients, seconds):
    """req/s (tps without connection time), p50, p99 in ms."""
    pg.psql("CHECKPOINT")  # every row starts from a clean WAL, not in the last one's checkpoint
    path = os.path.join(work, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    prefix = os.path.join(work, "pgbench_log")
    for name in os.listdir(work):
        if name.startswith("pgbench_log"):
            os.remove(os.path.join(work, name))
    out = subprocess.run([os.path.join(pg.bindir, "pgbench"), "-n", "-h", "127.0.0.1", "-p", str(pg.port),
                          "-U", pgs.SUPERUSER, "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
                          "-T", str(seconds), "-f", path, "-l", "--log-prefix", prefix, pgs.DATABASE],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    times = []
    for name in os.listdir(work):
        if name.startswith("pgbench_log"):
            with open(os.path.join(work, name)) as f:
                times += [int(line.split()[2]) for line in f if line.strip()]
    p50, p99 = percentiles(times)
    return {"rps": rate, "p50": p50, "p99": p99, "failed": 0}


def h2load_nodes(pg, ports, path, clients, streams, seconds, work, method="POST", h1=False, rate=None):
    """One h2load per node at once, the clients split between them: summed req/s, p50/p99
    over every request, and the count of non-2xx answers. rate: the req/s to offer in all
    (h2load --rps per client), None for as fast as answers come."""
    body = os.path.join(work, "body.json")
    with open(body, "wb") as f:
        f.write(run.BODY)
    pg.psql("CHECKPOINT")
    procs = []
    for i, port in enumerate(ports):
        n = clients // len(ports) + (1 if i < clients % len(ports) else 0)
        log = os.path.join(work, "h2load-%d.log" % i)
        if os.path.exists(log):
            os.remove(log)
        args = ["h2load", "-D", str(seconds), "-c", str(n), "--log-file", log, "-H", "authorization: " + run.TOKEN]
        args += ["--h1"] if h1 else ["-m", str(streams)]
        if rate is not None:
            args += ["--rps", "%d" % max(1, round(rate / clients))]
        if method != "GET":
            args += ["-d", body, "-H", "content-type: application/json"]
        procs.append((subprocess.Popen(args + ["http://127.0.0.1:%d%s" % (port, path)], stdout=subprocess.PIPE,
                                       text=True), log))
    rate, failed, times = 0.0, 0, []
    for proc, log in procs:
        try:
            out = proc.communicate(timeout=seconds + 60)[0]
        except subprocess.TimeoutExpired:
            for p, _ in procs:
                p.kill()
            raise RuntimeError("h2load did not finish within %ds of a %ds run" % (seconds + 60, seconds))
        rate += float(re.search(r"finished in .*?, ([\d.]+) req/s", out).group(1))
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        errored = re.search(r"requests: .*?, (\d+) errored", out)
        failed += sum(int(codes.group(i)) for i in (2, 3, 4)) + int(errored.group(1))  # non-2xx answers, errors
        with open(log) as f:
            times += [int(line.split()[2]) for line in f if line.strip()]
    p50, p99 = percentiles(times)
    return {"rps": rate, "p50": p50, "p99": p99, "failed": failed}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="1-second runs (checks the script; figures meaningless)")
    ap.add_argument("--seconds", type=int, default=10, help="duration of every measurement")
    ap.add_argument("--clients", type=int, default=16, help="pgbench clients = h2load connections, in all")
    ap.add_argument("--streams", type=int, default=1, help="h2load requests in flight per connection")
    ap.add_argument("--nodes", default="1,2,3", help="the node counts to measure")
    ap.add_argument("--h1", action="store_true", help="HTTP/1.1 instead of h2c (one request in flight per connection)")
    ap.add_argument("--threads", type=int, default=1, help="server.threads of each node")
    ap.add_argument("--connections", type=int, default=4,
                    help="store.postgres.connections_per_loop of each node (4: the default)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--binary", help="an existing hookgate to measure (no Release build)")
    args = ap.parse_args()
    seconds = 1 if args.smoke else args.seconds
    counts = [int(n) for n in args.nodes.split(",")]
    pgs.install_sigterm_interrupt()

    binary = args.binary
    if binary is None:
        subprocess.run(["cmake", "-S", ROOT, "-B", args.build, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", args.build, "-j2", "--target", "hookgate"], check=True,
                       stdout=subprocess.DEVNULL)
        binary = os.path.join(args.build, "hookgate")

    rows = []
    work = tempfile.mkdtemp(prefix="hookgate-bench-pg-")
    try:
        with pgs.PgCluster() as pg:
            pg.psql(TABLE)
            ins = pgbench(pg, work, INSERT, args.clients, seconds)
            rows.append(("pgbench insert", ins, None))
            one = pg.psql("SELECT encode(id, 'hex') FROM pgbench_hookgate.webhooks LIMIT 1")[0][0]
            sel = pgbench(pg, work, SELECT % one, args.clients, seconds)
            rows.append(("pgbench select by id", sel, None))
            store = {"postgres": "{ conninfo: %s, connections_per_loop: %d, statement_timeout_ms: %d }"
                     % (json.dumps(pg.conninfo()), args.connections, pgs.NODE_STATEMENT_TIMEOUT_MS)}
            tables = None
            for count in counts:
                nodes = []
                try:
                    for _ in range(count):
                        try:
                            nodes.append(run.Server(binary, work, store, threads=args.threads))
                        except RuntimeError:
                            logs = sorted(os.path.join(work, f) for f in os.listdir(work) if f.startswith("server-"))
                            with open(max(logs, key=os.path.getmtime)) as f:
                                sys.exit("%s did not start with store.postgres; its log:\n%s" % (binary, f.read()[-3000:]))
                        pgs.wait_readyz(nodes[-1].port, 30)
                    ports = [n.port for n in nodes]
                    tables = tables or [t for t in pg.tables() if not t.startswith("pgbench_hookgate.")]
                    made = h2load_nodes(pg, ports, "/api/webhooks", args.clients, args.streams, seconds, work,
                                        h1=args.h1)
                    rows.append(("hookgate create, %d node%s" % (count, "s" if count > 1 else ""), made,
                                 made["rps"] / ins["rps"]))
                    half = h2load_nodes(pg, ports, "/api/webhooks", args.clients, args.streams, seconds, work,
                                        h1=args.h1, rate=made["rps"] / 2)
                    rows.append(("  offered half that rate", half, None))
                    wid = run.create_one(ports[0])
                    got = h2load_nodes(pg, ports, "/api/webhooks/" + wid, args.clients, args.streams, seconds, work,
                                       method="GET", h1=args.h1)
                    rows.append(("hookgate get, %d node%s" % (count, "s" if count > 1 else ""), got,
                                 got["rps"] / sel["rps"]))
                finally:
                    for n in nodes:
                        n.stop()
    finally:
        if not os.environ.get("HOOKGATE_KEEP_TMP"):
            subprocess.run(["rm", "-rf", work])

    print("hookgate on PostgreSQL vs pgbench: %s, %d CPUs, %ds per row, %d clients in all (h2load %s), node server.threads %d, connections_per_loop %d, one cluster (fsync on, synchronous_commit on, a CHECKPOINT before each row)"
          % (os.uname().machine, os.cpu_count(), seconds, args.clients,
             "HTTP/1.1" if args.h1 else "h2c, %d stream%s per connection" % (args.streams, "s" if args.streams > 1 else ""),
             args.threads, args.connections))
    print("%-28s %10s %8s %8s %8s %8s" % ("configuration", "req/s", "p50 ms", "p99 ms", "ratio", "non-2xx"))
    for name, r, ratio in rows:
        print("%-28s %10.0f %8.2f %8.2f %8s %8s" % (name, r["rps"], r["p50"], r["p99"],
                                                   "%.0f%%" % (ratio * 100) if ratio is not None else "",
                                                   r["failed"] if not name.startswith("pgbench") else ""))
    print("ratios: hookgate create / pgbench insert, hookgate get / pgbench select, same clients, same cluster, "
          "same run")
    print("nodes: on %d CPUs PostgreSQL, every node and the load generators share the machine, so the 2- and "
          "3-node rows show the overhead of more processes, not scaling" % os.cpu_count())
    if tables:
        print("tables the nodes' migrations made: " + ", ".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
