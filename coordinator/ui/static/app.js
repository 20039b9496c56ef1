// The Web UI's router and pages. Every page reads the coordinator's API
// (/v1/…) and the chain's (/v1/chain/…) and follows /v1/events; the submit
// page is submit.js. Paths are CONTRACT.md's "Web UI".
import { h, api, apiText, maybe, errorBox, hash, amount, badge, when, kv, table, row, card, pager, onEvent, clearEvents, DASH } from "./lib.js";
import { verifyInclusion } from "./proof.js";
import { jobPage, queryCard } from "./query.js";
import { buyCard, depositForm } from "./wallet.js";

const main = document.getElementById("main");
const ADDR = /^0x[0-9a-fA-F]{40}$/;

const routes = [
  [/^\/$/, home],
  [/^\/submissions$/, allSubmissions],
  [/^\/submissions\/([^/]+)$/, submissionPage],
  [/^\/idaos\/([^/]+)$/, idaoPage],
  [/^\/dat\/([^/]+)$/, classPage],
  [/^\/tokens\/([^/]+)$/, tokenPage],
  [/^\/accounts\/([^/]+)$/, accountPage],
  [/^\/claims\/open$/, claimsPage],
  [/^\/claims\/([^/]+)$/, claimPage],
  [/^\/blocks\/latest$/, blocksPage],
  [/^\/blocks\/([^/]+)$/, blockPage],
  [/^\/txs\/([^/]+)$/, txPage],
  [/^\/jobs\/([^/]+)$/, jobPage],
  [/^\/submit$/, async () => (await import("./submit.js")).submitPage()],
  [/^\/search$/, searchPage],
];

async function render() {
  clearEvents();
  onEvent("blocks", () => {}); // every page is live: the header's indicator shows the stream
  const path = location.pathname.replace(/\/+$/, "") || "/";
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    try {
      const view = await page(...m.slice(1).map(decodeURIComponent));
      if (view && view.redirect) { history.replaceState(null, "", view.redirect); return render(); }
      main.replaceChildren(...[view].flat());
    } catch (e) {
      main.replaceChildren(h("h1", {}, "Could not load this page"), errorBox(e));
    }
    return;
  }
  main.replaceChildren(h("h1", {}, "No such page"), h("p", {}, "Try the search box, or go ", h("a", { href: "/" }, "home"), "."));
}

export function go(path) { history.pushState(null, "", path); render(); window.scrollTo(0, 0); main.focus({ preventScroll: true }); }

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[href]");
  if (!a || a.target || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/v1/") || url.pathname.endsWith(".json")) return;
  ev.preventDefault();
  go(url.pathname + url.search);
});
window.addEventListener("popstate", render);
document.getElementById("search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("q").value.trim();
  if (q) go(`/search?q=${encodeURIComponent(q)}`);
});

// ---- home -------------------------------------------------------------

