package records

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		fields  []string
		records [][]int64
		err     string
	}{
		{"csv", "a,b\n1,2\n-3,4\n", []string{"a", "b"}, [][]int64{{1, 2}, {-3, 4}}, ""},
		{"csv crlf blank", "a , \"b\"\r\n1, 2\r\n\r\n3,4", []string{"a", "b"}, [][]int64{{1, 2}, {3, 4}}, ""},
		{"jsonl objects", `{"x":1,"y":-2}` + "\n" + `{"x":3,"y":4}`, []string{"x", "y"}, [][]int64{{1, -2}, {3, 4}}, ""},
		{"jsonl arrays", "[1,2,3]\n[4,5,6]\n", []string{"f0", "f1", "f2"}, [][]int64{{1, 2, 3}, {4, 5, 6}}, ""},
		{"int64 bounds", "a\n9223372036854775807\n-9223372036854775808\n", []string{"a"}, [][]int64{{1<<63 - 1}, {-1 << 63}}, ""},
		{"empty", "  \n", nil, nil, "empty"},
		{"header only", "a,b\n", nil, nil, "no records"},
		{"non numeric", "a,b\n1,x\n", nil, nil, `line 2, column 2: the value is not an integer`},
		{"decimal", "a\n1.5\n", nil, nil, "not an integer"},
		{"overflow", "a\n9223372036854775808\n", nil, nil, "not an integer"},
		{"short row", "a,b\n1\n", nil, nil, "1 values"},
		{"long row", "a,b\n1,2,3\n", nil, nil, "more values"},
		{"jsonl string", `{"a":"1"}`, nil, nil, "not a number"},
		{"jsonl float", `{"a":1.5}`, nil, nil, "not an int64"},
		{"jsonl key mismatch", "{\"a\":1}\n{\"b\":1}", nil, nil, `line 2: field 1 has another name than in the first record`},
		{"too many fields", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n", nil, nil, "at most 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Parse([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ds.Fields) != fmt.Sprint(tt.fields) || fmt.Sprint(ds.Records) != fmt.Sprint(tt.records) {
				t.Fatalf("got %v %v, want %v %v", ds.Fields, ds.Records, tt.fields, tt.records)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte("[1,2]\n[3"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if uint64(ds.Len()) > MaxInPlaintext(int64(len(in))) {
			t.Fatalf("%d records from %d bytes: MaxInPlaintext says at most %d", ds.Len(), len(in), MaxInPlaintext(int64(len(in))))
		}
		for _, r := range ds.Records {
			if len(r) != len(ds.Fields) {
				t.Fatalf("ragged record %v for fields %v", r, ds.Fields)
			}
		}
	})
}

func randomDataset(rng *rand.Rand, n, f int) *Dataset {
	ds := &Dataset{Fields: make([]string, f)}
	for i := 0; i < n; i++ {
		r := make([]int64, f)
		for j := range r {
			r[j] = rng.Int64() - rng.Int64()
		}
		ds.Records = append(ds.Records, r)
	}
	return ds
}

func TestChunksRecombine(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 7, 16, 17, 100} {
		for _, c := range []int{1, 2, 4, 16, 64} {
			ds := randomDataset(rng, n, 4)
			want, tree := Commit(ds)
			roots, err := ChunkRoots(tree, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := CommitmentFromChunks(roots, n, 4, c)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("n=%d c=%d: recombined %x, want %x", n, c, got, want)
			}
			// a chunk's root is the root of a tree over just that chunk's records, extended.
			last := (n - 1) / c
			sub := NewTree(Leaves(ds.Records[last*c:]))
			r := sub.Levels[len(sub.Levels)-1][0]
			for k := len(sub.Levels) - 1; (1 << k) < c; k++ {
				r = Compress(&r, &zeroRoot[k])
			}
			if r != roots[last] {
				t.Fatalf("n=%d c=%d: last chunk root differs from an independent subtree", n, c)
			}
			if len(roots) > 1 {
				roots[0], roots[1] = roots[1], roots[0]
				if bad, _ := CommitmentFromChunks(roots, n, 4, c); bad == want {
					t.Fatalf("n=%d c=%d: swapped chunks still recombine", n, c)
				}
			}
			if _, err := CommitmentFromChunks(roots[:len(roots)-1], n, 4, c); !errors.Is(err, ErrChunks) {
				t.Fatalf("missing chunk: err = %v", err)
			}
		}
	}
}

func TestMerklePath(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	ds := randomDataset(rng, 37, 5)
	tree := NewTree(Leaves(ds.Records))
	root := tree.Root()
	for _, i := range []int{0, 1, 17, 36} {
		path := tree.Proof(i)
		got, err := RootFromPath(LeafHash(ds.Records[i]), uint64(i), path)
		if err != nil || got != root {
			t.Fatalf("leaf %d: path does not verify (%v)", i, err)
		}
		if got, _ := RootFromPath(LeafHash(ds.Records[i]), uint64(i+1), path); got == root {
			t.Fatalf("leaf %d verifies at the wrong index", i)
		}
		bad := append([]fr.Element(nil), path...)
		bad[3].SetUint64(7)
		if got, _ := RootFromPath(LeafHash(ds.Records[i]), uint64(i), bad); got == root {
			t.Fatalf("leaf %d verifies with a changed sibling", i)
		}
	}
}

func TestCommitmentBindsShape(t *testing.T) {
	t.Parallel()
	a := &Dataset{Fields: []string{"a", "b", "c", "d"}, Records: [][]int64{{1, 2, 3, 4}}}
	b := &Dataset{Fields: []string{"a", "b", "c", "d"}, Records: [][]int64{{1, 2, 3, 5}}}
	c := &Dataset{Fields: []string{"a", "b", "c", "d"}, Records: [][]int64{{1, 2, 3, 4}, {0, 0, 0, 0}}}
	if Commitment(a) == Commitment(b) || Commitment(a) == Commitment(c) {
		t.Fatal("different datasets share a commitment")
	}
	if FieldValue(-1<<63) != 0 || FieldValue(1<<63-1) != 1<<64-1 || ValueOf(FieldValue(-5)) != -5 {
		t.Fatal("field mapping is wrong")
	}
}

func BenchmarkCommit4Fields(b *testing.B) {
	ds := randomDataset(rand.New(rand.NewPCG(5, 6)), 10000, 4)
	b.ResetTimer()
	for b.Loop() {
		Commitment(ds)
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "records/s")
}

// refParseCSV is the plain reference for CSV parsing: the fast path in
// parseCSV must agree with it on every input.
func refParseCSV(data []byte) ([][]int64, bool) {
	var fields int
	var out [][]int64
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if fields == 0 {
			fields = len(strings.Split(line, ","))
			continue
		}
		cells := strings.Split(line, ",")
		if len(cells) != fields {
			return nil, false
		}
		rec := make([]int64, fields)
		for i, c := range cells {
			v, err := strconv.ParseInt(strings.TrimSpace(c), 10, 64)
			if err != nil {
				return nil, false
			}
			rec[i] = v
		}
		out = append(out, rec)
	}
	return out, len(out) > 0
}

