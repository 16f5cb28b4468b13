"""Shared by the durable store's system tests (tests/store/test_*.py): a hookgate started on
a free loopback port with a store directory, plain HTTP/1.1 clients for the REST API, and
the checks every test makes of a webhook answer.

The tests are clients of the server and of its files: they read and damage store.path the
way a crash, a full disk or an operator would, and never share code with the server.
Only the Python standard library is used.
"""
import http.client
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

STARTUP_TIMEOUT = 20.0   # seconds until GET /healthz must answer 200 (recovery included)
SHUTDOWN_TIMEOUT = 10.0  # seconds the server may take to exit after SIGTERM
EXIT_TIMEOUT = 20.0      # seconds a server that must refuse to start may take to exit
CALL_TIMEOUT = 20.0      # a deadline on every call, so that a hang fails instead of blocking

TOKEN = "plain-token"
ECO = "C5156b8ace57896adb6dae592"
URL = "https://example.com/hook"

WEBHOOK_KEYS = ["id", "description", "ecosystemId", "url", "disabled", "createdAt"]
ID_RE = re.compile(r"^[0-9a-f]{24}$")
CREATED_AT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LOADED_RE = re.compile(r"hookgate: store: loaded (\d+) webhooks")

JOURNAL_MAGIC = b"HGJRNL01"   # server/store/record.h: the first 8 bytes of a journal
SNAPSHOT_MAGIC = b"HGSNAP01"  # and of a snapshot
RECORD_HEADER_LEN = 8         # 4-byte length + 4-byte CRC-32C, little-endian, before each payload


# --- the run's environment ---------------------------------------------------------------


def binary_from_argv():
    """The server binary: argv[1] (removed from argv for unittest) or $HOOKGATE_BINARY."""
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        path = sys.argv.pop(1)
    else:
        path = os.environ.get("HOOKGATE_BINARY", "")
    path = os.path.abspath(path) if path else ""
    if not path or not os.access(path, os.X_OK):
        sys.exit("no hookgate binary at %r (pass it as the first argument)" % path)
    return path


def make_tmpdir(kind):
    return tempfile.mkdtemp(prefix="hookgate-store-%s-" % kind)


def remove_tmpdir(tmp):
    """Removes a run's directory, unless HOOKGATE_KEEP_TMP is set (to read the server logs)."""
    if tmp and not os.environ.get("HOOKGATE_KEEP_TMP"):
        shutil.rmtree(tmp, ignore_errors=True)


