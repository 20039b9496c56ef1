package bus

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/internal/testenv/poll"
	"github.com/vsc-labs/vsc/internal/work"
)

// refusedBy publishes to (or subscribes to) subject as creds and returns the
// server's permissions violation, or nil when the server let it through.
func refusedBy(t *testing.T, srv *server.Server, creds *Credentials, subscribe bool, subject string) error {
	t.Helper()
	errc := make(chan error, 4)
	opts, err := creds.options()
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, nats.InProcessServer(srv), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errc <- err }))
	nc, err := nats.Connect("", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if subscribe {
		if _, err := nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
	} else if err := nc.Publish(subject, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(300 * time.Millisecond):
		return nil
	}
}

func TestRolesMayOnlyDoTheirPart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	coord := ts.bus(t, "coordinator", Config{})
	if err := coord.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := MemberConsumer(ts.creds["member2"].User.Member)
	cases := []struct {
		user, subject string
		subscribe     bool
	}{
		{"tee", resultsPrefix + "zk", false},                  // only provers publish zk results
		{"tee", resultsPrefix + string(work.VoteKind), false}, // only members vote
		{"tee", jobsPrefix + "tee", false},                    // only the coordinator publishes jobs
		{"tee", jsAPI + "STREAM.CREATE.EVIL", false},          // only the coordinator makes streams
		{"tee", jsAPI + "STREAM.DELETE." + JobsStream, false},
		{"tee", objectPrefix(ProofBucket) + "C.x", false}, // no object stores of its own
		{"tee", proofPrefix + "x", false},                 // only provers write proofs
		{"worker", jsAPI + "STREAM.CREATE.OBJ_evil", false},
		{"worker", jsAPI + "CONSUMER.DELETE." + JobsStream + ".jobs-tee", false},
		{"worker", votesPrefix + "demo", false},
		{"member", jobsPrefix + "tee", false},
		{"member", votesPrefix + "demo", false},
		{"member", resultsPrefix + "tee", false},
		{"member", jsAPI + "CONSUMER.MSG.NEXT." + VotesStream + "." + other, false}, // another member's queue
		{"member", jsAPI + "CONSUMER.CREATE." + VotesStream + "." + other, false},
		{"member", jsAPI + "CONSUMER.DELETE." + VotesStream + "." + other, false},
		{"member", "$JS.ACK." + VotesStream + "." + other + ".1.1.1.1.1", false},
		{"member", ">", true}, // no wildcard reads
		{"member", "_INBOX.>", true},
		{"member", InboxPrefix(ts.creds["member2"].User.NKey) + ".>", true}, // another's replies
		{"tee", votesPrefix + ">", true},
	}
	for _, c := range cases {
		err := refusedBy(t, ts.srv, ts.creds[c.user], c.subscribe, c.subject)
		if err == nil || !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("%s on %s (subscribe %v): %v, want a permissions violation", c.user, c.subject, c.subscribe, err)
		}
	}
	// and what each role needs goes through
	for _, c := range []struct{ user, subject string }{
		{"tee", resultsPrefix + "tee"}, {"worker", resultsPrefix + "zk"}, {"worker", proofPrefix + "p1"},
		{"member", resultsPrefix + string(work.VoteKind)}, {"coordinator", jobsPrefix + "tee"}, {"coordinator", votesPrefix + "demo"},
	} {
		if err := refusedBy(t, ts.srv, ts.creds[c.user], false, c.subject); err != nil {
			t.Errorf("%s may publish to %s: %v", c.user, c.subject, err)
		}
	}
}

// Only the coordinator makes streams and buckets; a worker that starts
// first waits for them, and reading an unknown bucket creates nothing.
func TestWorkersNeverCreate(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	w := ts.bus(t, "worker", Config{})
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := w.Ensure(wctx); err == nil {
		t.Fatal("a worker made the streams")
	}
	coord := ts.bus(t, "coordinator", Config{})
	if err := coord.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	m := ts.bus(t, "member", Config{})
	for _, bucket := range []string{"evil", "OBJ_x", ""} {
		if _, err := m.GetObject(ctx, bucket, "x", 1<<10); !errors.Is(err, ErrUnknownBucket) {
			t.Fatalf("bucket %q: %v, want ErrUnknownBucket", bucket, err)
		}
	}
	if n := ts.srv.GlobalAccount().JetStreamUsage().Streams; n != 7 {
		t.Fatalf("%d streams, want the coordinator's 7", n)
	}
	if _, err := w.jobConsumer(ctx, "tee"); err != nil {
		t.Fatalf("the worker cannot find its job queue: %v", err)
	}
}

