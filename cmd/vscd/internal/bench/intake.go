package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"flag"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"golang.org/x/sync/errgroup"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	coord "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/natsembed"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/service"
)

// intakeParams are `vscd bench intake`'s flags.
type intakeParams struct {
	n, clients, size int
	api, idao        string
	cpuprofile       string
}

func parseIntake(args []string) (intakeParams, error) {
	fs := flag.NewFlagSet("bench intake", flag.ContinueOnError)
	var p intakeParams
	fs.IntVar(&p.n, "submissions", 5000, "submissions to send")
	fs.IntVar(&p.clients, "clients", 32, "concurrent clients (each its own key)")
	fs.IntVar(&p.size, "size", 4096, "dataset size in bytes")
	fs.StringVar(&p.api, "api", "", "load an existing coordinator (default: start one in-process with its own database, embedded NATS and no intake rate limit); start it with --intake-rate -1 to measure it rather than its limiter")
	fs.StringVar(&p.idao, "idao", "demo", "with --api: the iDAO to submit to")
	fs.StringVar(&p.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed phase")
	if _, err := cli.Parse(fs, args); err != nil {
		return p, err
	}
	if p.clients < 1 || p.n < 1 {
		return p, cli.Usagef("--submissions and --clients must be positive")
	}
	return p, nil
}

// Intake runs `vscd bench intake`: signed, encrypted submissions over HTTP
// to a coordinator, prepared before the clock starts, sent by concurrent
// clients; it reports the accepted rate, latencies and CPU per submission.
func Intake(ctx context.Context, env *cli.Env, args []string) error {
	p, err := parseIntake(args)
	if err != nil {
		return err
	}
	t, err := startTarget(ctx, p.api, p.idao)
	if err != nil {
		return err
	}
	defer t.stop()
	// Prepare everything before the clock starts: datasets, commitments,
	// encryption, signatures, multipart bodies.
	env.Progress("bench intake: preparing %d signed, encrypted %d-byte submissions for %d clients…", p.n, p.size, p.clients)
	perClient, err := prepareIntake(ctx, t, p)
	if err != nil {
		return err
	}
	stopProfile, err := cpuProfile(p.cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	env.Progress("bench intake: sending…")
	res := sendIntake(ctx, t, p, perClient)
	if env.JSON {
		return printJSON(env, res)
	}
	fmt.Fprintf(env.Stdout, "%d accepted in %.2fs: %.0f/s, p50 %.1f ms, p99 %.1f ms (%d failed)\n",
		res["submissions"], res["seconds"], res["per_second"], res["p50_ms"], res["p99_ms"], res["failed"])
	return nil
}

// target is a coordinator to load: an existing one (--api) or one the bench
// starts in-process with its own database and embedded NATS.
type target struct {
	url      string
	chainID  uint64
	idao     string
	enclave  *ecdsa.PublicKey
	services service.List // what the bench started, stopped by stop
}

func (t *target) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = t.services.Stop(ctx)
}

func startTarget(ctx context.Context, api, idao string) (*target, error) {
	if api != "" {
		return remoteTarget(ctx, api, idao)
	}
	t := &target{chainID: 1337, idao: "bench"}
	if err := t.startLocal(ctx); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// remoteTarget is the coordinator at api, submitting to its iDAO idao.
func remoteTarget(ctx context.Context, api, idao string) (*target, error) {
	c := client.New(api)
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	d, err := c.IDAO(ctx, idao)
	if err != nil {
		return nil, err
	}
	if d.EnclaveKey == nil {
		return nil, fmt.Errorf("iDAO %s has no enclave key", idao)
	}
	pub, err := crypto.UnmarshalPubkey(d.EnclaveKey.PublicKey)
	if err != nil {
		return nil, err
	}
	return &target{url: api, chainID: info.ChainID, idao: idao, enclave: pub}, nil
}

// startLocal starts the in-process coordinator: embedded NATS, a database
// of its own with a one-member iDAO, and the server, each recorded in
// t.services.
func (t *target) startLocal(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "vsc-bench-")
	if err != nil {
		return err
	}
	t.services.Add("temporary dir", service.Closer(func() { os.RemoveAll(tmp) }))
	srv, creds, err := natsembed.Start(natsembed.Options{StoreDir: tmp}, "", []natsembed.User{{Name: "coordinator", Roles: []bus.Role{bus.RoleCoordinator}}})
	if err != nil {
		return err
	}
	t.services.Add("embedded NATS", service.Closer(srv.Shutdown))
	b, err := bus.ConnectInProcess(srv, creds["coordinator"], bus.Config{}, nil)
	if err != nil {
		return err
	}
	t.services.Add("NATS connection", service.Closer(b.Close))
	st, err := benchStore(ctx, &t.services)
	if err != nil {
		return err
	}
	if err := t.createIDAO(ctx, st); err != nil {
		return err
	}
	// The bench measures intake, not the per-client rate limit: its clients
	// all come from one address, so the in-process coordinator has none.
	cs := coord.New(coord.Config{ChainID: t.chainID, Listen: "127.0.0.1:0", IntakeRate: -1}, st, b, nil)
	if err := t.services.Run(ctx, "coordinator", cs); err != nil {
		return err
	}
	t.url = "http://" + cs.Addr()
	return nil
}

// benchStore opens a database of the bench's own, dropped on stop.
func benchStore(ctx context.Context, l *service.List) (*store.Store, error) {
	dbName := pgutil.RandomName("vsc_bench_")
	dbURL, err := pgutil.EnsureDatabase(ctx, pgutil.URL(), dbName)
	if err != nil {
		return nil, err
	}
	l.Add("database", service.Func{OnStop: func(ctx context.Context) error {
		return pgutil.DropDatabase(context.WithoutCancel(ctx), pgutil.URL(), dbName)
	}})
	st, err := store.Open(ctx, dbURL, 32, nil)
	if err != nil {
		return nil, err
	}
	l.Add("PostgreSQL pool", service.Closer(st.Close))
	return st, nil
}

// createIDAO makes the bench's iDAO, with a fresh enclave key and one member.
func (t *target) createIDAO(ctx context.Context, st *store.Store) error {
	enc, _ := crypto.GenerateKey()
	t.enclave = &enc.PublicKey
	owner, _ := crypto.GenerateKey()
	dao := &coordinator.Registered{IDAO: &idao.IDAO{Name: t.idao, Owner: crypto.PubkeyToAddress(owner.PublicKey),
		Policy: idao.Policy{Modes: []idao.Mode{idao.ModeTEE}}}, Enclave: &coordinator.EnclaveKey{PublicKey: crypto.FromECDSAPub(t.enclave)}}
	if err := st.CreateIDAO(ctx, dao); err != nil {
		return err
	}
	return st.Join(ctx, t.idao, crypto.PubkeyToAddress(owner.PublicKey), big.NewInt(1))
}

// intakeDataset makes a CSV dataset of about size bytes.
func intakeDataset(rng *rand.Rand, size int) *records.Dataset {
	ds := &records.Dataset{Fields: []string{"t", "temp", "hum", "wind"}}
	for n := 12; n < size; {
		r := []int64{int64(rng.IntN(1 << 30)), int64(rng.IntN(4000) - 1000), int64(rng.IntN(100)), int64(rng.IntN(300))}
		ds.Records = append(ds.Records, r)
		n += len(fmt.Sprint(r[0], r[1], r[2], r[3])) + 1
	}
	return ds
}

// preparedReq is one multipart submission body, ready to send.
type preparedReq struct {
	body  []byte
	ctype string
}

// prepareIntake prepares every client's submissions (each client its own
// key and nonces), one goroutine per client.
func prepareIntake(ctx context.Context, t *target, p intakeParams) ([][]preparedReq, error) {
	c := client.New(t.url)
	perClient := make([][]preparedReq, p.clients)
	var g errgroup.Group
	for ci := range p.clients {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(ci), 42))
			key, _ := crypto.GenerateKey()
			for i := ci; i < p.n; i += p.clients {
				nonce := uint64(len(perClient[ci]))
				pr, err := c.PrepareFor(ctx, intakeDataset(rng, p.size), t.enclave, t.chainID, client.PrepareOptions{
					IDAO: t.idao, Mode: "tee", Contributor: crypto.PubkeyToAddress(key.PublicKey), Nonce: &nonce})
				if err != nil {
					return err
				}
				sig, err := pr.Sign(key)
				if err != nil {
					return err
				}
				body, ct, err := client.MultipartBody(pr.Request(sig), pr.Blob())
				if err != nil {
					return err
				}
				perClient[ci] = append(perClient[ci], preparedReq{body, ct})
			}
			return nil
		})
	}
	return perClient, g.Wait()
}

