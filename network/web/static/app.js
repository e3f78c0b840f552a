// app.js: the leash page. It talks only to the saxsleash web process
// (same origin): /api/... for commands, /api/server/N/events for pushed
// updates. Nothing is polled from here.
"use strict";

const $ = sel => document.querySelector(sel);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) e.append(c.nodeType ? c : String(c));
  return e;
};

const state = {
  servers: [],
  server: 0,
  status: null,
  schema: {},          // generation -> schema
  gen: "2.0",
  cal: null,           // the calibration being edited
  masks: [],           // per Masks[i]: {filename, data (base64), info}
  flatDir: ["."],      // queue folder of a 0.3.0 calibration
  fileName: "calibration.json",
  modified: false,
  errors: [],          // [{path, msg}]
  validating: 0,
  stat: {},
  plot: null,
  files: null,
  view: null,          // zoom of the curve plot
  startTime: null,     // the server's "start time" last seen
  expectOwnStart: false,
  ownStart: null,
  queueRunning: false,
  tab: "calibration",
};

// ---------- API ----------

async function api(path, body, method) {
  const opt = { method: method || (body === undefined ? "GET" : "POST"), headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = typeof body === "string" ? "text/plain" : "application/json";
    opt.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  let data = null;
  const ct = r.headers.get("Content-Type") || "";
  if (ct.includes("json")) data = await r.json(); else data = { error: (await r.text()).trim() };
  if (!r.ok) {
    const err = new Error((data && data.error) || r.statusText);
    err.data = data; err.status = r.status;
    throw err;
  }
  return data;
}

async function command(cmd, body) {
  const rep = await api(`/api/server/${state.server}/${cmd}`, body === undefined ? {} : body);
  if (rep.failed) {
    const err = new Error(rep.error || rep.result);
    err.reply = rep;
    throw err;
  }
  return rep;
}

// ---------- toasts, confirm ----------

function toast(msg, kind, ms) {
  const t = el("div", { class: "toast " + (kind || ""), role: kind === "err" ? "alert" : "status", text: msg });
  $("#toasts").append(t);
  setTimeout(() => t.remove(), ms || (kind === "err" ? 8000 : 3500));
}

function confirmDialog(title, text, okLabel) {
  return new Promise(resolve => {
    const d = $("#dlg-confirm");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    $("#confirm-ok").textContent = okLabel || "OK";
    d.returnValue = "";
    d.onclose = () => resolve(d.returnValue === "ok");
    d.showModal();
  });
}

// ---------- tabs ----------

function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll(".tabs button")) b.setAttribute("aria-selected", b.dataset.tab === name ? "true" : "false");
  for (const s of document.querySelectorAll("section.tab")) s.hidden = s.id !== "tab-" + name;
  if (name === "live" || name === "history") scheduleDraw(true);
  if (name === "calibrate") calibPrefill();
}

// ---------- servers ----------

async function refreshServers() {
  try {
    state.servers = await api("/api/servers");
  } catch (e) {
    toast("Server list: " + e.message, "err");
    return;
  }
  renderServers();
}

function renderServers() {
  const sel = $("#server-select");
  sel.replaceChildren(...state.servers.map(s => el("option", { value: s.index, text: s.name })));
  sel.value = String(state.server);
  const body = $("#servers-body");
  body.replaceChildren(...state.servers.map(s => {
    const st = s.online ? (s.queue === "no queue" ? "online, no queue" : "online, queue running") : "offline";
    const cls = s.online ? (s.queue === "no queue" ? "online" : "queue") : "offline";
    return el("tr", { class: s.index === state.server ? "current" : "" },
      el("td", {}, el("span", { class: "dot " + cls })),
      el("td", {}, el("b", { text: s.name })),
      el("td", {}, el("code", { text: s.server })),
      el("td", {}, el("code", { text: s.feeder || "" })),
      el("td", { title: s.error || "" }, st + (s.online || !s.error ? "" : " — " + s.error)),
      el("td", {}, s.index === state.server ? el("span", { class: "muted", text: "in use" }) :
        el("button", { class: "small", text: "Use this server", onclick: () => selectServer(s.index) })));
  }));
}

function selectServer(i) {
  state.server = i;
  state.stat = {}; state.plot = null; state.files = null; state.startTime = null; state.status = null;
  state.view = null;
  $("#server-select").value = String(i);
  renderServers();
  connectEvents();
  updateStatus();
  scheduleDraw(true);
}

// ---------- events ----------

let source = null;
function connectEvents() {
  if (source) source.close();
  source = new EventSource(`/api/server/${state.server}/events`);
  source.addEventListener("status", e => { state.status = JSON.parse(e.data); updateStatus(); });
  source.addEventListener("stat", e => {
    state.stat = JSON.parse(e.data).stat || {};
    if (state.stat.mergecount) showMergeResult();
    state.queueRunning = Object.keys(state.stat).length > 0;
    updateStatus();
    scheduleDraw();
  });
  source.addEventListener("servers", e => { state.servers = JSON.parse(e.data); renderServers(); });
  source.addEventListener("plot", e => { state.plot = JSON.parse(e.data); scheduleDraw(); });
  source.addEventListener("files", e => { state.files = JSON.parse(e.data); scheduleDraw(); });
  source.addEventListener("calibration", e => calibrationChanged(JSON.parse(e.data).startTime));
  source.onerror = () => { state.status = { online: false, error: "lost the connection to saxsleash web" }; updateStatus(); };
}

function calibrationChanged(t) {
  const first = state.startTime === null;
  state.startTime = t;
  // a new queue: the curves and counters of the old one are gone
  state.plot = null; state.files = null; state.view = null;
  scheduleDraw();
  if (state.expectOwnStart) {
    state.expectOwnStart = false;
    state.ownStart = t;
    return;
  }
  if (first) {
    // as the original leash: without a calibration of one's own, adopt
    // the server's
    if (!state.modified && state.pristine) takeServer(true);
    return;
  }
  if (t === state.ownStart) return;
  $("#banner-text").textContent = "The server's calibration changed: another leash started a queue. Load the server's calibration?";
  $("#banner").hidden = false;
}

function updateStatus() {
  const s = state.status, dot = $("#status-dot"), txt = $("#status-text");
  dot.className = "dot";
  if (!s) { txt.textContent = "connecting…"; }
  else if (!s.online) { dot.classList.add("offline"); txt.textContent = "offline"; txt.title = s.error || ""; }
  else if (s.queue) { dot.classList.add("queue"); txt.textContent = "queue running"; txt.title = ""; }
  else { dot.classList.add("online"); txt.textContent = "online, no queue"; txt.title = ""; }
  $("#btn-start").textContent = s && s.queue ? "Restart with changed calibration" : "Start queue with this calibration";
  const q = !!(s && s.queue);
  $("#btn-readdir").disabled = !q; $("#btn-close").disabled = !q; $("#btn-abort").disabled = !q;
  const st = state.stat || {};
  $("#foot-state").textContent = q ? `${st["images processed"] ?? 0} frames processed` : "";
}

