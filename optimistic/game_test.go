package optimistic

import (
	"errors"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/tee/facts"
)

func ceilLog2(n uint64) uint32 {
	if n <= 1 {
		return 0
	}
	return uint32(bits.Len64(n - 1))
}

func challenge(t *testing.T, w *world, who common.Address, k *Computation, bond int64) *Game {
	t.Helper()
	r, err := k.ChallengeRequest(w.c, big.NewInt(bond))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.post(who, Action{Kind: ActChallenge, Challenge: r}); err != nil {
		t.Fatalf("challenge: %v", err)
	}
	return w.games[GameID(w.c.ID, who)]
}

func TestTraceMatchesFacts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 7, 64, 100} {
		ds := randDataset(rng, n, 5, 0.3)
		k := honest(t, ds)
		f, err := facts.Compute(ds, facts.DefaultParams)
		if err != nil {
			t.Fatal(err)
		}
		if k.Trace.Final() != f.Digest() {
			t.Fatalf("n=%d: trace ends in %s, facts digest %s", n, k.Trace.Final(), f.Digest())
		}
		hs, _, err := facts.Trace(ds, facts.DefaultParams)
		if err != nil || !slices.Equal(hs, k.Trace.Hashes) {
			t.Fatalf("n=%d: trace differs from tee/facts.Trace (%v)", n, err)
		}
		for i := range uint64(n) + 1 {
			if err := VerifyReveal(uint64(n), k.Trace.Root(), k.Trace.Reveal(i)); err != nil {
				t.Fatalf("n=%d reveal %d: %v", n, i, err)
			}
		}
		bad := k.Trace.Reveal(uint64(n))
		bad.Hash[0] ^= 1
		if err := VerifyReveal(uint64(n), k.Trace.Root(), bad); !errors.Is(err, ErrBadTraceProof) {
			t.Fatalf("tampered reveal: %v", err)
		}
	}
}

func TestHonestClaimFinalizes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	k := honest(t, randDataset(rng, 50, 3, 0.2))
	w := newWorld(t, execAddr)
	w.claim(k, 1000)
	if _, err := w.c.Clone().Finalize(w.height + 3); !errors.Is(err, ErrWindowOpen) {
		t.Fatalf("finalize inside the window: %v", err)
	}
	w.run(rng, []party{{addr: execAddr, side: Executor, k: k, honest: true}}, 50)
	if w.c.Status != StatusFinalized || w.bal[execAddr].Cmp(big.NewInt(1_000_000)) != 0 {
		t.Fatalf("claim %s, executor balance %s", w.c.Status, w.bal[execAddr])
	}
	w.height = w.c.WindowEnd - 1 // a late challenge on a finalized claim is refused
	r, _ := liar(k, lieTrace(rng, k, lieGarbage)).ChallengeRequest(w.c, big.NewInt(600))
	if err := w.post(chalAddr, Action{Kind: ActChallenge, Challenge: r}); !errors.Is(err, ErrClaimClosed) {
		t.Fatalf("challenge of a finalized claim: %v", err)
	}
}

func TestGrieferLosesBond(t *testing.T) {
	t.Parallel()
	for lie := range nLies {
		rng := rand.New(rand.NewPCG(5, uint64(lie)))
		k := honest(t, randDataset(rng, 37, 4, 0.3))
		g := liar(k, lieTrace(rng, k, lie))
		w := newWorld(t, execAddr, chalAddr)
		w.claim(k, 1000)
		game := challenge(t, w, chalAddr, g, 800)
		w.run(rng, []party{
			{addr: execAddr, side: Executor, k: k, honest: true},
			{addr: chalAddr, side: Challenger, k: g},
		}, 200)
		game = w.games[game.ID]
		if game.Status != GameExecutorWon || w.c.Status != StatusFinalized {
			t.Fatalf("lie %d: game %s (%s), claim %s", lie, game.Status, game.Reason, w.c.Status)
		}
		// executor: bond back + half the griefer's bond; griefer: bond gone; 400 burned
		if w.bal[execAddr].Int64() != 1_000_400 || w.bal[chalAddr].Int64() != 999_200 || w.burned.Int64() != 400 {
			t.Fatalf("lie %d: balances %s %s burned %s", lie, w.bal[execAddr], w.bal[chalAddr], w.burned)
		}
	}
}