async function home() {
  const [head, subs, daos, claims] = await Promise.all([
    maybe("/v1/chain/head"), api("/v1/submissions?limit=20"), api("/v1/idaos?limit=20"), maybe("/v1/chain/claims?open=true&limit=10"),
  ]);
  const headEl = h("b", { id: "head-height" }, head ? head.height : DASH);
  const rateEl = h("b", { id: "per-minute" }, "0");
  const arrivals = subs.submissions.map((s) => Date.parse(s.created_at));
  const rate = () => { const now = Date.now(); rateEl.textContent = String(arrivals.filter((t) => now - t < 60000).length); };
  rate();
  const timer = setInterval(() => { if (!document.body.contains(rateEl)) clearInterval(timer); else rate(); }, 5000);

  const cols = ["submission", "status", "iDAO", "records", "created"];
  const rows = new Map();
  const tbody = h("tbody", { id: "recent-submissions" });
  const put = (s, top) => {
    const tr = row(cols, [hash(s.id, `/submissions/${s.id}`), badge(s.status), s.idao, s.records ?? DASH, when(s.created_at || s.at)], { "data-id": s.id });
    const old = rows.get(s.id);
    if (old) old.replaceWith(tr); else if (top) tbody.prepend(tr); else tbody.append(tr);
    rows.set(s.id, tr);
    while (tbody.children.length > 20) { const last = tbody.lastElementChild; rows.delete(last.dataset.id); last.remove(); }
  };
  subs.submissions.forEach((s) => put(s, false));

  const dats = h("ul", { id: "recent-dats" });
  const shown = new Set();
  const addDat = (cls, sub) => {
    if (shown.has(cls)) return;
    shown.add(cls);
    dats.prepend(h("li", { "data-class": cls }, hash(cls, `/dat/${cls}`), " from ", hash(sub, `/submissions/${sub}`)));
    while (dats.children.length > 10) dats.lastElementChild.remove();
  };
  subs.submissions.filter((s) => s.dat_id).reverse().forEach((s) => addDat(s.dat_id, s.id));

  onEvent("blocks", (b) => { headEl.textContent = b.height; });
  onEvent("submissions", (m) => {
    if (m.status === "received") arrivals.push(Date.parse(m.at));
    const prev = rows.get(m.id);
    put({ id: m.id, status: m.status, idao: m.idao, records: prev ? prev.children[3].textContent : undefined, created_at: m.at }, !prev);
    rate();
  });
  onEvent("dats", (d) => addDat(d.class, d.submission));

  return [
    h("h1", {}, "vsc explorer"),
    h("div", { class: "stats" },
      h("div", { class: "stat" }, "chain head", headEl),
      h("div", { class: "stat" }, "submissions / minute", rateEl),
      h("div", { class: "stat" }, "iDAOs", h("b", {}, daos.idaos.length + (daos.next ? "+" : "")))),
    h("div", { class: "grid" },
      card("Recent submissions", h("table", { class: "wide" }, h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))), tbody),
        h("p", {}, h("a", { href: "/submissions" }, "All submissions"))),
      card("iDAOs", table(["name", "policy", "members", "stake"], daos.idaos.map((d) => [h("a", { href: `/idaos/${d.name}` }, d.name), d.policy, d.members, amount(d.stake)]))),
      card("Recent DATs", dats),
      card("Open claims", claims ? table(["claim", "submission", "status", "window ends"], claims.claims.map((c) => [hash(c.id, `/claims/${c.id}`), hash(c.submission, `/submissions/${c.submission}`), badge(c.status), when(c.window_ends)])) : h("p", { class: "muted" }, "no chain API here"))),
  ];
}

// ---- submissions ------------------------------------------------------

async function submissionPage(id) {
  const wrap = h("div", {});
  const load = async () => {
    const v = await api(`/v1/submissions/${id}`);
    const dao = await maybe(`/v1/idaos/${encodeURIComponent(v.idao)}`);
    wrap.replaceChildren(...submissionView(v, dao));
    return v;
  };
  await load();
  onEvent("submissions", (m) => { if (m.id.toLowerCase() === id.toLowerCase()) load().catch((e) => wrap.prepend(errorBox(e))); });
  return wrap;
}

function submissionView(v, dao) {
  return [
    h("h1", {}, "Submission ", hash(v.id)),
    h("p", {}, "status ", h("span", { id: "status" }, badge(v.status)), v.reason ? h("span", {}, " — ", v.reason) : null),
    h("div", { class: "grid" },
      card("Summary", kv([["iDAO", h("a", { href: `/idaos/${v.idao}` }, v.idao)], ["mode", v.mode], ["class", v.class],
        ["contributor", hash(v.contributor, `/accounts/${v.contributor}`)], ["records", v.records], ["nonce", v.nonce],
        ["data hash", hash(v.data_hash)], ["commitment", hash(v.commitment)], ["result digest", hash(v.result_digest)], ["QC", hash(v.qc_hash)],
        ["DAT", v.dat_id ? h("a", { href: `/dat/${v.dat_id}`, id: "dat-link" }, "DAT class ", hash(v.dat_id)) : DASH]])),
      card("Timeline", h("ol", { class: "timeline" }, (v.history || []).map((e) => h("li", {}, badge(e.status), " ", when(e.at), e.detail ? ` — ${e.detail}` : "")))),
      card("Evidence", evidenceView(v.evidence, v)),
      card("Votes", votesView(v.votes, dao)),
      card("Anchor", anchorView(v.anchor))),
  ];
}

