package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/ethereum/go-ethereum/common"
)

// The commitment scheme. Every detail here is mirrored by the ZK circuit in
// package prover; change one, change both (a test checks they agree).
//
//   - A value v becomes the 64-bit field element FieldValue(v) = v + 2^63
//     (uint64(v) with the sign bit flipped), so every value is in [0, 2^64).
//   - Values are packed three to a BN254 element:
//     e_j = Σ_{k<3} FieldValue(f[3j+k]) · 2^(64k), m = ⌈F/3⌉ elements.
//   - Leaf = Poseidon2 Merkle–Damgård with IV 0: h = 0; h = Compress(h, e_j).
//     Compress(l, r) = Perm(l, r)[1] + r (gnark's Compress, BN254 default
//     parameters: width 2, 6 full and 50 partial rounds).
//   - The tree has fixed depth Depth; unused leaves are 0; node = Compress(l, r).
//     A fixed depth makes any aligned power-of-two chunk a subtree, so chunk
//     roots from provers of any chunk size recombine to the same root.
//   - Commitment = Compress(Compress(root, n), F).
const (
	Depth     = 32
	PerElem   = 3
	fieldBits = 64
)

var (
	perm     = poseidon2.NewDefaultPermutation()
	zeroRoot [Depth + 1]fr.Element // zeroRoot[k]: root of an all-zero subtree of 2^k leaves
)

func init() {
	for k := 1; k <= Depth; k++ {
		zeroRoot[k] = Compress(&zeroRoot[k-1], &zeroRoot[k-1])
	}
}

// Compress is the 2-to-1 Poseidon2 compression used for leaves and nodes.
func Compress(l, r *fr.Element) fr.Element {
	x := [2]fr.Element{*l, *r}
	_ = perm.Permutation(x[:]) // width is 2 by construction: never fails
	x[1].Add(&x[1], r)
	return x[1]
}

// FieldValue maps an int64 value to its 64-bit field representation.
func FieldValue(v int64) uint64 { return uint64(v) ^ (1 << 63) }

// ValueOf inverts FieldValue.
func ValueOf(u uint64) int64 { return int64(u ^ (1 << 63)) }

// Pack returns the packed field elements of a record.
func Pack(rec []int64) []fr.Element {
	out := make([]fr.Element, (len(rec)+PerElem-1)/PerElem)
	for j := range out {
		var b [32]byte
		for k := 0; k < PerElem && PerElem*j+k < len(rec); k++ {
			binary.BigEndian.PutUint64(b[32-8*(k+1):32-8*k], FieldValue(rec[PerElem*j+k]))
		}
		out[j].SetBytes(b[:])
	}
	return out
}

// LeafHash returns the leaf of one record.
func LeafHash(rec []int64) fr.Element {
	var h fr.Element
	for _, e := range Pack(rec) {
		h = Compress(&h, &e)
	}
	return h
}

// Leaves hashes every record, in parallel.
func Leaves(recs [][]int64) []fr.Element {
	out := make([]fr.Element, len(recs))
	parallel(len(recs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = LeafHash(recs[i])
		}
	})
	return out
}

// Tree is the fixed-depth Merkle tree over a dataset's leaves. Levels[0] are
// the leaves padded to a power of two; above the stored levels the tree
// continues with zero subtrees up to Depth.
type Tree struct {
	Levels [][]fr.Element
	N      int
}

// NewTree builds the tree over leaves.
func NewTree(leaves []fr.Element) *Tree {
	n := len(leaves)
	w := nextPow2(n)
	lvl := make([]fr.Element, w)
	copy(lvl, leaves)
	t := &Tree{N: n, Levels: [][]fr.Element{lvl}}
	used := n // nodes of this level that cover at least one real leaf
	for k := 0; len(lvl) > 1; k++ {
		next := make([]fr.Element, len(lvl)/2)
		cur := lvl
		used = (used + 1) / 2
		parallel(used, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				next[i] = Compress(&cur[2*i], &cur[2*i+1])
			}
		})
		for i := used; i < len(next); i++ {
			next[i] = zeroRoot[k+1] // all-padding subtree: no hashing needed
		}
		t.Levels = append(t.Levels, next)
		lvl = next
	}
	return t
}

// Root returns the depth-Depth root.
func (t *Tree) Root() fr.Element {
	top := len(t.Levels) - 1
	r := t.Levels[top][0]
	for k := top; k < Depth; k++ {
		r = Compress(&r, &zeroRoot[k])
	}
	return r
}

