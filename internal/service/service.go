// Package service is how vsc runs its roles. Each role — the coordinator,
// a TEE or zk worker, a quorum member, an optimistic watcher or executor,
// the chain node — is a Service: built by a chain of init steps, then
// started, then stopped. A process is a List of services, started in order
// and stopped in reverse order, so a service stops before what it uses.
//
// Two rules make a clean shutdown:
//
//   - The context given to Start bounds start-up only. A service's work runs
//     on a context of its own (a Group's), which only its Stop cancels: a
//     signal never cuts a service off before its turn in the ordered stop.
//     The signal starts the stop; each Stop drains its own service.
//   - Stop copes with a service that is half built or was never started,
//     and returns every error it met, joined.
//
// Every goroutine a service runs belongs to its Group, which waits for it
// on Stop and starts no new one afterwards.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Service is one role of a process.
type Service interface {
	// Start brings the service up: it returns once the service works, or
	// with the error that stopped its start-up. ctx bounds the start-up
	// only; the service runs until Stop.
	Start(ctx context.Context) error
	// Stop drains the service's work and releases what it holds, waiting
	// at most until ctx ends. It copes with a service whose Start failed
	// halfway or never ran.
	Stop(ctx context.Context) error
}

// Failing is a Service that can end on its own, when a loop of it fails:
// Done is closed then (and on Stop), and Err says why.
type Failing interface {
	Done() <-chan struct{}
	Err() error
}

// ErrStopped is what Group.Go returns after Stop: a stopped service starts
// no new goroutine.
var ErrStopped = errors.New("service stopped")

// Group owns the goroutines of one service. They run on a context that the
// context of Go does not cancel (its values are kept); the first goroutine
// that returns an error cancels the others; Stop cancels them all and waits
// for them. The zero Group is ready to use.
type Group struct {
	mu      sync.Mutex
	g       *errgroup.Group
	ctx     context.Context
	cancel  context.CancelFunc
	stopped bool
	err     error
}

// Go runs fn on a goroutine of the group, with the group's context. A
// context.Canceled that fn returns once the group is cancelled is not an
// error.
func (g *Group) Go(ctx context.Context, fn func(ctx context.Context) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return ErrStopped
	}
	if g.g == nil {
		parent, cancel := context.WithCancel(context.WithoutCancel(ctx))
		g.g, g.ctx = errgroup.WithContext(parent)
		g.cancel = cancel
	}
	gctx := g.ctx
	g.g.Go(func() error {
		err := fn(gctx)
		if err != nil && gctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil
		}
		if err != nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
			}
			g.mu.Unlock()
		}
		return err
	})
	return nil
}

// Done is closed when a goroutine of the group failed, or on Stop.
func (g *Group) Done() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil {
		return nil // nothing runs: never done on its own
	}
	return g.ctx.Done()
}

// Err is the first error a goroutine of the group returned, if any.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Stop cancels the group's goroutines and waits for them, at most until
// ctx ends. It returns the first error one of them returned.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	g.stopped = true
	grp, cancel := g.g, g.cancel
	g.mu.Unlock()
	if grp == nil {
		return nil
	}
	cancel()
	// the waiter ends with the group's last goroutine: past the deadline
	// it is all that is left of the group, in a process about to exit
	done := make(chan error, 1)
	go func() { done <- grp.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("goroutines still running after the stop deadline: %w", ctx.Err())
	}
}

// List is the services of one process in start order. Start records each
// service before starting it, so Stop also stops one whose Start failed
// halfway. The zero List is ready to use; a List is itself a Service.
type List struct {
	Log *slog.Logger // nil: no log

	mu      sync.Mutex
	entries []entry
}

type entry struct {
	name string
	svc  Service
}

// Add records s to be stopped in its place in the reverse order, without
// starting it (a resource that needs no start: a connection, a store).
func (l *List) Add(name string, s Service) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, entry{name, s})
}

