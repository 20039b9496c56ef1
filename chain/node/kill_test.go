package node_test

import (
	"bufio"
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/chain/tx"
)

// TestMain lets the test binary act as a chain process that TestKill9
// kills with SIGKILL at an arbitrary point (between blocks or mid-block).
func TestMain(m *testing.M) {
	if dir := os.Getenv("VSC_CHAIN_CHILD"); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

// runChild produces blocks of transfers forever, printing each height.
func runChild(dir string) {
	n, err := node.New(node.Config{DataDir: dir, Genesis: genesis(8), SequencerKey: seqKey, Lanes: 2})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for round := 0; ; round++ {
		for i := 1; i <= 8; i++ {
			t, _ := tx.New(chainID, n.NextNonce(addr(i)), big.NewInt(1000), &tx.Transfer{To: addr(1 + (i+round)%8), Amount: big.NewInt(1)})
			t.Sign(key(i))
			if _, err := n.SubmitTx(t); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
		h, err := n.ProduceBlock(context.Background())
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("height", h.Height)
	}
}

// TestKill9: a chain process killed with SIGKILL restarts at its last
// committed block with a matching state root, and replay re-verifies every
// block.
func TestKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VSC_CHAIN_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(60 * time.Second)
	seen := uint64(0)
	for sc.Scan() && time.Now().Before(deadline) {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatal(line)
		}
		if h, err := strconv.ParseUint(strings.TrimPrefix(line, "height "), 10, 64); err == nil {
			seen = h
			if h >= 20 {
				break
			}
		}
	}
	if seen < 20 {
		t.Fatalf("child reached only height %d", seen)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, wherever it is
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// node.New checks the stored state against the head's state root.
	n, err := node.New(node.Config{DataDir: dir, Genesis: genesis(8), SequencerKey: seqKey})
	if err != nil {
		t.Fatalf("restart after kill: %v", err)
	}
	head := n.Head()
	if head.Height < seen {
		t.Fatalf("head %d is behind the last reported block %d", head.Height, seen)
	}
	n.Close()
	res, err := node.Replay(context.Background(), dir, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Head != head.Height || res.StateRoot != head.StateRoot {
		t.Fatalf("replay %+v, head %d %s", res, head.Height, head.StateRoot)
	}
}
