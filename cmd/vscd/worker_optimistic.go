package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
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

// runOptimistic runs the optimistic executor (claims for "optimistic" jobs)
// and its watcher (defends its claims, challenges wrong ones) with one
// funded account, over the chain's HTTP API.
func runOptimistic(ctx context.Context, b *bus.Bus, enc *tee.Enclave, chainURL, apiURL, keyFile string, executor bool, log *slog.Logger) error {
	key, err := keys.Load(keyFile)
	if err != nil {
		return err
	}
	ch := client.OptimisticChain{Client: client.New(chainURL), Key: key}
	data := &enclaveData{mem: &watcher.Memory{}, api: client.New(apiURL), bus: b, enc: enc}
	w := &watcher.Watcher{Chain: ch, Data: data, Addr: keys.Address(key), Bond: optChallengeBond, Log: log.With("role", "watcher")}
	ex := &watcher.Executor{W: w, Params: facts.DefaultParams, Bond: optClaimBond,
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
	if !executor {
		return w.Run(ctx, optTick)
	}
	errc := make(chan error, 2)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- w.Run(rctx, optTick) }()
	go func() { errc <- b.Work(rctx, "optimistic", ex.Handle) }()
	err = <-errc
	cancel()
	return errors.Join(err, <-errc)
}
