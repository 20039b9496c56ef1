package api

import (
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
)

// FuzzClientViews: the chain API's answers as clients decode them (the SDK
// in coordinator/client, `vsc`): any body never panics the decoding nor
// what clients do next with it (decode a tx's raw bytes, check a redeem
// receipt's signature).
func FuzzClientViews(f *testing.F) {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("api-fuzz")))
	x, _ := tx.New(1, 0, big.NewInt(100), &tx.Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(1)})
	x.Sign(k)
	h := &chain.Header{Height: 2, Proposer: crypto.PubkeyToAddress(k.PublicKey), TxCount: 1}
	h.Sign(k)
	rc := &chain.Receipt{TxHash: x.Hash(), Kind: tx.KindTransfer, Status: chain.StatusSuccess, Fee: big.NewInt(5), Events: []chain.Event{}}
	view := NewTx(x)
	view.Receipt = NewReceipt(rc)
	for _, v := range []any{view, NewBlock(&chain.Block{Header: h, Txs: []*tx.Tx{x}}, []*chain.Receipt{rc}), NewHeader(h),
		NewAnchor(&state.Anchor{Stake: big.NewInt(3)}), &RedeemReceipt{Units: 1, Signature: "0x00"}} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tv Tx
		if json.Unmarshal(b, &tv) == nil && len(tv.Raw) > 0 {
			if got, err := tx.Decode(tv.Raw); err == nil {
				_, _ = got.Sender()
				_, _ = got.DecodeBody()
			}
		}
		var bv Block
		if json.Unmarshal(b, &bv) == nil && bv.Header != nil {
			_ = bv.Header.Header.VerifySig()
		}
		var hv Header
		_ = json.Unmarshal(b, &hv)
		var av Anchor
		_ = json.Unmarshal(b, &av)
		var rv RedeemReceipt
		if json.Unmarshal(b, &rv) == nil {
			_ = rv.Verify()
		}
		var iv IDAO
		_ = json.Unmarshal(b, &iv)
	})
}
