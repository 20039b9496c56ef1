package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// Follow makes a node a verifying follower of a sequencer: it has no
// sequencer key; it fetches every block from the sequencer's API,
// re-executes it with its own lanes and commits it only if the sequencer
// signed it and its tx, receipt and state roots are what re-execution
// gives. It serves the same read API (with proofs) over what it verified,
// and forwards submitted txs to the sequencer.
type Follow struct {
	// URL is the sequencer's API (the address that serves /v1/chain/).
	URL string
	// Poll is how often it asks the sequencer for its head (default
	// DefaultFollowPoll).
	Poll time.Duration
	// HTTP is the client to the sequencer (default one with a 30 s timeout).
	HTTP *http.Client
}

// DefaultFollowPoll is how often a follower asks for the sequencer's head.
const DefaultFollowPoll = 50 * time.Millisecond

// MaxBlockBytes bounds a block a follower reads from its sequencer: a full
// block of the largest txs.
const MaxBlockBytes = DefaultBlockSize*tx.MaxSize + 1<<20

// ErrFollowerHalted is what a halted follower's door and loop return.
var ErrFollowerHalted = codes.New(codes.FollowerHalted, "follower halted")

// BlockCheckError says which check a sequencer's block failed: the height,
// what was checked, what the header (or parent) said and what this node
// computed.
type BlockCheckError struct {
	Height        uint64
	What          string
	Expected, Got string
}

func (e *BlockCheckError) Error() string {
	if e.Expected == "" {
		return fmt.Sprintf("block %d does not check: %s", e.Height, e.What)
	}
	return fmt.Sprintf("block %d does not check: %s: expected %s, got %s", e.Height, e.What, e.Expected, e.Got)
}

// follower is a following node's link to its sequencer.
type follower struct {
	cfg       Follow
	seqHeight atomic.Uint64
	mu        sync.Mutex
	halted    error // the block check that stopped the follower
}

func newFollower(f Follow) *follower {
	if f.Poll <= 0 {
		f.Poll = DefaultFollowPoll
	}
	if f.HTTP == nil {
		f.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	f.URL = strings.TrimRight(f.URL, "/")
	return &follower{cfg: f}
}

func (f *follower) haltErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.halted
}

// get reads path from the sequencer, at most limit bytes.
func (f *follower) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.cfg.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sequencer %s: %w", f.cfg.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("sequencer %s%s: %w", f.cfg.URL, path, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("sequencer %s%s: answer over %d bytes", f.cfg.URL, path, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sequencer %s%s: %s: %s", f.cfg.URL, path, resp.Status, bytes.TrimSpace(body[:min(len(body), 300)]))
	}
	return body, nil
}

// FetchGenesis reads the genesis a sequencer at url serves. The caller
// must check it against what it trusts (its sequencer address).
func FetchGenesis(ctx context.Context, url string) (*chain.Genesis, error) {
	f := newFollower(Follow{URL: url})
	raw, err := f.get(ctx, "/v1/chain/genesis", 1<<20)
	if err != nil {
		return nil, err
	}
	var g chain.Genesis
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("sequencer %s: genesis: %w", url, err)
	}
	return &g, nil
}

func (f *follower) block(ctx context.Context, h uint64) (*chain.Block, error) {
	raw, err := f.get(ctx, fmt.Sprintf("/v1/chain/blocks/%d/raw", h), MaxBlockBytes)
	if err != nil {
		return nil, err
	}
	return chain.DecodeBlock(raw)
}

func (f *follower) head(ctx context.Context) (uint64, error) {
	raw, err := f.get(ctx, "/v1/chain/head", 1<<16)
	if err != nil {
		return 0, err
	}
	var h api.Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return 0, fmt.Errorf("sequencer %s: head: %w", f.cfg.URL, err)
	}
	f.seqHeight.Store(h.Height)
	return h.Height, nil
}

// followGenesis initialises a fresh follower's store with the sequencer's
// block 0, once it is exactly the block the given genesis makes, signed by
// its sequencer.
func (n *Node) followGenesis(ctx context.Context, g *chain.Genesis) error {
	if err := g.Validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	got, err := n.follow.block(ctx, 0)
	if err != nil {
		return fmt.Errorf("follower: genesis block: %w", err)
	}
	want, ws := GenesisBlock(g)
	want.Header.Sig = got.Header.Sig
	if got.Header.Hash() != want.Header.Hash() || len(got.Txs) != 0 {
		return &BlockCheckError{Height: 0, What: "genesis header (the sequencer's chain is not this genesis)",
			Expected: want.Header.Hash().Hex(), Got: got.Header.Hash().Hex()}
	}
	if err := got.Header.VerifySig(); err != nil || got.Header.Proposer != g.Sequencer {
		return &BlockCheckError{Height: 0, What: "sequencer signature of the genesis header", Expected: g.Sequencer.Hex(), Got: "another signer"}
	}
	return n.store.InitGenesis(raw, want, ws)
}

