// Command genwasm builds the Web UI's WebAssembly (`go generate
// ./coordinator/ui` runs it): cmd/vscwasm for GOOS=js GOARCH=wasm, written
// gzip-compressed to static/vsc.wasm.gz, and the Go release's
// wasm_exec.js (from $(go env GOROOT)/lib/wasm/) copied beside it. The
// build is reproducible (-trimpath, no VCS stamp, a gzip header without a
// time), so a test can rebuild it and compare (TestWasmIsFresh).
//
//	go run ./genwasm [-out DIR]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vsc-labs/vsc/coordinator/ui/wasmbuild"
)

func main() {
	out := flag.String("out", "static", "directory to write vsc.wasm.gz and wasm_exec.js to")
	flag.Parse()
	if err := wasmbuild.Build(*out); err != nil {
		fmt.Fprintln(os.Stderr, "genwasm:", err)
		os.Exit(1)
	}
}