// ---------- drawing (coalesced: at most 4 redraws a second) ----------

let drawTimer = null, lastDraw = 0;
function scheduleDraw(now) {
  if (drawTimer) return;
  const wait = now ? 0 : Math.max(0, 250 - (performance.now() - lastDraw));
  drawTimer = setTimeout(() => { drawTimer = null; requestAnimationFrame(drawAll); }, wait);
}

function drawAll() {
  lastDraw = performance.now();
  const st = state.stat || {};
  const p = state.plot;
  $("#c-processed").textContent = state.queueRunning ? (st["images processed"] ?? 0).toLocaleString() : "–";
  $("#c-queue").textContent = state.queueRunning ? (st["queue length"] ?? 0).toLocaleString() : "–";
  let rate = null;
  if (p && p.rate) rate = p.rate.slice(-10).reduce((a, b) => a + b, 0) / 10;
  else if (st["frames per sec"] !== undefined) rate = st["frames per sec"];
  $("#c-rate").textContent = state.queueRunning && rate !== null ? (+rate.toFixed(1)).toLocaleString() : "–";
  const f = state.files;
  $("#c-failed").textContent = f ? f.failedTotal.toLocaleString() : "–";
  if (!f) $("#failed-log").replaceChildren();
  else {
    const log = $("#failed-log");
    const items = f.failed.slice().reverse();
    if (log.childElementCount !== items.length || (items[0] && log.firstChild.textContent !== items[0])) {
      log.replaceChildren(...items.map(x => el("li", { text: x })));
    }
  }
  $("#live-file").textContent = p ? p.filename : "";
  if (state.tab === "live") drawLive();
  if (state.tab === "history") drawHistory();
}

// fitHeight sizes a canvas to fill the window below its top edge (less
// the footer and below parts), in n rows, at least min pixels.
function fitHeight(elem, n, below, min, prop) {
  const foot = document.querySelector("footer").offsetHeight;
  const top = elem.getBoundingClientRect().top + window.scrollY;
  const h = Math.max(min, Math.floor((window.innerHeight - top - foot - below) / n));
  prop = prop || "height";
  if (elem.style[prop] !== h + "px") elem.style[prop] = h + "px";
}

function drawLive() {
  if (window.innerWidth > 1100) fitHeight($(".live"), 1, 16, 420, "minHeight");
  const p = state.plot;
  // shown or hidden before drawing: the radial chart's height depends on it
  $("#slice-panel").hidden = !(p && p.slices && p.slices.length);
  const series = [];
  const band = $("#band").checked;
  if (p) p.curves.forEach((c, k) => {
    const s = { x: c.q, y: c.i, label: c.name, color: Chart.COLORS[k % Chart.COLORS.length] };
    if (c.sigma && band) {
      s.lo = c.i.map((v, j) => v === null || c.sigma[j] === null ? null : v - c.sigma[j]);
      s.hi = c.i.map((v, j) => v === null || c.sigma[j] === null ? null : v + c.sigma[j]);
    }
    series.push(s);
  });
  Chart.draw($("#curve-canvas"), { series, logY: $("#logy").checked, view: state.view, legend: true,
    xLabel: "q [nm⁻¹]", yLabel: "I [counts / pixel]", empty: state.queueRunning ? "waiting for the first frame…" : "no queue running" });
  drawSlices(p, band);
  const rate = p && p.rate ? p.rate : [];
  Chart.draw($("#rate-canvas"), { series: [{ x: rate.map((_, i) => i - rate.length + 1), y: rate, color: "#2a9d54" }],
    bars: true, integerX: true, xLabel: "seconds ago", yLabel: "frames/s", empty: "no frames yet" });
}

// drawSlices draws the GISAXS slices of the latest frame in their own chart
// beside the radial curves; the panel is hidden without slices.
function drawSlices(p, band) {
  const slices = p && p.slices ? p.slices : [];
  if (slices.length === 0) return;
  const series = slices.map((c, k) => {
    const s = { x: c.q, y: c.i, label: c.name, color: Chart.COLORS[(k + 3) % Chart.COLORS.length] };
    if (c.sigma && band) {
      s.lo = c.i.map((v, j) => v === null || c.sigma[j] === null ? null : v - c.sigma[j]);
      s.hi = c.i.map((v, j) => v === null || c.sigma[j] === null ? null : v + c.sigma[j]);
    }
    return s;
  });
  const labels = [...new Set(slices.map(c => (c.xlabel || "").includes("q_{z}") ? "q_z" : "q_y"))];
  $("#slice-axis").textContent = labels.join(", ") + " [nm⁻¹]";
  Chart.draw($("#slice-canvas"), { series, logY: $("#logy").checked, legend: true,
    xLabel: labels.join(" / ") + " [nm⁻¹]", yLabel: "I [counts / pixel]", empty: "no slice" });
}

function drawHistory() {
  const p = state.plot;
  const keys = p ? Object.keys(p.params).sort() : [];
  const mk = fn => keys.map((k, i) => {
    const ps = p.params[k];
    return { x: ps.frame, y: fn(ps), label: k, color: Chart.COLORS[i % Chart.COLORS.length] };
  });
  const o = { xLabel: "frame", empty: "no frames yet", zeroY: false, integerX: true };
  if (window.innerWidth > 1100) {
    // two rows of panels fill the window below the grid's top edge
    const grid = $(".grid4"), foot = document.querySelector("footer").offsetHeight;
    const head = grid.querySelector(".panel-head").offsetHeight;
    const top = grid.getBoundingClientRect().top + window.scrollY;
    const h = Math.max(200, Math.floor((window.innerHeight - top - foot - 14 - 2 * (head + 6 + 24) - 16) / 2));
    for (const id of ["#h-i0", "#h-i1", "#h-i2", "#h-corr"]) if ($(id).style.height !== h + "px") $(id).style.height = h + "px";
  }
  Chart.draw($("#h-i0"), { ...o, series: mk(ps => ps.I0), yLabel: "I0" });
  Chart.draw($("#h-i1"), { ...o, series: mk(ps => ps.I1), yLabel: "I1" });
  Chart.draw($("#h-i2"), { ...o, series: mk(ps => ps.I2), yLabel: "I2" });
  Chart.draw($("#h-corr"), { ...o, series: mk(ps => ps.I1.map((v, j) => (v === null || !ps.I2[j]) ? null : v / ps.I2[j])), yLabel: "I1/I2 [nm]" });
}

