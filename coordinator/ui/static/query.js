// Data-service queries from the browser: the class page builds a JobRequest
// with vsc's own client code (vsc.wasm: coordinator/client JobRequest, as
// `vsc query` does), the connected wallet signs its typed data with
// eth_signTypedData_v4, vsc.wasm sends it (POST /v1/jobs), the page follows
// the job live and, once answered, verifies the answer in the browser with
// the SDK's VerifyEnvelope: the request is the wallet's, the answering
// enclave key is registered on chain for the iDAO and attests under its
// proven TEE policy, and it signed the batch holding (job ‖ result hash).
// A wallet never exposes its account's private key, so the page does not
// have the answer encrypted to it: vsc.wasm makes an answer key for each
// query (secp256k1), the wallet signs a second typed data, AnswerKey(bytes32
// request,bytes key), binding it to the request, and the provider's enclave
// encrypts the answer to that key once it has checked the binding. The
// private half stays in vsc.wasm's memory (this module keeps only the
// public key, by job): it is never stored, sent or shown, and a reload
// forgets it. Once verified, vsc.wasm decrypts the answer with the code
// `vsc job verify --key` runs and checks the rows against the signed
// result hash; the page shows them as a table.
import { h, api, maybe, errorBox, hash, amount, badge, when, kv, table, card, onEvent, DASH } from "./lib.js";
import { loadWasm, pinnedSequencer } from "./submit.js";
import { connectWallet } from "./wallet.js";

const heightKey = (chainId) => `vsc.min_height.${chainId}`;

// answerKeys maps a job this page ran (lower-case id) to the public key of
// the answer key vsc.wasm made for it; the private half is vsc.wasm's.
// Page memory only: a reload starts empty.
const answerKeys = new Map();
const sealedTo = (j) => (j.answer && j.answer.answer_key ? j.answer.answer_key.key : "");
const heldFor = (j) => { const k = sealedTo(j); return !!k && answerKeys.get(j.job.toLowerCase()) === k.toLowerCase(); };

// trust is the chain trust the SDK checks answers against (the sequencer
// pinned in this browser, the highest block already proven).
async function trust(allowSim) {
  const info = await api("/v1/chain/info");
  return { chainId: info.chain_id, opts: { api: location.origin, sequencer: await pinnedSequencer(), min_height: Number(localStorage.getItem(heightKey(info.chain_id)) || 0), allow_simulation: allowSim } };
}

// verifyAnswer runs the SDK's answer checks in the page and shows them.
export async function verifyAnswer(j, allowSim) {
  const w = await loadWasm();
  const t = await trust(allowSim);
  const r = await w.verifyJob(JSON.stringify(t.opts), JSON.stringify(j.answer), j.app);
  if (r.proven_at > Number(localStorage.getItem(heightKey(t.chainId)) || 0)) localStorage.setItem(heightKey(t.chainId), String(r.proven_at));
  return h("div", { id: "answer-verified", class: "verified" },
    h("p", {}, badge("verified"), " in this browser by vsc.wasm (the SDK's VerifyEnvelope)"),
    kv([["app", h("span", {}, hash(j.app, `/accounts/${j.app}`), " signed the request")], ["job", h("span", {}, hash(r.job), " is its EIP-712 digest")],
      ["enclave", h("span", {}, hash(r.enclave), ` registered for iDAO ${r.idao} and attested under its TEE policy, proven at block ${r.proven_at}`)],
      ["batch", h("span", {}, `signed by the enclave: ${r.batch_size} job(s), root `, hash(r.batch_root))], ["result", h("span", {}, hash(r.result_hash), " (the signed result hash)")]]),
    r.simulated ? h("p", { class: "error" }, "warning: the iDAO's TEE policy accepts SIMULATED enclaves (no hardware protection): fine for a devnet, never for real data") : null,
    answerRows(r),
    saveLink(r.saved, j.job));
}

// answerRows shows the decrypted rows, or says why the page cannot decrypt.
function answerRows(r) {
  if (r.decrypted) {
    const d = r.decrypted;
    return h("div", { id: "answer-rows" },
      h("p", {}, badge("decrypted"), " in this browser with the answer key this page made for the job (kept in the page's memory only); the rows hash to the signed result hash ", hash(r.result_hash), "."),
      table(d.columns, d.rows, { empty: "no rows" }),
      d.suppressed_groups ? h("p", { class: "muted" }, `${d.suppressed_groups} group(s) below the iDAO's privacy floor suppressed`) : null);
  }
  if (r.answer_key) {
    return h("p", { id: "answer-key-gone" }, "The result is encrypted to the answer key ", hash(r.answer_key),
      " that the page which ran this query made and the wallet bound to the request. Its private half lived only in that page's memory and is gone (the page was reloaded or closed), so the rows cannot be decrypted here, nor with the account key. The answer's signatures and attestation are verified above; save it for ",
      h("code", {}, "vsc job verify FILE"), " to re-check them offline, or run the query again to read the rows.");
  }
  return h("p", { class: "muted", id: "answer-account-key" }, "The result is encrypted to this account's public key (ECIES, secp256k1, the key recovered from the request's signature): the request carried no answer key. A wallet does not expose its private key, so the page cannot decrypt it. Save the verified answer and read its rows with ",
    h("code", {}, "vsc job verify FILE --key KEYFILE"), " (or run the query with ", h("code", {}, "vsc query"), "): the decrypted rows are checked against this signed result hash.");
}