func TestWrongClaimOverturnedInLogMoves(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 3, 5, 17, 256, 1000} {
		for lie := range nLies {
			rng := rand.New(rand.NewPCG(uint64(n), uint64(lie)))
			k := honest(t, randDataset(rng, n, 3, 0.25))
			bad := liar(k, lieTrace(rng, k, lie))
			w := newWorld(t, execAddr, chalAddr)
			w.claim(bad, 2000)
			game := challenge(t, w, chalAddr, k, 600)
			w.run(rng, []party{
				{addr: execAddr, side: Executor, k: bad},
				{addr: chalAddr, side: Challenger, k: k, honest: true},
			}, 200)
			game = w.games[game.ID]
			if game.Status != GameChallengerWon || w.c.Status != StatusOverturned {
				t.Fatalf("n=%d lie %d: game %s (%s), claim %s", n, lie, game.Status, game.Reason, w.c.Status)
			}
			if game.Moves > ceilLog2(uint64(n)) {
				t.Fatalf("n=%d: %d moves, bound %d", n, game.Moves, ceilLog2(uint64(n)))
			}
			// challenger: bond back + half the executor's 2000; 1000 burned
			if w.bal[chalAddr].Int64() != 1_001_000 || w.bal[execAddr].Int64() != 998_000 || w.burned.Int64() != 1000 {
				t.Fatalf("n=%d lie %d: balances %s %s burned %s", n, lie, w.bal[chalAddr], w.bal[execAddr], w.burned)
			}
		}
	}
}

// A million-record dispute narrows to one step in ⌈log2 n⌉ = 20 moves.
func TestMillionRecordDisputeMoves(t *testing.T) {
	t.Parallel()
	const n = 1_000_000
	good := make([]common.Hash, n+1)
	for i := range good {
		good[i] = crypto.Keccak256Hash([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	bad := slices.Clone(good)
	const wrong = 777_777
	for i := wrong; i <= n; i++ {
		bad[i][0] ^= 0xff
	}
	gt, bt := NewTrace(good), NewTrace(bad)
	c := &Claim{ID: common.Hash{1}, N: n, Fields: []string{"a"}, Result: bt.Final(), TraceRoot: bt.Root(),
		Executor: execAddr, Bond: big.NewInt(1000), WindowEnd: 10, Status: StatusClaimed, Params: testParams()}
	c.Params.Clock = 1000
	mid := gt.Reveal(n / 2)
	g, err := c.Challenge(chalAddr, &ChallengeRequest{Claim: c.ID, Bond: big.NewInt(500), Root: gt.Root(), Final: gt.Reveal(n), Mid: &mid}, 1)
	if err != nil {
		t.Fatal(err)
	}
	g.AgreedHash = good[0]
	traces := map[Side]*Trace{Executor: bt, Challenger: gt}
	addr := map[Side]common.Address{Executor: execAddr, Challenger: chalAddr}
	for h := uint64(1); !g.InStep(); h++ {
		k := &Computation{Trace: traces[g.Turn]}
		a, err := k.Next(c, g, g.Turn, h)
		if err != nil || a.Kind != ActMove {
			t.Fatalf("move %d: %v %q", g.Moves, err, a.Kind)
		}
		if err := g.Move(c, addr[g.Turn], a.Move, h); err != nil {
			t.Fatalf("move %d: %v", g.Moves, err)
		}
	}
	if g.Moves != 20 || g.Hi != wrong || g.Lo != wrong-1 {
		t.Fatalf("%d moves, range [%d,%d], first wrong state %d", g.Moves, g.Lo, g.Hi, wrong)
	}
}

func TestClockTimeouts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	k := honest(t, randDataset(rng, 100, 2, 0.1))
	bad := liar(k, lieTrace(rng, k, lieGarbage))
	for _, tc := range []struct {
		name      string
		exec      party
		chal      party
		want      string
		claimWant string
	}{
		{"silent liar executor", party{addr: execAddr, side: Executor, k: bad, offlineAt: 1},
			party{addr: chalAddr, side: Challenger, k: k, honest: true}, GameChallengerWon, StatusOverturned},
		{"liar executor stops mid-game", party{addr: execAddr, side: Executor, k: bad, offlineAt: 103},
			party{addr: chalAddr, side: Challenger, k: k, honest: true}, GameChallengerWon, StatusOverturned},
		{"griefer stops answering", party{addr: execAddr, side: Executor, k: k, honest: true},
			party{addr: chalAddr, side: Challenger, k: bad, offlineAt: 102}, GameExecutorWon, StatusFinalized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, execAddr, chalAddr)
			claimer := tc.exec.k
			w.claim(claimer, 1000)
			game := challenge(t, w, chalAddr, tc.chal.k, 500)
			if _, err := game.Clone().Timeout(w.c.Clone(), w.height+1); !errors.Is(err, ErrClockRunning) {
				t.Fatalf("early timeout: %v", err)
			}
			w.run(rng, []party{tc.exec, tc.chal}, 200)
			got := w.games[game.ID]
			if got.Status != tc.want || w.c.Status != tc.claimWant {
				t.Fatalf("game %s (%s), claim %s", got.Status, got.Reason, w.c.Status)
			}
		})
	}
}

