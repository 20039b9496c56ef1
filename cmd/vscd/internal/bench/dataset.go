package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
)

// DatasetResult is `vscd bench dataset --json`: one large dataset minted
// through a devnet, the client in its own process.
type DatasetResult struct {
	Records       int     `json:"records"`
	Fields        int     `json:"fields"`
	Mode          string  `json:"mode"`
	CSVBytes      int64   `json:"csv_bytes"`
	BlobBytes     int64   `json:"blob_bytes"`
	Status        string  `json:"status"`
	GenerateS     float64 `json:"generate_s"`
	EncryptS      float64 `json:"client_encrypt_s"` // read + parse + commit + re-encode + encrypt, one pass
	UploadS       float64 `json:"client_upload_s"`
	VerifyS       float64 `json:"verify_s"` // submitted → final (TEE streaming check, votes, anchor, mint)
	TotalS        float64 `json:"total_s"`
	ClientMBps    float64 `json:"client_encrypt_mb_per_s"`
	ClientRecPerS float64 `json:"client_records_per_s"`
	VerifyRecPerS float64 `json:"verify_records_per_s"`
	ClientPeakMiB float64 `json:"client_peak_rss_mib"`
	VSCDPeakMiB   float64 `json:"vscd_peak_rss_mib"`
	// VSCDUploadMiB is vscd's peak once the blob is stored, before the
	// verifiers ran: what intake and the object store took.
	VSCDUploadMiB  float64 `json:"vscd_peak_rss_after_upload_mib"`
	VSCDPeakSource string  `json:"vscd_peak_rss_source"`
	MemoryLimitMiB int64   `json:"go_memory_limit_mib"`
}

type datasetParams struct {
	records, fields int
	mode, zkKeys    string
	timeout         time.Duration
	memLimitMiB     int64
}

// Dataset is `vscd bench dataset`: it writes a CSV of --records records of
// --fields fields, starts a devnet in this process, runs the client (`vscd
// bench dataset-client`: the SDK path `vsc submit` takes for a large file)
// as a child process, waits for the final status and reports wall time per
// phase and the peak RSS of both processes (getrusage / VmHWM).
func Dataset(start StartPipeline) cli.Func {
	return func(ctx context.Context, env *cli.Env, args []string) error {
		fs := flag.NewFlagSet("bench dataset", flag.ContinueOnError)
		var p datasetParams
		fs.IntVar(&p.records, "records", 1_000_000, "records in the generated dataset")
		fs.IntVar(&p.fields, "fields", 4, "fields per record")
		fs.StringVar(&p.mode, "mode", "tee", "verification mode")
		fs.StringVar(&p.zkKeys, "zk-keys", filepath.Join(os.TempDir(), "vsc-bench-zk-keys"), "zk key cache shared by bench runs")
		fs.DurationVar(&p.timeout, "timeout", time.Hour, "give up after")
		fs.Int64Var(&p.memLimitMiB, "memory-limit", 384, "Go's soft memory limit for both processes, MiB (GOMEMLIMIT, as a deployment sets it; 0: Go's default)")
		if _, err := cli.Parse(fs, args); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		res, err := runDataset(ctx, env, start, p)
		if err != nil {
			return err
		}
		return printJSON(env, res)
	}
}

