package coordinator

import (
	"github.com/ethereum/go-ethereum/common"
)

// Status is a submission's state (CONTRACT.md).
type Status string

// Submission statuses.
const (
	Received   Status = "received"
	Verifying  Status = "verifying"
	Voting     Status = "voting"
	Certified  Status = "certified"
	Anchored   Status = "anchored"
	Minted     Status = "minted"
	Rejected   Status = "rejected"
	Failed     Status = "failed"
	Claimed    Status = "claimed"
	Challenged Status = "challenged"
	Finalized  Status = "finalized"
	Overturned Status = "overturned"
)

// Final reports whether no further transition can happen.
func (s Status) Final() bool {
	switch s {
	case Minted, Rejected, Failed, Overturned:
		return true
	}
	return false
}

// order ranks statuses along the happy path so transitions only move forward.
var order = map[Status]int{
	Received: 0, Verifying: 1, Claimed: 2, Challenged: 3, Finalized: 4,
	Voting: 5, Certified: 6, Anchored: 7, Minted: 8,
}

// CanMove reports whether a submission in from may move to to. Final states
// never change; otherwise a final state is always reachable, and forward
// moves along the happy path are allowed (never backwards, so a late or
// redelivered worker result cannot undo progress).
func CanMove(from, to Status) bool {
	if from.Final() || from == to {
		return false
	}
	if to.Final() && to != Minted {
		return true
	}
	return order[to] > order[from]
}

// AnchorInfo is where a certified result was anchored on chain.
type AnchorInfo struct {
	Block  uint64
	Tx     common.Hash
	QCHash common.Hash
}

// AnchorOutcome is what anchoring and minting one certified submission did:
// its anchor and DAT class, or why not (it is retried).
type AnchorOutcome struct {
	Info  *AnchorInfo
	Class common.Hash
	Err   error
}
