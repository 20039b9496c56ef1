package member

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
)

// Claims is the part of the chain a member reads for optimistic evidence.
// The chain node provides it; a member whose Chain lacks it refuses
// optimistic requests.
type Claims interface {
	Claim(id common.Hash) (*optimistic.Claim, error)
}

// verifyOptimistic checks optimistic evidence (the claim id) against the
// chain: the claim must have finalized — its window passed and every game
// won by the executor, so it can never be overturned — for this very
// submission and commitment. Members do not re-execute: the game did. The
// digest to sign is the claim's anchor digest (the TEE's result digest
// formula over the claimed facts digest).
func (m *Member) verifyOptimistic(req *quorum.VoteRequest, raw json.RawMessage) (common.Hash, error) {
	cr, ok := m.chain.(Claims)
	if !ok {
		return common.Hash{}, errors.New("this member cannot read optimistic claims from its chain")
	}
	var id common.Hash
	if err := json.Unmarshal(raw, &id); err != nil {
		return common.Hash{}, fmt.Errorf("optimistic evidence: want a claim id: %w", err)
	}
	c, err := cr.Claim(id)
	if err != nil {
		// the executor reports a claim once it is final on chain: a member
		// that cannot read it yet lags, or cannot reach the chain
		return common.Hash{}, couldNotCheck("read claim %s from the chain: %w", id.Hex(), err)
	}
	d := c.AnchorDigest()
	if err := optimistic.CheckFinal(c, req.SubmissionID, req.Submission.Commitment, d); errors.Is(err, optimistic.ErrNotFinal) && c.Status != optimistic.StatusOverturned {
		return common.Hash{}, couldNotCheck("claim %s: %w (this member's view of the chain may lag)", id.Hex(), err)
	} else if err != nil {
		return common.Hash{}, fmt.Errorf("claim %s: %w", id.Hex(), err)
	}
	if c.N != req.Submission.Records {
		return common.Hash{}, fmt.Errorf("claim %s covers %d records, the submission %d", id.Hex(), c.N, req.Submission.Records)
	}
	return d, nil
}
