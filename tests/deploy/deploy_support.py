"""What the tests in tests/deploy share: a free loopback port, a file's text, and waiting for
a condition with the server's log in the failure. Standard library only; each test finds it
beside itself (a script's own directory is on sys.path)."""
import socket
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read(path):
    """The file's text, "" while it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_for(what, check, timeout=10, log_path=None):
    """Polls check every 20 ms until it is true; past timeout seconds, fails naming what
    (and showing the log at log_path, when given)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s%s" % (what, "; log:\n" + read(log_path) if log_path else ""))
        time.sleep(0.02)
