// Invoke (POST /api/webhooks/<id>/invoke, WebhookService.InvokeWebhook) against a real
// hookgate calling receivers this test runs on 127.0.0.1: a node:http server that records
// every request and counts every connection, and a node:http2 TLS server (a certificate
// hookgate cannot trust). What arrives is checked against the documented request: headers,
// the Droplit-style body, x-droplit-signature with node:crypto and webhook-signature with
// the `standardwebhooks` npm package (Webhook.verify). Then every failure a url can cause,
// the SSRF policy (a second hookgate without delivery.allow_networks: never a connection),
// a disabled webhook, every protocol, not-found and auth, max_concurrent_invokes, and
// hookgate_invokes_total counting exactly the calls made here.
//
// Run from the repository root (after `npm ci --prefix tests`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/invoke.test.mjs
// and on the PostgreSQL store:
//   HOOKGATE_BINARY=build/hookgate /usr/bin/python3 tests/store/with_postgres.py node --test tests/rpc/invoke.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { Webhook } from "standardwebhooks";

import {
  CALL_TIMEOUT_MS, PKG, TRANSPORT_NAMES, connectErrorAsserter, freePort, loadSchema, makeTransport, serverYaml, startHookgate,
} from "./support.mjs";

const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-invoke-"));

// --- the configuration ---------------------------------------------------------------------------

const TIMEOUT_MS = 1000; // delivery.timeout_ms and connect_timeout_ms: a hanging url costs a second
const TOKEN = "plain-token";
const SRV_TOKEN = "srv";
const OTHER_TOKEN = "other-token";
const eco = (n) => "C" + n.toString(16).padStart(24, "0");
const ECO = eco(0x31); // acme, server token SRV_TOKEN
const ECO2 = eco(0x32); // acme; SRV_TOKEN may not touch it
const ECO_OTHER = eco(0x33); // the other account

// allowNetworks: delivery.allow_networks, or null for none (the policy's defaults alone)
function configYaml(allowNetworks) {
  const allow = allowNetworks === null ? "" : `, allow_networks: [ ${allowNetworks.join(", ")} ]`;
  return (httpPort, grpcPort) => [
    ...serverYaml(httpPort, grpcPort),
    `delivery: { connect_timeout_ms: ${TIMEOUT_MS}, timeout_ms: ${TIMEOUT_MS}, max_concurrent_invokes: 1${allow} }`,
    "accounts:",
    "  - id: acme",
    `    tokens: [ "${TOKEN}" ]`,
    "    ecosystems:",
    `      - { id: ${ECO}, server_tokens: [ "${SRV_TOKEN}" ] }`,
    `      - { id: ${ECO2} }`,
    "  - id: other",
    `    tokens: [ "${OTHER_TOKEN}" ]`,
    "    ecosystems:",
    `      - { id: ${ECO_OTHER} }`,
    "",
  ].join("\n");
}

// --- the schema ------------------------------------------------------------------------------------

const { registry } = loadSchema(TMP);
const WebhookService = registry.getService(`${PKG}.WebhookService`);
const InvokeWebhookResponseSchema = registry.getMessage(`${PKG}.InvokeWebhookResponse`);
const ErrorResponseSchema = registry.getMessage(`${PKG}.ErrorResponse`);
for (const d of [WebhookService, InvokeWebhookResponseSchema, ErrorResponseSchema]) assert.ok(d, "descriptor missing");
const assertConnectError = connectErrorAsserter(ErrorResponseSchema);

// --- the receivers -----------------------------------------------------------------------------------

// What a receiver path does: answers 200, 201 or an error status, redirects, never answers,
// or drops the connection; /target is where the redirect points, and must never be asked.
function behave(r, req, res) {
  const p = req.url;
  if (p.startsWith("/ok")) {
    res.writeHead(200, { "content-type": "text/plain" }).end("thanks");
  } else if (p === "/created") {
    res.writeHead(201).end();
  } else if (p === "/big") { // past the bound on an answer's body hookgate reads (16 KiB)
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.alloc(1 << 20, 0x61));
  } else if (p.startsWith("/status/")) {
    res.writeHead(Number(p.slice("/status/".length))).end("no");
  } else if (p === "/redirect") {
    res.writeHead(302, { location: `http://127.0.0.1:${r.port}/target` }).end();
  } else if (p === "/hang") {
    r.hanging.push(res); // answered never; the socket closes when hookgate gives up
  } else if (p === "/destroy") {
    req.socket.destroy();
  } else {
    res.writeHead(200).end(); // /target among them: counted, and asserted never reached
  }
}

