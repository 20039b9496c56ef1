package worker

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
)

const (
	chainID = 11
	chunk   = 4
)

// newBus starts NATS and returns the coordinator's bus (jobs, blobs,
// results, reading proofs) and a prover's, whose results the enclave key
// signs.
func newBus(t *testing.T, cfg bus.Config, enclave *ecdsa.PrivateKey) (coord, prover *bus.Bus) {
	t.Helper()
	srv := testenv.NATS(t)
	coord = testenv.Bus(t, srv, cfg)
	cfg.Signer = tee.KeySigner{Key: enclave}
	return coord, testenv.WorkerBus(t, srv, cfg)
}

var (
	kmOnce sync.Once
	km     *prover.KeyManager
)

// keys are cached in testdata/keys (gitignored) across runs.
func keyManager(t *testing.T) *prover.KeyManager {
	kmOnce.Do(func() {
		var err error
		if km, err = prover.NewKeyManager(filepath.Join("testdata", "keys"), nil); err != nil {
			t.Fatal(err)
		}
	})
	return km
}

func csv(n int, big int64) []byte {
	var sb strings.Builder
	sb.WriteString("x,y\n")
	for i := range n {
		fmt.Fprintf(&sb, "%d,%d\n", i*3-7, big-int64(i))
	}
	return []byte(sb.String())
}

