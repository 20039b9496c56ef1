// Package envelope is vsc's client-side encryption: the dataset is sealed
// with a fresh AES-256-GCM data key, in authenticated chunks (ENVELOPE.md:
// the chunked format, version 2; version 1, one GCM message, stays
// readable), and the data key is wrapped with ECIES
// (secp256k1, go-ethereum crypto/ecies) to an attested enclave's public key.
// Only that enclave can unwrap it. The wrap is bound to the blob's data hash,
// so a wrapped key cannot be replayed onto another blob.
package envelope

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

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

// BlobOverhead is the least a blob holds besides the plaintext's bytes: a
// single-shot blob's version byte, nonce and AES-GCM tag (a chunked blob
// adds more, StreamOverhead). A blob of n bytes therefore carries at most
// n − BlobOverhead bytes of plaintext (the API bounds the records a
// submission may claim by it).
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
	// ErrDataHash: a streamed blob does not hash to the data hash it was
	// opened for (the storage handed over another blob).
	ErrDataHash = errors.New("blob does not hash to its data hash")
)

// Sealed is a dataset sealed for one enclave key.
type Sealed struct {
	Blob       []byte      // version ‖ nonce ‖ AES-GCM ciphertext
	DataHash   common.Hash // keccak256(Blob): the blob's content address
	WrappedKey []byte      // ECIES(enclave key, data key), bound to DataHash
}

// WrappedKeyHash is keccak256 of the wrapped key (what the submission signs).
func (s *Sealed) WrappedKeyHash() common.Hash { return crypto.Keccak256Hash(s.WrappedKey) }

// Seal encrypts plaintext under a fresh data key, in the chunked format,
// and wraps the key to enclavePub.
func Seal(plaintext []byte, enclavePub *ecdsa.PublicKey) (*Sealed, error) {
	var blob bytes.Buffer
	blob.Grow(len(plaintext) + int(StreamOverhead(int64(len(plaintext)), DefaultChunkSize)))
	dh, wrapped, err := SealStream(&blob, bytes.NewReader(plaintext), enclavePub, DefaultChunkSize)
	if err != nil {
		return nil, err
	}
	return &Sealed{Blob: blob.Bytes(), DataHash: dh, WrappedKey: wrapped}, nil
}

// SealStream encrypts the plaintext read from plain into dst in the
// chunked format (chunk bytes per chunk, 0 for the default) under a fresh
// data key, hashing the blob as it goes, and returns its data hash and the
// key wrapped to enclavePub. Memory: one chunk.
func SealStream(dst io.Writer, plain io.Reader, enclavePub *ecdsa.PublicKey, chunk int) (common.Hash, []byte, error) {
	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return common.Hash{}, nil, fmt.Errorf("data key: %w", err)
	}
	h := crypto.NewKeccakState()
	w, err := NewWriter(io.MultiWriter(dst, h), key, chunk)
	if err != nil {
		return common.Hash{}, nil, err
	}
	if _, err := io.CopyBuffer(w, plain, make([]byte, 256<<10)); err != nil {
		return common.Hash{}, nil, fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return common.Hash{}, nil, fmt.Errorf("encrypt: %w", err)
	}
	var dh common.Hash
	h.Read(dh[:])
	wrapped, err := Wrap(key, dh, enclavePub)
	if err != nil {
		return common.Hash{}, nil, err
	}
	return dh, wrapped, nil
}

// OpenStream unwraps the data key and returns the plaintext of the blob
// read from blob, in either format. The blob is hashed as it is read: the
// reader's last Read (at the end of the blob) fails with ErrBadBlob when it
// does not hash to dataHash, so a consumer believes its result only once
// it has read to io.EOF.
func OpenStream(blob io.Reader, wrapped []byte, dataHash common.Hash, enclaveKey *ecdsa.PrivateKey) (io.Reader, error) {
	key, err := Unwrap(wrapped, dataHash, enclaveKey)
	if err != nil {
		return nil, err
	}
	return DecryptStream(key, blob, dataHash)
}

// DecryptStream is OpenStream with the data key unwrapped already.
func DecryptStream(key []byte, blob io.Reader, dataHash common.Hash) (io.Reader, error) {
	hr := &hashingReader{r: blob, h: crypto.NewKeccakState(), want: dataHash}
	br := bufio.NewReaderSize(hr, 64<<10)
	v, err := br.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("%w: empty blob", ErrBadBlob)
	}
	if v[0] == Version { // the single-shot format: one GCM message, read whole
		raw, err := io.ReadAll(io.LimitReader(br, MaxSingleShot+1))
		if err != nil {
			return nil, err
		}
		if len(raw) > MaxSingleShot {
			return nil, fmt.Errorf("%w: a version-1 blob over %d bytes", ErrBadBlob, MaxSingleShot)
		}
		if err := hr.check(); err != nil {
			return nil, err
		}
		pt, err := Decrypt(key, raw)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(pt), nil
	}
	sr, err := NewReader(br, key)
	if err != nil {
		return nil, err
	}
	return &checkedReader{r: sr, hr: hr}, nil
}

// MaxSingleShot bounds a version-1 blob a stream reader accepts (it must
// hold it whole): the old limit on blobs.
const MaxSingleShot = 64 << 20

// hashingReader hashes what it reads.
type hashingReader struct {
	r    io.Reader
	h    crypto.KeccakState
	want common.Hash
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

func (hr *hashingReader) check() error {
	var got common.Hash
	hr.h.Read(got[:])
	if got != hr.want {
		return fmt.Errorf("%w %s", ErrDataHash, hr.want)
	}
	return nil
}

// checkedReader turns the end of a chunked blob into io.EOF only once the
// blob's hash checks.
type checkedReader struct {
	r  io.Reader
	hr *hashingReader
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		if herr := c.hr.check(); herr != nil {
			return n, herr
		}
	}
	return n, err
}

// Encrypt seals plaintext with key in the single-shot format (version 1:
// one AES-256-GCM message, random nonce), which readers still accept.
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

// Decrypt opens a blob of either format (Encrypt's, or Seal's chunks).
func Decrypt(key, blob []byte) ([]byte, error) {
	if len(blob) > 0 && blob[0] == StreamVersion {
		sr, err := NewReader(bytes.NewReader(blob), key)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, max(0, len(blob)-StreamHeaderSize))
		buf := bytes.NewBuffer(out)
		if _, err := buf.ReadFrom(sr); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
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

// CheckRest reads what is left of the blob under plain (a reader
// DecryptStream returned) and reports ErrDataHash if the whole blob does
// not hash to its data hash: after a refused chunk, it tells a blob the
// storage swapped (the job's fault) from a contributor's bad ciphertext.
func CheckRest(plain io.Reader) error {
	c, ok := plain.(*checkedReader)
	if !ok {
		return nil // a single-shot blob was hashed whole before decryption
	}
	if _, err := io.Copy(io.Discard, c.hr); err != nil {
		return err
	}
	return c.hr.check()
}
