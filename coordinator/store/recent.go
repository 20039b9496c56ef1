package store

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/vsc-labs/vsc/coordinator"
)

// RecentKeySize is the size of a recent-submissions sort key: created_at in
// unix microseconds (8 bytes) and the id (32 bytes).
const RecentKeySize = 8 + 32

// ErrBadKey is returned for a sort key of the wrong size.
var ErrBadKey = errors.New("store: bad sort key")

// RecentKey is the sort key of a submission in RecentSubmissions.
func RecentKey(s coordinator.SubmissionSummary) []byte {
	k := make([]byte, RecentKeySize)
	binary.BigEndian.PutUint64(k, uint64(s.CreatedAt.UnixMicro()))
	id := common.HexToHash(s.ID)
	copy(k[8:], id[:])
	return k
}

// RecentSubmissions returns up to limit submissions, newest first, after
// the sort key after (nil: from the newest). It reads an index range, so a
// page costs the same with ten or ten million submissions stored.
func (s *Store) RecentSubmissions(ctx context.Context, after []byte, limit int) ([]coordinator.SubmissionSummary, error) {
	q := `SELECT id, idao, mode, status, contributor, records, dat_id, created_at, updated_at FROM submissions`
	args := []any{limit}
	if after != nil {
		if len(after) != RecentKeySize {
			return nil, ErrBadKey
		}
		at := time.UnixMicro(int64(binary.BigEndian.Uint64(after)))
		q += ` WHERE (created_at, id) < ($2, $3)`
		args = append(args, at, after[8:])
	}
	rows, err := s.Pool.Query(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (coordinator.SubmissionSummary, error) {
		var v coordinator.SubmissionSummary
		var id, contributor []byte
		var records int64
		var status string
		err := r.Scan(&id, &v.IDAO, &v.Mode, &status, &contributor, &records, &v.DATID, &v.CreatedAt, &v.UpdatedAt)
		v.ID, v.Status = common.BytesToHash(id).Hex(), coordinator.Status(status)
		v.Contributor, v.Records = common.BytesToAddress(contributor), uint64(records)
		return v, err
	})
}

// Move is one recorded status move, as the event stream sends it.
type Move struct {
	Seq        int64              `json:"seq"`
	Submission common.Hash        `json:"id"`
	Status     coordinator.Status `json:"status"`
	Detail     string             `json:"detail,omitempty"`
	At         time.Time          `json:"at"`
	IDAO       string             `json:"idao"`
	DATID      *string            `json:"dat_id"`
}

// MovesAfter returns up to limit status moves with seq > after, in seq
// order. Moves commit out of seq order now and then (two transactions), so
// the event stream reads back a window behind its last seq and drops the
// ones it sent.
func (s *Store) MovesAfter(ctx context.Context, after int64, limit int) ([]Move, error) {
	rows, err := s.Pool.Query(ctx, `SELECT e.seq, e.submission, e.status, coalesce(e.detail,''), e.at, s.idao, s.dat_id
		FROM submission_events e JOIN submissions s ON s.id = e.submission
		WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Move, error) {
		var m Move
		var id []byte
		var st string
		err := r.Scan(&m.Seq, &id, &st, &m.Detail, &m.At, &m.IDAO, &m.DATID)
		m.Submission, m.Status = common.BytesToHash(id), coordinator.Status(st)
		return m, err
	})
}

// LastMoveSeq is the seq of the newest recorded move (0: none).
func (s *Store) LastMoveSeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM submission_events`).Scan(&n)
	return n, err
}