// ---------- calibration editor ----------

const UNITS = [
  [/\bin mm\b|MM$/, "mm"], [/degrees|Deg$/, "°"], [/micrometres|MicroM$/, "µm"], [/Angstrom|^Wavelength$/, "Å"],
  [/nm\^-1/, "nm⁻¹"], [/in pixels|Radial bin width in pixels/, "px"],
];
const ITEM_LABELS = { BeamCenter: ["y", "x"], Imagesize: ["rows", "cols"], PixelSizeMicroM: ["", "2nd"] };

function unitOf(key, sch) {
  const d = (sch && sch.description) || "";
  for (const [re, u] of UNITS) if (re.test(d) || re.test(key)) return u;
  if (key === "BeamCenter" || key === "Imagesize") return "px";
  return "";
}

function ptr(path) { return "/" + path.map(p => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/"); }

function getAt(path) { let v = state.cal; for (const p of path) { if (v == null) return undefined; v = v[p]; } return v; }
function setAt(path, val) {
  let v = state.cal;
  for (const p of path.slice(0, -1)) v = v[p];
  const k = path[path.length - 1];
  if (val === undefined) { if (Array.isArray(v)) v.splice(k, 1); else delete v[k]; } else v[k] = val;
}

function defaultFor(sch) {
  if (sch.default !== undefined) return structuredClone(sch.default);
  if (sch.enum) return sch.enum[0];
  switch (sch.type) {
    case "object": {
      const o = {};
      for (const k of sch.required || []) o[k] = defaultFor(sch.properties[k]);
      return o;
    }
    case "array": {
      const n = sch.minItems || 0, a = [];
      for (let i = 0; i < n; i++) a.push(defaultFor(sch.items || {}));
      return a;
    }
    case "number": case "integer": return sch.minimum !== undefined ? sch.minimum : 0;
    case "boolean": return false;
    case "string": return sch.minLength ? "x" : "";
  }
  return null;
}

function parseNumberInput(text, integer) {
  const t = text.trim();
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) {
    const v = Number(t);
    return v;
  }
  return t; // not a number: kept as text so that validation points at it
}

function changed() {
  state.modified = true;
  state.pristine = false;
  updateFileLabel();
  validateSoon();
}

function updateFileLabel() {
  $("#cal-file").textContent = state.fileName + (state.modified ? " • modified" : "");
  document.title = (state.servers[state.server] ? state.servers[state.server].name + " " : "") + "SAXS Leash: " + state.fileName;
}

// field renders one schema property: path is the list of keys.
function field(key, sch, path, required) {
  const p = ptr(path);
  const val = getAt(path);
  const wrap = el("div", { class: "field", "data-path": p });
  const label = el("label", { text: sch.title && sch.title !== key ? key : key }, required ? el("span", { class: "req", title: "required", text: "*" }) : null);
  const ctl = el("div", { class: "ctl" });
  const unit = unitOf(key, sch);
  const id = "f" + p.replace(/[^A-Za-z0-9]/g, "_");
  label.htmlFor = id;
  wrap.append(label, ctl);
  if (sch.enum) {
    const s = el("select", { id, onchange: () => { setAt(path, sch.enum[s.selectedIndex]); changed(); } },
      sch.enum.map(v => el("option", { text: String(v) })));
    s.selectedIndex = Math.max(0, sch.enum.indexOf(val));
    ctl.append(s);
  } else if (sch.type === "boolean") {
    const c = el("input", { type: "checkbox", id, checked: !!val, onchange: () => { setAt(path, c.checked); changed(); } });
    ctl.append(el("label", { class: "check" }, c, "on"));
  } else if (sch.type === "number" || sch.type === "integer") {
    const i = el("input", { type: "text", id, inputmode: "decimal", value: val === undefined ? "" : String(val), autocomplete: "off",
      oninput: () => { setAt(path, parseNumberInput(i.value, sch.type === "integer")); changed(); } });
    ctl.append(i);
  } else if (sch.type === "string" && key === "MaskFile") {
    maskControl(ctl, wrap, path, id);
  } else if (sch.type === "string") {
    const i = el("input", { type: "text", id, class: "wide", value: val ?? "", autocomplete: "off",
      oninput: () => { setAt(path, i.value); changed(); } });
    ctl.append(i);
  } else if (sch.type === "array" && key === "Directory") {
    dirControl(ctl, () => getAt(path) || [], comps => { setAt(path, comps); changed(); render(); });
  } else if (sch.type === "array" && sch.items && ["number", "integer", "string"].includes(sch.items.type)) {
    const arr = Array.isArray(val) ? val : [];
    const labels = ITEM_LABELS[key] || [];
    arr.forEach((v, j) => {
      const i = el("input", { type: "text", id: j === 0 ? id : undefined, inputmode: sch.items.type === "string" ? undefined : "decimal",
        value: String(v ?? ""), autocomplete: "off", "aria-label": key + " " + (labels[j] || j),
        oninput: () => { arr[j] = sch.items.type === "string" ? i.value : parseNumberInput(i.value, sch.items.type === "integer"); changed(); } });
      ctl.append(el("span", { class: "sub" }, labels[j] ? el("small", { text: labels[j] }) : null, i));
    });
    const min = sch.minItems || 0, max = sch.maxItems === undefined ? Infinity : sch.maxItems;
    if (min !== max) {
      if (arr.length < max) ctl.append(el("button", { class: "icon", type: "button", title: "add a value", text: "+",
        onclick: () => { arr.push(defaultFor(sch.items)); setAt(path, arr); changed(); render(); } }));
      if (arr.length > min) ctl.append(el("button", { class: "icon", type: "button", title: "remove the last value", text: "−",
        onclick: () => { arr.pop(); changed(); render(); } }));
    }
  } else {
    ctl.append(el("code", { text: JSON.stringify(val) }));
  }
  if (unit) ctl.append(el("span", { class: "unit", text: unit }));
  if (!required) ctl.append(el("button", { class: "icon", type: "button", title: "remove " + key + " (optional)", text: "×",
    onclick: () => { setAt(path, undefined); changed(); render(); } }));
  if (sch.description) wrap.append(el("div", { class: "desc", text: sch.description }));
  return wrap;
}

// objectGroup renders the properties of an object schema.
function objectBody(sch, path, box) {
  const obj = getAt(path) || {};
  const req = new Set(sch.required || []);
  const missing = [];
  for (const [k, ps] of Object.entries(sch.properties || {})) {
    if (!(k in obj)) { missing.push(k); continue; }
    if (ps.type === "object") box.append(group(k, ps, [...path, k], req.has(k)));
    else if (ps.type === "array" && ps.items && ps.items.type === "object") box.append(arrayOfObjects(k, ps, [...path, k]));
    else box.append(field(k, ps, [...path, k], req.has(k)));
  }
  if (missing.length) {
    box.append(el("div", { class: "add-row" }, el("span", { class: "muted", text: "add:" }), missing.map(k =>
      el("button", { class: "small", type: "button", title: (sch.properties[k].description || "") + (req.has(k) ? " (required)" : " (optional)"),
        text: "+ " + k + (req.has(k) ? " *" : ""),
        onclick: () => {
          setAt([...path, k], defaultFor(sch.properties[k]));
          if (k === "Masks") state.masks = [];
          changed(); render();
        } }))));
  }
}

function group(key, sch, path, required) {
  const box = el("fieldset", { class: "group", "data-path": ptr(path) });
  const head = el("div", { class: "g-head" }, el("h3", { text: key }));
  if (!required) head.append(el("span", { class: "spacer" }), el("button", { class: "icon", type: "button", title: "remove " + key + " (optional)", text: "×",
    onclick: () => { setAt(path, undefined); changed(); render(); } }));
  box.append(head);
  if (sch.description) box.append(el("div", { class: "g-desc", text: sch.description }));
  objectBody(sch, path, box);
  return box;
}

function arrayOfObjects(key, sch, path) {
  const arr = getAt(path) || [];
  const box = el("fieldset", { class: "group", "data-path": ptr(path) });
  box.append(el("div", { class: "g-head" }, el("h3", { text: key }),
    el("span", { class: "spacer" }),
    el("button", { class: "small", type: "button", text: key === "Slices" ? "+ Add slice" : "+ Add mask", id: key === "Masks" ? "btn-add-mask" : undefined,
      onclick: () => {
        const item = defaultFor(sch.items);
        if (arr.length) for (const k of Object.keys(arr[arr.length - 1])) if (k !== "MaskFile" && k !== "Name") item[k] = structuredClone(arr[arr.length - 1][k]);
        arr.push(item); setAt(path, arr); changed(); render();
      } })));
  if (sch.description) box.append(el("div", { class: "g-desc", text: sch.description }));
  const list = el("div", { class: "masks" });
  arr.forEach((_, i) => {
    const card = el("div", { class: "mask-card", "data-path": ptr([...path, i]) });
    card.append(el("div", { class: "g-head" },
      el("span", { class: "legend-sw", style: null }), el("h3", { text: key === "Slices"
        ? `Slice ${i} · S${((state.cal && state.cal.Masks) || []).length + i}` // its file is _cS<masks + i>
        : `${key === "Masks" ? "Mask" : key} ${i} · R${i}` }),
      el("span", { class: "spacer" }),
      arr.length > (sch.minItems || 0) ? el("button", { class: "small", type: "button", text: "Remove",
        onclick: () => { arr.splice(i, 1); if (key === "Masks") state.masks.splice(i, 1); changed(); render(); } }) : null));
    card.firstChild.firstChild.style.background = Chart.COLORS[i % Chart.COLORS.length];
    objectBody(sch.items, [...path, i], card);
    list.append(card);
  });
  box.append(list);
  return box;
}

// maskIndex returns the state.masks index of a MaskFile path.
function maskIndex(path) { return path.length >= 3 && path[0] === "Masks" ? path[1] : 0; }

function imagesize() {
  const g = state.gen === "2.0" ? (state.cal.Geometry || {}) : state.cal;
  const s = g.Imagesize;
  return Array.isArray(s) && s.length === 2 && s.every(Number.isInteger) ? s : null;
}

function maskControl(ctl, wrap, path, id) {
  const i = el("input", { type: "text", id, class: "wide", value: getAt(path) ?? "", autocomplete: "off",
    oninput: () => { setAt(path, i.value); changed(); } });
  const k = maskIndex(path);
  const up = el("input", { type: "file", "data-mask": k, accept: ".msk,.tif,.tiff,.png" });
  up.addEventListener("change", async () => {
    const f = up.files[0];
    if (!f) return;
    const data = await fileBase64(f);
    state.masks[k] = { filename: f.name, data };
    setAt(path, f.name);
    i.value = f.name;
    changed();
    await previewMask(k);
    render();
  });
  ctl.append(i, el("label", { class: "file-btn small", title: "upload the mask file sent with the queue" }, "Upload…", up));
  const m = state.masks[k];
  const th = el("div", { class: "thumb", "data-thumb": k });
  if (m && m.info) {
    const size = imagesize();
    const fits = !size || (size[0] === m.info.rows && size[1] === m.info.cols);
    th.append(el("img", { src: m.info.png, alt: "mask " + k + " (masked pixels red)" }),
      el("div", { class: "info" }, el("div", {}, el("b", { text: m.filename })),
        el("div", { text: `${m.info.rows} × ${m.info.cols} pixels` }),
        el("div", { text: `${m.info.masked.toLocaleString()} masked (${(100 * m.info.masked / (m.info.rows * m.info.cols)).toFixed(1)} %)` }),
        el("div", { text: "masked pixels in red" })));
    wrap.append(th);
  } else if (m && m.error) {
    wrap.append(el("div", { class: "field-error mask-error", text: m.error }));
  } else if (!m) {
    wrap.append(el("div", { class: "desc", text: "No mask file uploaded yet: upload it to start a queue." }));
  }
}

async function previewMask(k) {
  const m = state.masks[k];
  if (!m) return;
  try {
    m.info = await api("/api/mask", { filename: m.filename, data: m.data, imagesize: null });
    m.error = null;
  } catch (e) {
    m.info = null;
    m.error = e.message;
  }
}

function fileBase64(f) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(f);
  });
}

