package node_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/exec"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/quorum"
)

const chainID = 99

func key(i int) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("node-test-%d", i))))
	if err != nil {
		panic(err)
	}
	return k
}

func addr(i int) common.Address { return crypto.PubkeyToAddress(key(i).PublicKey) }

// seqKey is the sequencer; keys 1..n are funded users.
var seqKey = key(0)

func genesis(n int) *chain.Genesis {
	g := &chain.Genesis{ChainID: chainID, Time: 1_700_000_000_000, Sequencer: addr(0), GasPrice: "1",
		Alloc: map[common.Address]string{}, Staking: testStaking()}
	for i := 1; i <= n; i++ {
		g.Alloc[addr(i)] = "1000000"
	}
	return g
}

// testStaking are staking rules with an hour's unstake delay and a minimum
// stake of 1.
func testStaking() *idao.Params {
	return &idao.Params{SlashWindow: 1800, MinUnstakeDelay: 3600, MinStake: big.NewInt(1), MaxMembers: 100, QCStakeWindow: 1000}
}

// clock is a settable test clock.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *clock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

type harness struct {
	t       *testing.T
	n       *node.Node
	dir     string
	clk     *clock
	hooks   node.Hooks
	enclave exec.EnclaveVerifier
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), clk: &clock{}}
	h.clk.ms.Store(1_700_000_100_000)
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	n, err := node.New(node.Config{DataDir: h.dir, Genesis: genesis(8), SequencerKey: seqKey, Lanes: 2,
		Clock: h.clk.now, Hooks: h.hooks, Enclave: h.enclave})
	if err != nil {
		h.t.Fatal(err)
	}
	h.n = n
	h.t.Cleanup(func() { n.Close() })
}

func (h *harness) reopen() {
	h.t.Helper()
	h.n.Close()
	h.open()
}

func (h *harness) build(i int, nonce uint64, body tx.Body) *tx.Tx {
	t, err := tx.New(chainID, nonce, big.NewInt(10_000), body)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := t.Sign(key(i)); err != nil {
		h.t.Fatal(err)
	}
	return t
}

// send signs with i's next nonce and submits; the error is the door's.
func (h *harness) send(i int, body tx.Body) (*tx.Tx, error) {
	t := h.build(i, h.n.NextNonce(addr(i)), body)
	_, err := h.n.SubmitTx(t)
	return t, err
}

// do sends, seals a block and returns the receipt.
func (h *harness) do(i int, body tx.Body) *chain.Receipt {
	h.t.Helper()
	t, err := h.send(i, body)
	if err != nil {
		h.t.Fatalf("submit %s: %v", body.Kind(), err)
	}
	return h.seal(t)[0]
}

func (h *harness) seal(txs ...*tx.Tx) []*chain.Receipt {
	h.t.Helper()
	h.clk.advance(time.Second)
	if _, err := h.n.ProduceBlock(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	var out []*chain.Receipt
	for _, t := range txs {
		info, err := h.n.Tx(t.Hash())
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, info.Receipt)
	}
	return out
}

func (h *harness) ok(i int, body tx.Body) *chain.Receipt {
	h.t.Helper()
	r := h.do(i, body)
	if r.Status != chain.StatusSuccess {
		h.t.Fatalf("%s failed: %s", body.Kind(), r.Message())
	}
	return r
}

func vote(i int, name string, sub, digest common.Hash) tx.AnchorVote {
	v := quorum.Vote{IDAO: name, Submission: sub, ResultDigest: digest, Approve: true}
	if err := v.Sign(key(i), chainID); err != nil {
		panic(err)
	}
	return tx.AnchorVote{Member: v.Member, Sig: v.Signature}
}

// signedAnchor is the anchor of contributor 4's submission made from seed,
// with the votes of voters, counted at the head.
func (h *harness) signedAnchor(seed, digest common.Hash, voters ...int) *tx.Anchor {
	s := submission.Submission{IDAO: "demo", Mode: "tee+zk", Class: "dataset", Contributor: addr(4), DataHash: seed,
		Commitment: crypto.Keccak256Hash(seed[:]), Records: 6, Nonce: seed.Big().Uint64()}
	sig, err := s.Sign(chainID, key(4))
	if err != nil {
		h.t.Fatal(err)
	}
	a := &tx.Anchor{IDAO: "demo", Submission: s.Digest(chainID), ResultDigest: digest, Signed: s, Signature: sig, StakeHeight: h.n.StakeHeight()}
	for _, i := range voters {
		a.Votes = append(a.Votes, vote(i, "demo", a.Submission, digest))
	}
	return a
}