function evidenceView(ev, v) {
  if (!ev.length) return h("p", { class: "muted" }, "no evidence yet");
  return h("div", {}, ev.map((e) => h("div", {},
    h("p", {}, h("b", {}, e.kind), " ", badge(e.status), ` ${e.done}/${e.chunks} chunks`, e.reason ? ` — ${e.reason}` : ""),
    (e.data || []).slice(0, 4).map((d) => evidenceDetail(e, d, v)))));
}

// evidenceDetail says what was verified. TEE: the enclave (backend, key
// address) whose report the coordinator and every member checked against
// the iDAO's TEE policy (evidence is "ok" only then), and whether the
// commitment it recomputed from the plaintext is the signed one (compared
// here). zk: the verifying key and the proven shape (records per chunk ×
// fields), the count proven.
function evidenceDetail(e, d, v) {
  const rows = [];
  if (d && typeof d === "object") {
    if (e.kind === "tee") {
      rows.push(["TEE policy match", e.status === "ok" ? "yes (report checked under the iDAO's policy)" : e.status]);
      if (d.backend) rows.push(["backend", d.backend === "sim" ? "sim (simulated: no hardware protection)" : d.backend]);
      if (d.enclave) rows.push(["enclave", hash(d.enclave)]);
      if (d.commitment) rows.push(["commitment", String(d.commitment).toLowerCase() === String(v.commitment).toLowerCase() ? "matches the signed one" : "DIFFERS from the signed one"]);
      if (d.result_digest) rows.push(["result digest", hash(d.result_digest)]);
    }
    if (d.vk_hash) rows.push(["verifying key", hash(d.vk_hash)]);
    if (d.chunk_size) rows.push(["zk shape", `${d.chunk_size} records × ${(d.sums || []).length} fields per chunk`]);
    if (d.count !== undefined) rows.push(["records proven", d.count]);
    if (d.chunks) rows.push(["chunk proofs", d.chunks.length]);
  }
  return h("details", {}, h("summary", {}, `${e.kind} evidence`), rows.length ? kv(rows) : null, h("pre", {}, JSON.stringify(d, null, 1).slice(0, 4000)));
}

function votesView(votes, dao) {
  const total = dao ? BigInt(dao.stake || "0") : 0n;
  let yes = 0n;
  for (const v of votes) if (v.approve && v.counted) yes += BigInt(v.stake || "0");
  const pct = total > 0n ? Number((yes * 10000n) / total) / 100 : 0;
  const bar = h("div", { class: "bar", role: "progressbar", "aria-label": "approving stake toward two thirds", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) },
    h("span", { style: `width:${Math.min(pct, 100)}%` }), h("i", { class: "mark", style: "left:66.667%", title: "⅔" }));
  return h("div", {},
    h("p", {}, `approving stake ${yes} of ${total} VSC (${pct}%; ⅔ certifies)`), bar,
    table(["member", "stake", "vote", "counted"], votes.map((v) => [hash(v.member, `/accounts/${v.member}`), amount(v.stake), v.approve ? "yes" : `no${v.reason ? ` — ${v.reason}` : ""}`, v.counted ? "yes" : "no"]), { empty: "no votes yet" }));
}

function anchorView(a) {
  if (!a) return h("p", { class: "muted" }, "not anchored yet");
  return h("div", {}, kv([["block", h("a", { href: `/blocks/${a.block}` }, a.block)], ["tx", hash(a.tx, `/txs/${a.tx}`)]]), verifyButton(a.tx, a.block));
}

