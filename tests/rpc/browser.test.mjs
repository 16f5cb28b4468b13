// CORS in a real browser: Debian's headless Chromium loads a page from one loopback origin
// (a static server this test runs) that calls hookgate, on another port and so another
// origin, with @connectrpc/connect-web's Connect (JSON and binary) and gRPC-Web transports,
// bundled for the browser by esbuild from tests/package-lock.json. The page creates a
// webhook, reads it back (reading the response's x-request-id header), and asks for a
// missing one, then POSTs what it saw to its own
// origin, where the test reads it. hookgate allows that origin (server.cors.allowed_origins),
// so every call works and the missing one fails with not_found, its message and details
// read through the CORS-exposed headers and bodies. The same page served from an origin not
// allowed sees every call fail as a network error, and hookgate refuses its preflights and
// creates nothing.
//
// Run from the repository root (after `npm ci --prefix tests`; needs `chromium`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/browser.test.mjs
// CHROMIUM names another browser binary.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

import { CALL_TIMEOUT_MS, loadSchema, startHookgate } from "./support.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || "chromium";
const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-browser-"));
const PAGE_TIMEOUT_MS = 20000; // from starting the browser until the page has reported
const TOKEN = "browser-token";
const ECO = "C5156b8ace57896adb6dae592";
const MISSING = "5f1b7c3e9d2a4b0012345678";
const TRANSPORTS = ["connect json", "connect proto", "grpc-web"];
const NOT_FOUND_MESSAGE = `Webhook with id ${MISSING} does not exist.`;

let hg = null;
const statics = []; // the static servers, one per origin
const browsers = new Set(); // Chromium processes still running

// A static server on a free loopback port: the page, its bundle and the schema's descriptor
// set; POST /results hands the page's report to the promise of results().
function startStatic(files) {
  return new Promise((resolve, reject) => {
    let deliver;
    const reported = new Promise((r) => (deliver = r));
    const server = http.createServer((req, res) => {
      if (req.method === "POST" && req.url === "/results") {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          res.writeHead(204).end();
          deliver(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        });
        return;
      }
      const file = files[new URL(req.url, "http://x").pathname];
      if (req.method !== "GET" || file === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const s = { server, origin: `http://127.0.0.1:${server.address().port}`, results: () => reported };
      statics.push(s);
      resolve(s);
    });
  });
}

