// Connect, gRPC-Web, native gRPC and binary REST against a real hookgate, with clients
// nobody here wrote: @connectrpc/connect-node 2.1.1 (Connect, gRPC-Web and gRPC, each
// with binary and JSON messages; over HTTP/1.1 and HTTP/2 where the protocol allows) and @bufbuild/protobuf 2 for the messages. No code generation:
// the service and message descriptors come at run time from the FileDescriptorSet protoc
// makes of proto/. Ends with the cross-protocol test: a webhook created over each of nine
// protocols (Connect GET reading) reads back byte-equal over every one of them. The standard health service
// (grpc.health.v1.Health, from proto/grpc/health/v1/health.proto's descriptor set) is called
// over every transport too.
//
// Run from the repository root (after `npm ci --prefix tests`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/connect.test.mjs
// and on the PostgreSQL store:
//   HOOKGATE_BINARY=build/hookgate /usr/bin/python3 tests/store/with_postgres.py node --test tests/rpc/connect.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";

import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, MethodDescriptorProtoSchema, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";

import {
  CALL_TIMEOUT_MS, PKG, REPO, TRANSPORT_NAMES, connectErrorAsserter, loadSchema, makeTransport, serverYaml, startHookgate,
} from "./support.mjs";

const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-connect-"));

// --- the test configuration -------------------------------------------------------------------

const eco = (n) => "C" + n.toString(16).padStart(24, "0");
const TOKEN = "plain-token";
const SRV_TOKEN = "srv";
const OTHER_TOKEN = "other-token";
const ECO = "C5156b8ace57896adb6dae592"; // acme, server token SRV_TOKEN
const ECO_DELETED = "C59b343ae9ca1fbc8287a3196";
const ECO_OTHER = "C0000000000000000000000aa"; // the other account
const ECO_UNKNOWN = eco(0xdead);
const ECO2 = eco(0x02); // acme; SRV_TOKEN may not touch it
const ECO_REST = eco(0x21);
const ECO_CROSS = eco(0x22);
const ECO_BAD = eco(0x23); // must stay empty
const ECO_TRANSPORT = (i) => eco(0x100 + i); // one per transport, so that lists are exact
const ECO_PAGES = (i) => eco(0x200 + i); // one per transport, paged
const N_TRANSPORTS = 16;
const ECO_GET = ECO_TRANSPORT(N_TRANSPORTS - 1); // no transport's: no webhook, so events there go nowhere
const LIMIT = 65536;
const MAX_PAGE = 1000; // limits.max_page_size
const PAGE_TOKEN_MESSAGE = "invalid page token (not one this server gave for this ecosystem's list)";

function configYaml(httpPort, grpcPort) {
  const acme = [ECO2, ECO_REST, ECO_CROSS, ECO_BAD];
  for (let i = 0; i < N_TRANSPORTS; i++) acme.push(ECO_TRANSPORT(i), ECO_PAGES(i));
  return [
    ...serverYaml(httpPort, grpcPort),
    `limits: { max_body_bytes: ${LIMIT}, max_url_length: 2048, max_description_length: 1024, max_secret_length: 256, default_page_size: 100, max_page_size: ${MAX_PAGE} }`,
    "accounts:",
    "  - id: acme",
    `    tokens: [ "${TOKEN}" ]`,
    "    ecosystems:",
    `      - { id: ${ECO}, server_tokens: [ "${SRV_TOKEN}" ] }`,
    `      - { id: ${ECO_DELETED}, deleted: true }`,
    ...acme.map((e) => `      - { id: ${e} }`),
    "  - id: other",
    `    tokens: [ "${OTHER_TOKEN}" ]`,
    "    ecosystems:",
    `      - { id: ${ECO_OTHER} }`,
    "",
  ].join("\n");
}

// --- the schema, from protoc's descriptor set -------------------------------------------------

const { setBytes: SET_BYTES, registry } = loadSchema(TMP);
const WebhookService = registry.getService(`${PKG}.WebhookService`);
const CreateWebhookRequestSchema = registry.getMessage(`${PKG}.CreateWebhookRequest`);
const WebhookSchema = registry.getMessage(`${PKG}.Webhook`);
const ListWebhooksResponseSchema = registry.getMessage(`${PKG}.ListWebhooksResponse`);
const ErrorResponseSchema = registry.getMessage(`${PKG}.ErrorResponse`);
const RpcStatusSchema = registry.getMessage(`${PKG}.RpcStatus`);
const UpdateWebhookResponseSchema = registry.getMessage(`${PKG}.UpdateWebhookResponse`);
const DeleteWebhookResponseSchema = registry.getMessage(`${PKG}.DeleteWebhookResponse`);
for (const d of [WebhookService, CreateWebhookRequestSchema, WebhookSchema, ErrorResponseSchema, RpcStatusSchema,
  UpdateWebhookResponseSchema, DeleteWebhookResponseSchema]) {
  assert.ok(d, "descriptor missing from the set");
}

// The same schema with a method the server does not have, and the service under a name it
// does not serve: a client calling them must get Code.Unimplemented.
function alteredService(alter) {
  const set = fromBinary(FileDescriptorSetSchema, SET_BYTES);
  const file = set.file.find((f) => f.name === "droplit/webhooks/v1/webhooks.proto");
  alter(file.service[0]);
  return createFileRegistry(set).getService(`${PKG}.${file.service[0].name}`);
}
const ServiceWithExtraMethod = alteredService((s) =>
  s.method.push(create(MethodDescriptorProtoSchema, {
    name: "RenameWebhook", inputType: `.${PKG}.GetWebhookRequest`, outputType: `.${PKG}.Webhook`,
  })));
const ServiceUnknown = alteredService((s) => { s.name = "NoSuchService"; });

// The standard health service, from protoc's descriptor set of the server's health.proto.
function loadHealthRegistry(dir) {
  const setPath = path.join(dir, "health.bin");
  execFileSync("protoc", [`--descriptor_set_out=${setPath}`, "-I", path.join(REPO, "proto"),
    path.join(REPO, "proto", "grpc", "health", "v1", "health.proto")]);
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(setPath)));
}
const healthRegistry = loadHealthRegistry(TMP);
const HealthService = healthRegistry.getService("grpc.health.v1.Health");
const ServingStatus = healthRegistry.getEnum("grpc.health.v1.HealthCheckResponse.ServingStatus");
assert.ok(HealthService && ServingStatus, "health descriptors missing from the set");