function dirControl(ctl, get, set) {
  const comps = get();
  ctl.append(el("span", { class: "dirpath", text: comps.length ? comps.join(" / ") : "(not set)" }),
    el("button", { class: "small", type: "button", text: "Browse…", title: "pick the folder on the server (listdir)",
      onclick: () => browseDir(comps.filter(c => c !== "."), set) }));
}

function render() {
  const form = $("#cal-form");
  const sch = state.schema[state.gen];
  form.replaceChildren();
  $("#btn-gen2").classList.toggle("on", state.gen === "2.0");
  $("#btn-gen1").classList.toggle("on", state.gen === "0.3.0");
  if (!sch || !state.cal) return;
  // top-level scalars in one group, objects and arrays of objects on their own
  const props = Object.entries(sch.properties);
  const general = el("fieldset", { class: "group", "data-path": "/" }, el("div", { class: "g-head" }, el("h3", { text: state.gen === "2.0" ? "General" : "Calibration" })));
  const req = new Set(sch.required || []);
  const missing = [];
  const later = [];
  for (const [k, ps] of props) {
    if (!(k in state.cal)) { missing.push(k); continue; }
    if (ps.type === "object") later.push(group(k, ps, [k], req.has(k)));
    else if (ps.type === "array" && ps.items && ps.items.type === "object") later.push(arrayOfObjects(k, ps, [k]));
    else general.append(field(k, ps, [k], req.has(k)));
  }
  if (state.gen === "0.3.0") {
    const w = el("div", { class: "field", "data-path": "#queue-dir" }, el("label", { text: "Queue folder" }), el("div", { class: "ctl" }));
    dirControl(w.lastChild, () => state.flatDir, comps => { state.flatDir = comps; render(); });
    w.append(el("div", { class: "desc", text: "Sent with new (the 0.3.0 calibration has no Directory)" }));
    general.append(w);
  }
  if (missing.length) general.append(el("div", { class: "add-row" }, el("span", { class: "muted", text: "add:" }), missing.map(k =>
    el("button", { class: "small", type: "button", text: "+ " + k + (req.has(k) ? " *" : ""), title: sch.properties[k].description || "",
      onclick: () => { state.cal[k] = defaultFor(sch.properties[k]); changed(); render(); } }))));
  form.append(general, ...later);
  showErrors();
}

