package optimistic

import (
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// A step proof is outside input: any bytes, values and paths are refused or
// judged, never a panic.
func FuzzCheckStep(f *testing.F) {
	rng := rand.New(rand.NewPCG(31, 32))
	ds := randDataset(rng, 20, 3, 0.3)
	ds.Records[15] = append([]int64(nil), ds.Records[2]...)
	k := honest(f, ds)
	p, _ := k.StepProof(16)
	f.Add(p.Prev, p.Record[0], p.Path[0][:], p.DupIndex, true, uint64(16))
	f.Fuzz(func(t *testing.T, prev []byte, v int64, sib []byte, dupIndex uint64, dup bool, i uint64) {
		q := *p
		q.Prev = prev
		q.Record = append([]int64{v}, p.Record[1:]...)
		q.Path = append([]common.Hash{common.BytesToHash(sib)}, p.Path[1:]...)
		q.Dup, q.DupIndex = dup, dupIndex
		res, err := CheckStep(k.Commitment, k.Trace.N(), i, k.Trace.Hashes[15], &q)
		if err != nil || i != 16 {
			return
		}
		// Accepted: the true state is one of the two outcomes, and a shown
		// duplicate is a real one (record 16 repeats record 3).
		truth := k.Trace.Hashes[16]
		if (res.NoDup != truth && res.Dup != truth) || (res.DupShown && res.Dup != truth) {
			t.Fatalf("an accepted proof of step 16 judges %+v, the true state is %s", res, truth)
		}
	})
}
