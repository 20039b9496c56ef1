package exec_test

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/quorum"
)

const chainID = 7

// world is a test chain held in memory.
type world struct {
	t        *testing.T
	cfg      *exec.Config
	st       *state.State
	keys     []*ecdsa.PrivateKey
	addrs    []common.Address
	nonces   map[common.Address]uint64
	height   uint64
	time     uint64
	proposer common.Address
	supply   *big.Int
}

// testStaking are staking rules with short windows and a stake minimum of 1.
func testStaking() *idao.Params {
	return &idao.Params{SlashWindow: 30, MinUnstakeDelay: 60, MinStake: big.NewInt(1), MaxMembers: 100, QCStakeWindow: 1000}
}

// keyCache holds the test keys made so far; tests run in parallel.
var (
	keyCacheMu sync.Mutex
	keyCache   []*ecdsa.PrivateKey
)

func testKeys(n int) []*ecdsa.PrivateKey {
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	for len(keyCache) < n {
		// Deterministic keys keep failures reproducible.
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("vsc-test-key-%d", len(keyCache)))))
		if err != nil {
			panic(err)
		}
		keyCache = append(keyCache, k)
	}
	return keyCache[:n]
}

func newWorld(t *testing.T, n int) *world {
	w := &world{t: t, cfg: &exec.Config{ChainID: chainID, GasPrice: big.NewInt(1), Staking: testStaking()}, nonces: map[common.Address]uint64{},
		time: 1_700_000_000_000, supply: new(big.Int)}
	w.keys = testKeys(n)
	var ws []state.Write
	for _, k := range w.keys {
		a := crypto.PubkeyToAddress(k.PublicKey)
		w.addrs = append(w.addrs, a)
		acc := state.NewAccount()
		acc.Balance = big.NewInt(1_000_000_000)
		w.supply.Add(w.supply, acc.Balance)
		ws = append(ws, state.NewWrite(state.AccountKey(a), state.Encode(acc)))
	}
	w.proposer = common.HexToAddress("0x5e9")
	w.st = state.New()
	w.st.Commit(w.st.Stage(ws, 1))
	return w
}

func (w *world) env() *exec.Env {
	return &exec.Env{Height: w.height + 1, Time: w.time, Proposer: w.proposer}
}

// sign builds a signed tx from key i with its next nonce.
func (w *world) sign(i int, body tx.Body) *tx.Tx {
	a := w.addrs[i]
	t, err := tx.New(chainID, w.nonces[a], big.NewInt(10_000), body)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := t.Sign(w.keys[i]); err != nil {
		w.t.Fatal(err)
	}
	w.nonces[a]++
	return t
}

// block executes txs with every lane count and the sequential executor,
// requires identical receipts and roots, commits and returns the receipts.
func (w *world) block(txs []*tx.Tx, laneCounts ...int) []*chain.Receipt {
	w.t.Helper()
	env := w.env()
	ref := exec.Run(w.cfg, env, w.st, txs, 0)
	for _, n := range laneCounts {
		for _, t := range txs {
			t.ForgetSender()
		}
		got := exec.Run(w.cfg, env, w.st, txs, n)
		if got.Staged.Root != ref.Staged.Root {
			w.t.Fatalf("height %d lanes %d: state root %x, sequential %x", env.Height, n, got.Staged.Root, ref.Staged.Root)
		}
		if got.ReceiptRoot != ref.ReceiptRoot || got.TxRoot != ref.TxRoot || got.GasUsed != ref.GasUsed {
			w.t.Fatalf("height %d lanes %d: receipt/tx root or gas differ", env.Height, n)
		}
		for i := range ref.Receipts {
			if !got.Receipts[i].Equal(ref.Receipts[i]) {
				w.t.Fatalf("height %d lanes %d: receipt %d differs:\n%+v\n%+v", env.Height, n, i, got.Receipts[i], ref.Receipts[i])
			}
		}
	}
	w.st.Commit(ref.Staged)
	w.height++
	w.time += 250
	w.checkConservation()
	return ref.Receipts
}

