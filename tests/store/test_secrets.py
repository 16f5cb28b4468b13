#!/usr/bin/python3
"""Webhook secrets at rest (store.secret_key_file): what reaches the files in store.path.

- without a key a webhook's secret is in the journal and in the snapshot in plain text (the
  control: it shows that the search below finds a secret where there is one);
- with a key it is in no file of store.path, journal or snapshot, nor in the log, while
  the Idempotency-Key replay check still compares the secret (a replay, and 422 for
  another secret), before and after a restart;
- a store written without a key starts with one: its secrets are sealed as they load, a
  snapshot is written at once, and afterwards no file holds them;
- rotation, as the README's steps: the new key as secret_key_file and the old one in
  previous_secret_key_files; once the snapshot is written the old key is no longer needed,
  and a server given only the old key refuses to start, naming the new key's id;
- an update that sets a new secret stores it as a create does: in plain text without a key
  (the control), in no journal or snapshot with one, while the Idempotency-Key replay
  compares the new secret, before and after a restart; a deleted webhook's tombstone
  keeps it sealed, and its Idempotency-Key replays as 404;
- refusals: a sealed store started without its key or with another key names the missing
  key id and exits 1 (nothing is lost silently); a key file that is missing, not 32 bytes,
  or readable by group or others fails --check-config and start-up with FILE:line:column;
  previous keys without a current one are a configuration error.

Run from the repository root:  /usr/bin/python3 tests/store/test_secrets.py build/hookgate
"""
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402

BINARY = None
SMALL_SNAPSHOT = 4096  # the smallest snapshot_after_bytes: a few dozen creates rotate the journal
NO_SNAPSHOT = 1 << 30
SNAPSHOT_TIMEOUT = 20.0  # seconds for a snapshot the log announced to be written
SECRET = "whsec_Zq81xVv-Kj2m0TnR4pLs"  # sought byte for byte in the files
OTHER_SECRET = "whsec_another-one-Pq9"
NEW_SECRET = "whsec_updated-Hk3w9Yq2Lm"  # set by PUT, sought like SECRET
WROTE_RE = re.compile(r"hookgate: store: wrote snapshot\.(\d+) \((\d+) webhooks[,)]")  # ", and N deleted ones kept ..."


def key_id(path):
    """A key file's id, computed the way the README tells operators to."""
    with open(path, "rb") as f:
        return hashlib.sha256(b"hookgate-secret-key-id:" + f.read()).hexdigest()[:8]


