package optimistic

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Claim statuses (the submission statuses of CONTRACT.md for optimistic mode).
const (
	StatusClaimed    = "claimed"    // window open, no undecided game
	StatusChallenged = "challenged" // at least one undecided game
	StatusFinalized  = "finalized"  // window over, every game won by the executor
	StatusOverturned = "overturned" // the executor lost a game
)

// ClaimRequest is what an executor posts: the submission it computed (its
// id, commitment and record count, which the chain takes from the
// contributor-signed submission), the start state's parameters, the result
// (h_n, the facts digest), the trace root, the proof that h_n is the trace's
// last leaf, and the bond it locks.
type ClaimRequest struct {
	Submission  common.Hash   `json:"submission"`
	Commitment  common.Hash   `json:"commitment"`
	N           uint64        `json:"records"`
	Fields      []string      `json:"fields"`
	FactsParams facts.Params  `json:"facts_params"`
	Result      common.Hash   `json:"result"`
	TraceRoot   common.Hash   `json:"trace_root"`
	ResultProof []common.Hash `json:"result_proof"`
	Bond        *big.Int      `json:"bond"`
}

// Claim is an executor's bonded assertion about a submission's facts. The
// record field names are not part of the commitment (it covers the values,
// n and the field count), so they are the executor's word: the game can only
// settle what the commitment binds.
type Claim struct {
	ID          common.Hash    `json:"id"`
	Submission  common.Hash    `json:"submission"`
	Commitment  common.Hash    `json:"commitment"`
	N           uint64         `json:"records"`
	Fields      []string       `json:"fields"`
	FactsParams facts.Params   `json:"facts_params"`
	Result      common.Hash    `json:"result"`
	TraceRoot   common.Hash    `json:"trace_root"`
	Executor    common.Address `json:"executor"`
	Bond        *big.Int       `json:"bond"`
	Height      uint64         `json:"height"`
	WindowEnd   uint64         `json:"window_ends"` // first height at which no challenge is accepted
	Status      string         `json:"status"`
	Reason      string         `json:"reason,omitempty"`
	ActiveGames uint32         `json:"active_games"`
	Games       uint32         `json:"games"` // games ever opened
	// Params are the iDAO policy's numbers when the claim was posted; its
	// games are played under them even if the policy changes meanwhile.
	Params Params `json:"params"`
}

// ClaimID identifies a claim: keccak256("vsc-claim-v1" ‖ submission ‖
// executor ‖ result ‖ trace root).
func ClaimID(submission common.Hash, executor common.Address, result, root common.Hash) common.Hash {
	return crypto.Keccak256Hash([]byte("vsc-claim-v1"), submission[:], executor[:], result[:], root[:])
}

// GameID identifies a challenger's game on a claim: one per challenger.
func GameID(claim common.Hash, challenger common.Address) common.Hash {
	return crypto.Keccak256Hash([]byte("vsc-game-v1"), claim[:], challenger[:])
}

// NewClaim checks a claim posted by executor at height and opens its window.
func NewClaim(executor common.Address, r *ClaimRequest, height uint64, p Params) (*Claim, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	switch {
	case r.N == 0 || r.N > records.MaxRecords:
		return nil, fmt.Errorf("%w: %d records", ErrBadClaim, r.N)
	case len(r.Fields) == 0 || len(r.Fields) > records.MaxFields:
		return nil, fmt.Errorf("%w: %d fields", ErrBadClaim, len(r.Fields))
	case r.FactsParams.Lo > r.FactsParams.Hi:
		return nil, fmt.Errorf("%w: facts params valid_min > valid_max", ErrBadClaim)
	case r.Bond == nil || r.Bond.Cmp(p.MinClaimBond) < 0:
		return nil, fmt.Errorf("%w: claim bond %v, minimum %s", ErrBondTooSmall, r.Bond, p.MinClaimBond)
	}
	size := 0
	for _, f := range r.Fields {
		size += len(f)
	}
	if size > MaxStateSize/2 {
		return nil, fmt.Errorf("%w: field names of %d bytes", ErrBadClaim, size)
	}
	if err := VerifyReveal(r.N, r.TraceRoot, Reveal{Index: r.N, Hash: r.Result, Proof: r.ResultProof}); err != nil {
		return nil, fmt.Errorf("claim result: %w", err)
	}
	return &Claim{
		ID:         ClaimID(r.Submission, executor, r.Result, r.TraceRoot),
		Submission: r.Submission, Commitment: r.Commitment, N: r.N,
		Fields: append([]string(nil), r.Fields...), FactsParams: r.FactsParams,
		Result: r.Result, TraceRoot: r.TraceRoot, Executor: executor,
		Bond: new(big.Int).Set(r.Bond), Height: height, WindowEnd: height + p.Window,
		Status: StatusClaimed, Params: p.clone(),
	}, nil
}

