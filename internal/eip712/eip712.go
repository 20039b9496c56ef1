// Package eip712 is the one place vsc builds EIP-712 domains, digests and
// signatures. Every signed request in vsc (submissions, votes, DAT requests)
// is typed data under the domain {name: "vsc", version: "1", chainId}, so a
// browser wallet's eth_signTypedData_v4 produces a signature vsc accepts.
//
// Hot paths compute struct hashes by hand (see Keccak helpers); the generic
// HashTypedData, built on go-ethereum's apitypes, is the reference they are
// tested against.
package eip712

import (
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// Name and Version are the EIP-712 domain name and version of every vsc signature.
const (
	Name    = "vsc"
	Version = "1"
)

// ErrBadSignature is returned when a signature is malformed or does not recover.
var ErrBadSignature = errors.New("bad signature")

// DomainType is the EIP712Domain type vsc uses (no verifying contract: vsc
// is not an EVM contract; the chain id separates networks).
var DomainType = []apitypes.Type{
	{Name: "name", Type: "string"},
	{Name: "version", Type: "string"},
	{Name: "chainId", Type: "uint256"},
}

// Domain returns the vsc domain for chainID.
func Domain(chainID uint64) apitypes.TypedDataDomain {
	return apitypes.TypedDataDomain{
		Name:    Name,
		Version: Version,
		ChainId: (*math.HexOrDecimal256)(new(big.Int).SetUint64(chainID)),
	}
}

// NamedDomain returns the domain {name, version: "1", chainId}: the vsc
// domain under another name. The chain's txs sign under "vsc-chain"
// (chain/tx), so no tx signature is ever a valid request signature or the
// other way round.
func NamedDomain(name string, chainID uint64) apitypes.TypedDataDomain {
	d := Domain(chainID)
	d.Name = name
	return d
}

var (
	domainTypeHash = crypto.Keccak256Hash([]byte("EIP712Domain(string name,string version,uint256 chainId)"))
	sepCache       sync.Map // sepKey -> common.Hash
)

type sepKey struct {
	name    string
	chainID uint64
}

// DomainSeparator returns hashStruct(EIP712Domain) for chainID, cached.
func DomainSeparator(chainID uint64) common.Hash { return NamedDomainSeparator(Name, chainID) }

// NamedDomainSeparator returns hashStruct(EIP712Domain) of NamedDomain(name,
// chainID), cached.
func NamedDomainSeparator(name string, chainID uint64) common.Hash {
	k := sepKey{name, chainID}
	if v, ok := sepCache.Load(k); ok {
		return v.(common.Hash)
	}
	var buf [4 * 32]byte
	copy(buf[0:32], domainTypeHash[:])
	copy(buf[32:64], crypto.Keccak256([]byte(name)))
	copy(buf[64:96], crypto.Keccak256([]byte(Version)))
	new(big.Int).SetUint64(chainID).FillBytes(buf[96:128])
	h := crypto.Keccak256Hash(buf[:])
	sepCache.Store(k, h)
	return h
}

// Digest returns keccak256("\x19\x01" ‖ domainSeparator ‖ structHash), the
// value that is signed.
func Digest(chainID uint64, structHash common.Hash) common.Hash {
	return NamedDigest(Name, chainID, structHash)
}

// NamedDigest is Digest under NamedDomain(name, chainID).
func NamedDigest(name string, chainID uint64, structHash common.Hash) common.Hash {
	sep := NamedDomainSeparator(name, chainID)
	var buf [2 + 64]byte
	buf[0], buf[1] = 0x19, 0x01
	copy(buf[2:34], sep[:])
	copy(buf[34:66], structHash[:])
	return crypto.Keccak256Hash(buf[:])
}

// TypedData is EIP-712 typed data in the form eth_signTypedData_v4 takes.
// Its JSON domain holds only the fields that are set, and the EIP712Domain
// type lists exactly those fields: wallets (ethers v6, MetaMask) refuse a
// domain with an empty verifyingContract or salt. The digest is that of
// go-ethereum's apitypes, which hashes the domain by the listed type.
type TypedData apitypes.TypedData

// typedDataJSON is TypedData's wire form, with the domain as a map of the
// fields that are set.
type typedDataJSON struct {
	Types       apitypes.Types            `json:"types"`
	PrimaryType string                    `json:"primaryType"`
	Domain      map[string]any            `json:"domain"`
	Message     apitypes.TypedDataMessage `json:"message"`
}

// DomainJSON returns the domain's set fields, chainId as a JSON number. It
// fails when they differ from the fields the EIP712Domain type lists.
func (td TypedData) DomainJSON() (map[string]any, error) {
	d := td.Domain
	m := map[string]any{}
	if d.Name != "" {
		m["name"] = d.Name
	}
	if d.Version != "" {
		m["version"] = d.Version
	}
	if d.ChainId != nil {
		m["chainId"] = json.Number((*big.Int)(d.ChainId).String())
	}
	if d.VerifyingContract != "" {
		m["verifyingContract"] = d.VerifyingContract
	}
	if d.Salt != "" {
		m["salt"] = d.Salt
	}
	listed := td.Types["EIP712Domain"]
	for _, f := range listed {
		if _, ok := m[f.Name]; !ok {
			return nil, fmt.Errorf("eip712: EIP712Domain lists %q but the domain does not set it", f.Name)
		}
	}
	if len(listed) != len(m) {
		return nil, fmt.Errorf("eip712: the domain sets %d fields but EIP712Domain lists %d", len(m), len(listed))
	}
	return m, nil
}

// MarshalJSON writes td with only the domain's set fields.
func (td TypedData) MarshalJSON() ([]byte, error) {
	dom, err := td.DomainJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(typedDataJSON{Types: td.Types, PrimaryType: td.PrimaryType, Domain: dom, Message: td.Message})
}

// UnmarshalJSON reads typed data as wallets and MarshalJSON write it.
func (td *TypedData) UnmarshalJSON(b []byte) error {
	var a apitypes.TypedData
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*td = TypedData(a)
	return nil
}

// HashTypedData is the generic (slow, reflective) EIP-712 digest of td, as a
// wallet computes it. Fast typed hashers are tested against it.
func HashTypedData(td TypedData) (common.Hash, error) {
	h, _, err := apitypes.TypedDataAndHash(apitypes.TypedData(td))
	if err != nil {
		return common.Hash{}, fmt.Errorf("eip712 hash: %w", err)
	}
	return common.BytesToHash(h), nil
}

// Sign signs digest with key and returns a 65-byte signature with V in
// {27, 28}, the form wallets return.
func Sign(key *ecdsa.PrivateKey, digest common.Hash) ([]byte, error) {
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		return nil, fmt.Errorf("eip712 sign: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// Recover returns the address that signed digest. It accepts V in {0, 1} or
// {27, 28} and refuses malleable (high-s) signatures.
func Recover(digest common.Hash, sig []byte) (common.Address, error) {
	pub, err := RecoverPub(digest, sig)
	if err != nil {
		return common.Address{}, err
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// RecoverPub is Recover's public key.
func RecoverPub(digest common.Hash, sig []byte) (*ecdsa.PublicKey, error) {
	if len(sig) != 65 {
		return nil, fmt.Errorf("%w: want 65 bytes, got %d", ErrBadSignature, len(sig))
	}
	var s [65]byte
	copy(s[:], sig)
	if s[64] >= 27 {
		s[64] -= 27
	}
	if s[64] > 1 {
		return nil, fmt.Errorf("%w: recovery id %d", ErrBadSignature, sig[64])
	}
	r, sv := new(big.Int).SetBytes(s[:32]), new(big.Int).SetBytes(s[32:64])
	if !crypto.ValidateSignatureValues(s[64], r, sv, true) {
		return nil, fmt.Errorf("%w: invalid r/s values", ErrBadSignature)
	}
	pub, err := crypto.SigToPub(digest[:], s[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return pub, nil
}

// Word helpers for hand-written struct hashes (ABI-style 32-byte words).

// Uint64Word returns v as a 32-byte big-endian word.
func Uint64Word(v uint64) (w [32]byte) {
	binary.BigEndian.PutUint64(w[24:], v)
	return w
}

// AddressWord returns a left-padded 32-byte word for a.
func AddressWord(a common.Address) (w [32]byte) {
	copy(w[12:], a[:])
	return w
}

// BoolWord returns 1 or 0 as a 32-byte word.
func BoolWord(b bool) (w [32]byte) {
	if b {
		w[31] = 1
	}
	return w
}

// StringWord returns keccak256 of s, the EIP-712 encoding of a string.
func StringWord(s string) [32]byte {
	return crypto.Keccak256Hash([]byte(s))
}

// StructHash returns keccak256(typeHash ‖ words...).
func StructHash(typeHash common.Hash, words ...[32]byte) common.Hash {
	buf := make([]byte, 32*(1+len(words)))
	copy(buf, typeHash[:])
	for i, w := range words {
		copy(buf[32*(i+1):], w[:])
	}
	return crypto.Keccak256Hash(buf)
}

// recoverCache remembers recovered signers by (digest, signature), for
// RecoverCached.

var recoverCache = struct {
	sync.Mutex
	m map[[32 + 65]byte]common.Address
}{m: map[[32 + 65]byte]common.Address{}}

const recoverCacheMax = 1 << 15

// RecoverCached is Recover with a cache of successful recoveries: a batch
// signature (a member's vote batch, an enclave's result batch) is recovered
// once for all the items it covers, wherever they are checked (the
// coordinator, the chain's block preparation, a member). Recovery is a pure
// function of its inputs, so a cached answer is always right; the cache is
// emptied when it grows past its bound.
func RecoverCached(digest common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != 65 {
		return Recover(digest, sig)
	}
	var k [32 + 65]byte
	copy(k[:], digest[:])
	copy(k[32:], sig)
	recoverCache.Lock()
	a, ok := recoverCache.m[k]
	recoverCache.Unlock()
	if ok {
		return a, nil
	}
	a, err := Recover(digest, sig)
	if err != nil {
		return a, err
	}
	recoverCache.Lock()
	if len(recoverCache.m) >= recoverCacheMax {
		clear(recoverCache.m)
	}
	recoverCache.m[k] = a
	recoverCache.Unlock()
	return a, nil
}

// pubCache remembers recovered public keys by (digest, signature), for
// RecoverPubCached.
var pubCache = struct {
	sync.Mutex
	m map[[32 + 65]byte]*ecdsa.PublicKey
}{m: map[[32 + 65]byte]*ecdsa.PublicKey{}}

// RecoverPubCached is RecoverPub with a cache of successful recoveries, as
// RecoverCached: a job request's key is recovered by the coordinator, the
// provider (to encrypt the answer to it) and the chain (to settle it), once
// per process. The returned key is shared: callers must not modify it.
func RecoverPubCached(digest common.Hash, sig []byte) (*ecdsa.PublicKey, error) {
	if len(sig) != 65 {
		return RecoverPub(digest, sig)
	}
	var k [32 + 65]byte
	copy(k[:], digest[:])
	copy(k[32:], sig)
	pubCache.Lock()
	pub, ok := pubCache.m[k]
	pubCache.Unlock()
	if ok {
		return pub, nil
	}
	pub, err := RecoverPub(digest, sig)
	if err != nil {
		return nil, err
	}
	pubCache.Lock()
	if len(pubCache.m) >= recoverCacheMax {
		clear(pubCache.m)
	}
	pubCache.m[k] = pub
	pubCache.Unlock()
	return pub, nil
}
