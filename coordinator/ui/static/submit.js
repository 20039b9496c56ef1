// The submit page: a dataset dropped here is parsed, committed (Poseidon2),
// checked against the iDAO's proven enclave attestation and encrypted by
// vsc's own Go code compiled to WebAssembly (vsc.wasm, cmd/vscwasm) — the
// same code as `vsc submit` — so the data leaves this page only encrypted.
// The connected wallet (EIP-1193 window.ethereum) signs the submission's
// typed data with eth_signTypedData_v4, and the page follows it live.
import { h, api, errorBox, hash, badge, kv, card, onEvent } from "./lib.js";

let wasmReady = null;

// loadWasm starts vsc.wasm once per page load.
export function loadWasm() {
  if (wasmReady) return wasmReady;
  wasmReady = (async () => {
    await import("./wasm_exec.js");
    const go = new globalThis.Go();
    const ready = new Promise((resolve) => { globalThis.vscwasmReady = resolve; });
    const { instance } = await WebAssembly.instantiateStreaming(fetch("/ui/vsc.wasm"), go.importObject);
    go.run(instance);
    await ready;
    return globalThis.vscwasm;
  })();
  return wasmReady;
}

const pinKey = (chainId) => `vsc.sequencer.${chainId}`;

// pinnedSequencer is the sequencer this browser pinned for the chain (on
// first use: the one the chain API names, then kept).
export async function pinnedSequencer() {
  const info = await api("/v1/chain/info");
  let seq = localStorage.getItem(pinKey(info.chain_id));
  if (!seq) { seq = info.sequencer; localStorage.setItem(pinKey(info.chain_id), seq); }
  return seq;
}
const heightKey = (chainId) => `vsc.min_height.${chainId}`;

export async function submitPage() {
  const [info, daos, chain] = await Promise.all([api("/v1/info"), api("/v1/idaos?limit=100"), api("/v1/chain/info").catch(() => null)]);
  const chainId = info.chain_id;
  let pinned = localStorage.getItem(pinKey(chainId));
  let pinNote = "pinned in this browser";
  if (!pinned && chain) { pinned = chain.sequencer; localStorage.setItem(pinKey(chainId), pinned); pinNote = "pinned now, on first use (as `vsc submit` does): check it against the chain's genesis or the devnet's banner"; }

  const status = h("div", { id: "submit-status", "aria-live": "polite" });
  const account = h("span", { id: "wallet-account" }, "not connected");
  let from = null;
  const connect = h("button", { type: "button", id: "connect-wallet" }, "Connect wallet");
  connect.addEventListener("click", async () => {
    try {
      if (!window.ethereum) throw new Error("no wallet in this browser: install one that provides window.ethereum (EIP-1193), such as MetaMask");
      const accts = await window.ethereum.request({ method: "eth_requestAccounts" });
      from = accts[0];
      account.replaceChildren(hash(from, `/accounts/${from}`));
      const wc = parseInt(await window.ethereum.request({ method: "eth_chainId" }), 16);
      if (wc !== chainId) status.replaceChildren(errorBox(`the wallet is on chain ${wc}, this vsc is chain ${chainId}: switch the wallet's network, or it will refuse to sign for this chain`));
    } catch (e) { status.replaceChildren(errorBox(e)); }
  });

  const idaoSel = h("select", { id: "idao", name: "idao" }, daos.idaos.map((d) => h("option", { value: d.name }, d.name)));
  const modeSel = h("select", { id: "mode", name: "mode" });
  const fillModes = () => {
    const d = daos.idaos.find((x) => x.name === idaoSel.value);
    modeSel.replaceChildren(h("option", { value: "" }, "the iDAO's default"), ...((d && d.modes) || []).map((m) => h("option", { value: m }, m)));
  };
  idaoSel.addEventListener("change", fillModes); fillModes();
  const seqIn = h("input", { id: "sequencer", name: "sequencer", value: pinned || "", spellcheck: "false", autocomplete: "off" });
  const sim = h("input", { id: "allow-simulation", name: "allow_simulation", type: "checkbox" });
  const file = h("input", { id: "dataset", name: "dataset", type: "file", accept: ".csv,.jsonl,.json,text/csv" });
  const preview = h("div", { id: "preview", "aria-live": "polite" });
  let chosen = null;
  const choose = async (f) => {
    chosen = f;
    try {
      const w = await loadWasm();
      const r = w.parse(new Uint8Array(await f.arrayBuffer()));
      preview.replaceChildren(r.error ? errorBox(`${f.name}: ${r.error}`) : kv([["file", f.name], ["records", r.records], ["fields", r.fields.join(", ")], ["commitment (Poseidon2)", hash(r.commitment)]]));
    } catch (e) { preview.replaceChildren(errorBox(e)); }
  };
  file.addEventListener("change", () => file.files[0] && choose(file.files[0]));
  const drop = h("div", { class: "drop", id: "drop" }, "Drop a CSV (with a header) or JSON Lines file here, or ", h("label", { for: "dataset" }, "choose one"), file);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) choose(e.dataTransfer.files[0]); });

  const send = h("button", { type: "submit", class: "primary", id: "submit-button" }, "Encrypt, sign and submit");
  const form = h("form", { class: "stack", id: "submit-form" },
    h("label", { for: "idao" }, "iDAO"), idaoSel, h("label", { for: "mode" }, "Mode"), modeSel,
    h("label", { for: "sequencer" }, "Chain sequencer (proofs are checked against its signature)"), seqIn, h("p", { class: "muted" }, pinNote),
    h("p", {}, sim, " ", h("label", { for: "allow-simulation", class: "inline" }, "Allow a simulated enclave (test data only: a simulated enclave protects nothing)")),
    drop, preview, h("p", {}, send));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    send.disabled = true;
    try { await run({ chainId, from, file: chosen, idao: idaoSel.value, mode: modeSel.value, sequencer: seqIn.value.trim(), allowSim: sim.checked, status }); }
    catch (e) { status.append(errorBox(e)); }
    finally { send.disabled = false; }
  });
  return [h("h1", {}, "Submit a dataset"), h("div", { class: "grid" },
    card("Wallet", h("p", {}, "Account: ", account), connect),
    card("Dataset", form), card("Progress", status))];
}

