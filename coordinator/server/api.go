package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/page"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", s.m.handler)
	m.HandleFunc("GET /openapi.json", s.openapi)
	m.HandleFunc("GET /v1/info", s.info)
	m.HandleFunc("POST /v1/submissions", s.limited(s.submit))
	m.HandleFunc("GET /v1/submissions", s.listSubmissions)
	m.HandleFunc("GET /v1/submissions/{id}", s.getSubmission)
	m.HandleFunc("GET /v1/events", s.events)
	m.HandleFunc("GET /v1/search", s.search)
	m.HandleFunc("PUT /v1/blobs/{hash}", s.limited(s.putBlob))
	m.HandleFunc("PUT /v1/blobs/{hash}/parts/{n}", s.limited(s.putBlobPart))
	m.HandleFunc("GET /v1/blobs/{hash}/parts", s.limited(s.blobParts)) // up to one object lookup per part
	m.HandleFunc("POST /v1/blobs/{hash}/complete", s.limited(s.completeBlob))
	m.HandleFunc("GET /v1/idaos", s.listIDAOs)
	m.HandleFunc("GET /v1/idaos/{name}", s.getIDAO)
	m.HandleFunc("GET /v1/accounts/{addr}", s.getAccount)
	m.HandleFunc("POST /v1/jobs", s.limited(s.postJob))
	m.HandleFunc("GET /v1/jobs", s.listJobs)
	m.HandleFunc("GET /v1/jobs/{id}", s.getJob)
	m.HandleFunc("/v1/", s.apiNotFound)
	if s.cfg.UI != nil {
		m.Handle("/", s.cfg.UI)
	}
}

// apiNotFound answers an unknown API path as an API error (JSON), so the
// UI's app shell never answers for one.
func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeErr(w, codes.New(codes.NotFound, "no API route %s %s: see /openapi.json", r.Method, clip(r.URL.Path, coordinator.MaxPathParamBytes)))
}

// listSubmissions is GET /v1/submissions: a page of submissions, newest
// first (?limit=&cursor=, the answer's "next" is the following page's
// cursor).
func (s *Server) listSubmissions(w http.ResponseWriter, r *http.Request) {
	pr, err := page.Parse(r.URL.Query())
	if err == nil && pr.After != nil && len(pr.After) != store.RecentKeySize {
		err = page.ErrBadCursor
	}
	if err != nil {
		writeErr(w, codes.New(codes.InvalidField, "%v", err))
		return
	}
	rows, err := s.store.RecentSubmissions(r.Context(), pr.After, pr.Limit+1)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := coordinator.SubmissionList{Submissions: rows}
	if len(rows) > pr.Limit {
		out.Submissions = rows[:pr.Limit]
		out.Next = page.Cursor(store.RecentKey(rows[pr.Limit-1]))
	}
	if out.Submissions == nil {
		out.Submissions = []coordinator.SubmissionSummary{}
	}
	writeJSON(w, 200, out)
}