class SecretsCase(unittest.TestCase):

    def setUp(self):
        self.tmp = ss.make_tmpdir("secrets")
        self.store_path = os.path.join(self.tmp, "store")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        ss.remove_tmpdir(self.tmp)

    def key(self, name, data=None, mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(os.urandom(32) if data is None else data)
        os.chmod(path, mode)
        return path

    def start(self, wait=True, **store):
        s = ss.Server(BINARY, self.tmp, self.store_path, wait=wait, **store)
        self.servers.append(s)
        return s

    def stop(self, s):
        self.assertEqual(s.stop(), 0, "exit code after SIGTERM; log:\n%s" % s.log()[-3000:])

    def refused(self, s):
        rc = s.wait_exit()
        self.assertEqual(rc, 1, "exit code of a server that must refuse to start; log:\n%s" % s.log()[-3000:])
        return s.log()

    def keyed(self, s, key, secret=SECRET, description="keyed", conn=None):
        return ss.request(s.port, "POST", "/api/webhooks",
                          ss.create_body(description, secret=secret),
                          {"authorization": ss.TOKEN, "content-type": "application/json", "idempotency-key": key},
                          conn=conn)

    def create_many(self, s, n, prefix, secret=SECRET):
        ids = []
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        try:
            for i in range(n):
                status, _, body = ss.create(s.port, "%s %d" % (prefix, i), conn=conn, secret=secret)
                self.assertEqual(status, 201, body[:300])
                self.assertNotIn(secret.encode(), body)
                ids.append(json.loads(body)["id"])
        finally:
            conn.close()  # an idle keep-alive connection would hold up a graceful stop
        return ids

    def wait_snapshot(self, s, after=0):
        """The number of the first snapshot written after `after` announcements, read from the
        log once it says so (the snapshot is written by its own thread)."""
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT
        while True:
            found = WROTE_RE.findall(s.log())
            if len(found) > after:
                return int(found[after][0])
            if s.proc.poll() is not None or time.monotonic() > deadline:
                self.fail("no snapshot written; log:\n%s" % s.log()[-3000:])
            time.sleep(0.02)

    def occurrences(self, secret):
        """{file name: times secret occurs} over every journal and snapshot in store.path."""
        out = {}
        for kind in ("journal", "snapshot"):
            for n, path in ss.store_files(self.store_path, kind).items():
                with open(path, "rb") as f:
                    out["%s.%d" % (kind, n)] = f.read().count(secret.encode())
        return out

    def assert_replays(self, s, key, first_body):
        status, headers, body = self.keyed(s, key)
        self.assertEqual((status, headers.get("idempotent-replayed"), body), (201, "true", first_body), body[:300])
        status, _, body = self.keyed(s, key, secret=OTHER_SECRET)
        self.assertEqual(status, 422, body[:300])

    def with_both_files(self, s, prefix, secret=SECRET):
        """Creates until a snapshot was written, then a few more (so the new journal holds
        some): both kinds of file then hold webhooks with the secret."""
        ids = self.create_many(s, 60, prefix, secret)
        self.wait_snapshot(s)
        ids += self.create_many(s, 5, prefix + " after", secret)
        return ids


class AtRest(SecretsCase):

    def test_without_a_key_the_secret_is_in_the_files(self):
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.with_both_files(s, "plain")
        self.stop(s)
        found = self.occurrences(SECRET)
        snapshots = [n for n in found if n.startswith("snapshot.")]
        journals = [n for n in found if n.startswith("journal.")]
        self.assertTrue(snapshots and journals, found)
        for name in snapshots + journals[-1:]:
            self.assertGreater(found[name], 0, "%s: %r" % (name, found))

    def test_with_a_key_no_file_holds_the_secret(self):
        key = self.key("k1")
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT, secret_key_file=key)
        status, _, first = self.keyed(s, "retry-me")
        self.assertEqual(status, 201, first[:300])
        self.with_both_files(s, "sealed")
        self.assert_replays(s, "retry-me", first)
        self.stop(s)
        found = self.occurrences(SECRET)
        self.assertTrue(any(n.startswith("snapshot.") for n in found) and any(n.startswith("journal.") for n in found),
                        found)
        self.assertEqual(sum(found.values()), 0, found)
        self.assertNotIn(SECRET, s.log())
        self.assertIn("webhook secrets are sealed (keys %s (current))" % key_id(key), s.log())
        # after a restart the sealed secrets open: the replay check still tells them apart
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT, secret_key_file=key)
        self.assert_replays(s, "retry-me", first)
        self.stop(s)

    def test_a_store_written_without_a_key_is_sealed_by_the_next_start(self):
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        status, _, first = self.keyed(s, "retry-me")
        self.assertEqual(status, 201, first[:300])
        ids = self.with_both_files(s, "plain") + [json.loads(first)["id"]]
        self.stop(s)
        self.assertGreater(sum(self.occurrences(SECRET).values()), 0)
        key = self.key("k1")
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=key)
        self.assertRegex(s.log(), r"\d+ webhook secrets are on disk in plain text or under a previous key: sealed "
                                  r"under key %s" % key_id(key))
        self.wait_snapshot(s)  # asked for at start-up, not when the journal is full
        self.assert_replays(s, "retry-me", first)
        self.stop(s)
        found = self.occurrences(SECRET)
        self.assertEqual(sum(found.values()), 0, found)
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=key)
        self.assertEqual(s.loaded(), len(ids))
        self.assertNotIn("in plain text", s.log())  # nothing left to seal: no second snapshot
        self.assert_replays(s, "retry-me", first)
        self.stop(s)



