// The console's own script: page wiring, progress over SSE, and small canvas charts.
"use strict";
const $ = (id) => document.getElementById(id);
async function call(method, url, body) {
  const r = await fetch(url, {method, headers: {"Content-Type": "application/json"},
                               body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail));
  return data;
}
const fmt = (n) => (n === null || n === undefined) ? "-" : Number(n).toLocaleString("en-US");
function on(id, fn) { const el = $(id); if (el) el.addEventListener("click", fn); }

// -- Scenario ---------------------------------------------------------------------------
on("save", async () => {
  const name = $("save-name").value.trim();
  const body = {text: $("text").value, name, overwrite: false};
  try {
    $("save-result").textContent = "saved as " + (await call("POST", "/api/scenario/save", body)).saved;
  } catch (e) {
    if (String(e.message).includes("exists") && confirm(e.message + "\nOverwrite it?")) {
      body.overwrite = true;
      $("save-result").textContent = "saved as " + (await call("POST", "/api/scenario/save", body)).saved;
    } else { $("save-result").textContent = e.message; }
  }
});

on("use", async () => {
  const name = $("save-name").value.trim() || $("use").dataset.name;
  try { const r = await call("PUT", "/api/scenario", {name}); $("in-use").textContent = r.scenario; $("use-result").textContent = "in use"; }
  catch (e) { $("use-result").textContent = e.message; }
});

// -- Generate ---------------------------------------------------------------------------
function watch(id) {
  $("gen-cancel").disabled = false;
  $("gen-cancel").dataset.job = id;
  const es = new EventSource(`/api/jobs/${id}/events`);
  es.addEventListener("progress", (ev) => {
    const j = JSON.parse(ev.data);
    $("bar").value = j.progress;
    $("j-status").textContent = `${j.id} ${j.kind}: ${j.status}`;
    $("j-days").textContent = `${j.days_done} of ${j.days_total} days (${j.shard_days_done}/${j.shard_days_total} shard-days)`;
    $("j-tables").textContent = `${j.tables_done} of ${j.tables_total} done; in progress: ${j.tables_in_progress.join(", ") || "-"}`;
    $("j-rows").textContent = fmt(j.rows);
    $("j-rate").textContent = fmt(Math.round(j.rows_per_second));
    $("j-eta").textContent = j.estimated_seconds_remaining === null ? "-" : `${j.estimated_seconds_remaining} s`;
    $("j-msg").textContent = j.message;
    if (j.status !== "running") { es.close(); $("gen-cancel").disabled = true; $("job").dataset.finished = j.status; }
  });
}
async function generate(masterOnly) {
  const w = $("workers").value;
  try {
    const j = await call("POST", "/api/jobs/generate", {master_only: masterOnly, workers: w ? Number(w) : null});
    delete $("job").dataset.finished;
    watch(j.id);
  } catch (e) { $("j-msg").textContent = e.message; }
}
on("gen-master", () => generate(true));
on("gen-history", () => generate(false));
on("gen-cancel", () => call("POST", `/api/jobs/${$("gen-cancel").dataset.job}/cancel`));
if ($("job") && $("job").dataset.running) watch($("job").dataset.running);

// -- Quality ----------------------------------------------------------------------------
function rows(table, head, list) {
  table.innerHTML = "<tr>" + head.map((h) => `<th>${h}</th>`).join("") + "</tr>";
  for (const r of list) {
    const tr = table.insertRow();
    for (const h of head) tr.insertCell().textContent = Array.isArray(r[h]) ? r[h].join("\n") : r[h];
  }
}
on("run-validate", async () => {
  $("v-summary").textContent = "running...";
  try {
    const r = await call("POST", "/api/validate");
    $("v-summary").textContent = `${r.ok ? "all checks pass" : "violations found"} (${r.seconds} s)`;
    rows($("checks"), ["status", "name", "rows", "violations", "doc", "examples"], r.checks);
  } catch (e) { $("v-summary").textContent = e.message; }
});
on("run-stats", async () => {
  try { rows($("stats"), ["name", "measured", "published"], await call("GET", "/api/stats")); }
  catch (e) { $("stats").textContent = e.message; }
});

on("run-report", async () => {
  $("r-summary").textContent = "building (a year of history takes about half a minute)...";
  try {
    const r = await call("POST", "/api/report");
    $("r-summary").textContent = r.summary;
    $("r-open").hidden = false;
    const shown = r.targets.map((t) => ({...t, value: t.value ?? t.note, band: t.band.join(" .. ")}));
    rows($("report"), ["status", "group", "title", "value", "band", "published"], shown);
  } catch (e) { $("r-summary").textContent = e.message; }
});

// -- Danger -----------------------------------------------------------------------------
on("clear", async () => {
  try { $("clear-result").textContent = "cleared: " + (await call("POST", "/api/clear", {confirm: $("confirm").value})).cleared.join(", "); }
  catch (e) { $("clear-result").textContent = e.message; }
});

