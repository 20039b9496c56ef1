// Package node runs the chain: it opens the store, holds the state, admits
// txs to the mempool, seals, executes (in parallel lanes), commits and signs
// blocks, and serves reads and proofs — as a Go API that the coordinator and
// devnet embed in-process, and as an HTTP handler under /v1/chain/.
package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/store"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/service"
)

// Defaults of Config (the mempool's are with its limits in mempool.go).
const (
	DefaultBlockTime = 250 * time.Millisecond
	DefaultBlockSize = 5000
)

// Hooks are test hooks to simulate crashes.
type Hooks struct {
	// BeforeCommit runs after a block is executed and signed, before it is
	// written; an error stops the producer (a crash between execution and
	// commit).
	BeforeCommit func(height uint64) error
	// InCommit runs inside the store transaction after every write; an
	// error rolls the whole block back (a crash mid-write).
	InCommit func(height uint64) error
}

// Config configures a Node.
type Config struct {
	// DataDir holds chain.db. Required.
	DataDir string
	// Genesis is used when DataDir is empty; later it must match the stored one
	// (nil: use the stored one).
	Genesis *chain.Genesis
	// SequencerKey signs blocks; it must be the genesis sequencer's key.
	// Without it the node is read-only (no block production).
	SequencerKey *ecdsa.PrivateKey
	Lanes        int           // parallel lanes (default: 2)
	BlockTime    time.Duration // default 250ms
	BlockSize    int           // max txs per block (default 5000)
	MempoolSize  int           // max txs waiting (default DefaultMempoolSize)
	MempoolBytes int           // max encoded bytes waiting (default DefaultMempoolBytes)
	Enclave      exec.EnclaveVerifier
	Logger       *slog.Logger
	Clock        func() time.Time // default time.Now
	Hooks        Hooks
	// NoSync skips fsync (benchmarks only; not crash-safe).
	NoSync bool
	// Follow makes the node a verifying follower of a sequencer (no
	// SequencerKey; Genesis is what it trusts, checked against the
	// sequencer's block 0 on a fresh data dir).
	Follow *Follow
}

// Node is a running chain.
type Node struct {
	cfg     Config
	ecfg    *exec.Config
	genesis *chain.Genesis
	log     *slog.Logger
	store   *store.Store
	st      *state.State
	pool    *mempool
	dropped droppedLog
	follow  *follower // nil: not a follower

	mu      sync.RWMutex
	head    *chain.Header
	newHead chan struct{} // closed and replaced on each block

	prodMu    sync.Mutex // one block at a time
	kick      chan struct{}
	loop      service.Group // the block producer
	failed    error
	started   bool
	closeOnce sync.Once
	closeErr  error
}

