#!/usr/bin/python3
"""Native gRPC against a real hookgate, with a client nobody here wrote: Debian's
python3-grpcio (the gRPC C core) and python3-protobuf, with the message classes generated
from proto/ by protoc at run time. No stubs: each method is called through
channel.unary_unary(path, serializer, deserializer).

Covers the three methods, every error code with its rich details (grpc-status-details-bin,
read as google.rpc.Status), unknown methods, the TLS listener, concurrent calls, the body
limit, bad input (garbage payloads through grpcio; frames whose length lies, through curl
over HTTP/2) and a cross-protocol round trip between grpcio and every protocol on the h2o
listener. The standard health service too (grpc.health.v1.Health, its classes generated
from proto/grpc/health/v1/health.proto): Check without a token, NOT_FOUND for a service
the server does not have, and NOT_SERVING on every protocol while the journal cannot be
written (a store on a full tmpfs: that test mounts one, so it must run as root; it fails,
it does not skip).

Run from the repository root:  /usr/bin/python3 tests/rpc/test_grpc.py build/hookgate
On the PostgreSQL store:
  /usr/bin/python3 tests/store/with_postgres.py /usr/bin/python3 tests/rpc/test_grpc.py build/hookgate
"""
import concurrent.futures
import json
import os
import re
import signal
import socket
import struct
import ssl
import subprocess
import sys
import time
import textwrap
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "store"))
import rpc_support as rs  # noqa: E402
import store_support as ss  # noqa: E402  (a server on a durable store, for the health test on a full disk)

import grpc  # noqa: E402

BINARY = None
TMP = None
pb = None              # webhooks_pb2, generated at run time
status_pb2 = None      # google.rpc.Status, generated at run time from its published definition
health_pb2 = None      # grpc.health.v1, generated at run time from proto/grpc/health/v1/health.proto
SERVER = None
CERT = None

ID_RE = re.compile(r"^[0-9a-f]{24}$")
METHOD_PATH = "/%s/%%s" % rs.SERVICE

# google.rpc.Status as googleapis publishes it (google/rpc/status.proto): the type every gRPC
# library decodes grpc-status-details-bin into. Decoding with it, not with the schema's own
# RpcStatus, checks the wire compatibility the schema promises.
GOOGLE_RPC_STATUS_PROTO = textwrap.dedent("""\
    syntax = "proto3";
    package google.rpc;
    import "google/protobuf/any.proto";
    message Status {
      int32 code = 1;
      string message = 2;
      repeated google.protobuf.Any details = 3;
    }
    """)


def generate_google_rpc_status(tmp):
    src = os.path.join(tmp, "rpcproto")
    os.makedirs(os.path.join(src, "google", "rpc"), exist_ok=True)
    with open(os.path.join(src, "google", "rpc", "status.proto"), "w") as f:
        f.write(GOOGLE_RPC_STATUS_PROTO)
    out = os.path.join(tmp, "py")
    subprocess.run(["protoc", "--python_out=" + out, "-I", src, "-I", "/usr/include",
                    os.path.join(src, "google", "rpc", "status.proto")], check=True)
    # google.rpc lives beside the installed google.protobuf package: extend its path
    import google
    google.__path__.append(os.path.join(out, "google"))
    from google.rpc import status_pb2 as mod
    return mod


def generate_health(tmp):
    """protoc --python_out of the server's own health.proto, loaded from its file: the
    package is grpc.health.v1, and `grpc` is grpcio's package, which must stay as it is."""
    import importlib.util
    out = os.path.join(tmp, "healthpy")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", "--python_out=" + out, "-I", rs.PROTO_DIR,
                    os.path.join(rs.PROTO_DIR, "grpc", "health", "v1", "health.proto")], check=True)
    spec = importlib.util.spec_from_file_location("health_pb2", os.path.join(out, "grpc", "health", "v1",
                                                                             "health_pb2.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def setUpModule():
    global BINARY, TMP, pb, status_pb2, health_pb2, SERVER, CERT
    TMP = rs.make_tmpdir()
    pb = rs.generate_schema(TMP)
    status_pb2 = generate_google_rpc_status(TMP)
    health_pb2 = generate_health(TMP)
    CERT = rs.make_certificate(TMP)
    SERVER = rs.Server(BINARY, TMP, grpc=[None, CERT])


def tearDownModule():
    rs.stop_and_clean(SERVER, TMP)


# --- the client ----------------------------------------------------------------------------


def auth(token=rs.TOKEN):
    return [("authorization", token)] if token is not None else []


class Client:
    """The methods of WebhookService over one grpcio channel."""

    def __init__(self, channel):
        self.channel = channel
        self.create = self.method("CreateWebhook", pb.CreateWebhookRequest, pb.Webhook)
        self.get = self.method("GetWebhook", pb.GetWebhookRequest, pb.Webhook)
        self.list = self.method("ListWebhooks", pb.ListWebhooksRequest, pb.ListWebhooksResponse)
        self.update = self.method("UpdateWebhook", pb.UpdateWebhookRequest, pb.UpdateWebhookResponse)
        self.delete = self.method("DeleteWebhook", pb.DeleteWebhookRequest, pb.DeleteWebhookResponse)

    def method(self, name, request_class, response_class):
        callable_ = self.channel.unary_unary(METHOD_PATH % name,
                                             request_serializer=request_class.SerializeToString,
                                             response_deserializer=response_class.FromString)

        def call(request, token=rs.TOKEN, metadata=None):
            return callable_(request, metadata=auth(token) + (metadata or []), timeout=rs.CALL_TIMEOUT)
        return call

    def raw(self, name, payload, token=rs.TOKEN):
        """Sends payload bytes as the message, whatever they are; returns the raw answer."""
        callable_ = self.channel.unary_unary(METHOD_PATH % name, request_serializer=lambda b: b,
                                             response_deserializer=lambda b: b)
        return callable_(payload, metadata=auth(token), timeout=rs.CALL_TIMEOUT)


def insecure_client():
    return Client(grpc.insecure_channel("127.0.0.1:%d" % SERVER.grpc_ports[0]))


def created_at_ms(ts):
    return ts.seconds * 1000 + ts.nanos // 1_000_000


# --- shared assertions ---------------------------------------------------------------------


class GrpcTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = insecure_client()

    @classmethod
    def tearDownClass(cls):
        cls.client.channel.close()

    def assertWebhook(self, w, ecosystem_id, url, description=""):
        self.assertRegex(w.id, ID_RE)
        self.assertEqual(w.description, description)
        self.assertEqual(w.ecosystem_id, ecosystem_id)
        self.assertEqual(w.url, url)
        self.assertFalse(w.disabled)
        self.assertTrue(w.HasField("created_at"))
        # createdAt has millisecond precision, and its second is the id's timestamp
        self.assertEqual(w.created_at.nanos % 1_000_000, 0)
        self.assertEqual(w.created_at.seconds, int(w.id[:8], 16))

    def assertRpcError(self, call, code, message, error_type, errors):
        """call() must fail with code; grpc-message (as grpcio decodes it) is message, and
        grpc-status-details-bin is a google.rpc.Status with the same code and message whose one
        detail is an ErrorResponse of error_type and errors [(in, path, message), ...]."""
        with self.assertRaises(grpc.RpcError) as cm:
            call()
        e = cm.exception
        self.assertEqual(e.code(), code, e.details())
        self.assertEqual(e.details(), message)
        trailers = dict(e.trailing_metadata() or ())
        self.assertIn("grpc-status-details-bin", trailers)
        st = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        self.assertEqual(st.code, code.value[0])
        self.assertEqual(st.message, message)
        self.assertEqual(len(st.details), 1)
        self.assertEqual(st.details[0].type_url, rs.ERROR_RESPONSE_TYPE_URL)
        self.assertTrue(st.details[0].Is(pb.ErrorResponse.DESCRIPTOR))
        er = pb.ErrorResponse()
        self.assertTrue(st.details[0].Unpack(er))
        self.assertEqual(er.error_type, error_type)
        self.assertEqual([(getattr(p, "in"), p.path, p.message) for p in er.errors], errors)
        # the schema's own RpcStatus reads the same bytes the same way
        own = pb.RpcStatus.FromString(trailers["grpc-status-details-bin"])
        self.assertEqual((own.code, own.message), (st.code, st.message))
        return er

    def list_all(self, ecosystem_id, limit=rs.LIMITS["max_page_size"]):
        """Every webhook of the ecosystem, page by page."""
        items, token = [], ""
        while True:
            page = self.client.list(pb.ListWebhooksRequest(ecosystem_id=ecosystem_id, limit=limit, page_token=token))
            items += page.items
            if not page.HasField("next_page_token"):
                return items
            token = page.next_page_token

    def list_ids(self, ecosystem_id):
        return [w.id for w in self.list_all(ecosystem_id)]


# --- the three methods -----------------------------------------------------------------------


class TestMethods(GrpcTestCase):
    def test_create_get_list(self):
        created = []
        for i in range(3):
            req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO_LIST, url="https://example.com/hook/%d" % i,
                                          secret="s3cret-%d" % i, description="hook %d é" % i)
            w = self.client.create(req)
            self.assertWebhook(w, rs.ECO_LIST, req.url, req.description)
            created.append(w)
        self.assertEqual(len({w.id for w in created}), 3)
        for w in created:
            self.assertEqual(self.client.get(pb.GetWebhookRequest(id=w.id)), w)
        listed = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_LIST))
        self.assertEqual(list(listed.items), created)  # oldest first

    def test_optional_fields_absent(self):
        w = self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="http://example.com"))
        self.assertWebhook(w, rs.ECO, "http://example.com")

    def test_secret_never_returned(self):
        secret = "secret-Zq81xVv"
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/s", secret=secret)
        raw = self.client.raw("CreateWebhook", req.SerializeToString())
        self.assertNotIn(secret.encode(), raw)
        w = pb.Webhook.FromString(raw)
        self.assertWebhook(w, rs.ECO, req.url)
        self.assertNotIn(secret.encode(), self.client.raw("GetWebhook", pb.GetWebhookRequest(id=w.id).SerializeToString()))

    def test_bearer_token(self):
        w = self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/b"),
                               token="Bearer " + rs.TOKEN)
        self.assertEqual(self.client.get(pb.GetWebhookRequest(id=w.id), token="Bearer " + rs.TOKEN), w)

    def test_server_token_on_its_ecosystem(self):
        w = self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/srv"),
                               token=rs.SRV_TOKEN)
        self.assertEqual(self.client.get(pb.GetWebhookRequest(id=w.id), token=rs.SRV_TOKEN), w)
        self.assertIn(w.id, [x.id for x in self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO),
                                                            token=rs.SRV_TOKEN).items])

    def test_list_pages(self):
        """Pages over native gRPC: limit and page_token in, next_page_token out (set only when
        more follow); creates between pages come after what was read; every webhook that
        was there from the start exactly once, oldest first; no limit = the default size."""
        made = [self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_PAGES, url="https://example.com/p/%d" % i))
                for i in range(7)]
        whole = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES))
        self.assertEqual(list(whole.items), made)  # 7 < the default page size
        self.assertIsNone(whole.WhichOneof("next_page"))
        walked, token, pages = [], "", 0
        while True:
            page = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES, limit=3, page_token=token))
            walked += page.items
            pages += 1
            if not page.HasField("next_page_token"):
                break
            self.assertEqual(len(page.items), 3)
            token = page.next_page_token
            if pages <= 2:
                made.append(self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_PAGES,
                                                                       url="https://example.com/p/new")))
        self.assertEqual(walked, made)
        self.assertEqual(pages, 3)
        top = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES, limit=rs.LIMITS["max_page_size"]))
        self.assertEqual((list(top.items), top.HasField("next_page_token")), (made, False))

    def test_list_page_errors(self):
        max_page = rs.LIMITS["max_page_size"]
        self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_PAGE_ERRORS, url="https://example.com/p/e"))
        self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_PAGE_ERRORS, url="https://example.com/p/e"))
        token = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGE_ERRORS, limit=1)).next_page_token
        self.assertTrue(token)
        self.assertRpcError(
            lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGE_ERRORS, limit=max_page + 1)),
            grpc.StatusCode.INVALID_ARGUMENT, "InvalidParams: limit: must be at most %d" % max_page, "InvalidParams",
            [("body", "limit", "must be at most %d" % max_page)])
        for bad in (token[:-1], "x" + token[1:], "garbage"):
            self.assertRpcError(
                lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGE_ERRORS, page_token=bad)),
                grpc.StatusCode.INVALID_ARGUMENT, "InvalidParams: pageToken: " + rs.PAGE_TOKEN_MESSAGE,
                "InvalidParams", [("body", "pageToken", rs.PAGE_TOKEN_MESSAGE)])
        # bound to its ecosystem, and no key to another account's
        self.assertRpcError(
            lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_LIST, page_token=token)),
            grpc.StatusCode.INVALID_ARGUMENT, "InvalidParams: pageToken: " + rs.PAGE_TOKEN_MESSAGE,
            "InvalidParams", [("body", "pageToken", rs.PAGE_TOKEN_MESSAGE)])
        msg = "Ecosystem with id %s does not exist." % rs.ECO_PAGE_ERRORS
        self.assertRpcError(
            lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGE_ERRORS, page_token=token),
                                     token=rs.OTHER_TOKEN),
            grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])

    def test_list_empty(self):
        listed = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_EMPTY))
        self.assertEqual(len(listed.items), 0)
        self.assertEqual(listed.SerializeToString(), b"")


