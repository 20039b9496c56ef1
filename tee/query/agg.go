package query

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// acc accumulates one aggregate per group, exactly: sums in signed 128-bit
// words, sums of squares in unsigned 192-bit words (never overflowing for
// fewer than 2^64 records), and finishes each group's cells as decimals.
type acc struct {
	it      Item
	n       []int64  // records per group
	sumLo   []uint64 // Σv, low word
	sumHi   []int64  // Σv, high word (two's complement)
	sq      [][3]uint64
	min     []int64
	max     []int64
	buckets []int64 // histogram: group g's bucket b at g*Buckets+b
}

func newAcc(it Item, ngroups int, count []int64) *acc {
	a := &acc{it: it, n: count}
	switch it.Agg {
	case AggSum, AggAvg:
		a.sumLo, a.sumHi = make([]uint64, ngroups), make([]int64, ngroups)
	case AggStddev:
		a.sumLo, a.sumHi, a.sq = make([]uint64, ngroups), make([]int64, ngroups), make([][3]uint64, ngroups)
	case AggMin:
		a.min = make([]int64, ngroups)
		for g := range a.min {
			a.min[g] = math.MaxInt64
		}
	case AggMax:
		a.max = make([]int64, ngroups)
		for g := range a.max {
			a.max[g] = math.MinInt64
		}
	case AggHistogram:
		a.buckets = make([]int64, ngroups*it.Buckets)
	}
	return a
}

// add runs over the selected records once, column-wise.
func (a *acc) add(col []int64, sel, gid []int32) {
	switch a.it.Agg {
	case AggSum, AggAvg:
		for j, i := range sel {
			g, v := gid[j], col[i]
			var carry uint64
			a.sumLo[g], carry = bits.Add64(a.sumLo[g], uint64(v), 0)
			a.sumHi[g] += v>>63 + int64(carry)
		}
	case AggStddev:
		a.addSquares(col, sel, gid)
	case AggMin:
		for j, i := range sel {
			if g, v := gid[j], col[i]; v < a.min[g] {
				a.min[g] = v
			}
		}
	case AggMax:
		for j, i := range sel {
			if g, v := gid[j], col[i]; v > a.max[g] {
				a.max[g] = v
			}
		}
	case AggHistogram:
		a.addHistogram(col, sel, gid)
	}
}

func (a *acc) addSquares(col []int64, sel, gid []int32) {
	for j, i := range sel {
		g, v := gid[j], col[i]
		var carry uint64
		a.sumLo[g], carry = bits.Add64(a.sumLo[g], uint64(v), 0)
		a.sumHi[g] += v>>63 + int64(carry)
		m := uint64(v)
		if v < 0 {
			m = -m // |v|, also for math.MinInt64
		}
		hi, lo := bits.Mul64(m, m)
		s := &a.sq[g]
		s[0], carry = bits.Add64(s[0], lo, 0)
		s[1], carry = bits.Add64(s[1], hi, carry)
		s[2] += carry
	}
}

// addHistogram counts v in bucket ⌊(v−lo)·B/(hi−lo)⌋ for lo ≤ v < hi, in
// exact 128-bit arithmetic; values outside [lo, hi) are not counted.
func (a *acc) addHistogram(col []int64, sel, gid []int32) {
	lo, hi, nb := a.it.Lo, a.it.Hi, uint64(a.it.Buckets)
	span := uint64(hi) - uint64(lo)
	for j, i := range sel {
		v := col[i]
		if v < lo || v >= hi {
			continue
		}
		ph, pl := bits.Mul64(uint64(v)-uint64(lo), nb)
		b, _ := bits.Div64(ph, pl, span) // ph < span since v−lo < span
		a.buckets[int(gid[j])*a.it.Buckets+int(b)]++
	}
}

// cells appends group g's cells (one, or Buckets for a histogram).
func (a *acc) cells(row []string, g int32, floor int) []string {
	switch a.it.Agg {
	case AggCount:
		return append(row, strconv.FormatInt(a.n[g], 10))
	case AggSum:
		return append(row, a.sum(g).String())
	case AggAvg:
		return append(row, decimal(roundDiv(new(big.Int).Mul(a.sum(g), pow10), big.NewInt(a.n[g]))))
	case AggStddev:
		return append(row, decimal(a.stddev(g)))
	case AggMin:
		return append(row, strconv.FormatInt(a.min[g], 10))
	case AggMax:
		return append(row, strconv.FormatInt(a.max[g], 10))
	}
	for _, c := range a.buckets[int(g)*a.it.Buckets : int(g+1)*a.it.Buckets] {
		if c < int64(floor) {
			c = 0 // a bucket below the floor would count too few records
		}
		row = append(row, strconv.FormatInt(c, 10))
	}
	return row
}

func (a *acc) sum(g int32) *big.Int {
	lo, hi := a.sumLo[g], a.sumHi[g]
	if hi == int64(lo)>>63 {
		return big.NewInt(int64(lo))
	}
	s := new(big.Int).Lsh(big.NewInt(hi), 64)
	return s.Add(s, new(big.Int).SetUint64(lo))
}

// stddev is the population standard deviation scaled by 10^Scale and
// rounded half up: with n records, S = Σv, Q = Σv², N = n·Q − S² and
// M = N·10^(2·Scale), σ·10^Scale = √M / n and the result is
// ⌊(⌊2√M⌋ + n) / 2n⌋ (exact: no floating point).
func (a *acc) stddev(g int32) *big.Int {
	s := a.sum(g)
	q := new(big.Int).SetUint64(a.sq[g][2])
	q.Lsh(q, 64).Add(q, new(big.Int).SetUint64(a.sq[g][1]))
	q.Lsh(q, 64).Add(q, new(big.Int).SetUint64(a.sq[g][0]))
	n := big.NewInt(a.n[g])
	num := new(big.Int).Mul(n, q)
	num.Sub(num, new(big.Int).Mul(s, s))
	m := num.Mul(num, pow10sq)
	r := m.Sqrt(m.Lsh(m, 2))
	r.Add(r, n)
	return r.Quo(r, n.Lsh(n, 1))
}

var (
	pow10   = new(big.Int).Exp(big.NewInt(10), big.NewInt(Scale), nil)
	pow10sq = new(big.Int).Mul(pow10, pow10)
)

// roundDiv is x/d rounded half away from zero (d > 0).
func roundDiv(x, d *big.Int) *big.Int {
	ax := new(big.Int).Abs(x)
	ax.Lsh(ax, 1).Add(ax, d)
	ax.Quo(ax, new(big.Int).Lsh(d, 1))
	if x.Sign() < 0 {
		ax.Neg(ax)
	}
	return ax
}

// decimal writes v·10^−Scale with exactly Scale decimal places.
func decimal(v *big.Int) string {
	s := new(big.Int).Abs(v).String()
	for len(s) <= Scale {
		s = "0" + s
	}
	out := s[:len(s)-Scale] + "." + s[len(s)-Scale:]
	if v.Sign() < 0 {
		out = "-" + out
	}
	return out
}