// saveLink offers the verified answer as the file `vsc job verify` reads.
function saveLink(saved, job) {
  const url = URL.createObjectURL(new Blob([saved + "\n"], { type: "application/json" }));
  return h("p", {}, h("a", { href: url, download: `answer-${job.slice(2, 10)}.json`, id: "save-answer", target: "_blank" }, "Save the verified answer (JSON)"));
}

// jobFields is a job view as label/value rows.
export function jobFields(j) {
  return kv([["status", h("span", { id: "job-status" }, badge(j.status))], ["class", hash(j.class, `/dat/${j.class}`)], ["token", hash(j.token, `/tokens/${j.token}`)],
    ["app", hash(j.app, `/accounts/${j.app}`)], ["provider", hash(j.provider, `/accounts/${j.provider}`)], ["iDAO", h("a", { href: `/idaos/${j.idao}` }, j.idao)],
    ["units", `${j.units} units`], ["max fee", amount(j.max_fee)], ["fee paid", j.fee ? amount(j.fee) : DASH], ["nonce", j.nonce],
    ["deadline", when(j.deadline * 1000)], ["result hash", j.result_hash ? hash(j.result_hash) : DASH],
    ["settlement", j.settlement ? h("span", {}, "tx ", hash(j.settlement.tx, `/txs/${j.settlement.tx}`), " in block ", h("a", { href: `/blocks/${j.settlement.block}` }, j.settlement.block)) : DASH],
    ["failure", j.reason ? `${j.reason}${j.code ? ` (${j.code})` : ""}` : DASH]]);
}

// follow re-reads job id on each of its moves ("jobs" events) and on each
// block while unsettled (settlement is the chain's), calling show.
function follow(id, show) {
  let done = false;
  const reread = async () => {
    if (done) return;
    try { const j = await api(`/v1/jobs/${id}`); done = ["settled", "expired", "failed"].includes(j.status); show(j); } catch { /* next event */ }
  };
  onEvent("jobs", (e) => { if (e.job && e.job.toLowerCase() === id.toLowerCase()) reread(); });
  onEvent("blocks", reread);
  return reread;
}

// jobPage is /jobs/{id}: the job, followed live, with its answer verified in the page.
export async function jobPage(id) {
  const j = await maybe(`/v1/jobs/${encodeURIComponent(id)}`);
  if (!j) return [h("h1", {}, "Job ", hash(id)), h("p", {}, "This coordinator has no data-service job ", id, ".")];
  const fields = h("div", { id: "job-fields" }, jobFields(j));
  const out = h("div", { id: "job-verify", "aria-live": "polite" });
  const sim = h("input", { id: "job-allow-simulation", type: "checkbox" });
  const btn = h("button", { type: "button", id: "verify-answer", disabled: !j.answer }, "Verify the answer in the browser");
  let cur = j;
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try { out.replaceChildren(await verifyAnswer(cur, sim.checked)); } catch (e) { out.replaceChildren(errorBox(e)); } finally { btn.disabled = false; }
  });
  const said = (x) => {
    if (!x.answer) return answerKeys.has(x.job.toLowerCase()) ? "No answer yet. This page holds the answer key made for this job: once answered, verifying decrypts it here." : "No answer yet.";
    if (heldFor(x)) return "The provider's enclave answered, encrypted to the answer key this page made for the job (held in this page's memory only): verifying decrypts it here.";
    if (sealedTo(x)) return ["The provider's enclave answered, encrypted to the answer key made by the page that ran the query. That key lived only in that page's memory and is gone (the page was reloaded or closed), so the rows cannot be decrypted here; the answer can still be verified and saved for ", h("code", {}, "vsc job verify FILE"), "."];
    return "The provider's enclave answered; the answer is encrypted to the app's account key.";
  };
  const note = h("p", { id: "job-answer" }, ...[said(j)].flat());
  follow(j.job, (nj) => { cur = nj; fields.replaceChildren(jobFields(nj)); note.replaceChildren(...[said(nj)].flat()); btn.disabled = !nj.answer; });
  return [h("h1", {}, "Job ", hash(j.job)), h("div", { class: "grid" }, card("Job", fields),
    card("Answer", note,
      h("p", {}, sim, " ", h("label", { for: "job-allow-simulation", class: "inline" }, "Accept a simulated enclave (devnets only)")), btn, out))];
}

