package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
)

// A blob over bus.SmallBlob may also be uploaded in parts of
// coordinator.BlobPartSize, so that an upload cut short resumes at its
// first missing part: PUT /v1/blobs/{hash}/parts/{n}?size=N for each part,
// GET /v1/blobs/{hash}/parts for the parts held, POST
// /v1/blobs/{hash}/complete to put them together. The whole size counts
// against the upload quotas from the first part on; parts untouched for
// the blob TTL are deleted by the sweep.

// putBlobPart is PUT /v1/blobs/{hash}/parts/{n}?size=N.
func (s *Server) putBlobPart(w http.ResponseWriter, r *http.Request) {
	h, err := parseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, err)
		return
	}
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil || size <= bus.SmallBlob || size > s.cfg.MaxStreamBlob {
		writeErr(w, codes.New(codes.InvalidField, "size must be the whole blob's size in bytes, over %d and at most %d (max_stream_blob); smaller blobs are sent whole", bus.SmallBlob, s.cfg.MaxStreamBlob))
		return
	}
	parts := coordinator.BlobParts(size)
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= parts {
		writeErr(w, codes.New(codes.InvalidField, "part must be a number from 0 to %d for a blob of %d bytes in parts of %d", parts-1, size, coordinator.BlobPartSize))
		return
	}
	want := min(int64(coordinator.BlobPartSize), size-int64(n)*coordinator.BlobPartSize)
	if r.ContentLength != want {
		writeErr(w, codes.New(codes.InvalidField, "part %d of a %d-byte blob is %d bytes; the request's Content-Length is %d", n, size, want, r.ContentLength))
		return
	}
	referenced, err := s.store.StartParts(r.Context(), h, size, clientKey(r),
		store.UploadQuota{Total: s.cfg.MaxPendingBlobBytes, PerClient: s.cfg.MaxPendingBlobBytesPerClient})
	if errors.Is(err, store.ErrPartsSize) {
		writeErr(w, codes.New(codes.InvalidField, "%v: finish that upload, or wait for the blob TTL", err))
		return
	}
	if !s.uploadAllowed(w, err) {
		return
	}
	if referenced {
		s.uploaded(w, h, size, true)
		return
	}
	release, ok := s.reserveBody(w, r, want)
	if !ok {
		return
	}
	defer release()
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, want))
	if err != nil || int64(len(data)) != want {
		writeErr(w, codes.New(codes.BadRequest, "reading part %d: got %d of %d bytes (%v)", n, len(data), want, err))
		return
	}
	if err := s.bus.PutBlobPart(r.Context(), h, n, data); err != nil {
		writeErr(w, fmt.Errorf("store part %d of blob %s: %w", n, h.Hex(), err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data_hash": h, "part": n, "parts": parts})
}

// blobParts is GET /v1/blobs/{hash}/parts: which parts are held.
func (s *Server) blobParts(w http.ResponseWriter, r *http.Request) {
	h, err := parseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, err)
		return
	}
	v := coordinator.PartsView{DataHash: h, PartSize: coordinator.BlobPartSize, Have: []int{}}
	if v.Stored, err = s.bus.HasBlob(r.Context(), h); err != nil {
		writeErr(w, err)
		return
	}
	size, ok, err := s.store.PartsSize(r.Context(), h)
	if err != nil {
		writeErr(w, err)
		return
	}
	if ok {
		v.Size, v.Parts = size, coordinator.BlobParts(size)
		for n := range v.Parts {
			has, err := s.bus.HasBlobPart(r.Context(), h, n)
			if err != nil {
				writeErr(w, err)
				return
			}
			if has {
				v.Have = append(v.Have, n)
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// completeBlob is POST /v1/blobs/{hash}/complete: the parts, all held, are
// put together into the blob, which is kept only if it hashes to {hash}.
func (s *Server) completeBlob(w http.ResponseWriter, r *http.Request) {
	h, err := parseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, err)
		return
	}
	size, ok, err := s.store.PartsSize(r.Context(), h)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !ok {
		writeErr(w, codes.New(codes.BlobMissing, "no parts of blob %s are held: upload them first (PUT /v1/blobs/{hash}/parts/{n})", h.Hex()))
		return
	}
	parts := coordinator.BlobParts(size)
	for n := range parts {
		has, err := s.bus.HasBlobPart(r.Context(), h, n)
		if err != nil {
			writeErr(w, err)
			return
		}
		if !has {
			writeErr(w, codes.New(codes.BlobMissing, "part %d of %d of blob %s is not held: upload it, then complete again", n, parts, h.Hex()))
			return
		}
	}
	got, err := s.bus.AssembleBlob(r.Context(), h, parts)
	if errors.Is(err, bus.ErrBlobHash) {
		s.dropParts(context.WithoutCancel(r.Context()), h, parts)
		writeErr(w, codes.New(codes.DataHashMismatch, "the parts do not hash to %s: they were deleted, upload the blob again", h.Hex()))
		return
	}
	if err == nil && got != size {
		err = fmt.Errorf("the parts hold %d bytes, not %d", got, size)
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := s.store.FinishParts(r.Context(), h); err != nil {
		writeErr(w, err)
		return
	}
	s.uploaded(w, h, size, false)
}

// dropParts deletes a blob's parts and forgets them (the sweep retries
// what fails).
func (s *Server) dropParts(ctx context.Context, h common.Hash, parts int) {
	if err := s.bus.DeleteBlobParts(ctx, h, parts); err != nil {
		s.log.Warn("blob parts not deleted (the sweep will)", "data_hash", h, "err", err)
		return
	}
	if err := s.store.DropParts(ctx, h); err != nil {
		s.log.Warn("blob parts row not deleted (the sweep will)", "data_hash", h, "err", err)
	}
}

// collectParts deletes the parts of uploads untouched for the blob TTL.
func (s *Server) collectParts(ctx context.Context) error {
	expired, err := s.store.ExpiredParts(ctx, s.cfg.BlobTTL, sweepBatch)
	if err != nil {
		return fmt.Errorf("expired blob parts: %w", err)
	}
	for h, size := range expired {
		s.dropParts(ctx, h, coordinator.BlobParts(size))
	}
	return nil
}