// --- the server ---------------------------------------------------------------------------------

let server = null;
const sessionManagers = [];

async function startServer() {
  server = await startHookgate({ dir: TMP, yaml: configYaml });
}

async function stopServer() {
  for (const m of sessionManagers) m.abort();
  if (server === null) return;
  try {
    await server.stop();
  } finally {
    if (!process.env.HOOKGATE_KEEP_TMP) rmSync(TMP, { recursive: true, force: true });
  }
}

function alive() {
  return server.alive();
}

const httpBase = () => `http://127.0.0.1:${server.httpPort}`;
const grpcBase = () => `http://127.0.0.1:${server.grpcPort}`;


const auth = (token = TOKEN) => ({ headers: token === null ? {} : { authorization: token } });

// --- assertions ----------------------------------------------------------------------------------

const ID_RE = /^[0-9a-f]{24}$/;

function assertWebhook(w, ecosystemId, url, description = "") {
  assert.match(w.id, ID_RE);
  assert.equal(w.description, description);
  assert.equal(w.ecosystemId, ecosystemId);
  assert.equal(w.url, url);
  assert.equal(w.disabled, false);
  assert.ok(w.createdAt, "createdAt is set");
  assert.equal(w.createdAt.nanos % 1000000, 0, "createdAt has millisecond precision");
  assert.equal(w.createdAt.seconds, BigInt(parseInt(w.id.slice(0, 8), 16)), "the id's second is createdAt's");
}

const assertConnectError = connectErrorAsserter(ErrorResponseSchema);

// --- one suite per client transport ----------------------------------------------------------------

assert.ok(TRANSPORT_NAMES.length < N_TRANSPORTS, "an ecosystem per transport, and ECO_GET");

before(startServer);
after(stopServer);

