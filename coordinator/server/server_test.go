package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	srvpkg "github.com/vsc-labs/vsc/coordinator/server"
	"github.com/vsc-labs/vsc/coordinator/server/servertest"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	"github.com/vsc-labs/vsc/tee"
)

const chainID = servertest.ChainID

type fixture struct {
	*servertest.Fixture
	t   *testing.T
	key *ecdsa.PrivateKey
}

func newFixture(t *testing.T, cfg srvpkg.Config) *fixture {
	f := &fixture{Fixture: servertest.New(t, cfg), t: t}
	f.key, _ = crypto.GenerateKey()
	return f
}

func (f *fixture) prepare(data string, mode idao.Mode, nonce uint64) *client.Prepared {
	f.t.Helper()
	ds, err := records.Parse([]byte(data))
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := f.Client.PrepareFor(context.Background(), ds, f.Enclave.PublicKey(), chainID, client.PrepareOptions{
		IDAO: "demo", Mode: mode, Contributor: crypto.PubkeyToAddress(f.key.PublicKey), Nonce: &nonce})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) pending(kind string) int {
	f.t.Helper()
	js, _ := jetstream.New(f.Bus.NC)
	c, err := js.Consumer(context.Background(), bus.JobsStream, "jobs-"+kind)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return int(info.NumPending)
}

const dataset = "a,b,c,d\n1,2,3,4\n5,6,7,8\n-1,0,1,2\n"

func TestSubmitEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{ZKChunk: 2})
	ctx := context.Background()
	p := f.prepare(dataset, "tee+zk", 0)
	sig, _ := p.Sign(f.key)
	v, created, err := f.Client.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil || !created {
		t.Fatalf("submit: %v created=%v", err, created)
	}
	if v.ID != p.Digest.Hex() || v.Status != coordinator.Received || v.Records != 3 || v.Mode != "tee+zk" {
		t.Fatalf("view %+v", v)
	}
	// blob in the object store, byte for byte, and it decrypts to the dataset
	blob, err := f.Bus.GetBlob(ctx, p.Submission.DataHash)
	if err != nil || !bytes.Equal(blob, p.Blob()) {
		t.Fatalf("blob: %v", err)
	}
	plain, err := f.Enclave.OpenEnvelope(blob, p.WrappedKey, p.Submission.DataHash)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := records.Parse(plain)
	if records.Commitment(ds) != p.Submission.Commitment {
		t.Fatal("the enclave's view of the data does not match the commitment")
	}
	// one tee job and ⌈3/2⌉ = 2 zk chunk jobs on JetStream; status moves to verifying
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := f.pending("tee"); n != 1 {
			return fmt.Errorf("tee jobs %d", n)
		}
		if n := f.pending("zk"); n != 2 {
			return fmt.Errorf("zk jobs %d", n)
		}
		v, err := f.Client.Status(ctx, v.ID)
		if err != nil || v.Status != coordinator.Verifying {
			return fmt.Errorf("status %v %v", v.Status, err)
		}
		return nil
	})
	// the same signed submission again: same id, 200, nothing new
	v2, created, err := f.Client.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil || created || v2.ID != v.ID {
		t.Fatalf("resubmit: %v created=%v id=%s", err, created, v2.ID)
	}
	if n, _ := f.Store.CountSubmissions(ctx); n != 1 {
		t.Fatalf("%d submissions after a resubmit", n)
	}
	if f.pending("tee") != 1 || f.pending("zk") != 2 {
		t.Fatal("resubmit published jobs again")
	}
}

func TestResultsMoveSubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{ZKChunk: 4})
	ctx := context.Background()
	wb := f.WorkerBus(bus.Config{})
	good, bad := f.submitTEEZK(0), f.submitTEEZK(1)
	f.send(wb, good.id, "tee", work.Result{OK: true, Evidence: good.evidence})
	f.send(wb, good.id, "zk", work.Result{OK: true, Evidence: zkRef(good.id, 3)})
	f.send(wb, bad.id, "tee", work.Result{Rejected: true, Reason: "commitment mismatch"})
	f.send(wb, bad.id, "zk", work.Result{OK: true, Evidence: zkRef(bad.id, 3)}) // late good news cannot undo a rejection
	want := map[string]coordinator.Status{good.id: coordinator.Voting, bad.id: coordinator.Rejected}
	testenv.Eventually(t, 10*time.Second, func() error {
		for id, st := range want {
			v, err := f.Client.Status(ctx, id)
			if err != nil || v.Status != st {
				return fmt.Errorf("%s: %v %v", id, v.Status, err)
			}
		}
		return nil
	})
	v, _ := f.Client.Status(ctx, bad.id)
	if v.Reason == nil || !strings.Contains(*v.Reason, "commitment mismatch") {
		t.Fatalf("reason %v", v.Reason)
	}
}

// A result is believed only when its iDAO's enclave signed it and, when it
// approves, its evidence verifies: no one else can reject, fail or approve a
// submission, and a refused result changes nothing.
func TestForgedResultsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{ZKChunk: 4})
	ctx := context.Background()
	victim, other := f.submitTEEZK(0), f.submitTEEZK(1)
	unsigned := testenv.WorkerBus(t, f.NATS, bus.Config{}) // the worker's NATS user, but not the enclave's key
	stranger, _ := crypto.GenerateKey()
	impostor := testenv.WorkerBus(t, f.NATS, bus.Config{Signer: tee.KeySigner{Key: stranger}})
	wb := f.WorkerBus(bus.Config{})
	f.send(unsigned, victim.id, "tee", work.Result{Rejected: true, Reason: "forged rejection"})
	f.send(unsigned, victim.id, "zk", work.Result{Reason: "forged failure"})
	f.send(impostor, victim.id, "tee", work.Result{Rejected: true, Reason: "signed by a stranger"})
	f.send(wb, victim.id, "optimistic", work.Result{Rejected: true, Reason: "a kind it does not need"})
	// the real enclave's evidence, but for another submission: recorded as a rejection
	f.send(wb, other.id, "tee", work.Result{OK: true, Evidence: victim.evidence})
	testenv.Eventually(t, 10*time.Second, func() error {
		v, err := f.Client.Status(ctx, other.id)
		if err != nil || v.Status != coordinator.Rejected || v.Reason == nil || !strings.Contains(*v.Reason, "does not verify") {
			return fmt.Errorf("evidence of another submission: %v %v", v.Status, err)
		}
		return nil
	})
	js, _ := jetstream.New(f.Bus.NC)
	cons, _ := js.Consumer(ctx, bus.ResultsStream, "coordinator")
	testenv.Eventually(t, 10*time.Second, func() error {
		info, err := cons.Info(ctx)
		if err != nil || info.NumPending+uint64(info.NumAckPending) != 0 {
			return fmt.Errorf("results not settled: %v", err)
		}
		return nil
	})
	v, err := f.Client.Status(ctx, victim.id)
	if err != nil || v.Status != coordinator.Verifying || v.Reason != nil {
		t.Fatalf("forged results moved the victim: %v %v", v.Status, err)
	}
	for _, e := range v.Evidence {
		if e.Status != "pending" {
			t.Fatalf("forged results recorded evidence: %+v", e)
		}
	}
	// the real results still go through
	f.send(wb, victim.id, "tee", work.Result{OK: true, Evidence: victim.evidence})
	f.send(wb, victim.id, "zk", work.Result{OK: true, Evidence: zkRef(victim.id, 3)})
	testenv.Eventually(t, 10*time.Second, func() error {
		if v, err := f.Client.Status(ctx, victim.id); err != nil || v.Status != coordinator.Voting {
			return fmt.Errorf("victim: %v %v", v.Status, err)
		}
		return nil
	})
}

// teezk is a tee+zk submission and its enclave's evidence.
type teezk struct {
	id       string
	evidence json.RawMessage
}

