package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cluster"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/natsembed"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
)

// clusterSetup is a local cluster's material under DIR: keys, the shared
// enclave identity, zk keys, the genesis, NATS users and servers' configs,
// and one config file per process (DIR/config/NAME.toml), exactly what
// that role would run with on its own machine.
type clusterSetup struct {
	dir    string
	plan   *clusterPlan
	log    *slog.Logger
	db     string
	enc    *tee.Enclave
	vkHash common.Hash
	keys   map[string]string // name → key file
}

func (c *clusterSetup) path(parts ...string) string {
	return filepath.Join(append([]string{c.dir}, parts...)...)
}

func (c *clusterSetup) seqURL() string { return fmt.Sprintf("http://127.0.0.1:%d", c.plan.ChainPort) }

func (c *clusterSetup) natsURLs() []string {
	out := make([]string, c.plan.NATS)
	for i, p := range c.plan.NATSPorts {
		out[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	return out
}

// chainReadURL is where members and coordinators read the chain: the first
// follower when there is one.
func (c *clusterSetup) chainReadURL() string {
	if c.plan.Followers > 0 {
		return fmt.Sprintf("http://127.0.0.1:%d", c.plan.FollowPorts[0])
	}
	return c.seqURL()
}

func (c *clusterSetup) key(name string) *ecdsa.PrivateKey {
	k, err := keys.Load(c.keys[name])
	if err != nil {
		panic(err) // made by makeKeys
	}
	return k
}

// prepare makes (or keeps) everything the processes need.
func (c *clusterSetup) prepare(ctx context.Context) error {
	for _, step := range []func(context.Context) error{c.makeKeys, c.makeEnclave, c.makeZKKeys, c.makeGenesis, c.makeNATS, c.makeDatabase} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return c.writeRoleConfigs()
}

func (c *clusterSetup) makeKeys(context.Context) error {
	c.keys = map[string]string{}
	names := []string{"contributor", "app", "challenger", "sequencer", "coordinator", "executor"}
	for i := 1; i <= c.plan.Members; i++ {
		names = append(names, fmt.Sprintf("member-%d", i))
	}
	for _, n := range names {
		p := c.path("keys", n+".key")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if _, err := keys.LoadOrCreate(p); err != nil {
			return err
		}
		c.keys[n] = p
	}
	return nil
}

// makeEnclave opens the verifier set's (simulated) enclave identity and
// gives every worker and prover a copy, as an iDAO's enclaves share one
// key; DIR/enclave.json is what `vscd worker --show-key --json` prints.
func (c *clusterSetup) makeEnclave(context.Context) error {
	enc, err := tee.OpenSim(c.path("enclave"))
	if err != nil {
		return err
	}
	c.enc = enc
	raw, err := json.Marshal(enc.Info())
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.path("enclave.json"), raw, 0o600); err != nil {
		return err
	}
	for _, name := range c.workerNames() {
		for _, f := range []string{tee.KeyFile, tee.SimRootFile} {
			b, err := os.ReadFile(c.path("enclave", f))
			if err != nil {
				return err
			}
			dst := c.path(name, "tee", f)
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *clusterSetup) workerNames() []string {
	var out []string
	for i := 1; i <= c.plan.Workers; i++ {
		out = append(out, fmt.Sprintf("worker-%d", i))
	}
	for i := 1; i <= c.plan.Provers; i++ {
		out = append(out, fmt.Sprintf("prover-%d", i))
	}
	return out
}

func (c *clusterSetup) zkShape() prover.Shape { return prover.DefaultShape(c.plan.ZKChunk, 4) }

// makeZKKeys makes (once) the dev keys of the cluster's small zk circuit.
func (c *clusterSetup) makeZKKeys(ctx context.Context) error {
	km, err := prover.NewKeyManager(c.path("zk-keys"), c.log)
	if err != nil {
		return err
	}
	hs, err := km.Warm(ctx, c.zkShape())
	if err != nil {
		return err
	}
	c.vkHash = hs[0]
	return nil
}

func (c *clusterSetup) makeGenesis(context.Context) error {
	if _, err := os.Stat(c.path("genesis.json")); err == nil {
		return nil
	}
	var funded []common.Address
	for n := range c.keys {
		funded = append(funded, keys.Address(c.key(n)))
	}
	g := devGenesis(1337, keys.Address(c.key("sequencer")), funded)
	raw, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.path("genesis.json"), append(raw, '\n'), 0o644)
}

// natsUsers are the cluster's NATS users: one per process that connects,
// with its role's permissions (what `vscd nats creds` makes).
func (c *clusterSetup) natsUsers() []natsembed.User {
	var out []natsembed.User
	for i := 1; i <= c.plan.Coordinators; i++ {
		out = append(out, natsembed.User{Name: fmt.Sprintf("coordinator-%d", i), Roles: []bus.Role{bus.RoleCoordinator}})
	}
	for i := 1; i <= c.plan.Workers; i++ {
		out = append(out, natsembed.User{Name: fmt.Sprintf("worker-%d", i), Roles: []bus.Role{bus.RoleTEE}})
	}
	for i := 1; i <= c.plan.Provers; i++ {
		out = append(out, natsembed.User{Name: fmt.Sprintf("prover-%d", i), Roles: []bus.Role{bus.RoleTEE, bus.RoleZK}})
	}
	for i := 1; i <= c.plan.Members; i++ {
		name := fmt.Sprintf("member-%d", i)
		out = append(out, natsembed.User{Name: name, Roles: []bus.Role{bus.RoleMember}, Member: keys.Address(c.key(name))})
	}
	return out
}

// makeNATS writes the users' credentials (DIR/nats/NAME.creds, kept across
// restarts) and each NATS node's server config, routed into one cluster.
func (c *clusterSetup) makeNATS(context.Context) error {
	var users []bus.User
	for _, u := range c.natsUsers() {
		p := c.path("nats", u.Name+".creds")
		cr, err := bus.LoadCredentials(p)
		if err != nil {
			if cr, err = bus.NewCredentials(u.Name, u.Roles, u.Member); err != nil {
				return err
			}
			if err := cr.WriteFile(p); err != nil {
				return err
			}
		}
		users = append(users, cr.User)
	}
	for i := range c.plan.NATS {
		cfg := natsembed.ServerConfig{Listen: fmt.Sprintf("127.0.0.1:%d", c.plan.NATSPorts[i]), StoreDir: c.path(fmt.Sprintf("nats-%d", i+1)),
			MaxStore: 4 << 30, Users: users}
		if c.plan.NATS > 1 {
			cfg.Cluster = &natsembed.ClusterConfig{ServerName: fmt.Sprintf("nats-%d", i+1), Name: "vsc-local",
				Listen: fmt.Sprintf("127.0.0.1:%d", c.plan.RoutePorts[i])}
			for k, p := range c.plan.RoutePorts {
				if k != i {
					cfg.Cluster.Routes = append(cfg.Cluster.Routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
				}
			}
		}
		raw, err := cfg.Render()
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.path("nats", fmt.Sprintf("nats-%d.conf", i+1)), raw, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *clusterSetup) makeDatabase(ctx context.Context) error {
	u, err := clusterDatabase(ctx, c.plan)
	c.db = u
	return err
}

// procs is the cluster's processes in start groups: NATS, the sequencer,
// the followers, the coordinators, then workers, provers and members.
func (c *clusterSetup) procs() [][]cluster.Proc {
	cfg := func(name string) string { return c.path("config", name+".toml") }
	var natsG, follow, coords, rest []cluster.Proc
	for i := 1; i <= c.plan.NATS; i++ {
		name := fmt.Sprintf("nats-%d", i)
		natsG = append(natsG, cluster.Proc{Name: name, Role: "nats", Args: []string{"nats", "serve", "--config", c.path("nats", name+".conf")},
			Ready: dialReady(fmt.Sprintf("127.0.0.1:%d", c.plan.NATSPorts[i-1]))})
	}
	seq := cluster.Proc{Name: "sequencer", Role: "sequencer", Args: []string{"chain", "--config", cfg("sequencer")}, Ready: headReady(c.seqURL())}
	for i := 1; i <= c.plan.Followers; i++ {
		name := fmt.Sprintf("follower-%d", i)
		follow = append(follow, cluster.Proc{Name: name, Role: "follower", Args: []string{"chain", "--config", cfg(name)},
			Ready: headReady(fmt.Sprintf("http://127.0.0.1:%d", c.plan.FollowPorts[i-1]))})
	}
	for i := 1; i <= c.plan.Coordinators; i++ {
		name := fmt.Sprintf("coordinator-%d", i)
		coords = append(coords, cluster.Proc{Name: name, Role: "coordinator", Args: []string{"coordinator", "--config", cfg(name)},
			Ready: infoReady(fmt.Sprintf("http://127.0.0.1:%d", c.plan.CoordPorts[i-1]))})
	}
	for _, name := range c.workerNames() {
		role := strings.SplitN(name, "-", 2)[0]
		rest = append(rest, cluster.Proc{Name: name, Role: role, Args: []string{"worker", "--config", cfg(name)}})
	}
	for i := 1; i <= c.plan.Members; i++ {
		name := fmt.Sprintf("member-%d", i)
		rest = append(rest, cluster.Proc{Name: name, Role: "member", Args: []string{"quorum", "--config", cfg(name)}})
	}
	return [][]cluster.Proc{natsG, {seq}, follow, coords, rest}
}

func dialReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err
	}
}

func headReady(url string) func(context.Context) error {
	return func(ctx context.Context) error { _, err := client.New(url).ChainHead(ctx); return err }
}

func infoReady(url string) func(context.Context) error {
	return func(ctx context.Context) error { _, err := client.New(url).Info(ctx); return err }
}

// bootstrap puts the demo iDAO on the cluster's chain on first start, as
// the devnet does: created by member-1 (tee+zk, tee and zk; the enclave's
// simulation policy; the small circuit's verifying key), joined by every
// member, the enclave key registered.
func (c *clusterSetup) bootstrap(ctx context.Context) error {
	cl := client.New(c.seqURL())
	if _, err := cl.ChainIDAO(ctx, "demo"); err == nil {
		return nil
	}
	teePolicy, err := json.Marshal(c.enc.Policy())
	if err != nil {
		return err
	}
	policy := idao.Policy{Modes: []idao.Mode{idao.ModeTEEZK, idao.ModeTEE, idao.ModeZK}, Price: devPrice,
		TEEPolicy: teePolicy, VKHash: c.vkHash, UnstakeDelay: 60}
	owner := c.key("member-1")
	type step struct {
		who  *ecdsa.PrivateKey
		body tx.Body
	}
	steps := []step{{owner, &tx.IDAOCreate{Name: "demo", Policy: policy, Stake: devStake}},
		{owner, &tx.VKRegister{IDAO: "demo", Circuit: c.zkShape().String(), VKHash: c.vkHash}}}
	for i := 2; i <= c.plan.Members; i++ {
		steps = append(steps, step{c.key(fmt.Sprintf("member-%d", i)), &tx.IDAOJoin{Name: "demo", Amount: devStake}})
	}
	steps = append(steps, step{owner, &tx.EnclaveRegister{IDAO: "demo", PubKey: c.enc.PublicKeyBytes(), Report: tee.EncodeAttestation(c.enc.KeyAttestation())}})
	for _, s := range steps {
		if _, err := cl.SendChainTx(ctx, s.who, s.body); err != nil {
			return fmt.Errorf("cluster bootstrap: %s: %w", s.body.Kind(), err)
		}
	}
	c.log.Info("cluster: demo iDAO on chain", "members", c.plan.Members, "vk", c.vkHash)
	return nil
}

// genesis is the cluster's genesis.
func (c *clusterSetup) genesis() (*chain.Genesis, error) {
	return chain.LoadGenesis(c.path("genesis.json"))
}

// writeRoleConfigs writes DIR/config/NAME.toml for every process but the
// NATS nodes (whose nats-server configs are DIR/nats/nats-N.conf).
func (c *clusterSetup) writeRoleConfigs() error {
	root, _ := c.enc.SimRoot()
	header := func(name string) string {
		return fmt.Sprintf("# %s of the local cluster in %s, written by `vscd cluster up`.\n# On its own machine: the same keys, with that machine's paths and addresses.\n", name, c.dir)
	}
	nats := func(user string) map[string]any {
		return map[string]any{"nats": c.natsURLs(), "nats-creds": c.path("nats", user+".creds"), "nats-replicas": c.plan.replicas(), "log-level": "info"}
	}
	chainBase := map[string]any{"genesis": c.path("genesis.json"), "lanes": 2, "dev-tee-root": root.Hex(), "log-level": "info"}
	seq := with(chainBase, map[string]any{"data": c.path("sequencer"), "key": c.keys["sequencer"],
		"listen": fmt.Sprintf("127.0.0.1:%d", c.plan.ChainPort), "block-time": "100ms"})
	files := map[string]map[string]any{"sequencer": seq}
	for i := 1; i <= c.plan.Followers; i++ {
		name := fmt.Sprintf("follower-%d", i)
		files[name] = with(chainBase, map[string]any{"follow": c.seqURL(), "data": c.path(name), "lanes": 3,
			"listen": fmt.Sprintf("127.0.0.1:%d", c.plan.FollowPorts[i-1])})
	}
	for i := 1; i <= c.plan.Coordinators; i++ {
		name := fmt.Sprintf("coordinator-%d", i)
		files[name] = with(nats(name), map[string]any{"listen": fmt.Sprintf("127.0.0.1:%d", c.plan.CoordPorts[i-1]), "db": c.db,
			"chain": c.seqURL(), "chain-read": c.chainReadURL(), "chain-key": c.keys["coordinator"], "enclave": c.path("enclave.json"),
			"zk-chunk": c.plan.ZKChunk, "lease-ttl": "3s", "intake-rate": -1, "vote-timeout": "2m"})
	}
	for _, name := range c.workerNames() {
		w := with(nats(name), map[string]any{"tee-backend": "sim", "data": c.path(name)})
		if strings.HasPrefix(name, "prover-") {
			w["zk"], w["zk-keys"] = true, c.path("zk-keys")
		}
		files[name] = w
	}
	for i := 1; i <= c.plan.Members; i++ {
		name := fmt.Sprintf("member-%d", i)
		files[name] = with(nats(name), map[string]any{"key": c.keys[name], "chain": c.chainReadURL(), "genesis": c.path("genesis.json"),
			"data": c.path(name), "zk-keys": c.path("zk-keys")})
	}
	for name, kv := range files {
		if err := writeTOML(c.path("config", name+".toml"), header(name), kv); err != nil {
			return err
		}
	}
	return nil
}

// with is base with more's keys added (a new map).
func with(base, more map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}
