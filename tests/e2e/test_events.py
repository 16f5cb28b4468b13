#!/usr/bin/python3
"""Events on the durable store (store.path) through crashes, stops and snapshots: hookgate
delivers to receivers this test runs on 127.0.0.1 (some slow, some failing for a while) and
is killed with SIGKILL, or stopped with SIGTERM, while deliveries are waiting and in flight;
started again on the same directory it must deliver every (event, webhook) at least once,
a second time only for what was in flight when it died, and keep what GET /api/events/<id>
and the attempts list said. With store.snapshot_after_bytes at its minimum, events,
deliveries and attempts must come back from snapshots just as whole.

Usage: tests/e2e/test_events.py PATH/TO/hookgate   (standard library only; the server and
HTTP helpers are tests/store/store_support.py's)
"""
import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "store"))
import store_support as ss  # noqa: E402

BINARY = ss.binary_from_argv()
WAIT = 30.0  # seconds any readiness poll waits at most
GRACE = 0.5  # an answer this close before a kill may not have been recorded: in flight still


def delivery_yaml(schedule, per_webhook=4, timeout_ms=3000):
    return ("{ allow_networks: [ 127.0.0.0/8 ], retry_schedule_ms: [ %s ], retry_jitter_percent: 0, "
            "throttle_wait_ms: 0, timeout_ms: %d, connect_timeout_ms: 1000, max_in_flight: 64, "
            "max_in_flight_per_webhook: %d }" % (", ".join(str(w) for w in schedule), timeout_ms, per_webhook))


# --- the receiver ----------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request (path, webhook-id, body, when it
    arrived and when it was answered, the status it chose) and answers each path as
    self.modes says: a function of the request's record giving (status, seconds to wait
    first); 200 at once for any other path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.modes = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                rec = {"path": self.path, "id": self.headers.get("webhook-id"), "body": body,
                       "start": time.monotonic(), "end": None, "status": None}
                with receiver.lock:
                    receiver.records.append(rec)
                    mode = receiver.modes.get(self.path)
                status, delay = mode(rec) if mode else (200, 0)
                rec["status"] = status
                try:
                    if delay:
                        time.sleep(delay)
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # hookgate died meanwhile: the receiver acted on it all the same
                finally:
                    rec["end"] = time.monotonic()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def snapshot(self):
        with self.lock:
            return [dict(r) for r in self.records]

    def active(self):
        with self.lock:
            return sum(1 for r in self.records if r["end"] is None)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def slow(seconds):
    return lambda rec: (200, seconds)


def failing_until(deadline):
    """500 until time.monotonic() passes deadline, then 200."""
    return lambda rec: (500, 0) if time.monotonic() < deadline else (200, 0)


# --- the API -------------------------------------------------------------------------------------


def call(server, method, path, body=None, headers=None):
    h = {"authorization": ss.TOKEN}
    if body is not None:
        h["content-type"] = "application/json"
        body = json.dumps(body).encode()
    h.update(headers or {})
    status, hdrs, data = ss.request(server.port, method, path, body, h)
    return status, hdrs, (json.loads(data) if data and ss.is_json_content(hdrs) else data)


def create_webhook(server, url, secret="s3cret"):
    status, _, w = call(server, "POST", "/api/webhooks", {"ecosystemId": ss.ECO, "url": url, "secret": secret})
    assert status == 201, (status, w)
    return w["id"]


def items_of(i):
    return [{"type": "Test", "n": i, "text": "event %d" % i, "nested": {"list": [i, "x", True, None]}}]


def body_of(i):
    """The bytes every delivery of event i must carry."""
    return json.dumps({"items": items_of(i)}, separators=(",", ":")).encode()


def publish(server, i, n_webhooks, key=None):
    status, hdrs, ans = call(server, "POST", "/api/events", {"ecosystemId": ss.ECO, "items": items_of(i)},
                             {"idempotency-key": key} if key else None)
    assert status == 202, (status, ans)
    assert ans["webhooks"] == n_webhooks, ans
    return ans["id"], hdrs


def event(server, event_id):
    status, _, ev = call(server, "GET", "/api/events/" + event_id)
    assert status == 200, (status, ev)
    return ev


def all_attempts(server, webhook_id):
    """Every attempt of the webhook, newest first, page by page."""
    out, before = [], None
    while True:
        path = "/api/webhooks/%s/attempts?limit=7" % webhook_id + ("&before=%s" % before if before else "")
        status, _, page = call(server, "GET", path)
        assert status == 200, (status, page)
        out += page["items"]
        before = page.get("nextBefore")
        if before is None:
            return out


