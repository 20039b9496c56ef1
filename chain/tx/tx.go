// Package tx defines the chain's transactions: their canonical, versioned
// binary encoding, their signatures, the bodies of every kind and each
// kind's gas (the kinds table in kinds.go: number, name, body, gas; what a
// kind does is its entry in chain/exec). Clients (the SDK) use it to build,
// sign and price txs without linking the state transition.
//
// Encoding (version 1): 0x01 ‖ RLP([chainId, nonce, maxFee, kind, from, body, sig]).
// The signer signs keccak256(0x01 ‖ RLP([chainId, nonce, maxFee, kind, from, body]))
// with secp256k1 (65-byte signature, low s, V in {0,1}); the tx hash is
// keccak256 of the whole encoding. body is the RLP of the kind's struct.
// from is the sender's address: a signature that recovers to any other
// address is refused as a bad signature (instead of silently naming some
// other, unfunded sender).
package tx

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Version is the encoding version byte that prefixes every tx.
const Version byte = 0x01

// MaxSize bounds an encoded tx: Decode and the chain's door refuse a
// longer one.
const MaxSize = 128 << 10

// Errors callers branch on.
var (
	ErrBadEncoding  = errors.New("tx: malformed encoding")
	ErrBadVersion   = errors.New("tx: unknown encoding version")
	ErrBadSignature = errors.New("tx: bad signature")
	ErrUnknownKind  = errors.New("tx: unknown kind")
	ErrTooLarge     = errors.New("tx: encoding too large")
)

// Tx is a signed transaction. Build one with New, sign it with Sign; decode
// one with Decode. The hash and sender are cached after first use.
type Tx struct {
	ChainID uint64
	Nonce   uint64
	MaxFee  *big.Int
	Kind    Kind
	From    common.Address
	Body    []byte
	Sig     []byte

	once   sync.Once
	enc    []byte
	hash   common.Hash
	sender common.Address
	sErr   error
	sDone  bool
	mu     sync.Mutex
}

type wireTx struct {
	ChainID uint64
	Nonce   uint64
	MaxFee  *big.Int
	Kind    uint8
	From    common.Address
	Body    []byte
	Sig     []byte
}

// New builds an unsigned tx carrying body (one of this package's body types).
func New(chainID, nonce uint64, maxFee *big.Int, body Body) (*Tx, error) {
	b, err := rlp.EncodeToBytes(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s body: %w", body.Kind(), err)
	}
	if maxFee == nil {
		maxFee = new(big.Int)
	}
	return &Tx{ChainID: chainID, Nonce: nonce, MaxFee: new(big.Int).Set(maxFee), Kind: body.Kind(), Body: b}, nil
}

// appendFields writes the tx's RLP list (without reflection: it is on the
// hot path of every tx); withSig adds the signature as the last item. The
// bytes equal the reflective RLP of wireTx / wireUnsigned.
func (t *Tx) appendFields(w *bytes.Buffer, withSig bool) {
	buf := rlp.NewEncoderBuffer(w)
	l := buf.List()
	buf.WriteUint64(t.ChainID)
	buf.WriteUint64(t.Nonce)
	fee := t.MaxFee
	if fee == nil {
		fee = new(big.Int)
	}
	buf.WriteBigInt(fee)
	buf.WriteUint64(uint64(t.Kind))
	buf.WriteBytes(t.From[:])
	buf.WriteBytes(t.Body)
	if withSig {
		buf.WriteBytes(t.Sig)
	}
	buf.ListEnd(l)
	_ = buf.Flush()
}

// SigningHash is the digest the sender signs.
func (t *Tx) SigningHash() common.Hash {
	var w bytes.Buffer
	w.Grow(len(t.Body) + 64)
	w.WriteByte(Version)
	t.appendFields(&w, false)
	return crypto.Keccak256Hash(w.Bytes())
}

// Sign sets From to key's address, signs the tx and returns it (the same
// pointer).
func (t *Tx) Sign(key *ecdsa.PrivateKey) (*Tx, error) {
	t.From = crypto.PubkeyToAddress(key.PublicKey)
	h := t.SigningHash()
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		return nil, fmt.Errorf("sign tx: %w", err)
	}
	t.Sig = sig
	return t, nil
}

// Encode returns the canonical encoding (cached; do not mutate the tx after).
func (t *Tx) Encode() []byte {
	t.once.Do(func() {
		var w bytes.Buffer
		w.Grow(len(t.Body) + 130)
		w.WriteByte(Version)
		t.appendFields(&w, true)
		t.enc = w.Bytes()
		t.hash = crypto.Keccak256Hash(t.enc)
	})
	return t.enc
}

// Hash is keccak256 of the encoding.
func (t *Tx) Hash() common.Hash {
	t.Encode()
	return t.hash
}

// Decode parses a canonical encoding. Any other byte string, including a
// non-canonical RLP or trailing bytes, is refused; it never panics.
func Decode(b []byte) (*Tx, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d (tx.MaxSize)", ErrTooLarge, len(b), MaxSize)
	}
	if len(b) == 0 {
		return nil, ErrBadEncoding
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: 0x%02x", ErrBadVersion, b[0])
	}
	var w wireTx
	if err := rlp.DecodeBytes(b[1:], &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEncoding, err)
	}
	t := &Tx{ChainID: w.ChainID, Nonce: w.Nonce, MaxFee: w.MaxFee, Kind: Kind(w.Kind), From: w.From, Body: w.Body, Sig: w.Sig}
	if t.MaxFee == nil {
		t.MaxFee = new(big.Int)
	}
	// Canonical: re-encoding must give the same bytes.
	if !bytes.Equal(t.Encode(), b) {
		return nil, fmt.Errorf("%w: not canonical", ErrBadEncoding)
	}
	return t, nil
}

// Sender recovers (once) and returns the signer's address.
func (t *Tx) Sender() (common.Address, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.sDone {
		t.sender, t.sErr = recoverSender(t.SigningHash(), t.Sig)
		if t.sErr == nil && t.sender != t.From {
			t.sender, t.sErr = common.Address{}, fmt.Errorf("%w: signed by %s, tx is from %s", ErrBadSignature, t.sender, t.From)
		}
		t.sDone = true
	}
	return t.sender, t.sErr
}

// SetSender records a sender recovered elsewhere (e.g. by the mempool).
func (t *Tx) SetSender(a common.Address) {
	t.mu.Lock()
	t.sender, t.sErr, t.sDone = a, nil, true
	t.mu.Unlock()
}

// ForgetSender drops the cached sender, so the next Sender call recovers it
// again (replay and benchmarks do this to measure honest work).
func (t *Tx) ForgetSender() {
	t.mu.Lock()
	t.sDone = false
	t.mu.Unlock()
}

func recoverSender(h common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return common.Address{}, fmt.Errorf("%w: want 65 bytes, got %d", ErrBadSignature, len(sig))
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(sig[64], r, s, true) {
		return common.Address{}, fmt.Errorf("%w: invalid r, s or v", ErrBadSignature)
	}
	pub, err := crypto.Ecrecover(h[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	var a common.Address
	copy(a[:], crypto.Keccak256(pub[1:])[12:])
	return a, nil
}

// DecodeBody decodes the tx's body into its kind's struct.
func (t *Tx) DecodeBody() (Body, error) {
	b := newBody(t.Kind)
	if b == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKind, t.Kind)
	}
	if err := rlp.DecodeBytes(t.Body, b); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrBadEncoding, t.Kind, err)
	}
	return b, nil
}
