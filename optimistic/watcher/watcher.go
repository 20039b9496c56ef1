// Package watcher is the optimistic role that keeps claims honest: it
// recomputes every open claim it can read, challenges wrong ones and plays
// their games to the end; it posts its own (executor) claims and defends
// them; and it does the public chores anyone may do — timing out games whose
// side to move overran its clock, cancelling games of overturned claims and
// finalizing claims whose window has passed.
//
// It reaches the chain and the plaintext through two small interfaces
// (Chain, Data), so its decisions are tested without a chain or an enclave.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Chain is the watcher's view of the chain.
type Chain interface {
	// Now is the game clock now: the time (unix ms) the next block will
	// carry at least, which is what windows and chess clocks run on.
	Now(ctx context.Context) (uint64, error)
	// Claims returns the claims that are open or still have undecided games.
	Claims(ctx context.Context) ([]*optimistic.Claim, error)
	// Games returns the games of a claim.
	Games(ctx context.Context, claim common.Hash) ([]*optimistic.Game, error)
	// Claim returns one claim, whatever its status.
	Claim(ctx context.Context, id common.Hash) (*optimistic.Claim, error)
	// Post sends an action as the watcher's account and returns once the
	// chain has accepted or refused it.
	Post(ctx context.Context, a optimistic.Action) error
}

// Data gives the plaintext records of a claim's submission.
type Data interface {
	// Dataset returns the submission's records, or an error wrapping
	// ErrNoData when this watcher cannot read them (not its enclave key).
	Dataset(ctx context.Context, c *optimistic.Claim) (*records.Dataset, error)
}

// Errors.
var (
	// ErrNoData marks a submission this watcher cannot decrypt.
	ErrNoData = errors.New("watcher: no plaintext for this submission")
	// ErrDataMismatch: the plaintext does not commit to the submission's commitment and count.
	ErrDataMismatch = errors.New("watcher: the data does not match the submission")
)

// DefaultEvery is how often a started Watcher passes over the claims when
// Every is not set: a few times a block of a devnet's chain, well inside the
// shortest chess clock.
const DefaultEvery = 250 * time.Millisecond

// Watcher decides and posts; one Tick is one pass over the open claims. It
// is a service.Service: Start ticks every Every on a goroutine of its own
// until Stop.
type Watcher struct {
	Chain Chain
	Data  Data
	// Addr is the account Chain.Post signs with.
	Addr common.Address
	// Bond is what the watcher locks per challenge (≥ the policy minimum).
	Bond *big.Int
	Log  *slog.Logger
	// Every is how often Start's loop ticks (default DefaultEvery).
	Every time.Duration

	loop  service.Group
	mu    sync.Mutex
	views map[common.Hash]*view
	// postMu serialises posts: they are txs of one account, whose nonces
	// must not race (the job handler and the Run loop both post).
	postMu sync.Mutex
}

func (w *Watcher) send(ctx context.Context, a optimistic.Action) error {
	w.postMu.Lock()
	defer w.postMu.Unlock()
	return w.Chain.Post(ctx, a)
}

// view is the watcher's verdict on one claim.
type view struct {
	agrees bool
	skip   string                  // why the watcher stays out (no data, data not the commitment)
	comp   *optimistic.Computation // set when playing (a dispute, or our own claim)
}

// Actions is what one Tick posted (and what the chain refused).
type Actions struct {
	Posted  []optimistic.Action
	Refused []error
}

func (w *Watcher) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}

