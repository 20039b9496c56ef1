package exec

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/optimistic"
)

// The optimistic game on chain: the chain is the referee. Each tx
// loads the claim (and game), runs package optimistic's rule, and stores the
// result; a refused rule leaves the state as it was (the body runs on a
// view that is dropped on error). Bonds are state.Bond records with the
// zero arbiter, released only by a game's settlement.
//
// Windows and clocks run on the block clock (header time, unix ms), not on
// heights: this chain seals blocks only when txs arrive, so an idle chain's
// height stands still, while the time of the block that carries a finalize
// or timeout tx is the time it was sealed.

// Errors of the optimistic txs.
var (
	ErrClaimExists   = errors.New("optimistic claim already posted")
	ErrUnknownClaim  = errors.New("unknown optimistic claim")
	ErrUnknownGame   = errors.New("unknown optimistic game")
	ErrGameExists    = errors.New("this account already challenged this claim")
	ErrNotOptimistic = errors.New("the submission is not in optimistic mode, or its iDAO does not accept it")
)

// optNow is the game clock: the block's time in unix milliseconds.
func (r *run) optNow() uint64 { return r.env.Time }

func (r *run) optParams() optimistic.Params { return r.cfg.OptimisticParams() }

// The optimistic game's kinds.
var optimisticRules = map[tx.Kind]rule{
	tx.KindOptClaim: kind[*tx.OptClaim]{
		access: func(a *accessList, b *tx.OptClaim) {
			id := optimistic.ClaimID(b.SubmissionID, a.sender, b.Result, b.TraceRoot)
			a.read(state.IDAOKey(b.Submission.IDAO))
			a.write(state.ClaimKey(id), state.OpenClaimKey(id), state.BondKey(id))
		},
		moves: func(b *tx.OptClaim) *big.Int { return b.Bond },
		apply: (*run).optClaim,
	}.rule(),
	tx.KindOptChallenge: kind[*tx.OptChallenge]{
		access: func(a *accessList, b *tx.OptChallenge) {
			g := optimistic.GameID(b.Claim, a.sender)
			a.write(state.ClaimKey(b.Claim), state.GameKey(g), state.BondKey(g))
		},
		moves: func(b *tx.OptChallenge) *big.Int { return b.Bond },
		apply: (*run).optChallenge,
	}.rule(),
	tx.KindOptMove: kind[*tx.OptMove]{
		access: func(a *accessList, b *tx.OptMove) {
			a.read(state.ClaimKey(b.Claim))
			a.write(state.GameKey(optimistic.GameID(b.Claim, b.Challenger)))
		},
		apply: (*run).optMove,
	}.rule(),
	tx.KindOptStep: kind[*tx.OptStep]{
		access: func(a *accessList, b *tx.OptStep) { a.decide(b.Claim, b.Executor, b.Challenger) },
		apply:  (*run).optStep,
	}.rule(),
	tx.KindOptTimeout: kind[*tx.OptTimeout]{
		access: func(a *accessList, b *tx.OptTimeout) { a.decide(b.Claim, b.Executor, b.Challenger) },
		apply:  (*run).optTimeout,
	}.rule(),
	tx.KindOptCancel: kind[*tx.OptCancel]{
		access: func(a *accessList, b *tx.OptCancel) { a.decide(b.Claim, b.Executor, b.Challenger) },
		apply:  (*run).optCancel,
	}.rule(),
	tx.KindOptFinalize: kind[*tx.OptFinalize]{
		access: func(a *accessList, b *tx.OptFinalize) {
			a.write(state.ClaimKey(b.Claim), state.OpenClaimKey(b.Claim), state.BondKey(b.Claim), state.AccountKey(b.Executor))
		},
		apply: (*run).optFinalize,
	}.rule(),
}

// decide declares the keys of a deciding game tx (step, timeout, cancel):
// the claim, its game and both bonds, and the accounts a settlement may pay.
func (a *accessList) decide(claim common.Hash, exec, chal common.Address) {
	g := optimistic.GameID(claim, chal)
	a.write(state.ClaimKey(claim), state.OpenClaimKey(claim), state.GameKey(g), state.BondKey(claim),
		state.BondKey(g), state.AccountKey(exec), state.AccountKey(chal), state.BurnedKey)
}

func (r *run) loadClaim(id common.Hash) (*optimistic.Claim, error) {
	b := r.v.get(state.ClaimKey(id))
	if b == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownClaim, id.Hex())
	}
	c, err := state.DecodeClaim(b)
	if err != nil {
		return nil, fmt.Errorf("decode claim %s: %w", id.Hex(), err)
	}
	return c, nil
}