// setup: iDAO "demo" with members 1,2,3 (stake 100 each), an anchored and
// minted class (validity 60 s) whose first token belongs to 4.
func (h *harness) setup() (class, first common.Hash) {
	pol := idao.Policy{Modes: []idao.Mode{"tee+zk"}, Price: big.NewInt(5), UnstakeDelay: 3600}
	h.ok(1, &tx.IDAOCreate{Name: "demo", Policy: pol, Stake: big.NewInt(100)})
	h.ok(2, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(100)})
	h.ok(3, &tx.IDAOJoin{Name: "demo", Amount: big.NewInt(100)})
	digest := common.HexToHash("0xd19e57")
	h.ok(1, h.signedAnchor(common.HexToHash("0x5b"), digest, 1, 2))
	// the contributor mints: only it chooses the class's terms
	mint := h.build(4, h.n.NextNonce(addr(4)), &tx.DATMint{Digest: digest, IDAO: "demo", URI: "ipfs://d", TotalShares: 100, Validity: 60, FirstValue: 10})
	if _, err := h.n.SubmitTx(mint); err != nil {
		h.t.Fatal(err)
	}
	if r := h.seal(mint)[0]; r.Status != chain.StatusSuccess {
		h.t.Fatal(r.Message())
	}
	return digest, exec.NewTokenID(mint.Hash(), 0)
}

// snapshot returns the state without the given accounts.
func snapshot(n *node.Node, skip ...common.Address) map[string]string {
	out := map[string]string{}
	n.State().Range("", func(k string, v []byte) bool {
		for _, a := range skip {
			if k == state.AccountKey(a) {
				return true
			}
		}
		out[k] = string(v)
		return true
	})
	return out
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestBadTxsRejected: each bad tx is refused with its reason and changes no
// state (beyond, for a tx that reached a block, its sender's fee and nonce).
func TestBadTxsRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	class, first := h.setup()
	t.Run("door", func(t *testing.T) { badAtTheDoor(t, h) })
	badInABlock(t, h, class, first)
}