let validateTimer = null;
function validateSoon() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validate, 120);
}

async function validate() {
  if (!state.cal) return;
  const seq = ++state.validating;
  let v;
  try {
    v = await api("/api/validate", JSON.stringify(state.cal));
  } catch (e) {
    return;
  }
  if (seq !== state.validating) return; // a newer edit is being checked
  state.errors = v.ok ? [] : v.errors;
  showErrors();
}

// showErrors puts each error at the field of its JSON path (or the
// nearest enclosing group).
function showErrors() {
  for (const e of document.querySelectorAll("#cal-form .field-error:not(.mask-error)")) e.remove();
  for (const e of document.querySelectorAll("#cal-form .invalid")) e.classList.remove("invalid");
  const rootErrs = [];
  const all = state.errors.concat(maskFitErrors());
  for (const er of all) {
    let p = er.path || "/";
    let target = null;
    while (true) {
      target = document.querySelector(`#cal-form [data-path="${CSS.escape(p)}"]`);
      if (target || p === "/" || p === "") break;
      p = p.slice(0, p.lastIndexOf("/")) || "/";
    }
    if (!target || p === "/") { rootErrs.push(er.msg); continue; }
    target.classList.add("invalid");
    const msg = el("div", { class: "field-error", role: "alert", text: er.msg });
    if (target.classList.contains("field")) target.append(msg);
    else target.insertBefore(msg, target.children[1] || null);
  }
  const root = $("#cal-root-error");
  root.hidden = rootErrs.length === 0;
  root.textContent = rootErrs.join("; ");
  const n = all.length;
  const v = $("#cal-valid");
  v.className = "valid " + (n ? "bad" : "ok");
  v.textContent = n ? `${n} problem${n > 1 ? "s" : ""}` : "✓ valid " + state.gen;
  $("#cal-badge").textContent = n ? String(n) : "";
}

// maskFitErrors returns an error at MaskFile for each uploaded mask whose
// size is not the detector's (Imagesize).
function maskFitErrors() {
  const size = imagesize();
  const out = [];
  if (!size || !state.cal) return out;
  state.masks.forEach((m, i) => {
    if (!m || !m.info || (m.info.rows === size[0] && m.info.cols === size[1])) return;
    out.push({ path: state.gen === "2.0" ? `/Masks/${i}/MaskFile` : "/MaskFile",
      msg: `The mask ${m.filename} is ${m.info.rows} × ${m.info.cols} pixels (rows × columns) but the detector (Imagesize) is ${size[0]} × ${size[1]}: it does not fit.` });
  });
  return out;
}

// ---------- loading calibrations ----------

function generationOf(cal) { return ("Geometry" in cal || "Masks" in cal) ? "2.0" : "0.3.0"; }

async function loadCalibration(cal, name, masks) {
  state.pristine = false;
  if (!cal || typeof cal !== "object" || Array.isArray(cal)) throw new Error("not a calibration (a JSON object)");
  state.gen = generationOf(cal);
  await ensureSchema(state.gen);
  state.cal = cal;
  state.fileName = name || state.fileName;
  state.modified = false;
  state.masks = masks || [];
  state.errors = [];
  updateFileLabel();
  await Promise.all(state.masks.map((m, i) => m && !m.info ? previewMask(i) : null));
  render();
  await validate();
}

async function ensureSchema(gen) {
  if (!state.schema[gen]) state.schema[gen] = await api("/api/schema/" + gen);
}

async function newCalibration(gen, quiet) {
  const cal = await api("/api/defaults/" + (gen || state.gen));
  await loadCalibration(cal, "calibration.json", []);
  if (!quiet) toast("New calibration from the schema defaults");
}

function openFile() { $("#open-file").click(); }

async function openChosen(f) {
  try {
    const text = await f.text();
    let cal;
    try { cal = JSON.parse(text); } catch (e) { throw new Error("not JSON: " + e.message); }
    await loadCalibration(cal, f.name, []);
    toast(`Opened ${f.name}` + (state.errors.length ? ` (${state.errors.length} problems)` : "") + ". Upload the mask files.");
  } catch (e) {
    toast(f.name + ": " + e.message, "err");
  }
}

function saveFile() {
  if (!state.cal) return;
  const text = JSON.stringify(state.cal, null, 4) + "\n";
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: state.fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  state.modified = false;
  updateFileLabel();
  toast("Saved " + state.fileName + (state.errors.length ? " (it still has problems)" : ""));
}

function importDialog() {
  $("#import-error").hidden = true;
  $("#dlg-import").showModal();
  $("#import-text").focus();
}

async function doImport() {
  const text = $("#import-text").value;
  try {
    const r = await api("/api/fit2d", { text, calibration: state.cal, generation: state.gen });
    $("#dlg-import").close();
    await loadCalibration(r.calibration, state.fileName, state.masks);
    state.modified = true;
    updateFileLabel();
    const found = r.found || [], missing = r.missing || [];
    toast(`Imported from fit2d: ${found.join(", ")}` + (missing.length ? `; not in the text: ${missing.join(", ")}` : ""), "ok", 6000);
  } catch (e) {
    const er = $("#import-error");
    er.textContent = e.message;
    er.hidden = false;
  }
}

async function takeServer(quiet) {
  try {
    const rep = await command("get");
    if (rep.result !== "cal") { if (!quiet) toast("The server runs no queue: nothing to take", "err"); return; }
    const atts = (rep.data.attachments || []).map(a => ({ filename: (a.filename || "mask").split(/[\\/]/).pop(), data: a.data }));
    await loadCalibration(rep.data.cal, (state.servers[state.server] || {}).name + "-calibration.json", atts);
    $("#banner").hidden = true;
    toast("Loaded the server's calibration and " + atts.length + " mask" + (atts.length === 1 ? "" : "s"), "ok");
    if (!quiet) showTab("calibration");
  } catch (e) {
    toast("get: " + e.message, "err");
  }
}

