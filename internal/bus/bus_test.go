package bus

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func newTestBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	srv, err := RunEmbedded(EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	b, err := ConnectInProcess(srv, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

func recvResult(t *testing.T, ctx context.Context, b *Bus) Result {
	t.Helper()
	got := make(chan Result, 16)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Results(rctx, func(_ context.Context, r Result) error { got <- r; return nil })
	select {
	case r := <-got:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no result within 20s")
	}
	return Result{}
}

func TestBlobRoundTrip(t *testing.T) {
	b := newTestBus(t, Config{})
	ctx := context.Background()
	small := bytes.Repeat([]byte{5}, 4_000)           // one VSC_BLOBS message
	large := bytes.Repeat([]byte{7}, SmallBlob+1_000) // several object-store chunks
	hs, hl, missing := common.HexToHash("0xabc"), common.HexToHash("0xabd"), common.HexToHash("0xdef")
	for h, data := range map[common.Hash][]byte{hs: small, hl: large} {
		if err := b.PutBlob(ctx, h, data); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetBlob(ctx, h)
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
	b := newTestBus(t, Config{Backoff: 10 * time.Millisecond, MaxDeliver: 5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	go b.Work(ctx, "tee", func(_ context.Context, j Job) (Result, error) {
		if calls.Add(1) < 3 {
			return Result{}, errors.New("transient")
		}
		return Result{OK: true, Reason: "fine"}, nil
	})
	// the same job published twice is one job (dedupe on Nats-Msg-Id)
	for range 2 {
		if err := b.PublishJob(ctx, &Job{ID: "j1", Kind: "tee", SubmissionID: common.HexToHash("0x1")}); err != nil {
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
	b := newTestBus(t, Config{Backoff: 5 * time.Millisecond, MaxDeliver: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	go b.Work(ctx, "zk", func(_ context.Context, j Job) (Result, error) {
		calls.Add(1)
		return Result{}, errors.New("prover crashed")
	})
	if err := b.PublishJob(ctx, &Job{ID: "j2", Kind: "zk", Chunk: 3}); err != nil {
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		si, err := info.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if si.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminated job still in the work queue: %d msgs", si.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