// badAtTheDoor: txs SubmitTx refuses, each with its error, the state
// unchanged.
func badAtTheDoor(t *testing.T, h *harness) {
	good := func() *tx.Tx {
		return h.build(5, h.n.NextNonce(addr(5)), &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	}
	wrongChain, _ := tx.New(chainID+1, 0, big.NewInt(1000), &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	wrongChain.Sign(key(5))
	// use nonce 0 then 1, so "replayed" and "equal to the last" exist
	h.ok(5, &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	h.ok(5, &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	replayed := h.build(5, 0, &tx.Transfer{To: addr(6), Amount: big.NewInt(2)})
	equalLast := h.build(5, 1, &tx.Transfer{To: addr(6), Amount: big.NewInt(3)})
	gapped := h.build(5, 5, &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	lowFee, _ := tx.New(chainID, 2, big.NewInt(1), &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	lowFee.Sign(key(5))
	broke, _ := tx.New(chainID, 0, big.NewInt(1000), &tx.Transfer{To: addr(6), Amount: big.NewInt(1)})
	broke.Sign(key(50))
	pendingA := good()
	if _, err := h.n.SubmitTx(pendingA); err != nil {
		t.Fatal(err)
	}
	samePending := h.build(5, pendingA.Nonce, &tx.Transfer{To: addr(7), Amount: big.NewInt(1)})
	// the signature is checked after the nonce: a bad one with the next nonce
	badSig := good()
	badSig.Sig[10] ^= 1
	badSig2, _ := tx.Decode(badSig.Encode()) // fresh, no cached sender
	for _, c := range []struct {
		name string
		t    *tx.Tx
		want error
	}{
		{"wrong signature", badSig2, node.ErrBadSignature},
		{"wrong chain id", wrongChain, node.ErrWrongChain},
		{"replayed nonce", replayed, node.ErrNonceReplayed},
		{"nonce equal to the last", equalLast, node.ErrNonceReplayed},
		{"nonce equal to a pending one", samePending, node.ErrNoncePending},
		{"gapped nonce", gapped, node.ErrNonceGap},
		{"max fee too low", lowFee, node.ErrFeeTooLow},
		{"cannot afford fee", broke, node.ErrCannotAfford},
		{"same tx twice", pendingA, node.ErrKnownTx},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(h.n)
			_, err := h.n.SubmitTx(c.t)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !sameMap(before, snapshot(h.n)) {
				t.Fatal("state changed")
			}
		})
	}
	h.seal(pendingA)
}

// badInABlock: txs that fail in their block, each with its code, changing
// only their sender's fee and nonce; then two that succeed with nothing to
// do.
func badInABlock(t *testing.T, h *harness, class, first common.Hash) {
	// A second buyer token and an owner-5 bought token.
	buy := h.ok(5, &tx.DATBuy{Class: class, Units: 3})
	tok5 := common.HexToHash(buy.Events[0].Get("token"))

	cases := []struct {
		name   string
		sender int
		body   func() tx.Body
		want   error
		before func()
	}{
		{name: "redeem more units than the token holds", sender: 5, want: dat.ErrInsufficientUnits,
			body: func() tx.Body { return &tx.DATRedeem{Token: tok5, Units: 4} }},
		{name: "redeem an expired token", sender: 5, want: dat.ErrExpired,
			before: func() { h.clk.advance(2 * time.Minute) },
			body:   func() tx.Body { return &tx.DATRedeem{Token: tok5, Units: 1} }},
		{name: "transfer a token you don't own", sender: 6, want: dat.ErrNotOwner,
			body: func() tx.Body { return &tx.DATTransfer{Class: class, Token: first, To: addr(6)} }},
		{name: "buy with insufficient balance", sender: 6, want: exec.ErrInsufficientFunds,
			body: func() tx.Body { return &tx.DATBuy{Class: class, Units: 1_000_000} }},
		{name: "mint without an anchor", sender: 1, want: exec.ErrNoAnchor,
			body: func() tx.Body { return &tx.DATMint{Digest: common.HexToHash("0xbad"), IDAO: "demo"} }},
		{name: "anchor with less than 2/3 stake", sender: 1, want: quorum.ErrNoQuorum,
			body: func() tx.Body { return h.signedAnchor(common.HexToHash("0x51"), common.HexToHash("0xd1"), 1) }},
		{name: "anchor signed by a non-member", sender: 1, want: quorum.ErrNotMember,
			body: func() tx.Body { return h.signedAnchor(common.HexToHash("0x52"), common.HexToHash("0xd2"), 1, 2, 7) }},
		{name: "a member's vote counted twice", sender: 1, want: quorum.ErrDuplicateVote,
			body: func() tx.Body { return h.signedAnchor(common.HexToHash("0x53"), common.HexToHash("0xd3"), 1, 1) }},
		{name: "anchor the same digest twice", sender: 2, want: exec.ErrAlreadyAnchored,
			body: func() tx.Body { return h.signedAnchor(common.HexToHash("0x5b"), common.HexToHash("0xd19e57"), 1, 2, 3) }},
		{name: "unstake before the delay", sender: 3, want: idao.ErrUnstakeTooEarly,
			before: func() { h.ok(3, &tx.IDAOLeave{Name: "demo", Amount: big.NewInt(50)}) },
			body:   func() tx.Body { return &tx.IDAOWithdraw{Name: "demo"} }},
		{name: "mint twice", sender: 1, want: exec.ErrAlreadyMinted,
			body: func() tx.Body { return &tx.DATMint{Digest: class, IDAO: "demo"} }},
		{name: "vote with a forged signature", sender: 1, want: quorum.ErrBadSignature,
			body: func() tx.Body {
				a := h.signedAnchor(common.HexToHash("0x54"), common.HexToHash("0xd4"), 1, 3)
				a.Votes[0].Member = addr(2) // claims to be member 2
				return a
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before()
			}
			s := addr(c.sender)
			before := snapshot(h.n, s, addr(0))
			accBefore := h.n.Account(s)
			r := h.do(c.sender, c.body())
			if r.Status != chain.StatusFailed || r.Code != exec.CodeOf(c.want) {
				t.Fatalf("status %d code %s (%s), want failure %s (%q)", r.Status, r.Code, r.Message(), exec.CodeOf(c.want), c.want)
			}
			if !sameMap(before, snapshot(h.n, s, addr(0))) {
				t.Fatal("state other than the sender's fee and nonce changed")
			}
			acc := h.n.Account(s)
			if acc.Nonce != accBefore.Nonce+1 || new(big.Int).Sub(accBefore.Balance, acc.Balance).Cmp(r.Fee) != 0 {
				t.Fatalf("sender: nonce %d→%d balance %s→%s fee %s", accBefore.Nonce, acc.Nonce, accBefore.Balance, acc.Balance, r.Fee)
			}
		})
	}

	t.Run("claim twice, second gets 0", func(t *testing.T) {
		r1 := h.ok(4, &tx.DATClaim{Class: class, Token: first})
		if r1.Events[0].Get("claimed") != "15" { // 3 units × price 5, all shares
			t.Fatalf("first claim %s, want 15", r1.Events[0].Get("claimed"))
		}
		r2 := h.ok(4, &tx.DATClaim{Class: class, Token: first})
		if r2.Events[0].Get("claimed") != "0" {
			t.Fatalf("second claim %s, want 0", r2.Events[0].Get("claimed"))
		}
	})
	t.Run("withdraw after the delay", func(t *testing.T) {
		h.clk.advance(2 * time.Hour)
		r := h.ok(3, &tx.IDAOWithdraw{Name: "demo"})
		if r.Events[0].Get("amount") != "50" {
			t.Fatalf("withdrew %s", r.Events[0].Get("amount"))
		}
	})
}

// TestProofs: tx inclusion and state proofs verify offline against the
// signed header and fail on any flipped byte.
func TestProofs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var txs []*tx.Tx
	for i := 1; i <= 5; i++ {
		tt, err := h.send(i, &tx.Transfer{To: addr(8), Amount: big.NewInt(int64(i))})
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tt)
	}
	h.seal(txs...)
	for _, tt := range txs {
		p, err := h.n.TxProof(tt.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := proof.VerifyJSON(p.Marshal(), addr(0)); err != nil {
			t.Fatalf("tx proof: %v", err)
		}
	}
	if _, err := proof.VerifyJSON(mustProof(t, h, txs[2]).Marshal(), addr(3)); err == nil {
		t.Fatal("proof accepted for the wrong sequencer")
	}
	sp := h.n.StateProof(state.AccountKey(addr(8)))
	v, err := sp.State.Verify(sp.Header.StateRoot)
	if err != nil {
		t.Fatal(err)
	}
	var acc state.Account
	if err := state.Decode(v, &acc); err != nil || acc.Balance.String() != "1000015" {
		t.Fatalf("proven balance %v (%v)", acc.Balance, err)
	}
	absent := h.n.StateProof(state.AccountKey(common.HexToAddress("0x1234")))
	if got, err := absent.State.Verify(absent.Header.StateRoot); err != nil || got != nil {
		t.Fatalf("absence proof: %v %v", got, err)
	}
	for name, file := range map[string][]byte{"tx": mustProof(t, h, txs[3]).Marshal(), "state": sp.Marshal(), "absent": absent.Marshal()} {
		t.Run("flip every byte of "+name, func(t *testing.T) {
			keyAt := bytes.Index(file, []byte(`"key": "`))
			for i := range file {
				if name == "absent" && i >= keyAt && i < keyAt+60 {
					// A flipped key names another absent key: the proof
					// then truly proves that one absent too.
					continue
				}
				bad := bytes.Clone(file)
				bad[i] ^= 0x01
				if _, err := proof.VerifyJSON(bad, addr(0)); err == nil {
					t.Fatalf("flipped byte %d (%q) accepted: %s", i, file[i], file[max(0, i-80):min(len(file), i+20)])
				}
			}
		})
	}
}

func mustProof(t *testing.T, h *harness, tt *tx.Tx) *proof.Proof {
	p, err := h.n.TxProof(tt.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCrashRecovery: a crash between execution and commit, or in the middle
// of the commit, loses nothing committed and commits nothing partial; a
// restart resumes at the same head, root and balances; replay re-verifies
// every root.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	class, _ := h.setup()
	h.ok(5, &tx.DATBuy{Class: class, Units: 2})
	head := h.n.Head()
	bal := h.n.Account(addr(5)).Balance

	crash := errors.New("simulated crash")
	for _, stage := range []string{"before-commit", "mid-commit"} {
		t.Run(stage, func(t *testing.T) {
			h.hooks = node.Hooks{}
			if stage == "before-commit" {
				h.hooks.BeforeCommit = func(uint64) error { return crash }
			} else {
				h.hooks.InCommit = func(uint64) error { return crash }
			}
			h.reopen()
			if _, err := h.send(5, &tx.Transfer{To: addr(6), Amount: big.NewInt(500)}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.n.ProduceBlock(context.Background()); !errors.Is(err, crash) {
				t.Fatalf("produce: %v", err)
			}
			h.hooks = node.Hooks{}
			h.reopen()
			if got := h.n.Head(); got.Hash() != head.Hash() {
				t.Fatalf("head after crash %d %s, want %d %s", got.Height, got.Hash(), head.Height, head.Hash())
			}
			if h.n.State().Root() != head.StateRoot || h.n.Account(addr(5)).Balance.Cmp(bal) != 0 {
				t.Fatal("state changed by a crashed block")
			}
		})
	}
	// Between blocks: close and reopen, then keep going.
	h.reopen()
	r := h.ok(5, &tx.Transfer{To: addr(6), Amount: big.NewInt(500)})
	if r.Status != chain.StatusSuccess {
		t.Fatal(r.Message())
	}
	want := h.n.Head()
	h.reopen()
	if h.n.Head().Hash() != want.Hash() || h.n.State().Root() != want.StateRoot {
		t.Fatal("restart between blocks changed the head")
	}
	h.n.Close()
	for _, lanes := range []int{0, 1, 2, 4} {
		res, err := node.Replay(context.Background(), h.dir, lanes, nil)
		if err != nil {
			t.Fatalf("replay lanes %d: %v", lanes, err)
		}
		if res.StateRoot != want.StateRoot || res.Head != want.Height {
			t.Fatalf("replay lanes %d: %+v", lanes, res)
		}
	}
	h.open()
}

// fakeTEE accepts reports that say "ok".
type fakeTEE struct{}

func (fakeTEE) VerifyEnclaveKey(_ string, _ json.RawMessage, _, report []byte) error {
	if string(report) != "ok" {
		return fmt.Errorf("report %q is not ok", report)
	}
	return nil
}

// TestReplayKeepsEnclaveVerdicts: replay without a verifier reproduces
// every root by keeping the recorded verdicts of enclave registrations;
// replay with a verifier that judges differently fails loudly.
func TestReplayKeepsEnclaveVerdicts(t *testing.T) {
	t.Parallel()
	h := &harness{t: t, dir: t.TempDir(), clk: &clock{}, enclave: fakeTEE{}}
	h.clk.ms.Store(1_700_000_100_000)
	h.open()
	h.setup()
	h.ok(1, &tx.EnclaveRegister{IDAO: "demo", PubKey: []byte{4, 1}, Report: []byte("ok")})
	if r := h.do(1, &tx.EnclaveRegister{IDAO: "demo", PubKey: []byte{4, 2}, Report: []byte("forged")}); r.Status != chain.StatusFailed {
		t.Fatal("forged report accepted")
	}
	head := h.n.Head()
	h.n.Close()
	res, err := node.Replay(context.Background(), h.dir, 2, nil)
	if err != nil || res.StateRoot != head.StateRoot {
		t.Fatalf("replay with recorded verdicts: %+v %v", res, err)
	}
	if _, err := node.Replay(context.Background(), h.dir, 2, acceptAll{}); err == nil {
		t.Fatal("replay with a different verifier matched")
	}
	h.open()
}

type acceptAll struct{}

func (acceptAll) VerifyEnclaveKey(string, json.RawMessage, []byte, []byte) error { return nil }
