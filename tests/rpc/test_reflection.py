#!/usr/bin/python3
"""gRPC server reflection against a real hookgate, with clients nobody here wrote: Debian's
python3-grpcio over native gRPC (one bidirectional stream, each request sent only once the
answer to the one before has come: the server must answer a message while its stream stays
open), and gRPC-Web over the h2o listener (a body of several requests, answered in order).

The reflection messages are classes protoc generates at run time from Debian's grpc-proto
(/usr/share/grpc-proto); the files the server sends are loaded into python3-protobuf's own
descriptor pool, which refuses a file whose imports it has not seen: so every answer must
carry what its file needs, and the pool's view of the service must be the schema's.

Run from the repository root:  /usr/bin/python3 tests/rpc/test_reflection.py build/hookgate
"""
import importlib.util
import os
import queue
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpc_support as rs  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402

GRPC_PROTO = "/usr/share/grpc-proto"
VERSIONS = ("v1", "v1alpha")
SERVED = {"droplit.webhooks.v1.WebhookService", "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
NOT_FOUND = 5
CALL_TIMEOUT = rs.CALL_TIMEOUT

BINARY = None
TMP = None
SERVER = None
pb = {}  # version -> reflection_pb2


def generate_reflection(tmp):
    out = os.path.join(tmp, "py")
    os.makedirs(out, exist_ok=True)
    for v in VERSIONS:
        subprocess.run(["protoc", "--python_out=" + out, "-I", GRPC_PROTO,
                        "grpc/reflection/%s/reflection.proto" % v], check=True)
    modules = {}
    for v in VERSIONS:  # loaded by path: the package name "grpc" is grpcio's
        path = os.path.join(out, "grpc", "reflection", v, "reflection_pb2.py")
        spec = importlib.util.spec_from_file_location("reflection_%s_pb2" % v, path)
        modules[v] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[v])
    return modules


def setUpModule():
    global TMP, SERVER, pb
    TMP = rs.make_tmpdir()
    pb = generate_reflection(TMP)
    SERVER = rs.Server(BINARY, TMP)


def tearDownModule():
    rs.stop_and_clean(SERVER, TMP)


class Conversation:
    """One ServerReflectionInfo stream: ask() sends a request and waits for its answer
    before anything more is sent."""

    def __init__(self, version):
        self.m = pb[version]
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % SERVER.grpc_ports[0])
        call = self.channel.stream_stream("/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % version,
                                          request_serializer=self.m.ServerReflectionRequest.SerializeToString,
                                          response_deserializer=self.m.ServerReflectionResponse.FromString)
        self.requests = queue.Queue()
        self.sent = 0
        self.responses = call(iter(self.requests.get, None), timeout=CALL_TIMEOUT)

    def ask(self, **request):
        req = self.m.ServerReflectionRequest(host="localhost", **request)
        self.requests.put(req)
        self.sent += 1
        res = next(self.responses)
        return req, res

    def close(self):
        self.requests.put(None)
        rest = list(self.responses)
        self.channel.close()
        return rest


def load(pool, files, have):
    """Adds the FileDescriptorProtos not yet in the pool, each after its imports."""
    protos = {}
    for raw in files:
        fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        protos[fd.name] = fd
    pending = [n for n in protos if n not in have]
    while pending:
        ready = [n for n in pending if all(d in have for d in protos[n].dependency)]
        if not ready:
            raise AssertionError("files whose imports never came: %s" % pending)
        for n in ready:
            pool.Add(protos[n])
            have.add(n)
            pending.remove(n)


