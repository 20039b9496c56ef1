package exec_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Keys: 0 iDAO owner, 1 contributor, 2 executor, 3 challenger.
const (
	optOwner = iota
	optContributor
	optExecutor
	optChallenger
)

func optWorld(t *testing.T) (*world, *submission.Submission, []byte, *optimistic.Computation) {
	w := newWorld(t, 4)
	// ms of block time; a test block is 250 ms: a 4-block window, 6-block clocks
	w.cfg.Optimistic = &optimistic.Params{Window: 1000, Clock: 1500, MinClaimBond: big.NewInt(1000), MinChallengeBond: big.NewInt(500),
		WinnerShareBps: 5000, EquivocationShareBps: 5000}
	pol := idao.Policy{Modes: []idao.Mode{idao.ModeOptimistic}, Price: big.NewInt(1)}
	mustOK(t, w.block([]*tx.Tx{w.sign(optOwner, &tx.IDAOCreate{Name: "opt", Policy: pol, Stake: big.NewInt(100)})}, 1, 2))
	ds := &records.Dataset{Fields: []string{"a", "b"}}
	for i := range 40 {
		ds.Records = append(ds.Records, []int64{int64(i % 7), int64(i % 5)})
	}
	sub := &submission.Submission{IDAO: "opt", Mode: idao.ModeOptimistic, Class: "dataset", Contributor: w.addrs[optContributor],
		DataHash: common.Hash{0xda}, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), Nonce: 1}
	sig, err := sub.Sign(chainID, w.keys[optContributor])
	if err != nil {
		t.Fatal(err)
	}
	k, err := optimistic.Compute(ds, ds.Fields, facts.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	return w, sub, sig, k
}

func (w *world) optTx(i int, a optimistic.Action) *tx.Tx {
	w.t.Helper()
	b, err := tx.FromAction(&a)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.sign(i, b)
}

func (w *world) claimState(id common.Hash) *optimistic.Claim {
	w.t.Helper()
	c, err := state.DecodeClaim(w.st.Get(state.ClaimKey(id)))
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) gameState(id common.Hash) *optimistic.Game {
	w.t.Helper()
	g, err := state.DecodeGame(w.st.Get(state.GameKey(id)))
	if err != nil {
		w.t.Fatal(err)
	}
	return g
}

func (w *world) postClaim(k *optimistic.Computation, sub *submission.Submission, sig []byte) *optimistic.Claim {
	w.t.Helper()
	r := k.ClaimRequest(sub.Digest(chainID), k.DS.Fields, facts.DefaultParams, big.NewInt(2000))
	mustOK(w.t, w.block([]*tx.Tx{w.optTx(optExecutor, optimistic.Action{Kind: optimistic.ActClaim, Claim: r,
		Signed: &optimistic.SignedSubmission{Submission: *sub, Signature: sig}})}, 1, 2, 4))
	return w.claimState(optimistic.ClaimID(r.Submission, w.addrs[optExecutor], r.Result, r.TraceRoot))
}

// A wrong claim is challenged and overturned on chain in ⌈log2 n⌉ moves;
// the challenger gets half the executor's bond, the rest is burned, lanes
// agree with sequential execution at every block and supply is conserved.
func TestOptimisticWrongClaimOverturnedOnChain(t *testing.T) {
	t.Parallel()
	w, sub, sig, k := optWorld(t)
	bad := optimistic.Faulty(k)
	c := w.postClaim(bad, sub, sig)
	r, err := k.ChallengeRequest(c, big.NewInt(700))
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, w.block([]*tx.Tx{w.optTx(optChallenger, optimistic.Action{Kind: optimistic.ActChallenge, Challenge: r})}, 1, 2, 4))
	gid := optimistic.GameID(c.ID, w.addrs[optChallenger])
	execBal := w.account(w.addrs[optExecutor]).Balance
	chalBal := w.account(w.addrs[optChallenger]).Balance
	fees := new(big.Int)
	for range 60 {
		c, g := w.claimState(c.ID), w.gameState(gid)
		if !g.Active() {
			break
		}
		var txs []*tx.Tx
		for _, p := range []struct {
			i    int
			side optimistic.Side
			k    *optimistic.Computation
		}{{optExecutor, optimistic.Executor, bad}, {optChallenger, optimistic.Challenger, k}} {
			a, err := p.k.Next(c, g, p.side, w.time)
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind != optimistic.ActNone {
				txs = append(txs, w.optTx(p.i, a))
			}
		}
		for _, rc := range w.block(txs, 1, 2, 4) { // the liar's step proof may fail; the block still runs
			if rc.Sender == w.addrs[optChallenger] {
				fees.Add(fees, rc.Fee)
			}
		}
	}
	c, g := w.claimState(c.ID), w.gameState(gid)
	if c.Status != optimistic.StatusOverturned || g.Status != optimistic.GameChallengerWon || g.Moves > 6 {
		t.Fatalf("claim %s, game %s after %d moves (%s)", c.Status, g.Status, g.Moves, g.Reason)
	}
	gotChal := new(big.Int).Sub(w.account(w.addrs[optChallenger]).Balance, chalBal)
	if want := new(big.Int).Sub(big.NewInt(700+1000), fees); gotChal.Cmp(want) != 0 { // bond back + half the executor's 2000 − fees
		t.Fatalf("challenger gained %s, want %s", gotChal, want)
	}
	if w.account(w.addrs[optExecutor]).Balance.Cmp(execBal) > 0 || w.st.Get(state.BondKey(c.ID)) != nil || w.st.Get(state.BondKey(gid)) != nil {
		t.Fatal("executor's bond not slashed or bonds left behind")
	}
	if w.st.Get(state.OpenClaimKey(c.ID)) != nil {
		t.Fatal("a decided claim is still indexed as open")
	}
}

