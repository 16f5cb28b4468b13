// The page of tests/rpc/browser.test.mjs, bundled by esbuild for a real browser: it calls
// hookgate, on another origin, with connect-web's Connect (JSON and binary) and gRPC-Web
// transports, and POSTs what it saw to /results of the origin it was served from.
// Parameters come in the page's query: api (hookgate's base URL), token, eco (an ecosystem
// the token may write), missing (a well-formed id no webhook has).
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

const PKG = "droplit.webhooks.v1";
const CALL_TIMEOUT_MS = 10000; // sent as connect-timeout-ms / grpc-timeout: request headers a preflight must allow

const params = new URLSearchParams(location.search);
const api = params.get("api");
const opts = { headers: { authorization: params.get("token") }, timeoutMs: CALL_TIMEOUT_MS };

// What a failed call looked like to the page: its code and message, as connect-web read
// them (from headers, trailers or body), the ErrorResponse details' types, and whether the
// response's x-request-id header was readable (only when hookgate exposes it).
function describe(e, ErrorResponseSchema) {
  const err = ConnectError.from(e);
  return {
    code: Code[err.code],
    rawMessage: err.rawMessage,
    cause: err.cause === undefined ? "" : String(err.cause),
    errorTypes: err.findDetails(ErrorResponseSchema).map((d) => d.errorType),
    requestIdReadable: err.metadata.get("x-request-id") !== null,
  };
}

async function run() {
  // the schema, from protoc's descriptor set served beside the page
  const setBytes = new Uint8Array(await (await fetch("/set.bin")).arrayBuffer());
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, setBytes));
  const service = registry.getService(`${PKG}.WebhookService`);
  const ErrorResponseSchema = registry.getMessage(`${PKG}.ErrorResponse`);
  const transports = {
    "connect json": createConnectTransport({ baseUrl: api }),
    "connect proto": createConnectTransport({ baseUrl: api, useBinaryFormat: true }),
    "grpc-web": createGrpcWebTransport({ baseUrl: api }),
  };
  const results = {};
  for (const [name, transport] of Object.entries(transports)) {
    const client = createClient(service, transport);
    const r = (results[name] = {});
    try {
      const w = await client.createWebhook(
        { ecosystemId: params.get("eco"), url: `https://example.com/browser/${name.replace(" ", "-")}` }, opts);
      r.created = { id: w.id, url: w.url, ecosystemId: w.ecosystemId };
      const got = await client.getWebhook({ id: w.id }, {
        ...opts, onHeader: (h) => (r.requestIdReadable = h.get("x-request-id") !== null) });
      r.got = { id: got.id, url: got.url, ecosystemId: got.ecosystemId };
    } catch (e) {
      r.error = describe(e, ErrorResponseSchema);
    }
    try {
      await client.getWebhook({ id: params.get("missing") }, opts);
      r.missing = "succeeded";
    } catch (e) {
      r.missing = describe(e, ErrorResponseSchema);
    }
  }
  return results;
}

function report(body) {
  return fetch("/results", { method: "POST", body: JSON.stringify(body) });
}

run().then(report, (e) => report({ fatal: String((e && e.stack) || e) }));
