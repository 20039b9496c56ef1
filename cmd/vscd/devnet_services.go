package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/tee/provider"
)

// The devnet's data-service provider: its fee per job and its stake, and
// the chain's refund lock (short, so the tour's refund unlocks in seconds).
var (
	devProviderFee   = big.NewInt(2)
	devProviderStake = big.NewInt(500)
)

const devRefundLock = 3 // seconds

// initProvider runs the demo iDAO's data-service provider: the devnet's
// enclave, registered on chain as provider under the "provider" account
// (`vscd worker --serve`).
func (d *devnet) initProvider(ctx context.Context) error {
	b, err := d.connectNATS("provider", bus.Config{})
	if err != nil {
		return err
	}
	k := d.key("provider")
	p := provider.New(provider.Config{ChainID: d.chain.ChainID(), IDAO: "demo", Account: keys.Address(k), Fee: devProviderFee,
		Stake: devProviderStake}, d.enclave, b, &nodeSender{n: d.chain, key: k}, d.log)
	return d.run(ctx, "data-service provider "+keys.Address(k).Hex(), p)
}

// nodeSender is a provider's link to an in-process chain node: its
// account's txs, signed and waited for.
type nodeSender struct {
	n   *node.Node
	key *ecdsa.PrivateKey
	mu  sync.Mutex // nonces are assigned in order
}

func (s *nodeSender) Registered(ctx context.Context, a common.Address) (bool, error) {
	_, err := s.n.Provider(a)
	if errors.Is(err, node.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Terms reads the class and its iDAO from the in-process node's state.
func (s *nodeSender) Terms(ctx context.Context, class common.Hash) (*provider.Terms, error) {
	c, err := s.n.Class(class)
	if errors.Is(err, node.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := s.n.IDAO(c.IDAO)
	if err != nil {
		return nil, err
	}
	return &provider.Terms{IDAO: c.IDAO, Submission: c.Provenance.Submission, Floor: int(d.Policy.GroupFloor()),
		Allowed: c.QueryAllowed, Columns: c.QueryColumns}, nil
}

func (s *nodeSender) Send(ctx context.Context, body tx.Body) (*chain.Receipt, error) {
	h, err := s.submit(body)
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", body.Kind(), err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	info, err := s.n.WaitReceipt(wctx, h)
	if err != nil {
		return nil, err
	}
	return info.Receipt, nil
}

func (s *nodeSender) submit(body tx.Body) (common.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fee := new(big.Int).Mul(s.n.Fee(body), big.NewInt(2))
	t, err := tx.New(s.n.ChainID(), s.n.NextNonce(keys.Address(s.key)), fee, body)
	if err != nil {
		return common.Hash{}, err
	}
	if t, err = t.Sign(s.key); err != nil {
		return common.Hash{}, err
	}
	return s.n.SubmitTx(t)
}
