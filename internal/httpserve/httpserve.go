// Package httpserve builds every HTTP server vsc runs (the coordinator's
// API, the chain node's, a worker's metrics) with the same bounds, so no
// peer can hold a connection or a goroutine open for free: a slow header,
// a trickled body, a response never read and an idle keep-alive each end.
package httpserve

import (
	"net/http"
	"time"
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
