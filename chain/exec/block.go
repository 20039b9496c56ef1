package exec

import (
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/lanes"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// Result is the outcome of executing a block's txs on a base state.
type Result struct {
	Receipts []*chain.Receipt
	Writes   []state.Write // unique keys, paths filled in
	Fees     *big.Int      // paid to the proposer at the end of the block
	GasUsed  uint64
	Invalid  []Invalid // the txs that fail the pre-checks, in block order
}

// Invalid is a tx that fails the pre-checks (chain id, decoding, max fee,
// signature, nonce, funds for the fee): it changed nothing, paid nothing,
// and must not be in a block.
type Invalid struct {
	Index int
	Err   error
}

// PrepareAll prepares txs with workers goroutines (signature recovery is
// the dominant cost of a block, and it is embarrassingly parallel).
func PrepareAll(cfg *Config, txs []*tx.Tx, workers int) []*Prepared {
	ps := make([]*Prepared, len(txs))
	forChunks(len(txs), workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ps[i] = Prepare(cfg, txs[i], i)
		}
	})
	return ps
}

// ExecuteSequential is the reference executor: every tx in block order on
// one overlay, no scheduling. Parallel execution must equal it.
func ExecuteSequential(cfg *Config, env *Env, base state.Reader, txs []*tx.Tx) *Result {
	o := NewOverlay(base, 2*len(txs)+1)
	res := &Result{Receipts: make([]*chain.Receipt, len(txs)), Fees: new(big.Int)}
	for i, t := range txs {
		p := Prepare(cfg, t, i)
		rc, fee, bad := ApplyTx(cfg, env, o, p)
		res.Receipts[i] = rc
		res.Fees.Add(res.Fees, fee)
		res.GasUsed += rc.GasUsed
		if bad != nil {
			res.Invalid = append(res.Invalid, Invalid{Index: i, Err: bad})
		}
	}
	payProposer(env, []*Overlay{o}, res.Fees)
	res.Writes = toWrites(o.Writes)
	return res
}

// ExecuteLanes runs prepared txs in at most n lanes: the scheduler puts
// conflicting txs in one lane in block order, lanes run on goroutines, and
// their disjoint writes are merged. Same result as ExecuteSequential.
func ExecuteLanes(cfg *Config, env *Env, base state.Reader, ps []*Prepared, n int) *Result {
	acc := make([][]lanes.Access, len(ps))
	for i, p := range ps {
		acc[i] = p.Access
	}
	plan := lanes.Schedule(acc, n)
	res := &Result{Receipts: make([]*chain.Receipt, len(ps)), Fees: new(big.Int)}
	overlays := make([]*Overlay, len(plan))
	fees := make([]*big.Int, len(plan))
	gas := make([]uint64, len(plan))
	bad := make([]error, len(ps))
	var wg sync.WaitGroup
	for l, idxs := range plan {
		overlays[l] = NewOverlay(base, 2*len(idxs)+1)
		fees[l] = new(big.Int)
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := overlays[l]
			for _, i := range idxs {
				rc, fee, err := ApplyTx(cfg, env, o, ps[i])
				res.Receipts[i] = rc
				bad[i] = err
				fees[l].Add(fees[l], fee)
				gas[l] += rc.GasUsed
			}
		}()
	}
	wg.Wait()
	for l := range plan {
		res.Fees.Add(res.Fees, fees[l])
		res.GasUsed += gas[l]
	}
	for i, err := range bad {
		if err != nil {
			res.Invalid = append(res.Invalid, Invalid{Index: i, Err: err})
		}
	}
	payProposer(env, overlays, res.Fees)
	parts := make([][]state.Write, len(overlays))
	var wg2 sync.WaitGroup
	for l, o := range overlays {
		wg2.Add(1)
		go func() { defer wg2.Done(); parts[l] = toWrites(o.Writes) }()
	}
	wg2.Wait()
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	res.Writes = make([]state.Write, 0, total)
	for _, p := range parts {
		res.Writes = append(res.Writes, p...)
	}
	return res
}

