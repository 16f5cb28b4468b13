#!/usr/bin/python3
"""Three hookgate nodes on one PostgreSQL database (a throw-away cluster, tests/store/pg_support.py),
held to the PostgreSQL store's contract:

- a create on one node is read (GET, byte for byte) and listed (in creation order) on the
  others at once; an update on one and a delete on another are seen by the third;
- the same Idempotency-Key sent to all three nodes at the same moment (20 rounds) makes
  exactly one webhook: one 201, the others a replay (201, same body, Idempotent-Replayed)
  or 409, and a 409 retried becomes that replay; the list and the database agree;
- a node killed (SIGKILL) under creates loses nothing it acknowledged: every 201 it gave is
  read on another node;
- PostgreSQL stopped under load (`pg_ctl stop -m immediate`): every request is answered (a
  success or 503 "The store cannot ... right now (...)" with Retry-After) within
  statement_timeout_ms + 2 s, reads, updates and deletes included; /readyz is 503 with a
  reason; no node dies; once PostgreSQL is back every node serves creates within 15 s
  without a restart, and every acknowledged create is there, no refused update or delete
  applied;
- a node started while the database is down starts, is not ready, answers 503, and serves
  once the database is up;
- a statement held up past statement_timeout_ms (another session locks the tables) answers
  503 with Retry-After, a create and a read alike, and the cancelled create leaves nothing;
- /metrics counts each event loop's connections;
- creates that reach a node together go to the database as one statement: when the
  database refuses one of them (a trigger of the test's), that one alone answers 503 and
  every other is stored; and when it refuses the commit (a deferred constraint trigger),
  no create of that transaction is acknowledged unless it was then stored alone.

The database is checked through psql without knowing the backend's tables: rows are found by
what they contain (PgCluster.rows_mentioning).

Run from the repository root:  /usr/bin/python3 tests/store/test_postgres.py build/hookgate
"""
import atexit
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402
import pg_support as pgs  # noqa: E402

BINARY = None
PG = None                    # the module's PgCluster
TMP = None                   # the module's directory for node configs and logs

# the schema version this tree's hookgate migrates to: one per file in server/store/migrations
LATEST_SCHEMA = len([f for f in os.listdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                        "server", "store", "migrations")) if f.endswith(".sql")])
NODES = 3
NODE_THREADS = 2             # server.threads of each node
STATEMENT_TIMEOUT_MS = pgs.NODE_STATEMENT_TIMEOUT_MS
ANSWER_BOUND = STATEMENT_TIMEOUT_MS / 1000 + 2   # seconds any request may take with the database gone
READY_TIMEOUT = 20.0         # seconds from /healthz 200 to /readyz 200 (migrations included)
RECOVER_TIMEOUT = 15.0       # seconds from PostgreSQL accepting connections to every node creating
IDEMPOTENCY_ROUNDS = 20
KILL_ROUNDS = 3
LOAD_THREADS = 8
CROSS_CREATES = 30
UNAVAILABLE_RE = re.compile(r"^The store cannot .+ right now \(.+\)(; retry shortly)?\.?\n?$")
RUN = "%d%04d" % (os.getpid(), random.randrange(10000))  # in every marker: a rerun never meets an old row


def marker(*parts):
    """A description unique to this run (letters, digits and '-': PgCluster.rows_mentioning can find it)."""
    return "-".join(["pg" + RUN] + [str(p) for p in parts])


def json_headers(**extra):
    h = {"authorization": ss.TOKEN, "content-type": "application/json"}
    h.update(extra)
    return h


def update(port, wid, obj, conn=None, timeout=ss.CALL_TIMEOUT):
    return ss.request(port, "PUT", "/api/webhooks/" + wid, json.dumps(obj).encode(), json_headers(),
                      timeout=timeout, conn=conn)


def delete(port, wid, conn=None, timeout=ss.CALL_TIMEOUT):
    return ss.request(port, "DELETE", "/api/webhooks/" + wid, headers={"authorization": ss.TOKEN},
                      timeout=timeout, conn=conn)


def keyed_create(port, key, description, conn=None):
    return ss.request(port, "POST", "/api/webhooks", ss.create_body(description),
                      json_headers(**{"idempotency-key": key}), conn=conn)