class Updates(SecretsCase):

    def put_secret(self, s, wid, secret):
        status, _, body = ss.request(s.port, "PUT", "/api/webhooks/" + wid, json.dumps({"url": ss.URL, "secret": secret}).encode(),
                                     {"authorization": ss.TOKEN, "content-type": "application/json"})
        self.assertEqual(status, 200, body[:300])
        self.assertNotIn(secret.encode(), body)

    def updated_secrets(self, **store):
        """A webhook created with SECRET (Idempotency-Key "upd") whose secret is then set to
        NEW_SECRET, once before a snapshot and once after (so both kinds of file hold an
        update record or the updated webhook); another one, keyed "del", updated the same
        way and then deleted. Returns [{file: occurrences of NEW_SECRET}] as the first
        server left the files and as they are after a restart."""
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT, **store)
        status, _, first = self.keyed(s, "upd")
        self.assertEqual(status, 201, first[:300])
        status, _, gone = self.keyed(s, "del", description="deleted")
        self.assertEqual(status, 201, gone[:300])
        wid, gone_id = json.loads(first)["id"], json.loads(gone)["id"]
        self.put_secret(s, wid, NEW_SECRET)
        self.put_secret(s, gone_id, NEW_SECRET)
        status, _, body = ss.request(s.port, "DELETE", "/api/webhooks/" + gone_id, None, {"authorization": ss.TOKEN})
        self.assertEqual(status, 200, body[:300])
        self.with_both_files(s, "around updates", secret=OTHER_SECRET)
        self.put_secret(s, wid, NEW_SECRET)
        seen = []  # the files before the restart (which would seal a plain secret and snapshot it away) and after
        for restart in (False, True):
            if restart:
                self.stop(s)
                seen.append(self.occurrences(NEW_SECRET))
                s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT, **store)
            # the replay compares the new secret, not the first one
            status, headers, body = self.keyed(s, "upd", secret=NEW_SECRET)
            self.assertEqual((status, headers.get("idempotent-replayed")), (201, "true"), body[:300])
            status, _, body = self.keyed(s, "upd", secret=SECRET)
            self.assertEqual(status, 422, body[:300])
            status, _, body = self.keyed(s, "del", secret=NEW_SECRET, description="deleted")
            self.assertEqual(status, 404, body[:300])
            self.assertIn(gone_id.encode(), body)
        self.stop(s)
        self.assertNotIn(NEW_SECRET, s.log())
        seen.append(self.occurrences(NEW_SECRET))
        for found in seen:
            self.assertTrue(any(n.startswith("snapshot.") for n in found) and any(n.startswith("journal.") for n in found),
                            found)
        return seen

    def test_without_a_key_an_updated_secret_is_in_the_files(self):
        found = self.updated_secrets()[0]  # as the server that took the updates left them
        for kind in ("snapshot.", "journal."):
            self.assertGreater(sum(v for n, v in found.items() if n.startswith(kind)), 0, found)

    def test_with_a_key_no_file_holds_an_updated_secret(self):
        for found in self.updated_secrets(secret_key_file=self.key("k1")):
            self.assertEqual(sum(found.values()), 0, found)

