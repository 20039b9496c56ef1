package query

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/vsc-labs/vsc/internal/records"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT count(*)",
		"select g, sum(x), avg(y), histogram(x, -5, 5, 10) where x >= -3 and (y != 2 or not g in (1, 2)) group by g",
		"SELECT stddev(x) WHERE x NOT BETWEEN y AND 9223372036854775807",
		`SELECT "a""b", min("select") GROUP BY "a""b"`,
		"SELECT count(*) WHERE NOT NOT (a = 1 OR b <> 2) AND c <= -9223372036854775808",
		"SELECT x", "SELECT (", "SELECT count(*) GROUP BY", "SELECT sum(x) WHERE x = 3.5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Pos < 0 || qe.Pos > len(s) || qe.Msg == "" {
				t.Fatalf("%q: error %v is not an *Error with a position inside the text", s, err)
			}
			return
		}
		printed := q.String()
		if len(printed) > MaxQueryBytes {
			return // canonical spacing can push a text at the limit over it
		}
		back, err := Parse(printed)
		if err != nil {
			t.Fatalf("%q printed as %q does not parse: %v", s, printed, err)
		}
		if back.String() != printed || !reflect.DeepEqual(withoutPos(q), withoutPos(back)) {
			t.Fatalf("%q printed as %q parses to another query: %q", s, printed, back.String())
		}
	})
}

// withoutPos is a copy of q with every position zeroed, to compare shapes.
func withoutPos(q *Query) *Query {
	c := &Query{Where: zeroPos(q.Where)}
	for _, it := range q.Items {
		it.Pos = 0
		c.Items = append(c.Items, it)
	}
	for _, g := range q.GroupBy {
		c.GroupBy = append(c.GroupBy, Column{Name: g.Name})
	}
	return c
}

func zeroPos(e Expr) Expr {
	op := func(o Operand) Operand { o.Pos = 0; return o }
	switch e := e.(type) {
	case *Cmp:
		return &Cmp{Op: e.Op, L: op(e.L), R: op(e.R)}
	case *In:
		return &In{X: op(e.X), List: e.List}
	case *Between:
		return &Between{X: op(e.X), Lo: op(e.Lo), Hi: op(e.Hi)}
	case *Not:
		return &Not{X: zeroPos(e.X)}
	case *And:
		c := &And{}
		for _, t := range e.Terms {
			c.Terms = append(c.Terms, zeroPos(t))
		}
		return c
	case *Or:
		c := &Or{}
		for _, t := range e.Terms {
			c.Terms = append(c.Terms, zeroPos(t))
		}
		return c
	}
	return nil
}

// FuzzRun runs whatever parses over a small dataset: no panic, no error but
// a refusal, and no shown group below the floor.
func FuzzRun(f *testing.F) {
	f.Add("SELECT g, count(*), histogram(x, -3, 3, 7) WHERE x IN (1, 2, -9223372036854775808) GROUP BY g", 3)
	f.Add("SELECT stddev(x), avg(y), min(x) WHERE NOT y BETWEEN x AND 9", 1)
	f.Add("SELECT h, g, sum(x) WHERE x > y OR g = 1 GROUP BY h, g", 2)
	ds := &records.Dataset{Fields: []string{"g", "h", "x", "y"}}
	for i := range 60 {
		x := []int64{math.MinInt64, math.MaxInt64, -1, 0, 1, 2}[i%6]
		ds.Records = append(ds.Records, []int64{int64(i % 3), int64(i % 4), x, int64(i%11) - 5})
	}
	f.Fuzz(func(t *testing.T, text string, floor int) {
		q, err := Parse(text)
		if err != nil {
			return
		}
		p := Policy{MinGroupSize: floor % 20}
		r, err := q.Run(ds, p)
		var qe *Error
		if err != nil {
			if !errors.As(err, &qe) || (qe.Kind != KindColumn && qe.Kind != KindTooLarge) {
				t.Fatalf("%q: %v", text, err)
			}
			return
		}
		// the same query with count(*) in front shows the group sizes (a
		// query at a limit cannot take one more item: skipped)
		if full, err := Parse(strings.Replace(q.String(), "SELECT ", "SELECT count(*), ", 1)); err == nil {
			checkFloor(t, text, full, ds, p, r)
		}
		for _, row := range r.Rows {
			if len(row) != len(r.Columns) {
				t.Fatalf("%q: a row of %d cells for %d columns", text, len(row), len(r.Columns))
			}
		}
	})
}

func checkFloor(t *testing.T, text string, full *Query, ds *records.Dataset, p Policy, r *Result) {
	fr, err := full.Run(ds, p)
	if err != nil {
		return // over MaxCells with the extra column
	}
	for _, row := range fr.Rows {
		if n, _ := strconv.Atoi(row[0]); n < p.Floor() {
			t.Fatalf("%q shows a group of %d records, floor %d", text, n, p.Floor())
		}
	}
	if len(fr.Rows) != len(r.Rows) || fr.SuppressedGroups != r.SuppressedGroups {
		t.Fatalf("%q: adding count(*) changed the groups", text)
	}
}