func runDataset(ctx context.Context, env *cli.Env, start StartPipeline, p datasetParams) (*DatasetResult, error) {
	dir, err := os.MkdirTemp("", "vsc-bench-dataset-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &DatasetResult{Records: p.records, Fields: p.fields, Mode: p.mode, MemoryLimitMiB: p.memLimitMiB}
	if p.memLimitMiB > 0 {
		debug.SetMemoryLimit(p.memLimitMiB << 20)
	}
	t0 := time.Now()
	csvPath := filepath.Join(dir, "data.csv")
	if res.CSVBytes, err = writeCSV(csvPath, p.records, p.fields); err != nil {
		return nil, err
	}
	res.GenerateS = round3(time.Since(t0).Seconds())
	env.Progress("bench dataset: %d records × %d fields, %.1f MiB of CSV; starting a devnet…", p.records, p.fields, float64(res.CSVBytes)/(1<<20))
	ResetPeakRSS()
	pl, err := start(ctx, PipelineConfig{Data: filepath.Join(dir, "devnet"), Quorum: 4, ZKChunk: 4, ZKKeys: p.zkKeys,
		Log: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	defer func() { _ = pl.Stop() }()
	key, _ := crypto.GenerateKey()
	keyFile := filepath.Join(dir, "contributor.key")
	if err := keys.Save(keyFile, key); err != nil {
		return nil, err
	}
	t1 := time.Now()
	child, peak, err := runDatasetClient(ctx, pl, csvPath, keyFile, p.mode, p.memLimitMiB)
	if err != nil {
		return nil, err
	}
	res.EncryptS, res.UploadS, res.BlobBytes, res.ClientPeakMiB = child.EncryptS, child.UploadS, child.BlobBytes, peak
	res.VSCDUploadMiB, _ = PeakRSSMiB()
	env.Progress("bench dataset: client done in %.1fs (encrypt %.1fs, upload %.1fs); waiting for the verdict…", time.Since(t1).Seconds(), child.EncryptS, child.UploadS)
	t2 := time.Now()
	v, err := client.New(pl.API).Wait(ctx, child.ID, "", nil)
	if err != nil {
		return nil, err
	}
	res.Status, res.VerifyS, res.TotalS = string(v.Status), round3(time.Since(t2).Seconds()), round3(time.Since(t0).Seconds())
	res.ClientMBps = round3(float64(res.CSVBytes) / (1 << 20) / max(child.EncryptS, 1e-9))
	res.ClientRecPerS = round3(float64(p.records) / max(child.EncryptS, 1e-9))
	res.VerifyRecPerS = round3(float64(p.records) / max(res.VerifyS, 1e-9))
	res.VSCDPeakMiB, res.VSCDPeakSource = PeakRSSMiB()
	if v.Status != coordinator.Minted {
		return res, fmt.Errorf("the dataset ended %s: %s", v.Status, deref(v.Reason))
	}
	return res, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeCSV writes n records of f fields (small values, a few repeated
// records) and returns the file's size.
func writeCSV(path string, n, f int) (int64, error) {
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	for i := range f {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "f%d", i)
	}
	w.WriteByte('\n')
	rng := rand.New(rand.NewPCG(uint64(n), uint64(f)))
	var num [24]byte
	for range n {
		for i := range f {
			if i > 0 {
				w.WriteByte(',')
			}
			w.Write(strconv.AppendInt(num[:0], rng.Int64N(2_000_000)-1_000_000, 10))
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return 0, err
	}
	st, err := out.Stat()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// datasetClientResult is what the child prints.
type datasetClientResult struct {
	ID        string  `json:"id"`
	BlobBytes int64   `json:"blob_bytes"`
	EncryptS  float64 `json:"encrypt_s"`
	UploadS   float64 `json:"upload_s"`
	PeakMiB   float64 `json:"peak_rss_mib"`
}

// runDatasetClient runs `vscd bench dataset-client` as a child process and
// returns its result and peak RSS (its rusage at exit).
func runDatasetClient(ctx context.Context, pl *Pipeline, csvPath, keyFile, mode string, memLimitMiB int64) (*datasetClientResult, float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "dataset-client", "--api", pl.API, "--sequencer", pl.Sequencer.Hex(),
		"--key", keyFile, "--file", csvPath, "--mode", mode)
	cmd.Env = append(os.Environ(), DatasetClientEnv+"=1")
	if memLimitMiB > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GOMEMLIMIT=%dMiB", memLimitMiB))
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("dataset client: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var r datasetClientResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, 0, fmt.Errorf("dataset client printed %q: %w", out.String(), err)
	}
	peak := r.PeakMiB
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = max(peak, float64(ru.Maxrss)/1024) // Linux: KiB
	}
	return &r, round3(peak), nil
}

// DatasetClientEnv marks the child process of `vscd bench dataset` (tests
// that run the bench in-process re-exec the test binary with it).
const DatasetClientEnv = "VSC_BENCH_DATASET_CLIENT"

// DatasetClient is `vscd bench dataset-client`: what `vsc submit` does for
// a large file (client.PrepareFile, UploadBlobFile, Submit), timed, with
// its own peak RSS.
func DatasetClient(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("bench dataset-client", flag.ContinueOnError)
	api := fs.String("api", "", "coordinator URL")
	seq := fs.String("sequencer", "", "the chain's sequencer address")
	keyFile := fs.String("key", "", "contributor key")
	file := fs.String("file", "", "dataset file")
	mode := fs.String("mode", "tee", "mode")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	key, err := keys.Load(*keyFile)
	if err != nil {
		return err
	}
	c := client.New(*api)
	c.Trust = client.Trust{Sequencer: common.HexToAddress(*seq), AllowSimulation: true}
	blobFile := *file + ".blob"
	defer os.Remove(blobFile)
	t0 := time.Now()
	p, err := c.PrepareFile(ctx, *file, blobFile, client.PrepareOptions{IDAO: "demo", Mode: idao.Mode(*mode), Contributor: keys.Address(key)})
	if err != nil {
		return err
	}
	r := datasetClientResult{EncryptS: round3(time.Since(t0).Seconds())}
	t1 := time.Now()
	if err := c.UploadBlobFile(ctx, p.Submission.DataHash, blobFile, nil); err != nil {
		return err
	}
	sig, err := p.Sign(key)
	if err != nil {
		return err
	}
	v, _, err := c.Submit(ctx, p.Request(sig), nil)
	if err != nil {
		return err
	}
	r.UploadS, r.ID = round3(time.Since(t1).Seconds()), v.ID
	if st, err := os.Stat(blobFile); err == nil {
		r.BlobBytes = st.Size()
	}
	r.PeakMiB, _ = PeakRSSMiB()
	return json.NewEncoder(env.Stdout).Encode(r)
}

// ResetPeakRSS restarts this process's VmHWM from its current RSS (Linux's
// /proc/self/clear_refs "5"; a no-op where that is not there), so a peak
// measured afterwards is the run's, not what came before.
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSSMiB is this process's peak resident set: VmHWM from
// /proc/self/status, else getrusage's ru_maxrss.
func PeakRSSMiB() (float64, string) {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					return round3(kb / 1024), "VmHWM"
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, ""
	}
	return round3(float64(ru.Maxrss) / 1024), "getrusage"
}
