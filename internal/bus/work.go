package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/work"
)

// Handler handles one job. An error is transient: the job is redelivered
// with back-off up to MaxDeliver times, then dead-lettered as a failed
// Result; a work.ErrPermanent error dead-letters it at once.
type Handler func(ctx context.Context, j work.Job) (work.Result, error)

// Work consumes jobs of kind until ctx ends, then waits for in-flight
// handlers to finish (drain) and returns.
func (b *Bus) Work(ctx context.Context, kind idao.Kind, h Handler) error {
	return b.WorkN(ctx, kind, b.cfg.Concurrency, h)
}

// WorkN is Work with n handlers at once (1 for work that already uses every
// core, such as a Groth16 proof).
func (b *Bus) WorkN(ctx context.Context, kind idao.Kind, n int, h Handler) error {
	cons, err := b.jobConsumer(ctx, kind)
	if err != nil {
		return err
	}
	return b.consume(ctx, cons, max(n, 1), b.cfg.MaxDeliver, true, func(hctx context.Context, msg jetstream.Msg) error {
		j, err := work.DecodeJob(msg.Data())
		if err != nil {
			return err
		}
		res, err := h(hctx, j)
		if err != nil {
			return err
		}
		res.JobID, res.Kind, res.SubmissionID, res.Chunk = j.ID, j.Kind, j.SubmissionID, j.Chunk
		m, err := b.resultMessage(&res)
		if err != nil {
			return err
		}
		_, err = b.publish(hctx, m.subject, m.data, jetstream.WithMsgID(m.id))
		return b.publishResultPatiently(hctx, &res, m, err)
	}, b.deadLetter)
}

// BatchHandler handles a batch of jobs: for each job a result, or an error
// (the job is redelivered, or dead-lettered, as with Handler).
type BatchHandler func(ctx context.Context, jobs []work.Job) ([]work.Result, []error)

// WorkBatches consumes jobs of kind in batches of up to max messages, with
// loops fetch loops at once, for work that is cheaper done together (an
// enclave attests a batch of results once). Each job is settled on its own:
// its result published and the job acked, or redelivered with back-off and
// dead-lettered after MaxDeliver, as with Work.
func (b *Bus) WorkBatches(ctx context.Context, kind idao.Kind, loops, max int, h BatchHandler) error {
	cons, err := b.jobConsumer(ctx, kind)
	if err != nil {
		return err
	}
	return b.batches(ctx, cons, loops, max, b.cfg.BatchLinger, b.cfg.MaxDeliver, b.deadLetter, func(hctx context.Context, msgs []jetstream.Msg) []error {
		stop := b.beat(msgs)
		defer stop()
		errs := make([]error, len(msgs))
		var jobs []work.Job
		var at []int
		for i, msg := range msgs {
			j, err := work.DecodeJob(msg.Data())
			if err != nil {
				errs[i] = err
				continue
			}
			jobs, at = append(jobs, j), append(at, i)
		}
		if len(jobs) == 0 {
			return errs
		}
		results, herrs := h(hctx, jobs)
		futures := make([]jetstream.PubAckFuture, len(jobs))
		ms := make([]resultMsg, len(jobs))
		for k, j := range jobs {
			if herrs[k] != nil {
				errs[at[k]] = herrs[k]
				continue
			}
			r := &results[k]
			r.JobID, r.Kind, r.SubmissionID, r.Chunk = j.ID, j.Kind, j.SubmissionID, j.Chunk
			futures[k], ms[k], errs[at[k]] = b.publishResultAsync(r)
		}
		for k, f := range futures {
			if f == nil {
				continue
			}
			var err error
			select {
			case <-f.Ok():
			case err = <-f.Err():
			case <-hctx.Done():
				err = hctx.Err()
			}
			if err != nil { // the result is computed: publish it again rather than redo the job
				errs[at[k]] = b.publishResultPatiently(hctx, &results[k], ms[k], err)
			}
		}
		return errs
	})
}

// jobConsumer returns the work-queue consumer of kind, once the
// coordinator has made it.
func (b *Bus) jobConsumer(ctx context.Context, kind idao.Kind) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := b.waitFor(ctx, "the "+string(kind)+" job queue", func() (err error) {
		cons, err = b.JS.Consumer(ctx, JobsStream, jobsConsumer(kind))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consumer for %s jobs: %w", kind, err)
	}
	return cons, nil
}

// deadLetter publishes a failed Result for a job that ran out of deliveries
// (or can never be handled), so its submission fails instead of waiting.
// An error means the dead letter was not published: the job must not be
// terminated then (it would be lost, its submission left verifying), and
// settle redelivers it later instead.
func (b *Bus) deadLetter(msg jetstream.Msg, lastErr error) error {
	var j work.Job
	if json.Unmarshal(msg.Data(), &j) != nil {
		return nil // not a job: nothing to fail
	}
	reason := fmt.Sprintf("%s job failed after %d attempts: %v", j.Kind, b.cfg.MaxDeliver, lastErr)
	if errors.Is(lastErr, work.ErrPermanent) {
		reason = fmt.Sprintf("%s job refused: %v", j.Kind, lastErr)
	}
	res := work.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk, Reason: truncate(reason, maxReason)}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ResultPatience+b.cfg.RequestTimeout)
	defer cancel()
	m, err := b.resultMessage(&res)
	if err != nil {
		return err
	}
	_, err = b.publish(ctx, m.subject, m.data, jetstream.WithMsgID(m.id))
	if err = b.publishResultPatiently(ctx, &res, m, err); err != nil {
		b.log.Error("dead-letter result not published; the job is delivered again later", "job", j.ID, "err", err)
	}
	return err
}

// maxReason bounds a reason the bus writes (a dead letter's, a
// termination's).
const maxReason = 500

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