func TestProofsAreCapped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	coord := ts.bus(t, "coordinator", Config{})
	if err := coord.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	w, m := ts.bus(t, "worker", Config{}), ts.bus(t, "member", Config{})
	proof := []byte(`{"proof":"` + strings.Repeat("a", 3000) + `"}`)
	if err := w.PutObject(ctx, ProofBucket, "sub-vk-0", proof); err != nil {
		t.Fatal(err)
	}
	if got, err := m.GetObject(ctx, ProofBucket, "sub-vk-0", 4<<10); err != nil || string(got) != string(proof) {
		t.Fatalf("read proof: %v", err)
	}
	if _, err := m.GetObject(ctx, ProofBucket, "sub-vk-0", 1<<10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("proof over the cap: %v", err)
	}
	if _, err := m.GetObject(ctx, ProofBucket, "missing", 1<<10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing proof: %v", err)
	}
	if _, err := m.GetObject(ctx, ProofBucket, "../x.>", 1<<10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a name that is no proof name: %v", err)
	}
	if err := w.PutObject(ctx, ProofBucket, "big", make([]byte, MaxProofMsg+1)); err == nil {
		t.Fatal("a proof over the stream's MaxMsgSize was stored")
	}
}

func TestCredentialsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := NewCredentials("member-1", []Role{RoleMember}, common.HexToAddress("0xabc"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.creds")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed file mode %v", fi.Mode())
	}
	got, err := LoadCredentials(path)
	if err != nil || got.User.NKey != c.User.NKey || got.User.Member != c.User.Member || string(got.seed) != string(c.seed) {
		t.Fatalf("load: %v %+v", err, got)
	}
	u, err := ReadUser(path + ".pub")
	if err != nil || u.NKey != c.User.NKey || u.Roles[0] != RoleMember {
		t.Fatalf("descriptor: %v %+v", err, u)
	}
	if raw, _ := os.ReadFile(path + ".pub"); strings.Contains(string(raw), string(c.seed)) {
		t.Fatal("the public descriptor holds the seed")
	}
	if _, err := NewCredentials("m", []Role{RoleMember}, common.Address{}); err == nil {
		t.Fatal("a member user without an account")
	}
	if _, err := ParseRoles("tee,root"); err == nil {
		t.Fatal("an unknown role parsed")
	}
}