// A receiver: requests [{method, path, headers, body}] in arrival order, connections counted
// as they are accepted, whatever the protocol did next.
function recorder(r) {
  r.requests = [];
  r.connections = 0;
  r.hanging = [];
  r.waiters = [];
  r.sockets = new Set();
  r.onConnection = (socket) => {
    r.connections++;
    r.sockets.add(socket);
    socket.on("close", () => r.sockets.delete(socket));
  };
  r.onRequest = (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const rec = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      r.requests.push(rec);
      for (const w of r.waiters.splice(0)) w(rec);
      behave(r, req, res);
    });
  };
  // resolves with the next request to arrive, or fails after CALL_TIMEOUT_MS
  r.nextRequest = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no request reached the receiver")), CALL_TIMEOUT_MS);
    r.waiters.push((rec) => { clearTimeout(timer); resolve(rec); });
  });
  r.close = () => new Promise((resolve) => {
    for (const res of r.hanging) res.destroy();
    for (const s of r.sockets) s.destroy();
    r.server.close(() => resolve());
  });
  return r;
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

async function startReceiver() {
  const r = recorder({});
  r.server = http.createServer(r.onRequest);
  r.server.on("connection", r.onConnection);
  r.port = await listen(r.server);
  r.url = (p) => `http://127.0.0.1:${r.port}${p}`;
  return r;
}

