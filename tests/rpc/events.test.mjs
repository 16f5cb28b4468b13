// Events (POST /api/events, WebhookService.PublishEvent and the calls around it) against a
// real hookgate delivering to receivers this test runs on 127.0.0.1: node:http servers that
// record every request (arrival time, headers, raw body), answer as each path is scripted
// (a status, a Retry-After, a redirect, never, or held until the test releases it) and count
// their open connections. What arrives is checked byte for byte against what was published
// and both signatures are verified (node:crypto, the `standardwebhooks` npm package); then
// the retry schedule, 410, Retry-After, redirects, a hanging url beside a healthy one, disable
// / delete / update while deliveries wait, auto-disable, Idempotency-Key, resend and recover,
// the errors of a publish, every RPC protocol, and the delivery metrics counting exactly the
// deliveries made here.
//
// Each group of cases that needs its own delivery settings runs its own hookgate (memory
// store, free ports, its own temporary directory), and every case publishes in an ecosystem
// of its own, so that a publish reaches only the webhooks that case made.
//
// Run from the repository root (after `npm ci --prefix tests`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/events.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { Webhook } from "standardwebhooks";

import {
  CALL_TIMEOUT_MS, PKG, TRANSPORT_NAMES, connectErrorAsserter, freePort, loadSchema, makeTransport, serverYaml, startHookgate,
} from "./support.mjs";

const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-events-"));

// --- the configuration ---------------------------------------------------------------------------

const TOKEN = "plain-token";
const SRV_TOKEN = "srv"; // a server token of ECO_SRV only
const OTHER_TOKEN = "other-token";
const eco = (n) => "C" + n.toString(16).padStart(24, "0");
const ECO_SRV = eco(0x31); // acme, server token SRV_TOKEN
const ECO_SRV2 = eco(0x32); // acme; SRV_TOKEN may not touch it
const ECO_DELETED = eco(0x33); // acme, marked deleted
const ECO_OTHER = eco(0x34); // the other account
const ECOS = 48; // ecosystems every server knows (eco(0x100 + i)): one per case, over all the servers, so
                 // that servers sharing one database (the PostgreSQL run) never share an ecosystem
const MAX_ITEMS = 4; // delivery.max_items

// The configuration with `delivery:` {allow_networks: [127.0.0.0/8], retry_jitter_percent: 0,
// throttle_wait_ms: 0, ...fields} (flow style, values as YAML).
function configYaml(fields) {
  const delivery = { allow_networks: "[ 127.0.0.0/8 ]", retry_jitter_percent: 0, throttle_wait_ms: 0, ...fields };
  const flow = Object.entries(delivery).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[ ${v.join(", ")} ]` : v}`);
  return (httpPort, grpcPort) => [
    ...serverYaml(httpPort, grpcPort),
    `delivery: { ${flow.join(", ")} }`,
    "accounts:",
    "  - id: acme",
    `    tokens: [ "${TOKEN}" ]`,
    "    ecosystems:",
    `      - { id: ${ECO_SRV}, server_tokens: [ "${SRV_TOKEN}" ] }`,
    `      - { id: ${ECO_SRV2} }`,
    `      - { id: ${ECO_DELETED}, deleted: true }`,
    ...Array.from({ length: ECOS }, (_, i) => `      - { id: ${eco(0x100 + i)} }`),
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
const ErrorResponseSchema = registry.getMessage(`${PKG}.ErrorResponse`);
for (const d of [WebhookService, ErrorResponseSchema]) assert.ok(d, "descriptor missing");
const assertConnectError = connectErrorAsserter(ErrorResponseSchema);

// --- small things ------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ID_RE = /^[0-9a-f]{24}$/;
const RFC3339_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const WAIT_MS = 15000; // the longest any readiness poll waits

// Polls fn, which answers {ok, value}, until ok: the value. Fails after timeoutMs with what
// and the last value seen.
async function until(what, fn, timeoutMs = WAIT_MS, everyMs = 15) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await fn();
    if (last.ok) return last.value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}; last: ${JSON.stringify(last.value)}`);
    await sleep(everyMs);
  }
}

// --- the receivers -----------------------------------------------------------------------------------

// What a path answers when no script says otherwise: /status/NNN that status, /redirect/NNN a
// redirect to /target (which must never be asked), /hang never, /hold/... held until released;
// anything else 200.
function defaultAction(r, p) {
  if (p.startsWith("/status/")) return Number(p.slice("/status/".length));
  if (p.startsWith("/redirect/")) {
    return { status: Number(p.slice("/redirect/".length)), headers: { location: r.url("/target") } };
  }
  if (p === "/hang") return "hang";
  if (p.startsWith("/hold/")) return "hold";
  return 200;
}

// An action: a status; {status, headers, body}; "hang" (never answered); "hold" (answered by
// release()).
function perform(r, rec, res, action) {
  if (typeof action === "number") {
    res.writeHead(action, { "content-type": "text/plain" }).end(`answered ${action}`);
  } else if (action === "hang") {
    r.hanging.push(res);
  } else if (action === "hold") {
    r.held.push({ rec, res });
  } else {
    res.writeHead(action.status, action.headers ?? {}).end(action.body ?? "");
  }
}

async function startReceiver() {
  const r = {
    requests: [], scripts: new Map(), held: [], hanging: [], sockets: new Set(), connections: 0, open: 0, maxOpen: 0,
    rawMaxOpen: 0,
  };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const rec = {
        method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks), at: Date.now(),
        id: req.headers["webhook-id"],
      };
      r.requests.push(rec);
      const queue = r.scripts.get(req.url);
      perform(r, rec, res, queue !== undefined && queue.length > 0 ? queue.shift() : defaultAction(r, req.url));
    });
  });
  // maxOpen: the most connections open at once, sampled 25 ms after each one opens. Not at
  // once: a connection closed just before a new one opened may have its close event run after
  // the new one's accept (one turn of the event loop takes both), which rawMaxOpen counts.
  r.server.on("connection", (socket) => {
    r.connections++;
    r.open++;
    r.rawMaxOpen = Math.max(r.rawMaxOpen, r.open);
    setTimeout(() => { r.maxOpen = Math.max(r.maxOpen, r.open); }, 25);
    r.sockets.add(socket);
    socket.on("close", () => {
      r.open--;
      r.sockets.delete(socket);
    });
  });
  r.port = await new Promise((resolve, reject) => {
    r.server.on("error", reject);
    r.server.listen(0, "127.0.0.1", () => resolve(r.server.address().port));
  });
  r.url = (p) => `http://127.0.0.1:${r.port}${p}`;
  // the next answers of path, in order; then its default
  r.script = (p, actions) => r.scripts.set(p, [...actions]);
  r.at = (p) => r.requests.filter((q) => q.path === p);
  r.waitRequests = (p, n, what = `${n} request(s) at ${p}`) =>
    until(what, () => ({ ok: r.at(p).length >= n, value: r.at(p).length })).then(() => r.at(p));
  // answers the held request of path p for event id with action
  r.release = (p, id, action) => {
    const i = r.held.findIndex((h) => h.rec.path === p && h.rec.id === id);
    assert.ok(i >= 0, `no held request at ${p} for ${id}`);
    const [{ res }] = r.held.splice(i, 1);
    perform(r, null, res, action);
  };
  r.waitHeld = (p, n) => until(`${n} held at ${p}`, () => {
    const held = r.held.filter((h) => h.rec.path === p);
    return { ok: held.length >= n, value: held.map((h) => h.rec.id) };
  });
  r.dropHanging = () => {
    for (const res of r.hanging.splice(0)) res.socket?.destroy();
    for (const h of r.held.splice(0)) h.res.socket?.destroy();
  };
  r.close = () => new Promise((resolve) => {
    r.dropHanging();
    for (const s of r.sockets) s.destroy();
    r.server.close(() => resolve());
  });
  return r;
}

// --- the servers -------------------------------------------------------------------------------------

const servers = [];
let nextEco = 0;
const receivers = [];
const sessionManagers = [];

async function startServer(name, delivery) {
  const hg = await startHookgate({ dir: TMP, name, yaml: configYaml(delivery) });
  hg.name = name;
  hg.nextEco = () => {
    assert.ok(nextEco < ECOS, `${name}: out of ecosystems`);
    return eco(0x100 + nextEco++);
  };
  servers.push(hg);
  return hg;
}

