package escrow

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

var (
	app  = common.HexToAddress("0xa")
	prov = common.HexToAddress("0xb")
)

func provider(fee int64) *Provider {
	return &Provider{Address: prov, Fee: big.NewInt(fee), Stake: big.NewInt(100)}
}

func TestRefundLockAndWithdraw(t *testing.T) {
	t.Parallel()
	a := NewAccount(app, prov)
	if err := a.Deposit(big.NewInt(50)); err != nil {
		t.Fatal(err)
	}
	if err := a.Deposit(big.NewInt(0)); !errors.Is(err, ErrZeroAmount) {
		t.Fatalf("zero deposit: %v", err)
	}
	if _, err := a.Refund(big.NewInt(60), 100, 10); !errors.Is(err, ErrInsufficient) {
		t.Fatalf("over-refund: %v", err)
	}
	if got, err := a.Refund(big.NewInt(20), 100, 10); err != nil || got.Int64() != 20 {
		t.Fatalf("refund %v %v", got, err)
	}
	if _, err := a.Withdraw(109); !errors.Is(err, ErrLocked) {
		t.Fatalf("withdraw in the lock: %v", err)
	}
	got, err := a.Withdraw(110)
	if err != nil || got.Int64() != 20 || a.Balance.Int64() != 30 || a.Pending.Sign() != 0 {
		t.Fatalf("withdraw %v %v, balance %s pending %s", got, err, a.Balance, a.Pending)
	}
	if _, err := a.Withdraw(200); !errors.Is(err, ErrNothingPending) {
		t.Fatalf("second withdraw: %v", err)
	}
}

func TestChargeTakesBalanceThenPending(t *testing.T) {
	t.Parallel()
	a := NewAccount(app, prov)
	_ = a.Deposit(big.NewInt(10))
	_, _ = a.Refund(big.NewInt(7), 0, 100)
	p := provider(5)
	j := &Job{App: app, Provider: prov, Units: 1, MaxFee: big.NewInt(5), Nonce: 1, Deadline: 50}
	fee, err := Charge(a, p, j, 10)
	if err != nil || fee.Int64() != 5 || a.Balance.Sign() != 0 || a.Pending.Int64() != 5 || a.Nonce != 1 {
		t.Fatalf("fee %v %v, balance %s pending %s nonce %d", fee, err, a.Balance, a.Pending, a.Nonce)
	}
	refusals := []struct {
		name string
		edit func(j *Job)
		err  error
	}{
		{"past deadline", func(j *Job) { j.Nonce, j.Deadline = 2, 9 }, ErrDeadline},
		{"max fee below the provider's", func(j *Job) { j.Nonce, j.MaxFee = 2, big.NewInt(4) }, ErrFeeBelowProvider},
		{"another provider", func(j *Job) { j.Nonce, j.Provider = 2, app }, ErrWrongProvider},
	}
	for _, c := range refusals {
		jj := *j
		c.edit(&jj)
		if _, err := Charge(a, p, &jj, 10); !errors.Is(err, c.err) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	j2 := *j
	j2.Nonce = 2
	if _, err := Charge(a, p, &j2, 10); err != nil || a.Held().Sign() != 0 {
		t.Fatalf("second charge: %v, held %s", err, a.Held())
	}
	j2.Nonce = 3
	if _, err := Charge(a, p, &j2, 10); !errors.Is(err, ErrInsufficient) {
		t.Fatalf("empty account charged: %v", err)
	}
}
