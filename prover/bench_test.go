package prover

import (
	"math/rand/v2"
	"testing"
)

// go test ./prover -run ^$ -bench . -benchtime 3x
// (the first run makes and caches the C64xF3 keys in testdata/keys).
func BenchmarkProveChunk(b *testing.B) {
	s := NewShape(64, 3, FullRange)
	k := testKeys(b, s)
	ds := rangedDataset(rand.New(rand.NewPCG(9, 9)), s.Chunk, s)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ProveChunk(k, ds, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Chunk*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(k.Constraints())/float64(s.Chunk), "constraints/record")
}

func BenchmarkVerifyChunk(b *testing.B) {
	k := testKeys(b, shapeSmall)
	cp, err := ProveChunk(k, rangedDataset(rand.New(rand.NewPCG(9, 9)), 4, shapeSmall), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := VerifyChunk(k.VK, cp); err != nil {
			b.Fatal(err)
		}
	}
}