def h2_creates(port, bodies, timeout=ss.CALL_TIMEOUT):
    """POSTs each body to /api/webhooks on its own stream of one cleartext HTTP/2 connection,
    every stream in one write (so the node reads them together); each stream's DATA bytes,
    once every stream has ended. Frames by hand, HPACK literals only: the answers' bodies
    are all this needs, and DATA is not compressed."""
    def frame(kind, flags, stream, payload=b""):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload

    def literal(name, value):  # without indexing, new name, no Huffman (lengths under 127)
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    out = [b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", frame(4, 0, 0)]
    for i, body in enumerate(bodies):
        block = (b"\x83\x86"  # :method POST, :scheme http
                 + literal(b":path", b"/api/webhooks") + literal(b":authority", b"127.0.0.1")
                 + literal(b"authorization", ss.TOKEN.encode()) + literal(b"content-type", b"application/json")
                 + literal(b"content-length", str(len(body)).encode()))
        out += [frame(1, 0x4, 2 * i + 1, block), frame(0, 0x1, 2 * i + 1, body)]  # END_HEADERS; END_STREAM
    data, ended, buf = {}, set(), b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(out))
        while len(ended) < len(bodies):
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("the connection closed with %d of %d answers" % (len(ended), len(bodies)))
            buf += chunk
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                n, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7fffffff
                payload, buf = buf[9:9 + n], buf[9 + n:]
                if kind == 0:
                    data[stream] = data.get(stream, b"") + payload
                if kind in (0, 1) and flags & 0x1:
                    ended.add(stream)
                if kind == 4 and not flags & 0x1:
                    sock.sendall(frame(4, 0x1, 0))  # SETTINGS ACK
                if kind == 7:
                    raise AssertionError("GOAWAY with %d of %d answers" % (len(ended), len(bodies)))
    return [data.get(2 * i + 1, b"") for i in range(len(bodies))]


def database_errors(port, sqlstate_class):
    """hookgate_database_errors_total{class=...} of the node on port (0 before the first)."""
    status, _, body = ss.request(port, "GET", "/metrics")
    assert status == 200, body[:200]
    m = re.search(r'^hookgate_database_errors_total\{class="%s"\} (\d+)$' % sqlstate_class, body.decode(), re.M)
    return int(m.group(1)) if m else 0


def mine(items, prefix):
    """The items whose description starts with prefix, in list order."""
    return [it for it in items if it["description"].startswith(prefix)]


def setUpModule():
    global PG, TMP
    pgs.install_sigterm_interrupt()
    TMP = ss.make_tmpdir("postgres")
    unittest.addModuleCleanup(ss.remove_tmpdir, TMP)
    atexit.register(ss.remove_tmpdir, TMP)  # last (atexit runs in reverse)
    PG = pgs.PgCluster().__enter__()
    unittest.addModuleCleanup(PG.close)  # runs before remove_tmpdir, and also when this function fails
    atexit.register(PG.close)  # an interrupted run skips unittest's cleanups (close is idempotent)
    # one node first: a binary without the PostgreSQL store fails here, once, saying so
    try:
        probe = ss.Server(BINARY, TMP, None, store_yaml=PG.store_yaml(), threads=NODE_THREADS)
    except AssertionError as e:
        raise AssertionError("hookgate did not start with store.postgres; does this binary have the "
                             "PostgreSQL store?\n%s" % e) from None
    try:
        pgs.wait_readyz(probe.port, READY_TIMEOUT)
    finally:
        probe.kill()


