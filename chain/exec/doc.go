// Package exec is the chain's state transition: what every tx kind does to
// the state, and the execution of a whole block, either sequentially or in
// parallel lanes. Both give the same receipts and the same state root; that
// equality is tested for every lane count.
//
// Execution is deterministic and pure: it reads a state.Reader, returns
// writes and receipts, and takes time only from the block header.
//
// Each tx kind is one entry of the kinds table (kinds.go): the state keys
// it declares, the signatures Prepare recovers for it, what it moves from
// its sender's balance and what it does. Its name, body and gas are its
// entry in chain/tx. The entries sit in the file of their concern:
// accounts.go (transfer), idao.go, anchor.go, dat.go, bonds.go and
// optimistic.go; apply.go runs one tx, block.go a block, overlay.go holds
// the pending writes and failures.go the failure code of every error a tx
// can fail with (receipts carry the code, never the sentence).
package exec
