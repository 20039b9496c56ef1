package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
)

// NewSubmission is an accepted submission with the jobs it needs.
type NewSubmission struct {
	ID         common.Hash
	Sub        submission.Submission
	Signature  []byte
	WrappedKey []byte
	ChainID    uint64
	BlobSize   int64
	// BlobInline says the blob came with the request (and was stored just
	// before); otherwise it must be an upload or another submission's.
	BlobInline bool
	Jobs       []work.Job
}

// InsertSubmission stores a submission, its evidence rows, its outbox jobs
// and its nonce bump atomically, in one round trip (the vsc_intake
// function). If a submission with the same id exists it changes nothing and
// returns existed=true (idempotent intake). ErrBlobGone: the blob was not
// sent and is not stored (or the sweep is collecting it).
func (s *Store) InsertSubmission(ctx context.Context, n *NewSubmission) (existed bool, err error) {
	kinds := make([]string, len(n.Jobs))
	chunks := make([]int32, len(n.Jobs))
	nchunks := make([]int32, len(n.Jobs))
	msgIDs := make([]string, len(n.Jobs))
	payloads := make([][]byte, len(n.Jobs))
	for i := range n.Jobs {
		j := &n.Jobs[i]
		kinds[i], chunks[i], nchunks[i], msgIDs[i] = string(j.Kind), int32(j.Chunk), int32(max(j.Chunks, 1)), j.MsgID()
		// the row names the job; the relay builds it from the submission's row
		if payloads[i], err = json.Marshal(jobRef{Chunk: j.Chunk, Chunks: j.Chunks, ChunkSize: j.ChunkSize, VKHash: j.VKHash}); err != nil {
			return false, err
		}
	}
	var res string
	err = s.Pool.QueryRow(ctx, `SELECT vsc_intake($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18::jsonb[],$19,$20)`,
		n.ID[:], n.Sub.IDAO, n.Sub.Mode, n.Sub.Class, n.Sub.Contributor[:], n.Sub.DataHash[:], n.Sub.Commitment[:],
		int64(n.Sub.Records), n.WrappedKey, int64(n.Sub.Nonce), n.Signature, int64(n.ChainID), n.BlobSize,
		kinds, chunks, nchunks, msgIDs, payloads, n.BlobInline, int32(n.Sub.Fields)).Scan(&res)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "VSC01":
			return false, fmt.Errorf("%w: nonce %d of %s was already used; the next nonce is %s", ErrNonceReplay, n.Sub.Nonce, n.Sub.Contributor.Hex(), pgErr.Hint)
		case "VSC02":
			return false, fmt.Errorf("%w: nonce %d of %s skips ahead; the next nonce is %s", ErrNonceGap, n.Sub.Nonce, n.Sub.Contributor.Hex(), pgErr.Hint)
		case "VSC03":
			return false, fmt.Errorf("%w: data_hash %s (%s)", ErrBlobGone, n.Sub.DataHash.Hex(), pgErr.Message)
		case "23505": // (contributor, nonce) already taken by another submission
			return false, fmt.Errorf("%w: nonce %d of %s was already used by another submission", ErrNonceReplay, n.Sub.Nonce, n.Sub.Contributor.Hex())
		}
	}
	if err != nil {
		return false, fmt.Errorf("store submission %s: %w", n.ID.Hex(), err)
	}
	return res == "existed", nil
}

// OutboxJob is a job waiting to be published.
type OutboxJob struct {
	ID         int64
	Submission common.Hash
	Kind       idao.Kind // a verification kind, or work.VoteKind for a vote request
	MsgID      string
	Payload    []byte // a jobRef; {} for a vote request (the relay assembles it)
	Attempts   int    // failed publishes so far
}

// MaxOutboxAttempts is how many times the relay tries a row that is refused
// for good (work.ErrPermanent: NATS refuses it over a message limit, or it
// cannot be built) before it sets
// the row aside in outbox_failed and fails its submission. Rows that fail
// for passing reasons (a full stream, NATS down) are retried with back-off
// for as long as it takes.
const MaxOutboxAttempts = 3

