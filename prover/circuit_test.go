package prover

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"

	"github.com/vsc-labs/vsc/internal/records"
)

func randomDataset(rng *rand.Rand, n, fields int) *records.Dataset {
	ds := &records.Dataset{Fields: make([]string, fields), Records: make([][]int64, n)}
	for f := range ds.Fields {
		ds.Fields[f] = string(rune('a' + f))
	}
	for i := range ds.Records {
		rec := make([]int64, fields)
		for f := range rec {
			switch rng.IntN(4) {
			case 0:
				rec[f] = int64(rng.Uint64())
			case 1:
				rec[f] = []int64{math.MinInt64, math.MaxInt64, 0, -1}[rng.IntN(4)]
			default:
				rec[f] = rng.Int64N(2000) - 1000
			}
		}
		ds.Records[i] = rec
	}
	return ds
}

// solved reports whether the compiled circuit of s accepts assignment a.
func solved(t *testing.T, s Shape, a *chunkCircuit) error {
	t.Helper()
	c, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	return c.ccs.IsSolved(w)
}

// The circuit's leaf and subtree hashing equal internal/records' native ones.
func TestCircuitMatchesNativeCommitment(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name          string
		n, chunk, fld int
	}{
		{"leaf F1", 1, 1, 1},
		{"leaf F5 two elements", 1, 1, 5},
		{"C4 F2 full", 8, 4, 2},
		{"C4 F3 padded", 6, 4, 3},
		{"C2 F4 one record", 1, 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := randomDataset(rng, tc.n, tc.fld)
			_, tree := records.Commit(ds)
			want, err := records.ChunkRoots(tree, tc.chunk)
			if err != nil {
				t.Fatal(err)
			}
			s := NewShape(tc.chunk, tc.fld, FullRange)
			for j := range want {
				lo, hi := j*tc.chunk, min((j+1)*tc.chunk, tc.n)
				assign, pub := assignChunk(s, ds.Records[lo:hi], j)
				if pub.Root != records.ToHash(want[j]) {
					t.Fatalf("chunk %d: native root %s, records.ChunkRoots %s", j, pub.Root, records.ToHash(want[j]))
				}
				if tc.chunk == 1 && pub.Root != records.ToHash(records.LeafHash(ds.Records[j])) {
					t.Fatalf("leaf %d differs from records.LeafHash", j)
				}
				if err := solved(t, s, assign); err != nil {
					t.Fatalf("chunk %d: circuit rejects the native witness: %v", j, err)
				}
				assign.Root = 12345
				if solved(t, s, assign) == nil {
					t.Fatalf("chunk %d: circuit accepts a wrong root", j)
				}
			}
		})
	}
}

// The circuit enforces ranges, padding and the facts.
func TestCircuitConstraints(t *testing.T) {
	t.Parallel()
	s := Shape{Chunk: 4, Ranges: []Range{UnsignedRange(8), SignedRange(4)}}
	recs := [][]int64{{0, -8}, {255, 7}, {17, 0}}
	good := func() *chunkCircuit { a, _ := assignChunk(s, recs, 3); return a }
	if err := solved(t, s, good()); err != nil {
		t.Fatalf("good witness: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(c *chunkCircuit)
	}{
		{"value above range", func(c *chunkCircuit) { c.Values[0] = records.FieldValue(256) }},
		{"value below range", func(c *chunkCircuit) { c.Values[1] = records.FieldValue(-9) }},
		{"count too high", func(c *chunkCircuit) { c.Count = 4 }},
		{"sum off by one", func(c *chunkCircuit) { c.Sums[0] = 273 }},
		{"padding with a value", func(c *chunkCircuit) { c.Values[6] = records.FieldValue(1) }},
		{"gap in active", func(c *chunkCircuit) { c.Active[1], c.Active[3] = 0, 1 }},
		{"non-boolean active", func(c *chunkCircuit) { c.Active[2] = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := good()
			tc.mutate(a)
			if solved(t, s, a) == nil {
				t.Fatal("circuit accepts it")
			}
		})
	}
}
