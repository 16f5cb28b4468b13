// hookgate's web console: one page, plain ES modules, no framework. Views by location.hash
// ("#/" the token, then the ecosystems it may act on, "#/ecosystems/<id>" an ecosystem's webhooks, "#/webhooks/<id>" one
// webhook's deliveries); the hash never holds the token. Every value from the API goes
// into the page as text (textContent, attributes), never as markup.
import { ApiError, call, setToken, token } from "./api.js";
import { bucketize, drawChart } from "./chart.js";

const ATTEMPTS_PAGE = 100; // attempts per call of the list
const CHART_MAX_PAGES = 20; // a chart reads at most this many pages of attempts (2,000)
const RANGES = { "24h": 24, "7d": 24 * 7 }; // the chart's ranges, in hours

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const crumbs = document.getElementById("crumbs");
const logout = document.getElementById("logout");

// h("tag.class", {attr: value, onclick: fn}, child...): an element; a string child is text.
function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const e = document.createElement(tag);
  if (classes.length > 0) e.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "value") e.value = v;
    else if (k === "checked") e.checked = true;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function showBanner(text, kind = "error") {
  banner.textContent = text;
  banner.className = `banner ${kind}`;
  banner.hidden = text === "";
}

// A form of fields [{name, label, type?, value?, placeholder?, rows?}], whose name is the API's
// parameter (so that a 400's problem about it is shown beside it). onsubmit(values) may
// throw ApiError: its problems go beside their fields, anything else under the form.
function form(id, fields, submit, onsubmit, extra = []) {
  const errors = {};
  const inputs = {};
  const general = h("p.form-error", { role: "alert", "data-for": "" });
  const rows = fields.map((f) => {
    const fid = `${id}-${f.name}`;
    let input;
    if (f.type === "checkbox") input = h("input", { id: fid, name: f.name, type: "checkbox", checked: f.value === true });
    else if (f.rows) input = h("textarea", { id: fid, name: f.name, rows: f.rows, value: f.value ?? "" });
    else {
      input = h("input", { id: fid, name: f.name, type: f.type ?? "text", value: f.value ?? "",
        placeholder: f.placeholder, autocomplete: "off", spellcheck: "false" });
    }
    inputs[f.name] = input;
    errors[f.name] = h("span.field-error", { "data-for": f.name, role: "alert" });
    return h("div.field", {}, h("label", { for: fid }, f.label), input, errors[f.name]);
  });
  const button = h("button", { type: "submit" }, submit);
  const el = h("form", { id, novalidate: true }, rows, h("div.actions", {}, button, extra), general);
  const clear = () => {
    general.textContent = "";
    for (const e of Object.values(errors)) e.textContent = "";
  };
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear();
    const values = {};
    for (const f of fields) values[f.name] = f.type === "checkbox" ? inputs[f.name].checked : inputs[f.name].value;
    button.disabled = true;
    try {
      await onsubmit(values);
    } catch (e) {
      showError(e, errors, general);
    } finally {
      button.disabled = false;
    }
  });
  return { el, inputs, general, errors, clear };
}

// An API error in words: each 400 problem beside the field it names (errors, by the API's
// parameter name), the rest in general; a token the server refuses sends the user back to
// the token form, with the server's words there.
function showError(e, errors, general) {
  if (!(e instanceof ApiError)) {
    general.textContent = String(e?.message ?? e);
    return;
  }
  if (e.status === 401) {
    setToken(null);
    location.hash = "#/";
    render().then(() => {
      const err = document.querySelector('[data-for="token"]');
      if (err) err.textContent = e.message;
    });
    return;
  }
  const rest = [];
  for (const p of e.problems) {
    const target = errors?.[p.path];
    if (target) target.textContent = target.textContent ? `${target.textContent}; ${p.message}` : p.message;
    else rest.push(p.path && p.path !== "body" ? `${p.path}: ${p.message}` : p.message);
  }
  if (e.problems.length === 0 || rest.length > 0) general.textContent = rest.length > 0 ? rest.join("; ") : e.message;
}

