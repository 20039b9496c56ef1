package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/cluster"
	"github.com/vsc-labs/vsc/internal/keys"
)

// clusterDir parses --data DIR (absolute) of the cluster commands.
func clusterDir(fs *flag.FlagSet, env *cli.Env) *string {
	return fs.String("data", env.Var("VSC_CLUSTER_DATA", ".data/cluster"), "the cluster's directory: configs, keys, logs, state (VSC_CLUSTER_DATA)")
}

// cmdClusterUp runs `vscd cluster up`: it writes the cluster's files under
// DIR, starts every process and supervises them until a signal (or
// `vscd cluster down`), then stops them in reverse order.
func cmdClusterUp(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("cluster up", flag.ContinueOnError)
	dir := clusterDir(fs, env)
	var want clusterPlan
	fs.IntVar(&want.NATS, "nats", 3, "NATS nodes (a JetStream cluster; streams get 3 replicas with 3 or more)")
	fs.IntVar(&want.Coordinators, "coordinators", 2, "coordinators on the one database")
	fs.IntVar(&want.Workers, "workers", 2, "TEE workers (simulated enclave)")
	fs.IntVar(&want.Provers, "provers", 1, "zk provers (`vscd worker --zk`: they take TEE jobs too)")
	fs.IntVar(&want.Members, "members", 4, "quorum members of the demo iDAO")
	fs.IntVar(&want.Followers, "followers", 1, "verifying followers of the sequencer (members and coordinators read the chain through the first)")
	fs.IntVar(&want.ZKChunk, "zk-chunk", 4, "records per zk proof of the demo circuit (4 fields)")
	logLevel := fs.String("log-level", "info", "the supervisor's log level")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := want.check(); err != nil {
		return cli.Usagef("%v", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	log := logger(env, *logLevel)
	plan, err := loadOrMakePlan(abs, want)
	if err != nil {
		return err
	}
	setup := &clusterSetup{dir: abs, plan: plan, log: log}
	if err := setup.prepare(ctx); err != nil {
		return fmt.Errorf("cluster set-up: %w", err)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	sup := &cluster.Supervisor{Bin: bin, Dir: abs, Env: os.Environ(), Log: log,
		Info: cluster.State{API: fmt.Sprintf("http://127.0.0.1:%d", plan.CoordPorts[0]), ChainAPI: setup.seqURL()}}
	for _, p := range plan.FollowPorts {
		sup.Info.FollowerAPIs = append(sup.Info.FollowerAPIs, fmt.Sprintf("http://127.0.0.1:%d", p))
	}
	run, cancel := context.WithCancel(context.Background()) // the processes live until the supervisor stops
	defer cancel()
	err = sup.Start(run, setup.procs(), func(ctx context.Context, group int) error {
		if group == 2 { // the sequencer is up: the demo iDAO goes on chain before anything reads it
			return setup.bootstrap(ctx)
		}
		return nil
	})
	if err == nil {
		printCluster(env.Stdout, setup, &sup.Info)
		<-ctx.Done()
	}
	cancel()
	return errorsJoin(err, sup.Stop())
}

func errorsJoin(a, b error) error {
	if a == nil {
		return b
	}
	if b != nil {
		return fmt.Errorf("%w; and stopping: %v", a, b)
	}
	return a
}

// printCluster prints the endpoints and where the keys and logs are.
func printCluster(w io.Writer, c *clusterSetup, st *cluster.State) {
	fmt.Fprintf(w, "vsc cluster up in %s (%s)\n", c.dir, c.plan.counts())
	fmt.Fprintf(w, "  API           %s", st.API)
	for _, p := range c.plan.CoordPorts[1:] {
		fmt.Fprintf(w, ", http://127.0.0.1:%d", p)
	}
	fmt.Fprintf(w, "\n  chain API     %s (sequencer)\n", st.ChainAPI)
	for _, f := range st.FollowerAPIs {
		fmt.Fprintf(w, "  follower API  %s\n", f)
	}
	fmt.Fprintf(w, "  NATS          %v (%d replicas)\n", c.natsURLs(), c.plan.replicas())
	fmt.Fprintf(w, "  keys          %s (contributor.key, app.key, challenger.key, member-N.key)\n", c.path("keys"))
	fmt.Fprintf(w, "  genesis       %s\n  configs       %s\n  logs          %s\n", c.path("genesis.json"), c.path("config"), c.path("logs"))
	fmt.Fprintf(w, "try: vsc --api %s submit examples/weather.csv --idao demo --chain %s --sequencer %s --allow-simulation --key %s --wait\n",
		st.API, c.chainReadURL(), keys.Address(c.key("sequencer")).Hex(), c.keys["contributor"])
}

// cmdClusterDown stops the cluster in DIR.
func cmdClusterDown(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("cluster down", flag.ContinueOnError)
	dir := clusterDir(fs, env)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := cluster.Down(dctx, *dir); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "cluster in %s stopped\n", *dir)
	return nil
}

// cmdClusterKill sends kill -9 to one of the cluster's processes.
func cmdClusterKill(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("cluster kill", flag.ContinueOnError)
	dir := clusterDir(fs, env)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("vscd cluster kill NAME --data DIR (names: `vscd cluster status`)")
	}
	pid, err := cluster.Kill(*dir, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "kill -9 %s (pid %d); the supervisor restarts it\n", pos[0], pid)
	return nil
}

// cmdClusterStatus lists the cluster's processes.
func cmdClusterStatus(ctx context.Context, env *cli.Env, args []string) error {
	fs := flag.NewFlagSet("cluster status", flag.ContinueOnError)
	dir := clusterDir(fs, env)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	st, err := cluster.ReadState(*dir)
	if err != nil {
		return err
	}
	return env.Print(st, func(w io.Writer) {
		fmt.Fprintf(w, "API %s  chain %s  followers %v\n", st.API, st.ChainAPI, st.FollowerAPIs)
		for _, p := range st.Processes {
			up := "down"
			if p.Up {
				up = "up"
			}
			fmt.Fprintf(w, "  %-14s %-11s pid %-7d %-4s restarts %d\n", p.Name, p.Role, p.PID, up, p.Restarts)
		}
	})
}
