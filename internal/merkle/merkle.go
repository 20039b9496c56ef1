// Package merkle is the binary Merkle tree of this project: batch signatures
// (a quorum member's vote batch, an enclave's batch of results: one
// signature over the root of many leaves, each leaf with a path that proves
// it was in the signed batch) use Keccak, the chain's tx and receipt roots
// their own domain-separated SHA-256 hashes.
//
// The tree: level by level, pairs are hashed Inner(left, right); an odd last
// node is carried up unchanged. The leaf's index and the batch size fix
// which siblings a path holds, so a path verifies only at its own position.
// The root alone does not fix the size (a root of 3 leaves is also a root of
// 4 with another last leaf), so signers sign the size with the root. Leaves
// must be domain-separated hashes (EIP-712 struct hashes, result digests),
// never raw data.
package merkle

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// MaxSize bounds a signed batch.
const MaxSize = 1 << 16

// Hasher is a tree's hashing: Leaf turns an item into its leaf (nil: the
// item is the leaf), Inner hashes two children.
type Hasher struct {
	Leaf  func(common.Hash) common.Hash
	Inner func(l, r common.Hash) common.Hash
}

// Keccak is the batch tree: items are leaves, Inner = keccak256(l ‖ r).
var Keccak = Hasher{Inner: pair}

// Build returns the root of the Keccak tree of leaves (at least one) and each
// leaf's path, bottom first.
func Build(leaves []common.Hash) (common.Hash, [][]common.Hash) { return Keccak.Build(leaves) }

// Root hashes leaf up its path in the Keccak tree (see Hasher.Root), for
// batches of at most MaxSize.
func Root(leaf common.Hash, index, size uint32, path []common.Hash) (root common.Hash, ok bool) {
	if size > MaxSize {
		return common.Hash{}, false
	}
	return Keccak.Root(leaf, index, size, path)
}

// Build returns the root of items (at least one) and each item's path,
// bottom first.
func (t Hasher) Build(items []common.Hash) (common.Hash, [][]common.Hash) {
	leaves := items
	if t.Leaf != nil {
		leaves = make([]common.Hash, len(items))
		for i, it := range items {
			leaves[i] = t.Leaf(it)
		}
	}
	pair := t.Inner
	levels := [][]common.Hash{leaves}
	for cur := leaves; len(cur) > 1; cur = levels[len(levels)-1] {
		next := make([]common.Hash, 0, (len(cur)+1)/2)
		for i := 0; i < len(cur); i += 2 {
			if i+1 < len(cur) {
				next = append(next, pair(cur[i], cur[i+1]))
			} else {
				next = append(next, cur[i])
			}
		}
		levels = append(levels, next)
	}
	paths := make([][]common.Hash, len(leaves))
	for i := range leaves {
		idx := i
		for _, lv := range levels[:len(levels)-1] {
			if sib := idx ^ 1; sib < len(lv) {
				paths[i] = append(paths[i], lv[sib])
			}
			idx /= 2
		}
	}
	return levels[len(levels)-1][0], paths
}

// Root hashes item up its path at position index of a tree of size items.
// ok is false when the path has the wrong length for that position or the
// position is outside the tree.
func (t Hasher) Root(item common.Hash, index, size uint32, path []common.Hash) (root common.Hash, ok bool) {
	if size == 0 || index >= size {
		return common.Hash{}, false
	}
	h, used := item, 0
	if t.Leaf != nil {
		h = t.Leaf(item)
	}
	pair := t.Inner
	for n := size; n > 1; n = (n + 1) / 2 {
		if index%2 == 1 || index+1 < n { // this node has a sibling at this level
			if used == len(path) {
				return common.Hash{}, false
			}
			if index%2 == 1 {
				h = pair(path[used], h)
			} else {
				h = pair(h, path[used])
			}
			used++
		}
		index /= 2
	}
	return h, used == len(path)
}

func pair(a, b common.Hash) common.Hash { return crypto.Keccak256Hash(a[:], b[:]) }
