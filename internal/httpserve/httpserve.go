// Package httpserve builds every HTTP server vsc runs (the coordinator's
// API, the chain node's, a worker's metrics) with the same bounds, so no
// peer can hold a connection or a goroutine open for free: a slow header,
// a trickled body, a response never read and an idle keep-alive each end.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/vsc-labs/vsc/internal/service"
)

const (
	// ReadHeaderTimeout bounds reading a request's header.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included: the
	// largest blob (64 MiB by default) at half a megabyte a second.
	ReadTimeout = 2 * time.Minute
	// WriteTimeout bounds a request from the end of its header to the end
	// of its response. No vsc response is long-lived (progress is polled,
	// not streamed); a handler still working then has its connection closed.
	WriteTimeout = 3 * time.Minute
	// IdleTimeout bounds how long a keep-alive connection waits for the
	// next request.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's header (request line included).
	MaxHeaderBytes = 64 << 10
)

// New returns a server for h with vsc's timeouts and header limit.
func New(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Service serves a handler as a service.Service: Start listens on Addr (an
// address in use is a start-up error) and serves on a goroutine of its own
// Group; Stop shuts the server down, letting requests in flight finish.
type Service struct {
	Addr    string
	Handler http.Handler

	srv  *http.Server
	ln   net.Listener
	loop service.Group
}

// Start listens and serves until Stop.
func (s *Service) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	s.ln, s.srv = ln, New(s.Handler)
	return s.loop.Go(ctx, func(context.Context) error {
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", ln.Addr(), err)
		}
		return nil
	})
}

// ListenAddr is the address the service listens on (after Start).
func (s *Service) ListenAddr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop drains the requests in flight, at most until ctx ends. It copes
// with a service that never started.
func (s *Service) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return errors.Join(s.srv.Shutdown(ctx), s.loop.Stop(ctx))
}

// Done is closed when serving failed, or on Stop.
func (s *Service) Done() <-chan struct{} { return s.loop.Done() }

// Err is why serving failed, if it did.
func (s *Service) Err() error { return s.loop.Err() }
