#!/usr/bin/python3
"""Bad input to the protobuf protocols of the h2o listener — binary REST, Connect (POST and
GET), gRPC-Web and gRPC-Web-text — over HTTP/1.1 (http.client) and HTTP/2 (curl, prior knowledge): bytes
no client library would send. Each must get its protocol's proper error, never a crash,
hang or reset, and nothing may be stored (every body here names ECO_BAD, whose list must
stay empty). Native gRPC's bad input is in test_grpc.py.

Run from the repository root:  /usr/bin/python3 tests/rpc/test_bad_input.py build/hookgate
On the PostgreSQL store:
  /usr/bin/python3 tests/store/with_postgres.py /usr/bin/python3 tests/rpc/test_bad_input.py build/hookgate
"""
import base64
import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpc_support as rs  # noqa: E402

BINARY = None
TMP = None
pb = None
SERVER = None

LIMIT = rs.LIMITS["max_body_bytes"]
METHOD_PATH = "/%s/%%s" % rs.SERVICE
VERSIONS = ("1.1", "2")


def setUpModule():
    global TMP, pb, SERVER
    TMP = rs.make_tmpdir()
    pb = rs.generate_schema(TMP)
    SERVER = rs.Server(BINARY, TMP, grpc=[])


def tearDownModule():
    rs.stop_and_clean(SERVER, TMP)


def exchange(version, method, path, headers=None, body=None, token=rs.TOKEN):
    headers = dict(headers or {})
    if token is not None:
        headers["authorization"] = token
    if version == "1.1":
        return rs.http1(SERVER.port, method, path, headers, body)
    return rs.h2(TMP, SERVER.port, method, path, headers, body)


def good_create():
    return pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com/bad")


def garbage_payloads():
    """Bytes that are not a CreateWebhookRequest, each of which would name ECO_BAD if a
    lenient parser made something of it."""
    good = good_create().SerializeToString()
    return [b"\xff\xff\xff\xff", good[:-3], good[:1], b"\x0a\xff\xff\xff\xff\x0f", b"\x0b", good + b"\x12",
            b"\x0a\x80"]


UNDECODABLE = "droplit.webhooks.v1.CreateWebhookRequest cannot be decoded from these bytes"
NOT_UTF8 = "droplit.webhooks.v1.CreateWebhookRequest has a string that is not UTF-8 text (or contains NUL)"


def not_utf8_payload():
    return pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com/x").SerializeToString() \
        .replace(b"/x", b"/\xc3\x28")


class BadInputCase(unittest.TestCase):
    def tearDown(self):
        self.assertTrue(SERVER.alive(), "hookgate died; log:\n" + SERVER.log()[-4000:])
        status, _, body = rs.http1(SERVER.port, "GET", "/api/webhooks?ecosystemId=" + rs.ECO_BAD,
                                   {"authorization": rs.TOKEN})
        self.assertEqual((status, json.loads(body)), (200, {"items": []}))

    def assertErrorResponse(self, data, error_type, errors):
        er = pb.ErrorResponse.FromString(data)
        self.assertEqual(er.error_type, error_type)
        self.assertEqual([(getattr(p, "in"), p.path, p.message) for p in er.errors], errors)


# --- binary REST ----------------------------------------------------------------------------


