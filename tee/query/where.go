package query

import "slices"

// columns holds the dataset's columns, extracted from its rows on first use.
type columns struct {
	recs  [][]int64
	index map[string]int
	cols  map[int][]int64
}

func newColumns(fields []string, recs [][]int64) *columns {
	c := &columns{recs: recs, index: make(map[string]int, len(fields)), cols: map[int][]int64{}}
	for i, f := range fields {
		if _, dup := c.index[f]; !dup {
			c.index[f] = i
		}
	}
	return c
}

// load extracts the named columns in one pass over the records (one read
// of each record for all of them).
func (c *columns) load(names []string) {
	var idx []int
	for _, n := range names {
		if j := c.index[n]; !slices.Contains(idx, j) {
			idx = append(idx, j)
		}
	}
	out := make([][]int64, len(idx))
	for k := range out {
		out[k] = make([]int64, len(c.recs))
	}
	switch len(idx) {
	case 1:
		a, j := out[0], idx[0]
		for i, r := range c.recs {
			a[i] = r[j]
		}
	default:
		for i, r := range c.recs {
			for k, j := range idx {
				out[k][i] = r[j]
			}
		}
	}
	for k, j := range idx {
		c.cols[j] = out[k]
	}
}

// col returns a column's values (Check has made sure it exists).
func (c *columns) col(name string) []int64 {
	j := c.index[name]
	if v, ok := c.cols[j]; ok {
		return v
	}
	v := make([]int64, len(c.recs))
	for i, r := range c.recs {
		v[i] = r[j]
	}
	c.cols[j] = v
	return v
}

// selected returns the indices of the records that satisfy e (all for nil).
// WHERE is evaluated column-wise: each node fills a mask over all records.
func selected(e Expr, c *columns) []int32 {
	n := len(c.recs)
	sel := make([]int32, 0, n)
	if e == nil {
		for i := range n {
			sel = append(sel, int32(i))
		}
		return sel
	}
	mask := make([]bool, n)
	evalMask(e, c, mask)
	for i, ok := range mask {
		if ok {
			sel = append(sel, int32(i))
		}
	}
	return sel
}

func evalMask(e Expr, c *columns, out []bool) {
	switch e := e.(type) {
	case *Cmp:
		cmpMask(e.Op, e.L, e.R, c, out)
	case *Between:
		cmpMask(OpGe, e.X, e.Lo, c, out)
		tmp := make([]bool, len(out))
		cmpMask(OpLe, e.X, e.Hi, c, tmp)
		for i := range out {
			out[i] = out[i] && tmp[i]
		}
	case *In:
		inMask(e, c, out)
	case *Not:
		evalMask(e.X, c, out)
		for i := range out {
			out[i] = !out[i]
		}
	case *And:
		evalMask(e.Terms[0], c, out)
		tmp := make([]bool, len(out))
		for _, t := range e.Terms[1:] {
			evalMask(t, c, tmp)
			for i := range out {
				out[i] = out[i] && tmp[i]
			}
		}
	case *Or:
		evalMask(e.Terms[0], c, out)
		tmp := make([]bool, len(out))
		for _, t := range e.Terms[1:] {
			evalMask(t, c, tmp)
			for i := range out {
				out[i] = out[i] || tmp[i]
			}
		}
	}
}

// flip turns a op b into b flip(op) a.
func flip(op CmpOp) CmpOp {
	return [...]CmpOp{OpEq, OpNe, OpGt, OpGe, OpLt, OpLe}[op]
}

func cmpMask(op CmpOp, l, r Operand, c *columns, out []bool) {
	switch {
	case l.IsCol && r.IsCol:
		cmpCols(op, c.col(l.Col), c.col(r.Col), out)
	case l.IsCol:
		cmpConst(op, c.col(l.Col), r.Val, out)
	case r.IsCol:
		cmpConst(flip(op), c.col(r.Col), l.Val, out)
	default:
		v := cmpVal(op, l.Val, r.Val)
		for i := range out {
			out[i] = v
		}
	}
}

func cmpVal(op CmpOp, a, b int64) bool {
	switch op {
	case OpEq:
		return a == b
	case OpNe:
		return a != b
	case OpLt:
		return a < b
	case OpLe:
		return a <= b
	case OpGt:
		return a > b
	}
	return a >= b
}

// cmpConst is one tight loop per operator: the hot path of WHERE.
func cmpConst(op CmpOp, a []int64, b int64, out []bool) {
	out = out[:len(a)]
	switch op {
	case OpEq:
		for i, v := range a {
			out[i] = v == b
		}
	case OpNe:
		for i, v := range a {
			out[i] = v != b
		}
	case OpLt:
		for i, v := range a {
			out[i] = v < b
		}
	case OpLe:
		for i, v := range a {
			out[i] = v <= b
		}
	case OpGt:
		for i, v := range a {
			out[i] = v > b
		}
	case OpGe:
		for i, v := range a {
			out[i] = v >= b
		}
	}
}

func cmpCols(op CmpOp, a, b []int64, out []bool) {
	for i := range out {
		out[i] = cmpVal(op, a[i], b[i])
	}
}

// inMask tests membership with a bitset when the list's values are close
// together (categorical codes, the usual case), a map otherwise.
func inMask(e *In, c *columns, out []bool) {
	if !e.X.IsCol {
		ok := slices.Contains(e.List, e.X.Val)
		for i := range out {
			out[i] = ok
		}
		return
	}
	col := c.col(e.X.Col)
	lo, hi := slices.Min(e.List), slices.Max(e.List)
	if span := uint64(hi) - uint64(lo); span < maxBitsetSpan {
		bits := make([]uint64, span/64+1)
		for _, v := range e.List {
			d := uint64(v) - uint64(lo)
			bits[d/64] |= 1 << (d % 64)
		}
		for i, v := range col {
			d := uint64(v) - uint64(lo)
			out[i] = d <= span && bits[d/64]&(1<<(d%64)) != 0
		}
		return
	}
	set := make(map[int64]struct{}, len(e.List))
	for _, v := range e.List {
		set[v] = struct{}{}
	}
	for i, v := range col {
		_, out[i] = set[v]
	}
}

// maxBitsetSpan bounds an IN list's bitset (8 KiB).
const maxBitsetSpan = 1 << 16