// Back-off of an outbox row after a failed publish: outboxBackoff doubling
// with each try, at most outboxMaxBackoff.
const (
	outboxBackoff    = 250 * time.Millisecond
	outboxMaxBackoff = 30 * time.Second
)

// jobRef is what an outbox row of a verification job holds: which chunk of
// the submission's work it is. The job itself (the signed submission, the
// wrapped key) is built from the submission's row when it is published, so
// intake writes it once.
type jobRef struct {
	Chunk     int `json:"chunk,omitempty"`
	Chunks    int `json:"chunks,omitempty"`
	ChunkSize int `json:"chunk_size,omitempty"`
	// VKHash is the registered zk shape's key (zero: none registered).
	VKHash common.Hash `json:"vk_hash,omitzero"`
}

// OutboxJobs builds the verification jobs of outbox rows (one query for all
// their submissions); errs[i] says why row i has none (its payload does not
// decode, or its submission is gone: both for good).
func (s *Store) OutboxJobs(ctx context.Context, rows []OutboxJob) (jobs []*work.Job, errs []error) {
	jobs, errs = make([]*work.Job, len(rows)), make([]error, len(rows))
	ids := make([]common.Hash, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.Submission)
	}
	subs, err := s.jobSubmissions(ctx, ids)
	for i, r := range rows {
		if err != nil {
			errs[i] = fmt.Errorf("load the submission of an outbox job: %w", err)
			continue
		}
		var ref jobRef
		if err := json.Unmarshal(r.Payload, &ref); err != nil {
			errs[i] = work.Permanent(fmt.Errorf("the outbox job of %s does not decode: %w", r.Submission.Hex(), err))
			continue
		}
		base, ok := subs[r.Submission]
		if !ok {
			errs[i] = work.Permanent(fmt.Errorf("the outbox job's submission %s is not stored", r.Submission.Hex()))
			continue
		}
		j := *base
		j.ID, j.Kind, j.Chunk, j.Chunks, j.ChunkSize, j.VKHash = work.JobID(r.Submission, r.Kind), r.Kind, ref.Chunk, ref.Chunks, ref.ChunkSize, ref.VKHash
		jobs[i] = &j
	}
	return jobs, errs
}

// jobSubmissions loads what every job of the submissions carries.
func (s *Store) jobSubmissions(ctx context.Context, ids []common.Hash) (map[common.Hash]*work.Job, error) {
	keys := make([][]byte, 0, len(ids))
	seen := make(map[common.Hash]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, id.Bytes())
		}
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, idao, mode, class, contributor, data_hash, commitment, records, fields,
		wrapped_key, nonce, signature, chain_id FROM submissions WHERE id = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[common.Hash]*work.Job, len(keys))
	for rows.Next() {
		j := new(work.Job)
		sub := &j.Submission
		var id, contributor, dataHash, commitment []byte
		var records, nonce, chainID int64
		if err := rows.Scan(&id, &sub.IDAO, &sub.Mode, &sub.Class, &contributor, &dataHash, &commitment, &records, &sub.Fields,
			(*[]byte)(&j.WrappedKey), &nonce, (*[]byte)(&j.Signature), &chainID); err != nil {
			return nil, err
		}
		j.SubmissionID, j.ChainID = common.BytesToHash(id), uint64(chainID)
		sub.Contributor, sub.DataHash, sub.Commitment = common.BytesToAddress(contributor), common.BytesToHash(dataHash), common.BytesToHash(commitment)
		sub.Records, sub.Nonce, sub.WrappedKeyHash = uint64(records), uint64(nonce), keccak(j.WrappedKey)
		out[j.SubmissionID] = j
	}
	return out, rows.Err()
}

// OutboxOutcome says what one relay pass did.
type OutboxOutcome struct {
	Claimed   int // rows taken
	Published int // rows published and deleted
	SetAside  int // rows moved to outbox_failed
}

