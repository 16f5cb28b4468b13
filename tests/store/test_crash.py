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

ChangesCrashTest does the same with a mix of creates, updates and deletes (each thread
changes only the webhooks it made, so each webhook has one history): after every restart
each webhook shows its last acknowledged change, or the one change in flight when the kill
came, whole (an update sets url, description and disabled together); a deleted one is gone
from GET and the list; nothing else appears.

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


CHANGE_ROUNDS = int(os.environ.get("HOOKGATE_CRASH_CHANGE_ROUNDS", "10"))
AUTH = {"authorization": ss.TOKEN}
JSON_AUTH = {"authorization": ss.TOKEN, "content-type": "application/json"}


def updated_state(n):
    """The fields an update number n sets, all at once."""
    return {"url": "https://example.com/u/%d" % n, "description": "updated %d" % n, "disabled": n % 2 == 0}


class ChangesLoad:
    """One round of creates, updates and deletes from n threads until the server dies. Each
    thread creates webhooks and then updates or deletes only its own."""

    def __init__(self, port, round_no, n, rng_seed):
        self.port, self.round_no, self.n, self.seed = port, round_no, n, rng_seed
        self.killed = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}        # id -> its state after its last acknowledged change (None: deleted)
        self.in_flight = {}    # id -> the state its unanswered change would leave (None: deleted)
        self.created_uncertain = set()  # descriptions of creates whose answer the kill cut off
        self.counts = {"create": 0, "update": 0, "delete": 0}
        self.errors = []
        self.threads = [threading.Thread(target=self._run, args=(t,)) for t in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join()

    def _run(self, t):
        rng = random.Random(self.seed * 1000 + t)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=ss.CALL_TIMEOUT)
        mine = []  # ids this thread made and has not deleted
        try:
            for i in range(10 ** 9):
                roll = rng.random()
                if not mine or roll < 0.4:
                    kind = "create"
                    desc = "chg r%02d t%02d n%06d" % (self.round_no, t, i)
                    method, path, body = "POST", "/api/webhooks", ss.create_body(desc)
                elif roll < 0.8:
                    kind, wid = "update", rng.choice(mine)
                    after = updated_state(self.round_no * 10 ** 7 + t * 10 ** 5 + i)
                    method, path, body = "PUT", "/api/webhooks/" + wid, json.dumps(after).encode()
                else:
                    kind, wid = "delete", mine.pop(rng.randrange(len(mine)))
                    after, method, path, body = None, "DELETE", "/api/webhooks/" + wid, None
                if kind != "create":
                    with self.lock:
                        self.in_flight[wid] = after
                try:
                    status, _, answer = ss.request(self.port, method, path, body,
                                                   JSON_AUTH if body is not None else AUTH, conn=conn)
                except (OSError, http.client.HTTPException) as e:
                    if kind == "create":
                        with self.lock:
                            self.created_uncertain.add(desc)
                    if not self.killed.is_set():
                        with self.lock:
                            self.errors.append("%s failed before the kill: %r" % (kind, e))
                    return
                want = 201 if kind == "create" else 200
                if status != want or (kind != "create" and answer != b""):
                    with self.lock:
                        self.errors.append("%s %s: %d %r, expected %d" % (method, path, status, answer[:200], want))
                    return
                with self.lock:
                    self.counts[kind] += 1
                    if kind == "create":
                        obj = json.loads(answer)
                        mine.append(obj["id"])
                        self.acked[obj["id"]] = {k: obj[k] for k in ("url", "description", "disabled")}
                    else:
                        del self.in_flight[wid]
                        self.acked[wid] = after
        finally:
            conn.close()


