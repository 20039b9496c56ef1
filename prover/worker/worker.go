// Package worker is the ZK prover role (`vscd worker`, and inside `vscd
// devnet`): it pulls "zk" jobs from JetStream — one message per chunk, so
// any number of provers share one dataset — fetches the ciphertext blob,
// unwraps the data key with the enclave key like a TEE worker (in production
// it runs inside the enclave), parses the records, proves its chunk, stores
// the proof in the "proofs" bucket (one capped message each) and returns a
// prover.ChunkRef as the result's evidence, signed like every result by the
// enclave key (bus.Config.Signer). A prover that dies mid-proof leaves its job unacked:
// JetStream redelivers it, the chunk is proven again under the same object
// name, and prover.GatherEvidence keeps one proof per chunk.
package worker

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
)

// Kind is the job kind this worker consumes.
const Kind = idao.KindZK

// Store is what the worker needs of the bus: blobs in, proofs out.
type Store interface {
	GetBlob(ctx context.Context, dataHash common.Hash) ([]byte, error)
	PutObject(ctx context.Context, bucket, name string, data []byte) error
}

// Config configures a Worker.
type Config struct {
	Keys       *prover.KeyManager
	EnclaveKey *ecdsa.PrivateKey // unwraps data keys; the same key as the TEE verifier set's
	// Open, when set, decrypts a blob instead of EnclaveKey: the prover runs
	// inside the enclave that holds the key (tee.Enclave.OpenEnvelope).
	Open func(blob, wrapped []byte, dataHash common.Hash) ([]byte, error)
	// OpenStream, when set and the store streams blobs (BlobOpener),
	// decrypts a blob as it is fetched instead of Open: the worker then
	// holds the parsed records, never the blob or its plaintext
	// (tee.Enclave.OpenEnvelopeStream).
	OpenStream func(blob io.Reader, wrapped []byte, dataHash common.Hash) (io.Reader, error)
	// Shape picks the circuit for a job and a dataset of fields fields;
	// nil means prover.DefaultShape(j.ChunkSize, fields).
	Shape func(j work.Job, fields int) (prover.Shape, error)
	// Parallel is how many chunk proofs run at once (0: DefaultParallel).
	// One gnark proof of a small chunk leaves cores idle in its serial
	// parts, so two at once on two cores prove nearly twice the records per
	// second at C = 256 (docs/BENCHMARKS.md), for twice the memory.
	Parallel int
	Log      *slog.Logger
}

// DefaultParallel is the chunk proofs a worker runs at once by default: one
// per core, at most 4 (beyond that each proof's own parallelism suffices).
func DefaultParallel() int { return min(max(runtime.NumCPU(), 1), 4) }

// BlobOpener is a Store that streams blobs (the bus does).
type BlobOpener interface {
	OpenBlob(ctx context.Context, dataHash common.Hash) (io.ReadCloser, int64, error)
}

// Worker proves chunks. It is a service.Service: Start checks that its bus
// signs with the enclave key and consumes zk jobs on a goroutine of its own
// until Stop, which waits for the proofs in flight.
type Worker struct {
	cfg   Config
	store Store
	bus   *bus.Bus
	log   *slog.Logger
	name  string
	loop  service.Group

	mu     sync.Mutex
	cached struct { // the last dataset parsed: consecutive chunks of one dataset decrypt once
		data, wrapped common.Hash
		ds            *records.Dataset
	}
}

// New returns a worker over b.
func New(cfg Config, b *bus.Bus) *Worker {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg, bus: b, name: "zk-prover"}
	if cfg.EnclaveKey != nil {
		w.name = "zk-" + crypto.PubkeyToAddress(cfg.EnclaveKey.PublicKey).Hex()[:10]
	}
	if w.cfg.Open == nil {
		w.cfg.Open = func(blob, wrapped []byte, dataHash common.Hash) ([]byte, error) {
			if cfg.EnclaveKey == nil {
				return nil, errors.New("prover worker has no way to open data: set EnclaveKey or Open")
			}
			return envelope.Open(blob, wrapped, dataHash, cfg.EnclaveKey)
		}
	}
	w.log = log.With("role", "zk-prover")
	if b != nil {
		w.store = b
	}
	return w
}

