package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
)

// relay publishes outbox jobs: woken after each accepted submission, and on
// a timer so rows left by a crash are published after restart.
func (s *Server) relay(ctx context.Context) {
	tick := time.NewTicker(s.cfg.RelayPoll)
	defer tick.Stop()
	for {
		for {
			n, err := s.RelayOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("outbox relay", "err", err)
				}
				break
			}
			if n < s.cfg.RelayBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-tick.C:
		}
	}
}

// RelayOnce publishes one batch of outbox jobs and returns how many.
func (s *Server) RelayOnce(ctx context.Context) (int, error) {
	n, err := s.store.ClaimOutbox(ctx, s.cfg.RelayBatch, func(rows []store.OutboxJob) error {
		jobs := make([]*bus.Job, 0, len(rows))
		for _, r := range rows {
			if r.Kind == bus.VoteKind {
				var req struct {
					IDAO string `json:"idao"`
				}
				if err := json.Unmarshal(r.Payload, &req); err != nil {
					return err
				}
				if err := s.bus.PublishVoteRequest(ctx, req.IDAO, r.MsgID, r.Payload); err != nil {
					return err
				}
				continue
			}
			j := new(bus.Job)
			if err := json.Unmarshal(r.Payload, j); err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return s.bus.PublishJobs(ctx, jobs)
	})
	if n > 0 {
		s.m.jobsPublished.Add(float64(n))
	}
	return n, err
}

func (s *Server) applyResult(ctx context.Context, r bus.Result) error {
	if r.Kind == bus.VoteKind {
		return s.applyVote(ctx, r)
	}
	out, err := s.store.ApplyResult(ctx, &r)
	if err != nil {
		return err
	}
	if out.Changed {
		s.m.transitions.WithLabelValues(string(out.Status)).Inc()
		s.log.Info("submission moved", "id", r.SubmissionID, "status", out.Status, "kind", r.Kind)
	}
	return nil
}
