package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/eip712"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", s.m.handler)
	m.HandleFunc("GET /openapi.json", s.openapi)
	m.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"chain_id": s.cfg.ChainID, "max_blob": s.cfg.MaxBlob, "zk_chunk": s.cfg.ZKChunk})
	})
	m.HandleFunc("POST /v1/submissions", s.submit)
	m.HandleFunc("GET /v1/submissions/{id}", s.getSubmission)
	m.HandleFunc("PUT /v1/blobs/{hash}", s.putBlob)
	m.HandleFunc("GET /v1/idaos", s.listIDAOs)
	m.HandleFunc("GET /v1/idaos/{name}", s.getIDAO)
	m.HandleFunc("GET /v1/accounts/{addr}", s.getAccount)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Pool.Ping(r.Context()); err != nil {
		writeErr(w, coordinator.Errf("unavailable", "postgres is not reachable: %v", err))
		return
	}
	if !s.bus.NC.IsConnected() {
		writeErr(w, coordinator.Errf("unavailable", "NATS is not connected"))
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var e *coordinator.Error
	if !errors.As(err, &e) {
		e = coordinator.Errf("internal", "internal error: %v", err)
	}
	writeJSON(w, e.HTTP, e)
}

// submit is POST /v1/submissions: multipart/form-data with a "submission"
// part (SubmitRequest JSON) and an optional "blob" part (the ciphertext; if
// absent the blob must have been uploaded with PUT /v1/blobs/{data_hash}).
// Every check runs before anything is stored.
func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	view, existed, err := s.intake(r)
	if err != nil {
		var e *coordinator.Error
		if errors.As(err, &e) {
			s.m.submissions.WithLabelValues(e.Code).Inc()
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
	if err := checkFields(req); err != nil {
		return nil, false, err
	}
	id := sub.Digest(s.cfg.ChainID)
	signer, err := eip712.Recover(id, req.Signature)
	if err != nil {
		return nil, false, coordinator.Errf("bad_signature", "signature is malformed: %v; sign the submission's EIP-712 typed data with the contributor's key", err)
	}
	if signer != sub.Contributor {
		return nil, false, coordinator.Errf("wrong_signer",
			"signature recovers to %s, not the contributor %s: sign with the contributor's key, for chain id %d", signer.Hex(), sub.Contributor.Hex(), s.cfg.ChainID)
	}
	if crypto.Keccak256Hash(req.WrappedKey) != sub.WrappedKeyHash {
		return nil, false, coordinator.Errf("invalid_field", "wrapped_key does not hash to the signed wrappedKeyHash")
	}
	dao, err := s.idao(ctx, sub.IDAO)
	if errors.Is(err, store.ErrUnknownIDAO) {
		return nil, false, coordinator.Errf("unknown_idao", "there is no iDAO named %q: see `vsc idao list`", sub.IDAO)
	}
	if err != nil {
		return nil, false, err
	}
	if !slices.Contains(dao.Modes, sub.Mode) {
		return nil, false, coordinator.Errf("mode_not_accepted", "iDAO %q accepts modes %s, not %q", dao.Name, strings.Join(dao.Modes, ", "), sub.Mode)
	}
	if len(dao.EnclavePubkey) > 0 {
		if len(req.EnclaveKey) == 0 {
			return nil, false, coordinator.Errf("missing_field", "field \"enclave_key\" is missing: say which enclave key the data key was wrapped to")
		}
		if !bytes.Equal(req.EnclaveKey, dao.EnclavePubkey) {
			return nil, false, coordinator.Errf("wrong_enclave_key",
				"the data key was wrapped to enclave key %x…, but iDAO %q's enclave key is %x…: fetch it again (`vsc idao show %s`) and resubmit",
				head(req.EnclaveKey), dao.Name, head(dao.EnclavePubkey), dao.Name)
		}
	}
	// The blob: inline, or uploaded before.
	size := int64(len(blob))
	if blob != nil {
		if crypto.Keccak256Hash(blob) != sub.DataHash {
			return nil, false, coordinator.Errf("data_hash_mismatch", "the blob hashes to %s, not the signed data_hash %s", crypto.Keccak256Hash(blob).Hex(), sub.DataHash.Hex())
		}
	} else {
		ok, err := s.bus.HasBlob(ctx, sub.DataHash)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, coordinator.Errf("blob_missing", "no blob with data_hash %s: send it in the \"blob\" part or PUT /v1/blobs/%s first", sub.DataHash.Hex(), sub.DataHash.Hex())
		}
	}
	newSub := &store.NewSubmission{ID: id, Sub: *sub, Signature: req.Signature, WrappedKey: req.WrappedKey,
		ChainID: s.cfg.ChainID, BlobSize: size, Jobs: s.jobsFor(id, req)}
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
			return nil, false, coordinator.Errf("nonce_replayed", "%v", err)
		case errors.Is(err, store.ErrNonceGap):
			return nil, false, coordinator.Errf("nonce_gap", "%v", err)
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

// newView is the view of a submission just stored, built from what is in
// hand (no read back).
func newView(id common.Hash, n *store.NewSubmission) *coordinator.SubmissionView {
	now := time.Now().UTC()
	v := &coordinator.SubmissionView{ID: id.Hex(), Status: coordinator.Received, IDAO: n.Sub.IDAO, Mode: n.Sub.Mode,
		Class: n.Sub.Class, Contributor: n.Sub.Contributor, DataHash: n.Sub.DataHash, Commitment: n.Sub.Commitment,
		Records: n.Sub.Records, Nonce: n.Sub.Nonce, Evidence: []coordinator.EvidenceView{}, Votes: []coordinator.VoteView{},
		CreatedAt: now, UpdatedAt: now}
	for _, j := range n.Jobs {
		if len(v.Evidence) == 0 || v.Evidence[len(v.Evidence)-1].Kind != j.Kind {
			v.Evidence = append(v.Evidence, coordinator.EvidenceView{Kind: j.Kind, Status: "pending", Chunks: max(j.Chunks, 1)})
		}
	}
	return v
}

// idao returns an iDAO, cached for a second (intake reads it per request).
func (s *Server) idao(ctx context.Context, name string) (*store.IDAO, error) {
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
	dao *store.IDAO
	at  time.Time
}

// dropBlob removes a blob stored for a submission that was then refused,
// unless another submission uses the same ciphertext.
func (s *Server) dropBlob(h common.Hash) {
	ctx := context.Background()
	if ref, err := s.store.BlobReferenced(ctx, h); err == nil && !ref {
		if err := s.bus.DeleteBlob(ctx, h); err != nil {
			s.log.Warn("orphan blob not deleted", "data_hash", h, "err", err)
		}
	}
}

func (s *Server) jobsFor(id common.Hash, req *coordinator.SubmitRequest) []bus.Job {
	var jobs []bus.Job
	for _, kind := range coordinator.Kinds(req.Submission.Mode) {
		base := bus.Job{ID: id.Hex() + "/" + kind, Kind: kind, ChainID: s.cfg.ChainID, SubmissionID: id,
			Submission: req.Submission, Signature: req.Signature, WrappedKey: req.WrappedKey}
		if kind != "zk" {
			jobs = append(jobs, base)
			continue
		}
		c := s.cfg.ZKChunk
		n := int((req.Submission.Records + uint64(c) - 1) / uint64(c))
		for i := range n {
			j := base
			j.Chunk, j.Chunks, j.ChunkSize = i, n, c
			jobs = append(jobs, j)
		}
	}
	return jobs
}

func checkFields(req *coordinator.SubmitRequest) error {
	sub := &req.Submission
	missing := func(name string) error {
		return coordinator.Errf("missing_field", "field %q is missing: every field of the Submission type is required", name)
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
	if sub.Records == 0 {
		return coordinator.Errf("invalid_field", "records is 0: the dataset is empty; submit at least one record")
	}
	if !coordinator.ValidMode(sub.Mode) {
		return coordinator.Errf("invalid_field", "mode %q is not one of tee, zk, tee+zk, optimistic", sub.Mode)
	}
	if sub.Class != "dataset" && sub.Class != "model" {
		return coordinator.Errf("invalid_field", "class %q is not dataset or model", sub.Class)
	}
	return nil
}

// readSubmit parses the request: multipart (submission + blob parts), or a
// plain JSON body (blob uploaded before).
func (s *Server) readSubmit(r *http.Request) (*coordinator.SubmitRequest, []byte, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, s.cfg.MaxBlob+1<<20)
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	req := new(coordinator.SubmitRequest)
	if ct != "multipart/form-data" {
		if err := decodeJSON(r.Body, req); err != nil {
			return nil, nil, err
		}
		return req, nil, nil
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var blob []byte
	gotSub := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, tooLargeOr(err, coordinator.Errf("bad_request", "malformed multipart body: %v", err), s.cfg.MaxBlob)
		}
		switch p.FormName() {
		case "submission":
			if err := decodeJSON(io.LimitReader(p, 1<<20), req); err != nil {
				return nil, nil, err
			}
			gotSub = true
		case "blob":
			blob, err = io.ReadAll(io.LimitReader(p, s.cfg.MaxBlob+1))
			if err != nil {
				return nil, nil, tooLargeOr(err, coordinator.Errf("bad_request", "reading blob: %v", err), s.cfg.MaxBlob)
			}
			if int64(len(blob)) > s.cfg.MaxBlob {
				return nil, nil, coordinator.Errf("blob_too_large", "the blob is over the %d-byte limit: split the dataset", s.cfg.MaxBlob)
			}
		}
	}
	if !gotSub {
		return nil, nil, coordinator.Errf("missing_field", "the multipart body has no \"submission\" part")
	}
	return req, blob, nil
}

