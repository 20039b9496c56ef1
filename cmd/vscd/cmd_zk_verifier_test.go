package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/prover"
)

func TestZKExportVerifierAndCalldata(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	km, err := prover.NewKeyManager(filepath.Join(dir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := km.Keys(context.Background(), prover.NewShape(2, 1, prover.FullRange))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := prover.ProveChunk(keys, &records.Dataset{Fields: []string{"a"}, Records: [][]int64{{4}, {-9}, {1}}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	proofFile := filepath.Join(dir, "chunk.json")
	b, _ := json.Marshal(cp)
	if err := os.WriteFile(proofFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	vkFile := filepath.Join(dir, "key.vk")
	if err := os.WriteFile(vkFile, keys.VK.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, vk := range []string{vkFile, keys.VK.Hash.Hex()} {
		out := filepath.Join(dir, "Verifier.sol")
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), testEnv(&stdout, &stderr), []string{"zk", "export-verifier", "--vk", vk, "--keys", filepath.Join(dir, "keys"), "--out", out, "--json"})
		if code != 0 {
			t.Fatalf("export-verifier %s: exit %d: %s", vk, code, stderr.String())
		}
		var got struct {
			VKHash   string `json:"vk_hash"`
			Function string `json:"function"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.VKHash != keys.VK.Hash.Hex() || got.Function != "verifyProof(bytes,uint256[4])" {
			t.Fatalf("output %q: %v", stdout.String(), err)
		}
		sol, err := os.ReadFile(out)
		if err != nil || !strings.Contains(string(sol), "contract Verifier") {
			t.Fatalf("no verifier written: %v", err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), testEnv(&stdout, &stderr), []string{"zk", "calldata", "--proof", proofFile, "--json"}); code != 0 {
		t.Fatalf("calldata: exit %d: %s", code, stderr.String())
	}
	var call prover.EVMCall
	if err := json.Unmarshal(stdout.Bytes(), &call); err != nil {
		t.Fatal(err)
	}
	if len(call.Input) != 4 || call.Input[0] != "1" || call.Input[2] != "1" || call.Input[3] != "1" || len(call.Calldata) == 0 {
		t.Fatalf("call %+v", call)
	}
	// an unknown hash with no coordinator is one clear line, exit 1
	stderr.Reset()
	code := run(context.Background(), testEnv(&stdout, &stderr), []string{"zk", "export-verifier", "--vk", "0x" + strings.Repeat("ab", 32), "--api", "http://127.0.0.1:1"})
	if code != 1 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
