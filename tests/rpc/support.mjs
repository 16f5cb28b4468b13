// Shared by the node RPC tests (tests/rpc/*.test.mjs): the schema from protoc's descriptor
// set, a hookgate started on free loopback ports with a test configuration and stopped
// with its exit checked, and the assertion of a Connect error's ErrorResponse detail.
// Not a test file itself: `node --test` runs only *.test.mjs.
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BINARY = path.resolve(process.env.HOOKGATE_BINARY ?? path.join(REPO, "build", "hookgate"));
export const CALL_TIMEOUT_MS = 20000; // a deadline on every call, so that a hang fails instead of blocking
export const PKG = "droplit.webhooks.v1";
const STARTUP_TIMEOUT_MS = 10000; // until GET /healthz must answer 200
const READY_TIMEOUT_MS = 20000; // and then, with a store configured, until GET /readyz does (migrations)
const STOP_TIMEOUT_MS = 5000; // from SIGTERM to SIGKILL

// The backend: the config's `store:` value (one line, flow style) from $HOOKGATE_TEST_STORE,
// which tests/store/with_postgres.py sets to a throw-away PostgreSQL; unset, every server
// keeps its webhooks in memory. Every server a test starts gets the same store, so servers
// of one run share one database.
const STORE = process.env.HOOKGATE_TEST_STORE || null;

// The schema: protoc's FileDescriptorSet of proto/ (written into dir), its bytes and a registry.
// GOOGLEAPIS: google/api/http.proto and annotations.proto, which the schema imports for its
// REST mapping (Debian's golang-github-gogo-googleapis-dev).
export const GOOGLEAPIS = "/usr/share/gocode/src/github.com/gogo/googleapis";
export function loadSchema(dir) {
  const setPath = path.join(dir, "set.bin");
  execFileSync("protoc", ["--include_imports", `--descriptor_set_out=${setPath}`, "-I", path.join(REPO, "proto"),
    "-I", GOOGLEAPIS, "-I", "/usr/include", path.join(REPO, "proto", "droplit", "webhooks", "v1", "webhooks.proto")]);
  const setBytes = readFileSync(setPath);
  return { setBytes, registry: createFileRegistry(fromBinary(FileDescriptorSetSchema, setBytes)) };
}

// The configuration's `server:` lines every test server starts with: the HTTP listener on
// httpPort and the gRPC listener on grpcPort, both on 127.0.0.1, and `threads` event loops.
export function serverYaml(httpPort, grpcPort, threads = 2) {
  return [
    "server:",
    "  listen:",
    `    - { address: 127.0.0.1, port: ${httpPort} }`,
    "  grpc:",
    "    listen:",
    `      - { address: 127.0.0.1, port: ${grpcPort} }`,
    `  threads: ${threads}`,
  ];
}

