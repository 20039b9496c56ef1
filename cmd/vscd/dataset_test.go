package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/vsc-labs/vsc/cmd/vscd/internal/bench"
)

// A dataset streamed end to end (client in its own process: chunked
// encryption into a blob file, streamed upload; the TEE worker streaming
// the blob through the enclave) is minted with both processes' peak RSS
// under 512 MiB. This runs `vscd bench dataset` at a small size; the
// 10,000,000-record run is in docs/BENCHMARKS.md. Not parallel: the devnet
// process's peak must be this run's alone.
func TestBenchDatasetBoundedMemory(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"bench", "dataset", "--records", "40000", "--fields", "4", "--zk-keys", zkKeysDir, "--json"}
	if code := run(context.Background(), testEnv(&out, &errb), args); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r bench.DatasetResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	if r.Status != "minted" || r.Records != 40000 || r.BlobBytes <= r.CSVBytes/2 {
		t.Fatalf("result %+v", r)
	}
	if r.ClientPeakMiB <= 0 || r.ClientPeakMiB > 512 || r.VSCDPeakMiB <= 0 || r.VSCDPeakMiB > 512 {
		t.Fatalf("peak RSS: client %.1f MiB, vscd %.1f MiB (%s): want both in (0, 512]", r.ClientPeakMiB, r.VSCDPeakMiB, r.VSCDPeakSource)
	}
}