class Rotation(SecretsCase):

    def test_rotation_as_documented(self):
        k1, k2 = self.key("k1"), self.key("k2")
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=k1)
        status, _, first = self.keyed(s, "retry-me")
        self.assertEqual(status, 201, first[:300])
        self.create_many(s, 20, "under k1")
        self.stop(s)
        # step 2: k2 seals, k1 still opens; start-up re-seals and writes a snapshot
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=k2, previous_secret_key_files=[k1])
        self.assertIn("webhook secrets are sealed (keys %s (current), %s)" % (key_id(k2), key_id(k1)), s.log())
        self.assertRegex(s.log(), r"21 webhook secrets are on disk in plain text or under a previous key: sealed "
                                  r"under key %s" % key_id(k2))
        self.wait_snapshot(s)
        self.assert_replays(s, "retry-me", first)
        self.create_many(s, 5, "under k2")
        self.stop(s)
        # step 3: k1 is no longer needed
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=k2)
        self.assertEqual(s.loaded(), 26)
        self.assertNotIn("in plain text", s.log())
        self.assert_replays(s, "retry-me", first)
        self.stop(s)
        # and k1 alone no longer opens the store: the refusal names k2
        log = self.refused(self.start(wait=False, snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=k1))
        self.assertIn("is sealed under key id %s, which is not configured (configured: %s (current))"
                      % (key_id(k2), key_id(k1)), log)


class Refusals(SecretsCase):

    def sealed_store(self):
        key = self.key("k1")
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=key)
        self.create_many(s, 3, "sealed")
        self.stop(s)
        return key

    def test_a_sealed_store_without_its_key(self):
        key = self.sealed_store()
        log = self.refused(self.start(wait=False, snapshot_after_bytes=NO_SNAPSHOT))
        self.assertIn("journal.1: the webhook secret in the record at offset 8 is sealed under key id %s, which is "
                      "not configured (configured: none)" % key_id(key), log)
        other = self.key("k2")
        log = self.refused(self.start(wait=False, snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=other))
        self.assertIn("is sealed under key id %s, which is not configured (configured: %s (current))"
                      % (key_id(key), key_id(other)), log)
        # the store was left as it was: its key still opens it
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, secret_key_file=key)
        self.assertEqual(s.loaded(), 3)
        self.stop(s)

    def check_config(self, **store):
        port = ss.free_ports(1)[0]
        path = os.path.join(self.tmp, "check.yaml")
        with open(path, "w") as f:
            f.write(ss.config_yaml(port, self.store_path, **store))
        r = subprocess.run([BINARY, "--check-config", path], capture_output=True, text=True, timeout=ss.EXIT_TIMEOUT)
        return r.returncode, r.stdout + r.stderr, path

    def bad_key(self, key, want):
        """--check-config and start-up both refuse the key file, at its place in the file."""
        rc, out, path = self.check_config(secret_key_file=key)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"^%s:4:\d+: store\.secret_key_file: %s: %s" % (re.escape(path), re.escape(key),
                                                                            re.escape(want)))
        log = self.refused(self.start(wait=False, secret_key_file=key))
        self.assertRegex(log, r"hookgate: .*hookgate-\d+\.yaml:4:\d+: store\.secret_key_file: %s: %s"
                         % (re.escape(key), re.escape(want)))
        self.assertFalse(os.path.exists(self.store_path), "the store was opened before the key was checked")

    def test_bad_key_files(self):
        self.bad_key(os.path.join(self.tmp, "missing"), "No such file or directory")
        self.bad_key(self.key("short", os.urandom(31)), "must hold exactly 32 bytes, it holds 31")
        self.bad_key(self.key("long", os.urandom(64)), "must hold exactly 32 bytes, it holds more than 32")
        self.bad_key(self.key("open", mode=0o644), "group or others may read or write it (mode 0644)")
        rc, out, _ = self.check_config(secret_key_file=self.key("good"))
        self.assertEqual(rc, 0, out)

    def test_previous_keys_need_a_current_one(self):
        rc, out, path = self.check_config(previous_secret_key_files=[self.key("k1")])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"^%s:4:\d+: store\.previous_secret_key_files: needs store\.secret_key_file"
                         % re.escape(path))

    def test_the_same_key_twice(self):
        k = self.key("k1")
        rc, out, _ = self.check_config(secret_key_file=k, previous_secret_key_files=[k])
        self.assertEqual(rc, 1, out)
        self.assertIn("store.previous_secret_key_files[0]: %s: the same key (id %s) is named twice" % (k, key_id(k)),
                      out)


def main():
    global BINARY
    BINARY = ss.binary_from_argv()
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[1:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
