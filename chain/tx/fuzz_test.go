package tx

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/submission"
)

// sampleBodies is one body of every kind, for the fuzzers' seeds.
func sampleBodies() []Body {
	sub := submission.Submission{IDAO: "x", Mode: "tee", Class: "dataset", Records: 3, Nonce: 1}
	vote := AnchorVote{Member: common.HexToAddress("0x3"), Sig: make([]byte, 65),
		Batch: &VoteBatchProof{Root: common.HexToHash("0x5"), Size: 2, Index: 1, Path: []common.Hash{common.HexToHash("0x6")}}}
	anchor := Anchor{IDAO: "x", Submission: common.HexToHash("0x7"), Signed: sub, Signature: make([]byte, 65), StakeHeight: 4, Votes: []AnchorVote{vote}}
	return []Body{
		&Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(5)},
		&IDAOCreate{Name: "x", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, Price: big.NewInt(1), TEEPolicy: []byte(`{"a":1}`)}, Stake: big.NewInt(3)},
		&IDAOJoin{Name: "x", Amount: big.NewInt(1)}, &IDAOLeave{Name: "x", Amount: big.NewInt(1)}, &IDAOWithdraw{Name: "x"},
		&IDAOSetPolicy{Name: "x", Policy: idao.Policy{Modes: []idao.Mode{"zk"}, Price: big.NewInt(0)}},
		&EnclaveRegister{IDAO: "x", PubKey: []byte{4, 5}, Report: []byte{6}}, &VKRegister{IDAO: "x", Circuit: "c", VKHash: common.HexToHash("0x2")},
		&anchor,
		&DATMint{Digest: common.HexToHash("0x4"), IDAO: "x", Price: big.NewInt(2)}, &DATBuy{Units: 3}, &DATRedeem{Units: 1},
		&DATTransfer{Value: 1}, &DATClaim{}, &BondLock{Amount: big.NewInt(1)}, &BondRelease{}, &BondSlash{WinnerAmount: big.NewInt(1)},
		&SlashEquivocation{IDAO: "x", First: EquivocationVote{Sig: make([]byte, 65), Batch: vote.Batch}},
		&OptClaim{Submission: sub, Signature: make([]byte, 65), Fields: []string{"a"}, Bond: big.NewInt(1)},
		&OptChallenge{Bond: big.NewInt(1)}, &OptMove{}, &OptStep{Record: []uint64{1, 2}}, &OptTimeout{}, &OptCancel{}, &OptFinalize{},
		&AnchorBatch{Items: []AnchorItem{{Anchor: anchor, Mint: DATMint{Digest: common.HexToHash("0x4"), IDAO: "x", Price: big.NewInt(0)}}}},
	}
}

// FuzzDecodeBody: every kind's body decoder, on any bytes, never panics,
// and what it accepts encodes back to a body that decodes the same.
func FuzzDecodeBody(f *testing.F) {
	for _, b := range sampleBodies() {
		enc, err := rlp.EncodeToBytes(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(b.Kind()), enc)
	}
	f.Add(uint8(KindAnchor), []byte{0xc0})
	f.Add(uint8(200), []byte{0x80})
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		x := &Tx{Kind: Kind(kind), Body: body}
		b, err := x.DecodeBody()
		if err != nil {
			return
		}
		again, err := rlp.EncodeToBytes(b)
		if err != nil {
			t.Fatalf("%s: a decoded body does not encode: %v", x.Kind, err)
		}
		y := &Tx{Kind: Kind(kind), Body: again}
		b2, err := y.DecodeBody()
		if err != nil {
			t.Fatalf("%s: re-encoded body does not decode: %v", x.Kind, err)
		}
		third, _ := rlp.EncodeToBytes(b2)
		if !bytes.Equal(again, third) {
			t.Fatalf("%s: encoding is not stable", x.Kind)
		}
	})
}
