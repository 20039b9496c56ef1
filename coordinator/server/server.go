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
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
)

// Config configures the coordinator.
type Config struct {
	ChainID      uint64
	Listen       string        // e.g. ":8080"
	MaxBlob      int64         // largest accepted ciphertext blob, bytes
	ZKChunk      int           // records per zk chunk job (power of two)
	RelayBatch   int           // outbox rows per relay transaction
	RelayPoll    time.Duration // how often the relay looks for missed rows
	DisableRelay bool          // test hook: accept but never publish (a crash between commit and publish)
	VoteTimeout  time.Duration // a submission voting longer than this fails, naming who did not vote
	Chain        Chain         // nil: submissions stop at voting (no quorum, anchor or mint)
	Registry     Registry      // nil: the coordinator's PostgreSQL registry
}

func (c *Config) defaults() {
	if c.ChainID == 0 {
		c.ChainID = 1337
	}
	if c.MaxBlob == 0 {
		c.MaxBlob = 64 << 20
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
}

// Server is the coordinator.
type Server struct {
	cfg   Config
	store *store.Store
	bus   *bus.Bus
	log   *slog.Logger
	reg   *prometheus.Registry
	m     *metrics

	mux        *http.ServeMux
	httpSrv    *http.Server
	ln         net.Listener
	kick       chan struct{} // wakes the relay after a commit
	finishKick chan struct{} // wakes the finisher after a certificate
	idaoCache  sync.Map      // name → idaoEntry

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// New builds a coordinator over an open store and bus.
func New(cfg Config, st *store.Store, b *bus.Bus, log *slog.Logger) *Server {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, store: st, bus: b, log: log, kick: make(chan struct{}, 1), finishKick: make(chan struct{}, 1), reg: prometheus.NewRegistry()}
	s.m = newMetrics(s.reg)
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

// Start begins serving HTTP (if Listen is set) and runs the relay and the
// result consumer until Stop.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	if err := s.bus.Ensure(ctx); err != nil {
		return err
	}
	if s.cfg.Listen != "" {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (is another vscd running? pick another with --listen)", s.cfg.Listen, err)
		}
		s.ln = ln
		s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		s.go_(func() {
			if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server", "err", err)
			}
		})
	}
	if !s.cfg.DisableRelay {
		s.go_(func() { s.relay(ctx) })
	}
	if s.cfg.Chain != nil {
		s.go_(func() { s.finisher(ctx) })
	}
	s.go_(func() {
		if err := s.bus.ResultBatches(ctx, 4, 128, s.applyResults); err != nil {
			s.log.Error("result consumer stopped", "err", err)
		}
	})
	s.go_(func() {
		if err := s.bus.StuckJobs(ctx, s.failStuckJob); err != nil {
			s.log.Error("stuck-job watch stopped", "err", err)
		}
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

// Stop drains HTTP requests, stops the relay and the consumer and waits.
func (s *Server) Stop(ctx context.Context) error {
	var err error
	if s.httpSrv != nil {
		err = s.httpSrv.Shutdown(ctx)
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return err
}

func (s *Server) go_(fn func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); fn() }()
}

// wake nudges the relay without blocking.
func (s *Server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