# --- every error code, with details ----------------------------------------------------------


class TestErrors(GrpcTestCase):
    def test_invalid_argument_lists_every_problem(self):
        req = pb.CreateWebhookRequest(ecosystem_id="C5156B8ACE57896ADB6DAE592", url="ftp://example.com",
                                      secret="s" * 257, description="d" * 1025)
        self.assertRpcError(
            lambda: self.client.create(req), grpc.StatusCode.INVALID_ARGUMENT,
            "InvalidParams: ecosystemId: invalid id; url: invalid url; secret: must be at most 256 bytes; "
            "description: must be at most 1024 bytes",
            "InvalidParams",
            [("body", "ecosystemId", "invalid id"), ("body", "url", "invalid url"),
             ("body", "secret", "must be at most 256 bytes"),
             ("body", "description", "must be at most 1024 bytes")])

    def test_invalid_argument_required_fields(self):
        self.assertRpcError(
            lambda: self.client.create(pb.CreateWebhookRequest()), grpc.StatusCode.INVALID_ARGUMENT,
            "InvalidParams: ecosystemId: field is required; url: field is required", "InvalidParams",
            [("body", "ecosystemId", "field is required"), ("body", "url", "field is required")])
        self.assertRpcError(
            lambda: self.client.list(pb.ListWebhooksRequest()), grpc.StatusCode.INVALID_ARGUMENT,
            "InvalidParams: ecosystemId: field is required", "InvalidParams",
            [("body", "ecosystemId", "field is required")])
        self.assertRpcError(
            lambda: self.client.get(pb.GetWebhookRequest(id="not-an-id")), grpc.StatusCode.INVALID_ARGUMENT,
            "InvalidParams: id: invalid id", "InvalidParams", [("body", "id", "invalid id")])

    def test_not_found(self):
        for eco in (rs.ECO_UNKNOWN, rs.ECO_DELETED, rs.ECO_OTHER):
            msg = "Ecosystem with id %s does not exist." % eco
            req = pb.CreateWebhookRequest(ecosystem_id=eco, url="https://example.com")
            self.assertRpcError(lambda: self.client.create(req), grpc.StatusCode.NOT_FOUND, msg, "NotFound",
                                [("", "", msg)])
            self.assertRpcError(lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=eco)),
                                grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])
        missing = "0123456789abcdef01234567"
        msg = "Webhook with id %s does not exist." % missing
        self.assertRpcError(lambda: self.client.get(pb.GetWebhookRequest(id=missing)),
                            grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])
        # a webhook of another account is not found either
        w = self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_OTHER, url="https://example.com/o"),
                               token=rs.OTHER_TOKEN)
        msg = "Webhook with id %s does not exist." % w.id
        self.assertRpcError(lambda: self.client.get(pb.GetWebhookRequest(id=w.id)),
                            grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])

    def test_unauthenticated(self):
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com")
        for token, msg in ((None, "Missing authorization token."), ("wrong-token", "Invalid authorization token."),
                           ("Bearer wrong-token", "Invalid authorization token.")):
            for call in (lambda: self.client.create(req, token=token),
                         lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO), token=token),
                         lambda: self.client.get(pb.GetWebhookRequest(id="0" * 24), token=token)):
                self.assertRpcError(call, grpc.StatusCode.UNAUTHENTICATED, msg, "Unauthenticated",
                                    [("", "", msg)])

    def test_permission_denied(self):
        msg = "Token not permitted for this ecosystem."
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO2, url="https://example.com")
        self.assertRpcError(lambda: self.client.create(req, token=rs.SRV_TOKEN),
                            grpc.StatusCode.PERMISSION_DENIED, msg, "PermissionDenied", [("", "", msg)])
        self.assertRpcError(lambda: self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO2),
                                                     token=rs.SRV_TOKEN),
                            grpc.StatusCode.PERMISSION_DENIED, msg, "PermissionDenied", [("", "", msg)])
        self.assertEqual(self.list_ids(rs.ECO2), [])

    def test_resource_exhausted(self):
        """A message over max_body_bytes: RESOURCE_EXHAUSTED with its detail, nothing stored,
        and the connection still serves the next call."""
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com",
                                      description="x" * (rs.LIMITS["max_body_bytes"] + 100))
        msg = "The message exceeds the limit of %d bytes." % rs.LIMITS["max_body_bytes"]
        self.assertRpcError(lambda: self.client.create(req), grpc.StatusCode.RESOURCE_EXHAUSTED, msg,
                            "PayloadTooLarge", [("", "", msg)])
        self.assertEqual(self.list_ids(rs.ECO_BAD), [])

    def test_message_just_under_the_limit_is_read(self):
        # the limit is on the message, not the frame: a message of exactly max_body_bytes is
        # read (and then refused by the validator for its description length)
        base = pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com")
        overhead = len(base.SerializeToString()) + 1 + 3  # tag + 3-byte length varint
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com",
                                      description="x" * (rs.LIMITS["max_body_bytes"] - overhead))
        self.assertEqual(len(req.SerializeToString()), rs.LIMITS["max_body_bytes"])
        self.assertRpcError(lambda: self.client.create(req), grpc.StatusCode.INVALID_ARGUMENT,
                            "InvalidParams: description: must be at most 1024 bytes", "InvalidParams",
                            [("body", "description", "must be at most 1024 bytes")])

    def test_unimplemented(self):
        for path in ("/%s/RenameWebhook" % rs.SERVICE, "/%s/createWebhook" % rs.SERVICE,
                     "/droplit.webhooks.v1.OtherService/CreateWebhook", "/grpc.health.v1.Health/Nope",
                     "/grpc.health.v1.Health/check"):
            msg = "Unknown method %s." % path
            call = self.client.channel.unary_unary(path, request_serializer=lambda b: b,
                                                   response_deserializer=lambda b: b)
            self.assertRpcError(lambda: call(b"", metadata=auth(), timeout=rs.CALL_TIMEOUT),
                                grpc.StatusCode.UNIMPLEMENTED, msg, "Unimplemented", [("", "", msg)])

    def test_grpc_message_percent_encoding(self):
        # grpc-message is percent-encoded on the wire; grpcio must get '%' and non-ASCII back
        for path in ("/%s/a%%20b" % rs.SERVICE, "/%s/Créer" % rs.SERVICE):
            msg = "Unknown method %s." % path
            call = self.client.channel.unary_unary(path, request_serializer=lambda b: b,
                                                   response_deserializer=lambda b: b)
            self.assertRpcError(lambda: call(b"", metadata=auth(), timeout=rs.CALL_TIMEOUT),
                                grpc.StatusCode.UNIMPLEMENTED, msg, "Unimplemented", [("", "", msg)])


