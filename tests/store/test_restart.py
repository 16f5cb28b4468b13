#!/usr/bin/python3
"""The durable store across restarts: what a graceful stop, a crash, a torn or damaged file,
a second server and an unfinished snapshot leave in store.path, and what the next start
makes of it.

- round trips for each fsync policy (always, batch, never): a graceful stop keeps every
  webhook byte for byte, and so does SIGKILL (each policy writes before it answers 201);
- rotations with a tiny snapshot_after_bytes: snapshots are written, older files removed,
  everything is back after a restart;
- a journal cut at every byte offset of its last record recovers the records before it;
  zeros and incomplete records after the last one are a torn tail too;
- a damaged record with data after it (journal or snapshot) stops start-up with exit code
  1, naming the file and the offset; the printed `truncate -s` advice lets it start;
- a second server on the same directory exits 1 while the first keeps serving;
- the directory is created 0700 and its files 0600, whatever the umask;
- a leftover snapshot.N.tmp (a crash while a snapshot was written) is ignored and removed,
  and files a cleanup cut short left behind are skipped;
- Idempotency-Key survives restarts, from the journal and from a snapshot, and a burst of
  concurrent creates with one key makes one webhook (the others are replays or 409).

Run from the repository root:  /usr/bin/python3 tests/store/test_restart.py build/hookgate
"""
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402

BINARY = None
POLICIES = ("always", "batch", "never")
SMALL_SNAPSHOT = 4096      # the smallest snapshot_after_bytes the configuration allows
NO_SNAPSHOT = 1 << 30      # large enough that a test's journal never rotates


class StoreCase(unittest.TestCase):
    """Starts servers on store directories in a temporary directory, and reads them back."""

    def setUp(self):
        self.tmp = ss.make_tmpdir("restart")
        self.store_path = os.path.join(self.tmp, "store")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        ss.remove_tmpdir(self.tmp)

    def start(self, store_path=None, wait=True, **store):
        s = ss.Server(BINARY, self.tmp, store_path or self.store_path, wait=wait, **store)
        self.servers.append(s)
        return s

    def stop(self, s):
        rc = s.stop()
        self.assertEqual(rc, 0, "exit code after SIGTERM (log %s):\n%s" % (s.log_path, s.log()[-3000:]))

    def refused(self, s):
        """For a server that must not start: its start-up error output."""
        rc = s.wait_exit()
        self.assertEqual(rc, 1, "exit code of a server that must refuse to start; log:\n%s" % s.log()[-3000:])
        return s.log()

    def create_many(self, s, n, prefix, journal=None):
        """n creates on one connection: [(id, 201 body)], in order. With journal (a path), also
        the journal's size after each 201, as [(id, body, size)]."""
        out = []
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        try:
            for i in range(n):
                desc = "%s %04d" % (prefix, i)
                status, headers, body = ss.create(s.port, desc, conn=conn)
                self.assertEqual(status, 201, "create %r: %r" % (desc, body[:300]))
                self.assertTrue(ss.is_json_content(headers), headers)
                obj = json.loads(body)
                self.assertIsNone(ss.webhook_problem(obj, desc), body)
                out.append((obj["id"], body) + ((os.path.getsize(journal),) if journal else ()))
        finally:
            conn.close()  # an idle keep-alive connection would hold up a graceful stop
        return out

    def assert_exact(self, s, expected, what="", fresh=True):
        """The store holds exactly expected ([(id, 201 body)], oldest first): the list in that
        order, each GET by id byte-equal to its 201 body, and (fresh: nothing was created
        since s started) the start-up count."""
        status, body, items = ss.list_items(s.port)
        self.assertEqual(status, 200, body[:300])
        self.assertIsNotNone(items, body[:300])
        got = [it["id"] for it in items]
        want = [i for i, *_ in expected]
        if got != want:
            self.fail("%s: list ids differ: %d present, %d expected; missing %r, unexpected %r"
                      % (what, len(got), len(want), [i for i in want if i not in got][:5],
                         [i for i in got if i not in want][:5]))
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        try:
            for (i, b, *_), item in zip(expected, items):
                self.assertEqual(item, json.loads(b), "%s: list item differs from its 201 body" % what)
                st, _, got_body = ss.get(s.port, i, conn=conn)
                self.assertEqual((st, got_body), (200, b), "%s: GET %s" % (what, i))
        finally:
            conn.close()
        if fresh:
            self.assertEqual(s.loaded(), len(expected), "%s: start-up count; log:\n%s" % (what, s.log()[-2000:]))

    def files(self, store_path=None):
        return sorted(os.listdir(store_path or self.store_path))


