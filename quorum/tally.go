package quorum

import "math/big"

// Tally is the ⅔-of-stake rule, the one place it is written: the chain's
// QC check (CheckQCSigners), the choice of a QC's stake height
// (quorum.QCHeight) and the coordinator's vote count (coordinator/store) all
// ask a Tally.
//
// Approved is the stake approving one result digest, Total the iDAO's
// voting stake the QC is counted against, and Voted the stake that has
// voted at all, for any digest or against (nil: Approved). A nil amount
// counts as 0.
type Tally struct {
	Approved *big.Int
	Voted    *big.Int
	Total    *big.Int
}

// Reached reports whether the approving stake makes a QC: a positive total
// of which it is at least two thirds (3 × approved ≥ 2 × total). An iDAO
// with no stake certifies nothing.
func (t Tally) Reached() bool { return twoThirds(t.Approved, t.Total) }

// Reachable reports whether a QC can still be reached: whether the
// approving stake, with all the stake that has not voted yet (Total −
// Voted) added to it, would reach two thirds. Once it is false, no later
// vote can certify the digest.
func (t Tally) Reachable() bool {
	voted := t.Voted
	if voted == nil {
		voted = t.Approved
	}
	best := new(big.Int).Sub(amount(t.Total), amount(voted))
	return twoThirds(best.Add(best, amount(t.Approved)), t.Total)
}

func twoThirds(x, total *big.Int) bool {
	x, total = amount(x), amount(total)
	return total.Sign() > 0 && new(big.Int).Mul(x, big.NewInt(3)).Cmp(new(big.Int).Mul(total, big.NewInt(2))) >= 0
}

func amount(x *big.Int) *big.Int {
	if x == nil {
		return new(big.Int)
	}
	return x
}