# --- update and delete --------------------------------------------------------------------------


class TestUpdateDelete(GrpcTestCase):
    """UpdateWebhook and DeleteWebhook over native gRPC, Connect (JSON and binary) and
    gRPC-Web, with create's errors; their answers are the schema's empty messages."""

    def make(self, eco=rs.ECO_MUTATE, token=rs.TOKEN, **fields):
        return self.client.create(pb.CreateWebhookRequest(ecosystem_id=eco, url="https://example.com/m", **fields),
                                  token=token)

    def test_grpc_update_then_get(self):
        w = self.make(secret="s", description="d")
        changes = pb.WebhookChanges(url="https://example.com/changed", disabled=True)
        answer = self.client.raw("UpdateWebhook", pb.UpdateWebhookRequest(id=w.id, changes=changes).SerializeToString())
        self.assertEqual(answer, b"")  # UpdateWebhookResponse, empty
        got = self.client.get(pb.GetWebhookRequest(id=w.id))
        want = pb.Webhook()
        want.CopyFrom(w)
        want.url, want.disabled = "https://example.com/changed", True
        self.assertEqual(got, want)
        # a field left out keeps its value; one given as its default is set (presence, not value)
        self.client.update(pb.UpdateWebhookRequest(id=w.id, changes=pb.WebhookChanges(
            url="https://example.com/c2", description="", disabled=False)), token="Bearer " + rs.TOKEN)
        got = self.client.get(pb.GetWebhookRequest(id=w.id))
        self.assertEqual((got.url, got.description, got.disabled, got.created_at), ("https://example.com/c2", "", False,
                                                                                   w.created_at))

    def test_grpc_delete(self):
        w = self.make()
        self.assertEqual(self.client.raw("DeleteWebhook", pb.DeleteWebhookRequest(id=w.id).SerializeToString()), b"")
        msg = "Webhook with id %s does not exist." % w.id
        for call in (lambda: self.client.get(pb.GetWebhookRequest(id=w.id)),
                     lambda: self.client.delete(pb.DeleteWebhookRequest(id=w.id)),
                     lambda: self.client.update(pb.UpdateWebhookRequest(
                         id=w.id, changes=pb.WebhookChanges(url="https://example.com/")))):
            self.assertRpcError(call, grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])
        self.assertNotIn(w.id, self.list_ids(rs.ECO_MUTATE))

    def test_grpc_errors(self):
        self.assertRpcError(
            lambda: self.client.update(pb.UpdateWebhookRequest(id="nope", changes=pb.WebhookChanges(
                url="ftp://x", secret="s" * 257, description="d" * 1025))),
            grpc.StatusCode.INVALID_ARGUMENT,
            "InvalidParams: id: invalid id; url: invalid url; secret: must be at most 256 bytes; "
            "description: must be at most 1024 bytes", "InvalidParams",
            [("body", "id", "invalid id"), ("body", "url", "invalid url"),
             ("body", "secret", "must be at most 256 bytes"), ("body", "description", "must be at most 1024 bytes")])
        w = self.make()
        self.assertRpcError(lambda: self.client.update(pb.UpdateWebhookRequest(id=w.id)),
                            grpc.StatusCode.INVALID_ARGUMENT, "InvalidParams: url: field is required",
                            "InvalidParams", [("body", "url", "field is required")])
        self.assertRpcError(lambda: self.client.delete(pb.DeleteWebhookRequest()), grpc.StatusCode.INVALID_ARGUMENT,
                            "InvalidParams: id: invalid id", "InvalidParams", [("body", "id", "invalid id")])
        for token, msg in ((None, "Missing authorization token."), ("wrong", "Invalid authorization token.")):
            self.assertRpcError(lambda: self.client.delete(pb.DeleteWebhookRequest(id=w.id), token=token),
                                grpc.StatusCode.UNAUTHENTICATED, msg, "Unauthenticated", [("", "", msg)])
        # scopes: a server token of another ecosystem, another account
        msg = "Webhook with id %s does not exist." % w.id
        for token in (rs.SRV_TOKEN, rs.OTHER_TOKEN):
            self.assertRpcError(lambda: self.client.update(pb.UpdateWebhookRequest(
                id=w.id, changes=pb.WebhookChanges(url="https://evil.example/")), token=token),
                grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])
            self.assertRpcError(lambda: self.client.delete(pb.DeleteWebhookRequest(id=w.id), token=token),
                                grpc.StatusCode.NOT_FOUND, msg, "NotFound", [("", "", msg)])
        self.assertEqual(self.client.get(pb.GetWebhookRequest(id=w.id)).url, "https://example.com/m")

    def connect(self, method, body, content_type="application/json"):
        headers = {"content-type": content_type, "authorization": rs.TOKEN}
        return rs.http1(SERVER.port, "POST", METHOD_PATH % method, headers, body)

    def test_connect(self):
        w = self.make()
        # JSON: the response is the empty message, {}
        status, fields, body = self.connect("UpdateWebhook", json.dumps(
            {"id": w.id, "changes": {"url": "https://example.com/connect", "description": "c"}}).encode())
        self.assertEqual((status, body), (200, b"{}"), body)
        got = self.client.get(pb.GetWebhookRequest(id=w.id))
        self.assertEqual((got.url, got.description), ("https://example.com/connect", "c"))
        # an unknown key inside the changes, a wrong type: named under changes
        status, fields, body = self.connect("UpdateWebhook", json.dumps(
            {"id": w.id, "changes": {"url": "https://example.com/", "ecosystemId": rs.ECO, "disabled": 1}}).encode())
        self.assertEqual(status, 400, body)
        details = json.loads(body)["details"][0]
        er = pb.ErrorResponse.FromString(rs.b64decode_any(details["value"]))
        self.assertEqual([(getattr(p, "in"), p.path, p.message) for p in er.errors],
                         [("body", "changes.disabled", "must be a boolean"),
                          ("body", "changes.additional parameters", "contains fields that are not allowed: [ ecosystemId ]")])
        # binary: an empty body back
        status, fields, body = self.connect("DeleteWebhook", pb.DeleteWebhookRequest(id=w.id).SerializeToString(),
                                            "application/proto")
        self.assertEqual((status, body), (200, b""), body)
        status, fields, body = self.connect("DeleteWebhook", json.dumps({"id": w.id}).encode())
        self.assertEqual(status, 404, body)
        self.assertEqual(json.loads(body)["code"], "not_found")

    def test_grpc_web(self):
        w = self.make()
        req = pb.UpdateWebhookRequest(id=w.id, changes=pb.WebhookChanges(url="https://example.com/web", disabled=True))
        status, fields, body = rs.http1(SERVER.port, "POST", METHOD_PATH % "UpdateWebhook",
                                        {"content-type": "application/grpc-web+proto", "authorization": rs.TOKEN},
                                        rs.frame(req.SerializeToString()))
        messages, trailers = rs.grpc_web_parse(body)
        self.assertEqual((status, messages, trailers.get("grpc-status")), (200, [b""], "0"))
        self.assertTrue(self.client.get(pb.GetWebhookRequest(id=w.id)).disabled)
        status, fields, body = rs.http1(SERVER.port, "POST", METHOD_PATH % "DeleteWebhook",
                                        {"content-type": "application/grpc-web+proto", "authorization": rs.TOKEN},
                                        rs.frame(pb.DeleteWebhookRequest(id=w.id).SerializeToString()))
        messages, trailers = rs.grpc_web_parse(body)
        self.assertEqual((messages, trailers.get("grpc-status")), ([b""], "0"))
        status, fields, body = rs.http1(SERVER.port, "POST", METHOD_PATH % "DeleteWebhook",
                                        {"content-type": "application/grpc-web+proto", "authorization": rs.TOKEN},
                                        rs.frame(pb.DeleteWebhookRequest(id=w.id).SerializeToString()))
        messages, trailers = rs.grpc_web_parse(body)
        self.assertEqual((messages, trailers.get("grpc-status")), ([], "5"))


