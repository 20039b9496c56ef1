package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/work"
)

// batches runs loops fetch loops over cons, each handing h batches of up to
// max messages: the first message, and what else arrives within linger of
// it (batches grow with load, latency stays bounded). h returns one error
// per message, and each is settled on its own (settle, with maxDeliver and
// dead).
func (b *Bus) batches(ctx context.Context, cons jetstream.Consumer, loops, max int, linger time.Duration, maxDeliver int,
	dead func(jetstream.Msg, error) error, h func(ctx context.Context, msgs []jetstream.Msg) []error) error {
	g, gctx := errgroup.WithContext(ctx) // a loop that fails stops the others
	for range loops {
		g.Go(func() error { return b.batchLoop(gctx, cons, max, linger, maxDeliver, dead, h) })
	}
	return g.Wait()
}

func (b *Bus) batchLoop(ctx context.Context, cons jetstream.Consumer, max int, linger time.Duration, maxDeliver int,
	dead func(jetstream.Msg, error) error, h func(ctx context.Context, msgs []jetstream.Msg) []error) error {
	var fails int
	for {
		it, err := cons.Messages(jetstream.PullMaxMessages(2 * max))
		if err == nil {
			err = b.batchIter(ctx, it, max, linger, maxDeliver, dead, h, &fails)
		}
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if fails++; fails > maxPullFailures {
			return err
		}
		if !b.pullPause(ctx, err, fails) {
			return nil
		}
	}
}

// maxPullFailures bounds the consecutive failures of a pull (a server of
// the cluster gone, heartbeats missed) a consumer rides out before its
// service fails.
const maxPullFailures = 30

// pullPause logs a failed pull and waits before the next (false: ctx ended).
func (b *Bus) pullPause(ctx context.Context, err error, fails int) bool {
	b.log.Warn("pull failed; pulling again", "err", err, "failures", fails)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(min(time.Duration(fails)*200*time.Millisecond, 2*time.Second)):
		return true
	}
}

// batchIter handles batches from one message iterator until it fails (its
// error) or ends (nil).
func (b *Bus) batchIter(ctx context.Context, it jetstream.MessagesContext, max int, linger time.Duration, maxDeliver int,
	dead func(jetstream.Msg, error) error, h func(ctx context.Context, msgs []jetstream.Msg) []error, fails *int) error {
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
		*fails = 0
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

// consume runs handle over the consumer's messages with conc goroutines,
// settling each message on its own (settle).
func (b *Bus) consume(ctx context.Context, cons jetstream.Consumer, conc, maxDeliver int, double bool,
	handle func(context.Context, jetstream.Msg) error, dead func(jetstream.Msg, error) error) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * conc))
	if err != nil {
		return err
	}
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range msgs {
				b.handleOne(msg, maxDeliver, double, handle, dead)
			}
		}()
	}
	defer func() { close(msgs); wg.Wait() }()
	var fails int
	for {
		err := pump(ctx, it, msgs, &fails)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if fails++; fails > maxPullFailures {
			return err
		}
		if !b.pullPause(ctx, err, fails) {
			return nil
		}
		if it, err = cons.Messages(jetstream.PullMaxMessages(2 * conc)); err != nil {
			it = nil
		}
	}
}

// pump feeds msgs from one iterator until it fails (its error) or ends
// (nil); a nil iterator is a failed one.
func pump(ctx context.Context, it jetstream.MessagesContext, msgs chan<- jetstream.Msg, fails *int) error {
	if it == nil {
		return errors.New("no message iterator")
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		*fails = 0
		msgs <- msg
	}
}

// handleOne runs a handler with progress beats (so long jobs such as proofs
// are not redelivered while they run) and settles the message.
func (b *Bus) handleOne(msg jetstream.Msg, maxDeliver int, double bool, handle func(context.Context, jetstream.Msg) error, dead func(jetstream.Msg, error) error) {
	// In-flight work finishes even when the worker is asked to stop: the
	// handler's context is not the Work context (graceful drain).
	hctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := b.beat([]jetstream.Msg{msg})
	err := handle(hctx, msg)
	stop()
	b.settle(hctx, msg, err, maxDeliver, double, dead)
}

// beat tells the server the messages are in progress every AckWait/3 until
// the returned stop is called.
func (b *Bus) beat(msgs []jetstream.Msg) (stop func()) {
	tick := time.NewTicker(b.cfg.AckWait / 3)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-tick.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); tick.Stop() }) }
}

// settle acks a handled message (err nil; double: and waits for the
// server's confirmation). A message that can never be handled
// (work.ErrPermanent), or that failed on its maxDeliver-th delivery, is
// dead-lettered (dead, when set) and terminated with its reason logged;
// any other failure redelivers it after a back-off that doubles with each
// delivery.
func (b *Bus) settle(ctx context.Context, msg jetstream.Msg, err error, maxDeliver int, double bool, dead func(jetstream.Msg, error) error) {
	if err == nil {
		var aerr error
		if double {
			rctx, cancel := b.req(ctx)
			aerr = msg.DoubleAck(rctx)
			cancel()
		} else {
			aerr = msg.Ack()
		}
		if aerr != nil {
			b.log.Warn("ack failed; the message will be redelivered", "subject", msg.Subject(), "err", aerr)
		}
		return
	}
	delivered := 1
	if meta, merr := msg.Metadata(); merr == nil {
		delivered = int(meta.NumDelivered)
	}
	if errors.Is(err, work.ErrPermanent) || delivered >= maxDeliver {
		why, code := "refused", work.RefusalCode(err)
		if !errors.Is(err, work.ErrPermanent) {
			why, code = fmt.Sprintf("failed %d times", delivered), codes.MaxDeliveries
		}
		b.log.Error("message terminated: "+why, "subject", msg.Subject(), "deliveries", delivered, "code", codeName(code), "err", err)
		if dead != nil {
			if derr := dead(msg, err); derr != nil {
				// the failure could not be recorded: keep the message, try later
				_ = msg.NakWithDelay(MaxBackoff)
				return
			}
		}
		_ = msg.TermWithReason(truncate(why+": "+err.Error(), maxReason))
		return
	}
	delay := min(b.cfg.Backoff<<min(delivered-1, 16), MaxBackoff)
	b.log.Warn("handler failed; redelivering", "subject", msg.Subject(), "delivery", delivered, "in", delay, "err", err)
	_ = msg.NakWithDelay(delay)
}

// codeName is a refusal code as the logs name it ("" for none).
func codeName(c codes.Code) string {
	if c == codes.OK {
		return ""
	}
	return c.Name()
}