func (r *run) loadGame(claim common.Hash, challenger common.Address) (*optimistic.Game, error) {
	id := optimistic.GameID(claim, challenger)
	b := r.v.get(state.GameKey(id))
	if b == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownGame, id.Hex())
	}
	g, err := state.DecodeGame(b)
	if err != nil {
		return nil, fmt.Errorf("decode game %s: %w", id.Hex(), err)
	}
	return g, nil
}

// lockBond moves amount of the sender's balance into bond id.
func (r *run) lockBond(id common.Hash, amount *big.Int, purpose string) error {
	if r.v.get(state.BondKey(id)) != nil {
		return ErrBondExists
	}
	acc, err := r.debit(r.p.Sender, amount, purpose)
	if err != nil {
		return err
	}
	acc.Bonded = new(big.Int).Add(acc.Bonded, amount)
	r.putAccount(r.p.Sender, acc)
	r.v.put(state.BondKey(id), state.Encode(&state.Bond{ID: id, Owner: r.p.Sender, Amount: new(big.Int).Set(amount),
		Arbiter: state.OptimisticArbiter, Purpose: purpose, Height: r.env.Height}))
	return nil
}

// settle releases the bonds a settlement names (ids maps each owner to its
// bond), pays the payouts and burns the rest.
func (r *run) settle(st *optimistic.Settlement, ids map[common.Address]common.Hash) error {
	if st == nil {
		return nil
	}
	for _, rel := range st.Released {
		id, ok := ids[rel.Owner]
		if !ok {
			return fmt.Errorf("settlement releases a bond of %s, which this tx does not hold", rel.Owner)
		}
		var bd state.Bond
		if err := r.load(state.BondKey(id), &bd, fmt.Errorf("%w: %s", ErrUnknownBond, id.Hex())); err != nil {
			return err
		}
		if bd.Owner != rel.Owner || bd.Amount.Cmp(rel.Amount) != 0 || bd.Arbiter != state.OptimisticArbiter {
			return fmt.Errorf("%w: bond %s", ErrMismatch, id.Hex())
		}
		if err := r.unbond(bd.Owner, bd.Amount, new(big.Int)); err != nil {
			return err
		}
		r.v.put(state.BondKey(id), nil)
	}
	for _, p := range st.Payouts {
		if err := r.credit(p.To, p.Amount); err != nil {
			return err
		}
	}
	if st.Burned.Sign() > 0 {
		r.burn(st.Burned)
	}
	return nil
}

// putClaim stores a claim after a decision, dropping it from the
// open-claims index once nothing about it is undecided.
func (r *run) putClaim(c *optimistic.Claim) {
	r.v.put(state.ClaimKey(c.ID), state.EncodeClaim(c))
	if !c.Open() && c.ActiveGames == 0 {
		r.v.put(state.OpenClaimKey(c.ID), nil)
	}
}

func (r *run) optClaim(b *tx.OptClaim) error {
	sub := &b.Submission
	subID := sub.Digest(r.cfg.ChainID)
	if subID != b.SubmissionID {
		return fmt.Errorf("%w: submission id %s, the submission's digest is %s", ErrMismatch, b.SubmissionID.Hex(), subID.Hex())
	}
	if err := sub.Verify(r.cfg.ChainID, b.Signature); err != nil {
		return coded(codes.WrongContributor, fmt.Errorf("claim of %s: the contributor's signature: %w", subID.Hex(), err))
	}
	d, err := r.idao(sub.IDAO)
	if err != nil {
		return err
	}
	if sub.Mode != idao.ModeOptimistic || !d.Policy.Accepts(idao.ModeOptimistic) {
		return fmt.Errorf("%w: mode %q, iDAO %q", ErrNotOptimistic, sub.Mode, sub.IDAO)
	}
	c, err := optimistic.NewClaim(r.p.Sender, b.Request(r.cfg.ChainID), r.optNow(), r.optParams())
	if err != nil {
		return err
	}
	if r.v.get(state.ClaimKey(c.ID)) != nil {
		return fmt.Errorf("%w: %s", ErrClaimExists, c.ID.Hex())
	}
	if err := r.lockBond(c.ID, c.Bond, "optimistic claim"); err != nil {
		return err
	}
	r.v.put(state.ClaimKey(c.ID), state.EncodeClaim(c))
	r.v.put(state.OpenClaimKey(c.ID), []byte{1})
	r.emit("opt_claimed", "claim", hx(c.ID), "submission", hx(subID), "executor", hx(c.Executor),
		"result", hx(c.Result), "bond", c.Bond.String(), "window_ends", strconv.FormatUint(c.WindowEnd, 10))
	return nil
}