// Start checks the worker's bus and consumes zk jobs until Stop.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.check(); err != nil {
		return err
	}
	return w.loop.Go(ctx, w.work)
}

// Stop stops taking jobs and waits for the proofs in flight, at most until
// ctx ends. It copes with a worker that never started.
func (w *Worker) Stop(ctx context.Context) error { return w.loop.Stop(ctx) }

// Done is closed when the worker's consumer failed, or on Stop.
func (w *Worker) Done() <-chan struct{} { return w.loop.Done() }

// Err is why the worker's consumer failed, if it did.
func (w *Worker) Err() error { return w.loop.Err() }

// check refuses a worker whose results the coordinator would not believe.
func (w *Worker) check() error {
	if w.bus == nil {
		return errors.New("zk worker: no bus")
	}
	if signer := w.bus.Signer(); signer == (common.Address{}) ||
		(w.cfg.EnclaveKey != nil && signer != crypto.PubkeyToAddress(w.cfg.EnclaveKey.PublicKey)) {
		return fmt.Errorf("zk worker: its bus signs results as %s, not with the enclave key (bus.Config.Signer): the coordinator would believe none", signer.Hex())
	}
	return nil
}

func (w *Worker) work(ctx context.Context) error {
	w.log.Info("zk prover started", "keys", w.cfg.Keys.Dir())
	n := w.cfg.Parallel
	if n < 1 {
		n = DefaultParallel()
	}
	return w.bus.WorkN(ctx, Kind, n, w.Handle)
}

// Handle proves chunk j.Chunk of the job's dataset. A returned error is
// transient (blob or key store unavailable) and the job is redelivered; a
// dataset that contradicts its submission (undecryptable, unparsable, wrong
// record count or commitment, a value outside the declared range) is a
// Rejected result with the reason.
func (w *Worker) Handle(ctx context.Context, j work.Job) (work.Result, error) {
	start := time.Now()
	log := w.log.With("job", j.ID, "submission", j.SubmissionID.Hex(), "chunk", j.Chunk)
	res := work.Result{JobID: j.ID, Kind: j.Kind, SubmissionID: j.SubmissionID, Chunk: j.Chunk, Worker: w.name}
	if reason := checkJob(j); reason != "" {
		res.Reason = reason
		return res, nil
	}
	ds, err := w.checkedDataset(ctx, j)
	if err == nil {
		res.Evidence, err = w.prove(ctx, j, ds, log)
	}
	var rej rejection
	var nc noCircuit
	switch {
	case errors.As(err, &rej):
		res.Rejected = true
		res.Reason = rej.Error()
		log.Info("zk job rejected", "reason", res.Reason)
		return res, nil
	case errors.As(err, &nc):
		res.Reason = nc.Error()
		return res, nil
	case err != nil:
		return work.Result{}, err
	}
	res.OK = true
	log.Debug("zk job done", "total_ms", time.Since(start).Milliseconds())
	return res, nil
}

// checkJob says what makes j a job this worker cannot take, or "".
func checkJob(j work.Job) string {
	sub := &j.Submission
	switch {
	case j.Kind != Kind:
		return fmt.Sprintf("zk worker got a %q job", j.Kind)
	case j.ChunkSize < 1 || j.ChunkSize&(j.ChunkSize-1) != 0 || j.ChunkSize > prover.MaxChunk:
		return fmt.Sprintf("zk job has chunk size %d: want a power of two up to %d", j.ChunkSize, prover.MaxChunk)
	case j.Chunk < 0 || j.Chunk >= j.Chunks || j.Chunks != prover.Chunks(int(sub.Records), j.ChunkSize):
		return fmt.Sprintf("zk job chunk %d of %d does not fit %d records in chunks of %d", j.Chunk, j.Chunks, sub.Records, j.ChunkSize)
	case sub.Digest(j.ChainID) != j.SubmissionID:
		return fmt.Sprintf("job names submission %s but its submission digests to another id", j.SubmissionID.Hex())
	}
	return ""
}

