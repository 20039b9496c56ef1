package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"

	"github.com/vsc-labs/vsc/coordinator/chainlink"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/coordinator/ui"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
)

// coordinatorFlags adds the coordinator's flags (of `vscd coordinator` and
// of the devnet) to fs.
func coordinatorFlags(fs *flag.FlagSet, env *cli.Env, cfg *server.Config) {
	fs.Uint64Var(&cfg.ChainID, "chain-id", uint64(env.Int("VSC_CHAIN_ID", 1337)), "chain id of the EIP-712 domain (VSC_CHAIN_ID)")
	fs.Int64Var(&cfg.MaxBlob, "max-blob", 64<<20, "largest ciphertext blob sent inline with a submission, bytes")
	fs.Int64Var(&cfg.MaxStreamBlob, "max-stream-blob", 1<<30, "largest ciphertext blob uploaded with PUT /v1/blobs (streamed into the object store), bytes")
	fs.IntVar(&cfg.ZKChunk, "zk-chunk", prover.DefaultChunk, "records per zk proving job (power of two; must match the iDAO's circuit)")
	fs.DurationVar(&cfg.VoteTimeout, "vote-timeout", 60*time.Second, "a submission without a quorum after this long fails, naming who did not vote")
	fs.DurationVar(&cfg.LeaseTTL, "lease-ttl", server.DefaultLeaseTTL, "with several coordinators on one database: the finisher lease (anchor and mint) lasts this long unrenewed, so a dead holder's work moves to another coordinator after at most this")
	fs.Float64Var(&cfg.IntakeRate, "intake-rate", env.Float("VSC_INTAKE_RATE", server.DefaultIntakeRate),
		"intake requests (submissions, blob uploads) a second per client address; -1: no limit (VSC_INTAKE_RATE)")
	fs.IntVar(&cfg.IntakeBurst, "intake-burst", 0, "intake requests a client may send at once (default twice --intake-rate)")
	fs.DurationVar(&cfg.BlobTTL, "blob-ttl", server.DefaultBlobTTL, "an uploaded blob no signed submission references within this long is deleted")
	fs.Int64Var(&cfg.MaxPendingBlobBytes, "max-pending-blob-bytes", 0,
		fmt.Sprintf("bytes of uploaded blobs waiting for their submission, over all clients (default %d × --max-blob)", server.DefaultPendingBlobs))
	fs.Int64Var(&cfg.MaxPendingBlobBytesPerClient, "max-pending-blob-bytes-per-client", 0,
		fmt.Sprintf("the same per client address (default %d × --max-blob)", server.DefaultPendingBlobsPerClient))
}

// coordinatorConfig is `vscd coordinator`'s configuration.
type coordinatorConfig struct {
	Server      server.Config
	NATS        *bus.ConnectOptions
	BlobBytes   int64
	DB          string
	LogLevel    string
	Chain       string
	ChainRead   string
	ChainKey    string
	EnclaveFile string
}

