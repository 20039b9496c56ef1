package natsembed

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
	"github.com/vsc-labs/vsc/internal/work"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCluster runs n nats-servers from rendered configuration files (as
// `vscd nats serve --config` does), routed into one JetStream cluster, and
// returns them with the comma-separated client URLs and the creds files.
func startCluster(t *testing.T, n int) ([]*server.Server, string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	var users []bus.User
	for _, u := range []struct {
		name  string
		roles []bus.Role
	}{{"coordinator", []bus.Role{bus.RoleCoordinator}}, {"worker", []bus.Role{bus.RoleTEE}}} {
		c, err := bus.NewCredentials(u.name, u.roles, common.Address{})
		if err != nil {
			t.Fatal(err)
		}
		files[u.name] = filepath.Join(dir, u.name+".creds")
		if err := c.WriteFile(files[u.name]); err != nil {
			t.Fatal(err)
		}
		users = append(users, c.User)
	}
	clients, routes := make([]string, n), make([]string, n)
	for i := range n {
		clients[i], routes[i] = freeAddr(t), freeAddr(t)
	}
	var srvs []*server.Server
	for i := range n {
		cfg := ServerConfig{Listen: clients[i], StoreDir: filepath.Join(dir, fmt.Sprint("store-", i)), MaxStore: 4 << 30, Users: users,
			Cluster: &ClusterConfig{ServerName: fmt.Sprint("nats-", i+1), Name: "vsc-test", Listen: routes[i]}}
		for k := range n {
			if k != i {
				cfg.Cluster.Routes = append(cfg.Cluster.Routes, "nats-route://"+routes[k])
			}
		}
		raw, err := cfg.Render()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("nats-%d.conf", i+1))
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		srv, err := RunConfigFile(path)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		srvs = append(srvs, srv)
		t.Cleanup(srv.Shutdown)
	}
	urls := make([]string, n)
	for i, c := range clients {
		urls[i] = "nats://" + c
	}
	return srvs, strings.Join(urls, ","), files
}

// TestClusterSurvivesANode: three servers, streams and consumers with three
// replicas (--nats-replicas 3); the coordinator publishes jobs, one server
// (the one the coordinator is connected to) is shut down, and a worker
// connected to all three URLs still gets every job and the coordinator
// every result: nothing lost.
func TestClusterSurvivesANode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-server JetStream cluster")
	}
	t.Parallel()
	srvs, urls, creds := startCluster(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coord, err := bus.Connect(bus.ConnectOptions{URL: urls, Creds: creds["coordinator"], Replicas: 3}, bus.Config{BlobBytes: 64 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	if err := poll.Until(60*time.Second, func() error { return coord.Ensure(ctx) }); err != nil {
		t.Fatalf("R3 streams in the cluster: %v", err)
	}
	for _, name := range []string{bus.JobsStream, bus.ResultsStream} {
		st, err := coord.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := st.Info(ctx); err != nil || info.Config.Replicas != 3 {
			t.Fatalf("stream %s: %v, replicas %d, want 3", name, err, info.Config.Replicas)
		}
	}
	const n = 200
	for i := range n {
		if err := coord.PublishJob(ctx, &work.Job{ID: fmt.Sprint("job-", i), Kind: "tee", SubmissionID: common.BigToHash(common.Big1)}); err != nil {
			t.Fatal(err)
		}
	}
	var down *server.Server
	for _, s := range srvs {
		if s.ClientURL() == coord.NC.ConnectedUrl() || strings.HasSuffix(coord.NC.ConnectedUrl(), s.Addr().String()) {
			down = s
		}
	}
	if down == nil {
		down = srvs[0]
	}
	down.Shutdown()
	worker, err := bus.Connect(bus.ConnectOptions{URL: urls, Creds: creds["worker"]}, bus.Config{AckWait: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	// the worker and the result reader run as a supervised role would: a
	// loop that stops (the cluster electing new leaders) starts again
	var handled, restarts atomic.Int64
	go func() {
		for ctx.Err() == nil {
			_ = worker.Work(ctx, "tee", func(_ context.Context, j work.Job) (work.Result, error) {
				handled.Add(1)
				return work.Result{OK: true}, nil
			})
			restarts.Add(1)
			pause(ctx)
		}
	}()
	var mu sync.Mutex
	seen := map[string]bool{}
	go func() {
		for ctx.Err() == nil {
			_ = coord.Results(ctx, func(_ context.Context, r work.Result) error {
				mu.Lock()
				seen[r.JobID] = true
				mu.Unlock()
				return nil
			})
			restarts.Add(1)
			pause(ctx)
		}
	}()
	if err := poll.Until(2*time.Minute, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < n {
			return fmt.Errorf("%d of %d results after a server went down (%d jobs handled, %d loop restarts)", len(seen), n, handled.Load(), restarts.Load())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// pause is a restarted loop's back-off.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}
