package server

import (
	"bytes"
	"sort"

	"github.com/jackc/pgx/v5"

	"context"
	"encoding/json"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
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

// applyResults applies a batch of results and votes in one transaction,
// in submission order (so concurrent batches lock rows in the same order
// and never deadlock). Votes are checked (signature, on-chain stake) before
// the transaction starts.
func (s *Server) applyResults(ctx context.Context, rs []bus.Result) error {
	sort.SliceStable(rs, func(i, j int) bool { return bytes.Compare(rs[i].SubmissionID[:], rs[j].SubmissionID[:]) < 0 })
	votes := make([]*checkedVote, len(rs))
	daos := map[string]*idao.IDAO{} // one chain read per iDAO per batch
	for i := range rs {
		if rs[i].Kind == bus.VoteKind {
			v, err := s.checkVote(ctx, &rs[i], daos)
			if err != nil {
				return err
			}
			votes[i] = v // nil: dropped (bad signature, not a member)
		}
	}
	var moved []coordinator.Status
	err := s.store.Tx(ctx, func(tx pgx.Tx) error {
		moved = moved[:0]
		for i := range rs {
			if rs[i].Kind == bus.VoteKind {
				if votes[i] == nil {
					continue
				}
				out, err := store.ApplyVoteTx(ctx, tx, votes[i].vote, votes[i].stake, votes[i].total)
				if err != nil {
					return err
				}
				if out.Changed {
					moved = append(moved, out.Status)
				}
				continue
			}
			out, err := store.ApplyResultTx(ctx, tx, &rs[i])
			if err != nil {
				return err
			}
			if out.Changed {
				moved = append(moved, out.Status)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, st := range moved {
		s.m.transitions.WithLabelValues(string(st)).Inc()
		if st == coordinator.Certified {
			s.wakeFinisher()
		}
		if st == coordinator.Voting {
			s.wake() // the relay publishes the vote request
		}
	}
	return nil
}
