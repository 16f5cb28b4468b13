// GET /openapi.json against a real hookgate: the document is gen/openapi.json (generated
// from the schema by proto/rest.py), it is a valid OpenAPI 3.1 document for an npm
// validator (@seriousme/openapi-schema-validator, which refuses a broken copy of it), and
// the server does what it says: every operation of the document is called, under / and
// /v0 where the document says so, and answers its documented success status (or, for
// errors, a documented one) with a body the documented schema accepts. The other direction
// (every path the server's route table answers is in the document) is the unit test
// tests/unit/wire/test_route.c, which walks the table itself.
//
// Run from the repository root (after `npm ci --prefix tests`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/openapi.test.mjs
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { Validator } from "@seriousme/openapi-schema-validator";

import { CALL_TIMEOUT_MS, REPO, serverYaml, startHookgate } from "./support.mjs";

const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-openapi-"));
const TOKEN = "openapi-token";
const ECO = "C" + "5".repeat(24);

function configYaml(httpPort, grpcPort) {
  return [
    ...serverYaml(httpPort, grpcPort, 1),
    // invoke's url (example.com) is not reached from a test machine: a 502 within a second
    "delivery: { connect_timeout_ms: 1000, timeout_ms: 1000 }",
    "accounts:",
    "  - id: acme",
    `    tokens: [ "${TOKEN}" ]`,
    "    ecosystems:",
    `      - { id: ${ECO} }`,
    "",
  ].join("\n");
}

// A request body for each operation the document gives one: a new operation with a body
// fails the test until it has one here.
const BODIES = {
  CreateWebhook: { ecosystemId: ECO, url: "https://example.com/hook", description: "from the OpenAPI test" },
  UpdateWebhook: { url: "https://example.com/hook2" },
  PublishEvent: { ecosystemId: ECO, items: [{ type: "Info", n: 1 }] },
  ResendEvent: {},
  RecoverWebhook: { since: new Date(Date.now() - 3600_000).toISOString() },
};
// The query of each operation with parameters that need a value to succeed.
const QUERIES = { ListWebhooks: { ecosystemId: ECO, limit: "2" } };
// What each operation answers here when it is not its documented success: invoke calls a
// url it cannot reach (502, which the document's `default` covers).
const EXPECTED = { InvokeWebhook: 502 };

// The document's schema at ref ("#/components/schemas/X").
function resolve(doc, schema) {
  while (schema.$ref !== undefined) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    assert.ok(doc.components.schemas[name] !== undefined, `no schema ${schema.$ref}`);
    schema = doc.components.schemas[name];
  }
  return schema;
}

// Checks value against a (JSON Schema) schema of the document, as far as the document's
// schemas go: types, formats of the proto3 JSON mapping, no property the schema lacks.
function conforms(doc, schema, value, where) {
  schema = resolve(doc, schema);
  switch (schema.type) {
    case "object":
      assert.equal(typeof value, "object", `${where}: an object`);
      assert.ok(value !== null && !Array.isArray(value), `${where}: an object`);
      if (schema.properties !== undefined) {
        for (const [k, v] of Object.entries(value)) {
          assert.ok(k in schema.properties, `${where}: ${k} is not in the document's schema`);
          conforms(doc, schema.properties[k], v, `${where}.${k}`);
        }
      }
      for (const k of schema.required ?? []) assert.ok(k in value, `${where}: ${k} is required`);
      break;
    case "array":
      assert.ok(Array.isArray(value), `${where}: an array`);
      value.forEach((v, i) => conforms(doc, schema.items, v, `${where}[${i}]`));
      break;
    case "string":
      assert.equal(typeof value, "string", `${where}: a string`);
      if (schema.pattern !== undefined) assert.match(value, new RegExp(schema.pattern), where);
      if (schema.format === "date-time") assert.ok(!Number.isNaN(Date.parse(value)), `${where}: a date-time`);
      break;
    case "integer":
      assert.ok(Number.isInteger(value), `${where}: an integer`);
      if (schema.minimum !== undefined) assert.ok(value >= schema.minimum, where);
      break;
    case "boolean":
      assert.equal(typeof value, "boolean", `${where}: a boolean`);
      break;
    default:
      assert.fail(`${where}: the test does not know type ${schema.type}`);
  }
}

