package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vsc-labs/vsc/coordinator/chainlink"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum/member"
	"github.com/vsc-labs/vsc/tee"
)

func init() {
	extraCommands = append(extraCommands, cli.Command{Name: "quorum",
		Usage: "--key FILE [--chain URL] [--nats URL --nats-creds FILE] [--idao NAME,…] [--zk-keys DIR] [--tee-policy FILE]: a quorum member node",
		Run:   wrap(cmdQuorum)})
}

// cmdQuorum runs one quorum member: it reads iDAOs (members, stake, TEE
// policy, verifying-key hash) from the chain's API, verifying keys from its
// key directory, proofs from the bus, and answers vote requests.
func cmdQuorum(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quorum", flag.ContinueOnError)
	keyFile := fs.String("key", envOr("VSC_KEY", ""), "the member's key (VSC_KEY)")
	chainURL := fs.String("chain", envOr("VSC_CHAIN_API", "http://127.0.0.1:8080"), "the chain's HTTP API (VSC_CHAIN_API)")
	nats := natsFlags(fs, "vsc-member")
	data := fs.String("data", envOr("VSC_DATA", ".data/quorum"), "where the member records what it signed (VSC_DATA)")
	idaos := fs.String("idao", "", "comma-separated iDAOs to serve (default: every iDAO the key is a member of)")
	zkKeys := fs.String("zk-keys", envOr("VSC_ZK_KEYS", ".data/zk-keys"), "verifying keys, by hash (VSC_ZK_KEYS)")
	teePolicy := fs.String("tee-policy", "", "check TEE evidence against this policy (JSON) instead of the iDAO's on-chain one")
	chainID := fs.Uint64("chain-id", 0, "chain id (default: ask the chain)")
	level := fs.String("log-level", envOr("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" {
		return cli.Usagef("vscd quorum needs --key FILE (the member's account)")
	}
	log := logger(stderr, *level)
	key, err := keys.Load(*keyFile)
	if err != nil {
		return err
	}
	c := client.New(*chainURL)
	if *chainID == 0 {
		info, err := c.ChainInfo(ctx)
		if err != nil {
			return fmt.Errorf("ask the chain at %s for its id: %w", *chainURL, err)
		}
		*chainID = info.ChainID
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	km, err := prover.NewKeyManager(*zkKeys, log)
	if err != nil {
		return err
	}
	b, err := bus.Connect(*nats, bus.Config{}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	cfg := member.Config{Key: key, ChainID: *chainID, DataDir: filepath.Clean(*data), Log: log}
	if *teePolicy != "" {
		raw, err := os.ReadFile(*teePolicy)
		if err != nil {
			return err
		}
		p, err := tee.ParsePolicy(raw)
		if err != nil {
			return fmt.Errorf("--tee-policy: %w", err)
		}
		cfg.TEEPolicy = &p
	}
	m, err := member.New(cfg, &chainlink.RemoteIDAOs{C: c}, b, km)
	if err != nil {
		return err
	}
	defer m.Close()
	var serve []string
	for _, s := range strings.Split(*idaos, ",") {
		if s = strings.TrimSpace(s); s != "" {
			serve = append(serve, s)
		}
	}
	fmt.Fprintf(stdout, "quorum member %s on chain %s serving %s\n", m.Address().Hex(), strconv.FormatUint(*chainID, 10), orAll(serve))
	err = m.Run(ctx, b, serve)
	log.Info("member stopped", "at", time.Now().UTC())
	return err
}

func orAll(s []string) string {
	if len(s) == 0 {
		return "every iDAO it is a member of"
	}
	return strings.Join(s, ", ")
}
