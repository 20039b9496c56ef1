package main

// The adversarial suite: every row is one hostile input or peer, tried
// against a whole devnet (real PostgreSQL, embedded NATS, the chain, the
// workers and members), as an outsider with a fresh key would. A row names
// the refusal it expects (a stable code and part of the sentence) and the
// arena checks that nothing changed: no row, blob or job added, the chain's
// state root the same. After every table, honest work must still reach
// minted (one poison input must never stall the pipeline).
//
// Rows live beside the area they attack (attack_<area>_test.go); each file
// adds its table to the list that TestAttacks runs.

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/internal/testenv/poll"
)

// attack is one hostile input or peer.
type attack struct {
	name string
	// code is the stable code of the refusal: an API error code, a chain
	// admission or receipt code, or a NATS error class ("permission").
	code string
	// says is a part of the refusal's sentence (case-insensitive).
	says string
	// changes lists what the attack is allowed to change (rarely anything:
	// e.g. "outbox" when a refusal is recorded as a failed row).
	changes []string
	// run mounts the attack and returns the refusal it got (nil: accepted,
	// which fails the row).
	run func(t *testing.T, a *arena) error
	// prepare, when set, runs before the arena takes its snapshot (what the
	// attacker reads or waits for first, e.g. a minted submission).
	prepare func(t *testing.T, a *arena)
}

// attackTables are the tables TestAttacks runs, one per area.
var attackTables = map[string][]attack{}

// attackSetups prepare an area's table (before its first row's snapshot).
var attackSetups = map[string]func(t *testing.T, a *arena){}

// registerAttacks adds an area's table (called from init in each file).
func registerAttacks(area string, rows []attack) {
	attackTables[area] = append(attackTables[area], rows...)
}

// registerAttackSetup gives an area's table a setup, run once before its
// rows: what it builds is part of every row's "before".
func registerAttackSetup(area string, setup func(t *testing.T, a *arena)) {
	attackSetups[area] = setup
}

// arena is a devnet under attack and what an attacker has: a fresh, funded
// key of its own.
type arena struct {
	*testDevnet
	attacker *ecdsa.PrivateKey
	// pinned are submissions a setup keeps in flight on purpose (victims
	// that stay voting): settle does not wait for them.
	pinned [][]byte
}

func TestAttacks(t *testing.T) {
	t.Parallel()
	if len(attackTables) == 0 {
		t.Fatal("no attack tables registered")
	}
	// NATS has a listener (outsiders try it), and votes do not time out
	// while the tables run (a victim stays voting)
	d := startDevnet(t, func(c *devnetConfig) { c.NATSListen, c.Coordinator.VoteTimeout = "127.0.0.1:0", time.Hour })
	a := &arena{testDevnet: d, attacker: d.freshFundedKey(), pinned: [][]byte{}}
	total := 0
	for area, rows := range attackTables {
		t.Run(area, func(t *testing.T) {
			if setup := attackSetups[area]; setup != nil {
				a.t = t
				setup(t, a)
			}
			for _, row := range rows {
				total++
				t.Run(row.name, func(t *testing.T) { a.try(t, row) })
			}
			a.honestStillMints(t)
		})
	}
	t.Logf("%d hostile inputs and peers refused", total)
}

// try mounts one attack and checks its refusal and that nothing changed.
func (a *arena) try(t *testing.T, row attack) {
	a.t = t
	if row.prepare != nil {
		row.prepare(t, a)
	}
	a.settle(t)
	before := a.snapshot(t)
	err := row.run(t, a)
	if err == nil {
		t.Fatalf("accepted: want a refusal with code %q", row.code)
	}
	if got := errCode(err); got != row.code {
		t.Errorf("refusal code %q, want %q (%v)", got, row.code, err)
	}
	if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(row.says)) {
		t.Errorf("refusal %q does not say %q", err, row.says)
	}
	a.settle(t)
	after := a.snapshot(t)
	for k, v := range before {
		if after[k] != v && !contains(row.changes, k) {
			t.Errorf("%s changed: %s → %s", k, v, after[k])
		}
	}
}

// codedError is a refusal that carries a stable code (the chain's
// admission errors, NATS permission errors, member refusals).
type codedError interface{ ErrorCode() string }

// errCode is the stable code of a refusal.
func errCode(err error) string {
	var c codedError
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	var api *codes.Error
	if errors.As(err, &api) {
		return api.Code.Name()
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) || strings.Contains(err.Error(), "Permissions Violation") {
		return "permission"
	}
	return "uncoded"
}

// refused wraps an error with a stable code for errCode.
type refused struct {
	code string
	err  error
}

func (r *refused) Error() string     { return r.err.Error() }
func (r *refused) Unwrap() error     { return r.err }
func (r *refused) ErrorCode() string { return r.code }

// withCode gives err a stable code (nil stays nil).
func withCode(code string, err error) error {
	if err == nil {
		return nil
	}
	return &refused{code: code, err: err}
}