async function receiver() {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

// The server died (the case that killed it reports it): its exit, for the messages.
const deathOf = (hg) => `${hg.name} is dead (exit code ${hg.proc.exitCode}, signal ${hg.proc.signalCode}):\n${hg.log()}`;

// A call that got no answer: fails, saying whether the server died (waited for a moment).
async function noAnswer(hg, what, err) {
  await Promise.race([hg.exit, sleep(2000)]);
  assert.fail(`${what} got no answer (${err}); ${hg.alive() ? "the server is alive" : deathOf(hg)}`);
}

after(async () => {
  for (const m of sessionManagers) m.abort();
  for (const r of receivers) r.dropHanging(); // nothing waits for a url that never answers
  const problems = [];
  try {
    for (const hg of servers) {
      if (!hg.alive()) {
        problems.push(deathOf(hg));
        continue;
      }
      try {
        await hg.stop();
      } catch (e) {
        problems.push(String(e));
      }
    }
  } finally {
    for (const r of receivers) await r.close();
    if (!process.env.HOOKGATE_KEEP_TMP) rmSync(TMP, { recursive: true, force: true });
  }
  // the cases that killed a server failed already; a server that did not stop cleanly fails here
  assert.deepEqual(problems.filter((p) => !p.includes("is dead")), []);
});

// fetch with a deadline: {status, headers, text, json}
async function call(hg, method, pathAndQuery, { token = TOKEN, headers = {}, body } = {}) {
  assert.ok(hg.alive(), deathOf(hg));
  const h = { ...headers };
  if (token !== null) h.authorization = token;
  if (body !== undefined) {
    if (typeof body !== "string") body = JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const res = await fetch(`${hg.httpBase}${pathAndQuery}`, {
    method, headers: h, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function createHook(hg, ecosystemId, url, extra = {}) {
  const res = await call(hg, "POST", "/api/webhooks", { body: { ecosystemId, url, ...extra } });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function update(hg, id, changes) {
  const res = await call(hg, "PUT", `/api/webhooks/${id}`, { body: changes });
  assert.equal(res.status, 200, res.text);
}

async function webhookOf(hg, id) {
  const res = await call(hg, "GET", `/api/webhooks/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

// POST /api/events; the answer (not checked)
function publishRaw(hg, body, { token = TOKEN, key, prefix = "/api" } = {}) {
  const headers = key === undefined ? {} : { "idempotency-key": key };
  return call(hg, "POST", `${prefix}/events`, { token, headers, body });
}

// A publish that must be accepted, to n webhooks when n is given: the event id.
async function publish(hg, ecosystemId, items, n) {
  const res = await publishRaw(hg, { ecosystemId, items });
  assert.equal(res.status, 202, res.text);
  assert.match(res.headers.get("content-type"), /^application\/json\b/);
  assert.deepEqual(Object.keys(res.json), ["id", "webhooks"]);
  assert.match(res.json.id, ID_RE);
  if (n !== undefined) assert.equal(res.json.webhooks, n, res.text);
  assert.equal(res.headers.get("idempotent-replayed"), null);
  return res.json.id;
}

async function eventOf(hg, id, token = TOKEN) {
  const res = await call(hg, "GET", `/api/events/${id}`, { token });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

const deliveryOf = (ev, webhookId) => ev.deliveries.find((d) => d.webhookId === webhookId);

// Polls GET /api/events/<id> until the delivery to webhookId is in state (and pred holds).
function waitDelivery(hg, id, webhookId, state, pred = () => true) {
  return until(`event ${id} to ${webhookId}: ${state}`, async () => {
    const ev = await eventOf(hg, id);
    const d = deliveryOf(ev, webhookId);
    return { ok: d !== undefined && d.state === state && pred(d), value: d ?? ev };
  });
}

async function attemptsOf(hg, webhookId, query = "") {
  const res = await call(hg, "GET", `/api/webhooks/${webhookId}/attempts${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function assertText(res, status, text) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain\b/);
  assert.equal(res.text, text);
}

function assertInvalid(res, errors, errorType = "InvalidParams", label = "") {
  assert.equal(res.status, 400, `${label}: ${res.text}`);
  assert.equal(res.json?.errorType, errorType, `${label}: ${res.text}`);
  assert.deepEqual(res.json.errors.map((e) => [e.in, e.path, e.message]), errors, label);
}

// The Prometheus text of /metrics as a Map "name{labels}" -> value.
async function metrics(hg) {
  const res = await call(hg, "GET", "/metrics", { token: null });
  assert.equal(res.status, 200);
  const out = new Map();
  for (const m of res.text.matchAll(/^(hookgate_[a-z_]+(?:\{[^}]*\})?) (\S+)$/gm)) out.set(m[1], Number(m[2]));
  return out;
}

// What a delivery of event id with these items must look like (the signatures apart).
function assertDelivery(rec, id, items, requestPath) {
  assert.equal(rec.method, "POST");
  assert.equal(rec.path, requestPath);
  assert.equal(rec.headers["content-type"], "application/json");
  assert.match(rec.headers["user-agent"], /^hookgate\/\S+$/);
  assert.equal(Number(rec.headers["content-length"]), rec.body.length);
  assert.equal(rec.headers["webhook-id"], id, "webhook-id is the event id");
  assert.match(rec.headers["webhook-timestamp"], /^[1-9]\d*$/);
  assert.ok(Math.abs(Number(rec.headers["webhook-timestamp"]) * 1000 - rec.at) < 60000, "webhook-timestamp is now");
  assert.equal(rec.body.toString("utf8"), JSON.stringify({ items }), "the body is {\"items\":...} as published");
}

const droplitSignature = (secret, body) => createHmac("sha256", Buffer.from(secret, "utf8")).update(body).digest("hex");
// The Standard Webhooks key of a secret: a whsec_ secret as it is, any other as whsec_ + base64
// of its bytes (what the libraries take for a raw key).
const standardKey = (secret) => secret.startsWith("whsec_") ? secret : "whsec_" + Buffer.from(secret, "utf8").toString("base64");

function assertSigned(rec, secret) {
  assert.equal(rec.headers["x-droplit-signature"], droplitSignature(secret, rec.body));
  assert.match(rec.headers["webhook-signature"] ?? "", /^v1,[A-Za-z0-9+/]{43}=$/);
  const verified = new Webhook(standardKey(secret)).verify(rec.body.toString("utf8"), rec.headers);
  assert.deepEqual(verified, JSON.parse(rec.body.toString("utf8")));
  // and the verifier can fail: another body, another id, another key
  const forged = { ...rec.headers, "webhook-id": "0".repeat(24) };
  assert.throws(() => new Webhook(standardKey(secret)).verify(rec.body.toString("utf8") + " ", rec.headers));
  assert.throws(() => new Webhook(standardKey(secret)).verify(rec.body.toString("utf8"), forged));
  assert.throws(() => new Webhook(standardKey(secret + "x")).verify(rec.body.toString("utf8"), rec.headers));
}

// ===================================================================================================
// The main server: a schedule of four attempts in ms, two attempts in flight per webhook.
// ===================================================================================================

const SCHEDULE = [0, 50, 100, 150];
const HANG_TIMEOUT_MS = 3000; // delivery.timeout_ms: what a url that never answers costs
let hg = null;
let rx = null; // the receiver every main case uses

before(async () => {
  rx = await receiver();
  hg = await startServer("main", {
    retry_schedule_ms: SCHEDULE, timeout_ms: HANG_TIMEOUT_MS, connect_timeout_ms: 1000, max_in_flight: 64,
    max_in_flight_per_webhook: 2, max_items: MAX_ITEMS, disable_after_ms: 0,
  });
});

// --- 1. what a delivery sends ----------------------------------------------------------------------

describe("what a delivery sends", () => {
  test("a whsec_ secret: both signatures verify, webhook-id is the event id", async () => {
    const e = hg.nextEco();
    const secret = "whsec_" + Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
    const w = await createHook(hg, e, rx.url("/sig/whsec"), { secret });
    const items = [{ type: "DeviceChanged", deviceId: "D1", value: 42 }];
    const id = await publish(hg, e, items, 1);
    const [rec] = await rx.waitRequests("/sig/whsec", 1);
    assertDelivery(rec, id, items, "/sig/whsec");
    assertSigned(rec, secret);
    await waitDelivery(hg, id, w.id, "delivered");
    assert.equal(rx.at("/sig/whsec").length, 1, "delivered once");
  });

  test("a plain secret: its UTF-8 bytes are the key of both", async () => {
    const e = hg.nextEco();
    const secret = "plain secret, é ✓";
    await createHook(hg, e, rx.url("/sig/plain"), { secret });
    const items = [{ a: 1 }, { b: "two" }];
    const id = await publish(hg, e, items, 1);
    const [rec] = await rx.waitRequests("/sig/plain", 1);
    assertDelivery(rec, id, items, "/sig/plain");
    assertSigned(rec, secret);
  });

  test("no secret: no signature headers, webhook-id and webhook-timestamp still sent", async () => {
    const e = hg.nextEco();
    await createHook(hg, e, rx.url("/sig/none"));
    const items = [{ unsigned: true }];
    const id = await publish(hg, e, items, 1);
    const [rec] = await rx.waitRequests("/sig/none", 1);
    assertDelivery(rec, id, items, "/sig/none");
    assert.equal(rec.headers["x-droplit-signature"], undefined);
    assert.equal(rec.headers["webhook-signature"], undefined);
  });

  test("the body is {\"items\":[...]} exactly as published: nesting, arrays, numbers, unicode", async () => {
    const e = hg.nextEco();
    const w = await createHook(hg, e, rx.url("/body/exact"), { secret: "s" });
    const items = [
      {
        type: "DeviceChanged", deviceId: "D0123", timestamp: "2026-01-01T00:00:00.000Z",
        numbers: [0, 1, -5, 2.5, 0.1, -3.14159, 123456789012, 9007199254740991, 1e21, 1.5e300, 5e-324,
          1.7976931348623157e308, 0.001],
        flags: [true, false, null], empty: "", emptyList: [], emptyObject: {},
        nested: { a: { b: { c: [[], {}, [1, [2, [3, { d: "deep" }]]]] } } },
      },
      {
        text: "é ✓ 日本語 😀 \u2028 \"quoted\" back\\slash tab\t newline\n </script> & 'single'",
        "ключ": "значение", "key with spaces": 1, "z": 1, "a": 2, // key order kept as published
      },
      {},
    ];
    const id = await publish(hg, e, items, 1);
    const [rec] = await rx.waitRequests("/body/exact", 1);
    assertDelivery(rec, id, items, "/body/exact");
    assert.ok(rec.body.equals(Buffer.from(JSON.stringify({ items }), "utf8")), "byte for byte");
    assertSigned(rec, "s");
    const ev = await eventOf(hg, id);
    assert.deepEqual(Object.keys(ev), ["id", "ecosystemId", "createdAt", "items", "deliveries"]);
    assert.deepEqual([ev.id, ev.ecosystemId], [id, e]);
    assert.match(ev.createdAt, RFC3339_RE);
    assert.ok(Math.abs(Date.parse(ev.createdAt) - Date.now()) < 60000);
    assert.deepEqual(ev.items, items);
    assert.equal(ev.deliveries.length, 1);
    assert.equal(ev.deliveries[0].webhookId, w.id);
  });

  // hookgate re-encodes the items from protobuf's Struct, laying numbers and escapes out as
  // JSON.stringify does: what a JavaScript publisher sent comes back byte for byte.
  test("exponents and control characters come back in JSON.stringify's spelling", async () => {
      const e = hg.nextEco();
      await createHook(hg, e, rx.url("/body/spelling"));
      const items = [{ n: [5e-7, 0.000001, 1e-7], s: "\u001f\u0001" }];
      await publish(hg, e, items, 1);
      const [rec] = await rx.waitRequests("/body/spelling", 1);
      assert.deepEqual(JSON.parse(rec.body.toString("utf8")), { items }, "the same JSON values");
      assert.equal(rec.body.toString("utf8"), JSON.stringify({ items }));
    });

  test("fan-out: one delivery per enabled webhook of the ecosystem at publish, none to the rest", async () => {
    const e = hg.nextEco();
    const a = await createHook(hg, e, rx.url("/fan/a"));
    const b = await createHook(hg, e, rx.url("/fan/b"));
    const off = await createHook(hg, e, rx.url("/fan/off"));
    await update(hg, off.id, { url: off.url, disabled: true });
    const elsewhere = await createHook(hg, hg.nextEco(), rx.url("/fan/elsewhere"));
    const items = [{ fan: "out" }];
    const id = await publish(hg, e, items, 2);
    await waitDelivery(hg, id, a.id, "delivered");
    await waitDelivery(hg, id, b.id, "delivered");
    const late = await createHook(hg, e, rx.url("/fan/late")); // made after the publish
    const ev = await eventOf(hg, id);
    assert.deepEqual(ev.deliveries.map((d) => d.webhookId).sort(), [a.id, b.id].sort());
    for (const d of ev.deliveries) {
      assert.deepEqual(d, { webhookId: d.webhookId, state: "delivered", attempts: 1, nextAttemptAt: null,
        lastStatusCode: 200, lastError: "" });
    }
    await sleep(200);
    for (const p of ["/fan/off", "/fan/elsewhere", "/fan/late"]) assert.equal(rx.at(p).length, 0, p);
    assert.equal(rx.at("/fan/a").length, 1);
    assert.equal(rx.at("/fan/b").length, 1);
    assert.equal(rx.at("/fan/a")[0].id, id);
    assert.ok(elsewhere && late);
  });
});

// --- 2. retries ------------------------------------------------------------------------------------------

describe("retries on the schedule [0, 50, 100, 150] ms", () => {
  test("failing three times, then 200: four attempts, one webhook-id, one body, the waits kept", async () => {
    const e = hg.nextEco();
    const p = "/retry/flaky";
    const secret = "flaky-secret";
    const w = await createHook(hg, e, rx.url(p), { secret });
    const big = "x".repeat(2048); // an answer longer than the 1 KiB an attempt keeps
    rx.script(p, [500, "hold", { status: 500, body: big }, { status: 200, body: "thanks" }]);
    const items = [{ attempt: "until it works", n: [1, 2, 3] }];
    const id = await publish(hg, e, items, 1);
    await rx.waitHeld(p, 1);
    // while the second attempt is in flight: pending, one attempt made, its 500 remembered
    const pending = deliveryOf(await eventOf(hg, id), w.id);
    assert.equal(pending.state, "pending");
    assert.equal(pending.attempts, 1);
    assert.equal(pending.lastStatusCode, 500);
    assert.equal(pending.lastError, "http");
    await sleep(250); // a long second attempt
    rx.release(p, id, 503);
    const d = await waitDelivery(hg, id, w.id, "delivered");
    assert.deepEqual(d, { webhookId: w.id, state: "delivered", attempts: 4, nextAttemptAt: null, lastStatusCode: 200,
      lastError: "" });
    const recs = rx.at(p);
    assert.equal(recs.length, 4);
    for (const rec of recs) {
      assertDelivery(rec, id, items, p); // the same webhook-id and body on every retry
      assertSigned(rec, secret);
    }
    for (let i = 1; i < 4; i++) {
      const gap = recs[i].at - recs[i - 1].at;
      assert.ok(gap >= SCHEDULE[i] - 5, `attempt ${i + 1} came ${gap} ms after attempt ${i}, before its wait`);
    }
    // the webhook's attempts, newest first
    const page = await attemptsOf(hg, w.id);
    assert.deepEqual(Object.keys(page), ["items"]);
    assert.equal(page.items.length, 4);
    assert.deepEqual(page.items.map((a) => [a.eventId, a.attempt, a.trigger, a.statusCode, a.error]), [
      [id, 4, "scheduled", 200, ""], [id, 3, "scheduled", 500, "http"], [id, 2, "scheduled", 503, "http"],
      [id, 1, "scheduled", 500, "http"]]);
    assert.deepEqual(page.items.map((a) => a.response), ["thanks", big.slice(0, 1024), "answered 503", "answered 500"]);
    const seqs = page.items.map((a) => BigInt(a.seq));
    for (let i = 1; i < 4; i++) assert.ok(seqs[i] < seqs[i - 1], "seq decreases");
    for (const a of page.items) {
      assert.deepEqual(Object.keys(a), ["seq", "eventId", "attempt", "trigger", "startedAt", "durationMs", "statusCode",
        "error", "response"]);
      assert.match(a.startedAt, RFC3339_RE);
    }
    const started = page.items.map((a) => Date.parse(a.startedAt)).reverse();
    for (let i = 1; i < 4; i++) assert.ok(started[i] >= started[i - 1] + SCHEDULE[i] - 5, `startedAt ${i}`);
    assert.ok(page.items[2].durationMs >= 200, `the held attempt took ${page.items[2].durationMs} ms`);
    // paged: 3, then the last one, without nextBefore
    const first = await attemptsOf(hg, w.id, "?limit=3");
    assert.deepEqual(first.items, page.items.slice(0, 3));
    assert.equal(typeof first.nextBefore, "string");
    const second = await attemptsOf(hg, w.id, `?limit=3&before=${first.nextBefore}`);
    assert.deepEqual(second, { items: page.items.slice(3) }, "the last page has no nextBefore");
  });

  test("every attempt failing: failed after the last one, never a fifth", async () => {
    const e = hg.nextEco();
    const p = "/status/500";
    const w = await createHook(hg, e, rx.url(p));
    const before = rx.at(p).length;
    const id = await publish(hg, e, [{ doomed: true }], 1);
    const d = await waitDelivery(hg, id, w.id, "failed");
    assert.deepEqual(d, { webhookId: w.id, state: "failed", attempts: 4, nextAttemptAt: null, lastStatusCode: 500,
      lastError: "http" });
    await sleep(400); // longer than any wait of the schedule
    assert.equal(rx.at(p).length - before, 4);
    const page = await attemptsOf(hg, w.id);
    assert.deepEqual(page.items.map((a) => [a.attempt, a.statusCode, a.error]),
      [[4, 500, "http"], [3, 500, "http"], [2, 500, "http"], [1, 500, "http"]]);
  });

  test("nothing listening: failed, error connect, status 0", async () => {
    const e = hg.nextEco();
    const w = await createHook(hg, e, `http://127.0.0.1:${await freePort()}/closed`);
    const id = await publish(hg, e, [{ to: "nowhere" }], 1);
    const d = await waitDelivery(hg, id, w.id, "failed");
    assert.deepEqual(d, { webhookId: w.id, state: "failed", attempts: 4, nextAttemptAt: null, lastStatusCode: 0,
      lastError: "connect" });
    const page = await attemptsOf(hg, w.id);
    assert.deepEqual(page.items.map((a) => [a.attempt, a.statusCode, a.error, a.response]),
      [[4, 0, "connect", ""], [3, 0, "connect", ""], [2, 0, "connect", ""], [1, 0, "connect", ""]]);
  });

  test("a redirect (302, 307) is a failure and is never followed", async () => {
    const e = hg.nextEco();
    const w302 = await createHook(hg, e, rx.url("/redirect/302"));
    const w307 = await createHook(hg, e, rx.url("/redirect/307"));
    const id = await publish(hg, e, [{ redirected: false }], 2);
    for (const [w, status] of [[w302, 302], [w307, 307]]) {
      const d = await waitDelivery(hg, id, w.id, "failed");
      assert.deepEqual([d.attempts, d.lastStatusCode, d.lastError], [4, status, "http"]);
    }
    assert.equal(rx.at("/redirect/302").length, 4);
    assert.equal(rx.at("/redirect/307").length, 4);
    assert.equal(rx.at("/target").length, 0, "the Location was requested");
  });
});

// --- 3. 410 Gone ----------------------------------------------------------------------------------------------

describe("410 Gone", () => {
  test("disables the webhook at once, with a reason; its other deliveries are cancelled", async () => {
    const e = hg.nextEco();
    const p = "/hold/gone";
    const gone = await createHook(hg, e, rx.url(p));
    const fine = await createHook(hg, e, rx.url("/gone/neighbour"));
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await publish(hg, e, [{ i }], 2));
    // two in flight (max_in_flight_per_webhook), the third waiting; which is the dispatcher's
    // choice (events published in the same millisecond are due together)
    const [goneId, otherId] = await rx.waitHeld(p, 2);
    const [waitingId] = ids.filter((id) => id !== goneId && id !== otherId);
    const waiting = deliveryOf(await eventOf(hg, waitingId), gone.id);
    assert.deepEqual([waiting.state, waiting.attempts], ["pending", 0]);
    rx.release(p, goneId, { status: 410, body: "gone for good" });
    const w = await until("disabled", async () => {
      const now = await webhookOf(hg, gone.id);
      return { ok: now.disabled === true, value: now };
    });
    assert.deepEqual(Object.keys(w), ["id", "description", "ecosystemId", "url", "disabled", "createdAt",
      "disabledReason", "disabledAt"]);
    assert.match(w.disabledReason, /410/);
    assert.match(w.disabledAt, RFC3339_RE);
    assert.ok(Date.parse(w.disabledAt) >= Date.parse(w.createdAt) && Date.parse(w.disabledAt) <= Date.now() + 1000);
    const first = await waitDelivery(hg, goneId, gone.id, "failed");
    assert.deepEqual([first.attempts, first.lastStatusCode, first.lastError], [1, 410, "http"]);
    // the waiting one is cancelled without an attempt
    const third = await waitDelivery(hg, waitingId, gone.id, "cancelled");
    assert.equal(third.attempts, 0);
    // the one in flight fails, and is cancelled rather than tried again
    rx.release(p, otherId, 500);
    const second = await waitDelivery(hg, otherId, gone.id, "cancelled");
    assert.equal(second.attempts, 1);
    await sleep(300);
    assert.equal(rx.at(p).length, 2, "no attempt after the 410");
    // the neighbour is untouched
    for (const id of ids) await waitDelivery(hg, id, fine.id, "delivered");
    assert.equal((await webhookOf(hg, fine.id)).disabled, false);
    assert.equal((await webhookOf(hg, fine.id)).disabledReason, undefined);
    // and a new event goes to the enabled one only
    const next = await publish(hg, e, [{ after: "410" }], 1);
    assert.deepEqual((await eventOf(hg, next)).deliveries.map((d) => d.webhookId), [fine.id]);
  });
});

// --- 4. changes while deliveries wait -------------------------------------------------------------------

describe("disable, delete or update a webhook while its deliveries wait", () => {
  // Four events to a url that holds its requests: two in flight, two waiting (which two is the
  // dispatcher's choice: events published in the same millisecond are due together).
  async function fourWaiting(p) {
    const e = hg.nextEco();
    const w = await createHook(hg, e, rx.url(p));
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await publish(hg, e, [{ i }], 1));
    const inFlight = await rx.waitHeld(p, 2);
    const waiting = ids.filter((id) => !inFlight.includes(id));
    assert.equal(waiting.length, 2);
    for (const id of waiting) {
      const d = deliveryOf(await eventOf(hg, id), w.id);
      assert.deepEqual([d.state, d.attempts], ["pending", 0]);
    }
    return { w, inFlight, waiting };
  }

  test("disable (PUT disabled: true): the waiting ones are cancelled, the ones in flight are not retried",
    async () => {
      const p = "/hold/disable";
      const { w, inFlight, waiting } = await fourWaiting(p);
      await update(hg, w.id, { url: w.url, disabled: true });
      for (const id of waiting) assert.equal((await waitDelivery(hg, id, w.id, "cancelled")).attempts, 0);
      for (const id of inFlight) rx.release(p, id, 500);
      for (const id of inFlight) assert.equal((await waitDelivery(hg, id, w.id, "cancelled")).attempts, 1);
      await sleep(300);
      assert.equal(rx.at(p).length, 2);
      assert.equal((await webhookOf(hg, w.id)).disabled, true);
    });

  test("delete: the waiting ones are cancelled, the ones in flight are not retried", async () => {
    const p = "/hold/delete";
    const { w, inFlight, waiting } = await fourWaiting(p);
    const res = await call(hg, "DELETE", `/api/webhooks/${w.id}`);
    assert.equal(res.status, 200, res.text);
    for (const id of waiting) assert.equal((await waitDelivery(hg, id, w.id, "cancelled")).attempts, 0);
    for (const id of inFlight) rx.release(p, id, 500);
    for (const id of inFlight) assert.equal((await waitDelivery(hg, id, w.id, "cancelled")).attempts, 1);
    await sleep(300);
    assert.equal(rx.at(p).length, 2);
  });

  test("update (PUT url, secret): the next attempt goes to the new url, signed with the new secret", async () => {
    const e = hg.nextEco();
    const oldPath = "/hold/update-old";
    const newPath = "/update/new";
    const w = await createHook(hg, e, rx.url(oldPath), { secret: "first" });
    const items = [{ moved: true }];
    const id = await publish(hg, e, items, 1);
    await rx.waitHeld(oldPath, 1);
    await update(hg, w.id, { url: rx.url(newPath), secret: "second" });
    rx.release(oldPath, id, 500);
    const d = await waitDelivery(hg, id, w.id, "delivered");
    assert.deepEqual([d.attempts, d.lastStatusCode], [2, 200]);
    assert.equal(rx.at(oldPath).length, 1);
    assert.equal(rx.at(newPath).length, 1);
    const [oldRec] = rx.at(oldPath);
    const [newRec] = rx.at(newPath);
    assertDelivery(oldRec, id, items, oldPath);
    assertSigned(oldRec, "first");
    assertDelivery(newRec, id, items, newPath);
    assertSigned(newRec, "second");
  });
});

// --- 5. a url that never answers beside a healthy one ------------------------------------------------------

describe("isolation", () => {
  test(`a url that never answers (timeout_ms ${HANG_TIMEOUT_MS}) holds at most max_in_flight_per_webhook (2) `
    + "connections and delays no other webhook", async (t) => {
    const hang = await receiver(); // its own, so that its connections are its webhook's
    const e = hg.nextEco();
    const stuck = await createHook(hg, e, hang.url("/hang"));
    const healthy = await createHook(hg, e, rx.url("/iso/healthy"));
    const N = 10;
    const start = Date.now();
    const ids = [];
    for (let i = 0; i < N; i++) ids.push(await publish(hg, e, [{ i }], 2));
    for (const id of ids) await waitDelivery(hg, id, healthy.id, "delivered");
    const healthyDone = Date.now() - start;
    // every healthy delivery arrived while the stuck url still holds attempts
    assert.equal(rx.at("/iso/healthy").length, N);
    assert.ok(healthyDone < HANG_TIMEOUT_MS, `the healthy deliveries took ${healthyDone} ms`);
    assert.ok(hang.open >= 1, "no attempt in flight at the stuck url");
    for (const id of ids) assert.equal(deliveryOf(await eventOf(hg, id), stuck.id).state, "pending");
    const m = await metrics(hg);
    assert.ok(m.get("hookgate_deliveries_in_flight") >= 2, `in flight: ${m.get("hookgate_deliveries_in_flight")}`);
    assert.ok(m.get("hookgate_deliveries_pending") >= N, `pending: ${m.get("hookgate_deliveries_pending")}`);
    // the first two time out, the next two take their places: never more than two at once
    await hang.waitRequests("/hang", 4);
    await sleep(50); // the last sample
    t.diagnostic(`connections to the stuck url: ${hang.connections}, at most ${hang.maxOpen} open at once `
      + `(${hang.rawMaxOpen} counting a close and an accept taken in one turn)`);
    assert.equal(hang.maxOpen, 2, "concurrent connections to the stuck url");
    const page = await attemptsOf(hg, stuck.id);
    assert.ok(page.items.length >= 2);
    for (const a of page.items) {
      assert.deepEqual([a.statusCode, a.error, a.trigger], [0, "timeout", "scheduled"]);
      assert.ok(a.durationMs >= HANG_TIMEOUT_MS - 100 && a.durationMs < HANG_TIMEOUT_MS + 2000, `${a.durationMs} ms`);
    }
    // done with it: deleted, and its attempts in flight cut short
    assert.equal((await call(hg, "DELETE", `/api/webhooks/${stuck.id}`)).status, 200);
    hang.dropHanging();
    for (const id of ids) await waitDelivery(hg, id, stuck.id, "cancelled");
    assert.ok(hang.maxOpen <= 2);
  });
});

// --- 6. Idempotency-Key -----------------------------------------------------------------------------------------

describe("Idempotency-Key", () => {
  test("a retried publish answers the same event (idempotent-replayed: true) and delivers once", async () => {
    const e = hg.nextEco();
    const w = await createHook(hg, e, rx.url("/idem"));
    const body = { ecosystemId: e, items: [{ once: true }] };
    const first = await publishRaw(hg, body, { key: "evt-key-1" });
    assert.equal(first.status, 202, first.text);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const again = await publishRaw(hg, body, { key: "evt-key-1" });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(again.json, first.json);
    const alias = await publishRaw(hg, body, { key: "evt-key-1", prefix: "/v0/api" });
    assert.equal(alias.status, 202);
    assert.deepEqual(alias.json, first.json);
    // another key, or the same key from another token: another event
    const other = await publishRaw(hg, body, { key: "evt-key-2" });
    assert.equal(other.status, 202);
    assert.notEqual(other.json.id, first.json.id);
    // the key again with other items, or another ecosystem: 422, as a create's key, and nothing published
    const eventsBefore = (await metrics(hg)).get("hookgate_events_stored");
    for (const changed of [{ ecosystemId: e, items: [{ once: false }] }, { ecosystemId: hg.nextEco(), items: body.items }]) {
      const res = await publishRaw(hg, changed, { key: "evt-key-1" });
      assert.equal(res.status, 422, res.text);
      assert.match(res.text, /Idempotency-Key was used to publish a different event/);
    }
    assert.equal((await metrics(hg)).get("hookgate_events_stored"), eventsBefore);
    await waitDelivery(hg, first.json.id, w.id, "delivered");
    await waitDelivery(hg, other.json.id, w.id, "delivered");
    await sleep(200);
    assert.deepEqual(rx.at("/idem").map((r) => r.id).sort(), [first.json.id, other.json.id].sort());
  });

  test("a key from another token is another key", async () => {
    const w = await createHook(hg, ECO_SRV, rx.url("/idem/srv"));
    const body = { ecosystemId: ECO_SRV, items: [{ scoped: true }] };
    const mine = await publishRaw(hg, body, { key: "shared-key" });
    const theirs = await publishRaw(hg, body, { key: "shared-key", token: SRV_TOKEN });
    assert.deepEqual([mine.status, theirs.status], [202, 202], theirs.text);
    assert.notEqual(mine.json.id, theirs.json.id);
    assert.equal(theirs.headers.get("idempotent-replayed"), null);
    await waitDelivery(hg, theirs.json.id, w.id, "delivered");
    assert.equal((await call(hg, "DELETE", `/api/webhooks/${w.id}`)).status, 200); // ECO_SRV is shared
  });

  test("a bad key is a 400 naming the header", async () => {
    const e = hg.nextEco();
    for (const key of ["", "x".repeat(256), "tab\there"]) {
      const res = await publishRaw(hg, { ecosystemId: e, items: [{}] }, { key });
      assertInvalid(res, [["header", "Idempotency-Key", "must be one value of 1 to 255 printable ASCII characters"]]);
    }
  });
});

// --- 7. errors -----------------------------------------------------------------------------------------------

describe("a publish that is refused publishes nothing", () => {
  test("400, 401, 403, 404", async () => {
    const e = hg.nextEco();
    await createHook(hg, e, rx.url("/refused"));
    const stored = (await metrics(hg)).get("hookgate_events_stored");
    const item = { a: 1 };
    const too = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => ({ i }));
    const cases = [
      [{ ecosystemId: e }, [["body", "items", "field is required"]]],
      [{ ecosystemId: e, items: [] }, [["body", "items", "field is required"]]],
      [{ ecosystemId: e, items: null }, [["body", "items", "field is required"]]],
      [{ ecosystemId: e, items: too }, [["body", "items", `must hold at most ${MAX_ITEMS} items`]]],
      [{ ecosystemId: e, items: [item, 1] }, [["body", "items[1]", "must be an object"]]],
      [{ ecosystemId: e, items: ["x"] }, [["body", "items[0]", "must be an object"]]],
      [{ ecosystemId: e, items: [[item]] }, [["body", "items[0]", "must be an object"]]],
      [{ ecosystemId: e, items: [null] }, [["body", "items[0]", "must be an object"]]],
      [{ ecosystemId: e, items: item }, [["body", "items", "must be an array"]]],
      [{ items: [item] }, [["body", "ecosystemId", "field is required"]]],
      [{ ecosystemId: "C123", items: [item] }, [["body", "ecosystemId", "invalid id"]]],
      [{ ecosystemId: eco(0xabc).toUpperCase(), items: [item] }, [["body", "ecosystemId", "invalid id"]]],
      [{ ecosystemId: "nope" }, [["body", "ecosystemId", "invalid id"], ["body", "items", "field is required"]]],
      [{ ecosystemId: e, items: [item], extra: 1 },
        [["body", "additional parameters", "contains fields that are not allowed: [ extra ]"]]],
    ];
    for (const [body, errors] of cases) {
      const res = await publishRaw(hg, body);
      assertInvalid(res, errors, "InvalidParams", JSON.stringify(body));
    }
    for (const prefix of ["/api", "/v0/api"]) assertInvalid(await publishRaw(hg, { ecosystemId: e }, { prefix }),
      [["body", "items", "field is required"]]);
    const broken = await publishRaw(hg, "{\"ecosystemId\":");
    assert.equal(broken.json?.errorType, "InvalidBody", broken.text);
    assert.deepEqual(broken.json.errors.map((x) => [x.in, x.path]), [["body", "body"]]);
    assertInvalid(await publishRaw(hg, "[]"), [["body", "body", "must be a JSON object"]], "InvalidBody");
    const ok = { ecosystemId: e, items: [item] };
    assertText(await publishRaw(hg, ok, { token: null }), 401, "Missing authorization token.");
    assertText(await publishRaw(hg, ok, { token: "Bearer nope" }), 401, "Invalid authorization token.");
    assertText(await publishRaw(hg, { ecosystemId: ECO_SRV2, items: [item] }, { token: SRV_TOKEN }), 403,
      "Token not permitted for this ecosystem.");
    for (const [id, token] of [[ECO_OTHER, TOKEN], [ECO_DELETED, TOKEN], [eco(0xfff), TOKEN], [e, OTHER_TOKEN]]) {
      assertText(await publishRaw(hg, { ecosystemId: id, items: [item] }, { token }), 404,
        `Ecosystem with id ${id} does not exist.`);
    }
    await sleep(200);
    assert.equal(rx.at("/refused").length, 0);
    assert.equal((await metrics(hg)).get("hookgate_events_stored"), stored, "an event was stored");
    // the same body is fine with the right token: Bearer, raw, and the ecosystem's server token
    assert.equal((await publishRaw(hg, ok, { token: `Bearer ${TOKEN}` })).status, 202);
    assert.equal((await publishRaw(hg, { ecosystemId: ECO_SRV, items: [item] }, { token: SRV_TOKEN })).status, 202);
    assert.equal((await publishRaw(hg, { ecosystemId: ECO_OTHER, items: [item] }, { token: OTHER_TOKEN })).status, 202);
  });

  test("GET /api/events/<id> and the attempts: 404 outside the token's ecosystems, 400 for bad ids", async () => {
    const e = hg.nextEco();
    const w = await createHook(hg, e, rx.url("/scoped"));
    const id = await publish(hg, e, [{ scoped: 1 }], 1);
    const srvEvent = await publish(hg, ECO_SRV, [{ srv: 1 }]);
    assert.equal((await eventOf(hg, srvEvent, SRV_TOKEN)).id, srvEvent);
    const missing = "0123456789abcdef01234567";
    const noEvent = (x) => `Event with id ${x} does not exist.`;
    assertText(await call(hg, "GET", `/api/events/${missing}`), 404, noEvent(missing));
    assertText(await call(hg, "GET", `/api/events/${id}`, { token: OTHER_TOKEN }), 404, noEvent(id));
    assertText(await call(hg, "GET", `/api/events/${id}`, { token: SRV_TOKEN }), 404, noEvent(id));
    assertText(await call(hg, "GET", `/api/events/${id}`, { token: null }), 401, "Missing authorization token.");
    assertInvalid(await call(hg, "GET", "/api/events/XYZ"), [["path", "id", "invalid id"]]);
    assertInvalid(await call(hg, "GET", `/api/events/${id}?x=1`),
      [["query", "additional parameters", "contains fields that are not allowed: [ x ]"]]);
    assertText(await call(hg, "GET", `/api/webhooks/${w.id}/attempts`, { token: OTHER_TOKEN }), 404,
      `Webhook with id ${w.id} does not exist.`);
    assertText(await call(hg, "GET", `/api/webhooks/${missing}/attempts`), 404,
      `Webhook with id ${missing} does not exist.`);
    assertInvalid(await call(hg, "GET", `/api/webhooks/${w.id}/attempts?limit=1001`),
      [["query", "limit", "must be at most 1000"]]);
    assertInvalid(await call(hg, "GET", `/api/webhooks/${w.id}/attempts?y=2`),
      [["query", "additional parameters", "contains fields that are not allowed: [ y ]"]]);
    assert.equal((await call(hg, "GET", `/v0/api/events/${id}`)).status, 200);
  });
});

// --- 8. every RPC protocol ---------------------------------------------------------------------------------------

describe("every RPC protocol publishes and reads events", () => {
  for (const name of TRANSPORT_NAMES) {
    test(name, async () => {
      const client = createClient(WebhookService, makeTransport(name, hg, sessionManagers));
      const opts = { headers: { authorization: TOKEN } };
      const e = hg.nextEco();
      const p = `/rpc/${name.replace(/[^a-z0-9]+/g, "-")}`;
      const w = await createHook(hg, e, rx.url(p), { secret: "rpc" });
      const items = [{ transport: name, n: 1.5, list: [1, "two", null, true, { three: 3 }] }, {}];
      const res = await client.publishEvent({ ecosystemId: e, items }, opts);
      assert.match(res.id, ID_RE);
      assert.equal(res.webhooks, 1);
      const ev = await until("delivered", async () => {
        const got = await client.getEvent({ id: res.id }, opts);
        return { ok: got.deliveries.length === 1 && got.deliveries[0].state === "delivered", value: got };
      });
      assert.equal(ev.id, res.id);
      assert.equal(ev.ecosystemId, e);
      assert.ok(Math.abs(timestampDate(ev.createdAt).getTime() - Date.now()) < 60000);
      assert.deepEqual(ev.items, items);
      const d = ev.deliveries[0];
      assert.deepEqual([d.webhookId, d.attempts, d.lastStatusCode, d.lastError, d.nextAttemptAt],
        [w.id, 1, 200, "", undefined]);
      const [rec] = rx.at(p);
      assertDelivery(rec, res.id, items, p);
      assertSigned(rec, "rpc");
      const attempts = await client.listAttempts({ id: w.id, limit: 10 }, opts);
      assert.equal(attempts.items.length, 1);
      assert.deepEqual([attempts.items[0].eventId, attempts.items[0].attempt, attempts.items[0].trigger,
        attempts.items[0].statusCode, attempts.items[0].error], [res.id, 1, "scheduled", 200, ""]);
      assert.equal(attempts.nextPage.case, undefined);
      // resend and recover that find nothing to do (see "resend and recover" for the rest)
      const recovered = await client.recoverWebhook({ id: w.id, since: timestampFromMs(Date.now() + 60000) }, opts);
      assert.equal(recovered.deliveries, 0);
      await update(hg, w.id, { url: w.url, disabled: true });
      const resent = await client.resendEvent({ id: res.id }, opts);
      assert.equal(resent.deliveries, 0, "a disabled webhook gets no resend");
      // errors
      await assertConnectError(() => client.publishEvent({ ecosystemId: e, items: [] }, opts), Code.InvalidArgument,
        undefined, "InvalidParams", [["body", "items", "field is required"]]);
      const missing = "0123456789abcdef01234567";
      const msg = `Event with id ${missing} does not exist.`;
      await assertConnectError(() => client.getEvent({ id: missing }, opts), Code.NotFound, msg, "NotFound",
        [["", "", msg]]);
      const denied = "Ecosystem with id " + ECO_OTHER + " does not exist.";
      await assertConnectError(() => client.publishEvent({ ecosystemId: ECO_OTHER, items }, opts), Code.NotFound,
        denied, "NotFound", [["", "", denied]]);
      await assertConnectError(() => client.recoverWebhook({ id: w.id }, opts), Code.InvalidArgument, undefined,
        "InvalidParams", [["body", "since", "field is required"]]);
    });
  }
});

// ===================================================================================================
// Retry-After: a schedule whose later waits are long, so a shorter wait can only come from it.
// ===================================================================================================

describe("Retry-After on 429 and 503", () => {
  let rhg = null;
  before(async () => {
    rhg = await startServer("retry-after", {
      retry_schedule_ms: [0, 300, 5000, 5000], timeout_ms: 2000, connect_timeout_ms: 1000, disable_after_ms: 0,
    });
  });

  test("503 and 429 with Retry-After: 1 come back after about a second, not the schedule's 5 s", async () => {
    const e = rhg.nextEco();
    const p = "/ra/honoured";
    const w = await createHook(rhg, e, rx.url(p));
    rx.script(p, [500, { status: 503, headers: { "retry-after": "1" } }, { status: 429, headers: { "retry-after": "1" } },
      200]);
    const id = await publish(rhg, e, [{ ra: 1 }], 1);
    const d = await waitDelivery(rhg, id, w.id, "delivered");
    assert.equal(d.attempts, 4);
    const at = rx.at(p).map((r) => r.at);
    const gaps = [at[1] - at[0], at[2] - at[1], at[3] - at[2]];
    assert.ok(gaps[0] >= 290 && gaps[0] < 2500, `after the 500: ${gaps[0]} ms (schedule 300)`);
    assert.ok(gaps[1] >= 900 && gaps[1] < 3500, `after the 503: ${gaps[1]} ms (Retry-After 1 s, schedule 5 s)`);
    assert.ok(gaps[2] >= 900 && gaps[2] < 3500, `after the 429: ${gaps[2]} ms (Retry-After 1 s, schedule 5 s)`);
  });

  test("a Retry-After of 100 s waits at most twice the scheduled 300 ms", async () => {
    const e = rhg.nextEco();
    const p = "/ra/clamped";
    const w = await createHook(rhg, e, rx.url(p));
    rx.script(p, [{ status: 503, headers: { "retry-after": "100" } }, 200]);
    const id = await publish(rhg, e, [{ ra: 100 }], 1);
    const d = await waitDelivery(rhg, id, w.id, "delivered");
    assert.equal(d.attempts, 2);
    const [a, b] = rx.at(p).map((r) => r.at);
    assert.ok(b - a >= 550 && b - a < 2500, `the second attempt came ${b - a} ms after the first (at most ~600)`);
  });

  test("a Retry-After on a 500 is not read", async () => {
    const e = rhg.nextEco();
    const p = "/ra/ignored";
    const w = await createHook(rhg, e, rx.url(p));
    rx.script(p, [{ status: 500, headers: { "retry-after": "2" } }, 200]);
    const id = await publish(rhg, e, [{ ra: "500" }], 1);
    await waitDelivery(rhg, id, w.id, "delivered");
    const [a, b] = rx.at(p).map((r) => r.at);
    assert.ok(b - a >= 290 && b - a < 1500, `the second attempt came ${b - a} ms after the first (schedule 300)`);
  });
});

// ===================================================================================================
// Auto-disable: delivery.disable_after_ms 1000 with attempts every 300 ms.
// ===================================================================================================

describe("auto-disable after delivery.disable_after_ms (1000) without a 2xx", () => {
  let ahg = null;
  before(async () => {
    ahg = await startServer("auto-disable", {
      retry_schedule_ms: [0, 300, 300, 300, 300, 300, 300, 300], retry_jitter_percent: 0, timeout_ms: 2000,
      connect_timeout_ms: 1000, disable_after_ms: 1000,
    });
  });

  test("a webhook failing for a second is disabled with a reason; a healthy neighbour is not", async () => {
    const e = ahg.nextEco();
    const p = "/auto/failing";
    rx.script(p, Array(20).fill(500));
    const bad = await createHook(ahg, e, rx.url(p));
    const good = await createHook(ahg, e, rx.url("/auto/good"));
    const id = await publish(ahg, e, [{ auto: "disable" }], 2);
    const w = await until("disabled", async () => {
      const now = await webhookOf(ahg, bad.id);
      return { ok: now.disabled === true, value: now };
    });
    assert.match(w.disabledReason, /disable_after_ms/);
    assert.match(w.disabledReason, /\b1000 ms\b/);
    assert.match(w.disabledAt, RFC3339_RE);
    const firstStart = Date.parse((await attemptsOf(ahg, bad.id)).items.at(-1).startedAt);
    // (disabledAt is the end of the attempt that decided it, taken a moment before its clock)
    assert.ok(Date.parse(w.disabledAt) - firstStart >= 950, "disabled before failing for disable_after_ms");
    const d = await until("not pending", async () => {
      const now = deliveryOf(await eventOf(ahg, id), bad.id);
      return { ok: now.state !== "pending", value: now };
    });
    assert.ok(["cancelled", "failed"].includes(d.state), d.state);
    assert.ok(d.attempts >= 4 && d.attempts < 8, `${d.attempts} attempts`);
    const n = rx.at(p).length;
    assert.equal(n, d.attempts);
    await sleep(700);
    assert.equal(rx.at(p).length, n, "attempted after it was disabled");
    await waitDelivery(ahg, id, good.id, "delivered");
    assert.equal((await webhookOf(ahg, good.id)).disabled, false);
  });

  test("a 2xx resets the failure clock", async () => {
    const e = ahg.nextEco();
    const p = "/auto/recovering";
    // the first event: two failures 300 ms apart, then 200 (well inside the second, however
    // slow the machine); the second, published once a second has passed since the first
    // failure: two failures, then 200. Counted from the first failure, the second event's
    // failures pass the second.
    rx.script(p, [500, 500, 200, 500, 500, 200]);
    const w = await createHook(ahg, e, rx.url(p));
    const first = await publish(ahg, e, [{ n: 1 }], 1);
    await waitDelivery(ahg, first, w.id, "delivered");
    const firstFailure = rx.at(p)[0].at;
    await new Promise((r) => setTimeout(r, Math.max(0, firstFailure + 1000 - Date.now()))); // time passing is the subject
    const second = await publish(ahg, e, [{ n: 2 }], 1);
    const d = await waitDelivery(ahg, second, w.id, "delivered");
    assert.equal(d.attempts, 3);
    const at = rx.at(p).map((r) => r.at);
    assert.ok(at[4] - at[0] >= 1000, `the test's premise: ${at[4] - at[0]} ms from the first failure to the last`);
    assert.equal((await webhookOf(ahg, w.id)).disabled, false);
  });
});

// ===================================================================================================
// Resend and recover. Each case runs its own server, so that one that fails by killing its
// server (see the report) does not take the other cases with it.
// ===================================================================================================

describe("resend and recover", () => {
  const delivery = { retry_schedule_ms: [0, 50], timeout_ms: 2000, connect_timeout_ms: 1000, disable_after_ms: 0 };

  test("errors: 404 for an unknown event or webhook, 400 for bad ids or a missing since", async () => {
    const s = await startServer("resend-errors", delivery);
    const e = s.nextEco();
    const w = await createHook(s, e, rx.url("/resend/errors"));
    const id = await publish(s, e, [{ r: 0 }], 1);
    await waitDelivery(s, id, w.id, "delivered");
    const missing = "0123456789abcdef01234567";
    assertText(await call(s, "POST", `/api/events/${missing}/resend`, { body: {} }), 404,
      `Event with id ${missing} does not exist.`);
    assertText(await call(s, "POST", `/api/events/${id}/resend`, { body: {}, token: OTHER_TOKEN }), 404,
      `Event with id ${id} does not exist.`);
    assertInvalid(await call(s, "POST", "/api/events/XYZ/resend", { body: {} }), [["path", "id", "invalid id"]]);
    assertInvalid(await call(s, "POST", `/api/events/${id}/resend`, { body: { webhookId: "zz" } }),
      [["body", "webhookId", "invalid id"]]);
    assertInvalid(await call(s, "POST", `/api/webhooks/${w.id}/recover`, { body: {} }),
      [["body", "since", "field is required"]]);
    assertText(await call(s, "POST", `/api/webhooks/${missing}/recover`, { body: { since: "2020-01-01T00:00:00Z" } }),
      404, `Webhook with id ${missing} does not exist.`);
    const none = await call(s, "POST", `/api/webhooks/${w.id}/recover`, { body: { since: "2020-01-01T00:00:00Z" } });
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.json, { deliveries: 0 }, "nothing failed");
    assert.ok(s.alive(), deathOf(s));
  });

  // SERVER BUG (reported): on the memory store, a resend or recover that queues at least one
  // delivery frees its target list twice (server/store/backend_memory.c, resend() and
  // recover(): on_events_written frees c->ev.owned_memory, then the caller frees it again
  // because c->ev.owned is NULL by then); hookgate dies of SIGSEGV and the client gets no
  // answer. These cases fail until that is fixed.
  test("resend (no body): every webhook of the event gets one manual attempt", async () => {
    const s = await startServer("resend-all", delivery);
    const e = s.nextEco();
    const a = await createHook(s, e, rx.url("/resend/all/a"));
    const b = await createHook(s, e, rx.url("/resend/all/b"));
    const items = [{ resend: "all" }];
    const id = await publish(s, e, items, 2);
    await waitDelivery(s, id, a.id, "delivered");
    await waitDelivery(s, id, b.id, "delivered");
    let res;
    try {
      res = await call(s, "POST", `/api/events/${id}/resend`);
    } catch (err) {
      await noAnswer(s, "resend", err);
    }
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { deliveries: 2 });
    for (const w of [a, b]) {
      const d = await waitDelivery(s, id, w.id, "delivered", (x) => x.attempts === 2);
      assert.equal(d.lastStatusCode, 200);
      const [newest] = (await attemptsOf(s, w.id)).items;
      assert.deepEqual([newest.eventId, newest.attempt, newest.trigger, newest.statusCode], [id, 2, "manual", 200]);
    }
    for (const p of ["/resend/all/a", "/resend/all/b"]) {
      const recs = rx.at(p);
      assert.equal(recs.length, 2);
      for (const rec of recs) assertDelivery(rec, id, items, p);
    }
  });

  // SERVER BUG (reported): see above.
  test("resend to one webhook; a manual attempt that fails is not retried", async () => {
    const s = await startServer("resend-one", delivery);
    const e = s.nextEco();
    const a = await createHook(s, e, rx.url("/resend/one/a"));
    const f = await createHook(s, e, rx.url("/resend/one/failing"));
    rx.script("/resend/one/failing", [500, 500, 500, 500]);
    const id = await publish(s, e, [{ resend: "one" }], 2);
    await waitDelivery(s, id, a.id, "delivered");
    await waitDelivery(s, id, f.id, "failed", (d) => d.attempts === 2);
    let res;
    try {
      res = await call(s, "POST", `/api/events/${id}/resend`, { body: { webhookId: f.id } });
    } catch (err) {
      await noAnswer(s, "resend", err);
    }
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { deliveries: 1 });
    const d = await waitDelivery(s, id, f.id, "failed", (x) => x.attempts === 3);
    assert.equal(d.lastStatusCode, 500);
    await sleep(300);
    assert.equal(rx.at("/resend/one/failing").length, 3, "one manual attempt, no retries");
    assert.equal(rx.at("/resend/one/a").length, 1, "the other webhook got nothing");
    const [newest] = (await attemptsOf(s, f.id)).items;
    assert.deepEqual([newest.attempt, newest.trigger, newest.error], [3, "manual", "http"]);
  });

  // SERVER BUG (reported): see above.
  test("recover: every failed delivery of the webhook since a time, again", async () => {
    const s = await startServer("recover", delivery);
    const e = s.nextEco();
    const p = "/recover/failing";
    rx.script(p, [500, 500, 500, 500]); // two events, two attempts each; then 200
    const w = await createHook(s, e, rx.url(p));
    const since = new Date(Date.now() - 1000).toISOString();
    const ids = [await publish(s, e, [{ n: 1 }], 1), await publish(s, e, [{ n: 2 }], 1)];
    for (const id of ids) await waitDelivery(s, id, w.id, "failed");
    const later = new Date(Date.now() + 60000).toISOString();
    const none = await call(s, "POST", `/api/webhooks/${w.id}/recover`, { body: { since: later } });
    assert.deepEqual([none.status, none.json], [200, { deliveries: 0 }]);
    let res;
    try {
      res = await call(s, "POST", `/api/webhooks/${w.id}/recover`, { body: { since } });
    } catch (err) {
      await noAnswer(s, "recover", err);
    }
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { deliveries: 2 });
    for (const id of ids) {
      const d = await waitDelivery(s, id, w.id, "delivered");
      assert.equal(d.attempts, 3);
    }
    assert.equal(rx.at(p).length, 6);
    const items = (await attemptsOf(s, w.id)).items;
    assert.deepEqual(items.slice(0, 2).map((a) => [a.trigger, a.statusCode]), [["manual", 200], ["manual", 200]]);
    // delivered now: nothing left to recover
    const again = await call(s, "POST", `/api/webhooks/${w.id}/recover`, { body: { since } });
    assert.deepEqual([again.status, again.json], [200, { deliveries: 0 }]);
  });
});

