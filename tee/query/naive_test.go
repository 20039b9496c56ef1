package query

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

// The engine against a naive row-at-a-time interpreter in big rationals, on
// random data and random queries.

var testFields = []string{"g", "h", "x", "y", "k", "l"}

// randomDataset: g, h, k and l are small group keys, x spans the whole
// int64 range (extremes included, so sums overflow 64 bits), y is small.
func randomDataset(r *rand.Rand, n int) *records.Dataset {
	ds := &records.Dataset{Fields: testFields}
	for range n {
		x := r.Int64() - r.Int64()/2
		switch r.IntN(10) {
		case 0:
			x = math.MaxInt64
		case 1:
			x = math.MinInt64
		case 2:
			x = r.Int64N(100) - 50
		}
		ds.Records = append(ds.Records, []int64{r.Int64N(3), r.Int64N(5) - 2, x, r.Int64N(101) - 50, r.Int64N(2), r.Int64N(2) - 1})
	}
	return ds
}

func randomCol(r *rand.Rand) string { return testFields[r.IntN(len(testFields))] }

func randomOperand(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return strconv.Itoa(r.IntN(101) - 50)
	}
	return randomCol(r)
}

func randomExpr(r *rand.Rand, depth int) string {
	if depth > 2 || r.IntN(3) == 0 {
		switch r.IntN(5) {
		case 0:
			return fmt.Sprintf("%s IN (%d, %d, %d)", randomCol(r), r.IntN(7)-3, r.IntN(101)-50, r.IntN(5)-2)
		case 1:
			return fmt.Sprintf("%s NOT BETWEEN %s AND %s", randomCol(r), randomOperand(r), randomOperand(r))
		case 2:
			return fmt.Sprintf("%s BETWEEN %d AND %d", randomCol(r), r.IntN(60)-40, r.IntN(60)-10)
		}
		ops := []string{"=", "!=", "<", "<=", ">", ">="}
		return randomOperand(r) + " " + ops[r.IntN(len(ops))] + " " + randomOperand(r)
	}
	switch r.IntN(3) {
	case 0:
		return "NOT (" + randomExpr(r, depth+1) + ")"
	case 1:
		return "(" + randomExpr(r, depth+1) + " AND " + randomExpr(r, depth+1) + ")"
	}
	return "(" + randomExpr(r, depth+1) + " OR " + randomExpr(r, depth+1) + ")"
}

func randomQuery(r *rand.Rand) string {
	aggs := []string{"count(*)", "sum(%s)", "avg(%s)", "min(%s)", "max(%s)", "stddev(%s)", "histogram(%s, -40, 37, 7)"}
	var items []string
	keys := []string{"g", "h", "k", "l", "y"}
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	group := keys[:[]int{0, 0, 1, 1, 2, 3, 4, 5}[r.IntN(8)]] // every key width: 1, 2, 3–4, 5–8
	for _, g := range group {
		if r.IntN(2) == 0 {
			items = append(items, g)
		}
	}
	for range 1 + r.IntN(4) {
		a := aggs[r.IntN(len(aggs))]
		if strings.Contains(a, "%s") {
			a = fmt.Sprintf(a, randomCol(r))
		}
		items = append(items, a)
	}
	r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	q := "SELECT " + strings.Join(items, ", ")
	if r.IntN(4) != 0 {
		q += " WHERE " + randomExpr(r, 0)
	}
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
	}
	return q
}

