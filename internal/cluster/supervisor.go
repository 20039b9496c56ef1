// Package cluster supervises a local multi-process vsc cluster (`vscd
// cluster up`): it starts each role as its own OS process, in groups (NATS,
// then the chain, then the rest), restarts a process that exits with a
// doubling back-off, writes a log per process and keeps the cluster's
// state in a file that `vscd cluster status` and `vscd cluster kill` read.
// It knows nothing of the roles: cmd/vscd writes their config files and
// gives it the command lines.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// StateFile (under the cluster's dir) is the supervisor's view of its
// processes, rewritten on every change.
const StateFile = "cluster.json"

// PIDFile (under the cluster's dir) holds the supervisor's process id.
const PIDFile = "supervisor.pid"

// Restart back-off: a process that exits is started again after
// restartMin, doubling up to restartMax while it keeps failing within
// stableAfter of its start.
const (
	restartMin  = 200 * time.Millisecond
	restartMax  = 5 * time.Second
	stableAfter = 10 * time.Second
	stopWait    = 30 * time.Second
)

// Proc is one process of the cluster.
type Proc struct {
	Name string   // nats-1, coordinator-2, sequencer, follower-1, …
	Role string   // nats, coordinator, worker, prover, member, sequencer, follower
	Args []string // the command line after the binary
	// Ready, if set, is polled after the process starts, before the next
	// group starts (a port that answers).
	Ready func(ctx context.Context) error
}

// ProcState is one process as the state file shows it.
type ProcState struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	PID      int    `json:"pid"`
	Up       bool   `json:"up"`
	Restarts int    `json:"restarts"`
}

// State is the state file: the endpoints and every process.
type State struct {
	API          string      `json:"api"`
	ChainAPI     string      `json:"chain_api"`
	FollowerAPIs []string    `json:"follower_apis"`
	Supervisor   int         `json:"supervisor_pid"`
	Processes    []ProcState `json:"processes"`
}

// Supervisor runs and restarts a cluster's processes.
type Supervisor struct {
	Bin  string   // the executable every process runs (vscd)
	Dir  string   // the cluster's dir: logs/NAME.log, the state file
	Env  []string // the processes' environment (nil: this process's)
	Log  *slog.Logger
	Info State // endpoints for the state file

	mu    sync.Mutex
	procs []*running
	wg    sync.WaitGroup
}

type running struct {
	Proc
	cmd      *exec.Cmd
	up       bool
	restarts int
	exited   chan struct{} // closed when the current cmd ended
}

// Start starts the groups in order, each process of a group at once, and
// waits for a group's Ready checks before the next; it returns once all
// run. Each then runs until ctx ends, restarted whenever it exits. Before
// a group starts, before is called with its index (for set-up steps that
// need the earlier groups, such as transactions on a chain).
func (s *Supervisor) Start(ctx context.Context, groups [][]Proc, before func(ctx context.Context, group int) error) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, "logs"), 0o700); err != nil {
		return err
	}
	s.Info.Supervisor = os.Getpid()
	if err := os.WriteFile(filepath.Join(s.Dir, PIDFile), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return err
	}
	for i, g := range groups {
		if before != nil {
			if err := before(ctx, i); err != nil {
				return err
			}
		}
		var started []*running
		for _, p := range g {
			r := &running{Proc: p}
			if err := s.launch(r); err != nil {
				return err
			}
			s.mu.Lock()
			s.procs = append(s.procs, r)
			s.mu.Unlock()
			started = append(started, r)
			s.wg.Add(1)
			go s.keep(ctx, r)
		}
		for _, r := range started {
			if r.Ready == nil {
				continue
			}
			if err := waitReady(ctx, r); err != nil {
				return fmt.Errorf("%s did not come up (see %s): %w", r.Name, s.logPath(r.Name), err)
			}
		}
	}
	return s.writeState()
}

func waitReady(ctx context.Context, r *running) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err := r.Ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Supervisor) logPath(name string) string { return filepath.Join(s.Dir, "logs", name+".log") }

