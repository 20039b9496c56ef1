package tx

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/eip712"
	"github.com/vsc-labs/vsc/internal/jobreq"
)

func signed(t testing.TB, body Body) *Tx {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("tx-test")))
	x, err := New(3, 7, big.NewInt(99), body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Sign(k); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestRoundTripEveryKind(t *testing.T) {
	t.Parallel()
	bodies := []Body{
		&Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(5)},
		&IDAOCreate{Name: "x", Policy: idao.Policy{Modes: []idao.Mode{"tee"}, Price: big.NewInt(1), TEEPolicy: []byte(`{"a":1}`)}, Stake: big.NewInt(3)},
		&IDAOJoin{Name: "x", Amount: big.NewInt(1)}, &IDAOLeave{Name: "x", Amount: big.NewInt(1)}, &IDAOWithdraw{Name: "x"},
		&IDAOSetPolicy{Name: "x", Policy: idao.Policy{Modes: []idao.Mode{"zk"}, Price: big.NewInt(0)}},
		&EnclaveRegister{IDAO: "x", PubKey: []byte{4, 5}, Report: []byte{6}}, &VKRegister{IDAO: "x", Circuit: "c", VKHash: common.HexToHash("0x2")},
		&Anchor{IDAO: "x", Votes: []AnchorVote{{Member: common.HexToAddress("0x3"), Sig: make([]byte, 65)}}},
		&DATMint{Digest: common.HexToHash("0x4"), IDAO: "x", Price: big.NewInt(2)}, &DATBuy{Units: 3}, &DATRedeem{Units: 1},
		&DATTransfer{Value: 1}, &DATClaim{}, &BondLock{Amount: big.NewInt(1)}, &BondRelease{}, &BondSlash{WinnerAmount: big.NewInt(1)},
		&SlashEquivocation{IDAO: "x"},
		&OptClaim{Fields: []string{"a"}, Bond: big.NewInt(1)}, &OptChallenge{Bond: big.NewInt(1)}, &OptMove{}, &OptStep{},
		&OptTimeout{}, &OptCancel{}, &OptFinalize{},
		&AnchorBatch{Items: []AnchorItem{{Anchor: Anchor{IDAO: "x", Votes: []AnchorVote{{Member: common.HexToAddress("0x3"), Sig: make([]byte, 65),
			Batch: &VoteBatchProof{Root: common.HexToHash("0x5"), Size: 2, Index: 1, Path: []common.Hash{common.HexToHash("0x6")}}}}},
			Mint: DATMint{Digest: common.HexToHash("0x4"), IDAO: "x", Price: big.NewInt(0)}}}},
		&ProviderRegister{IDAO: "x", PubKey: []byte{4}, Fee: big.NewInt(2), Stake: big.NewInt(3)},
		&EscrowDeposit{Amount: big.NewInt(5)}, &EscrowRefund{Amount: big.NewInt(1)}, &EscrowWithdraw{},
		&ServiceSettle{IDAO: "x", Size: 1, Items: []SettleItem{{Request: jobreq.Request{Units: 2, MaxFee: big.NewInt(9)},
			Path: []common.Hash{common.HexToHash("0x7")}}}},
		&DATQueryPolicy{Class: common.HexToHash("0x8"), Allowed: []string{"count"}, Columns: []string{"a"}},
	}
	if len(bodies) != len(Kinds()) {
		t.Fatalf("%d bodies for %d kinds", len(bodies), len(Kinds()))
	}
	for _, b := range bodies {
		x := signed(t, b)
		y, err := Decode(x.Encode())
		if err != nil {
			t.Fatalf("%s: %v", b.Kind(), err)
		}
		if y.Hash() != x.Hash() || y.Kind != b.Kind() {
			t.Fatalf("%s: hash or kind changed", b.Kind())
		}
		if s, err := y.Sender(); err != nil || s != x.From {
			t.Fatalf("%s: sender %s %v", b.Kind(), s, err)
		}
		if _, err := y.DecodeBody(); err != nil {
			t.Fatalf("%s: body %v", b.Kind(), err)
		}
	}
}

