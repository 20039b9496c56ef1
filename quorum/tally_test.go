package quorum

import (
	"math/big"
	"testing"
)

func TestTally(t *testing.T) {
	n := func(x int64) *big.Int { return big.NewInt(x) }
	for _, c := range []struct {
		name                 string
		tally                Tally
		reached, stillCanWin bool
	}{
		{"exactly two thirds", Tally{Approved: n(2), Voted: n(2), Total: n(3)}, true, true},
		{"just below", Tally{Approved: n(199), Voted: n(199), Total: n(300)}, false, true},
		{"all of it", Tally{Approved: n(5), Total: n(5)}, true, true},
		{"no stake certifies nothing", Tally{Approved: n(0), Total: n(0)}, false, false},
		{"nil amounts are 0", Tally{}, false, false},
		{"the rest could still make it", Tally{Approved: n(1), Voted: n(1), Total: n(3)}, false, true},
		{"a third refused", Tally{Approved: n(2), Voted: n(4), Total: n(6)}, false, true},
		{"more than a third refused", Tally{Approved: n(1), Voted: n(3), Total: n(4)}, false, false},
		{"split digests", Tally{Approved: n(3), Voted: n(6), Total: n(7)}, false, false},
	} {
		if got := c.tally.Reached(); got != c.reached {
			t.Errorf("%s: Reached = %v, want %v", c.name, got, c.reached)
		}
		if got := c.tally.Reachable(); got != c.stillCanWin {
			t.Errorf("%s: Reachable = %v, want %v", c.name, got, c.stillCanWin)
		}
	}
}
