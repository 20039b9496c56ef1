package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/ethereum/go-ethereum/common"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/httpserve"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/prover"
	proverworker "github.com/vsc-labs/vsc/prover/worker"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/worker"
)

// workerConfig is `vscd worker`'s configuration: flags, defaulting to VSC_* env.
type workerConfig struct {
	Backend     string
	Data        string
	NATS        *bus.ConnectOptions
	Concurrency int
	ShowKey     bool
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
	// --serve: the data-service provider
	Serve          bool
	ServeIDAO      string
	ProviderKey    string
	ServeFee       string
	ServeStake     string
	ServeNATSCreds string
	ServeSequencer string // the sequencer whose signed headers prove the class and iDAO terms
}

func workerFlags(fs *flag.FlagSet, env *cli.Env, cfg *workerConfig) {
	fs.StringVar(&cfg.Backend, "tee-backend", env.Var("VSC_TEE_BACKEND", ""), "enclave backend, required: sim (software simulation, no security; its root is made under DIR/tee) or ego (SGX; binary built with -tags ego, run under ego) (VSC_TEE_BACKEND)")
	fs.StringVar(&cfg.Data, "data", env.Var("VSC_DATA", ".data/worker"), "data directory; the sealed enclave key lives in DIR/tee (VSC_DATA)")
	cfg.NATS = natsFlags(fs, env, "vsc-worker")
	fs.IntVar(&cfg.Concurrency, "concurrency", env.Int("VSC_WORKER_CONCURRENCY", 0), "jobs handled at once; 0 = one per core (VSC_WORKER_CONCURRENCY)")
	fs.BoolVar(&cfg.ShowKey, "show-key", false, "print the enclave key and its attestation (to register on chain) and exit; with --json, as JSON")
	fs.StringVar(&cfg.Metrics, "metrics-listen", env.Var("VSC_METRICS_LISTEN", ""), "serve Prometheus /metrics on this address, e.g. :9102 (VSC_METRICS_LISTEN); empty: off")
	fs.StringVar(&cfg.Chain, "chain", env.Var("VSC_CHAIN_API", ""), "the chain's HTTP API: also run the optimistic executor and an honest watcher (VSC_CHAIN_API)")
	fs.StringVar(&cfg.API, "api", env.Var("VSC_API", "http://127.0.0.1:8080"), "with --chain: the coordinator, where the watcher looks submissions up (VSC_API)")
	fs.StringVar(&cfg.OptKey, "optimistic-key", env.Var("VSC_OPTIMISTIC_KEY", ""), "with --chain: the funded account that posts claims and challenges")
	fs.BoolVar(&cfg.WatchOnly, "watch-only", false, "with --chain: only watch and challenge claims (no executor)")
	fs.BoolVar(&cfg.ShowPolicy, "show-policy", false, "print a TEE policy (JSON) that accepts this enclave — its signer, product and security version; for sim, its simulation root — and exit")
	fs.BoolVar(&cfg.ZK, "zk", env.Var("VSC_WORKER_ZK", "") != "", "also run the zk prover (it decrypts through this worker's enclave) (VSC_WORKER_ZK)")
	fs.StringVar(&cfg.ZKKeys, "zk-keys", env.Var("VSC_ZK_KEYS", ".data/zk-keys"), "with --zk: the proving-key cache (VSC_ZK_KEYS)")
	fs.IntVar(&cfg.ZKParallel, "zk-parallel", proverworker.DefaultParallel(), "with --zk: chunk proofs at once (default: one per core, at most 4)")
	fs.StringVar(&cfg.LogLevel, "log-level", env.Var("VSC_LOG_LEVEL", "info"), "debug, info, warn, error (VSC_LOG_LEVEL)")
	fs.BoolVar(&cfg.Serve, "serve", env.Var("VSC_WORKER_SERVE", "") != "", "also answer data-service query jobs for --idao as a registered provider (needs --chain, --provider-key) (VSC_WORKER_SERVE)")
	fs.StringVar(&cfg.ServeIDAO, "idao", env.Var("VSC_IDAO", ""), "with --serve: the iDAO whose classes this enclave serves (VSC_IDAO)")
	fs.StringVar(&cfg.ProviderKey, "provider-key", env.Var("VSC_PROVIDER_KEY", ""), "with --serve: the provider's funded account key (stakes, is paid the fees) (VSC_PROVIDER_KEY)")
	fs.StringVar(&cfg.ServeFee, "fee", env.Var("VSC_PROVIDER_FEE", "1"), "with --serve: the fee per job, base units (VSC_PROVIDER_FEE)")
	fs.StringVar(&cfg.ServeStake, "stake", env.Var("VSC_PROVIDER_STAKE", "0"), "with --serve: the stake locked at registration, base units (VSC_PROVIDER_STAKE)")
	fs.StringVar(&cfg.ServeSequencer, "sequencer", env.Var("VSC_SEQUENCER", ""), "with --serve: the chain's sequencer address (from the genesis); the enclave believes a class's dataset and its iDAO's privacy floor only as proven under its signed headers (VSC_SEQUENCER)")
	fs.StringVar(&cfg.ServeNATSCreds, "provider-nats-creds", env.Var("VSC_PROVIDER_NATS_CREDS", ""), "with --serve: the NATS credentials of a user with the provider role (default: --nats-creds)")
}

