package tee

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Backend is what an enclave needs from its platform: attest 64 bytes of
// report data, and seal secrets so that only the same enclave can read them
// back after a restart. Implemented by Sim and, with the ego build tag, by
// the SGX backend (NewEgo).
type Backend interface {
	Name() string
	Attest(data [ReportDataSize]byte) (Attestation, error)
	Seal(plaintext []byte) ([]byte, error)
	Unseal(sealed []byte) ([]byte, error)
}

// KeyFile is the name of the sealed enclave identity inside an enclave's data dir.
const KeyFile = "enclave-key.sealed"

// keyDomain separates key attestations from every other report.
var keyDomain = []byte("vsc-enclave-key-v1")

// KeyID is keccak256(domain ‖ pubkey): the report data of a key attestation
// (first 32 bytes; the rest zero), and the second half of every result report.
// pubkey is the 65-byte uncompressed secp256k1 public key.
func KeyID(pubkey []byte) common.Hash { return crypto.Keccak256Hash(keyDomain, pubkey) }

// KeyReportData is the report data of a key attestation.
func KeyReportData(pubkey []byte) [ReportDataSize]byte {
	var d [ReportDataSize]byte
	id := KeyID(pubkey)
	copy(d[:32], id[:])
	return d
}

// ResultReportData is the report data of a result report:
// keccak256(pubkey ‖ result digest) ‖ KeyID(pubkey). The first half binds the
// result to the key, as the design asks; the second half names the key alone,
// so a verifier can tell a report for another key from a replayed result.
func ResultReportData(pubkey []byte, result common.Hash) [ReportDataSize]byte {
	var d [ReportDataSize]byte
	b := crypto.Keccak256(pubkey, result[:])
	copy(d[:32], b)
	id := KeyID(pubkey)
	copy(d[32:], id[:])
	return d
}

// Enclave is a running enclave: a backend and the enclave's identity key,
// which is made inside the enclave on first start and sealed to disk, so a
// restarted enclave keeps its key (and its on-chain registration).
type Enclave struct {
	backend   Backend
	key       *ecdsa.PrivateKey
	pub       []byte
	keyReport Attestation
}

