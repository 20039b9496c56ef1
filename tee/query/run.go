package query

import (
	"strconv"

	"github.com/vsc-labs/vsc/internal/codes"

	"github.com/vsc-labs/vsc/internal/records"
)

// Run answers the query over the dataset under the policy (checking it
// first). Groups with fewer than p.Floor() records are left out and counted
// in SuppressedGroups; if WHERE leaves fewer than p.Floor() records the
// result has no rows and BelowFloor is set. Rows are sorted by their GROUP
// BY values. Columns are the items' canonical texts; a histogram gives one
// column per bucket, named "histogram(col, lo, hi, B)[b]".
func (q *Query) Run(ds *records.Dataset, p Policy) (*Result, error) {
	if err := q.Check(ds.Fields, p); err != nil {
		return nil, err
	}
	floor := p.Floor()
	res := &Result{Columns: q.Columns(), Rows: [][]string{}}
	c := newColumns(ds.Fields, ds.Records)
	sel := selected(q.Where, c)
	if len(sel) < floor {
		res.BelowFloor = true
		return res, nil
	}
	g := groupRecords(q, c, sel)
	keep, suppressed := g.order(q, c, floor)
	res.SuppressedGroups = suppressed
	accs := make([]*acc, len(q.Items))
	for k, it := range q.Items {
		if it.Agg == AggNone {
			continue
		}
		accs[k] = newAcc(it, len(g.first), g.count)
		if it.Col != "" {
			accs[k].add(c.col(it.Col), sel, g.gid)
		}
	}
	for _, id := range keep {
		row := make([]string, 0, len(res.Columns))
		for k, it := range q.Items {
			if it.Agg == AggNone {
				row = append(row, strconv.FormatInt(c.col(it.Col)[g.first[id]], 10))
				continue
			}
			row = accs[k].cells(row, id, floor)
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
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
