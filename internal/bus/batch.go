package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// ResultBatches consumes workers' results in batches of up to max, so the
// coordinator applies many in one database transaction (one commit instead
// of one per result). Several fetch loops run at once. h returns one error
// per result, and each message is settled on its own: nil acks it, an
// ErrPermanent error terminates it with its reason logged, any other error
// redelivers it with back-off (the coordinator's effects are idempotent),
// up to ResultMaxDeliver deliveries.
func (b *Bus) ResultBatches(ctx context.Context, loops, max int, h func(ctx context.Context, rs []Result) []error) error {
	cons, err := b.JS.Consumer(ctx, ResultsStream, resultsConsumer)
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	return b.batches(ctx, cons, loops, max, 2*time.Millisecond, ResultMaxDeliver, nil, func(ctx context.Context, msgs []jetstream.Msg) []error {
		errs := make([]error, len(msgs))
		var rs []Result
		var at []int
		for i, msg := range msgs {
			r, err := b.decodeResult(msg)
			if err != nil {
				errs[i] = err
				continue
			}
			rs, at = append(rs, r), append(at, i)
		}
		if len(rs) == 0 {
			return errs
		}
		herrs := h(ctx, rs)
		for k, i := range at {
			errs[i] = herrs[k]
		}
		return errs
	})
}

// batches runs loops fetch loops over cons, each handing h batches of up to
// max messages: the first message, and what else arrives within linger of
// it (batches grow with load, latency stays bounded). h returns one error
// per message, and each is settled on its own (settle, with maxDeliver and
// dead).
func (b *Bus) batches(ctx context.Context, cons jetstream.Consumer, loops, max int, linger time.Duration, maxDeliver int,
	dead func(jetstream.Msg, error), h func(ctx context.Context, msgs []jetstream.Msg) []error) error {
	g, gctx := errgroup.WithContext(ctx) // a loop that fails stops the others
	for range loops {
		g.Go(func() error { return b.batchLoop(gctx, cons, max, linger, maxDeliver, dead, h) })
	}
	return g.Wait()
}

func (b *Bus) batchLoop(ctx context.Context, cons jetstream.Consumer, max int, linger time.Duration, maxDeliver int,
	dead func(jetstream.Msg, error), h func(ctx context.Context, msgs []jetstream.Msg) []error) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * max))
	if err != nil {
		return err
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		// block for the first message, then take what else arrives within
		// linger of it
		first, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		msgs := []jetstream.Msg{first}
		deadline := time.Now().Add(linger)
		for len(msgs) < max {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			m, err := it.Next(jetstream.NextMaxWait(wait))
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		// the batch is handled even if ctx ends meanwhile (drain)
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		errs := h(hctx, msgs)
		for i, msg := range msgs {
			b.settle(hctx, msg, errs[i], maxDeliver, false, dead)
		}
		cancel()
	}
}