// ClaimOutbox locks up to limit unpublished jobs that are due, calls
// publish with them — it returns one error per row — and, in one
// transaction: deletes the published rows and moves their submissions to
// verifying; puts each failed row back with its error and a back-off; sets
// aside a row refused for good (publish's error is a work.ErrPermanent) on
// its MaxOutboxAttempts-th try, failing its submission with a reason that
// says what to do. A crash after publish but
// before commit republishes the same jobs later; JetStream drops the
// duplicates by Nats-Msg-Id.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, publish func([]OutboxJob) []error) (OutboxOutcome, error) {
	var out OutboxOutcome
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		out = OutboxOutcome{}
		rows, err := tx.Query(ctx, `SELECT id, submission, kind, msg_id, payload, attempts FROM outbox WHERE next_try <= now()
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxJob, error) {
			var j OutboxJob
			var sub []byte
			err := r.Scan(&j.ID, &sub, &j.Kind, &j.MsgID, &j.Payload, &j.Attempts)
			j.Submission = common.BytesToHash(sub)
			return j, err
		})
		if err != nil || len(jobs) == 0 {
			return err
		}
		out.Claimed = len(jobs)
		errs := publish(jobs)
		var done, aside []int64
		subs := make([][]byte, 0, len(jobs))
		seen := map[common.Hash]bool{}
		b := &pgx.Batch{}
		var failed []OutboxJob
		var reasons []string
		for i, j := range jobs {
			switch err := errs[i]; {
			case err == nil:
				done = append(done, j.ID)
				if !seen[j.Submission] {
					seen[j.Submission] = true
					subs = append(subs, j.Submission.Bytes())
				}
			case errors.Is(err, work.ErrPermanent) && j.Attempts+1 >= MaxOutboxAttempts:
				aside = append(aside, j.ID)
				failed, reasons = append(failed, j), append(reasons, truncate(err.Error(), 300))
			default:
				delay := min(outboxBackoff<<min(j.Attempts, 16), outboxMaxBackoff)
				b.Queue(`UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_try = now() + $3::interval WHERE id = $1`,
					j.ID, truncate(err.Error(), 300), fmt.Sprintf("%d milliseconds", delay.Milliseconds()))
				s.log.Warn("outbox row not published; will retry", "submission", j.Submission.Hex(), "kind", j.Kind,
					"attempt", j.Attempts+1, "in", delay, "err", err)
			}
		}
		if len(done) > 0 {
			b.Queue(`DELETE FROM outbox WHERE id = ANY($1)`, done)
			b.Queue(`WITH moved AS (UPDATE submissions SET status='verifying', updated_at=now()
					WHERE id = ANY($1) AND status='received' RETURNING id)
				INSERT INTO submission_events (submission, status, detail) SELECT id, 'verifying', 'jobs published' FROM moved`, subs)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if len(aside) > 0 {
			if err := setAside(ctx, tx, failed, reasons); err != nil {
				return err
			}
			for i, j := range failed {
				s.log.Error("outbox row set aside: NATS refuses it for good", "submission", j.Submission.Hex(), "kind", j.Kind,
					"attempts", j.Attempts+1, "err", reasons[i])
			}
		}
		out.Published, out.SetAside = len(done), len(aside)
		return nil
	})
	return out, err
}

// setAside moves outbox rows NATS refused for good to outbox_failed with
// their reasons and fails their submissions (those not final yet).
func setAside(ctx context.Context, tx pgx.Tx, rows []OutboxJob, reasons []string) error {
	ids := make([]int64, len(rows))
	for i, j := range rows {
		ids[i] = j.ID
	}
	b := &pgx.Batch{}
	for i, j := range rows {
		b.Queue(`INSERT INTO outbox_failed (id, submission, msg_id, kind, payload, attempts, reason, created_at)
			SELECT id, submission, msg_id, kind, payload, attempts + 1, $2, created_at FROM outbox WHERE id = $1`, j.ID, reasons[i])
	}
	b.Queue(`DELETE FROM outbox WHERE id = ANY($1)`, ids)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	for i, j := range rows {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM submissions WHERE id=$1 FOR UPDATE`, j.Submission[:]).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if !coordinator.CanMove(coordinator.Status(status), coordinator.Failed) {
			continue
		}
		what := fmt.Sprintf("its %s job", j.Kind)
		if j.Kind == work.VoteKind {
			what = "its vote request"
		}
		reason := fmt.Sprintf("%s could not be published to NATS (%d tries): %s. The submission is too large for this "+
			"deployment's message limits: submit a smaller dataset, or ask the operator to raise them", what, j.Attempts+1, reasons[i])
		if err := moveTx(ctx, tx, j.Submission, coordinator.Failed, reason); err != nil {
			return err
		}
	}
	return nil
}