// A result is settled on its own: a refused one is terminated once, never
// redelivered; one that keeps failing stops at ResultMaxDeliver; the others
// of its batch are acked.
func TestResultsSettleEachMessage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coord := ts.bus(t, "coordinator", Config{Backoff: time.Millisecond})
	if err := coord.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	w := ts.bus(t, "tee", Config{})
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan string, 64)
	go coord.ResultBatches(ctx, 1, 16, func(_ context.Context, rs []work.Result) []error {
		errs := make([]error, len(rs))
		for i, r := range rs {
			mu.Lock()
			calls[r.JobID]++
			mu.Unlock()
			switch r.JobID {
			case "poison":
				errs[i] = work.Permanent(errors.New("forged"))
			case "flaky":
				errs[i] = errors.New("database down")
			}
			done <- r.JobID
		}
		return errs
	})
	for _, id := range []string{"poison", "flaky", "good"} {
		if err := w.PublishResult(ctx, &work.Result{JobID: id, Kind: "tee"}); err != nil {
			t.Fatal(err)
		}
	}
	// a result on another kind's subject is refused before any handler sees it
	if _, err := w.JS.Publish(ctx, resultsPrefix+"tee", []byte(`{"job_id":"liar","kind":"zk"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for seen := 0; seen < 2+ResultMaxDeliver; seen++ {
		select {
		case <-done:
		case <-deadline:
			t.Fatalf("handler calls %v", calls)
		}
	}
	cons, _ := coord.JS.Consumer(ctx, ResultsStream, resultsConsumer)
	waitFor(t, func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if calls["poison"] != 1 || calls["good"] != 1 || calls["flaky"] != ResultMaxDeliver || calls["liar"] != 0 {
		t.Fatalf("handler calls %v: want poison 1, good 1, flaky %d, liar 0", calls, ResultMaxDeliver)
	}
}

// waitFor polls cond for 10 s (poll.Eventually: this package's tests
// cannot import internal/testenv, which imports the bus).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Eventually(t, 10*time.Second, func() error {
		if !cond() {
			return errors.New("not yet")
		}
		return nil
	})
}

type keySigner struct{ k *ecdsa.PrivateKey }

func (s keySigner) Address() common.Address { return crypto.PubkeyToAddress(s.k.PublicKey) }
func (s keySigner) SignMessage(d common.Hash) ([]byte, error) {
	return crypto.Sign(d[:], s.k)
}

// A worker's results carry its signature over their digest, and the
// dedupe id holds the digest, so no one can squat another's id.
func TestResultsAreSigned(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coord := ts.bus(t, "coordinator", Config{})
	if err := coord.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	w := ts.bus(t, "tee", Config{Signer: keySigner{key}})
	if err := w.PublishResult(ctx, &work.Result{JobID: "j", Kind: "tee", Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	got := recvResult(t, ctx, coord)
	pub, err := crypto.SigToPub(got.Digest().Bytes(), got.Signature)
	if err != nil || crypto.PubkeyToAddress(*pub) != got.Signer || got.Signer != (keySigner{key}).Address() {
		t.Fatalf("result signed by %s: %v", got.Signer, err)
	}

	r := work.Result{JobID: "j", Kind: "tee", SubmissionID: common.HexToHash("0x1"), OK: true, Evidence: []byte(`{"a": 1}`)}
	d := r.Digest()
	r2 := r
	r2.Evidence = []byte(`{"a":1}`) // the same JSON, as it looks after the trip
	if r2.Digest() != d {
		t.Fatal("the digest depends on the evidence's whitespace")
	}
	r2.Rejected = true
	if r2.Digest() == d || r2.MsgID(r2.Digest()) == r.MsgID(r.Digest()) {
		t.Fatal("a rejection has the approval's digest or dedupe id")
	}
}

// Each member reads every vote request through its own consumer, which it
// creates itself (with or without an iDAO filter).
func TestMembersReadTheirOwnQueue(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coord := ts.bus(t, "coordinator", Config{})
	if err := coord.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 8)
	for name, idaos := range map[string][]string{"member": nil, "member2": {"demo", "other"}} {
		m := ts.bus(t, name, Config{Backoff: time.Millisecond})
		var tries atomic.Int32
		go func() {
			err := m.VoteRequests(ctx, ts.creds[name].User.Member, idaos, 8, func(_ context.Context, msgs [][]byte) []error {
				errs := make([]error, len(msgs))
				for i := range msgs {
					if tries.Add(1) == 1 {
						errs[i] = errors.New("chain lag") // could not check: asked again
						continue
					}
					got <- name
				}
				return errs
			})
			if err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}()
	}
	if err := coord.PublishVoteRequest(ctx, "demo", "r1", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case n := <-got:
			seen[n] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("vote request reached %v", seen)
		}
	}
}

// A role that tries what it may not gets an error that names the refusal,
// not only a timeout.
func TestRefusalsAreNamed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.bus(t, "coordinator", Config{}).Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	m := ts.bus(t, "member", Config{})
	err := m.Work(ctx, "tee", func(context.Context, work.Job) (work.Result, error) { return work.Result{}, nil })
	if err == nil || !strings.Contains(err.Error(), "Permissions Violation") || !strings.Contains(err.Error(), "--nats-creds") {
		t.Fatalf("a member taking tee jobs: %v", err)
	}
}

// A job whose workers die on it every time reaches its consumer's
// MaxDeliver without a dead letter; the coordinator hears of it and the job
// leaves the work queue.
func TestStuckJobsAreReported(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{AckWait: 200 * time.Millisecond, MaxDeliver: 1}
	coord := ts.bus(t, "coordinator", cfg)
	if err := coord.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	stuck := make(chan int, 1)
	go coord.StuckJobs(ctx, func(_ context.Context, j work.Job, deliveries int) error {
		if j.ID == "crasher" {
			stuck <- deliveries
		}
		return nil
	})
	if err := coord.PublishJob(ctx, &work.Job{ID: "crasher", Kind: "tee"}); err != nil {
		t.Fatal(err)
	}
	w := ts.bus(t, "tee", cfg)
	cons, err := w.jobConsumer(ctx, "tee")
	if err != nil {
		t.Fatal(err)
	}
	// a worker that takes the job and dies, again and again
	deadline := time.After(20 * time.Second)
	for {
		select {
		case n := <-stuck:
			if n != cfg.MaxDeliver+2 {
				t.Fatalf("reported after %d deliveries, want %d", n, cfg.MaxDeliver+2)
			}
			st, _ := coord.stream(ctx, JobsStream)
			waitFor(t, func() bool { info, err := st.Info(ctx); return err == nil && info.State.Msgs == 0 })
			return
		case <-deadline:
			t.Fatal("the stuck job was never reported")
		default:
		}
		if batch, err := cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond)); err == nil {
			for range batch.Messages() {
			}
		}
	}
}
