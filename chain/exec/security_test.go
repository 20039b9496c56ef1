package exec_test

import (
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
)

// Keys of the security tests: 0..3 members of "demo", 4 the contributor,
// 5 an outsider, 6 the coordinator's account.
const (
	secContributor = 4
	secOutsider    = 5
	secCoordinator = 6
)

func (w *world) demo(members int) {
	w.t.Helper()
	pol := idao.Policy{Modes: []idao.Mode{"tee"}, Price: big.NewInt(7)}
	txs := []*tx.Tx{w.sign(0, &tx.IDAOCreate{Name: "demo", Policy: pol, Stake: big.NewInt(1000)})}
	for i := 1; i < members; i++ {
		txs = append(txs, w.sign(i, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(1000)}))
	}
	mustOK(w.t, w.block(txs, 1, 2))
}

func failedWith(t *testing.T, rc *chain.Receipt, err error) {
	t.Helper()
	if rc.Status != chain.StatusFailed || rc.Code != exec.CodeOf(err) {
		t.Fatalf("status %d (%s: %s), want a failure %s (%q)", rc.Status, rc.Code, rc.Message(), exec.CodeOf(err), err)
	}
}

// An outsider who holds the votes (they are public) cannot anchor the
// result as its own: every way of naming itself the contributor is refused.
func TestAnchorBindsTheContributorsSignedSubmission(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7)
	w.demo(4)
	digest := common.HexToHash("0xd16e57")
	honest := w.anchorBody("demo", common.HexToHash("0x5eed"), digest, secContributor, []int{0, 1, 2})
	outsider := w.addrs[secOutsider]
	steal := []struct {
		name string
		edit func(a *tx.Anchor)
		err  error
	}{
		{"contributor renamed, old id and signature", func(a *tx.Anchor) { a.Signed.Contributor = outsider }, exec.ErrSubmissionDigest},
		{"contributor renamed and re-signed, old id", func(a *tx.Anchor) {
			a.Signed.Contributor = outsider
			a.Signature, _ = a.Signed.Sign(chainID, w.keys[secOutsider])
		}, exec.ErrSubmissionDigest},
		{"contributor renamed, re-signed, new id: the votes are for the old one", func(a *tx.Anchor) {
			a.Signed.Contributor = outsider
			a.Signature, _ = a.Signed.Sign(chainID, w.keys[secOutsider])
			a.Submission = a.Signed.Digest(chainID)
		}, quorum.ErrBadSignature},
		{"genuine submission, the outsider's signature", func(a *tx.Anchor) {
			a.Signature, _ = a.Signed.Sign(chainID, w.keys[secOutsider])
		}, exec.ErrWrongContributor},
		{"no signature", func(a *tx.Anchor) { a.Signature = nil }, exec.ErrWrongContributor},
		{"a submission of another iDAO", func(a *tx.Anchor) { a.IDAO = "other" }, exec.ErrMismatch},
		{"data hash swapped", func(a *tx.Anchor) { a.Signed.DataHash = common.HexToHash("0xbad") }, exec.ErrSubmissionDigest},
	}
	for _, c := range steal {
		a := *honest
		a.Votes = append([]tx.AnchorVote(nil), honest.Votes...)
		c.edit(&a)
		rs := w.block([]*tx.Tx{w.sign(secOutsider, &a)}, 1, 2)
		if rs[0].Status != chain.StatusFailed {
			t.Fatalf("%s: anchored", c.name)
		}
		if rs[0].Code != exec.CodeOf(c.err) {
			t.Fatalf("%s: %s (%s), want %s (%q)", c.name, rs[0].Code, rs[0].Message(), exec.CodeOf(c.err), c.err)
		}
	}
	if w.st.Get(state.AnchorKey(digest)) != nil {
		t.Fatal("a stolen anchor landed")
	}
}

