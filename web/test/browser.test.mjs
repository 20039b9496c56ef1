// Browser tests of the Web UI: Debian's chromium driven by playwright-core
// against a running devnet (the Go test TestBrowserUI in cmd/vscd starts
// one and runs this file with node --test). A wallet is injected into the
// page as window.ethereum (EIP-1193), backed by a real private key through
// ethers v6 in the page, standing in for MetaMask. Everything is done
// through the UI; any console error fails the test; screenshots at 1280
// and 390 px go to VSC_TEST_OUT.
//
// Environment: VSC_URL, VSC_CHROMIUM, VSC_WALLET_KEY, VSC_CHAIN_ID,
// VSC_BIN (the vsc CLI), VSC_CLI_KEY, VSC_SEQUENCER, VSC_TEST_OUT,
// VSC_QUERY_CLASS (a class the wallet buys quota of through the page),
// VSC_QUERY_ROWS (what SELECT region, count(*) GROUP BY region answers over
// its plaintext: "region:count,…"), VSC_APP_KEY (the wallet's key file, for
// a CLI redeem).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { signTypedData, recoverTypedSignature, SignTypedDataVersion } from "@metamask/eth-sig-util";
import { Wallet } from "ethers";

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set (run through TestBrowserUI)`); return v; };
const BASE = env("VSC_URL"), OUT = env("VSC_TEST_OUT");
mkdirSync(OUT, { recursive: true });
const ethersUMD = readFileSync(new URL("./node_modules/ethers/dist/ethers.umd.min.js", import.meta.url), "utf8");

const browser = await chromium.launch({
  executablePath: env("VSC_CHROMIUM"), headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
after(() => browser.close());

// wallet is the injected EIP-1193 provider: ethers v6 in the page, a real key.
function wallet(key, chainId) {
  return `${ethersUMD}
