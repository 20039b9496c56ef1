package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// Each `vscd bench … --json` prints one JSON object with the keys the
// user-facing contract names (run here on tiny loads: this checks the
// figures' shape, not their values).
func TestBenchJSONKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		keys []string
		want map[string]float64 // figures that are exact
	}{
		{[]string{"bench", "intake", "--submissions", "4", "--clients", "2", "--size", "256", "--json"},
			[]string{"submissions", "seconds", "per_second", "p50_ms", "p99_ms"}, map[string]float64{"submissions": 4}},
		{[]string{"bench", "chain", "--txs", "200", "--block-size", "100", "--json"},
			[]string{"txs", "lanes", "conflict", "seconds", "tps", "state_root"}, map[string]float64{"txs": 200}},
		{[]string{"bench", "e2e", "--submissions", "2", "--clients", "2", "--records", "4", "--zk-chunk", fmt.Sprint(testZKChunk), "--zk-keys", zkKeysDir, "--json=true"},
			[]string{"submissions", "mode", "seconds", "per_second", "p50_ms", "p99_ms", "minted"}, map[string]float64{"submissions": 2, "minted": 2}},
	} {
		t.Run(c.args[1], func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			if code := run(context.Background(), testEnv(&out, &errb), c.args); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("stdout %q: %v", out.String(), err)
			}
			for _, k := range c.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("no %q in %s", k, out.String())
				}
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