async function switchGen(gen) {
  if (gen === state.gen || !state.cal) return;
  try {
    const r = await api("/api/convert/" + gen, JSON.stringify(state.cal));
    const masks = state.gen === "2.0" ? state.masks.slice(0, 1) : state.masks;
    if (gen === "0.3.0" && state.cal.Directory) state.flatDir = state.cal.Directory;
    const dir = state.flatDir;
    await loadCalibration(r.calibration, state.fileName, masks);
    if (gen === "2.0" && !r.calibration.Directory) { state.cal.Directory = dir; render(); }
    state.modified = true; updateFileLabel();
    if (r.notes && r.notes.length) toast(r.notes.join("; "), "", 8000);
  } catch (e) {
    toast("Convert to " + gen + ": " + e.message, "err");
  }
}

// ---------- remote folder browser ----------

function browseDir(start, set) {
  const d = $("#dlg-dir");
  let comps = start.slice();
  const go = async c => {
    comps = c;
    const crumbs = $("#dir-crumbs");
    crumbs.replaceChildren(el("button", { type: "button", class: "small", text: "SERVERDIR", onclick: () => go([]) }),
      ...comps.map((x, i) => [el("span", { text: "/" }), el("button", { type: "button", class: "small", text: x, onclick: () => go(comps.slice(0, i + 1)) })]).flat());
    const list = $("#dir-list");
    list.replaceChildren(el("li", { class: "muted", text: "loading…" }));
    $("#dir-error").hidden = true;
    try {
      const rep = await command("listdir", { directory: comps });
      const items = (rep.data.dircontent || []).slice().sort((a, b) => (b.isdir - a.isdir) || a.path.localeCompare(b.path));
      list.replaceChildren(...(comps.length ? [el("li", { class: "dir", text: "⬑ ..", onclick: () => go(comps.slice(0, -1)) })] : []),
        ...items.map(it => it.isdir
          ? el("li", { class: "dir", text: "📁 " + it.path, onclick: () => go([...comps, it.path]) })
          : el("li", { class: "file", text: it.path })));
      if (!items.length) list.append(el("li", { class: "muted", text: "(empty folder)" }));
    } catch (e) {
      list.replaceChildren();
      $("#dir-error").textContent = e.message;
      $("#dir-error").hidden = false;
    }
  };
  $("#dir-choose").onclick = ev => { ev.preventDefault(); d.close(); set(comps.length ? comps : ["."]); };
  go(comps);
  d.showModal();
}

// ---------- queue ----------

async function startQueue() {
  if (!state.cal) return;
  await validate();
  const problems = state.errors.length + maskFitErrors().length;
  if (problems) { toast("Fix the calibration first (" + problems + " problem" + (problems > 1 ? "s" : "") + ")", "err"); showTab("calibration"); return; }
  const n = state.gen === "2.0" ? (state.cal.Masks || []).length : 1;
  for (let i = 0; i < n; i++) {
    if (!state.masks[i] || !state.masks[i].data) { toast(`Upload the mask file of mask ${i} first`, "err"); showTab("calibration"); return; }
  }
  const restart = state.status && state.status.queue;
  if (restart && !await confirmDialog("Restart the queue?", "The running queue is aborted and a new one starts with this calibration; its counters restart.", "Restart")) return;
  const body = { calibration: state.cal, masks: state.masks.slice(0, n).map(m => ({ filename: m.filename, data: m.data })) };
  if (state.gen === "0.3.0") body.directory = state.flatDir;
  state.expectOwnStart = true;
  try {
    await command("new", body);
    state.view = null;
    state.plot = null;
    toast(restart ? "Queue restarted with the changed calibration" : "Queue started", "ok");
    showTab("live");
  } catch (e) {
    state.expectOwnStart = false;
    const errs = e.data && e.data.errors;
    if (errs) { state.errors = errs; showErrors(); }
    toast("new: " + e.message, "err", 10000);
  }
}

async function queueCommand(cmd, title, text, label) {
  if (title && !await confirmDialog(title, text, label)) return;
  try {
    const rep = await command(cmd);
    toast(rep.result, "ok");
  } catch (e) {
    toast(cmd + ": " + e.message, "err");
  }
}

// ---------- consolidate ----------

const mergeTemplate = {
  TimeOffset: 0,
  LogDataTables: [
    { TimeEpoch: "Mac", TimeOffset: 0, FirstImageCorrelation: true, ZeroImageCorrelation: false, Name: "Peak", Files: [{ LocalPath: "peakinteg.log" }] },
    { TimeEpoch: "Mac", TimeOffset: 0, FirstImageCorrelation: false, ZeroImageCorrelation: false, Name: "Dlogger", Files: [{ LocalPath: "datalogger.log" }] },
  ],
  OutputFormats: { csv: true, hdf: false, exel: false, json: false },
  OutputFileBaseName: "../results/merged",
  HDFOptions: { IncludeCHI: false, IncludeTIF: false },
};
state.mergeLogs = [];

function mergeError(msg) {
  $("#merge-error").textContent = msg || "";
  $("#merge-error").hidden = !msg;
}

// The original leash's checks: correlation only with the shutter table, one kind.
function mergeCheck(conf) {
  for (const t of conf.LogDataTables || []) {
    if (t.FirstImageCorrelation && t.ZeroImageCorrelation) return "Zero image and first image correlation exclude each other: choose one.";
    if ((t.FirstImageCorrelation || t.ZeroImageCorrelation) && t.Name !== "Peak") return "Image correlation only makes sense with the Peak (shutter) table.";
  }
  return "";
}

async function startMerge() {
  let conf;
  try { conf = JSON.parse($("#merge-conf").value); } catch (e) { mergeError("Not JSON: " + e.message); return; }
  const bad = mergeCheck(conf);
  if (bad) { mergeError(bad); return; }
  mergeError("");
  try {
    const rep = await command("mergedata", { mergeconf: conf, logs: state.mergeLogs });
    $("#merge-result").textContent = "Merge started (" + rep.result + ").";
    toast("Merge started", "ok");
  } catch (e) {
    mergeError(e.message);
  }
}

async function showMergeResult() {
  try {
    const rep = await command("getmergedata");
    const d = rep.data || {};
    if (rep.result === "Empty") { $("#merge-result").textContent = "No merge yet."; return; }
    const sp = d.syncplot || {};
    const lines = ["Calculated time shift: " + sp.CalculatedTimeshift,
      "Images: " + Object.keys(sp.Images || {}).length + ", shutter entries: " + Object.keys(sp.Shutter || {}).length];
    for (const [k, v] of Object.entries(d.fileslist || {})) lines.push(k + ": " + v.length + " files");
    $("#merge-result").textContent = lines.join("\n");
  } catch (e) {
    mergeError(e.message);
  }
}

