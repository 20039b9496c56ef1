package query

import "slices"

// Policy is a class owner's restriction of the queries the enclave answers
// over the class's data (the iDAO's min_group_size and the owner's allowed
// query shapes). The zero Policy allows every aggregate over every column
// with the default privacy floor.
type Policy struct {
	// MinGroupSize is the privacy floor: a group with fewer records is
	// suppressed, and a WHERE clause leaving fewer records gives no rows.
	// 0 (or less) means DefaultMinGroupSize; 1 is raised to 2, since a group
	// of one is a record.
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

// Check holds the query against a dataset's fields and the policy: every
// column exists (and is allowed), every aggregate is allowed. Errors are
// *Error with the offending name's position.
func (q *Query) Check(fields []string, p Policy) error {
	for _, a := range p.Allowed {
		if _, ok := aggByName(a); !ok {
			return errAt(0, KindPolicy, "the class's policy allows the unknown aggregate %q (known: %v): the class owner must fix the policy", a, AggNames())
		}
	}
	col := func(name string, pos int) error {
		if !slices.Contains(fields, name) {
			return errAt(pos, KindColumn, "the dataset has no column %s: its columns are %v", quoteIdent(name), fields)
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
