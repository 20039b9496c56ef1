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
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/work"
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

// RelayOnce publishes one batch of outbox jobs and returns how many rows it
// took. Vote requests of one iDAO go out together, as one message holding
// a batch (members answer it with one signed vote batch). Each row is
// settled on its own: one NATS refuses (a message over a limit) is retried
// a few times and then set aside, failing its submission; it never holds up
// the others.
func (s *Server) RelayOnce(ctx context.Context) (int, error) {
	out, err := s.store.ClaimOutbox(ctx, s.cfg.RelayBatch, func(rows []store.OutboxJob) []error {
		errs := make([]error, len(rows))
		var jobRows, votes []store.OutboxJob
		var jobRowAt, voteAt []int
		for i, r := range rows {
			if r.Kind == work.VoteKind {
				votes, voteAt = append(votes, r), append(voteAt, i)
			} else {
				jobRows, jobRowAt = append(jobRows, r), append(jobRowAt, i)
			}
		}
		built, buildErrs := s.store.OutboxJobs(ctx, jobRows)
		jobs := make([]*work.Job, 0, len(jobRows))
		var jobAt []int
		for k, j := range built {
			if buildErrs[k] != nil {
				errs[jobRowAt[k]] = buildErrs[k]
				continue
			}
			jobs, jobAt = append(jobs, j), append(jobAt, jobRowAt[k])
		}
		for k, err := range s.publishVoteRequests(ctx, votes) {
			errs[voteAt[k]] = err
		}
		for k, err := range s.bus.PublishJobs(ctx, jobs) {
			errs[jobAt[k]] = err
		}
		// the store sets aside what can never be published; only the bus
		// can tell a NATS refusal for good from a passing one
		for i, err := range errs {
			if bus.RefusedForGood(err) {
				errs[i] = work.Permanent(err)
			}
		}
		return errs
	})
	if out.Published > 0 {
		s.m.jobsPublished.Add(float64(out.Published))
	}
	if out.SetAside > 0 {
		s.m.transitions.WithLabelValues(string(coordinator.Failed)).Add(float64(out.SetAside))
	}
	return out.Claimed, err
}

// Bounds of one vote-request message (well under bus.MaxVoteRequestMsg).
const (
	voteBatchMax      = 256
	voteBatchMaxBytes = 512 << 10
)

// publishVoteRequests assembles the vote requests of outbox rows (two
// queries for all) and publishes each iDAO's in batches (a JSON array each);
// a lone request goes out as itself, under its own message id. It returns
// one error per row; a batch NATS refuses for good is tried again one
// request at a time, so only the request that is too large fails.
func (s *Server) publishVoteRequests(ctx context.Context, rows []store.OutboxJob) []error {
	errs := make([]error, len(rows))
	if len(rows) == 0 {
		return errs
	}
	ids := make([]common.Hash, len(rows))
	rowOf := map[common.Hash]int{}
	for i, r := range rows {
		ids[i], rowOf[r.Submission] = r.Submission, i
	}
	reqs, err := s.store.VoteRequests(ctx, ids)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("assemble vote requests: %w", err)
		}
		return errs
	}
	byIDAO := map[string][]*quorum.VoteRequest{}
	var daos []string
	for _, r := range reqs {
		if byIDAO[r.IDAO] == nil {
			daos = append(daos, r.IDAO)
		}
		byIDAO[r.IDAO] = append(byIDAO[r.IDAO], r)
	}
	msgID := func(r *quorum.VoteRequest) string { return rows[rowOf[r.SubmissionID]].MsgID }
	for _, dao := range daos {
		s.publishIDAOVoteRequests(ctx, dao, byIDAO[dao], msgID, func(r *quorum.VoteRequest, err error) { errs[rowOf[r.SubmissionID]] = err })
	}
	return errs
}