class ChangesCrashTest(unittest.TestCase):

    def setUp(self):
        self.tmp = ss.make_tmpdir("crash-changes")
        self.store_path = os.path.join(self.tmp, "store")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        ss.remove_tmpdir(self.tmp)

    def verify(self, s, round_no, state, in_flight, new_uncertain, gone_descs):
        """state: id -> expected fields (None: deleted) after every acknowledged change;
        in_flight: id -> the fields (None: deleted) of a change the last kill cut off, which
        may or may not have happened, but whole; new_uncertain: descriptions of creates the
        last kill cut off; gone_descs: those of earlier kills found absent (absent for good).
        Updates state with what the restart shows."""
        where = "after restart %d (log %s)" % (round_no, s.log_path)
        status, body, items = ss.list_items(s.port)
        self.assertEqual(status, 200, "%s: list: %r" % (where, body[:300]))
        by_id = {}
        for item in items:
            self.assertNotIn(item["id"], by_id, "%s: id %s twice in the list" % (where, item["id"]))
            by_id[item["id"]] = item
        self.assertEqual(s.loaded(), len(items), "%s: the start-up line's count differs from the list" % where)
        for wid, fields in list(state.items()):
            item = by_id.get(wid)
            shown = None if item is None else {k: item[k] for k in ("url", "description", "disabled")}
            allowed = [fields] + ([in_flight[wid]] if wid in in_flight else [])
            self.assertIn(shown, allowed, "%s: webhook %s shows %r; its last acknowledged change left %r, the one "
                          "in flight %r" % (where, wid, shown, fields, in_flight.get(wid, "(none)")))
            state[wid] = shown
            if shown is None:
                st, _, got = ss.get(s.port, wid)
                self.assertEqual(st, 404, "%s: deleted webhook %s answers GET %d %r" % (where, wid, st, got[:200]))
        for wid, item in by_id.items():
            if wid in state:
                continue
            d = item["description"]
            self.assertNotIn(d, gone_descs, "%s: %r, absent after the restart after its kill, appeared" % (where, d))
            self.assertIn(d, new_uncertain, "%s: a webhook nobody created: %r" % (where, item))
            state[wid] = {k: item[k] for k in ("url", "description", "disabled")}
        gone_descs |= new_uncertain - {item["description"] for item in items}
        # every present webhook reads back as the list shows it
        ids = list(by_id)
        bad = [(i, st) for i, (st, got) in zip(ids, ss.get_many(s.port, ids)) if st != 200 or json.loads(got) != by_id[i]]
        self.assertEqual(bad, [], "%s: GET differs from the list: %r" % (where, bad[:3]))
        return len(items)

    def test_sigkill_under_creates_updates_deletes(self):
        seed = int(os.environ.get("HOOKGATE_CRASH_SEED", "0")) or random.SystemRandom().randrange(1, 2 ** 31)
        print("\ncrash test of changes: seed %d, %d rounds" % (seed, CHANGE_ROUNDS), flush=True)
        rng = random.Random(seed)
        state, in_flight, new_uncertain, gone_descs = {}, {}, set(), set()
        totals = {"create": 0, "update": 0, "delete": 0}
        for round_no in range(CHANGE_ROUNDS + 1):
            s = ss.Server(BINARY, self.tmp, self.store_path, fsync="always", snapshot_after_bytes=SNAPSHOT_AFTER)
            self.servers.append(s)
            present = self.verify(s, round_no, state, in_flight, new_uncertain, gone_descs)
            if round_no == CHANGE_ROUNDS:
                self.assertEqual(s.stop(), 0, "exit code after SIGTERM; log:\n%s" % s.log()[-3000:])
                break
            n, delay = rng.randint(*THREADS), rng.uniform(*KILL_DELAY)
            load = ChangesLoad(s.port, round_no, n, rng.randrange(1, 2 ** 31))
            load.start()
            time.sleep(delay)
            load.killed.set()
            died = s.proc.poll()
            s.kill()
            load.join()
            self.assertIsNone(died, "round %d (seed %d): the server died by itself; log tail:\n%s"
                              % (round_no, seed, s.log()[-3000:]))
            self.assertEqual(load.errors, [], "round %d (seed %d): %s; log %s"
                             % (round_no, seed, load.errors[:5], s.log_path))
            state.update(load.acked)
            in_flight, new_uncertain = load.in_flight, load.created_uncertain
            for k in totals:
                totals[k] += load.counts[k]
            print("round %2d: %2d threads, kill after %.3f s: %d creates, %d updates, %d deletes acknowledged, "
                  "%d changes cut off; %d present before"
                  % (round_no, n, delay, load.counts["create"], load.counts["update"], load.counts["delete"],
                     len(load.in_flight) + len(load.created_uncertain), present), flush=True)
        print("crash test of changes: %r acknowledged" % totals, flush=True)
        self.assertGreater(totals["update"], 0, "no update succeeded in any round")
        self.assertGreater(totals["delete"], 0, "no delete succeeded in any round")


def main():
    global BINARY
    BINARY = ss.binary_from_argv()
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[1:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
