package chainlink

import (
	"context"
	"fmt"
	"math/big"

	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
)

// RemoteIDAOs reads iDAOs from a chain node's HTTP API (for roles that run
// apart from the sequencer: `vscd quorum`).
type RemoteIDAOs struct {
	C *client.Client
}

// IDAO reads an iDAO at the chain's head.
func (r *RemoteIDAOs) IDAO(name string) (*idao.IDAO, error) {
	v, err := r.C.ChainIDAO(context.Background(), name)
	if err != nil {
		return nil, err
	}
	return FromAPI(v)
}

// FromAPI converts the chain API's iDAO view back into the iDAO rules type.
func FromAPI(v *api.IDAO) (*idao.IDAO, error) {
	amount := func(s, what string) (*big.Int, error) {
		if s == "" {
			return new(big.Int), nil
		}
		x, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("iDAO %s: %s %q is not an amount", v.Name, what, s)
		}
		return x, nil
	}
	price, err := amount(v.PolicyFull.Price, "price")
	if err != nil {
		return nil, err
	}
	d := &idao.IDAO{Name: v.Name, Owner: v.Owner, Created: v.Created, Policy: idao.Policy{Modes: v.PolicyFull.Modes,
		Price: price, TEEPolicy: v.PolicyFull.TEEPolicy, VKHash: v.PolicyFull.VKHash, UnstakeDelay: v.PolicyFull.UnstakeDelay}}
	for _, m := range v.Members {
		st, err := amount(m.Stake, "stake")
		if err != nil {
			return nil, err
		}
		pend, err := amount(m.Pending, "pending stake")
		if err != nil {
			return nil, err
		}
		d.Members = append(d.Members, idao.Member{Addr: m.Address, Stake: st, Pending: pend, ReleaseAt: m.ReleaseAt})
	}
	return d, nil
}