describe("every transport", () => {
  TRANSPORT_NAMES.forEach((name, i) => { // every client transport (support.mjs)
    describe(name, () => {
      const t = { name, eco: ECO_TRANSPORT(i) };
      let client;
      before(() => {
        t.transport = makeTransport(name, server, sessionManagers);
        client = createClient(WebhookService, t.transport);
      });

      test("create, get, list", async () => {
        const made = [];
        for (let k = 0; k < 3; k++) {
          const req = { ecosystemId: t.eco, url: `https://example.com/${i}/${k}`, secret: "s", description: `d ${k} ✓` };
          const w = await client.createWebhook(req, auth());
          assertWebhook(w, t.eco, req.url, req.description);
          made.push(w);
        }
        for (const w of made) {
          const got = await client.getWebhook({ id: w.id }, auth());
          assert.deepEqual(toBinary(WebhookSchema, got), toBinary(WebhookSchema, w));
        }
        const list = await client.listWebhooks({ ecosystemId: t.eco }, auth("Bearer " + TOKEN));
        assert.deepEqual(list.items.map((w) => toBinary(WebhookSchema, w)), made.map((w) => toBinary(WebhookSchema, w)));
        const empty = await client.listWebhooks({ ecosystemId: ECO_BAD }, auth());
        assert.equal(empty.items.length, 0);
      });

      test("pages: limit and pageToken in, nextPageToken out only while more follow", async () => {
        const e = ECO_PAGES(i);
        const bin = (w) => toBinary(WebhookSchema, w);
        const made = [];
        for (let k = 0; k < 5; k++) made.push(await client.createWebhook({ ecosystemId: e, url: `https://example.com/p/${k}` }, auth()));
        const walked = [];
        let pageToken = "";
        let pages = 0;
        for (;;) {
          const page = await client.listWebhooks({ ecosystemId: e, limit: 2, pageToken }, auth());
          walked.push(...page.items);
          pages++;
          if (page.nextPage.case !== "nextPageToken") break;
          assert.equal(page.items.length, 2);
          pageToken = page.nextPage.value;
          if (pages === 1) made.push(await client.createWebhook({ ecosystemId: e, url: "https://example.com/p/new" }, auth()));
        }
        assert.deepEqual(walked.map(bin), made.map(bin)); // 5, and the one made while walking, once each
        assert.equal(pages, 3);
        const whole = await client.listWebhooks({ ecosystemId: e, limit: MAX_PAGE }, auth());
        assert.deepEqual([whole.items.map(bin), whole.nextPage.case], [made.map(bin), undefined]);
        await assertConnectError(() => client.listWebhooks({ ecosystemId: e, limit: MAX_PAGE + 1 }, auth()),
          Code.InvalidArgument, `InvalidParams: limit: must be at most ${MAX_PAGE}`, "InvalidParams",
          [["body", "limit", `must be at most ${MAX_PAGE}`]]);
        await assertConnectError(() => client.listWebhooks({ ecosystemId: e, pageToken: "garbage" }, auth()),
          Code.InvalidArgument, `InvalidParams: pageToken: ${PAGE_TOKEN_MESSAGE}`, "InvalidParams",
          [["body", "pageToken", PAGE_TOKEN_MESSAGE]]);
      });

      test("update and delete", async () => {
        const w = await client.createWebhook({ ecosystemId: t.eco, url: `https://example.com/${i}/u`, description: "d" }, auth());
        const answer = await client.updateWebhook(
          { id: w.id, changes: { url: `https://example.com/${i}/changed`, disabledSet: { case: "disabled", value: true } } },
          auth());
        assert.equal(toBinary(UpdateWebhookResponseSchema, answer).length, 0); // the empty message
        const got = await client.getWebhook({ id: w.id }, auth());
        assert.equal(got.url, `https://example.com/${i}/changed`);
        assert.equal(got.disabled, true);
        assert.equal(got.description, "d"); // left out: kept
        assert.equal(timestampMs(got.createdAt), timestampMs(w.createdAt));
        // a field given as its default value is set: presence (each optional field is alone in a
        // oneof), not value
        await client.updateWebhook({ id: w.id, changes: { url: got.url, descriptionSet: { case: "description", value: "" },
          disabledSet: { case: "disabled", value: false } } }, auth());
        const again = await client.getWebhook({ id: w.id }, auth());
        assert.deepEqual([again.description, again.disabled], ["", false]);
        await assertConnectError(
          () => client.updateWebhook({ id: "XYZ", changes: { url: "ftp://x" } }, auth()), Code.InvalidArgument,
          "InvalidParams: id: invalid id; url: invalid url", "InvalidParams",
          [["body", "id", "invalid id"], ["body", "url", "invalid url"]]);
        const msg = `Webhook with id ${w.id} does not exist.`;
        for (const token of [SRV_TOKEN, OTHER_TOKEN]) {
          await assertConnectError(() => client.updateWebhook({ id: w.id, changes: { url: "https://evil.example" } },
            auth(token)), Code.NotFound, msg, "NotFound", [["", "", msg]]);
          await assertConnectError(() => client.deleteWebhook({ id: w.id }, auth(token)), Code.NotFound, msg,
            "NotFound", [["", "", msg]]);
        }
        const deleted = await client.deleteWebhook({ id: w.id }, auth());
        assert.equal(toBinary(DeleteWebhookResponseSchema, deleted).length, 0);
        await assertConnectError(() => client.getWebhook({ id: w.id }, auth()), Code.NotFound, msg, "NotFound",
          [["", "", msg]]);
        await assertConnectError(() => client.deleteWebhook({ id: w.id }, auth()), Code.NotFound, msg, "NotFound",
          [["", "", msg]]);
        assert.ok(!(await client.listWebhooks({ ecosystemId: t.eco }, auth())).items.some((x) => x.id === w.id));
      });

      test("server token on its own ecosystem", async () => {
        const w = await client.createWebhook({ ecosystemId: ECO, url: "https://example.com/srv" }, auth(SRV_TOKEN));
        assertWebhook(w, ECO, "https://example.com/srv");
        assert.equal((await client.getWebhook({ id: w.id }, auth(SRV_TOKEN))).id, w.id);
      });

      test("invalid argument, with every parameter problem", async () => {
        await assertConnectError(
          () => client.createWebhook({ ecosystemId: "nope", url: "mailto:x@example.com", secret: "s".repeat(257) }, auth()),
          Code.InvalidArgument,
          "InvalidParams: ecosystemId: invalid id; url: invalid url; secret: must be at most 256 bytes",
          "InvalidParams",
          [["body", "ecosystemId", "invalid id"], ["body", "url", "invalid url"], ["body", "secret", "must be at most 256 bytes"]],
        );
        await assertConnectError(() => client.createWebhook({}, auth()), Code.InvalidArgument,
          "InvalidParams: ecosystemId: field is required; url: field is required", "InvalidParams",
          [["body", "ecosystemId", "field is required"], ["body", "url", "field is required"]]);
        await assertConnectError(() => client.getWebhook({ id: "XYZ" }, auth()), Code.InvalidArgument,
          "InvalidParams: id: invalid id", "InvalidParams", [["body", "id", "invalid id"]]);
        await assertConnectError(() => client.listWebhooks({}, auth()), Code.InvalidArgument,
          "InvalidParams: ecosystemId: field is required", "InvalidParams", [["body", "ecosystemId", "field is required"]]);
      });

      test("not found", async () => {
        for (const e of [ECO_UNKNOWN, ECO_DELETED, ECO_OTHER]) {
          const msg = `Ecosystem with id ${e} does not exist.`;
          await assertConnectError(() => client.createWebhook({ ecosystemId: e, url: "https://example.com" }, auth()),
            Code.NotFound, msg, "NotFound", [["", "", msg]]);
          await assertConnectError(() => client.listWebhooks({ ecosystemId: e }, auth()), Code.NotFound, msg,
            "NotFound", [["", "", msg]]);
        }
        const id = "0123456789abcdef01234567";
        const msg = `Webhook with id ${id} does not exist.`;
        await assertConnectError(() => client.getWebhook({ id }, auth()), Code.NotFound, msg, "NotFound", [["", "", msg]]);
      });

      test("unauthenticated", async () => {
        for (const [token, msg] of [[null, "Missing authorization token."], ["bad", "Invalid authorization token."]]) {
          await assertConnectError(() => client.listWebhooks({ ecosystemId: ECO }, auth(token)), Code.Unauthenticated,
            msg, "Unauthenticated", [["", "", msg]]);
          await assertConnectError(() => client.createWebhook({ ecosystemId: ECO, url: "https://e.com" }, auth(token)),
            Code.Unauthenticated, msg, "Unauthenticated", [["", "", msg]]);
        }
      });

      test("permission denied", async () => {
        const msg = "Token not permitted for this ecosystem.";
        await assertConnectError(() => client.createWebhook({ ecosystemId: ECO2, url: "https://e.com" }, auth(SRV_TOKEN)),
          Code.PermissionDenied, msg, "PermissionDenied", [["", "", msg]]);
        await assertConnectError(() => client.listWebhooks({ ecosystemId: ECO2 }, auth(SRV_TOKEN)),
          Code.PermissionDenied, msg, "PermissionDenied", [["", "", msg]]);
      });

      test("resource exhausted past max_body_bytes, nothing stored", async () => {
        await assertConnectError(
          () => client.createWebhook({ ecosystemId: ECO_BAD, url: "https://e.com", description: "x".repeat(LIMIT + 10) }, auth()),
          Code.ResourceExhausted, undefined, "PayloadTooLarge",
          [["", "", name.startsWith("grpc (")
            ? `The message exceeds the limit of ${LIMIT} bytes.` // native gRPC limits the message
            : `Request body exceeds the limit of ${LIMIT} bytes.`]]);
        assert.equal((await client.listWebhooks({ ecosystemId: ECO_BAD }, auth())).items.length, 0);
      });

      test("grpc.health.v1.Health/Check: SERVING without a token; NOT_FOUND for another service", async () => {
        const health = createClient(HealthService, t.transport);
        for (const service of ["", `${PKG}.WebhookService`]) {
          const res = await health.check({ service }); // no token: a probe carries none
          assert.equal(ServingStatus.value[res.status]?.name, "SERVING", `service ${JSON.stringify(service)}`);
        }
        for (const service of [`${PKG}.OtherService`, "grpc.health.v1.Health", `${PKG}.WebhookService/GetWebhook`]) {
          const msg = `Unknown service ${service}.`;
          await assertConnectError(() => health.check({ service }), Code.NotFound, msg, "NotFound", [["", "", msg]]);
        }
      });

      test("unknown method and unknown service: unimplemented", async () => {
        const extra = createClient(ServiceWithExtraMethod, t.transport);
        const msg = `Unknown method /${PKG}.WebhookService/RenameWebhook.`;
        await assertConnectError(() => extra.renameWebhook({ id: "0".repeat(24) }, auth()), Code.Unimplemented, msg,
          "Unimplemented", [["", "", msg]]);
        // the extended client still calls the real methods
        assert.equal((await extra.listWebhooks({ ecosystemId: ECO_BAD }, auth())).items.length, 0);
        const unknown = createClient(ServiceUnknown, t.transport);
        await assert.rejects(() => unknown.listWebhooks({ ecosystemId: ECO_BAD }, auth()), (e) => {
          assert.equal(Code[ConnectError.from(e).code], Code[Code.Unimplemented]);
          return true;
        });
      });
    });
  });
});

