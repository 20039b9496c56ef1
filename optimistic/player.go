package optimistic

import (
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/tee/facts"
)

// ActionKind says what an Action does; each is one chain tx.
type ActionKind string

// Actions.
const (
	ActNone      ActionKind = ""
	ActClaim     ActionKind = "claim"
	ActChallenge ActionKind = "challenge"
	ActMove      ActionKind = "move"
	ActStep      ActionKind = "step"
	ActTimeout   ActionKind = "timeout"
	ActCancel    ActionKind = "cancel"
	ActFinalize  ActionKind = "finalize"
)

// Action is one thing a party posts. Claim is set for ActClaim, Challenge
// for ActChallenge, Game and Move/Step for the game actions. ClaimID,
// Executor and Challenger name the claim and the game's parties, so a chain
// can declare the accounts a decision may pay before it runs the tx.
type Action struct {
	Kind       ActionKind     `json:"kind"`
	ClaimID    common.Hash    `json:"claim_id,omitempty"`
	Executor   common.Address `json:"executor,omitempty"`
	Challenger common.Address `json:"challenger,omitempty"`
	Game       common.Hash    `json:"game,omitempty"`
	Claim      *ClaimRequest  `json:"claim_request,omitempty"`
	// Signed is the contributor-signed submission an ActClaim is about: the
	// chain checks its signature and takes the id, commitment and record
	// count from it, not from the executor.
	Signed    *SignedSubmission `json:"signed,omitempty"`
	Challenge *ChallengeRequest `json:"challenge,omitempty"`
	Move      *Move             `json:"move,omitempty"`
	Step      *StepProof        `json:"step,omitempty"`
}

// SignedSubmission is a submission with its contributor's EIP-712 signature.
type SignedSubmission struct {
	Submission submission.Submission `json:"submission"`
	Signature  hexutil.Bytes         `json:"signature"`
}

// GameAction is an action without a body (timeout, cancel) on game g of c.
func GameAction(kind ActionKind, c *Claim, g *Game) Action {
	return Action{Kind: kind, ClaimID: c.ID, Executor: c.Executor, Challenger: g.Challenger, Game: g.ID}
}

// Computation is a party's own computation over the plaintext: the dataset,
// its record tree (for Merkle paths to the commitment) and its trace. It is
// what an honest party needs to play any game on the dataset.
type Computation struct {
	DS         *records.Dataset
	Tree       *records.Tree
	Commitment common.Hash
	Trace      *Trace
	start      *facts.State
	dups       []bool
}

// Compute recomputes everything an honest party needs from the plaintext,
// with the start state of a claim (its field names and facts parameters).
func Compute(ds *records.Dataset, fields []string, p facts.Params) (*Computation, error) {
	dups := facts.Hints(ds)
	tr, err := computeTrace(ds, fields, p, dups)
	if err != nil {
		return nil, err
	}
	com, tree := records.Commit(ds)
	return &Computation{DS: ds, Tree: tree, Commitment: com, Trace: tr, start: facts.New(fields, p), dups: dups}, nil
}

// Agrees reports whether the claim's result is this computation's.
func (k *Computation) Agrees(c *Claim) bool { return k.Trace.Final() == c.Result }

// ClaimRequest builds an honest claim over this computation.
func (k *Computation) ClaimRequest(submission common.Hash, fields []string, p facts.Params, bond *big.Int) *ClaimRequest {
	n := k.Trace.N()
	return &ClaimRequest{
		Submission: submission, Commitment: k.Commitment, N: n, Fields: fields, FactsParams: p,
		Result: k.Trace.Final(), TraceRoot: k.Trace.Root(), ResultProof: k.Trace.Proof(n), Bond: bond,
	}
}

// ChallengeRequest builds the challenge of claim c with this computation.
func (k *Computation) ChallengeRequest(c *Claim, bond *big.Int) (*ChallengeRequest, error) {
	if err := k.Matches(c); err != nil {
		return nil, err
	}
	r := &ChallengeRequest{Claim: c.ID, Bond: bond, Root: k.Trace.Root(), Final: k.Trace.Reveal(c.N)}
	if c.N > 1 {
		m := k.Trace.Reveal(c.N / 2)
		r.Mid = &m
	}
	return r, nil
}

// Matches checks the computation is over the claim's committed data.
func (k *Computation) Matches(c *Claim) error {
	if k.Commitment != c.Commitment || k.Trace.N() != c.N {
		return fmt.Errorf("%w: the data commits to %s (%d records), the claim's submission to %s (%d records)",
			ErrBadRecord, k.Commitment.Hex(), k.Trace.N(), c.Commitment.Hex(), c.N)
	}
	return nil
}

// StepProof builds the single-step proof of state i (record i, 1-based),
// with the duplicate witness when record i repeats an earlier record.
func (k *Computation) StepProof(i uint64) (*StepProof, error) {
	if i == 0 || i > k.Trace.N() {
		return nil, fmt.Errorf("%w: step %d", ErrOutOfRange, i)
	}
	prev, err := k.stateAt(i - 1)
	if err != nil {
		return nil, err
	}
	rec := k.DS.Records[i-1]
	p := &StepProof{Prev: prev.Encode(), Record: slices.Clone(rec), Path: RecordPath(k.Tree, int(i-1))}
	if k.dups[i-1] {
		for j := range k.DS.Records[:i-1] {
			if slices.Equal(k.DS.Records[j], rec) {
				p.Dup, p.DupIndex, p.DupPath = true, uint64(j), DupPath(k.Tree, int(i-1), j)
				break
			}
		}
	}
	return p, nil
}

