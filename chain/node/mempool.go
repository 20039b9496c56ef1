package node

import (
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

// Errors SubmitTx returns at the door; each carries its failure code (the
// HTTP handler answers with it, codes.Error's shape) and is wrapped with
// the specifics. errors.Is matches them by code.
var (
	ErrBadSignature   = codes.New(codes.BadSignature, "bad signature")
	ErrWrongChain     = codes.New(codes.WrongChain, "wrong chain id")
	ErrNonceReplayed  = codes.New(codes.NonceReplayed, "nonce already used")
	ErrNonceGap       = codes.New(codes.NonceGap, "nonce gap: an earlier nonce is missing")
	ErrNoncePending   = codes.New(codes.NoncePending, "a tx with this nonce is already pending")
	ErrFeeTooLow      = codes.New(codes.FeeTooLow, "max fee below the tx's fee")
	ErrCannotAfford   = codes.New(codes.InsufficientBalance, "balance cannot pay for the sender's pending txs and this one")
	ErrMalformed      = codes.New(codes.MalformedTx, "malformed tx")
	ErrTooLarge       = codes.New(codes.TxTooLarge, "tx too large")
	ErrKnownTx        = codes.New(codes.KnownTx, "tx already known")
	ErrSenderFull     = codes.New(codes.SenderPendingFull, "the sender has as many pending txs as the mempool takes from one sender; wait for some to be included")
	ErrMempoolFull    = codes.New(codes.MempoolFull, "mempool full; retry later")
	ErrNotProducing   = codes.New(codes.NotProducing, "node is not running")
	ErrTxNotFound     = codes.New(codes.NotFound, "tx not found")
	ErrNotSequencer   = codes.New(codes.NotSequencer, "node has no sequencer key")
	ErrReceiptTimeout = errors.New("receipt not available yet")
	ErrDropped        = codes.New(codes.TxDropped, "tx dropped from its block: it failed the pre-checks when the block was built, and will never be included")
)

// MaxDroppedKept is how many dropped txs (and their sender's evicted later
// txs) the node remembers, so a waiter learns at once that its tx will
// never land.
const MaxDroppedKept = 4096

// droppedLog remembers the latest dropped txs and why, oldest forgotten
// first.
type droppedLog struct {
	mu    sync.Mutex
	why   map[common.Hash]error
	order []common.Hash
}

func (d *droppedLog) add(h common.Hash, why error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.why == nil {
		d.why = map[common.Hash]error{}
	}
	if _, ok := d.why[h]; ok {
		return
	}
	if len(d.order) >= MaxDroppedKept {
		delete(d.why, d.order[0])
		d.order = d.order[1:]
	}
	d.why[h] = why
	d.order = append(d.order, h)
}

// forget drops h's record (the same tx was admitted again).
func (d *droppedLog) forget(h common.Hash) {
	d.mu.Lock()
	delete(d.why, h)
	d.mu.Unlock()
}

func (d *droppedLog) get(h common.Hash) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.why[h]
}

// Admission limits of the mempool. One sender may hold at most
// MaxPendingPerSender txs and MaxPendingBytesPerSender encoded bytes in
// the pool; the whole pool holds at most Config.MempoolSize txs and
// Config.MempoolBytes bytes (defaults below). A refusal names the cap.
const (
	// MaxPendingPerSender is how many txs of one sender may wait: far more
	// than any honest role sends in a block time (the coordinator sends a
	// few anchor batches and mints per block).
	MaxPendingPerSender = 1024
	// MaxPendingBytesPerSender is how many encoded bytes of one sender may
	// wait: 64 txs of tx.MaxSize.
	MaxPendingBytesPerSender = 64 * tx.MaxSize
	// DefaultMempoolSize is the default cap of the pool's txs.
	DefaultMempoolSize = 200_000
	// DefaultMempoolBytes is the default cap of the pool's encoded bytes.
	DefaultMempoolBytes = 256 << 20
)

// pooled is a tx in the pool with what admission charged it.
type pooled struct {
	t      *tx.Tx
	sender common.Address
	size   int
	cost   *big.Int // fee plus the amount the tx moves, where its body says
}

// senderLoad is what one sender holds in the pool.
type senderLoad struct {
	count int
	bytes int
	cost  *big.Int
}

// mempool holds accepted txs in arrival order. Each sender's txs arrive in
// nonce order (gaps are refused), so arrival order is a valid block order.
// A sender's pending txs are covered by its balance as a whole: the sum of
// their fees and of the amounts they move may not exceed it.
type mempool struct {
	mu       sync.Mutex
	maxTxs   int
	maxBytes int
	bytes    int
	queue    []*pooled
	byHash   map[common.Hash]*pooled
	senders  map[common.Address]*senderLoad
}

func newMempool(maxTxs, maxBytes int) *mempool {
	return &mempool{maxTxs: maxTxs, maxBytes: maxBytes, byHash: map[common.Hash]*pooled{}, senders: map[common.Address]*senderLoad{}}
}

// account is what the pool reads of a sender's committed state.
type account func(common.Address) (nonce uint64, balance *big.Int)