// ===================================================================================================
// The delivery metrics, on a server of their own: exactly what the cases below caused.
// ===================================================================================================

describe("metrics", () => {
  test("attempts by error, deliveries by outcome, webhooks disabled, and the gauges", async () => {
    const TIMEOUT = 500;
    const s = await startServer("metrics", {
      retry_schedule_ms: [0, 20, 20], timeout_ms: TIMEOUT, connect_timeout_ms: TIMEOUT, max_in_flight_per_webhook: 1,
      disable_after_ms: 0,
    });
    const hang = await receiver();
    const m0 = await metrics(s);
    // delivered twice, failed twice (3 attempts each)
    const e1 = s.nextEco();
    const ok = await createHook(s, e1, rx.url("/metrics/ok"));
    const bad = await createHook(s, e1, rx.url("/status/500"));
    const ids1 = [await publish(s, e1, [{ m: 1 }], 2), await publish(s, e1, [{ m: 2 }], 2)];
    for (const id of ids1) {
      await waitDelivery(s, id, ok.id, "delivered");
      await waitDelivery(s, id, bad.id, "failed");
    }
    // a 410: failed, one webhook disabled
    const e2 = s.nextEco();
    const gone = await createHook(s, e2, rx.url("/status/410"));
    await waitDelivery(s, await publish(s, e2, [{ m: 3 }], 1), gone.id, "failed");
    // one in flight (then 200), two waiting and cancelled by a disable
    const e3 = s.nextEco();
    const held = await createHook(s, e3, rx.url("/hold/metrics"));
    const ids3 = [];
    for (let i = 0; i < 3; i++) ids3.push(await publish(s, e3, [{ m: 4 + i }], 1));
    const [heldId] = await rx.waitHeld("/hold/metrics", 1);
    await update(s, held.id, { url: held.url, disabled: true });
    for (const id of ids3.filter((x) => x !== heldId)) await waitDelivery(s, id, held.id, "cancelled");
    rx.release("/hold/metrics", heldId, 200);
    await waitDelivery(s, heldId, held.id, "delivered");
    // timeouts and refused connections: failed after three attempts each
    const e4 = s.nextEco();
    const slow = await createHook(s, e4, hang.url("/hang"));
    const closed = await createHook(s, e4, `http://127.0.0.1:${await freePort()}/`);
    const id4 = await publish(s, e4, [{ m: 7 }], 2);
    await waitDelivery(s, id4, slow.id, "failed");
    await waitDelivery(s, id4, closed.id, "failed");
    assert.ok((await webhookOf(s, gone.id)).disabled);

    const m1 = await metrics(s);
    const delta = (k) => (m1.get(k) ?? NaN) - (m0.get(k) ?? NaN);
    const attempts = (err) => delta(`hookgate_delivery_attempts_total{error="${err}"}`);
    const outcomes = (o) => delta(`hookgate_deliveries_total{outcome="${o}"}`);
    assert.deepEqual(Object.fromEntries(["", "timeout", "connect", "dns", "tls", "http", "blocked"]
      .map((err) => [err, attempts(err)])), { "": 3, timeout: 3, connect: 3, dns: 0, tls: 0, http: 7, blocked: 0 });
    assert.equal(delta("hookgate_webhooks_disabled_total"), 1, "webhooks disabled");
    assert.equal(delta("hookgate_delivery_attempt_duration_seconds_count"), 16, "attempt durations");
    assert.equal(m1.get("hookgate_events_stored"), 7);
    assert.equal(m1.get("hookgate_deliveries_pending"), 0);
    assert.equal(m1.get("hookgate_deliveries_in_flight"), 0);
    assert.equal(m1.get("hookgate_delivery_lag_seconds"), 0);
    // SERVER BUG (reported): the two deliveries cancelled by the disable (the store's cancel of
    // a webhook's waiting deliveries, server/store/backend_memory.c cancel_deliveries) are not
    // counted; only a delivery the dispatcher cancels when it comes due is. Fails until fixed.
    assert.deepEqual({ delivered: outcomes("delivered"), failed: outcomes("failed"), cancelled: outcomes("cancelled") },
      { delivered: 3, failed: 5, cancelled: 2 });
  });
});

test("the servers that must be are alive", () => {
  for (const s of servers.filter((x) => !x.name.startsWith("resend") && x.name !== "recover")) {
    assert.ok(s.alive(), deathOf(s));
  }
});
