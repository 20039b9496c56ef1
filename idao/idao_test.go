package idao

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestStakeLifecycle(t *testing.T) {
	owner, m := common.HexToAddress("0x2"), common.HexToAddress("0x1")
	if _, err := New("Bad Name", owner, Policy{Modes: []string{"tee"}}, nil, 0); !errors.Is(err, ErrBadName) {
		t.Fatal(err)
	}
	if _, err := New("x", owner, Policy{Modes: []string{"magic"}}, nil, 0); !errors.Is(err, ErrBadMode) {
		t.Fatal(err)
	}
	d, err := New("x", owner, Policy{Modes: []string{"tee+zk", "optimistic"}, UnstakeDelay: 100}, big.NewInt(30), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Join(m, big.NewInt(10)); err != nil || d.Members[0].Addr != m {
		t.Fatalf("join %v: members must stay sorted", err)
	}
	if err := d.Leave(m, big.NewInt(11), 5); !errors.Is(err, ErrInsufficientStake) {
		t.Fatal(err)
	}
	if err := d.Leave(m, big.NewInt(10), 5); err != nil || d.TotalStake().Int64() != 30 || d.Held().Int64() != 40 {
		t.Fatalf("leave: %v total %s held %s", err, d.TotalStake(), d.Held())
	}
	if _, err := d.Withdraw(m, 104); !errors.Is(err, ErrUnstakeTooEarly) {
		t.Fatal(err)
	}
	if got, err := d.Withdraw(m, 105); err != nil || got.Int64() != 10 || d.Member(m) != nil {
		t.Fatalf("withdraw %v %v", got, err)
	}
	if err := d.SetPolicy(m, Policy{Modes: []string{"zk"}}); !errors.Is(err, ErrNotOwner) {
		t.Fatal(err)
	}
	if taken, _ := d.Slash(owner, big.NewInt(100)); taken.Int64() != 30 {
		t.Fatalf("slash took %s", taken)
	}
}
