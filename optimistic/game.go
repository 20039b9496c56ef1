package optimistic

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Side is a party of a game.
type Side uint8

// The two sides of a game.
const (
	Executor   Side = 1
	Challenger Side = 2
)

func (s Side) String() string {
	switch s {
	case Executor:
		return "executor"
	case Challenger:
		return "challenger"
	}
	return "none"
}

// MarshalText writes the side's name.
func (s Side) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a side's name.
func (s *Side) UnmarshalText(b []byte) error {
	switch string(b) {
	case "executor":
		*s = Executor
	case "challenger":
		*s = Challenger
	case "none", "":
		*s = 0
	default:
		return fmt.Errorf("unknown side %q", b)
	}
	return nil
}

func (s Side) other() Side { return 3 - s }

// Game statuses.
const (
	GameActive        = "active"
	GameExecutorWon   = "executor_won"   // the claim survives this game; the challenger's bond is slashed
	GameChallengerWon = "challenger_won" // the claim is overturned; the executor's bond is slashed
	GameBothWrong     = "both_wrong"     // neither trace is right at the disputed step: claim overturned, both bonds burned
	GameCancelled     = "cancelled"      // another game overturned the claim first; the challenger's bond is returned
)

// ChallengeRequest is what a challenger posts: the claim, its bond, its own
// trace root, its final state with the proof against that root (it must
// differ from the claim's result), and its state hash at the first
// midpoint n/2 (none when n = 1).
type ChallengeRequest struct {
	Claim common.Hash `json:"claim"`
	Bond  *big.Int    `json:"bond"`
	Root  common.Hash `json:"root"`
	Final Reveal      `json:"final"`
	Mid   *Reveal     `json:"mid,omitempty" rlp:"nil"`
}

// Move is one bisection move by the side to move: its state hash at the
// pending midpoint (Answer), which with the other side's hash there halves
// the disputed range, and its hash at the new range's midpoint (Next), or
// none when the range has narrowed to one step.
type Move struct {
	Answer Reveal  `json:"answer"`
	Next   *Reveal `json:"next,omitempty" rlp:"nil"`
}

