package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
)

// maxSubmitOverhead is what a multipart submit body may hold besides its
// blob: the submission part and the multipart framing.
const maxSubmitOverhead = coordinator.MaxSubmitJSONBytes + coordinator.MaxMultipartOverhead

// submit is POST /v1/submissions: multipart/form-data with a "submission"
// part (SubmitRequest JSON) and an optional "blob" part (the ciphertext; if
// absent the blob must have been uploaded with PUT /v1/blobs/{data_hash}).
// Every check runs before anything is stored.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	most := int64(coordinator.MaxSubmitJSONBytes) // a JSON body
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		most = s.cfg.MaxBlob + maxSubmitOverhead
	}
	release, ok := s.reserveBody(w, r, most)
	if !ok {
		s.m.submissions.WithLabelValues("unavailable").Inc()
		return
	}
	view, existed, err := s.intake(r)
	release()
	if err != nil {
		if c := codes.Of(err); c != codes.OK {
			s.m.submissions.WithLabelValues(c.Name()).Inc()
		}
		writeErr(w, err)
		return
	}
	if existed {
		s.m.submissions.WithLabelValues("duplicate").Inc()
		writeJSON(w, http.StatusOK, view)
		return
	}
	s.m.submissions.WithLabelValues("accepted").Inc()
	writeJSON(w, http.StatusCreated, view)
}

func (s *Server) intake(r *http.Request) (*coordinator.SubmissionView, bool, error) {
	ctx := r.Context()
	req, blob, err := s.readSubmit(r)
	if err != nil {
		return nil, false, err
	}
	sub := &req.Submission
	id := sub.Digest(s.cfg.ChainID)
	if err := s.checkSigned(id, req); err != nil {
		return nil, false, err
	}
	plan, err := s.checkIDAO(ctx, req)
	if err != nil {
		return nil, false, err
	}
	if err := checkJobCount(sub, plan.chunk); err != nil {
		return nil, false, err
	}
	if blob != nil {
		if err := checkRecordsFit(sub.Records, int64(len(blob))); err != nil {
			return nil, false, err
		}
	}
	size, err := s.blobSize(ctx, sub, blob)
	if err != nil {
		return nil, false, err
	}
	newSub := &store.NewSubmission{ID: id, Sub: *sub, Signature: req.Signature, WrappedKey: req.WrappedKey,
		ChainID: s.cfg.ChainID, BlobSize: size, BlobInline: blob != nil, Jobs: s.jobsFor(id, req, plan)}
	if blob != nil {
		if err := s.bus.PutBlob(ctx, sub.DataHash, blob); err != nil {
			return nil, false, err
		}
	}
	existed, err := s.store.InsertSubmission(ctx, newSub)
	if err != nil {
		if blob != nil {
			s.dropBlob(sub.DataHash)
		}
		switch {
		case errors.Is(err, store.ErrNonceReplay):
			return nil, false, codes.New(codes.NonceReplayed, "%v", err)
		case errors.Is(err, store.ErrNonceGap):
			return nil, false, codes.New(codes.NonceGap, "%v", err)
		case errors.Is(err, store.ErrBlobGone):
			return nil, false, blobMissing(sub.DataHash)
		}
		return nil, false, err
	}
	if existed { // the same signed submission again is the same submission
		v, err := s.store.GetSubmission(ctx, id, false)
		return v, true, err
	}
	s.wake()
	return newView(id, newSub), false, nil
}

// checkSigned checks that the submission (id, its digest) is signed by its
// contributor and that the wrapped key is the one signed.
func (s *Server) checkSigned(id common.Hash, req *coordinator.SubmitRequest) error {
	sub := &req.Submission
	signer, err := eip712.RecoverCached(id, req.Signature)
	if err != nil {
		return codes.New(codes.BadSignature, "signature is malformed: %v; sign the submission's EIP-712 typed data with the contributor's key", err)
	}
	if signer != sub.Contributor {
		return codes.New(codes.WrongSigner,
			"signature recovers to %s, not the contributor %s: sign with the contributor's key, for chain id %d", signer.Hex(), sub.Contributor.Hex(), s.cfg.ChainID)
	}
	if crypto.Keccak256Hash(req.WrappedKey) != sub.WrappedKeyHash {
		return codes.New(codes.InvalidField, "wrapped_key does not hash to the signed wrappedKeyHash")
	}
	return nil
}