// submit does the client's part, uploads the blob and returns one job per chunk.
func submit(t *testing.T, b *bus.Bus, enclave *ecdsa.PrivateKey, data []byte, lie func(*submission.Submission)) []*work.Job {
	t.Helper()
	ds, err := records.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := envelope.Seal(data, &enclave.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	contributor, _ := crypto.GenerateKey()
	sub := submission.Submission{IDAO: "demo", Mode: "zk", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
		DataHash: sealed.DataHash, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: 1}
	if lie != nil {
		lie(&sub)
	}
	sig, err := sub.Sign(chainID, contributor)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PutBlob(context.Background(), sealed.DataHash, sealed.Blob); err != nil {
		t.Fatal(err)
	}
	n := prover.Chunks(ds.Len(), chunk)
	var jobs []*work.Job
	for i := range n {
		jobs = append(jobs, &work.Job{ID: "job-" + sub.Digest(chainID).Hex()[2:10], Kind: Kind, ChainID: chainID, SubmissionID: sub.Digest(chainID),
			Submission: sub, Signature: sig, WrappedKey: sealed.WrappedKey, Chunk: i, Chunks: n, ChunkSize: chunk})
	}
	return jobs
}

func gather(t *testing.T, b *bus.Bus, results []work.Result) *prover.Evidence {
	t.Helper()
	var refs []prover.ChunkRef
	for _, r := range results {
		if !r.OK {
			t.Fatalf("chunk %d: %s", r.Chunk, r.Reason)
		}
		ref, err := prover.DecodeRef(r.Evidence)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	fetch := func(ctx context.Context, bucket, name string) ([]byte, error) {
		return b.GetObject(ctx, bucket, name, bus.MaxProofMsg)
	}
	ev, err := prover.GatherEvidence(context.Background(), refs, fetch)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHandleProvesChunksAndRedeliveryIsHarmless(t *testing.T) {
	t.Parallel()
	enclave, _ := crypto.GenerateKey()
	b, pb := newBus(t, bus.Config{}, enclave)
	w := New(Config{Keys: keyManager(t), EnclaveKey: enclave}, pb)
	jobs := submit(t, b, enclave, csv(10, 1<<40), nil)
	var results []work.Result
	for _, i := range []int{2, 0, 1, 1} { // out of order; chunk 1 proven twice (redelivery)
		res, err := w.Handle(context.Background(), *jobs[i])
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	ev := gather(t, b, results)
	if len(ev.Chunks) != 3 {
		t.Fatalf("%d chunks in the evidence", len(ev.Chunks))
	}
	keys, err := keyManager(t).Keys(context.Background(), prover.NewShape(chunk, 2, prover.FullRange))
	if err != nil {
		t.Fatal(err)
	}
	sub := jobs[0].Submission
	facts, err := prover.VerifyEvidence(keys.VK, ev, &sub)
	if err != nil {
		t.Fatal(err)
	}
	if facts.Count != 10 || facts.Sums[0].Int64() != 3*45-70 {
		t.Fatalf("facts %+v", facts)
	}
	// a quorum member: its own key store, the key fetched by its registered hash
	member, err := prover.NewKeyManager(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.VerifyEvidence([]common.Hash{keys.VK.Hash}, ev, &sub); !errors.Is(err, prover.ErrUnknownVK) {
		t.Fatalf("a member without the key: %v", err)
	}
	if _, err := member.AddVerifyingKey(keys.VK.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := member.VerifyEvidence([]common.Hash{{1}, keys.VK.Hash}, ev, &sub); err != nil {
		t.Fatal(err)
	}
	if _, err := member.VerifyEvidence([]common.Hash{{1}}, ev, &sub); !errors.Is(err, prover.ErrVKMismatch) {
		t.Fatalf("unregistered key: %v", err)
	}
}

func TestHandleRejects(t *testing.T) {
	t.Parallel()
	enclave, _ := crypto.GenerateKey()
	b, pb := newBus(t, bus.Config{}, enclave)
	other, _ := crypto.GenerateKey()
	narrow := func(j work.Job, fields int) (prover.Shape, error) {
		return prover.NewShape(j.ChunkSize, fields, prover.SignedRange(32)), nil
	}
	for _, tc := range []struct {
		name   string
		cfg    Config
		data   []byte
		lie    func(*submission.Submission)
		reason string
	}{
		{"commitment", Config{}, csv(5, 9), func(s *submission.Submission) { s.Commitment[0] ^= 1 }, "commits to"},
		{"record count", Config{}, csv(5, 9), func(s *submission.Submission) { s.Records = 6 }, "declares 6"},
		{"value out of range", Config{Shape: narrow}, csv(5, 1<<40), nil, "outside"},
		{"wrapped for another enclave", Config{EnclaveKey: other}, csv(5, 9), nil, "cannot open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Keys = keyManager(t)
			if cfg.EnclaveKey == nil {
				cfg.EnclaveKey = enclave
			}
			w := New(cfg, pb)
			jobs := submit(t, b, enclave, tc.data, tc.lie)
			res, err := w.Handle(context.Background(), *jobs[0])
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || !res.Rejected || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("result %+v, want rejected with %q", res, tc.reason)
			}
		})
	}
}

// End to end over JetStream: jobs fan out one chunk per message to two
// provers; the results gather into evidence that verifies.
func TestProverPoolOverJetStream(t *testing.T) {
	t.Parallel()
	enclave, _ := crypto.GenerateKey()
	b, pb := newBus(t, bus.Config{Concurrency: 1}, enclave)
	hashes, err := keyManager(t).Warm(context.Background(), prover.DefaultShape(chunk, 2))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keyManager(t).Keys(context.Background(), prover.DefaultShape(chunk, 2))
	if err != nil || keys.VK.Hash != hashes[0] {
		t.Fatalf("warm %v: %v", hashes, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		w := New(Config{Keys: keyManager(t), EnclaveKey: enclave}, pb)
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Stop(context.Background()) })
	}
	jobs := submit(t, b, enclave, csv(9, -5), nil)
	if err := errors.Join(b.PublishJobs(ctx, jobs)...); err != nil {
		t.Fatal(err)
	}
	got := make(chan work.Result)
	rctx, rcancel := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Results(rctx, func(ctx context.Context, r work.Result) error {
			select {
			case got <- r:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	byChunk := map[int]work.Result{}
	deadline := time.After(2 * time.Minute) // a guard against a hang, not a timing assertion
	for len(byChunk) < len(jobs) {
		select {
		case r := <-got:
			byChunk[r.Chunk] = r
		case <-deadline:
			t.Fatalf("only %d of %d chunk results arrived", len(byChunk), len(jobs))
		}
	}
	rcancel()
	cancel()
	wg.Wait()
	var results []work.Result
	for _, r := range byChunk {
		results = append(results, r)
	}
	ev := gather(t, b, results)
	sub := jobs[0].Submission
	if _, err := prover.VerifyEvidence(keys.VK, ev, &sub); err != nil {
		t.Fatal(err)
	}
}

// A prover that fails mid-job (its first attempt at chunk 1 errors, as if it
// died before acking): JetStream redelivers the chunk, it is proven again,
// and the evidence still has each chunk once and verifies.
func TestChunkRedeliveredAfterProverFailure(t *testing.T) {
	t.Parallel()
	enclave, _ := crypto.GenerateKey()
	b, pb := newBus(t, bus.Config{Concurrency: 1, MaxDeliver: 3, Backoff: time.Millisecond}, enclave)
	w := New(Config{Keys: keyManager(t), EnclaveKey: enclave}, pb)
	jobs := submit(t, b, enclave, csv(11, 3), nil)
	var mu sync.Mutex
	attempts := map[int]int{}
	flaky := func(ctx context.Context, j work.Job) (work.Result, error) {
		mu.Lock()
		attempts[j.Chunk]++
		first := attempts[j.Chunk] == 1
		mu.Unlock()
		if j.Chunk == 1 && first {
			return work.Result{}, errors.New("prover died mid-proof")
		}
		return w.Handle(ctx, j)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = pb.Work(ctx, Kind, flaky) }()
	got := make(chan work.Result)
	go func() {
		defer wg.Done()
		_ = b.Results(ctx, func(ctx context.Context, r work.Result) error {
			select {
			case got <- r:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	if err := errors.Join(b.PublishJobs(ctx, jobs)...); err != nil {
		t.Fatal(err)
	}
	var results []work.Result
	deadline := time.After(2 * time.Minute) // a guard against a hang, not a timing assertion
	for len(results) < len(jobs) {
		select {
		case r := <-got:
			results = append(results, r)
		case <-deadline:
			t.Fatalf("only %d of %d chunk results arrived", len(results), len(jobs))
		}
	}
	cancel()
	wg.Wait()
	if attempts[1] != 2 {
		t.Fatalf("chunk 1 was attempted %d times, want 2", attempts[1])
	}
	seen := map[int]bool{}
	for _, r := range results {
		if seen[r.Chunk] {
			t.Fatalf("chunk %d has two results", r.Chunk)
		}
		seen[r.Chunk] = true
	}
	ev := gather(t, b, results)
	keys, err := keyManager(t).Keys(context.Background(), prover.DefaultShape(chunk, 2))
	if err != nil {
		t.Fatal(err)
	}
	sub := jobs[0].Submission
	if _, err := prover.VerifyEvidence(keys.VK, ev, &sub); err != nil {
		t.Fatal(err)
	}
}
