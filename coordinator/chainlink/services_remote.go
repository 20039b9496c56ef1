package chainlink

import (
	"context"
	"math/big"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

// JobFacts reads a job's chain facts over the chain's HTTP API (absent
// objects are nil; a transport error is an error).
func (r *Remote) JobFacts(ctx context.Context, app common.Address, rq *jobreq.Request) (*coordinator.JobFacts, error) {
	f := &coordinator.JobFacts{Now: uint64(time.Now().Unix())}
	absent := func(err error) bool { return client.IsCode(err, codes.NotFound) }
	t, err := r.Client.DATToken(ctx, rq.Token)
	switch {
	case err == nil:
		f.Token = &dat.Token{ID: t.ID, Class: t.Class, Owner: t.Owner, Value: t.Value, Shares: t.Shares, Expires: t.Expires}
		c, err := r.Client.DATClass(ctx, t.Class)
		if err != nil && !absent(err) {
			return nil, err
		}
		if err == nil {
			f.Class = &dat.Class{ID: c.ID, IDAO: c.IDAO, Provenance: c.Provenance}
			if f.IDAO, err = r.IDAO(ctx, c.IDAO); err != nil && !absent(err) {
				return nil, err
			}
		}
	case !absent(err):
		return nil, err
	}
	p, err := r.Client.Provider(ctx, rq.Provider)
	switch {
	case err == nil:
		fee, _ := new(big.Int).SetString(p.Fee, 10)
		stake, _ := new(big.Int).SetString(p.Stake, 10)
		f.Provider = &escrow.Provider{Address: p.Address, IDAO: p.IDAO, PubKey: p.EnclaveKey, Enclave: p.Enclave, Fee: fee, Stake: stake}
		f.Attested = p.Attested
	case !absent(err):
		return nil, err
	}
	esc, err := r.Client.Escrow(ctx, app)
	if err != nil {
		return nil, err
	}
	for _, a := range esc.Accounts {
		if a.Provider == rq.Provider {
			bal, _ := new(big.Int).SetString(a.Balance, 10)
			pend, _ := new(big.Int).SetString(a.PendingRefund, 10)
			f.Escrow = &escrow.Account{App: app, Provider: a.Provider, Balance: bal, Pending: pend, UnlocksAt: a.UnlocksAt, Nonce: a.Nonce}
		}
	}
	return f, nil
}

// SettledJob is the chain's record of a settled job (nil: not settled).
func (r *Remote) SettledJob(ctx context.Context, id common.Hash) (*escrow.Settled, error) {
	s, err := r.Client.SettledJob(ctx, id)
	if client.IsCode(err, codes.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	units, _ := strconv.ParseUint(s.Units, 10, 64)
	fee, _ := new(big.Int).SetString(s.Fee, 10)
	return &escrow.Settled{ID: s.ID, App: s.App, Provider: s.Provider, Class: s.Class, Token: s.Token, Units: units, Fee: fee,
		ResultHash: s.ResultHash, Tx: s.Tx, Height: s.Block}, nil
}
