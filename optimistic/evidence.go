package optimistic

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/tee"
)

// AnchorDigest is the result digest the quorum votes on and the chain
// anchors for a finalized claim: tee.ResultDigest(submission, commitment,
// facts digest), the very digest a TEE verifier's evidence carries for the
// same data. So a submission certified optimistically and one certified by
// an enclave anchor the same digest, and the digest names its submission
// (two submissions of equal data never collide on one anchor).
func (c *Claim) AnchorDigest() common.Hash {
	return tee.ResultDigest(c.Submission, c.Commitment, c.Result)
}

// Evidence is the optimistic verifier's evidence for the coordinator and the
// quorum: which claim stands for the submission and what it certifies.
type Evidence struct {
	ClaimID      common.Hash `json:"claim_id"`
	Submission   common.Hash `json:"submission"`
	Commitment   common.Hash `json:"commitment"`
	FactsDigest  common.Hash `json:"facts_digest"`
	ResultDigest common.Hash `json:"result_digest"` // AnchorDigest
	Status       string      `json:"status"`
	Reason       string      `json:"reason,omitempty"`
}

// EvidenceOf returns the claim's evidence.
func (c *Claim) EvidenceOf() Evidence {
	return Evidence{ClaimID: c.ID, Submission: c.Submission, Commitment: c.Commitment, FactsDigest: c.Result,
		ResultDigest: c.AnchorDigest(), Status: c.Status, Reason: c.Reason}
}

// Errors of CheckFinal.
var (
	ErrNotFinal       = fmt.Errorf("optimistic: the claim has not finalized")
	ErrClaimMismatch  = fmt.Errorf("optimistic: the claim is about another submission or commitment")
	ErrDigestMismatch = fmt.Errorf("optimistic: the digest is not the claim's result digest")
)

// CheckFinal is what a quorum member checks before voting on an optimistic
// result, with the claim read from the chain: the claim has finalized (so it
// can never be overturned), it is about this submission and commitment, and
// digest is its anchor digest.
func CheckFinal(c *Claim, submission, commitment, digest common.Hash) error {
	switch {
	case c.Status != StatusFinalized:
		return fmt.Errorf("%w: %s", ErrNotFinal, c.Status)
	case c.Submission != submission || c.Commitment != commitment:
		return ErrClaimMismatch
	case c.AnchorDigest() != digest:
		return ErrDigestMismatch
	}
	return nil
}
