package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGroupOutlivesStartContext(t *testing.T) {
	t.Parallel()
	var g Group
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	if err := g.Go(ctx, func(ctx context.Context) error { <-ctx.Done(); close(stopped); return ctx.Err() }); err != nil {
		t.Fatal(err)
	}
	cancel() // the signal: it must not reach the goroutine
	select {
	case <-stopped:
		t.Fatal("cancelling Go's context stopped the goroutine before Stop")
	case <-g.Done():
		t.Fatal("the group is done before Stop")
	default:
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v (a goroutine returning context.Canceled on Stop is no error)", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Stop returned before the goroutine ended")
	}
	if err := g.Go(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrStopped) {
		t.Fatalf("Go after Stop: %v, want ErrStopped", err)
	}
}

func TestGroupFirstFailureStopsTheOthers(t *testing.T) {
	t.Parallel()
	var g Group
	boom := errors.New("boom")
	_ = g.Go(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	_ = g.Go(context.Background(), func(context.Context) error { return boom })
	<-g.Done()
	if !errors.Is(g.Err(), boom) {
		t.Fatalf("Err %v", g.Err())
	}
	if err := g.Stop(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Stop %v", err)
	}
}

func TestGroupStopDeadline(t *testing.T) {
	t.Parallel()
	var g Group
	release := make(chan struct{})
	defer close(release)
	_ = g.Go(context.Background(), func(context.Context) error { <-release; return nil }) // ignores its context
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop of a stuck goroutine past its deadline: %v", err)
	}
}

func TestZeroGroup(t *testing.T) {
	t.Parallel()
	var g Group
	if g.Done() != nil || g.Err() != nil || g.Stop(context.Background()) != nil {
		t.Fatal("a group that never ran is not idle")
	}
}

// recorder is a service that records its start and stop.
type recorder struct {
	name     string
	log      *[]string
	mu       *sync.Mutex
	startErr error
	stopErr  error
}

func (r recorder) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, s)
}

func (r recorder) Start(context.Context) error { r.note("start " + r.name); return r.startErr }
func (r recorder) Stop(context.Context) error  { r.note("stop " + r.name); return r.stopErr }

func TestListStopsInReverseAndJoinsErrors(t *testing.T) {
	t.Parallel()
	var log []string
	var mu sync.Mutex
	var l List
	ctx := context.Background()
	errB, errC := errors.New("b will not stop"), errors.New("c failed to start")
	if err := l.Run(ctx, "a", recorder{name: "a", log: &log, mu: &mu}); err != nil {
		t.Fatal(err)
	}
	l.Add("conn", recorder{name: "conn", log: &log, mu: &mu})
	if err := l.Run(ctx, "b", recorder{name: "b", log: &log, mu: &mu, stopErr: errB}); err != nil {
		t.Fatal(err)
	}
	err := l.Run(ctx, "c", recorder{name: "c", log: &log, mu: &mu, startErr: errC})
	if !errors.Is(err, errC) || !strings.Contains(err.Error(), "start c") {
		t.Fatalf("Run c: %v", err)
	}
	// a half-started c is stopped too, first
	err = l.Stop(ctx)
	if !errors.Is(err, errB) || !strings.Contains(err.Error(), "stop b") {
		t.Fatalf("Stop: %v", err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop conn", "stop a"}
	if !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
	if err := l.Stop(ctx); err != nil || len(log) != len(want) {
		t.Fatalf("a second Stop did something: %v %v", err, log)
	}
}

func TestListServe(t *testing.T) {
	t.Parallel()
	t.Run("signal", func(t *testing.T) {
		t.Parallel()
		var l List
		loop := &Loop{Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}
		if err := l.Run(context.Background(), "loop", loop); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Serve(ctx, time.Minute); err != nil {
			t.Fatalf("Serve after a signal: %v", err)
		}
		select {
		case <-loop.Done():
		default:
			t.Fatal("Serve returned with the loop running")
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		var l List
		boom := errors.New("boom")
		other := &Loop{Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}
		_ = l.Run(context.Background(), "other", other)
		_ = l.Run(context.Background(), "failing", &Loop{Run: func(context.Context) error { return boom }})
		err := l.Serve(context.Background(), time.Minute)
		if !errors.Is(err, boom) || strings.Count(err.Error(), "boom") != 1 || !strings.Contains(err.Error(), "failing stopped") {
			t.Fatalf("Serve: %v (want the failure once, naming the service)", err)
		}
		select {
		case <-other.Done():
		default:
			t.Fatal("the other service still runs")
		}
	})
}
