package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// TestSupervisorRestartsKilledProcess: processes start in groups (a
// group's Ready checked before the next), a process killed with SIGKILL
// is started again with a new pid and its restart counted, the state file
// says so, and Stop ends every process.
func TestSupervisorRestartsKilledProcess(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	s := &Supervisor{Bin: bin, Dir: dir, Log: slog.New(slog.DiscardHandler), Info: State{API: "http://api"}}
	var order []string
	ready := func(name string) func(context.Context) error {
		return func(context.Context) error { order = append(order, name); return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	groups := [][]Proc{{{Name: "a-1", Role: "a", Args: []string{"60"}, Ready: ready("a-1")}}, {{Name: "b-1", Role: "b", Args: []string{"60"}}}}
	var before []int
	if err := s.Start(ctx, groups, func(_ context.Context, g int) error { before = append(before, g); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != "[0 1]" || fmt.Sprint(order) != "[a-1]" {
		t.Fatalf("groups %v, ready checks %v", before, order)
	}
	st, err := ReadState(dir)
	if err != nil || len(st.Processes) != 2 || !st.Processes[0].Up || st.API != "http://api" {
		t.Fatalf("state %+v, %v", st, err)
	}
	old, err := Kill(dir, "b-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := poll.Until(20*time.Second, func() error {
		st, err := ReadState(dir)
		if err != nil {
			return err
		}
		if p := st.Processes[1]; !p.Up || p.PID == old || p.Restarts != 1 {
			return fmt.Errorf("b-1 %+v", p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Kill(dir, "nobody"); err == nil {
		t.Fatal("killed a process the cluster does not have")
	}
	cancel()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	st, _ = ReadState(dir)
	for _, p := range st.Processes {
		if p.Up || alive(p.PID) {
			t.Fatalf("%s still up after Stop", p.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, PIDFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file left: %v", err)
	}
}
