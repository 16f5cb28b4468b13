#!/usr/bin/python3
"""`cmake --install` into a scratch DESTDIR (prefix /usr), then the installed files used as
an operator would: the daemon, the console, the man pages, the units, the example and the
/etc configuration (kept when it exists).

Usage: tests/deploy/test_install.py BUILD-DIR   (standard library only)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from deploy_support import free_port

BUILD = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""


def install(destdir):
    env = dict(os.environ, DESTDIR=destdir)
    return subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"], env=env, check=True,
                          capture_output=True, text=True).stdout


class TestInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="hookgate-destdir-")
        cls.first = install(cls.dest)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dest, *parts)

    def find(self, name):
        for root, _, files in os.walk(self.dest):
            if name in files:
                return os.path.join(root, name)
        self.fail("%s not installed under %s" % (name, self.dest))

    def test_files_in_place(self):
        for rel in ["usr/sbin/hookgate", "usr/bin/droplit"]:
            self.assertTrue(os.access(self.path(rel), os.X_OK), rel)
        for rel in ["usr/share/man/man8/hookgate.8", "usr/share/man/man1/droplit.1",
                    "usr/share/doc/hookgate/hookgate.yaml", "usr/share/doc/hookgate/logrotate.hookgate",
                    "usr/lib/systemd/system/hookgate.service", "usr/lib/systemd/system/hookgate.socket",
                    "etc/hookgate/hookgate.yaml",
                    "usr/include/droplit.h"]:
            self.assertTrue(os.path.isfile(self.path(rel)), rel)
        self.find("libdroplit.so")
        self.find("droplit.pc")
        # nothing escaped DESTDIR into the build's own install prefix
        self.assertNotIn("/usr/local", self.first)

    def test_unit_names_the_installed_paths(self):
        with open(self.path("usr/lib/systemd/system/hookgate.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/sbin/hookgate --config /etc/hookgate/hookgate.yaml\n", unit)
        self.assertNotIn("@HOOKGATE_", unit)

    def test_socket_unit_matches_the_example(self):
        # socket activation: the socket unit names the listeners of the installed configuration
        with open(self.path("usr/lib/systemd/system/hookgate.socket")) as f:
            unit = f.read()
        self.assertIn("/etc/hookgate/hookgate.yaml", unit)
        self.assertNotIn("@HOOKGATE_", unit)
        with open(self.path("etc/hookgate/hookgate.yaml")) as f:
            example = f.read()
        listeners = re.findall(r"\{ *address: *([0-9.]+), *port: *(\d+)", example)
        self.assertEqual(len(listeners), 2, example)
        self.assertEqual(re.findall(r"^ListenStream=(.*)$", unit, re.M), ["%s:%s" % l for l in listeners])

    def test_example_is_the_default_configuration(self):
        with open(self.path("usr/share/doc/hookgate/hookgate.yaml"), "rb") as f:
            example = f.read()
        out = subprocess.run([self.path("usr/sbin/hookgate"), "--print-default-config"], check=True,
                             capture_output=True).stdout
        self.assertEqual(out, example)

    def test_existing_configuration_is_kept(self):
        etc = self.path("etc/hookgate/hookgate.yaml")
        with open(etc, "a") as f:
            f.write("# the operator's own\n")
        out = install(self.dest)
        with open(etc) as f:
            self.assertTrue(f.read().endswith("# the operator's own\n"))
        self.assertIn("Kept: " + etc, out)
        # and it comes back when removed
        os.unlink(etc)
        install(self.dest)
        with open(etc) as f, open(self.path("usr/share/doc/hookgate/hookgate.yaml")) as g:
            self.assertEqual(f.read(), g.read())

    def test_installed_binaries_run(self):
        hookgate, droplit = self.path("usr/sbin/hookgate"), self.path("usr/bin/droplit")
        env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
        version = subprocess.run([hookgate, "--version"], check=True, capture_output=True, text=True).stdout
        self.assertRegex(version, r"^hookgate \d+\.\d+\.\d+\n$")
        etc = self.path("etc/hookgate/hookgate.yaml")
        check = subprocess.run([hookgate, "--check-config", etc], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        # serve the installed configuration on free ports, then talk to it with the installed console
        http, grpc = free_port(), free_port()
        with open(etc) as f:
            text = f.read()
        self.assertIn("port: 8080", text)
        cfg = os.path.join(self.dest, "serve.yaml")
        with open(cfg, "w") as f:
            f.write(text.replace("port: 8080", "port: %d" % http).replace("port: 9090", "port: %d" % grpc))
        log = open(os.path.join(self.dest, "server.log"), "w+")
        proc = subprocess.Popen([hookgate, "--config", cfg], stdout=log, stderr=log, env=env)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http, timeout=2) as r:
                        self.assertEqual(r.status, 200)
                        break
                except OSError:
                    self.assertIsNone(proc.poll(), "the installed hookgate exited")
                    self.assertLess(time.monotonic(), deadline, "the installed hookgate never answered")
                    time.sleep(0.05)
            cenv = dict(env, DROPLIT_SERVER="http://127.0.0.1:%d" % http, DROPLIT_TOKEN="demo-token")
            made = subprocess.run([droplit, "webhook", "create", "https://example.com/installed", "--ecosystemId",
                                   "C5156b8ace57896adb6dae592", "--output", "id"], env=cenv, capture_output=True,
                                  text=True)
            self.assertEqual(made.returncode, 0, made.stderr)
            wid = made.stdout.strip()
            self.assertRegex(wid, r"^[0-9a-f]{24}$")
            info = subprocess.run([droplit, "webhook", "info", wid], env=cenv, capture_output=True, text=True)
            self.assertEqual(info.returncode, 0, info.stderr)
            self.assertIn("https://example.com/installed", info.stdout)
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=10), 0)
            log.close()


if __name__ == "__main__":
    unittest.main()