# --- TLS --------------------------------------------------------------------------------------


class TestIdempotencyKey(GrpcTestCase):
    """Idempotency-Key as gRPC metadata, and shared with the h2o listener's protocols: the
    key belongs to the token, not to the protocol it came by."""

    def create_with_call(self, req, key):
        call = self.client.channel.unary_unary(METHOD_PATH % "CreateWebhook",
                                               request_serializer=pb.CreateWebhookRequest.SerializeToString,
                                               response_deserializer=pb.Webhook.FromString)
        w, c = call.with_call(req, metadata=auth() + [("idempotency-key", key)], timeout=rs.CALL_TIMEOUT)
        return w, dict(c.initial_metadata()).get("idempotent-replayed")

    def test_replay_over_grpc_and_connect(self):
        key = "grpc-%d-%f" % (os.getpid(), time.time())
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/idem-grpc", description="g")
        first, replayed = self.create_with_call(req, key)
        self.assertIsNone(replayed)
        again, replayed = self.create_with_call(req, key)
        self.assertEqual((again, replayed), (first, "true"))
        # the same key and token over Connect (another listener, another protocol): the same webhook
        status, fields, body = rs.http1(SERVER.port, "POST", METHOD_PATH % "CreateWebhook",
                                        {"content-type": "application/proto", "authorization": rs.TOKEN,
                                         "idempotency-key": key}, req.SerializeToString())
        self.assertEqual((status, fields.get("idempotent-replayed")), (200, "true"), body)
        self.assertEqual(pb.Webhook.FromString(body), first)
        self.assertEqual(len([i for i in self.list_ids(rs.ECO) if i == first.id]), 1)

    def test_key_reused_for_another_request(self):
        key = "grpc-reuse-%d-%f" % (os.getpid(), time.time())
        self.create_with_call(pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/a"), key)
        msg = "This Idempotency-Key was used for a different request in the last 24 hours."
        other = pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/b")
        self.assertRpcError(lambda: self.create_with_call(other, key), grpc.StatusCode.FAILED_PRECONDITION, msg,
                            "UnprocessableContent", [("", "", msg)])

    def test_malformed_key(self):
        msg = "must be one value of 1 to 255 printable ASCII characters"
        req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO, url="https://example.com/k")
        self.assertRpcError(lambda: self.create_with_call(req, "k" * 256), grpc.StatusCode.INVALID_ARGUMENT,
                            "InvalidParams: Idempotency-Key: " + msg, "InvalidParams",
                            [("header", "Idempotency-Key", msg)])


class TestTls(GrpcTestCase):
    def test_tls_listener(self):
        with open(CERT[0], "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel("127.0.0.1:%d" % SERVER.grpc_ports[1], creds,
                                      options=[("grpc.ssl_target_name_override", "localhost")])
        try:
            tls = Client(channel)
            w = tls.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_TLS, url="https://example.com/tls"))
            self.assertWebhook(w, rs.ECO_TLS, "https://example.com/tls")
            self.assertEqual(tls.get(pb.GetWebhookRequest(id=w.id)), w)
            self.assertEqual(list(tls.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_TLS)).items), [w])
            # errors keep their details over TLS too
            msg = "Missing authorization token."
            self.assertRpcError(lambda: tls.get(pb.GetWebhookRequest(id=w.id), token=None),
                                grpc.StatusCode.UNAUTHENTICATED, msg, "Unauthenticated", [("", "", msg)])
            # and the webhook is the same one cleartext callers see
            self.assertEqual(self.client.get(pb.GetWebhookRequest(id=w.id)), w)
        finally:
            channel.close()

    def test_cleartext_client_on_tls_listener_fails_cleanly(self):
        channel = grpc.insecure_channel("127.0.0.1:%d" % SERVER.grpc_ports[1])
        try:
            with self.assertRaises(grpc.RpcError) as cm:
                Client(channel).list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_TLS))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        finally:
            channel.close()
        self.assertTrue(SERVER.alive())


# --- concurrency ------------------------------------------------------------------------------


class TestConcurrency(GrpcTestCase):
    """200 creates from 8 threads on one multiplexed channel plus one channel per thread,
    made once for the class; each case checks one thing of what they left."""

    CALLS = 200
    THREADS = 8

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shared = cls.client
        own = [insecure_client() for _ in range(cls.THREADS)]

        def work(i):
            c = shared if i % 2 == 0 else own[i % cls.THREADS]
            url = "https://example.com/burst/%d" % i
            w = c.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BURST, url=url))
            return i, w

        try:
            with concurrent.futures.ThreadPoolExecutor(cls.THREADS) as ex:
                cls.results = list(ex.map(work, range(cls.CALLS)))
        finally:
            for c in own:
                c.channel.close()

    def test_concurrent_creates(self):
        """Every id unique, every webhook listed once, as it was created."""
        ids = [w.id for _, w in self.results]
        self.assertEqual(len(set(ids)), self.CALLS)
        for i, w in self.results:
            self.assertWebhook(w, rs.ECO_BURST, "https://example.com/burst/%d" % i)
        listed = self.list_all(rs.ECO_BURST, limit=64)
        self.assertEqual(sorted(w.id for w in listed), sorted(ids))
        by_id = {w.id: w for _, w in self.results}
        for w in listed:
            self.assertEqual(w, by_id[w.id])

    def test_concurrent_creates_listed_oldest_first(self):
        """Oldest first: creation times never go backwards along the list."""
        times = [created_at_ms(w.created_at) for w in self.list_all(rs.ECO_BURST, limit=64)]
        self.assertEqual(times, sorted(times))


# --- bad input --------------------------------------------------------------------------------


