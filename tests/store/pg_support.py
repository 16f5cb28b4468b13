"""A throw-away PostgreSQL for the tests of hookgate's PostgreSQL store: PgCluster makes a
cluster in a temporary directory on a free loopback port, with a database `hookgate` owned
by a role `hookgate`, and always removes it again (stopped and deleted on exit, on a failed
test, on KeyboardInterrupt, and by a watchdog process if the test process itself is killed).

Nothing depends on a server being already there, nor on psycopg: SQL goes through psql.
initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user
(runuser), and the cluster directory belongs to it. Only the Python standard library.

Usage:  /usr/bin/python3 tests/store/pg_support.py --self-check
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402

READY_TIMEOUT = 30.0     # seconds PostgreSQL may take to accept connections after pg_ctl start
STOP_TIMEOUT = 30.0      # seconds pg_ctl may take to stop it
PSQL_TIMEOUT = 30.0      # a deadline on every psql, so that a hang fails instead of blocking
START_ATTEMPTS = 3       # free ports tried at the first start (another process may take one)
DATABASE = "hookgate"    # the database the nodes use, owned by
ROLE = "hookgate"        # this login role (trust authentication: no password)
SUPERUSER = "postgres"   # the cluster's bootstrap superuser (initdb -U)
FIELD_SEP = "\x1f"       # psql's field and record separators in PgCluster.psql: bytes no
RECORD_SEP = "\x1e"      # test value contains

# How a node reaches the cluster (the store.postgres keys of the PostgreSQL store's contract).
NODE_CONNECTIONS = 2
NODE_STATEMENT_TIMEOUT_MS = 5000

_WATCHDOG = r"""
import os, shutil, signal, subprocess, sys
cmd, data, tmp = sys.argv[1:4]
sys.stdin.buffer.read()  # EOF: the test process is gone (or closed the cluster)
if os.path.exists(os.path.join(data, "postmaster.pid")):
    subprocess.run(cmd.split("\x1f") + ["stop", "-D", data, "-m", "immediate", "-w", "-t", "30"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(tmp, ignore_errors=True)
"""


def pg_bindir():
    """The directory of initdb, pg_ctl, psql, pg_isready and pgbench: $HOOKGATE_PG_BIN, else the
    newest /usr/lib/postgresql/N/bin (Debian keeps them off PATH), else the one on PATH."""
    env = os.environ.get("HOOKGATE_PG_BIN")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) found: install Debian's postgresql "
                           "or set HOOKGATE_PG_BIN")
    return os.path.dirname(initdb)


def install_sigterm_interrupt():
    """Turns SIGTERM (ctest's timeout, a CI cancel) into KeyboardInterrupt, which unittest lets
    through (it records SystemExit as one more error and goes on), so that `with PgCluster()`,
    finally blocks and atexit hooks stop the cluster and the nodes."""
    def handler(signum, frame):
        raise KeyboardInterrupt("terminated by signal %d" % signum)
    signal.signal(signal.SIGTERM, handler)


class PgCluster:
    """One PostgreSQL cluster in its own temporary directory. A context manager: entering
    creates and starts it (database and role made), leaving stops it (immediate) and removes
    the directory whatever happened. stop()/start() keep the port and the data, so nodes
    configured with conninfo() find it again after a restart."""

    def __init__(self, fsync=True):
        self.bindir = pg_bindir()
        self.fsync = fsync
        self.tmp = None
        self.port = None
        self._as_postgres = []
        self._watchdog = None

    # --- life cycle ------------------------------------------------------------------------

    def __enter__(self):
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _create(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.sock = os.path.join(self.tmp, "sock")
        self.log_path = os.path.join(self.tmp, "postgres.log")
        os.mkdir(self.sock)
        if os.geteuid() == 0:
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
            for path in (self.tmp, self.sock):
                shutil.chown(path, "postgres", "postgres")
        self._start_watchdog()
        self._run(["initdb", "-D", self.data, "--auth=trust", "-U", SUPERUSER, "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"])  # --no-sync: initdb's own files only
        last = None
        for _ in range(START_ATTEMPTS):
            self.port = ss.free_ports(1)[0]
            self._write_conf()
            try:
                self.start()
                break
            except RuntimeError as e:  # the port was taken between free_ports and bind
                last = e
        else:
            raise last
        self.psql("CREATE ROLE %s LOGIN" % ROLE, db="postgres")
        self.create_database(DATABASE)

    def _write_conf(self):
        """The server settings, in postgresql.conf so that every later start keeps them."""
        conf = os.path.join(self.data, "postgresql.auto.conf")
        with open(conf, "w") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = %s\n"
                    "synchronous_commit = on\n"
                    "max_connections = 100\n"
                    "log_min_messages = warning\n" % (self.port, self.sock, "on" if self.fsync else "off"))
        if self._as_postgres:
            shutil.chown(conf, "postgres", "postgres")

    def _start_watchdog(self):
        """A process of its own session holding a pipe from this one: when this process ends
        in any way (SIGKILL by a test runner included), it reads EOF, stops the cluster and
        removes the directory."""
        cmd = FIELD_SEP.join(self._as_postgres + [os.path.join(self.bindir, "pg_ctl")])
        self._watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, cmd, self.data, self.tmp],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)

    def close(self):
        """Stops the server (immediate) and removes the directory; safe to call twice."""
        if self.tmp is None:
            return
        try:
            if self.running():
                self.stop("immediate")
        except BaseException:
            self._kill_postmaster()
        finally:
            if self._watchdog is not None:
                self._watchdog.stdin.close()
                try:
                    self._watchdog.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._watchdog.kill()
                    self._watchdog.wait()
                self._watchdog = None
            if os.environ.get("HOOKGATE_KEEP_TMP"):
                print("pg_support: kept %s" % self.tmp, file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def _kill_postmaster(self):
        pid = self.postmaster_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
            except ProcessLookupError:
                pass

    # --- the server ----------------------------------------------------------------------

    def _run(self, args, timeout=STOP_TIMEOUT, check=True):
        p = subprocess.run(self._as_postgres + [os.path.join(self.bindir, args[0])] + args[1:],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=self.tmp)
        if check and p.returncode != 0:
            raise RuntimeError("%s exited with %d:\n%s%s" % (args[0], p.returncode, p.stdout.decode(),
                                                             p.stderr.decode()))
        return p

    def postmaster_pid(self):
        """The postmaster's pid from postmaster.pid, or None when it is not running."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def running(self):
        return self.tmp is not None and self.postmaster_pid() is not None

    def start(self):
        """Starts the server on its port and returns once it accepts connections (pg_isready)."""
        p = self._run(["pg_ctl", "start", "-D", self.data, "-l", self.log_path, "-w", "-t", str(int(READY_TIMEOUT))],
                      timeout=READY_TIMEOUT + 10, check=False)
        if p.returncode != 0:
            raise RuntimeError("pg_ctl start exited with %d:\n%s%s\nserver log:\n%s"
                               % (p.returncode, p.stdout.decode(), p.stderr.decode(), self.log()[-3000:]))
        self.wait_ready()

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            p = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                "-U", SUPERUSER, "-d", "postgres", "-t", "2"], capture_output=True)
            if p.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not accept connections on port %d within %ss (%s); log:\n%s"
                                   % (self.port, timeout, p.stdout.decode().strip(), self.log()[-3000:]))
            time.sleep(0.05)

    def stop(self, mode="immediate"):
        """pg_ctl stop -m mode (smart, fast or immediate), waiting until the server is gone."""
        self._run(["pg_ctl", "stop", "-D", self.data, "-m", mode, "-w", "-t", str(int(STOP_TIMEOUT))],
                  timeout=STOP_TIMEOUT + 10)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # --- clients ---------------------------------------------------------------------------

    def conninfo(self, db=DATABASE, user=ROLE):
        """libpq keywords a node uses (TCP on loopback, as in production)."""
        return "host=127.0.0.1 port=%d dbname=%s user=%s" % (self.port, db, user)

    def store_yaml(self, connections=NODE_CONNECTIONS, statement_timeout_ms=NODE_STATEMENT_TIMEOUT_MS, db=DATABASE):
        """The `store:` value of a node's config on this cluster (flow style, one line)."""
        return ("{ postgres: { conninfo: %s, connections_per_loop: %d, statement_timeout_ms: %d } }"
                % (json.dumps(self.conninfo(db)), connections, statement_timeout_ms))

    def create_database(self, db):
        """A new empty database db, owned by the nodes' role (as DATABASE is)."""
        self.psql("CREATE DATABASE %s OWNER %s" % (db, ROLE), db="postgres")

    def psql(self, sql, db=DATABASE, user=SUPERUSER, timeout=PSQL_TIMEOUT):
        """Runs sql (one or more statements, stopping at the first error) and returns the rows
        of the last one as lists of strings (NULL as ""). Raises RuntimeError with psql's
        message on an error."""
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-F", FIELD_SEP, "-R", RECORD_SEP, "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", user, "-d", db, "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("psql %r: exit %d: %s" % (sql[:200], p.returncode, p.stderr.decode().strip()))
        out = p.stdout.decode()
        if out.endswith("\n"):
            out = out[:-1]
        return [r.split(FIELD_SEP) for r in out.split(RECORD_SEP) if r != ""]

    def tables(self, db=DATABASE):
        """The qualified names of the user tables in db (whatever schema the node's
        migrations made): a partitioned table by its own name, which covers its partitions
        (a trigger made on it is made on each of them, a scan of it reads them all)."""
        rows = self.psql("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
                         "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                         "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                         "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1", db=db)
        return [r[0] for r in rows]

    def rows_mentioning(self, needle, db=DATABASE):
        """{table: rows whose text form contains needle, as text or as the hex of a bytea},
        for every user table. Schema-agnostic on purpose: the tests know the contract, not the
        backend's tables. needle: letters, digits, '-' and '_' only."""
        if not needle or not all(c.isalnum() or c in "-_" for c in needle):
            raise ValueError("needle %r: letters, digits, '-' and '_' only" % needle)
        tables = self.tables(db)
        if not tables:
            return {}
        hexed = needle.encode().hex()
        sql = " UNION ALL ".join(
            "SELECT %s, count(*) FROM %s AS t WHERE strpos(t::text, '%s') > 0 OR strpos(t::text, '%s') > 0"
            % ("'" + name.replace("'", "''") + "'", name, needle, hexed) for name in tables)
        return {name: int(n) for name, n in self.psql(sql, db=db)}


