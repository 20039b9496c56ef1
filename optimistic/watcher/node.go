package watcher

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/optimistic"
)

// NodeChain is the in-process chain node (the devnet's) as a watcher Chain:
// reads come from the node's state, posts are txs signed with Key, each
// awaited until it is in a block. Over HTTP use client.OptimisticChain.
type NodeChain struct {
	N   *node.Node
	Key *ecdsa.PrivateKey
	// Clock is the node's clock (default time.Now).
	Clock func() time.Time
}

// Now is the time the next block will carry at least (unix ms).
func (c NodeChain) Now(context.Context) (uint64, error) {
	now := time.Now
	if c.Clock != nil {
		now = c.Clock
	}
	return max(uint64(now().UnixMilli()), c.N.Head().Time+1), nil
}

// Claims returns the claims still open or with undecided games.
func (c NodeChain) Claims(context.Context) ([]*optimistic.Claim, error) { return c.N.Claims(true), nil }

// Games returns a claim's games.
func (c NodeChain) Games(_ context.Context, claim common.Hash) ([]*optimistic.Game, error) {
	return c.N.Games(claim), nil
}

// Claim returns one claim.
func (c NodeChain) Claim(_ context.Context, id common.Hash) (*optimistic.Claim, error) {
	return c.N.Claim(id)
}

// Post signs the action as a tx, submits it and waits for its receipt; a
// failed receipt is an error carrying the chain's reason.
func (c NodeChain) Post(ctx context.Context, a optimistic.Action) error {
	body, err := tx.FromAction(&a)
	if err != nil {
		return err
	}
	if err := c.Send(ctx, body); err != nil {
		return fmt.Errorf("%s: %w", a.Kind, err)
	}
	return nil
}

// Send signs any tx body with Key, submits it and waits for its receipt.
func (c NodeChain) Send(ctx context.Context, body tx.Body) error {
	from := crypto.PubkeyToAddress(c.Key.PublicKey)
	t, err := tx.New(c.N.ChainID(), c.N.NextNonce(from), c.N.Fee(body), body)
	if err != nil {
		return err
	}
	if _, err := t.Sign(c.Key); err != nil {
		return err
	}
	h, err := c.N.SubmitTx(t)
	if err != nil {
		return fmt.Errorf("submit %s: %w", body.Kind(), err)
	}
	info, err := c.N.WaitReceipt(ctx, h)
	if err != nil {
		return err
	}
	if info.Receipt.Status != chain.StatusSuccess {
		return fmt.Errorf("%s tx %s failed: %w", body.Kind(), h.Hex(), info.Receipt.Err())
	}
	return nil
}
