package dat

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// AccScale scales the revenue-per-share accumulator so that small deposits
// over many shares still move it. It is part of the consensus rules.
var AccScale = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

// Errors callers branch on.
var (
	ErrNotOwner          = errors.New("dat: sender does not own the token")
	ErrExpired           = errors.New("dat: token has expired")
	ErrInsufficientUnits = errors.New("dat: token holds fewer units than requested")
	ErrZeroUnits         = errors.New("dat: units must be positive")
	ErrWrongClass        = errors.New("dat: token belongs to another class")
	ErrInsufficientShare = errors.New("dat: token holds fewer shares than requested")
	ErrBadClass          = errors.New("dat: invalid class parameters")
	ErrSelfTransfer      = errors.New("dat: transfer to the current owner")
)

// Provenance links a class to the facts that certified it.
type Provenance struct {
	Submission common.Hash `json:"submission"`
	DataHash   common.Hash `json:"data_hash"`
	Commitment common.Hash `json:"commitment"`
	QCHash     common.Hash `json:"qc_hash"`
	AnchorTx   common.Hash `json:"anchor_tx"`
}

// Class is one certified dataset or model. Its ID is the anchored result
// digest, which is also its integrity hash.
type Class struct {
	ID            common.Hash
	Kind          string
	URI           string
	IDAO          string
	Provenance    Provenance
	Price         *big.Int // base units per usage unit
	TotalShares   uint64
	Validity      uint64   // seconds a bought token stays redeemable; 0 = forever
	Acc           *big.Int // revenue per share × AccScale
	Carry         *big.Int // scaled remainder of deposits not yet in Acc
	Pool          *big.Int // base units held for holders
	Claimed       *big.Int // base units paid out so far
	Tokens        uint64   // tokens ever created in this class
	CreatedAt     uint64
	IntegrityHash common.Hash
	// QueryAllowed and QueryColumns are the contributor's restriction of
	// the data-service queries over the class (tx dat_query_policy): the
	// aggregates and the columns a query may use; empty allows all.
	QueryAllowed []string `json:",omitempty" rlp:"optional"`
	QueryColumns []string `json:",omitempty" rlp:"optional"`
}

// Token is a holding in a class: an owner, a usage quota (Value), a share of
// revenue and an expiry (unix seconds, 0 = never).
type Token struct {
	ID      common.Hash
	Class   common.Hash
	Owner   common.Address
	Value   uint64
	Shares  uint64
	Expires uint64
	Debt    *big.Int // Shares × Acc at the last settlement
	Credit  *big.Int // scaled revenue settled but not yet claimed
}

// MintParams are the inputs of NewClass.
type MintParams struct {
	ID          common.Hash
	Kind        string
	URI         string
	IDAO        string
	Provenance  Provenance
	Price       *big.Int
	TotalShares uint64
	Validity    uint64
	Owner       common.Address
	FirstToken  common.Hash
	FirstValue  uint64 // usage units given to the contributor at mint
	Now         uint64
}

// NewClass creates a class and its first token, which holds every share.
func NewClass(p MintParams) (*Class, *Token, error) {
	if p.TotalShares == 0 || p.Price == nil || p.Price.Sign() < 0 {
		return nil, nil, fmt.Errorf("%w: total shares must be positive and price non-negative", ErrBadClass)
	}
	kind := p.Kind
	if kind == "" {
		kind = "dataset"
	}
	c := &Class{
		ID: p.ID, Kind: kind, URI: p.URI, IDAO: p.IDAO, Provenance: p.Provenance,
		Price: new(big.Int).Set(p.Price), TotalShares: p.TotalShares, Validity: p.Validity,
		Acc: new(big.Int), Carry: new(big.Int), Pool: new(big.Int), Claimed: new(big.Int),
		Tokens: 1, CreatedAt: p.Now, IntegrityHash: p.ID,
	}
	t := &Token{
		ID: p.FirstToken, Class: p.ID, Owner: p.Owner, Value: p.FirstValue,
		Shares: p.TotalShares, Debt: new(big.Int), Credit: new(big.Int),
	}
	return c, t, nil
}

// Cost returns units × price.
func (c *Class) Cost(units uint64) *big.Int {
	return new(big.Int).Mul(c.Price, new(big.Int).SetUint64(units))
}

// Deposit adds amount base units of revenue to the class pool and raises the
// accumulator; the division remainder is kept in Carry, so no unit is lost.
func (c *Class) Deposit(amount *big.Int) {
	if amount.Sign() == 0 {
		return
	}
	c.Pool.Add(c.Pool, amount)
	num := new(big.Int).Mul(amount, AccScale)
	num.Add(num, c.Carry)
	q, r := new(big.Int).QuoRem(num, new(big.Int).SetUint64(c.TotalShares), new(big.Int))
	c.Acc.Add(c.Acc, q)
	c.Carry = r
}

