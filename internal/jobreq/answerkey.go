package jobreq

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
)

// An answer key lets a job's answer be encrypted to a key other than the
// app's account key: a secp256k1 key pair made for one job (the Web UI
// makes it in vsc.wasm and keeps the private half in the page's memory,
// because a wallet never exposes the account's private key). The app's
// wallet binds the key to the request with a second EIP-712 signature,
// over AnswerKey(bytes32 request,bytes key) where request is the
// JobRequest's digest (the job id) under the same domain. The provider's
// enclave believes the key only when that signature recovers to the app
// that signed the JobRequest; the JobRequest type itself is unchanged.

// AnswerKeyTypeString is the EIP-712 type binding an answer key to a job
// request.
const AnswerKeyTypeString = "AnswerKey(bytes32 request,bytes key)"

// AnswerKeySize is the exact length of an answer key: a compressed
// secp256k1 public key.
const AnswerKeySize = 33

var answerKeyTypeHash = eip712.StringWord(AnswerKeyTypeString)

// Errors of an answer key's check.
var (
	// ErrAnswerKeyMalformed is a key that is no compressed secp256k1
	// public key, or a signature of the wrong form.
	ErrAnswerKeyMalformed = errors.New("jobreq: the answer key is malformed")
	// ErrAnswerKeyNotBound is a signature that does not bind this key to
	// this request by the app that signed the request.
	ErrAnswerKeyNotBound = errors.New("jobreq: the answer key is not bound to this job request by its app")
)

// AnswerKey is a job's answer key and the app's signature binding it to
// the request (JSON "answer_key" of POST /v1/jobs, of the job routed to
// the provider and of the answer).
type AnswerKey struct {
	// Key is the compressed secp256k1 public key (33 bytes) the answer is
	// encrypted to.
	Key hexutil.Bytes `json:"key"`
	// Signature is the app's EIP-712 signature (65 bytes) of
	// AnswerKey(request, key).
	Signature hexutil.Bytes `json:"signature"`
}

// AnswerKeyStructHash is hashStruct(AnswerKey{request, key}); an EIP-712
// bytes member is encoded as its keccak256.
func AnswerKeyStructHash(request common.Hash, key []byte) common.Hash {
	return eip712.StructHash(common.Hash(answerKeyTypeHash), request, crypto.Keccak256Hash(key))
}

// AnswerKeyDigest is the signed EIP-712 digest binding key to the request
// whose digest (job id) is request.
func AnswerKeyDigest(chainID uint64, request common.Hash, key []byte) common.Hash {
	return eip712.Digest(chainID, AnswerKeyStructHash(request, key))
}

// AnswerKeyTypedData is the binding in the form eth_signTypedData_v4 takes.
func AnswerKeyTypedData(chainID uint64, request common.Hash, key []byte) eip712.TypedData {
	return eip712.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": eip712.DomainType,
			"AnswerKey": {
				{Name: "request", Type: "bytes32"},
				{Name: "key", Type: "bytes"},
			},
		},
		PrimaryType: "AnswerKey",
		Domain:      eip712.Domain(chainID),
		Message: apitypes.TypedDataMessage{
			"request": hexutil.Encode(request[:]),
			"key":     hexutil.Encode(key),
		},
	}
}

// NewAnswerKey binds the public half of priv to the request (digest
// request) with the app's key: what a client that holds the app's key
// (tests, the SDK) sends instead of asking a wallet.
func NewAnswerKey(chainID uint64, request common.Hash, priv, app *ecdsa.PrivateKey) (*AnswerKey, error) {
	key := crypto.CompressPubkey(&priv.PublicKey)
	sig, err := eip712.Sign(app, AnswerKeyDigest(chainID, request, key))
	if err != nil {
		return nil, err
	}
	return &AnswerKey{Key: key, Signature: sig}, nil
}

// PublicKey is the answer key as a point, or ErrAnswerKeyMalformed.
func (k *AnswerKey) PublicKey() (*ecdsa.PublicKey, error) {
	if len(k.Key) != AnswerKeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d (a compressed secp256k1 public key)", ErrAnswerKeyMalformed, len(k.Key), AnswerKeySize)
	}
	pub, err := crypto.DecompressPubkey(k.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: key is not a compressed secp256k1 public key: %v", ErrAnswerKeyMalformed, err)
	}
	return pub, nil
}

// Check verifies the binding: the key is a compressed secp256k1 point and
// the signature of AnswerKey(request, key) recovers to app (the signer of
// the JobRequest whose digest is request). It returns the key to encrypt
// the answer to. A signature by another key, or one made for another
// request, recovers to another address and is ErrAnswerKeyNotBound.
func (k *AnswerKey) Check(chainID uint64, request common.Hash, app common.Address) (*ecdsa.PublicKey, error) {
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	if len(k.Signature) != 65 {
		return nil, fmt.Errorf("%w: signature is %d bytes, want 65", ErrAnswerKeyMalformed, len(k.Signature))
	}
	signer, err := eip712.RecoverCached(AnswerKeyDigest(chainID, request, k.Key), k.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: the signature does not recover: %v", ErrAnswerKeyMalformed, err)
	}
	if signer != app {
		return nil, fmt.Errorf("%w: AnswerKey(request %s, key %s) is signed by %s, the job request by %s: the app must sign the binding for this very request",
			ErrAnswerKeyNotBound, request.Hex(), hexutil.Encode(k.Key), signer.Hex(), app.Hex())
	}
	return pub, nil
}

// Holds reports whether priv is the private half of the answer key.
func (k *AnswerKey) Holds(priv *ecdsa.PrivateKey) bool {
	return priv != nil && string(crypto.CompressPubkey(&priv.PublicKey)) == string(k.Key)
}
