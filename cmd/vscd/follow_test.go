package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/quorum/member"
)

// TestMemberReadsThroughFollower runs `vscd chain --follow` against a
// devnet's chain API, and a member that reads the chain only through that
// follower: it verifies the iDAO's policy and the enclave key's
// registration by state proofs under the sequencer's signed headers. After
// a submission is minted, the follower's head and state root are the
// sequencer's, and its head says it is not behind.
func TestMemberReadsThroughFollower(t *testing.T) {
	t.Parallel()
	d := startDevnet(t, nil)
	root, _ := d.enclave.SimRoot()
	addr := freeFixedPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, testEnv(io.Discard, io.Discard), []string{"chain", "--follow", "http://" + d.coord.Addr(),
			"--genesis", d.genesisPath(), "--data", t.TempDir(), "--listen", addr, "--lanes", "3", "--dev-tee-root", root.Hex()})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("follower exit %d", code)
		}
	})
	url := "http://" + addr
	chainAt := member.NewProvenChain(url, d.chain.Sequencer())
	testenv.Eventually(t, 30*time.Second, func() error {
		dao, err := chainAt.IDAO("demo")
		if err != nil {
			return err
		}
		if !dao.Policy.Accepts(idao.ModeTEE) {
			return fmt.Errorf("follower's proven policy %+v does not accept tee", dao.Policy)
		}
		ok, err := chainAt.EnclaveRegistered("demo", d.enclave.PublicKeyBytes())
		if err != nil || !ok {
			return fmt.Errorf("enclave registration not proven through the follower: %v %v", ok, err)
		}
		return nil
	})
	id := d.submit(dataset6, idao.ModeTEE)
	if v := d.wait(id, time.Minute); v.Status != coordinator.Minted {
		t.Fatalf("submission %s: %s", id, v.Status)
	}
	fc := client.New(url)
	testenv.Eventually(t, 30*time.Second, func() error {
		h, err := fc.ChainHead(context.Background())
		if err != nil {
			return err
		}
		seq := d.chain.Head()
		if h.Height != seq.Height || h.StateRoot != seq.StateRoot {
			return fmt.Errorf("follower at %d %s, sequencer at %d %s", h.Height, h.StateRoot.Hex(), seq.Height, seq.StateRoot.Hex())
		}
		if h.Follow == nil || h.Follow.Lag != 0 || h.Follow.Halted != "" {
			return fmt.Errorf("follower status %+v", h.Follow)
		}
		return nil
	})
}
