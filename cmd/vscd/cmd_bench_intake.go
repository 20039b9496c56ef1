package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

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
)

// benchTarget is a coordinator to load: an existing one (--api) or one the
// bench starts in-process with its own database and embedded NATS.
type benchTarget struct {
	url     string
	chainID uint64
	idao    string
	enclave *ecdsa.PublicKey
	cleanup func()
}

func startBenchTarget(ctx context.Context, api, daoName string) (*benchTarget, error) {
	if api != "" {
		c := client.New(api)
		info, err := c.Info(ctx)
		if err != nil {
			return nil, err
		}
		d, err := c.IDAO(ctx, daoName)
		if err != nil {
			return nil, err
		}
		if d.EnclaveKey == nil {
			return nil, fmt.Errorf("iDAO %s has no enclave key", daoName)
		}
		pub, err := crypto.UnmarshalPubkey(d.EnclaveKey.PublicKey)
		if err != nil {
			return nil, err
		}
		return &benchTarget{url: api, chainID: info.ChainID, idao: daoName, enclave: pub, cleanup: func() {}}, nil
	}
	tmp, err := os.MkdirTemp("", "vsc-bench-")
	if err != nil {
		return nil, err
	}
	var undo []func()
	t := &benchTarget{chainID: 1337, idao: "bench", cleanup: func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}}
	undo = append(undo, func() { os.RemoveAll(tmp) })
	fail := func(err error) (*benchTarget, error) { t.cleanup(); return nil, err }
	srv, creds, err := startNATS(natsembed.Options{StoreDir: tmp}, "", []natsUser{{name: "coordinator", roles: []bus.Role{bus.RoleCoordinator}}})
	if err != nil {
		return fail(err)
	}
	undo = append(undo, srv.Shutdown)
	b, err := bus.ConnectInProcess(srv, creds["coordinator"], bus.Config{}, nil)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, b.Close)
	dbName := pgutil.RandomName("vsc_bench_")
	dbURL, err := pgutil.EnsureDatabase(ctx, pgutil.URL(), dbName)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { _ = pgutil.DropDatabase(context.Background(), pgutil.URL(), dbName) })
	st, err := store.Open(ctx, dbURL, 32, nil)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, st.Close)
	enc, _ := crypto.GenerateKey()
	t.enclave = &enc.PublicKey
	owner, _ := crypto.GenerateKey()
	dao := &coordinator.Registered{IDAO: &idao.IDAO{Name: t.idao, Owner: crypto.PubkeyToAddress(owner.PublicKey),
		Policy: idao.Policy{Modes: []idao.Mode{idao.ModeTEE}}}, Enclave: &coordinator.EnclaveKey{PublicKey: crypto.FromECDSAPub(t.enclave)}}
	if err := st.CreateIDAO(ctx, dao); err != nil {
		return fail(err)
	}
	if err := st.Join(ctx, t.idao, crypto.PubkeyToAddress(owner.PublicKey), big.NewInt(1)); err != nil {
		return fail(err)
	}
	// The bench measures intake, not the per-client rate limit: its clients
	// all come from one address, so the in-process coordinator has none.
	cs := coord.New(coord.Config{ChainID: t.chainID, Listen: "127.0.0.1:0", IntakeRate: -1}, st, b, nil)
	if err := cs.Start(ctx); err != nil {
		return fail(err)
	}
	undo = append(undo, func() { _ = cs.Stop(context.Background()) })
	t.url = "http://" + cs.Addr()
	return t, nil
}

// benchDataset makes a CSV dataset of about size bytes.
func benchDataset(rng *rand.Rand, size int) *records.Dataset {
	ds := &records.Dataset{Fields: []string{"t", "temp", "hum", "wind"}}
	for n := 12; n < size; {
		r := []int64{int64(rng.IntN(1 << 30)), int64(rng.IntN(4000) - 1000), int64(rng.IntN(100)), int64(rng.IntN(300))}
		ds.Records = append(ds.Records, r)
		n += len(fmt.Sprint(r[0], r[1], r[2], r[3])) + 1
	}
	return ds
}

type preparedReq struct {
	body  []byte
	ctype string
}