function verifyButton(tx, height) {
  const out = h("div", { id: "verify-result", "aria-live": "polite" });
  const btn = h("button", { type: "button", class: "primary", id: "verify-inclusion" }, "Verify inclusion");
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, "checking…"));
    try {
      const [raw, block] = await Promise.all([apiText(`/v1/chain/txs/${tx}/proof`), api(`/v1/chain/blocks/${height}`)]);
      out.replaceChildren(h("p", { class: "okbox", id: "verify-merkle" }, await verifyInclusion(tx, JSON.parse(raw), block)));
      out.append(await verifySignature(raw));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    } finally { btn.disabled = false; }
  });
  return h("div", {}, btn, out);
}

// verifySignature runs the CLI's own proof check (chain/proof, in
// vsc.wasm): the header's signature by the sequencer this browser pinned.
async function verifySignature(raw) {
  try {
    const { loadWasm, pinnedSequencer } = await import("./submit.js");
    const seq = await pinnedSequencer();
    const r = (await loadWasm()).verifyProof(raw, seq);
    if (r.error) return errorBox(`the proof does not verify with vsc's own check: ${r.error}`);
    return h("p", { class: "okbox", id: "verify-signature" }, `valid: block ${r.height}'s header is signed by the sequencer ${seq} (pinned in this browser), checked by vsc's proof code in this page`);
  } catch (e) {
    return errorBox(e);
  }
}

// ---- iDAOs, DATs, tokens, accounts -------------------------------------

async function idaoPage(name) {
  const [v, c, enc, provs] = await Promise.all([api(`/v1/idaos/${encodeURIComponent(name)}`), maybe(`/v1/chain/idaos/${encodeURIComponent(name)}`), maybe(`/v1/chain/idaos/${encodeURIComponent(name)}/enclaves`),
    maybe(`/v1/chain/providers?idao=${encodeURIComponent(name)}`)]);
  const pol = c ? c.policy_detail : null;
  return [
    h("h1", {}, `iDAO ${v.name}`),
    h("div", { class: "grid" },
      card("Policy", kv([["policy", v.policy], ["modes", (v.modes || []).join(", ")], ["owner", hash(v.owner, `/accounts/${v.owner}`)], ["stake", amount(v.stake)],
        ["price", pol ? amount(pol.price) : DASH], ["zk shape (verifying key)", pol && pol.vk_hash ? hash(pol.vk_hash) : DASH], ["unstake delay", pol ? `${pol.unstake_delay} blocks` : DASH]]),
        pol && pol.tee_policy ? h("details", {}, h("summary", {}, "TEE policy"), h("pre", {}, JSON.stringify(pol.tee_policy, null, 1))) : null,
        v.policy_config ? h("details", {}, h("summary", {}, "policy config"), h("pre", {}, JSON.stringify(v.policy_config, null, 1))) : null),
      card("Members", table(["member", "stake"], v.members.map((m) => [hash(m.address, `/accounts/${m.address}`), amount(m.stake)]))),
      card("Enclave keys", kv([["named by the coordinator", v.enclave_key ? hash(v.enclave_key.public_key) : DASH],
        ["registered on chain", enc && Array.isArray(enc.enclaves) ? `${enc.enclaves.length} key(s), proven under block ${enc.header ? enc.header.height : DASH}` : DASH],
        ["attestation", v.enclave_key && v.enclave_key.report && v.enclave_key.report.backend ? v.enclave_key.report.backend : DASH]]),
        h("p", { class: "muted" }, "The submit page wraps data keys only to a key the chain proves registered and whose attestation verifies under this policy.")),
      card("Data-service providers", h("div", { id: "providers" }, provs && provs.providers.length
        ? table(["provider", "fee per job", "stake", "enclave", "attested"], provs.providers.map((p) => [hash(p.address, `/accounts/${p.address}`), amount(p.fee), amount(p.stake), hash(p.enclave),
          p.attested ? badge("attested") : h("span", { class: "badge failed" }, "not attested")]))
        : h("p", {}, provs ? "No provider serves this iDAO yet (`vscd worker --serve` registers one)." : DASH)),
        h("p", { class: "muted" }, "A provider is usable only while its enclave's attestation verifies under the iDAO's current TEE policy."))),
  ];
}