// Claim computes a submission's facts from its plaintext, posts the claim
// (with the contributor-signed submission, so the chain takes the id,
// commitment and record count from the contributor) and remembers the
// computation to defend it. With faulty set it claims a wrong result
// (devnet --faulty-executor), and defends that one.
func (w *Watcher) Claim(ctx context.Context, chainID uint64, sub *submission.Submission, sig []byte, ds *records.Dataset, p facts.Params, bond *big.Int, faulty bool) (*optimistic.Claim, error) {
	subID := sub.Digest(chainID)
	k, err := optimistic.Compute(ds, ds.Fields, p)
	if err != nil {
		return nil, fmt.Errorf("compute claim of %s: %w", subID.Hex(), err)
	}
	if k.Commitment != sub.Commitment || k.Trace.N() != sub.Records {
		return nil, fmt.Errorf("%w: claim of %s: the data commits to %s (%d records), the submission to %s (%d records)",
			ErrDataMismatch, subID.Hex(), k.Commitment.Hex(), k.Trace.N(), sub.Commitment.Hex(), sub.Records)
	}
	if faulty {
		k = optimistic.Faulty(k)
	}
	r := k.ClaimRequest(subID, ds.Fields, p, bond)
	a := optimistic.Action{Kind: optimistic.ActClaim, Claim: r,
		Signed: &optimistic.SignedSubmission{Submission: *sub, Signature: sig}}
	id := optimistic.ClaimID(subID, w.Addr, r.Result, r.TraceRoot)
	if err := w.send(ctx, a); err != nil {
		// A redelivered job finds its claim already posted: same id, same claim.
		if c, gerr := w.Chain.Claim(ctx, id); gerr != nil || c.Executor != w.Addr {
			return nil, fmt.Errorf("post claim of %s: %w", subID.Hex(), err)
		}
	}
	w.mu.Lock()
	w.viewsMap()[id] = &view{agrees: true, comp: k}
	w.mu.Unlock()
	return &optimistic.Claim{ID: id, Submission: subID, Commitment: r.Commitment, N: r.N, Fields: r.Fields,
		FactsParams: p, Result: r.Result, TraceRoot: r.TraceRoot, Executor: w.Addr, Bond: bond}, nil
}

func (w *Watcher) viewsMap() map[common.Hash]*view {
	if w.views == nil {
		w.views = make(map[common.Hash]*view)
	}
	return w.views
}

// Check is the watcher's verdict on a claim from the plaintext: whether the
// claim's result is the facts digest of the records under the claim's start
// state. It is the hot path (every claim), so it computes the facts only;
// the trace and record tree are built only for a dispute.
func Check(c *optimistic.Claim, ds *records.Dataset) (bool, error) {
	if len(c.Fields) != len(ds.Fields) || uint64(ds.Len()) != c.N {
		return false, nil
	}
	s := facts.New(c.Fields, c.FactsParams)
	for i, dup := range facts.Hints(ds) {
		if err := s.Apply(ds.Records[i], dup); err != nil {
			return false, err
		}
	}
	return s.Digest() == c.Result, nil
}

func (w *Watcher) evaluate(ctx context.Context, c *optimistic.Claim) *view {
	w.mu.Lock()
	v := w.viewsMap()[c.ID]
	w.mu.Unlock()
	if v != nil {
		return v
	}
	v = w.judge(ctx, c)
	w.mu.Lock()
	w.viewsMap()[c.ID] = v
	w.mu.Unlock()
	return v
}

func (w *Watcher) judge(ctx context.Context, c *optimistic.Claim) *view {
	ds, err := w.Data.Dataset(ctx, c)
	if err != nil {
		if !errors.Is(err, ErrNoData) {
			w.log().Warn("claim data unavailable", "claim", c.ID.Hex(), "err", err)
		}
		return &view{skip: "no data"}
	}
	if !slices.Equal(c.Fields, ds.Fields) {
		// The commitment does not bind field names: not disputable on chain.
		w.log().Warn("claim names other fields than the data's header", "claim", c.ID.Hex())
	}
	ok, err := Check(c, ds)
	if err != nil {
		return &view{skip: err.Error()}
	}
	if ok {
		return &view{agrees: true}
	}
	k, err := optimistic.Compute(ds, c.Fields, c.FactsParams)
	if err != nil {
		return &view{skip: err.Error()}
	}
	if err := k.Matches(c); err != nil {
		w.log().Warn("plaintext does not match the claim's commitment; not challenging", "claim", c.ID.Hex())
		return &view{skip: "data does not match the commitment"}
	}
	w.log().Info("wrong claim", "claim", c.ID.Hex(), "submission", c.Submission.Hex(), "claimed", c.Result.Hex(), "computed", k.Trace.Final().Hex())
	return &view{comp: k}
}

func (w *Watcher) rebuild(ctx context.Context, c *optimistic.Claim) (*optimistic.Computation, error) {
	ds, err := w.Data.Dataset(ctx, c)
	if err != nil {
		return nil, err
	}
	k, err := optimistic.Compute(ds, c.Fields, c.FactsParams)
	if err != nil {
		return nil, err
	}
	if k.Trace.Root() != c.TraceRoot {
		return nil, fmt.Errorf("recomputed trace root %s is not the claimed %s", k.Trace.Root().Hex(), c.TraceRoot.Hex())
	}
	return k, nil
}

