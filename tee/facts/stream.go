package facts

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Stream computes the facts of a dataset whose records arrive in order,
// with their commitment leaves (records.Committer's OnBlock), holding no
// record: a duplicate is a record whose leaf an earlier record had. Leaves
// are collision-resistant hashes of the records (Poseidon2 over an
// injective packing, records.LeafHash), so equal leaves are equal records;
// the set keeps 128 bits of each leaf, 16 bytes a record where Compute
// keeps the records themselves, and gives Compute's facts unless two of a
// dataset's distinct records agree in those bits (about n²/2^129).
type Stream struct {
	s    *State
	seen map[[2]uint64]struct{}
}

// MaxSizeHint bounds the records a Stream's set is sized for up front.
const MaxSizeHint = 1 << 24

// NewStream starts the facts of a dataset of fields under p; sizeHint is
// the expected record count (the set is made for it, at most MaxSizeHint).
func NewStream(fields []string, p Params, sizeHint int) *Stream {
	return &Stream{s: New(fields, p), seen: make(map[[2]uint64]struct{}, min(max(sizeHint, 0), MaxSizeHint))}
}

// Add applies records with their leaves (leaves[i] is recs[i]'s).
func (st *Stream) Add(recs [][]int64, leaves []fr.Element) error {
	if len(recs) != len(leaves) {
		return fmt.Errorf("%w: %d records, %d leaves", ErrWidth, len(recs), len(leaves))
	}
	for i, rec := range recs {
		k := [2]uint64{leaves[i][0], leaves[i][1]}
		_, dup := st.seen[k]
		if !dup {
			st.seen[k] = struct{}{}
		}
		if err := st.s.Apply(rec, dup); err != nil {
			return err
		}
	}
	return nil
}

// Facts are the facts of the records added.
func (st *Stream) Facts() Facts { return st.s.Facts() }