// submitTEEZK submits dataset in tee+zk mode and has the fixture's enclave
// check it, as a TEE worker would.
func (f *fixture) submitTEEZK(nonce uint64) teezk {
	f.t.Helper()
	p := f.prepare(dataset, "tee+zk", nonce)
	sig, _ := p.Sign(f.key)
	v, _, err := f.Client.Submit(context.Background(), p.Request(sig), p.Blob())
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := f.Enclave.Process(tee.Job{ChainID: chainID, Submission: p.Submission, WrappedKey: p.WrappedKey, Blob: p.Blob()})
	if err != nil || out.Status != tee.StatusVerified {
		f.t.Fatalf("enclave: %v %+v", err, out)
	}
	ev, _ := json.Marshal(out.Evidence)
	return teezk{id: v.ID, evidence: ev}
}

// send publishes a worker's result on wb (signed by its signer, if any).
func (f *fixture) send(wb *bus.Bus, id string, kind idao.Kind, r work.Result) {
	f.t.Helper()
	r.JobID, r.Kind, r.SubmissionID = id+"/"+string(kind), kind, common.HexToHash(id)
	if err := wb.PublishResult(context.Background(), &r); err != nil {
		f.t.Fatal(err)
	}
}

// zkRef is a well-formed chunk reference for chunk 0 of a dataset of n
// records in chunks of 4 (the coordinator checks its form, members the proof).
func zkRef(id string, n int) json.RawMessage {
	vk := common.HexToHash("0x7b")
	ref := prover.ChunkRef{Kind: prover.RefKind, VKHash: vk, ChunkSize: 4, Chunks: prover.Chunks(n, 4), Index: 0,
		Bucket: bus.ProofBucket, Object: prover.ProofObjectName(common.HexToHash(id), vk, 0), Count: n}
	b, _ := json.Marshal(ref)
	return b
}

// A crash between the commit of a submission and the publish of its jobs
// loses nothing: after restart the relay publishes each job exactly once.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{DisableRelay: true, ZKChunk: 16})
	ctx := context.Background()
	var ids []string
	for n := range uint64(3) {
		p := f.prepare(dataset, "tee+zk", n)
		sig, _ := p.Sign(f.key)
		v, _, err := f.Client.Submit(ctx, p.Request(sig), p.Blob())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	if f.pending("tee") != 0 {
		t.Fatal("jobs published with the relay disabled")
	}
	f.Stop()
	f.Start(srvpkg.Config{ZKChunk: 16})
	testenv.Eventually(t, 10*time.Second, func() error {
		if n, m := f.pending("tee"), f.pending("zk"); n != 3 || m != 3 {
			return fmt.Errorf("tee %d zk %d", n, m)
		}
		if n, _ := f.Store.OutboxLen(ctx); n != 0 {
			return fmt.Errorf("outbox %d", n)
		}
		return nil
	})
	// a relay that republishes (crash after publish, before its commit) is deduped
	var again []*work.Job
	for _, id := range ids {
		again = append(again, &work.Job{ID: id + "/tee", Kind: "tee"})
	}
	if err := errors.Join(f.Bus.PublishJobs(ctx, again)...); err != nil {
		t.Fatal(err)
	}
	if n := f.pending("tee"); n != 3 {
		t.Fatalf("%d tee jobs after a republish, want 3", n)
	}
}

type rawReq struct {
	name    string
	body    func(f *fixture) (contentType string, body []byte)
	code    int
	errCode string
}

func multipart(f *fixture, r *coordinator.SubmitRequest, blob []byte) (string, []byte) {
	body, ct, err := client.MultipartBody(r, blob)
	if err != nil {
		f.t.Fatal(err)
	}
	return ct, body
}