// intakeTally is what the sending clients count.
type intakeTally struct {
	accepted, failed atomic.Int64
	firstErr         atomic.Value
}

func (t *intakeTally) fail(msg string) {
	t.failed.Add(1)
	t.firstErr.CompareAndSwap(nil, msg)
}

// sendIntake sends every prepared request, one goroutine per client, and
// returns the figures.
func sendIntake(ctx context.Context, t *target, p intakeParams, perClient [][]preparedReq) map[string]any {
	tr := &http.Transport{MaxIdleConns: p.clients * 2, MaxIdleConnsPerHost: p.clients * 2, MaxConnsPerHost: p.clients * 2}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	defer tr.CloseIdleConnections()
	lat := make([][]time.Duration, p.clients)
	var tally intakeTally
	start, cpu0 := time.Now(), readCPU()
	var g errgroup.Group
	for ci := range p.clients {
		g.Go(func() error {
			for _, r := range perClient[ci] {
				if d, ok := sendOne(ctx, hc, t.url, r, &tally); ok {
					lat[ci] = append(lat[ci], d)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	secs := time.Since(start).Seconds()
	cpu, busy := cpu0.since()
	all := millis(slices.Concat(lat...))
	accepted := tally.accepted.Load()
	res := map[string]any{
		"submissions": accepted, "failed": tally.failed.Load(), "clients": p.clients, "bytes": p.size,
		"seconds": round3(secs), "per_second": round3(float64(accepted) / secs),
		"p50_ms": percentile(all, 0.50), "p99_ms": percentile(all, 0.99), "cores": runtime.NumCPU(),
		// CPU per accepted submission, of this process (coordinator and the
		// load's clients) and of the whole machine (PostgreSQL included):
		// steadier than the rate on a shared machine
		"process_cpu_ms_per_submission": round3(cpu * 1000 / float64(max(accepted, 1))),
		"machine_cpu_ms_per_submission": round3(busy * 1000 / float64(max(accepted, 1))),
		// the in-process coordinator has no rate limit; one given with --api has its own
		"rate_limit": rateLimitNote(p.api),
	}
	if e := tally.firstErr.Load(); e != nil {
		res["first_error"] = e
	}
	return res
}

// sendOne posts one submission; it returns its latency when an answer came.
func sendOne(ctx context.Context, hc *http.Client, url string, r preparedReq, tally *intakeTally) (time.Duration, bool) {
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/submissions", bytes.NewReader(r.body))
	req.Header.Set("Content-Type", r.ctype)
	resp, err := hc.Do(req)
	if err != nil {
		tally.fail(err.Error())
		return 0, false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode == http.StatusCreated {
		tally.accepted.Add(1)
	} else {
		tally.fail(strings.TrimSpace(string(body)))
	}
	return d, true
}
