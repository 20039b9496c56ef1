package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/facts"
)

const chainID = 11

// newBus starts NATS and returns the coordinator's bus (it publishes jobs
// and blobs and reads results) and a maker of workers' buses.
func newBus(t *testing.T) (*bus.Bus, func(enc *tee.Enclave) *bus.Bus) {
	t.Helper()
	srv := testenv.NATS(t)
	cfg := bus.Config{MaxDeliver: 2, Backoff: 10 * time.Millisecond}
	return testenv.Bus(t, srv, cfg), func(enc *tee.Enclave) *bus.Bus {
		c := cfg
		if enc != nil {
			c.Signer = enc
		}
		return testenv.WorkerBus(t, srv, c)
	}
}

func dataset(n, seed int) []byte {
	var sb strings.Builder
	sb.WriteString("a,b,c,d\n")
	for i := range n {
		fmt.Fprintf(&sb, "%d,%d,%d,%d\n", i%7, seed*i, -i, i*i%13)
	}
	return []byte(sb.String())
}

// submit does the client's part and uploads the blob; it returns the job.
func submit(t *testing.T, b *bus.Bus, encPub *tee.Enclave, data []byte, nonce uint64, lie func(*submission.Submission)) work.Job {
	t.Helper()
	ds, err := records.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := envelope.Seal(data, encPub.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.GenerateKey()
	sub := submission.Submission{IDAO: "demo", Mode: "tee", Class: "dataset",
		Contributor: crypto.PubkeyToAddress(key.PublicKey), DataHash: sealed.DataHash,
		Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)),
		WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: nonce}
	if lie != nil {
		lie(&sub)
	}
	sig, err := sub.Sign(chainID, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutBlob(context.Background(), sealed.DataHash, sealed.Blob); err != nil {
		t.Fatal(err)
	}
	id := sub.Digest(chainID)
	return work.Job{ID: "tee-" + id.Hex(), Kind: Kind, ChainID: chainID, SubmissionID: id,
		Submission: sub, Signature: sig, WrappedKey: sealed.WrappedKey}
}

// results collects results from the bus until the test ends.
type results struct {
	mu  sync.Mutex
	got map[string]work.Result
	ch  chan struct{}
}

