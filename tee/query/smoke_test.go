package query

import (
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

func TestSmoke(t *testing.T) {
	ds := &records.Dataset{Fields: []string{"a", "b"}}
	for i := range 100 {
		ds.Records = append(ds.Records, []int64{int64(i % 3), int64(i)})
	}
	q, err := Parse("select a, count(*), sum(b), avg(b), stddev(b), min(b), max(b), histogram(b, 0, 100, 4) where b >= 10 and not b in (11, 12) group by a")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(q.String())
	r, err := q.Run(ds, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %s", r, r.Hash())
}
