package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

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
	f, err := b.publishResultAsync(&work.Result{JobID: "k", Kind: "tee"})
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
