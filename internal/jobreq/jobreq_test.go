package jobreq

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/eip712"
)

func sample() *Request {
	return &Request{Class: common.HexToHash("0xc1a55"), Token: common.HexToHash("0x70c"), Provider: common.HexToAddress("0xb0b"),
		QueryHash: crypto.Keccak256Hash([]byte("SELECT count(*)")), Units: 3, MaxFee: big.NewInt(12345), Nonce: 7, Deadline: 1_800_000_000}
}

// The hand-written digest is the one a wallet computes from TypedData.
func TestDigestMatchesTypedData(t *testing.T) {
	t.Parallel()
	r := sample()
	want, err := eip712.HashTypedData(r.TypedData(1337))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Digest(1337); got != want {
		t.Fatalf("digest %s, typed data %s", got, want)
	}
	r.MaxFee = new(big.Int).Lsh(big.NewInt(1), 200)
	want, _ = eip712.HashTypedData(r.TypedData(1337))
	if got := r.Digest(1337); got != want {
		t.Fatalf("big fee: digest %s, typed data %s", got, want)
	}
}

func TestSignRecover(t *testing.T) {
	t.Parallel()
	key, _ := crypto.GenerateKey()
	r := sample()
	sig, err := r.Sign(1337, key)
	if err != nil {
		t.Fatal(err)
	}
	app, pub, err := r.Recover(1337, sig)
	if err != nil || app != crypto.PubkeyToAddress(key.PublicKey) || !pub.Equal(&key.PublicKey) {
		t.Fatalf("recovered %s %v", app.Hex(), err)
	}
	if err := r.Verify(1337, app, sig); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(1338, app, sig); err == nil {
		t.Fatal("a signature for another chain verified")
	}
	r.Units++
	if err := r.Verify(1337, app, sig); err == nil {
		t.Fatal("a changed request verified")
	}
}

func TestBatchProofs(t *testing.T) {
	t.Parallel()
	key, _ := crypto.GenerateKey()
	reqs := []common.Hash{{1}, {2}, {3}}
	ress := []common.Hash{{11}, {12}, {13}}
	proofs, err := SignBatch(key, reqs, ress)
	if err != nil {
		t.Fatal(err)
	}
	want := crypto.PubkeyToAddress(key.PublicKey)
	for i, p := range proofs {
		got, err := p.Signer(reqs[i], ress[i])
		if err != nil || got != want {
			t.Fatalf("item %d: signer %s %v", i, got.Hex(), err)
		}
		if _, err := p.Signer(reqs[i], common.Hash{99}); err == nil {
			t.Fatalf("item %d: an unsigned result hash passed", i)
		}
	}
	p := proofs[0]
	p.Index = 1
	if _, err := p.Signer(reqs[0], ress[0]); err == nil {
		t.Fatal("a proof at another index passed")
	}
}
