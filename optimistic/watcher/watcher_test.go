package watcher

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// fakeChain is an in-memory referee with balances: the chain's optimistic
// rules without a chain.
type fakeChain struct {
	mu     sync.Mutex
	params optimistic.Params
	height uint64
	claims map[common.Hash]*optimistic.Claim
	order  []common.Hash
	games  map[common.Hash]*optimistic.Game
	gorder map[common.Hash][]common.Hash
	bal    map[common.Address]*big.Int
	burned *big.Int
}

func newFakeChain() *fakeChain {
	p := optimistic.DefaultParams()
	p.Window, p.Clock = 6, 6
	return &fakeChain{params: p, height: 10, claims: map[common.Hash]*optimistic.Claim{}, games: map[common.Hash]*optimistic.Game{},
		gorder: map[common.Hash][]common.Hash{}, bal: map[common.Address]*big.Int{}, burned: new(big.Int)}
}

func (f *fakeChain) fund(a common.Address) { f.bal[a] = big.NewInt(1_000_000) }

func (f *fakeChain) total() *big.Int {
	t := new(big.Int).Set(f.burned)
	for _, b := range f.bal {
		t.Add(t, b)
	}
	for _, c := range f.claims {
		if c.Open() {
			t.Add(t, c.Bond)
		}
	}
	for _, g := range f.games {
		if g.Active() {
			t.Add(t, g.Bond)
		}
	}
	return t
}

type account struct {
	*fakeChain
	addr common.Address
}

func (a account) Now(context.Context) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.height, nil
}

func (a account) Claims(context.Context) ([]*optimistic.Claim, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*optimistic.Claim
	for _, id := range a.order {
		if c := a.claims[id]; c.Open() || c.ActiveGames > 0 {
			out = append(out, c.Clone())
		}
	}
	return out, nil
}

func (a account) Games(_ context.Context, claim common.Hash) ([]*optimistic.Game, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*optimistic.Game
	for _, id := range a.gorder[claim] {
		out = append(out, a.games[id].Clone())
	}
	return out, nil
}

func (a account) Claim(_ context.Context, id common.Hash) (*optimistic.Claim, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.claims[id]; ok {
		return c.Clone(), nil
	}
	return nil, fmt.Errorf("no claim %s", id.Hex())
}

func (a account) debit(amt *big.Int) error {
	if a.bal[a.addr].Cmp(amt) < 0 {
		return fmt.Errorf("insufficient funds")
	}
	a.bal[a.addr].Sub(a.bal[a.addr], amt)
	return nil
}

func (a account) Post(_ context.Context, act optimistic.Action) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if act.Kind == optimistic.ActClaim {
		if act.Signed == nil || act.Signed.Submission.Verify(chainID, act.Signed.Signature) != nil ||
			act.Signed.Submission.Digest(chainID) != act.Claim.Submission || act.Signed.Submission.Commitment != act.Claim.Commitment {
			return fmt.Errorf("claim without a matching signed submission")
		}
		c, err := optimistic.NewClaim(a.addr, act.Claim, a.height, a.params)
		if err != nil {
			return err
		}
		if _, ok := a.claims[c.ID]; ok {
			return fmt.Errorf("claim exists")
		}
		if err := a.debit(c.Bond); err != nil {
			return err
		}
		a.claims[c.ID], a.order = c, append(a.order, c.ID)
		return nil
	}
	var c *optimistic.Claim
	var g *optimistic.Game
	switch act.Kind {
	case optimistic.ActChallenge:
		c = a.claims[act.Challenge.Claim]
	case optimistic.ActFinalize:
		c = a.claims[act.ClaimID]
	default:
		if g = a.games[act.Game]; g != nil {
			c = a.claims[g.Claim]
		}
	}
	if c == nil {
		return fmt.Errorf("unknown claim or game")
	}
	c2, g2, st, err := optimistic.Apply(c, g, a.addr, &act, a.height)
	if err != nil {
		return err
	}
	if act.Kind == optimistic.ActChallenge {
		if _, ok := a.games[g2.ID]; ok {
			return fmt.Errorf("game exists")
		}
		if err := a.debit(g2.Bond); err != nil {
			return err
		}
		a.gorder[c.ID] = append(a.gorder[c.ID], g2.ID)
	}
	a.claims[c.ID] = c2
	if g2 != nil {
		a.games[g2.ID] = g2
	}
	if st != nil {
		for _, p := range st.Payouts {
			if a.bal[p.To] == nil {
				a.bal[p.To] = new(big.Int)
			}
			a.bal[p.To].Add(a.bal[p.To], p.Amount)
		}
		a.burned.Add(a.burned, st.Burned)
	}
	return nil
}

