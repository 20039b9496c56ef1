package prover

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/solidity"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/logger"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/submission"
)

// Errors of key management.
var (
	// ErrKeyMismatch: a key file was made for another circuit (or is corrupt).
	ErrKeyMismatch = errors.New("key does not match the circuit")
	// ErrUnknownVK: no verifying key with that hash is known here.
	ErrUnknownVK = errors.New("unknown verifying key")
	// ErrNoKeys: the proving key of a registered shape is not installed
	// (run `vscd zk setup` or `vscd zk import` for it).
	ErrNoKeys = errors.New("no proving key installed for this shape")
)

// Key origins.
const (
	OriginDev      = "dev"      // single-party setup by vscd: development only
	OriginCeremony = "ceremony" // imported from a multi-party ceremony
)

const (
	vkMagic      = "vsc/zk-vk/1\n"
	pkMagic      = "vsc/zk-pk/1\n"
	circuitMagic = "vsc/zk-circuit/1\n"
)

// gnark logs to stdout by default, which would break `--json` output; vsc
// logs through slog instead.
func init() { logger.Disable() }

// Circuit is a compiled dataset circuit.
type Circuit struct {
	Shape Shape
	// Hash is keccak256 of the shape and the serialized constraint system:
	// any change to the circuit's code changes it, so stale keys are refused.
	Hash common.Hash
	ccs  constraint.ConstraintSystem
}

// Constraints returns the number of R1CS constraints.
func (c *Circuit) Constraints() int { return c.ccs.GetNbConstraints() }

// Compile compiles the circuit of shape s.
func Compile(s Shape) (*Circuit, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, newCircuit(s))
	if err != nil {
		return nil, fmt.Errorf("compile circuit %s: %w", s, err)
	}
	h := crypto.NewKeccakState()
	h.Write([]byte(circuitMagic))
	h.Write(s.encode())
	if _, err := ccs.WriteTo(h); err != nil {
		return nil, fmt.Errorf("hash circuit %s: %w", s, err)
	}
	var ch common.Hash
	h.Read(ch[:])
	return &Circuit{Shape: s, Hash: ch, ccs: ccs}, nil
}

// VerifyingKey is a Groth16 verifying key bundled with the shape it checks.
// Its canonical bytes are vkMagic ‖ shape ‖ circuit hash ‖ gnark's compressed
// verifying key; Hash = keccak256 of them is what an iDAO registers on chain.
type VerifyingKey struct {
	Shape       Shape
	CircuitHash common.Hash
	Hash        common.Hash
	raw         []byte
	vk          *groth16bn254.VerifyingKey
}

func newVerifyingKey(s Shape, circuit common.Hash, vk groth16.VerifyingKey) (*VerifyingKey, error) {
	bvk, ok := vk.(*groth16bn254.VerifyingKey)
	if !ok {
		return nil, fmt.Errorf("verifying key of type %T, want BN254", vk)
	}
	var buf bytes.Buffer
	buf.WriteString(vkMagic)
	buf.Write(s.encode())
	buf.Write(circuit[:])
	if _, err := bvk.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode verifying key: %w", err)
	}
	raw := buf.Bytes()
	return &VerifyingKey{Shape: s, CircuitHash: circuit, Hash: crypto.Keccak256Hash(raw), raw: raw, vk: bvk}, nil
}

