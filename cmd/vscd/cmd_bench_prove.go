package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/natsembed"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	zkworker "github.com/vsc-labs/vsc/prover/worker"
	"github.com/vsc-labs/vsc/tee"
)

func init() {
	extraCommands = append(extraCommands,
		cli.Command{Name: "bench prove", Usage: "--records N [--chunk C] [--fields F] [--parallel P] [--keys DIR] --json: ZK setup, chunk proofs and evidence verification", Run: wrap(cmdBenchProve)},
	)
}

// benchProveResult is `vscd bench prove --json` (CONTRACT.md keys first).
type benchProveResult struct {
	Records          int     `json:"records"`
	Constraints      int     `json:"constraints"` // of one chunk circuit
	SetupMS          int64   `json:"setup_ms"`    // compile + Groth16 setup (or load, when --keys holds them)
	ProveMS          int64   `json:"prove_ms"`    // every chunk, wall time
	VerifyMS         float64 `json:"verify_ms"`   // VerifyEvidence over all chunks, wall time
	RecordsPerSecond float64 `json:"records_per_second"`
	Fields           int     `json:"fields"`
	Chunk            int     `json:"chunk"`
	Chunks           int     `json:"chunks"`
	Parallel         int     `json:"parallel"`
	ConstraintsPer   float64 `json:"constraints_per_record"`
	ProveMSPerChunk  float64 `json:"prove_ms_per_chunk"`
	VerifyMSPerChunk float64 `json:"verify_ms_per_chunk"` // one chunk proof, sequential
	Keys             string  `json:"keys"`                // "setup" or "loaded"
	Shape            string  `json:"shape"`
	VKHash           string  `json:"vk_hash"`
	Cores            int     `json:"cores"`
	// CPU-time figures: the process's user+system time while proving, so
	// load from other processes on a shared machine does not distort them.
	ProveCPUSeconds  float64 `json:"prove_cpu_s"`
	RecordsPerCPUSec float64 `json:"records_per_cpu_second"`
	RecordsPerSecCPU float64 `json:"records_per_second_by_cpu"`   // records_per_cpu_second × cores: an idle machine, perfect scaling
	PoolMS           int64   `json:"pool_ms,omitempty"`           // --pool: publish jobs → all results → evidence gathered and verified
	PoolProveMS      int64   `json:"pool_prove_ms,omitempty"`     // the worker's gnark prove time, summed over chunks
	PoolOverheadPct  float64 `json:"pool_overhead_pct,omitempty"` // (pool_ms − pool_prove_ms) / pool_prove_ms × 100
}

// cmdBenchProve proves a generated dataset chunk by chunk and prints one
// JSON object of figures.
func cmdBenchProve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench prove", flag.ContinueOnError)
	n := fs.Int("records", 1024, "records in the generated dataset")
	c := fs.Int("chunk", 256, "records per chunk proof (a power of two; default 256, or fewer for a smaller dataset)")
	f := fs.Int("fields", 3, "numeric fields per record (1..16)")
	par := fs.Int("parallel", 1, "chunk proofs run at once (each uses every core)")
	keysDir := fs.String("keys", "", "key cache directory (default: a fresh temporary one, so setup is measured)")
	seed := fs.Uint64("seed", 1, "dataset seed")
	pool := fs.Bool("pool", false, "also run the dataset through the prover pool (embedded NATS, one prover worker) and report the coordination overhead")
	fs.Bool("json", true, "print JSON (always)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	chunkSet := false
	fs.Visit(func(fl *flag.Flag) { chunkSet = chunkSet || fl.Name == "chunk" })
	for !chunkSet && *c > 1 && *c/2 >= *n {
		*c /= 2
	}
	shape := prover.DefaultShape(*c, *f)
	if err := shape.Validate(); err != nil {
		return cli.Usagef("%v", err)
	}
	if *n < 1 || *par < 1 {
		return cli.Usagef("--records and --parallel must be ≥ 1")
	}
	dir := *keysDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "vsc-bench-prove-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	km, err := prover.NewKeyManager(dir, nil)
	if err != nil {
		return err
	}
	res := benchProveResult{Records: *n, Fields: *f, Chunk: *c, Chunks: prover.Chunks(*n, *c), Parallel: *par,
		Shape: shape.String(), Cores: runtime.GOMAXPROCS(0), Keys: "loaded"}
	fmt.Fprintf(stderr, "bench prove: %d records, shape %s, %d chunks\n", *n, shape, res.Chunks)

	start := time.Now()
	keys, err := km.Keys(ctx, shape)
	if err != nil {
		return err
	}
	res.SetupMS = time.Since(start).Milliseconds()
	if keys.Fresh {
		res.Keys = "setup"
	}
	res.Constraints = keys.Constraints()
	res.ConstraintsPer = float64(res.Constraints) / float64(*c)
	res.VKHash = keys.VK.Hash.Hex()

	ds := proveBenchDataset(*n, *f, *seed)
	proofs := make([]prover.ChunkProof, res.Chunks)
	errs := make([]error, res.Chunks)
	next := make(chan int)
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	start = time.Now()
	for range *par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cp, err := prover.ProveChunk(keys, ds, i)
				if err != nil {
					errs[i] = err
					continue
				}
				proofs[i] = *cp
			}
		}()
	}
