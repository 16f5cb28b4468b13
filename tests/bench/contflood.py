#!/usr/bin/python3
"""An HTTP/2 CONTINUATION flood (issue 12, item 5): a figure, not a test.
HEADERS without END_HEADERS on stream 1, then zero-length CONTINUATION frames until the
server ends the connection or SECONDS pass. Frames go one at a time for the first 2,000
(each after a 5 ms look for the server's close), then 1,000 at a time, so the count written
before the close was seen is exact to the frame early on. Against the h2o listener and the
native gRPC listener of one server (two event loops, memory only).
Prints, per listener, the frames written before the server closed the connection, how long
that took, the server's CPU time meanwhile, and whether a real client is served after.
usage: tests/bench/contflood.py BINARY [SECONDS]"""
import os, select, socket, struct, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netprobe import free_port, real_client, running_server

def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def server_closed(s, wait):
    """True when the server has ended s (reads and drops what it sent)."""
    while True:
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            return False
        try:
            if s.recv(65536) == b"":
                return True
        except OSError:
            return True
        wait = 0

def flood(port, pid, seconds):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 0x1, 1, b"\x82"))
    one, batch = frame(9, 0, 1), frame(9, 0, 1) * 1000
    sent, closed_at, c0, t0 = 0, None, cpu(pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            if server_closed(s, 0.005 if sent < 2000 else 0):
                closed_at = time.monotonic() - t0
                break
            if sent < 2000:
                s.sendall(one)
                sent += 1
            else:
                s.sendall(batch)
                sent += 1000
        except OSError:
            closed_at = time.monotonic() - t0
            break
    used = cpu(pid) - c0
    s.close()
    return sent, closed_at, used, time.monotonic() - t0

def main():
    binary, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10
    hp, gp = free_port(), free_port()
    config = ("server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n"
              "  grpc: { listen: [ { address: 127.0.0.1, port: %d } ] }\n  threads: 2\n"
              "  access_log: off\naccounts: []\n" % (hp, gp))
    with running_server(binary, "contflood", config, hp) as proc:
        for name, port in (("h2o listener (cleartext h2)", hp), ("native gRPC listener", gp)):
            sent, closed_at, used, took = flood(port, proc.pid, seconds)
            print("%s: %d empty CONTINUATION frames written; %s; server CPU %.2f s in %.1f s; real client after: %s"
                  % (name, sent, "closed by the server after %.2f s" % closed_at if closed_at is not None
                     else "still open after %.0f s" % seconds, used, took, real_client(hp, 3)))
        for line in urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hp, timeout=5).read().decode().splitlines():
            if line.startswith("hookgate_connections_continuation_flood_total"):
                print(line)

if __name__ == "__main__":
    main()
