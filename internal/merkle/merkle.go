// Package merkle is the keccak256 binary Merkle tree that batch signatures
// use (a quorum member's vote batch, an enclave's batch of results): one
// signature over the root of many leaves, and for each leaf a path that
// proves it was in the signed batch.
//
// The tree: level by level, pairs are hashed keccak256(left ‖ right); an odd
// last node is carried up unchanged. The leaf's index and the batch size fix
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

// MaxSize bounds a batch.
const MaxSize = 1 << 16

// Build returns the root of leaves (at least one) and each leaf's path,
// bottom first.
func Build(leaves []common.Hash) (common.Hash, [][]common.Hash) {
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

// Root hashes leaf up its path at position index of a batch of size leaves.
// ok is false when the path has the wrong length for that position or the
// position is outside the batch.
func Root(leaf common.Hash, index, size uint32, path []common.Hash) (root common.Hash, ok bool) {
	if size == 0 || size > MaxSize || index >= size {
		return common.Hash{}, false
	}
	h, used := leaf, 0
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
