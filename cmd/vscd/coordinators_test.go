package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vsc-labs/vsc/coordinator/chainlink"
	"github.com/vsc-labs/vsc/coordinator/client"
	coord "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/tee"
)

// TestTwoCoordinators runs a second coordinator beside the devnet's, on
// the same PostgreSQL, NATS and chain account, takes submissions through
// both, and crashes the first (its database and NATS connections cut
// before it stops, so it releases nothing) while they flow: the second
// takes over the finisher lease once it expires, relays what the first
// had accepted, and every submission is minted exactly once.
func TestTwoCoordinators(t *testing.T) {
	t.Parallel()
	const n = 60
	d := startDevnet(t, func(c *devnetConfig) { c.Coordinator.LeaseTTL = time.Second })
	second, api2 := startSecondCoordinator(t, d)
	testenv.Eventually(t, 10*time.Second, func() error {
		if d.coord.Leader() == second.Leader() {
			return errNoLeader
		}
		return nil
	})
	first := d.coord
	apis := []*client.Client{d.api, api2}
	subs := prepareCrashSubmissions(t, d.api, n)
	var accepted atomic.Int64
	var crashed atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				for k := w; ; k++ { // a client retries through the other coordinator
					api := apis[k%2]
					if crashed.Load() {
						api = api2
					}
					if _, _, err := api.Submit(context.Background(), subs[i].req, subs[i].blob); err == nil {
						accepted.Add(1)
						break
					}
					time.Sleep(10 * time.Millisecond) // a client's retry pause
				}
			}
		}()
	}
	testenv.Eventually(t, time.Minute, func() error {
		if accepted.Load() < n/3 {
			return errNotYet
		}
		return nil
	})
	t.Logf("crashing the first coordinator (leader %v) after %d accepted", first.Leader(), accepted.Load())
	crashed.Store(true)
	d.bus.Close()
	// the pool closes at once for new work (so the stop releases no lease)
	// and waits for its loops' connections, which the stop frees
	closed := make(chan struct{})
	go func() { d.store.Close(); close(closed) }()
	testenv.Eventually(t, 10*time.Second, func() error {
		if d.store.Pool.Ping(context.Background()) == nil {
			return errNotYet
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = first.Stop(ctx)
	cancel()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the first coordinator's stopped loops still hold database connections after 30 s")
	}
	wg.Wait()
	testenv.Eventually(t, 30*time.Second, func() error {
		if !second.Leader() {
			return errNoLeader
		}
		return nil
	})
	checkMintedOnce(t, api2, subs, d.logs.String)
}

type testErr string

func (e testErr) Error() string { return string(e) }

const (
	errNoLeader testErr = "no single finisher lease holder yet"
	errNotYet   testErr = "not yet"
)

// startSecondCoordinator starts another coordinator on d's database, NATS
// and chain, with the same chain account, and returns it with a client of
// its API (which serves the chain's too, as the devnet's does).
func startSecondCoordinator(t *testing.T, d *testDevnet) (*coord.Server, *client.Client) {
	t.Helper()
	ctx := context.Background()
	u, err := d.devnetDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, u, 16, d.log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.ConnectInProcess(d.nats, d.natsCreds["coordinator"], bus.Config{}, d.log.With("coordinator", 2))
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.cfg.Coordinator
	cfg.Listen, cfg.Holder = "127.0.0.1:0", "coordinator-2"
	cfg.Chain = &chainlink.Local{Chain: d.chain, Key: d.key("coordinator")}
	cfg.Registry = &chainlink.Registry{Chain: d.chain, EnclavePubkey: d.enclave.PublicKeyBytes(),
		EnclaveReport: tee.EncodeAttestation(d.enclave.KeyAttestation())}
	srv := coord.New(cfg, st, b, d.log.With("coordinator", 2))
	srv.Mount("/v1/chain/", d.chain.Handler())
	l := &service.List{Log: d.log}
	l.Add("PostgreSQL pool 2", service.Closer(st.Close))
	l.Add("NATS connection 2", service.Closer(b.Close))
	if err := l.Run(ctx, "coordinator 2", srv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = l.Stop(ctx)
	})
	api := client.New("http://" + srv.Addr())
	api.Trust = d.api.Trust
	return srv, api
}