func TestAgainstNaive(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	nonEmpty := 0
	for trial := range 600 {
		ds := randomDataset(r, 20+r.IntN(400))
		text := randomQuery(r)
		p := Policy{MinGroupSize: []int{0, 1, 3, 25}[r.IntN(4)]}
		q, err := Parse(text)
		if err != nil {
			t.Fatalf("trial %d: %s: %v", trial, text, err)
		}
		got, err := q.Run(ds, p)
		if err != nil {
			t.Fatalf("trial %d: %s: %v", trial, text, err)
		}
		want := naive(q, ds, p.Floor())
		if got.BelowFloor != want.BelowFloor || got.SuppressedGroups != want.SuppressedGroups ||
			!slices.Equal(got.Columns, want.Columns) || !slices.EqualFunc(got.Rows, want.Rows, slices.Equal) {
			t.Fatalf("trial %d: %s (floor %d)\n got %+v\nwant %+v", trial, text, p.Floor(), got, want)
		}
		if len(got.Rows) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 200 {
		t.Fatalf("only %d of 600 random queries had rows: the generator tests too little", nonEmpty)
	}
}

// naive computes the result row by row, in big rationals.
func naive(q *Query, ds *records.Dataset, floor int) *Result {
	col := func(rec []int64, name string) int64 { return rec[slices.Index(ds.Fields, name)] }
	groups := map[string][][]int64{}
	var keys []string
	n := 0
	for _, rec := range ds.Records {
		if q.Where != nil && !naiveEval(q.Where, rec, col) {
			continue
		}
		n++
		var key []string
		for _, g := range q.GroupBy {
			key = append(key, fmt.Sprintf("%020d", uint64(col(rec, g.Name))^1<<63))
		}
		k := strings.Join(key, ",")
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], rec)
	}
	res := &Result{Columns: q.Columns(), Rows: [][]string{}}
	if n < floor {
		res.BelowFloor = true
		return res
	}
	slices.Sort(keys)
	for _, k := range keys {
		recs := groups[k]
		if len(recs) < floor {
			res.SuppressedGroups++
			continue
		}
		var row []string
		for _, it := range q.Items {
			vals := make([]int64, len(recs))
			for i, rec := range recs {
				if it.Col != "" {
					vals[i] = col(rec, it.Col)
				}
			}
			row = append(row, naiveAgg(it, vals, floor)...)
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

func naiveEval(e Expr, rec []int64, col func([]int64, string) int64) bool {
	val := func(o Operand) int64 {
		if o.IsCol {
			return col(rec, o.Col)
		}
		return o.Val
	}
	switch e := e.(type) {
	case *Cmp:
		a, b := val(e.L), val(e.R)
		return map[CmpOp]bool{OpEq: a == b, OpNe: a != b, OpLt: a < b, OpLe: a <= b, OpGt: a > b, OpGe: a >= b}[e.Op]
	case *In:
		return slices.Contains(e.List, val(e.X))
	case *Between:
		return val(e.Lo) <= val(e.X) && val(e.X) <= val(e.Hi)
	case *Not:
		return !naiveEval(e.X, rec, col)
	case *And:
		for _, t := range e.Terms {
			if !naiveEval(t, rec, col) {
				return false
			}
		}
		return true
	case *Or:
		for _, t := range e.Terms {
			if naiveEval(t, rec, col) {
				return true
			}
		}
	}
	return false
}

func naiveAgg(it Item, vals []int64, floor int) []string {
	n := int64(len(vals))
	sum, sq := new(big.Int), new(big.Int)
	for _, v := range vals {
		sum.Add(sum, big.NewInt(v))
		sq.Add(sq, new(big.Int).Mul(big.NewInt(v), big.NewInt(v)))
	}
	switch it.Agg {
	case AggNone:
		return []string{strconv.FormatInt(vals[0], 10)}
	case AggCount:
		return []string{strconv.FormatInt(n, 10)}
	case AggSum:
		return []string{sum.String()}
	case AggMin:
		return []string{strconv.FormatInt(slices.Min(vals), 10)}
	case AggMax:
		return []string{strconv.FormatInt(slices.Max(vals), 10)}
	case AggAvg:
		return []string{naiveRound(new(big.Rat).SetFrac(sum, big.NewInt(n)))}
	case AggStddev:
		mean := new(big.Rat).SetFrac(sum, big.NewInt(n))
		v := new(big.Rat)
		for _, x := range vals {
			d := new(big.Rat).Sub(new(big.Rat).SetInt64(x), mean)
			v.Add(v, d.Mul(d, d))
		}
		v.Quo(v, new(big.Rat).SetInt64(n))
		f := new(big.Float).SetPrec(2000).SetRat(v)
		f.Sqrt(f)
		f.Mul(f, new(big.Float).SetInt64(1_000_000))
		f.Add(f, big.NewFloat(0.5))
		q, _ := f.Int(nil)
		return []string{decimal(q)}
	}
	counts := make([]int64, it.Buckets)
	for _, v := range vals {
		if v < it.Lo || v >= it.Hi {
			continue
		}
		b := new(big.Int).Mul(new(big.Int).Sub(big.NewInt(v), big.NewInt(it.Lo)), big.NewInt(int64(it.Buckets)))
		b.Quo(b, new(big.Int).Sub(big.NewInt(it.Hi), big.NewInt(it.Lo)))
		counts[b.Int64()]++
	}
	var out []string
	for _, c := range counts {
		if c < int64(floor) {
			c = 0
		}
		out = append(out, strconv.FormatInt(c, 10))
	}
	return out
}

// naiveRound rounds to 6 places, half away from zero, and prints the
// decimal with big.Rat's own formatter.
func naiveRound(x *big.Rat) string {
	s := new(big.Rat).Abs(x)
	s.Mul(s, new(big.Rat).SetInt64(1_000_000)).Add(s, big.NewRat(1, 2))
	q := new(big.Int).Quo(s.Num(), s.Denom())
	if x.Sign() < 0 {
		q.Neg(q)
	}
	return new(big.Rat).SetFrac(q, big.NewInt(1_000_000)).FloatString(6)
}