// A loopback port nobody listens on at the moment of asking.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts hookgate with the configuration yaml(httpPort, grpcPort) (and STORE's `store:`
// line) written to dir/<name>.yaml, its output in dir/<name>.log; resolves once /healthz
// answers 200 and, with a store configured, /readyz too (a node of the PostgreSQL store is
// healthy before it has a connection), polled, no fixed sleep. The handle's stop() sends
// SIGTERM and asserts a clean exit.
export async function startHookgate({ dir, name = "hookgate", yaml }) {
  const hg = { httpPort: await freePort(), grpcPort: await freePort(), logPath: path.join(dir, `${name}.log`) };
  const configPath = path.join(dir, `${name}.yaml`);
  let config = yaml(hg.httpPort, hg.grpcPort);
  if (STORE !== null) config += `${config.endsWith("\n") ? "" : "\n"}store: ${STORE}\n`;
  writeFileSync(configPath, config);
  const log = openSync(hg.logPath, "w");
  hg.proc = spawn(BINARY, ["--config", configPath], { stdio: ["ignore", log, log] });
  hg.exit = new Promise((resolve) => hg.proc.on("exit", (code, signal) => resolve({ code, signal })));
  hg.httpBase = `http://127.0.0.1:${hg.httpPort}`;
  hg.grpcBase = `http://127.0.0.1:${hg.grpcPort}`;
  hg.alive = () => hg.proc.exitCode === null && hg.proc.signalCode === null;
  hg.log = () => readFileSync(hg.logPath, "utf8").slice(-4000);
  hg.stop = async () => {
    hg.proc.kill("SIGTERM");
    const timer = setTimeout(() => hg.proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
    const { code, signal } = await hg.exit;
    clearTimeout(timer);
    const tail = hg.log();
    assert.equal(signal, null, `${name} died of ${signal}:\n${tail}`);
    assert.equal(code, 0, `${name} exited with ${code}:\n${tail}`);
  };
  try {
    await waitFor200(hg, name, "/healthz", STARTUP_TIMEOUT_MS);
    if (STORE !== null) await waitFor200(hg, name, "/readyz", READY_TIMEOUT_MS);
  } catch (e) {
    hg.proc.kill("SIGKILL");
    throw e;
  }
  return hg;
}

async function waitFor200(hg, name, pathName, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    if (hg.proc.exitCode !== null) throw new Error(`${name} exited at start:\n${readFileSync(hg.logPath)}`);
    try {
      const res = await fetch(`${hg.httpBase}${pathName}`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (e) {
      last = String(e); // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${name}: GET ${pathName} did not answer 200 within ${timeoutMs} ms (last: ${last}):\n`
        + readFileSync(hg.logPath));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// assertConnectError(call, code, message, errorType, errors): the call must fail with code,
// and carry one ErrorResponse detail of errorType and errors [[in, path, message], ...];
// rawMessage (grpc-message / Connect's message) is message unless that is undefined.
export function connectErrorAsserter(ErrorResponseSchema) {
  return async function assertConnectError(call, code, message, errorType, errors) {
    let err = null;
    try {
      await call();
    } catch (e) {
      err = ConnectError.from(e);
    }
    assert.ok(err !== null, "the call succeeded");
    assert.equal(Code[err.code], Code[code], `${err.message}`);
    if (message !== undefined) assert.equal(err.rawMessage, message);
    const details = err.findDetails(ErrorResponseSchema);
    assert.equal(details.length, 1, `details: ${JSON.stringify(err.details)}`);
    assert.equal(details[0].errorType, errorType);
    assert.deepEqual(details[0].errors.map((p) => [p.in, p.path, p.message]), errors);
    return err;
  };
}

// Every client transport the tests run through, by name: each protocol with both message
// codecs (the "json" ones send application/json, application/grpc-web+json and
// application/grpc+json, their frames holding the proto3 JSON of the message). The
// "connect get" ones call the schema's NO_SIDE_EFFECTS methods with GET (useHttpGet), the
// others with POST.
export const TRANSPORT_NAMES = [
  "connect http/1.1 proto", "connect http/1.1 json", "connect http/2 proto", "connect http/2 json",
  "connect get http/1.1 json", "connect get http/2 proto",
  "grpc-web http/1.1", "grpc-web http/2", "grpc-web http/1.1 json", "grpc-web http/2 json",
  "grpc (connect-node)", "grpc (connect-node) json",
];

// The transport called name to the started hookgate hg, with a deadline on every call; an
// HTTP/2 transport's session manager is pushed onto sessionManagers, for the caller to abort.
// extra: more options for the transport (compression, interceptors).
export function makeTransport(name, hg, sessionManagers, extra = {}) {
  const h2 = (baseUrl) => {
    const m = new Http2SessionManager(baseUrl);
    sessionManagers.push(m);
    return { httpVersion: "2", sessionManager: m };
  };
  const common = { defaultTimeoutMs: CALL_TIMEOUT_MS, baseUrl: hg.httpBase, ...extra };
  switch (name) {
  case "connect http/1.1 proto": return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: true });
  case "connect http/1.1 json": return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: false });
  case "connect http/2 proto": return createConnectTransport({ ...common, ...h2(hg.httpBase), useBinaryFormat: true });
  case "connect http/2 json": return createConnectTransport({ ...common, ...h2(hg.httpBase), useBinaryFormat: false });
  case "connect get http/1.1 json":
    return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: false, useHttpGet: true });
  case "connect get http/2 proto":
    return createConnectTransport({ ...common, ...h2(hg.httpBase), useBinaryFormat: true, useHttpGet: true });
  case "grpc-web http/1.1": return createGrpcWebTransport({ ...common, httpVersion: "1.1", useBinaryFormat: true });
  case "grpc-web http/2": return createGrpcWebTransport({ ...common, ...h2(hg.httpBase), useBinaryFormat: true });
  case "grpc-web http/1.1 json":
    return createGrpcWebTransport({ ...common, httpVersion: "1.1", useBinaryFormat: false });
  case "grpc-web http/2 json":
    return createGrpcWebTransport({ ...common, ...h2(hg.httpBase), useBinaryFormat: false });
  case "grpc (connect-node)":
    return createGrpcTransport({ ...common, baseUrl: hg.grpcBase, ...h2(hg.grpcBase) });
  case "grpc (connect-node) json":
    return createGrpcTransport({ ...common, baseUrl: hg.grpcBase, ...h2(hg.grpcBase), useBinaryFormat: false });
  }
  throw new Error(`no transport called ${name}`);
}
