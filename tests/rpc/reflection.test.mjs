// gRPC server reflection against a real hookgate's native gRPC listener, with clients nobody
// here wrote: grpc-js-reflection-client 1.4.2 over @grpc/grpc-js 1.14.7. The client is given
// no .proto file: it lists the services, fetches WebhookService's descriptors by symbol
// (and whatever files they import), and the service definition it builds from them makes
// real CreateWebhook and GetWebhook calls. For reflection v1 and v1alpha; an unknown symbol
// is NOT_FOUND.
//
// Run from the repository root (after `npm ci --prefix tests`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/reflection.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import * as grpc from "@grpc/grpc-js";
import { GrpcReflection } from "grpc-js-reflection-client";

import { CALL_TIMEOUT_MS, PKG, serverYaml, startHookgate } from "./support.mjs";

const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-reflection-"));
const TOKEN = "plain-token";
const ECO = { v1: "C000000000000000000000031", v1alpha: "C000000000000000000000032" };
const SERVICE = `${PKG}.WebhookService`;
const SERVED = [SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection"];

function configYaml(httpPort, grpcPort) {
  return [
    ...serverYaml(httpPort, grpcPort),
    "accounts:",
    "  - id: acme",
    `    tokens: [ "${TOKEN}" ]`,
    "    ecosystems:",
    ...Object.values(ECO).map((e) => `      - { id: ${e} }`),
    "",
  ].join("\n");
}

let server = null;
before(async () => {
  server = await startHookgate({ dir: TMP, yaml: configYaml });
});
after(async () => {
  try {
    if (server !== null) await server.stop();
  } finally {
    rmSync(TMP, { recursive: true, force: true });
  }
});

const deadline = () => ({ deadline: Date.now() + CALL_TIMEOUT_MS });

// A unary call through a grpc-js client made from reflection's definitions, as a promise.
function call(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, deadline(), (err, res) => (err ? reject(err) : resolve(res)));
  });
}

for (const version of ["v1", "v1alpha"]) {
  describe(`reflection ${version}`, () => {
    let reflection;
    before(() => {
      reflection = new GrpcReflection(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(), {},
        version);
    });

    test("lists every service served", async () => {
      const services = await reflection.listServices("", deadline());
      assert.deepEqual([...services].sort(), [...SERVED].sort());
    });

    test("lists WebhookService's methods from its descriptor", async () => {
      const methods = (await reflection.listMethods(SERVICE, deadline())).map((m) => m.name);
      for (const m of ["CreateWebhook", "GetWebhook", "ListWebhooks", "UpdateWebhook", "DeleteWebhook"]) {
        assert.ok(methods.includes(m), `${m} missing from ${methods}`);
      }
    });

    test("creates and reads a webhook through the definitions reflection gave", async () => {
      const descriptor = await reflection.getDescriptorBySymbol(SERVICE, deadline());
      // field names as the descriptors spell them (protobufjs builds its types from them)
      const pkg = descriptor.getPackageObject({ keepCase: true, longs: String, enums: String, defaults: true });
      const Service = pkg.droplit.webhooks.v1.WebhookService;
      assert.equal(typeof Service, "function", "no WebhookService constructor in the package object");
      const client = new Service(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
      try {
        const md = new grpc.Metadata();
        md.set("authorization", TOKEN);
        const url = `https://example.com/hook/${version}`;
        const created = await call(client, "CreateWebhook",
          { ecosystem_id: ECO[version], url, description: `by reflection ${version}` }, md);
        assert.match(created.id, /^[0-9a-f]{24}$/);
        assert.equal(created.url, url);
        assert.ok(created.created_at && Number(created.created_at.seconds) > 0, JSON.stringify(created));
        const got = await call(client, "GetWebhook", { id: created.id }, md);
        assert.equal(got.id, created.id);
        assert.equal(got.url, url);
        assert.equal(got.description, `by reflection ${version}`);
        assert.equal(got.ecosystem_id, ECO[version]);
      } finally {
        client.close();
      }
    });

    test("an unknown symbol is NOT_FOUND", async () => {
      await assert.rejects(reflection.getDescriptorBySymbol(`${PKG}.NoSuchService`, deadline()),
        (e) => /Unknown symbol droplit\.webhooks\.v1\.NoSuchService/.test(String(e.message ?? e)));
    });
  });
}

// The client above reads error_response's message only; the code is checked here, on a raw
// stream of grpc-js with the reflection client's own request and response types absent:
// the answer is decoded by field number (ErrorResponse is field 7, its code field 1).
test("the unknown symbol's error_response carries NOT_FOUND (5)", async () => {
  const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
  try {
    const symbol = Buffer.from(`${PKG}.NoSuchService`);
    const request = Buffer.concat([Buffer.from([0x22, symbol.length]), symbol]); // field 4, length-delimited
    const stream = client.makeBidiStreamRequest("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      (b) => b, (b) => b, new grpc.Metadata(), deadline());
    const answer = new Promise((resolve, reject) => {
      stream.on("data", resolve);
      stream.on("error", reject);
    });
    stream.write(request);
    const bytes = await answer; // answered while the stream is still open
    stream.end();
    // the error_response (field 7) is the last field; inside it, error_code (field 1, varint)
    const i = bytes.lastIndexOf(0x3a);
    assert.ok(i > 0, `no error_response in ${bytes.toString("hex")}`);
    assert.equal(bytes[i + 2], 0x08, `no error_code in ${bytes.toString("hex")}`);
    assert.equal(bytes[i + 3], 5);
  } finally {
    client.close();
  }
});
