// Package servertest runs a real coordinator for tests: a fresh PostgreSQL
// database, an embedded JetStream server, the HTTP API on a loopback port,
// and a demo iDAO with an enclave key.
package servertest

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http/httptest"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/coordinator/client"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/tee"
)

// ChainID is the test chain id.
const ChainID = 1337

// Fixture is a running coordinator.
type Fixture struct {
	T       testing.TB
	DBURL   string
	NATS    *server.Server
	Store   *store.Store
	Bus     *bus.Bus
	Server  *srvpkg.Server
	HTTP    *httptest.Server
	Client  *client.Client
	Enclave *tee.Enclave // the demo iDAO's (simulated) enclave
}

// New starts a coordinator with cfg and creates iDAO "demo" accepting modes.
func New(t testing.TB, cfg srvpkg.Config, modes ...string) *Fixture {
	t.Helper()
	if len(modes) == 0 {
		modes = []string{"tee+zk", "tee", "zk"}
	}
	f := &Fixture{T: t, DBURL: testenv.Database(t), NATS: testenv.NATS(t)}
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.Enclave = enc
	f.Start(cfg)
	owner, _ := crypto.GenerateKey()
	ctx := context.Background()
	policy, _ := json.Marshal(map[string]any{"tee_policy": tee.DevPolicy()})
	if err := f.Store.CreateIDAO(ctx, &store.IDAO{Name: "demo", Owner: crypto.PubkeyToAddress(owner.PublicKey),
		Modes: modes, Policy: policy, EnclavePubkey: enc.PublicKeyBytes(), EnclaveReport: tee.EncodeAttestation(enc.KeyAttestation())}); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.Join(ctx, "demo", crypto.PubkeyToAddress(owner.PublicKey), big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	return f
}

// Start (re)starts the coordinator over the same database and NATS.
func (f *Fixture) Start(cfg srvpkg.Config) {
	t := f.T
	ctx := context.Background()
	st, err := store.Open(ctx, f.DBURL, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.ConnectInProcess(f.NATS, testenv.Creds(t, f.NATS, "coordinator"), bus.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ChainID = ChainID
	f.Store, f.Bus = st, b
	f.Server = srvpkg.New(cfg, st, b, nil)
	if err := f.Server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.HTTP = httptest.NewServer(f.Server.Handler())
	f.Client = client.New(f.HTTP.URL)
	t.Cleanup(f.Stop)
}

// WorkerBus connects to the fixture's NATS as a worker (tee, zk and
// optimistic) whose results the demo iDAO's enclave signs, as a real
// worker's are.
func (f *Fixture) WorkerBus(cfg bus.Config) *bus.Bus {
	cfg.Signer = f.Enclave
	return testenv.WorkerBus(f.T, f.NATS, cfg)
}

// Stop stops the coordinator (crash-like: whatever was not committed is gone).
func (f *Fixture) Stop() {
	if f.HTTP == nil {
		return
	}
	f.HTTP.Close()
	_ = f.Server.Stop(context.Background())
	f.Bus.Close()
	f.Store.Close()
	f.HTTP = nil
}
