package tx

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// The optimistic game's txs. The rules are package optimistic's;
// these bodies carry its values in RLP (signed integers as two's-complement
// uint64). Game txs name the claim's executor and the game's challenger so
// the accounts a decision may pay are declared before the tx runs; the
// chain checks them against the stored claim and game.

// OptClaim posts an executor's bonded claim about a contributor-signed
// submission; the chain takes the submission id, commitment and record
// count from the signed submission.
type OptClaim struct {
	Submission   submission.Submission
	Signature    []byte
	SubmissionID common.Hash // = Submission.Digest(chain id); declared for the access list
	Fields       []string
	ValidMin     uint64 // facts.Params.Lo, two's complement
	ValidMax     uint64
	Result       common.Hash
	TraceRoot    common.Hash
	ResultProof  []common.Hash
	Bond         *big.Int
}

// OptChallenge opens the sender's game against a claim.
type OptChallenge struct {
	Claim common.Hash
	Bond  *big.Int
	Root  common.Hash
	Final optimistic.Reveal
	Mid   *optimistic.Reveal `rlp:"nil"`
}

// OptMove is one bisection move in the game of Challenger against Claim.
type OptMove struct {
	Claim      common.Hash
	Challenger common.Address
	Move       optimistic.Move
}

// OptStep is the single-step proof of a game.
type OptStep struct {
	Claim      common.Hash
	Executor   common.Address
	Challenger common.Address
	Prev       []byte
	Record     []uint64 // int64 values, two's complement
	Path       []common.Hash
	Dup        bool
	DupIndex   uint64
	DupPath    []common.Hash
}

// OptTimeout decides a game whose side to move overran its clock.
type OptTimeout struct {
	Claim      common.Hash
	Executor   common.Address
	Challenger common.Address
}

// OptCancel closes a game of an overturned claim, returning its bond.
type OptCancel struct {
	Claim      common.Hash
	Executor   common.Address
	Challenger common.Address
}

// OptFinalize closes a claim whose window ended with no game open.
type OptFinalize struct {
	Claim    common.Hash
	Executor common.Address
}

// Kind implementations.
func (*OptClaim) Kind() Kind     { return KindOptClaim }
func (*OptChallenge) Kind() Kind { return KindOptChallenge }
func (*OptMove) Kind() Kind      { return KindOptMove }
func (*OptStep) Kind() Kind      { return KindOptStep }
func (*OptTimeout) Kind() Kind   { return KindOptTimeout }
func (*OptCancel) Kind() Kind    { return KindOptCancel }
func (*OptFinalize) Kind() Kind  { return KindOptFinalize }

// Request is the claim request the body carries.
func (b *OptClaim) Request(chainID uint64) *optimistic.ClaimRequest {
	return &optimistic.ClaimRequest{
		Submission: b.Submission.Digest(chainID), Commitment: b.Submission.Commitment, N: b.Submission.Records,
		Fields: b.Fields, FactsParams: facts.Params{Lo: int64(b.ValidMin), Hi: int64(b.ValidMax)},
		Result: b.Result, TraceRoot: b.TraceRoot, ResultProof: b.ResultProof, Bond: b.Bond,
	}
}

// Request is the challenge request the body carries.
func (b *OptChallenge) Request() *optimistic.ChallengeRequest {
	return &optimistic.ChallengeRequest{Claim: b.Claim, Bond: b.Bond, Root: b.Root, Final: b.Final, Mid: b.Mid}
}

// Proof is the step proof the body carries.
func (b *OptStep) Proof() *optimistic.StepProof {
	rec := make([]int64, len(b.Record))
	for i, v := range b.Record {
		rec[i] = int64(v)
	}
	return &optimistic.StepProof{Prev: b.Prev, Record: rec, Path: b.Path, Dup: b.Dup, DupIndex: b.DupIndex, DupPath: b.DupPath}
}

// FromAction returns the tx body of an optimistic action (what
// coordinator/client.PostOptimistic and the watcher's chain adapter send).
func FromAction(a *optimistic.Action) (Body, error) {
	switch a.Kind {
	case optimistic.ActClaim:
		if a.Claim == nil || a.Signed == nil {
			return nil, fmt.Errorf("claim action without its request and signed submission")
		}
		r := a.Claim
		return &OptClaim{Submission: a.Signed.Submission, Signature: a.Signed.Signature, SubmissionID: r.Submission,
			Fields: r.Fields, ValidMin: uint64(r.FactsParams.Lo), ValidMax: uint64(r.FactsParams.Hi),
			Result: r.Result, TraceRoot: r.TraceRoot, ResultProof: r.ResultProof, Bond: r.Bond}, nil
	case optimistic.ActChallenge:
		if a.Challenge == nil {
			return nil, fmt.Errorf("challenge action without its request")
		}
		r := a.Challenge
		return &OptChallenge{Claim: r.Claim, Bond: r.Bond, Root: r.Root, Final: r.Final, Mid: r.Mid}, nil
	case optimistic.ActMove:
		if a.Move == nil {
			return nil, fmt.Errorf("move action without its move")
		}
		return &OptMove{Claim: a.ClaimID, Challenger: a.Challenger, Move: *a.Move}, nil
	case optimistic.ActStep:
		if a.Step == nil {
			return nil, fmt.Errorf("step action without its proof")
		}
		p := a.Step
		rec := make([]uint64, len(p.Record))
		for i, v := range p.Record {
			rec[i] = uint64(v)
		}
		return &OptStep{Claim: a.ClaimID, Executor: a.Executor, Challenger: a.Challenger, Prev: p.Prev, Record: rec,
			Path: p.Path, Dup: p.Dup, DupIndex: p.DupIndex, DupPath: p.DupPath}, nil
	case optimistic.ActTimeout:
		return &OptTimeout{Claim: a.ClaimID, Executor: a.Executor, Challenger: a.Challenger}, nil
	case optimistic.ActCancel:
		return &OptCancel{Claim: a.ClaimID, Executor: a.Executor, Challenger: a.Challenger}, nil
	case optimistic.ActFinalize:
		return &OptFinalize{Claim: a.ClaimID, Executor: a.Executor}, nil
	}
	return nil, fmt.Errorf("%w: optimistic action %q", ErrUnknownKind, a.Kind)
}
