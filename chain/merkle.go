package chain

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// ErrBadInclusionProof is returned when an inclusion proof does not check.
var ErrBadInclusionProof = errors.New("chain: inclusion proof does not verify")

// The tx and receipt roots are binary Merkle trees over a list (SHA-256):
//
//	leaf  = sha256(0x00 ‖ item hash)
//	inner = sha256(0x01 ‖ left ‖ right)
//
// A level of odd width promotes its last node unchanged, so no item is ever
// duplicated; the root of an empty list is 32 zero bytes. The item count is
// in the header, which fixes the shape.

func leafHash(item common.Hash) common.Hash {
	var b [33]byte
	copy(b[1:], item[:])
	return sha256.Sum256(b[:])
}

func innerHash(l, r common.Hash) common.Hash {
	var b [65]byte
	b[0] = 1
	copy(b[1:33], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// MerkleRoot returns the list root of items.
func MerkleRoot(items []common.Hash) common.Hash {
	if len(items) == 0 {
		return common.Hash{}
	}
	level := make([]common.Hash, len(items))
	for i, it := range items {
		level[i] = leafHash(it)
	}
	for len(level) > 1 {
		next := level[:0:0]
		next = make([]common.Hash, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 < len(level) {
				next = append(next, innerHash(level[i], level[i+1]))
			} else {
				next = append(next, level[i])
			}
		}
		level = next
	}
	return level[0]
}

// MerkleProof returns the siblings of item index in a list of items,
// bottom-up (promotions have no sibling and are skipped).
func MerkleProof(items []common.Hash, index int) []common.Hash {
	level := make([]common.Hash, len(items))
	for i, it := range items {
		level[i] = leafHash(it)
	}
	var sibs []common.Hash
	for len(level) > 1 {
		if index^1 < len(level) {
			sibs = append(sibs, level[index^1])
		}
		next := make([]common.Hash, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 < len(level) {
				next = append(next, innerHash(level[i], level[i+1]))
			} else {
				next = append(next, level[i])
			}
		}
		level, index = next, index/2
	}
	return sibs
}

// VerifyMerkleProof checks that item is at index in a list of count items
// whose root is root.
func VerifyMerkleProof(root, item common.Hash, index, count int, sibs []common.Hash) error {
	if index < 0 || index >= count {
		return fmt.Errorf("%w: index %d out of %d", ErrBadInclusionProof, index, count)
	}
	cur, width, used := leafHash(item), count, 0
	for width > 1 {
		if index^1 < width {
			if used >= len(sibs) {
				return fmt.Errorf("%w: too few siblings", ErrBadInclusionProof)
			}
			if index&1 == 0 {
				cur = innerHash(cur, sibs[used])
			} else {
				cur = innerHash(sibs[used], cur)
			}
			used++
		}
		width, index = (width+1)/2, index/2
	}
	if used != len(sibs) || cur != root {
		return fmt.Errorf("%w: root mismatch", ErrBadInclusionProof)
	}
	return nil
}

// TxRoot is the list root of the txs' hashes.
func TxRoot(txHashes []common.Hash) common.Hash { return MerkleRoot(txHashes) }

// ReceiptHash is the item hash of a receipt in the receipt root.
func ReceiptHash(r *Receipt) common.Hash { return sha256.Sum256(r.Encode()) }
