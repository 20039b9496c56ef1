package query

import (
	"slices"

	"github.com/vsc-labs/vsc/internal/records"
)

// Policy is a class owner's restriction of the queries the enclave answers
// over the class's data (the iDAO's min_group_size and the owner's allowed
// query shapes). The zero Policy allows every aggregate over every column
// with the default privacy floor.
type Policy struct {
	// MinGroupSize is the privacy floor: a group with fewer records is
	// suppressed, and a WHERE clause leaving fewer records gives no rows.
	// 0 means DefaultMinGroupSize; 1 is raised to 2, since a group of one is
	// a record; a negative floor is refused by Validate.
	MinGroupSize int `json:"min_group_size,omitempty"`
	// Allowed names the aggregates a query may use (see AggNames); empty
	// allows them all. Selecting a GROUP BY column needs no entry.
	Allowed []string `json:"allowed,omitempty"`
	// Columns names the columns a query may mention anywhere (SELECT, WHERE,
	// GROUP BY); empty allows every column of the dataset.
	Columns []string `json:"columns,omitempty"`
}

// Floor is the effective privacy floor: at least 2, DefaultMinGroupSize
// when unset.
func (p Policy) Floor() int {
	switch {
	case p.MinGroupSize <= 0:
		return DefaultMinGroupSize
	case p.MinGroupSize == 1:
		return 2
	}
	return p.MinGroupSize
}

// MaxPolicyColumns bounds Policy.Columns (a dataset has at most
// records.MaxFields columns).
const MaxPolicyColumns = records.MaxFields

// Validate checks the policy itself (what a class owner sets): known
// aggregate names, each once; at most MaxPolicyColumns columns, each once;
// a floor that is not negative. Errors are *Error of KindPolicy at 0.
func (p Policy) Validate() error {
	if p.MinGroupSize < 0 {
		return errAt(0, KindPolicy, "the class's policy has min_group_size %d: want 0 (the default, %d) or more", p.MinGroupSize, DefaultMinGroupSize)
	}
	for i, a := range p.Allowed {
		if _, ok := aggByName(a); !ok {
			return errAt(0, KindPolicy, "the class's policy allows the unknown aggregate %q (known: %v): the class owner must fix the policy", a, AggNames())
		}
		if slices.Contains(p.Allowed[:i], a) {
			return errAt(0, KindPolicy, "the class's policy lists the aggregate %q twice", a)
		}
	}
	if len(p.Columns) > MaxPolicyColumns {
		return errAt(0, KindPolicy, "the class's policy lists %d columns, at most %d allowed", len(p.Columns), MaxPolicyColumns)
	}
	for i, c := range p.Columns {
		if c == "" || slices.Contains(p.Columns[:i], c) {
			return errAt(0, KindPolicy, "the class's policy lists an empty or repeated column name")
		}
	}
	return nil
}

// Check holds the query against a dataset's fields and the policy: every
// column exists (and is allowed), every aggregate is allowed. Errors are
// *Error with the offending name's position.
func (q *Query) Check(fields []string, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	col := func(name string, pos int) error {
		switch n := count(fields, name); {
		case n == 0:
			// the fields are not listed: a file without a header makes its
			// first record the field names, and errors never quote values
			return errAt(pos, KindColumn, "the dataset has no column %s (names are case-sensitive; the class's description lists its columns)", quoteIdent(name))
		case n > 1:
			return errAt(pos, KindColumn, "the dataset has %d columns named %s: a query cannot tell them apart", n, quoteIdent(name))
		}
		if len(p.Columns) > 0 && !slices.Contains(p.Columns, name) {
			return errAt(pos, KindPolicy, "the class's policy does not allow queries on column %s: allowed columns are %v", quoteIdent(name), p.Columns)
		}
		return nil
	}
	for _, it := range q.Items {
		if it.Agg != AggNone && len(p.Allowed) > 0 && !slices.Contains(p.Allowed, it.Agg.String()) {
			return errAt(it.Pos, KindPolicy, "the class's policy does not allow %s: allowed aggregates are %v", it.Agg, p.Allowed)
		}
		if it.Col == "" {
			continue
		}
		if err := col(it.Col, it.Pos); err != nil {
			return err
		}
	}
	for _, c := range q.GroupBy {
		if err := col(c.Name, c.Pos); err != nil {
			return err
		}
	}
	var err error
	walkOperands(q.Where, func(o Operand) {
		if err == nil && o.IsCol {
			err = col(o.Col, o.Pos)
		}
	})
	return err
}

// walkOperands calls fn on every operand of e, in order.
func walkOperands(e Expr, fn func(Operand)) {
	switch e := e.(type) {
	case *Cmp:
		fn(e.L)
		fn(e.R)
	case *In:
		fn(e.X)
	case *Between:
		fn(e.X)
		fn(e.Lo)
		fn(e.Hi)
	case *And:
		for _, t := range e.Terms {
			walkOperands(t, fn)
		}
	case *Or:
		for _, t := range e.Terms {
			walkOperands(t, fn)
		}
	case *Not:
		walkOperands(e.X, fn)
	}
}

func count(fields []string, name string) (n int) {
	for _, f := range fields {
		if f == name {
			n++
		}
	}
	return n
}