func cmdBenchIntake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench intake", flag.ContinueOnError)
	n := fs.Int("submissions", 5000, "submissions to send")
	clients := fs.Int("clients", 32, "concurrent clients (each its own key)")
	size := fs.Int("size", 4096, "dataset size in bytes")
	api := fs.String("api", "", "load an existing coordinator (default: start one in-process with its own database, embedded NATS and no intake rate limit); start it with --intake-rate -1 to measure it rather than its limiter")
	idao := fs.String("idao", "demo", "with --api: the iDAO to submit to")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the timed phase")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *clients < 1 || *n < 1 {
		return cli.Usagef("--submissions and --clients must be positive")
	}
	t, err := startBenchTarget(ctx, *api, *idao)
	if err != nil {
		return err
	}
	defer t.cleanup()

	// Prepare everything before the clock starts: datasets, commitments,
	// encryption, signatures, multipart bodies.
	fmt.Fprintf(stderr, "bench intake: preparing %d signed, encrypted %d-byte submissions for %d clients…\n", *n, *size, *clients)
	c := client.New(t.url)
	perClient := make([][]preparedReq, *clients)
	var prepErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ci := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 42))
			key, _ := crypto.GenerateKey()
			for i := ci; i < *n; i += *clients {
				nonce := uint64(len(perClient[ci]))
				p, err := c.PrepareFor(ctx, benchDataset(rng, *size), t.enclave, t.chainID, client.PrepareOptions{
					IDAO: t.idao, Mode: "tee", Contributor: crypto.PubkeyToAddress(key.PublicKey), Nonce: &nonce})
				if err == nil {
					var sig []byte
					if sig, err = p.Sign(key); err == nil {
						var body []byte
						var ct string
						body, ct, err = client.MultipartBody(p.Request(sig), p.Blob())
						perClient[ci] = append(perClient[ci], preparedReq{body, ct})
					}
				}
				if err != nil {
					mu.Lock()
					prepErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if prepErr != nil {
		return prepErr
	}
	tr := &http.Transport{MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2, MaxConnsPerHost: *clients * 2}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	defer tr.CloseIdleConnections()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stderr, "bench intake: sending…\n")
	lat := make([][]time.Duration, *clients)
	var accepted, failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	cpu0, busy0 := cpuSeconds(), machineBusySeconds()
	for ci := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range perClient[ci] {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/v1/submissions", bytes.NewReader(r.body))
				req.Header.Set("Content-Type", r.ctype)
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[ci] = append(lat[ci], time.Since(t0))
				if resp.StatusCode == http.StatusCreated {
					accepted.Add(1)
				} else {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, strings.TrimSpace(string(body)))
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	cpu, busy := cpuSeconds()-cpu0, machineBusySeconds()-busy0
	all := slices.Concat(lat...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	res := map[string]any{
		"submissions": accepted.Load(), "failed": failed.Load(), "clients": *clients, "bytes": *size,
		"seconds": round3(secs), "per_second": round3(float64(accepted.Load()) / secs),
		"p50_ms": pct(0.50), "p99_ms": pct(0.99), "cores": runtime.NumCPU(),
		// CPU per accepted submission, of this process (coordinator and the
		// load's clients) and of the whole machine (PostgreSQL included):
		// steadier than the rate on a shared machine
		"process_cpu_ms_per_submission": round3(cpu * 1000 / float64(max(accepted.Load(), 1))),
		"machine_cpu_ms_per_submission": round3(busy * 1000 / float64(max(accepted.Load(), 1))),
		// the in-process coordinator has no rate limit; one given with --api has its own
		"rate_limit": rateLimitNote(*api),
	}
	if e := firstErr.Load(); e != nil {
		res["first_error"] = e
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%d accepted in %.2fs: %.0f/s, p50 %.1f ms, p99 %.1f ms (%d failed)\n",
		accepted.Load(), secs, res["per_second"], res["p50_ms"], res["p99_ms"], failed.Load())
	return nil
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// rateLimitNote says which intake rate limit a bench ran under.
func rateLimitNote(api string) string {
	if api == "" {
		return "off (in-process coordinator)"
	}
	return "the coordinator's own (see its /v1/info)"
}
