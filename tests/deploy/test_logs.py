#!/usr/bin/python3
"""Log files and their rotation: server.access_log_file and server.error_log_file, reopened
on SIGUSR1 (no line lost across a rename + SIGUSR1, as logrotate does it), a reopen that
fails keeps the old file, and syslog priority prefixes when stderr is the journal's stream
(JOURNAL_STREAM).

Usage: tests/deploy/test_logs.py PATH/TO/hookgate   (standard library only)
"""
import os
import shutil
import http.client
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from deploy_support import free_port, read, wait_for

BINARY = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""


def config(port, extra=""):
    return ("server:\n  listen:\n    - { address: 127.0.0.1, port: %d }\n  threads: 2\n%s"
            "accounts:\n  - id: demo\n    tokens: [ \"demo-token\" ]\n" % (port, extra))


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status


class Server:
    def __init__(self, tmp, extra="", env=None, stderr_path=None):
        self.port = free_port()
        self.cfg = os.path.join(tmp, "hookgate.yaml")
        with open(self.cfg, "w") as f:
            f.write(config(self.port, extra))
        self.stderr_path = stderr_path or os.path.join(tmp, "stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([BINARY, "--config", self.cfg], stdout=self.stderr, stderr=self.stderr,
                                     env=env)
        deadline = time.monotonic() + 10
        while True:
            try:
                get(self.port, "/healthz")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("hookgate did not start: " + read(self.stderr_path))
                time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        self.stderr.close()
        return rc


class TestLogFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-logs-")
        self.access = os.path.join(self.tmp, "access.log")
        self.error = os.path.join(self.tmp, "error.log")
        self.server = Server(self.tmp, "  access_log_file: %s\n  error_log_file: %s\n" % (self.access, self.error))

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def requests(self, tag, n):
        """n requests for /TAG (a 404: each access line names its tag)."""
        for i in range(n):
            c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
            c.request("GET", "/" + tag)
            self.assertEqual(c.getresponse().status, 404)
            c.close()

    def test_lines_go_to_their_files(self):
        self.requests("a", 3)
        wait_for("access lines", lambda: read(self.access).count("access GET /a 404") == 3)
        self.assertIn("hookgate: listening on http://127.0.0.1:%d\n" % self.server.port, read(self.error))
        self.assertNotIn("access ", read(self.error))
        self.assertNotIn("access ", read(self.server.stderr_path))
        self.assertEqual(os.stat(self.access).st_mode & 0o777 & ~0o640, 0)

    def test_rotation_loses_no_line(self):
        self.requests("before", 5)
        os.rename(self.access, self.access + ".1")
        os.rename(self.error, self.error + ".1")
        self.requests("between", 5)  # still the old files: renamed, not closed
        # a request's access line is written once its response is done, which a client can
        # see first: wait for the lines, as logrotate's postrotate runs after the rename
        wait_for("access lines between", lambda: read(self.access + ".1").count("access GET /between 404") == 5)
        self.server.proc.send_signal(signal.SIGUSR1)
        wait_for("the reopened error log", lambda: "log files reopened" in read(self.error))
        self.requests("after", 5)
        wait_for("access lines after", lambda: read(self.access).count("access GET /after 404") == 5)
        old, new = read(self.access + ".1"), read(self.access)
        self.assertEqual((old.count("access GET /before 404"), old.count("access GET /between 404")), (5, 5))
        self.assertEqual(len(old.splitlines()), 11)  # and the start's GET /healthz
        self.assertEqual(len(new.splitlines()), 5)
        self.assertIn("SIGUSR1", read(self.error))
        self.assertIn("listening on", read(self.error + ".1"))
        self.assertNotIn("listening on", read(self.error))

    def test_failed_reopen_keeps_the_old_file(self):
        os.rename(self.error, self.error + ".1")
        os.mkdir(self.error)  # the path is now a directory: the reopen cannot open it
        self.server.proc.send_signal(signal.SIGUSR1)
        wait_for("the refusal", lambda: "cannot reopen a log file" in read(self.error + ".1"))
        self.assertIn(self.error + ": Is a directory", read(self.error + ".1"))
        # the access file was reopened all the same, and the server still serves
        self.requests("still", 2)
        wait_for("access lines", lambda: read(self.access).count("access GET /still 404") == 2)

    def test_bad_path_refuses_to_start(self):
        bad = os.path.join(self.tmp, "missing", "error.log")
        port = free_port()
        cfg = os.path.join(self.tmp, "bad.yaml")
        with open(cfg, "w") as f:
            f.write(config(port, "  error_log_file: %s\n" % bad))
        r = subprocess.run([BINARY, "--config", cfg], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("log file: %s: No such file or directory" % bad, r.stderr)


class TestJournalPrefixes(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hookgate-journal-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_server(self, journal):
        path = os.path.join(self.tmp, "stderr")
        open(path, "w").close()
        st = os.stat(path)
        env = dict(os.environ)
        # the journal's stream is the one JOURNAL_STREAM names; another file (a redirected
        # child) gets no prefixes
        env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino if journal else st.st_ino + 1)
        server = Server(self.tmp, env=env, stderr_path=path)
        self.assertEqual(get(server.port, "/healthz"), 200)
        with open(server.cfg, "a") as f:
            f.write("bad: [\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_for("the refused reload", lambda: "reload refused" in read(path))
        self.assertEqual(server.stop(), 0)
        return read(path)

    def test_priorities_on_the_journal_stream(self):
        out = self.run_server(journal=True)
        # hookgate's own lines (a sanitizer build adds its report's, unprefixed)
        lines = [line for line in out.splitlines() if "hookgate: " in line or "access " in line]
        self.assertGreater(len(lines), 4)
        for line in lines:
            self.assertRegex(line, r"^<[36]>(hookgate: |access )")
        self.assertIn("<6>hookgate: listening on", out)
        self.assertIn("<6>access GET /healthz 200", out)
        self.assertRegex(out, r"<3>hookgate: reload refused, the running configuration stays: .*hookgate.yaml:")
        self.assertIn("<6>hookgate: stopped", out)

    def test_no_prefixes_elsewhere(self):
        out = self.run_server(journal=False)
        self.assertIn("\nhookgate: stopped", "\n" + out)
        self.assertNotRegex(out, r"(^|\n)<\d>")


if __name__ == "__main__":
    unittest.main()
