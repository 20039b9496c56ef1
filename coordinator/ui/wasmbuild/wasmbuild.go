// Package wasmbuild builds the Web UI's WebAssembly: cmd/vscwasm for
// GOOS=js GOARCH=wasm, gzip-compressed, and the toolchain's wasm_exec.js.
// genwasm (go generate) and the freshness test share it.
package wasmbuild

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Files are the names Build writes.
const (
	WasmFile = "vsc.wasm.gz"
	ExecFile = "wasm_exec.js"
)

// Build writes WasmFile and ExecFile into dir. It runs the go command of
// the running toolchain from the module's root.
func Build(dir string) error {
	wasm, err := Compile()
	if err != nil {
		return err
	}
	execJS, err := ExecJS()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, WasmFile), wasm, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ExecFile), execJS, 0o644)
}

// Compile builds cmd/vscwasm and returns it gzip-compressed.
func Compile() ([]byte, error) {
	tmp, err := os.MkdirTemp("", "vscwasm")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "vsc.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "github.com/vsc-labs/vsc/cmd/vscwasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build cmd/vscwasm for js/wasm: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression) // the header has no name and no time
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// ExecJS returns the toolchain's wasm_exec.js ($(go env GOROOT)/lib/wasm/).
func ExecJS() ([]byte, error) {
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	return os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", ExecFile))
}
