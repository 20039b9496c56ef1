// Signs EIP-712 typed data (eth_signTypedData_v4 JSON, as `vsc submit
// --prepare` writes it, or a JobRequest or AnswerKey as the Web UI hands
// the wallet) with two independent wallet implementations, ethers v6 and
// MetaMask's @metamask/eth-sig-util, and prints both signatures as JSON.
// Used by Go tests, which check that vsc accepts each.
//
//   node typeddata.mjs TYPED_DATA.json 0xPRIVATEKEY
import { readFileSync } from "node:fs";
import { Wallet } from "ethers";
import { signTypedData, SignTypedDataVersion } from "@metamask/eth-sig-util";

const [file, key] = process.argv.slice(2);
if (!file || !key) {
  console.error("usage: node typeddata.mjs TYPED_DATA.json 0xPRIVATEKEY");
  process.exit(2);
}
let td = JSON.parse(readFileSync(file, "utf8"));
if (td.typed_data) td = td.typed_data; // a whole prepared file

// ethers takes the types without EIP712Domain and checks every domain field
const types = { ...td.types };
delete types.EIP712Domain;
const wallet = new Wallet(key);
const viaEthers = await wallet.signTypedData(td.domain, types, td.message);

const viaSigUtil = signTypedData({
  privateKey: Buffer.from(key.replace(/^0x/, ""), "hex"),
  data: td,
  version: SignTypedDataVersion.V4,
});
console.log(JSON.stringify({ address: wallet.address, ethers: viaEthers, eth_sig_util: viaSigUtil }));
