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

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
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
		Usage: "--key FILE (--genesis FILE | --sequencer ADDR) [--chain URL] [--nats URL --nats-creds FILE] [--idao NAME,…] [--zk-keys DIR] [--tee-policy FILE]: a quorum member node; it believes chain state only with proofs under headers the sequencer signed",
		Run:   wrap(cmdQuorum)})
}

// cmdQuorum runs one quorum member: it reads iDAOs (members, stake, TEE
// policy, verifying-key hash) and enclave registrations from the chain's
// API, each checked by a state proof against a header signed by the
// sequencer it knows from the genesis (or --sequencer), never from the API;
// verifying keys from its key directory, proofs from the bus; and answers
// vote requests.
func cmdQuorum(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quorum", flag.ContinueOnError)
	keyFile := fs.String("key", envOr("VSC_KEY", ""), "the member's key (VSC_KEY)")
	chainURL := fs.String("chain", envOr("VSC_CHAIN_API", "http://127.0.0.1:8080"), "the chain's HTTP API (VSC_CHAIN_API)")
	nats := natsFlags(fs, "vsc-member")
	data := fs.String("data", envOr("VSC_DATA", ".data/quorum"), "where the member records what it signed (VSC_DATA)")
	idaos := fs.String("idao", "", "comma-separated iDAOs to serve (default: every iDAO the key is a member of)")
	zkKeys := fs.String("zk-keys", envOr("VSC_ZK_KEYS", ".data/zk-keys"), "verifying keys, by hash (VSC_ZK_KEYS)")
	teePolicy := fs.String("tee-policy", "", "check TEE evidence against this policy (JSON) instead of the iDAO's on-chain one")
	chainID := fs.Uint64("chain-id", 0, "chain id (default: the genesis's, else ask the chain)")
	genesisFile := fs.String("genesis", envOr("VSC_GENESIS", ""), "the chain's genesis JSON: its sequencer signs the headers every chain read is proven against (VSC_GENESIS)")
	sequencer := fs.String("sequencer", envOr("VSC_SEQUENCER", ""), "the chain's sequencer address, instead of --genesis (VSC_SEQUENCER)")
	level := fs.String("log-level", envOr("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" {
		return cli.Usagef("vscd quorum needs --key FILE (the member's account)")
	}
	var seq common.Address
	switch {
	case *genesisFile != "" && *sequencer != "":
		return cli.Usagef("give the sequencer once: --genesis FILE or --sequencer ADDR, not both")
	case *genesisFile != "":
		g, err := chain.LoadGenesis(*genesisFile)
		if err != nil {
			return err
		}
		seq = g.Sequencer
		if *chainID == 0 {
			*chainID = g.ChainID
		} else if *chainID != g.ChainID {
			return cli.Usagef("--chain-id %d but the genesis is of chain %d", *chainID, g.ChainID)
		}
	case *sequencer != "":
		if !common.IsHexAddress(*sequencer) {
			return cli.Usagef("--sequencer %q is not a 0x address", *sequencer)
		}
		seq = common.HexToAddress(*sequencer)
	default:
		return cli.Usagef("vscd quorum needs the chain's sequencer, known from elsewhere than the chain API it reads: --genesis FILE (the chain's genesis) or --sequencer ADDR (VSC_GENESIS, VSC_SEQUENCER)")
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
	m, err := member.New(cfg, member.NewProvenChain(*chainURL, seq), b, km)
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
	fmt.Fprintf(stdout, "quorum member %s on chain %s (sequencer %s) serving %s\n", m.Address().Hex(), strconv.FormatUint(*chainID, 10), seq.Hex(), orAll(serve))
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
