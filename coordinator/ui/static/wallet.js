// Chain txs the connected wallet signs: buying DAT quota (dat_buy) on a
// class page and funding an escrow sub-account (escrow_deposit). vsc.wasm
// (cmd/vscwasm chainTx: coordinator/client UnsignedChainTx, the CLI's own
// pre-checks) builds the unsigned version-2 tx, the wallet signs its EIP-712
// typed data (domain {name: "vsc-chain", version: "1", chainId}, type
// Transaction(uint64 nonce,uint256 maxFee,string kind,address from,bytes
// body)) with eth_signTypedData_v4, vsc.wasm attaches the signature (it
// must recover to the wallet) and submits it, and the page follows the tx
// to its receipt, showing the receipt's result or the API's sentence.
import { h, maybe, errorBox, hash, amount, badge, card, onEvent } from "./lib.js";
import { loadWasm } from "./submit.js";

// connectWallet asks window.ethereum for its account.
export async function connectWallet() {
  if (!window.ethereum) throw new Error("no wallet in this browser: install one that provides window.ethereum (EIP-1193), such as MetaMask");
  const accts = await window.ethereum.request({ method: "eth_requestAccounts" });
  if (!accts || !accts[0]) throw new Error("the wallet gave no account: unlock it and allow this page");
  return accts[0];
}

// followTx calls done(view) once tx hash is committed: re-read on each
// block and every second (a block seen before the stream opened).
function followTx(hash) {
  return new Promise((resolve) => {
    let done = false;
    const check = async () => {
      if (done) return;
      const t = await maybe(`/v1/chain/txs/${hash}`).catch(() => null);
      if (t && t.status === "committed" && !done) { done = true; off(); clearInterval(timer); resolve(t); }
    };
    const off = onEvent("blocks", check);
    const timer = setInterval(check, 1000);
    check();
  });
}

// sendWalletTx builds, has the wallet sign, submits and follows one tx;
// step(text) reports progress. It answers the committed tx view; a refusal
// (a pre-check, the wallet, the chain's door) throws its sentence, and a
// failed receipt throws the receipt's code and words.
export async function sendWalletTx(opts, step) {
  const from = await connectWallet();
  const w = await loadWasm();
  step(`building the ${opts.kind} tx (nonce, fee)…`);
  const u = await w.chainTx(JSON.stringify({ api: location.origin, from, ...opts }));
  const wc = parseInt(await window.ethereum.request({ method: "eth_chainId" }), 16);
  if (wc !== u.chain_id) throw new Error(`the wallet is on chain ${wc}, this vsc is chain ${u.chain_id}: switch the wallet's network first`);
  step(h("span", {}, `asking the wallet to sign the ${u.kind} tx (nonce ${u.nonce}, max fee ${amount(u.max_fee)})…`));
  const sig = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [from, u.typed_data] });
  const sent = await w.submitChainTx(location.origin, u.digest, sig);
  step(h("span", {}, "tx ", hash(sent.hash, `/txs/${sent.hash}`), " submitted; waiting for its block…"));
  const t = await followTx(sent.hash);
  const r = t.receipt;
  if (!r || r.status !== "success") throw new Error(`the ${u.kind} tx ${sent.hash} failed in block ${t.block}: ${r ? `${r.code}: ${r.error}` : "no receipt"}`);
  return t;
}

const ev = (t, type) => ((t.receipt && t.receipt.events) || []).find((e) => e.type === type);
const attr = (e, k) => { const a = e && (e.attrs || []).find((x) => x.key === k); return a ? a.value : undefined; };

