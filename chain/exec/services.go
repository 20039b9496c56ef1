package exec

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

// The data-service kinds: a provider's registration, an app's escrow with
// a provider (deposit, refund, withdraw) and the batched settlement of
// delivered jobs.
var serviceRules = map[tx.Kind]rule{
	tx.KindProviderRegister: kind[*tx.ProviderRegister]{
		access: func(a *accessList, b *tx.ProviderRegister) {
			a.read(state.IDAOKey(b.IDAO), state.EnclaveKey(b.IDAO, b.PubKey))
			a.write(state.ProviderKey(a.sender))
		},
		moves: func(b *tx.ProviderRegister) *big.Int { return b.Stake },
		apply: (*run).providerRegister,
	}.rule(),
	tx.KindEscrowDeposit: kind[*tx.EscrowDeposit]{
		access: func(a *accessList, b *tx.EscrowDeposit) {
			a.read(state.ProviderKey(b.Provider))
			a.write(state.EscrowKey(a.sender, b.Provider))
		},
		moves: func(b *tx.EscrowDeposit) *big.Int { return b.Amount },
		apply: (*run).escrowDeposit,
	}.rule(),
	tx.KindEscrowRefund: kind[*tx.EscrowRefund]{
		access: func(a *accessList, b *tx.EscrowRefund) { a.write(state.EscrowKey(a.sender, b.Provider)) },
		apply:  (*run).escrowRefund,
	}.rule(),
	tx.KindEscrowWithdraw: kind[*tx.EscrowWithdraw]{
		access: func(a *accessList, b *tx.EscrowWithdraw) { a.write(state.EscrowKey(a.sender, b.Provider)) },
		apply:  (*run).escrowWithdraw,
	}.rule(),
	tx.KindServiceSettle: kind[*tx.ServiceSettle]{
		access: func(a *accessList, b *tx.ServiceSettle) {
			a.read(state.IDAOKey(b.IDAO), state.ProviderKey(a.sender))
			for i := range b.Items {
				it := &b.Items[i]
				a.write(state.TokenKey(it.Request.Token), state.EscrowKey(it.App, a.sender), state.JobKey(it.ID),
					state.JobNonceKey(it.App, a.sender, it.Request.Nonce))
			}
		},
		prepare: prepareSettle,
		apply:   (*run).serviceSettle,
	}.rule(),
}

// JobPrep is what Prepare recovered for one settlement item: the request's
// digest, the app that signed it and the enclave that signed its result
// (zero addresses for signatures that do not recover, NotSigned when the
// result is not in the signed batch).
type JobPrep struct {
	Digest    common.Hash
	App       common.Address
	Enclave   common.Address
	NotSigned error
}

func prepareSettle(cfg *Config, p *Prepared, b *tx.ServiceSettle) {
	p.Jobs = make([]JobPrep, len(b.Items))
	for i := range b.Items {
		it := &b.Items[i]
		jp := JobPrep{Digest: it.Request.Digest(cfg.ChainID)}
		if a, err := recoverApp(jp.Digest, it.AppSig); err == nil {
			jp.App = a
		}
		jp.Enclave, jp.NotSigned = b.Proof(it).Signer(jp.Digest, it.ResultHash)
		p.Jobs[i] = jp
	}
}

func (r *run) provider(a common.Address) (*escrow.Provider, error) {
	p := new(escrow.Provider)
	if err := r.load(state.ProviderKey(a), p, fmt.Errorf("%w: %s", escrow.ErrUnknownProvider, a.Hex())); err != nil {
		return nil, err
	}
	return p, nil
}