// mustRefuse checks that f fails with want and leaves c and g unchanged.
func mustRefuse(t *testing.T, name string, c *Claim, g *Game, want error, f func(c *Claim, g *Game) error) {
	t.Helper()
	c0, g0 := c.Clone(), (*Game)(nil)
	if g != nil {
		g0 = g.Clone()
	}
	err := f(c, g)
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", name, err, want)
	}
	if !reflect.DeepEqual(c, c0) || (g != nil && !reflect.DeepEqual(g, g0)) {
		t.Errorf("%s: refused call changed the state", name)
	}
}

func TestRejectionsChangeNothing(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	k := honest(t, randDataset(rng, 40, 3, 0.2))
	bad := liar(k, lieTrace(rng, k, lieGarbage))
	c, err := NewClaim(execAddr, bad.ClaimRequest(subID, k.DS.Fields, facts.DefaultParams, big.NewInt(1000)), 100, testParams())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClaim(execAddr, bad.ClaimRequest(subID, k.DS.Fields, facts.DefaultParams, big.NewInt(999)), 100, testParams()); !errors.Is(err, ErrBondTooSmall) {
		t.Errorf("small claim bond: %v", err)
	}
	req, _ := k.ChallengeRequest(c, big.NewInt(500))
	challengeWith := func(who common.Address, r *ChallengeRequest, h uint64) func(c *Claim, g *Game) error {
		return func(c *Claim, _ *Game) error { _, err := c.Challenge(who, r, h); return err }
	}
	small := *req
	small.Bond = big.NewInt(499)
	same := *req
	same.Final = bad.Trace.Reveal(c.N)
	offMid := *req
	m := k.Trace.Reveal(c.N/2 + 1)
	offMid.Mid = &m
	forged := *req
	fm := k.Trace.Reveal(c.N / 2)
	fm.Hash[3] ^= 1
	forged.Mid = &fm
	mustRefuse(t, "challenge after the window", c, nil, ErrWindowClosed, challengeWith(chalAddr, req, c.WindowEnd))
	mustRefuse(t, "challenge with a small bond", c, nil, ErrBondTooSmall, challengeWith(chalAddr, &small, 101))
	mustRefuse(t, "self challenge", c, nil, ErrSelfChallenge, challengeWith(execAddr, req, 101))
	mustRefuse(t, "challenge agreeing with the claim", c, nil, ErrNoDispute, challengeWith(chalAddr, &same, 101))
	mustRefuse(t, "challenge off the midpoint", c, nil, ErrOutOfRange, challengeWith(chalAddr, &offMid, 101))
	mustRefuse(t, "challenge with a forged midpoint", c, nil, ErrBadTraceProof, challengeWith(chalAddr, &forged, 101))
	fin := c.Clone()
	fin.Status = StatusFinalized
	mustRefuse(t, "challenge of a finalized claim", fin, nil, ErrClaimClosed, challengeWith(chalAddr, req, 101))

	g, err := c.Challenge(chalAddr, req, 101)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != StatusChallenged || c.ActiveGames != 1 {
		t.Fatalf("claim after challenge: %s %d", c.Status, c.ActiveGames)
	}
	execMove, _ := bad.Next(c, g, Executor, 102)
	moveBy := func(who common.Address, mv *Move, h uint64) func(c *Claim, g *Game) error {
		return func(c *Claim, g *Game) error { return g.Move(c, who, mv, h) }
	}
	mustRefuse(t, "move out of turn", c, g, ErrNotYourTurn, moveBy(chalAddr, execMove.Move, 102))
	mustRefuse(t, "move by a stranger", c, g, ErrNotAParty, moveBy(common.Address{9}, execMove.Move, 102))
	mustRefuse(t, "late move", c, g, ErrClockExpired, moveBy(execAddr, execMove.Move, 101+testParams().Clock+1))
	off := *execMove.Move
	off.Answer = bad.Trace.Reveal(g.PendingIndex + 1)
	mustRefuse(t, "move outside the range", c, g, ErrOutOfRange, moveBy(execAddr, &off, 102))
	wrongNext := *execMove.Move
	nx := bad.Trace.Reveal(execMove.Move.Next.Index + 1)
	wrongNext.Next = &nx
	mustRefuse(t, "next midpoint off", c, g, ErrOutOfRange, moveBy(execAddr, &wrongNext, 102))
	forgedAns := *execMove.Move
	forgedAns.Answer.Hash = crypto.Keccak256Hash([]byte("x"))
	mustRefuse(t, "answer not in the mover's trace", c, g, ErrBadTraceProof, moveBy(execAddr, &forgedAns, 102))
	otherTrace := *execMove.Move
	otherTrace.Answer = k.Trace.Reveal(g.PendingIndex) // the challenger's trace, not the executor's
	if otherTrace.Answer.Hash != execMove.Move.Answer.Hash {
		mustRefuse(t, "answer from another trace", c, g, ErrBadTraceProof, moveBy(execAddr, &otherTrace, 102))
	}
	step, _ := k.StepProof(1)
	mustRefuse(t, "step before the step stage", c, g, ErrNotStepStage, func(c *Claim, g *Game) error {
		_, err := g.Step(c, chalAddr, step, 102)
		return err
	})
	mustRefuse(t, "finalize with a game open", c, nil, ErrWindowOpen, func(c *Claim, _ *Game) error {
		_, err := c.Finalize(102)
		return err
	})
	mustRefuse(t, "finalize after the window with a game open", c, nil, ErrGamesOpen, func(c *Claim, _ *Game) error {
		_, err := c.Finalize(c.WindowEnd)
		return err
	})
	mustRefuse(t, "cancel while the claim stands", c, g, ErrClaimClosed, func(c *Claim, g *Game) error {
		_, err := g.Cancel(c)
		return err
	})
	// a second challenge by the same challenger would reuse the game id: the
	// chain refuses it by key; a different challenger gets its own game.
	if g2, err := c.Clone().Challenge(common.Address{7}, req, 103); err != nil || g2.ID == g.ID {
		t.Fatalf("second challenger: %v", err)
	}

	// play to the step stage, then a move is refused
	for h := uint64(102); !g.InStep(); h++ {
		side := g.Turn
		kk := map[Side]*Computation{Executor: bad, Challenger: k}[side]
		a, _ := kk.Next(c, g, side, h)
		if err := g.Move(c, g.SideAddr(c, side), a.Move, h); err != nil {
			t.Fatal(err)
		}
	}
	mustRefuse(t, "move in the step stage", c, g, ErrStepStage, moveBy(g.SideAddr(c, g.Turn), execMove.Move, g.TurnSince))
}

