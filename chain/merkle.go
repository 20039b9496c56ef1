package chain

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/internal/merkle"
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

// listTree is the tx and receipt roots' tree.
var listTree = merkle.Hasher{Leaf: leafHash, Inner: innerHash}

// MerkleRoot returns the list root of items.
func MerkleRoot(items []common.Hash) common.Hash {
	if len(items) == 0 {
		return common.Hash{}
	}
	root, _ := listTree.Build(items)
	return root
}

// MerkleProof returns the siblings of item index in a list of items,
// bottom-up (promotions have no sibling and are skipped).
func MerkleProof(items []common.Hash, index int) []common.Hash {
	_, paths := listTree.Build(items)
	return paths[index]
}

// VerifyMerkleProof checks that item is at index in a list of count items
// whose root is root.
func VerifyMerkleProof(root, item common.Hash, index, count int, sibs []common.Hash) error {
	if index < 0 || index >= count || count > math.MaxUint32 {
		return fmt.Errorf("%w: index %d out of %d", ErrBadInclusionProof, index, count)
	}
	got, ok := listTree.Root(item, uint32(index), uint32(count), sibs)
	if !ok {
		return fmt.Errorf("%w: %d siblings do not fit position %d of %d", ErrBadInclusionProof, len(sibs), index, count)
	}
	if got != root {
		return fmt.Errorf("%w: root mismatch", ErrBadInclusionProof)
	}
	return nil
}

// TxRoot is the list root of the txs' hashes.
func TxRoot(txHashes []common.Hash) common.Hash { return MerkleRoot(txHashes) }

// ReceiptHash is the item hash of a receipt in the receipt root.
func ReceiptHash(r *Receipt) common.Hash { return sha256.Sum256(r.Encode()) }
