package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"
)

// Blob bookkeeping: a blob uploaded ahead of its submission (PUT
// /v1/blobs) has a blob_uploads row until a submission references it (the
// vsc_intake function deletes the row) or the sweep collects it.

// Errors of RecordUpload.
var (
	ErrUploadQuota      = errors.New("the blobs waiting for a submission are over the coordinator's limit")
	ErrClientQuota      = errors.New("this client's blobs waiting for a submission are over its limit")
	ErrUploadCollecting = errors.New("a blob with this data hash is being garbage-collected")
	// ErrBlobGone: vsc_intake found the submission's blob neither inline,
	// nor uploaded, nor another submission's (or the sweep is collecting it).
	ErrBlobGone = errors.New("the blob is not stored")
)

// UploadQuota bounds the bytes of blobs waiting for a submission.
type UploadQuota struct {
	Total     int64 // over every client
	PerClient int64
}

// RecordUpload records an uploaded blob of size bytes from client before it
// is stored, so the quota holds before the bytes land. It returns
// referenced=true (and records nothing) when a submission already
// references the blob: it is stored and kept. Uploading the same blob again
// refreshes its age and costs no quota.
func (s *Store) RecordUpload(ctx context.Context, h common.Hash, size int64, client string, q UploadQuota) (referenced bool, err error) {
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		// one upload at a time, so two cannot both fit the last free bytes
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('vsc_blob_uploads'))`); err != nil {
			return err
		}
		var collecting *bool
		var total, mine int64
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM submissions WHERE data_hash=$1),
				(SELECT collecting FROM blob_uploads WHERE data_hash=$1),
				(SELECT coalesce(sum(size),0) FROM blob_uploads),
				(SELECT coalesce(sum(size),0) FROM blob_uploads WHERE client=$2)`, h[:], client).
			Scan(&referenced, &collecting, &total, &mine); err != nil {
			return err
		}
		switch {
		case referenced:
			return nil
		case collecting != nil && *collecting:
			return ErrUploadCollecting
		case collecting != nil:
			_, err := tx.Exec(ctx, `UPDATE blob_uploads SET uploaded_at=now() WHERE data_hash=$1`, h[:])
			return err
		case total+size > q.Total:
			return fmt.Errorf("%w (%d bytes)", ErrUploadQuota, q.Total)
		case mine+size > q.PerClient:
			return fmt.Errorf("%w (%d bytes)", ErrClientQuota, q.PerClient)
		}
		_, err := tx.Exec(ctx, `INSERT INTO blob_uploads (data_hash, size, client) VALUES ($1,$2,$3)`, h[:], size, client)
		return err
	})
	return referenced, err
}

// ForgetUpload deletes an upload's row (its blob could not be stored).
func (s *Store) ForgetUpload(ctx context.Context, h common.Hash) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM blob_uploads WHERE data_hash=$1 AND NOT collecting`, h[:])
	return err
}

// StoredBlobSize is the size of a stored blob a submission may reference
// without sending it: an upload waiting for its submission, or another
// submission's blob. ok=false: there is none.
func (s *Store) StoredBlobSize(ctx context.Context, h common.Hash) (size int64, ok bool, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT size FROM blob_uploads WHERE data_hash=$1 AND NOT collecting
		UNION ALL SELECT blob_size FROM submissions WHERE data_hash=$1 AND blob_size > 0 LIMIT 1`, h[:]).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// ExpiredUploads marks up to limit uploads older than ttl that no
// submission references as being collected and returns them (with any a
// previous sweep marked but did not finish); an expired upload that a
// submission references after all is just forgotten. Intake refuses a
// submission whose upload is being collected, so once marked, the blob is
// the sweep's to delete.
func (s *Store) ExpiredUploads(ctx context.Context, ttl time.Duration, limit int) ([]common.Hash, error) {
	var out []common.Hash
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		cutoff := time.Now().Add(-ttl)
		if _, err := tx.Exec(ctx, `DELETE FROM blob_uploads b WHERE uploaded_at < $1 AND NOT collecting
			AND EXISTS (SELECT 1 FROM submissions s WHERE s.data_hash = b.data_hash)`, cutoff); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH picked AS (
				SELECT data_hash FROM blob_uploads WHERE collecting OR uploaded_at < $1
				ORDER BY uploaded_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			UPDATE blob_uploads b SET collecting = true FROM picked WHERE b.data_hash = picked.data_hash
			RETURNING b.data_hash`, cutoff, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (common.Hash, error) {
			var h []byte
			err := r.Scan(&h)
			return common.BytesToHash(h), err
		})
		return err
	})
	return out, err
}

// DropUploads deletes the rows of collected uploads (their blobs are gone).
func (s *Store) DropUploads(ctx context.Context, hs []common.Hash) error {
	raw := make([][]byte, len(hs))
	for i := range hs {
		raw[i] = hs[i].Bytes()
	}
	_, err := s.Pool.Exec(ctx, `DELETE FROM blob_uploads WHERE collecting AND data_hash = ANY($1)`, raw)
	return err
}

// PendingUploadBytes sums the blobs waiting for a submission.
func (s *Store) PendingUploadBytes(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT coalesce(sum(size),0) FROM blob_uploads`).Scan(&n)
	return n, err
}