;(() => {
  const w = new ethers.Wallet(${JSON.stringify(key)});
  window.ethereum = {
    isTestWallet: true,
    async request({ method, params }) {
      switch (method) {
        case "eth_requestAccounts": case "eth_accounts": return [w.address];
        case "eth_chainId": return "0x" + (${Number(chainId)}).toString(16);
        case "eth_signTypedData_v4": {
          const [from, data] = params;
          if (from.toLowerCase() !== w.address.toLowerCase()) throw Object.assign(new Error("unknown account " + from), { code: 4100 });
          const td = typeof data === "string" ? JSON.parse(data) : data;
          const types = { ...td.types }; delete types.EIP712Domain;
          const sig = await w.signTypedData(td.domain, types, td.message);
          window.__signed = { typedData: td, signature: sig };
          (window.__signedAll ||= []).push(window.__signed);
          return sig;
        }
        default: throw Object.assign(new Error("unsupported method " + method), { code: 4200 });
      }
    },
  };
})();`;
}

// page opens a page that records console errors and uncaught exceptions.
async function page(width) {
  const ctx = await browser.newContext({ viewport: { width, height: 900 } });
  await ctx.addInitScript({ content: wallet(env("VSC_WALLET_KEY"), env("VSC_CHAIN_ID")) });
  const p = await ctx.newPage();
  p.errors = [];
  p.on("console", (m) => { if (m.type() === "error") p.errors.push(`console: ${m.text()}`); });
  p.on("pageerror", (e) => p.errors.push(`uncaught: ${e.message}`));
  return p;
}

const shot = (p, name) => p.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });

function cli(...args) {
  return new Promise((resolve, reject) => {
    execFile(env("VSC_BIN"), ["--api", BASE, ...args], { env: { ...process.env, VSC_CONFIG_DIR: mkdtempSync(join(tmpdir(), "vsccfg")) } },
      (err, stdout, stderr) => (err ? reject(new Error(`vsc ${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

test("submit a dataset from the browser with a wallet, follow it to minted, check its DAT and anchor, find it", async () => {
  const p = await page(1280);
  await p.goto(`${BASE}/submit`);
  await p.getByRole("button", { name: "Connect wallet" }).click();
  await p.locator("#wallet-account .hash").waitFor();
  const data = join(mkdtempSync(join(tmpdir(), "vscds")), "weather.csv");
  writeFileSync(data, "t,temp,hum,wind\n1,120,80,30\n2,118,82,28\n3,-5,90,17\n4,110,89,21\n"); // the test circuit: 4 fields
  // every body the page sends: the dataset's values must not be in any
  const bodies = [];
  p.on("request", (r) => { const b = r.postDataBuffer(); if (b) bodies.push([r.method() + " " + r.url(), b]); });
  await p.setInputFiles("#dataset", data);
  await p.locator("#preview").getByText("records").waitFor();
  assert.match(await p.locator("#preview").innerText(), /4/);
  await p.selectOption("#mode", "tee+zk");
  await p.check("#allow-simulation");
  await p.getByRole("button", { name: "Encrypt, sign and submit" }).click();
  const link = p.locator("#submission-link");
  await link.waitFor({ timeout: 60000 });
  // followed live on this page, no reload
  await p.locator("#live-status .badge.minted").waitFor({ timeout: 120000 }).catch(async (e) => {
    await shot(p, "submit-failed-1280");
    throw new Error(`${e.message}\npage says: ${await p.locator("#submit-status").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  const id = await link.locator(".hash").getAttribute("title");
  assert.match(id, /^0x[0-9a-f]{64}$/);
  assert.ok(bodies.some(([what]) => what.startsWith("PUT ") && what.includes("/v1/blobs/")), "the page uploaded no blob");
  for (const [what, b] of bodies) {
    for (const plain of ["t,temp,hum,wind", "120,80,30", "-5,90,17"]) {
      assert.ok(!b.includes(Buffer.from(plain)), `${what} sends the dataset's plaintext (${plain})`);
    }
  }
  // the UI's typed data, signed by MetaMask's eth-sig-util too: the same
  // signature as ethers' (which vsc accepted: the submission minted), and it
  // recovers to the wallet
  const signed = await p.evaluate(() => window.__signed);
  const key = env("VSC_WALLET_KEY");
  const other = signTypedData({ privateKey: Buffer.from(key.slice(2), "hex"), data: signed.typedData, version: SignTypedDataVersion.V4 });
  assert.equal(other, signed.signature);
  assert.equal(recoverTypedSignature({ data: signed.typedData, signature: other, version: SignTypedDataVersion.V4 }).toLowerCase(), new Wallet(key).address.toLowerCase());
  assert.deepEqual(Object.keys(signed.typedData.domain).sort(), signed.typedData.types.EIP712Domain.map((f) => f.name).sort());
  await shot(p, "submit-1280");

  // the submission page: timeline, votes, anchor verified in the page
  await link.click();
  await p.locator("#status .badge.minted").waitFor();
  await p.getByRole("button", { name: "Verify inclusion" }).click();
  await p.locator("#verify-merkle").waitFor().catch(async (e) => {
    throw new Error(`${e.message}\nverify says: ${await p.locator("#verify-result").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  assert.match(await p.locator("#verify-merkle").innerText(), /^valid: tx 0x[0-9a-f]{64} is tx \d+ of \d+ in block \d+/);
  await p.locator("#verify-signature").waitFor({ timeout: 60000 }).catch(async (e) => {
    throw new Error(`${e.message}\nverify says: ${await p.locator("#verify-result").innerText()}`);
  });
  assert.match(await p.locator("#verify-signature").innerText(), new RegExp(`signed by the sequencer ${env("VSC_SEQUENCER")}`, "i"));
  await shot(p, "submission-1280");

  // its DAT: provenance names this submission
  await p.locator("#dat-link").click();
  await p.locator("#provenance").waitFor();
  const prov = p.locator("#provenance");
  assert.equal(await prov.locator(".hash").first().getAttribute("title"), id);
  assert.match(await prov.innerText(), /anchor tx/);
  await shot(p, "dat-1280");

  // the search box finds it by id
  await p.goto(`${BASE}/`);
  await p.getByLabel(/Search by submission id/).fill(id);
  await p.getByLabel(/Search by submission id/).press("Enter");
  await p.waitForURL(`${BASE}/submissions/${id}`);
  await p.locator("#status .badge").waitFor();
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

let queriedJob = null;
let boughtToken = null;

// signedLikeSigUtil: the typed data the wallet signed, signed by MetaMask's
// eth-sig-util too, is the same signature, and recovers to the wallet
function signedLikeSigUtil(signed) {
  const key = env("VSC_WALLET_KEY");
  assert.equal(signTypedData({ privateKey: Buffer.from(key.slice(2), "hex"), data: signed.typedData, version: SignTypedDataVersion.V4 }), signed.signature);
  assert.equal(recoverTypedSignature({ data: signed.typedData, signature: signed.signature, version: SignTypedDataVersion.V4 }).toLowerCase(), new Wallet(key).address.toLowerCase());
  assert.deepEqual(Object.keys(signed.typedData.domain).sort(), signed.typedData.types.EIP712Domain.map((f) => f.name).sort());
}

test("buy quota and fund escrow from a DAT class page: the wallet signs the chain txs (EIP-712), the units arrive on the token", async () => {
  const p = await page(1280);
  const cls = env("VSC_QUERY_CLASS");
  const me = new Wallet(env("VSC_WALLET_KEY")).address;
  await p.goto(`${BASE}/dat/${cls}`);
  await p.locator("#buy-form").waitFor();
  assert.doesNotMatch(await p.locator("main").innerText(), /need the CLI|wallets refuse to sign/);
  // units beyond a uint64 are refused before anything is signed, saying what is allowed
  await p.getByLabel("Units to buy").fill("99999999999999999999999");
  await p.getByRole("button", { name: "Sign and buy" }).click();
  await p.locator("#buy-status .error").waitFor({ timeout: 60000 }).catch(async (e) => {
    throw new Error(`${e.message}\npage says: ${await p.locator("#buy-status").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  assert.match(await p.locator("#buy-status .error").innerText(), /units "99999999999999999999999" is not a whole number from 1 to 18446744073709551615/);
  assert.equal(await p.evaluate(() => window.__signed), undefined, "the wallet was asked to sign a refused buy");
  // a real buy: the wallet signs the dat_buy's typed data, the page follows it to its receipt
  await p.getByLabel("Units to buy").fill("10");
  await p.getByRole("button", { name: "Sign and buy" }).click();
  await p.locator("#buy-result").waitFor({ timeout: 60000 }).catch(async (e) => {
    await shot(p, "buy-failed-1280");
    throw new Error(`${e.message}\npage says: ${await p.locator("#buy-status").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  assert.match(await p.locator("#buy-result").innerText(), /bought 10 units for [\d,]+ VSC: token 0x/);
  const signed = await p.evaluate(() => window.__signed);
  assert.equal(signed.typedData.primaryType, "Transaction");
  assert.deepEqual(signed.typedData.domain, { name: "vsc-chain", version: "1", chainId: Number(env("VSC_CHAIN_ID")) });
  assert.deepEqual(signed.typedData.types.Transaction.map((f) => `${f.type} ${f.name}`), ["uint64 nonce", "uint256 maxFee", "string kind", "address from", "bytes body"]);
  assert.equal(signed.typedData.message.kind, "dat_buy");
  assert.equal(signed.typedData.message.from.toLowerCase(), me.toLowerCase());
  signedLikeSigUtil(signed);
  const token = await p.locator("#buy-result .hash").first().getAttribute("title");
  assert.match(token, /^0x[0-9a-f]{64}$/);
  // the class's tokens show it (re-read without a reload), and the query form lists it
  await p.locator(`#class-tokens .hash[title="${token}"]`).waitFor();
  await p.getByRole("button", { name: "Connect wallet" }).click();
  await p.locator(`#query-token option[value="${token}"]`).waitFor({ state: "attached" });
  // the tx page: a version-2 dat_buy, successful
  const txh = await p.locator("#buy-status a.hash[href^='/txs/']").first().getAttribute("title");
  const tx = await (await p.request.get(`${BASE}/v1/chain/txs/${txh}`)).json();
  assert.equal(tx.version, 2);
  assert.equal(tx.kind, "dat_buy");
  assert.equal(tx.receipt.status, "success");
  await p.goto(`${BASE}/txs/${txh}`);
  assert.match(await p.locator("main").innerText(), /signed\s+by a wallet \(version 2: EIP-712 typed data\)/);
  await p.goto(`${BASE}/dat/${cls}`);
  await p.locator("#deposit-form").waitFor();
  // fund the escrow with the class's provider: an escrow_deposit the wallet signs
  await p.getByLabel("Amount (VSC, base units)").fill("20");
  await p.getByRole("button", { name: "Sign and deposit" }).click();
  await p.locator("#deposit-result").waitFor({ timeout: 60000 }).catch(async (e) => {
    throw new Error(`${e.message}\npage says: ${await p.locator("#deposit-status").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  assert.match(await p.locator("#deposit-result").innerText(), /deposited 20 VSC with provider 0x.*the sub-account holds [\d,]+ VSC/s);
  const dep = await p.evaluate(() => window.__signed);
  assert.equal(dep.typedData.message.kind, "escrow_deposit");
  signedLikeSigUtil(dep);
  await shot(p, "buy-1280");

  // the token page: the units arrived, owned by the wallet
  await p.locator(`#class-tokens a.hash[title="${token}"]`).click();
  await p.waitForURL(`${BASE}/tokens/${token}`);
  const tk = await p.locator("main").innerText();
  assert.match(tk, /units\s+10 units/);
  assert.match(tk, new RegExp(`owner\\s+${me.slice(0, 8)}`, "i"));

  // the account page's Deposit: from this wallet's own page it lands and the table shows it
  await p.goto(`${BASE}/accounts/${me}`);
  await p.locator("#deposit-form").waitFor();
  await p.getByLabel("Amount (VSC, base units)").fill("5");
  await p.getByRole("button", { name: "Sign and deposit" }).click();
  await p.locator("#deposit-result").waitFor({ timeout: 60000 });
  await p.locator("#escrow").getByText("25 VSC").waitFor();
  // more than the balance is refused before signing, with the SDK's sentence, and changes nothing
  const bal = (await (await p.request.get(`${BASE}/v1/chain/accounts/${me}`)).json()).balance;
  const signedBefore = await p.evaluate(() => window.__signed.signature);
  await p.getByLabel("Amount (VSC, base units)").fill((BigInt(bal) + 1n).toString());
  await p.getByRole("button", { name: "Sign and deposit" }).click();
  await p.locator("#deposit-status .error").waitFor({ timeout: 60000 });
  assert.match(await p.locator("#deposit-status .error").innerText(), /needs a balance of at least \d+, the balance of 0x[0-9a-fA-F]{40} is \d+: fund the account first/);
  assert.equal(await p.evaluate(() => window.__signed.signature), signedBefore, "the wallet was asked to sign an unaffordable deposit");
  assert.match(await p.locator("#escrow").innerText(), /25 VSC/);
  // another account's page refuses, saying whose wallet it is
  const other = new Wallet("0x" + "11".repeat(32)).address;
  await p.goto(`${BASE}/accounts/${other}`);
  await p.locator("#deposit-form").waitFor();
  await p.getByRole("button", { name: "Sign and deposit" }).click();
  await p.locator("#deposit-status .error").waitFor();
  assert.match(await p.locator("#deposit-status .error").innerText(), /the connected wallet is 0x[0-9a-fA-F]{40}, this page is the account/);
  boughtToken = token;
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

// rowsOf reads a rendered table's body as arrays of cell texts.
const rowsOf = (loc) => loc.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText.trim())));

test("run a query from a DAT class page: the wallet signs the JobRequest and the answer key, the answer is verified and decrypted in the page, the job page follows it to settled; after a reload the key is gone", async () => {
  const p = await page(1280);
  const cls = env("VSC_QUERY_CLASS");
  await p.goto(`${BASE}/dat/${cls}`);
  await p.locator("#query-form").waitFor();
  assert.ok(boughtToken, "the buy test bought no token");
  await p.getByRole("button", { name: "Connect wallet" }).click();
  await p.locator("#query-account .hash").waitFor();
  await p.locator("#query-token option[value^='0x']").first().waitFor({ state: "attached" });
  await p.getByLabel(/^Query/).fill("SELECT region, count(*) GROUP BY region");
  await p.check("#query-allow-simulation");
  await p.getByRole("button", { name: "Sign and run the query" }).click();
  await p.locator("#job-link").waitFor({ timeout: 60000 }).catch(async (e) => {
    throw new Error(`${e.message}\npage says: ${await p.locator("#query-status").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  const job = await p.locator("#job-link .hash").getAttribute("title");
  assert.match(job, /^0x[0-9a-f]{64}$/);
  // the wallet signed the JobRequest typed data, then the AnswerKey typed
  // data binding a key made in the page to that request (the job id);
  // eth-sig-util signs both alike and recovers the wallet
  const all = await p.evaluate(() => window.__signedAll);
  assert.deepEqual(all.map((x) => x.typedData.primaryType), ["JobRequest", "AnswerKey"]);
  const [signed, bound] = all;
  const key = env("VSC_WALLET_KEY");
  for (const x of [signed, bound]) {
    const other = signTypedData({ privateKey: Buffer.from(key.slice(2), "hex"), data: x.typedData, version: SignTypedDataVersion.V4 });
    assert.equal(other, x.signature, `${x.typedData.primaryType}: eth-sig-util and ethers disagree`);
    assert.equal(recoverTypedSignature({ data: x.typedData, signature: other, version: SignTypedDataVersion.V4 }).toLowerCase(), new Wallet(key).address.toLowerCase());
    assert.deepEqual(Object.keys(x.typedData.domain).sort(), x.typedData.types.EIP712Domain.map((f) => f.name).sort());
  }
  assert.deepEqual(bound.typedData.types.AnswerKey, [{ name: "request", type: "bytes32" }, { name: "key", type: "bytes" }]);
  assert.equal(bound.typedData.message.request, job, "the AnswerKey binds the job's request digest");
  assert.match(bound.typedData.message.key, /^0x0[23][0-9a-f]{64}$/, "the answer key is a compressed secp256k1 public key");
  // nothing of the answer key is stored: the browser's storage holds only the pinned sequencer and proven height
  const stored = await p.evaluate(() => [...Object.keys(localStorage), ...Object.keys(sessionStorage)]);
  assert.ok(stored.every((k) => /^vsc\.(sequencer|min_height)\.\d+$/.test(k)), `the page stored ${stored}`);
  // followed live, then verified in the page by vsc.wasm
  const verified = p.locator("#query-status #answer-verified");
  await verified.waitFor({ timeout: 60000 }).catch(async (e) => {
    await shot(p, "query-failed-1280");
    throw new Error(`${e.message}\npage says: ${await p.locator("#query-status").innerText()}\nerrors: ${p.errors.join("; ")}`);
  });
  const text = await verified.innerText();
  assert.match(text, /verified/);
  assert.match(text, /proven at block \d+/);
  assert.ok(signed.typedData.message.queryHash, "the signed request carries the query's hash");
  // decrypted in the page with the answer key: the rows are the plaintext's aggregates
  const want = env("VSC_QUERY_ROWS").split(",").map((r) => r.split(":"));
  const rows = verified.locator("#answer-rows");
  await rows.waitFor();
  assert.match(await rows.innerText(), /decrypted/);
  assert.deepEqual(await rows.locator("thead th").allInnerTexts(), ["region", "count(*)"]);
  assert.deepEqual(await rowsOf(rows), want);
  assert.match(await rows.innerText(), /1 group\(s\) below the iDAO's privacy floor suppressed/);
  await shot(p, "query-1280");

  // the job page: its fields, followed live to settled, the answer verified again
  await p.locator("#job-link").click();
  await p.waitForURL(`${BASE}/jobs/${job}`);
  await p.locator("#job-status .badge.settled").waitFor({ timeout: 60000 }).catch(async (e) => {
    throw new Error(`${e.message}\njob page says: ${await p.locator("main").innerText()}`);
  });
  const fields = await p.locator("#job-fields").innerText();
  assert.match(fields, /units\s+1 units/);
  assert.match(fields, /fee paid\s+[\d,]+ VSC/);
  assert.match(fields, /settlement\s+tx 0x/);
  assert.match(await p.locator("#job-answer").innerText(), /answer key this page made/);
  await p.check("#job-allow-simulation");
  await p.getByRole("button", { name: "Verify the answer in the browser" }).click();
  await p.locator("#job-verify #answer-verified").waitFor({ timeout: 60000 });
  assert.deepEqual(await rowsOf(p.locator("#job-verify #answer-rows")), want);
  await shot(p, "job-1280");

  // a reload forgets the answer key: the page says so, still verifies the
  // answer and offers it as the file `vsc job verify` reads
  await p.reload();
  await p.locator("#job-status .badge.settled").waitFor({ timeout: 60000 });
  assert.match(await p.locator("#job-answer").innerText(), /gone \(the page was reloaded or closed\)/);
  await p.check("#job-allow-simulation");
  await p.getByRole("button", { name: "Verify the answer in the browser" }).click();
  await p.locator("#job-verify #answer-verified").waitFor({ timeout: 60000 });
  assert.equal(await p.locator("#job-verify #answer-rows").count(), 0, "rows shown without the answer key");
  const gone = await p.locator("#job-verify #answer-key-gone").innerText();
  assert.match(gone, /cannot be decrypted here/);
  assert.match(gone, /vsc job verify FILE/);
  assert.equal(await p.locator("#job-verify #answer-key-gone .hash").getAttribute("title"), bound.typedData.message.key);
  assert.ok(await p.locator("#save-answer").getAttribute("download"));
  await shot(p, "job-reloaded-1280");

  // the search box finds the job by id; the class's usage lists it
  await p.getByLabel(/Search by submission id/).fill(job);
  await p.getByLabel(/Search by submission id/).press("Enter");
  await p.waitForURL(`${BASE}/jobs/${job}`);
  await p.goto(`${BASE}/dat/${cls}`);
  await p.locator(`#usage .hash[title="${job}"]`).waitFor();
  queriedJob = job;
  // a dat_redeem of the token (the CLI, a key) shows in the class's usage, from the chain's redeem index
  await p.goto(`${BASE}/dat/${cls}`);
  await p.locator("#redeems").getByText("no dat_redeem tx yet").waitFor();
  const r = JSON.parse(await cli("dat", "redeem", boughtToken, "--units", "2", "--key", env("VSC_APP_KEY"), "--json"));
  const rtx = r.receipt.tx;
  await p.reload();
  const row = p.locator("#redeems tbody tr").filter({ has: p.locator(`.hash[title="${rtx}"]`) });
  await row.waitFor();
  const cells = await row.innerText();
  assert.match(cells, /2 units/);
  assert.ok(cells.includes(boughtToken.slice(0, 8)), `the redeem row names another token: ${cells}`);
  const titles = await row.locator(".hash").evaluateAll((els) => els.map((e) => e.getAttribute("title").toLowerCase()));
  assert.ok(titles.includes(new Wallet(env("VSC_WALLET_KEY")).address.toLowerCase()), `the redeem row does not name the wallet as the redeemer: ${titles}`);
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test("a CLI submission appears on the home page within 2 s without a reload", async () => {
  for (const width of [1280, 390]) {
    const p = await page(width);
    await p.goto(`${BASE}/`);
    await p.locator("#recent-submissions").waitFor();
    await p.locator("#live.on").waitFor();
    let reloaded = false;
    p.on("framenavigated", (f) => { if (f === p.mainFrame()) reloaded = true; });
    const data = join(mkdtempSync(join(tmpdir(), "vscds")), "d.csv");
    writeFileSync(data, `a,b,c,d\n${width},${Date.now() % 1000},1,2\n`);
    const out = await cli("submit", data, "--idao", "demo", "--mode", "tee", "--key", env("VSC_CLI_KEY"), "--sequencer", env("VSC_SEQUENCER"), "--allow-simulation", "--json");
    const id = JSON.parse(out).id;
    const t0 = Date.now();
    await p.locator(`#recent-submissions tr[data-id="${id}"]`).waitFor({ timeout: 2000 });
    assert.ok(Date.now() - t0 <= 2000);
    assert.equal(reloaded, false);
    await shot(p, `home-${width}`);
    assert.deepEqual(p.errors, []);
    await p.context().close();
  }
});

test("every page renders at 1280 and 390 px without a console error", async () => {
  const p0 = await page(1280);
  const r = await (await p0.request.get(`${BASE}/v1/submissions?limit=1`)).json();
  const s = await (await p0.request.get(`${BASE}/v1/submissions/${r.submissions[0].id}`)).json();
  await p0.context().close();
  const pages = [["home", "/"], ["submit", "/submit"], ["idao", "/idaos/demo"], ["blocks", "/blocks/latest"], ["claims", "/claims/open"],
    ["submissions", "/submissions"], ["account", `/accounts/${s.contributor}`]];
  if (s.anchor) pages.push(["block", `/blocks/${s.anchor.block}`], ["tx", `/txs/${s.anchor.tx}`]);
  if (s.dat_id) pages.push(["dat", `/dat/${s.dat_id}`]);
  const claims = await (await fetch(`${BASE}/v1/chain/claims?limit=10`)).json();
  const played = claims.claims.find((c) => c.games > 0);
  if (process.env.VSC_EXPECT_GAME) assert.ok(played, "the devnet's faulty claim has no game");
  if (played) pages.push(["claim", `/claims/${played.id}`]);
  pages.push(["query-class", `/dat/${env("VSC_QUERY_CLASS")}`], ["app-account", `/accounts/${new Wallet(env("VSC_WALLET_KEY")).address}`]);
  if (queriedJob) pages.push(["job", `/jobs/${queriedJob}`]);
  for (const width of [1280, 390]) {
    const p = await page(width);
    for (const [name, path] of pages) {
      await p.goto(`${BASE}${path}`);
      await p.locator("main h1").first().waitFor();
      assert.doesNotMatch(await p.locator("main").innerText(), /Could not load this page|No such page/, `${path} at ${width}px`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path} at ${width}px is ${overflow}px wider than the window`);
      if (name === "claim") {
        // the bisection: a range bar per range seen, both clocks, the bonds
        assert.ok(await p.locator(".range").count() >= 1, "no bisection range drawn");
        const text = await p.locator("main").innerText();
        assert.match(text, /executor's clock\s+[\d.]+ s left/);
        assert.match(text, /challenger's clock\s+[\d.]+ s left/);
        assert.match(text, /bond\s+[\d,]+ VSC/);
      }
      if (name === "idao") assert.match(await p.locator("#providers").innerText(), /attested/, "the iDAO page lists no attested provider");
      if (name === "app-account") assert.match(await p.locator("#escrow").innerText(), /0x[0-9a-fA-F]{4}.*[\d,]+ VSC/s, "the account page shows no escrow sub-account");
      await shot(p, `${name}-${width}`);
    }
    assert.deepEqual(p.errors, []);
    await p.context().close();
  }
});