// publishIDAOVoteRequests publishes one iDAO's vote requests in batches of
// at most voteBatchMax requests and voteBatchMaxBytes, telling done each
// request's outcome; a batch NATS refuses for good is tried again one
// request at a time.
func (s *Server) publishIDAOVoteRequests(ctx context.Context, dao string, reqs []*quorum.VoteRequest,
	msgID func(*quorum.VoteRequest) string, done func(*quorum.VoteRequest, error)) {
	payloads := make([][]byte, len(reqs))
	for i, r := range reqs {
		var err error
		if payloads[i], err = json.Marshal(r); err != nil {
			done(r, work.Permanent(fmt.Errorf("encode the vote request: %w", err)))
		}
	}
	for len(payloads) > 0 {
		n, size := 0, 2
		for n < len(payloads) && n < voteBatchMax && (n == 0 || size+len(payloads[n])+1 <= voteBatchMaxBytes) {
			size += len(payloads[n]) + 1
			n++
		}
		var batch []*quorum.VoteRequest
		var bp [][]byte
		for i := range n {
			if payloads[i] != nil {
				batch, bp = append(batch, reqs[i]), append(bp, payloads[i])
			}
		}
		if len(batch) > 0 {
			err := s.publishVoteBatch(ctx, dao, batch, bp, msgID)
			if err != nil && len(batch) > 1 && bus.RefusedForGood(err) {
				for i := range batch {
					done(batch[i], s.publishVoteBatch(ctx, dao, batch[i:i+1], bp[i:i+1], msgID))
				}
			} else {
				for _, r := range batch {
					done(r, err)
				}
			}
		}
		payloads, reqs = payloads[n:], reqs[n:]
	}
}

// publishVoteBatch publishes vote requests (their JSON payloads) as one
// message: a lone request as itself under its own message id, several as
// a JSON array under an id made of theirs.
func (s *Server) publishVoteBatch(ctx context.Context, dao string, reqs []*quorum.VoteRequest, payloads [][]byte,
	msgIDOf func(*quorum.VoteRequest) string) error {
	msgID, payload := msgIDOf(reqs[0]), payloads[0]
	if len(reqs) > 1 {
		size := 2
		for _, p := range payloads {
			size += len(p) + 1
		}
		payload = make([]byte, 0, size)
		var keys []byte
		payload = append(payload, '[')
		for i, p := range payloads {
			if i > 0 {
				payload = append(payload, ',')
			}
			payload = append(payload, p...)
			keys = append(keys, msgIDOf(reqs[i])...)
		}
		payload = append(payload, ']')
		msgID = "votes/" + crypto.Keccak256Hash(keys).Hex()
	}
	return s.bus.PublishVoteRequest(ctx, dao, msgID, payload)
}

// applyResults applies a batch of results and votes in one transaction,
// in submission order (so concurrent batches lock rows in the same order
// and never deadlock), and returns one error per message. Nothing is
// believed on the bus's word: a worker's result must be signed by its
// iDAO's enclave key and its evidence must verify (checkResult); a vote must
// be signed by a staked member, for a submission that is voting, and a
// refusal must refuse the request this coordinator sent (checkVotes). A
// message that fails those checks is refused for good (work.ErrPermanent:
// terminated with its reason logged); one that could not be checked (a
// chain read) is retried on its own, and never holds up the others.
func (s *Server) applyResults(ctx context.Context, rs []work.Result) []error {
	errs := make([]error, len(rs))
	ids, votes := decodeVoteMessages(rs, errs)
	targets, err := s.store.Targets(ctx, ids)
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("load the submissions of results: %w", err)
			}
		}
		return errs
	}
	daos := map[string]*idao.IDAO{} // one chain read per iDAO per batch
	checked := s.checkVotes(ctx, votes, targets, daos, errs)
	items := make([]resultItem, 0, len(ids))
	for i := range rs {
		if errs[i] != nil {
			continue
		}
		if rs[i].Kind != work.VoteKind {
			if errs[i] = s.checkResult(ctx, &rs[i], targets[rs[i].SubmissionID]); errs[i] == nil {
				items = append(items, resultItem{at: i, r: &rs[i], id: rs[i].SubmissionID})
			}
			continue
		}
		for _, c := range checked[i] {
			items = append(items, resultItem{at: i, id: c.Vote.Submission, check: c})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return bytes.Compare(items[i].id[:], items[j].id[:]) < 0 })
	var moved []coordinator.Status
	err = s.store.Tx(ctx, func(tx pgx.Tx) (err error) {
		moved, err = applyItemsTx(ctx, tx, items)
		return err
	})
	if err != nil {
		for _, it := range items {
			errs[it.at] = fmt.Errorf("apply results: %w", err)
		}
		return errs
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
	return errs
}