// OutboxFailed counts rows set aside (tests, metrics).
func (s *Store) OutboxFailed(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_failed`).Scan(&n)
	return n, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// OutboxLen counts unpublished jobs.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, err
}

// ResultOutcome says what applying a result did.
type ResultOutcome struct {
	Status  coordinator.Status // the submission's status after
	Changed bool               // whether the status changed
	Ignored bool               // late/duplicate result for a final submission or a done chunk
}

// ApplyResultTx records a worker's result and moves the submission: a
// rejected result rejects it, a failed one fails it, and once every evidence
// row is ok it moves to voting. Idempotent: a redelivered result changes
// nothing.
func ApplyResultTx(ctx context.Context, tx pgx.Tx, r *work.Result) (ResultOutcome, error) {
	var out ResultOutcome
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM submissions WHERE id=$1 FOR UPDATE`, r.SubmissionID[:]).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		out.Ignored = true // a result for a submission we never stored: nothing to do
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Status = coordinator.Status(status)
	if out.Status.Final() {
		out.Ignored = true
		return out, nil
	}
	evStatus := "ok"
	switch {
	case r.Rejected:
		evStatus = "rejected"
	case !r.OK:
		evStatus = "failed"
	}
	// one round trip: record the result and count the evidence still not ok
	// (the count sees the rows as they were before this update)
	var updated, notOK int
	err = tx.QueryRow(ctx, `WITH upd AS (
			UPDATE evidence SET status=$4, reason=$5, data=$6, worker=$7, updated_at=now()
			WHERE submission=$1 AND kind=$2 AND chunk=$3 AND status='pending' RETURNING 1)
		SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM evidence WHERE submission=$1 AND status<>'ok')`,
		r.SubmissionID[:], r.Kind, r.Chunk, evStatus, nullText(r.Reason), nullJSON(r.Evidence), nullText(r.Worker)).Scan(&updated, &notOK)
	if err != nil {
		return out, err
	}
	if updated == 0 {
		out.Ignored = true
		return out, nil
	}
	next := coordinator.Status("")
	reason := ""
	switch evStatus {
	case "rejected":
		next, reason = coordinator.Rejected, fmt.Sprintf("%s verifier rejected the submission: %s", r.Kind, r.Reason)
		if r.Overturned {
			next, reason = coordinator.Overturned, "the optimistic claim was "+r.Reason
		}
	case "failed":
		next, reason = coordinator.Failed, fmt.Sprintf("%s verification failed: %s", r.Kind, r.Reason)
	default:
		if notOK == 1 { // only this row was not ok, and now it is
			next = coordinator.Voting
		}
	}
	if next == "" || !coordinator.CanMove(out.Status, next) {
		return out, nil
	}
	if next == coordinator.Voting && r.Kind == idao.KindOptimistic && coordinator.CanMove(out.Status, coordinator.Finalized) {
		// the executor reports a claim only once it is final on chain
		if err := moveTx(ctx, tx, r.SubmissionID, coordinator.Finalized, "optimistic claim finalized on chain: "+string(r.Evidence)); err != nil {
			return out, err
		}
	}
	b := &pgx.Batch{}
	queueMove(b, r.SubmissionID, next, reason)
	if next == coordinator.Voting {
		queueVoteRequest(b, r.SubmissionID)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return out, err
	}
	out.Status, out.Changed = next, true
	return out, nil
}

