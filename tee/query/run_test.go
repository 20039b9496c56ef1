package query

import (
	"errors"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

func mustRun(t *testing.T, ds *records.Dataset, p Policy, text string) *Result {
	t.Helper()
	q, err := Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	r, err := q.Run(ds, p)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return r
}

// seq is a dataset of n records (i, i mod m) for i in [0, n).
func seq(n, m int) *records.Dataset {
	ds := &records.Dataset{Fields: []string{"i", "m"}}
	for i := range n {
		ds.Records = append(ds.Records, []int64{int64(i), int64(i % m)})
	}
	return ds
}

func TestWhereOperators(t *testing.T) {
	t.Parallel()
	ds := seq(100, 7)
	for _, c := range []struct {
		where string
		count string
	}{
		{"i = 50 OR i = 51 OR m = 3", "16"}, // 14 with m = 3, plus 50 and 51 (m = 1, 2)
		{"i != 3", "99"},
		{"i < 20", "20"},
		{"i <= 20", "21"},
		{"i > 79", "20"},
		{"i >= 79", "21"},
		{"79 <= i", "21"},
		{"i >= 10 AND i < 30", "20"},
		{"NOT i >= 10", "10"},
		{"m IN (0, 1)", "30"},
		{"m NOT IN (0, 1)", "70"},
		{"m IN (0, 1, 9000000000000000000)", "30"}, // a map: the values are far apart
		{"m IN (-9223372036854775808, 6, 9223372036854775807)", "14"}, // a map, at the extremes
		{"m IN (-1, 6, 60000)", "14"},                                 // a bitset from a negative low end
		{"m IN (6, 5, 6)", "28"},
		{"i BETWEEN 10 AND 29", "20"},
		{"i NOT BETWEEN 10 AND 89", "20"},
		{"i BETWEEN m AND 20", "21"},
		{"m = i", "7"},
		{"i > m", "93"},
		{"1 = 1", "100"},
		{"1 = 2 OR i < 10", "10"},
		{"NOT (i < 10 OR i >= 20) AND m != 0", "9"},
	} {
		r := mustRun(t, ds, Policy{MinGroupSize: 5}, "SELECT count(*) WHERE "+c.where)
		if len(r.Rows) != 1 || r.Rows[0][0] != c.count {
			t.Errorf("WHERE %s: got %v, want count %s", c.where, r.Rows, c.count)
		}
	}
}

func TestPrivacyFloor(t *testing.T) {
	t.Parallel()
	ds := seq(95, 10) // groups m = 0…4 have 10 records, m = 5…9 have 9
	r := mustRun(t, ds, Policy{}, "SELECT m, count(*), min(i), max(i) GROUP BY m")
	if len(r.Rows) != 5 || r.SuppressedGroups != 5 || r.Rows[4][0] != "4" || r.Rows[0][1] != "10" {
		t.Fatalf("default floor 10: %+v", r)
	}
	r = mustRun(t, ds, Policy{MinGroupSize: 9}, "SELECT m, count(*) GROUP BY m")
	if len(r.Rows) != 10 || r.SuppressedGroups != 0 {
		t.Fatalf("floor 9: %+v", r)
	}
	// a WHERE that leaves fewer records than the floor: no rows, and it says so
	r = mustRun(t, ds, Policy{}, "SELECT min(i), max(i) WHERE i < 9")
	if len(r.Rows) != 0 || !r.BelowFloor || r.SuppressedGroups != 0 || r.Refusal(Policy{}) == nil {
		t.Fatalf("WHERE below floor: %+v", r)
	}
	if r = mustRun(t, ds, Policy{}, "SELECT min(i) WHERE i < 10"); len(r.Rows) != 1 || r.BelowFloor || r.Refusal(Policy{}) != nil {
		t.Fatalf("WHERE at the floor: %+v", r)
	}
	// a single record can never be picked out, however the query is shaped
	for _, text := range []string{
		"SELECT max(i) WHERE i = 42",
		"SELECT count(*) WHERE i BETWEEN 42 AND 42",
		"SELECT i, count(*) GROUP BY i", // a near-unique column: every group suppressed
		"SELECT i, m, count(*) GROUP BY i, m",
	} {
		r := mustRun(t, ds, Policy{MinGroupSize: 1}, text)
		if len(r.Rows) != 0 {
			t.Errorf("%s with floor 1 (raised to 2): rows %v", text, r.Rows)
		}
	}
	if r = mustRun(t, ds, Policy{}, "SELECT i, count(*) GROUP BY i"); r.SuppressedGroups != 95 || len(r.Rows) != 0 {
		t.Fatalf("unique column: %+v", r)
	}
	// the floor applies to the records left by WHERE, group by group
	r = mustRun(t, ds, Policy{}, "SELECT m, count(*) WHERE i >= 10 GROUP BY m")
	if len(r.Rows) != 0 || r.SuppressedGroups != 10 {
		t.Fatalf("groups shrunk by WHERE: %+v", r)
	}
	// no records at all
	if r = mustRun(t, &records.Dataset{Fields: []string{"i"}}, Policy{}, "SELECT count(*)"); !r.BelowFloor {
		t.Fatalf("empty dataset: %+v", r)
	}
}

func TestHistogramEdges(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"v"}}
	add := func(v int64, n int) {
		for range n {
			ds.Records = append(ds.Records, []int64{v})
		}
	}
	add(-1, 10)  // below lo: not counted
	add(0, 10)   // lo: bucket 0
	add(24, 10)  // bucket 0 ([0, 25))
	add(25, 10)  // bucket 1
	add(99, 10)  // last bucket
	add(100, 10) // hi: not counted
	add(60, 3)   // bucket 2, below the floor: shown as 0
	r := mustRun(t, ds, Policy{}, "SELECT histogram(v, 0, 100, 4), count(*)")
	want := []string{"20", "10", "0", "10", "63"}
	if !slices.Equal(r.Rows[0], want) || r.Columns[0] != "histogram(v, 0, 100, 4)[0]" || r.Columns[3] != "histogram(v, 0, 100, 4)[3]" {
		t.Fatalf("got %v %v, want %v", r.Columns, r.Rows, want)
	}
	// the whole int64 range in 3 uneven buckets: exact 128-bit bucket index
	ds = &records.Dataset{Fields: []string{"v"}}
	add(math.MinInt64, 10)
	add(math.MaxInt64-1, 10)
	add(math.MaxInt64, 10)        // == hi: not counted
	add(-3074457345618258603, 10) // (hi-lo)/3 above lo, rounded up: bucket 1
	r = mustRun(t, ds, Policy{}, "SELECT histogram(v, -9223372036854775808, 9223372036854775807, 3)")
	if !slices.Equal(r.Rows[0], []string{"10", "10", "10"}) {
		t.Fatalf("whole range: %v", r.Rows)
	}
}