function setCrumbs(...items) {
  crumbs.replaceChildren(...items.map((it, i) => (i < items.length - 1 ? h("a", { href: it.href }, it.text) : h("span", {}, it.text))));
  logout.hidden = token() === null;
}

// --- the token, and the ecosystems it may act on -------------------------------------------

function loginView() {
  setCrumbs({ text: "Sign in" });
  const f = form("login", [
    { name: "token", label: "Token (account or server token)", type: "password" },
  ], "Sign in", async (v) => {
    setToken(v.token.trim());
    try {
      await call("GET", "/ecosystems"); // the token, checked
    } catch (e) {
      setToken(null);
      if (e instanceof ApiError && e.status === 401) {
        f.errors.token.textContent = e.message;
        return;
      }
      throw e;
    }
    if (location.hash === "#/" || location.hash === "") render();
    else location.hash = "#/";
  });
  return [h("section.card.narrow", {}, h("h2", {}, "Sign in"),
    h("p.hint", {}, "The token is kept in this tab only (sessionStorage) and sent in the authorization header."),
    f.el)];
}

async function ecosystemsView() {
  setCrumbs({ text: "Ecosystems" });
  const { value } = await call("GET", "/ecosystems");
  const items = value.items.length === 0 ? [h("li.empty", {}, "This token may act on no ecosystem.")]
    : value.items.map((e) => h("li", {}, h("a", { href: `#/ecosystems/${encodeURIComponent(e.id)}` }, e.id)));
  return [h("section.card.narrow", {}, h("h2", {}, "Ecosystems"), h("ul.plain", { id: "ecosystems" }, items))];
}

// --- an ecosystem's webhooks ------------------------------------------------------------------

async function listAll(ecosystemId) {
  const items = [];
  let pageToken = "";
  for (let page = 0; page < 50; page++) { // 50 pages of 100: the console shows at most 5,000
    const q = `ecosystemId=${encodeURIComponent(ecosystemId)}&limit=100${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`;
    const { value } = await call("GET", `/webhooks?${q}`);
    items.push(...value.items);
    if (!value.nextPageToken) break;
    pageToken = value.nextPageToken;
  }
  return items;
}

function stateOf(w) {
  if (!w.disabled) return h("span.badge.on", {}, "enabled");
  return h("span", {}, h("span.badge.off", {}, "disabled"),
    w.disabledReason ? h("span.reason", {}, ` ${w.disabledReason}${w.disabledAt ? ` (${when(w.disabledAt)})` : ""}`) : null);
}

async function ecosystemView(eco) {
  setCrumbs({ text: "Ecosystems", href: "#/" }, { text: eco });
  const list = h("tbody");
  const table = h("table.list", { id: "webhooks" },
    h("thead", {}, h("tr", {}, ["Url", "Description", "State", "Created", ""].map((t) => h("th", {}, t)))), list);
  const create = form("create", [
    { name: "url", label: "Url", placeholder: "https://example.com/hook" },
    { name: "description", label: "Description" },
    { name: "secret", label: "Secret (optional: signs every call)", type: "password" },
  ], "Create webhook", async (v) => {
    const body = { ecosystemId: eco, url: v.url.trim(), description: v.description };
    if (v.secret !== "") body.secret = v.secret;
    await call("POST", "/webhooks", body);
    create.el.reset();
    await refresh();
  });
  const published = h("p.outcome", { id: "published", role: "status" });
  const publish = form("publish", [
    { name: "items", label: "Items (a JSON array of objects)", rows: 4,
      value: JSON.stringify([{ type: "Test", message: "from the hookgate console" }]) },
  ], "Publish test event", async (v) => {
    let items;
    try {
      items = JSON.parse(v.items);
    } catch (e) {
      publish.errors.items.textContent = `not JSON: ${e.message}`;
      return;
    }
    const { value } = await call("POST", "/events", { ecosystemId: eco, items });
    published.textContent = `Event ${value.id} published to ${value.webhooks} webhook${value.webhooks === 1 ? "" : "s"}.`;
  });
  const listError = h("p.form-error", { role: "alert" });
  async function refresh() {
    listError.textContent = "";
    let items;
    try {
      items = await listAll(eco);
    } catch (e) {
      showError(e, null, listError);
      return;
    }
    list.replaceChildren(...items.map((w) => h("tr", { "data-id": w.id },
      h("td.url", {}, h("a", { href: `#/webhooks/${encodeURIComponent(w.id)}` }, w.url)),
      h("td.description", {}, w.description),
      h("td", {}, stateOf(w)),
      h("td", {}, when(w.createdAt)),
      h("td", {}, h("a.button", { href: `#/webhooks/${encodeURIComponent(w.id)}` }, "Open")))));
    if (items.length === 0) list.append(h("tr", {}, h("td.empty", { colspan: 5 }, "No webhooks yet.")));
  }
  await refresh();
  return [
    h("section.card", {}, h("h2", {}, "Webhooks of ", h("code", {}, eco)), table, listError),
    h("div.columns", {},
      h("section.card", {}, h("h2", {}, "New webhook"), create.el),
      h("section.card", {}, h("h2", {}, "Publish a test event"), publish.el, published)),
  ];
}

