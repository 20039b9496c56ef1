// Package bus is vsc's NATS JetStream layer: the work-queue streams that
// carry verification jobs to workers and their results back to the
// coordinator, and the object store that holds ciphertext blobs and proofs.
//
// Delivery is at least once: a job is acked only after its result is
// published (with a Nats-Msg-Id, so a redelivered job's result is deduped by
// the server), a handler error naks the job with back-off, and a job that
// reaches MaxDeliver is terminated and turned into a failed Result, so no job
// is ever silently dropped (a work-queue message that hits MaxDeliver would
// otherwise sit in the stream forever).
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/internal/submission"
)

// Stream, subject and bucket names.
const (
	JobsStream    = "VSC_JOBS"
	ResultsStream = "VSC_RESULTS"
	BlobBucket    = "blobs"
	ProofBucket   = "proofs"
	jobsPrefix    = "vsc.jobs."
	resultsPrefix = "vsc.results."
)

// Kinds of verification jobs.
var Kinds = []string{"tee", "zk", "optimistic"}

// Job is one unit of verification work.
type Job struct {
	ID           string                `json:"id"`
	Kind         string                `json:"kind"`
	ChainID      uint64                `json:"chain_id"`
	SubmissionID common.Hash           `json:"submission_id"`
	Submission   submission.Submission `json:"submission"`
	Signature    hexutil.Bytes         `json:"signature"`
	WrappedKey   hexutil.Bytes         `json:"wrapped_key"`
	Chunk        int                   `json:"chunk,omitempty"`
	Chunks       int                   `json:"chunks,omitempty"`
	ChunkSize    int                   `json:"chunk_size,omitempty"`
}

// MsgID is the job's JetStream dedupe id.
func (j *Job) MsgID() string { return fmt.Sprintf("%s/%d", j.ID, j.Chunk) }

// Result is a worker's answer to a job.
type Result struct {
	JobID        string          `json:"job_id"`
	Kind         string          `json:"kind"`
	SubmissionID common.Hash     `json:"submission_id"`
	Chunk        int             `json:"chunk,omitempty"`
	OK           bool            `json:"ok"`
	Rejected     bool            `json:"rejected,omitempty"`
	Overturned   bool            `json:"overturned,omitempty"` // with Rejected: an optimistic claim lost a dispute
	Reason       string          `json:"reason,omitempty"`
	Evidence     json.RawMessage `json:"evidence,omitempty"`
	Worker       string          `json:"worker,omitempty"`
}

// Config tunes delivery.
type Config struct {
	AckWait     time.Duration // how long a worker may hold a job between progress beats
	MaxDeliver  int           // deliveries before a job is dead-lettered
	Backoff     time.Duration // first redelivery delay after a handler error (doubles)
	Concurrency int           // handlers run at once per Work call (CPU-bound work: default one per core)
	// IOConcurrency is for consumers whose handlers wait on I/O (the
	// coordinator's results, members' vote requests): default 64.
	IOConcurrency int
	Replicas      int
	// BatchLinger is how long a batch consumer (TEE jobs, vote requests)
	// waits after a batch's first message for more: larger batches (one
	// attestation, one vote signature for all) for at most this much latency.
	BatchLinger time.Duration
}

// DefaultConfig is used when a field is zero.
var DefaultConfig = Config{AckWait: 10 * time.Second, MaxDeliver: 5, Backoff: 250 * time.Millisecond, Replicas: 1,
	BatchLinger: 10 * time.Millisecond}

// Bus is a connection to NATS with JetStream.
type Bus struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	buckets map[string]jetstream.ObjectStore
	blobs   jetstream.Stream // VSC_BLOBS, once ensured
}