// Tick makes one pass: for every claim it can read, it challenges a wrong
// one, plays the games it is in, and does the public chores.
func (w *Watcher) Tick(ctx context.Context) (*Actions, error) {
	h, err := w.Chain.Now(ctx)
	if err != nil {
		return nil, fmt.Errorf("watcher: chain clock: %w", err)
	}
	claims, err := w.Chain.Claims(ctx)
	if err != nil {
		return nil, fmt.Errorf("watcher: list claims: %w", err)
	}
	out := &Actions{}
	live := make(map[common.Hash]bool, len(claims))
	for _, c := range claims {
		live[c.ID] = true
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if err := w.claim(ctx, c, h, out); err != nil {
			return out, err
		}
	}
	w.mu.Lock()
	for id := range w.views {
		if !live[id] {
			delete(w.views, id)
		}
	}
	w.mu.Unlock()
	return out, nil
}

func (w *Watcher) post(ctx context.Context, a optimistic.Action, out *Actions) {
	err := w.send(ctx, a)
	if err != nil {
		out.Refused = append(out.Refused, fmt.Errorf("%s: %w", a.Kind, err))
		w.log().Warn("optimistic tx refused", "kind", a.Kind, "game", a.Game.Hex(), "err", err)
		return
	}
	out.Posted = append(out.Posted, a)
	w.log().Info("optimistic tx", "kind", a.Kind, "claim", a.ClaimID.Hex(), "game", a.Game.Hex())
}

func (w *Watcher) claim(ctx context.Context, c *optimistic.Claim, h uint64, out *Actions) error {
	var games []*optimistic.Game
	if c.Games > 0 {
		var err error
		if games, err = w.Chain.Games(ctx, c.ID); err != nil {
			return fmt.Errorf("watcher: games of %s: %w", c.ID.Hex(), err)
		}
	}
	mine := c.Executor == w.Addr
	var v *view
	if mine || c.Open() {
		v = w.evaluate(ctx, c)
	}
	if mine && v != nil && v.comp == nil && v.skip == "" && len(games) > 0 {
		// Our claim is challenged and we no longer hold its trace (a
		// restart): rebuild it from the plaintext to defend.
		if k, err := w.rebuild(ctx, c); err != nil {
			w.log().Warn("cannot defend own claim", "claim", c.ID.Hex(), "err", err)
		} else {
			v.comp = k
		}
	}
	played := map[common.Hash]bool{}
	if v != nil && v.comp != nil {
		for _, g := range games {
			side := g.SideOf(c, w.Addr)
			if side == 0 {
				continue
			}
			played[g.ID] = true
			a, err := v.comp.Next(c, g, side, h)
			if err != nil {
				w.log().Warn("cannot play game", "game", g.ID.Hex(), "err", err)
				continue
			}
			if a.Kind != optimistic.ActNone {
				w.post(ctx, a, out)
			}
		}
		if !mine && c.Open() && h < c.WindowEnd && !slices.ContainsFunc(games, func(g *optimistic.Game) bool { return g.Challenger == w.Addr }) {
			r, err := v.comp.ChallengeRequest(c, w.Bond)
			if err == nil {
				w.post(ctx, optimistic.Action{Kind: optimistic.ActChallenge, ClaimID: c.ID, Challenge: r}, out)
			}
		}
	}
	// Chores anyone may do: they keep bonds from staying locked.
	for _, g := range games {
		if played[g.ID] || !g.Active() {
			continue
		}
		switch {
		case c.Status == optimistic.StatusOverturned:
			w.post(ctx, optimistic.GameAction(optimistic.ActCancel, c, g), out)
		case g.Expired(h):
			w.post(ctx, optimistic.GameAction(optimistic.ActTimeout, c, g), out)
		}
	}
	if c.Open() && h >= c.WindowEnd && c.ActiveGames == 0 {
		w.post(ctx, optimistic.Action{Kind: optimistic.ActFinalize, ClaimID: c.ID, Executor: c.Executor}, out)
	}
	return nil
}

// Start ticks every w.Every until Stop.
func (w *Watcher) Start(ctx context.Context) error {
	every := w.Every
	if every <= 0 {
		every = DefaultEvery
	}
	return w.loop.Go(ctx, func(ctx context.Context) error { return w.Run(ctx, every) })
}

// Stop ends the loop after the tick in progress, waiting at most until ctx
// ends. It copes with a watcher that never started.
func (w *Watcher) Stop(ctx context.Context) error { return w.loop.Stop(ctx) }

// Run ticks every interval until ctx ends; a failed tick is logged and
// retried on the next one.
func (w *Watcher) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := w.Tick(ctx); err != nil && ctx.Err() == nil {
			w.log().Warn("watcher tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
