package tx

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
)

func typedKey() (*ecdsaKey, *ecdsaKey) { return mustKey("tx-typed"), mustKey("tx-typed-other") }

type ecdsaKey = ecdsa.PrivateKey

func mustKey(seed string) (k *ecdsaKey) {
	k, _ = crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	return k
}

// unsignedBuy is a dat_buy tx from key's address, not yet signed.
func unsignedBuy(t testing.TB, key *ecdsaKey) *Tx {
	x, err := New(1337, 4, big.NewInt(120), &DATBuy{Class: common.HexToHash("0xc1a55"), Units: 10})
	if err != nil {
		t.Fatal(err)
	}
	x.From = crypto.PubkeyToAddress(key.PublicKey)
	return x
}

// walletSign signs td as a wallet does: the generic EIP-712 digest of the
// typed data read back from its JSON, V in {27,28}.
func walletSign(t testing.TB, td eip712.TypedData, key *ecdsaKey) []byte {
	raw, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	var back eip712.TypedData
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	d, err := eip712.HashTypedData(back)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := eip712.Sign(key, d)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// A version-2 tx: the wallet signs the typed data (the generic digest,
// from its JSON), the tx decodes to the same hash and recovers its sender,
// its hash is keccak256 of the whole encoding, and the hand-written digest
// is the generic one.
func TestTypedTxRoundTrip(t *testing.T) {
	t.Parallel()
	k, _ := typedKey()
	for _, body := range []Body{&DATBuy{Class: common.HexToHash("0xc1a55"), Units: 10}, &EscrowDeposit{Provider: common.HexToAddress("0xbeef"), Amount: big.NewInt(20)},
		&Transfer{To: common.HexToAddress("0x1"), Amount: new(big.Int).Lsh(big.NewInt(1), 200)}} {
		x, err := New(1337, 4, new(big.Int).Lsh(big.NewInt(1), 255), body)
		if err != nil {
			t.Fatal(err)
		}
		x.From = crypto.PubkeyToAddress(k.PublicKey)
		td, err := x.TypedData()
		if err != nil {
			t.Fatal(err)
		}
		if td.PrimaryType != "Transaction" || td.Domain.Name != "vsc-chain" || td.Message["kind"] != body.Kind().String() {
			t.Fatalf("typed data %+v", td)
		}
		sig := walletSign(t, td, k)
		y, err := x.WithWalletSignature(sig)
		if err != nil {
			t.Fatalf("%s: %v", body.Kind(), err)
		}
		enc := y.Encode()
		if enc[0] != Version2 || crypto.Keccak256Hash(enc) != y.Hash() {
			t.Fatalf("%s: version 0x%02x, hash %s", body.Kind(), enc[0], y.Hash())
		}
		z, err := Decode(enc)
		if err != nil {
			t.Fatalf("%s: decode: %v", body.Kind(), err)
		}
		if z.Version != Version2 || z.Hash() != y.Hash() {
			t.Fatalf("%s: decoded version %d hash %s, want 2 %s", body.Kind(), z.Version, z.Hash(), y.Hash())
		}
		if s, err := z.Sender(); err != nil || s != x.From {
			t.Fatalf("%s: sender %s %v, want %s", body.Kind(), s, err, x.From)
		}
		// the fast digest is the generic one
		generic, _ := eip712.HashTypedData(td)
		if z.SigningHash() != generic {
			t.Fatalf("%s: signing hash %s, generic EIP-712 %s", body.Kind(), z.SigningHash(), generic)
		}
		// V in {0,1} (some signers) is taken and written as 27/28: one encoding
		low := bytes.Clone(sig)
		low[64] -= 27
		w, err := x.WithWalletSignature(low)
		if err != nil || w.Hash() != y.Hash() {
			t.Fatalf("%s: V-0/1 signature gave %v (%v)", body.Kind(), w, err)
		}
		// SignTyped, the key path, makes the same tx
		v, err := unsignedCopy(x).SignTyped(k)
		if err != nil || v.Hash() != y.Hash() {
			t.Fatalf("%s: SignTyped hash differs (%v)", body.Kind(), err)
		}
	}
}

func unsignedCopy(x *Tx) *Tx {
	return &Tx{ChainID: x.ChainID, Nonce: x.Nonce, MaxFee: new(big.Int).Set(x.MaxFee), Kind: x.Kind, From: x.From, Body: bytes.Clone(x.Body)}
}

// A wallet signature by another key is refused when attached, and a tx
// carrying one anyway recovers to nobody.
func TestTypedTxWrongSignerRefused(t *testing.T) {
	t.Parallel()
	k, other := typedKey()
	x := unsignedBuy(t, k)
	td, _ := x.TypedData()
	sig := walletSign(t, td, other)
	if _, err := x.WithWalletSignature(sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key's signature attached: %v", err)
	}
	forged := unsignedCopy(x)
	forged.Version, forged.Sig = Version2, sig
	y, err := Decode(forged.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y.Sender(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a tx signed by another key recovers: %v", err)
	}
}

// Any change to a signed field after signing breaks the signature: the
// body, the kind, the nonce, the fee, the chain id; the same signature as a
// version-1 tx recovers to nobody either; a V outside {27,28} is refused.
func TestTypedTxTamperedRefused(t *testing.T) {
	t.Parallel()
	k, _ := typedKey()
	x := unsignedBuy(t, k)
	td, _ := x.TypedData()
	good, err := x.WithWalletSignature(walletSign(t, td, k))
	if err != nil {
		t.Fatal(err)
	}
	tamper := map[string]func(*Tx){
		"body":     func(y *Tx) { y.Body = bytes.Clone(y.Body); y.Body[len(y.Body)-1] ^= 1 },
		"kind":     func(y *Tx) { y.Kind = KindDATRedeem },
		"nonce":    func(y *Tx) { y.Nonce++ },
		"max fee":  func(y *Tx) { y.MaxFee = big.NewInt(121) },
		"chain id": func(y *Tx) { y.ChainID++ },
		"version":  func(y *Tx) { y.Version = Version1 },
		"v":        func(y *Tx) { y.Sig = bytes.Clone(y.Sig); y.Sig[64] -= 27 },
	}
	for name, f := range tamper {
		y := unsignedCopy(good)
		y.Version, y.Sig = Version2, good.Sig
		f(y)
		z, err := Decode(y.Encode())
		if err != nil {
			continue // also fine: refused as malformed
		}
		if s, err := z.Sender(); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s tampered: sender %s, err %v", name, s, err)
		}
	}
	// a byte flipped anywhere in the encoding: refused or recovers to nobody
	enc := good.Encode()
	for i := 1; i < len(enc); i++ {
		b := bytes.Clone(enc)
		b[i] ^= 0x10
		z, err := Decode(b)
		if err != nil {
			continue
		}
		if s, err := z.Sender(); err == nil && s == good.From {
			t.Fatalf("byte %d flipped: still recovers to the sender", i)
		}
	}
}

// Version 1 is unchanged: the same bytes and hash as before version 2 (a
// golden hash, computed on the code before version 2), and an unknown
// version byte is refused.
func TestVersion1Unchanged(t *testing.T) {
	t.Parallel()
	x := signed(t, &Transfer{To: common.HexToAddress("0x1"), Amount: big.NewInt(5)})
	const golden = "0x284957ec2daf20c0d1bd06a4fc8d3242e6c12b544db57d054f1132b4796ba3a3"
	if x.Encode()[0] != Version1 {
		t.Fatalf("version byte 0x%02x", x.Encode()[0])
	}
	if got := x.Hash().Hex(); got != golden {
		t.Fatalf("version-1 tx hash %s, was %s", got, golden)
	}
	y, err := Decode(x.Encode())
	if err != nil || y.Version != Version1 {
		t.Fatalf("decode: %v, version %d", err, y.Version)
	}
	if s, err := y.Sender(); err != nil || s != x.From {
		t.Fatalf("sender %s %v", s, err)
	}
	b := bytes.Clone(x.Encode())
	b[0] = 0x03
	if _, err := Decode(b); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("version 3: %v", err)
	}
}

// A version-2 tx of an unknown kind has no typed data and no sender; a
// max fee over 256 bits does not decode.
func TestTypedTxLimits(t *testing.T) {
	t.Parallel()
	k, _ := typedKey()
	x := unsignedBuy(t, k)
	x.Kind = 200
	if _, err := x.TypedData(); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("typed data of kind 200: %v", err)
	}
	x.Version, x.Sig = Version2, make([]byte, 65)
	x.Sig[64] = 27
	y, err := Decode(x.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y.Sender(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("sender of kind 200: %v", err)
	}
	z := unsignedBuy(t, k)
	z.Version, z.Sig, z.MaxFee = Version2, make([]byte, 65), new(big.Int).Lsh(big.NewInt(1), 256)
	if _, err := Decode(z.Encode()); !errors.Is(err, ErrBadEncoding) {
		t.Fatalf("a 257-bit max fee decoded: %v", err)
	}
}