class PostgresNodesTest(unittest.TestCase):

    def setUp(self):
        if not PG.running():  # a failed test may have left it stopped
            PG.start()
        self.nodes = [self.start_node() for _ in range(NODES)]
        self.ports = [n.port for n in self.nodes]

    def start_node(self, ready=True):
        n = ss.Server(BINARY, TMP, None, store_yaml=PG.store_yaml(), threads=NODE_THREADS)
        self.addCleanup(n.kill)
        atexit.register(n.kill)  # also when an interrupt skips the test's cleanups
        if ready:
            pgs.wait_readyz(n.port, READY_TIMEOUT)
        return n

    def assert_alive(self, nodes=None):
        for n in nodes or self.nodes:
            self.assertIsNone(n.proc.poll(), "node on port %d died (exit %s); log tail:\n%s"
                              % (n.port, n.proc.returncode, n.log()[-3000:]))

    def create_ok(self, port, description):
        status, headers, body = ss.create(port, description)
        self.assertEqual(status, 201, body[:300])
        obj = json.loads(body)
        self.assertIsNone(ss.webhook_problem(obj, description))
        return obj["id"], body

    def list_ok(self, port):
        status, body, items = ss.list_items(port)
        self.assertEqual(status, 200, body[:300])
        self.assertIsNotNone(items, body[:300])
        return items

    def assert_all_readable(self, acked, ports, why):
        """Every id -> 201 body of acked is answered 200 with those bytes by GET on each port,
        and listed, equal."""
        ids = sorted(acked)
        for port in ports:
            got = ss.get_many(port, ids)
            bad = [(i, s, b[:200]) for i, (s, b) in zip(ids, got) if s != 200 or b != acked[i]]
            self.assertFalse(bad, "%s: %d of %d acknowledged creates not read back on port %d, e.g. %r"
                             % (why, len(bad), len(ids), port, bad[:3]))
            listed = {it["id"]: it for it in self.list_ok(port)}
            missing = [i for i in ids if i not in listed]
            self.assertFalse(missing, "%s: %d acknowledged creates not listed on port %d, e.g. %r"
                             % (why, len(missing), port, missing[:3]))
            for i in ids:
                self.assertEqual(listed[i], json.loads(acked[i]))

    # --- one database, seen alike from every node ------------------------------------------

    def test_create_on_one_read_and_list_on_the_others(self):
        prefix = marker("cross")
        made = [self.create_ok(self.ports[0], "%s-%03d" % (prefix, i)) for i in range(CROSS_CREATES)]
        acked = dict(made)
        self.assertEqual(len(acked), CROSS_CREATES, "duplicate ids")
        results, errors = {}, []

        def read(port):  # nodes 2 and 3 read at the same time
            try:
                results[port] = (ss.get_many(port, [i for i, _ in made]), self.list_ok(port))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((port, e))
        threads = [threading.Thread(target=read, args=(p,)) for p in self.ports[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertFalse(errors, errors)
        for port in self.ports[1:]:
            got, items = results[port]
            for (wid, body), (status, answer) in zip(made, got):
                self.assertEqual((status, answer), (200, body), "GET %s on port %d" % (wid, port))
            self.assertEqual([it["id"] for it in mine(items, prefix)], [i for i, _ in made],
                             "list on port %d: not every create, or not in creation order" % port)
            self.assertEqual(mine(items, prefix), [json.loads(b) for _, b in made])
        # creates alternating between nodes 2 and 3: node 1 lists them in creation order
        prefix2 = marker("alt")
        alt = [self.create_ok(self.ports[1 + i % 2], "%s-%03d" % (prefix2, i)) for i in range(10)]
        self.assertEqual([it["id"] for it in mine(self.list_ok(self.ports[0]), prefix2)], [i for i, _ in alt])
        for wid, body in alt:
            self.assertEqual(ss.get(self.ports[0], wid)[::2], (200, body))
        self.assert_alive()

    def test_update_on_one_delete_on_another_seen_on_the_third(self):
        desc = marker("mutate")
        wid, body = self.create_ok(self.ports[0], desc)
        first = json.loads(body)
        change = {"url": "https://example.com/changed", "description": desc + "-new", "disabled": True}
        status, _, answer = update(self.ports[1], wid, change)
        self.assertEqual(status, 200, answer)
        expected = dict(first, **change)
        status, _, answer = ss.get(self.ports[0], wid)
        self.assertEqual(status, 200, answer)
        self.assertEqual(json.loads(answer), expected, "node 1 does not see node 2's update")
        self.assertIn(expected, self.list_ok(self.ports[2]), "node 3 does not list node 2's update")
        status, _, answer = delete(self.ports[2], wid)
        self.assertEqual(status, 200, answer)
        gone = ("Webhook with id %s does not exist." % wid).encode()
        for port in (self.ports[0], self.ports[1]):
            status, _, answer = ss.get(port, wid)
            self.assertEqual((status, answer.rstrip(b"\n")), (404, gone), "port %d still has the deleted webhook" % port)
            self.assertNotIn(wid, [it["id"] for it in self.list_ok(port)])
        status, _, answer = update(self.ports[0], wid, change)
        self.assertEqual(status, 404, answer)
        self.assert_alive()

    # --- one Idempotency-Key, three nodes at once ------------------------------------------

    def test_same_idempotency_key_on_every_node_at_once(self):
        prefix = marker("idem")
        rounds = []
        for r in range(IDEMPOTENCY_ROUNDS):
            key = "%s-key-%02d" % (prefix, r)
            desc = "%s-%02d" % (prefix, r)
            conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=ss.CALL_TIMEOUT) for p in self.ports]
            for c in conns:
                c.connect()  # connected before the barrier, so the requests leave together
            barrier = threading.Barrier(NODES)
            answers = [None] * NODES

            def send(i):
                try:
                    barrier.wait(10)
                    answers[i] = keyed_create(self.ports[i], key, desc, conn=conns[i])
                except Exception as e:  # noqa: BLE001 - reported below
                    answers[i] = e
            threads = [threading.Thread(target=send, args=(i,)) for i in range(NODES)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for c in conns:
                c.close()
            rounds.append((key, desc, answers))

        for key, desc, answers in rounds:
            for a in answers:
                self.assertNotIsInstance(a, Exception, "round %s: %r" % (key, a))
            firsts = [a for a in answers if a[0] == 201 and a[1].get("idempotent-replayed") is None]
            self.assertEqual(len(firsts), 1, "round %s: %d creates answered as new (expected 1): %r"
                             % (key, len(firsts), [(a[0], a[2][:120]) for a in answers]))
            body = firsts[0][2]
            wid = json.loads(body)["id"]
            for i, (status, headers, answer) in enumerate(answers):
                if status == 201 and headers.get("idempotent-replayed") is not None:
                    self.assertEqual((headers["idempotent-replayed"], answer), ("true", body),
                                     "round %s: a replay that is not the first create" % key)
                elif status == 409:
                    # retried, it becomes the replay (the first create is written by now)
                    deadline = time.monotonic() + 5
                    while status == 409 and time.monotonic() < deadline:
                        time.sleep(0.05)
                        status, headers, answer = keyed_create(self.ports[i], key, desc)
                    self.assertEqual((status, headers.get("idempotent-replayed"), answer), (201, "true", body),
                                     "round %s: a 409 retried on port %d" % (key, self.ports[i]))
                else:
                    self.assertIs(answers[i], firsts[0], "round %s: answer %d %r, expected a replay or 409"
                                  % (key, status, answer[:200]))
            rows = PG.rows_mentioning(desc)
            self.assertTrue(rows and max(rows.values()) == 1,
                            "round %s: rows holding its description per table %r (expected one webhook row)"
                            % (key, rows))
            self.assertTrue(any(PG.rows_mentioning(wid).values()), "round %s: webhook %s not in the database" % (key, wid))
        answers = [a for _, _, round_answers in rounds for a in round_answers]
        print("\n  %d rounds: %d replays, %d answered 409 first" % (
            len(rounds), sum(1 for a in answers if a[0] == 201 and a[1].get("idempotent-replayed")),
            sum(1 for a in answers if a[0] == 409)), file=sys.stderr, end=" ")
        items = mine(self.list_ok(self.ports[1]), prefix)
        self.assertEqual(sorted(it["description"] for it in items), sorted(d for _, d, _ in rounds),
                         "the list does not hold exactly one webhook per key")
        self.assert_alive()

    # --- a node killed under load -------------------------------------------------------------

    def test_sigkill_a_node_under_creates(self):
        rng = random.Random()
        acked = {}
        for r in range(KILL_ROUNDS):
            victim = self.nodes[0]
            load = Load([victim.port], LOAD_THREADS, marker("kill", r), reads=False)
            load.start()
            time.sleep(rng.uniform(0.5, 1.5))
            load.dying.set()
            victim.kill()
            load.join()
            self.assertFalse(load.errors, "round %d: %s" % (r, load.errors[:5]))
            self.assertTrue(load.acked, "round %d: no create acknowledged before the kill" % r)
            acked.update(load.acked)
            # nodes 2 and 3 read every 201 the dead node gave
            self.assert_all_readable(acked, self.ports[1:], "after SIGKILL round %d" % r)
            listed = mine(self.list_ok(self.ports[1]), marker("kill", r))
            unknown = [it for it in listed if it["id"] not in load.acked and it["description"] not in load.cut]
            self.assertFalse(unknown, "round %d: webhooks nobody asked for: %r" % (r, unknown[:3]))
            self.assert_alive(self.nodes[1:])
            self.nodes[0] = self.start_node()
            self.ports[0] = self.nodes[0].port
        self.assert_all_readable(acked, self.ports[:1], "on the restarted node")

    # --- PostgreSQL stopped under load -----------------------------------------------------------

    def assert_unavailable(self, answer, what):
        status, headers, body = answer
        self.assertEqual(status, 503, "%s: %r" % (what, body[:300]))
        self.assertRegex(body.decode("utf-8", "replace"), UNAVAILABLE_RE, what)
        self.assertIn("retry-after", headers, "%s: 503 without Retry-After" % what)

    def test_postgres_stopped_under_load_then_back(self):
        # webhooks for the refused update and delete while the database is down
        bystanders = [self.create_ok(self.ports[0], marker("bystander", i)) for i in range(NODES)]
        load = Load(self.ports, LOAD_THREADS, marker("down"), reads=True, timeout=ANSWER_BOUND + 10)
        load.start()
        try:
            time.sleep(1.0)
            stopped_at = time.monotonic()
            PG.stop("immediate")
            time.sleep(ANSWER_BOUND + 1)  # long enough for a statement_timeout to pass under load
            # every kind of call, on every node, while the load goes on
            for i, port in enumerate(self.ports):
                wid, body = bystanders[i]
                bound = ANSWER_BOUND + 3  # the client's own deadline: a hang fails, late
                for what, call in (("create", lambda: ss.request(port, "POST", "/api/webhooks",
                                                                 ss.create_body(marker("refused", i)),
                                                                 json_headers(), timeout=bound)),
                                   ("get", lambda: ss.request(port, "GET", "/api/webhooks/" + wid,
                                                              headers={"authorization": ss.TOKEN}, timeout=bound)),
                                   ("list", lambda: ss.request(port, "GET", "/api/webhooks?ecosystemId=" + ss.ECO,
                                                               headers={"authorization": ss.TOKEN}, timeout=bound)),
                                   ("update", lambda: update(port, wid, {"url": "https://example.com/never"},
                                                             timeout=bound)),
                                   ("delete", lambda: delete(port, wid, timeout=bound))):
                    t0 = time.monotonic()
                    try:
                        answer = call()
                    except (OSError, http.client.HTTPException) as e:
                        self.fail("%s on port %d with the database down: no answer after %.1fs (%r)"
                                  % (what, port, time.monotonic() - t0, e))
                    took = time.monotonic() - t0
                    self.assert_unavailable(answer, "%s on port %d with the database down" % (what, port))
                    self.assertLessEqual(took, ANSWER_BOUND, "%s on port %d took %.1fs" % (what, port, took))
                status, body = pgs.wait_readyz(port, 5, want=503)
                self.assertTrue(body.strip() and body.strip() != b"ready", "/readyz 503 without a reason: %r" % body)
            self.assert_alive()
        finally:
            load.stop.set()
            load.join()
        self.assertFalse(load.errors, load.errors[:5])
        late = [c for c in load.calls if c[1] - max(c[0], stopped_at) > ANSWER_BOUND]
        self.assertFalse(late, "%d calls answered more than %.0fs after the stop (start, end, node, op, status): %r"
                         % (len(late), ANSWER_BOUND, late[:5]))
        down = [c for c in load.calls if c[0] > stopped_at + 0.5]
        self.assertTrue(down and all(c[4] == 503 for c in down),
                        "calls made with the database down that did not answer 503: %r"
                        % [c for c in down if c[4] != 503][:5])

        PG.start()
        back_at = time.monotonic()
        acked = dict(load.acked)
        for port in self.ports:
            while True:
                status, _, body = ss.create(port, marker("back", port))
                if status == 201:
                    acked[json.loads(body)["id"]] = body
                    break
                self.assertEqual(status, 503, body[:300])
                self.assertLess(time.monotonic() - back_at, RECOVER_TIMEOUT,
                                "port %d still answers 503 %.0fs after PostgreSQL came back: %r"
                                % (port, RECOVER_TIMEOUT, body[:300]))
                time.sleep(0.1)
            pgs.wait_readyz(port, 5)
        self.assertGreater(len(load.acked), 0, "no create acknowledged before the stop")
        self.assert_all_readable(acked, self.ports, "after PostgreSQL came back")
        for wid, body in bystanders:  # the refused update and delete left nothing behind
            self.assertEqual(ss.get(self.ports[1], wid)[::2], (200, body))
        self.assert_alive()

    def refuse_rows(self, prefix, at_commit):
        """A trigger on every table the migrations made, until the test ends: a row naming
        "<prefix>-bad" is refused with SQLSTATE 23514, as a constraint would refuse it, when
        inserted, or at_commit (a constraint trigger deferred to COMMIT: the whole
        transaction is refused at its end)."""
        fn = "hookgate_test_refuse_%s_%s" % (RUN, "late" if at_commit else "now")
        PG.psql("CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF to_jsonb(NEW)::text LIKE '%%%s-bad%%' THEN "
                "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$" % (fn, prefix))
        self.addCleanup(PG.psql, "DROP FUNCTION %s CASCADE" % fn)  # and its triggers
        when = "CONSTRAINT TRIGGER %s AFTER INSERT ON %s DEFERRABLE INITIALLY DEFERRED" if at_commit \
            else "TRIGGER %s BEFORE INSERT ON %s"
        for table in PG.tables():
            if not table.endswith("schema_version"):
                PG.psql(("CREATE " + when + " FOR EACH ROW EXECUTE FUNCTION %s()") % (fn, table, fn))

    def test_a_create_the_database_refuses_fails_alone(self):
        port = self.ports[0]
        prefix = marker("refused")
        self.refuse_rows(prefix, at_commit=False)
        errors_before = database_errors(port, "23")
        descriptions = ["%s-%s-%02d" % (prefix, "bad" if i % 5 == 2 else "ok", i) for i in range(20)]
        bad = [d for d in descriptions if "-bad-" in d]
        answers = h2_creates(port, [ss.create_body(d) for d in descriptions])
        for d, body in zip(descriptions, answers):
            if d in bad:
                self.assertRegex(body.decode(), UNAVAILABLE_RE, d)
                self.assertIn("the database refused the statement", body.decode())
            else:
                self.assertIsNone(ss.webhook_problem(json.loads(body), d), body[:300])
        listed = sorted(it["description"] for it in mine(self.list_ok(self.ports[1]), prefix))
        self.assertEqual(listed, sorted(d for d in descriptions if d not in bad))
        # the node sent them together: the statement of all of them failed once, then each
        # refused one again alone
        self.assertGreater(database_errors(port, "23") - errors_before, len(bad),
                           "the creates did not reach the database in one statement")
        self.assert_alive()

    def test_a_commit_the_database_refuses_acknowledges_nothing(self):
        port = self.ports[0]
        prefix = marker("late")
        self.refuse_rows(prefix, at_commit=True)
        descriptions = ["%s-%s-%02d" % (prefix, "bad" if i == 7 else "ok", i) for i in range(20)]
        answers = h2_creates(port, [ss.create_body(d) for d in descriptions])
        listed = {it["description"] for it in mine(self.list_ok(self.ports[1]), prefix)}
        # nothing acknowledged that the failed commit took with it: each create went again
        # alone, and only the refused one failed
        for d, body in zip(descriptions, answers):
            self.assertEqual(body.startswith(b"{"), d in listed,
                             "%s: answered %r, and %s" % (d, body[:120], "listed" if d in listed else "not stored"))
        self.assertEqual(listed, set(descriptions) - {descriptions[7]})
        self.assertRegex(answers[7].decode(), UNAVAILABLE_RE)
        self.assert_alive()

    def test_a_statement_over_the_timeout_answers_503_and_leaves_nothing(self):
        prefix = marker("slow")
        wid, body = self.create_ok(self.ports[1], prefix + "-before")
        # another session holds every table the migrations made, longer than the timeout
        tables = [t for t in PG.tables() if not t.endswith("schema_version")]
        hold_s = STATEMENT_TIMEOUT_MS / 1000 + 4
        holder = subprocess.Popen(
            [os.path.join(PG.bindir, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(PG.port), "-U", pgs.SUPERUSER,
             "-d", pgs.DATABASE, "-c", "BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;"
             % (", ".join(tables), hold_s)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(holder.kill)
        deadline = time.monotonic() + 10
        while PG.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted "
                      "AND relation IS NOT NULL AND pid <> pg_backend_pid()") == [["0"]]:
            self.assertLess(time.monotonic(), deadline, "the lock was not taken")
            time.sleep(0.05)
        answers = {}

        def call(name, fn):
            started = time.monotonic()
            status, headers, answer = fn()
            answers[name] = (status, headers, answer.decode(), time.monotonic() - started)
        threads = [threading.Thread(target=call, args=("create", lambda: ss.create(self.ports[0], prefix + "-during"))),
                   threading.Thread(target=call, args=("get", lambda: ss.get(self.ports[2], wid)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name, (status, headers, answer, took) in answers.items():
            # cancelled by PostgreSQL at statement_timeout_ms: 503 with Retry-After, not a hang
            self.assertEqual(status, 503, "%s: %s" % (name, answer))
            self.assertRegex(answer, UNAVAILABLE_RE, name)
            self.assertEqual(headers.get("retry-after"), "1", name)
            self.assertGreater(took, STATEMENT_TIMEOUT_MS / 1000 - 1, name)
            self.assertLess(took, ANSWER_BOUND, name)
        self.assertEqual(holder.wait(timeout=hold_s + 10), 0, holder.stderr.read())
        # the cancelled create left nothing; the nodes serve at once
        self.assertEqual([it["description"] for it in mine(self.list_ok(self.ports[1]), prefix)], [prefix + "-before"])
        self.assertFalse(any(PG.rows_mentioning(prefix + "-during").values()), "the cancelled create is stored")
        self.assertEqual(ss.get(self.ports[0], wid)[::2], (200, body))
        self.create_ok(self.ports[0], prefix + "-after")
        self.assert_alive()

    def test_a_sealed_secret_is_stored_sealed_and_signs_invokes(self):
        key = os.path.join(TMP, "secret-%s.key" % RUN)
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(os.urandom(32))
        calls = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                calls.append((dict((k.lower(), v) for k, v in self.headers.items()),
                              self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass
        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        self.addCleanup(receiver.server_close)
        self.addCleanup(receiver.shutdown)
        store = PG.store_yaml()
        self.assertTrue(store.endswith(" } }"))
        store = store[:-2] + ", secret_key_file: %s }" % json.dumps(key)
        node = ss.Server(BINARY, TMP, None, store_yaml=store, threads=NODE_THREADS,
                         delivery_yaml="{ allow_networks: [ 127.0.0.0/8 ] }")
        self.addCleanup(node.kill)
        pgs.wait_readyz(node.port, READY_TIMEOUT)
        secret = "pgsealed" + RUN
        status, _, body = ss.create(node.port, marker("sealed"), secret=secret,
                                    url="http://127.0.0.1:%d/hook" % receiver.server_address[1])
        self.assertEqual(status, 201, body[:300])
        wid = json.loads(body)["id"]
        # the database holds it sealed: its text is nowhere
        self.assertFalse(any(PG.rows_mentioning(secret).values()), "the secret is stored in plain text")
        status, _, answer = ss.request(node.port, "POST", "/api/webhooks/%s/invoke" % wid,
                                       headers={"authorization": ss.TOKEN})
        self.assertEqual((status, answer), (200, b"Webhook verified"))
        # read back from PostgreSQL and opened with the key: the call is signed with the secret
        self.assertEqual(len(calls), 1)
        headers, sent = calls[0]
        self.assertEqual(headers["x-droplit-signature"], hmac.new(secret.encode(), sent, hashlib.sha256).hexdigest())

    def test_metrics_count_each_loops_connections(self):
        status, _, body = ss.request(self.ports[0], "GET", "/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        per_loop = [int(v) for v in re.findall(r'^hookgate_database_loop_connections_up\{loop="\d+"\} (\d+)$', text, re.M)]
        up = int(re.search(r'^hookgate_database_connections\{state="up"\} (\d+)$', text, re.M).group(1))
        # ready: every loop has a connection; the loops' counts add up to the node's
        self.assertEqual(len(per_loop), NODE_THREADS, text)
        self.assertTrue(all(1 <= n <= pgs.NODE_CONNECTIONS for n in per_loop), per_loop)
        self.assertEqual(sum(per_loop), up)

    def test_a_newer_schema_stops_start_up(self):
        # a database migrated by a newer hookgate: this one must not write there
        PG.psql("INSERT INTO hookgate_schema_version VALUES (99)")
        try:
            with self.assertRaises(AssertionError) as failed:
                self.start_node(ready=False)
            self.assertIn("exited with 1", str(failed.exception))
            self.assertIn("the database's schema is version 99; this hookgate knows up to %d" % LATEST_SCHEMA,
                          str(failed.exception))
        finally:
            PG.psql("DELETE FROM hookgate_schema_version WHERE version = 99")
        self.assertEqual(PG.psql("SELECT max(version) FROM hookgate_schema_version"), [[str(LATEST_SCHEMA)]])
        self.assert_alive()

    def test_node_started_while_postgres_is_down(self):
        PG.stop("immediate")
        node = self.start_node(ready=False)  # /healthz answers: the process serves
        status, body = pgs.wait_readyz(node.port, 5, want=503)
        self.assertTrue(body.strip(), "/readyz 503 without a reason")
        t0 = time.monotonic()
        self.assert_unavailable(ss.create(node.port, marker("early")), "create before the database is up")
        self.assertLessEqual(time.monotonic() - t0, ANSWER_BOUND)
        PG.start()
        for port in [node.port] + self.ports:  # every node recovers by itself (each of its loops)
            pgs.wait_readyz(port, RECOVER_TIMEOUT)
        wid, body = self.create_ok(node.port, marker("late"))
        self.assertEqual(ss.get(self.ports[0], wid)[::2], (200, body))
        self.assert_alive(self.nodes + [node])


class Load:
    """Client threads calling nodes (thread t on ports[t % len(ports)]) until stop is set or,
    once dying is set, their node stops answering: creates, and with reads=True also GETs of
    ids created before. Every call is recorded as (start, end, port, op, status or None)."""

    def __init__(self, ports, n, prefix, reads, timeout=ss.CALL_TIMEOUT):
        self.ports, self.prefix, self.reads, self.timeout = ports, prefix, reads, timeout
        self.stop = threading.Event()
        self.dying = threading.Event()   # set before the node is killed: errors are expected
        self.lock = threading.Lock()
        self.acked = {}                  # id -> 201 body
        self.cut = set()                 # descriptions of creates whose answer never came
        self.calls = []
        self.errors = []
        # daemons: an interrupted run must not wait for them before its atexit hooks kill the nodes
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(n)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join()

    def _run(self, t):
        port = self.ports[t % len(self.ports)]
        rng = random.Random(t)
        conn = None
        i = 0
        while not self.stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
            with self.lock:
                known = list(self.acked) if self.reads and rng.random() < 0.3 else None
            desc = "%s-t%02d-%06d" % (self.prefix, t, i)
            i += 1
            start = time.monotonic()
            try:
                if known:
                    op = "get"
                    status, _, body = ss.get(port, rng.choice(known), conn=conn)
                else:
                    op = "create"
                    status, _, body = ss.create(port, desc, conn=conn)
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = None
                with self.lock:
                    self.calls.append((start, time.monotonic(), port, op, None))
                    if op == "create":
                        self.cut.add(desc)
                    if not self.dying.is_set():
                        self.errors.append("%s on port %d: no answer: %r" % (op, port, e))
                return
            with self.lock:
                self.calls.append((start, time.monotonic(), port, op, status))
                if status == 201 and op == "create":
                    obj = json.loads(body)
                    problem = ss.webhook_problem(obj, desc)
                    if problem:
                        self.errors.append("create: 201 with %s" % problem)
                    self.acked[obj["id"]] = body
                elif status == 200 and op == "get":
                    pass
                elif status == 503:
                    if not UNAVAILABLE_RE.match(body.decode("utf-8", "replace")):
                        self.errors.append("%s on port %d: 503 %r" % (op, port, body[:200]))
                    time.sleep(0.01)  # do not spin on a node that refuses at once
                else:
                    self.errors.append("%s on port %d: status %d %r" % (op, port, status, body[:200]))
        if conn is not None:
            conn.close()


def main():
    global BINARY
    BINARY = ss.binary_from_argv()
    prog = unittest.main(argv=sys.argv, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
