package server

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/dat"
	"github.com/vsc-labs/vsc/dat/escrow"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/jobreq"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/tee/query"
)

// TestJobFactsRefusals: each chain fact a job is checked against before it
// is routed refuses with its own code.
func TestJobFactsRefusals(t *testing.T) {
	t.Parallel()
	app, prov := common.HexToAddress("0xa"), common.HexToAddress("0xb")
	class, token := common.HexToHash("0xc1"), common.HexToHash("0x70")
	facts := func() *coordinator.JobFacts {
		return &coordinator.JobFacts{Now: 1000,
			Token:    &dat.Token{ID: token, Class: class, Owner: app, Value: 5},
			Class:    &dat.Class{ID: class, IDAO: "demo"},
			IDAO:     &idao.IDAO{Name: "demo"},
			Provider: &escrow.Provider{Address: prov, IDAO: "demo", Fee: big.NewInt(2)},
			Attested: true,
			Escrow:   &escrow.Account{App: app, Provider: prov, Balance: big.NewInt(10), Pending: new(big.Int)}}
	}
	req := func() *jobreq.Request {
		return &jobreq.Request{Class: class, Token: token, Provider: prov, Units: 3, MaxFee: big.NewInt(4), Nonce: 1, Deadline: 1100}
	}
	if err := checkJobFacts(facts(), app, req()); err != nil {
		t.Fatalf("a good job: %v", err)
	}
	rows := []struct {
		name string
		edit func(f *coordinator.JobFacts, r *jobreq.Request)
		code codes.Code
	}{
		{"unknown token", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Token = nil }, codes.JobUnknownToken},
		{"token of another class", func(f *coordinator.JobFacts, r *jobreq.Request) { r.Class = common.HexToHash("0xc2") }, codes.JobWrongClass},
		{"a non-owner", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Token.Owner = prov }, codes.JobNotTokenOwner},
		{"too few units", func(f *coordinator.JobFacts, r *jobreq.Request) { r.Units = 6 }, codes.JobTooFewUnits},
		{"an expired token", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Token.Expires = 1000 }, codes.JobTokenExpired},
		{"no such provider", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Provider = nil }, codes.JobUnknownProvider},
		{"a provider of another iDAO", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Provider.IDAO = "other" }, codes.JobUnknownProvider},
		{"an unattested provider", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Attested = false }, codes.JobProviderNotAttested},
		{"max fee below the provider's", func(f *coordinator.JobFacts, r *jobreq.Request) { r.MaxFee = big.NewInt(1) }, codes.JobFeeBelowProvider},
		{"no sub-account", func(f *coordinator.JobFacts, r *jobreq.Request) { f.Escrow = nil }, codes.JobEscrowShort},
		{"a sub-account short of max fee", func(f *coordinator.JobFacts, r *jobreq.Request) { r.MaxFee = big.NewInt(11) }, codes.JobEscrowShort},
		{"a past deadline", func(f *coordinator.JobFacts, r *jobreq.Request) { r.Deadline = 1000 }, codes.JobDeadlinePassed},
		{"a deadline too far ahead", func(f *coordinator.JobFacts, r *jobreq.Request) { r.Deadline = 1001 + coordinator.MaxJobDeadline }, codes.InvalidField},
	}
	for _, row := range rows {
		f, r := facts(), req()
		row.edit(f, r)
		if err := checkJobFacts(f, app, r); codes.Of(err) != row.code {
			t.Errorf("%s: %v (%s), want %s", row.name, err, codes.Of(err), row.code)
		}
	}
}