// HTTP/2 over TLS with a self-signed certificate made here: hookgate must refuse it.
async function startTlsReceiver() {
  const key = path.join(TMP, "key.pem");
  const cert = path.join(TMP, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  const r = recorder({});
  r.server = http2.createSecureServer({ key: readFileSync(key), cert: readFileSync(cert), allowHTTP1: true });
  r.server.on("request", r.onRequest);
  r.server.on("connection", r.onConnection);
  r.port = await listen(r.server);
  r.url = (p) => `https://127.0.0.1:${r.port}${p}`;
  return r;
}

// --- the servers, and calls with a deadline -----------------------------------------------------------

let hg = null; // allow_networks [127.0.0.0/8]: may call the receivers
let hgStrict = null; // no allow_networks: loopback is blocked
let receiver = null;
let tlsReceiver = null;
const sessionManagers = [];

before(async () => {
  receiver = await startReceiver();
  tlsReceiver = await startTlsReceiver();
  hg = await startHookgate({ dir: TMP, name: "allowing", yaml: configYaml(["127.0.0.0/8"]) });
  hgStrict = await startHookgate({ dir: TMP, name: "strict", yaml: configYaml(null) });
  hg.tally = new Map(); // outcome -> invokes made here that must end so (metrics)
  hgStrict.tally = new Map();
  hg.metricsBefore = await metrics(hg);
  hgStrict.metricsBefore = await metrics(hgStrict);
});

after(async () => {
  for (const m of sessionManagers) m.abort();
  try {
    for (const s of [hg, hgStrict]) if (s !== null) await s.stop();
  } finally {
    for (const r of [receiver, tlsReceiver]) if (r !== null) await r.close();
    if (!process.env.HOOKGATE_KEEP_TMP) rmSync(TMP, { recursive: true, force: true });
  }
});

// fetch with a deadline; the body as bytes and as text
async function call(server, method, pathAndQuery, { token = TOKEN, headers = {}, body } = {}) {
  const h = { ...headers };
  if (token !== null) h.authorization = token;
  const res = await fetch(`${server.httpBase}${pathAndQuery}`, {
    method, headers: h, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, text: Buffer.from(bytes).toString("utf8") };
}

async function createWebhook(server, req, token = TOKEN) {
  const res = await call(server, "POST", "/api/webhooks", {
    token, headers: { "content-type": "application/json" }, body: JSON.stringify(req),
  });
  return { ...res, webhook: res.status === 201 ? JSON.parse(res.text) : null };
}

async function createOk(server, req, token = TOKEN) {
  const { status, text, webhook } = await createWebhook(server, req, token);
  assert.equal(status, 201, text);
  return webhook;
}

// POST .../invoke over JSON REST; outcome is what hookgate must count it as in
// hookgate_invokes_total, or null when it must never call the url (a 4xx, a 503).
async function invoke(server, id, outcome, { token = TOKEN, prefix = "/api", query = "", accept } = {}) {
  if (outcome !== null) server.tally.set(outcome, (server.tally.get(outcome) ?? 0) + 1);
  return call(server, "POST", `${prefix}/webhooks/${id}/invoke${query}`,
    { token, headers: accept === undefined ? {} : { accept } });
}

function assertText(res, status, text) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type"), /^text\/plain\b/);
  assert.equal(res.text, text);
}

const VERIFIED = "Webhook verified";
const failed = (detail) => `Webhook call failed: ${detail}`;
const notFound = (id) => `Webhook with id ${id} does not exist.`;

// What the receivers saw during fn: the requests and connections that arrived.
async function observe(fn, r = receiver) {
  const requests = r.requests.length;
  const connections = r.connections;
  const result = await fn();
  return { result, requests: r.requests.slice(requests), connections: r.connections - connections };
}

// --- /metrics ---------------------------------------------------------------------------------------

async function metrics(server) {
  const res = await call(server, "GET", "/metrics", { token: null });
  assert.equal(res.status, 200);
  const out = new Map();
  for (const m of res.text.matchAll(/^hookgate_invokes_total\{outcome="([a-z_]+)"\} (\d+)$/gm)) out.set(m[1], Number(m[2]));
  const count = res.text.match(/^hookgate_invoke_duration_seconds_count (\d+)$/m);
  assert.ok(count, "no hookgate_invoke_duration_seconds_count");
  out.set("duration_count", Number(count[1]));
  return out;
}

// --- the request that arrives ---------------------------------------------------------------------------

const MSG_ID_RE = /^msg_[0-9a-f]{24}$/;
const RFC3339_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

// The one request of an invoke of webhook w (whose secret is secret, or undefined): method,
// headers, body; the signatures checked only by the caller.
function assertVerification(rec, w, requestPath) {
  const now = Date.now();
  assert.equal(rec.method, "POST");
  assert.equal(rec.path, requestPath);
  assert.equal(rec.headers["content-type"], "application/json");
  assert.match(rec.headers["user-agent"], /^hookgate\/\S+$/);
  assert.equal(rec.headers.expect, undefined, "no Expect: 100-continue");
  assert.equal(Number(rec.headers["content-length"]), rec.body.length);
  assert.match(rec.headers["webhook-id"], MSG_ID_RE);
  assert.match(rec.headers["webhook-timestamp"], /^[1-9]\d*$/);
  assert.ok(Math.abs(Number(rec.headers["webhook-timestamp"]) * 1000 - now) < 60000, "webhook-timestamp is now");
  const body = JSON.parse(rec.body.toString("utf8"));
  assert.deepEqual(Object.keys(body), ["items"]);
  assert.equal(body.items.length, 1);
  const n = body.items[0];
  assert.deepEqual(Object.keys(n).sort(), ["ecosystemId", "message", "timestamp", "type", "webhookId"]);
  assert.deepEqual({ ...n, timestamp: undefined },
    { type: "Info", ecosystemId: w.ecosystemId, webhookId: w.id, message: "Webhook verification", timestamp: undefined });
  assert.match(n.timestamp, RFC3339_RE);
  assert.ok(Math.abs(Date.parse(n.timestamp) - now) < 60000, "the notification's timestamp is now");
  return body;
}

const droplitSignature = (secretBytes, body) => createHmac("sha256", secretBytes).update(body).digest("hex");

// --- 1. what a webhook's url receives ---------------------------------------------------------------------

describe("the verification request", () => {
  // [name, secret, the Standard Webhooks verifier's key as the library takes it]
  const whsec = "whsec_" + randomBytes(32).toString("base64"); // 44 characters, one '='
  const plain = "a plain secret, é ✓"; // its UTF-8 bytes are the key
  const notBase64 = "whsec_not base64!"; // the prefix does not make a key of it: its own bytes are
  const cases = [
    ["a whsec_ secret", whsec, () => new Webhook(whsec)],
    ["a plain secret", plain, () => new Webhook(Buffer.from(plain, "utf8").toString("base64"))],
    ["a plain secret (raw key)", plain, () => new Webhook(Buffer.from(plain, "utf8"), { format: "raw" })],
    ["a whsec_ secret that is not base64", notBase64, () => new Webhook(Buffer.from(notBase64, "utf8"), { format: "raw" })],
  ];

  for (const [name, secret, verifier] of cases) {
    test(`${name}: 200, one POST, both signatures verify`, async () => {
      const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/ok/signed"), secret });
      const seen = await observe(() => invoke(hg, w.id, "ok"));
      assertText(seen.result, 200, VERIFIED);
      assert.equal(seen.requests.length, 1);
      assert.equal(seen.connections, 1, "one fresh connection per call");
      const rec = seen.requests[0];
      const body = assertVerification(rec, w, "/ok/signed");
      assert.equal(rec.headers["x-droplit-signature"], droplitSignature(Buffer.from(secret, "utf8"), rec.body));
      assert.equal(typeof rec.headers["webhook-signature"], "string", "no webhook-signature header");
      assert.match(rec.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.deepEqual(verifier().verify(rec.body.toString("utf8"), rec.headers), body);
      // the verification can fail: another key, another body, another id
      assert.throws(() => new Webhook("whsec_" + randomBytes(32).toString("base64")).verify(rec.body.toString(), rec.headers),
        /No matching signature/);
      assert.throws(() => verifier().verify(rec.body.toString().replace("Info", "Infx"), rec.headers), /No matching signature/);
      assert.throws(() => verifier().verify(rec.body.toString(), { ...rec.headers, "webhook-id": "msg_other" }),
        /No matching signature/);
    });
  }

  test("no secret: 200, no signature headers, webhook-id and webhook-timestamp still", async () => {
    const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/ok/unsigned") });
    const seen = await observe(() => invoke(hg, w.id, "ok"));
    assertText(seen.result, 200, VERIFIED);
    assert.equal(seen.requests.length, 1);
    const rec = seen.requests[0];
    assertVerification(rec, w, "/ok/unsigned");
    assert.equal(rec.headers["x-droplit-signature"], undefined);
    assert.equal(rec.headers["webhook-signature"], undefined);
  });

  test("each invoke has its own webhook-id; a changed secret signs, a removed one does not", async () => {
    const first = "first secret";
    const second = "whsec_" + randomBytes(24).toString("base64");
    const url = receiver.url("/ok/rotated");
    const w = await createOk(hg, { ecosystemId: ECO, url, secret: first });
    const a = await observe(() => invoke(hg, w.id, "ok"));
    const b = await observe(() => invoke(hg, w.id, "ok"));
    assertText(a.result, 200, VERIFIED);
    assertText(b.result, 200, VERIFIED);
    assert.notEqual(a.requests[0].headers["webhook-id"], b.requests[0].headers["webhook-id"]);
    const put = (changes) => call(hg, "PUT", `/api/webhooks/${w.id}`,
      { headers: { "content-type": "application/json" }, body: JSON.stringify({ url, ...changes }) });
    assert.equal((await put({ secret: second })).status, 200);
    const c = await observe(() => invoke(hg, w.id, "ok"));
    const rec = c.requests[0];
    assert.equal(rec.headers["x-droplit-signature"], droplitSignature(Buffer.from(second), rec.body));
    new Webhook(second).verify(rec.body.toString(), rec.headers);
    assert.throws(() => new Webhook(Buffer.from(first).toString("base64")).verify(rec.body.toString(), rec.headers));
    assert.equal((await put({ secret: "" })).status, 200);
    const d = await observe(() => invoke(hg, w.id, "ok"));
    assertText(d.result, 200, VERIFIED);
    assert.equal(d.requests[0].headers["webhook-signature"], undefined);
    assert.equal(d.requests[0].headers["x-droplit-signature"], undefined);
  });

  test("any 2xx verifies, and a long answer body does not matter", async () => {
    for (const [p, status] of [["/created", 201], ["/big", 200]]) {
      const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url(p) });
      const seen = await observe(() => invoke(hg, w.id, "ok", { accept: "application/x-protobuf" }));
      assert.equal(seen.result.status, 200, p);
      const r = fromBinary(InvokeWebhookResponseSchema, seen.result.bytes);
      assert.deepEqual([r.message, r.statusCode], [VERIFIED, status], p);
      assert.equal(seen.requests.length, 1);
    }
  });
});

