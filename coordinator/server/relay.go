package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/quorum"
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

// RelayOnce publishes one batch of outbox jobs and returns how many. Vote
// requests of one iDAO go out together, as one message holding a batch
// (members answer it with one signed vote batch).
func (s *Server) RelayOnce(ctx context.Context) (int, error) {
	n, err := s.store.ClaimOutbox(ctx, s.cfg.RelayBatch, func(rows []store.OutboxJob) error {
		jobs := make([]*bus.Job, 0, len(rows))
		var votes []store.OutboxJob
		for _, r := range rows {
			if r.Kind == bus.VoteKind {
				votes = append(votes, r)
				continue
			}
			j := new(bus.Job)
			if err := json.Unmarshal(r.Payload, j); err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		if err := s.publishVoteRequests(ctx, votes); err != nil {
			return err
		}
		return s.bus.PublishJobs(ctx, jobs)
	})
	if n > 0 {
		s.m.jobsPublished.Add(float64(n))
	}
	return n, err
}

// Bounds of one vote-request message (NATS' default payload limit is 1 MiB).
const (
	voteBatchMax      = 256
	voteBatchMaxBytes = 512 << 10
)

// publishVoteRequests assembles the vote requests of outbox rows (two
// queries for all) and publishes each iDAO's in batches (a JSON array each);
// a lone request goes out as itself, under its own message id.
func (s *Server) publishVoteRequests(ctx context.Context, rows []store.OutboxJob) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]common.Hash, len(rows))
	msgIDs := map[common.Hash]string{}
	for i, r := range rows {
		ids[i], msgIDs[r.Submission] = r.Submission, r.MsgID
	}
	reqs, err := s.store.VoteRequests(ctx, ids)
	if err != nil {
		return fmt.Errorf("assemble vote requests: %w", err)
	}
	byIDAO := map[string][]*quorum.VoteRequest{}
	var daos []string
	for _, r := range reqs {
		if byIDAO[r.IDAO] == nil {
			daos = append(daos, r.IDAO)
		}
		byIDAO[r.IDAO] = append(byIDAO[r.IDAO], r)
	}
	for _, dao := range daos {
		reqs := byIDAO[dao]
		payloads := make([][]byte, len(reqs))
		for i, r := range reqs {
			if payloads[i], err = json.Marshal(r); err != nil {
				return err
			}
		}
		for len(payloads) > 0 {
			n, size := 0, 2
			for n < len(payloads) && n < voteBatchMax && (n == 0 || size+len(payloads[n])+1 <= voteBatchMaxBytes) {
				size += len(payloads[n]) + 1
				n++
			}
			msgID, payload := msgIDs[reqs[0].SubmissionID], payloads[0]
			if n > 1 {
				payload = make([]byte, 0, size)
				var keys []byte
				payload = append(payload, '[')
				for i, p := range payloads[:n] {
					if i > 0 {
						payload = append(payload, ',')
					}
					payload = append(payload, p...)
					keys = append(keys, msgIDs[reqs[i].SubmissionID]...)
				}
				payload = append(payload, ']')
				msgID = "votes/" + crypto.Keccak256Hash(keys).Hex()
			}
			if err := s.bus.PublishVoteRequest(ctx, dao, msgID, payload); err != nil {
				return err
			}
			payloads, reqs = payloads[n:], reqs[n:]
		}
	}
	return nil
}

// applyResults applies a batch of results and votes in one transaction,
// in submission order (so concurrent batches lock rows in the same order
// and never deadlock). Votes are checked (signature, on-chain stake) before
// the transaction starts.
func (s *Server) applyResults(ctx context.Context, rs []bus.Result) error {
	// a member's message holds one vote or a signed batch of votes: each
	// vote is applied on its own (one signature recovery serves a batch)
	type item struct {
		r     *bus.Result
		id    common.Hash
		vote  *quorum.Vote
		check *store.CheckedVote
	}
	items := make([]item, 0, len(rs))
	for i := range rs {
		if rs[i].Kind != bus.VoteKind {
			items = append(items, item{r: &rs[i], id: rs[i].SubmissionID})
			continue
		}
		vs, err := decodeVotes(&rs[i])
		if err != nil {
			s.log.Warn("malformed vote message dropped", "job", rs[i].JobID, "err", err)
			continue
		}
		for _, v := range vs {
			items = append(items, item{id: v.Submission, vote: v})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return bytes.Compare(items[i].id[:], items[j].id[:]) < 0 })
	daos := map[string]*idao.IDAO{} // one chain read per iDAO per batch
	for i := range items {
		if items[i].vote != nil {
			v, err := s.checkVote(ctx, items[i].vote, daos)
			if err != nil {
				return err
			}
			items[i].check = v // nil: dropped (bad signature, not a member)
		}
	}
	var moved []coordinator.Status
	err := s.store.Tx(ctx, func(tx pgx.Tx) error {
		moved = moved[:0]
		record := func(out store.VoteOutcome) {
			if out.Changed {
				moved = append(moved, out.Status)
			}
		}
		// a submission's votes in this batch are stored and counted together
		for i := 0; i < len(items); {
			it := items[i]
			if it.vote == nil {
				out, err := store.ApplyResultTx(ctx, tx, it.r)
				if err != nil {
					return err
				}
				record(store.VoteOutcome{Status: out.Status, Changed: out.Changed})
				i++
				continue
			}
			var group []store.CheckedVote
			for ; i < len(items) && items[i].vote != nil && items[i].id == it.id; i++ {
				if c := items[i].check; c != nil {
					group = append(group, *c)
				}
			}
			if len(group) == 0 {
				continue
			}
			out, err := store.ApplyVotesTx(ctx, tx, it.id, group)
			if err != nil {
				return err
			}
			record(out)
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
