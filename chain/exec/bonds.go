package exec

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// The user-bond kinds: a bond locked under an arbiter, who alone may
// release or slash it. (The optimistic game's bonds are in optimistic.go.)
var bondRules = map[tx.Kind]rule{
	tx.KindBondLock: kind[*tx.BondLock]{
		access: func(a *accessList, b *tx.BondLock) { a.write(state.UserBondKey(b.ID)) },
		moves:  func(b *tx.BondLock) *big.Int { return b.Amount },
		apply:  (*run).bondLock,
	}.rule(),
	tx.KindBondRelease: kind[*tx.BondRelease]{
		access: func(a *accessList, b *tx.BondRelease) { a.write(state.UserBondKey(b.ID), state.AccountKey(b.Owner)) },
		apply:  (*run).bondRelease,
	}.rule(),
	tx.KindBondSlash: kind[*tx.BondSlash]{
		access: func(a *accessList, b *tx.BondSlash) {
			a.write(state.UserBondKey(b.ID), state.AccountKey(b.Owner), state.AccountKey(b.Winner), state.BurnedKey)
		},
		apply: (*run).bondSlash,
	}.rule(),
}

func (r *run) bondLock(b *tx.BondLock) error {
	if !positive(b.Amount) {
		return ErrBadAmount
	}
	if r.v.get(state.UserBondKey(b.ID)) != nil {
		return ErrBondExists
	}
	acc, err := r.debit(r.p.Sender, b.Amount, "bond")
	if err != nil {
		return err
	}
	acc.Bonded = new(big.Int).Add(acc.Bonded, b.Amount)
	r.putAccount(r.p.Sender, acc)
	r.v.put(state.UserBondKey(b.ID), state.Encode(&state.Bond{ID: b.ID, Owner: r.p.Sender, Amount: b.Amount,
		Arbiter: b.Arbiter, Purpose: b.Purpose, Height: r.env.Height}))
	r.emit("bond_locked", "id", hx(b.ID), "owner", hx(r.p.Sender), "amount", b.Amount.String(), "arbiter", hx(b.Arbiter))
	return nil
}

// bond loads a user bond for its arbiter.
func (r *run) bond(id common.Hash, owner common.Address) (*state.Bond, error) {
	bd := new(state.Bond)
	if err := r.load(state.UserBondKey(id), bd, fmt.Errorf("%w: %s", ErrUnknownBond, id)); err != nil {
		return nil, err
	}
	if bd.Arbiter != r.p.Sender {
		return nil, ErrNotArbiter
	}
	if bd.Owner != owner {
		return nil, fmt.Errorf("%w: bond owner is %s", ErrMismatch, bd.Owner)
	}
	return bd, nil
}

func (r *run) unbond(owner common.Address, amount, give *big.Int) error {
	acc, err := r.account(owner)
	if err != nil {
		return err
	}
	acc.Bonded = new(big.Int).Sub(acc.Bonded, amount)
	acc.Balance = new(big.Int).Add(acc.Balance, give)
	r.putAccount(owner, acc)
	return nil
}

func (r *run) bondRelease(b *tx.BondRelease) error {
	bd, err := r.bond(b.ID, b.Owner)
	if err != nil {
		return err
	}
	if err := r.unbond(bd.Owner, bd.Amount, bd.Amount); err != nil {
		return err
	}
	r.v.put(state.UserBondKey(b.ID), nil)
	r.emit("bond_released", "id", hx(b.ID), "owner", hx(bd.Owner), "amount", bd.Amount.String())
	return nil
}

func (r *run) bondSlash(b *tx.BondSlash) error {
	bd, err := r.bond(b.ID, b.Owner)
	if err != nil {
		return err
	}
	win := b.WinnerAmount
	if win == nil {
		win = new(big.Int)
	}
	if win.Cmp(bd.Amount) > 0 {
		return fmt.Errorf("%w: winner share %s above bond %s", ErrBadAmount, win, bd.Amount)
	}
	if err := r.unbond(bd.Owner, bd.Amount, new(big.Int)); err != nil {
		return err
	}
	if err := r.credit(b.Winner, win); err != nil {
		return err
	}
	burned := new(big.Int).Sub(bd.Amount, win)
	r.burn(burned)
	r.v.put(state.UserBondKey(b.ID), nil)
	r.emit("bond_slashed", "id", hx(b.ID), "owner", hx(bd.Owner), "winner", hx(b.Winner),
		"to_winner", win.String(), "burned", burned.String())
	return nil
}
