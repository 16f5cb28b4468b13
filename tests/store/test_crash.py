#!/usr/bin/python3
"""The crash test of the durable store: with store.fsync: always, 8 to 16 client threads
create webhooks while the server is killed with SIGKILL at a random moment; 20 rounds on
one store directory, restarting each time. After every restart:

- every webhook that got a 201 in any round is there: GET by id answers its 201 body, byte
  for byte, and the list holds it, equal;
- the list has no duplicate id (nor a create stored twice) and is at least as long as the
  count of 201s; the start-up line reports the same count as the list;
- anything else in the list is a well-formed webhook from a create whose answer the kill
  cut off (those may or may not be there), and once seen after a restart it stays.

snapshot_after_bytes is small, so kills also land while a snapshot is being written.
The RNG seed is printed; HOOKGATE_CRASH_SEED=N repeats a run's choices (the timing of a
kill against the server's work is never exactly the same).

Run from the repository root:  /usr/bin/python3 tests/store/test_crash.py build/hookgate
"""
import concurrent.futures
import http.client
import json
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402

BINARY = None
ROUNDS = int(os.environ.get("HOOKGATE_CRASH_ROUNDS", "20"))
THREADS = (8, 16)            # client threads per round, inclusive
KILL_DELAY = (0.1, 1.0)      # seconds of load before the SIGKILL
SNAPSHOT_AFTER = 8192        # bytes of journal before a rotation and a snapshot
VERIFY_THREADS = 2           # connections the GET-by-id sweep uses (pipelined)


class Load:
    """One round of creates from n threads, until the server dies under them."""

    def __init__(self, port, round_no, n):
        self.port, self.round_no, self.n = port, round_no, n
        self.killed = threading.Event()  # set just before the SIGKILL
        self.lock = threading.Lock()
        self.acked = {}       # id -> 201 body bytes
        self.uncertain = set()  # descriptions whose answer the kill cut off
        self.errors = []
        self.threads = [threading.Thread(target=self._run, args=(t,)) for t in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join()

    def _fail(self, text):
        with self.lock:
            self.errors.append(text)

    def _run(self, t):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ss.CALL_TIMEOUT)
        try:
            for i in range(10 ** 9):
                # distinct descriptions of varied lengths, so record sizes vary
                desc = "crash r%02d t%02d n%06d %s" % (self.round_no, t, i, "x" * ((self.round_no * 31 + t * 7 + i) % 97))
                try:
                    status, headers, body = ss.create(self.port, desc, conn=conn)
                except (OSError, http.client.HTTPException) as e:
                    with self.lock:
                        self.uncertain.add(desc)
                    if not self.killed.is_set():
                        self._fail("create %r failed before the kill: %r" % (desc, e))
                    return
                if status != 201:
                    self._fail("create %r: status %d, expected 201: %r" % (desc, status, body[:300]))
                    return
                try:
                    obj = json.loads(body)
                except ValueError:
                    obj = body
                problem = ss.webhook_problem(obj, desc) or (None if ss.is_json_content(headers) else
                                                            "content-type %r" % headers.get("content-type"))
                if problem:
                    self._fail("create %r: 201 with a bad webhook (%s): %r" % (desc, problem, body[:300]))
                    return
                with self.lock:
                    if obj["id"] in self.acked:
                        self.errors.append("create %r: 201 with an id already given: %r" % (desc, body))
                    self.acked[obj["id"]] = body
        finally:
            conn.close()