// zkPlan is how a submission's zk evidence is proven: in chunks of chunk
// records under the registered verifying key vk (for a policy without
// shapes, the coordinator's --zk-chunk and the policy's one key, if any).
type zkPlan struct {
	chunk int
	vk    common.Hash
}

// checkIDAO checks the submission against its iDAO: the iDAO exists,
// accepts the mode, has a zk shape for the declared field count (zk
// modes), and the data key is wrapped to the enclave key it names. It
// returns how the zk jobs are to be proven.
func (s *Server) checkIDAO(ctx context.Context, req *coordinator.SubmitRequest) (zkPlan, error) {
	sub := &req.Submission
	plan := zkPlan{chunk: s.cfg.ZKChunk}
	dao, err := s.idao(ctx, sub.IDAO)
	if errors.Is(err, store.ErrUnknownIDAO) {
		return plan, codes.New(codes.UnknownIDAO, "there is no iDAO named %q: see `vsc idao list`", sub.IDAO)
	}
	if err != nil {
		return plan, err
	}
	if !dao.Policy.Accepts(sub.Mode) {
		return plan, codes.New(codes.ModeNotAccepted, "iDAO %q accepts modes %s, not %q", dao.Name, idao.JoinModes(dao.Policy.Modes, ", "), sub.Mode)
	}
	if sub.Mode.Needs(idao.KindZK) && len(dao.Policy.ZKShapes) > 0 {
		z, ok := dao.Policy.ZKShapeFor(sub.Fields)
		if !ok {
			return plan, codes.New(codes.NoZKShape, "iDAO %q has no zk circuit for %d-field records: its zk shapes accept %s; submit in mode tee, or reshape the dataset",
				dao.Name, sub.Fields, dao.Policy.DescribeZKShapes())
		}
		plan = zkPlan{chunk: int(z.Chunk), vk: z.VKHash}
	} else if sub.Mode.Needs(idao.KindZK) {
		plan.vk = dao.Policy.VKHash // a policy made before shapes: its one key, proven at --zk-chunk
	}
	enclave := dao.EnclavePubkey()
	if len(enclave) == 0 {
		return plan, nil
	}
	if len(req.EnclaveKey) == 0 {
		return plan, codes.New(codes.MissingField, "field \"enclave_key\" is missing: say which enclave key the data key was wrapped to")
	}
	if !bytes.Equal(req.EnclaveKey, enclave) {
		return plan, codes.New(codes.WrongEnclaveKey,
			"the data key was wrapped to enclave key %x…, but iDAO %q's enclave key is %x…: fetch it again (`vsc idao show %s`) and resubmit",
			head(req.EnclaveKey), dao.Name, head(enclave), dao.Name)
	}
	return plan, nil
}

// blobSize checks the submission's blob, inline (it must hash to the
// signed data hash) or uploaded before (or another submission's: it must be
// stored and hold the records), and returns its size.
func (s *Server) blobSize(ctx context.Context, sub *submission.Submission, blob []byte) (int64, error) {
	if blob != nil {
		if crypto.Keccak256Hash(blob) != sub.DataHash {
			return 0, codes.New(codes.DataHashMismatch, "the blob hashes to %s, not the signed data_hash %s", crypto.Keccak256Hash(blob).Hex(), sub.DataHash.Hex())
		}
		return int64(len(blob)), nil
	}
	n, ok, err := s.store.StoredBlobSize(ctx, sub.DataHash)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, blobMissing(sub.DataHash)
	}
	if err := checkRecordsFit(sub.Records, n); err != nil {
		return 0, err
	}
	return n, nil
}

func blobMissing(h common.Hash) error {
	return codes.New(codes.BlobMissing, "no blob with data_hash %s: send it in the \"blob\" part or PUT /v1/blobs/%s first (an upload waits for its submission for the blob TTL, see GET /v1/info)", h.Hex(), h.Hex())
}

// checkRecordsFit refuses a record count that a blob of size bytes cannot
// hold: a claim must not outgrow its ciphertext.
func checkRecordsFit(records uint64, size int64) error {
	if most := coordinator.MaxRecordsIn(size); records > most {
		return codes.New(codes.InvalidField,
			"records is %d, but a blob of %d bytes holds at most %d records (every record takes at least 2 bytes of plaintext): declare the dataset's true record count",
			records, size, most)
	}
	return nil
}

