package idao

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// Params are the chain's staking rules, the same for every iDAO (the
// genesis's "staking"; absent: DefaultParams). Times are unix seconds,
// windows of heights are blocks.
type Params struct {
	// SlashWindow is how long after an anchor the stake that counted in
	// its QC is sure to stay slashable: an equivocation proof posted within
	// it always finds the stake (see QCStake).
	SlashWindow uint64 `json:"slash_window"`
	// MinUnstakeDelay is the least time unstaked funds stay locked (and
	// slashable); an iDAO's policy may ask more, never less. It must exceed
	// SlashWindow, so a member that leaves right after a QC counted it is
	// still there to slash for the whole window.
	MinUnstakeDelay uint64 `json:"min_unstake_delay"`
	// MinStake is the least voting stake a member may hold (a join or a
	// partial leave that would leave less is refused).
	MinStake *big.Int `json:"min_stake"`
	// MaxMembers caps an iDAO's members (leaving members count until they
	// withdraw). It also bounds a QC's votes, so an anchor always fits in a
	// tx.
	MaxMembers int `json:"max_members"`
	// QCStakeWindow is how many blocks back an anchor may name the height
	// whose stake its QC counts; stake history older than that is dropped.
	QCStakeWindow uint64 `json:"qc_stake_window"`
}

// Defaults of Params.
const (
	DefaultSlashWindow     = 7 * 24 * 3600 // a week
	DefaultMinUnstakeDelay = DefaultSlashWindow + 24*3600
	DefaultMinStake        = 1000
	// DefaultMaxMembers keeps an anchor of every member's vote, each with a
	// full batch proof, well under tx.MaxSize (≈ 700 bytes a vote).
	DefaultMaxMembers    = 100
	DefaultQCStakeWindow = 1024
)

// MaxMembersCap is the most members a chain's rules may allow: an anchor
// carrying one vote of each, every vote with the longest batch proof
// (≈ 700 bytes), must still fit in one tx (tx.MaxSize, 128 KiB).
const MaxMembersCap = 150

// MaxStakePoints bounds a member's (and an iDAO's total) stake history;
// older points are merged, conservatively (see record).
const MaxStakePoints = 16

// DefaultParams are the staking rules of a chain whose genesis sets none.
func DefaultParams() Params {
	return Params{SlashWindow: DefaultSlashWindow, MinUnstakeDelay: DefaultMinUnstakeDelay,
		MinStake: big.NewInt(DefaultMinStake), MaxMembers: DefaultMaxMembers, QCStakeWindow: DefaultQCStakeWindow}
}

// Validate checks the rules are consistent.
func (p *Params) Validate() error {
	switch {
	case p.MinUnstakeDelay <= p.SlashWindow:
		return fmt.Errorf("idao: staking: min_unstake_delay (%d s) must exceed slash_window (%d s)", p.MinUnstakeDelay, p.SlashWindow)
	case p.MinStake == nil || p.MinStake.Sign() <= 0:
		return errors.New("idao: staking: min_stake must be positive")
	case p.MaxMembers <= 0 || p.MaxMembers > MaxMembersCap:
		return fmt.Errorf("idao: staking: max_members must be 1 to %d (an anchor with every member's vote must fit in a tx)", MaxMembersCap)
	case p.QCStakeWindow == 0:
		return errors.New("idao: staking: qc_stake_window must be at least 1 block")
	}
	return nil
}

// Errors of the staking rules.
var (
	ErrBelowMinStake  = errors.New("idao: stake below the chain's minimum")
	ErrMemberCap      = errors.New("idao: the iDAO has as many members as the chain allows")
	ErrUnstakeDelay   = errors.New("idao: unstake delay below the chain's minimum")
	ErrStakeHeight    = errors.New("idao: the QC's stake height is not a recent committed height")
	ErrAlreadySlashed = errors.New("idao: this member was already slashed for this submission")
)

// StakePoint is one step of a stake history: from the end of block Height
// on, the stake was Stake.
type StakePoint struct {
	Height uint64   `json:"height"`
	Stake  *big.Int `json:"stake"`
}

