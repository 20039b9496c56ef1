package ui_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/coordinator/ui"
	"github.com/vsc-labs/vsc/coordinator/ui/wasmbuild"
)

// The shell answers the page routes (client-side routing), files are
// served under /ui/ with their types, the wasm compressed or not as the
// browser asks, and API paths and other methods get JSON errors.
func TestHandlerRoutes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	cases := []struct {
		method, path string
		status       int
		ctype        string
		has          string
	}{
		{"GET", "/", 200, "text/html", `<main id="main"`},
		{"GET", "/submissions/0xabc", 200, "text/html", `src="/ui/app.js"`},
		{"GET", "/dat/0x01/extra", 200, "text/html", `<main id="main"`},
		{"GET", "/blocks/7", 200, "text/html", ""},
		{"GET", "/submit", 200, "text/html", ""},
		{"GET", "/no-such-page", 404, "text/html", `<main id="main"`},
		{"GET", "/ui/app.js", 200, "text/javascript", "export function go"},
		{"GET", "/ui/style.css", 200, "text/css", ""},
		{"GET", "/ui/wasm_exec.js", 200, "text/javascript", "globalThis.Go"},
		{"GET", "/ui/nope.js", 404, "", ""},
		{"GET", "/v1/whatever", 404, "application/json", `"code":"not_found"`},
		{"POST", "/", 404, "application/json", `"number":1017`},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !bytes.Contains(body, []byte(tc.has)) {
			t.Errorf("%s %s: %d %q, want %d %q containing %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype, tc.has)
		}
		if tc.ctype == "text/html" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: no CSP", tc.path)
		}
		if tc.ctype == "application/json" && !json.Valid(body) {
			t.Errorf("%s %s: not JSON: %s", tc.method, tc.path, body)
		}
	}
}

// vsc.wasm is served gzip-encoded to a browser that accepts it and
// inflated otherwise; both are a WebAssembly module.
func TestWasmServed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	magic := []byte("\x00asm")
	req, _ := http.NewRequest("GET", srv.URL+"/ui/vsc.wasm", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("headers %v", resp.Header)
	}
	z, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4)
	if _, err := io.ReadFull(z, head); err != nil || !bytes.Equal(head, magic) {
		t.Fatalf("gzip body starts %x (%v), want the wasm magic", head, err)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/ui/vsc.wasm", nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp2, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if _, err := io.ReadFull(resp2.Body, head); err != nil || !bytes.Equal(head, magic) || resp2.Header.Get("Content-Encoding") != "" {
		t.Fatalf("identity body starts %x (%v)", head, err)
	}
}

// The committed vsc.wasm.gz and wasm_exec.js are what `go generate
// ./coordinator/ui` makes from today's code and toolchain: a change to
// cmd/vscwasm or the packages it links without regenerating fails here.
func TestWasmIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds cmd/vscwasm for js/wasm (about a minute)")
	}
	t.Parallel()
	want, err := wasmbuild.Compile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(ui.Static(), wasmbuild.WasmFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("static/%s is stale (%d bytes embedded, %d built; %v): run `go generate ./coordinator/ui`", wasmbuild.WasmFile, len(got), len(want), err)
	}
	js, err := wasmbuild.ExecJS()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := fs.ReadFile(ui.Static(), wasmbuild.ExecFile); !bytes.Equal(got, js) {
		t.Fatalf("static/%s is not this toolchain's: run `go generate ./coordinator/ui`", wasmbuild.ExecFile)
	}
}
