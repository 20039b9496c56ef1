package optimistic

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/tee/facts"
)

// StepProof is the single-step proof for state i (record i, 1-based): the
// preimage of the agreed state_{i-1}, record i with its Merkle path to the
// submission's commitment, and — when record i repeats an earlier record —
// the index and path of that earlier identical record.
//
// Why a witness, not an accumulator: facts.Step needs to know whether record
// i is a duplicate of any record j < i, which one Merkle path cannot show. A
// duplicate is shown positively (leaf j < i equal to leaf i, both proving to
// the same root); "not a duplicate" is the default that stands unless the
// other side shows such a j (see Game.Step). This keeps the state, and so
// the trace and the facts digest, exactly the TEE's (tee/facts), instead of
// adding a set accumulator whose updates would cost the watcher ~20 hashes
// per record.
type StepProof struct {
	Prev     []byte        `json:"prev"`      // facts.State.Encode() of state_{i-1}
	Record   []int64       `json:"record"`    // record i's values
	Path     []common.Hash `json:"path"`      // records.Depth siblings of leaf i-1, as field elements
	Dup      bool          `json:"dup"`       // a duplicate witness follows
	DupIndex uint64        `json:"dup_index"` // 0-based leaf index j < i-1 of an identical record
	DupPath  []common.Hash `json:"dup_path"`  // j's siblings below the level where j's and i-1's paths meet (DupPath)
}

// StepResult is what the referee learns from a valid step proof: the digest
// of state_i if record i is not a duplicate (NoDup) and if it is (Dup), and
// whether the proof showed that it is.
type StepResult struct {
	NoDup, Dup common.Hash
	DupShown   bool
}

// Correct is the digest of state_i as far as the proof shows.
func (r StepResult) Correct() common.Hash {
	if r.DupShown {
		return r.Dup
	}
	return r.NoDup
}

// MaxStateSize bounds an encoded state in a step proof.
const MaxStateSize = 4096