// New opens (or initialises from cfg.Genesis) the chain in cfg.DataDir,
// loads the state and checks it against the head's state root.
func New(cfg Config) (*Node, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("chain node: DataDir is required")
	}
	if cfg.Lanes <= 0 {
		cfg.Lanes = 2
	}
	if cfg.BlockTime <= 0 {
		cfg.BlockTime = DefaultBlockTime
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.MempoolSize <= 0 {
		cfg.MempoolSize = DefaultMempoolSize
	}
	if cfg.MempoolBytes <= 0 {
		cfg.MempoolBytes = DefaultMempoolBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("chain node: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger, pool: newMempool(cfg.MempoolSize, cfg.MempoolBytes), newHead: make(chan struct{}), kick: make(chan struct{}, 1)}
	if cfg.Follow != nil {
		if cfg.SequencerKey != nil {
			return nil, errors.New("chain node: a follower has no sequencer key")
		}
		n.follow = newFollower(*cfg.Follow)
	}
	if err := n.init(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) init() error {
	s, err := store.Open(filepath.Join(n.cfg.DataDir, "chain.db"), store.Options{NoSync: n.cfg.NoSync})
	if err != nil {
		return err
	}
	n.store = s
	s.FailCommit = n.cfg.Hooks.InCommit
	_, ok, err := s.Head()
	if err != nil {
		return err
	}
	if !ok {
		if n.cfg.Genesis == nil {
			return errors.New("chain node: empty data dir and no genesis given")
		}
		write := n.writeGenesis
		if n.follow != nil {
			write = func(g *chain.Genesis) error { return n.followGenesis(context.Background(), g) }
		}
		if err := write(n.cfg.Genesis); err != nil {
			return err
		}
	}
	raw, err := s.GenesisConfig()
	if err != nil {
		return fmt.Errorf("chain node: read genesis: %w", err)
	}
	var g chain.Genesis
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("chain node: stored genesis: %w", err)
	}
	if n.cfg.Genesis != nil {
		want, _ := json.Marshal(n.cfg.Genesis)
		if string(want) != string(raw) {
			return errors.New("chain node: genesis differs from the one this data dir was created with")
		}
	}
	n.genesis = &g
	price, err := g.Price()
	if err != nil {
		return err
	}
	n.ecfg = ExecConfig(&g, price, n.cfg.Enclave)
	if k := n.cfg.SequencerKey; k != nil && crypto.PubkeyToAddress(k.PublicKey) != g.Sequencer {
		return fmt.Errorf("chain node: sequencer key is %s, genesis sequencer is %s", crypto.PubkeyToAddress(k.PublicKey), g.Sequencer)
	}
	height, _, err := s.Head()
	if err != nil {
		return err
	}
	blk, err := s.Block(height)
	if err != nil {
		return err
	}
	kv, err := s.State()
	if err != nil {
		return fmt.Errorf("chain node: load state: %w", err)
	}
	n.st = state.Load(kv, n.cfg.Lanes)
	if n.st.Root() != blk.Header.StateRoot {
		return fmt.Errorf("chain node: stored state root %s does not match head %d's %s", n.st.Root(), height, blk.Header.StateRoot)
	}
	n.head = blk.Header
	n.log.Info("chain loaded", "height", height, "state_root", blk.Header.StateRoot.Hex(), "keys", n.st.Len())
	return nil
}

// GenesisWrites is the state of block 0 of g.
func GenesisWrites(g *chain.Genesis) []state.Write {
	addrs, vals := g.Accounts()
	ws := make([]state.Write, 0, len(addrs))
	for i, a := range addrs {
		acc := state.NewAccount()
		acc.Balance = vals[i]
		ws = append(ws, state.NewWrite(state.AccountKey(a), state.Encode(acc)))
	}
	return ws
}

// GenesisBlock returns block 0 of g and its writes.
func GenesisBlock(g *chain.Genesis) (*chain.Block, []state.Write) {
	ws := GenesisWrites(g)
	st := state.New()
	staged := st.Stage(ws, 1)
	h := &chain.Header{Height: 0, Time: g.Time, Proposer: g.Sequencer, StateRoot: staged.Root}
	return &chain.Block{Header: h}, ws
}

func (n *Node) writeGenesis(g *chain.Genesis) error {
	if err := g.Validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if n.cfg.SequencerKey == nil {
		return errors.New("chain node: a fresh chain needs the sequencer key to sign its genesis header")
	}
	if crypto.PubkeyToAddress(n.cfg.SequencerKey.PublicKey) != g.Sequencer {
		return errors.New("chain node: sequencer key does not match the genesis sequencer")
	}
	blk, ws := GenesisBlock(g)
	if err := blk.Header.Sign(n.cfg.SequencerKey); err != nil {
		return err
	}
	return n.store.InitGenesis(raw, blk, ws)
}

// Start runs the block producer until Stop (or Close). ctx bounds the
// start-up only: a signal that cancels it does not cut the producer off
// before its turn in a process's ordered stop. Without a sequencer key the
// node only serves reads.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return errors.New("chain node: already started")
	}
	n.started = true
	if n.follow != nil {
		return n.loop.Go(ctx, n.followLoop)
	}
	if n.cfg.SequencerKey == nil {
		return nil
	}
	return n.loop.Go(ctx, func(ctx context.Context) error { return n.produceLoop(ctx) })
}

// produceLoop seals blocks until ctx ends; an error that stops block
// production ends the node's loop (Done, Err).
func (n *Node) produceLoop(ctx context.Context) error {
	t := time.NewTicker(n.cfg.BlockTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.kick:
		}
		for n.pool.size() > 0 {
			if _, err := n.ProduceBlock(ctx); err != nil {
				if ctx.Err() != nil {
					return nil // shutting down, not a failure
				}
				n.log.Error("block production stopped", "err", err)
				n.mu.Lock()
				n.failed = err
				n.mu.Unlock()
				return fmt.Errorf("block production: %w", err)
			}
			if n.pool.size() < n.cfg.BlockSize {
				break
			}
		}
	}
}

// Close stops the producer (finishing the block in progress) and closes
// the store. It tolerates a half-built node.
func (n *Node) Close() error { return n.Stop(context.Background()) }

