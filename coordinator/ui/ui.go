// Package ui is the Web UI the coordinator serves at /: plain HTML, CSS and
// JavaScript modules embedded in the binary (no build step, no Node at
// build or run time), and vsc's own client code compiled to WebAssembly
// (static/vsc.wasm, built by `go generate ./coordinator/ui` from
// cmd/vscwasm) for submitting from the browser. The pages read the
// coordinator's and the chain's JSON APIs and follow GET /v1/events.
package ui

import (
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/vsc-labs/vsc/internal/codes"
)

//go:generate go run ./genwasm

//go:embed static
var static embed.FS

// Static is the UI's files (index.html, app.js, …, vsc.wasm).
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return sub
}

// PageRoots are the first path segments of the UI's pages (CONTRACT.md
// "Web UI"); any path under one of them is answered with the app shell,
// which routes on the client.
var PageRoots = []string{"submissions", "idaos", "dat", "tokens", "accounts", "claims", "blocks", "txs", "submit", "jobs", "search"}

// Handler serves the UI: files under /ui/, the app shell at / and under
// every page root, and a 404 page elsewhere. Anything but GET and HEAD is
// refused as an API error (JSON), as are paths under /v1/.
func Handler() http.Handler {
	files := http.FileServerFS(Static())
	shell, err := fs.ReadFile(Static(), "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeErr(w, codes.New(codes.NotFound, "no route %s %s: the Web UI answers GET only; the API is under /v1/ (see /openapi.json)", r.Method, clip(r.URL.Path)))
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if strings.HasPrefix(p, "/v1/") || p == "/v1" {
			writeErr(w, codes.New(codes.NotFound, "no API route GET %s: see /openapi.json", clip(p)))
			return
		}
		if rest, ok := strings.CutPrefix(p, "/ui/"); ok && rest != "" {
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			if rest == "vsc.wasm" {
				serveWasm(w, r)
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + rest
			files.ServeHTTP(w, r2)
			return
		}
		root, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		status := http.StatusOK
		if root != "" && !isPageRoot(root) {
			status = http.StatusNotFound // the shell shows "no such page"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(status)
		_, _ = w.Write(shell)
	})
}

// csp keeps the pages to their own origin: scripts from /ui/ only (and
// WebAssembly compiled from them), no inline script, no framing.
const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// serveWasm serves the embedded vsc.wasm.gz as vsc.wasm, compressed when
// the browser accepts gzip (every browser does), else inflated.
func serveWasm(w http.ResponseWriter, r *http.Request) {
	f, err := Static().Open("vsc.wasm.gz")
	if err != nil {
		writeErr(w, codes.New(codes.NotFound, "this build has no vsc.wasm: run `go generate ./coordinator/ui` and rebuild"))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Add("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = io.Copy(w, f)
		return
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		writeErr(w, codes.New(codes.Internal, "the embedded vsc.wasm.gz is not gzip: %v", err))
		return
	}
	_, _ = io.Copy(w, z)
}

func isPageRoot(s string) bool {
	for _, r := range PageRoots {
		if s == r {
			return true
		}
	}
	return false
}

func writeErr(w http.ResponseWriter, e *codes.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code.HTTP())
	b, _ := e.MarshalJSON()
	_, _ = w.Write(append(b, '\n'))
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