// buyForm is the class page's "Buy quota": units × price from the wallet.
export function buyForm(c, onBought) {
  const status = h("div", { id: "buy-status", "aria-live": "polite" });
  const units = h("input", { id: "buy-units", name: "units", type: "number", min: "1", step: "1", value: "10", required: true });
  const cost = h("span", { id: "buy-cost" });
  const showCost = () => {
    const n = /^\d+$/.test(units.value) ? BigInt(units.value) : 0n;
    cost.textContent = n > 0n ? `costs ${amount((n * BigInt(c.price || "0")).toString())} plus the tx fee` : "enter a whole number of units";
  };
  units.addEventListener("input", showCost);
  showCost();
  const btn = h("button", { type: "submit", class: "primary", id: "buy-run" }, "Sign and buy");
  const form = h("form", { class: "stack", id: "buy-form" },
    h("p", {}, `Price: ${amount(c.price)} per unit.`),
    h("label", { for: "buy-units" }, "Units to buy"), units, h("p", { class: "muted" }, cost),
    h("p", {}, btn));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    btn.disabled = true;
    status.replaceChildren();
    const step = (s) => status.append(h("p", {}, s));
    try {
      if (!/^\d+$/.test(units.value) || BigInt(units.value) < 1n) throw new Error("units must be a whole number of 1 or more");
      const t = await sendWalletTx({ kind: "dat_buy", class: c.id, units: units.value }, step);
      const b = ev(t, "dat_bought");
      const token = attr(b, "token");
      status.append(h("p", { class: "okbox", id: "buy-result" }, badge("success"), ` bought ${attr(b, "units")} units for ${amount(attr(b, "paid"))}: token `,
        hash(token, `/tokens/${token}`), " in block ", h("a", { href: `/blocks/${t.block}` }, t.block)));
      if (onBought) onBought(token);
    } catch (err) { status.append(errorBox(err)); } finally { btn.disabled = false; }
  });
  return h("div", {}, form, status);
}

// depositForm funds the wallet's sub-account with a provider (providers:
// the list to pick from). onDone runs after a deposit lands.
export function depositForm(providers, onDone, account) {
  const status = h("div", { id: "deposit-status", "aria-live": "polite" });
  if (!providers.length) return h("p", { class: "muted" }, "No data-service provider to fund yet.");
  const sel = h("select", { id: "deposit-provider", name: "provider" },
    providers.map((p) => h("option", { value: p.address }, `${p.address.slice(0, 10)}… (iDAO ${p.idao}, fee ${p.fee} VSC per job)`)));
  const amt = h("input", { id: "deposit-amount", name: "amount", type: "number", min: "1", step: "1", value: "20", required: true });
  const btn = h("button", { type: "submit", id: "deposit-run" }, "Sign and deposit");
  const form = h("form", { class: "stack", id: "deposit-form" },
    h("label", { for: "deposit-provider" }, "Provider"), sel,
    h("label", { for: "deposit-amount" }, "Amount (VSC, base units)"), amt, h("p", {}, btn));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    btn.disabled = true;
    status.replaceChildren();
    const step = (s) => status.append(h("p", {}, s));
    try {
      if (!/^\d+$/.test(amt.value) || BigInt(amt.value) < 1n) throw new Error("the amount must be a whole number of VSC, 1 or more");
      if (account) {
        const from = await connectWallet();
        if (from.toLowerCase() !== account.toLowerCase()) throw new Error(`the connected wallet is ${from}, this page is the account ${account}: a deposit comes from the wallet's own account, so open its page (/accounts/${from})`);
      }
      const t = await sendWalletTx({ kind: "escrow_deposit", provider: sel.value, amount: amt.value }, step);
      const d = ev(t, "escrow_deposited");
      status.append(h("p", { class: "okbox", id: "deposit-result" }, badge("success"), ` deposited ${amount(attr(d, "amount"))} with provider `,
        hash(attr(d, "provider"), `/accounts/${attr(d, "provider")}`), `: the sub-account holds ${amount(attr(d, "balance"))}`));
      if (onDone) onDone();
    } catch (err) { status.append(errorBox(err)); } finally { btn.disabled = false; }
  });
  return h("div", {}, form, status);
}

// buyCard is the class page's "Buy quota" card: buy units, and fund the
// escrow a query's fee is paid from.
export async function buyCard(c, onBought) {
  const provs = await maybe(`/v1/chain/providers?idao=${encodeURIComponent(c.idao)}`).catch(() => null);
  return card("Buy quota",
    h("p", {}, "The connected wallet signs the dat_buy tx (EIP-712 typed data); the tokens bought show on this page and on your account page."), buyForm(c, onBought),
    h("h3", {}, "Fund escrow"),
    h("p", {}, "A query's fee is paid from the wallet's escrow sub-account with the provider that answers it."),
    depositForm(provs ? provs.providers : [], null),
    h("p", { class: "muted" }, "From a terminal: ", h("code", {}, "vsc dat buy CLASS --units N --key KEYFILE"), " (CLASS: ", hash(c.id), ") and ", h("code", {}, "vsc escrow deposit PROVIDER --amount N --key KEYFILE"), "."));
}