// --- 2. what a url can do wrong -------------------------------------------------------------------------

describe("a failing url: 502 saying what happened", () => {
  test("an error status", async () => {
    for (const status of [500, 404, 418]) {
      const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url(`/status/${status}`) });
      const seen = await observe(() => invoke(hg, w.id, "status"));
      assertText(seen.result, 502, failed(`the url answered ${status}`));
      assert.equal(seen.requests.length, 1, "called once, never retried");
    }
  });

  test("a redirect is not followed", async () => {
    const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/redirect") });
    const seen = await observe(() => invoke(hg, w.id, "status"));
    assertText(seen.result, 502, failed("the url answered 302 (a redirect: redirects are not followed)"));
    assert.deepEqual(seen.requests.map((r) => r.path), ["/redirect"]);
    assert.ok(!receiver.requests.some((r) => r.path === "/target"), "the Location was requested");
  });

  test(`an answer slower than delivery.timeout_ms (${TIMEOUT_MS} ms)`, async () => {
    const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/hang") });
    const start = Date.now();
    const seen = await observe(() => invoke(hg, w.id, "timeout"));
    const took = Date.now() - start;
    assertText(seen.result, 502, failed(`timed out after ${TIMEOUT_MS} ms`));
    assert.equal(seen.requests.length, 1);
    assert.ok(took >= TIMEOUT_MS - 50 && took < TIMEOUT_MS + 5000, `answered after ${took} ms`);
  });

  test("the connection closed without an answer", async () => {
    const w = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/destroy") });
    const seen = await observe(() => invoke(hg, w.id, "closed"));
    assertText(seen.result, 502, failed("the connection closed before a whole answer"));
    assert.equal(seen.requests.length, 1);
  });

  test("nothing listening: connection refused", async () => {
    const port = await freePort();
    const w = await createOk(hg, { ecosystemId: ECO, url: `http://127.0.0.1:${port}/` });
    assertText(await invoke(hg, w.id, "refused"), 502, failed("connection refused"));
  });

  test("a certificate hookgate cannot trust (HTTP/2 over TLS): TLS failed, no request", async () => {
    const w = await createOk(hg, { ecosystemId: ECO, url: tlsReceiver.url("/ok") });
    const seen = await observe(() => invoke(hg, w.id, "tls"), tlsReceiver);
    assert.equal(seen.result.status, 502, seen.result.text);
    assert.match(seen.result.text, /^Webhook call failed: TLS failed: \S.*$/);
    assert.equal(seen.connections, 1);
    assert.equal(seen.requests.length, 0);
  });
});