// Stop is Close as a service.Service: it stops the producer, which always
// finishes the block in progress (a block is never left half written), and
// closes the store. A producer still sealing when ctx ends leaves the store
// open; the error says so.
func (n *Node) Stop(ctx context.Context) error {
	if err := n.loop.Stop(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	n.closeOnce.Do(func() {
		if n.store != nil {
			n.closeErr = n.store.Close()
		}
	})
	return n.closeErr
}

// Done is closed when block production failed, or on Stop.
func (n *Node) Done() <-chan struct{} { return n.loop.Done() }

// Err returns the error that stopped block production, if any.
func (n *Node) Err() error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.failed
}

// ChainID is the chain id.
func (n *Node) ChainID() uint64 { return n.genesis.ChainID }

// Genesis returns the genesis configuration.
func (n *Node) Genesis() *chain.Genesis { return n.genesis }

// Sequencer is the address that signs blocks.
func (n *Node) Sequencer() common.Address { return n.genesis.Sequencer }

// ExecConfig is the consensus configuration of genesis g.
func ExecConfig(g *chain.Genesis, price *big.Int, enclave exec.EnclaveVerifier) *exec.Config {
	return &exec.Config{ChainID: g.ChainID, GasPrice: price, Enclave: enclave, Optimistic: g.Optimistic, Staking: g.Staking, Services: g.Services}
}

// Fee returns the fee of a tx body at the chain's gas price (its kind's
// gas and its size's).
func (n *Node) Fee(b tx.Body) *big.Int {
	g, err := tx.GasOf(b)
	if err != nil {
		return new(big.Int).Mul(big.NewInt(tx.MaxSize), n.ecfg.GasPrice)
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(g), n.ecfg.GasPrice)
}

// StakeHeight is the latest height an anchor sent now may name as its
// stake height: the head, the last committed block.
func (n *Node) StakeHeight() uint64 { return n.Head().Height }

// StakingParams are the chain's staking rules.
func (n *Node) StakingParams() idao.Params { return n.ecfg.StakingParams() }

// Head returns the last committed header.
func (n *Node) Head() *chain.Header {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.head
}

