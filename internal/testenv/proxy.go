package testenv

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Proxy is a lying API for tests: an HTTP proxy in front of a real one that
// passes requests through and lets a test rewrite the answers (a forged
// policy, a swapped key, another chain's proof). It counts the requests
// that would change something (anything but GET), so a test can assert
// that a client refused before it uploaded or submitted anything.
type Proxy struct {
	URL string

	mu     sync.Mutex
	lie    func(path string, body []byte) []byte
	writes []string
}

// LyingProxy starts a Proxy in front of target (a base URL) for the test.
func LyingProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			p.mu.Lock()
			p.writes = append(p.writes, r.Method+" "+r.URL.Path)
			p.mu.Unlock()
		}
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		p.mu.Lock()
		lie := p.lie
		p.mu.Unlock()
		if lie != nil {
			out = lie(r.URL.Path, out)
		}
		for k, vs := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Lie makes the proxy rewrite every answer with f (nil: tell the truth).
// f gets the request path and the real answer and returns what to send.
func (p *Proxy) Lie(f func(path string, body []byte) []byte) {
	p.mu.Lock()
	p.lie = f
	p.mu.Unlock()
}

// Writes returns the non-GET requests seen so far and forgets them.
func (p *Proxy) Writes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.writes
	p.writes = nil
	return w
}
