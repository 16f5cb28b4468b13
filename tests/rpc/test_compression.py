#!/usr/bin/python3
"""gzip on every protocol, with clients nobody here wrote: Debian's python3-grpcio
(compression=grpc.Compression.Gzip) on native gRPC, curl (--compressed, and HTTP/2 for
frames grpcio keeps to itself) and Python's http.client with zlib for gRPC-Web, Connect
and REST.

Checks that compressed requests are read on each protocol; that answers advertise gzip
(grpc-accept-encoding, accept-encoding); that an answer of at least 1 KiB goes compressed
to a client that accepts gzip (and not to one that does not), a small one never; that an
unsupported coding is refused as each protocol says (UNIMPLEMENTED with
grpc-accept-encoding, Connect unimplemented with accept-encoding, REST 415); and that a
gzip bomb (1 GiB of zeros deflated into about 1 MB, under a 1 MiB body limit) is refused
RESOURCE_EXHAUSTED / resource_exhausted / 413 on each protocol, with the server's peak
resident memory (VmHWM) growing by far less than the bomb's size.

Run from the repository root:  /usr/bin/python3 tests/rpc/test_compression.py build/hookgate
"""
import base64
import gzip
import json
import os
import subprocess
import sys
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpc_support as rs  # noqa: E402

import grpc  # noqa: E402

BINARY = None
TMP = None
pb = None
SERVER = None
BOMB = None            # gzip of BOMB_BYTES zeros

LIMIT = 1 << 20        # max_body_bytes of this server: the bomb's compressed bytes fit under it
BOMB_BYTES = 1 << 30   # what the bomb inflates to: a thousand times the limit
RSS_GROWTH_MAX = 128 << 20  # the peak RSS may grow by this much over all the bombs: an eighth of one
ANSWER_MIN = 1024      # GZIP_ANSWER_MIN_BYTES: answers this long go compressed
METHOD_PATH = "/%s/%%s" % rs.SERVICE
CONNECT_VERSIONS = ("1.1", "2")


def setUpModule():
    global BINARY, TMP, pb, SERVER, BOMB
    TMP = rs.make_tmpdir()
    pb = rs.generate_schema(TMP)
    limits = dict(rs.LIMITS, max_body_bytes=LIMIT)
    SERVER = rs.Server(BINARY, TMP, grpc=[None], limits=limits)
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    BOMB = b"".join(c.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))) + c.flush()
    assert len(BOMB) < LIMIT, len(BOMB)


def tearDownModule():
    rs.stop_and_clean(SERVER, TMP)