// --- one webhook ---------------------------------------------------------------------------

// The attempts of the last `hours`, newest first: pages until one starts before the range
// (at most CHART_MAX_PAGES).
async function attemptsSince(id, hours, now) {
  const since = now - hours * 3600 * 1000;
  const out = [];
  let before = "";
  for (let page = 0; page < CHART_MAX_PAGES; page++) {
    const { value } = await call("GET", `/webhooks/${encodeURIComponent(id)}/attempts?limit=${ATTEMPTS_PAGE}${before ? `&before=${before}` : ""}`);
    out.push(...value.items);
    const last = value.items[value.items.length - 1];
    if (!value.nextBefore || last === undefined || Date.parse(last.startedAt) < since) break;
    before = value.nextBefore;
  }
  return out;
}

const INVOKE_ERRORS = [ // the class of an invoke's failure, from its words (README "Invoke")
  ["the url answered", "http"], ["could not connect", "connect"], ["timed out", "timeout"],
  ["connection refused", "connect"], ["no such host", "dns"], ["blocked", "blocked"], ["TLS failed", "tls"],
  ["connection closed", "closed"],
];

const WEBHOOK_ID = /^[0-9a-f]{24}$/; // what the API's ids are: a link with anything else names no webhook

async function webhookView(id) {
  if (!WEBHOOK_ID.test(id)) throw new Error(`No webhook has the id "${id}".`);
  let w;
  const { value } = await call("GET", `/webhooks/${encodeURIComponent(id)}`);
  w = value;
  setCrumbs({ text: "Ecosystems", href: "#/" }, { text: w.ecosystemId, href: `#/ecosystems/${encodeURIComponent(w.ecosystemId)}` }, { text: w.url });

  const details = h("dl.details", { id: "details" });
  const showDetails = () => details.replaceChildren(
    h("dt", {}, "Id"), h("dd", {}, h("code", {}, w.id)),
    h("dt", {}, "Url"), h("dd.url", {}, w.url),
    h("dt", {}, "Description"), h("dd.description", {}, w.description),
    h("dt", {}, "State"), h("dd.state", {}, stateOf(w)),
    h("dt", {}, "Created"), h("dd", {}, when(w.createdAt)));
  showDetails();

  const saved = h("p.outcome", { id: "saved", role: "status" });
  const edit = form("edit", [
    { name: "url", label: "Url", value: w.url },
    { name: "description", label: "Description", value: w.description },
    { name: "secret", label: "New secret (empty: keep; to remove it, tick below)", type: "password" },
    { name: "removeSecret", label: "Remove the secret", type: "checkbox" },
    { name: "disabled", label: "Disabled", type: "checkbox", value: w.disabled },
  ], "Save", async (v) => {
    saved.textContent = "";
    const changes = { url: v.url.trim(), description: v.description, disabled: v.disabled };
    if (v.removeSecret) changes.secret = "";
    else if (v.secret !== "") changes.secret = v.secret;
    await call("PUT", `/webhooks/${encodeURIComponent(id)}`, changes);
    w = (await call("GET", `/webhooks/${encodeURIComponent(id)}`)).value;
    showDetails();
    edit.inputs.secret.value = "";
    edit.inputs.removeSecret.checked = false;
    saved.textContent = "Saved.";
  });

  // delete, confirmed in the page (no dialog)
  const confirmBox = h("div.confirm", { hidden: true, id: "confirm-delete" });
  const deleteError = h("p.form-error", { role: "alert" });
  const askDelete = h("button.danger", { type: "button", id: "delete", onclick: () => { confirmBox.hidden = false; } }, "Delete…");
  confirmBox.append(h("p", {}, "Delete this webhook for good? Its pending deliveries are cancelled."),
    h("button.danger", { type: "button", id: "delete-confirm", onclick: async () => {
      try {
        await call("DELETE", `/webhooks/${encodeURIComponent(id)}`);
        location.hash = `#/ecosystems/${encodeURIComponent(w.ecosystemId)}`;
      } catch (e) {
        showError(e, null, deleteError);
      }
    } }, "Delete for good"),
    h("button.quiet", { type: "button", onclick: () => { confirmBox.hidden = true; } }, "Cancel"));

  // invoke: the call's outcome, and the attempt it recorded
  const invoked = h("dl.outcome", { id: "invoke-outcome", role: "status" });
  const invokeButton = h("button", { type: "button", id: "invoke", onclick: async () => {
    invokeButton.disabled = true;
    invoked.replaceChildren(h("dd", {}, "Calling…"));
    let status, words, cls = "";
    const started = performance.now(); // the call's whole time, failed ones too
    try {
      const r = await call("POST", `/webhooks/${encodeURIComponent(id)}/invoke`);
      [status, words] = [r.status, String(r.value ?? "").trim()];
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 401) {
        invokeButton.disabled = false;
        showError(e, null, deleteError);
        return;
      }
      [status, words] = [e.status, e.message];
      cls = (INVOKE_ERRORS.find(([w]) => words.includes(w)) ?? ["", e.status === 503 ? "busy" : "failed"])[1];
    }
    invoked.replaceChildren(
      h("dt", {}, "Outcome"), h("dd", { "data-status": status }, `${status} ${words}`),
      h("dt", {}, "Time"), h("dd.time", {}, `${Math.round(performance.now() - started)} ms`),
      h("dt", {}, "Error class"), h("dd.error-class", {}, cls === "" ? "none" : cls));
    invokeButton.disabled = false;
    await timeline.refresh();
  } }, "Invoke now");

  const timeline = timelineSection(id);
  await timeline.refresh();
  return [
    h("div.columns", {},
      h("section.card", {}, h("h2", {}, "Webhook"), details,
        h("div.actions", {}, invokeButton, askDelete), invoked, confirmBox, deleteError),
      h("section.card", {}, h("h2", {}, "Edit"), edit.el, saved)),
    timeline.el,
  ];
}

