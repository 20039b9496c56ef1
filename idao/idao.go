package idao

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"

	"github.com/ethereum/go-ethereum/common"
)

// Evidence modes an iDAO's policy may accept.
const (
	ModeTEE        = "tee"
	ModeZK         = "zk"
	ModeTEEZK      = "tee+zk"
	ModeOptimistic = "optimistic"
)

// Errors callers branch on.
var (
	ErrBadName           = errors.New("idao: name must be 1-64 chars of a-z, 0-9, '-' or '_'")
	ErrBadMode           = errors.New("idao: unknown evidence mode")
	ErrNotOwner          = errors.New("idao: only the iDAO owner may do this")
	ErrNotMember         = errors.New("idao: not a member")
	ErrZeroStake         = errors.New("idao: stake amount must be positive")
	ErrInsufficientStake = errors.New("idao: member holds less stake than requested")
	ErrUnstakeTooEarly   = errors.New("idao: unstake delay has not passed")
	ErrNothingPending    = errors.New("idao: no unstaked amount is waiting for release")
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidName reports whether s is an acceptable iDAO name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ValidMode reports whether m is one of the evidence modes.
func ValidMode(m string) bool {
	switch m {
	case ModeTEE, ModeZK, ModeTEEZK, ModeOptimistic:
		return true
	}
	return false
}

// Policy is what an iDAO requires of a submission and how it runs.
type Policy struct {
	// Modes the iDAO accepts, e.g. ["tee+zk"]; the first is the default.
	Modes []string `json:"modes"`
	// Price is the default DAT unit price in base units.
	Price *big.Int `json:"price"`
	// TEEPolicy is the enclave measurement policy; opaque here, owned by tee.
	TEEPolicy json.RawMessage `json:"tee_policy,omitempty"`
	// VKHash is the hash of the ZK verifying key members check against.
	VKHash common.Hash `json:"vk_hash"`
	// UnstakeDelay is how long (seconds) unstaked funds stay locked.
	UnstakeDelay uint64 `json:"unstake_delay"`
}

// Validate checks the policy's modes.
func (p *Policy) Validate() error {
	if len(p.Modes) == 0 {
		return fmt.Errorf("%w: policy needs at least one mode", ErrBadMode)
	}
	for _, m := range p.Modes {
		if !ValidMode(m) {
			return fmt.Errorf("%w: %q (want tee, zk, tee+zk or optimistic)", ErrBadMode, m)
		}
	}
	if p.Price != nil && p.Price.Sign() < 0 {
		return errors.New("idao: price must not be negative")
	}
	return nil
}

// Accepts reports whether the policy accepts mode m.
func (p *Policy) Accepts(m string) bool {
	for _, x := range p.Modes {
		if x == m {
			return true
		}
	}
	return false
}

// Member is one staked member of an iDAO. Pending is stake asked back and
// released at ReleaseAt (unix seconds); it no longer counts for votes.
type Member struct {
	Addr      common.Address `json:"address"`
	Stake     *big.Int       `json:"stake"`
	Pending   *big.Int       `json:"pending"`
	ReleaseAt uint64         `json:"release_at"`
}

// IDAO is one community: a name, an owner, a policy and members.
// Members are kept sorted by address so the encoding is canonical.
type IDAO struct {
	Name    string
	Owner   common.Address
	Policy  Policy
	Members []Member
	Created uint64
}

// New creates an iDAO; the owner becomes a member when stake > 0.
func New(name string, owner common.Address, p Policy, stake *big.Int, now uint64) (*IDAO, error) {
	if !ValidName(name) {
		return nil, ErrBadName
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Price == nil {
		p.Price = new(big.Int)
	}
	d := &IDAO{Name: name, Owner: owner, Policy: p, Created: now}
	if stake != nil && stake.Sign() > 0 {
		if err := d.Join(owner, stake); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *IDAO) find(a common.Address) int {
	i := sort.Search(len(d.Members), func(i int) bool { return bytes.Compare(d.Members[i].Addr[:], a[:]) >= 0 })
	if i < len(d.Members) && d.Members[i].Addr == a {
		return i
	}
	return -1
}

// Member returns the member record of a, or nil.
func (d *IDAO) Member(a common.Address) *Member {
	if i := d.find(a); i >= 0 {
		return &d.Members[i]
	}
	return nil
}

// StakeOf returns a's voting stake (0 for non-members).
func (d *IDAO) StakeOf(a common.Address) *big.Int {
	if m := d.Member(a); m != nil {
		return new(big.Int).Set(m.Stake)
	}
	return new(big.Int)
}

// TotalStake is the sum of all members' voting stake.
func (d *IDAO) TotalStake() *big.Int {
	s := new(big.Int)
	for _, m := range d.Members {
		s.Add(s, m.Stake)
	}
	return s
}

// Held is every base unit the iDAO holds: stake plus pending unstakes.
func (d *IDAO) Held() *big.Int {
	s := new(big.Int)
	for _, m := range d.Members {
		s.Add(s, m.Stake)
		s.Add(s, m.Pending)
	}
	return s
}

// Join adds amount to a's stake, making a a member if needed. The caller
// debits a's balance.
func (d *IDAO) Join(a common.Address, amount *big.Int) error {
	if amount == nil || amount.Sign() <= 0 {
		return ErrZeroStake
	}
	if m := d.Member(a); m != nil {
		m.Stake = new(big.Int).Add(m.Stake, amount)
		return nil
	}
	i := sort.Search(len(d.Members), func(i int) bool { return bytes.Compare(d.Members[i].Addr[:], a[:]) >= 0 })
	d.Members = append(d.Members, Member{})
	copy(d.Members[i+1:], d.Members[i:])
	d.Members[i] = Member{Addr: a, Stake: new(big.Int).Set(amount), Pending: new(big.Int)}
	return nil
}

// Leave asks amount of a's stake back: it stops counting for votes now and
// is released after the policy's unstake delay (the delay restarts).
func (d *IDAO) Leave(a common.Address, amount *big.Int, now uint64) error {
	m := d.Member(a)
	if m == nil {
		return ErrNotMember
	}
	if amount == nil || amount.Sign() <= 0 {
		return ErrZeroStake
	}
	if m.Stake.Cmp(amount) < 0 {
		return fmt.Errorf("%w: staked %s, asked %s", ErrInsufficientStake, m.Stake, amount)
	}
	m.Stake = new(big.Int).Sub(m.Stake, amount)
	m.Pending = new(big.Int).Add(m.Pending, amount)
	m.ReleaseAt = now + d.Policy.UnstakeDelay
	return nil
}

// Withdraw releases a's pending unstake once the delay has passed and returns
// the amount; the caller credits a. A member with nothing left is removed.
func (d *IDAO) Withdraw(a common.Address, now uint64) (*big.Int, error) {
	i := d.find(a)
	if i < 0 {
		return nil, ErrNotMember
	}
	m := &d.Members[i]
	if m.Pending.Sign() == 0 {
		return nil, ErrNothingPending
	}
	if now < m.ReleaseAt {
		return nil, fmt.Errorf("%w: releases at %d, now %d", ErrUnstakeTooEarly, m.ReleaseAt, now)
	}
	out := m.Pending
	m.Pending = new(big.Int)
	if m.Stake.Sign() == 0 {
		d.Members = append(d.Members[:i], d.Members[i+1:]...)
	}
	return out, nil
}

// Slash takes up to amount from a's stake, then from its pending unstake,
// and returns what was taken.
func (d *IDAO) Slash(a common.Address, amount *big.Int) (*big.Int, error) {
	m := d.Member(a)
	if m == nil {
		return nil, ErrNotMember
	}
	taken := new(big.Int)
	take := func(from **big.Int) {
		need := new(big.Int).Sub(amount, taken)
		if need.Sign() <= 0 {
			return
		}
		if (*from).Cmp(need) < 0 {
			need.Set(*from)
		}
		*from = new(big.Int).Sub(*from, need)
		taken.Add(taken, need)
	}
	take(&m.Stake)
	take(&m.Pending)
	return taken, nil
}

// SetPolicy replaces the policy; only the owner may.
func (d *IDAO) SetPolicy(sender common.Address, p Policy) error {
	if sender != d.Owner {
		return ErrNotOwner
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Price == nil {
		p.Price = new(big.Int)
	}
	d.Policy = p
	return nil
}
