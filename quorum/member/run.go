package member

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/quorum"
)

// requestBatch bounds the vote-request messages a member takes at once;
// signBatch bounds the votes of one signed batch (and so the size of the
// result message that carries them: ≈ 1 KB a vote, under NATS' 1 MiB).
const (
	requestBatch = 64
	signBatch    = 256
)

// Run answers the vote requests of the iDAOs until ctx ends. A message holds
// one request (a JSON object) or a batch (a JSON array); the requests of the
// messages that arrive together are verified, their votes signed as one
// batch (up to signBatch) and published to the coordinator in one result
// message.
func (m *Member) Run(ctx context.Context, b *bus.Bus, idaos []string) error {
	return b.VoteRequests(ctx, m.addr.Hex(), idaos, requestBatch, func(ctx context.Context, msgs [][]byte) error {
		var reqs []*quorum.VoteRequest
		for _, data := range msgs {
			rs, err := DecodeRequests(data)
			if err != nil {
				m.log.Error("undecodable vote request dropped", "err", err)
				continue
			}
			reqs = append(reqs, rs...)
		}
		// a batch answered again after a failure signs the same votes again
		// (deterministic signatures), and its result message is deduped
		for len(reqs) > 0 {
			n := min(len(reqs), signBatch)
			if err := m.answer(ctx, b, reqs[:n]); err != nil {
				return err
			}
			reqs = reqs[n:]
		}
		return nil
	})
}

// answer verifies requests, signs their votes as one batch and publishes
// them in one result message.
func (m *Member) answer(ctx context.Context, b *bus.Bus, reqs []*quorum.VoteRequest) error {
	votes, errs := m.DecideBatch(ctx, reqs)
	var signed []*quorum.Vote
	for i, v := range votes {
		if v == nil {
			// not a member, another chain, or an equivocation attempt: nothing to sign
			m.log.Warn("vote request not answered", "submission", reqs[i].SubmissionID.Hex(), "err", errs[i])
			continue
		}
		signed = append(signed, v)
	}
	if len(signed) == 0 {
		return nil
	}
	res := &bus.Result{Kind: bus.VoteKind, OK: true, Worker: m.addr.Hex()}
	var err error
	if len(signed) == 1 {
		res.JobID = fmt.Sprintf("%s/vote/%s", signed[0].Submission.Hex(), m.addr.Hex())
		res.SubmissionID = signed[0].Submission
		res.Evidence, err = json.Marshal(signed[0])
	} else {
		res.JobID = fmt.Sprintf("votes/%s/%s", m.addr.Hex(), signed[0].Batch.Root.Hex())
		res.Evidence, err = json.Marshal(signed)
	}
	if err != nil {
		return err
	}
	if err := b.PublishResult(ctx, res); err != nil {
		return err
	}
	m.log.Info("voted", "votes", len(signed), "first", signed[0].Submission.Hex(), "approve", signed[0].Approve)
	return nil
}

// DecodeRequests decodes a vote-request message: one request (a JSON object)
// or a batch (a JSON array).
func DecodeRequests(data []byte) ([]*quorum.VoteRequest, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		var reqs []*quorum.VoteRequest
		if err := json.Unmarshal(data, &reqs); err != nil {
			return nil, err
		}
		for i, r := range reqs {
			if r == nil {
				return nil, fmt.Errorf("vote request %d is null", i)
			}
		}
		return reqs, nil
	}
	var req quorum.VoteRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, err
	}
	return []*quorum.VoteRequest{&req}, nil
}
