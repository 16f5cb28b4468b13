"""What the connection and memory figures scripts in tests/bench share: a free loopback
port for the server they start, the server itself, and a real client's view of it."""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    """A loopback port free now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(binary, prefix, config, port):
    """hookgate on config (the YAML text; port is its first listener's) in a temporary
    directory named after prefix, its output in a log there; yields the process once
    GET /healthz answers 200 (exits the script if it does not within 10 s), and afterwards
    stops it and removes the directory."""
    tmp = tempfile.mkdtemp(prefix=prefix + "-")
    path = os.path.join(tmp, "config.yaml")
    with open(path, "w") as f:
        f.write(config)
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen([binary, "--config", path], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while real_client(port, 2) != "HTTP/1.1 200 OK":
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                with open(log.name) as f:
                    sys.exit("hookgate did not start; its log:\n" + f.read()[-3000:])
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def real_client(port, timeout):
    """The status line a fresh HTTP/1.1 client gets for GET /healthz, or why it got none."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = s.recv(4096)
            return answer.split(b"\r\n", 1)[0].decode() if answer else "closed without an answer"
    except OSError as e:
        return "error: %s" % e
