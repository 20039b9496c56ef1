package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// bannerRE finds the API address and the sequencer in the devnet's banner.
var bannerRE = regexp.MustCompile(`API +http://(\S+)[\s\S]*export VSC_SEQUENCER=(0x[0-9a-fA-F]{40})`)

// runDevnet runs `vscd devnet` on data in the background, as main does,
// until ctx ends (the signal); it returns the client of its API and the
// command's result, once it has stopped.
func runDevnet(t *testing.T, ctx context.Context, data string) (*client.Client, <-chan error) {
	t.Helper()
	var out, logs logBuffer
	done := make(chan error, 1)
	go func() {
		done <- cmdDevnet(ctx, testEnv(&out, &logs), []string{"--data", data, "--listen", "127.0.0.1:0", "--quorum", "4",
			"--zk-chunk", fmt.Sprint(testZKChunk), "--zk-keys", zkKeysDir, "--log-level", "warn"})
	}()
	var api *client.Client
	testenv.Eventually(t, 2*time.Minute, func() error {
		select {
		case err := <-done:
			t.Fatalf("the devnet stopped before its banner: %v\n%s", err, logs.String())
		default:
		}
		m := bannerRE.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("no banner yet")
		}
		api = client.New("http://" + m[1])
		api.Trust = client.Trust{Sequencer: common.HexToAddress(m[2]), AllowSimulation: true}
		return nil
	})
	return api, done
}

// A signal while a submission is in flight stops the devnet in order: the
// command returns no error (exit 0) once every role has drained, and a
// restart on the same data finishes the submission.
func TestDevnetSignalDrainsAndResumes(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	t.Cleanup(func() {
		abs, _ := filepath.Abs(data)
		_ = pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(abs))
	})
	ctx, signal := context.WithCancel(context.Background())
	api, done := runDevnet(t, ctx, data)
	key, err := keys.Load(filepath.Join(data, "keys", "contributor.key"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := api.Prepare(context.Background(), []byte(dataset6), client.PrepareOptions{IDAO: "demo", Mode: "tee+zk", Contributor: keys.Address(key)})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := p.Sign(key)
	v, _, err := api.Submit(context.Background(), p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	signal()
	if err := <-done; err != nil {
		t.Fatalf("devnet after the signal: %v, want a clean stop", err)
	}

	ctx, signal = context.WithCancel(context.Background())
	defer signal()
	api, done = runDevnet(t, ctx, data)
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := api.Wait(wctx, v.ID, "", nil)
	if err != nil || got.Status != coordinator.Minted {
		t.Fatalf("after the restart the submission is %v (%v), want minted", got, err)
	}
	signal()
	if err := <-done; err != nil {
		t.Fatalf("devnet after the second signal: %v", err)
	}
}
