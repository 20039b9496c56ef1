// Package escrow holds the rules of data services: providers (an iDAO's
// attested enclave, registered with a fee per job and a stake), the
// sub-account an app funds per provider (deposit, refund under a lock,
// withdraw), and the checks and charge of one settled job. It is pure Go
// with no I/O and no clock (times are passed in); chain/exec applies it.
//
// Money never appears or vanishes here: Deposit takes what the caller
// debited from the app's balance, Withdraw returns what the caller credits
// back, Charge returns the fee the caller pays to the provider.
package escrow

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Errors callers branch on.
var (
	ErrZeroAmount       = errors.New("escrow: amount must be positive")
	ErrInsufficient     = errors.New("escrow: the sub-account holds less than asked")
	ErrNothingPending   = errors.New("escrow: no refund is pending")
	ErrLocked           = errors.New("escrow: the refund is still locked")
	ErrNonce            = errors.New("escrow: job nonce not above the last settled one")
	ErrDeadline         = errors.New("escrow: the job's deadline has passed")
	ErrFeeBelowProvider = errors.New("escrow: the job's max fee is below the provider's fee")
	ErrNotAttested      = errors.New("escrow: the provider's enclave is not attested under the iDAO's current TEE policy")
	ErrWrongEnclave     = errors.New("escrow: the result batch is not signed by the provider's registered enclave key")
	ErrAlreadySettled   = errors.New("escrow: the job is settled already")
	ErrBadProviderKey   = errors.New("escrow: the enclave key did not sign this provider's registration")
	ErrWrongProvider    = errors.New("escrow: the job names another provider")
	ErrUnknownProvider  = errors.New("escrow: no such provider")
	ErrProviderExists   = errors.New("escrow: the account is a provider already")
	ErrNoAccount        = errors.New("escrow: no such sub-account")
	ErrWrongClass       = errors.New("escrow: the token belongs to another class than the job names")
	ErrBadFee           = errors.New("escrow: the provider's fee must not be negative")
)

// Provider is a registered data-service provider: an account (who is paid
// and who stakes) and the attested enclave key that signs its answers.
type Provider struct {
	Address common.Address
	IDAO    string
	PubKey  []byte         // the enclave's 65-byte uncompressed secp256k1 key
	Enclave common.Address // the address of PubKey
	Fee     *big.Int       // base units per job
	Stake   *big.Int
	// PolicyHash is keccak256 of the iDAO's TEE policy the enclave key was
	// attested under; the provider is usable only while the iDAO's policy
	// is the same.
	PolicyHash common.Hash
	Height     uint64
}

// PolicyHash is the hash a provider's attestation is pinned to.
func PolicyHash(teePolicy []byte) common.Hash { return crypto.Keccak256Hash(teePolicy) }

// Attested reports whether the provider's attestation still holds under
// the iDAO's current TEE policy.
func (p *Provider) Attested(teePolicy []byte) bool { return p.PolicyHash == PolicyHash(teePolicy) }

// Account is an app's sub-account with one provider: what it holds for
// jobs, what it asked back (Pending, withdrawable from UnlocksAt on), and
// the highest nonce of its settled jobs (a new request takes a higher one;
// each nonce settles at most once, in any order, so a provider that
// settles a batch before an earlier one loses no job).
type Account struct {
	App       common.Address
	Provider  common.Address
	Balance   *big.Int
	Pending   *big.Int
	UnlocksAt uint64 // unix seconds
	Nonce     uint64
}

// NewAccount is an empty sub-account.
func NewAccount(app, provider common.Address) *Account {
	return &Account{App: app, Provider: provider, Balance: new(big.Int), Pending: new(big.Int)}
}

// Held is everything the sub-account holds (balance and pending refund).
func (a *Account) Held() *big.Int { return new(big.Int).Add(a.Balance, a.Pending) }

// Deposit adds amount (debited from the app's balance by the caller).
func (a *Account) Deposit(amount *big.Int) error {
	if amount == nil || amount.Sign() <= 0 {
		return ErrZeroAmount
	}
	a.Balance = new(big.Int).Add(a.Balance, amount)
	return nil
}

