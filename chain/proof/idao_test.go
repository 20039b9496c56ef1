package proof_test

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/idao"
)

// FuzzIDAOProof: whatever a chain API answers for an iDAO's proven read,
// decoding and verifying it never panics, and what verifies is what the
// sequencer signed.
func FuzzIDAOProof(f *testing.F) {
	seq, _ := crypto.GenerateKey()
	d, err := idao.New("demo", crypto.PubkeyToAddress(seq.PublicKey), idao.Policy{Modes: []idao.Mode{"tee"}}, big.NewInt(idao.DefaultMinStake), 1, 0, idao.DefaultParams())
	if err != nil {
		f.Fatal(err)
	}
	pub := crypto.FromECDSAPub(&seq.PublicKey)
	st := state.New()
	st.Commit(st.Stage([]state.Write{
		state.NewWrite(state.IDAOKey("demo"), state.Encode(d)),
		state.NewWrite(state.EnclaveKey("demo", pub), state.Encode(&state.Enclave{IDAO: "demo", PubKey: pub, Report: []byte("{}"), Height: 1})),
	}, 1))
	h := &chain.Header{Height: 1, StateRoot: st.Root(), Proposer: crypto.PubkeyToAddress(seq.PublicKey)}
	if err := h.Sign(seq); err != nil {
		f.Fatal(err)
	}
	ip, _ := st.Prove(state.IDAOKey("demo"))
	ep, _ := st.Prove(state.EnclaveKey("demo", pub))
	absent, _ := st.Prove(state.EnclaveKey("demo", []byte{4, 1}))
	seed, _ := json.Marshal(&proof.IDAO{Header: h, IDAO: ip, Enclaves: []*state.Proof{ep, absent}})
	var p proof.IDAO
	if err := json.Unmarshal(seed, &p); err != nil {
		f.Fatal(err)
	}
	if v, err := p.Verify("demo", h.Proposer); err != nil || v.IDAO == nil || len(v.Enclaves) != 1 {
		f.Fatalf("seed does not verify: %v", err)
	}
	f.Add(seed)
	f.Add([]byte(`{"header":null,"idao":null,"enclaves":[null]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p proof.IDAO
		if json.Unmarshal(raw, &p) != nil {
			return
		}
		v, err := p.Verify("demo", h.Proposer)
		if err == nil && (v.Header.VerifySig() != nil || v.Header.Proposer != h.Proposer) {
			t.Fatal("a proof verified under a header the sequencer did not sign")
		}
	})
}
