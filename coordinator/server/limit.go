package server

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vsc-labs/vsc/internal/codes"
)

// MaxRateClients bounds the clients the intake rate limit tracks at once;
// beyond it (a flood from many addresses) new clients share one bucket, so
// the limiter's memory stays bounded and the flood is still limited.
const MaxRateClients = 100_000

// clientLimiter is the intake rate limit: a token bucket per client.
type clientLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	clients  map[string]*rate.Limiter
	overflow *rate.Limiter
}

func newClientLimiter(perSecond float64, burst int) *clientLimiter {
	return &clientLimiter{limit: rate.Limit(perSecond), burst: burst, clients: map[string]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// allow takes one token from client's bucket, or says how long until one
// is there.
func (l *clientLimiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) < MaxRateClients {
			b = rate.NewLimiter(l.limit, l.burst)
			l.clients[client] = b
		} else {
			b = l.overflow
		}
	}
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// prune forgets the clients whose buckets are full again: a fresh bucket is
// the same, so nothing is lost.
func (l *clientLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, b := range l.clients {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, c)
		}
	}
}

// clientKey is who a request comes from for the rate limit and the upload
// quota: its remote IP, and for IPv6 its /64 (one host gets a whole /64).
// Forwarding headers are not believed: anyone can write them.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// limited wraps an intake handler with the per-client rate limit: over it,
// 429 with Retry-After (whole seconds) and nothing read.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.limiter != nil {
			if ok, wait := s.limiter.allow(clientKey(r), time.Now()); !ok {
				secs := int(math.Ceil(wait.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
				s.m.submissions.WithLabelValues("rate_limited").Inc()
				writeErr(w, codes.New(codes.RateLimited,
					"too many intake requests from %s: at most %g a second (burst %d, intake_rate); retry after %d s",
					clientKey(r), float64(s.limiter.limit), s.limiter.burst, max(secs, 1)))
				return
			}
		}
		h(w, r)
	}
}

// reserveBody reserves the bytes an intake body may take while it is read
// (its Content-Length, or max when it sends none), against
// MaxInflightBodyBytes. release must be called when the body is done with.
func (s *Server) reserveBody(w http.ResponseWriter, r *http.Request, max int64) (release func(), ok bool) {
	n := max
	if r.ContentLength >= 0 && r.ContentLength < max {
		n = r.ContentLength
	}
	if s.inflight.Add(n) > s.cfg.MaxInflightBodyBytes {
		s.inflight.Add(-n)
		w.Header().Set("Retry-After", "1")
		writeErr(w, codes.New(codes.Unavailable, "the coordinator is reading %s of intake bodies already (max_inflight_body_bytes): retry in a second",
			byteSize(s.cfg.MaxInflightBodyBytes)))
		return nil, false
	}
	return func() { s.inflight.Add(-n) }, true
}

// byteSize is n bytes for a sentence.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
