package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/records"
)

func init() {
	extraCommands = append(extraCommands, cli.Command{Name: "bench e2e",
		Usage: "--submissions N --mode tee|zk|tee+zk [--clients C] --json: submit → minted through a whole in-process devnet",
		Run:   wrap(cmdBenchE2E)})
}

// cmdBenchE2E runs a devnet in-process (4 members, its own data dir and
// database), prepares N signed, encrypted 16-record datasets before the
// clock starts, submits them with C concurrent clients and waits until every
// one is final. Latency is submit → minted, measured by the coordinator.
func cmdBenchE2E(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench e2e", flag.ContinueOnError)
	n := fs.Int("submissions", 1000, "submissions")
	mode := fs.String("mode", "tee", "tee, zk or tee+zk")
	clients := fs.Int("clients", 16, "concurrent submitting clients")
	recordsPer := fs.Int("records", 16, "records per dataset")
	quorum := fs.Int("quorum", 4, "quorum members")
	zkChunk := fs.Int("zk-chunk", 16, "records per zk chunk proof")
	zkKeys := fs.String("zk-keys", filepath.Join(os.TempDir(), "vsc-bench-zk-keys"), "zk key cache shared by bench runs")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed phase")
	rate := fs.Float64("rate", 0, "offer submissions at this many per second (open loop; 0: as fast as the clients go)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	data, err := os.MkdirTemp("", "vsc-bench-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	cfg := devnetConfig{Data: data, Listen: "127.0.0.1:0", Quorum: *quorum, Lanes: 2, ZKKeys: *zkKeys}
	cfg.Coordinator.ChainID, cfg.Coordinator.ZKChunk, cfg.Coordinator.VoteTimeout = 1337, *zkChunk, 10*time.Minute
	// The bench measures the pipeline, not the per-client rate limit: its
	// clients all come from one address, so its devnet has none.
	cfg.Coordinator.IntakeRate = -1
	cfg.Coordinator.Listen = cfg.Listen
	fmt.Fprintf(stderr, "bench e2e: starting a devnet (%d members, zk chunk %d)…\n", *quorum, *zkChunk)
	d := &devnet{cfg: cfg, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), out: io.Discard}
	if err := d.start(ctx); err != nil {
		d.stop()
		return err
	}
	defer func() {
		d.stop()
		_ = pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(d.cfg.Data))
	}()
	api := client.New("http://" + d.coord.Addr())

	fmt.Fprintf(stderr, "bench e2e: preparing %d %s submissions of %d records…\n", *n, *mode, *recordsPer)
	type prepared struct {
		req  *coordinator.SubmitRequest
		blob []byte
	}
	subs := make([]prepared, *n)
	var wg sync.WaitGroup
	var prepErr atomic.Value
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < *n; i += 2 {
				key, _ := crypto.GenerateKey()
				ds := &records.Dataset{Fields: []string{"t", "temp", "hum", "wind"}}
				for r := range *recordsPer {
					ds.Records = append(ds.Records, []int64{int64(i*1000 + r), rng.Int64N(400) - 100, rng.Int64N(100), rng.Int64N(80)})
				}
				zero := uint64(0)
				p, err := api.PrepareFor(ctx, ds, d.enclave.PublicKey(), cfg.Coordinator.ChainID, client.PrepareOptions{
					IDAO: "demo", Mode: idao.Mode(*mode), Contributor: keys.Address(key), Nonce: &zero})
				if err != nil {
					prepErr.Store(err)
					return
				}
				sig, _ := p.Sign(key)
				subs[i] = prepared{p.Request(sig), p.Blob()}
			}
		}()
	}
	wg.Wait()
	if err, _ := prepErr.Load().(error); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *rate > 0 {
		fmt.Fprintf(stderr, "bench e2e: offering %.0f submissions/s with up to %d clients…\n", *rate, *clients)
	} else {
		fmt.Fprintf(stderr, "bench e2e: submitting with %d clients…\n", *clients)
	}
	cpu0, busy0 := cpuSeconds(), machineBusySeconds()
	start := time.Now()
	var next atomic.Int64
	var submitErr atomic.Value
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				if *rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))))
				}
				if _, _, err := api.Submit(ctx, subs[i].req, subs[i].blob); err != nil {
					submitErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := submitErr.Load().(error); err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	var final, minted int
	for {
		err := d.store.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('minted','rejected','failed','overturned')),
			count(*) FILTER (WHERE status='minted') FROM submissions`).Scan(&final, &minted)
		if err != nil {
			return err
		}
		if final >= *n {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d submissions final after %s", final, *n, *timeout)
		}
		fmt.Fprintf(stderr, "\rbench e2e: %d/%d final (%.1fs)", final, *n, time.Since(start).Seconds())
		time.Sleep(200 * time.Millisecond)
	}
	secs := time.Since(start).Seconds()
	cpu, busy := cpuSeconds()-cpu0, machineBusySeconds()-busy0
	fmt.Fprintln(stderr)
	rows, err := d.store.Pool.Query(ctx, `SELECT extract(epoch FROM (e.at - s.created_at)) * 1000 FROM submissions s
		JOIN submission_events e ON e.submission = s.id AND e.status = 'minted'`)
	if err != nil {
		return err
	}
	var lat []float64
	for rows.Next() {
		var ms float64
		if err := rows.Scan(&ms); err != nil {
			rows.Close()
			return err
		}
		lat = append(lat, ms)
	}
	rows.Close()
	sort.Float64s(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return round3(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	stages := map[string]float64{}
	srows, err := d.store.Pool.Query(ctx, `SELECT status, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM (
		SELECT status, extract(epoch FROM (at - lag(at) OVER (PARTITION BY submission ORDER BY seq))) * 1000 AS ms
		FROM submission_events) t WHERE ms IS NOT NULL GROUP BY status`)
	if err != nil {
		return err
	}
	for srows.Next() {
		var st string
		var ms float64
		if err := srows.Scan(&st, &ms); err != nil {
			srows.Close()
			return err
		}
		stages["to_"+st] = round3(ms)
	}
	srows.Close()
	res := map[string]any{"stage_p50_ms": stages, "submissions": *n, "mode": *mode, "clients": *clients, "records": *recordsPer, "quorum": *quorum,
		"seconds": round3(secs), "per_second": round3(float64(minted) / secs), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "minted": minted,
		// CPU per submission: this process (coordinator, chain, NATS, workers,
		// members) and the whole machine (adds PostgreSQL and the kernel)
		"process_cpu_ms_per_submission": round3(cpu * 1000 / float64(*n)), "machine_cpu_ms_per_submission": round3(busy * 1000 / float64(*n)),
		"rate_limit": rateLimitNote("")}
	if *rate > 0 {
		res["offered_per_second"] = *rate
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%d/%d minted in %.2fs: %.1f/s, submit→minted p50 %.0f ms, p99 %.0f ms\n", minted, *n, secs, res["per_second"], res["p50_ms"], res["p99_ms"])
	return nil
}
