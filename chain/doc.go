// Package chain is vsc's lightweight single-sequencer chain: the place where
// certified results become facts. It owns blocks, headers, receipts and the
// genesis; its subpackages own the rest:
//
//   - chain/tx: signed transactions, their canonical encoding and kinds
//   - chain/state: keys, values and the sharded Merkle Patricia state root,
//     with state proofs
//   - chain/exec: the state transition of every tx kind, and block
//     execution (sequential, or in parallel lanes)
//   - chain/lanes: the scheduler that groups conflicting txs into lanes
//   - chain/store: crash-safe bbolt persistence of blocks and state
//   - chain/node: mempool, block producer, read API and HTTP handler
//
// Flow: a tx enters the node's mempool (signature, chain id, nonce and fee
// checked at the door), the producer seals a block every block time or at
// the block size, executes it in lanes (same result as sequential), commits
// block and state atomically, and signs the header with the sequencer key.
package chain
