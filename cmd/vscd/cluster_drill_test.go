package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cluster"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/pgutil"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// clusterTestEnv gates the multi-process cluster tests (make test-cluster):
// they start some twenty processes and run for minutes.
const clusterTestEnv = "VSC_TEST_CLUSTER"

// localCluster is a `vscd cluster up` run as its own process by a test.
type localCluster struct {
	t    *testing.T
	dir  string
	proc *exec.Cmd
	out  logBuffer
	st   *cluster.State
	seq  common.Address
}

// startLocalCluster runs `vscd cluster up` (this test binary as vscd) on a
// fresh dir and waits until every process runs.
func startLocalCluster(t *testing.T, args ...string) *localCluster {
	t.Helper()
	c := &localCluster{t: t, dir: t.TempDir()}
	keep := os.Getenv("VSC_CLUSTER_KEEP") != "" // a failed run's dir and database stay, for a look
	if keep {
		dir, err := os.MkdirTemp("", "vsc-cluster-")
		if err != nil {
			t.Fatal(err)
		}
		c.dir = dir
	}
	c.proc = exec.Command(os.Args[0], append([]string{"cluster", "up", "--data", c.dir}, args...)...)
	c.proc.Env = append(os.Environ(), asVSCD+"=1")
	c.proc.Stdout, c.proc.Stderr = &c.out, &c.out
	c.proc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.down()
		if keep && t.Failed() {
			t.Logf("the cluster's directory and database stay: %s", c.dir)
			return
		}
		if keep {
			_ = os.RemoveAll(c.dir)
		}
		if raw, err := os.ReadFile(filepath.Join(c.dir, planFile)); err == nil {
			var p clusterPlan
			if json.Unmarshal(raw, &p) == nil {
				_ = pgutil.DropDatabase(context.Background(), pgutil.URL(), p.Database)
			}
		}
	})
	if err := poll.Until(4*time.Minute, func() error {
		if !strings.Contains(c.out.String(), "vsc cluster up in") {
			return fmt.Errorf("cluster not up yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, tail(c.out.String()))
	}
	st, err := cluster.ReadState(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	c.st = st
	seq, err := keys.Load(filepath.Join(c.dir, "keys", "sequencer.key"))
	if err != nil {
		t.Fatal(err)
	}
	c.seq = keys.Address(seq)
	return c
}

// vscd runs a vscd command line against the cluster in-process.
func (c *localCluster) vscd(args ...string) string {
	c.t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), testEnv(&out, &errb), args); code != 0 {
		c.t.Fatalf("vscd %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// down stops the cluster (once) and waits for the supervisor, its child
// (`vscd cluster down` is for a supervisor that is nobody's child here).
func (c *localCluster) down() {
	if c.proc.ProcessState != nil {
		return
	}
	if err := stopChild(c.proc, 2*time.Minute); err != nil {
		c.t.Logf("cluster stop: %v", err)
	}
}

// drillSubmissions prepares n submissions of mode, each its own
// contributor key, encrypted to the cluster's enclave.
func drillSubmissions(t *testing.T, api *client.Client, n int, mode idao.Mode, seed int) []crashSubmission {
	t.Helper()
	d, err := api.IDAO(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	enclave, err := crypto.UnmarshalPubkey(d.EnclaveKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]crashSubmission, n)
	for i := range out {
		key, _ := crypto.GenerateKey()
		ds := &records.Dataset{Fields: []string{"a", "b", "c", "d"}}
		for r := 0; r < 3; r++ {
			ds.Records = append(ds.Records, []int64{int64(seed + i), int64(r), rand.Int64N(1000), 7})
		}
		zero := uint64(0)
		p, err := api.PrepareFor(context.Background(), ds, enclave, 1337, client.PrepareOptions{IDAO: "demo", Mode: mode,
			Contributor: keys.Address(key), Nonce: &zero})
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := p.Sign(key)
		out[i] = crashSubmission{p.Request(sig), p.Blob(), p.Digest.Hex()}
	}
	return out
}

// TestClusterFaultDrill is the fault drill: a full multi-process cluster
// (3 NATS nodes at R3, 2 coordinators, 2 TEE workers, a prover, 4 members,
// a follower) takes 1,000 submissions (950 tee, 50 tee+zk) at a steady
// rate while a coordinator, a TEE worker, the prover, a member, a NATS
// node, the follower and the sequencer are each killed with SIGKILL in
// turn (the supervisor restarts them). Then every accepted submission is
// minted exactly once, no job is left in the outbox or the work queue,
// the follower's head and state root are the sequencer's, and `vscd chain
// replay` verifies both chains.
func TestClusterFaultDrill(t *testing.T) {
	if os.Getenv(clusterTestEnv) == "" {
		t.Skip("the multi-process fault drill runs with " + clusterTestEnv + "=1 (make test-cluster)")
	}
	start := time.Now()
	c := startLocalCluster(t, "--nats", "3", "--coordinators", "2", "--workers", "2", "--provers", "1", "--members", "4", "--followers", "1")
	apis := []*client.Client{client.New(c.st.API), client.New(strings.Replace(c.st.API, fmt.Sprint(c.port(0)), fmt.Sprint(c.port(1)), 1))}
	tee := drillSubmissions(t, apis[0], 950, idao.ModeTEE, 0)
	zk := drillSubmissions(t, apis[0], 50, idao.ModeTEEZK, 10_000)
	subs := make([]crashSubmission, 0, len(tee)+len(zk))
	for i, s := range tee { // a tee+zk submission every 19 tee ones: the prover is busy throughout
		subs = append(subs, s)
		if i%19 == 18 && len(zk) > 0 {
			subs, zk = append(subs, zk[0]), zk[1:]
		}
	}
	subs = append(subs, zk...)
	t.Logf("cluster up, %d submissions prepared in %s", len(subs), time.Since(start).Round(time.Second))

	var accepted atomic.Int64
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); offerSteadily(subs, apis, &accepted, 25) }()
	kills := []string{"coordinator-1", "worker-1", "prover-1", "member-2", "nats-2", "follower-1", "sequencer"}
	tick := time.NewTicker(5 * time.Second)
	for _, name := range kills {
		<-tick.C
		if name == "prover-1" {
			c.waitProving()
		}
		t.Logf("%s: %d accepted", strings.TrimSpace(c.vscd("cluster", "kill", name, "--data", c.dir)), accepted.Load())
	}
	tick.Stop()
	<-loadDone
	t.Logf("load offered in %s: %d accepted", time.Since(start).Round(time.Second), accepted.Load())
	c.checkDrill(subs, apis)
	t.Logf("drill done in %s", time.Since(start).Round(time.Second))
}

// waitProving waits (a few seconds at most) until a zk job is delivered
// and not yet acked — a proof in progress — so the prover dies mid-proof.
func (c *localCluster) waitProving() {
	b := c.natsClient()
	defer b.Close()
	err := poll.Until(10*time.Second, func() error {
		cons, err := b.JS.Consumer(context.Background(), bus.JobsStream, "jobs-zk")
		if err != nil {
			return err
		}
		info, err := cons.Info(context.Background())
		if err != nil {
			return err
		}
		if info.NumAckPending == 0 {
			return fmt.Errorf("no zk job in progress")
		}
		return nil
	})
	if err != nil {
		c.t.Logf("killing the prover without a proof in progress seen: %v", err)
	}
}

// natsClient connects to the cluster's NATS as coordinator-2.
func (c *localCluster) natsClient() *bus.Bus {
	raw, _ := os.ReadFile(filepath.Join(c.dir, planFile))
	var p clusterPlan
	_ = json.Unmarshal(raw, &p)
	urls := make([]string, p.NATS)
	for i, port := range p.NATSPorts {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", port)
	}
	b, err := bus.Connect(bus.ConnectOptions{URL: strings.Join(urls, ","), Creds: filepath.Join(c.dir, "nats", "coordinator-2.creds")}, bus.Config{}, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// port is coordinator i's port.
func (c *localCluster) port(i int) int {
	raw, _ := os.ReadFile(filepath.Join(c.dir, planFile))
	var p clusterPlan
	_ = json.Unmarshal(raw, &p)
	return p.CoordPorts[i]
}

// offerSteadily offers subs at perSecond, round robin over apis; a
// refused or failed send is retried on the other coordinator (the same
// signed submission: one submission).
func offerSteadily(subs []crashSubmission, apis []*client.Client, accepted *atomic.Int64, perSecond int) {
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range subs {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := i; ; k++ {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, _, err := apis[k%len(apis)].Submit(ctx, subs[i].req, subs[i].blob)
				cancel()
				if err == nil {
					accepted.Add(1)
					return
				}
				time.Sleep(100 * time.Millisecond) // a client's pause before it tries the other coordinator
			}
		}()
	}
	wg.Wait()
}

// checkDrill asserts the drill's outcome.
func (c *localCluster) checkDrill(subs []crashSubmission, apis []*client.Client) {
	t := c.t
	chainAPI := client.New(c.st.ChainAPI)
	checkMintedOnceVia(t, apis[1], chainAPI, subs, c.diagnose)
	c.checkNothingQueued()
	follower := client.New(c.st.FollowerAPIs[0])
	if err := poll.Until(2*time.Minute, func() error {
		fh, err := follower.ChainHead(context.Background())
		if err != nil {
			return err
		}
		sh, err := chainAPI.ChainHead(context.Background())
		if err != nil {
			return err
		}
		if fh.Height != sh.Height || fh.StateRoot != sh.StateRoot {
			return fmt.Errorf("follower at %d %s, sequencer at %d %s", fh.Height, fh.StateRoot.Hex(), sh.Height, sh.StateRoot.Hex())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.down()
	roots := map[string]bool{}
	for _, name := range []string{"sequencer", "follower-1"} {
		out := c.vscd("chain", "replay", "--data", filepath.Join(c.dir, name), "--lanes", "3", "--json")
		var res struct {
			StateRoot string `json:"state_root"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("replay %s: %v: %s", name, err, out)
		}
		roots[res.StateRoot] = true
	}
	if len(roots) != 1 {
		t.Fatalf("sequencer and follower replay to different state roots: %v", roots)
	}
}

func (c *localCluster) logs(name string) string {
	raw, _ := os.ReadFile(filepath.Join(c.dir, "logs", name+".log"))
	return string(raw)
}

// checkNothingQueued: no outbox row and no job in the work queue is left.
func (c *localCluster) checkNothingQueued() {
	t := c.t
	ctx := context.Background()
	raw, _ := os.ReadFile(filepath.Join(c.dir, planFile))
	var p clusterPlan
	_ = json.Unmarshal(raw, &p)
	u, err := clusterDatabase(ctx, &p)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var outbox int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&outbox); err != nil || outbox != 0 {
		t.Fatalf("outbox rows left: %d (%v)", outbox, err)
	}
	b := c.natsClient()
	defer b.Close()
	st, err := b.JS.Stream(ctx, bus.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("jobs left in the work queue: %d (%v)", info.State.Msgs, err)
	}
}

// checkMintedOnceVia is checkMintedOnce with statuses from the
// coordinator's API and classes from the chain's. Every submission gets
// four minutes in all to finish; for each that does not, diagnose(id)
// says what is known of it (logs, its rows, the queues).
func checkMintedOnceVia(t *testing.T, api, chainAPI *client.Client, subs []crashSubmission, diagnose func(id string) string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	final := map[coordinator.Status]int{}
	var stuck []string
	for _, s := range subs {
		v, err := api.Wait(ctx, s.id, "", nil)
		if err != nil && ctx.Err() != nil { // out of time: read where the rest stand
			rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
			v, err = api.Status(rctx, s.id)
			rcancel()
			if err == nil && !v.Status.Final() {
				err = fmt.Errorf("still %s", v.Status)
			}
		}
		if err != nil {
			stuck = append(stuck, s.id)
			t.Errorf("submission %s never finished: %v", s.id, err)
			continue
		}
		final[v.Status]++
		if v.Status != coordinator.Minted {
			t.Errorf("submission %s ended %s: %s", s.id, v.Status, deref(v.Reason))
		}
	}
	t.Logf("final states: %v", final)
	for i, id := range stuck {
		if i == 3 {
			t.Logf("(%d more unfinished submissions not diagnosed)", len(stuck)-i)
			break
		}
		t.Logf("what is known of unfinished submission %s:\n%s", id, diagnose(id))
	}
	if len(stuck) > 0 {
		t.FailNow()
	}
	classes, err := chainAPI.DATClasses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	per := map[common.Hash]int{}
	for _, cl := range classes.Classes {
		per[cl.Provenance.Submission]++
	}
	for _, s := range subs {
		if n := per[common.HexToHash(s.id)]; n != 1 {
			t.Errorf("submission %s has %d DAT classes on chain", s.id, n)
		}
	}
	if len(classes.Classes) != len(subs) {
		t.Errorf("%d classes on chain for %d submissions", len(classes.Classes), len(subs))
	}
}

// diagnose gathers what the cluster knows of submission id, for a drill
// that found it unfinished: its status moves, evidence and outbox rows,
// the job and result queues (and whether they still hold a message
// naming it), and every log line that names it.
func (c *localCluster) diagnose(id string) string {
	var b strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, _ := os.ReadFile(filepath.Join(c.dir, planFile))
	var p clusterPlan
	_ = json.Unmarshal(raw, &p)
	key := common.HexToHash(id).Bytes()
	if u, err := clusterDatabase(ctx, &p); err != nil {
		fmt.Fprintf(&b, "database: %v\n", err)
	} else if conn, err := pgx.Connect(ctx, u); err != nil {
		fmt.Fprintf(&b, "database: %v\n", err)
	} else {
		defer conn.Close(ctx)
		for _, q := range []string{
			`SELECT 'event', status || ' ' || coalesce(detail,'') || ' at ' || at::text FROM submission_events WHERE submission=$1 ORDER BY seq`,
			`SELECT 'evidence', kind || '/' || chunk || ' of ' || chunks || ': ' || status || ' ' || coalesce(reason,'') || ' worker ' || coalesce(worker,'') || ' at ' || updated_at::text FROM evidence WHERE submission=$1`,
			`SELECT 'outbox', kind || ' ' || msg_id || ' created ' || created_at::text FROM outbox WHERE submission=$1`,
			`SELECT 'outbox_failed', kind || ' ' || reason FROM outbox_failed WHERE submission=$1`,
			`SELECT 'votes', count(*)::text FROM votes WHERE submission=$1`,
		} {
			rows, err := conn.Query(ctx, q, key)
			if err != nil {
				fmt.Fprintf(&b, "query: %v\n", err)
				continue
			}
			for rows.Next() {
				var what, line string
				if rows.Scan(&what, &line) == nil {
					fmt.Fprintf(&b, "%s: %s\n", what, line)
				}
			}
			rows.Close()
		}
	}
	bs := c.natsClient()
	defer bs.Close()
	for _, q := range []struct{ stream, consumer string }{{bus.JobsStream, "jobs-tee"}, {bus.JobsStream, "jobs-zk"}, {bus.ResultsStream, "coordinator"}} {
		cons, err := bs.JS.Consumer(ctx, q.stream, q.consumer)
		if err != nil {
			fmt.Fprintf(&b, "consumer %s: %v\n", q.consumer, err)
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			fmt.Fprintf(&b, "consumer %s: %v\n", q.consumer, err)
			continue
		}
		fmt.Fprintf(&b, "consumer %s/%s: pending %d, ack pending %d, redelivered %d, delivered %d, ack floor %d, leader %s\n",
			q.stream, q.consumer, info.NumPending, info.NumAckPending, info.NumRedelivered, info.Delivered.Stream, info.AckFloor.Stream, info.Cluster.Leader)
	}
	for _, name := range []string{bus.JobsStream, bus.ResultsStream} {
		st, err := bs.JS.Stream(ctx, name)
		if err != nil {
			fmt.Fprintf(&b, "stream %s: %v\n", name, err)
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			fmt.Fprintf(&b, "stream %s: %v\n", name, err)
			continue
		}
		fmt.Fprintf(&b, "stream %s: %d messages, seq %d..%d, leader %s\n", name, info.State.Msgs, info.State.FirstSeq, info.State.LastSeq, info.Cluster.Leader)
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq < info.State.FirstSeq+5000; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err == nil && bytes.Contains(bytes.ToLower(m.Data), []byte(strings.ToLower(strings.TrimPrefix(id, "0x")))) {
				fmt.Fprintf(&b, "stream %s holds seq %d (%s) naming it\n", name, seq, m.Subject)
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(c.dir, "logs", "*.log"))
	needle := strings.ToLower(strings.TrimPrefix(id, "0x"))
	for _, f := range logs {
		raw, _ := os.ReadFile(f)
		n := 0
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(strings.ToLower(line), needle) {
				if n++; n <= 20 {
					fmt.Fprintf(&b, "%s: %s\n", filepath.Base(f), line)
				}
			}
		}
		if n > 20 {
			fmt.Fprintf(&b, "%s: (%d more lines)\n", filepath.Base(f), n-20)
		}
	}
	return b.String()
}
