package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/idao"
)

// Stream, subject, consumer and bucket names.
const (
	JobsStream      = "VSC_JOBS"
	ResultsStream   = "VSC_RESULTS"
	BlobBucket      = "blobs"
	ProofBucket     = "proofs"
	jobsPrefix      = "vsc.jobs."
	resultsPrefix   = "vsc.results."
	resultsConsumer = "coordinator"
)

// jobsConsumer is the durable work-queue consumer of a job kind.
func jobsConsumer(kind idao.Kind) string { return "jobs-" + string(kind) }

// Limits of the streams. A publish over MaxMsgSize or into a full stream
// (MaxBytes; streams discard new messages, never old ones) is refused by
// the server; the relay and the workers then retry or set the message
// aside. MaxBytes is reserved on the server's disk when a stream is made.
const (
	// MaxPayload is the largest NATS message the embedded server (and the
	// server configuration `vscd nats config` writes) accepts.
	MaxPayload = 8 << 20
	// MaxJobMsg bounds one job: a signed submission and its wrapped key.
	MaxJobMsg = 64 << 10
	// MaxResultMsg bounds one result: TEE evidence, or a member's signed
	// batch of up to 256 votes.
	MaxResultMsg = 1 << 20
	// MaxVoteRequestMsg bounds one vote-request message (a batch of
	// requests, or one request with many zk chunk references).
	MaxVoteRequestMsg = 4 << 20
	// MaxProofMsg bounds one stored chunk proof (a Groth16 proof and its
	// public inputs are a few KB).
	MaxProofMsg = 256 << 10
	// JobsStreamBytes, ResultsStreamBytes, VotesStreamBytes and
	// ProofStreamBytes are the streams' MaxBytes.
	JobsStreamBytes    = 256 << 20
	ResultsStreamBytes = 256 << 20
	VotesStreamBytes   = 512 << 20
	ProofStreamBytes   = 256 << 20
	// DefaultBlobBytes is the default room for ciphertext blobs
	// (Config.BlobBytes): a quarter for small blobs (VSC_BLOBS), the rest
	// for the blobs object store.
	DefaultBlobBytes = 2 << 30
)

// StoreBytes is the disk the streams reserve when the blobs get blobBytes:
// the JetStream store a server must allow (max_file_store).
func StoreBytes(blobBytes int64) int64 {
	return JobsStreamBytes + ResultsStreamBytes + VotesStreamBytes + ProofStreamBytes + AnswersStreamBytes + blobBytes
}

// Delivery limits of the consumers that are not job queues (those use
// Config.MaxDeliver).
const (
	// ResultMaxDeliver bounds deliveries of one result to the coordinator:
	// a result it could not apply (a database or chain hiccup) is retried
	// with back-off, then terminated with a logged reason.
	ResultMaxDeliver = 10
	// VoteMaxDeliver bounds deliveries of one vote-request message to a
	// member: a member that could not check the evidence (a proof fetch,
	// chain lag) retries with back-off and then abstains.
	VoteMaxDeliver = 8
	// MaxBackoff caps the redelivery delay, which doubles from
	// Config.Backoff.
	MaxBackoff = 30 * time.Second
)

// Ensure creates (or updates) the streams, consumers and buckets. Only the
// coordinator may (its NATS user is the only one allowed); the other roles
// wait for them to exist.
func (b *Bus) Ensure(ctx context.Context) error {
	blobBytes := b.cfg.BlobBytes
	for _, sc := range []jetstream.StreamConfig{
		{Name: JobsStream, Subjects: []string{jobsPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
			MaxBytes: JobsStreamBytes, MaxMsgSize: MaxJobMsg, Duplicates: 10 * time.Minute},
		{Name: ResultsStream, Subjects: []string{resultsPrefix + ">"}, Retention: jetstream.WorkQueuePolicy,
			MaxBytes: ResultsStreamBytes, MaxMsgSize: MaxResultMsg, Duplicates: 10 * time.Minute},
		{Name: VotesStream, Subjects: []string{votesPrefix + ">"}, Retention: jetstream.LimitsPolicy, MaxAge: voteRetention,
			MaxBytes: VotesStreamBytes, MaxMsgSize: MaxVoteRequestMsg, Duplicates: 10 * time.Minute},
		{Name: BlobStream, Subjects: []string{blobPrefix + ">"}, Retention: jetstream.LimitsPolicy, MaxMsgsPerSubject: 1,
			AllowDirect: true, MaxBytes: blobBytes / 4, MaxMsgSize: SmallBlob + 4<<10},
		{Name: ProofStream, Subjects: []string{proofPrefix + ">"}, Retention: jetstream.LimitsPolicy, MaxMsgsPerSubject: 1,
			AllowDirect: true, MaxBytes: ProofStreamBytes, MaxMsgSize: MaxProofMsg},
		answersStream(),
	} {
		sc.Storage = jetstream.FileStorage
		sc.Discard = jetstream.DiscardNew
		sc.Replicas = b.cfg.Replicas
		st, err := b.JS.CreateOrUpdateStream(ctx, sc)
		if err != nil {
			return b.explain(fmt.Errorf("stream %s: %w", sc.Name, err))
		}
		b.mu.Lock()
		b.streams[sc.Name] = st
		b.mu.Unlock()
	}
	for _, k := range idao.Kinds() {
		// the bus terminates a job at MaxDeliver itself (with a dead
		// letter); the server's limit is the backstop for a worker that
		// dies while handling it
		if err := b.consumer(ctx, JobsStream, jobsConsumer(k), jobsPrefix+string(k), b.cfg.MaxDeliver+2); err != nil {
			return err
		}
	}
	if err := b.consumer(ctx, ResultsStream, resultsConsumer, resultsPrefix+">", ResultMaxDeliver); err != nil {
		return err
	}
	if err := b.consumer(ctx, AnswersStream, answersConsumer, answersPrefix+">", ResultMaxDeliver); err != nil {
		return err
	}
	os, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: BlobBucket, Storage: jetstream.FileStorage, Replicas: b.cfg.Replicas, MaxBytes: blobBytes - blobBytes/4,
	})
	if err != nil {
		return fmt.Errorf("object store %s: %w", BlobBucket, err)
	}
	b.mu.Lock()
	b.buckets[BlobBucket] = os
	b.mu.Unlock()
	return nil
}

func (b *Bus) consumer(ctx context.Context, stream, durable, filter string, maxDeliver int) error {
	_, err := b.JS.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: 4096,
		Replicas:      b.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", durable, stream, err)
	}
	return nil
}

// stream returns a stream the coordinator made (looked up once).
func (b *Bus) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	b.mu.Lock()
	st, ok := b.streams[name]
	b.mu.Unlock()
	if ok {
		return st, nil
	}
	rctx, cancel := b.req(ctx)
	defer cancel()
	st, err := b.JS.Stream(rctx, name)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w (the coordinator creates it: is it running?)", name, err)
	}
	b.mu.Lock()
	b.streams[name] = st
	b.mu.Unlock()
	return st, nil
}

// waitFor retries lookup, with back-off, until it succeeds or ctx ends: a
// worker or member may start before the coordinator has made the streams.
func (b *Bus) waitFor(ctx context.Context, what string, lookup func() error) error {
	delay := 100 * time.Millisecond
	for logged := false; ; {
		err := lookup()
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return b.explain(err)
		}
		if !logged {
			b.log.Info("waiting for the coordinator to create "+what, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (the coordinator creates it: is it running?)", what, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