// Start is h_0, the state hash both sides agree on by construction.
func (c *Claim) Start() common.Hash { return StartHash(c.Fields, c.FactsParams) }

// Open reports whether the claim is neither finalized nor overturned.
func (c *Claim) Open() bool { return c.Status == StatusClaimed || c.Status == StatusChallenged }

// Clone returns a deep copy.
func (c *Claim) Clone() *Claim {
	d := *c
	d.Fields = append([]string(nil), c.Fields...)
	d.Bond = new(big.Int).Set(c.Bond)
	d.Params = c.Params.clone()
	return &d
}

// Finalize closes a claim whose window has ended with every game won by the
// executor: the claim stands and the executor's bond is returned.
func (c *Claim) Finalize(height uint64) (*Settlement, error) {
	switch {
	case !c.Open():
		return nil, fmt.Errorf("%w: %s", ErrClaimClosed, c.Status)
	case height < c.WindowEnd:
		return nil, fmt.Errorf("%w: it ends at height %d, now %d", ErrWindowOpen, c.WindowEnd, height)
	case c.ActiveGames > 0:
		return nil, fmt.Errorf("%w: %d", ErrGamesOpen, c.ActiveGames)
	}
	c.Status = StatusFinalized
	st := &Settlement{Burned: new(big.Int)}
	st.release(c.Executor, c.Bond)
	st.pay(c.Executor, new(big.Int).Set(c.Bond), "claim bond returned")
	return st, nil
}

// Payout is an amount released from a bond to an account.
type Payout struct {
	To     common.Address `json:"to"`
	Amount *big.Int       `json:"amount"`
	Why    string         `json:"why"`
}

// Bond is a bond a settlement releases: its owner's locked amount.
type Bond struct {
	Owner  common.Address `json:"owner"`
	Amount *big.Int       `json:"amount"`
}

// Settlement is what a decision releases from bonds: the bonds (Released),
// payouts and a burned rest. Every bond is released exactly once, in full:
// the payouts plus the burned amount equal the released bonds.
type Settlement struct {
	Released []Bond   `json:"released"`
	Payouts  []Payout `json:"payouts"`
	Burned   *big.Int `json:"burned"`
}

func (s *Settlement) release(owner common.Address, amount *big.Int) {
	s.Released = append(s.Released, Bond{Owner: owner, Amount: new(big.Int).Set(amount)})
}

// ReleasedTotal is the sum of the released bonds; it equals Total.
func (s *Settlement) ReleasedTotal() *big.Int {
	t := new(big.Int)
	for _, b := range s.Released {
		t.Add(t, b.Amount)
	}
	return t
}

// Total is the sum of the payouts and the burned amount.
func (s *Settlement) Total() *big.Int {
	t := new(big.Int).Set(s.Burned)
	for _, p := range s.Payouts {
		t.Add(t, p.Amount)
	}
	return t
}

func (s *Settlement) pay(to common.Address, amount *big.Int, why string) {
	if amount.Sign() > 0 {
		s.Payouts = append(s.Payouts, Payout{To: to, Amount: amount, Why: why})
	}
}