// Connect dials a NATS server at url.
func Connect(url string, cfg Config, log *slog.Logger) (*Bus, error) {
	nc, err := nats.Connect(url, nats.Name("vsc"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w (set NATS_URL, or run `vscd devnet`, which embeds one)", url, err)
	}
	return newBus(nc, cfg, log)
}

// ConnectInProcess connects to an embedded server without a socket.
func ConnectInProcess(srv *server.Server, cfg Config, log *slog.Logger) (*Bus, error) {
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("vsc"))
	if err != nil {
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	return newBus(nc, cfg, log)
}

func newBus(nc *nats.Conn, cfg Config, log *slog.Logger) (*Bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	d := DefaultConfig
	if cfg.AckWait == 0 {
		cfg.AckWait = d.AckWait
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = d.MaxDeliver
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = d.Backoff
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = runtime.GOMAXPROCS(0)
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = d.Replicas
	}
	if cfg.IOConcurrency == 0 {
		cfg.IOConcurrency = 64
	}
	if cfg.BatchLinger == 0 {
		cfg.BatchLinger = d.BatchLinger
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{NC: nc, JS: js, cfg: cfg, log: log, buckets: map[string]jetstream.ObjectStore{}}, nil
}

// Close drains the connection.
func (b *Bus) Close() {
	if b != nil && b.NC != nil {
		_ = b.NC.Drain()
	}
}

// Ensure creates (or updates) the streams, consumers and buckets.
func (b *Bus) Ensure(ctx context.Context) error {
	for _, sc := range []jetstream.StreamConfig{
		{Name: JobsStream, Subjects: []string{jobsPrefix + ">"}},
		{Name: ResultsStream, Subjects: []string{resultsPrefix + ">"}},
	} {
		sc.Retention = jetstream.WorkQueuePolicy
		sc.Storage = jetstream.FileStorage
		sc.Duplicates = 10 * time.Minute
		sc.Replicas = b.cfg.Replicas
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	for _, k := range Kinds {
		if _, err := b.consumer(ctx, JobsStream, "jobs-"+k, jobsPrefix+k); err != nil {
			return err
		}
	}
	if _, err := b.consumer(ctx, ResultsStream, "coordinator", resultsPrefix+">"); err != nil {
		return err
	}
	if err := b.EnsureVotes(ctx); err != nil {
		return err
	}
	if _, err := b.blobStream(ctx); err != nil {
		return err
	}
	for _, name := range []string{BlobBucket, ProofBucket} {
		if _, err := b.bucket(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bus) consumer(ctx context.Context, stream, durable, filter string) (jetstream.Consumer, error) {
	c, err := b.JS.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    -1, // we count deliveries ourselves and Term at cfg.MaxDeliver
		MaxAckPending: 4096,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", durable, stream, err)
	}
	return c, nil
}

func (b *Bus) bucket(ctx context.Context, name string) (jetstream.ObjectStore, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if os, ok := b.buckets[name]; ok {
		return os, nil
	}
	os, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: name, Storage: jetstream.FileStorage, Replicas: b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", name, err)
	}
	b.buckets[name] = os
	return os, nil
}

// ErrNotFound is returned for a missing object.
var ErrNotFound = errors.New("object not found")

// PutObject stores data under name in bucket (chunked by the object store).
func (b *Bus) PutObject(ctx context.Context, bucket, name string, data []byte) error {
	os, err := b.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	if _, err := os.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, name, err)
	}
	return nil
}

// GetObject reads an object.
func (b *Bus) GetObject(ctx context.Context, bucket, name string) ([]byte, error) {
	os, err := b.bucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	data, err := os.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", bucket, name, err)
	}
	return data, nil
}

// hasObject reports whether an object exists.
func (b *Bus) hasObject(ctx context.Context, bucket, name string) (bool, error) {
	os, err := b.bucket(ctx, bucket)
	if err != nil {
		return false, err
	}
	_, err = os.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	return err == nil, err
}

// deleteObject removes an object (no error if absent).
func (b *Bus) deleteObject(ctx context.Context, bucket, name string) error {
	os, err := b.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	if err := os.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return err
	}
	return nil
}

// Ciphertext blobs up to SmallBlob bytes are one message each of the
// VSC_BLOBS stream (subject vsc.blob.<data hash>, one message per subject),
// read back with a single direct get; larger ones go to the "blobs" object
// store in chunks. Readers look in the stream first, then the object store.
const (
	BlobStream = "VSC_BLOBS"
	blobPrefix = "vsc.blob."
	SmallBlob  = 256 << 10
)

