package server

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// sweepBatch is how many expired uploads one sweep transaction takes.
const sweepBatch = 256

// sweeper collects uploads past their TTL every SweepEvery, and forgets
// rate-limit buckets that are full again.
func (s *Server) sweeper(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := s.CollectBlobs(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("blob sweep", "err", err)
			}
			if s.limiter != nil {
				s.limiter.prune(now)
			}
		}
	}
}

// CollectBlobs deletes every uploaded blob that waited longer than BlobTTL
// for a signed submission referencing it, and returns how many it deleted.
// A blob it could not delete stays marked and is tried again next time.
func (s *Server) CollectBlobs(ctx context.Context) (int, error) {
	total := 0
	if err := s.collectParts(ctx); err != nil {
		return 0, err
	}
	for {
		hs, err := s.store.ExpiredUploads(ctx, s.cfg.BlobTTL, sweepBatch)
		if err != nil {
			return total, err
		}
		done := make([]common.Hash, 0, len(hs))
		for _, h := range hs {
			if err := s.bus.DeleteBlob(ctx, h); err != nil {
				s.log.Warn("expired blob not deleted (tried again next sweep)", "data_hash", h, "err", err)
				continue
			}
			done = append(done, h)
		}
		if len(done) > 0 {
			if err := s.store.DropUploads(ctx, done); err != nil {
				return total, err
			}
			s.m.blobsCollected.Add(float64(len(done)))
			total += len(done)
		}
		if len(hs) < sweepBatch || len(done) == 0 {
			break
		}
	}
	if n, err := s.store.PendingUploadBytes(ctx); err == nil {
		s.m.pendingBlobBytes.Set(float64(n))
	}
	return total, nil
}