class TestBinaryRest(BadInputCase):
    def post(self, version, body, content_type="application/x-protobuf", path="/api/webhooks"):
        return exchange(version, "POST", path, {"content-type": content_type}, body)

    def assertBinaryError(self, answer, status, error_type, errors, content_type="application/x-protobuf"):
        got_status, fields, body = answer
        self.assertEqual(got_status, status, body)
        self.assertEqual(fields.get("content-type"), content_type)  # the request's own type
        self.assertErrorResponse(body, error_type, errors)

    def test_garbage_and_truncated(self):
        for version in VERSIONS:
            for ct in ("application/x-protobuf", "application/protobuf"):
                for payload in garbage_payloads():
                    with self.subTest(version=version, content_type=ct, payload=payload):
                        self.assertBinaryError(self.post(version, payload, ct), 400, "InvalidBody",
                                               [("body", "body", UNDECODABLE)], ct)

    def test_string_not_utf8(self):
        for version in VERSIONS:
            self.assertBinaryError(self.post(version, not_utf8_payload()), 400, "InvalidBody",
                                   [("body", "body", NOT_UTF8)])

    def test_over_the_limit(self):
        req = good_create()
        req.description = "x" * LIMIT
        for version in VERSIONS:
            msg = "Request body exceeds the limit of %d bytes." % LIMIT
            self.assertBinaryError(self.post(version, req.SerializeToString()), 413, "PayloadTooLarge",
                                   [("", "", msg)])

    def test_empty_body_is_the_empty_message(self):
        for version in VERSIONS:
            self.assertBinaryError(self.post(version, b""), 400, "InvalidParams",
                                   [("body", "ecosystemId", "field is required"),
                                    ("body", "url", "field is required")])

    def test_query_string_on_create(self):
        for version in VERSIONS:
            self.assertBinaryError(self.post(version, good_create().SerializeToString(), path="/api/webhooks?x=1"),
                                   400, "InvalidParams",
                                   [("query", "additional parameters", "contains fields that are not allowed: [ x ]")])

    def test_wrong_content_type_is_not_read(self):
        # a body not declared protobuf (or JSON) is not read: Droplit's JSON 400 with both fields
        for version in VERSIONS:
            for ct in ("text/plain", "application/octet-stream", "application/x-protobufx"):
                status, fields, body = self.post(version, good_create().SerializeToString(), ct)
                self.assertEqual(status, 400)
                self.assertEqual(fields.get("content-type"), "application/json")
                self.assertEqual(json.loads(body), {"errorType": "InvalidParams", "errors": [
                    {"in": "body", "path": "ecosystemId", "message": "field is required"},
                    {"in": "body", "path": "url", "message": "field is required"}]})


# --- Connect --------------------------------------------------------------------------------