// newView is the view of a submission just stored, built from what is in
// hand (no read back).
func newView(id common.Hash, n *store.NewSubmission) *coordinator.SubmissionView {
	now := time.Now().UTC()
	v := &coordinator.SubmissionView{ID: id.Hex(), Status: coordinator.Received, IDAO: n.Sub.IDAO, Mode: n.Sub.Mode,
		Class: n.Sub.Class, Contributor: n.Sub.Contributor, DataHash: n.Sub.DataHash, Commitment: n.Sub.Commitment,
		Records: n.Sub.Records, Fields: n.Sub.Fields, Nonce: n.Sub.Nonce, Evidence: []coordinator.EvidenceView{}, Votes: []coordinator.VoteView{},
		CreatedAt: now, UpdatedAt: now}
	for _, j := range n.Jobs {
		if len(v.Evidence) == 0 || v.Evidence[len(v.Evidence)-1].Kind != j.Kind {
			v.Evidence = append(v.Evidence, coordinator.EvidenceView{Kind: j.Kind, Status: "pending", Chunks: max(j.Chunks, 1)})
		}
	}
	return v
}

// idao returns an iDAO, cached for a second (intake reads it per request).
func (s *Server) idao(ctx context.Context, name string) (*coordinator.Registered, error) {
	if e, ok := s.idaoCache.Load(name); ok && time.Since(e.(idaoEntry).at) < time.Second {
		return e.(idaoEntry).dao, nil
	}
	d, err := s.registry().IDAO(ctx, name)
	if err != nil {
		return nil, err
	}
	s.idaoCache.Store(name, idaoEntry{dao: d, at: time.Now()})
	return d, nil
}

type idaoEntry struct {
	dao *coordinator.Registered
	at  time.Time
}

// dropBlob removes a blob stored for a submission that was then refused,
// unless another submission uses the same ciphertext or an upload of it
// waits for one.
func (s *Server) dropBlob(h common.Hash) {
	ctx := context.Background()
	if ref, err := s.store.BlobReferenced(ctx, h); err == nil && !ref {
		if err := s.bus.DeleteBlob(ctx, h); err != nil {
			s.log.Warn("orphan blob not deleted", "data_hash", h, "err", err)
		}
	}
}

// jobCount is how many verification jobs a submission of records in mode
// makes: one per zk chunk of chunk records, one for every other kind.
// records must be at most coordinator.MaxRecords (no overflow).
func jobCount(mode idao.Mode, records uint64, chunk int) uint64 {
	var n uint64
	for _, kind := range mode.Kinds() {
		if kind == idao.KindZK {
			n += (records + uint64(chunk) - 1) / uint64(chunk)
		} else {
			n++
		}
	}
	return n
}