async function classPage(id) {
  const [c, usage] = await Promise.all([api(`/v1/chain/dat/classes/${id}`), maybe(`/v1/jobs?class=${encodeURIComponent(id)}&limit=20`)]);
  const p = c.provenance || {};
  const holders = new Map();
  for (const t of c.tokens || []) holders.set(t.owner, (holders.get(t.owner) || 0) + Number(t.shares || 0));
  const tokensEl = h("div", { id: "class-tokens" }, tokensTable(c));
  const usageEl = h("div", { id: "usage" }, usageView(c, usage));
  const q = queryCard(c);
  // a buy on this page: re-read the class (its tokens, the quota left)
  // and list the new token in the query form
  const bought = async (token) => {
    try {
      const nc = await api(`/v1/chain/dat/classes/${id}`);
      tokensEl.replaceChildren(tokensTable(nc));
      usageEl.querySelector("#quota-left").textContent = quotaLeft(nc);
    } catch (e) { tokensEl.append(errorBox(e)); }
    q.tokensChanged(token);
  };
  return [
    h("h1", {}, "DAT class ", hash(c.id)),
    h("div", { class: "grid" },
      card("Provenance", h("div", { id: "provenance" }, kv([["submission", hash(p.submission, `/submissions/${p.submission}`)], ["data hash", hash(p.data_hash)], ["commitment", hash(p.commitment)],
        ["QC", hash(p.qc_hash)], ["anchor tx", hash(p.anchor_tx, `/txs/${p.anchor_tx}`)], ["iDAO", h("a", { href: `/idaos/${c.idao}` }, c.idao)], ["kind", c.kind], ["created", when(c.created_at * 1000)]]))),
      card("Market", kv([["price", `${amount(c.price)} per unit`], ["total shares", `${c.total_shares} shares`], ["revenue pool", amount(c.revenue && c.revenue.pool)],
        ["revenue claimed", amount(c.revenue && c.revenue.claimed)], ["validity", c.validity ? `${c.validity} blocks` : DASH]])),
      card("Tokens", tokensEl),
      card("Holders", table(["holder", "shares"], [...holders].map(([a, s]) => [hash(a, `/accounts/${a}`), `${s} shares`]))),
      card("Usage", usageEl),
      q, await buyCard(c, bought)),
  ];
}

function tokensTable(c) {
  return table(["token", "owner", "units", "shares", "claimable"], (c.tokens || []).map((t) => [hash(t.id, `/tokens/${t.id}`), hash(t.owner, `/accounts/${t.owner}`), `${t.value} units`, `${t.shares} shares`, amount(t.claimable)]));
}

const quotaLeft = (c) => `${(c.tokens || []).reduce((n, t) => n + Number(t.value || 0), 0)} units`;