describe("the OpenAPI document", () => {
  let server, doc;
  const ids = {};

  before(async () => {
    server = await startHookgate({ dir: TMP, yaml: configYaml });
  });
  after(async () => {
    if (server) await server.stop();
    rmSync(TMP, { recursive: true, force: true });
  });

  async function call(method, urlPath, body, headers = {}) {
    const res = await fetch(`${server.httpBase}${urlPath}`, {
      method: method.toUpperCase(),
      headers: { authorization: TOKEN, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type") ?? "", text, headers: res.headers };
  }

  test("GET /openapi.json serves gen/openapi.json, without a token", async () => {
    const res = await fetch(`${server.httpBase}/openapi.json`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const text = await res.text();
    assert.equal(text, readFileSync(path.join(REPO, "gen", "openapi.json"), "utf8"));
    doc = JSON.parse(text);
    assert.equal(doc.openapi, "3.1.0");
  });

  test("it is a valid OpenAPI 3.1 document, and a broken copy is not", async () => {
    const v = new Validator();
    const result = await v.validate(structuredClone(doc));
    assert.equal(v.version, "3.1");
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1));
    const broken = structuredClone(doc);
    broken.paths["/api/webhooks"].get.parameters[0].in = "body"; // OpenAPI 3 has no body parameters
    const refused = await new Validator().validate(broken);
    assert.equal(refused.valid, false);
  });

  test("the schema's every method is an operation, with the security of the authorization header", () => {
    const ops = Object.values(doc.paths).flatMap((item) => Object.entries(item)
      .filter(([k]) => k !== "servers").map(([, op]) => op.operationId));
    for (const name of ["CreateWebhook", "GetWebhook", "ListWebhooks", "UpdateWebhook", "DeleteWebhook", "InvokeWebhook",
      "PublishEvent", "GetEvent", "ListAttempts", "ResendEvent", "RecoverWebhook", "ListEcosystems"]) {
      assert.ok(ops.includes(name), `${name} is not in the document`);
    }
    assert.deepEqual(doc.components.securitySchemes.token, {
      ...doc.components.securitySchemes.token, type: "apiKey", in: "header", name: "authorization",
    });
  });

  test("every operation answers as documented, under / and /v0", async () => {
    // the ids the paths take: a webhook and an event of it
    const created = await call("post", "/api/webhooks", BODIES.CreateWebhook);
    assert.equal(created.status, 201, created.text);
    ids.webhook = JSON.parse(created.text).id;
    const published = await call("post", "/api/events", BODIES.PublishEvent);
    assert.equal(published.status, 202, published.text);
    ids.event = JSON.parse(published.text).id;

    const operations = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      const bases = (item.servers ?? doc.servers).map((s) => s.url.replace(/\/$/, ""));
      for (const [verb, op] of Object.entries(item)) {
        if (verb !== "servers") operations.push({ template, verb, op, bases });
      }
    }
    // the delete last: the other operations need the webhook
    operations.sort((a, b) => (a.verb === "delete") - (b.verb === "delete"));
    let called = 0;
    for (const { template, verb, op, bases } of operations) {
      const id = template.startsWith("/api/events/") ? ids.event : ids.webhook;
      let urlPath = template.replace("{id}", id);
      if (QUERIES[op.operationId] !== undefined) urlPath += "?" + new URLSearchParams(QUERIES[op.operationId]);
      let body;
      if (op.requestBody !== undefined) {
        assert.ok(op.operationId in BODIES, `the test has no body for ${op.operationId}`);
        body = BODIES[op.operationId];
        conforms(doc, op.requestBody.content["application/json"].schema, body, `${op.operationId} request`);
      }
      const success = Object.keys(op.responses).filter((s) => /^2/.test(s));
      assert.equal(success.length, 1, `${op.operationId}: one success status`);
      const want = EXPECTED[op.operationId] ?? Number(success[0]);
      // a delete can be made once: under the first base only
      for (const base of verb === "delete" ? bases.slice(0, 1) : bases) {
        const res = await call(verb, base + urlPath, body);
        const where = `${verb.toUpperCase()} ${base}${urlPath}`;
        assert.equal(res.status, want, `${where}: ${res.text}`);
        const documented = op.responses[String(res.status)] ?? op.responses.default;
        assert.ok(documented !== undefined, `${where}: ${res.status} is not documented`);
        const media = res.type.split(";")[0].trim();
        if (verb === "head" || res.text === "") {
          assert.ok(documented.content === undefined || verb === "head", `${where}: an empty body, documented with one`);
        } else {
          assert.ok(documented.content?.[media] !== undefined, `${where}: ${media} is not documented for ${res.status}`);
          if (media === "application/json") {
            conforms(doc, documented.content[media].schema, JSON.parse(res.text), where);
          }
        }
        called++;
      }
    }
    assert.ok(called >= 2 * 11, `only ${called} calls made`);
  });

  test("an invalid request is the documented 400, an ErrorResponse", async () => {
    const res = await call("post", "/api/webhooks", {});
    assert.equal(res.status, 400);
    const op = doc.paths["/api/webhooks"].post;
    const body = JSON.parse(res.text);
    conforms(doc, op.responses["400"].content["application/json"].schema, body, "400");
    assert.equal(body.errorType, "InvalidParams");
    // and the checker itself refuses a body the schema does not describe
    assert.throws(() => conforms(doc, op.responses["400"].content["application/json"].schema,
      { ...body, extra: 1 }, "400"), /extra is not in the document's schema/);
  });

  test("a path the document does not have is not answered", async () => {
    assert.equal((await call("get", "/api/things")).status, 404);
    assert.equal((await call("get", "/v0/healthz")).status, 404); // the document puts /healthz under / only
  });
});