// jobsFor builds the jobs of a submission that checkFields accepted (so
// their count is within coordinator.MaxJobsPerSubmission).
func (s *Server) jobsFor(id common.Hash, req *coordinator.SubmitRequest, plan zkPlan) []work.Job {
	var jobs []work.Job
	for _, kind := range req.Submission.Mode.Kinds() {
		base := work.Job{ID: work.JobID(id, kind), Kind: kind, ChainID: s.cfg.ChainID, SubmissionID: id,
			Submission: req.Submission, Signature: req.Signature, WrappedKey: req.WrappedKey}
		if kind != idao.KindZK {
			jobs = append(jobs, base)
			continue
		}
		c := plan.chunk
		n := int((req.Submission.Records + uint64(c) - 1) / uint64(c))
		for i := range n {
			j := base
			j.Chunk, j.Chunks, j.ChunkSize, j.VKHash = i, n, c, plan.vk
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// checkFields checks every field of a submit request against its limit,
// before any other work. Lengths come first, so no sentence below quotes a
// string longer than its limit.
func (s *Server) checkFields(req *coordinator.SubmitRequest) error {
	sub := &req.Submission
	for _, f := range []struct {
		name, value, limit string
		max                int
	}{
		{"idao", sub.IDAO, "max_idao_name_bytes", coordinator.MaxIDAONameBytes},
		{"mode", string(sub.Mode), "max_mode_bytes", coordinator.MaxModeBytes},
		{"class", sub.Class, "max_class_bytes", coordinator.MaxClassBytes},
	} {
		if len(f.value) > f.max {
			return codes.New(codes.InvalidField, "field %q is %d bytes, over the %d-byte limit (%s)", f.name, len(f.value), f.max, f.limit)
		}
	}
	missing := func(name string) error {
		return codes.New(codes.MissingField, "field %q is missing: every field of the Submission type is required", name)
	}
	switch {
	case sub.IDAO == "":
		return missing("idao")
	case sub.Mode == "":
		return missing("mode")
	case sub.Class == "":
		return missing("class")
	case sub.Contributor == (common.Address{}):
		return missing("contributor")
	case sub.DataHash == (common.Hash{}):
		return missing("data_hash")
	case sub.Commitment == (common.Hash{}):
		return missing("commitment")
	case sub.WrappedKeyHash == (common.Hash{}):
		return missing("wrapped_key_hash")
	case len(req.Signature) == 0:
		return missing("signature")
	case len(req.WrappedKey) == 0:
		return missing("wrapped_key")
	}
	for _, f := range []struct {
		name, limit, what string
		got, want         int
	}{
		{"signature", "signature_bytes", "r ‖ s ‖ v", len(req.Signature), coordinator.SignatureSize},
		{"wrapped_key", "wrapped_key_bytes", "the ECIES wrap of the 32-byte data key that `vsc submit` makes", len(req.WrappedKey), coordinator.WrappedKeySize},
	} {
		if f.got != f.want {
			return codes.New(codes.InvalidField, "field %q is %d bytes; it must be exactly %d (%s): %s", f.name, f.got, f.want, f.limit, f.what)
		}
	}
	if len(req.EnclaveKey) != 0 && len(req.EnclaveKey) != coordinator.EnclaveKeySize {
		return codes.New(codes.InvalidField, "field \"enclave_key\" is %d bytes; it must be exactly %d (enclave_key_bytes): an uncompressed secp256k1 public key",
			len(req.EnclaveKey), coordinator.EnclaveKeySize)
	}
	if !idao.ValidName(sub.IDAO) {
		return codes.New(codes.InvalidField, "idao %q is not an iDAO name: 1–64 of a-z, 0-9, '-' and '_', starting with a letter or digit", sub.IDAO)
	}
	if !sub.Mode.Valid() {
		return codes.New(codes.InvalidField, "mode %q is not one of %s", sub.Mode, idao.JoinModes(idao.Modes(), ", "))
	}
	if sub.Class != "dataset" && sub.Class != "model" {
		return codes.New(codes.InvalidField, "class %q is not dataset or model", sub.Class)
	}
	if sub.Records == 0 {
		return codes.New(codes.InvalidField, "records is 0: the dataset is empty; submit at least one record")
	}
	if sub.Records > coordinator.MaxRecords {
		return codes.New(codes.InvalidField, "records is %d, over the limit of %d (max_records): split the dataset", sub.Records, coordinator.MaxRecords)
	}
	if sub.Fields < 1 || sub.Fields > coordinator.MaxFields {
		return codes.New(codes.InvalidField, "fields is %d: declare the number of int64 fields of every record, 1..%d (max_fields)", sub.Fields, coordinator.MaxFields)
	}
	return nil
}

// checkJobCount refuses a submission that makes more verification jobs
// than coordinator.MaxJobsPerSubmission with zk chunks of chunk records.
func checkJobCount(sub *submission.Submission, chunk int) error {
	if n := jobCount(sub.Mode, sub.Records, chunk); n > coordinator.MaxJobsPerSubmission {
		return codes.New(codes.InvalidField,
			"records is %d: in mode %s, with zk chunks of %d records, that is %d verification jobs, over the limit of %d (max_jobs_per_submission): split the dataset",
			sub.Records, sub.Mode, chunk, n, coordinator.MaxJobsPerSubmission)
	}
	return nil
}

// readSubmit parses the request: multipart (submission + blob parts), or a
// plain JSON body (blob uploaded before). Every part and the body are
// bounded before they are read, and the submission's fields are checked
// (checkFields) as soon as it is decoded: a blob part after a bad
// submission part is never read.
func (s *Server) readSubmit(r *http.Request) (*coordinator.SubmitRequest, []byte, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	req := new(coordinator.SubmitRequest)
	if ct != "multipart/form-data" {
		r.Body = http.MaxBytesReader(nil, r.Body, coordinator.MaxSubmitJSONBytes)
		if err := decodeJSON(r.Body, req); err != nil {
			return nil, nil, err
		}
		return req, nil, s.checkFields(req)
	}
	limit := s.cfg.MaxBlob + maxSubmitOverhead
	r.Body = http.MaxBytesReader(nil, r.Body, limit)
	mr := multipart.NewReader(r.Body, params["boundary"])
	var blob []byte
	gotSub, gotBlob := false, false
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, tooLargeOr(err, codes.New(codes.BadRequest, "malformed multipart body: %v", err), limit)
		}
		if parts == coordinator.MaxMultipartParts {
			return nil, nil, codes.New(codes.BadRequest, "the multipart body has more than %d parts (max_multipart_parts): send one \"submission\" and at most one \"blob\"", coordinator.MaxMultipartParts)
		}
		switch name := p.FormName(); {
		case name == "submission" && !gotSub:
			data, err := io.ReadAll(io.LimitReader(p, coordinator.MaxSubmitJSONBytes+1))
			if err != nil {
				return nil, nil, tooLargeOr(err, codes.New(codes.BadRequest, "reading the submission part: %v", err), limit)
			}
			if len(data) > coordinator.MaxSubmitJSONBytes {
				return nil, nil, jsonTooLarge()
			}
			if err := decodeJSON(bytes.NewReader(data), req); err != nil {
				return nil, nil, err
			}
			if err := s.checkFields(req); err != nil {
				return nil, nil, err
			}
			gotSub = true
		case name == "blob" && !gotBlob:
			blob, err = io.ReadAll(io.LimitReader(p, s.cfg.MaxBlob+1))
			if err != nil {
				return nil, nil, tooLargeOr(err, codes.New(codes.BadRequest, "reading blob: %v", err), limit)
			}
			if int64(len(blob)) > s.cfg.MaxBlob {
				return nil, nil, codes.New(codes.BlobTooLarge, "the blob is over the %d-byte limit (max_blob): split the dataset", s.cfg.MaxBlob)
			}
			gotBlob = true
		case name == "submission" || name == "blob":
			return nil, nil, codes.New(codes.BadRequest, "the multipart body has two %q parts: send each at most once", name)
		default:
			return nil, nil, codes.New(codes.BadRequest, "the multipart body has a part named %q: only \"submission\" and \"blob\" are accepted", clip(name, 32))
		}
	}
	if !gotSub {
		return nil, nil, codes.New(codes.MissingField, "the multipart body has no \"submission\" part")
	}
	return req, blob, nil
}

func jsonTooLarge() error {
	return codes.New(codes.BodyTooLarge,
		"the submission JSON is over %d bytes (max_submit_json_bytes): an honest one is under 1 KiB (signature %d bytes, wrapped_key %d, enclave_key %d)",
		coordinator.MaxSubmitJSONBytes, coordinator.SignatureSize, coordinator.WrappedKeySize, coordinator.EnclaveKeySize)
}

// tooLargeOr maps a body read past its limit to blob_too_large (the blob
// is what makes a body large), anything else to other.
func tooLargeOr(err error, other error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return codes.New(codes.BlobTooLarge, "the request is over its %d-byte limit (max_blob plus %d bytes of multipart and submission): split the dataset", limit, maxSubmitOverhead)
	}
	return other
}