// resultItem is one thing a batch applies: a worker's result, or one
// checked vote of a member's message (a message holds one vote or a
// signed batch of them; each is applied on its own, one signature recovery
// serving the batch).
type resultItem struct {
	at    int // the message
	r     *work.Result
	id    common.Hash
	check *store.CheckedVote
}

// decodeVoteMessages decodes the members' vote messages among rs (a
// message that does not decode is refused in errs) and returns the
// submissions every message names, and each message's votes.
func decodeVoteMessages(rs []work.Result, errs []error) ([]common.Hash, [][]*quorum.Vote) {
	ids := make([]common.Hash, 0, len(rs))
	votes := make([][]*quorum.Vote, len(rs))
	for i := range rs {
		if rs[i].Kind != work.VoteKind {
			ids = append(ids, rs[i].SubmissionID)
			continue
		}
		vs, err := decodeVotes(&rs[i])
		if err != nil {
			errs[i] = work.Refuse(codes.MalformedVote, fmt.Errorf("malformed vote message %s: %w", rs[i].JobID, err))
			continue
		}
		votes[i] = vs
		for _, v := range vs {
			ids = append(ids, v.Submission)
		}
	}
	return ids, votes
}

// applyItemsTx applies items (sorted by submission) in tx and returns the
// statuses the submissions moved to: it locks their rows in id order, then
// applies the results one by one (one per submission) and every
// submission's votes of the batch together (a few statements for all).
func applyItemsTx(ctx context.Context, tx pgx.Tx, items []resultItem) ([]coordinator.Status, error) {
	var moved []coordinator.Status
	lock := make([]common.Hash, 0, len(items))
	for _, it := range items {
		if len(lock) == 0 || lock[len(lock)-1] != it.id {
			lock = append(lock, it.id)
		}
	}
	if err := store.LockSubmissions(ctx, tx, lock); err != nil {
		return nil, err
	}
	var groups []store.VoteGroup
	for i := 0; i < len(items); {
		it := items[i]
		if it.check == nil {
			out, err := store.ApplyResultTx(ctx, tx, it.r)
			if err != nil {
				return nil, err
			}
			if out.Changed {
				moved = append(moved, out.Status)
			}
			i++
			continue
		}
		g := store.VoteGroup{ID: it.id}
		for ; i < len(items) && items[i].check != nil && items[i].id == it.id; i++ {
			g.Votes = append(g.Votes, *items[i].check)
		}
		groups = append(groups, g)
	}
	outs, err := store.ApplyVoteGroupsTx(ctx, tx, groups)
	if err != nil {
		return nil, err
	}
	for _, out := range outs {
		if out.Changed {
			moved = append(moved, out.Status)
		}
	}
	return moved, nil
}

// failStuckJob fails the evidence of a job the server stopped delivering
// because every worker that took it died before settling it (the bus could
// not dead-letter it), so its submission fails instead of waiting forever.
func (s *Server) failStuckJob(ctx context.Context, j work.Job, deliveries int) error {
	r := &work.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk,
		Reason: fmt.Sprintf("the %s job was delivered %d times and never finished: each worker that took it stopped "+
			"(crashed or was killed) before answering; ask the operator to look at the workers' logs", j.Kind, deliveries)}
	var out store.ResultOutcome
	err := s.store.Tx(ctx, func(tx pgx.Tx) (err error) {
		out, err = store.ApplyResultTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return err
	}
	if out.Changed {
		s.m.transitions.WithLabelValues(string(out.Status)).Inc()
	}
	return nil
}
