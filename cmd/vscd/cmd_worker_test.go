package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/tee"
)

func TestWorkerShowKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	show := func() tee.KeyInfo {
		var out, errb bytes.Buffer
		if code := run(context.Background(), testEnv(&out, &errb), []string{"worker", "--tee-backend", "sim", "--data", dir, "--show-key", "--json"}); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var k tee.KeyInfo
		if err := json.Unmarshal(out.Bytes(), &k); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return k
	}
	k := show()
	var out, errb bytes.Buffer
	if code := run(context.Background(), testEnv(&out, &errb), []string{"worker", "--tee-backend", "sim", "--data", dir, "--show-policy"}); code != 0 {
		t.Fatalf("--show-policy: exit %d: %s", code, errb.String())
	}
	policy, err := tee.ParsePolicy(out.Bytes())
	if err != nil {
		t.Fatalf("--show-policy printed %s: %v", out.String(), err)
	}
	// the worker's own simulation root, made under its data dir, and nothing else
	root, err := tee.LoadOrCreateSimRoot(filepath.Join(dir, "tee", tee.SimRootFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(policy.SimulationRoots) != 1 || policy.SimulationRoots[0] != root.Address() {
		t.Fatalf("--show-policy trusts roots %v, want the worker's %s", policy.SimulationRoots, root.Address())
	}
	if _, err := k.Verify(policy); err != nil {
		t.Fatal(err)
	}
	if again := show(); !bytes.Equal(again.PublicKey, k.PublicKey) {
		t.Fatal("restart changed the enclave key")
	}
	if code := run(context.Background(), testEnv(&out, &errb), []string{"worker", "--tee-backend", "ego", "--data", dir, "--show-key"}); code == 0 {
		t.Fatal("ego backend started outside an enclave")
	}
}

// Outside the devnet the TEE backend is never chosen for the operator: a
// missing or unknown --tee-backend is a usage error naming the choices.
func TestWorkerNeedsBackend(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"worker", "--data", t.TempDir(), "--show-key"},
		{"worker", "--tee-backend", "sgx", "--data", t.TempDir(), "--show-key"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), testEnv(&out, &errb), args)
		if code != 2 || !strings.Contains(errb.String(), "sim") || !strings.Contains(errb.String(), "ego") || out.Len() != 0 {
			t.Fatalf("%v: exit %d, stderr %q; want a usage error naming sim and ego", args, code, errb.String())
		}
	}
}

// --serve names what it needs: the chain, the iDAO and a funded account.
func TestWorkerServeNeedsItsAccount(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"worker", "--tee-backend", "sim", "--data", t.TempDir(), "--serve"},
		{"worker", "--tee-backend", "sim", "--data", t.TempDir(), "--serve", "--chain", "http://127.0.0.1:1", "--idao", "demo"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), testEnv(&out, &errb), args)
		if code != 2 || !strings.Contains(errb.String(), "--provider-key") {
			t.Fatalf("%v: exit %d, stderr %q; want a usage error naming --provider-key", args, code, errb.String())
		}
	}
}

func TestBenchTEE(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), testEnv(&out, &errb), []string{"bench", "tee", "--records", "300", "--commit-records", "64", "--rounds", "1", "--json"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"decrypt_parse_mb_per_s", "commit_records_per_s_per_core", "process_records_per_s"} {
		if v, _ := m[k].(float64); v <= 0 {
			t.Errorf("%s = %v", k, m[k])
		}
	}
}