class TestBadInput(GrpcTestCase):
    """Each answer must be a gRPC status (never a crash, hang or reset), and nothing may be
    stored: every payload here would name ECO_BAD if it were read."""

    def valid_payload(self):
        return pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com/bad").SerializeToString()

    def tearDown(self):
        self.assertTrue(SERVER.alive(), "hookgate died; log:\n" + SERVER.log()[-4000:])
        self.assertEqual(self.list_ids(rs.ECO_BAD), [])

    def assertInvalidBody(self, payload, method="CreateWebhook", request_type="CreateWebhookRequest"):
        msg = "droplit.webhooks.v1.%s cannot be decoded from these bytes" % request_type
        self.assertRpcError(lambda: self.client.raw(method, payload), grpc.StatusCode.INVALID_ARGUMENT,
                            "InvalidBody: body: " + msg, "InvalidBody", [("body", "body", msg)])

    def test_garbage_payloads(self):
        good = self.valid_payload()
        for payload in (b"\xff\xff\xff\xff", good[:-3],  # garbage; a truncated string
                        good[:1],                          # a tag with no value
                        b"\x0a\xff\xff\xff\xff\x0f",       # a length far past the end
                        b"\x0b",                           # a start-group wire type
                        good + b"\x12"):                   # trailing half field
            self.assertInvalidBody(payload)
        self.assertInvalidBody(b"\x0a\x05ab", "GetWebhook", "GetWebhookRequest")
        self.assertInvalidBody(b"\x0a\x05ab", "ListWebhooks", "ListWebhooksRequest")

    def test_invalid_utf8_in_a_string(self):
        payload = pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com/x").SerializeToString()
        payload = payload.replace(b"/x", b"/\xff")
        msg = "droplit.webhooks.v1.CreateWebhookRequest has a string that is not UTF-8 text (or contains NUL)"
        self.assertRpcError(lambda: self.client.raw("CreateWebhook", payload), grpc.StatusCode.INVALID_ARGUMENT,
                            "InvalidBody: body: " + msg, "InvalidBody", [("body", "body", msg)])

    def test_unknown_fields_are_skipped(self):
        # proto3 binary parsers skip unknown fields: the call is read on its known fields (a get
        # of an unknown id, so that nothing is stored)
        payload = pb.GetWebhookRequest(id="0" * 24).SerializeToString() + b"\x78\x01"  # field 15 varint
        msg = "Webhook with id %s does not exist." % ("0" * 24)
        self.assertRpcError(lambda: self.client.raw("GetWebhook", payload), grpc.StatusCode.NOT_FOUND, msg,
                            "NotFound", [("", "", msg)])

    # raw HTTP/2 through curl: frames grpcio would never build

    def raw_h2(self, body, content_type="application/grpc", path=None, method="POST", token=rs.TOKEN):
        headers = {"content-type": content_type, "te": "trailers"}
        if token is not None:
            headers["authorization"] = token
        return rs.h2(TMP, SERVER.grpc_ports[0], method, path or METHOD_PATH % "CreateWebhook", headers, body)

    def assertGrpcStatus(self, answer, code, message, error_type=None):
        status, fields, body = answer
        self.assertEqual(status, 200)
        self.assertTrue(fields.get("content-type", "").startswith("application/grpc"), fields)
        self.assertEqual(fields.get("grpc-status"), str(code.value[0]), fields)
        self.assertEqual(rs.percent_decode(fields.get("grpc-message", "")), message)
        st = status_pb2.Status.FromString(rs.b64decode_any(fields["grpc-status-details-bin"]))
        self.assertEqual((st.code, st.message), (code.value[0], message))
        er = pb.ErrorResponse()
        self.assertTrue(st.details[0].Unpack(er))
        if error_type:
            self.assertEqual(er.error_type, error_type)
        self.assertEqual(body, b"")

    def test_frame_length_lies(self):
        good = self.valid_payload()
        n = len(good)
        self.assertGrpcStatus(self.raw_h2(rs.frame(good, length=n - 3)), grpc.StatusCode.INVALID_ARGUMENT,
                              "The frame says %d bytes but %d follow it." % (n - 3, n), "InvalidBody")
        self.assertGrpcStatus(self.raw_h2(rs.frame(good, length=n + 3)), grpc.StatusCode.INVALID_ARGUMENT,
                              "The frame says %d bytes but %d follow it." % (n + 3, n), "InvalidBody")
        # two whole frames: a unary call carries one message
        self.assertGrpcStatus(self.raw_h2(rs.frame(good) + rs.frame(good)), grpc.StatusCode.INVALID_ARGUMENT,
                              "The frame says %d bytes but %d follow it." % (n, 2 * n + 5), "InvalidBody")
        # a header cut short, and no frame at all
        for body in (rs.frame(good)[:3], b""):
            self.assertGrpcStatus(self.raw_h2(body), grpc.StatusCode.INVALID_ARGUMENT,
                                  "The request holds no complete gRPC frame.", "InvalidBody")

    def test_frame_over_the_limit(self):
        limit = rs.LIMITS["max_body_bytes"]
        good = self.valid_payload()
        msg = "The message exceeds the limit of %d bytes." % limit
        # a prefix that claims more than the limit, with a short body
        self.assertGrpcStatus(self.raw_h2(rs.frame(good, length=limit + 1)), grpc.StatusCode.RESOURCE_EXHAUSTED,
                              msg, "PayloadTooLarge")
        self.assertGrpcStatus(self.raw_h2(rs.frame(good, length=0xffffffff)), grpc.StatusCode.RESOURCE_EXHAUSTED,
                              msg, "PayloadTooLarge")

    def test_frame_flags(self):
        good = self.valid_payload()
        self.assertGrpcStatus(self.raw_h2(rs.frame(good, flag=1)), grpc.StatusCode.INVALID_ARGUMENT,
                              "The message is flagged compressed but the call names no grpc-encoding.", "InvalidBody")
        self.assertGrpcStatus(self.raw_h2(rs.frame(good, flag=0x80)), grpc.StatusCode.INVALID_ARGUMENT,
                              "The request's frame is not a data frame.", "InvalidBody")

    def test_unknown_method_path_raw(self):
        path = "/%s/Nope" % rs.SERVICE
        self.assertGrpcStatus(self.raw_h2(rs.frame(self.valid_payload()), path=path),
                              grpc.StatusCode.UNIMPLEMENTED, "Unknown method %s." % path, "Unimplemented")
        self.assertGrpcStatus(self.raw_h2(rs.frame(b""), path="/"), grpc.StatusCode.UNIMPLEMENTED,
                              "Unknown method /.", "Unimplemented")

    def test_wrong_content_type(self):
        # not a gRPC request at all: the gRPC spec's answer is HTTP 415
        series = 'hookgate_requests_total{route="rpc_create",protocol="grpc",status="415"} '
        before = self.metric(series)
        for ct in ("application/json", "text/plain", "application/proto"):
            status, fields, _ = self.raw_h2(rs.frame(self.valid_payload()), content_type=ct)
            self.assertEqual(status, 415, ct)
            self.assertNotIn("grpc-status", fields)
        # counted under its HTTP status, with no grpc_status label: it carried none
        self.assertEqual(self.metric(series), before + 3)
        text = rs.http1(SERVER.port, "GET", "/metrics")[2].decode()
        self.assertNotIn('grpc_status="415"', text)
        self.assertNotRegex(text, r'protocol="grpc",status="(?!200"|415")')

    @staticmethod
    def metric(series):
        """The value of one series of /metrics now (0 when absent)."""
        for line in rs.http1(SERVER.port, "GET", "/metrics")[2].decode().splitlines():
            if line.startswith(series):
                return int(line[len(series):])
        return 0

    def read_until_closed(self, sock):
        """Reads what the server sends until it closes the connection; a hang fails the test
        through the socket timeout."""
        sock.settimeout(rs.CALL_TIMEOUT)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def test_not_http2_at_all(self):
        # an HTTP/1.1 request, and garbage after a valid HTTP/2 preface: the server closes the
        # connection (after its SETTINGS, and a GOAWAY for the second) and serves on
        for payload in (b"GET / HTTP/1.1\r\nhost: x\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64):
            with socket.create_connection(("127.0.0.1", SERVER.grpc_ports[0]), timeout=rs.CALL_TIMEOUT) as sock:
                sock.sendall(payload)
                data = self.read_until_closed(sock)
            self.assertEqual(data[3:4], b"\x04", "the first frame the server sends is SETTINGS")
            self.assertTrue(SERVER.alive())
        # a TLS ClientHello on the cleartext listener, HTTP/2 on the TLS one
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", SERVER.grpc_ports[0]), timeout=rs.CALL_TIMEOUT) as raw:
            with self.assertRaises((ssl.SSLError, OSError)):
                ctx.wrap_socket(raw, server_hostname="localhost").do_handshake()
        with socket.create_connection(("127.0.0.1", SERVER.grpc_ports[1]), timeout=rs.CALL_TIMEOUT) as sock:
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            self.read_until_closed(sock)
        self.assertTrue(SERVER.alive())

    def test_raw_frame_of_a_good_message_is_served(self):
        # the control for the cases above: the same curl call with an honest frame works
        body = pb.GetWebhookRequest(id="0" * 24).SerializeToString()
        msg = "Webhook with id %s does not exist." % ("0" * 24)
        for ct in ("application/grpc", "application/grpc+proto"):
            self.assertGrpcStatus(self.raw_h2(rs.frame(body), path=METHOD_PATH % "GetWebhook", content_type=ct),
                                  grpc.StatusCode.NOT_FOUND, msg, "NotFound")

    def test_request_headers_over_their_bound(self):
        # the stream keeps at most 16384 bytes of path, content-type and authorization
        req = pb.ListWebhooksRequest(ecosystem_id=rs.ECO_BAD)
        msg = "Invalid authorization token."
        self.assertRpcError(lambda: self.client.list(req, token="t" * 16000), grpc.StatusCode.UNAUTHENTICATED, msg,
                            "Unauthenticated", [("", "", msg)])
        msg = "Request headers exceed 16384 bytes."
        self.assertRpcError(lambda: self.client.list(req, token="t" * 17000), grpc.StatusCode.RESOURCE_EXHAUSTED, msg,
                            "PayloadTooLarge", [("", "", msg)])
        path = "/%s/%s" % (rs.SERVICE, "X" * 17000)
        call = self.client.channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        self.assertRpcError(lambda: call(b"", metadata=auth(), timeout=rs.CALL_TIMEOUT),
                            grpc.StatusCode.RESOURCE_EXHAUSTED, msg, "PayloadTooLarge", [("", "", msg)])


class TestDeadlines(GrpcTestCase):
    """grpc-timeout: every grpcio call here sends one (timeout=), so a generous deadline is the
    common case; these are the others. A body that never ends, and 0n, are in connect.test.mjs:
    Node's HTTP/2 client can hold a request open (curl cannot while it waits on its input),
    and takes an answer followed by RST_STREAM NO_ERROR (curl 7.88 reports error 92)."""

    raw_h2 = TestBadInput.raw_h2
    assertGrpcStatus = TestBadInput.assertGrpcStatus

    def tearDown(self):
        self.assertTrue(SERVER.alive(), "hookgate died; log:\n" + SERVER.log()[-4000:])
        self.assertEqual(self.list_ids(rs.ECO_BAD), [])

    def test_malformed(self):
        body = rs.frame(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_BAD, url="https://example.com/x")
                        .SerializeToString())
        msg = "InvalidParams: grpc-timeout: must be given once, as 1 to 8 digits and a unit (H, M, S, m, u or n)"
        for value in ("300", "300ms", "1.5S", "123456789m", "-1S"):
            status, fields, answer = rs.h2(TMP, SERVER.grpc_ports[0], "POST", METHOD_PATH % "CreateWebhook",
                                           {"content-type": "application/grpc", "te": "trailers",
                                            "authorization": rs.TOKEN, "grpc-timeout": value}, body)
            self.assertGrpcStatus((status, fields, answer), grpc.StatusCode.INVALID_ARGUMENT, msg, "InvalidParams")

    def test_generous_deadline(self):
        req = pb.ListWebhooksRequest(ecosystem_id=rs.ECO_BAD)
        callable_ = self.client.channel.unary_unary(METHOD_PATH % "ListWebhooks",
                                                    request_serializer=pb.ListWebhooksRequest.SerializeToString,
                                                    response_deserializer=pb.ListWebhooksResponse.FromString)
        for timeout in (60, 3600, 10 ** 7):  # the last beyond the one-day cap
            self.assertEqual(list(callable_(req, metadata=auth(), timeout=timeout).items), [])


