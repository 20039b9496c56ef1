// Package tx defines the chain's transactions: their canonical, versioned
// binary encoding, their signatures, the bodies of every kind and each
// kind's gas (the kinds table in kinds.go: number, name, body, gas; what a
// kind does is its entry in chain/exec). Clients (the SDK) use it to build,
// sign and price txs without linking the state transition.
//
// Encoding: version ‖ RLP([chainId, nonce, maxFee, kind, from, body, sig]),
// the same fields in both versions; body is the RLP of the kind's struct;
// the tx hash is keccak256 of the whole encoding. The versions differ in
// what is signed (secp256k1, 65-byte signature, low s):
//
//   - version 1 (0x01, keys: `vsc … --key`): the signer signs
//     keccak256(0x01 ‖ RLP([chainId, nonce, maxFee, kind, from, body])),
//     V in {0,1}.
//   - version 2 (0x02, wallets): the signature is an EIP-712 signature
//     (eth_signTypedData_v4) of the typed data TypedData returns: domain
//     {name: "vsc-chain", version: "1", chainId} and primary type
//     Transaction(uint64 nonce,uint256 maxFee,string kind,address from,bytes body)
//     (TypeString), kind being the kind's name in the kinds table, body its
//     RLP; V in {27,28}, as wallets return it (WithWalletSignature takes
//     either form and writes this one, so a signed tx has one encoding).
//
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
	"strconv"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
)

// The encoding versions: the byte that prefixes every tx.
const (
	// Version1 txs are signed over keccak256 of their version and RLP.
	Version1 byte = 0x01
	// Version2 txs carry an EIP-712 signature of their typed data (wallets).
	Version2 byte = 0x02
)

// TypedDomainName is the EIP-712 domain name of version-2 txs (the domain
// is {name, version: "1", chainId}); it differs from the requests' "vsc",
// so a tx signature is never a request signature.
const TypedDomainName = "vsc-chain"

// TypeString is the EIP-712 type a version-2 tx signs. It is a contract:
// it never changes (a new type would be a new version).
const TypeString = "Transaction(uint64 nonce,uint256 maxFee,string kind,address from,bytes body)"

var typeHash = common.Hash(eip712.StringWord(TypeString))

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

// Tx is a signed transaction. Build one with New, sign it with Sign (a
// version-1 tx) or with a wallet over TypedData and WithWalletSignature (a
// version-2 tx); decode one with Decode. The hash and sender are cached
// after first use.
type Tx struct {
	// Version is the encoding version (Version1 or Version2; 0 means
	// Version1, what New builds).
	Version byte
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

// version is the tx's encoding version (0 is Version1).
func (t *Tx) version() byte {
	if t.Version == 0 {
		return Version1
	}
	return t.Version
}

// SigningHash is the digest the sender signs: for a version-2 tx, the
// EIP-712 digest of its typed data (the zero hash when it has none: an
// unknown kind, a max fee over 256 bits).
func (t *Tx) SigningHash() common.Hash {
	h, _ := t.signingHash()
	return h
}

func (t *Tx) signingHash() (common.Hash, error) {
	switch t.version() {
	case Version1:
		var w bytes.Buffer
		w.Grow(len(t.Body) + 64)
		w.WriteByte(Version1)
		t.appendFields(&w, false)
		return crypto.Keccak256Hash(w.Bytes()), nil
	case Version2:
		sh, err := t.typedStructHash()
		if err != nil {
			return common.Hash{}, err
		}
		return eip712.NamedDigest(TypedDomainName, t.ChainID, sh), nil
	}
	return common.Hash{}, fmt.Errorf("%w: 0x%02x", ErrBadVersion, t.Version)
}

// kindWords caches keccak256 of every kind's name (the EIP-712 word of
// the typed data's kind).
var kindWords = func() (w [256]common.Hash) {
	for _, k := range Kinds() {
		w[k] = eip712.StringWord(k.String())
	}
	return w
}()

// typedStructHash is hashStruct(Transaction) of the tx, by hand (the
// generic HashTypedData of TypedData is the reference it is tested
// against).
func (t *Tx) typedStructHash() (common.Hash, error) {
	if !t.Kind.Known() {
		return common.Hash{}, fmt.Errorf("%w: %d has no name to sign", ErrUnknownKind, t.Kind)
	}
	fee := t.MaxFee
	if fee == nil {
		fee = new(big.Int)
	}
	if fee.Sign() < 0 || fee.BitLen() > 256 {
		return common.Hash{}, fmt.Errorf("%w: max fee %s is no uint256", ErrBadEncoding, fee)
	}
	var feeWord [32]byte
	fee.FillBytes(feeWord[:])
	return eip712.StructHash(typeHash, eip712.Uint64Word(t.Nonce), feeWord, kindWords[t.Kind],
		eip712.AddressWord(t.From), crypto.Keccak256Hash(t.Body)), nil
}

// TypedData is the tx's EIP-712 typed data, the form eth_signTypedData_v4
// takes: what a wallet signs to make it a version-2 tx. From must be the
// wallet's address. The domain holds only the fields it sets (as
// eip712.TypedData writes it).
func (t *Tx) TypedData() (eip712.TypedData, error) {
	if _, err := t.typedStructHash(); err != nil {
		return eip712.TypedData{}, err
	}
	fee := t.MaxFee
	if fee == nil {
		fee = new(big.Int)
	}
	return eip712.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": eip712.DomainType,
			"Transaction": {
				{Name: "nonce", Type: "uint64"},
				{Name: "maxFee", Type: "uint256"},
				{Name: "kind", Type: "string"},
				{Name: "from", Type: "address"},
				{Name: "body", Type: "bytes"},
			},
		},
		PrimaryType: "Transaction",
		Domain:      eip712.NamedDomain(TypedDomainName, t.ChainID),
		Message: apitypes.TypedDataMessage{
			"nonce":  strconv.FormatUint(t.Nonce, 10),
			"maxFee": fee.String(),
			"kind":   t.Kind.String(),
			"from":   t.From.Hex(),
			"body":   hexutil.Encode(t.Body),
		},
	}, nil
}

