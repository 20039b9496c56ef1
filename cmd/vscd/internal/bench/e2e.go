package bench

import (
	"context"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
)

// Pipeline is a whole verification pipeline in one process — a devnet —
// that the e2e bench loads.
type Pipeline struct {
	API     string           // the coordinator's base URL
	ChainID uint64           // of the submissions' EIP-712 domain
	Enclave *ecdsa.PublicKey // the key submissions are sealed to
	// Sequencer signs the chain's headers: what a client trusts to prove
	// the iDAO's policy and enclave key.
	Sequencer common.Address
	// DB is the coordinator's database, where the bench reads the
	// submissions' statuses and the times of their events.
	DB *pgxpool.Pool
	// Stop stops the pipeline and drops its database.
	Stop func() error
	// Contributor and App are funded dev keys (the query bench).
	Contributor, App *ecdsa.PrivateKey
}

// PipelineConfig is the pipeline the e2e bench asks for: a demo iDAO of
// Quorum members whose zk circuit proves chunks of ZKChunk records, its data
// under Data, its zk keys cached in ZKKeys, no intake rate limit (the
// bench's clients all come from one address) and Log for its logs.
type PipelineConfig struct {
	Data    string
	Quorum  int
	ZKChunk int
	ZKKeys  string
	Log     *slog.Logger
}

// StartPipeline starts a pipeline (main's devnet).
type StartPipeline func(ctx context.Context, cfg PipelineConfig) (*Pipeline, error)

// e2eParams are `vscd bench e2e`'s flags.
type e2eParams struct {
	n, clients, records, quorum, zkChunk int
	mode, zkKeys, cpuprofile             string
	timeout                              time.Duration
	rate                                 float64
	cluster                              bool
}

