package node_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/tee"
)

// The proven read of an iDAO's enclave keys: the iDAO and each key's state
// proof under one signed header, a key's absence proven too, and every
// proof refused once anything in it is not what the chain signed.
func TestIDAOEnclaveProofs(t *testing.T) {
	t.Parallel()
	h, enc, get := enclavesOnChain(t)
	first, second, elsewhere, never := enc[0], enc[1], enc[2], enc[3]
	seq := h.n.Sequencer()

	p, _ := get("/v1/chain/idaos/demo/enclaves")
	v, err := p.Verify("demo", seq)
	if err != nil {
		t.Fatal(err)
	}
	if v.IDAO == nil || v.IDAO.Name != "demo" || len(v.Enclaves) != 2 || v.Header.Hash() != h.n.Head().Hash() {
		t.Fatalf("proven iDAO %+v with %d enclaves", v.IDAO, len(v.Enclaves))
	}
	if string(v.Enclaves[0].PubKey) != string(second.PublicKeyBytes()) || v.Enclave(elsewhere.PublicKeyBytes()) != nil {
		t.Fatal("want demo's two keys, newest first, and not other's")
	}
	p, _ = get("/v1/chain/idaos/demo/enclaves/" + hexutil.Encode(first.PublicKeyBytes()))
	if v, err := p.Verify("demo", seq); err != nil || v.Enclave(first.PublicKeyBytes()) == nil {
		t.Fatalf("one registered key: %v", err)
	}
	p, _ = get("/v1/chain/idaos/demo/enclaves/" + hexutil.Encode(never.PublicKeyBytes()))
	if v, err := p.Verify("demo", seq); err != nil || len(p.Enclaves) != 1 || len(v.Enclaves) != 0 {
		t.Fatalf("a key never registered is proven absent: %v, %d proofs", err, len(p.Enclaves))
	}
	p, _ = get("/v1/chain/idaos/nope/enclaves")
	if v, err := p.Verify("nope", seq); err != nil || v.IDAO != nil {
		t.Fatalf("an unknown iDAO is proven absent: %v", err)
	}
	if _, code := get("/v1/chain/idaos/demo/enclaves/0x1234"); code != http.StatusBadRequest {
		t.Fatalf("a malformed public key: HTTP %d", code)
	}

	tamperedIDAOProofsFail(t, get, seq)
	if ok, err := h.n.EnclaveRegistered("demo", first.PublicKeyBytes()); !ok || err != nil {
		t.Fatal("EnclaveRegistered: a registered key")
	}
	if ok, _ := h.n.EnclaveRegistered("other", first.PublicKeyBytes()); ok {
		t.Fatal("EnclaveRegistered: demo's key is not other's")
	}
}

// enclavesOnChain is a chain with iDAOs demo and other and four sim
// enclaves: the first two registered for demo, the third for other, the
// last never; get reads a proven iDAO from the chain's HTTP API.
func enclavesOnChain(t *testing.T) (*harness, []*tee.Enclave, func(path string) (*proof.IDAO, int)) {
	h := &harness{t: t, dir: t.TempDir(), clk: &clock{}, enclave: tee.KeyRegistry{}}
	h.clk.ms.Store(1_700_000_100_000)
	h.open()
	root, err := tee.NewRandomSimRoot()
	if err != nil {
		t.Fatal(err)
	}
	sim := func() *tee.Enclave {
		e, err := tee.Open(tee.NewSim(tee.DefaultSimConfig(root)), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	policy, _ := json.Marshal(tee.SimPolicy(root.Address()))
	for _, name := range []string{"demo", "other"} {
		h.ok(1, &tx.IDAOCreate{Name: name, Policy: idao.Policy{Modes: []idao.Mode{"tee"}, TEEPolicy: policy, UnstakeDelay: 3600}})
	}
	enc := []*tee.Enclave{sim(), sim(), sim(), sim()}
	for _, r := range []struct {
		name string
		enc  *tee.Enclave
	}{{"demo", enc[0]}, {"demo", enc[1]}, {"other", enc[2]}} {
		h.ok(2, &tx.EnclaveRegister{IDAO: r.name, PubKey: r.enc.PublicKeyBytes(), Report: tee.EncodeAttestation(r.enc.KeyAttestation())})
	}
	srv := httptest.NewServer(h.n.Handler())
	t.Cleanup(srv.Close)
	get := func(path string) (*proof.IDAO, int) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p proof.IDAO
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
		}
		return &p, resp.StatusCode
	}
	return h, enc, get
}

// tamperedIDAOProofsFail: a proven iDAO is refused once anything in it is
// not what the chain signed.
func tamperedIDAOProofsFail(t *testing.T, get func(path string) (*proof.IDAO, int), seq common.Address) {
	fresh := func() *proof.IDAO { p, _ := get("/v1/chain/idaos/demo/enclaves"); return p }
	for _, tc := range []struct {
		name string
		edit func(p *proof.IDAO) (string, common.Address)
		want error
	}{
		{"another sequencer", func(p *proof.IDAO) (string, common.Address) { return "demo", common.Address{1} }, proof.ErrWrongSequencer},
		{"no sequencer", func(p *proof.IDAO) (string, common.Address) { return "demo", common.Address{} }, proof.ErrInvalid},
		{"asked for another iDAO", func(p *proof.IDAO) (string, common.Address) { return "other", seq }, proof.ErrInvalid},
		{"header edited", func(p *proof.IDAO) (string, common.Address) { p.Header.Height++; return "demo", seq }, proof.ErrInvalid},
		{"iDAO value edited", func(p *proof.IDAO) (string, common.Address) { p.IDAO.Value[3] ^= 1; return "demo", seq }, proof.ErrInvalid},
		{"enclave value edited", func(p *proof.IDAO) (string, common.Address) { p.Enclaves[1].Value[5] ^= 1; return "demo", seq }, proof.ErrInvalid},
		{"another iDAO's enclave slipped in", func(p *proof.IDAO) (string, common.Address) {
			o, _ := get("/v1/chain/idaos/other/enclaves")
			p.Enclaves = append(p.Enclaves, o.Enclaves...)
			return "demo", seq
		}, proof.ErrInvalid},
		{"too many proofs", func(p *proof.IDAO) (string, common.Address) {
			for len(p.Enclaves) <= proof.MaxEnclaveProofs {
				p.Enclaves = append(p.Enclaves, p.Enclaves[0])
			}
			return "demo", seq
		}, proof.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fresh()
			name, s := tc.edit(p)
			if _, err := p.Verify(name, s); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