func TestExtremes(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"g", "v"}}
	for range 20 {
		ds.Records = append(ds.Records, []int64{0, math.MaxInt64}, []int64{1, math.MinInt64})
	}
	for range 10 {
		ds.Records = append(ds.Records, []int64{2, math.MaxInt64}, []int64{2, math.MinInt64})
	}
	r := mustRun(t, ds, Policy{}, "SELECT g, sum(v), avg(v), min(v), max(v), stddev(v) GROUP BY g")
	want := [][]string{
		{"0", "184467440737095516140", "9223372036854775807.000000", "9223372036854775807", "9223372036854775807", "0.000000"},
		{"1", "-184467440737095516160", "-9223372036854775808.000000", "-9223372036854775808", "-9223372036854775808", "0.000000"},
		{"2", "-10", "-0.500000", "-9223372036854775808", "9223372036854775807", "9223372036854775807.500000"},
	}
	if !slices.EqualFunc(r.Rows, want, slices.Equal) {
		t.Fatalf("got  %v\nwant %v", r.Rows, want)
	}
}

func TestRounding(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"v"}}
	for _, v := range []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, -1} {
		ds.Records = append(ds.Records, []int64{v})
	}
	// avg = 12/14 = 0.857142857… → 0.857143
	r := mustRun(t, ds, Policy{}, "SELECT avg(v), sum(v)")
	if r.Rows[0][0] != "0.857143" || r.Rows[0][1] != "12" {
		t.Fatalf("got %v", r.Rows)
	}
	// population standard deviation: {0, 2}×10 → 1; {0, 1, 2}×10 → √(2/3) = 0.8164965…
	ds = seq(20, 2)
	if r := mustRun(t, ds, Policy{}, "SELECT stddev(m)"); r.Rows[0][0] != "0.500000" {
		t.Errorf("stddev of {0, 1}×10: %v", r.Rows)
	}
	ds = seq(30, 3)
	if r := mustRun(t, ds, Policy{}, "SELECT stddev(m)"); r.Rows[0][0] != "0.816497" {
		t.Errorf("stddev of {0, 1, 2}×10: %v", r.Rows)
	}
	for _, c := range []struct {
		vals []int64
		avg  string
	}{
		{[]int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "0.062500"},
		{[]int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "0.000000"},
	} {
		ds := &records.Dataset{Fields: []string{"v"}}
		for _, v := range c.vals {
			ds.Records = append(ds.Records, []int64{v})
		}
		if r := mustRun(t, ds, Policy{}, "SELECT avg(v)"); r.Rows[0][0] != c.avg {
			t.Errorf("avg of %d values: %v, want %s", len(c.vals), r.Rows, c.avg)
		}
	}
}