# --- across protocols -------------------------------------------------------------------------


def webhook_from_json(obj):
    """A REST/Connect JSON webhook → the Webhook message (createdAt parsed to the millisecond)."""
    from google.protobuf import json_format
    w = pb.Webhook()
    json_format.ParseDict(obj, w)
    return w


class H2oProtocols:
    """Create/get over each protocol of the h2o listener, written out from the specs with
    python3-protobuf messages: JSON REST, binary REST, Connect JSON, Connect proto, gRPC-Web."""

    def __init__(self, port):
        self.port = port

    def _post(self, path, content_type, body, accept=None):
        headers = {"content-type": content_type, "authorization": rs.TOKEN}
        if accept:
            headers["accept"] = accept
        return rs.http1(self.port, "POST", path, headers, body)

    def _get(self, path, accept=None):
        headers = {"authorization": rs.TOKEN}
        if accept:
            headers["accept"] = accept
        return rs.http1(self.port, "GET", path, headers)

    def create(self, protocol, req):
        from google.protobuf import json_format
        if protocol == "json-rest":
            status, _, body = self._post("/api/webhooks", "application/json",
                                         json.dumps(json_format.MessageToDict(req)).encode())
            assert status == 201, (status, body)
            return webhook_from_json(json.loads(body))
        if protocol == "binary-rest":
            status, fields, body = self._post("/api/webhooks", "application/x-protobuf", req.SerializeToString())
            assert status == 201 and fields["content-type"] == "application/x-protobuf", (status, fields)
            return pb.Webhook.FromString(body)
        return self._call(protocol, "CreateWebhook", req, pb.Webhook)

    def get(self, protocol, id_):
        if protocol == "json-rest":
            status, _, body = self._get("/api/webhooks/" + id_)
            assert status == 200, (status, body)
            return webhook_from_json(json.loads(body))
        if protocol == "binary-rest":
            status, fields, body = self._get("/api/webhooks/" + id_, accept="application/x-protobuf")
            assert status == 200 and fields["content-type"] == "application/x-protobuf", (status, fields)
            return pb.Webhook.FromString(body)
        return self._call(protocol, "GetWebhook", pb.GetWebhookRequest(id=id_), pb.Webhook)

    def list(self, protocol, ecosystem_id):
        """Every webhook of the ecosystem, page by page."""
        items, token = [], ""
        while True:
            page = self.list_page(protocol, pb.ListWebhooksRequest(ecosystem_id=ecosystem_id, page_token=token))
            items += page.items
            if not page.HasField("next_page_token"):
                return items
            token = page.next_page_token

    @staticmethod
    def _query(req):
        q = "?ecosystemId=" + req.ecosystem_id
        if req.limit:
            q += "&limit=%d" % req.limit
        if req.page_token:
            q += "&pageToken=" + req.page_token
        return q

    def list_page(self, protocol, req):
        """One ListWebhooksResponse; the JSON REST body must be {"items":[...]}, with
        nextPageToken after items only when another page follows."""
        from google.protobuf import json_format
        if protocol == "json-rest":
            status, _, body = self._get("/api/webhooks" + self._query(req))
            assert status == 200, (status, body)
            obj = json.loads(body)
            assert list(obj.keys()) in (["items"], ["items", "nextPageToken"]), obj.keys()
            return json_format.ParseDict(obj, pb.ListWebhooksResponse())
        if protocol == "binary-rest":
            status, _, body = self._get("/api/webhooks" + self._query(req), accept="application/x-protobuf")
            assert status == 200, (status, body)
            return pb.ListWebhooksResponse.FromString(body)
        return self._call(protocol, "ListWebhooks", req, pb.ListWebhooksResponse)

    def list_refusal(self, protocol, req):
        """A list the server must refuse as invalid: its ErrorResponse's [(path, message)],
        read from each protocol's own error form."""
        from google.protobuf import json_format
        path = METHOD_PATH % "ListWebhooks"
        if protocol in ("json-rest", "binary-rest"):
            binary = protocol == "binary-rest"
            status, _, body = self._get("/api/webhooks" + self._query(req),
                                        accept="application/x-protobuf" if binary else None)
            assert status == 400, (status, body)
            er = pb.ErrorResponse.FromString(body) if binary else json_format.Parse(body, pb.ErrorResponse())
        elif protocol in ("connect-json", "connect-proto"):
            if protocol == "connect-json":
                status, _, body = self._post(path, "application/json", json_format.MessageToJson(req).encode())
            else:
                status, _, body = self._post(path, "application/proto", req.SerializeToString())
            obj = json.loads(body)
            assert status == 400 and obj["code"] == "invalid_argument", (status, body)
            er = pb.ErrorResponse.FromString(rs.b64decode_any(obj["details"][0]["value"]))
        elif protocol == "grpc-web":
            status, _, body = self._post(path, "application/grpc-web+proto", rs.frame(req.SerializeToString()))
            messages, trailers = rs.grpc_web_parse(body)
            assert status == 200 and trailers.get("grpc-status") == "3" and not messages, (status, trailers)
            st = pb.RpcStatus.FromString(rs.b64decode_any(trailers["grpc-status-details-bin"]))
            er = pb.ErrorResponse.FromString(st.details[0].value)
        else:
            raise ValueError(protocol)
        assert er.error_type == "InvalidParams", er
        return [(e.path, e.message) for e in er.errors]

    def _call(self, protocol, method, req, response_class):
        from google.protobuf import json_format
        path = METHOD_PATH % method
        if protocol == "connect-json":
            status, _, body = self._post(path, "application/json", json_format.MessageToJson(req).encode())
            assert status == 200, (status, body)
            out = response_class()
            json_format.Parse(body, out)
            return out
        if protocol == "connect-proto":
            status, fields, body = self._post(path, "application/proto", req.SerializeToString())
            assert status == 200 and fields["content-type"] == "application/proto", (status, fields, body)
            return response_class.FromString(body)
        if protocol == "grpc-web":
            status, _, body = self._post(path, "application/grpc-web+proto", rs.frame(req.SerializeToString()))
            assert status == 200, (status, body)
            messages, trailers = rs.grpc_web_parse(body)
            assert trailers.get("grpc-status") == "0" and len(messages) == 1, trailers
            return response_class.FromString(messages[0])
        raise ValueError(protocol)


# --- grpc.health.v1.Health ----------------------------------------------------------------------

HEALTH = "grpc.health.v1.Health"
TMPFS_SIZE = "256k"      # the full disk of TestHealthNotServing
MAX_CREATES = 200        # creates until the full disk refuses one (a few fit in the journal's last page)
FILL_CHUNK = 4096


def health_check(channel, service, token=None):
    """Check over native gRPC: the HealthCheckResponse's status (raises grpc.RpcError)."""
    call = channel.unary_unary("/%s/Check" % HEALTH, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                               response_deserializer=health_pb2.HealthCheckResponse.FromString)
    return call(health_pb2.HealthCheckRequest(service=service), metadata=auth(token), timeout=rs.CALL_TIMEOUT).status


