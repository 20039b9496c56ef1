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
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/bench"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/httpserve"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/tee"
)

func init() {
	extraCommands = append(extraCommands,
		cli.Command{Name: "chain", Usage: "[--data DIR] [--lanes N] [--block-time D] [--block-size N] [--listen ADDR] [--genesis FILE] [--key FILE]: the chain sequencer and its read API", Run: wrap(cmdChain)},
		cli.Command{Name: "chain replay", Usage: "--data DIR [--lanes N]: re-execute every block from genesis and check every root", Run: wrap(cmdChainReplay)},
		cli.Command{Name: "bench chain", Usage: "--txs N --lanes N --conflict F --seed S [--block-size N] --json: signed transfers through the sequencer", Run: wrap(cmdBenchChain)},
	)
}

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

// cmdChain runs `vscd chain`: the sequencer with its HTTP read API.
// Flags also come from VSC_* env vars. On a fresh data dir without
// --genesis it writes a dev genesis that funds the sequencer.
func cmdChain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "replay" {
		return cmdChainReplay(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("chain", flag.ContinueOnError)
	data := fs.String("data", envOr("VSC_DATA", ".data/chain"), "data directory (chain.db, sequencer key) (VSC_DATA)")
	lanes := fs.Int("lanes", envInt("VSC_LANES", 2), "parallel execution lanes (VSC_LANES)")
	blockTime := fs.Duration("block-time", node.DefaultBlockTime, "seal a block at least this often")
	blockSize := fs.Int("block-size", node.DefaultBlockSize, "seal a block at this many txs")
	listen := fs.String("listen", envOr("VSC_CHAIN_LISTEN", "127.0.0.1:8545"), "HTTP address of the read API (VSC_CHAIN_LISTEN)")
	genesisFile := fs.String("genesis", envOr("VSC_GENESIS", ""), "genesis JSON, for a fresh data dir (VSC_GENESIS)")
	keyFile := fs.String("key", envOr("VSC_SEQUENCER_KEY", ""), "sequencer key file (default DIR/sequencer.key; created for a dev genesis)")
	chainID := fs.Uint64("chain-id", uint64(envInt("VSC_CHAIN_ID", 1337)), "chain id of a dev genesis (VSC_CHAIN_ID)")
	level := fs.String("log-level", envOr("VSC_LOG_LEVEL", "info"), "log level")
	devTEE := fs.String("dev-tee-root", envOr("VSC_DEV_TEE_ROOT", ""), "comma-separated simulation root addresses: accept simulated enclave attestations they signed for iDAOs without a tee_policy (devnets only; `vscd worker --show-policy` prints a sim worker's root)")
	fs.Bool("json", false, "ignored")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := logger(stderr, *level)
	// The sequencer allocates many short-lived objects per tx over a large
	// live state; a higher GC target trades memory for ~25% less CPU.
	debug.SetGCPercent(chainGCPercent())
	if *keyFile == "" {
		*keyFile = filepath.Join(*data, "sequencer.key")
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	key, err := keys.LoadOrCreate(*keyFile)
	if err != nil {
		return fmt.Errorf("chain: sequencer key: %w", err)
	}
	var g *chain.Genesis
	if _, err := os.Stat(filepath.Join(*data, "chain.db")); err != nil {
		if *genesisFile != "" {
			if g, err = chain.LoadGenesis(*genesisFile); err != nil {
				return err
			}
		} else {
			seq := keys.Address(key)
			g = &chain.Genesis{ChainID: *chainID, Time: uint64(time.Now().UnixMilli()), Sequencer: seq, GasPrice: "1",
				Alloc: map[common.Address]string{seq: "1000000000000000000000000"}}
			log.Info("fresh chain: dev genesis funds the sequencer", "sequencer", seq.Hex(), "chain_id", *chainID)
		}
	}
	// Enclave keys are judged against each iDAO's tee_policy; without one
	// they are refused, unless --dev-tee-root names simulation roots to trust.
	reg := tee.KeyRegistry{}
	if *devTEE != "" {
		var roots []common.Address
		for _, s := range strings.Split(*devTEE, ",") {
			if s = strings.TrimSpace(s); !common.IsHexAddress(s) {
				return cli.Usagef("--dev-tee-root: %q is not a 0x address of a simulation root", s)
			}
			roots = append(roots, common.HexToAddress(s))
		}
		p := tee.SimPolicy(roots...)
		reg.Default = &p
	}
	n, err := node.New(node.Config{DataDir: *data, Genesis: g, SequencerKey: key, Lanes: *lanes, Enclave: reg,
		BlockTime: *blockTime, BlockSize: *blockSize, Logger: log})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("chain: listen %s: %w", *listen, err)
	}
	srv := httpserve.New(n.Handler())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	h := n.Head()
	fmt.Fprintf(stdout, "chain %d sequencer %s at height %d, API http://%s/v1/chain/head\n", n.ChainID(), n.Sequencer().Hex(), h.Height, ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("chain: serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return n.Err()
}

// cmdChainReplay runs `vscd chain replay`.
func cmdChainReplay(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("chain replay", flag.ContinueOnError)
	data := fs.String("data", envOr("VSC_DATA", ""), "data directory of the chain (or of a devnet)")
	lanes := fs.Int("lanes", 2, "parallel execution lanes (0: the plain sequential executor)")
	asJSON := fs.Bool("json", false, "print one JSON object")
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
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"blocks": res.Blocks, "txs": res.Txs, "head": res.Head,
			"state_root": res.StateRoot.Hex(), "lanes": *lanes, "seconds": time.Since(start).Seconds()})
	}
	fmt.Fprintf(stdout, "replayed %d blocks (%d txs) with %d lanes: every root checks\nhead %d state root %s\n",
		res.Blocks, res.Txs, *lanes, res.Head, res.StateRoot.Hex())
	return nil
}

// cmdBenchChain runs `vscd bench chain` and prints one JSON object.
func cmdBenchChain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench chain", flag.ContinueOnError)
	p := bench.Params{}
	fs.IntVar(&p.Txs, "txs", 100000, "signed transfers")
	fs.IntVar(&p.Lanes, "lanes", 2, "parallel lanes (and workers for recovery and hashing)")
	fs.Float64Var(&p.Conflict, "conflict", 0, "fraction of txs that pay one hot account (0..1)")
	fs.Uint64Var(&p.Seed, "seed", 1, "workload seed: same seed, same state root for every --lanes")
	fs.IntVar(&p.BlockSize, "block-size", 5000, "txs per block")
	fs.IntVar(&p.Senders, "senders", 0, "distinct senders (default min(txs, 10000))")
	fs.IntVar(&p.Procs, "procs", 0, "GOMAXPROCS while timing (default min(lanes, cores))")
	fs.IntVar(&p.GCPercent, "gc-percent", chainGCPercent(), "GOGC while timing (default: what `vscd chain` runs with)")
	fs.Bool("json", true, "print JSON (always)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if p.Conflict < 0 || p.Conflict > 1 {
		return cli.Usagef("--conflict must be between 0 and 1")
	}
	fmt.Fprintf(stderr, "signing %d transfers, then sealing them with %d lanes…\n", p.Txs, p.Lanes)
	res, err := bench.Run(ctx, p)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// chainGCPercent is the GC target of the chain role: GOGC when set, else 400.
func chainGCPercent() int {
	if v, err := strconv.Atoi(os.Getenv("GOGC")); err == nil {
		return v
	}
	return 400
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
