// Package testenv gives tests real services: a fresh PostgreSQL database
// per test (dropped afterwards) and an embedded JetStream server per test.
package testenv

import (
	"context"
	"crypto/ecdsa"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/pgutil"
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

// NATS starts an embedded JetStream server (no socket) for the test.
func NATS(t testing.TB) *server.Server {
	t.Helper()
	srv, err := bus.RunEmbedded(bus.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Bus connects to srv and ensures the streams.
func Bus(t testing.TB, srv *server.Server, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.ConnectInProcess(srv, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
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

// Eventually polls cond every 20ms until it returns nil or total elapses.
func Eventually(t testing.TB, total time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", total, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