// snapshot is what an attack must not change: row counts of every
// coordinator table, stored blobs, messages ever published to each stream,
// and the chain's head state root.
func (a *arena) snapshot(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	s := map[string]string{}
	for _, table := range []string{"submissions", "evidence", "outbox", "outbox_failed", "submission_events", "votes", "accounts", "idaos", "idao_members", "blob_uploads"} {
		var n int
		if err := a.store.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		s["rows:"+table] = fmt.Sprint(n)
	}
	blobs, err := a.bus.BlobCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s["blobs"] = fmt.Sprint(blobs)
	for _, name := range []string{bus.JobsStream, bus.ResultsStream, bus.VotesStream, bus.ProofStream} {
		st, err := a.bus.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s["stream:"+name] = fmt.Sprint(info.State.LastSeq)
	}
	s["chain:state_root"] = a.chain.Head().StateRoot.Hex()
	return s
}

// settle waits until the devnet is at rest: no outbox rows, no submission
// in flight, no tx pending in the chain's pool.
func (a *arena) settle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, 60*time.Second, func() error {
		var busy int
		err := a.store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox) +
			(SELECT count(*) FROM submissions WHERE status NOT IN ('minted','rejected','failed','overturned')
				AND NOT id = ANY($1::bytea[]))`, a.pinned).Scan(&busy)
		if err != nil {
			t.Fatal(err)
		}
		if busy != 0 || a.chain.PoolSize() != 0 {
			return fmt.Errorf("devnet not at rest: %d rows in flight, %d txs pending", busy, a.chain.PoolSize())
		}
		return nil
	})
}

// honestStillMints submits an honest dataset and waits for its DAT.
func (a *arena) honestStillMints(t *testing.T) {
	t.Helper()
	a.t = t
	id := a.submit(dataset6, "tee")
	if v := a.wait(id, 2*time.Minute); v.Status != coordinator.Minted {
		t.Fatalf("honest submission after the attacks: %s (%v), want minted", v.Status, v.Reason)
	}
}

// freshFundedKey is a new key that the devnet's app account funds, as an
// outsider who bought some tokens would have.
func (d *testDevnet) freshFundedKey() *ecdsa.PrivateKey {
	d.t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		d.t.Fatal(err)
	}
	amount := new(big.Int).Div(devFunds, big.NewInt(1000))
	body := &tx.Transfer{To: crypto.PubkeyToAddress(k.PublicKey), Amount: amount}
	if _, err := d.api.SendChainTx(context.Background(), d.key("app"), body); err != nil {
		d.t.Fatalf("fund the attacker: %v", err)
	}
	return k
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func keccak(b []byte) common.Hash { return crypto.Keccak256Hash(b) }

// logTap passes log records on to a handler and keeps those that carry a
// refusal code (attribute "code"), at any level, so a row can name the
// refusal of a message that has no reply (a result the coordinator
// terminated, a vote it dropped).
type logTap struct {
	h    slog.Handler
	mu   *sync.Mutex
	recs *[]tapped
}

// tapped is one coded log record.
type tapped struct {
	at              time.Time
	code, msg, errs string
}

func newLogTap(h slog.Handler) *logTap {
	return &logTap{h: h, mu: new(sync.Mutex), recs: new([]tapped)}
}

func (l *logTap) Enabled(context.Context, slog.Level) bool { return true }

func (l *logTap) Handle(ctx context.Context, r slog.Record) error {
	var rec tapped
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "code":
			rec.code = a.Value.String()
		case "err":
			rec.errs = a.Value.String()
		}
		return true
	})
	if rec.code != "" {
		rec.at, rec.msg = r.Time, r.Message
		l.mu.Lock()
		*l.recs = append(*l.recs, rec)
		l.mu.Unlock()
	}
	if !l.h.Enabled(ctx, r.Level) {
		return nil
	}
	return l.h.Handle(ctx, r)
}

func (l *logTap) WithAttrs(as []slog.Attr) slog.Handler {
	return &logTap{h: l.h.WithAttrs(as), mu: l.mu, recs: l.recs}
}

func (l *logTap) WithGroup(name string) slog.Handler {
	return &logTap{h: l.h.WithGroup(name), mu: l.mu, recs: l.recs}
}

// refusalLogged waits for a record coded code logged after since and
// returns it as a refusal (nil if none comes within 20 s).
func (a *arena) refusalLogged(t *testing.T, code string, since time.Time) error {
	t.Helper()
	var found error
	// no such record within 20 s means the input was let through
	_ = poll.Until(20*time.Second, func() error {
		a.tap.mu.Lock()
		defer a.tap.mu.Unlock()
		for _, r := range *a.tap.recs {
			if r.code == code && !r.at.Before(since) {
				found = withCode(code, fmt.Errorf("%s: %s", r.msg, r.errs))
				return nil
			}
		}
		return errors.New("not logged")
	})
	return found
}