func TestWrongStepProofsRefused(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 14))
	ds := randDataset(rng, 33, 4, 0)
	ds.Records[20] = slices.Clone(ds.Records[5]) // record 21 repeats record 6
	k := honest(t, ds)
	com := k.Commitment
	n := k.Trace.N()
	agreed := func(i uint64) common.Hash { return k.Trace.Hashes[i-1] }
	good, err := k.StepProof(21)
	if err != nil || !good.Dup {
		t.Fatalf("step proof of a duplicate: %v", err)
	}
	if res, err := CheckStep(com, n, 21, agreed(21), good); err != nil || !res.DupShown || res.Correct() != k.Trace.Hashes[21] {
		t.Fatalf("honest duplicate step: %v %+v", err, res)
	}
	plain, _ := k.StepProof(7)
	if res, err := CheckStep(com, n, 7, agreed(7), plain); err != nil || res.Correct() != k.Trace.Hashes[7] {
		t.Fatalf("honest step: %v", err)
	}
	mut := func(f func(p *StepProof)) *StepProof {
		p := *plain
		p.Record = slices.Clone(plain.Record)
		p.Path = slices.Clone(plain.Path)
		p.Prev = slices.Clone(plain.Prev)
		f(&p)
		return &p
	}
	other, _ := k.StepProof(8)
	for _, tc := range []struct {
		name string
		i    uint64
		p    *StepProof
		want error
	}{
		{"bad merkle path", 7, mut(func(p *StepProof) { p.Path[4] = p.Path[5] }), ErrBadRecord},
		{"short merkle path", 7, mut(func(p *StepProof) { p.Path = p.Path[:31] }), ErrBadRecord},
		{"non-canonical sibling", 7, mut(func(p *StepProof) { p.Path[0] = common.Hash{0xff, 0xff} }), ErrBadRecord},
		{"wrong record", 7, mut(func(p *StepProof) { p.Record[1]++ }), ErrBadRecord},
		{"record of another index", 7, mut(func(p *StepProof) { p.Record, p.Path = other.Record, other.Path }), ErrBadRecord},
		{"record too wide", 7, mut(func(p *StepProof) { p.Record = append(p.Record, 1) }), ErrBadRecord},
		{"wrong previous state", 7, mut(func(p *StepProof) { p.Prev = other.Prev }), ErrBadState},
		{"garbage previous state", 7, mut(func(p *StepProof) { p.Prev = p.Prev[:len(p.Prev)-3] }), ErrBadState},
		{"step past the end", n + 1, plain, ErrOutOfRange},
		{"fake duplicate witness", 7, mut(func(p *StepProof) { p.Dup, p.DupIndex, p.DupPath = true, 2, DupPath(k.Tree, 6, 2) }), ErrBadDupWitness},
		{"fake duplicate witness, full path", 7, mut(func(p *StepProof) { p.Dup, p.DupIndex, p.DupPath = true, 2, RecordPath(k.Tree, 2) }), ErrBadDupWitness},
		{"witness after the record", 7, mut(func(p *StepProof) { p.Dup, p.DupIndex, p.DupPath = true, 6, []common.Hash{} }), ErrBadDupWitness},
		{"witness of another index", 21, func() *StepProof { p := *good; p.DupIndex = 4; return &p }(), ErrBadDupWitness},
		{"witness path tampered", 21, func() *StepProof {
			p := *good
			p.DupPath = slices.Clone(good.DupPath)
			p.DupPath[0][31] ^= 1
			return &p
		}(), ErrBadDupWitness},
	} {
		a := agreed(7)
		if tc.i == 21 {
			a = agreed(21)
		}
		if _, err := CheckStep(com, n, tc.i, a, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// The duplicate hint is the one fact a single path cannot show: a liar who
// denies a duplicate posts its proof first without the witness; the honest
// side answers with the witness and wins. A liar claiming a duplicate that
// is not there cannot show one and loses on its clock.
func TestDuplicateDisputes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 16))
	ds := randDataset(rng, 24, 2, 0)
	ds.Records[15] = slices.Clone(ds.Records[3]) // record 16 is a duplicate
	k := honest(t, ds)
	flip := func(at int) []common.Hash {
		s := k.start.Clone()
		h := slices.Clone(k.Trace.Hashes)
		for i := range ds.Records {
			dup := k.dups[i]
			if i+1 == at {
				dup = !dup
			}
			_ = s.Apply(ds.Records[i], dup)
			h[i+1] = s.Digest()
		}
		return h
	}
	for _, tc := range []struct {
		name         string
		at           int
		honestExec   bool
		liarStrips   bool
		wantExecWins bool
	}{
		{"liar executor denies a duplicate", 16, false, true, false},
		{"liar challenger denies a duplicate", 16, true, true, true},
		{"liar executor invents a duplicate", 9, false, false, false},
		{"liar challenger invents a duplicate", 9, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := liar(k, flip(tc.at))
			w := newWorld(t, execAddr, chalAddr)
			ek, ck := l, k
			if tc.honestExec {
				ek, ck = k, l
			}
			w.claim(ek, 1000)
			game := challenge(t, w, chalAddr, ck, 500)
			w.run(rng, []party{
				{addr: execAddr, side: Executor, k: ek, honest: tc.honestExec, strip: !tc.honestExec && tc.liarStrips},
				{addr: chalAddr, side: Challenger, k: ck, honest: !tc.honestExec, strip: tc.honestExec && tc.liarStrips},
			}, 300)
			g := w.games[game.ID]
			if (g.Status == GameExecutorWon) != tc.wantExecWins || g.Hi != uint64(tc.at) {
				t.Fatalf("game %s (%s) at step %d", g.Status, g.Reason, g.Hi)
			}
		})
	}
}

