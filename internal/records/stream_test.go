package records

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Scan and the Committer are Parse and Commitment in bounded memory: across
// parse blocks and commitment blocks they give the same records and the
// same commitment (blocks shrunk so small datasets cross many of them).
// Not parallel: it changes the block sizes.
func TestScanAndCommitterMatchParse(t *testing.T) {
	oldBlock, oldScan := blockDepth, scanBlock
	blockDepth, scanBlock = 3, 64
	defer func() { blockDepth, scanBlock = oldBlock, oldScan }()
	rng := rand.New(rand.NewPCG(1, 2))
	csv := func(n, f int) string {
		var b strings.Builder
		for i := range f {
			fmt.Fprintf(&b, "c%d,", i)
		}
		s := strings.TrimSuffix(b.String(), ",") + "\n\n"
		b.Reset()
		b.WriteString(s)
		for i := range n {
			for j := range f {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%d", rng.Int64N(2000)-1000)
			}
			if i%7 == 3 {
				b.WriteString("\r")
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	for _, tc := range []string{
		csv(1, 1), csv(8, 3), csv(9, 4), csv(100, 5), csv(333, 16),
		"{\"a\":1,\"b\":-2}\n\n{\"a\":3,\"b\":4}\n", "[1,2,3]\n[4,5,6]\n[7,8,9]\n",
	} {
		want, err := Parse([]byte(tc))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]int64
		c := NewCommitter(len(want.Fields))
		fields, n, err := Scan(strings.NewReader(tc), func(fields []string, recs [][]int64) error {
			for _, r := range recs {
				got = append(got, append([]int64(nil), r...))
			}
			return c.Add(recs)
		})
		if err != nil || n != want.Len() || !reflect.DeepEqual(fields, want.Fields) || !reflect.DeepEqual(got, want.Records) {
			t.Fatalf("scan of %d records: %v, %d records", want.Len(), err, n)
		}
		if c.Commitment() != Commitment(want) {
			t.Fatalf("%d records: the committer's commitment differs from Commitment", want.Len())
		}
	}
	// errors are Parse's, with the same line numbers, across blocks
	bad := csv(50, 2) + "1,x\n"
	_, perr := Parse([]byte(bad))
	_, _, serr := Scan(strings.NewReader(bad), func([]string, [][]int64) error { return nil })
	if perr == nil || serr == nil || perr.Error() != serr.Error() || !errors.Is(serr, ErrInvalid) {
		t.Fatalf("parse error %v, scan error %v", perr, serr)
	}
	for _, empty := range []string{"", "a,b\n", "\n\n"} {
		if _, _, err := Scan(strings.NewReader(empty), func([]string, [][]int64) error { return nil }); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: %v", empty, err)
		}
	}
	if _, _, err := Scan(bytes.NewReader(bytes.Repeat([]byte{'1'}, MaxLineBytes+10)), func([]string, [][]int64) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an over-long line: %v", err)
	}
}