class ReflectionTest(unittest.TestCase):

    def check_conversation(self, version):
        c = Conversation(version)
        try:
            req, res = c.ask(list_services="")
            self.assertEqual(res.valid_host, "localhost")
            self.assertEqual(res.original_request, req)
            self.assertEqual({s.name for s in res.list_services_response.service}, SERVED)

            # the service by its name: its file and every file that one imports, which the
            # pool takes only in an order where each import came first
            _, res = c.ask(file_containing_symbol="droplit.webhooks.v1.WebhookService")
            self.assertEqual(res.WhichOneof("message_response"), "file_descriptor_response")
            files = res.file_descriptor_response.file_descriptor_proto
            first = descriptor_pb2.FileDescriptorProto.FromString(files[0])
            self.assertEqual(first.name, "droplit/webhooks/v1/webhooks.proto")
            pool, have = descriptor_pool.DescriptorPool(), set()
            load(pool, files, have)
            service = pool.FindServiceByName("droplit.webhooks.v1.WebhookService")
            self.assertIn("CreateWebhook", service.methods_by_name)
            create = service.methods_by_name["CreateWebhook"]
            self.assertEqual(create.input_type.full_name, "droplit.webhooks.v1.CreateWebhookRequest")
            self.assertIn("google.protobuf.Timestamp", [f.message_type.full_name for f in
                                                        create.output_type.fields if f.message_type])

            # nested symbols and methods resolve to the file that defines them
            for symbol in ("droplit.webhooks.v1.WebhookService.GetWebhook", "droplit.webhooks.v1.Webhook.created_at",
                           "google.protobuf.Timestamp", "grpc.health.v1.HealthCheckResponse.ServingStatus",
                           "grpc.reflection.%s.ServerReflection" % version):
                _, res = c.ask(file_containing_symbol=symbol)
                self.assertEqual(res.WhichOneof("message_response"), "file_descriptor_response", symbol)
                load(pool, res.file_descriptor_response.file_descriptor_proto, have)
                pool.FindFileContainingSymbol(symbol)

            _, res = c.ask(file_by_filename="google/protobuf/struct.proto")
            self.assertEqual(descriptor_pb2.FileDescriptorProto.FromString(
                res.file_descriptor_response.file_descriptor_proto[0]).name, "google/protobuf/struct.proto")

            # refusals are answers inside the stream, not the end of it
            for ask in ({"file_containing_symbol": "droplit.webhooks.v1.NoSuchThing"},
                        {"file_by_filename": "no/such.proto"},
                        {"all_extension_numbers_of_type": "droplit.webhooks.v1.NoSuchThing"},
                        {"file_containing_extension": c.m.ExtensionRequest(
                            containing_type="droplit.webhooks.v1.Webhook", extension_number=1000)}):
                req, res = c.ask(**ask)
                self.assertEqual(res.WhichOneof("message_response"), "error_response", ask)
                self.assertEqual(res.error_response.error_code, NOT_FOUND, ask)
                self.assertEqual(res.original_request, req)
            _, res = c.ask(all_extension_numbers_of_type="droplit.webhooks.v1.Webhook")
            self.assertEqual(res.all_extension_numbers_response.base_type_name, "droplit.webhooks.v1.Webhook")
            self.assertEqual(list(res.all_extension_numbers_response.extension_number), [])

            # the schema's REST options: google.api.http extends MethodOptions (number 72295728)
            _, res = c.ask(all_extension_numbers_of_type="google.protobuf.MethodOptions")
            self.assertIn(72295728, list(res.all_extension_numbers_response.extension_number))
            _, res = c.ask(file_containing_extension=c.m.ExtensionRequest(
                containing_type="google.protobuf.MethodOptions", extension_number=72295728))
            self.assertEqual(descriptor_pb2.FileDescriptorProto.FromString(
                res.file_descriptor_response.file_descriptor_proto[0]).name, "google/api/annotations.proto")

            self.assertEqual(c.close(), [])  # the client ends its side: OK, nothing more
        finally:
            c.channel.close()

    def test_v1(self):
        self.check_conversation("v1")

    def test_v1alpha(self):
        self.check_conversation("v1alpha")

    def test_message_that_is_no_request(self):
        """A message that does not decode ends the call INVALID_ARGUMENT, after the answers
        already given."""
        channel = grpc.insecure_channel("127.0.0.1:%d" % SERVER.grpc_ports[0])
        call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        ok = pb["v1"].ServerReflectionRequest(list_services="").SerializeToString()
        it = call(iter([ok, b"\x0a\x05ab"]), timeout=CALL_TIMEOUT)  # a string longer than the message
        first = pb["v1"].ServerReflectionResponse.FromString(next(it))
        self.assertEqual(len(first.list_services_response.service), len(SERVED))
        with self.assertRaises(grpc.RpcError) as e:
            next(it)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        channel.close()

    def test_grpc_web_body_of_requests(self):
        """gRPC-Web: every request the body holds, answered in order, then the status."""
        m = pb["v1alpha"]
        asks = [m.ServerReflectionRequest(list_services=""),
                m.ServerReflectionRequest(file_containing_symbol="droplit.webhooks.v1.NoSuchThing"),
                m.ServerReflectionRequest(file_by_filename="grpc/health/v1/health.proto")]
        body = b"".join(rs.frame(a.SerializeToString()) for a in asks)
        status, headers, raw = rs.http1(SERVER.port, "POST",
                                        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                        {"content-type": "application/grpc-web+proto"}, body)
        self.assertEqual(status, 200)
        messages, trailers = rs.grpc_web_parse(raw)
        self.assertEqual(trailers.get("grpc-status"), "0", trailers)
        answers = [m.ServerReflectionResponse.FromString(x) for x in messages]
        self.assertEqual([a.original_request for a in answers], asks)
        self.assertEqual({s.name for s in answers[0].list_services_response.service}, SERVED)
        self.assertEqual(answers[1].error_response.error_code, NOT_FOUND)
        self.assertEqual(descriptor_pb2.FileDescriptorProto.FromString(
            answers[2].file_descriptor_response.file_descriptor_proto[0]).name, "grpc/health/v1/health.proto")

    def test_connect_is_unimplemented(self):
        """Connect's unary protocol cannot carry a bidirectional stream."""
        status, _, raw = rs.http1(SERVER.port, "POST", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                  {"content-type": "application/proto"}, b"")
        self.assertEqual(status, 501, raw)


if __name__ == "__main__":
    BINARY = rs.binary_from_argv()
    unittest.main()
