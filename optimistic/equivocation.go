package optimistic

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/quorum"
)

// CheckEquivocation proves that one member signed approving votes for two
// different result digests of one submission of one iDAO (quorum's EIP-712
// votes), and returns that member. A member never needs to: in optimistic
// mode members vote only on finalized claims, so this is the one thing a
// member can be slashed for.
func CheckEquivocation(a, b *quorum.Vote, chainID uint64) (common.Address, error) {
	m, err := quorum.CheckEquivocation(a, b, chainID)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrNotEquivocation, err)
	}
	return m, nil
}

// EquivocationSlash splits a member's slashed stake: the prover of the
// equivocation gets Params.EquivocationShareBps of it, the rest is burned.
func EquivocationSlash(member common.Address, stake *big.Int, prover common.Address, p Params) *Settlement {
	to, burn := Split(stake, p.EquivocationShareBps)
	st := &Settlement{Burned: burn}
	st.release(member, stake)
	st.pay(prover, to, "equivocation reward")
	return st
}