def h2o_health_check(port, protocol, service):
    """Check over the h2o listener, written out from the Connect and gRPC-Web specifications,
    without a token: the status's name."""
    from google.protobuf import json_format
    path = "/%s/Check" % HEALTH
    req = health_pb2.HealthCheckRequest(service=service)
    res = health_pb2.HealthCheckResponse()
    if protocol == "connect-json":
        status, _, body = rs.http1(port, "POST", path, {"content-type": "application/json"},
                                   json_format.MessageToJson(req).encode())
        assert status == 200, (status, body)
        json_format.Parse(body, res)
    elif protocol == "connect-proto":
        status, fields, body = rs.http1(port, "POST", path, {"content-type": "application/proto"},
                                        req.SerializeToString())
        assert status == 200 and fields["content-type"] == "application/proto", (status, fields, body)
        res.ParseFromString(body)
    elif protocol == "grpc-web":
        status, _, body = rs.http1(port, "POST", path, {"content-type": "application/grpc-web+proto"},
                                   rs.frame(req.SerializeToString()))
        messages, trailers = rs.grpc_web_parse(body)
        assert status == 200 and trailers.get("grpc-status") == "0" and len(messages) == 1, (status, trailers)
        res.ParseFromString(messages[0])
    else:
        raise ValueError(protocol)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)


H2O_PROTOCOLS = ("connect-json", "connect-proto", "grpc-web")


class TestHealth(GrpcTestCase):
    def test_check_serving_without_a_token(self):
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", rs.SERVICE):
            self.assertEqual(health_check(self.client.channel, service), serving, service)
            # a token, even a wrong one, is not looked at: a probe carries none
            self.assertEqual(health_check(self.client.channel, service, token="wrong-token"), serving)
            for protocol in H2O_PROTOCOLS:
                self.assertEqual(h2o_health_check(SERVER.port, protocol, service), "SERVING", (protocol, service))

    def test_check_unknown_service_is_not_found(self):
        # the health protocol's answer for a service the server does not know: NOT_FOUND
        for service in ("droplit.webhooks.v1.OtherService", HEALTH, rs.SERVICE + "/CreateWebhook",
                        rs.SERVICE.lower(), "ä" * 300):
            msg = "Unknown service %s." % service
            if len(msg.encode()) > 255:  # the reason's bound (ERROR_MESSAGE_MAX), cut at a character
                msg = msg.encode()[:255].decode("utf-8", "ignore")
            self.assertRpcError(lambda: health_check(self.client.channel, service), grpc.StatusCode.NOT_FOUND, msg,
                                "NotFound", [("", "", msg)])

    def test_watch_is_unimplemented(self):
        watch = self.client.channel.unary_stream(
            "/%s/Watch" % HEALTH, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString)
        with self.assertRaises(grpc.RpcError) as cm:
            list(watch(health_pb2.HealthCheckRequest(service=""), timeout=rs.CALL_TIMEOUT))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED, cm.exception.details())

    def test_route_labels_stay_bounded(self):
        """Checks count under the table's route "rpc_other": a service name, known or not,
        never becomes a metrics label."""
        names = ["label-probe-%d" % i for i in range(5)]
        for name in names:
            with self.assertRaises(grpc.RpcError):
                health_check(self.client.channel, name)
            self.assertEqual(rs.http1(SERVER.port, "POST", "/%s/Check" % HEALTH, {"content-type": "application/json"},
                                      json.dumps({"service": name}).encode())[0], 404)
        status, _, body = rs.http1(SERVER.port, "GET", "/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        for name in names + [HEALTH]:
            self.assertNotIn(name, text)
        self.assertRegex(text, r'hookgate_requests_total\{route="rpc_other",protocol="grpc",status="200",'
                               r'grpc_status="5"\} [1-9]')
        self.assertRegex(text, r'hookgate_requests_total\{route="rpc_other",protocol="http1",status="404"\} [1-9]')


class TestHealthNotServing(unittest.TestCase):
    """NOT_SERVING while the journal cannot be written, on every protocol, exactly when GET
    /readyz answers 503; SERVING again once a write succeeds. The store is on a 256 KiB
    tmpfs that a filler file fills (as tests/store/test_disk.py does)."""

    def setUp(self):
        self.tmp = ss.make_tmpdir("health")
        self.mnt = os.path.join(self.tmp, "tmpfs")
        os.mkdir(self.mnt)
        self.server = None
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % TMPFS_SIZE, "tmpfs", self.mnt],
                           capture_output=True, text=True)
        self.mounted = p.returncode == 0
        if not self.mounted:
            self.fail("cannot mount a %s tmpfs on %s (exit %d: %s). This test fills a small disk and must run "
                      "as root (or with CAP_SYS_ADMIN); it does not skip." % (TMPFS_SIZE, self.mnt, p.returncode,
                                                                            p.stderr.strip()))
        self.filler = os.path.join(self.mnt, "filler")

    def tearDown(self):
        if self.server is not None:
            self.server.kill()
        if self.mounted:
            if subprocess.run(["umount", self.mnt]).returncode != 0:
                subprocess.run(["umount", "-l", self.mnt])
        ss.remove_tmpdir(self.tmp)

    def fill_disk(self):
        """Writes the filler until the tmpfs has no byte left."""
        with open(self.filler, "wb", buffering=0) as f:  # unbuffered: nothing left to flush at close
            try:
                while True:
                    f.write(b"\xa5" * FILL_CHUNK)
            except OSError:
                pass
        self.assertGreater(os.path.getsize(self.filler), 0)

    def assert_health(self, channel, port, name):
        """Check answers name for "" and for WebhookService on every protocol."""
        want = health_pb2.HealthCheckResponse.ServingStatus.Value(name)
        for service in ("", rs.SERVICE):
            self.assertEqual(health_check(channel, service), want, "native gRPC, service %r" % service)
            for protocol in H2O_PROTOCOLS:
                self.assertEqual(h2o_health_check(port, protocol, service), name, (protocol, service))

    def test_not_serving_while_the_journal_cannot_be_written(self):
        s = self.server = ss.Server(BINARY, self.tmp, os.path.join(self.mnt, "store"), grpc=True,
                                    snapshot_after_bytes=1 << 30)
        channel = grpc.insecure_channel("127.0.0.1:%d" % s.grpc_port)
        try:
            self.assert_health(channel, s.port, "SERVING")
            self.assertEqual(ss.request(s.port, "GET", "/readyz")[0], 200)
            self.fill_disk()
            for n in range(MAX_CREATES):
                status, _, body = ss.create(s.port, ("full %04d " % n).ljust(900, "z"))
                if status == 503:
                    break
                self.assertEqual(status, 201, body[:300])
            else:
                self.fail("%d creates and the full %s disk never refused one" % (MAX_CREATES, TMPFS_SIZE))
            r_status, _, r_body = ss.request(s.port, "GET", "/readyz")
            self.assertEqual(r_status, 503, "/readyz while the journal cannot be written: %r" % r_body[:300])
            self.assert_health(channel, s.port, "NOT_SERVING")
            # the service name is still judged first
            with self.assertRaises(grpc.RpcError) as cm:
                health_check(channel, "droplit.webhooks.v1.OtherService")
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

            os.unlink(self.filler)
            status, _, body = ss.create(s.port, "after the disk had room again")
            self.assertEqual(status, 201, "the first create after space was freed: %r" % body[:300])
            self.assertEqual(ss.request(s.port, "GET", "/readyz")[0], 200)
            self.assert_health(channel, s.port, "SERVING")
        finally:
            channel.close()
        rc = s.stop()
        self.server = None
        self.assertEqual(rc, 0, "exit code after SIGTERM; log:\n%s" % s.log()[-3000:])


# --- raw HTTP/2 to the gRPC listener (RFC 9113's framing, written out) ---------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
# HEADERS (END_STREAM | END_HEADERS) of a call: POST, http, :path /x, :authority, content-type
H2_CALL_BLOCK = b"\x83\x86\x04\x02/x\x01\x09127.0.0.1\x00\x0ccontent-type\x10application/grpc"
H2_HEADERS, H2_GOAWAY = 1, 7
H2_END_STREAM = 0x1


def h2_call(stream):
    """A whole call (HEADERS that end the stream) on stream: /x, answered UNIMPLEMENTED."""
    return struct.pack(">I", len(H2_CALL_BLOCK))[1:] + b"\x01\x05" + struct.pack(">I", stream) + H2_CALL_BLOCK


class H2Frames:
    """What the server sends on a raw connection, as whole frames (type, flags, stream, payload)."""

    def __init__(self, sock):
        self.sock, self.buf, self.frames, self.eof = sock, b"", [], False

    def read(self, seconds):
        """Reads once (at most seconds); False when nothing came in time."""
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not chunk:
            self.eof = True
        self.buf += chunk
        while len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big"):
            n = int.from_bytes(self.buf[:3], "big")
            self.frames.append((self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff,
                                self.buf[9:9 + n]))
            self.buf = self.buf[9 + n:]
        return True

    def until(self, done, seconds):
        """Reads until done(self) or the end of the connection; False if neither came within seconds
        of quiet."""
        while not done(self) and not self.eof:
            if not self.read(seconds):
                return False
        return done(self)

    def until_closed(self, seconds):
        return self.until(lambda f: f.eof, seconds)

    def answered(self, stream):
        return any(f[0] == H2_HEADERS and f[1] & H2_END_STREAM and f[2] == stream for f in self.frames)