class TestConnect(BadInputCase):
    def post(self, version, body, content_type="application/proto", method="CreateWebhook", extra=None):
        headers = {"content-type": content_type, "connect-protocol-version": "1"}
        headers.update(extra or {})
        return exchange(version, "POST", METHOD_PATH % method, headers, body)

    def assertConnectError(self, answer, http_status, code, error_type, errors, message=None):
        status, fields, body = answer
        self.assertEqual(status, http_status, body)
        self.assertEqual(fields.get("content-type"), "application/json")
        err = json.loads(body)
        self.assertEqual(err["code"], code)
        if message is not None:
            self.assertEqual(err["message"], message)
        self.assertEqual(len(err["details"]), 1)
        self.assertEqual(err["details"][0]["type"], "droplit.webhooks.v1.ErrorResponse")
        self.assertNotIn("=", err["details"][0]["value"])  # Connect: unpadded base64
        self.assertErrorResponse(rs.b64decode_any(err["details"][0]["value"]), error_type, errors)

    def test_garbage_protobuf(self):
        for version in VERSIONS:
            for payload in garbage_payloads():
                with self.subTest(version=version, payload=payload):
                    self.assertConnectError(self.post(version, payload), 400, "invalid_argument", "InvalidBody",
                                            [("body", "body", UNDECODABLE)], "InvalidBody: body: " + UNDECODABLE)
            self.assertConnectError(self.post(version, not_utf8_payload()), 400, "invalid_argument",
                                    "InvalidBody", [("body", "body", NOT_UTF8)])

    def test_bad_json(self):
        for version in VERSIONS:
            for body in (b'{"ecosystemId": "%s"' % rs.ECO_BAD.encode(), b"[]", b"\xff",
                         b'{"ecosystemId": "%s", "ecosystemId": "%s", "url": "https://e.com"}'
                         % (rs.ECO_BAD.encode(), rs.ECO_BAD.encode())):
                with self.subTest(version=version, body=body):
                    status, _, data = self.post(version, body, "application/json")
                    self.assertEqual(status, 400, data)
                    err = json.loads(data)
                    self.assertEqual(err["code"], "invalid_argument")
                    er = pb.ErrorResponse.FromString(rs.b64decode_any(err["details"][0]["value"]))
                    self.assertEqual(er.error_type, "InvalidBody")
                    self.assertEqual([(getattr(p, "in"), p.path) for p in er.errors], [("body", "body")])
            # well-formed JSON with problems: every one listed
            body = json.dumps({"ecosystemId": rs.ECO_BAD, "url": 5, "extra": 1}).encode()
            self.assertConnectError(self.post(version, body, "application/json"), 400, "invalid_argument",
                                    "InvalidParams",
                                    [("body", "url", "must be a string"),
                                     ("body", "additional parameters", "contains fields that are not allowed: [ extra ]")])

    def test_over_the_limit(self):
        req = good_create()
        req.description = "x" * LIMIT
        msg = "Request body exceeds the limit of %d bytes." % LIMIT
        for version in VERSIONS:
            self.assertConnectError(self.post(version, req.SerializeToString()), 429, "resource_exhausted",
                                    "PayloadTooLarge", [("", "", msg)], msg)
            body = json.dumps({"ecosystemId": rs.ECO_BAD, "url": "https://e.com", "description": "x" * LIMIT})
            self.assertConnectError(self.post(version, body.encode(), "application/json"), 429,
                                    "resource_exhausted", "PayloadTooLarge", [("", "", msg)], msg)

    def test_unknown_method(self):
        for version in VERSIONS:
            for method in ("RenameWebhook", "createWebhook", "CreateWebhook/extra"):
                msg = "Unknown method %s." % (METHOD_PATH % method)
                self.assertConnectError(self.post(version, good_create().SerializeToString(), method=method), 501,
                                        "unimplemented", "Unimplemented", [("", "", msg)], msg)

    def test_unsupported_content_type(self):
        for version in VERSIONS:
            for ct in ("text/plain", "application/x-protobuf", "application/grpc", "application/grpc+proto",
                       "application/protobuf", "application/jsonx", None):
                with self.subTest(version=version, content_type=ct):
                    headers = {"content-type": ct} if ct else {}
                    status, fields, _ = exchange(version, "POST", METHOD_PATH % "CreateWebhook", headers,
                                                 good_create().SerializeToString())
                    self.assertEqual(status, 415)
                    self.assertIn("application/proto", fields.get("accept-post", ""))

    def test_compressed_body(self):
        # Connect: an encoding the server does not support is unimplemented, with accept-encoding
        # naming what it does; gzip that is not gzip is a body that cannot be read
        for version in VERSIONS:
            answer = self.post(version, good_create().SerializeToString(), extra={"content-encoding": "br"})
            self.assertEqual(answer[1].get("accept-encoding"), "gzip")
            self.assertConnectError(answer, 501, "unimplemented", "Unimplemented",
                                    [("", "", "The request's content-encoding is not supported: use gzip or identity.")])
            answer = self.post(version, good_create().SerializeToString(), extra={"content-encoding": "gzip"})
            self.assertConnectError(answer, 400, "invalid_argument", "InvalidBody",
                                    [("", "", "The message is not one whole gzip stream.")])

    def test_other_http_methods(self):
        for version in VERSIONS:
            # a method with side effects takes POST only; a read method GET too (Connect GET)
            for method in ("GET", "PUT", "DELETE"):
                status, fields, _ = exchange(version, method, METHOD_PATH % "CreateWebhook")
                self.assertEqual(status, 405)
                self.assertEqual(fields.get("allow"), "POST")
            for rpc in ("GetWebhook", "ListWebhooks", "GetEvent", "ListAttempts"):
                status, fields, _ = exchange(version, "PUT", METHOD_PATH % rpc)
                self.assertEqual(status, 405)
                self.assertEqual(fields.get("allow"), "GET, POST")
            status, fields, _ = exchange(version, "GET", "/grpc.health.v1.Health/Check?encoding=json&message=%7B%7D")
            self.assertEqual((status, fields.get("allow")), (405, "POST"))


# --- Connect GET (the schema's NO_SIDE_EFFECTS methods) -----------------------------------------


def quote(text):
    return urllib.parse.quote(text, safe="")