// checkedDataset is the job's dataset once the contributor's signature, the
// wrapped key, the record count and (on chunk 0, so a bad one is named
// early) the commitment agree with the signed submission; a disagreement is
// a rejection.
func (w *Worker) checkedDataset(ctx context.Context, j work.Job) (*records.Dataset, error) {
	sub := &j.Submission
	if err := sub.Verify(j.ChainID, j.Signature); err != nil {
		return nil, rejection{fmt.Errorf("the contributor's signature does not verify: %v", err)}
	}
	if crypto.Keccak256Hash(j.WrappedKey) != sub.WrappedKeyHash {
		return nil, rejection{errors.New("the wrapped key does not hash to the signed wrappedKeyHash")}
	}
	ds, err := w.dataset(ctx, j)
	if err != nil {
		return nil, err
	}
	if uint64(ds.Len()) != sub.Records {
		return nil, rejection{fmt.Errorf("the dataset has %d records, the submission declares %d", ds.Len(), sub.Records)}
	}
	if len(ds.Fields) != int(sub.Fields) {
		return nil, rejection{fmt.Errorf("the dataset has %d fields per record, the submission declares %d", len(ds.Fields), sub.Fields)}
	}
	if j.Chunk == 0 {
		if c := records.Commitment(ds); c != sub.Commitment {
			return nil, rejection{fmt.Errorf("the dataset commits to %s, the submission signed %s", c.Hex(), sub.Commitment.Hex())}
		}
	}
	return ds, nil
}

// prove proves the job's chunk of ds, checks the proof, stores it and
// returns the evidence naming it.
func (w *Worker) prove(ctx context.Context, j work.Job, ds *records.Dataset, log *slog.Logger) (json.RawMessage, error) {
	keys, err := w.keys(ctx, j, len(ds.Fields))
	if err != nil {
		return nil, err
	}
	shape := keys.VK.Shape
	proveStart := time.Now()
	cp, err := prover.ProveChunk(keys, ds, j.Chunk)
	if errors.Is(err, prover.ErrOutOfRange) || errors.Is(err, prover.ErrDatasetShape) {
		return nil, rejection{err}
	}
	if err != nil {
		return nil, err
	}
	proveMS := time.Since(proveStart).Milliseconds()
	if err := prover.VerifyChunk(keys.VK, cp); err != nil {
		return nil, fmt.Errorf("own proof of chunk %d does not verify (corrupt keys?): %w", j.Chunk, err)
	}
	data, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	name := prover.ProofObjectName(j.SubmissionID, keys.VK.Hash, j.Chunk)
	if err := w.store.PutObject(ctx, bus.ProofBucket, name, data); err != nil {
		return nil, fmt.Errorf("store proof of chunk %d: %w", j.Chunk, err)
	}
	log.Info("zk chunk proven", "shape", shape.String(), "records", cp.Count, "prove_ms", proveMS)
	return json.Marshal(prover.ChunkRef{Kind: prover.RefKind, VKHash: keys.VK.Hash, Shape: shape, ChunkSize: j.ChunkSize,
		Chunks: j.Chunks, Index: j.Chunk, Bucket: bus.ProofBucket, Object: name, Root: cp.Root, Count: cp.Count,
		Sums: cp.Sums, ProveMS: proveMS})
}

