// Package testenv gives tests real services: a fresh PostgreSQL database
// per test (dropped afterwards) and an embedded JetStream server per test.
package testenv

import (
	"context"
	"crypto/ecdsa"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/natsembed"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// Database creates a fresh database and returns its URL; it is dropped when
// the test ends.
func Database(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	base := pgutil.URL()
	name := pgutil.RandomName("vsc_test_")
	u, err := pgutil.EnsureDatabase(ctx, base, name)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	t.Cleanup(func() {
		if err := pgutil.DropDatabase(context.Background(), base, name); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return u
}

// natsCreds holds each test server's users' credentials.
var natsCreds sync.Map // *server.Server → map[string]*bus.Credentials

// NATS starts an embedded JetStream server (no socket) for the test. It
// enforces vsc's NATS permissions, as the devnet's does, with two users:
// "coordinator" (connect with Bus) and "worker", holding the tee, zk and
// optimistic roles (WorkerBus).
func NATS(t testing.TB) *server.Server {
	t.Helper()
	creds := map[string]*bus.Credentials{}
	var users []bus.User
	for name, roles := range map[string][]bus.Role{"coordinator": {bus.RoleCoordinator},
		"worker": {bus.RoleTEE, bus.RoleZK, bus.RoleOptimistic}} {
		c, err := bus.NewCredentials(name, roles, common.Address{})
		if err != nil {
			t.Fatal(err)
		}
		creds[name], users = c, append(users, c.User)
	}
	srv, err := natsembed.Run(natsembed.Options{StoreDir: t.TempDir(), Users: users})
	if err != nil {
		t.Fatal(err)
	}
	natsCreds.Store(srv, creds)
	t.Cleanup(func() { srv.Shutdown(); natsCreds.Delete(srv) })
	return srv
}

// Creds returns the credentials of a user of a server NATS started.
func Creds(t testing.TB, srv *server.Server, user string) *bus.Credentials {
	t.Helper()
	m, ok := natsCreds.Load(srv)
	if !ok || m.(map[string]*bus.Credentials)[user] == nil {
		t.Fatalf("no NATS user %q on this test server", user)
	}
	return m.(map[string]*bus.Credentials)[user]
}

// Bus connects to srv as the coordinator and ensures the streams.
func Bus(t testing.TB, srv *server.Server, cfg bus.Config) *bus.Bus {
	t.Helper()
	b := connect(t, srv, "coordinator", cfg)
	if err := b.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

// WorkerBus connects to srv as a worker (tee, zk and optimistic roles);
// cfg.Signer signs its results.
func WorkerBus(t testing.TB, srv *server.Server, cfg bus.Config) *bus.Bus {
	t.Helper()
	return connect(t, srv, "worker", cfg)
}

func connect(t testing.TB, srv *server.Server, user string, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.ConnectInProcess(srv, Creds(t, srv, user), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// ChainNode starts a chain node for the test (genesis g, sequencer key seq,
// sealing every blockTime, data in a temporary dir) and serves its HTTP API;
// it returns the node and the API's URL, and stops both when the test ends.
func ChainNode(t testing.TB, g *chain.Genesis, seq *ecdsa.PrivateKey, blockTime time.Duration) (*node.Node, string) {
	t.Helper()
	n, err := node.New(node.Config{DataDir: t.TempDir(), Genesis: g, SequencerKey: seq, BlockTime: blockTime})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return n, srv.URL
}

// Eventually fails t unless cond returns nil within total, polling it
// every poll.Interval (20 ms): the one way a test waits for something.
// cond runs on the test's goroutine, so it may call t.Fatal.
func Eventually(t testing.TB, total time.Duration, cond func() error) {
	t.Helper()
	poll.Eventually(t, total, cond)
}
