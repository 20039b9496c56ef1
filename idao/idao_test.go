package idao

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// testParams are small staking rules for the tests.
func testParams() Params {
	return Params{SlashWindow: 50, MinUnstakeDelay: 100, MinStake: big.NewInt(5), MaxMembers: 3, QCStakeWindow: 10}
}

func TestStakeLifecycle(t *testing.T) {
	t.Parallel()
	p := testParams()
	owner, m := common.HexToAddress("0x2"), common.HexToAddress("0x1")
	if _, err := New("Bad Name", owner, Policy{Modes: []Mode{"tee"}}, nil, 0, 1, p); !errors.Is(err, ErrBadName) {
		t.Fatal(err)
	}
	if _, err := New("x", owner, Policy{Modes: []Mode{"magic"}}, nil, 0, 1, p); !errors.Is(err, ErrBadMode) {
		t.Fatal(err)
	}
	if _, err := New("x", owner, Policy{Modes: []Mode{"tee"}, UnstakeDelay: 99}, nil, 0, 1, p); !errors.Is(err, ErrUnstakeDelay) {
		t.Fatalf("a delay below the chain's minimum: %v", err)
	}
	d, err := New("x", owner, Policy{Modes: []Mode{"tee+zk", "optimistic"}, UnstakeDelay: 100}, big.NewInt(30), 0, 1, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Join(m, big.NewInt(4), 2, p); !errors.Is(err, ErrBelowMinStake) {
		t.Fatalf("join below the minimum stake: %v", err)
	}
	if err := d.Join(m, big.NewInt(10), 2, p); err != nil || d.Members[0].Addr != m {
		t.Fatalf("join %v: members must stay sorted", err)
	}
	if err := d.Leave(m, big.NewInt(11), 5, 3, p); !errors.Is(err, ErrInsufficientStake) {
		t.Fatal(err)
	}
	if err := d.Leave(m, big.NewInt(8), 5, 3, p); !errors.Is(err, ErrBelowMinStake) {
		t.Fatalf("a leave that keeps 2 staked: %v", err)
	}
	if err := d.Leave(m, big.NewInt(10), 5, 3, p); err != nil || d.TotalStake().Int64() != 30 || d.Held().Int64() != 40 {
		t.Fatalf("leave: %v total %s held %s", err, d.TotalStake(), d.Held())
	}
	if _, err := d.Withdraw(m, 104); !errors.Is(err, ErrUnstakeTooEarly) {
		t.Fatal(err)
	}
	if got, err := d.Withdraw(m, 105); err != nil || got.Int64() != 10 || d.Member(m) != nil {
		t.Fatalf("withdraw %v %v", got, err)
	}
	if err := d.SetPolicy(m, Policy{Modes: []Mode{"zk"}}, p); !errors.Is(err, ErrNotOwner) {
		t.Fatal(err)
	}
	if err := d.SetPolicy(owner, Policy{Modes: []Mode{"zk"}, UnstakeDelay: 10}, p); !errors.Is(err, ErrUnstakeDelay) {
		t.Fatalf("a policy below the minimum unstake delay: %v", err)
	}
	if taken, _ := d.Slash(owner, big.NewInt(100), 6, p); taken.Int64() != 30 {
		t.Fatalf("slash took %s", taken)
	}
}

// A policy's delay of 0 is the chain's minimum; a longer one is kept.
func TestUnstakeDelayIsAtLeastTheChainMinimum(t *testing.T) {
	t.Parallel()
	p := testParams()
	a := common.HexToAddress("0x1")
	for _, c := range []struct{ policy, want uint64 }{{0, 100}, {100, 100}, {250, 250}} {
		d, err := New("x", a, Policy{Modes: []Mode{"tee"}, UnstakeDelay: c.policy}, big.NewInt(10), 1000, 1, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Leave(a, big.NewInt(10), 1000, 2, p); err != nil {
			t.Fatal(err)
		}
		if got := d.Member(a).ReleaseAt; got != 1000+c.want {
			t.Fatalf("policy delay %d: released at %d, want %d", c.policy, got, 1000+c.want)
		}
	}
}

func TestMemberCap(t *testing.T) {
	t.Parallel()
	p := testParams()
	d, _ := New("x", common.HexToAddress("0x9"), Policy{Modes: []Mode{"tee"}}, nil, 0, 1, p)
	for i := 1; i <= p.MaxMembers; i++ {
		if err := d.Join(common.BigToAddress(big.NewInt(int64(i))), big.NewInt(5), 2, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Join(common.HexToAddress("0x77"), big.NewInt(5), 2, p); !errors.Is(err, ErrMemberCap) {
		t.Fatalf("a member past the cap: %v", err)
	}
	if err := d.Join(common.BigToAddress(big.NewInt(1)), big.NewInt(5), 2, p); err != nil {
		t.Fatalf("a member at the cap adds stake: %v", err)
	}
}

// The stake a QC counts at height H: joins after H weigh nothing and do not
// dilute the total; a leave after H still weighs while the funds stay
// slashable for the window; never more than is slashable now.
func TestQCStakeAtAHeight(t *testing.T) {
	t.Parallel()
	p := testParams()
	a, b, late := common.HexToAddress("0x1"), common.HexToAddress("0x2"), common.HexToAddress("0x3")
	d, _ := New("x", a, Policy{Modes: []Mode{"tee"}}, big.NewInt(10), 1000, 1, p)
	if err := d.Join(b, big.NewInt(10), 1, p); err != nil {
		t.Fatal(err)
	}
	if err := d.Join(late, big.NewInt(1000), 4, p); err != nil { // after H = 3
		t.Fatal(err)
	}
	if err := d.Leave(b, big.NewInt(10), 1000, 5, p); err != nil { // b unstakes after voting
		t.Fatal(err)
	}
	s, err := d.QCStake(3, 6, 1000, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.TotalStake().Int64(); got != 20 {
		t.Fatalf("total at 3: %d, want 20 (the late join does not dilute)", got)
	}
	if got := s.StakeOf(late).Int64(); got != 0 {
		t.Fatalf("late joiner weighs %d at 3", got)
	}
	if got := s.StakeOf(b).Int64(); got != 10 {
		t.Fatalf("b unstaked after 3 but its funds stay slashable: weighs %d, want 10", got)
	}
	// b's release (1100) is sooner than the anchor's time + slash window: it
	// no longer weighs.
	s, _ = d.QCStake(3, 6, 1051, p)
	if got := s.StakeOf(b).Int64(); got != 0 {
		t.Fatalf("b's funds leave before the slash window ends, yet weigh %d", got)
	}
	for _, h := range []uint64{6, 7, 0} { // not committed, or older than the window of 10 from 11
		cur := uint64(6)
		if h == 0 {
			cur = 11
		}
		if _, err := d.QCStake(h, cur, 1000, p); !errors.Is(err, ErrStakeHeight) {
			t.Fatalf("height %d in block %d: %v", h, cur, err)
		}
	}
}

// A long history is pruned to the window and merged conservatively: a
// member's weight only goes down, the total only up.
func TestStakeHistoryIsBounded(t *testing.T) {
	t.Parallel()
	p := testParams()
	p.QCStakeWindow = 1000
	a, b := common.HexToAddress("0x1"), common.HexToAddress("0x2")
	d, _ := New("x", a, Policy{Modes: []Mode{"tee"}}, big.NewInt(100), 0, 1, p)
	if err := d.Join(b, big.NewInt(100), 1, p); err != nil {
		t.Fatal(err)
	}
	for h := uint64(2); h < 200; h++ {
		if err := d.Join(a, big.NewInt(1), h, p); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.Member(a).History); n > MaxStakePoints {
		t.Fatalf("%d history points", n)
	}
	if n := len(d.Totals); n > MaxStakePoints {
		t.Fatalf("%d total points", n)
	}
	for h := uint64(1); h < 200; h++ {
		exact := int64(100 + h - 1)
		if got := d.StakeAt(a, h).Int64(); got > exact {
			t.Fatalf("height %d: weight %d above the true %d", h, got, exact)
		}
		if got := d.TotalAt(h).Int64(); got < exact+100 {
			t.Fatalf("height %d: total %d below the true %d", h, got, exact+100)
		}
	}
	if got := d.StakeAt(a, 199).Int64(); got != 298 {
		t.Fatalf("latest weight %d, want 298 (recent points stay exact)", got)
	}
	// past the window only the last point before it is kept
	p.QCStakeWindow = 5
	if err := d.Join(a, big.NewInt(1), 1000, p); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Member(a).History); n != 2 {
		t.Fatalf("after a long pause %d points, want 2 (the base and the new one)", n)
	}
}