async function run({ chainId, from, file, idao, mode, sequencer, allowSim, status }) {
  status.replaceChildren();
  const step = (s) => status.append(h("p", {}, s));
  if (!from) throw new Error("connect a wallet first");
  if (!file) throw new Error("choose a dataset file first");
  const w = await loadWasm();
  step("checking the iDAO's enclave against its proven policy, encrypting, uploading…");
  const opts = { api: location.origin, sequencer, min_height: Number(localStorage.getItem(heightKey(chainId)) || 0), allow_simulation: allowSim, idao, mode, class: "dataset", contributor: from };
  const p = await w.prepare(JSON.stringify(opts), new Uint8Array(await file.arrayBuffer()));
  localStorage.setItem(pinKey(chainId), sequencer);
  localStorage.setItem(heightKey(chainId), String(p.proven_at));
  if (p.simulation) status.append(h("p", { class: "error" }, `warning: iDAO ${idao}'s TEE policy accepts SIMULATED enclaves (no hardware protection): fine for a devnet, never for real data`));
  step("encrypted and uploaded; asking the wallet to sign…");
  const sig = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [from, p.typed_data] });
  const v = JSON.parse(await w.submit(location.origin, p.digest, sig));
  const st = h("span", { id: "live-status" }, badge(v.status));
  status.append(h("p", {}, "submitted ", h("a", { href: `/submissions/${v.id}`, id: "submission-link" }, hash(v.id)), " — status ", st));
  const seen = h("ol", { class: "timeline", id: "live-moves" });
  status.append(seen);
  let moved = false;
  onEvent("submissions", (m) => {
    if (m.id.toLowerCase() !== v.id.toLowerCase()) return;
    moved = true;
    st.replaceChildren(badge(m.status));
    seen.append(h("li", {}, badge(m.status), m.detail ? ` — ${m.detail}` : ""));
  });
  // a move made before the stream saw this submission is read once
  const now = await api(`/v1/submissions/${v.id}`);
  if (!moved) st.replaceChildren(badge(now.status));
}
