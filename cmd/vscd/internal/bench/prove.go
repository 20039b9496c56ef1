package bench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/prover"
	zkworker "github.com/vsc-labs/vsc/prover/worker"
)

// ProveResult is `vscd bench prove --json` (the contract's keys first).
type ProveResult struct {
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

// DefaultProveChunk is bench prove's chunk: with the prover worker's
// default of one proof per core, the shape that proves ≥ 150 records/s on
// a quiet 2-core machine (docs/BENCHMARKS.md, "Prover").
const DefaultProveChunk = 1024

// proveParams are `vscd bench prove`'s flags.
type proveParams struct {
	n, chunk, fields, parallel int
	keys                       string
	seed                       uint64
	pool                       bool
}

func parseProve(args []string) (proveParams, prover.Shape, error) {
	fs := flag.NewFlagSet("bench prove", flag.ContinueOnError)
	var p proveParams
	fs.IntVar(&p.n, "records", 1024, "records in the generated dataset")
	fs.IntVar(&p.chunk, "chunk", DefaultProveChunk, "records per chunk proof (a power of two; default 1024, or fewer for a smaller dataset)")
	fs.IntVar(&p.fields, "fields", 3, "numeric fields per record (1..16)")
	fs.IntVar(&p.parallel, "parallel", zkworker.DefaultParallel(), "chunk proofs run at once (default: the prover worker's, one per core, at most 4)")
	fs.StringVar(&p.keys, "keys", "", "key cache directory (default: a fresh temporary one, so setup is measured)")
	fs.Uint64Var(&p.seed, "seed", 1, "dataset seed")
	fs.BoolVar(&p.pool, "pool", false, "also run the dataset through the prover pool (embedded NATS, one prover worker) and report the coordination overhead")
	if _, err := cli.Parse(fs, args); err != nil {
		return p, prover.Shape{}, err
	}
	chunkSet := false
	fs.Visit(func(fl *flag.Flag) { chunkSet = chunkSet || fl.Name == "chunk" })
	for !chunkSet && p.chunk > 1 && p.chunk/2 >= p.n {
		p.chunk /= 2
	}
	shape := prover.DefaultShape(p.chunk, p.fields)
	if err := shape.Validate(); err != nil {
		return p, shape, cli.Usagef("%v", err)
	}
	if p.n < 1 || p.parallel < 1 {
		return p, shape, cli.Usagef("--records and --parallel must be ≥ 1")
	}
	return p, shape, nil
}

// Prove is `vscd bench prove`: it proves a generated dataset chunk by
// chunk, verifies the evidence, and with --pool runs it through the prover
// pool too. It prints JSON always.
func Prove(ctx context.Context, env *cli.Env, args []string) error {
	p, shape, err := parseProve(args)
	if err != nil {
		return err
	}
	dir := p.keys
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
	res := ProveResult{Records: p.n, Fields: p.fields, Chunk: p.chunk, Chunks: prover.Chunks(p.n, p.chunk), Parallel: p.parallel,
		Shape: shape.String(), Cores: runtime.GOMAXPROCS(0), Keys: "loaded"}
	env.Progress("bench prove: %d records, shape %s, %d chunks", p.n, shape, res.Chunks)
	keys, err := setupKeys(ctx, km, shape, &res)
	if err != nil {
		return err
	}
	ds := proveDataset(p.n, p.fields, p.seed)
	proofs, err := proveChunks(ctx, keys, ds, p, &res)
	if err != nil {
		return err
	}
	if err := verifyProofs(keys, ds, proofs, p.chunk, &res); err != nil {
		return err
	}
	if p.pool {
		if err := provePool(ctx, km, ds, p.chunk, &res); err != nil {
			return fmt.Errorf("pool run: %w", err)
		}
	}
	return printJSON(env, res)
}

// setupKeys makes (or loads) the shape's keys, timing it.
func setupKeys(ctx context.Context, km *prover.KeyManager, shape prover.Shape, res *ProveResult) (*prover.Keys, error) {
	start := time.Now()
	keys, err := km.Keys(ctx, shape)
	if err != nil {
		return nil, err
	}
	res.SetupMS = time.Since(start).Milliseconds()
	if keys.Fresh {
		res.Keys = "setup"
	}
	res.Constraints = keys.Constraints()
	res.ConstraintsPer = float64(res.Constraints) / float64(shape.Chunk)
	res.VKHash = keys.VK.Hash.Hex()
	return keys, nil
}

// proveChunks proves every chunk, p.parallel at once, timing wall and CPU.
func proveChunks(ctx context.Context, keys *prover.Keys, ds *records.Dataset, p proveParams, res *ProveResult) ([]prover.ChunkProof, error) {
	proofs := make([]prover.ChunkProof, res.Chunks)
	cpu0 := cpuSeconds()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.parallel)
	for i := range res.Chunks {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			cp, err := prover.ProveChunk(keys, ds, i)
			if err != nil {
				return err
			}
			proofs[i] = *cp
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prove := time.Since(start)
	res.ProveCPUSeconds = cpuSeconds() - cpu0
	res.RecordsPerCPUSec = float64(p.n) / res.ProveCPUSeconds
	res.RecordsPerSecCPU = res.RecordsPerCPUSec * float64(res.Cores)
	res.ProveMS = prove.Milliseconds()
	res.ProveMSPerChunk = float64(prove.Microseconds()) / 1000 / float64(res.Chunks)
	res.RecordsPerSecond = float64(p.n) / prove.Seconds()
	return proofs, nil
}

// verifyProofs times verifying the assembled evidence, then each chunk
// proof alone.
func verifyProofs(keys *prover.Keys, ds *records.Dataset, proofs []prover.ChunkProof, chunk int, res *ProveResult) error {
	ev, err := prover.Assemble(keys.VK.Hash, chunk, proofs)
	if err != nil {
		return err
	}
	sub := &submission.Submission{Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields))}
	start := time.Now()
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
	return nil
}

// proveDataset makes n records of f fields: mostly small values, some
// full-width ones (the circuit's cost does not depend on the values).
func proveDataset(n, f int, seed uint64) *records.Dataset {
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