func collect(t *testing.T, b *bus.Bus) *results {
	r := &results{got: map[string]work.Result{}, ch: make(chan struct{}, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Results(ctx, func(_ context.Context, res work.Result) error {
			r.mu.Lock()
			r.got[res.JobID] = res
			r.mu.Unlock()
			r.ch <- struct{}{}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *results) wait(t *testing.T, jobID string) work.Result {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		res, ok := r.got[jobID]
		r.mu.Unlock()
		if ok {
			return res
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no result for %s within 20s", jobID)
		}
	}
}

// run starts w and returns a stop function that waits for it to drain.
func run(t *testing.T, w *Worker) func() {
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := w.Stop(context.Background()); err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestWorkerVerifiesAndRejects(t *testing.T) {
	t.Parallel()
	b, workerBus := newBus(t)
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res := collect(t, b)
	run(t, New(enc, workerBus(enc), nil))

	data := dataset(200, 3)
	good := submit(t, b, enc, data, 1, nil)
	lying := submit(t, b, enc, dataset(50, 4), 2, func(s *submission.Submission) { s.Commitment = common.Hash{1} })
	stranger, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := submit(t, b, stranger, dataset(10, 5), 3, nil) // wrapped to another enclave's key
	for _, j := range []work.Job{good, lying, elsewhere} {
		if err := b.PublishJob(context.Background(), &j); err != nil {
			t.Fatal(err)
		}
	}

	r := res.wait(t, good.ID)
	if !r.OK || r.Rejected {
		t.Fatalf("good job: %+v", r)
	}
	if signer, err := tee.RecoverMessageSigner(r.Digest(), r.Signature); err != nil || signer != enc.Address() || r.Signer != signer {
		t.Fatalf("the result is not signed by the enclave: %s %v", r.Signer, err)
	}
	ev, err := tee.DecodeEvidence(r.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tee.VerifyEvidence(enc.Policy(), ev, &good.Submission, chainID); err != nil {
		t.Fatalf("a quorum member refuses the worker's evidence: %v", err)
	}
	ds, _ := records.Parse(data)
	want, _ := facts.Compute(ds, facts.DefaultParams)
	if ev.Facts.Digest() != want.Digest() {
		t.Fatal("worker facts differ from facts on the plaintext")
	}

	r = res.wait(t, lying.ID)
	if r.OK || !r.Rejected || !strings.Contains(r.Reason, "commitment mismatch") {
		t.Fatalf("lying job: %+v", r)
	}
	ev, err = tee.DecodeEvidence(r.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tee.VerifyEvidence(enc.Policy(), ev, &lying.Submission, chainID); !errors.Is(err, tee.ErrCommitment) {
		t.Fatalf("attested rejection: %v", err)
	}

	// not this enclave's data: retried, then failed (not rejected) with the reason
	r = res.wait(t, elsewhere.ID)
	if r.OK || r.Rejected || !strings.Contains(r.Reason, "not wrapped to this enclave") {
		t.Fatalf("job for another enclave key: %+v", r)
	}
}

// TestWorkerRestartKeepsKey: a worker restarted on the same data dir keeps
// its sealed enclave key, so data wrapped to the key it registered before
// the restart is still verified, and its key attestation still holds.
func TestWorkerRestartKeepsKey(t *testing.T) {
	t.Parallel()
	b, workerBus := newBus(t)
	dir := t.TempDir()
	res := collect(t, b)

	enc, err := tee.OpenSim(dir)
	if err != nil {
		t.Fatal(err)
	}
	registered := enc.PublicKeyBytes() // what the chain holds
	stop := run(t, New(enc, workerBus(enc), nil))
	first := submit(t, b, enc, dataset(30, 1), 1, nil)
	if err := b.PublishJob(context.Background(), &first); err != nil {
		t.Fatal(err)
	}
	if r := res.wait(t, first.ID); !r.OK {
		t.Fatalf("before restart: %+v", r)
	}
	// a client wraps to the registered key; then the worker restarts
	second := submit(t, b, enc, dataset(30, 2), 2, nil)
	stop()

	enc2, err := tee.OpenSim(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(enc2.PublicKeyBytes()) != string(registered) {
		t.Fatal("restarted enclave has a new key; its on-chain registration is lost")
	}
	if _, err := tee.VerifyKeyAttestation(enc.Policy(), registered, enc2.KeyAttestation()); err != nil {
		t.Fatal(err)
	}
	run(t, New(enc2, workerBus(enc2), nil))
	if err := b.PublishJob(context.Background(), &second); err != nil {
		t.Fatal(err)
	}
	r := res.wait(t, second.ID)
	if !r.OK {
		t.Fatalf("after restart: %+v", r)
	}
}

type noBlobs struct{}

func (noBlobs) GetBlob(context.Context, common.Hash) ([]byte, error) { return nil, bus.ErrNotFound }

func TestHandle(t *testing.T) {
	t.Parallel()
	b, workerBus := newBus(t)
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	wb := workerBus(enc)
	w := New(enc, wb, nil).WithMetrics(reg)
	ctx := context.Background()
	j := submit(t, b, enc, dataset(5, 1), 1, nil)

	bad := j
	bad.Signature = append([]byte(nil), j.Signature...)
	bad.Signature[3] ^= 1
	if r, err := w.Handle(ctx, bad); err != nil || !r.Rejected || !strings.Contains(r.Reason, "signature") {
		t.Fatalf("bad signature: %+v %v", r, err)
	}
	other := j
	other.SubmissionID = common.Hash{9}
	if r, err := w.Handle(ctx, other); err != nil || r.OK || r.Rejected {
		t.Fatalf("wrong submission id: %+v %v", r, err)
	}
	if _, err := w.WithBlobs(noBlobs{}).Handle(ctx, j); !errors.Is(err, bus.ErrNotFound) {
		t.Fatalf("missing blob must be a transient error, got %v", err)
	}
	w.WithBlobs(wb)
	if r, err := w.Handle(ctx, j); err != nil || !r.OK {
		t.Fatalf("good: %+v %v", r, err)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"vsc_tee_jobs_total/verified": 1, "vsc_tee_jobs_total/rejected": 1, "vsc_tee_jobs_total/failed": 1,
		"vsc_tee_jobs_total/retry": 1, "vsc_tee_records_total": 5,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

// A worker whose bus would not sign its results with the enclave key does
// not start: the coordinator would refuse every one of them.
func TestWorkerNeedsItsEnclaveToSign(t *testing.T) {
	t.Parallel()
	_, workerBus := newBus(t)
	enc, _ := tee.OpenSim(t.TempDir())
	other, _ := tee.OpenSim(t.TempDir())
	for _, b := range []*bus.Bus{workerBus(other), workerBus(nil)} {
		if err := New(enc, b, nil).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "sign") {
			t.Fatalf("worker with a bus that signs as %s: %v", b.Signer(), err)
		}
	}
}