def free_ports(n):
    """n distinct free loopback ports (held open together, so the kernel cannot hand out
    one twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def config_yaml(port, store_path, fsync="always", fsync_interval_ms=1000, snapshot_after_bytes=65536,
                grpc_port=None, threads=2, secret_key_file=None, previous_secret_key_files=None, store_yaml=None,
                delivery_yaml=None):
    """The test configuration; store_yaml (a flow-style `store:` value, e.g. PgCluster.store_yaml())
    replaces the durable store of store_path; delivery_yaml is the `delivery:` value (flow style)."""
    lines = ["server:", "  listen: [ { address: 127.0.0.1, port: %d } ]" % port]
    if grpc_port is not None:
        lines.append("  grpc: { listen: [ { address: 127.0.0.1, port: %d } ] }" % grpc_port)
    lines.append("  threads: %d" % threads)
    if store_yaml is not None:
        lines.append("store: " + store_yaml)
    else:
        lines.append(
            "store: { path: %s, fsync: %s, fsync_interval_ms: %d, snapshot_after_bytes: %d%s%s }"
            % (json.dumps(store_path), fsync, fsync_interval_ms, snapshot_after_bytes,
               "" if secret_key_file is None else ", secret_key_file: %s" % json.dumps(secret_key_file),
               "" if previous_secret_key_files is None
               else ", previous_secret_key_files: [ %s ]" % ", ".join(json.dumps(k) for k in previous_secret_key_files)))
    if delivery_yaml is not None:
        lines.append("delivery: " + delivery_yaml)
    lines += [
        "accounts:",
        "  - id: acme",
        '    tokens: [ "%s" ]' % TOKEN,
        "    ecosystems: [ { id: %s } ]" % ECO,
    ]
    return "\n".join(lines) + "\n"


# --- the server under test -----------------------------------------------------------------


class Server:
    """One hookgate process on store_path. Its stderr (start-up lines, store messages, the
    access log) goes to a file in tmp. With wait=True the constructor returns once GET
    /healthz answers 200 and raises AssertionError if the process exits first."""

    _n = 0

    def __init__(self, binary, tmp, store_path, wait=True, grpc=False, umask=None, **store):
        for attempt in range(PORT_ATTEMPTS):
            Server._n += 1
            ports = free_ports(2)
            self.port = ports[0]
            self.grpc_port = ports[1] if grpc else None
            self.store_path = store_path
            self.config_path = os.path.join(tmp, "hookgate-%03d.yaml" % Server._n)
            with open(self.config_path, "w") as f:
                f.write(config_yaml(self.port, store_path, grpc_port=self.grpc_port, **store))
            self.log_path = os.path.join(tmp, "hookgate-%03d.log" % Server._n)
            self._log = open(self.log_path, "wb")
            kw = {} if umask is None else {"umask": umask}
            self.proc = subprocess.Popen([binary, "--config", self.config_path], stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log, **kw)
            if not wait:
                return
            try:
                self._wait_ready()
                return
            except BaseException:
                self.kill()
                # a free port taken by another process (a test running beside this one) before
                # the server bound it: again on other ports
                if attempt + 1 < PORT_ATTEMPTS and "Address already in use" in self.log():
                    continue
                raise

    def _wait_ready(self):
        """/healthz answers 200 from this process: its log says it listens on the port first
        (else another process holding the port could answer for it)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = None
        mine = "listening on http://127.0.0.1:%d\n" % self.port
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("hookgate exited with %s during start-up; log:\n%s"
                                     % (self.proc.returncode, self.log()))
            if mine not in self.log():
                last = "not listening yet"
                if time.monotonic() > deadline:
                    raise AssertionError("hookgate did not listen on port %d within %ss; log:\n%s"
                                         % (self.port, STARTUP_TIMEOUT, self.log()))
                time.sleep(0.02)
                continue
            try:
                status, _, _ = request(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
                last = "status %d" % status
            except OSError as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise AssertionError("GET /healthz did not answer 200 within %ss (last: %s); log:\n%s"
                                     % (STARTUP_TIMEOUT, last, self.log()))
            time.sleep(0.02)

    def log(self):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def loaded(self):
        """N of the start-up line "store: loaded N webhooks ...", or None."""
        m = LOADED_RE.search(self.log())
        return int(m.group(1)) if m else None

    def wait_exit(self, timeout=EXIT_TIMEOUT):
        """For a server that must refuse to start: its exit code (None if it is still running
        after timeout, in which case it is killed)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._log.close()
        return self.proc.returncode

    def stop(self):
        """SIGTERM; the exit code, or None when it did not exit within SHUTDOWN_TIMEOUT."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self._log.close()
        return self.proc.returncode

    def kill(self):
        """SIGKILL: what a crash looks like to the store."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()


# --- the REST API over HTTP/1.1 ------------------------------------------------------------


def request(port, method, path, body=None, headers=None, timeout=CALL_TIMEOUT, conn=None):
    """One exchange: (status, {lower-case name: value}, body bytes). With conn (an
    http.client.HTTPConnection) the connection is reused and left open."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, data
    finally:
        if own:
            conn.close()


def create_body(description, secret="s3cret", url=URL, ecosystem_id=ECO):
    return json.dumps({"ecosystemId": ecosystem_id, "url": url, "secret": secret,
                       "description": description}).encode()


def create(port, description, conn=None, **kw):
    """POST /api/webhooks: (status, headers, body bytes)."""
    return request(port, "POST", "/api/webhooks", create_body(description, **kw),
                   {"authorization": TOKEN, "content-type": "application/json"}, conn=conn)


def get(port, webhook_id, conn=None):
    return request(port, "GET", "/api/webhooks/" + webhook_id, headers={"authorization": TOKEN}, conn=conn)


def get_many(port, ids, window=64):
    """GET /api/webhooks/<id> for every id, pipelined on one HTTP/1.1 connection (window
    requests in flight), because the crash test reads tens of thousands of webhooks after
    each restart: [(status, body bytes)] in the order of ids. Answers must carry a
    content-length (hookgate's always do); anything else raises AssertionError."""
    out = []
    sock = socket.create_connection(("127.0.0.1", port), timeout=CALL_TIMEOUT)
    buf = b""
    try:
        for start in range(0, len(ids), window):
            chunk = ids[start:start + window]
            sock.sendall(b"".join(b"GET /api/webhooks/%s HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: %s\r\n\r\n"
                                  % (i.encode(), TOKEN.encode()) for i in chunk))
            for _ in chunk:
                while b"\r\n\r\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        raise AssertionError("the connection closed with %d answers missing" % (len(ids) - len(out)))
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length = None
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                if length is None:
                    raise AssertionError("an answer without content-length: %r" % head)
                while len(buf) < length:
                    data = sock.recv(65536)
                    if not data:
                        raise AssertionError("the connection closed inside a body")
                    buf += data
                out.append((status, buf[:length]))
                buf = buf[length:]
    finally:
        sock.close()
    return out


PORT_ATTEMPTS = 3  # starts of a server whose free port another process took first
LIST_PAGE_SIZE = 1000  # limits.max_page_size by default: the fewest pages


def list_items(port, conn=None):
    """Every webhook of ECO, walking GET /api/webhooks?ecosystemId=ECO page by page:
    (status, body bytes, items or None). The first failed page gives its status and body,
    and None; so does a page that is not {"items": [...]} (with "nextPageToken" after
    items when another page follows)."""
    items, token = [], None
    while True:
        path = "/api/webhooks?ecosystemId=%s&limit=%d" % (ECO, LIST_PAGE_SIZE)
        if token is not None:
            path += "&pageToken=" + token
        status, _, body = request(port, "GET", path, headers={"authorization": TOKEN}, conn=conn)
        if status != 200:
            return status, body, None
        obj = json.loads(body)
        if (not isinstance(obj, dict) or list(obj.keys()) not in (["items"], ["items", "nextPageToken"])
                or not isinstance(obj["items"], list)):
            return status, body, None
        items += obj["items"]
        token = obj.get("nextPageToken")
        if token is None:
            return status, body, items


def webhook_problem(obj, description=None):
    """None when obj is a well-formed webhook (of this test configuration), else what is wrong."""
    if not isinstance(obj, dict):
        return "not an object: %r" % (obj,)
    if list(obj.keys()) != WEBHOOK_KEYS:
        return "keys %r, expected %r" % (list(obj.keys()), WEBHOOK_KEYS)
    if not isinstance(obj["id"], str) or not ID_RE.match(obj["id"]):
        return "bad id %r" % (obj["id"],)
    if obj["ecosystemId"] != ECO or obj["url"] != URL or obj["disabled"] is not False:
        return "ecosystemId/url/disabled %r" % (obj,)
    if not isinstance(obj["description"], str) or (description is not None and obj["description"] != description):
        return "description %r, expected %r" % (obj["description"], description)
    if not isinstance(obj["createdAt"], str) or not CREATED_AT_RE.match(obj["createdAt"]):
        return "bad createdAt %r" % (obj["createdAt"],)
    return None


def is_json_content(headers):
    return headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


# --- the files in store.path ------------------------------------------------------------


def store_files(store_path, kind):
    """{N: path} of the kind.N files (kind "journal" or "snapshot"), without temporaries."""
    out = {}
    for name in os.listdir(store_path):
        m = re.match(r"^%s\.(\d+)$" % kind, name)
        if m:
            out[int(m.group(1))] = os.path.join(store_path, name)
    return out


def newest(store_path, kind):
    files = store_files(store_path, kind)
    return files[max(files)] if files else None


def records(path, magic):
    """The (offset, length) of every whole record of a journal or snapshot, read from the
    format in server/store/record.h (so that a test can damage one record exactly)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != magic:
        raise AssertionError("%s does not start with %r" % (path, magic))
    out, at = [], 8
    while at + RECORD_HEADER_LEN <= len(data):
        n = int.from_bytes(data[at:at + 4], "little")
        if n == 0 or at + RECORD_HEADER_LEN + n > len(data):
            break
        out.append((at, RECORD_HEADER_LEN + n))
        at += RECORD_HEADER_LEN + n
    return out