function timelineSection(id) {
  let range = "24h";
  const chartBox = h("div.chart-box", { id: "chart" });
  const rows = h("tbody");
  const more = h("button.quiet", { type: "button", hidden: true }, "Older attempts");
  const error = h("p.form-error", { role: "alert" });
  const outcome = h("p.outcome", { id: "delivery-outcome", role: "status" });
  let nextBefore = "";

  const rangeButtons = Object.keys(RANGES).map((r) => h("button.range", { type: "button", "data-range": r, onclick: async () => {
    range = r;
    await drawTimeline();
  } }, r === "24h" ? "Last 24 hours" : "Last 7 days"));

  function row(a) {
    const resend = a.eventId ? h("button.quiet", { type: "button", onclick: async () => {
      outcome.textContent = "";
      try {
        const { value } = await call("POST", `/events/${encodeURIComponent(a.eventId)}/resend`, { webhookId: id });
        outcome.textContent = `Event ${a.eventId}: ${value.deliveries} deliver${value.deliveries === 1 ? "y" : "ies"} queued again.`;
      } catch (e) {
        showError(e, null, error);
      }
    } }, "Resend") : null;
    return h("tr", { "data-seq": a.seq, class: a.error === "" ? "ok" : "failed" },
      h("td", {}, when(a.startedAt)),
      h("td", {}, a.trigger, a.attempt > 1 ? ` #${a.attempt}` : ""),
      h("td.status", {}, a.statusCode ? String(a.statusCode) : "—"),
      h("td.error", {}, a.error === "" ? "ok" : a.error),
      h("td", {}, `${a.durationMs} ms`),
      h("td", {}, a.eventId ? h("code", {}, a.eventId) : "invoke"),
      h("td", {}, h("pre.response", {}, a.response)),
      h("td", {}, resend));
  }

  async function page(first) {
    const q = `limit=${ATTEMPTS_PAGE}${first ? "" : `&before=${nextBefore}`}`;
    const { value } = await call("GET", `/webhooks/${encodeURIComponent(id)}/attempts?${q}`);
    if (first) rows.replaceChildren();
    rows.append(...value.items.map(row));
    if (first && value.items.length === 0) rows.append(h("tr", {}, h("td.empty", { colspan: 8 }, "No attempts yet.")));
    nextBefore = value.nextBefore ?? "";
    more.hidden = nextBefore === "";
  }
  more.addEventListener("click", () => page(false).catch((e) => showError(e, null, error)));

  async function drawTimeline() {
    const now = Date.now();
    const attempts = await attemptsSince(id, RANGES[range], now);
    for (const b of rangeButtons) b.classList.toggle("selected", b.dataset.range === range);
    chartBox.replaceChildren(drawChart(bucketize(attempts, now, RANGES[range]), range === "24h" ? "Last 24 hours" : "Last 7 days"),
      h("p.legend", {}, h("span.key.ok", {}), " succeeded ", h("span.key.failed", {}), " failed ",
        h("span.key.latency", {}), " mean duration (right scale)"));
  }

  const recover = form("recover", [
    { name: "since", label: "Failed deliveries since", type: "datetime-local",
      value: new Date(Date.now() - 24 * 3600 * 1000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16) },
  ], "Recover", async (v) => {
    outcome.textContent = "";
    const d = new Date(v.since);
    const since = Number.isNaN(d.getTime()) ? v.since : d.toISOString();
    const { value } = await call("POST", `/webhooks/${encodeURIComponent(id)}/recover`, { since });
    outcome.textContent = `${value.deliveries} failed deliver${value.deliveries === 1 ? "y" : "ies"} queued again.`;
    await refresh();
  });

  async function refresh() {
    error.textContent = "";
    try {
      await drawTimeline();
      await page(true);
    } catch (e) {
      showError(e, null, error);
    }
  }
  const el = h("section.card", { id: "timeline" },
    h("div.head", {}, h("h2", {}, "Deliveries"), h("div.ranges", {}, rangeButtons,
      h("button.quiet", { type: "button", id: "refresh", onclick: refresh }, "Refresh"))),
    chartBox, outcome, error,
    h("table.list", { id: "attempts" }, h("thead", {}, h("tr", {},
      ["Started", "Trigger", "Status", "Error", "Duration", "Event", "Response", ""].map((t) => h("th", {}, t)))), rows),
    more, h("h3", {}, "Recover"), recover.el);
  return { el, refresh };
}

// --- the router ------------------------------------------------------------------------------

let rendering = 0;
async function render() {
  const mine = ++rendering;
  showBanner("");
  const hash = location.hash || "#/";
  let m;
  let view;
  try {
    if (token() === null) view = loginView();
    else if (hash === "#/") view = await ecosystemsView();
    else if ((m = /^#\/ecosystems\/([^/]+)$/.exec(hash))) view = await ecosystemView(decodeURIComponent(m[1]));
    else if ((m = /^#\/webhooks\/([^/]+)$/.exec(hash))) view = await webhookView(decodeURIComponent(m[1]));
    else view = await ecosystemsView();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken(null);
      view = loginView();
      if (mine === rendering) {
        main.replaceChildren(...view.filter(Boolean));
        document.querySelector('[data-for="token"]').textContent = e.message;
      }
      return;
    }
    showBanner(e instanceof ApiError ? e.message : String(e));
    view = [];
  }
  if (mine === rendering) main.replaceChildren(...view.filter(Boolean));
}

logout.addEventListener("click", () => {
  setToken(null);
  location.hash = "#/";
  render();
});
window.addEventListener("hashchange", render);
render();