// signed builds a valid request, lets mutate change it, then signs with key
// (nil: the contributor's) under chain id cid.
func signed(mode idao.Mode, nonce uint64, mutate func(f *fixture, p *client.Prepared), key func(f *fixture) *ecdsa.PrivateKey, cid uint64) func(f *fixture) (string, []byte) {
	return func(f *fixture) (string, []byte) {
		p := f.prepare(dataset, mode, nonce)
		if mutate != nil {
			mutate(f, p)
		}
		k := f.key
		if key != nil {
			k = key(f)
		}
		sig, _ := p.Submission.Sign(cid, k)
		return multipart(f, p.Request(sig), p.Blob())
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{MaxBlob: 4096})
	ctx := context.Background()
	// one accepted submission first, so the account's next nonce is 1
	p0 := f.prepare(dataset, "tee", 0)
	sig0, _ := p0.Sign(f.key)
	if _, _, err := f.Client.Submit(ctx, p0.Request(sig0), p0.Blob()); err != nil {
		t.Fatal(err)
	}
	other, _ := crypto.GenerateKey()
	cases := []rawReq{
		{"malformed json", func(f *fixture) (string, []byte) { return "application/json", []byte(`{"submission":`) }, 400, "malformed_json"},
		{"missing field", signed("tee", 1, func(f *fixture, p *client.Prepared) { p.Submission.IDAO = "" }, nil, chainID), 400, "missing_field"},
		{"unknown idao", signed("tee", 1, func(f *fixture, p *client.Prepared) { p.Submission.IDAO = "nope" }, nil, chainID), 404, "unknown_idao"},
		{"mode not accepted", signed("optimistic", 1, nil, nil, chainID), 422, "mode_not_accepted"},
		{"bad signature", func(f *fixture) (string, []byte) {
			p := f.prepare(dataset, "tee", 1)
			return multipart(f, p.Request(bytes.Repeat([]byte{0xff}, 65)), p.Blob())
		}, 401, "bad_signature"},
		{"signature by another key", signed("tee", 1, nil, func(*fixture) *ecdsa.PrivateKey { return other }, chainID), 401, "wrong_signer"},
		{"wrong chain id", signed("tee", 1, nil, nil, 1), 401, "wrong_signer"},
		{"replayed nonce", signed("tee", 0, nil, nil, chainID), 409, "nonce_replayed"},
		{"nonce skips ahead", signed("tee", 5, nil, nil, chainID), 409, "nonce_gap"},
		{"data hash mismatch", func(f *fixture) (string, []byte) {
			p := f.prepare(dataset, "tee", 1)
			sig, _ := p.Sign(f.key)
			blob := append([]byte(nil), p.Blob()...)
			blob[len(blob)-1] ^= 1
			return multipart(f, p.Request(sig), blob)
		}, 422, "data_hash_mismatch"},
		{"blob too large", func(f *fixture) (string, []byte) {
			big := "a\n" + strings.Repeat("1234567\n", 1000)
			p := f.prepare(big, "tee", 1)
			sig, _ := p.Sign(f.key)
			return multipart(f, p.Request(sig), p.Blob())
		}, 413, "blob_too_large"},
		{"empty dataset", signed("tee", 1, func(f *fixture, p *client.Prepared) { p.Submission.Records = 0 }, nil, chainID), 400, "invalid_field"},
		{"key wrapped to another enclave", func(f *fixture) (string, []byte) {
			wrong, _ := crypto.GenerateKey()
			ds, _ := records.Parse([]byte(dataset))
			n := uint64(1)
			p, err := f.Client.PrepareFor(ctx, ds, &wrong.PublicKey, chainID, client.PrepareOptions{IDAO: "demo", Mode: "tee",
				Contributor: crypto.PubkeyToAddress(f.key.PublicKey), Nonce: &n})
			if err != nil {
				f.t.Fatal(err)
			}
			sig, _ := p.Sign(f.key)
			return multipart(f, p.Request(sig), p.Blob())
		}, 422, "wrong_enclave_key"},
		{"blob missing", func(f *fixture) (string, []byte) {
			p := f.prepare(dataset, "tee", 1)
			sig, _ := p.Sign(f.key)
			return multipart(f, p.Request(sig), nil)
		}, 422, "blob_missing"},
	}
	before := snapshot(t, f)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := tc.body(f)
			resp, err := http.Post(f.HTTP.URL+"/v1/submissions", ct, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e codes.Error
			_ = json.Unmarshal(data, &e)
			if resp.StatusCode != tc.code || e.Code.Name() != tc.errCode || len(e.Message) < 10 {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, data, tc.code, tc.errCode)
			}
			if after := snapshot(t, f); after != before {
				t.Fatalf("state changed: %s → %s", before, after)
			}
		})
	}
}