// An outsider who front-runs the anchor with the genuine submission only
// anchors it for the contributor: the DAT is the contributor's, the
// outsider cannot set the class's terms, and the coordinator's own mint of
// the default class still goes through.
func TestFrontRunAnchorMintsForTheContributor(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7)
	w.demo(4)
	digest := common.HexToHash("0xf207")
	a := w.anchorBody("demo", common.HexToHash("0xf5"), digest, secContributor, []int{0, 1, 2})
	mustOK(t, w.block([]*tx.Tx{w.sign(secOutsider, a)}, 1, 2))
	var an state.Anchor
	mustDecode(t, w.st.Get(state.AnchorKey(digest)), &an)
	if an.Contributor != w.addrs[secContributor] || an.Sender != w.addrs[secOutsider] || an.DataHash != a.Signed.DataHash ||
		an.Commitment != a.Signed.Commitment || an.Class != "dataset" {
		t.Fatalf("anchor %+v", an)
	}
	rs := w.block([]*tx.Tx{
		w.sign(secOutsider, &tx.DATMint{Digest: digest, IDAO: "demo", Price: big.NewInt(1 << 40), TotalShares: 1, Validity: 1}),
		w.sign(secOutsider, &tx.DATMint{Digest: digest, IDAO: "demo", URI: "https://evil.example"}),
	}, 1, 2)
	failedWith(t, rs[0], exec.ErrNotMinter)
	failedWith(t, rs[1], exec.ErrNotMinter)
	mt := w.sign(secCoordinator, &tx.DATMint{Digest: digest, IDAO: "demo", ClassKind: "dataset", URI: tx.SubmissionURI(a.Submission)})
	mustOK(t, w.block([]*tx.Tx{mt}, 1, 2))
	var c dat.Class
	mustDecode(t, w.st.Get(state.ClassKey(digest)), &c)
	var tk dat.Token
	mustDecode(t, w.st.Get(state.TokenKey(exec.NewTokenID(mt.Hash(), 0))), &tk)
	if tk.Owner != w.addrs[secContributor] || tk.Shares != tx.DefaultShares || c.URI != tx.SubmissionURI(a.Submission) || c.Price.Int64() != 7 {
		t.Fatalf("token %+v class uri %q price %s", tk, c.URI, c.Price)
	}
	// the contributor chooses its own class's terms
	d2 := common.HexToHash("0xf208")
	a2 := w.anchorBody("demo", common.HexToHash("0xf6"), d2, secContributor, []int{0, 1, 2})
	mustOK(t, w.block([]*tx.Tx{w.sign(secOutsider, a2)}, 1))
	mustOK(t, w.block([]*tx.Tx{w.sign(secContributor, &tx.DATMint{Digest: d2, IDAO: "demo", TotalShares: 10, FirstValue: 3, URI: "ipfs://mine"})}, 1))
}

// A user bond lives apart from the optimistic game's bonds: an executor
// that pre-locks a game's bond id for a watcher does not stop the watcher's
// challenge.
func TestUserBondCannotSquatAGameBond(t *testing.T) {
	t.Parallel()
	w, sub, sig, k := optWorld(t)
	bad := optimistic.Faulty(k)
	c := w.postClaim(bad, sub, sig)
	gid := optimistic.GameID(c.ID, w.addrs[optChallenger])
	mustOK(t, w.block([]*tx.Tx{
		w.sign(optExecutor, &tx.BondLock{ID: gid, Amount: big.NewInt(1), Arbiter: w.addrs[optExecutor], Purpose: "squat"}),
		w.sign(optExecutor, &tx.BondLock{ID: c.ID, Amount: big.NewInt(1), Arbiter: w.addrs[optExecutor], Purpose: "squat"}),
	}, 1, 2))
	r, err := k.ChallengeRequest(c, big.NewInt(700))
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, w.block([]*tx.Tx{w.optTx(optChallenger, optimistic.Action{Kind: optimistic.ActChallenge, Challenge: r})}, 1, 2))
	if w.st.Get(state.GameKey(gid)) == nil || w.st.Get(state.BondKey(gid)) == nil {
		t.Fatal("the challenge did not open its game and bond")
	}
	// the squatter's own bond is still its own, released by its arbiter
	mustOK(t, w.block([]*tx.Tx{w.sign(optExecutor, &tx.BondRelease{ID: gid, Owner: w.addrs[optExecutor]})}, 1))
	if w.st.Get(state.BondKey(gid)) == nil {
		t.Fatal("releasing the user bond touched the game's bond")
	}
}