def wait_readyz(port, timeout, want=200):
    """Polls GET /readyz until it answers want: (status, body) of the last answer, or raises
    AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            status, _, body = ss.request(port, "GET", "/readyz", timeout=2)
            last = (status, body)
            if status == want:
                return last
        except OSError as e:
            last = (None, repr(e).encode())
        if time.monotonic() > deadline:
            raise AssertionError("GET /readyz on port %d did not answer %d within %ss (last: %r)"
                                 % (port, want, timeout, last))
        time.sleep(0.05)


# --- the harness's own check --------------------------------------------------------------


def self_check():
    """Start a cluster, query it, stop and start it, check what each step promises, and that
    nothing is left behind (no directory, no postmaster), including after an exception."""
    t0 = time.monotonic()
    with PgCluster() as pg:
        tmp, port = pg.tmp, pg.port
        pid = pg.postmaster_pid()
        assert pid, "no postmaster after start"
        assert pg.psql("SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
                       "current_setting('listen_addresses')") == [["on", "on", "127.0.0.1"]]
        assert pg.psql("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'hookgate'",
                       db="postgres") == [["hookgate", "hookgate"]]
        # the node's role can make tables in its database (PostgreSQL 15 no longer lets
        # everyone create in public; owning the database does)
        pg.psql("CREATE TABLE probe (id bytea PRIMARY KEY, description text); "
                "INSERT INTO probe VALUES ('\\x0102'::bytea, 'hello-check'), ('\\x03'::bytea, 'multi\nline|x')",
                user=ROLE)
        assert pg.psql("SELECT description FROM probe ORDER BY id") == [["hello-check"], ["multi\nline|x"]]
        assert pg.rows_mentioning("hello-check") == {"public.probe": 1}, pg.rows_mentioning("hello-check")
        assert pg.rows_mentioning("0102") == {"public.probe": 1}
        pg.stop("immediate")
        assert not pg.running(), "postmaster still running after stop"
        try:
            pg.psql("SELECT 1", timeout=10)
            raise AssertionError("psql worked against a stopped cluster")
        except RuntimeError:
            pass
        pg.start()
        assert pg.port == port and pg.postmaster_pid() not in (None, pid)
        assert pg.psql("SELECT count(*) FROM probe") == [["2"]], "committed rows lost across an immediate stop"
    assert not os.path.exists(tmp), "%s left behind" % tmp
    assert not _postgres_on(tmp), "a postgres process of %s left behind" % tmp
    # an exception inside the block still stops and removes everything
    try:
        with PgCluster() as pg:
            tmp = pg.tmp
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert not os.path.exists(tmp) and not _postgres_on(tmp), "left behind after KeyboardInterrupt"
    # and so does the watchdog when the test process is SIGKILLed
    child = subprocess.Popen([sys.executable, "-c",
                              "import sys, time; sys.path.insert(0, %r); import pg_support as p; "
                              "c = p.PgCluster().__enter__(); print(c.tmp, flush=True); time.sleep(600)"
                              % os.path.dirname(os.path.abspath(__file__))], stdout=subprocess.PIPE, text=True)
    tmp = child.stdout.readline().strip()
    assert tmp and os.path.isdir(tmp) and _postgres_on(tmp), "the child's cluster did not start"
    child.kill()
    child.wait()
    deadline = time.monotonic() + STOP_TIMEOUT
    while (os.path.exists(tmp) or _postgres_on(tmp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(tmp) and not _postgres_on(tmp), "the watchdog left %s behind" % tmp
    print("pg_support self-check passed in %.1fs (bin %s)" % (time.monotonic() - t0, pg_bindir()))


def _postgres_on(tmp):
    """Whether any process has tmp in its command line (a postmaster started on it)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if tmp in cmd and "postgres" in cmd and "pg_support" not in cmd and "-c\0" not in cmd:
            return True
    return False


if __name__ == "__main__":
    if sys.argv[1:] != ["--self-check"]:
        sys.exit("usage: %s --self-check" % sys.argv[0])
    install_sigterm_interrupt()
    self_check()
