package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/chain/node"
	"github.com/vsc-labs/vsc/coordinator/chainlink"
	coord "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/coordinator/ui"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/natsembed"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
	teeworker "github.com/vsc-labs/vsc/tee/worker"
)

// devnetConfig is `vscd devnet`'s flags.
type devnetConfig struct {
	Data           string
	Listen         string
	NATSListen     string
	NATSTLSCert    string // with NATSListen: TLS for the listener
	NATSTLSKey     string
	NATSTLSCA      string // with NATSTLSCert: verify client certificates too
	Quorum         int
	Lanes          int
	FaultyExecutor bool
	LogLevel       string
	MembersOffline []int  // test flag: these members (1-based) do not run
	MembersLying   []int  // test flag: these members vote for a wrong digest
	FaultyTEE      bool   // test flag: the TEE worker reports a wrong commitment
	NoWatcher      bool   // test flag: no honest optimistic watcher in-process
	ZKKeys         string // zk key cache (default DIR/zk-keys)
	Coordinator    coord.Config
}

// devnet is every role in one process: a service.List of the roles,
// built by init steps in order (start), stopped in reverse order (Stop).
// Each step records what it built, so that the later steps, the banner
// and the tests find it, and so that Stop tears down a half-built devnet.
type devnet struct {
	cfg      devnetConfig
	log      *slog.Logger
	out      io.Writer
	services service.List

	nats  *server.Server
	bus   *bus.Bus // the coordinator's NATS connection
	store *store.Store

	// natsCreds are the NATS users of the roles (DIR/nats-creds/NAME.creds):
	// the coordinator, the worker (TEE, prover, optimistic executor) and
	// each member connect as their own, with their role's permissions only.
	natsCreds map[string]*bus.Credentials
	workerBus *bus.Bus
	coord     *coord.Server

	keyPaths map[string]string
	enclave  *tee.Enclave
	zkKeys   *prover.KeyManager
	// zkRegistered are the demo iDAO's zk shapes, keys installed.
	zkRegistered []idao.ZKShape
	chain        *node.Node
	link         *chainlink.Local
}

// newDevnet is a devnet of cfg, not started; log gets every role's logs
// and out the banner.
func newDevnet(cfg devnetConfig, log *slog.Logger, out io.Writer) *devnet {
	cfg.Coordinator.Listen = cfg.Listen
	d := &devnet{cfg: cfg, log: log, out: out}
	d.services.Log = log
	return d
}

// devnetFlags parses `vscd devnet`'s flags.
func devnetFlags(env *cli.Env, args []string) (devnetConfig, error) {
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	var cfg devnetConfig
	fs.StringVar(&cfg.Data, "data", env.Var("VSC_DATA", ".data/devnet"), "data directory (keys, NATS store, chain)")
	fs.StringVar(&cfg.Listen, "listen", env.Var("VSC_LISTEN", ":8080"), "HTTP API address")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "", "also expose the embedded NATS on this address (e.g. 127.0.0.1:4333) for external workers; they connect with the role credentials in DIR/nats-creds")
	fs.StringVar(&cfg.NATSTLSCert, "nats-tls-cert", "", "with --nats-listen: require TLS, with this server certificate")
	fs.StringVar(&cfg.NATSTLSKey, "nats-tls-key", "", "with --nats-tls-cert: its key")
	fs.StringVar(&cfg.NATSTLSCA, "nats-tls-ca", "", "with --nats-tls-cert: verify client certificates against this CA")
	fs.IntVar(&cfg.Quorum, "quorum", 4, "number of quorum members")
	fs.IntVar(&cfg.Lanes, "lanes", 2, "chain execution lanes")
	fs.BoolVar(&cfg.FaultyExecutor, "faulty-executor", false, "the optimistic executor claims wrong results (demos, tests)")
	fs.StringVar(&cfg.LogLevel, "log-level", env.Var("VSC_LOG_LEVEL", "info"), "debug, info, warn, error")
	fs.Func("members-offline", "test: comma-separated member numbers that do not run", intList(&cfg.MembersOffline))
	fs.BoolVar(&cfg.FaultyTEE, "faulty-tee", false, "test: the TEE worker lies about the commitment")
	fs.BoolVar(&cfg.NoWatcher, "no-watcher", false, "test: run no honest optimistic watcher (the executor still defends its claims)")
	fs.StringVar(&cfg.ZKKeys, "zk-keys", env.Var("VSC_ZK_KEYS", ""), "zk proving/verifying key cache (default DIR/zk-keys)")
	fs.Func("members-lying", "test: comma-separated member numbers that vote for a wrong digest", intList(&cfg.MembersLying))
	coordinatorFlags(fs, env, &cfg.Coordinator)
	_, err := cli.Parse(fs, args)
	return cfg, err
}

