#!/usr/bin/python3
"""The durable store on a full disk (ENOSPC): store.path on a 256 KiB tmpfs that a filler
file shares. Creates go on until the disk refuses them; then

- a refused create answers 503 with a plain-text reason (on Connect: code unavailable;
  gRPC-Web and gRPC: status 14 UNAVAILABLE), and is not stored;
- reads (GET by id, list) keep working and show exactly the acknowledged (201) creates;
- once the filler is deleted, the next create succeeds, without a restart;
- after a restart exactly the acknowledged webhooks are there, byte for byte.

One test fills the disk from one client with same-sized records and no snapshots, so that
once a record does not fit none does; the other from several clients with small
snapshot_after_bytes, so that rotations meet the full disk too (on 256 KiB no snapshot
has room: they are skipped, see SnapshotRoom).

SnapshotRoom: on an 8 MiB tmpfs, a store whose snapshot would not fit in the free space.
The server must not start that snapshot (which would fill the disk for a moment and get
the creates meanwhile refused): it logs once that there is no room, every create keeps
getting 201, and once there is room again the snapshot is written by itself.

The tests run as root (mount -t tmpfs); without that they fail, they do not skip.
Run from the repository root:  /usr/bin/python3 tests/store/test_disk.py build/hookgate
"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_support as ss  # noqa: E402

BINARY = None
TMPFS_SIZE = "256k"
FILLER_BYTES = 128 * 1024     # of the tmpfs, held by a file the test deletes to make room
MAX_CREATES = 20000           # a disk that never fills fails the test instead of looping
REFUSALS_TO_STOP = 5          # consecutive 503s after which a client of the concurrent fill stops
FILL_THREADS = 4
DESCRIPTION_BYTES = 900       # same-sized records, so that once one does not fit none does
SERVICE = "/droplit.webhooks.v1.WebhookService/"


def pb_string(field, value):
    """A proto3 string field, encoded by hand (the schema's CreateWebhookRequest has only
    strings): tag, varint length, bytes."""
    data = value.encode()
    n, length = len(data), b""
    while True:
        byte = n & 0x7F
        n >>= 7
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return bytes([field << 3 | 2]) + length + data


def pb_create_request(description):
    return (pb_string(1, ss.ECO) + pb_string(2, ss.URL) + pb_string(3, "s3cret")
            + pb_string(4, description))


def grpc_frame(payload):
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def grpc_web_trailers(body):
    """The trailer frame of a gRPC-Web response body, as a dict."""
    at = 0
    while at + 5 <= len(body):
        flag, n = body[at], int.from_bytes(body[at + 1:at + 5], "big")
        payload = body[at + 5:at + 5 + n]
        at += 5 + n
        if flag & 0x80:
            out = {}
            for line in payload.decode("latin-1").split("\r\n"):
                if ":" in line:
                    k, v = line.split(":", 1)
                    out[k.strip().lower()] = v.strip()
            return out
    return None


class DiskCase(unittest.TestCase):
    tmpfs_size = TMPFS_SIZE
    filler_bytes = FILLER_BYTES

    def setUp(self):
        self.tmp = ss.make_tmpdir("disk")
        self.mnt = os.path.join(self.tmp, "tmpfs")
        os.mkdir(self.mnt)
        self.servers = []
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % self.tmpfs_size, "tmpfs", self.mnt],
                           capture_output=True, text=True)
        self.mounted = p.returncode == 0
        if not self.mounted:
            self.fail("cannot mount a %s tmpfs on %s (exit %d: %s). This test fills a small disk and must run "
                      "as root (or with CAP_SYS_ADMIN); it does not skip." % (self.tmpfs_size, self.mnt, p.returncode,
                                                                            p.stderr.strip()))
        self.store_path = os.path.join(self.mnt, "store")
        self.filler = os.path.join(self.mnt, "filler")
        with open(self.filler, "wb") as f:
            f.write(b"\xa5" * self.filler_bytes)
            f.flush()
            os.fsync(f.fileno())

    def tearDown(self):
        for s in self.servers:
            s.kill()
        if self.mounted:
            if subprocess.run(["umount", self.mnt]).returncode != 0:
                subprocess.run(["umount", "-l", self.mnt])
        ss.remove_tmpdir(self.tmp)

    def start(self, **store):
        s = ss.Server(BINARY, self.tmp, self.store_path, grpc=True, **store)
        self.servers.append(s)
        return s

    def stop(self, s):
        rc = s.stop()
        self.assertEqual(rc, 0, "exit code after SIGTERM; log:\n%s" % s.log()[-3000:])

    def assert_refused(self, status, headers, body, what):
        """A create the full disk refused: 503, a plain-text reason, nothing else."""
        self.assertEqual(status, 503, "%s: %r" % (what, body[:300]))
        self.assertEqual(headers.get("content-type", "").split(";")[0].strip(), "text/plain",
                         "%s: content-type %r" % (what, headers.get("content-type")))
        text = body.decode("utf-8")
        self.assertTrue(text.strip(), "%s: an empty reason" % what)
        self.assertNotIn("{", text, "%s: %r" % (what, text))

    def assert_reads(self, s, acked, ordered, what):
        """Reads show exactly acked ({id: 201 body}; ordered: the same as a list, in creation
        order, or None when concurrent creates leave the order to the server)."""
        status, body, items = ss.list_items(s.port)
        self.assertEqual(status, 200, "%s: list: %r" % (what, body[:300]))
        self.assertIsNotNone(items, body[:300])
        ids = [it["id"] for it in items]
        self.assertEqual(len(ids), len(set(ids)), "%s: duplicate ids in the list" % what)
        if ordered is not None:
            self.assertEqual(ids, ordered, "%s: list order" % what)
        lost = [acked[i] for i in acked if i not in set(ids)]
        extra = [it for it in items if it["id"] not in acked]
        self.assertEqual(lost, [], "%s: %d acknowledged creates are lost" % (what, len(lost)))
        self.assertEqual(extra, [], "%s: %d webhooks nobody got a 201 for" % (what, len(extra)))
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        try:
            for item in items:
                self.assertEqual(item, json.loads(acked[item["id"]]), "%s: list item differs from its 201" % what)
                st, _, got = ss.get(s.port, item["id"], conn=conn)
                self.assertEqual((st, got), (200, acked[item["id"]]), "%s: GET %s" % (what, item["id"]))
        finally:
            conn.close()

    def free_space(self):
        os.unlink(self.filler)


class FullDisk(DiskCase):

    def test_full_disk_one_client_every_protocol(self):
        s = self.start(snapshot_after_bytes=1 << 30)
        acked, order, refused = {}, [], []
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)

        def desc(n):
            return ("full %06d " % n).ljust(DESCRIPTION_BYTES, "z")

        n = 0
        while not refused:
            self.assertLess(n, MAX_CREATES, "%d creates and the %s disk never refused one" % (n, TMPFS_SIZE))
            status, headers, body = ss.create(s.port, desc(n), conn=conn)
            if status == 201:
                acked[json.loads(body)["id"]] = body
                order.append(json.loads(body)["id"])
            else:
                self.assert_refused(status, headers, body, "create %d, the first the disk refused" % n)
                refused.append(desc(n))
            n += 1
        self.assertGreater(len(acked), 20, "the disk refused the first creates: the test's sizes are wrong")
        # a record that did not fit is followed by none that fit: every further create is refused
        for k in range(10):
            status, headers, body = ss.create(s.port, desc(n), conn=conn)
            self.assert_refused(status, headers, body, "create %d of a full disk" % n)
            n += 1
        conn.close()

        # the same refusal on the other protocols, for a record of the same size
        c_status, c_headers, c_body = ss.request(
            s.port, "POST", SERVICE + "CreateWebhook", json.dumps(
                {"ecosystemId": ss.ECO, "url": ss.URL, "secret": "s3cret", "description": desc(n)}).encode(),
            {"authorization": ss.TOKEN, "content-type": "application/json"})
        self.assertEqual(c_status, 503, "Connect create on a full disk: %r" % c_body[:300])
        self.assertEqual(json.loads(c_body).get("code"), "unavailable", c_body[:300])
        w_status, w_headers, w_body = ss.request(
            s.port, "POST", SERVICE + "CreateWebhook", grpc_frame(pb_create_request(desc(n + 1))),
            {"authorization": ss.TOKEN, "content-type": "application/grpc-web+proto"})
        trailers = grpc_web_trailers(w_body) or {}
        if "grpc-status" in w_headers:  # a trailers-only answer carries them as headers
            trailers = {"grpc-status": w_headers["grpc-status"]}
        self.assertEqual((w_status, trailers.get("grpc-status")), (200, "14"),
                         "gRPC-Web create on a full disk: %r %r" % (w_headers, w_body[:300]))
        self.assertEqual(self.native_grpc_status(s, desc(n + 2)), "14", "native gRPC create on a full disk")
        n += 3

        # a create with an Idempotency-Key that the full disk refused leaves the key free
        keyed = {"authorization": ss.TOKEN, "content-type": "application/json", "idempotency-key": "retry-me"}
        keyed_body = ss.create_body(desc(n))
        k_status, k_headers, k_body = ss.request(s.port, "POST", "/api/webhooks", keyed_body, keyed)
        self.assert_refused(k_status, k_headers, k_body, "a keyed create on a full disk")
        n += 1

        self.assert_reads(s, acked, order, "while the disk is full")
        self.assertIn("creates are refused (503)", s.log(), "no log line tells the disk refused writes")
        r_status, _, r_body = ss.request(s.port, "GET", "/readyz")
        self.assertEqual(r_status, 503, "/readyz while the journal cannot be written: %r" % r_body[:300])
        self.assertEqual(ss.request(s.port, "GET", "/healthz")[0], 200, "/healthz is liveness: still 200")

        self.free_space()
        status, headers, body = ss.create(s.port, desc(n))
        self.assertEqual(status, 201, "the first create after space was freed: %r" % body[:300])
        acked[json.loads(body)["id"]] = body
        order.append(json.loads(body)["id"])
        # the refused key, sent again with space back: a new webhook (201), not 409 forever
        k_status, k_headers, k_body = ss.request(s.port, "POST", "/api/webhooks", keyed_body, keyed)
        self.assertEqual(k_status, 201, "the refused Idempotency-Key retried after space was freed: %r" % k_body[:300])
        self.assertNotIn("idempotent-replayed", k_headers)
        acked[json.loads(k_body)["id"]] = k_body
        order.append(json.loads(k_body)["id"])
        r_status, r_headers, r_body = ss.request(s.port, "POST", "/api/webhooks", keyed_body, keyed)
        self.assertEqual((r_status, r_headers.get("idempotent-replayed"), r_body), (201, "true", k_body))
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        for k in range(1, 30):
            status, headers, body = ss.create(s.port, desc(n + k), conn=conn)
            self.assertEqual(status, 201, "create %d after space was freed: %r" % (k, body[:300]))
            acked[json.loads(body)["id"]] = body
            order.append(json.loads(body)["id"])
        conn.close()
        self.assertIn("writable again", s.log(), "no log line tells writes resumed")
        self.assertEqual(ss.request(s.port, "GET", "/readyz")[0], 200, "/readyz once writes resumed")
        self.assert_reads(s, acked, order, "after space was freed")
        self.stop(s)

        s = self.start(snapshot_after_bytes=1 << 30)
        self.assertEqual(s.loaded(), len(acked))
        self.assert_reads(s, acked, order, "after a restart")
        self.stop(s)

    def native_grpc_status(self, s, description):
        """grpc-status of a native gRPC create (HTTP/2 through the curl tool)."""
        req, head = os.path.join(self.tmp, "grpc.req"), os.path.join(self.tmp, "grpc.head")
        with open(req, "wb") as f:
            f.write(grpc_frame(pb_create_request(description)))
        p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "20", "-o", "/dev/null",
                            "-D", head, "-H", "content-type: application/grpc", "-H", "te: trailers",
                            "-H", "authorization: " + ss.TOKEN, "--data-binary", "@" + req,
                            "http://127.0.0.1:%d%sCreateWebhook" % (s.grpc_port, SERVICE)],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, "curl: %s" % p.stderr)
        with open(head, "rb") as f:
            fields = [line.split(":", 1) for line in f.read().decode("latin-1").split("\r\n") if ":" in line]
        statuses = [v.strip() for k, v in fields if k.strip().lower() == "grpc-status"]
        self.assertEqual(len(statuses), 1, "grpc-status fields: %r" % fields)
        return statuses[0]

    def test_full_disk_under_concurrent_load_with_snapshots(self):
        s = self.start(snapshot_after_bytes=16384)
        lock = threading.Lock()
        acked, errors, refusals = {}, [], [0]

        def fill(t):
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
            in_a_row = 0
            try:
                for i in range(MAX_CREATES // FILL_THREADS):
                    d = ("fill t%d n%05d " % (t, i)).ljust(300 + 37 * t, "y")
                    status, headers, body = ss.create(s.port, d, conn=conn)
                    if status == 201:
                        obj = json.loads(body)
                        problem = ss.webhook_problem(obj, d)
                        with lock:
                            if problem:
                                errors.append("create %r: %s" % (d, problem))
                            acked[obj["id"]] = body
                        in_a_row = 0
                        continue
                    try:
                        self.assert_refused(status, headers, body, "create %r" % d)
                    except AssertionError as e:
                        with lock:
                            errors.append(str(e))
                        return
                    with lock:
                        refusals[0] += 1
                    in_a_row += 1
                    if in_a_row == REFUSALS_TO_STOP:
                        return
                with lock:
                    errors.append("thread %d: %d creates and the disk never refused %d in a row"
                                  % (t, MAX_CREATES // FILL_THREADS, REFUSALS_TO_STOP))
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append("thread %d: %r" % (t, e))
            finally:
                conn.close()

        threads = [threading.Thread(target=fill, args=(t,)) for t in range(FILL_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertIsNone(s.proc.poll(), "the server died (status %s); log tail:\n%s"
                          % (s.proc.returncode, s.log()[-3000:]))
        self.assertEqual(errors, [], "log tail:\n%s" % s.log()[-3000:])
        self.assertGreater(len(acked), 20)
        print("\nconcurrent fill: %d created, %d refused; %d snapshots written, %d not"
              % (len(acked), refusals[0], s.log().count("store: wrote snapshot."),
                 s.log().count("could not write snapshot.")), flush=True)
        self.assert_reads(s, acked, None, "while the disk is full")

        self.free_space()
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)
        for k in range(60):  # the first write with room also rotates the journal that outgrew 16 KiB
            d = "after the fill %03d" % k
            status, headers, body = ss.create(s.port, d, conn=conn)
            self.assertEqual(status, 201, "create %d after space was freed: %r" % (k, body[:300]))
            acked[json.loads(body)["id"]] = body
        conn.close()
        self.assert_reads(s, acked, None, "after space was freed")
        self.stop(s)
        s = self.start(snapshot_after_bytes=16384)
        self.assertEqual(s.loaded(), len(acked))
        self.assert_reads(s, acked, None, "after a restart")
        self.stop(s)


MIB = 1 << 20


class SnapshotRoom(DiskCase):
    """12 MiB of disk, 8.5 MiB of it held by the filler, a snapshot asked for once the journal
    passes 2 MiB: the snapshot needs 2 MiB plus the server's 2 MiB margin, and 1.5 MiB at
    most is free (less the 0.5 to 1 MiB the journal keeps reserved ahead), while the
    journal itself still has about 1 MiB to grow. Without the filler the snapshot fits even
    after the journal grew by 2 MiB more."""
    tmpfs_size = "12m"
    filler_bytes = 17 * MIB // 2
    SNAPSHOT_AFTER = 2 * MIB
    AFTER_REFUSAL = 300          # creates that must all succeed while the snapshot has no room
    ROOM_TIMEOUT = 90.0          # seconds for the snapshot to be written once there is room

    def test_snapshot_without_room_is_put_off(self):
        s = self.start(snapshot_after_bytes=self.SNAPSHOT_AFTER)
        acked, refused = {}, []
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=ss.CALL_TIMEOUT)

        def create(what):
            d = ("%s " % what).ljust(DESCRIPTION_BYTES, "r")
            status, headers, body = ss.create(s.port, d, conn=conn)
            if status == 201:
                acked[json.loads(body)["id"]] = body
            else:
                refused.append("%s: %d %r" % (what, status, body[:200]))

        # until the journal passes 2 MiB and the server decides about the snapshot
        n = 0
        decided = ("no room for a snapshot", "wrote snapshot.", "could not write snapshot")
        while not any(line in s.log() for line in decided):
            self.assertLess(n, 4000, "4000 creates and the journal never asked for a snapshot; log:\n%s"
                            % s.log()[-2000:])
            create("before %05d" % n)
            n += 1
            self.assertEqual(refused, [], "a create refused before the snapshot (%d creates); log:\n%s"
                             % (n, "\n".join(line for line in s.log().splitlines() if "store:" in line)))
        # what the disk held then, for the failure message
        st = os.statvfs(self.mnt)
        state = "%d creates, %d bytes free on the tmpfs; log tail:\n%s" % (n, st.f_bavail * st.f_frsize,
                                                                          s.log()[-2000:])
        for k in range(self.AFTER_REFUSAL):
            create("meanwhile %05d" % k)
        self.assertEqual(refused, [], "creates refused while a snapshot had no room (%s)" % state)
        failed = [line for line in s.log().splitlines() if "could not write snapshot" in line]
        self.assertEqual(failed, [], "a snapshot was started without room and failed (it filled the disk for a "
                         "moment): %s" % state)
        self.assertEqual(s.log().count("no room for a snapshot"), 1,
                         "the lack of room is logged once, not per attempt: %s" % state)

        # room again: the snapshot is tried again by itself (after its back-off) and written
        self.free_space()
        deadline = time.monotonic() + self.ROOM_TIMEOUT
        k = 0
        while "wrote snapshot." not in s.log():
            self.assertLess(time.monotonic(), deadline, "no snapshot %.0f s after room was made; log tail:\n%s"
                            % (self.ROOM_TIMEOUT, s.log()[-2000:]))
            create("after %05d" % k)  # a retry happens after a write, once its wait is over
            k += 1
            self.assertEqual(refused, [], "creates refused once there was room; log:\n%s"
                             % "\n".join(line for line in s.log().splitlines() if "store:" in line))
        conn.close()
        self.assertEqual(refused, [], "creates refused once there was room")
        self.assertIn("room for a snapshot again", s.log())
        self.assert_reads(s, acked, None, "after the snapshot")
        self.stop(s)
        self.assertEqual(len(ss.store_files(self.store_path, "snapshot")), 1, os.listdir(self.store_path))
        s = self.start(snapshot_after_bytes=self.SNAPSHOT_AFTER)
        self.assertEqual(s.loaded(), len(acked))
        self.assert_reads(s, acked, None, "after a restart")
        self.stop(s)


def main():
    global BINARY
    BINARY = ss.binary_from_argv()
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[1:], exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
