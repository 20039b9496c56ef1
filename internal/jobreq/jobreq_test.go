package jobreq

import (
	"errors"
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

// The hand-written AnswerKey digest is the one a wallet computes from its
// typed data.
func TestAnswerKeyDigestMatchesTypedData(t *testing.T) {
	t.Parallel()
	priv, _ := crypto.GenerateKey()
	key := crypto.CompressPubkey(&priv.PublicKey)
	req := sample().Digest(1337)
	want, err := eip712.HashTypedData(AnswerKeyTypedData(1337, req, key))
	if err != nil {
		t.Fatal(err)
	}
	if got := AnswerKeyDigest(1337, req, key); got != want {
		t.Fatalf("digest %s, typed data %s", got, want)
	}
	// the type is the one documented, bound to the request and the key
	if AnswerKeyDigest(1337, req, key) == AnswerKeyDigest(1338, req, key) || AnswerKeyDigest(1337, common.Hash{1}, key) == AnswerKeyDigest(1337, req, key) {
		t.Fatal("the digest does not bind the chain or the request")
	}
}

// An answer key is believed only when the app that signed the request
// signed its binding to this very request.
func TestAnswerKeyBinding(t *testing.T) {
	t.Parallel()
	app, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	priv, _ := crypto.GenerateKey()
	r := sample()
	req := r.Digest(1337)
	appAddr := crypto.PubkeyToAddress(app.PublicKey)
	good, err := NewAnswerKey(1337, req, priv, app)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := good.Check(1337, req, appAddr)
	if err != nil || !pub.Equal(&priv.PublicKey) || !good.Holds(priv) || good.Holds(app) {
		t.Fatalf("a good binding: %v", err)
	}
	byOther, _ := NewAnswerKey(1337, req, priv, other)
	r2 := sample()
	r2.Nonce++
	forOther, _ := NewAnswerKey(1337, r2.Digest(1337), priv, app)
	otherChain, _ := NewAnswerKey(1338, req, priv, app)
	swapped := &AnswerKey{Key: crypto.CompressPubkey(&other.PublicKey), Signature: good.Signature}
	rows := []struct {
		name string
		k    *AnswerKey
		want error
	}{
		{"signed by another key", byOther, ErrAnswerKeyNotBound},
		{"signed for another request", forOther, ErrAnswerKeyNotBound},
		{"signed on another chain", otherChain, ErrAnswerKeyNotBound},
		{"another key under the app's signature", swapped, ErrAnswerKeyNotBound},
		{"an uncompressed key", &AnswerKey{Key: crypto.FromECDSAPub(&priv.PublicKey), Signature: good.Signature}, ErrAnswerKeyMalformed},
		{"a key off the curve", &AnswerKey{Key: append([]byte{2}, make([]byte, 32)...), Signature: good.Signature}, ErrAnswerKeyMalformed},
		{"a short signature", &AnswerKey{Key: good.Key, Signature: good.Signature[:64]}, ErrAnswerKeyMalformed},
		{"no key", &AnswerKey{Signature: good.Signature}, ErrAnswerKeyMalformed},
	}
	for _, row := range rows {
		if _, err := row.k.Check(1337, req, appAddr); !errors.Is(err, row.want) {
			t.Errorf("%s: %v, want %v", row.name, err, row.want)
		}
	}
}

// An answer sealed to an answer key opens with it and with nothing else;
// Answer.Check refuses an answer whose answer key the app did not bind.
func TestAnswerSealedToAnswerKey(t *testing.T) {
	t.Parallel()
	app, _ := crypto.GenerateKey()
	priv, _ := crypto.GenerateKey()
	encl, _ := crypto.GenerateKey()
	r := sample()
	sig, _ := r.Sign(1337, app)
	job := r.Digest(1337)
	ak, _ := NewAnswerKey(1337, job, priv, app)
	pub, _ := ak.PublicKey()
	pl := &Payload{Job: job, Class: r.Class, Columns: []string{"count(*)"}, Rows: [][]string{{"12"}}, ResultHash: common.Hash{7}}
	ct, err := Seal(pl, pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ct, app); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("the app's account key opened an answer sealed to the answer key: %v", err)
	}
	got, err := Open(ct, priv)
	if err != nil || got.Rows[0][0] != "12" {
		t.Fatalf("open with the answer key: %+v %v", got, err)
	}
	proofs, _ := SignBatch(encl, []common.Hash{job}, []common.Hash{pl.ResultHash})
	a := &Answer{Job: job, ChainID: 1337, Request: *r, Signature: sig, Ciphertext: ct, AnswerKey: ak, ResultHash: pl.ResultHash,
		Proof: proofs[0], EnclaveKey: crypto.FromECDSAPub(&encl.PublicKey)}
	if _, err := a.Check(crypto.PubkeyToAddress(app.PublicKey)); err != nil {
		t.Fatalf("a good answer: %v", err)
	}
	other, _ := crypto.GenerateKey()
	a.AnswerKey, _ = NewAnswerKey(1337, job, priv, other)
	if _, err := a.Check(common.Address{}); !errors.Is(err, ErrAnswerKeyNotBound) {
		t.Fatalf("an answer key bound by another account: %v", err)
	}
}