// ---------- calibrate (the geometry from a calibrant frame) ----------

state.calib = { calibrants: [], file: null, result: null, busy: false };

async function loadCalibrants() {
  try {
    state.calib.calibrants = await api("/api/calibrants");
  } catch (e) {
    toast("Calibrants: " + e.message, "err");
    return;
  }
  const sel = $("#calib-calibrant");
  sel.replaceChildren(...state.calib.calibrants.map(c => el("option", { value: c.name, text: c.name })),
    el("option", { value: "", text: "custom d-spacings…" }));
  calibrantChanged();
}

function calibrantChanged() {
  const name = $("#calib-calibrant").value;
  const c = state.calib.calibrants.find(x => x.name === name);
  $("#calib-custom").hidden = name !== "";
  $("#calib-calibrant-source").textContent = c ? `${c.source}; ${c.n} spacings from ${+c.dmax.toFixed(4)} Å` : "d-spacings in Å, one per line";
}

// calibPrefill copies the wavelength and the pixel size of the
// calibration being edited into the fields the user has not typed in, and
// offers the editor's first mask.
function calibPrefill() {
  if (state.cal) {
    const g = state.gen === "2.0" ? (state.cal.Geometry || {}) : state.cal;
    const px = Array.isArray(g.PixelSizeMicroM) ? g.PixelSizeMicroM[0] : undefined;
    for (const [id, v] of [["#calib-wavelength", state.cal.Wavelength], ["#calib-pixel", px]]) {
      const i = $(id);
      if (!i.dataset.user && typeof v === "number") i.value = String(v);
    }
  }
  const m = state.masks[0];
  const box = $("#calib-mask");
  const has = !!(m && m.data);
  box.disabled = !has;
  if (!has) box.checked = false;
  else if (box.dataset.file !== m.filename) box.checked = true; // a new mask: used unless unticked
  box.dataset.file = has ? m.filename : "";
  $("#calib-mask-label").textContent = has ? `use the editor's mask ${m.filename}` : "use the editor's mask (none uploaded)";
}

// calibNumber reads an optional number field: null when empty.
function calibNumber(id, what) {
  const t = $(id).value.trim();
  if (t === "") return null;
  const v = parseNumberInput(t);
  if (typeof v !== "number" || !isFinite(v)) throw new Error(`${what}: “${t}” is not a number`);
  return v;
}

function calibError(msg) {
  $("#calib-error").textContent = msg || "";
  $("#calib-error").hidden = !msg;
}

function calibBusy(on) {
  state.calib.busy = on;
  const b = $("#btn-calibrate");
  b.disabled = on;
  b.classList.toggle("busy", on);
  b.textContent = on ? "Calibrating…" : "Run calibration";
  $("#tab-calibrate").setAttribute("aria-busy", on ? "true" : "false");
}

async function runCalibration() {
  if (state.calib.busy) return;
  calibError("");
  const f = state.calib.file;
  if (!f) { calibError("Choose the calibrant frame first."); return; }
  let body;
  try {
    body = { frame: { filename: f.name }, calibrant: $("#calib-calibrant").value,
      wavelength: calibNumber("#calib-wavelength", "Wavelength") || 0,
      pixelSize: calibNumber("#calib-pixel", "Pixel size") || 0,
      distanceMM: calibNumber("#calib-distance", "Start distance") || 0,
      refineWavelength: $("#calib-refine-wl").checked };
    const cy = calibNumber("#calib-cy", "Start beam centre y"), cx = calibNumber("#calib-cx", "Start beam centre x");
    if ((cy === null) !== (cx === null)) throw new Error("Start beam centre: give both y and x, or neither");
    if (cy !== null) body.beamCenter = [cy, cx];
    if (body.calibrant === "") {
      body.dspacings = $("#calib-dspacings").value;
      body.dspacingsName = state.calib.dfile || "custom d-spacings";
      if (!body.dspacings.trim()) throw new Error("Give the d-spacings (Å, one per line) or pick a calibrant.");
    }
  } catch (e) {
    calibError(e.message);
    return;
  }
  calibBusy(true);
  try {
    body.frame.data = await fileBase64(f);
    const m = state.masks[0];
    if ($("#calib-mask").checked && m && m.data) body.mask = { filename: m.filename, data: m.data };
    const r = await api("/api/calibrate", body);
    state.calib.result = r;
    showCalibration(r);
    toast(`Calibrated: ${r.rings.length} rings, ${r.points} control points`, "ok");
  } catch (e) {
    calibError(e.message);
  } finally {
    calibBusy(false);
  }
}

// fmtVal formats v with the decimals its uncertainty s asks for (two
// significant digits of s), or d decimals without one.
function fmtVal(v, s, d) {
  if (v === null || v === undefined) return "–";
  if (s > 0) d = Math.min(8, Math.max(0, 1 - Math.floor(Math.log10(s))));
  return v.toFixed(d);
}
function fmtSigma(s, v) {
  if (s === null || s === undefined) return "undefined";
  if (s === 0) return "fixed";
  return s.toPrecision(2);
}

function showCalibration(r) {
  const g = r.geometry, s = r.sigma;
  $("#calib-empty").hidden = true;
  $("#calib-out").hidden = false;
  $("#calib-plot").src = r.png;
  $("#calib-summary").textContent = `${r.frame}, ${r.calibrant}: ${r.rings.length} rings, ${r.points} control points, RMS Δ2θ ${r.rmsDeg.toExponential(2)}°, ${r.seconds.toFixed(2)} s`;
  const rows = [
    ["Distance", g.DedectorDistanceMM, s.distanceMM, "mm", 3],
    ["Beam centre y (from the bottom)", g.BeamCenter[0], s.beamCenter[0], "px", 3],
    ["Beam centre x", g.BeamCenter[1], s.beamCenter[1], "px", 3],
    ["Tilt", g.Tilt.TiltAngleDeg, s.tiltAngleDeg, "°", 4],
    ["Tilt plane rotation", g.Tilt.TiltRotDeg, s.tiltRotDeg, "°", 2],
    ["Wavelength", r.wavelength, s.wavelength, "Å", 6],
  ];
  $("#calib-params tbody").replaceChildren(...rows.map(([name, v, sg, unit, d]) => el("tr", { "data-param": name },
    el("td", { text: name }), el("td", { class: "num", text: fmtVal(v, sg, d) + " " + unit }), el("td", { class: "num", text: fmtSigma(sg, v) }))));
  $("#calib-rings tbody").replaceChildren(...r.rings.map(rg => el("tr", {},
    el("td", { class: "num", text: String(rg.ring) }), el("td", { class: "num", text: rg.d.toFixed(4) }),
    el("td", { class: "num", text: rg.twoThetaDeg.toFixed(4) }), el("td", { class: "num", text: String(rg.points) }),
    el("td", { class: "num", text: rg.rmsDeg.toExponential(2) }))),
    el("tr", { class: "total" }, el("td", { text: "all" }), el("td"), el("td"), el("td", { class: "num", text: String(r.points) }),
      el("td", { class: "num", text: r.rmsDeg.toExponential(2) })));
  $("#calib-notes").replaceChildren(...(r.notes || []).map(n => el("li", { text: n })));
  $("#btn-calib-use").disabled = false;
  $("#btn-calib-poni").disabled = false;
}