// -- Live -------------------------------------------------------------------------------
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
function chart(canvas, series, labels) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  let max = 1e-9;
  for (const s of series) for (const v of s) max = Math.max(max, v);
  g.fillStyle = "#6b7280"; g.font = "10px sans-serif"; g.fillText(max.toFixed(max < 10 ? 2 : 0), 2, 10);
  series.forEach((s, i) => {
    g.strokeStyle = COLORS[i % COLORS.length]; g.beginPath();
    s.forEach((v, x) => { const px = (x / Math.max(s.length - 1, 1)) * (w - 4) + 2, py = h - 2 - (v / max) * (h - 14);
      x ? g.lineTo(px, py) : g.moveTo(px, py); });
    g.stroke();
  });
  if (labels) $("legend").innerHTML = labels.map((l, i) => `<span style="color:${COLORS[i % COLORS.length]}">■ ${l}</span>`).join("");
}
function types() { const t = [...document.querySelectorAll(".etype:checked")].map((x) => x.value); return t.length ? t : null; }
function showError(e) { $("s-error").textContent = e.message || ""; }
// "max" (unpaced, as the CLI's --speed max) or a number; anything else goes to the API as typed (422)
function speed() { const v = $("speed").value.trim(); return v.toLowerCase() === "max" ? "max" : v === "" ? null : (Number.isFinite(Number(v)) ? Number(v) : v); }
on("s-start", async () => {
  const body = {sink: $("sink").value, speed: speed(), event_types: types()};
  if ($("cap").value) body.max_events_per_second = Number($("cap").value);
  if ($("minutes").value) body.duration_minutes = Number($("minutes").value);
  try { await call("POST", "/api/stream/start", body); showError({}); } catch (e) { showError(e); }
});
on("s-stop", () => call("POST", "/api/stream/stop").catch(showError));
on("s-pause", () => call("POST", "/api/stream/pause").catch(showError));
on("s-resume", () => call("POST", "/api/stream/resume").catch(showError));
on("s-speed", () => call("POST", "/api/stream/speed", {speed: speed()}).catch(showError));
on("d-inject", async () => {
  const body = {kind: $("d-kind").value, duration_hours: Number($("d-hours").value) || 4};
  for (const k of ["dc", "store"]) if ($("d-" + k).value) body[k] = Number($("d-" + k).value);
  for (const k of ["region", "category", "supplier"]) if ($("d-" + k).value) body[k] = $("d-" + k).value;
  for (const k of ["factor", "share", "discount"]) if ($("d-" + k).value) body[k] = Number($("d-" + k).value);
  try { const d = await call("POST", "/api/disruption/create", body); $("d-result").textContent = `injected ${d.id} from ${d.starts}` + (d.effective_in_s === undefined ? " (next start)" : ` (in ${d.effective_in_s} simulated s)`); listDisruptions(); }
  catch (e) { $("d-result").textContent = e.message; }
});
async function listDisruptions() {
  const list = await call("GET", "/api/disruption/list");
  const t = $("disruptions");
  t.innerHTML = "<tr><th>id</th><th>kind</th><th>target</th><th>from</th><th>to</th><th></th></tr>";
  for (const d of list) {
    const tr = t.insertRow(); tr.id = "row-" + d.id; tr.className = d.active ? "active" : "ended";
    const target = ["dc", "store", "region", "category", "supplier"].filter((k) => d[k] !== undefined).map((k) => `${k} ${d[k]}`).join(", ") || "all";
    for (const v of [d.id, d.kind, target, d.starts, d.ends]) tr.insertCell().textContent = v;
    const c = tr.insertCell();
    if (d.active) { const b = document.createElement("button"); b.textContent = "Cancel"; b.className = "cancel";
      b.onclick = async () => { await call("DELETE", `/api/disruption/${d.id}`); listDisruptions(); }; c.appendChild(b); }
    else c.textContent = d.status === "cancelled" ? "cancelled" : "ended";
  }
}
async function tick() {
  try {
    const [st, stats, recent] = await Promise.all([call("GET", "/api/stream/status"), call("GET", "/api/stream/statistics"), call("GET", "/api/stream/events/recent?limit=100")]);
    $("s-state").textContent = st.state; $("s-speed-now").textContent = typeof st.speed === "number" ? "x" + st.speed : st.speed ?? "-"; $("s-pos").textContent = st.position; $("s-sent").textContent = fmt(st.events_sent);
    if (st.error) $("s-error").textContent = st.error;
    const names = Object.keys(stats.events_by_type).sort();
    chart($("c-rates"), names.map((n) => stats.samples.map((p) => p.rates[n] || 0)), names);
    chart($("c-lag"), [stats.samples.map((p) => p.lag_seconds || 0)]);
    chart($("c-dlq"), [stats.samples.map((p) => p.dead_lettered || 0), stats.samples.map((p) => p.retries || 0)]);
    chart($("c-breaker"), [stats.samples.map((p) => p.breaker || 0)]);
    const sales = stats.sales_per_minute;
    chart($("c-sales"), [sales.map((m) => m.sales)]);
    const last = sales[sales.length - 1];
    $("sales-last").textContent = last ? `${last.minute}: ${last.receipts} receipts, $${fmt(last.sales)}` : "-";
    const stores = await call("GET", "/api/stream/stores");
    const st2 = $("stores");
    st2.innerHTML = "<tr><th>store</th><th>products short</th><th>stockouts seen</th><th>since</th><th>products</th></tr>";
    for (const x of stores) { const tr = st2.insertRow(); tr.id = "store-" + x.store; tr.className = x.short_products ? "short" : "";
      for (const v of [x.store, x.short_products, x.stockouts_seen, x.since || "-", x.products.join(", ")]) tr.insertCell().textContent = v; }
    const t = $("recent");
    t.innerHTML = "<tr><th>event_type</th><th>EventTS</th><th>key</th><th>payload</th></tr>";
    for (const e of recent) { const tr = t.insertRow(); const p = e.payload || {};
      for (const v of [e.event_type, p.EventTS, p.StoreID ?? p.DCID ?? "", JSON.stringify(p)]) tr.insertCell().textContent = v; }
  } catch (e) { showError(e); }
}
if ($("c-rates")) { listDisruptions(); tick(); setInterval(tick, 1000); setInterval(listDisruptions, 3000); }