// snapshot summarises everything a request could have left behind.
func snapshot(t *testing.T, f *fixture) string {
	ctx := context.Background()
	jobs := 0
	testenv.Eventually(t, 5*time.Second, func() error { // let the relay drain what was accepted before
		jobs = f.pending("tee") + f.pending("zk")
		if n, _ := f.Store.OutboxLen(ctx); n != 0 {
			return fmt.Errorf("outbox not drained")
		}
		var ev int // every evidence row's job is on the stream (consumer counts lag the publish)
		if err := f.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM evidence`).Scan(&ev); err != nil || ev != jobs {
			return fmt.Errorf("%d jobs on the stream for %d evidence rows", jobs, ev)
		}
		return nil
	})
	var subs, ev, outbox, events, nonce int
	row := f.Store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM submissions), (SELECT count(*) FROM evidence),
		(SELECT count(*) FROM outbox), (SELECT count(*) FROM submission_events), (SELECT coalesce(sum(next_nonce),0) FROM accounts)`)
	if err := row.Scan(&subs, &ev, &outbox, &events, &nonce); err != nil {
		t.Fatal(err)
	}
	blobs, err := f.Bus.BlobCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("subs=%d evidence=%d outbox=%d events=%d nonces=%d blobs=%d jobs=%d", subs, ev, outbox, events, nonce, blobs, jobs)
}

// A row the relay cannot publish (over NATS' message limits) is tried a few
// times, then set aside with its reason and its submission failed; it never
// holds up the rows behind it.
func TestPoisonOutboxRowIsSetAside(t *testing.T) {
	t.Parallel()
	f := newFixture(t, srvpkg.Config{ZKChunk: 4, RelayPoll: 20 * time.Millisecond})
	ctx := context.Background()
	submit := func(nonce uint64) string {
		p := f.prepare(dataset, "tee", nonce)
		sig, _ := p.Sign(f.key)
		v, _, err := f.Client.Submit(ctx, p.Request(sig), p.Blob())
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	victim := submit(0)
	testenv.Eventually(t, 10*time.Second, func() error {
		if n, _ := f.Store.OutboxLen(ctx); n != 0 {
			return fmt.Errorf("outbox %d", n)
		}
		return nil
	})
	// a job too large for the jobs stream (as a 5 MiB wrapped key stored
	// before intake had limits): the relay builds the job from the row
	if _, err := f.Store.Pool.Exec(ctx, `UPDATE submissions SET wrapped_key = $2 WHERE id = $1`,
		common.HexToHash(victim).Bytes(), make([]byte, bus.MaxJobMsg)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.Pool.Exec(ctx, `INSERT INTO outbox (submission, msg_id, kind, payload) VALUES ($1, 'poison/0', 'tee', '{}')`,
		common.HexToHash(victim).Bytes()); err != nil {
		t.Fatal(err)
	}
	f.Server.RelayOnce(ctx) // the poison row is first in line
	after := submit(1)
	testenv.Eventually(t, 20*time.Second, func() error {
		if v, err := f.Client.Status(ctx, after); err != nil || v.Status != coordinator.Verifying {
			return fmt.Errorf("the submission after the poison row: %v %v", v.Status, err)
		}
		v, err := f.Client.Status(ctx, victim)
		if err != nil || v.Status != coordinator.Failed {
			return fmt.Errorf("victim %v %v", v.Status, err)
		}
		if r := deref(v.Reason); !strings.Contains(r, "could not be published") || !strings.Contains(r, "exceeds maximum") {
			t.Fatalf("reason %q does not say what happened", r)
		}
		return nil
	})
	if n, _ := f.Store.OutboxFailed(ctx); n != 1 {
		t.Fatalf("%d rows set aside, want 1", n)
	}
	var attempts int
	var reason string
	if err := f.Store.Pool.QueryRow(ctx, `SELECT attempts, reason FROM outbox_failed`).Scan(&attempts, &reason); err != nil ||
		attempts != store.MaxOutboxAttempts || !strings.Contains(reason, "exceeds maximum") {
		t.Fatalf("set aside after %d tries (%q): %v", attempts, reason, err)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
