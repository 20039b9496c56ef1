package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vsc-labs/vsc/cmd/vscd/internal/bench"
	teeworker "github.com/vsc-labs/vsc/tee/worker"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum"
	"github.com/vsc-labs/vsc/tee"
)

// zkKeysDir is shared by the devnets of this package's tests, so the small
// test circuit's Groth16 setup (chunks of testZKChunk records) runs once.
var zkKeysDir string

// testZKChunk is the records per zk chunk of the tests' devnets: a fast
// test circuit.
const testZKChunk = 4

// testEnv is a command's environment in a test: its output goes to stdout
// and stderr, and it reads vars (NAME=VALUE…) as its environment instead of
// the process's, so tests need not set that (and run in parallel).
func testEnv(stdout, stderr io.Writer, vars ...string) *cli.Env {
	m := map[string]string{}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return &cli.Env{Stdout: stdout, Stderr: stderr, Getenv: func(name string) string { return m[name] }}
}

// asVSCD makes the test binary run as vscd itself (TestMain), for the tests
// that kill a devnet process: no separate build of the binary.
const asVSCD = "VSCD_TEST_RUN_AS_VSCD"

func TestMain(m *testing.M) {
	if os.Getenv(asVSCD) != "" || os.Getenv(bench.DatasetClientEnv) != "" {
		os.Exit(runProcess())
	}
	// the tests' blobs are small: stream every one over 64 KiB through the
	// enclave, so the devnets exercise the streaming path
	teeworker.StreamAbove = 64 << 10
	dir, err := os.MkdirTemp("", "vsc-devnet-zk-")
	if err != nil {
		panic(err)
	}
	zkKeysDir = dir
	// the tests' devnets run in parallel: make the test circuit's keys once,
	// before any of them looks for them
	km, err := prover.NewKeyManager(dir, nil)
	if err == nil {
		_, err = km.Warm(context.Background(), testZKShapes()...)
	}
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testZKShapes are the shapes of the tests' demo iDAO: one per field count
// 1..devnetZKFields, in chunks of testZKChunk records.
func testZKShapes() []prover.Shape {
	out := make([]prover.Shape, devnetZKFields)
	for i := range out {
		out[i] = prover.DefaultShape(testZKChunk, i+1)
	}
	return out
}

type testDevnet struct {
	*devnet
	api *client.Client
	t   *testing.T
	// logs holds everything the devnet logged (tests assert what it never says).
	logs *logBuffer
	tap  *logTap // the coded refusals the devnet logged
}

// logBuffer is a log sink safe for the devnet's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything logged so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDevnet runs a whole devnet in-process: 4 members, chunks of 4
// records (a fast test circuit), its own data dir and database.
func startDevnet(t *testing.T, tweak func(*devnetConfig)) *testDevnet {
	t.Helper()
	cfg := devnetConfig{Data: t.TempDir(), Listen: "127.0.0.1:0", Quorum: 4, Lanes: 2, ZKKeys: zkKeysDir}
	cfg.Coordinator.ChainID, cfg.Coordinator.ZKChunk, cfg.Coordinator.VoteTimeout = 1337, testZKChunk, 20*time.Second
	cfg.Coordinator.RelayPoll = 50 * time.Millisecond
	if tweak != nil {
		tweak(&cfg)
	}
	captured := &logBuffer{}
	var logs io.Writer = captured
	if testing.Verbose() {
		logs = io.MultiWriter(captured, os.Stderr)
	}
	tap := newLogTap(slog.NewTextHandler(logs, nil))
	d := newDevnet(cfg, slog.New(tap), io.Discard)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(errors.Join(err, d.stop()))
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("devnet stop: %v", err)
		}
		abs, _ := filepath.Abs(cfg.Data)
		_ = pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(abs))
	})
	api := client.New("http://" + d.coord.Addr())
	// what a test contributor trusts: the devnet's sequencer, and its
	// simulated enclave (test data only)
	api.Trust = client.Trust{Sequencer: d.chain.Sequencer(), AllowSimulation: true}
	return &testDevnet{devnet: d, api: api, t: t, logs: captured, tap: tap}
}