// check runs the admission checks of e against the pool and the committed
// state (read by acct under the pool's lock, so it agrees with the pending
// counts: blocks commit under that lock too). It needs no signature: add
// repeats it once the signature is known good.
func (m *mempool) check(e *pooled, acct account) error {
	h := e.t.Hash()
	if _, ok := m.byHash[h]; ok {
		return fmt.Errorf("%w: %s", ErrKnownTx, h)
	}
	nonce, balance := acct(e.sender)
	if e.t.Nonce < nonce {
		return fmt.Errorf("%w: nonce %d, account's next is %d", ErrNonceReplayed, e.t.Nonce, nonce)
	}
	s := m.senders[e.sender]
	if s == nil {
		s = &senderLoad{cost: new(big.Int)}
	}
	next := nonce + uint64(s.count)
	if e.t.Nonce < next {
		return fmt.Errorf("%w: nonce %d", ErrNoncePending, e.t.Nonce)
	}
	if e.t.Nonce > next {
		return fmt.Errorf("%w: nonce %d, next is %d", ErrNonceGap, e.t.Nonce, next)
	}
	switch {
	case s.count >= MaxPendingPerSender:
		return fmt.Errorf("%w (cap: %d txs a sender, MaxPendingPerSender)", ErrSenderFull, MaxPendingPerSender)
	case s.bytes+e.size > MaxPendingBytesPerSender:
		return fmt.Errorf("%w (cap: %d bytes a sender, MaxPendingBytesPerSender; %d pending, this tx %d)",
			ErrSenderFull, MaxPendingBytesPerSender, s.bytes, e.size)
	case len(m.queue) >= m.maxTxs:
		return fmt.Errorf("%w (cap: %d txs)", ErrMempoolFull, m.maxTxs)
	case m.bytes+e.size > m.maxBytes:
		return fmt.Errorf("%w (cap: %d bytes)", ErrMempoolFull, m.maxBytes)
	}
	if need := new(big.Int).Add(s.cost, e.cost); balance.Cmp(need) < 0 {
		return fmt.Errorf("%w: balance %s, the %d pending txs need %s and this one %s", ErrCannotAfford, balance, s.count, s.cost, e.cost)
	}
	return nil
}

// precheck is check without adding, for the cheap checks SubmitTx runs
// before any signature recovery.
func (m *mempool) precheck(e *pooled, acct account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.check(e, acct)
}

// add admits e after checking it again.
func (m *mempool) add(e *pooled, acct account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(e, acct); err != nil {
		return err
	}
	s := m.senders[e.sender]
	if s == nil {
		s = &senderLoad{cost: new(big.Int)}
		m.senders[e.sender] = s
	}
	s.count++
	s.bytes += e.size
	s.cost.Add(s.cost, e.cost)
	m.bytes += e.size
	m.queue = append(m.queue, e)
	m.byHash[e.t.Hash()] = e
	return nil
}

// nextNonce is the nonce a sender's next tx should carry.
func (m *mempool) nextNonce(sender common.Address, nonceOf func(common.Address) uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := nonceOf(sender)
	if s := m.senders[sender]; s != nil {
		n += uint64(s.count)
	}
	return n
}

func (m *mempool) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

// peek returns up to n txs in block order without removing them.
func (m *mempool) peek(n int) []*tx.Tx {
	m.mu.Lock()
	defer m.mu.Unlock()
	n = min(n, len(m.queue))
	out := make([]*tx.Tx, n)
	for i := range out {
		out[i] = m.queue[i].t
	}
	return out
}

// commit runs apply (which commits the state) and drops the first n txs
// (those just built into a block, included or dropped) atomically with
// respect to add. The later txs of each sender in evict are dropped too:
// one of its txs was dropped from the block, so their nonces can no longer
// apply; they are noted in log.
func (m *mempool) commit(n int, evict map[common.Address]bool, log *droppedLog, apply func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply()
	for _, e := range m.queue[:n] {
		m.forget(e)
	}
	rest := m.queue[n:]
	if len(evict) > 0 {
		kept := rest[:0:0]
		for _, e := range rest {
			if evict[e.sender] {
				m.forget(e)
				log.add(e.t.Hash(), errors.New("an earlier tx of its sender was dropped, so its nonce cannot apply"))
				continue
			}
			kept = append(kept, e)
		}
		rest = kept
	}
	m.queue = append(m.queue[:0:0], rest...)
}

// forget removes e from the indexes and its sender's load.
func (m *mempool) forget(e *pooled) {
	delete(m.byHash, e.t.Hash())
	m.bytes -= e.size
	s := m.senders[e.sender]
	if s == nil {
		return
	}
	if s.count <= 1 {
		delete(m.senders, e.sender)
		return
	}
	s.count--
	s.bytes -= e.size
	s.cost.Sub(s.cost, e.cost)
}

func (m *mempool) has(h common.Hash) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byHash[h]
	return ok
}

func (m *mempool) get(h common.Hash) *tx.Tx {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.byHash[h]; e != nil {
		return e.t
	}
	return nil
}
