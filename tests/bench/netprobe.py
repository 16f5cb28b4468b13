"""What the connection and memory figures scripts in tests/bench share: a free loopback
port for the server they start, and a real client's view of it."""
import socket


def free_port():
    """A loopback port free now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_client(port, timeout):
    """The status line a fresh HTTP/1.1 client gets for GET /healthz, or why it got none."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = s.recv(4096)
            return answer.split(b"\r\n", 1)[0].decode() if answer else "closed without an answer"
    except OSError as e:
        return "error: %s" % e
