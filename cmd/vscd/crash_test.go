package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
		t.Skip("runs and kills devnet processes")
	}
	const n = 200
	dn := startDevnetProcess(t)
	defer dn.kill()
	subs := prepareCrashSubmissions(t, dn.api, n)

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
					if _, _, err := dn.api.Submit(context.Background(), subs[i].req, subs[i].blob); err == nil {
						accepted.Add(1)
						break
					}
					time.Sleep(20 * time.Millisecond) // a client's retry pause while the devnet is down
				}
				time.Sleep(20 * time.Millisecond) // the load's pace
			}
		}()
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for k := 0; k < 4; k++ {
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond) // the test itself: a kill at a random point of the flow
		t.Logf("kill -9 #%d: %d accepted, %d minted", k+1, accepted.Load(), dn.minted())
		dn.kill()
		dn.start()
	}
	wg.Wait()
	checkEachMintedOnce(t, dn, subs)
}

// devnetProcess is a `vscd devnet` run as its own process, to be killed.
type devnetProcess struct {
	t         *testing.T
	bin, data string
	addr      string
	api       *client.Client
	proc      *exec.Cmd
	logs      logBuffer
}

// startDevnetProcess starts a devnet process (this test binary, run as
// vscd) on a data dir and a port of its own.
func startDevnetProcess(t *testing.T) *devnetProcess {
	t.Helper()
	dn := &devnetProcess{t: t, bin: os.Args[0], data: t.TempDir(), addr: freeFixedPort(t)}
	t.Cleanup(func() { _ = pgutil.DropDatabase(context.Background(), pgutil.URL(), devnetDBName(dn.data)) })
	dn.api = client.New("http://" + dn.addr)
	dn.start()
	return dn
}

// start (re)starts the devnet process and waits for its API.
func (dn *devnetProcess) start() {
	t := dn.t
	dn.proc = exec.Command(dn.bin, "devnet", "--data", dn.data, "--listen", dn.addr, "--quorum", "4", "--zk-chunk", fmt.Sprint(testZKChunk),
		"--zk-keys", zkKeysDir, "--log-level", "warn")
	dn.proc.Env = append(os.Environ(), asVSCD+"=1")
	dn.proc.Stdout, dn.proc.Stderr = &dn.logs, &dn.logs
	dn.proc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := dn.proc.Start(); err != nil {
		t.Fatal(err)
	}
	if err := poll.Until(2*time.Minute, func() error { _, err := dn.api.Info(context.Background()); return err }); err != nil {
		t.Fatalf("devnet did not come up: %v\n%s", err, dn.logs.String())
	}
}

// kill sends SIGKILL to the devnet's process group and reaps it.
func (dn *devnetProcess) kill() {
	_ = syscall.Kill(-dn.proc.Process.Pid, syscall.SIGKILL)
	_ = dn.proc.Wait()
}

// minted is how many DAT classes the chain holds (-1: unreadable now).
func (dn *devnetProcess) minted() int {
	cl, err := dn.api.DATClasses(context.Background())
	if err != nil {
		return -1
	}
	return len(cl.Classes)
}

// crashSubmission is one prepared submission of the crash test.
type crashSubmission struct {
	req  *coordinator.SubmitRequest
	blob []byte
	id   string
}

// prepareCrashSubmissions prepares n submissions before the clock: each
// its own contributor key (nonce 0), its own 4-field dataset, encrypted to
// the devnet's enclave.
func prepareCrashSubmissions(t *testing.T, api *client.Client, n int) []crashSubmission {
	t.Helper()
	d, err := api.IDAO(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	enclave, err := crypto.UnmarshalPubkey(d.EnclaveKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	subs := make([]crashSubmission, n)
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
		subs[i] = crashSubmission{p.Request(sig), p.Blob(), p.Digest.Hex()}
	}
	return subs
}

// checkEachMintedOnce checks that every submission reaches a final state,
// minted, and that none is minted twice: exactly one DAT class per
// submission on chain.
func checkEachMintedOnce(t *testing.T, dn *devnetProcess, subs []crashSubmission) {
	t.Helper()
	checkMintedOnce(t, dn.api, subs, dn.logs.String)
}

// checkMintedOnce is checkEachMintedOnce through api; logs is shown when
// a submission never finishes.
func checkMintedOnce(t *testing.T, api *client.Client, subs []crashSubmission, logs func() string) {
	t.Helper()
	checkMintedOnceVia(t, api, api, subs, func(string) string { return tail(logs()) })
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
