package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"golang.org/x/sync/errgroup"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
)

// queryParams are `vscd bench query`'s flags.
type queryParams struct {
	records, jobs, clients  int
	sql, zkKeys, cpuprofile string
	timeout                 time.Duration
}

// DefaultBenchQuery is the bench's query: a GROUP BY with 3 aggregates.
const DefaultBenchQuery = "SELECT region, count(*), sum(temp), avg(hum) GROUP BY region"

func parseQuery(args []string) (queryParams, error) {
	fs := flag.NewFlagSet("bench query", flag.ContinueOnError)
	var p queryParams
	fs.IntVar(&p.records, "records", 1000, "records of the queried dataset (4 fields; 8 regions)")
	fs.IntVar(&p.jobs, "jobs", 200, "queries")
	fs.IntVar(&p.clients, "clients", 8, "concurrent querying clients")
	fs.StringVar(&p.sql, "query", DefaultBenchQuery, "the query")
	fs.StringVar(&p.zkKeys, "zk-keys", filepath.Join(os.TempDir(), "vsc-bench-zk-keys"), "zk key cache shared by bench runs")
	fs.DurationVar(&p.timeout, "timeout", 30*time.Minute, "give up after")
	fs.StringVar(&p.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed phase")
	_, err := cli.Parse(fs, args)
	return p, err
}

// Query is `vscd bench query`: it starts a devnet, submits a dataset of N
// records and waits for its DAT, buys units and funds the provider's
// escrow (before the clock), then runs J queries with C clients, each from
// signing its JobRequest to a verified, decrypted answer (`vsc query`'s
// path: the enclave's attestation checked against the iDAO's proven
// policy), and waits until every job is settled on chain. The first query
// pays for decrypting and parsing the dataset; the rest hit the enclave's
// cache (first_ms and repeat_p50_ms).
func Query(start StartPipeline) cli.Func {
	return func(ctx context.Context, env *cli.Env, args []string) error {
		p, err := parseQuery(args)
		if err != nil {
			return err
		}
		data, err := os.MkdirTemp("", "vsc-bench-query-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(data)
		env.Progress("bench query: starting a devnet…")
		pl, err := start(ctx, PipelineConfig{Data: data, Quorum: 4, ZKChunk: 16, ZKKeys: p.zkKeys,
			Log: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return err
		}
		defer func() { _ = pl.Stop() }()
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		res, err := runQuery(ctx, env, pl, p)
		if err != nil {
			return err
		}
		if env.JSON {
			return printJSON(env, res)
		}
		fmt.Fprintf(env.Stdout, "%d jobs over %d records in %.2fs: %.1f/s, request→verified p50 %.0f ms, p99 %.0f ms (first %.0f ms), %d settled\n",
			p.jobs, p.records, res["seconds"], res["per_second"], res["p50_ms"], res["p99_ms"], res["first_ms"], res["settled"])
		return nil
	}
}

// queryFixture is what the timed phase needs: the class and the app's token.
type queryFixture struct {
	api          *client.Client
	class, token common.Hash
}

func runQuery(ctx context.Context, env *cli.Env, pl *Pipeline, p queryParams) (map[string]any, error) {
	env.Progress("bench query: submitting a dataset of %d records and funding the app…", p.records)
	f, err := prepareQuery(ctx, pl, p)
	if err != nil {
		return nil, err
	}
	opts := client.QueryOptions{Class: f.class, Token: f.token, Query: p.sql, Units: 1, Timeout: 10 * time.Minute, NoSettleWait: true}
	t0 := time.Now()
	first, err := f.api.Query(ctx, pl.App, opts)
	if err != nil {
		return nil, fmt.Errorf("first query: %w", err)
	}
	firstMS := float64(time.Since(t0).Microseconds()) / 1000
	env.Progress("bench query: first query %.0f ms (%d rows); %d more with %d clients…", firstMS, len(first.Result.Rows), p.jobs-1, p.clients)
	stopProfile, err := cpuProfile(p.cpuprofile)
	if err != nil {
		return nil, err
	}
	lat, ids, secs, err := queryLoad(ctx, f, pl, opts, p.jobs-1, p.clients)
	stopProfile()
	if err != nil {
		return nil, err
	}
	ids = append(ids, first.Job)
	settled := waitSettled(ctx, f.api, ids)
	slices.Sort(lat)
	all := append(slices.Clone(lat), firstMS)
	slices.Sort(all)
	return map[string]any{"jobs": p.jobs, "records": p.records, "clients": p.clients, "query": p.sql,
		"seconds": round3(secs), "per_second": round3(float64(len(lat)) / secs), "p50_ms": percentile(all, 0.5), "p99_ms": percentile(all, 0.99),
		"first_ms": round3(firstMS), "repeat_p50_ms": percentile(lat, 0.5), "settled": settled}, nil
}

// prepareQuery submits the dataset, waits for its DAT, buys a unit per
// job and deposits a fee per job with the provider.
func prepareQuery(ctx context.Context, pl *Pipeline, p queryParams) (*queryFixture, error) {
	api := client.New(pl.API)
	api.Trust = client.Trust{Sequencer: pl.Sequencer, AllowSimulation: true}
	rng := rand.New(rand.NewPCG(13, 1))
	ds := &records.Dataset{Fields: []string{"region", "temp", "hum", "wind"}}
	for i := range p.records {
		ds.Records = append(ds.Records, []int64{int64(i % 8), rng.Int64N(400) - 100, rng.Int64N(100), rng.Int64N(80)})
	}
	pr, err := api.PrepareFor(ctx, ds, pl.Enclave, pl.ChainID, client.PrepareOptions{IDAO: "demo", Mode: idao.ModeTEE, Contributor: keys.Address(pl.Contributor)})
	if err != nil {
		return nil, err
	}
	sig, _ := pr.Sign(pl.Contributor)
	v, _, err := api.Submit(ctx, pr.Request(sig), pr.Blob())
	if err != nil {
		return nil, err
	}
	if v, err = api.Wait(ctx, v.ID, "", nil); err != nil {
		return nil, err
	}
	if v.Status != coordinator.Minted || v.DATID == nil {
		return nil, fmt.Errorf("the dataset ended %s: %v", v.Status, v.Reason)
	}
	f := &queryFixture{api: api, class: common.HexToHash(*v.DATID)}
	buy, err := api.BuyDAT(ctx, pl.App, f.class, uint64(p.jobs))
	if err != nil {
		return nil, err
	}
	f.token = buy.Token
	cl, err := api.DATClass(ctx, f.class)
	if err != nil {
		return nil, err
	}
	ps, err := api.Providers(ctx, cl.IDAO)
	if err != nil || len(ps.Providers) == 0 {
		return nil, fmt.Errorf("no provider for iDAO %s: %v", cl.IDAO, err)
	}
	fee, _ := new(big.Int).SetString(ps.Providers[0].Fee, 10)
	if _, err := api.DepositEscrow(ctx, pl.App, ps.Providers[0].Address, new(big.Int).Mul(fee, big.NewInt(int64(p.jobs)))); err != nil {
		return nil, err
	}
	return f, nil
}

// queryLoad runs n queries with c clients and returns each one's
// request→verified latency (ms), the job ids and the wall time.
func queryLoad(ctx context.Context, f *queryFixture, pl *Pipeline, opts client.QueryOptions, n, c int) ([]float64, []common.Hash, float64, error) {
	var mu sync.Mutex
	lat := make([]float64, 0, n)
	ids := make([]common.Hash, 0, n)
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	var g errgroup.Group
	for range c {
		g.Go(func() error {
			for range next {
				t := time.Now()
				r, err := f.api.Query(ctx, pl.App, opts)
				if err != nil {
					return err
				}
				ms := float64(time.Since(t).Microseconds()) / 1000
				mu.Lock()
				lat, ids = append(lat, ms), append(ids, r.Job)
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	return lat, ids, time.Since(start).Seconds(), err
}

// waitSettled waits (at most a minute after the load) until every job is
// settled on chain and returns how many are.
func waitSettled(ctx context.Context, api *client.Client, ids []common.Hash) int {
	deadline := time.Now().Add(time.Minute)
	settled := map[common.Hash]bool{}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, id := range ids {
			if settled[id] {
				continue
			}
			if v, err := api.Job(ctx, id); err == nil && v.Status == coordinator.JobSettled {
				settled[id] = true
			}
		}
		if len(settled) == len(ids) {
			break
		}
		time.Sleep(200 * time.Millisecond) // a bench's polling pace, after the timed phase
	}
	return len(settled)
}
