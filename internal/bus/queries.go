package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats.go/jetstream"
)

// Data-service jobs go to one provider each: the coordinator publishes a
// job to vsc.jobs.query.<provider> (in VSC_JOBS, work-queue retention),
// the provider reads its subject with a durable consumer it creates itself
// (its NATS user may create that one consumer), and publishes the answer
// to vsc.answers.<provider> (VSC_ANSWERS), which the coordinator consumes.
const (
	AnswersStream   = "VSC_ANSWERS"
	queryPrefix     = jobsPrefix + "query."
	answersPrefix   = "vsc.answers."
	answersConsumer = "coordinator-answers"
	// MaxAnswerMsg bounds one answer: an encrypted result of up to a few
	// thousand rows, the signed request, the enclave's proof and attestation.
	MaxAnswerMsg = 2 << 20
	// AnswersStreamBytes is VSC_ANSWERS's MaxBytes.
	AnswersStreamBytes = 256 << 20
	// QueryMaxDeliver bounds deliveries of one query job to its provider
	// (a provider that crashed mid-job gets it again).
	QueryMaxDeliver = 8
)

// providerToken is a provider's address as a subject token.
func providerToken(p common.Address) string { return strings.ToLower(p.Hex()) }

// QueryConsumer is the name of a provider's durable job consumer.
func QueryConsumer(p common.Address) string { return "query-" + providerToken(p) }

// QuerySubject is where the jobs of provider p are published.
func QuerySubject(p common.Address) string { return queryPrefix + providerToken(p) }

// answersStream is VSC_ANSWERS's configuration (Ensure creates it).
func answersStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: AnswersStream, Subjects: []string{answersPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
		MaxBytes: AnswersStreamBytes, MaxMsgSize: MaxAnswerMsg, Duplicates: 10 * time.Minute}
}

// PublishQueryJob publishes a data-service job (JSON) to its provider,
// deduped by msgID (the job id).
func (b *Bus) PublishQueryJob(ctx context.Context, provider common.Address, msgID string, data []byte) error {
	if _, err := b.publish(ctx, QuerySubject(provider), data, jetstream.WithMsgID(msgID)); err != nil {
		return b.explain(fmt.Errorf("publish query job %s: %w", msgID, err))
	}
	return nil
}

// QueryJobs delivers provider's jobs until ctx ends to loops handlers at
// once, in batches of up to max (one enclave signature for each batch's
// answers; a handler waits for its batch's settlement, so several loops
// keep answering while a block is being made). h returns one
// error per message: nil acks it (the job is answered and its settlement
// decided), any other error redelivers it with back-off, up to
// QueryMaxDeliver deliveries; a job whose provider died holding it comes
// back after AckWait.
func (b *Bus) QueryJobs(ctx context.Context, provider common.Address, loops, max int, h func(ctx context.Context, msgs [][]byte) []error) error {
	err := b.waitFor(ctx, "the jobs stream", func() error { _, err := b.stream(ctx, JobsStream); return err })
	if err != nil {
		return err
	}
	cons, err := b.JS.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
		Durable:       QueryConsumer(provider),
		FilterSubject: QuerySubject(provider),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    QueryMaxDeliver,
		MaxAckPending: 2 * loops * max,
	})
	if err != nil {
		return b.explain(fmt.Errorf("query-job consumer for %s: %w", provider.Hex(), err))
	}
	return b.batches(ctx, cons, loops, max, b.cfg.BatchLinger, QueryMaxDeliver, nil, rawBatch(h))
}

func rawBatch(h func(ctx context.Context, msgs [][]byte) []error) func(ctx context.Context, msgs []jetstream.Msg) []error {
	return func(ctx context.Context, msgs []jetstream.Msg) []error {
		data := make([][]byte, len(msgs))
		for i, m := range msgs {
			data[i] = m.Data()
		}
		return h(ctx, data)
	}
}

// PublishAnswer publishes a provider's answer (JSON) to the coordinator,
// deduped by msgID (the job id and the result hash).
func (b *Bus) PublishAnswer(ctx context.Context, provider common.Address, msgID string, data []byte) error {
	if _, err := b.publish(ctx, answersPrefix+providerToken(provider), data, jetstream.WithMsgID(msgID)); err != nil {
		return b.explain(fmt.Errorf("publish answer %s: %w", msgID, err))
	}
	return nil
}

// Answers delivers every provider's answers to the coordinator until ctx
// ends, in batches of up to max, each with the provider whose subject it
// was published on (a provider's NATS user may publish only on its own);
// h settles each message as QueryJobs' does.
func (b *Bus) Answers(ctx context.Context, max int, h func(ctx context.Context, providers []common.Address, msgs [][]byte) []error) error {
	cons, err := b.JS.Consumer(ctx, AnswersStream, answersConsumer)
	if err != nil {
		return b.explain(fmt.Errorf("answers consumer: %w", err))
	}
	return b.batches(ctx, cons, 2, max, b.cfg.BatchLinger, ResultMaxDeliver, nil, func(ctx context.Context, msgs []jetstream.Msg) []error {
		data := make([][]byte, len(msgs))
		provs := make([]common.Address, len(msgs))
		for i, m := range msgs {
			data[i] = m.Data()
			if t := strings.TrimPrefix(m.Subject(), answersPrefix); common.IsHexAddress(t) {
				provs[i] = common.HexToAddress(t)
			}
		}
		return h(ctx, provs, data)
	})
}
