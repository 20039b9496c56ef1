package optimistic

import (
	"fmt"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/tee/facts"
)

// Trace is an executor's (or challenger's) record-by-record computation:
// Hashes[i] is the digest of state_i (facts.State.Digest) for i = 0..n, so
// Hashes[0] is the fixed start state and Hashes[n] is the facts digest.
//
// The trace tree is a keccak256 Merkle tree over Hashes: TraceDepth(n)
// levels, width 2^TraceDepth(n) ≥ n+1, leaf i = Hashes[i] (itself a
// domain-separated keccak digest), unused leaves are the zero hash, and a
// node is keccak256(left ‖ right). Keccak, not Poseidon2: the trace is
// never proven in a circuit, only checked by the chain, where keccak is two
// orders of magnitude cheaper; and the depth is fixed by n, so a leaf and an
// inner node are never confused.
type Trace struct {
	Hashes []common.Hash
	levels [][]common.Hash
}

// TraceDepth is the depth of the trace tree of a claim over n records
// (n+1 leaves).
func TraceDepth(n uint64) int {
	if n == 0 {
		return 0
	}
	return bits.Len64(n) // 2^Len(n) > n, i.e. ≥ n+1 leaves
}

// NewTrace builds the tree over the state hashes h_0..h_n.
func NewTrace(hashes []common.Hash) *Trace {
	n := uint64(len(hashes) - 1)
	d := TraceDepth(n)
	lvl := make([]common.Hash, 1<<d)
	copy(lvl, hashes)
	t := &Trace{Hashes: hashes, levels: [][]common.Hash{lvl}}
	kh := crypto.NewKeccakState()
	var buf [64]byte
	for len(lvl) > 1 {
		next := make([]common.Hash, len(lvl)/2)
		for i := range next {
			copy(buf[:32], lvl[2*i][:])
			copy(buf[32:], lvl[2*i+1][:])
			kh.Reset()
			kh.Write(buf[:])
			_, _ = kh.Read(next[i][:])
		}
		t.levels = append(t.levels, next)
		lvl = next
	}
	return t
}

// ComputeTrace runs the shared step (tee/facts) over ds from the start state
// New(fields, p) and returns the trace. Its last hash equals
// facts.Compute(ds, p)'s digest when fields are ds.Fields.
func ComputeTrace(ds *records.Dataset, fields []string, p facts.Params) (*Trace, error) {
	return computeTrace(ds, fields, p, facts.Hints(ds))
}

func computeTrace(ds *records.Dataset, fields []string, p facts.Params, dups []bool) (*Trace, error) {
	if len(fields) != len(ds.Fields) {
		return nil, fmt.Errorf("trace: %d field names for records of %d values", len(fields), len(ds.Fields))
	}
	s := facts.New(fields, p)
	out := make([]common.Hash, 0, len(ds.Records)+1)
	out = append(out, s.Digest())
	for i, dup := range dups {
		if err := s.Apply(ds.Records[i], dup); err != nil {
			return nil, fmt.Errorf("trace: record %d: %w", i+1, err)
		}
		out = append(out, s.Digest())
	}
	return NewTrace(out), nil
}

// N is the number of records (steps) of the trace.
func (t *Trace) N() uint64 { return uint64(len(t.Hashes) - 1) }

// Root is the trace tree's root.
func (t *Trace) Root() common.Hash { return t.levels[len(t.levels)-1][0] }

// Final is h_n, the facts digest the trace ends in.
func (t *Trace) Final() common.Hash { return t.Hashes[len(t.Hashes)-1] }

// Proof returns the siblings of leaf i, bottom first (TraceDepth(n) of them).
func (t *Trace) Proof(i uint64) []common.Hash {
	path := make([]common.Hash, len(t.levels)-1)
	for k := range path {
		path[k] = t.levels[k][i^1]
		i >>= 1
	}
	return path
}

// Reveal returns h_i with its proof: what a move posts.
func (t *Trace) Reveal(i uint64) Reveal {
	return Reveal{Index: i, Hash: t.Hashes[i], Proof: t.Proof(i)}
}

// Reveal is one state hash of a trace with its Merkle proof against the
// trace root of a claim over N records: the fixed format every move uses.
type Reveal struct {
	Index uint64        `json:"index"`
	Hash  common.Hash   `json:"hash"`
	Proof []common.Hash `json:"proof"`
}

// TraceRootFromProof recomputes a trace root from leaf i and its proof in a
// trace over n records. A proof of the wrong length is refused.
func TraceRootFromProof(n, i uint64, leaf common.Hash, proof []common.Hash) (common.Hash, error) {
	d := TraceDepth(n)
	if len(proof) != d {
		return common.Hash{}, fmt.Errorf("%w: %d siblings, a trace of %d records needs %d", ErrBadTraceProof, len(proof), n, d)
	}
	if i > n {
		return common.Hash{}, fmt.Errorf("%w: index %d past the last state %d", ErrOutOfRange, i, n)
	}
	h := leaf
	for _, s := range proof {
		if i&1 == 0 {
			h = crypto.Keccak256Hash(h[:], s[:])
		} else {
			h = crypto.Keccak256Hash(s[:], h[:])
		}
		i >>= 1
	}
	return h, nil
}

// VerifyReveal checks r against root for a trace over n records.
func VerifyReveal(n uint64, root common.Hash, r Reveal) error {
	got, err := TraceRootFromProof(n, r.Index, r.Hash, r.Proof)
	if err != nil {
		return err
	}
	if got != root {
		return fmt.Errorf("%w: state %d does not prove against trace root %s", ErrBadTraceProof, r.Index, root.Hex())
	}
	return nil
}

// StartHash is h_0: the digest of the start state of a claim whose records
// have these field names, under these facts parameters.
func StartHash(fields []string, p facts.Params) common.Hash {
	return facts.New(fields, p).Digest()
}