# --- round trips for every fsync policy -----------------------------------------------------


class RoundTrip(StoreCase):

    def round_trip(self, policy):
        s = self.start(fsync=policy, snapshot_after_bytes=NO_SNAPSHOT)
        made = self.create_many(s, 3, "round trip %s" % policy)
        # descriptions a codec could get wrong: empty, escapes, non-ASCII
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        for desc in ["", 'quote " backslash \\ tab \t newline \n', "ünïcødé ✓ 日本 \U0001F600"]:
            status, _, body = ss.create(s.port, desc, conn=conn, secret="")
            self.assertEqual(status, 201, body)
            self.assertIsNone(ss.webhook_problem(json.loads(body), desc), body)
            made.append((json.loads(body)["id"], body))
        conn.close()
        self.stop(s)
        s = self.start(fsync=policy, snapshot_after_bytes=NO_SNAPSHOT)
        self.assert_exact(s, made, "after the first restart")
        made += self.create_many(s, 2, "round trip %s again" % policy)
        self.stop(s)
        s = self.start(fsync=policy, snapshot_after_bytes=NO_SNAPSHOT)
        self.assert_exact(s, made, "after the second restart")
        self.stop(s)

    def rotations(self, policy):
        s = self.start(fsync=policy, snapshot_after_bytes=SMALL_SNAPSHOT)
        made = self.create_many(s, 300, "rotation %s" % policy)
        self.stop(s)  # right after the last create: a snapshot may still be in progress
        wrote = re.findall(r"store: wrote snapshot\.(\d+)", s.log())
        # How many snapshots 300 creates make depends on scheduling: a rotation waits while
        # a snapshot is being written, and a busy machine writes them slower. That one was
        # written is the property; the checks below hold whatever the count.
        self.assertGreaterEqual(len(wrote), 1, "300 creates over a 4096-byte threshold wrote no snapshot; log:\n%s"
                                % s.log()[-2000:])
        snapshots, journals = ss.store_files(self.store_path, "snapshot"), ss.store_files(self.store_path, "journal")
        self.assertTrue(snapshots, self.files())
        newest = max(snapshots)
        self.assertEqual(list(snapshots), [newest], "older snapshots were not removed: %r" % self.files())
        self.assertTrue(journals and min(journals) >= newest,
                        "journals older than snapshot.%d were not removed: %r" % (newest, self.files()))
        s = self.start(fsync=policy, snapshot_after_bytes=SMALL_SNAPSHOT)
        self.assertIn("snapshot.%d " % newest, s.log(), "start-up did not load the newest snapshot")
        self.assert_exact(s, made, "after a restart with %d rotations" % len(wrote))
        made += self.create_many(s, 100, "rotation %s again" % policy)
        self.stop(s)
        s = self.start(fsync=policy, snapshot_after_bytes=NO_SNAPSHOT)
        self.assert_exact(s, made, "after a second restart, with no rotation configured")
        self.stop(s)

    def sigkill(self, policy):
        """Every policy writes the record before the 201; only an OS crash can lose what
        `batch` and `never` have not flushed, not a crash of the process."""
        s = self.start(fsync=policy, snapshot_after_bytes=SMALL_SNAPSHOT)
        made = self.create_many(s, 120, "sigkill %s" % policy)
        s.kill()
        s = self.start(fsync=policy, snapshot_after_bytes=SMALL_SNAPSHOT)
        self.assert_exact(s, made, "after SIGKILL")
        self.stop(s)


for _policy in POLICIES:
    setattr(RoundTrip, "test_round_trip_%s" % _policy, lambda self, p=_policy: self.round_trip(p))
    setattr(RoundTrip, "test_rotations_%s" % _policy, lambda self, p=_policy: self.rotations(p))
    setattr(RoundTrip, "test_sigkill_%s" % _policy, lambda self, p=_policy: self.sigkill(p))