// decodeJSON decodes exactly one JSON value of v's type: unknown fields,
// trailing data and a body over its limit are refused.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonTooLarge()
		}
		return codes.New(codes.MalformedJSON, "the request is not valid JSON for this endpoint: %v", err)
	}
	return nil
}

// putBlob is PUT /v1/blobs/{hash}: a ciphertext stored ahead of its signed
// submission (the wallet flow). It waits for that submission for the blob
// TTL, within the pending-upload quotas, and is deleted after.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) {
	h, err := parseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, err)
		return
	}
	if r.ContentLength < 0 || r.ContentLength > bus.SmallBlob {
		s.putBlobStream(w, r, h)
		return
	}
	release, ok := s.reserveBody(w, r, s.cfg.MaxBlob)
	if !ok {
		return
	}
	defer release()
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBlob)
	blob, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, codes.New(codes.BlobTooLarge, "the blob is over the %d-byte limit (max_blob): split the dataset", s.cfg.MaxBlob))
			return
		}
		writeErr(w, codes.New(codes.BadRequest, "reading blob: %v", err))
		return
	}
	if crypto.Keccak256Hash(blob) != h {
		writeErr(w, codes.New(codes.DataHashMismatch, "the blob hashes to %s, not %s", crypto.Keccak256Hash(blob).Hex(), h.Hex()))
		return
	}
	referenced, ok := s.recordUpload(w, r, h, int64(len(blob)))
	if !ok {
		return
	}
	if !referenced {
		if err := s.bus.PutBlob(r.Context(), h, blob); err != nil {
			s.forgetUpload(h)
			writeErr(w, fmt.Errorf("store blob %s: %w", h.Hex(), err))
			return
		}
	}
	s.uploaded(w, h, int64(len(blob)), referenced)
}

