// In-browser check of a tx inclusion proof against a block's tx root: the
// chain's list tree (chain/merkle.go), SHA-256 with domain separation —
// leaf = sha256(0x00 ‖ tx hash), inner = sha256(0x01 ‖ left ‖ right), a
// level of odd width promotes its last node — computed here with the
// browser's own WebCrypto, not taken from any server's word.

const hex = (b) => "0x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function bytes(h) {
  const s = String(h).replace(/^0x/, "");
  if (!/^[0-9a-fA-F]{64}$/.test(s)) throw new Error(`${h} is not a 32-byte hash`);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function sha256(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { buf.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

// merkleRoot recomputes the root from an item at index of size items and
// its siblings (bottom-up, promotions skipped), or throws if they do not fit.
export async function merkleRoot(item, index, size, siblings) {
  if (!(size > 0) || index < 0 || index >= size) throw new Error(`index ${index} is outside a list of ${size}`);
  let node = await sha256(Uint8Array.of(0), bytes(item));
  let used = 0;
  for (let n = size; n > 1; n = Math.ceil(n / 2)) {
    if (index % 2 === 1 || index + 1 < n) {
      if (used === siblings.length) throw new Error("the proof has too few siblings for its position");
      const sib = bytes(siblings[used++]);
      node = index % 2 === 1 ? await sha256(Uint8Array.of(1), sib, node) : await sha256(Uint8Array.of(1), node, sib);
    }
    index = Math.floor(index / 2);
  }
  if (used !== siblings.length) throw new Error("the proof has more siblings than its position uses");
  return hex(node);
}

// verifyInclusion checks proof (GET /v1/chain/txs/{hash}/proof) against
// block (GET /v1/chain/blocks/{height}, fetched on its own): the tx hash is
// the one asked about, the proof's header is that block's, and the path
// leads to its tx root. It returns a sentence, or throws one.
export async function verifyInclusion(txHash, proof, block) {
  const hdr = block.header;
  if (!proof || proof.kind !== "tx-inclusion") throw new Error("the API returned no tx inclusion proof");
  if (String(proof.tx_hash).toLowerCase() !== String(txHash).toLowerCase()) throw new Error(`the proof is for tx ${proof.tx_hash}, not ${txHash}`);
  if (proof.header.height !== hdr.height || String(proof.header.tx_root).toLowerCase() !== String(hdr.tx_root).toLowerCase()) {
    throw new Error(`the proof's header (block ${proof.header.height}, tx root ${proof.header.tx_root}) is not block ${hdr.height}'s (tx root ${hdr.tx_root})`);
  }
  const root = await merkleRoot(txHash, proof.index, hdr.tx_count, proof.siblings || []);
  if (root.toLowerCase() !== String(hdr.tx_root).toLowerCase()) throw new Error(`the path leads to ${root}, not block ${hdr.height}'s tx root ${hdr.tx_root}`);
  return `valid: tx ${txHash} is tx ${proof.index} of ${hdr.tx_count} in block ${hdr.height} (tx root ${hdr.tx_root}), checked in this browser`;
}