// launch starts r's process, its output appended to its log.
func (s *Supervisor) launch(r *running) error {
	logf, err := os.OpenFile(s.logPath(r.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.Bin, r.Args...)
	cmd.Env = s.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", r.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.mu.Lock()
	r.cmd, r.up, r.exited = cmd, true, exited
	s.mu.Unlock()
	s.Log.Info("started", "process", r.Name, "pid", cmd.Process.Pid)
	return s.writeState()
}

// keep restarts r whenever it exits, until ctx ends; then it stops it.
func (s *Supervisor) keep(ctx context.Context, r *running) {
	defer s.wg.Done()
	backoff := restartMin
	for {
		s.mu.Lock()
		exited, started := r.exited, time.Now()
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		s.mu.Lock()
		r.up = false
		s.mu.Unlock()
		_ = s.writeState()
		if time.Since(started) > stableAfter {
			backoff = restartMin
		}
		s.Log.Warn("exited; restarting", "process", r.Name, "after", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, restartMax)
		s.mu.Lock()
		r.restarts++
		s.mu.Unlock()
		if err := s.launch(r); err != nil {
			s.Log.Error("restart failed", "process", r.Name, "err", err)
		}
	}
}

// Stop sends SIGTERM to every process, last started first, waits for each
// (SIGKILL after stopWait), and writes the final state.
func (s *Supervisor) Stop() error {
	s.wg.Wait() // the keepers have seen ctx end: nothing restarts any more
	s.mu.Lock()
	procs := append([]*running(nil), s.procs...)
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		r := procs[i]
		if r.cmd == nil || r.cmd.Process == nil {
			continue
		}
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(stopWait):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.exited
		}
		s.mu.Lock()
		r.up = false
		s.mu.Unlock()
	}
	_ = os.Remove(filepath.Join(s.Dir, PIDFile))
	return s.writeState()
}

// writeState writes the state file atomically.
func (s *Supervisor) writeState() error {
	s.mu.Lock()
	st := s.Info
	st.Processes = make([]ProcState, 0, len(s.procs))
	for _, r := range s.procs {
		ps := ProcState{Name: r.Name, Role: r.Role, Up: r.up, Restarts: r.restarts}
		if r.cmd != nil && r.cmd.Process != nil {
			ps.PID = r.cmd.Process.Pid
		}
		st.Processes = append(st.Processes, ps)
	}
	s.mu.Unlock()
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, StateFile))
}

// ReadState reads a cluster's state file; a process whose pid is gone is
// shown down whatever the file says.
func ReadState(dir string) (*State, error) {
	raw, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no cluster in %s (start one with `vscd cluster up --data %s`)", dir, dir)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	for i := range st.Processes {
		p := &st.Processes[i]
		if p.Up && !alive(p.PID) {
			p.Up = false
		}
	}
	return &st, nil
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// Kill sends SIGKILL to the process called name (drills): the supervisor
// restarts it.
func Kill(dir, name string) (int, error) {
	st, err := ReadState(dir)
	if err != nil {
		return 0, err
	}
	for _, p := range st.Processes {
		if p.Name != name {
			continue
		}
		if !p.Up {
			return 0, fmt.Errorf("%s is not running now", name)
		}
		return p.PID, syscall.Kill(p.PID, syscall.SIGKILL)
	}
	return 0, fmt.Errorf("no process %q in the cluster in %s (`vscd cluster status --data %s` lists them)", name, dir, dir)
}

// Down asks the supervisor of the cluster in dir to stop it (SIGTERM) and
// waits until it has.
func Down(ctx context.Context, dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no running cluster in %s", dir)
	}
	if err != nil {
		return err
	}
	var pid int
	if _, err := fmt.Sscan(string(raw), &pid); err != nil || pid <= 0 {
		return fmt.Errorf("%s: not a pid", filepath.Join(dir, PIDFile))
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		_ = os.Remove(filepath.Join(dir, PIDFile))
		return fmt.Errorf("supervisor %d: %w (removed its stale pid file)", pid, err)
	}
	for alive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("supervisor %d still stopping: %w", pid, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