func parseE2E(args []string) (e2eParams, error) {
	fs := flag.NewFlagSet("bench e2e", flag.ContinueOnError)
	var p e2eParams
	fs.IntVar(&p.n, "submissions", 1000, "submissions")
	fs.StringVar(&p.mode, "mode", "tee", "tee, zk or tee+zk")
	fs.IntVar(&p.clients, "clients", 16, "concurrent submitting clients")
	fs.IntVar(&p.records, "records", 16, "records per dataset")
	fs.IntVar(&p.quorum, "quorum", 4, "quorum members")
	fs.IntVar(&p.zkChunk, "zk-chunk", 16, "records per zk chunk proof")
	fs.StringVar(&p.zkKeys, "zk-keys", filepath.Join(os.TempDir(), "vsc-bench-zk-keys"), "zk key cache shared by bench runs")
	fs.DurationVar(&p.timeout, "timeout", 30*time.Minute, "give up after")
	fs.StringVar(&p.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed phase")
	fs.Float64Var(&p.rate, "rate", 0, "offer submissions at this many per second (open loop; 0: as fast as the clients go)")
	fs.BoolVar(&p.cluster, "cluster", false, "run the same load through the single-process devnet and then a multi-process `vscd cluster up` (3 NATS at R3, 2 coordinators, 2 workers, a prover, a follower), and report both and their ratio")
	_, err := cli.Parse(fs, args)
	return p, err
}

// E2E is `vscd bench e2e`: it starts a pipeline (start: 4 members, its own
// data dir and database), prepares N signed, encrypted datasets before the
// clock starts, submits them with C concurrent clients and waits until
// every one is final. Latency is submit → minted, measured by the
// coordinator.
func E2E(start, cluster StartPipeline) cli.Func {
	return func(ctx context.Context, env *cli.Env, args []string) error {
		p, err := parseE2E(args)
		if err != nil {
			return err
		}
		res, err := e2eOn(ctx, env, start, "a devnet", p)
		if err != nil {
			return err
		}
		if p.cluster {
			single := res
			if res, err = e2eOn(ctx, env, cluster, "a multi-process cluster", p); err != nil {
				return err
			}
			res["devnet"], res["cluster"] = single, true
			if d, ok := single["per_second"].(float64); ok && d > 0 {
				res["ratio_vs_devnet"] = round3(res["per_second"].(float64) / d)
			}
		}
		if env.JSON {
			return printJSON(env, res)
		}
		fmt.Fprintf(env.Stdout, "%d/%d minted in %.2fs: %.1f/s, submit→minted p50 %.0f ms, p99 %.0f ms\n",
			res["minted"], p.n, res["seconds"], res["per_second"], res["p50_ms"], res["p99_ms"])
		if r, ok := res["ratio_vs_devnet"]; ok {
			fmt.Fprintf(env.Stdout, "cluster / devnet throughput: %v\n", r)
		}
		return nil
	}
}

// e2eOn runs the load on a pipeline that start starts, in a temp dir.
func e2eOn(ctx context.Context, env *cli.Env, start StartPipeline, what string, p e2eParams) (map[string]any, error) {
	data, err := os.MkdirTemp("", "vsc-bench-e2e-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(data)
	env.Progress("bench e2e: starting %s (%d members, zk chunk %d)…", what, p.quorum, p.zkChunk)
	pl, err := start(ctx, PipelineConfig{Data: data, Quorum: p.quorum, ZKChunk: p.zkChunk, ZKKeys: p.zkKeys,
		Log: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	defer func() { _ = pl.Stop() }()
	return runE2E(ctx, env, pl, p)
}

// runE2E prepares, submits, waits for every submission to be final and
// returns the figures.
func runE2E(ctx context.Context, env *cli.Env, pl *Pipeline, p e2eParams) (map[string]any, error) {
	env.Progress("bench e2e: preparing %d %s submissions of %d records…", p.n, p.mode, p.records)
	api := client.New(pl.API)
	subs, err := prepareE2E(ctx, api, pl, p)
	if err != nil {
		return nil, err
	}
	stopProfile, err := cpuProfile(p.cpuprofile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	if p.rate > 0 {
		env.Progress("bench e2e: offering %.0f submissions/s with up to %d clients…", p.rate, p.clients)
	} else {
		env.Progress("bench e2e: submitting with %d clients…", p.clients)
	}
	cpu0, start := readCPU(), time.Now()
	if err := submitE2E(ctx, api, subs, p, start); err != nil {
		return nil, err
	}
	minted, err := waitFinal(ctx, env, pl, p, start)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	cpu, busy := cpu0.since()
	lat, stages, err := e2eLatencies(ctx, pl)
	if err != nil {
		return nil, err
	}
	res := map[string]any{"stage_p50_ms": stages, "submissions": p.n, "mode": p.mode, "clients": p.clients, "records": p.records, "quorum": p.quorum,
		"seconds": round3(secs), "per_second": round3(float64(minted) / secs), "p50_ms": percentile(lat, 0.5), "p99_ms": percentile(lat, 0.99), "minted": minted,
		// CPU per submission: this process (coordinator, chain, NATS, workers,
		// members) and the whole machine (adds PostgreSQL and the kernel)
		"process_cpu_ms_per_submission": round3(cpu * 1000 / float64(p.n)), "machine_cpu_ms_per_submission": round3(busy * 1000 / float64(p.n)),
		"rate_limit": rateLimitNote("")}
	if p.rate > 0 {
		res["offered_per_second"] = p.rate
	}
	return res, nil
}

// e2eSubmission is one prepared submission: its signed request and blob.
type e2eSubmission struct {
	req  *coordinator.SubmitRequest
	blob []byte
}

// prepareE2E makes, seals and signs p.n datasets, each by a fresh
// contributor, on two goroutines.
func prepareE2E(ctx context.Context, api *client.Client, pl *Pipeline, p e2eParams) ([]e2eSubmission, error) {
	subs := make([]e2eSubmission, p.n)
	var g errgroup.Group
	for w := range 2 {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < p.n; i += 2 {
				key, _ := crypto.GenerateKey()
				ds := &records.Dataset{Fields: []string{"t", "temp", "hum", "wind"}}
				for r := range p.records {
					ds.Records = append(ds.Records, []int64{int64(i*1000 + r), rng.Int64N(400) - 100, rng.Int64N(100), rng.Int64N(80)})
				}
				zero := uint64(0)
				pr, err := api.PrepareFor(ctx, ds, pl.Enclave, pl.ChainID, client.PrepareOptions{
					IDAO: "demo", Mode: idao.Mode(p.mode), Contributor: keys.Address(key), Nonce: &zero})
				if err != nil {
					return err
				}
				sig, _ := pr.Sign(key)
				subs[i] = e2eSubmission{pr.Request(sig), pr.Blob()}
			}
			return nil
		})
	}
	return subs, g.Wait()
}

// submitE2E sends the submissions with p.clients clients; with p.rate, the
// i-th is offered no earlier than i/rate seconds after start (open loop).
func submitE2E(ctx context.Context, api *client.Client, subs []e2eSubmission, p e2eParams, start time.Time) error {
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range p.clients {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(subs) {
					return nil
				}
				if p.rate > 0 {
					// the offered load's schedule: this submission's time slot
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / p.rate * float64(time.Second)))))
				}
				if _, _, err := api.Submit(gctx, subs[i].req, subs[i].blob); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}

