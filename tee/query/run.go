package query

import (
	"fmt"
	"math"
	"strconv"

	"github.com/vsc-labs/vsc/internal/codes"

	"github.com/vsc-labs/vsc/internal/records"
)

// Run answers the query over the dataset under the policy (checking it
// first). Groups with fewer than p.Floor() records are left out and counted
// in SuppressedGroups; if WHERE leaves fewer than p.Floor() records the
// result has no rows and BelowFloor is set. Rows are sorted by their GROUP
// BY values. Columns are the items' canonical texts; a histogram gives one
// column per bucket, named "histogram(col, lo, hi, B)[b]". Run modifies
// neither the query nor the dataset, so runs over one cached dataset may go
// on at once. No error quotes a record's value.
func (q *Query) Run(ds *records.Dataset, p Policy) (*Result, error) {
	if err := q.Check(ds.Fields, p); err != nil {
		return nil, err
	}
	if err := wellFormed(ds); err != nil {
		return nil, err
	}
	floor := p.Floor()
	res := &Result{Columns: q.Columns(), Rows: [][]string{}}
	c := newColumns(ds.Fields, ds.Records)
	c.load(q.names())
	sel := selected(q.Where, c)
	if len(sel) < floor {
		res.BelowFloor = true
		return res, nil
	}
	g := groupRecords(q, c, sel)
	keep, suppressed := g.order(q, c, floor)
	res.SuppressedGroups = suppressed
	if cells := len(keep) * len(res.Columns); cells > MaxCells {
		return nil, errAt(0, KindTooLarge, "the result would have %d rows of %d columns, more than %d cells: group by fewer or coarser columns, or ask for fewer histogram buckets",
			len(keep), len(res.Columns), MaxCells)
	}
	sel, first, count := g.dense(sel, keep)
	accs := make([]*acc, len(q.Items))
	for k, it := range q.Items {
		if it.Agg == AggNone {
			continue
		}
		accs[k] = newAcc(it, len(keep), count)
		if it.Col != "" {
			accs[k].add(c.col(it.Col), sel, g.gid)
		}
	}
	for id := range int32(len(keep)) {
		row := make([]string, 0, len(res.Columns))
		for k, it := range q.Items {
			if it.Agg == AggNone {
				row = append(row, strconv.FormatInt(c.col(it.Col)[first[id]], 10))
				continue
			}
			row = accs[k].cells(row, id, floor)
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// wellFormed refuses a dataset whose records do not all have one value per
// field (records.Parse never makes one) or that is too long to index.
func wellFormed(ds *records.Dataset) error {
	if len(ds.Records) > math.MaxInt32 {
		return fmt.Errorf("query: the dataset has %d records, at most %d can be queried", len(ds.Records), math.MaxInt32)
	}
	for i, r := range ds.Records {
		if len(r) != len(ds.Fields) {
			return fmt.Errorf("query: record %d has %d values for %d fields", i, len(r), len(ds.Fields))
		}
	}
	return nil
}

// names lists every column the query mentions, in order, with repeats.
func (q *Query) names() []string {
	var out []string
	for _, it := range q.Items {
		if it.Col != "" {
			out = append(out, it.Col)
		}
	}
	for _, g := range q.GroupBy {
		out = append(out, g.Name)
	}
	walkOperands(q.Where, func(o Operand) {
		if o.IsCol {
			out = append(out, o.Col)
		}
	})
	return out
}

// Columns is the result's column names, in order.
func (q *Query) Columns() []string {
	var out []string
	for _, it := range q.Items {
		name := it.String()
		if it.Agg != AggHistogram {
			out = append(out, name)
			continue
		}
		for b := range it.Buckets {
			out = append(out, name+"["+strconv.Itoa(b)+"]")
		}
	}
	return out
}

// Refusal is the error a job whose result is below the floor fails with
// (nil when the result has rows or groups to show).
func (r *Result) Refusal(p Policy) error {
	if !r.BelowFloor {
		return nil
	}
	return codes.New(codes.QueryBelowFloor, "the WHERE clause leaves fewer than %d records (the privacy floor): widen it", p.Floor())
}