// WithWalletSignature returns the version-2 tx t signed by sig, a wallet's
// eth_signTypedData_v4 signature of t.TypedData() (V in {0,1} or {27,28};
// the tx holds 27 or 28). It fails, saying why, when sig does not recover
// to t.From. t is not changed.
func (t *Tx) WithWalletSignature(sig []byte) (*Tx, error) {
	if len(sig) != 65 {
		return nil, fmt.Errorf("%w: a wallet signature is 65 bytes, got %d", ErrBadSignature, len(sig))
	}
	s := bytes.Clone(sig)
	if s[64] < 2 {
		s[64] += 27
	}
	out := &Tx{Version: Version2, ChainID: t.ChainID, Nonce: t.Nonce, MaxFee: new(big.Int).Set(t.feeOrZero()), Kind: t.Kind,
		From: t.From, Body: bytes.Clone(t.Body), Sig: s}
	if _, err := out.Sender(); err != nil {
		return nil, err
	}
	return out, nil
}

// SignTyped makes t a version-2 tx signed by key as a wallet would sign
// it (tests and tools; a wallet uses TypedData and WithWalletSignature).
func (t *Tx) SignTyped(key *ecdsa.PrivateKey) (*Tx, error) {
	t.From = crypto.PubkeyToAddress(key.PublicKey)
	t.Version = Version2
	h, err := t.signingHash()
	if err != nil {
		return nil, err
	}
	sig, err := eip712.Sign(key, h)
	if err != nil {
		return nil, fmt.Errorf("sign tx: %w", err)
	}
	t.Sig = sig
	return t, nil
}

func (t *Tx) feeOrZero() *big.Int {
	if t.MaxFee == nil {
		return new(big.Int)
	}
	return t.MaxFee
}

// Sign sets From to key's address, signs the tx as a version-1 tx and
// returns it (the same pointer).
func (t *Tx) Sign(key *ecdsa.PrivateKey) (*Tx, error) {
	t.From = crypto.PubkeyToAddress(key.PublicKey)
	t.Version = Version1
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
		w.WriteByte(t.version())
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
	if b[0] != Version1 && b[0] != Version2 {
		return nil, fmt.Errorf("%w: 0x%02x (known: 0x01, 0x02)", ErrBadVersion, b[0])
	}
	var w wireTx
	if err := rlp.DecodeBytes(b[1:], &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEncoding, err)
	}
	t := &Tx{Version: b[0], ChainID: w.ChainID, Nonce: w.Nonce, MaxFee: w.MaxFee, Kind: Kind(w.Kind), From: w.From, Body: w.Body, Sig: w.Sig}
	if t.MaxFee == nil {
		t.MaxFee = new(big.Int)
	}
	if t.Version == Version2 && t.MaxFee.BitLen() > 256 {
		return nil, fmt.Errorf("%w: a version-2 tx's max fee is a uint256, got %d bits", ErrBadEncoding, t.MaxFee.BitLen())
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
		t.sender, t.sErr = t.recover()
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

// recover returns the address that signed the tx, by its version.
func (t *Tx) recover() (common.Address, error) {
	h, err := t.signingHash()
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	sig := t.Sig
	if t.version() == Version2 {
		if len(sig) != 65 {
			return common.Address{}, fmt.Errorf("%w: want 65 bytes, got %d", ErrBadSignature, len(sig))
		}
		if sig[64] != 27 && sig[64] != 28 {
			return common.Address{}, fmt.Errorf("%w: a version-2 signature's V is 27 or 28, got %d", ErrBadSignature, sig[64])
		}
		var s [65]byte
		copy(s[:], sig)
		s[64] -= 27
		sig = s[:]
	}
	return recoverSender(h, sig)
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