// plain serves datasets by commitment; others are unreadable.
type plain map[common.Hash]*records.Dataset

func (p plain) Dataset(_ context.Context, c *optimistic.Claim) (*records.Dataset, error) {
	if ds, ok := p[c.Commitment]; ok {
		return ds, nil
	}
	return nil, ErrNoData
}

func dataset(rng *rand.Rand, n int) *records.Dataset {
	ds := &records.Dataset{Fields: []string{"a", "b", "c"}}
	for i := range n {
		if i > 0 && rng.IntN(5) == 0 {
			ds.Records = append(ds.Records, slices.Clone(ds.Records[rng.IntN(i)]))
			continue
		}
		ds.Records = append(ds.Records, []int64{rng.Int64N(100), rng.Int64N(1000) - 500, int64(i)})
	}
	return ds
}

const chainID = 31337

var (
	execA  = common.Address{0xe1}
	watchA = common.Address{0xa1}
	griefA = common.Address{0x66}
)

// settle ticks the watchers, one block per round, until every claim is
// closed and every game decided.
func settle(t *testing.T, f *fakeChain, ws ...*Watcher) {
	t.Helper()
	ctx := context.Background()
	for range 400 {
		for _, w := range ws {
			if _, err := w.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		f.mu.Lock()
		done := true
		for _, c := range f.claims {
			done = done && !c.Open() && c.ActiveGames == 0
		}
		f.height++
		f.mu.Unlock()
		if done {
			return
		}
	}
	t.Fatal("claims not settled after 400 blocks")
}

func setup(t *testing.T, faulty bool, nClaims int, tune ...func(*optimistic.Params)) (*fakeChain, *Watcher, *Watcher, []*records.Dataset) {
	t.Helper()
	f := newFakeChain()
	for _, fn := range tune {
		fn(&f.params)
	}
	f.fund(execA)
	f.fund(watchA)
	f.fund(griefA)
	data := plain{}
	rng := rand.New(rand.NewPCG(1, uint64(nClaims)))
	var sets []*records.Dataset
	for range nClaims {
		ds := dataset(rng, 1+rng.IntN(300))
		data[records.Commitment(ds)] = ds
		sets = append(sets, ds)
	}
	ex := &Watcher{Chain: account{f, execA}, Data: data, Addr: execA, Bond: big.NewInt(1000)}
	wa := &Watcher{Chain: account{f, watchA}, Data: data, Addr: watchA, Bond: big.NewInt(1000)}
	contributor, _ := crypto.GenerateKey()
	for i, ds := range sets {
		sub := &submission.Submission{IDAO: "demo", Mode: "optimistic", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
			DataHash: crypto.Keccak256Hash([]byte{byte(i)}), Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), Nonce: uint64(i)}
		sig, err := sub.Sign(chainID, contributor)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ex.Claim(context.Background(), chainID, sub, sig, ds, facts.DefaultParams, big.NewInt(2000), faulty); err != nil {
			t.Fatal(err)
		}
	}
	return f, ex, wa, sets
}

func TestWatcherOverturnsEveryFaultyClaim(t *testing.T) {
	t.Parallel()
	f, ex, wa, _ := setup(t, true, 6)
	before := f.total()
	settle(t, f, ex, wa)
	for _, c := range f.claims {
		if c.Status != optimistic.StatusOverturned {
			t.Fatalf("faulty claim %s: %s", c.ID.Hex(), c.Status)
		}
	}
	for _, g := range f.games {
		if g.Status != optimistic.GameChallengerWon || g.Challenger != watchA {
			t.Fatalf("game %s by %s", g.Status, g.Challenger)
		}
	}
	// the watcher earned half of every executor bond; the executor lost them
	if f.bal[watchA].Int64() != 1_000_000+6*1000 || f.bal[execA].Int64() != 1_000_000-6*2000 {
		t.Fatalf("balances: watcher %s executor %s", f.bal[watchA], f.bal[execA])
	}
	if f.total().Cmp(before) != 0 {
		t.Fatalf("not conserved: %s then %s", before, f.total())
	}
}

