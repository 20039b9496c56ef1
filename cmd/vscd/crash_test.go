package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// TestCrashKill9 kills the whole devnet process with SIGKILL at random
// points while 200 submissions flow through it, restarts it on the same
// data dir, and checks that every submission reaches a final state, none is
// lost and none is minted twice.
func TestCrashKill9(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and kills a devnet binary")
	}
	const n = 200
	bin := filepath.Join(t.TempDir(), "vscd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build vscd: %v\n%s", err, out)
	}
	data := t.TempDir()
	t.Cleanup(func() { _ = pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(data)) })
	addr := freeFixedPort(t)
	api := client.New("http://" + addr)

	var proc *exec.Cmd
	var logs logBuffer
	start := func() {
		proc = exec.Command(bin, "devnet", "--data", data, "--listen", addr, "--quorum", "4", "--zk-chunk", fmt.Sprint(testZKChunk),
			"--zk-keys", zkKeysDir, "--log-level", "warn")
		proc.Stdout, proc.Stderr = &logs, &logs
		proc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
		if err := poll.Until(2*time.Minute, func() error { _, err := api.Info(context.Background()); return err }); err != nil {
			t.Fatalf("devnet did not come up: %v\n%s", err, logs.String())
		}
	}
	kill := func() {
		_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
		_ = proc.Wait()
	}
	start()
	defer func() { kill() }()

	// Prepare every submission before the clock: its own contributor key
	// (nonce 0), its own 4-field dataset, encrypted to the devnet's enclave.
	d, err := api.IDAO(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	enclave, err := crypto.UnmarshalPubkey(d.EnclaveKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	type sub struct {
		req  *coordinator.SubmitRequest
		blob []byte
		id   string
	}
	subs := make([]sub, n)
	for i := range subs {
		key, _ := crypto.GenerateKey()
		ds := &records.Dataset{Fields: []string{"a", "b", "c", "d"}}
		for r := 0; r < 3; r++ {
			ds.Records = append(ds.Records, []int64{int64(i), int64(r), rand.Int64N(1000), 7})
		}
		zero := uint64(0)
		p, err := api.PrepareFor(context.Background(), ds, enclave, 1337, client.PrepareOptions{IDAO: "demo", Mode: "tee",
			Contributor: keys.Address(key), Nonce: &zero})
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := p.Sign(key)
		subs[i] = sub{p.Request(sig), p.Blob(), p.Digest.Hex()}
		_ = key
	}

	// Clients retry the same signed submission until it is accepted (the
	// coordinator is idempotent by digest), through the crashes.
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 { // paced (~200/s) so the kills land during intake as well as later stages
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				for {
					if _, _, err := api.Submit(context.Background(), subs[i].req, subs[i].blob); err == nil {
						accepted.Add(1)
						break
					}
					time.Sleep(20 * time.Millisecond) // a client's retry pause while the devnet is down
				}
				time.Sleep(20 * time.Millisecond) // the load's pace
			}
		}()
	}
	minted := func() int {
		cl, err := api.DATClasses(context.Background())
		if err != nil {
			return -1
		}
		return len(cl.Classes)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for k := 0; k < 4; k++ {
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond) // the test itself: a kill at a random point of the flow
		t.Logf("kill -9 #%d: %d accepted, %d minted", k+1, accepted.Load(), minted())
		kill()
		start()
	}
	wg.Wait()

	// Every submission reaches a final state.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	final := map[coordinator.Status]int{}
	for _, s := range subs {
		v, err := api.Wait(ctx, s.id, "", nil)
		if err != nil {
			t.Fatalf("submission %s never finished: %v\n%s", s.id, err, tail(logs.String()))
		}
		final[v.Status]++
		if v.Status != coordinator.Minted {
			t.Errorf("submission %s ended %s: %s", s.id, v.Status, deref(v.Reason))
		}
	}
	t.Logf("final states: %v", final)
	// None minted twice: exactly one DAT class per submission on chain.
	classes, err := api.DATClasses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	per := map[common.Hash]int{}
	for _, c := range classes.Classes {
		per[c.Provenance.Submission]++
	}
	for _, s := range subs {
		if c := per[common.HexToHash(s.id)]; c != 1 {
			t.Errorf("submission %s has %d DAT classes on chain", s.id, c)
		}
	}
	if len(classes.Classes) != n {
		t.Errorf("%d classes on chain for %d submissions", len(classes.Classes), n)
	}
}

// freeFixedPort is a loopback address on a free port below the kernel's
// ephemeral range: the devnet must come back on the same address after
// each kill, and no other test's ":0" listener can take it meanwhile.
func freeFixedPort(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(10000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port in 20000-29999")
	return ""
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
