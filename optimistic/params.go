package optimistic

import (
	"errors"
	"fmt"
	"math/big"
)

// Errors callers branch on. Every rule a tx can break has its own sentinel,
// and a refused call leaves the claim and game unchanged.
var (
	ErrBadParams       = errors.New("optimistic: invalid parameters")
	ErrBadClaim        = errors.New("optimistic: malformed claim")
	ErrBondTooSmall    = errors.New("optimistic: bond below the policy's minimum")
	ErrWindowClosed    = errors.New("optimistic: the claim's challenge window has ended")
	ErrWindowOpen      = errors.New("optimistic: the claim's challenge window has not ended yet")
	ErrClaimClosed     = errors.New("optimistic: the claim is already finalized or overturned")
	ErrGamesOpen       = errors.New("optimistic: the claim still has undecided games")
	ErrSelfChallenge   = errors.New("optimistic: the executor cannot challenge its own claim")
	ErrNoDispute       = errors.New("optimistic: the challenge's final state equals the claim's result")
	ErrWrongClaim      = errors.New("optimistic: the game is not about this claim")
	ErrNotAParty       = errors.New("optimistic: the sender is neither the executor nor the challenger of this game")
	ErrGameOver        = errors.New("optimistic: the game is already decided")
	ErrNotYourTurn     = errors.New("optimistic: it is the other side's turn")
	ErrClockExpired    = errors.New("optimistic: the mover's clock has run out")
	ErrClockRunning    = errors.New("optimistic: the side to move still has time on its clock")
	ErrOutOfRange      = errors.New("optimistic: the move is not at the disputed range's midpoint")
	ErrBadTraceProof   = errors.New("optimistic: the state hash does not prove against the trace root")
	ErrStepStage       = errors.New("optimistic: the range is one step: post the single-step proof")
	ErrNotStepStage    = errors.New("optimistic: the disputed range is still wider than one step")
	ErrBadState        = errors.New("optimistic: the previous state does not decode or does not hash to the agreed state")
	ErrBadRecord       = errors.New("optimistic: the record does not prove against the submission's commitment")
	ErrBadDupWitness   = errors.New("optimistic: the duplicate witness is not an earlier identical record")
	ErrStepUnchanged   = errors.New("optimistic: the step proof decides nothing new")
	ErrUnknownAction   = errors.New("optimistic: unknown action")
	ErrNotEquivocation = errors.New("optimistic: the votes are not an equivocation")
)

// BPS is the basis-point scale of Params.WinnerShareBps.
const BPS = 10000

// Params are the optimistic game's numbers (the chain's genesis carries
// them; devnet: small windows and clocks). Window and Clock are in the unit
// of the "height" the rules are called with: on the vsc chain that is the
// block time in unix milliseconds, because blocks are sealed only when txs
// arrive, so a count of blocks would stand still on an idle chain.
type Params struct {
	// Window is how long after the claim a challenge may come.
	Window uint64 `json:"window"`
	// Clock is each side's chess clock in one game: the total time it may
	// take over all of its turns. A side whose clock runs out loses.
	Clock uint64 `json:"clock"`
	// MinClaimBond and MinChallengeBond are the smallest accepted bonds.
	MinClaimBond     *big.Int `json:"min_claim_bond"`
	MinChallengeBond *big.Int `json:"min_challenge_bond"`
	// WinnerShareBps is the loser's bond share paid to the winner, in basis
	// points; the rest is burned, so losing always costs more than a
	// colluding winner gains.
	WinnerShareBps uint32 `json:"winner_share_bps"`
	// EquivocationShareBps is the share of an equivocating member's slashed
	// stake paid to whoever proves it; the rest is burned.
	EquivocationShareBps uint32 `json:"equivocation_share_bps"`
}

// DefaultParams are the chain's defaults: a 30 s window and a 60 s clock
// per side (milliseconds of block time).
func DefaultParams() Params {
	return Params{
		Window: 30_000, Clock: 60_000,
		MinClaimBond: big.NewInt(1000), MinChallengeBond: big.NewInt(1000),
		WinnerShareBps: 5000, EquivocationShareBps: 5000,
	}
}

// Validate checks that the numbers make a playable game.
func (p Params) Validate() error {
	switch {
	case p.Window == 0:
		return fmt.Errorf("%w: window must be positive", ErrBadParams)
	case p.Clock == 0:
		return fmt.Errorf("%w: clock must be positive", ErrBadParams)
	case p.MinClaimBond == nil || p.MinClaimBond.Sign() <= 0:
		return fmt.Errorf("%w: min claim bond must be positive", ErrBadParams)
	case p.MinChallengeBond == nil || p.MinChallengeBond.Sign() <= 0:
		return fmt.Errorf("%w: min challenge bond must be positive", ErrBadParams)
	case p.WinnerShareBps > BPS || p.EquivocationShareBps > BPS:
		return fmt.Errorf("%w: shares are basis points, at most %d", ErrBadParams, BPS)
	}
	return nil
}

// Split divides a slashed amount: ⌊amount × bps / 10000⌋ to the winner, the
// rest burned. to + burned == amount exactly.
func Split(amount *big.Int, bps uint32) (to, burned *big.Int) {
	to = new(big.Int).Mul(amount, big.NewInt(int64(bps)))
	to.Quo(to, big.NewInt(BPS))
	return to, new(big.Int).Sub(amount, to)
}

func (p Params) clone() Params {
	q := p
	if p.MinClaimBond != nil {
		q.MinClaimBond = new(big.Int).Set(p.MinClaimBond)
	}
	if p.MinChallengeBond != nil {
		q.MinChallengeBond = new(big.Int).Set(p.MinChallengeBond)
	}
	return q
}
