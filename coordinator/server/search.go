package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/codes"
)

// SearchResult is one thing a search query names.
type SearchResult struct {
	Kind string `json:"kind"` // submission, tx, class, token, claim, block, job, account, idao
	ID   string `json:"id"`
	Path string `json:"path"` // the Web UI page
}

var (
	heightRe = regexp.MustCompile(`^[0-9]{1,19}$`)
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// search is GET /v1/search?q=: what q names — a block height, an
// address, a 32-byte id (a submission, tx, DAT class or token, claim,
// block hash or data-service job, tried in that order) or an iDAO name —
// as {"results": […]} (empty when nothing matches). It asks this server's own routes (the
// chain's reads included, where they are mounted), so it answers exactly
// what the pages would find.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" || len(q) > coordinator.MaxSearchBytes {
		writeErr(w, codes.New(codes.InvalidField, "q must be 1 to %d bytes: a submission id, tx hash, block height, address, class, token or iDAO name", coordinator.MaxSearchBytes))
		return
	}
	var cands []SearchResult
	switch {
	case heightRe.MatchString(q):
		cands = []SearchResult{{"block", q, "/v1/chain/blocks/" + q}}
	case common.IsHexAddress(q) && strings.HasPrefix(q, "0x") && len(q) == 42:
		cands = []SearchResult{{"account", q, ""}}
	case len(q) == 66 && strings.HasPrefix(q, "0x"):
		if _, err := parseHash(q); err != nil {
			writeErr(w, err)
			return
		}
		for _, k := range []struct{ kind, probe string }{{"submission", "/v1/submissions/"}, {"tx", "/v1/chain/txs/"},
			{"class", "/v1/chain/dat/classes/"}, {"token", "/v1/chain/dat/tokens/"}, {"claim", "/v1/chain/claims/"}, {"block", "/v1/chain/blocks/"}, {"job", "/v1/jobs/"}} {
			cands = append(cands, SearchResult{k.kind, q, k.probe + q})
		}
	case nameRe.MatchString(q):
		cands = []SearchResult{{"idao", q, "/v1/idaos/" + q}}
	}
	out := []SearchResult{}
	for _, c := range cands {
		if c.Path != "" && !s.found(r, c.Path) {
			continue
		}
		c.Path = uiPath(c.Kind, c.ID)
		out = append(out, c)
		break
	}
	writeJSON(w, 200, map[string]any{"q": q, "results": out})
}

// found asks this server's own mux whether GET path answers 200.
func (s *Server) found(r *http.Request, path string) bool {
	req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return rec.Code == http.StatusOK
}

func uiPath(kind, id string) string {
	switch kind {
	case "submission":
		return "/submissions/" + id
	case "tx":
		return "/txs/" + id
	case "class":
		return "/dat/" + id
	case "token":
		return "/tokens/" + id
	case "claim":
		return "/claims/" + id
	case "block":
		return "/blocks/" + id
	case "account":
		return "/accounts/" + id
	case "job":
		return "/jobs/" + id
	default:
		return "/idaos/" + id
	}
}
