package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/httpserve"
	"github.com/vsc-labs/vsc/prover"
	proverworker "github.com/vsc-labs/vsc/prover/worker"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/worker"
)

func init() {
	extraCommands = append(extraCommands,
		cli.Command{Name: "worker", Usage: "--tee-backend sim|ego --data DIR [--nats URL --nats-creds FILE] [--zk] [--chain URL --optimistic-key FILE [--watch-only]] [--show-key|--show-policy]: TEE verifier, zk prover, optimistic executor/watcher (NATS_URL, VSC_*)", Run: wrap(cmdWorker)},
		cli.Command{Name: "bench tee", Usage: "[--records N] [--fields F] --json: enclave throughput (decrypt+parse, commitment, facts, whole job)", Run: wrap(cmdBenchTEE)},
	)
}

// workerConfig is `vscd worker`'s configuration: flags, defaulting to VSC_* env.
type workerConfig struct {
	Backend     string
	Data        string
	NATS        *bus.ConnectOptions
	Concurrency int
	ShowKey     bool
	JSON        bool
	LogLevel    string
	Metrics     string
	ZK          bool // also prove zk chunks, inside the same enclave
	ShowPolicy  bool
	Chain       string // chain API: run the optimistic executor and watcher
	API         string // coordinator API (submissions' wrapped keys for the watcher)
	OptKey      string // the executor/watcher account
	WatchOnly   bool
	ZKKeys      string // zk key cache
	ZKParallel  int    // chunk proofs at once
}

func workerFlags(fs *flag.FlagSet, cfg *workerConfig) {
	conc, _ := strconv.Atoi(envOr("VSC_WORKER_CONCURRENCY", "0"))
	fs.StringVar(&cfg.Backend, "tee-backend", envOr("VSC_TEE_BACKEND", ""), "enclave backend, required: sim (software simulation, no security; its root is made under DIR/tee) or ego (SGX; binary built with -tags ego, run under ego) (VSC_TEE_BACKEND)")
	fs.StringVar(&cfg.Data, "data", envOr("VSC_DATA", ".data/worker"), "data directory; the sealed enclave key lives in DIR/tee (VSC_DATA)")
	cfg.NATS = natsFlags(fs, "vsc-worker")
	fs.IntVar(&cfg.Concurrency, "concurrency", conc, "jobs handled at once; 0 = one per core (VSC_WORKER_CONCURRENCY)")
	fs.BoolVar(&cfg.ShowKey, "show-key", false, "print the enclave key and its attestation (to register on chain) and exit")
	fs.BoolVar(&cfg.JSON, "json", false, "with --show-key: print JSON")
	fs.StringVar(&cfg.Metrics, "metrics-listen", envOr("VSC_METRICS_LISTEN", ""), "serve Prometheus /metrics on this address, e.g. :9102 (VSC_METRICS_LISTEN); empty: off")
	fs.StringVar(&cfg.Chain, "chain", envOr("VSC_CHAIN_API", ""), "the chain's HTTP API: also run the optimistic executor and an honest watcher (VSC_CHAIN_API)")
	fs.StringVar(&cfg.API, "api", envOr("VSC_API", "http://127.0.0.1:8080"), "with --chain: the coordinator, where the watcher looks submissions up (VSC_API)")
	fs.StringVar(&cfg.OptKey, "optimistic-key", envOr("VSC_OPTIMISTIC_KEY", ""), "with --chain: the funded account that posts claims and challenges")
	fs.BoolVar(&cfg.WatchOnly, "watch-only", false, "with --chain: only watch and challenge claims (no executor)")
	fs.BoolVar(&cfg.ShowPolicy, "show-policy", false, "print a TEE policy (JSON) that accepts this enclave — its signer, product and security version; for sim, its simulation root — and exit")
	fs.BoolVar(&cfg.ZK, "zk", envOr("VSC_WORKER_ZK", "") != "", "also run the zk prover (it decrypts through this worker's enclave) (VSC_WORKER_ZK)")
	fs.StringVar(&cfg.ZKKeys, "zk-keys", envOr("VSC_ZK_KEYS", ".data/zk-keys"), "with --zk: the proving-key cache (VSC_ZK_KEYS)")
	fs.IntVar(&cfg.ZKParallel, "zk-parallel", 1, "with --zk: chunk proofs at once (2 gains a few % on 2 cores for twice the memory)")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr("VSC_LOG_LEVEL", "info"), "debug, info, warn, error (VSC_LOG_LEVEL)")
}

