package query

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"select COUNT(*)", "SELECT count(*)"},
		{"SeLeCt sum(x),AVG(y) wHeRe x>=-5 group by g", "SELECT sum(x), avg(y) WHERE x >= -5 GROUP BY g"},
		{"SELECT count(*) WHERE a = 1 AND (b = 2 OR c = 3)", "SELECT count(*) WHERE a = 1 AND (b = 2 OR c = 3)"},
		{"SELECT count(*) WHERE (a = 1 AND b = 2) OR c = 3", "SELECT count(*) WHERE a = 1 AND b = 2 OR c = 3"},
		{"SELECT count(*) WHERE ((a = 1 AND (b = 2 AND c <> 3)))", "SELECT count(*) WHERE a = 1 AND b = 2 AND c != 3"},
		{"SELECT count(*) WHERE NOT (a = 1 OR b = 2)", "SELECT count(*) WHERE NOT (a = 1 OR b = 2)"},
		{"SELECT count(*) WHERE NOT NOT a < b", "SELECT count(*) WHERE NOT NOT a < b"},
		{"SELECT count(*) WHERE NOT a IN (1,2)", "SELECT count(*) WHERE a NOT IN (1, 2)"},
		{"SELECT count(*) WHERE a not between -1 and b", "SELECT count(*) WHERE a NOT BETWEEN -1 AND b"},
		{"SELECT count(*) WHERE 5 > a", "SELECT count(*) WHERE 5 > a"},
		{`SELECT "select", sum("a b") GROUP BY "select"`, `SELECT "select", sum("a b") GROUP BY "select"`},
		{`SELECT max("say ""hi""")`, `SELECT max("say ""hi""")`},
		{"SELECT count, min(count) GROUP BY count", "SELECT count, min(count) GROUP BY count"},
		{"SELECT histogram(x, -9223372036854775808, 9223372036854775807, 1024)", "SELECT histogram(x, -9223372036854775808, 9223372036854775807, 1024)"},
		{"\tSELECT\nstddev(x)\r\n", "SELECT stddev(x)"},
	} {
		q, err := Parse(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := q.String(); got != c.want {
			t.Errorf("%q printed %q, want %q", c.in, got, c.want)
		}
		back, err := Parse(q.String())
		if err != nil || back.String() != q.String() {
			t.Errorf("%q: re-parse %v, %v", c.in, back, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	long := "SELECT count(*) WHERE " + strings.Repeat("x = 1 OR ", 500) + "x = 1"
	items := "SELECT " + strings.Repeat("count(*), ", MaxItems) + "count(*)"
	group := "SELECT count(*) GROUP BY a, b, c, d, e, f, g, h, i"
	deep := "SELECT count(*) WHERE " + strings.Repeat("(", MaxDepth+1) + "x = 1" + strings.Repeat(")", MaxDepth+1)
	nots := "SELECT count(*) WHERE " + strings.Repeat("NOT ", MaxDepth+1) + "x = 1"
	in := "SELECT count(*) WHERE x IN (" + strings.Repeat("1, ", MaxInList) + "1)"
	terms := "SELECT count(*) WHERE " + strings.Repeat("x=1 OR ", MaxTerms) + "x=1"
	for _, c := range []struct {
		in   string
		pos  int
		msg  string
		kind Kind
	}{
		{"", 0, "want SELECT at the start, got the end of the query", KindSyntax},
		{"SELEC count(*)", 0, "want SELECT", KindSyntax},
		{"SELECT count(*) GROUP BY", 24, "want a column name after GROUP BY, got the end of the query", KindSyntax},
		{"SELECT count(*) GROUP x", 22, "want BY after GROUP", KindSyntax},
		{"SELECT count(*) GROUP BY g, g", 28, "column g is in GROUP BY twice", KindSyntax},
		{"SELECT x", 7, "column x is selected bare but is not in GROUP BY", KindBareColumn},
		{"SELECT count(*), x GROUP BY y", 17, "column x is selected bare", KindBareColumn},
		{"SELECT", 6, "want a column name or an aggregate in SELECT", KindSyntax},
		{"SELECT median(x)", 7, "unknown aggregate median", KindSyntax},
		{"SELECT count(x)", 13, "want * in count(*)", KindSyntax},
		{"SELECT sum(*)", 11, "want a column name inside sum(", KindSyntax},
		{"SELECT sum(x", 12, "want ) to close sum(", KindSyntax},
		{"SELECT sum(x) WHERE", 19, "want a column name or an integer at the start of a condition", KindSyntax},
		{"SELECT sum(x) WHERE x", 21, "want a comparison (= != < <= > >=), IN or BETWEEN, got the end", KindSyntax},
		{"SELECT sum(x) WHERE x = ", 24, "want a column name or an integer after =", KindSyntax},
		{"SELECT sum(x) WHERE x ! 3", 22, "want != (a lone ! is not an operator)", KindSyntax},
		{"SELECT sum(x) WHERE x = 3.5", 25, "want a space or an operator after the number 3", KindSyntax},
		{"SELECT sum(x) WHERE x = - 3", 24, "want a digit right after -", KindSyntax},
		{"SELECT sum(x) WHERE x = 9223372036854775808", 24, "outside the 64-bit integer range", KindSyntax},
		{"SELECT sum(x) WHERE x = 'a'", 24, "unexpected character '\\''", KindSyntax},
		{"SELECT sum(x) WHERE (x = 1", 26, "want ) to close the ( at 20", KindSyntax},
		{"SELECT sum(x) WHERE x NOT = 1", 26, "want IN or BETWEEN after NOT", KindSyntax},
		{"SELECT sum(x) WHERE x IN ()", 26, "want an integer in the IN list", KindSyntax},
		{"SELECT sum(x) WHERE x IN (1, y)", 29, "want an integer in the IN list", KindSyntax},
		{"SELECT sum(x) WHERE x BETWEEN 1 OR 2", 32, "want AND in BETWEEN low AND high", KindSyntax},
		{"SELECT sum(x) WHERE and = 1", 20, "got the keyword AND", KindSyntax},
		{"SELECT sum(x) GROUP BY g LIMIT 1", 25, "want , WHERE, GROUP BY or the end of the query", KindSyntax},
		{`SELECT sum("x)`, 11, "want a closing \"", KindSyntax},
		{`SELECT sum("")`, 11, "want a column name between the quotes", KindSyntax},
		{"SELECT histogram(x, 10, 10, 4)", 24, "want the histogram's high end above its low end 10", KindSyntax},
		{"SELECT histogram(x, 0, 10, 0)", 27, "want 1 to 1024 histogram buckets", KindSyntax},
		{"SELECT histogram(x, 0, 10, 1025)", 27, "want 1 to 1024 histogram buckets", KindSyntax},
		{"SELECT histogram(x, 0, 10)", 25, "want , then the number of buckets", KindSyntax},
		{long, MaxQueryBytes, "at most 4096 allowed", KindSyntax},
		{items, 7 + 10*MaxItems, "at most 32 select items", KindSyntax},
		{group, 49, "at most 8 GROUP BY columns", KindSyntax},
		{deep, 22 + MaxDepth, "nests deeper than 32", KindSyntax},
		{nots, 22 + 4*MaxDepth, "nests deeper than 32", KindSyntax},
		{in, 28 + 3*MaxInList, "at most 256 values", KindSyntax},
		{terms, 22 + 7*MaxTerms, "at most 256 conditions", KindSyntax},
	} {
		_, err := Parse(c.in)
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("%.60q: got %v, want an *Error", c.in, err)
			continue
		}
		if qe.Pos != c.pos || !strings.Contains(qe.Msg, c.msg) || qe.Kind != c.kind {
			t.Errorf("%.60q: got %v (kind %d), want at %d %q (kind %d)", c.in, err, qe.Kind, c.pos, c.msg, c.kind)
		}
		if want := fmt.Sprintf("at %d: ", c.pos); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%.60q: %q does not start with %q", c.in, err, want)
		}
	}
}

// The limits themselves are allowed.
func TestParseAtLimits(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"SELECT " + strings.Repeat("count(*), ", MaxItems-1) + "count(*)",
		"SELECT count(*) GROUP BY a, b, c, d, e, f, g, h",
		"SELECT count(*) WHERE " + strings.Repeat("(", MaxDepth) + "x = 1" + strings.Repeat(")", MaxDepth),
		"SELECT count(*) WHERE " + strings.Repeat("NOT ", MaxDepth) + "x = 1",
		"SELECT count(*) WHERE x IN (" + strings.Repeat("1, ", MaxInList-1) + "1)",
		"SELECT count(*) WHERE " + strings.Repeat("x=1 OR ", MaxTerms-1) + "x=1",
		"SELECT count(*)" + strings.Repeat(" ", MaxQueryBytes-15),
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("%.60q: %v", in, err)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	_, err := Parse("SELECT x")
	var qe *Error
	if !errors.As(err, &qe) || qe.Code().Name() != "query_bare_column" {
		t.Fatalf("bare column: %v", err)
	}
	_, err = Parse("SELECT")
	if !errors.As(err, &qe) || qe.Code().Name() != "query_invalid" {
		t.Fatalf("syntax: %v", err)
	}
}