// --- binary REST, encoded and decoded with @bufbuild/protobuf ------------------------------------

const PROTO = "application/x-protobuf";

async function restCreate(req, { contentType = PROTO, token = TOKEN, query = "" } = {}) {
  const headers = { "content-type": contentType };
  if (token !== null) headers.authorization = token;
  const res = await fetch(`${httpBase()}/api/webhooks${query}`, {
    method: "POST", headers, body: toBinary(CreateWebhookRequestSchema, create(CreateWebhookRequestSchema, req)),
  });
  return { res, body: new Uint8Array(await res.arrayBuffer()) };
}

async function restGet(pathAndQuery, { accept = PROTO, token = TOKEN } = {}) {
  const headers = {};
  if (accept !== null) headers.accept = accept;
  if (token !== null) headers.authorization = token;
  const res = await fetch(`${httpBase()}${pathAndQuery}`, { headers });
  return { res, body: new Uint8Array(await res.arrayBuffer()) };
}

function assertRestError({ res, body }, status, errorType, errors) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get("content-type"), PROTO);
  const er = fromBinary(ErrorResponseSchema, body);
  assert.equal(er.errorType, errorType);
  assert.deepEqual(er.errors.map((p) => [p.in, p.path, p.message]), errors);
}

describe("binary REST", () => {
  test("create: 201, Location, binary Webhook; read back with Accept", async () => {
    for (const contentType of [PROTO, "application/protobuf", "application/x-protobuf; charset=binary"]) {
      const req = { ecosystemId: ECO_REST, url: "https://example.com/rest", secret: "k", description: contentType };
      const { res, body } = await restCreate(req, { contentType });
      assert.equal(res.status, 201, contentType);
      // answered in the media type it was asked in
      assert.equal(res.headers.get("content-type"), contentType.startsWith("application/protobuf") ? "application/protobuf" : PROTO);
      const w = fromBinary(WebhookSchema, body);
      assertWebhook(w, ECO_REST, req.url, req.description);
      assert.equal(res.headers.get("location"), `/api/webhooks/${w.id}`);
      for (const accept of [PROTO, "application/protobuf", "text/html, application/x-protobuf;q=0.9"]) {
        const got = await restGet(res.headers.get("location"), { accept });
        assert.equal(got.res.status, 200);
        assert.equal(got.res.headers.get("content-type"), accept === "application/protobuf" ? accept : PROTO);
        assert.deepEqual(got.body, body, "the read is byte-equal to the create's answer");
      }
      // without Accept: JSON of the same webhook
      const json = await restGet(res.headers.get("location"), { accept: null });
      assert.equal(json.res.headers.get("content-type"), "application/json");
      assert.deepEqual(toBinary(WebhookSchema, fromJson(WebhookSchema, JSON.parse(Buffer.from(json.body).toString()))), body);
    }
    const list = await restGet(`/api/webhooks?ecosystemId=${ECO_REST}`);
    assert.equal(list.res.status, 200);
    assert.equal(list.res.headers.get("content-type"), PROTO);
    const items = fromBinary(ListWebhooksResponseSchema, list.body).items;
    assert.equal(items.length, 3);
    for (const w of items) assertWebhook(w, ECO_REST, "https://example.com/rest", w.description);
    const empty = await restGet(`/api/webhooks?ecosystemId=${ECO_BAD}`);
    assert.equal(empty.res.status, 200);
    assert.equal(fromBinary(ListWebhooksResponseSchema, empty.body).items.length, 0);
  });

  test("errors are binary ErrorResponses with the same status codes as JSON", async () => {
    assertRestError(await restCreate({ ecosystemId: "C5156B8ACE57896ADB6DAE592", url: "ftp://x" }), 400, "InvalidParams",
      [["body", "ecosystemId", "invalid id"], ["body", "url", "invalid url"]]);
    assertRestError(await restCreate({ ecosystemId: ECO_REST, url: "https://e.com" }, { query: "?foo=1&bar=2" }), 400,
      "InvalidParams", [["query", "additional parameters", "contains fields that are not allowed: [ foo, bar ]"]]);
    assertRestError(await restCreate({ ecosystemId: ECO_REST, url: "https://e.com" }, { token: null }), 401,
      "Unauthenticated", [["", "", "Missing authorization token."]]);
    assertRestError(await restCreate({ ecosystemId: ECO_REST, url: "https://e.com" }, { token: "Bearer nope" }), 401,
      "Unauthenticated", [["", "", "Invalid authorization token."]]);
    assertRestError(await restCreate({ ecosystemId: ECO2, url: "https://e.com" }, { token: SRV_TOKEN }), 403,
      "PermissionDenied", [["", "", "Token not permitted for this ecosystem."]]);
    for (const e of [ECO_UNKNOWN, ECO_DELETED, ECO_OTHER]) {
      assertRestError(await restCreate({ ecosystemId: e, url: "https://e.com" }), 404, "NotFound",
        [["", "", `Ecosystem with id ${e} does not exist.`]]);
      assertRestError(await restGet(`/api/webhooks?ecosystemId=${e}`), 404, "NotFound",
        [["", "", `Ecosystem with id ${e} does not exist.`]]);
    }
    assertRestError(await restCreate({ ecosystemId: ECO_BAD, url: "https://e.com", description: "x".repeat(LIMIT) }), 413,
      "PayloadTooLarge", [["", "", `Request body exceeds the limit of ${LIMIT} bytes.`]]);
    // reads: errors in binary when Accept asks for it
    const id = "0123456789abcdef01234567";
    assertRestError(await restGet(`/api/webhooks/${id}`), 404, "NotFound", [["", "", `Webhook with id ${id} does not exist.`]]);
    assertRestError(await restGet("/api/webhooks/XYZ"), 400, "InvalidParams", [["path", "id", "invalid id"]]);
    assertRestError(await restGet(`/api/webhooks/${id}`, { token: null }), 401, "Unauthenticated",
      [["", "", "Missing authorization token."]]);
    assertRestError(await restGet("/api/webhooks"), 400, "InvalidParams", [["query", "ecosystemId", "field is required"]]);
    assertRestError(await restGet(`/api/webhooks?ecosystemId=${ECO_REST}&x=1`), 400, "InvalidParams",
      [["query", "additional parameters", "contains fields that are not allowed: [ x ]"]]);
    assertRestError(await restGet(`/api/webhooks?ecosystemId=${ECO2}`, { token: SRV_TOKEN }), 403, "PermissionDenied",
      [["", "", "Token not permitted for this ecosystem."]]);
    // nothing of the above was stored
    assert.equal(fromBinary(ListWebhooksResponseSchema, (await restGet(`/api/webhooks?ecosystemId=${ECO_BAD}`)).body).items.length, 0);
    assert.equal(fromBinary(ListWebhooksResponseSchema, (await restGet(`/api/webhooks?ecosystemId=${ECO2}`)).body).items.length, 0);
  });
});