func TestWatcherLeavesHonestClaimsAlone(t *testing.T) {
	t.Parallel()
	f, ex, wa, _ := setup(t, false, 5)
	settle(t, f, ex, wa)
	for _, c := range f.claims {
		if c.Status != optimistic.StatusFinalized || c.Games != 0 {
			t.Fatalf("honest claim %s with %d games", c.Status, c.Games)
		}
	}
	if f.bal[execA].Int64() != 1_000_000 || f.bal[watchA].Int64() != 1_000_000 {
		t.Fatalf("balances moved: %s %s", f.bal[execA], f.bal[watchA])
	}
}

// An executor's watcher defends its honest claim against a griefer that
// plays a wrong trace to the end, and wins the griefer's bond share.
func TestWatcherDefendsAgainstGriefer(t *testing.T) {
	t.Parallel()
	f, ex, _, sets := setup(t, false, 1)
	ds := sets[0]
	var c *optimistic.Claim
	for _, x := range f.claims {
		c = x
	}
	k, err := optimistic.Compute(ds, ds.Fields, facts.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	lie := optimistic.Faulty(k)
	r, err := lie.ChallengeRequest(c, big.NewInt(1000))
	if err != nil {
		t.Fatal(err)
	}
	grief := account{f, griefA}
	if err := grief.Post(context.Background(), optimistic.Action{Kind: optimistic.ActChallenge, Challenge: r}); err != nil {
		t.Fatal(err)
	}
	gid := optimistic.GameID(c.ID, griefA)
	ctx := context.Background()
	for range 200 {
		if _, err := ex.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		g, cl, h := f.games[gid].Clone(), f.claims[c.ID].Clone(), f.height
		f.mu.Unlock()
		if a, err := lie.Next(cl, g, optimistic.Challenger, h); err == nil && a.Kind != optimistic.ActNone {
			_ = grief.Post(ctx, a) // its step proof proves it wrong, or is refused
		}
		f.mu.Lock()
		f.height++
		done := !f.claims[c.ID].Open()
		f.mu.Unlock()
		if done {
			break
		}
	}
	if st := f.claims[c.ID].Status; st != optimistic.StatusFinalized || f.games[gid].Status != optimistic.GameExecutorWon {
		t.Fatalf("claim %s, game %s (%s)", st, f.games[gid].Status, f.games[gid].Reason)
	}
	if f.bal[execA].Int64() != 1_000_500 || f.bal[griefA].Int64() != 999_000 {
		t.Fatalf("balances: executor %s griefer %s", f.bal[execA], f.bal[griefA])
	}
}

// After a restart the executor's watcher has no trace in memory; it rebuilds
// it from the plaintext when its claim is challenged.
func TestWatcherDefendsAfterRestart(t *testing.T) {
	t.Parallel()
	f, ex, _, sets := setup(t, false, 1)
	var c *optimistic.Claim
	for _, x := range f.claims {
		c = x
	}
	k, _ := optimistic.Compute(sets[0], sets[0].Fields, facts.DefaultParams)
	r, _ := optimistic.Faulty(k).ChallengeRequest(c, big.NewInt(1000))
	if err := (account{f, griefA}).Post(context.Background(), optimistic.Action{Kind: optimistic.ActChallenge, Challenge: r}); err != nil {
		t.Fatal(err)
	}
	restarted := &Watcher{Chain: ex.Chain, Data: ex.Data, Addr: execA, Bond: big.NewInt(1000)}
	settle(t, f, restarted) // the griefer never answers
	if f.claims[c.ID].Status != optimistic.StatusFinalized {
		t.Fatalf("claim %s", f.claims[c.ID].Status)
	}
}

// When the watcher overturns a claim, it also cancels the other games on it
// (a silent griefer's here), so their bonds return.
func TestWatcherCancelsOtherGames(t *testing.T) {
	t.Parallel()
	// the griefer joins late enough that its silent game outlives the watcher's
	f, ex, wa, sets := setup(t, true, 1, func(p *optimistic.Params) { p.Window, p.Clock = 40, 20 })
	for range 2 {
		for _, w := range []*Watcher{ex, wa} {
			if _, err := w.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		f.height++
	}
	var c *optimistic.Claim
	for _, x := range f.claims {
		c = x
	}
	k, _ := optimistic.Compute(sets[0], sets[0].Fields, facts.DefaultParams)
	hs := slices.Clone(k.Trace.Hashes)
	hs[len(hs)-1] = crypto.Keccak256Hash(hs[len(hs)-1][:]) // a third result
	r, _ := (&optimistic.Computation{Trace: optimistic.NewTrace(hs), Commitment: k.Commitment}).ChallengeRequest(c, big.NewInt(1100))
	if err := (account{f, griefA}).Post(context.Background(), optimistic.Action{Kind: optimistic.ActChallenge, Challenge: r}); err != nil {
		t.Fatal(err)
	}
	settle(t, f, ex, wa)
	if g := f.games[optimistic.GameID(c.ID, griefA)]; g.Status != optimistic.GameCancelled || f.bal[griefA].Int64() != 1_000_000 {
		t.Fatalf("griefer's game %s", g.Status)
	}
	if f.claims[c.ID].Status != optimistic.StatusOverturned || f.claims[c.ID].ActiveGames != 0 {
		t.Fatalf("claim %s with %d games open", f.claims[c.ID].Status, f.claims[c.ID].ActiveGames)
	}
}

func TestWatcherStaysOutWithoutData(t *testing.T) {
	t.Parallel()
	f, ex, _, _ := setup(t, true, 2)
	blind := &Watcher{Chain: account{f, watchA}, Data: plain{}, Addr: watchA, Bond: big.NewInt(1000)}
	settle(t, f, ex, blind)
	for _, c := range f.claims {
		if c.Status != optimistic.StatusFinalized || c.Games != 0 {
			t.Fatalf("unreadable claim: %s, %d games", c.Status, c.Games)
		}
	}
}

// BenchmarkWatcherCheck is the watcher's per-claim work on an agreeing
// claim of 1,000 records: parse the plaintext and recompute the facts.
func BenchmarkWatcherCheck(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	ds := dataset(rng, 1000)
	var csv bytes.Buffer
	csv.WriteString("a,b,c\n")
	for _, r := range ds.Records {
		fmt.Fprintf(&csv, "%d,%d,%d\n", r[0], r[1], r[2])
	}
	k, err := optimistic.Compute(ds, ds.Fields, facts.DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	c, err := optimistic.NewClaim(execA, k.ClaimRequest(common.Hash{1}, ds.Fields, facts.DefaultParams, big.NewInt(1000)), 1, optimistic.DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	raw := csv.Bytes()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			got, err := records.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := Check(c, got); err != nil || !ok {
				b.Fatalf("check: %v %v", ok, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkWatcherOpenCheck adds what a watcher with the enclave key does
// first: unwrap the data key (ECIES) and decrypt the blob (AES-GCM).
func BenchmarkWatcherOpenCheck(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	ds := dataset(rng, 1000)
	var csv bytes.Buffer
	csv.WriteString("a,b,c\n")
	for _, r := range ds.Records {
		fmt.Fprintf(&csv, "%d,%d,%d\n", r[0], r[1], r[2])
	}
	key, _ := crypto.GenerateKey()
	sealed, err := envelope.Seal(csv.Bytes(), &key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	k, _ := optimistic.Compute(ds, ds.Fields, facts.DefaultParams)
	c, _ := optimistic.NewClaim(execA, k.ClaimRequest(common.Hash{1}, ds.Fields, facts.DefaultParams, big.NewInt(1000)), 1, optimistic.DefaultParams())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			raw, err := envelope.Open(sealed.Blob, sealed.WrappedKey, sealed.DataHash, key)
			if err != nil {
				b.Fatal(err)
			}
			got, err := records.Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			if ok, err := Check(c, got); err != nil || !ok {
				b.Fatalf("check: %v %v", ok, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// The SDK's chain adapter is a watcher Chain.
var _ Chain = client.OptimisticChain{}