// Game is one challenger's bisection game against a claim. Games on one
// claim run in parallel, one per challenger, not in turn: in turn, a liar's
// sybil challengers queued first could stall an honest challenger for
// (queue × 2 × clock) blocks and the executor would choose which challenger
// it faces. In parallel every game ends within 2 × Clock blocks of its
// start, the executor must defend against all at once, and the first game
// the executor loses overturns the claim (the others are then cancelled,
// their bonds returned).
//
// Invariant while bisecting: both traces agree at Lo (AgreedHash) and
// differ at Hi (ExecHash vs ChalHash); the side that did not post Pending
// answers at PendingIndex = ⌊(Lo+Hi)/2⌋. Once Hi = Lo+1 the single-step
// proof decides.
type Game struct {
	ID         common.Hash    `json:"id"`
	Claim      common.Hash    `json:"claim"`
	Challenger common.Address `json:"challenger"`
	Bond       *big.Int       `json:"bond"`
	Root       common.Hash    `json:"root"` // the challenger's trace root
	N          uint64         `json:"records"`
	Height     uint64         `json:"height"`

	Lo         uint64      `json:"lo"`
	Hi         uint64      `json:"hi"`
	AgreedHash common.Hash `json:"agreed_hash"`
	ExecHash   common.Hash `json:"exec_hash"`
	ChalHash   common.Hash `json:"chal_hash"`

	PendingIndex uint64      `json:"pending_index"`
	PendingHash  common.Hash `json:"pending_hash"`

	Turn      Side   `json:"turn"`
	TurnSince uint64 `json:"turn_since"`
	ExecClock uint64 `json:"exec_clock"` // blocks left on the executor's clock
	ChalClock uint64 `json:"chal_clock"`
	Moves     uint32 `json:"moves"`

	// The step stage: once a proof without a duplicate witness was checked,
	// the side whose hash is the duplicate outcome (Needs) may still show an
	// earlier identical record; if its clock runs out, OnTimeout stands.
	Stepped   bool        `json:"stepped"`
	NoDup     common.Hash `json:"no_dup"`
	Dup       common.Hash `json:"dup"`
	Needs     Side        `json:"needs"`
	OnTimeout string      `json:"on_timeout"`

	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Clone returns a deep copy.
func (g *Game) Clone() *Game {
	h := *g
	h.Bond = new(big.Int).Set(g.Bond)
	return &h
}

// Active reports whether the game is undecided.
func (g *Game) Active() bool { return g.Status == GameActive }

// InStep reports whether the range has narrowed to one step.
func (g *Game) InStep() bool { return g.Hi-g.Lo == 1 }

// SideOf returns a's side in the game (0 if neither).
func (g *Game) SideOf(c *Claim, a common.Address) Side {
	switch a {
	case c.Executor:
		return Executor
	case g.Challenger:
		return Challenger
	}
	return 0
}

// SideAddr returns the account playing side s.
func (g *Game) SideAddr(c *Claim, s Side) common.Address {
	if s == Executor {
		return c.Executor
	}
	return g.Challenger
}

// ClockLeft is the side's remaining clock at height (0 when run out).
func (g *Game) ClockLeft(s Side, height uint64) uint64 {
	left := g.ExecClock
	if s == Challenger {
		left = g.ChalClock
	}
	if g.Turn == s && g.Active() {
		used := height - g.TurnSince
		if used >= left {
			return 0
		}
		return left - used
	}
	return left
}

// Expired reports whether the side to move has overrun its clock at height.
func (g *Game) Expired(height uint64) bool {
	left := g.ExecClock
	if g.Turn == Challenger {
		left = g.ChalClock
	}
	return g.Active() && height > g.TurnSince && height-g.TurnSince > left
}

// Challenge opens challenger's game against c at height. On success the
// claim is marked challenged.
func (c *Claim) Challenge(challenger common.Address, r *ChallengeRequest, height uint64) (*Game, error) {
	switch {
	case r.Claim != c.ID:
		return nil, fmt.Errorf("%w: challenge names claim %s, this is %s", ErrWrongClaim, r.Claim.Hex(), c.ID.Hex())
	case !c.Open():
		return nil, fmt.Errorf("%w: %s", ErrClaimClosed, c.Status)
	case height >= c.WindowEnd:
		return nil, fmt.Errorf("%w: it ended at height %d, now %d", ErrWindowClosed, c.WindowEnd, height)
	case challenger == c.Executor:
		return nil, ErrSelfChallenge
	case r.Bond == nil || r.Bond.Cmp(c.Params.MinChallengeBond) < 0:
		return nil, fmt.Errorf("%w: challenge bond %v, minimum %s", ErrBondTooSmall, r.Bond, c.Params.MinChallengeBond)
	case r.Final.Index != c.N:
		return nil, fmt.Errorf("%w: final state at %d, the claim has %d records", ErrOutOfRange, r.Final.Index, c.N)
	case r.Final.Hash == c.Result:
		return nil, ErrNoDispute
	}
	if err := VerifyReveal(c.N, r.Root, r.Final); err != nil {
		return nil, fmt.Errorf("challenge final state: %w", err)
	}
	g := &Game{
		ID: GameID(c.ID, challenger), Claim: c.ID, Challenger: challenger, Bond: new(big.Int).Set(r.Bond),
		Root: r.Root, N: c.N, Height: height,
		Lo: 0, Hi: c.N, AgreedHash: c.Start(), ExecHash: c.Result, ChalHash: r.Final.Hash,
		Turn: Executor, TurnSince: height, ExecClock: c.Params.Clock, ChalClock: c.Params.Clock,
		Status: GameActive,
	}
	if c.N > 1 {
		if r.Mid == nil {
			return nil, fmt.Errorf("%w: a challenge of %d records reveals its state %d", ErrOutOfRange, c.N, c.N/2)
		}
		if r.Mid.Index != c.N/2 {
			return nil, fmt.Errorf("%w: revealed state %d, the midpoint is %d", ErrOutOfRange, r.Mid.Index, c.N/2)
		}
		if err := VerifyReveal(c.N, r.Root, *r.Mid); err != nil {
			return nil, fmt.Errorf("challenge midpoint: %w", err)
		}
		g.PendingIndex, g.PendingHash = r.Mid.Index, r.Mid.Hash
	} else if r.Mid != nil {
		return nil, fmt.Errorf("%w: a one-record claim has no midpoint", ErrOutOfRange)
	}
	c.ActiveGames++
	c.Games++
	c.Status = StatusChallenged
	return g, nil
}

// checkParty returns the sender's side, refusing anyone else, a decided
// game, a closed claim and a game of another claim.
func (g *Game) checkParty(c *Claim, sender common.Address) (Side, error) {
	if g.Claim != c.ID {
		return 0, ErrWrongClaim
	}
	if !g.Active() {
		return 0, fmt.Errorf("%w: %s", ErrGameOver, g.Status)
	}
	if !c.Open() {
		return 0, fmt.Errorf("%w: %s (cancel this game to recover the bond)", ErrClaimClosed, c.Status)
	}
	s := g.SideOf(c, sender)
	if s == 0 {
		return 0, ErrNotAParty
	}
	return s, nil
}

func (g *Game) rootOf(c *Claim, s Side) common.Hash {
	if s == Executor {
		return c.TraceRoot
	}
	return g.Root
}

// passTurn hands the turn to s at height, charging the side that had it.
func (g *Game) passTurn(s Side, height uint64) {
	if g.Turn == s {
		return
	}
	used := height - g.TurnSince
	if g.Turn == Executor {
		g.ExecClock -= min(used, g.ExecClock)
	} else {
		g.ChalClock -= min(used, g.ChalClock)
	}
	g.Turn, g.TurnSince = s, height
}

// Move plays one bisection move by sender at height.
func (g *Game) Move(c *Claim, sender common.Address, m *Move, height uint64) error {
	s, err := g.checkParty(c, sender)
	if err != nil {
		return err
	}
	switch {
	case s != g.Turn:
		return fmt.Errorf("%w: the %s is to move", ErrNotYourTurn, g.Turn)
	case g.Expired(height):
		return fmt.Errorf("%w: the %s had %d blocks and took %d", ErrClockExpired, s, g.ClockLeft(s, g.TurnSince), height-g.TurnSince)
	case g.InStep():
		return ErrStepStage
	case m.Answer.Index != g.PendingIndex:
		return fmt.Errorf("%w: answered state %d, the pending midpoint is %d", ErrOutOfRange, m.Answer.Index, g.PendingIndex)
	}
	root := g.rootOf(c, s)
	if err := VerifyReveal(g.N, root, m.Answer); err != nil {
		return err
	}
	lo, hi, agreed, eh, ch := g.Lo, g.Hi, g.AgreedHash, g.ExecHash, g.ChalHash
	if m.Answer.Hash == g.PendingHash {
		lo, agreed = g.PendingIndex, m.Answer.Hash
	} else {
		hi = g.PendingIndex
		if s == Executor {
			eh, ch = m.Answer.Hash, g.PendingHash
		} else {
			eh, ch = g.PendingHash, m.Answer.Hash
		}
	}
	var pi uint64
	var ph common.Hash
	if hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if m.Next == nil {
			return fmt.Errorf("%w: the range [%d,%d] needs the state at %d", ErrOutOfRange, lo, hi, mid)
		}
		if m.Next.Index != mid {
			return fmt.Errorf("%w: revealed state %d, the new midpoint is %d", ErrOutOfRange, m.Next.Index, mid)
		}
		if err := VerifyReveal(g.N, root, *m.Next); err != nil {
			return err
		}
		pi, ph = mid, m.Next.Hash
	} else if m.Next != nil {
		return fmt.Errorf("%w: the range [%d,%d] is one step: no further midpoint", ErrOutOfRange, lo, hi)
	}
	g.Lo, g.Hi, g.AgreedHash, g.ExecHash, g.ChalHash = lo, hi, agreed, eh, ch
	g.PendingIndex, g.PendingHash = pi, ph
	g.Moves++
	g.passTurn(s.other(), height)
	return nil
}

