package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/work"
)

// Results consumes workers' results one at a time until ctx ends (tests
// and tools; the coordinator uses ResultBatches). h returning an error
// redelivers the result later (work.ErrPermanent: terminates it).
func (b *Bus) Results(ctx context.Context, h func(ctx context.Context, r work.Result) error) error {
	cons, err := b.JS.Consumer(ctx, ResultsStream, resultsConsumer)
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	return b.consume(ctx, cons, b.cfg.IOConcurrency, ResultMaxDeliver, false, func(hctx context.Context, msg jetstream.Msg) error {
		r, err := b.decodeResult(msg)
		if err != nil {
			return err
		}
		return h(hctx, r)
	}, nil)
}

// decodeResult decodes a result message and checks it came on its kind's
// subject (which only that kind's workers may publish to).
func (b *Bus) decodeResult(msg jetstream.Msg) (work.Result, error) {
	r, err := work.DecodeResult(msg.Data())
	if err != nil {
		return r, err
	}
	if msg.Subject() != resultsPrefix+string(r.Kind) {
		return r, work.Refuse(codes.WrongSubject, fmt.Errorf("a %q result arrived on %s", truncate(string(r.Kind), 32), msg.Subject()))
	}
	return r, nil
}

// ResultBatches consumes workers' results in batches of up to max, so the
// coordinator applies many in one database transaction (one commit instead
// of one per result). Several fetch loops run at once. h returns one error
// per result, and each message is settled on its own: nil acks it, a
// work.ErrPermanent error terminates it with its reason logged, any other
// error redelivers it with back-off (the coordinator's effects are
// idempotent), up to ResultMaxDeliver deliveries.
func (b *Bus) ResultBatches(ctx context.Context, loops, max int, h func(ctx context.Context, rs []work.Result) []error) error {
	cons, err := b.JS.Consumer(ctx, ResultsStream, resultsConsumer)
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	return b.batches(ctx, cons, loops, max, 2*time.Millisecond, ResultMaxDeliver, nil, func(ctx context.Context, msgs []jetstream.Msg) []error {
		errs := make([]error, len(msgs))
		var rs []work.Result
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
