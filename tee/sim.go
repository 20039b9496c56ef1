package tee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgelesssys/ego/attestation/tcbstatus"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/keys"
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

// SimRootFile is the name of a simulation root's key file inside the
// simulation enclave's data dir (next to its sealed identity): the devnet
// and a standalone sim worker each make their own on first start.
const SimRootFile = "sim-root.key"

// NewRandomSimRoot returns a fresh simulation root. Nobody trusts it until a
// policy lists its address in SimulationRoots.
func NewRandomSimRoot() (*SimRoot, error) {
	k, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("make a simulation root: %w", err)
	}
	return NewSimRoot(k), nil
}

// LoadOrCreateSimRoot loads the simulation root kept at path (a 0600 hex
// key file), making a fresh random one on first use. Each devnet and each
// standalone sim worker has its own: a root derived from anything public
// would let anyone sign reports that every simulation policy accepts.
func LoadOrCreateSimRoot(path string) (*SimRoot, error) {
	k, err := keys.LoadOrCreate(path)
	if err != nil {
		return nil, fmt.Errorf("simulation root %s: %w", path, err)
	}
	return NewSimRoot(k), nil
}

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
	Root            *SimRoot // nil: a fresh random root that no policy trusts
	UniqueID        []byte
	SignerID        []byte
	ProductID       uint16
	SecurityVersion uint
	Debug           bool
	TCBStatus       tcbstatus.Status
}

// DefaultSimConfig is the default simulated enclave, its reports signed by root.
func DefaultSimConfig(root *SimRoot) SimConfig {
	return SimConfig{
		Root:            root,
		UniqueID:        SimUniqueID,
		SignerID:        SimSignerID,
		ProductID:       SimProductID,
		SecurityVersion: SimSecurityVersion,
		TCBStatus:       tcbstatus.UpToDate,
	}
}

// SimPolicy is the policy of a devnet (or of a sim worker's operator): it
// accepts the default sim enclave whose reports one of roots signed
// (allow_simulation, SimSignerID + SimProductID, the sim security version)
// and nothing that a strict policy would refuse otherwise.
func SimPolicy(roots ...common.Address) Policy {
	return Policy{
		SignerID:           SimSignerID,
		ProductID:          SimProductID,
		MinSecurityVersion: SimSecurityVersion,
		AllowSimulation:    true,
		SimulationRoots:    append([]common.Address(nil), roots...),
	}
}

// Sim is the simulation backend.
type Sim struct{ cfg SimConfig }

// NewSim returns a simulation backend for cfg.
func NewSim(cfg SimConfig) *Sim {
	if cfg.Root == nil {
		root, err := NewRandomSimRoot()
		if err != nil {
			panic(err) // crypto/rand failed: nothing else would work either
		}
		cfg.Root = root
	}
	return &Sim{cfg: cfg}
}

// Root is the address of the root that signs this backend's reports: the
// one a policy lists in SimulationRoots to accept them.
func (s *Sim) Root() common.Address { return s.cfg.Root.Address() }

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
// dir, its reports signed by the simulation root kept beside it
// (dir/SimRootFile, made on first start): the devnet's and the sim worker's
// one-call constructor. SimPolicy(enclave's SimRoot) accepts it.
func OpenSim(dir string) (*Enclave, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open simulation enclave: %w", err)
	}
	root, err := LoadOrCreateSimRoot(filepath.Join(dir, SimRootFile))
	if err != nil {
		return nil, fmt.Errorf("open simulation enclave: %w", err)
	}
	e, err := Open(NewSim(DefaultSimConfig(root)), dir)
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