class TestConnectGet(BadInputCase):
    assertConnectError = TestConnect.assertConnectError

    def get(self, version, method, query, token=rs.TOKEN):
        return exchange(version, "GET", (METHOD_PATH % method) + "?" + query, token=token)

    def test_served(self):
        # the control: JSON percent-encoded, protobuf in base64url with and without padding
        msg = "Webhook with id %s does not exist." % ("0" * 24)
        proto = base64.urlsafe_b64encode(pb.GetWebhookRequest(id="0" * 24).SerializeToString()).decode()
        for version in VERSIONS:
            for query in ("connect=v1&encoding=json&message=" + quote('{"id": "%s"}' % ("0" * 24)),
                          "encoding=json&message=" + quote('{"id": "%s"}' % ("0" * 24)) + "&cachebust=7",
                          "encoding=proto&base64=1&message=" + proto,
                          "encoding=proto&base64=1&message=" + proto.rstrip("=") + "&connect=v1"):
                with self.subTest(version=version, query=query):
                    self.assertConnectError(self.get(version, "GetWebhook", query), 404, "not_found", "NotFound",
                                            [("", "", msg)], msg)
            status, fields, body = self.get(version, "ListWebhooks",
                                            "encoding=json&message=" + quote('{"ecosystemId": "%s"}' % rs.ECO_BAD))
            self.assertEqual((status, fields.get("content-type"), body), (200, "application/json", b'{"items":[]}'))
            status, fields, body = self.get(version, "ListWebhooks", "encoding=proto&base64=1&message=" +
                                            base64.urlsafe_b64encode(pb.ListWebhooksRequest(
                                                ecosystem_id=rs.ECO_BAD).SerializeToString()).decode())
            self.assertEqual((status, fields.get("content-type"), body), (200, "application/proto", b""))

    def test_malformed_message(self):
        for version in VERSIONS:
            status, _, data = self.get(version, "GetWebhook", "encoding=json&message=%7B")
            self.assertEqual(status, 400, data)
            err = json.loads(data)
            self.assertEqual(err["code"], "invalid_argument")
            er = pb.ErrorResponse.FromString(rs.b64decode_any(err["details"][0]["value"]))
            self.assertEqual((er.error_type, [(getattr(p, "in"), p.path) for p in er.errors]),
                             ("InvalidBody", [("body", "body")]))
            self.assertConnectError(self.get(version, "GetWebhook", "encoding=json&message=" + quote('{"id": 5}')),
                                    400, "invalid_argument", "InvalidParams", [("body", "id", "must be a string")])
            for payload in garbage_payloads()[:3]:
                query = "encoding=proto&base64=1&message=" + base64.urlsafe_b64encode(payload).decode()
                self.assertEqual(self.get(version, "GetWebhook", query)[0], 400)
            self.assertConnectError(self.get(version, "GetWebhook", "encoding=proto&base64=1&message=a+b/"), 400,
                                    "invalid_argument", "InvalidParams", [("query", "message", "not base64url")])

    def test_bad_parameters(self):
        for version in VERSIONS:
            self.assertConnectError(self.get(version, "GetWebhook", "encoding=json"), 400, "invalid_argument",
                                    "InvalidParams", [("query", "message", "field is required")])
            self.assertConnectError(
                self.get(version, "GetWebhook", "connect=v2&base64=2&encoding=json&message=x&message=y"), 400,
                "invalid_argument", "InvalidParams",
                [("query", "message", "given more than once"), ("query", "base64", "must be 0 or 1"),
                 ("query", "connect", "must be v1")])
            for query in ("message=%7B%7D", "encoding=xml&message=%7B%7D", "encoding=JSON&message=%7B%7D"):
                status, _, _ = self.get(version, "GetWebhook", query)
                self.assertEqual(status, 415, query)
            answer = self.get(version, "GetWebhook", "encoding=proto&base64=1&compression=br&message=")
            self.assertEqual(answer[1].get("accept-encoding"), "gzip")
            self.assertConnectError(answer, 501, "unimplemented", "Unimplemented",
                                    [("", "", "Compression br is not supported: use gzip or identity.")])
            # gzip that is not gzip: the message parameter's problem
            self.assertConnectError(self.get(version, "GetWebhook", "encoding=proto&base64=1&compression=gzip&message="),
                                    400, "invalid_argument", "InvalidParams",
                                    [("query", "message", "not a whole gzip stream")])
            # identity is no compression; an empty message is the empty message
            self.assertConnectError(self.get(version, "ListWebhooks", "encoding=proto&compression=identity&message="),
                                    400, "invalid_argument", "InvalidParams",
                                    [("body", "ecosystemId", "field is required")])

    def test_authorization_as_for_post(self):
        query = "encoding=json&message=" + quote('{"ecosystemId": "%s"}' % rs.ECO_BAD)
        for version in VERSIONS:
            self.assertConnectError(self.get(version, "ListWebhooks", query, token=None), 401, "unauthenticated",
                                    "Unauthenticated", [("", "", "Missing authorization token.")])

    def test_post_only_method(self):
        # CreateWebhook has side effects: GET is 405 whatever the query, and nothing is stored
        query = "encoding=json&message=" + quote('{"ecosystemId": "%s", "url": "https://e.com"}' % rs.ECO_BAD)
        for version in VERSIONS:
            for method in ("CreateWebhook", "DeleteWebhook", "InvokeWebhook", "PublishEvent"):
                status, fields, _ = self.get(version, method, query)
                self.assertEqual((status, fields.get("allow")), (405, "POST"), method)

    def test_query_over_the_body_limit(self):
        # the query string is held to limits.max_body_bytes, as a POST's body is
        limit = 300
        server = rs.Server(BINARY, TMP, grpc=[], limits=dict(rs.LIMITS, max_body_bytes=limit))
        try:
            def query(n):
                # {"ecosystemId": "...", "pageToken": "xxx..."}, the whole query exactly n bytes
                head = "encoding=json&message=" + quote('{"ecosystemId": "%s", "pageToken": "' % rs.ECO_BAD)
                tail = quote('"}')
                return head + "x" * (n - len(head) - len(tail)) + tail
            for version in VERSIONS:
                status, _, body = rs.http1(server.port, "GET", METHOD_PATH % "ListWebhooks" + "?" + query(limit),
                                           {"authorization": rs.TOKEN}) if version == "1.1" else \
                    rs.h2(TMP, server.port, "GET", METHOD_PATH % "ListWebhooks" + "?" + query(limit),
                          {"authorization": rs.TOKEN})
                self.assertEqual(status, 400, body)  # read: the page token is not one the server gave
                self.assertIn(b"pageToken", body)
                msg = "The query string exceeds the limit of %d bytes." % limit
                answer = rs.http1(server.port, "GET", METHOD_PATH % "ListWebhooks" + "?" + query(limit + 1),
                                  {"authorization": rs.TOKEN}) if version == "1.1" else \
                    rs.h2(TMP, server.port, "GET", METHOD_PATH % "ListWebhooks" + "?" + query(limit + 1),
                          {"authorization": rs.TOKEN})
                self.assertConnectError(answer, 429, "resource_exhausted", "PayloadTooLarge", [("", "", msg)], msg)
        finally:
            self.assertEqual(server.stop(), 0, server.log()[-4000:])


