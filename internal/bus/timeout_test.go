package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/vsc-labs/vsc/internal/testenv/poll"
	"github.com/vsc-labs/vsc/internal/work"
)

// A JetStream request or publish whose reply never comes — what a caller
// sees when the server that took it dies before answering — fails after
// RequestTimeout, whatever the caller's context allows. Before, a TEE
// worker's batch (and the relay's publish) waited out its 10-minute
// handler context, beating "in progress" for its jobs all along, so a
// NATS node's kill -9 left submissions verifying (or received) for
// minutes. Here a subscriber takes every request and never answers.
func TestRequestsFailWhenTheReplyIsLost(t *testing.T) {
	t.Parallel()
	srv, err := server.NewServer(&server.Options{ServerName: "vsc-swallow", DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server did not become ready")
	}
	t.Cleanup(srv.Shutdown)
	swallow, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(swallow.Close)
	for _, subj := range []string{"vsc.>", "$JS.API.>"} {
		if _, err := swallow.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := swallow.Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := ConnectInProcess(srv, nil, Config{RequestTimeout: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a handler's long context
	defer cancel()

	if err := b.PublishResult(ctx, &work.Result{JobID: "j", Kind: "tee"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PublishResult with no ack: %v, want a deadline error", err)
	}
	if errs := b.PublishJobs(ctx, []*work.Job{{ID: "j", Kind: "tee"}}); errs[0] == nil {
		t.Error("PublishJobs with no ack succeeded")
	}
	f, _, err := b.publishResultAsync(&work.Result{JobID: "k", Kind: "tee"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Ok():
		t.Error("an async publish nobody acked succeeded")
	case <-f.Err():
	case <-ctx.Done():
		t.Error("an async publish nobody acked waited out the caller's context")
	}
	if _, err := b.GetBlob(ctx, common.Hash{1}); err == nil {
		t.Error("GetBlob with no reply succeeded")
	}
	if _, _, err := b.OpenBlob(ctx, common.Hash{1}); err == nil {
		t.Error("OpenBlob with no reply succeeded")
	}
	if ctx.Err() != nil {
		t.Fatal("the calls waited out the caller's context instead of RequestTimeout")
	}
}

// A result a worker computed while the results stream cannot take it (its
// leader gone; here the stream is full) is published again until the
// stream takes it: the job is handled once, not redone, and its result
// arrives.
func TestResultPublishedOnceTheStreamIsBack(t *testing.T) {
	t.Parallel()
	b, w := newTestBus(t, Config{Backoff: 5 * time.Millisecond, MaxDeliver: 2, RequestTimeout: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fillResults(t, b, w)
	var calls atomic.Int32
	handled := make(chan struct{}, 8)
	go w.Work(ctx, "tee", func(_ context.Context, j work.Job) (work.Result, error) {
		calls.Add(1)
		handled <- struct{}{}
		return work.Result{OK: true}, nil
	})
	if err := b.PublishJob(ctx, &work.Job{ID: "j-patient", Kind: "tee"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled:
	case <-time.After(20 * time.Second):
		t.Fatal("the job was not handled")
	}
	time.Sleep(time.Second)               // the worker is trying to publish into a full stream
	if err := b.Ensure(ctx); err != nil { // back to its limits
		t.Fatal(err)
	}
	got := make(chan work.Result, 4)
	go b.Results(ctx, func(_ context.Context, r work.Result) error { got <- r; return nil })
	for r := range got { // the filler first
		if r.JobID == "j-patient" {
			if !r.OK {
				t.Fatalf("result %+v", r)
			}
			break
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the job was handled %d times; its computed result should have been published again instead", n)
	}
}

// A job whose dead letter cannot be published (the results stream is
// full) is not terminated: it stays in the work queue, to be delivered
// again, instead of being lost with its submission left verifying.
func TestJobKeptWhenItsDeadLetterIsNotPublished(t *testing.T) {
	t.Parallel()
	b, w := newTestBus(t, Config{Backoff: 5 * time.Millisecond, MaxDeliver: 2, RequestTimeout: 200 * time.Millisecond,
		ResultPatience: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fillResults(t, b, w)
	var calls atomic.Int32
	go w.Work(ctx, "zk", func(_ context.Context, j work.Job) (work.Result, error) {
		calls.Add(1)
		return work.Result{}, errors.New("prover crashed")
	})
	if err := b.PublishJob(ctx, &work.Job{ID: "j-kept", Kind: "zk"}); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 20*time.Second, func() error {
		if n := calls.Load(); n < 2 {
			return fmt.Errorf("handled %d times", n)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // the dead letter's tries (ResultPatience) are over
	st, err := b.JS.Stream(ctx, JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d jobs in the work queue after a dead letter that could not be published, want the job kept", info.State.Msgs)
	}
}

// fillResults makes the results stream refuse new messages: at most one,
// and one is there, published by the worker w (Ensure puts the limits
// back).
func fillResults(t *testing.T, b, w *Bus) {
	t.Helper()
	ctx := context.Background()
	st, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgs = 1
	if _, err := b.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := w.PublishResult(ctx, &work.Result{JobID: "filler", Kind: "tee"}); err != nil {
		t.Fatal(err)
	}
	if err := w.PublishResult(ctx, &work.Result{JobID: "over", Kind: "tee"}); err == nil {
		t.Fatal("a full results stream took another result")
	}
}