// checkConservation: native supply is constant and every class's pool is
// exactly what its holders can claim plus dust.
func (w *world) checkConservation() {
	w.t.Helper()
	total := new(big.Int)
	classes := map[common.Hash]*dat.Class{}
	tokens := map[common.Hash][]*dat.Token{}
	w.st.Range("", func(k string, v []byte) bool {
		switch {
		case k == state.BurnedKey:
			total.Add(total, new(big.Int).SetBytes(v))
		case k[:1] == state.PrefixAccount:
			var a state.Account
			mustDecode(w.t, v, &a)
			total.Add(total, a.Balance)
		case k[:1] == state.PrefixIDAO:
			var d idao.IDAO
			mustDecode(w.t, v, &d)
			total.Add(total, d.Held())
		case k[:1] == state.PrefixBond, k[:1] == state.PrefixUserBond:
			var b state.Bond
			mustDecode(w.t, v, &b)
			total.Add(total, b.Amount)
		case k[:1] == state.PrefixClass:
			var c dat.Class
			mustDecode(w.t, v, &c)
			total.Add(total, c.Pool)
			classes[c.ID] = &c
		case k[:1] == state.PrefixEscrow:
			var a escrow.Account
			mustDecode(w.t, v, &a)
			total.Add(total, a.Held())
		case k[:1] == state.PrefixProvider:
			var p escrow.Provider
			mustDecode(w.t, v, &p)
			total.Add(total, p.Stake)
		case k[:1] == state.PrefixToken:
			var tk dat.Token
			mustDecode(w.t, v, &tk)
			tokens[tk.Class] = append(tokens[tk.Class], &tk)
		}
		return true
	})
	if total.Cmp(w.supply) != 0 {
		w.t.Fatalf("height %d: supply %s, genesis %s", w.height, total, w.supply)
	}
	for id, c := range classes {
		if err := dat.CheckConservation(c, tokens[id]); err != nil {
			w.t.Fatalf("height %d: %v", w.height, err)
		}
	}
}

func mustDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := state.Decode(b, v); err != nil {
		t.Fatal(err)
	}
}

func (w *world) account(a common.Address) *state.Account {
	acc := state.NewAccount()
	if b := w.st.Get(state.AccountKey(a)); b != nil {
		mustDecode(w.t, b, acc)
	}
	return acc
}

// setupDAT creates iDAO "demo" with members 0..m-1, anchors a digest with
// their votes and mints a class whose first token belongs to contributor c.
// It returns the class id and the first token id.
func (w *world) setupDAT(m, c int, validity uint64) (common.Hash, common.Hash) {
	w.t.Helper()
	pol := idao.Policy{Modes: []idao.Mode{"tee+zk"}, Price: big.NewInt(7), UnstakeDelay: 60}
	txs := []*tx.Tx{w.sign(0, &tx.IDAOCreate{Name: "demo", Policy: pol, Stake: big.NewInt(1000)})}
	for i := 1; i < m; i++ {
		txs = append(txs, w.sign(i, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(1000)}))
	}
	mustOK(w.t, w.block(txs, 1, 2))
	an := w.anchorBody("demo", common.HexToHash("0x5ab"), common.HexToHash("0xd1"), c, seq(m))
	at := w.sign(0, an)
	mustOK(w.t, w.block([]*tx.Tx{at}, 1, 2))
	// the contributor mints: only it may choose the class's parameters
	mt := w.sign(c, &tx.DATMint{Digest: an.ResultDigest, IDAO: "demo", URI: "ipfs://x", TotalShares: 1000, Validity: validity, FirstValue: 10})
	mustOK(w.t, w.block([]*tx.Tx{mt}, 1, 2))
	return an.ResultDigest, exec.NewTokenID(mt.Hash(), 0)
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// signedSub is a submission to iDAO name that contributor signs, made
// from seed (one seed, one submission).
func (w *world) signedSub(name string, seed common.Hash, contributor int) (submission.Submission, []byte) {
	s := submission.Submission{IDAO: name, Mode: "tee", Class: "dataset", Contributor: w.addrs[contributor],
		DataHash: seed, Commitment: crypto.Keccak256Hash(seed[:]), Records: 6, Nonce: seed.Big().Uint64()}
	sig, err := s.Sign(chainID, w.keys[contributor])
	if err != nil {
		w.t.Fatal(err)
	}
	return s, sig
}