// --- gRPC-Web-text, which connect-es does not speak: raw node:http / node:http2 --------------------

function frame(payload, flag = 0) {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flag;
  out.writeUInt32BE(payload.length, 1);
  Buffer.from(payload).copy(out, 5);
  return out;
}

function parseGrpcWeb(body) {
  const messages = [];
  let trailers = null;
  for (let i = 0; i < body.length;) {
    assert.ok(body.length - i >= 5, "truncated frame header");
    const flag = body[i];
    const n = body.readUInt32BE(i + 1);
    const payload = body.subarray(i + 5, i + 5 + n);
    assert.equal(payload.length, n, "truncated frame");
    assert.equal(trailers, null, "a frame after the trailer frame");
    i += 5 + n;
    if (flag & 0x80) {
      trailers = {};
      for (const line of payload.toString("latin1").split("\r\n")) {
        if (!line) continue;
        const c = line.indexOf(":");
        trailers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
    } else {
      assert.equal(flag, 0, "unexpected frame flag");
      messages.push(payload);
    }
  }
  assert.ok(trailers !== null, "no trailer frame");
  return { messages, trailers };
}

function rawPost1(pathName, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.httpPort, method: "POST", path: pathName, headers,
      timeout: CALL_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

function rawPost2(pathName, headers, body) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(httpBase());
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": pathName, ...headers });
    req.setTimeout(CALL_TIMEOUT_MS, () => req.close(http2.constants.NGHTTP2_CANCEL));
    const chunks = [];
    let head;
    req.on("response", (h) => { head = h; });
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      session.close();
      resolve({ status: head[":status"], headers: head, body: Buffer.concat(chunks) });
    });
    req.on("error", (e) => { session.close(); reject(e); });
    req.end(body);
  });
}

// --- deadlines: connect-timeout-ms and grpc-timeout ------------------------------------------------
// Every transport above sends a generous one on every call (defaultTimeoutMs); these are the
// deadlines that pass, and the malformed ones, through Node's own HTTP/2 client and fetch.

