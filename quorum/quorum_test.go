package quorum

import (
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
)

type stakes map[common.Address]*big.Int

func (s stakes) StakeOf(a common.Address) *big.Int { return s[a] }
func (s stakes) TotalStake() *big.Int {
	t := new(big.Int)
	for _, v := range s {
		t.Add(t, v)
	}
	return t
}

func TestVoteDigestMatchesWallets(t *testing.T) {
	t.Parallel()
	v := Vote{IDAO: "demo", Submission: common.HexToHash("0x1"), ResultDigest: common.HexToHash("0x2"), Approve: true, Reason: "ok"}
	want, err := eip712.HashTypedData(v.TypedData(7))
	if err != nil {
		t.Fatal(err)
	}
	if v.Digest(7) != want {
		t.Fatalf("digest %s, apitypes %s", v.Digest(7), want)
	}
}

func TestCheckQC(t *testing.T) {
	t.Parallel()
	set := stakes{}
	sub, dig := common.HexToHash("0xaa"), common.HexToHash("0xbb")
	vote := func(i int) Vote {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprint("q", i))))
		v := Vote{IDAO: "d", Submission: sub, ResultDigest: dig, Approve: true}
		if err := v.Sign(k, 1); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := 0; i < 3; i++ {
		set[vote(i).Member] = big.NewInt(10)
	}
	qc := func(vs ...Vote) *QC { return &QC{IDAO: "d", Submission: sub, ResultDigest: dig, Votes: vs} }
	if _, err := CheckQC(qc(vote(0), vote(1)), 1, set); err != nil {
		t.Fatalf("2 of 3: %v", err)
	}
	other := vote(1)
	other.ResultDigest = common.HexToHash("0xcc")
	for name, c := range map[string]struct {
		q    *QC
		want error
	}{
		"below 2/3":    {qc(vote(0)), ErrNoQuorum},
		"non-member":   {qc(vote(0), vote(1), vote(5)), ErrNotMember},
		"twice":        {qc(vote(0), vote(0), vote(1)), ErrDuplicateVote},
		"other digest": {qc(vote(0), other), ErrWrongDigest},
	} {
		if _, err := CheckQC(c.q, 1, set); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if _, err := CheckQC(qc(vote(0), vote(1)), 2, set); err == nil {
		t.Error("votes accepted under another chain id")
	}
	a, b := vote(0), vote(0)
	b.ResultDigest = common.HexToHash("0xdd")
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("q0")))
	b.Sign(k, 1)
	if m, err := CheckEquivocation(&a, &b, 1); err != nil || m != a.Member {
		t.Fatalf("equivocation: %v", err)
	}
	if _, err := CheckEquivocation(&a, &a, 1); !errors.Is(err, ErrNotEquivocal) {
		t.Fatal("same vote is not an equivocation")
	}
}
