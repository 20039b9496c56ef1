package dat

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func addr(i int) common.Address { return common.BigToAddress(big.NewInt(int64(i + 1))) }
func id(i int) common.Hash      { return common.BigToHash(big.NewInt(int64(i + 1))) }

// TestConservationRandom: over random buys, splits, transfers and claims,
// the pool always equals what holders can claim plus dust, shares always
// sum to the total, and every unit paid in is either in the pool or paid out.
func TestConservationRandom(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		c, first, err := NewClass(MintParams{ID: id(0), Price: big.NewInt(int64(1 + rng.IntN(97))), TotalShares: uint64(1 + rng.IntN(1000)), Owner: addr(0), FirstToken: id(1), FirstValue: 5})
		if err != nil {
			t.Fatal(err)
		}
		tokens := []*Token{first}
		paidIn, paidOut := new(big.Int), new(big.Int)
		for step := 0; step < 300; step++ {
			tk := tokens[rng.IntN(len(tokens))]
			switch rng.IntN(4) {
			case 0:
				nt, cost, err := Buy(c, addr(rng.IntN(5)), uint64(1+rng.IntN(9)), id(len(tokens)+10), 0)
				if err != nil {
					t.Fatal(err)
				}
				paidIn.Add(paidIn, cost)
				tokens = append(tokens, nt)
			case 1:
				if tk.Shares > 0 {
					nt, err := Split(c, tk, tk.Owner, addr(rng.IntN(5)), 0, uint64(rng.IntN(int(tk.Shares)+1)), id(len(tokens)+10))
					if err == nil {
						tokens = append(tokens, nt)
					} else if !errors.Is(err, ErrZeroUnits) {
						t.Fatal(err)
					}
				}
			case 2:
				if to := addr(rng.IntN(5)); to != tk.Owner {
					paid, err := TransferWhole(c, tk, tk.Owner, to)
					if err != nil {
						t.Fatal(err)
					}
					paidOut.Add(paidOut, paid)
				}
			case 3:
				paid, err := Claim(c, tk, tk.Owner)
				if err != nil {
					t.Fatal(err)
				}
				paidOut.Add(paidOut, paid)
				again, _ := Claim(c, tk, tk.Owner)
				if again.Sign() != 0 {
					t.Fatalf("second claim paid %s", again)
				}
			}
			if err := CheckConservation(c, tokens); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			if new(big.Int).Add(c.Pool, paidOut).Cmp(paidIn) != 0 || c.Claimed.Cmp(paidOut) != 0 {
				t.Fatalf("seed %d step %d: in %s, pool %s + out %s", seed, step, paidIn, c.Pool, paidOut)
			}
		}
		// Dust is less than one unit per token plus one.
		claimable := new(big.Int)
		for _, tk := range tokens {
			claimable.Add(claimable, Claimable(c, tk))
		}
		if dust := new(big.Int).Sub(c.Pool, claimable); dust.Sign() < 0 || dust.Cmp(big.NewInt(int64(len(tokens)+1))) > 0 {
			t.Fatalf("seed %d: dust %s", seed, dust)
		}
	}
}

func TestRedeemRules(t *testing.T) {
	t.Parallel()
	c, _, _ := NewClass(MintParams{ID: id(0), Price: big.NewInt(3), TotalShares: 10, Validity: 100, Owner: addr(0), FirstToken: id(1)})
	tk, _, _ := Buy(c, addr(1), 5, id(2), 1000)
	for _, tc := range []struct {
		who   common.Address
		units uint64
		now   uint64
		want  error
	}{
		{addr(2), 1, 1000, ErrNotOwner},
		{addr(1), 6, 1000, ErrInsufficientUnits},
		{addr(1), 0, 1000, ErrZeroUnits},
		{addr(1), 1, 1100, ErrExpired},
	} {
		if err := Redeem(tk, tc.who, tc.units, tc.now); !errors.Is(err, tc.want) {
			t.Fatalf("got %v want %v", err, tc.want)
		}
	}
	if err := Redeem(tk, addr(1), 5, 1099); err != nil || tk.Value != 0 {
		t.Fatalf("redeem all: %v %d", err, tk.Value)
	}
}