// ParseVerifyingKey decodes a verifying-key bundle.
func ParseVerifyingKey(b []byte) (*VerifyingKey, error) {
	if !bytes.HasPrefix(b, []byte(vkMagic)) {
		return nil, fmt.Errorf("%w: not a vsc verifying key file", ErrKeyMismatch)
	}
	s, rest, err := decodeShape(b[len(vkMagic):])
	if err != nil {
		return nil, fmt.Errorf("verifying key: %w", err)
	}
	if len(rest) < 32 {
		return nil, fmt.Errorf("%w: verifying key truncated", ErrKeyMismatch)
	}
	circuit := common.BytesToHash(rest[:32])
	if err := checkVKLayout(rest[32:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	vk := new(groth16bn254.VerifyingKey)
	r := bytes.NewReader(rest[32:])
	if _, err := vk.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("%w: decode verifying key: %v", ErrKeyMismatch, err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the verifying key", ErrKeyMismatch, r.Len())
	}
	if got := vk.NbPublicWitness() - len(vk.PublicAndCommitmentCommitted); got != 3+s.Fields() {
		return nil, fmt.Errorf("%w: verifying key has %d public inputs, shape %s needs %d", ErrKeyMismatch, got, s, 3+s.Fields())
	}
	out, err := newVerifyingKey(s, circuit, vk)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(out.raw, b) {
		return nil, fmt.Errorf("%w: verifying key is not in canonical form", ErrKeyMismatch)
	}
	return out, nil
}

// Bytes returns the canonical bundle (the content of a .vk file).
func (v *VerifyingKey) Bytes() []byte { return bytes.Clone(v.raw) }

// ExportSolidity writes gnark's Solidity verifier for this key. It checks
// proofs made by [ProveChunk] (keccak256 hash-to-field). Public inputs, in
// order: index, root, count, sums[0..F).
func (v *VerifyingKey) ExportSolidity(w io.Writer) error {
	return v.vk.ExportSolidity(w, solidity.WithHashToFieldFunction(crypto.NewKeccakState()))
}

// Keys are a circuit with its proving and verifying key.
type Keys struct {
	*Circuit
	VK     *VerifyingKey
	Origin string
	Fresh  bool // made by a setup in this process (not loaded from disk)
	pk     *groth16bn254.ProvingKey
}

// Setup runs gnark's single-party Groth16 setup: development keys only.
func Setup(c *Circuit) (*Keys, error) {
	pk, vk, err := groth16.Setup(c.ccs)
	if err != nil {
		return nil, fmt.Errorf("groth16 setup %s: %w", c.Shape, err)
	}
	bpk, ok := pk.(*groth16bn254.ProvingKey)
	if !ok {
		return nil, fmt.Errorf("proving key of type %T, want BN254", pk)
	}
	v, err := newVerifyingKey(c.Shape, c.Hash, vk)
	if err != nil {
		return nil, err
	}
	return &Keys{Circuit: c, VK: v, Origin: OriginDev, Fresh: true, pk: bpk}, nil
}

// KeyManager keeps the keys of every shape under one directory:
//
//	DIR/<circuit hash>/proving.key    pkMagic ‖ circuit hash ‖ vk hash ‖ gnark dump
//	DIR/<circuit hash>/verifying.key  the verifying-key bundle
//	DIR/<circuit hash>/origin         "dev" or "ceremony"
//	DIR/vk/<vk hash>.vk               the bundle again, found by its hash
//
// Keys are made once per shape (Groth16 setup) and loaded afterwards; a file
// whose circuit hash differs from the compiled circuit's is refused.
type KeyManager struct {
	dir string
	log *slog.Logger

	mu   sync.Mutex
	byID map[string]*keyEntry
	vks  map[common.Hash]*VerifyingKey
}

type keyEntry struct {
	done chan struct{}
	keys *Keys
	err  error
}

// NewKeyManager returns a key manager over dir (created if absent).
func NewKeyManager(dir string, log *slog.Logger) (*KeyManager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(dir, "vk"), 0o755); err != nil {
		return nil, fmt.Errorf("zk key dir: %w", err)
	}
	return &KeyManager{dir: dir, log: log, byID: map[string]*keyEntry{}, vks: map[common.Hash]*VerifyingKey{}}, nil
}

// Dir returns the key directory.
func (m *KeyManager) Dir() string { return m.dir }

// Keys returns the keys of shape s: from memory, from disk, or made by a
// development setup (slow: seconds to minutes, never on a request's path —
// call it at start for the shapes you serve). Concurrent callers for one
// shape share one setup.
func (m *KeyManager) Keys(ctx context.Context, s Shape) (*Keys, error) {
	return m.get(ctx, s, func() (*Keys, error) { return m.loadOrSetup(s) })
}

// Installed returns the keys of the shape whose verifying key has hash h,
// loaded from disk and never made: a prover's path to a registered shape,
// on which no setup may run (ErrUnknownVK, ErrNoKeys otherwise).
func (m *KeyManager) Installed(ctx context.Context, h common.Hash) (*Keys, error) {
	vk, err := m.VerifyingKey(h)
	if err != nil {
		return nil, err
	}
	k, err := m.get(ctx, vk.Shape, func() (*Keys, error) {
		c, err := Compile(vk.Shape)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(m.dir, c.Hash.Hex())
		if _, err := os.Stat(filepath.Join(dir, "proving.key")); err != nil {
			return nil, fmt.Errorf("%w: %s (vk %s) has none in %s", ErrNoKeys, vk.Shape, h, m.dir)
		}
		return m.load(c, dir)
	})
	if err != nil {
		return nil, err
	}
	if k.VK.Hash != h {
		return nil, fmt.Errorf("%w: the installed keys of %s have vk %s, not the registered %s", ErrKeyMismatch, vk.Shape, k.VK.Hash, h)
	}
	return k, nil
}

// Warm loads or sets up the keys of shapes (call at start, so no setup
// happens on a job's path) and returns their verifying-key hashes in order.
func (m *KeyManager) Warm(ctx context.Context, shapes ...Shape) ([]common.Hash, error) {
	out := make([]common.Hash, len(shapes))
	for i, s := range shapes {
		k, err := m.Keys(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("zk keys for %s: %w", s, err)
		}
		out[i] = k.VK.Hash
	}
	return out, nil
}

func (m *KeyManager) get(ctx context.Context, s Shape, build func() (*Keys, error)) (*Keys, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(s.encode())
	m.mu.Lock()
	e, ok := m.byID[id]
	if !ok {
		e = &keyEntry{done: make(chan struct{})}
		m.byID[id] = e
		m.mu.Unlock()
		e.keys, e.err = build()
		if e.err != nil {
			m.mu.Lock()
			delete(m.byID, id) // let a later call retry
			m.mu.Unlock()
		}
		close(e.done)
	} else {
		m.mu.Unlock()
	}
	select {
	case <-e.done:
		return e.keys, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *KeyManager) loadOrSetup(s Shape) (*Keys, error) {
	c, err := Compile(s)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(m.dir, c.Hash.Hex())
	if _, err := os.Stat(filepath.Join(dir, "proving.key")); err == nil {
		k, err := m.load(c, dir)
		if err != nil {
			return nil, err
		}
		m.log.Info("zk keys loaded", "shape", s.String(), "circuit", c.Hash, "vk", k.VK.Hash, "origin", k.Origin)
		return k, nil
	}
	m.log.Info("zk setup", "shape", s.String(), "constraints", c.Constraints())
	k, err := Setup(c)
	if err != nil {
		return nil, err
	}
	if k, err = m.save(k); err != nil {
		return nil, err
	}
	m.log.Warn("zk keys made by a single-party setup: for development only, use ceremony keys in production",
		"shape", s.String(), "circuit", c.Hash, "vk", k.VK.Hash)
	return k, nil
}

func (m *KeyManager) load(c *Circuit, dir string) (*Keys, error) {
	vb, err := os.ReadFile(filepath.Join(dir, "verifying.key"))
	if err != nil {
		return nil, fmt.Errorf("read verifying key: %w", err)
	}
	vk, err := ParseVerifyingKey(vb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if vk.CircuitHash != c.Hash {
		return nil, fmt.Errorf("%w: %s/verifying.key is for circuit %s, the compiled circuit is %s", ErrKeyMismatch, dir, vk.CircuitHash, c.Hash)
	}
	f, err := os.Open(filepath.Join(dir, "proving.key"))
	if err != nil {
		return nil, fmt.Errorf("read proving key: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	head := make([]byte, len(pkMagic)+64)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(pkMagic)]) != pkMagic {
		return nil, fmt.Errorf("%w: %s/proving.key is not a vsc proving key", ErrKeyMismatch, dir)
	}
	if got := common.BytesToHash(head[len(pkMagic) : len(pkMagic)+32]); got != c.Hash {
		return nil, fmt.Errorf("%w: %s/proving.key is for circuit %s, the compiled circuit is %s", ErrKeyMismatch, dir, got, c.Hash)
	}
	if got := common.BytesToHash(head[len(pkMagic)+32:]); got != vk.Hash {
		return nil, fmt.Errorf("%w: %s/proving.key pairs with verifying key %s, the directory holds %s", ErrKeyMismatch, dir, got, vk.Hash)
	}
	pk := new(groth16bn254.ProvingKey)
	if err := pk.ReadDump(r); err != nil {
		return nil, fmt.Errorf("%w: decode proving key: %v", ErrKeyMismatch, err)
	}
	origin := OriginDev
	if b, err := os.ReadFile(filepath.Join(dir, "origin")); err == nil {
		origin = strings.TrimSpace(string(b))
	}
	return &Keys{Circuit: c, VK: vk, Origin: origin, pk: pk}, nil
}

// save writes k into a fresh directory and renames it into place, so a
// key directory is always complete and one pair. If another process won the
// race for the same circuit, its keys are loaded and returned instead.
func (m *KeyManager) save(k *Keys) (*Keys, error) {
	final := filepath.Join(m.dir, k.Hash.Hex())
	tmp, err := os.MkdirTemp(m.dir, ".keys-*")
	if err != nil {
		return nil, fmt.Errorf("zk key dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	var pb bytes.Buffer
	pb.WriteString(pkMagic)
	pb.Write(k.Hash[:])
	pb.Write(k.VK.Hash[:])
	if err := k.pk.WriteDump(&pb); err != nil {
		return nil, fmt.Errorf("encode proving key: %w", err)
	}
	for name, data := range map[string][]byte{
		"verifying.key": k.VK.raw,
		"origin":        []byte(k.Origin + "\n"),
		"proving.key":   pb.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("write zk keys: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "proving.key")); serr == nil {
			return m.load(k.Circuit, final)
		}
		return nil, fmt.Errorf("install zk keys: %w", err)
	}
	if err := writeAtomic(filepath.Join(m.dir, "vk", k.VK.Hash.Hex()+".vk"), k.VK.raw); err != nil {
		return nil, err
	}
	return k, nil
}

// Import installs keys made elsewhere (a multi-party ceremony, e.g. gnark's
// mpcsetup) for shape s: pkFile and vkFile hold gnark's standard encodings
// of a BN254 Groth16 proving and verifying key. They are checked by proving
// and verifying an empty chunk before they are accepted.
func (m *KeyManager) Import(ctx context.Context, s Shape, pkFile, vkFile string) (*Keys, error) {
	c, err := Compile(s)
	if err != nil {
		return nil, err
	}
	pk := new(groth16bn254.ProvingKey)
	if err := readKeyFile(pkFile, pk); err != nil {
		return nil, err
	}
	gvk := new(groth16bn254.VerifyingKey)
	if err := readKeyFile(vkFile, gvk); err != nil {
		return nil, err
	}
	vk, err := newVerifyingKey(s, c.Hash, gvk)
	if err != nil {
		return nil, err
	}
	k := &Keys{Circuit: c, VK: vk, Origin: OriginCeremony, pk: pk}
	if err := k.probe(); err != nil {
		return nil, fmt.Errorf("%w: imported keys fail a test proof for %s: %v", ErrKeyMismatch, s, err)
	}
	if err := os.RemoveAll(filepath.Join(m.dir, c.Hash.Hex())); err != nil {
		return nil, fmt.Errorf("replace zk keys: %w", err)
	}
	if k, err = m.save(k); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(s.encode())
	m.mu.Lock()
	e := &keyEntry{done: make(chan struct{}), keys: k}
	close(e.done)
	m.byID[id] = e
	m.mu.Unlock()
	m.log.Info("zk ceremony keys imported", "shape", s.String(), "circuit", c.Hash, "vk", vk.Hash)
	return k, ctx.Err()
}

func readKeyFile(path string, into io.ReaderFrom) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	if _, err := into.ReadFrom(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return fmt.Errorf("%w: decode %s: %v", ErrKeyMismatch, path, err)
	}
	return nil
}

// VerifyingKey returns the verifying key with hash h from DIR/vk, checking
// that the file hashes to its name (kept in memory afterwards).
func (m *KeyManager) VerifyingKey(h common.Hash) (*VerifyingKey, error) {
	m.mu.Lock()
	vk, ok := m.vks[h]
	m.mu.Unlock()
	if ok {
		return vk, nil
	}
	vk, err := LoadVerifyingKey(filepath.Join(m.dir, "vk", h.Hex()+".vk"), h)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.vks[h] = vk
	m.mu.Unlock()
	return vk, nil
}

// AddVerifyingKey installs a verifying-key bundle obtained elsewhere (from
// the chain, from a coordinator) so VerifyingKey finds it by its hash.
func (m *KeyManager) AddVerifyingKey(bundle []byte) (*VerifyingKey, error) {
	vk, err := ParseVerifyingKey(bundle)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(m.dir, "vk", vk.Hash.Hex()+".vk"), vk.raw); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.vks[vk.Hash] = vk
	m.mu.Unlock()
	return vk, nil
}

// VerifyEvidence is what a verifier (a quorum member) runs: the evidence's
// key must be one of the hashes registered for the iDAO (ErrVKMismatch
// otherwise); it is loaded by that hash and the evidence checked with
// [VerifyEvidence].
func (m *KeyManager) VerifyEvidence(registered []common.Hash, ev *Evidence, sub *submission.Submission) (*Facts, error) {
	if ev == nil {
		return nil, fmt.Errorf("%w: no evidence", ErrMalformedEvidence)
	}
	if !slices.Contains(registered, ev.VKHash) {
		return nil, fmt.Errorf("%w: evidence key %s is not among the %d registered for the iDAO", ErrVKMismatch, ev.VKHash, len(registered))
	}
	vk, err := m.VerifyingKey(ev.VKHash)
	if err != nil {
		return nil, err
	}
	return VerifyEvidence(vk, ev, sub)
}

// LoadVerifyingKey reads a verifying-key bundle from path; if want is not
// zero the bundle must hash to it.
func LoadVerifyingKey(path string, want common.Hash) (*VerifyingKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && want != (common.Hash{}) {
		return nil, fmt.Errorf("%w: %s (no %s)", ErrUnknownVK, want, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read verifying key: %w", err)
	}
	if want != (common.Hash{}) && crypto.Keccak256Hash(b) != want {
		return nil, fmt.Errorf("%w: %s hashes to %s, want %s", ErrKeyMismatch, path, crypto.Keccak256Hash(b), want)
	}
	vk, err := ParseVerifyingKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if want != (common.Hash{}) && vk.Hash != want {
		return nil, fmt.Errorf("%w: %s hashes to %s, want %s", ErrKeyMismatch, path, vk.Hash, want)
	}
	return vk, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