def vm_hwm():
    """The server's peak resident memory so far, in bytes."""
    with open("/proc/%d/status" % SERVER.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def grpc_call(channel, name, request, response_class, token=rs.TOKEN):
    call = channel.unary_unary(METHOD_PATH % name, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_class.FromString)
    return call(request, metadata=[("authorization", token)], timeout=rs.CALL_TIMEOUT)


def big_description(i):
    return ("webhook %d of a list long enough to be compressed; " % i) * 8


class TestCompression(unittest.TestCase):
    ECO = rs.ECO_BIG

    @classmethod
    def setUpClass(cls):
        # a list that encodes to well over 1 KiB, and a get that is far under it
        channel = grpc.insecure_channel("127.0.0.1:%d" % SERVER.grpc_ports[0])
        cls.ids = []
        for i in range(12):
            w = grpc_call(channel, "CreateWebhook",
                          pb.CreateWebhookRequest(ecosystem_id=cls.ECO, url="https://example.com/z/%d" % i,
                                                  description=big_description(i)), pb.Webhook)
            cls.ids.append(w.id)
        channel.close()
        cls.list_request = pb.ListWebhooksRequest(ecosystem_id=cls.ECO, limit=100)

    def tearDown(self):
        self.assertTrue(SERVER.alive(), "hookgate died; log:\n" + SERVER.log()[-4000:])

    # --- native gRPC ---------------------------------------------------------------------

    def test_grpcio_gzip(self):
        # grpcio compresses every request and accepts gzip answers: create, get and list work
        channel = grpc.insecure_channel("127.0.0.1:%d" % SERVER.grpc_ports[0], compression=grpc.Compression.Gzip)
        try:
            w = grpc_call(channel, "CreateWebhook",
                          pb.CreateWebhookRequest(ecosystem_id=rs.ECO_LIST, url="https://example.com/gzip",
                                                  description="sent compressed"), pb.Webhook)
            got = grpc_call(channel, "GetWebhook", pb.GetWebhookRequest(id=w.id), pb.Webhook)
            self.assertEqual((got.url, got.description), ("https://example.com/gzip", "sent compressed"))
            page = grpc_call(channel, "ListWebhooks", self.list_request, pb.ListWebhooksResponse)
            self.assertEqual([x.id for x in page.items], self.ids)
            # a call's own compression too, and errors come back readable
            with self.assertRaises(grpc.RpcError) as cm:
                channel.unary_unary(METHOD_PATH % "GetWebhook", request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=pb.Webhook.FromString)(
                    pb.GetWebhookRequest(id="0" * 24), metadata=[("authorization", rs.TOKEN)],
                    timeout=rs.CALL_TIMEOUT, compression=grpc.Compression.Gzip)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        finally:
            channel.close()

    def raw_grpc(self, body, **headers):
        fields = {"content-type": "application/grpc", "te": "trailers", "authorization": rs.TOKEN}
        fields.update({k.replace("_", "-"): v for k, v in headers.items()})
        return rs.h2(TMP, SERVER.grpc_ports[0], "POST", METHOD_PATH % "ListWebhooks", fields, body)

    def test_grpc_answer_compressed_when_accepted_and_large(self):
        request = self.list_request.SerializeToString()
        status, fields, body = self.raw_grpc(rs.frame(request), grpc_accept_encoding="identity,deflate,gzip")
        self.assertEqual((status, fields.get("grpc-status")), (200, "0"), fields)
        self.assertEqual(fields.get("grpc-encoding"), "gzip")
        self.assertEqual(fields.get("grpc-accept-encoding"), "gzip")
        self.assertEqual(body[0], 1)  # the compressed flag
        plain = gzip.decompress(body[5:])
        self.assertGreaterEqual(len(plain), ANSWER_MIN)
        self.assertEqual([w.id for w in pb.ListWebhooksResponse.FromString(plain).items], self.ids)
        # the same list to a client that does not accept gzip: as it is
        status, fields, body = self.raw_grpc(rs.frame(request))
        self.assertNotIn("grpc-encoding", fields)
        self.assertEqual(fields.get("grpc-accept-encoding"), "gzip")
        self.assertEqual((body[0], body[5:]), (0, plain))
        # a small answer (an empty list) goes as it is to a client that accepts gzip
        small = pb.ListWebhooksRequest(ecosystem_id=rs.ECO_EMPTY).SerializeToString()
        status, fields, body = self.raw_grpc(rs.frame(small), grpc_accept_encoding="gzip")
        self.assertEqual(fields.get("grpc-status"), "0", fields)
        self.assertNotIn("grpc-encoding", fields)
        self.assertEqual(body[0], 0)

    def test_grpc_compressed_request_raw(self):
        request = gzip.compress(self.list_request.SerializeToString())
        status, fields, body = self.raw_grpc(rs.frame(request, flag=1), grpc_encoding="gzip")
        self.assertEqual(fields.get("grpc-status"), "0", fields)
        self.assertEqual([w.id for w in pb.ListWebhooksResponse.FromString(body[5:]).items], self.ids)

    def test_grpc_unsupported_encoding(self):
        request = self.list_request.SerializeToString()
        for encoding in ("deflate", "br", "snappy"):
            status, fields, body = self.raw_grpc(rs.frame(request, flag=1), grpc_encoding=encoding)
            self.assertEqual(fields.get("grpc-status"), str(grpc.StatusCode.UNIMPLEMENTED.value[0]), fields)
            self.assertEqual(fields.get("grpc-accept-encoding"), "gzip")
            self.assertIn("grpc-encoding is not supported", rs.percent_decode(fields.get("grpc-message", "")))
        # gzip named, but the frame holds no gzip stream
        status, fields, _ = self.raw_grpc(rs.frame(request, flag=1), grpc_encoding="gzip")
        self.assertEqual(fields.get("grpc-status"), str(grpc.StatusCode.INVALID_ARGUMENT.value[0]), fields)

    # --- gRPC-Web, Connect, REST on the h2o listener ----------------------------------------

    def grpc_web(self, body, **headers):
        fields = {"content-type": "application/grpc-web+proto", "authorization": rs.TOKEN}
        fields.update({k.replace("_", "-"): v for k, v in headers.items()})
        return rs.http1(SERVER.port, "POST", METHOD_PATH % "ListWebhooks", fields, body)

    def test_grpc_web(self):
        request = self.list_request.SerializeToString()
        status, fields, body = self.grpc_web(rs.frame(gzip.compress(request), flag=1), grpc_encoding="gzip",
                                             grpc_accept_encoding="gzip")
        self.assertEqual(status, 200)
        self.assertEqual(fields.get("grpc-accept-encoding"), "gzip")
        self.assertEqual(fields.get("grpc-encoding"), "gzip")
        self.assertNotIn("content-encoding", fields)  # the frame is compressed, not the HTTP body
        self.assertEqual(body[0], 1)
        n = int.from_bytes(body[1:5], "big")
        plain = gzip.decompress(body[5:5 + n])
        self.assertEqual([w.id for w in pb.ListWebhooksResponse.FromString(plain).items], self.ids)
        _, trailers = rs.grpc_web_parse(body[5 + n:])  # the trailer frame: never compressed
        self.assertEqual(trailers.get("grpc-status"), "0")
        # not accepted: as it is
        status, fields, body = self.grpc_web(rs.frame(request))
        self.assertNotIn("grpc-encoding", fields)
        messages, trailers = rs.grpc_web_parse(body)
        self.assertEqual(messages, [plain])
        # unsupported
        status, fields, body = self.grpc_web(rs.frame(request, flag=1), grpc_encoding="br")
        self.assertEqual(fields.get("grpc-accept-encoding"), "gzip")
        self.assertEqual(rs.grpc_web_parse(body)[1].get("grpc-status"), "12")

    def connect(self, version, body, content_type="application/json", path="ListWebhooks", **headers):
        fields = {"content-type": content_type, "authorization": rs.TOKEN}
        fields.update({k.replace("_", "-"): v for k, v in headers.items()})
        if version == "1.1":
            return rs.http1(SERVER.port, "POST", METHOD_PATH % path, fields, body)
        return rs.h2(TMP, SERVER.port, "POST", METHOD_PATH % path, fields, body)

    def test_connect(self):
        request = json.dumps({"ecosystemId": self.ECO, "limit": 100}).encode()
        for version in CONNECT_VERSIONS:
            status, fields, body = self.connect(version, gzip.compress(request), content_encoding="gzip",
                                                accept_encoding="gzip")
            self.assertEqual(status, 200, body)
            self.assertEqual(fields.get("content-encoding"), "gzip")
            self.assertEqual(fields.get("accept-encoding"), "gzip")
            self.assertIn("accept-encoding", fields.get("vary", "").lower())
            answer = json.loads(gzip.decompress(body))
            self.assertEqual([w["id"] for w in answer["items"]], self.ids)
            # not accepted: as it is; q=0 is a refusal
            for accept in (None, "identity", "gzip;q=0"):
                extra = {"accept_encoding": accept} if accept else {}
                status, fields, body = self.connect(version, request, **extra)
                self.assertNotIn("content-encoding", fields, accept)
                self.assertEqual(json.loads(body), answer)
            # a small answer goes as it is
            small = json.dumps({"ecosystemId": rs.ECO_EMPTY}).encode()
            status, fields, body = self.connect(version, small, accept_encoding="gzip")
            self.assertEqual((status, fields.get("content-encoding")), (200, None))
            self.assertEqual(json.loads(body), {"items": []})
            # unsupported: unimplemented (501), accept-encoding naming gzip
            status, fields, body = self.connect(version, request, content_encoding="br")
            self.assertEqual((status, json.loads(body)["code"]), (501, "unimplemented"))
            self.assertEqual(fields.get("accept-encoding"), "gzip")

    def test_connect_get(self):
        # Connect GET: compression=gzip on the message, answered compressed as a POST is
        message = base64.urlsafe_b64encode(gzip.compress(self.list_request.SerializeToString())).decode().rstrip("=")
        query = "connect=v1&encoding=proto&base64=1&compression=gzip&message=" + message
        status, fields, body = rs.http1(SERVER.port, "GET", METHOD_PATH % "ListWebhooks" + "?" + query,
                                        {"authorization": rs.TOKEN, "accept-encoding": "gzip"})
        self.assertEqual(status, 200, body)
        self.assertEqual(fields.get("content-encoding"), "gzip")
        self.assertIn("accept-encoding", fields.get("vary", "").lower())
        self.assertEqual([w.id for w in pb.ListWebhooksResponse.FromString(gzip.decompress(body)).items], self.ids)

    def test_rest_answers_with_curl_compressed(self):
        url = "http://127.0.0.1:%d/api/webhooks?ecosystemId=%s" % (SERVER.port, self.ECO)
        for http in ("--http1.1", "--http2-prior-knowledge"):
            head = os.path.join(TMP, "rest.head")
            out = subprocess.run(["curl", "-sS", http, "--compressed", "-D", head, "-H", "authorization: " + rs.TOKEN,
                                  url], check=True, capture_output=True).stdout
            with open(head, "rb") as f:
                headers = f.read().decode("latin-1").lower()
            self.assertIn("content-encoding: gzip", headers)
            self.assertIn("vary: accept-encoding", headers)
            self.assertEqual([w["id"] for w in json.loads(out)["items"]], self.ids)  # curl inflated it
        # no accept-encoding: as it is; a small answer: as it is
        status, fields, body = rs.http1(SERVER.port, "GET", "/api/webhooks?ecosystemId=" + self.ECO,
                                        {"authorization": rs.TOKEN})
        self.assertEqual((status, fields.get("content-encoding")), (200, None))
        self.assertEqual([w["id"] for w in json.loads(body)["items"]], self.ids)
        status, fields, body = rs.http1(SERVER.port, "GET", "/api/webhooks/" + self.ids[0],
                                        {"authorization": rs.TOKEN, "accept-encoding": "gzip"})
        self.assertLess(len(body), ANSWER_MIN)
        self.assertEqual((status, fields.get("content-encoding")), (200, None))

    def test_rest_gzip_body(self):
        body = json.dumps({"ecosystemId": rs.ECO_LIST, "url": "https://example.com/rest-gzip"}).encode()
        status, fields, answer = rs.http1(SERVER.port, "POST", "/api/webhooks",
                                          {"authorization": rs.TOKEN, "content-type": "application/json",
                                           "content-encoding": "gzip"}, gzip.compress(body))
        self.assertEqual(status, 201, answer)
        self.assertEqual(json.loads(answer)["url"], "https://example.com/rest-gzip")
        # a coding the server cannot read: 415, accept-encoding naming what it can
        status, fields, answer = rs.http1(SERVER.port, "POST", "/api/webhooks",
                                          {"authorization": rs.TOKEN, "content-type": "application/json",
                                           "content-encoding": "br"}, body)
        self.assertEqual(status, 415, answer)
        self.assertEqual(fields.get("accept-encoding"), "gzip")
        # gzip that is not gzip: a body that cannot be read
        status, _, answer = rs.http1(SERVER.port, "POST", "/api/webhooks",
                                     {"authorization": rs.TOKEN, "content-type": "application/json",
                                      "content-encoding": "gzip"}, body)
        self.assertEqual(status, 400, answer)
        self.assertEqual(json.loads(answer)["errorType"], "InvalidBody")

    # --- bombs -----------------------------------------------------------------------------

    def test_bombs(self):
        before = vm_hwm()
        create = "/api/webhooks"
        limit_msg = "The message exceeds the limit of %d bytes once decompressed." % LIMIT
        # native gRPC
        status, fields, _ = self.raw_grpc(rs.frame(BOMB, flag=1), grpc_encoding="gzip")
        self.assertEqual(fields.get("grpc-status"), str(grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]), fields)
        self.assertEqual(rs.percent_decode(fields.get("grpc-message", "")), limit_msg)
        # gRPC-Web, binary and text
        status, fields, body = self.grpc_web(rs.frame(BOMB, flag=1), grpc_encoding="gzip")
        self.assertEqual(rs.grpc_web_parse(body)[1].get("grpc-status"), "8")
        status, fields, body = self.grpc_web(base64.b64encode(rs.frame(BOMB, flag=1)), grpc_encoding="gzip",
                                             content_type="application/grpc-web-text+proto")
        self.assertEqual(rs.grpc_web_parse(base64.b64decode(body))[1].get("grpc-status"), "8")
        # Connect POST, both HTTP versions
        for version in CONNECT_VERSIONS:
            status, fields, body = self.connect(version, BOMB, content_type="application/proto",
                                                content_encoding="gzip")
            self.assertEqual((status, json.loads(body)["code"]), (429, "resource_exhausted"), body)
        # Connect GET: a smaller bomb, the query being held to the limit too
        small = gzip.compress(bytes(64 << 20))
        query = "connect=v1&encoding=proto&base64=1&compression=gzip&message=" + \
            base64.urlsafe_b64encode(small).decode().rstrip("=")
        status, _, body = rs.http1(SERVER.port, "GET", METHOD_PATH % "ListWebhooks" + "?" + query,
                                   {"authorization": rs.TOKEN})
        self.assertEqual((status, json.loads(body)["code"]), (429, "resource_exhausted"), body)
        # REST: 413, as for a body too large
        status, _, body = rs.http1(SERVER.port, "POST", create, {"authorization": rs.TOKEN,
                                                                   "content-type": "application/json",
                                                                   "content-encoding": "gzip"}, BOMB)
        self.assertEqual((status, body.decode()), (413, limit_msg))  # Droplit's 413: its reason, as text
        growth = vm_hwm() - before
        print("peak RSS growth over the bombs: %d KiB" % (growth // 1024), file=sys.stderr)
        self.assertLess(growth, RSS_GROWTH_MAX, "peak RSS grew by %d bytes over the bombs" % growth)


if __name__ == "__main__":
    BINARY = rs.binary_from_argv()
    unittest.main(verbosity=2)
