package client

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/api"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/optimistic"
)

// Optimistic claims and games, read under /v1/chain/ (the chain is the
// referee, so its state is the truth):
//
//	GET /v1/chain/claims[?open=true]  → {"claims": [Claim…]}   (open: not finalized or overturned)
//	GET /v1/chain/claims/{id}         → {"claim": Claim, "games": [Game…]}
//	GET /v1/chain/games/{id}          → Game
//
// Claim and Game are optimistic.Claim and optimistic.Game in their JSON form
// (amounts as decimal strings). Actions (claim, challenge, move, step,
// timeout, cancel, finalize) are chain txs sent with PostOptimistic.

// ClaimList is a page of GET /v1/chain/claims (Claims returns all of them
// with no Next).
type ClaimList struct {
	Claims []*optimistic.Claim `json:"claims"`
	Next   string              `json:"next,omitempty"` // the following page's cursor; empty on the last
}

// ClaimDetail is a claim with its games.
type ClaimDetail struct {
	Claim *optimistic.Claim  `json:"claim"`
	Games []*optimistic.Game `json:"games"`
}

// Claims lists optimistic claims, oldest first, only the undecided ones
// when open is set (following every page).
func (c *Client) Claims(ctx context.Context, open bool) (*ClaimList, error) {
	path := "/v1/chain/claims"
	if open {
		path += "?open=true"
	}
	all, err := listAll(ctx, c, path, func(l *ClaimList) []*optimistic.Claim { return l.Claims }, func(l *ClaimList) string { return l.Next })
	if err != nil {
		return nil, err
	}
	return &ClaimList{Claims: all}, nil
}

// Claim returns a claim and its games.
func (c *Client) Claim(ctx context.Context, id common.Hash) (*ClaimDetail, error) {
	var out ClaimDetail
	if err := c.getJSON(ctx, "/v1/chain/claims/"+id.Hex(), &out); err != nil {
		return nil, err
	}
	if out.Claim == nil {
		return nil, fmt.Errorf("claim %s: empty answer", id.Hex())
	}
	return &out, nil
}

// Game returns one game.
func (c *Client) Game(ctx context.Context, id common.Hash) (*optimistic.Game, error) {
	var out optimistic.Game
	if err := c.getJSON(ctx, "/v1/chain/games/"+id.Hex(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PostOptimistic signs an action as a chain tx with key, sends it and waits
// for its receipt; a refused action returns the chain's reason.
func (c *Client) PostOptimistic(ctx context.Context, key *ecdsa.PrivateKey, a *optimistic.Action) (*api.Tx, error) {
	body, err := tx.FromAction(a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Kind, err)
	}
	return c.SendChainTx(ctx, key, body)
}

// PlayProgress is told about each step of PlayGame.
type PlayProgress func(format string, args ...any)

// PlayGame plays side's game with the honest strategy of k until it is
// decided (or ctx ends), polling the chain every poll, and returns the
// decided game.
func (c *Client) PlayGame(ctx context.Context, key *ecdsa.PrivateKey, k *optimistic.Computation, claimID, gameID common.Hash, side optimistic.Side, poll time.Duration, progress PlayProgress) (*optimistic.Game, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	lastMoves, lastTurn := uint32(1<<31), optimistic.Side(0)
	for {
		d, err := c.Claim(ctx, claimID)
		if err != nil {
			return nil, err
		}
		var g *optimistic.Game
		for _, x := range d.Games {
			if x.ID == gameID {
				g = x
			}
		}
		if g == nil {
			return nil, fmt.Errorf("game %s is not on claim %s", gameID.Hex(), claimID.Hex())
		}
		if !g.Active() {
			return g, nil
		}
		if g.Moves != lastMoves || g.Turn != lastTurn {
			progress("game %s: range [%d,%d] after %d moves, %s to move", short(g.ID), g.Lo, g.Hi, g.Moves, g.Turn)
			lastMoves, lastTurn = g.Moves, g.Turn
		}
		now, err := gameNow(ctx, c)
		if err != nil {
			return nil, err
		}
		a, err := k.Next(d.Claim, g, side, now)
		if err != nil {
			return nil, err
		}
		if a.Kind != optimistic.ActNone {
			a.ClaimID = claimID
			if _, err := c.PostOptimistic(ctx, key, &a); err != nil {
				progress("%s refused: %v", a.Kind, err)
			} else {
				progress("posted %s", a.Kind)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("play game %s: %w", gameID.Hex(), ctx.Err())
		case <-t.C:
		}
	}
}

func short(h common.Hash) string { return h.Hex()[:10] }

// OptimisticChain is the chain as the optimistic watcher (package
// optimistic/watcher's Chain interface) sees it over this API, posting with
// Key: what `vscd worker` runs its watcher on.
type OptimisticChain struct {
	Client *Client
	Key    *ecdsa.PrivateKey
}

// Now is the game clock: this machine's time (unix ms), never before the
// head's. Windows and chess clocks run on block time, and the next block
// will carry about now; a small skew only makes a timeout or finalize come
// a tick early (refused, retried) or late.
func (o OptimisticChain) Now(ctx context.Context) (uint64, error) {
	return gameNow(ctx, o.Client)
}

func gameNow(ctx context.Context, c *Client) (uint64, error) {
	h, err := c.ChainHead(ctx)
	if err != nil {
		return 0, err
	}
	return max(uint64(time.Now().UnixMilli()), h.Time+1), nil
}

// Claims returns the claims still open or with undecided games.
func (o OptimisticChain) Claims(ctx context.Context) ([]*optimistic.Claim, error) {
	l, err := o.Client.Claims(ctx, true)
	if err != nil {
		return nil, err
	}
	return l.Claims, nil
}

// Games returns a claim's games.
func (o OptimisticChain) Games(ctx context.Context, claim common.Hash) ([]*optimistic.Game, error) {
	d, err := o.Client.Claim(ctx, claim)
	if err != nil {
		return nil, err
	}
	return d.Games, nil
}

// Claim returns one claim.
func (o OptimisticChain) Claim(ctx context.Context, id common.Hash) (*optimistic.Claim, error) {
	d, err := o.Client.Claim(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.Claim, nil
}

// Post sends the action as a chain tx signed with Key and waits for it.
func (o OptimisticChain) Post(ctx context.Context, a optimistic.Action) error {
	_, err := o.Client.PostOptimistic(ctx, o.Key, &a)
	return err
}