// putBlobStream is PUT /v1/blobs/{hash} for a blob over bus.SmallBlob (or
// of unknown length): its Content-Length (required) is counted against the
// upload quotas first, then the body is streamed into the object store,
// hashed on the way, and kept only if it hashes to {hash}. Memory: a chunk.
func (s *Server) putBlobStream(w http.ResponseWriter, r *http.Request, h common.Hash) {
	size := r.ContentLength
	switch {
	case size < 0:
		writeErr(w, codes.New(codes.BadRequest, "a blob upload needs a Content-Length: send the blob's size (`vsc submit` does)"))
		return
	case size > s.cfg.MaxStreamBlob:
		writeErr(w, codes.New(codes.BlobTooLarge, "the blob is %d bytes, over the %d-byte limit (max_stream_blob): split the dataset", size, s.cfg.MaxStreamBlob))
		return
	}
	referenced, ok := s.recordUpload(w, r, h, size)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, size)
	n, err := s.bus.PutBlobFrom(r.Context(), h, r.Body)
	if err == nil && n != size {
		err = codes.New(codes.BadRequest, "the body held %d bytes, its Content-Length said %d", n, size)
	}
	if err != nil {
		if !referenced {
			s.forgetUpload(h)
		}
		if errors.Is(err, bus.ErrBlobHash) {
			err = codes.New(codes.DataHashMismatch, "the blob does not hash to %s: %v", h.Hex(), err)
		}
		writeErr(w, err)
		return
	}
	s.uploaded(w, h, size, referenced)
}

// recordUpload counts an upload of size bytes against the quotas; false
// when it was refused (the answer is written). referenced: a submission
// already holds the blob, nothing needs storing.
func (s *Server) recordUpload(w http.ResponseWriter, r *http.Request, h common.Hash, size int64) (referenced, ok bool) {
	referenced, err := s.store.RecordUpload(r.Context(), h, size, clientKey(r),
		store.UploadQuota{Total: s.cfg.MaxPendingBlobBytes, PerClient: s.cfg.MaxPendingBlobBytesPerClient})
	return referenced, s.uploadAllowed(w, err)
}

// uploadAllowed writes the refusal of an upload the quotas or the sweep
// refused (false), or says it may go on (true).
func (s *Server) uploadAllowed(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, store.ErrUploadQuota):
		writeErr(w, codes.New(codes.BlobQuota, "uploaded blobs waiting for their submissions are at the coordinator's limit of %s (max_pending_blob_bytes): send the blob inline with its submission, or retry later",
			byteSize(s.cfg.MaxPendingBlobBytes)))
		return false
	case errors.Is(err, store.ErrClientQuota):
		writeErr(w, codes.New(codes.BlobQuota, "your uploaded blobs waiting for their submissions are at the limit of %s per client (max_pending_blob_bytes_per_client): submit them first, or send the blob inline",
			byteSize(s.cfg.MaxPendingBlobBytesPerClient)))
		return false
	case errors.Is(err, store.ErrUploadCollecting):
		w.Header().Set("Retry-After", "1")
		writeErr(w, codes.New(codes.Unavailable, "a blob with this data hash is being garbage-collected (it waited longer than the blob TTL): upload it again in a second"))
		return false
	case err != nil:
		writeErr(w, err)
		return false
	}
	return true
}

func (s *Server) forgetUpload(h common.Hash) {
	if err := s.store.ForgetUpload(context.Background(), h); err != nil {
		s.log.Warn("upload row of an unstored blob not deleted (the sweep will)", "data_hash", h, "err", err)
	}
}

// uploaded answers a stored upload.
func (s *Server) uploaded(w http.ResponseWriter, h common.Hash, size int64, referenced bool) {
	out := map[string]any{"data_hash": h, "size": size}
	if !referenced {
		out["expires_in"] = int64(s.cfg.BlobTTL.Seconds()) // seconds left to submit it
	}
	writeJSON(w, http.StatusCreated, out)
}

// clip shortens an echoed string to n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
