package query

import (
	"strconv"
	"strings"
)

// String re-prints the query canonically: keywords upper-case, aggregates
// lower-case, single spaces, parentheses only where precedence needs them.
// Parse(q.String()) is the same query.
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, it := range q.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.String())
	}
	if q.Where != nil {
		b.WriteString(" WHERE ")
		writeExpr(&b, q.Where)
	}
	if len(q.GroupBy) > 0 {
		b.WriteString(" GROUP BY ")
		for i, c := range q.GroupBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteIdent(c.Name))
		}
	}
	return b.String()
}

// String is the item as written canonically; it is also the item's result
// column name (a histogram adds one column per bucket, see Run).
func (it Item) String() string {
	switch it.Agg {
	case AggNone:
		return quoteIdent(it.Col)
	case AggCount:
		return "count(*)"
	case AggHistogram:
		return "histogram(" + quoteIdent(it.Col) + ", " + strconv.FormatInt(it.Lo, 10) + ", " +
			strconv.FormatInt(it.Hi, 10) + ", " + strconv.Itoa(it.Buckets) + ")"
	}
	return it.Agg.String() + "(" + quoteIdent(it.Col) + ")"
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Or:
		for i, t := range e.Terms {
			if i > 0 {
				b.WriteString(" OR ")
			}
			writeExpr(b, t)
		}
	case *And:
		for i, t := range e.Terms {
			if i > 0 {
				b.WriteString(" AND ")
			}
			writeParen(b, t, isOr(t))
		}
	case *Not:
		writeNot(b, e)
	case *Cmp:
		b.WriteString(e.L.String() + " " + e.Op.String() + " " + e.R.String())
	case *In:
		writeIn(b, e, false)
	case *Between:
		writeBetween(b, e, false)
	}
}

// writeNot prints x NOT IN / x NOT BETWEEN as written, so a re-print nests
// no deeper than the original.
func writeNot(b *strings.Builder, n *Not) {
	switch x := n.X.(type) {
	case *In:
		writeIn(b, x, true)
	case *Between:
		writeBetween(b, x, true)
	case *And, *Or:
		b.WriteString("NOT ")
		writeParen(b, x, true)
	default:
		b.WriteString("NOT ")
		writeExpr(b, x)
	}
}

func writeParen(b *strings.Builder, e Expr, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	writeExpr(b, e)
	if paren {
		b.WriteByte(')')
	}
}

func writeIn(b *strings.Builder, in *In, not bool) {
	b.WriteString(in.X.String())
	if not {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, v := range in.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	b.WriteByte(')')
}

func writeBetween(b *strings.Builder, e *Between, not bool) {
	b.WriteString(e.X.String())
	if not {
		b.WriteString(" NOT")
	}
	b.WriteString(" BETWEEN " + e.Lo.String() + " AND " + e.Hi.String())
}

func isOr(e Expr) bool { _, ok := e.(*Or); return ok }

// String is the operand as written canonically.
func (o Operand) String() string {
	if o.IsCol {
		return quoteIdent(o.Col)
	}
	return strconv.FormatInt(o.Val, 10)
}

// quoteIdent writes a column name bare when it is a plain identifier and no
// keyword, else double-quoted with " doubled.
func quoteIdent(s string) string {
	plain := s != "" && isIdentStart(s[0]) && !keywords[strings.ToUpper(s)]
	for i := 0; plain && i < len(s); i++ {
		plain = isIdentPart(s[i])
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
