package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/prover"
)

func coordinatorFlags(fs *flag.FlagSet, cfg *server.Config) {
	chainID, _ := strconv.ParseUint(envOr("VSC_CHAIN_ID", "1337"), 10, 64)
	fs.Uint64Var(&cfg.ChainID, "chain-id", chainID, "chain id of the EIP-712 domain (VSC_CHAIN_ID)")
	fs.Int64Var(&cfg.MaxBlob, "max-blob", 64<<20, "largest accepted ciphertext blob, bytes")
	fs.IntVar(&cfg.ZKChunk, "zk-chunk", prover.DefaultChunk, "records per zk proving job (power of two; must match the iDAO's circuit)")
	fs.DurationVar(&cfg.VoteTimeout, "vote-timeout", 60*time.Second, "a submission without a quorum after this long fails, naming who did not vote")
}

// cmdCoordinator runs the coordinator role alone, against NATS_URL and DATABASE_URL.
func cmdCoordinator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	var cfg server.Config
	coordinatorFlags(fs, &cfg)
	fs.StringVar(&cfg.Listen, "listen", envOr("VSC_LISTEN", ":8080"), "HTTP API address (VSC_LISTEN)")
	natsURL := fs.String("nats", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS server (NATS_URL)")
	dbURL := fs.String("db", pgutil.URL(), "PostgreSQL URL (DATABASE_URL)")
	level := fs.String("log-level", envOr("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := logger(stderr, *level)
	st, err := store.Open(ctx, *dbURL, 32, log)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := bus.Connect(*natsURL, bus.Config{}, log)
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