func TestRoundHalfAwayFromZero(t *testing.T) {
	t.Parallel()
	// (x/2)·10^−6 sits exactly on a half of the last place when x is odd
	for _, c := range []struct {
		x    int64
		want string
	}{{1, "0.000001"}, {-1, "-0.000001"}, {3, "0.000002"}, {-3, "-0.000002"}, {0, "0.000000"}} {
		if got := decimal(roundDiv(bigInt(c.x), bigInt(2))); got != c.want {
			t.Errorf("%d/2e6 = %s, want %s", c.x, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	fields := []string{"age", "income", "zip"}
	for _, c := range []struct {
		text string
		p    Policy
		pos  int
		kind Kind
		msg  string
	}{
		{"SELECT sum(wage)", Policy{}, 7, KindColumn, "the dataset has no column wage"},
		{"SELECT count(*) WHERE salary > 3", Policy{}, 22, KindColumn, "no column salary"},
		{"SELECT count(*) WHERE age BETWEEN 1 AND bonus", Policy{}, 40, KindColumn, "no column bonus"},
		{"SELECT count(*) GROUP BY city", Policy{}, 25, KindColumn, "no column city"},
		{"SELECT min(age)", Policy{Allowed: []string{"count", "avg"}}, 7, KindPolicy, "does not allow min"},
		{"SELECT avg(zip)", Policy{Columns: []string{"age", "income"}}, 7, KindPolicy, "does not allow queries on column zip"},
		{"SELECT count(*) WHERE zip = 1", Policy{Columns: []string{"age"}}, 22, KindPolicy, "column zip"},
		{"SELECT count(*)", Policy{Allowed: []string{"median"}}, 0, KindPolicy, "unknown aggregate \"median\""},
	} {
		q, err := Parse(c.text)
		if err != nil {
			t.Fatal(err)
		}
		err = q.Check(fields, c.p)
		var qe *Error
		if !errors.As(err, &qe) || qe.Pos != c.pos || qe.Kind != c.kind || !strings.Contains(qe.Msg, c.msg) {
			t.Errorf("%s: got %v, want at %d %q", c.text, err, c.pos, c.msg)
		}
		if _, err := q.Run(&records.Dataset{Fields: fields}, c.p); err == nil {
			t.Errorf("%s: Run does not check", c.text)
		}
	}
	q, _ := Parse("SELECT zip, count(*), avg(age) WHERE income > 0 GROUP BY zip")
	if err := q.Check(fields, Policy{Allowed: []string{"count", "avg"}, Columns: fields}); err != nil {
		t.Fatalf("allowed query refused: %v", err)
	}
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }

func TestRunRefusals(t *testing.T) {
	t.Parallel()
	ds := seq(20_000, 1)
	for i, r := range ds.Records {
		r[1] = int64(i / 2) // 10,000 groups of 2
	}
	q, _ := Parse("SELECT m, histogram(i, 0, 20000, 20) GROUP BY m")
	_, err := q.Run(ds, Policy{MinGroupSize: 2})
	var qe *Error
	if !errors.As(err, &qe) || qe.Kind != KindTooLarge || qe.Code().Name() != "query_too_large" || !strings.Contains(qe.Msg, "10000 rows of 21 columns") {
		t.Fatalf("oversized result: %v", err)
	}
	if r, err := q.Run(ds, Policy{MinGroupSize: 3}); err != nil || len(r.Rows) != 0 || r.SuppressedGroups != 10_000 {
		t.Fatalf("the same query with every group suppressed is small: %v %v", r, err)
	}
	q, _ = Parse("SELECT count(*)")
	if _, err := q.Run(&records.Dataset{Fields: []string{"a", "b"}, Records: [][]int64{{1, 2}, {3}}}, Policy{}); err == nil || !strings.Contains(err.Error(), "record 1 has 1 values for 2 fields") {
		t.Fatalf("ragged dataset: %v", err)
	}
	q, _ = Parse("SELECT sum(a)")
	if err := q.Check([]string{"a", "b", "a"}, Policy{}); !errors.As(err, &qe) || qe.Kind != KindColumn || !strings.Contains(qe.Msg, "2 columns named a") {
		t.Fatalf("ambiguous column: %v", err)
	}
}

// No refusal quotes a value of the dataset, nor its field names (which are
// the first record when a file has no header).
func TestErrorsNeverQuoteTheDataset(t *testing.T) {
	t.Parallel()
	ds := &records.Dataset{Fields: []string{"31337", "271828"}}
	for range 20 {
		ds.Records = append(ds.Records, []int64{424242, 777777})
	}
	for _, text := range []string{"SELECT sum(x)", `SELECT avg("31337") GROUP BY nope`, "SELECT count(*) WHERE y = 1"} {
		q, err := Parse(text)
		if err == nil {
			_, err = q.Run(ds, Policy{Columns: []string{"31337"}}) // the policy is the owner's, and public
		}
		if err == nil {
			t.Fatalf("%s: no refusal", text)
		}
		for _, secret := range []string{"424242", "777777", "271828"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: %q quotes %s", text, err, secret)
			}
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	good := Policy{MinGroupSize: 5, Allowed: []string{"count", "avg"}, Columns: []string{"a", "b"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good policy: %v", err)
	}
	for _, p := range []Policy{
		{MinGroupSize: -1},
		{Allowed: []string{"count", "median"}},
		{Allowed: []string{"sum", "sum"}},
		{Columns: []string{"a", "a"}},
		{Columns: []string{""}},
		{Columns: make([]string, MaxPolicyColumns+1)},
	} {
		var qe *Error
		if err := p.Validate(); !errors.As(err, &qe) || qe.Kind != KindPolicy {
			t.Errorf("%+v: %v", p, err)
		}
		q, _ := Parse("SELECT count(*)")
		if q.Check([]string{"a"}, p) == nil {
			t.Errorf("%+v: Check runs under a bad policy", p)
		}
	}
}