// followLoop syncs blocks from the sequencer until ctx ends or a block
// does not check, which halts the follower for good.
func (n *Node) followLoop(ctx context.Context) error {
	f := n.follow
	t := time.NewTicker(f.cfg.Poll)
	defer t.Stop()
	for {
		err := n.syncOnce(ctx)
		var bad *BlockCheckError
		switch {
		case errors.As(err, &bad):
			n.halt(bad)
			return fmt.Errorf("follower: %w", err)
		case err != nil && ctx.Err() == nil:
			n.log.Warn("follower: sequencer unreachable; retrying", "sequencer", f.cfg.URL, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// syncOnce fetches and applies every block up to the sequencer's head.
func (n *Node) syncOnce(ctx context.Context) error {
	target, err := n.follow.head(ctx)
	if err != nil {
		return err
	}
	for h := n.Head().Height + 1; h <= target; h++ {
		if err := ctx.Err(); err != nil {
			return nil
		}
		blk, err := n.follow.block(ctx, h)
		if err != nil {
			return err
		}
		if err := n.applyFollowed(blk, h); err != nil {
			return err
		}
	}
	return nil
}

// halt stops the follower on a block that does not check, loudly: the
// block is never committed, so never served.
func (n *Node) halt(bad *BlockCheckError) {
	n.follow.mu.Lock()
	n.follow.halted = bad
	n.follow.mu.Unlock()
	n.setFailed(bad)
	n.log.Error("FOLLOWER HALTED: the sequencer's block does not check; it is not stored or served, and this follower stops following",
		"height", bad.Height, "check", bad.What, "expected", bad.Expected, "got", bad.Got, "sequencer", n.follow.cfg.URL)
}

// applyFollowed checks the sequencer's block at height h against this
// node's state — signature, parent link, tx root, re-execution with lanes,
// receipt root and state root — and commits it only if all hold.
func (n *Node) applyFollowed(blk *chain.Block, h uint64) error {
	n.prodMu.Lock()
	defer n.prodMu.Unlock()
	parent := n.Head()
	hd := blk.Header
	if hd == nil {
		return &BlockCheckError{Height: h, What: "the block has no header"}
	}
	if err := hd.VerifySig(); err != nil || hd.Proposer != n.genesis.Sequencer {
		return &BlockCheckError{Height: h, What: "sequencer signature", Expected: n.genesis.Sequencer.Hex(), Got: signerOf(hd)}
	}
	if hd.Height != h || hd.ParentHash != parent.Hash() {
		return &BlockCheckError{Height: h, What: "parent link", Expected: fmt.Sprintf("height %d after %s", h, parent.Hash().Hex()),
			Got: fmt.Sprintf("height %d after %s", hd.Height, hd.ParentHash.Hex())}
	}
	if hd.Time <= parent.Time {
		return &BlockCheckError{Height: h, What: "block time", Expected: fmt.Sprintf("after %d", parent.Time), Got: fmt.Sprint(hd.Time)}
	}
	for _, t := range blk.Txs {
		t.ForgetSender()
	}
	env := &exec.Env{Height: hd.Height, Time: hd.Time, Proposer: hd.Proposer}
	out := exec.Run(n.ecfg, env, n.st, blk.Txs, n.cfg.Lanes)
	if len(out.Invalid) > 0 {
		x := out.Invalid[0]
		return &BlockCheckError{Height: h, What: fmt.Sprintf("tx %d fails the pre-checks (%v)", x.Index, x.Err)}
	}
	for _, c := range []struct {
		what          string
		expected, got common.Hash
	}{{"tx root", hd.TxRoot, out.TxRoot}, {"receipt root", hd.ReceiptRoot, out.ReceiptRoot}, {"state root", hd.StateRoot, out.Staged.Root}} {
		if c.expected != c.got {
			return &BlockCheckError{Height: h, What: c.what, Expected: c.expected.Hex(), Got: c.got.Hex()}
		}
	}
	if int(hd.TxCount) != len(blk.Txs) {
		return &BlockCheckError{Height: h, What: "tx count", Expected: fmt.Sprint(hd.TxCount), Got: fmt.Sprint(len(blk.Txs))}
	}
	if err := n.store.CommitBlock(blk, out.Receipts, out.Staged.Writes); err != nil {
		return fmt.Errorf("commit block %d: %w", h, err)
	}
	n.mu.Lock()
	n.st.Commit(out.Staged)
	n.head = hd
	close(n.newHead)
	n.newHead = make(chan struct{})
	n.mu.Unlock()
	return nil
}

func signerOf(h *chain.Header) string {
	if err := h.VerifySig(); err != nil {
		return "no valid signature"
	}
	return h.Proposer.Hex()
}

// FollowStatus is a follower's position against its sequencer (nil for a
// sequencer).
func (n *Node) FollowStatus() *api.FollowStatus {
	if n.follow == nil {
		return nil
	}
	seq, own := n.follow.seqHeight.Load(), n.Head().Height
	st := &api.FollowStatus{Sequencer: n.follow.cfg.URL, SequencerHeight: seq}
	if seq > own {
		st.Lag = seq - own
	}
	if err := n.follow.haltErr(); err != nil {
		st.Halted = err.Error()
	}
	return st
}

// forwardTx sends a raw tx submission to the sequencer and copies its
// answer back.
func (n *Node) forwardTx(w http.ResponseWriter, r *http.Request, body []byte) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, n.follow.cfg.URL+"/v1/chain/txs", bytes.NewReader(body))
	if err != nil {
		writeErr(w, codes.SequencerUnreachable, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.follow.cfg.HTTP.Do(req)
	if err != nil {
		writeErr(w, codes.SequencerUnreachable, fmt.Sprintf("forward to the sequencer %s: %v", n.follow.cfg.URL, err))
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// MempoolSize is the number of txs waiting in the mempool.
func (n *Node) MempoolSize() int { return n.pool.size() }
