package query

import (
	"math/rand/v2"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

// benchDataset is n records of 4 fields: g a group key of 100 values, h of
// 10, x wide values, y small ones.
func benchDataset(n int) *records.Dataset {
	r := rand.New(rand.NewPCG(7, 7))
	ds := &records.Dataset{Fields: []string{"g", "h", "x", "y"}, Records: make([][]int64, n)}
	flat := make([]int64, 4*n)
	for i := range n {
		rec := flat[4*i : 4*i+4 : 4*i+4]
		rec[0], rec[1], rec[2], rec[3] = r.Int64N(100), r.Int64N(10), r.Int64()-r.Int64()/2, r.Int64N(1000)
		ds.Records[i] = rec
	}
	return ds
}

// BenchmarkQuery1M is the engine's target: a GROUP BY with 3 aggregates over
// 1,000,000 records of 4 fields, in process (parse, check, run).
func BenchmarkQuery1M(b *testing.B) {
	ds := benchDataset(1_000_000)
	for _, c := range []struct{ name, text string }{
		{"group", "SELECT g, count(*), sum(x), avg(y) GROUP BY g"},
		{"where-group2", "SELECT g, h, sum(x), avg(y), stddev(y) WHERE y BETWEEN 100 AND 899 AND h != 3 GROUP BY g, h"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				q, err := Parse(c.text)
				if err != nil {
					b.Fatal(err)
				}
				r, err := q.Run(ds, Policy{})
				if err != nil || len(r.Rows) == 0 {
					b.Fatalf("%v %v", r, err)
				}
			}
		})
	}
}

// BenchmarkQuerySmall is the engine's share of a small job (1,000 records):
// what the ≥ 500 jobs/s end-to-end target leaves to everything else.
func BenchmarkQuerySmall(b *testing.B) {
	ds := benchDataset(1_000)
	for b.Loop() {
		q, err := Parse("SELECT h, count(*), avg(y) WHERE y > 100 GROUP BY h")
		if err != nil {
			b.Fatal(err)
		}
		if r, err := q.Run(ds, Policy{}); err != nil || len(r.Rows) == 0 {
			b.Fatalf("%v %v", r, err)
		}
	}
}