// cmdDevnet runs `vscd devnet` until SIGINT or SIGTERM, or until a role
// fails; then it stops every role in reverse order.
func cmdDevnet(ctx context.Context, env *cli.Env, args []string) error {
	cfg, err := devnetFlags(env, args)
	if err != nil {
		return err
	}
	d := newDevnet(cfg, logger(env, cfg.LogLevel), env.Stdout)
	if err := d.Start(ctx); err != nil {
		return errors.Join(err, d.stop())
	}
	d.banner()
	return d.services.Serve(ctx, drainTimeout)
}

// Start runs the init steps in order; ctx bounds them (a signal during
// start-up stops it). On an error the caller calls Stop, which tears down
// what the steps built.
func (d *devnet) Start(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"data dir and keys", d.initKeys},
		{"embedded NATS", d.initNATS},
		{"PostgreSQL", d.initStore},
		{"enclave (simulation, this devnet's own root)", d.initEnclave},
		{"worker NATS user", d.initWorkerBus},
		{"zk keys", d.initProverKeys},
		{"chain", d.initChain},
		{"demo iDAO on chain", d.bootstrapChain},
		{"coordinator", d.initCoordinator},
		{"TEE worker (enclave key on chain)", d.initTEEWorker},
		{"zk prover", d.initProver},
		{"quorum members", d.initMembers},
		{"optimistic executor and watcher", d.initOptimistic},
		{"data-service provider", d.initProvider},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("devnet start: %s: %w", s.name, err)
		}
		d.log.Info("devnet: ready", "step", s.name, "took", time.Since(t).Round(time.Millisecond))
	}
	return nil
}

// Stop stops every role in reverse order of start, each draining its
// in-flight work, at most until ctx ends; it copes with a half-built
// devnet.
func (d *devnet) Stop(ctx context.Context) error { return d.services.Stop(ctx) }

// stop is Stop within the drain timeout.
func (d *devnet) stop() error {
	ctx, cancel := drainContext()
	defer cancel()
	return d.Stop(ctx)
}

// run records a role and starts it.
func (d *devnet) run(ctx context.Context, name string, s service.Service) error {
	return d.services.Run(ctx, name, s)
}

// closeOnStop records a resource to close in its place in the stop order.
func (d *devnet) closeOnStop(name string, close func()) { d.services.Add(name, service.Closer(close)) }

func (d *devnet) initKeys(ctx context.Context) error {
	abs, err := filepath.Abs(d.cfg.Data)
	if err != nil {
		return err
	}
	d.cfg.Data = abs
	if err := os.MkdirAll(filepath.Join(abs, "keys"), 0o700); err != nil {
		return err
	}
	d.keyPaths = map[string]string{}
	names := []string{"contributor", "app", "challenger", "sequencer", "executor", "coordinator", "provider"}
	for i := 1; i <= d.cfg.Quorum; i++ {
		names = append(names, fmt.Sprintf("member-%d", i))
	}
	for _, n := range names {
		p := filepath.Join(abs, "keys", n+".key")
		if _, err := keys.LoadOrCreate(p); err != nil {
			return err
		}
		d.keyPaths[n] = p
	}
	return nil
}

// devnetNATSUsers are the devnet's NATS users: one per role holder.
func (d *devnet) devnetNATSUsers() []natsembed.User {
	users := []natsembed.User{
		{Name: "coordinator", Roles: []bus.Role{bus.RoleCoordinator}},
		{Name: "worker", Roles: []bus.Role{bus.RoleTEE, bus.RoleZK, bus.RoleOptimistic}},
		{Name: "provider", Roles: []bus.Role{bus.RoleProvider}, Member: keys.Address(d.key("provider"))},
	}
	for i := 1; i <= d.cfg.Quorum; i++ {
		n := fmt.Sprintf("member-%d", i)
		users = append(users, natsembed.User{Name: n, Roles: []bus.Role{bus.RoleMember}, Member: keys.Address(d.key(n))})
	}
	return users
}