def assert_goaway_last(test, peer, last_stream):
    """The connection ended gracefully: whole frames only, and the last one before the end is
    the one GOAWAY, NO_ERROR, naming last_stream."""
    test.assertTrue(peer.eof)
    test.assertEqual(peer.buf, b"", "a partial frame before the end of the connection")
    test.assertTrue(peer.frames, "the server closed without a frame")
    kind, _, stream, payload = peer.frames[-1]
    test.assertEqual(kind, H2_GOAWAY, "the last frame before the close is not GOAWAY: %r" % (peer.frames[-1],))
    test.assertEqual(stream, 0)
    last, code = struct.unpack(">II", payload[:8])
    test.assertEqual((last & 0x7fffffff, code), (last_stream, 0))  # 0: NO_ERROR
    test.assertEqual(sum(f[0] == H2_GOAWAY for f in peer.frames), 1)


class TestIdleTimeout(unittest.TestCase):
    """server.grpc.idle_timeout_ms: a connection that sends nothing is closed; one that
    keeps sending requests is not. (One that sends only PINGs is closed: tests/e2e/test_conns.py.)"""

    @classmethod
    def setUpClass(cls):
        cls.server = rs.Server(BINARY, TMP, grpc=[None], grpc_idle_ms=1000)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_silent_connection_is_closed(self):
        """With GOAWAY (NO_ERROR, no stream processed), then the end of the connection."""
        with socket.create_connection(("127.0.0.1", self.server.grpc_ports[0])) as sock:
            sock.sendall(H2_PREFACE + H2_SETTINGS)
            peer = H2Frames(sock)
            self.assertTrue(peer.until_closed(10), "a silent connection stayed open")
            assert_goaway_last(self, peer, 0)

    def test_idle_after_calls_goaway_names_the_last(self):
        """Closed for idleness after three calls: the GOAWAY tells the client that stream 5
        was the last one processed, and that nothing went wrong."""
        with socket.create_connection(("127.0.0.1", self.server.grpc_ports[0])) as sock:
            sock.sendall(H2_PREFACE + H2_SETTINGS + b"".join(h2_call(i) for i in (1, 3, 5)))
            peer = H2Frames(sock)
            self.assertTrue(peer.until_closed(10), "an idle connection stayed open")
            assert_goaway_last(self, peer, 5)
            self.assertTrue(all(peer.answered(i) for i in (1, 3, 5)))  # every call was answered first

    def test_grpcio_calls_again_after_an_idle_close(self):
        """grpcio sees the idle close (its channel leaves READY) and connects again for the
        next call, twice over."""
        client = Client(grpc.insecure_channel("127.0.0.1:%d" % self.server.grpc_ports[0]))
        try:
            for _ in range(2):
                with self.assertRaises(grpc.RpcError) as cm:
                    client.get(pb.GetWebhookRequest(id="0123456789abcdef01234567"))
                self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
                # wait for the idle close through the channel's own state, not a sleep
                idle = threading.Event()

                def watch(state):
                    if state in (grpc.ChannelConnectivity.IDLE, grpc.ChannelConnectivity.TRANSIENT_FAILURE):
                        idle.set()
                client.channel.subscribe(watch)
                self.assertTrue(idle.wait(10), "the channel never saw the connection close")
                client.channel.unsubscribe(watch)
        finally:
            client.channel.close()

    def test_talking_connection_stays_open(self):
        with socket.create_connection(("127.0.0.1", self.server.grpc_ports[0])) as sock:
            sock.sendall(H2_PREFACE + H2_SETTINGS)
            for i in range(30):  # 30 x 100 ms: three idle periods, with room for a slow machine
                time.sleep(0.1)
                sock.sendall(h2_call(2 * i + 1))
            sock.setblocking(False)
            try:
                while sock.recv(65536):
                    pass
                self.fail("the server closed a connection that kept sending")
            except BlockingIOError:
                pass  # still open, nothing more to read


class TestShutdownGoaway(unittest.TestCase):
    """SIGTERM: an open gRPC connection gets GOAWAY (NO_ERROR, its last stream) before it closes."""

    def test_goaway_on_sigterm(self):
        server = rs.Server(BINARY, TMP, grpc=[None])
        try:
            with socket.create_connection(("127.0.0.1", server.grpc_ports[0])) as sock:
                sock.sendall(H2_PREFACE + H2_SETTINGS + h2_call(1))
                peer = H2Frames(sock)
                # the call's answer first: then stream 1 is surely processed
                self.assertTrue(peer.until(lambda p: p.answered(1), 10), "the call was not answered")
                server.proc.send_signal(signal.SIGTERM)
                self.assertTrue(peer.until_closed(10), "the connection stayed open after SIGTERM")
                assert_goaway_last(self, peer, 1)
        finally:
            self.assertEqual(server.stop(), 0, server.log()[-3000:])


class TestCrossProtocol(GrpcTestCase):
    """grpcio ↔ every protocol of the h2o listener: what one writes, the other reads equal,
    field for field, createdAt to the millisecond."""

    PROTOCOLS = ("json-rest", "binary-rest", "connect-json", "connect-proto", "grpc-web")

    def test_grpc_create_read_everywhere(self):
        h = H2oProtocols(SERVER.port)
        w = self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_CROSS, url="https://example.com/g?x=1",
                                                       description="from grpcio ✓", secret="k"))
        for protocol in self.PROTOCOLS:
            with self.subTest(protocol=protocol):
                self.assertEqual(h.get(protocol, w.id), w)

    def test_everywhere_create_grpc_reads(self):
        h = H2oProtocols(SERVER.port)
        for protocol in self.PROTOCOLS:
            with self.subTest(protocol=protocol):
                req = pb.CreateWebhookRequest(ecosystem_id=rs.ECO_CROSS, url="https://example.com/" + protocol,
                                              description="via " + protocol, secret="k")
                w = h.create(protocol, req)
                self.assertWebhook(w, rs.ECO_CROSS, req.url, req.description)
                got = self.client.get(pb.GetWebhookRequest(id=w.id))
                self.assertEqual(got, w)
                self.assertEqual(created_at_ms(got.created_at), created_at_ms(w.created_at))

    def test_pages_everywhere(self):
        """Every protocol pages alike: the same pages, and tokens that are the same
        whichever protocol gave them (a walk may change protocol between pages); over
        the maximum page size, or with a made-up token, each refuses naming the field."""
        made = [self.client.create(pb.CreateWebhookRequest(ecosystem_id=rs.ECO_PAGES_CROSS,
                                                           url="https://example.com/x/%d" % i)) for i in range(7)]
        h = H2oProtocols(SERVER.port)
        first_tokens = set()
        for protocol in self.PROTOCOLS:
            with self.subTest(protocol=protocol):
                walked, token, pages = [], "", 0
                while True:
                    req = pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES_CROSS, limit=3, page_token=token)
                    page = h.list_page(protocol, req)
                    walked += page.items
                    pages += 1
                    if not page.HasField("next_page_token"):
                        break
                    token = page.next_page_token
                    if pages == 1:
                        first_tokens.add(token)
                self.assertEqual((walked, pages), (made, 3))
                max_page = rs.LIMITS["max_page_size"]
                over = pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES_CROSS, limit=max_page + 1)
                self.assertEqual(h.list_refusal(protocol, over), [("limit", "must be at most %d" % max_page)])
                bad = pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES_CROSS, page_token="garbage")
                self.assertEqual(h.list_refusal(protocol, bad), [("pageToken", rs.PAGE_TOKEN_MESSAGE)])
        self.assertEqual(len(first_tokens), 1)
        # a token from one protocol goes on over native gRPC
        page = self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_PAGES_CROSS, limit=3,
                                                       page_token=first_tokens.pop()))
        self.assertEqual(list(page.items), made[3:6])

    def test_large_list_everywhere(self):
        """A list answer of ~100 KB: larger than HTTP/2's initial flow-control window and its
        default frame size, so every transport must split and pace it."""
        made = [self.client.create(pb.CreateWebhookRequest(
            ecosystem_id=rs.ECO_BIG, url="https://example.com/%03d/%s" % (i, "p" * 2000), description="big %d" % i))
            for i in range(50)]
        expected = pb.ListWebhooksResponse(items=made)
        self.assertGreater(len(expected.SerializeToString()), 100000)
        self.assertEqual(self.client.list(pb.ListWebhooksRequest(ecosystem_id=rs.ECO_BIG)), expected)
        h = H2oProtocols(SERVER.port)
        for protocol in self.PROTOCOLS:
            with self.subTest(protocol=protocol):
                self.assertEqual(h.list(protocol, rs.ECO_BIG), made)


if __name__ == "__main__":
    BINARY = rs.binary_from_argv()
    unittest.main(verbosity=2)
