// Package bus is vsc's NATS JetStream layer: the work-queue streams that
// carry verification jobs to workers and their results back to the
// coordinator, the vote requests members read, and the blobs and proofs.
//
// Delivery is at least once: a job is acked only after its result is
// published, a handler error naks the job with back-off, and a job that
// reaches MaxDeliver is terminated and turned into a failed Result, so no job
// is ever silently dropped (a work-queue message that hits MaxDeliver would
// otherwise sit in the stream forever). Every consumer settles each message
// on its own: a message that can never be handled (ErrPermanent) is
// terminated with a logged reason at once, never redelivered in a loop.
//
// Every role connects as its own NATS user (auth.go) whose permissions name
// exactly the subjects it needs; only the coordinator creates the streams.
// Even so, nothing read from the bus is believed without its signature:
// workers sign their results (Signer), members sign their votes, and the
// submission inside a job or vote request is signed by its contributor.
package bus

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/internal/submission"
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
func jobsConsumer(kind string) string { return "jobs-" + kind }

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
	return JobsStreamBytes + ResultsStreamBytes + VotesStreamBytes + ProofStreamBytes + blobBytes
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

// DecodeJob decodes a job message; a message that is not one is
// ErrPermanent.
func DecodeJob(data []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return j, Refuse("undecodable_job", fmt.Errorf("undecodable job: %w", err))
	}
	return j, nil
}

// Result is a worker's answer to a job. Workers' results are signed by the
// worker (Signer, Signature over Digest); the coordinator believes no
// result whose signer is not the key its iDAO names.
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
	Signer       common.Address  `json:"signer,omitempty"`
	Signature    hexutil.Bytes   `json:"signature,omitempty"`
}

// DecodeResult decodes a result message; a message that is not one is
// ErrPermanent.
func DecodeResult(data []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return r, Refuse("undecodable_result", fmt.Errorf("undecodable result: %w", err))
	}
	return r, nil
}

var resultDomain = []byte("vsc-bus-result-v1")

// Digest is what a worker signs for a result: every field but the
// signature, each length-prefixed, the evidence in its canonical JSON form
// (compact, as encoding/json writes it), so the digest survives the trip
// over the bus.
func (r *Result) Digest() common.Hash {
	var b bytes.Buffer
	b.Write(resultDomain)
	str := func(s []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		b.Write(n[:])
		b.Write(s)
	}
	str([]byte(r.JobID))
	str([]byte(r.Kind))
	b.Write(r.SubmissionID[:])
	var chunk [8]byte
	binary.BigEndian.PutUint64(chunk[:], uint64(int64(r.Chunk)))
	b.Write(chunk[:])
	var flags byte
	for i, f := range []bool{r.OK, r.Rejected, r.Overturned} {
		if f {
			flags |= 1 << i
		}
	}
	b.WriteByte(flags)
	str([]byte(r.Reason))
	str(canonicalJSON(r.Evidence))
	str([]byte(r.Worker))
	b.Write(r.Signer[:])
	return crypto.Keccak256Hash(b.Bytes())
}

// canonicalJSON is raw as encoding/json re-encodes a RawMessage (compact,
// HTML-escaped); raw itself when it is not JSON.
func canonicalJSON(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	if alreadyCanonical(raw) {
		return raw // what a worker signs and what arrives over the bus: no copy
	}
	var c, h bytes.Buffer
	if json.Compact(&c, raw) != nil {
		return raw
	}
	json.HTMLEscape(&h, c.Bytes())
	return h.Bytes()
}

// alreadyCanonical reports whether json.Compact and json.HTMLEscape would
// leave raw as it is: no whitespace outside strings, nothing HTMLEscape
// rewrites. (For input that is not JSON the answer does not matter:
// canonicalJSON returns such input unchanged either way.)
func alreadyCanonical(raw []byte) bool {
	inString, escaped := false, false
	for i, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return false // U+2028, U+2029
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}

// msgID is a result's JetStream dedupe id: a redelivered job's identical
// result is dropped, and no publisher can squat another's id (it holds the
// content's digest).
func (r *Result) msgID() string { return r.msgIDOf(r.Digest()) }

// msgIDOf is msgID for a result whose digest d is in hand.
func (r *Result) msgIDOf(d common.Hash) string {
	return fmt.Sprintf("%s/%d/%x", r.JobID, r.Chunk, d[:8])
}

// Signer vouches for the results a worker publishes: the enclave key of a
// TEE worker or a prover that runs in the enclave (tee.Enclave).
type Signer interface {
	Address() common.Address
	// SignMessage signs a message digest (Result.Digest) under the
	// signer's own domain, so the signature is good for nothing else.
	SignMessage(digest common.Hash) ([]byte, error)
}