// usageView is a class's usage: the quota left in its tokens, its
// data-service jobs on this coordinator, newest first (each job spends
// units; a settled job redeemed them on chain), and the chain's dat_redeem
// txs of its tokens, newest first, paged (GET
// /v1/chain/dat/classes/{id}/redeems).
function usageView(c, jobs) {
  const rows = [["quota left in tokens", h("span", { id: "quota-left" }, quotaLeft(c))], ["data-service jobs (this coordinator)", jobs ? `${jobs.jobs.length}${jobs.next ? "+" : ""}` : DASH]];
  const redeems = h("div", { id: "redeems" });
  const load = async (cursor) => {
    const r = await api(`/v1/chain/dat/classes/${c.id}/redeems?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    redeems.replaceChildren(table(["redeem tx", "token", "units", "redeemer", "block"], r.redeems.map((x) => [hash(x.tx, `/txs/${x.tx}`),
      hash(x.token, `/tokens/${x.token}`), `${x.units} units`, hash(x.redeemer, `/accounts/${x.redeemer}`),
      h("span", {}, h("a", { href: `/blocks/${x.block}` }, x.block), " ", when(x.time))]), { empty: "no dat_redeem tx yet" }));
    return r.next;
  };
  return [kv(rows), jobs && jobs.jobs.length
    ? table(["job", "status", "app", "units", "fee"], jobs.jobs.map((j) => [hash(j.job, `/jobs/${j.job}`), badge(j.status), hash(j.app, `/accounts/${j.app}`), `${j.units} units`, j.fee ? amount(j.fee) : DASH]))
    : null,
  h("h3", {}, "Redeems on chain (dat_redeem, newest first)"), redeems, pager(load)];
}

async function tokenPage(id) {
  const t = await api(`/v1/chain/dat/tokens/${id}`);
  return [h("h1", {}, "Token ", hash(t.id)), card("Token", kv([["class", hash(t.class, `/dat/${t.class}`)], ["owner", hash(t.owner, `/accounts/${t.owner}`)],
    ["units", `${t.value} units`], ["shares", `${t.shares} shares`], ["claimable", amount(t.claimable)], ["expires", t.expires ? `block ${t.expires}` : "never"]]))];
}

async function accountPage(addr) {
  if (!ADDR.test(addr)) throw new Error(`${addr} is not a 0x address (40 hex digits)`);
  const [a, c, esc, provs] = await Promise.all([maybe(`/v1/chain/accounts/${addr}`), api(`/v1/accounts/${addr}`), maybe(`/v1/chain/escrow/${addr}`),
    maybe("/v1/chain/providers").catch(() => null)]);
  const list = h("div", {});
  const tokens = async (cursor) => {
    const r = await api(`/v1/chain/dat/tokens?owner=${addr}&limit=20${cursor ? `&cursor=${cursor}` : ""}`);
    list.replaceChildren(table(["token", "class", "units", "shares", "claimable"], r.tokens.map((t) => [hash(t.id, `/tokens/${t.id}`), hash(t.class, `/dat/${t.class}`), `${t.value} units`, `${t.shares} shares`, amount(t.claimable)])));
    return r.next;
  };
  const escrowEl = h("div", { id: "escrow" }, escrowView(esc));
  const balances = h("div", { id: "balances" }, balancesView(a, c));
  const reload = async () => {
    const [na, ne] = await Promise.all([maybe(`/v1/chain/accounts/${addr}`), maybe(`/v1/chain/escrow/${addr}`)]);
    balances.replaceChildren(balancesView(na, c));
    escrowEl.replaceChildren(escrowView(ne));
  };
  return [
    h("h1", {}, "Account ", hash(addr)),
    h("div", { class: "grid" },
      card("Balances", balances),
      card("Tokens", list, pager(tokens)),
      card("Escrow sub-accounts", escrowEl,
        h("h3", {}, "Deposit"),
        h("p", {}, "The connected wallet, when it is this account, signs an escrow_deposit tx (EIP-712 typed data) from its balance into its sub-account with a provider."),
        depositForm(provs ? provs.providers : [], () => reload().catch((e) => escrowEl.append(errorBox(e))), addr))),
  ];
}

function balancesView(a, c) {
  return kv([["balance", amount(a && a.balance)], ["stake", amount(a && a.stake)], ["bonded", amount(a && a.bonded)], ["chain nonce", a ? a.nonce : DASH], ["next submission nonce", c.next_nonce]]);
}

function escrowView(esc) {
  return esc && esc.accounts.length
    ? table(["provider", "balance", "pending refund", "unlocks", "nonce"], esc.accounts.map((e) => [hash(e.provider, `/accounts/${e.provider}`), amount(e.balance), amount(e.pending_refund),
      e.unlocks_at ? when(e.unlocks_at * 1000) : DASH, e.nonce]))
    : h("p", {}, esc ? "No sub-account yet: a deposit (below) opens one." : DASH);
}

// ---- claims -----------------------------------------------------------

async function claimsPage() {
  const list = h("div", {});
  const load = async (cursor) => {
    const r = await api(`/v1/chain/claims?open=true&limit=20${cursor ? `&cursor=${cursor}` : ""}`);
    list.replaceChildren(table(["claim", "submission", "status", "games", "bond", "window ends"], r.claims.map((c) => [hash(c.id, `/claims/${c.id}`), hash(c.submission, `/submissions/${c.submission}`), badge(c.status), `${c.active_games} active / ${c.games}`, amount(c.bond), when(c.window_ends)]), { empty: "no open claims" }));
    return r.next;
  };
  const p = pager(load);
  onEvent("claims", () => load(""));
  return [h("h1", {}, "Open claims"), card("Claims", list, p)];
}

async function claimPage(id) {
  const wrap = h("div", {});
  const seen = new Map(); // game id → ranges seen, as the game narrows
  const load = async () => {
    const r = await api(`/v1/chain/claims/${id}`);
    const c = r.claim;
    wrap.replaceChildren(h("h1", {}, "Claim ", hash(c.id)),
      h("div", { class: "grid" },
        card("Claim", kv([["status", badge(c.status)], ["submission", hash(c.submission, `/submissions/${c.submission}`)], ["executor", hash(c.executor, `/accounts/${c.executor}`)],
          ["bond", amount(c.bond)], ["records", c.records], ["result", hash(c.result)], ["trace root", hash(c.trace_root)], ["posted", when(c.height)], ["challenge window ends", when(c.window_ends)], c.reason ? ["reason", c.reason] : null])),
        ...r.games.map((g) => gameCard(g, seen))));
  };
  await load();
  onEvent("claims", () => load().catch(() => {}));
  onEvent("blocks", () => load().catch(() => {}));
  return wrap;
}

// secs shows a game clock (milliseconds of block time) in seconds.
const secs = (ms) => `${(Number(ms) / 1000).toFixed(1)} s left`;

function gameCard(g, seen) {
  const hist = seen.get(g.id) || [];
  const last = hist[hist.length - 1];
  if (!last || last.lo !== g.lo || last.hi !== g.hi) hist.push({ lo: g.lo, hi: g.hi, moves: g.moves });
  seen.set(g.id, hist);
  const n = Math.max(1, g.records);
  const bars = hist.map((r) => h("div", { class: "range", role: "img", "aria-label": `after ${r.moves} moves the dispute is steps ${r.lo} to ${r.hi} of ${n}`, title: `${r.lo}–${r.hi}` },
    h("span", { style: `left:${(100 * r.lo) / n}%;width:${Math.max(0.5, (100 * (r.hi - r.lo)) / n)}%` })));
  return card(`Game vs ${g.challenger.slice(0, 10)}…`, kv([["status", badge(g.status)], ["challenger", hash(g.challenger, `/accounts/${g.challenger}`)], ["bond", amount(g.bond)],
    ["disputed range", `steps ${g.lo}–${g.hi} of ${g.records} (${g.moves} moves)`], ["turn", g.turn], ["executor's clock", secs(g.exec_clock)], ["challenger's clock", secs(g.chal_clock)], ["started", when(g.height)], g.reason ? ["reason", g.reason] : null]),
  h("p", { class: "muted" }, "The bisection: each bar is the disputed range after a move."), bars);
}

// ---- blocks and txs ----------------------------------------------------

async function blocksPage() {
  const head = await api("/v1/chain/head");
  const list = h("div", {});
  const per = 20;
  const load = async (cursor) => {
    const top = cursor ? Number(cursor) : head.height;
    const hs = []; for (let x = top; x >= 0 && x > top - per; x--) hs.push(x);
    const blocks = await Promise.all(hs.map((x) => api(`/v1/chain/blocks/${x}`)));
    list.replaceChildren(table(["height", "hash", "txs", "time", "proposer"], blocks.map((b) => [h("a", { href: `/blocks/${b.header.height}` }, b.header.height), hash(b.header.hash), b.header.tx_count, when(b.header.time), hash(b.header.proposer, `/accounts/${b.header.proposer}`)])));
    return top - per >= 0 ? String(top - per) : "";
  };
  return [h("h1", {}, "Blocks"), card(`Latest blocks (head ${head.height})`, list, pager(load))];
}

async function blockPage(id) {
  const b = await api(`/v1/chain/blocks/${encodeURIComponent(id)}`);
  const x = b.header;
  return [h("h1", {}, `Block ${x.height}`), h("div", { class: "grid" },
    card("Header", kv([["hash", hash(x.hash)], ["parent", x.height > 0 ? hash(x.parent_hash, `/blocks/${x.height - 1}`) : DASH], ["time", when(x.time)], ["proposer", hash(x.proposer, `/accounts/${x.proposer}`)],
      ["tx root", hash(x.tx_root)], ["receipt root", hash(x.receipt_root)], ["state root", hash(x.state_root)], ["txs", x.tx_count], ["gas used", `${x.gas_used} gas`]])),
    card("Transactions", table(["tx", "kind", "sender", "nonce", "status"], (b.txs || []).map((t) => [hash(t.hash, `/txs/${t.hash}`), t.kind, hash(t.sender, `/accounts/${t.sender}`), t.nonce, t.status === 1 ? badge("success") : badge("failed")]))))];
}

async function txPage(txh) {
  const t = await api(`/v1/chain/txs/${txh}`);
  const r = t.receipt;
  return [h("h1", {}, "Transaction ", hash(t.hash)), h("div", { class: "grid" },
    card("Summary", kv([["status", badge(r ? r.status : t.status)], ["kind", t.kind], ["sender", hash(t.sender, `/accounts/${t.sender}`)],
      ["signed", t.version === 2 ? "by a wallet (version 2: EIP-712 typed data)" : "by a key (version 1)"], ["nonce", t.nonce], ["max fee", amount(t.max_fee)],
      ["fee paid", r ? amount(r.fee) : DASH], ["block", t.block !== undefined ? h("a", { href: `/blocks/${t.block}` }, t.block) : DASH], ["index", t.index ?? DASH], r && r.error ? ["failure", `${r.code}: ${r.error}`] : null]),
      t.block !== undefined ? verifyButton(t.hash, t.block) : null),
    card("Body", h("details", {}, h("summary", {}, `${t.kind} body`), h("pre", {}, JSON.stringify(t.body, null, 1)))),
    card("Events", r && r.events && r.events.length
      ? h("div", {}, h("p", {}, r.events.map((e) => e.type).join(", ")), h("details", {}, h("summary", {}, "attributes"), h("pre", {}, JSON.stringify(r.events, null, 1))))
      : h("p", {}, DASH)))];
}

// ---- search -----------------------------------------------------------

// resolve asks the coordinator what q names (GET /v1/search: a height, an
// address, a submission, tx, class, token, claim or block id, an iDAO).
export async function resolve(q) {
  const r = await api(`/v1/search?q=${encodeURIComponent(q.trim())}`);
  return r.results.length ? r.results[0].path : null;
}

async function searchPage() {
  const q = new URLSearchParams(location.search).get("q") || "";
  const target = await resolve(q);
  if (target) return { redirect: target };
  return [h("h1", {}, "Search"), h("p", {}, `Nothing found for "${q}". The search box takes a submission id, a tx or block hash, a block height, a 0x address, a DAT class or token id, a claim id, or an iDAO name.`)];
}

async function allSubmissions() {
  const list = h("div", {});
  const load = async (cursor) => {
    const r = await api(`/v1/submissions?limit=50${cursor ? `&cursor=${cursor}` : ""}`);
    list.replaceChildren(table(["submission", "status", "iDAO", "contributor", "created"], r.submissions.map((s) => [hash(s.id, `/submissions/${s.id}`), badge(s.status), s.idao, hash(s.contributor, `/accounts/${s.contributor}`), when(s.created_at)])));
    return r.next;
  };
  return [h("h1", {}, "All submissions"), card("Newest first", list, pager(load))];
}

render();
