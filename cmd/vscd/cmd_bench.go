package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vsc-labs/vsc/cmd/vscd/internal/bench"
	"github.com/vsc-labs/vsc/internal/cluster"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/tee"
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
		DB: d.store.Pool, Stop: stop, Sequencer: d.chain.Sequencer(), Contributor: d.key("contributor"), App: d.key("app")}, nil
}

// clusterPipeline starts a multi-process `vscd cluster up` for `vscd bench
// e2e --cluster`: this binary as the supervisor, in the bench's data dir,
// with the bench's members and zk chunk.
func clusterPipeline(ctx context.Context, p bench.PipelineConfig) (*bench.Pipeline, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.Data, "cluster")
	var out logBuf
	cmd := exec.Command(bin, "cluster", "up", "--data", dir, "--members", fmt.Sprint(p.Quorum), "--zk-chunk", fmt.Sprint(p.ZKChunk), "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() error {
		err := stopChild(cmd, 2*time.Minute)
		if raw, rerr := os.ReadFile(filepath.Join(dir, planFile)); rerr == nil {
			var plan clusterPlan
			if json.Unmarshal(raw, &plan) == nil {
				err = errors.Join(err, pgutil.DropDatabase(context.Background(), pgutil.URL(), plan.Database))
			}
		}
		return err
	}
	if err := waitClusterUp(ctx, &out); err != nil {
		return nil, errors.Join(err, stop())
	}
	pl, err := clusterPipelineOf(ctx, dir)
	if err != nil {
		return nil, errors.Join(err, stop())
	}
	pl.Stop = func() error { pl.DB.Close(); return stop() }
	return pl, nil
}

func waitClusterUp(ctx context.Context, out *logBuf) error {
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(out.String(), "vsc cluster up in") {
		if time.Now().After(deadline) {
			return fmt.Errorf("the cluster did not come up in 5 minutes:\n%s", out.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// clusterPipelineOf is the bench's view of a running cluster: the first
// coordinator's API, the enclave key and the cluster's database.
func clusterPipelineOf(ctx context.Context, dir string) (*bench.Pipeline, error) {
	st, err := cluster.ReadState(dir)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "enclave.json"))
	if err != nil {
		return nil, err
	}
	var info tee.KeyInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, err
	}
	pub, err := crypto.UnmarshalPubkey(info.PublicKey)
	if err != nil {
		return nil, err
	}
	raw, err = os.ReadFile(filepath.Join(dir, planFile))
	if err != nil {
		return nil, err
	}
	var plan clusterPlan
	if err := json.Unmarshal(raw, &plan); err != nil {
		return nil, err
	}
	u, err := clusterDatabase(ctx, &plan)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return nil, err
	}
	return &bench.Pipeline{API: st.API, ChainID: 1337, Enclave: pub, DB: pool}, nil
}

// logBuf is a goroutine-safe buffer of a child's output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// stopChild stops a `vscd cluster up` this process started (SIGTERM: it
// stops its processes in order), waits for it, and kills its process group
// if it takes longer than wait.
func stopChild(cmd *exec.Cmd, wait time.Duration) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("the cluster did not stop within %s: killed", wait)
	}
}
