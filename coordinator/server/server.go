// Package server is the coordinator's running role: the HTTP JSON API, the
// intake of signed submissions, the outbox relay that publishes verification
// jobs to JetStream, and the intake of workers' results.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/httpserve"
	"github.com/vsc-labs/vsc/internal/service"
)

// Config configures the coordinator. The limits among these are stated
// in GET /v1/info and their defaults in the OpenAPI document.
type Config struct {
	ChainID uint64
	Listen  string // e.g. ":8080"
	MaxBlob int64  // largest blob sent inline or read whole, bytes (default DefaultMaxBlob)
	// MaxStreamBlob is the largest blob PUT /v1/blobs accepts, streamed
	// into the object store without being held (default DefaultMaxStreamBlob).
	MaxStreamBlob int64
	ZKChunk       int           // records per zk chunk job (power of two)
	RelayBatch    int           // outbox rows per relay transaction
	RelayPoll     time.Duration // how often the relay looks for missed rows
	DisableRelay  bool          // test hook: accept but never publish (a crash between commit and publish)
	VoteTimeout   time.Duration // a submission voting longer than this fails, naming who did not vote
	Chain         Chain         // nil: submissions stop at voting (no quorum, anchor or mint)
	Registry      Registry      // nil: the coordinator's PostgreSQL registry
	Services      ServiceChain  // nil: the jobs API answers unavailable
	// LeaseTTL is the finisher lease's (default DefaultLeaseTTL); Holder
	// names this coordinator in the lease table (default host/pid/random).
	LeaseTTL time.Duration
	Holder   string

	// BlobTTL is how long an uploaded blob waits for a signed submission
	// that references it before it is deleted (default DefaultBlobTTL).
	BlobTTL time.Duration
	// SweepEvery is how often uploads past their TTL are collected
	// (default BlobTTL/4, at most a minute).
	SweepEvery time.Duration
	// MaxPendingBlobBytes bounds the bytes of uploaded blobs waiting for a
	// submission, over all clients (default DefaultPendingBlobs × MaxBlob).
	MaxPendingBlobBytes int64
	// MaxPendingBlobBytesPerClient bounds them per client (default
	// DefaultPendingBlobsPerClient × MaxBlob).
	MaxPendingBlobBytesPerClient int64
	// MaxInflightBodyBytes bounds the bytes of intake bodies being read at
	// once (each reserves its Content-Length, or the largest body when it
	// sends none); beyond it intake answers 503 with Retry-After (default
	// DefaultInflightBodies × MaxBlob).
	MaxInflightBodyBytes int64
	// IntakeRate is each client's sustained rate of intake requests
	// (submissions and blob uploads) per second; 0 means DefaultIntakeRate
	// and a negative rate turns the limit off (load generators measuring
	// the system, not the limiter).
	IntakeRate float64
	// IntakeBurst is the requests a client may send at once (default
	// twice the rate, at least 1).
	IntakeBurst int

	// ChainFeed is where the event stream reads the chain (nil: no
	// blocks or claims events).
	ChainFeed ChainFeed
	// EventPoll is how often the event stream reads new status moves and
	// the chain's head (default 200ms).
	EventPoll time.Duration
	// UI serves the Web UI at / (nil: no UI; unknown paths answer 404).
	UI http.Handler
}

// Defaults of the configured limits (stated in the OpenAPI document).
const (
	// DefaultMaxBlob is the default largest ciphertext blob, bytes.
	DefaultMaxBlob = 64 << 20
	// DefaultMaxStreamBlob is the default largest streamed blob, bytes.
	DefaultMaxStreamBlob = 1 << 30
	// DefaultBlobTTL is how long an upload waits for its submission.
	DefaultBlobTTL = time.Hour
	// DefaultPendingBlobs is the default total of waiting uploads, in blobs
	// of the largest size.
	DefaultPendingBlobs = 16
	// DefaultPendingBlobsPerClient is the default per client, likewise.
	DefaultPendingBlobsPerClient = 2
	// DefaultInflightBodies is the default of intake bodies read at once, in
	// bodies of the largest size.
	DefaultInflightBodies = 16
	// DefaultIntakeRate is each client's default intake requests per second.
	DefaultIntakeRate = 100
)