describe("deadlines", () => {
  const frame = (bytes) => {
    const out = new Uint8Array(5 + bytes.length);
    new DataView(out.buffer).setUint32(1, bytes.length);
    out.set(bytes, 5);
    return out;
  };
  const createBytes = () => toBinary(CreateWebhookRequestSchema,
    create(CreateWebhookRequestSchema, { ecosystemId: ECO_BAD, url: "https://example.com/deadline" }));

  test("native gRPC: a body that never ends gets DEADLINE_EXCEEDED while it is still open", async () => {
    const session = http2.connect(grpcBase());
    try {
      const started = Date.now();
      const stream = session.request({
        ":method": "POST", ":path": `/${PKG}.WebhookService/CreateWebhook`, "content-type": "application/grpc",
        te: "trailers", authorization: TOKEN, "grpc-timeout": "300m",
      });
      stream.write(frame(createBytes()).subarray(0, 7)); // part of the message; the stream stays open
      const headers = await new Promise((resolve, reject) => {
        stream.on("response", resolve);
        stream.on("error", reject);
        setTimeout(() => reject(new Error("no answer while the body was open")), CALL_TIMEOUT_MS);
      });
      const elapsed = Date.now() - started;
      assert.equal(headers["grpc-status"], "4");
      assert.equal(decodeURIComponent(headers["grpc-message"]),
        "The call's deadline (grpc-timeout 300m) passed before its answer.");
      assert.ok(elapsed >= 300, `answered after ${elapsed} ms, before the deadline`);
      stream.close();
    } finally {
      session.close();
    }
    assert.equal((await createClient(WebhookService, makeTransport("connect http/1.1 json", server, sessionManagers))
      .listWebhooks({ ecosystemId: ECO_BAD }, auth())).items.length, 0);
  });

  test("native gRPC: 0n is DEADLINE_EXCEEDED, and the call is never begun", async () => {
    const session = http2.connect(grpcBase());
    try {
      const stream = session.request({
        ":method": "POST", ":path": `/${PKG}.WebhookService/CreateWebhook`, "content-type": "application/grpc",
        te: "trailers", authorization: TOKEN, "grpc-timeout": "0n",
      });
      stream.end(frame(createBytes()));
      const headers = await new Promise((resolve, reject) => {
        stream.on("response", resolve);
        stream.on("error", reject);
        setTimeout(() => reject(new Error("no answer")), CALL_TIMEOUT_MS);
      });
      assert.equal(headers["grpc-status"], "4");
      stream.close();
    } finally {
      session.close();
    }
    assert.equal((await createClient(WebhookService, makeTransport("connect http/1.1 json", server, sessionManagers))
      .listWebhooks({ ecosystemId: ECO_BAD }, auth())).items.length, 0);
  });

  test("Connect: a malformed connect-timeout-ms is invalid_argument; 0 is deadline_exceeded (504)", async () => {
    const call = (value, method = "CreateWebhook") => fetch(`${httpBase()}/${PKG}.WebhookService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: TOKEN, "connect-timeout-ms": value },
      body: createBytes(),
    });
    for (const value of ["-1", "1.5", "300m", "10000000000", "0x10"]) {
      const res = await call(value);
      assert.equal(res.status, 400, value);
      const body = await res.json();
      assert.equal(body.code, "invalid_argument");
      assert.match(body.message, /connect-timeout-ms: must be given once, as 1 to 10 digits/);
    }
    const res = await call("0");
    assert.equal(res.status, 504);
    const body = await res.json();
    assert.equal(body.code, "deadline_exceeded");
    assert.equal(body.message, "The call's deadline (connect-timeout-ms 0) passed before its answer.");
    const get = await fetch(`${httpBase()}/${PKG}.WebhookService/ListWebhooks?connect=v1&encoding=json&message=`
      + encodeURIComponent(JSON.stringify({ ecosystemId: ECO_BAD })), { headers: { authorization: TOKEN,
      "connect-timeout-ms": "0" } });
    assert.equal(get.status, 504);
    assert.equal((await get.json()).code, "deadline_exceeded");
  });

  test("gRPC-Web: a malformed grpc-timeout is INVALID_ARGUMENT; 0n is DEADLINE_EXCEEDED", async () => {
    const call = async (value) => {
      const res = await fetch(`${httpBase()}/${PKG}.WebhookService/CreateWebhook`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", authorization: TOKEN, "grpc-timeout": value },
        body: frame(createBytes()),
      });
      assert.equal(res.status, 200);
      return Buffer.from(await res.arrayBuffer()).toString("latin1");
    };
    for (const value of ["300", "300ms", "1.5S", "123456789m"]) {
      const text = await call(value);
      assert.match(text, /grpc-status: 3\r\n/, value);
      assert.match(text, /grpc-timeout: must be given once/);
    }
    assert.match(await call("0n"), /grpc-status: 4\r\n/);
    assert.equal((await createClient(WebhookService, makeTransport("connect http/1.1 json", server, sessionManagers))
      .listWebhooks({ ecosystemId: ECO_BAD }, auth())).items.length, 0);
  });
});

describe("gRPC-Web-text (raw)", () => {
  for (const [version, post] of [["http/1.1", rawPost1], ["http/2", rawPost2]]) {
    test(`create and get over ${version}`, async () => {
      const call = async (method, msg, schema) => {
        const res = await post(`/${PKG}.WebhookService/${method}`, {
          "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1",
          authorization: TOKEN,
        }, Buffer.from(frame(toBinary(schema, msg))).toString("base64"));
        assert.equal(res.status, 200);
        assert.equal(res.headers["content-type"], "application/grpc-web-text+proto");
        const text = res.body.toString("latin1");
        assert.match(text, /^[A-Za-z0-9+/]*={0,2}$/, "the response is base64");
        return parseGrpcWeb(Buffer.from(text, "base64"));
      };
      const req = create(CreateWebhookRequestSchema, { ecosystemId: ECO_CROSS, url: "https://example.com/text" });
      const made = await call("CreateWebhook", req, CreateWebhookRequestSchema);
      assert.equal(made.trailers["grpc-status"], "0");
      assert.equal(made.messages.length, 1);
      const w = fromBinary(WebhookSchema, made.messages[0]);
      assertWebhook(w, ECO_CROSS, "https://example.com/text");
      const GetSchema = registry.getMessage(`${PKG}.GetWebhookRequest`);
      const got = await call("GetWebhook", create(GetSchema, { id: w.id }), GetSchema);
      assert.equal(got.trailers["grpc-status"], "0");
      assert.deepEqual(Buffer.from(got.messages[0]), Buffer.from(made.messages[0]));
      // an error: the status and its details in the trailer frame
      const bad = await call("GetWebhook", create(GetSchema, { id: "nope" }), GetSchema);
      assert.equal(bad.messages.length, 0);
      assert.equal(bad.trailers["grpc-status"], "3");
      assert.equal(decodeURIComponent(bad.trailers["grpc-message"]), "InvalidParams: id: invalid id");
      const st = fromBinary(RpcStatusSchema, Buffer.from(bad.trailers["grpc-status-details-bin"], "base64"));
      assert.equal(st.code, 3);
      assert.equal(st.details[0].typeUrl, `type.googleapis.com/${PKG}.ErrorResponse`);
      const er = fromBinary(ErrorResponseSchema, st.details[0].value);
      assert.deepEqual(er.errors.map((p) => [p.in, p.path, p.message]), [["body", "id", "invalid id"]]);
    });
  }
});

// --- JSON inside gRPC frames, raw: the content type is echoed and the frames hold proto3 JSON -------

// A native gRPC call over node:http2 to the gRPC listener: the answer's headers, its data
// frames and its trailers.
function rawGrpc(pathName, headers, body) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(grpcBase());
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": pathName, te: "trailers", ...headers });
    req.setTimeout(CALL_TIMEOUT_MS, () => req.close(http2.constants.NGHTTP2_CANCEL));
    const chunks = [];
    let head;
    let trailers = {};
    req.on("response", (h) => { head = h; });
    req.on("trailers", (t) => { trailers = t; });
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      session.close();
      resolve({ status: head[":status"], headers: head, trailers, body: Buffer.concat(chunks) });
    });
    req.on("error", (e) => { session.close(); reject(e); });
    req.end(body);
  });
}

// The data frames of a native gRPC answer (no trailer frame: those are HTTP/2 trailers).
function grpcMessages(body) {
  const messages = [];
  for (let i = 0; i < body.length;) {
    assert.equal(body[i], 0, "a data frame");
    const n = body.readUInt32BE(i + 1);
    messages.push(body.subarray(i + 5, i + 5 + n));
    i += 5 + n;
  }
  return messages;
}

describe("JSON in gRPC frames (raw)", () => {
  const GetSchema = () => registry.getMessage(`${PKG}.GetWebhookRequest`);
  const jsonFrame = (obj) => frame(Buffer.from(JSON.stringify(obj)));
  // what each answer's single message frame must be: the webhook's proto3 JSON, all six keys
  const assertJsonWebhook = (payload, url) => {
    const obj = JSON.parse(payload.toString("utf8"));
    assert.deepEqual(Object.keys(obj), ["id", "description", "ecosystemId", "url", "disabled", "createdAt"]);
    assertWebhook(fromJson(WebhookSchema, obj), ECO_CROSS, url);
    return obj;
  };

  for (const [version, post] of [["http/1.1", rawPost1], ["http/2", rawPost2]]) {
    for (const text of [false, true]) {
      const ct = text ? "application/grpc-web-text+json" : "application/grpc-web+json";
      test(`${ct} over ${version}: create, get, an error; the answer is ${ct}`, async () => {
        const call = async (method, obj) => {
          const bytes = jsonFrame(obj);
          const res = await post(`/${PKG}.WebhookService/${method}`, {
            "content-type": ct, "x-grpc-web": "1", authorization: TOKEN,
          }, text ? bytes.toString("base64") : bytes);
          assert.equal(res.status, 200);
          assert.equal(res.headers["content-type"], ct);
          return parseGrpcWeb(text ? Buffer.from(res.body.toString("latin1"), "base64") : res.body);
        };
        const url = `https://example.com/raw-json?text=${text}&v=${version}`;
        const made = await call("CreateWebhook", { ecosystemId: ECO_CROSS, url });
        assert.equal(made.trailers["grpc-status"], "0");
        assert.equal(made.messages.length, 1);
        const w = assertJsonWebhook(made.messages[0], url);
        const got = await call("GetWebhook", { id: w.id });
        assert.equal(got.trailers["grpc-status"], "0");
        assert.deepEqual(got.messages[0].toString(), made.messages[0].toString());
        // a JSON problem is named by its JSON key, in the trailer frame as for protobuf
        const bad = await call("GetWebhook", { id: 5, extra: true });
        assert.equal(bad.messages.length, 0);
        assert.equal(bad.trailers["grpc-status"], "3");
        const st = fromBinary(RpcStatusSchema, Buffer.from(bad.trailers["grpc-status-details-bin"], "base64"));
        const er = fromBinary(ErrorResponseSchema, st.details[0].value);
        assert.deepEqual(er.errors.map((p) => [p.in, p.path, p.message]), [["body", "id", "must be a string"],
          ["body", "additional parameters", "contains fields that are not allowed: [ extra ]"]]);
        // JSON that does not parse: InvalidBody
        const broken = await post(`/${PKG}.WebhookService/GetWebhook`, { "content-type": ct, authorization: TOKEN },
          text ? frame(Buffer.from("{")).toString("base64") : frame(Buffer.from("{")));
        assert.equal(broken.headers["content-type"], ct);
        const b = parseGrpcWeb(text ? Buffer.from(broken.body.toString("latin1"), "base64") : broken.body);
        assert.equal(b.trailers["grpc-status"], "3");
        assert.match(decodeURIComponent(b.trailers["grpc-message"]), /^InvalidBody: body: /);
      });
    }
  }

  test("application/grpc+json on the gRPC listener: create, get, an error; the answer is application/grpc+json", async () => {
    const call = (method, obj, ct = "application/grpc+json") => rawGrpc(`/${PKG}.WebhookService/${method}`,
      { "content-type": ct, authorization: TOKEN }, jsonFrame(obj));
    const url = "https://example.com/raw-grpc-json";
    const made = await call("CreateWebhook", { ecosystemId: ECO_CROSS, url });
    assert.equal(made.status, 200);
    assert.equal(made.headers["content-type"], "application/grpc+json");
    assert.equal(made.trailers["grpc-status"], "0");
    const [payload] = grpcMessages(made.body);
    const w = assertJsonWebhook(payload, url);
    const got = await call("GetWebhook", { id: w.id });
    assert.equal(got.headers["content-type"], "application/grpc+json");
    assert.deepEqual(grpcMessages(got.body).map(String), [payload.toString()]);
    // the list, with its JSON names (nextPageToken is absent on the last page)
    const list = await call("ListWebhooks", { ecosystemId: ECO_CROSS, limit: 1000 });
    assert.equal(list.headers["content-type"], "application/grpc+json");
    assert.ok(JSON.parse(grpcMessages(list.body)[0]).items.some((x) => x.id === w.id));
    // an error: trailers-only, with the request's content type too
    const bad = await call("GetWebhook", { id: "nope" });
    assert.equal(bad.status, 200);
    assert.equal(bad.headers["content-type"], "application/grpc+json");
    assert.equal(bad.headers["grpc-status"], "3");
    assert.equal(decodeURIComponent(bad.headers["grpc-message"]), "InvalidParams: id: invalid id");
    // the same JSON sent as protobuf is no protobuf: the codec follows the content type
    const asProto = await call("GetWebhook", { id: w.id }, "application/grpc+proto");
    assert.equal(asProto.headers["content-type"], "application/grpc+proto");
    assert.equal(asProto.headers["grpc-status"], "3");
    assert.match(decodeURIComponent(asProto.headers["grpc-message"]), /^InvalidBody: /);
  });
});