// anchorFor is the anchor of contributor's submission made from seed, with
// no votes, its QC counted at the head.
func (w *world) anchorFor(name string, seed, digest common.Hash, contributor int) *tx.Anchor {
	s, sig := w.signedSub(name, seed, contributor)
	return &tx.Anchor{IDAO: name, Submission: s.Digest(chainID), ResultDigest: digest, Signed: s, Signature: sig, StakeHeight: w.height}
}

// anchorBody is anchorFor with the approving votes of voters.
func (w *world) anchorBody(name string, seed, digest common.Hash, contributor int, voters []int) *tx.Anchor {
	a := w.anchorFor(name, seed, digest, contributor)
	sub := a.Submission
	for _, i := range voters {
		v := quorum.Vote{IDAO: name, Submission: sub, ResultDigest: digest, Approve: true}
		if err := v.Sign(w.keys[i], chainID); err != nil {
			w.t.Fatal(err)
		}
		a.Votes = append(a.Votes, tx.AnchorVote{Member: v.Member, Sig: v.Signature})
	}
	return a
}

func mustOK(t *testing.T, rs []*chain.Receipt) {
	t.Helper()
	for _, r := range rs {
		if r.Status != chain.StatusSuccess {
			t.Fatalf("tx %d (%s) failed: %s", r.Index, r.Kind, r.Message())
		}
	}
}

// TestLanesEqualSequential is the property test of parallel execution:
// random blocks of transfers, DAT buys/redeems/claims/transfers and stake
// moves, from 0% to 100% conflicting, give identical receipts and state roots
// with lanes 1, 2, 4, 8 and the plain sequential executor; native supply and
// every DAT pool are conserved after every block.
func TestLanesEqualSequential(t *testing.T) {
	t.Parallel()
	const accounts = 40
	for _, conflict := range []float64{0, 0.1, 0.5, 1} {
		t.Run(fmt.Sprintf("conflict=%v", conflict), func(t *testing.T) {
			w := newWorld(t, accounts)
			class, first := w.setupDAT(4, 5, 0)
			rng := rand.New(rand.NewPCG(uint64(conflict*100), 42))
			tokens := []common.Hash{first}
			owners := map[common.Hash]int{first: 5}
			stats := map[string]int{}
			for b := 0; b < 6; b++ {
				var txs []*tx.Tx
				for k := 0; k < 60; k++ {
					from := rng.IntN(accounts)
					if rng.Float64() < conflict {
						from = rng.IntN(3) // hot senders
					}
					to := w.addrs[rng.IntN(accounts)]
					if rng.Float64() < conflict {
						to = w.addrs[accounts-1] // hot receiver
					}
					switch op := rng.IntN(10); {
					case op < 4:
						txs = append(txs, w.sign(from, &tx.Transfer{To: to, Amount: big.NewInt(int64(rng.IntN(1000)))}))
					case op == 4:
						t := w.sign(from, &tx.DATBuy{Class: class, Units: uint64(1 + rng.IntN(5))})
						id := exec.NewTokenID(t.Hash(), 0)
						tokens = append(tokens, id)
						owners[id] = from
						txs = append(txs, t)
					case op == 5:
						tk := tokens[rng.IntN(len(tokens))]
						txs = append(txs, w.sign(owners[tk], &tx.DATRedeem{Token: tk, Units: uint64(1 + rng.IntN(3))}))
					case op == 6:
						tk := tokens[rng.IntN(len(tokens))]
						// sometimes not the owner: must fail the same way everywhere
						sender := owners[tk]
						if rng.IntN(4) == 0 {
							sender = from
						}
						txs = append(txs, w.sign(sender, &tx.DATClaim{Class: class, Token: tk}))
					case op == 7:
						tk := tokens[rng.IntN(len(tokens))]
						var shares uint64
						if tk == first {
							shares = uint64(rng.IntN(50))
						}
						value := uint64(rng.IntN(2))
						nt := w.sign(owners[tk], &tx.DATTransfer{Class: class, Token: tk, To: to, Value: value, Shares: shares})
						if value == 0 && shares == 0 {
							owners[tk] = idx(w.addrs, to)
						} else {
							owners[exec.NewTokenID(nt.Hash(), 0)] = idx(w.addrs, to)
							tokens = append(tokens, exec.NewTokenID(nt.Hash(), 0))
						}
						txs = append(txs, nt)
					case op == 8:
						txs = append(txs, w.sign(from, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(int64(1 + rng.IntN(50)))}))
					default:
						txs = append(txs, w.sign(from, &tx.IDAOLeave{Name: "demo", Amount: big.NewInt(1)}))
					}
				}
				rs := w.block(txs, 1, 2, 4, 8)
				for _, r := range rs {
					stats[r.Kind.String()+"/"+fmt.Sprint(r.Status)]++
				}
			}
			t.Logf("receipts by kind/status: %v", stats)
			if stats["transfer/1"] == 0 || stats["dat_buy/1"] == 0 || stats["dat_claim/1"] == 0 || stats["dat_redeem/1"] == 0 {
				t.Fatalf("random blocks exercised too little: %v", stats)
			}
		})
	}
}

