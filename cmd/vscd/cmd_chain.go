package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/httpserve"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/tee"
)

// chainDataDir accepts both the chain's own directory and a devnet data
// directory holding it under chain/.
func chainDataDir(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "chain.db")); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "chain", "chain.db")); err == nil {
			return filepath.Join(dir, "chain")
		}
	}
	return dir
}

// chainConfig is `vscd chain`'s configuration.
type chainConfig struct {
	Data, Listen, Genesis, KeyFile, LogLevel, DevTEE string
	Follow, Sequencer                                string // a verifying follower of the sequencer's API at Follow
	Lanes, BlockSize                                 int
	BlockTime                                        time.Duration
	ChainID                                          uint64
}

func parseChain(env *cli.Env, args []string) (chainConfig, error) {
	fs := flag.NewFlagSet("chain", flag.ContinueOnError)
	var cfg chainConfig
	fs.StringVar(&cfg.Data, "data", env.Var("VSC_DATA", ".data/chain"), "data directory (chain.db, sequencer key) (VSC_DATA)")
	fs.IntVar(&cfg.Lanes, "lanes", env.Int("VSC_LANES", 2), "parallel execution lanes (VSC_LANES)")
	fs.DurationVar(&cfg.BlockTime, "block-time", node.DefaultBlockTime, "seal a block at least this often")
	fs.IntVar(&cfg.BlockSize, "block-size", node.DefaultBlockSize, "seal a block at this many txs")
	fs.StringVar(&cfg.Listen, "listen", env.Var("VSC_CHAIN_LISTEN", "127.0.0.1:8545"), "HTTP address of the read API (VSC_CHAIN_LISTEN)")
	fs.StringVar(&cfg.Genesis, "genesis", env.Var("VSC_GENESIS", ""), "genesis JSON, for a fresh data dir (VSC_GENESIS)")
	fs.StringVar(&cfg.KeyFile, "key", env.Var("VSC_SEQUENCER_KEY", ""), "sequencer key file (default DIR/sequencer.key; created for a dev genesis) (VSC_SEQUENCER_KEY)")
	fs.Uint64Var(&cfg.ChainID, "chain-id", uint64(env.Int("VSC_CHAIN_ID", 1337)), "chain id of a dev genesis (VSC_CHAIN_ID)")
	fs.StringVar(&cfg.LogLevel, "log-level", env.Var("VSC_LOG_LEVEL", "info"), "log level")
	fs.StringVar(&cfg.DevTEE, "dev-tee-root", env.Var("VSC_DEV_TEE_ROOT", ""), "comma-separated simulation root addresses: accept simulated enclave attestations they signed for iDAOs without a tee_policy (devnets only; `vscd worker --show-policy` prints a sim worker's root)")
	fs.StringVar(&cfg.Follow, "follow", env.Var("VSC_FOLLOW", ""), "run a verifying follower of the sequencer whose API is at this URL instead of a sequencer: it re-executes and checks every block, serves the same read API and forwards txs (VSC_FOLLOW)")
	fs.StringVar(&cfg.Sequencer, "sequencer", env.Var("VSC_SEQUENCER", ""), "with --follow and no --genesis: the sequencer address the fetched genesis must name (VSC_SEQUENCER)")
	if _, err := cli.ParseConfig(fs, env, env.Stdout, args); err != nil {
		return cfg, err
	}
	if cfg.Follow != "" {
		return cfg, cfg.checkFollow()
	}
	if cfg.KeyFile == "" {
		cfg.KeyFile = filepath.Join(cfg.Data, "sequencer.key")
	}
	return cfg, nil
}

