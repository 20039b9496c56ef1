// Package chain is vsc's lightweight single-sequencer chain: the place where
// certified results become facts. It owns blocks, headers, receipts and the
// genesis; its subpackages own the rest:
//
//   - chain/tx: signed transactions, their canonical encoding, and the kinds
//     table (each kind's number, name, body and gas)
//   - chain/state: keys, values and the sparse Merkle state root,
//     with state proofs
//   - chain/exec: the state transition — each kind's entry (declared
//     accesses, signature recoveries, apply), the failure code of every
//     error — and block execution (sequential, or in parallel lanes)
//   - chain/lanes: the scheduler that groups conflicting txs into lanes
//   - chain/store: crash-safe bbolt persistence of blocks, receipts and state
//   - chain/node: mempool, block producer, replay, read API and HTTP handler
//   - chain/api: the JSON views of the read API, shared with the SDK
//   - chain/proof: inclusion and state proofs checked against a signed header
//
// Flow: a tx enters the node's mempool through the door (cheap checks
// first — size, chain id, decoding, max fee, nonce, the pool's per-sender
// and total caps, the sender's balance against all its pending txs — then
// its signatures), the producer seals a block every block time or at the
// block size, executes it in lanes (same result as sequential), drops any
// tx that fails the pre-checks (such a tx never enters a block; a follower
// refuses a block holding one), commits block and state atomically, and
// signs the header with the sequencer key.
//
// Consensus data holds no free text: a receipt names a failure by its
// number (internal/codes, 4xxx), its words are a non-consensus Detail kept
// beside it, so rewording an error never changes a receipt root.
//
// The fee is gas × gas price; gas is the kind's work plus one per 16 bytes
// of the body (tx.BodyBytesPerGas). An anchor carries the contributor's signed
// submission and names the height whose stake its QC counts (see
// idao.QCStake), so the DAT goes to the contributor whoever anchors.
package chain
