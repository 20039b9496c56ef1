package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/internal/testenv/poll"
	"github.com/vsc-labs/vsc/internal/work"
)

// testServer is an embedded server enforcing the roles' permissions, with
// one user per role (a worker user holds tee, zk and optimistic).
type testServer struct {
	srv   *server.Server
	creds map[string]*Credentials
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{creds: map[string]*Credentials{}}
	var users []User
	for name, roles := range map[string][]Role{"coordinator": {RoleCoordinator}, "worker": {RoleTEE, RoleZK, RoleOptimistic},
		"tee": {RoleTEE}, "member": {RoleMember}, "member2": {RoleMember}} {
		var m common.Address
		if roles[0] == RoleMember {
			m = common.BytesToAddress([]byte(name))
		}
		c, err := NewCredentials(name, roles, m)
		if err != nil {
			t.Fatal(err)
		}
		ts.creds[name] = c
		users = append(users, c.User)
	}
	ts.srv = runServer(t, users)
	return ts
}

// runServer starts an in-process nats-server that knows users with their
// roles' permissions, as natsembed.Run does for the binaries (natsembed
// imports this package, so its tests here cannot use it; natsembed's own
// tests check that it sets the server up the same way).
func runServer(t *testing.T, users []User) *server.Server {
	t.Helper()
	var nkeys []*server.NkeyUser
	for i := range users {
		p := users[i].Permissions()
		nkeys = append(nkeys, &server.NkeyUser{Nkey: users[i].NKey, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: p.Publish},
			Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
		}})
	}
	srv, err := server.NewServer(&server.Options{ServerName: "vsc-test", JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		NoLog: true, DontListen: true, MaxPayload: MaxPayload, JetStreamMaxStore: StoreBytes(DefaultBlobBytes), Nkeys: nkeys})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats-server did not become ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// bus connects as the named user.