// providerRegister makes the sender a provider of an iDAO: the enclave key
// must be registered for the iDAO (its attestation was checked against
// the iDAO's TEE policy then) and must have signed the sender's binding.
func (r *run) providerRegister(b *tx.ProviderRegister) error {
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	if r.v.get(state.EnclaveKey(b.IDAO, b.PubKey)) == nil {
		return fmt.Errorf("%w: the enclave key is not registered for iDAO %q", escrow.ErrNotAttested, b.IDAO)
	}
	pub, err := crypto.UnmarshalPubkey(b.PubKey)
	if err != nil {
		return fmt.Errorf("%w: %v", escrow.ErrBadProviderKey, err)
	}
	enclave := crypto.PubkeyToAddress(*pub)
	if signer, err := eip712.Recover(jobreq.ProviderBinding(r.cfg.ChainID, r.p.Sender), b.Binding); err != nil || signer != enclave {
		return escrow.ErrBadProviderKey
	}
	if r.v.get(state.ProviderKey(r.p.Sender)) != nil {
		return escrow.ErrProviderExists
	}
	fee, stake := orZero(b.Fee), orZero(b.Stake)
	if fee.Sign() < 0 || stake.Sign() < 0 {
		return escrow.ErrBadFee
	}
	acc, err := r.debit(r.p.Sender, stake, "stake as a provider")
	if err != nil {
		return err
	}
	acc.Bonded = new(big.Int).Add(acc.Bonded, stake)
	r.putAccount(r.p.Sender, acc)
	p := &escrow.Provider{Address: r.p.Sender, IDAO: b.IDAO, PubKey: b.PubKey, Enclave: enclave, Fee: fee, Stake: stake,
		PolicyHash: escrow.PolicyHash(d.Policy.TEEPolicy), Height: r.env.Height}
	r.v.put(state.ProviderKey(r.p.Sender), state.Encode(p))
	r.emit("provider_registered", "provider", hx(r.p.Sender), "idao", b.IDAO, "enclave", hx(enclave),
		"fee", fee.String(), "stake", stake.String())
	return nil
}

func orZero(x *big.Int) *big.Int {
	if x == nil {
		return new(big.Int)
	}
	return x
}

// escrowAccount loads app's sub-account with provider (an empty one when
// create and none exists).
func (r *run) escrowAccount(app, provider common.Address, create bool) (*escrow.Account, error) {
	a := new(escrow.Account)
	err := r.load(state.EscrowKey(app, provider), a, escrow.ErrNoAccount)
	if err == escrow.ErrNoAccount && create {
		return escrow.NewAccount(app, provider), nil
	}
	return a, err
}

func (r *run) putEscrow(a *escrow.Account) {
	r.v.put(state.EscrowKey(a.App, a.Provider), state.Encode(a))
}

func (r *run) escrowDeposit(b *tx.EscrowDeposit) error {
	if _, err := r.provider(b.Provider); err != nil {
		return err
	}
	a, err := r.escrowAccount(r.p.Sender, b.Provider, true)
	if err != nil {
		return err
	}
	if err := a.Deposit(b.Amount); err != nil {
		return err
	}
	acc, err := r.debit(r.p.Sender, b.Amount, "deposit")
	if err != nil {
		return err
	}
	r.putAccount(r.p.Sender, acc)
	r.putEscrow(a)
	r.emit("escrow_deposited", "app", hx(r.p.Sender), "provider", hx(b.Provider), "amount", b.Amount.String(),
		"balance", a.Balance.String())
	return nil
}

func (r *run) escrowRefund(b *tx.EscrowRefund) error {
	a, err := r.escrowAccount(r.p.Sender, b.Provider, false)
	if err != nil {
		return err
	}
	amt, err := a.Refund(b.Amount, r.env.Now(), r.cfg.ServiceParams().RefundLock)
	if err != nil {
		return err
	}
	r.putEscrow(a)
	r.emit("escrow_refunding", "app", hx(r.p.Sender), "provider", hx(b.Provider), "amount", amt.String(),
		"unlocks_at", strconv.FormatUint(a.UnlocksAt, 10))
	return nil
}

func (r *run) escrowWithdraw(b *tx.EscrowWithdraw) error {
	a, err := r.escrowAccount(r.p.Sender, b.Provider, false)
	if err != nil {
		return err
	}
	amt, err := a.Withdraw(r.env.Now())
	if err != nil {
		return err
	}
	if err := r.credit(r.p.Sender, amt); err != nil {
		return err
	}
	r.putEscrow(a)
	r.emit("escrow_withdrawn", "app", hx(r.p.Sender), "provider", hx(b.Provider), "amount", amt.String())
	return nil
}

