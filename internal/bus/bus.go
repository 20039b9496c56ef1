// Package bus is vsc's NATS JetStream layer: the work-queue streams that
// carry verification jobs to workers and their results back to the
// coordinator, the vote requests members read, and the blobs and proofs.
//
// Delivery is at least once: a job is acked only after its result is
// published, a handler error naks the job with back-off, and a job that
// reaches MaxDeliver is terminated and turned into a failed Result, so no job
// is ever silently dropped (a work-queue message that hits MaxDeliver would
// otherwise sit in the stream forever). Every consumer settles each message
// on its own: a message that can never be handled (work.ErrPermanent) is
// terminated with a logged reason at once, never redelivered in a loop.
//
// Every role connects as its own NATS user (auth.go) whose permissions name
// exactly the subjects it needs; only the coordinator creates the streams.
// Even so, nothing read from the bus is believed without its signature:
// workers sign their results (Signer), members sign their votes, and the
// submission inside a job or vote request is signed by its contributor.
//
// The messages themselves (work.Job, work.Result, refusals) live in
// internal/work, which links no NATS; the embedded server lives in
// internal/natsembed, so this package links the NATS client only. Files:
// bus.go the connection and its configuration, streams.go the streams and
// consumers Ensure makes, publish.go publishing jobs and signed results,
// work.go the workers' job queues and dead letters, results.go the
// coordinator's results, votes.go the vote requests, deliver.go how every
// consumer settles each message, blobs.go blobs and proofs, stuck.go jobs
// whose workers died, auth.go the roles and their credentials.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config tunes delivery.
type Config struct {
	AckWait     time.Duration // how long a worker may hold a job between progress beats
	MaxDeliver  int           // deliveries before a job is dead-lettered
	Backoff     time.Duration // first redelivery delay after a handler error (doubles, up to MaxBackoff)
	Concurrency int           // handlers run at once per Work call (CPU-bound work: default one per core)
	// IOConcurrency is for consumers whose handlers wait on I/O (the
	// coordinator's results, members' vote requests): default 64.
	IOConcurrency int
	// Replicas is the replica count of every stream, object store and
	// consumer this bus creates (--nats-replicas: 3 in a JetStream cluster,
	// so the loss of one server loses no job, result or vote).
	Replicas int
	// BatchLinger is how long a batch consumer (TEE jobs, vote requests)
	// waits after a batch's first message for more: larger batches (one
	// attestation, one vote signature for all) for at most this much latency.
	BatchLinger time.Duration
	// BlobBytes is the room Ensure gives ciphertext blobs (default
	// DefaultBlobBytes).
	BlobBytes int64
	// Signer signs every result this bus publishes (workers).
	Signer Signer
	// RequestTimeout bounds each JetStream request and publish ack (default
	// 10 s), whatever the caller's context allows: a reply lost with a
	// server that died fails the call after this, and the message is
	// redelivered or the publish retried, instead of a handler holding its
	// jobs (and beating "in progress" for them) until its own deadline.
	RequestTimeout time.Duration
	// ResultPatience is how long a worker keeps publishing a result it has
	// computed while NATS cannot take it (default 45 s: a stream that lost
	// its leader with its server elects another within seconds). The job
	// stays in progress meanwhile: the work is not redone, and the job's
	// deliveries are not spent on the bus's outage.
	ResultPatience time.Duration
}

// DefaultConfig is used when a field is zero.
var DefaultConfig = Config{AckWait: 10 * time.Second, MaxDeliver: 5, Backoff: 250 * time.Millisecond, Replicas: 1,
	BatchLinger: 10 * time.Millisecond, BlobBytes: DefaultBlobBytes, RequestTimeout: 10 * time.Second,
	ResultPatience: 45 * time.Second}

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

// req bounds one JetStream request or publish by ctx and RequestTimeout,
// whichever ends first. Handlers run under long contexts (a proof may take
// minutes), and nats.go waits for a reply as long as the context allows: a
// request answered by a server that then died would otherwise hold its
// caller that long.
func (b *Bus) req(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.RequestTimeout)
}

// publish is JS.Publish bounded by req.
func (b *Bus) publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	rctx, cancel := b.req(ctx)
	defer cancel()
	return b.JS.Publish(rctx, subject, data, opts...)
}

// getMsg is Stream.GetMsg bounded by req.
func (b *Bus) getMsg(ctx context.Context, st jetstream.Stream, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	rctx, cancel := b.req(ctx)
	defer cancel()
	return st.GetMsg(rctx, seq, opts...)
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
	// Replicas overrides Config.Replicas when set (--nats-replicas).
	Replicas int
}

// Reconnect back-off: a role whose servers are all gone retries forever,
// waiting twice as long after each failed round up to reconnectMax, with
// jitter so that a cluster's clients do not return at once.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// reconnectDelay is the wait before reconnect round attempts (1, 2, …).
func reconnectDelay(attempts int) time.Duration {
	d := reconnectMin
	for i := 1; i < attempts && d < reconnectMax; i++ {
		d *= 2
	}
	d = min(d, reconnectMax)
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}

// Connect dials a NATS server.
func Connect(o ConnectOptions, cfg Config, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	refused := &refusals{}
	if o.Replicas > 0 {
		cfg.Replicas = o.Replicas
	}
	opts := []nats.Option{nats.Name(orName(o.Name)), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ErrorHandler(asyncErrors(log, refused)),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted()) })}
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
func ConnectInProcess(srv nats.InProcessConnProvider, creds *Credentials, cfg Config, log *slog.Logger) (*Bus, error) {
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
	d := DefaultConfig
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = d.RequestTimeout
	}
	if cfg.ResultPatience == 0 {
		cfg.ResultPatience = d.ResultPatience
	}
	// an async publish whose ack never comes (its server died) fails
	// after RequestTimeout; nats.go waits forever by default
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.RequestTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
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
