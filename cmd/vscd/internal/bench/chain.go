package bench

import (
	"context"
	"flag"

	chainbench "github.com/vsc-labs/vsc/chain/bench"
	"github.com/vsc-labs/vsc/internal/cli"
)

// Chain is `vscd bench chain`: signed transfers sealed through the
// sequencer's block path (chain/bench). gcPercent is the GC target the
// chain role runs with, the default of --gc-percent. It prints JSON always.
func Chain(gcPercent func(env *cli.Env) int) cli.Func {
	return func(ctx context.Context, env *cli.Env, args []string) error {
		fs := flag.NewFlagSet("bench chain", flag.ContinueOnError)
		p := chainbench.Params{}
		fs.IntVar(&p.Txs, "txs", 100000, "signed transfers")
		fs.IntVar(&p.Lanes, "lanes", 2, "parallel lanes (and workers for recovery and hashing)")
		fs.Float64Var(&p.Conflict, "conflict", 0, "fraction of txs that pay one hot account (0..1)")
		fs.Uint64Var(&p.Seed, "seed", 1, "workload seed: same seed, same state root for every --lanes")
		fs.IntVar(&p.BlockSize, "block-size", 5000, "txs per block")
		fs.IntVar(&p.Senders, "senders", 0, "distinct senders (default min(txs, 10000))")
		fs.IntVar(&p.Procs, "procs", 0, "GOMAXPROCS while timing (default min(lanes, cores))")
		fs.IntVar(&p.GCPercent, "gc-percent", gcPercent(env), "GOGC while timing (default: what `vscd chain` runs with)")
		fs.BoolVar(&p.Follow, "follow", false, "also run a verifying follower (loopback HTTP) and report its lag in blocks, sampled at every block")
		fs.IntVar(&p.FollowLanes, "follow-lanes", 0, "the follower's lanes (default --lanes)")
		fs.Float64Var(&p.Rate, "rate", 0, "seal at this many txs a second (0: as fast as it goes); with --follow, 10000 is the follower target's rate")
		if _, err := cli.Parse(fs, args); err != nil {
			return err
		}
		if p.Conflict < 0 || p.Conflict > 1 {
			return cli.Usagef("--conflict must be between 0 and 1")
		}
		env.Progress("signing %d transfers, then sealing them with %d lanes…", p.Txs, p.Lanes)
		res, err := chainbench.Run(ctx, p)
		if err != nil {
			return err
		}
		return printJSON(env, res)
	}
}