func coordinatorRoleFlags(env *cli.Env, args []string) (coordinatorConfig, error) {
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	var cfg coordinatorConfig
	coordinatorFlags(fs, env, &cfg.Server)
	fs.StringVar(&cfg.Server.Listen, "listen", env.Var("VSC_LISTEN", ":8080"), "HTTP API address (VSC_LISTEN)")
	cfg.NATS = natsFlags(fs, env, "vsc-coordinator")
	fs.Int64Var(&cfg.BlobBytes, "nats-blob-bytes", bus.DefaultBlobBytes, "room the streams give ciphertext blobs, bytes (reserved on the NATS server's disk)")
	fs.StringVar(&cfg.DB, "db", env.Var("DATABASE_URL", pgutil.DefaultURL), "PostgreSQL URL (DATABASE_URL)")
	fs.StringVar(&cfg.LogLevel, "log-level", env.Var("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	fs.StringVar(&cfg.Chain, "chain", env.Var("VSC_CHAIN_API", ""), "the chain's HTTP API: iDAOs are read there and certified results anchored and minted there (VSC_CHAIN_API); empty: iDAOs from PostgreSQL, submissions stop at voting")
	fs.StringVar(&cfg.ChainRead, "chain-read", env.Var("VSC_CHAIN_READ", ""), "with --chain: read iDAOs from this chain API instead, the coordinator's own verifying follower (`vscd chain --follow`); anchors and mints still go to --chain (VSC_CHAIN_READ)")
	fs.StringVar(&cfg.ChainKey, "chain-key", env.Var("VSC_CHAIN_KEY", ""), "with --chain: the coordinator's chain account key (pays anchor and mint fees)")
	fs.StringVar(&cfg.EnclaveFile, "enclave", env.Var("VSC_ENCLAVE", ""), "with --chain: the verifier set's enclave key as `vscd worker --show-key --json` prints it (served to clients)")
	if _, err := cli.ParseConfig(fs, env, env.Stdout, args); err != nil {
		return cfg, err
	}
	if cfg.Chain != "" && (cfg.ChainKey == "" || cfg.EnclaveFile == "") {
		return cfg, cli.Usagef("--chain needs --chain-key FILE and --enclave FILE")
	}
	return cfg, nil
}

// cmdCoordinator runs the coordinator role alone, against NATS_URL and
// DATABASE_URL: the store, the bus and the server, served until a signal.
func cmdCoordinator(ctx context.Context, env *cli.Env, args []string) error {
	cfg, err := coordinatorRoleFlags(env, args)
	if err != nil {
		return err
	}
	log := logger(env, cfg.LogLevel)
	if cfg.Chain != "" {
		if err := cfg.linkChain(); err != nil {
			return err
		}
	}
	l := &service.List{Log: log}
	srv, err := startCoordinator(ctx, l, cfg, log)
	if err != nil {
		return stopAfter(err, l)
	}
	fmt.Fprintf(env.Stdout, "coordinator listening on %s\n", srv.Addr())
	return l.Serve(ctx, drainTimeout)
}

// linkChain points the coordinator at the chain's API (--chain).
func (cfg *coordinatorConfig) linkChain() error {
	key, err := keys.Load(cfg.ChainKey)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(cfg.EnclaveFile)
	if err != nil {
		return err
	}
	var info tee.KeyInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return fmt.Errorf("--enclave %s is not `vscd worker --show-key --json` output: %w", cfg.EnclaveFile, err)
	}
	link := &chainlink.Remote{Client: client.New(cfg.Chain), Key: key, EnclavePubkey: info.PublicKey,
		EnclaveReport: tee.EncodeAttestation(info.Attestation)}
	if cfg.ChainRead != "" {
		link.Reads = client.New(cfg.ChainRead)
	}
	cfg.Server.Chain, cfg.Server.Registry, cfg.Server.Services, cfg.Server.ChainFeed = link, link.Registry(), link, link
	return nil
}

// chainReads passes the Web UI's chain reads (GET /v1/chain/…) to the chain
// API at base, so the pages have one origin. Only GET is passed; the
// answers are the chain API's, which the pages treat as unproven except
// where they check a proof themselves.
func chainReads(base string) http.Handler {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return http.NotFoundHandler()
	}
	return httputil.NewSingleHostReverseProxy(u)
}

// startCoordinator opens the store and the bus and starts the server,
// recording each in l.
func startCoordinator(ctx context.Context, l *service.List, cfg coordinatorConfig, log *slog.Logger) (*server.Server, error) {
	st, err := store.Open(ctx, cfg.DB, 32, log)
	if err != nil {
		return nil, err
	}
	l.Add("PostgreSQL pool", service.Closer(st.Close))
	b, err := bus.Connect(*cfg.NATS, bus.Config{BlobBytes: cfg.BlobBytes}, log)
	if err != nil {
		return nil, err
	}
	l.Add("NATS connection", service.Closer(b.Close))
	cfg.Server.UI = ui.Handler()
	srv := server.New(cfg.Server, st, b, log)
	if cfg.Chain != "" {
		srv.Mount("GET /v1/chain/", chainReads(cfg.Chain))
	}
	return srv, l.Run(ctx, "coordinator", srv)
}