func idx(as []common.Address, a common.Address) int {
	for i, x := range as {
		if x == a {
			return i
		}
	}
	return -1
}

// TestBondsAndSlashing: bonds lock, release and slash only by their
// arbiter; an equivocation proof slashes a member; supply stays constant.
func TestBondsAndSlashing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 8)
	w.setupDAT(3, 4, 0)
	arb := w.addrs[7]
	b1, b2 := common.HexToHash("0xb1"), common.HexToHash("0xb2")
	mustOK(t, w.block([]*tx.Tx{
		w.sign(5, &tx.BondLock{ID: b1, Amount: big.NewInt(500), Arbiter: arb, Purpose: "claim"}),
		w.sign(6, &tx.BondLock{ID: b2, Amount: big.NewInt(300), Arbiter: arb, Purpose: "challenge"}),
	}, 1, 2))
	if got := w.account(w.addrs[5]).Bonded; got.Int64() != 500 {
		t.Fatalf("bonded %s", got)
	}
	rs := w.block([]*tx.Tx{
		w.sign(5, &tx.BondRelease{ID: b1, Owner: w.addrs[5]}),                                                  // not the arbiter
		w.sign(6, &tx.BondLock{ID: b2, Amount: big.NewInt(1), Arbiter: arb}),                                   // id reused
		w.sign(7, &tx.BondSlash{ID: b1, Owner: w.addrs[5], Winner: w.addrs[6], WinnerAmount: big.NewInt(200)}), // ok
		w.sign(7, &tx.BondRelease{ID: b2, Owner: w.addrs[6]}),                                                  // ok
	}, 1, 2, 4)
	for i, want := range []uint8{chain.StatusFailed, chain.StatusFailed, chain.StatusSuccess, chain.StatusSuccess} {
		if rs[i].Status != want {
			t.Fatalf("tx %d status %d (%s)", i, rs[i].Status, rs[i].Message())
		}
	}
	if b := new(big.Int).SetBytes(w.st.Get(state.BurnedKey)); b.Int64() != 300 {
		t.Fatalf("burned %s", b)
	}
	// Member 1 signs two digests for one submission; 6 reports it.
	aa := w.anchorBody("demo", common.HexToHash("0x5e"), common.HexToHash("0xa1"), 4, []int{1})
	sub := aa.Submission
	va := aa.Votes[0]
	vb := w.anchorBody("demo", common.HexToHash("0x5e"), common.HexToHash("0xa2"), 4, []int{1}).Votes[0]
	before := w.account(w.addrs[6]).Balance
	rs = w.block([]*tx.Tx{w.sign(6, &tx.SlashEquivocation{IDAO: "demo", Member: w.addrs[1],
		First:  tx.EquivocationVote{Submission: sub, ResultDigest: common.HexToHash("0xa1"), Sig: va.Sig},
		Second: tx.EquivocationVote{Submission: sub, ResultDigest: common.HexToHash("0xa2"), Sig: vb.Sig}})}, 1, 2)
	mustOK(t, rs)
	gain := new(big.Int).Sub(w.account(w.addrs[6]).Balance, before)
	if want := 500 - rs[0].Fee.Int64(); gain.Int64() != want || rs[0].Fee.Int64() <= 200 { // half of 1000 stake, minus the fee (200 and its bytes)
		t.Fatalf("reporter gained %s, fee %s", gain, rs[0].Fee)
	}
	// The same proof with one vote only is refused.
	rs = w.block([]*tx.Tx{w.sign(6, &tx.SlashEquivocation{IDAO: "demo", Member: w.addrs[2],
		First:  tx.EquivocationVote{Submission: sub, ResultDigest: common.HexToHash("0xa1"), Sig: va.Sig},
		Second: tx.EquivocationVote{Submission: sub, ResultDigest: common.HexToHash("0xa1"), Sig: va.Sig}})}, 1)
	if rs[0].Status != chain.StatusFailed {
		t.Fatal("non-equivocation slashed")
	}
}

