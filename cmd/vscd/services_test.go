package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/testenv"
	"github.com/vsc-labs/vsc/tee/query"
)

// servicesData is a dataset of three regions: 1 and 2 with 12 records
// each, 3 with 3 records (below the privacy floor of 10).
func servicesData() (string, map[int64][2]int64) {
	var b strings.Builder
	b.WriteString("region,temp,hum,wind\n")
	want := map[int64][2]int64{} // region → count, sum(temp)
	for i := range 27 {
		region := int64(1 + i%2)
		if i >= 24 {
			region = 3
		}
		temp := int64(100 + 7*i - 3*(i%5))
		fmt.Fprintf(&b, "%d,%d,%d,%d\n", region, temp, 50+i, 10+i%7)
		w := want[region]
		want[region] = [2]int64{w[0] + 1, w[1] + temp}
	}
	return b.String(), want
}

// servicesDevnet is a devnet with a minted class of servicesData, an app
// holding a token of 10 units, and 20 deposited with the provider.
type servicesDevnet struct {
	*testDevnet
	class, token common.Hash
	provider     common.Address
	want         map[int64][2]int64
}

func startServices(t *testing.T) *servicesDevnet {
	d := startDevnet(t, nil)
	ctx := context.Background()
	data, want := servicesData()
	v := d.wait(d.submit(data, idao.ModeTEE), 3*time.Minute)
	if v.Status != coordinator.Minted || v.DATID == nil {
		t.Fatalf("submission %s: %s (%s)", v.ID, v.Status, deref(v.Reason))
	}
	s := &servicesDevnet{testDevnet: d, class: common.HexToHash(*v.DATID), provider: keys.Address(d.key("provider")), want: want}
	ps, err := d.api.Providers(ctx, "demo")
	if err != nil || len(ps.Providers) != 1 || ps.Providers[0].Address != s.provider || !ps.Providers[0].Attested ||
		ps.Providers[0].Fee != devProviderFee.String() {
		t.Fatalf("providers %+v: %v", ps, err)
	}
	buy, err := d.api.BuyDAT(ctx, d.key("app"), s.class, 10)
	if err != nil {
		t.Fatal(err)
	}
	s.token = buy.Token
	if _, err := d.api.DepositEscrow(ctx, d.key("app"), s.provider, big.NewInt(20)); err != nil {
		t.Fatal(err)
	}
	return s
}

