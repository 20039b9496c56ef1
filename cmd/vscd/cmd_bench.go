package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/vsc-labs/vsc/cmd/vscd/internal/bench"
	"github.com/vsc-labs/vsc/internal/pgutil"
)

// benchPipeline starts the whole in-process devnet `vscd bench e2e` loads:
// its own data dir and database, no intake rate limit (the bench's clients
// all come from one address, and it measures the pipeline, not the
// limiter) and a vote timeout long enough for any load.
func benchPipeline(ctx context.Context, p bench.PipelineConfig) (*bench.Pipeline, error) {
	cfg := devnetConfig{Data: p.Data, Listen: "127.0.0.1:0", Quorum: p.Quorum, Lanes: 2, ZKKeys: p.ZKKeys}
	cfg.Coordinator.ChainID, cfg.Coordinator.ZKChunk, cfg.Coordinator.VoteTimeout = 1337, p.ZKChunk, 10*time.Minute
	cfg.Coordinator.IntakeRate = -1
	d := newDevnet(cfg, p.Log, io.Discard)
	stop := func() error {
		err := d.stop()
		return errors.Join(err, pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(d.cfg.Data)))
	}
	if err := d.Start(ctx); err != nil {
		return nil, errors.Join(err, stop())
	}
	return &bench.Pipeline{API: "http://" + d.coord.Addr(), ChainID: cfg.Coordinator.ChainID, Enclave: d.enclave.PublicKey(),
		Sequencer: d.chain.Sequencer(), DB: d.store.Pool, Stop: stop}, nil
}
