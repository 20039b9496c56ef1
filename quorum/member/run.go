package member

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/quorum"
)

// Run answers the vote requests of the iDAOs until ctx ends: each request is
// verified (Decide) and the signed vote is published to the coordinator.
func (m *Member) Run(ctx context.Context, b *bus.Bus, idaos []string) error {
	return b.VoteRequests(ctx, m.addr.Hex(), idaos, func(ctx context.Context, data []byte) error {
		var req quorum.VoteRequest
		if err := json.Unmarshal(data, &req); err != nil {
			m.log.Error("undecodable vote request dropped", "err", err)
			return nil
		}
		vote, err := m.Decide(ctx, &req)
		if err != nil {
			// not a member, another chain, or an equivocation attempt: nothing to sign
			m.log.Warn("vote request not answered", "submission", req.SubmissionID.Hex(), "err", err)
			return nil
		}
		raw, err := json.Marshal(vote)
		if err != nil {
			return err
		}
		res := &bus.Result{JobID: fmt.Sprintf("%s/vote/%s", req.SubmissionID.Hex(), m.addr.Hex()), Kind: bus.VoteKind,
			SubmissionID: req.SubmissionID, OK: true, Evidence: raw, Worker: m.addr.Hex()}
		if err := b.PublishResult(ctx, res); err != nil {
			return err
		}
		m.log.Info("voted", "submission", req.SubmissionID.Hex(), "approve", vote.Approve, "reason", vote.Reason)
		return nil
	})
}