// Step checks a single-step proof posted by either side at height (the
// proof is objective, so the side not to move may post it too; the side to
// move must still be within its clock). It decides the game, or — when the
// proof shows no duplicate and one side's hash is the duplicate outcome —
// gives that side the turn to show an earlier identical record. A decided
// game's settlement is returned.
func (g *Game) Step(c *Claim, sender common.Address, p *StepProof, height uint64) (*Settlement, error) {
	s, err := g.checkParty(c, sender)
	if err != nil {
		return nil, err
	}
	switch {
	case !g.InStep():
		return nil, fmt.Errorf("%w: [%d,%d]", ErrNotStepStage, g.Lo, g.Hi)
	case s == g.Turn && g.Expired(height):
		return nil, fmt.Errorf("%w: the %s's clock ran out at height %d", ErrClockExpired, s, g.TurnSince+g.ClockLeft(s, g.TurnSince))
	}
	res, err := CheckStep(c.Commitment, c.N, g.Hi, g.AgreedHash, p)
	if err != nil {
		return nil, err
	}
	if g.Stepped && !res.DupShown {
		return nil, fmt.Errorf("%w: record %d was checked; only a duplicate witness can change the outcome", ErrStepUnchanged, g.Hi)
	}
	eh, ch := g.ExecHash, g.ChalHash
	if res.DupShown {
		return g.decide(c, judge(eh == res.Dup, ch == res.Dup), fmt.Sprintf("record %d is a duplicate: state %d is %s", g.Hi, g.Hi, res.Dup.Hex())), nil
	}
	why := fmt.Sprintf("step %d: state %d is %s", g.Hi, g.Hi, res.NoDup.Hex())
	switch {
	case eh == res.NoDup && ch != res.Dup:
		return g.decide(c, GameExecutorWon, why), nil
	case ch == res.NoDup && eh != res.Dup:
		return g.decide(c, GameChallengerWon, why), nil
	case eh != res.Dup && ch != res.Dup:
		return g.decide(c, GameBothWrong, why+"; neither side's"), nil
	}
	// One side's hash is the duplicate outcome: it may still show a witness.
	needs := Executor
	if ch == res.Dup {
		needs = Challenger
	}
	g.Stepped, g.NoDup, g.Dup, g.Needs = true, res.NoDup, res.Dup, needs
	g.OnTimeout = GameBothWrong
	if (needs == Executor && ch == res.NoDup) || (needs == Challenger && eh == res.NoDup) {
		g.OnTimeout = map[Side]string{Executor: GameChallengerWon, Challenger: GameExecutorWon}[needs]
	}
	g.passTurn(needs, height)
	return nil, nil
}

