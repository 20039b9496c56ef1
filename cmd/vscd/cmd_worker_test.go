package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/vsc-labs/vsc/tee"
)

func TestWorkerShowKey(t *testing.T) {
	dir := t.TempDir()
	show := func() tee.KeyInfo {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"worker", "--tee-backend", "sim", "--data", dir, "--show-key", "--json"}, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var k tee.KeyInfo
		if err := json.Unmarshal(out.Bytes(), &k); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return k
	}
	k := show()
	if _, err := k.Verify(tee.DevPolicy()); err != nil {
		t.Fatal(err)
	}
	if again := show(); !bytes.Equal(again.PublicKey, k.PublicKey) {
		t.Fatal("restart changed the enclave key")
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"worker", "--tee-backend", "ego", "--data", dir, "--show-key"}, &out, &errb); code == 0 {
		t.Fatal("ego backend started outside an enclave")
	}
}

func TestBenchTEE(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"bench", "tee", "--records", "300", "--commit-records", "64", "--rounds", "1", "--json"}, &out, &errb); code != 0 {
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
