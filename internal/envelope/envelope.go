// Package envelope is vsc's client-side encryption: the dataset is sealed
// with a fresh AES-256-GCM data key, and the data key is wrapped with ECIES
// (secp256k1, go-ethereum crypto/ecies) to an attested enclave's public key.
// Only that enclave can unwrap it. The wrap is bound to the blob's data hash,
// so a wrapped key cannot be replayed onto another blob.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/crypto/ecies"
)

// Format constants.
const (
	Version  = 1
	KeySize  = 32
	nonceLen = 12
	tagLen   = 16 // the AES-GCM tag
)

// BlobOverhead is what a blob holds besides the plaintext's bytes: the
// version byte, the nonce and the AES-GCM tag. A blob of n bytes therefore
// carries exactly n − BlobOverhead bytes of plaintext (the API bounds the
// records a submission may claim by it).
const BlobOverhead = 1 + nonceLen + tagLen

// WrappedKeySize is the exact length of a wrapped data key: ECIES on
// secp256k1 (go-ethereum's AES-128-CTR + HMAC-SHA-256 suite) writes the
// ephemeral public key (65 bytes, uncompressed), the CTR IV (16), the
// encrypted 32-byte data key and the 32-byte MAC. Wrap never produces
// another length, so the API accepts no other.
const WrappedKeySize = 65 + 16 + KeySize + 32

var blobAAD = []byte("vsc-blob-v1")

// Errors callers branch on.
var (
	ErrBadBlob = errors.New("malformed or tampered ciphertext blob")
	ErrUnwrap  = errors.New("cannot unwrap the data key (wrapped to another enclave key, or tampered)")
)

// Sealed is a dataset sealed for one enclave key.
type Sealed struct {
	Blob       []byte      // version ‖ nonce ‖ AES-GCM ciphertext
	DataHash   common.Hash // keccak256(Blob): the blob's content address
	WrappedKey []byte      // ECIES(enclave key, data key), bound to DataHash
}

// WrappedKeyHash is keccak256 of the wrapped key (what the submission signs).
func (s *Sealed) WrappedKeyHash() common.Hash { return crypto.Keccak256Hash(s.WrappedKey) }

// Seal encrypts plaintext under a fresh data key and wraps the key to enclavePub.
func Seal(plaintext []byte, enclavePub *ecdsa.PublicKey) (*Sealed, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	blob, err := Encrypt(key, plaintext)
	if err != nil {
		return nil, err
	}
	dh := crypto.Keccak256Hash(blob)
	wrapped, err := Wrap(key, dh, enclavePub)
	if err != nil {
		return nil, err
	}
	return &Sealed{Blob: blob, DataHash: dh, WrappedKey: wrapped}, nil
}

// Encrypt seals plaintext with key (AES-256-GCM, random nonce).
func Encrypt(key, plaintext []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceLen, 1+nonceLen+len(plaintext)+aead.Overhead())
	out[0] = Version
	if _, err := rand.Read(out[1 : 1+nonceLen]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceLen], plaintext, blobAAD), nil
}

// Decrypt opens a blob made by Encrypt.
func Decrypt(key, blob []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(blob) < 1+nonceLen+aead.Overhead() || blob[0] != Version {
		return nil, fmt.Errorf("%w: too short or unknown version", ErrBadBlob)
	}
	pt, err := aead.Open(nil, blob[1:1+nonceLen], blob[1+nonceLen:], blobAAD)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBlob, err)
	}
	return pt, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Wrap encrypts the data key to the enclave's public key, bound to dataHash.
func Wrap(key []byte, dataHash common.Hash, enclavePub *ecdsa.PublicKey) ([]byte, error) {
	ct, err := ecies.Encrypt(rand.Reader, ecies.ImportECDSAPublic(enclavePub), key, nil, dataHash[:])
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	return ct, nil
}

// Unwrap recovers the data key with the enclave's private key.
func Unwrap(wrapped []byte, dataHash common.Hash, enclaveKey *ecdsa.PrivateKey) ([]byte, error) {
	key, err := ecies.ImportECDSA(enclaveKey).Decrypt(wrapped, nil, dataHash[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnwrap, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes", ErrUnwrap, len(key))
	}
	return key, nil
}

// Open unwraps the key and decrypts the blob, checking its data hash first.
func Open(blob, wrapped []byte, dataHash common.Hash, enclaveKey *ecdsa.PrivateKey) ([]byte, error) {
	if crypto.Keccak256Hash(blob) != dataHash {
		return nil, fmt.Errorf("%w: blob does not hash to data_hash %s", ErrBadBlob, dataHash)
	}
	key, err := Unwrap(wrapped, dataHash, enclaveKey)
	if err != nil {
		return nil, err
	}
	return Decrypt(key, blob)
}