// batchVotes has each voter sign one vote batch covering every (sub, digest)
// pair and returns, per pair, the anchor votes with their batch proofs.
func (w *world) batchVotes(name string, subs, digests []common.Hash, voters []int) [][]tx.AnchorVote {
	out := make([][]tx.AnchorVote, len(subs))
	for _, i := range voters {
		vs := make([]*quorum.Vote, len(subs))
		for j := range subs {
			vs[j] = &quorum.Vote{IDAO: name, Submission: subs[j], ResultDigest: digests[j], Approve: true}
		}
		if err := quorum.SignBatch(w.keys[i], chainID, vs); err != nil {
			w.t.Fatal(err)
		}
		for j, v := range vs {
			out[j] = append(out[j], tx.AnchorVote{Member: v.Member, Sig: v.Signature, Batch: tx.BatchProofOf(v.Batch)})
		}
	}
	return out
}

func TestAnchorsWithBatchedVotes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 6)
	w.setupDAT(4, 4, 0)
	digests := []common.Hash{common.HexToHash("0xd01"), common.HexToHash("0xd02"), common.HexToHash("0xd03")}
	var subs []common.Hash
	var bodies []*tx.Anchor
	for j, seed := range []common.Hash{common.HexToHash("0xb01"), common.HexToHash("0xb02"), common.HexToHash("0xb03")} {
		bodies = append(bodies, w.anchorFor("demo", seed, digests[j], 4))
		subs = append(subs, bodies[j].Submission)
	}
	votes := w.batchVotes("demo", subs, digests, []int{0, 1, 2})
	anchor := func(j int, vs []tx.AnchorVote) *tx.Anchor {
		a := *bodies[j]
		a.Votes = vs
		return &a
	}
	// a proof taken from another item of the batch does not certify this one
	stolen := append([]tx.AnchorVote(nil), votes[1]...)
	stolen[0].Batch = votes[0][0].Batch
	rs := w.block([]*tx.Tx{w.sign(5, anchor(1, stolen))}, 1)
	if rs[0].Status != chain.StatusFailed || rs[0].Code != codes.BadVoteSignature {
		t.Fatalf("anchor with another item's batch proof: status %d (%s)", rs[0].Status, rs[0].Message())
	}
	// every item of the batch anchors on its own proofs, in one block
	var txs []*tx.Tx
	for j := range subs {
		txs = append(txs, w.sign(5, anchor(j, votes[j])))
	}
	mustOK(t, w.block(txs, 1, 2))
	for _, d := range digests {
		if w.st.Get(state.AnchorKey(d)) == nil {
			t.Fatalf("digest %s not anchored", d)
		}
	}
	// a member that signs another digest for a batched submission is slashed
	// on the two batch proofs
	other := w.batchVotes("demo", []common.Hash{common.HexToHash("0xf"), subs[0]},
		[]common.Hash{common.HexToHash("0xf"), common.HexToHash("0xbad")}, []int{1})[1][0]
	mine := votes[0][1] // member 1's vote on subs[0]
	rs = w.block([]*tx.Tx{w.sign(5, &tx.SlashEquivocation{IDAO: "demo", Member: w.addrs[1],
		First:  tx.EquivocationVote{Submission: subs[0], ResultDigest: digests[0], Sig: mine.Sig, Batch: mine.Batch},
		Second: tx.EquivocationVote{Submission: subs[0], ResultDigest: common.HexToHash("0xbad"), Sig: other.Sig, Batch: other.Batch}})}, 1)
	mustOK(t, rs)
}

