// Package worker is the running TEE role (`vscd worker`): it pulls "tee"
// jobs from JetStream, fetches each ciphertext blob from the object store by
// its data hash, hands it to the enclave (tee.Enclave.Process) and publishes
// the result with the attested evidence. Plaintext exists only inside
// Process: the worker logs ids, counts and verdicts, never data.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/tee"
)

// Kind is the job kind this worker consumes.
const Kind = "tee"

// Blobs is where the worker reads ciphertext (the bus's object store).
type Blobs interface {
	GetBlob(ctx context.Context, dataHash common.Hash) ([]byte, error)
}

// Worker runs an enclave against the job queue.
type Worker struct {
	enc     *tee.Enclave
	bus     *bus.Bus
	blobs   Blobs
	log     *slog.Logger
	metrics *metrics
}

type metrics struct {
	jobs    *prometheus.CounterVec
	seconds prometheus.Histogram
	records prometheus.Counter
	bytes   prometheus.Counter
}

// WithMetrics registers the worker's metrics with reg:
// vsc_tee_jobs_total{outcome="verified|rejected|failed|retry"},
// vsc_tee_job_seconds, vsc_tee_records_total, vsc_tee_ciphertext_bytes_total.
func (w *Worker) WithMetrics(reg prometheus.Registerer) *Worker {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vsc_tee_jobs_total", Help: "TEE jobs handled, by outcome."}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vsc_tee_job_seconds", Help: "Time to check one submission in the enclave.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vsc_tee_records_total", Help: "Records checked by the enclave."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vsc_tee_ciphertext_bytes_total", Help: "Ciphertext bytes decrypted by the enclave."}),
	}
	reg.MustRegister(m.jobs, m.seconds, m.records, m.bytes)
	w.metrics = m
	return w
}

func (w *Worker) observe(outcome string, start time.Time, records uint64, bytes int) {
	if w.metrics == nil {
		return
	}
	w.metrics.jobs.WithLabelValues(outcome).Inc()
	if outcome == "retry" {
		return
	}
	w.metrics.seconds.Observe(time.Since(start).Seconds())
	w.metrics.records.Add(float64(records))
	w.metrics.bytes.Add(float64(bytes))
}

// New returns a worker for enc on b. log may be nil.
func New(enc *tee.Enclave, b *bus.Bus, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{enc: enc, bus: b, log: log.With("role", "tee-worker", "enclave", enc.Address().Hex())}
	if b != nil {
		w.blobs = b
	}
	return w
}

// WithBlobs replaces the blob source (tests, or a worker reading blobs from elsewhere).
func (w *Worker) WithBlobs(b Blobs) *Worker { w.blobs = b; return w }

// Enclave returns the worker's enclave.
func (w *Worker) Enclave() *tee.Enclave { return w.enc }

// Run consumes tee jobs until ctx ends, then drains in-flight jobs.
func (w *Worker) Run(ctx context.Context) error {
	if w.bus == nil {
		return errors.New("tee worker: no bus")
	}
	w.log.Info("tee worker started", "backend", w.enc.Backend())
	return w.bus.Work(ctx, Kind, w.Handle)
}

// Handle checks one job. A returned error is transient (the blob could not
// be fetched, the data is wrapped to another enclave's key, the inputs do not
// match the signed submission, the enclave could not attest): the job is
// redelivered and, after MaxDeliver, fails with that reason. A
// verdict about the data is a Result: OK with evidence, or Rejected with a
// reason (and attested evidence when the enclave computed a contradicting
// commitment or count).
func (w *Worker) Handle(ctx context.Context, j bus.Job) (res bus.Result, err error) {
	start := time.Now()
	var records uint64
	var size int
	defer func() {
		switch {
		case err != nil:
			w.observe("retry", start, 0, 0)
		case res.OK:
			w.observe("verified", start, records, size)
		case res.Rejected:
			w.observe("rejected", start, records, size)
		default:
			w.observe("failed", start, records, size)
		}
	}()
	log := w.log.With("job", j.ID, "submission", j.SubmissionID.Hex())
	res = bus.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk, Worker: w.enc.Address().Hex()}
	if j.Kind != Kind {
		res.Reason = fmt.Sprintf("tee worker got a %q job", j.Kind)
		return res, nil
	}
	if id := j.Submission.Digest(j.ChainID); id != j.SubmissionID {
		res.Reason = fmt.Sprintf("job names submission %s but its submission digests to %s", j.SubmissionID.Hex(), id.Hex())
		return res, nil
	}
	if err := j.Submission.Verify(j.ChainID, j.Signature); err != nil {
		res.Rejected = true
		res.Reason = fmt.Sprintf("the contributor's signature does not verify: %v", err)
		log.Info("tee job rejected", "reason", res.Reason)
		return res, nil
	}
	blob, err := w.blobs.GetBlob(ctx, j.Submission.DataHash)
	if err != nil {
		return bus.Result{}, fmt.Errorf("fetch blob %s: %w", j.Submission.DataHash.Hex(), err)
	}
	size = len(blob)
	out, err := w.enc.Process(tee.Job{ChainID: j.ChainID, Submission: j.Submission, WrappedKey: j.WrappedKey, Blob: blob})
	if err != nil {
		return bus.Result{}, fmt.Errorf("enclave: %w", err)
	}
	if out.Evidence != nil {
		records = out.Evidence.Facts.Records
		if res.Evidence, err = json.Marshal(out.Evidence); err != nil {
			return bus.Result{}, fmt.Errorf("encode evidence: %w", err)
		}
	}
	switch out.Status {
	case tee.StatusVerified:
		res.OK = true
		log.Info("tee job verified", "records", out.Evidence.Facts.Records, "quality_bps", out.Evidence.Facts.Quality,
			"result", out.Evidence.ResultDigest.Hex(), "bytes", len(blob), "ms", time.Since(start).Milliseconds())
	default:
		res.Rejected = true
		res.Reason = out.Reason
		log.Info("tee job rejected", "reason", out.Reason, "ms", time.Since(start).Milliseconds())
	}
	return res, nil
}