// Refund moves amount (nil or 0: all of the balance) to the pending
// refund and (re)starts the lock: withdrawable from now+lock on.
func (a *Account) Refund(amount *big.Int, now, lock uint64) (*big.Int, error) {
	if amount == nil || amount.Sign() == 0 {
		amount = new(big.Int).Set(a.Balance)
	}
	if amount.Sign() <= 0 {
		return nil, ErrZeroAmount
	}
	if amount.Cmp(a.Balance) > 0 {
		return nil, fmt.Errorf("%w: holds %s, asked %s", ErrInsufficient, a.Balance, amount)
	}
	a.Balance = new(big.Int).Sub(a.Balance, amount)
	a.Pending = new(big.Int).Add(a.Pending, amount)
	a.UnlocksAt = now + lock
	return amount, nil
}

// Withdraw empties the pending refund once its lock has ended and returns
// it (the caller credits the app).
func (a *Account) Withdraw(now uint64) (*big.Int, error) {
	if a.Pending.Sign() == 0 {
		return nil, ErrNothingPending
	}
	if now < a.UnlocksAt {
		return nil, fmt.Errorf("%w until %d (now %d)", ErrLocked, a.UnlocksAt, now)
	}
	out := a.Pending
	a.Pending, a.UnlocksAt = new(big.Int), 0
	return out, nil
}

// Job is what settlement checks of one job request, with the app that
// signed it.
type Job struct {
	App      common.Address
	Provider common.Address
	Units    uint64
	MaxFee   *big.Int
	Nonce    uint64
	Deadline uint64
}

// Check is settlement's per-job rule on the sub-account and the provider:
// the job is the provider's, not past its deadline, its max fee covers the
// provider's fee and the sub-account (balance, then pending refund) covers
// that fee. (That its nonce was never settled is the chain's record.) It
// changes nothing.
func Check(a *Account, p *Provider, j *Job, now uint64) error {
	switch {
	case j.Provider != p.Address || a.Provider != p.Address || a.App != j.App:
		return ErrWrongProvider
	case j.Deadline < now:
		return fmt.Errorf("%w: deadline %d, now %d", ErrDeadline, j.Deadline, now)
	case j.MaxFee == nil || j.MaxFee.Cmp(p.Fee) < 0:
		return fmt.Errorf("%w: max fee %v, provider fee %s", ErrFeeBelowProvider, j.MaxFee, p.Fee)
	case a.Held().Cmp(p.Fee) < 0:
		return fmt.Errorf("%w: holds %s, the fee is %s", ErrInsufficient, a.Held(), p.Fee)
	}
	return nil
}

// Charge takes the provider's fee for j out of the sub-account (balance
// first, then the pending refund), raises the highest settled nonce to
// j's and returns the fee
// (the caller pays it to the provider). Call Check first.
func Charge(a *Account, p *Provider, j *Job, now uint64) (*big.Int, error) {
	if err := Check(a, p, j, now); err != nil {
		return nil, err
	}
	fee := new(big.Int).Set(p.Fee)
	fromBal := new(big.Int).Set(fee)
	if fromBal.Cmp(a.Balance) > 0 {
		fromBal.Set(a.Balance)
	}
	a.Balance = new(big.Int).Sub(a.Balance, fromBal)
	a.Pending = new(big.Int).Sub(a.Pending, new(big.Int).Sub(fee, fromBal))
	a.Nonce = max(a.Nonce, j.Nonce)
	return fee, nil
}

// Settled is the chain's record of a settled job (keyed by its request
// hash), so no job is settled twice.
type Settled struct {
	ID         common.Hash
	App        common.Address
	Provider   common.Address
	Class      common.Hash
	Token      common.Hash
	Units      uint64
	Fee        *big.Int
	ResultHash common.Hash
	Tx         common.Hash
	Height     uint64
}

// Params are the chain's data-service numbers.
type Params struct {
	// RefundLock is how long (seconds) a refund stays locked before the
	// app may withdraw it; during it the provider may still settle jobs it
	// delivered.
	RefundLock uint64 `json:"refund_lock"`
}

// DefaultParams are the numbers of a chain whose genesis sets none: an
// hour's refund lock.
func DefaultParams() Params { return Params{RefundLock: 3600} }