// The QC's stake height: stake that joins after it neither weighs nor
// dilutes; an anchor must name a committed, recent height.
func TestQCStakeHeight(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7)
	w.demo(4) // 4 × 1000
	h := w.height
	digest := common.HexToHash("0x91")
	honest := w.anchorBody("demo", common.HexToHash("0x51"), digest, secContributor, []int{0, 1, 2})
	// after the votes, an outsider joins with far more stake than the rest
	mustOK(t, w.block([]*tx.Tx{w.sign(secOutsider, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(100_000)})}, 1, 2))
	// its own digest, its own vote, counted at the height before it joined: refused
	lie := w.anchorFor("demo", common.HexToHash("0x51"), common.HexToHash("0xbad"), secContributor)
	lie.StakeHeight = h
	lie.Votes = w.anchorBody("demo", common.HexToHash("0x51"), common.HexToHash("0xbad"), secContributor, []int{secOutsider}).Votes
	rs := w.block([]*tx.Tx{w.sign(secOutsider, lie)}, 1, 2)
	failedWith(t, rs[0], quorum.ErrNotMember)
	// the honest QC, counted at the same height, is not diluted
	for _, bad := range []uint64{w.height + 1, w.height + 5} { // not committed yet
		a := *honest
		a.StakeHeight = bad
		rs := w.block([]*tx.Tx{w.sign(secCoordinator, &a)}, 1)
		failedWith(t, rs[0], idao.ErrStakeHeight)
	}
	honest.StakeHeight = h
	mustOK(t, w.block([]*tx.Tx{w.sign(secCoordinator, honest)}, 1, 2))
	var an state.Anchor
	mustDecode(t, w.st.Get(state.AnchorKey(digest)), &an)
	if an.StakeHeight != h || an.Stake.Int64() != 3000 {
		t.Fatalf("anchor counted %s at %d", an.Stake, an.StakeHeight)
	}
	// counted after the join the same votes are 3000 of 104000: no QC
	again := w.anchorBody("demo", common.HexToHash("0x52"), common.HexToHash("0x92"), secContributor, []int{0, 1, 2})
	rs = w.block([]*tx.Tx{w.sign(secCoordinator, again)}, 1)
	failedWith(t, rs[0], quorum.ErrNoQuorum)
	// a height older than the window is refused
	w.cfg.Staking.QCStakeWindow = 2
	old := w.anchorBody("demo", common.HexToHash("0x53"), common.HexToHash("0x93"), secContributor, []int{0, 1, 2})
	old.StakeHeight = h
	rs = w.block([]*tx.Tx{w.sign(secCoordinator, old)}, 1)
	failedWith(t, rs[0], idao.ErrStakeHeight)
}

// A member that unstakes after voting still counts, and still cannot
// escape: its unstaked funds stay slashable past the slashing window, the
// equivocation proof takes them, and the same proof never slashes twice.
func TestUnstakeAfterVotingCannotEscapeSlashing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7)
	w.demo(3) // 3 × 1000: a QC needs every member
	h := w.height
	a := w.anchorBody("demo", common.HexToHash("0x61"), common.HexToHash("0xa61"), secContributor, []int{0, 1, 2})
	// member 2 also signs another digest for the same submission, then leaves
	other := quorum.Vote{IDAO: "demo", Submission: a.Submission, ResultDigest: common.HexToHash("0xb61"), Approve: true}
	if err := other.Sign(w.keys[2], chainID); err != nil {
		t.Fatal(err)
	}
	mustOK(t, w.block([]*tx.Tx{w.sign(2, &tx.IDAOLeave{Name: "demo", Amount: big.NewInt(1000)})}, 1, 2))
	a.StakeHeight = h
	mustOK(t, w.block([]*tx.Tx{w.sign(secCoordinator, a)}, 1, 2)) // its vote still counts at h
	// it cannot take its funds back before the unstake delay
	rs := w.block([]*tx.Tx{w.sign(2, &tx.IDAOWithdraw{Name: "demo"})}, 1)
	failedWith(t, rs[0], idao.ErrUnstakeTooEarly)
	proof := &tx.SlashEquivocation{IDAO: "demo", Member: w.addrs[2],
		First:  tx.EquivocationVote{Submission: a.Submission, ResultDigest: a.ResultDigest, Sig: a.Votes[2].Sig},
		Second: tx.EquivocationVote{Submission: a.Submission, ResultDigest: other.ResultDigest, Sig: other.Signature}}
	mustOK(t, w.block([]*tx.Tx{w.sign(secOutsider, proof)}, 1, 2))
	var d idao.IDAO
	mustDecode(t, w.st.Get(state.IDAOKey("demo")), &d)
	if m := d.Member(w.addrs[2]); m == nil || m.Pending.Sign() != 0 || m.Stake.Sign() != 0 {
		t.Fatalf("member after the slash: %+v", m)
	}
	// it stakes again: the used proof does not slash it a second time
	mustOK(t, w.block([]*tx.Tx{w.sign(2, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(500)})}, 1))
	rs = w.block([]*tx.Tx{w.sign(secOutsider, proof)}, 1)
	failedWith(t, rs[0], idao.ErrAlreadySlashed)
	// with the two votes swapped, still the same (member, submission)
	swapped := *proof
	swapped.First, swapped.Second = proof.Second, proof.First
	rs = w.block([]*tx.Tx{w.sign(secOutsider, &swapped)}, 1)
	failedWith(t, rs[0], idao.ErrAlreadySlashed)
}