// ErrPermanent marks a message that can never be handled (undecodable,
// forged, refused): it is terminated with its reason at once.
var ErrPermanent = errors.New("message refused")

// Permanent marks err as ErrPermanent (nil stays nil).
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanent{error: err}
}

// Refuse is Permanent with a stable code (such as "unsigned_result"),
// logged with the message's termination (attribute "code").
func Refuse(code string, err error) error {
	if err == nil {
		return nil
	}
	return &permanent{error: err, code: code}
}

// RefusalCode is the code Refuse gave err ("" if none).
func RefusalCode(err error) string {
	var p *permanent
	if errors.As(err, &p) {
		return p.code
	}
	return ""
}

type permanent struct {
	error
	code string
}

func (p *permanent) Unwrap() []error { return []error{p.error, ErrPermanent} }

// Config tunes delivery.
type Config struct {
	AckWait     time.Duration // how long a worker may hold a job between progress beats
	MaxDeliver  int           // deliveries before a job is dead-lettered
	Backoff     time.Duration // first redelivery delay after a handler error (doubles, up to MaxBackoff)
	Concurrency int           // handlers run at once per Work call (CPU-bound work: default one per core)
	// IOConcurrency is for consumers whose handlers wait on I/O (the
	// coordinator's results, members' vote requests): default 64.
	IOConcurrency int
	Replicas      int
	// BatchLinger is how long a batch consumer (TEE jobs, vote requests)
	// waits after a batch's first message for more: larger batches (one
	// attestation, one vote signature for all) for at most this much latency.
	BatchLinger time.Duration
	// BlobBytes is the room Ensure gives ciphertext blobs (default
	// DefaultBlobBytes).
	BlobBytes int64
	// Signer signs every result this bus publishes (workers).
	Signer Signer
}

// DefaultConfig is used when a field is zero.
var DefaultConfig = Config{AckWait: 10 * time.Second, MaxDeliver: 5, Backoff: 250 * time.Millisecond, Replicas: 1,
	BatchLinger: 10 * time.Millisecond, BlobBytes: DefaultBlobBytes}

// Bus is a connection to NATS with JetStream.
type Bus struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	streams map[string]jetstream.Stream
	buckets map[string]jetstream.ObjectStore
	refused *refusals // the server's last permissions violation, for errors that only time out
}

// refusals keeps the last permissions violation the server reported.
type refusals struct {
	mu   sync.Mutex
	last error
}

func (r *refusals) set(err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		r.mu.Lock()
		r.last = err
		r.mu.Unlock()
	}
}

// explain adds to err (a JetStream call that timed out, typically) the
// permissions violation the server reported, if any.
func (b *Bus) explain(err error) error {
	if err == nil || b.refused == nil {
		return err
	}
	b.refused.mu.Lock()
	last := b.refused.last
	b.refused.mu.Unlock()
	if last == nil {
		return err
	}
	return fmt.Errorf("%w (the NATS server refused this user: %v; check this role's --nats-creds)", err, last)
}

// ConnectOptions says how to reach a NATS server and as whom.
type ConnectOptions struct {
	URL string // one or more server URLs, comma-separated (NATS_URL)
	// Creds is a user nkey seed file (`vscd nats creds`) or a JWT .creds
	// file (nsc): --nats-creds. Empty connects without credentials, which a
	// server with authorization refuses.
	Creds string
	// CA is a PEM bundle the server's TLS certificate must chain to
	// (--nats-ca); Cert and Key a client certificate for servers that
	// verify clients (--nats-cert, --nats-key).
	CA, Cert, Key string
	Name          string // connection name the server shows
}

// Connect dials a NATS server.
func Connect(o ConnectOptions, cfg Config, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	refused := &refusals{}
	opts := []nats.Option{nats.Name(orName(o.Name)), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ErrorHandler(asyncErrors(log, refused)),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		})}
	if o.Creds != "" {
		c, err := LoadCredentials(o.Creds)
		if err != nil {
			return nil, err
		}
		copts, err := c.options()
		if err != nil {
			return nil, err
		}
		opts = append(opts, copts...)
	} else {
		log.Warn("connecting to NATS without credentials (--nats-creds): a server with authorization refuses this")
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" || o.Key != "" {
		if o.Cert == "" || o.Key == "" {
			return nil, errors.New("a NATS client certificate needs both --nats-cert and --nats-key")
		}
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w (set NATS_URL, or run `vscd devnet`, which embeds one)", o.URL, err)
	}
	// A server that is not up yet is retried in the background; one that
	// refuses these credentials closes the connection: say so now.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && nc.Status() != nats.CONNECTED; {
		if nc.IsClosed() {
			return nil, fmt.Errorf("connect to NATS at %s: %w (check --nats-creds: make a role's credentials with `vscd nats creds`)", o.URL, nc.LastError())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return newBus(nc, cfg, log, refused)
}