func FuzzParseCSVMatchesReference(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n-3,4\r\n\n 5 ,6\n"))
	f.Add([]byte("a\n-9223372036854775808\n9223372036854775807\n"))
	f.Add([]byte("a,b\n1,2,\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || in[0] == '{' || in[0] == '[' || strings.ContainsAny(string(in), "\"\ufeff") {
			return
		}
		trimmed := strings.TrimLeft(string(in), " \t\r\n")
		if trimmed == "" || trimmed[0] == '{' || trimmed[0] == '[' {
			return
		}
		header := strings.SplitN(trimmed, "\n", 2)[0]
		for _, name := range strings.Split(strings.TrimRight(header, "\r"), ",") {
			if strings.TrimSpace(name) == "" {
				return // header errors are covered by TestParse
			}
		}
		if len(strings.Split(header, ",")) > MaxFields {
			return
		}
		want, ok := refParseCSV(in)
		ds, err := Parse(in)
		if (err == nil) != ok {
			t.Fatalf("Parse err=%v, reference ok=%v for %q", err, ok, in)
		}
		if ok && fmt.Sprint(ds.Records) != fmt.Sprint(want) {
			t.Fatalf("Parse %v, reference %v for %q", ds.Records, want, in)
		}
	})
}

// secretCell is a value no error message may quote: each parse error path
// is fed a dataset holding it where the error is.
const secretCell = "7731955026"