// e2ePoll is how often the bench reads how many submissions are final.
const e2ePoll = 200 * time.Millisecond

// waitFinal waits until every submission is final and returns how many
// were minted.
func waitFinal(ctx context.Context, env *cli.Env, pl *Pipeline, p e2eParams, start time.Time) (int, error) {
	deadline := time.Now().Add(p.timeout)
	t := time.NewTicker(e2ePoll)
	defer t.Stop()
	for {
		var final, minted int
		err := pl.DB.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('minted','rejected','failed','overturned')),
			count(*) FILTER (WHERE status='minted') FROM submissions`).Scan(&final, &minted)
		if err != nil {
			return 0, err
		}
		if final >= p.n {
			fmt.Fprintln(env.Stderr)
			return minted, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("only %d of %d submissions final after %s", final, p.n, p.timeout)
		}
		fmt.Fprintf(env.Stderr, "\rbench e2e: %d/%d final (%.1fs)", final, p.n, time.Since(start).Seconds())
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// e2eLatencies reads, from the coordinator's events, each minted
// submission's submit → minted latency (sorted, ms) and the median time of
// each stage (to_STATUS: from the previous event to this one).
func e2eLatencies(ctx context.Context, pl *Pipeline) ([]float64, map[string]float64, error) {
	rows, err := pl.DB.Query(ctx, `SELECT extract(epoch FROM (e.at - s.created_at)) * 1000 FROM submissions s
		JOIN submission_events e ON e.submission = s.id AND e.status = 'minted'`)
	if err != nil {
		return nil, nil, err
	}
	var lat []float64
	for rows.Next() {
		var ms float64
		if err := rows.Scan(&ms); err != nil {
			rows.Close()
			return nil, nil, err
		}
		lat = append(lat, ms)
	}
	rows.Close()
	slices.Sort(lat)
	stages := map[string]float64{}
	srows, err := pl.DB.Query(ctx, `SELECT status, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM (
		SELECT status, extract(epoch FROM (at - lag(at) OVER (PARTITION BY submission ORDER BY seq))) * 1000 AS ms
		FROM submission_events) t WHERE ms IS NOT NULL GROUP BY status`)
	if err != nil {
		return nil, nil, err
	}
	defer srows.Close()
	for srows.Next() {
		var st string
		var ms float64
		if err := srows.Scan(&st, &ms); err != nil {
			return nil, nil, err
		}
		stages["to_"+st] = round3(ms)
	}
	return lat, stages, srows.Err()
}
