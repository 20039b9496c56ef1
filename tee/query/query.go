package query

import (
	"fmt"
	"github.com/vsc-labs/vsc/internal/codes"
)

// Limits on a query, checked by Parse (MaxCells by Run); docs/QUERY.md lists them.
const (
	MaxQueryBytes = 4096 // query text
	MaxItems      = 32   // select items
	MaxGroupBy    = 8    // GROUP BY columns
	MaxDepth      = 32   // nesting of parentheses and NOT in WHERE
	MaxInList     = 256  // values in one IN list
	MaxBuckets    = 1024 // buckets of one histogram
	MaxTerms      = 256  // comparisons in one WHERE clause

	// MaxCells bounds a result (rows × columns), checked by Run before it
	// computes any aggregate: it bounds the enclave's memory and the answer's
	// size on the bus.
	MaxCells = 100_000
)

// DefaultMinGroupSize is the privacy floor when a policy sets none.
const DefaultMinGroupSize = 10

// Scale is the number of decimal places avg and stddev are rounded to.
const Scale = 6

// Agg is an aggregate function, or AggNone for a selected group column.
type Agg uint8

// The aggregates. Their numbers are not encoded anywhere; their names are.
const (
	AggNone Agg = iota
	AggCount
	AggSum
	AggAvg
	AggMin
	AggMax
	AggStddev
	AggHistogram
)

var aggNames = [...]string{"", "count", "sum", "avg", "min", "max", "stddev", "histogram"}

// String is the aggregate's name as written in a query ("" for AggNone).
func (a Agg) String() string {
	if int(a) < len(aggNames) {
		return aggNames[a]
	}
	return fmt.Sprintf("agg%d", uint8(a))
}

// AggNames lists every aggregate's name (what Policy.Allowed holds).
func AggNames() []string { return append([]string(nil), aggNames[1:]...) }

func aggByName(s string) (Agg, bool) {
	for i, n := range aggNames[1:] {
		if n == s {
			return Agg(i + 1), true
		}
	}
	return AggNone, false
}

// Query is a parsed query. Positions (Pos fields) are byte offsets into the
// text it was parsed from; String re-prints it canonically.
type Query struct {
	Items   []Item
	Where   Expr // nil: every record
	GroupBy []Column
}

// Item is one select item: an aggregate over a column (Col is "" for
// count(*)), or a bare group column (Agg == AggNone).
type Item struct {
	Agg     Agg
	Col     string
	Lo, Hi  int64 // histogram range [Lo, Hi)
	Buckets int   // histogram buckets
	Pos     int
}

// Column is a column named in GROUP BY.
type Column struct {
	Name string
	Pos  int
}

// Expr is a WHERE expression: *Cmp, *In, *Between, *And, *Or or *Not.
type Expr interface{ isExpr() }

// Operand is a column or an integer literal.
type Operand struct {
	IsCol bool
	Col   string
	Val   int64
	Pos   int
}

// CmpOp is a comparison operator.
type CmpOp uint8

// The comparison operators.
const (
	OpEq CmpOp = iota
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
)

var opNames = [...]string{"=", "!=", "<", "<=", ">", ">="}

func (o CmpOp) String() string { return opNames[o] }

// Cmp is L op R.
type Cmp struct {
	Op   CmpOp
	L, R Operand
}

// In is X IN (List…).
type In struct {
	X    Operand
	List []int64
}

// Between is X BETWEEN Lo AND Hi (both ends included).
type Between struct{ X, Lo, Hi Operand }

// And is the conjunction of its terms (two or more).
type And struct{ Terms []Expr }

// Or is the disjunction of its terms (two or more).
type Or struct{ Terms []Expr }

// Not is NOT X.
type Not struct{ X Expr }

func (*Cmp) isExpr()     {}
func (*In) isExpr()      {}
func (*Between) isExpr() {}
func (*And) isExpr()     {}
func (*Or) isExpr()      {}
func (*Not) isExpr()     {}

// Kind says which rule a query broke; callers map it to a failure code.
type Kind uint8

// The kinds of Error.
const (
	KindSyntax     Kind = iota // the text is not in the grammar, or over a limit
	KindBareColumn             // a column selected bare is not in GROUP BY
	KindColumn                 // a column the dataset does not have
	KindPolicy                 // the class owner's policy does not allow it
	KindTooLarge               // the result would be over MaxCells
)

// Error is a refused query: the byte offset (from 0; len(text) is the end)
// of what was wrong and a sentence saying what was expected.
type Error struct {
	Pos  int
	Msg  string
	Kind Kind
}

func (e *Error) Error() string { return fmt.Sprintf("at %d: %s", e.Pos, e.Msg) }

func errAt(pos int, kind Kind, format string, args ...any) *Error {
	return &Error{Pos: pos, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Code is the failure code a job refused with this error carries.
func (e *Error) Code() codes.Code {
	return [...]codes.Code{KindSyntax: codes.QueryInvalid, KindBareColumn: codes.QueryBareColumn,
		KindColumn: codes.QueryUnknownColumn, KindPolicy: codes.QueryNotAllowed, KindTooLarge: codes.QueryTooLarge}[e.Kind]
}