// initNATS starts the embedded server, which enforces the same per-role
// permissions a deployment's does: every in-process role connects as its
// own user.
func (d *devnet) initNATS(ctx context.Context) error {
	o := natsembed.Options{StoreDir: filepath.Join(d.cfg.Data, "nats"), Listen: d.cfg.NATSListen}
	if d.cfg.NATSTLSCert != "" {
		if d.cfg.NATSListen == "" {
			return cli.Usagef("--nats-tls-cert goes with --nats-listen")
		}
		t, err := natsembed.TLSConfig(d.cfg.NATSTLSCert, d.cfg.NATSTLSKey, d.cfg.NATSTLSCA)
		if err != nil {
			return fmt.Errorf("NATS TLS: %w", err)
		}
		o.TLS = t
	}
	srv, creds, err := natsembed.Start(o, filepath.Join(d.cfg.Data, "nats-creds"), d.devnetNATSUsers())
	if err != nil {
		return err
	}
	d.nats, d.natsCreds = srv, creds
	d.closeOnStop("embedded NATS", func() { srv.Shutdown(); srv.WaitForShutdown() })
	b, err := d.connectNATS("coordinator", bus.Config{})
	if err != nil {
		return err
	}
	d.bus = b
	return b.Ensure(ctx)
}

// connectNATS connects in-process as one of the devnet's NATS users.
func (d *devnet) connectNATS(user string, cfg bus.Config) (*bus.Bus, error) {
	b, err := bus.ConnectInProcess(d.nats, d.natsCreds[user], cfg, d.log.With("nats_user", user))
	if err != nil {
		return nil, err
	}
	d.closeOnStop("NATS connection of "+user, b.Close)
	return b, nil
}

// initWorkerBus connects the worker roles (TEE worker, prover, optimistic
// executor): their results are signed by the enclave key.
func (d *devnet) initWorkerBus(ctx context.Context) error {
	// Verification handlers interleave I/O (blobs, results) with CPU: a few
	// per core keep the cores busy.
	b, err := d.connectNATS("worker", bus.Config{Concurrency: 8, Signer: d.enclave})
	d.workerBus = b
	return err
}

// devnetDatabase is the devnet's own database on the server DATABASE_URL
// names, one per data dir, so two devnets never share state and a restart
// with the same --data resumes.
func (d *devnet) devnetDatabase(ctx context.Context) (string, error) {
	return pgutil.EnsureDatabase(ctx, pgutil.URL(), devnetDBName(d.cfg.Data))
}

func (d *devnet) initStore(ctx context.Context) error {
	u, err := d.devnetDatabase(ctx)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, u, 32, d.log)
	if err != nil {
		return err
	}
	d.store = st
	d.closeOnStop("PostgreSQL pool", st.Close)
	return nil
}

func (d *devnet) initCoordinator(ctx context.Context) error {
	cfg := d.cfg.Coordinator
	cfg.Chain, cfg.ChainFeed, cfg.UI = d.link, d.link, ui.Handler()
	cfg.Services = d.link
	cfg.Registry = &chainlink.Registry{Chain: d.chain, EnclavePubkey: d.enclave.PublicKeyBytes(),
		EnclaveReport: tee.EncodeAttestation(d.enclave.KeyAttestation())}
	d.coord = coord.New(cfg, d.store, d.bus, d.log)
	d.coord.Mount("/v1/chain/", d.chain.Handler())
	chainMetrics(d.coord.Registry(), d.chain)
	d.coord.Mount("GET /v1/zk/vks/{hash}", http.HandlerFunc(d.serveVK))
	return d.run(ctx, "coordinator", d.coord)
}

// initEnclave opens the devnet's software enclave, sealed under
// DIR/enclave with the devnet's own simulation root beside it (made at
// random on first start, kept across restarts with the same --data).
func (d *devnet) initEnclave(ctx context.Context) error {
	enc, err := tee.OpenSim(filepath.Join(d.cfg.Data, "enclave"))
	if err != nil {
		return err
	}
	d.enclave = enc
	root, _ := enc.SimRoot()
	d.log.Warn("SIMULATION: the devnet's TEE is the software `sim` backend — no hardware isolation, reports signed by this "+
		"devnet's own simulation root; only policies with allow_simulation that list it accept them. Never send it real data.",
		"simulation_root", root.Hex())
	return nil
}