func orName(n string) string {
	if n == "" {
		return "vsc"
	}
	return n
}

// asyncErrors logs what the server reports out of band, such as a
// publish its permissions refused, and keeps permissions violations.
func asyncErrors(log *slog.Logger, refused *refusals) nats.ErrHandler {
	return func(_ *nats.Conn, sub *nats.Subscription, err error) {
		refused.set(err)
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		log.Error("NATS error", "subject", subject, "err", err)
	}
}

// ConnectInProcess connects to an embedded server without a socket, as the
// user creds (nil: without credentials, for a server without authorization).
func ConnectInProcess(srv *server.Server, creds *Credentials, cfg Config, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := "vsc"
	refused := &refusals{}
	opts := []nats.Option{nats.InProcessServer(srv), nats.ErrorHandler(asyncErrors(log, refused))}
	if creds != nil {
		copts, err := creds.options()
		if err != nil {
			return nil, err
		}
		opts = append(opts, copts...)
		name = "vsc-" + creds.User.Name
	}
	nc, err := nats.Connect("", append(opts, nats.Name(name))...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	return newBus(nc, cfg, log, refused)
}

func newBus(nc *nats.Conn, cfg Config, log *slog.Logger, refused *refusals) (*Bus, error) {
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
	if cfg.BlobBytes == 0 {
		cfg.BlobBytes = d.BlobBytes
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Bus{NC: nc, JS: js, cfg: cfg, log: log, streams: map[string]jetstream.Stream{}, buckets: map[string]jetstream.ObjectStore{},
		refused: refused}, nil
}

// Close drains the connection.
func (b *Bus) Close() {
	if b != nil && b.NC != nil {
		_ = b.NC.Drain()
	}
}

// TLSConfig loads a server certificate (and, with ca, the CA client
// certificates must chain to) for an embedded server's listener.
func TLSConfig(cert, key, ca string) (*tls.Config, error) {
	return server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key, CaFile: ca, Verify: ca != ""})
}

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
	for _, k := range Kinds {
		// the bus terminates a job at MaxDeliver itself (with a dead
		// letter); the server's limit is the backstop for a worker that
		// dies while handling it
		if err := b.consumer(ctx, JobsStream, jobsConsumer(k), jobsPrefix+k, b.cfg.MaxDeliver+2); err != nil {
			return err
		}
	}
	if err := b.consumer(ctx, ResultsStream, resultsConsumer, resultsPrefix+">", ResultMaxDeliver); err != nil {
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
	st, err := b.JS.Stream(ctx, name)
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

// Signer is the account that signs this bus's results (zero: none).
func (b *Bus) Signer() common.Address {
	if b.cfg.Signer == nil {
		return common.Address{}
	}
	return b.cfg.Signer.Address()
}

// sign signs r with the bus's signer, if it has one, and returns its
// JetStream dedupe id (computed from the same digest).
func (b *Bus) sign(r *Result) (msgID string, err error) {
	if b.cfg.Signer == nil {
		r.Signer, r.Signature = common.Address{}, nil
		return r.msgID(), nil
	}
	r.Signer = b.cfg.Signer.Address()
	d := r.Digest()
	sig, err := b.cfg.Signer.SignMessage(d)
	if err != nil {
		return "", fmt.Errorf("sign result %s: %w", r.JobID, err)
	}
	r.Signature = sig
	return r.msgIDOf(d), nil
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

// PublishResult signs (with the bus's Signer) and publishes a result.
func (b *Bus) PublishResult(ctx context.Context, r *Result) error {
	id, err := b.sign(r)
	if err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := b.JS.Publish(ctx, resultsPrefix+r.Kind, data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
	}
	return nil
}

// publishResultAsync signs and publishes a result without waiting for its ack.
func (b *Bus) publishResultAsync(r *Result) (jetstream.PubAckFuture, error) {
	id, err := b.sign(r)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	f, err := b.JS.PublishAsync(resultsPrefix+r.Kind, data, jetstream.WithMsgID(id))
	if err != nil {
		return nil, fmt.Errorf("publish result %s/%d: %w", r.JobID, r.Chunk, err)
	}
	return f, nil
}

// Handler handles one job. An error is transient: the job is redelivered
// with back-off up to MaxDeliver times, then dead-lettered as a failed
// Result; an ErrPermanent error dead-letters it at once.
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
	return b.consume(ctx, cons, max(n, 1), b.cfg.MaxDeliver, true, func(hctx context.Context, msg jetstream.Msg) error {
		j, err := DecodeJob(msg.Data())
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
	return b.batches(ctx, cons, loops, max, b.cfg.BatchLinger, b.cfg.MaxDeliver, b.deadLetter, func(hctx context.Context, msgs []jetstream.Msg) []error {
		stop := b.beat(msgs)
		defer stop()
		errs := make([]error, len(msgs))
		var jobs []Job
		var at []int
		for i, msg := range msgs {
			j, err := DecodeJob(msg.Data())
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
func (b *Bus) jobConsumer(ctx context.Context, kind string) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := b.waitFor(ctx, "the "+kind+" job queue", func() (err error) {
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
	var j Job
	if json.Unmarshal(msg.Data(), &j) != nil {
		return
	}
	reason := fmt.Sprintf("%s job failed after %d attempts: %v", j.Kind, b.cfg.MaxDeliver, lastErr)
	if errors.Is(lastErr, ErrPermanent) {
		reason = fmt.Sprintf("%s job refused: %v", j.Kind, lastErr)
	}
	res := Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk, Reason: truncate(reason, maxReason)}
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
func (b *Bus) Results(ctx context.Context, h func(ctx context.Context, r Result) error) error {
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
func (b *Bus) decodeResult(msg jetstream.Msg) (Result, error) {
	r, err := DecodeResult(msg.Data())
	if err != nil {
		return r, err
	}
	if msg.Subject() != resultsPrefix+r.Kind {
		return r, Refuse("wrong_subject", fmt.Errorf("a %q result arrived on %s", truncate(r.Kind, 32), msg.Subject()))
	}
	return r, nil
}

// consume runs handle over the consumer's messages with conc goroutines,
// settling each message on its own (settle).
func (b *Bus) consume(ctx context.Context, cons jetstream.Consumer, conc, maxDeliver int, double bool,
	handle func(context.Context, jetstream.Msg) error, dead func(jetstream.Msg, error)) error {
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
// are not redelivered while they run) and settles the message.
func (b *Bus) handleOne(msg jetstream.Msg, maxDeliver int, double bool, handle func(context.Context, jetstream.Msg) error, dead func(jetstream.Msg, error)) {
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
// (ErrPermanent), or that failed on its maxDeliver-th delivery, is
// dead-lettered (dead, when set) and terminated with its reason logged;
// any other failure redelivers it after a back-off that doubles with each
// delivery.
func (b *Bus) settle(ctx context.Context, msg jetstream.Msg, err error, maxDeliver int, double bool, dead func(jetstream.Msg, error)) {
	if err == nil {
		var aerr error
		if double {
			aerr = msg.DoubleAck(ctx)
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
	if errors.Is(err, ErrPermanent) || delivered >= maxDeliver {
		why, code := "refused", RefusalCode(err)
		if !errors.Is(err, ErrPermanent) {
			why, code = fmt.Sprintf("failed %d times", delivered), "max_deliveries"
		}
		b.log.Error("message terminated: "+why, "subject", msg.Subject(), "deliveries", delivered, "code", code, "err", err)
		if dead != nil {
			dead(msg, err)
		}
		_ = msg.TermWithReason(truncate(why+": "+err.Error(), maxReason))
		return
	}
	delay := min(b.cfg.Backoff<<min(delivered-1, 16), MaxBackoff)
	b.log.Warn("handler failed; redelivering", "subject", msg.Subject(), "delivery", delivered, "in", delay, "err", err)
	_ = msg.NakWithDelay(delay)
}

// PublishJobs publishes jobs asynchronously and waits for every ack; errs[i]
// is job i's publish error (nil: stored).
func (b *Bus) PublishJobs(ctx context.Context, jobs []*Job) (errs []error) {
	errs = make([]error, len(jobs))
	futures := make([]jetstream.PubAckFuture, len(jobs))
	for i, j := range jobs {
		data, err := json.Marshal(j)
		if err != nil {
			errs[i] = Permanent(fmt.Errorf("encode job %s: %w", j.MsgID(), err))
			continue
		}
		if futures[i], err = b.JS.PublishAsync(jobsPrefix+j.Kind, data, jetstream.WithMsgID(j.MsgID())); err != nil {
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
	if errors.Is(err, ErrPermanent) || errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
	}
	return strings.Contains(err.Error(), "maximum payload exceeded") || strings.Contains(err.Error(), "message size exceeds maximum")
}
