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

	"github.com/vsc-labs/vsc/internal/work"
)

// PublishJob publishes a job; the server dedupes on MsgID.
func (b *Bus) PublishJob(ctx context.Context, j *work.Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if _, err := b.publish(ctx, jobsPrefix+string(j.Kind), data, jetstream.WithMsgID(j.MsgID())); err != nil {
		return fmt.Errorf("publish job %s: %w", j.MsgID(), err)
	}
	return nil
}

// PublishResult signs (with the bus's Signer) and publishes a result.
func (b *Bus) PublishResult(ctx context.Context, r *work.Result) error {
	m, err := b.resultMessage(r)
	if err != nil {
		return err
	}
	if _, err := b.publish(ctx, m.subject, m.data, jetstream.WithMsgID(m.id)); err != nil {
		return fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
	}
	return nil
}

// resultMsg is a signed result ready to publish.
type resultMsg struct {
	subject, id string
	data        []byte
}

// resultMessage signs r and encodes it with its subject and dedupe id.
func (b *Bus) resultMessage(r *work.Result) (resultMsg, error) {
	id, err := b.sign(r)
	if err != nil {
		return resultMsg{}, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return resultMsg{}, err
	}
	return resultMsg{subject: resultsPrefix + string(r.Kind), id: id, data: data}, nil
}

// publishResultAsync signs and publishes a result without waiting for its ack.
func (b *Bus) publishResultAsync(r *work.Result) (jetstream.PubAckFuture, resultMsg, error) {
	m, err := b.resultMessage(r)
	if err != nil {
		return nil, m, err
	}
	f, err := b.JS.PublishAsync(m.subject, m.data, jetstream.WithMsgID(m.id))
	if err != nil {
		return nil, m, fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
	}
	return f, m, nil
}

// publishResultPatiently publishes a result message, trying again with
// back-off for up to Config.ResultPatience while the failure is one that passes
// (a timeout, no stream leader, a lost connection); the same message id
// each time, so the stream keeps one copy.
func (b *Bus) publishResultPatiently(ctx context.Context, r *work.Result, m resultMsg, first error) error {
	err, delay := first, 250*time.Millisecond
	for deadline := time.Now().Add(b.cfg.ResultPatience); ; {
		if err == nil {
			return nil
		}
		if RefusedForGood(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
		}
		b.log.Warn("result not published; publishing it again", "job", r.JobID, "chunk", r.Chunk, "in", delay, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 4*time.Second)
		_, err = b.publish(ctx, m.subject, m.data, jetstream.WithMsgID(m.id))
	}
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