// Several challengers: the first game the executor loses overturns the
// claim; a griefer's game is then cancelled and its bond returned.
func TestParallelGames(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(17, 18))
	k := honest(t, randDataset(rng, 64, 3, 0.2))
	bad := liar(k, lieTrace(rng, k, lieRecord))
	grief := liar(k, lieTrace(rng, k, lieGarbage))
	c2 := common.Address{0xc2}
	w := newWorld(t, execAddr, chalAddr, c2)
	w.claim(bad, 1000)
	gg := challenge(t, w, c2, grief, 700)
	hg := challenge(t, w, chalAddr, k, 500)
	w.run(rng, []party{
		{addr: execAddr, side: Executor, k: bad},
		{addr: chalAddr, side: Challenger, k: k, honest: true},
		{addr: c2, side: Challenger, k: grief, offlineAt: 103},
	}, 200)
	if w.c.Status != StatusOverturned || w.games[hg.ID].Status != GameChallengerWon {
		t.Fatalf("claim %s, honest game %s", w.c.Status, w.games[hg.ID].Status)
	}
	if s := w.games[gg.ID].Status; s != GameCancelled && s != GameBothWrong && s != GameChallengerWon {
		t.Fatalf("griefer's game %s", s)
	}
}

func TestSplitConserves(t *testing.T) {
	t.Parallel()
	for _, amt := range []int64{0, 1, 7, 999, 1000, 123456789} {
		for _, bps := range []uint32{0, 1, 3333, 5000, 10000} {
			to, burn := Split(big.NewInt(amt), bps)
			if new(big.Int).Add(to, burn).Int64() != amt || to.Sign() < 0 || burn.Sign() < 0 {
				t.Fatalf("split %d at %d: %s + %s", amt, bps, to, burn)
			}
		}
	}
}

