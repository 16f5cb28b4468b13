#!/usr/bin/python3
"""The man pages (man/hookgate.8, man/droplit.1): clean under `mandoc -T lint`, and in step
with the programs: the options --help lists, droplit's commands and exit codes, and every
configuration key server/domain/config.c reads.

Usage: tests/deploy/test_man.py PATH/TO/hookgate PATH/TO/droplit   (needs mandoc)
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

HOOKGATE = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""
DROPLIT = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else ""
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OPTION = re.compile(r"(?<![\w-])(--[a-zA-Z][\w-]*|-[a-zA-Z])\b")


def page(name):
    with open(os.path.join(ROOT, "man", name)) as f:
        return f.read()


def section(text, name):
    """The mdoc source of section `.Sh name`, up to the next .Sh."""
    m = re.search(r"^\.Sh %s\n(.*?)(?=^\.Sh |\Z)" % re.escape(name), text, re.S | re.M)
    assert m, "no section %s" % name
    return m.group(1)


def man_options(text):
    """The options an OPTIONS section lists: `Fl x` on its .It lines."""
    found = set()
    for line in section(text, "OPTIONS").splitlines():
        if line.startswith(".It "):
            for flag in re.findall(r"\bFl (-?[\w-]+)", line):
                found.add("-" + flag)
    return found


def help_text(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    return r.stdout


def help_options(text):
    """Options a help text documents: those that start one of its lines (after spaces),
    with what follows on the same line after a comma ("-h, --help")."""
    found = set()
    for line in text.splitlines():
        m = re.match(r"\s+((?:-[\w-]+(?:,\s*)?)+)", line)
        if m:
            found.update(OPTION.findall(m.group(1)))
    return found


class TestLint(unittest.TestCase):
    def test_mandoc_lint_is_clean(self):
        self.assertIsNotNone(shutil.which("mandoc"), "mandoc is missing (.ci/debian-packages.txt)")
        for name in ["hookgate.8", "droplit.1"]:
            r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", os.path.join(ROOT, "man", name)],
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), name)

    def test_lint_can_fail(self):
        r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning"], input=".Dd\n.Sh NAME\n.Xx bad\n",
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)


class TestHookgate(unittest.TestCase):
    def test_options_match_help(self):
        usage = help_text(HOOKGATE, "--help")
        listed = help_options(usage)
        self.assertIn("--check-config", listed)
        self.assertEqual(man_options(page("hookgate.8")), listed)

    def test_every_config_key_is_documented(self):
        with open(os.path.join(ROOT, "server", "domain", "config.c")) as f:
            keys = set(re.findall(r'^\s*FIELD_\w+\("(\w+)"', f.read(), re.M))
        self.assertGreater(len(keys), 50)
        text = page("hookgate.8")
        documented = set()
        for line in text.splitlines():
            m = re.match(r"\.(?:It Cm|Ss) ([\w.]+)$", line)
            if m:
                documented.update(m.group(1).split("."))
        self.assertEqual(keys - documented, set(), "keys config.c reads that hookgate.8 does not document")

    def test_signals_are_documented(self):
        signals = section(page("hookgate.8"), "SIGNALS")
        with open(os.path.join(ROOT, "server", "main.c")) as f:
            main = f.read()
        for sig in set(re.findall(r"sigaddset\(&signals, (SIG\w+)\)", main)):
            self.assertIn(sig, signals)


class TestDroplit(unittest.TestCase):
    def commands(self):
        top = help_text(DROPLIT, "--help")
        cmds = re.findall(r"^  (webhook|event|ecosystem) (\w+)", top, re.M)
        self.assertGreaterEqual(len(cmds), 10)
        return top, cmds

    def test_options_match_help(self):
        top, cmds = self.commands()
        listed = help_options(top)
        for group, cmd in cmds:
            listed |= help_options(help_text(DROPLIT, group, cmd, "--help"))
        listed.discard("-")
        self.assertIn("--ecosystemId", listed)
        self.assertEqual(man_options(page("droplit.1")), listed)

    def test_every_command_is_documented(self):
        _, cmds = self.commands()
        text = page("droplit.1")
        for group, cmd in cmds:
            self.assertRegex(text, r"\n\.It Cm %s %s\b" % (group, cmd))

    def test_exit_codes_match_help(self):
        top = help_text(DROPLIT, "--help")
        codes = re.findall(r"^  (\d)  ", top.split("Exit status:")[1], re.M)
        self.assertGreater(len(codes), 3)
        documented = re.findall(r"^\.It (\d)$", section(page("droplit.1"), "EXIT STATUS"), re.M)
        self.assertEqual(documented, codes)

    def test_environment_is_documented(self):
        with open(os.path.join(ROOT, "client", "console.c")) as f:
            names = set(re.findall(r'env\("(\w+)"\)', f.read()))
        self.assertTrue(names)
        env = section(page("droplit.1"), "ENVIRONMENT")
        for name in names:
            self.assertIn(".It Ev " + name, env)


if __name__ == "__main__":
    unittest.main()
