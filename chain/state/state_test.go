package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRootIsCanonical: the root depends only on the final key set, not on
// how writes were batched or how many workers hashed them.
func TestRootIsCanonical(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	final := map[string][]byte{}
	a := New()
	for batch := 0; batch < 20; batch++ {
		var ws []Write
		seen := map[string]bool{}
		for i := 0; i < 1+rng.IntN(300); i++ {
			k := fmt.Sprintf("k%d", rng.IntN(2000))
			if seen[k] {
				continue
			}
			seen[k] = true
			var v []byte
			if rng.IntN(5) > 0 {
				v = []byte(fmt.Sprint(rng.Int()))
				final[k] = v
			} else {
				delete(final, k)
			}
			ws = append(ws, NewWrite(k, v))
		}
		a.Commit(a.Stage(ws, 1+batch%4))
	}
	for _, workers := range []int{1, 2, 8} {
		b := Load(final, workers)
		if b.Root() != a.Root() {
			t.Fatalf("workers %d: root %x, incremental %x", workers, b.Root(), a.Root())
		}
	}
	if New().Root() != Load(map[string][]byte{}, 2).Root() {
		t.Fatal("empty roots differ")
	}
	// Every key proves its value, absent keys prove absence, and any
	// change to a proof breaks it.
	root := a.Root()
	n := 0
	for k, v := range final {
		p, r := a.Prove(k)
		if r != root {
			t.Fatal("prove root")
		}
		got, err := p.Verify(root)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("key %s: %v", k, err)
		}
		if n++; n < 20 {
			bad := *p
			bad.Value = append(bytes.Clone(p.Value), 'x')
			if _, err := bad.Verify(root); err == nil {
				t.Fatal("changed value accepted")
			}
			if len(p.Siblings) > 0 {
				bad = *p
				bad.Siblings = append(p.Siblings[:0:0], p.Siblings...)
				bad.Siblings[0][3] ^= 1
				if _, err := bad.Verify(root); err == nil {
					t.Fatal("changed sibling accepted")
				}
			}
		}
	}
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("absent%d", i)
		p, _ := a.Prove(k)
		if got, err := p.Verify(root); err != nil || got != nil {
			t.Fatalf("absent %s: %v %v", k, got, err)
		}
		p.Value = []byte("forged")
		if _, err := p.Verify(root); err == nil {
			t.Fatal("forged presence accepted")
		}
	}
}

func BenchmarkStage(b *testing.B) {
	base := map[string][]byte{}
	for i := 0; i < 200000; i++ {
		base[fmt.Sprintf("acct%d", i)] = bytes.Repeat([]byte{1}, 40)
	}
	s := Load(base, 2)
	var ws []Write
	for i := 0; i < 10000; i++ {
		ws = append(ws, NewWrite(fmt.Sprintf("acct%d", i*17), bytes.Repeat([]byte{2}, 40)))
	}
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s.Stage(ws, w)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ws)), "ns/write")
		})
	}
}