// --- 3. the SSRF policy ------------------------------------------------------------------------------------

describe("without allow_networks, loopback is blocked before any connection", () => {
  test("a host name resolving to loopback: created, then blocked at invoke", async (t) => {
    const w = await createOk(hgStrict, { ecosystemId: ECO, url: `http://localhost:${receiver.port}/ok/blocked` });
    const seen = await observe(() => invoke(hgStrict, w.id, "blocked"));
    assert.equal(seen.result.status, 502, seen.result.text);
    assert.match(seen.result.text, /^Webhook call failed: blocked: (127\.0\.0\.1|::1) is a loopback address$/);
    t.diagnostic(seen.result.text);
    assert.equal(seen.connections, 0, "the receiver was connected to");
    assert.equal(seen.requests.length, 0);
  });

  for (const [host, address] of [["127.0.0.1", "127.0.0.1"], ["127.9.8.7", "127.9.8.7"], ["[::1]", "::1"]]) {
    test(`the literal ${host}: refused at create, or blocked at invoke`, async (t) => {
      const url = `http://${host}:${receiver.port}/ok/blocked`;
      const seen = await observe(async () => {
        const made = await createWebhook(hgStrict, { ecosystemId: ECO, url });
        if (made.status !== 201) return { made };
        return { made, invoked: await invoke(hgStrict, made.webhook.id, "blocked") };
      });
      const { made, invoked } = seen.result;
      t.diagnostic(made.status === 201 ? `created; invoke: ${invoked.text}` : `create: ${made.status} ${made.text}`);
      if (made.status === 201) {
        assertText(invoked, 502, failed(`blocked: ${address} is a loopback address`));
      } else {
        assert.equal(made.status, 400, made.text);
        assert.deepEqual(JSON.parse(made.text).errors.map((e) => [e.in, e.path, e.message]), [["body", "url", "invalid url"]]);
      }
      assert.equal(seen.connections, 0, "the receiver was connected to");
      assert.equal(seen.requests.length, 0);
    });
  }

  test("the same receiver through the allowing server: reached (the zero above can fail)", async () => {
    const w = await createOk(hg, { ecosystemId: ECO, url: `http://127.0.0.1:${receiver.port}/ok/allowed` });
    const seen = await observe(() => invoke(hg, w.id, "ok"));
    assertText(seen.result, 200, VERIFIED);
    assert.equal(seen.connections, 1);
  });
});