# --- torn and damaged files --------------------------------------------------------------


class Damage(StoreCase):

    def journal_with(self, n, prefix):
        """A stopped store of n creates in one journal: (made [(id, body, size after)], path)."""
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
        path = ss.newest(self.store_path, "journal")
        self.assertIsNotNone(path, self.files())
        made = self.create_many(s, n, prefix, journal=path)
        self.stop(s)
        self.assertEqual(ss.store_files(self.store_path, "journal"), {int(path.rsplit(".", 1)[1]): path},
                         self.files())
        self.assertEqual(os.path.getsize(path), made[-1][2])
        return made, path

    def write(self, path, data):
        with open(path, "wb") as f:
            f.write(data)

    def test_cut_at_every_offset_of_the_last_record(self):
        made, path = self.journal_with(5, "cut")
        with open(path, "rb") as f:
            original = f.read()
        start, end = made[-2][2], made[-1][2]  # the last record is original[start:end]
        self.assertGreater(end - start, ss.RECORD_HEADER_LEN)
        for cut in range(start, end):
            self.write(path, original[:cut])
            s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
            what = "journal cut to %d bytes (its last record is [%d, %d))" % (cut, start, end)
            self.assert_exact(s, made[:-1], what)
            torn = [line for line in s.log().splitlines() if "torn tail" in line]
            if cut > start:
                self.assertEqual(len(torn), 1, "%s: no torn tail logged; log:\n%s" % (what, s.log()))
                self.assertIn(os.path.basename(path), torn[0])
                self.assertIn(str(cut - start), torn[0], "%s: the log line does not say how much was dropped" % what)
            else:
                self.assertEqual(torn, [], "%s: a clean end logged as torn" % what)
            self.assertEqual(os.path.getsize(path), start, "%s: the torn tail was not cut from the file" % what)
            if cut == end - 1:
                made = made[:-1] + self.create_many(s, 1, "after the cut")
            self.stop(s)
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
        self.assert_exact(s, made, "a create appended after a torn tail was cut")
        self.stop(s)

    def test_torn_tails_after_the_last_record(self):
        """What a crash mid-append leaves after the last record is cut off, logged, and its
        bytes (unless all zeros) kept in journal.N.torn-<offset> for the operator."""
        made, path = self.journal_with(3, "torn")
        with open(path, "rb") as f:
            original = f.read()
        last = original[made[-2][2]:]
        tails = {
            "zeros (an interrupted extend)": bytes(4096),
            "3 bytes of a header": last[:3],
            "a header whose record runs past the end": (200).to_bytes(4, "little") + b"\x5a" * 60,
            "a whole record cut short": last[:-1],
        }
        kept = path + ".torn-%d" % len(original)
        for name, tail in tails.items():
            with self.subTest(tail=name):
                self.write(path, original + tail)
                s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
                self.assert_exact(s, [m[:2] for m in made], name)
                self.assertIn("dropped a torn tail of %d bytes" % len(tail), s.log())
                self.stop(s)
                self.assertEqual(os.path.getsize(path), len(original), "%s: not cut back" % name)
                if tail.strip(b"\0"):
                    self.assertIn(kept, s.log(), "%s: the log does not name the copy" % name)
                    with open(kept, "rb") as f:
                        self.assertEqual(f.read(), tail, "%s: %s is not the bytes cut off" % (name, kept))
                    os.unlink(kept)
                else:
                    self.assertFalse(os.path.exists(kept), "%s: a copy of zeros was kept" % name)

    def test_damaged_last_record(self):
        """A whole last record whose checksum fails is damage (it was acknowledged), not a
        torn tail: start-up stops naming the file and offset with the advice, which works."""
        made, path = self.journal_with(3, "lastbad")
        with open(path, "rb") as f:
            original = f.read()
        start = made[-2][2]
        last = original[start:]
        damaged = {
            "a payload byte flipped": last[:-1] + bytes([last[-1] ^ 0x40]),
            "a payload byte flipped, then zeros": last[:-1] + bytes([last[-1] ^ 0x40]) + bytes(512),
            "a CRC byte flipped": last[:5] + bytes([last[5] ^ 0x01]) + last[6:],
        }
        for name, rec in damaged.items():
            with self.subTest(damage=name):
                self.write(path, original[:start] + rec)
                s = self.start(snapshot_after_bytes=NO_SNAPSHOT, wait=False)
                log = self.refused(s)
                self.assertIn(path, log)
                self.assertRegex(log, r"\boffset %d\b" % start)
                self.assertIn("truncate -s %d %s" % (start, path), log)
                self.assertNotIn("torn tail", log)
                self.assertEqual(os.path.getsize(path), start + len(rec), "%s: the file was changed" % name)
        subprocess.run(["truncate", "-s", str(start), path], check=True)
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
        self.assert_exact(s, [m[:2] for m in made[:-1]], "after following the advice")
        self.stop(s)

    def test_garbage_with_an_impossible_length_after_the_last_record(self):
        """Bytes no crash of an append leaves (a length field over the 1 MiB record limit,
        not zeros) after the last record: the server may drop them as a torn tail, saying
        so, or refuse to start naming the file and the offset; either way it never loads
        them and never loses a record before them."""
        made, path = self.journal_with(3, "garbage")
        with open(path, "rb") as f:
            original = f.read()
        with open(path, "ab") as f:
            f.write(b"garbage after the last record\n")
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, wait=False)
        try:
            s._wait_ready()
            started = True
        except AssertionError:
            started = False
        if started:
            self.assertIn("dropped a torn tail of 30 bytes", s.log())
            self.assert_exact(s, [m[:2] for m in made], "garbage dropped as a torn tail")
            self.stop(s)
            self.assertEqual(os.path.getsize(path), len(original))
        else:
            log = self.refused(s)
            self.assertIn(path, log)
            self.assertRegex(log, r"\boffset %d\b" % len(original))
            self.assertIn("truncate -s %d %s" % (len(original), path), log)
            subprocess.run(["truncate", "-s", str(len(original)), path], check=True)
            s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
            self.assert_exact(s, [m[:2] for m in made], "after following the advice")
            self.stop(s)

    def test_new_journal_without_its_magic(self):
        """A crash right after a rotation created journal.N+1 but before its magic reached
        the disk: start-up treats it as empty, and appends go on there."""
        made, path = self.journal_with(3, "magic")
        made = [m[:2] for m in made]
        seq = int(path.rsplit(".", 1)[1])
        for content in [b"", ss.JOURNAL_MAGIC[:3]]:
            with self.subTest(content=content):
                nxt = os.path.join(self.store_path, "journal.%d" % (seq + 1))
                self.write(nxt, content)
                s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
                self.assert_exact(s, made, "journal.%d holding %r" % (seq + 1, content))
                made += self.create_many(s, 1, "into journal.%d" % (seq + 1))
                self.stop(s)
                with open(nxt, "rb") as f:
                    self.assertEqual(f.read(8), ss.JOURNAL_MAGIC)
                s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
                self.assert_exact(s, made, "after appending to journal.%d" % (seq + 1))
                self.stop(s)
                seq += 1

    def corrupt_start(self, path, at, what):
        """Starts on a store whose file has a bad record at offset `at`; checks the refusal
        and returns the log."""
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT, wait=False)
        log = self.refused(s)
        self.assertIn(path, log, "%s: the message does not name the file" % what)
        self.assertRegex(log, r"\boffset %d\b" % at, "%s: the message does not name offset %d" % (what, at))
        return log

    def test_damaged_record_in_the_middle_of_a_journal(self):
        made, path = self.journal_with(6, "flip")
        with open(path, "rb") as f:
            original = f.read()
        recs = ss.records(path, ss.JOURNAL_MAGIC)
        self.assertEqual(len(recs), 6)
        at, length = recs[2]
        for field, offset in [("length", at), ("checksum", at + 4), ("payload", at + ss.RECORD_HEADER_LEN + 5),
                              ("payload end", at + length - 1)]:
            with self.subTest(field=field):
                damaged = bytearray(original)
                damaged[offset] ^= 0x01
                self.write(path, bytes(damaged))
                log = self.corrupt_start(path, at, "a flipped bit in the %s of record 3 of 6" % field)
                self.assertNotIn("dropped a torn tail", log)
                self.assertEqual(os.path.getsize(path), len(original), "a refused start-up changed the file")
                m = re.search(r"truncate -s (\d+) (\S+)", log)
                self.assertIsNotNone(m, "no `truncate -s` advice in:\n%s" % log)
                self.assertEqual((int(m.group(1)), m.group(2)), (at, path), log)
                subprocess.run(["truncate", "-s", m.group(1), m.group(2)], check=True)
                s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
                self.assert_exact(s, [x[:2] for x in made[:2]], "after following the advice")
                self.stop(s)

    def test_damaged_record_in_a_snapshot(self):
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.create_many(s, 150, "snapshot flip")
        self.stop(s)
        path = ss.newest(self.store_path, "snapshot")
        self.assertIsNotNone(path, self.files())
        recs = ss.records(path, ss.SNAPSHOT_MAGIC)  # the header, then the webhooks
        self.assertGreater(len(recs), 10)
        at, length = recs[len(recs) // 2]
        with open(path, "r+b") as f:
            f.seek(at + ss.RECORD_HEADER_LEN + length // 3)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x20]))
        self.corrupt_start(path, at, "a flipped bit in a snapshot record")


# --- the directory -------------------------------------------------------------------------


class Directory(StoreCase):

    def test_second_server_on_the_same_directory(self):
        a = self.start()
        made = self.create_many(a, 5, "first server")
        b = self.start(wait=False)
        log = self.refused(b)
        self.assertIn("in use by another hookgate", log)
        self.assertIsNone(a.proc.poll(), "the first server stopped")
        made += self.create_many(a, 5, "first server, after the second was refused")
        self.assert_exact(a, made, "the first server, after a second one tried the directory", fresh=False)
        self.stop(a)
        c = self.start()
        self.assert_exact(c, made, "a server started after the first stopped")
        self.stop(c)

    def test_modes_whatever_the_umask(self):
        path = os.path.join(self.tmp, "created-by-hookgate")
        self.assertFalse(os.path.exists(path))
        s = ss.Server(BINARY, self.tmp, path, umask=0, snapshot_after_bytes=SMALL_SNAPSHOT)
        self.servers.append(s)
        self.create_many(s, 150, "modes")
        self.stop(s)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700, "store directory mode")
        names = self.files(path)
        self.assertIn("LOCK", names)
        self.assertTrue(any(n.startswith("journal.") for n in names), names)
        self.assertTrue(any(n.startswith("snapshot.") for n in names), names)
        modes = {n: oct(stat.S_IMODE(os.stat(os.path.join(path, n)).st_mode)) for n in names}
        self.assertEqual(modes, {n: "0o600" for n in names})

    def test_unfinished_snapshot_is_ignored_and_removed(self):
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        made = self.create_many(s, 150, "unfinished snapshot")
        self.stop(s)
        seq = max(ss.store_files(self.store_path, "snapshot"))
        with open(os.path.join(self.store_path, "snapshot.%d" % seq), "rb") as f:
            snapshot = f.read()
        # what a crash while writing the next snapshots leaves: a part of one, an empty one
        leftovers = {"snapshot.%d.tmp" % (seq + 1): snapshot[:len(snapshot) // 2],
                     "snapshot.%d.tmp" % (seq + 2): b""}
        for name, data in leftovers.items():
            with open(os.path.join(self.store_path, name), "wb") as f:
                f.write(data)
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        for name in leftovers:
            self.assertIn(name, s.log(), "start-up did not mention removing %s" % name)
            self.assertNotIn(name, self.files())
        self.assertIn("snapshot.%d " % seq, s.log(), "start-up did not load snapshot.%d" % seq)
        self.assert_exact(s, made, "with unfinished snapshots left over")
        made += self.create_many(s, 150, "after the leftovers")
        self.stop(s)
        self.assertGreater(max(ss.store_files(self.store_path, "snapshot")), seq, "no snapshot written after")
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.assert_exact(s, made, "after more snapshots")
        self.stop(s)

    def test_files_a_cleanup_cut_short_left_behind(self):
        """A crash after snapshot.N was renamed into place but before the older files were
        removed: start-up loads snapshot.N and skips what is older."""
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        made = self.create_many(s, 100, "before")
        self.stop(s)
        saved = os.path.join(self.tmp, "saved")
        shutil.copytree(self.store_path, saved)
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        made += self.create_many(s, 100, "after")
        self.stop(s)
        old = [n for n in os.listdir(saved) if n != "LOCK"]
        self.assertFalse(set(old) & set(self.files()), "nothing was rotated: %r" % self.files())
        for n in old:
            shutil.copy2(os.path.join(saved, n), self.store_path)
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.assert_exact(s, made, "with older snapshots and journals left behind")
        made += self.create_many(s, 100, "then rotated")
        self.stop(s)
        self.assertFalse(set(old) & set(self.files()), "the next snapshot did not remove %r" % self.files())
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.assert_exact(s, made, "after the cleanup")
        self.stop(s)


# --- Idempotency-Key across restarts -----------------------------------------------------


class Idempotency(StoreCase):

    def keyed(self, s, key, description="keyed", conn=None):
        return ss.request(s.port, "POST", "/api/webhooks", ss.create_body(description),
                          {"authorization": ss.TOKEN, "content-type": "application/json", "idempotency-key": key},
                          conn=conn)

    def replayed(self, s, key, first_body, description="keyed"):
        status, headers, body = self.keyed(s, key, description)
        self.assertEqual((status, headers.get("idempotent-replayed")), (201, "true"), body[:300])
        self.assertEqual(body, first_body)

    def test_a_key_survives_restarts_from_the_journal_and_a_snapshot(self):
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
        status, headers, first = self.keyed(s, "from-the-journal")
        self.assertEqual((status, headers.get("idempotent-replayed")), (201, None), first[:300])
        self.stop(s)
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT)
        self.replayed(s, "from-the-journal", first)
        status, _, _ = self.keyed(s, "from-the-journal", "another request")
        self.assertEqual(status, 422)
        self.stop(s)
        # enough creates after it that snapshots are written and its journal removed
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.create_many(s, 200, "filler")
        self.stop(s)
        journals = ss.store_files(self.store_path, "journal")
        self.assertTrue(journals and min(journals) > 1, "the first journal is still there: %r" % self.files())
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.replayed(s, "from-the-journal", first)
        s.kill()  # and after a crash
        s = self.start(snapshot_after_bytes=SMALL_SNAPSHOT)
        self.replayed(s, "from-the-journal", first)
        status, _, items = ss.list_items(s.port)
        self.assertEqual(len([i for i in items if i["description"] == "keyed"]), 1)
        self.stop(s)

    def test_concurrent_creates_with_one_key_make_one_webhook(self):
        s = self.start(snapshot_after_bytes=NO_SNAPSHOT)

        def one(_):
            status, headers, body = self.keyed(s, "one-key", "concurrent")
            return status, headers.get("idempotent-replayed"), body

        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            answers = list(ex.map(one, range(200)))
        made = [b for st, rep, b in answers if st == 201 and rep is None]
        replays = [b for st, rep, b in answers if st == 201 and rep == "true"]
        conflicts = [b for st, rep, b in answers if st == 409]
        self.assertEqual(len(made), 1, "creates that were not replays: %r" % answers[:5])
        self.assertEqual(len(made) + len(replays) + len(conflicts), 200,
                         "unexpected answers: %r" % [a for a in answers if a[0] not in (201, 409)][:5])
        self.assertTrue(all(b == made[0] for b in replays))
        self.assertTrue(all(b.decode().startswith("A create with this Idempotency-Key is still in progress")
                            for b in conflicts), conflicts[:3])
        status, _, items = ss.list_items(s.port)
        self.assertEqual([i["id"] for i in items if i["description"] == "concurrent"], [json.loads(made[0])["id"]])
        self.stop(s)


def main():
    global BINARY
    BINARY = ss.binary_from_argv()
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[1:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