func TestParseErrorsNeverQuoteValues(t *testing.T) {
	t.Parallel()
	s := secretCell
	for name, in := range map[string]string{
		"csv text cell":       "a,b\n1,x" + s + "\n",
		"csv decimal":         "a,b\n1," + s + ".5\n",
		"csv overflow":        "a\n" + s + s + s + "\n",
		"csv cell with comma": "a,b\n1,2," + s + "\n",
		"csv short row":       "a,b\n" + s + "\n",
		"jsonl string":        `{"a":"` + s + `"}`,
		"jsonl float":         `{"a":` + s + `.5}`,
		"jsonl overflow":      `[` + s + s + s + `]`,
		"jsonl bad syntax":    `{"a":1` + s + `x}`,
		"jsonl bad key":       "{\"a\":1}\n{\"" + s + "\":1}",
		"jsonl key value":     "{\"a\":1}\n{\"a\":\"" + s + "\"}",
		"jsonl truncated":     `[1,` + s,
		"jsonl two values":    `[1] [` + s + `]`,
		"jsonl scalar":        s + "\n[1]",
		"csv no header":       s + ",1\n2,x\n",
		"csv header cell":     "a," + s + "\n1,x\n",
		"jsonl bare word":     `[x` + s + `]`,
		"jsonl array string":  `["` + s + `"]`,
		"jsonl nested":        `[[` + s + `]]`,
		"jsonl object string": `{"a":{"b":` + s + `}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(in))
			if err == nil {
				t.Fatalf("%q parsed", in)
			}
			if strings.Contains(err.Error(), s) {
				t.Fatalf("the error quotes the value: %v", err)
			}
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "empty") {
				t.Fatalf("the error does not name the line: %v", err)
			}
		})
	}
}

// TestMaxInPlaintext: the smallest dataset of k records is exactly
// 2k+1 bytes, and no parsed dataset holds more records than its size allows.
func TestMaxInPlaintext(t *testing.T) {
	t.Parallel()
	for _, k := range []int{1, 2, 3, 10, 1000} {
		in := "a\n" + strings.TrimSuffix(strings.Repeat("0\n", k), "\n")
		ds, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if ds.Len() != k || MaxInPlaintext(int64(len(in))) != uint64(k) {
			t.Fatalf("k=%d: %d records in %d bytes, MaxInPlaintext says %d", k, ds.Len(), len(in), MaxInPlaintext(int64(len(in))))
		}
	}
	for _, n := range []int64{-1, 0, 1, 2} {
		if MaxInPlaintext(n) != 0 {
			t.Fatalf("MaxInPlaintext(%d) = %d, want 0", n, MaxInPlaintext(n))
		}
	}
}

// FuzzParseNeverQuotes: whatever the file and wherever a distinctive token
// sits in it (a cell, a header, a JSON key or value), no parse error
// quotes it.
func FuzzParseNeverQuotes(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"), uint16(6))
	f.Add([]byte("a,b\n1,2\n"), uint16(2))
	f.Add([]byte(`{"a":1}`+"\n"+`{"a":2}`), uint16(12))
	f.Add([]byte(`[1,2]`), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, pos uint16) {
		const token = "QX7ZK3W"
		p := int(pos) % (len(in) + 1)
		data := append(append(append([]byte(nil), in[:p]...), token...), in[p:]...)
		if bytes.Contains(in, []byte(token[:3])) {
			return // the token must be the only one of its kind
		}
		if _, err := Parse(data); err != nil && strings.Contains(err.Error(), token[:3]) {
			t.Fatalf("the error quotes the file: %v", err)
		}
	})
}

// BenchmarkParseCSV parses a 100,000-record, 4-field CSV (the fast path).
func BenchmarkParseCSV(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("t,temp,hum,wind\n")
	for i := range 100_000 {
		fmt.Fprintf(&buf, "%d,%d,%d,%d\n", i, i%4000-1000, i%100, i%300)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