// keys are the proving keys of the job's circuit: the registered shape the
// job names (installed keys only: no setup on a job's path), or for an
// iDAO without shapes the configured or default shape of its field count.
func (w *Worker) keys(ctx context.Context, j work.Job, fields int) (*prover.Keys, error) {
	if j.VKHash != (common.Hash{}) {
		keys, err := w.cfg.Keys.Installed(ctx, j.VKHash)
		if errors.Is(err, prover.ErrUnknownVK) || errors.Is(err, prover.ErrNoKeys) {
			return nil, noCircuit{fmt.Errorf("no circuit for this job: %v (install the shape's keys with `vscd zk setup` or `vscd zk import`)", err)}
		}
		if err != nil {
			return nil, fmt.Errorf("zk keys %s: %w", j.VKHash, err)
		}
		if s := keys.VK.Shape; s.Chunk != j.ChunkSize || s.Fields() != fields {
			return nil, noCircuit{fmt.Errorf("the job's circuit %s does not prove chunks of %d records of %d fields", s, j.ChunkSize, fields)}
		}
		return keys, nil
	}
	shape := prover.DefaultShape(j.ChunkSize, fields)
	if w.cfg.Shape != nil {
		var err error
		if shape, err = w.cfg.Shape(j, fields); err != nil {
			return nil, noCircuit{fmt.Errorf("no circuit for this job: %v", err)}
		}
	}
	keys, err := w.cfg.Keys.Keys(ctx, shape)
	if err != nil {
		return nil, fmt.Errorf("zk keys for %s: %w", shape, err)
	}
	return keys, nil
}

// fetchDataset fetches, decrypts and parses the job's blob: as a stream
// when the worker can (OpenStream and a streaming store), else whole.
func (w *Worker) fetchDataset(ctx context.Context, j work.Job) (*records.Dataset, error) {
	h := j.Submission.DataHash
	if o, ok := w.store.(BlobOpener); ok && w.cfg.OpenStream != nil {
		r, _, err := o.OpenBlob(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("fetch blob %s: %w", h.Hex(), err)
		}
		defer r.Close()
		plain, err := w.cfg.OpenStream(r, j.WrappedKey, h)
		if err != nil {
			return nil, rejection{fmt.Errorf("cannot open the encrypted dataset: %w", err)}
		}
		ds := &records.Dataset{}
		fields, _, err := records.Scan(plain, func(fields []string, recs [][]int64) error {
			flat := make([]int64, 0, len(recs)*len(fields))
			for _, rec := range recs {
				start := len(flat)
				flat = append(flat, rec...)
				ds.Records = append(ds.Records, flat[start:len(flat):len(flat)])
			}
			return nil
		})
		switch {
		case errors.Is(err, envelope.ErrDataHash):
			return nil, fmt.Errorf("blob %s: %w", h.Hex(), err) // the storage's fault: retried
		case errors.Is(err, records.ErrInvalid):
			return nil, rejection{err}
		case err != nil && envelope.CheckRest(plain) != nil:
			return nil, fmt.Errorf("blob %s is not the signed one: %w", h.Hex(), err)
		case err != nil:
			return nil, rejection{fmt.Errorf("cannot open the encrypted dataset: %w", err)}
		}
		ds.Fields = fields
		return ds, nil
	}
	blob, err := w.store.GetBlob(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("fetch blob %s: %w", h.Hex(), err)
	}
	plain, err := w.cfg.Open(blob, j.WrappedKey, h)
	if err != nil {
		return nil, rejection{fmt.Errorf("cannot open the encrypted dataset: %w", err)}
	}
	ds, err := records.Parse(plain)
	if err != nil {
		return nil, rejection{err}
	}
	return ds, nil
}

// rejection is an error the data itself caused: the submission is rejected.
type rejection struct{ error }

// noCircuit is a job no registered circuit fits: the job fails, the data is
// not judged.
type noCircuit struct{ error }

// dataset returns the job's parsed plaintext, from the one-entry cache when
// the previous job was for the same blob.
func (w *Worker) dataset(ctx context.Context, j work.Job) (*records.Dataset, error) {
	h, wk := j.Submission.DataHash, j.Submission.WrappedKeyHash // Handle checked wk = keccak256(j.WrappedKey)
	w.mu.Lock()
	if w.cached.ds != nil && w.cached.data == h && w.cached.wrapped == wk {
		ds := w.cached.ds
		w.mu.Unlock()
		return ds, nil
	}
	w.mu.Unlock()
	ds, err := w.fetchDataset(ctx, j)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.cached.data, w.cached.wrapped, w.cached.ds = h, wk, ds
	w.mu.Unlock()
	return ds, nil
}