// Proof returns the Depth siblings of leaf i, bottom first.
func (t *Tree) Proof(i int) []fr.Element {
	path := make([]fr.Element, Depth)
	idx := i
	for k := 0; k < Depth; k++ {
		if k < len(t.Levels)-1 {
			path[k] = t.Levels[k][idx^1]
		} else {
			path[k] = zeroRoot[k]
		}
		idx >>= 1
	}
	return path
}

// RootFromPath recomputes the root from leaf i and its path.
func RootFromPath(leaf fr.Element, i uint64, path []fr.Element) (fr.Element, error) {
	if len(path) != Depth {
		return fr.Element{}, fmt.Errorf("merkle path has %d siblings, want %d", len(path), Depth)
	}
	h := leaf
	for k := 0; k < Depth; k++ {
		if (i>>k)&1 == 0 {
			h = Compress(&h, &path[k])
		} else {
			h = Compress(&path[k], &h)
		}
	}
	return h, nil
}

// Seal returns Commitment = Compress(Compress(root, n), F).
func Seal(root fr.Element, n, fields int) fr.Element {
	var en, ef fr.Element
	en.SetUint64(uint64(n))
	ef.SetUint64(uint64(fields))
	c := Compress(&root, &en)
	return Compress(&c, &ef)
}

// Commit returns the dataset's commitment and its tree.
func Commit(ds *Dataset) (common.Hash, *Tree) {
	t := NewTree(Leaves(ds.Records))
	return ToHash(Seal(t.Root(), ds.Len(), len(ds.Fields))), t
}

// Commitment returns the dataset's commitment.
func Commitment(ds *Dataset) common.Hash {
	c, _ := Commit(ds)
	return c
}

// ChunkRoots returns the roots of the chunks of c (a power of two) records.
func ChunkRoots(t *Tree, c int) ([]fr.Element, error) {
	if c <= 0 || c&(c-1) != 0 {
		return nil, fmt.Errorf("chunk size %d is not a power of two", c)
	}
	k := bits.TrailingZeros(uint(c))
	nChunks := (t.N + c - 1) / c
	out := make([]fr.Element, nChunks)
	if k < len(t.Levels) {
		copy(out, t.Levels[k])
		return out, nil
	}
	// the whole dataset fits in one chunk smaller than c: extend with zeros.
	r := t.Levels[len(t.Levels)-1][0]
	for j := len(t.Levels) - 1; j < k; j++ {
		r = Compress(&r, &zeroRoot[j])
	}
	out[0] = r
	return out, nil
}

// ErrChunks is returned when chunk roots cannot form a dataset of n records.
var ErrChunks = errors.New("chunk roots do not fit the dataset")

// CommitmentFromChunks recombines the roots of ⌈n/c⌉ chunks of c records
// into the dataset commitment.
func CommitmentFromChunks(roots []fr.Element, n, fields, c int) (common.Hash, error) {
	if c <= 0 || c&(c-1) != 0 {
		return common.Hash{}, fmt.Errorf("%w: chunk size %d is not a power of two", ErrChunks, c)
	}
	if n <= 0 || len(roots) != (n+c-1)/c {
		return common.Hash{}, fmt.Errorf("%w: %d roots for %d records in chunks of %d", ErrChunks, len(roots), n, c)
	}
	k := bits.TrailingZeros(uint(c))
	lvl := make([]fr.Element, nextPow2(len(roots)))
	copy(lvl, roots)
	for i := len(roots); i < len(lvl); i++ {
		lvl[i] = zeroRoot[k]
	}
	for len(lvl) > 1 {
		next := make([]fr.Element, len(lvl)/2)
		for i := range next {
			next[i] = Compress(&lvl[2*i], &lvl[2*i+1])
		}
		lvl = next
		k++
	}
	r := lvl[0]
	for ; k < Depth; k++ {
		r = Compress(&r, &zeroRoot[k])
	}
	return ToHash(Seal(r, n, fields)), nil
}

// ToHash encodes a field element as a 32-byte big-endian hash.
func ToHash(e fr.Element) common.Hash { return common.Hash(e.Bytes()) }

// FromHash decodes a 32-byte hash into a canonical field element.
func FromHash(h common.Hash) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(h[:]); err != nil {
		return e, fmt.Errorf("not a BN254 field element: %w", err)
	}
	return e, nil
}

func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// parallel splits [0,n) across the machine's cores; small n runs inline.
func parallel(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 1024 || workers == 1 {
		fn(0, n)
		return
	}
	step := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}
