// gzip through the npm clients pinned in tests/package-lock.json: grpc-js 1.14 with
// 'grpc.default_compression_algorithm' gzip on the native gRPC listener, and connect-node
// 2.1.1 with sendCompression and acceptCompression gzip over every transport it has (Connect
// POST and GET, gRPC-Web, gRPC; HTTP/1.1 and HTTP/2; binary and JSON).
//
// connect-node's transports get a gzip that counts what it compresses and decompresses: a
// call must have compressed its request (compressMinBytes 0: every message; a Connect GET's
// goes in its query) and, for a list over 1 KiB, decompressed the answer, while a small
// answer comes back as it is. grpc-js
// keeps the answer's grpc-encoding to itself (tests/rpc/test_compression.py reads the raw
// frames); it must create, get and list with compression on, which it could not before the
// server advertised grpc-accept-encoding. The gzip bombs are test_compression.py's.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { compressionGzip } from "@connectrpc/connect-node";

import {
  CALL_TIMEOUT_MS, GOOGLEAPIS, PKG, REPO, TRANSPORT_NAMES, loadSchema, makeTransport, serverYaml, startHookgate,
} from "./support.mjs";

const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-compression-"));
const TOKEN = "plain-token";
const eco = (n) => "C" + n.toString(16).padStart(24, "0");
const ECO_GRPC_JS = eco(0x31);
const ECO_TRANSPORT = (i) => eco(0x100 + i);
const ANSWER_MIN = 1024; // GZIP_ANSWER_MIN_BYTES
const N_WEBHOOKS = 12; // with their descriptions, a list well over ANSWER_MIN in JSON and protobuf

function configYaml(httpPort, grpcPort) {
  const ecos = [ECO_GRPC_JS, ...TRANSPORT_NAMES.map((_, i) => ECO_TRANSPORT(i))];
  return [
    ...serverYaml(httpPort, grpcPort),
    "accounts:",
    "  - id: acme",
    `    tokens: [ "${TOKEN}" ]`,
    "    ecosystems:",
    ...ecos.map((e) => `      - { id: ${e} }`),
    "",
  ].join("\n");
}

const description = (i) => `webhook ${i} of a list long enough to be compressed; `.repeat(8);

const { registry } = loadSchema(TMP);
const WebhookService = registry.getService(`${PKG}.WebhookService`);

let server = null;
const sessionManagers = [];

before(async () => {
  server = await startHookgate({ dir: TMP, yaml: configYaml });
});

after(async () => {
  for (const m of sessionManagers) m.abort();
  try {
    if (server !== null) await server.stop();
  } finally {
    if (!process.env.HOOKGATE_KEEP_TMP) rmSync(TMP, { recursive: true, force: true });
  }
});

// --- grpc-js -----------------------------------------------------------------------------------

describe("grpc-js with gzip", () => {
  let client = null;
  before(() => {
    const def = protoLoader.loadSync(path.join(REPO, "proto", "droplit", "webhooks", "v1", "webhooks.proto"), {
      includeDirs: [path.join(REPO, "proto"), GOOGLEAPIS, "/usr/include"], longs: String, defaults: true,
    });
    const Service = grpc.loadPackageDefinition(def).droplit.webhooks.v1.WebhookService;
    client = new Service(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure(),
      { "grpc.default_compression_algorithm": 2 }); // gzip
  });
  after(() => client?.close());

  const call = (name, request) => new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    md.set("authorization", TOKEN);
    client[name](request, md, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, res) => (err ? reject(err) : resolve(res)));
  });

  test("create, get and list, requests compressed; errors readable", async () => {
    const ids = [];
    for (let i = 0; i < N_WEBHOOKS; i++) {
      const w = await call("createWebhook", {
        ecosystemId: ECO_GRPC_JS, url: `https://example.com/grpc-js/${i}`, description: description(i),
      });
      assert.equal(w.description, description(i));
      ids.push(w.id);
    }
    const got = await call("getWebhook", { id: ids[0] });
    assert.equal(got.url, "https://example.com/grpc-js/0");
    // a list answer over 1 KiB: compressed by the server (grpc-js inflates it)
    const page = await call("listWebhooks", { ecosystemId: ECO_GRPC_JS, limit: 100 });
    assert.deepEqual(page.items.map((w) => w.id), ids);
    await assert.rejects(call("getWebhook", { id: "0".repeat(24) }), (e) => e.code === grpc.status.NOT_FOUND);
  });
});

// --- connect-node, every transport ------------------------------------------------------------------

// gzip, counting: compress() for each request, decompress() for each compressed answer
function countingGzip() {
  const counts = { compressed: 0, decompressed: 0 };
  return {
    counts,
    compression: {
      name: compressionGzip.name,
      compress: (bytes) => { counts.compressed++; return compressionGzip.compress(bytes); },
      decompress: (bytes, readMaxBytes) => { counts.decompressed++; return compressionGzip.decompress(bytes, readMaxBytes); },
    },
  };
}

for (const [i, name] of TRANSPORT_NAMES.entries()) {
  describe(`connect-node ${name} with gzip`, () => {
    const ecosystemId = ECO_TRANSPORT(i);
    const gz = countingGzip();
    let client = null;
    before(() => {
      client = createClient(WebhookService, makeTransport(name, server, sessionManagers, {
        sendCompression: gz.compression, acceptCompression: [gz.compression], compressMinBytes: 0,
      }));
    });
    const opts = { headers: { authorization: TOKEN } };

    test("requests compressed, a large answer compressed, a small one not", async () => {
      const ids = [];
      for (let j = 0; j < N_WEBHOOKS; j++) {
        const before = gz.counts.compressed;
        const w = await client.createWebhook({ ecosystemId, url: `https://example.com/c/${j}`, description: description(j) },
          opts);
        assert.equal(gz.counts.compressed, before + 1, "the create request went compressed");
        ids.push(w.id);
      }
      // GetWebhook's answer is under 1 KiB: it comes as it is
      let { compressed, decompressed } = gz.counts;
      const got = await client.getWebhook({ id: ids[0] }, opts);
      assert.equal(got.description, description(0));
      assert.equal(gz.counts.compressed, compressed + 1, "the get request went compressed");
      assert.equal(gz.counts.decompressed, decompressed, "a small answer came as it is");
      // the list is over 1 KiB: it comes compressed
      ({ compressed, decompressed } = gz.counts);
      const page = await client.listWebhooks({ ecosystemId, limit: 100 }, opts);
      assert.deepEqual(page.items.map((w) => w.id), ids);
      assert.ok(page.items.length * description(0).length > ANSWER_MIN);
      assert.equal(gz.counts.compressed, compressed + 1, "the list request went compressed");
      // connect-es drops accept-encoding from a GET (the request's headers are a cache's key):
      // the answer then comes as it is (test_compression.py's Connect GET sends it)
      const getWithoutAccept = name.startsWith("connect get");
      assert.equal(gz.counts.decompressed, decompressed + (getWithoutAccept ? 0 : 1),
        "the list answer came compressed when accepted");
    });
  });
}
