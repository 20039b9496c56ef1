package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vsc-labs/vsc/internal/pgutil"
)

// clusterPlan is what `vscd cluster up` decided on first start under DIR
// (DIR/plan.json): how many of each role and the ports they listen on, so
// that every restart and every later `up` uses the same addresses.
type clusterPlan struct {
	NATS         int   `json:"nats"`
	Coordinators int   `json:"coordinators"`
	Workers      int   `json:"workers"`
	Provers      int   `json:"provers"`
	Members      int   `json:"members"`
	Followers    int   `json:"followers"`
	ZKChunk      int   `json:"zk_chunk"`
	NATSPorts    []int `json:"nats_ports"`
	RoutePorts   []int `json:"route_ports"`
	CoordPorts   []int `json:"coordinator_ports"`
	FollowPorts  []int `json:"follower_ports"`
	ChainPort    int   `json:"chain_port"`
	// Database is the cluster's own database on the machine's PostgreSQL.
	Database string `json:"database"`
}

const planFile = "plan.json"

// loadOrMakePlan reads DIR/plan.json, or makes one for the counts asked
// (with free loopback ports) on a fresh dir. Counts asked of an existing
// cluster must be those it was made with.
func loadOrMakePlan(dir string, want clusterPlan) (*clusterPlan, error) {
	raw, err := os.ReadFile(filepath.Join(dir, planFile))
	if err == nil {
		var p clusterPlan
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, planFile), err)
		}
		if p.counts() != want.counts() {
			return nil, fmt.Errorf("the cluster in %s was made with %s, not %s: use those counts, or another --data", dir, p.counts(), want.counts())
		}
		return &p, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	p := want
	ports, err := freePorts(2*p.NATS + p.Coordinators + p.Followers + 1)
	if err != nil {
		return nil, err
	}
	take := func(n int) []int { out := ports[:n]; ports = ports[n:]; return out }
	p.NATSPorts, p.RoutePorts, p.CoordPorts, p.FollowPorts = take(p.NATS), take(p.NATS), take(p.Coordinators), take(p.Followers)
	p.ChainPort = take(1)[0]
	p.Database = devnetDBName(dir) + "_cluster"
	out, _ := json.MarshalIndent(&p, "", "  ")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &p, os.WriteFile(filepath.Join(dir, planFile), append(out, '\n'), 0o600)
}

func (p *clusterPlan) counts() string {
	return fmt.Sprintf("--nats %d --coordinators %d --workers %d --provers %d --members %d --followers %d",
		p.NATS, p.Coordinators, p.Workers, p.Provers, p.Members, p.Followers)
}

func (p *clusterPlan) check() error {
	switch {
	case p.NATS < 1 || p.Coordinators < 1 || p.Workers+p.Provers < 1 || p.Members < 1:
		return errors.New("a cluster needs at least one NATS node, one coordinator, one worker or prover and one member")
	case p.NATS == 2:
		return errors.New("--nats 2 cannot keep a JetStream quorum when one fails: use 1 or 3 (or more)")
	case p.NATS > 9 || p.Coordinators > 9 || p.Workers > 16 || p.Provers > 16 || p.Members > 32 || p.Followers > 9:
		return errors.New("at most 9 NATS nodes, 9 coordinators, 16 workers, 16 provers, 32 members and 9 followers on one machine")
	}
	return nil
}

// replicas is the stream replica count: 3 with three NATS nodes or more.
func (p *clusterPlan) replicas() int { return min(p.NATS, 3) }

// freePorts reserves n free loopback ports below the ephemeral range, so
// that no ":0" listener of another program takes one meanwhile.
func freePorts(n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for port := 20000 + os.Getpid()%5000; len(out) < n && port < 40000; port += 7 {
		if seen[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		seen[port] = true
		out = append(out, port)
	}
	if len(out) < n {
		return nil, errors.New("not enough free ports in 20000-39999")
	}
	return out, nil
}

// clusterDatabase makes (or finds) the cluster's database on the PostgreSQL
// that DATABASE_URL names.
func clusterDatabase(ctx context.Context, p *clusterPlan) (string, error) {
	return pgutil.EnsureDatabase(ctx, pgutil.URL(), p.Database)
}

// writeTOML writes a role's config file: flat, its keys the role's flag
// names (the file `vscd ROLE --config FILE` reads).
func writeTOML(path, header string, kv map[string]any) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(header)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, tomlOf(kv[k]))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func tomlOf(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}
