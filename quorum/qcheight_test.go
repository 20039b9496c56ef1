package quorum

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/idao"
)

// An anchor names the latest height at which its votes make a QC: the head,
// or, after stake joined that would dilute them, the height before the join.
func TestQCHeightDodgesDilution(t *testing.T) {
	t.Parallel()
	p := idao.Params{SlashWindow: 50, MinUnstakeDelay: 100, MinStake: big.NewInt(5), MaxMembers: 3, QCStakeWindow: 10}
	p.QCStakeWindow, p.MaxMembers = 100, 10
	a, b, c, late := common.HexToAddress("0x1"), common.HexToAddress("0x2"), common.HexToAddress("0x3"), common.HexToAddress("0x4")
	d, _ := idao.New("x", a, idao.Policy{Modes: []idao.Mode{"tee"}}, big.NewInt(10), 0, 1, p)
	_ = d.Join(b, big.NewInt(10), 2, p)
	_ = d.Join(c, big.NewInt(10), 3, p)
	voters := []common.Address{a, b}
	if h := QCHeight(d, voters, 20, 0, p); h != 20 {
		t.Fatalf("no dilution: height %d, want the head 20", h)
	}
	if err := d.Join(late, big.NewInt(1000), 25, p); err != nil {
		t.Fatal(err)
	}
	h := QCHeight(d, voters, 30, 0, p)
	if h != 24 {
		t.Fatalf("after a join at 25: height %d, want 24", h)
	}
	s, err := d.QCStake(h, 31, 0, p)
	if err != nil || s.StakeOf(a).Int64()+s.StakeOf(b).Int64() != 20 || s.TotalStake().Int64() != 30 {
		t.Fatalf("stake at %d: %v", h, err)
	}
	// long after the join, no recent height qualifies: the head, refused by the chain
	if h := QCHeight(d, voters, 200, 0, p); h != 200 {
		t.Fatalf("height %d, want the head", h)
	}
}
