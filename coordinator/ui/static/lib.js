// Shared helpers of the Web UI: element building (text only, never HTML
// from data), API calls whose errors carry the API's own sentence, short
// hashes with copy, amounts with units, and the live event stream.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") {
      // through the CSSOM: the page's CSP refuses style attributes
      for (const decl of String(v).split(";")) {
        const i = decl.indexOf(":");
        if (i > 0) el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
      }
    }
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

export const DASH = "—";

// ApiError is an API's refusal: its sentence, code and HTTP status.
export class ApiError extends Error {
  constructor(message, code, status) { super(message); this.code = code; this.status = status; }
}

export async function api(path, opts) {
  const text = await apiText(path, opts);
  return text ? JSON.parse(text) : null;
}

// apiText is api() answering the body as sent (a proof is checked byte
// for byte in its canonical form).
export async function apiText(path, opts) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: "application/json" }, ...opts });
  } catch (e) {
    throw new ApiError(`the API at ${location.origin} is not reachable (${e.message})`, "unreachable", 0);
  }
  const text = await res.text();
  if (!res.ok) {
    let body = null;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    const msg = body && typeof body.error === "string" ? body.error : `${res.status} ${res.statusText} from ${path}`;
    throw new ApiError(msg, body && body.code, res.status);
  }
  return text;
}

// maybe is api() that answers null for a 404 (a thing that is not there yet).
export async function maybe(path) {
  try { return await api(path); } catch (e) { if (e.status === 404) return null; throw e; }
}

export function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e));
}

export function short(v, n = 6) {
  const s = String(v);
  if (s.length <= 2 * n + 4) return s;
  return `${s.slice(0, n + 2)}…${s.slice(-n)}`;
}

// hash shows v short, the full value on hover and to screen readers, a copy
// button, and a link when href is given.
export function hash(v, href) {
  if (v === undefined || v === null || v === "") return DASH;
  const s = String(v);
  const label = href ? h("a", { href, class: "hash", title: s, "aria-label": s }, short(s)) : h("span", { class: "hash", title: s, "aria-label": s }, short(s));
  const btn = h("button", { type: "button", class: "copy", title: `copy ${s}`, "aria-label": `copy ${s}` }, "copy");
  btn.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(s); btn.textContent = "copied"; } catch { btn.textContent = "!"; }
    setTimeout(() => { btn.textContent = "copy"; }, 1200);
  });
  return h("span", { class: "hashwrap" }, label, btn);
}

const grouped = (s) => String(s).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

// amount shows an integer amount (a decimal string) with its unit.
export function amount(v, unit = "VSC") {
  if (v === undefined || v === null || v === "") return DASH;
  return `${grouped(v)} ${unit}`;
}

export function badge(s) { return s ? h("span", { class: `badge ${s}` }, s) : DASH; }

export function when(t) {
  if (!t) return DASH;
  const d = typeof t === "number" ? new Date(t) : new Date(t);
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

export function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(Boolean).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? DASH)]));
}

export function table(cols, rows, opts = {}) {
  return h("table", { class: "wide" },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", opts.id ? { id: opts.id } : {}, rows.length ? rows.map((r) => row(cols, r)) : h("tr", {}, h("td", { colspan: cols.length, class: "muted" }, opts.empty || "none yet"))));
}

export function row(cols, cells, attrs) {
  return h("tr", attrs || {}, cells.map((c, i) => h("td", { "data-label": cols[i] }, c ?? DASH)));
}

export function card(title, ...body) {
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), ...body);
}

// A pager for cursor-paginated lists: load(cursor) renders a page and
// returns its "next".
export function pager(load) {
  const more = h("button", { type: "button" }, "Next page");
  const first = h("button", { type: "button", disabled: true }, "First page");
  const stack = [];
  let cur = "";
  const go = async (cursor) => {
    more.disabled = first.disabled = true;
    const next = await load(cursor);
    cur = cursor;
    more.disabled = !next; first.disabled = !cursor;
    more.onclick = () => { stack.push(cur); go(next); };
  };
  first.onclick = () => { stack.length = 0; go(""); };
  go("");
  return h("div", { class: "pager" }, first, more);
}

// Live events: one EventSource for the page, shared by the views.
const listeners = new Map(); // topic → Set(fn)
let source = null;
export function onEvent(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  connect();
  return () => listeners.get(topic).delete(fn);
}
export function clearEvents() { listeners.clear(); }

function connect() {
  if (source) return;
  const live = document.getElementById("live");
  source = new EventSource("/v1/events?topic=submissions,blocks,dats,claims,jobs");
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  for (const t of ["submissions", "blocks", "dats", "claims", "jobs"]) {
    source.addEventListener(t, (ev) => {
      let data; try { data = JSON.parse(ev.data); } catch { return; }
      for (const fn of listeners.get(t) || []) fn(data);
    });
  }
  for (const t of ["lagged", "shutdown"]) {
    source.addEventListener(t, () => {
      live.textContent = t === "lagged" ? "fell behind: reloading" : "server stopped";
      live.className = "live off";
      source.close(); source = null;
      if (t === "lagged") setTimeout(() => { connect(); }, 500);
    });
  }
}
