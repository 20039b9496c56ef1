package exec

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// The account kinds.
var accountRules = map[tx.Kind]rule{
	tx.KindTransfer: kind[*tx.Transfer]{
		access: func(a *accessList, b *tx.Transfer) { a.write(state.AccountKey(b.To)) },
		moves:  func(b *tx.Transfer) *big.Int { return b.Amount },
		apply:  (*run).transfer,
	}.rule(),
}

type cachedAccount struct {
	addr  common.Address
	acc   *state.Account
	dirty bool
}

func (r *run) account(a common.Address) (*state.Account, error) {
	for i := range r.accs {
		if r.accs[i].addr == a {
			return r.accs[i].acc, nil
		}
	}
	b := r.v.get(state.AccountKey(a))
	var acc *state.Account
	if b == nil {
		acc = state.NewAccount()
	} else {
		acc = new(state.Account)
		if err := state.Decode(b, acc); err != nil {
			return nil, fmt.Errorf("decode account %s: %w", a, err)
		}
	}
	r.accs = append(r.accs, cachedAccount{addr: a, acc: acc})
	return acc, nil
}

// putAccount marks a's account (as returned by account) changed.
func (r *run) putAccount(a common.Address, acc *state.Account) {
	for i := range r.accs {
		if r.accs[i].addr == a {
			r.accs[i].acc, r.accs[i].dirty = acc, true
			return
		}
	}
	r.accs = append(r.accs, cachedAccount{addr: a, acc: acc, dirty: true})
}

// flushAccounts encodes the changed accounts into the view.
func (r *run) flushAccounts() {
	for _, c := range r.accs {
		if c.dirty {
			r.v.put(state.AccountKey(c.addr), state.Encode(c.acc))
		}
	}
}

func copyAccount(a *state.Account) *state.Account {
	return &state.Account{Nonce: a.Nonce, Balance: new(big.Int).Set(a.Balance),
		Staked: new(big.Int).Set(a.Staked), Bonded: new(big.Int).Set(a.Bonded)}
}

// debit takes amount from a's balance.
func (r *run) debit(a common.Address, amount *big.Int, what string) (*state.Account, error) {
	acc, err := r.account(a)
	if err != nil {
		return nil, err
	}
	if acc.Balance.Cmp(amount) < 0 {
		return nil, fmt.Errorf("%w to %s: have %s, need %s", ErrInsufficientFunds, what, acc.Balance, amount)
	}
	acc.Balance.Sub(acc.Balance, amount)
	return acc, nil
}

func (r *run) credit(a common.Address, amount *big.Int) error {
	if amount.Sign() == 0 {
		return nil
	}
	acc, err := r.account(a)
	if err != nil {
		return err
	}
	acc.Balance.Add(acc.Balance, amount)
	r.putAccount(a, acc)
	return nil
}

// stakeMove moves between a's balance and its stake.
func (r *run) stakeMove(a common.Address, balanceDelta, stakedDelta *big.Int) error {
	acc, err := r.account(a)
	if err != nil {
		return err
	}
	nb := new(big.Int).Add(acc.Balance, balanceDelta)
	if nb.Sign() < 0 {
		return fmt.Errorf("%w to stake: have %s, need %s", ErrInsufficientFunds, acc.Balance, new(big.Int).Neg(balanceDelta))
	}
	acc.Balance = nb
	acc.Staked = new(big.Int).Add(acc.Staked, stakedDelta)
	r.putAccount(a, acc)
	return nil
}

// burn adds amount to the chain's burned total.
func (r *run) burn(amount *big.Int) {
	cur := new(big.Int).SetBytes(r.v.get(state.BurnedKey))
	cur.Add(cur, amount)
	r.v.put(state.BurnedKey, cur.Bytes())
}

func (r *run) transfer(b *tx.Transfer) error {
	if b.Amount == nil || b.Amount.Sign() < 0 {
		return ErrBadAmount
	}
	from, err := r.debit(r.p.Sender, b.Amount, "transfer")
	if err != nil {
		return err
	}
	r.putAccount(r.p.Sender, from)
	if err := r.credit(b.To, b.Amount); err != nil {
		return err
	}
	r.emit("transfer", "from", hx(r.p.Sender), "to", hx(b.To), "amount", b.Amount.String())
	return nil
}