func (b *Bus) blobStream(ctx context.Context) (jetstream.Stream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.blobs != nil {
		return b.blobs, nil
	}
	st, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: BlobStream, Subjects: []string{blobPrefix + ">"}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, MaxMsgsPerSubject: 1, AllowDirect: true, Replicas: b.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", BlobStream, err)
	}
	b.blobs = st
	return st, nil
}

// PutBlob stores a ciphertext blob under its data hash.
func (b *Bus) PutBlob(ctx context.Context, dataHash common.Hash, data []byte) error {
	if len(data) > SmallBlob {
		return b.PutObject(ctx, BlobBucket, dataHash.Hex(), data)
	}
	if _, err := b.JS.Publish(ctx, blobPrefix+dataHash.Hex(), data); err != nil {
		return fmt.Errorf("put blob %s: %w", dataHash.Hex(), err)
	}
	return nil
}

// smallBlob reads a blob from VSC_BLOBS (nil, nil if it is not there).
func (b *Bus) smallBlob(ctx context.Context, dataHash common.Hash) ([]byte, error) {
	st, err := b.blobStream(ctx)
	if err != nil {
		return nil, err
	}
	m, err := st.GetLastMsgForSubject(ctx, blobPrefix+dataHash.Hex())
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", dataHash.Hex(), err)
	}
	if m.Data == nil {
		return []byte{}, nil
	}
	return m.Data, nil
}

// GetBlob reads the ciphertext blob with that data hash.
func (b *Bus) GetBlob(ctx context.Context, dataHash common.Hash) ([]byte, error) {
	if data, err := b.smallBlob(ctx, dataHash); err != nil || data != nil {
		return data, err
	}
	return b.GetObject(ctx, BlobBucket, dataHash.Hex())
}

// HasBlob reports whether a blob with that data hash is stored.
func (b *Bus) HasBlob(ctx context.Context, dataHash common.Hash) (bool, error) {
	if data, err := b.smallBlob(ctx, dataHash); err != nil || data != nil {
		return data != nil, err
	}
	return b.hasObject(ctx, BlobBucket, dataHash.Hex())
}

// DeleteBlob removes a blob (no error if absent).
func (b *Bus) DeleteBlob(ctx context.Context, dataHash common.Hash) error {
	st, err := b.blobStream(ctx)
	if err != nil {
		return err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(blobPrefix+dataHash.Hex())); err != nil {
		return fmt.Errorf("delete blob %s: %w", dataHash.Hex(), err)
	}
	return b.deleteObject(ctx, BlobBucket, dataHash.Hex())
}

// BlobCount counts the stored blobs.
func (b *Bus) BlobCount(ctx context.Context) (int, error) {
	st, err := b.blobStream(ctx)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	n := int(info.State.Msgs)
	os, err := b.bucket(ctx, BlobBucket)
	if err != nil {
		return 0, err
	}
	list, err := os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		err = nil
	}
	return n + len(list), err
}

// PublishJob publishes a job; the server dedupes on MsgID.
func (b *Bus) PublishJob(ctx context.Context, j *Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if _, err := b.JS.Publish(ctx, jobsPrefix+j.Kind, data, jetstream.WithMsgID(j.MsgID())); err != nil {
		return fmt.Errorf("publish job %s: %w", j.MsgID(), err)
	}
	return nil
}

// PublishResult publishes a result; the server dedupes on job id and chunk.
func (b *Bus) PublishResult(ctx context.Context, r *Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s/%d", r.JobID, r.Chunk)
	if _, err := b.JS.Publish(ctx, resultsPrefix+r.Kind, data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish result %s: %w", id, err)
	}
	return nil
}

// publishResultAsync publishes a result without waiting for its ack.
func (b *Bus) publishResultAsync(r *Result) (jetstream.PubAckFuture, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%s/%d", r.JobID, r.Chunk)
	f, err := b.JS.PublishAsync(resultsPrefix+r.Kind, data, jetstream.WithMsgID(id))
	if err != nil {
		return nil, fmt.Errorf("publish result %s: %w", id, err)
	}
	return f, nil
}

// Handler handles one job. An error is transient: the job is redelivered
// with back-off up to MaxDeliver times, then dead-lettered as a failed Result.
type Handler func(ctx context.Context, j Job) (Result, error)