const dataset6 = "t,temp,hum,wind\n1,120,80,30\n2,118,82,28\n3,-5,90,17\n4,110,89,21\n5,124,80,33\n6,139,71,45\n"

// submit sends a dataset as the devnet's contributor and returns its id.
func (d *testDevnet) submit(data string, mode idao.Mode) string {
	d.t.Helper()
	ctx := context.Background()
	key := d.key("contributor")
	p, err := d.api.Prepare(ctx, []byte(data), client.PrepareOptions{IDAO: "demo", Mode: mode, Contributor: keys.Address(key)})
	if err != nil {
		d.t.Fatal(err)
	}
	sig, _ := p.Sign(key)
	v, _, err := d.api.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil {
		d.t.Fatal(err)
	}
	return v.ID
}

func (d *testDevnet) wait(id string, timeout time.Duration) *coordinator.SubmissionView {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	v, err := d.api.Wait(ctx, id, "", nil)
	if err != nil {
		d.t.Fatalf("wait %s: %v", id, err)
	}
	return v
}

func TestDevnetJourney(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, func(c *devnetConfig) { c.MembersOffline = []int{4} }) // one member offline: still a quorum
	ctx := context.Background()
	ids := map[idao.Mode]string{}
	for _, mode := range []idao.Mode{idao.ModeTEE, idao.ModeZK, idao.ModeTEEZK} {
		ids[mode] = d.submit(dataset6, mode)
	}
	seq := d.chain.Sequencer()
	var class common.Hash
	for mode, id := range ids {
		v := d.wait(id, 3*time.Minute)
		if v.Status != coordinator.Minted || v.DATID == nil || v.Anchor == nil || v.Reason != nil {
			t.Fatalf("%s: %+v (reason %v)", mode, v.Status, deref(v.Reason))
		}
		approvals := 0
		for _, vt := range v.Votes {
			if vt.Approve && vt.Counted {
				approvals++
			}
		}
		if approvals != 3 {
			t.Fatalf("%s: %d counted approvals, want 3 (member 4 offline)", mode, approvals)
		}
		class = common.HexToHash(*v.DATID)
		cl, err := d.api.DATClass(ctx, class)
		if err != nil {
			t.Fatal(err)
		}
		p := cl.Provenance
		if p.Submission.Hex() != v.ID || p.DataHash != v.DataHash || p.Commitment != v.Commitment ||
			p.AnchorTx != v.Anchor.Tx || v.QCHash == nil || p.QCHash != *v.QCHash {
			t.Fatalf("%s: provenance %+v does not name the submission %+v", mode, p, v)
		}
		if len(cl.Tokens) != 1 || cl.Tokens[0].Owner != v.Contributor || cl.Tokens[0].Shares != cl.TotalShares {
			t.Fatalf("%s: the contributor should hold the one token with every share: %+v", mode, cl.Tokens)
		}
		proof, err := d.api.ChainTxProof(ctx, v.Anchor.Tx)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.Verify(seq); err != nil {
			t.Fatalf("%s: anchor inclusion proof: %v", mode, err)
		}
	}

	// the app side on the last class: buy 10, redeem 3, 7 left; 8 more fails and changes nothing
	app, contributor := d.key("app"), d.key("contributor")
	buy, err := d.api.BuyDAT(ctx, app, class, 10)
	if err != nil {
		t.Fatal(err)
	}
	red, err := d.api.RedeemDAT(ctx, app, buy.Token, 3)
	if err != nil || red.Left != 7 || red.Receipt == nil || red.Receipt.Signature == "" {
		t.Fatalf("redeem 3: %v %+v", err, red)
	}
	before, _ := d.api.Balance(ctx, keys.Address(app))
	if _, err := d.api.RedeemDAT(ctx, app, buy.Token, 8); err == nil || !strings.Contains(err.Error(), "cannot redeem 8") {
		t.Fatalf("redeem 8 of 7: err = %v", err)
	}
	if after, _ := d.api.Balance(ctx, keys.Address(app)); after.Balance != before.Balance || after.Nonce != before.Nonce {
		t.Fatalf("a refused redeem changed the app's account: %+v → %+v", before, after)
	}
	// the chain refuses it too, on its own (a client that skips the check pays the fee, nothing else)
	if _, err := d.api.SendChainTx(ctx, app, &tx.DATRedeem{Token: buy.Token, Units: 8}); err == nil || !strings.Contains(err.Error(), "fewer units") {
		t.Fatalf("chain accepted redeeming 8 of 7: %v", err)
	}
	if tk, _ := d.api.DATToken(ctx, buy.Token); tk.Value != 7 {
		t.Fatalf("a refused redeem changed the token: %d units", tk.Value)
	}
	cl, _ := d.api.DATClass(ctx, class)
	var mine common.Hash
	for _, tk := range cl.Tokens {
		if tk.Owner == keys.Address(contributor) {
			mine = tk.ID
		}
	}
	claim, err := d.api.ClaimDAT(ctx, contributor, mine)
	if err != nil || claim.Claimed != buy.Paid || buy.Paid != "100" {
		t.Fatalf("claim %+v (paid %s): %v", claim, buy.Paid, err)
	}
	again, err := d.api.ClaimDAT(ctx, contributor, mine)
	if err != nil || again.Claimed != "0" {
		t.Fatalf("second claim %+v: %v", again, err)
	}
}

