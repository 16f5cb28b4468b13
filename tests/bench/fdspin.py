#!/usr/bin/python3
"""File-descriptor exhaustion (issue 12, item 6): a figure, not a test.

Starts hookgate (the binary given) under RLIMIT_NOFILE LIMIT (soft and hard), two event
loops and a durable store, opens IDLE cleartext connections that send nothing, and prints
the process's CPU time over SECONDS seconds (utime + stime from /proc/PID/stat), what a
real client gets, and the server's log lines about descriptors.

Usage: tests/bench/fdspin.py PATH/TO/hookgate [--limit 64] [--idle 120] [--seconds 3]
"""
import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from netprobe import free_port, real_client




def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")




def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--idle", type=int, default=120)
    ap.add_argument("--seconds", type=float, default=3)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fdspin-")
    port = free_port()
    config = os.path.join(tmp, "fdspin.yaml")
    with open(config, "w") as f:
        f.write("server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
                "store: { path: %s/data }\ndelivery: { max_concurrent_invokes: 2, max_in_flight: 2 }\naccounts: []\n" % (port, tmp))
    log_path = os.path.join(tmp, "log")
    log = open(log_path, "w")
    limit = args.limit
    proc = subprocess.Popen([args.binary, "--config", config], stdout=log, stderr=log,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
    idle = []
    try:
        deadline = time.monotonic() + 10
        while real_client(port, 3) != "HTTP/1.1 200 OK":
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("hookgate did not start:\n" + open(log_path).read())
            time.sleep(0.05)
        for _ in range(args.idle):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        time.sleep(0.5)
        before = cpu_seconds(proc.pid)
        time.sleep(args.seconds)
        used = cpu_seconds(proc.pid) - before
        print("RLIMIT_NOFILE %d, %d idle connections: %.2f s of CPU in %.1f s (%.2f s/s)"
              % (limit, args.idle, used, args.seconds, used / args.seconds))
        print("a real client while they are open: %s" % real_client(port, 3))
        for s in idle:
            s.close()
        idle = []
        time.sleep(0.5)
        print("a real client once they closed: %s" % real_client(port, 3))
    finally:
        for s in idle:
            s.close()
        proc.terminate()
        proc.wait()
        log.close()
        print("server exit status: %s" % proc.returncode)
        lines = [l for l in open(log_path) if "descriptor" in l or "EMFILE" in l or "open files" in l
                 or "accept" in l or "assert" in l or "ERROR" in l]
        print("log lines about descriptors/accepting: %d" % len(lines))
        if proc.returncode not in (0, -15):
            lines = open(log_path).readlines()[-15:]
        for l in lines[:15]:
            print("  " + l.rstrip())
        shutil.rmtree(tmp, ignore_errors=True)


main()
