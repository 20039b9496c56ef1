package facts

import (
	"reflect"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/vsc-labs/vsc/internal/records"
)

// Stream, fed blocks of records with their leaves, gives Compute's facts:
// duplicates, invalid values and sums alike.
func TestStreamMatchesCompute(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"a", "b", "c", "d", "e"}}
	for i := range 3000 {
		r := []int64{int64(i % 50), int64(i % 5), -int64(i % 25), 7, int64(i % 10)}
		if i%97 == 0 {
			r[3] = 1 << 60 // invalid
		}
		ds.Records = append(ds.Records, r)
	}
	want, err := Compute(ds, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	st := NewStream(ds.Fields, DefaultParams, ds.Len())
	c := records.NewCommitter(len(ds.Fields))
	c.OnBlock(func(recs [][]int64, leaves []fr.Element) error { return st.Add(recs, leaves) })
	for lo := 0; lo < ds.Len(); lo += 1000 {
		if err := c.Add(ds.Records[lo : lo+1000]); err != nil {
			t.Fatal(err)
		}
	}
	if c.Commitment() != records.Commitment(ds) || c.Err() != nil {
		t.Fatalf("commitment differs, or %v", c.Err())
	}
	if got := st.Facts(); !reflect.DeepEqual(got, want) || got.Duplicates == 0 || got.Invalid == 0 {
		t.Fatalf("stream facts %+v, Compute's %+v", got, want)
	}
}