func TestTamperedSignatureIsBad(t *testing.T) {
	t.Parallel()
	x := signed(t, &Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(5)})
	enc := x.Encode()
	for _, i := range []int{len(enc) - 1, len(enc) - 20, len(enc) - 40} {
		b := bytes.Clone(enc)
		b[i] ^= 1
		y, err := Decode(b)
		if err != nil {
			continue // also fine: refused as malformed
		}
		if _, err := y.Sender(); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("byte %d: sender err %v", i, err)
		}
	}
}

// FuzzDecode: tx.Decode on any bytes, of either version, never panics,
// and what it accepts re-encodes to the same bytes; sender recovery, typed
// data and body decoding of an accepted tx never panic either, and a
// version-2 tx whose sender recovers has typed data whose generic EIP-712
// digest is the one its signature covers.
func FuzzDecode(f *testing.F) {
	k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("tx-fuzz")))
	for _, b := range sampleBodies() {
		f.Add(signed(f, b).Encode())
		x, err := New(3, 7, big.NewInt(99), b)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := x.SignTyped(k); err != nil {
			f.Fatal(err)
		}
		f.Add(x.Encode())
	}
	f.Add([]byte{1, 0xc0})
	f.Add([]byte{2, 0xc0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(x.Encode(), b) {
			t.Fatal("decode(encode) differs")
		}
		_, serr := x.Sender()
		_, _ = x.DecodeBody()
		if x.Version != Version2 {
			return
		}
		td, err := x.TypedData()
		if err != nil {
			if serr == nil {
				t.Fatal("a version-2 tx without typed data has a sender")
			}
			return
		}
		if serr == nil {
			if d, err := eip712.HashTypedData(td); err != nil || d != x.SigningHash() {
				t.Fatalf("signing hash %s, generic digest %s (%v)", x.SigningHash(), d, err)
			}
		}
	})
}

// TestFastEncodingMatchesReflection pins the hand-written encoder to the
// reflective RLP of the wire struct.
func TestFastEncodingMatchesReflection(t *testing.T) {
	t.Parallel()
	x := signed(t, &Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(5)})
	ref, err := rlp.EncodeToBytes(&wireTx{x.ChainID, x.Nonce, x.MaxFee, uint8(x.Kind), x.From, x.Body, x.Sig})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Encode(), append([]byte{Version1}, ref...)) {
		t.Fatal("fast encoding differs from RLP")
	}
	type unsigned struct {
		ChainID uint64
		Nonce   uint64
		MaxFee  *big.Int
		Kind    uint8
		From    common.Address
		Body    []byte
	}
	u, _ := rlp.EncodeToBytes(&unsigned{x.ChainID, x.Nonce, x.MaxFee, uint8(x.Kind), x.From, x.Body})
	if x.SigningHash() != crypto.Keccak256Hash(append([]byte{Version1}, u...)) {
		t.Fatal("signing hash differs from RLP")
	}
}

// TestKindsTable: every kind has one complete entry (a name of its own, a
// body of that kind, a gas), and numbers that are no kind have none.
func TestKindsTable(t *testing.T) {
	names := map[string]Kind{}
	for _, k := range Kinds() {
		e := k.entry()
		if e == nil || e.name == "" || e.body == nil || e.gas == nil {
			t.Fatalf("kind %d: incomplete entry %+v", k, e)
		}
		if prev, dup := names[e.name]; dup {
			t.Fatalf("kinds %d and %d are both %q", prev, k, e.name)
		}
		names[e.name] = k
		if b := newBody(k); b == nil || b.Kind() != k {
			t.Fatalf("kind %s: its body is of kind %v", k, b)
		}
		if g, err := GasOf(newBody(k)); err != nil || g == 0 {
			t.Fatalf("kind %s: gas %d, %v", k, g, err)
		}
	}
	for _, k := range []Kind{0, KindDATQueryPolicy + 1, 255} {
		if k.Known() || k.String() != "unknown" || newBody(k) != nil {
			t.Fatalf("number %d is a kind", k)
		}
	}
}
