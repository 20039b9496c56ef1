package chain

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/internal/codes"
)

func sampleBlock(f *testing.F) *Block {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("chain-fuzz")))
	var txs []*tx.Tx
	for i := range 3 {
		t, err := tx.New(1, uint64(i), big.NewInt(100), &tx.Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(int64(i))})
		if err != nil {
			f.Fatal(err)
		}
		if i == 1 {
			t.SignTyped(k) // a wallet's version-2 tx between version-1 txs
		} else {
			t.Sign(k)
		}
		txs = append(txs, t)
	}
	h := &Header{Height: 7, Time: 1, Proposer: crypto.PubkeyToAddress(k.PublicKey), TxCount: 3}
	h.Sign(k)
	return &Block{Header: h, Txs: txs}
}

// FuzzDecodeBlock: a block from a peer (a follower syncing, replay reading
// the store) never panics the decoder, and what decodes re-encodes to the
// same block.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(sampleBlock(f).Encode())
	f.Add((&Block{Header: &Header{}}).Encode())
	f.Add([]byte{0xc2, 0xc0, 0xc0})
	f.Add([]byte{0xc2, 0x80, 0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := DecodeBlock(b)
		if err != nil {
			return
		}
		again, err := DecodeBlock(blk.Encode())
		if err != nil {
			t.Fatalf("a decoded block does not decode again: %v", err)
		}
		if again.Header.Hash() != blk.Header.Hash() || len(again.Txs) != len(blk.Txs) {
			t.Fatal("block changed in a round trip")
		}
		for i := range blk.Txs {
			if again.Txs[i].Hash() != blk.Txs[i].Hash() {
				t.Fatalf("tx %d changed in a round trip", i)
			}
		}
		_ = blk.Header.VerifySig()
	})
}

// FuzzDecodeReceipts: a block's receipts list (RLP, as stored and served)
// never panics the decoder, and what decodes re-encodes stably.
func FuzzDecodeReceipts(f *testing.F) {
	rs := []*Receipt{{TxHash: common.HexToHash("0x1"), Kind: tx.KindTransfer, Status: StatusSuccess, Fee: big.NewInt(3),
		Events: []Event{{Type: "transfer", Attrs: []Attr{{Key: "amount", Value: "1"}}}}},
		{Index: 1, Kind: tx.KindAnchor, Fee: big.NewInt(0), Code: codes.NoQuorum, Events: []Event{}}}
	b, err := rlp.EncodeToBytes(rs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rs []*Receipt
		if rlp.DecodeBytes(b, &rs) != nil {
			return
		}
		for _, r := range rs {
			if r == nil {
				continue
			}
			enc := r.Encode()
			var r2 Receipt
			if err := rlp.DecodeBytes(enc, &r2); err != nil {
				t.Fatalf("a decoded receipt does not decode again: %v", err)
			}
			if !bytes.Equal(r2.Encode(), enc) {
				t.Fatal("receipt encoding is not stable")
			}
			_ = ReceiptHash(r)
		}
	})
}

// FuzzVerifyMerkleProof: an inclusion path of any shape never panics the
// check, and under the true item count only the true item at its index
// verifies.
func FuzzVerifyMerkleProof(f *testing.F) {
	items := []common.Hash{{1}, {2}, {3}, {4}, {5}}
	root := MerkleRoot(items)
	for i := range items {
		var sibs []byte
		for _, s := range MerkleProof(items, i) {
			sibs = append(sibs, s[:]...)
		}
		f.Add(items[i][:], i, len(items), sibs)
	}
	f.Fuzz(func(t *testing.T, item []byte, index, count int, sibs []byte) {
		var ss []common.Hash
		for i := 0; i+32 <= len(sibs) && len(ss) < 300; i += 32 {
			ss = append(ss, common.BytesToHash(sibs[i:i+32]))
		}
		it := common.BytesToHash(item)
		if VerifyMerkleProof(root, it, index, count, ss) != nil || count != len(items) {
			return // the count comes from the signed header, which fixes the shape
		}
		if index < 0 || index >= len(items) || items[index] != it {
			t.Fatalf("a false path verified: item %x at %d of %d", it, index, count)
		}
	})
}