// --- 4. a disabled webhook ------------------------------------------------------------------------------------

describe("a disabled webhook", () => {
  test("is still invoked (how a fix is checked)", async () => {
    const url = receiver.url("/ok/disabled");
    const w = await createOk(hg, { ecosystemId: ECO, url, secret: "s" });
    const put = await call(hg, "PUT", `/api/webhooks/${w.id}`,
      { headers: { "content-type": "application/json" }, body: JSON.stringify({ url, disabled: true }) });
    assert.equal(put.status, 200, put.text);
    assert.equal(JSON.parse((await call(hg, "GET", `/api/webhooks/${w.id}`)).text).disabled, true);
    const seen = await observe(() => invoke(hg, w.id, "ok"));
    assertText(seen.result, 200, VERIFIED);
    assert.equal(seen.requests.length, 1);
    assertVerification(seen.requests[0], w, "/ok/disabled");
  });
});

// --- 5. every protocol ----------------------------------------------------------------------------------------

describe("every protocol", () => {
  let good = null; // a webhook whose url answers 200
  let bad = null; // one whose url answers 500
  const badMessage = failed("the url answered 500");
  before(async () => {
    good = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/ok/protocols"), secret: "p" });
    bad = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/status/500") });
  });

  test("REST JSON, under /api and /v0/api", async () => {
    for (const prefix of ["/api", "/v0/api"]) {
      const seen = await observe(() => invoke(hg, good.id, "ok", { prefix }));
      assertText(seen.result, 200, VERIFIED);
      assert.equal(seen.requests.length, 1);
      assertText(await invoke(hg, bad.id, "status", { prefix }), 502, badMessage);
    }
  });

  test("REST binary: InvokeWebhookResponse, or a BadGateway ErrorResponse", async () => {
    const PROTO = "application/x-protobuf";
    const seen = await observe(() => invoke(hg, good.id, "ok", { accept: PROTO }));
    assert.equal(seen.result.status, 200);
    assert.equal(seen.result.headers.get("content-type"), PROTO);
    const r = fromBinary(InvokeWebhookResponseSchema, seen.result.bytes);
    assert.equal(r.message, VERIFIED);
    assert.equal(r.statusCode, 200);
    assert.ok(r.durationMs < TIMEOUT_MS, `durationMs ${r.durationMs}`);
    assert.equal(seen.requests.length, 1);
    const res = await invoke(hg, bad.id, "status", { accept: PROTO });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("content-type"), PROTO);
    const er = fromBinary(ErrorResponseSchema, res.bytes);
    assert.equal(er.errorType, "BadGateway");
    assert.deepEqual(er.errors.map((p) => [p.in, p.path, p.message]), [["", "", badMessage]]);
  });

  for (const name of TRANSPORT_NAMES) {
    test(`${name}: success, then unavailable (14) with a BadGateway detail`, async () => {
      const client = createClient(WebhookService, makeTransport(name, hg, sessionManagers));
      const opts = { headers: { authorization: TOKEN } };
      hg.tally.set("ok", hg.tally.get("ok") + 1);
      const seen = await observe(() => client.invokeWebhook({ id: good.id }, opts));
      assert.equal(seen.result.message, VERIFIED);
      assert.equal(seen.result.statusCode, 200);
      assert.ok(seen.result.durationMs < TIMEOUT_MS, `durationMs ${seen.result.durationMs}`);
      assert.equal(seen.requests.length, 1);
      assertVerification(seen.requests[0], good, "/ok/protocols");
      hg.tally.set("status", hg.tally.get("status") + 1);
      const err = await assertConnectError(() => client.invokeWebhook({ id: bad.id }, opts), Code.Unavailable, badMessage,
        "BadGateway", [["", "", badMessage]]);
      assert.equal(err.code, 14);
      const msg = notFound("0123456789abcdef01234567");
      await assertConnectError(() => client.invokeWebhook({ id: "0123456789abcdef01234567" }, opts), Code.NotFound, msg,
        "NotFound", [["", "", msg]]);
    });
  }
});

// --- 6. which webhook, whose token ------------------------------------------------------------------------------

