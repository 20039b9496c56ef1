package bench

import (
	"context"
	"fmt"
	"testing"
)

// TestSameRootForEveryLaneCount: the same seed gives the same state root
// for every lane count, as CONTRACT.md promises for `vscd bench chain`.
func TestSameRootForEveryLaneCount(t *testing.T) {
	t.Parallel()
	var root string
	for _, lanes := range []int{1, 2, 4} {
		r, err := Run(context.Background(), Params{Txs: 600, Lanes: lanes, Conflict: 0.3, Seed: 3, BlockSize: 200, Senders: 150})
		if err != nil {
			t.Fatal(err)
		}
		if root == "" {
			root = r.StateRoot
		} else if r.StateRoot != root {
			t.Fatalf("lanes %d: root %s, lanes 1: %s", lanes, r.StateRoot, root)
		}
	}
}

// BenchmarkChain measures signed transfers per second through a real node
// (recovery, lanes, roots, commit). b.N is ignored beyond one run per op.
func BenchmarkChain(b *testing.B) {
	for _, c := range []struct {
		lanes    int
		conflict float64
	}{{1, 0}, {2, 0}, {1, 0.1}, {2, 0.1}} {
		b.Run(fmt.Sprintf("lanes=%d/conflict=%v", c.lanes, c.conflict), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := Run(context.Background(), Params{Txs: 20000, Lanes: c.lanes, Conflict: c.conflict, Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.TPS, "tx/s")
			}
		})
	}
}
