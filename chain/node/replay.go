package node

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/store"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// ReplayResult is what Replay found.
type ReplayResult struct {
	Blocks    uint64      `json:"blocks"`
	Txs       uint64      `json:"txs"`
	Head      uint64      `json:"head"`
	StateRoot common.Hash `json:"state_root"`
}

// Replay re-executes every stored block of the chain in dataDir from
// genesis with lanes lanes, and checks each block's signature, parent link,
// tx root, receipt root and state root, and at the end the stored state. It
// opens the store read-only; a running node must not hold it.
//
// Enclave-key registrations are judged by enclave when it is non-nil. With
// nil, replay keeps each registration's recorded verdict (from the block's
// receipts: refused is the code codes.EnclaveRefused): a hardware
// attestation's verification depends on the vendor's collateral at the
// time, so re-judging old reports is not deterministic.
func Replay(ctx context.Context, dataDir string, lanes int, enclave exec.EnclaveVerifier) (*ReplayResult, error) {
	s, err := store.Open(filepath.Join(dataDir, "chain.db"), store.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	head, ok, err := s.Head()
	if err != nil || !ok {
		return nil, fmt.Errorf("replay: empty chain (%v)", err)
	}
	r, err := newReplayer(s, lanes, enclave)
	if err != nil {
		return nil, err
	}
	res := &ReplayResult{Head: head}
	for h := uint64(1); h <= head; h++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		txs, err := r.block(h)
		if err != nil {
			return nil, err
		}
		res.Blocks++
		res.Txs += uint64(txs)
	}
	kv, err := s.State()
	if err != nil {
		return nil, err
	}
	if stored := state.Load(kv, max(lanes, 1)).Root(); stored != r.st.Root() {
		return nil, fmt.Errorf("replay: stored state root %s differs from replayed %s", stored, r.st.Root())
	}
	res.StateRoot = r.st.Root()
	return res, nil
}

// replayer re-executes a stored chain block by block on its own state.
type replayer struct {
	s        *store.Store
	g        chain.Genesis
	cfg      *exec.Config
	recorded *recordedVerdicts // nil: enclave keys are judged again
	lanes    int
	st       *state.State
	parent   *chain.Header
}

// newReplayer reads the genesis of s and checks its block and state.
func newReplayer(s *store.Store, lanes int, enclave exec.EnclaveVerifier) (*replayer, error) {
	raw, err := s.GenesisConfig()
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r := &replayer{s: s, lanes: lanes}
	if err := json.Unmarshal(raw, &r.g); err != nil {
		return nil, fmt.Errorf("replay: genesis: %w", err)
	}
	price, err := r.g.Price()
	if err != nil {
		return nil, err
	}
	r.cfg = ExecConfig(&r.g, price, enclave)
	if enclave == nil {
		r.recorded = &recordedVerdicts{}
		r.cfg.Enclave = r.recorded
	}
	gkv, err := s.GenesisState()
	if err != nil {
		return nil, err
	}
	r.st = state.Load(gkv, max(lanes, 1))
	g0, err := s.Block(0)
	if err != nil {
		return nil, err
	}
	if err := g0.Header.VerifySig(); err != nil || g0.Header.Proposer != r.g.Sequencer {
		return nil, fmt.Errorf("replay: genesis header not signed by the sequencer %s", r.g.Sequencer)
	}
	if r.st.Root() != g0.Header.StateRoot {
		return nil, fmt.Errorf("replay: genesis state root %s, header says %s", r.st.Root(), g0.Header.StateRoot)
	}
	r.parent = g0.Header
	return r, nil
}

// block re-executes the stored block at height h, checks its signature,
// parent link, tx, receipt and state roots, commits it and returns its tx
// count.
func (r *replayer) block(h uint64) (int, error) {
	blk, err := r.s.Block(h)
	if err != nil {
		return 0, err
	}
	hd := blk.Header
	if err := hd.VerifySig(); err != nil || hd.Proposer != r.g.Sequencer {
		return 0, fmt.Errorf("replay: block %d: not signed by the sequencer %s", h, r.g.Sequencer)
	}
	if hd.ParentHash != r.parent.Hash() || hd.Height != r.parent.Height+1 {
		return 0, fmt.Errorf("replay: block %d: parent link broken", h)
	}
	for _, t := range blk.Txs {
		t.ForgetSender()
	}
	if r.recorded != nil {
		rs, err := r.s.Receipts(h)
		if err != nil {
			return 0, fmt.Errorf("replay: block %d: %w (a chain made before receipts carried failure codes cannot be replayed by this version)", h, err)
		}
		r.recorded.load(blk, rs)
	}
	env := &exec.Env{Height: hd.Height, Time: hd.Time, Proposer: hd.Proposer}
	out := exec.Run(r.cfg, env, r.st, blk.Txs, r.lanes)
	if len(out.Invalid) > 0 {
		x := out.Invalid[0]
		return 0, fmt.Errorf("replay: block %d: tx %d fails the pre-checks, so the block is not valid: %v", h, x.Index, x.Err)
	}
	switch {
	case out.TxRoot != hd.TxRoot || int(hd.TxCount) != len(blk.Txs):
		return 0, fmt.Errorf("replay: block %d: tx root mismatch", h)
	case out.ReceiptRoot != hd.ReceiptRoot:
		return 0, fmt.Errorf("replay: block %d: receipt root mismatch", h)
	case out.Staged.Root != hd.StateRoot:
		return 0, fmt.Errorf("replay: block %d: state root %s, header says %s", h, out.Staged.Root, hd.StateRoot)
	}
	r.st.Commit(out.Staged)
	r.parent = hd
	return len(blk.Txs), nil
}

// recordedVerdicts answers enclave-key checks with the verdicts recorded in
// the receipts of the block being replayed, in order.
type recordedVerdicts struct {
	q map[string][]error
}

func verdictKey(idao string, pub, report []byte) string {
	a, b := sha256.Sum256(pub), sha256.Sum256(report)
	return idao + "\x00" + string(a[:]) + string(b[:])
}

func (r *recordedVerdicts) load(blk *chain.Block, rs []*chain.Receipt) {
	r.q = map[string][]error{}
	for i, t := range blk.Txs {
		if t.Kind != tx.KindEnclaveRegister || i >= len(rs) {
			continue
		}
		b, err := t.DecodeBody()
		if err != nil {
			continue
		}
		er := b.(*tx.EnclaveRegister)
		var v error
		if rs[i].Status != chain.StatusSuccess {
			if rs[i].Code != codes.EnclaveRefused {
				continue // failed before the verifier was asked
			}
			v = errors.New("the verifier refused it when the block was made")
		}
		k := verdictKey(er.IDAO, er.PubKey, er.Report)
		r.q[k] = append(r.q[k], v)
	}
}

// VerifyEnclaveKey implements exec.EnclaveVerifier.
func (r *recordedVerdicts) VerifyEnclaveKey(idao string, _ json.RawMessage, pub, report []byte) error {
	k := verdictKey(idao, pub, report)
	q := r.q[k]
	if len(q) == 0 {
		return errors.New("replay: no recorded verdict for this enclave key")
	}
	r.q[k] = q[1:]
	return q[0]
}