describe("not found, invalid, unauthenticated: the url is never called", () => {
  test("404, 400, 401", async () => {
    const url = receiver.url("/ok/scoped");
    const w = await createOk(hg, { ecosystemId: ECO2, url });
    const own = await createOk(hg, { ecosystemId: ECO, url }, SRV_TOKEN);
    const gone = await createOk(hg, { ecosystemId: ECO, url });
    assert.equal((await call(hg, "DELETE", `/api/webhooks/${gone.id}`)).status, 200);
    const unknown = "0123456789abcdef01234567";
    const seen = await observe(async () => {
      assertText(await invoke(hg, unknown, null), 404, notFound(unknown));
      assertText(await invoke(hg, gone.id, null), 404, notFound(gone.id));
      assertText(await invoke(hg, w.id, null, { token: OTHER_TOKEN }), 404, notFound(w.id)); // another account
      assertText(await invoke(hg, w.id, null, { token: SRV_TOKEN }), 404, notFound(w.id)); // another ecosystem's
      assertText(await invoke(hg, w.id, null, { token: null }), 401, "Missing authorization token.");
      assertText(await invoke(hg, w.id, null, { token: "Bearer nope" }), 401, "Invalid authorization token.");
      for (const [id, q] of [["XYZ", ""], [w.id.toUpperCase(), ""], [w.id + "0", ""], [w.id, "?x=1"]]) {
        const res = await invoke(hg, id, null, { query: q });
        assert.equal(res.status, 400, `${id}${q}: ${res.text}`);
        const er = JSON.parse(res.text);
        assert.equal(er.errorType, "InvalidParams");
        assert.deepEqual(er.errors.map((e) => [e.in, e.path, e.message]), q === ""
          ? [["path", "id", "invalid id"]]
          : [["query", "additional parameters", "contains fields that are not allowed: [ x ]"]]);
      }
    });
    assert.equal(seen.connections, 0);
    assert.equal(seen.requests.length, 0);
    // the tokens refused above do reach webhooks they may see
    assertText(await invoke(hg, own.id, "ok", { token: SRV_TOKEN }), 200, VERIFIED);
    assertText(await invoke(hg, w.id, "ok"), 200, VERIFIED);
  });
});

// --- 7. max_concurrent_invokes ------------------------------------------------------------------------------------

describe("delivery.max_concurrent_invokes: 1", () => {
  test("a second invoke while the first waits is refused at once: 503; the slot comes back", async () => {
    const hang = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/hang") });
    const quick = await createOk(hg, { ecosystemId: ECO, url: receiver.url("/ok/after") });
    const arrived = receiver.nextRequest();
    let firstDone = false;
    const first = invoke(hg, hang.id, "timeout").finally(() => { firstDone = true; });
    assert.equal((await arrived).path, "/hang");
    const seen = await observe(() => invoke(hg, quick.id, null));
    assert.equal(firstDone, false, "the second answer waited for the first");
    assertText(seen.result, 503,
      "Too many webhook calls are in progress (delivery.max_concurrent_invokes is 1); retry later.");
    assert.equal(seen.requests.length, 0);
    assert.equal(seen.connections, 0);
    assertText(await first, 502, failed(`timed out after ${TIMEOUT_MS} ms`));
    assertText(await invoke(hg, quick.id, "ok"), 200, VERIFIED);
  });
});

// --- 8. the metrics ---------------------------------------------------------------------------------------------

describe("metrics", () => {
  test("hookgate_invokes_total counts every call made here by its outcome, and nothing else", async () => {
    const OUTCOMES = ["ok", "status", "timeout", "refused", "no_host", "blocked", "tls", "closed", "failed"];
    for (const [name, server] of [["allowing", hg], ["strict", hgStrict]]) {
      const now = await metrics(server);
      let total = 0;
      assert.deepEqual([...now.keys()].filter((k) => k !== "duration_count").sort(), [...OUTCOMES].sort());
      for (const o of OUTCOMES) {
        const delta = now.get(o) - server.metricsBefore.get(o);
        assert.equal(delta, server.tally.get(o) ?? 0, `${name}: outcome="${o}"`);
        total += delta;
      }
      assert.equal(now.get("duration_count") - server.metricsBefore.get("duration_count"), total, `${name}: durations`);
    }
    assert.ok(hg.tally.get("ok") > 10 && hgStrict.tally.get("blocked") >= 1, "the counts above are not vacuous");
  });
});

test("the servers are alive", () => {
  assert.ok(hg.alive() && hgStrict.alive());
});