// Move changes a submission's status if the state machine allows it.
func (s *Store) Move(ctx context.Context, id common.Hash, to coordinator.Status, reason string) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM submissions WHERE id=$1 FOR UPDATE`, id[:]).Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if !coordinator.CanMove(coordinator.Status(status), to) {
			return fmt.Errorf("%w: %s → %s", ErrBadMove, status, to)
		}
		return moveTx(ctx, tx, id, to, reason)
	})
}

func moveTx(ctx context.Context, tx pgx.Tx, id common.Hash, to coordinator.Status, reason string) error {
	b := &pgx.Batch{}
	queueMove(b, id, to, reason)
	return tx.SendBatch(ctx, b).Close()
}

// queueMove queues, on b, a move of id to status to.
func queueMove(b *pgx.Batch, id common.Hash, to coordinator.Status, reason string) {
	// reason is only for bad final states (CONTRACT.md); every move's detail goes to the history
	var why any
	if to == coordinator.Rejected || to == coordinator.Failed || to == coordinator.Overturned {
		why = nullText(reason)
	}
	// the move to voting starts the voting clock (expireVotes)
	b.Queue(`UPDATE submissions SET status=$2, reason=$3, updated_at=now(),
		voting_since = CASE WHEN $2 = 'voting' THEN now() ELSE voting_since END WHERE id=$1`, id[:], string(to), why)
	b.Queue(`INSERT INTO submission_events (submission, status, detail) VALUES ($1,$2,$3)`, id[:], string(to), nullText(reason))
}

// GetSubmission returns the view of a submission.
func (s *Store) GetSubmission(ctx context.Context, id common.Hash, history bool) (*coordinator.SubmissionView, error) {
	v := &coordinator.SubmissionView{ID: id.Hex(), Evidence: []coordinator.EvidenceView{}, Votes: []coordinator.VoteView{}}
	var contributor, dataHash, commitment, anchorTx, resultDigest, qcHash []byte
	var records, nonce int64
	var anchorBlock *int64
	var status string
	err := s.Pool.QueryRow(ctx, `SELECT idao, mode, class, contributor, data_hash, commitment, records, fields, nonce, status,
		reason, anchor_block, anchor_tx, dat_id, created_at, updated_at, result_digest, qc_hash, wrapped_key FROM submissions WHERE id=$1`, id[:]).
		Scan(&v.IDAO, &v.Mode, &v.Class, &contributor, &dataHash, &commitment, &records, &v.Fields, &nonce, &status,
			&v.Reason, &anchorBlock, &anchorTx, &v.DATID, &v.CreatedAt, &v.UpdatedAt, &resultDigest, &qcHash, (*[]byte)(&v.WrappedKey))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	v.Status = coordinator.Status(status)
	v.Contributor = common.BytesToAddress(contributor)
	v.DataHash, v.Commitment = common.BytesToHash(dataHash), common.BytesToHash(commitment)
	v.Records, v.Nonce = uint64(records), uint64(nonce)
	if resultDigest != nil {
		h := common.BytesToHash(resultDigest)
		v.ResultDigest = &h
	}
	if qcHash != nil {
		h := common.BytesToHash(qcHash)
		v.QCHash = &h
	}
	if anchorBlock != nil {
		v.Anchor = &coordinator.AnchorView{Block: uint64(*anchorBlock), Tx: common.BytesToHash(anchorTx)}
	}
	if v.Evidence, err = s.evidenceViews(ctx, id); err != nil {
		return nil, err
	}
	votes, counted, stakes, err := s.Votes(ctx, id)
	if err != nil {
		return nil, err
	}
	for i, vt := range votes {
		v.Votes = append(v.Votes, coordinator.VoteView{Member: vt.Member, Stake: stakes[i], Approve: vt.Approve,
			Counted: counted[i], ResultDigest: vt.ResultDigest, Reason: vt.Reason, Signature: vt.Signature})
	}
	if history {
		if v.History, err = s.history(ctx, id); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// history is a submission's status changes, oldest first.
func (s *Store) history(ctx context.Context, id common.Hash) ([]coordinator.EventView, error) {
	rows, err := s.Pool.Query(ctx, `SELECT status, coalesce(detail,''), at FROM submission_events WHERE submission=$1 ORDER BY seq`, id[:])
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (coordinator.EventView, error) {
		var e coordinator.EventView
		var st string
		err := r.Scan(&st, &e.Detail, &e.At)
		e.Status = coordinator.Status(st)
		return e, err
	})
}

// evidenceViews is a submission's evidence, one view per kind (its chunks
// counted), in kind order: a kind is ok when every chunk is, pending while
// a chunk is and none failed, else a failed chunk's status with the first
// reason given.
func (s *Store) evidenceViews(ctx context.Context, id common.Hash) ([]coordinator.EvidenceView, error) {
	rows, err := s.Pool.Query(ctx, `SELECT kind, chunk, chunks, status, coalesce(reason,''), data FROM evidence
		WHERE submission=$1 ORDER BY kind, chunk`, id[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byKind := map[idao.Kind]*coordinator.EvidenceView{}
	var kinds []idao.Kind
	for rows.Next() {
		var kind idao.Kind
		var st, reason string
		var chunk, chunks int
		var data []byte
		if err := rows.Scan(&kind, &chunk, &chunks, &st, &reason, &data); err != nil {
			return nil, err
		}
		ev := byKind[kind]
		if ev == nil {
			ev = &coordinator.EvidenceView{Kind: kind, Status: "ok", Chunks: chunks}
			byKind[kind] = ev
			kinds = append(kinds, kind)
		}
		switch st {
		case "ok":
			ev.Done++
		case "pending":
			if ev.Status == "ok" {
				ev.Status = "pending"
			}
		default:
			ev.Status = st
			if ev.Reason == "" {
				ev.Reason = reason
			}
		}
		if len(data) > 0 {
			ev.Data = append(ev.Data, json.RawMessage(data))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []coordinator.EvidenceView{}
	for _, k := range kinds {
		out = append(out, *byKind[k])
	}
	return out, nil
}

// CountSubmissions counts stored submissions (tests, metrics).
func (s *Store) CountSubmissions(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM submissions`).Scan(&n)
	return n, err
}