// cmdChain runs `vscd chain`: the sequencer with its HTTP read API, until
// a signal or until block production stops. Flags also come from VSC_*
// env vars. On a fresh data dir without --genesis it writes a dev genesis
// that funds the sequencer.
func cmdChain(ctx context.Context, env *cli.Env, args []string) error {
	cfg, err := parseChain(env, args)
	if err != nil {
		return err
	}
	log := logger(env, cfg.LogLevel)
	// The sequencer allocates many short-lived objects per tx over a large
	// live state; a higher GC target trades memory for ~25% less CPU.
	debug.SetGCPercent(chainGCPercent(env))
	ncfg, err := cfg.nodeConfig(log)
	if cfg.Follow != "" {
		ncfg, err = cfg.followConfig(ctx, log)
	}
	if err != nil {
		return err
	}
	n, err := node.New(ncfg)
	if err != nil {
		return err
	}
	l := &service.List{Log: log}
	reg := prometheus.NewRegistry()
	chainMetrics(reg, n)
	mux := http.NewServeMux()
	mux.Handle("/", n.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	api := &httpserve.Service{Addr: cfg.Listen, Handler: mux}
	if err := l.Run(ctx, "chain", n); err != nil {
		return stopAfter(err, l)
	}
	if err := l.Run(ctx, "chain API", api); err != nil {
		return stopAfter(fmt.Errorf("chain: %w", err), l)
	}
	h := n.Head()
	if cfg.Follow != "" {
		fmt.Fprintf(env.Stdout, "chain %d follower of %s (sequencer %s) at height %d, API http://%s/v1/chain/head\n", n.ChainID(), cfg.Follow, n.Sequencer().Hex(), h.Height, api.ListenAddr())
		return l.Serve(ctx, drainTimeout)
	}
	fmt.Fprintf(env.Stdout, "chain %d sequencer %s at height %d, API http://%s/v1/chain/head\n", n.ChainID(), n.Sequencer().Hex(), h.Height, api.ListenAddr())
	return l.Serve(ctx, drainTimeout)
}

// nodeConfig is the node's configuration: the sequencer key (made on
// first start), the genesis of a fresh data dir, the enclave registry.
func (cfg chainConfig) nodeConfig(log *slog.Logger) (node.Config, error) {
	ncfg, err := cfg.readOnlyConfig(log)
	if err != nil {
		return ncfg, err
	}
	key, err := keys.LoadOrCreate(cfg.KeyFile)
	if err != nil {
		return node.Config{}, fmt.Errorf("chain: sequencer key: %w", err)
	}
	ncfg.SequencerKey = key
	if _, err := os.Stat(filepath.Join(cfg.Data, "chain.db")); err != nil {
		if cfg.Genesis != "" {
			if ncfg.Genesis, err = chain.LoadGenesis(cfg.Genesis); err != nil {
				return node.Config{}, err
			}
		} else {
			seq := keys.Address(key)
			ncfg.Genesis = &chain.Genesis{ChainID: cfg.ChainID, Time: uint64(time.Now().UnixMilli()), Sequencer: seq, GasPrice: "1",
				Alloc: map[common.Address]string{seq: "1000000000000000000000000"}}
			log.Info("fresh chain: dev genesis funds the sequencer", "sequencer", seq.Hex(), "chain_id", cfg.ChainID)
		}
	}
	return ncfg, nil
}

// readOnlyConfig is what a sequencer and a follower share: the data dir,
// lanes, block limits and the enclave registry.
func (cfg chainConfig) readOnlyConfig(log *slog.Logger) (node.Config, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return node.Config{}, fmt.Errorf("chain: %w", err)
	}
	// Enclave keys are judged against each iDAO's tee_policy; without one
	// they are refused, unless --dev-tee-root names simulation roots to trust.
	reg := tee.KeyRegistry{}
	if cfg.DevTEE != "" {
		var roots []common.Address
		for _, s := range strings.Split(cfg.DevTEE, ",") {
			if s = strings.TrimSpace(s); !common.IsHexAddress(s) {
				return node.Config{}, cli.Usagef("--dev-tee-root: %q is not a 0x address of a simulation root", s)
			}
			roots = append(roots, common.HexToAddress(s))
		}
		p := tee.SimPolicy(roots...)
		reg.Default = &p
	}
	return node.Config{DataDir: cfg.Data, Lanes: cfg.Lanes, Enclave: reg,
		BlockTime: cfg.BlockTime, BlockSize: cfg.BlockSize, Logger: log}, nil
}

// cmdChainReplay runs `vscd chain replay`.
func cmdChainReplay(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("chain replay", flag.ContinueOnError)
	data := fs.String("data", env.Var("VSC_DATA", ""), "data directory of the chain (or of a devnet)")
	lanes := fs.Int("lanes", 2, "parallel execution lanes (0: the plain sequential executor)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return cli.Usagef("vscd chain replay --data DIR [--lanes N]")
	}
	start := time.Now()
	res, err := node.Replay(ctx, chainDataDir(*data), *lanes, nil)
	if err != nil {
		return err
	}
	if env.JSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]any{"blocks": res.Blocks, "txs": res.Txs, "head": res.Head,
			"state_root": res.StateRoot.Hex(), "lanes": *lanes, "seconds": time.Since(start).Seconds()})
	}
	fmt.Fprintf(env.Stdout, "replayed %d blocks (%d txs) with %d lanes: every root checks\nhead %d state root %s\n",
		res.Blocks, res.Txs, *lanes, res.Head, res.StateRoot.Hex())
	return nil
}

// chainGCPercent is the GC target of the chain role: GOGC when set, else 400.
func chainGCPercent(env *cli.Env) int {
	if v, err := strconv.Atoi(env.Var("GOGC", "")); err == nil {
		return v
	}
	return 400
}
