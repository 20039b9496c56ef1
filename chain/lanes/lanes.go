// Package lanes is the scheduler of parallel execution. Every tx declares
// the state keys it reads and writes before it runs (Solana's account locks
// are the model); two txs conflict when one writes a key the other reads or
// writes. Schedule puts each connected group of conflicting txs in one lane,
// in block order, and spreads the groups over the lanes, so lanes can run
// concurrently and still give the result of sequential execution.
package lanes

import (
	"slices"
	"sort"
)

// Access is one declared state key.
type Access struct {
	Key   string
	Write bool
}

// Schedule groups txs (given by their declared accesses, in block order)
// into at most n lanes. Each lane lists tx indexes in ascending order. Txs in
// different lanes never conflict. The result is deterministic.
func Schedule(access [][]Access, n int) [][]int {
	if n < 1 {
		n = 1
	}
	m := len(access)
	if n == 1 || m == 0 {
		all := make([]int, m)
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	return spread(conflictGroups(access), n)
}

// conflictGroups are the connected groups of conflicting txs, each in
// block order, the groups in order of their first tx.
func conflictGroups(access [][]Access) [][]int {
	m := len(access)
	u := newUnionFind(m)
	// First writer of each key; every tx touching a written key joins it.
	writer := make(map[string]int32, 2*m)
	for i, acc := range access {
		for _, a := range acc {
			if !a.Write {
				continue
			}
			if w, ok := writer[a.Key]; ok {
				u.union(int32(i), w)
			} else {
				writer[a.Key] = int32(i)
			}
		}
	}
	for i, acc := range access {
		for _, a := range acc {
			if a.Write {
				continue
			}
			if w, ok := writer[a.Key]; ok {
				u.union(int32(i), w)
			}
		}
	}
	idx := make(map[int32]int, m)
	var groups [][]int
	for i := 0; i < m; i++ {
		r := u.find(int32(i))
		g, ok := idx[r]
		if !ok {
			g = len(groups)
			idx[r] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// spread puts the groups onto n lanes: largest group first onto the
// least-loaded lane (ties: lowest lane); empty lanes are left out.
func spread(groups [][]int, n int) [][]int {
	order := make([]int, len(groups))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(groups[order[a]]) > len(groups[order[b]]) })
	lanes := make([][]int, n)
	load := make([]int, n)
	for _, g := range order {
		best := 0
		for l := 1; l < n; l++ {
			if load[l] < load[best] {
				best = l
			}
		}
		lanes[best] = append(lanes[best], groups[g]...)
		load[best] += len(groups[g])
	}
	out := lanes[:0]
	for _, l := range lanes {
		if len(l) > 0 {
			slices.Sort(l)
			out = append(out, l)
		}
	}
	return out
}

// unionFind joins txs into groups; a group's root is its lowest index.
type unionFind []int32

func newUnionFind(m int) unionFind {
	u := make(unionFind, m)
	for i := range u {
		u[i] = int32(i)
	}
	return u
}

func (u unionFind) find(x int32) int32 {
	for u[x] != x {
		u[x] = u[u[x]]
		x = u[x]
	}
	return x
}

func (u unionFind) union(a, b int32) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if ra < rb {
		u[rb] = ra
	} else {
		u[ra] = rb
	}
}