// serviceSettle settles the sender's delivered jobs. The provider must be
// registered and still attested under its iDAO's TEE policy (else nothing
// lands); then each item is checked on its own and a bad one is skipped
// with a "job_skipped" event naming it and the failure's code.
func (r *run) serviceSettle(b *tx.ServiceSettle) error {
	if len(b.Items) == 0 || len(b.Items) > tx.MaxSettleBatch {
		return fmt.Errorf("%w: a settlement holds 1 to %d items, got %d", ErrSettleBatch, tx.MaxSettleBatch, len(b.Items))
	}
	p, err := r.provider(r.p.Sender)
	if err != nil {
		return err
	}
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	if p.IDAO != b.IDAO || !p.Attested(d.Policy.TEEPolicy) {
		return fmt.Errorf("%w: provider %s of iDAO %q", escrow.ErrNotAttested, p.Address.Hex(), p.IDAO)
	}
	for i := range b.Items {
		if err := r.settleItem(p, &b.Items[i], &r.p.Jobs[i]); err != nil {
			r.skip("job_skipped", []string{"job", hx(b.Items[i].ID)}, err)
		}
	}
	return nil
}

// settleItem checks one delivered job and, only if every check passes,
// consumes its units, pays the fee to the provider and records it settled.
func (r *run) settleItem(p *escrow.Provider, it *tx.SettleItem, prep *JobPrep) error {
	switch {
	case it.Request.Valid() != nil:
		return it.Request.Valid()
	case prep.Digest != it.ID:
		return fmt.Errorf("%w: item %s, signed request %s", ErrJobID, it.ID.Hex(), prep.Digest.Hex())
	case prep.App == (common.Address{}) || prep.App != it.App:
		return jobreq.ErrWrongSigner
	case prep.NotSigned != nil:
		return fmt.Errorf("%w: %v", jobreq.ErrNotSigned, prep.NotSigned)
	case prep.Enclave != p.Enclave:
		return fmt.Errorf("%w: signed by %s, registered %s", escrow.ErrWrongEnclave, prep.Enclave.Hex(), p.Enclave.Hex())
	case r.v.get(state.JobKey(it.ID)) != nil:
		return escrow.ErrAlreadySettled
	case r.v.get(state.JobNonceKey(it.App, p.Address, it.Request.Nonce)) != nil:
		return fmt.Errorf("%w: nonce %d", escrow.ErrNonce, it.Request.Nonce)
	}
	req := &it.Request
	tok, err := r.token(req.Token)
	if err != nil {
		return err
	}
	if tok.Class != req.Class {
		return escrow.ErrWrongClass
	}
	acc, err := r.escrowAccount(it.App, p.Address, false)
	if err != nil {
		return err
	}
	now := r.env.Now()
	job := &escrow.Job{App: it.App, Provider: req.Provider, Units: req.Units, MaxFee: req.MaxFee, Nonce: req.Nonce, Deadline: req.Deadline}
	if err := escrow.Check(acc, p, job, now); err != nil {
		return err
	}
	if err := dat.Redeem(tok, it.App, req.Units, now); err != nil {
		return err
	}
	fee, err := escrow.Charge(acc, p, job, now)
	if err != nil {
		return err
	}
	if err := r.credit(p.Address, fee); err != nil {
		return err
	}
	r.v.put(state.TokenKey(tok.ID), state.Encode(tok))
	r.putEscrow(acc)
	r.v.put(state.JobNonceKey(it.App, p.Address, req.Nonce), []byte{1})
	r.v.put(state.JobKey(it.ID), state.Encode(&escrow.Settled{ID: it.ID, App: it.App, Provider: p.Address, Class: req.Class,
		Token: req.Token, Units: req.Units, Fee: fee, ResultHash: it.ResultHash, Tx: r.p.Hash, Height: r.env.Height}))
	r.emit("job_settled", "job", hx(it.ID), "app", hx(it.App), "provider", hx(p.Address), "token", hx(tok.ID),
		"units", strconv.FormatUint(req.Units, 10), "left", strconv.FormatUint(tok.Value, 10), "fee", fee.String())
	return nil
}

// recoverApp is the app that signed a job request: the key is recovered
// once per process (the coordinator and the provider recovered it before).
func recoverApp(digest common.Hash, sig []byte) (common.Address, error) {
	pub, err := eip712.RecoverPubCached(digest, sig)
	if err != nil {
		return common.Address{}, err
	}
	return crypto.PubkeyToAddress(*pub), nil
}
