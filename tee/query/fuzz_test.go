package query

import (
	"errors"
	"reflect"
	"testing"
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