class CrashTest(unittest.TestCase):

    def setUp(self):
        self.tmp = ss.make_tmpdir("crash")
        self.store_path = os.path.join(self.tmp, "store")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        ss.remove_tmpdir(self.tmp)

    def start(self):
        s = ss.Server(BINARY, self.tmp, self.store_path, fsync="always", snapshot_after_bytes=SNAPSHOT_AFTER)
        self.servers.append(s)
        return s

    def verify(self, s, round_no, acked, acked_desc, uncertain_now, uncertain_before, seen):
        """The checks after a restart. acked: id -> 201 body of every round; acked_desc:
        their descriptions; uncertain_now: creates cut off by the last kill; uncertain_before:
        those cut off by earlier kills (absent at the restart after it, so absent for good);
        seen: id -> item of every webhook met in an earlier list (updated here)."""
        where = "after restart %d (log %s)" % (round_no, s.log_path)
        status, body, items = ss.list_items(s.port)
        self.assertEqual(status, 200, "%s: list: %r" % (where, body[:300]))
        self.assertIsNotNone(items, "%s: list is not {\"items\": [...]}: %r" % (where, body[:300]))
        by_id, descs = {}, set()
        for item in items:
            problem = ss.webhook_problem(item)
            self.assertIsNone(problem, "%s: a malformed webhook in the list: %s" % (where, problem))
            self.assertNotIn(item["id"], by_id, "%s: id %s twice in the list" % (where, item["id"]))
            self.assertNotIn(item["description"], descs,
                             "%s: one create stored twice (description %r)" % (where, item["description"]))
            by_id[item["id"]] = item
            descs.add(item["description"])
        self.assertGreaterEqual(len(items), len(acked), "%s: the list is shorter than the 201s" % where)
        self.assertEqual(s.loaded(), len(items), "%s: the start-up line's count differs from the list" % where)

        missing = [i for i in acked if i not in by_id]
        self.assertEqual(missing, [], "%s: %d acknowledged webhooks lost, e.g. %r"
                         % (where, len(missing), [acked[i] for i in missing[:3]]))
        for i, b in acked.items():
            self.assertEqual(by_id[i], json.loads(b), "%s: list item differs from its 201 body" % where)
        for i, item in by_id.items():
            if i in acked:
                continue
            d = item["description"]
            self.assertNotIn(d, acked_desc, "%s: %r stored under a second id %s" % (where, d, i))
            if i in seen:
                continue
            self.assertNotIn(d, uncertain_before,
                             "%s: %r, absent after the restart that followed its kill, appeared later"
                             % (where, d))
            self.assertIn(d, uncertain_now, "%s: a webhook nobody created: %r" % (where, item))
        for i, item in seen.items():
            self.assertIn(i, by_id, "%s: %r, present after an earlier restart, is gone" % (where, item))
            self.assertEqual(by_id[i], item, "%s: a webhook changed across restarts" % where)
        seen.update(by_id)

        # GET by id, byte for byte, for every acknowledged webhook; and equal for the others
        expected = [(i, acked.get(i)) for i in by_id]
        chunks = [expected[k::VERIFY_THREADS] for k in range(VERIFY_THREADS)]

        def sweep(chunk):
            bad = []
            for (i, b), (st, got) in zip(chunk, ss.get_many(s.port, [i for i, _ in chunk])):
                if st != 200 or (got != b if b is not None else json.loads(got) != by_id[i]):
                    bad.append("GET %s: %d %r, expected %r" % (i, st, got[:300], b or by_id[i]))
            return bad

        with concurrent.futures.ThreadPoolExecutor(VERIFY_THREADS) as pool:
            bad = [x for r in pool.map(sweep, chunks) for x in r]
        self.assertEqual(bad, [], "%s: %d reads differ, e.g. %s" % (where, len(bad), bad[:3]))
        return len(items)

    def test_sigkill_under_load(self):
        seed = int(os.environ.get("HOOKGATE_CRASH_SEED", "0")) or random.SystemRandom().randrange(1, 2 ** 31)
        print("\ncrash test: seed %d (HOOKGATE_CRASH_SEED=%d repeats the choices), %d rounds"
              % (seed, seed, ROUNDS), flush=True)
        rng = random.Random(seed)
        acked, acked_desc, seen = {}, set(), {}
        uncertain_now, uncertain_before = set(), set()
        torn = unfinished = 0
        started = time.monotonic()
        for round_no in range(ROUNDS + 1):
            s = self.start()
            log = s.log()
            torn += "dropped a torn tail" in log
            unfinished += "never finished" in log
            present = self.verify(s, round_no, acked, acked_desc, uncertain_now, uncertain_before, seen)
            if round_no == ROUNDS:
                rc = s.stop()
                self.assertEqual(rc, 0, "exit code after SIGTERM; log:\n%s" % s.log()[-3000:])
                break
            uncertain_before |= uncertain_now
            n, delay = rng.randint(*THREADS), rng.uniform(*KILL_DELAY)
            load = Load(s.port, round_no, n)
            load.start()
            time.sleep(delay)
            load.killed.set()
            died = s.proc.poll()
            s.kill()
            load.join()
            self.assertIsNone(died, "round %d (seed %d): the server died by itself before the kill (status %s); "
                              "log tail:\n%s" % (round_no, seed, died, s.log()[-3000:]))
            self.assertEqual(load.errors, [], "round %d (%d threads, kill after %.3f s, seed %d): %s; log %s"
                             % (round_no, n, delay, seed, load.errors[:5], s.log_path))
            for i, b in load.acked.items():
                self.assertNotIn(i, acked, "round %d: id %s given twice: %r" % (round_no, i, b))
                acked[i] = b
                acked_desc.add(json.loads(b)["description"])
            uncertain_now = load.uncertain
            snapshots = s.log().count("store: wrote snapshot.")
            print("round %2d: %2d threads, kill after %.3f s: %5d created (%d answers cut off), %d present "
                  "before, %d snapshots written"
                  % (round_no, n, delay, len(load.acked), len(load.uncertain), present, snapshots), flush=True)
        print("crash test: %d acknowledged, %d in the store; %d start-ups cut a torn tail, %d removed an "
              "unfinished snapshot; %.1f s" % (len(acked), len(seen), torn, unfinished, time.monotonic() - started),
              flush=True)
        self.assertGreater(len(acked), 0, "no create succeeded in any round")


def main():
    global BINARY
    BINARY = ss.binary_from_argv()
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[1:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