// judge maps "is the executor right / is the challenger right" to an outcome.
func judge(execRight, chalRight bool) string {
	switch {
	case execRight:
		return GameExecutorWon
	case chalRight:
		return GameChallengerWon
	}
	return GameBothWrong
}

// Timeout decides a game whose side to move has overrun its clock: that
// side loses (after an undisputed step proof, the step's outcome stands).
// Anyone may call it.
func (g *Game) Timeout(c *Claim, height uint64) (*Settlement, error) {
	if g.Claim != c.ID {
		return nil, ErrWrongClaim
	}
	if !g.Active() {
		return nil, fmt.Errorf("%w: %s", ErrGameOver, g.Status)
	}
	if !c.Open() {
		return nil, fmt.Errorf("%w: %s (cancel this game instead)", ErrClaimClosed, c.Status)
	}
	if !g.Expired(height) {
		return nil, fmt.Errorf("%w: the %s has %d blocks left", ErrClockRunning, g.Turn, g.ClockLeft(g.Turn, height))
	}
	out := GameExecutorWon
	if g.Turn == Executor {
		out = GameChallengerWon
	}
	if g.Stepped {
		out = g.OnTimeout
	}
	return g.decide(c, out, fmt.Sprintf("the %s's clock ran out", g.Turn)), nil
}

// Cancel closes a game left undecided when another game overturned the
// claim: the challenger's bond is returned. Anyone may call it.
func (g *Game) Cancel(c *Claim) (*Settlement, error) {
	if g.Claim != c.ID {
		return nil, ErrWrongClaim
	}
	if !g.Active() {
		return nil, fmt.Errorf("%w: %s", ErrGameOver, g.Status)
	}
	if c.Status != StatusOverturned {
		return nil, fmt.Errorf("%w: only games of an overturned claim are cancelled", ErrClaimClosed)
	}
	g.Status, g.Reason = GameCancelled, "the claim was overturned by another game"
	c.ActiveGames--
	st := &Settlement{Burned: new(big.Int)}
	st.release(g.Challenger, g.Bond)
	st.pay(g.Challenger, new(big.Int).Set(g.Bond), "challenge bond returned")
	return st, nil
}

// decide ends the game with outcome and settles the bonds it decides.
func (g *Game) decide(c *Claim, outcome, why string) *Settlement {
	g.Status, g.Reason = outcome, why
	c.ActiveGames--
	st := &Settlement{Burned: new(big.Int)}
	st.release(g.Challenger, g.Bond)
	if outcome != GameExecutorWon {
		st.release(c.Executor, c.Bond)
	}
	switch outcome {
	case GameExecutorWon:
		to, burn := Split(g.Bond, c.Params.WinnerShareBps)
		st.pay(c.Executor, to, "challenger's bond share")
		st.Burned.Add(st.Burned, burn)
		if c.ActiveGames == 0 {
			c.Status = StatusClaimed
		}
	case GameChallengerWon:
		to, burn := Split(c.Bond, c.Params.WinnerShareBps)
		st.pay(g.Challenger, new(big.Int).Set(g.Bond), "challenge bond returned")
		st.pay(g.Challenger, to, "executor's bond share")
		st.Burned.Add(st.Burned, burn)
		c.Status, c.Reason = StatusOverturned, fmt.Sprintf("game %s: %s", g.ID.Hex(), why)
	case GameBothWrong:
		st.Burned.Add(st.Burned, g.Bond)
		st.Burned.Add(st.Burned, c.Bond)
		c.Status, c.Reason = StatusOverturned, fmt.Sprintf("game %s: %s", g.ID.Hex(), why)
	}
	return st
}
