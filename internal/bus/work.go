package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/work"
)

// PublishJob publishes a job; the server dedupes on MsgID.
func (b *Bus) PublishJob(ctx context.Context, j *work.Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if _, err := b.JS.Publish(ctx, jobsPrefix+string(j.Kind), data, jetstream.WithMsgID(j.MsgID())); err != nil {
		return fmt.Errorf("publish job %s: %w", j.MsgID(), err)
	}
	return nil
}

// PublishResult signs (with the bus's Signer) and publishes a result.
func (b *Bus) PublishResult(ctx context.Context, r *work.Result) error {
	id, err := b.sign(r)
	if err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := b.JS.Publish(ctx, resultsPrefix+string(r.Kind), data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
	}
	return nil
}

// publishResultAsync signs and publishes a result without waiting for its ack.
func (b *Bus) publishResultAsync(r *work.Result) (jetstream.PubAckFuture, error) {
	id, err := b.sign(r)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	f, err := b.JS.PublishAsync(resultsPrefix+string(r.Kind), data, jetstream.WithMsgID(id))
	if err != nil {
		return nil, fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
	}
	return f, nil
}

// Handler handles one job. An error is transient: the job is redelivered
// with back-off up to MaxDeliver times, then dead-lettered as a failed
// Result; an ErrPermanent error dead-letters it at once.
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
		return b.PublishResult(hctx, &res)
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
		for k, j := range jobs {
			if herrs[k] != nil {
				errs[at[k]] = herrs[k]
				continue
			}
			r := &results[k]
			r.JobID, r.Kind, r.SubmissionID, r.Chunk = j.ID, j.Kind, j.SubmissionID, j.Chunk
			futures[k], errs[at[k]] = b.publishResultAsync(r)
		}
		for k, f := range futures {
			if f == nil {
				continue
			}
			select {
			case <-f.Ok():
			case err := <-f.Err():
				errs[at[k]] = fmt.Errorf("publish result: %w", err)
			case <-hctx.Done():
				errs[at[k]] = hctx.Err()
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
func (b *Bus) deadLetter(msg jetstream.Msg, lastErr error) {
	var j work.Job
	if json.Unmarshal(msg.Data(), &j) != nil {
		return
	}
	reason := fmt.Sprintf("%s job failed after %d attempts: %v", j.Kind, b.cfg.MaxDeliver, lastErr)
	if errors.Is(lastErr, work.ErrPermanent) {
		reason = fmt.Sprintf("%s job refused: %v", j.Kind, lastErr)
	}
	res := work.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk, Reason: truncate(reason, maxReason)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.PublishResult(ctx, &res); err != nil {
		b.log.Error("dead-letter result not published", "job", j.ID, "err", err)
	}
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

// Results consumes workers' results one at a time until ctx ends (tests
// and tools; the coordinator uses ResultBatches). h returning an error
// redelivers the result later (ErrPermanent: terminates it).
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

// PublishJobs publishes jobs asynchronously and waits for every ack; errs[i]
// is job i's publish error (nil: stored).
func (b *Bus) PublishJobs(ctx context.Context, jobs []*work.Job) (errs []error) {
	errs = make([]error, len(jobs))
	futures := make([]jetstream.PubAckFuture, len(jobs))
	for i, j := range jobs {
		data, err := json.Marshal(j)
		if err != nil {
			errs[i] = work.Permanent(fmt.Errorf("encode job %s: %w", j.MsgID(), err))
			continue
		}
		if futures[i], err = b.JS.PublishAsync(jobsPrefix+string(j.Kind), data, jetstream.WithMsgID(j.MsgID())); err != nil {
			errs[i] = fmt.Errorf("publish job %s: %w", j.MsgID(), err)
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[i] = fmt.Errorf("publish job %s: %w", jobs[i].MsgID(), err)
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	return errs
}

// RefusedForGood reports whether a publish error can never go away by
// retrying (the message is over a size limit, or not encodable), as
// opposed to a full stream, a timeout or a lost connection.
func RefusedForGood(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, work.ErrPermanent) || errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
	}
	return strings.Contains(err.Error(), "maximum payload exceeded") || strings.Contains(err.Error(), "message size exceeds maximum")
}

// ResultBatches consumes workers' results in batches of up to max, so the
// coordinator applies many in one database transaction (one commit instead
// of one per result). Several fetch loops run at once. h returns one error
// per result, and each message is settled on its own: nil acks it, an
// ErrPermanent error terminates it with its reason logged, any other error
// redelivers it with back-off (the coordinator's effects are idempotent),
// up to ResultMaxDeliver deliveries.
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

// Signer vouches for the results a worker publishes: the enclave key of a
// TEE worker or a prover that runs in the enclave (tee.Enclave).
type Signer interface {
	Address() common.Address
	// SignMessage signs a message digest (Result.Digest) under the
	// signer's own domain, so the signature is good for nothing else.
	SignMessage(digest common.Hash) ([]byte, error)
}

// Signer is the account that signs this bus's results (zero: none).
func (b *Bus) Signer() common.Address {
	if b.cfg.Signer == nil {
		return common.Address{}
	}
	return b.cfg.Signer.Address()
}

// sign signs r with the bus's signer, if it has one, and returns its
// JetStream dedupe id (computed from the same digest).
func (b *Bus) sign(r *work.Result) (msgID string, err error) {
	if b.cfg.Signer == nil {
		r.Signer, r.Signature = common.Address{}, nil
		return r.MsgID(r.Digest()), nil
	}
	r.Signer = b.cfg.Signer.Address()
	d := r.Digest()
	sig, err := b.cfg.Signer.SignMessage(d)
	if err != nil {
		return "", fmt.Errorf("sign result %s: %w", r.JobID, err)
	}
	r.Signature = sig
	return r.MsgID(d), nil
}