// Unstaked funds released sooner than the slashing window after the anchor
// do not weigh in its QC: they could leave before a proof lands.
func TestStakeLeavingBeforeTheSlashWindowDoesNotCount(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7)
	w.demo(3)
	h := w.height
	a := w.anchorBody("demo", common.HexToHash("0x71"), common.HexToHash("0xa71"), secContributor, []int{0, 1, 2})
	mustOK(t, w.block([]*tx.Tx{w.sign(2, &tx.IDAOLeave{Name: "demo", Amount: big.NewInt(1000)})}, 1))
	// the chain stalls: the release (60 s) is now less than the window (30 s) away
	w.time += 31_000
	a.StakeHeight = h
	rs := w.block([]*tx.Tx{w.sign(secCoordinator, a)}, 1, 2)
	failedWith(t, rs[0], quorum.ErrNotMember)
}

// The staking rules' floors at the chain: the minimum unstake delay, the
// minimum stake, the member cap.
func TestStakingFloors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 8)
	w.cfg.Staking.MinStake = big.NewInt(100)
	w.cfg.Staking.MaxMembers = 2
	rs := w.block([]*tx.Tx{
		w.sign(0, &tx.IDAOCreate{Name: "short", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, UnstakeDelay: 10}}),
		w.sign(0, &tx.IDAOCreate{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee"}}, Stake: big.NewInt(100)}),
	}, 1)
	failedWith(t, rs[0], idao.ErrUnstakeDelay)
	mustOK(t, rs[1:])
	rs = w.block([]*tx.Tx{
		w.sign(1, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(99)}),
		w.sign(2, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(100)}),
		w.sign(3, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(100)}),
		w.sign(0, &tx.IDAOSetPolicy{Name: "demo", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, UnstakeDelay: 59}}),
	}, 1, 2)
	failedWith(t, rs[0], idao.ErrBelowMinStake)
	mustOK(t, rs[1:2])
	failedWith(t, rs[2], idao.ErrMemberCap)
	failedWith(t, rs[3], idao.ErrUnstakeDelay)
}

// A tx that fails the pre-checks never enters a block: the sequencer drops
// it, and the block it seals is exactly the block of the txs it kept (a
// follower re-executing it gets the same receipts and roots, and finds
// nothing invalid).
func TestInvalidTxsAreDroppedFromTheBlock(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 6)
	poor, _ := crypto.GenerateKey()
	poorTx, _ := tx.New(chainID, 0, big.NewInt(10_000), &tx.Transfer{To: w.addrs[1], Amount: big.NewInt(1)})
	poorTx.Sign(poor)
	wrongChain, _ := tx.New(chainID+1, 0, big.NewInt(10_000), &tx.Transfer{To: w.addrs[1], Amount: big.NewInt(1)})
	wrongChain.Sign(w.keys[3])
	cheap, _ := tx.New(chainID, 0, big.NewInt(1), &tx.Transfer{To: w.addrs[1], Amount: big.NewInt(1)})
	cheap.Sign(w.keys[4])
	forged := w.sign(5, &tx.Transfer{To: w.addrs[1], Amount: big.NewInt(1)})
	forged.Sig = append([]byte(nil), forged.Sig...)
	forged.Sig[3] ^= 1
	forged, _ = tx.Decode(forged.Encode()) // re-encoded with the bad signature
	garbage := &tx.Tx{ChainID: chainID, Nonce: 0, MaxFee: big.NewInt(10_000), Kind: tx.KindTransfer, Body: []byte{0xff}}
	garbage.Sign(w.keys[2])
	good := []*tx.Tx{w.sign(0, &tx.Transfer{To: w.addrs[1], Amount: big.NewInt(5)}), w.sign(0, &tx.Transfer{To: w.addrs[2], Amount: big.NewInt(6)})}
	replayed := good[0]
	txs := []*tx.Tx{poorTx, good[0], wrongChain, cheap, replayed, forged, garbage, good[1]}
	for _, lanes := range []int{0, 1, 2, 4} {
		for _, t := range txs {
			t.ForgetSender()
		}
		out := exec.Run(w.cfg, w.env(), w.st, txs, lanes)
		if len(out.Invalid) != 6 {
			t.Fatalf("lanes %d: %d invalid, want 6: %+v", lanes, len(out.Invalid), out.Invalid)
		}
		kept := out.DropInvalid(txs)
		if len(kept) != 2 || kept[0] != good[0] || kept[1] != good[1] {
			t.Fatalf("lanes %d: kept %d txs", lanes, len(kept))
		}
		ref := exec.Run(w.cfg, w.env(), w.st, kept, 0)
		if len(ref.Invalid) != 0 || ref.Staged.Root != out.Staged.Root || ref.TxRoot != out.TxRoot ||
			ref.ReceiptRoot != out.ReceiptRoot || ref.GasUsed != out.GasUsed {
			t.Fatalf("lanes %d: the kept block does not re-execute to the same outcome", lanes)
		}
		for i := range ref.Receipts {
			if !ref.Receipts[i].Equal(out.Receipts[i]) {
				t.Fatalf("lanes %d: receipt %d differs", lanes, i)
			}
		}
	}
	for _, x := range []error{exec.ErrInsufficientFunds, exec.ErrWrongChain, exec.ErrFeeTooLow, exec.ErrNonce, tx.ErrBadSignature, tx.ErrBadEncoding} {
		found := false
		for _, bad := range exec.Run(w.cfg, w.env(), w.st, txs, 2).Invalid {
			found = found || errors.Is(bad.Err, x)
		}
		if !found {
			t.Fatalf("no tx dropped for %v", x)
		}
	}
}