// info is GET /v1/info: the chain id and the configured limits (the fixed
// ones are in the OpenAPI document).
func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	rate := 0.0 // 0: no rate limit
	burst := 0
	if s.limiter != nil {
		rate, burst = float64(s.limiter.limit), s.limiter.burst
	}
	writeJSON(w, 200, map[string]any{"chain_id": s.cfg.ChainID, "max_blob": s.cfg.MaxBlob, "max_stream_blob": s.cfg.MaxStreamBlob, "zk_chunk": s.cfg.ZKChunk,
		"blob_ttl_seconds": int64(s.cfg.BlobTTL.Seconds()), "max_pending_blob_bytes": s.cfg.MaxPendingBlobBytes,
		"max_pending_blob_bytes_per_client": s.cfg.MaxPendingBlobBytesPerClient, "max_inflight_body_bytes": s.cfg.MaxInflightBodyBytes,
		"intake_rate": rate, "intake_burst": burst})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Pool.Ping(r.Context()); err != nil {
		writeErr(w, codes.New(codes.Unavailable, "postgres is not reachable: %v", err))
		return
	}
	if !s.bus.NC.IsConnected() {
		writeErr(w, codes.New(codes.Unavailable, "NATS is not connected"))
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers err as an API error: its code's status and
// {"code", "number", "error"}; an error without a code is internal.
func writeErr(w http.ResponseWriter, err error) {
	var e *codes.Error
	if !errors.As(err, &e) {
		e = codes.New(codes.Internal, "internal error: %v", err)
	}
	writeJSON(w, e.Code.HTTP(), e)
}

func (s *Server) getSubmission(w http.ResponseWriter, r *http.Request) {
	id, err := parseHash(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	v, err := s.store.GetSubmission(r.Context(), id, r.URL.Query().Get("history") != "false")
	if errors.Is(err, store.ErrNotFound) {
		writeErr(w, codes.New(codes.NotFound, "no submission %s", id.Hex()))
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, v)
}

// listIDAOs is GET /v1/idaos: a page of iDAOs by name (?limit=&cursor=,
// the answer's "next" is the following page's cursor).
func (s *Server) listIDAOs(w http.ResponseWriter, r *http.Request) {
	pr, err := page.Parse(r.URL.Query())
	if err != nil {
		writeErr(w, codes.New(codes.InvalidField, "%v", err))
		return
	}
	daos, next, err := s.idaoPage(r.Context(), pr)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := coordinator.IDAOList{IDAOs: []coordinator.IDAOSummary{}, Next: next}
	for _, d := range daos {
		out.IDAOs = append(out.IDAOs, coordinator.IDAOSummary{Name: d.Name, Policy: d.DefaultMode(), Modes: d.Policy.Modes,
			Members: len(d.Staked()), Stake: d.TotalStake().String()})
	}
	writeJSON(w, 200, out)
}

// idaoPage reads a page of iDAOs: from PostgreSQL by a ranged query, from
// another registry (the chain) by slicing its sorted list.
func (s *Server) idaoPage(ctx context.Context, pr page.Request) ([]*coordinator.Registered, string, error) {
	name := func(d *coordinator.Registered) []byte { return []byte(d.Name) }
	if s.cfg.Registry == nil {
		daos, err := s.store.IDAOPage(ctx, string(pr.After), pr.Limit+1)
		if err != nil {
			return nil, "", err
		}
		if len(daos) <= pr.Limit {
			return daos, "", nil
		}
		daos = daos[:pr.Limit]
		return daos, page.Cursor(name(daos[len(daos)-1])), nil
	}
	all, err := s.cfg.Registry.IDAOs(ctx)
	if err != nil {
		return nil, "", err
	}
	all = slices.Clone(all)
	slices.SortFunc(all, func(a, b *coordinator.Registered) int { return strings.Compare(a.Name, b.Name) })
	daos, next := page.Slice(all, name, pr)
	return daos, next, nil
}

func (s *Server) getIDAO(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if len(name) > coordinator.MaxIDAONameBytes {
		writeErr(w, codes.New(codes.InvalidField, "an iDAO name is at most %d bytes (max_idao_name_bytes)", coordinator.MaxIDAONameBytes))
		return
	}
	d, err := s.registry().IDAO(r.Context(), name)
	if errors.Is(err, store.ErrUnknownIDAO) {
		writeErr(w, codes.New(codes.UnknownIDAO, "there is no iDAO named %q: see `vsc idao list`", name))
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	v, err := IDAOView(d)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, v)
}

// IDAOView renders a registered iDAO.
func IDAOView(d *coordinator.Registered) (coordinator.IDAOView, error) {
	v := coordinator.IDAOView{Name: d.Name, Policy: d.DefaultMode(), Modes: d.Policy.Modes, Owner: d.Owner, MinGroupSize: d.Policy.GroupFloor(),
		Members: []coordinator.MemberView{}, Stake: d.TotalStake().String(), EnclaveKey: d.Enclave,
		ZKShapes: append([]idao.ZKShape{}, d.Policy.ZKShapes...)}
	if c := coordinator.NewPolicyConfig(&d.Policy); !c.Empty() {
		raw, err := json.Marshal(c)
		if err != nil {
			return v, fmt.Errorf("render iDAO %s's policy: %w", d.Name, err)
		}
		v.PolicyExtra = raw
	}
	for _, m := range d.Staked() {
		v.Members = append(v.Members, coordinator.MemberView{Address: m.Addr, Stake: m.Stake.String()})
	}
	return v, nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	a := r.PathValue("addr")
	if !common.IsHexAddress(a) {
		writeErr(w, codes.New(codes.InvalidField, "%q is not a 0x address", clip(a, coordinator.MaxPathParamBytes)))
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
	h := strings.TrimPrefix(s, "0x")
	b, err := hex.DecodeString(h)
	if len(h) != 64 || err != nil {
		return common.Hash{}, codes.New(codes.InvalidField, "%q is not a 32-byte hex id", clip(s, coordinator.MaxPathParamBytes))
	}
	return common.BytesToHash(b), nil
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// Registry is where the coordinator reads iDAOs: the chain in a devnet or
// a deployment with a chain link, else the coordinator's own PostgreSQL
// registry.
type Registry interface {
	IDAO(ctx context.Context, name string) (*coordinator.Registered, error)
	IDAOs(ctx context.Context) ([]*coordinator.Registered, error)
}

type pgRegistry struct{ st *store.Store }

func (r pgRegistry) IDAO(ctx context.Context, name string) (*coordinator.Registered, error) {
	return r.st.GetIDAO(ctx, name)
}
func (r pgRegistry) IDAOs(ctx context.Context) ([]*coordinator.Registered, error) {
	return r.st.ListIDAOs(ctx)
}

func (s *Server) registry() Registry {
	if s.cfg.Registry != nil {
		return s.cfg.Registry
	}
	return pgRegistry{s.store}
}
