package quorum

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/idao"
)

// QCHeight picks, for iDAO d, the stake height for an anchor sent now, with the chain's
// head at head, of a QC whose approving votes are by voters: the head if
// the votes make a QC there (the common case), else the latest earlier
// height, no older than half the QC stake window (the anchor has the other
// half to land), at which they do — so stake that joined after the votes
// were counted cannot dilute them away. It returns head when no height
// qualifies (the chain then refuses the anchor with the reason).
func QCHeight(d *idao.IDAO, voters []common.Address, head, now uint64, p idao.Params) uint64 {
	holds := func(h uint64) bool {
		s, err := d.QCStake(h, h+1, now, p) // as an anchor in the block after h counts it
		if err != nil {
			return false
		}
		sum, seen := new(big.Int), map[common.Address]bool{}
		for _, v := range voters {
			if !seen[v] {
				seen[v] = true
				sum.Add(sum, s.StakeOf(v))
			}
		}
		return Tally{Approved: sum, Total: s.TotalStake()}.Reached()
	}
	if holds(head) {
		return head
	}
	lo := uint64(0)
	if half := p.QCStakeWindow / 2; head > half {
		lo = head - half
	}
	// the stake only changes at the heights of history points: the candidates
	// are the heights just before each change
	var cands []uint64
	add := func(h []idao.StakePoint) {
		for _, pt := range h {
			if pt.Height > lo && pt.Height <= head {
				cands = append(cands, pt.Height-1)
			}
		}
	}
	add(d.Totals)
	for _, v := range voters {
		if m := d.Member(v); m != nil {
			add(m.History)
		}
	}
	best := uint64(0)
	found := false
	for _, h := range cands {
		if (!found || h > best) && holds(h) {
			best, found = h, true
		}
	}
	if !found {
		return head
	}
	return best
}
