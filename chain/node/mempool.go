package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/tx"
)

// Errors SubmitTx returns at the door; each wraps a reason.
var (
	ErrBadSignature   = errors.New("bad signature")
	ErrWrongChain     = errors.New("wrong chain id")
	ErrNonceReplayed  = errors.New("nonce already used")
	ErrNonceGap       = errors.New("nonce gap: an earlier nonce is missing")
	ErrNoncePending   = errors.New("a tx with this nonce is already pending")
	ErrFeeTooLow      = errors.New("max fee below the tx's fee")
	ErrCannotAfford   = errors.New("balance cannot pay the fee")
	ErrMalformed      = errors.New("malformed tx")
	ErrKnownTx        = errors.New("tx already known")
	ErrMempoolFull    = errors.New("mempool full; retry later")
	ErrNotProducing   = errors.New("node is not running")
	ErrTxNotFound     = errors.New("tx not found")
	ErrNotSequencer   = errors.New("node has no sequencer key")
	ErrReceiptTimeout = errors.New("receipt not available yet")
)

// mempool holds accepted txs in arrival order. Each sender's txs arrive in
// nonce order (gaps are refused), so arrival order is a valid block order.
type mempool struct {
	mu      sync.Mutex
	max     int
	queue   []*tx.Tx
	byHash  map[common.Hash]*tx.Tx
	pending map[common.Address]uint64 // sender → count of pending txs
}

func newMempool(max int) *mempool {
	return &mempool{max: max, byHash: map[common.Hash]*tx.Tx{}, pending: map[common.Address]uint64{}}
}

// add admits t from sender; stateNonce reads the committed nonce under the
// pool's lock, so it agrees with the pending counts.
func (m *mempool) add(t *tx.Tx, sender common.Address, nonceOf func(common.Address) uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	stateNonce := nonceOf(sender)
	h := t.Hash()
	if _, ok := m.byHash[h]; ok {
		return fmt.Errorf("%w: %s", ErrKnownTx, h)
	}
	if t.Nonce < stateNonce {
		return fmt.Errorf("%w: nonce %d, account's next is %d", ErrNonceReplayed, t.Nonce, stateNonce)
	}
	next := stateNonce + m.pending[sender]
	if t.Nonce < next {
		return fmt.Errorf("%w: nonce %d", ErrNoncePending, t.Nonce)
	}
	if t.Nonce > next {
		return fmt.Errorf("%w: nonce %d, next is %d", ErrNonceGap, t.Nonce, next)
	}
	if len(m.queue) >= m.max {
		return ErrMempoolFull
	}
	m.queue = append(m.queue, t)
	m.byHash[h] = t
	m.pending[sender]++
	return nil
}

// nextNonce is the nonce a sender's next tx should carry.
func (m *mempool) nextNonce(sender common.Address, nonceOf func(common.Address) uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return nonceOf(sender) + m.pending[sender]
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
	return append([]*tx.Tx(nil), m.queue[:n]...)
}

// commit runs apply (which commits the state) and drops the first len(txs)
// txs (those just included) atomically with respect to add.
func (m *mempool) commit(txs []*tx.Tx, apply func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	apply()
	for _, t := range txs {
		delete(m.byHash, t.Hash())
		if s, err := t.Sender(); err == nil {
			if m.pending[s] <= 1 {
				delete(m.pending, s)
			} else {
				m.pending[s]--
			}
		}
	}
	m.queue = append(m.queue[:0:0], m.queue[len(txs):]...)
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
	return m.byHash[h]
}
