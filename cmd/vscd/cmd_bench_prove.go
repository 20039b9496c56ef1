package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/prover"
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
}

// cmdBenchProve proves a generated dataset chunk by chunk and prints one
// JSON object of figures.
func cmdBenchProve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench prove", flag.ContinueOnError)
	n := fs.Int("records", 1024, "records in the generated dataset")
	c := fs.Int("chunk", 256, "records per chunk proof (a power of two)")
	f := fs.Int("fields", 3, "numeric fields per record (1..16)")
	par := fs.Int("parallel", 1, "chunk proofs run at once (each uses every core)")
	keysDir := fs.String("keys", "", "key cache directory (default: a fresh temporary one, so setup is measured)")
	seed := fs.Uint64("seed", 1, "dataset seed")
	fs.Bool("json", true, "print JSON (always)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	shape := prover.NewShape(*c, *f, prover.FullRange)
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
	if keys.Origin == prover.OriginDev && res.SetupMS > 0 && *keysDir == "" {
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
