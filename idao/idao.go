package idao

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"

	"github.com/ethereum/go-ethereum/common"
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

// Policy is what an iDAO requires of a submission and how it runs.
type Policy struct {
	// Modes the iDAO accepts, e.g. ["tee+zk"]; the first is the default.
	Modes []Mode `json:"modes"`
	// Price is the default DAT unit price in base units.
	Price *big.Int `json:"price"`
	// TEEPolicy is the enclave measurement policy; opaque here, owned by tee.
	TEEPolicy json.RawMessage `json:"tee_policy,omitempty"`
	// VKHash is the hash of the ZK verifying key members check against.
	VKHash common.Hash `json:"vk_hash"`
	// UnstakeDelay is how long (seconds) unstaked funds stay locked; 0 is
	// the chain's minimum (Params.MinUnstakeDelay), and a value below that
	// minimum is refused.
	UnstakeDelay uint64 `json:"unstake_delay"`
	// ZKShapes are the zk circuit shapes the iDAO accepts, at most one per
	// field count: intake picks one by the submission's declared field
	// count, and members check proofs against its verifying key only.
	ZKShapes []ZKShape `json:"zk_shapes,omitempty" rlp:"optional"`
	// MinGroupSize is the privacy floor of the iDAO's data services: a
	// query group with fewer records is suppressed, and a WHERE clause
	// that leaves fewer records answers nothing. 0 is DefaultMinGroupSize.
	MinGroupSize uint64 `json:"min_group_size,omitempty" rlp:"optional"`
}

// DefaultMinGroupSize is the privacy floor of an iDAO that sets none.
const DefaultMinGroupSize = 10

// GroupFloor is the privacy floor in force.
func (p *Policy) GroupFloor() uint64 {
	if p.MinGroupSize == 0 {
		return DefaultMinGroupSize
	}
	return p.MinGroupSize
}

// Validate checks the policy's modes and zk shapes.
func (p *Policy) Validate() error {
	if len(p.Modes) == 0 {
		return fmt.Errorf("%w: policy needs at least one mode", ErrBadMode)
	}
	for _, m := range p.Modes {
		if !m.Valid() {
			return fmt.Errorf("%w: %q (want %s)", ErrBadMode, m, ModeList(Modes()))
		}
	}
	if p.Price != nil && p.Price.Sign() < 0 {
		return errors.New("idao: price must not be negative")
	}
	return validateShapes(p.ZKShapes)
}

// ValidateFor checks the policy and that it keeps the chain's staking rules.
func (p *Policy) ValidateFor(params Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.UnstakeDelay != 0 && p.UnstakeDelay < params.MinUnstakeDelay {
		return fmt.Errorf("%w: %d s, the chain requires at least %d s (0 means the minimum)",
			ErrUnstakeDelay, p.UnstakeDelay, params.MinUnstakeDelay)
	}
	return nil
}

// Delay is the unstake delay the policy gives under the chain's rules.
func (p *Policy) Delay(params Params) uint64 { return max(p.UnstakeDelay, params.MinUnstakeDelay) }

// Accepts reports whether the policy accepts mode m.
func (p *Policy) Accepts(m Mode) bool { return slices.Contains(p.Modes, m) }

// Member is one staked member of an iDAO. Pending is stake asked back and
// released at ReleaseAt (unix seconds); it no longer counts for votes, but
// it can still be slashed. History is its voting stake over the last
// QCStakeWindow blocks, for QCs counted at a past height.
type Member struct {
	Addr      common.Address `json:"address"`
	Stake     *big.Int       `json:"stake"`
	Pending   *big.Int       `json:"pending"`
	ReleaseAt uint64         `json:"release_at"`
	History   []StakePoint   `json:"history,omitempty"`
}

// IDAO is one community: a name, an owner, a policy and members.
// Members are kept sorted by address so the encoding is canonical. Totals
// is the history of the total voting stake, like a member's History.
type IDAO struct {
	Name    string
	Owner   common.Address
	Policy  Policy
	Members []Member
	Created uint64
	Totals  []StakePoint
}

// New creates an iDAO in block height; the owner becomes a member when
// stake > 0.
func New(name string, owner common.Address, p Policy, stake *big.Int, now, height uint64, params Params) (*IDAO, error) {
	if !ValidName(name) {
		return nil, ErrBadName
	}
	if err := p.ValidateFor(params); err != nil {
		return nil, err
	}
	if p.Price == nil {
		p.Price = new(big.Int)
	}
	d := &IDAO{Name: name, Owner: owner, Policy: p, Created: now}
	if stake != nil && stake.Sign() > 0 {
		if err := d.Join(owner, stake, height, params); err != nil {
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

// Join adds amount to a's stake in block height, making a a member if
// needed (within the chain's member cap); the member's stake must reach the
// chain's minimum. The caller debits a's balance.
func (d *IDAO) Join(a common.Address, amount *big.Int, height uint64, p Params) error {
	if amount == nil || amount.Sign() <= 0 {
		return ErrZeroStake
	}
	m := d.Member(a)
	total := new(big.Int).Set(amount)
	if m != nil {
		total.Add(total, m.Stake)
	}
	if p.MinStake != nil && total.Cmp(p.MinStake) < 0 {
		return fmt.Errorf("%w: the member would stake %s, the minimum is %s", ErrBelowMinStake, total, p.MinStake)
	}
	if m == nil {
		if len(d.Members) >= p.MaxMembers {
			return fmt.Errorf("%w (%d)", ErrMemberCap, p.MaxMembers)
		}
		i := sort.Search(len(d.Members), func(i int) bool { return bytes.Compare(d.Members[i].Addr[:], a[:]) >= 0 })
		d.Members = append(d.Members, Member{})
		copy(d.Members[i+1:], d.Members[i:])
		d.Members[i] = Member{Addr: a, Stake: new(big.Int), Pending: new(big.Int)}
		m = &d.Members[i]
	}
	m.Stake = total
	d.noteStake(m, height, p)
	return nil
}

// Leave asks amount of a's stake back in block height: it stops counting
// for votes now and is released after the policy's unstake delay, at least
// the chain's minimum (the delay restarts). What stays staked must be 0 or
// at least the chain's minimum stake.
func (d *IDAO) Leave(a common.Address, amount *big.Int, now, height uint64, p Params) error {
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
	left := new(big.Int).Sub(m.Stake, amount)
	if left.Sign() > 0 && p.MinStake != nil && left.Cmp(p.MinStake) < 0 {
		return fmt.Errorf("%w: %s would stay staked, the minimum is %s (leave all of it or less)", ErrBelowMinStake, left, p.MinStake)
	}
	m.Stake = left
	m.Pending = new(big.Int).Add(m.Pending, amount)
	m.ReleaseAt = now + d.Policy.Delay(p)
	d.noteStake(m, height, p)
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
// in block height, and returns what was taken.
func (d *IDAO) Slash(a common.Address, amount *big.Int, height uint64, p Params) (*big.Int, error) {
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
	d.noteStake(m, height, p)
	return taken, nil
}

// SetPolicy replaces the policy; only the owner may, and the policy must
// keep the chain's staking rules.
func (d *IDAO) SetPolicy(sender common.Address, p Policy, params Params) error {
	if sender != d.Owner {
		return ErrNotOwner
	}
	if err := p.ValidateFor(params); err != nil {
		return err
	}
	if p.Price == nil {
		p.Price = new(big.Int)
	}
	d.Policy = p
	return nil
}
