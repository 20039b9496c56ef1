package member

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/quorum"
)

// requestBatch bounds the vote-request messages a member takes at once;
// signBatch bounds the votes of one signed batch (and so the size of the
// result message that carries them: ≈ 1 KB a vote, under bus.MaxResultMsg).
// MaxRequests bounds the requests one message may hold (the coordinator
// sends at most 256).
const (
	requestBatch = 64
	signBatch    = 256
	MaxRequests  = 1024
)

// Service runs a member as a process role (a service.Service): Start
// answers the vote requests of its iDAOs on the bus until Stop, which waits
// for the requests in hand and then closes the member's vote record. The
// service owns the member.
type Service struct {
	m     *Member
	bus   *bus.Bus
	idaos []string
	loop  service.Group
}

// NewService serves m's vote requests from b, for idaos (none: every iDAO
// m is a member of).
func NewService(m *Member, b *bus.Bus, idaos []string) *Service {
	return &Service{m: m, bus: b, idaos: idaos}
}

// Member is the member the service runs.
func (s *Service) Member() *Member { return s.m }

// Start answers vote requests until Stop (Run).
func (s *Service) Start(ctx context.Context) error {
	return s.loop.Go(ctx, func(ctx context.Context) error { return s.m.Run(ctx, s.bus, s.idaos) })
}

// Stop stops answering, waits for the batch in hand (at most until ctx
// ends) and closes the vote record. It copes with a service that never
// started.
func (s *Service) Stop(ctx context.Context) error {
	err := s.loop.Stop(ctx)
	if s.m != nil {
		err = errors.Join(err, s.m.Close())
	}
	return err
}

// Done is closed when the member's consumer failed, or on Stop.
func (s *Service) Done() <-chan struct{} { return s.loop.Done() }

// Err is why the member's consumer failed, if it did.
func (s *Service) Err() error { return s.loop.Err() }

// Run answers the vote requests of the iDAOs until ctx ends. A message holds
// one request (a JSON object) or a batch (a JSON array); the requests of the
// messages that arrive together are verified, their votes signed as one
// batch (up to signBatch) and published to the coordinator in one result
// message. Each message is settled on its own: an undecodable one is
// refused for good; one with a request the member could not check
// (ErrCouldNotCheck) is asked again later, after its other requests'
// votes are sent; it is never answered with a refusal.
func (m *Member) Run(ctx context.Context, b *bus.Bus, idaos []string) error {
	return b.VoteRequests(ctx, m.addr, idaos, requestBatch, func(ctx context.Context, msgs [][]byte) []error {
		errs := make([]error, len(msgs))
		var reqs []*quorum.VoteRequest
		var from []int // the message of each request
		for i, data := range msgs {
			rs, err := DecodeRequests(data)
			if err != nil {
				errs[i] = work.Refuse(codes.UndecodableVoteRequest, fmt.Errorf("undecodable vote request: %w", err))
				continue
			}
			reqs = append(reqs, rs...)
			for range rs {
				from = append(from, i)
			}
		}
		// a batch answered again after a failure signs the same votes again
		// (deterministic signatures); the coordinator ignores a vote it has
		for len(reqs) > 0 {
			n := min(len(reqs), signBatch)
			for k, err := range m.answer(ctx, b, reqs[:n]) {
				if err != nil && errs[from[k]] == nil {
					errs[from[k]] = err
				}
			}
			reqs, from = reqs[n:], from[n:]
		}
		return errs
	})
}

// answer verifies requests, signs their votes as one batch and publishes
// them in one result message. It returns, per request, an error to ask the
// request again with (it could not be checked, or the votes not sent).
func (m *Member) answer(ctx context.Context, b *bus.Bus, reqs []*quorum.VoteRequest) []error {
	votes, errs := m.DecideBatch(ctx, reqs)
	retry := make([]error, len(reqs))
	var signed []*quorum.Vote
	for i, v := range votes {
		if v == nil {
			if errors.Is(errs[i], ErrCouldNotCheck) {
				m.log.Warn("vote request not checked; will ask again", "submission", reqs[i].SubmissionID.Hex(), "err", errs[i])
				retry[i] = errs[i]
				m.count("ask_again")
				continue
			}
			// not a member, another chain, or an equivocation attempt: nothing to sign
			m.log.Warn("vote request not answered", "submission", reqs[i].SubmissionID.Hex(), "err", errs[i])
			m.count("not_answered")
			continue
		}
		m.count("signed")
		signed = append(signed, v)
	}
	if len(signed) == 0 {
		return retry
	}
	res := &work.Result{Kind: work.VoteKind, OK: true, Worker: m.addr.Hex()}
	var err error
	if len(signed) == 1 {
		res.JobID = fmt.Sprintf("%s/vote/%s", signed[0].Submission.Hex(), m.addr.Hex())
		res.SubmissionID = signed[0].Submission
		res.Evidence, err = json.Marshal(signed[0])
	} else {
		res.JobID = fmt.Sprintf("votes/%s/%s", m.addr.Hex(), signed[0].Batch.Root.Hex())
		res.Evidence, err = json.Marshal(signed)
	}
	if err == nil {
		err = b.PublishResult(ctx, res)
	}
	if err == nil {
		m.countBatch()
	}
	if err != nil {
		for i, v := range votes {
			if v != nil {
				retry[i] = fmt.Errorf("send votes: %w", err)
			}
		}
		return retry
	}
	m.log.Info("voted", "votes", len(signed), "first", signed[0].Submission.Hex(), "approve", signed[0].Approve)
	return retry
}

// DecodeRequests decodes a vote-request message: one request (a JSON object)
// or a batch (a JSON array) of at most MaxRequests.
func DecodeRequests(data []byte) ([]*quorum.VoteRequest, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		var reqs []*quorum.VoteRequest
		if err := json.Unmarshal(data, &reqs); err != nil {
			return nil, err
		}
		if len(reqs) > MaxRequests {
			return nil, fmt.Errorf("%d vote requests in one message, at most %d", len(reqs), MaxRequests)
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