// initTEEWorker registers the enclave key on chain (first start) and runs
// the TEE verifier on the embedded bus.
func (d *devnet) initTEEWorker(ctx context.Context) error {
	if err := d.registerEnclave(ctx); err != nil {
		return err
	}
	w := teeworker.New(d.enclave, d.workerBus, d.log).WithMetrics(d.coord.Registry())
	if !d.cfg.FaultyTEE {
		return d.run(ctx, "TEE worker", w)
	}
	d.log.Warn("devnet: the TEE worker LIES about commitments (--faulty-tee)")
	return d.run(ctx, "faulty TEE worker", &service.Loop{Run: func(ctx context.Context) error {
		return d.workerBus.Work(ctx, teeworker.Kind, func(ctx context.Context, j work.Job) (work.Result, error) {
			res, err := w.Handle(ctx, j)
			if err == nil && res.OK {
				var ev map[string]any
				if json.Unmarshal(res.Evidence, &ev) == nil {
					ev["commitment"] = common.Hash{0x42}.Hex()
					res.Evidence, _ = json.Marshal(ev)
				}
			}
			return res, err
		})
	}})
}

func (d *devnet) banner() {
	w := d.out
	addr := d.coord.Addr()
	fmt.Fprintf(w, "\nvsc devnet is up\n  API        http://%s  (OpenAPI: /openapi.json, metrics: /metrics)\n  data       %s\n", hostPort(addr), d.cfg.Data)
	root, _ := d.enclave.SimRoot()
	fmt.Fprintf(w, "  chain      id %d, sequencer %s  (genesis %s)\n", d.chain.ChainID(), d.chain.Sequencer().Hex(), d.genesisPath())
	fmt.Fprintf(w, "  TEE        SIMULATION, root %s  (only this devnet's; the demo iDAO's policy trusts it)\n", root.Hex())
	if d.cfg.NATSListen != "" {
		fmt.Fprintf(w, "  NATS       %s  (credentials per role: %s/*.creds, e.g. --nats-creds %s)\n", d.nats.ClientURL(),
			filepath.Join(d.cfg.Data, "nats-creds"), filepath.Join(d.cfg.Data, "nats-creds", "worker.creds"))
	}
	fmt.Fprintf(w, "  keys\n")
	for _, n := range []string{"contributor", "app", "challenger"} {
		fmt.Fprintf(w, "    %-12s %s\n", n, d.keyPaths[n])
	}
	for i := 1; i <= d.cfg.Quorum; i++ {
		n := fmt.Sprintf("member-%d", i)
		fmt.Fprintf(w, "    %-12s %s\n", n, d.keyPaths[n])
	}
	fmt.Fprintf(w, "\nclients check chain state against the sequencer's signature:\n  export VSC_SEQUENCER=%s\n", d.chain.Sequencer().Hex())
	app := d.keyPaths["app"]
	fmt.Fprintf(w, "\ntry:\n  vsc idao list\n  vsc submit examples/weather.csv --idao demo --key %s --allow-simulation --wait\n", d.keyPaths["contributor"])
	fmt.Fprintf(w, "then, as an app, with C the DAT class it minted:\n  vsc dat buy $C --units 10 --key %s\n", app)
	fmt.Fprintf(w, "  vsc provider list\n  vsc escrow deposit %s --amount 20 --key %s\n", keys.Address(d.key("provider")).Hex(), app)
	fmt.Fprintf(w, "  vsc query $C 'SELECT count(*), avg(temp_dC), max(wind_dms)' --token TOKEN --key %s --out answer.json\n", app)
	fmt.Fprintf(w, "  vsc job verify answer.json --key %s\n\n", app)
}

func hostPort(addr string) string {
	if len(addr) > 0 && addr[0] == '[' {
		// [::]:8080 → 127.0.0.1:8080
		for i := len(addr) - 1; i >= 0; i-- {
			if addr[i] == ':' {
				return "127.0.0.1" + addr[i:]
			}
		}
	}
	return addr
}

// intList parses "1,2,3" into dst.
func intList(dst *[]int) func(string) error {
	return func(s string) error {
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%q is not a member number", f)
			}
			*dst = append(*dst, n)
		}
		return nil
	}
}

// devnetDBName is the database of the devnet with data dir dir (absolute).
func devnetDBName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "vsc_devnet_" + hex.EncodeToString(sum[:5])
}

// serveVK serves a zk verifying-key bundle by its hash (for
// `vscd zk export-verifier --vk HASH` and anyone checking proofs offline).
func (d *devnet) serveVK(w http.ResponseWriter, r *http.Request) {
	h := common.HexToHash(r.PathValue("hash"))
	vk, err := d.zkKeys.VerifyingKey(h)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"code":"not_found","error":"no verifying key %s here"}`+"\n", h.Hex())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(vk.Bytes())
}
