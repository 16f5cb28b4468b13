// A webhook's delivery timeline, drawn as SVG by the page itself: per hour of the range,
// the attempts that succeeded and those that failed (stacked bars), and the mean duration
// (a line, on its own scale). Every label is set as text, never parsed as markup.
const SVG = "http://www.w3.org/2000/svg";
const HOUR_MS = 3600 * 1000;
const WIDTH = 960;
const HEIGHT = 220;
const PAD = { left: 44, right: 52, top: 14, bottom: 28 };

// Attempts (the API's Attempt objects) into hours buckets ending at now: index 0 is the
// oldest hour. An attempt succeeded when its error is "" (a 2xx). Attempts outside the
// range are left out.
export function bucketize(attempts, nowMs, hours) {
  const start = nowMs - hours * HOUR_MS;
  const buckets = Array.from({ length: hours }, (_, i) => ({ start: start + i * HOUR_MS, ok: 0, failed: 0, totalMs: 0 }));
  for (const a of attempts) {
    const t = Date.parse(a.startedAt);
    if (!(t >= start && t < nowMs + 60000)) continue; // a minute of clock skew at the newest end
    const b = buckets[Math.min(hours - 1, Math.floor((t - start) / HOUR_MS))];
    if (a.error === "") b.ok++;
    else b.failed++;
    b.totalMs += a.durationMs ?? 0;
  }
  return buckets;
}

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// The chart of buckets (bucketize's) as an <svg> element.
export function drawChart(buckets, label) {
  const svg = el("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart" });
  const ok = buckets.reduce((n, b) => n + b.ok, 0);
  const failed = buckets.reduce((n, b) => n + b.failed, 0);
  svg.setAttribute("data-ok", String(ok));
  svg.setAttribute("data-failed", String(failed));
  svg.append(el("title", {}, `${label}: ${ok} succeeded, ${failed} failed`));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const countMax = niceMax(Math.max(...buckets.map((b) => b.ok + b.failed), 1));
  const means = buckets.map((b) => (b.ok + b.failed > 0 ? b.totalMs / (b.ok + b.failed) : null));
  const msMax = niceMax(Math.max(...means.filter((m) => m !== null), 1));
  const slot = plotW / buckets.length;
  const y = (n) => PAD.top + plotH - (n / countMax) * plotH;
  // axes and their scales
  svg.append(el("line", { x1: PAD.left, y1: PAD.top + plotH, x2: PAD.left + plotW, y2: PAD.top + plotH, class: "axis" }));
  for (const frac of [0, 0.5, 1]) {
    const yy = PAD.top + plotH - frac * plotH;
    svg.append(el("line", { x1: PAD.left, y1: yy, x2: PAD.left + plotW, y2: yy, class: "grid" }));
    if (Number.isInteger(countMax * frac)) { // counts are whole: no tick at 2.5 attempts
      svg.append(el("text", { x: PAD.left - 6, y: yy + 4, class: "tick", "text-anchor": "end" }, String(countMax * frac)));
    }
    svg.append(el("text", { x: PAD.left + plotW + 6, y: yy + 4, class: "tick latency" }, `${Math.round(msMax * frac)} ms`));
  }
  const every = Math.max(1, Math.round(buckets.length / 8));
  buckets.forEach((b, i) => {
    const x = PAD.left + i * slot;
    if (i % every === 0) {
      const d = new Date(b.start);
      const text = buckets.length > 24 ? `${d.getMonth() + 1}/${d.getDate()} ${d.getHours()}h` : `${d.getHours()}:00`;
      svg.append(el("text", { x: x + slot / 2, y: HEIGHT - 8, class: "tick", "text-anchor": "middle" }, text));
    }
    if (b.ok + b.failed === 0) return;
    const g = el("g", { class: "hour", "data-ok": b.ok, "data-failed": b.failed });
    g.append(el("title", {}, `${new Date(b.start).toLocaleString()}: ${b.ok} succeeded, ${b.failed} failed, `
      + `mean ${Math.round(means[i])} ms`));
    const w = Math.max(1, slot * 0.8);
    if (b.ok > 0) g.append(el("rect", { x: x + slot * 0.1, y: y(b.ok), width: w, height: y(0) - y(b.ok), class: "ok" }));
    if (b.failed > 0) {
      g.append(el("rect", { x: x + slot * 0.1, y: y(b.ok + b.failed), width: w, height: y(b.ok) - y(b.ok + b.failed),
        class: "failed" }));
    }
    svg.append(g);
  });
  // the mean duration per hour, joined where consecutive hours have attempts
  let d = "";
  means.forEach((m, i) => {
    if (m === null) return;
    const x = PAD.left + i * slot + slot / 2;
    const yy = PAD.top + plotH - (m / msMax) * plotH;
    d += `${d === "" || means[i - 1] === null ? "M" : "L"}${x.toFixed(1)},${yy.toFixed(1)}`;
    svg.append(el("circle", { cx: x.toFixed(1), cy: yy.toFixed(1), r: 2.5, class: "latency" }));
  });
  if (d !== "") svg.insertBefore(el("path", { d, class: "latency" }), svg.querySelector("circle.latency"));
  return svg;
}
