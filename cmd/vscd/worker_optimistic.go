package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/optimistic/watcher"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/facts"
)

// enclaveData gives a watcher the plaintext of any claim it sees: the
// submission (data hash, wrapped key) from the coordinator, the ciphertext
// from the object store, decrypted inside this worker's enclave.
type enclaveData struct {
	mem *watcher.Memory
	api *client.Client
	bus *bus.Bus
	enc *tee.Enclave
}

func (d *enclaveData) Dataset(ctx context.Context, c *optimistic.Claim) (*records.Dataset, error) {
	if ds, err := d.mem.Dataset(ctx, c); err == nil {
		return ds, nil
	}
	v, err := d.api.Status(ctx, c.Submission.Hex())
	if err != nil {
		return nil, fmt.Errorf("%w: submission %s: %v", watcher.ErrNoData, c.Submission.Hex(), err)
	}
	blob, err := d.bus.GetBlob(ctx, v.DataHash)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", watcher.ErrNoData, err)
	}
	plain, err := d.enc.OpenEnvelope(blob, v.WrappedKey, v.DataHash)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", watcher.ErrNoData, err)
	}
	ds, err := records.Parse(plain)
	clear(plain)
	if err != nil || records.Commitment(ds) != c.Commitment {
		return nil, fmt.Errorf("%w: the data does not match the claim's commitment", watcher.ErrNoData)
	}
	d.mem.Put(c.Commitment, ds)
	return ds, nil
}

// startOptimistic starts, in l, the optimistic watcher (defends this
// worker's claims, challenges wrong ones) and, unless --watch-only, the
// executor (claims for "optimistic" jobs), with one funded account, over
// the chain's HTTP API.
func startOptimistic(ctx context.Context, l *service.List, b *bus.Bus, enc *tee.Enclave, cfg workerConfig, log *slog.Logger) error {
	key, err := keys.Load(cfg.OptKey)
	if err != nil {
		return err
	}
	ch := client.OptimisticChain{Client: client.New(cfg.Chain), Key: key}
	data := &enclaveData{mem: &watcher.Memory{}, api: client.New(cfg.API), bus: b, enc: enc}
	w := &watcher.Watcher{Chain: ch, Data: data, Addr: keys.Address(key), Bond: optChallengeBond, Log: log.With("role", "watcher")}
	if err := l.Run(ctx, "optimistic watcher", w); err != nil {
		return err
	}
	if cfg.WatchOnly {
		return nil
	}
	ex := &watcher.Executor{Bus: b, W: w, Params: facts.DefaultParams, Bond: optClaimBond,
		Open: func(ctx context.Context, j *work.Job) ([]byte, error) {
			blob, err := b.GetBlob(ctx, j.Submission.DataHash)
			if err != nil {
				return nil, err
			}
			plain, err := enc.OpenEnvelope(blob, j.WrappedKey, j.Submission.DataHash)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", watcher.ErrNoData, err)
			}
			return plain, nil
		}}
	return l.Run(ctx, "optimistic executor", ex)
}
