package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/vsc-labs/vsc/internal/cli"
)

func TestProveJSON(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	env := &cli.Env{Stdout: &stdout, Stderr: &stderr, JSON: true}
	err := Prove(context.Background(), env, []string{"--records", "5", "--chunk", "2", "--fields", "1", "--pool", "--keys", t.TempDir()})
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	for _, k := range []string{"records", "constraints", "setup_ms", "prove_ms", "verify_ms", "records_per_second", "pool_ms"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, stdout.String())
		}
	}
	if got["records"].(float64) != 5 || got["chunks"].(float64) != 3 || got["keys"] != "setup" {
		t.Fatalf("figures %s", stdout.String())
	}
	if err := Prove(context.Background(), env, []string{"--records", "5", "--chunk", "3"}); err == nil {
		t.Fatal("chunk 3 accepted")
	}
}