func TestAnchorBatchAppliesEachItemOnItsOwn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 6)
	w.setupDAT(4, 4, 0) // iDAO "demo" with members 0..3; digest 0xd1 already anchored
	seeds := []common.Hash{common.HexToHash("0xc01"), common.HexToHash("0xc02"), common.HexToHash("0xc03"), common.HexToHash("0x5ab"), common.HexToHash("0xc04")}
	digests := []common.Hash{common.HexToHash("0xe01"), common.HexToHash("0xe02"), common.HexToHash("0xe03"), common.HexToHash("0xd1"), common.HexToHash("0xe04")}
	var subs []common.Hash
	for j, seed := range seeds {
		subs = append(subs, w.anchorFor("demo", seed, digests[j], 4).Submission)
	}
	votes := w.batchVotes("demo", subs[:3], digests[:3], []int{0, 1, 2})
	// the coordinator claims member 2 approved 0xe04 with its batch signature over other votes
	forged := w.batchVotes("demo", subs[4:], digests[4:], []int{0, 1})[0]
	stolen := votes[2][2]
	forged = append(forged, tx.AnchorVote{Member: stolen.Member, Sig: stolen.Sig, Batch: stolen.Batch})
	item := func(j int, vs []tx.AnchorVote) tx.AnchorItem {
		a := w.anchorFor("demo", seeds[j], digests[j], 4)
		a.Votes = vs
		return tx.AnchorItem{Anchor: *a, Mint: tx.DATMint{Digest: digests[j], IDAO: "demo"}}
	}
	b := &tx.AnchorBatch{Items: []tx.AnchorItem{
		item(0, votes[0]),
		item(1, votes[1][:1]), // one vote of four: no quorum
		item(2, votes[2]),
		item(3, votes[0]), // already anchored
		item(4, forged),   // a vote the coordinator forged
	}}
	at := w.sign(5, b)
	rs := w.block([]*tx.Tx{at}, 1, 2)
	mustOK(t, rs)
	skipped := 0
	for _, e := range rs[0].Events {
		if e.Type == "anchor_skipped" {
			skipped++
			// the event names the failure by its code; its words are no consensus data
			if !e.Code().Known() || e.Detail == "" || bytes.Contains(rs[0].Encode(), []byte(e.Detail)) {
				t.Fatalf("skip event %+v: code %d, words in the receipt's encoding", e, e.Code())
			}
		}
	}
	if skipped != 3 {
		t.Fatalf("%d items skipped, want 3: %+v", skipped, rs[0].Events)
	}
	if w.st.Get(state.AnchorKey(common.HexToHash("0xe04"))) != nil {
		t.Fatal("an item with a forged vote was anchored")
	}
	for i, d := range digests[:3] {
		anchored := w.st.Get(state.AnchorKey(d)) != nil
		minted := w.st.Get(state.ClassKey(d)) != nil
		if want := i != 1; anchored != want || minted != want {
			t.Fatalf("item %d: anchored %v minted %v, want %v", i, anchored, minted, want)
		}
	}
	// each minted item's first token is the tx's token number i, the contributor's
	for _, i := range []int{0, 2} {
		var tk dat.Token
		mustDecode(t, w.st.Get(state.TokenKey(exec.NewTokenID(at.Hash(), uint64(i)))), &tk)
		if tk.Owner != w.addrs[4] || tk.Class != digests[i] {
			t.Fatalf("item %d: token %+v", i, tk)
		}
	}
	w.checkConservation()
}

// A failed receipt names its failure by code: the error's words are its
// Detail, which its encoding (the receipt root) does not hold.
func TestFailedReceiptHoldsACodeNotWords(t *testing.T) {
	w := newWorld(t, 3)
	rs := w.block([]*tx.Tx{w.sign(1, &tx.Transfer{To: w.addrs[2], Amount: big.NewInt(2_000_000_000)})}, 1, 2)
	rc := rs[0]
	if rc.Status != chain.StatusFailed || rc.Code != codes.InsufficientFunds || !strings.Contains(rc.Detail, "insufficient balance") {
		t.Fatalf("receipt %+v", rc)
	}
	if bytes.Contains(rc.Encode(), []byte("insufficient")) {
		t.Fatal("the receipt's encoding holds the error's words")
	}
	if err := rc.Err(); codes.Of(err) != codes.InsufficientFunds || err.Error() != rc.Detail {
		t.Fatalf("Err: %v", err)
	}
}