// The tour: a GROUP BY query answered, verified and checked against the
// plaintext; settlement consumes its units and pays the provider's fee out
// of the escrow, leaving the DAT's revenue alone; the rest is refunded
// after the lock.
func TestDevnetServicesTour(t *testing.T) {
	t.Parallel()
	s := startServices(t)
	ctx := context.Background()
	app := s.key("app")
	pool := classPool(t, s)
	r, err := s.api.Query(ctx, app, client.QueryOptions{Class: s.class, Token: s.token, Units: 3,
		Query: "SELECT region, count(*), sum(temp) GROUP BY region", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Verified || r.SuppressedGroups != 1 || len(r.Result.Rows) != 2 {
		t.Fatalf("answer %+v", r)
	}
	for _, row := range r.Result.Rows {
		region, _ := strconv.ParseInt(row[0], 10, 64)
		w := s.want[region]
		if row[1] != strconv.FormatInt(w[0], 10) || row[2] != strconv.FormatInt(w[1], 10) {
			t.Fatalf("region %d: %v, the plaintext gives count %d sum %d", region, row, w[0], w[1])
		}
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		v, err := s.api.Job(ctx, r.Job)
		if err != nil || v.Status != coordinator.JobSettled {
			return fmt.Errorf("job %v %v", v, err)
		}
		return nil
	})
	if tk, _ := s.api.DATToken(ctx, s.token); tk.Value != 7 {
		t.Fatalf("units left %d, want 7", tk.Value)
	}
	esc, _ := s.api.Escrow(ctx, keys.Address(app))
	if len(esc.Accounts) != 1 || esc.Accounts[0].Balance != "18" {
		t.Fatalf("escrow %+v, want 18 left after the fee of 2", esc)
	}
	if p := classPool(t, s); p != pool {
		t.Fatalf("the class's revenue pool moved with the fee: %s → %s", pool, p)
	}
	if _, err := s.api.RefundEscrow(ctx, app, s.provider, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.api.WithdrawEscrow(ctx, app, s.provider); client.CodeOf(err) != codes.EscrowLocked {
		t.Fatalf("withdraw in the lock: %v", err)
	}
	var got *client.EscrowResult
	testenv.Eventually(t, 3*devRefundLock*time.Second, func() error {
		var err error
		got, err = s.api.WithdrawEscrow(ctx, app, s.provider)
		return err
	})
	esc, _ = s.api.Escrow(ctx, keys.Address(app))
	if got.Amount != "18" || esc.Accounts[0].Balance != "0" || esc.Accounts[0].PendingRefund != "0" {
		t.Fatalf("withdrew %s, escrow now %+v: want 18 back and nothing left", got.Amount, esc.Accounts[0])
	}
}

func classPool(t *testing.T, s *servicesDevnet) string {
	c, err := s.api.DATClass(context.Background(), s.class)
	if err != nil {
		t.Fatal(err)
	}
	return c.Revenue.Pool
}

// job signs a request of key for s's token with edits applied.
func (s *servicesDevnet) job(keyName, sql string, edit func(r *jobreq.Request)) *coordinator.JobRequestBody {
	r := jobreq.Request{Class: s.class, Token: s.token, Provider: s.provider, QueryHash: query.QueryHash(sql), Units: 1,
		MaxFee: new(big.Int).Set(devProviderFee), Nonce: uint64(time.Now().UnixNano()), Deadline: uint64(time.Now().Add(time.Minute).Unix())}
	if edit != nil {
		edit(&r)
	}
	sig, err := r.Sign(s.chain.ChainID(), s.key(keyName))
	if err != nil {
		s.t.Fatal(err)
	}
	return &coordinator.JobRequestBody{Request: r, Signature: sig, Query: sql}
}

const okQuery = "SELECT region, count(*) GROUP BY region"

// Every refusal of the tour's journey: the coordinator refuses before
// routing, or the enclave refuses a query that would reveal records; in
// every case nothing is charged (units, escrow and nonce unchanged).
func TestDevnetServicesRefusals(t *testing.T) {
	t.Parallel()
	s := startServices(t)
	ctx := context.Background()
	first := s.job("app", okQuery, nil)
	if _, err := s.api.SubmitJob(ctx, first); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		name string
		body *coordinator.JobRequestBody
		code codes.Code
	}{
		{"a non-owner of the token", s.job("contributor", okQuery, nil), codes.JobNotTokenOwner},
		{"too few units", s.job("app", okQuery, func(r *jobreq.Request) { r.Units = 11 }), codes.JobTooFewUnits},
		{"max fee below the provider's", s.job("app", okQuery, func(r *jobreq.Request) { r.MaxFee = big.NewInt(1) }), codes.JobFeeBelowProvider},
		{"max fee above the escrow", s.job("app", okQuery, func(r *jobreq.Request) { r.MaxFee = big.NewInt(21) }), codes.JobEscrowShort},
		{"a replayed nonce", s.job("app", okQuery, func(r *jobreq.Request) { r.Nonce, r.Units = first.Request.Nonce, 2 }), codes.JobNonceUsed},
		{"a past deadline", s.job("app", okQuery, func(r *jobreq.Request) { r.Deadline = uint64(time.Now().Unix()) - 1 }), codes.JobDeadlinePassed},
		{"a bare column", s.job("app", "SELECT temp", nil), codes.Code(0)},
		{"a query text that is not the signed one", func() *coordinator.JobRequestBody {
			b := s.job("app", okQuery, nil)
			b.Query = "SELECT count(*)"
			return b
		}(), codes.JobQueryHash},
	}
	for _, row := range rows {
		_, err := s.api.SubmitJob(ctx, row.body)
		if err == nil || (row.code != 0 && client.CodeOf(err) != row.code) {
			t.Fatalf("%s: %v (code %s), want %s", row.name, err, client.CodeOf(err), row.code)
		}
		if row.code == 0 && !strings.Contains(err.Error(), "at ") {
			t.Fatalf("%s: the error names no position: %v", row.name, err)
		}
	}
	// queries that would reveal a single record: the enclave answers nothing
	for _, sql := range []string{"SELECT count(*) WHERE region = 3", "SELECT region, count(*) WHERE region = 3 GROUP BY region"} {
		v, err := s.api.SubmitJob(ctx, s.job("app", sql, nil))
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		testenv.Eventually(t, 20*time.Second, func() error {
			got, err := s.api.Job(ctx, v.Job)
			if err != nil || got.Status != coordinator.JobFailed || !strings.Contains(deref(got.Reason), "min_group_size") {
				return fmt.Errorf("%s: %+v %v", sql, got, err)
			}
			return nil
		})
	}
	// only the first job settles: 1 unit and one fee
	testenv.Eventually(t, 20*time.Second, func() error {
		v, err := s.api.Job(ctx, first.Request.Digest(s.chain.ChainID()))
		if err != nil || v.Status != coordinator.JobSettled {
			return errors.New("first job not settled")
		}
		return nil
	})
	if _, err := s.api.SubmitJob(ctx, s.job("app", okQuery, func(r *jobreq.Request) { r.Nonce = first.Request.Nonce - 1 })); client.CodeOf(err) != codes.JobNonceUsed {
		t.Fatalf("a nonce not above the last settled: %v", err)
	}
	// the settled job sent again (a client's retry) is answered as stored,
	// not refused for its used nonce, and charged nothing more
	if v, err := s.api.SubmitJob(ctx, first); err != nil || v.Status != coordinator.JobSettled {
		t.Fatalf("the settled job sent again: %+v %v", v, err)
	}
	if tk, _ := s.api.DATToken(ctx, s.token); tk.Value != 9 {
		t.Fatalf("units %d, want 9: a refused job was charged", tk.Value)
	}
	if esc, _ := s.api.Escrow(ctx, keys.Address(s.key("app"))); esc.Accounts[0].Balance != "18" {
		t.Fatalf("escrow %s, want 18: a refused job was charged", esc.Accounts[0].Balance)
	}
}

// TestServicesCrash kills the devnet process (and with it the provider)
// with SIGKILL while jobs are in flight, restarts it on the same data, and
// checks that every job is answered and settled exactly once: each spends
// its units and its fee once, however often it was run.
func TestServicesCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs and kills devnet processes")
	}
	dn := startDevnetProcess(t)
	defer dn.kill()
	ctx := context.Background()
	info, err := dn.api.ChainInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dn.api.Trust = client.Trust{Sequencer: info.Sequencer, AllowSimulation: true}
	key := func(n string) *ecdsa.PrivateKey {
		k, err := keys.Load(filepath.Join(dn.data, "keys", n+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	data, _ := servicesData()
	var p *client.Prepared
	testenv.Eventually(t, time.Minute, func() error { // the enclave key registers just after the API is up
		var err error
		p, err = dn.api.Prepare(ctx, []byte(data), client.PrepareOptions{IDAO: "demo", Mode: idao.ModeTEE, Contributor: keys.Address(key("contributor"))})
		return err
	})
	sig, _ := p.Sign(key("contributor"))
	v, _, err := dn.api.Submit(ctx, p.Request(sig), p.Blob())
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if v, err = dn.api.Wait(wctx, v.ID, "", nil); err != nil || v.DATID == nil {
		t.Fatalf("submission: %v %+v", err, v)
	}
	s := &servicesDevnet{class: common.HexToHash(*v.DATID), provider: keys.Address(key("provider"))}
	app := key("app")
	buy, err := dn.api.BuyDAT(ctx, app, s.class, 10)
	if err != nil {
		t.Fatal(err)
	}
	s.token = buy.Token
	if _, err := dn.api.DepositEscrow(ctx, app, s.provider, big.NewInt(20)); err != nil {
		t.Fatal(err)
	}
	const jobs = 4
	var ids []common.Hash
	for i := range jobs {
		r := jobreq.Request{Class: s.class, Token: s.token, Provider: s.provider, QueryHash: query.QueryHash(okQuery), Units: 1,
			MaxFee: new(big.Int).Set(devProviderFee), Nonce: uint64(i + 1), Deadline: uint64(time.Now().Add(5 * time.Minute).Unix())}
		sig, _ := r.Sign(info.ChainID, app)
		jv, err := dn.api.SubmitJob(ctx, &coordinator.JobRequestBody{Request: r, Signature: sig, Query: okQuery})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, jv.Job)
	}
	dn.kill() // mid-job: answered, settling or not yet run
	dn.start()
	defer func() {
		if t.Failed() {
			t.Logf("devnet logs:\n%s", dn.logs.String())
		}
	}()
	testenv.Eventually(t, 2*time.Minute, func() error {
		for _, id := range ids {
			v, err := dn.api.Job(ctx, id)
			if err != nil || v.Status != coordinator.JobSettled {
				return fmt.Errorf("job %s: %v %v", id.Hex(), v, err)
			}
		}
		return nil
	})
	if tk, _ := dn.api.DATToken(ctx, s.token); tk.Value != 10-jobs {
		t.Fatalf("units left %d, want %d: a job settled twice or not at all", tk.Value, 10-jobs)
	}
	if esc, _ := dn.api.Escrow(ctx, keys.Address(app)); esc.Accounts[0].Balance != strconv.Itoa(20-jobs*2) {
		t.Fatalf("escrow %s, want %d", esc.Accounts[0].Balance, 20-jobs*2)
	}
}

// signWithLibraries signs typed data td with key by ethers v6 and by
// MetaMask's eth-sig-util (node, web/test/typeddata.mjs).
func signWithLibraries(t *testing.T, web string, td any, key *ecdsa.PrivateKey) map[string][]byte {
	t.Helper()
	b, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "typed.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("node", filepath.Join(web, "typeddata.mjs"), file, hexutil.Encode(crypto.FromECDSA(key))).Output()
	if err != nil {
		t.Fatalf("node typeddata.mjs: %v", err)
	}
	var sigs struct {
		Address    string `json:"address"`
		Ethers     string `json:"ethers"`
		EthSigUtil string `json:"eth_sig_util"`
	}
	if err := json.Unmarshal(raw, &sigs); err != nil || !strings.EqualFold(sigs.Address, keys.Address(key).Hex()) {
		t.Fatalf("node printed %s (%v)", raw, err)
	}
	out := map[string][]byte{}
	for name, sig := range map[string]string{"ethers": sigs.Ethers, "eth-sig-util": sigs.EthSigUtil} {
		if out[name], err = hexutil.Decode(sig); err != nil {
			t.Fatalf("%s signature %q: %v", name, sig, err)
		}
	}
	return out
}

// The AnswerKey typed data (jobreq AnswerKeyTypedData, the Web UI's second
// signature) is signed by ethers v6 and by eth-sig-util: each signature
// binds the answer key for jobreq, POST /v1/jobs accepts the request with
// it, and the provider's enclave, checking the binding on its own,
// encrypts the answer to the answer key, which decrypts it (the account
// key does not) to the plaintext's aggregates.
func TestAnswerKeySignedByWalletLibraries(t *testing.T) {
	web := testenv.WebTest(t)
	t.Parallel()
	s := startServices(t)
	ctx := context.Background()
	app, chainID := s.key("app"), s.chain.ChainID()
	body := s.job("app", okQuery, nil)
	id := body.Request.Digest(chainID)
	priv, _ := crypto.GenerateKey()
	key := crypto.CompressPubkey(&priv.PublicKey)
	// both libraries sign deterministically (RFC 6979), so their signatures
	// are one and the same, and one POST carries both: a second POST of the
	// same job could meet it settled already, its nonce used
	sigs := signWithLibraries(t, web, jobreq.AnswerKeyTypedData(chainID, id, key), app)
	for name, sig := range sigs {
		ak := &jobreq.AnswerKey{Key: key, Signature: sig}
		if _, err := ak.Check(chainID, id, keys.Address(app)); err != nil {
			t.Fatalf("%s signature refused by jobreq: %v", name, err)
		}
	}
	if !bytes.Equal(sigs["ethers"], sigs["eth-sig-util"]) {
		t.Fatalf("ethers and eth-sig-util signed the AnswerKey differently: %x, %x", sigs["ethers"], sigs["eth-sig-util"])
	}
	body.AnswerKey = &jobreq.AnswerKey{Key: key, Signature: sigs["ethers"]}
	if v, err := s.api.SubmitJob(ctx, body); err != nil || v.Job != id {
		t.Fatalf("POST /v1/jobs with the wallet-signed answer key: %v", err)
	}
	var v *coordinator.JobView
	testenv.Eventually(t, 30*time.Second, func() error {
		var err error
		if v, err = s.api.Job(ctx, id); err == nil && v.Answer == nil {
			err = fmt.Errorf("job %s: %s, no answer", id.Hex(), v.Status)
		}
		return err
	})
	saved, err := s.api.VerifyEnvelope(ctx, v.Answer, keys.Address(app))
	if err != nil {
		t.Fatal(err)
	}
	// the file the page offers, as `vsc job verify FILE [--key]` reads it:
	// it verifies without a key, names the answer key, and only the answer
	// key's private half opens it
	if pl, err := client.VerifySaved(saved, nil); err != nil || pl != nil || saved.Answer.AnswerKey == nil {
		t.Fatalf("vsc job verify FILE: %v", err)
	}
	if _, err := client.VerifySaved(saved, app); client.CodeOf(err) != codes.AnswerKeyNotHeld {
		t.Fatalf("vsc job verify FILE --key (the account key): %v, want %s", err, codes.AnswerKeyNotHeld)
	}
	if pl, err := client.VerifySaved(saved, priv); err != nil || len(pl.Rows) != 2 {
		t.Fatalf("vsc job verify with the answer key: %v", err)
	}
	if _, err := client.OpenAnswer(v.Answer, app); client.CodeOf(err) != codes.AnswerKeyNotHeld {
		t.Fatalf("the account key on an answer sealed to the answer key: %v, want %s", err, codes.AnswerKeyNotHeld)
	}
	if _, err := jobreq.Open(v.Answer.Ciphertext, app); err == nil {
		t.Fatal("the account key decrypts an answer sealed to the answer key")
	}
	pl, err := client.OpenAnswer(v.Answer, priv)
	if err != nil {
		t.Fatal(err)
	}
	checkRegionCounts(t, s, pl.Rows)
}

// checkRegionCounts checks okQuery's rows against the plaintext.
func checkRegionCounts(t *testing.T, s *servicesDevnet, rows [][]string) {
	t.Helper()
	if len(rows) != 2 {
		t.Fatalf("rows %v, want regions 1 and 2", rows)
	}
	for _, row := range rows {
		region, _ := strconv.ParseInt(row[0], 10, 64)
		if row[1] != strconv.FormatInt(s.want[region][0], 10) {
			t.Fatalf("region %d: %v, the plaintext gives count %d", region, row, s.want[region][0])
		}
	}
}

// An answer key is believed only when the app bound it to this very
// request: one signed by another key, or for another request, is refused
// by POST /v1/jobs with answer_key_not_bound and nothing is stored, routed
// or charged; a good one gets the answer sealed to it; without one the
// answer is sealed to the account key, as before.
func TestDevnetAnswerKeyBinding(t *testing.T) {
	t.Parallel()
	s := startServices(t)
	ctx := context.Background()
	app, chainID := s.key("app"), s.chain.ChainID()
	priv, _ := crypto.GenerateKey()
	bind := func(b *coordinator.JobRequestBody, signer *ecdsa.PrivateKey, request common.Hash) *coordinator.JobRequestBody {
		b.AnswerKey, _ = jobreq.NewAnswerKey(chainID, request, priv, signer)
		return b
	}
	bad := []struct {
		name string
		body *coordinator.JobRequestBody
		code codes.Code
	}{
		{"signed by another key", func() *coordinator.JobRequestBody {
			b := s.job("app", okQuery, nil)
			return bind(b, s.key("contributor"), b.Request.Digest(chainID))
		}(), codes.AnswerKeyNotBound},
		{"signed for another request", func() *coordinator.JobRequestBody {
			other := s.job("app", okQuery, func(r *jobreq.Request) { r.Nonce++ })
			return bind(s.job("app", okQuery, nil), app, other.Request.Digest(chainID))
		}(), codes.AnswerKeyNotBound},
		{"an uncompressed key", func() *coordinator.JobRequestBody {
			b := bind(s.job("app", okQuery, nil), app, common.Hash{})
			b.AnswerKey.Key = crypto.FromECDSAPub(&priv.PublicKey)
			return b
		}(), codes.AnswerKeyInvalid},
	}
	for _, row := range bad {
		_, err := s.api.SubmitJob(ctx, row.body)
		if client.CodeOf(err) != row.code {
			t.Fatalf("%s: %v (code %s), want %s", row.name, err, client.CodeOf(err), row.code)
		}
		if _, err := s.api.Job(ctx, row.body.Request.Digest(chainID)); client.CodeOf(err) != codes.JobNotFound {
			t.Fatalf("%s: the refused job is stored: %v", row.name, err)
		}
	}

	good := s.job("app", okQuery, nil)
	good = bind(good, app, good.Request.Digest(chainID))
	plain := s.job("app", okQuery, func(r *jobreq.Request) { r.Nonce = good.Request.Nonce + 1 })
	for _, b := range []*coordinator.JobRequestBody{good, plain} {
		if _, err := s.api.SubmitJob(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	answered := func(b *coordinator.JobRequestBody) *coordinator.JobView {
		var v *coordinator.JobView
		testenv.Eventually(t, 30*time.Second, func() error {
			var err error
			v, err = s.api.Job(ctx, b.Request.Digest(chainID))
			if err == nil && v.Status != coordinator.JobSettled {
				err = fmt.Errorf("job %s: %s", v.Job.Hex(), v.Status)
			}
			return err
		})
		return v
	}
	vg, vp := answered(good), answered(plain)
	pl, err := client.OpenAnswer(vg.Answer, priv)
	if err != nil || vg.Answer.AnswerKey == nil {
		t.Fatalf("the answer to the job with an answer key: %v", err)
	}
	checkRegionCounts(t, s, pl.Rows)
	if vp.Answer.AnswerKey != nil {
		t.Fatal("an answer key on the job without one")
	}
	if pl, err = client.OpenAnswer(vp.Answer, app); err != nil {
		t.Fatalf("without an answer key the account key must open the answer: %v", err)
	}
	checkRegionCounts(t, s, pl.Rows)
	// only the two good jobs were charged: 2 units and two fees of 2
	if tk, _ := s.api.DATToken(ctx, s.token); tk.Value != 8 {
		t.Fatalf("units %d, want 8: a refused job was charged", tk.Value)
	}
	if esc, _ := s.api.Escrow(ctx, keys.Address(app)); esc.Accounts[0].Balance != "16" {
		t.Fatalf("escrow %s, want 16: a refused job was charged", esc.Accounts[0].Balance)
	}
}

// The JobRequest typed data (jobreq TypedData, what the Web UI hands the
// wallet) is signed by two independent wallet implementations (ethers v6
// and MetaMask's eth-sig-util, run by node): each signature recovers to
// the app and POST /v1/jobs accepts the request with it.
func TestJobRequestSignedByWalletLibraries(t *testing.T) {
	web := testenv.WebTest(t)
	t.Parallel()
	s := startServices(t)
	ctx := context.Background()
	app := s.key("app")
	body := s.job("app", okQuery, nil)
	td, err := json.Marshal(body.Request.TypedData(s.chain.ChainID()))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "job.json")
	if err := os.WriteFile(file, td, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("node", filepath.Join(web, "typeddata.mjs"), file, hexutil.Encode(crypto.FromECDSA(app))).Output()
	if err != nil {
		t.Fatalf("node typeddata.mjs: %v", err)
	}
	var sigs struct {
		Address    string `json:"address"`
		Ethers     string `json:"ethers"`
		EthSigUtil string `json:"eth_sig_util"`
	}
	if err := json.Unmarshal(raw, &sigs); err != nil || !strings.EqualFold(sigs.Address, keys.Address(app).Hex()) {
		t.Fatalf("node printed %s (%v)", raw, err)
	}
	id := body.Request.Digest(s.chain.ChainID())
	moves := jobMoves(t, "http://"+s.coord.Addr()+"/v1/events?topic=jobs", id)
	for name, sig := range map[string]string{"ethers": sigs.Ethers, "eth-sig-util": sigs.EthSigUtil} {
		b, err := hexutil.Decode(sig)
		if err != nil {
			t.Fatalf("%s signature %q: %v", name, sig, err)
		}
		if err := body.Request.Verify(s.chain.ChainID(), keys.Address(app), b); err != nil {
			t.Fatalf("%s signature refused by jobreq: %v", name, err)
		}
		v, err := s.api.SubmitJob(ctx, &coordinator.JobRequestBody{Request: body.Request, Signature: b, Query: okQuery})
		if err != nil {
			t.Fatalf("POST /v1/jobs with the %s signature: %v", name, err)
		}
		if v.Job != id || v.App != keys.Address(app) {
			t.Fatalf("the %s-signed job is %s of %s, want %s of the app", name, v.Job.Hex(), v.App.Hex(), id.Hex())
		}
	}
	// the class's usage lists the job once (GET /v1/jobs?class=), and a
	// page larger than the limit is refused
	base := "http://" + s.coord.Addr() + "/v1/jobs?class=" + s.class.Hex()
	var list coordinator.JobList
	if err := getJSON(base, &list); err != nil || len(list.Jobs) != 1 || list.Jobs[0].Job != id || list.Jobs[0].Units != 1 {
		t.Fatalf("GET /v1/jobs?class=: %+v %v, want the one job", list, err)
	}
	if err := getJSON(base+"&limit=101", &list); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a page of 101 jobs: %v, want 400", err)
	}
	// the coordinator publishes the job's moves on the "jobs" topic
	for _, want := range []string{coordinator.JobRunning, coordinator.JobDelivered} {
		select {
		case got := <-moves:
			if got != want {
				t.Fatalf("jobs event %q, want %q", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no %q event for job %s on the jobs topic", want, id.Hex())
		}
	}
}

// jobMoves follows GET /v1/events at url and sends each status of job id
// published on the "jobs" topic.
func jobMoves(t *testing.T, url string, id common.Hash) <-chan string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", url, resp, err)
	}
	out := make(chan string, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			var e struct {
				Job    common.Hash `json:"job"`
				Status string      `json:"status"`
			}
			if ok && json.Unmarshal([]byte(data), &e) == nil && e.Job == id {
				out <- e.Status
			}
		}
	}()
	return out
}

// getJSON GETs url into out; a status other than 200 is an error naming it.
func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