// payProposer credits the block's fees to the proposer after every tx, in
// whichever overlay already holds its account (or the first).
func payProposer(env *Env, os []*Overlay, fees *big.Int) {
	if fees.Sign() == 0 || len(os) == 0 {
		return
	}
	key := state.AccountKey(env.Proposer)
	o := os[0]
	for _, x := range os {
		if _, ok := x.Writes[key]; ok {
			o = x
			break
		}
	}
	acc := state.NewAccount()
	if b := o.Get(key); b != nil {
		_ = state.Decode(b, acc)
	}
	acc.Balance.Add(acc.Balance, fees)
	o.Writes[key] = state.Encode(acc)
}

func toWrites(m map[string][]byte) []state.Write {
	out := make([]state.Write, 0, len(m))
	for k, v := range m {
		out = append(out, state.NewWrite(k, v))
	}
	return out
}

// Outcome is a fully executed block body: receipts, roots and the staged
// (not yet committed) next state. Invalid lists the txs that fail the
// pre-checks: a block holding one is not valid (DropInvalid makes the block
// a sequencer may seal).
type Outcome struct {
	Receipts    []*chain.Receipt
	Staged      *state.Staged
	TxRoot      common.Hash
	ReceiptRoot common.Hash
	GasUsed     uint64
	Invalid     []Invalid
}

// DropInvalid removes the invalid txs from a block the sequencer builds:
// it returns the txs that stay and fixes the outcome to be exactly that of
// executing them alone. That needs no second execution: an invalid tx reads
// nothing another tx depends on and writes nothing, pays no fee and uses no
// gas, so the state, fees and gas are the same; only the receipts' indices
// and the two roots over txs and receipts change. A follower re-executing
// the returned txs gets this outcome, with nothing invalid.
func (o *Outcome) DropInvalid(txs []*tx.Tx) []*tx.Tx {
	if len(o.Invalid) == 0 {
		return txs
	}
	drop := make(map[int]bool, len(o.Invalid))
	for _, x := range o.Invalid {
		drop[x.Index] = true
	}
	kept := make([]*tx.Tx, 0, len(txs)-len(drop))
	rs := make([]*chain.Receipt, 0, len(kept))
	for i, t := range txs {
		if drop[i] {
			continue
		}
		rc := o.Receipts[i]
		rc.Index = uint32(len(kept))
		kept = append(kept, t)
		rs = append(rs, rc)
	}
	hs := make([]common.Hash, len(kept))
	rh := make([]common.Hash, len(rs))
	for i := range kept {
		hs[i], rh[i] = kept[i].Hash(), chain.ReceiptHash(rs[i])
	}
	o.Receipts, o.TxRoot, o.ReceiptRoot, o.Invalid = rs, chain.TxRoot(hs), chain.MerkleRoot(rh), nil
	return kept
}

// Run executes txs on st with n lanes (n workers for recovery, lanes and
// hashing; n = 0 means the plain sequential executor) and stages the result.
// st is not changed; commit Outcome.Staged to apply it.
func Run(cfg *Config, env *Env, st *state.State, txs []*tx.Tx, n int) *Outcome {
	var txRoot common.Hash
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hs := make([]common.Hash, len(txs))
		for i, t := range txs {
			hs[i] = t.Hash()
		}
		txRoot = chain.TxRoot(hs)
	}()
	var res *Result
	workers := max(n, 1)
	if n == 0 {
		res = ExecuteSequential(cfg, env, st.Unlocked(), txs)
	} else {
		res = ExecuteLanes(cfg, env, st.Unlocked(), PrepareAll(cfg, txs, n), n)
	}
	out := &Outcome{Receipts: res.Receipts, GasUsed: res.GasUsed, Invalid: res.Invalid}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rh := make([]common.Hash, len(res.Receipts))
		for i, r := range res.Receipts {
			rh[i] = chain.ReceiptHash(r)
		}
		out.ReceiptRoot = chain.MerkleRoot(rh)
	}()
	out.Staged = st.Stage(res.Writes, workers)
	wg.Wait()
	out.TxRoot = txRoot
	return out
}

func forChunks(n, workers int, f func(lo, hi int)) {
	if workers < 1 {
		workers = 1
	}
	if workers == 1 || n < 2 {
		f(0, n)
		return
	}
	// Small interleaved chunks balance uneven work (anchors recover votes).
	const chunk = 64
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				f(lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
}