// Work consumes jobs of kind until ctx ends, then waits for in-flight
// handlers to finish (drain) and returns.
func (b *Bus) Work(ctx context.Context, kind string, h Handler) error {
	return b.WorkN(ctx, kind, b.cfg.Concurrency, h)
}

// WorkN is Work with n handlers at once (1 for work that already uses every
// core, such as a Groth16 proof).
func (b *Bus) WorkN(ctx context.Context, kind string, n int, h Handler) error {
	cons, err := b.jobConsumer(ctx, kind)
	if err != nil {
		return err
	}
	return b.consume(ctx, cons, max(n, 1), func(hctx context.Context, msg jetstream.Msg) (bool, error) {
		var j Job
		if err := json.Unmarshal(msg.Data(), &j); err != nil {
			b.log.Error("undecodable job terminated", "subject", msg.Subject(), "err", err)
			return true, msg.TermWithReason("undecodable")
		}
		res, herr := h(hctx, j)
		if herr != nil {
			return false, herr
		}
		res.JobID, res.Kind, res.SubmissionID, res.Chunk = j.ID, j.Kind, j.SubmissionID, j.Chunk
		if err := b.PublishResult(hctx, &res); err != nil {
			return false, err
		}
		return true, nil
	}, b.deadLetter)
}

// BatchHandler handles a batch of jobs: for each job a result, or a
// transient error (the job is redelivered, as with Handler).
type BatchHandler func(ctx context.Context, jobs []Job) ([]Result, []error)

// WorkBatches consumes jobs of kind in batches of up to max messages, with
// loops fetch loops at once, for work that is cheaper done together (an
// enclave attests a batch of results once). Each job is settled on its own:
// its result published and the job acked, or redelivered with back-off and
// dead-lettered after MaxDeliver, as with Work.
func (b *Bus) WorkBatches(ctx context.Context, kind string, loops, max int, h BatchHandler) error {
	cons, err := b.jobConsumer(ctx, kind)
	if err != nil {
		return err
	}
	return b.batches(ctx, cons, loops, max, b.cfg.BatchLinger, func(hctx context.Context, msgs []jetstream.Msg) ([]jetstream.Msg, error) {
		stop := b.beat(msgs)
		defer stop()
		var jobs []Job
		var jmsgs []jetstream.Msg
		for _, msg := range msgs {
			var j Job
			if err := json.Unmarshal(msg.Data(), &j); err != nil {
				b.log.Error("undecodable job terminated", "subject", msg.Subject(), "err", err)
				_ = msg.TermWithReason("undecodable")
				continue
			}
			jobs, jmsgs = append(jobs, j), append(jmsgs, msg)
		}
		if len(jobs) == 0 {
			return nil, nil
		}
		results, errs := h(hctx, jobs)
		futures := make([]jetstream.PubAckFuture, len(jobs))
		for i, j := range jobs {
			if errs[i] != nil {
				continue
			}
			r := &results[i]
			r.JobID, r.Kind, r.SubmissionID, r.Chunk = j.ID, j.Kind, j.SubmissionID, j.Chunk
			futures[i], errs[i] = b.publishResultAsync(r)
		}
		for i, f := range futures {
			if f == nil {
				continue
			}
			select {
			case <-f.Ok():
			case err := <-f.Err():
				errs[i] = fmt.Errorf("publish result: %w", err)
			case <-hctx.Done():
				errs[i] = hctx.Err()
			}
		}
		for i, msg := range jmsgs {
			b.settle(hctx, msg, errs[i] == nil, errs[i], b.deadLetter)
		}
		return nil, nil
	})
}

// jobConsumer returns the work-queue consumer of kind.
func (b *Bus) jobConsumer(ctx context.Context, kind string) (jetstream.Consumer, error) {
	cons, err := b.JS.Consumer(ctx, JobsStream, "jobs-"+kind)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		// a worker may start before the coordinator: the layout is idempotent
		if err = b.Ensure(ctx); err == nil {
			cons, err = b.JS.Consumer(ctx, JobsStream, "jobs-"+kind)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("consumer for %s jobs: %w (did the coordinator run Ensure?)", kind, err)
	}
	return cons, nil
}