// useGeometry writes the fitted geometry into the calibration being
// edited (the server keeps its layout and the rest of it) and opens it.
async function useGeometry() {
  const r = state.calib.result;
  if (!r) return;
  try {
    const a = await api("/api/calibrate/apply", { calibration: state.cal, generation: state.gen, geometry: r.geometry, wavelength: r.wavelength });
    await loadCalibration(a.calibration, state.fileName, state.masks);
    state.modified = true;
    updateFileLabel();
    showTab("calibration");
    toast(`Geometry of ${r.frame} written into ${a.start}`, "ok", 6000);
  } catch (e) {
    calibError("Use this geometry: " + e.message);
  }
}

function downloadPoni() {
  const r = state.calib.result;
  if (!r) return;
  const a = el("a", { href: URL.createObjectURL(new Blob([r.poni], { type: "text/plain" })), download: r.frame.replace(/\.[^.]*$/, "") + ".poni" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function wireCalibrate() {
  $("#calib-calibrant").addEventListener("change", calibrantChanged);
  $("#calib-file").addEventListener("change", e => {
    const f = e.target.files[0];
    state.calib.file = f || null;
    $("#calib-file-name").textContent = f ? `${f.name} (${(f.size / 1048576).toFixed(1)} MB)` : "none";
    calibError("");
  });
  $("#calib-dfile").addEventListener("change", async e => {
    const f = e.target.files[0];
    if (!f) return;
    $("#calib-dspacings").value = await f.text();
    state.calib.dfile = f.name;
  });
  for (const id of ["#calib-wavelength", "#calib-pixel"]) $(id).addEventListener("input", e => { e.target.dataset.user = "1"; });
  $("#btn-calibrate").addEventListener("click", runCalibration);
  $("#btn-calib-use").addEventListener("click", useGeometry);
  $("#btn-calib-poni").addEventListener("click", downloadPoni);
  $("#calib-plot").addEventListener("click", e => e.target.classList.toggle("actual"));
}

// ---------- wiring ----------

function wire() {
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#server-select").addEventListener("change", e => selectServer(Number(e.target.value)));
  $("#btn-refresh-servers").addEventListener("click", refreshServers);
  $("#merge-conf").value = JSON.stringify(mergeTemplate, null, 2);
  wireCalibrate();
  $("#btn-merge").addEventListener("click", startMerge);
  $("#btn-merge-result").addEventListener("click", showMergeResult);
  $("#merge-logs").addEventListener("change", async e => {
    state.mergeLogs = await Promise.all([...e.target.files].map(async f => ({ filename: f.name, data: await f.text() })));
    $("#merge-attached").textContent = state.mergeLogs.map(l => l.filename).join(", ");
  });
  $("#btn-new").addEventListener("click", () => newCalibration());
  $("#btn-open").addEventListener("click", openFile);
  $("#open-file").addEventListener("change", e => { const f = e.target.files[0]; e.target.value = ""; if (f) openChosen(f); });
  $("#btn-save").addEventListener("click", saveFile);
  $("#btn-import").addEventListener("click", importDialog);
  $("#import-go").addEventListener("click", ev => { ev.preventDefault(); doImport(); });
  $("#import-file").addEventListener("change", async e => { const f = e.target.files[0]; if (f) $("#import-text").value = await f.text(); });
  $("#btn-take").addEventListener("click", takeServer);
  $("#btn-gen2").addEventListener("click", () => switchGen("2.0"));
  $("#btn-gen1").addEventListener("click", () => switchGen("0.3.0"));
  $("#btn-start").addEventListener("click", startQueue);
  $("#btn-readdir").addEventListener("click", () => queueCommand("readdir", "Redo all frames?", "The server forgets its history and processes every frame of the queue folder again.", "Redo all"));
  $("#btn-close").addEventListener("click", () => queueCommand("close", "Close the queue?", "The server stops taking frames from the feeder; the frames already queued are finished.", "Close"));
  $("#btn-abort").addEventListener("click", () => queueCommand("abort", "Abort the queue?", "The queue stops now; frames still waiting are not processed.", "Abort queue"));
  $("#banner-load").addEventListener("click", takeServer);
  $("#banner-dismiss").addEventListener("click", () => { $("#banner").hidden = true; });
  $("#logy").addEventListener("change", () => { state.view = null; scheduleDraw(true); });
  $("#band").addEventListener("change", () => scheduleDraw(true));
  $("#btn-zoom-reset").addEventListener("click", () => { state.view = null; scheduleDraw(true); });
  const cv = $("#curve-canvas");
  Chart.zoomable(cv, v => { state.view = v; scheduleDraw(true); });
  cv.addEventListener("redraw", drawLive);
  window.addEventListener("resize", () => scheduleDraw(true));
  document.addEventListener("keydown", e => {
    const mod = e.ctrlKey || e.metaKey;
    if (mod && !e.shiftKey && !e.altKey) {
      const k = e.key.toLowerCase();
      if (k === "o") { e.preventDefault(); showTab("calibration"); openFile(); }
      else if (k === "s") { e.preventDefault(); saveFile(); }
      else if (k === "i") { e.preventDefault(); showTab("calibration"); importDialog(); }
    } else if (e.altKey && !mod && /^[1-6]$/.test(e.key)) {
      e.preventDefault();
      showTab(["servers", "calibration", "live", "history", "consolidate", "calibrate"][Number(e.key) - 1]);
    }
  });
  window.addEventListener("beforeunload", e => { if (state.modified) e.preventDefault(); });
}

async function main() {
  wire();
  showTab("calibration");
  await Promise.all([ensureSchema("2.0"), refreshServers(), loadCalibrants()]);
  await newCalibration("2.0", true);
  state.modified = false;
  state.pristine = true; // the defaults, untouched: the server's calibration may replace them
  updateFileLabel();
  connectEvents();
}

main().catch(e => toast(e.message, "err"));