// SubmitTx checks t at the door and adds it to the mempool. The cheap
// checks come first — size, chain id, body decoding, max fee, then nonce,
// the pool's caps and the sender's funds against its declared address —
// and only a tx that passes them costs signature recoveries: the sender's,
// then its votes' and contributors' (recovered here, in the caller's
// goroutine, and cached for the block). Errors wrap one of ErrTooLarge,
// ErrMalformed, ErrWrongChain, ErrFeeTooLow, ErrNonceReplayed,
// ErrNoncePending, ErrNonceGap, ErrSenderFull, ErrMempoolFull,
// ErrCannotAfford, ErrKnownTx, ErrBadSignature, ErrNotProducing.
func (n *Node) SubmitTx(t *tx.Tx) (common.Hash, error) {
	if n.cfg.SequencerKey == nil {
		return common.Hash{}, ErrNotSequencer
	}
	if err := n.Err(); err != nil {
		return common.Hash{}, fmt.Errorf("%w: %v", ErrNotProducing, err)
	}
	size := len(t.Encode())
	if size > tx.MaxSize {
		return common.Hash{}, fmt.Errorf("%w: %d bytes, the limit is %d (tx.MaxSize)", ErrTooLarge, size, tx.MaxSize)
	}
	if t.ChainID != n.genesis.ChainID {
		return common.Hash{}, fmt.Errorf("%w: tx has %d, chain is %d", ErrWrongChain, t.ChainID, n.genesis.ChainID)
	}
	body, err := t.DecodeBody()
	if err != nil {
		return common.Hash{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	fee := n.ecfg.TxFee(t, body)
	if t.MaxFee.Cmp(fee) < 0 {
		return common.Hash{}, fmt.Errorf("%w: max fee %s, fee is %s", ErrFeeTooLow, t.MaxFee, fee)
	}
	e := &pooled{t: t, sender: t.From, size: size, cost: new(big.Int).Add(fee, exec.Moved(body))}
	if err := n.pool.precheck(e, n.accountOf); err != nil {
		return common.Hash{}, err
	}
	if n.isCommitted(t.Hash()) {
		return common.Hash{}, fmt.Errorf("%w: %s is in a block", ErrKnownTx, t.Hash())
	}
	if _, err := t.Sender(); err != nil {
		return common.Hash{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	exec.RecoverSigners(n.ecfg, &exec.Prepared{Body: body})
	if err := n.pool.add(e, n.accountOf); err != nil {
		return common.Hash{}, err
	}
	n.dropped.forget(t.Hash())
	if n.pool.size() >= n.cfg.BlockSize {
		select {
		case n.kick <- struct{}{}:
		default:
		}
	}
	return t.Hash(), nil
}

func (n *Node) isCommitted(h common.Hash) bool {
	_, _, err := n.store.TxLocation(h)
	return err == nil
}

// NextNonce is the nonce the sender's next tx should carry (committed nonce
// plus its pending txs).
func (n *Node) NextNonce(a common.Address) uint64 {
	return n.pool.nextNonce(a, n.nonceOf)
}

func (n *Node) nonceOf(a common.Address) uint64 { return n.Account(a).Nonce }

func (n *Node) accountOf(a common.Address) (uint64, *big.Int) {
	acc := n.Account(a)
	return acc.Nonce, acc.Balance
}

// ProduceBlock seals a block from the mempool now (tests and devnet call it
// directly; the producer loop calls it on every tick). With an empty
// mempool it returns the current head and produces nothing.
func (n *Node) ProduceBlock(ctx context.Context) (*chain.Header, error) {
	if n.cfg.SequencerKey == nil {
		return nil, ErrNotSequencer
	}
	n.prodMu.Lock()
	defer n.prodMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	txs := n.pool.peek(n.cfg.BlockSize)
	if len(txs) == 0 {
		return n.Head(), nil
	}
	h, _, err := n.seal(txs, true)
	return h, err
}

// SealTxs executes, commits and signs a block of txs, bypassing the mempool
// and its door checks (txs that fail the pre-checks are dropped from the
// block, as in ProduceBlock; the receipts are those of the txs kept). It is
// for in-process benchmarks and tools; clients use SubmitTx.
func (n *Node) SealTxs(ctx context.Context, txs []*tx.Tx) (*chain.Header, []*chain.Receipt, error) {
	if n.cfg.SequencerKey == nil {
		return nil, nil, ErrNotSequencer
	}
	n.prodMu.Lock()
	defer n.prodMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return n.seal(txs, false)
}

func (n *Node) seal(txs []*tx.Tx, fromPool bool) (*chain.Header, []*chain.Receipt, error) {
	parent := n.Head()
	now := uint64(n.cfg.Clock().UnixMilli())
	if now <= parent.Time {
		now = parent.Time + 1
	}
	env := &exec.Env{Height: parent.Height + 1, Time: now, Proposer: n.genesis.Sequencer}
	out := exec.Run(n.ecfg, env, n.st, txs, n.cfg.Lanes)
	// A tx that fails the pre-checks never enters a block: drop it (and,
	// from the pool, its sender's later txs, whose nonces cannot apply).
	var evict map[common.Address]bool
	if len(out.Invalid) > 0 {
		evict = make(map[common.Address]bool, len(out.Invalid))
		for _, x := range out.Invalid {
			evict[txs[x.Index].From] = true
			n.dropped.add(txs[x.Index].Hash(), x.Err)
			n.log.Debug("tx dropped from the block", "tx", txs[x.Index].Hash().Hex(), "err", x.Err)
		}
	}
	built := len(txs)
	txs = out.DropInvalid(txs)
	if len(txs) == 0 {
		if fromPool {
			n.pool.commit(built, evict, &n.dropped, func() {})
		}
		return parent, nil, nil
	}
	h := &chain.Header{ParentHash: parent.Hash(), Height: env.Height, Time: env.Time, Proposer: env.Proposer,
		TxRoot: out.TxRoot, ReceiptRoot: out.ReceiptRoot, StateRoot: out.Staged.Root,
		TxCount: uint32(len(txs)), GasUsed: out.GasUsed}
	if err := h.Sign(n.cfg.SequencerKey); err != nil {
		return nil, nil, err
	}
	if hook := n.cfg.Hooks.BeforeCommit; hook != nil {
		if err := hook(h.Height); err != nil {
			n.setFailed(err)
			return nil, nil, fmt.Errorf("block %d: %w", h.Height, err)
		}
	}
	blk := &chain.Block{Header: h, Txs: txs}
	if err := n.store.CommitBlock(blk, out.Receipts, out.Staged.Writes); err != nil {
		n.setFailed(err)
		return nil, nil, fmt.Errorf("commit block %d: %w", h.Height, err)
	}
	apply := func() {
		n.mu.Lock()
		n.st.Commit(out.Staged)
		n.head = h
		close(n.newHead)
		n.newHead = make(chan struct{})
		n.mu.Unlock()
	}
	if fromPool {
		n.pool.commit(built, evict, &n.dropped, apply)
	} else {
		apply()
	}
	n.log.Debug("block", "height", h.Height, "txs", len(txs), "state_root", h.StateRoot.Hex())
	return h, out.Receipts, nil
}

func (n *Node) setFailed(err error) {
	n.mu.Lock()
	if n.failed == nil {
		n.failed = err
	}
	n.mu.Unlock()
}