func (c *Config) defaults() {
	if c.ChainID == 0 {
		c.ChainID = 1337
	}
	if c.MaxBlob == 0 {
		c.MaxBlob = DefaultMaxBlob
	}
	if c.MaxStreamBlob == 0 {
		c.MaxStreamBlob = max(DefaultMaxStreamBlob, c.MaxBlob)
	}
	if c.BlobTTL == 0 {
		c.BlobTTL = DefaultBlobTTL
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = min(c.BlobTTL/4, time.Minute)
	}
	if c.MaxPendingBlobBytes == 0 {
		c.MaxPendingBlobBytes = max(DefaultPendingBlobs*c.MaxBlob, 2*c.MaxStreamBlob)
	}
	if c.MaxPendingBlobBytesPerClient == 0 {
		c.MaxPendingBlobBytesPerClient = max(DefaultPendingBlobsPerClient*c.MaxBlob, c.MaxStreamBlob)
	}
	if c.MaxInflightBodyBytes == 0 {
		c.MaxInflightBodyBytes = DefaultInflightBodies * (c.MaxBlob + maxSubmitOverhead)
	}
	if c.IntakeRate == 0 {
		c.IntakeRate = DefaultIntakeRate
	}
	if c.IntakeBurst == 0 {
		c.IntakeBurst = max(1, int(2*c.IntakeRate))
	}
	if c.ZKChunk == 0 {
		c.ZKChunk = 16
	}
	if c.RelayBatch == 0 {
		c.RelayBatch = 512
	}
	if c.RelayPoll == 0 {
		c.RelayPoll = 200 * time.Millisecond
	}
	if c.VoteTimeout == 0 {
		c.VoteTimeout = 60 * time.Second
	}
	if c.EventPoll == 0 {
		c.EventPoll = 200 * time.Millisecond
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.Holder == "" {
		c.Holder = newHolderID()
	}
}

// Server is the coordinator.
type Server struct {
	cfg   Config
	store *store.Store
	bus   *bus.Bus
	log   *slog.Logger
	reg   *prometheus.Registry
	m     *metrics

	mux         *http.ServeMux
	httpSrv     *http.Server
	ln          net.Listener
	kick        chan struct{}  // wakes the relay after a commit
	finishKick  chan struct{}  // wakes the finisher after a certificate
	idaoCache   sync.Map       // name → idaoEntry
	policies    sync.Map       // an iDAO's policy bytes → its parsed tee.Policy
	policyCount atomic.Int64   // entries stored in policies since it was last cleared
	limiter     *clientLimiter // nil: intake is not rate-limited
	inflight    atomic.Int64   // bytes of intake bodies being read
	hub         *hub           // the event stream's subscribers
	jobWaits    jobWaiters     // GET /v1/jobs/{id}?wait= requests, by job

	lease atomic.Pointer[store.Lease] // the finisher lease while this coordinator holds it

	loops service.Group // HTTP, relay, finisher, sweeper, consumers
}

// New builds a coordinator over an open store and bus.
func New(cfg Config, st *store.Store, b *bus.Bus, log *slog.Logger) *Server {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, store: st, bus: b, log: log, kick: make(chan struct{}, 1), finishKick: make(chan struct{}, 1), reg: prometheus.NewRegistry(), hub: newHub()}
	s.m = newMetrics(s.reg)
	s.reg.MustRegister(newQueueCollector(s))
	if c, ok := cfg.Chain.(fencedChain); ok {
		c.SetFence(s.fence)
	}
	if cfg.IntakeRate > 0 {
		s.limiter = newClientLimiter(cfg.IntakeRate, cfg.IntakeBurst)
	}
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// Mount lets other roles (the chain's read API, the quorum) add routes.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Registry exposes the Prometheus registry so embedded roles can add metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler { return s.instrument(s.mux) }

// Start begins serving HTTP (if Listen is set) and runs the relay, the
// finisher, the blob sweeper and the result and stuck-job consumers until
// Stop. ctx bounds the start-up only (the streams, the listener): the loops
// run on the server's own context, which only Stop cancels, so a signal
// never cuts them off before the HTTP server has drained.
func (s *Server) Start(ctx context.Context) error {
	if err := s.bus.Ensure(ctx); err != nil {
		return err
	}
	f, err := s.newFeed(ctx)
	if err != nil {
		return err
	}
	if s.cfg.Listen != "" {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (is another vscd running? pick another with --listen)", s.cfg.Listen, err)
		}
		s.ln = ln
		s.httpSrv = httpserve.New(s.Handler())
		_ = s.loops.Go(ctx, func(context.Context) error {
			if err := s.httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		})
	}
	loop := func(f func(context.Context)) {
		_ = s.loops.Go(ctx, func(ctx context.Context) error { f(ctx); return nil })
	}
	if !s.cfg.DisableRelay {
		loop(s.relay)
	}
	if s.cfg.Chain != nil {
		loop(s.leaseKeeper)
		loop(s.finisher)
	}
	loop(s.sweeper)
	loop(func(ctx context.Context) { s.feedEvents(ctx, f) })
	_ = s.loops.Go(ctx, func(ctx context.Context) error {
		if err := s.bus.ResultBatches(ctx, 2, 256, s.applyResults); err != nil {
			return fmt.Errorf("result consumer: %w", err)
		}
		return nil
	})
	_ = s.loops.Go(ctx, s.jobsLoop)
	_ = s.loops.Go(ctx, func(ctx context.Context) error {
		if err := s.bus.StuckJobs(ctx, s.failStuckJob); err != nil {
			return fmt.Errorf("stuck-job watch: %w", err)
		}
		return nil
	})
	return nil
}

// Addr is the listening address (after Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop ends the event streams, drains HTTP requests, then stops the loops
// and waits for them, at most until ctx ends. It copes with a server that
// never started.
func (s *Server) Stop(ctx context.Context) error {
	s.hub.close()
	s.jobWaits.close()
	var err error
	if s.httpSrv != nil {
		err = s.httpSrv.Shutdown(ctx)
	}
	return errors.Join(err, s.loops.Stop(ctx))
}

// Done is closed when a loop of the server failed (the result consumer, the
// HTTP server), or on Stop.
func (s *Server) Done() <-chan struct{} { return s.loops.Done() }

// Err is why a loop of the server failed, if one did.
func (s *Server) Err() error { return s.loops.Err() }

// wake nudges the relay without blocking.
func (s *Server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