def wait_for(what, fn, timeout=WAIT):
    """Polls fn until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not within %s s: %s" % (timeout, what))
        time.sleep(0.05)


def states(server, ids):
    return {eid: {d["webhookId"]: d for d in event(server, eid)["deliveries"]} for eid in ids}


def all_delivered(server, ids):
    now = states(server, ids)
    return now if all(d["state"] == "delivered" for ds in now.values() for d in ds.values()) else None


def settled(server, ids):
    now = states(server, ids)
    return now if all(d["state"] != "pending" for ds in now.values() for d in ds.values()) else None


class EventsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = ss.make_tmpdir("events")
        self.store = os.path.join(self.tmp, "data")
        self.rx = Receiver()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.kill()
        self.rx.close()
        ss.remove_tmpdir(self.tmp)

    def start(self, **kw):
        s = ss.Server(BINARY, self.tmp, self.store, **kw)
        self.servers.append(s)
        return s

    # --- a crash, or a stop, while deliveries wait and are in flight --------------------------

    def interrupt_mid_delivery(self, how):
        """K events to three webhooks (slow, failing for a while, quick); `how` ("kill" or
        "term") while deliveries wait and are in flight; a restart on the same directory.
        Returns what the report needs."""
        K = 20
        schedule = [0] + [150] * 24
        cfg = {"delivery_yaml": delivery_yaml(schedule), "fsync": "always"}
        server = self.start(**cfg)
        self.rx.modes["/slow"] = slow(0.25)
        self.rx.modes["/flaky"] = failing_until(time.monotonic() + 2.0)
        hooks = {create_webhook(server, self.rx.url(p)): p for p in ("/slow", "/flaky", "/quick")}
        ids = [publish(server, i, 3)[0] for i in range(K)]
        # some delivered, some waiting, the slow url busy
        wait_for("deliveries in flight at the slow url", lambda: self.rx.active() >= 2)
        before = states(server, ids)
        pending = [(e, w) for e, ds in before.items() for w, d in ds.items() if d["state"] == "pending"]
        delivered = [(e, w) for e, ds in before.items() for w, d in ds.items() if d["state"] == "delivered"]
        self.assertTrue(pending, "the premise: deliveries still waiting")
        stopped_at = time.monotonic()
        if how == "kill":
            server.kill()
        else:
            self.assertEqual(server.stop(), 0, server.log())
        exited_at = time.monotonic()
        # a request the server sent just before it went may not have been read by the receiver
        # yet: every request seen after a moment (and before the restart) is the old server's
        time.sleep(0.3)
        seen = self.rx.snapshot()
        # in flight at the interruption, with a 2xx coming (the receiver acts on it whether or not
        # hookgate lives to read the answer): asked and not answered yet, answered just before
        # it, or asked while the server was going down
        in_flight = {(r["id"], r["path"]) for r in seen
                     if 200 <= r["status"] < 300 and (r["end"] is None or r["end"] >= stopped_at - GRACE)}
        self.assertTrue(any(r["start"] <= stopped_at and (r["end"] is None or r["end"] > stopped_at) for r in seen),
                        "the premise: deliveries in flight at the %s" % how)

        server = self.start(**cfg)
        # what GET said before is still so: delivered stays delivered, attempts never go back
        after = states(server, ids)
        for e, ds in before.items():
            for w, d in ds.items():
                now = after[e][w]
                if d["state"] == "delivered":
                    self.assertEqual(now, d, "event %s to %s after the restart" % (e, w))
                else:
                    self.assertGreaterEqual(now["attempts"], d["attempts"], (e, w, d, now))
        final = wait_for("every delivery delivered after the restart", lambda: all_delivered(server, ids))
        time.sleep(0.3)  # nothing more should come
        self.assertEqual(server.stop(), 0, server.log())

        # every (event, webhook) reached its url at least once, with its body and id; a second
        # time only if it was in flight at the interruption
        paths = set(hooks.values())
        received = {}
        for r in self.rx.snapshot():
            self.assertIn(r["path"], paths)
            self.assertIn(r["id"], ids)
            self.assertEqual(r["body"], body_of(ids.index(r["id"])))
            if 200 <= r["status"] < 300:
                received[(r["id"], r["path"])] = received.get((r["id"], r["path"]), 0) + 1
        missing = [(e, p) for e in ids for p in paths if (e, p) not in received]
        self.assertEqual(missing, [], "never received")
        duplicates = {k: n - 1 for k, n in received.items() if n > 1}
        wrong = sorted(k for k in duplicates if k not in in_flight)
        if wrong:
            lines = []
            for e, p in wrong:
                w = [h for h, hp in hooks.items() if hp == p][0]
                lines.append("%s to %s: GET before the %s %s, after %s; requests (s from the %s: start, end, status):"
                             % (e, p, how, before[e][w], final[e][w], how))
                for r in self.rx.snapshot():
                    if (r["id"], r["path"]) == (e, p):
                        lines.append("  %+.3f %+.3f %s" % (r["start"] - stopped_at, r["end"] - stopped_at, r["status"]))
            self.fail("received twice although not in flight at the %s:\n%s" % (how, "\n".join(lines)))
        for e, ds in final.items():
            for w, d in ds.items():
                self.assertEqual((d["state"], d["lastStatusCode"], d["lastError"]), ("delivered", 200, ""))
        return {"deliveries": K * len(hooks), "delivered before": len(delivered), "waiting before": len(pending),
                "in flight": len(in_flight), "received twice": len(duplicates),
                "requests": len(self.rx.records), "stop took ms": round((exited_at - stopped_at) * 1000)}

    def test_sigkill_mid_delivery(self):
        report = self.interrupt_mid_delivery("kill")
        sys.stderr.write("\nSIGKILL mid-delivery: %s\n" % report)

    def test_sigterm_mid_delivery(self):
        report = self.interrupt_mid_delivery("term")
        sys.stderr.write("\nSIGTERM mid-delivery: %s\n" % report)

    # --- what GET said, exactly, after a kill, a stop, and snapshots ---------------------------

    def settled_world(self, n_events, **cfg):
        """Three webhooks: quick (delivered), always 500 (failed after the schedule), 410
        (failed, disabled); n_events events, one of them with an Idempotency-Key; all settled.
        Returns (server, ids, webhook ids)."""
        server = self.start(**cfg)
        self.rx.modes["/broken"] = lambda rec: (500, 0)
        self.rx.modes["/gone"] = lambda rec: (410, 0)
        hooks = [create_webhook(server, self.rx.url(p)) for p in ("/fine", "/broken", "/gone")]
        ids = [publish(server, 0, 3, key="the-key")[0]]
        wait_for("/gone disabled", lambda: call(server, "GET", "/api/webhooks/" + hooks[2])[2]["disabled"])
        ids += [publish(server, i, 2)[0] for i in range(1, n_events)]
        wait_for("settled", lambda: settled(server, ids))
        return server, ids, hooks

    def picture(self, server, ids, hooks):
        """Everything the API says of the events and webhooks."""
        webhooks = {}
        for w in hooks:
            status, _, body = call(server, "GET", "/api/webhooks/" + w)
            self.assertEqual(status, 200)
            webhooks[w] = body
        return {"events": {e: event(server, e) for e in ids}, "webhooks": webhooks,
                "attempts": {w: all_attempts(server, w) for w in hooks}}

    def check_restarts(self, server, ids, hooks, cfg):
        want = self.picture(server, ids, hooks)
        self.assertTrue(want["webhooks"][hooks[2]]["disabled"])
        self.assertIn("410", want["webhooks"][hooks[2]]["disabledReason"])
        self.assertGreater(len(want["attempts"][hooks[1]]), len(ids), "the premise: failed attempts kept")
        self.assertEqual({d["state"] for e in ids for d in want["events"][e]["deliveries"]}, {"delivered", "failed"})
        for how in ("kill", "term"):
            if how == "kill":
                server.kill()
            else:
                self.assertEqual(server.stop(), 0, server.log())
            server = self.start(**cfg)
            self.assertEqual(self.picture(server, ids, hooks), want, "after a %s" % how)
        # the Idempotency-Key is remembered too
        again, hdrs = publish(server, 0, 3, key="the-key")
        self.assertEqual(again, ids[0])
        self.assertEqual(hdrs.get("idempotent-replayed"), "true")
        # and the server goes on delivering
        new, _ = publish(server, 99, 2)
        wait_for("a new event delivered", lambda: states(server, [new])[new][hooks[0]]["state"] == "delivered")
        return server

    def test_states_survive_kill_and_stop(self):
        cfg = {"delivery_yaml": delivery_yaml([0, 20, 20]), "fsync": "always", "snapshot_after_bytes": 1 << 30}
        server, ids, hooks = self.settled_world(6, **cfg)
        self.check_restarts(server, ids, hooks, cfg)
        self.assertEqual(ss.store_files(self.store, "snapshot"), {}, "no snapshot in this case")

    def test_snapshots(self):
        cfg = {"delivery_yaml": delivery_yaml([0, 20, 20]), "fsync": "always", "snapshot_after_bytes": 4096}
        server, ids, hooks = self.settled_world(40, **cfg)
        # snapshots were taken, and the first journal is gone: the first events come from them
        wait_for("a snapshot", lambda: ss.store_files(self.store, "snapshot"))
        wait_for("journal.1 removed", lambda: 1 not in ss.store_files(self.store, "journal"))
        server = self.check_restarts(server, ids, hooks, cfg)
        self.assertTrue(ss.store_files(self.store, "snapshot"))
        self.assertEqual(server.stop(), 0, server.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
