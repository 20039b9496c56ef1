package proof

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// sampleProofs are a tx inclusion proof, a state proof and an absence
// proof under headers signed by seq.
func sampleProofs(t testing.TB) (seq common.Address, files [][]byte) {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("proof-fuzz")))
	var txs []*tx.Tx
	for i := range 5 {
		x, _ := tx.New(1, uint64(i), big.NewInt(100), &tx.Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(int64(i))})
		x.Sign(k)
		txs = append(txs, x)
	}
	hs := make([]common.Hash, len(txs))
	for i, x := range txs {
		hs[i] = x.Hash()
	}
	st := state.New()
	var ws []state.Write
	for i := range 20 {
		ws = append(ws, state.NewWrite(fmt.Sprint("k", i), []byte{byte(i), 1}))
	}
	st.Commit(st.Stage(ws, 1))
	h := &chain.Header{Height: 3, Proposer: crypto.PubkeyToAddress(k.PublicKey), TxRoot: chain.TxRoot(hs), StateRoot: st.Root(), TxCount: uint32(len(txs))}
	if err := h.Sign(k); err != nil {
		t.Fatal(err)
	}
	files = append(files, NewTx(&chain.Block{Header: h, Txs: txs}, 2).Marshal())
	for _, key := range []string{"k3", "nope"} {
		p, _ := st.Prove(key)
		files = append(files, NewState(h, p).Marshal())
	}
	for _, b := range files {
		if _, err := VerifyJSON(b, h.Proposer); err != nil {
			t.Fatalf("sample proof: %v", err)
		}
	}
	return h.Proposer, files
}

// FuzzVerifyJSON: a proof file of any bytes never panics the offline check
// (`vsc chain verify-proof`), and a file that verifies is canonical.
func FuzzVerifyJSON(f *testing.F) {
	seq, files := sampleProofs(f)
	for _, b := range files {
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"state","header":null}`))
	f.Add([]byte(`{"kind":"tx-inclusion","header":{},"index":4294967295,"tx_hash":"0x00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := VerifyJSON(b, seq)
		if err != nil {
			return
		}
		if err := p.Verify(seq); err != nil {
			t.Fatalf("verified once, not twice: %v", err)
		}
	})
}
