package provider

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/query"
)

// blobs is an in-memory blob store that counts fetches.
type blobs struct {
	m       map[common.Hash][]byte
	fetches atomic.Int64
}

func (b *blobs) GetBlob(_ context.Context, h common.Hash) ([]byte, error) {
	b.fetches.Add(1)
	if v, ok := b.m[h]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("no blob %s", h.Hex())
}

// terms is the chain's view of the classes (the fixture's Chain; only Terms
// is used by run).
type terms map[common.Hash]*Terms

func (t terms) Registered(context.Context, common.Address) (bool, error) { return true, nil }
func (t terms) Send(context.Context, tx.Body) (*chain.Receipt, error) {
	return nil, fmt.Errorf("not in this test")
}
func (t terms) Terms(_ context.Context, class common.Hash) (*Terms, error) { return t[class], nil }

// fixture is a provider on a sim enclave with one sealed dataset: 24
// records of region 1 and 2 (12 each) and 3 of region 3.
type fixture struct {
	p     *Provider
	blobs *blobs
	prov  common.Address
	// resign signs an edited job's request again as the fixture's app
	resign func(j *work.QueryJob)
	app    *ecdsa.PrivateKey
}

func newFixture(t *testing.T) (*fixture, func(sql string, edit func(*work.QueryJob)) *work.QueryJob) {
	enc, err := tee.OpenSim(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("region,temp\n")
	for i := range 27 {
		r := 1 + i%2
		if i >= 24 {
			r = 3
		}
		fmt.Fprintf(&b, "%d,%d\n", r, 100+i)
	}
	sealed, err := envelope.Seal([]byte(b.String()), enc.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	sub := submission.Submission{IDAO: "demo", Mode: "tee", Class: "dataset", DataHash: sealed.DataHash, WrappedKeyHash: sealed.WrappedKeyHash(), Records: 27}
	prov := common.HexToAddress("0xb0b")
	bl := &blobs{m: map[common.Hash][]byte{sealed.DataHash: sealed.Blob}}
	ch := terms{
		common.HexToHash("0xc1"): {IDAO: "demo", Submission: sub.Digest(1337), Floor: 10},
		common.HexToHash("0xc2"): {IDAO: "other", Submission: sub.Digest(1337), Floor: 10},
		common.HexToHash("0xc4"): {IDAO: "demo", Submission: sub.Digest(1337), Floor: 10, Allowed: []string{"count"}},
	}
	p := New(Config{ChainID: 1337, IDAO: "demo", Account: prov, Fee: big.NewInt(1)}, enc, nil, ch, nil).WithBlobs(bl)
	appKey, _ := crypto.GenerateKey()
	resign := func(j *work.QueryJob) {
		j.Signature, _ = j.Request.Sign(1337, appKey)
		j.Job = j.Request.Digest(1337)
	}
	f := &fixture{p: p, blobs: bl, prov: prov, resign: resign, app: appKey}
	job := func(sql string, edit func(*work.QueryJob)) *work.QueryJob {
		r := jobreq.Request{Class: common.HexToHash("0xc1"), Token: common.HexToHash("0x70"), Provider: prov, QueryHash: query.QueryHash(sql),
			Units: 1, MaxFee: big.NewInt(1), Nonce: uint64(time.Now().UnixNano()), Deadline: 2_000_000_000}
		sig, _ := r.Sign(1337, appKey)
		j := &work.QueryJob{Job: r.Digest(1337), ChainID: 1337, IDAO: "demo", App: crypto.PubkeyToAddress(appKey.PublicKey), Request: r,
			Signature: sig, Query: sql, Submission: sub, WrappedKey: sealed.WrappedKey}
		if edit != nil {
			edit(j)
		}
		return j
	}
	return f, job
}

// A job is answered in the enclave: the answer decrypts only with the
// app's key and matches the data; the dataset is fetched and opened once.
func TestRunAnswersAndCaches(t *testing.T) {
	t.Parallel()
	f, job := newFixture(t)
	ctx := context.Background()
	for range 2 {
		d, err := f.p.run(ctx, job("SELECT region, count(*), sum(temp) GROUP BY region", nil))
		if err != nil || d.msg.Answer == nil {
			t.Fatalf("run: %v %+v", err, d)
		}
		a := d.msg.Answer
		if a.ResultHash == (common.Hash{}) || len(a.Ciphertext) == 0 || a.Job != d.msg.Job {
			t.Fatalf("answer %+v", a)
		}
		other, _ := crypto.GenerateKey()
		if _, err := jobreq.Open(a.Ciphertext, other); err == nil {
			t.Fatal("another key decrypted the answer")
		}
	}
	if n := f.blobs.fetches.Load(); n != 1 {
		t.Fatalf("the dataset was fetched %d times, want once (the enclave's cache)", n)
	}
}

// Jobs the enclave must not answer fail with their reason, uncharged.
func TestRunRefuses(t *testing.T) {
	t.Parallel()
	f, job := newFixture(t)
	ctx := context.Background()
	rows := []struct {
		name, sql string
		edit      func(*work.QueryJob)
		code      codes.Code
		reason    string
	}{
		{"another provider's job", "SELECT count(*)", func(j *work.QueryJob) { j.Request.Provider = common.HexToAddress("0xe1e") }, codes.InvalidField, "names provider"},
		{"a job id that is not the request's", "SELECT count(*)", func(j *work.QueryJob) { j.Job = common.HexToHash("0x1") }, codes.InvalidField, "digest"},
		{"a query that is not the signed one", "SELECT count(*)", func(j *work.QueryJob) { j.Query = "SELECT sum(temp)" }, codes.InvalidField, "query hash"},
		{"a request signed by another app", "SELECT count(*)", func(j *work.QueryJob) { j.App = f.prov }, codes.InvalidField, "not signed"},
		{"a WHERE below the floor", "SELECT count(*) WHERE region = 3", nil, codes.JobQueryRefused, "min_group_size"},
		{"only groups below the floor", "SELECT region, count(*) WHERE region >= 3 GROUP BY region", nil, codes.JobQueryRefused, "min_group_size"},
		{"a bare column", "SELECT temp", nil, codes.Code(0), "bare"},
		// the coordinator names the dataset and the floor in the job's
		// message; the enclave believes the chain's terms instead
		{"a floor lowered by the coordinator", "SELECT count(*) WHERE region = 3", func(j *work.QueryJob) { j.MinGroupSize = 2 }, codes.JobQueryRefused, "min_group_size"},
		{"a dataset other than the class's", "SELECT count(*)", func(j *work.QueryJob) { j.Submission.Nonce = 99 }, codes.JobWrongClass, "anchored from"},
		{"a class of another iDAO", "SELECT count(*)", func(j *work.QueryJob) { j.Request.Class = common.HexToHash("0xc2"); f.resign(j) }, codes.JobWrongClass, "iDAO other"},
		{"an aggregate the class's policy does not allow", "SELECT region, sum(temp) GROUP BY region", func(j *work.QueryJob) { j.Request.Class = common.HexToHash("0xc4"); f.resign(j) }, codes.QueryNotAllowed, "allow"},
		{"a class the chain does not have", "SELECT count(*)", func(j *work.QueryJob) { j.Request.Class = common.HexToHash("0xc3"); f.resign(j) }, codes.JobWrongClass, "no DAT class"},
	}
	for _, row := range rows {
		d, err := f.p.run(ctx, job(row.sql, row.edit))
		if err != nil || d.msg.Answer != nil || !strings.Contains(d.msg.Failed, row.reason) || (row.code != 0 && d.msg.Code != row.code) {
			t.Fatalf("%s: %v %+v", row.name, err, d)
		}
	}
}

// A job with an answer key bound to it by its app is answered to that key
// (the account key cannot open it); without one, to the account key, as
// before. A binding the app did not make for this very request fails the
// job in the enclave before it runs: no dataset is opened, nothing is
// answered, so nothing is settled or charged.
func TestRunAnswerKey(t *testing.T) {
	t.Parallel()
	f, job := newFixture(t)
	ctx := context.Background()
	const sql = "SELECT region, count(*) GROUP BY region"

	plain, err := f.p.run(ctx, job(sql, nil))
	if err != nil || plain.msg.Answer == nil || plain.msg.Answer.AnswerKey != nil {
		t.Fatalf("no answer key: %v %+v", err, plain)
	}
	if pl, err := jobreq.Open(plain.msg.Answer.Ciphertext, f.app); err != nil || pl.ResultHash != plain.msg.Answer.ResultHash {
		t.Fatalf("without an answer key the account key must open the answer: %v", err)
	}

	priv, _ := crypto.GenerateKey()
	d, err := f.p.run(ctx, job(sql, func(j *work.QueryJob) { j.AnswerKey, _ = jobreq.NewAnswerKey(1337, j.Job, priv, f.app) }))
	if err != nil || d.msg.Answer == nil {
		t.Fatalf("a bound answer key: %v %+v", err, d)
	}
	a := d.msg.Answer
	if a.AnswerKey == nil || !a.AnswerKey.Holds(priv) {
		t.Fatalf("the answer does not name its answer key: %+v", a.AnswerKey)
	}
	if _, err := jobreq.Open(a.Ciphertext, f.app); !errors.Is(err, jobreq.ErrUndecryptable) {
		t.Fatalf("the account key opened an answer sealed to the answer key: %v", err)
	}
	pl, err := jobreq.Open(a.Ciphertext, priv)
	if err != nil || pl.Job != a.Job || pl.ResultHash != a.ResultHash || len(pl.Rows) != 2 {
		t.Fatalf("open with the answer key: %+v %v", pl, err)
	}
	if _, err := a.AnswerKey.Check(1337, a.Job, crypto.PubkeyToAddress(f.app.PublicKey)); err != nil {
		t.Fatalf("the answer's key binding does not check: %v", err)
	}

	// bad bindings, on a provider that has opened no dataset yet
	f, job = newFixture(t)
	other, _ := crypto.GenerateKey()
	rows := []struct {
		name string
		edit func(j *work.QueryJob)
		code codes.Code
	}{
		{"signed by another key", func(j *work.QueryJob) { j.AnswerKey, _ = jobreq.NewAnswerKey(1337, j.Job, priv, other) }, codes.AnswerKeyNotBound},
		{"signed for another request", func(j *work.QueryJob) {
			j.AnswerKey, _ = jobreq.NewAnswerKey(1337, common.HexToHash("0x1d"), priv, f.app)
		}, codes.AnswerKeyNotBound},
		{"another key under the app's signature", func(j *work.QueryJob) {
			k, _ := jobreq.NewAnswerKey(1337, j.Job, priv, f.app)
			j.AnswerKey = &jobreq.AnswerKey{Key: crypto.CompressPubkey(&other.PublicKey), Signature: k.Signature}
		}, codes.AnswerKeyNotBound},
		{"an uncompressed key", func(j *work.QueryJob) {
			k, _ := jobreq.NewAnswerKey(1337, j.Job, priv, f.app)
			k.Key = crypto.FromECDSAPub(&priv.PublicKey)
			j.AnswerKey = k
		}, codes.AnswerKeyInvalid},
	}
	for _, row := range rows {
		d, err := f.p.run(ctx, job("SELECT count(*) WHERE temp > 0", row.edit))
		if err != nil || d.msg.Answer != nil || d.msg.Code != row.code || !strings.Contains(d.msg.Failed, "answer key") {
			t.Fatalf("%s: %v %+v, want failed with %s", row.name, err, d, row.code)
		}
	}
	if n := f.blobs.fetches.Load(); n != 0 {
		t.Fatalf("jobs with a bad answer key fetched the dataset %d times: the binding is checked before any work", n)
	}
}