// A new iDAO made with idao create / join txs serves submissions at once.
func TestDevnetNewIDAO(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, nil)
	ctx := context.Background()
	teePolicy, _ := json.Marshal(d.enclave.Policy())
	owner, joiner := d.key("member-1"), d.key("member-2")
	if _, err := d.api.SendChainTx(ctx, owner, &tx.IDAOCreate{Name: "weather", Stake: big.NewInt(500),
		Policy: idao.Policy{Modes: []idao.Mode{"tee"}, Price: big.NewInt(3), TEEPolicy: teePolicy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.api.SendChainTx(ctx, joiner, &tx.IDAOJoin{Name: "weather", Amount: big.NewInt(500)}); err != nil {
		t.Fatal(err)
	}
	// the iDAO's operator registers its enclave (here the devnet's) for it
	if _, err := d.api.SendChainTx(ctx, owner, &tx.EnclaveRegister{IDAO: "weather", PubKey: d.enclave.PublicKeyBytes(),
		Report: tee.EncodeAttestation(d.enclave.KeyAttestation())}); err != nil {
		t.Fatal(err)
	}
	list, err := d.api.IDAOs(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("idao list %v: %v", list, err)
	}
	key := d.key("contributor")
	p, err := d.api.Prepare(ctx, []byte(dataset6), client.PrepareOptions{IDAO: "weather", Contributor: keys.Address(key)})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := p.Sign(key)
	v, _, err := d.api.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	if v = d.wait(v.ID, time.Minute); v.Status != coordinator.Minted || len(v.Votes) != 2 {
		t.Fatalf("weather submission: %s with %d votes (%s)", v.Status, len(v.Votes), deref(v.Reason))
	}
}

func TestDevnetFaultyMembersAndWorkers(t *testing.T) {
	t.Parallel()
	t.Run("a lying member's vote does not count", func(t *testing.T) {
		d := startDevnet(t, func(c *devnetConfig) { c.MembersLying = []int{3} })
		v := d.wait(d.submit(dataset6, "tee"), time.Minute)
		if v.Status != coordinator.Minted {
			t.Fatalf("status %s (%s)", v.Status, deref(v.Reason))
		}
		liar := keys.Address(d.key("member-3"))
		for _, vt := range v.Votes {
			if vt.Member == liar && vt.Counted {
				t.Fatal("the lying member's vote was counted")
			}
			if vt.Member != liar && vt.ResultDigest != *v.ResultDigest {
				t.Fatalf("honest member signed %s, certified %s", vt.ResultDigest, *v.ResultDigest)
			}
		}
	})
	t.Run("two of four offline: failed at the deadline, nothing anchored", func(t *testing.T) {
		d := startDevnet(t, func(c *devnetConfig) {
			c.MembersOffline = []int{3, 4}
			c.Coordinator.VoteTimeout = 2 * time.Second
		})
		before, _ := d.api.DATClasses(context.Background())
		v := d.wait(d.submit(dataset6, "tee"), time.Minute)
		m3, m4 := keys.Address(d.key("member-3")).Hex(), keys.Address(d.key("member-4")).Hex()
		if v.Status != coordinator.Failed || v.Anchor != nil || !strings.Contains(deref(v.Reason), m3) || !strings.Contains(deref(v.Reason), m4) {
			t.Fatalf("%s: %s", v.Status, deref(v.Reason))
		}
		after, _ := d.api.DATClasses(context.Background())
		if len(after.Classes) != len(before.Classes) {
			t.Fatal("a class was minted without a quorum")
		}
	})
	t.Run("a TEE worker that lies about the commitment: rejected, no member signed", func(t *testing.T) {
		d := startDevnet(t, func(c *devnetConfig) { c.FaultyTEE = true })
		v := d.wait(d.submit(dataset6, "tee"), time.Minute)
		if v.Status != coordinator.Rejected {
			t.Fatalf("status %s", v.Status)
		}
		for _, vt := range v.Votes {
			if vt.Approve {
				t.Fatalf("member %s approved a lying TEE's evidence", vt.Member)
			}
		}
	})
}

// A coordinator that forges votes or a certificate is refused by the chain.
func TestChainRefusesForgedCertificates(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, nil)
	ctx := context.Background()
	v := d.wait(d.submit(dataset6, "tee"), time.Minute)
	if v.Status != coordinator.Minted {
		t.Fatalf("status %s", v.Status)
	}
	digest := crypto.Keccak256Hash([]byte("a result nobody certified"))
	forge := func(signers []*ecdsa.PrivateKey) error {
		body := d.anchorOf(v, digest)
		for _, k := range signers {
			vote := voteFor("demo", common.HexToHash(v.ID), digest)
			if err := vote.Sign(k, 1337); err != nil {
				t.Fatal(err)
			}
			body.Votes = append(body.Votes, tx.AnchorVote{Member: vote.Member, Sig: vote.Signature})
		}
		_, err := d.api.SendChainTx(ctx, d.key("coordinator"), body)
		return err
	}
	outsiders := []*ecdsa.PrivateKey{}
	for range 3 {
		k, _ := crypto.GenerateKey()
		outsiders = append(outsiders, k)
	}
	if err := forge(outsiders); err == nil {
		t.Fatal("an anchor signed by non-members was accepted")
	}
	if err := forge([]*ecdsa.PrivateKey{d.key("member-1")}); err == nil {
		t.Fatal("an anchor with 1/4 of the stake was accepted")
	}
	// a vote whose signature is by another key than the member it names
	body := d.anchorOf(v, digest)
	for i := 1; i <= 3; i++ {
		vote := voteFor("demo", common.HexToHash(v.ID), digest)
		_ = vote.Sign(outsiders[i-1], 1337)
		body.Votes = append(body.Votes, tx.AnchorVote{Member: keys.Address(d.key(fmt.Sprintf("member-%d", i))), Sig: vote.Signature})
	}
	if _, err := d.api.SendChainTx(ctx, d.key("coordinator"), body); err == nil {
		t.Fatal("votes forged in members' names were accepted")
	}
	if _, err := d.api.ChainAnchor(ctx, digest); err == nil {
		t.Fatal("the forged digest is anchored")
	}
}

// signedOf is the contributor's signed submission of v, signed again with
// the devnet's contributor key (the same signature: signing is
// deterministic), as a member or watcher that read it holds it.
func (d *testDevnet) signedOf(v *coordinator.SubmissionView) (submission.Submission, []byte) {
	d.t.Helper()
	s := submission.Submission{IDAO: v.IDAO, Mode: v.Mode, Class: v.Class, Contributor: v.Contributor, DataHash: v.DataHash,
		Commitment: v.Commitment, Records: v.Records, WrappedKeyHash: keccak(v.WrappedKey), Nonce: v.Nonce, Fields: v.Fields}
	if s.Digest(1337) != common.HexToHash(v.ID) {
		d.t.Fatalf("submission %s: the view does not rebuild its signed submission", v.ID)
	}
	sig, err := s.Sign(1337, d.key("contributor"))
	if err != nil {
		d.t.Fatal(err)
	}
	return s, sig
}

// anchorOf is an anchor of v's signed submission for digest, with no votes,
// counted at the chain's head.
func (d *testDevnet) anchorOf(v *coordinator.SubmissionView, digest common.Hash) *tx.Anchor {
	s, sig := d.signedOf(v)
	return &tx.Anchor{IDAO: v.IDAO, Submission: common.HexToHash(v.ID), ResultDigest: digest, Signed: s, Signature: sig,
		StakeHeight: d.chain.Head().Height}
}

func voteFor(dao string, sub, digest common.Hash) *quorum.Vote {
	return &quorum.Vote{IDAO: dao, Submission: sub, ResultDigest: digest, Approve: true}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// `vscd quorum` runs a member apart from the devnet (over its NATS socket and
// the chain's HTTP API); with it the quorum forms though two in-process
// members are offline.
func TestQuorumRole(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, func(c *devnetConfig) {
		c.MembersOffline = []int{3, 4}
		c.NATSListen = "127.0.0.1:0"
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmdQuorum(ctx, testEnv(io.Discard, io.Discard), []string{"--key", d.keyPaths["member-3"], "--chain", "http://" + d.coord.Addr(), "--genesis", d.genesisPath(),
			"--nats", d.nats.ClientURL(), "--nats-creds", filepath.Join(d.cfg.Data, "nats-creds", "member-3.creds"),
			"--data", t.TempDir(), "--zk-keys", zkKeysDir, "--log-level", "warn"})
	}()
	v := d.wait(d.submit(dataset6, "tee+zk"), 2*time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("vscd quorum: %v", err)
	}
	if v.Status != coordinator.Minted || len(v.Votes) != 3 {
		t.Fatalf("%s with %d votes (%s)", v.Status, len(v.Votes), deref(v.Reason))
	}
}

// Optimistic mode: an honest claim finalizes and is minted; a faulty
// executor's claim is overturned by the devnet's watcher and nothing is minted.
func TestDevnetOptimistic(t *testing.T) {
	t.Parallel()
	for _, faulty := range []bool{false, true} {
		d := startDevnet(t, func(c *devnetConfig) { c.FaultyExecutor = faulty })
		v := d.wait(d.submit(dataset6, "optimistic"), 2*time.Minute)
		switch {
		case !faulty && v.Status != coordinator.Minted:
			t.Fatalf("honest claim: %s (%s)", v.Status, deref(v.Reason))
		case faulty && (v.Status != coordinator.Overturned || v.DATID != nil || !strings.Contains(deref(v.Reason), "overturned")):
			t.Fatalf("faulty claim: %s (%s)", v.Status, deref(v.Reason))
		}
		full, err := d.api.Status(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[coordinator.Status]bool{}
		for _, e := range full.History {
			seen[e.Status] = true
		}
		want := []coordinator.Status{coordinator.Claimed, coordinator.Finalized, coordinator.Voting, coordinator.Minted}
		if faulty {
			want = []coordinator.Status{coordinator.Claimed, coordinator.Challenged, coordinator.Overturned}
		}
		for _, st := range want {
			if !seen[st] {
				t.Errorf("faulty=%v: history %v lacks %s", faulty, full.History, st)
			}
		}
	}
}

// `vscd worker --chain … --watch-only` is an honest watcher apart from the
// devnet: with the devnet's own watcher off, it overturns a faulty claim.
func TestWorkerWatcherOverturns(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, func(c *devnetConfig) {
		c.FaultyExecutor, c.NoWatcher, c.NATSListen = true, true, "127.0.0.1:0"
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	api := "http://" + d.coord.Addr()
	// the watcher must be an enclave of the iDAO's verifier set: same sealed identity
	wdata := t.TempDir()
	if err := os.Symlink(filepath.Join(d.cfg.Data, "enclave"), filepath.Join(wdata, "tee")); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- cmdWorker(ctx, testEnv(io.Discard, io.Discard), []string{"--tee-backend", "sim", "--data", wdata, "--nats", d.nats.ClientURL(), "--chain", api, "--api", api,
			"--nats-creds", filepath.Join(d.cfg.Data, "nats-creds", "worker.creds"),
			"--optimistic-key", d.keyPaths["challenger"], "--watch-only", "--log-level", "warn"})
	}()
	v := d.wait(d.submit(dataset6, "optimistic"), 2*time.Minute)
	cancel()
	<-done
	if v.Status != coordinator.Overturned || v.DATID != nil {
		t.Fatalf("%s (%s)", v.Status, deref(v.Reason))
	}
}

// Each devnet makes its own simulation root on first start and keeps it
// with its data: a restart with the same --data keeps the root (and the
// enclave key registered once), the demo iDAO's on-chain policy trusts that
// root alone, and a data dir whose root the chain does not trust (one made
// when the root was public) is refused with what to do.
func TestDevnetSimRootIsItsOwn(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	open := func() (*devnet, error) {
		cfg := devnetConfig{Data: data, Listen: "127.0.0.1:0", Quorum: 2, Lanes: 2, ZKKeys: zkKeysDir}
		cfg.Coordinator.ChainID, cfg.Coordinator.ZKChunk, cfg.Coordinator.VoteTimeout = 1337, testZKChunk, 20*time.Second
		d := newDevnet(cfg, slog.New(slog.DiscardHandler), io.Discard)
		err := d.Start(context.Background())
		if err != nil {
			_ = d.stop()
		}
		return d, err
	}
	t.Cleanup(func() {
		abs, _ := filepath.Abs(data)
		_ = pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(abs))
	})
	d, err := open()
	if err != nil {
		t.Fatal(err)
	}
	root, ok := d.enclave.SimRoot()
	if !ok {
		t.Fatal("the devnet enclave names no simulation root")
	}
	dao, err := d.chain.IDAO("demo")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tee.ParsePolicy(dao.Policy.TEEPolicy)
	if err != nil || len(p.SimulationRoots) != 1 || p.SimulationRoots[0] != root {
		t.Fatalf("demo's policy trusts %v (%v), want only this devnet's root %s", p.SimulationRoots, err, root)
	}
	if ok, _ := d.chain.EnclaveRegistered("demo", d.enclave.PublicKeyBytes()); !ok {
		t.Fatal("the devnet's enclave key is not registered on chain")
	}
	height := d.chain.Head().Height
	_ = d.stop()

	d, err = open()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := d.enclave.SimRoot(); again != root {
		t.Fatalf("restart changed the simulation root: %s → %s", root, again)
	}
	if h := d.chain.Head().Height; h != height {
		t.Fatalf("restart sent txs (height %d → %d): the enclave key was registered again", height, h)
	}
	_ = d.stop()

	// a data dir whose root the chain does not trust
	rootFile := filepath.Join(data, "enclave", tee.SimRootFile)
	saved, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(rootFile); err != nil {
		t.Fatal(err)
	}
	if _, err := open(); err == nil || !strings.Contains(err.Error(), "does not accept this devnet's enclave") || !strings.Contains(err.Error(), "fresh devnet") {
		t.Fatalf("a root the chain does not trust: %v", err)
	}
	if err := os.WriteFile(rootFile, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err = open(); err != nil {
		t.Fatal(err)
	}
	_ = d.stop()
}
