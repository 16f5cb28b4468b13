#!/usr/bin/python3
"""Runs a test command against a throw-away PostgreSQL: starts a PgCluster
(tests/store/pg_support.py), sets HOOKGATE_TEST_STORE to the `store:` value of a node on
it (flow style, one line), runs the command, stops and removes the cluster, and exits with
the command's status. The RPC suites (tests/rpc) and the e2e suite (tests/e2e/test_e2e.py)
read HOOKGATE_TEST_STORE and configure the servers they start with it, so that the same
cases hold both backends to one contract.

Usage:  /usr/bin/python3 tests/store/with_postgres.py [--] COMMAND [ARG...]
e.g.    /usr/bin/python3 tests/store/with_postgres.py node --test tests/rpc/connect.test.mjs

The command runs in a process group of its own. SIGTERM (ctest's timeout, a CI cancel) and
SIGINT stop that group first (SIGTERM, then SIGKILL after CHILD_STOP_TIMEOUT), then the
cluster; if this process is killed outright, the cluster's watchdog removes the cluster.
Only the Python standard library.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_support  # noqa: E402

STORE_ENV = "HOOKGATE_TEST_STORE"  # the variable the tests read (rpc_support.py, support.mjs, test_e2e.py)
CHILD_STOP_TIMEOUT = 10.0          # seconds the command may take to exit after SIGTERM


def exit_status(returncode):
    """A Popen returncode as a shell reports it: a death by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_group(child):
    """SIGTERM to the command's process group, which holds what it started too (a test
    runner's servers, which an interrupted runner may leave behind); SIGKILL to whatever is
    left after CHILD_STOP_TIMEOUT."""
    pgid = child.pid  # its own session: start_new_session
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT
    try:
        child.wait(CHILD_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)
    child.wait()


def interrupt(signum, frame):
    """SIGTERM and SIGINT: KeyboardInterrupt carrying the signal's number, so that the
    command and then the cluster are stopped on the way out."""
    raise KeyboardInterrupt(signum)


def main(argv):
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: %s [--] COMMAND [ARG...]" % sys.argv[0])
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        with pg_support.PgCluster() as pg:
            env = dict(os.environ)
            env[STORE_ENV] = pg.store_yaml()
            child = subprocess.Popen(argv, env=env, start_new_session=True)
            try:
                returncode = child.wait()
            except KeyboardInterrupt:
                stop_group(child)  # before the cluster goes: its servers are PostgreSQL's clients
                raise
            if group_alive(child.pid):
                sys.stderr.write("with_postgres: the command left processes behind; stopping them\n")
                stop_group(child)
            if returncode != 0:
                sys.stderr.write("with_postgres: the command exited with %d; PostgreSQL's log ends:\n%s\n"
                                 % (returncode, pg.log()[-3000:]))
    except KeyboardInterrupt as e:
        signum = e.args[0] if e.args else signal.SIGINT
        sys.stderr.write("with_postgres: stopped by signal %d; the command and the cluster were stopped\n" % signum)
        return 128 + signum
    return exit_status(returncode)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
