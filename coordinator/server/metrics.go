package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	submissions   *prometheus.CounterVec
	transitions   *prometheus.CounterVec
	jobsPublished prometheus.Counter
	httpDur       *prometheus.HistogramVec
	// blobsCollected counts uploads deleted after waiting past the blob TTL.
	blobsCollected prometheus.Counter
	// pendingBlobBytes is the bytes of uploads waiting for a submission (as of the last sweep).
	pendingBlobBytes prometheus.Gauge
	// leaseHeld is 1 while this coordinator holds a lease, leaseToken its fencing token.
	leaseHeld, leaseToken *prometheus.GaugeVec
	handler               http.Handler
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsc_submissions_total", Help: "Submissions received, by outcome (accepted, duplicate, or the error code).",
		}, []string{"outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsc_submission_transitions_total", Help: "Submission status changes, by new status.",
		}, []string{"status"}),
		jobsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vsc_jobs_published_total", Help: "Verification jobs published to JetStream by the outbox relay.",
		}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vsc_http_request_duration_seconds", Help: "HTTP API latency.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		blobsCollected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vsc_blobs_collected_total", Help: "Uploaded blobs deleted because no signed submission referenced them within the blob TTL.",
		}),
		pendingBlobBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vsc_pending_blob_bytes", Help: "Bytes of uploaded blobs waiting for their submission (as of the last sweep).",
		}),
		leaseHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vsc_coordinator_lease_held", Help: "1 while this coordinator holds the lease (finisher: anchor and mint), else 0.",
		}, []string{"lease"}),
		leaseToken: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vsc_coordinator_lease_token", Help: "The fencing token of the lease this coordinator last held.",
		}, []string{"lease"}),
	}
	reg.MustRegister(m.submissions, m.transitions, m.jobsPublished, m.httpDur, m.blobsCollected, m.pendingBlobBytes, m.leaseHeld, m.leaseToken,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) { r.code = code; r.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the connection (the event
// stream flushes and extends its write deadline).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		h.ServeHTTP(rec, r)
		// ServeMux records the matched pattern on the request (no second match)
		s.m.httpDur.WithLabelValues(r.Pattern, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}
