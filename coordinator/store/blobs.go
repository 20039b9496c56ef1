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
				(SELECT coalesce(sum(size),0) FROM blob_uploads) + (SELECT coalesce(sum(size),0) FROM blob_parts WHERE data_hash<>$1),
				(SELECT coalesce(sum(size),0) FROM blob_uploads WHERE client=$2) + (SELECT coalesce(sum(size),0) FROM blob_parts WHERE client=$2 AND data_hash<>$1)`, h[:], client).
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

// ErrPartsSize: a part names another total size than the blob's first part did.
var ErrPartsSize = errors.New("the blob's parts were started with another size")

// StartParts records (or refreshes) a blob being uploaded in parts, of
// size bytes in all, counted against the upload quotas from its first
// part. referenced: a submission already holds the blob (nothing to store).
func (s *Store) StartParts(ctx context.Context, h common.Hash, size int64, client string, q UploadQuota) (referenced bool, err error) {
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('vsc_blob_uploads'))`); err != nil {
			return err
		}
		var have *int64
		var uploaded bool
		var total, mine int64
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM submissions WHERE data_hash=$1),
				(SELECT size FROM blob_parts WHERE data_hash=$1),
				EXISTS (SELECT 1 FROM blob_uploads WHERE data_hash=$1),
				(SELECT coalesce(sum(size),0) FROM blob_uploads) + (SELECT coalesce(sum(size),0) FROM blob_parts),
				(SELECT coalesce(sum(size),0) FROM blob_uploads WHERE client=$2) + (SELECT coalesce(sum(size),0) FROM blob_parts WHERE client=$2)`,
			h[:], client).Scan(&referenced, &have, &uploaded, &total, &mine); err != nil {
			return err
		}
		switch {
		case referenced || uploaded:
			referenced = true
			return nil
		case have != nil && *have != size:
			return fmt.Errorf("%w (%d bytes, not %d)", ErrPartsSize, *have, size)
		case have != nil:
			_, err := tx.Exec(ctx, `UPDATE blob_parts SET touched_at=now() WHERE data_hash=$1`, h[:])
			return err
		case total+size > q.Total:
			return fmt.Errorf("%w (%d bytes)", ErrUploadQuota, q.Total)
		case mine+size > q.PerClient:
			return fmt.Errorf("%w (%d bytes)", ErrClientQuota, q.PerClient)
		}
		_, err := tx.Exec(ctx, `INSERT INTO blob_parts (data_hash, size, client) VALUES ($1,$2,$3)`, h[:], size, client)
		return err
	})
	return referenced, err
}

// PartsSize is the total size a blob's parts were started with (ok=false:
// no parts upload of that blob).
func (s *Store) PartsSize(ctx context.Context, h common.Hash) (size int64, ok bool, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT size FROM blob_parts WHERE data_hash=$1`, h[:]).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// FinishParts turns a blob's parts row into an upload row (the parts were
// put together and the blob stored), in one transaction.
func (s *Store) FinishParts(ctx context.Context, h common.Hash) error {
	return s.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `WITH p AS (DELETE FROM blob_parts WHERE data_hash=$1 RETURNING data_hash, size, client)
			INSERT INTO blob_uploads (data_hash, size, client) SELECT data_hash, size, client FROM p
			ON CONFLICT (data_hash) DO UPDATE SET uploaded_at=now()`, h[:])
		return err
	})
}

// ExpiredParts returns up to limit blobs whose parts were last touched more
// than ttl ago, with their sizes; DropParts forgets them once deleted.
func (s *Store) ExpiredParts(ctx context.Context, ttl time.Duration, limit int) (map[common.Hash]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT data_hash, size FROM blob_parts WHERE touched_at < $1 ORDER BY touched_at LIMIT $2`,
		time.Now().Add(-ttl), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[common.Hash]int64{}
	for rows.Next() {
		var h []byte
		var n int64
		if err := rows.Scan(&h, &n); err != nil {
			return nil, err
		}
		out[common.BytesToHash(h)] = n
	}
	return out, rows.Err()
}

// DropParts forgets a blob's parts row.
func (s *Store) DropParts(ctx context.Context, h common.Hash) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM blob_parts WHERE data_hash=$1`, h[:])
	return err
}