// BlobReferenced reports whether a submission references dataHash or an
// upload of it waits for one (either way the blob must stay).
func (s *Store) BlobReferenced(ctx context.Context, dataHash common.Hash) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM submissions WHERE data_hash=$1)
		OR EXISTS (SELECT 1 FROM blob_uploads WHERE data_hash=$1 AND NOT collecting)`, dataHash[:]).Scan(&ok)
	return ok, err
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Target is what the coordinator checks a result or vote against: the
// signed submission, its status, and how many zk chunks it was split into.
type Target struct {
	ID       common.Hash
	Sub      submission.Submission
	ChainID  uint64
	Status   coordinator.Status
	ZKChunks int // 0 when it has no zk evidence
}

// Targets loads the submissions results and votes name, in one query; ids
// not found are left out.
func (s *Store) Targets(ctx context.Context, ids []common.Hash) (map[common.Hash]*Target, error) {
	out := map[common.Hash]*Target{}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([][]byte, 0, len(ids))
	seen := make(map[common.Hash]bool, len(ids))
	for _, id := range ids {
		if !seen[id] { // a batch names a submission once per vote
			seen[id] = true
			keys = append(keys, id.Bytes())
		}
	}
	rows, err := s.Pool.Query(ctx, `SELECT s.id, s.idao, s.mode, s.class, s.contributor, s.data_hash, s.commitment, s.records, s.fields,
		s.wrapped_key, s.nonce, s.chain_id, s.status,
		coalesce((SELECT max(e.chunks) FROM evidence e WHERE e.submission = s.id AND e.kind = 'zk'), 0)
		FROM submissions s WHERE s.id = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t := new(Target)
		sub := &t.Sub
		var id, contributor, dataHash, commitment, wrapped []byte
		var records, nonce, chainID int64
		var status string
		if err := rows.Scan(&id, &sub.IDAO, &sub.Mode, &sub.Class, &contributor, &dataHash, &commitment, &records, &sub.Fields, &wrapped,
			&nonce, &chainID, &status, &t.ZKChunks); err != nil {
			return nil, err
		}
		t.ID = common.BytesToHash(id)
		sub.Contributor, sub.DataHash, sub.Commitment = common.BytesToAddress(contributor), common.BytesToHash(dataHash), common.BytesToHash(commitment)
		sub.Records, sub.Nonce, sub.WrappedKeyHash = uint64(records), uint64(nonce), keccak(wrapped)
		t.ChainID, t.Status = uint64(chainID), coordinator.Status(status)
		out[t.ID] = t
	}
	return out, rows.Err()
}