// Big txs pay for their bytes.
func TestFeeHasAPerBytePart(t *testing.T) {
	t.Parallel()
	small := &tx.Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(1)}
	big1 := &tx.EnclaveRegister{IDAO: "demo", PubKey: make([]byte, 65), Report: make([]byte, 10_000)}
	gs, _ := tx.GasOf(small)
	gb, _ := tx.GasOf(big1)
	big2 := &tx.EnclaveRegister{IDAO: "demo", PubKey: make([]byte, 65), Report: make([]byte, 20_000)}
	gb2, _ := tx.GasOf(big2)
	if gs >= 100 || gb2-gb != 10_000/tx.BodyBytesPerGas {
		t.Fatalf("gas: transfer %d, 10 kB register %d, 20 kB register %d", gs, gb, gb2)
	}
}

// Only a class's contributor restricts the queries over its data, and only
// to aggregates that exist: the class then carries the policy enclaves
// answer under.
func TestQueryPolicyIsTheContributors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 7)
	w.demo(4)
	digest := common.HexToHash("0xf301")
	a := w.anchorBody("demo", common.HexToHash("0xf7"), digest, secContributor, []int{0, 1, 2})
	mustOK(t, w.block([]*tx.Tx{w.sign(secOutsider, a)}, 1))
	mustOK(t, w.block([]*tx.Tx{w.sign(secCoordinator, &tx.DATMint{Digest: digest, IDAO: "demo", ClassKind: "dataset", URI: tx.SubmissionURI(a.Submission)})}, 1))
	rs := w.block([]*tx.Tx{
		w.sign(secOutsider, &tx.DATQueryPolicy{Class: digest, Allowed: []string{"count"}}),
		w.sign(secContributor, &tx.DATQueryPolicy{Class: digest, Allowed: []string{"median"}}),
		w.sign(secContributor, &tx.DATQueryPolicy{Class: common.HexToHash("0xdead"), Allowed: []string{"count"}}),
	}, 1, 2)
	failedWith(t, rs[0], exec.ErrNotMinter)
	if rs[1].Code != exec.CodeOf(dat.ErrBadClass) {
		t.Fatalf("an unknown aggregate: %s (%s), want bad_class", rs[1].Code, rs[1].Message())
	}
	failedWith(t, rs[2], exec.ErrUnknownClass)
	var c dat.Class
	mustDecode(t, w.st.Get(state.ClassKey(digest)), &c)
	if len(c.QueryAllowed) != 0 || len(c.QueryColumns) != 0 {
		t.Fatalf("a refused policy changed the class: %v %v", c.QueryAllowed, c.QueryColumns)
	}
	mustOK(t, w.block([]*tx.Tx{w.sign(secContributor, &tx.DATQueryPolicy{Class: digest, Allowed: []string{"count", "avg"}, Columns: []string{"region"}})}, 1))
	mustDecode(t, w.st.Get(state.ClassKey(digest)), &c)
	if !slices.Equal(c.QueryAllowed, []string{"count", "avg"}) || !slices.Equal(c.QueryColumns, []string{"region"}) {
		t.Fatalf("class policy %v %v", c.QueryAllowed, c.QueryColumns)
	}
}