func tooLargeOr(err error, other error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return coordinator.Errf("blob_too_large", "the request is over the %d-byte blob limit: split the dataset", limit)
	}
	return other
}

func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return coordinator.Errf("malformed_json", "the request is not valid JSON for this endpoint: %v", err)
	}
	return nil
}

func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) {
	h, err := parseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBlob)
	blob, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, tooLargeOr(err, coordinator.Errf("bad_request", "reading blob: %v", err), s.cfg.MaxBlob))
		return
	}
	if crypto.Keccak256Hash(blob) != h {
		writeErr(w, coordinator.Errf("data_hash_mismatch", "the blob hashes to %s, not %s", crypto.Keccak256Hash(blob).Hex(), h.Hex()))
		return
	}
	if err := s.bus.PutBlob(r.Context(), h, blob); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data_hash": h, "size": len(blob)})
}

func (s *Server) getSubmission(w http.ResponseWriter, r *http.Request) {
	id, err := parseHash(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	v, err := s.store.GetSubmission(r.Context(), id, r.URL.Query().Get("history") != "false")
	if errors.Is(err, store.ErrNotFound) {
		writeErr(w, coordinator.Errf("not_found", "no submission %s", id.Hex()))
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, v)
}

func (s *Server) listIDAOs(w http.ResponseWriter, r *http.Request) {
	daos, err := s.registry().IDAOs(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	out := struct {
		IDAOs []coordinator.IDAOSummary `json:"idaos"`
	}{IDAOs: []coordinator.IDAOSummary{}}
	for _, d := range daos {
		out.IDAOs = append(out.IDAOs, coordinator.IDAOSummary{Name: d.Name, Policy: d.Modes[0], Modes: d.Modes,
			Members: len(d.Members), Stake: d.TotalStake().String()})
	}
	writeJSON(w, 200, out)
}

func (s *Server) getIDAO(w http.ResponseWriter, r *http.Request) {
	d, err := s.registry().IDAO(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrUnknownIDAO) {
		writeErr(w, coordinator.Errf("unknown_idao", "there is no iDAO named %q: see `vsc idao list`", r.PathValue("name")))
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, IDAOView(d))
}

// IDAOView renders a stored iDAO.
func IDAOView(d *store.IDAO) coordinator.IDAOView {
	v := coordinator.IDAOView{Name: d.Name, Policy: d.Modes[0], Modes: d.Modes, Owner: d.Owner,
		Members: []coordinator.MemberView{}, Stake: d.TotalStake().String()}
	if len(d.Policy) > 2 {
		v.PolicyExtra = d.Policy
	}
	for _, m := range d.Members {
		v.Members = append(v.Members, coordinator.MemberView{Address: m.Address, Stake: m.Stake.String()})
	}
	if len(d.EnclavePubkey) > 0 {
		v.EnclaveKey = &coordinator.EnclaveKey{PublicKey: d.EnclavePubkey, Report: d.EnclaveReport}
	}
	return v
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	a := r.PathValue("addr")
	if !common.IsHexAddress(a) {
		writeErr(w, coordinator.Errf("invalid_field", "%q is not a 0x address", a))
		return
	}
	addr := common.HexToAddress(a)
	n, err := s.store.NextNonce(r.Context(), addr)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, coordinator.AccountView{Address: addr, NextNonce: n})
}

func parseHash(s string) (common.Hash, error) {
	s = strings.TrimPrefix(s, "0x")
	if len(s) != 64 {
		return common.Hash{}, coordinator.Errf("invalid_field", "%q is not a 32-byte hex id", s)
	}
	return common.HexToHash(s), nil
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// Registry is where the coordinator reads iDAOs: the chain in a devnet or
// a deployment with a chain link, else the coordinator's own PostgreSQL
// registry.
type Registry interface {
	IDAO(ctx context.Context, name string) (*store.IDAO, error)
	IDAOs(ctx context.Context) ([]*store.IDAO, error)
}

type pgRegistry struct{ st *store.Store }

func (r pgRegistry) IDAO(ctx context.Context, name string) (*store.IDAO, error) {
	return r.st.GetIDAO(ctx, name)
}
func (r pgRegistry) IDAOs(ctx context.Context) ([]*store.IDAO, error) { return r.st.ListIDAOs(ctx) }

func (s *Server) registry() Registry {
	if s.cfg.Registry != nil {
		return s.cfg.Registry
	}
	return pgRegistry{s.store}
}
