package query

import "slices"

// groups is the partition of the selected records: gid[j] is the group of
// record sel[j]; first[g] is a record of group g (to read its key back).
type groups struct {
	gid   []int32
	first []int32
	count []int64
}

// groupRecords partitions sel by the GROUP BY columns, keyed on the int64
// tuple (one map per key width, so short keys hash fast).
func groupRecords(q *Query, c *columns, sel []int32) *groups {
	g := &groups{gid: make([]int32, len(sel))}
	cols := make([][]int64, len(q.GroupBy))
	for k, gc := range q.GroupBy {
		cols[k] = c.col(gc.Name)
	}
	switch len(cols) {
	case 0:
		if len(sel) > 0 {
			g.first = []int32{sel[0]}
		}
	case 1:
		a := cols[0]
		partition(g, sel, func(i int32) int64 { return a[i] })
	case 2:
		a, b := cols[0], cols[1]
		partition(g, sel, func(i int32) [2]int64 { return [2]int64{a[i], b[i]} })
	case 3, 4:
		partition(g, sel, func(i int32) (k [4]int64) {
			for j, col := range cols {
				k[j] = col[i]
			}
			return k
		})
	default:
		partition(g, sel, func(i int32) (k [MaxGroupBy]int64) {
			for j, col := range cols {
				k[j] = col[i]
			}
			return k
		})
	}
	g.count = make([]int64, len(g.first))
	for _, id := range g.gid {
		g.count[id]++
	}
	return g
}

func partition[K comparable](g *groups, sel []int32, key func(int32) K) {
	ids := map[K]int32{}
	for j, i := range sel {
		k := key(i)
		id, ok := ids[k]
		if !ok {
			id = int32(len(g.first))
			ids[k] = id
			g.first = append(g.first, i)
		}
		g.gid[j] = id
	}
}

// order returns the groups that reach the floor, sorted by their key tuple,
// and how many were suppressed.
func (g *groups) order(q *Query, c *columns, floor int) (keep []int32, suppressed int) {
	cols := make([][]int64, len(q.GroupBy))
	for k, gc := range q.GroupBy {
		cols[k] = c.col(gc.Name)
	}
	for id, n := range g.count {
		if n >= int64(floor) {
			keep = append(keep, int32(id))
		} else {
			suppressed++
		}
	}
	slices.SortFunc(keep, func(a, b int32) int {
		ra, rb := g.first[a], g.first[b]
		for _, col := range cols {
			if x, y := col[ra], col[rb]; x != y {
				if x < y {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	return keep, suppressed
}

// dense renumbers the kept groups 0…len(keep)−1 in keep's order and drops
// the records of suppressed groups from sel (and gid), so aggregates work
// only for groups that are shown. It returns the new sel and, per kept
// group, a record of it and its size.
func (g *groups) dense(sel []int32, keep []int32) (kept, first []int32, count []int64) {
	newID := make([]int32, len(g.first))
	for i := range newID {
		newID[i] = -1
	}
	first, count = make([]int32, len(keep)), make([]int64, len(keep))
	for k, id := range keep {
		newID[id], first[k], count[k] = int32(k), g.first[id], g.count[id]
	}
	n := 0
	for j, i := range sel {
		if id := newID[g.gid[j]]; id >= 0 {
			sel[n], g.gid[n] = i, id
			n++
		}
	}
	g.gid = g.gid[:n]
	return sel[:n], first, count
}