func (r *run) optChallenge(b *tx.OptChallenge) error {
	c, err := r.loadClaim(b.Claim)
	if err != nil {
		return err
	}
	g, err := c.Challenge(r.p.Sender, b.Request(), r.optNow())
	if err != nil {
		return err
	}
	if r.v.get(state.GameKey(g.ID)) != nil {
		return fmt.Errorf("%w: game %s", ErrGameExists, g.ID.Hex())
	}
	if err := r.lockBond(g.ID, g.Bond, "optimistic challenge"); err != nil {
		return err
	}
	r.v.put(state.ClaimKey(c.ID), state.EncodeClaim(c))
	r.v.put(state.GameKey(g.ID), state.EncodeGame(g))
	r.emit("opt_challenged", "claim", hx(c.ID), "game", hx(g.ID), "challenger", hx(g.Challenger), "bond", g.Bond.String())
	return nil
}

func (r *run) optMove(b *tx.OptMove) error {
	c, err := r.loadClaim(b.Claim)
	if err != nil {
		return err
	}
	g, err := r.loadGame(b.Claim, b.Challenger)
	if err != nil {
		return err
	}
	if err := g.Move(c, r.p.Sender, &b.Move, r.optNow()); err != nil {
		return err
	}
	r.v.put(state.GameKey(g.ID), state.EncodeGame(g))
	r.emit("opt_moved", "game", hx(g.ID), "lo", strconv.FormatUint(g.Lo, 10), "hi", strconv.FormatUint(g.Hi, 10),
		"moves", strconv.FormatUint(uint64(g.Moves), 10), "turn", g.Turn.String())
	return nil
}

// optDecide runs one deciding rule (step, timeout, cancel) on a game.
func (r *run) optDecide(claim common.Hash, exec, chal common.Address, rule func(c *optimistic.Claim, g *optimistic.Game) (*optimistic.Settlement, error)) error {
	c, err := r.loadClaim(claim)
	if err != nil {
		return err
	}
	if c.Executor != exec {
		return fmt.Errorf("%w: the claim's executor is %s", ErrMismatch, c.Executor.Hex())
	}
	g, err := r.loadGame(claim, chal)
	if err != nil {
		return err
	}
	st, err := rule(c, g)
	if err != nil {
		return err
	}
	if err := r.settle(st, map[common.Address]common.Hash{c.Executor: c.ID, g.Challenger: g.ID}); err != nil {
		return err
	}
	r.putClaim(c)
	r.v.put(state.GameKey(g.ID), state.EncodeGame(g))
	if !g.Active() {
		e := r.emit("opt_game_decided", "claim", hx(c.ID), "game", hx(g.ID), "status", g.Status,
			"claim_status", c.Status, "burned", st.Burned.String())
		e.Detail = g.Reason // the game's reason in words: the stored game holds it too
	} else {
		r.emit("opt_step_checked", "game", hx(g.ID), "needs", g.Needs.String())
	}
	return nil
}

func (r *run) optStep(b *tx.OptStep) error {
	return r.optDecide(b.Claim, b.Executor, b.Challenger, func(c *optimistic.Claim, g *optimistic.Game) (*optimistic.Settlement, error) {
		return g.Step(c, r.p.Sender, b.Proof(), r.optNow())
	})
}

func (r *run) optTimeout(b *tx.OptTimeout) error {
	return r.optDecide(b.Claim, b.Executor, b.Challenger, func(c *optimistic.Claim, g *optimistic.Game) (*optimistic.Settlement, error) {
		return g.Timeout(c, r.optNow())
	})
}

func (r *run) optCancel(b *tx.OptCancel) error {
	return r.optDecide(b.Claim, b.Executor, b.Challenger, func(c *optimistic.Claim, g *optimistic.Game) (*optimistic.Settlement, error) {
		return g.Cancel(c)
	})
}

func (r *run) optFinalize(b *tx.OptFinalize) error {
	c, err := r.loadClaim(b.Claim)
	if err != nil {
		return err
	}
	if c.Executor != b.Executor {
		return fmt.Errorf("%w: the claim's executor is %s", ErrMismatch, c.Executor.Hex())
	}
	st, err := c.Finalize(r.optNow())
	if err != nil {
		return err
	}
	if err := r.settle(st, map[common.Address]common.Hash{c.Executor: c.ID}); err != nil {
		return err
	}
	r.putClaim(c)
	r.emit("opt_finalized", "claim", hx(c.ID), "submission", hx(c.Submission), "result", hx(c.Result),
		"anchor_digest", hx(c.AnchorDigest()))
	return nil
}
