package main

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// claimServer serves the claims API for two claims over data: one honest,
// one faulty.
func claimServer(t *testing.T, data string) (api string, honest, faulty *optimistic.Claim, openSeen *bool) {
	t.Helper()
	ds, err := records.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	k, err := optimistic.Compute(ds, ds.Fields, facts.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	exec := common.Address{0xe1}
	mk := func(k *optimistic.Computation, sub byte) *optimistic.Claim {
		c, err := optimistic.NewClaim(exec, k.ClaimRequest(common.Hash{sub}, ds.Fields, facts.DefaultParams, big.NewInt(5000)), 10, optimistic.DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	honest, faulty = mk(k, 1), mk(optimistic.Faulty(k), 2)
	seen := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/chain/claims", func(w http.ResponseWriter, r *http.Request) {
		seen = seen || r.URL.Query().Get("open") == "true"
		_ = json.NewEncoder(w).Encode(client.ClaimList{Claims: []*optimistic.Claim{honest, faulty}})
	})
	mux.HandleFunc("GET /v1/chain/claims/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []*optimistic.Claim{honest, faulty} {
			if c.ID.Hex() == r.PathValue("id") {
				_ = json.NewEncoder(w).Encode(client.ClaimDetail{Claim: c, Games: []*optimistic.Game{}})
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code":"not_found","message":"no such claim"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, honest, faulty, &seen
}

func TestCLIClaims(t *testing.T) {
	t.Parallel()
	api, honest, _, seen := claimServer(t, "a,b\n1,2\n3,4\n1,2\n5,6\n")
	r := vsc(t, api, "claims", "--open", "--json")
	var out struct {
		Claims []map[string]any `json:"claims"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Claims) != 2 || !*seen {
		t.Fatalf("claims: %+v", r)
	}
	for _, f := range []string{"id", "submission", "executor", "result", "bond", "window_ends", "status"} {
		if _, ok := out.Claims[0][f]; !ok {
			t.Fatalf("claims --json lacks %q: %s", f, r.stdout)
		}
	}
	if out.Claims[0]["bond"] != "5000" || out.Claims[0]["id"] != honest.ID.Hex() {
		t.Fatalf("claim fields: %v", out.Claims[0])
	}
	if r := vsc(t, api, "claims"); r.code != 0 || !strings.Contains(r.stdout, honest.ID.Hex()) {
		t.Fatalf("claims (text): %+v", r)
	}
}

func TestCLIChallenge(t *testing.T) {
	t.Parallel()
	const data = "a,b\n1,2\n3,4\n1,2\n5,6\n"
	api, honest, faulty, _ := claimServer(t, data)
	dir := t.TempDir()
	key, _ := crypto.GenerateKey()
	keyFile := filepath.Join(dir, "c.key")
	if err := keys.Save(keyFile, key); err != nil {
		t.Fatal(err)
	}
	good := writeFile(t, dir, "d.csv", data)
	other := writeFile(t, dir, "o.csv", "a,b\n1,2\n3,4\n1,2\n5,7\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"agrees with the claim", []string{honest.ID.Hex(), "--bond", "1000", "--key", keyFile, "--data", good}, 1, "use --force"},
		{"data of another submission", []string{faulty.ID.Hex(), "--bond", "1000", "--key", keyFile, "--data", other}, 1, "is not the data this claim is about"},
		{"unknown claim", []string{common.Hash{9}.Hex(), "--bond", "1000", "--key", keyFile, "--data", good}, 1, "no such claim"},
		{"no bond", []string{faulty.ID.Hex(), "--key", keyFile, "--data", good}, 2, "--bond"},
		{"no data", []string{faulty.ID.Hex(), "--bond", "5", "--key", keyFile}, 2, "--data"},
		{"bad claim id", []string{"xyz", "--bond", "5", "--key", keyFile, "--data", good}, 2, "CLAIM_ID"},
		// a wrong claim gets as far as the chain tx (this fake API has no chain)
		{"wrong claim", []string{faulty.ID.Hex(), "--bond", "1000", "--key", keyFile, "--data", good, "--no-play"}, 1, "/v1/chain/info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := vsc(t, api, append([]string{"challenge"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("got %+v, want exit %d and %q", r, tc.code, tc.want)
			}
		})
	}
}
