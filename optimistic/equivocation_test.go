package optimistic

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/quorum"
)

func TestCheckEquivocation(t *testing.T) {
	t.Parallel()
	key, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	const chainID = 7
	sign := func(k *ecdsa.PrivateKey, sub, digest common.Hash) *quorum.Vote {
		v := &quorum.Vote{IDAO: "demo", Submission: sub, ResultDigest: digest, Approve: true}
		if err := v.Sign(k, chainID); err != nil {
			t.Fatal(err)
		}
		return v
	}
	s1, s2 := common.Hash{1}, common.Hash{2}
	d1, d2 := common.Hash{0xd1}, common.Hash{0xd2}
	a := sign(key, s1, d1)
	b := sign(key, s1, d2)
	m, err := CheckEquivocation(a, b, chainID)
	if err != nil || m != crypto.PubkeyToAddress(key.PublicKey) {
		t.Fatalf("equivocation: %v %s", err, m)
	}
	for name, pair := range map[string][2]*quorum.Vote{
		"same digest":      {a, sign(key, s1, d1)},
		"other submission": {a, sign(key, s2, d2)},
		"other member":     {a, sign(other, s1, d2)},
		"forged signature": {a, func() *quorum.Vote { v := *b; v.Signature = append([]byte(nil), a.Signature...); return &v }()},
		"other chain's votes": {a, func() *quorum.Vote {
			v := &quorum.Vote{IDAO: "demo", Submission: s1, ResultDigest: d2, Approve: true}
			_ = v.Sign(key, chainID+1)
			return v
		}()},
	} {
		if _, err := CheckEquivocation(pair[0], pair[1], chainID); !errors.Is(err, ErrNotEquivocation) {
			t.Errorf("%s: accepted", name)
		}
	}
	st := EquivocationSlash(common.Address{4}, big.NewInt(1001), common.Address{5}, DefaultParams())
	if st.Total().Int64() != 1001 || st.ReleasedTotal().Int64() != 1001 || st.Payouts[0].Amount.Int64() != 500 {
		t.Fatalf("slash split: %+v", st)
	}
}