func (ts *testServer) bus(t *testing.T, user string, cfg Config) *Bus {
	t.Helper()
	b, err := ConnectInProcess(ts.srv, ts.creds[user], cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// newTestBus is the coordinator's bus (streams ensured) and a worker's.
func newTestBus(t *testing.T, cfg Config) (coord, worker *Bus) {
	t.Helper()
	ts := newTestServer(t)
	coord = ts.bus(t, "coordinator", cfg)
	if err := coord.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return coord, ts.bus(t, "worker", cfg)
}

func recvResult(t *testing.T, ctx context.Context, b *Bus) work.Result {
	t.Helper()
	got := make(chan work.Result, 16)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Results(rctx, func(_ context.Context, r work.Result) error { got <- r; return nil })
	select {
	case r := <-got:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no result within 20s")
	}
	return work.Result{}
}

func TestBlobRoundTrip(t *testing.T) {
	t.Parallel()
	b, w := newTestBus(t, Config{})
	ctx := context.Background()
	small := bytes.Repeat([]byte{5}, 4_000)           // one VSC_BLOBS message
	large := bytes.Repeat([]byte{7}, SmallBlob+1_000) // several object-store chunks
	hs, hl, missing := common.HexToHash("0xabc"), common.HexToHash("0xabd"), common.HexToHash("0xdef")
	for h, data := range map[common.Hash][]byte{hs: small, hl: large} {
		if err := b.PutBlob(ctx, h, data); err != nil {
			t.Fatal(err)
		}
		got, err := w.GetBlob(ctx, h) // workers read blobs
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("get blob of %d bytes: %v (len %d)", len(data), err, len(got))
		}
		if ok, err := b.HasBlob(ctx, h); !ok || err != nil {
			t.Fatalf("has blob of %d bytes: %v %v", len(data), ok, err)
		}
	}
	if n, err := b.BlobCount(ctx); n != 2 || err != nil {
		t.Fatalf("blob count %d, %v", n, err)
	}
	if _, err := b.GetBlob(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing blob: err = %v", err)
	}
	if ok, err := b.HasBlob(ctx, missing); ok || err != nil {
		t.Fatalf("has missing blob: %v %v", ok, err)
	}
	for _, h := range []common.Hash{hs, hl, missing} {
		if err := b.DeleteBlob(ctx, h); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.HasBlob(ctx, h); ok {
			t.Fatalf("blob %s still there after delete", h)
		}
	}
	if n, err := b.BlobCount(ctx); n != 0 || err != nil {
		t.Fatalf("blob count after delete %d, %v", n, err)
	}
}

func TestJobRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
	b, w := newTestBus(t, Config{Backoff: 10 * time.Millisecond, MaxDeliver: 5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	go w.Work(ctx, "tee", func(_ context.Context, j work.Job) (work.Result, error) {
		if calls.Add(1) < 3 {
			return work.Result{}, errors.New("transient")
		}
		return work.Result{OK: true, Reason: "fine"}, nil
	})
	// the same job published twice is one job (dedupe on Nats-Msg-Id)
	for range 2 {
		if err := b.PublishJob(ctx, &work.Job{ID: "j1", Kind: "tee", SubmissionID: common.HexToHash("0x1")}); err != nil {
			t.Fatal(err)
		}
	}
	r := recvResult(t, ctx, b)
	if !r.OK || r.JobID != "j1" || r.SubmissionID != common.HexToHash("0x1") {
		t.Fatalf("result %+v", r)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3 (2 failures + 1 success, one job)", n)
	}
}

func TestJobDeadLettered(t *testing.T) {
	t.Parallel()
	b, w := newTestBus(t, Config{Backoff: 5 * time.Millisecond, MaxDeliver: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	go w.Work(ctx, "zk", func(_ context.Context, j work.Job) (work.Result, error) {
		calls.Add(1)
		return work.Result{}, errors.New("prover crashed")
	})
	if err := b.PublishJob(ctx, &work.Job{ID: "j2", Kind: "zk", Chunk: 3}); err != nil {
		t.Fatal(err)
	}
	r := recvResult(t, ctx, b)
	if r.OK || r.JobID != "j2" || r.Chunk != 3 || !bytes.Contains([]byte(r.Reason), []byte("prover crashed")) {
		t.Fatalf("dead-letter result %+v", r)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want MaxDeliver=3", n)
	}
	info, err := b.JS.Stream(ctx, JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 10*time.Second, func() error {
		si, err := info.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if si.State.Msgs != 0 {
			return fmt.Errorf("terminated job still in the work queue: %d msgs", si.State.Msgs)
		}
		return nil
	})
}

// A blob streamed in is stored only if it hashes to its name, and a worker
// reads it back as a stream of the same bytes.
func TestBlobStream(t *testing.T) {
	t.Parallel()
	b, w := newTestBus(t, Config{})
	ctx := context.Background()
	data := make([]byte, 3*SmallBlob+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	h := crypto.Keccak256Hash(data)
	if n, err := b.PutBlobFrom(ctx, h, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
		t.Fatalf("put: %d, %v", n, err)
	}
	r, size, err := w.OpenBlob(ctx, h)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("open: %d, %v", size, err)
	}
	got, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes: %v", len(got), err)
	}
	// bytes that do not hash to the name: refused and not stored; a stored
	// blob is never replaced by them
	other := crypto.Keccak256Hash([]byte("other"))
	if _, err := b.PutBlobFrom(ctx, other, bytes.NewReader(data)); !errors.Is(err, ErrBlobHash) {
		t.Fatalf("wrong hash: %v", err)
	}
	if ok, _ := b.HasBlob(ctx, other); ok {
		t.Fatal("a blob that does not hash to its name is stored")
	}
	if _, err := b.PutBlobFrom(ctx, h, bytes.NewReader(data[1:])); !errors.Is(err, ErrBlobHash) {
		t.Fatalf("other bytes under a stored name: %v", err)
	}
	if got, err := w.GetBlob(ctx, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the stored blob changed: %v", err)
	}
}