// Buy takes a payment of units × price into the pool and returns the new
// token of the buyer: units of quota, no shares. The caller debits the buyer.
func Buy(c *Class, buyer common.Address, units uint64, tokenID common.Hash, now uint64) (*Token, *big.Int, error) {
	if units == 0 {
		return nil, nil, ErrZeroUnits
	}
	cost := c.Cost(units)
	c.Deposit(cost)
	c.Tokens++
	var exp uint64
	if c.Validity > 0 {
		exp = now + c.Validity
	}
	return &Token{ID: tokenID, Class: c.ID, Owner: buyer, Value: units, Expires: exp,
		Debt: new(big.Int), Credit: new(big.Int)}, cost, nil
}

// Redeem uses units of a token's quota (hard-quota recordUsage).
func Redeem(t *Token, sender common.Address, units uint64, now uint64) error {
	switch {
	case t.Owner != sender:
		return ErrNotOwner
	case units == 0:
		return ErrZeroUnits
	case t.Expires != 0 && now >= t.Expires:
		return ErrExpired
	case units > t.Value:
		return fmt.Errorf("%w: holds %d, asked %d", ErrInsufficientUnits, t.Value, units)
	}
	t.Value -= units
	return nil
}

// pendingScaled is Credit + Shares×Acc − Debt.
func pendingScaled(c *Class, t *Token) *big.Int {
	p := new(big.Int).Mul(new(big.Int).SetUint64(t.Shares), c.Acc)
	p.Sub(p, t.Debt)
	return p.Add(p, t.Credit)
}

// settle moves the token's pending revenue into Credit and resets Debt to
// Shares × Acc. Call it before every change of Shares.
func settle(c *Class, t *Token) {
	t.Credit = pendingScaled(c, t)
	t.Debt = new(big.Int).Mul(new(big.Int).SetUint64(t.Shares), c.Acc)
}

// Claimable returns the base units a token's holder can claim now.
func Claimable(c *Class, t *Token) *big.Int {
	return new(big.Int).Quo(pendingScaled(c, t), AccScale)
}

// Claim pays the token's claimable revenue out of the pool and returns it;
// the caller credits the owner. A second claim with no new revenue pays 0.
func Claim(c *Class, t *Token, sender common.Address) (*big.Int, error) {
	if t.Owner != sender {
		return nil, ErrNotOwner
	}
	if t.Class != c.ID {
		return nil, ErrWrongClass
	}
	return payOut(c, t), nil
}

func payOut(c *Class, t *Token) *big.Int {
	settle(c, t)
	paid, rest := new(big.Int).QuoRem(t.Credit, AccScale, new(big.Int))
	t.Credit = rest
	c.Pool.Sub(c.Pool, paid)
	c.Claimed.Add(c.Claimed, paid)
	return paid
}

// TransferWhole gives the whole token to a new owner. Unclaimed revenue is
// never moved by a transfer: it is paid to the sender first, and returned so
// the caller can credit it.
func TransferWhole(c *Class, t *Token, sender, to common.Address) (*big.Int, error) {
	if t.Owner != sender {
		return nil, ErrNotOwner
	}
	if to == sender {
		return nil, ErrSelfTransfer
	}
	paid := new(big.Int)
	if t.Shares > 0 {
		paid = payOut(c, t)
	}
	t.Owner = to
	return paid, nil
}

// Split moves value units and shares of t into a new token owned by to.
// Both tokens are settled first, so revenue earned so far stays with t.
func Split(c *Class, t *Token, sender, to common.Address, value, shares uint64, newID common.Hash) (*Token, error) {
	if t.Owner != sender {
		return nil, ErrNotOwner
	}
	if value == 0 && shares == 0 {
		return nil, ErrZeroUnits
	}
	if value > t.Value {
		return nil, fmt.Errorf("%w: holds %d, asked %d", ErrInsufficientUnits, t.Value, value)
	}
	if shares > t.Shares {
		return nil, fmt.Errorf("%w: holds %d, asked %d", ErrInsufficientShare, t.Shares, shares)
	}
	settle(c, t)
	t.Value -= value
	t.Shares -= shares
	t.Debt = new(big.Int).Mul(new(big.Int).SetUint64(t.Shares), c.Acc)
	c.Tokens++
	nt := &Token{ID: newID, Class: c.ID, Owner: to, Value: value, Shares: shares, Expires: t.Expires,
		Debt: new(big.Int).Mul(new(big.Int).SetUint64(shares), c.Acc), Credit: new(big.Int)}
	return nt, nil
}

// CheckConservation verifies Pool×AccScale == Σ pending + Carry and that the
// tokens' shares add up to TotalShares. tokens must be every token of c.
func CheckConservation(c *Class, tokens []*Token) error {
	sum := new(big.Int).Set(c.Carry)
	var shares uint64
	for _, t := range tokens {
		p := pendingScaled(c, t)
		if p.Sign() < 0 {
			return fmt.Errorf("dat: token %s has negative pending revenue", t.ID)
		}
		sum.Add(sum, p)
		shares += t.Shares
	}
	if shares != c.TotalShares {
		return fmt.Errorf("dat: class %s shares %d != total %d", c.ID, shares, c.TotalShares)
	}
	want := new(big.Int).Mul(c.Pool, AccScale)
	if want.Cmp(sum) != 0 {
		return fmt.Errorf("dat: class %s pool×scale %s != pending+carry %s", c.ID, want, sum)
	}
	return nil
}
