package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/work"
)

// Job is a stored data-service job.
type Job struct {
	ID         common.Hash
	App        common.Address
	IDAO       string
	Request    jobreq.Request
	Signature  []byte
	Query      string
	Status     string // requested, running, delivered, failed
	Reason     string
	Code       int
	Answer     *jobreq.Answer
	ResultHash common.Hash
}

// InsertJob stores a new job (status requested). A job with the same id
// already stored answers existed; another job of the same app, provider
// and nonce is ErrNonceReplay.
func (s *Store) InsertJob(ctx context.Context, j *Job) (existed bool, err error) {
	r := &j.Request
	req, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	fee := r.MaxFee
	if fee == nil {
		fee = new(big.Int)
	}
	tag, err := s.Pool.Exec(ctx, `INSERT INTO jobs (id, app, provider, class, token, idao, units, max_fee, nonce, deadline, query,
		request, signature, status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8::numeric,$9,$10,$11,$12,$13,'requested')
		ON CONFLICT (id) DO NOTHING`,
		j.ID[:], j.App[:], r.Provider[:], r.Class[:], r.Token[:], j.IDAO, int64(r.Units), fee.String(), int64(r.Nonce),
		int64(r.Deadline), j.Query, req, j.Signature)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return false, ErrNonceReplay
	}
	if err != nil {
		return false, fmt.Errorf("insert job: %w", err)
	}
	return tag.RowsAffected() == 0, nil
}

// MarkJobRunning records that the job was routed to its provider.
func (s *Store) MarkJobRunning(ctx context.Context, id common.Hash) error {
	_, err := s.Pool.Exec(ctx, `UPDATE jobs SET status='running', updated_at=now() WHERE id=$1 AND status='requested'`, id[:])
	return err
}

// FailJob ends a job that was never answered.
func (s *Store) FailJob(ctx context.Context, id common.Hash, code int, reason string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE jobs SET status='failed', code=$2, reason=$3, updated_at=now()
		WHERE id=$1 AND status IN ('requested','running')`, id[:], code, reason)
	return err
}

// SetAnswer records a provider's answer: delivered with the encrypted
// answer, or failed with its reason. The first answer wins (a job run
// again after a crash answers the same result, or is ignored).
func (s *Store) SetAnswer(ctx context.Context, a *work.QueryAnswer) error {
	if a.Answer == nil {
		return s.FailJob(ctx, a.Job, int(a.Code), a.Failed)
	}
	b, err := json.Marshal(a.Answer)
	if err != nil {
		return err
	}
	_, err = s.Pool.Exec(ctx, `UPDATE jobs SET status='delivered', answer=$2, result_hash=$3, updated_at=now()
		WHERE id=$1 AND provider=$4 AND status IN ('requested','running')`, a.Job[:], b, a.Answer.ResultHash[:], a.Provider[:])
	return err
}

// GetJob reads a job.
func (s *Store) GetJob(ctx context.Context, id common.Hash) (*Job, error) {
	j := &Job{ID: id}
	var app, sig, rh []byte
	var req, ans []byte
	var reason *string
	var code *int
	err := s.Pool.QueryRow(ctx, `SELECT app, idao, request, signature, query, status, reason, code, answer, result_hash
		FROM jobs WHERE id=$1`, id[:]).Scan(&app, &j.IDAO, &req, &sig, &j.Query, &j.Status, &reason, &code, &ans, &rh)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id.Hex(), err)
	}
	j.App, j.Signature, j.ResultHash = common.BytesToAddress(app), sig, common.BytesToHash(rh)
	if reason != nil {
		j.Reason = *reason
	}
	if code != nil {
		j.Code = *code
	}
	if err := json.Unmarshal(req, &j.Request); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", id.Hex(), err)
	}
	if ans != nil {
		j.Answer = new(jobreq.Answer)
		if err := json.Unmarshal(ans, j.Answer); err != nil {
			return nil, fmt.Errorf("decode job %s answer: %w", id.Hex(), err)
		}
	}
	return j, nil
}

// SubmissionJob returns a stored submission as its verification job
// carries it (signed submission, signature, wrapped key): what a query job
// over the submission's dataset needs.
func (s *Store) SubmissionJob(ctx context.Context, id common.Hash) (*work.Job, error) {
	m, err := s.jobSubmissions(ctx, []common.Hash{id})
	if err != nil {
		return nil, err
	}
	j, ok := m[id]
	if !ok {
		return nil, ErrNotFound
	}
	return j, nil
}

// JobKeySize is the size of a class-jobs sort key: created_at in unix
// microseconds (8 bytes) and the job id (32 bytes).
const JobKeySize = 8 + 32

// ClassJob is one job in a class's list.
type ClassJob struct {
	ID        common.Hash
	App       common.Address
	Provider  common.Address
	Units     uint64
	MaxFee    string
	Status    string
	Deadline  uint64
	CreatedAt time.Time
}

// Key is the job's sort key in ClassJobs.
func (j *ClassJob) Key() []byte {
	k := make([]byte, JobKeySize)
	binary.BigEndian.PutUint64(k, uint64(j.CreatedAt.UnixMicro()))
	copy(k[8:], j.ID[:])
	return k
}

// ClassJobs returns up to limit jobs of class, newest first, after the
// sort key after (nil: from the newest): one range of jobs_class_recent.
func (s *Store) ClassJobs(ctx context.Context, class common.Hash, after []byte, limit int) ([]ClassJob, error) {
	q := `SELECT id, app, provider, units, max_fee::text, status, deadline, created_at FROM jobs WHERE class = $2`
	args := []any{limit, class[:]}
	if after != nil {
		if len(after) != JobKeySize {
			return nil, ErrBadKey
		}
		q += ` AND (created_at, id) < ($3, $4)`
		args = append(args, time.UnixMicro(int64(binary.BigEndian.Uint64(after))), after[8:])
	}
	rows, err := s.Pool.Query(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClassJob, error) {
		var j ClassJob
		var id, app, prov []byte
		var units, deadline int64
		err := r.Scan(&id, &app, &prov, &units, &j.MaxFee, &j.Status, &deadline, &j.CreatedAt)
		j.ID, j.App, j.Provider = common.BytesToHash(id), common.BytesToAddress(app), common.BytesToAddress(prov)
		j.Units, j.Deadline = uint64(units), uint64(deadline)
		return j, err
	})
}
