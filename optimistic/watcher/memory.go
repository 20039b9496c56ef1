package watcher

import (
	"context"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/optimistic"
)

// Memory is a Data that serves datasets put into it by commitment (the
// devnet's executor puts what it opened, so the in-process watcher can
// recompute any claim on it). It keeps at most Max datasets (default 256),
// dropping the oldest; the plaintext never leaves the process.
type Memory struct {
	Max   int
	mu    sync.Mutex
	m     map[common.Hash]*records.Dataset
	order []common.Hash
}

// Put remembers ds under the commitment its submission declares (a
// mismatch is caught when the watcher checks the data against a claim).
func (m *Memory) Put(commitment common.Hash, ds *records.Dataset) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[common.Hash]*records.Dataset)
	}
	if _, ok := m.m[commitment]; !ok {
		m.order = append(m.order, commitment)
	}
	m.m[commitment] = ds
	limit := m.Max
	if limit <= 0 {
		limit = 256
	}
	for len(m.order) > limit {
		delete(m.m, m.order[0])
		m.order = m.order[1:]
	}
}

// Dataset returns the dataset of a claim's commitment, or ErrNoData.
func (m *Memory) Dataset(_ context.Context, c *optimistic.Claim) (*records.Dataset, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ds, ok := m.m[c.Commitment]; ok {
		return ds, nil
	}
	return nil, ErrNoData
}
