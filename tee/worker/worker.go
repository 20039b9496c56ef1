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
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee"
)

// Kind is the job kind this worker consumes.
const Kind = idao.KindTEE

// Blobs is where the worker reads ciphertext (the bus's object store).
type Blobs interface {
	GetBlob(ctx context.Context, dataHash common.Hash) ([]byte, error)
}

// BlobOpener is a Blobs that also streams a blob (the bus does): a blob over
// StreamAbove bytes is checked as it is read, in bounded memory.
type BlobOpener interface {
	OpenBlob(ctx context.Context, dataHash common.Hash) (io.ReadCloser, int64, error)
}

// StreamAbove is the blob size beyond which the worker streams a blob
// through the enclave instead of reading it whole. A variable only so that
// tests may lower it before any worker starts.
var StreamAbove int64 = 16 << 20

// Worker runs an enclave against the job queue. It is a service.Service:
// Start checks that its bus signs with the enclave key and consumes jobs on
// a goroutine of its own until Stop, which drains the jobs in flight.
type Worker struct {
	enc     *tee.Enclave
	bus     *bus.Bus
	blobs   Blobs
	log     *slog.Logger
	metrics *metrics
	loop    service.Group
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

// batchSize bounds the jobs a worker takes (and its enclave attests) at once.
const batchSize = 64

// Start checks the worker's bus and consumes tee jobs until Stop. Jobs
// that arrive together are handled as a batch (HandleBatch).
func (w *Worker) Start(ctx context.Context) error {
	if err := w.check(); err != nil {
		return err
	}
	return w.loop.Go(ctx, w.work)
}

// Stop stops taking jobs and waits for the jobs in flight, at most until
// ctx ends. It copes with a worker that never started.
func (w *Worker) Stop(ctx context.Context) error { return w.loop.Stop(ctx) }

// Done is closed when the worker's consumer failed, or on Stop.
func (w *Worker) Done() <-chan struct{} { return w.loop.Done() }

// Err is why the worker's consumer failed, if it did.
func (w *Worker) Err() error { return w.loop.Err() }

// check refuses a worker whose results the coordinator would not believe.
func (w *Worker) check() error {
	if w.bus == nil {
		return errors.New("tee worker: no bus")
	}
	if w.bus.Signer() != w.enc.Address() {
		return fmt.Errorf("tee worker: its bus signs results as %s, not with the enclave key %s (bus.Config.Signer): the coordinator would believe none",
			w.bus.Signer().Hex(), w.enc.Address().Hex())
	}
	return nil
}

func (w *Worker) work(ctx context.Context) error {
	w.log.Info("tee worker started", "backend", w.enc.Backend())
	return w.bus.WorkBatches(ctx, Kind, max(runtime.GOMAXPROCS(0), 2), batchSize, w.HandleBatch)
}

// Handle checks one job (see HandleBatch).
func (w *Worker) Handle(ctx context.Context, j work.Job) (work.Result, error) {
	rs, errs := w.HandleBatch(ctx, []work.Job{j})
	return rs[0], errs[0]
}

// HandleBatch checks jobs, with one attestation for all the results the
// enclave computes (tee.Enclave.ProcessBatch). errs[i] is transient (the
// blob could not be fetched, the data is wrapped to another enclave's key,
// the inputs do not match the signed submission, the enclave could not
// attest): the job is redelivered and, after MaxDeliver, fails with that
// reason. A verdict about the data is a Result: OK with evidence, or
// Rejected with a reason (and attested evidence when the enclave computed a
// contradicting commitment or count).
func (w *Worker) HandleBatch(ctx context.Context, jobs []work.Job) (rs []work.Result, errs []error) {
	start := time.Now()
	rs, errs = make([]work.Result, len(jobs)), make([]error, len(jobs))
	blobs := make([][]byte, len(jobs))
	streams := make([]io.ReadCloser, len(jobs))
	sizes := make([]int, len(jobs))
	fetched := make([]bool, len(jobs))
	var wg sync.WaitGroup
	for i := range jobs {
		j := &jobs[i]
		rs[i] = work.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk, Worker: w.enc.Address().Hex()}
		if !w.precheck(j, &rs[i]) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			blobs[i], streams[i], sizes[i], err = w.fetch(ctx, j.Submission.DataHash)
			if err != nil {
				errs[i] = fmt.Errorf("fetch blob %s: %w", j.Submission.DataHash.Hex(), err)
				return
			}
			fetched[i] = true
		}()
	}
	wg.Wait()
	var idx []int
	var tjobs []tee.Job
	for i, j := range jobs {
		if fetched[i] {
			idx = append(idx, i)
			tjobs = append(tjobs, tee.Job{ChainID: j.ChainID, Submission: j.Submission, WrappedKey: j.WrappedKey, Blob: blobs[i], Stream: streams[i]})
		}
	}
	outs, perrs := w.enc.ProcessBatch(tjobs)
	for _, r := range streams {
		if r != nil {
			r.Close()
		}
	}
	for k, i := range idx {
		if perrs[k] != nil {
			errs[i] = fmt.Errorf("enclave: %w", perrs[k])
			continue
		}
		errs[i] = w.verdict(outs[k], &rs[i], sizes[i], start)
	}
	for i := range jobs {
		if errs[i] != nil {
			rs[i] = work.Result{}
			w.observe("retry", start, 0, 0)
		}
	}
	return rs, errs
}