// deadLetter publishes a failed Result for a job that ran out of deliveries.
func (b *Bus) deadLetter(msg jetstream.Msg, lastErr error) {
	var j Job
	if json.Unmarshal(msg.Data(), &j) != nil {
		return
	}
	res := Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk,
		Reason: fmt.Sprintf("%s job failed after %d attempts: %v", j.Kind, b.cfg.MaxDeliver, lastErr)}
	if err := b.PublishResult(context.Background(), &res); err != nil {
		b.log.Error("dead-letter result not published", "job", j.ID, "err", err)
	}
}

// Results consumes workers' results until ctx ends. h returning an error
// redelivers the result later (the coordinator's effects are idempotent).
func (b *Bus) Results(ctx context.Context, h func(ctx context.Context, r Result) error) error {
	cons, err := b.JS.Consumer(ctx, ResultsStream, "coordinator")
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	return b.consume(ctx, cons, b.cfg.IOConcurrency, func(hctx context.Context, msg jetstream.Msg) (bool, error) {
		var r Result
		if err := json.Unmarshal(msg.Data(), &r); err != nil {
			b.log.Error("undecodable result terminated", "err", err)
			return true, msg.TermWithReason("undecodable")
		}
		if err := h(hctx, r); err != nil {
			return false, err
		}
		return true, nil
	}, nil)
}

// consume runs handle over the consumer's messages with cfg.Concurrency
// goroutines. handle returns done=true when the message may be acked.
func (b *Bus) consume(ctx context.Context, cons jetstream.Consumer, conc int,
	handle func(context.Context, jetstream.Msg) (bool, error),
	dead func(jetstream.Msg, error)) error {
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
				b.handleOne(msg, handle, dead)
			}
		}()
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			close(msgs)
			wg.Wait()
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		msgs <- msg
	}
}

// handleOne runs a handler with progress beats (so long jobs such as proofs
// are not redelivered while they run) and acks, naks or dead-letters.
func (b *Bus) handleOne(msg jetstream.Msg, handle func(context.Context, jetstream.Msg) (bool, error), dead func(jetstream.Msg, error)) {
	// In-flight work finishes even when the worker is asked to stop: the
	// handler's context is not the Work context (graceful drain).
	hctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := b.beat([]jetstream.Msg{msg})
	done, err := handle(hctx, msg)
	stop()
	b.settle(hctx, msg, done, err, dead)
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

// settle acks a handled message (done, no error), or redelivers it with
// back-off, or after MaxDeliver deliveries dead-letters and terminates it.
// done with an error means the handler settled the message itself.
func (b *Bus) settle(ctx context.Context, msg jetstream.Msg, done bool, err error, dead func(jetstream.Msg, error)) {
	if done {
		if err == nil {
			if aerr := msg.DoubleAck(ctx); aerr != nil {
				b.log.Warn("ack failed; the message will be redelivered", "err", aerr)
			}
		}
		return
	}
	meta, merr := msg.Metadata()
	delivered := 1
	if merr == nil {
		delivered = int(meta.NumDelivered)
	}
	if delivered >= b.cfg.MaxDeliver {
		b.log.Error("job dead-lettered", "subject", msg.Subject(), "deliveries", delivered, "err", err)
		if dead != nil {
			dead(msg, err)
		}
		_ = msg.TermWithReason(fmt.Sprintf("max deliveries: %v", err))
		return
	}
	delay := b.cfg.Backoff << min(delivered-1, 6)
	b.log.Warn("handler failed; redelivering", "subject", msg.Subject(), "delivery", delivered, "in", delay, "err", err)
	_ = msg.NakWithDelay(delay)
}

// PublishJobs publishes jobs asynchronously and waits for every ack.
func (b *Bus) PublishJobs(ctx context.Context, jobs []*Job) error {
	futures := make([]jetstream.PubAckFuture, 0, len(jobs))
	for _, j := range jobs {
		data, err := json.Marshal(j)
		if err != nil {
			return err
		}
		f, err := b.JS.PublishAsync(jobsPrefix+j.Kind, data, jetstream.WithMsgID(j.MsgID()))
		if err != nil {
			return fmt.Errorf("publish job %s: %w", j.MsgID(), err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish job: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
