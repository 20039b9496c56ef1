package facts

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Stream computes the facts of a dataset whose records arrive in order,
// with their commitment leaves (records.Committer's OnBlock), holding no
// record. Duplicates need no order: record i is a duplicate when an earlier
// record equals it, so the duplicates are n − (distinct records) and the
// clean records are the distinct valid ones (equal records are equally
// valid). Stream keeps 16 bytes a record — 127 bits of its leaf and whether
// it is valid — and counts them sorted at the end. Leaves are
// collision-resistant hashes of the records (Poseidon2 over an injective
// packing, records.LeafHash), so the counts are Compute's unless two
// distinct records of a dataset agree in those bits (about n²/2^128).
type Stream struct {
	s    *State
	keys [][2]uint64
}

// MaxSizeHint bounds the records a Stream makes room for up front.
const MaxSizeHint = 1 << 24

// NewStream starts the facts of a dataset of fields under p; sizeHint is
// the expected record count (room is made for it, at most MaxSizeHint).
func NewStream(fields []string, p Params, sizeHint int) *Stream {
	return &Stream{s: New(fields, p), keys: make([][2]uint64, 0, min(max(sizeHint, 0), MaxSizeHint))}
}

// Add applies records with their leaves (leaves[i] is recs[i]'s).
func (st *Stream) Add(recs [][]int64, leaves []fr.Element) error {
	if len(recs) != len(leaves) {
		return fmt.Errorf("%w: %d records, %d leaves", ErrWidth, len(recs), len(leaves))
	}
	for i, rec := range recs {
		invalid := st.s.Invalid
		if err := st.s.Apply(rec, false); err != nil {
			return err
		}
		valid := uint64(0)
		if st.s.Invalid == invalid {
			valid = 1
		}
		st.keys = append(st.keys, [2]uint64{leaves[i][0], leaves[i][1]&^1 | valid})
	}
	return nil
}

// Facts are the facts of the records added (call once, at the end).
func (st *Stream) Facts() Facts {
	slices.SortFunc(st.keys, func(a, b [2]uint64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	var distinct, clean uint64
	for i, k := range st.keys {
		if i == 0 || k != st.keys[i-1] {
			distinct++
			clean += k[1] & 1
		}
	}
	st.s.Duplicates, st.s.Clean = st.s.Records-distinct, clean
	return st.s.Facts()
}