// Run records s and starts it.
func (l *List) Run(ctx context.Context, name string, s Service) error {
	l.Add(name, s)
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// Start starts nothing: the services of a List are started as they are
// added (Run). It is there so that a List is a Service.
func (l *List) Start(context.Context) error { return nil }

// Stop stops every recorded service in reverse order, each at most until
// ctx ends, and joins their errors. A List stops once: a second Stop does
// nothing.
func (l *List) Stop(ctx context.Context) error { return l.stop(ctx, nil) }

// stop is Stop, leaving out a Stop error that is (wraps) reported, a
// failure already returned by Wait.
func (l *List) stop(ctx context.Context, reported error) error {
	l.mu.Lock()
	entries := l.entries
	l.entries = nil
	l.mu.Unlock()
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		t := time.Now()
		if err := e.svc.Stop(ctx); err != nil && (reported == nil || !errors.Is(err, reported)) {
			errs = append(errs, fmt.Errorf("stop %s: %w", e.name, err))
		}
		if l.Log != nil {
			l.Log.Debug("stopped", "service", e.name, "took", time.Since(t).Round(time.Millisecond))
		}
	}
	return errors.Join(errs...)
}

// Wait blocks until ctx ends (a signal: the caller then stops the list) or
// a recorded service that is Failing ends on its own; it returns nil or that
// service's failure.
func (l *List) Wait(ctx context.Context) error {
	_, err := l.wait(ctx)
	return err
}

// wait is Wait; it also returns the failed service's own error.
func (l *List) wait(ctx context.Context) (cause, err error) {
	l.mu.Lock()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	var watched []entry
	for _, e := range l.entries {
		if f, ok := e.svc.(Failing); ok && f.Done() != nil {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(f.Done())})
			watched = append(watched, e)
		}
	}
	l.mu.Unlock()
	i, _, _ := reflect.Select(cases)
	if i == 0 {
		return nil, nil
	}
	e := watched[i-1]
	if cause := e.svc.(Failing).Err(); cause != nil {
		return cause, fmt.Errorf("%s stopped: %w", e.name, cause)
	}
	return nil, fmt.Errorf("%s stopped", e.name)
}

// Serve is a process's life after start-up: it waits until ctx ends or a
// service fails (Wait), then stops the list in reverse order, giving the
// drain at most drain. It returns the failure and the errors of the stop.
func (l *List) Serve(ctx context.Context, drain time.Duration) error {
	cause, err := l.wait(ctx)
	if l.Log != nil {
		if err != nil {
			l.Log.Error("stopping: a service failed", "err", err)
		} else {
			l.Log.Info("stopping: draining in-flight work")
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	return errors.Join(err, l.stop(sctx, cause))
}

// Func is a Service made of two functions; either may be nil.
type Func struct {
	OnStart func(ctx context.Context) error
	OnStop  func(ctx context.Context) error
}

// Start calls OnStart.
func (f Func) Start(ctx context.Context) error {
	if f.OnStart == nil {
		return nil
	}
	return f.OnStart(ctx)
}

// Stop calls OnStop.
func (f Func) Stop(ctx context.Context) error {
	if f.OnStop == nil {
		return nil
	}
	return f.OnStop(ctx)
}

// Closer is a Service whose Stop calls close (a connection, a store).
func Closer(close func()) Service {
	return Func{OnStop: func(context.Context) error { close(); return nil }}
}

// Loop is a Service that runs one blocking function — a role's Run, which
// works until its context ends — on a goroutine of its own Group. Roles
// that are a single loop build their Start and Stop on it.
type Loop struct {
	// Run works until ctx ends; an error ends the loop (Done, Err).
	Run   func(ctx context.Context) error
	group Group
}

// Start runs l.Run on the loop's goroutine.
func (l *Loop) Start(ctx context.Context) error { return l.group.Go(ctx, l.Run) }

// Stop cancels the loop and waits for Run to return.
func (l *Loop) Stop(ctx context.Context) error { return l.group.Stop(ctx) }

// Done is closed when Run failed, or on Stop.
func (l *Loop) Done() <-chan struct{} { return l.group.Done() }

// Err is Run's error, if it failed.
func (l *Loop) Err() error { return l.group.Err() }