// record appends the point (height, stake) to h and prunes it: points that
// no anchor can name any more (all but the last one at or before
// height − window) are dropped, and past MaxStakePoints the two oldest are
// merged into one that keeps the lower stake (low) or the higher (!low).
// A member's weight is merged low and the total high, so a merged history
// only ever makes a QC harder, never easier.
func record(h []StakePoint, height uint64, stake *big.Int, window uint64, low bool) []StakePoint {
	if n := len(h); n > 0 && h[n-1].Height == height {
		h[n-1].Stake = new(big.Int).Set(stake)
	} else {
		h = append(h, StakePoint{Height: height, Stake: new(big.Int).Set(stake)})
	}
	if height > window {
		floor := height - window
		first := 0
		for first+1 < len(h) && h[first+1].Height <= floor {
			first++
		}
		h = h[first:]
	}
	for len(h) > MaxStakePoints {
		keep := h[0].Stake
		if c := h[1].Stake.Cmp(keep); (low && c < 0) || (!low && c > 0) {
			keep = h[1].Stake
		}
		h[1] = StakePoint{Height: h[0].Height, Stake: keep}
		h = h[1:]
	}
	return append([]StakePoint(nil), h...)
}

// at is the stake of history h at the end of block height (0 before its
// first point).
func at(h []StakePoint, height uint64) *big.Int {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Height <= height {
			return new(big.Int).Set(h[i].Stake)
		}
	}
	return new(big.Int)
}

// noteStake records a's voting stake and the iDAO's total after a change in
// block height.
func (d *IDAO) noteStake(m *Member, height uint64, p Params) {
	m.History = record(m.History, height, m.Stake, p.QCStakeWindow, true)
	d.Totals = record(d.Totals, height, d.TotalStake(), p.QCStakeWindow, false)
}

// StakeAt is a's voting stake at the end of block height (as far as its
// pruned history tells, never more).
func (d *IDAO) StakeAt(a common.Address, height uint64) *big.Int {
	m := d.Member(a)
	if m == nil {
		return new(big.Int)
	}
	return at(m.History, height)
}

// TotalAt is the iDAO's total voting stake at the end of block height (as
// far as its pruned history tells, never less).
func (d *IDAO) TotalAt(height uint64) *big.Int { return at(d.Totals, height) }

// Slashable is what of a's stake an equivocation proof is sure to find
// until now + window: its voting stake, and its unstaked funds if they are
// released no earlier than that.
func (d *IDAO) Slashable(a common.Address, now, window uint64) *big.Int {
	m := d.Member(a)
	if m == nil {
		return new(big.Int)
	}
	s := new(big.Int).Set(m.Stake)
	if m.Pending.Sign() > 0 && m.ReleaseAt >= now+window {
		s.Add(s, m.Pending)
	}
	return s
}

// QCStake is the stake a QC is counted against (it implements quorum's
// StakeSet). The rule, enforced where anchors are applied:
//
//   - the anchor names a stake height H, a committed height (below the
//     anchor's block) at most QCStakeWindow blocks old;
//   - a voter weighs its voting stake at the end of block H, but never more
//     than what stays slashable for SlashWindow after the anchor (its voting
//     stake now, plus its unstaked funds if they are released no sooner);
//   - the total is the iDAO's total voting stake at the end of block H.
//
// Why H is safe: stake that joins after H neither weighs (its member had
// none at H) nor dilutes the total, so a join, even in the anchor's own
// block, can neither make nor break a QC named at H; and a member that
// unstakes after voting still counts, because its unstaked funds stay
// slashable past the slashing window (MinUnstakeDelay > SlashWindow) — the
// slashable cap makes that a rule rather than a hope, even on a chain that
// was idle between the unstake and the anchor.
type QCStake struct {
	d      *IDAO
	height uint64
	now    uint64
	window uint64
}

// QCStake returns the stake set of a QC named at height for an anchor
// applied at now (unix seconds) in block current. It refuses a height that
// is not committed yet or is older than p.QCStakeWindow.
func (d *IDAO) QCStake(height, current, now uint64, p Params) (*QCStake, error) {
	if height >= current || current-height > p.QCStakeWindow {
		return nil, fmt.Errorf("%w: stake height %d in block %d (it must be one of the %d blocks before)",
			ErrStakeHeight, height, current, p.QCStakeWindow)
	}
	return &QCStake{d: d, height: height, now: now, window: p.SlashWindow}, nil
}

// StakeOf is a's weight: its stake at the height, capped by what stays
// slashable.
func (s *QCStake) StakeOf(a common.Address) *big.Int {
	w := s.d.StakeAt(a, s.height)
	if c := s.d.Slashable(a, s.now, s.window); c.Cmp(w) < 0 {
		w = c
	}
	return w
}

// TotalStake is the iDAO's total voting stake at the height.
func (s *QCStake) TotalStake() *big.Int { return s.d.TotalAt(s.height) }
