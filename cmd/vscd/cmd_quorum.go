package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/httpserve"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/quorum/member"
	"github.com/vsc-labs/vsc/tee"
)

// quorumConfig is `vscd quorum`'s configuration.
type quorumConfig struct {
	KeyFile   string
	Chain     string
	NATS      *bus.ConnectOptions
	Data      string
	IDAOs     []string
	ZKKeys    string
	TEEPolicy string
	ChainID   uint64
	Genesis   string
	Sequencer string
	LogLevel  string
	Metrics   string
}

func parseQuorum(env *cli.Env, args []string) (quorumConfig, error) {
	fs := flag.NewFlagSet("quorum", flag.ContinueOnError)
	var cfg quorumConfig
	fs.StringVar(&cfg.KeyFile, "key", env.Var("VSC_KEY", ""), "the member's key (VSC_KEY)")
	fs.StringVar(&cfg.Chain, "chain", env.Var("VSC_CHAIN_API", "http://127.0.0.1:8080"), "the chain's HTTP API (VSC_CHAIN_API)")
	cfg.NATS = natsFlags(fs, env, "vsc-member")
	fs.StringVar(&cfg.Data, "data", env.Var("VSC_DATA", ".data/quorum"), "where the member records what it signed (VSC_DATA)")
	idaos := fs.String("idao", "", "comma-separated iDAOs to serve (default: every iDAO the key is a member of)")
	fs.StringVar(&cfg.ZKKeys, "zk-keys", env.Var("VSC_ZK_KEYS", ".data/zk-keys"), "verifying keys, by hash (VSC_ZK_KEYS)")
	fs.StringVar(&cfg.TEEPolicy, "tee-policy", "", "check TEE evidence against this policy (JSON) instead of the iDAO's on-chain one")
	fs.Uint64Var(&cfg.ChainID, "chain-id", 0, "chain id (default: the genesis's, else ask the chain)")
	fs.StringVar(&cfg.Genesis, "genesis", env.Var("VSC_GENESIS", ""), "the chain's genesis JSON: its sequencer signs the headers every chain read is proven against (VSC_GENESIS)")
	fs.StringVar(&cfg.Sequencer, "sequencer", env.Var("VSC_SEQUENCER", ""), "the chain's sequencer address, instead of --genesis (VSC_SEQUENCER)")
	fs.StringVar(&cfg.LogLevel, "log-level", env.Var("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	fs.StringVar(&cfg.Metrics, "metrics-listen", env.Var("VSC_METRICS_LISTEN", ""), "serve Prometheus /metrics on this address (VSC_METRICS_LISTEN); empty: off")
	if _, err := cli.ParseConfig(fs, env, env.Stdout, args); err != nil {
		return cfg, err
	}
	for _, s := range strings.Split(*idaos, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.IDAOs = append(cfg.IDAOs, s)
		}
	}
	if cfg.KeyFile == "" {
		return cfg, cli.Usagef("vscd quorum needs --key FILE (the member's account)")
	}
	return cfg, nil
}

// sequencer is the address whose signed headers the member proves every
// chain read against: from the genesis or --sequencer, never from the API
// it reads. It fills cfg.ChainID from the genesis when not given.
func (cfg *quorumConfig) sequencer() (common.Address, error) {
	switch {
	case cfg.Genesis != "" && cfg.Sequencer != "":
		return common.Address{}, cli.Usagef("give the sequencer once: --genesis FILE or --sequencer ADDR, not both")
	case cfg.Genesis != "":
		g, err := chain.LoadGenesis(cfg.Genesis)
		if err != nil {
			return common.Address{}, err
		}
		if cfg.ChainID == 0 {
			cfg.ChainID = g.ChainID
		} else if cfg.ChainID != g.ChainID {
			return common.Address{}, cli.Usagef("--chain-id %d but the genesis is of chain %d", cfg.ChainID, g.ChainID)
		}
		return g.Sequencer, nil
	case cfg.Sequencer != "":
		if !common.IsHexAddress(cfg.Sequencer) {
			return common.Address{}, cli.Usagef("--sequencer %q is not a 0x address", cfg.Sequencer)
		}
		return common.HexToAddress(cfg.Sequencer), nil
	default:
		return common.Address{}, cli.Usagef("vscd quorum needs the chain's sequencer, known from elsewhere than the chain API it reads: --genesis FILE (the chain's genesis) or --sequencer ADDR (VSC_GENESIS, VSC_SEQUENCER)")
	}
}

// cmdQuorum runs one quorum member: it reads iDAOs (members, stake, TEE
// policy, verifying-key hash) and enclave registrations from the chain's
// API, each checked by a state proof against a header signed by the
// sequencer it knows from the genesis (or --sequencer), never from the API;
// verifying keys from its key directory, proofs from the bus; and answers
// vote requests until a signal.
func cmdQuorum(ctx context.Context, env *cli.Env, args []string) error {
	cfg, err := parseQuorum(env, args)
	if err != nil {
		return err
	}
	seq, err := cfg.sequencer()
	if err != nil {
		return err
	}
	log := logger(env, cfg.LogLevel)
	if cfg.ChainID == 0 {
		info, err := client.New(cfg.Chain).ChainInfo(ctx)
		if err != nil {
			return fmt.Errorf("ask the chain at %s for its id: %w", cfg.Chain, err)
		}
		cfg.ChainID = info.ChainID
	}
	l := &service.List{Log: log}
	m, err := startMember(ctx, l, cfg, seq, log)
	if err != nil {
		return stopAfter(err, l)
	}
	fmt.Fprintf(env.Stdout, "quorum member %s on chain %s (sequencer %s) serving %s\n", m.Address().Hex(), strconv.FormatUint(cfg.ChainID, 10), seq.Hex(), orAll(cfg.IDAOs))
	return l.Serve(ctx, drainTimeout)
}

// startMember opens the member's keys and vote record, connects the bus
// and starts the member service in l.
func startMember(ctx context.Context, l *service.List, cfg quorumConfig, seq common.Address, log *slog.Logger) (*member.Member, error) {
	key, err := keys.Load(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, err
	}
	km, err := prover.NewKeyManager(cfg.ZKKeys, log)
	if err != nil {
		return nil, err
	}
	mcfg := member.Config{Key: key, ChainID: cfg.ChainID, DataDir: filepath.Clean(cfg.Data), Log: log}
	if cfg.TEEPolicy != "" {
		raw, err := os.ReadFile(cfg.TEEPolicy)
		if err != nil {
			return nil, err
		}
		p, err := tee.ParsePolicy(raw)
		if err != nil {
			return nil, fmt.Errorf("--tee-policy: %w", err)
		}
		mcfg.TEEPolicy = &p
	}
	b, err := bus.Connect(*cfg.NATS, bus.Config{}, log)
	if err != nil {
		return nil, err
	}
	l.Add("NATS connection", service.Closer(b.Close))
	m, err := member.New(mcfg, member.NewProvenChain(cfg.Chain, seq), b, km)
	if err != nil {
		return nil, err
	}
	if cfg.Metrics != "" {
		reg := prometheus.NewRegistry()
		m.WithMetrics(reg)
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if err := l.Run(ctx, "metrics", &httpserve.Service{Addr: cfg.Metrics, Handler: mux}); err != nil {
			return nil, err
		}
	}
	return m, l.Run(ctx, "quorum member", member.NewService(m, b, cfg.IDAOs))
}

func orAll(s []string) string {
	if len(s) == 0 {
		return "every iDAO it is a member of"
	}
	return strings.Join(s, ", ")
}