feed:
	for i := range res.Chunks {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	prove := time.Since(start)
	res.ProveCPUSeconds = cpuSeconds() - cpu0
	res.RecordsPerCPUSec = float64(*n) / res.ProveCPUSeconds
	res.RecordsPerSecCPU = res.RecordsPerCPUSec * float64(res.Cores)
	res.ProveMS = prove.Milliseconds()
	res.ProveMSPerChunk = float64(prove.Microseconds()) / 1000 / float64(res.Chunks)
	res.RecordsPerSecond = float64(*n) / prove.Seconds()

	ev, err := prover.Assemble(keys.VK.Hash, *c, proofs)
	if err != nil {
		return err
	}
	sub := &submission.Submission{Commitment: records.Commitment(ds), Records: uint64(*n)}
	start = time.Now()
	if _, err := prover.VerifyEvidence(keys.VK, ev, sub); err != nil {
		return fmt.Errorf("the bench's own evidence does not verify: %w", err)
	}
	res.VerifyMS = float64(time.Since(start).Microseconds()) / 1000
	start = time.Now()
	for i := range proofs {
		if err := prover.VerifyChunk(keys.VK, &proofs[i]); err != nil {
			return err
		}
	}
	res.VerifyMSPerChunk = float64(time.Since(start).Microseconds()) / 1000 / float64(res.Chunks)
	if *pool {
		if err := benchProvePool(ctx, km, ds, *c, &res); err != nil {
			return fmt.Errorf("pool run: %w", err)
		}
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(res)
}

// proveBenchDataset makes n records of f fields: mostly small values, some
// full-width ones (the circuit's cost does not depend on the values).
func proveBenchDataset(n, f int, seed uint64) *records.Dataset {
	rng := rand.New(rand.NewPCG(seed, 2))
	ds := &records.Dataset{Fields: make([]string, f), Records: make([][]int64, n)}
	for i := range ds.Fields {
		ds.Fields[i] = fmt.Sprintf("f%d", i)
	}
	for i := range ds.Records {
		rec := make([]int64, f)
		for j := range rec {
			if rng.IntN(8) == 0 {
				rec[j] = int64(rng.Uint64())
			} else {
				rec[j] = rng.Int64N(1_000_000) - 500_000
			}
		}
		ds.Records[i] = rec
	}
	return ds
}

// benchProvePool runs the dataset through the real prover pool path:
// sealed blob in the object store, one JetStream job per chunk, one worker
// (so its proofs run one at a time, like the direct run), results gathered
// into evidence and verified.
func benchProvePool(ctx context.Context, km *prover.KeyManager, ds *records.Dataset, chunk int, res *benchProveResult) error {
	dir, err := os.MkdirTemp("", "vsc-bench-pool-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, creds, err := startNATS(natsembed.Options{StoreDir: dir}, "", []natsUser{
		{name: "coordinator", roles: []bus.Role{bus.RoleCoordinator}}, {name: "prover", roles: []bus.Role{bus.RoleZK}}})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	b, err := bus.ConnectInProcess(srv, creds["coordinator"], bus.Config{Concurrency: 1}, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Ensure(ctx); err != nil {
		return err
	}
	enclave, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	contributor, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	var csv bytes.Buffer
	csv.WriteString(strings.Join(ds.Fields, ",") + "\n")
	for _, r := range ds.Records {
		for i, v := range r {
			if i > 0 {
				csv.WriteByte(',')
			}
			csv.WriteString(strconv.FormatInt(v, 10))
		}
		csv.WriteByte('\n')
	}
	sealed, err := envelope.Seal(csv.Bytes(), &enclave.PublicKey)
	if err != nil {
		return err
	}
	const chainID = 1
	sub := submission.Submission{IDAO: "bench", Mode: "zk", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
		DataHash: sealed.DataHash, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: 1}
	sig, err := sub.Sign(chainID, contributor)
	if err != nil {
		return err
	}
	if err := b.PutBlob(ctx, sealed.DataHash, sealed.Blob); err != nil {
		return err
	}
	id := sub.Digest(chainID)
	n := prover.Chunks(ds.Len(), chunk)
	jobs := make([]*work.Job, n)
	for i := range jobs {
		jobs[i] = &work.Job{ID: "bench-" + id.Hex()[2:14], Kind: "zk", ChainID: chainID, SubmissionID: id, Submission: sub,
			Signature: sig, WrappedKey: sealed.WrappedKey, Chunk: i, Chunks: n, ChunkSize: chunk}
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	pb, err := bus.ConnectInProcess(srv, creds["prover"], bus.Config{Concurrency: 1, Signer: tee.KeySigner{Key: enclave}}, nil)
	if err != nil {
		return err
	}
	defer pb.Close()
	w := zkworker.New(zkworker.Config{Keys: km, EnclaveKey: enclave}, pb)
	results := make(chan work.Result)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = w.Run(wctx) }()
	go func() {
		defer wg.Done()
		_ = b.Results(wctx, func(ctx context.Context, r work.Result) error {
			select {
			case results <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer wg.Wait()
	defer stop()
	start := time.Now()
	if err := errors.Join(b.PublishJobs(ctx, jobs)...); err != nil {
		return err
	}
	refs := map[int]prover.ChunkRef{}
	for len(refs) < n {
		select {
		case r := <-results:
			if !r.OK {
				return fmt.Errorf("chunk %d: %s", r.Chunk, r.Reason)
			}
			var ref prover.ChunkRef
			if err := json.Unmarshal(r.Evidence, &ref); err != nil {
				return err
			}
			if _, dup := refs[ref.Index]; !dup {
				res.PoolProveMS += ref.ProveMS
			}
			refs[ref.Index] = ref
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var list []prover.ChunkRef
	for _, r := range refs {
		list = append(list, r)
	}
	fetch := func(ctx context.Context, bucket, name string) ([]byte, error) {
		return b.GetObject(ctx, bucket, name, bus.MaxProofMsg)
	}
	ev, err := prover.GatherEvidence(ctx, list, fetch)
	if err != nil {
		return err
	}
	vk, err := km.VerifyingKey(ev.VKHash)
	if err != nil {
		return err
	}
	if _, err := prover.VerifyEvidence(vk, ev, &sub); err != nil {
		return err
	}
	res.PoolMS = time.Since(start).Milliseconds()
	res.PoolOverheadPct = float64(res.PoolMS-res.PoolProveMS) / float64(max(res.PoolProveMS, 1)) * 100
	return nil
}