// Open loads the identity sealed in dir (dir/KeyFile, mode 0600), creating
// and sealing a fresh key on first start, and attests the key.
func Open(b Backend, dir string) (*Enclave, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("enclave dir: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	key, err := loadSealedKey(b, path)
	if errors.Is(err, os.ErrNotExist) {
		key, err = createSealedKey(b, path)
	}
	if err != nil {
		return nil, err
	}
	e := &Enclave{backend: b, key: key, pub: crypto.FromECDSAPub(&key.PublicKey)}
	if e.keyReport, err = b.Attest(KeyReportData(e.pub)); err != nil {
		return nil, fmt.Errorf("attest enclave key: %w", err)
	}
	return e, nil
}

func loadSealedKey(b Backend, path string) (*ecdsa.PrivateKey, error) {
	sealed, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := b.Unseal(sealed)
	if err != nil {
		return nil, fmt.Errorf("unseal enclave key %s: %w", path, err)
	}
	defer clear(raw)
	key, err := crypto.ToECDSA(raw)
	if err != nil {
		return nil, fmt.Errorf("sealed enclave key %s is corrupt: %w", path, err)
	}
	return key, nil
}

func createSealedKey(b Backend, path string) (*ecdsa.PrivateKey, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	raw := crypto.FromECDSA(key)
	defer clear(raw)
	sealed, err := b.Seal(raw)
	if err != nil {
		return nil, fmt.Errorf("seal enclave key: %w", err)
	}
	// Write to a temp file and rename, so a crash never leaves half a key.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(sealed); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return key, nil
}

// Backend returns the enclave's backend name (BackendSim or BackendEgo).
func (e *Enclave) Backend() string { return e.backend.Name() }

// PublicKey returns the enclave's public key (clients wrap data keys to it).
func (e *Enclave) PublicKey() *ecdsa.PublicKey { return &e.key.PublicKey }

// PublicKeyBytes returns the 65-byte uncompressed public key.
func (e *Enclave) PublicKeyBytes() []byte { return append([]byte(nil), e.pub...) }

// Address returns the Ethereum address of the enclave key.
func (e *Enclave) Address() common.Address { return crypto.PubkeyToAddress(e.key.PublicKey) }

// KeyAttestation returns the report binding the enclave key (report data
// KeyReportData(pubkey)); register it on chain and serve it to clients.
func (e *Enclave) KeyAttestation() Attestation { return e.keyReport }

// VerifyKeyAttestation checks that att is a report, acceptable under p, of an
// enclave attesting pubkey (65-byte uncompressed). The client runs it before
// wrapping a data key; the chain runs it on enclave-key registration.
func VerifyKeyAttestation(p Policy, pubkey []byte, att Attestation) (*Report, error) {
	if _, err := crypto.UnmarshalPubkey(pubkey); err != nil {
		return nil, fmt.Errorf("%w: enclave public key: %v", ErrMalformed, err)
	}
	r, err := VerifyReport(p, att)
	if err != nil {
		return nil, err
	}
	if !checkData(r.Data, KeyReportData(pubkey)) {
		return nil, ErrKeyBinding
	}
	return r, nil
}

// OpenBackend opens the enclave of the named backend (BackendSim or
// BackendEgo) with its identity sealed in dir.
func OpenBackend(name, dir string) (*Enclave, error) {
	switch name {
	case BackendSim:
		return OpenSim(dir)
	case BackendEgo:
		return OpenEgo(dir)
	}
	return nil, fmt.Errorf("unknown TEE backend %q (want %s or %s)", name, BackendSim, BackendEgo)
}

// KeyInfo is an enclave key as published: registered on chain by the
// worker's operator, served by the coordinator, checked by clients with
// VerifyKeyAttestation(policy, PublicKey, Attestation) before wrapping.
type KeyInfo struct {
	Backend     string         `json:"backend"`
	Address     common.Address `json:"address"`
	PublicKey   hexutil.Bytes  `json:"public_key"`
	Attestation Attestation    `json:"attestation"`
}

// Info returns the enclave's published key.
func (e *Enclave) Info() KeyInfo {
	return KeyInfo{Backend: e.Backend(), Address: e.Address(), PublicKey: e.PublicKeyBytes(), Attestation: e.keyReport}
}

// Verify checks the published key under p (VerifyKeyAttestation).
func (k *KeyInfo) Verify(p Policy) (*Report, error) {
	return VerifyKeyAttestation(p, k.PublicKey, k.Attestation)
}

// SimRoot returns the address of the simulation root that signs this
// enclave's reports, and false for a backend that is not the simulation.
func (e *Enclave) SimRoot() (common.Address, bool) {
	if s, ok := e.backend.(*Sim); ok {
		return s.Root(), true
	}
	return common.Address{}, false
}

// Policy returns a policy that accepts this enclave: its signer, product
// and security version, and for the simulation backend its root (with
// allow_simulation). `vscd worker --show-policy` prints it.
func (e *Enclave) Policy() Policy {
	if root, ok := e.SimRoot(); ok {
		return SimPolicy(root)
	}
	self := e.SelfReport()
	pid, _ := productID(self.ProductID)
	return Policy{SignerID: self.SignerID, ProductID: pid, MinSecurityVersion: self.SecurityVersion}
}

// SelfReport returns the enclave's own measurement (UniqueID, SignerID,
// ProductID, SecurityVersion, Debug), for operators writing a Policy.
func (e *Enclave) SelfReport() Report {
	if s, ok := e.backend.(interface{ SelfReport() Report }); ok {
		return s.SelfReport()
	}
	return Report{}
}