// TestAnswersNeedTheirProvidersSubjectAndSignature: an answer published on
// another provider's subject, for another job, or without the enclave's
// signature over it is refused for good and never stored.
func TestAnswersNeedTheirProvidersSubjectAndSignature(t *testing.T) {
	t.Parallel()
	s := &Server{} // no store: a refused answer must not reach it
	prov := common.HexToAddress("0xb0b")
	job := common.HexToHash("0x10b")
	rows := []struct {
		name string
		from common.Address
		msg  work.QueryAnswer
	}{
		{"on another provider's subject", common.HexToAddress("0xe1e"), work.QueryAnswer{Job: job, Provider: prov, Failed: "x"}},
		{"for another job", prov, work.QueryAnswer{Job: job, Provider: prov, Answer: &jobreq.Answer{Job: common.HexToHash("0x2")}}},
		{"without the enclave's signature", prov, work.QueryAnswer{Job: job, Provider: prov, Answer: &jobreq.Answer{Job: job}}},
	}
	for _, row := range rows {
		b, _ := json.Marshal(row.msg)
		errs := s.applyAnswers(context.Background(), []common.Address{row.from}, [][]byte{b})
		if !errors.Is(errs[0], work.ErrPermanent) {
			t.Errorf("%s: %v, want a permanent refusal", row.name, errs[0])
		}
	}
	if errs := s.applyAnswers(context.Background(), []common.Address{prov}, [][]byte{[]byte("{")}); !errors.Is(errs[0], work.ErrPermanent) {
		t.Errorf("an undecodable answer: %v", errs[0])
	}
}

// TestJobAnswerKeyRefusals: an answer key the app did not bind to this
// very request, or one of the wrong form, is refused with its own code by
// the checks that need no state (before anything is stored or routed);
// a good one, and none at all, pass.
func TestJobAnswerKeyRefusals(t *testing.T) {
	t.Parallel()
	app, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	priv, _ := crypto.GenerateKey()
	const sql = "SELECT count(*)"
	r := jobreq.Request{Class: common.HexToHash("0xc1"), Token: common.HexToHash("0x70"), Provider: common.HexToAddress("0xb"),
		QueryHash: query.QueryHash(sql), Units: 1, MaxFee: big.NewInt(2), Nonce: 1, Deadline: 1100}
	sig, _ := r.Sign(1337, app)
	id := r.Digest(1337)
	body := func(k *jobreq.AnswerKey) *coordinator.JobRequestBody {
		return &coordinator.JobRequestBody{Request: r, Signature: sig, Query: sql, AnswerKey: k}
	}
	for name, k := range map[string]*jobreq.AnswerKey{"no answer key": nil, "a bound answer key": must(jobreq.NewAnswerKey(1337, id, priv, app))} {
		if got, err := checkJobFields(1337, body(k)); err != nil || got != crypto.PubkeyToAddress(app.PublicKey) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	good := must(jobreq.NewAnswerKey(1337, id, priv, app))
	rows := []struct {
		name string
		k    *jobreq.AnswerKey
		code codes.Code
	}{
		{"signed by another key", must(jobreq.NewAnswerKey(1337, id, priv, other)), codes.AnswerKeyNotBound},
		{"signed for another request", must(jobreq.NewAnswerKey(1337, common.HexToHash("0x1d"), priv, app)), codes.AnswerKeyNotBound},
		{"signed on another chain", must(jobreq.NewAnswerKey(1338, id, priv, app)), codes.AnswerKeyNotBound},
		{"an uncompressed key", &jobreq.AnswerKey{Key: crypto.FromECDSAPub(&priv.PublicKey), Signature: good.Signature}, codes.AnswerKeyInvalid},
		{"a key off the curve", &jobreq.AnswerKey{Key: append([]byte{3}, make([]byte, 32)...), Signature: good.Signature}, codes.AnswerKeyInvalid},
		{"no signature", &jobreq.AnswerKey{Key: good.Key}, codes.AnswerKeyInvalid},
		{"a signature that does not recover", &jobreq.AnswerKey{Key: good.Key, Signature: make([]byte, 65)}, codes.AnswerKeyInvalid},
	}
	for _, row := range rows {
		_, err := checkJobFields(1337, body(row.k))
		if codes.Of(err) != row.code || !strings.Contains(err.Error(), "answer") {
			t.Errorf("%s: %v (%s), want %s", row.name, err, codes.Of(err), row.code)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