// queryCard is the class page's "Run a query" form.
export function queryCard(c) {
  const status = h("div", { id: "query-status", "aria-live": "polite" });
  const account = h("span", { id: "query-account" }, "not connected");
  const tokenSel = h("select", { id: "query-token", name: "token" }, h("option", { value: "" }, "connect a wallet first"));
  let from = null;
  const connect = h("button", { type: "button", id: "query-connect" }, "Connect wallet");
  const tokens = async (pick) => {
    const r = await api(`/v1/chain/dat/tokens?owner=${from}&class=${c.id}&limit=100`);
    tokenSel.replaceChildren(...(r.tokens.length ? r.tokens.map((t) => h("option", { value: t.id, selected: t.id === pick }, `${t.id.slice(0, 10)}… (${t.value} units)`))
      : [h("option", { value: "" }, "no token of this class: buy quota below")]));
  };
  connect.addEventListener("click", async () => {
    try {
      from = await connectWallet();
      account.replaceChildren(hash(from, `/accounts/${from}`));
      await tokens();
    } catch (e) { status.replaceChildren(errorBox(e)); }
  });
  const q = h("input", { id: "query-text", name: "query", value: "SELECT count(*)", spellcheck: "false", autocomplete: "off" });
  const units = h("input", { id: "query-units", name: "units", type: "number", min: "1", value: "1" });
  const sim = h("input", { id: "query-allow-simulation", type: "checkbox" });
  const run = h("button", { type: "submit", class: "primary", id: "query-run" }, "Sign and run the query");
  const form = h("form", { class: "stack", id: "query-form" },
    h("p", {}, "Account: ", account, " ", connect),
    h("label", { for: "query-token" }, "Token (the quota the query spends)"), tokenSel,
    h("label", { for: "query-text" }, "Query (SELECT aggregates [WHERE …] [GROUP BY …])"), q,
    h("label", { for: "query-units" }, "Units"), units,
    h("p", {}, sim, " ", h("label", { for: "query-allow-simulation", class: "inline" }, "Accept a simulated enclave (devnets only)")), h("p", {}, run));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    run.disabled = true;
    try { await runQuery({ c, from, token: tokenSel.value, query: q.value.trim(), units: Number(units.value), allowSim: sim.checked, status }); }
    catch (e) { status.append(errorBox(e)); }
    finally { run.disabled = false; }
  });
  const el = card("Run a query", form, status);
  // after a buy on this page: list the new token (picked) once connected
  el.tokensChanged = (token) => { if (from) tokens(token).catch((e) => status.replaceChildren(errorBox(e))); };
  return el;
}

async function runQuery({ c, from, token, query, units, allowSim, status }) {
  status.replaceChildren();
  const step = (s) => status.append(h("p", {}, s));
  if (!from) throw new Error("connect a wallet first");
  if (!token) throw new Error("the wallet holds no token of this class: buy quota first (Buy quota, below)");
  const w = await loadWasm();
  const t = await trust(allowSim);
  step("building the job request (provider, fee, nonce, deadline)…");
  const r = await w.jobRequest(JSON.stringify({ ...t.opts, class: c.id, token, query, units, answer_key: true }));
  step("asking the wallet to sign the job request (JobRequest)…");
  const sig = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [from, r.typed_data] });
  step("asking the wallet to sign the answer key (AnswerKey: binds a key made in this page to this request, so the answer is encrypted to it)…");
  const akSig = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [from, r.answer_key_typed_data] });
  const v = JSON.parse(await w.submitJob(location.origin, r.chain_id, r.request, sig, query, r.answer_key, akSig));
  answerKeys.set(v.job.toLowerCase(), r.answer_key.toLowerCase());
  const st = h("span", { id: "query-live-status" }, badge(v.status));
  status.append(h("p", {}, "job ", h("a", { href: `/jobs/${v.job}`, id: "job-link" }, hash(v.job)), " — status ", st));
  const verified = h("div", { id: "query-verified", "aria-live": "polite" });
  status.append(verified);
  let checked = false;
  const reread = follow(v.job, async (j) => {
    st.replaceChildren(badge(j.status));
    if (j.status === "failed") verified.replaceChildren(errorBox(`the job failed: ${j.reason}`));
    if (!j.answer || checked) return;
    checked = true;
    try { verified.replaceChildren(await verifyAnswer(j, allowSim)); } catch (e) { verified.replaceChildren(errorBox(e)); }
  });
  reread(); // a move made before the stream saw this job is read once
}
