#!/usr/bin/python3
"""Connection squatting (issue 12, item 2): a figure, not a test.

Starts hookgate (the binary given) with server.max_connections CAP, opens SQUATTERS
cleartext connections that send only the HTTP/2 preface, SETTINGS and a PING every 3 s,
then tries real clients (GET /healthz over HTTP/1.1) and prints what they got and how many
squatters the server closed.

Usage: tests/bench/squat.py PATH/TO/hookgate [--cap 50] [--squatters 60] [--clients 5]
"""
import argparse
import socket
import time
from netprobe import free_port, real_client, running_server

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
PING = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"12345678"






def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--cap", type=int, default=50)
    ap.add_argument("--squatters", type=int, default=60)
    ap.add_argument("--clients", type=int, default=5)
    args = ap.parse_args()
    port = free_port()
    config = ("server:\n  listen: [ { address: 127.0.0.1, port: %d } ]\n  threads: 2\n"
              "  max_connections: %d\naccounts: []\n" % (port, args.cap))
    with running_server(args.binary, "squat", config, port):
        squatters = []
        for _ in range(args.squatters):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(PREFACE + SETTINGS + PING)
            squatters.append(s)
        for round_ in range(3):  # 9 s of PINGs every 3 s
            time.sleep(3)
            for s in squatters:
                try:
                    s.sendall(PING)
                except OSError:
                    pass
            answers = [real_client(port, 5) for _ in range(args.clients)]
            print("after %2d s: real clients got %s" % (3 * (round_ + 1), answers))
        closed = 0
        for s in squatters:
            s.setblocking(False)
            try:
                while True:
                    data = s.recv(65536)
                    if data == b"":
                        closed += 1
                        break
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        print("squatters closed by the server: %d of %d (cap %d)" % (closed, args.squatters, args.cap))
        for s in squatters:
            s.close()


main()