// An honest claim nobody challenges finalizes after the window; a challenge
// after the window, or on the finalized claim, is refused by the receipt and
// changes nothing but the fee and nonce.
func TestOptimisticHonestClaimFinalizesOnChain(t *testing.T) {
	t.Parallel()
	w, sub, sig, k := optWorld(t)
	c := w.postClaim(k, sub, sig)
	if w.st.Get(state.OpenClaimKey(c.ID)) == nil {
		t.Fatal("a new claim is not indexed as open")
	}
	early := w.block([]*tx.Tx{w.optTx(optOwner, optimistic.Action{Kind: optimistic.ActFinalize, ClaimID: c.ID, Executor: c.Executor})}, 1, 2)
	if early[0].Status != chain.StatusFailed || early[0].Code != codes.WindowOpen {
		t.Fatalf("finalize inside the window: %+v", early[0])
	}
	for w.time < c.WindowEnd {
		w.block(nil, 1)
	}
	lie := optimistic.Faulty(k)
	r, _ := lie.ChallengeRequest(c, big.NewInt(700))
	late := w.block([]*tx.Tx{w.optTx(optChallenger, optimistic.Action{Kind: optimistic.ActChallenge, Challenge: r})}, 1, 2)
	if late[0].Status != chain.StatusFailed || late[0].Code != codes.WindowClosed {
		t.Fatalf("late challenge: %+v", late[0])
	}
	if w.st.Get(state.GameKey(optimistic.GameID(c.ID, w.addrs[optChallenger]))) != nil {
		t.Fatal("refused challenge stored a game")
	}
	mustOK(t, w.block([]*tx.Tx{w.optTx(optOwner, optimistic.Action{Kind: optimistic.ActFinalize, ClaimID: c.ID, Executor: c.Executor})}, 1, 2))
	if got := w.claimState(c.ID); got.Status != optimistic.StatusFinalized {
		t.Fatalf("claim %s", got.Status)
	}
	if w.account(w.addrs[optExecutor]).Bonded.Sign() != 0 || w.st.Get(state.OpenClaimKey(c.ID)) != nil {
		t.Fatal("executor still bonded, or the finalized claim still indexed as open")
	}
}

// A claim must carry the contributor's valid signature over a submission in
// optimistic mode of an iDAO that accepts it.
func TestOptimisticClaimNeedsTheSignedSubmission(t *testing.T) {
	t.Parallel()
	w, sub, sig, k := optWorld(t)
	forged := *sub
	forged.Records++
	for name, s := range map[string]struct {
		sub *submission.Submission
		sig []byte
	}{
		"forged submission": {&forged, sig},
		"bad signature":     {sub, append([]byte{}, sig[:64]...)},
	} {
		r := k.ClaimRequest(s.sub.Digest(chainID), k.DS.Fields, facts.DefaultParams, big.NewInt(2000))
		rc := w.block([]*tx.Tx{w.optTx(optExecutor, optimistic.Action{Kind: optimistic.ActClaim, Claim: r,
			Signed: &optimistic.SignedSubmission{Submission: *s.sub, Signature: s.sig}})}, 1, 2)
		if rc[0].Status != chain.StatusFailed {
			t.Fatalf("%s: accepted", name)
		}
	}
}