// Runs headless Chromium on the page of s until the page reports (or PAGE_TIMEOUT_MS), then
// kills it (its whole process group); resolves to the report.
async function runPage(s, name) {
  const query = new URLSearchParams({ api: hg.httpBase, token: TOKEN, eco: ECO, missing: MISSING });
  const log = openSync(path.join(TMP, `${name}.chromium.log`), "w");
  const browser = spawn(CHROMIUM, [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
    `--user-data-dir=${path.join(TMP, `${name}.profile`)}`, `${s.origin}/index.html?${query}`,
  ], { stdio: ["ignore", log, log], detached: true });
  browsers.add(browser);
  const exited = new Promise((resolve) => browser.on("exit", resolve));
  const spawnFailed = new Promise((_, reject) => browser.on("error", reject));
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no report from the page within ${PAGE_TIMEOUT_MS} ms:\n`
      + readFileSync(path.join(TMP, `${name}.chromium.log`), "utf8").slice(-3000))), PAGE_TIMEOUT_MS);
  });
  const early = exited.then((code) => {
    throw new Error(`${name}: chromium exited (${code}) before the page reported:\n`
      + readFileSync(path.join(TMP, `${name}.chromium.log`), "utf8").slice(-3000));
  });
  try {
    return await Promise.race([s.results(), timeout, early, spawnFailed]);
  } finally {
    clearTimeout(timer);
    kill(browser);
    await exited;
    browsers.delete(browser);
  }
}

function kill(browser) {
  try {
    process.kill(-browser.pid, "SIGKILL"); // the browser and its zygote, renderer and utility processes
  } catch {
    // already gone
  }
}

// The sum of hookgate_requests_total's series whose labels include every one of labels.
async function requests(labels) {
  const text = await (await fetch(`${hg.httpBase}/metrics`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) })).text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("hookgate_requests_total{")) continue;
    if (labels.every((l) => line.includes(l))) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}

let allowed = null;
let refused = null;

before(async () => {
  const bundle = await build({
    entryPoints: [path.join(HERE, "browser", "page.mjs")], bundle: true, write: false, format: "iife",
    platform: "browser", target: "chrome120", logLevel: "silent",
  });
  const files = {
    "/index.html": {
      type: "text/html; charset=utf-8",
      body: '<!doctype html><meta charset="utf-8"><title>hookgate CORS</title><script src="/page.js"></script>\n',
    },
    "/page.js": { type: "text/javascript; charset=utf-8", body: bundle.outputFiles[0].contents },
    "/set.bin": { type: "application/octet-stream", body: loadSchema(TMP).setBytes },
  };
  allowed = await startStatic(files);
  refused = await startStatic(files);
  hg = await startHookgate({
    dir: TMP,
    yaml: (httpPort, grpcPort) => [
      "server:",
      `  listen: [ { address: 127.0.0.1, port: ${httpPort} } ]`,
      `  grpc: { listen: [ { address: 127.0.0.1, port: ${grpcPort} } ] }`,
      `  cors: { allowed_origins: [ "${allowed.origin}" ] }`,
      "accounts:",
      "  - id: acme",
      `    tokens: [ "${TOKEN}" ]`,
      `    ecosystems: [ { id: ${ECO} } ]`,
      "",
    ].join("\n"),
  });
});

after(async () => {
  for (const b of browsers) kill(b);
  for (const s of statics) s.server.close();
  if (hg !== null && hg.alive()) await hg.stop();
  rmSync(TMP, { recursive: true, force: true });
});

test("a page from an allowed origin calls hookgate over Connect and gRPC-Web", async () => {
  const preflights = await requests(['route="preflight"', 'status="204"']);
  const report = await runPage(allowed, "allowed");
  assert.equal(report.fatal, undefined, report.fatal);
  assert.deepEqual(Object.keys(report), TRANSPORTS);
  for (const name of TRANSPORTS) {
    const r = report[name];
    assert.equal(r.error, undefined, `${name}: ${JSON.stringify(r.error)}`);
    const url = `https://example.com/browser/${name.replace(" ", "-")}`;
    assert.match(r.created.id, /^[0-9a-f]{24}$/);
    assert.deepEqual(r.created, { id: r.created.id, url, ecosystemId: ECO });
    assert.deepEqual(r.got, r.created, name);
    assert.equal(r.requestIdReadable, true, `${name}: x-request-id not exposed`);
    // the failing call: its code, message and ErrorResponse detail reached the page
    assert.deepEqual(r.missing,
      { code: "NotFound", rawMessage: NOT_FOUND_MESSAGE, cause: "", errorTypes: ["NotFound"], requestIdReadable: true },
      name);
  }
  // the calls carried authorization and non-form content types: the browser asked first
  assert.ok(await requests(['route="preflight"', 'status="204"']) > preflights, "no preflight was answered 204");
});

test("a page from another origin cannot call hookgate", async () => {
  const before403 = await requests(['route="preflight"', 'status="403"']);
  const creates = await requests(['route="rpc_create"']);
  const report = await runPage(refused, "refused");
  assert.equal(report.fatal, undefined, report.fatal);
  assert.deepEqual(Object.keys(report), TRANSPORTS);
  for (const name of TRANSPORTS) {
    const r = report[name];
    assert.equal(r.created, undefined, name);
    // fetch itself failed (the browser's CORS refusal): no status, code or message of hookgate's
    for (const e of [r.error, r.missing]) {
      assert.equal(e.code, "Unknown", `${name}: ${JSON.stringify(e)}`);
      assert.match(e.cause, /TypeError: Failed to fetch/, name);
      assert.deepEqual(e.errorTypes, []);
      assert.equal(e.requestIdReadable, false);
    }
  }
  assert.ok(await requests(['route="preflight"', 'status="403"']) > before403, "no preflight was refused");
  assert.equal(await requests(['route="rpc_create"']), creates, "a call was served to the origin not allowed");
});