# --- gRPC-Web (binary and text) --------------------------------------------------------------


class TestGrpcWeb(BadInputCase):
    def post(self, version, body, text=False, method="CreateWebhook", content_type=None, encode=True):
        """body is the binary gRPC-Web body; for text, base64-encoded here unless encode=False."""
        ct = content_type or ("application/grpc-web-text" if text else "application/grpc-web+proto")
        if text and encode:
            body = base64.b64encode(body)
        return exchange(version, "POST", METHOD_PATH % method, {"content-type": ct, "x-grpc-web": "1"}, body)

    def assertStatus(self, answer, code, message, error_type, text=False):
        status, fields, body = answer
        self.assertEqual(status, 200, body)
        self.assertEqual(fields.get("content-type"),
                         "application/grpc-web-text+proto" if text else "application/grpc-web+proto")
        if text:
            body = base64.b64decode(body, validate=True)
        messages, trailers = rs.grpc_web_parse(body)
        self.assertEqual(messages, [])
        self.assertEqual(trailers.get("grpc-status"), str(code), trailers)
        self.assertEqual(rs.percent_decode(trailers.get("grpc-message", "")), message)
        st = pb.RpcStatus.FromString(rs.b64decode_any(trailers["grpc-status-details-bin"]))
        self.assertEqual((st.code, st.message), (code, message))
        self.assertEqual(st.details[0].type_url, rs.ERROR_RESPONSE_TYPE_URL)
        er = pb.ErrorResponse.FromString(st.details[0].value)
        self.assertEqual(er.error_type, error_type)
        return er

    def each(self):
        for version in VERSIONS:
            for text in (False, True):
                with self.subTest(version=version, text=text):
                    yield version, text

    def test_control_good_frame(self):
        # the same requests with an honest frame are served (aimed at a missing id: nothing stored)
        for version, text in self.each():
            body = rs.frame(pb.GetWebhookRequest(id="0" * 24).SerializeToString())
            self.assertStatus(self.post(version, body, text, "GetWebhook"), 5,
                              "Webhook with id %s does not exist." % ("0" * 24), "NotFound", text)

    def test_garbage_protobuf(self):
        for version, text in self.each():
            for payload in garbage_payloads():
                er = self.assertStatus(self.post(version, rs.frame(payload), text), 3,
                                       "InvalidBody: body: " + UNDECODABLE, "InvalidBody", text)
                self.assertEqual([(getattr(p, "in"), p.path, p.message) for p in er.errors],
                                 [("body", "body", UNDECODABLE)])
            self.assertStatus(self.post(version, rs.frame(not_utf8_payload()), text), 3,
                              "InvalidBody: body: " + NOT_UTF8, "InvalidBody", text)

    def test_frame_length_lies(self):
        good = good_create().SerializeToString()
        n = len(good)
        for version, text in self.each():
            for length in (n - 1, n + 1, 0):
                self.assertStatus(self.post(version, rs.frame(good, length=length), text), 3,
                                  "The frame says %d bytes but %d follow it." % (length, n), "InvalidBody", text)
            self.assertStatus(self.post(version, rs.frame(good) + rs.frame(good), text), 3,
                              "The frame says %d bytes but %d follow it." % (n, 2 * n + 5), "InvalidBody", text)
            for body in (b"", b"\x00\x00"):
                self.assertStatus(self.post(version, body, text), 3, "The request holds no complete gRPC frame.",
                                  "InvalidBody", text)

    def test_frame_flags(self):
        good = good_create().SerializeToString()
        for version, text in self.each():
            self.assertStatus(self.post(version, rs.frame(good, flag=1), text), 3,
                              "The message is flagged compressed but the call names no grpc-encoding.", "InvalidBody",
                              text)
            self.assertStatus(self.post(version, rs.frame(good, flag=0x80), text), 3,
                              "The request's frame is not a data frame.", "InvalidBody", text)

    def test_frame_over_the_limit(self):
        good = good_create().SerializeToString()
        msg = "The message exceeds the limit of %d bytes." % LIMIT
        for version, text in self.each():
            for length in (LIMIT + 1, 0xffffffff):
                self.assertStatus(self.post(version, rs.frame(good, length=length), text), 8, msg,
                                  "PayloadTooLarge", text)

    def test_body_over_the_limit(self):
        req = good_create()
        req.description = "x" * LIMIT
        msg = "Request body exceeds the limit of %d bytes." % LIMIT
        for version, text in self.each():
            self.assertStatus(self.post(version, rs.frame(req.SerializeToString()), text), 8, msg,
                              "PayloadTooLarge", text)

    def test_text_not_base64(self):
        msg = "The grpc-web-text body is not base64."
        good = base64.b64encode(rs.frame(good_create().SerializeToString()))
        for version in VERSIONS:
            for body in (b"!!!!", b"AAAA*AAA", good[:-1], good + b"A", b"\xff\xfe\xfd\xfc",
                         good.replace(b"A", b"-", 1),
                         b"====", b"A===", b"AA==AAAA", b"AAA=" + good):  # padding out of place
                with self.subTest(version=version, body=body):
                    self.assertStatus(self.post(version, body, text=True, encode=False), 3, msg, "InvalidBody",
                                      text=True)

    def test_unknown_method(self):
        for version, text in self.each():
            for method in ("RenameWebhook", "createWebhook"):
                path = METHOD_PATH % method
                self.assertStatus(self.post(version, rs.frame(good_create().SerializeToString()), text, method),
                                  12, "Unknown method %s." % path, "Unimplemented", text)

    def test_content_type_variants(self):
        # every gRPC-Web media type the server names is read (the request aims at a missing id)
        body = rs.frame(pb.GetWebhookRequest(id="0" * 24).SerializeToString())
        msg = "Webhook with id %s does not exist." % ("0" * 24)
        for version in VERSIONS:
            for ct, text in (("application/grpc-web", False), ("application/grpc-web+proto", False),
                             ("application/grpc-web-text", True), ("application/grpc-web-text+proto", True)):
                with self.subTest(version=version, content_type=ct):
                    self.assertStatus(self.post(version, body, text, "GetWebhook", ct), 5, msg, "NotFound", text)


if __name__ == "__main__":
    BINARY = rs.binary_from_argv()
    unittest.main(verbosity=2)