// cmdWorker runs the TEE worker role: it opens (or creates) the enclave
// identity sealed in DATA/tee and consumes "tee" jobs from NATS until
// SIGTERM, then drains in-flight jobs and exits 0.
func cmdWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var cfg workerConfig
	workerFlags(fs, &cfg)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	switch cfg.Backend {
	case tee.BackendSim, tee.BackendEgo:
	case "":
		return cli.Usagef("vscd worker needs --tee-backend sim or ego (or VSC_TEE_BACKEND): ego is an SGX enclave; sim is a software simulation that protects nothing, for development only")
	default:
		return cli.Usagef("--tee-backend %q: want sim (software simulation, development only) or ego (SGX)", cfg.Backend)
	}
	log := logger(stderr, cfg.LogLevel)
	enc, err := tee.OpenBackend(cfg.Backend, filepath.Join(cfg.Data, "tee"))
	if err != nil {
		return fmt.Errorf("open enclave: %w", err)
	}
	if root, ok := enc.SimRoot(); ok {
		log.Warn("SIMULATION: TEE backend is the software simulation; its reports prove nothing and only policies with allow_simulation that list its root accept them. Never give it real data.",
			"simulation_root", root.Hex(), "root_file", filepath.Join(cfg.Data, "tee", tee.SimRootFile))
	}
	info := enc.Info()
	self := enc.SelfReport()
	log.Info("enclave", "backend", info.Backend, "address", info.Address.Hex(),
		"unique_id", hexutil.Encode(self.UniqueID), "signer_id", hexutil.Encode(self.SignerID),
		"product_id", hexutil.Encode(self.ProductID), "security_version", self.SecurityVersion, "debug", self.Debug)
	if cfg.ShowPolicy {
		return json.NewEncoder(stdout).Encode(enc.Policy())
	}
	if cfg.ShowKey {
		if cfg.JSON {
			return json.NewEncoder(stdout).Encode(info)
		}
		fmt.Fprintf(stdout, "backend     %s\naddress     %s\npublic key  %s\n", info.Backend, info.Address.Hex(), info.PublicKey)
		return nil
	}
	// every result this worker publishes (tee, zk, optimistic) is signed by
	// its enclave key: the coordinator believes no other
	b, err := bus.Connect(*cfg.NATS, bus.Config{Concurrency: cfg.Concurrency, Signer: enc}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	reg := prometheus.NewRegistry()
	w := worker.New(enc, b, log).WithMetrics(reg)
	if cfg.Metrics != "" {
		ln, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := httpserve.New(mux)
		served := make(chan struct{})
		go func() { defer close(served); _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			<-served
		}()
		log.Info("metrics", "addr", ln.Addr().String())
	}
	fmt.Fprintf(stdout, "tee worker (%s) enclave %s consuming tee jobs from %s\n", info.Backend, info.Address.Hex(), cfg.NATS.URL)
	roles := []func(context.Context) error{w.Run}
	if cfg.ZK {
		km, err := prover.NewKeyManager(cfg.ZKKeys, log)
		if err != nil {
			return err
		}
		zk := proverworker.New(proverworker.Config{Keys: km, Open: enc.OpenEnvelope, Parallel: cfg.ZKParallel, Log: log}, b)
		fmt.Fprintf(stdout, "zk prover consuming zk jobs (keys in %s)\n", cfg.ZKKeys)
		roles = append(roles, zk.Run)
	}
	if cfg.Chain != "" {
		if cfg.OptKey == "" {
			return cli.Usagef("--chain needs --optimistic-key FILE (a funded account for claims and challenges)")
		}
		fmt.Fprintf(stdout, "optimistic executor and honest watcher on %s\n", cfg.Chain)
		roles = append(roles, func(ctx context.Context) error {
			return runOptimistic(ctx, b, enc, cfg.Chain, cfg.API, cfg.OptKey, !cfg.WatchOnly, log)
		})
	}
	rctx, cancel := context.WithCancel(ctx) // one role failing stops the others
	defer cancel()
	errc := make(chan error, len(roles))
	for _, r := range roles {
		go func() { errc <- r(rctx) }()
	}
	err = <-errc
	cancel()
	for range roles[1:] {
		err = errors.Join(err, <-errc)
	}
	return err
}