// --- Connect GET: the read methods, and only they, go as GET -----------------------------------------

describe("Connect GET", () => {
  // a server of this test's own: its access log holds only the lines of the calls made here
  // (a line of an earlier test's call, written late by its loop, was counted here once)
  let own = null;
  before(async () => {
    own = await startHookgate({ dir: TMP, name: "connect-get", yaml: configYaml });
  });
  after(async () => {
    if (own !== null) await own.stop();
  });
  // the access log's lines for the RPC method m: "access <METHOD> /<service>/<m> <status> ..."
  const accessLines = (m) => readFileSync(own.logPath, "utf8").split("\n")
    .filter((l) => l.startsWith("access ") && l.includes(` /${PKG}.WebhookService/${m} `));

  test("useHttpGet sends GetWebhook, ListWebhooks, GetEvent and ListAttempts as GET, the rest as POST", async () => {
    for (const name of ["connect get http/1.1 json", "connect get http/2 proto"]) {
      const client = createClient(WebhookService, makeTransport(name, own, sessionManagers));
      const before = new Map(["CreateWebhook", "GetWebhook", "ListWebhooks", "ListAttempts", "GetEvent", "PublishEvent"]
        .map((m) => [m, accessLines(m).length]));
      const w = await client.createWebhook({ ecosystemId: ECO_CROSS, url: "https://example.com/get" }, auth());
      assert.equal((await client.getWebhook({ id: w.id }, auth())).id, w.id);
      assert.ok((await client.listWebhooks({ ecosystemId: ECO_CROSS, limit: MAX_PAGE }, auth())).items.some((x) => x.id === w.id));
      assert.equal((await client.listAttempts({ id: w.id }, auth())).items.length, 0);
      const ev = await client.publishEvent({ ecosystemId: ECO_GET, items: [{ get: true }] }, auth());
      assert.equal((await client.getEvent({ id: ev.id }, auth())).id, ev.id);
      // an error over GET is Connect's error, its detail included
      const msg = `Webhook with id ${"0".repeat(24)} does not exist.`;
      await assertConnectError(() => client.getWebhook({ id: "0".repeat(24) }, auth()), Code.NotFound, msg, "NotFound",
        [["", "", msg]]);
      const seen = (m) => accessLines(m).slice(before.get(m)).map((l) => l.split(" ")[1]);
      // a loop's access-log lines are written once per turn of the loop, which may be just
      // after the answer left: wait for the seven (two GetWebhook), however they were sent,
      // before the next transport counts its own (a late line counted there failed it once)
      const want = new Map([...before.keys()].map((m) => [m, m === "GetWebhook" ? 2 : 1]));
      const deadline = Date.now() + CALL_TIMEOUT_MS;
      while ([...want].some(([m, n]) => seen(m).length < n)) {
        assert.ok(Date.now() < deadline, `access-log lines missing:\n${server.log()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(seen("CreateWebhook"), ["POST"], name);
      assert.deepEqual(seen("PublishEvent"), ["POST"], name);
      assert.deepEqual(seen("GetWebhook"), ["GET", "GET"], `${name} GetWebhook`);
      for (const m of ["ListWebhooks", "ListAttempts", "GetEvent"]) assert.deepEqual(seen(m), ["GET"], `${name} ${m}`);
    }
  });

  test("a raw GET: the URL connect-es would make, answered in the encoding it names", async () => {
    const message = encodeURIComponent(JSON.stringify({ ecosystemId: ECO_BAD }));
    const res = await fetch(`${httpBase()}/${PKG}.WebhookService/ListWebhooks?connect=v1&encoding=json&message=${message}`,
      { headers: { authorization: TOKEN } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { items: [] });
    // CreateWebhook has side effects: GET is not allowed
    const post = await fetch(`${httpBase()}/${PKG}.WebhookService/CreateWebhook?connect=v1&encoding=json&message=%7B%7D`,
      { headers: { authorization: TOKEN } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "POST");
  });
});

// --- across protocols ----------------------------------------------------------------------------

describe("cross-protocol", () => {
  let protocols;
  before(() => {
    const byName = (n) => createClient(WebhookService, makeTransport(n, server, sessionManagers));
    const rpc = (client) => ({
      create: (req) => client.createWebhook(req, auth()),
      get: (id) => client.getWebhook({ id }, auth()),
      list: async (e) => (await client.listWebhooks({ ecosystemId: e }, auth())).items,
    });
    const jsonRest = {
      create: async (req) => {
        const res = await fetch(`${httpBase()}/api/webhooks`, {
          method: "POST", headers: { "content-type": "application/json", authorization: TOKEN }, body: JSON.stringify(req),
        });
        assert.equal(res.status, 201);
        return fromJson(WebhookSchema, await res.json());
      },
      get: async (id) => {
        const res = await fetch(`${httpBase()}/api/webhooks/${id}`, { headers: { authorization: TOKEN } });
        assert.equal(res.status, 200);
        const obj = await res.json();
        assert.deepEqual(Object.keys(obj), ["id", "description", "ecosystemId", "url", "disabled", "createdAt"]);
        return fromJson(WebhookSchema, obj);
      },
      list: async (e) => {
        const res = await fetch(`${httpBase()}/api/webhooks?ecosystemId=${e}`, { headers: { authorization: TOKEN } });
        assert.equal(res.status, 200);
        return (await res.json()).items.map((o) => fromJson(WebhookSchema, o));
      },
    };
    const binaryRest = {
      create: async (req) => {
        const { res, body } = await restCreate(req);
        assert.equal(res.status, 201);
        return fromBinary(WebhookSchema, body);
      },
      get: async (id) => {
        const { res, body } = await restGet(`/api/webhooks/${id}`);
        assert.equal(res.status, 200);
        return fromBinary(WebhookSchema, body);
      },
      list: async (e) => {
        const { res, body } = await restGet(`/api/webhooks?ecosystemId=${e}`);
        assert.equal(res.status, 200);
        return fromBinary(ListWebhooksResponseSchema, body).items;
      },
    };
    protocols = {
      "JSON REST": jsonRest,
      "binary REST": binaryRest,
      "Connect JSON": rpc(byName("connect http/1.1 json")),
      "Connect proto": rpc(byName("connect http/2 proto")),
      "Connect GET": rpc(byName("connect get http/1.1 json")),
      "gRPC-Web": rpc(byName("grpc-web http/2")),
      "gRPC-Web JSON": rpc(byName("grpc-web http/1.1 json")),
      "native gRPC": rpc(byName("grpc (connect-node)")),
      "native gRPC JSON": rpc(byName("grpc (connect-node) json")),
    };
  });

  // the fields a reader compares, createdAt to the millisecond
  const fields = (w) => ({
    id: w.id, description: w.description, ecosystemId: w.ecosystemId, url: w.url, disabled: w.disabled,
    createdAtMs: Number(timestampMs(w.createdAt)),
  });

  test("created over each protocol, read back over every one, byte-equal", async () => {
    const made = [];
    for (const [creator, p] of Object.entries(protocols)) {
      const req = { ecosystemId: ECO_CROSS, url: `https://example.com/cross?via=${encodeURIComponent(creator)}`,
        secret: "not returned", description: `made over ${creator} — ✓` };
      const w = await p.create(req);
      assertWebhook(w, ECO_CROSS, req.url, req.description);
      made.push([creator, w]);
      for (const [reader, q] of Object.entries(protocols)) {
        const got = await q.get(w.id);
        assert.deepEqual(fields(got), fields(w), `created over ${creator}, read over ${reader}`);
        assert.deepEqual(toBinary(WebhookSchema, got), toBinary(WebhookSchema, w), `${creator} → ${reader}`);
      }
    }
    // every protocol lists the same webhooks the same way
    const expected = made.map(([, w]) => toBinary(WebhookSchema, w));
    for (const [reader, q] of Object.entries(protocols)) {
      const items = (await q.list(ECO_CROSS)).filter((w) => made.some(([, m]) => m.id === w.id));
      assert.deepEqual(items.map((w) => toBinary(WebhookSchema, w)), expected, `list over ${reader}`);
    }
    // and JSON REST's createdAt is proto3 JSON's rendering of the binary timestamp
    for (const [, w] of made) {
      const res = await fetch(`${httpBase()}/api/webhooks/${w.id}`, { headers: { authorization: TOKEN } });
      const obj = await res.json();
      assert.equal(Date.parse(obj.createdAt), Number(timestampMs(w.createdAt)));
      assert.match(obj.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual({ ...toJson(WebhookSchema, w, { alwaysEmitImplicit: true }), createdAt: obj.createdAt }, obj);
    }
    assert.ok(alive());
  });
});
