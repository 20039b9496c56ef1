package tee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/edgelesssys/ego/attestation/tcbstatus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// ─── SIMULATION ────────────────────────────────────────────────────────────
// The sim backend is a SOFTWARE enclave for machines without SGX (devnet,
// tests, CI). Its reports carry the same fields as an SGX report and are
// signed by a simulation root key, but nothing protects its memory or its
// sealed files from the host: a simulation report proves NOTHING about
// confidentiality. Verifiers accept it only under a policy with
// allow_simulation, which only the devnet sets.
// ───────────────────────────────────────────────────────────────────────────

// SimRoot is a simulation root key: it plays the part of Intel's attestation
// root for simulation reports.
type SimRoot struct{ key *ecdsa.PrivateKey }

// NewSimRoot wraps key as a simulation root.
func NewSimRoot(key *ecdsa.PrivateKey) *SimRoot { return &SimRoot{key: key} }

// Address identifies the root in Policy.SimulationRoots.
func (r *SimRoot) Address() common.Address { return crypto.PubkeyToAddress(r.key.PublicKey) }

// devSimRootSeed is NOT a secret: every devnet shares this root so that a
// client and a devnet started separately agree on it out of the box.
var devSimRootSeed = crypto.Keccak256([]byte("vsc devnet simulation root: NOT SECRET, never trust in production"))

// DevSimRoot is the well-known devnet simulation root.
var DevSimRoot = func() *SimRoot {
	k, err := crypto.ToECDSA(devSimRootSeed)
	if err != nil {
		panic(err) // a keccak digest is a valid key with overwhelming probability; checked by tests
	}
	return NewSimRoot(k)
}()

// DevSimRootAddress is DevSimRoot's address, the default trusted simulation root.
var DevSimRootAddress = DevSimRoot.Address()

// Simulated measurement of the default sim enclave.
var (
	SimUniqueID = sha256Of("vsc simulation enclave v1")
	SimSignerID = sha256Of("vsc simulation signer v1")
)

// SimProductID and SimSecurityVersion are the default sim enclave's product
// and security version.
const (
	SimProductID       = 1
	SimSecurityVersion = 1
)

func sha256Of(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// SimConfig describes the enclave the sim backend pretends to be. Tests vary
// it to make reports with a wrong measurement, debug flag or TCB status.
type SimConfig struct {
	Root            *SimRoot // nil: DevSimRoot
	UniqueID        []byte
	SignerID        []byte
	ProductID       uint16
	SecurityVersion uint
	Debug           bool
	TCBStatus       tcbstatus.Status
}

// DefaultSimConfig is the devnet's simulated enclave.
func DefaultSimConfig() SimConfig {
	return SimConfig{
		Root:            DevSimRoot,
		UniqueID:        SimUniqueID,
		SignerID:        SimSignerID,
		ProductID:       SimProductID,
		SecurityVersion: SimSecurityVersion,
		TCBStatus:       tcbstatus.UpToDate,
	}
}

// DevPolicy is the devnet's policy: it accepts the default sim enclave
// (allow_simulation, DevSimRoot, SimSignerID + SimProductID, the sim
// security version) and nothing that a strict policy would refuse otherwise.
func DevPolicy() Policy {
	return Policy{
		SignerID:           SimSignerID,
		ProductID:          SimProductID,
		MinSecurityVersion: SimSecurityVersion,
		AllowSimulation:    true,
		SimulationRoots:    []common.Address{DevSimRootAddress},
	}
}

// Sim is the simulation backend.
type Sim struct{ cfg SimConfig }

// NewSim returns a simulation backend for cfg.
func NewSim(cfg SimConfig) *Sim {
	if cfg.Root == nil {
		cfg.Root = DevSimRoot
	}
	return &Sim{cfg: cfg}
}

// Name returns BackendSim.
func (s *Sim) Name() string { return BackendSim }

// Attest returns a simulation report over data, signed by the root.
func (s *Sim) Attest(data [ReportDataSize]byte) (Attestation, error) {
	r := s.SelfReport()
	r.Data, r.Simulated = data[:], false
	raw, err := EncodeSimReport(&r, s.cfg.Root)
	if err != nil {
		return Attestation{}, err
	}
	return Attestation{Backend: BackendSim, Report: raw}, nil
}

var simSealHeader = []byte("vsc-sim-sealed-v1 (NOT ENCRYPTED: simulation backend)\n")

// Seal "seals" a secret for the simulation enclave: it is stored in the
// clear, marked as such, in a 0600 file. Simulation has no sealing key.
func (s *Sim) Seal(plaintext []byte) ([]byte, error) {
	return append(append([]byte(nil), simSealHeader...), plaintext...), nil
}

// Unseal reverses Seal.
func (s *Sim) Unseal(sealed []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, simSealHeader) {
		return nil, errors.New("not a simulation-sealed file (sealed by another backend?)")
	}
	return append([]byte(nil), sealed[len(simSealHeader):]...), nil
}

// OpenSim opens (or creates) the simulation enclave whose identity lives in
// dir: the devnet's one-call constructor.
func OpenSim(dir string) (*Enclave, error) {
	e, err := Open(NewSim(DefaultSimConfig()), dir)
	if err != nil {
		return nil, fmt.Errorf("open simulation enclave: %w", err)
	}
	return e, nil
}

// SelfReport returns the simulated measurement.
func (s *Sim) SelfReport() Report {
	pid := make([]byte, 16)
	binary.LittleEndian.PutUint16(pid, s.cfg.ProductID)
	return Report{SecurityVersion: s.cfg.SecurityVersion, Debug: s.cfg.Debug, UniqueID: s.cfg.UniqueID,
		SignerID: s.cfg.SignerID, ProductID: pid, TCBStatus: s.cfg.TCBStatus, Simulated: true}
}
