package facts

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

func TestCompute(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{
		Fields: []string{"a", "b"},
		Records: [][]int64{
			{1, 2},
			{1, 2},              // duplicate
			{1 << 60, -3},       // invalid (a too large)
			{1 << 60, -3},       // invalid and duplicate
			{-7, math.MaxInt64}, // invalid
			{0, 0},              // clean
		},
	}
	f, err := Compute(ds, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if f.Records != 6 || f.Duplicates != 2 || f.Invalid != 3 || f.Clean != 2 {
		t.Fatalf("counts %+v", f)
	}
	if f.Quality != 3333 {
		t.Fatalf("quality %d, want ⌊10000·2/6⌋ = 3333", f.Quality)
	}
	wantSumA := new(big.Int).Lsh(big.NewInt(1), 61)
	wantSumA.Add(wantSumA, big.NewInt(1+1-7))
	if f.Sum[0].String() != wantSumA.String() {
		t.Fatalf("sum a = %s, want %s", f.Sum[0], wantSumA)
	}
	if f.Min[0] != -7 || f.Max[0] != 1<<60 || f.Min[1] != -3 || f.Max[1] != math.MaxInt64 {
		t.Fatalf("min/max %+v %+v", f.Min, f.Max)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestStepEqualsCompute: folding the pure Step over the records gives the
// same final state, and so the same digest, as Compute; every intermediate
// Step leaves its input untouched.
func TestStepEqualsCompute(t *testing.T) {
	t.Parallel()
	for _, width := range []int{1, 4, 5, 16} {
		r := rand.New(rand.NewPCG(uint64(width), 9))
		fields := make([]string, width)
		for i := range fields {
			fields[i] = string(rune('a' + i))
		}
		ds := &records.Dataset{Fields: fields}
		for range 500 {
			rec := make([]int64, width)
			for i := range rec {
				rec[i] = int64(r.Uint64()) >> r.IntN(64) // all magnitudes, both signs
				if r.IntN(3) == 0 {
					rec[i] = int64(r.IntN(3))
				}
			}
			ds.Records = append(ds.Records, rec)
		}
		f, err := Compute(ds, DefaultParams)
		if err != nil {
			t.Fatal(err)
		}
		s := New(fields, DefaultParams)
		seen := map[string]bool{}
		for _, rec := range ds.Records {
			b, _ := json.Marshal(rec)
			prev := s.Digest()
			next, err := Step(s, rec, seen[string(b)])
			if err != nil {
				t.Fatal(err)
			}
			if s.Digest() != prev {
				t.Fatal("Step changed its input")
			}
			seen[string(b)] = true
			s = next
		}
		if s.Digest() != f.Digest() {
			t.Fatalf("width %d: Step fold digest differs from Compute", width)
		}
		if err := f.Validate(); err != nil {
			t.Fatal(err)
		}
		// sums agree with big-integer arithmetic
		for i := range fields {
			want := new(big.Int)
			for _, rec := range ds.Records {
				want.Add(want, big.NewInt(rec[i]))
			}
			if f.Sum[i].String() != want.String() {
				t.Fatalf("sum %d: %s, want %s", i, f.Sum[i], want)
			}
		}
	}
}

func TestStepWidth(t *testing.T) {
	t.Parallel()
	if _, err := Step(New([]string{"a"}, DefaultParams), []int64{1, 2}, false); !errors.Is(err, ErrWidth) {
		t.Fatalf("err %v", err)
	}
	bad := New([]string{"a", "b"}, DefaultParams)
	bad.Sum = bad.Sum[:1] // a malformed state from outside input
	if _, err := Step(bad, []int64{1, 2}, false); !errors.Is(err, ErrWidth) {
		t.Fatalf("malformed state: err %v", err)
	}
}

func TestFactsJSON(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"x"}, Records: [][]int64{{math.MinInt64}, {math.MinInt64}, {5}}}
	f, _ := Compute(ds, Params{Lo: -10, Hi: 10})
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g Facts
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) || f.Digest() != g.Digest() {
		t.Fatalf("round trip %s", raw)
	}
	if f.Sum[0].String() != "-18446744073709551611" {
		t.Fatalf("sum %s", f.Sum[0])
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	base := func() Facts {
		f, _ := Compute(&records.Dataset{Fields: []string{"x"}, Records: [][]int64{{1}, {1}, {2}}}, DefaultParams)
		return f
	}
	for name, mutate := range map[string]func(*Facts){
		"quality":       func(f *Facts) { f.Quality = 10000 },
		"no fields":     func(f *Facts) { f.Fields = nil },
		"short sum":     func(f *Facts) { f.Sum = nil },
		"min > max":     func(f *Facts) { f.Min[0] = 9 },
		"too clean":     func(f *Facts) { f.Clean = 3; f.Quality = 10000 },
		"no records":    func(f *Facts) { f.Records = 0 },
		"all dups":      func(f *Facts) { f.Duplicates = 3 },
		"bad params":    func(f *Facts) { f.Params.Lo = 1; f.Params.Hi = 0 },
		"bad too small": func(f *Facts) { f.Clean = 0; f.Quality = 0 },
	} {
		f := base()
		mutate(&f)
		if err := f.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	if f := base(); f.Validate() != nil {
		t.Fatal(f.Validate())
	}
}

func TestInt128(t *testing.T) {
	t.Parallel()
	var x Int128
	x.Add64(math.MinInt64)
	x.Add64(math.MinInt64)
	x.Add64(-1)
	want := new(big.Int).Mul(big.NewInt(math.MinInt64), big.NewInt(2))
	want.Sub(want, big.NewInt(1))
	if x.String() != want.String() {
		t.Fatalf("%s != %s", x, want)
	}
	for _, bad := range []string{`"1e3"`, `12`, `"340282366920938463463374607431768211456"`} {
		if err := json.Unmarshal([]byte(bad), &x); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzFactsJSON(f *testing.F) {
	f.Add([]byte(`{"records":3,"fields":["x"],"sum":["4"],"min":[1],"max":[2],"duplicates":1,"clean":2,"quality_bps":6666}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fa Facts
		if json.Unmarshal(raw, &fa) != nil {
			return
		}
		_ = fa.Validate()
		_ = fa.Digest()
	})
}

func BenchmarkCompute(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ds := &records.Dataset{Fields: []string{"a", "b", "c", "d"}}
	for range 100_000 {
		ds.Records = append(ds.Records, []int64{r.Int64N(100), r.Int64N(1e6), r.Int64N(10), r.Int64N(1e5)})
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compute(ds, DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(ds.Records))/b.Elapsed().Seconds(), "records/s")
}

func TestTrace(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"a", "b"}, Records: [][]int64{{1, 2}, {3, 4}, {1, 2}, {5, 1 << 60}}}
	trace, f, err := Trace(ds, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Compute(ds, DefaultParams)
	if len(trace) != 5 || trace[4] != want.Digest() || !reflect.DeepEqual(f, want) {
		t.Fatalf("trace ends at %s, facts digest %s", trace[len(trace)-1], want.Digest())
	}
	if h := Hints(ds); !reflect.DeepEqual(h, []bool{false, false, true, false}) {
		t.Fatalf("hints %v", h)
	}
	// a referee re-executes step 3 from the agreed state 2
	s := New(ds.Fields, DefaultParams)
	for i := range 2 {
		s, _ = Step(s, ds.Records[i], Hints(ds)[i])
	}
	if s.Digest() != trace[2] {
		t.Fatal("state 2 mismatch")
	}
	next, _ := Step(s, ds.Records[2], true)
	if next.Digest() != trace[3] {
		t.Fatal("step 3 mismatch")
	}
	if wrong, _ := Step(s, ds.Records[2], false); wrong.Digest() == trace[3] {
		t.Fatal("a wrong duplicate hint gives the same state")
	}
}
