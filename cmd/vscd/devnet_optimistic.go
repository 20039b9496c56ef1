package main

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/optimistic/watcher"
	"github.com/vsc-labs/vsc/tee/facts"
)

// The bonds of the optimistic roles (of the devnet and of `vscd worker
// --chain`), and what the devnet's honest watcher is funded with.
var (
	optClaimBond     = big.NewInt(10_000)
	optChallengeBond = big.NewInt(5_000)
	optWatcherFunds  = big.NewInt(1_000_000_000)
)

// initOptimistic runs the optimistic roles: the executor (bus kind
// "optimistic", key executor.key; with --faulty-executor it claims wrong
// results) with its watcher defending its claims, and an honest watcher with
// its own key (watcher.key, funded from the executor on first start) that
// recomputes every claim and overturns wrong ones. Both read plaintext
// through the devnet's enclave. Call it after initChain, bootstrapChain and
// initEnclave.
func (d *devnet) initOptimistic(ctx context.Context) error {
	seen := &watcher.Memory{}
	open := func(ctx context.Context, j *work.Job) ([]byte, error) {
		blob, err := d.workerBus.GetBlob(ctx, j.Submission.DataHash)
		if err != nil {
			return nil, err
		}
		plain, err := d.enclave.OpenEnvelope(blob, j.WrappedKey, j.Submission.DataHash)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", watcher.ErrNoData, err)
		}
		if ds, err := records.Parse(plain); err == nil {
			seen.Put(j.Submission.Commitment, ds)
		}
		return plain, nil
	}
	log := d.log.With("role", "optimistic")
	execKey := d.key("executor")
	execChain := watcher.NodeChain{N: d.chain, Key: execKey}
	ew := &watcher.Watcher{Chain: execChain, Data: seen, Addr: keys.Address(execKey), Bond: optChallengeBond, Log: log.With("who", "executor")}
	ex := &watcher.Executor{Bus: d.workerBus, W: ew, Open: open, Params: facts.DefaultParams, Bond: optClaimBond, Faulty: d.cfg.FaultyExecutor}

	wk, err := keys.LoadOrCreate(filepath.Join(d.cfg.Data, "keys", "watcher.key"))
	if err != nil {
		return err
	}
	if acc := d.chain.Account(keys.Address(wk)); acc.Balance.Cmp(optWatcherFunds) < 0 {
		if err := execChain.Send(ctx, &tx.Transfer{To: keys.Address(wk), Amount: optWatcherFunds}); err != nil {
			return fmt.Errorf("fund the optimistic watcher: %w", err)
		}
	}
	hw := &watcher.Watcher{Chain: watcher.NodeChain{N: d.chain, Key: wk}, Data: seen, Addr: keys.Address(wk), Bond: optChallengeBond, Log: log.With("who", "watcher")}

	if d.cfg.FaultyExecutor {
		log.Warn("devnet: the optimistic executor claims wrong results (--faulty-executor)")
	}
	// the executor's watcher first: it defends the executor's claims
	if err := d.run(ctx, "optimistic executor watcher", ew); err != nil {
		return err
	}
	if err := d.run(ctx, "optimistic executor", ex); err != nil {
		return err
	}
	if d.cfg.NoWatcher {
		return nil
	}
	return d.run(ctx, "optimistic watcher", hw)
}
