package chainlink

import (
	"context"
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

// JobFacts reads what a job is checked against at the head: the token, its
// class and iDAO, the provider and whether it is attested, the app's
// sub-account with it. Now is the wall clock (the next block's time is at
// least it).
func (l *Local) JobFacts(ctx context.Context, app common.Address, r *jobreq.Request) (*coordinator.JobFacts, error) {
	f := &coordinator.JobFacts{Now: uint64(time.Now().Unix())}
	if t, err := l.Chain.Token(r.Token); err == nil {
		f.Token = t
		if c, err := l.Chain.Class(t.Class); err == nil {
			f.Class = c
			if d, err := l.Chain.IDAO(c.IDAO); err == nil {
				f.IDAO = d
			}
		}
	}
	if p, err := l.Chain.Provider(r.Provider); err == nil {
		f.Provider = p
		f.Attested = l.Chain.ProviderView(p).Attested
	}
	if a, err := l.Chain.EscrowAccount(app, r.Provider); err == nil {
		f.Escrow = a
	}
	return f, nil
}

// SettledJob is the chain's record of a settled job (nil: not settled).
func (l *Local) SettledJob(ctx context.Context, id common.Hash) (*escrow.Settled, error) {
	s, err := l.Chain.SettledJob(id)
	if errors.Is(err, node.ErrNotFound) {
		return nil, nil
	}
	return s, err
}