// CheckStep is the chain's single-step check for state i of a claim over n
// records committed to by commitment: the previous state must hash to agreed
// (the last state both sides agree on), the record must prove to the
// commitment at leaf i-1, and a duplicate witness, if any, must be an
// earlier leaf equal to it. It runs the shared step (facts.Step) both ways.
func CheckStep(commitment common.Hash, n, i uint64, agreed common.Hash, p *StepProof) (StepResult, error) {
	if i == 0 || i > n {
		return StepResult{}, fmt.Errorf("%w: step %d of a claim over %d records", ErrOutOfRange, i, n)
	}
	prev, err := DecodeState(p.Prev)
	if err != nil {
		return StepResult{}, err
	}
	if prev.Digest() != agreed {
		return StepResult{}, fmt.Errorf("%w: previous state hashes to %s, the agreed state %d is %s", ErrBadState, prev.Digest().Hex(), i-1, agreed.Hex())
	}
	f := len(prev.Fields)
	if len(p.Record) != f {
		return StepResult{}, fmt.Errorf("%w: record of %d values, the state has %d fields", ErrBadRecord, len(p.Record), f)
	}
	leaf := records.LeafHash(p.Record)
	root, err := pathRoot(leaf, i-1, p.Path)
	if err != nil {
		return StepResult{}, err
	}
	if records.ToHash(records.Seal(root, int(n), f)) != commitment {
		return StepResult{}, fmt.Errorf("%w: record %d with its path seals to another commitment than %s", ErrBadRecord, i, commitment.Hex())
	}
	var res StepResult
	if p.Dup {
		if err := checkDup(leaf, i-1, p); err != nil {
			return StepResult{}, err
		}
		res.DupShown = true
	}
	s0, err := facts.Step(prev, p.Record, false)
	if err != nil {
		return StepResult{}, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	s1, err := facts.Step(prev, p.Record, true)
	if err != nil {
		return StepResult{}, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	res.NoDup, res.Dup = s0.Digest(), s1.Digest()
	return res, nil
}

// checkDup checks the duplicate witness of leaf i: leaf j < i hashes up,
// with its L-1 siblings, to the sibling of leaf i's ancestor at level L-1,
// where L is the level at which i and j meet. So the witness only proves the
// part of its path that differs from leaf i's (already checked) path.
func checkDup(leaf fr.Element, i uint64, p *StepProof) error {
	j := p.DupIndex
	if j >= i {
		return fmt.Errorf("%w: index %d is not before record %d", ErrBadDupWitness, j, i+1)
	}
	l := bits.Len64(i ^ j)
	if len(p.DupPath) != l-1 {
		return fmt.Errorf("%w: %d siblings, records %d and %d meet at level %d so it needs %d", ErrBadDupWitness, len(p.DupPath), j+1, i+1, l, l-1)
	}
	h := leaf
	for k, sh := range p.DupPath {
		s, err := records.FromHash(sh)
		if err != nil {
			return fmt.Errorf("%w: sibling %d: %v", ErrBadDupWitness, k, err)
		}
		if (j>>k)&1 == 0 {
			h = records.Compress(&h, &s)
		} else {
			h = records.Compress(&s, &h)
		}
	}
	if records.ToHash(h) != p.Path[l-1] {
		return fmt.Errorf("%w: record %d differs from record %d", ErrBadDupWitness, j+1, i+1)
	}
	return nil
}

// DupPath returns the witness path of leaf j for a duplicate of leaf i
// (j < i): the siblings below the level where their paths meet.
func DupPath(t *records.Tree, i, j int) []common.Hash {
	l := bits.Len64(uint64(i) ^ uint64(j))
	return RecordPath(t, j)[:l-1]
}

func pathRoot(leaf fr.Element, i uint64, path []common.Hash) (fr.Element, error) {
	if len(path) != records.Depth {
		return fr.Element{}, fmt.Errorf("%w: path of %d siblings, want %d", ErrBadRecord, len(path), records.Depth)
	}
	if i >= 1<<records.Depth {
		return fr.Element{}, fmt.Errorf("%w: leaf %d outside the tree", ErrBadRecord, i)
	}
	sib := make([]fr.Element, records.Depth)
	for k, h := range path {
		e, err := records.FromHash(h)
		if err != nil {
			return fr.Element{}, fmt.Errorf("%w: sibling %d: %v", ErrBadRecord, k, err)
		}
		sib[k] = e
	}
	return records.RootFromPath(leaf, i, sib)
}

// RecordPath converts a records.Tree proof to the hashes a StepProof carries.
func RecordPath(t *records.Tree, i int) []common.Hash {
	p := t.Proof(i)
	out := make([]common.Hash, len(p))
	for k := range p {
		out[k] = records.ToHash(p[k])
	}
	return out
}

var stateDomain = []byte("vsc-facts-state-v1")

// DecodeState parses facts.State.Encode's canonical encoding. It refuses
// anything else (wrong domain, truncation, trailing bytes, more fields than
// records.MaxFields, an oversized input) and never panics:
// DecodeState(s.Encode()) re-encodes to the same bytes.
func DecodeState(b []byte) (*facts.State, error) {
	if len(b) > MaxStateSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadState, len(b), MaxStateSize)
	}
	d := decoder{b: b}
	if !bytes.HasPrefix(b, stateDomain) {
		return nil, fmt.Errorf("%w: not a facts state encoding", ErrBadState)
	}
	d.b = d.b[len(stateDomain):]
	s := &facts.State{}
	s.Params.Lo = int64(d.u64())
	s.Params.Hi = int64(d.u64())
	nf := d.count()
	for range nf {
		l := d.u32()
		s.Fields = append(s.Fields, string(d.bytes(int(l))))
	}
	s.Records = d.u64()
	for range d.count() {
		s.Sum = append(s.Sum, facts.Int128{Hi: int64(d.u64()), Lo: d.u64()})
	}
	for range d.count() {
		s.Min = append(s.Min, int64(d.u64()))
	}
	for range d.count() {
		s.Max = append(s.Max, int64(d.u64()))
	}
	s.Invalid = d.u64()
	s.Duplicates = d.u64()
	s.Clean = d.u64()
	if d.bad || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: truncated or trailing bytes", ErrBadState)
	}
	if s.Fields == nil {
		s.Fields = []string{}
	}
	return s, nil
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) bytes(n int) []byte {
	if d.bad || n < 0 || len(d.b) < n {
		d.bad = true
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// count reads an array length, refusing more than records.MaxFields.
func (d *decoder) count() int {
	n := d.u32()
	if n > records.MaxFields {
		d.bad = true
		return 0
	}
	return int(n)
}