// stateAt replays the step up to state i (only the step stage needs it).
func (k *Computation) stateAt(i uint64) (*facts.State, error) {
	s := k.start.Clone()
	for j := uint64(0); j < i; j++ {
		if err := s.Apply(k.DS.Records[j], k.dups[j]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Next is the honest strategy: what side should post in game g of claim c
// at height, or ActNone when it should wait. It never loses a game its
// computation is right in, as long as it is asked before its clock runs
// out.
func (k *Computation) Next(c *Claim, g *Game, side Side, height uint64) (Action, error) {
	a, err := k.next(c, g, side, height)
	if a.Kind != ActNone {
		a.ClaimID, a.Executor, a.Challenger = c.ID, c.Executor, g.Challenger
	}
	return a, err
}

func (k *Computation) next(c *Claim, g *Game, side Side, height uint64) (Action, error) {
	none := Action{}
	switch {
	case g.Status == GameActive && c.Status == StatusOverturned:
		return Action{Kind: ActCancel, Game: g.ID}, nil
	case !g.Active() || !c.Open():
		return none, nil
	case g.Turn != side && g.Expired(height):
		return Action{Kind: ActTimeout, Game: g.ID}, nil
	}
	if g.InStep() {
		if g.Stepped && (g.Needs != side || !k.dups[g.Hi-1]) {
			return none, nil // our proof stands unless the other side shows a duplicate it cannot have
		}
		p, err := k.StepProof(g.Hi)
		if err != nil {
			return none, err
		}
		return Action{Kind: ActStep, Game: g.ID, Step: p}, nil
	}
	if g.Turn != side {
		return none, nil
	}
	ans := k.Trace.Reveal(g.PendingIndex)
	lo, hi := g.Lo, g.Hi
	if ans.Hash == g.PendingHash {
		lo = g.PendingIndex
	} else {
		hi = g.PendingIndex
	}
	m := &Move{Answer: ans}
	if hi-lo > 1 {
		nx := k.Trace.Reveal(lo + (hi-lo)/2)
		m.Next = &nx
	}
	return Action{Kind: ActMove, Game: g.ID, Move: m}, nil
}

// Apply runs one game action of sender at height on copies of c and g (g is
// nil for ActChallenge and ActFinalize) and returns the new claim, the new
// or updated game and the settlement of a decision. On error nothing
// changes: the inputs are never modified.
func Apply(c *Claim, g *Game, sender common.Address, a *Action, height uint64) (*Claim, *Game, *Settlement, error) {
	c = c.Clone()
	if g != nil {
		g = g.Clone()
	}
	var st *Settlement
	var err error
	switch a.Kind {
	case ActChallenge:
		if a.Challenge == nil {
			return nil, nil, nil, fmt.Errorf("%w: challenge without a request", ErrUnknownAction)
		}
		g, err = c.Challenge(sender, a.Challenge, height)
	case ActFinalize:
		st, err = c.Finalize(height)
	case ActMove, ActStep, ActTimeout, ActCancel:
		if g == nil || g.ID != a.Game {
			return nil, nil, nil, fmt.Errorf("%w: no game %s", ErrWrongClaim, a.Game.Hex())
		}
		switch a.Kind {
		case ActMove:
			if a.Move == nil {
				return nil, nil, nil, fmt.Errorf("%w: move without a body", ErrUnknownAction)
			}
			err = g.Move(c, sender, a.Move, height)
		case ActStep:
			if a.Step == nil {
				return nil, nil, nil, fmt.Errorf("%w: step without a proof", ErrUnknownAction)
			}
			st, err = g.Step(c, sender, a.Step, height)
		case ActTimeout:
			st, err = g.Timeout(c, height)
		case ActCancel:
			st, err = g.Cancel(c)
		}
	default:
		return nil, nil, nil, fmt.Errorf("%w: %q", ErrUnknownAction, a.Kind)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return c, g, st, nil
}

// Faulty returns a computation that lies from record ⌈n/2⌉ on (it counts
// that record's first value one higher): the devnet's --faulty-executor
// claims and defends it, and an honest watcher must overturn it. Its state
// there matches neither outcome of the true step, so the step proof decides
// at once.
func Faulty(k *Computation) *Computation {
	n := k.Trace.N()
	at := (n + 1) / 2
	s := k.start.Clone()
	hs := slices.Clone(k.Trace.Hashes)
	for i := uint64(0); i < n; i++ {
		rec := k.DS.Records[i]
		if i+1 == at {
			rec = slices.Clone(rec)
			rec[0]++
		}
		_ = s.Apply(rec, k.dups[i]) // widths were checked when k was computed
		hs[i+1] = s.Digest()
	}
	f := *k
	f.Trace = NewTrace(hs)
	return &f
}
