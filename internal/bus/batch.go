package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ResultBatches consumes workers' results in batches of up to max, so the
// coordinator applies many in one database transaction (one commit instead
// of one per result). Several fetch loops run at once. h returning an error
// redelivers the whole batch with back-off (its effects are idempotent);
// on success every message of the batch is acked.
func (b *Bus) ResultBatches(ctx context.Context, loops, max int, h func(ctx context.Context, rs []Result) error) error {
	cons, err := b.JS.Consumer(ctx, ResultsStream, "coordinator")
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	return b.batches(ctx, cons, loops, max, 2*time.Millisecond, func(ctx context.Context, msgs []jetstream.Msg) ([]jetstream.Msg, error) {
		var rs []Result
		var keep []jetstream.Msg
		for _, msg := range msgs {
			var r Result
			if err := json.Unmarshal(msg.Data(), &r); err != nil {
				b.log.Error("undecodable result terminated", "err", err)
				_ = msg.TermWithReason("undecodable")
				continue
			}
			keep, rs = append(keep, msg), append(rs, r)
		}
		if len(rs) == 0 {
			return nil, nil
		}
		return keep, h(ctx, rs)
	})
}

// batches runs loops fetch loops over cons, each handing h batches of up to
// max messages: the first message, and what else arrives within linger of
// it (batches grow with load, latency stays bounded). h returns the messages it kept (the others it settled
// itself) and an error, which naks the kept ones for redelivery with
// back-off; otherwise they are acked.
func (b *Bus) batches(ctx context.Context, cons jetstream.Consumer, loops, max int, linger time.Duration,
	h func(ctx context.Context, msgs []jetstream.Msg) ([]jetstream.Msg, error)) error {
	var wg sync.WaitGroup
	errc := make(chan error, loops)
	for range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- b.batchLoop(ctx, cons, max, linger, h)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *Bus) batchLoop(ctx context.Context, cons jetstream.Consumer, max int, linger time.Duration,
	h func(ctx context.Context, msgs []jetstream.Msg) ([]jetstream.Msg, error)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * max))
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); it.Stop() }()
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
		keep, err := h(hctx, msgs)
		cancel()
		for _, msg := range keep {
			if err != nil {
				_ = msg.NakWithDelay(b.cfg.Backoff)
			} else {
				_ = msg.Ack()
			}
		}
		if err != nil {
			b.log.Warn("batch failed; redelivering", "messages", len(keep), "err", err)
		}
	}
}