func TestDecodeState(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(19, 20))
	ds := randDataset(rng, 10, 16, 0.2)
	s := facts.New(ds.Fields, facts.DefaultParams)
	for _, r := range ds.Records {
		_ = s.Apply(r, false)
		got, err := DecodeState(s.Encode())
		if err != nil || !slices.Equal(got.Encode(), s.Encode()) || got.Digest() != s.Digest() {
			t.Fatalf("round trip: %v", err)
		}
	}
	for _, b := range [][]byte{nil, []byte("vsc-facts-state-v1"), append(s.Encode(), 0), s.Encode()[:40], make([]byte, MaxStateSize+1)} {
		if _, err := DecodeState(b); !errors.Is(err, ErrBadState) {
			t.Fatalf("garbage decoded: %v", err)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add(facts.New([]string{"a", "b"}, facts.DefaultParams).Encode())
	f.Add([]byte("vsc-facts-state-v1\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeState(b)
		if err != nil {
			return
		}
		if !slices.Equal(s.Encode(), b) {
			t.Fatalf("decoded state re-encodes differently")
		}
		_, _ = facts.Step(s, make([]int64, len(s.Fields)), false) // never panics
	})
}

// FuzzGame plays random honest and dishonest executors and challengers over
// random datasets: whenever a side is honest it wins, and every unit of the
// native token is accounted for.
func FuzzGame(f *testing.F) {
	for i := range 12 {
		f.Add(uint64(i), uint64(i*7+1))
	}
	f.Fuzz(func(t *testing.T, s1, s2 uint64) {
		rng := rand.New(rand.NewPCG(s1, s2))
		n := 1 + rng.IntN(120)
		k := honest(t, randDataset(rng, n, 1+rng.IntN(6), rng.Float64()*0.5))
		execHonest := rng.IntN(2) == 0
		ek := k
		if !execHonest {
			ek = liar(k, lieTrace(rng, k, rng.IntN(nLies)))
		}
		addrs := []common.Address{execAddr}
		parties := []party{{addr: execAddr, side: Executor, k: ek, honest: execHonest, strip: !execHonest && rng.IntN(2) == 0}}
		if !execHonest && rng.IntN(3) == 0 {
			parties[0].offlineAt = 100 + uint64(rng.IntN(30))
		}
		nc := rng.IntN(4)
		for i := range nc {
			a := common.Address{0xc0, byte(i)}
			addrs = append(addrs, a)
			p := party{addr: a, side: Challenger, k: k, honest: true}
			if rng.IntN(2) == 0 {
				p.k, p.honest = liar(k, lieTrace(rng, k, rng.IntN(nLies))), false
				p.strip = rng.IntN(2) == 0
				if rng.IntN(3) == 0 {
					p.offlineAt = 100 + uint64(rng.IntN(30))
				}
			}
			parties = append(parties, p)
		}
		w := newWorld(t, addrs...)
		w.claim(ek, 1000+int64(rng.IntN(5000)))
		anyHonestChallenger := false
		for _, p := range parties[1:] {
			r, err := p.k.ChallengeRequest(w.c, big.NewInt(500+int64(rng.IntN(3000))))
			if err != nil {
				t.Fatal(err)
			}
			err = w.post(p.addr, Action{Kind: ActChallenge, Challenge: r})
			switch {
			case errors.Is(err, ErrNoDispute): // agrees with the claim
			case err != nil:
				t.Fatalf("challenge: %v", err)
			case p.honest:
				anyHonestChallenger = true
			}
		}
		w.run(rng, parties, 400)
		switch {
		case execHonest && w.c.Status != StatusFinalized:
			t.Fatalf("honest executor's claim %s: %s", w.c.Status, w.c.Reason)
		case !execHonest && anyHonestChallenger && w.c.Status != StatusOverturned:
			t.Fatalf("wrong claim %s despite an honest challenger", w.c.Status)
		}
		for _, p := range parties[1:] {
			g := w.games[GameID(w.c.ID, p.addr)]
			if g == nil || !p.honest {
				continue
			}
			if g.Status != GameChallengerWon && g.Status != GameCancelled {
				t.Fatalf("honest challenger's game %s (%s)", g.Status, g.Reason)
			}
			if w.bal[p.addr].Cmp(big.NewInt(1_000_000)) < 0 {
				t.Fatalf("honest challenger lost money: %s", w.bal[p.addr])
			}
		}
		if execHonest && w.bal[execAddr].Cmp(big.NewInt(1_000_000)) < 0 {
			t.Fatalf("honest executor lost money: %s", w.bal[execAddr])
		}
		w.conserved()
	})
}
