package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// vscd coordinator passes the Web UI's chain reads (GET /v1/chain/…) to
// the chain API, path and query intact, so the pages have one origin.
func TestChainReadsReachTheChainAPI(t *testing.T) {
	t.Parallel()
	chainAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	defer chainAPI.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /v1/chain/", chainReads(chainAPI.URL))
	front := httptest.NewServer(mux)
	defer front.Close()
	resp, err := http.Get(front.URL + "/v1/chain/claims?open=true&limit=5")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "GET /v1/chain/claims?open=true&limit=5" {
		t.Fatalf("proxied %d %q", resp.StatusCode, body)
	}
	resp, err = http.Post(front.URL+"/v1/chain/txs", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("a POST was passed to the chain API; only reads are")
	}
}
