package lanes

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestScheduleSeparatesConflicts: txs in different lanes never conflict,
// every tx is scheduled once, and lanes keep block order.
func TestScheduleSeparatesConflicts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	for round := 0; round < 50; round++ {
		m := 1 + rng.IntN(200)
		acc := make([][]Access, m)
		for i := range acc {
			for k := 0; k < 1+rng.IntN(3); k++ {
				acc[i] = append(acc[i], Access{Key: fmt.Sprint(rng.IntN(60)), Write: rng.IntN(3) > 0})
			}
		}
		for _, n := range []int{1, 2, 4, 8} {
			plan := Schedule(acc, n)
			lane := make([]int, m)
			for i := range lane {
				lane[i] = -1
			}
			for l, idxs := range plan {
				for j, i := range idxs {
					if lane[i] != -1 {
						t.Fatal("tx scheduled twice")
					}
					lane[i] = l
					if j > 0 && idxs[j-1] >= i {
						t.Fatal("lane out of block order")
					}
				}
			}
			for i := 0; i < m; i++ {
				if lane[i] == -1 {
					t.Fatal("tx not scheduled")
				}
				for j := i + 1; j < m; j++ {
					if lane[i] != lane[j] && conflict(acc[i], acc[j]) {
						t.Fatalf("txs %d and %d conflict across lanes", i, j)
					}
				}
			}
			if len(plan) > n {
				t.Fatalf("%d lanes for n=%d", len(plan), n)
			}
		}
	}
}

func conflict(a, b []Access) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Key == y.Key && (x.Write || y.Write) {
				return true
			}
		}
	}
	return false
}
