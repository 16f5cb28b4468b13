// The web console (GET /console/) in a real browser: Debian's headless Chromium driven by
// playwright-core (no browser download: executablePath /usr/bin/chromium, or $CHROMIUM).
// A wrong token shows the server's 401 words beside the token field; then, signed in, the
// page lists the token's ecosystems (GET /api/ecosystems, the deleted one left out) and,
// in one, creates a webhook (first with a bad url: the 400's message beside the url field)
// pointing at a receiver this test runs on 127.0.0.1, whose description is markup that
// must show as text; publishes an event; invokes the webhook (the outcome: 200, error
// class none); sees the delivery and the invoke in the attempts list and in the chart;
// resends and recovers; edits and disables it; deletes it after the in-page confirmation.
// No dialog may open, and the page may log no error (a Content-Security-Policy violation
// is one). Screenshots of the main views go to console-screenshots/ beside the hookgate
// binary. A second server with server.console off answers 404 under /console/.
//
// Run from the repository root (after `npm ci --prefix tests`; needs `chromium`):
//   HOOKGATE_BINARY=build/hookgate node --test tests/rpc/console.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

import { chromium } from "playwright-core";

import { BINARY, CALL_TIMEOUT_MS, startHookgate } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TMP = mkdtempSync(path.join(os.tmpdir(), "hookgate-console-"));
const SHOTS = path.join(path.dirname(BINARY), "console-screenshots");
const TOKEN = "console-token";
const ECO = "C5156b8ace57896adb6dae592";
const ECO2 = "C59b343ae9ca1fbc8287a3196";
const DELETED = "C000000000000000000000d01";
const XSS = "<img src=x onerror=alert(1)>";
const UI_TIMEOUT_MS = 15000; // for the page to show what a step made

let hg = null;
let receiver = null;
let browser = null;
const received = []; // what the receiver was sent: {headers, body}

