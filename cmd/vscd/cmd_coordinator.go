package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/vsc-labs/vsc/coordinator/chainlink"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
)

func coordinatorFlags(fs *flag.FlagSet, cfg *server.Config) {
	chainID, _ := strconv.ParseUint(envOr("VSC_CHAIN_ID", "1337"), 10, 64)
	fs.Uint64Var(&cfg.ChainID, "chain-id", chainID, "chain id of the EIP-712 domain (VSC_CHAIN_ID)")
	fs.Int64Var(&cfg.MaxBlob, "max-blob", 64<<20, "largest accepted ciphertext blob, bytes")
	fs.IntVar(&cfg.ZKChunk, "zk-chunk", prover.DefaultChunk, "records per zk proving job (power of two; must match the iDAO's circuit)")
	fs.DurationVar(&cfg.VoteTimeout, "vote-timeout", 60*time.Second, "a submission without a quorum after this long fails, naming who did not vote")
	fs.Float64Var(&cfg.IntakeRate, "intake-rate", envFloat("VSC_INTAKE_RATE", server.DefaultIntakeRate),
		"intake requests (submissions, blob uploads) a second per client address; -1: no limit (VSC_INTAKE_RATE)")
	fs.IntVar(&cfg.IntakeBurst, "intake-burst", 0, "intake requests a client may send at once (default twice --intake-rate)")
	fs.DurationVar(&cfg.BlobTTL, "blob-ttl", server.DefaultBlobTTL, "an uploaded blob no signed submission references within this long is deleted")
	fs.Int64Var(&cfg.MaxPendingBlobBytes, "max-pending-blob-bytes", 0,
		fmt.Sprintf("bytes of uploaded blobs waiting for their submission, over all clients (default %d × --max-blob)", server.DefaultPendingBlobs))
	fs.Int64Var(&cfg.MaxPendingBlobBytesPerClient, "max-pending-blob-bytes-per-client", 0,
		fmt.Sprintf("the same per client address (default %d × --max-blob)", server.DefaultPendingBlobsPerClient))
}

// envFloat is a float from the environment, or def.
func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

// cmdCoordinator runs the coordinator role alone, against NATS_URL and DATABASE_URL.
func cmdCoordinator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	var cfg server.Config
	coordinatorFlags(fs, &cfg)
	fs.StringVar(&cfg.Listen, "listen", envOr("VSC_LISTEN", ":8080"), "HTTP API address (VSC_LISTEN)")
	nats := natsFlags(fs, "vsc-coordinator")
	blobBytes := fs.Int64("nats-blob-bytes", bus.DefaultBlobBytes, "room the streams give ciphertext blobs, bytes (reserved on the NATS server's disk)")
	dbURL := fs.String("db", pgutil.URL(), "PostgreSQL URL (DATABASE_URL)")
	level := fs.String("log-level", envOr("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	chainURL := fs.String("chain", envOr("VSC_CHAIN_API", ""), "the chain's HTTP API: iDAOs are read there and certified results anchored and minted there (VSC_CHAIN_API); empty: iDAOs from PostgreSQL, submissions stop at voting")
	chainKey := fs.String("chain-key", envOr("VSC_CHAIN_KEY", ""), "with --chain: the coordinator's chain account key (pays anchor and mint fees)")
	enclaveFile := fs.String("enclave", envOr("VSC_ENCLAVE", ""), "with --chain: the verifier set's enclave key as `vscd worker --show-key --json` prints it (served to clients)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := logger(stderr, *level)
	if *chainURL != "" {
		if *chainKey == "" || *enclaveFile == "" {
			return cli.Usagef("--chain needs --chain-key FILE and --enclave FILE")
		}
		key, err := keys.Load(*chainKey)
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(*enclaveFile)
		if err != nil {
			return err
		}
		var info tee.KeyInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			return fmt.Errorf("--enclave %s is not `vscd worker --show-key --json` output: %w", *enclaveFile, err)
		}
		link := &chainlink.Remote{Client: client.New(*chainURL), Key: key, EnclavePubkey: info.PublicKey,
			EnclaveReport: tee.EncodeAttestation(info.Attestation)}
		cfg.Chain, cfg.Registry = link, link.Registry()
	}
	st, err := store.Open(ctx, *dbURL, 32, log)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := bus.Connect(*nats, bus.Config{BlobBytes: *blobBytes}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	srv := server.New(cfg, st, b, log)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "coordinator listening on %s\n", srv.Addr())
	<-ctx.Done()
	log.Info("draining")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Stop(sctx)
}
