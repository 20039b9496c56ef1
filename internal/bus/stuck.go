package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/internal/work"
)

// maxDeliveriesAdvisory is where the server says a job reached its
// consumer's MaxDeliver without being settled.
const maxDeliveriesAdvisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + JobsStream + ".>"

// stuckQueue is the queue group of the coordinators' stuck-job watches.
const stuckQueue = "vsc-coordinators"

// StuckJobs hands h every job the server stopped delivering because it
// reached its consumer's MaxDeliver unsettled — its workers died on it
// each time, so the bus never got to dead-letter it — with the deliveries
// it got, until ctx ends. Once h succeeds the job is removed from the work
// queue (where it would otherwise sit forever). The server's advisories
// are not stored: a job stuck while no coordinator listens stays in the
// queue. Coordinator only; with several coordinators each advisory goes to
// one of them (a queue group).
func (b *Bus) StuckJobs(ctx context.Context, h func(ctx context.Context, j work.Job, deliveries int) error) error {
	sub, err := b.NC.QueueSubscribe(maxDeliveriesAdvisory, stuckQueue, func(m *nats.Msg) {
		var adv struct {
			Stream     string `json:"stream"`
			StreamSeq  uint64 `json:"stream_seq"`
			Deliveries int    `json:"deliveries"`
		}
		if json.Unmarshal(m.Data, &adv) != nil || adv.Stream != JobsStream {
			return
		}
		hctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.stuckJob(hctx, adv.StreamSeq, adv.Deliveries, h); err != nil {
			b.log.Error("stuck job not failed; it stays in the work queue", "seq", adv.StreamSeq, "err", err)
		}
	})
	if err != nil {
		return b.explain(fmt.Errorf("subscribe to stuck jobs: %w", err))
	}
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return err
	}
	return nil // a closed connection took the subscription with it
}

func (b *Bus) stuckJob(ctx context.Context, seq uint64, deliveries int, h func(context.Context, work.Job, int) error) error {
	st, err := b.stream(ctx, JobsStream)
	if err != nil {
		return err
	}
	m, err := b.getMsg(ctx, st, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // settled meanwhile
	}
	if err != nil {
		return err
	}
	j, err := work.DecodeJob(m.Data)
	if err == nil {
		err = h(ctx, j, deliveries)
	}
	if err != nil && !errors.Is(err, work.ErrPermanent) {
		return err
	}
	b.log.Error("stuck job removed from the work queue", "job", j.ID, "kind", j.Kind, "deliveries", deliveries, "err", err)
	rctx, cancel := b.req(ctx)
	defer cancel()
	return st.DeleteMsg(rctx, seq)
}