function startReceiver() {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        if (req.url === "/fail") res.writeHead(500, { "content-type": "text/plain" }).end("broken on purpose");
        else res.writeHead(200, { "content-type": "text/plain" }).end("received <b>ok</b>");
      });
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/hook` }));
  });
}

const hookgateYaml = (console) => (httpPort, grpcPort) => [
  "server:",
  `  listen: [ { address: 127.0.0.1, port: ${httpPort} } ]`,
  `  grpc: { listen: [ { address: 127.0.0.1, port: ${grpcPort} } ] }`,
  "  threads: 1",
  `  console: ${console}`,
  "delivery: { allow_networks: [ 127.0.0.0/8 ], retry_schedule_ms: [ 0, 200 ], timeout_ms: 5000, connect_timeout_ms: 2000 }",
  "accounts:",
  "  - id: acme",
  `    tokens: [ "${TOKEN}" ]`,
  `    ecosystems: [ { id: ${ECO} }, { id: ${ECO2} }, { id: ${DELETED}, deleted: true } ]`,
  "",
].join("\n");

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  receiver = await startReceiver();
  hg = await startHookgate({ dir: TMP, yaml: hookgateYaml("on") });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
});

after(async () => {
  if (browser !== null) await browser.close();
  if (receiver !== null) receiver.server.close();
  if (hg !== null && hg.alive()) await hg.stop();
  rmSync(TMP, { recursive: true, force: true });
});

test("the console's files carry the security headers", async () => {
  for (const [p, type] of [["/console/", "text/html"], ["/console/app.js", "text/javascript"]]) {
    const res = await fetch(`${hg.httpBase}${p}`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    assert.equal(res.status, 200, p);
    assert.ok(res.headers.get("content-type").startsWith(type), p);
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    await res.arrayBuffer();
  }
});

test("a console in a browser: sign in, webhooks, invoke, deliveries, edit, delete", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const dialogs = [];
  const problems = [];
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (400|401|404|502)/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));

  await page.goto(`${hg.httpBase}/console/`);
  // a wrong token: the server's words beside the token field
  await page.fill("#login-token", "not-a-token");
  await page.click("#login button[type=submit]");
  await page.waitForFunction(() => document.querySelector('[data-for="token"]').textContent !== "");
  assert.equal(await page.textContent('[data-for="token"]'), "Invalid authorization token.");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("hookgate.token")), null);

  // the ecosystems the token may act on (GET /api/ecosystems): not the deleted one
  await page.fill("#login-token", TOKEN);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#ecosystems");
  assert.deepEqual(await page.locator("#ecosystems a").allTextContents(), [ECO, ECO2]);
  // the token: in this tab's sessionStorage only, never in a URL, a cookie or localStorage
  assert.equal(await page.evaluate(() => sessionStorage.getItem("hookgate.token")), TOKEN);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.deepEqual(await context.cookies(), []);
  // a link whose webhook id is not an id names no webhook: no API path is built from it
  const seen = requests.length;
  await page.evaluate(() => { location.hash = "#/webhooks/..%2Fecosystems%3Fx"; });
  await page.waitForFunction(() => /No webhook has the id/.test(document.getElementById("banner").textContent));
  assert.deepEqual(requests.slice(seen).filter((u) => u.includes("/api/")), []);
  await page.evaluate(() => { location.hash = "#/"; });
  await page.waitForSelector("#ecosystems a");
  await page.click(`#ecosystems a[href="#/ecosystems/${ECO}"]`);
  await page.waitForSelector("#webhooks");
  assert.ok(!page.url().includes(TOKEN));

  // a bad url: the 400's problem beside the url field
  await page.fill("#create-url", "not a url");
  await page.click("#create button[type=submit]");
  await page.waitForFunction(() => document.querySelector('#create [data-for="url"]').textContent !== "");
  assert.equal(await page.textContent('#create [data-for="url"]'), "invalid url");

  await page.fill("#create-url", receiver.url);
  await page.fill("#create-description", XSS);
  await page.click("#create button[type=submit]");
  const row = page.locator("#webhooks tbody tr[data-id]");
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator("td.description").textContent(), XSS); // as text
  assert.equal(await page.locator("#webhooks img").count(), 0); // not as markup
  const id = await row.getAttribute("data-id");
  assert.match(id, /^[0-9a-f]{24}$/);
  // and one whose url answers 500
  await page.fill("#create-url", receiver.url.replace(/\/hook$/, "/fail"));
  await page.fill("#create-description", "fails");
  await page.click("#create button[type=submit]");
  const failingRow = page.locator("#webhooks tbody tr[data-id]", { hasText: "fails" });
  await failingRow.waitFor();
  const failingId = await failingRow.getAttribute("data-id");

  // publish an event from the ecosystem's page
  await page.click("#publish button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#published").textContent !== "");
  assert.match(await page.textContent("#published"), /^Event [0-9a-f]{24} published to 2 webhooks\.$/);
  await page.screenshot({ path: path.join(SHOTS, "ecosystem.png"), fullPage: true });

  // the webhook's page: invoke, and see the outcome
  await page.click(`#webhooks a[href="#/webhooks/${id}"] >> nth=0`);
  await page.waitForSelector("#timeline");
  assert.equal(await page.textContent("#details dd.description"), XSS);
  await page.click("#invoke");
  await page.waitForSelector("#invoke-outcome dd.error-class");
  assert.match(await page.textContent("#invoke-outcome [data-status]"), /^200 Webhook verified$/);
  assert.equal(await page.textContent("#invoke-outcome dd.error-class"), "none");
  assert.ok(received.some((r) => r.body.includes("Webhook verification")), "the receiver got no invoke");

  // the delivery of the published event and the invoke, in the list and in the chart
  for (let i = 0; ; i++) {
    const triggers = await page.locator("#attempts tbody tr[data-seq] td:nth-child(2)").allTextContents();
    if (triggers.includes("scheduled") && triggers.includes("invoke")) break;
    assert.ok(i < 50, `attempts listed: ${JSON.stringify(triggers)}`);
    await page.click("#refresh");
    await page.waitForFunction(() => document.querySelector("#refresh") !== null);
    await new Promise((r) => setTimeout(r, 100)); // the delivery happens on the server's own time
  }
  const first = page.locator("#attempts tbody tr[data-seq]").first();
  assert.equal(await first.locator("td.status").textContent(), "200");
  assert.equal(await first.locator("td.error").textContent(), "ok");
  assert.equal(await first.locator("pre.response").textContent(), "received <b>ok</b>");
  assert.equal(await page.locator("#attempts b").count(), 0);
  const chart = page.locator("#chart svg.chart");
  assert.equal(Number(await chart.getAttribute("data-ok")), 2);
  assert.equal(Number(await chart.getAttribute("data-failed")), 0);
  assert.ok(await page.locator("#chart svg g.hour rect.ok").count() >= 1);
  await page.click('button[data-range="7d"]');
  await page.waitForSelector('button.range.selected[data-range="7d"]');
  assert.equal(Number(await chart.getAttribute("data-ok")), 2);
  await page.click('button[data-range="24h"]');
  await page.waitForSelector('button.range.selected[data-range="24h"]');
  await page.screenshot({ path: path.join(SHOTS, "webhook.png"), fullPage: true });

  // resend the event, recover since a day ago (nothing failed: 0)
  const before = received.length;
  await page.locator("#attempts tbody tr[data-seq]", { hasText: "scheduled" }).locator("button").click();
  await page.waitForFunction(() => /queued again/.test(document.querySelector("#delivery-outcome").textContent));
  for (let i = 0; received.length === before; i++) {
    assert.ok(i < 100, "the resend never reached the receiver");
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(await page.textContent("#delivery-outcome"), /^Event [0-9a-f]{24}: 1 delivery queued again\.$/);
  await page.click("#recover button[type=submit]");
  await page.waitForFunction(() => /failed/.test(document.querySelector("#delivery-outcome").textContent));
  assert.equal(await page.textContent("#delivery-outcome"), "0 failed deliveries queued again.");

  // edit: a bad url is refused beside its field; then a new description, and disabled
  await page.fill("#edit-url", "ftp://example.com/");
  await page.click("#edit button[type=submit]");
  await page.waitForFunction(() => document.querySelector('#edit [data-for="url"]').textContent !== "");
  assert.equal(await page.textContent('#edit [data-for="url"]'), "invalid url");
  await page.fill("#edit-url", receiver.url);
  await page.fill("#edit-description", "edited in the console");
  await page.check("#edit-disabled");
  await page.click("#edit button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#saved").textContent === "Saved.");
  assert.equal(await page.textContent("#details dd.description"), "edited in the console");
  assert.match(await page.textContent("#details dd.state"), /^disabled/);
  const got = await (await fetch(`${hg.httpBase}/api/webhooks/${id}`, { headers: { authorization: TOKEN } })).json();
  assert.equal(got.disabled, true);
  assert.equal(got.description, "edited in the console");

  // delete, after the page's own confirmation
  await page.click("#delete");
  await page.waitForSelector("#confirm-delete:not([hidden])");
  await page.click("#delete-confirm");
  await page.waitForSelector(`#webhooks tr[data-id="${id}"]`, { state: "detached" });
  const gone = await fetch(`${hg.httpBase}/api/webhooks/${id}`, { headers: { authorization: TOKEN } });
  assert.equal(gone.status, 404);

  // the failing webhook: both scheduled attempts failed, in the list and in the chart
  await page.click(`#webhooks a.button[href="#/webhooks/${failingId}"]`);
  await page.waitForSelector("#timeline");
  for (let i = 0; (await page.locator("#attempts tbody tr.failed").count()) < 2; i++) {
    assert.ok(i < 50, "the failing webhook's two attempts were not listed");
    await new Promise((r) => setTimeout(r, 100)); // the retry happens on the server's own time
    await page.click("#refresh");
  }
  await page.click("#invoke");
  await page.waitForSelector("#invoke-outcome dd.error-class");
  assert.equal(await page.textContent("#invoke-outcome [data-status]"), "502 Webhook call failed: the url answered 500");
  assert.equal(await page.textContent("#invoke-outcome dd.error-class"), "http");
  assert.match(await page.textContent("#invoke-outcome dd.time"), /^\d+ ms$/);
  await page.waitForFunction(() => document.querySelectorAll("#attempts tbody tr.failed").length === 3);
  const newest = page.locator("#attempts tbody tr[data-seq]").first();
  assert.equal(await newest.locator("td.status").textContent(), "500");
  assert.equal(await newest.locator("td.error").textContent(), "http");
  assert.equal(await newest.locator("pre.response").textContent(), "broken on purpose");
  assert.equal(Number(await chart.getAttribute("data-failed")), 3);
  assert.equal(Number(await chart.getAttribute("data-ok")), 0);
  assert.ok(await page.locator("#chart svg g.hour rect.failed").count() >= 1);
  await page.screenshot({ path: path.join(SHOTS, "failing.png"), fullPage: true });
  // its failed delivery, recovered
  await page.click("#recover button[type=submit]");
  await page.waitForFunction(() => /failed/.test(document.querySelector("#delivery-outcome").textContent));
  assert.equal(await page.textContent("#delivery-outcome"), "1 failed delivery queued again.");

  assert.deepEqual(dialogs, []);
  assert.deepEqual(problems, []);
  for (const u of requests) {
    assert.ok(u.startsWith(`${hg.httpBase}/`), `a request to another origin: ${u}`);
    assert.ok(!u.includes(TOKEN), `the token in a URL: ${u}`);
  }
  await context.close();
});

test("server.console: off answers 404 under /console/", async () => {
  const off = await startHookgate({ dir: TMP, name: "off", yaml: hookgateYaml("off") });
  try {
    for (const p of ["/console/", "/console/app.js", "/console"]) {
      const res = await fetch(`${off.httpBase}${p}`, { redirect: "manual", signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      assert.equal(res.status, 404, p);
      await res.arrayBuffer();
    }
  } finally {
    await off.stop();
  }
});