// fetch returns a blob whole, or over StreamAbove bytes as a stream (when
// the blob source can stream), with its size.
func (w *Worker) fetch(ctx context.Context, h common.Hash) ([]byte, io.ReadCloser, int, error) {
	o, ok := w.blobs.(BlobOpener)
	if !ok {
		b, err := w.blobs.GetBlob(ctx, h)
		return b, nil, len(b), err
	}
	r, size, err := o.OpenBlob(ctx, h)
	if err != nil {
		return nil, nil, 0, err
	}
	if size > StreamAbove {
		return nil, r, int(size), nil
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return b, nil, len(b), err
}

// precheck fills res with a verdict (and returns false) for a job the
// enclave need not see: another kind, a submission that does not hash to its
// id, or one whose contributor signature does not verify.
func (w *Worker) precheck(j *work.Job, res *work.Result) bool {
	switch {
	case j.Kind != Kind:
		res.Reason = fmt.Sprintf("tee worker got a %q job", j.Kind)
	case j.Submission.Digest(j.ChainID) != j.SubmissionID:
		res.Reason = fmt.Sprintf("job names submission %s but its submission digests to %s", j.SubmissionID.Hex(), j.Submission.Digest(j.ChainID).Hex())
	default:
		if err := j.Submission.Verify(j.ChainID, j.Signature); err != nil {
			res.Rejected = true
			res.Reason = fmt.Sprintf("the contributor's signature does not verify: %v", err)
			w.log.Info("tee job rejected", "job", j.ID, "reason", res.Reason)
			w.observe("rejected", time.Now(), 0, 0)
			return false
		}
		return true
	}
	w.observe("failed", time.Now(), 0, 0)
	return false
}

// verdict fills res from the enclave's outcome.
func (w *Worker) verdict(out *tee.Outcome, res *work.Result, size int, start time.Time) error {
	var records uint64
	if out.Evidence != nil {
		records = out.Evidence.Facts.Records
		var err error
		if res.Evidence, err = json.Marshal(out.Evidence); err != nil {
			return fmt.Errorf("encode evidence: %w", err)
		}
	}
	log := w.log.With("job", res.JobID, "submission", res.SubmissionID.Hex())
	switch out.Status {
	case tee.StatusVerified:
		res.OK = true
		log.Info("tee job verified", "records", records, "quality_bps", out.Evidence.Facts.Quality,
			"result", out.Evidence.ResultDigest.Hex(), "bytes", size, "ms", time.Since(start).Milliseconds())
		w.observe("verified", start, records, size)
	default:
		res.Rejected = true
		res.Reason = out.Reason
		log.Info("tee job rejected", "reason", out.Reason, "ms", time.Since(start).Milliseconds())
		w.observe("rejected", start, records, size)
	}
	return nil
}
