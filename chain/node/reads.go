package node

import (
	"context"
	"fmt"
	"sort"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/store"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/eip712"
)

// ErrNotFound is returned by reads of absent objects.
var ErrNotFound = codes.New(codes.NotFound, "not found")

func (n *Node) load(key string, v any, what string) error {
	b := n.st.Get(key)
	if b == nil {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err := state.Decode(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// Account returns a's account (zero if it never received anything).
func (n *Node) Account(a common.Address) *state.Account {
	acc := state.NewAccount()
	if b := n.st.Get(state.AccountKey(a)); b != nil {
		_ = state.Decode(b, acc)
	}
	return acc
}

// IDAO returns the iDAO called name.
func (n *Node) IDAO(name string) (*idao.IDAO, error) {
	d := new(idao.IDAO)
	return d, n.load(state.IDAOKey(name), d, "idao "+name)
}

// IDAOs returns every iDAO, sorted by name.
func (n *Node) IDAOs() []*idao.IDAO {
	var out []*idao.IDAO
	n.st.Range(state.PrefixIDAO, func(_ string, v []byte) bool {
		d := new(idao.IDAO)
		if state.Decode(v, d) == nil {
			out = append(out, d)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EnclaveRegistered reports whether pub is an enclave key registered on
// chain for the iDAO called name (quorum members check the key of every
// piece of TEE evidence with it).
func (n *Node) EnclaveRegistered(name string, pub []byte) (bool, error) {
	return n.st.Get(state.EnclaveKey(name, pub)) != nil, nil
}

// Enclaves returns the enclave keys registered for the iDAO called name,
// newest first, at most limit of them.
func (n *Node) Enclaves(name string, limit int) []*state.Enclave {
	var out []*state.Enclave
	n.st.Range(state.PrefixEnclave, func(k string, v []byte) bool {
		if len(k) != len(state.PrefixEnclave)+32+len(name) || k[len(state.PrefixEnclave)+32:] != name {
			return true
		}
		e := new(state.Enclave)
		if state.Decode(v, e) == nil {
			out = append(out, e)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Height != out[j].Height {
			return out[i].Height > out[j].Height
		}
		return string(out[i].PubKey) < string(out[j].PubKey)
	})
	return out[:min(len(out), limit)]
}

// IDAOProof proves, under the head, the iDAO called name and its
// registered enclave keys: the one whose public key is pub (its presence
// or its absence), or with pub nil the newest proof.MaxEnclaveProofs of
// them. Every proof is taken under one header, so they agree.
func (n *Node) IDAOProof(name string, pub []byte) *proof.IDAO {
	keys := [][]byte{pub}
	if pub == nil {
		// listed before the lock: the scan must not hold up a block's commit
		keys = keys[:0]
		for _, e := range n.Enclaves(name, proof.MaxEnclaveProofs) {
			keys = append(keys, e.PubKey)
		}
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := &proof.IDAO{Header: n.head, Enclaves: make([]*state.Proof, 0, len(keys))}
	out.IDAO, _ = n.st.Prove(state.IDAOKey(name))
	for _, k := range keys {
		p, _ := n.st.Prove(state.EnclaveKey(name, k))
		out.Enclaves = append(out.Enclaves, p)
	}
	return out
}

// Class returns a DAT class.
func (n *Node) Class(id common.Hash) (*dat.Class, error) {
	c := new(dat.Class)
	return c, n.load(state.ClassKey(id), c, "dat class "+id.Hex())
}

// Classes returns every DAT class, oldest first.
func (n *Node) Classes() []*dat.Class {
	var out []*dat.Class
	n.st.Range(state.PrefixClass, func(_ string, v []byte) bool {
		c := new(dat.Class)
		if state.Decode(v, c) == nil {
			out = append(out, c)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID.Cmp(out[j].ID) < 0
	})
	return out
}

// Token returns a DAT token.
func (n *Node) Token(id common.Hash) (*dat.Token, error) {
	t := new(dat.Token)
	return t, n.load(state.TokenKey(id), t, "dat token "+id.Hex())
}

// Tokens returns the tokens of a class (zero: any class) owned by owner
// (zero: anyone), sorted by id.
func (n *Node) Tokens(class common.Hash, owner common.Address) []*dat.Token {
	var out []*dat.Token
	n.st.Range(state.PrefixToken, func(_ string, v []byte) bool {
		t := new(dat.Token)
		if state.Decode(v, t) != nil {
			return true
		}
		if (class == common.Hash{} || t.Class == class) && (owner == common.Address{} || t.Owner == owner) {
			out = append(out, t)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID.Cmp(out[j].ID) < 0 })
	return out
}

// Claimable returns what a token's holder can claim now.
func (n *Node) Claimable(t *dat.Token) string {
	c, err := n.Class(t.Class)
	if err != nil {
		return "0"
	}
	return dat.Claimable(c, t).String()
}

// Anchor returns the anchor of a result digest.
func (n *Node) Anchor(digest common.Hash) (*state.Anchor, error) {
	a := new(state.Anchor)
	return a, n.load(state.AnchorKey(digest), a, "anchor "+digest.Hex())
}

// Bond returns a bond: a claim's or a game's, or else a user bond (the two
// live in separate namespaces; a game's bond has the zero arbiter).
func (n *Node) Bond(id common.Hash) (*state.Bond, error) {
	b := new(state.Bond)
	if n.st.Get(state.BondKey(id)) == nil {
		return b, n.load(state.UserBondKey(id), b, "bond "+id.Hex())
	}
	return b, n.load(state.BondKey(id), b, "bond "+id.Hex())
}

// TxProof returns the inclusion proof of a committed tx.
func (n *Node) TxProof(h common.Hash) (*proof.Proof, error) {
	height, idx, err := n.store.TxLocation(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTxNotFound, h)
	}
	// the index is written with the block, a moment before the node's head
	// and state move to it: a tx is found only once reads see its block, so
	// whoever waited for its receipt then reads state that holds it
	n.mu.RLock()
	head := n.head.Height
	n.mu.RUnlock()
	if height > head {
		return nil, fmt.Errorf("%w: %s", ErrTxNotFound, h)
	}
	blk, err := n.store.Block(height)
	if err != nil {
		return nil, err
	}
	return proof.NewTx(blk, int(idx)), nil
}

// StateProof proves the value (or absence) of a state key at the head.
func (n *Node) StateProof(key string) *proof.Proof {
	n.mu.RLock()
	defer n.mu.RUnlock()
	p, _ := n.st.Prove(key)
	return proof.NewState(n.head, p)
}

// ClassRedeems returns up to limit successful dat_redeem txs of class's
// tokens, newest first, older than the sort key before (nil: the newest),
// from the store's side index (no consensus data); more reports whether
// older ones remain. A redeem of a block the node's reads do not see yet
// is left out, as Tx leaves its tx out.
func (n *Node) ClassRedeems(class common.Hash, before []byte, limit int) ([]store.Redeem, bool, error) {
	n.mu.RLock()
	head := n.head.Height
	n.mu.RUnlock()
	for {
		rs, more, err := n.store.Redeems(class, before, limit)
		if err != nil {
			return nil, false, err
		}
		i := 0
		for i < len(rs) && rs[i].Height > head {
			i++
		}
		if i == 0 || i < len(rs) || !more {
			return rs[i:], more, nil
		}
		// the whole page is of blocks after the head (a block being
		// committed): read on from below them
		before = rs[len(rs)-1].Key()
	}
}

// Redeem returns the sequencer-signed receipt of a successful dat_redeem tx.
func (n *Node) Redeem(h common.Hash) (*api.RedeemReceipt, error) {
	info, err := n.Tx(h)
	if err != nil {
		return nil, err
	}
	if info.Tx.Kind != tx.KindDATRedeem || info.Receipt.Status != chain.StatusSuccess {
		return nil, fmt.Errorf("tx %s is not a successful dat_redeem", h)
	}
	if n.cfg.SequencerKey == nil {
		return nil, ErrNotSequencer
	}
	var ev *chain.Event
	for i := range info.Receipt.Events {
		if info.Receipt.Events[i].Type == "dat_redeemed" {
			ev = &info.Receipt.Events[i]
		}
	}
	if ev == nil {
		return nil, fmt.Errorf("tx %s has no redemption event", h)
	}
	var units, left uint64
	fmt.Sscan(ev.Get("units"), &units)
	fmt.Sscan(ev.Get("left"), &left)
	r := &api.RedeemReceipt{Token: common.HexToHash(ev.Get("token")), Class: common.HexToHash(ev.Get("class")),
		Owner: common.HexToAddress(ev.Get("owner")), Units: units, Left: left, Tx: h, Block: info.Height,
		ChainID: n.genesis.ChainID, Sequencer: n.genesis.Sequencer}
	sig, err := eip712.Sign(n.cfg.SequencerKey, r.Digest())
	if err != nil {
		return nil, err
	}
	r.Signature = common.Bytes2Hex(sig)
	r.Signature = "0x" + r.Signature
	return r, nil
}

// TxInfo is a committed tx with its receipt and place.
type TxInfo struct {
	Tx        *tx.Tx
	Receipt   *chain.Receipt
	Height    uint64
	Index     uint32
	BlockHash common.Hash
}

// Tx returns a committed tx and its receipt (ErrTxNotFound otherwise).
func (n *Node) Tx(h common.Hash) (*TxInfo, error) {
	height, idx, err := n.store.TxLocation(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTxNotFound, h)
	}
	// the index is written with the block, a moment before the node's head
	// and state move to it: a tx is found only once reads see its block, so
	// whoever waited for its receipt then reads state that holds it
	n.mu.RLock()
	head := n.head.Height
	n.mu.RUnlock()
	if height > head {
		return nil, fmt.Errorf("%w: %s", ErrTxNotFound, h)
	}
	blk, err := n.store.Block(height)
	if err != nil {
		return nil, err
	}
	rs, err := n.store.Receipts(height)
	if err != nil {
		return nil, err
	}
	if int(idx) >= len(blk.Txs) || int(idx) >= len(rs) {
		return nil, fmt.Errorf("tx %s: index %d out of range", h, idx)
	}
	return &TxInfo{Tx: blk.Txs[idx], Receipt: rs[idx], Height: height, Index: idx, BlockHash: blk.Header.Hash()}, nil
}

// Pending reports whether a tx is waiting in the mempool.
func (n *Node) Pending(h common.Hash) bool { return n.pool.has(h) }

// WaitReceipt blocks until tx h is in a block (or ctx ends) and returns it.
func (n *Node) WaitReceipt(ctx context.Context, h common.Hash) (*TxInfo, error) {
	for {
		n.mu.RLock()
		ch := n.newHead
		n.mu.RUnlock()
		if info, err := n.Tx(h); err == nil {
			return info, nil
		}
		if why := n.dropped.get(h); why != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrDropped, h, why)
		}
		if err := n.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotProducing, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %v", ErrReceiptTimeout, h, ctx.Err())
		case <-ch:
		}
	}
}

// Block returns the block at height.
func (n *Node) Block(height uint64) (*chain.Block, error) { return n.store.Block(height) }

// BlockByHash returns the block with header hash h.
func (n *Node) BlockByHash(h common.Hash) (*chain.Block, error) {
	height, err := n.store.HeightOf(h)
	if err != nil {
		return nil, err
	}
	return n.store.Block(height)
}

// Receipts returns the receipts of the block at height.
func (n *Node) Receipts(height uint64) ([]*chain.Receipt, error) { return n.store.Receipts(height) }

// State exposes the state for reads (Get, Range, Prove).
func (n *Node) State() *state.State { return n.st }

// PoolSize is the number of txs waiting in the mempool.
func (n *Node) PoolSize() int { return n.pool.size() }