// parseWorker parses and checks `vscd worker`'s flags.
func parseWorker(env *cli.Env, args []string) (workerConfig, error) {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var cfg workerConfig
	workerFlags(fs, env, &cfg)
	if _, err := cli.ParseConfig(fs, env, env.Stdout, args); err != nil {
		return cfg, err
	}
	switch cfg.Backend {
	case tee.BackendSim, tee.BackendEgo:
	case "":
		return cfg, cli.Usagef("vscd worker needs --tee-backend sim or ego (or VSC_TEE_BACKEND): ego is an SGX enclave; sim is a software simulation that protects nothing, for development only")
	default:
		return cfg, cli.Usagef("--tee-backend %q: want sim (software simulation, development only) or ego (SGX)", cfg.Backend)
	}
	if cfg.Serve && (cfg.Chain == "" || cfg.ProviderKey == "" || cfg.ServeIDAO == "") {
		return cfg, cli.Usagef("--serve needs --chain URL, --idao NAME and --provider-key FILE (a funded account: it stakes and is paid the fees)")
	}
	if cfg.Serve && !common.IsHexAddress(cfg.ServeSequencer) {
		return cfg, cli.Usagef("--serve needs --sequencer ADDR (or VSC_SEQUENCER): the enclave reads each class's dataset and its iDAO's privacy floor from chain state proven under the sequencer's signature")
	}
	if cfg.Chain != "" && cfg.OptKey == "" && !cfg.Serve && !cfg.ShowKey && !cfg.ShowPolicy {
		return cfg, cli.Usagef("--chain needs --optimistic-key FILE (a funded account for claims and challenges)")
	}
	return cfg, nil
}

// cmdWorker runs the worker roles: it opens (or creates) the enclave
// identity sealed in DATA/tee and runs the TEE verifier — with --zk the zk
// prover, with --chain the optimistic executor and watcher — until SIGTERM
// or until one of them fails, then drains in-flight jobs.
func cmdWorker(ctx context.Context, env *cli.Env, args []string) error {
	cfg, err := parseWorker(env, args)
	if err != nil {
		return err
	}
	log := logger(env, cfg.LogLevel)
	enc, err := openWorkerEnclave(cfg, log)
	if err != nil {
		return err
	}
	if cfg.ShowPolicy {
		return json.NewEncoder(env.Stdout).Encode(enc.Policy())
	}
	if cfg.ShowKey {
		return showKey(env, enc.Info())
	}
	l := &service.List{Log: log}
	if err := startWorker(ctx, env, l, cfg, enc, log); err != nil {
		return stopAfter(err, l)
	}
	return l.Serve(ctx, drainTimeout)
}

// openWorkerEnclave opens the worker's enclave and logs what it is.
func openWorkerEnclave(cfg workerConfig, log *slog.Logger) (*tee.Enclave, error) {
	enc, err := tee.OpenBackend(cfg.Backend, filepath.Join(cfg.Data, "tee"))
	if err != nil {
		return nil, fmt.Errorf("open enclave: %w", err)
	}
	if root, ok := enc.SimRoot(); ok {
		log.Warn("SIMULATION: TEE backend is the software simulation; its reports prove nothing and only policies with allow_simulation that list its root accept them. Never give it real data.",
			"simulation_root", root.Hex(), "root_file", filepath.Join(cfg.Data, "tee", tee.SimRootFile))
	}
	info, self := enc.Info(), enc.SelfReport()
	log.Info("enclave", "backend", info.Backend, "address", info.Address.Hex(),
		"unique_id", hexutil.Encode(self.UniqueID), "signer_id", hexutil.Encode(self.SignerID),
		"product_id", hexutil.Encode(self.ProductID), "security_version", self.SecurityVersion, "debug", self.Debug)
	return enc, nil
}

func showKey(env *cli.Env, info tee.KeyInfo) error {
	if env.JSON {
		return json.NewEncoder(env.Stdout).Encode(info)
	}
	fmt.Fprintf(env.Stdout, "backend     %s\naddress     %s\npublic key  %s\n", info.Backend, info.Address.Hex(), info.PublicKey)
	return nil
}

// startWorker connects the bus and starts the worker's roles in l.
func startWorker(ctx context.Context, env *cli.Env, l *service.List, cfg workerConfig, enc *tee.Enclave, log *slog.Logger) error {
	// every result this worker publishes (tee, zk, optimistic) is signed by
	// its enclave key: the coordinator believes no other
	b, err := bus.Connect(*cfg.NATS, bus.Config{Concurrency: cfg.Concurrency, Signer: enc}, log)
	if err != nil {
		return err
	}
	l.Add("NATS connection", service.Closer(b.Close))
	reg := prometheus.NewRegistry()
	if cfg.Metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		m := &httpserve.Service{Addr: cfg.Metrics, Handler: mux}
		if err := l.Run(ctx, "metrics", m); err != nil {
			return err
		}
		log.Info("metrics", "addr", m.ListenAddr())
	}
	info := enc.Info()
	if err := l.Run(ctx, "TEE worker", worker.New(enc, b, log).WithMetrics(reg)); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "tee worker (%s) enclave %s consuming tee jobs from %s\n", info.Backend, info.Address.Hex(), cfg.NATS.URL)
	if cfg.ZK {
		km, err := prover.NewKeyManager(cfg.ZKKeys, log)
		if err != nil {
			return err
		}
		zk := proverworker.New(proverworker.Config{Keys: km, Open: enc.OpenEnvelope, OpenStream: enc.OpenEnvelopeStream, Parallel: cfg.ZKParallel, Log: log}, b)
		if err := l.Run(ctx, "zk prover", zk); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "zk prover consuming zk jobs (keys in %s)\n", cfg.ZKKeys)
	}
	if cfg.Serve {
		if err := startServe(ctx, l, enc, cfg, log); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "data-service provider of iDAO %s, settling on %s\n", cfg.ServeIDAO, cfg.Chain)
	}
	if cfg.Chain == "" || cfg.OptKey == "" {
		return nil
	}
	if err := startOptimistic(ctx, l, b, enc, cfg, log); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "optimistic executor and honest watcher on %s\n", cfg.Chain)
	return nil
}
